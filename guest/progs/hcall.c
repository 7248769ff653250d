// SPDX-License-Identifier: MIT
/*
 * Guest test program for the hypercall ABI: `hcall ping` prints the answer to
 * GEARS_HC_PING (GEARS present or not); `hcall bench N` times N pings and N
 * getppid calls and prints both in ns per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <gears-guest/hypercall.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ping")) {
		long r = gears_hypercall(GEARS_HC_PING, 0, 0, 0, 0, 0);

		if (r == GEARS_HC_PONG)
			printf("pong\n");
		else
			printf("no gears (%ld)\n", r);
		return r == GEARS_HC_PONG ? 0 : 1;
	}
	if (argc >= 3 && !strcmp(argv[1], "bench")) {
		long n = atol(argv[2]);
		double t0 = now();

		for (long i = 0; i < n; i++)
			gears_hypercall(GEARS_HC_PING, 0, 0, 0, 0, 0);
		double t1 = now();

		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		double t2 = now();

		printf("hcall_ns %.0f getppid_ns %.0f\n", (t1 - t0) / n, (t2 - t1) / n);
		return 0;
	}
	fprintf(stderr, "usage: hcall ping | hcall bench N\n");
	return 2;
}
