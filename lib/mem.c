// SPDX-License-Identifier: MIT
/*
 * Guest-physical memory, three ways behind one API:
 *   mapped   the RAM file QEMU shares with us (memory-backend-file or memfd,
 *            share=on), mapped MAP_SHARED so we see the guest's stores and it
 *            sees ours;
 *   buffer   a caller's buffer (tests, fuzzers);
 *   process  RAM that only the QEMU process has (its anonymous memory, as in a
 *            QEMU someone else started), copied with process_vm_readv/writev
 *            at the host addresses QEMU reports (HMP gpa2hva). No host pointer
 *            exists: gears_mem__ptr is ENOTSUP, whole-RAM scans get snapshots.
 *
 * Layout (QEMU pc/q35): the first `low` bytes of the file are guest-physical
 * [0, low), the rest is guest-physical [4 GiB, 4 GiB + high). Every lookup below
 * is written as subtractions from known-good bounds, so a hostile gpa or length
 * can never overflow into a "valid" range.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define GPA_4G		((uint64_t)1 << 32)
/* MAXPHYADDR is at most 52 bits: no guest-physical address is above this. */
#define GPA_LIMIT	((uint64_t)1 << 52)
#define PAGE_SIZE_4K	((uint64_t)4096)

enum mem_kind { MEM_BUFFER, MEM_MAPPED, MEM_PROCESS };

struct gears_mem {
	enum mem_kind kind;
	uint8_t *base;		/* host address of RAM byte 0 (not MEM_PROCESS) */
	pid_t pid;		/* MEM_PROCESS: the process whose memory it is */
	uint64_t hva_low;	/* ... its address of gpa 0 */
	uint64_t hva_high;	/* ... and of gpa 4 GiB (when high) */
	uint64_t size;		/* low + high */
	uint64_t low;		/* bytes at gpa [0, low) */
	uint64_t high;		/* bytes at gpa [4 GiB, 4 GiB + high) */
	bool writable;
	gears_mem_hook_fn hook;	/* tests only: see gears_mem_set_hook */
	void *hook_ctx;
};

void gears_mem_set_hook(struct gears_mem *m, gears_mem_hook_fn fn, void *ctx)
{
	if (!m)
		return;
	m->hook = fn;
	m->hook_ctx = ctx;
}

/* Every access starts here, so a test hook sees each one in order. */
static inline void mem_access(const struct gears_mem *m, uint64_t gpa, uint64_t len)
{
	if (m && m->hook)
		m->hook(m->hook_ctx, gpa, len);
}

/* Not in the public API: pagewalk.c needs it to refuse before it touches A/D
 * bits through a pointer into a read-only mapping. */
bool gears_mem_writable(const struct gears_mem *m)
{
	return m && m->writable;
}

/* Check the layout and fill in low/high. below_4g >= size means "no split". */
static int mem_layout(struct gears_mem *m, uint64_t size, uint64_t below_4g)
{
	if (!size)
		return gears_err(EINVAL, "guest RAM size is 0");
	m->size = size;
	m->low = GEARS_MIN(below_4g, size);
	m->high = size - m->low;
	if (!m->high) {
		if (size > GPA_LIMIT)
			return gears_err(EINVAL, "guest RAM size 0x%" PRIx64 " exceeds 2^52", size);
		return 0;
	}
	/* The high part starts at 4 GiB, so the low part must end at or below it. */
	if (m->low > GPA_4G)
		return gears_err(EINVAL, "below_4g 0x%" PRIx64 " is above 4 GiB", below_4g);
	/* Page-table entries in the high part must stay 8-byte aligned on the host. */
	if (m->low % PAGE_SIZE_4K)
		return gears_err(EINVAL, "below_4g 0x%" PRIx64 " is not page-aligned", below_4g);
	if (m->high > GPA_LIMIT - GPA_4G)
		return gears_err(EINVAL, "guest RAM above 4 GiB (0x%" PRIx64 " bytes) exceeds 2^52",
				 m->high);
	return 0;
}

struct gears_mem *gears_mem__from_buffer(void *buf, uint64_t size, uint64_t below_4g,
					 bool writable)
{
	struct gears_mem *m;
	int err;

	if (!buf)
		return gears_err_ptr(EINVAL, "guest RAM buffer is NULL");
	/* Entries are read and updated with 8-byte atomics straight from the buffer. */
	if ((uintptr_t)buf % 8)
		return gears_err_ptr(EINVAL, "guest RAM buffer %p is not 8-byte aligned", buf);
	m = calloc(1, sizeof(*m));
	if (!m)
		return gears_err_ptr(ENOMEM, "allocating guest memory object");
	err = mem_layout(m, size, below_4g);
	if (err) {
		free(m);
		errno = -err;
		return NULL;
	}
	m->base = buf;
	m->writable = writable;
	return m;
}

/* Size of the file behind fd, or an error; size 0 asks for the whole file
 * (from `off` on). */
static int mem_file_size(int fd, const char *path, uint64_t off, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return gears_err(errno, "stat %s: %s", path, strerror(errno));
	/* Only regular files (tmpfs, hugetlbfs, memfd) have a meaningful st_size. */
	if (!S_ISREG(st.st_mode)) {
		if (!*size)
			return gears_err(EINVAL, "%s is not a regular file: pass its size", path);
		return 0;
	}
	if ((uint64_t)st.st_size < off)
		return gears_err(EINVAL, "%s has 0x%" PRIx64 " bytes, guest RAM starts at 0x%" PRIx64,
				 path, (uint64_t)st.st_size, off);
	if (!*size)
		*size = (uint64_t)st.st_size - off;
	/* Touching a mapping beyond EOF raises SIGBUS, so never map past it. */
	if ((uint64_t)st.st_size - off < *size)
		return gears_err(EINVAL, "%s has 0x%" PRIx64 " bytes, guest RAM is 0x%" PRIx64
				 " from 0x%" PRIx64, path, (uint64_t)st.st_size, *size, off);
	return 0;
}

static int mem_map(struct gears_mem *m, const char *path, int fd, uint64_t off)
{
	int prot = PROT_READ | (m->writable ? PROT_WRITE : 0);
	void *p;

	if (m->size > SIZE_MAX || off > (uint64_t)INT64_MAX || off % PAGE_SIZE_4K)
		return gears_err(EINVAL, "guest RAM 0x%" PRIx64 " at offset 0x%" PRIx64
				 " cannot be mapped", m->size, off);
	/* MAP_SHARED: we must see the guest's stores and it must see ours. */
	p = mmap(NULL, m->size, prot, MAP_SHARED | MAP_NORESERVE, fd, (off_t)off);
	if (p == MAP_FAILED)
		return gears_err(errno, "mmap %s (0x%" PRIx64 " bytes): %s", path, m->size,
				 strerror(errno));
	m->base = p;
	m->kind = MEM_MAPPED;
	return 0;
}

struct gears_mem *mem_open_at(const char *path, uint64_t off, uint64_t size, uint64_t below_4g,
			      bool writable)
{
	struct gears_mem *m;
	int fd, err;

	if (!path)
		return gears_err_ptr(EINVAL, "guest RAM file path is NULL");
	m = calloc(1, sizeof(*m));
	if (!m)
		return gears_err_ptr(ENOMEM, "allocating guest memory object");
	m->writable = writable;
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		err = gears_err(errno, "open %s: %s", path, strerror(errno));
		goto out_free;
	}
	err = mem_file_size(fd, path, off, &size);
	if (!err)
		err = mem_layout(m, size, below_4g);
	if (!err)
		err = mem_map(m, path, fd, off);
	/* The mapping keeps the file alive; the descriptor is no longer needed. */
	close(fd);
	if (!err)
		return m;
out_free:
	free(m);
	errno = -err;
	return NULL;
}

struct gears_mem *gears_mem__open(const char *path, uint64_t size, uint64_t below_4g,
				  bool writable)
{
	return mem_open_at(path, 0, size, below_4g, writable);
}

void gears_mem__close(struct gears_mem *m)
{
	if (!m)
		return;
	if (m->kind == MEM_MAPPED)
		munmap(m->base, m->size);
	free(m);
}

uint64_t gears_mem__size(const struct gears_mem *m)
{
	return m ? m->size : 0;
}

/*
 * Offset in the RAM file of [gpa, gpa+len), if that range is inside one piece.
 * A zero-length range is valid anywhere from a piece's start to its end.
 */
static bool mem_lookup(const struct gears_mem *m, uint64_t gpa, uint64_t len, uint64_t *off)
{
	if (!m)
		return false;
	if (gpa <= m->low && len <= m->low - gpa) {
		*off = gpa;
		return true;
	}
	if (m->high && gpa >= GPA_4G) {
		uint64_t rel = gpa - GPA_4G;

		if (rel <= m->high && len <= m->high - rel) {
			*off = m->low + rel;
			return true;
		}
	}
	return false;
}

static int mem_fault(const struct gears_mem *m, const char *what, uint64_t gpa, uint64_t len)
{
	if (!m)
		return gears_err(EINVAL, "%s: guest memory object is NULL", what);
	if (!m->high)
		return gears_err(EFAULT, "%s gpa 0x%" PRIx64 "+0x%" PRIx64
				 " is not guest RAM [0, 0x%" PRIx64 ")", what, gpa, len, m->low);
	return gears_err(EFAULT, "%s gpa 0x%" PRIx64 "+0x%" PRIx64 " is not guest RAM [0, 0x%"
			 PRIx64 ") or [0x100000000, 0x%" PRIx64 ")", what, gpa, len, m->low,
			 GPA_4G + m->high);
}

bool gears_mem__valid(const struct gears_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t off;

	return mem_lookup(m, gpa, len, &off);
}

/*
 * MEM_PROCESS: copy [off, off+len) of RAM (offsets as in the RAM file: low
 * part, then high part; the caller checked the range is inside one piece)
 * out of or into the process. A short transfer is retried from where it
 * stopped; one that makes no progress is an error.
 */
static int proc_xfer(const struct gears_mem *m, uint64_t off, void *buf, size_t len, bool write)
{
	uint64_t hva = off < m->low ? m->hva_low + off : m->hva_high + (off - m->low);
	size_t done = 0;

	while (done < len) {
		struct iovec l = { (uint8_t *)buf + done, len - done };
		struct iovec r = { (void *)(uintptr_t)(hva + done), len - done };
		ssize_t n = write ? process_vm_writev(m->pid, &l, 1, &r, 1, 0)
				  : process_vm_readv(m->pid, &l, 1, &r, 1, 0);

		if (n <= 0) {
			int e = n < 0 ? errno : EFAULT;

			if (e == EPERM)
				return gears_err(EPERM, "%s guest RAM in process %d: not permitted (it "
						 "takes the same user or root, and ptrace rights)",
						 write ? "writing" : "reading", (int)m->pid);
			if (e == ESRCH)
				return gears_err(ESRCH, "%s guest RAM: process %d is gone",
						 write ? "writing" : "reading", (int)m->pid);
			return gears_err(e, "%s guest RAM in process %d at 0x%" PRIx64 "+0x%zx: %s",
					 write ? "writing" : "reading", (int)m->pid, hva + done,
					 len - done, strerror(e));
		}
		done += (size_t)n;
	}
	return 0;
}

struct gears_mem *gears_mem__open_process(int pid, uint64_t size, uint64_t below_4g,
					  uint64_t hva_low, uint64_t hva_high, bool writable)
{
	struct gears_mem *m;
	uint8_t probe;
	int err;

	if (pid <= 0)
		return gears_err_ptr(EINVAL, "guest RAM process: bad pid %d", (int)pid);
	m = calloc(1, sizeof(*m));
	if (!m)
		return gears_err_ptr(ENOMEM, "allocating guest memory object");
	m->kind = MEM_PROCESS;
	m->pid = pid;
	m->writable = writable;
	err = mem_layout(m, size, below_4g);
	m->hva_low = hva_low;
	m->hva_high = m->high ? hva_high : 0;
	/* Host addresses are user-space addresses of a 64-bit process. */
	if (!err && (hva_low > USER_TOP || m->low > USER_TOP - hva_low ||
		     (m->high && (hva_high > USER_TOP || m->high > USER_TOP - hva_high))))
		err = gears_err(EINVAL, "guest RAM at host address 0x%" PRIx64 " (+0x%" PRIx64
				") is not a user-space range", hva_low, size);
	/* One byte at each end of each piece: the ranges are there and ours to read. */
	if (!err)
		err = proc_xfer(m, 0, &probe, 1, false);
	if (!err)
		err = proc_xfer(m, m->size - 1, &probe, 1, false);
	if (!err && m->high && m->low)
		err = proc_xfer(m, m->low - 1, &probe, 1, false);
	if (!err && m->high)
		err = proc_xfer(m, m->low, &probe, 1, false);
	if (!err)
		return m;
	free(m);
	errno = -err;
	return NULL;
}

const char *gears_mem__backend(const struct gears_mem *m)
{
	if (!m)
		return "none";
	return m->kind == MEM_PROCESS ? "process" : m->kind == MEM_MAPPED ? "mapped" : "buffer";
}

int gears_mem__pid(const struct gears_mem *m)
{
	return m && m->kind == MEM_PROCESS ? m->pid : 0;
}

int gears_mem__read(const struct gears_mem *m, uint64_t gpa, void *buf, size_t len)
{
	uint64_t off;

	mem_access(m, gpa, len);
	if (!mem_lookup(m, gpa, len, &off))
		return mem_fault(m, "reading", gpa, len);
	if (m->kind == MEM_PROCESS)
		return len ? proc_xfer(m, off, buf, len, false) : 0;
	memcpy(buf, m->base + off, len);
	return 0;
}

int gears_mem__write(struct gears_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	uint64_t off;

	mem_access(m, gpa, len);
	if (m && !m->writable)
		return gears_err(EROFS, "writing gpa 0x%" PRIx64 ": guest memory is read-only",
				 gpa);
	if (!mem_lookup(m, gpa, len, &off))
		return mem_fault(m, "writing", gpa, len);
	if (m->kind == MEM_PROCESS)
		return len ? proc_xfer(m, off, (void *)buf, len, true) : 0;
	memcpy(m->base + off, buf, len);
	return 0;
}

void *gears_mem__ptr(const struct gears_mem *m, uint64_t gpa, size_t len)
{
	uint64_t off;

	mem_access(m, gpa, len);
	if (!mem_lookup(m, gpa, len, &off)) {
		errno = -mem_fault(m, "mapping", gpa, len);
		return NULL;
	}
	if (m->kind == MEM_PROCESS) {
		errno = -gears_err(ENOTSUP, "gpa 0x%" PRIx64 ": guest RAM is in process %d, not "
				   "mapped here", gpa, (int)m->pid);
		return NULL;
	}
	return m->base + off;
}

/* MEM_PROCESS: each piece as snapshots of overlapping windows. */
static int proc_for_each(const struct gears_mem *m, uint64_t gpa, uint64_t len,
			 int (*cb)(uint64_t gpa, const void *p, uint64_t len, void *ctx), void *ctx)
{
	const uint64_t step = GEARS_MEM_WINDOW - GEARS_MEM_WINDOW_OVERLAP;
	uint8_t *buf = malloc(GEARS_MIN(len, (uint64_t)GEARS_MEM_WINDOW));
	int ret = 0;

	if (!buf)
		return gears_err(ENOMEM, "no memory for a 0x%x-byte window of guest RAM",
				 GEARS_MEM_WINDOW);
	for (uint64_t at = 0; !ret && at < len; at += step) {
		uint64_t n = GEARS_MIN(len - at, (uint64_t)GEARS_MEM_WINDOW);

		ret = gears_mem__read(m, gpa + at, buf, n);
		if (!ret)
			ret = cb(gpa + at, buf, n, ctx);
		if (n == len - at)
			break;	/* this window reached the end */
	}
	free(buf);
	return ret;
}

int mem_for_each_in(const struct gears_mem *m, uint64_t lo, uint64_t hi,
		    int (*cb)(uint64_t gpa, const void *p, uint64_t len, void *ctx), void *ctx)
{
	const uint64_t start[2] = { 0, GPA_4G }, len[2] = { m->low, m->high };
	int ret = 0;

	for (int i = 0; !ret && i < 2; i++) {
		uint64_t a = GEARS_MAX(start[i], lo), b = GEARS_MIN(start[i] + len[i], hi);

		if (!len[i] || a >= b)
			continue;
		if (m->kind == MEM_PROCESS)
			ret = proc_for_each(m, a, b - a, cb, ctx);
		else
			ret = cb(a, m->base + (i ? m->low : 0) + (a - start[i]), b - a, ctx);
	}
	return ret;
}

int gears_mem__for_each_range(const struct gears_mem *m,
			      int (*cb)(uint64_t gpa, const void *p, uint64_t len, void *ctx),
			      void *ctx)
{
	if (!m || !cb)
		return gears_err(EINVAL, "for_each_range: NULL memory object or callback");
	mem_access(m, 0, m->size);
	return mem_for_each_in(m, 0, UINT64_MAX, cb, ctx);
}

/* ---- 8-byte entries (page tables), for pagewalk.c and region.c ---- */

int mem_load64(const struct gears_mem *m, uint64_t gpa, uint64_t *v)
{
	const uint64_t *p;

	if (m && m->kind == MEM_PROCESS)
		return gears_mem__read(m, gpa, v, 8);
	p = gears_mem__ptr(m, gpa, 8);
	if (!p)
		return -errno;
	*v = __atomic_load_n(p, __ATOMIC_RELAXED);
	return 0;
}

int mem_cmpxchg64(struct gears_mem *m, uint64_t gpa, uint64_t *expect, uint64_t desired)
{
	uint64_t *p, cur;
	int err;

	if (!gears_mem_writable(m))
		return gears_err(EROFS, "writing gpa 0x%" PRIx64 ": guest memory is read-only", gpa);
	if (m->kind != MEM_PROCESS) {
		p = gears_mem__ptr(m, gpa, 8);
		if (!p)
			return -errno;
		if (__atomic_compare_exchange_n(p, expect, desired, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return 0;
		return -EAGAIN;
	}
	/* Another process's memory has no compare-and-swap: read, compare, write.
	 * The guest can change the entry in between (a window of one system
	 * call); callers use this on entries the guest does not write at the
	 * same time (a hole in its page tables, A/D bits already being set). */
	if ((err = gears_mem__read(m, gpa, &cur, 8)))
		return err;
	if (cur != *expect) {
		*expect = cur;
		return -EAGAIN;
	}
	return gears_mem__write(m, gpa, &desired, 8);
}

int mem_or64(struct gears_mem *m, uint64_t gpa, uint64_t bits)
{
	uint64_t e;
	int r = mem_load64(m, gpa, &e);

	/* Compare-and-swap until it holds: the guest updates such words atomically. */
	for (int i = 0; !r && i < 64 && (e & bits) != bits; i++) {
		r = mem_cmpxchg64(m, gpa, &e, e | bits);
		if (r == -EAGAIN)
			r = 0;
		else if (!r)
			break;
	}
	return r;
}
