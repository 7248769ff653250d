/* SPDX-License-Identifier: MIT */
/*
 * VNET wire formats: Ethernet, the VXLAN header (RFC 7348), the virtio-net
 * header's offload fields, checksum completion and TCP segmentation.
 *
 * Everything here works on a private copy of a frame (never on guest memory
 * or a socket buffer that can change underneath) and checks every length
 * before it reads: frames come from hostile guests and from the network.
 * No state, no allocation: shared by the bridge and its fuzzer.
 */
#ifndef GEARS_VNET_WIRE_H
#define GEARS_VNET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_ETH_HLEN 14
#define VNET_ETH_ALEN 6
#define VNET_VXLAN_HLEN 8
#define VNET_VXLAN_PORT 4789
/* Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
#define VNET_VXLAN_OVERHEAD 50
#define VNET_VNI_MAX 0xffffffu
/* The largest frame a port accepts: a 64 KiB GSO frame plus its headers. */
#define VNET_FRAME_MAX (65536u + 256u)

/* virtio-net header (VIRTIO_F_VERSION_1 / MRG_RXBUF layout: 12 bytes). */
#define VNET_VHDR_F_NEEDS_CSUM 1
#define VNET_VHDR_F_DATA_VALID 2
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_UDP 3
#define VNET_GSO_TCPV6 4
#define VNET_GSO_ECN 0x80

/* Offload state of a frame, host byte order: what the sender left undone. */
struct vnet_offload {
	uint8_t flags;		/* VNET_VHDR_F_* */
	uint8_t gso_type;	/* VNET_GSO_* (ECN bit kept) */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Parse a virtio-net header (10 or 12 bytes, little endian) into `o`; check
 * that the values make sense for a frame of `frame_len` bytes. 0, or
 * -EINVAL (a bad header: the frame is dropped and counted). */
int vnet_vhdr_parse(const uint8_t *h, struct vnet_offload *o, size_t frame_len);
/* Write `o` as a 12-byte header (num_buffers = nbuf). */
void vnet_vhdr_build(uint8_t *h, const struct vnet_offload *o, uint16_t nbuf);

struct vnet_vxlan {
	uint32_t vni;
	bool gears_seq;		/* GEARS extension present (negotiated links only) */
	uint32_t seq;
};

/* The GEARS extension: reserved byte 1 of the header carries this tag and
 * bytes 2..3 a 16-bit sequence number; only sent on links that negotiated it
 * (Linux ignores reserved fields on receipt, RFC 7348 §5). */
#define VNET_VXLAN_GEARS_TAG 0x47

/* Parse the VXLAN header at p[0..len). Returns the header length (8), or
 * -EINVAL when the I flag is missing or the datagram is too short to hold a
 * header and an inner Ethernet header. */
int vnet_vxlan_parse(const uint8_t *p, size_t len, struct vnet_vxlan *out);
void vnet_vxlan_build(uint8_t *p, uint32_t vni);

static inline bool vnet_mac_multicast(const uint8_t *mac)
{
	return mac[0] & 1;
}

/* Ones' complement sum helpers (RFC 1071). */
uint32_t vnet_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t vnet_csum_fold(uint32_t sum);

/* Complete a checksum the sender left partial (NEEDS_CSUM): sum the frame
 * from csum_start to its end and store it at csum_start + csum_offset.
 * 0, or -EINVAL if the offsets do not fit the frame. */
int vnet_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset);

/*
 * Cut a TCP GSO frame (TCPv4 or TCPv6, optionally behind one 802.1Q tag)
 * into segments whose Ethernet frames are at most `max_frame` bytes, each
 * with complete IP and TCP checksums, as the guest's NIC would have. For
 * every segment, emit(ctx, seg, seg_len) is called with a buffer that is
 * valid only during the call; a negative return stops and is passed on.
 * Returns the number of segments, or -EINVAL for a frame whose headers do
 * not parse or do not match its offload state.
 */
typedef int (*vnet_emit_fn)(void *ctx, const uint8_t *seg, size_t len);
int vnet_gso_segment(const uint8_t *frame, size_t len, const struct vnet_offload *o, size_t max_frame,
		     vnet_emit_fn emit, void *ctx);

/*
 * Receive coalescing (GRO) of TCP/IPv4 segments that arrive one datagram
 * each on a link: consecutive segments of one flow become one GSO frame (as
 * the sender's TSO frame was), so a guest that takes GSO frames gets 64 KiB
 * instead of 44 frames. Only segments whose IP and TCP checksums verify are
 * merged (the merged frame carries a partial checksum the receiver trusts);
 * anything unusual (options that differ, flags other than ACK/PSH, IP
 * options or fragments, a gap in the sequence) ends the merge.
 *
 * The caller owns the buffer: `buf` holds up to VNET_FRAME_MAX bytes.
 */
struct vnet_gro {
	uint8_t *buf;
	size_t len;		/* bytes in buf; 0: nothing held */
	size_t hdrs;		/* Ethernet + IPv4 + TCP header bytes */
	uint32_t next_seq;
	uint16_t mss;		/* payload of the first segment */
	unsigned segs;
	bool closed;		/* the last segment was short or had PSH: flush */
};

/* Offer a segment. 1: it was taken (held in g; flush when closed or at the
 * end of the batch); 0: it cannot join what g holds (flush g, then offer it
 * again) or is not a mergeable segment at all (flush g, deliver it as is:
 * vnet_gro_eligible tells which). */
int vnet_gro_add(struct vnet_gro *g, const uint8_t *seg, size_t len);
bool vnet_gro_eligible(const uint8_t *seg, size_t len);
/* Finish what g holds: the frame is buf[0..*len) with offload state *o
 * (GSO TCPv4 with a partial checksum when several segments were merged,
 * none for one). Empties g. Returns false when g held nothing. */
bool vnet_gro_finish(struct vnet_gro *g, size_t *len, struct vnet_offload *o);

/* Parse a MAC "aa:bb:cc:dd:ee:ff" (0 or -EINVAL); format into 18 bytes. */
int vnet_mac_parse(const char *s, uint8_t *mac);
void vnet_mac_format(const uint8_t *mac, char *out);

#endif
