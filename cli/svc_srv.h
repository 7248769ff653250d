/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of the process tools: environment rules (ENV
 * requests, `gears run --env`), code injection (INJECT requests) and the
 * hypercall ABI, all on the VM's one gears_sc (owned by the trace server).
 */
#ifndef GEARS_CLI_SVC_SRV_H
#define GEARS_CLI_SVC_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_srv.h"

struct svc;

struct svc *svc_new(struct tsrv *ts, tsrv_send_fn send, void *ctx);
/* Remove every handler (before the trace server frees the engine). */
void svc_free(struct svc *v);

/* Set-up from the command line (before the guest's command runs): 0 or -errno
 * with a reason in err. */
int svc_add_env(struct svc *v, const char *rule, char *err, size_t errsz);
int svc_enable_hypercalls(struct svc *v, char *err, size_t errsz);

/* Requests from clients. ENV: {"op": "add"|"del"|"list", "rule": R}; answered
 * at once. INJECT (see cli/inject.c): answered when the injection ends. */
void svc_env_request(struct svc *v, int client, uint32_t id, const char *json);
void svc_inject_request(struct svc *v, int client, uint32_t id, const char *json);
void svc_drop_client(struct svc *v, int client);

/* Kicks and timeouts of injections in flight; true while one is. */
bool svc_poll(struct svc *v);
bool svc_active(const struct svc *v);

#endif
