/* SPDX-License-Identifier: MIT */
/*
 * QMP (QEMU Machine Protocol) client: lifecycle, query-pci, query-cpus-fast,
 * human-monitor-command. Messages are JSON objects (jansson); events that arrive
 * while a command waits for its answer are handed to the event callback.
 */
#ifndef GEARS_QMP_H
#define GEARS_QMP_H

#include <jansson.h>

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_qmp;

typedef void (*gears_qmp_event_fn)(const char *event, json_t *data, void *ctx);

/* Connect to a QMP unix socket, read the greeting and negotiate capabilities.
 * Waits up to timeout_ms for the socket to accept. NULL + errno on failure. */
GEARS_API struct gears_qmp *gears_qmp__connect(const char *path, int timeout_ms);
GEARS_API void gears_qmp__close(struct gears_qmp *q);

/* Run `cmd` with `args` (may be NULL; the reference is stolen). Returns the
 * "return" member (new reference; caller json_decref()s it) or NULL + errno:
 * EREMOTEIO when QEMU answered with an error (its class and description are in
 * gears_last_error()), EPIPE when the connection closed, ETIMEDOUT. */
GEARS_API json_t *gears_qmp__execute(struct gears_qmp *q, const char *cmd, json_t *args);
/* human-monitor-command: returns a malloc'd string with the monitor's output. */
GEARS_API char *gears_qmp__hmp(struct gears_qmp *q, const char *cmdline);

GEARS_API void gears_qmp__set_event_cb(struct gears_qmp *q, gears_qmp_event_fn fn, void *ctx);
/* The socket, to poll() for events between commands; then call
 * gears_qmp__dispatch() to read and deliver what arrived (never blocks).
 * Returns the number of events delivered, or -EPIPE when QEMU hung up. */
GEARS_API int gears_qmp__fd(const struct gears_qmp *q);
GEARS_API int gears_qmp__dispatch(struct gears_qmp *q);
/* Per-command timeout (default 10 s). */
GEARS_API void gears_qmp__set_timeout(struct gears_qmp *q, int timeout_ms);

/*
 * Framing, exposed for tests: QEMU sends one JSON object per message, each
 * followed by CRLF, but a read() may return part of one or several. Feed bytes
 * in; gears_qmp_framer__next() returns the next complete message (new
 * reference) or NULL when more bytes are needed; *err is set (EBADMSG) when the
 * stream holds something that is not JSON, or a message over 16 MiB.
 */
struct gears_qmp_framer {
	char *buf;
	size_t len, cap;
};
GEARS_API int gears_qmp_framer__feed(struct gears_qmp_framer *f, const void *data, size_t len);
GEARS_API json_t *gears_qmp_framer__next(struct gears_qmp_framer *f, int *err);
GEARS_API void gears_qmp_framer__reset(struct gears_qmp_framer *f);

#ifdef __cplusplus
}
#endif
#endif
