/* SPDX-License-Identifier: MIT */
/*
 * Kernel symbols read from the guest's own kallsyms tables, found by scanning
 * guest-physical memory — no System.map, no debug package, no guest help.
 *
 * The tables are compressed (a 256-entry token table plus length-prefixed names);
 * their order differs across kernel versions (offsets first up to 6.3, last from
 * 6.4; kallsyms_seqs_of_names from 6.2 and in 6.1-stable). The finder anchors on
 * the token table and its index, then verifies each candidate table against the
 * markers array before trusting it.
 */
#ifndef GEARS_KSYMS_H
#define GEARS_KSYMS_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_ksyms;

/* Upper bound on the symbol count accepted from a guest. */
#define GEARS_KSYMS_MAX 4000000u

/*
 * Find and decode kallsyms in `len` bytes of guest-physical memory starting at
 * host pointer `image` (which holds guest-physical `image_gpa`): the kernel image
 * is physically contiguous, so callers pass each RAM range in turn. Tables are
 * 8-aligned in guest-physical terms, so `image_gpa` must be the real one.
 * Needs base-relative offsets (CONFIG_KALLSYMS_BASE_RELATIVE, every x86-64
 * kernel since 4.6), with or without absolute per-CPU symbols. Returns NULL
 * with errno ENOENT when no valid table is present, EBADMSG when a token table
 * is present but the rest is missing or inconsistent, EINVAL for a NULL image,
 * ENOMEM. Work is bounded: one memmem pass over `len` plus a fixed budget of
 * ~64M steps (a real kernel needs ~2M); memory crafted full of near-misses
 * runs it out and fails like the above. The result is a copy: `image` may go.
 * `image` may be live guest memory that changes while it is read: it is only
 * searched; a candidate's tables are copied out in one read and verified and
 * decoded from that copy, so the result is one consistent snapshot, and a
 * table that changed between the search and the copy is EBADMSG (when nothing
 * else is found), never a wrong read or write on the host.
 */
GEARS_API struct gears_ksyms *gears_ksyms__find(const void *image, size_t len, uint64_t image_gpa);
/* Same, over each RAM range of `m` in turn; the first table found wins.
 * errno EBADMSG if some range held a damaged table and none a good one. */
GEARS_API struct gears_ksyms *gears_ksyms__find_in_mem(const struct gears_mem *m);
GEARS_API void gears_ksyms__free(struct gears_ksyms *ks);

GEARS_API size_t gears_ksyms__count(const struct gears_ksyms *ks);
/* Address of the first symbol (in table order) named `name` — runtime address,
 * KASLR applied. Returns 0 or -ENOENT. Per-CPU symbols (type 'A' in an
 * absolute-per-CPU kernel) give their per-CPU offset, e.g. current_task. */
GEARS_API int gears_ksyms__lookup(const struct gears_ksyms *ks, const char *name, uint64_t *addr);
/* i-th symbol in table order (sorted by address, per-CPU ones first): name,
 * address and nm-style type letter ('T', 't', 'D', 'A'...). -ERANGE past the end. */
GEARS_API int gears_ksyms__get(const struct gears_ksyms *ks, size_t i, const char **name,
			       uint64_t *addr, char *type);
/* The symbol containing `addr` (largest address <= addr, not a per-CPU one;
 * of several at that address the first). Returns its name and sets *off
 * (addr - symbol), or NULL (errno ENOENT) if addr is below every symbol. There
 * is no upper bound: addresses past the last symbol resolve to it. */
GEARS_API const char *gears_ksyms__symbolize(const struct gears_ksyms *ks, uint64_t addr, uint64_t *off);

/* Guest-physical address where the token table was found (diagnostics). */
GEARS_API uint64_t gears_ksyms__table_gpa(const struct gears_ksyms *ks);

/* The x86-64 kernel's link-time _text (__START_KERNEL): KASLR offset = _text - this. */
#define GEARS_X86_64_START_KERNEL 0xffffffff81000000ull

#ifdef __cplusplus
}
#endif
#endif
