// SPDX-License-Identifier: MIT
/* Processes: execve's vectors, clone, wait, prctl, arch_prctl, limits,
 * uname, rusage, sysinfo, getrandom. */
#include <linux/resource.h>
#include <linux/sysinfo.h>
#include <linux/utsname.h>
#include <linux/wait.h>

#include <stdio.h>
#include <string.h>

#include <gears/syscall.h>

#include "decode_int.h"

/* ["sh", "-c", "..."]: -s elements at most, each -s bytes at most. */
void p_argv(struct dec_ctx *c, int i)
{
	const char *s;
	unsigned k;

	if (!rec_str(c->e, TREC_ARGV) && !rec_str(c->x, TREC_ARGV)) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "[");
	for (k = 0; (s = rec_str(c->e, TREC_ARGV + (int)k) ?: rec_str(c->x, TREC_ARGV + (int)k)); k++) {
		size_t n = strlen(s);

		if (k)
			out_str(c->o, ", ");
		if (k >= c->opt->strsize) {
			out_str(c->o, "...");
			break;
		}
		out_quoted(c->o, s, n < c->opt->strsize ? n : c->opt->strsize, n > c->opt->strsize, c->opt->xstyle);
	}
	out_str(c->o, "]");
}

/* 0x7ffd5d0c3a28 / * 5 vars * / */
void p_envp(struct dec_ctx *c, int i)
{
	const uint32_t *n = ctx_struct(c, DEC_SLOT_ENV, false, sizeof(uint32_t));

	p_ptr(c, i);
	if (n)
		out_put(c->o, " /* %u var%s */", *n, *n == 1 ? "" : "s");
}

void c_envp(struct dec_cap *c, int i)
{
	uint32_t n = 0;
	uint64_t p = 1;

	if (c->exit || !c->args[i])
		return;
	while (n < 65536 && !c->read(c->ctx, c->args[i] + 8ull * n, &p, 8) && p)
		n++;
	if (!p)
		c->put(c->ctx, DEC_BLOB | DEC_SLOT_ENV, &n, sizeof(n));
}

/* clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD,
 * child_tidptr=0x...): x86-64 order flags, stack, parent_tid, child_tid, tls. */
void p_cloneflags(struct dec_ctx *c, int i)
{
	uint64_t f = c->a[0];
	unsigned sig = f & 0xff;	/* CSIGNAL */
	char tmp[16];

	out_str(c->o, "child_stack=");
	out_ptr(c->o, c->a[1]);
	out_str(c->o, ", flags=");
	if (f & ~0xffull)
		out_flags(c->o, &xl_clone_flags, f & ~0xffull, NULL);
	if (sig)
		out_put(c->o, "%s%s", (f & ~0xffull) ? "|" : "", dec_signame((int)sig, tmp, sizeof(tmp)) ?: "?");
	else if (!(f & ~0xffull))
		out_str(c->o, "0");
	if (f & xl_value(&xl_clone_flags, "CLONE_PARENT_SETTID")) {
		const int32_t *t = ctx_ok(c) ? ctx_struct(c, 2, true, sizeof(int32_t)) : NULL;

		if (t)
			out_put(c->o, ", parent_tid=[%d]", *t);
		else {
			out_str(c->o, ", parent_tid=");
			out_ptr(c->o, c->a[2]);
		}
	}
	if (f & xl_value(&xl_clone_flags, "CLONE_SETTLS")) {
		out_str(c->o, ", tls=");
		out_ptr(c->o, c->a[4]);
	}
	if (f & (xl_value(&xl_clone_flags, "CLONE_CHILD_SETTID") | xl_value(&xl_clone_flags, "CLONE_CHILD_CLEARTID"))) {
		out_str(c->o, ", child_tidptr=");
		out_ptr(c->o, c->a[3]);
	}
	(void)i;
}

void out_wstatus(struct dec_out *o, int st)
{
	char tmp[16];
	int sig = st & 0x7f;

	out_str(o, "[{");
	if (sig == 0) {
		out_put(o, "WIFEXITED(s) && WEXITSTATUS(s) == %d", (st >> 8) & 0xff);
	} else if (sig == 0x7f) {
		if (st == 0xffff)
			out_str(o, "WIFCONTINUED(s)");
		else
			out_put(o, "WIFSTOPPED(s) && WSTOPSIG(s) == %s", dec_signame((st >> 8) & 0xff, tmp, sizeof(tmp)) ?: "?");
	} else {
		out_put(o, "WIFSIGNALED(s) && WTERMSIG(s) == %s%s", dec_signame(sig, tmp, sizeof(tmp)) ?: "?",
			(st & 0x80) ? " && WCOREDUMP(s)" : "");
	}
	out_str(o, "}");
	if ((unsigned)st >> 16 && sig == 0x7f && st != 0xffff)
		out_put(o, " | %#x", (unsigned)st & ~0xffffu);
	out_str(o, "]");
}

void p_wstatus(struct dec_ctx *c, int i)
{
	const int32_t *st = ctx_ok(c) && c->ret > 0 ? ctx_struct(c, i, true, sizeof(int32_t)) : NULL;

	if (st)
		out_wstatus(c->o, *st);
	else
		p_ptr(c, i);
}

void c_wstatus(struct dec_cap *c, int i)
{
	if (c->exit && c->ret > 0)
		cap_struct(c, i, sizeof(int32_t));
}

bool dec_reaped(const struct trace_rec *e, const struct trace_rec *x, int *pid, int *status)
{
	const char *n = x ? gears_sc__name(x->nr, x->flags & TREC_COMPAT) : NULL;
	struct dec_ctx c = { .e = e, .x = x, .exited = true, .ret = x ? x->ret : 0 };
	const int32_t *st;

	if (!n || (strcmp(n, "wait4") && strcmp(n, "waitpid")) || x->ret <= 0 || x->ret > INT32_MAX ||
	    !(st = ctx_struct(&c, 1, true, sizeof(int32_t))))
		return false;
	*pid = (int)x->ret;
	*status = *st;
	return true;
}

void p_woptions(struct dec_ctx *c, int i) { out_flags(c->o, &xl_wait_options, (unsigned)c->a[i], "0"); }
void p_idtype(struct dec_ctx *c, int i) { out_value(c->o, &xl_idtypes, (unsigned)c->a[i], "%#llx /* P_??? */"); }

void p_prctl(struct dec_ctx *c, int i) { out_value(c->o, &xl_prctl_options, (unsigned)c->a[i], "%#llx /* PR_??? */"); }

static bool is_opt(const struct dec_ctx *c, const char *name)
{
	const char *n = xl_name(&xl_prctl_options, (unsigned)c->a[0]);

	return n && !strcmp(n, name);
}

/* The rest of prctl's arguments, by option. */
void p_prctlarg(struct dec_ctx *c, int i)
{
	static const char *const none[] = {
		"PR_GET_DUMPABLE", "PR_GET_KEEPCAPS", "PR_GET_TIMING", "PR_GET_SECCOMP", "PR_GET_SECUREBITS",
		"PR_GET_TIMERSLACK", "PR_GET_NO_NEW_PRIVS", "PR_GET_THP_DISABLE", "PR_TASK_PERF_EVENTS_DISABLE",
		"PR_TASK_PERF_EVENTS_ENABLE", "PR_GET_IO_FLUSHER", "PR_GET_MEMORY_MERGE",
	};
	char tmp[16];

	for (size_t k = 0; k < sizeof(none) / sizeof(none[0]); k++)
		if (is_opt(c, none[k])) {
			c->o->len -= c->o->len >= 2 ? 2 : 0;	/* the ", " before */
			c->o->b[c->o->len] = 0;
			return;
		}
	if (is_opt(c, "PR_SET_NAME") || is_opt(c, "PR_GET_NAME")) {
		bool get = is_opt(c, "PR_GET_NAME");
		size_t len = 0;
		const char *s = (!get || ctx_ok(c)) ? ctx_blob(c, i, get, &len) : NULL;

		if (s)
			out_quoted(c->o, s, strnlen(s, len), false, c->opt->xstyle);
		else
			p_ptr(c, i);
		return;
	}
	if (is_opt(c, "PR_SET_PDEATHSIG")) {
		out_str(c->o, dec_signame((int)c->a[i], tmp, sizeof(tmp)) ?: "0");
		return;
	}
	if (is_opt(c, "PR_SET_DUMPABLE") || is_opt(c, "PR_SET_KEEPCAPS") || is_opt(c, "PR_SET_CHILD_SUBREAPER") ||
	    is_opt(c, "PR_SET_TIMERSLACK")) {
		out_put(c->o, "%llu", (unsigned long long)c->a[i]);
		return;
	}
	for (int k = i; k < 5; k++)
		out_put(c->o, "%s%#llx", k > i ? ", " : "", (unsigned long long)c->a[k]);
}

void c_prctlarg(struct dec_cap *c, int i)
{
	unsigned long long set = xl_value(&xl_prctl_options, "PR_SET_NAME");
	unsigned long long get = xl_value(&xl_prctl_options, "PR_GET_NAME");

	if ((c->args[0] == set && !c->exit) || (c->args[0] == get && c->exit && c->ret == 0))
		cap_struct(c, i, 16);	/* TASK_COMM_LEN */
}

void p_archprctl(struct dec_ctx *c, int i) { out_value(c->o, &xl_arch_prctl, (unsigned)c->a[i], "%#llx /* ARCH_??? */"); }

void p_archprctlarg(struct dec_ctx *c, int i)
{
	const char *n = xl_name(&xl_arch_prctl, (unsigned)c->a[0]);
	const uint64_t *v;

	if (n && (!strcmp(n, "ARCH_GET_FS") || !strcmp(n, "ARCH_GET_GS")) &&
	    (v = ctx_ok(c) ? ctx_struct(c, i, true, 8) : NULL)) {
		out_put(c->o, "[%#llx]", (unsigned long long)*v);
		return;
	}
	p_ptr(c, i);
}

void c_archprctlarg(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0 && (c->args[0] == xl_value(&xl_arch_prctl, "ARCH_GET_FS") ||
				       c->args[0] == xl_value(&xl_arch_prctl, "ARCH_GET_GS")))
		cap_struct(c, i, 8);
}

void p_rlimres(struct dec_ctx *c, int i) { out_value(c->o, &xl_rlimits, (unsigned)c->a[i], "%#llx /* RLIMIT_??? */"); }

static void out_rlim(struct dec_out *o, uint64_t v, bool is64)
{
	if (v == ~0ull)
		out_str(o, is64 ? "RLIM64_INFINITY" : "RLIM_INFINITY");
	else if (v > 1024 && v % 1024 == 0)
		out_put(o, "%llu*1024", (unsigned long long)v / 1024);
	else
		out_put(o, "%llu", (unsigned long long)v);
}

static void out_rlimit(struct dec_ctx *c, int i, bool exit)
{
	const uint64_t *r = (!exit || ctx_ok(c)) ? ctx_struct(c, i, exit, 16) : NULL;
	bool is64 = c->name && !strcmp(c->name, "prlimit64");

	if (!r) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "{rlim_cur=");
	out_rlim(c->o, r[0], is64);
	out_str(c->o, ", rlim_max=");
	out_rlim(c->o, r[1], is64);
	out_str(c->o, "}");
}

void p_rlim_in(struct dec_ctx *c, int i) { out_rlimit(c, i, false); }
void c_rlim_in(struct dec_cap *c, int i)
{
	if (!c->exit)
		cap_struct(c, i, 16);
}
void p_rlim_out(struct dec_ctx *c, int i) { out_rlimit(c, i, true); }
void c_rlim_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, 16);
}

static void out_field(struct dec_out *o, const char *name, const char *v, size_t max, bool comma, int xs)
{
	out_put(o, "%s%s=", comma ? ", " : "", name);
	out_quoted(o, v, strnlen(v, max), false, xs);
}

void p_utsname(struct dec_ctx *c, int i)
{
	const struct new_utsname *u = ctx_ok(c) ? ctx_struct(c, i, true, sizeof(*u)) : NULL;
	int xs = c->opt->xstyle;

	if (!u) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "{");
	out_field(c->o, "sysname", u->sysname, sizeof(u->sysname), false, xs);
	out_field(c->o, "nodename", u->nodename, sizeof(u->nodename), true, xs);
	if (!c->opt->verbose) {
		out_str(c->o, ", ...}");
		return;
	}
	out_field(c->o, "release", u->release, sizeof(u->release), true, xs);
	out_field(c->o, "version", u->version, sizeof(u->version), true, xs);
	out_field(c->o, "machine", u->machine, sizeof(u->machine), true, xs);
	out_field(c->o, "domainname", u->domainname, sizeof(u->domainname), true, xs);
	out_str(c->o, "}");
}

void c_utsname(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, sizeof(struct new_utsname));
}

void p_rusagewho(struct dec_ctx *c, int i) { out_value(c->o, &xl_rusage_who, (unsigned)(int)c->a[i], "%lld"); }

void p_rusage(struct dec_ctx *c, int i)
{
	const struct rusage *r = ctx_ok(c) ? ctx_struct(c, i, true, sizeof(*r)) : NULL;

	if (!r) {
		p_ptr(c, i);
		return;
	}
	out_put(c->o, "{ru_utime={tv_sec=%lld, tv_usec=%lld}, ru_stime={tv_sec=%lld, tv_usec=%lld}, ",
		(long long)r->ru_utime.tv_sec, (long long)r->ru_utime.tv_usec, (long long)r->ru_stime.tv_sec,
		(long long)r->ru_stime.tv_usec);
	if (!c->opt->verbose) {
		out_str(c->o, "...}");
		return;
	}
	out_put(c->o, "ru_maxrss=%ld, ru_ixrss=%ld, ru_idrss=%ld, ru_isrss=%ld, ru_minflt=%ld, ru_majflt=%ld, "
		"ru_nswap=%ld, ru_inblock=%ld, ru_oublock=%ld, ru_msgsnd=%ld, ru_msgrcv=%ld, ru_nsignals=%ld, "
		"ru_nvcsw=%ld, ru_nivcsw=%ld}", (long)r->ru_maxrss, (long)r->ru_ixrss, (long)r->ru_idrss,
		(long)r->ru_isrss, (long)r->ru_minflt, (long)r->ru_majflt, (long)r->ru_nswap, (long)r->ru_inblock,
		(long)r->ru_oublock, (long)r->ru_msgsnd, (long)r->ru_msgrcv, (long)r->ru_nsignals,
		(long)r->ru_nvcsw, (long)r->ru_nivcsw);
}

void c_rusage(struct dec_cap *c, int i)
{
	if (c->exit && c->ret >= 0)
		cap_struct(c, i, sizeof(struct rusage));
}

void p_sysinfo(struct dec_ctx *c, int i)
{
	const struct sysinfo *s = ctx_ok(c) ? ctx_struct(c, i, true, sizeof(*s)) : NULL;

	if (!s) {
		p_ptr(c, i);
		return;
	}
	out_put(c->o, "{uptime=%lld, loads=[%llu, %llu, %llu], totalram=%llu, freeram=%llu, sharedram=%llu, "
		"bufferram=%llu, totalswap=%llu, freeswap=%llu, procs=%u, totalhigh=%llu, freehigh=%llu, "
		"mem_unit=%u}", (long long)s->uptime, (unsigned long long)s->loads[0],
		(unsigned long long)s->loads[1], (unsigned long long)s->loads[2],
		(unsigned long long)s->totalram, (unsigned long long)s->freeram,
		(unsigned long long)s->sharedram, (unsigned long long)s->bufferram,
		(unsigned long long)s->totalswap, (unsigned long long)s->freeswap, s->procs,
		(unsigned long long)s->totalhigh, (unsigned long long)s->freehigh, s->mem_unit);
}

void c_sysinfo(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, sizeof(struct sysinfo));
}

void p_sched_policy(struct dec_ctx *c, int i) { out_value(c->o, &xl_sched_policy, (unsigned)c->a[i], "%#llx /* SCHED_??? */"); }
void p_grnd(struct dec_ctx *c, int i) { out_flags(c->o, &xl_grnd_flags, (unsigned)c->a[i], "0"); }
void p_rseqflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_rseq_flags, (unsigned)c->a[i], "0"); }
void p_tidptr(struct dec_ctx *c, int i) { p_ptr(c, i); }
void p_priowhich(struct dec_ctx *c, int i) { out_value(c->o, &xl_prio_which, (unsigned)c->a[i], "%#llx /* PRIO_??? */"); }

/* getrandom's bytes: always in hex, as strace prints them. */
void p_random_out(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const void *b = ctx_ok(c) ? ctx_blob(c, i, true, &len) : NULL;

	if (b)
		out_data(c, b, len, (uint64_t)c->ret, 2);
	else
		p_ptr(c, i);
}

void c_random_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret > 0)
		cap_struct(c, i, (size_t)((uint64_t)c->ret < c->strsize ? (uint64_t)c->ret : c->strsize));
}
