/* SPDX-License-Identifier: MIT */
/*
 * The VNET switching core: ports, forwarding (MAC learning with flooding, an
 * explicit route table with a lookup cache), overlay (VNI) isolation,
 * per-destination queues with back-pressure, and statistics.
 *
 * It knows nothing about how a port is attached. An attachment (the
 * vhost-user backend for VM NICs, the UDP/VXLAN link, later the guest-kernel
 * fast path of the overlay accelerator) creates a port with its capabilities
 * and two callbacks, hands frames it received to vnet_sw_input(), and takes
 * frames queued for it with vnet_port_peek()/vnet_port_pop() when it can send.
 *
 * Single-threaded: the bridge's event loop owns the switch.
 */
#ifndef GEARS_VNET_SWITCH_H
#define GEARS_VNET_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnet_wire.h"

#define VNET_MAX_PORTS 256
#define VNET_NAME_MAX 32
#define VNET_MAC_MAX 4096		/* learned MACs, all overlays together */
#define VNET_MAC_AGE_NS (300ull * 1000000000ull)
#define VNET_ROUTES_MAX 1024
#define VNET_ROUTE_DESTS 8		/* destinations of one lookup */
/* Queue towards a port: above HIGH bytes its unicast senders pause; frames
 * beyond the hard limits are dropped and counted (flooded frames, or a
 * sender that cannot pause). A destination that takes nothing for STALL_NS
 * while senders wait for it has its queue dropped, so no port waits forever. */
#define VNET_Q_FRAMES 1024
#define VNET_Q_HIGH_BYTES (1u << 20)
#define VNET_Q_LOW_BYTES (256u << 10)
#define VNET_Q_MAX_BYTES (8u << 20)
#define VNET_Q_STALL_NS (1000ull * 1000000ull)

enum vnet_drop {
	VNET_DROP_NO_ROUTE,	/* nowhere to go (a route to a missing port, or only back) */
	VNET_DROP_BAD_HEADER,	/* unparsable frame, VXLAN header or offload state */
	VNET_DROP_UNKNOWN_VNI,	/* a datagram for an overlay no link of its sender carries */
	VNET_DROP_UNKNOWN_PEER,	/* a datagram from an address that is no link (spoofed) */
	VNET_DROP_QUEUE_FULL,	/* the destination's queue was full (or stalled) */
	VNET_DROP_OVERSIZE,	/* larger than the destination can carry */
	VNET_DROP_BAD_DESC,	/* a guest's ring or descriptor was invalid */
	VNET_DROP_PORT_DOWN,	/* the destination VM's NIC is not running */
	VNET_DROP_NO_MEMORY,
	VNET_DROP_NR
};
extern const char *const vnet_drop_names[VNET_DROP_NR];

struct vnet_frame {
	uint32_t refs;
	uint32_t len;
	struct vnet_offload off;
	uint8_t data[];
};

/* A frame of `len` bytes (contents undefined, no offloads), one reference. */
struct vnet_frame *vnet_frame_new(size_t len);
static inline struct vnet_frame *vnet_frame_get(struct vnet_frame *f)
{
	f->refs++;
	return f;
}
void vnet_frame_put(struct vnet_frame *f);

struct vnet_stats {
	uint64_t in_frames, in_bytes;	/* into the bridge from this port */
	uint64_t out_frames, out_bytes;	/* out of the bridge to this port */
	uint64_t drops[VNET_DROP_NR];
	uint64_t paused;		/* times this port was paused by back-pressure */
};

enum vnet_port_kind { VNET_PORT_VHOST, VNET_PORT_LINK, VNET_PORT_KIND_NR };
extern const char *const vnet_port_kind_names[VNET_PORT_KIND_NR];

#define VNET_CAP_GSO_TCP 0x1u	/* takes TCPv4/v6 GSO frames whole */
#define VNET_CAP_CSUM 0x2u	/* takes frames with a partial checksum */

struct vnet_port;
struct vnet_port_ops {
	/* Frames were queued for the port: send when it can. */
	void (*queued)(struct vnet_port *p);
	/* The port was paused (back-pressure) and may take frames in again. */
	void (*resume)(struct vnet_port *p);
};

struct vnet_port {
	int id;
	char name[VNET_NAME_MAX];
	enum vnet_port_kind kind;
	uint32_t vni;
	unsigned caps;		/* VNET_CAP_*, what the attachment negotiated */
	size_t max_frame;	/* largest Ethernet frame, without offloads */
	bool up;		/* can take frames now */
	bool can_pause;		/* back-pressure may pause it (a VM NIC; not a link) */
	const struct vnet_port_ops *ops;
	void *priv;
	struct vnet_stats st;
	/* queue towards the port */
	struct vnet_frame **q;
	unsigned q_head, q_len;
	size_t q_bytes;
	uint64_t q_progress_ns;	/* last time the port took a frame */
	/* back-pressure */
	int blocked_on;		/* id of the port we wait for, or -1 */
	unsigned nwaiters;	/* ports blocked on this one */
};

enum vnet_qual { VNET_Q_ANY, VNET_Q_EXACT, VNET_Q_NOT };

struct vnet_route {
	uint32_t id;
	uint8_t src[VNET_ETH_ALEN], dst[VNET_ETH_ALEN];
	uint8_t src_q, dst_q;	/* enum vnet_qual */
	int prio;		/* higher wins; all routes of the top priority are used */
	char to[VNET_NAME_MAX];	/* destination port or link name */
};

struct vnet_mac_entry {
	uint8_t mac[VNET_ETH_ALEN];
	uint32_t vni;
	int port;
	uint64_t seen_ns;
	int32_t next;		/* chain in the bucket, or free list */
};

#define VNET_MAC_BUCKETS 8192
#define VNET_RC_SLOTS 1024

struct vnet_rc_entry {		/* route lookup cache */
	uint64_t gen;
	uint8_t src[VNET_ETH_ALEN], dst[VNET_ETH_ALEN];
	int in_port;
	int8_t n;		/* -1: no route matched (learn/flood) */
	int16_t dest[VNET_ROUTE_DESTS];
};

struct vnet_sw {
	struct vnet_port *ports[VNET_MAX_PORTS];
	uint64_t now_ns;
	/* MAC learning */
	bool learning;		/* default on; off: unknown unicast is dropped (no_route) */
	struct vnet_mac_entry macs[VNET_MAC_MAX];
	int32_t buckets[VNET_MAC_BUCKETS];
	int32_t mac_free;
	unsigned nmacs;
	uint64_t mac_seed;
	uint64_t mac_table_full;
	/* routes */
	struct vnet_route routes[VNET_ROUTES_MAX];
	unsigned nroutes;
	uint32_t next_route_id;
	uint64_t route_gen;
	struct vnet_rc_entry rc[VNET_RC_SLOTS];
	uint64_t rc_hits, rc_misses;
	/* drops not attributable to a port (the UDP socket's garbage) */
	struct vnet_stats st;
};

struct vnet_sw *vnet_sw_new(void);
void vnet_sw_free(struct vnet_sw *sw);

/* Add a port (name unique; vni <= VNET_VNI_MAX). Returns it with up=false,
 * or NULL + errno (EEXIST, ENOSPC, EINVAL, ENOMEM). */
struct vnet_port *vnet_sw_port_add(struct vnet_sw *sw, const char *name, enum vnet_port_kind kind,
				   uint32_t vni, const struct vnet_port_ops *ops, void *priv);
/* Remove a port: its queue is dropped, its learned MACs forgotten, routes to
 * it stay (they drop as no_route until a port of that name returns). */
void vnet_sw_port_del(struct vnet_sw *sw, struct vnet_port *p);
struct vnet_port *vnet_sw_port_find(struct vnet_sw *sw, const char *name);
/* The port went down (VM gone) or came up: going down drops its queue,
 * forgets its MACs and wakes whoever waited for it. */
void vnet_sw_port_set_up(struct vnet_sw *sw, struct vnet_port *p, bool up);

/* A frame arrived on port `in`: forward it (consumes the caller's reference).
 * Afterwards `in->blocked_on >= 0` says the port should stop taking frames in
 * until its resume callback runs. */
void vnet_sw_input(struct vnet_sw *sw, struct vnet_port *in, struct vnet_frame *f);
/* Count a frame dropped at port p (NULL: at the bridge) for `why`. */
void vnet_sw_drop(struct vnet_sw *sw, struct vnet_port *p, enum vnet_drop why);

/* The frame at the head of p's queue, or NULL. */
static inline struct vnet_frame *vnet_port_peek(struct vnet_port *p)
{
	return p->q_len ? p->q[p->q_head] : NULL;
}
/* Remove the head of p's queue: sent (counted out) or dropped for `why`. */
void vnet_port_pop(struct vnet_sw *sw, struct vnet_port *p, bool sent, enum vnet_drop why);

/* Routes. add: 0 and *id, or -errno (EINVAL, ENOSPC). del: 0 or -ENOENT. */
int vnet_sw_route_add(struct vnet_sw *sw, const struct vnet_route *r, uint32_t *id);
int vnet_sw_route_del(struct vnet_sw *sw, uint32_t id);

/* Periodic work (about once a second): age MACs, unstick stalled queues. */
void vnet_sw_tick(struct vnet_sw *sw);

/* Learned MACs: calls cb for each. */
void vnet_sw_for_each_mac(struct vnet_sw *sw, void (*cb)(void *ctx, const struct vnet_mac_entry *e), void *ctx);

#endif
