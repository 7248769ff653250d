// SPDX-License-Identifier: MIT
/*
 * Test payload: sleeps MS milliseconds, then appends "slow done in PID <pid>"
 * to FILE. Longer than the injection's timeout, it shows that a timed-out
 * injection still runs its payload to the end and then restores the target.
 *
 *	gears inject NAME --pid 42 --timeout 500 build/guest/payloads/slow 2000 /tmp/out
 */
#include <gears-guest/payload.h>

#define NR_nanosleep 35

long gears_payload_main(struct gears_payload_args *a)
{
	struct { long s, ns; } ts = { 0, 0 };
	unsigned long ms = 0;

	if (a->argc < 2)
		return -22;	/* EINVAL */
	for (const char *p = a->argv[0]; *p >= '0' && *p <= '9'; p++)
		ms = ms * 10 + (unsigned long)(*p - '0');
	ts.s = (long)(ms / 1000);
	ts.ns = (long)(ms % 1000) * 1000000;
	gears_sys3(NR_nanosleep, &ts, 0, 0);
	return gears_append_pid_line(a->argv[1], "slow done in PID ");
}
