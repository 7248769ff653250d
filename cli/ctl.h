/* SPDX-License-Identifier: MIT */
/* The commands' JSON requests on a supervisor's control socket (gears/ctl.h). */
#ifndef GEARS_CLI_CTL_H
#define GEARS_CLI_CTL_H

#include <jansson.h>

/* One request of `type` with JSON in and out, on the control socket of VM
 * `name`: the answer, or NULL after reporting the error (prefixed with `what`
 * when the supervisor refused). Consumes req. */
json_t *ctl_request(const char *name, const char *type, json_t *req, int timeout_ms, const char *what);

#endif
