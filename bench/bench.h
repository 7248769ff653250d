/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the benchmarks: timing, statistics, running
 * commands with their output captured and a time limit, the VM under test
 * (stopped at exit whatever happens), and verdicts against targets.
 *
 * A benchmark whose work fails (a command that fails, a round that gives no
 * figure) dies with a message and exit status 1: it never prints a figure
 * made of failed rounds. A target that is not met is not a failure: the
 * figure is printed with MISSED beside it.
 */
#ifndef GEARS_BENCH_H
#define GEARS_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of n samples (sorts them). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline double bench_pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	int i = (int)(p * (n - 1) + 0.5);

	return v[i];
}

/* Path of the gears binary under test. */
static inline const char *bench_gears(void)
{
	const char *g = getenv("GEARS");

	return g && *g ? g : "build/gears";
}

/* ---- verdicts ---- */

/* "(target <= 1.10: MET)": the target beside a figure and whether it holds.
 * `le` says the figure must be at most the target, else at least it. */
static inline const char *bench_target(char *buf, size_t sz, double figure, bool le, double target)
{
	bool met = le ? figure <= target : figure >= target;

	snprintf(buf, sz, "(target %s %g: %s)", le ? "<=" : ">=", target, met ? "MET" : "MISSED");
	return buf;
}

/* ---- dying ---- */

static const char *bench_name = "bench";

static inline void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: FAILED: ", bench_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);	/* atexit: the VM under test is stopped */
}

/* ---- running commands ---- */

struct bench_cmd {
	char out[16384], err[4096];
	size_t out_lines;	/* newlines on stdout, also past what out holds */
	int status;		/* exit status, 128+N for signal N, -1 not started or timed out */
	double secs;		/* wall time from spawn to exit */
};

static inline void bench_append(char *buf, size_t sz, size_t *len, const char *src, size_t n)
{
	if (*len + 1 < sz) {
		size_t k = n < sz - 1 - *len ? n : sz - 1 - *len;

		memcpy(buf + *len, src, k);
		*len += k;
		buf[*len] = 0;
	}
}

/* Read both pipes into c until they close or the deadline passes (then kill). */
static inline bool bench_collect(struct bench_cmd *c, pid_t pid, int out, int err, double deadline)
{
	struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = err, .events = POLLIN } };
	size_t len[2] = { strlen(c->out), strlen(c->err) };
	bool timed_out = false;

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int left = (int)((deadline - bench_now()) * 1000);

		if (left <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else if (i == 0) {
				bench_append(c->out, sizeof(c->out), &len[0], buf, (size_t)n);
				for (ssize_t k = 0; k < n; k++)
					c->out_lines += buf[k] == '\n';
			} else {
				bench_append(c->err, sizeof(c->err), &len[1], buf, (size_t)n);
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return !timed_out;
}

/* Wait for pid; fill c->status (and c->secs from t0). */
static inline int bench_reap(struct bench_cmd *c, pid_t pid, double t0)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return c->status = -1;
	c->secs = bench_now() - t0;
	c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return c->status;
}

/* Start argv with stdin /dev/null and stdout, stderr into pipes *out, *err. */
static inline int bench_start(struct bench_cmd *c, char *const argv[], pid_t *pid, int *out, int *err)
{
	posix_spawn_file_actions_t fa;
	int po[2], pe[2], r;

	c->out[0] = c->err[0] = 0;
	c->out_lines = 0;
	c->status = -1;
	c->secs = 0;
	if (pipe2(po, O_CLOEXEC))
		return -1;
	if (pipe2(pe, O_CLOEXEC)) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	r = posix_spawn(pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (r) {
		close(po[0]);
		close(pe[0]);
		snprintf(c->err, sizeof(c->err), "cannot run %s: %s", argv[0], strerror(r));
		return -1;
	}
	*out = po[0];
	*err = pe[0];
	return 0;
}

/* Run argv with stdout and stderr captured (truncated to the buffers); kill it
 * after `timeout` seconds. Returns c->status (-1: did not run or timed out). */
static inline int bench_run(struct bench_cmd *c, double timeout, char *const argv[])
{
	double t0 = bench_now();
	int out, err;
	pid_t pid;

	if (bench_start(c, argv, &pid, &out, &err))
		return -1;
	if (!bench_collect(c, pid, out, err, t0 + timeout)) {
		bench_reap(c, pid, t0);
		snprintf(c->err, sizeof(c->err), "%s %s: timed out after %.0f s", argv[0], argv[1], timeout);
		return c->status = -1;
	}
	return bench_reap(c, pid, t0);
}

/* ---- the VM under test ---- */

static volatile sig_atomic_t bench_vm_pid;
static char bench_vm_name[64];
static char bench_vm_log[] = "/tmp/gears-bench-vm-XXXXXX";	/* the supervisor's output */
static bool bench_log_made, bench_keep_log;

static inline void bench_vm_reap(double timeout)
{
	double t0 = bench_now();

	while (bench_vm_pid > 0) {
		if (waitpid(bench_vm_pid, NULL, WNOHANG) != 0) {
			bench_vm_pid = 0;
			return;
		}
		if (bench_now() - t0 > timeout)
			return;
		usleep(50000);
	}
}

/* `gears stop`, then signals if the supervisor is still there. */
static inline void bench_vm_stop(void)
{
	char *argv[] = { (char *)bench_gears(), "stop", bench_vm_name, NULL };
	struct bench_cmd c;

	if (bench_vm_pid <= 0)
		return;
	bench_run(&c, 60, argv);
	bench_vm_reap(30);
	if (bench_vm_pid > 0) {
		kill(bench_vm_pid, SIGTERM);
		bench_vm_reap(10);
	}
	if (bench_vm_pid > 0) {
		kill(bench_vm_pid, SIGKILL);
		bench_vm_reap(5);
	}
}

static inline void bench_vm_cleanup(void)
{
	bench_vm_stop();
	if (bench_log_made && !bench_keep_log)
		unlink(bench_vm_log);
}

static inline void bench_on_signal(int sig)
{
	/* The supervisor stops QEMU and cleans up on SIGTERM. */
	if (bench_vm_pid > 0)
		kill(bench_vm_pid, SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * `gears run --name NAME [opts...] -- sleep 1000000` in the background, its
 * output in a log file; returns once `gears exec NAME true` works. Dies if it
 * does not come up. From here on, exit and fatal signals stop it.
 */
static inline void bench_vm_boot(const char *name, const char *const *opts)
{
	char *argv[32], *probe[] = { (char *)bench_gears(), "exec", (char *)name, "true", NULL };
	posix_spawn_file_actions_t fa;
	struct bench_cmd c;
	int n = 0, fd, r;
	pid_t pid;

	snprintf(bench_vm_name, sizeof(bench_vm_name), "%s", name);
	argv[n++] = (char *)bench_gears();
	argv[n++] = "run";
	argv[n++] = "--name";
	argv[n++] = (char *)name;
	for (; opts && *opts && n < 26; opts++)
		argv[n++] = (char *)*opts;
	argv[n++] = "--";
	argv[n++] = "sleep";
	argv[n++] = "1000000";
	argv[n] = NULL;
	if ((fd = mkstemp(bench_vm_log)) < 0)
		bench_die("mkstemp: %s", strerror(errno));
	close(fd);
	bench_log_made = true;
	signal(SIGINT, bench_on_signal);
	signal(SIGTERM, bench_on_signal);
	signal(SIGHUP, bench_on_signal);
	atexit(bench_vm_cleanup);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, bench_vm_log, O_WRONLY | O_TRUNC, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		bench_die("cannot run %s: %s", argv[0], strerror(r));
	bench_vm_pid = pid;
	for (double t0 = bench_now(); bench_run(&c, 30, probe);) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			bench_vm_pid = 0;
			bench_keep_log = true;
			bench_die("`gears run --name %s` exited before the guest was up; see %s", name,
				  bench_vm_log);
		}
		if (bench_now() - t0 > 180) {
			bench_keep_log = true;
			bench_die("VM %s did not start within 180 s; see %s", name, bench_vm_log);
		}
		usleep(200000);
	}
}

/* `gears exec VM -- sh -c SCRIPT`, output in c; dies unless it succeeds. */
static inline void bench_guest_sh(struct bench_cmd *c, const char *script)
{
	char *argv[] = { (char *)bench_gears(), "exec", bench_vm_name, "--", "sh", "-c", (char *)script, NULL };

	if (bench_run(c, 300, argv))
		bench_die("in the guest, `%s` failed (status %d): %s", script, c->status, c->err);
}

#endif
