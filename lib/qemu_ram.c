// SPDX-License-Identifier: MIT
/*
 * The guest RAM of a QEMU that GEARS did not start: found through its monitor
 * (HMP `info memory_size_summary` and `gpa2hva`) and /proc/PID/maps, then
 * opened mapped (a file or memfd QEMU maps shared) or through the process
 * (process_vm_readv/writev; lib/mem.c).
 *
 * QEMU's pc and q35 machines keep RAM in one block: gpa [0, below_4g) is its
 * start, gpa [4 GiB, 4 GiB + rest) its remainder (an alias at offset
 * below_4g). So the host address of gpa 4 GiB minus that of gpa 0 is the
 * split; it is then checked at both ends of both pieces.
 */
#include <dirent.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "internal.h"

#define GPA_4G ((uint64_t)1 << 32)

/* Run one HMP command; the output, or NULL with the reason recorded. */
static char *hmp_run(gears_hmp_fn hmp, void *ctx, const char *cmd)
{
	char *out = hmp(ctx, cmd);

	if (!out)
		gears_err_prefix("QEMU monitor command '%s'", cmd);
	return out;
}

/* `gpa2hva GPA`: 0 and *hva, *name (the memory region, up to 63 chars); -ENOENT
 * when QEMU says no RAM is there; -EPROTO for output it does not write. */
static int gpa2hva(gears_hmp_fn hmp, void *ctx, uint64_t gpa, uint64_t *hva, char *name, size_t namesz)
{
	char cmd[64], *out, *p, *q, *e;
	int ret;

	snprintf(cmd, sizeof(cmd), "gpa2hva 0x%" PRIx64, gpa);
	out = hmp_run(hmp, ctx, cmd);
	if (!out)
		return -errno;
	/* "Host virtual address for 0x0 (pc.ram) is 0x7f71fbe00000" */
	p = strstr(out, "Host virtual address for ");
	if (!p) {
		ret = strstr(out, "No memory is mapped") || strstr(out, "is not RAM")
			      ? -ENOENT
			      : gears_err(EPROTO, "gpa2hva 0x%" PRIx64 ": unexpected answer '%.80s'", gpa, out);
		free(out);
		return ret;
	}
	q = strchr(p, '(');
	e = q ? strstr(q, ") is ") : NULL;
	if (!q || !e || (size_t)(e - q - 1) >= namesz) {
		free(out);
		return gears_err(EPROTO, "gpa2hva 0x%" PRIx64 ": unexpected answer", gpa);
	}
	memcpy(name, q + 1, (size_t)(e - q - 1));
	name[e - q - 1] = 0;
	errno = 0;
	*hva = strtoull(e + 5, &p, 16);
	ret = errno || p == e + 5 ? gears_err(EPROTO, "gpa2hva 0x%" PRIx64 ": no address", gpa) : 0;
	free(out);
	return ret;
}

static int ram_size(gears_hmp_fn hmp, void *ctx, uint64_t *size)
{
	char *out = hmp_run(hmp, ctx, "info memory_size_summary"), *p, *e;

	if (!out)
		return -errno;
	p = strstr(out, "base memory: ");
	*size = p ? strtoull(p + 13, &e, 10) : 0;
	free(out);
	if (!*size || *size % 4096 || *size > (1ull << 46))
		return gears_err(EPROTO, "QEMU reports no usable RAM size (info memory_size_summary)");
	return 0;
}

/* Does gpa translate to `want` in region `name`? */
static bool hva_is(gears_hmp_fn hmp, void *ctx, uint64_t gpa, uint64_t want, const char *name)
{
	char n[64];
	uint64_t h;

	return !gpa2hva(hmp, ctx, gpa, &h, n, sizeof(n)) && h == want && !strcmp(n, name);
}

/* The split from gpa2hva of 0 and 4 GiB, checked at the ends of both pieces. */
static int ram_split(gears_hmp_fn hmp, void *ctx, struct gears_ram_layout *l)
{
	char name0[64], name4[64];
	uint64_t h4 = 0, low;
	int r;

	if ((r = gpa2hva(hmp, ctx, 0, &l->hva_low, name0, sizeof(name0))))
		return r == -ENOENT ? gears_err(ENOTSUP, "QEMU has no RAM at guest-physical 0") : r;
	r = gpa2hva(hmp, ctx, GPA_4G, &h4, name4, sizeof(name4));
	if (r && r != -ENOENT)
		return r;
	/* Something else at 4 GiB (a PCI BAR above small RAM) is not RAM's. */
	if (!r && (strcmp(name4, name0) || h4 <= l->hva_low || h4 - l->hva_low >= l->size))
		r = -ENOENT;
	low = r ? l->size : h4 - l->hva_low;
	if (low > GPA_4G || low % 4096)
		return gears_err(ENOTSUP, "RAM split at 0x%" PRIx64 " is not a pc/q35 layout", low);
	l->below_4g = low;
	l->hva_high = r ? 0 : h4;
	if (!hva_is(hmp, ctx, low - 1, l->hva_low + low - 1, name0) ||
	    hva_is(hmp, ctx, low, l->hva_low + low, name0))
		return gears_err(ENOTSUP, "QEMU's RAM '%s' is not one piece [0, 0x%" PRIx64 ") below 4 GiB",
				 name0, low);
	if (l->hva_high && !hva_is(hmp, ctx, GPA_4G + (l->size - low) - 1, h4 + (l->size - low) - 1, name0))
		return gears_err(ENOTSUP, "QEMU's RAM '%s' is not one piece above 4 GiB", name0);
	return 0;
}

/* /proc/PID/fd/N of the file with this inode, in *out. */
static bool find_fd(pid_t pid, dev_t dev, ino_t ino, char *out, size_t outsz)
{
	char dir[64], p[352];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(dir)))
		return false;
	while (!found && n++ < 65536 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (strlen(p) < outsz && !stat(p, &st) && st.st_dev == dev && st.st_ino == ino &&
		    S_ISREG(st.st_mode)) {
			memcpy(out, p, strlen(p) + 1);
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* Is QEMU's RAM a shared mapping of one file, contiguous low then high? */
static void ram_file(struct gears_ram_layout *l)
{
	char path[64], line[512];
	uint64_t end_needed = l->hva_low + l->size;
	FILE *f;

	if (l->hva_high && l->hva_high != l->hva_low + l->below_4g)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)l->pid);
	if (!(f = fopen(path, "re")))
		return;
	for (int n = 0; n < 1000000 && fgets(line, sizeof(line), f); n++) {
		unsigned long long start, end, off, ino;
		unsigned maj, min;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &off, &maj, &min,
			   &ino) != 7)
			continue;
		if (l->hva_low < start || l->hva_low >= end)
			continue;
		/* Private (copy-on-write) mappings: the file does not hold QEMU's view. */
		if (perms[3] == 's' && ino && end >= end_needed &&
		    find_fd(l->pid, makedev(maj, min), (ino_t)ino, l->file, sizeof(l->file)))
			l->file_off = off + (l->hva_low - start);
		break;
	}
	fclose(f);
}

int gears_ram__discover(gears_hmp_fn hmp, void *ctx, int pid, struct gears_ram_layout *out)
{
	struct gears_ram_layout l = { .pid = pid };
	int r;

	if (!hmp || !out || pid <= 0)
		return gears_err(EINVAL, "gears_ram__discover: bad arguments");
	if ((r = ram_size(hmp, ctx, &l.size)) || (r = ram_split(hmp, ctx, &l)))
		return r;
	ram_file(&l);
	*out = l;
	return 0;
}

struct gears_mem *gears_ram__open(const struct gears_ram_layout *l, bool writable)
{
	struct gears_mem *m;

	if (!l)
		return gears_err_ptr(EINVAL, "gears_ram__open: no layout");
	if (l->file[0]) {
		m = mem_open_at(l->file, l->file_off, l->size, l->below_4g, writable);
		if (m)
			return m;
		pr_info("guest RAM: mapping %s failed (%s); reading it through process %d",
			l->file, gears_last_error(), (int)l->pid);
	}
	return gears_mem__open_process(l->pid, l->size, l->below_4g, l->hva_low, l->hva_high, writable);
}
