// SPDX-License-Identifier: MIT
/*
 * Kernel code injection without a guest shell: this payload, run inside a
 * privileged guest process (gears picks PID 1), hands the module image gears
 * placed next to it (a->blob) to init_module(2). Its first argument, if any,
 * is the module's parameter string ("who=gears").
 */
#include <gears-guest/payload.h>

long gears_payload_main(struct gears_payload_args *a)
{
	const char *params = a->argc >= 1 ? a->argv[0] : "";

	if (!a->blob || !a->blob_len)
		return -22;
	return gears_sys3(GEARS_NR_init_module, a->blob, a->blob_len, params);
}
