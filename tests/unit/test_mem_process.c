// SPDX-License-Identifier: MIT
/*
 * Guest RAM through another process (process_vm_readv/writev) and the discovery
 * of a running QEMU's RAM layout from its monitor's answers.
 *
 * The "QEMU" here is a synthetic guest (tests/unit/guest_ram.h) in this
 * process, or in a forked child whose memory then differs from ours; the
 * oracle is the buffer-backed view of the same bytes and what the child
 * itself reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gears/gears.h>

#include "guest_ram.h"
#include "testlib.h"

static struct gears_mem *as_process(struct guest *g, pid_t pid, bool writable)
{
	return gears_mem__open_process(pid, g->size, g->below_4g, (uintptr_t)g->ram,
				       (uintptr_t)g->ram + g->below_4g, writable);
}

/* Page walks, reads and strings give the same answers through the process. */
TEST(process_matches_buffer)
{
	struct guest g;
	struct gears_xlate xb, xp;
	struct gears_mem *pm;
	uint64_t va = 0x7f0012345000ull, kva = 0xffff888000200000ull;
	char s[64];
	uint8_t a[9000], b[9000];

	guest_init_split(&g, 8 * MiB, 4 * MiB, 4);
	map(&g, va, 0x100000, 1, PRW);
	map(&g, va + 4096, 4 * GiB + 0x3000, 1, PRW);		/* above 4 GiB */
	map(&g, va + 8192, 0x180000, 1, PRW);
	map(&g, kva, 0x200000, 2, P | RW);
	for (size_t i = 0; i < 3 * 4096; i++)
		g.ram[host_off(&g, i < 4096 ? 0x100000 + i : i < 8192 ? 4 * GiB + 0x3000 + i - 4096
								    : 0x180000 + i - 8192)] = (uint8_t)(i * 7 + 1);
	memcpy(g.ram + 0x180000 + 100, "hello from below", 17);
	pm = as_process(&g, getpid(), true);
	CHECK(pm != NULL);
	if (!pm)
		return guest_fini(&g);
	CHECK_STR(gears_mem__backend(pm), "process");
	CHECK_STR(gears_mem__backend(g.m), "buffer");
	CHECK_EQ(gears_mem__pid(pm), getpid());
	CHECK_EQ(gears_mem__size(pm), 8 * MiB);
	for (uint64_t v = va; v < va + 3 * 4096; v += 1000) {
		CHECK_EQ(gears_pt__xlate(pm, g.cr3, 4, v, &xp), 0);
		CHECK_EQ(gears_pt__xlate(g.m, g.cr3, 4, v, &xb), 0);
		CHECK_EQ(xp.gpa, xb.gpa);
		CHECK_EQ(xp.pte, xb.pte);
	}
	CHECK_EQ(gears_pt__xlate(pm, g.cr3, 4, kva + 0x1234, &xp), 0);
	CHECK_EQ(xp.gpa, 0x201234);
	CHECK_EQ(gears_pt__xlate(pm, g.cr3, 4, va + 5 * 4096, &xp), -ENOENT);
	/* Across the three pages, one of them above 4 GiB. */
	CHECK_EQ(gears_vmem__read(pm, g.cr3, 4, va + 100, a, sizeof(a)), 0);
	CHECK_EQ(gears_vmem__read(g.m, g.cr3, 4, va + 100, b, sizeof(b)), 0);
	CHECK(!memcmp(a, b, sizeof(a)));
	CHECK_EQ(gears_vmem__read_str(pm, g.cr3, 4, va + 8192 + 100, s, sizeof(s)), 16);
	CHECK_STR(s, "hello from below");
	/* Physical reads: each piece, and nothing across the split or past the end. */
	CHECK_EQ(gears_mem__read(pm, 4 * GiB + 0x3000, a, 4096), 0);
	CHECK(!memcmp(a, g.ram + 4 * MiB + 0x3000, 4096));
	CHECK_EQ(gears_mem__read(pm, 4 * MiB - 8, a, 16), -EFAULT);
	CHECK_EQ(gears_mem__read(pm, 4 * GiB + 4 * MiB - 8, a, 16), -EFAULT);
	CHECK(gears_mem__ptr(pm, 0, 8) == NULL && errno == ENOTSUP);
	gears_mem__close(pm);
	guest_fini(&g);
}

/* Writes land in the other process, with the leaf's A and D bits set. */
TEST(process_writes_reach_the_child)
{
	struct guest g;
	struct gears_mem *pm;
	uint64_t va = 0x400000ull, pte_gpa;
	int to_child[2], from_child[2];
	char msg[32] = "written by the parent";
	uint8_t got = 0;
	pid_t pid;

	guest_init(&g, 4);
	map(&g, va, 0x300000, 1, PRW);
	map(&g, va + 4096, 0x301000, 1, P | US);	/* read-only */
	pte_gpa = entry_at(&g, va, 1);
	CHECK(!pipe(to_child) && !pipe(from_child));
	pid = fork();
	if (pid == 0) {
		char c;
		uint8_t ok;

		close(to_child[1]);
		close(from_child[0]);
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		ok = !memcmp(g.ram + 0x300000, msg, sizeof(msg)) &&
		     (get64(&g, pte_gpa) & (GEARS_PTE_A | GEARS_PTE_D)) == (GEARS_PTE_A | GEARS_PTE_D) &&
		     g.ram[0x301000] == 0;
		_exit(write(from_child[1], &ok, 1) == 1 ? 0 : 3);
	}
	close(to_child[0]);
	close(from_child[1]);
	pm = as_process(&g, pid, true);
	CHECK(pm != NULL);
	if (pm) {
		CHECK_EQ(gears_vmem__write(pm, g.cr3, 4, va, msg, sizeof(msg), true), 0);
		/* The read-only page is refused and nothing is written. */
		CHECK_EQ(gears_vmem__write(pm, g.cr3, 4, va + 4096 - 4, msg, 8, true), -EACCES);
		CHECK_EQ(write(to_child[1], "x", 1), 1);
		CHECK_EQ(read(from_child[0], &got, 1), 1);
		CHECK_EQ(got, 1);
		/* Our own copy of the bytes never changed: the write went to the child. */
		CHECK(g.ram[0x300000] == 0);
		CHECK_EQ(get64(&g, pte_gpa) & GEARS_PTE_D, 0);
	}
	waitpid(pid, NULL, 0);
	/* The process is gone: a clear error, not garbage. */
	if (pm) {
		CHECK_EQ(gears_mem__read(pm, 0, &got, 1), -ESRCH);
		CHECK(strstr(gears_last_error(), "is gone") != NULL);
	}
	gears_mem__close(pm);
	close(to_child[1]);
	close(from_child[0]);
	guest_fini(&g);
}

TEST(process_open_refusals)
{
	static uint8_t ram[2 * 4096] __attribute__((aligned(4096)));
	struct gears_mem *m;
	void *hole;

	/* An address the process has not mapped: refused at open. */
	hole = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED);
	CHECK(gears_mem__open_process(getpid(), 8192, 8192, (uintptr_t)hole, 0, false) == NULL &&
	      errno == EFAULT);
	munmap(hole, 8192);
	CHECK(gears_mem__open_process(0, 8192, 8192, (uintptr_t)ram, 0, false) == NULL && errno == EINVAL);
	CHECK(gears_mem__open_process(getpid(), 8192, 8192, 0xffff800000000000ull, 0, false) == NULL &&
	      errno == EINVAL);
	/* Read-only objects refuse writes before touching the process. */
	m = gears_mem__open_process(getpid(), 8192, 8192, (uintptr_t)ram, 0, false);
	CHECK(m != NULL);
	CHECK_EQ(gears_mem__write(m, 0, "x", 1), -EROFS);
	gears_mem__close(m);
}

/* Another user may not read our memory: EPERM, with what it takes. */
TEST(process_permission_refused)
{
	static uint8_t ram[4096] __attribute__((aligned(4096)));
	struct passwd *pw = getpwnam("nobody");
	int st = -1;
	pid_t pid;

	if (getuid() != 0 || !pw) {
		printf("skip process_permission_refused: needs root and user nobody\n");
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct gears_mem *m;

		if (setgid(pw->pw_gid) || setuid(pw->pw_uid))
			_exit(2);
		m = gears_mem__open_process(getppid(), 4096, 4096, (uintptr_t)ram, 0, false);
		_exit(!m && errno == EPERM && strstr(gears_last_error(), "ptrace") ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

struct win_ctx {
	uint64_t marker_at;
	int windows, seen_whole;
	uint64_t covered;
};

static int count_window(uint64_t gpa, const void *p, uint64_t len, void *vctx)
{
	struct win_ctx *c = vctx;

	c->windows++;
	CHECK(len <= GEARS_MEM_WINDOW);
	if (gpa + len > c->covered)
		c->covered = gpa + len;
	if (c->marker_at >= gpa && c->marker_at + 32 <= gpa + len &&
	    !memcmp((const uint8_t *)p + (c->marker_at - gpa), "a marker across windows' edge..", 32))
		c->seen_whole++;
	return 0;
}

/* Whole-RAM scans get overlapping snapshots: a structure on a window's edge
 * is seen whole in the next one. */
TEST(process_scans_in_windows)
{
	const uint64_t size = 100 * MiB;
	uint8_t *ram = aligned_alloc(4096, size);
	struct win_ctx c = { .marker_at = GEARS_MEM_WINDOW - 16 };
	struct gears_mem *m;

	CHECK(ram != NULL);
	if (!ram)
		return;
	memset(ram, 0, size);
	memcpy(ram + c.marker_at, "a marker across windows' edge..", 32);
	m = gears_mem__open_process(getpid(), size, size, (uintptr_t)ram, 0, false);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ(gears_mem__for_each_range(m, count_window, &c), 0);
		CHECK_EQ(c.windows, 2);
		CHECK_EQ(c.seen_whole, 1);
		CHECK_EQ(c.covered, size);
	}
	gears_mem__close(m);
	free(ram);
}

/* ---- discovery from the monitor's words ---- */

/* A monitor that answers like QEMU for RAM laid out in `base` (this process). */
struct fake_qemu {
	uint8_t *base;
	uint64_t size, below_4g;
	uint64_t bar_gpa;	/* a BAR of another region (0: none) */
	bool broken_high;	/* high RAM not where the split predicts */
	int calls;
};

static char *fake_hmp(void *vctx, const char *cmd)
{
	struct fake_qemu *f = vctx;
	char out[256];
	uint64_t gpa, high = f->size - f->below_4g, hva = 0;
	const char *name = "pc.ram";

	f->calls++;
	if (!strcmp(cmd, "info memory_size_summary")) {
		snprintf(out, sizeof(out), "base memory: %llu\r\nplugged memory: 0\r\n",
			 (unsigned long long)f->size);
		return strdup(out);
	}
	if (sscanf(cmd, "gpa2hva %" SCNx64, &gpa) != 1)
		return strdup("unknown command\r\n");
	if (gpa < f->below_4g)
		hva = (uintptr_t)f->base + gpa;
	else if (gpa >= 4 * GiB && gpa - 4 * GiB < high)
		hva = (uintptr_t)f->base + f->below_4g + (gpa - 4 * GiB) + (f->broken_high ? 4096 : 0);
	else if (f->bar_gpa && gpa >= f->bar_gpa && gpa < f->bar_gpa + 2 * MiB) {
		hva = 0x7f0000000000ull + (gpa - f->bar_gpa);
		name = "gears-region-mem";
	}
	if (!hva) {
		snprintf(out, sizeof(out), "No memory is mapped at address 0x%" PRIx64 "\r\n", gpa);
		return strdup(out);
	}
	snprintf(out, sizeof(out), "Host virtual address for 0x%" PRIx64 " (%s) is 0x%" PRIx64 "\r\n",
		 gpa, name, hva);
	return strdup(out);
}

TEST(discover_layouts)
{
	uint8_t *ram = aligned_alloc(4096, 8 * MiB);
	struct fake_qemu f = { .base = ram, .size = 8 * MiB, .below_4g = 8 * MiB };
	struct gears_ram_layout l;
	struct gears_mem *m;
	uint8_t b[8];

	memset(ram, 0x5a, 8 * MiB);
	/* All below 4 GiB, a PCI BAR at 4 GiB that is not RAM's. */
	f.bar_gpa = 4 * GiB;
	CHECK_EQ(gears_ram__discover(fake_hmp, &f, getpid(), &l), 0);
	CHECK_EQ(l.size, 8 * MiB);
	CHECK_EQ(l.below_4g, 8 * MiB);
	CHECK_EQ(l.hva_low, (uintptr_t)ram);
	CHECK_EQ(l.hva_high, 0);
	CHECK_STR(l.file, "");	/* anonymous memory */
	m = gears_ram__open(&l, false);
	CHECK(m && !strcmp(gears_mem__backend(m), "process"));
	gears_mem__close(m);
	/* Split: 6 MiB below, 2 MiB at 4 GiB. */
	f.bar_gpa = 0;
	f.below_4g = 6 * MiB;
	CHECK_EQ(gears_ram__discover(fake_hmp, &f, getpid(), &l), 0);
	CHECK_EQ(l.below_4g, 6 * MiB);
	CHECK_EQ(l.hva_high, (uintptr_t)ram + 6 * MiB);
	m = gears_ram__open(&l, false);
	ram[6 * MiB + 5] = 0x77;
	CHECK(m && gears_mem__read(m, 4 * GiB + 5, b, 1) == 0 && b[0] == 0x77);
	gears_mem__close(m);
	/* High RAM somewhere else than one block predicts: refused, not guessed. */
	f.broken_high = true;
	CHECK_EQ(gears_ram__discover(fake_hmp, &f, getpid(), &l), -ENOTSUP);
	/* A monitor that talks nonsense. */
	f.size = 0;
	CHECK_EQ(gears_ram__discover(fake_hmp, &f, getpid(), &l), -EPROTO);
	free(ram);
}

/* RAM that QEMU maps shared from a memfd is found and mapped here too. */
TEST(discover_shared_memfd)
{
	int fd = memfd_create("gears-test-ram", MFD_CLOEXEC);
	struct fake_qemu f = { .size = 4 * MiB, .below_4g = 4 * MiB };
	struct gears_ram_layout l;
	struct gears_mem *m;
	uint8_t b = 0;

	CHECK(fd >= 0 && !ftruncate(fd, 5 * MiB));
	/* gpa 0 one MiB into the file, as a backend with an offset would be. */
	f.base = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 1 * MiB);
	CHECK(f.base != MAP_FAILED);
	CHECK_EQ(gears_ram__discover(fake_hmp, &f, getpid(), &l), 0);
	CHECK(!strncmp(l.file, "/proc/", 6));
	CHECK_EQ(l.file_off, 1 * MiB);
	m = gears_ram__open(&l, true);
	CHECK(m && !strcmp(gears_mem__backend(m), "mapped"));
	if (m) {
		f.base[0x1234] = 0x42;
		CHECK(gears_mem__read(m, 0x1234, &b, 1) == 0 && b == 0x42);
		CHECK_EQ(gears_mem__write(m, 0x2000, "z", 1), 0);
		CHECK_EQ(f.base[0x2000], 'z');
	}
	gears_mem__close(m);
	/* A private mapping of the same file is QEMU's own copy: not mapped. */
	munmap(f.base, 4 * MiB);
	f.base = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(f.base != MAP_FAILED);
	f.base[0] = 1;
	CHECK_EQ(gears_ram__discover(fake_hmp, &f, getpid(), &l), 0);
	CHECK_STR(l.file, "");
	munmap(f.base, 4 * MiB);
	close(fd);
}
