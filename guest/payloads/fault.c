// SPDX-License-Identifier: MIT
/*
 * Test payload: faults at once (a store to address 0). The target process
 * dies of SIGSEGV, as it would from its own bug; gears must report that, not
 * hang, and the rest of the guest must not notice.
 */
#include <gears-guest/payload.h>

long gears_payload_main(struct gears_payload_args *a)
{
	(void)a;
	*(volatile long *)0 = 1;
	return 0;
}
