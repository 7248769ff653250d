/* SPDX-License-Identifier: MIT */
/*
 * The bridge's event loop: epoll over every fd of every attachment, plus a
 * list of "more work" callbacks for attachments that stopped a batch early
 * (a budget spent) and must continue without waiting for a new event.
 */
#ifndef GEARS_VNET_LOOP_H
#define GEARS_VNET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vnet_ev {
	void (*fn)(struct vnet_ev *ev, uint32_t events);
	bool pending;		/* on the loop's more-work list */
	struct vnet_ev *next_pending;
};

struct vnet_loop {
	int epfd;
	struct vnet_ev *pending;
	/* Objects freed once the current batch is dispatched: an event already
	 * fetched may still point at them (their callbacks check a dead flag). */
	void **graveyard;
	size_t ngrave, grave_cap;
};

#define vnet_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

int vnet_loop_init(struct vnet_loop *l);
void vnet_loop_fini(struct vnet_loop *l);
/* 0 or -errno. */
int vnet_loop_add(struct vnet_loop *l, int fd, uint32_t events, struct vnet_ev *ev);
int vnet_loop_mod(struct vnet_loop *l, int fd, uint32_t events, struct vnet_ev *ev);
void vnet_loop_del(struct vnet_loop *l, int fd);
/* Call ev->fn(ev, 0) once more after the current batch of events. */
void vnet_loop_defer(struct vnet_loop *l, struct vnet_ev *ev);
/* Forget a deferred call (its owner is going away). */
void vnet_loop_cancel(struct vnet_loop *l, struct vnet_ev *ev);
/* free(ptr) after the current batch. If the list cannot grow (ENOMEM) the
 * object leaks rather than being freed under a pending event. */
void vnet_loop_free_later(struct vnet_loop *l, void *ptr);
/* Wait up to timeout_ms (0 when work is deferred) and dispatch. 0 or -errno. */
int vnet_loop_run_once(struct vnet_loop *l, int timeout_ms);

#endif
