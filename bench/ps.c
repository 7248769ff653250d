// SPDX-License-Identifier: MIT
/*
 * `gears ps` latency with 500 guest processes, against the guest listing
 * itself: busybox ps run inside the guest through `gears exec`, the way one
 * would without GEARS. Alternated, same VM, same moment. Every run must
 * succeed, and gears ps must list every guest process (checked once against
 * the guest's own count), or the benchmark fails.
 *
 * Target (docs/SPECIFICATION.md): median < 50 ms.
 */
#include "bench.h"

#define RUNS 21
#define VM "bench-ps"
#define NPROC 500
#define T_PS 50.0	/* ms, median: below */

/* Wall time of a command that must succeed. */
static double timed(char *const argv[])
{
	struct bench_cmd c;

	if (bench_run(&c, 60, argv))
		bench_die("`%s %s %s` failed (status %d): %s", argv[0], argv[1], argv[2], c.status, c.err);
	return c.secs;
}

int main(void)
{
	static const char *const opts[] = { "--mem", "1G", NULL };
	char *g = (char *)bench_gears();
	char *ours[] = { g, "ps", VM, NULL };
	char *theirs[] = { g, "exec", VM, "ps", NULL };
	double a[RUNS], b[RUNS], cold;
	struct bench_cmd c;
	char script[256], tgt[64];
	int guest_n, listed;

	bench_name = "ps";
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_vm_boot(VM, opts);
	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt %d ]; do sleep 100000 & i=$((i+1)); done", NPROC);
	bench_guest_sh(&c, script);
	/* The guest's own count of its tasks (threads included), for the check below. */
	bench_guest_sh(&c, "ls -d /proc/[0-9]* | wc -l");
	guest_n = atoi(c.out);
	if (guest_n < NPROC)
		bench_die("the guest has %d processes, expected more than %d", guest_n, NPROC);
	cold = timed(ours);	/* first look: kallsyms scan + BTF parse */
	if (bench_run(&c, 60, ours))
		bench_die("gears ps %s failed (status %d): %s", VM, c.status, c.err);
	listed = (int)c.out_lines - 1;	/* all but the header */
	/* A ps that lists nothing would be fast: it must see what the guest sees
	 * (give or take the few tasks that came or went between the two looks). */
	if (listed < guest_n - 5)
		bench_die("gears ps listed %d tasks, the guest has %d", listed, guest_n);
	for (int i = 0; i < RUNS; i++) {
		a[i] = timed(ours);
		b[i] = timed(theirs);
	}
	double ma = bench_median(a, RUNS), pa = bench_pct(a, RUNS, 0.9), mb = bench_median(b, RUNS);

	printf("process list with %d guest tasks (%d user processes added), %d alternated runs:\n", listed,
	       NPROC, RUNS);
	printf("  gears ps, first call (symbols + BTF)  %7.1f ms\n", cold * 1e3);
	printf("  gears ps, median / p90                %7.1f / %.1f ms   %s\n", ma * 1e3, pa * 1e3,
	       bench_target(tgt, sizeof(tgt), ma * 1e3, true, T_PS));
	printf("  in-guest ps via gears exec, median    %7.1f ms\n", mb * 1e3);
	printf("  ratio gears ps / in-guest ps          %7.3f\n", ma / mb);
	return 0;	/* atexit: the VM is stopped */
}
