// SPDX-License-Identifier: MIT
/*
 * Slow path of the guest-context system call hook, running inside the guest
 * kernel (see sc_entry.S for the calling context).
 *
 * For a selected number it can: record the entry and the return in the
 * shared ring (lock-free, many CPUs), and ask the host synchronously — post a
 * request in this CPU's slot and spin (bounded) until the host answers; the
 * host may rewrite the caller's registers in pt_regs meanwhile. If the host
 * does not answer in time the call goes on unchanged (fail-open): a dead or
 * slow gears never hangs the guest.
 *
 * Constraints: freestanding, no SSE (kernel FPU state is not ours), no red
 * zone, small stack, no faults: user memory is read only through the kernel's
 * own *_nofault helpers, whose exception-table entries make a bad pointer an
 * error code instead of an oops.
 */
#include <stddef.h>
#include <stdint.h>

#include <gears-guest/sc_abi.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define ENOSYS 38

extern volatile struct gears_sc_ctl gears_sc_ctl HIDDEN;
extern volatile struct gears_sc_slot gears_sc_slots[GEARS_SC_MAX_CPUS] HIDDEN;
extern volatile struct gears_sc_ev gears_sc_ring[GEARS_SC_RING_SLOTS] HIDDEN;

typedef uint64_t (*syscall_fn)(void *regs, long nr);
typedef void (*int80_fn)(void *regs);
typedef long (*strncpy_fn)(char *dst, const void *src, long count);

uint64_t gears_sc_slow64(void *regs, long nr) HIDDEN;
void gears_sc_slow_int80(void *regs) HIDDEN;

/* The compiler may emit calls to these for struct copies. */
void *memset(void *d, int c, size_t n) HIDDEN;
void *memcpy(void *d, const void *s, size_t n) HIDDEN;

void *memset(void *d, int c, size_t n)
{
	volatile char *p = d;

	while (n--)
		*p++ = (char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile char *p = d;
	const char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

#define CTL (&gears_sc_ctl)
#define REG(regs, off) (*(volatile uint64_t *)((char *)(regs) + (off)))

static inline uint64_t gs_read(uint64_t off)
{
	uint64_t v;

	asm volatile("movq %%gs:(%1), %0" : "=r"(v) : "r"(off));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;

	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

struct who {
	uint64_t task;
	int32_t pid, tgid;
	uint32_t cpu;
	const volatile char *comm;
};

static void whoami(struct who *w)
{
	w->task = gs_read(CTL->gs_current_task);
	w->cpu = (uint32_t)gs_read(CTL->gs_cpu_number);
	w->pid = *(volatile int32_t *)(w->task + CTL->off_pid);
	w->tgid = *(volatile int32_t *)(w->task + CTL->off_tgid);
	w->comm = (const volatile char *)(w->task + CTL->off_comm);
}

/* Append string arg `uptr` to ev->data; returns 0, or -1 if unreadable. */
static int put_str(volatile struct gears_sc_ev *ev, uint64_t uptr)
{
	strncpy_fn fn = (strncpy_fn)CTL->strncpy_nofault;
	char buf[GEARS_SC_EV_DATA];
	uint32_t used = ev->data_len, room = GEARS_SC_EV_DATA - used;
	long n;

	if (!fn || room < 2)
		return -1;
	n = fn(buf, (const void *)uptr, room);
	if (n < 0)
		return -1;
	if ((uint32_t)n >= room) {	/* no NUL within room: truncated */
		n = room - 1;
		ev->flags |= GEARS_SC_EVF_TRUNC;
	}
	for (long i = 0; i < n; i++)
		ev->data[used + i] = buf[i];
	ev->data[used + n] = 0;
	ev->data_len = (uint16_t)(used + n + 1);
	return 0;
}

/* argv-style array: strings until NULL or out of room. */
static void put_argv(volatile struct gears_sc_ev *ev, uint64_t uarr)
{
	typedef long (*copy_fn)(void *dst, const void *src, size_t n);
	copy_fn copy = (copy_fn)CTL->copy_nofault;
	uint64_t p;

	if (!copy)
		return;
	for (int i = 0; i < 64 && ev->data_len < GEARS_SC_EV_DATA - 1; i++) {
		if (copy(&p, (const void *)(uarr + 8 * (uint64_t)i), 8) || !p)
			return;
		if (put_str(ev, p))
			return;
	}
	if (ev->data_len >= GEARS_SC_EV_DATA - 1)
		ev->flags |= GEARS_SC_EVF_TRUNC;
}

static void arg_offs(int compat, uint32_t o[6])
{
	/* 64-bit: di si dx r10 r8 r9; i386: bx cx dx si di bp */
	if (compat) {
		o[0] = CTL->r_bx; o[1] = CTL->r_cx; o[2] = CTL->r_dx;
		o[3] = CTL->r_si; o[4] = CTL->r_di; o[5] = CTL->r_bp;
	} else {
		o[0] = CTL->r_di; o[1] = CTL->r_si; o[2] = CTL->r_dx;
		o[3] = CTL->r_r10; o[4] = CTL->r_r8; o[5] = CTL->r_r9;
	}
}

/* Reserve a ring slot and fill it; a full ring is counted, not waited for. */
static void ring_emit(uint16_t kind, void *regs, int nr, uint16_t sel, int compat,
		      const struct who *w, uint16_t flags)
{
	uint64_t head = __atomic_load_n(&CTL->ring_head, __ATOMIC_RELAXED);
	volatile struct gears_sc_ev *ev;
	uint32_t o[6];

	arg_offs(compat, o);
	do {
		uint64_t tail = __atomic_load_n(&CTL->ring_tail, __ATOMIC_ACQUIRE);

		if (head - tail >= GEARS_SC_RING_SLOTS) {
			__atomic_add_fetch(&CTL->ring_drops, 1, __ATOMIC_RELAXED);
			return;
		}
	} while (!__atomic_compare_exchange_n(&CTL->ring_head, &head, head + 1, 0, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	ev = &gears_sc_ring[head & (GEARS_SC_RING_SLOTS - 1)];
	ev->tsc = rdtsc();
	for (int i = 0; i < 6; i++)
		ev->args[i] = compat ? (uint32_t)REG(regs, o[i]) : REG(regs, o[i]);
	ev->ret = kind == GEARS_SC_EV_EXIT ? (int64_t)REG(regs, CTL->r_ax) : 0;
	if (compat && kind == GEARS_SC_EV_EXIT)
		ev->ret = (int32_t)ev->ret;
	ev->cr3 = read_cr3();
	ev->task = w->task;
	ev->regs = (uint64_t)regs;
	ev->ip = REG(regs, CTL->r_ip);
	ev->nr = (uint32_t)nr;
	ev->kind = kind;
	ev->cpu = (uint16_t)w->cpu;
	ev->pid = w->pid;
	ev->tgid = w->tgid;
	ev->flags = (uint16_t)(flags | (compat ? GEARS_SC_EVF_COMPAT : 0));
	ev->data_len = 0;
	for (int i = 0; i < 16; i++)
		ev->comm[i] = w->comm[i];
	/* Strings: at entry, and again at the return if they could not be read
	 * then (the kernel has faulted the pages in by now). */
	if (kind == GEARS_SC_EV_ENTRY || (flags & GEARS_SC_EVF_NOSTR)) {
		unsigned s0 = (sel >> GEARS_SC_SEL_STR0_SHIFT) & 7;
		unsigned s1 = (sel >> GEARS_SC_SEL_STR1_SHIFT) & 7;
		unsigned av = (sel >> GEARS_SC_SEL_ARGV_SHIFT) & 7;
		int bad = 0;

		ev->flags &= (uint16_t)~GEARS_SC_EVF_NOSTR;
		if (s0 && s0 <= 6)
			bad |= put_str(ev, ev->args[s0 - 1]);
		if (s1 && s1 <= 6)
			bad |= put_str(ev, ev->args[s1 - 1]);
		if (av && av <= 6 && !bad)
			put_argv(ev, ev->args[av - 1]);
		if (bad)
			ev->flags |= GEARS_SC_EVF_NOSTR;
	}
	__atomic_store_n(&ev->seq, head + 1, __ATOMIC_RELEASE);
}

/* Ask the host; returns its GEARS_SC_ACT_*, CONTINUE if it does not answer. */
static uint32_t sync_req(uint32_t kind, void *regs, int nr, int compat, const struct who *w)
{
	volatile struct gears_sc_slot *s;
	uint64_t t0, now;

	if (w->cpu >= GEARS_SC_MAX_CPUS)
		return GEARS_SC_ACT_CONTINUE;
	s = &gears_sc_slots[w->cpu];
	s->kind = kind;
	s->regs = (uint64_t)regs;
	s->task = w->task;
	s->cr3 = read_cr3();
	s->nr = (uint32_t)nr;
	s->cpu = w->cpu;
	s->pid = w->pid;
	s->tgid = w->tgid;
	s->compat = (uint32_t)compat;
	for (int i = 0; i < 16; i++)
		s->comm[i] = w->comm[i];
	s->action = GEARS_SC_ACT_CONTINUE;
	s->seq = s->seq + 1;
	t0 = s->tsc = rdtsc();
	__atomic_store_n(&s->state, GEARS_SC_SLOT_POSTED, __ATOMIC_RELEASE);
	for (;;) {
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == GEARS_SC_SLOT_DONE) {
			uint32_t act = s->action;

			__atomic_store_n(&s->state, GEARS_SC_SLOT_IDLE, __ATOMIC_RELEASE);
			return act;
		}
		now = rdtsc();
		if (st == GEARS_SC_SLOT_POSTED && now - t0 > CTL->sync_timeout_tsc) {
			uint32_t expect = GEARS_SC_SLOT_POSTED;

			/* Not claimed yet: withdraw. If the host claimed it in the
			 * meantime it is working on it: keep waiting. */
			if (__atomic_compare_exchange_n(&s->state, &expect, GEARS_SC_SLOT_ABANDONED, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				__atomic_add_fetch(&CTL->sync_timeouts, 1, __ATOMIC_RELAXED);
				return GEARS_SC_ACT_CONTINUE;
			}
		}
		if (now - t0 > CTL->sync_hard_tsc) {
			__atomic_store_n(&s->state, GEARS_SC_SLOT_ABANDONED, __ATOMIC_RELEASE);
			__atomic_add_fetch(&CTL->sync_timeouts, 1, __ATOMIC_RELAXED);
			return GEARS_SC_ACT_CONTINUE;
		}
		cpu_relax();
	}
}

uint64_t gears_sc_slow64(void *regs, long nr_arg)
{
	syscall_fn orig = (syscall_fn)CTL->orig_do_syscall_64;
	int nr = (int)nr_arg;
	uint16_t sel = 0;
	uint16_t flags = 0;
	struct who w;
	uint64_t rv;

	if (!CTL->enabled)
		return orig(regs, nr_arg);
	if (nr >= 0 && (unsigned)nr < GEARS_SC_NR_MAX)
		sel = CTL->sel[nr];
	if (nr == (int)GEARS_HCALL_NR) {
		if (!CTL->hcall_enabled)
			return orig(regs, nr_arg);
		whoami(&w);
		__atomic_add_fetch(&CTL->hcalls, 1, __ATOMIC_RELAXED);
		/* The kernel never sees a hypercall: answered here, or -ENOSYS. */
		REG(regs, CTL->r_ax) = (uint64_t)-ENOSYS;
		sync_req(GEARS_SC_REQ_HCALL, regs, nr, 0, &w);
		return 0;	/* 0: leave through IRET, always valid */
	}
	if (!sel)
		return orig(regs, nr_arg);
	__atomic_add_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&CTL->hooked_calls, 1, __ATOMIC_RELAXED);
	whoami(&w);
	if (sel & GEARS_SC_SEL_RING_ENTRY)
		ring_emit(GEARS_SC_EV_ENTRY, regs, nr, sel, 0, &w, 0);
	if (sel & GEARS_SC_SEL_SYNC_ENTRY) {
		uint32_t act = sync_req(GEARS_SC_REQ_ENTRY, regs, nr, 0, &w);

		if (act == GEARS_SC_ACT_DENY) {
			/* Number -1 runs no system call but all of the kernel's entry
			 * and exit work, and leaves pt_regs->ax (the host's errno). */
			REG(regs, CTL->r_orig_ax) = (uint64_t)-1;
			nr = -1;
			flags |= GEARS_SC_EVF_DENIED;
		} else {
			/* The host may have changed the number. */
			nr = (int)REG(regs, CTL->r_orig_ax);
		}
	}
	rv = orig(regs, nr);
	/* Detached while this call was in the kernel (a long sleep): nothing to do. */
	if (!CTL->enabled) {
		__atomic_sub_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
		return rv;
	}
	/* Possibly on another CPU now: re-read. */
	whoami(&w);
	if (sel & GEARS_SC_SEL_RING_EXIT)
		ring_emit(GEARS_SC_EV_EXIT, regs, (int)nr_arg, sel, 0, &w, flags);
	if (sel & GEARS_SC_SEL_SYNC_EXIT)
		sync_req(GEARS_SC_REQ_EXIT, regs, (int)nr_arg, 0, &w);
	__atomic_sub_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
	return rv;
}

void gears_sc_slow_int80(void *regs)
{
	int80_fn orig = (int80_fn)CTL->orig_int80;
	/* The low-level entry left the number in ax (orig_ax is -1 here). */
	int nr = (int)(uint32_t)REG(regs, CTL->r_ax);
	uint16_t sel = 0;
	struct who w;

	if (CTL->enabled && nr >= 0 && (unsigned)nr < GEARS_SC_NR_MAX)
		sel = CTL->sel32[nr];
	if (!sel) {
		orig(regs);
		return;
	}
	__atomic_add_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&CTL->hooked_calls, 1, __ATOMIC_RELAXED);
	whoami(&w);
	if (sel & GEARS_SC_SEL_RING_ENTRY)
		ring_emit(GEARS_SC_EV_ENTRY, regs, nr, sel, 1, &w, 0);
	if ((sel & GEARS_SC_SEL_SYNC_ENTRY) &&
	    sync_req(GEARS_SC_REQ_ENTRY, regs, nr, 1, &w) == GEARS_SC_ACT_DENY) {
		/* Denied: the host set ax; skip the kernel entirely. */
		if (sel & GEARS_SC_SEL_RING_EXIT)
			ring_emit(GEARS_SC_EV_EXIT, regs, nr, sel, 1, &w, GEARS_SC_EVF_DENIED);
		__atomic_sub_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
		return;
	}
	orig(regs);
	if (!CTL->enabled) {
		__atomic_sub_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
		return;
	}
	whoami(&w);
	if (sel & GEARS_SC_SEL_RING_EXIT)
		ring_emit(GEARS_SC_EV_EXIT, regs, nr, sel, 1, &w, 0);
	if (sel & GEARS_SC_SEL_SYNC_EXIT)
		sync_req(GEARS_SC_REQ_EXIT, regs, nr, 1, &w);
	__atomic_sub_fetch(&CTL->inflight, 1, __ATOMIC_RELAXED);
}
