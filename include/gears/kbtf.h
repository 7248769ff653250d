/* SPDX-License-Identifier: MIT */
/*
 * Kernel type information from the kernel's own BTF (__start_BTF..__stop_BTF,
 * read out of guest memory), parsed by libbpf. Gives struct member offsets for
 * whatever kernel the guest runs — no debug packages, no hard-coded layouts.
 */
#ifndef GEARS_KBTF_H
#define GEARS_KBTF_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_kbtf;

/* Upper bound on the BTF size accepted from a guest (vmlinux BTF is ~5 MiB). */
#define GEARS_KBTF_MAX_SIZE (64u << 20)

/* Parse `size` bytes of raw BTF (copied; the caller keeps `data`). NULL + errno:
 * EBADMSG when libbpf rejects the bytes, EINVAL for no data, E2BIG over
 * GEARS_KBTF_MAX_SIZE (checked before anything is read), ENOMEM.
 * Note: the first call routes libbpf's (process-wide) print callback to the
 * gears debug log, so hostile BTF does not spam stderr. */
GEARS_API struct gears_kbtf *gears_kbtf__new(const void *data, size_t size);
GEARS_API void gears_kbtf__free(struct gears_kbtf *b);

/* Byte offset of `member` in struct/union `type` (or a typedef of one, e.g.
 * "kuid_t"). `member` may be a dotted path through embedded (not pointed-to)
 * structs, e.g. "thread.sp" or "uid.val", and finds members of anonymous inner
 * structs/unions, as C does; typedef/const/volatile on the way are skipped.
 * Returns the offset (>= 0), -ENOENT (no such type/member), -EINVAL (bitfield,
 * path through a non-struct, malformed path, or types nested too deep/too
 * big to search — hostile BTF). */
GEARS_API long gears_kbtf__offsetof(const struct gears_kbtf *b, const char *type, const char *member);
/* Size in bytes of the type named `type`: struct, union, typedef, int, enum
 * or float, in that order of preference, then any other kind. -ENOENT, or
 * -EINVAL if its size cannot be resolved. */
GEARS_API long gears_kbtf__sizeof(const struct gears_kbtf *b, const char *type);
/* Size in bytes of `member` of `type` (same path rules and errors as offsetof). */
GEARS_API long gears_kbtf__member_size(const struct gears_kbtf *b, const char *type, const char *member);

/* Number of type ids, counting the implicit void type 0 (diagnostics). */
GEARS_API unsigned gears_kbtf__type_count(const struct gears_kbtf *b);

#ifdef __cplusplus
}
#endif
#endif
