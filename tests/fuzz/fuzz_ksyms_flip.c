// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the kallsyms finder on guest memory that changes
 * between the host's reads, as a guest vCPU can change it. The guest RAM is a
 * known-good synthetic table (byte 0 picks layout B, A or C) behind a
 * buffer-backed gears_mem whose test hook (lib/mem.c) runs before every
 * access; the rest of the input is records of 4 bytes: the access before
 * which it lands (1: before the search over the RAM range, 2: before the copy
 * of a candidate's tables, 3-4: later candidates), a u16 offset (modulo the
 * table size) and a byte XORed in there.
 *
 * Whatever comes back must keep the API's promises; and a table that is
 * found must be the one in the bytes as they ended up: when a plain search of
 * those final bytes finds a table at the same place, both must hold exactly
 * the same symbols, or the finder mixed bytes from before and after a change.
 */
#include "internal.h"
#include "ksyms_good.h"

#define MAX_ACCESS 4

struct flip {
	uint8_t *buf;
	size_t len;
	const uint8_t *rec;
	size_t nrec;
	int accesses;
};

static void flip_hook(void *ctx, uint64_t gpa, uint64_t len)
{
	struct flip *f = ctx;

	(void)gpa;
	(void)len;
	f->accesses++;
	for (size_t i = 0; i < f->nrec; i++) {
		const uint8_t *r = f->rec + 4 * i;

		if (r[0] % MAX_ACCESS + 1 == f->accesses)
			f->buf[((size_t)r[1] | (size_t)r[2] << 8) % f->len] ^= r[3];
	}
}

/* Both tables hold the same symbols, in the same order. */
static void same_tables(const struct gears_ksyms *a, const struct gears_ksyms *b)
{
	size_t n = gears_ksyms__count(a);

	if (gears_ksyms__count(b) != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *na, *nb;
		uint64_t aa, ab;
		char ta, tb;

		if (gears_ksyms__get(a, i, &na, &aa, &ta) || gears_ksyms__get(b, i, &nb, &ab, &tb) ||
		    strcmp(na, nb) || aa != ab || ta != tb)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flip f = { 0 };
	struct gears_ksyms *ks, *again;
	struct gears_mem *m;
	struct good *g;

	if (!good[0].buf) {
		gears_set_log_level(GEARS_LOG_ERROR);
		build_good();
	}
	if (size < 1)
		return 0;
	g = &good[data[0] % 3];
	/* A page multiple, 8-aligned: what gears_mem__from_buffer wants of guest RAM. */
	f.len = (g->len + 4095) & ~(size_t)4095;
	f.buf = aligned_alloc(4096, f.len);
	if (!f.buf)
		return 0;
	memset(f.buf, 0, f.len);
	memcpy(f.buf, g->buf, g->len);
	f.rec = data + 1;
	f.nrec = (size - 1) / 4;
	m = gears_mem__from_buffer(f.buf, f.len, f.len, false);
	if (!m)
		abort();
	gears_mem_set_hook(m, flip_hook, &f);
	ks = gears_ksyms__find_in_mem(m);
	if (!ks && errno != ENOENT && errno != EBADMSG && errno != ENOMEM)
		abort();
	if (ks) {
		exercise(ks);
		gears_mem_set_hook(m, NULL, NULL);
		again = gears_ksyms__find(f.buf, f.len, 0);
		if (again && gears_ksyms__table_gpa(again) == gears_ksyms__table_gpa(ks))
			same_tables(ks, again);
		gears_ksyms__free(again);
	}
	gears_ksyms__free(ks);
	gears_mem__close(m);
	free(f.buf);
	return 0;
}
