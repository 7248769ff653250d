// SPDX-License-Identifier: MIT
/*
 * Guest memory, both backends, on one VM at the same moment: the RAM file
 * mapped here ("mapped", what `gears run` VMs get) against copies through the
 * QEMU process with process_vm_readv ("process", what a QEMU started by
 * someone else gets), at the addresses its monitor's gpa2hva gives.
 *
 * Measured in alternated rounds: the guest's whole task list (500 user
 * processes added; what `gears ps` reads), a cold kernel view (kallsyms scan
 * and BTF parse, what the first tool on a VM pays), and a 64 MiB bulk read.
 * Both task lists must agree, and both bulk copies of the paused guest must be
 * the same bytes, or the benchmark fails.
 */
#include <gears/linux.h>
#include <gears/vm.h>

#include "bench.h"

#define RUNS 15
#define VM "bench-mem"
#define NPROC 500
#define BULK (64u << 20)

struct view {
	struct gears_mem *m;
	struct gears_linux_opts o;
};

static int count_task(const struct gears_task *t, void *ctx)
{
	(*(uint64_t *)ctx) += (uint64_t)t->pid * 31 + (uint8_t)t->comm[0];
	return 0;
}

/* One task walk on a warm view: seconds; *sum fingerprints what it saw. */
static double walk(struct gears_linux *l, uint64_t *sum, int *n)
{
	double t0 = bench_now();

	*sum = 0;
	*n = gears_linux__for_each_task(l, true, 100000, count_task, sum);
	if (*n < NPROC)
		bench_die("task walk saw %d tasks: %s", *n, gears_last_error());
	return bench_now() - t0;
}

static double cold(struct view *v)
{
	double t0 = bench_now();
	struct gears_linux *l = gears_linux__open(v->m, &v->o);

	if (!l || gears_linux__offsetof(l, "task_struct", "pid") < 0)
		bench_die("kernel view (%s): %s", gears_mem__backend(v->m), gears_last_error());
	t0 = bench_now() - t0;
	gears_linux__close(l);
	return t0;
}

static double bulk(struct gears_mem *m, uint8_t *buf)
{
	double t0 = bench_now();

	if (gears_mem__read(m, 16u << 20, buf, BULK))
		bench_die("bulk read (%s): %s", gears_mem__backend(m), gears_last_error());
	return bench_now() - t0;
}

static char *hmp(void *ctx, const char *cmd)
{
	return gears_qmp__hmp(ctx, cmd);
}

static void report(const char *what, double *a, double *b, double unit, const char *u)
{
	double r[RUNS];

	for (int i = 0; i < RUNS; i++)
		r[i] = b[i] / a[i];	/* pairs of one round */
	printf("  %-24s mapped %8.2f %s  process %8.2f %s  ratio %.2f (p10 %.2f, p90 %.2f)\n", what,
	       bench_median(a, RUNS) * unit, u, bench_median(b, RUNS) * unit, u, bench_median(r, RUNS),
	       bench_pct(r, RUNS, 0.1), bench_pct(r, RUNS, 0.9));
}

int main(void)
{
	static const char *const opts[] = { "--mem", "1G", NULL };
	struct gears_cpu_state st[16];
	struct gears_ram_layout lay;
	struct view v[2];
	struct gears_linux *l[2];
	struct gears_vm *vm;
	double tw[2][RUNS], tc[2][RUNS], tb[2][RUNS];
	uint8_t *buf[2];
	char script[128];
	struct bench_cmd c;
	int n, pick = 0, cnt[2];
	uint64_t sum[2];

	bench_name = "mem";
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_vm_boot(VM, opts);
	snprintf(script, sizeof(script), "i=0; while [ $i -lt %d ]; do sleep 100000 & i=$((i+1)); done",
		 NPROC);
	bench_guest_sh(&c, script);
	if (!(vm = gears_vm__attach(VM)) || !(v[0].m = gears_vm__mem(vm)))
		bench_die("attach %s: %s", VM, gears_last_error());
	if (gears_ram__discover(hmp, gears_vm__qmp(vm), gears_vm__qemu_pid(vm), &lay))
		bench_die("discover RAM: %s", gears_last_error());
	gears_vm__qmp_release(vm);
	v[1].m = gears_mem__open_process(lay.pid, lay.size, lay.below_4g, lay.hva_low, lay.hva_high, false);
	if (!v[1].m)
		bench_die("process memory: %s", gears_last_error());
	n = gears_vm__cpu_states(vm, st, 16);
	for (int i = 0; i < n; i++)
		if (st[i].cpl == 0) {
			pick = i;
			break;
		}
	if (n <= 0)
		bench_die("vCPU state: %s", gears_last_error());
	for (int k = 0; k < 2; k++) {
		v[k].o = (struct gears_linux_opts){ .sz = sizeof(v[k].o), .cr3 = st[pick].cr3 & ~(1ull << 12),
						   .cr4 = st[pick].cr4,
						   .hint_va = st[pick].cpl == 0 ? st[pick].rip : 0 };
		if (!(l[k] = gears_linux__open(v[k].m, &v[k].o)) || !(buf[k] = malloc(BULK)))
			bench_die("kernel view (%s): %s", gears_mem__backend(v[k].m), gears_last_error());
	}
	for (int i = 0; i < RUNS; i++) {
		for (int k = 0; k < 2; k++) {
			int j = (i & 1) ? 1 - k : k;	/* alternate which goes first */

			tw[j][i] = walk(l[j], &sum[j], &cnt[j]);
			tc[j][i] = cold(&v[j]);
			tb[j][i] = bulk(v[j].m, buf[j]);
		}
		/* The same tasks seen both ways (none come or go in the guest now). */
		if (cnt[0] != cnt[1] || sum[0] != sum[1])
			bench_die("the backends disagree: %d tasks mapped, %d through the process", cnt[0], cnt[1]);
	}
	/* Both copies, with the guest paused: the same bytes. */
	json_decref(gears_qmp__execute(gears_vm__qmp(vm), "stop", NULL));
	bulk(v[0].m, buf[0]);
	bulk(v[1].m, buf[1]);
	json_decref(gears_qmp__execute(gears_vm__qmp(vm), "cont", NULL));
	gears_vm__qmp_release(vm);
	if (memcmp(buf[0], buf[1], BULK))
		bench_die("the backends read different bytes from the paused guest");
	printf("guest memory backends on one VM (%d tasks, %llu MiB RAM), %d alternated rounds:\n", cnt[0],
	       (unsigned long long)(lay.size >> 20), RUNS);
	report("task list (gears ps)", tw[0], tw[1], 1e3, "ms");
	report("cold view (syms + BTF)", tc[0], tc[1], 1e3, "ms");
	report("bulk read 64 MiB", tb[0], tb[1], 1e3, "ms");
	printf("  bulk throughput: mapped %.2f GB/s, process %.2f GB/s\n",
	       BULK / bench_median(tb[0], RUNS) / 1e9, BULK / bench_median(tb[1], RUNS) / 1e9);
	for (int k = 0; k < 2; k++) {
		gears_linux__close(l[k]);
		free(buf[k]);
	}
	gears_mem__close(v[1].m);
	gears_vm__close(vm);
	return 0;	/* atexit: the VM is stopped */
}
