// SPDX-License-Identifier: MIT
/* envdump [VAR...]: without arguments, print the environment one VAR=VALUE per
 * line, in order; with arguments, print getenv(VAR) for each, as VAR=VALUE, or
 * VAR alone when it is unset. Exit status 1 if stdout could not be written.
 * Built twice: static (envdump) and dynamically linked (envdump-dyn), so a test
 * can see what the loader does to the environment it is given. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	int i;

	if (argc < 2) {
		for (char **e = environ; e && *e; e++)
			puts(*e);
	} else {
		for (i = 1; i < argc; i++) {
			const char *v = getenv(argv[i]);

			if (v)
				printf("%s=%s\n", argv[i], v);
			else
				puts(argv[i]);
		}
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
