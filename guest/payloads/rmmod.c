// SPDX-License-Identifier: MIT
/*
 * The other half of kernel code injection: this payload, run inside PID 1
 * like insmod, unloads the module named by its first argument with
 * delete_module(2), O_NONBLOCK (a module in use is refused with -EWOULDBLOCK,
 * never waited for). Returns 0 or -errno.
 */
#include <gears-guest/payload.h>

#define GEARS_O_NONBLOCK 04000

long gears_payload_main(struct gears_payload_args *a)
{
	if (a->argc < 1 || !a->argv[0][0])
		return -22;
	return gears_sys3(GEARS_NR_delete_module, a->argv[0], GEARS_O_NONBLOCK, 0);
}
