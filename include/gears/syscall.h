/* SPDX-License-Identifier: MIT */
/*
 * System call interception for every process of a guest, without its help.
 *
 * Three ways to deliver a call to a handler, chosen per handler:
 *
 *   GEARS_SC_EXIT   the VM stops on each system call (gdbstub breakpoints on
 *                   the kernel's syscall entries) — works on any running VM,
 *                   installs nothing, costs a few ms per call;
 *   GEARS_SC_SYNC   "filter mode": a stub in the GEARS region, called by the
 *                   kernel's entry code, tests a per-number bitmap inside the
 *                   guest; for selected numbers it posts a request in shared
 *                   memory and spins (bounded) until the host answers — no VM
 *                   exit, and handlers may change the call;
 *   GEARS_SC_RING   "ring mode": the stub appends entry/return records to a
 *                   lock-free ring the host drains later — nothing waits;
 *                   handlers observe only.
 *
 * Calls nobody selected cost the guest a handful of instructions in the two
 * stub modes. Attaching and detaching work on a running VM; detaching restores
 * the kernel's code exactly.
 */
#ifndef GEARS_SYSCALL_H
#define GEARS_SYSCALL_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_vm;
struct gears_sc;
struct gears_sc_call;

/* Handler flags. */
#define GEARS_SC_ON_ENTRY	0x01u	/* call the handler at entry */
#define GEARS_SC_ON_EXIT	0x02u	/* ... and/or at the return */
#define GEARS_SC_ON_EXIT_ASKED	0x04u	/* at the return of calls an entry handler asked for
					 * with gears_sc_call__want_exit() (sync delivery): a
					 * handler that needs few returns spares the guest a
					 * round trip on every other call. It may also see
					 * returns other handlers asked for: filter. */
#define GEARS_SC_EXIT		0x10u	/* delivery: VM stop per call (gdbstub) */
#define GEARS_SC_SYNC		0x20u	/* delivery: guest waits for the host (filter mode) */
#define GEARS_SC_RING		0x40u	/* delivery: asynchronous ring (observe only) */
#define GEARS_SC_COMPAT		0x100u	/* `nr` is an i386 (int 0x80) number */
#define GEARS_SC_TIME		0x200u	/* ring: also time each call (entry_time_ns), which costs
					 * the guest a second clock read per call */

#define GEARS_SC_ALL		(-1)	/* every system call number */

/* A handler returns 0; a negative value is logged and otherwise ignored. */
typedef int (*gears_sc_handler_fn)(struct gears_sc_call *c, void *ctx);

struct gears_sc_opts {
	size_t sz;
	unsigned sync_timeout_ms;	/* guest waits this long for gears to take up a request
					 * (default 200, or $GEARS_SYNC_TIMEOUT_MS); once taken up,
					 * 10 x that + 1 s without word from gears */
	int ring_wait_ms;		/* a full ring: the guest waits this long for room
					 * before dropping a record (default 50; -1: never wait) */
};
#define gears_sc_opts__last_field ring_wait_ms

/* Prepare interception on a VM (reads symbols and offsets; installs nothing
 * until a handler needs it). NULL + errno. */
GEARS_API struct gears_sc *gears_sc__new(struct gears_vm *vm, const struct gears_sc_opts *o);
/* Change how long a full ring holds the guest up (ms; 0 or less: drop at once). */
GEARS_API void gears_sc__set_ring_wait(struct gears_sc *sc, int ms);
/* Remove every hook (the kernel's code and the breakpoints as they were) and free. */
GEARS_API void gears_sc__free(struct gears_sc *sc);

/* Register a handler for `nr` (or GEARS_SC_ALL) with flags as above. Returns a
 * handler id (> 0) or a negative errno. Installs what the delivery needs. */
GEARS_API int gears_sc__add(struct gears_sc *sc, int nr, unsigned flags, gears_sc_handler_fn fn, void *ctx);
/* The same for a set of numbers: bit n of set[n / 64] selects number n
 * (GEARS_SC_NR_WORDS words; numbers from 512 up are never selectable). */
#define GEARS_SC_NR_WORDS 8
GEARS_API int gears_sc__add_set(struct gears_sc *sc, const uint64_t set[GEARS_SC_NR_WORDS], unsigned flags,
				gears_sc_handler_fn fn, void *ctx);
/* The VM stops to deliver exit-mode calls: poll() this fd (gdbstub) to learn
 * of one at once; -1 when no exit-mode handler is set. */
GEARS_API int gears_sc__fd(const struct gears_sc *sc);
GEARS_API int gears_sc__remove(struct gears_sc *sc, int id);
/*
 * Hypercalls (guest/include/gears-guest/hypercall.h): a handler for ops
 * [op_lo, op_hi]. It runs synchronously, reads the op and arguments with
 * gears_sc_call__arg() (0 = op, 1..5 = arguments) and answers with
 * gears_sc_call__set_ret(); unanswered ops return -ENOSYS. Registering the first
 * handler installs the stub; GEARS_HC_PING is answered by the engine itself.
 * Returns an id (> 0) for gears_sc__remove_hcall, or a negative errno.
 */
GEARS_API int gears_sc__add_hcall(struct gears_sc *sc, long op_lo, long op_hi, gears_sc_handler_fn fn,
				  void *ctx);
GEARS_API int gears_sc__remove_hcall(struct gears_sc *sc, int id);

/*
 * Doorbell: `port` is an I/O port the VM's isa-debugcon device listens on
 * (gears_vm__bell_port); its chardev is readable when a guest CPU rang.
 * Before sleeping, call gears_sc__bell_arm(): false means a request is
 * already waiting (do not sleep); true means a request posted from now on
 * rings the bell. Disarm on waking. Without it, the host must poll.
 */
GEARS_API void gears_sc__set_bell(struct gears_sc *sc, unsigned port);
GEARS_API bool gears_sc__bell_arm(struct gears_sc *sc);
GEARS_API void gears_sc__bell_disarm(struct gears_sc *sc);

/* Serve requests, drain the ring and handle VM stops, waiting up to
 * timeout_us when there is nothing to do. Returns the number of calls
 * delivered, or a negative errno (-EPIPE: the VM is gone). */
GEARS_API int gears_sc__poll(struct gears_sc *sc, int timeout_us);
/* True when something (sync handlers, exit mode) makes latency matter:
 * callers should poll without long sleeps. */
GEARS_API bool gears_sc__busy(const struct gears_sc *sc);

struct gears_sc_stats {
	uint64_t delivered;	/* handler invocations */
	uint64_t ring_events;	/* records drained */
	uint64_t ring_drops;	/* records lost: ring full (guest counter) */
	uint64_t sync_requests;	/* requests answered */
	uint64_t sync_timeouts;	/* requests the guest stopped waiting for */
	uint64_t sync_late;	/* answers that came after the guest gave up: not applied */
	uint64_t vm_stops;	/* exit-mode stops */
	uint64_t hcalls;
	uint64_t bad_records;	/* malformed data from the guest, skipped */
};
GEARS_API void gears_sc__stats(const struct gears_sc *sc, struct gears_sc_stats *st);

/* Is the stub installed / are breakpoints set? */
GEARS_API bool gears_sc__stub_installed(const struct gears_sc *sc);
GEARS_API bool gears_sc__breakpoints_set(const struct gears_sc *sc);

/* ---- the call, as a handler sees it (valid during the handler only) ---- */

GEARS_API int gears_sc_call__nr(const struct gears_sc_call *c);
GEARS_API bool gears_sc_call__is_exit(const struct gears_sc_call *c);
GEARS_API bool gears_sc_call__compat(const struct gears_sc_call *c);
GEARS_API unsigned gears_sc_call__delivery(const struct gears_sc_call *c);	/* GEARS_SC_EXIT/SYNC/RING */
GEARS_API uint64_t gears_sc_call__arg(const struct gears_sc_call *c, int i);
GEARS_API int64_t gears_sc_call__ret(const struct gears_sc_call *c);		/* exit only */
GEARS_API int gears_sc_call__pid(const struct gears_sc_call *c);		/* process (tgid) */
GEARS_API int gears_sc_call__tid(const struct gears_sc_call *c);
GEARS_API int gears_sc_call__ppid(const struct gears_sc_call *c);		/* parent process */
GEARS_API const char *gears_sc_call__comm(const struct gears_sc_call *c);
GEARS_API int gears_sc_call__cpu(const struct gears_sc_call *c);
GEARS_API uint64_t gears_sc_call__cr3(const struct gears_sc_call *c);
GEARS_API uint64_t gears_sc_call__task(const struct gears_sc_call *c);
GEARS_API uint64_t gears_sc_call__user_ip(const struct gears_sc_call *c);
GEARS_API uint64_t gears_sc_call__user_sp(const struct gears_sc_call *c);	/* not in ring mode */
/* Guest time of the call in ns since the guest booted (from its TSC); for an
 * exit, the return. */
GEARS_API uint64_t gears_sc_call__time_ns(const struct gears_sc_call *c);
/* For an exit: when the call entered, on the same clock (0 if unknown). */
GEARS_API uint64_t gears_sc_call__entry_time_ns(const struct gears_sc_call *c);
/* Was it denied by a handler (exit side)? */
GEARS_API bool gears_sc_call__denied(const struct gears_sc_call *c);

/* The caller's memory, through its page tables. In ring mode this happens after
 * the fact and may fail or see later contents. */
GEARS_API int gears_sc_call__read(const struct gears_sc_call *c, uint64_t va, void *buf, size_t len);
GEARS_API int gears_sc_call__read_str(const struct gears_sc_call *c, uint64_t va, char *buf, size_t max);
/* Write user memory: only pages present, user and writable (never a COW-shared
 * or file-backed read-only page). Sync and exit delivery only. */
GEARS_API int gears_sc_call__write(struct gears_sc_call *c, uint64_t va, const void *buf, size_t len);
/* Strings the guest-side stub captured with the event (ring mode): the n-th
 * NUL-terminated string, or NULL. */
GEARS_API const char *gears_sc_call__captured(const struct gears_sc_call *c, int n);

/* Changing the call: sync and exit delivery only (-EPERM otherwise). */
GEARS_API int gears_sc_call__set_arg(struct gears_sc_call *c, int i, uint64_t v);	/* entry */
GEARS_API int gears_sc_call__set_nr(struct gears_sc_call *c, int nr);			/* entry */
GEARS_API int gears_sc_call__deny(struct gears_sc_call *c, int err);			/* entry: skip, return -err */
GEARS_API int gears_sc_call__skip(struct gears_sc_call *c, int64_t ret);		/* entry: skip, return ret */
GEARS_API int gears_sc_call__set_ret(struct gears_sc_call *c, int64_t v);		/* exit, or hypercall */
/* Entry, sync delivery: also stop at this call's return (ON_EXIT_ASKED handlers). */
GEARS_API int gears_sc_call__want_exit(struct gears_sc_call *c);

/* ---- names ---- */

/* "openat" for 257; NULL if unknown. compat: i386 numbering. */
GEARS_API const char *gears_sc__name(int nr, bool compat);
/* 257 for "openat"; -ENOENT if unknown. */
GEARS_API int gears_sc__number(const char *name, bool compat);
/* Which arguments are NUL-terminated strings (bit i = argument i) and which
 * one is an argv-style array (-1: none), for capture and display. */
GEARS_API unsigned gears_sc__string_args(int nr, bool compat, int *argv_arg);

#ifdef __cplusplus
}
#endif
#endif
