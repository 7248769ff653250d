/* SPDX-License-Identifier: MIT */
/*
 * libgears internals shared by the library's files. Nothing here is API:
 * single-underscore names, hidden by -fvisibility=hidden and lib/libgears.map.
 */
#ifndef GEARS_INTERNAL_H
#define GEARS_INTERNAL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>
#include <gears/mem.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* x86-64: addresses from here up are the kernel's: the canonical upper half of a
 * 57-bit space (5-level paging, where the direct map, vmalloc space and kernel
 * stacks lie below 0xffff800000000000). With 4-level paging the addresses between
 * this and 0xffff800000000000 are not canonical: the page walker refuses them. */
#define KERNEL_HALF 0xff00000000000000ull
/* ... and below this user space's (47-bit; 5-level paging's larger space is
 * only given to processes that ask for it). */
#define USER_TOP 0x0000800000000000ull
#define GEARS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GEARS_MAX(a, b) ((a) > (b) ? (a) : (b))

void gears_log(enum gears_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pr_err(...)   gears_log(GEARS_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  gears_log(GEARS_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  gears_log(GEARS_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) gears_log(GEARS_LOG_DEBUG, __VA_ARGS__)

/*
 * The one funnel for errors at the API boundary: record a reason for
 * gears_last_error() and return -err (err is a positive errno). Use as
 *     return gears_err(EFAULT, "PML4 entry %u outside RAM", i);
 */
int gears_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same for pointer-returning functions: sets errno, records the reason, returns NULL. */
void *gears_err_ptr(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record a reason without changing the return path (e.g. when passing on an
 * error from a callee but adding context: "reading task list: <old reason>"). */
void gears_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bounded allocation helpers: abort-free, return NULL on overflow. */
static inline void *gears_calloc(size_t n, size_t sz)
{
	if (sz && n > SIZE_MAX / sz)
		return NULL;
	return calloc(n ? n : 1, sz ? sz : 1);
}

/* Was this memory opened writable? (lib/mem.c) */
bool gears_mem_writable(const struct gears_mem *m);

/*
 * lib/mem.c, for tests and fuzzers only: `fn` runs at the start of every
 * access to `m` (gears_mem__read, __write, __ptr, __for_each_range) with the
 * range asked for, so that a test can change a buffer-backed guest's bytes
 * between the reads a parser makes, as a guest vCPU could. NULL removes it.
 */
typedef void (*gears_mem_hook_fn)(void *ctx, uint64_t gpa, uint64_t len);
void gears_mem_set_hook(struct gears_mem *m, gears_mem_hook_fn fn, void *ctx);

/* lib/env.c: a guest's NULL-terminated string vector (envp, argv) at `va`,
 * bounded like the kernel's execve: owned copies, or NULL + errno. */
char **env_read_strv(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
		     size_t *count);

/* lib/ksyms.c: gears_ksyms__find over [gpa, gpa+len) of `m`, seen at host
 * pointer `p` (from gears_mem__for_each_range); a candidate's tables are
 * copied out with gears_mem__read before they are parsed. */
struct gears_ksyms;
struct gears_ksyms *ksyms_find_mem(const struct gears_mem *m, const void *p, size_t len,
				   uint64_t gpa);

/* Seeded string hash (FNV-1a, then a finalizer), for tables keyed by names that
 * come from the guest: a per-table random seed keeps hostile names from all
 * landing in one bucket. */
static inline uint64_t gears_hash_str(const char *s, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 29);
}

/* lib/vm.c: is `dir` a directory of ours that nobody else may write? 0 or
 * -errno with the reason recorded. */
int vm_private_dir(const char *dir);
/* Is `path` a shared-memory file that VM `name` launched by `pid` made? */
bool vm_stale_shm_ok(const char *path, const char *name, long pid);

/* Monotonic time in nanoseconds. */
uint64_t gears_now_ns(void);

/* lib/region.c: gears_region__call on a vCPU that `ok` accepts (e.g. one
 * resting in the idle loop, where kernel code may run without deadlock). */
struct gears_region;
struct gears_gdb;
struct gears_regs;
int region_call_on(struct gears_region *r, struct gears_gdb *g, uint64_t off, uint64_t arg, uint64_t *ret,
		   bool (*ok)(const struct gears_regs *regs, void *ctx), void *ctx);
/* A region object over `host` (the region's 2 MiB as this process maps them)
 * at guest-physical `gpa`; gears_region__open finds both from the VM. vm NULL:
 * for tests, without page-table work (map/unmap/mapped). */
struct gears_vm;
struct gears_region *region_new(struct gears_vm *vm, uint8_t *host, uint64_t gpa);

#endif
