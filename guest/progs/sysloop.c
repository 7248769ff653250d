// SPDX-License-Identifier: MIT
/*
 * sysloop CALL N [--cpu C]: make N system calls of one kind as fast as possible
 * and print how long they took (ns per call, measured in the guest). The
 * workload of the interception benchmarks and of the SMP tests.
 *   CALL: getpid | read (1 byte from /dev/zero) | write (1 byte to /dev/null) | open
 */
#include <fcntl.h>
#include <sched.h>
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
	long n;
	int fd = -1;
	char c = 0;
	double t0, t1;

	if (argc < 3) {
		fprintf(stderr, "usage: sysloop getpid|read|write|open N [--cpu C]\n");
		return 2;
	}
	n = atol(argv[2]);
	if (argc == 5 && !strcmp(argv[3], "--cpu")) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(atoi(argv[4]), &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("sched_setaffinity");
			return 1;
		}
	}
	if (!strcmp(argv[1], "read"))
		fd = open("/dev/zero", O_RDONLY);
	else if (!strcmp(argv[1], "write"))
		fd = open("/dev/null", O_WRONLY);
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (!strcmp(argv[1], "getpid"))
			syscall(SYS_getpid);	/* not the libc cache */
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
	return 0;
}
