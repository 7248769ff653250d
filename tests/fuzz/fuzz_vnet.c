// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for VNET's parsers of hostile input. Byte 0 picks:
 *   0: a UDP datagram: VXLAN header, then the inner frame through the switch
 *      (learning, flooding, routes) to a link that segments/completes;
 *   1: a guest frame: a 12-byte virtio-net header, then the frame, through
 *      the switch to a port without offloads (segmentation, checksums);
 *   2: guest ring memory: the rest is a descriptor table, available ring and
 *      buffers that vnet_vq_pop walks on a transmit and a receive queue;
 *   3: a burst of inner frames from a link (2-byte length, then the frame)
 *      through receive coalescing and on into the switch.
 * Every buffer is an exact-size copy, so ASan sees any read past the end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/vnet/host/vnet_switch.h"
#include "../../services/vnet/host/vnet_virtq.h"
#include "../../services/vnet/host/vnet_wire.h"

static void noop(struct vnet_port *p) { (void)p; }
static const struct vnet_port_ops ops = { noop, noop };

static struct vnet_sw *sw;
static struct vnet_port *guest, *link, *other;

static void setup(void)
{
	sw = vnet_sw_new();
	guest = vnet_sw_port_add(sw, "g", VNET_PORT_VHOST, 1, &ops, NULL);
	other = vnet_sw_port_add(sw, "o", VNET_PORT_VHOST, 1, &ops, NULL);
	link = vnet_sw_port_add(sw, "l", VNET_PORT_LINK, 1, &ops, NULL);
	vnet_sw_port_set_up(sw, guest, true);
	vnet_sw_port_set_up(sw, other, true);
	vnet_sw_port_set_up(sw, link, true);
	guest->caps = VNET_CAP_GSO_TCP | VNET_CAP_CSUM;
	guest->max_frame = VNET_FRAME_MAX;
	guest->can_pause = true;
	other->max_frame = 14 + 1450;
	link->max_frame = 14 + 1450;
	struct vnet_route r = { .dst_q = VNET_Q_NOT, .prio = 1 };
	uint32_t id;

	memcpy(r.dst, "\x02\x00\x00\x00\x00\x09", 6);
	snprintf(r.to, sizeof(r.to), "l");
	vnet_sw_route_add(sw, &r, &id);
}

static void drain(void)
{
	struct vnet_port *ps[] = { guest, link, other };

	for (int i = 0; i < 3; i++)
		while (vnet_port_peek(ps[i]))
			vnet_port_pop(sw, ps[i], true, 0);
	guest->blocked_on = -1;
	other->nwaiters = guest->nwaiters = link->nwaiters = 0;
}

static void one_datagram(const uint8_t *d, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	struct vnet_vxlan vx;

	memcpy(copy, d, n);
	if (vnet_vxlan_parse(copy, n, &vx) == VNET_VXLAN_HLEN && n - VNET_VXLAN_HLEN <= link->max_frame) {
		struct vnet_frame *f = vnet_frame_new(n - VNET_VXLAN_HLEN);

		memcpy(f->data, copy + VNET_VXLAN_HLEN, f->len);
		vnet_sw_input(sw, link, f);
	}
	free(copy);
}

static void one_guest_frame(const uint8_t *d, size_t n)
{
	struct vnet_frame *f;

	if (n < 12)
		return;
	f = vnet_frame_new(n - 12);
	if (!f)
		return;
	memcpy(f->data, d + 12, n - 12);
	if (vnet_vhdr_parse(d, &f->off, f->len)) {
		vnet_frame_put(f);
		return;
	}
	vnet_sw_input(sw, guest, f);
}

static void rings(const uint8_t *d, size_t n)
{
	/* 64 KiB of "guest RAM": the input at its start, the rest zero. */
	static uint8_t ram[65536];
	static struct vnet_iov iov[VNET_VQ_MAX_CHAIN];
	struct vnet_memtab mt = { .r = { { .gpa = 0x1000, .size = sizeof(ram), .uva = 0, .host = ram } }, .n = 1 };
	struct vnet_vq vq = { .num = 16, .desc = ram, .avail = ram + 256, .used = ram + 512, .indirect = true,
			      .event_idx = true };
	uint16_t head;
	unsigned niov;
	uint64_t total;

	memset(ram, 0, sizeof(ram));
	memcpy(ram, d, n < sizeof(ram) ? n : sizeof(ram));
	for (int q = 0; q < 2; q++) {
		vq.last_avail = 0;
		vq.broken = false;
		for (int i = 0; i < 40; i++) {
			int r = vnet_vq_pop(&vq, &mt, q == 1, &head, iov, &niov, &total);

			if (r == 0 || r == -EIO)
				break;
			for (unsigned k = 0; k < niov; k++)
				if (iov[k].p < ram || iov[k].p + iov[k].len > ram + sizeof(ram))
					abort();	/* a pointer outside guest memory escaped */
			vnet_vq_push(&vq, head, 0);
		}
		vnet_vq_publish(&vq);
		vnet_vq_arm(&vq);
	}
}

static void gro_burst(const uint8_t *d, size_t n)
{
	static uint8_t buf[VNET_FRAME_MAX];
	struct vnet_gro g = { .buf = buf };
	struct vnet_offload o;
	size_t len;

	for (int i = 0; i < 64 && n >= 2; i++) {
		size_t l = (size_t)(d[0] | d[1] << 8) % 1600;

		d += 2;
		n -= 2;
		if (l > n)
			l = n;
		uint8_t *seg = malloc(l ? l : 1);

		memcpy(seg, d, l);
		if (!vnet_gro_add(&g, seg, l)) {
			if (vnet_gro_finish(&g, &len, &o)) {
				struct vnet_frame *f = vnet_frame_new(len);

				memcpy(f->data, buf, len);
				f->off = o;
				vnet_sw_input(sw, link, f);
			}
			vnet_gro_add(&g, seg, l);
		}
		free(seg);
		d += l;
		n -= l;
	}
	if (vnet_gro_finish(&g, &len, &o)) {
		struct vnet_frame *f = vnet_frame_new(len);

		memcpy(f->data, buf, len);
		f->off = o;
		vnet_sw_input(sw, link, f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sw)
		setup();
	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0: one_datagram(data + 1, size - 1); break;
	case 1: one_guest_frame(data + 1, size - 1); break;
	case 2: rings(data + 1, size - 1); break;
	default: gro_burst(data + 1, size - 1); break;
	}
	drain();
	return 0;
}
