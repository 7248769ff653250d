// SPDX-License-Identifier: MIT
/* Signals: names, sets, sigaction, sigaltstack. */
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>	/* the signal frame rt_sigreturn restores */
#include <asm/siginfo.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <gears/syscall.h>

#include "decode_int.h"

#define KNSIG 64	/* the kernel's _NSIG on x86-64 */

/* SIGCHLD; the real-time ones as strace names them: SIGRTMIN (the kernel's
 * first, 32), SIGRT_1... */
const char *dec_signame(int sig, char *tmp, size_t size)
{
	unsigned long long rtmin = 0;
	const char *n;

	for (size_t i = 0; i < xl_signals.n; i++)
		if (xl_signals.e[i].v > rtmin)
			rtmin = xl_signals.e[i].v;
	rtmin++;	/* right after the last classic signal */
	if (sig <= 0 || sig > KNSIG)
		return NULL;
	if ((n = xl_name(&xl_signals, (unsigned)sig)))
		return n;
	if ((unsigned)sig == rtmin)
		snprintf(tmp, size, "SIGRTMIN");
	else
		snprintf(tmp, size, "SIGRT_%d", sig - (int)rtmin);
	return tmp;
}

void p_sig(struct dec_ctx *c, int i)
{
	char tmp[16];
	const char *n = dec_signame((int)c->a[i], tmp, sizeof(tmp));

	if (n)
		out_str(c->o, n);
	else
		out_put(c->o, "%d", (int)c->a[i]);
}

/* [CHLD INT], or ~[...] when more than half are set. */
void out_sigset(struct dec_out *o, const uint64_t *mask, size_t bytes)
{
	unsigned nsig = bytes * 8 < KNSIG ? (unsigned)bytes * 8 : KNSIG, set = 0;
	uint64_t m = *mask & (nsig >= 64 ? ~0ull : (1ull << nsig) - 1);
	bool inv;
	char tmp[16];

	for (unsigned s = 0; s < nsig; s++)
		set += (m >> s) & 1;
	inv = set * 2 > nsig;
	if (inv)
		m = ~m & (nsig >= 64 ? ~0ull : (1ull << nsig) - 1);
	out_str(o, inv ? "~[" : "[");
	for (unsigned s = 0, first = 1; s < nsig; s++) {
		if (!((m >> s) & 1))
			continue;
		out_put(o, "%s%s", first ? "" : " ", dec_signame((int)s + 1, tmp, sizeof(tmp)) + 3);
		first = 0;
	}
	out_str(o, "]");
}

static size_t setsize(const struct dec_ctx *c, int i)
{
	uint64_t n = c->a[i + 1];

	/* rt_sigprocmask(how, set, old, size), rt_sigpending(set, size),
	 * rt_sigsuspend(set, size), ppoll(.., set, size): the size follows
	 * the set, or comes after the old set. */
	if (c->name && !strcmp(c->name, "rt_sigprocmask"))
		n = c->a[3];
	else if (c->name && !strcmp(c->name, "rt_sigtimedwait"))
		n = c->a[3];
	return n == 8 ? 8 : 0;
}

static void out_set(struct dec_ctx *c, int i, bool exit)
{
	const uint64_t *m = (!exit || ctx_ok(c)) ? ctx_struct(c, i, exit, 8) : NULL;

	if (m && setsize(c, i))
		out_sigset(c->o, m, 8);
	else
		p_ptr(c, i);
}

static void cap_set(struct dec_cap *c, int i, bool exit)
{
	if (c->exit == exit && (!exit || c->ret == 0))
		cap_struct(c, i, 8);
}

void p_sigset_in(struct dec_ctx *c, int i) { out_set(c, i, false); }
void c_sigset_in(struct dec_cap *c, int i) { cap_set(c, i, false); }
void p_sigset_out(struct dec_ctx *c, int i) { out_set(c, i, true); }
void c_sigset_out(struct dec_cap *c, int i) { cap_set(c, i, true); }

void p_sighow(struct dec_ctx *c, int i) { out_value(c->o, &xl_sigprocmask_how, (unsigned)c->a[i], "%#llx /* SIG_??? */"); }

/* The kernel's struct sigaction for rt_sigaction on x86-64. */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static void out_sigact(struct dec_ctx *c, int i, bool exit)
{
	const struct ksigaction *a = (!exit || ctx_ok(c)) ? ctx_struct(c, i, exit, sizeof(*a)) : NULL;
	const char *h;

	if (!a) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "{sa_handler=");
	if ((h = xl_name(&xl_sa_handlers, a->handler)))
		out_str(c->o, h);
	else
		out_ptr(c->o, a->handler);
	out_str(c->o, ", sa_mask=");
	out_sigset(c->o, &a->mask, 8);
	out_str(c->o, ", sa_flags=");
	out_flags(c->o, &xl_sa_flags, a->flags, "0");
	if (a->flags & xl_value(&xl_sa_flags, "SA_RESTORER")) {
		out_str(c->o, ", sa_restorer=");
		out_ptr(c->o, a->restorer);
	}
	out_str(c->o, "}");
}

void p_sigact_in(struct dec_ctx *c, int i) { out_sigact(c, i, false); }
void c_sigact_in(struct dec_cap *c, int i)
{
	if (!c->exit)
		cap_struct(c, i, sizeof(struct ksigaction));
}
void p_sigact_out(struct dec_ctx *c, int i) { out_sigact(c, i, true); }
void c_sigact_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, sizeof(struct ksigaction));
}

/* stack_t: ss_sp, ss_flags (int, padded), ss_size. */
struct kstack {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

static void out_stack(struct dec_ctx *c, int i, bool exit)
{
	const struct kstack *s = (!exit || ctx_ok(c)) ? ctx_struct(c, i, exit, sizeof(*s)) : NULL;

	if (!s) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "{ss_sp=");
	out_ptr(c->o, s->sp);
	out_str(c->o, ", ss_flags=");
	out_flags(c->o, &xl_ss_flags, (unsigned)s->flags, "0");
	out_put(c->o, ", ss_size=%llu}", (unsigned long long)s->size);
}

void p_stack_in(struct dec_ctx *c, int i) { out_stack(c, i, false); }
void c_stack_in(struct dec_cap *c, int i)
{
	if (!c->exit)
		cap_struct(c, i, sizeof(struct kstack));
}
void p_stack_out(struct dec_ctx *c, int i) { out_stack(c, i, true); }
void c_stack_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, sizeof(struct kstack));
}

/* rt_sigreturn({mask=[...]}): the mask it restores, from the frame's ucontext
 * at the caller's stack pointer (the handler's `ret` popped pretcode). */
void p_sigreturn(struct dec_ctx *c, int i)
{
	const uint64_t *m = ctx_struct(c, i, false, 8);

	(void)i;
	if (!m)
		return;
	out_str(c->o, "{mask=");
	out_sigset(c->o, m, 8);
	out_str(c->o, "}");
}

/* The frame (x86's rt_sigframe, at sp - 8 when rt_sigreturn is called):
 * pretcode, struct ucontext, then the siginfo of the delivery. */
#define DEC_SLOT_SIGINFO 1

void c_sigreturn(struct dec_cap *c, int i)
{
	if (c->exit || !c->sp)
		return;
	cap_mem(c, i, c->sp + offsetof(struct ucontext, uc_sigmask), 8);
	cap_mem(c, DEC_SLOT_SIGINFO, c->sp + sizeof(struct ucontext), sizeof(siginfo_t));
}

/* strace's signal line for the delivery whose handler this rt_sigreturn
 * ends: "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---". */
bool dec_signal_line(char *buf, size_t size, const struct trace_rec *e, const struct dec_opts *opt)
{
	struct dec_out o = { buf, size, 0 };
	struct dec_ctx c = { .o = &o, .opt = opt, .e = e };
	const siginfo_t *si;
	const char *name = e ? gears_sc__name(e->nr, e->flags & TREC_COMPAT) : NULL;
	char tmp[16];
	const char *sn, *code;

	buf[0] = 0;
	if (!name || strcmp(name, "rt_sigreturn") ||
	    !(si = ctx_struct(&c, DEC_SLOT_SIGINFO, false, sizeof(siginfo_t))))
		return false;
	if (!(sn = dec_signame(si->si_signo, tmp, sizeof(tmp))))
		return false;
	out_put(&o, "--- %s {si_signo=%s, si_code=", sn, sn);
	code = si->si_signo == SIGCHLD && si->si_code > 0 ? xl_name(&xl_cld_codes, (unsigned)si->si_code)
							     : xl_name(&xl_si_codes, (unsigned long long)(long long)si->si_code);
	if (code)
		out_str(&o, code);
	else
		out_put(&o, "%d", si->si_code);
	if (si->si_signo == SIGCHLD && si->si_code > 0) {
		out_put(&o, ", si_pid=%d, si_uid=%u, si_status=", si->si_pid, si->si_uid);
		if (si->si_code == CLD_EXITED)
			out_put(&o, "%d", si->si_status);
		else
			out_str(&o, dec_signame(si->si_status, tmp, sizeof(tmp)) ?: "0");
		/* clock ticks, USER_HZ = 100 on x86 (asm/param.h) */
		out_put(&o, ", si_utime=%lld", (long long)si->si_utime);
		if (si->si_utime)
			out_put(&o, " /* %lld.%02lld s */", (long long)si->si_utime / 100, (long long)si->si_utime % 100);
		out_put(&o, ", si_stime=%lld", (long long)si->si_stime);
		if (si->si_stime)
			out_put(&o, " /* %lld.%02lld s */", (long long)si->si_stime / 100, (long long)si->si_stime % 100);
	} else if (si->si_code == SI_USER || si->si_code == SI_TKILL || si->si_code == SI_QUEUE) {
		out_put(&o, ", si_pid=%d, si_uid=%u", si->si_pid, si->si_uid);
	} else if (si->si_signo == SIGSEGV || si->si_signo == SIGBUS || si->si_signo == SIGILL ||
		   si->si_signo == SIGFPE) {
		out_put(&o, ", si_addr=");
		out_ptr(&o, (uint64_t)(uintptr_t)si->si_addr);
	}
	out_str(&o, "} ---");
	return true;
}

int dec_sigaction_set(const struct trace_rec *e, const struct trace_rec *x, bool *siginfo)
{
	struct dec_ctx c = { .e = e, .x = x };
	const char *name = e ? gears_sc__name(e->nr, e->flags & TREC_COMPAT) : NULL;
	const struct ksigaction *a;

	if (!name || strcmp(name, "rt_sigaction") || !x || x->ret != 0 ||
	    !(a = ctx_struct(&c, 1, false, sizeof(*a))))
		return 0;
	*siginfo = a->flags & xl_value(&xl_sa_flags, "SA_SIGINFO");
	return (int)e->args[0];
}
