// SPDX-License-Identifier: MIT
/*
 * spin [SECONDS]: burn CPU in user space without a single system call (the
 * target of injection into a busy process), then exit 0; forever without an
 * argument. Reads the time through the vDSO only.
 */
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	volatile unsigned long n = 0;
	struct timespec t0, t;
	double limit = argc > 1 ? atof(argv[1]) : -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (int i = 0; i < 1000000; i++)
			n++;
		if (limit < 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= limit)
			return 0;
	}
}
