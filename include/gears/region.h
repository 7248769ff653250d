/* SPDX-License-Identifier: MIT */
/*
 * The GEARS region: 2 MiB of shared memory (an ivshmem BAR no guest driver
 * claims) mapped into the guest kernel's address space at a fixed address in
 * the unused hole at -3 GiB, with one page-table write the host makes from
 * outside:
 *
 *   PML4[511] (shared by every address space) -> PDPT, entry 509 -> a PMD page
 *   inside the region, entry 0 -> the whole region as one 2 MiB page,
 *   supervisor-only (guest user space can neither read nor write it).
 *
 * Because PML4[511]'s PDPT is shared by every process, the region appears in
 * every address space at once, existing ones included. Guest-context code,
 * bitmaps, rings and save areas live here. The guest kernel can write the
 * region too, so everything read back from it is untrusted.
 *
 * Layout: [0, 4K) header (its last 16 bytes: where region calls return to),
 * [4K, 8K) the PMD page, then the system call stub's
 * code, control block, request slots and ring (guest/include/gears-guest/
 * sc_abi.h), then what gears_region__alloc() hands out.
 */
#ifndef GEARS_REGION_H
#define GEARS_REGION_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_vm;
struct gears_region;

/* Guest-virtual address of the region: PML4 511, PDPT 509. */
#define GEARS_REGION_VA 0xffffffff40000000ull
#define GEARS_REGION_MAGIC 0x5345524145475347ull	/* "GSGEARES" */

/* The region of a VM (host mapping and guest-physical address). */
GEARS_API struct gears_region *gears_region__open(struct gears_vm *vm);
GEARS_API void gears_region__close(struct gears_region *r);

/* Install the mapping in the guest's kernel page tables (idempotent).
 * -EBUSY if the guest already uses that slot for something else. */
GEARS_API int gears_region__map(struct gears_region *r);
/* Remove it (only when nothing in the guest can still be using the region). */
GEARS_API int gears_region__unmap(struct gears_region *r);
/* 1 mapped by us, 0 not mapped, negative errno (page tables unreadable). */
GEARS_API int gears_region__mapped(struct gears_region *r);

GEARS_API uint64_t gears_region__gpa(const struct gears_region *r);
/* Host pointer for region offset `off` (NULL if out of range). */
GEARS_API void *gears_region__host(struct gears_region *r, uint64_t off);
/* Reserve `size` bytes aligned to `align` (a power of two, >= 8); returns the
 * offset, or -ENOSPC. What is reserved stays reserved while `r` is open. */
GEARS_API long gears_region__alloc(struct gears_region *r, size_t size, size_t align);

/*
 * Place code in the region: through the gdbstub (QEMU then drops any
 * translated copy of those bytes; writes to the file would not be seen by code
 * TCG has already translated). The VM must be stopped by `g`.
 */
struct gears_gdb;
GEARS_API int gears_region__write_code(struct gears_region *r, struct gears_gdb *g, uint64_t off,
				       const void *code, size_t len);

/*
 * Run region code at `off` on a vCPU in kernel mode, as a function call
 * (it must end with `ret`; rdi = arg). Stops the VM, borrows a vCPU that is at
 * CPL 0, runs to the return, restores every register. *ret gets rax.
 * -ETIMEDOUT (registers restored) if it has not returned within 3 s, whatever
 * other stops the VM reports meanwhile. Allocates nothing: any number of calls.
 * For installation-time work and tests; costs a few gdbstub round trips.
 */
GEARS_API int gears_region__call(struct gears_region *r, struct gears_gdb *g, uint64_t off,
				 uint64_t arg, uint64_t *ret);

#ifdef __cplusplus
}
#endif
#endif
