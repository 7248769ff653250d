/* SPDX-License-Identifier: MIT */
/*
 * A synthetic guest for unit tests: RAM in an aligned buffer behind a
 * buffer-backed gears_mem, and page tables built in it (tables handed out
 * from `next` upwards).
 */
#ifndef GEARS_TEST_GUEST_RAM_H
#define GEARS_TEST_GUEST_RAM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>

#define KiB		(1ull << 10)
#define MiB		(1ull << 20)
#define GiB		(1ull << 30)
#define P		GEARS_PTE_P
#define RW		GEARS_PTE_RW
#define US		GEARS_PTE_US
#define PRW		(P | RW | US)

/* A guest: RAM in an aligned buffer, tables handed out from `next` upwards. */
struct guest {
	uint8_t *ram;
	uint64_t size, below_4g;
	struct gears_mem *m;
	uint64_t cr3;
	uint64_t next;		/* next free page for tables (gpa) */
	int levels;
};

static inline uint64_t host_off(const struct guest *g, uint64_t gpa)
{
	return gpa >= 4 * GiB ? gpa - 4 * GiB + g->below_4g : gpa;
}

/* The 8 bytes at gpa in the test's RAM; a test that strays outside it stops
 * here (which also tells the compiler no path does). */
static inline uint8_t *ram_at(const struct guest *g, uint64_t gpa)
{
	uint64_t off = host_off(g, gpa);

	if (g->size < 8 || off > g->size - 8) {
		fprintf(stderr, "guest_ram: gpa 0x%llx is outside the test's RAM\n", (unsigned long long)gpa);
		abort();
	}
	return g->ram + off;
}

static inline void put64(struct guest *g, uint64_t gpa, uint64_t v)
{
	memcpy(ram_at(g, gpa), &v, 8);
}

static inline uint64_t get64(const struct guest *g, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram_at(g, gpa), 8);
	return v;
}

static inline void guest_init_split(struct guest *g, uint64_t size, uint64_t below_4g, int levels)
{
	memset(g, 0, sizeof(*g));
	g->ram = aligned_alloc(4096, size);
	memset(g->ram, 0, size);
	g->size = size;
	g->below_4g = below_4g < size ? below_4g : size;
	g->m = gears_mem__from_buffer(g->ram, size, below_4g, true);
	g->levels = levels;
	g->cr3 = 0x1000;
	g->next = 0x2000;
}

static inline void guest_init(struct guest *g, int levels)
{
	guest_init_split(g, 4 * MiB, 4 * MiB, levels);
}

static inline void guest_fini(struct guest *g)
{
	gears_mem__close(g->m);
	free(g->ram);
}

/* Sign-extend a 48- or 57-bit virtual address. */
static inline uint64_t canon(uint64_t va, int levels)
{
	int unused = levels == 5 ? 7 : 16;

	return (uint64_t)((int64_t)(va << unused) >> unused);
}

static inline uint64_t mkva(int levels, unsigned i5, unsigned i4, unsigned i3, unsigned i2, unsigned i1,
		     uint64_t off)
{
	uint64_t va = (uint64_t)i5 << 48 | (uint64_t)i4 << 39 | (uint64_t)i3 << 30 |
		      (uint64_t)i2 << 21 | (uint64_t)i1 << 12 | off;

	return canon(va, levels);
}

/* gpa of the entry for va at `level`, allocating missing tables on the way. */
static inline uint64_t entry_at(struct guest *g, uint64_t va, int level)
{
	uint64_t table = g->cr3;

	for (int l = g->levels; ; l--) {
		uint64_t e = table + ((va >> (12 + 9 * (l - 1))) & 511) * 8;

		if (l == level)
			return e;
		if (!(get64(g, e) & P)) {
			put64(g, e, g->next | PRW);
			g->next += 4096;
		}
		table = get64(g, e) & 0x000ffffffffff000ull;
	}
}

/* Map va -> pa with a leaf at `level` (1 = 4K, 2 = 2M, 3 = 1G). */
static inline void map(struct guest *g, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
	put64(g, entry_at(g, va, level), pa | flags | (level > 1 ? GEARS_PTE_PS : 0));
}

#endif
