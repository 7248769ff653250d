// SPDX-License-Identifier: MIT
/*
 * VNET wire formats: see vnet_wire.h. Every function here reads only a
 * private copy of a frame and checks lengths before each access.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vnet_wire.h"

static inline uint16_t rd16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t rd32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32be(uint8_t *p, uint32_t v)
{
	wr16be(p, (uint16_t)(v >> 16));
	wr16be(p + 2, (uint16_t)v);
}

static inline uint16_t rd16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void wr16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int vnet_vhdr_parse(const uint8_t *h, struct vnet_offload *o, size_t frame_len)
{
	o->flags = h[0];
	o->gso_type = h[1];
	o->hdr_len = rd16le(h + 2);
	o->gso_size = rd16le(h + 4);
	o->csum_start = rd16le(h + 6);
	o->csum_offset = rd16le(h + 8);
	if (frame_len < VNET_ETH_HLEN || frame_len > VNET_FRAME_MAX)
		return -EINVAL;
	if (o->flags & ~(VNET_VHDR_F_NEEDS_CSUM | VNET_VHDR_F_DATA_VALID))
		return -EINVAL;
	/* DATA_VALID means nothing on a frame a guest sends. */
	o->flags &= VNET_VHDR_F_NEEDS_CSUM;
	if ((o->flags & VNET_VHDR_F_NEEDS_CSUM) &&
	    (size_t)o->csum_start + o->csum_offset + 2 > frame_len)
		return -EINVAL;
	switch (o->gso_type & ~VNET_GSO_ECN) {
	case VNET_GSO_NONE:
		if (o->gso_type & VNET_GSO_ECN)
			return -EINVAL;
		o->gso_size = 0;
		break;
	case VNET_GSO_TCPV4:
	case VNET_GSO_TCPV6:
		/* A GSO frame always leaves its TCP checksum to the device. */
		if (!o->gso_size || !(o->flags & VNET_VHDR_F_NEEDS_CSUM))
			return -EINVAL;
		break;
	default:		/* UFO is never offered to guests */
		return -EINVAL;
	}
	return 0;
}

void vnet_vhdr_build(uint8_t *h, const struct vnet_offload *o, uint16_t nbuf)
{
	h[0] = o->flags;
	h[1] = o->gso_type;
	wr16le(h + 2, o->hdr_len);
	wr16le(h + 4, o->gso_size);
	wr16le(h + 6, o->csum_start);
	wr16le(h + 8, o->csum_offset);
	wr16le(h + 10, nbuf);
}

int vnet_vxlan_parse(const uint8_t *p, size_t len, struct vnet_vxlan *out)
{
	if (len < VNET_VXLAN_HLEN + VNET_ETH_HLEN)
		return -EINVAL;
	/* RFC 7348 §5: the I flag must be set; other flag and reserved bits are
	 * ignored on receipt, except our own extension's tag. */
	if (!(p[0] & 0x08))
		return -EINVAL;
	out->vni = (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
	out->gears_seq = p[1] == VNET_VXLAN_GEARS_TAG;
	out->seq = out->gears_seq ? rd16be(p + 2) : 0;
	return VNET_VXLAN_HLEN;
}

void vnet_vxlan_build(uint8_t *p, uint32_t vni)
{
	memset(p, 0, VNET_VXLAN_HLEN);
	p[0] = 0x08;
	p[4] = (uint8_t)(vni >> 16);
	p[5] = (uint8_t)(vni >> 8);
	p[6] = (uint8_t)vni;
}

uint32_t vnet_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = sum;

	for (; len >= 2; p += 2, len -= 2)
		s += rd16be(p);
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t vnet_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int vnet_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
	size_t at = (size_t)csum_start + csum_offset;

	if (at + 2 > len || csum_start >= len)
		return -EINVAL;
	/* The sender put the pseudo-header sum in the field: summing over it
	 * is exactly what a NIC does. */
	uint16_t c = vnet_csum_fold(vnet_csum_add(0, frame + csum_start, len - csum_start));

	/* A UDP checksum that comes out 0 is sent as 0xffff (RFC 768). */
	wr16be(frame + at, c ? c : 0xffff);
	return 0;
}

struct tcp_layout {
	size_t l3, l4, hdrs;
	bool v6;
};

static int parse_tcp(const uint8_t *f, size_t len, struct tcp_layout *t)
{
	size_t l3 = VNET_ETH_HLEN;
	uint16_t type;

	if (len < VNET_ETH_HLEN)
		return -EINVAL;
	type = rd16be(f + 12);
	if (type == 0x8100) {
		if (len < 18)
			return -EINVAL;
		type = rd16be(f + 16);
		l3 = 18;
	}
	if (type == 0x0800) {
		if (len < l3 + 20 || (f[l3] >> 4) != 4 || (f[l3] & 15) < 5 || f[l3 + 9] != 6)
			return -EINVAL;
		t->l4 = l3 + (size_t)(f[l3] & 15) * 4;
		t->v6 = false;
	} else if (type == 0x86dd) {
		/* No extension headers: Linux's TSO6 frames put TCP right after. */
		if (len < l3 + 40 || (f[l3] >> 4) != 6 || f[l3 + 6] != 6)
			return -EINVAL;
		t->l4 = l3 + 40;
		t->v6 = true;
	} else {
		return -EINVAL;
	}
	if (len < t->l4 + 20 || (f[t->l4 + 12] >> 4) < 5)
		return -EINVAL;
	t->l3 = l3;
	t->hdrs = t->l4 + (size_t)(f[t->l4 + 12] >> 4) * 4;
	return t->hdrs <= len ? 0 : -EINVAL;
}

/* TCP checksum of the segment in s[0..len) laid out as t says. */
static void tcp_checksum(uint8_t *s, size_t len, const struct tcp_layout *t)
{
	size_t tcp_len = len - t->l4;
	uint32_t sum;

	wr16be(s + t->l4 + 16, 0);
	if (t->v6)
		sum = vnet_csum_add(0, s + t->l3 + 8, 32);
	else
		sum = vnet_csum_add(0, s + t->l3 + 12, 8);
	sum += 6 + (uint32_t)tcp_len;
	sum = vnet_csum_add(sum, s + t->l4, tcp_len);
	wr16be(s + t->l4 + 16, vnet_csum_fold(sum));
}

int vnet_gso_segment(const uint8_t *frame, size_t len, const struct vnet_offload *o, size_t max_frame,
		     vnet_emit_fn emit, void *ctx)
{
	static uint8_t seg[VNET_FRAME_MAX];	/* the bridge is single-threaded */
	struct tcp_layout t;
	size_t mss, payload, off;
	uint32_t seq;
	uint16_t ip_id = 0;
	int n = 0, r;

	if (len > VNET_FRAME_MAX || parse_tcp(frame, len, &t))
		return -EINVAL;
	if (((o->gso_type & ~VNET_GSO_ECN) == VNET_GSO_TCPV6) != t.v6)
		return -EINVAL;
	mss = o->gso_size;
	if (t.hdrs + mss > max_frame)
		mss = max_frame > t.hdrs ? max_frame - t.hdrs : 0;
	if (!mss)
		return -EINVAL;
	payload = len - t.hdrs;
	seq = rd32be(frame + t.l4 + 4);
	if (!t.v6)
		ip_id = rd16be(frame + t.l3 + 4);
	off = 0;
	do {
		size_t chunk = payload - off < mss ? payload - off : mss;
		size_t slen = t.hdrs + chunk;
		bool first = off == 0, last = off + chunk >= payload;

		memcpy(seg, frame, t.hdrs);
		memcpy(seg + t.hdrs, frame + t.hdrs + off, chunk);
		if (t.v6) {
			wr16be(seg + t.l3 + 4, (uint16_t)(slen - t.l4));
		} else {
			size_t ihl = t.l4 - t.l3;

			wr16be(seg + t.l3 + 2, (uint16_t)(slen - t.l3));
			wr16be(seg + t.l3 + 4, (uint16_t)(ip_id + n));
			wr16be(seg + t.l3 + 10, 0);
			wr16be(seg + t.l3 + 10, vnet_csum_fold(vnet_csum_add(0, seg + t.l3, ihl)));
		}
		wr32be(seg + t.l4 + 4, seq + (uint32_t)off);
		if (!last)
			seg[t.l4 + 13] &= (uint8_t)~0x09;	/* FIN, PSH only on the last */
		if (!first)
			seg[t.l4 + 13] &= (uint8_t)~0x80;	/* CWR only on the first */
		tcp_checksum(seg, slen, &t);
		r = emit(ctx, seg, slen);
		if (r < 0)
			return r;
		n++;
		off += chunk;
	} while (off < payload);
	return n;
}

int vnet_mac_parse(const char *s, uint8_t *mac)
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

void vnet_mac_format(const uint8_t *mac, char *out)
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* ---- receive coalescing ---- */

#define TCP_ACK 0x10
#define TCP_PSH 0x08

bool vnet_gro_eligible(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + VNET_ETH_HLEN, *tcp = ip + 20;
	size_t tl, doff;

	if (len < VNET_ETH_HLEN + 40 || rd16be(f + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 6)
		return false;
	tl = rd16be(ip + 2);
	if (tl != len - VNET_ETH_HLEN || (rd16be(ip + 6) & 0x3fff))	/* padding, MF or an offset */
		return false;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || 20 + doff >= tl || (tcp[13] & ~(TCP_ACK | TCP_PSH)) || !(tcp[13] & TCP_ACK))
		return false;
	/* Both checksums must hold: the merged frame's is trusted by its receiver. */
	if (vnet_csum_fold(vnet_csum_add(0, ip, 20)) != 0)
		return false;
	uint32_t sum = vnet_csum_add(0, ip + 12, 8) + 6 + (uint32_t)(tl - 20);

	return vnet_csum_fold(vnet_csum_add(sum, tcp, tl - 20)) == 0;
}

int vnet_gro_add(struct vnet_gro *g, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + VNET_ETH_HLEN, *tcp = ip + 20;
	size_t hdrs, payload;

	if (!vnet_gro_eligible(f, len))
		return 0;
	hdrs = VNET_ETH_HLEN + 20 + (size_t)(tcp[12] >> 4) * 4;
	payload = len - hdrs;
	if (!g->len) {
		if (len > VNET_FRAME_MAX)
			return 0;
		memcpy(g->buf, f, len);
		g->len = len;
		g->hdrs = hdrs;
		g->mss = (uint16_t)payload;
		g->next_seq = rd32be(tcp + 4) + (uint32_t)payload;
		g->segs = 1;
		g->closed = tcp[13] & TCP_PSH;
		return 1;
	}
	uint8_t *gip = g->buf + VNET_ETH_HLEN, *gtcp = gip + 20;

	/* Same flow and headers: Ethernet, TOS, DF, TTL, addresses, ports, ack,
	 * TCP options; the next byte of the stream; not longer than the first. */
	if (g->closed || hdrs != g->hdrs || payload > g->mss || rd32be(tcp + 4) != g->next_seq ||
	    g->len + payload > VNET_FRAME_MAX || g->len + payload - VNET_ETH_HLEN > 0xffff ||
	    memcmp(f, g->buf, VNET_ETH_HLEN) || ip[1] != gip[1] || (ip[6] & 0x40) != (gip[6] & 0x40) ||
	    ip[8] != gip[8] || memcmp(ip + 12, gip + 12, 8) || memcmp(tcp, gtcp, 4) ||
	    memcmp(tcp + 8, gtcp + 8, 4) || memcmp(tcp + 20, gtcp + 20, hdrs - VNET_ETH_HLEN - 40))
		return 0;
	memcpy(g->buf + g->len, f + hdrs, payload);
	g->len += payload;
	g->next_seq += (uint32_t)payload;
	g->segs++;
	memcpy(gtcp + 14, tcp + 14, 2);		/* the latest window */
	gtcp[13] |= tcp[13] & TCP_PSH;
	g->closed = payload < g->mss || (tcp[13] & TCP_PSH);
	return 1;
}

bool vnet_gro_finish(struct vnet_gro *g, size_t *len, struct vnet_offload *o)
{
	uint8_t *ip = g->buf + VNET_ETH_HLEN, *tcp = ip + 20;

	if (!g->len)
		return false;
	*len = g->len;
	memset(o, 0, sizeof(*o));
	if (g->segs > 1) {
		size_t tl = g->len - VNET_ETH_HLEN;

		wr16be(ip + 2, (uint16_t)tl);
		wr16be(ip + 10, 0);
		wr16be(ip + 10, vnet_csum_fold(vnet_csum_add(0, ip, 20)));
		/* A partial checksum as a TSO sender leaves it: the pseudo-header
		 * sum, not inverted; the receiver trusts it (NEEDS_CSUM). */
		uint32_t ph = vnet_csum_add(0, ip + 12, 8) + 6 + (uint32_t)(tl - 20);

		wr16be(tcp + 16, (uint16_t)~vnet_csum_fold(ph));
		*o = (struct vnet_offload){ .flags = VNET_VHDR_F_NEEDS_CSUM, .gso_type = VNET_GSO_TCPV4,
					    .hdr_len = (uint16_t)g->hdrs, .gso_size = g->mss,
					    .csum_start = VNET_ETH_HLEN + 20, .csum_offset = 16 };
	}
	g->len = 0;
	g->segs = 0;
	g->closed = false;
	return true;
}
