/* SPDX-License-Identifier: MIT */
/*
 * Shared by the kallsyms fuzzers: three known-good synthetic tables (layouts
 * B, A and C with different encodings) for mutations to start from, and the
 * promises any table the finder accepts must keep.
 */
#ifndef GEARS_FUZZ_KSYMS_GOOD_H
#define GEARS_FUZZ_KSYMS_GOOD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>

#include "../unit/ksyms_gen.h"

#define NSYMS	600
#define LEAD	256	/* garbage before the tables, with a decoy digit run */

struct good {
	uint8_t *buf;
	size_t len;
};

static struct good good[3];
static char names[NSYMS][16];
static struct ksgen_sym syms[NSYMS + 8];

static uint32_t make_syms(void)
{
	const uint64_t rb = 0xffffffff96400000ull;
	uint32_t n = 0;

	syms[n++] = (struct ksgen_sym){ "fixed_percpu_data", 'A', 0, true };
	syms[n++] = (struct ksgen_sym){ "current_task", 'A', 0x1fb80, true };
	syms[n++] = (struct ksgen_sym){ "_text", 'T', rb, false };
	for (uint32_t i = 0; i < NSYMS; i++) {
		snprintf(names[i], sizeof(names[i]), "f%03u_%s", i, i % 5 ? "x" : "lock");
		syms[n++] = (struct ksgen_sym){ names[i], i % 2 ? 't' : 'D', rb + 0x100 + i * 0x10, false };
	}
	syms[n++] = (struct ksgen_sym){ "_end", 'B', rb + 0x1000000, false };
	return n;
}

static void build_good(void)
{
	static const struct ksgen_opts opts[3] = {
		{ .layout = KSGEN_B, .abs_percpu = true, .relative_base = 0xffffffff96400000ull },
		{ .layout = KSGEN_A, .markers64 = true, .relative_base = 0xffffffff96400000ull },
		{ .layout = KSGEN_C, .abs_percpu = true, .relative_base = 0xffffffff96400000ull },
	};
	static const char decoy[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";
	uint32_t n = make_syms();

	for (int i = 0; i < 3; i++) {
		size_t cap = 64 << 10, end;
		uint8_t *buf = calloc(1, cap);

		memcpy(buf + 16, decoy, sizeof(decoy));
		end = ksgen_build(buf, cap, LEAD, syms, n, &opts[i], NULL);
		if (!end)
			abort();
		good[i].buf = buf;
		good[i].len = end;
	}
}

/* Whatever was accepted must answer consistently. */
static void exercise(const struct gears_ksyms *ks)
{
	size_t n = gears_ksyms__count(ks);
	const char *name;
	uint64_t addr, a2, off;
	char type;

	if (!n || n > GEARS_KSYMS_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (gears_ksyms__get(ks, i, &name, &addr, &type) || !name)
			abort();
		if (gears_ksyms__lookup(ks, name, &a2))
			abort();
		if (i < 64 || i % 97 == 0) {
			const char *s = gears_ksyms__symbolize(ks, addr, &off);

			if (s && off > addr)
				abort();
		}
	}
	if (gears_ksyms__get(ks, n, &name, &addr, &type) != -ERANGE)
		abort();
}

#endif
