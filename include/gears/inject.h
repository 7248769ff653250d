/* SPDX-License-Identifier: MIT */
/*
 * Code injection into a guest process that does not cooperate.
 *
 * The target thread is taken at its next system call entry, seen by the
 * filter-mode stub's synchronous handlers (gears_sc):
 *
 *   1. its pending call becomes mmap(RW, MAP_PRIVATE|MAP_ANONYMOUS|
 *      MAP_POPULATE): fresh anonymous pages of its own, never file-backed or
 *      shared ones;
 *   2. at that call's return gears writes the relocated payload, its
 *      arguments and a stack there, and sends the thread through its own
 *      `syscall` instruction to mprotect the code R+X;
 *   3. the payload runs (gears_payload_args in %rdi) and reports with the
 *      GEARS_HC_PAYLOAD_DONE hypercall;
 *   4. the thread munmaps the payload, then every register goes back as it
 *      was and the interrupted system call is issued again.
 *
 * A thread that makes no system call is made to: a sleeping one gets a
 * spurious wake-up (TIF_SIGPENDING and wake_up_state(), run on an idle vCPU),
 * so its call returns -ERESTART... and is re-issued into step 1; one spinning
 * in user space is caught on its vCPU through the gdbstub and sent through a
 * `syscall` instruction of its vDSO, its registers kept for the end.
 *
 * Once taken, the thread is never left hijacked: an injection that fails
 * or times out only restores it from then on (after the payload, if that
 * already runs), and one freed meanwhile is finished by the engine
 * (gears_sc__poll) as soon as the thread next runs. An answer the guest
 * stopped waiting for changes nothing (the slot protocol, sc_abi.h): the
 * payload asks again for its end; a thread that went back to user space in
 * the middle is restored at its next system call. What cannot be repaired
 * is said in the result (`leaked`: a mapping stayed).
 *
 * One injection at a time per gears_sc. Driven by gears_sc__poll() (the
 * handlers) and gears_inject__step() (kicks, timeouts).
 */
#ifndef GEARS_INJECT_H
#define GEARS_INJECT_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_sc;
struct gears_payload;
struct gears_inject;

struct gears_inject_opts {
	size_t sz;
	int pid;			/* target process (any of its threads), or */
	int tid;			/* exactly this thread */
	int argc;			/* payload arguments (at most 16) */
	const char *const *argv;
	const void *blob;		/* extra data placed next to the payload */
	size_t blob_len;
	unsigned timeout_ms;		/* whole injection (default 10000) */
	bool no_kick;			/* wait for a system call; never wake or stop the target */
};
#define gears_inject_opts__last_field no_kick

enum gears_inject_state {
	GEARS_INJECT_ARMED,		/* waiting for the target's next system call */
	GEARS_INJECT_MAPPING,		/* its call became mmap */
	GEARS_INJECT_PROTECTING,	/* mprotect of the code */
	GEARS_INJECT_RUNNING,		/* the payload runs */
	GEARS_INJECT_UNMAPPING,		/* munmap, then restore */
	GEARS_INJECT_DONE,		/* restored; result valid */
	GEARS_INJECT_FAILED,		/* restored (or the target is gone); error valid */
};

struct gears_inject_result {
	enum gears_inject_state state;
	int error;			/* negative errno when FAILED */
	char why[160];			/* human-readable reason when FAILED */
	int64_t result;			/* the payload's return value */
	int tid, pid;			/* the thread that ran it */
	uint64_t base;			/* where it was mapped */
	uint64_t size;
	const char *how;		/* "syscall", "woken" or "stopped": how it was taken */
	uint64_t ns_taken;		/* start -> thread taken */
	uint64_t ns_total;		/* start -> restored */
	uint64_t syscalls;		/* system calls the payload made */
	bool leaked;			/* munmap failed: the mapping stayed */
};

/* Start injecting `p`, which must stay alive until the injection ends. NULL + errno. */
GEARS_API struct gears_inject *gears_inject__start(struct gears_sc *sc, const struct gears_payload *p,
						   const struct gears_inject_opts *o);
/* Kicks and timeouts: call between gears_sc__poll() calls. Returns true once
 * the injection has ended: DONE or FAILED, or timed out (error -ETIMEDOUT;
 * state says where it was, and the target is restored as soon as it next runs). */
GEARS_API bool gears_inject__step(struct gears_inject *inj);
GEARS_API void gears_inject__result(const struct gears_inject *inj, struct gears_inject_result *r);
/* Abandon (if not ended: the target is restored as soon as it can be, by
 * the engine, which keeps what it needs; a payload already running is left
 * to finish) and free. */
GEARS_API void gears_inject__free(struct gears_inject *inj);
/* Start, poll until the end, result: for tools and tests. */
GEARS_API int gears_inject__run(struct gears_sc *sc, const struct gears_payload *p,
				const struct gears_inject_opts *o, struct gears_inject_result *r);

#ifdef __cplusplus
}
#endif
#endif
