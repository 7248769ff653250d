// SPDX-License-Identifier: MIT
/*
 * gears trace: strace for a whole VM, from outside.
 *
 *   gears trace [options] NAME            attach to a running VM
 *   gears trace [options] -- CMD ARGS...  boot the default guest, trace CMD
 *
 * A client of the VM's supervisor (trace_srv.c does the intercepting); this
 * side filters by process, follows children, pairs entries with returns per
 * thread and prints strace-like lines, a -c summary or JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gears/ctl.h>
#include <gears/linux.h>
#include <gears/syscall.h>
#include <gears/vm.h>

#include "cli.h"
#include "../services/trace/decode/decode.h"
#include "../services/trace/trace_proto.h"

#define MAX_PIDS 4096
#define PEND_SLOTS 16384	/* threads with a call in progress */
#define HOLD_MAX (1u << 20)	/* records kept before the command's pid is known */

struct pend {
	int tid;
	struct trace_rec *rec;
};

struct count {
	uint64_t calls, errors, ns;
};

struct tracer {
	/* options */
	const char *mode;
	bool follow, summary, json, quiet_summary;
	int want_pid;
	const char *want_comm;
	uint64_t show[GEARS_SC_NR_WORDS], show32[GEARS_SC_NR_WORDS];
	bool show_all;
	FILE *out;
	json_t *inject;		/* -e inject=... rules for the server */
	int ring_wait_ms;	/* --ring-wait (-1: not given) */
	bool announce;		/* attach mode: say when tracing has started */
	bool durations;		/* -T: show the time spent in each call */
	struct dec_opts dec;	/* how calls are decoded (-s, -v, -x, -y) */
	int plain;		/* strace's line, no time/CPU/comm prefix (-1: default) */
	int tstamp;		/* -t, -tt, -ttt */
	bool relative;		/* -r */
	int status;		/* -z: 1 only successful, -Z: 2 only failed */
	int quiet;		/* -q, -qq */
	uint64_t sigshow;	/* -e signal=SET: bit s - 1 for signal s (default all) */
	bool sig_records;	/* filter and exit modes: the server sends signal deliveries */
	uint64_t sig_lines;	/* signal lines printed */
	bool with_lines;	/* -C: the lines and the summary */
	bool wall;		/* -w */
	const char *sortby;	/* -S */
	const char *only_path;	/* -P */
	bool per_proc;		/* -ff: a file per process */
	const char *outfile;
	bool have_last;
	uint64_t last_ns;
	int64_t wall_off_ns;	/* host realtime - guest time, for -t */
	/* state */
	bool cmd_mode;
	int root;		/* CMD mode: the command's pid (0 until known) */
	bool root_execd;	/* its first successful execve seen */
	int pids[MAX_PIDS];
	int npids;
	struct pend pend[PEND_SLOTS];
	struct trace_rec **held;
	size_t nheld;
	bool have_t0;
	uint64_t t0;
	struct count cnt[2][GEARS_SC_NR_WORDS * 64];
	uint64_t lost, printed;
	json_t *stats;
};

static void help(FILE *f)
{
	fprintf(f,
		"Options:\n"
		"  --mode MODE     exit: stop the VM on every call (gdbstub), nothing installed;\n"
		"                  filter: guest-side stub, the guest waits for gears on selected calls;\n"
		"                  ring: guest-side stub, records in shared memory, no waiting (default)\n"
		"  -e SYSCALL,...  only these calls (names or numbers); also -e trace=SYSCALL,...\n"
		"  -e inject=SET:ACTION[:ACTION]  change calls of the processes named by -p or --comm:\n"
		"                  error=ERRNO (skip, fail with ERRNO), retval=N (skip, return N),\n"
		"                  ret=N (run, then return N), argI=N (run with argument I = N)\n"
		"  -p PID          only this process (and its children with -f)\n"
		"  --comm NAME     only processes with this name (and their children with -f)\n"
		"  -f              follow children\n"
		"  -c              count calls, errors and time per syscall (like strace -c)\n"
		"  -T              show the time spent in each call, <seconds> (like strace -T)\n"
		"  -s SIZE         show SIZE bytes of strings and buffers (default 32)\n"
		"  -v              whole structures (stat, uname, rusage...)\n"
		"  -x, -xx         non-printable strings in hex; every string in hex\n"
		"  -o FILE         write the trace to FILE (default: standard error)\n"
		"  --ring-wait MS  ring mode: how long a guest CPU waits for room in a full ring\n"
		"                  before the record is dropped and counted (default 50; 0: never)\n"
		"  --json          one JSON object per call\n"
		"  --smp N, --mem SIZE, --kernel F, --initrd F, --append S, --accel A\n"
		"                  with -- CMD: how to boot the guest\n\n"
		"  -t, -tt, -ttt   time of day, with microseconds, as seconds since the epoch\n"
		"  -r              time since the previous line\n"
		"  -z, -Z          only successful calls; only failed ones (also -e status=successful|failed)\n"
		"  -e trace=%%CLASS strace's classes: %%file %%process %%net %%memory %%signal %%desc %%creds\n"
		"                  %%clock %%stat (mixed with names)\n"
		"  -P PATH         only calls with PATH as a path argument\n"
		"  -y              fds with the path they were opened with (absolute opens only)\n"
		"  -qq             no +++ exited lines\n"
		"  -e signal=SET   signal deliveries shown (--- SIG... --- and +++ killed by +++ lines):\n"
		"                  names, numbers, all (default), none, !SET\n"
		"  -ff             with -o FILE: one file per process, FILE.PID\n"
		"  -C              -c and the lines; -S time|calls|errors|name|nothing sorts -c's table\n"
		"  -w              (accepted: -c's times are the calls' wall-clock times)\n"
		"  --strace-format strace's lines: [PID ]call = ret, the default with -- CMD\n"
		"  --gears-format  TIME [CPU] PID COMM call = ret, the default when attaching\n\n"
		"With -- CMD, CMD (and with -f its descendants) is traced from its execve on, like\n"
		"strace -f CMD. Signal deliveries (--- SIG... ---, +++ killed by SIG... +++) are read\n"
		"from the guest kernel at each traced call's return in filter and exit modes (a\n"
		"signal that arrives while the process runs in user space, or at the return of an\n"
		"untraced call, is not seen); ring mode shows only those an SA_SIGINFO handler\n"
		"ends with rt_sigreturn.\n");
}

/* ---- process filter ---- */

static bool pid_in(const struct tracer *t, int pid)
{
	for (int i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return true;
	return false;
}

static void pid_add(struct tracer *t, int pid)
{
	if (pid > 0 && !pid_in(t, pid) && t->npids < MAX_PIDS)
		t->pids[t->npids++] = pid;
}

static bool is_fork(const struct trace_rec *r)
{
	const char *n = gears_sc__name(r->nr, r->flags & TREC_COMPAT);

	return n && (!strcmp(n, "clone") || !strcmp(n, "clone3") || !strcmp(n, "fork") ||
		     !strcmp(n, "vfork"));
}

static bool is_execve(const struct trace_rec *r)
{
	const char *n = gears_sc__name(r->nr, r->flags & TREC_COMPAT);

	return n && (!strcmp(n, "execve") || !strcmp(n, "execveat"));
}

/* Is this record's process one we trace? Updates the set (children, comm). */
static bool wanted(struct tracer *t, const struct trace_rec *r)
{
	bool filtering = t->cmd_mode || t->want_pid || t->want_comm;
	bool in;

	if (!filtering)
		return true;
	if (t->want_comm && !strncmp(r->comm, t->want_comm, 15))
		pid_add(t, r->pid);
	in = pid_in(t, r->pid);
	/* A child can make calls before its parent's fork has returned: know it
	 * by its parent. */
	if (!in && t->follow && r->ppid > 0 && pid_in(t, r->ppid)) {
		pid_add(t, r->pid);
		in = true;
	}
	/* A child's pid is the return value of fork/clone in the parent. */
	if (in && t->follow && r->kind == TREC_EXIT && is_fork(r) && r->ret > 0)
		pid_add(t, (int)r->ret);
	return in;
}

static bool shown(const struct tracer *t, const struct trace_rec *r)
{
	const uint64_t *set = (r->flags & TREC_COMPAT) ? t->show32 : t->show;

	if (t->show_all)
		return true;
	return r->nr >= 0 && r->nr < GEARS_SC_NR_WORDS * 64 && (set[r->nr / 64] & (1ull << (r->nr % 64)));
}

/* ---- threads whose end (+++ exited/killed +++) was printed ---- */

static int ended[MAX_PIDS];
static unsigned nended;

static bool is_ended(int tid)
{
	for (unsigned i = 0; i < MAX_PIDS && i < nended; i++)
		if (ended[i] == tid)
			return true;
	return false;
}

static void set_ended(int tid, bool on)
{
	for (unsigned i = 0; i < MAX_PIDS && i < nended; i++)
		if (ended[i] == tid) {
			if (!on)
				ended[i] = 0;
			return;
		}
	if (on)
		ended[nended++ % MAX_PIDS] = tid;
}

/* ---- which signals each process handles with SA_SIGINFO (seen set) ---- */

static struct siginfo_procs {
	int pid;
	uint64_t mask;
} sip[MAX_PIDS];

static uint64_t *sip_mask(int pid, bool create)
{
	struct siginfo_procs *free_e = NULL;

	for (int i = 0; i < MAX_PIDS; i++) {
		if (sip[i].pid == pid)
			return &sip[i].mask;
		if (!sip[i].pid && !free_e)
			free_e = &sip[i];
	}
	if (!create || !free_e)
		return NULL;
	free_e->pid = pid;
	free_e->mask = 0;
	return &free_e->mask;
}

static void sip_track(const struct trace_rec *e, const struct trace_rec *x)
{
	bool si = false;
	int sig = dec_sigaction_set(e, x, &si);
	uint64_t *m;

	if (sig > 0 && sig <= 64 && (m = sip_mask(x->pid, true)))
		*m = si ? *m | 1ull << (sig - 1) : *m & ~(1ull << (sig - 1));
	else if (x && is_fork(x) && x->ret > 0 && (m = sip_mask(x->pid, false)) && *m) {
		uint64_t parent = *m, *c = sip_mask((int)x->ret, true);

		if (c)
			*c = parent;
	} else if (x && is_execve(x) && x->ret == 0 && (m = sip_mask(x->pid, false)))
		*m = 0;	/* handlers are reset by exec */
}

static bool sip_has(int pid, const struct trace_rec *e)
{
	uint64_t *m = sip_mask(pid, false);

	(void)e;
	return m && *m;
}

/* The line's signal is one the process handles with SA_SIGINFO. */
static bool sip_covers(int pid, const char *line, uint64_t shown_sigs)
{
	uint64_t *m = sip_mask(pid, false);
	char tmp[16];

	for (int s = 1; m && s <= 64; s++) {
		const char *n = dec_signame(s, tmp, sizeof(tmp));
		size_t l = n ? strlen(n) : 0;

		if (n && !strncmp(line + 4, n, l) && line[4 + l] == ' ')
			return *m & shown_sigs & 1ull << (s - 1);
	}
	return false;
}

/* ---- -y: paths of the fds the traced processes opened (as they named them) ---- */

#define FDS_MAX 4096

static struct fdent {
	int pid, fd;
	char *path;
} fds[FDS_MAX];

static struct fdent *fd_find(int pid, int fd, bool create)
{
	struct fdent *free_e = NULL;

	for (int i = 0; i < FDS_MAX; i++) {
		if (fds[i].path && fds[i].pid == pid && fds[i].fd == fd)
			return &fds[i];
		if (!fds[i].path && !free_e)
			free_e = &fds[i];
	}
	return create ? free_e : NULL;
}

static const char *fd_path(void *ctx, int pid, int fd)
{
	struct fdent *f = fd_find(pid, fd, false);

	(void)ctx;
	return f ? f->path : NULL;
}

static void fd_set_path(int pid, int fd, const char *path)
{
	struct fdent *f = fd_find(pid, fd, true);

	if (!f)
		return;
	free(f->path);
	f->pid = pid;
	f->fd = fd;
	f->path = strdup(path);
}

/* After a call returned: opens name fds, close and dup change them. */
static void fd_track(const struct trace_rec *e, const struct trace_rec *x)
{
	const char *n = gears_sc__name(x->nr, x->flags & TREC_COMPAT);
	const char *p;
	struct fdent *f;

	if (!n || dec_is_error(x->ret))
		return;
	if ((!strcmp(n, "openat") || !strcmp(n, "open") || !strcmp(n, "creat")) && e &&
	    (p = rec_str(e, n[4] == 'a' ? 1 : 0)) && p[0] == '/')
		fd_set_path(x->pid, (int)x->ret, p);
	else if (!strcmp(n, "close") && (f = fd_find(x->pid, (int)x->args[0], false))) {
		free(f->path);
		f->path = NULL;
	} else if ((!strcmp(n, "dup") || !strcmp(n, "dup2") || !strcmp(n, "dup3") || !strcmp(n, "fcntl")) &&
		   (f = fd_find(x->pid, (int)x->args[0], false)) && x->ret >= 0 && x->ret != (int64_t)x->args[0]) {
		if (strcmp(n, "fcntl") || x->args[1] == 0 || x->args[1] == 1030)	/* F_DUPFD, F_DUPFD_CLOEXEC */
			fd_set_path(x->pid, (int)x->ret, f->path);
	}
}

static bool n_is_open(const struct trace_rec *x)
{
	const char *n = gears_sc__name(x->nr, x->flags & TREC_COMPAT);

	return n && (!strcmp(n, "openat") || !strcmp(n, "open") || !strcmp(n, "creat") || !strncmp(n, "dup", 3));
}

/* ---- output ---- */

static void count(struct tracer *t, const struct trace_rec *e, const struct trace_rec *x)
{
	const struct trace_rec *r = e ? e : x;
	struct count *c = &t->cnt[!!(r->flags & TREC_COMPAT)][r->nr & (GEARS_SC_NR_WORDS * 64 - 1)];

	c->calls++;
	if (x && dec_is_error(x->ret))
		c->errors++;
	if (e && x && e != x && x->time_ns > e->time_ns)
		c->ns += x->time_ns - e->time_ns;
	else if (x && x->entry_ns && x->time_ns >= x->entry_ns)
		c->ns += x->time_ns - x->entry_ns;
}

/* -P PATH: does a path argument of the call name it? */
static bool has_path(const struct tracer *t, const struct trace_rec *e)
{
	for (int i = 0; i < 6; i++) {
		const char *s = rec_str(e, i);

		if (s && !strcmp(s, t->only_path))
			return true;
	}
	return false;
}

/* -ff: FILE.PID, opened on the process's first line (bounded: the limit of
 * open files ends it with an error message, once). */
static FILE *out_for(struct tracer *t, int pid)
{
	static struct {
		int pid;
		FILE *f;
	} files[256];
	static int nfiles;
	char name[4096];

	if (!t->per_proc)
		return t->out;
	for (int i = 0; i < nfiles; i++)
		if (files[i].pid == pid)
			return files[i].f;
	snprintf(name, sizeof(name), "%s.%d", t->outfile, pid);
	if (nfiles >= 256 || !(files[nfiles].f = fopen(name, "w"))) {
		if (nfiles < 256)
			cli_error("cannot write %s: %s", name, strerror(errno));
		return t->out;
	}
	files[nfiles].pid = pid;
	return files[nfiles++].f;
}

/* strace's line prefix: [PID ][time ]. */
static void line_prefix(struct tracer *t, const struct trace_rec *r, uint64_t when, char *pre, size_t presz,
			char *ts, size_t tssz);

/* strace's line: [PID ][time ]call = ret[ <dur>], "= ret" at column 40. */
static void put_plain(struct tracer *t, FILE *f, const struct trace_rec *r, uint64_t when, const char *call,
		      const char *ret, const char *dur)
{
	char pre[64] = "", ts[64] = "";
	int col;

	line_prefix(t, r, when, pre, sizeof(pre), ts, sizeof(ts));
	col = fprintf(f, "%s%s%s", pre, ts, call);
	if (!ret) {
		fprintf(f, " <unfinished ...>\n");
		return;
	}
	fprintf(f, "%*s= %s%s\n", col < 40 ? 40 - col : 1, "", ret, dur);
}

static void line_prefix(struct tracer *t, const struct trace_rec *r, uint64_t when, char *pre, size_t presz,
			char *ts, size_t tssz)
{
	size_t sizeof_pre = presz, sizeof_ts = tssz;

	if (t->follow && !t->per_proc)
		snprintf(pre, sizeof_pre, "%-5d ", r->tid);
	if (t->tstamp) {
		int64_t w = (int64_t)when + t->wall_off_ns;
		time_t sec = (time_t)(w / 1000000000);
		struct tm tm;

		localtime_r(&sec, &tm);
		if (t->tstamp >= 3)
			snprintf(ts, sizeof_ts, "%lld.%06lld ", (long long)sec, (long long)(w % 1000000000 / 1000));
		else if (t->tstamp == 2)
			snprintf(ts, sizeof_ts, "%02d:%02d:%02d.%06lld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
				 (long long)(w % 1000000000 / 1000));
		else
			snprintf(ts, sizeof_ts, "%02d:%02d:%02d ", tm.tm_hour, tm.tm_min, tm.tm_sec);
	} else if (t->relative) {
		uint64_t d = t->have_last && when >= t->last_ns ? when - t->last_ns : 0;

		snprintf(ts, sizeof_ts, "%6llu.%06llu ", (unsigned long long)(d / 1000000000),
			 (unsigned long long)(d % 1000000000 / 1000));
		t->last_ns = when;
		t->have_last = true;
	}
}

/* strace's "--- SIGCHLD {...} ---" and "+++ killed by SIGTERM +++" for a
 * signal record (filter and exit modes). */
static void sig_emit(struct tracer *t, const struct trace_rec *r)
{
	unsigned fl = (unsigned)r->args[0];
	char line[1024], tmp[16], pre[64] = "", ts[64] = "";
	const char *sn = dec_signame(r->nr, tmp, sizeof(tmp));
	const void *info;
	size_t len = 0;
	FILE *f;
	bool in_set = r->nr >= 1 && r->nr <= 64 && (t->sigshow & (1ull << (r->nr - 1)));

	if ((t->summary && !t->with_lines) || t->json)
		return;
	if (!sn && !(fl & DEC_SIG_EXITED))
		return;
	f = t->plain ? out_for(t, r->tid) : t->out;
	if (t->plain)
		line_prefix(t, r, r->time_ns, pre, sizeof(pre), ts, sizeof(ts));
	else
		snprintf(pre, sizeof(pre), "%11.6f [%u] %6d %-15s ",
			 t->have_t0 && r->time_ns >= t->t0 ? (double)(r->time_ns - t->t0) / 1e9 : 0.0, r->cpu, r->tid,
			 r->comm);
	if (!(fl & DEC_SIG_NOLINE) && in_set && (info = rec_blob(r, DEC_BLOB, &len)) &&
	    dec_siginfo_line(line, sizeof(line), info, len)) {
		fprintf(f, "%s%s%s\n", pre, ts, line);
		t->sig_lines++;
	}
	if (fl & DEC_SIG_FATAL)
		set_ended(r->tid, true);
	if ((fl & DEC_SIG_EXITED) && t->quiet < 2)
		fprintf(f, "%s%s+++ exited with %d +++\n", pre, ts, (int)(r->args[1] & 0xff));
	else if ((fl & DEC_SIG_FATAL) && !(fl & DEC_SIG_EXITED) && in_set)
		fprintf(f, "%s%s+++ killed by %s %s+++\n", pre, ts, sn, (fl & DEC_SIG_CORE) ? "(core dumped) " : "");
}

/* A child the parent reaped had died of a signal that no return of its own
 * showed (it came while the child ran in user space, or after its last call
 * returned): strace's "+++ killed by +++" for it, from the wait status. */
static void reaped(struct tracer *t, const struct trace_rec *e, const struct trace_rec *x)
{
	int pid, st;
	char tmp[16], pre[64] = "", ts[64] = "";
	const char *sn;
	struct trace_rec r;
	FILE *f;

	if (!t->sig_records || !dec_reaped(e, x, &pid, &st) || !WIFSIGNALED(st) || is_ended(pid) ||
	    !pid_in(t, pid) || WTERMSIG(st) < 1 || WTERMSIG(st) > 64 || !(t->sigshow & (1ull << (WTERMSIG(st) - 1))) ||
	    !(sn = dec_signame(WTERMSIG(st), tmp, sizeof(tmp))))
		return;
	set_ended(pid, true);
	memset(&r, 0, sizeof(r));
	r.pid = r.tid = pid;
	f = out_for(t, pid);
	line_prefix(t, &r, x->time_ns, pre, sizeof(pre), ts, sizeof(ts));
	fprintf(f, "%s%s+++ killed by %s %s+++\n", pre, ts, sn, WCOREDUMP(st) ? "(core dumped) " : "");
}

static void emit(struct tracer *t, const struct trace_rec *e, const struct trace_rec *x)
{
	const struct trace_rec *r = e ? e : x;
	char call[8192], ret[512];
	double ts;

	if (t->status == 1 && x && dec_is_error(x->ret))
		return;
	if (t->status == 2 && (!x || !dec_is_error(x->ret)))
		return;
	if (t->only_path && !has_path(t, e ? e : x))
		return;
	if (t->summary) {	/* like strace -c: the table instead of the lines */
		count(t, e, x);
		if (!t->with_lines)
			return;
	}
	if (!t->have_t0) {
		struct timespec now;

		t->t0 = (e == x && x && x->entry_ns) ? x->entry_ns : r->time_ns;
		t->have_t0 = true;
		clock_gettime(CLOCK_REALTIME, &now);
		t->wall_off_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - (int64_t)t->t0;
	}
	/* A line is stamped with when the call entered, like strace's. */
	uint64_t when = (e == x && x && x->entry_ns) ? x->entry_ns : r->time_ns;

	ts = when >= t->t0 ? (double)(when - t->t0) / 1e9 : 0;
	dec_call(call, sizeof(call), e, x, &t->dec);
	dec_ret(ret, sizeof(ret), x, &t->dec);
	if (t->dec.fd_path && x) {
		const char *fp;

		fd_track(e, x);
		/* strace -y: a returned fd shows its path too */
		if (!dec_is_error(x->ret) && (fp = fd_path(NULL, x->pid, (int)x->ret)) &&
		    (n_is_open(x)))
			snprintf(ret + strlen(ret), sizeof(ret) - strlen(ret), "<%s>", fp);
	}
	t->printed++;
	if (t->json) {
		json_t *args = json_array(), *strs = json_object();
		json_t *j;

		for (int i = 0; i < 6; i++)
			json_array_append_new(args, json_integer((json_int_t)r->args[i]));
		for (int i = 0; i < 6 + TREC_ARGV + 64; i++) {
			const char *s = e ? rec_str(e, i) : NULL;
			char k[24];

			if (s) {
				snprintf(k, sizeof(k), "%s%d", i >= TREC_ARGV ? "argv" : "", i >= TREC_ARGV ? i - TREC_ARGV : i);
				json_object_set_new(strs, k, json_string(s));
			}
		}
		j = json_pack("{s:f, s:i, s:i, s:i, s:s, s:s, s:i, s:b, s:o, s:o, s:s}", "time", ts,
			      "cpu", r->cpu, "pid", r->pid, "tid", r->tid, "comm", r->comm,
			      "syscall", gears_sc__name(r->nr, r->flags & TREC_COMPAT) ?: "?", "nr", r->nr,
			      "compat", !!(r->flags & TREC_COMPAT), "args", args, "strings", strs, "text", call);
		if (x) {
			json_object_set_new(j, "ret", json_integer((json_int_t)x->ret));
			if (dec_is_error(x->ret))
				json_object_set_new(j, "errno", json_string(strerrorname_np((int)-x->ret) ?: "?"));
			if (x->flags & TREC_DENIED)
				json_object_set_new(j, "denied", json_true());
		}
		json_dumpf(j, t->out, JSON_COMPACT);
		fputc('\n', t->out);
		json_decref(j);
		return;
	}
	char dur[32] = "";

	if (t->durations && x) {
		uint64_t in = (e && e != x) ? e->time_ns : x->entry_ns;

		if (in && x->time_ns >= in)
			snprintf(dur, sizeof(dur), " <%.6f>", (double)(x->time_ns - in) / 1e9);
	}
	if (t->plain) {
		FILE *f = out_for(t, r->tid);
		char sig[512];

		/* A handler that made no calls ends with this rt_sigreturn: the
		 * delivery, as strace shows it, right before. */
		if (x)
			sip_track(e, x);
		if (e && !t->sig_records && sip_has(r->pid, e) && dec_signal_line(sig, sizeof(sig), e, &t->dec) &&
		    sip_covers(r->pid, sig, t->sigshow)) {
			if (t->follow && !t->per_proc)
				fprintf(f, "%-5d ", r->tid);
			fprintf(f, "%s\n", sig);
		}
		put_plain(t, f, r, when, call, ret, dur);
		if (x)
			reaped(t, e, x);
		if (x && is_fork(x) && x->ret > 0)
			set_ended((int)x->ret, false);	/* a pid used again */
		if (!x && e && dec_noreturn(e->nr, e->flags & TREC_COMPAT))
			set_ended(e->tid, true);
		/* The process is gone: strace says how. */
		if (!x && e && dec_noreturn(e->nr, e->flags & TREC_COMPAT) && t->quiet < 2 &&
		    (strcmp(gears_sc__name(e->nr, e->flags & TREC_COMPAT) ?: "", "exit") || e->tid == e->pid)) {
			if (t->follow && !t->per_proc)
				fprintf(f, "%-5d ", e->pid);
			fprintf(f, "+++ exited with %d +++\n", (int)(e->args[0] & 0xff));
		}
		return;
	}
	fprintf(t->out, "%11.6f [%u] %6d %-15s %s = %s%s\n", ts, r->cpu, r->tid, r->comm, call, ret, dur);
}

static struct pend *pend_slot(struct tracer *t, int tid, bool create)
{
	unsigned h = (unsigned)tid * 2654435761u % PEND_SLOTS;

	for (int i = 0; i < PEND_SLOTS; i++) {
		struct pend *p = &t->pend[(h + (unsigned)i) % PEND_SLOTS];

		if (p->rec && p->tid == tid)
			return p;
		if (!p->rec)
			return create ? p : NULL;
	}
	return NULL;
}

static struct trace_rec *copy_rec(const struct trace_rec *r)
{
	struct trace_rec *c = malloc(r->size);

	if (c)
		memcpy(c, r, r->size);
	return c;
}

/* An entry waits for its return; a return completes it. */
static void pair(struct tracer *t, const struct trace_rec *r)
{
	struct pend *p;

	if (r->kind == TREC_ENTRY) {
		if (dec_noreturn(r->nr, r->flags & TREC_COMPAT)) {
			emit(t, r, NULL);
			return;
		}
		p = pend_slot(t, r->tid, true);
		if (!p)
			return;
		if (p->rec) {	/* an entry that never returned (execve of a new image...) */
			emit(t, p->rec, NULL);
			free(p->rec);
		}
		p->tid = r->tid;
		p->rec = copy_rec(r);
		return;
	}
	p = pend_slot(t, r->tid, false);
	/* An execve into a 32-bit program returns with the i386 number. */
	if (p && (p->rec->nr == r->nr || is_execve(p->rec)))
		emit(t, p->rec, r);
	else
		emit(t, (r->flags & TREC_FULL) ? r : NULL, r);
	if (p) {
		free(p->rec);
		p->rec = NULL;
		/* Re-insert the followers of this open-addressing run. */
		unsigned i = (unsigned)(p - t->pend);

		for (unsigned k = (i + 1) % PEND_SLOTS; t->pend[k].rec; k = (k + 1) % PEND_SLOTS) {
			struct pend q = t->pend[k];

			t->pend[k].rec = NULL;
			*pend_slot(t, q.tid, true) = q;
		}
	}
}

static void process(struct tracer *t, const struct trace_rec *r)
{
	if (t->cmd_mode && t->root && r->pid == t->root && !t->root_execd) {
		/* The agent's set-up of the command before it execs: not the
		 * command's. Its execve is where strace would start. */
		if (r->kind == TREC_ENTRY && is_execve(r)) {
			struct pend *p = pend_slot(t, r->tid, true);

			if (p) {
				free(p->rec);
				p->tid = r->tid;
				p->rec = copy_rec(r);
			}
			return;
		}
		if (r->kind == TREC_EXIT && is_execve(r) && r->ret == 0)
			t->root_execd = true;	/* falls through: the pair prints */
		else {
			struct pend *p = pend_slot(t, r->tid, false);

			if (p && r->kind == TREC_EXIT) {	/* a failed PATH attempt */
				free(p->rec);
				p->rec = NULL;
			}
			return;
		}
	}
	if (!wanted(t, r))
		return;
	if (r->kind == TREC_SIGNAL) {
		sig_emit(t, r);
		return;
	}
	if (!shown(t, r))
		return;
	pair(t, r);
}

static void hold(struct tracer *t, const struct trace_rec *r)
{
	if (t->nheld >= HOLD_MAX) {
		t->lost++;
		return;
	}
	if (!(t->nheld & (t->nheld - 1)) || !t->held) {
		size_t cap = t->nheld ? t->nheld * 2 : 1024;
		struct trace_rec **nh = realloc(t->held, cap * sizeof(*nh));

		if (!nh) {
			t->lost++;
			return;
		}
		t->held = nh;
	}
	t->held[t->nheld++] = copy_rec(r);
}

static void records(struct tracer *t, const char *data, size_t len)
{
	size_t off = 0;

	while (off + sizeof(struct trace_rec) <= len) {
		const struct trace_rec *r = (const struct trace_rec *)(data + off);

		if (r->size < sizeof(*r) || r->size > len - off || r->size > TREC_MAX)
			break;
		if (t->cmd_mode && !t->root)
			hold(t, r);
		else
			process(t, r);
		off += r->size;
	}
}

static void set_root(struct tracer *t, int pid)
{
	if (t->root)
		return;
	t->root = pid;
	pid_add(t, pid);
	for (size_t i = 0; i < t->nheld; i++) {
		if (t->held[i])
			process(t, t->held[i]);
		free(t->held[i]);
	}
	free(t->held);
	t->held = NULL;
	t->nheld = 0;
}

static void print_summary(struct tracer *t, FILE *f)
{
	uint64_t total_ns = 0, total_calls = 0, total_err = 0;

	for (int c = 0; c < 2; c++)
		for (int i = 0; i < GEARS_SC_NR_WORDS * 64; i++)
			total_ns += t->cnt[c][i].ns;
	fprintf(f, "%% time     seconds  usecs/call     calls    errors syscall\n");
	fprintf(f, "------ ----------- ----------- --------- --------- ----------------\n");
	for (;;) {	/* by time, then calls, descending; or as -S says */
		struct count *best = NULL;
		int bc = 0, bi = 0;
		const char *by = t->sortby ? t->sortby : "time";
		char t1[32], t2[32];

		for (int c = 0; c < 2; c++)
			for (int i = 0; i < GEARS_SC_NR_WORDS * 64; i++) {
				struct count *k = &t->cnt[c][i];
				bool better = !best;

				if (!k->calls)
					continue;
				if (best && !strcmp(by, "calls"))
					better = k->calls > best->calls;
				else if (best && !strcmp(by, "errors"))
					better = k->errors > best->errors;
				else if (best && !strcmp(by, "name"))
					better = strcmp(dec_name(i, c, t1, sizeof(t1)), dec_name(bi, bc, t2, sizeof(t2))) < 0;
				else if (best && strcmp(by, "nothing"))
					better = k->ns > best->ns || (k->ns == best->ns && k->calls > best->calls);
				if (better) {
					best = k;
					bc = c;
					bi = i;
				}
			}
		if (!best)
			break;
		char tmp[32], errs[24] = "";

		if (best->errors)
			snprintf(errs, sizeof(errs), "%" PRIu64, best->errors);
		fprintf(f, "%6.2f %11.6f %11" PRIu64 " %9" PRIu64 " %9s %s\n",
			total_ns ? 100.0 * (double)best->ns / (double)total_ns : 0.0, (double)best->ns / 1e9,
			best->ns / 1000 / best->calls, best->calls, errs, dec_name(bi, bc, tmp, sizeof(tmp)));
		total_calls += best->calls;
		total_err += best->errors;
		best->calls = 0;
	}
	fprintf(f, "------ ----------- ----------- --------- --------- ----------------\n");
	fprintf(f, "100.00 %11.6f %11" PRIu64 " %9" PRIu64 " %9" PRIu64 " total\n", (double)total_ns / 1e9,
		total_calls ? total_ns / 1000 / total_calls : 0, total_calls, total_err);
}

/* ---- talking to the supervisor ---- */

/* -e list -> number sets (64-bit and compat); the server also gets the calls
 * needed to follow children and the command's execve. */
static int parse_syscalls(struct tracer *t, const char *list)
{
	bool neg = list[0] == '!';	/* strace's -e trace=!SET: all but these */
	char *dup = strdup(list + neg), *save = NULL;
	int bad = 0;

	for (char *w = strtok_r(dup, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		char *end;
		long n;

		if (w[0] == '%') {	/* strace's classes: %file, %process, %net... */
			bool any = false;

			for (int nr = 0; nr < GEARS_SC_NR_WORDS * 64; nr++) {
				if (dec_in_class(nr, false, w + 1)) {
					t->show[nr / 64] |= 1ull << (nr % 64);
					any = true;
				}
				if (dec_in_class(nr, true, w + 1))
					t->show32[nr / 64] |= 1ull << (nr % 64);
			}
			if (!any) {
				cli_error("unknown class '%s' (%%file, %%process, %%net, %%memory, %%signal, %%desc, "
					  "%%creds, %%clock, %%stat)", w);
				bad = 1;
			}
			continue;
		}
		n = strtol(w, &end, 0);
		int a = *end ? gears_sc__number(w, false) : (int)n, b = *end ? gears_sc__number(w, true) : -1;

		if (a < 0 && b < 0) {
			cli_error("unknown system call '%s'", w);
			bad = 1;
			continue;
		}
		if (a >= 0 && a < GEARS_SC_NR_WORDS * 64)
			t->show[a / 64] |= 1ull << (a % 64);
		if (b >= 0 && b < GEARS_SC_NR_WORDS * 64)
			t->show32[b / 64] |= 1ull << (b % 64);
	}
	free(dup);
	if (neg)
		for (int i = 0; i < GEARS_SC_NR_WORDS; i++) {
			t->show[i] = ~t->show[i];
			t->show32[i] = ~t->show32[i];
		}
	return bad ? -EINVAL : 0;
}

/* -e signal=SET: strace's syntax (names with or without SIG, numbers, all,
 * none, !SET). */
static int parse_signals(struct tracer *t, const char *list)
{
	bool neg = list[0] == '!';
	char *dup = strdup(list + neg), *save = NULL;
	uint64_t set = 0;
	int bad = 0;

	for (char *w = strtok_r(dup, ",", &save); w && !bad; w = strtok_r(NULL, ",", &save)) {
		char *end, tmp[16];
		long n = strtol(w, &end, 10);
		int sig = 0;

		if (!strcmp(w, "all")) {
			set = ~0ull;
			continue;
		}
		if (!strcmp(w, "none"))
			continue;
		if (!*end && end != w)
			sig = n >= 1 && n <= 64 ? (int)n : 0;
		for (int k = 1; k <= 64 && !sig && *end; k++) {
			const char *nm = dec_signame(k, tmp, sizeof(tmp));

			if (nm && (!strcasecmp(nm, w) || !strcasecmp(nm + 3, w)))
				sig = k;
		}
		if (!sig)
			bad = cli_error("unknown signal '%s'", w);
		else
			set |= 1ull << (sig - 1);
	}
	free(dup);
	t->sigshow = neg ? ~set : set;
	return bad ? -EINVAL : 0;
}

/*
 * -e inject=SET:ACTION[:ACTION...], strace's syntax where it overlaps:
 *   error=ERRNO   skip the call, return -ERRNO (a name like EACCES or a number)
 *   retval=N      skip the call, return N
 * and GEARS' own:
 *   ret=N         run the call, then make it return N
 *   argI=N        run it with argument I (0..5) replaced by N
 */
static int parse_inject(struct tracer *t, const char *spec)
{
	char *dup = strdup(spec), *save = NULL, *set, *act;
	int bad = 0;

	set = strtok_r(dup, ":", &save);
	if (!set || !(act = strtok_r(NULL, "", &save))) {
		free(dup);
		return cli_error("inject needs SET:ACTION (e.g. openat:error=EACCES)");
	}
	if (!t->inject)
		t->inject = json_array();
	for (char *a = strtok_r(act, ":", &save); a && !bad; a = strtok_r(NULL, ":", &save)) {
		char *eq = strchr(a, '=');
		json_t *proto;
		long long v;

		if (!eq) {
			bad = cli_error("inject action '%s' needs =VALUE", a);
			break;
		}
		*eq++ = 0;
		if (!strcmp(a, "error")) {
			v = 0;
			for (int e = 1; e < 4096 && !v; e++)
				if (strerrorname_np(e) && !strcmp(strerrorname_np(e), eq))
					v = e;
			if (!v)
				v = atoll(eq);
			if (v <= 0 || v > 4095) {
				bad = cli_error("unknown errno '%s'", eq);
				break;
			}
			proto = json_pack("{s:I}", "skip", (json_int_t)-v);
		} else if (!strcmp(a, "retval")) {
			proto = json_pack("{s:I}", "skip", (json_int_t)strtoll(eq, NULL, 0));
		} else if (!strcmp(a, "ret")) {
			proto = json_pack("{s:I}", "ret", (json_int_t)strtoll(eq, NULL, 0));
		} else if (!strncmp(a, "arg", 3) && a[3] >= '0' && a[3] <= '5' && !a[4]) {
			proto = json_pack("{s:i, s:I}", "arg", a[3] - '0', "value", (json_int_t)strtoll(eq, NULL, 0));
		} else {
			bad = cli_error("unknown inject action '%s' (error, retval, ret, argN)", a);
			break;
		}
		/* One rule per call in SET, per ABI that has it. */
		char *s2 = strdup(set), *sv = NULL;

		for (char *n = strtok_r(s2, ",", &sv); n; n = strtok_r(NULL, ",", &sv)) {
			int nr64 = gears_sc__number(n, false), nr32 = gears_sc__number(n, true);

			if (nr64 < 0 && nr32 < 0) {
				bad = cli_error("unknown system call '%s'", n);
				break;
			}
			if (nr64 >= 0) {
				json_t *r = json_deep_copy(proto);

				json_object_set_new(r, "nr", json_integer(nr64));
				json_array_append_new(t->inject, r);
			}
			if (nr32 >= 0) {
				json_t *r = json_deep_copy(proto);

				json_object_set_new(r, "nr", json_integer(nr32));
				json_object_set_new(r, "compat", json_true());
				json_array_append_new(t->inject, r);
			}
		}
		free(s2);
		json_decref(proto);
	}
	free(dup);
	return bad ? -EINVAL : 0;
}

static json_t *set_json(const uint64_t *set, bool compat, bool with_follow)
{
	static const char *const follow[] = { "clone", "clone3", "fork", "vfork", "execve", "execveat" };
	json_t *a = json_array();

	for (int i = 0; i < GEARS_SC_NR_WORDS * 64; i++) {
		bool on = set[i / 64] & (1ull << (i % 64));

		for (size_t k = 0; with_follow && !on && k < sizeof(follow) / sizeof(follow[0]); k++) {
			const char *n = gears_sc__name(i, compat);

			on = n && !strcmp(n, follow[k]);
		}
		if (on)
			json_array_append_new(a, json_integer(i));
	}
	return a;
}

static int subscribe(struct tracer *t, struct gears_ctl *c)
{
	json_t *req = json_pack("{s:s, s:b}", "mode", t->mode, "compat", 1);
	char *txt;
	int r;

	if (t->ring_wait_ms >= 0)
		json_object_set_new(req, "ring_wait_ms", json_integer(t->ring_wait_ms));
	json_object_set_new(req, "strsize", json_integer(t->dec.strsize));
	/* Durations cost the guest a second clock read per call: only for -c
	 * and -T. */
	if (t->summary || t->durations)
		json_object_set_new(req, "time", json_true());
	if (t->inject) {
		json_object_set(req, "inject", t->inject);
		json_object_set_new(req, "scope", json_pack("{s:i, s:s}", "pid", t->want_pid,
							    "comm", t->want_comm ?: ""));
	}
	if (!t->show_all) {
		bool fol = t->follow || t->cmd_mode;

		json_object_set_new(req, "syscalls", set_json(t->show, false, fol));
		json_object_set_new(req, "syscalls32", set_json(t->show32, true, fol));
	}
	txt = json_dumps(req, JSON_COMPACT);
	r = gears_ctl__send(c, "TRACE", 1, txt, strlen(txt));
	free(txt);
	json_decref(req);
	return r;
}

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

/* Read frames until the supervisor goes away, or until stopped (attach mode). */
static int pump(struct tracer *t, struct gears_ctl *c, pid_t child)
{
	struct gears_ctl_msg f;
	bool subscribed = false, asked_stats = false;
	int ret = 0;

	for (;;) {
		if (stop_sig && !child && !asked_stats) {
			/* Attach mode: Ctrl-C ends the trace; collect the counters first. */
			gears_ctl__send(c, "UNTRACE", 1, NULL, 0);
			gears_ctl__send(c, "STATS", 2, NULL, 0);
			asked_stats = true;
		}
		int r = gears_ctl__recv(c, &f, 200);

		if (r == 0 || r == -EINTR)
			continue;
		if (r < 0)
			break;
		{
			if (!strcmp(f.type, "EVS")) {
				records(t, f.data, f.len);
			} else if (!strcmp(f.type, "PID")) {
				if (t->cmd_mode)
					set_root(t, atoi(f.data));
			} else if (!strcmp(f.type, "LOST")) {
				t->lost += strtoull(f.data, NULL, 10);
			} else if (!strcmp(f.type, "STATS")) {
				json_decref(t->stats);
				t->stats = json_loads(f.data, 0, NULL);
				if (asked_stats)
					goto done;
			} else if (!strcmp(f.type, "OK") && f.id == 1 && !subscribed) {
				subscribed = true;
				if (child)
					gears_ctl__send(c, "GO", 3, NULL, 0);
				else if (t->announce)
					fprintf(stderr, "gears: trace: attached (%s mode)\n", t->mode);
			} else if (!strcmp(f.type, "FAIL") && f.id == 1) {
				ret = cli_error("trace: %s", f.data);
				goto done;
			}
		}
	}
done:
	return ret;
}

static void report(struct tracer *t)
{
	for (int i = 0; i < PEND_SLOTS; i++) {
		if (t->pend[i].rec) {
			/* Still inside the call when tracing stopped. */
			if (!t->summary && !t->json) {
				char call[8192];

				dec_call(call, sizeof(call), t->pend[i].rec, NULL, &t->dec);
				if (t->plain) {
					put_plain(t, out_for(t, t->pend[i].rec->tid), t->pend[i].rec, t->pend[i].rec->time_ns,
						  call, NULL, "");
					free(t->pend[i].rec);
					t->pend[i].rec = NULL;
					continue;
				}
				fprintf(t->out, "%11s [%u] %6d %-15s %s <unfinished ...>\n", "", t->pend[i].rec->cpu,
					t->pend[i].rec->tid, t->pend[i].rec->comm, call);
			}
			free(t->pend[i].rec);
			t->pend[i].rec = NULL;
		}
	}
	if (t->summary)
		print_summary(t, t->out);
	uint64_t drops = t->stats ? (uint64_t)json_integer_value(json_object_get(t->stats, "ring_drops")) : 0;
	uint64_t tmo = t->stats ? (uint64_t)json_integer_value(json_object_get(t->stats, "sync_timeouts")) : 0;
	uint64_t bad = t->stats ? (uint64_t)json_integer_value(json_object_get(t->stats, "bad_records")) : 0;
	uint64_t late = t->stats ? (uint64_t)json_integer_value(json_object_get(t->stats, "sync_late")) : 0;

	uint64_t sigbad = t->stats ? (uint64_t)json_integer_value(json_object_get(t->stats, "bad_signal_queues")) : 0;

	if (sigbad)
		fprintf(stderr, "gears: trace: %" PRIu64 " pending-signal queues in the guest were malformed or too long:"
			" not followed (deliveries from them not shown)\n", sigbad);
	if (t->lost || drops || tmo || bad || late)
		fprintf(stderr, "gears: trace: %" PRIu64 " records lost (client too slow), %" PRIu64
			" lost in the guest ring (full), %" PRIu64 " calls not waited for (gears too slow, %"
			PRIu64 " of them answered too late: not applied), %" PRIu64 " malformed records skipped\n",
			t->lost, drops, tmo, late, bad);
}

static int attach(struct tracer *t, const char *name)
{
	struct gears_vm *vm = gears_vm__attach(name);
	struct gears_ctl *c;
	int r;

	if (!vm)
		return cli_error("%s", gears_last_error());
	dec_set_kernel(gears_vm__linux(vm));
	c = gears_ctl__open(name, 0);
	if (!c) {
		gears_vm__close(vm);
		return cli_error("VM '%s' has no supervisor to trace through", name);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	t->announce = true;
	r = subscribe(t, c) ?: pump(t, c, 0);
	gears_ctl__close(c);
	report(t);
	dec_set_kernel(NULL);
	gears_vm__close(vm);
	return r;
}

/* Ask the supervisor (INFO) until the guest agent is up. */
static int wait_ready(struct gears_ctl *c, pid_t child)
{
	struct gears_ctl_msg f;
	int ready = -1;

	for (int i = 0; i < 1200 && ready < 0; i++) {
		if (gears_ctl__send(c, "INFO", 9, NULL, 0))
			break;
		int r = gears_ctl__recv(c, &f, 5000);

		if (r < 0 && r != -EINTR)
			break;
		if (r == 1 && !strcmp(f.type, "INFO")) {
			json_t *j = json_loads(f.data, 0, NULL);

			if (json_is_true(json_object_get(j, "agent_ready")))
				ready = 0;
			json_decref(j);
		}
		if (ready < 0) {
			if (waitpid(child, NULL, WNOHANG) == child)
				break;
			usleep(100000);
		}
	}
	return ready;
}

static int run_cmd(struct tracer *t, char **runopts, int nrunopts, char **cmd)
{
	char name[64], self[4096];
	char *argv[64 + 256];
	int n = 0, status = 0;
	struct gears_ctl *c = NULL;
	pid_t child;
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (k <= 0)
		return cli_error("cannot find my own executable");
	self[k] = 0;
	snprintf(name, sizeof(name), "trace-%d", (int)getpid());
	argv[n++] = self;
	argv[n++] = "run";
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--hold";
	for (int i = 0; i < nrunopts && n < 60; i++)
		argv[n++] = runopts[i];
	argv[n++] = "--";
	for (int i = 0; cmd[i] && n < (int)(sizeof(argv) / sizeof(argv[0])) - 1; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	child = fork();
	if (child < 0)
		return cli_error("fork: %s", strerror(errno));
	if (child == 0) {
		execv(self, argv);
		_exit(127);
	}
	/* The guest's Ctrl-C: the supervisor passes it to CMD; we keep reading. */
	signal(SIGINT, SIG_IGN);
	for (int i = 0; i < 1200 && !c; i++) {
		if (waitpid(child, &status, WNOHANG) == child)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
		c = gears_ctl__open(name, 0);
		if (!c)
			usleep(100000);
	}
	if (!c) {
		kill(child, SIGTERM);
		waitpid(child, &status, 0);
		return cli_error("the VM did not come up");
	}
	/* Interception needs a booted kernel: wait for the guest's agent. */
	if (wait_ready(c, child) < 0) {
		gears_ctl__close(c);
		kill(child, SIGTERM);
		waitpid(child, &status, 0);
		return cli_error("the guest did not finish booting");
	}
	struct gears_vm *vm = gears_vm__attach(name);

	if (vm)
		dec_set_kernel(gears_vm__linux(vm));
	int r = subscribe(t, c) ?: pump(t, c, child);

	gears_ctl__close(c);
	if (r)
		kill(child, SIGTERM);
	waitpid(child, &status, 0);
	report(t);
	dec_set_kernel(NULL);
	gears_vm__close(vm);
	if (r)
		return r;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, 0, 'M' }, { "comm", required_argument, 0, 9 },
		{ "json", no_argument, 0, 'j' }, { "pretty", no_argument, 0, 'j' },
		{ "smp", required_argument, 0, 1 }, { "mem", required_argument, 0, 2 },
		{ "kernel", required_argument, 0, 3 }, { "initrd", required_argument, 0, 4 },
		{ "append", required_argument, 0, 5 }, { "accel", required_argument, 0, 6 },
		{ "ring-wait", required_argument, 0, 'W' },
		{ "strace-format", no_argument, 0, 7 }, { "gears-format", no_argument, 0, 8 },
		{ 0, 0, 0, 0 }
	};
	static const char *const runflag[] = { NULL, "--smp", "--mem", "--kernel", "--initrd", "--append", "--accel" };
	static struct tracer t;
	char *runopts[16];
	int nrun = 0, c, dd = -1, r;
	const char *name = NULL, *outfile = NULL;

	memset(&t, 0, sizeof(t));
	t.mode = "ring";
	t.plain = -1;
	dec_opts_init(&t.dec);
	t.show_all = true;
	t.sigshow = ~0ull;
	t.ring_wait_ms = -1;
	t.out = stderr;	/* like strace: the program's own output stays on stdout */
	t.json = json_mode;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dd = i;
			break;
		}
	int pargc = dd > 0 ? dd : argc;

	optind = 1;
	while ((c = getopt_long(pargc, argv, "e:p:fco:jTs:vxtrzZqCwS:P:y", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			if (strcmp(optarg, "exit") && strcmp(optarg, "filter") && strcmp(optarg, "ring"))
				return cli_error("--mode is exit, filter or ring");
			t.mode = optarg;
			break;
		case 'e':
			if (!strncmp(optarg, "status=", 7)) {
				bool ok = strstr(optarg, "successful"), bad = strstr(optarg, "failed");

				t.status = ok && !bad ? 1 : bad && !ok ? 2 : 0;
				break;
			}
			if (!strncmp(optarg, "signal=", 7) || !strncmp(optarg, "signals=", 8)) {
				if (parse_signals(&t, strchr(optarg, '=') + 1))
					return 1;
				break;
			}
			if (!strncmp(optarg, "abbrev=", 7) || !strncmp(optarg, "verbose=", 8) || !strncmp(optarg, "raw=", 4))
				break;	/* accepted as strace's */
			if (!strncmp(optarg, "inject=", 7)) {
				if (parse_inject(&t, optarg + 7))
					return 1;
				break;
			}
			t.show_all = false;
			if (parse_syscalls(&t, !strncmp(optarg, "trace=", 6) ? optarg + 6 : optarg))
				return 1;
			break;
		case 'p': t.want_pid = atoi(optarg); pid_add(&t, t.want_pid); break;
		case 9: t.want_comm = optarg; break;
		case 'f':
			if (t.follow)
				t.per_proc = true;	/* -ff */
			t.follow = true;
			break;
		case 't': t.tstamp++; break;
		case 'r': t.relative = true; break;
		case 'z': t.status = 1; break;
		case 'Z': t.status = 2; break;
		case 'q': t.quiet++; break;
		case 'C': t.summary = t.with_lines = true; break;
		case 'w': t.wall = true; break;
		case 'S':
			if (strcmp(optarg, "time") && strcmp(optarg, "calls") && strcmp(optarg, "errors") &&
			    strcmp(optarg, "name") && strcmp(optarg, "nothing"))
				return cli_error("-S sorts by time, calls, errors, name or nothing");
			t.sortby = optarg;
			break;
		case 'P': t.only_path = optarg; break;
		case 'y': t.dec.fd_path = fd_path; t.dec.fd_ctx = &t; break;
		case 7: t.plain = 1; break;
		case 8: t.plain = 0; break;
		case 'c': t.summary = true; break;
		case 'T': t.durations = true; break;
		case 's':
			t.dec.strsize = (unsigned)atoi(optarg);
			if (!t.dec.strsize || t.dec.strsize > 4096)
				return cli_error("-s takes 1..4096");
			break;
		case 'v': t.dec.verbose = true; break;
		case 'x': t.dec.xstyle++; break;
		case 'W': t.ring_wait_ms = atoi(optarg); break;
		case 'o': outfile = optarg; break;
		case 'j': t.json = true; break;
		case 1: case 2: case 3: case 4: case 5: case 6:
			if (nrun < 14) {
				runopts[nrun++] = (char *)runflag[c];
				runopts[nrun++] = optarg;
			}
			break;
		default:
			return cli_usage(&cmd_trace, stderr);
		}
	}
	if (optind < pargc)
		name = argv[optind];
	if ((dd > 0) == (name != NULL) || (dd > 0 && dd + 1 >= argc))
		return cli_usage(&cmd_trace, stderr);
	t.outfile = outfile;
	t.sig_records = strcmp(t.mode, "ring") != 0;
	if (t.per_proc && !outfile)
		t.per_proc = false;	/* -ff without -o: as -f, like strace */
	if (t.plain < 0)	/* strace's lines when tracing one command */
		t.plain = dd > 0;
	if (outfile && !t.per_proc && !(t.out = fopen(outfile, "w")))
		return cli_error("cannot write %s: %s", outfile, strerror(errno));
	if (dd > 0) {
		t.cmd_mode = true;
		r = run_cmd(&t, runopts, nrun, argv + dd + 1);
	} else {
		r = attach(&t, name);
	}
	if (t.out != stderr)
		fclose(t.out);
	json_decref(t.stats);
	json_decref(t.inject);
	return r;
}

const struct gears_cmd cmd_trace = {
	.name = "trace",
	.args = "[--mode exit|filter|ring] [-e SYSCALL,...] [-p PID] [--comm NAME] [-f] [-c] [-o FILE] "
		"[--json] (NAME | -- CMD ARGS...)",
	.summary = "trace the system calls of a whole VM, or of CMD in a fresh one, from outside",
	.run = run,
	.help = help,
};
