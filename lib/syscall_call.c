// SPDX-License-Identifier: MIT
/* The handlers' view of an intercepted call (struct gears_sc_call). */
#include "syscall_int.h"

int gears_sc_call__nr(const struct gears_sc_call *c)
{
	return c->nr_dirty ? c->new_nr : c->nr;
}

bool gears_sc_call__is_exit(const struct gears_sc_call *c)
{
	return c->exit;
}

bool gears_sc_call__compat(const struct gears_sc_call *c)
{
	return c->compat;
}

unsigned gears_sc_call__delivery(const struct gears_sc_call *c)
{
	return c->delivery;
}

uint64_t gears_sc_call__arg(const struct gears_sc_call *c, int i)
{
	if (i < 0 || i > 5)
		return 0;
	return (c->args_dirty & (1u << i)) ? c->new_args[i] : c->args[i];
}

int64_t gears_sc_call__ret(const struct gears_sc_call *c)
{
	return c->ret_dirty ? c->new_ret : c->ret;
}

int gears_sc_call__pid(const struct gears_sc_call *c)
{
	return c->pid;
}

int gears_sc_call__tid(const struct gears_sc_call *c)
{
	return c->tid;
}

int gears_sc_call__ppid(const struct gears_sc_call *c)
{
	return c->ppid;
}

const char *gears_sc_call__comm(const struct gears_sc_call *c)
{
	return c->comm;
}

int gears_sc_call__cpu(const struct gears_sc_call *c)
{
	return c->cpu;
}

uint64_t gears_sc_call__task(const struct gears_sc_call *c)
{
	return c->task;
}

uint64_t gears_sc_call__user_ip(const struct gears_sc_call *c)
{
	return c->uip;
}

uint64_t gears_sc_call__user_sp(const struct gears_sc_call *c)
{
	return c->usp;
}

uint64_t gears_sc_call__time_ns(const struct gears_sc_call *c)
{
	return c->time_ns;
}

uint64_t gears_sc_call__entry_time_ns(const struct gears_sc_call *c)
{
	return c->entry_ns;
}

bool gears_sc_call__denied(const struct gears_sc_call *c)
{
	return c->denied;
}

/* Ring records leave CR3 out (reading it costs the guest a helper under TCG):
 * find the task's page tables from its mm when someone needs them. */
static uint64_t call_cr3(const struct gears_sc_call *c)
{
	struct gears_task t;

	if (c->cr3 || !c->task || !c->sc->l)
		return c->cr3;
	if (gears_linux__task(c->sc->l, c->task, &t) || !t.pgd)
		return 0;
	((struct gears_sc_call *)c)->cr3 = t.pgd;
	return t.pgd;
}

uint64_t gears_sc_call__cr3(const struct gears_sc_call *c)
{
	return call_cr3(c);
}

int gears_sc_call__read(const struct gears_sc_call *c, uint64_t va, void *buf, size_t len)
{
	return gears_vmem__read(c->sc->mem, call_cr3(c), c->sc->levels, va, buf, len);
}

int gears_sc_call__read_str(const struct gears_sc_call *c, uint64_t va, char *buf, size_t max)
{
	return gears_vmem__read_str(c->sc->mem, call_cr3(c), c->sc->levels, va, buf, max);
}

static bool can_change(const struct gears_sc_call *c)
{
	return c->delivery == GEARS_SC_SYNC || c->delivery == GEARS_SC_EXIT;
}

int gears_sc_call__write(struct gears_sc_call *c, uint64_t va, const void *buf, size_t len)
{
	if (!can_change(c))
		return gears_err(EPERM, "ring-mode handlers observe only");
	/* In sync delivery the guest thread, still waiting, writes the bytes
	 * itself: nothing can land once it has given up and gone on. In exit
	 * mode the VM is stopped while we write. */
	if (c->delivery == GEARS_SC_SYNC)
		return sc_call_copy(c, va, buf, len);
	return gears_vmem__write(c->sc->mem, call_cr3(c), c->sc->levels, va, buf, len, true);
}

const char *gears_sc_call__captured(const struct gears_sc_call *c, int n)
{
	const char *p, *end;

	if (!c->ev || n < 0)
		return NULL;
	p = c->ev->data;
	end = p + c->ev->data_len;
	while (p < end) {
		size_t l = strnlen(p, (size_t)(end - p));

		if (p + l >= end)
			return NULL;	/* unterminated (the drain code forbids it) */
		if (n-- == 0)
			return p;
		p += l + 1;
	}
	return NULL;
}

int gears_sc_call__set_arg(struct gears_sc_call *c, int i, uint64_t v)
{
	if (!can_change(c) || c->exit)
		return gears_err(EPERM, "arguments can be changed at entry, in sync or exit delivery");
	if (i < 0 || i > 5)
		return gears_err(EINVAL, "argument index %d", i);
	c->new_args[i] = v;
	c->args_dirty |= 1u << i;
	return 0;
}

int gears_sc_call__set_nr(struct gears_sc_call *c, int nr)
{
	if (!can_change(c) || c->exit)
		return gears_err(EPERM, "the number can be changed at entry, in sync or exit delivery");
	c->new_nr = nr;
	c->nr_dirty = true;
	return 0;
}

int gears_sc_call__skip(struct gears_sc_call *c, int64_t ret)
{
	if (!can_change(c) || c->exit)
		return gears_err(EPERM, "calls can be skipped at entry, in sync or exit delivery");
	c->deny = true;
	c->deny_ret = ret;
	return 0;
}

int gears_sc_call__deny(struct gears_sc_call *c, int err)
{
	if (err <= 0 || err > 4095)
		return gears_err(EINVAL, "errno %d out of range", err);
	return gears_sc_call__skip(c, -(int64_t)err);
}

int gears_sc_call__set_ret(struct gears_sc_call *c, int64_t v)
{
	bool hcall = c->nr == (int)GEARS_HCALL_NR && !c->exit;

	if (!can_change(c) || (!c->exit && !hcall))
		return gears_err(EPERM, "the return value can be changed at the return (sync or exit)");
	c->new_ret = v;
	c->ret_dirty = true;
	return 0;
}

int gears_sc_call__want_exit(struct gears_sc_call *c)
{
	if (c->delivery != GEARS_SC_SYNC || c->exit)
		return gears_err(EPERM, "returns can be asked for at a sync entry only");
	c->want_exit = true;
	return 0;
}

/* The registers as the answer so far leaves them: pt_regs, with what handlers
 * staged on top. */
int sc_call_uregs(const struct gears_sc_call *c, struct sc_uregs *u)
{
	uint64_t *w = (uint64_t *)u;
	int r;

	if (!c->regs_va)
		return gears_err(EINVAL, "no pt_regs for this call");
	if ((r = sc_read_regs(c->sc, c->regs_va, u)))
		return r;
	for (int i = 0; i < GEARS_PTREGS_WORDS; i++)
		if (c->set_mask & (1ull << i))
			w[i] = c->set_regs[i];
	return 0;
}

/* Staged whole but for CS and SS, which stay the kernel's (a guest-chosen or
 * stale selector must never reach IRET; the stub refuses them too). orig_ax -1
 * keeps the kernel's restart logic away from a state that is not a system call. */
int sc_call_set_uregs(struct gears_sc_call *c, const struct sc_uregs *want)
{
	struct sc_uregs u = *want;
	const uint64_t *w = (const uint64_t *)&u;

	if (!can_change(c) || c->delivery != GEARS_SC_SYNC)
		return gears_err(EPERM, "registers can be replaced in sync delivery only");
	if (!c->regs_va)
		return gears_err(EINVAL, "no pt_regs for this call");
	u.orig_ax = (uint64_t)-1;
	/* Only flags user space may hold: arithmetic, DF, AC, ID; IF always on. */
	u.flags = (u.flags & 0x2c0dd5ull) | 0x202;
	for (uint32_t off = 0; off < GEARS_PTREGS_SIZE; off += 8)
		if (off != GEARS_PTREGS_CS && off != GEARS_PTREGS_SS)
			sc_call_stage_reg(c, off, w[off / 8]);
	return 0;
}
