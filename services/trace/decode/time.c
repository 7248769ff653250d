// SPDX-License-Identifier: MIT
/* Time: clock ids, timespec, timeval, timers. */
#include <linux/time.h>

#include <stdio.h>
#include <string.h>

#include "decode_int.h"

void p_clock(struct dec_ctx *c, int i) { out_value(c->o, &xl_clocks, (unsigned long long)(int)c->a[i], "%lld"); }
void p_timerflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_timer_flags, (unsigned)c->a[i], "0"); }
void p_itimer(struct dec_ctx *c, int i) { out_value(c->o, &xl_itimers, (unsigned)c->a[i], "%#llx /* ITIMER_??? */"); }

void out_timespec(struct dec_out *o, const void *p)
{
	const struct __kernel_timespec *ts = p;

	out_put(o, "{tv_sec=%lld, tv_nsec=%lld}", (long long)ts->tv_sec, (long long)ts->tv_nsec);
}

void p_ts_in(struct dec_ctx *c, int i)
{
	const void *ts = ctx_struct(c, i, false, sizeof(struct __kernel_timespec));

	if (ts)
		out_timespec(c->o, ts);
	else
		p_ptr(c, i);
}

void c_ts_in(struct dec_cap *c, int i)
{
	if (!c->exit)
		cap_struct(c, i, sizeof(struct __kernel_timespec));
}

/* clock_gettime's result; nanosleep's remaining time (only when interrupted). */
void p_ts_out(struct dec_ctx *c, int i)
{
	bool sleep = c->name && strstr(c->name, "nanosleep");
	const void *ts = c->exited && (sleep ? dec_is_error(c->ret) : !dec_is_error(c->ret))
			 ? ctx_struct(c, i, true, sizeof(struct __kernel_timespec)) : NULL;

	if (ts)
		out_timespec(c->o, ts);
	else
		p_ptr(c, i);
}

void c_ts_out(struct dec_cap *c, int i)
{
	if (c->exit)
		cap_struct(c, i, sizeof(struct __kernel_timespec));
}

void p_tv_out(struct dec_ctx *c, int i)
{
	const struct __kernel_old_timeval *tv = ctx_ok(c) ? ctx_struct(c, i, true, sizeof(*tv)) : NULL;

	if (tv)
		out_put(c->o, "{tv_sec=%lld, tv_usec=%lld}", (long long)tv->tv_sec, (long long)tv->tv_usec);
	else
		p_ptr(c, i);
}

void c_tv_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, sizeof(struct __kernel_old_timeval));
}

void p_time_out(struct dec_ctx *c, int i)
{
	const int64_t *t = ctx_ok(c) ? ctx_struct(c, i, true, 8) : NULL;

	if (t)
		out_put(c->o, "[%lld]", (long long)*t);
	else
		p_ptr(c, i);
}

void c_time_out(struct dec_cap *c, int i)
{
	if (c->exit && !dec_is_error(c->ret))
		cap_struct(c, i, 8);
}
