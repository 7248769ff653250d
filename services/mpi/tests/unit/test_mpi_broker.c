// SPDX-License-Identifier: MIT
/*
 * The MPI broker's hypercalls against two synthetic VMs (tests/unit/guest_ram.h:
 * RAM with page tables built in it), each RAM a file as QEMU's are, so the
 * broker of one VM reaches the other's through its path. The oracle is the
 * guests' memory itself, read back through their page tables: the bytes a
 * receive got, its completion block, and what must be left untouched.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"
#include "guest_ram.h"

#include "../../host/mpi_broker.h"
#include "../../guest/gears_mpi_abi.h"

#define RAM (24 * MiB)
#define BUF_VA 0x40000000ull	/* each process's buffers, 16 MiB of them */
#define DONE_VA 0x30000000ull	/* its completion blocks, one page */
#define KERN_VA 0x38000000ull	/* a supervisor-only page */
#define DATA_PA (4 * MiB)	/* buffers' frames from here (up to 12 MiB) */
#define SPARE_PA (20 * MiB)	/* frames the tests remap pages to */

struct vm {
	struct guest g;
	char path[64];
	struct mpi_broker *b;
	int fd;
};

static char broker_path[64];

/* A VM whose RAM is a file; its page tables map BUF_VA..+len to frames in a
 * scattered order (every other frame, backwards) so that no copy can assume
 * contiguity, and one page of completion blocks. */
static void vm_init(struct vm *v, int n, uint64_t len)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->path, sizeof(v->path), "/dev/shm/gears-test-mpi-%d-%d", (int)getpid(), n);
	v->fd = open(v->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (v->fd < 0 || ftruncate(v->fd, RAM))
		abort();
	v->g.ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->g.ram == MAP_FAILED)
		abort();
	v->g.size = v->g.below_4g = RAM;
	v->g.m = gears_mem__from_buffer(v->g.ram, RAM, RAM, true);
	v->g.levels = 4;
	v->g.cr3 = 0x1000;
	v->g.next = 0x2000;
	uint64_t pages = (len + 4095) / 4096;
	for (uint64_t i = 0; i < pages; i++)
		map(&v->g, BUF_VA + i * 4096, DATA_PA + (2 * (pages - 1 - i) + (i & 1)) * 4096, 1, PRW);
	map(&v->g, DONE_VA, DATA_PA - 4096, 1, PRW);
	map(&v->g, KERN_VA, DATA_PA - 8192, 1, P | RW);
	char err[128];
	v->b = mpi_broker_open(broker_path, err, sizeof(err));
	if (!v->b) {
		fprintf(stderr, "mpi_broker_open: %s\n", err);
		abort();
	}
	if (mpi_broker_add_vm(v->b, v->g.m, v->path, RAM, RAM, 4, getpid()) < 0)
		abort();
}

static bool vm_fini(struct vm *v)
{
	bool last = mpi_broker_close_last(v->b);

	gears_mem__close(v->g.m);
	munmap(v->g.ram, RAM);
	close(v->fd);
	unlink(v->path);
	return last;
}

static int64_t hc(struct vm *v, int pid, uint64_t op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	const uint64_t a[6] = { op, a1, a2, a3, a4, a5 };

	return mpi_broker_hcall(v->b, pid, v->g.cr3, a);
}

static uint64_t peer_tag(int peer, int tag)
{
	return (uint32_t)peer | (uint64_t)(uint32_t)tag << 32;
}

static void put(struct vm *v, uint64_t va, const void *p, size_t n)
{
	if (gears_vmem__write(v->g.m, v->g.cr3, 4, va, p, n, false))
		abort();
}

static void get(struct vm *v, uint64_t va, void *p, size_t n)
{
	if (gears_vmem__read(v->g.m, v->g.cr3, 4, va, p, n))
		abort();
}

static struct gmpi_done done_at(struct vm *v, int k)
{
	struct gmpi_done d;

	get(v, DONE_VA + 32 * (uint64_t)k, &d, sizeof(d));
	return d;
}

static void clear_done(struct vm *v)
{
	static const unsigned char zero[4096];

	put(v, DONE_VA, zero, sizeof(zero));
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 2654435761u >> 13) ^ seed);
}

/* A job of two ranks: rank 0 (pid 100) in VM a, rank 1 (pid 200) in VM b. */
static struct vm A, B;

static void job(uint64_t len)
{
	snprintf(broker_path, sizeof(broker_path), "/dev/shm/gears-test-mpi-broker-%d", (int)getpid());
	unlink(broker_path);
	vm_init(&A, 0, len);
	vm_init(&B, 1, len);
	CHECK(hc(&A, 100, GMPI_HC_ATTACH, 0, 2, GMPI_ABI, 0, 0) > 0);
	CHECK(hc(&B, 200, GMPI_HC_ATTACH, 1, 2, GMPI_ABI, 0, 0) > 0);
}

static void job_end(void)
{
	CHECK(!vm_fini(&A));	/* B is still there */
	CHECK(vm_fini(&B));
	unlink(broker_path);
}

TEST(rendezvous_across_vms_every_byte)
{
	const uint64_t n = 3 * MiB + 5;
	unsigned char *src = malloc(n), *dst = malloc(n + 1);
	struct mpi_broker_stats st;

	job(4 * MiB);
	fill(src, n, 7);
	put(&A, BUF_VA + 3, src, n);
	/* the receive first (posted), then the send matches it: one copy */
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA + 1, n, peer_tag(0, 9), 0, DONE_VA), GMPI_POSTED);
	CHECK_EQ(done_at(&B, 0).done, 0);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA + 3, n, peer_tag(1, 9), 0, DONE_VA), GMPI_DONE);
	struct gmpi_done d = done_at(&B, 0);
	CHECK_EQ(d.done, 1);
	CHECK_EQ(d.error, GMPI_OK);
	CHECK_EQ(d.source, 0);
	CHECK_EQ(d.tag, 9);
	CHECK_EQ(d.bytes, n);
	CHECK_EQ(d.msg_bytes, n);
	get(&B, BUF_VA + 1, dst, n + 1);
	CHECK(!memcmp(dst, src, n));
	CHECK_EQ(dst[n], 0);	/* nothing past the message */
	CHECK_EQ(done_at(&A, 0).done, 1);
	mpi_broker_stats(A.b, &st);
	CHECK_EQ(st.copied_bytes, n);
	CHECK_EQ(st.matched, 1);

	/* the send first (a rendezvous: too big for the pool), then the receive */
	clear_done(&A);
	clear_done(&B);
	fill(src, n, 8);
	put(&A, BUF_VA, src, n);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, n, peer_tag(1, 3), 0, DONE_VA + 32), GMPI_POSTED);
	CHECK_EQ(done_at(&A, 1).done, 0);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, n, peer_tag(GMPI_ANY, GMPI_ANY), 0, DONE_VA + 64), GMPI_DONE);
	CHECK_EQ(done_at(&A, 1).done, 1);
	d = done_at(&B, 2);
	CHECK_EQ(d.done, 1);
	CHECK_EQ(d.tag, 3);
	get(&B, BUF_VA, dst, n);
	CHECK(!memcmp(dst, src, n));
	job_end();
	free(src);
	free(dst);
}

TEST(eager_order_truncation_zero_length)
{
	unsigned char m1[100], m2[100], got[100];
	struct gmpi_done d;

	job(1 * MiB);
	fill(m1, sizeof(m1), 1);
	fill(m2, sizeof(m2), 2);
	put(&A, BUF_VA, m1, sizeof(m1));
	put(&A, BUF_VA + 4096, m2, sizeof(m2));
	/* two small sends before any receive: both complete at once (the pool) */
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 100, peer_tag(1, 5), 0, DONE_VA), GMPI_DONE);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA + 4096, 100, peer_tag(1, 5), 0, DONE_VA + 32), GMPI_DONE);
	memset(got, 0, sizeof(got));
	put(&A, BUF_VA, got, sizeof(got));	/* the sender reuses its buffer */
	/* non-overtaking: the first receive gets the first message; the second,
	 * 60 bytes of room, is truncated */
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA + 8192, 100, peer_tag(0, 5), 0, DONE_VA), GMPI_DONE);
	get(&B, BUF_VA + 8192, got, sizeof(got));
	CHECK(!memcmp(got, m1, sizeof(m1)));
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA + 8192, 60, peer_tag(0, GMPI_ANY), 0, DONE_VA + 32), GMPI_DONE);
	d = done_at(&B, 1);
	CHECK_EQ(d.error, GMPI_ERR_TRUNCATE);
	CHECK_EQ(d.bytes, 60);
	CHECK_EQ(d.msg_bytes, 100);
	get(&B, BUF_VA + 8192, got, sizeof(got));
	CHECK(!memcmp(got, m2, 60));
	CHECK(!memcmp(got + 60, m1 + 60, 40));	/* past the room: the first message's bytes */
	/* zero length, another context: matched by context only */
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, 0, peer_tag(0, 1), 7, DONE_VA + 64), GMPI_POSTED);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, 0, 0, peer_tag(1, 1), 6, DONE_VA + 64), GMPI_DONE);	/* eager, context 6 */
	CHECK_EQ(done_at(&B, 2).done, 0);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, 0, 0, peer_tag(1, 1), 7, DONE_VA + 96), GMPI_DONE);
	d = done_at(&B, 2);
	CHECK_EQ(d.done, 1);
	CHECK_EQ(d.bytes, 0);
	/* the probe sees the context-6 message still queued */
	CHECK_EQ(hc(&B, 200, GMPI_HC_PROBE, 0, 0, peer_tag(GMPI_ANY, GMPI_ANY), 6, DONE_VA + 128), GMPI_DONE);
	CHECK_EQ(done_at(&B, 4).done, 1);
	CHECK_EQ(done_at(&B, 4).tag, 1);
	CHECK_EQ(hc(&B, 200, GMPI_HC_PROBE, 0, 0, peer_tag(GMPI_ANY, GMPI_ANY), 8, DONE_VA + 160), GMPI_POSTED);
	job_end();
}

TEST(hostile_arguments)
{
	unsigned char before[4096], after[4096];

	job(1 * MiB);
	get(&B, BUF_VA, before, sizeof(before));
	/* a rank, tag, context or block address out of range */
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(2, 0), 0, DONE_VA), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(-5, 0), 0, DONE_VA), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, -3), 0, DONE_VA), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), GMPI_MAX_CTX + 1, DONE_VA), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), 0, DONE_VA + 4), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), 0, 0), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), 0x200000000ull, DONE_VA), -EINVAL);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, 8, peer_tag(9, 0), 0, DONE_VA), -EINVAL);
	/* lengths: past the limit, past the mapping, wrapping the address space */
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, GMPI_MAX_BYTES + 1, peer_tag(1, 0), 0, DONE_VA), -E2BIG);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 2 * MiB, peer_tag(1, 0), 0, DONE_VA), -EFAULT);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, ~0ull - 10, 100, peer_tag(0, 0), 0, DONE_VA), -EINVAL);
	/* a supervisor-only page: neither read nor written */
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, KERN_VA, 8, peer_tag(1, 0), 0, DONE_VA), -EFAULT);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, KERN_VA, 8, peer_tag(0, 0), 0, DONE_VA), -EFAULT);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, 8, peer_tag(0, 0), 0, KERN_VA), -EFAULT);
	/* a process that never attached, one with another address space, an op nobody has */
	CHECK_EQ(hc(&A, 101, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), 0, DONE_VA), -ESRCH);
	{
		const uint64_t a[6] = { GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), 0, DONE_VA };

		CHECK_EQ(mpi_broker_hcall(A.b, 100, A.g.cr3 + 0x1000, a), -ESRCH);
	}
	CHECK_EQ(hc(&A, 100, GMPI_HC_LAST + 1, 0, 0, 0, 0, 0), -ENOSYS);
	CHECK_EQ(hc(&A, 100, GMPI_HC_ATTACH, 0, 2, GMPI_ABI + 1, 0, 0), -EPROTO);
	CHECK_EQ(hc(&A, 100, GMPI_HC_ATTACH, 2, 2, GMPI_ABI, 0, 0), -EINVAL);
	CHECK_EQ(hc(&A, 100, GMPI_HC_ATTACH, 0, 3, GMPI_ABI, 0, 0), -EINVAL);	/* another world size */
	get(&B, BUF_VA, after, sizeof(after));
	CHECK(!memcmp(before, after, sizeof(before)));
	CHECK_EQ(done_at(&A, 0).done, 0);
	CHECK_EQ(done_at(&B, 0).done, 0);
	job_end();
}

TEST(read_only_or_absent_pages_are_never_written)
{
	unsigned char src[3 * 4096], dst[3 * 4096], ro[4096];

	job(1 * MiB);
	fill(src, sizeof(src), 3);
	put(&A, BUF_VA, src, sizeof(src));
	fill(ro, sizeof(ro), 4);
	put(&B, BUF_VA + 4096, ro, sizeof(ro));
	/* the receiver's middle page read-only (copy-on-write, say): refused
	 * before anything is queued or written */
	map(&B.g, BUF_VA + 4096, SPARE_PA, 1, P | US);
	memcpy(B.g.ram + SPARE_PA, ro, sizeof(ro));
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, sizeof(dst), peer_tag(0, 0), 0, DONE_VA), -EFAULT);
	/* its last page absent */
	map(&B.g, BUF_VA + 4096, SPARE_PA, 1, PRW);
	map(&B.g, BUF_VA + 8192, 0, 1, 0);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, sizeof(dst), peer_tag(0, 0), 0, DONE_VA), -EFAULT);
	/* the guest touches it (maps it) and posts again */
	map(&B.g, BUF_VA + 8192, SPARE_PA + 4096, 1, PRW);
	CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA, sizeof(dst), peer_tag(0, 0), 0, DONE_VA), GMPI_POSTED);
	/* the receiver's page goes read-only while the receive waits: the
	 * match fails with GMPI_ERR_FAULT on both sides, no byte written */
	map(&B.g, BUF_VA + 8192, SPARE_PA + 4096, 1, P | US);
	memset(B.g.ram + SPARE_PA + 4096, 0xee, 4096);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, sizeof(src), peer_tag(1, 0), 0, DONE_VA), GMPI_DONE);
	CHECK_EQ(done_at(&B, 0).error, GMPI_ERR_FAULT);
	CHECK_EQ(done_at(&B, 0).bytes, 0);
	CHECK_EQ(done_at(&A, 0).error, GMPI_ERR_FAULT);
	get(&B, BUF_VA, dst, sizeof(dst));
	CHECK(!memcmp(dst + 4096, ro, 4096));
	for (int i = 0; i < 4096; i++)
		if (dst[8192 + i] != 0xee) {
			CHECK(!"a read-only page was written");
			break;
		}
	/* a sender whose page vanishes after posting (a rendezvous) */
	clear_done(&A);
	clear_done(&B);
	{
		uint64_t n = 64 * 1024;

		CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, n, peer_tag(1, 1), 0, DONE_VA), GMPI_POSTED);
		map(&A.g, BUF_VA + 4096, 0, 1, 0);
		CHECK_EQ(hc(&B, 200, GMPI_HC_RECV, BUF_VA + 16 * 4096, n, peer_tag(0, 1), 0, DONE_VA), GMPI_DONE);
		CHECK_EQ(done_at(&B, 0).error, GMPI_ERR_FAULT);
		CHECK_EQ(done_at(&A, 0).error, GMPI_ERR_FAULT);
	}
	job_end();
}

TEST(a_rank_that_goes_away_fails_its_peers)
{
	job(1 * MiB);
	CHECK_EQ(hc(&A, 100, GMPI_HC_RECV, BUF_VA, 64, peer_tag(1, 0), 0, DONE_VA), GMPI_POSTED);
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 64 * 1024, peer_tag(1, 2), 0, DONE_VA + 32), GMPI_POSTED);
	mpi_broker_process_gone(B.b, 200);
	CHECK_EQ(done_at(&A, 0).done, 1);
	CHECK_EQ(done_at(&A, 0).error, GMPI_ERR_PEER);
	CHECK_EQ(done_at(&A, 1).error, GMPI_ERR_PEER);
	/* and is no longer there to send to */
	CHECK_EQ(hc(&A, 100, GMPI_HC_SEND, BUF_VA, 8, peer_tag(1, 0), 0, DONE_VA + 64), -ESRCH);
	CHECK_EQ(hc(&B, 200, GMPI_HC_SEND, BUF_VA, 8, peer_tag(0, 0), 0, DONE_VA), -ESRCH);
	job_end();
}
