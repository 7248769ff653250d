/* SPDX-License-Identifier: MIT */
/*
 * Payloads: code that GEARS injects into a guest, built on the host as ordinary
 * static-pie ELF files (gcc -static-pie -nostdlib -ffreestanding ...).
 *
 * A payload is copied into guest memory at an address chosen at injection time,
 * so it must be position independent and self-contained: no interpreter, no
 * shared libraries, and no relocations other than R_X86_64_RELATIVE (pointers
 * into itself, e.g. tables of string pointers). This loader does on the host what
 * ld.so would do in the guest: it validates the file, lays the PT_LOAD segments
 * out as one flat image, zeroes bss and applies the relocations for the final
 * address, so the guest receives bytes that are ready to run.
 *
 * The ELF file is untrusted input (it may come from anywhere and is fuzzed):
 * every offset, length and index in it is checked, and a bad file is refused
 * with a reason in gears_last_error() ("payload: segment 2: p_filesz > p_memsz").
 */
#ifndef GEARS_PAYLOAD_H
#define GEARS_PAYLOAD_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_payload;

/* Largest image accepted (span of the PT_LOAD segments, bss included). */
#define GEARS_PAYLOAD_MAX_SIZE (16u << 20)
/* Largest ELF file accepted (symbols and debug info included). */
#define GEARS_PAYLOAD_MAX_FILE (64u << 20)

/*
 * Read and validate the ELF file at `path`. Returns NULL with errno set:
 * ENOEXEC for a file that is not a loadable payload (not ELF64 x86-64 ET_DYN,
 * PT_INTERP, DT_NEEDED, unsupported relocation, ...), EINVAL for inconsistent
 * headers (offsets past the end of the file, overlapping segments, ...),
 * EFBIG past the limits above, ENOMEM, or the errno of open/read.
 */
GEARS_API struct gears_payload *gears_payload__open(const char *path);
/* Same, from `len` bytes at `buf` (copied: `buf` may go after the call). */
GEARS_API struct gears_payload *gears_payload__from_memory(const void *buf, size_t len);
GEARS_API void gears_payload__free(struct gears_payload *p);

/* Bytes of the laid-out image: page-rounded span of the PT_LOAD segments
 * (bss included), at most GEARS_PAYLOAD_MAX_SIZE. */
GEARS_API size_t gears_payload__size(const struct gears_payload *p);
/* Entry point, as an offset from the image start (always inside an
 * executable segment). */
GEARS_API uint64_t gears_payload__entry(const struct gears_payload *p);

/*
 * Lay the image out in `out` (out_size >= gears_payload__size()) for execution
 * at guest address `base` (page aligned): segments copied, bss and gaps zeroed,
 * relocations applied. Bytes of `out` past the image are left alone.
 * Returns 0, -EINVAL (unaligned base, or base + size wraps around) or -ENOSPC
 * (out too small).
 */
GEARS_API int gears_payload__image(const struct gears_payload *p, uint64_t base, void *out,
				   size_t out_size);

/*
 * Page-aligned ranges (offset from the image start, length) of the executable
 * segments, for the caller to make read+execute once the image is written;
 * ranges that touch are merged. No such page holds a writable segment (the
 * loader refuses such files), so protecting them never breaks the payload's
 * data. Fills off[] and len[] and returns the number of ranges (0 if the
 * payload has no code), -E2BIG if there are more than `max`, or -EINVAL.
 */
GEARS_API int gears_payload__exec_ranges(const struct gears_payload *p, uint64_t off[],
					 uint64_t len[], int max);

#ifdef __cplusplus
}
#endif
#endif
