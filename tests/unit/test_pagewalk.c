// SPDX-License-Identifier: MIT
/*
 * Guest-physical memory and the page-table walker, on synthetic page tables built
 * in a buffer (no VM needed).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gears/gears.h>

#include "guest_ram.h"
#include "testlib.h"

TEST(xlate_4k)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va = 0x7f0012345000ull;

	guest_init(&g, 4);
	map(&g, va, 0x80000, 1, PRW | GEARS_PTE_NX);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va + 0x123, &x), 0);
	CHECK_EQ(x.gpa, 0x80123);
	CHECK_EQ(x.page_size, 4096);
	CHECK_EQ(x.level, 1);
	CHECK_EQ(x.pte, 0x80000 | PRW | GEARS_PTE_NX);
	CHECK_EQ(x.pte_gpa, entry_at(&g, va, 1));
	CHECK(x.writable && x.user && x.nx);
	/* x may be NULL when only the verdict matters. */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, NULL), 0);
	/* A kernel address (negative half). */
	map(&g, 0xffffffff81000000ull, 0x90000, 1, P | RW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, 0xffffffff81000fffull, &x), 0);
	CHECK_EQ(x.gpa, 0x90fff);
	CHECK(x.writable && !x.user && !x.nx);
	guest_fini(&g);
}

TEST(xlate_large_pages)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va2m = 0xffff888000200000ull, va1g = 0xffff888040000000ull;

	guest_init(&g, 4);
	map(&g, va2m, 0x200000, 2, P | RW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va2m + 0x12345, &x), 0);
	CHECK_EQ(x.gpa, 0x212345);
	CHECK_EQ(x.page_size, 2 * MiB);
	CHECK_EQ(x.level, 2);
	/* 1 GiB page at gpa 0: any offset inside RAM translates. */
	map(&g, va1g, 0, 3, P | RW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va1g + 0x123456, &x), 0);
	CHECK_EQ(x.gpa, 0x123456);
	CHECK_EQ(x.page_size, 1 * GiB);
	CHECK_EQ(x.level, 3);
	/* ... and an offset past the end of RAM is -EFAULT, translation still reported. */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va1g + 0x3fffffff, &x), -EFAULT);
	CHECK_EQ(x.gpa, 0x3fffffff);
	/* PAT (bit 12) is allowed in a large leaf, and is not part of the address. */
	map(&g, va2m, 0x200000 | (1ull << 12), 2, P);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va2m + 5, &x), 0);
	CHECK_EQ(x.gpa, 0x200005);
	guest_fini(&g);
}

TEST(xlate_5level)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va = mkva(5, 0x1f3, 7, 8, 9, 10, 0x42);

	guest_init(&g, 5);
	CHECK(va >> 56 == 0xff);	/* negative half of the 57-bit space */
	map(&g, va, 0x30000, 1, PRW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 5, va, &x), 0);
	CHECK_EQ(x.gpa, 0x30042);
	/* Canonical for 57 bits, not for 48. */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EINVAL);
	va = mkva(5, 0x0ab, 1, 2, 3, 4, 0);
	map(&g, va, 0x31000, 1, PRW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 5, va + 8, &x), 0);
	CHECK_EQ(x.gpa, 0x31008);
	guest_fini(&g);
}

TEST(xlate_cr3_flag_bits_ignored)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va = 0x400000;

	guest_init(&g, 4);
	map(&g, va, 0x50000, 1, PRW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3 | 0xfff | (1ull << 63), 4, va, &x), 0);
	CHECK_EQ(x.gpa, 0x50000);
	/* Bits above MAXPHYADDR (e.g. LAM enables 61/62) are not address bits either. */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3 | (3ull << 61) | 0x18, 4, va, &x), 0);
	CHECK_EQ(x.gpa, 0x50000);
	guest_fini(&g);
}

static void check_not_present(int levels)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va = mkva(levels, levels == 5 ? 3 : 0, 5, 6, 7, 8, 0x10);

	for (int lvl = 1; lvl <= levels; lvl++) {
		uint64_t e;

		guest_init(&g, levels);
		map(&g, va, 0x60000, 1, PRW);
		CHECK_EQ(gears_pt__xlate(g.m, g.cr3, levels, va, &x), 0);
		e = entry_at(&g, va, lvl);
		/* Not present, but with other bits set: only P counts. */
		put64(&g, e, get64(&g, e) & ~P);
		x.level = 0;
		CHECK_EQ(gears_pt__xlate(g.m, g.cr3, levels, va, &x), -ENOENT);
		CHECK_EQ(x.level, lvl);
		CHECK(strstr(gears_last_error(), "not present") != NULL);
		guest_fini(&g);
	}
}

TEST(xlate_not_present_each_level)
{
	check_not_present(4);
	check_not_present(5);
}

TEST(xlate_outside_ram)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va = 0x600000;

	guest_init(&g, 4);
	map(&g, va, 0x70000, 1, PRW);
	/* A PDE whose page table is beyond the end of RAM. */
	put64(&g, entry_at(&g, va, 2), 0x7000000 | PRW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EFAULT);
	CHECK(strstr(gears_last_error(), "PDE 3 of table at gpa") != NULL);
	CHECK(strstr(gears_last_error(), "outside guest RAM (0x7000000)") != NULL);
	/* A leaf pointing outside RAM. */
	put64(&g, entry_at(&g, va, 2), 0x7e00000 | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EFAULT);
	/* CR3 itself outside RAM, and an address-field value with every bit set. */
	CHECK_EQ(gears_pt__xlate(g.m, 0x000ffffffffff000ull, 4, va, &x), -EFAULT);
	CHECK(strstr(gears_last_error(), "CR3") != NULL);
	put64(&g, entry_at(&g, va, 4), 0x000ffffffffff000ull | P);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EFAULT);
	guest_fini(&g);
}

TEST(xlate_recursive_mapping)
{
	struct guest g;
	struct gears_xlate x;

	guest_init(&g, 4);
	map(&g, 0x5000, 0x10000, 1, PRW);	/* PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 */
	CHECK_EQ(get64(&g, 0x1000) & ~0xfffull, 0x2000);
	/* Slot 511 points at the PML4 itself, like a recursive (self-map) entry. */
	put64(&g, 0x1000 + 511 * 8, 0x1000 | P | RW);
	/* Each extra trip through slot 511 strips one level: the tables become pages. */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 511, 0, 0, 0, 0x28), &x), 0);
	CHECK_EQ(x.gpa, 0x4028);	/* the PT */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 511, 511, 0, 0, 0), &x), 0);
	CHECK_EQ(x.gpa, 0x3000);	/* the PD */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 511, 511, 511, 0, 0), &x), 0);
	CHECK_EQ(x.gpa, 0x2000);	/* the PDPT */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 511, 511, 511, 511, 0xff8), &x), 0);
	CHECK_EQ(x.gpa, 0x1ff8);	/* the PML4's own slot 511 */
	CHECK_EQ(x.level, 1);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 511, 511, 511, 511, 0x0), &x), 0);
	CHECK_EQ(x.gpa, 0x1000);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 0, 0, 0, 5, 7), &x), 0);
	CHECK_EQ(x.gpa, 0x10007);
	/* A PT whose entry maps the PT: also just a page. */
	put64(&g, 0x4000 + 6 * 8, 0x4000 | P);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, mkva(4, 0, 0, 0, 0, 6, 0x30), &x), 0);
	CHECK_EQ(x.gpa, 0x4030);
	guest_fini(&g);
}

TEST(xlate_bad_va_and_levels)
{
	struct guest g;
	struct gears_xlate x;

	guest_init(&g, 4);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, 0x0000800000000000ull, &x), -EINVAL);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, 0xffff7fffffffffffull, &x), -EINVAL);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 5, 0x0100000000000000ull, &x), -EINVAL);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 3, 0x1000, &x), -EINVAL);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 6, 0x1000, &x), -EINVAL);
	/* Canonical but unmapped: a different error. */
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, 0xffff800000000000ull, &x), -ENOENT);
	CHECK_EQ(x.level, 4);
	guest_fini(&g);
}

TEST(xlate_reserved_bits)
{
	struct guest g;
	struct gears_xlate x;
	uint64_t va = 0x40000000ull + 0x200000;
	uint64_t pde;

	guest_init(&g, 4);
	map(&g, va, 0x200000, 2, P | RW);
	pde = entry_at(&g, va, 2);
	put64(&g, pde, 0x200000 | (1ull << 13) | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EIO);
	CHECK(strstr(gears_last_error(), "reserved") != NULL);
	put64(&g, pde, 0x200000 | (1ull << 20) | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EIO);
	/* Bits 52..62 are software/protection-key bits, not reserved. */
	put64(&g, pde, 0x200000 | (0x7ffull << 52) | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va + 1, &x), 0);
	CHECK_EQ(x.gpa, 0x200001);
	/* A 1 GiB leaf with bit 29 set. */
	put64(&g, entry_at(&g, va, 3), (1ull << 29) | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EIO);
	/* PS in a PML4E is reserved. */
	put64(&g, entry_at(&g, va, 4), 0x200000 | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), -EIO);
	/* Software bits in non-leaf entries are fine. */
	put64(&g, entry_at(&g, va, 4), 0x2000 | PRW | (0x7ffull << 52));
	put64(&g, entry_at(&g, va, 3), 0x3000 | PRW | (1ull << 52));
	put64(&g, entry_at(&g, va, 2), 0x200000 | P | GEARS_PTE_PS);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va, &x), 0);
	guest_fini(&g);
}

TEST(split_memory_above_4g)
{
	struct guest g;
	struct gears_xlate x;
	uint8_t buf[16];
	uint64_t va = 0x7000;

	/* 3 MiB of RAM: 2 MiB below 4 GiB, 1 MiB at 4 GiB. */
	guest_init_split(&g, 3 * MiB, 2 * MiB, 4);
	CHECK_EQ(gears_mem__size(g.m), 3 * MiB);
	CHECK(gears_mem__valid(g.m, 2 * MiB - 8, 8));
	CHECK(!gears_mem__valid(g.m, 2 * MiB - 8, 9));
	CHECK(!gears_mem__valid(g.m, 2 * MiB, 1));
	CHECK(!gears_mem__valid(g.m, 4 * GiB - 1, 1));
	CHECK(gears_mem__valid(g.m, 4 * GiB, MiB));
	CHECK(!gears_mem__valid(g.m, 4 * GiB, MiB + 1));
	CHECK(!gears_mem__valid(g.m, 4 * GiB + MiB, 1));
	CHECK_EQ(gears_mem__read(g.m, 3 * GiB, buf, 1), -EFAULT);
	CHECK(gears_mem__ptr(g.m, 2 * MiB, 1) == NULL && errno == EFAULT);
	CHECK(gears_mem__ptr(g.m, 4 * GiB + 0x10, 1) == g.ram + 2 * MiB + 0x10);

	/* A page table above 4 GiB mapping a page above 4 GiB. */
	put64(&g, 0x1000, 0x2000 | PRW);
	put64(&g, 0x2000, 0x3000 | PRW);
	put64(&g, 0x3000, (4 * GiB + 0x1000) | PRW);
	put64(&g, 4 * GiB + 0x1000 + 7 * 8, (4 * GiB + 0x5000) | PRW);
	memcpy(g.ram + 2 * MiB + 0x5000 + 0x10, "above-4g", 9);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, va + 0x10, &x), 0);
	CHECK_EQ(x.gpa, 4 * GiB + 0x5010);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 0x10, buf, 9), 0);
	CHECK_STR((char *)buf, "above-4g");
	/* Mapping into the hole is -EFAULT. */
	put64(&g, 4 * GiB + 0x1000 + 8 * 8, (3 * GiB) | PRW);
	CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, 0x8000, &x), -EFAULT);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, 0x8000, buf, 1), -EFAULT);
	guest_fini(&g);
}

static int count_range(uint64_t gpa, const void *p, uint64_t len, void *ctx)
{
	uint64_t *v = ctx;

	v[v[0] * 2 + 1] = gpa;
	v[v[0] * 2 + 2] = len;
	v[0]++;
	return 0;
}

static int stop_range(uint64_t gpa, const void *p, uint64_t len, void *ctx)
{
	(*(int *)ctx)++;
	return 42;
}

TEST(mem_bounds_and_ranges)
{
	uint8_t *ram = aligned_alloc(4096, 2 * MiB);
	uint64_t v[5] = { 0 };
	struct gears_mem *m;
	uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	int calls = 0;

	memset(ram, 0, 2 * MiB);
	m = gears_mem__from_buffer(ram, 2 * MiB, 1 * MiB, true);
	CHECK(m != NULL);
	CHECK_EQ(gears_mem__for_each_range(m, count_range, v), 0);
	CHECK_EQ(v[0], 2);
	CHECK_EQ(v[1], 0);
	CHECK_EQ(v[2], MiB);
	CHECK_EQ(v[3], 4 * GiB);
	CHECK_EQ(v[4], MiB);
	CHECK_EQ(gears_mem__for_each_range(m, stop_range, &calls), 42);
	CHECK_EQ(calls, 1);
	/* gpa + len overflowing must not wrap into RAM. */
	CHECK(!gears_mem__valid(m, UINT64_MAX - 3, 8));
	CHECK(!gears_mem__valid(m, 8, UINT64_MAX));
	CHECK(!gears_mem__valid(m, 4 * GiB + 8, UINT64_MAX - 4));
	CHECK_EQ(gears_mem__read(m, UINT64_MAX - 3, b, 8), -EFAULT);
	CHECK_EQ(gears_mem__write(m, MiB - 4, b, 8), -EFAULT);
	CHECK_EQ(gears_mem__write(m, MiB - 8, b, 8), 0);
	CHECK_EQ(ram[MiB - 1], 8);
	CHECK_EQ(gears_mem__write(m, 4 * GiB + MiB - 8, b, 8), 0);
	CHECK_EQ(ram[2 * MiB - 8], 1);
	gears_mem__close(m);

	/* Read-only: writes refused, reads fine. */
	m = gears_mem__from_buffer(ram, 2 * MiB, 2 * MiB, false);
	CHECK_EQ(gears_mem__write(m, 0, b, 1), -EROFS);
	CHECK_EQ(gears_mem__read(m, MiB - 8, b, 8), 0);
	CHECK_EQ(gears_vmem__write(m, 0x1000, 4, 0, b, 1, false), -EROFS);
	v[0] = 0;
	CHECK_EQ(gears_mem__for_each_range(m, count_range, v), 0);
	CHECK_EQ(v[0], 1);
	gears_mem__close(m);

	/* Bad layouts. */
	errno = 0;
	CHECK(gears_mem__from_buffer(ram + 4, MiB, MiB, false) == NULL && errno == EINVAL);
	CHECK(gears_mem__from_buffer(ram, 0, 0, false) == NULL && errno == EINVAL);
	CHECK(gears_mem__from_buffer(ram, 2 * MiB, MiB + 1, false) == NULL && errno == EINVAL);
	CHECK(gears_mem__from_buffer(NULL, MiB, MiB, false) == NULL && errno == EINVAL);
	/* below_4g above 4 GiB with a remainder would overlap the high part. */
	CHECK(gears_mem__from_buffer(ram, 8 * GiB, 5 * GiB, false) == NULL && errno == EINVAL);
	free(ram);
}

TEST(vmem_read_cross_page)
{
	struct guest g;
	uint8_t buf[64];
	uint64_t va = 0x10000000;

	guest_init(&g, 4);
	map(&g, va, 0x50000, 1, PRW);
	map(&g, va + 4096, 0x20000, 1, PRW);
	memcpy(g.ram + 0x50000 + 4096 - 4, "abcd", 4);
	memcpy(g.ram + 0x20000, "efgh", 4);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 4096 - 4, buf, 8), 0);
	CHECK(!memcmp(buf, "abcdefgh", 8));
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va, buf, 0), 0);
	put64(&g, entry_at(&g, va + 4096, 1), 0);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 4096 - 4, buf, 8), -ENOENT);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 4096 - 4, buf, 4), 0);
	/* A range wrapping past the top of the address space. */
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, UINT64_MAX - 3, buf, 8), -EFAULT);
	guest_fini(&g);
}

TEST(vmem_write_permissions)
{
	struct guest g;
	uint8_t buf[8];
	uint64_t va = 0x20000000;

	guest_init(&g, 4);
	map(&g, va, 0x50000, 1, PRW);
	map(&g, va + 4096, 0x51000, 1, P | US);		/* read-only */
	map(&g, va + 8192, 0x52000, 1, P | RW);		/* supervisor */
	memset(g.ram + 0x50000, 'x', 3 * 4096);

	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va + 4090, "0123456789ab", 12, true), -EACCES);
	CHECK(strstr(gears_last_error(), "not user-writable") != NULL);
	CHECK_EQ(g.ram[0x50000 + 4095], 'x');	/* the writable first page is untouched too */
	CHECK_EQ(g.ram[0x51000], 'x');
	CHECK(!(get64(&g, entry_at(&g, va, 1)) & GEARS_PTE_D));
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va + 8192, "z", 1, true), -EACCES);
	CHECK_EQ(g.ram[0x52000], 'x');
	/* RW clear at an upper level makes every page below read-only. */
	put64(&g, entry_at(&g, va, 3), get64(&g, entry_at(&g, va, 3)) & ~RW);
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va, "z", 1, true), -EACCES);
	CHECK_EQ(g.ram[0x50000], 'x');
	/* Without the check (a debugger's write), the read-only page is written. */
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va + 4094, "0123", 4, false), 0);
	CHECK(!memcmp(g.ram + 0x50000 + 4094, "0123", 4));
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 4094, buf, 4), 0);
	CHECK(!memcmp(buf, "0123", 4));
	/* Not-present page in the middle: nothing written. */
	put64(&g, entry_at(&g, va + 4096, 1), 0);
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va + 4094, "abcd", 4, false), -ENOENT);
	CHECK(!memcmp(g.ram + 0x50000 + 4094, "01", 2));
	guest_fini(&g);
}

TEST(vmem_write_sets_accessed_dirty)
{
	struct guest g;
	uint64_t va = 0x30000000, va2m = 0x30200000;
	const uint64_t ad = GEARS_PTE_A | GEARS_PTE_D;

	guest_init(&g, 4);
	map(&g, va, 0x50000, 1, PRW);
	map(&g, va + 4096, 0x60000, 1, PRW);
	map(&g, va2m, 0x200000, 2, PRW);
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va + 4095, "hi", 2, true), 0);
	CHECK_EQ(g.ram[0x50fff], 'h');
	CHECK_EQ(g.ram[0x60000], 'i');
	CHECK_EQ(get64(&g, entry_at(&g, va, 1)), 0x50000 | PRW | ad);
	CHECK_EQ(get64(&g, entry_at(&g, va + 4096, 1)), 0x60000 | PRW | ad);
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, va2m + 0x1234, "x", 1, true), 0);
	CHECK_EQ(g.ram[0x201234], 'x');
	CHECK_EQ(get64(&g, entry_at(&g, va2m, 2)), 0x200000 | PRW | GEARS_PTE_PS | ad);
	/* A read sets nothing. */
	map(&g, va + 8192, 0x70000, 1, PRW);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 8192, g.ram + 0x80000, 4), 0);
	CHECK_EQ(get64(&g, entry_at(&g, va + 8192, 1)), 0x70000 | PRW);
	guest_fini(&g);
}

TEST(vmem_read_str)
{
	struct guest g;
	char buf[32];
	uint64_t va = 0x40000000;

	guest_init(&g, 4);
	map(&g, va, 0x50000, 1, PRW);
	map(&g, va + 4096, 0x70000, 1, PRW);
	memcpy(g.ram + 0x50000, "hello", 6);
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va, buf, sizeof(buf)), 5);
	CHECK_STR(buf, "hello");
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va, buf, 6), 5);
	CHECK_STR(buf, "hello");
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va, buf, 5), -ENAMETOOLONG);
	CHECK_STR(buf, "hell");
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va, buf, 1), -ENAMETOOLONG);
	CHECK_STR(buf, "");
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va, buf, 0), -EINVAL);
	/* Across a page boundary. */
	memcpy(g.ram + 0x50000 + 4093, "abc", 3);
	memcpy(g.ram + 0x70000, "def", 4);
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va + 4093, buf, sizeof(buf)), 6);
	CHECK_STR(buf, "abcdef");
	/* The NUL would be on a missing page: the translation error wins. */
	put64(&g, entry_at(&g, va + 4096, 1), 0);
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va + 4093, buf, sizeof(buf)), -ENOENT);
	CHECK_STR(buf, "abc");
	/* ... unless max ends before it. */
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, va + 4093, buf, 3), -ENAMETOOLONG);
	CHECK_STR(buf, "ab");
	/* At the very top of the address space max may reach past it; the NUL may not. */
	map(&g, UINT64_MAX & ~0xfffull, 0x90000, 1, PRW);
	memcpy(g.ram + 0x90ff0, "top", 4);
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, UINT64_MAX - 15, buf, sizeof(buf)), 3);
	CHECK_STR(buf, "top");
	memset(g.ram + 0x90ff0, 'y', 16);
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, UINT64_MAX - 15, buf, sizeof(buf)), -EFAULT);
	CHECK_EQ(strlen(buf), 16);
	guest_fini(&g);
}

TEST(vmem_length_limits)
{
	struct guest g;
	char c;

	guest_init(&g, 4);
	map(&g, 0x1000000, 0x50000, 1, PRW);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, 0x1000000, &c, GEARS_MEM_MAX_XFER + 1ull), -E2BIG);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, 0x1000000, &c, SIZE_MAX), -E2BIG);
	CHECK_EQ(gears_vmem__write(g.m, g.cr3, 4, 0x1000000, &c, GEARS_MEM_MAX_XFER + 1ull, false),
		 -E2BIG);
	CHECK_EQ(gears_vmem__read_str(g.m, g.cr3, 4, 0x1000000, &c, GEARS_MEM_MAX_XFER + 1ull),
		 -E2BIG);
	CHECK(strstr(gears_last_error(), "allowed") != NULL);
	guest_fini(&g);
}

TEST(mem_open_file)
{
	char path[64];
	uint8_t pat[8192], b[16];
	struct gears_mem *m;
	int fd;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7);
	fd = memfd_create("gears-test-ram", MFD_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, pat, sizeof(pat)), (long long)sizeof(pat));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	/* Split: 4 KiB low, 4 KiB at 4 GiB. */
	m = gears_mem__open(path, 8192, 4096, true);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ(gears_mem__size(m), 8192);
		CHECK_EQ(gears_mem__read(m, 4 * GiB + 16, b, 16), 0);
		CHECK(!memcmp(b, pat + 4096 + 16, 16));
		CHECK_EQ(gears_mem__read(m, 4096, b, 1), -EFAULT);
		/* Writes go through to the file (MAP_SHARED). */
		CHECK_EQ(gears_mem__write(m, 4 * GiB, "RAM!", 4), 0);
		CHECK_EQ(pread(fd, b, 4, 4096), 4);
		CHECK(!memcmp(b, "RAM!", 4));
		gears_mem__close(m);
	}
	/* Size 0: the whole file, read-only. */
	m = gears_mem__open(path, 0, UINT64_MAX, false);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ(gears_mem__size(m), 8192);
		CHECK_EQ(gears_mem__read(m, 8, b, 8), 0);
		CHECK(!memcmp(b, pat + 8, 8));
		CHECK_EQ(gears_mem__write(m, 0, b, 1), -EROFS);
		gears_mem__close(m);
	}
	/* Larger than the file: mapping it would SIGBUS later, so refuse now. */
	errno = 0;
	CHECK(gears_mem__open(path, 3 * 4096, 3 * 4096, false) == NULL && errno == EINVAL);
	CHECK(gears_mem__open("/nonexistent/gears-ram", 4096, 4096, false) == NULL &&
	      errno == ENOENT);
	CHECK(strstr(gears_last_error(), "/nonexistent/gears-ram") != NULL);
	close(fd);
}
