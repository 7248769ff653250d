// SPDX-License-Identifier: MIT
/*
 * An attached VM against a VM of `gears run`, at the same time on the same
 * machine: a plain QEMU that the benchmark starts with nothing but -qmp (and
 * a serial console on a pipe, the only way into its guest), adopted with
 * `gears attach` (guest RAM through the QEMU process, no doorbell device),
 * beside `gears run` (RAM mapped from its shared file, doorbell). Same kernel,
 * initrd, vCPUs and memory; 200 sleeping processes in each.
 *
 * Alternated rounds of
 *   gears ps               wall time of the command;
 *   ring-mode trace        guest ns per getpid of `sysloop getpid N` (the
 *                          guest's own clock) under `gears trace --mode ring
 *                          -e getpid -c`, and without tracing; the tracer must
 *                          have recorded or reported lost every call;
 * then the supervisors' CPU over 5 s of an idle guest with an env rule in
 * force (a synchronous handler: `gears run` sleeps behind its doorbell, the
 * attached one polls with back-off).
 */
#include <sys/stat.h>

#include "bench.h"

#define VM_RUN "bench-att-run"
#define VM_ATT "bench-att"
#define ROUNDS 7
#define NLOOP 200000L

static char tmp[] = "/tmp/gears-bench-attach-XXXXXX";
static pid_t qemu_pid;
static int con_in = -1, con_out = -1;
static bool attached;
static char conbuf[1 << 20];
static size_t conlen;
static int marker;

static void att_cleanup(void)
{
	char *g = (char *)bench_gears(), *argv[] = { g, "detach", VM_ATT, NULL }, p[128];
	struct bench_cmd c;

	if (attached)
		bench_run(&c, 60, argv);
	if (qemu_pid > 0) {
		kill(qemu_pid, SIGTERM);
		waitpid(qemu_pid, NULL, 0);
	}
	for (const char *const *f = (const char *const[]){ "con.in", "con.out", "qmp.sock", "qemu.log", NULL }; *f; f++) {
		snprintf(p, sizeof(p), "%s/%s", tmp, *f);
		unlink(p);
	}
	rmdir(tmp);
}

/* A signal: the attached QEMU and its supervisor go too (then the run VM). */
static void on_signal(int sig)
{
	att_cleanup();
	qemu_pid = 0;
	attached = false;
	bench_on_signal(sig);
}

/* Read what the console wrote, up to `timeout` s, until `want` is in it. */
static bool con_wait(const char *want, double timeout)
{
	double t0 = bench_now();

	while (!memmem(conbuf, conlen, want, strlen(want))) {
		struct pollfd p = { .fd = con_out, .events = POLLIN };
		ssize_t k;

		if (bench_now() - t0 > timeout)
			return false;
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (conlen >= sizeof(conbuf) - 1)
			conlen = 0;	/* only the newest output matters */
		k = read(con_out, conbuf + conlen, sizeof(conbuf) - 1 - conlen);
		if (k > 0)
			conlen += (size_t)k;
		conbuf[conlen] = 0;
	}
	return true;
}

/* Type `cmd` at the attached guest's shell; its output (until the next call). */
static const char *con_run(const char *cmd, double timeout)
{
	char line[512], b[32], e[32];
	char *s, *end;

	marker++;
	snprintf(b, sizeof(b), "@@B%d\r\n", marker);
	snprintf(e, sizeof(e), "@@E%d\r\n", marker);
	snprintf(line, sizeof(line), "echo @@B\"\"%d; %s; echo @@E\"\"%d\n", marker, cmd, marker);
	conlen = 0;
	if (write(con_in, line, strlen(line)) != (ssize_t)strlen(line) || !con_wait(e, timeout))
		bench_die("the attached guest did not answer '%s'", cmd);
	s = memmem(conbuf, conlen, b, strlen(b));
	end = memmem(conbuf, conlen, e, strlen(e));
	if (!s || !end || end < s)
		bench_die("console output of '%s' garbled", cmd);
	*end = 0;
	return s + strlen(b);
}

static void start_qemu(void)
{
	char img[512], k[600], i[600], qmp[128], con[128], log[128];
	const char *d = getenv("GEARS_IMAGE_DIR");
	posix_spawn_file_actions_t fa;
	int r;

	snprintf(img, sizeof(img), "%s", d && *d ? d : "build/image");
	snprintf(k, sizeof(k), "%s/vmlinuz", img);
	snprintf(i, sizeof(i), "%s/initrd.img", img);
	if (!mkdtemp(tmp))
		bench_die("mkdtemp: %s", strerror(errno));
	atexit(att_cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	snprintf(qmp, sizeof(qmp), "unix:%s/qmp.sock,server=on,wait=off", tmp);
	snprintf(con, sizeof(con), "pipe:%s/con", tmp);
	snprintf(log, sizeof(log), "%s/qemu.log", tmp);
	for (const char *f = "in"; f; f = strcmp(f, "in") ? NULL : "out") {
		char p[128];

		snprintf(p, sizeof(p), "%s/con.%s", tmp, f);
		if (mkfifo(p, 0600))
			bench_die("mkfifo %s: %s", p, strerror(errno));
	}
	char *argv[] = { "qemu-system-x86_64", "-accel", "tcg,thread=multi", "-smp", "2", "-m", "512M",
			 "-nodefaults", "-no-user-config", "-display", "none", "-kernel", k, "-initrd", i,
			 "-append", "console=ttyS0 quiet panic=-1 no_timer_check", "-qmp", qmp, "-serial", con,
			 NULL };
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawnp(&qemu_pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		bench_die("cannot run QEMU: %s", strerror(r));
	/* QEMU opens both pipes read-write: these opens do not block. */
	for (int t = 0; t < 100 && con_out < 0; t++) {
		char p[128];

		snprintf(p, sizeof(p), "%s/con.out", tmp);
		con_out = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		snprintf(p, sizeof(p), "%s/con.in", tmp);
		con_in = open(p, O_WRONLY | O_CLOEXEC);
	}
	if (con_out < 0 || con_in < 0 || !con_wait("built-in shell", 180))
		bench_die("the plain QEMU's guest did not boot (see %s)", log);
}

static void attach(void)
{
	char *g = (char *)bench_gears(), sock[128];
	char *argv[] = { g, "attach", VM_ATT, "--qmp", sock, NULL };
	char *region[] = { g, "region", VM_ATT, NULL };
	struct bench_cmd c;
	double t0 = bench_now();

	snprintf(sock, sizeof(sock), "%s/qmp.sock", tmp);
	if (bench_run(&c, 60, argv) || !strstr(c.out, "memory process, GEARS region in place"))
		bench_die("gears attach: %s%s", c.out, c.err);
	attached = true;
	/* The guest's ACPI hot-plug driver gives the region its BAR. */
	while (bench_run(&c, 30, region))
		if (bench_now() - t0 > 60)
			bench_die("the attached guest never assigned the region's BAR: %s", c.err);
}

static double timed_ps(const char *vm)
{
	char *argv[] = { (char *)bench_gears(), "ps", (char *)vm, NULL };
	struct bench_cmd c;

	if (bench_run(&c, 60, argv) || c.out_lines < 200)
		bench_die("gears ps %s failed or listed too little (%zu lines): %s", vm, (size_t)c.out_lines, c.err);
	return c.secs;
}

/* sysloop getpid n in VM `vm`: guest ns per call. */
static double loop(const char *vm, long n)
{
	char cmd[64];
	const char *out, *s;
	double v;

	snprintf(cmd, sizeof(cmd), "sysloop getpid %ld", n);
	if (!strcmp(vm, VM_ATT)) {
		out = con_run(cmd, 300);
	} else {
		static struct bench_cmd c;

		bench_guest_sh(&c, cmd);
		out = c.out;
	}
	if (!(s = strstr(out, "calls ")) || (v = atof(s + 6)) <= 0)
		bench_die("unexpected output of %s in %s: '%.200s'", cmd, vm, out);
	return v;
}

/* A ring-mode trace of the loop: guest ns/call; every call seen or counted lost. */
static double ring(const char *vm)
{
	struct bench_tracer t = { .pid = 0 };
	long calls, lost;
	double v;

	bench_tracer_start(&t, vm, "ring", "getpid");
	loop(vm, NLOOP / 20);	/* code the stub's installation made TCG retranslate */
	v = loop(vm, NLOOP);
	bench_tracer_stop(&t, "getpid", true, &calls, &lost);
	if (calls + lost < NLOOP + NLOOP / 20)
		bench_die("%s: the tracer recorded %ld calls and reported %ld lost; the loops made %ld", vm, calls,
			  lost, NLOOP + NLOOP / 20);
	return v;
}

/* CPU seconds (user + system) process `pid` has used. */
static double cpu_secs(pid_t pid)
{
	char p[64], buf[1024], *s;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(p, "r")) || !fgets(buf, sizeof(buf), f))
		bench_die("cannot read %s", p);
	fclose(f);
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		bench_die("cannot parse %s", p);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static pid_t supervisor_of(const char *vm)
{
	char *argv[] = { (char *)bench_gears(), "list", "--json", NULL }, pat[96], *s;
	struct bench_cmd c;

	snprintf(pat, sizeof(pat), "{\"name\":\"%s\",\"pid\":", vm);
	if (bench_run(&c, 30, argv) || !(s = strstr(c.out, pat)))
		bench_die("no supervisor listed for %s", vm);
	return (pid_t)atoi(s + strlen(pat));
}

static void env_rule(const char *vm, const char *op)
{
	char *argv[] = { (char *)bench_gears(), "env", (char *)vm, (char *)op, "nothing-runs-this:X=1", NULL };
	struct bench_cmd c;

	if (bench_run(&c, 60, argv))
		bench_die("gears env %s %s: %s", vm, op, c.err);
}

static void ratio_line(const char *what, double *run, double *att, double unit, const char *u)
{
	double r[ROUNDS];

	for (int i = 0; i < ROUNDS; i++)
		r[i] = att[i] / run[i];
	printf("  %-26s run %9.2f %s   attached %9.2f %s   ratio %.2f (p10 %.2f, p90 %.2f)\n", what,
	       bench_median(run, ROUNDS) * unit, u, bench_median(att, ROUNDS) * unit, u, bench_median(r, ROUNDS),
	       bench_pct(r, ROUNDS, 0.1), bench_pct(r, ROUNDS, 0.9));
}

int main(void)
{
	static const char *const opts[] = { "--smp", "2", "--mem", "512M", NULL };
	const char *vms[2] = { VM_RUN, VM_ATT };
	double ps[2][ROUNDS], rg[2][ROUNDS], none[2][ROUNDS], idle[2][3];
	struct bench_cmd c;

	bench_name = "attach";
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_vm_boot(VM_RUN, opts);
	start_qemu();
	attach();
	bench_guest_sh(&c, "i=0; while [ $i -lt 200 ]; do sleep 100000 & i=$((i+1)); done");
	con_run("i=0; while [ $i -lt 200 ]; do sleep 100000 & i=$((i+1)); done", 120);
	for (int k = 0; k < 2; k++)
		loop(vms[k], NLOOP);	/* warm translation caches */
	for (int i = 0; i < ROUNDS; i++)
		for (int j = 0; j < 2; j++) {
			int k = (i & 1) ? 1 - j : j;	/* alternate which goes first */

			ps[k][i] = timed_ps(vms[k]);
			none[k][i] = loop(vms[k], NLOOP);
			rg[k][i] = ring(vms[k]);
		}
	/* Idle supervisors with a synchronous handler in force (an env rule). */
	pid_t sup[2] = { supervisor_of(VM_RUN), supervisor_of(VM_ATT) };

	for (int k = 0; k < 2; k++)
		env_rule(vms[k], "add");
	sleep(1);
	for (int i = 0; i < 3; i++) {
		double a0 = cpu_secs(sup[0]), b0 = cpu_secs(sup[1]), t0 = bench_now();

		sleep(5);
		double dt = bench_now() - t0;

		idle[0][i] = (cpu_secs(sup[0]) - a0) / dt;
		idle[1][i] = (cpu_secs(sup[1]) - b0) / dt;
	}
	for (int k = 0; k < 2; k++)
		env_rule(vms[k], "del");
	printf("attached VM (plain QEMU, memory through its process, no doorbell) vs gears run VM, "
	       "%d alternated rounds:\n", ROUNDS);
	ratio_line("gears ps (~260 tasks)", ps[0], ps[1], 1e3, "ms");
	ratio_line("sysloop getpid, no trace", none[0], none[1], 1, "ns");
	ratio_line("sysloop getpid, ring trace", rg[0], rg[1], 1, "ns");
	printf("  ring trace / no trace: run %.2fx, attached %.2fx\n", bench_median(rg[0], ROUNDS) / bench_median(none[0], ROUNDS),
	       bench_median(rg[1], ROUNDS) / bench_median(none[1], ROUNDS));
	printf("  idle supervisor with an env rule: run %.2f%% of a CPU, attached %.2f%% (polling; 3 x 5 s, "
	       "max %.2f%% / %.2f%%)\n", bench_median(idle[0], 3) * 100, bench_median(idle[1], 3) * 100,
	       bench_pct(idle[0], 3, 1.0) * 100, bench_pct(idle[1], 3, 1.0) * 100);
	return 0;	/* atexit: detach, QEMU stopped, the run VM stopped */
}
