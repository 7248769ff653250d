// SPDX-License-Identifier: MIT
/*
 * Exit mode: hardware breakpoints (gdbstub) on the kernel's syscall entry — the
 * SYSCALL target (entry_SYSCALL_64) and the int 0x80 handler — and on the
 * instruction after their call into C, where pt_regs->ax holds the return
 * value. Every call stops the whole VM; nothing is installed in the guest.
 *
 * QEMU re-reports a breakpoint when resumed on it, so each stop ends with a
 * step over: remove it, single-step that vCPU alone, put it back, continue.
 * Where the instruction is a one-byte nop (the padding after the call in 6.1)
 * moving RIP past it does the same in one round trip.
 */
#include <inttypes.h>
#include <poll.h>

#include "syscall_int.h"

enum bp_kind { BP_ENTRY64, BP_ENTRY80, BP_RET_RDI, BP_RET_RSP };

struct bp {
	uint64_t va;
	enum bp_kind kind;
	bool compat;
	bool nop;
};

#define MAX_BPS 8

/*
 * Entries: the SYSCALL target, the int 0x80 handler. Returns: the calls to
 * syscall_exit_to_user_mode(regs) (ax final, signals not yet delivered), or
 * failing that the instruction after the entry code's call (ax as the kernel
 * leaves it after exit work).
 */
static int bp_list(struct gears_sc *sc, struct bp *out)
{
	int n = 0;

	out[n++] = (struct bp){ sc->entry64, BP_ENTRY64, false, false };
	if (sc->call80)
		out[n++] = (struct bp){ sc->int80_fn, BP_ENTRY80, true, false };
	for (int i = 0; i < sc->nexit && n < MAX_BPS; i++)
		out[n++] = (struct bp){ sc->exit_site[i].va, BP_RET_RDI, sc->exit_site[i].compat, false };
	if (!sc->nexit) {
		out[n++] = (struct bp){ sc->call64 + 5, BP_RET_RSP, false, false };
		if (sc->call80)
			out[n++] = (struct bp){ sc->call80 + 5, BP_RET_RSP, true, false };
	}
	for (int i = 0; i < n; i++) {
		uint8_t b = 0;

		gears_linux__read(sc->l, out[i].va, &b, 1);
		out[i].nop = b == 0x90;
	}
	return n;
}

int sc_bps_install(struct gears_sc *sc)
{
	struct gears_gdb *g = gears_vm__gdb(sc->vm);
	struct bp bps[MAX_BPS];
	int n, r;

	if (!g)
		return -errno;
	if ((r = gears_gdb__stop(g, NULL)))
		goto fail;
	n = bp_list(sc, bps);
	for (int i = 0; i < n; i++) {
		/* KVM has four debug registers; software breakpoints are the fallback. */
		if ((r = gears_gdb__bp_insert(g, bps[i].va, true)) &&
		    (r = gears_gdb__bp_insert(g, bps[i].va, false)))
			goto fail;
	}
	sc->bps = true;
	return gears_gdb__cont(g);
fail:
	gears_vm__gdb_release(sc->vm);	/* drops any breakpoints we set */
	return r;
}

void sc_bps_remove(struct gears_sc *sc)
{
	/* Detaching removes every breakpoint and resumes the VM. */
	if (sc->stub) {
		struct gears_gdb *g = gears_vm__gdb(sc->vm);
		struct bp bps[MAX_BPS];
		int n = bp_list(sc, bps);

		if (g && !gears_gdb__stop(g, NULL)) {
			for (int i = 0; i < n; i++)
				if (gears_gdb__bp_remove(g, bps[i].va, true))
					gears_gdb__bp_remove(g, bps[i].va, false);
		}
	}
	gears_vm__gdb_release(sc->vm);
	sc->bps = false;
}

/*
 * Calls between their entry and return stops, by task: the number they entered
 * with (orig_ax at the return can differ: an execve into a 32-bit program
 * reports the i386 number) and whether a handler skipped them. A call that
 * never returns (exit) leaves a stale entry that its task's next call, or the
 * table's reuse, replaces.
 */
static struct sc_deny *inflight(struct gears_sc *sc, uint64_t task, bool create)
{
	unsigned h = (unsigned)(task >> 6) % SC_MAX_DENY;

	for (unsigned i = 0; i < SC_MAX_DENY; i++) {
		struct sc_deny *d = &sc->deny[(h + i) % SC_MAX_DENY];

		if (d->task == task)
			return d;
		if (!d->task)
			return create ? d : NULL;
	}
	/* Full (tasks that exited inside a call leave entries): reuse the home slot. */
	return create ? &sc->deny[h] : NULL;
}

/* The kernel's GS base: before swapgs it is in KernelGSbase. */
static void who(struct gears_sc *sc, uint64_t gsbase, struct gears_sc_call *c)
{
	uint64_t task = 0;
	uint32_t cpu = 0;

	if (gsbase < KERNEL_HALF ||
	    gears_linux__read_u64(sc->l, gsbase + sc->gs_current_task, &task) ||
	    gears_linux__read(sc->l, gsbase + sc->gs_cpu_number, &cpu, 4))
		return;
	c->cpu = (int)cpu;
	sc_task_info(sc, task, c);
}

/* exit and exit_group never come back to their return stop: do not track them. */
static bool noreturn(int nr, bool compat)
{
	const char *n = gears_sc__name(nr, compat);

	return n && (!strcmp(n, "exit") || !strcmp(n, "exit_group"));
}

static int entry64(struct gears_sc *sc, struct gears_gdb *g, int cpu, const struct gears_regs *r)
{
	struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_EXIT, .cpu = cpu };
	const enum gears_reg areg[6] = { GEARS_REG_RDI, GEARS_REG_RSI, GEARS_REG_RDX,
					 GEARS_REG_R10, GEARS_REG_R8, GEARS_REG_R9 };
	uint64_t a[6] = { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 };
	int e = 0;

	c.nr = (int)r->rax;
	memcpy(c.args, a, sizeof(a));
	c.uip = r->rcx;
	c.usp = r->rsp;
	c.cr3 = r->cr3;
	c.time_ns = gears_now_ns();
	who(sc, r->k_gs_base, &c);
	sc_dispatch(sc, &c);
	for (int i = 0; i < 6 && !e; i++)
		if (c.args_dirty & (1u << i))
			e = gears_gdb__set_reg(g, cpu, areg[i], c.new_args[i]);
	if (!e && c.nr_dirty)
		e = gears_gdb__set_reg(g, cpu, GEARS_REG_RAX, (uint64_t)(int64_t)c.new_nr);
	if (!e && c.deny)	/* number -1 runs nothing; the return stop sets the value */
		e = gears_gdb__set_reg(g, cpu, GEARS_REG_RAX, (uint64_t)-1);
	if (c.task && !noreturn(c.nr, false)) {
		struct sc_deny *d = inflight(sc, c.task, true);

		*d = (struct sc_deny){ .task = c.task, .nr = c.nr_dirty ? c.new_nr : c.nr,
				       .skip = c.deny, .ret = c.deny_ret };
	}
	sc_call_settle(&c, !e);	/* the VM is stopped: applied unless a write failed */
	return e;
}

static int ret_common(struct gears_sc *sc, int cpu, uint64_t regs_va, uint64_t gsbase, uint64_t cr3,
		      bool compat)
{
	struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_EXIT, .cpu = cpu, .exit = true,
				   .compat = compat };
	struct sc_uregs u;
	int64_t dret = 0;
	struct sc_deny *d;

	c.cr3 = cr3;
	c.time_ns = gears_now_ns();
	who(sc, gsbase, &c);
	if (sc_read_regs(sc, regs_va, &u))
		return 0;
	c.nr = compat ? (int)(uint32_t)u.orig_ax : (int)u.orig_ax;
	d = c.task ? inflight(sc, c.task, false) : NULL;
	if (d) {
		c.nr = d->nr;
		if (d->skip) {
			dret = d->ret;
			sc_write_reg(sc, regs_va, GEARS_PTREGS_AX, (uint64_t)dret);
			c.denied = true;
		}
		d->task = 0;
		/* Re-insert the followers of this open-addressing run. */
		for (unsigned k = (unsigned)(d - sc->deny + 1) % SC_MAX_DENY; sc->deny[k].task;
		     k = (k + 1) % SC_MAX_DENY) {
			struct sc_deny m = sc->deny[k];

			sc->deny[k].task = 0;
			*inflight(sc, m.task, true) = m;
		}
	}
	c.regs_va = regs_va;
	sc_call_fill(&c, &u);
	if (c.denied)
		c.ret = compat ? (int32_t)dret : dret;
	sc_dispatch(sc, &c);
	if (c.ret_dirty)
		sc_write_reg(sc, regs_va, GEARS_PTREGS_AX, (uint64_t)c.new_ret);
	sc_call_settle(&c, true);
	return 0;
}

static int entry80(struct gears_sc *sc, int cpu, const struct gears_regs *r)
{
	struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_EXIT, .cpu = cpu, .compat = true };
	const uint32_t *a32 = sc_arg_off[1];
	struct sc_uregs u;

	c.cr3 = r->cr3;
	c.time_ns = gears_now_ns();
	who(sc, r->gs_base, &c);
	if (sc_read_regs(sc, r->rdi, &u))
		return 0;
	c.regs_va = r->rdi;
	sc_call_fill(&c, &u);
	/* Before int80_emulation the number is still in ax (orig_ax is -1). */
	c.nr = (int)(uint32_t)u.ax;
	c.ret = 0;
	sc_dispatch(sc, &c);
	for (int i = 0; i < 6; i++)
		if (c.args_dirty & (1u << i))
			sc_write_reg(sc, c.regs_va, a32[i], (uint32_t)c.new_args[i]);
	if (c.nr_dirty)
		sc_write_reg(sc, c.regs_va, GEARS_PTREGS_AX, (uint32_t)c.new_nr);
	if (c.deny)
		sc_write_reg(sc, c.regs_va, GEARS_PTREGS_AX, 0xffffffffu);
	if (c.task && !noreturn(c.nr, true)) {
		struct sc_deny *d = inflight(sc, c.task, true);

		*d = (struct sc_deny){ .task = c.task, .nr = c.nr_dirty ? c.new_nr : c.nr,
				       .skip = c.deny, .ret = c.deny_ret };
	}
	sc_call_settle(&c, true);
	return 0;
}

/* Resume a vCPU stopped on the breakpoint at `va`. */
static int step_over(struct gears_sc *sc, struct gears_gdb *g, int cpu, uint64_t va, bool nop)
{
	int r;

	if (nop)
		return gears_gdb__set_reg(g, cpu, GEARS_REG_RIP, va + 1);
	if ((r = gears_gdb__bp_remove(g, va, true)) && (r = gears_gdb__bp_remove(g, va, false)))
		return r;
	/* A step that did not move (the vCPU took the stop without executing)
	 * would meet the breakpoint again and report the call twice: insist. */
	for (int tries = 0; tries < 4; tries++) {
		struct gears_regs now;

		r = gears_gdb__step(g, cpu, NULL);
		if (r || gears_gdb__regs(g, cpu, &now) || now.rip != va)
			break;
	}
	if (gears_gdb__bp_insert(g, va, true) && gears_gdb__bp_insert(g, va, false))
		return gears_err(EIO, "could not re-insert the breakpoint at 0x%" PRIx64, va);
	return r;
}

static int handle_stop(struct gears_sc *sc, struct gears_gdb *g, const struct gears_gdb_stop *st)
{
	struct gears_regs r;
	struct bp bps[MAX_BPS];
	int n = bp_list(sc, bps), cpu = st->cpu < 0 ? 0 : st->cpu, e;

	if (st->exited)
		return gears_err(EPIPE, "the VM is gone");
	if ((e = gears_gdb__regs(g, cpu, &r)))
		return e;
	sc->st.vm_stops++;
	for (int i = 0; i < n; i++) {
		if (r.rip != bps[i].va)
			continue;
		switch (bps[i].kind) {
		case BP_ENTRY64:
			e = entry64(sc, g, cpu, &r);
			break;
		case BP_ENTRY80:
			e = entry80(sc, cpu, &r);
			break;
		case BP_RET_RDI:
			e = ret_common(sc, cpu, r.rdi, r.gs_base, r.cr3, bps[i].compat);
			break;
		case BP_RET_RSP:
			e = ret_common(sc, cpu, r.rsp, r.gs_base, r.cr3, bps[i].compat);
			break;
		}
		if (e)
			pr_warn("exit mode: %s", gears_last_error());
		e = step_over(sc, g, cpu, r.rip, bps[i].nop);
		if (e)
			return e;
		break;
	}
	return gears_gdb__cont(g) ?: 1;
}

int sc_exit_poll(struct gears_sc *sc, int timeout_us)
{
	struct gears_gdb *g = gears_vm__gdb(sc->vm);
	struct gears_gdb_stop st;
	struct pollfd p;
	int r;

	if (!g)
		return -errno;
	if (timeout_us > 0) {
		p = (struct pollfd){ .fd = gears_gdb__fd(g), .events = POLLIN };
		r = ppoll(&p, 1, &(struct timespec){ .tv_sec = timeout_us / 1000000,
						      .tv_nsec = (timeout_us % 1000000) * 1000L }, NULL);
		if (r <= 0)
			return 0;
	}
	r = gears_gdb__wait(g, 0, &st);
	if (r <= 0)
		return r;
	return handle_stop(sc, g, &st);
}
