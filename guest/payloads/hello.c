// SPDX-License-Identifier: MIT
/*
 * Example payload: appends "hello from PID <pid>" to the file named by its
 * first argument, from inside the target process (so the file is opened with
 * the target's credentials, namespaces and working directory).
 *
 *	gears inject NAME --pid 42 build/guest/payloads/hello /tmp/out
 */
#include <gears-guest/payload.h>

long gears_payload_main(struct gears_payload_args *a)
{
	if (a->argc < 1)
		return -22;	/* EINVAL: no file named */
	return gears_append_pid_line(a->argv[0], "hello from PID ");
}
