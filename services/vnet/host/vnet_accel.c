// SPDX-License-Identifier: MIT
/*
 * The overlay accelerator's host half (see vnet_accel.h). The ivshmem server
 * protocol is QEMU's (docs/specs/ivshmem-spec.rst): on connect the server
 * sends 64-bit little-endian values, some with a file descriptor: the
 * protocol version (0), the client's peer id, then any order of peer
 * eventfds and the region (-1 with its fd), and last the client's own
 * eventfds, one per vector. Everything in the region is the guest's to
 * write: every index and length is read once and checked here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../accel/vnet_accel_abi.h"
#include "vnet_accel.h"
#include "vnet_virtq.h"

#define RUN_BUDGET 64		/* frames each way per turn */

struct vnet_accel {
	struct vnet_loop *loop;
	struct vnet_sw *sw;
	struct vnet_port *port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint8_t mac[6];
	unsigned mtu;
	int listen_fd, conn_fd, mem_fd, host_efd, guest_efd;
	struct vnet_ev listen_ev, conn_ev, bell_ev;
	struct vnet_ev *work;	/* the port's work: RX from its queue */
	const struct vnet_memtab *mem;	/* the VM's RAM (the NIC's vhost-user table) */
	uint8_t *shm;
	volatile struct gva_hdr *h;
	bool dead, broken, was_active;
	uint32_t tx_cons, rx_prod;
	uint64_t tx_frames, rx_frames, kicks, irqs, bad, activations;
};

static void init_region(struct vnet_accel *a)
{
	memset(a->shm, 0, GVA_DATA_OFF);
	a->h->magic = GVA_MAGIC;
	a->h->version = GVA_VERSION;
	a->h->slots = GVA_SLOTS;
	a->h->slot_size = GVA_SLOT_SIZE;
	memcpy((void *)a->h->mac, a->mac, 6);
	a->h->mtu = (uint16_t)a->mtu;
	a->tx_cons = a->rx_prod = 0;
	a->broken = a->was_active = false;
	__atomic_store_n(&a->h->host_state, GVA_HOST_READY, __ATOMIC_RELEASE);
}

bool vnet_accel_active(struct vnet_accel *a)
{
	return a && !a->dead && !a->broken && a->conn_fd >= 0 &&
	       __atomic_load_n(&a->h->guest_state, __ATOMIC_ACQUIRE) == GVA_GUEST_ACTIVE;
}

static void mark_broken(struct vnet_accel *a, const char *what)
{
	a->bad++;
	if (a->broken)
		return;
	a->broken = true;
	/* The module sees the withdrawal at its next send and gives the NIC back. */
	__atomic_store_n(&a->h->host_state, GVA_HOST_NONE, __ATOMIC_RELEASE);
	fprintf(stderr, "vnet: port %s: accelerator ring broken by the guest (%s); back to virtio\n", a->port->name,
		what);
	vnet_sw_drop(a->sw, a->port, VNET_DROP_BAD_DESC);
}

static void interrupt(struct vnet_accel *a, volatile uint32_t *flag)
{
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* our index before their flag */
	if (!__atomic_load_n(flag, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(flag, 0, __ATOMIC_RELAXED);
	if (write(a->guest_efd, &one, sizeof(one)) == sizeof(one))
		a->irqs++;
}

/* A TX entry's frame into f->data: from its slot, or (GVA_DESC_F_SEGS) from
 * guest RAM where the guest's packet lies. Every segment is read once and
 * checked: at most GVA_MAX_SEGS, inside one region of the memory table, their
 * lengths adding up to the frame's. 0 or -EINVAL. */
static int tx_copy(struct vnet_accel *a, const uint8_t *slot, uint32_t flags, struct vnet_frame *f)
{
	struct gva_seg sg[GVA_MAX_SEGS];
	uint32_t n, at = 0;

	if (!(flags & GVA_DESC_F_SEGS)) {
		memcpy(f->data, slot + GVA_VHDR_LEN, f->len);
		return 0;
	}
	memcpy(&n, slot + GVA_SEGS_COUNT, sizeof(n));
	if (!n || n > GVA_MAX_SEGS || !a->mem)
		return -EINVAL;
	memcpy(sg, slot + GVA_SEGS_OFF, n * sizeof(sg[0]));
	for (uint32_t i = 0; i < n; i++) {
		const void *src;

		if (!sg[i].len || sg[i].len > f->len - at || !(src = vnet_mem_gpa(a->mem, sg[i].gpa, sg[i].len)))
			return -EINVAL;
		memcpy(f->data + at, src, sg[i].len);
		at += sg[i].len;
	}
	return at == f->len ? 0 : -EINVAL;
}

/* Guest TX ring into the switch. True when the ring is empty (or broken). */
static bool tx_run(struct vnet_accel *a)
{
	volatile struct gva_hdr *h = a->h;
	struct vnet_port *p = a->port;
	uint32_t start = a->tx_cons;
	int budget = RUN_BUDGET;
	bool empty = false;

	while (budget > 0 && p->blocked_on < 0) {
		uint32_t prod = __atomic_load_n(&h->tx_prod, __ATOMIC_ACQUIRE);

		if (prod - a->tx_cons > GVA_SLOTS) {
			mark_broken(a, "tx_prod more than a ring ahead");
			return true;
		}
		if (prod == a->tx_cons) {
			/* About to sleep on TX: ask for a doorbell, then look again. */
			__atomic_store_n(&h->host_kick, 1, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&h->tx_prod, __ATOMIC_ACQUIRE) != a->tx_cons) {
				__atomic_store_n(&h->host_kick, 0, __ATOMIC_RELAXED);
				continue;
			}
			empty = true;
			break;
		}
		for (; a->tx_cons != prod && budget > 0 && p->blocked_on < 0; a->tx_cons++, budget--) {
			const struct gva_desc *d = (const struct gva_desc *)(a->shm + GVA_TX_DESC(a->tx_cons));
			uint32_t len = __atomic_load_n(&d->len, __ATOMIC_RELAXED);
			uint32_t flags = __atomic_load_n(&d->flags, __ATOMIC_RELAXED);
			const uint8_t *slot = a->shm + GVA_TX_SLOT(a->tx_cons);
			struct vnet_frame *f;
			uint8_t hdr[GVA_VHDR_LEN];

			if (len < GVA_VHDR_LEN + VNET_ETH_HLEN || len > GVA_SLOT_SIZE ||
			    len - GVA_VHDR_LEN > VNET_FRAME_MAX) {
				a->bad++;
				vnet_sw_drop(a->sw, p, len > GVA_SLOT_SIZE ? VNET_DROP_OVERSIZE : VNET_DROP_BAD_HEADER);
				continue;
			}
			if (!(f = vnet_frame_new(len - GVA_VHDR_LEN))) {
				vnet_sw_drop(a->sw, p, VNET_DROP_NO_MEMORY);
				continue;
			}
			/* Copy once out of the region (or guest RAM); only the copy is parsed. */
			memcpy(hdr, slot, GVA_VHDR_LEN);
			if (tx_copy(a, slot, flags, f)) {
				a->bad++;
				vnet_sw_drop(a->sw, p, VNET_DROP_BAD_DESC);
				vnet_frame_put(f);
				continue;
			}
			if (vnet_vhdr_parse(hdr, &f->off, f->len)) {
				vnet_sw_drop(a->sw, p, VNET_DROP_BAD_HEADER);
				vnet_frame_put(f);
				continue;
			}
			a->tx_frames++;
			vnet_sw_input(a->sw, p, f);
		}
		__atomic_store_n(&h->tx_cons, a->tx_cons, __ATOMIC_RELEASE);
	}
	if (a->tx_cons != start)
		interrupt(a, &h->guest_txwait);
	return empty;
}

/* The port's queue into the guest's RX ring. True when nothing is left
 * that the ring could take now. */
static bool rx_run(struct vnet_accel *a)
{
	volatile struct gva_hdr *h = a->h;
	struct vnet_port *p = a->port;
	uint32_t start = a->rx_prod;
	int budget = RUN_BUDGET;
	struct vnet_frame *f;
	bool done = true;

	while ((f = vnet_port_peek(p))) {
		uint32_t cons = __atomic_load_n(&h->rx_cons, __ATOMIC_ACQUIRE);

		if (a->rx_prod - cons > GVA_SLOTS) {
			mark_broken(a, "rx_cons beyond rx_prod");
			break;
		}
		if (a->rx_prod - cons == GVA_SLOTS) {
			__atomic_store_n(&h->host_rxwait, 1, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (a->rx_prod - __atomic_load_n(&h->rx_cons, __ATOMIC_ACQUIRE) < GVA_SLOTS) {
				__atomic_store_n(&h->host_rxwait, 0, __ATOMIC_RELAXED);
				continue;
			}
			break;		/* the guest's doorbell resumes us */
		}
		if (budget-- <= 0) {
			done = false;
			break;
		}
		if (f->len > GVA_FRAME_MAX) {
			vnet_port_pop(a->sw, p, false, VNET_DROP_OVERSIZE);
			continue;
		}
		uint8_t *slot = a->shm + GVA_RX_SLOT(a->rx_prod);
		struct gva_desc *d = (struct gva_desc *)(a->shm + GVA_RX_DESC(a->rx_prod));

		vnet_vhdr_build(slot, &f->off, 1);
		memcpy(slot + GVA_VHDR_LEN, f->data, f->len);
		__atomic_store_n(&d->len, GVA_VHDR_LEN + f->len, __ATOMIC_RELAXED);
		__atomic_store_n(&d->flags, 0, __ATOMIC_RELAXED);
		a->rx_prod++;
		a->rx_frames++;
		vnet_port_pop(a->sw, p, true, 0);
		/* Publish in batches of a few frames: the guest starts sooner. */
		if (!(a->rx_prod & 7))
			__atomic_store_n(&h->rx_prod, a->rx_prod, __ATOMIC_RELEASE);
	}
	if (a->rx_prod != start) {
		__atomic_store_n(&h->rx_prod, a->rx_prod, __ATOMIC_RELEASE);
		interrupt(a, &h->guest_irq);
	}
	return done;
}

void vnet_accel_run(struct vnet_accel *a)
{
	bool active = vnet_accel_active(a);

	if (active != a->was_active) {
		a->was_active = active;
		if (active) {
			/* The module starts its indices from ours. */
			a->activations++;
			fprintf(stderr, "vnet: port %s: accelerator active\n", a->port->name);
		} else {
			fprintf(stderr, "vnet: port %s: accelerator %s\n", a->port->name,
				a->broken ? "broken" : "detached");
		}
		if (a->work)
			vnet_loop_defer(a->loop, a->work);	/* the queue goes the new way */
	}
	if (!active) {
		/* A module that detached may have left frames in its TX ring (it
		 * waits for us to take them before it frees its packets). */
		if (!a->dead && !a->broken && a->conn_fd >= 0 &&
		    __atomic_load_n(&a->h->guest_state, __ATOMIC_ACQUIRE) == GVA_GUEST_DETACHED)
			tx_run(a);
		return;
	}
	bool tx_empty = tx_run(a), rx_done = rx_run(a);

	if ((!tx_empty && a->port->blocked_on < 0) || !rx_done)
		vnet_loop_defer(a->loop, &a->bell_ev);	/* more after the others' turn */
}

static void bell_event(struct vnet_ev *ev, uint32_t events)
{
	struct vnet_accel *a = vnet_container_of(ev, struct vnet_accel, bell_ev);
	uint64_t cnt;

	if (a->dead)
		return;
	if (events && read(a->host_efd, &cnt, sizeof(cnt)) == sizeof(cnt))
		a->kicks++;
	if (a->conn_fd < 0)
		return;
	__atomic_store_n(&a->h->host_kick, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&a->h->host_rxwait, 0, __ATOMIC_RELAXED);
	vnet_accel_run(a);
}

void vnet_accel_set_work(struct vnet_accel *a, struct vnet_ev *work, const struct vnet_memtab *mem)
{
	a->work = work;
	a->mem = mem;
}

/* ---- the ivshmem server side ---- */

static int send_val(int fd, int64_t v, int passfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (passfd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(v) ? 0 : -EIO;
}

static void disconnect(struct vnet_accel *a)
{
	if (a->conn_fd < 0)
		return;
	vnet_loop_del(a->loop, a->conn_fd);
	close(a->conn_fd);
	a->conn_fd = -1;
	if (a->work)
		vnet_loop_defer(a->loop, a->work);
}

static void conn_event(struct vnet_ev *ev, uint32_t events)
{
	struct vnet_accel *a = vnet_container_of(ev, struct vnet_accel, conn_ev);
	char buf[64];

	(void)events;
	if (a->dead || a->conn_fd < 0)
		return;
	/* QEMU never sends anything: readable means gone. */
	ssize_t n = recv(a->conn_fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		disconnect(a);
}

static void listen_event(struct vnet_ev *ev, uint32_t events)
{
	struct vnet_accel *a = vnet_container_of(ev, struct vnet_accel, listen_ev);
	int fd;

	(void)events;
	if (a->dead || (fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	if (a->conn_fd >= 0) {
		close(fd);	/* one VM per accelerator */
		return;
	}
	init_region(a);
	if (send_val(fd, 0, -1) || send_val(fd, GVA_GUEST_PEER, -1) || send_val(fd, GVA_HOST_PEER, a->host_efd) ||
	    send_val(fd, -1, a->mem_fd) || send_val(fd, GVA_GUEST_PEER, a->guest_efd) ||
	    vnet_loop_add(a->loop, fd, EPOLLIN | EPOLLRDHUP, &a->conn_ev)) {
		fprintf(stderr, "vnet: port %s: accelerator set-up with QEMU failed\n", a->port->name);
		close(fd);
		return;
	}
	a->conn_fd = fd;
}

struct vnet_accel *vnet_accel_new(struct vnet_loop *l, struct vnet_sw *sw, struct vnet_port *port,
				  const char *path, const uint8_t *mac, unsigned mtu)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vnet_accel *a;
	int e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return errno = ENAMETOOLONG, NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->loop = l;
	a->sw = sw;
	a->port = port;
	a->mtu = mtu;
	memcpy(a->mac, mac, 6);
	snprintf(a->path, sizeof(a->path), "%s", path);
	a->listen_fd = a->conn_fd = -1;
	a->listen_ev.fn = listen_event;
	a->conn_ev.fn = conn_event;
	a->bell_ev.fn = bell_event;
	a->mem_fd = memfd_create("gears-vnet-accel", MFD_CLOEXEC);
	a->host_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->guest_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->mem_fd < 0 || a->host_efd < 0 || a->guest_efd < 0 || ftruncate(a->mem_fd, GVA_REGION_SIZE))
		goto fail;
	a->shm = mmap(NULL, GVA_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a->mem_fd, 0);
	if (a->shm == MAP_FAILED) {
		a->shm = NULL;
		goto fail;
	}
	a->h = (volatile struct gva_hdr *)a->shm;
	init_region(a);
	a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->listen_fd < 0)
		goto fail;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(a->listen_fd, 2) ||
	    vnet_loop_add(l, a->listen_fd, EPOLLIN, &a->listen_ev) ||
	    vnet_loop_add(l, a->host_efd, EPOLLIN, &a->bell_ev))
		goto fail;
	return a;
fail:
	e = errno;
	if (a->listen_fd >= 0) {
		vnet_loop_del(l, a->listen_fd);
		close(a->listen_fd);
		unlink(path);
	}
	if (a->shm)
		munmap(a->shm, GVA_REGION_SIZE);
	for (int *fd = &a->mem_fd; fd <= &a->guest_efd; fd++)
		if (*fd >= 0)
			close(*fd);
	free(a);
	errno = e;
	return NULL;
}

void vnet_accel_free(struct vnet_accel *a)
{
	if (!a)
		return;
	disconnect(a);
	vnet_loop_del(a->loop, a->listen_fd);
	vnet_loop_del(a->loop, a->host_efd);
	vnet_loop_cancel(a->loop, &a->bell_ev);
	close(a->listen_fd);
	unlink(a->path);
	close(a->mem_fd);
	close(a->host_efd);
	close(a->guest_efd);
	munmap(a->shm, GVA_REGION_SIZE);
	a->dead = true;
	vnet_loop_free_later(a->loop, a);
}

int vnet_accel_hostile(struct vnet_accel *a, const char *what)
{
	volatile struct gva_hdr *h = a->h;
	uint32_t cons, i = a->rx_prod;
	struct gva_desc *d = (struct gva_desc *)(a->shm + GVA_RX_DESC(i));
	uint8_t *slot = a->shm + GVA_RX_SLOT(i);

	if (!vnet_accel_active(a))
		return -ENOTCONN;
	cons = __atomic_load_n(&h->rx_cons, __ATOMIC_ACQUIRE);
	if (a->rx_prod - cons >= GVA_SLOTS)
		return -EAGAIN;
	if (!strcmp(what, "rx_index")) {
		/* An index a ring and a half ahead: only the guest's check stops it. */
		__atomic_store_n(&h->rx_prod, a->rx_prod + GVA_SLOTS + GVA_SLOTS / 2, __ATOMIC_RELEASE);
	} else if (!strcmp(what, "rx_len") || !strcmp(what, "rx_short") || !strcmp(what, "rx_gso")) {
		memset(slot, 0, GVA_VHDR_LEN + 64);
		d->len = !strcmp(what, "rx_len") ? 0xfffffff0u : !strcmp(what, "rx_short") ? 3u : GVA_VHDR_LEN + 64;
		if (!strcmp(what, "rx_gso")) {
			/* TCPv4 GSO with a checksum start beyond the frame. */
			slot[0] = 1;			/* NEEDS_CSUM */
			slot[1] = 1;			/* GSO_TCPV4 */
			slot[4] = 100;			/* gso_size */
			slot[6] = 0xf0;			/* csum_start 0xfff0 */
			slot[7] = 0xff;
			memcpy(slot + GVA_VHDR_LEN, a->mac, 6);
			slot[GVA_VHDR_LEN + 12] = 0x08;	/* IPv4 */
		}
		a->rx_prod++;
		__atomic_store_n(&h->rx_prod, a->rx_prod, __ATOMIC_RELEASE);
	} else {
		return -EINVAL;
	}
	__atomic_store_n(&h->guest_irq, 1, __ATOMIC_RELAXED);
	interrupt(a, &h->guest_irq);
	return 0;
}

void vnet_accel_info(const struct vnet_accel *a, struct vnet_accel_info *out)
{
	uint32_t gs = __atomic_load_n(&a->h->guest_state, __ATOMIC_RELAXED);

	out->connected = a->conn_fd >= 0;
	out->state = a->broken ? "broken" : gs == GVA_GUEST_ACTIVE ? "active" : gs == GVA_GUEST_DETACHED ? "detached"
													: "idle";
	out->tx_frames = a->tx_frames;
	out->rx_frames = a->rx_frames;
	out->kicks = a->kicks;
	out->irqs = a->irqs;
	out->bad = a->bad;
	out->activations = a->activations;
}
