/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: guest-physical access through the RAM file QEMU shares with us,
 * and guest-virtual access through the guest's own page tables.
 *
 * Everything here treats guest memory as hostile: every length is bounded, every
 * table walk has a fixed depth, and an address outside guest RAM is an error
 * (-EFAULT), never a host read out of bounds.
 */
#ifndef GEARS_MEM_H
#define GEARS_MEM_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest single read/write the virtual-memory helpers accept: guest-supplied
 * lengths above this are refused with -E2BIG rather than trusted. */
#define GEARS_MEM_MAX_XFER (64u << 20)

/*
 * Guest-physical memory. QEMU's pc/q35 machines put the first `below_4g` bytes of
 * RAM at guest-physical 0 and the rest at 4 GiB; in the RAM file both parts are
 * contiguous. A gears_mem is either a mapped file or (for tests and fuzzing) a
 * caller-supplied buffer.
 */
struct gears_mem;

/* Map the RAM file at `path` (size `size`, of which `below_4g` bytes sit below the
 * PCI hole; pass below_4g >= size when everything is below 4 GiB). `writable`
 * maps it read-write. size 0 means the whole file; a file shorter than `size` is
 * refused (touching the missing part would SIGBUS). When RAM is split, below_4g
 * must be page-aligned and at most 4 GiB. Returns NULL + errno on failure. */
GEARS_API struct gears_mem *gears_mem__open(const char *path, uint64_t size,
					    uint64_t below_4g, bool writable);
/* Wrap an existing buffer as guest-physical memory starting at gpa 0 (no copy;
 * the buffer must outlive the object, and be 8-byte aligned: page-table entries
 * are accessed in place with 8-byte atomics). Same layout rules as open. */
GEARS_API struct gears_mem *gears_mem__from_buffer(void *buf, uint64_t size,
						   uint64_t below_4g, bool writable);
GEARS_API void gears_mem__close(struct gears_mem *m);

/* Total RAM bytes (both parts). */
GEARS_API uint64_t gears_mem__size(const struct gears_mem *m);
/* Is [gpa, gpa+len) entirely guest RAM? */
GEARS_API bool gears_mem__valid(const struct gears_mem *m, uint64_t gpa, uint64_t len);

/* Copy guest-physical bytes. The whole range must be RAM (it may straddle the
 * 4 GiB split only where RAM is contiguous, i.e. never): -EFAULT otherwise.
 * Writing memory opened read-only is -EROFS. */
GEARS_API int gears_mem__read(const struct gears_mem *m, uint64_t gpa, void *buf, size_t len);
GEARS_API int gears_mem__write(struct gears_mem *m, uint64_t gpa, const void *buf, size_t len);
/* Direct host pointer to [gpa, gpa+len), or NULL (errno EFAULT) if the range is
 * not one contiguous piece of RAM. The pointer aliases live guest memory: the
 * guest may change it under you, so copy before validating. Do not store through
 * it unless the memory was opened writable (the mapping is read-only). */
GEARS_API void *gears_mem__ptr(const struct gears_mem *m, uint64_t gpa, size_t len);

/* Visit each contiguous RAM piece: cb(gpa, host pointer, length, ctx). Stops and
 * returns the callback's value when it is non-zero. */
GEARS_API int gears_mem__for_each_range(const struct gears_mem *m,
					int (*cb)(uint64_t gpa, const void *p, uint64_t len, void *ctx),
					void *ctx);

/* ---- page tables ---- */

/* x86-64 page table entry bits used by callers. */
#define GEARS_PTE_P	(1ull << 0)
#define GEARS_PTE_RW	(1ull << 1)
#define GEARS_PTE_US	(1ull << 2)
#define GEARS_PTE_A	(1ull << 5)
#define GEARS_PTE_D	(1ull << 6)
#define GEARS_PTE_PS	(1ull << 7)
#define GEARS_PTE_NX	(1ull << 63)

/* Result of a translation. */
struct gears_xlate {
	uint64_t gpa;		/* guest-physical address of the byte at va */
	uint64_t page_size;	/* 4 KiB, 2 MiB or 1 GiB */
	uint64_t pte;		/* the final (leaf) entry */
	uint64_t pte_gpa;	/* where that entry lives (to set A/D bits) */
	int level;		/* leaf level: 1 = PTE, 2 = PDE, 3 = PDPTE; on a
				 * not-present error, the level whose entry was
				 * not present (5/4 = PML5/PML4 ... 1 = PTE) */
	bool writable;		/* RW set at every level */
	bool user;		/* US set at every level */
	bool nx;		/* NX set at any level */
};

/*
 * Translate guest-virtual `va` with the page tables rooted at `cr3` (PCID bits
 * 0-11 and bit 63 are masked) using `levels` = 4 or 5 (CR4.LA57).
 * Returns 0, or:
 *   -EINVAL  non-canonical va, bad `levels`;
 *   -ENOENT  an entry on the way is not present (x->level says which);
 *   -EFAULT  a table, or the byte at va, lies outside guest RAM (in the latter
 *            case *x still describes the translation, e.g. to MMIO);
 *   -EIO     a reserved bit is set in an entry (a garbage table).
 * The walk visits at most `levels` tables, so self-referencing (cyclic) tables
 * terminate like they do on hardware. Only bits the MMU would fault on count as
 * reserved (PS in a PML4E/PML5E, bits 13..20 of a 2 MiB and 13..29 of a 1 GiB
 * leaf); bits 52..62 are software/protection-key bits and are ignored. x may be
 * NULL.
 */
GEARS_API int gears_pt__xlate(const struct gears_mem *m, uint64_t cr3, int levels,
			      uint64_t va, struct gears_xlate *x);

/* Copy `len` bytes at guest-virtual `va`, page by page. Fails with the first
 * failing page's error (see gears_pt__xlate) and copies nothing useful in that
 * case; len > GEARS_MEM_MAX_XFER is -E2BIG, a range that wraps past the top of
 * the address space -EFAULT. */
GEARS_API int gears_vmem__read(const struct gears_mem *m, uint64_t cr3, int levels,
			       uint64_t va, void *buf, size_t len);
/* Write `len` bytes at guest-virtual `va`. With `require_user_writable`, every
 * page must be present, user-accessible and writable (so a COW-shared or
 * read-only page is never written): -EACCES otherwise; no byte is written
 * unless all pages qualify (nor on any other error). Sets the A and D bits of the
 * leaf entries. -EROFS if `m` is read-only; -E2BIG as for reads. */
GEARS_API int gears_vmem__write(struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
				const void *buf, size_t len, bool require_user_writable);
/* Read a NUL-terminated string of at most `max` bytes (including the NUL) into
 * buf. Returns its length (without NUL), -ENAMETOOLONG if no NUL within max
 * (buf then holds max-1 bytes, NUL-terminated), or a translation error (buf then
 * holds the bytes read before the bad page, NUL-terminated). Only the bytes up to
 * the NUL need to be mapped. max 0 is -EINVAL, max > GEARS_MEM_MAX_XFER -E2BIG. */
GEARS_API int gears_vmem__read_str(const struct gears_mem *m, uint64_t cr3, int levels,
				   uint64_t va, char *buf, size_t max);

#ifdef __cplusplus
}
#endif
#endif
