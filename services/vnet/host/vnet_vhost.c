// SPDX-License-Identifier: MIT
/*
 * vhost-user-net back-end (see vnet_vhost.h). Written from the protocol
 * description (QEMU's docs/interop/vhost-user.rst) and the virtio 1.x
 * specification; queue 0 is the guest's receive queue, queue 1 its transmit
 * queue (no multiqueue, no control queue: QEMU keeps that one).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vnet_accel.h"
#include "vnet_vhost.h"
#include "vnet_virtq.h"

enum {
	VHU_GET_FEATURES = 1, VHU_SET_FEATURES = 2, VHU_SET_OWNER = 3, VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5, VHU_SET_LOG_BASE = 6, VHU_SET_LOG_FD = 7, VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9, VHU_SET_VRING_BASE = 10, VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12, VHU_SET_VRING_CALL = 13, VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15, VHU_SET_PROTOCOL_FEATURES = 16, VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18, VHU_SEND_RARP = 19, VHU_NET_SET_MTU = 20,
};

#define VHU_VERSION 0x1u
#define VHU_FLAG_REPLY 0x4u
#define VHU_VRING_NOFD 0x100u
#define VHU_VRING_IDX_MASK 0xffu

/* virtio-net feature bits */
#define F_CSUM 0
#define F_GUEST_CSUM 1
#define F_MTU 3
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_GUEST_ECN 9
#define F_HOST_TSO4 11
#define F_HOST_TSO6 12
#define F_HOST_ECN 13
#define F_MRG_RXBUF 15
#define F_ANY_LAYOUT 27
#define F_INDIRECT_DESC 28
#define F_EVENT_IDX 29
#define F_PROTOCOL_FEATURES 30
#define F_VERSION_1 32
#define BIT(n) (1ull << (n))

/* What we offer. VHOST_USER_F_PROTOCOL_FEATURES with no protocol feature in
 * it: QEMU 7.2's net front-end sends SET_VRING_ENABLE, which it refuses to do
 * (failing the whole start) unless that bit was negotiated; nothing else
 * from the protocol features is needed (one queue pair, the MTU is QEMU's
 * device property, no reply acks). */
static const uint64_t offered = BIT(F_PROTOCOL_FEATURES) | BIT(F_CSUM) | BIT(F_GUEST_CSUM) | BIT(F_MTU) | BIT(F_GUEST_TSO4) |
				BIT(F_GUEST_TSO6) | BIT(F_GUEST_ECN) | BIT(F_HOST_TSO4) | BIT(F_HOST_TSO6) |
				BIT(F_HOST_ECN) | BIT(F_MRG_RXBUF) | BIT(F_ANY_LAYOUT) | BIT(F_INDIRECT_DESC) |
				BIT(F_EVENT_IDX) | BIT(F_VERSION_1);

#define RXQ 0
#define TXQ 1
#define TX_BUDGET 128		/* chains per turn: other ports get their turn too */
#define MSG_PAYLOAD_MAX 4096
#define MRG_MAX_BUFS 256

struct vhu_msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;
		struct { uint32_t index, flags; uint64_t desc, used, avail, log; } addr;
		struct {
			uint32_t nregions, padding;
			struct { uint64_t gpa, size, uva, mmap_offset; } r[VNET_MEM_REGIONS];
		} mem;
		uint8_t raw[MSG_PAYLOAD_MAX];
	} u;
} __attribute__((packed));

struct queue {
	struct vnet_vq vq;
	uint64_t desc_ua, avail_ua, used_ua;
	bool addr_set, started;
	bool enabled;		/* SET_VRING_ENABLE (always, without PROTOCOL_FEATURES) */
	int kick_fd, call_fd;
	struct vnet_ev kick_ev;
	struct vnet_vhost *v;
};

struct vnet_vhost {
	struct vnet_loop *loop;
	struct vnet_sw *sw;
	struct vnet_port *port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned mtu;
	int listen_fd, conn_fd;
	struct vnet_ev listen_ev, conn_ev, work_ev;
	bool dead;
	uint64_t features;
	size_t hdr_len;
	struct vnet_memtab mem;
	size_t map_len[VNET_MEM_REGIONS];
	uint8_t *map_base[VNET_MEM_REGIONS];
	struct queue q[2];
	uint64_t connects;
	struct vnet_accel *accel;	/* the overlay accelerator's rings, or NULL */
	struct vnet_iov iov[VNET_VQ_MAX_CHAIN];
};

static void vhost_work(struct vnet_ev *ev, uint32_t events);

static void unmap_mem(struct vnet_vhost *v)
{
	for (int i = 0; i < v->mem.n; i++)
		munmap(v->map_base[i], v->map_len[i]);
	v->mem.n = 0;
}

static void queue_stop(struct vnet_vhost *v, struct queue *q)
{
	if (q->kick_fd >= 0) {
		vnet_loop_del(v->loop, q->kick_fd);
		close(q->kick_fd);
	}
	q->kick_fd = -1;
	q->started = false;
}

static void queue_reset(struct vnet_vhost *v, struct queue *q)
{
	queue_stop(v, q);
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->call_fd = -1;
	q->addr_set = false;
	memset(&q->vq, 0, sizeof(q->vq));
}

static void update_port(struct vnet_vhost *v)
{
	bool up = v->conn_fd >= 0 && v->q[RXQ].started && v->q[TXQ].started && v->q[RXQ].enabled &&
		  v->q[TXQ].enabled;
	struct vnet_port *p = v->port;

	p->caps = 0;
	if ((v->features & BIT(F_GUEST_TSO4)) && (v->features & BIT(F_GUEST_TSO6)))
		p->caps |= VNET_CAP_GSO_TCP;
	if (v->features & BIT(F_GUEST_CSUM))
		p->caps |= VNET_CAP_CSUM;
	/* With mergeable buffers (or big-packet chains for TSO) the guest takes
	 * any frame; otherwise its buffers hold one MTU-sized frame. */
	p->max_frame = (v->features & (BIT(F_MRG_RXBUF) | BIT(F_GUEST_TSO4))) ? VNET_FRAME_MAX
									      : VNET_ETH_HLEN + 4 + v->mtu;
	if (p->up != up)
		vnet_sw_port_set_up(v->sw, p, up);
}

static void disconnect(struct vnet_vhost *v)
{
	if (v->conn_fd < 0)
		return;
	vnet_loop_del(v->loop, v->conn_fd);
	close(v->conn_fd);
	v->conn_fd = -1;
	for (int i = 0; i < 2; i++)
		queue_reset(v, &v->q[i]);
	unmap_mem(v);
	v->features = 0;
	update_port(v);
}

/* Translate a queue's ring addresses (front-end virtual) through the current
 * memory table; false when they are not inside it. */
static bool map_rings(struct vnet_vhost *v, struct queue *q)
{
	unsigned num = q->vq.num;

	if (!q->addr_set || !num)
		return false;
	q->vq.desc = vnet_mem_uva(&v->mem, q->desc_ua, vnet_vq_desc_size(num));
	q->vq.avail = vnet_mem_uva(&v->mem, q->avail_ua, vnet_vq_avail_size(num));
	q->vq.used = vnet_mem_uva(&v->mem, q->used_ua, vnet_vq_used_size(num));
	if (!q->vq.desc || !q->vq.avail || !q->vq.used) {
		q->vq.desc = q->vq.avail = q->vq.used = NULL;
		return false;
	}
	return true;
}

static void notify(struct queue *q)
{
	uint64_t one = 1;

	if (q->call_fd >= 0 && write(q->call_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the guest will see it anyway */
	}
}

/* ---- guest transmit: frames into the switch ---- */

static void tx_run(struct vnet_vhost *v)
{
	struct queue *q = &v->q[TXQ];
	struct vnet_port *p = v->port;
	bool pushed = false;
	int budget = TX_BUDGET;

	if (!q->started || !q->enabled || !q->vq.desc || q->vq.broken)
		return;
	while (budget-- > 0 && p->blocked_on < 0) {
		uint16_t head;
		unsigned n;
		uint64_t total;
		int r = vnet_vq_pop(&q->vq, &v->mem, false, &head, v->iov, &n, &total);

		if (r == 0) {
			if (vnet_vq_arm(&q->vq))
				continue;
			break;
		}
		if (r == -EIO) {
			vnet_sw_drop(v->sw, p, VNET_DROP_BAD_DESC);
			break;
		}
		pushed = true;
		vnet_vq_push(&q->vq, head, 0);
		if (r < 0) {
			vnet_sw_drop(v->sw, p, VNET_DROP_BAD_DESC);
			continue;
		}
		if (total < v->hdr_len + VNET_ETH_HLEN || total - v->hdr_len > VNET_FRAME_MAX) {
			vnet_sw_drop(v->sw, p, total < v->hdr_len + VNET_ETH_HLEN ? VNET_DROP_BAD_HEADER
										    : VNET_DROP_OVERSIZE);
			continue;
		}
		struct vnet_frame *f = vnet_frame_new(total - v->hdr_len);
		uint8_t hdr[12] = { 0 };
		size_t at = 0;

		if (!f) {
			vnet_sw_drop(v->sw, p, VNET_DROP_NO_MEMORY);
			continue;
		}
		/* Copy once, out of guest memory; only the copy is parsed. */
		for (unsigned k = 0; k < n; k++) {
			for (uint32_t off = 0; off < v->iov[k].len;) {
				uint32_t take = v->iov[k].len - off;

				if (at < v->hdr_len) {
					take = take < v->hdr_len - at ? take : (uint32_t)(v->hdr_len - at);
					memcpy(hdr + at, v->iov[k].p + off, take);
				} else {
					memcpy(f->data + (at - v->hdr_len), v->iov[k].p + off, take);
				}
				at += take;
				off += take;
			}
		}
		if (vnet_vhdr_parse(hdr, &f->off, f->len)) {
			vnet_sw_drop(v->sw, p, VNET_DROP_BAD_HEADER);
			vnet_frame_put(f);
			continue;
		}
		vnet_sw_input(v->sw, p, f);
	}
	if (pushed && vnet_vq_publish(&q->vq))
		notify(q);
	/* Budget spent with work left: continue after the other ports' turn. */
	if (budget < 0 && p->blocked_on < 0)
		vnet_loop_defer(v->loop, &v->work_ev);
}

/* ---- guest receive: frames from the switch ---- */

/* Scatter header + frame into the guest's receive chains (several with
 * mergeable buffers). 1 done; 0 not enough buffers yet (nothing consumed);
 * -E2BIG the guest's buffers can never hold it; -EIO ring broken. */
static int rx_one(struct vnet_vhost *v, struct queue *q, struct vnet_frame *f)
{
	struct vnet_vq *vq = &q->vq;
	bool mrg = v->features & BIT(F_MRG_RXBUF);
	uint16_t save_avail = vq->last_avail, save_used = vq->used_idx;
	size_t need = v->hdr_len + f->len, done = 0;
	uint8_t hdr[12];
	uint16_t nbuf = 0;
	uint8_t *nb_lo = NULL, *nb_hi = NULL;	/* num_buffers' bytes, wherever they landed */

	vnet_vhdr_build(hdr, &f->off, 1);
	while (done < need) {
		uint16_t head;
		unsigned n;
		uint64_t total;
		int r = vnet_vq_pop(vq, &v->mem, true, &head, v->iov, &n, &total);

		if (r == 0 || r == -EIO || (done && !mrg) || nbuf >= MRG_MAX_BUFS) {
			vq->last_avail = save_avail;	/* nothing is visible to the guest yet */
			vq->used_idx = save_used;
			return r == -EIO ? -EIO : 0;
		}
		if (r < 0 || (!done && total < v->hdr_len)) {
			/* A bad chain is gone for good (returned empty); go on with the next. */
			vnet_vq_push(vq, head, 0);
			vnet_sw_drop(v->sw, v->port, VNET_DROP_BAD_DESC);
			if (done) {
				vq->last_avail = save_avail;
				vq->used_idx = save_used;
				return 0;
			}
			save_avail = vq->last_avail;
			save_used = vq->used_idx;
			continue;
		}
		if (!mrg && total < need) {
			vq->last_avail = save_avail;
			vq->used_idx = save_used;
			return -E2BIG;
		}
		uint32_t wrote = 0;

		for (unsigned k = 0; k < n && done < need; k++) {
			for (uint32_t off = 0; off < v->iov[k].len && done < need;) {
				size_t take = v->iov[k].len - off;
				uint8_t *dst = v->iov[k].p + off;

				if (take > need - done)
					take = need - done;
				if (done < v->hdr_len) {
					if (take > v->hdr_len - done)
						take = v->hdr_len - done;
					memcpy(dst, hdr + done, take);
					if (done <= 10 && 10 < done + take)
						nb_lo = dst + (10 - done);
					if (done <= 11 && 11 < done + take)
						nb_hi = dst + (11 - done);
				} else {
					memcpy(dst, f->data + (done - v->hdr_len), take);
				}
				done += take;
				off += (uint32_t)take;
				wrote += (uint32_t)take;
			}
		}
		vnet_vq_push(vq, head, wrote);
		nbuf++;
	}
	if (v->hdr_len == 12 && nb_lo && nb_hi) {
		*nb_lo = (uint8_t)nbuf;
		*nb_hi = (uint8_t)(nbuf >> 8);
	}
	return 1;
}

static void rx_run(struct vnet_vhost *v)
{
	struct queue *q = &v->q[RXQ];
	struct vnet_port *p = v->port;
	struct vnet_frame *f;
	bool pushed = false;
	int budget = TX_BUDGET;

	/* The accelerator's module owns the NIC: its frames go to its ring. */
	if (!q->started || !q->enabled || !q->vq.desc || vnet_accel_active(v->accel))
		return;
	while ((f = vnet_port_peek(p)) && budget-- > 0) {
		uint16_t before = q->vq.used_idx;
		int r = rx_one(v, q, f);

		pushed |= q->vq.used_idx != before;
		if (r == 1) {
			vnet_port_pop(v->sw, p, true, 0);
		} else if (r == -E2BIG) {
			vnet_port_pop(v->sw, p, false, VNET_DROP_OVERSIZE);
		} else if (r == -EIO) {
			vnet_port_pop(v->sw, p, false, VNET_DROP_BAD_DESC);
			break;
		} else {
			/* Out of buffers: sleep until the guest posts more. */
			if (vnet_vq_arm(&q->vq))
				continue;
			break;
		}
	}
	if (pushed && vnet_vq_publish(&q->vq))
		notify(q);
	if (budget < 0 && vnet_port_peek(p))
		vnet_loop_defer(v->loop, &v->work_ev);
}

static void vhost_work(struct vnet_ev *ev, uint32_t events)
{
	struct vnet_vhost *v = vnet_container_of(ev, struct vnet_vhost, work_ev);

	(void)events;
	if (v->dead)
		return;
	tx_run(v);
	if (v->accel)
		vnet_accel_run(v->accel);
	rx_run(v);
}

void vnet_vhost_set_accel(struct vnet_vhost *v, struct vnet_accel *a)
{
	v->accel = a;
	if (a)
		vnet_accel_set_work(a, &v->work_ev, &v->mem);
}

static void kick_event(struct vnet_ev *ev, uint32_t events)
{
	struct queue *q = vnet_container_of(ev, struct queue, kick_ev);
	struct vnet_vhost *v = q->v;
	uint64_t cnt;

	(void)events;
	if (v->dead || q->kick_fd < 0)
		return;
	if (read(q->kick_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
		/* nothing to do: the next kick or turn retries */
	}
	if (q == &v->q[TXQ])
		tx_run(v);
	else
		rx_run(v);
}

static void port_queued(struct vnet_port *p)
{
	struct vnet_vhost *v = p->priv;

	if (v && !v->dead)
		vnet_loop_defer(v->loop, &v->work_ev);	/* batch: flush after this turn */
}

static void port_resume(struct vnet_port *p)
{
	struct vnet_vhost *v = p->priv;

	if (v && !v->dead)
		vnet_loop_defer(v->loop, &v->work_ev);
}

const struct vnet_port_ops vnet_vhost_port_ops = {
	.queued = port_queued,
	.resume = port_resume,
};

/* ---- the protocol ---- */

static int recv_msg(int fd, struct vhu_msg *m, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VNET_MEM_REGIONS)];
	struct iovec iov = { .iov_base = m, .iov_len = 12 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);

	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < VNET_MEM_REGIONS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (n != 12)
		return n == 0 ? -ECONNRESET : -EPROTO;
	if ((m->flags & 3u) != VHU_VERSION || m->size > MSG_PAYLOAD_MAX)
		return -EPROTO;
	if (m->size && recv(fd, &m->u, m->size, MSG_WAITALL) != (ssize_t)m->size)
		return -EPROTO;
	return 0;
}

static int reply(struct vnet_vhost *v, struct vhu_msg *m, uint32_t size)
{
	m->flags = VHU_VERSION | VHU_FLAG_REPLY;
	m->size = size;
	return send(v->conn_fd, m, 12 + size, MSG_NOSIGNAL) == (ssize_t)(12 + size) ? 0 : -EIO;
}

static int set_mem_table(struct vnet_vhost *v, struct vhu_msg *m, int *fds, int nfds)
{
	uint32_t n = m->u.mem.nregions;

	if (m->size < 8 || n > VNET_MEM_REGIONS || (int)n != nfds || m->size < 8 + 32 * n)
		return -EPROTO;
	unmap_mem(v);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t size = m->u.mem.r[i].size, off = m->u.mem.r[i].mmap_offset;
		void *p;

		if (!size || off > UINT64_MAX - size || size + off > (1ull << 46))
			return -EPROTO;
		p = mmap(NULL, size + off, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fds[i], 0);
		close(fds[i]);
		fds[i] = -1;
		if (p == MAP_FAILED)
			return -errno;
		v->map_base[v->mem.n] = p;
		v->map_len[v->mem.n] = size + off;
		v->mem.r[v->mem.n] = (struct vnet_memreg){ .gpa = m->u.mem.r[i].gpa, .size = size,
							    .uva = m->u.mem.r[i].uva, .host = (uint8_t *)p + off };
		v->mem.n++;
	}
	/* The rings' host addresses come from the table: recompute them. */
	for (int i = 0; i < 2; i++)
		if (v->q[i].addr_set && !map_rings(v, &v->q[i]))
			v->q[i].started = false;
	update_port(v);
	return 0;
}

static int set_fd(struct vnet_vhost *v, struct vhu_msg *m, int *fds, int nfds, bool kick)
{
	unsigned idx = m->u.u64 & VHU_VRING_IDX_MASK;
	int fd = nfds ? fds[0] : -1;
	struct queue *q;

	if (idx > 1 || (!(m->u.u64 & VHU_VRING_NOFD) && nfds != 1))
		return -EPROTO;
	if (nfds)
		fds[0] = -1;
	q = &v->q[idx];
	if (!kick) {
		if (q->call_fd >= 0)
			close(q->call_fd);
		q->call_fd = fd;
		return 0;
	}
	queue_stop(v, q);
	if (fd < 0)
		return 0;	/* polling mode is never used for net: stay stopped */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	q->kick_fd = fd;
	if (vnet_loop_add(v->loop, fd, EPOLLIN, &q->kick_ev)) {
		close(fd);
		q->kick_fd = -1;
		return -EIO;
	}
	q->vq.event_idx = v->features & BIT(F_EVENT_IDX);
	q->vq.indirect = v->features & BIT(F_INDIRECT_DESC);
	q->started = map_rings(v, q);
	update_port(v);
	vnet_loop_defer(v->loop, &v->work_ev);	/* buffers may be waiting already */
	return 0;
}

static int handle(struct vnet_vhost *v, struct vhu_msg *m, int *fds, int nfds)
{
	struct queue *q;

	switch (m->request) {
	case VHU_GET_FEATURES:
		m->u.u64 = offered;
		return reply(v, m, 8);
	case VHU_SET_FEATURES:
		if (m->size < 8 || (m->u.u64 & ~offered))
			return -EPROTO;
		v->features = m->u.u64;
		/* Rings start disabled; SET_FEATURES without PROTOCOL_FEATURES
		 * enables them, and never disables one (QEMU sends SET_VRING_ENABLE
		 * before the SET_FEATURES of the device start). */
		if (!(v->features & BIT(F_PROTOCOL_FEATURES)))
			v->q[RXQ].enabled = v->q[TXQ].enabled = true;
		v->hdr_len = (v->features & (BIT(F_VERSION_1) | BIT(F_MRG_RXBUF))) ? 12 : 10;
		update_port(v);
		return 0;
	case VHU_SET_OWNER:
	case VHU_SEND_RARP:
	case VHU_NET_SET_MTU:
	case VHU_SET_PROTOCOL_FEATURES:
		return 0;
	case VHU_RESET_OWNER:
		for (int i = 0; i < 2; i++)
			queue_reset(v, &v->q[i]);
		update_port(v);
		return 0;
	case VHU_GET_PROTOCOL_FEATURES:
		m->u.u64 = 0;
		return reply(v, m, 8);
	case VHU_GET_QUEUE_NUM:
		m->u.u64 = 1;
		return reply(v, m, 8);
	case VHU_SET_MEM_TABLE:
		return set_mem_table(v, m, fds, nfds);
	case VHU_SET_LOG_BASE:
	case VHU_SET_LOG_FD:
		return -EPROTO;		/* migration logging: never offered */
	case VHU_SET_VRING_NUM:
		if (m->u.state.index > 1 || !m->u.state.num || m->u.state.num > VNET_VQ_MAX_SIZE ||
		    (m->u.state.num & (m->u.state.num - 1)))
			return -EPROTO;
		q = &v->q[m->u.state.index];
		q->vq.num = m->u.state.num;
		return 0;
	case VHU_SET_VRING_ADDR:
		if (m->u.addr.index > 1)
			return -EPROTO;
		q = &v->q[m->u.addr.index];
		if ((m->u.addr.desc & 15) || (m->u.addr.avail & 1) || (m->u.addr.used & 3))
			return -EPROTO;
		q->desc_ua = m->u.addr.desc;
		q->avail_ua = m->u.addr.avail;
		q->used_ua = m->u.addr.used;
		q->addr_set = true;
		if (!map_rings(v, q))
			return -EPROTO;
		/* Continue where the ring is: what the guest already got back. */
		q->vq.used_idx = __atomic_load_n((uint16_t *)(q->vq.used + 2), __ATOMIC_ACQUIRE);
		q->vq.signalled_valid = false;
		return 0;
	case VHU_SET_VRING_BASE:
		if (m->u.state.index > 1 || m->u.state.num > 0xffff)
			return -EPROTO;
		v->q[m->u.state.index].vq.last_avail = (uint16_t)m->u.state.num;
		v->q[m->u.state.index].vq.broken = false;
		return 0;
	case VHU_GET_VRING_BASE:
		if (m->u.state.index > 1)
			return -EPROTO;
		q = &v->q[m->u.state.index];
		queue_stop(v, q);
		update_port(v);
		m->u.state.num = q->vq.last_avail;
		return reply(v, m, 8);
	case VHU_SET_VRING_KICK:
		return set_fd(v, m, fds, nfds, true);
	case VHU_SET_VRING_CALL:
		return set_fd(v, m, fds, nfds, false);
	case VHU_SET_VRING_ERR:
		return 0;	/* the fd is closed by the caller */
	case VHU_SET_VRING_ENABLE:
		if (m->u.state.index > 1)
			return -EPROTO;
		v->q[m->u.state.index].enabled = m->u.state.num != 0;
		update_port(v);
		vnet_loop_defer(v->loop, &v->work_ev);
		return 0;
	default:
		fprintf(stderr, "vnet: port %s: unknown vhost-user request %u\n", v->port->name, m->request);
		return -EPROTO;
	}
}

static void conn_event(struct vnet_ev *ev, uint32_t events)
{
	struct vnet_vhost *v = vnet_container_of(ev, struct vnet_vhost, conn_ev);
	struct vhu_msg m;
	int fds[VNET_MEM_REGIONS], nfds, r;

	(void)events;
	if (v->dead || v->conn_fd < 0)
		return;
	r = recv_msg(v->conn_fd, &m, fds, &nfds);
	if (!r)
		r = handle(v, &m, fds, nfds);
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r) {
		if (r != -ECONNRESET)
			fprintf(stderr, "vnet: port %s: vhost-user request %u failed (%s); disconnecting\n",
				v->port->name, m.request, strerror(-r));
		disconnect(v);
	}
}

static void listen_event(struct vnet_ev *ev, uint32_t events)
{
	struct vnet_vhost *v = vnet_container_of(ev, struct vnet_vhost, listen_ev);
	int fd;

	(void)events;
	if (v->dead)
		return;
	fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (v->conn_fd >= 0) {
		close(fd);	/* one front-end per NIC */
		return;
	}
	/* Requests arrive whole; a front-end that stalls inside one must not
	 * hold the bridge. */
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (vnet_loop_add(v->loop, fd, EPOLLIN, &v->conn_ev)) {
		close(fd);
		return;
	}
	v->conn_fd = fd;
	v->connects++;
	v->q[RXQ].enabled = v->q[TXQ].enabled = false;
}

struct vnet_vhost *vnet_vhost_new(struct vnet_loop *l, struct vnet_sw *sw, struct vnet_port *port,
				  const char *path, unsigned mtu)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vnet_vhost *v;

	if (strlen(path) >= sizeof(sa.sun_path))
		return errno = ENAMETOOLONG, NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->loop = l;
	v->sw = sw;
	v->port = port;
	v->mtu = mtu;
	v->conn_fd = -1;
	v->hdr_len = 12;
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->listen_ev.fn = listen_event;
	v->conn_ev.fn = conn_event;
	v->work_ev.fn = vhost_work;
	for (int i = 0; i < 2; i++) {
		v->q[i].kick_fd = v->q[i].call_fd = -1;
		v->q[i].kick_ev.fn = kick_event;
		v->q[i].v = v;
	}
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->listen_fd < 0)
		goto fail;
	memcpy(sa.sun_path, path, strlen(path) + 1);	/* length checked above */
	unlink(path);
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(v->listen_fd, 4) ||
	    vnet_loop_add(l, v->listen_fd, EPOLLIN, &v->listen_ev))
		goto fail;
	port->priv = v;
	update_port(v);
	return v;
fail:
	{
		int e = errno;

		if (v->listen_fd >= 0)
			close(v->listen_fd);
		unlink(path);
		free(v);
		errno = e;
		return NULL;
	}
}

void vnet_vhost_free(struct vnet_vhost *v)
{
	if (!v)
		return;
	disconnect(v);
	vnet_loop_del(v->loop, v->listen_fd);
	close(v->listen_fd);
	unlink(v->path);
	vnet_loop_cancel(v->loop, &v->work_ev);
	v->dead = true;
	v->port->priv = NULL;
	vnet_loop_free_later(v->loop, v);
}

void vnet_vhost_info(const struct vnet_vhost *v, struct vnet_vhost_info *out)
{
	out->connected = v->conn_fd >= 0;
	out->features = v->features;
	out->rx_size = v->q[RXQ].vq.num;
	out->tx_size = v->q[TXQ].vq.num;
	out->connects = v->connects;
	out->bad_chains = v->q[RXQ].vq.bad_chains + v->q[TXQ].vq.bad_chains;
	out->broken = v->q[RXQ].vq.broken || v->q[TXQ].vq.broken;
}
