// SPDX-License-Identifier: MIT
/*
 * sysloop CALL N [--cpu C] [--expect V|self]: make N system calls of one kind as
 * fast as possible and print how long they took (ns per call, measured in the
 * guest). The workload of the interception benchmarks and of the SMP tests.
 *   CALL: getpid | read (1 byte from /dev/zero) | write (1 byte to /dev/null) | open
 * --expect: every getpid must return V (or the process's own id, from the
 * kernel at start): the guest's own check that a host answer (a rewritten
 * return) reached exactly the calls it was meant for. Mismatches are counted,
 * printed, and make the exit status 3.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n, expect = 0, mismatch = 0, got = 0;
	bool check = false;
	int fd = -1;
	char c = 0;
	double t0, t1;

	if (argc < 3 || argc % 2 == 0) {
		fprintf(stderr, "usage: sysloop getpid|read|write|open N [--cpu C] [--expect V|self]\n");
		return 2;
	}
	n = atol(argv[2]);
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cpu")) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(atoi(argv[i + 1]), &set);
			if (sched_setaffinity(0, sizeof(set), &set)) {
				perror("sched_setaffinity");
				return 1;
			}
		} else if (!strcmp(argv[i], "--expect")) {
			check = true;
			/* getpid() may be answered by the host too: ask the kernel
			 * through another call what our id is. */
			expect = !strcmp(argv[i + 1], "self") ? (long)syscall(SYS_gettid) : atol(argv[i + 1]);
		} else {
			fprintf(stderr, "sysloop: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!strcmp(argv[1], "read"))
		fd = open("/dev/zero", O_RDONLY);
	else if (!strcmp(argv[1], "write"))
		fd = open("/dev/null", O_WRONLY);
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (!strcmp(argv[1], "getpid")) {
			long r = syscall(SYS_getpid);	/* not the libc cache */

			if (check && r != expect) {
				mismatch++;
				got = r;
			}
		}
		else if (!strcmp(argv[1], "read"))
			(void)!read(fd, &c, 1);
		else if (!strcmp(argv[1], "write"))
			(void)!write(fd, &c, 1);
		else if (!strcmp(argv[1], "open"))
			close(open("/etc/hostname", O_RDONLY));
		else
			return 2;
	}
	t1 = now();
	printf("%s %ld calls %.1f ns/call\n", argv[1], n, (t1 - t0) / (double)n);
	if (mismatch) {
		printf("mismatch %ld of %ld (last %ld, expected %ld)\n", mismatch, n, got, expect);
		return 3;
	}
	return 0;
}
