// SPDX-License-Identifier: MIT
/* onewrite TEXT: one write(2) of TEXT and a newline to stdout; exit status is
 * what write returned (so a test sees a rewritten count). */
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[4096];
	size_t n;

	if (argc != 2 || strlen(argv[1]) >= sizeof(buf) - 1)
		return 255;
	n = strlen(argv[1]);
	memcpy(buf, argv[1], n);
	buf[n++] = '\n';
	return (int)write(1, buf, n);
}
