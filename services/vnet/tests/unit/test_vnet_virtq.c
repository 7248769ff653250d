// SPDX-License-Identifier: MIT
/* Split virtqueues from the device side against hostile rings: a fake guest
 * memory with a descriptor table, available and used rings that the test
 * fills with good and bad values. */
#include "testlib.h"

#include "../../host/vnet_virtq.h"

#define NUM 8
#define GPA 0x100000ull
#define MEMSZ (1u << 20)

static uint8_t mem[MEMSZ] __attribute__((aligned(4096)));
static struct vnet_memtab mt = { .r = { { .gpa = GPA, .size = MEMSZ, .uva = 0x7000000000ull, .host = mem } }, .n = 1 };
static struct vnet_iov iov[VNET_VQ_MAX_CHAIN];

/* layout inside mem: desc at 0, avail at 0x1000, used at 0x2000, buffers from 0x10000 */
static void reset(struct vnet_vq *vq)
{
	memset(mem, 0, 0x3000);
	memset(vq, 0, sizeof(*vq));
	vq->num = NUM;
	vq->desc = mem;
	vq->avail = mem + 0x1000;
	vq->used = mem + 0x2000;
	vq->indirect = true;
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	memcpy(mem + 16 * i, &addr, 8);
	memcpy(mem + 16 * i + 8, &len, 4);
	memcpy(mem + 16 * i + 12, &flags, 2);
	memcpy(mem + 16 * i + 14, &next, 2);
}

static void post(struct vnet_vq *vq, uint16_t head)
{
	uint16_t idx;

	memcpy(&idx, vq->avail + 2, 2);
	memcpy(vq->avail + 4 + 2 * (idx % NUM), &head, 2);
	idx++;
	memcpy(vq->avail + 2, &idx, 2);
}

static int pop(struct vnet_vq *vq, bool wr, uint16_t *head, unsigned *n, uint64_t *total)
{
	return vnet_vq_pop(vq, &mt, wr, head, iov, n, total);
}

TEST(good_chains)
{
	struct vnet_vq vq;
	uint16_t head;
	unsigned n;
	uint64_t total;

	reset(&vq);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), 0);	/* empty */
	desc(0, GPA + 0x10000, 12, 1, 1);
	desc(1, GPA + 0x11000, 1500, 0, 0);
	post(&vq, 0);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), 1);
	CHECK_EQ(head, 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(total, 1512);
	CHECK(iov[1].p == mem + 0x11000);
	vnet_vq_push(&vq, head, 0);
	CHECK(vnet_vq_publish(&vq));
	uint16_t used_idx;

	memcpy(&used_idx, vq.used + 2, 2);
	CHECK_EQ(used_idx, 1);
	/* indirect table of 3 */
	desc(2, GPA + 0x20000, 48, 4, 0);
	{
		uint64_t a[3] = { GPA + 0x30000, GPA + 0x31000, GPA + 0x32000 };
		uint32_t l = 100;
		for (int i = 0; i < 3; i++) {
			uint16_t fl = i < 2 ? 1 : 0, nx = (uint16_t)(i + 1);

			memcpy(mem + 0x20000 + 16 * i, &a[i], 8);
			memcpy(mem + 0x20000 + 16 * i + 8, &l, 4);
			memcpy(mem + 0x20000 + 16 * i + 12, &fl, 2);
			memcpy(mem + 0x20000 + 16 * i + 14, &nx, 2);
		}
	}
	post(&vq, 2);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), 1);
	CHECK_EQ(n, 3);
	CHECK_EQ(total, 300);
}

TEST(hostile_chains)
{
	struct vnet_vq vq;
	uint16_t head;
	unsigned n;
	uint64_t total;

	reset(&vq);
	desc(0, GPA + MEMSZ - 10, 100, 0, 0);	/* runs past the end of guest RAM */
	post(&vq, 0);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	desc(1, 0x1000, 10, 0, 0);	/* below the region */
	post(&vq, 1);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	desc(2, GPA + 0x10000, 10, 1, 3);	/* a loop 2 -> 3 -> 2 */
	desc(3, GPA + 0x10000, 10, 1, 2);
	post(&vq, 2);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	desc(4, GPA + 0x10000, 10, 1, 200);	/* next out of range */
	post(&vq, 4);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	desc(5, GPA + 0x10000, 10, 2, 0);	/* device-writable on a transmit queue */
	post(&vq, 5);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	desc(6, GPA + 0x20000, 33, 4, 0);	/* indirect table length not a multiple of 16 */
	post(&vq, 6);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	desc(7, GPA + 0x20000, 16, 4 | 1, 0);	/* indirect and next */
	post(&vq, 7);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	CHECK_EQ(vq.bad_chains, 7);
	CHECK(!vq.broken);
	/* nested indirect */
	reset(&vq);
	desc(0, GPA + 0x20000, 16, 4, 0);
	{
		uint64_t a = GPA + 0x20000;
		uint32_t l = 16;
		uint16_t fl = 4, nx = 0;

		memcpy(mem + 0x20000, &a, 8);
		memcpy(mem + 0x20008, &l, 4);
		memcpy(mem + 0x2000c, &fl, 2);
		memcpy(mem + 0x2000e, &nx, 2);
	}
	post(&vq, 0);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
	/* indirect not negotiated */
	vq.indirect = false;
	post(&vq, 0);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EINVAL);
}

TEST(broken_rings)
{
	struct vnet_vq vq;
	uint16_t head, idx;
	unsigned n;
	uint64_t total;

	reset(&vq);
	post(&vq, 9);	/* head beyond the ring */
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EIO);
	CHECK(vq.broken);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EIO);	/* stays broken */
	CHECK_EQ(vnet_vq_pending(&vq), 0);
	reset(&vq);
	idx = NUM + 1;	/* more available than the ring holds */
	memcpy(vq.avail + 2, &idx, 2);
	CHECK_EQ(pop(&vq, false, &head, &n, &total), -EIO);
	CHECK(vq.broken);
}

TEST(event_idx_notifications)
{
	struct vnet_vq vq;
	uint16_t ev;

	reset(&vq);
	vq.event_idx = true;
	vnet_vq_push(&vq, 0, 0);
	CHECK(vnet_vq_publish(&vq));	/* first time: always */
	ev = 5;	/* the guest wants an interrupt when used passes 5 */
	memcpy(vq.avail + 4 + 2 * NUM, &ev, 2);
	vnet_vq_push(&vq, 0, 0);
	CHECK(!vnet_vq_publish(&vq));	/* used 2 */
	for (int i = 0; i < 4; i++)
		vnet_vq_push(&vq, 0, 0);
	CHECK(vnet_vq_publish(&vq));	/* used 6 crossed 5 */
	/* arm writes avail_event = last_avail, and sees buffers posted meanwhile */
	CHECK(!vnet_vq_arm(&vq));
	memcpy(&ev, vq.used + 4 + 8 * NUM, 2);
	CHECK_EQ(ev, vq.last_avail);
	post(&vq, 0);
	CHECK(vnet_vq_arm(&vq));
}

TEST(memory_table)
{
	CHECK(vnet_mem_gpa(&mt, GPA, MEMSZ) == mem);
	CHECK(!vnet_mem_gpa(&mt, GPA, MEMSZ + 1));
	CHECK(!vnet_mem_gpa(&mt, GPA + MEMSZ, 1));
	CHECK(!vnet_mem_gpa(&mt, UINT64_MAX - 4, 16));	/* wrap-around */
	CHECK(vnet_mem_uva(&mt, 0x7000000000ull + 16, 16) == mem + 16);
	CHECK(!vnet_mem_uva(&mt, 0x6fffffffffull, 16));
}
