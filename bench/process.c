// SPDX-License-Identifier: MIT
/*
 * Cost of the per-process services, in one VM (`gears run --hypercalls`), each
 * against a baseline measured side by side in the same run:
 *
 *   hypercall      GEARS_HC_PING answered by gears through the stub's shared
 *                  memory (guest time per call, /gears/bin/hcall bench), against
 *                  one VM stop + continue through the gdbstub (host time): the
 *                  least a hypercall made by a VM exit would cost. Also against
 *                  a plain getppid in the same guest program.
 *   execve         guest time per fork + execve + wait of a small static program
 *                  (busybox sh loop, timed by the guest's clock) with (a) no
 *                  environment rule, (b) a rule that does not match (the execve
 *                  handler runs, nothing is rewritten), (c) a rule that matches
 *                  (the environment is rewritten); configurations alternated
 *                  round by round, medians compared with (a).
 *   inject         `gears inject --json` of the hello payload into a busy
 *                  process (spin) and a sleeping one (sleep): its total_ms and
 *                  taken_ms, against a `gears exec NAME -- true` round trip.
 *
 * The stub is installed from boot in every configuration (--hypercalls), so
 * (a) already includes it with execve not selected.
 *
 * Targets (docs/SPECIFICATION.md): execve with a matching rule <= 1.2x no
 * rule; a gdbstub stop + continue >= 10x a hypercall. Each is printed beside
 * its figure with MET or MISSED; any step that fails ends the run (status 1).
 */
#include <jansson.h>

#include <gears/gdb.h>
#include <gears/vm.h>

#include "bench.h"

#ifndef GEARS_IMAGE_DIR
#define GEARS_IMAGE_DIR "build/image"
#endif
#ifndef GEARS_GUEST_DIR
#define GEARS_GUEST_DIR "build/guest"
#endif

#define VM "bench-proc"
#define HC_ROUNDS 5
#define HC_N 20000		/* hypercalls (and getppid calls) per round */
#define GDB_N 100		/* gdbstub stop + continue per round */
#define EXEC_ROUNDS 5
#define EXEC_K 200		/* fork + execve + wait per measurement */
#define INJ_N 10
#define RULE_MISS "nomatch-*:BENCH_VAR=1"
#define RULE_HIT "envdump:BENCH_VAR=1"
#define INJ_OUT "/bench-inject.txt"	/* where the hello payload writes, in the guest's root */
#define T_EXEC 1.2		/* execve with a matching rule, x no rule: at most */
#define T_HCALL 10.0		/* gdbstub stop + continue, x a hypercall: at least */

static char *gears(void)
{
	return (char *)bench_gears();
}

/* `gears env VM add|del RULE`; dies unless it succeeds. */
static void env_rule(const char *op, const char *rule)
{
	char *argv[] = { gears(), "env", VM, (char *)op, (char *)rule, NULL };
	struct bench_cmd c;

	if (bench_run(&c, 60, argv))
		bench_die("gears env %s %s '%s' failed: %s", VM, op, rule, c.err);
}

static void need_file(const char *dir, const char *file, const char *how)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (access(path, R_OK))
		bench_die("%s: %s; build it first (%s)", path, strerror(errno), how);
}

/* ---- 1. hypercalls ---- */

/* ns per hypercall and per getppid from /gears/bin/hcall bench N. */
static void hcall_round(long n, double *hc, double *ppid)
{
	char script[128];
	struct bench_cmd c;
	const char *s;

	snprintf(script, sizeof(script), "/gears/bin/hcall bench %ld", n);
	bench_guest_sh(&c, script);
	if (!(s = strstr(c.out, "hcall_ns ")) || sscanf(s, "hcall_ns %lf getppid_ns %lf", hc, ppid) != 2)
		bench_die("unexpected output of hcall bench: '%s'", c.out);
}

/* ns per VM stop + continue through the gdbstub (host wall time). */
static double gdb_round(int n)
{
	struct gears_vm *vm = gears_vm__attach(VM);
	struct gears_gdb *g;
	struct gears_gdb_stop st;
	char why[256];
	double t0, t;

	if (!vm)
		bench_die("cannot attach to VM %s: %s", VM, gears_last_error());
	if (!(g = gears_vm__gdb(vm))) {
		const char *e = gears_last_error();

		gears_vm__close(vm);
		bench_die("cannot connect to the gdbstub of %s: %s", VM, e);
	}
	/* Connecting stopped the VM; resume, then time stop + continue. */
	if (gears_gdb__cont(g))
		goto fail;
	t0 = bench_now();
	for (int i = 0; i < n; i++)
		if (gears_gdb__stop(g, &st) || gears_gdb__cont(g))
			goto fail;
	t = bench_now() - t0;
	gears_vm__gdb_release(vm);
	gears_vm__close(vm);
	return t / n * 1e9;
fail:
	snprintf(why, sizeof(why), "%s", gears_last_error());
	gears_vm__gdb_release(vm);
	gears_vm__close(vm);
	bench_die("gdbstub stop/continue failed: %s", why);
}

static void bench_hcall(void)
{
	double hc[HC_ROUNDS], pp[HC_ROUNDS], gd[HC_ROUNDS], h, p, g;
	struct bench_cmd c;
	char tgt[64];

	bench_guest_sh(&c, "/gears/bin/hcall ping");
	if (!strstr(c.out, "pong"))
		bench_die("the guest's hypercall is not answered: '%s'", c.out);
	hcall_round(HC_N / 10, &h, &p);	/* warm up */
	gdb_round(GDB_N / 10);
	for (int r = 0; r < HC_ROUNDS; r++) {
		hcall_round(HC_N, &hc[r], &pp[r]);
		gd[r] = gdb_round(GDB_N);
	}
	h = bench_median(hc, HC_ROUNDS);
	p = bench_median(pp, HC_ROUNDS);
	g = bench_median(gd, HC_ROUNDS);
	printf("hypercall round trip (GEARS_HC_PING), median of %d alternated rounds:\n", HC_ROUNDS);
	/* bench_median sorted each array: [0] and [HC_ROUNDS - 1] are the extremes. */
	printf("  %-28s %9.0f ns/call (rounds %.0f..%.0f; guest time, %d calls a round)\n",
	       "shared memory (stub)", h, hc[0], hc[HC_ROUNDS - 1], HC_N);
	printf("  %-28s %9.0f ns/call (rounds %.0f..%.0f; host time, %d a round)\n",
	       "gdbstub stop + continue", g, gd[0], gd[HC_ROUNDS - 1], GDB_N);
	printf("  %-28s %9.0f ns/call (rounds %.0f..%.0f)\n", "getppid in the same program", p, pp[0],
	       pp[HC_ROUNDS - 1]);
	printf("  gdbstub / shared memory: %.1fx %s;  hypercall / getppid: %.1fx\n\n", g / h,
	       bench_target(tgt, sizeof(tgt), g / h, false, T_HCALL), h / p);
}

/* ---- 2. execve with environment rules ---- */

enum ecfg { E_NONE, E_MISS, E_HIT, NECFG };
static const char *const ecfg_name[NECFG] = {
	"(a) no rule", "(b) rule not matching", "(c) rule matching",
};

/* Guest ns per fork + execve + wait of `envdump BENCH_VAR`, k times. The clock
 * is the kernel's (timer_list "now at", in ns); /proc/uptime if unavailable. */
static double exec_loop(int k)
{
	char script[1024];
	struct bench_cmd c;
	double t0, t1;

	snprintf(script, sizeof(script),
		 "now() { if [ -r /proc/timer_list ]; then "
		 "sed -n 's/^now at \\([0-9]*\\) nsecs.*/\\1/p;/^now at/q' /proc/timer_list; "
		 "else read u x </proc/uptime; echo ${u}e9; fi; }; "
		 "t0=$(now); i=0; while [ $i -lt %d ]; do /gears/bin/envdump BENCH_VAR >/dev/null; i=$((i+1)); done; "
		 "t1=$(now); echo \"t $t0 $t1\"",
		 k);
	bench_guest_sh(&c, script);
	if (sscanf(c.out, "t %lf %lf", &t0, &t1) != 2 || t1 <= t0)
		bench_die("unexpected output of the execve loop: '%s'", c.out);
	return (t1 - t0) / k;
}

/* What envdump sees, to check that the configuration is the intended one. */
static void exec_check(enum ecfg e)
{
	struct bench_cmd c;
	bool set;

	bench_guest_sh(&c, "/gears/bin/envdump BENCH_VAR");
	set = !strncmp(c.out, "BENCH_VAR=1", 11);
	if (set != (e == E_HIT))
		bench_die("configuration %s: envdump printed '%s'", ecfg_name[e], c.out);
}

static void bench_exec(void)
{
	double v[NECFG][EXEC_ROUNDS], med[NECFG];
	char tgt[64];

	exec_loop(EXEC_K / 10);	/* warm up */
	for (int r = 0; r < EXEC_ROUNDS; r++)
		for (int i = 0; i < NECFG; i++) {
			int e = (r + i) % NECFG;	/* rotate the order round by round */
			const char *rule = e == E_MISS ? RULE_MISS : e == E_HIT ? RULE_HIT : NULL;

			if (rule)
				env_rule("add", rule);
			exec_check(e);
			exec_loop(EXEC_K / 10);
			v[e][r] = exec_loop(EXEC_K);
			if (rule)
				env_rule("del", rule);
		}
	for (int e = 0; e < NECFG; e++)
		med[e] = bench_median(v[e], EXEC_ROUNDS);
	printf("fork + execve + wait of a static program (envdump), guest time, median of %d alternated rounds of %d:\n",
	       EXEC_ROUNDS, EXEC_K);
	/* bench_median sorted each row: [0] and [EXEC_ROUNDS - 1] are the extremes. */
	for (int e = 0; e < NECFG; e++)
		printf("  %-26s %9.0f us/exec (rounds %.0f..%.0f)  %5.2fx (a)%s%s\n", ecfg_name[e], med[e] / 1e3,
		       v[e][0] / 1e3, v[e][EXEC_ROUNDS - 1] / 1e3, med[e] / med[E_NONE], e == E_HIT ? "  " : "",
		       e == E_HIT ? bench_target(tgt, sizeof(tgt), med[e] / med[E_NONE], true, T_EXEC) : "");
	printf("  rules: (b) '%s', (c) '%s'\n\n", RULE_MISS, RULE_HIT);
}

/* ---- 3. injection ---- */

static int start_target(const char *prog)
{
	char script[256];
	struct bench_cmd c;
	int pid;

	snprintf(script, sizeof(script), "%s >/dev/null 2>&1 & echo $!", prog);
	bench_guest_sh(&c, script);
	if ((pid = atoi(c.out)) <= 0)
		bench_die("cannot start '%s' in the guest: '%s'", prog, c.out);
	return pid;
}

static void inject(const char *payload, int pid, double *total, double *taken, double *wall, char *how, size_t howsz)
{
	char pidstr[16], *argv[] = { gears(), "inject", VM, "--pid", pidstr, "--json", (char *)payload,
				    INJ_OUT, NULL };
	struct bench_cmd c;
	json_t *j;

	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	if (bench_run(&c, 60, argv))
		bench_die("gears inject --pid %d failed (status %d): %s%s", pid, c.status, c.out, c.err);
	if (!(j = json_loads(c.out, 0, NULL)) || !json_is_number(json_object_get(j, "total_ms")) ||
	    !json_is_number(json_object_get(j, "taken_ms")))
		bench_die("unexpected output of gears inject: '%s'", c.out);
	if (json_integer_value(json_object_get(j, "result")) != 0)
		bench_die("the payload in pid %d returned %lld", pid, json_integer_value(json_object_get(j, "result")));
	*total = json_number_value(json_object_get(j, "total_ms"));
	*taken = json_number_value(json_object_get(j, "taken_ms"));
	*wall = c.secs * 1e3;
	snprintf(how, howsz, "%s", json_string_value(json_object_get(j, "how")) ?: "?");
	json_decref(j);
}

static void bench_inject(void)
{
	enum { BUSY, SLEEPING, NT };
	static const char *const tname[NT] = { "busy (spin)", "sleeping (sleep)" };
	char payload[1024], how[NT][32], script[128];
	double total[NT][INJ_N], taken[NT][INJ_N], wall[NT][INJ_N], ex[INJ_N], mt[NT], mk[NT], mw[NT], me;
	const char *d = getenv("GEARS_GUEST_DIR");
	char *true_argv[] = { gears(), "exec", VM, "--", "true", NULL };
	int pid[NT];
	struct bench_cmd c;

	snprintf(payload, sizeof(payload), "%s/payloads/hello", d && *d ? d : GEARS_GUEST_DIR);
	pid[BUSY] = start_target("/gears/bin/spin");
	pid[SLEEPING] = start_target("sleep 100000");
	bench_guest_sh(&c, "rm -f " INJ_OUT);
	for (int i = 0; i < INJ_N; i++) {
		if (bench_run(&c, 60, true_argv))
			bench_die("gears exec %s -- true failed (status %d): %s", VM, c.status, c.err);
		ex[i] = c.secs * 1e3;
		for (int t = 0; t < NT; t++)
			inject(payload, pid[t], &total[t][i], &taken[t][i], &wall[t][i], how[t], sizeof(how[t]));
	}
	/* Every payload ran once, in the right process; both targets survived. */
	snprintf(script, sizeof(script), "grep -c 'hello from PID' " INJ_OUT "; kill %d %d", pid[BUSY],
		 pid[SLEEPING]);
	bench_guest_sh(&c, script);
	if (atoi(c.out) != NT * INJ_N)
		bench_die("%d payload runs recorded in the guest, expected %d", atoi(c.out), NT * INJ_N);
	me = bench_median(ex, INJ_N);
	printf("gears inject of the hello payload, median of %d (alternated with the baseline; no target):\n",
	       INJ_N);
	printf("  %-34s %12.1f ms\n", "baseline: gears exec -- true", me);
	for (int t = 0; t < NT; t++) {
		mt[t] = bench_median(total[t], INJ_N);
		mk[t] = bench_median(taken[t], INJ_N);
		mw[t] = bench_median(wall[t], INJ_N);
		printf("  %-18s (%-7s) total %8.1f ms  taken %8.1f ms  command %8.1f ms  total/exec %.2fx\n",
		       tname[t], how[t], mt[t], mk[t], mw[t], mt[t] / me);
	}
	printf("\n");
}

int main(void)
{
	static const char *const opts[] = { "--smp", "2", "--hypercalls", NULL };
	const char *img = getenv("GEARS_IMAGE_DIR"), *gd = getenv("GEARS_GUEST_DIR");

	bench_name = "process";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(gears(), X_OK))
		bench_die("%s: %s; build it first (make)", gears(), strerror(errno));
	img = img && *img ? img : GEARS_IMAGE_DIR;
	gd = gd && *gd ? gd : GEARS_GUEST_DIR;
	need_file(img, "vmlinuz", "make image");
	need_file(img, "initrd.img", "make image");
	need_file(gd, "payloads/hello", "make payloads");
	bench_vm_boot(VM, opts);
	bench_hcall();
	bench_exec();
	bench_inject();
	return 0;	/* atexit: the VM is stopped */
}
