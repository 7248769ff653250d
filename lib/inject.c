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

/* What the state machine remembers of itself before an answer, to go back to
 * if the guest never applies it (sc_call_on_settle). */
struct step_state {
	enum gears_inject_state state;
	bool hostage, asked;
	uint64_t expect_ip, t_end;
};

struct gears_inject {
	struct gears_sc *sc;
	struct gears_inject_opts o;
	enum gears_inject_state state;
	int err;
	char why[160];
	int hid, hcid;			/* handler ids */
	int tid, pid;			/* target (tid 0: any thread of pid) */

	/* the payload, laid out for `base` once known */
	const struct gears_payload *p;	/* the caller's, alive until the end (NULL once orphaned) */
	size_t img_size, args_off, blob_off, stack_off, total;
	uint64_t xoff[8], xlen[8];
	int nx, xi;
	char *argbuf;			/* argument strings, copied */
	size_t argbuf_len;

	/* the taken thread */
	uint64_t task;			/* its task_struct (held: sc_hold_task) */
	struct sc_uregs saved;		/* registers to restore */
	uint64_t gadget;		/* a `syscall` instruction in the target */
	uint64_t base;
	bool mapped;			/* our mapping is there (base valid) */
	bool asked;			/* we wait for the return of the call at expect_ip */
	uint64_t expect_ip;		/* user IP after that call's `syscall` */
	bool aborting;			/* no payload from now on: restore the thread next time */
	struct step_state before;	/* before the answer being given */
	bool answer_is_take, answer_is_done;
	int64_t result;
	const char *how;
	bool leaked;
	uint64_t syscalls;
	unsigned lost;			/* answers that did not reach the thread */

	/* kicks */
	uint64_t t0, t_taken, t_end, last_kick;
	bool hostage;			/* taken and not yet restored */
	bool forced;			/* taken through the gdbstub: `saved` came from there */
	uint64_t forced_gadget;
	struct sc_uregs forced_regs;
	int kicks;
	int missed_walks;	/* walks of the running guest that did not see the target */

	/* freed while the thread was still ours: the engine restores it (sc->orphans) */
	struct gears_inject *next_orphan;
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
	inj->aborting = true;
	pr_debug("inject: %s", inj->why);
	/* A thread still ours ends FAILED when restore() has put it back. */
	if (!inj->hostage) {
		inj->state = GEARS_INJECT_FAILED;
		inj->t_end = gears_now_ns();
	}
}

/* Was our answer applied? If not (the guest had stopped waiting, and went on
 * as if we had said nothing), go back to where we were before it. */
static void settled(struct gears_sc_call *c, bool applied, void *ctx)
{
	struct gears_inject *inj = ctx;

	(void)c;
	if (applied)
		return;
	inj->lost++;
	inj->state = inj->before.state;
	inj->hostage = inj->before.hostage;
	inj->asked = inj->before.asked;
	inj->expect_ip = inj->before.expect_ip;
	inj->t_end = inj->before.t_end;
	if (inj->answer_is_take) {
		/* Its call went on unchanged: not taken after all. */
		sc_hold_task(inj->sc, inj->task, false);
		inj->task = 0;
		inj->tid = inj->o.tid;
		inj->pid = inj->o.tid ? 0 : inj->o.pid;
		inj->t_taken = 0;
	} else if (!inj->answer_is_done) {
		/* The thread went back to user space as our previous step left
		 * it: it is reeled in at its next system call (escaped()). */
		pr_debug("inject: an answer to thread %d came too late", inj->tid);
	}
	/* (The payload's GEARS_HC_PAYLOAD_DONE got -ETIMEDOUT: it asks again.) */
}

/* About to answer the target's call `c`: remember how things were, and learn
 * whether the answer is applied. */
static void answering(struct gears_inject *inj, struct gears_sc_call *c)
{
	inj->before = (struct step_state){ .state = inj->state, .hostage = inj->hostage, .asked = inj->asked,
					   .expect_ip = inj->expect_ip, .t_end = inj->t_end };
	inj->answer_is_take = inj->state == GEARS_INJECT_ARMED;
	inj->answer_is_done = c->nr == (int)GEARS_HCALL_NR;
	sc_call_on_settle(c, settled, inj);
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
	inj->asked = false;	/* its entry at the gadget comes next */
	return sc_call_set_uregs(c, &u);
}

/* At this entry or return: the thread goes back to the call it was taken at. */
static void restore(struct gears_inject *inj, struct gears_sc_call *c)
{
	if (sc_call_set_uregs(c, &inj->saved))
		fail(inj, EFAULT, "could not restore the registers of thread %d", inj->tid);
	sc_hold_task(inj->sc, inj->task, false);
	inj->hostage = false;
	inj->asked = false;
	inj->state = inj->err ? GEARS_INJECT_FAILED : GEARS_INJECT_DONE;
	inj->t_end = gears_now_ns();
}

/* The mapping goes (munmap through the gadget), then restore() at its return. */
static void unmap(struct gears_inject *inj, struct gears_sc_call *c)
{
	inj->state = GEARS_INJECT_UNMAPPING;
	if (issue(inj, c, NR_MUNMAP, inj->base, inj->total, 0))
		restore(inj, c);
}

static bool is_target(const struct gears_inject *inj, const struct gears_sc_call *c)
{
	return inj->tid ? c->tid == inj->tid : c->pid == inj->pid;
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
	uint8_t *img = calloc(1, inj->stack_off);
	int r;

	if (!img) {
		fail(inj, ENOMEM, "out of memory for a %zu-byte image", inj->stack_off);
		unmap(inj, c);
		return;
	}
	r = gears_payload__image(inj->p, inj->base, img, inj->img_size);
	if (!r)
		r = build_args(inj, img);
	/* The waiting thread writes it into the pages it just got zeroed for
	 * MAP_POPULATE; the stack stays as those zeroes. */
	if (!r)
		r = gears_sc_call__write(c, inj->base, img, inj->stack_off);
	free(img);
	if (r) {
		fail(inj, r, "writing the payload at 0x%" PRIx64 ": %s", inj->base, strerror(-r));
		unmap(inj, c);
		return;
	}
	inj->state = GEARS_INJECT_PROTECTING;
	inj->xi = 0;
	if (issue(inj, c, NR_MPROTECT, inj->base + inj->xoff[0], inj->xlen[0], 5 /* PROT_READ|PROT_EXEC */)) {
		inj->hostage = false;	/* giving up on it */
		fail(inj, EFAULT, "could not set the target's registers");
	}
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

/* Is this thread another injection's, still to be restored? */
static bool held_by_other(const struct gears_inject *inj, int tid)
{
	for (const struct gears_inject *o = inj->sc->orphans; o; o = o->next_orphan)
		if (o != inj && o->hostage && o->tid == tid)
			return true;
	return false;
}

/* Take the thread at a system call entry. */
static void take(struct gears_inject *inj, struct gears_sc_call *c)
{
	struct sc_uregs u;
	uint8_t insn[2];

	if (held_by_other(inj, c->tid) || sc_call_uregs(c, &u))
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
	answering(inj, c);
	inj->tid = c->tid;
	inj->pid = c->pid;
	inj->task = c->task;
	sc_hold_task(inj->sc, c->task, true);
	inj->t_taken = gears_now_ns();
	inj->hostage = true;
	inj->state = GEARS_INJECT_MAPPING;
	inj->asked = true;
	inj->expect_ip = c->uip;
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

/*
 * A system call of the thread while it should be inside one of ours: an answer
 * of ours did not reach it (the guest stopped waiting for gears), and it went
 * back to user space with the registers our previous step gave it. Whatever it
 * did since is beyond repair; from here it is restored: this call becomes the
 * munmap of our mapping if there is one, and the return of that, restore().
 */
static void escaped(struct gears_inject *inj, struct gears_sc_call *c)
{
	pr_debug("inject: thread %d got away in state %d; restoring it", inj->tid, inj->state);
	fail(inj, ETIMEDOUT, "gears answered thread %d too late (state %d); it was restored at its next "
	     "system call", inj->tid, inj->state);
	answering(inj, c);
	if (!inj->mapped) {
		inj->leaked = inj->state == GEARS_INJECT_MAPPING;	/* its mmap may have been made */
		restore(inj, c);
		return;
	}
	inj->state = GEARS_INJECT_UNMAPPING;
	inj->asked = true;
	inj->expect_ip = c->uip;
	gears_sc_call__want_exit(c);
	gears_sc_call__set_nr(c, NR_MUNMAP);
	gears_sc_call__set_arg(c, 0, inj->base);
	gears_sc_call__set_arg(c, 1, inj->total);
}

static void on_entry(struct gears_inject *inj, struct gears_sc_call *c)
{
	switch (inj->state) {
	case GEARS_INJECT_ARMED:
		if (!inj->aborting)
			take(inj, c);
		break;
	case GEARS_INJECT_RUNNING:
		inj->syscalls++;	/* the payload's own (left to finish when aborting) */
		break;
	case GEARS_INJECT_MAPPING:
	case GEARS_INJECT_PROTECTING:
	case GEARS_INJECT_UNMAPPING:
		if (!inj->asked && inj->state != GEARS_INJECT_MAPPING && c->uip == inj->gadget + 2) {
			/* The call we sent it to make: ask for its return. */
			answering(inj, c);
			inj->asked = true;
			inj->expect_ip = c->uip;
			gears_sc_call__want_exit(c);
		} else {
			escaped(inj, c);
		}
		break;
	default:
		break;
	}
}

static void on_return(struct gears_inject *inj, struct gears_sc_call *c)
{
	int64_t ret = c->ret;

	if (!inj->asked || c->uip != inj->expect_ip)
		return;		/* not a call we asked about */
	answering(inj, c);
	inj->asked = false;
	switch (inj->state) {
	case GEARS_INJECT_MAPPING:
		if (ret < 0 || (uint64_t)ret >= USER_TOP || (uint64_t)ret % PAGE) {
			fail(inj, ret < 0 ? (int)ret : EFAULT, "mmap in the target failed: %" PRId64, ret);
			restore(inj, c);
			break;
		}
		inj->base = (uint64_t)ret;
		inj->mapped = true;
		if (inj->aborting)
			unmap(inj, c);
		else
			load(inj, c);
		break;
	case GEARS_INJECT_PROTECTING:
		if (ret < 0)
			fail(inj, (int)ret, "mprotect in the target failed: %" PRId64, ret);
		if (inj->aborting)
			unmap(inj, c);
		else if (++inj->xi < inj->nx)
			issue(inj, c, NR_MPROTECT, inj->base + inj->xoff[inj->xi], inj->xlen[inj->xi], 5);
		else
			run_payload(inj, c);
		break;
	case GEARS_INJECT_UNMAPPING:
		if (ret < 0)
			inj->leaked = true;
		else
			inj->mapped = false;
		restore(inj, c);
		break;
	default:
		break;
	}
}

static int on_call(struct gears_sc_call *c, void *ctx)
{
	struct gears_inject *inj = ctx;

	if (!is_target(inj, c) || c->compat || inj->state == GEARS_INJECT_DONE || inj->state == GEARS_INJECT_FAILED)
		return 0;
	if (!c->exit)
		on_entry(inj, c);
	else if (c->tid == inj->tid)
		on_return(inj, c);
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
	answering(inj, c);
	inj->result = (int64_t)gears_sc_call__arg(c, 1);
	/* The hypercall leaves through IRET with the munmap's registers. */
	unmap(inj, c);
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
		/* Its getpid must be answered: unanswered, it would run on in the
		 * vDSO with its own registers. */
		inj->task = t->addr;
		sc_hold_task(sc, t->addr, true);
		if (!(r = gears_gdb__set_reg(g, cpu, GEARS_REG_RAX, NR_GETPID)))
			r = gears_gdb__set_reg(g, cpu, GEARS_REG_RIP, gadget);
		found = r ? r : 1;
	}
	r = found < 0 ? found : 0;
	gdb_done(sc, g);
	return r ? r : found ? 0 : -EAGAIN;
}

/* Is the target still there (a payload can crash it)? 1 yes, 0 gone (the
 * injection has failed), negative: cannot tell now. */
static int target_alive(struct gears_inject *inj, struct find_task *f)
{
	struct gears_sc *sc = inj->sc;
	struct gears_gdb *g;
	int r;

	f->found = false;
	if ((r = gears_linux__for_each_task(sc->l, true, 65536, find_cb, f)) < 0)
		return r;
	if (!f->found) {
		/* A walk of a running guest can miss a task: the list changes under
		 * it (a task it stands on unlinked, freed and reused before it reads
		 * the next one). Absence is only believed from a walk with every
		 * vCPU stopped, where the list holds still. */
		if (!(g = gears_vm__gdb(sc->vm)))
			return -errno;
		r = gears_gdb__stop(g, NULL);
		if (!r)
			r = gears_linux__for_each_task(sc->l, true, 65536, find_cb, f);
		gdb_done(sc, g);
		if (r < 0)
			return r;
		if (f->found)
			pr_debug("inject: walk %d of the running guest missed %d; the stopped walk found it",
				 ++inj->missed_walks, f->tid ?: f->pid);
	}
	if (f->found && f->t.state != 'Z' && f->t.state != 'X')
		return 1;
	sc_hold_task(inj->sc, inj->task, false);
	inj->hostage = false;	/* nothing left to restore */
	if (inj->state == GEARS_INJECT_ARMED)
		fail(inj, ESRCH, "no process %d in the guest", inj->tid ?: inj->pid);
	else
		fail(inj, ESRCH, "thread %d exited during the injection (state %d)", inj->tid, inj->state);
	return 0;
}

/* Make a quiet target enter the kernel, where it is taken. */
static void kick(struct gears_inject *inj, const struct gears_task *t)
{
	uint64_t t0 = gears_now_ns();
	int r = 0;

	inj->kicks++;
	if (t->state == 'S') {
		if (!inj->how || !strcmp(inj->how, "syscall"))
			inj->how = "woken";
		r = wake(inj, t);
	} else if (t->state == 'R') {
		r = stop_and_divert(inj, t);
		if (r == -EAGAIN)
			r = 0;	/* not on a vCPU just now: next time */
	}
	/* D, T, t: it will come back by itself or not at all */
	pr_debug("inject: kick %d of %d (state %c): %s, %.1f ms", inj->kicks, t->pid, t->state,
		 r < 0 ? strerror(-r) : "ok", (double)(gears_now_ns() - t0) / 1e6);
}

bool gears_inject__step(struct gears_inject *inj)
{
	uint64_t now = gears_now_ns();
	struct find_task f = { .tid = inj->tid, .pid = inj->pid };

	if (inj->state == GEARS_INJECT_DONE || inj->state == GEARS_INJECT_FAILED)
		return true;
	if (now - inj->t0 > inj->o.timeout_ms * 1000000ull) {
		/* A thread that is ours stays in the state machine, which now
		 * only restores it (after the payload, if that already runs). */
		if (inj->state == GEARS_INJECT_ARMED)
			fail(inj, ETIMEDOUT, "thread %d made no system call within %u ms", inj->tid ?: inj->pid,
			     inj->o.timeout_ms);
		else
			fail(inj, ETIMEDOUT, "the payload did not finish within %u ms (state %d; the thread was "
			     "taken after %.0f ms); the target is restored as soon as it next runs", inj->o.timeout_ms,
			     inj->state, inj->t_taken ? (double)(inj->t_taken - inj->t0) / 1e6 : -1.0);
		return true;
	}
	if (now - inj->t0 < KICK_FIRST_MS * 1000000ull || now - inj->last_kick < KICK_EVERY_MS * 1000000ull)
		return false;
	inj->last_kick = now;
	if (target_alive(inj, &f) <= 0)
		return inj->state == GEARS_INJECT_FAILED;
	if (inj->state != GEARS_INJECT_ARMED || inj->aborting || inj->o.no_kick || inj->forced)
		return false;
	if (!f.t.mm) {
		fail(inj, EINVAL, "%d is a kernel thread", f.t.pid);
		return true;
	}
	kick(inj, &f.t);
	return false;
}

/* The options, checked; the bytes the argument strings need, or -errno. */
static long check_opts(const struct gears_sc *sc, const struct gears_payload *p, const struct gears_inject_opts *o)
{
	long need = 0;

	if (!sc || !p || !o || (!o->pid && !o->tid) || o->pid < 0 || o->tid < 0)
		return gears_err(EINVAL, "inject: a payload and a target pid or tid are needed");
	if (o->argc < 0 || o->argc > GEARS_PAYLOAD_MAX_ARGS || (o->argc && !o->argv))
		return gears_err(E2BIG, "inject: at most %d payload arguments", GEARS_PAYLOAD_MAX_ARGS);
	if (o->blob_len > MAX_IMAGE || (o->blob_len && !o->blob))
		return gears_err(E2BIG, "inject: extra data over %u MiB", MAX_IMAGE >> 20);
	for (int i = 0; i < o->argc; i++) {
		if (!o->argv[i] || strlen(o->argv[i]) > 4096)
			return gears_err(EINVAL, "inject: payload argument %d missing or over 4 KiB", i);
		need += (long)strlen(o->argv[i]) + 1;
	}
	return need;
}

/* What gets mapped: image | args + strings | blob | stack, each page-aligned. */
static int lay_out(struct gears_inject *inj, const struct gears_payload *p, size_t need)
{
	inj->p = p;
	inj->img_size = (gears_payload__size(p) + PAGE - 1) & ~(PAGE - 1);
	inj->args_off = inj->img_size;
	inj->blob_off = inj->args_off + ((sizeof(struct gears_payload_args) + need + PAGE - 1) & ~(PAGE - 1));
	inj->stack_off = inj->blob_off + ((inj->o.blob_len + PAGE - 1) & ~(PAGE - 1));
	inj->total = inj->stack_off + STACK_SIZE;
	if (inj->img_size == 0 || inj->total > MAX_IMAGE + (MAX_IMAGE / 2))
		return gears_err(EFBIG, "inject: %zu bytes to map is too much", inj->total);
	inj->nx = gears_payload__exec_ranges(p, inj->xoff, inj->xlen, (int)ARRAY_SIZE(inj->xoff));
	if (inj->nx <= 0)
		return gears_err(ENOEXEC, "inject: the payload has no code");
	return 0;
}

struct gears_inject *gears_inject__start(struct gears_sc *sc, const struct gears_payload *p,
					 const struct gears_inject_opts *o)
{
	struct gears_inject *inj;
	long need = check_opts(sc, p, o);
	int r;

	if (need < 0) {
		errno = (int)-need;
		return NULL;
	}
	inj = calloc(1, sizeof(*inj));
	if (!inj || !(inj->argbuf = malloc((size_t)need + 1))) {
		free(inj);
		errno = ENOMEM;
		return NULL;
	}
	inj->sc = sc;
	inj->o = *o;
	inj->o.timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	inj->tid = o->tid;
	inj->pid = o->tid ? 0 : o->pid;
	inj->argbuf_len = (size_t)need;
	for (size_t at = 0, i = 0; i < (size_t)o->argc; i++) {
		size_t l = strlen(o->argv[i]) + 1;

		memcpy(inj->argbuf + at, o->argv[i], l);
		at += l;
	}
	inj->o.argv = NULL;
	if ((r = lay_out(inj, p, (size_t)need)))
		goto out;
	inj->t0 = gears_now_ns();
	inj->state = GEARS_INJECT_ARMED;
	r = gears_sc__add(sc, GEARS_SC_ALL, GEARS_SC_SYNC | GEARS_SC_ON_ENTRY | GEARS_SC_ON_EXIT_ASKED, on_call,
			  inj);
	if (r < 0)
		goto out;
	inj->hid = r;
	r = gears_sc__add_hcall(sc, GEARS_HC_PAYLOAD_DONE, GEARS_HC_LOG, on_hcall, inj);
	if (r < 0)
		goto out;
	inj->hcid = r;
	return inj;
out:
	gears_inject__free(inj);
	errno = -r;
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

static void inject_release(struct gears_inject *inj)
{
	sc_hold_task(inj->sc, inj->task, false);
	if (inj->hid > 0)
		gears_sc__remove(inj->sc, inj->hid);
	if (inj->hcid > 0)
		gears_sc__remove_hcall(inj->sc, inj->hcid);
	free(inj->argbuf);
	free(inj);
}

void gears_inject__free(struct gears_inject *inj)
{
	if (!inj)
		return;
	if (inj->hostage && gears_vm__alive(inj->sc->vm)) {
		/* The thread is still ours: its handlers stay, and the engine
		 * restores it as soon as it next runs (inject_reap frees this). */
		fail(inj, ECANCELED, "abandoned while thread %d was ours (state %d)", inj->tid, inj->state);
		inj->aborting = true;
		inj->p = NULL;	/* the caller's; never needed again when aborting */
		inj->next_orphan = inj->sc->orphans;
		inj->sc->orphans = inj;
		pr_info("inject: thread %d is restored when it next runs (state %d)", inj->tid, inj->state);
		return;
	}
	if (inj->hostage)
		pr_warn("inject: the VM went away while thread %d was ours (state %d)", inj->tid, inj->state);
	inject_release(inj);
}

void inject_reap(struct gears_sc *sc, bool all)
{
	for (struct gears_inject **pp = &sc->orphans; *pp;) {
		struct gears_inject *inj = *pp;

		if (!all && inj->hostage && gears_now_ns() - inj->last_kick > KICK_EVERY_MS * 1000000ull) {
			struct find_task f = { .tid = inj->tid };

			inj->last_kick = gears_now_ns();
			target_alive(inj, &f);
		}
		if (!all && inj->hostage) {
			pp = &inj->next_orphan;
			continue;
		}
		if (inj->hostage)
			pr_warn("inject: thread %d left in state %d: gears is detaching", inj->tid, inj->state);
		else
			pr_info("inject: thread %d restored after its injection ended: %s", inj->tid,
				inj->state == GEARS_INJECT_DONE ? "done" : inj->why);
		*pp = inj->next_orphan;
		inject_release(inj);
	}
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
