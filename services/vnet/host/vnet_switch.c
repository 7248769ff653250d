// SPDX-License-Identifier: MIT
/*
 * The VNET switching core (see vnet_switch.h): where a frame goes, and the
 * queues it waits in until its destination's attachment takes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "vnet_switch.h"

const char *const vnet_drop_names[VNET_DROP_NR] = {
	[VNET_DROP_NO_ROUTE] = "no_route",	   [VNET_DROP_BAD_HEADER] = "bad_header",
	[VNET_DROP_UNKNOWN_VNI] = "unknown_vni",   [VNET_DROP_UNKNOWN_PEER] = "unknown_peer",
	[VNET_DROP_QUEUE_FULL] = "queue_full",	   [VNET_DROP_OVERSIZE] = "oversize",
	[VNET_DROP_BAD_DESC] = "bad_descriptor",   [VNET_DROP_PORT_DOWN] = "port_down",
	[VNET_DROP_NO_MEMORY] = "no_memory",
};

const char *const vnet_port_kind_names[VNET_PORT_KIND_NR] = {
	[VNET_PORT_VHOST] = "vhost-user",
	[VNET_PORT_LINK] = "link",
};

static const uint8_t zero_mac[VNET_ETH_ALEN];

struct vnet_frame *vnet_frame_new(size_t len)
{
	struct vnet_frame *f;

	if (len > VNET_FRAME_MAX)
		return NULL;
	f = malloc(sizeof(*f) + len);
	if (!f)
		return NULL;
	f->refs = 1;
	f->len = (uint32_t)len;
	memset(&f->off, 0, sizeof(f->off));
	return f;
}

void vnet_frame_put(struct vnet_frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

struct vnet_sw *vnet_sw_new(void)
{
	struct vnet_sw *sw = calloc(1, sizeof(*sw));

	if (!sw)
		return NULL;
	sw->learning = true;
	sw->next_route_id = 1;
	sw->route_gen = 1;
	/* A random seed: hostile source MACs must not all land in one bucket. */
	if (getrandom(&sw->mac_seed, sizeof(sw->mac_seed), GRND_NONBLOCK) != sizeof(sw->mac_seed))
		sw->mac_seed = (uint64_t)(uintptr_t)sw ^ 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < VNET_MAC_BUCKETS; i++)
		sw->buckets[i] = -1;
	for (int i = 0; i < VNET_MAC_MAX; i++)
		sw->macs[i].next = i + 1 < VNET_MAC_MAX ? i + 1 : -1;
	sw->mac_free = 0;
	return sw;
}

void vnet_sw_free(struct vnet_sw *sw)
{
	if (!sw)
		return;
	for (int i = 0; i < VNET_MAX_PORTS; i++)
		if (sw->ports[i])
			vnet_sw_port_del(sw, sw->ports[i]);
	free(sw);
}

/* ---- MAC table ---- */

static unsigned mac_hash(const struct vnet_sw *sw, const uint8_t *mac, uint32_t vni)
{
	uint64_t h = sw->mac_seed ^ vni;

	for (int i = 0; i < VNET_ETH_ALEN; i++)
		h = (h ^ mac[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	return (unsigned)(h % VNET_MAC_BUCKETS);
}

static struct vnet_mac_entry *mac_find(struct vnet_sw *sw, const uint8_t *mac, uint32_t vni)
{
	for (int32_t i = sw->buckets[mac_hash(sw, mac, vni)], hops = 0; i >= 0 && hops < VNET_MAC_MAX;
	     i = sw->macs[i].next, hops++)
		if (sw->macs[i].vni == vni && !memcmp(sw->macs[i].mac, mac, VNET_ETH_ALEN))
			return &sw->macs[i];
	return NULL;
}

static void mac_learn(struct vnet_sw *sw, const uint8_t *mac, uint32_t vni, int port)
{
	struct vnet_mac_entry *e;
	unsigned b;

	if (vnet_mac_multicast(mac) || !memcmp(mac, zero_mac, VNET_ETH_ALEN))
		return;
	e = mac_find(sw, mac, vni);
	if (e) {
		e->port = port;		/* a MAC that moved follows its host */
		e->seen_ns = sw->now_ns;
		return;
	}
	if (sw->mac_free < 0) {
		sw->mac_table_full++;	/* unlearned MACs are flooded, not lost */
		return;
	}
	int32_t i = sw->mac_free;

	e = &sw->macs[i];
	sw->mac_free = e->next;
	memcpy(e->mac, mac, VNET_ETH_ALEN);
	e->vni = vni;
	e->port = port;
	e->seen_ns = sw->now_ns;
	b = mac_hash(sw, mac, vni);
	e->next = sw->buckets[b];
	sw->buckets[b] = i;
	sw->nmacs++;
}

/* Remove the entries `drop` selects. */
static void mac_sweep(struct vnet_sw *sw, int port, uint64_t older_than)
{
	for (unsigned b = 0; b < VNET_MAC_BUCKETS; b++) {
		int32_t *link = &sw->buckets[b];

		while (*link >= 0) {
			struct vnet_mac_entry *e = &sw->macs[*link];
			int32_t i = *link;

			if ((port >= 0 && e->port == port) || (older_than && e->seen_ns < older_than)) {
				*link = e->next;
				e->next = sw->mac_free;
				sw->mac_free = i;
				sw->nmacs--;
			} else {
				link = &e->next;
			}
		}
	}
}

void vnet_sw_for_each_mac(struct vnet_sw *sw, void (*cb)(void *ctx, const struct vnet_mac_entry *e), void *ctx)
{
	for (unsigned b = 0; b < VNET_MAC_BUCKETS; b++)
		for (int32_t i = sw->buckets[b]; i >= 0; i = sw->macs[i].next)
			cb(ctx, &sw->macs[i]);
}

/* ---- ports ---- */

struct vnet_port *vnet_sw_port_add(struct vnet_sw *sw, const char *name, enum vnet_port_kind kind,
				   uint32_t vni, const struct vnet_port_ops *ops, void *priv)
{
	struct vnet_port *p;
	int slot = -1;

	if (!*name || strlen(name) >= VNET_NAME_MAX || vni > VNET_VNI_MAX || kind >= VNET_PORT_KIND_NR)
		return errno = EINVAL, NULL;
	if (vnet_sw_port_find(sw, name))
		return errno = EEXIST, NULL;
	for (int i = 0; i < VNET_MAX_PORTS && slot < 0; i++)
		if (!sw->ports[i])
			slot = i;
	if (slot < 0)
		return errno = ENOSPC, NULL;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->q = calloc(VNET_Q_FRAMES, sizeof(*p->q)))) {
		free(p);
		return errno = ENOMEM, NULL;
	}
	p->id = slot;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kind = kind;
	p->vni = vni;
	p->max_frame = VNET_ETH_HLEN + 1500;
	p->ops = ops;
	p->priv = priv;
	p->blocked_on = -1;
	sw->ports[slot] = p;
	sw->route_gen++;	/* routes naming this port now resolve */
	return p;
}

struct vnet_port *vnet_sw_port_find(struct vnet_sw *sw, const char *name)
{
	for (int i = 0; i < VNET_MAX_PORTS; i++)
		if (sw->ports[i] && !strcmp(sw->ports[i]->name, name))
			return sw->ports[i];
	return NULL;
}

static void wake_waiters(struct vnet_sw *sw, struct vnet_port *dst)
{
	if (!dst->nwaiters)
		return;
	for (int i = 0; i < VNET_MAX_PORTS; i++) {
		struct vnet_port *w = sw->ports[i];

		if (!w || w->blocked_on != dst->id)
			continue;
		w->blocked_on = -1;
		if (w->ops && w->ops->resume)
			w->ops->resume(w);
	}
	dst->nwaiters = 0;
}

static void queue_drop_all(struct vnet_sw *sw, struct vnet_port *p, enum vnet_drop why)
{
	while (p->q_len)
		vnet_port_pop(sw, p, false, why);
}

void vnet_sw_port_set_up(struct vnet_sw *sw, struct vnet_port *p, bool up)
{
	p->up = up;
	if (up)
		return;
	queue_drop_all(sw, p, VNET_DROP_PORT_DOWN);
	mac_sweep(sw, p->id, 0);
	wake_waiters(sw, p);
	if (p->blocked_on >= 0 && sw->ports[p->blocked_on] && sw->ports[p->blocked_on]->nwaiters)
		sw->ports[p->blocked_on]->nwaiters--;
	p->blocked_on = -1;
}

void vnet_sw_port_del(struct vnet_sw *sw, struct vnet_port *p)
{
	vnet_sw_port_set_up(sw, p, false);
	sw->ports[p->id] = NULL;
	sw->route_gen++;
	free(p->q);
	free(p);
}

void vnet_sw_drop(struct vnet_sw *sw, struct vnet_port *p, enum vnet_drop why)
{
	(p ? &p->st : &sw->st)->drops[why]++;
}

void vnet_port_pop(struct vnet_sw *sw, struct vnet_port *p, bool sent, enum vnet_drop why)
{
	struct vnet_frame *f = vnet_port_peek(p);

	if (!f)
		return;
	p->q_head = (p->q_head + 1) % VNET_Q_FRAMES;
	p->q_len--;
	p->q_bytes -= f->len;
	if (sent) {
		p->st.out_frames++;
		p->st.out_bytes += f->len;
		p->q_progress_ns = sw->now_ns;
	} else {
		p->st.drops[why]++;
	}
	vnet_frame_put(f);
	if (p->nwaiters && p->q_bytes <= VNET_Q_LOW_BYTES)
		wake_waiters(sw, p);
}

/* ---- routes ---- */

static bool valid_qual(uint8_t q)
{
	return q == VNET_Q_ANY || q == VNET_Q_EXACT || q == VNET_Q_NOT;
}

int vnet_sw_route_add(struct vnet_sw *sw, const struct vnet_route *r, uint32_t *id)
{
	if (!valid_qual(r->src_q) || !valid_qual(r->dst_q) || !*r->to || strnlen(r->to, VNET_NAME_MAX) >= VNET_NAME_MAX)
		return -EINVAL;
	if (sw->nroutes >= VNET_ROUTES_MAX)
		return -ENOSPC;
	sw->routes[sw->nroutes] = *r;
	sw->routes[sw->nroutes].id = sw->next_route_id++;
	*id = sw->routes[sw->nroutes].id;
	sw->nroutes++;
	sw->route_gen++;	/* every cached lookup is stale now */
	return 0;
}

int vnet_sw_route_del(struct vnet_sw *sw, uint32_t id)
{
	for (unsigned i = 0; i < sw->nroutes; i++) {
		if (sw->routes[i].id != id)
			continue;
		memmove(&sw->routes[i], &sw->routes[i + 1], (sw->nroutes - i - 1) * sizeof(sw->routes[0]));
		sw->nroutes--;
		sw->route_gen++;
		return 0;
	}
	return -ENOENT;
}

static bool qual_match(uint8_t q, const uint8_t *want, const uint8_t *mac)
{
	switch (q) {
	case VNET_Q_EXACT: return !memcmp(want, mac, VNET_ETH_ALEN);
	case VNET_Q_NOT: return memcmp(want, mac, VNET_ETH_ALEN) != 0;
	default: return true;
	}
}

/* The route table's answer for (src, dst) arriving on `in`: n = -1 when no
 * route matched, else the destinations of the top-priority routes. */
static const struct vnet_rc_entry *route_lookup(struct vnet_sw *sw, const struct vnet_port *in, const uint8_t *dst,
					       const uint8_t *src)
{
	uint64_t h = (uint64_t)in->id * 0x9e3779b97f4a7c15ull;
	struct vnet_rc_entry *e;
	int best = 0;

	for (int i = 0; i < VNET_ETH_ALEN; i++)
		h = (h ^ src[i] ^ ((uint64_t)dst[i] << 8)) * 0x100000001b3ull;
	e = &sw->rc[(h >> 20) % VNET_RC_SLOTS];
	if (e->gen == sw->route_gen && e->in_port == in->id && !memcmp(e->src, src, VNET_ETH_ALEN) &&
	    !memcmp(e->dst, dst, VNET_ETH_ALEN)) {
		sw->rc_hits++;
		return e;
	}
	sw->rc_misses++;
	e->gen = sw->route_gen;
	e->in_port = in->id;
	memcpy(e->src, src, VNET_ETH_ALEN);
	memcpy(e->dst, dst, VNET_ETH_ALEN);
	e->n = -1;
	for (unsigned i = 0; i < sw->nroutes; i++) {
		const struct vnet_route *r = &sw->routes[i];
		struct vnet_port *to;

		if (!qual_match(r->src_q, r->src, src) || !qual_match(r->dst_q, r->dst, dst))
			continue;
		if (e->n >= 0 && r->prio < best)
			continue;
		if (e->n < 0 || r->prio > best) {
			e->n = 0;
			best = r->prio;
		}
		to = vnet_sw_port_find(sw, r->to);
		/* A route never leads out of the frame's overlay. */
		if (!to || to->vni != in->vni || to == in || e->n >= VNET_ROUTE_DESTS)
			continue;
		bool dup = false;

		for (int k = 0; k < e->n; k++)
			dup |= e->dest[k] == to->id;
		if (!dup)
			e->dest[e->n++] = (int16_t)to->id;
	}
	return e;
}

/* ---- forwarding ---- */

struct seg_ctx {
	struct vnet_sw *sw;
	struct vnet_port *dst;
	bool pausable;
	struct vnet_port *in;
};

static void enqueue(struct vnet_sw *sw, struct vnet_port *dst, struct vnet_frame *f, struct vnet_port *in,
		    bool pausable)
{
	if (!dst->up) {
		dst->st.drops[VNET_DROP_PORT_DOWN]++;
		vnet_frame_put(f);
		return;
	}
	if (dst->q_len >= VNET_Q_FRAMES || dst->q_bytes + f->len > VNET_Q_MAX_BYTES) {
		dst->st.drops[VNET_DROP_QUEUE_FULL]++;
		vnet_frame_put(f);
		return;
	}
	if (!dst->q_len)
		dst->q_progress_ns = sw->now_ns;	/* the stall clock starts now */
	dst->q[(dst->q_head + dst->q_len) % VNET_Q_FRAMES] = f;
	dst->q_len++;
	dst->q_bytes += f->len;
	if (dst->ops && dst->ops->queued)
		dst->ops->queued(dst);	/* attachments batch: they flush after this turn */
	/* Back-pressure: a unicast sender waits for a destination that is behind
	 * instead of losing frames. Only one wait at a time per sender. */
	if (pausable && in->can_pause && in->blocked_on < 0 &&
	    (dst->q_bytes > VNET_Q_HIGH_BYTES || dst->q_len > VNET_Q_FRAMES / 2)) {
		in->blocked_on = dst->id;
		in->st.paused++;
		dst->nwaiters++;
	}
}

static int seg_emit(void *ctx, const uint8_t *seg, size_t len)
{
	struct seg_ctx *c = ctx;
	struct vnet_frame *f = vnet_frame_new(len);

	if (!f) {
		c->dst->st.drops[VNET_DROP_NO_MEMORY]++;
		return 0;
	}
	memcpy(f->data, seg, len);
	enqueue(c->sw, c->dst, f, c->in, c->pausable);
	return 0;
}

/* Queue f for dst, converted to what dst can take: GSO frames segmented for
 * ports without GSO (or whose frames are smaller than the segments), partial
 * checksums completed for ports without checksum offload. */
static void deliver(struct vnet_sw *sw, struct vnet_port *in, struct vnet_port *dst, struct vnet_frame *f,
		    bool pausable)
{
	const struct vnet_offload *o = &f->off;

	if (o->gso_type != VNET_GSO_NONE) {
		bool whole = (dst->caps & VNET_CAP_GSO_TCP) && (dst->caps & VNET_CAP_CSUM);

		if (!whole) {
			struct seg_ctx c = { sw, dst, pausable, in };

			if (vnet_gso_segment(f->data, f->len, o, dst->max_frame, seg_emit, &c) < 0)
				in->st.drops[VNET_DROP_BAD_HEADER]++;
			return;
		}
	} else if (f->len > dst->max_frame) {
		dst->st.drops[VNET_DROP_OVERSIZE]++;
		return;
	} else if ((o->flags & VNET_VHDR_F_NEEDS_CSUM) && !(dst->caps & VNET_CAP_CSUM)) {
		struct vnet_frame *c = vnet_frame_new(f->len);

		if (!c) {
			dst->st.drops[VNET_DROP_NO_MEMORY]++;
			return;
		}
		memcpy(c->data, f->data, f->len);
		if (vnet_csum_complete(c->data, c->len, o->csum_start, o->csum_offset)) {
			in->st.drops[VNET_DROP_BAD_HEADER]++;
			vnet_frame_put(c);
			return;
		}
		enqueue(sw, dst, c, in, pausable);
		return;
	}
	enqueue(sw, dst, vnet_frame_get(f), in, pausable);
}

static void flood(struct vnet_sw *sw, struct vnet_port *in, struct vnet_frame *f)
{
	bool any = false;

	for (int i = 0; i < VNET_MAX_PORTS; i++) {
		struct vnet_port *p = sw->ports[i];

		/* Exactly the ports of the frame's overlay, never back, and never
		 * from one link to another (split horizon: links form a full mesh
		 * between bridges, as VXLAN tunnels do, so relaying would loop). */
		if (!p || p == in || p->vni != in->vni || !p->up ||
		    (in->kind == VNET_PORT_LINK && p->kind == VNET_PORT_LINK))
			continue;
		deliver(sw, in, p, f, false);
		any = true;
	}
	(void)any;	/* nobody else on the overlay: nothing to count */
}

void vnet_sw_input(struct vnet_sw *sw, struct vnet_port *in, struct vnet_frame *f)
{
	const uint8_t *dst = f->data, *src = f->data + VNET_ETH_ALEN;
	const struct vnet_rc_entry *r;

	in->st.in_frames++;
	in->st.in_bytes += f->len;
	if (f->len < VNET_ETH_HLEN || vnet_mac_multicast(src)) {
		in->st.drops[VNET_DROP_BAD_HEADER]++;
		vnet_frame_put(f);
		return;
	}
	if (sw->learning)
		mac_learn(sw, src, in->vni, in->id);
	r = sw->nroutes ? route_lookup(sw, in, dst, src) : NULL;
	if (r && r->n >= 0) {
		if (r->n == 0)
			in->st.drops[VNET_DROP_NO_ROUTE]++;
		for (int k = 0; k < r->n; k++)
			deliver(sw, in, sw->ports[r->dest[k]], f, r->n == 1);
	} else if (vnet_mac_multicast(dst)) {
		flood(sw, in, f);
	} else {
		struct vnet_mac_entry *e = mac_find(sw, dst, in->vni);

		if (e && sw->ports[e->port] && e->port != in->id)
			deliver(sw, in, sw->ports[e->port], f, true);
		else if (e)
			in->st.drops[VNET_DROP_NO_ROUTE]++;	/* it lives behind the port it came from */
		else if (sw->learning)
			flood(sw, in, f);
		else
			in->st.drops[VNET_DROP_NO_ROUTE]++;
	}
	vnet_frame_put(f);
}

void vnet_sw_tick(struct vnet_sw *sw)
{
	if (sw->now_ns > VNET_MAC_AGE_NS)
		mac_sweep(sw, -1, sw->now_ns - VNET_MAC_AGE_NS);
	/* A destination that took nothing for a long time while others wait for
	 * it loses its queue: a stuck guest must not hold its senders forever. */
	for (int i = 0; i < VNET_MAX_PORTS; i++) {
		struct vnet_port *p = sw->ports[i];

		if (p && p->nwaiters && p->q_len && sw->now_ns - p->q_progress_ns > VNET_Q_STALL_NS) {
			queue_drop_all(sw, p, VNET_DROP_QUEUE_FULL);
			wake_waiters(sw, p);
		}
	}
}
