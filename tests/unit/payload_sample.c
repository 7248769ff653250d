// SPDX-License-Identifier: MIT
/*
 * A tiny freestanding payload for the loader's tests (built -static-pie, see the
 * Makefile). Its pointer table holds link-time addresses of strings, so the linker
 * emits R_X86_64_RELATIVE relocations the loader must apply; `scratch` is bss the
 * loader must zero. The table is indexed by a run-time count so the compiler
 * cannot fold it into direct rip-relative loads.
 */
struct payload_out {
	unsigned long n;	/* in: strings wanted; out: scratch[4000] after increment */
	const char *msg[3];
};

static const char s0[] = "GEARS payload string 0";
static const char s1[] = "GEARS payload string 1";
static const char s2[] = "GEARS payload string 2";
static const char *const table[] = { s0, s1, s2 };
static char scratch[8192];

void _start(void *arg);

void _start(void *arg)
{
	struct payload_out *o = arg;

	for (unsigned long i = 0; i < o->n && i < 3; i++) {
		o->msg[i] = table[i];
		scratch[i * 4000] += 1;
	}
	o->n = (unsigned long)scratch[4000];
}
