// SPDX-License-Identifier: MIT
/* futex: the operation and the arguments it takes. */
#include <stdio.h>
#include <string.h>

#include "decode_int.h"

static unsigned long long flag(const char *n)
{
	return xl_value(&xl_futex_flags, n);
}

static const char *opname(const struct dec_ctx *c)
{
	return xl_name(&xl_futex_ops, c->a[1] & ~(flag("FUTEX_PRIVATE_FLAG") | flag("FUTEX_CLOCK_REALTIME")));
}

/* FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME */
void p_futexop(struct dec_ctx *c, int i)
{
	unsigned long long v = c->a[i], priv = flag("FUTEX_PRIVATE_FLAG"), rt = flag("FUTEX_CLOCK_REALTIME");
	const char *n = xl_name(&xl_futex_ops, v & ~(priv | rt));

	if (!n) {
		out_put(c->o, "%#llx /* FUTEX_??? */", v);
		return;
	}
	out_put(c->o, "%s%s%s", n, (v & priv) ? "_PRIVATE" : "", (v & rt) ? "|FUTEX_CLOCK_REALTIME" : "");
}

static bool is(const char *n, const char *what)
{
	return n && !strcmp(n, what);
}

static void out_bitset(struct dec_ctx *c, uint64_t v)
{
	out_value(c->o, &xl_futex_bitset, (uint32_t)v, "%#llx");
}

/* val, then what the operation uses of timeout/val2, uaddr2 and val3. */
void p_futexval(struct dec_ctx *c, int i)
{
	const char *n = opname(c);

	out_put(c->o, "%d", (int)c->a[i]);
	if (is(n, "FUTEX_WAIT") || is(n, "FUTEX_LOCK_PI") || is(n, "FUTEX_LOCK_PI2")) {
		out_str(c->o, ", ");
		p_futexts(c, 3);
	} else if (is(n, "FUTEX_WAIT_BITSET")) {
		out_str(c->o, ", ");
		p_futexts(c, 3);
		out_str(c->o, ", ");
		out_bitset(c, c->a[5]);
	} else if (is(n, "FUTEX_WAKE_BITSET")) {
		out_str(c->o, ", ");
		out_bitset(c, c->a[5]);
	} else if (is(n, "FUTEX_REQUEUE")) {
		out_put(c->o, ", %u, ", (unsigned)c->a[3]);
		out_ptr(c->o, c->a[4]);
	} else if (is(n, "FUTEX_CMP_REQUEUE") || is(n, "FUTEX_CMP_REQUEUE_PI") || is(n, "FUTEX_WAKE_OP")) {
		out_put(c->o, ", %u, ", (unsigned)c->a[3]);
		out_ptr(c->o, c->a[4]);
		out_put(c->o, ", %#x", (unsigned)c->a[5]);
	} else if (is(n, "FUTEX_WAIT_REQUEUE_PI")) {
		out_str(c->o, ", ");
		p_futexts(c, 3);
		out_str(c->o, ", ");
		out_ptr(c->o, c->a[4]);
	}
}

void p_futexts(struct dec_ctx *c, int i)
{
	const void *ts = ctx_struct(c, i, false, 16);

	if (ts)
		out_timespec(c->o, ts);
	else
		p_ptr(c, i);
}

void c_futexts(struct dec_cap *c, int i)
{
	unsigned long long op = c->args[1] & 127;

	/* The ops whose fourth argument is a timeout (FUTEX_WAIT, _LOCK_PI,
	 * _WAIT_BITSET, _WAIT_REQUEUE_PI, _LOCK_PI2). */
	const char *n = xl_name(&xl_futex_ops, op);

	if (!c->exit && n && (!strcmp(n, "FUTEX_WAIT") || !strcmp(n, "FUTEX_LOCK_PI") || !strcmp(n, "FUTEX_WAIT_BITSET") ||
			      !strcmp(n, "FUTEX_WAIT_REQUEUE_PI") || !strcmp(n, "FUTEX_LOCK_PI2")))
		cap_struct(c, i, 16);
}
