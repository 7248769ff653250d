// SPDX-License-Identifier: MIT
/*
 * The VNET bridge process (see vnet_bridge.h): the switch, its vhost-user
 * ports, its VXLAN links over one UDP socket, the control socket and the
 * saved configuration that lets a restarted bridge take its VMs back.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <netinet/udp.h>
#include <time.h>
#include <unistd.h>

#include <gears/vm.h>

#include "vnet_bridge.h"
#include "vnet_loop.h"
#include "vnet_switch.h"
#include "vnet_accel.h"
#include "vnet_vhost.h"

#define MAX_CLIENTS 16
#define CTL_LINE_MAX (64u << 10)
#define UDP_BATCH 32
#define UDP_RX_BUDGET 8		/* batches per turn before others get theirs */
#define DEFAULT_VNI 1

struct ctl_client {
	int fd;
	struct vnet_ev ev;
	struct bridge *b;
	char *buf;
	size_t len;
};

struct port_info {		/* the bridge's view of a port, by switch port id */
	struct vnet_vhost *vh;	/* vhost-user ports */
	struct vnet_accel *acc;	/* their overlay accelerator, when asked for */
	int owner;		/* pid whose death removes the port (0: none) */
	struct sockaddr_in peer;	/* links */
	char peer_txt[64];
	uint8_t vxh[VNET_VXLAN_HLEN];
	struct vnet_gro gro;	/* links: TCP segments being merged */
};

struct bridge {
	char name[VNET_NAME_MAX];
	char dir[200];
	struct vnet_loop loop;
	struct vnet_sw *sw;
	unsigned mtu;
	char listen[64];
	struct sockaddr_in listen_sa;
	int udp_fd;
	struct vnet_ev udp_ev, udp_work;
	bool udp_out_armed;
	bool udp_gso;		/* UDP_SEGMENT sends (off after the kernel refuses one) */
	int ctl_fd, sig_fd, timer_fd;
	struct vnet_ev ctl_ev, sig_ev, timer_ev;
	struct ctl_client clients[MAX_CLIENTS];
	struct port_info info[VNET_MAX_PORTS];
	bool stop, erase;
	uint64_t udp_rx_batches, udp_tx_batches, udp_rx_dgrams, udp_tx_dgrams;
	uint8_t (*rxbuf)[65536];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vnet_name_ok(const char *n)
{
	size_t l = strlen(n);

	if (!l || l >= VNET_NAME_MAX || n[0] == '.')
		return 0;
	for (const char *p = n; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

const char *vnet_bridge_dir(const char *name, char *buf, size_t sz)
{
	const char *rt = gears_runtime_dir();

	if (!vnet_name_ok(name))
		return errno = EINVAL, NULL;
	if (!*rt)
		return errno = ENOENT, NULL;
	if ((size_t)snprintf(buf, sz, "%s/.vnet/%s", rt, name) >= sz)
		return errno = ENAMETOOLONG, NULL;
	return buf;
}

static int mkdirs(const char *path)
{
	char tmp[256];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(tmp, 0700) && errno != EEXIST ? -errno : 0;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static void port_path(struct bridge *b, const char *port, char *out, size_t sz)
{
	snprintf(out, sz, "%s/port-%s.sock", b->dir, port);
}

/* The accelerator's ivshmem server socket of a port. */
static void accel_path(struct bridge *b, const char *port, char *out, size_t sz)
{
	snprintf(out, sz, "%s/accel-%s.sock", b->dir, port);
}

/* ---- configuration file ---- */

static const char *qual_txt(uint8_t q, const uint8_t *mac, char *buf)
{
	char m[18];

	if (q == VNET_Q_ANY)
		return "any";
	vnet_mac_format(mac, m);
	snprintf(buf, 24, "%s%s", q == VNET_Q_NOT ? "not:" : "", m);
	return buf;
}

static json_t *route_json(const struct vnet_route *r)
{
	char a[24], c[24];

	return json_pack("{s:i, s:s, s:s, s:s, s:i}", "id", (int)r->id, "src", qual_txt(r->src_q, r->src, a),
			 "dst", qual_txt(r->dst_q, r->dst, c), "to", r->to, "prio", r->prio);
}

static void save_config(struct bridge *b)
{
	json_t *ports = json_array(), *links = json_array(), *routes = json_array();
	char tmp[256], fin[256];

	for (int i = 0; i < VNET_MAX_PORTS; i++) {
		struct vnet_port *p = b->sw->ports[i];

		if (!p)
			continue;
		if (p->kind == VNET_PORT_VHOST)
			json_array_append_new(ports, json_pack("{s:s, s:i, s:i}", "name", p->name, "vni", (int)p->vni,
							       "owner", b->info[i].owner));
		else
			json_array_append_new(links, json_pack("{s:s, s:s, s:i}", "name", p->name, "peer",
							       b->info[i].peer_txt, "vni", (int)p->vni));
	}
	for (unsigned i = 0; i < b->sw->nroutes; i++)
		json_array_append_new(routes, route_json(&b->sw->routes[i]));
	json_t *j = json_pack("{s:s, s:i, s:o, s:o, s:o}", "listen", b->listen, "mtu", (int)b->mtu, "ports", ports,
			      "links", links, "routes", routes);

	snprintf(tmp, sizeof(tmp), "%s/config.json.tmp", b->dir);
	snprintf(fin, sizeof(fin), "%s/config.json", b->dir);
	if (j && !json_dump_file(j, tmp, JSON_INDENT(2)))
		rename(tmp, fin);
	json_decref(j);
}

/* ---- ports and links ---- */

static int add_vhost_port(struct bridge *b, const char *name, uint32_t vni, int owner, char *err, size_t errsz)
{
	char path[256];
	struct vnet_port *p;

	if (!vnet_name_ok(name))
		return snprintf(err, errsz, "bad port name '%s'", name), -EINVAL;
	port_path(b, name, path, sizeof(path));
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return snprintf(err, errsz, "socket path %s too long", path), -ENAMETOOLONG;
	p = vnet_sw_port_add(b->sw, name, VNET_PORT_VHOST, vni, &vnet_vhost_port_ops, NULL);
	if (!p)
		return snprintf(err, errsz, "port %s: %s", name,
				errno == EEXIST ? "a port or link of that name exists" : strerror(errno)), -errno;
	p->can_pause = true;
	b->info[p->id] = (struct port_info){ .owner = owner };
	b->info[p->id].vh = vnet_vhost_new(&b->loop, b->sw, p, path, b->mtu);
	if (!b->info[p->id].vh) {
		int e = errno;

		snprintf(err, errsz, "port %s: %s", name, strerror(e));
		vnet_sw_port_del(b->sw, p);
		return -e;
	}
	return 0;
}

static void udp_kick(struct vnet_port *p);

static const struct vnet_port_ops link_ops = {
	.queued = udp_kick,
	.resume = NULL,		/* links never pause: a peer host cannot be told to wait */
};

static int add_link(struct bridge *b, const char *name, const char *peer, uint32_t vni, char *err, size_t errsz)
{
	struct sockaddr_in sa;
	struct vnet_port *p;

	if (!vnet_name_ok(name))
		return snprintf(err, errsz, "bad link name '%s'", name), -EINVAL;
	if (b->udp_fd < 0)
		return snprintf(err, errsz, "bridge %s has no UDP socket: start it with --listen ADDR:PORT", b->name),
		       -EINVAL;
	if (parse_addr(peer, &sa))
		return snprintf(err, errsz, "bad peer address '%s' (want A.B.C.D:PORT)", peer), -EINVAL;
	p = vnet_sw_port_add(b->sw, name, VNET_PORT_LINK, vni, &link_ops, b);
	if (!p)
		return snprintf(err, errsz, "link %s: %s", name,
				errno == EEXIST ? "a port or link of that name exists" : strerror(errno)), -errno;
	/* Inner frames must fit the underlay: the guests were told this MTU. */
	p->max_frame = VNET_ETH_HLEN + b->mtu;
	p->caps = 0;
	b->info[p->id] = (struct port_info){ .peer = sa };
	b->info[p->id].gro.buf = malloc(VNET_FRAME_MAX);
	if (!b->info[p->id].gro.buf) {
		vnet_sw_port_del(b->sw, p);
		return snprintf(err, errsz, "out of memory"), -ENOMEM;
	}
	snprintf(b->info[p->id].peer_txt, sizeof(b->info[p->id].peer_txt), "%s", peer);
	vnet_vxlan_build(b->info[p->id].vxh, vni);
	vnet_sw_port_set_up(b->sw, p, true);
	return 0;
}

/* The overlay accelerator of a vhost port, for the NIC with MAC `mac`. */
static int add_accel(struct bridge *b, struct vnet_port *p, const char *mac, char *err, size_t errsz)
{
	uint8_t m[6];
	char path[256];

	if (vnet_mac_parse(mac, m) || vnet_mac_multicast(m))
		return snprintf(err, errsz, "accel_mac: bad unicast MAC '%s'", mac), -EINVAL;
	accel_path(b, p->name, path, sizeof(path));
	b->info[p->id].acc = vnet_accel_new(&b->loop, b->sw, p, path, m, b->mtu);
	if (!b->info[p->id].acc)
		return snprintf(err, errsz, "port %s: accelerator: %s", p->name, strerror(errno)), -errno;
	vnet_vhost_set_accel(b->info[p->id].vh, b->info[p->id].acc);
	return 0;
}

static void del_port(struct bridge *b, struct vnet_port *p)
{
	if (p->kind == VNET_PORT_VHOST) {
		vnet_vhost_set_accel(b->info[p->id].vh, NULL);
		vnet_accel_free(b->info[p->id].acc);
		vnet_vhost_free(b->info[p->id].vh);
	}
	free(b->info[p->id].gro.buf);
	memset(&b->info[p->id], 0, sizeof(b->info[p->id]));
	vnet_sw_port_del(b->sw, p);
}

/* ---- the UDP socket: VXLAN in and out ---- */

static void udp_arm_out(struct bridge *b, bool on)
{
	if (b->udp_out_armed == on)
		return;
	b->udp_out_armed = on;
	vnet_loop_mod(&b->loop, b->udp_fd, EPOLLIN | (on ? EPOLLOUT : 0), &b->udp_ev);
}

#define GSO_SEGS 64		/* the kernel's limit of segments per UDP GSO send */
#define GSO_BYTES 65000		/* below UDP's 65507-byte payload limit */

/* Frames waiting on links, out through sendmmsg. With UDP GSO (the kernel
 * cuts one send into datagrams of one size, the last may be shorter) a run
 * of equal-sized frames — the segments of one guest TSO frame — is one
 * message; the datagrams on the wire are the same. */
static void udp_flush(struct bridge *b)
{
	static struct iovec iov[UDP_BATCH][2 * GSO_SEGS];
	struct mmsghdr msgs[UDP_BATCH];
	union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } ctl[UDP_BATCH];
	int owner[UDP_BATCH];
	unsigned count[UDP_BATCH];

	for (;;) {
		int n = 0;
		unsigned taken[VNET_MAX_PORTS] = { 0 };

		for (int i = 0; i < VNET_MAX_PORTS && n < UDP_BATCH; i++) {
			struct vnet_port *p = b->sw->ports[i];

			if (!p || p->kind != VNET_PORT_LINK)
				continue;
			while (n < UDP_BATCH && taken[i] < p->q_len) {
				unsigned c = 0;
				size_t seg = 0, bytes = 0;

				while (taken[i] + c < p->q_len && c < (b->udp_gso ? GSO_SEGS : 1)) {
					struct vnet_frame *f = p->q[(p->q_head + taken[i] + c) % VNET_Q_FRAMES];

					if (c && (f->len > seg || bytes + VNET_VXLAN_HLEN + f->len > GSO_BYTES))
						break;
					iov[n][2 * c] = (struct iovec){ b->info[i].vxh, VNET_VXLAN_HLEN };
					iov[n][2 * c + 1] = (struct iovec){ f->data, f->len };
					bytes += VNET_VXLAN_HLEN + f->len;
					c++;
					if (c == 1)
						seg = f->len;
					else if (f->len < seg)
						break;	/* a shorter one ends the run */
				}
				msgs[n].msg_hdr = (struct msghdr){ .msg_name = &b->info[i].peer,
								   .msg_namelen = sizeof(b->info[i].peer),
								   .msg_iov = iov[n], .msg_iovlen = 2 * c };
				if (c > 1) {
					struct cmsghdr *cm = (struct cmsghdr *)ctl[n].buf;
					uint16_t gso = (uint16_t)(VNET_VXLAN_HLEN + seg);

					msgs[n].msg_hdr.msg_control = ctl[n].buf;
					msgs[n].msg_hdr.msg_controllen = sizeof(ctl[n].buf);
					cm->cmsg_level = SOL_UDP;
					cm->cmsg_type = UDP_SEGMENT;
					cm->cmsg_len = CMSG_LEN(sizeof(gso));
					memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
				}
				owner[n] = i;
				count[n++] = c;
				taken[i] += c;
			}
		}
		if (!n) {
			udp_arm_out(b, false);
			return;
		}
		int k = sendmmsg(b->udp_fd, msgs, (unsigned)n, MSG_DONTWAIT);
		int e = errno;

		if (k > 0)
			b->udp_tx_batches++;
		for (int i = 0; i < (k > 0 ? k : 0); i++) {
			b->udp_tx_dgrams += count[i];
			for (unsigned c = 0; c < count[i]; c++)
				vnet_port_pop(b->sw, b->sw->ports[owner[i]], true, 0);
		}
		if (k == n)
			continue;
		if (k < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)) {
			udp_arm_out(b, true);	/* the socket buffer is full: wait, lose nothing */
			return;
		}
		if (k >= 0 && k < n)
			continue;	/* the next call reports the failing message */
		if (count[0] > 1) {
			/* The kernel refused GSO (too old, or the route's device): send
			 * datagram by datagram from now on. */
			fprintf(stderr, "vnet: UDP GSO refused (%s); sending datagrams one by one\n", strerror(e));
			b->udp_gso = false;
			continue;
		}
		/* This datagram cannot be sent (too big for the route, no route to
		 * the peer): drop it, counted, and go on with the rest. */
		vnet_port_pop(b->sw, b->sw->ports[owner[0]], false,
			      e == EMSGSIZE ? VNET_DROP_OVERSIZE : VNET_DROP_NO_ROUTE);
	}
}

static void udp_kick(struct vnet_port *p)
{
	struct bridge *b = p->priv;

	vnet_loop_defer(&b->loop, &b->udp_work);
}

static struct vnet_port *find_link(struct bridge *b, const struct sockaddr_in *from, uint32_t vni, bool *ip_known)
{
	*ip_known = false;
	for (int i = 0; i < VNET_MAX_PORTS; i++) {
		struct vnet_port *p = b->sw->ports[i];

		/* Match the peer's address, not its port: Linux's vxlan device
		 * sends from a port hashed from the inner flow. */
		if (!p || p->kind != VNET_PORT_LINK || b->info[i].peer.sin_addr.s_addr != from->sin_addr.s_addr)
			continue;
		*ip_known = true;
		if (p->vni == vni)
			return p;
	}
	return NULL;
}

static void deliver_link(struct bridge *b, struct vnet_port *p, const uint8_t *d, size_t len,
			 const struct vnet_offload *o)
{
	struct vnet_frame *f = vnet_frame_new(len);

	if (!f) {
		p->st.drops[VNET_DROP_NO_MEMORY]++;
		return;
	}
	memcpy(f->data, d, len);
	if (o)
		f->off = *o;
	vnet_sw_input(b->sw, p, f);
}

static void gro_flush(struct bridge *b, struct vnet_port *p)
{
	struct vnet_gro *g = &b->info[p->id].gro;
	struct vnet_offload o;
	size_t len;

	if (vnet_gro_finish(g, &len, &o))
		deliver_link(b, p, g->buf, len, &o);
}

/* An inner frame from link p: merged with the TCP segments before it when it
 * continues their stream, else delivered after them. */
static void link_frame(struct bridge *b, struct vnet_port *p, const uint8_t *d, size_t len)
{
	struct vnet_gro *g = &b->info[p->id].gro;

	if (!vnet_gro_add(g, d, len)) {
		gro_flush(b, p);
		if (!vnet_gro_add(g, d, len)) {
			deliver_link(b, p, d, len, NULL);
			return;
		}
	}
	if (g->closed)
		gro_flush(b, p);
}

/* One datagram from `from`: checked, then its inner frame to its link. */
static void one_datagram(struct bridge *b, const struct sockaddr_in *from, const uint8_t *d, size_t len)
{
	struct vnet_vxlan vx;
	struct vnet_port *p;
	bool ip_known;

	b->udp_rx_dgrams++;
	if (vnet_vxlan_parse(d, len, &vx) < 0) {
		vnet_sw_drop(b->sw, NULL, VNET_DROP_BAD_HEADER);
		return;
	}
	p = find_link(b, from, vx.vni, &ip_known);
	if (!p) {
		vnet_sw_drop(b->sw, NULL, ip_known ? VNET_DROP_UNKNOWN_VNI : VNET_DROP_UNKNOWN_PEER);
		return;
	}
	len -= VNET_VXLAN_HLEN;
	if (len > p->max_frame) {
		p->st.drops[VNET_DROP_OVERSIZE]++;
		return;
	}
	link_frame(b, p, d + VNET_VXLAN_HLEN, len);
}

static void udp_receive(struct bridge *b)
{
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_in from[UDP_BATCH];
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl[UDP_BATCH];

	for (int round = 0; round < UDP_RX_BUDGET; round++) {
		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i] = (struct iovec){ b->rxbuf[i], sizeof(b->rxbuf[i]) };
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							   .msg_iov = &iov[i], .msg_iovlen = 1,
							   .msg_control = ctl[i].buf, .msg_controllen = sizeof(ctl[i].buf) };
		}
		int n = recvmmsg(b->udp_fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0)
			return;
		b->udp_rx_batches++;
		b->sw->now_ns = now_ns();
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &msgs[i].msg_hdr;
			size_t len = msgs[i].msg_len, seg = len;

			if ((mh->msg_flags & MSG_TRUNC) || mh->msg_namelen != sizeof(from[i])) {
				b->udp_rx_dgrams++;
				vnet_sw_drop(b->sw, NULL, VNET_DROP_BAD_HEADER);
				continue;
			}
			/* UDP GRO: the kernel joined datagrams of one size (the last
			 * may be shorter) from one sender; cut them apart again. */
			for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
				int g;

				if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
					memcpy(&g, CMSG_DATA(c), sizeof(g));
					if (g > 0)
						seg = (size_t)g;
				}
			}
			for (size_t off = 0; off < len; off += seg)
				one_datagram(b, &from[i], b->rxbuf[i] + off, len - off < seg ? len - off : seg);
		}
		/* A merge never waits for the next batch: latency stays one batch. */
		for (int i = 0; i < VNET_MAX_PORTS; i++)
			if (b->sw->ports[i] && b->sw->ports[i]->kind == VNET_PORT_LINK && b->info[i].gro.len)
				gro_flush(b, b->sw->ports[i]);
		if (n < UDP_BATCH)
			return;
	}
	vnet_loop_defer(&b->loop, &b->udp_ev);	/* more may be waiting: after the others */
}

static void udp_event(struct vnet_ev *ev, uint32_t events)
{
	struct bridge *b = vnet_container_of(ev, struct bridge, udp_ev);

	if (!events || (events & EPOLLIN))
		udp_receive(b);
	if (events & EPOLLOUT)
		udp_flush(b);
}

static void udp_work(struct vnet_ev *ev, uint32_t events)
{
	(void)events;
	udp_flush(vnet_container_of(ev, struct bridge, udp_work));
}

/* ---- control requests ---- */

static int parse_qual(const char *s, uint8_t *q, uint8_t *mac)
{
	if (!s || !strcmp(s, "any")) {
		*q = VNET_Q_ANY;
		memset(mac, 0, VNET_ETH_ALEN);
		return 0;
	}
	*q = VNET_Q_EXACT;
	if (!strncmp(s, "not:", 4)) {
		*q = VNET_Q_NOT;
		s += 4;
	}
	return vnet_mac_parse(s, mac);
}

static json_t *drops_json(const struct vnet_stats *st)
{
	json_t *d = json_object();

	for (int r = 0; r < VNET_DROP_NR; r++)
		json_object_set_new(d, vnet_drop_names[r], json_integer((json_int_t)st->drops[r]));
	return d;
}

static json_t *port_json(struct bridge *b, struct vnet_port *p, bool stats)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:b}", "name", p->name, "kind", vnet_port_kind_names[p->kind], "vni",
			      (int)p->vni, "up", p->up);
	char path[256];

	if (p->kind == VNET_PORT_VHOST) {
		struct vnet_vhost_info vi;

		vnet_vhost_info(b->info[p->id].vh, &vi);
		port_path(b, p->name, path, sizeof(path));
		json_object_set_new(j, "socket", json_string(path));
		json_object_set_new(j, "owner", json_integer(b->info[p->id].owner));
		json_object_set_new(j, "connected", json_boolean(vi.connected));
		if (stats)
			json_object_set_new(j, "vhost", json_pack("{s:I, s:i, s:i, s:I, s:I, s:b}", "features",
								  (json_int_t)vi.features, "rx_ring", vi.rx_size,
								  "tx_ring", vi.tx_size, "connects",
								  (json_int_t)vi.connects, "bad_chains",
								  (json_int_t)vi.bad_chains, "broken", vi.broken));
		if (b->info[p->id].acc) {
			struct vnet_accel_info ai;

			vnet_accel_info(b->info[p->id].acc, &ai);
			json_object_set_new(j, "accel", json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "connected",
								  ai.connected, "state", ai.state, "tx_frames",
								  (json_int_t)ai.tx_frames, "rx_frames",
								  (json_int_t)ai.rx_frames, "kicks", (json_int_t)ai.kicks,
								  "irqs", (json_int_t)ai.irqs, "bad", (json_int_t)ai.bad,
								  "activations", (json_int_t)ai.activations));
		}
	} else {
		json_object_set_new(j, "peer", json_string(b->info[p->id].peer_txt));
	}
	json_object_set_new(j, "max_frame", json_integer((json_int_t)p->max_frame));
	if (stats) {
		json_object_set_new(j, "in_frames", json_integer((json_int_t)p->st.in_frames));
		json_object_set_new(j, "in_bytes", json_integer((json_int_t)p->st.in_bytes));
		json_object_set_new(j, "out_frames", json_integer((json_int_t)p->st.out_frames));
		json_object_set_new(j, "out_bytes", json_integer((json_int_t)p->st.out_bytes));
		json_object_set_new(j, "queued", json_integer(p->q_len));
		json_object_set_new(j, "paused", json_integer((json_int_t)p->st.paused));
		json_object_set_new(j, "drops", drops_json(&p->st));
	}
	return j;
}

struct mac_ctx {
	struct bridge *b;
	json_t *arr;
};

static void mac_cb(void *ctx, const struct vnet_mac_entry *e)
{
	struct mac_ctx *c = ctx;
	struct vnet_port *p = c->b->sw->ports[e->port];
	char m[18];

	vnet_mac_format(e->mac, m);
	json_array_append_new(c->arr, json_pack("{s:s, s:i, s:s, s:f}", "mac", m, "vni", (int)e->vni, "port",
						p ? p->name : "?", "age_s",
						(double)(c->b->sw->now_ns - e->seen_ns) / 1e9));
}

static json_t *ok(json_t *j)
{
	if (!j)
		j = json_object();
	json_object_set_new(j, "ok", json_true());
	return j;
}

static json_t *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static uint32_t get_vni(json_t *req, bool *bad)
{
	json_t *v = json_object_get(req, "vni");

	*bad = false;
	if (!v)
		return DEFAULT_VNI;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > VNET_VNI_MAX) {
		*bad = true;
		return 0;
	}
	return (uint32_t)json_integer_value(v);
}

static json_t *handle_req(struct bridge *b, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *name = json_string_value(json_object_get(req, "name"));
	char err[512];
	bool bad;

	if (!op)
		return fail("request without \"op\"");
	b->sw->now_ns = now_ns();
	if (!strcmp(op, "ping"))
		return ok(json_pack("{s:s, s:i, s:s, s:i}", "name", b->name, "pid", (int)getpid(), "listen", b->listen,
				    "mtu", (int)b->mtu));
	if (!strcmp(op, "stop")) {
		b->stop = true;
		b->erase = true;
		return ok(NULL);
	}
	if (!strcmp(op, "port_add")) {
		uint32_t vni = get_vni(req, &bad);
		json_t *o = json_object_get(req, "owner");
		char path[256];

		if (!name || bad || (o && !json_is_integer(o)))
			return fail("port_add wants name, vni (0..%u), owner (pid)", VNET_VNI_MAX);
		/* A VM started again under the same name before the tick noticed
		 * its old supervisor died takes the port over. */
		struct vnet_port *old = vnet_sw_port_find(b->sw, name);

		if (old && old->kind == VNET_PORT_VHOST && b->info[old->id].owner > 0 &&
		    kill(b->info[old->id].owner, 0) && errno == ESRCH)
			del_port(b, old);
		const char *amac = json_string_value(json_object_get(req, "accel_mac"));
		struct vnet_port *np;

		if (add_vhost_port(b, name, vni, (int)json_integer_value(o), err, sizeof(err)))
			return fail("%s", err);
		np = vnet_sw_port_find(b->sw, name);
		if (amac && add_accel(b, np, amac, err, sizeof(err))) {
			del_port(b, np);
			return fail("%s", err);
		}
		save_config(b);
		port_path(b, name, path, sizeof(path));
		json_t *ans = json_pack("{s:s, s:i, s:i}", "socket", path, "mtu", (int)b->mtu, "vni", (int)vni);

		if (amac) {
			accel_path(b, name, path, sizeof(path));
			json_object_set_new(ans, "accel_socket", json_string(path));
		}
		return ok(ans);
	}
	if (!strcmp(op, "accel_hostile")) {
		struct vnet_port *p = name ? vnet_sw_port_find(b->sw, name) : NULL;
		const char *what = json_string_value(json_object_get(req, "what"));
		int r;

		if (!p || p->kind != VNET_PORT_VHOST || !b->info[p->id].acc || !what)
			return fail("accel_hostile wants name (a port with an accelerator) and what");
		r = vnet_accel_hostile(b->info[p->id].acc, what);
		return r ? fail("accel_hostile: %s", strerror(-r)) : ok(NULL);
	}
	if (!strcmp(op, "link_add")) {
		uint32_t vni = get_vni(req, &bad);
		const char *peer = json_string_value(json_object_get(req, "peer"));

		if (!name || !peer || bad)
			return fail("link_add wants name, peer (A.B.C.D:PORT), vni (0..%u)", VNET_VNI_MAX);
		if (add_link(b, name, peer, vni, err, sizeof(err)))
			return fail("%s", err);
		save_config(b);
		return ok(NULL);
	}
	if (!strcmp(op, "port_del") || !strcmp(op, "link_del")) {
		enum vnet_port_kind k = !strcmp(op, "port_del") ? VNET_PORT_VHOST : VNET_PORT_LINK;
		struct vnet_port *p = name ? vnet_sw_port_find(b->sw, name) : NULL;

		if (!p || p->kind != k)
			return fail("no %s '%s' on bridge %s", k == VNET_PORT_VHOST ? "port" : "link", name ? name : "",
				    b->name);
		del_port(b, p);
		save_config(b);
		return ok(NULL);
	}
	if (!strcmp(op, "route_add")) {
		struct vnet_route r = { .prio = (int)json_integer_value(json_object_get(req, "prio")) };
		const char *to = json_string_value(json_object_get(req, "to"));
		uint32_t id;

		if (!to || !vnet_name_ok(to))
			return fail("route_add wants \"to\": a port or link name");
		if (parse_qual(json_string_value(json_object_get(req, "src")), &r.src_q, r.src) ||
		    parse_qual(json_string_value(json_object_get(req, "dst")), &r.dst_q, r.dst))
			return fail("a route's src/dst is MAC, not:MAC or any");
		snprintf(r.to, sizeof(r.to), "%s", to);
		int e = vnet_sw_route_add(b->sw, &r, &id);

		if (e)
			return fail("route_add: %s", strerror(-e));
		save_config(b);
		return ok(json_pack("{s:i}", "id", (int)id));
	}
	if (!strcmp(op, "route_del")) {
		json_t *id = json_object_get(req, "id");

		if (!json_is_integer(id) || vnet_sw_route_del(b->sw, (uint32_t)json_integer_value(id)))
			return fail("no route with that id");
		save_config(b);
		return ok(NULL);
	}
	if (!strcmp(op, "list") || !strcmp(op, "stats")) {
		bool stats = !strcmp(op, "stats");
		json_t *ports = json_array(), *links = json_array(), *routes = json_array();

		for (int i = 0; i < VNET_MAX_PORTS; i++) {
			struct vnet_port *p = b->sw->ports[i];

			if (p)
				json_array_append_new(p->kind == VNET_PORT_LINK ? links : ports, port_json(b, p, stats));
		}
		for (unsigned i = 0; i < b->sw->nroutes; i++)
			json_array_append_new(routes, route_json(&b->sw->routes[i]));
		json_t *j = json_pack("{s:s, s:i, s:s, s:i, s:o, s:o, s:o}", "name", b->name, "pid", (int)getpid(),
				      "listen", b->listen, "mtu", (int)b->mtu, "ports", ports, "links", links, "routes",
				      routes);

		if (stats) {
			struct rusage ru;
			struct mac_ctx c = { b, json_array() };

			vnet_sw_for_each_mac(b->sw, mac_cb, &c);
			getrusage(RUSAGE_SELF, &ru);
			json_object_set_new(j, "macs", c.arr);
			json_object_set_new(j, "bridge", json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}",
								   "drops", drops_json(&b->sw->st),
								   "mac_table_full", (json_int_t)b->sw->mac_table_full,
								   "udp_rx_datagrams", (json_int_t)b->udp_rx_dgrams,
								   "udp_rx_batches", (json_int_t)b->udp_rx_batches,
								   "udp_tx_datagrams", (json_int_t)b->udp_tx_dgrams,
								   "udp_tx_batches", (json_int_t)b->udp_tx_batches));
			json_object_set_new(j, "route_cache", json_pack("{s:I, s:I}", "hits", (json_int_t)b->sw->rc_hits,
									"misses", (json_int_t)b->sw->rc_misses));
			json_object_set_new(j, "cpu", json_pack("{s:f, s:f}", "user_s",
								(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
								"sys_s",
								(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
		}
		return ok(j);
	}
	return fail("unknown op '%s'", op);
}

static void client_close(struct bridge *b, struct ctl_client *c)
{
	vnet_loop_del(&b->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
}

static void client_event(struct vnet_ev *ev, uint32_t events)
{
	struct ctl_client *c = vnet_container_of(ev, struct ctl_client, ev);
	struct bridge *b = c->b;
	ssize_t n;

	(void)events;
	if (c->fd < 0)
		return;
	n = read(c->fd, c->buf + c->len, CTL_LINE_MAX - c->len);
	if (n <= 0) {
		client_close(b, c);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		json_error_t je;

		if (!nl) {
			if (c->len == CTL_LINE_MAX)
				client_close(b, c);	/* a line longer than any request */
			return;
		}
		*nl = 0;
		json_t *req = json_loads(c->buf, 0, &je);
		json_t *ans = req && json_is_object(req) ? handle_req(b, req) : fail("not a JSON object: %s", je.text);
		char *txt = json_dumps(ans, JSON_COMPACT);

		json_decref(req);
		json_decref(ans);
		if (txt) {
			size_t l = strlen(txt);

			txt[l] = '\n';	/* json_dumps' NUL becomes the line end */
			if (send(c->fd, txt, l + 1, MSG_NOSIGNAL) != (ssize_t)(l + 1)) {
				free(txt);
				client_close(b, c);
				return;
			}
			free(txt);
		}
		size_t used = (size_t)(nl - c->buf) + 1;

		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
}

static void ctl_event(struct vnet_ev *ev, uint32_t events)
{
	struct bridge *b = vnet_container_of(ev, struct bridge, ctl_ev);
	int fd = accept4(b->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	(void)events;
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct ctl_client *c = &b->clients[i];

		if (c->fd >= 0)
			continue;
		c->buf = malloc(CTL_LINE_MAX + 1);
		struct timeval tv = { .tv_sec = 2 };

		/* Answers are written whole; a client that stops reading is dropped. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (!c->buf || vnet_loop_add(&b->loop, fd, EPOLLIN, &c->ev)) {
			free(c->buf);
			c->buf = NULL;
			break;
		}
		c->fd = fd;
		c->len = 0;
		return;
	}
	close(fd);
}

static void sig_event(struct vnet_ev *ev, uint32_t events)
{
	struct bridge *b = vnet_container_of(ev, struct bridge, sig_ev);
	struct signalfd_siginfo si;

	(void)events;
	while (read(b->sig_fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGPIPE)
			b->stop = true;	/* keep config.json: a restart takes the VMs back */
}

static void timer_event(struct vnet_ev *ev, uint32_t events)
{
	struct bridge *b = vnet_container_of(ev, struct bridge, timer_ev);
	uint64_t n;
	bool changed = false;

	(void)events;
	if (read(b->timer_fd, &n, sizeof(n)) < 0) {
		/* spurious wake-up */
	}
	b->sw->now_ns = now_ns();
	vnet_sw_tick(b->sw);
	/* A port whose owner (the VM's supervisor) died goes with it. */
	for (int i = 0; i < VNET_MAX_PORTS; i++) {
		struct vnet_port *p = b->sw->ports[i];

		if (p && p->kind == VNET_PORT_VHOST && b->info[i].owner > 0 && kill(b->info[i].owner, 0) &&
		    errno == ESRCH) {
			fprintf(stderr, "vnet: port %s: owner %d is gone; removing the port\n", p->name, b->info[i].owner);
			del_port(b, p);
			changed = true;
		}
	}
	if (changed)
		save_config(b);
}

/* ---- start, reload, stop ---- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int open_udp(struct bridge *b, char *err, size_t errsz)
{
	int sz = 4 << 20;

	if (parse_addr(b->listen, &b->listen_sa))
		return snprintf(err, errsz, "bad --listen '%s' (want A.B.C.D:PORT)", b->listen), -EINVAL;
	b->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->udp_fd < 0)
		return snprintf(err, errsz, "socket: %s", strerror(errno)), -errno;
	/* Room for bursts of a guest's 64 KiB sends cut into 1.4 KB datagrams;
	 * the FORCE variants work as root, the plain ones are capped by sysctl. */
	if (setsockopt(b->udp_fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(b->udp_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(b->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(b->udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* Batching in the kernel: GSO sends of a TSO frame's segments, GRO
	 * receives of a sender's burst (both leave the datagrams on the wire
	 * exactly as plain sends would). */
	int one = 1;

	b->udp_gso = true;
	setsockopt(b->udp_fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	if (bind(b->udp_fd, (struct sockaddr *)&b->listen_sa, sizeof(b->listen_sa)))
		return snprintf(err, errsz, "bind %s: %s", b->listen, strerror(errno)), -errno;
	b->rxbuf = malloc(sizeof(*b->rxbuf) * UDP_BATCH);
	if (!b->rxbuf)
		return snprintf(err, errsz, "out of memory"), -ENOMEM;
	return vnet_loop_add(&b->loop, b->udp_fd, EPOLLIN, &b->udp_ev);
}

/* Ports, links and routes of a previous bridge of this name. */
static void reload(struct bridge *b, json_t *cfg)
{
	json_t *a, *e;
	size_t i;
	char err[512];

	a = json_object_get(cfg, "ports");
	json_array_foreach(a, i, e) {
		int owner = (int)json_integer_value(json_object_get(e, "owner"));
		const char *n = json_string_value(json_object_get(e, "name"));

		if (!n || (owner > 0 && kill(owner, 0) && errno == ESRCH))
			continue;
		if (add_vhost_port(b, n, (uint32_t)json_integer_value(json_object_get(e, "vni")), owner, err,
				   sizeof(err)))
			fprintf(stderr, "vnet: reload: %s\n", err);
	}
	a = json_object_get(cfg, "links");
	json_array_foreach(a, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *peer = json_string_value(json_object_get(e, "peer"));

		if (n && peer && add_link(b, n, peer, (uint32_t)json_integer_value(json_object_get(e, "vni")), err,
					  sizeof(err)))
			fprintf(stderr, "vnet: reload: %s\n", err);
	}
	a = json_object_get(cfg, "routes");
	json_array_foreach(a, i, e) {
		json_t *req = json_deep_copy(e);

		json_object_set_new(req, "op", json_string("route_add"));
		json_decref(handle_req(b, req));
		json_decref(req);
	}
}

static void ready(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg)) < 0) {
		/* the starter went away: nobody to tell */
	}
	close(fd);
}

int vnet_bridge_run(const struct vnet_bridge_opts *o)
{
	struct bridge *b = calloc(1, sizeof(*b));
	char path[256], err[512] = "";
	int lock_fd = -1, r = 0;
	bool locked = false;	/* only the lock's holder may remove files */
	json_t *cfg = NULL;
	sigset_t m;

	if (!b)
		return -ENOMEM;
	b->udp_fd = b->ctl_fd = b->sig_fd = b->timer_fd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		b->clients[i].fd = -1;
		b->clients[i].b = b;
		b->clients[i].ev.fn = client_event;
	}
	b->udp_ev.fn = udp_event;
	b->udp_work.fn = udp_work;
	b->ctl_ev.fn = ctl_event;
	b->sig_ev.fn = sig_event;
	b->timer_ev.fn = timer_event;
	snprintf(b->name, sizeof(b->name), "%s", o->name);
	if (!vnet_bridge_dir(o->name, b->dir, sizeof(b->dir))) {
		snprintf(err, sizeof(err), "bad bridge name '%s' (letters, digits, '-', '_', '.'; max 31)", o->name);
		r = -EINVAL;
		goto out;
	}
	if ((r = mkdirs(b->dir))) {
		snprintf(err, sizeof(err), "cannot create %s: %s", b->dir, strerror(-r));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/lock", b->dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, sizeof(err), "bridge %s is already running", o->name);
		r = -EBUSY;
		goto out;
	}
	locked = true;
	snprintf(path, sizeof(path), "%s/config.json", b->dir);
	cfg = json_load_file(path, 0, NULL);
	b->mtu = o->mtu ? o->mtu : cfg && json_integer_value(json_object_get(cfg, "mtu")) > 0 ?
		 (unsigned)json_integer_value(json_object_get(cfg, "mtu")) : VNET_DEFAULT_MTU;
	if (b->mtu < 576 || b->mtu > 65000) {
		snprintf(err, sizeof(err), "--mtu %u outside 576..65000", b->mtu);
		r = -EINVAL;
		goto out;
	}
	snprintf(b->listen, sizeof(b->listen), "%s",
		 o->listen ? o->listen : json_string_value(json_object_get(cfg, "listen")) ?: "");
	if ((r = vnet_loop_init(&b->loop)) || !(b->sw = vnet_sw_new())) {
		snprintf(err, sizeof(err), "cannot set up the event loop");
		r = r ? r : -ENOMEM;
		goto out;
	}
	sigemptyset(&m);
	sigaddset(&m, SIGTERM);
	sigaddset(&m, SIGINT);
	sigaddset(&m, SIGHUP);
	sigaddset(&m, SIGPIPE);
	sigprocmask(SIG_BLOCK, &m, NULL);
	b->sig_fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

	if (b->sig_fd < 0 || b->timer_fd < 0 || timerfd_settime(b->timer_fd, 0, &its, NULL) ||
	    vnet_loop_add(&b->loop, b->sig_fd, EPOLLIN, &b->sig_ev) ||
	    vnet_loop_add(&b->loop, b->timer_fd, EPOLLIN, &b->timer_ev)) {
		snprintf(err, sizeof(err), "signalfd/timerfd: %s", strerror(errno));
		r = -errno;
		goto out;
	}
	if (*b->listen && (r = open_udp(b, err, sizeof(err))))
		goto out;
	snprintf(path, sizeof(path), "%s/ctl.sock", b->dir);
	b->ctl_fd = listen_unix(path);
	if (b->ctl_fd < 0 || vnet_loop_add(&b->loop, b->ctl_fd, EPOLLIN, &b->ctl_ev)) {
		snprintf(err, sizeof(err), "control socket %s: %s", path, strerror(errno));
		r = -EIO;
		goto out;
	}
	if (cfg)
		reload(b, cfg);
	save_config(b);
	ready(o->ready_fd, "ok\n");
	while (!b->stop) {
		b->sw->now_ns = now_ns();
		if ((r = vnet_loop_run_once(&b->loop, 1000)))
			break;
	}
out:
	if (*err) {
		fprintf(stderr, "vnet: %s\n", err);
		char line[600];

		snprintf(line, sizeof(line), "%s\n", err);
		ready(o->ready_fd, line);
	}
	if (b->sw) {
		for (int i = 0; i < VNET_MAX_PORTS; i++)
			if (b->sw->ports[i])
				del_port(b, b->sw->ports[i]);
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (b->clients[i].fd >= 0)
			client_close(b, &b->clients[i]);
	if (b->ctl_fd >= 0) {
		close(b->ctl_fd);
		snprintf(path, sizeof(path), "%s/ctl.sock", b->dir);
		unlink(path);
	}
	if (b->udp_fd >= 0)
		close(b->udp_fd);
	if (b->sig_fd >= 0)
		close(b->sig_fd);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	/* A bridge that never served and has no saved configuration leaves
	 * nothing behind; one that served keeps config.json unless stopped. */
	snprintf(path, sizeof(path), "%s/config.json", b->dir);
	if (r && locked && !cfg && access(path, F_OK))
		b->erase = true;
	if (b->erase && locked) {
		static const char *const files[] = { "config.json", "bridge.log", "lock" };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", b->dir, files[i]);
			unlink(path);
		}
		rmdir(b->dir);
	}
	vnet_sw_free(b->sw);
	vnet_loop_fini(&b->loop);
	json_decref(cfg);
	free(b->rxbuf);
	if (lock_fd >= 0)
		close(lock_fd);
	free(b);
	return r;
}

/* ---- the client side ---- */

json_t *vnet_ctl_call(const char *name, json_t *req, char *err, size_t errsz)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[200], *txt, buf[65536];
	size_t len = 0;
	json_t *ans;
	int fd;

	if (!vnet_bridge_dir(name, dir, sizeof(dir))) {
		snprintf(err, errsz, "bad bridge name '%s'", name);
		return NULL;
	}
	if (strlen(dir) + sizeof("/ctl.sock") > sizeof(sa.sun_path)) {
		snprintf(err, errsz, "runtime path %s too long for a socket", dir);
		return NULL;
	}
	memcpy(sa.sun_path, dir, strlen(dir));
	memcpy(sa.sun_path + strlen(dir), "/ctl.sock", sizeof("/ctl.sock"));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errsz, "bridge %s is not running (start it with `gears vnet start %s`)", name, name);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	txt = json_dumps(req, JSON_COMPACT);
	if (!txt) {
		close(fd);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	size_t l = strlen(txt);

	txt[l] = '\n';
	if (send(fd, txt, l + 1, MSG_NOSIGNAL) != (ssize_t)(l + 1)) {
		free(txt);
		close(fd);
		snprintf(err, errsz, "bridge %s: %s", name, strerror(errno));
		return NULL;
	}
	free(txt);
	/* One line back; stats may be large: grow as needed. */
	char *big = NULL;
	size_t cap = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (len + (size_t)n + 1 > cap) {
			size_t nc = cap ? cap * 2 : 131072;

			while (nc < len + (size_t)n + 1)
				nc *= 2;
			char *nb = realloc(big, nc);

			if (!nb)
				break;
			big = nb;
			cap = nc;
		}
		memcpy(big + len, buf, (size_t)n);
		len += (size_t)n;
		if (memchr(buf, '\n', (size_t)n))
			break;
	}
	close(fd);
	if (!big) {
		snprintf(err, errsz, "bridge %s did not answer", name);
		return NULL;
	}
	big[len] = 0;
	ans = json_loads(big, JSON_DISABLE_EOF_CHECK, NULL);
	free(big);
	if (!ans) {
		snprintf(err, errsz, "bridge %s sent a malformed answer", name);
		return NULL;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		snprintf(err, errsz, "%s", json_string_value(json_object_get(ans, "error")) ?: "request failed");
		json_decref(ans);
		return NULL;
	}
	return ans;
}

int vnet_bridge_list(void (*cb)(const char *name, void *ctx), void *ctx)
{
	char dir[256];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/.vnet", gears_runtime_dir());
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!vnet_name_ok(de->d_name))
			continue;
		cb(de->d_name, ctx);
		n++;
	}
	closedir(d);
	return n;
}
