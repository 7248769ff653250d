/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of `gears trace`: one gears_sc (system call
 * interception) per VM, shared by every subscriber; records streamed to each
 * client over the control socket (trace_proto.h).
 */
#ifndef GEARS_CLI_TRACE_SRV_H
#define GEARS_CLI_TRACE_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gears_vm;
struct gears_sc;
struct tsrv;

/* How the server sends a frame to client `client` (queued by the supervisor). */
typedef void (*tsrv_send_fn)(void *ctx, int client, const char *type, uint32_t id, const void *data,
			     size_t len);

struct tsrv *tsrv_new(struct gears_vm *vm, tsrv_send_fn send, void *ctx);
void tsrv_free(struct tsrv *t);
/* The interception engine, created on first use (NULL + errno on failure). */
struct gears_sc *tsrv_sc(struct tsrv *t);

/* A TRACE request; returns 0 or -errno with a reason in err. */
int tsrv_subscribe(struct tsrv *t, int client, uint32_t id, const char *json, char *err, size_t errsz);
void tsrv_unsubscribe(struct tsrv *t, int client, uint32_t id);
void tsrv_drop_client(struct tsrv *t, int client);
/* STATS request: answered with a STATS frame. */
void tsrv_stats(struct tsrv *t, int client, uint32_t id);

/* Deliver pending calls and send what they produced. Returns calls handled. */
int tsrv_poll(struct tsrv *t);
/* How long the supervisor may sleep (µs) before calling tsrv_poll again,
 * and an fd that wakes it (the gdbstub in exit mode; -1 if none). */
int tsrv_sleep_us(struct tsrv *t);
int tsrv_fd(struct tsrv *t);
/* The VM's doorbell: with it, instead of polling for synchronous requests,
 * arm it and sleep (1: armed, *sleep_us set; -1: a request is waiting, do not
 * sleep; 0: nothing to arm, sleep as tsrv_sleep_us says). Disarm on waking. */
/* Are guests waiting on us (synchronous handlers, exit mode)? */
bool tsrv_sync(struct tsrv *t);
void tsrv_set_bell(struct tsrv *t, unsigned port);
int tsrv_bell_arm(struct tsrv *t, int *sleep_us);
void tsrv_bell_disarm(struct tsrv *t);
/* Tell subscribers the main command's pid. */
void tsrv_announce_pid(struct tsrv *t, int pid);

#endif
