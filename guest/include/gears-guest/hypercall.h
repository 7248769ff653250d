/* SPDX-License-Identifier: MIT */
/*
 * The GEARS hypercall ABI, for guest code (payloads, preload libraries,
 * modules' user-space helpers): a `syscall` with the reserved number
 * GEARS_HCALL_NR. While GEARS is attached, its stub in the guest kernel answers
 * it from the host through shared memory and the kernel never sees it; without
 * GEARS the kernel answers -ENOSYS (-38), so callers can tell and fall back.
 *
 *   rax = GEARS_HCALL_NR, rdi = op, rsi/rdx/r10/r8/r9 = arguments; result in rax
 *   (negative errno on failure, like a system call). -ENOSYS: no handler for the
 *   op (or no GEARS); -ETIMEDOUT (-110): GEARS did not answer in time, nothing of
 *   an answer it gives later is applied — the caller may try again.
 *
 * Ops 0..0xff belong to GEARS itself; services take ranges above (see their
 * headers).
 */
#ifndef GEARS_GUEST_HYPERCALL_H
#define GEARS_GUEST_HYPERCALL_H

#include <gears-guest/sc_abi.h>

#define GEARS_HC_PING		0	/* -> GEARS_HC_PONG */
#define GEARS_HC_PAYLOAD_DONE	1	/* a1 = the payload's result (see payload.h) */
#define GEARS_HC_LOG		2	/* a1 = text, a2 = length: a line in gears' log */
#define GEARS_HC_PONG		0x53524145474cL	/* "LGEARS" */

/* A raw x86-64 system call (no libc, no errno): the hypercall is one, and
 * payloads make all theirs this way. */
static inline long gears_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long gears_hypercall(long op, long a1, long a2, long a3, long a4, long a5)
{
	return gears_syscall6((long)GEARS_HCALL_NR, op, a1, a2, a3, a4, a5);
}

/* Is GEARS answering? (One round trip.) */
static inline int gears_present(void)
{
	return gears_hypercall(GEARS_HC_PING, 0, 0, 0, 0, 0) == GEARS_HC_PONG;
}

#endif
