// SPDX-License-Identifier: MIT
/* Signals: names, sets, sigaction, sigaltstack. */
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>	/* the signal frame rt_sigreturn restores */
#include <asm/siginfo.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <gears/linux.h>
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

/* strace's "{si_signo=SIGCHLD, si_code=CLD_EXITED, ...}" of a siginfo. */
static void out_siginfo(struct dec_out *o, const siginfo_t *si, const char *sn)
{
	const struct xlat *codes = NULL;
	const char *code = NULL, *en;
	char tmp[16];

	out_put(o, "{si_signo=%s", sn);
	if (si->si_errno) {
		en = si->si_errno > 0 ? xl_name(&xl_errnos, (unsigned)si->si_errno) : NULL;
		if (en)
			out_put(o, ", si_errno=%s", en);
		else
			out_put(o, ", si_errno=%d", si->si_errno);
	}
	/* si_code > 0: the kernel's own codes, per signal; <= 0 (and SI_KERNEL): generic */
	if (si->si_code > 0 && si->si_code != SI_KERNEL) {
		switch (si->si_signo) {
		case SIGCHLD: codes = &xl_cld_codes; break;
		case SIGSEGV: codes = &xl_segv_codes; break;
		case SIGBUS: codes = &xl_bus_codes; break;
		case SIGILL: codes = &xl_ill_codes; break;
		case SIGFPE: codes = &xl_fpe_codes; break;
		case SIGTRAP: codes = &xl_trap_codes; break;
		default: break;
		}
		code = codes ? xl_name(codes, (unsigned)si->si_code) : NULL;
	} else {
		code = xl_name(&xl_si_codes, (unsigned long long)(long long)si->si_code);
	}
	out_str(o, ", si_code=");
	if (code)
		out_str(o, code);
	else
		out_put(o, "%d", si->si_code);
	if (si->si_code <= 0) {	/* sent by a process (SI_FROMUSER) */
		switch (si->si_code) {
		case SI_TIMER:
			out_put(o, ", si_timerid=%#x, si_overrun=%d, si_int=%d, si_ptr=", (unsigned)si->si_tid,
				si->si_overrun, si->si_int);
			out_ptr(o, (uint64_t)(uintptr_t)si->si_ptr);
			break;
		case SI_QUEUE:
		case SI_MESGQ:
		case SI_ASYNCIO:
			out_put(o, ", si_pid=%d, si_uid=%u, si_int=%d, si_ptr=", si->si_pid, si->si_uid, si->si_int);
			out_ptr(o, (uint64_t)(uintptr_t)si->si_ptr);
			break;
		default:	/* SI_USER, SI_TKILL, SI_SIGIO... */
			out_put(o, ", si_pid=%d, si_uid=%u", si->si_pid, si->si_uid);
			break;
		}
	} else if (si->si_signo == SIGCHLD) {
		out_put(o, ", si_pid=%d, si_uid=%u, si_status=", si->si_pid, si->si_uid);
		if (si->si_code == CLD_EXITED || !dec_signame(si->si_status, tmp, sizeof(tmp)))
			out_put(o, "%d", si->si_status);
		else
			out_str(o, dec_signame(si->si_status, tmp, sizeof(tmp)));
		/* clock ticks, USER_HZ = 100 on x86 (asm/param.h) */
		out_put(o, ", si_utime=%lld", (long long)si->si_utime);
		if (si->si_utime)
			out_put(o, " /* %lld.%02lld s */", (long long)si->si_utime / 100, (long long)si->si_utime % 100);
		out_put(o, ", si_stime=%lld", (long long)si->si_stime);
		if (si->si_stime)
			out_put(o, " /* %lld.%02lld s */", (long long)si->si_stime / 100, (long long)si->si_stime % 100);
	} else if (si->si_signo == SIGSEGV || si->si_signo == SIGBUS || si->si_signo == SIGILL ||
		   si->si_signo == SIGFPE || si->si_signo == SIGTRAP) {
		out_str(o, ", si_addr=");
		out_ptr(o, (uint64_t)(uintptr_t)si->si_addr);
	} else if (si->si_signo == SIGSYS) {
		out_str(o, ", si_call_addr=");
		out_ptr(o, (uint64_t)(uintptr_t)si->si_call_addr);
		out_put(o, ", si_syscall=%d, si_arch=%#x", si->si_syscall, si->si_arch);
	} else if (si->si_signo == SIGIO) {
		out_put(o, ", si_band=%ld, si_fd=%d", (long)si->si_band, si->si_fd);
	}
	out_str(o, "}");
}

bool dec_siginfo_line(char *buf, size_t size, const void *info, size_t len)
{
	struct dec_out o = { buf, size, 0 };
	siginfo_t si;
	char tmp[16];
	const char *sn;

	buf[0] = 0;
	if (!info || len < 12)
		return false;
	memset(&si, 0, sizeof(si));
	memcpy(&si, info, len < sizeof(si) ? len : sizeof(si));
	if (!(sn = dec_signame(si.si_signo, tmp, sizeof(tmp))))
		return false;
	out_put(&o, "--- %s ", sn);
	out_siginfo(&o, &si, sn);
	out_str(&o, " ---");
	return true;
}

/* strace's signal line for the delivery whose handler this rt_sigreturn
 * ends: "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---". */
bool dec_signal_line(char *buf, size_t size, const struct trace_rec *e, const struct dec_opts *opt)
{
	struct dec_ctx c = { .opt = opt, .e = e };
	const siginfo_t *si;
	const char *name = e ? gears_sc__name(e->nr, e->flags & TREC_COMPAT) : NULL;

	buf[0] = 0;
	if (!name || strcmp(name, "rt_sigreturn") ||
	    !(si = ctx_struct(&c, DEC_SLOT_SIGINFO, false, sizeof(siginfo_t))))
		return false;
	return dec_siginfo_line(buf, size, si, sizeof(*si));
}

/* ---- what the next return to user space delivers ---- */

#define BIT(s) (1ull << ((s) - 1))
/* The kernel's SYNCHRONOUS_MASK: dequeued first. */
#define SYNC_MASK (BIT(SIGSEGV) | BIT(SIGBUS) | BIT(SIGILL) | BIT(SIGTRAP) | BIT(SIGFPE) | BIT(SIGSYS))
/* Default actions (signal(7)): ignore, stop, core; every other signal terminates. */
#define IGN_MASK (BIT(SIGCHLD) | BIT(SIGURG) | BIT(SIGWINCH) | BIT(SIGCONT))
#define STOP_MASK (BIT(SIGSTOP) | BIT(SIGTSTP) | BIT(SIGTTIN) | BIT(SIGTTOU))
#define CORE_MASK (BIT(SIGQUIT) | BIT(SIGILL) | BIT(SIGTRAP) | BIT(SIGABRT) | BIT(SIGBUS) | BIT(SIGFPE) | \
		   BIT(SIGSEGV) | BIT(SIGXCPU) | BIT(SIGXFSZ) | BIT(SIGSYS))

/* The kernel's next_signal(): synchronous signals first, then the lowest. */
static int next_sig(uint64_t set)
{
	if (set & SYNC_MASK)
		set &= SYNC_MASK;
	return set ? __builtin_ctzll(set) + 1 : 0;
}

/* collect_signal(): the first queued entry for sig leaves the queue; the bit
 * stays while another entry for it remains. No entry: the kernel makes an
 * SI_USER siginfo with pid and uid 0. */
static const unsigned char *collect(struct gears_sigq *q, int *n, bool *taken, uint64_t *set, int sig,
				    unsigned char *none)
{
	int first = -1, more = 0;

	for (int i = 0; i < *n; i++) {
		if (taken[i] || q[i].sig != sig)
			continue;
		if (first < 0)
			first = i;
		else
			more++;
	}
	if (!more)
		*set &= ~BIT(sig);
	if (first >= 0) {
		taken[first] = true;
		return q[first].info;
	}
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_USER;
	memcpy(none, &si, sizeof(si) < GEARS_SIGINFO_SIZE ? sizeof(si) : GEARS_SIGINFO_SIZE);
	return none;
}

int dec_sig_deliveries(struct gears_task_signals *s, struct dec_delivery *d, int max)
{
	bool taken_p[GEARS_SIGQ_MAX] = { 0 }, taken_s[GEARS_SIGQ_MAX] = { 0 };
	static _Thread_local unsigned char none[8][GEARS_SIGINFO_SIZE];
	uint64_t blocked = s->blocked, pend = s->pending, shared = s->shared;
	int n = 0;

	if (s->npending > GEARS_SIGQ_MAX || s->nshared > GEARS_SIGQ_MAX || s->npending < 0 || s->nshared < 0)
		return 0;
	/* The process is dying (get_signal()'s signal_group_exit): SIGKILL is
	 * pending and group_exit_code says how: a signal (with 0x80 for a core)
	 * or an exit_group status (<< 8). */
	if ((pend & BIT(SIGKILL)) && s->group_exit_code && max > 0) {
		int gec = s->group_exit_code, sig = gec & 0x7f;

		d[0] = (struct dec_delivery){ .sig = sig, .flags = DEC_SIG_FATAL | DEC_SIG_NOLINE };
		if (!sig) {
			d[0].flags |= DEC_SIG_EXITED;
			d[0].status = (gec >> 8) & 0xff;
			return 1;
		}
		if (gec & 0x80)
			d[0].flags |= DEC_SIG_CORE;
		/* Its queued siginfo, when the signal itself was queued (not SIGKILL). */
		for (int i = 0; sig != SIGKILL && i < s->nshared + s->npending; i++) {
			const struct gears_sigq *q = i < s->nshared ? &s->sq[i] : &s->q[i - s->nshared];

			if (q->sig == sig) {
				d[0].info = q->info;
				d[0].flags &= ~DEC_SIG_NOLINE;
				break;
			}
		}
		return 1;
	}
	while (n < max && n < 8) {
		int sig = next_sig(pend & ~blocked);
		const unsigned char *info;
		bool from_task = sig != 0;
		struct gears_sigact a = { 0 };

		if (!sig)
			sig = next_sig(shared & ~blocked);
		if (!sig)
			break;
		info = from_task ? collect(s->q, &s->npending, taken_p, &pend, sig, none[n])
				 : collect(s->sq, &s->nshared, taken_s, &shared, sig, none[n]);
		d[n] = (struct dec_delivery){ .sig = sig, .info = info };
		if (sig == SIGKILL) {	/* no tracer sees it: no line, the end */
			d[n++].flags = DEC_SIG_FATAL | DEC_SIG_NOLINE;
			break;
		}
		if (s->have_actions)
			a = s->act[sig - 1];
		else
			a.handler = 2;	/* unknown: as a handler, without its mask */
		if (a.handler == 1) {	/* SIG_IGN */
			d[n++].flags = DEC_SIG_IGNORED;
			continue;
		}
		if (a.handler == 0) {	/* SIG_DFL */
			if (IGN_MASK & BIT(sig)) {
				d[n++].flags = DEC_SIG_IGNORED;
				continue;
			}
			if (STOP_MASK & BIT(sig)) {
				d[n++].flags = DEC_SIG_STOP;
				break;
			}
			d[n++].flags = DEC_SIG_FATAL | ((CORE_MASK & BIT(sig)) && s->core_limit ? DEC_SIG_CORE : 0);
			break;
		}
		/* A handler runs: its mask (and the signal, unless SA_NODEFER) is
		 * blocked while the next pending one is delivered on top of it. */
		n++;
		if (s->have_actions) {
			blocked |= a.mask;
			if (!(a.flags & SA_NODEFER))
				blocked |= BIT(sig);
			if (a.flags & SA_RESETHAND)
				s->act[sig - 1].handler = 0;
		}
	}
	return n;
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
