// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the page-table walker: the input is guest RAM (page tables
 * and data alike, as a hostile guest controls both); a 32-byte header at its start
 * picks the walk. ASan catches any read outside the buffer; the checks below catch
 * results that break the API's promises.
 *
 * Header (little-endian):
 *   0  u64 cr3
 *   8  u64 va
 *   16 u8  flags: 1 = 5-level, 2 = split RAM (half below 4 GiB, half at 4 GiB),
 *             4 = write requires user-writable, 8 = oversized length (-E2BIG)
 *   17 u16 length for read/write
 *   19 u16 max for read_str
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>

#define HDR_SIZE	32
#define RAM_MIN		(64u << 10)
#define RAM_MAX		(1u << 20)
#define XFER_MAX	0xffffu

struct hdr {
	uint64_t cr3, va;
	int levels;
	bool split, user_writable, oversized;
	size_t len, max;
};

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void parse(const uint8_t *ram, struct hdr *h)
{
	uint8_t flags = ram[16];

	h->cr3 = le(ram, 8);
	h->va = le(ram + 8, 8);
	h->levels = flags & 1 ? 5 : 4;
	h->split = flags & 2;
	h->user_writable = flags & 4;
	h->oversized = flags & 8;
	h->len = le(ram + 17, 2);
	h->max = le(ram + 19, 2);
	if (h->oversized)
		h->len += GEARS_MEM_MAX_XFER + 1ull;
}

#define ENSURE(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_xlate(const struct gears_mem *m, const struct hdr *h)
{
	struct gears_xlate x;
	int err = gears_pt__xlate(m, h->cr3, h->levels, h->va, &x);

	if (err == -ENOENT)
		ENSURE(x.level >= 1 && x.level <= h->levels);
	if (err)
		return;
	ENSURE(x.page_size == 4096 || x.page_size == 2u << 20 || x.page_size == 1u << 30);
	ENSURE(x.level >= 1 && x.level <= 3);
	ENSURE((x.gpa & (x.page_size - 1)) == (h->va & (x.page_size - 1)));
	ENSURE(gears_mem__valid(m, x.gpa, 1));
	ENSURE(gears_mem__valid(m, x.pte_gpa, 8));
	ENSURE(x.pte & GEARS_PTE_P);
}

static void exercise(struct gears_mem *m, const struct hdr *h, const uint8_t *data, size_t n)
{
	static uint8_t out[XFER_MAX + 1];
	static char str[XFER_MAX + 1];
	int ret;

	check_xlate(m, h);
	ret = gears_vmem__read(m, h->cr3, h->levels, h->va, out, h->len);
	ENSURE(!h->oversized || ret == -E2BIG);
	ret = gears_vmem__read_str(m, h->cr3, h->levels, h->va, str, h->max);
	if (ret >= 0)
		ENSURE((size_t)ret < h->max && str[ret] == '\0' && strlen(str) == (size_t)ret);
	else if (h->max)
		ENSURE(memchr(str, '\0', h->max) != NULL);
	/* Write the input's tail back at va: the walk may well cover the tables themselves. */
	ret = gears_vmem__write(m, h->cr3, h->levels, h->va, data,
				h->oversized ? h->len : (h->len < n ? h->len : n),
				h->user_writable);
	ENSURE(!h->oversized || ret == -E2BIG);
	check_xlate(m, h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ram_size = RAM_MIN, n = size < RAM_MAX ? size : RAM_MAX;
	struct gears_mem *m;
	struct hdr h;
	uint8_t *ram;

	if (size < HDR_SIZE)
		return 0;
	while (ram_size < n)
		ram_size += 4096;
	ram = aligned_alloc(4096, ram_size);
	if (!ram)
		return 0;
	memset(ram + n, 0, ram_size - n);
	memcpy(ram, data, n);
	parse(ram, &h);
	m = gears_mem__from_buffer(ram, ram_size, h.split ? ram_size / 2 & ~4095ul : ram_size,
				   true);
	if (m) {
		exercise(m, &h, data + HDR_SIZE, n - HDR_SIZE);
		gears_mem__close(m);
	}
	free(ram);
	return 0;
}
