/* SPDX-License-Identifier: MIT */
/* Internals of system call interception shared by lib/syscall*.c. */
#ifndef GEARS_SYSCALL_INT_H
#define GEARS_SYSCALL_INT_H

#include <gears/gdb.h>
#include <gears/linux.h>
#include <gears/region.h>
#include <gears/syscall.h>
#include <gears/vm.h>
#include <gears-guest/sc_abi.h>

#include <gears-guest/hypercall.h>

#include "internal.h"

#define SC_MAX_HANDLERS 64
#define SC_MAX_DENY 512
#define SC_MAX_SETTLE 4

struct gears_sc_call;
/* Told, once the answer to a sync call is settled, whether the guest applied
 * it (false: it had stopped waiting; nothing of the answer reached the call). */
typedef void (*sc_settle_fn)(struct gears_sc_call *c, bool applied, void *ctx);

struct sc_handler {
	int id;
	uint64_t set[GEARS_SC_NR_WORDS];	/* numbers it wants */
	unsigned flags;
	gears_sc_handler_fn fn;
	void *ctx;
};

struct gears_sc_call {
	struct gears_sc *sc;
	unsigned delivery;
	bool exit, compat;
	int nr;
	uint64_t args[6];
	int64_t ret;
	int pid, tid, ppid, cpu;
	char comm[16];
	uint64_t cr3, task, uip, usp, time_ns, entry_ns;
	uint64_t regs_va;		/* struct pt_regs * (sync, exit-return, compat) */
	const struct gears_sc_ev *ev;	/* ring */
	bool denied;
	/* changes requested by handlers */
	unsigned args_dirty;
	uint64_t new_args[6];
	bool nr_dirty, deny, ret_dirty, want_exit;
	int new_nr;
	int64_t deny_ret;	/* what a skipped call returns */
	int64_t new_ret;
	/* sync delivery: the request this call answers (the slot protocol in
	 * sc_abi.h), and the answer as it is staged */
	struct gears_sc_slot *slot;
	uint64_t seq;
	bool lost;			/* the guest gave up on it: nothing will be applied */
	uint64_t set_mask;		/* pt_regs words the answer replaces */
	uint64_t set_regs[GEARS_PTREGS_WORDS];
	struct {
		sc_settle_fn fn;
		void *ctx;
	} settle[SC_MAX_SETTLE];
	int nsettle;
};

struct sc_deny {			/* exit mode: a call between its two stops */
	uint64_t task;
	int nr;			/* the number it entered with */
	bool skip;		/* skipped by a handler: return `ret` */
	int64_t ret;
};

struct gears_sc {
	struct gears_vm *vm;
	struct gears_linux *l;
	struct gears_mem *mem;
	struct gears_region *region;
	uint64_t kcr3;
	int levels;
	unsigned sync_timeout_ms;
	unsigned ring_wait_ms;

	/* kernel facts */
	uint64_t entry64, do_syscall_64, call64;	/* LSTAR target, callee, call site */
	uint64_t int80_fn, call80;			/* compat: callee and call site (0: none) */
	uint8_t orig64[5], orig80[5];
	/* the kernel's calls to syscall_exit_to_user_mode(regs) on the syscall
	 * paths: the return hook (and exit mode's return breakpoints) go there */
	uint64_t exit_fn;
	struct sc_site {
		uint64_t va;
		bool compat;
		uint8_t orig[5];
	} exit_site[4];
	int nexit;
	uint64_t strncpy_nofault, copy_nofault, copy_to_nofault;
	uint64_t gs_current_task, gs_cpu_number;
	uint32_t off_pid, off_tgid, off_comm, off_parent;
	uint64_t tsc_khz;
	int ncpus;

	/* state */
	bool stub;
	bool bps;
	struct gears_sc_ctl *ctl;
	struct gears_sc_slot *slots;
	struct gears_sc_ev *ring;
	uint8_t *stage;			/* the guest CPUs' stage buffers (host view) */
	uint32_t stage_size;		/* bytes per CPU */
	uint64_t copy_wait_ns;		/* how long a guest CPU may take to copy a stage */
	uint64_t tail;
	uint64_t stuck_since;
	/* fault injection for tests (GEARS_FAULT_SLOW_ANSWER, see fault_init) */
	struct {
		bool armed, exit;
		int nr;
		unsigned ms;
		char comm[16];
	} fault;

	struct sc_handler h[SC_MAX_HANDLERS];
	int nh, next_id;
	struct sc_hcall {
		int id;
		long lo, hi;
		gears_sc_handler_fn fn;
		void *ctx;
	} hc[16];
	int nhc;

	unsigned bell_port;		/* doorbell I/O port (0: none) */
	long wake_off;			/* lib/inject.c: its wake-up trampoline in the region */
	struct gears_inject *orphans;	/* lib/inject.c: freed while their thread was still theirs */
	uint64_t patient[GEARS_SC_PATIENT];	/* ctl.patient, kept across installs */

	struct sc_deny deny[SC_MAX_DENY];
	struct gears_sc_stats st;
};

/* struct pt_regs, x86-64: the fixed layout of sc_abi.h, which read_facts checks
 * against the guest's BTF. The host reads and writes copies of it whole. */
struct sc_uregs {
	uint64_t r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags,
		sp, ss;
};
_Static_assert(sizeof(struct sc_uregs) == GEARS_PTREGS_SIZE, "pt_regs size");
_Static_assert(__builtin_offsetof(struct sc_uregs, r15) == GEARS_PTREGS_R15 &&
	       __builtin_offsetof(struct sc_uregs, bp) == GEARS_PTREGS_BP &&
	       __builtin_offsetof(struct sc_uregs, bx) == GEARS_PTREGS_BX &&
	       __builtin_offsetof(struct sc_uregs, r11) == GEARS_PTREGS_R11 &&
	       __builtin_offsetof(struct sc_uregs, r10) == GEARS_PTREGS_R10 &&
	       __builtin_offsetof(struct sc_uregs, r9) == GEARS_PTREGS_R9 &&
	       __builtin_offsetof(struct sc_uregs, r8) == GEARS_PTREGS_R8 &&
	       __builtin_offsetof(struct sc_uregs, ax) == GEARS_PTREGS_AX &&
	       __builtin_offsetof(struct sc_uregs, cx) == GEARS_PTREGS_CX &&
	       __builtin_offsetof(struct sc_uregs, dx) == GEARS_PTREGS_DX &&
	       __builtin_offsetof(struct sc_uregs, si) == GEARS_PTREGS_SI &&
	       __builtin_offsetof(struct sc_uregs, di) == GEARS_PTREGS_DI &&
	       __builtin_offsetof(struct sc_uregs, orig_ax) == GEARS_PTREGS_ORIG_AX &&
	       __builtin_offsetof(struct sc_uregs, ip) == GEARS_PTREGS_IP &&
	       __builtin_offsetof(struct sc_uregs, cs) == GEARS_PTREGS_CS &&
	       __builtin_offsetof(struct sc_uregs, flags) == GEARS_PTREGS_FLAGS &&
	       __builtin_offsetof(struct sc_uregs, sp) == GEARS_PTREGS_SP &&
	       __builtin_offsetof(struct sc_uregs, ss) == GEARS_PTREGS_SS, "pt_regs layout");

/* Offsets of the argument registers, in argument order: [0] x86-64, [1] i386. */
extern const uint32_t sc_arg_off[2][6];

/* The pt_regs word at byte offset `off` of a copy. */
static inline uint64_t sc_ureg(const struct sc_uregs *u, uint32_t off)
{
	return ((const uint64_t *)u)[off / 8];
}

/* lib/syscall.c */
int sc_dispatch(struct gears_sc *sc, struct gears_sc_call *c);
int sc_read_regs(struct gears_sc *sc, uint64_t regs_va, struct sc_uregs *u);
int sc_write_reg(struct gears_sc *sc, uint64_t regs_va, uint32_t off, uint64_t v);
int sc_task_info(struct gears_sc *sc, uint64_t task, struct gears_sc_call *c);
uint64_t sc_tsc_ns(const struct gears_sc *sc, uint64_t tsc);
/* A call's arguments, return value, user IP and SP from a copy of its pt_regs. */
void sc_call_fill(struct gears_sc_call *c, const struct sc_uregs *u);
/* Sync delivery: the answer replaces pt_regs word at byte offset `off`. */
void sc_call_stage_reg(struct gears_sc_call *c, uint32_t off, uint64_t v);
/* Sync delivery: have the waiting guest thread write `len` bytes at user `va`
 * (pages present, user and writable) before it goes on. 0, -EACCES, -EFAULT,
 * -ECANCELED (the guest stopped waiting: nothing more of this call's answer
 * will be applied), -ETIMEDOUT, -ENOTSUP (no copy_to_user_nofault). */
int sc_call_copy(struct gears_sc_call *c, uint64_t va, const void *buf, size_t len);
/* Be told how the answer to this call was settled (sync delivery; other
 * deliveries apply changes at once and tell `applied` = true). */
int sc_call_on_settle(struct gears_sc_call *c, sc_settle_fn fn, void *ctx);
void sc_call_settle(struct gears_sc_call *c, bool applied);
/* A task held in the middle of something (an injection): its requests wait
 * for a claim as long as for an answer (ctl.patient), so that a host starved of
 * CPU for a moment does not leave it halfway. */
void sc_hold_task(struct gears_sc *sc, uint64_t task, bool hold);
/* Serve every posted request and drain the ring once (the fuzzer's entry). */
int sc_serve(struct gears_sc *sc);

/* lib/syscall_call.c: all user registers of a sync or exit-mode return call
 * (read; replace, keeping CS/SS, sanitising flags, orig_ax = -1). */
int sc_call_uregs(const struct gears_sc_call *c, struct sc_uregs *u);
int sc_call_set_uregs(struct gears_sc_call *c, const struct sc_uregs *u);

/* lib/inject.c: finish with injections freed while their thread was still
 * taken (sc->orphans), once it is restored or gone; all: every one, now. */
void inject_reap(struct gears_sc *sc, bool all);

/* lib/syscall_exit.c: exit mode (gdbstub breakpoints) */
int sc_bps_install(struct gears_sc *sc);
void sc_bps_remove(struct gears_sc *sc);
int sc_exit_poll(struct gears_sc *sc, int timeout_us);

#endif
