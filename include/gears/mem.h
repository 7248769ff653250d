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

/* (Process ids are plain ints here, as pid_t is on Linux: <sys/types.h> would
 * drag <sys/select.h> into users that include the kernel's UAPI headers.) */

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
 * contiguous. A gears_mem is a mapped file, the memory of another process (QEMU's
 * own RAM, copied with process_vm_readv/writev), or (for tests and fuzzing) a
 * caller-supplied buffer. gears_mem__backend() says which.
 */
struct gears_mem;

/* Whole-RAM scans of process memory (gears_mem__for_each_range) see snapshots
 * of windows this big, each overlapping the next by GEARS_MEM_WINDOW_OVERLAP:
 * a structure up to the overlap in size lies whole in at least one window. */
#define GEARS_MEM_WINDOW		(64u << 20)
#define GEARS_MEM_WINDOW_OVERLAP	(16u << 20)

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
/* Guest RAM that only process `pid` has mapped (a QEMU started by someone else:
 * anonymous memory, no file to share). `hva_low` is that process's address of
 * gpa 0, `hva_high` its address of gpa 4 GiB (ignored when all RAM is below
 * 4 GiB); sizes and layout rules as for open. Every access is a
 * process_vm_readv/writev: it needs what ptrace needs (same user or root, and
 * Yama's ptrace_scope). The ends of each piece are read once here, so a bad
 * address or a missing permission fails now (EFAULT, EPERM, ESRCH), not later.
 * Not atomic against the guest: page-table entries are copied once (a torn
 * copy is treated like any hostile entry), and A/D bits and the region's
 * entry are set by read-compare-write. NULL + errno on failure. */
GEARS_API struct gears_mem *gears_mem__open_process(int pid, uint64_t size, uint64_t below_4g,
						    uint64_t hva_low, uint64_t hva_high,
						    bool writable);
GEARS_API void gears_mem__close(struct gears_mem *m);
/* "mapped" (a shared RAM file), "process" (through another process) or "buffer". */
GEARS_API const char *gears_mem__backend(const struct gears_mem *m);
/* The process behind a "process" backend, else 0. */
GEARS_API int gears_mem__pid(const struct gears_mem *m);

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
 * not one contiguous piece of RAM, ENOTSUP for a "process" backend. The pointer aliases live guest memory: the
 * guest may change it under you, so copy before validating. Do not store through
 * it unless the memory was opened writable (the mapping is read-only). */
GEARS_API void *gears_mem__ptr(const struct gears_mem *m, uint64_t gpa, size_t len);

/* Visit each contiguous RAM piece: cb(gpa, host pointer, length, ctx). Stops and
 * returns the callback's value when it is non-zero. For a "process" backend the
 * pointer is to a snapshot of a window (GEARS_MEM_WINDOW, see above), and a
 * failing copy is returned as its error. */
GEARS_API int gears_mem__for_each_range(const struct gears_mem *m,
					int (*cb)(uint64_t gpa, const void *p, uint64_t len, void *ctx),
					void *ctx);

/* ---- the RAM of a QEMU that someone else started ---- */

/* Where a running QEMU's guest RAM is, as its monitor and /proc say. */
struct gears_ram_layout {
	int pid;		/* the QEMU process */
	uint64_t size;		/* RAM bytes ("base memory") */
	uint64_t below_4g;	/* of which at gpa 0; the rest at 4 GiB */
	uint64_t hva_low;	/* QEMU's address of gpa 0 */
	uint64_t hva_high;	/* ... of gpa 4 GiB (0: no RAM there) */
	char file[128];		/* "": anonymous memory; else a file (or /proc/PID/fd/N
				 * of a memfd) that QEMU maps shared, to map here too */
	uint64_t file_off;	/* where gpa 0 is in that file */
};

/* A human-monitor command run on the QEMU (QMP human-monitor-command, or
 * libvirt's qemu-monitor-command): the output as a malloc'd string, or NULL
 * + errno. */
typedef char *(*gears_hmp_fn)(void *ctx, const char *cmdline);

/* Find the RAM of the QEMU process `pid` through its monitor: its size (`info
 * memory_size_summary`), QEMU's host addresses of gpa 0 and 4 GiB (`gpa2hva`),
 * the split, and whether QEMU maps it shared from a file (/proc/PID/maps). The
 * split is checked, not assumed: both ends of each piece must translate to
 * the addresses the layout predicts. 0, or -errno with the reason recorded
 * (ENOTSUP: a layout other than pc/q35's one RAM block, low then high). */
GEARS_API int gears_ram__discover(gears_hmp_fn hmp, void *ctx, int pid,
				  struct gears_ram_layout *out);
/* Open it: mapped when it is a shared file, else through the process. */
GEARS_API struct gears_mem *gears_ram__open(const struct gears_ram_layout *l, bool writable);

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
