// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the payload ELF loader. Byte 0 picks the mode:
 *   bit 0 clear: the rest of the input is the ELF file, as is;
 *   bit 0 set:   the rest patches the sample payload (tests/unit/payload_sample.c),
 *                so mutations land in real headers, dynamic entries and
 *                relocations and reach the deep checks without a corpus: records
 *                of 3 bytes, u16 offset (modulo the file size) and a byte XORed in;
 *   bit 1 set:   (with bit 0) the patched file is then cut to a length given by
 *                bytes 1-2, modulo its size.
 * Buffers are exact-size copies, so ASan sees any read past the end. A payload
 * that is accepted must keep the API's promises, or the target aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>
#include <gears/payload.h>

#include "payload_sample.h"

#define BASE 0x7f0000000000ull

static void exercise(const struct gears_payload *p)
{
	size_t size = gears_payload__size(p);
	uint64_t entry = gears_payload__entry(p), off[8], len[8];
	bool entry_in_code = false;
	uint8_t *img;
	int n;

	if (!size || size % 4096 || size > GEARS_PAYLOAD_MAX_SIZE || entry >= size)
		abort();
	img = malloc(size);
	if (gears_payload__image(p, BASE, img, size) || gears_payload__image(p, BASE, img, size - 1) != -ENOSPC)
		abort();
	free(img);
	n = gears_payload__exec_ranges(p, off, len, 8);
	if (n == -E2BIG)
		return;
	if (n < 1 || n > 8)
		abort();
	for (int i = 0; i < n; i++) {
		if (off[i] % 4096 || !len[i] || len[i] % 4096 || off[i] + len[i] > size)
			abort();
		entry_in_code |= entry - off[i] < len[i];
	}
	if (!entry_in_code)
		abort();
}

static void load(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct gears_payload *p;

	memcpy(copy, data, size);
	p = gears_payload__from_memory(copy, size);
	free(copy);	/* the payload has its own copy */
	if (p)
		exercise(p);
	else if (errno != ENOEXEC && errno != EINVAL && errno != EFBIG)
		abort();
	gears_payload__free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	unsigned int mode;
	size_t len = payload_sample_len;
	uint8_t *buf;

	if (!quiet) {
		gears_set_log_level(GEARS_LOG_ERROR);
		quiet = true;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (!(mode & 1)) {
		load(data, size);
		return 0;
	}
	buf = malloc(payload_sample_len);
	memcpy(buf, payload_sample, payload_sample_len);
	if (mode & 2 && size >= 2) {
		len = ((size_t)data[0] | (size_t)data[1] << 8) % payload_sample_len;
		data += 2;
		size -= 2;
	}
	for (size_t i = 0; i + 3 <= size; i += 3) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % payload_sample_len;

		buf[off] ^= data[i + 2];
	}
	load(buf, len);
	free(buf);
	return 0;
}
