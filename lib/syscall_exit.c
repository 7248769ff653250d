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

#define KERNEL_HALF 0xffff800000000000ull

struct bp {
	uint64_t va;
	bool nop;
};

static int bp_list(struct gears_sc *sc, struct bp *out)
{
	uint64_t va[4] = { sc->entry64, sc->call64 + 5, sc->int80_fn, sc->call80 ? sc->call80 + 5 : 0 };
	int n = 0;

	for (int i = 0; i < 4; i++) {
		uint8_t b = 0;

		if (!va[i] || (i >= 2 && !sc->call80))
			continue;
		gears_linux__read(sc->l, va[i], &b, 1);
		out[n++] = (struct bp){ va[i], b == 0x90 };
	}
	return n;
}

int sc_bps_install(struct gears_sc *sc)
{
	struct gears_gdb *g = gears_vm__gdb(sc->vm);
	struct bp bps[4];
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
		struct bp bps[4];
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

static int deny_take(struct gears_sc *sc, uint64_t task, int *err, int *nr)
{
	for (int i = 0; i < SC_MAX_DENY; i++) {
		if (sc->deny[i].task == task && task) {
			*err = sc->deny[i].err & 0xffff;
			*nr = sc->deny[i].err >> 16;
			sc->deny[i].task = 0;
			return 1;
		}
	}
	return 0;
}

static void deny_put(struct gears_sc *sc, uint64_t task, int err, int nr)
{
	for (int i = 0; i < SC_MAX_DENY; i++) {
		if (!sc->deny[i].task || sc->deny[i].task == task) {
			sc->deny[i] = (struct sc_deny){ task, (nr << 16) | err };
			return;
		}
	}
	pr_warn("exit mode: too many denied calls in flight; one return value not overridden");
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
	if (!e && c.deny) {
		/* Number -1 runs nothing; the return stop puts the errno in. */
		e = gears_gdb__set_reg(g, cpu, GEARS_REG_RAX, (uint64_t)-1);
		deny_put(sc, c.task, c.deny_err, c.nr);
	}
	return e;
}

static int ret_common(struct gears_sc *sc, int cpu, uint64_t regs_va, uint64_t gsbase, uint64_t cr3,
		      bool compat)
{
	struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_EXIT, .cpu = cpu, .exit = true,
				   .compat = compat };
	uint64_t regs[64];
	int err = 0, nr = 0;

	c.cr3 = cr3;
	c.time_ns = gears_now_ns();
	who(sc, gsbase, &c);
	if (sc_read_regs(sc, regs_va, regs, sc->r.size))
		return 0;
	c.nr = compat ? (int)(uint32_t)regs[sc->r.orig_ax / 8] : (int)regs[sc->r.orig_ax / 8];
	if (deny_take(sc, c.task, &err, &nr)) {
		sc_write_reg(sc, regs_va, sc->r.ax, (uint64_t)(int64_t)-err);
		c.denied = true;
		c.nr = nr;
	}
	c.regs_va = regs_va;
	{
		const uint32_t a64[6] = { sc->r.di, sc->r.si, sc->r.dx, sc->r.r10, sc->r.r8, sc->r.r9 };
		const uint32_t a32[6] = { sc->r.bx, sc->r.cx, sc->r.dx, sc->r.si, sc->r.di, sc->r.bp };

		for (int i = 0; i < 6; i++)
			c.args[i] = regs[(compat ? a32 : a64)[i] / 8];
		c.ret = c.denied ? -err : (int64_t)regs[sc->r.ax / 8];
		if (compat)
			c.ret = (int32_t)c.ret;
		c.uip = regs[sc->r.ip / 8];
		c.usp = regs[sc->r.sp / 8];
	}
	sc_dispatch(sc, &c);
	if (c.ret_dirty)
		sc_write_reg(sc, regs_va, sc->r.ax, (uint64_t)c.new_ret);
	return 0;
}

static int entry80(struct gears_sc *sc, int cpu, const struct gears_regs *r)
{
	struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_EXIT, .cpu = cpu, .compat = true };
	const uint32_t a32[6] = { sc->r.bx, sc->r.cx, sc->r.dx, sc->r.si, sc->r.di, sc->r.bp };
	uint64_t regs[64];

	c.cr3 = r->cr3;
	c.time_ns = gears_now_ns();
	who(sc, r->gs_base, &c);
	if (sc_read_regs(sc, r->rdi, regs, sc->r.size))
		return 0;
	c.regs_va = r->rdi;
	c.nr = (int)(uint32_t)regs[sc->r.ax / 8];
	for (int i = 0; i < 6; i++)
		c.args[i] = (uint32_t)regs[a32[i] / 8];
	c.uip = regs[sc->r.ip / 8];
	c.usp = regs[sc->r.sp / 8];
	sc_dispatch(sc, &c);
	for (int i = 0; i < 6; i++)
		if (c.args_dirty & (1u << i))
			sc_write_reg(sc, c.regs_va, a32[i], (uint32_t)c.new_args[i]);
	if (c.nr_dirty)
		sc_write_reg(sc, c.regs_va, sc->r.ax, (uint32_t)c.new_nr);
	if (c.deny) {
		sc_write_reg(sc, c.regs_va, sc->r.ax, 0xffffffffu);
		deny_put(sc, c.task, c.deny_err, c.nr);
	}
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
	r = gears_gdb__step(g, cpu, NULL);
	if (gears_gdb__bp_insert(g, va, true) && gears_gdb__bp_insert(g, va, false))
		return gears_err(EIO, "could not re-insert the breakpoint at 0x%" PRIx64, va);
	return r;
}

static int handle_stop(struct gears_sc *sc, struct gears_gdb *g, const struct gears_gdb_stop *st)
{
	struct gears_regs r;
	struct bp bps[4];
	int n = bp_list(sc, bps), cpu = st->cpu < 0 ? 0 : st->cpu, e;

	if (st->exited)
		return gears_err(EPIPE, "the VM is gone");
	if ((e = gears_gdb__regs(g, cpu, &r)))
		return e;
	sc->st.vm_stops++;
	for (int i = 0; i < n; i++) {
		if (r.rip != bps[i].va)
			continue;
		if (r.rip == sc->entry64)
			e = entry64(sc, g, cpu, &r);
		else if (r.rip == sc->call64 + 5)
			e = ret_common(sc, cpu, r.rsp, r.gs_base, r.cr3, false);
		else if (r.rip == sc->int80_fn)
			e = entry80(sc, cpu, &r);
		else
			e = ret_common(sc, cpu, r.rsp, r.gs_base, r.cr3, true);
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
