// SPDX-License-Identifier: MIT
/* The bridge's event loop (see vnet_loop.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vnet_loop.h"

int vnet_loop_init(struct vnet_loop *l)
{
	l->pending = NULL;
	l->graveyard = NULL;
	l->ngrave = l->grave_cap = 0;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

static void bury(struct vnet_loop *l)
{
	for (size_t i = 0; i < l->ngrave; i++)
		free(l->graveyard[i]);
	l->ngrave = 0;
}

void vnet_loop_free_later(struct vnet_loop *l, void *ptr)
{
	if (l->ngrave == l->grave_cap) {
		size_t cap = l->grave_cap ? l->grave_cap * 2 : 16;
		void **g = realloc(l->graveyard, cap * sizeof(*g));

		if (!g)
			return;
		l->graveyard = g;
		l->grave_cap = cap;
	}
	l->graveyard[l->ngrave++] = ptr;
}

void vnet_loop_fini(struct vnet_loop *l)
{
	bury(l);
	free(l->graveyard);
	l->graveyard = NULL;
	l->grave_cap = 0;
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int vnet_loop_add(struct vnet_loop *l, int fd, uint32_t events, struct vnet_ev *ev)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

int vnet_loop_mod(struct vnet_loop *l, int fd, uint32_t events, struct vnet_ev *ev)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &e) ? -errno : 0;
}

void vnet_loop_del(struct vnet_loop *l, int fd)
{
	if (fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void vnet_loop_defer(struct vnet_loop *l, struct vnet_ev *ev)
{
	if (ev->pending)
		return;
	ev->pending = true;
	ev->next_pending = l->pending;
	l->pending = ev;
}

void vnet_loop_cancel(struct vnet_loop *l, struct vnet_ev *ev)
{
	for (struct vnet_ev **p = &l->pending; *p; p = &(*p)->next_pending) {
		if (*p == ev) {
			*p = ev->next_pending;
			break;
		}
	}
	ev->pending = false;
}

int vnet_loop_run_once(struct vnet_loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(l->epfd, evs, 64, l->pending ? 0 : timeout_ms);

	if (n < 0 && errno != EINTR)
		return -errno;
	/* An fd's owner may be freed by an earlier callback of this batch; owners
	 * that free themselves defer the free (see vnet_vhost.c). */
	for (int i = 0; i < n; i++) {
		struct vnet_ev *ev = evs[i].data.ptr;

		ev->fn(ev, evs[i].events);
	}
	/* Deferred work: take the list first, callbacks may defer again. */
	struct vnet_ev *p = l->pending;

	l->pending = NULL;
	while (p) {
		struct vnet_ev *next = p->next_pending;

		p->pending = false;
		p->fn(p, 0);
		p = next;
	}
	bury(l);
	return 0;
}
