// SPDX-License-Identifier: MIT
/* VNET wire formats: VXLAN header, virtio-net header checks, checksum
 * completion and TCP segmentation, checked against checksums recomputed here
 * from first principles (RFC 1071 over the pseudo-header). */
#include "testlib.h"

#include "../../host/vnet_wire.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* RFC 1071, independently of vnet_csum_*: sum of 16-bit words, folded. */
static uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += rd16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A TCP segment is valid when the sum over pseudo-header + segment is 0xffff. */
static bool tcp4_valid(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t ihl = (ip[0] & 15) * 4, tl = len - 14 - ihl;
	uint32_t s = (uint32_t)ref_sum(ip + 12, 8, 0) + 6 + (uint32_t)tl;

	return ref_sum(ip, ihl, 0) == 0xffff && ref_sum(ip + ihl, tl, s) == 0xffff;
}

TEST(vxlan_header)
{
	uint8_t h[64] = { 0 };
	struct vnet_vxlan v;

	vnet_vxlan_build(h, 0xabcdef);
	CHECK_EQ(h[0], 0x08);
	CHECK_EQ(vnet_vxlan_parse(h, 8 + 14, &v), 8);
	CHECK_EQ(v.vni, 0xabcdef);
	CHECK_EQ(vnet_vxlan_parse(h, 8 + 13, &v), -EINVAL);	/* no room for Ethernet */
	h[0] = 0;
	CHECK_EQ(vnet_vxlan_parse(h, 64, &v), -EINVAL);	/* I flag missing */
	h[0] = 0x08 | 0x04;	/* other flag bits are ignored on receipt */
	h[7] = 0xff;
	CHECK_EQ(vnet_vxlan_parse(h, 64, &v), 8);
}

TEST(vhdr_checks)
{
	struct vnet_offload o;
	uint8_t h[12] = { 0 };

	CHECK_EQ(vnet_vhdr_parse(h, &o, 60), 0);
	CHECK_EQ(vnet_vhdr_parse(h, &o, 13), -EINVAL);
	h[0] = VNET_VHDR_F_NEEDS_CSUM;
	h[6] = 50;	/* csum_start 50 + offset 16 + 2 > 60 */
	h[8] = 16;
	CHECK_EQ(vnet_vhdr_parse(h, &o, 60), -EINVAL);
	CHECK_EQ(vnet_vhdr_parse(h, &o, 68), 0);
	h[1] = VNET_GSO_TCPV4;	/* GSO without a size */
	CHECK_EQ(vnet_vhdr_parse(h, &o, 68), -EINVAL);
	h[4] = 0x10;
	CHECK_EQ(vnet_vhdr_parse(h, &o, 68), 0);
	h[1] = VNET_GSO_UDP;	/* never offered */
	CHECK_EQ(vnet_vhdr_parse(h, &o, 68), -EINVAL);
	h[1] = 0;
	h[0] = 0x80;	/* unknown flag */
	CHECK_EQ(vnet_vhdr_parse(h, &o, 68), -EINVAL);
	struct vnet_offload w = { .flags = 1, .gso_type = 4, .hdr_len = 66, .gso_size = 1400, .csum_start = 54,
				  .csum_offset = 16 }, r;
	vnet_vhdr_build(h, &w, 3);
	CHECK_EQ(vnet_vhdr_parse(h, &r, 2000), 0);
	CHECK(!memcmp(&w, &r, sizeof(w)));
	CHECK_EQ(h[10] | h[11] << 8, 3);
}

/* An IPv4/TCP frame with `payload` bytes, partial checksum as a guest leaves it. */
static size_t make_tcp4(uint8_t *f, size_t payload, uint8_t flags)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	size_t tl = 20 + payload;

	memset(f, 0, 54);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + tl) >> 8);
	ip[3] = (uint8_t)(20 + tl);
	ip[4] = 0x12;
	ip[5] = 0x34;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\xc6\x13\x01\x01\xc6\x13\x01\x02", 8);
	tcp[4] = 0x10;	/* seq 0x10000000 */
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(i * 7 + 1);
	/* pseudo-header sum in the checksum field, not inverted (Linux's CHECKSUM_PARTIAL) */
	uint16_t ph = ref_sum(ip + 12, 8, 6 + (uint32_t)tl);

	tcp[16] = (uint8_t)(ph >> 8);
	tcp[17] = (uint8_t)ph;
	return 54 + payload;
}

struct segs {
	int n;
	size_t total_payload;
	bool all_valid, seq_ok;
	int fins, fin_at;
	uint32_t next_seq;
	size_t max_len;
};

static int collect(void *ctx, const uint8_t *s, size_t len)
{
	struct segs *c = ctx;
	const uint8_t *tcp = s + 34;
	uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];

	c->all_valid &= tcp4_valid(s, len);
	c->seq_ok &= seq == c->next_seq;
	c->next_seq = seq + (uint32_t)(len - 54);
	c->total_payload += len - 54;
	if (tcp[13] & 0x09) {	/* FIN or PSH */
		c->fins++;
		c->fin_at = c->n;
	}
	c->max_len = len > c->max_len ? len : c->max_len;
	c->n++;
	return 0;
}

TEST(tcp_segmentation)
{
	static uint8_t f[VNET_FRAME_MAX];
	size_t len = make_tcp4(f, 10000, 0x19);	/* ACK PSH FIN */
	struct vnet_offload o = { .flags = VNET_VHDR_F_NEEDS_CSUM, .gso_type = VNET_GSO_TCPV4, .gso_size = 1448,
				  .csum_start = 34, .csum_offset = 16 };
	struct segs c = { .all_valid = true, .seq_ok = true, .next_seq = 0x10000000 };

	CHECK_EQ(vnet_gso_segment(f, len, &o, 14 + 1500, collect, &c), 7);
	CHECK(c.all_valid);
	CHECK(c.seq_ok);
	CHECK_EQ(c.total_payload, 10000);
	CHECK(c.max_len <= 14 + 1500);
	CHECK_EQ(c.fins, 1);	/* FIN and PSH only on the last segment */
	CHECK_EQ(c.fin_at, 6);
	/* a link that carries less: segments shrink to fit, never dropped */
	struct segs d = { .all_valid = true, .seq_ok = true, .next_seq = 0x10000000 };

	CHECK_EQ(vnet_gso_segment(f, len, &o, 14 + 1000, collect, &d), 11);
	CHECK(d.max_len <= 14 + 1000);
	CHECK(d.all_valid);
	CHECK_EQ(d.total_payload, 10000);
	/* headers that do not parse, or lie about the IP version */
	o.gso_type = VNET_GSO_TCPV6;
	CHECK_EQ(vnet_gso_segment(f, len, &o, 1514, collect, &d), -EINVAL);
	o.gso_type = VNET_GSO_TCPV4;
	f[14 + 9] = 17;	/* UDP, not TCP */
	CHECK_EQ(vnet_gso_segment(f, len, &o, 1514, collect, &d), -EINVAL);
	CHECK_EQ(vnet_gso_segment(f, 30, &o, 1514, collect, &d), -EINVAL);
}

struct segstore {
	uint8_t seg[16][1600];
	size_t len[16];
	int n;
};

static int store(void *ctx, const uint8_t *s, size_t len)
{
	struct segstore *c = ctx;

	if (c->n >= 16 || len > 1600)
		return -1;
	memcpy(c->seg[c->n], s, len);
	c->len[c->n++] = len;
	return 0;
}

TEST(receive_coalescing)
{
	static uint8_t f[VNET_FRAME_MAX], buf[VNET_FRAME_MAX];
	static struct segstore a, b;
	size_t len = make_tcp4(f, 5000, 0x18), mlen;	/* ACK PSH */
	struct vnet_offload o = { .flags = VNET_VHDR_F_NEEDS_CSUM, .gso_type = VNET_GSO_TCPV4, .gso_size = 1400,
				  .csum_start = 34, .csum_offset = 16 }, mo;
	struct vnet_gro g = { .buf = buf };

	a.n = b.n = 0;
	CHECK_EQ(vnet_gso_segment(f, len, &o, 1514, store, &a), 4);
	for (int i = 0; i < a.n; i++) {
		CHECK(vnet_gro_eligible(a.seg[i], a.len[i]));
		CHECK_EQ(vnet_gro_add(&g, a.seg[i], a.len[i]), 1);
	}
	CHECK(g.closed);	/* the short last segment with PSH closes it */
	CHECK(vnet_gro_finish(&g, &mlen, &mo));
	CHECK_EQ(mlen, len);
	CHECK_EQ(mo.gso_type, VNET_GSO_TCPV4);
	CHECK_EQ(mo.gso_size, 1400);
	/* cut again, it gives back exactly the segments that came in */
	CHECK_EQ(vnet_gso_segment(buf, mlen, &mo, 1514, store, &b), 4);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(b.len[i], a.len[i]);
		/* IP ids: the merge keeps the first; segmentation renumbers from it */
		CHECK(!memcmp(b.seg[i], a.seg[i], a.len[i]));
	}
	/* a segment with a bad checksum, a gap, or another flow is not merged */
	CHECK_EQ(vnet_gro_add(&g, a.seg[0], a.len[0]), 1);
	a.seg[1][60] ^= 1;
	CHECK(!vnet_gro_eligible(a.seg[1], a.len[1]));
	CHECK_EQ(vnet_gro_add(&g, a.seg[1], a.len[1]), 0);
	CHECK_EQ(vnet_gro_add(&g, a.seg[2], a.len[2]), 0);	/* seq gap */
	a.seg[1][60] ^= 1;
	a.seg[1][36] ^= 0x40;	/* other destination port: checksum now wrong too */
	CHECK_EQ(vnet_gro_add(&g, a.seg[1], a.len[1]), 0);
	CHECK(vnet_gro_finish(&g, &mlen, &mo));
	CHECK_EQ(mo.gso_type, VNET_GSO_NONE);	/* one segment: delivered as it came */
	CHECK_EQ(mlen, a.len[0]);
	CHECK(!vnet_gro_finish(&g, &mlen, &mo));
}

TEST(checksum_completion)
{
	static uint8_t f[2000];
	size_t len = make_tcp4(f, 777, 0x18);

	/* make_tcp4 leaves the IP checksum 0: fill it so only TCP's is tested */
	uint16_t ipc = (uint16_t)~ref_sum(f + 14, 20, 0);

	f[24] = (uint8_t)(ipc >> 8);
	f[25] = (uint8_t)ipc;
	CHECK(!tcp4_valid(f, len));
	CHECK_EQ(vnet_csum_complete(f, len, 34, 16), 0);
	CHECK(tcp4_valid(f, len));
	CHECK_EQ(vnet_csum_complete(f, len, (uint16_t)len, 0), -EINVAL);
	CHECK_EQ(vnet_csum_complete(f, len, 34, (uint16_t)(len - 34 - 1)), -EINVAL);
}

TEST(mac_text)
{
	uint8_t m[6];
	char t[18];

	CHECK_EQ(vnet_mac_parse("02:47:aB:00:ff:10", m), 0);
	vnet_mac_format(m, t);
	CHECK_STR(t, "02:47:ab:00:ff:10");
	CHECK_EQ(vnet_mac_parse("02:47:ab:00:ff", m), -EINVAL);
	CHECK_EQ(vnet_mac_parse("02:47:ab:00:ff:10:11", m), -EINVAL);
	CHECK_EQ(vnet_mac_parse("zz:47:ab:00:ff:10", m), -EINVAL);
}
