// SPDX-License-Identifier: MIT
/*
 * Slow path of the guest-context system call hook, running inside the guest
 * kernel (see sc_entry.S for the calling context).
 *
 * For a selected number it can: record the entry and the return in the
 * shared ring (lock-free, many CPUs), and ask the host synchronously — post a
 * request in this CPU's slot and spin (bounded) until the host answers; the
 * answer (registers, memory the host wants written) is applied here, by the
 * waiting thread, only while it still waits (the slot protocol, sc_abi.h). If
 * the host does not answer in time the call goes on unchanged (fail-open): a
 * dead or slow gears never hangs the guest, and a late one changes nothing.
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
/* Every call and return is a translation-block lookup under TCG: the hot path
 * is flattened into few functions. */
#define INLINE static inline __attribute__((always_inline))
#define EFAULT 14
#define ENOSYS 38
#define ETIMEDOUT 110

extern volatile struct gears_sc_ctl gears_sc_ctl HIDDEN;
extern volatile struct gears_sc_slot gears_sc_slots[GEARS_SC_MAX_CPUS] HIDDEN;
extern volatile struct gears_sc_ev gears_sc_ring[GEARS_SC_RING_SLOTS] HIDDEN;
extern const char gears_sc_stage[GEARS_SC_STAGE_SIZE] HIDDEN;

typedef uint64_t (*syscall_fn)(void *regs, long nr);
typedef void (*int80_fn)(void *regs);
typedef long (*strncpy_fn)(char *dst, const void *src, long count);
typedef long (*copy_fn)(void *dst, const void *src, size_t n);

#define STR_BITS (7u << GEARS_SC_SEL_STR0_SHIFT | 7u << GEARS_SC_SEL_STR1_SHIFT | 7u << GEARS_SC_SEL_ARGV_SHIFT)

struct frame;
uint64_t gears_sc_slow64(void *regs, long nr, struct frame *f) HIDDEN;
void gears_sc_slow_int80(void *regs, struct frame *f) HIDDEN;

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

static inline void outb(uint8_t v, uint16_t port)
{
	asm volatile("outb %b0, %w1" : : "a"(v), "Nd"(port));
}

static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}

struct who {
	uint64_t task;
	int32_t pid, tgid, ppid;
	uint32_t cpu;
	const volatile char *comm;
};

INLINE void whoami(struct who *w)
{
	w->task = gs_read(CTL->gs_current_task);
	w->cpu = (uint32_t)gs_read(CTL->gs_cpu_number);
	w->pid = *(volatile int32_t *)(w->task + CTL->off_pid);
	w->tgid = *(volatile int32_t *)(w->task + CTL->off_tgid);
	/* real_parent is never NULL for a user task (init's parent is swapper). */
	w->ppid = *(volatile int32_t *)(*(volatile uint64_t *)(w->task + CTL->off_parent) + CTL->off_tgid);
	w->comm = (const volatile char *)(w->task + CTL->off_comm);
}

/* Strings captured from user memory, before they go into a ring record. */
struct strs {
	uint16_t len;
	uint16_t flags;		/* GEARS_SC_EVF_TRUNC / NOSTR */
	char data[GEARS_SC_EV_DATA];
};

/* Append the string at `uptr`; 0, or -1 if unreadable. */
static int put_str(struct strs *b, uint64_t uptr)
{
	strncpy_fn fn = (strncpy_fn)CTL->strncpy_nofault;
	uint32_t room = GEARS_SC_EV_DATA - b->len;
	long n;

	if (!fn || room < 2)
		return -1;
	/* Returns the length including the NUL, or `room` when there was none
	 * within it (then we keep room - 1 bytes and say so). */
	n = fn(b->data + b->len, (const void *)uptr, room);
	if (n <= 0)
		return -1;
	if ((uint32_t)n >= room && b->data[b->len + room - 1]) {
		n = room - 1;
		b->flags |= GEARS_SC_EVF_TRUNC;
	} else {
		n--;
	}
	b->data[b->len + n] = 0;
	b->len = (uint16_t)(b->len + n + 1);
	return 0;
}

/* argv-style array: strings until NULL or out of room. */
static void put_argv(struct strs *b, uint64_t uarr, int compat)
{
	copy_fn copy = (copy_fn)CTL->copy_nofault;
	uint64_t p;

	if (!copy)
		return;
	for (int i = 0; i < 64 && b->len < GEARS_SC_EV_DATA - 1; i++) {
		p = 0;
		if (copy(&p, (const void *)(uarr + (compat ? 4u : 8u) * (uint64_t)i), compat ? 4 : 8) || !p)
			return;
		if (put_str(b, p))
			return;
	}
	if (b->len >= GEARS_SC_EV_DATA - 1)
		b->flags |= GEARS_SC_EVF_TRUNC;
}


/* What a call looked like at entry, kept on the kernel stack until it
 * returns, so one record can describe the whole call. */
struct entry {
	uint64_t args[6];
	uint64_t tsc;
	struct strs s;
};

INLINE void read_args(void *regs, int compat, uint64_t args[6])
{
	/* Unrolled, so every offset is a constant: no table load under TCG. */
	if (compat) {
#pragma GCC unroll 6
		for (int i = 0; i < 6; i++)
			args[i] = (uint32_t)REG(regs, ((const uint32_t[6])GEARS_PTREGS_ARGS32)[i]);
	} else {
#pragma GCC unroll 6
		for (int i = 0; i < 6; i++)
			args[i] = REG(regs, ((const uint32_t[6])GEARS_PTREGS_ARGS64)[i]);
	}
}

static void capture(struct entry *e, uint16_t sel, int compat)
{
	unsigned s0 = (sel >> GEARS_SC_SEL_STR0_SHIFT) & 7;
	unsigned s1 = (sel >> GEARS_SC_SEL_STR1_SHIFT) & 7;
	unsigned av = (sel >> GEARS_SC_SEL_ARGV_SHIFT) & 7;
	int bad = 0;

	e->s.len = 0;
	e->s.flags = 0;
	if (s0 && s0 <= 6)
		bad |= put_str(&e->s, e->args[s0 - 1]);
	if (s1 && s1 <= 6)
		bad |= put_str(&e->s, e->args[s1 - 1]);
	if (av && av <= 6 && !bad)
		put_argv(&e->s, e->args[av - 1], compat);
	if (bad)
		e->s.flags |= GEARS_SC_EVF_NOSTR;
}

/* Reserve a ring slot and fill it. A full ring holds the caller a bounded
 * time, then the record is dropped and counted. */
INLINE void ring_emit(uint16_t kind, void *regs, int nr, int compat, const struct who *w,
		      const struct entry *e, uint16_t flags, int saved)
{
	uint64_t head = __atomic_load_n(&CTL->ring_head, __ATOMIC_RELAXED);
	volatile struct gears_sc_ev *ev;
	uint64_t t0 = 0;

	for (;;) {
		uint64_t tail = __atomic_load_n(&CTL->ring_tail, __ATOMIC_ACQUIRE);

		if (head - tail >= GEARS_SC_RING_SLOTS) {
			uint64_t now = rdtsc();

			if (!t0)
				t0 = now;
			if (now - t0 >= CTL->ring_wait_tsc) {
				__atomic_add_fetch(&CTL->ring_drops, 1, __ATOMIC_RELAXED);
				return;
			}
			cpu_relax();
			head = __atomic_load_n(&CTL->ring_head, __ATOMIC_RELAXED);
			continue;	/* look again: never claim a slot still in use */
		}
		if (__atomic_compare_exchange_n(&CTL->ring_head, &head, head + 1, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			break;
	}
	ev = &gears_sc_ring[head & (GEARS_SC_RING_SLOTS - 1)];
	ev->tsc = rdtsc();
	if (saved) {
		for (int i = 0; i < 6; i++)
			ev->args[i] = e->args[i];
	} else {
		uint64_t a[6];

		read_args(regs, compat, a);
		for (int i = 0; i < 6; i++)
			ev->args[i] = a[i];
	}
	ev->ret = 0;
	if (kind == GEARS_SC_EV_EXIT)
		ev->ret = compat ? (int32_t)REG(regs, GEARS_PTREGS_AX) : (int64_t)REG(regs, GEARS_PTREGS_AX);
	ev->cr3 = 0;	/* a helper call under TCG: the host finds it from the task */
	ev->task = w->task;
	ev->regs = (uint64_t)regs;
	ev->ip = REG(regs, GEARS_PTREGS_IP);
	ev->nr = (uint32_t)nr;
	ev->kind = kind;
	ev->cpu = (uint16_t)w->cpu;
	ev->pid = w->pid;
	ev->tgid = w->tgid;
	ev->ppid = w->ppid;
	ev->flags = (uint16_t)(flags | e->s.flags | (compat ? GEARS_SC_EVF_COMPAT : 0));
	/* comm is 16 bytes, 8-aligned in task_struct: two word copies. */
	((volatile uint64_t *)ev->comm)[0] = ((const volatile uint64_t *)w->comm)[0];
	((volatile uint64_t *)ev->comm)[1] = ((const volatile uint64_t *)w->comm)[1];
	for (int i = 0; i < e->s.len; i++)
		ev->data[i] = e->s.data[i];
	ev->tsc_entry = e->tsc;
	ev->data_len = e->s.len;
	__atomic_store_n(&ev->seq, head + 1, __ATOMIC_RELEASE);
}

/* sync_req's result when the host did not answer (never a host action). */
#define ACT_TIMEDOUT 0x80000000u
#define ACT_VALID (GEARS_SC_ACT_MASK | GEARS_SC_ACT_F_EXIT)
#define SLOT(seq, st) GEARS_SC_SLOT_WORD(seq, GEARS_SC_SLOT_##st)

/* DONE: the host's register changes, then its action. CS and SS are never the
 * host's: a selector the kernel did not set must not reach IRET. */
INLINE uint32_t apply_answer(volatile struct gears_sc_slot *s, void *regs)
{
	uint64_t m = s->set_mask & ((1ull << GEARS_PTREGS_WORDS) - 1) &
		     ~(1ull << (GEARS_PTREGS_CS / 8) | 1ull << (GEARS_PTREGS_SS / 8));

	while (m) {
		unsigned i = (unsigned)__builtin_ctzll(m);

		m &= m - 1;
		REG(regs, i * 8) = s->set_regs[i];
	}
	return s->action & ACT_VALID;
}

/* COPY: this thread writes its own user memory from the CPU's stage buffer.
 * The _nofault copy fails (-EFAULT) on a page that is not present and writable,
 * instead of faulting it in: the host asked for memory it found mapped. */
INLINE void copy_stage(volatile struct gears_sc_slot *s, uint32_t cpu)
{
	copy_fn fn = (copy_fn)CTL->copy_to_nofault;
	uint64_t len = s->copy_len, size = CTL->stage_size;
	long r = -EFAULT;

	if (fn && len <= size && (uint64_t)cpu * size + size <= GEARS_SC_STAGE_SIZE)
		r = fn((void *)s->copy_to, gears_sc_stage + (uint64_t)cpu * size, len);
	s->copy_ret = r;
}

/* Ask the host; returns its GEARS_SC_ACT_* (applied), or ACT_TIMEDOUT if it
 * did not answer in time (nothing applied). */
static uint32_t sync_req(uint32_t kind, void *regs, int nr, int compat, const struct who *w)
{
	volatile struct gears_sc_slot *s;
	uint64_t t0, now, seq, soft;

	if (w->cpu >= GEARS_SC_MAX_CPUS)
		return ACT_TIMEDOUT;
	s = &gears_sc_slots[w->cpu];
	seq = GEARS_SC_SLOT_SEQ(__atomic_load_n(&s->state, __ATOMIC_RELAXED)) + 1;
	s->kind = kind;
	s->regs = (uint64_t)regs;
	s->task = w->task;
	s->cr3 = read_cr3();
	s->nr = (uint32_t)nr;
	s->cpu = w->cpu;
	s->pid = w->pid;
	s->tgid = w->tgid;
	s->ppid = w->ppid;
	s->compat = (uint32_t)compat;
	for (int i = 0; i < 16; i++)
		s->comm[i] = w->comm[i];
	/* How long to wait for a claim: longer for a task the host holds. */
	soft = CTL->sync_timeout_tsc;
	for (unsigned i = 0; i < GEARS_SC_PATIENT; i++)
		if (CTL->patient[i] == w->task)
			soft = CTL->sync_hard_tsc;
	t0 = s->tsc = rdtsc();
	__atomic_store_n(&s->state, SLOT(seq, POSTED), __ATOMIC_RELEASE);
	/* Wake a sleeping host (Dekker with its arm-then-check: it sees POSTED,
	 * or we see it armed). One CPU rings per sleep. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (CTL->bell_port && __atomic_load_n(&CTL->bell_armed, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&CTL->bell_armed, 0, __ATOMIC_ACQ_REL))
		outb(1, (uint16_t)CTL->bell_port);
	for (;;) {
		uint64_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == SLOT(seq, DONE)) {
			uint32_t act = apply_answer(s, regs);

			__atomic_store_n(&s->state, SLOT(seq, IDLE), __ATOMIC_RELEASE);
			return act;
		}
		if (st == SLOT(seq, COPY)) {
			copy_stage(s, w->cpu);
			__atomic_compare_exchange_n(&s->state, &st, SLOT(seq, CLAIMED), 0, __ATOMIC_ACQ_REL,
						    __ATOMIC_RELAXED);
			t0 = rdtsc();	/* the host is alive */
			continue;
		}
		now = rdtsc();
		/* Unclaimed after the short bound, or nothing from the host for the
		 * long one: give up, with one CAS that the host's answer loses if it
		 * comes now (or re-read what it just wrote). */
		if ((st == SLOT(seq, POSTED) && now - t0 > soft) || now - t0 > CTL->sync_hard_tsc) {
			if (__atomic_compare_exchange_n(&s->state, &st, SLOT(seq, ABANDONED), 0, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED)) {
				__atomic_add_fetch(&CTL->sync_timeouts, 1, __ATOMIC_RELAXED);
				return ACT_TIMEDOUT;
			}
			continue;
		}
		cpu_relax();
	}
}

/*
 * The slow path's frame (GEARS_SC_FRAME bytes below the return address, see
 * sc_entry.S): what the call looked like at entry, and how far it got.
 */
struct frame {
	uint64_t magic;		/* CTL->cookie while the call is in the kernel */
	uint64_t regs;
	int32_t nr;		/* as entered */
	uint16_t sel;
	uint8_t compat;
	uint8_t done;		/* the return was handled by the exit hook */
	uint16_t flags;		/* GEARS_SC_EVF_DENIED */
	uint16_t pad[3];
	struct entry e;
};
_Static_assert(sizeof(struct frame) <= GEARS_SC_FRAME, "frame fits");

INLINE struct frame *frame_of(void *regs)
{
	return (struct frame *)((char *)regs - 8 - GEARS_SC_FRAME);
}

/* Everything that happens at a call's return: the ring record (with the entry
 * saved in the frame) and the host's synchronous look. */
INLINE void exit_work(void *regs, struct frame *f)
{
	struct who w;

	whoami(&w);
	if (f->sel & GEARS_SC_SEL_RING_EXIT) {
		/* Strings that were not readable at entry usually are now (the
		 * kernel faulted them in) — but not after an execve, whose old
		 * address space is gone. */
		if ((f->e.s.flags & GEARS_SC_EVF_NOSTR) && !((f->sel >> GEARS_SC_SEL_ARGV_SHIFT) & 7))
			capture(&f->e, f->sel, f->compat);
		ring_emit(GEARS_SC_EV_EXIT, regs, f->nr, f->compat, &w, &f->e, f->flags,
			  f->sel & GEARS_SC_SEL_SAVE_ARGS);
	}
	if (f->sel & GEARS_SC_SEL_SYNC_EXIT)
		sync_req(GEARS_SC_REQ_EXIT, regs, f->nr, f->compat, &w);
}

static inline uint64_t irq_save(void)
{
	uint64_t fl;

	asm volatile("pushfq; popq %0; cli" : "=r"(fl) : : "memory");
	return fl;
}

static inline void irq_restore(uint64_t fl)
{
	if (fl & 0x200)	/* X86_EFLAGS_IF */
		asm volatile("sti" : : : "memory");
}

/*
 * Called instead of syscall_exit_to_user_mode(regs), from do_syscall_64 and
 * the int 0x80 path: the return value in pt_regs->ax is final here, and signal
 * delivery (which rewrites ax) has not happened yet. Only calls that came
 * through the slow path have a live frame; others pass straight on.
 *
 * The kernel calls this with interrupts on. The work runs with them off, as
 * at entry: a CPU's request slot and a reserved ring record are this CPU's
 * only while nothing can preempt it (on a preemptible kernel another task
 * would take the CPU, and its slot, mid-request, or this one would migrate
 * away from the slot it waits on).
 */
void gears_sc_exit_hook(void *regs) HIDDEN;
void gears_sc_exit_hook(void *regs)
{
	typedef void (*exit_fn)(void *regs);
	struct frame *f = frame_of(regs);

	if (CTL->enabled && f->magic == CTL->cookie && f->regs == (uint64_t)regs && !f->done) {
		uint64_t fl = irq_save();

		f->done = 1;
		exit_work(regs, f);
		irq_restore(fl);
	}
	((exit_fn)CTL->orig_exit)(regs);
}

INLINE void frame_init(struct frame *f, void *regs, int nr, uint16_t sel, int compat)
{
	f->magic = 0;
	f->regs = (uint64_t)regs;
	f->nr = nr;
	f->sel = sel;
	f->compat = (uint8_t)compat;
	f->done = 0;
	f->flags = 0;
}

uint64_t gears_sc_slow64(void *regs, long nr_arg, struct frame *f)
{
	syscall_fn orig = (syscall_fn)CTL->orig_do_syscall_64;
	int nr = (int)nr_arg;
	uint16_t sel = 0;
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
		/* The kernel never sees a hypercall: answered here, or -ENOSYS (no
		 * handler for the op), or -ETIMEDOUT (gears did not answer in time). */
		REG(regs, GEARS_PTREGS_AX) = (uint64_t)-ENOSYS;
		if (sync_req(GEARS_SC_REQ_HCALL, regs, nr, 0, &w) == ACT_TIMEDOUT)
			REG(regs, GEARS_PTREGS_AX) = (uint64_t)-ETIMEDOUT;
		return 0;	/* 0: leave through IRET, always valid */
	}
	if (!sel)
		return orig(regs, nr_arg);
	frame_init(f, regs, nr, sel, 0);
	/* The caller is looked up where it is needed: at entry only for entry
	 * records and requests; a return record looks at the return. */
	if (sel & (GEARS_SC_SEL_RING_ENTRY | GEARS_SC_SEL_SYNC_ENTRY))
		whoami(&w);
	if (sel & (GEARS_SC_SEL_RING_ENTRY | GEARS_SC_SEL_RING_EXIT)) {
		f->e.s.len = f->e.s.flags = 0;
		if (sel & (GEARS_SC_SEL_SAVE_ARGS | GEARS_SC_SEL_RING_ENTRY)) {
			read_args(regs, 0, f->e.args);
			if (sel & STR_BITS)
				capture(&f->e, sel, 0);
		}
		/* Durations cost a second clock read (a helper call under TCG). */
		f->e.tsc = (sel & (GEARS_SC_SEL_TIME | GEARS_SC_SEL_RING_ENTRY)) ? rdtsc() : 0;
	}
	if (sel & GEARS_SC_SEL_RING_ENTRY)
		ring_emit(GEARS_SC_EV_ENTRY, regs, nr, 0, &w, &f->e, 0, 1);
	if (sel & GEARS_SC_SEL_SYNC_ENTRY) {
		uint32_t act = sync_req(GEARS_SC_REQ_ENTRY, regs, nr, 0, &w);

		if (act == ACT_TIMEDOUT)
			act = GEARS_SC_ACT_CONTINUE;	/* as it was: nr is still the caller's */
		if (act & GEARS_SC_ACT_F_EXIT)
			f->sel |= GEARS_SC_SEL_SYNC_EXIT;
		act &= GEARS_SC_ACT_MASK;
		if (act == GEARS_SC_ACT_DENY) {
			/* Number -1 runs no system call but all of the kernel's entry
			 * and exit work, and leaves pt_regs->ax (the host's value). */
			REG(regs, GEARS_PTREGS_ORIG_AX) = (uint64_t)-1;
			nr = -1;
			f->flags |= GEARS_SC_EVF_DENIED;
		} else {
			/* The host may have changed the number. */
			nr = (int)REG(regs, GEARS_PTREGS_ORIG_AX);
		}
	}
	/* From here the exit hook may find the frame. */
	if (CTL->orig_exit)
		__atomic_store_n(&f->magic, CTL->cookie, __ATOMIC_RELEASE);
	rv = orig(regs, nr);
	f->magic = 0;
	/* No exit hook (or a path that did not call it): the return, late. */
	if (CTL->enabled && !f->done)
		exit_work(regs, f);
	return rv;
}

void gears_sc_slow_int80(void *regs, struct frame *f)
{
	int80_fn orig = (int80_fn)CTL->orig_int80;
	/* The low-level entry left the number in ax (orig_ax is -1 here). */
	int nr = (int)(uint32_t)REG(regs, GEARS_PTREGS_AX);
	uint16_t sel = 0;
	struct who w;

	if (CTL->enabled && nr >= 0 && (unsigned)nr < GEARS_SC_NR_MAX)
		sel = CTL->sel32[nr];
	if (!sel) {
		orig(regs);
		return;
	}
	frame_init(f, regs, nr, sel, 1);
	whoami(&w);
	if (sel & (GEARS_SC_SEL_RING_ENTRY | GEARS_SC_SEL_RING_EXIT)) {
		f->e.s.len = f->e.s.flags = 0;
		if (sel & (GEARS_SC_SEL_SAVE_ARGS | GEARS_SC_SEL_RING_ENTRY)) {
			read_args(regs, 1, f->e.args);
			if (sel & STR_BITS)
				capture(&f->e, sel, 1);
		}
		f->e.tsc = rdtsc();
	}
	if (sel & GEARS_SC_SEL_RING_ENTRY)
		ring_emit(GEARS_SC_EV_ENTRY, regs, nr, 1, &w, &f->e, 0, 1);
	if (sel & GEARS_SC_SEL_SYNC_ENTRY) {
		uint32_t act = sync_req(GEARS_SC_REQ_ENTRY, regs, nr, 1, &w);

		if (act == ACT_TIMEDOUT)
			act = GEARS_SC_ACT_CONTINUE;
		if (act & GEARS_SC_ACT_F_EXIT)
			f->sel |= GEARS_SC_SEL_SYNC_EXIT;
		if ((act & GEARS_SC_ACT_MASK) == GEARS_SC_ACT_DENY) {
			/* Denied: the host set ax; skip the kernel entirely. */
			f->flags |= GEARS_SC_EVF_DENIED;
			if (CTL->enabled)
				exit_work(regs, f);
			return;
		}
	}
	if (CTL->orig_exit)
		__atomic_store_n(&f->magic, CTL->cookie, __ATOMIC_RELEASE);
	orig(regs);
	f->magic = 0;
	if (CTL->enabled && !f->done)
		exit_work(regs, f);
}
