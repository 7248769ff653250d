// SPDX-License-Identifier: MIT
/* The VNET switching core: learning, flooding, VNI isolation, split horizon,
 * routes (qualifiers, priorities, cache invalidation), offload conversion,
 * back-pressure. Frames are made here; ports are plain switch ports whose
 * queues the test reads. */
#include "testlib.h"

#include "../../host/vnet_switch.h"

static int resumed[VNET_MAX_PORTS];

static void on_queued(struct vnet_port *p) { (void)p; }
static void on_resume(struct vnet_port *p) { resumed[p->id]++; }
static const struct vnet_port_ops ops = { on_queued, on_resume };

static const uint8_t M1[6] = { 2, 0, 0, 0, 0, 1 }, M2[6] = { 2, 0, 0, 0, 0, 2 }, M3[6] = { 2, 0, 0, 0, 0, 3 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct vnet_port *port(struct vnet_sw *sw, const char *name, enum vnet_port_kind k, uint32_t vni)
{
	struct vnet_port *p = vnet_sw_port_add(sw, name, k, vni, &ops, NULL);

	if (p) {
		vnet_sw_port_set_up(sw, p, true);
		p->caps = VNET_CAP_GSO_TCP | VNET_CAP_CSUM;
		p->max_frame = VNET_FRAME_MAX;
		p->can_pause = k == VNET_PORT_VHOST;
	}
	return p;
}

static struct vnet_frame *frame(const uint8_t *dst, const uint8_t *src, size_t len)
{
	struct vnet_frame *f = vnet_frame_new(len);

	memset(f->data, 0x5a, len);
	memcpy(f->data, dst, 6);
	memcpy(f->data + 6, src, 6);
	f->data[12] = 0x08;
	f->data[13] = 0x00;
	return f;
}

static void drain(struct vnet_sw *sw, struct vnet_port *p)
{
	while (vnet_port_peek(p))
		vnet_port_pop(sw, p, true, 0);
}

TEST(learning_and_flooding)
{
	struct vnet_sw *sw = vnet_sw_new();
	struct vnet_port *a = port(sw, "a", VNET_PORT_VHOST, 1), *b = port(sw, "b", VNET_PORT_VHOST, 1),
			 *c = port(sw, "c", VNET_PORT_VHOST, 1);

	/* unknown destination: flooded to everyone else, never back */
	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK_EQ(a->q_len, 0);
	CHECK_EQ(b->q_len, 1);
	CHECK_EQ(c->q_len, 1);
	drain(sw, b);
	drain(sw, c);
	/* b answers: M1 was learned on a, so only a gets it */
	vnet_sw_input(sw, b, frame(M1, M2, 60));
	CHECK_EQ(a->q_len, 1);
	CHECK_EQ(c->q_len, 0);
	drain(sw, a);
	/* now M2 is known too */
	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK_EQ(b->q_len, 1);
	CHECK_EQ(c->q_len, 0);
	/* a port that goes down forgets its MACs: M2 is flooded again */
	vnet_sw_port_set_up(sw, b, false);
	CHECK_EQ(b->q_len, 0);
	CHECK_EQ(b->st.drops[VNET_DROP_PORT_DOWN], 1);
	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK_EQ(c->q_len, 1);
	/* multicast sources are refused */
	vnet_sw_input(sw, a, frame(M2, BCAST, 60));
	CHECK_EQ(a->st.drops[VNET_DROP_BAD_HEADER], 1);
	vnet_sw_free(sw);
}

TEST(vni_isolation_and_split_horizon)
{
	struct vnet_sw *sw = vnet_sw_new();
	struct vnet_port *a = port(sw, "a", VNET_PORT_VHOST, 1), *b = port(sw, "b", VNET_PORT_VHOST, 2),
			 *l1 = port(sw, "l1", VNET_PORT_LINK, 1), *l2 = port(sw, "l2", VNET_PORT_LINK, 1),
			 *c = port(sw, "c", VNET_PORT_VHOST, 1);

	vnet_sw_input(sw, a, frame(BCAST, M1, 60));
	CHECK_EQ(b->q_len, 0);	/* other overlay */
	CHECK_EQ(l1->q_len, 1);
	CHECK_EQ(l2->q_len, 1);
	CHECK_EQ(c->q_len, 1);
	drain(sw, l1);
	drain(sw, l2);
	drain(sw, c);
	/* from a link: local ports only, never another link */
	vnet_sw_input(sw, l1, frame(BCAST, M3, 60));
	CHECK_EQ(l2->q_len, 0);
	CHECK_EQ(a->q_len, 1);
	CHECK_EQ(c->q_len, 1);
	CHECK_EQ(b->q_len, 0);
	/* a MAC learned in overlay 1 is unknown in overlay 2 */
	vnet_sw_input(sw, b, frame(M1, M2, 60));
	CHECK_EQ(a->q_len, 1);
	vnet_sw_free(sw);
}

TEST(routes_priority_qualifiers_cache)
{
	struct vnet_sw *sw = vnet_sw_new();
	struct vnet_port *a = port(sw, "a", VNET_PORT_VHOST, 1), *b = port(sw, "b", VNET_PORT_VHOST, 1),
			 *c = port(sw, "c", VNET_PORT_VHOST, 1), *x = port(sw, "x", VNET_PORT_VHOST, 2);
	struct vnet_route r = { .dst_q = VNET_Q_EXACT, .prio = 1 };
	uint32_t id1, id2, id3;

	memcpy(r.dst, M2, 6);
	snprintf(r.to, sizeof(r.to), "b");
	CHECK_EQ(vnet_sw_route_add(sw, &r, &id1), 0);
	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK_EQ(b->q_len, 1);
	CHECK_EQ(c->q_len, 0);	/* a route, not a flood */
	drain(sw, b);
	/* a higher-priority route wins; the cached answer must not survive */
	r.prio = 5;
	snprintf(r.to, sizeof(r.to), "c");
	CHECK_EQ(vnet_sw_route_add(sw, &r, &id2), 0);
	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK_EQ(c->q_len, 1);
	CHECK_EQ(b->q_len, 0);
	drain(sw, c);
	CHECK_EQ(vnet_sw_route_del(sw, id2), 0);
	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK_EQ(b->q_len, 1);
	drain(sw, b);
	/* the cache answers repeated lookups */
	uint64_t hits = sw->rc_hits;

	vnet_sw_input(sw, a, frame(M2, M1, 60));
	CHECK(sw->rc_hits > hits);
	drain(sw, b);
	/* not: anything but M2 from a goes to c */
	struct vnet_route n = { .dst_q = VNET_Q_NOT, .prio = 1 };

	memcpy(n.dst, M2, 6);
	snprintf(n.to, sizeof(n.to), "c");
	CHECK_EQ(vnet_sw_route_add(sw, &n, &id3), 0);
	vnet_sw_input(sw, a, frame(M3, M1, 60));
	CHECK_EQ(c->q_len, 1);
	CHECK_EQ(b->q_len, 0);
	drain(sw, c);
	/* a route never leaves the overlay: to x (VNI 2) is no route */
	struct vnet_route o = { .src_q = VNET_Q_EXACT, .prio = 9 };

	memcpy(o.src, M1, 6);
	snprintf(o.to, sizeof(o.to), "x");
	CHECK_EQ(vnet_sw_route_add(sw, &o, &id3), 0);
	vnet_sw_input(sw, a, frame(M3, M1, 60));
	CHECK_EQ(x->q_len, 0);
	CHECK_EQ(a->st.drops[VNET_DROP_NO_ROUTE], 1);
	CHECK_EQ(vnet_sw_route_del(sw, 999), -ENOENT);
	struct vnet_route bad = { .src_q = 7 };

	snprintf(bad.to, sizeof(bad.to), "b");
	CHECK_EQ(vnet_sw_route_add(sw, &bad, &id3), -EINVAL);
	vnet_sw_free(sw);
}

TEST(back_pressure_pauses_and_resumes)
{
	struct vnet_sw *sw = vnet_sw_new();
	struct vnet_port *a = port(sw, "a", VNET_PORT_VHOST, 1), *b = port(sw, "b", VNET_PORT_VHOST, 1),
			 *c = port(sw, "c", VNET_PORT_VHOST, 1);
	int n = 0;

	vnet_sw_input(sw, b, frame(BCAST, M2, 60));	/* learn M2 on b */
	drain(sw, a);
	drain(sw, c);
	while (a->blocked_on < 0 && n < 1000) {
		vnet_sw_input(sw, a, frame(M2, M1, 9000));
		n++;
	}
	CHECK_EQ(a->blocked_on, b->id);
	CHECK(b->q_bytes > VNET_Q_HIGH_BYTES);
	CHECK_EQ(b->st.drops[VNET_DROP_QUEUE_FULL], 0);	/* paused, nothing lost */
	/* c is not held up by b */
	vnet_sw_input(sw, c, frame(M1, M3, 60));
	CHECK_EQ(a->q_len, 1);
	CHECK_EQ(c->blocked_on, -1);
	drain(sw, b);
	CHECK_EQ(resumed[a->id], 1);
	CHECK_EQ(a->blocked_on, -1);
	CHECK_EQ(b->st.out_frames, (uint64_t)n);
	/* a destination that takes nothing is dropped after the stall time */
	while (a->blocked_on < 0)
		vnet_sw_input(sw, a, frame(M2, M1, 9000));
	sw->now_ns += VNET_Q_STALL_NS + 1;
	vnet_sw_tick(sw);
	CHECK_EQ(b->q_len, 0);
	CHECK(b->st.drops[VNET_DROP_QUEUE_FULL] > 0);
	CHECK_EQ(a->blocked_on, -1);
	vnet_sw_free(sw);
}

TEST(offload_conversion)
{
	struct vnet_sw *sw = vnet_sw_new();
	struct vnet_port *a = port(sw, "a", VNET_PORT_VHOST, 1), *l = port(sw, "l", VNET_PORT_LINK, 1);
	struct vnet_frame *f = frame(BCAST, M1, 14 + 20 + 20 + 3000);
	uint8_t *ip = f->data + 14, *tcp = ip + 20;

	l->caps = 0;
	l->max_frame = 14 + 1450;
	/* IPv4/TCP, 3000 bytes payload, MSS 1400 */
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (3040 >> 8) & 0xff;
	ip[3] = 3040 & 0xff;
	ip[8] = 64;
	ip[9] = 6;
	tcp[12] = 5 << 4;
	f->off = (struct vnet_offload){ .flags = VNET_VHDR_F_NEEDS_CSUM, .gso_type = VNET_GSO_TCPV4, .gso_size = 1400,
					.csum_start = 34, .csum_offset = 16 };
	vnet_sw_input(sw, a, f);
	CHECK_EQ(l->q_len, 3);	/* 1400 + 1400 + 200 */
	for (struct vnet_frame *s; (s = vnet_port_peek(l));) {
		CHECK(s->len <= l->max_frame);
		CHECK_EQ(s->off.gso_type, VNET_GSO_NONE);
		vnet_port_pop(sw, l, true, 0);
	}
	/* a plain frame larger than the link carries: counted, not silent */
	vnet_sw_input(sw, a, frame(BCAST, M1, 2000));
	CHECK_EQ(l->st.drops[VNET_DROP_OVERSIZE], 1);
	vnet_sw_free(sw);
}

TEST(port_names_and_limits)
{
	struct vnet_sw *sw = vnet_sw_new();
	char name[40];
	int made = 0;

	CHECK(port(sw, "a", VNET_PORT_VHOST, 1));
	CHECK(!vnet_sw_port_add(sw, "a", VNET_PORT_VHOST, 1, &ops, NULL) && errno == EEXIST);
	CHECK(!vnet_sw_port_add(sw, "b", VNET_PORT_VHOST, VNET_VNI_MAX + 1, &ops, NULL) && errno == EINVAL);
	for (int i = 0; i < VNET_MAX_PORTS + 5; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		made += vnet_sw_port_add(sw, name, VNET_PORT_VHOST, 1, &ops, NULL) != NULL;
	}
	CHECK_EQ(made, VNET_MAX_PORTS - 1);
	vnet_sw_free(sw);
}

TEST(mac_table_bounded)
{
	struct vnet_sw *sw = vnet_sw_new();
	struct vnet_port *a = port(sw, "a", VNET_PORT_VHOST, 1), *b = port(sw, "b", VNET_PORT_VHOST, 1);
	uint8_t src[6] = { 2, 0, 0, 0, 0, 0 };

	/* a hostile guest spraying source MACs fills the table, no more */
	for (int i = 0; i < VNET_MAC_MAX + 100; i++) {
		src[3] = (uint8_t)(i >> 16);
		src[4] = (uint8_t)(i >> 8);
		src[5] = (uint8_t)i;
		vnet_sw_input(sw, a, frame(M2, src, 60));
		drain(sw, b);
	}
	CHECK_EQ(sw->nmacs, VNET_MAC_MAX);
	CHECK_EQ(sw->mac_table_full, 100);
	sw->now_ns += VNET_MAC_AGE_NS + 1;
	vnet_sw_tick(sw);
	CHECK_EQ(sw->nmacs, 0);
	vnet_sw_free(sw);
}


