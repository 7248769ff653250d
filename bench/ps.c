// SPDX-License-Identifier: MIT
/*
 * `gears ps` latency with 500 guest processes (target < 50 ms), against the
 * guest listing itself: busybox ps run inside the guest through `gears exec`,
 * the way one would without GEARS. Alternated, same VM, same moment.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define RUNS 21
#define VM "bench-ps"

static int run(char *const argv[], int quiet)
{
	pid_t pid;
	int st;
	posix_spawn_file_actions_t fa;

	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double timed(char *const argv[])
{
	double t0 = bench_now();

	if (run(argv, 1))
		return -1;
	return bench_now() - t0;
}

int main(void)
{
	char *g = (char *)bench_gears();
	char *boot[] = { g, "run", "--name", VM, "--mem", "1G", "--", "sleep", "1000000", NULL };
	char *probe[] = { g, "exec", VM, "true", NULL };
	char *spawn500[] = { g, "exec", VM, "sh", "-c",
			     "i=0; while [ $i -lt 500 ]; do sleep 100000 & i=$((i+1)); done", NULL };
	char *count[] = { g, "exec", VM, "sh", "-c", "[ $(ls -d /proc/[0-9]* | wc -l) -gt 540 ]", NULL };
	char *ours[] = { g, "ps", VM, NULL };
	char *theirs[] = { g, "exec", VM, "ps", NULL };
	char *stop[] = { g, "stop", VM, NULL };
	double a[RUNS], b[RUNS], cold;
	pid_t vm;
	posix_spawn_file_actions_t fa;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&vm, g, &fa, NULL, boot, environ))
		return 1;
	for (int i = 0; run(probe, 1); i++) {
		if (i > 600) {
			fprintf(stderr, "ps: VM did not start\n");
			return 1;
		}
		usleep(200000);
	}
	if (run(spawn500, 1) || run(count, 1)) {
		fprintf(stderr, "ps: could not start 500 processes\n");
		run(stop, 1);
		return 1;
	}
	cold = timed(ours);	/* first look: kallsyms scan + BTF parse */
	for (int i = 0; i < RUNS; i++) {
		a[i] = timed(ours);
		b[i] = timed(theirs);
	}
	run(stop, 1);
	waitpid(vm, NULL, 0);
	double ma = bench_median(a, RUNS), pa = bench_pct(a, RUNS, 0.9), mb = bench_median(b, RUNS);

	printf("process list with ~540 guest tasks (500 user processes), %d alternated runs:\n", RUNS);
	printf("  gears ps, first call (symbols + BTF)  %7.1f ms\n", cold * 1e3);
	printf("  gears ps, median / p90                %7.1f / %.1f ms   (target < 50 ms)\n",
	       ma * 1e3, pa * 1e3);
	printf("  in-guest ps via gears exec, median    %7.1f ms\n", mb * 1e3);
	printf("  ratio gears ps / in-guest ps          %7.3f\n", ma / mb);
	return 0;
}
