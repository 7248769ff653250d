// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the kallsyms finder. Byte 0 picks the mode:
 *   low 2 bits 0:  the rest of the input is guest memory, scanned as is;
 *   low 2 bits 1-3: the rest patches a known-good synthetic table (layout A, B
 *                   or C with different encodings), so mutations land in the
 *                   tables and reach the deep checks: records of 3 bytes,
 *                   u16 offset (modulo the table size) and a byte XORed in.
 *   bits 4-6:       the gpa of the buffer's first byte (alignment is by gpa).
 * Buffers are exact-size copies, so ASan sees any read past the end; a table
 * that is accepted must keep the API's promises, or the target aborts.
 */
#include "ksyms_good.h"

static void scan(const uint8_t *p, size_t len, uint64_t gpa)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct gears_ksyms *ks;

	memcpy(copy, p, len);
	ks = gears_ksyms__find(copy, len, gpa);
	if (ks)
		exercise(ks);
	else if (errno != ENOENT && errno != EBADMSG && errno != ENOMEM)
		abort();
	gears_ksyms__free(ks);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int mode;
	struct good *g;
	uint64_t gpa;
	uint8_t *buf;

	if (!good[0].buf) {
		gears_set_log_level(GEARS_LOG_ERROR);
		build_good();
	}
	if (size < 1)
		return 0;
	mode = data[0] & 3;
	gpa = 0x1000000 + ((data[0] >> 4) & 7);
	data++;
	size--;
	if (mode == 0) {
		scan(data, size, gpa);
		return 0;
	}
	g = &good[mode - 1];
	buf = malloc(g->len);
	memcpy(buf, g->buf, g->len);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % g->len;

		buf[off] ^= data[i + 2];
	}
	/* the good tables are 8-aligned at gpa 0x1000000 */
	scan(buf, g->len, gpa & ~7ull);
	free(buf);
	return 0;
}
