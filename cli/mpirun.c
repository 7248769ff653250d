// SPDX-License-Identifier: MIT
/*
 * gears mpirun [-np N] [--vms K] [--smp S] [--accel on|off] PROG ARGS...:
 * an MPI job across K fresh VMs on one host (services/mpi/README.md).
 *
 * The job is made of other gears commands, run as children of this one: a
 * VNET bridge of its own (`gears vnet start`), K supervisors (`gears run
 * --net ... --share ... -- mpi-node`), each serving hydra's launcher in its
 * VM, and hydra's mpiexec in the first VM (`gears exec ... mpi-job`), whose
 * output passes through and whose status is ours. With --accel on (the
 * default) every VM runs the MPI accelerator service (`--mpi JOB,vm=I`), which
 * preloads its PMPI library into PROG.
 *
 * Every way out tears the job down: the job's end, a VM that dies, a time
 * limit, Ctrl-C, SIGTERM, SIGHUP: the exec is stopped, every VM stopped
 * (`gears stop`, then SIGTERM, then SIGKILL to its supervisor), the bridge
 * stopped. Supervisors that outlive a SIGKILLed mpirun are taken down by their
 * own parent-death handling only if they have one; `gears list` shows leftovers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gears/vm.h>

#include "cli.h"
#include "../services/mpi/host/mpi_broker.h"

#define MAX_VMS 16
#define MPI_PORT "7077"
#define BOOT_WAIT_S 300		/* a VM's agent must answer within this */
#define LISTEN_WAIT_S 120	/* every mpi-node must listen within this (guest side) */
#define STOP_WAIT_MS 30000	/* gears stop, then signals */

static void help(FILE *f)
{
	fprintf(f,
		"Boots K VMs of the MPI image (make image VARIANT=mpi) on a VNET overlay of their\n"
		"own, shares the current directory (and PROG's) at the same paths, and runs\n"
		"hydra's mpiexec across them without ssh. PROG is a program on the host, built\n"
		"with the host's mpicc against Debian's MPICH. Output passes through; the exit\n"
		"status is the job's (125: the job could not run or a VM died, 124: --timeout,\n"
		"128+N: signal N). Everything is torn down on every way out.\n\n"
		"  -np N, -n N        ranks (default: one per VM)\n"
		"  --vms K            VMs (default 2, at most %d); ranks are placed in blocks\n"
		"  --smp S            vCPUs per VM (default 1)\n"
		"  --mem SIZE         RAM per VM (default 1G)\n"
		"  --accel on|off     the MPI accelerator (default on): messages between the ranks\n"
		"                     become host memory copies; off: MPICH over the overlay\n"
		"  --stats            print the accelerator's counters at the end (stderr)\n"
		"  --timeout SECONDS  stop the job after this long (exit status 124)\n"
		"  --env VAR=VALUE    set VAR for the ranks (repeatable; mpiexec -genv)\n"
		"  --kernel F --initrd F   the guest (default: build/image-mpi)\n"
		"  --qemu-accel MODE  auto, tcg or kvm (gears run --accel)\n"
		"  --verbose          keep and name the VMs' logs\n\n"
		"Example:\n"
		"  mpicc -o ring ring.c && gears mpirun -np 4 --vms 2 ./ring\n",
		MAX_VMS);
}

struct job {
	char name[32];			/* bridge and VM name prefix: mpi<pid> */
	char self[PATH_MAX];		/* this gears binary */
	char tmp[64];			/* logs */
	int nvms, np, smp;
	const char *mem, *accel, *qemu_accel, *kernel, *initrd;
	bool verbose, bridge_up, stats;
	const char *prog;		/* for the preload rule */
	int timeout_s;
	pid_t vm_pid[MAX_VMS];
	pid_t exec_pid;
};

static volatile sig_atomic_t got_signal, timed_out;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* Run `gears ARGV...` as a child; out: a file for its stdout and stderr (NULL:
 * ours). Returns its pid, or -1. */
static pid_t spawn(struct job *j, char *const argv[], const char *out, bool own_group)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	if (own_group)
		setpgid(0, 0);	/* Ctrl-C is ours to pass on, in order */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(125);
	if (out) {
		int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(125);
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	execv(j->self, argv);
	_exit(127);
}

/* Wait for pid up to ms (-1: forever); its status in *st. 1 done, 0 not yet. */
static int wait_for(pid_t pid, int ms, int *st)
{
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, st, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		if (ms >= 0 && waited >= ms)
			return 0;
		usleep(10000);
	}
}

/* `gears ARGS...` to the end, output to the job's log; its exit status. */
static int run_quiet(struct job *j, char *const argv[], int ms)
{
	char log[96];
	int st = 0;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/gears.log", j->tmp);
	pid = spawn(j, argv, log, true);
	if (pid < 0)
		return -1;
	if (!wait_for(pid, ms, &st)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void vm_name(const struct job *j, int i, char *out, size_t n)
{
	snprintf(out, n, "%s-%d", j->name, i);
}

static void teardown(struct job *j)
{
	int st;

	if (j->exec_pid > 0) {
		kill(j->exec_pid, SIGTERM);
		if (!wait_for(j->exec_pid, 5000, &st)) {
			kill(j->exec_pid, SIGKILL);
			waitpid(j->exec_pid, &st, 0);
		}
		j->exec_pid = 0;
	}
	for (int i = 0; i < j->nvms; i++) {
		char name[48];

		if (j->vm_pid[i] <= 0)
			continue;
		vm_name(j, i, name, sizeof(name));
		if (waitpid(j->vm_pid[i], &st, WNOHANG) != j->vm_pid[i]) {
			char *argv[] = { "gears", "stop", name, NULL };

			run_quiet(j, argv, STOP_WAIT_MS / 2);
		}
		if (!wait_for(j->vm_pid[i], STOP_WAIT_MS / 2, &st)) {
			kill(j->vm_pid[i], SIGTERM);
			if (!wait_for(j->vm_pid[i], 5000, &st)) {
				kill(j->vm_pid[i], SIGKILL);
				waitpid(j->vm_pid[i], &st, 0);
			}
		}
		j->vm_pid[i] = 0;
	}
	if (j->bridge_up) {
		char *argv[] = { "gears", "vnet", "stop", j->name, NULL };

		run_quiet(j, argv, 10000);
		j->bridge_up = false;
	}
}

/* The tail of a VM's log, for a failure report. */
static void show_log(const struct job *j, int i)
{
	char path[96], buf[2048];
	FILE *f;
	long sz;
	size_t n;

	snprintf(path, sizeof(path), "%s/vm-%d.log", j->tmp, i);
	if (!(f = fopen(path, "r")))
		return;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, sz > (long)sizeof(buf) - 1 ? sz - (long)sizeof(buf) + 1 : 0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	fprintf(stderr, "--- %s-%d's supervisor:\n%s\n", j->name, i, buf);
}

/* A directory the guests need at the same path: once. */
static int add_share(char shares[][PATH_MAX], int *n, const char *dir)
{
	for (int k = 0; k < *n; k++) {
		size_t l = strlen(shares[k]);

		if (!strncmp(dir, shares[k], l) && (dir[l] == '/' || dir[l] == 0))
			return 0;	/* already inside a shared one */
	}
	if (*n >= 2)
		return -E2BIG;
	snprintf(shares[(*n)++], PATH_MAX, "%s", dir);
	return 0;
}

static int boot_vms(struct job *j, char shares[][PATH_MAX], int nshares, const char *cwd)
{
	char img[PATH_MAX - 32], kernel[PATH_MAX], initrd[PATH_MAX];
	const char *dir = getenv("GEARS_MPI_IMAGE_DIR");

	if (dir && *dir)
		snprintf(img, sizeof(img), "%s", dir);
	else
		snprintf(img, sizeof(img), "%s-mpi", GEARS_IMAGE_DIR);
	snprintf(kernel, sizeof(kernel), "%s", j->kernel ? j->kernel : "");
	snprintf(initrd, sizeof(initrd), "%s", j->initrd ? j->initrd : "");
	if (!j->kernel)
		snprintf(kernel, sizeof(kernel), "%s/vmlinuz", img);
	if (!j->initrd)
		snprintf(initrd, sizeof(initrd), "%s/initrd.img", img);
	if (access(initrd, R_OK) || access(kernel, R_OK)) {
		cli_error("no MPI guest image (%s): make image VARIANT=mpi", initrd);
		return -ENOENT;
	}
	for (int i = 0; i < j->nvms; i++) {
		char name[48], net[96], smp[16], log[96], mpiopt[PATH_MAX + 48];
		char *argv[40];
		int a = 0;

		vm_name(j, i, name, sizeof(name));
		snprintf(net, sizeof(net), "%s,ip=10.77.0.%d/24", j->name, i + 1);
		snprintf(smp, sizeof(smp), "%d", j->smp);
		snprintf(log, sizeof(log), "%s/vm-%d.log", j->tmp, i);
		snprintf(mpiopt, sizeof(mpiopt), "%s,prog=%s", j->name, j->prog);
		argv[a++] = "gears";
		argv[a++] = "run";
		argv[a++] = "--name";
		argv[a++] = name;
		argv[a++] = "--smp";
		argv[a++] = smp;
		argv[a++] = "--mem";
		argv[a++] = (char *)j->mem;
		argv[a++] = "--kernel";
		argv[a++] = kernel;
		argv[a++] = "--initrd";
		argv[a++] = initrd;
		argv[a++] = "--net";
		argv[a++] = net;
		for (int k = 0; k < nshares; k++) {
			argv[a++] = "--share";
			argv[a++] = shares[k];
		}
		argv[a++] = "--cwd";
		argv[a++] = (char *)cwd;
		if (j->qemu_accel) {
			argv[a++] = "--accel";
			argv[a++] = (char *)j->qemu_accel;
		}
		if (!strcmp(j->accel, "on")) {
			argv[a++] = "--mpi";
			argv[a++] = mpiopt;
		}
		argv[a++] = "--";
		argv[a++] = "/gears/bin/mpi-node";
		argv[a++] = name;
		argv[a++] = MPI_PORT;
		argv[a] = NULL;
		j->vm_pid[i] = spawn(j, argv, log, true);
		if (j->vm_pid[i] < 0) {
			cli_error("fork: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* Every VM's agent answers (a VM that dies on the way fails the job). */
static int wait_booted(struct job *j)
{
	time_t t0 = time(NULL);

	for (int i = 0; i < j->nvms; i++) {
		char name[48];
		char *argv[] = { "gears", "exec", name, "--", "true", NULL };

		vm_name(j, i, name, sizeof(name));
		for (;;) {
			int st;

			if (got_signal || timed_out)
				return -EINTR;
			if (waitpid(j->vm_pid[i], &st, WNOHANG) == j->vm_pid[i]) {
				j->vm_pid[i] = 0;
				show_log(j, i);
				cli_error("VM %s did not come up", name);
				return -EIO;
			}
			if (run_quiet(j, argv, 20000) == 0)
				break;
			if (time(NULL) - t0 > BOOT_WAIT_S) {
				show_log(j, i);
				cli_error("VM %s did not come up in %d s", name, BOOT_WAIT_S);
				return -ETIMEDOUT;
			}
			usleep(300000);
		}
	}
	return 0;
}

static pid_t start_job(struct job *j, const char *cwd, char **prog, int nprog, char **envs, int nenv)
{
	char name[48], hosts[MAX_VMS * 20] = "", np[16], wait_s[16];
	char **argv = calloc((size_t)(nprog + 2 * nenv + 24), sizeof(*argv));
	int a = 0, per = (j->np + j->nvms - 1) / j->nvms, left = j->np;
	pid_t pid;

	if (!argv)
		return -1;
	for (int i = 0; i < j->nvms && left > 0; i++) {
		int here = left < per ? left : per;
		size_t l = strlen(hosts);

		snprintf(hosts + l, sizeof(hosts) - l, "%s10.77.0.%d:%d", l ? "," : "", i + 1, here);
		left -= here;
	}
	vm_name(j, 0, name, sizeof(name));
	snprintf(np, sizeof(np), "%d", j->np);
	snprintf(wait_s, sizeof(wait_s), "%d", LISTEN_WAIT_S);
	argv[a++] = "gears";
	argv[a++] = "exec";
	argv[a++] = name;
	argv[a++] = "--";
	argv[a++] = "sh";
	argv[a++] = "-c";
	argv[a++] = "cd \"$1\" && shift && exec /gears/bin/mpi-job \"$@\"";
	argv[a++] = "sh";
	argv[a++] = (char *)cwd;
	argv[a++] = MPI_PORT;
	argv[a++] = wait_s;
	argv[a++] = hosts;
	argv[a++] = "--";
	for (int k = 0; k < nenv; k++) {
		char *eq = strchr(envs[k], '=');

		argv[a++] = "-genv";
		*eq = 0;	/* checked when parsed */
		argv[a++] = envs[k];
		argv[a++] = eq + 1;
	}
	argv[a++] = "-n";
	argv[a++] = np;
	for (int k = 0; k < nprog; k++)
		argv[a++] = prog[k];
	argv[a] = NULL;
	pid = spawn(j, argv, NULL, true);
	free(argv);
	return pid;
}

/* The broker's counters (services/mpi/host/mpi_broker.h), while the VMs still run. */
static void print_stats(const struct job *j)
{
	char path[96], err[256];
	struct mpi_broker *b;
	struct mpi_broker_stats st;

	snprintf(path, sizeof(path), "/dev/shm/gears-mpi-%s", j->name);
	if (strcmp(j->accel, "on") || access(path, F_OK) || !(b = mpi_broker_open(path, err, sizeof(err)))) {
		fprintf(stderr, "gears mpirun: accelerator: none\n");
		return;
	}
	mpi_broker_stats(b, &st);
	fprintf(stderr,
		"gears mpirun: accelerator: %llu calls, %llu sends, %llu receives, %llu matched, %llu eager, "
		"%llu bytes copied, %llu errors, %llu faults\n",
		(unsigned long long)st.calls, (unsigned long long)st.sends, (unsigned long long)st.recvs,
		(unsigned long long)st.matched, (unsigned long long)st.eager, (unsigned long long)st.copied_bytes,
		(unsigned long long)st.errors, (unsigned long long)st.faults);
	mpi_broker_close_last(b);
}

/* Until the job ends (its status) or something stops it (negative). */
static int supervise(struct job *j)
{
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, 0);

		if (r == j->exec_pid) {
			j->exec_pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		for (int i = 0; i < j->nvms; i++)
			if (r == j->vm_pid[i]) {
				j->vm_pid[i] = 0;
				show_log(j, i);
				cli_error("VM %s-%d went away during the job", j->name, i);
				return -EIO;
			}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (timed_out) {
			cli_error("the job ran out of time (--timeout %d)", j->timeout_s);
			return -ETIMEDOUT;
		}
		if (got_signal)
			return -EINTR;
	}
}

static int parse(int argc, char **argv, struct job *j, char ***envs, int *nenv)
{
	enum { O_VMS = 256, O_SMP, O_MEM, O_ACCEL, O_TIMEOUT, O_ENV, O_KERNEL, O_INITRD, O_QACCEL,
	       O_VERBOSE, O_JSON, O_PRETTY, O_STATS };
	static const struct option opts[] = {
		{ "np", required_argument, 0, 'n' }, { "vms", required_argument, 0, O_VMS },
		{ "smp", required_argument, 0, O_SMP }, { "mem", required_argument, 0, O_MEM },
		{ "accel", required_argument, 0, O_ACCEL }, { "timeout", required_argument, 0, O_TIMEOUT },
		{ "env", required_argument, 0, O_ENV }, { "kernel", required_argument, 0, O_KERNEL },
		{ "initrd", required_argument, 0, O_INITRD }, { "qemu-accel", required_argument, 0, O_QACCEL },
		{ "verbose", no_argument, 0, O_VERBOSE }, { "json", no_argument, 0, O_JSON },
		{ "pretty", no_argument, 0, O_PRETTY }, { "stats", no_argument, 0, O_STATS }, { 0 },
	};
	int c;

	optind = 1;
	/* long_only: -np is hydra's spelling */
	while ((c = getopt_long_only(argc, argv, "+n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			j->np = atoi(optarg);
			if (j->np < 1 || j->np > 256)
				return cli_error("-np takes 1..256");
			break;
		case O_VMS:
			j->nvms = atoi(optarg);
			if (j->nvms < 1 || j->nvms > MAX_VMS)
				return cli_error("--vms takes 1..%d", MAX_VMS);
			break;
		case O_SMP:
			j->smp = atoi(optarg);
			if (j->smp < 1 || j->smp > 64)
				return cli_error("--smp takes 1..64");
			break;
		case O_MEM:
			if (!cli_parse_size(optarg))
				return cli_error("bad --mem '%s'", optarg);
			j->mem = optarg;
			break;
		case O_ACCEL:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return cli_error("--accel takes on or off");
			j->accel = optarg;
			break;
		case O_TIMEOUT:
			j->timeout_s = atoi(optarg);
			if (j->timeout_s < 1)
				return cli_error("--timeout takes a number of seconds");
			break;
		case O_ENV:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cli_error("--env takes VAR=VALUE");
			if (*nenv >= 32)
				return cli_error("at most 32 --env");
			(*envs)[(*nenv)++] = optarg;
			break;
		case O_KERNEL: j->kernel = optarg; break;
		case O_INITRD: j->initrd = optarg; break;
		case O_QACCEL: j->qemu_accel = optarg; break;
		case O_VERBOSE: j->verbose = true; break;
		case O_STATS: j->stats = true; break;
		case O_JSON: case O_PRETTY: break;
		default: return cli_usage(&cmd_mpirun, stderr);
		}
	}
	if (optind >= argc)
		return cli_error("no program to run (gears mpirun --help)");
	if (!j->np)
		j->np = j->nvms;
	if (j->nvms > j->np)
		j->nvms = j->np;
	return 0;
}

static int run(int argc, char **argv)
{
	struct job j = { .nvms = 2, .smp = 1, .mem = "1G", .accel = "on" };
	char cwd[PATH_MAX], prog[PATH_MAX], shares[2][PATH_MAX], *envbuf[32], **envs = envbuf;
	struct sigaction sa = { .sa_handler = on_signal };
	int nenv = 0, nshares = 0, r, code;
	char **pargv;
	ssize_t l;

	if ((r = parse(argc, argv, &j, &envs, &nenv)))
		return r;
	pargv = argv + optind;
	if (!getcwd(cwd, sizeof(cwd)))
		return cli_error("getcwd: %s", strerror(errno));
	/* PROG as hydra will look for it in the guest: a path (shared), else a
	 * name on the guest's PATH (e.g. a Debian MPI program of the image). */
	if (strchr(pargv[0], '/')) {
		char *slash;

		if (!realpath(pargv[0], prog) || access(prog, X_OK))
			return cli_error("%s: not an executable program", pargv[0]);
		pargv[0] = prog;
		j.prog = prog;
		if ((slash = strrchr(prog, '/')) && slash != prog) {
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - prog), prog);
			add_share(shares, &nshares, cwd);
			if (add_share(shares, &nshares, dir))
				return cli_error("too many directories to share");
		}
	} else {
		add_share(shares, &nshares, cwd);
		j.prog = pargv[0];
	}
	l = readlink("/proc/self/exe", j.self, sizeof(j.self) - 1);
	if (l <= 0)
		return cli_error("cannot find the gears binary: %s", strerror(errno));
	j.self[l] = 0;
	snprintf(j.name, sizeof(j.name), "mpi%d", (int)getpid());
	snprintf(j.tmp, sizeof(j.tmp), "/tmp/gears-mpirun.XXXXXX");
	if (!mkdtemp(j.tmp))
		return cli_error("mkdtemp: %s", strerror(errno));

	/* The env rule that preloads the library is applied while the exec waits for
	 * the supervisor; by default that wait gives up (the exec goes on without
	 * the library) after 200 ms, which a loaded host misses now and then. A rank
	 * without the library would leave the others waiting in their attach check:
	 * give the supervisors longer. */
	setenv("GEARS_SYNC_TIMEOUT_MS", "1000", 0);
	sigaction(SIGINT, &sa, NULL);	/* no SA_RESTART: waitpid returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	if (j.timeout_s)
		alarm((unsigned)j.timeout_s);

	{
		char *argv_b[] = { "gears", "vnet", "start", j.name, NULL };

		if (run_quiet(&j, argv_b, 20000)) {
			code = cli_error("cannot start the job's VNET bridge %s (see %s/gears.log)", j.name, j.tmp);
			j.verbose = true;
			goto out;
		}
		j.bridge_up = true;
	}
	if (boot_vms(&j, shares, nshares, cwd) || wait_booted(&j)) {
		code = 125;
		goto out;
	}
	j.exec_pid = start_job(&j, cwd, pargv, argc - optind, envs, nenv);
	if (j.exec_pid < 0) {
		code = cli_error("fork: %s", strerror(errno));
		goto out;
	}
	r = supervise(&j);
	if (j.stats)
		print_stats(&j);
	code = r >= 0 ? r : r == -ETIMEDOUT ? 124 : r == -EINTR ? 128 + got_signal : 125;
out:
	if (got_signal && code < 128)
		code = 128 + got_signal;
	else if (timed_out && code != 124) {
		if (code == 125)
			cli_error("the job ran out of time (--timeout %d)", j.timeout_s);
		code = 124;
	}
	alarm(0);
	teardown(&j);
	if (j.verbose || (code && code != 124 && code < 128))
		fprintf(stderr, "gears mpirun: logs in %s\n", j.tmp);
	else {
		char path[128];

		for (int i = 0; i < j.nvms; i++) {
			snprintf(path, sizeof(path), "%s/vm-%d.log", j.tmp, i);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/gears.log", j.tmp);
		unlink(path);
		rmdir(j.tmp);
	}
	return code;
}

const struct gears_cmd cmd_mpirun = {
	.name = "mpirun",
	.args = "[-np N] [--vms K] [--smp S] [--mem SIZE] [--accel on|off] [--timeout S] [--env V=X]... "
		"PROG [ARGS...]",
	.summary = "run an MPI program across K fresh VMs on a VNET overlay (services/mpi)",
	.run = run,
	.help = help,
};
