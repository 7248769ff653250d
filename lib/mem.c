// SPDX-License-Identifier: MIT
/*
 * Guest-physical memory: the RAM file QEMU shares with us (memory-backend-file,
 * share=on), mapped MAP_SHARED so we see the guest's stores and it sees ours, or a
 * caller's buffer.
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
#include <unistd.h>

#include "internal.h"

#define GPA_4G		((uint64_t)1 << 32)
/* MAXPHYADDR is at most 52 bits: no guest-physical address is above this. */
#define GPA_LIMIT	((uint64_t)1 << 52)
#define PAGE_SIZE_4K	((uint64_t)4096)

struct gears_mem {
	uint8_t *base;		/* host address of RAM byte 0 */
	uint64_t size;		/* low + high */
	uint64_t low;		/* bytes at gpa [0, low) */
	uint64_t high;		/* bytes at gpa [4 GiB, 4 GiB + high) */
	bool writable;
	bool mapped;		/* base came from mmap(): munmap on close */
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

/* Size of the file behind fd, or an error; size 0 asks for the whole file. */
static int mem_file_size(int fd, const char *path, uint64_t *size)
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
	if (!*size)
		*size = (uint64_t)st.st_size;
	/* Touching a mapping beyond EOF raises SIGBUS, so never map past it. */
	if ((uint64_t)st.st_size < *size)
		return gears_err(EINVAL, "%s has 0x%" PRIx64 " bytes, guest RAM is 0x%" PRIx64,
				 path, (uint64_t)st.st_size, *size);
	return 0;
}

static int mem_map(struct gears_mem *m, const char *path, int fd)
{
	int prot = PROT_READ | (m->writable ? PROT_WRITE : 0);
	void *p;

	if (m->size > SIZE_MAX)
		return gears_err(EINVAL, "guest RAM size 0x%" PRIx64 " too big to map", m->size);
	/* MAP_SHARED: we must see the guest's stores and it must see ours. */
	p = mmap(NULL, m->size, prot, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return gears_err(errno, "mmap %s (0x%" PRIx64 " bytes): %s", path, m->size,
				 strerror(errno));
	m->base = p;
	m->mapped = true;
	return 0;
}

struct gears_mem *gears_mem__open(const char *path, uint64_t size, uint64_t below_4g,
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
	err = mem_file_size(fd, path, &size);
	if (!err)
		err = mem_layout(m, size, below_4g);
	if (!err)
		err = mem_map(m, path, fd);
	/* The mapping keeps the file alive; the descriptor is no longer needed. */
	close(fd);
	if (!err)
		return m;
out_free:
	free(m);
	errno = -err;
	return NULL;
}

void gears_mem__close(struct gears_mem *m)
{
	if (!m)
		return;
	if (m->mapped)
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

int gears_mem__read(const struct gears_mem *m, uint64_t gpa, void *buf, size_t len)
{
	uint64_t off;

	mem_access(m, gpa, len);
	if (!mem_lookup(m, gpa, len, &off))
		return mem_fault(m, "reading", gpa, len);
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
	return m->base + off;
}

int gears_mem__for_each_range(const struct gears_mem *m,
			      int (*cb)(uint64_t gpa, const void *p, uint64_t len, void *ctx),
			      void *ctx)
{
	int ret = 0;

	if (!m || !cb)
		return gears_err(EINVAL, "for_each_range: NULL memory object or callback");
	mem_access(m, 0, m->size);
	if (m->low)
		ret = cb(0, m->base, m->low, ctx);
	if (!ret && m->high)
		ret = cb(GPA_4G, m->base + m->low, m->high, ctx);
	return ret;
}
