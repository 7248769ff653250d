// SPDX-License-Identifier: MIT
/* Signals: names, sets, sigaction, sigaltstack. */
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>	/* the signal frame rt_sigreturn restores */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

void c_sigreturn(struct dec_cap *c, int i)
{
	if (!c->exit && c->sp)
		cap_mem(c, i, c->sp + offsetof(struct ucontext, uc_sigmask), 8);
}
