// SPDX-License-Identifier: MIT
/*
 * Payload runtime: the entry gears jumps to, and the way back. Linked into
 * every payload (see guest/include/gears-guest/payload.h).
 */
#include <gears-guest/payload.h>

void _start(struct gears_payload_args *a) __attribute__((noreturn, used));
void _start(struct gears_payload_args *a)
{
	long r = a->magic == GEARS_PAYLOAD_MAGIC ? gears_payload_main(a) : -22;

	/* gears answers this by unmapping us and restoring the process; it
	 * never returns while gears is attached and answers in time. Too late
	 * (-ETIMEDOUT: its answer is not applied), ask again. Without gears (it
	 * went away mid-injection) there is nobody to restore the process: end
	 * the thread rather than run into garbage. */
	for (int tries = 0;; tries++) {
		long done = gears_hypercall(GEARS_HC_PAYLOAD_DONE, r, 0, 0, 0, 0);

		if (done != -110 /* ETIMEDOUT */ || tries >= 100)
			break;
		struct { long s, ns; } ts = { 0, 10 * 1000 * 1000 };

		gears_sys3(35 /* nanosleep */, (long)&ts, 0, 0);
	}
	for (;;)
		gears_sys3(60 /* exit */, 127, 0, 0);
}
