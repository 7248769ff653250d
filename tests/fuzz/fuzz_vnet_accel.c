// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the overlay accelerator's host half
 * (services/vnet/host/vnet_accel.c): everything the guest may write into the
 * shared region — its state, its TX producer and RX consumer indices, TX
 * descriptors and slots (frames copied in, or lists of guest-RAM segments) —
 * and the guest RAM those segments point into, then one turn of the bridge's
 * work in both directions. The fuzzer plays QEMU too: it connects to the
 * accelerator's ivshmem server socket and maps the region it is handed;
 * each input starts from a fresh connection (a broken ring stays broken
 * until QEMU comes again).
 *
 * Input: byte 0 guest state, 1..4 tx_prod, 5..8 rx_cons, 9 how many TX
 * entries; per entry 8 bytes of descriptor (len, flags) and 2 bytes of slot
 * length n, then n bytes of slot; the rest is guest RAM (at 0x100000).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../services/vnet/accel/vnet_accel_abi.h"
#include "../../services/vnet/host/vnet_accel.h"
#include "../../services/vnet/host/vnet_loop.h"
#include "../../services/vnet/host/vnet_switch.h"
#include "../../services/vnet/host/vnet_virtq.h"

static void noop(struct vnet_port *p) { (void)p; }
static const struct vnet_port_ops ops = { noop, noop };
static const uint8_t MA[6] = { 2, 0x47, 0, 0, 0, 1 }, MB[6] = { 2, 0x47, 0, 0, 0, 2 };

static struct vnet_loop loop;
static struct vnet_sw *sw;
static struct vnet_port *pa, *pb;
static struct vnet_accel *acc;
static struct sockaddr_un sa = { .sun_family = AF_UNIX };
static int conn = -1;
static uint8_t *shm;
static struct vnet_memtab mt = { .n = 1 };
static uint8_t *ram;
#define RAM_GPA 0x100000u
#define RAM_SIZE (1u << 17)

static void setup(void)
{
	char dir[] = "/tmp/gears-fuzz-accel.XXXXXX";

	if (!mkdtemp(dir) || vnet_loop_init(&loop))
		abort();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/a.sock", dir);
	sw = vnet_sw_new();
	pa = vnet_sw_port_add(sw, "a", VNET_PORT_VHOST, 1, &ops, NULL);
	pb = vnet_sw_port_add(sw, "b", VNET_PORT_VHOST, 1, &ops, NULL);
	vnet_sw_port_set_up(sw, pa, true);
	vnet_sw_port_set_up(sw, pb, true);
	pa->caps = pb->caps = VNET_CAP_GSO_TCP | VNET_CAP_CSUM;
	pa->max_frame = pb->max_frame = VNET_FRAME_MAX;
	acc = vnet_accel_new(&loop, sw, pa, sa.sun_path, MA, 1450);
	ram = malloc(RAM_SIZE);
	if (!acc || !ram)
		abort();
	mt.r[0] = (struct vnet_memreg){ .gpa = RAM_GPA, .size = RAM_SIZE, .uva = 0x7f0000000000ull, .host = ram };
	vnet_accel_set_work(acc, NULL, &mt);
}

/* Be QEMU again: a new connection, the five server messages, the region. */
static void reconnect(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	int64_t v;

	if (conn >= 0) {
		close(conn);
		vnet_loop_run_once(&loop, 100);	/* the bridge sees it go */
	}
	conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn < 0 || connect(conn, (struct sockaddr *)&sa, sizeof(sa)) || vnet_loop_run_once(&loop, 1000))
		abort();
	for (int i = 0; i < 5; i++) {
		struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		int fd = -1;

		if (recvmsg(conn, &mh, 0) != (ssize_t)sizeof(v))
			abort();
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if (v == -1 && !shm) {
			shm = mmap(NULL, GVA_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (shm == MAP_FAILED)
				abort();
		}
		if (fd >= 0)
			close(fd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	volatile struct gva_hdr *h;
	size_t at = 10;
	uint32_t v32;

	if (!sw)
		setup();
	if (n < 10)
		return 0;
	reconnect();
	h = (volatile struct gva_hdr *)shm;
	for (unsigned k = 0; k < d[9] % 8 && at + 10 <= n; k++) {
		uint16_t sl;

		memcpy((void *)(shm + GVA_TX_DESC(k)), d + at, 8);
		memcpy(&sl, d + at + 8, 2);
		at += 10;
		sl = (uint16_t)(sl % 512);
		if (sl > n - at)
			sl = (uint16_t)(n - at);
		memcpy(shm + GVA_TX_SLOT(k), d + at, sl);
		at += sl;
	}
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, d + at, n - at < RAM_SIZE ? n - at : RAM_SIZE);
	memcpy(&v32, d + 1, 4);
	h->tx_prod = v32;
	memcpy(&v32, d + 5, 4);
	h->rx_cons = v32;
	h->guest_state = d[0] % 3;
	/* frames for the guest, so that its RX ring is written too */
	for (int i = 0; i < 3; i++) {
		struct vnet_frame *f = vnet_frame_new(60 + 1000 * (size_t)i);

		memset(f->data, 0, f->len);
		memcpy(f->data, MA, 6);
		memcpy(f->data + 6, MB, 6);
		vnet_sw_input(sw, pb, f);
	}
	vnet_accel_run(acc);
	/* what reached the switch is whole frames of sane size */
	for (struct vnet_frame *f; (f = vnet_port_peek(pb));) {
		if (f->len < 14 || f->len > VNET_FRAME_MAX)
			abort();
		vnet_port_pop(sw, pb, true, 0);
	}
	while (vnet_port_peek(pa))
		vnet_port_pop(sw, pa, true, 0);
	pa->blocked_on = -1;
	pb->nwaiters = pa->nwaiters = 0;
	return 0;
}
