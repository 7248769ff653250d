// SPDX-License-Identifier: MIT
/*
 * User-space code injection (include/gears/inject.h): a state machine driven
 * by synchronous system call handlers, plus the kicks that make a quiet
 * target enter the kernel.
 *
 * Everything the target does between being taken and being restored goes
 * through its own `syscall` instruction (the one it was caught at, or one in
 * its vDSO), so no byte of its code or data is changed; the only memory gears
 * writes is the anonymous private mapping the target itself just created.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gears/inject.h>
#include <gears/ksyms.h>
#include <gears/payload.h>
#include <gears-guest/payload.h>

#include "syscall_int.h"

#define PAGE 4096ull
#define STACK_SIZE (64u * 1024)
#define MAX_IMAGE (32u << 20)
#define KICK_FIRST_MS 20	/* give the target a chance to make a call by itself */
#define KICK_EVERY_MS 50
#define NR_MMAP 9
#define NR_MPROTECT 10
#define NR_MUNMAP 11
#define NR_GETPID 39
#define TIF_SIGPENDING 2
#define TASK_INTERRUPTIBLE 1
#define USER_TOP 0x0000800000000000ull

struct gears_inject {
	struct gears_sc *sc;
	struct gears_inject_opts o;
	enum gears_inject_state state;
	int err;
	char why[160];
	int hid, hcid;			/* handler ids */
	int tid, pid;			/* target (tid 0: any thread of pid) */

	/* the payload, laid out for `base` once known */
	const struct gears_payload *p;	/* the caller's, alive until the end */
	size_t img_size, args_off, blob_off, stack_off, total;
	uint64_t xoff[8], xlen[8];
	int nx, xi;
	char *argbuf;			/* argument strings, copied */
	size_t argbuf_len;

	/* the taken thread */
	struct sc_uregs saved;		/* registers to restore */
	uint64_t gadget;		/* a `syscall` instruction in the target */
	uint64_t base;
	int64_t result;
	const char *how;
	bool leaked;
	uint64_t syscalls;

	/* kicks */
	uint64_t t0, t_taken, t_end, last_kick;
	bool hostage;			/* taken and not yet restored */
	bool forced;			/* taken through the gdbstub: `saved` came from there */
	uint64_t forced_gadget;
	struct sc_uregs forced_regs;
	int kicks;
};

static void fail(struct gears_inject *inj, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct gears_inject *inj, int err, const char *fmt, ...)
{
	va_list ap;

	if (inj->err)
		return;		/* the first reason is the one to report */
	va_start(ap, fmt);
	vsnprintf(inj->why, sizeof(inj->why), fmt, ap);
	va_end(ap);
	inj->err = err < 0 ? err : -err;
	pr_debug("inject: %s", inj->why);
	/* A thread still ours ends FAILED when restore() has put it back. */
	if (!inj->hostage) {
		inj->state = GEARS_INJECT_FAILED;
		inj->t_end = gears_now_ns();
	}
}

/* Send the thread through the `syscall` gadget with this call. */
static int issue(struct gears_inject *inj, struct gears_sc_call *c, long nr, uint64_t a0, uint64_t a1,
		 uint64_t a2)
{
	struct sc_uregs u = inj->saved;

	u.ip = inj->gadget;
	u.ax = (uint64_t)nr;
	u.di = a0;
	u.si = a1;
	u.dx = a2;
	return sc_call_set_uregs(c, &u);
}

static void restore(struct gears_inject *inj, struct gears_sc_call *c)
{
	if (sc_call_set_uregs(c, &inj->saved))
		fail(inj, EFAULT, "could not restore the registers of thread %d", inj->tid);
	inj->hostage = false;
	inj->state = inj->err ? GEARS_INJECT_FAILED : GEARS_INJECT_DONE;
	inj->t_end = gears_now_ns();
}

static bool is_target(const struct gears_inject *inj, const struct gears_sc_call *c)
{
	return inj->tid ? c->tid == inj->tid : c->pid == inj->pid;
}

static bool at_gadget(const struct gears_inject *inj, const struct gears_sc_call *c)
{
	return c->uip == inj->gadget + 2;
}

/* Argument block: struct gears_payload_args, then the strings. */
static int build_args(struct gears_inject *inj, uint8_t *img)
{
	struct gears_payload_args *a = (void *)(img + inj->args_off);
	uint64_t sva = inj->base + inj->args_off + sizeof(*a);
	const char *s = inj->argbuf;

	memset(a, 0, sizeof(*a));
	a->magic = GEARS_PAYLOAD_MAGIC;
	a->base = inj->base;
	a->size = inj->total;
	a->pid = inj->pid;
	a->tid = inj->tid;
	a->argc = inj->o.argc;
	memcpy(img + inj->args_off + sizeof(*a), inj->argbuf, inj->argbuf_len);
	for (int i = 0; i < inj->o.argc; i++) {
		size_t l = strlen(s) + 1;

		a->argv[i] = (const char *)(uintptr_t)sva;
		sva += l;
		s += l;
	}
	if (inj->o.blob_len) {
		a->blob = (const void *)(uintptr_t)(inj->base + inj->blob_off);
		a->blob_len = inj->o.blob_len;
		memcpy(img + inj->blob_off, inj->o.blob, inj->o.blob_len);
	}
	return 0;
}

/* The mapping exists: fill it and start protecting the code. */
static void load(struct gears_inject *inj, struct gears_sc_call *c)
{
	uint8_t *img = calloc(1, inj->total);
	int r;

	if (!img) {
		fail(inj, ENOMEM, "out of memory for a %zu-byte image", inj->total);
		goto undo;
	}
	r = gears_payload__image(inj->p, inj->base, img, inj->img_size);
	if (!r)
		r = build_args(inj, img);
	/* The pages are the ones the guest just zeroed for MAP_POPULATE (so TCG
	 * holds no stale translation of them); only user-writable pages pass. */
	for (size_t off = 0; !r && off < inj->total; off += 1u << 20)
		r = gears_vmem__write(inj->sc->mem, gears_sc_call__cr3(c), inj->sc->levels,
				      inj->base + off, img + off, GEARS_MIN((size_t)1 << 20, inj->total - off),
				      true);
	free(img);
	if (r) {
		fail(inj, r, "writing the payload at 0x%" PRIx64 ": %s", inj->base, strerror(-r));
		goto undo;
	}
	inj->state = GEARS_INJECT_PROTECTING;
	inj->xi = 0;
	if (issue(inj, c, NR_MPROTECT, inj->base + inj->xoff[0], inj->xlen[0], 5 /* PROT_READ|PROT_EXEC */)) {
		inj->hostage = false;	/* giving up on it */
		fail(inj, EFAULT, "could not set the target's registers");
	}
	return;
undo:
	inj->state = GEARS_INJECT_UNMAPPING;
	if (issue(inj, c, NR_MUNMAP, inj->base, inj->total, 0))
		restore(inj, c);
}

static void run_payload(struct gears_inject *inj, struct gears_sc_call *c)
{
	struct sc_uregs u = { 0 };
	uint64_t top = inj->base + inj->stack_off + STACK_SIZE;

	u.ip = inj->base + gears_payload__entry(inj->p);
	u.sp = top - 8;		/* as after a call: the (zero) return address */
	u.di = inj->base + inj->args_off;
	u.flags = 0x202;
	inj->state = GEARS_INJECT_RUNNING;
	if (sc_call_set_uregs(c, &u)) {
		inj->hostage = false;	/* giving up on it */
		fail(inj, EFAULT, "could not start the payload");
	}
}

/* Take the thread at a system call entry. */
static void take(struct gears_inject *inj, struct gears_sc_call *c)
{
	struct sc_uregs u;
	uint8_t insn[2];

	if (sc_call_uregs(c, &u))
		return;
	if (inj->forced && u.ip == inj->forced_gadget + 2) {
		/* Our getpid through the vDSO: what to restore came from the gdbstub. */
		inj->saved = inj->forced_regs;
		inj->gadget = inj->forced_gadget;
		inj->how = "stopped";
	} else {
		/* Restore = issue this call again from its `syscall` instruction. */
		inj->saved = u;
		inj->saved.ip = u.ip - 2;
		inj->saved.ax = u.orig_ax;
		inj->gadget = inj->saved.ip;
		if (!inj->how)
			inj->how = "syscall";
	}
	if (gears_sc_call__read(c, inj->gadget, insn, 2) || insn[0] != 0x0f || insn[1] != 0x05) {
		/* Not a `syscall` (sysenter, a page gone): leave this one alone. */
		return;
	}
	inj->tid = c->tid;
	inj->pid = c->pid;
	inj->t_taken = gears_now_ns();
	inj->hostage = true;
	inj->state = GEARS_INJECT_MAPPING;
	gears_sc_call__want_exit(c);
	/* mmap(NULL, total, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) */
	gears_sc_call__set_nr(c, NR_MMAP);
	gears_sc_call__set_arg(c, 0, 0);
	gears_sc_call__set_arg(c, 1, inj->total);
	gears_sc_call__set_arg(c, 2, 3);
	gears_sc_call__set_arg(c, 3, 0x02 | 0x20 | 0x8000);
	gears_sc_call__set_arg(c, 4, (uint64_t)-1);
	gears_sc_call__set_arg(c, 5, 0);
}

static int on_call(struct gears_sc_call *c, void *ctx)
{
	struct gears_inject *inj = ctx;
	int64_t ret;

	if (!is_target(inj, c) || c->compat)
		return 0;
	if (!c->exit) {
		if (inj->state == GEARS_INJECT_ARMED)
			take(inj, c);
		else if (inj->state == GEARS_INJECT_RUNNING)
			inj->syscalls++;
		else if ((inj->state == GEARS_INJECT_PROTECTING || inj->state == GEARS_INJECT_UNMAPPING) &&
			 at_gadget(inj, c))
			gears_sc_call__want_exit(c);	/* the call we sent it to make */
		return 0;
	}
	/* Returns: only of the calls we sent through the gadget. */
	if (!at_gadget(inj, c) || c->tid != inj->tid)
		return 0;
	ret = c->ret;
	switch (inj->state) {
	case GEARS_INJECT_MAPPING:
		if (ret < 0 || (uint64_t)ret >= USER_TOP || (uint64_t)ret % PAGE) {
			fail(inj, ret < 0 ? (int)ret : EFAULT, "mmap in the target failed: %" PRId64, ret);
			restore(inj, c);
			return 0;
		}
		inj->base = (uint64_t)ret;
		load(inj, c);
		break;
	case GEARS_INJECT_PROTECTING:
		if (ret < 0) {
			fail(inj, (int)ret, "mprotect in the target failed: %" PRId64, ret);
			inj->state = GEARS_INJECT_UNMAPPING;
			if (issue(inj, c, NR_MUNMAP, inj->base, inj->total, 0))
				restore(inj, c);
			return 0;
		}
		if (++inj->xi < inj->nx) {
			issue(inj, c, NR_MPROTECT, inj->base + inj->xoff[inj->xi], inj->xlen[inj->xi], 5);
			return 0;
		}
		run_payload(inj, c);
		break;
	case GEARS_INJECT_UNMAPPING:
		if (ret < 0)
			inj->leaked = true;
		restore(inj, c);
		break;
	default:
		break;
	}
	return 0;
}

/* Hypercalls from the payload (GEARS_HC_PAYLOAD_DONE, GEARS_HC_LOG). */
static int on_hcall(struct gears_sc_call *c, void *ctx)
{
	struct gears_inject *inj = ctx;
	long op = (long)gears_sc_call__arg(c, 0);

	if (c->tid != inj->tid || inj->state != GEARS_INJECT_RUNNING) {
		gears_sc_call__set_ret(c, -ESRCH);
		return 0;
	}
	if (op == GEARS_HC_LOG) {
		char buf[256];
		uint64_t want = gears_sc_call__arg(c, 2), len = GEARS_MIN(want, sizeof(buf) - 1);

		/* One read into our buffer; the guest's bytes reach the log only as
		 * printable text, and what did not fit is said, not dropped unseen. */
		if (gears_sc_call__read(c, gears_sc_call__arg(c, 1), buf, len)) {
			gears_sc_call__set_ret(c, -EFAULT);
			return 0;
		}
		for (uint64_t i = 0; i < len; i++)
			if ((unsigned char)buf[i] < ' ' || (unsigned char)buf[i] > '~')
				buf[i] = buf[i] ? '?' : ' ';
		buf[len] = 0;
		pr_info("payload in %d: %s%s", inj->tid, buf, want > len ? " [truncated]" : "");
		gears_sc_call__set_ret(c, 0);
		return 0;
	}
	if (op != GEARS_HC_PAYLOAD_DONE)
		return 0;
	inj->result = (int64_t)gears_sc_call__arg(c, 1);
	inj->state = GEARS_INJECT_UNMAPPING;
	/* The hypercall leaves through IRET with these registers. */
	if (issue(inj, c, NR_MUNMAP, inj->base, inj->total, 0)) {
		inj->hostage = false;	/* giving up on it */
		fail(inj, EFAULT, "could not send the target to munmap");
	}
	return 0;
}

/* ---- kicks ---- */

struct find_task {
	int tid, pid;
	struct gears_task t;
	bool found;
};

static int find_cb(const struct gears_task *t, void *ctx)
{
	struct find_task *f = ctx;

	if ((f->tid && t->pid == f->tid) || (!f->tid && t->pid == f->pid)) {
		f->t = *t;
		f->found = true;
		return 1;
	}
	return 0;
}

/* Is this vCPU resting in the idle loop (holding no lock), so kernel code may
 * borrow it? */
static bool idle_cpu(const struct gears_regs *r, void *ctx)
{
	const struct gears_ksyms *ks = ctx;
	static const char *const idle[] = { "default_idle", "native_safe_halt", "pv_native_safe_halt",
					    "arch_cpu_idle", "default_idle_call", "mwait_idle",
					    "acpi_safe_halt", "acpi_idle_do_entry", "cpu_idle_poll" };
	uint64_t off;
	const char *name = ks ? gears_ksyms__symbolize(ks, r->rip, &off) : NULL;

	if (!name)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
		if (!strcmp(name, idle[i]))
			return true;
	return false;
}

/* Let the VM run again; give the gdbstub back unless exit mode keeps it. */
static void gdb_done(struct gears_sc *sc, struct gears_gdb *g)
{
	if (!sc->bps)
		gears_vm__gdb_release(sc->vm);
	else if (gears_gdb__stopped(g))
		gears_gdb__cont(g);
}

/* A sleeping thread: a spurious wake-up makes its call return for a restart. */
static int wake(struct gears_inject *inj, const struct gears_task *t)
{
	struct gears_sc *sc = inj->sc;
	struct gears_xlate x;
	uint64_t fn, pa, ret = 0;
	uint8_t code[24];
	long off;
	int r;

	if (gears_linux__sym(sc->l, "wake_up_state", &fn))
		return gears_err(ENOENT, "the guest kernel has no wake_up_state");
	/* thread_info is the first member of task_struct (THREAD_INFO_IN_TASK);
	 * flags its first word. The kernel updates it with atomic ops, so must we. */
	if (gears_pt__xlate(sc->mem, sc->kcr3, sc->levels, t->addr, &x))
		return gears_err(EFAULT, "task 0x%" PRIx64 " not mapped", t->addr);
	pa = x.gpa;
	uint64_t *flags = gears_mem__ptr(sc->mem, pa, 8);

	if (!flags || (pa & 7))
		return gears_err(EFAULT, "task flags not in RAM");
	__atomic_fetch_or(flags, 1ull << TIF_SIGPENDING, __ATOMIC_SEQ_CST);
	/* movabs $fn, %rax; mov $TASK_INTERRUPTIBLE, %esi; jmp *%rax */
	code[0] = 0x48;
	code[1] = 0xb8;
	memcpy(code + 2, &fn, 8);
	code[10] = 0xbe;
	uint32_t st = TASK_INTERRUPTIBLE;
	memcpy(code + 11, &st, 4);
	code[15] = 0xff;
	code[16] = 0xe0;
	if (!sc->wake_off) {
		off = gears_region__alloc(sc->region, sizeof(code), 16);
		if (off < 0)
			return (int)off;
		sc->wake_off = off;
	}
	off = sc->wake_off;
	struct gears_gdb *g = gears_vm__gdb(sc->vm);

	if (!g)
		return -errno;
	r = gears_gdb__stop(g, NULL);
	if (!r)
		r = gears_region__write_code(sc->region, g, (uint64_t)off, code, 17);
	if (!r)
		r = region_call_on(sc->region, g, (uint64_t)off, t->addr, &ret, idle_cpu,
				   (void *)gears_linux__ksyms(sc->l));
	gdb_done(sc, g);
	return r;
}

/* A running thread: catch it on its vCPU in user mode and send it through a
 * `syscall` in its vDSO (getpid), keeping every register for the end. */
static int stop_and_divert(struct gears_inject *inj, const struct gears_task *t)
{
	struct gears_sc *sc = inj->sc;
	struct gears_gdb *g = gears_vm__gdb(sc->vm);
	long vdso_off = gears_linux__offsetof(sc->l, "mm_struct", "context.vdso");
	uint64_t vdso = 0, gadget = 0;
	int r, found = 0;

	if (!g)
		return -errno;
	if (vdso_off < 0)
		return (int)vdso_off;
	if ((r = gears_linux__read_u64(sc->l, t->mm + (uint64_t)vdso_off, &vdso)))
		return r;
	if (!vdso || vdso >= USER_TOP)
		return gears_err(ENOENT, "process %d has no vDSO", t->tgid);
	/* The vDSO's text is two pages at most; find `0f 05` (syscall). */
	{
		uint8_t text[8192];
		size_t got = sizeof(text);

		/* Only what was read is scanned (a second page may not be there). */
		if (gears_vmem__read(sc->mem, t->pgd, sc->levels, vdso, text, got)) {
			got = 4096;
			if ((r = gears_vmem__read(sc->mem, t->pgd, sc->levels, vdso, text, got)))
				return r;
		}
		for (size_t i = 0; i + 1 < got; i++)
			if (text[i] == 0x0f && text[i + 1] == 0x05) {
				gadget = vdso + i;
				break;
			}
	}
	if (!gadget)
		return gears_err(ENOENT, "no syscall instruction in the vDSO of %d", t->tgid);
	if ((r = gears_gdb__stop(g, NULL)))
		return r;
	for (int cpu = 0; cpu < gears_gdb__ncpus(g) && !found; cpu++) {
		struct gears_regs gr;
		struct gears_task cur;

		if (gears_gdb__regs(g, cpu, &gr) || (gr.cs & 3) != 3)
			continue;
		if (gears_linux__current(sc->l, cpu, &cur) || cur.addr != t->addr)
			continue;
		inj->forced_regs = (struct sc_uregs){
			.r15 = gr.r15, .r14 = gr.r14, .r13 = gr.r13, .r12 = gr.r12, .bp = gr.rbp,
			.bx = gr.rbx, .r11 = gr.r11, .r10 = gr.r10, .r9 = gr.r9, .r8 = gr.r8,
			.ax = gr.rax, .cx = gr.rcx, .dx = gr.rdx, .si = gr.rsi, .di = gr.rdi,
			.ip = gr.rip, .flags = gr.eflags, .sp = gr.rsp,
		};
		inj->forced_gadget = gadget;
		inj->forced = true;
		if (!(r = gears_gdb__set_reg(g, cpu, GEARS_REG_RAX, NR_GETPID)))
			r = gears_gdb__set_reg(g, cpu, GEARS_REG_RIP, gadget);
		found = r ? r : 1;
	}
	r = found < 0 ? found : 0;
	gdb_done(sc, g);
	return r ? r : found ? 0 : -EAGAIN;
}

bool gears_inject__step(struct gears_inject *inj)
{
	uint64_t now = gears_now_ns();
	struct find_task f = { .tid = inj->tid, .pid = inj->pid };
	int r;

	if (inj->state == GEARS_INJECT_DONE || inj->state == GEARS_INJECT_FAILED)
		return true;
	if (now - inj->t0 > inj->o.timeout_ms * 1000000ull) {
		inj->hostage = false;	/* giving up on it */
		if (inj->state == GEARS_INJECT_ARMED)
			fail(inj, ETIMEDOUT, "thread %d made no system call within %u ms", inj->tid ?: inj->pid,
			     inj->o.timeout_ms);
		else
			fail(inj, ETIMEDOUT, "the payload did not finish within %u ms (state %d)",
			     inj->o.timeout_ms, inj->state);
		return true;
	}
	if (now - inj->t0 < KICK_FIRST_MS * 1000000ull || now - inj->last_kick < KICK_EVERY_MS * 1000000ull)
		return false;
	inj->last_kick = now;
	/* Is the target still there (a payload can crash it)? */
	r = gears_linux__for_each_task(inj->sc->l, true, 65536, find_cb, &f);
	if (r < 0)
		return false;
	if (!f.found || f.t.state == 'Z' || f.t.state == 'X') {
		inj->hostage = false;	/* nothing left to restore */
		if (inj->state == GEARS_INJECT_ARMED)
			fail(inj, ESRCH, "no process %d in the guest", inj->tid ?: inj->pid);
		else
			fail(inj, ESRCH, "thread %d exited during the injection (state %d)", inj->tid, inj->state);
		return true;
	}
	if (inj->state != GEARS_INJECT_ARMED || inj->o.no_kick || inj->forced)
		return false;
	if (!f.t.mm) {
		fail(inj, EINVAL, "%d is a kernel thread", f.t.pid);
		return true;
	}
	inj->kicks++;
	if (f.t.state == 'S') {
		if (!inj->how || !strcmp(inj->how, "syscall"))
			inj->how = "woken";
		r = wake(inj, &f.t);
	} else if (f.t.state == 'R') {
		r = stop_and_divert(inj, &f.t);
		if (r == -EAGAIN)
			r = 0;	/* not on a vCPU just now: next time */
	} else {
		r = 0;		/* D, T, t: it will come back by itself or not at all */
	}
	pr_debug("inject: kick %d of %d (state %c): %s, %.1f ms", inj->kicks, f.t.pid, f.t.state,
		 r < 0 ? strerror(-r) : "ok", (double)(gears_now_ns() - now) / 1e6);
	return false;
}

struct gears_inject *gears_inject__start(struct gears_sc *sc, const struct gears_payload *p,
					 const struct gears_inject_opts *o)
{
	struct gears_inject *inj;
	size_t need = 0;
	int r;

	if (!sc || !p || !o || (!o->pid && !o->tid) || o->pid < 0 || o->tid < 0) {
		errno = -gears_err(EINVAL, "inject: a payload and a target pid or tid are needed");
		return NULL;
	}
	if (o->argc < 0 || o->argc > GEARS_PAYLOAD_MAX_ARGS || (o->argc && !o->argv)) {
		errno = -gears_err(E2BIG, "inject: at most %d payload arguments", GEARS_PAYLOAD_MAX_ARGS);
		return NULL;
	}
	if (o->blob_len > MAX_IMAGE || (o->blob_len && !o->blob)) {
		errno = -gears_err(E2BIG, "inject: extra data over %u MiB", MAX_IMAGE >> 20);
		return NULL;
	}
	for (int i = 0; i < o->argc; i++) {
		if (!o->argv[i] || strlen(o->argv[i]) > 4096) {
			errno = -gears_err(EINVAL, "inject: payload argument %d missing or over 4 KiB", i);
			return NULL;
		}
		need += strlen(o->argv[i]) + 1;
	}
	inj = calloc(1, sizeof(*inj));
	if (!inj) {
		errno = ENOMEM;
		return NULL;
	}
	inj->sc = sc;
	inj->o = *o;
	inj->o.timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	inj->tid = o->tid;
	inj->pid = o->tid ? 0 : o->pid;
	inj->argbuf = malloc(need + 1);
	inj->argbuf_len = need;
	if (!inj->argbuf)
		goto nomem;
	for (size_t at = 0, i = 0; i < (size_t)o->argc; i++) {
		size_t l = strlen(o->argv[i]) + 1;

		memcpy(inj->argbuf + at, o->argv[i], l);
		at += l;
	}
	inj->o.argv = NULL;
	/* Layout: image | args + strings | blob | stack, each page-aligned. */
	inj->p = p;
	inj->img_size = (gears_payload__size(p) + PAGE - 1) & ~(PAGE - 1);
	inj->args_off = inj->img_size;
	inj->blob_off = inj->args_off + ((sizeof(struct gears_payload_args) + need + PAGE - 1) & ~(PAGE - 1));
	inj->stack_off = inj->blob_off + ((o->blob_len + PAGE - 1) & ~(PAGE - 1));
	inj->total = inj->stack_off + STACK_SIZE;
	if (inj->img_size == 0 || inj->total > MAX_IMAGE + (MAX_IMAGE / 2)) {
		gears_err(EFBIG, "inject: %zu bytes to map is too much", inj->total);
		errno = EFBIG;
		goto out;
	}
	inj->nx = gears_payload__exec_ranges(p, inj->xoff, inj->xlen, (int)ARRAY_SIZE(inj->xoff));
	if (inj->nx <= 0) {
		errno = inj->nx < 0 ? -inj->nx : ENOEXEC;
		gears_err(ENOEXEC, "inject: the payload has no code");
		goto out;
	}
	inj->t0 = gears_now_ns();
	inj->state = GEARS_INJECT_ARMED;
	r = gears_sc__add(sc, GEARS_SC_ALL, GEARS_SC_SYNC | GEARS_SC_ON_ENTRY | GEARS_SC_ON_EXIT_ASKED, on_call,
			  inj);
	if (r < 0) {
		errno = -r;
		goto out;
	}
	inj->hid = r;
	r = gears_sc__add_hcall(sc, GEARS_HC_PAYLOAD_DONE, GEARS_HC_LOG, on_hcall, inj);
	if (r < 0) {
		errno = -r;
		goto out;
	}
	inj->hcid = r;
	return inj;
nomem:
	errno = ENOMEM;
out:
	gears_inject__free(inj);
	return NULL;
}

void gears_inject__result(const struct gears_inject *inj, struct gears_inject_result *r)
{
	memset(r, 0, sizeof(*r));
	r->state = inj->state;
	r->error = inj->err;
	snprintf(r->why, sizeof(r->why), "%s", inj->why);
	r->result = inj->result;
	r->tid = inj->tid;
	r->pid = inj->pid;
	r->base = inj->base;
	r->size = inj->total;
	r->how = inj->how;
	r->ns_taken = inj->t_taken ? inj->t_taken - inj->t0 : 0;
	r->ns_total = inj->t_end ? inj->t_end - inj->t0 : 0;
	r->syscalls = inj->syscalls;
	r->leaked = inj->leaked;
}

void gears_inject__free(struct gears_inject *inj)
{
	if (!inj)
		return;
	if (inj->hostage)
		pr_warn("inject: abandoned while thread %d was still ours (state %d)", inj->tid, inj->state);
	if (inj->hid > 0)
		gears_sc__remove(inj->sc, inj->hid);
	if (inj->hcid > 0)
		gears_sc__remove_hcall(inj->sc, inj->hcid);
	free(inj->argbuf);
	free(inj);
}

int gears_inject__run(struct gears_sc *sc, const struct gears_payload *p, const struct gears_inject_opts *o,
		      struct gears_inject_result *res)
{
	struct gears_inject *inj = gears_inject__start(sc, p, o);
	int r = 0;

	if (!inj)
		return -errno;
	while (!gears_inject__step(inj)) {
		r = gears_sc__poll(sc, 2000);
		if (r < 0) {
			inj->hostage = false;	/* giving up on it */
			fail(inj, r, "the VM went away");
			break;
		}
	}
	gears_inject__result(inj, res);
	gears_inject__free(inj);
	return res->state == GEARS_INJECT_DONE ? 0 : res->error ? res->error : -EIO;
}
