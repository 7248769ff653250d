/* SPDX-License-Identifier: MIT */
/*
 * The contract between the host (lib/syscall.c) and the guest-context system
 * call stub (guest/stubs/sc_stub.c) that runs inside the guest kernel from the
 * GEARS region. Both sides include this file; the stub is linked to run at
 * GEARS_REGION_VA, and everything below is at a fixed offset in the region.
 *
 * The guest kernel can write the region, so the host validates every value it
 * reads back (indices, lengths, addresses) before use.
 */
#ifndef GEARS_GUEST_SC_ABI_H
#define GEARS_GUEST_SC_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

#define GEARS_SC_ABI_VERSION	2
#define GEARS_SC_MAGIC		0x3143535241454721ull	/* "!GEARSC1" */

/* Region layout (offsets from the region's start). */
#define GEARS_SC_CODE_OFF	0x2000u		/* the stub, up to CODE_MAX bytes */
#define GEARS_SC_CODE_MAX	0x6000u
#define GEARS_SC_CTL_OFF	0x8000u		/* struct gears_sc_ctl */
#define GEARS_SC_SLOTS_OFF	0x9000u		/* struct gears_sc_slot[GEARS_SC_MAX_CPUS] */
#define GEARS_SC_MAX_CPUS	64u
#define GEARS_SC_SLOT_SIZE	512u
#define GEARS_SC_RING_OFF	0x11000u	/* struct gears_sc_ev[GEARS_SC_RING_SLOTS] */
#define GEARS_SC_RING_SLOTS	4096u		/* power of two */
#define GEARS_SC_EV_SIZE	256u
/* Staging for user memory a handler writes (see the slot protocol): one buffer
 * per CPU of ctl.stage_size bytes, CPU n's at STAGE_OFF + n * stage_size. */
#define GEARS_SC_STAGE_OFF	(GEARS_SC_RING_OFF + GEARS_SC_RING_SLOTS * GEARS_SC_EV_SIZE)
#define GEARS_SC_STAGE_SIZE	0x40000u
#define GEARS_SC_END		(GEARS_SC_STAGE_OFF + GEARS_SC_STAGE_SIZE)

#define GEARS_SC_PATIENT	4u	/* ctl.patient entries */

/* Syscall numbers covered by the per-number bitmaps. Higher numbers (x32,
 * garbage) always pass through, except the hypercall number. */
#define GEARS_SC_NR_MAX		512u

/* struct pt_regs on x86-64: the entry code's push order, also the layout of
 * ptrace's user_regs_struct. The stub uses these constants (a load per offset
 * costs under TCG); the host checks them against the guest's BTF. */
#define GEARS_PTREGS_R15	0
#define GEARS_PTREGS_R14	8
#define GEARS_PTREGS_R13	16
#define GEARS_PTREGS_R12	24
#define GEARS_PTREGS_BP		32
#define GEARS_PTREGS_BX		40
#define GEARS_PTREGS_R11	48
#define GEARS_PTREGS_R10	56
#define GEARS_PTREGS_R9		64
#define GEARS_PTREGS_R8		72
#define GEARS_PTREGS_AX		80
#define GEARS_PTREGS_CX		88
#define GEARS_PTREGS_DX		96
#define GEARS_PTREGS_SI		104
#define GEARS_PTREGS_DI		112
#define GEARS_PTREGS_ORIG_AX	120
#define GEARS_PTREGS_IP		128
#define GEARS_PTREGS_CS		136
#define GEARS_PTREGS_FLAGS	144
#define GEARS_PTREGS_SP		152
#define GEARS_PTREGS_SS		160
#define GEARS_PTREGS_SIZE	168
#define GEARS_PTREGS_WORDS	(GEARS_PTREGS_SIZE / 8)
/* The argument registers in argument order, as initialisers of a uint32_t[6]:
 * x86-64 di si dx r10 r8 r9; i386 (int 0x80) bx cx dx si di bp. */
#define GEARS_PTREGS_ARGS64	{ GEARS_PTREGS_DI, GEARS_PTREGS_SI, GEARS_PTREGS_DX, \
				  GEARS_PTREGS_R10, GEARS_PTREGS_R8, GEARS_PTREGS_R9 }
#define GEARS_PTREGS_ARGS32	{ GEARS_PTREGS_BX, GEARS_PTREGS_CX, GEARS_PTREGS_DX, \
				  GEARS_PTREGS_SI, GEARS_PTREGS_DI, GEARS_PTREGS_BP }

/* The hypercall: a `syscall` with this number never reaches the guest kernel
 * while GEARS is attached; without GEARS the kernel answers -ENOSYS. */
#define GEARS_HCALL_NR		0x4745u		/* "GE" */

/* Per-number selection bits (ctl.sel[nr]). */
#define GEARS_SC_SEL_RING_ENTRY	0x01u	/* record entry in the ring */
#define GEARS_SC_SEL_RING_EXIT	0x02u	/* record return in the ring */
#define GEARS_SC_SEL_SYNC_ENTRY	0x04u	/* ask the host at entry, wait for its answer */
#define GEARS_SC_SEL_SYNC_EXIT	0x08u	/* ask the host at return */
#define GEARS_SC_SEL_TIME	0x0080u	/* time the call: entry timestamp in return records
					 * (bit 7: the one free bit between the STR0 and
					 * STR1 fields; 0x4000 was inside ARGV's field) */
#define GEARS_SC_SEL_SAVE_ARGS	0x8000u	/* keep the entry's arguments for the return record
					 * (calls that change their registers: execve,
					 * rt_sigreturn; and calls whose strings are captured) */
/* Which arguments are NUL-terminated strings to capture into ring events
 * (bits 4..6: up to two string args + execve-style argv): */
#define GEARS_SC_SEL_STR0_SHIFT	4	/* 3 bits: index+1 of first string arg (0: none) */
#define GEARS_SC_SEL_STR1_SHIFT	8	/* 3 bits: index+1 of second string arg */
#define GEARS_SC_SEL_ARGV_SHIFT	12	/* 3 bits: index+1 of an argv-style array */

/* Event kinds. */
#define GEARS_SC_EV_ENTRY	1u
#define GEARS_SC_EV_EXIT	2u

/* Event flags. */
#define GEARS_SC_EVF_COMPAT	0x01u	/* 32-bit (int 0x80) system call */
#define GEARS_SC_EVF_TRUNC	0x02u	/* strings did not fit in data[] */
#define GEARS_SC_EVF_NOSTR	0x04u	/* a string argument could not be read */
#define GEARS_SC_EVF_DENIED	0x08u	/* exit of a call the host denied */

/*
 * Synchronous requests: the slot protocol.
 *
 * One slot per CPU, used only by code that runs with interrupts off on that
 * CPU: the entry hooks are called so, and the return hook turns them off
 * around its work (syscall_exit_to_user_mode runs with IRQs on, where a
 * preemptible kernel could give the CPU, and its slot, to another task in
 * the middle of a request, or move the waiting task to another CPU). So a
 * CPU's slot never holds two requests at once.
 *
 * slot.state is GEARS_SC_SLOT_WORD(seq, state): seq counts the CPU's requests,
 * and every transition is one compare-and-swap of the whole word, so that a
 * transition meant for one request can never act on a later one.
 *
 *   (any, seq-1)  -guest: request filled->        POSTED
 *   POSTED        -host claims->                  CLAIMED
 *   POSTED        -guest, sync_timeout passed->   ABANDONED   (never claimed)
 *   CLAIMED       -host staged a memory write->   COPY
 *   COPY          -guest copied it, copy_ret->    CLAIMED     (restarts sync_hard)
 *   CLAIMED       -host staged its answer->       DONE
 *   CLAIMED       -guest, sync_hard passed->      ABANDONED   (a late answer)
 *   DONE          -guest applied the answer->     IDLE
 *
 * The guest writes the request fields before POSTED and copy_ret in COPY; the
 * host writes the answer fields and the CPU's stage buffer only while it
 * holds CLAIMED, each time before the CAS that publishes them; the guest reads
 * them only after seeing COPY or DONE of its own seq. So:
 *  - the host never writes into the caller's pt_regs: the waiting guest applies
 *    the answer (set_regs, action) itself, and the single CAS out of CLAIMED
 *    (to DONE by the host, to ABANDONED by the guest) decides whether it is
 *    applied. A host whose CAS fails has answered late: it counts that, and
 *    nothing of its answer reaches the call, which went on unchanged;
 *  - user memory is written by the waiting thread itself, with the kernel's
 *    copy_to_user_nofault from the stage buffer, in COPY: a host that lost
 *    the race cannot enter COPY, so no write lands after the call went on
 *    (say into a stack it is using again, or an address space execve freed);
 *  - a guest that gives up (fail-open) never waits on a dead or stopped host
 *    for longer than sync_timeout (unclaimed) or sync_hard since the host's
 *    last sign of life (claimed).
 * One host serves a VM's slots, one request at a time.
 */
#define GEARS_SC_SLOT_IDLE	0u
#define GEARS_SC_SLOT_POSTED	1u	/* guest waits; host may claim */
#define GEARS_SC_SLOT_CLAIMED	2u	/* host is working on it */
#define GEARS_SC_SLOT_DONE	3u	/* host answered: set_regs, action valid */
#define GEARS_SC_SLOT_ABANDONED	4u	/* guest gave up waiting (host too slow) */
#define GEARS_SC_SLOT_COPY	5u	/* host staged copy_len bytes for copy_to */
#define GEARS_SC_SLOT_WORD(seq, st)	((uint64_t)(seq) << 8 | (st))
#define GEARS_SC_SLOT_STATE(w)	((uint32_t)((w) & 0xff))
#define GEARS_SC_SLOT_SEQ(w)	((w) >> 8)

/* Host answers. */
#define GEARS_SC_ACT_CONTINUE	0u	/* run the call (pt_regs with set_regs applied) */
#define GEARS_SC_ACT_DENY	1u	/* do not run it; return pt_regs->ax (from set_regs) */
#define GEARS_SC_ACT_SKIP	2u	/* hypercall answered: return pt_regs->ax, kernel never sees it */
#define GEARS_SC_ACT_MASK	0xffu
#define GEARS_SC_ACT_F_EXIT	0x100u	/* flag on an entry answer: ask again at this call's
					 * return (handlers that need only some returns) */

/* Slot kinds. */
#define GEARS_SC_REQ_ENTRY	1u
#define GEARS_SC_REQ_EXIT	2u
#define GEARS_SC_REQ_HCALL	3u

#define GEARS_SC_EV_DATA	104u

/* Offsets into struct gears_sc_ctl used by the stub's assembly fast path
 * (checked against the struct below). */
#define GEARS_SC_CTL_ORIG64	16
#define GEARS_SC_CTL_ANY	2392

/* The slow path keeps a frame of this many bytes right below the caller's
 * return address, i.e. at pt_regs - 8 - GEARS_SC_FRAME (the kernel calls with
 * %rsp = pt_regs), so the return hook, given only pt_regs, can find it.
 * 8 mod 16 keeps the stack aligned for calls. */
#define GEARS_SC_FRAME		248

#ifndef __ASSEMBLER__

/* One ring record (GEARS_SC_EV_SIZE bytes). */
struct gears_sc_ev {
	uint64_t seq;		/* ring position + 1, stored last: the commit mark */
	uint64_t tsc;
	uint64_t args[6];
	int64_t ret;		/* exit events */
	uint64_t cr3;		/* 0: not recorded (the host derives it from task->mm) */
	uint64_t task;		/* struct task_struct * */
	uint64_t regs;		/* struct pt_regs * (pairs an entry with its exit) */
	uint64_t ip;		/* user RIP (return address of the syscall) */
	uint32_t nr;
	uint16_t kind;
	uint16_t cpu;
	int32_t pid;		/* thread id */
	int32_t tgid;		/* process id */
	uint16_t flags;
	uint16_t data_len;	/* bytes used in data[] */
	int32_t ppid;		/* the parent's process id (lets tracers follow a child
				 * from its first call, before the parent's fork returns) */
	char comm[16];
	uint64_t tsc_entry;	/* exit records: when the call entered */
	char data[GEARS_SC_EV_DATA];	/* captured strings, each NUL-terminated */
};

/* One synchronous request per CPU (the protocol above). GEARS_SC_SLOT_SIZE bytes. */
struct gears_sc_slot {
	uint64_t state;		/* GEARS_SC_SLOT_WORD(seq, GEARS_SC_SLOT_*) */
	/* the request: written by the guest before POSTED */
	uint32_t kind;		/* GEARS_SC_REQ_* */
	uint32_t nr;
	uint64_t regs;		/* struct pt_regs * of the caller (kernel VA) */
	uint64_t task;
	uint64_t cr3;
	uint64_t tsc;
	uint32_t cpu;
	uint32_t compat;
	int32_t pid;
	int32_t tgid;
	int32_t ppid;
	uint32_t pad0;
	char comm[16];
	/* the answer: written by the host while it holds CLAIMED */
	uint32_t action;	/* DONE: GEARS_SC_ACT_* */
	uint32_t copy_len;	/* COPY: bytes at the start of this CPU's stage buffer */
	uint64_t copy_to;	/* COPY: the user address they go to */
	int64_t copy_ret;	/* COPY: the guest's result, 0 or -errno (written by the guest) */
	uint64_t set_mask;	/* DONE: bit i set: pt_regs word i becomes set_regs[i]
				 * (never CS or SS: the guest ignores those bits) */
	uint64_t set_regs[GEARS_PTREGS_WORDS];
	uint8_t pad[GEARS_SC_SLOT_SIZE - 88 - 200];
};

/* Configuration and counters, at GEARS_SC_CTL_OFF. */
struct gears_sc_ctl {
	uint64_t magic;
	uint32_t version;
	uint32_t enabled;	/* 0: every call passes straight through */
	/* kernel addresses, filled by the host at install */
	uint64_t orig_do_syscall_64;
	uint64_t orig_int80;		/* int80_emulation / do_int80_syscall_32 (0: not hooked) */
	uint64_t strncpy_nofault;	/* strncpy_from_user_nofault, 0 if absent */
	uint64_t copy_nofault;		/* copy_from_user_nofault */
	/* per-CPU offsets (%gs-relative) and struct offsets, from kallsyms/BTF */
	uint64_t gs_current_task;
	uint64_t gs_cpu_number;
	uint32_t off_pid, off_tgid, off_comm, off_parent;
	/* synchronous requests */
	uint64_t sync_timeout_tsc;	/* spin bound while POSTED */
	uint64_t sync_hard_tsc;		/* bound while CLAIMED, from the host's last sign of life */
	uint64_t ring_wait_tsc;		/* a full ring: wait this long for room, then drop */
	uint64_t orig_exit;		/* syscall_exit_to_user_mode (0: return hook not installed) */
	uint64_t cookie;		/* marks a live slow-path frame (random per install) */
	uint32_t hcall_enabled;
	uint32_t pad1;
	/* ring */
	uint64_t ring_head;		/* next position to reserve (guest, atomic) */
	uint64_t ring_tail;		/* next position the host will consume (host) */
	/* counters (guest increments, host reads) */
	uint64_t ring_drops;		/* events lost because the ring was full */
	uint64_t sync_timeouts;		/* requests the host did not answer in time */
	uint64_t hcalls;
	/* doorbell: with bell_port set, a CPU that posts a request while the host
	 * sleeps (bell_armed) clears bell_armed and writes a byte to that I/O port,
	 * an isa-debugcon device whose chardev the host polls */
	uint32_t bell_port;
	uint32_t bell_armed;
	/* memory writes (COPY): copy_to_user_nofault, and each CPU's stage buffer size */
	uint64_t copy_to_nofault;
	uint32_t stage_size;
	uint32_t pad2;
	/* tasks (struct task_struct *) whose requests wait for a claim as long as
	 * for an answer (sync_hard_tsc): threads gears holds in the middle of
	 * something (an injection), for which going on unanswered is worse */
	uint64_t patient[GEARS_SC_PATIENT];
	uint64_t reserved[15];
	/* per-number selection: GEARS_SC_SEL_* bits */
	uint16_t sel[GEARS_SC_NR_MAX];
	uint16_t sel32[GEARS_SC_NR_MAX];	/* the same for compat (i386) numbers */
	/* one bit per number: sel[nr] != 0, for the fast path's single `bt` */
	uint64_t any[GEARS_SC_NR_MAX / 64];
	uint64_t any32[GEARS_SC_NR_MAX / 64];
};

_Static_assert(sizeof(struct gears_sc_ev) == GEARS_SC_EV_SIZE, "event size");
/* The flag bits and the three 3-bit string fields must not overlap. */
_Static_assert(((GEARS_SC_SEL_RING_ENTRY | GEARS_SC_SEL_RING_EXIT | GEARS_SC_SEL_SYNC_ENTRY |
		 GEARS_SC_SEL_SYNC_EXIT | GEARS_SC_SEL_TIME | GEARS_SC_SEL_SAVE_ARGS) &
		(7u << GEARS_SC_SEL_STR0_SHIFT | 7u << GEARS_SC_SEL_STR1_SHIFT |
		 7u << GEARS_SC_SEL_ARGV_SHIFT)) == 0, "selection bits overlap a string field");
_Static_assert(((7u << GEARS_SC_SEL_STR0_SHIFT) & (7u << GEARS_SC_SEL_STR1_SHIFT)) == 0 &&
	       ((7u << GEARS_SC_SEL_STR1_SHIFT) & (7u << GEARS_SC_SEL_ARGV_SHIFT)) == 0 &&
	       (7u << GEARS_SC_SEL_ARGV_SHIFT) <= 0xffffu, "string fields overlap");
_Static_assert(sizeof(struct gears_sc_slot) == GEARS_SC_SLOT_SIZE, "slot size");
_Static_assert(__builtin_offsetof(struct gears_sc_slot, action) == 88 &&
	       __builtin_offsetof(struct gears_sc_slot, pad) == 88 + 200, "slot layout");
_Static_assert(sizeof(struct gears_sc_ctl) <= GEARS_SC_SLOTS_OFF - GEARS_SC_CTL_OFF, "ctl size");
_Static_assert(GEARS_SC_END <= (2u << 20), "fits the region");
_Static_assert(__builtin_offsetof(struct gears_sc_ctl, orig_do_syscall_64) == GEARS_SC_CTL_ORIG64,
	       "GEARS_SC_CTL_ORIG64");
_Static_assert(__builtin_offsetof(struct gears_sc_ctl, any) == GEARS_SC_CTL_ANY, "GEARS_SC_CTL_ANY");

#endif /* __ASSEMBLER__ */
#endif
