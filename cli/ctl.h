/* SPDX-License-Identifier: MIT */
/* Client side of a supervisor's control socket (see run.c). */
#ifndef GEARS_CLI_CTL_H
#define GEARS_CLI_CTL_H

/* Connect to the control socket of the VM `name`. Returns fd or -errno (with a
 * message printed through cli_error when `report`). */
int ctl_connect(const char *name);

/* One request on the control socket of VM `name`, waiting up to timeout_ms
 * for its answer: 0 (OK or a data frame; *reply = its payload), 1 (FAIL;
 * *reply = the reason), or -errno (no supervisor, it went away, timeout).
 * Free *reply. */
int ctl_call(const char *name, const char *type, const char *payload, char **reply, int timeout_ms);

/* The same with JSON in and out: the answer, or NULL after reporting the
 * error (prefixed with `what` when the supervisor refused). Consumes req. */
#include <jansson.h>
json_t *ctl_request(const char *name, const char *type, json_t *req, int timeout_ms, const char *what);

#endif
