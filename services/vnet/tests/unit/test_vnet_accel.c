// SPDX-License-Identifier: MIT
/* The overlay accelerator's host half against a fake QEMU and a fake guest:
 * the ivshmem server messages (what QEMU 7.2 expects, in its order, with the
 * region and eventfds), frames from the guest's TX ring into the switch,
 * frames from the switch into the RX ring with the interrupt only when asked
 * for, and hostile ring contents (lengths beyond a slot or below a header,
 * indices more than a ring apart) refused and counted. The "guest" here is
 * the test writing the region the bridge handed out, as the module would. */
#include <poll.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib.h"

#include "../../accel/vnet_accel_abi.h"
#include "../../host/vnet_accel.h"
#include "../../host/vnet_loop.h"
#include "../../host/vnet_switch.h"
#include "../../host/vnet_virtq.h"

static void on_queued(struct vnet_port *p) { (void)p; }
static void on_resume(struct vnet_port *p) { (void)p; }
static const struct vnet_port_ops ops = { on_queued, on_resume };

static const uint8_t MA[6] = { 2, 0x47, 0, 0, 0, 1 }, MB[6] = { 2, 0x47, 0, 0, 0, 2 };

struct rig {
	struct vnet_loop loop;
	struct vnet_sw *sw;
	struct vnet_port *pa, *pb;
	struct vnet_accel *acc;
	char dir[48], path[96];
	int conn, bell, irq, memfd;	/* QEMU's side */
	uint8_t *shm;
	volatile struct gva_hdr *h;
};

static struct vnet_port *port(struct vnet_sw *sw, const char *name)
{
	struct vnet_port *p = vnet_sw_port_add(sw, name, VNET_PORT_VHOST, 1, &ops, NULL);

	vnet_sw_port_set_up(sw, p, true);
	p->caps = VNET_CAP_GSO_TCP | VNET_CAP_CSUM;
	p->max_frame = VNET_FRAME_MAX;
	return p;
}

/* One server message: its 64-bit value and the fd that came with it (-1). */
static int64_t recv_val(int fd, int *passed)
{
	int64_t v = INT64_MIN;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };

	*passed = -1;
	if (recvmsg(fd, &mh, 0) != (ssize_t)sizeof(v))
		return INT64_MIN;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(passed, CMSG_DATA(c), sizeof(int));
	return v;
}

static void rig_up(struct rig *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/gears-accel-unit.XXXXXX");
	CHECK(mkdtemp(r->dir) != NULL);
	snprintf(r->path, sizeof(r->path), "%s/accel.sock", r->dir);
	CHECK_EQ(vnet_loop_init(&r->loop), 0);
	r->sw = vnet_sw_new();
	r->pa = port(r->sw, "a");
	r->pb = port(r->sw, "b");
	r->acc = vnet_accel_new(&r->loop, r->sw, r->pa, r->path, MA, 1450);
	CHECK(r->acc != NULL);
	/* QEMU connects; the bridge answers at accept */
	r->conn = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->path);
	CHECK_EQ(connect(r->conn, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(vnet_loop_run_once(&r->loop, 1000), 0);
	CHECK_EQ(recv_val(r->conn, &fd), 0);		/* protocol version */
	CHECK_EQ(fd, -1);
	CHECK_EQ(recv_val(r->conn, &fd), GVA_GUEST_PEER);	/* our peer id */
	CHECK_EQ(fd, -1);
	CHECK_EQ(recv_val(r->conn, &r->bell), GVA_HOST_PEER);	/* the bridge's vector 0 */
	CHECK(r->bell >= 0);
	CHECK_EQ(recv_val(r->conn, &r->memfd), -1);		/* the region */
	CHECK(r->memfd >= 0);
	CHECK_EQ(recv_val(r->conn, &r->irq), GVA_GUEST_PEER);	/* our vector 0 */
	CHECK(r->irq >= 0);
	CHECK_EQ(lseek(r->memfd, 0, SEEK_END), (off_t)GVA_REGION_SIZE);
	r->shm = mmap(NULL, GVA_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	CHECK(r->shm != MAP_FAILED);
	r->h = (volatile struct gva_hdr *)r->shm;
	CHECK_EQ(r->h->magic, GVA_MAGIC);
	CHECK_EQ(r->h->version, GVA_VERSION);
	CHECK_EQ(r->h->host_state, GVA_HOST_READY);
	CHECK(!memcmp((const void *)r->h->mac, MA, 6));
	/* the module takes over */
	r->h->guest_state = GVA_GUEST_ACTIVE;
	CHECK(vnet_accel_active(r->acc));
}

static void rig_down(struct rig *r)
{
	vnet_accel_free(r->acc);
	vnet_sw_free(r->sw);
	vnet_loop_run_once(&r->loop, 0);
	vnet_loop_fini(&r->loop);
	munmap(r->shm, GVA_REGION_SIZE);
	close(r->conn);
	close(r->bell);
	close(r->irq);
	close(r->memfd);
	rmdir(r->dir);
}

/* The guest puts a frame of `len` bytes (dst, src, IPv4) in TX entry i,
 * descriptor length `dlen` (0: the right one), and rings. */
static void guest_tx(struct rig *r, uint32_t i, uint32_t len, uint32_t dlen)
{
	uint8_t *slot = r->shm + GVA_TX_SLOT(i);
	struct gva_desc *d = (struct gva_desc *)(r->shm + GVA_TX_DESC(i));
	uint64_t one = 1;

	memset(slot, 0, GVA_VHDR_LEN);
	memset(slot + GVA_VHDR_LEN, 0x5a, len);
	memcpy(slot + GVA_VHDR_LEN, MB, 6);
	memcpy(slot + GVA_VHDR_LEN + 6, MA, 6);
	slot[GVA_VHDR_LEN + 12] = 0x08;
	slot[GVA_VHDR_LEN + 13] = 0x00;
	d->len = dlen ? dlen : GVA_VHDR_LEN + len;
	r->h->tx_prod = i + 1;
	CHECK_EQ(write(r->bell, &one, sizeof(one)), (ssize_t)sizeof(one));
	CHECK_EQ(vnet_loop_run_once(&r->loop, 1000), 0);
}

static bool irq_pending(struct rig *r)
{
	struct pollfd p = { .fd = r->irq, .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, 0) != 1)
		return false;
	return read(r->irq, &n, sizeof(n)) == sizeof(n);
}

TEST(server_protocol_and_tx_into_the_switch)
{
	struct rig r;
	struct vnet_accel_info ai;
	struct vnet_frame *f;

	rig_up(&r);
	guest_tx(&r, 0, 1000, 0);
	f = vnet_port_peek(r.pb);
	CHECK(f != NULL);
	CHECK_EQ(f->len, 1000);
	CHECK(!memcmp(f->data, MB, 6));
	CHECK_EQ(f->data[999], 0x5a);
	CHECK_EQ(r.h->tx_cons, 1);
	/* the TX ring is empty again: the bridge asks for a doorbell before sleeping */
	CHECK_EQ(r.h->host_kick, 1);
	/* a 64 KiB GSO-sized frame is one entry */
	vnet_port_pop(r.sw, r.pb, true, 0);
	guest_tx(&r, 1, 65000, 0);
	f = vnet_port_peek(r.pb);
	CHECK(f != NULL);
	CHECK_EQ(f->len, 65000);
	vnet_accel_info(r.acc, &ai);
	CHECK_EQ(ai.tx_frames, 2);
	CHECK_EQ(ai.kicks, 2);
	CHECK_EQ(ai.bad, 0);
	CHECK_STR(ai.state, "active");
	rig_down(&r);
}

TEST(hostile_tx_lengths_and_index)
{
	struct rig r;
	struct vnet_accel_info ai;

	rig_up(&r);
	guest_tx(&r, 0, 100, 0xfffffff0u);		/* beyond the slot */
	guest_tx(&r, 1, 100, 5);			/* shorter than a header */
	guest_tx(&r, 2, 100, GVA_SLOT_SIZE + 1);	/* one past the slot */
	CHECK(vnet_port_peek(r.pb) == NULL);
	vnet_accel_info(r.acc, &ai);
	CHECK_EQ(ai.bad, 3);
	CHECK_EQ(ai.tx_frames, 0);
	CHECK_EQ(r.h->tx_cons, 3);			/* consumed, not followed */
	CHECK(vnet_accel_active(r.acc));
	/* a good frame still goes through */
	guest_tx(&r, 3, 60, 0);
	CHECK(vnet_port_peek(r.pb) != NULL);
	vnet_port_pop(r.sw, r.pb, true, 0);
	/* an index more than a ring ahead ends the accelerator: back to virtio */
	r.h->tx_prod = 4 + GVA_SLOTS + 1;
	{
		uint64_t one = 1;

		CHECK_EQ(write(r.bell, &one, sizeof(one)), (ssize_t)sizeof(one));
	}
	CHECK_EQ(vnet_loop_run_once(&r.loop, 1000), 0);
	CHECK(vnet_port_peek(r.pb) == NULL);
	CHECK(!vnet_accel_active(r.acc));
	CHECK_EQ(r.h->host_state, GVA_HOST_NONE);	/* the module sees the withdrawal */
	vnet_accel_info(r.acc, &ai);
	CHECK_STR(ai.state, "broken");
	rig_down(&r);
}

/* A frame of `len` bytes from port b to A's MAC, into the switch. */
static void from_b(struct rig *r, size_t len, uint8_t fill)
{
	struct vnet_frame *f = vnet_frame_new(len);

	memset(f->data, fill, len);
	memcpy(f->data, MA, 6);
	memcpy(f->data + 6, MB, 6);
	vnet_sw_input(r->sw, r->pb, f);
}

TEST(rx_ring_interrupts_and_backpressure)
{
	struct rig r;

	rig_up(&r);
	/* no interrupt asked for: frames go in, nobody is interrupted */
	r.h->guest_irq = 0;
	from_b(&r, 200, 0x33);
	CHECK_EQ(r.pa->q_len, 1);
	vnet_accel_run(r.acc);
	CHECK_EQ(r.pa->q_len, 0);
	CHECK_EQ(r.h->rx_prod, 1);
	CHECK_EQ(((struct gva_desc *)(r.shm + GVA_RX_DESC(0)))->len, GVA_VHDR_LEN + 200);
	CHECK(!memcmp(r.shm + GVA_RX_SLOT(0) + GVA_VHDR_LEN, MA, 6));
	CHECK(!irq_pending(&r));
	/* the guest's poll went idle and asked: the next frame interrupts it once */
	r.h->guest_irq = 1;
	for (int i = 0; i < 2; i++)
		from_b(&r, 60, 0);
	vnet_accel_run(r.acc);
	CHECK(irq_pending(&r));
	CHECK_EQ(r.h->guest_irq, 0);
	CHECK_EQ(r.h->rx_prod, 3);
	/* a full ring: the rest waits in the port's queue and the bridge asks
	 * for a doorbell when the guest makes room */
	for (unsigned i = 0; i < GVA_SLOTS + 5; i++)
		from_b(&r, 60, 0);
	vnet_accel_run(r.acc);
	CHECK_EQ(r.h->rx_prod, GVA_SLOTS);		/* rx_cons is 0: a ring's worth */
	CHECK_EQ(r.pa->q_len, 8);
	CHECK_EQ(r.h->host_rxwait, 1);
	r.h->rx_cons = 10;
	vnet_accel_run(r.acc);
	CHECK_EQ(r.pa->q_len, 0);
	CHECK_EQ(r.h->rx_prod, GVA_SLOTS + 8);
	/* a consumer index beyond the producer: broken, not followed */
	r.h->rx_cons = r.h->rx_prod + 3;
	from_b(&r, 60, 0);
	vnet_accel_run(r.acc);
	CHECK(!vnet_accel_active(r.acc));
	CHECK_EQ(r.h->rx_prod, GVA_SLOTS + 8);
	rig_down(&r);
}

TEST(detached_module_gives_the_port_back)
{
	struct rig r;

	rig_up(&r);
	r.h->guest_state = GVA_GUEST_DETACHED;
	CHECK(!vnet_accel_active(r.acc));
	/* what a detaching module left in its TX ring is still taken (it waits
	 * for that before freeing its packets) */
	guest_tx(&r, 0, 100, 0);
	CHECK(vnet_port_peek(r.pb) != NULL);
	CHECK_EQ(r.h->tx_cons, 1);
	vnet_port_pop(r.sw, r.pb, true, 0);
	/* but the port's frames go back to the virtio path, not to its RX ring */
	from_b(&r, 60, 0);
	vnet_accel_run(r.acc);
	CHECK_EQ(r.h->rx_prod, 0);
	CHECK_EQ(r.pa->q_len, 1);
	/* a module loaded again starts from the bridge's indices */
	r.h->guest_state = GVA_GUEST_ACTIVE;
	guest_tx(&r, 1, 100, 0);
	CHECK(vnet_port_peek(r.pb) != NULL);
	rig_down(&r);
}

/* TX entries that point into guest RAM (GVA_DESC_F_SEGS), through a memory
 * table of one region standing for the VM's RAM. */
TEST(tx_in_place_segments)
{
	struct rig r;
	struct vnet_memtab mt = { .n = 1 };
	static uint8_t ram[1 << 16];
	uint8_t *slot;
	struct gva_seg *sg;
	struct vnet_frame *f;
	struct vnet_accel_info ai;
	uint64_t one = 1;

	rig_up(&r);
	mt.r[0] = (struct vnet_memreg){ .gpa = 0x100000, .size = sizeof(ram), .uva = 0x7f0000000000, .host = ram };
	vnet_accel_set_work(r.acc, NULL, &mt);
	memset(ram, 0x77, sizeof(ram));
	memcpy(ram + 0x100, MB, 6);
	memcpy(ram + 0x106, MA, 6);
	/* entry 0: a 14-byte head at 0x100 and 986 bytes of "page" at 0x2000 */
	struct { uint32_t n; uint64_t gpa[3]; uint32_t len[3]; uint32_t total; bool good; } cases[] = {
		{ 2, { 0x100100, 0x102000 }, { 14, 986 }, 1000, true },
		{ 2, { 0x100100, 0x10f000 }, { 14, 0x2000 }, 14 + 0x2000, false },	/* runs past the region */
		{ 2, { 0x100100, 0x50000000 }, { 14, 986 }, 1000, false },	/* not guest RAM */
		{ 2, { 0x100100, 0x102000 }, { 14, 900 }, 1000, false },	/* lengths do not add up */
		{ 2, { 0x100100, 0x102000 }, { 14, 0 }, 14, false },		/* an empty segment */
		{ 0, { 0 }, { 0 }, 1000, false },				/* no segment */
		{ GVA_MAX_SEGS + 1, { 0x100100 }, { 14 }, 1000, false },	/* too many */
	};
	for (uint32_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		slot = r.shm + GVA_TX_SLOT(i);
		sg = (struct gva_seg *)(slot + GVA_SEGS_OFF);
		memset(slot, 0, GVA_VHDR_LEN);
		memcpy(slot + GVA_SEGS_COUNT, &cases[i].n, 4);
		for (int k = 0; k < 3; k++)
			sg[k] = (struct gva_seg){ .gpa = cases[i].gpa[k], .len = cases[i].len[k] };
		((struct gva_desc *)(r.shm + GVA_TX_DESC(i)))->len = GVA_VHDR_LEN + cases[i].total;
		((struct gva_desc *)(r.shm + GVA_TX_DESC(i)))->flags = GVA_DESC_F_SEGS;
		r.h->tx_prod = i + 1;
		CHECK_EQ(write(r.bell, &one, sizeof(one)), (ssize_t)sizeof(one));
		CHECK_EQ(vnet_loop_run_once(&r.loop, 1000), 0);
		f = vnet_port_peek(r.pb);
		CHECK_EQ(f != NULL, cases[i].good);
		if (f) {
			CHECK_EQ(f->len, 1000);
			CHECK(!memcmp(f->data, MB, 6));
			CHECK_EQ(f->data[14], 0x77);
			vnet_port_pop(r.sw, r.pb, true, 0);
		}
	}
	vnet_accel_info(r.acc, &ai);
	CHECK_EQ(ai.tx_frames, 1);
	CHECK_EQ(ai.bad, 6);
	CHECK(vnet_accel_active(r.acc));
	rig_down(&r);
}
