/* SPDX-License-Identifier: MIT */
/*
 * The control socket of a VM's supervisor (`gears run`): how other programs —
 * the gears command's own tools, scripts, other services — ask a running VM
 * for things (run a command, trace, add an environment rule, inject code,
 * stop).
 *
 * The socket is gears_runtime_dir()/NAME/ctl.sock. Messages both ways are
 * frames "TYPE ID LEN\n" followed by LEN bytes of payload (TYPE: up to 15
 * characters, ID: the requester's number, echoed in answers). The supervisor
 * accepts connections only from its own user and from root. Request types and
 * their payloads are listed in docs/control-protocol.md.
 */
#ifndef GEARS_CTL_H
#define GEARS_CTL_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GEARS_CTL_MAX_PAYLOAD (1u << 20)

struct gears_ctl;

/* One received frame; type, data and len stay valid until the next
 * gears_ctl__recv() or gears_ctl__close() on the same connection. data is
 * NUL-terminated (the terminator is not counted in len). */
struct gears_ctl_msg {
	char type[16];
	uint32_t id;
	uint32_t len;
	const char *data;
};

/* Connect to the supervisor of VM `name`, retrying up to timeout_ms while the
 * socket does not exist yet. NULL + errno: ENOENT (no supervised VM of that
 * name), ECONNREFUSED (its supervisor is gone), EACCES (it refused us). */
GEARS_API struct gears_ctl *gears_ctl__open(const char *name, int timeout_ms);
GEARS_API void gears_ctl__close(struct gears_ctl *c);
/* For poll(): readable when a frame may have arrived. */
GEARS_API int gears_ctl__fd(const struct gears_ctl *c);
/* Send one frame (blocking until written). 0 or -errno (-EPIPE: gone). */
GEARS_API int gears_ctl__send(struct gears_ctl *c, const char *type, uint32_t id, const void *data,
			      size_t len);
/* The next frame: 1 (in *m), 0 (none within timeout_ms; 0 = do not wait),
 * -EPIPE (the supervisor closed the connection), other -errno. */
GEARS_API int gears_ctl__recv(struct gears_ctl *c, struct gears_ctl_msg *m, int timeout_ms);

/* One request and its answer (the first frame with id 1) on a connection of
 * its own: 0 (an OK or data frame: *reply = its payload), 1 (FAIL: *reply =
 * the reason), or -errno (no supervisor, it went away, timeout). Free *reply. */
GEARS_API int gears_ctl__call(const char *name, const char *type, const char *payload, char **reply,
			      int timeout_ms);

/* The payload of EXEC requests: argv as NUL-separated strings (malloc'd; the
 * length in *len), and back: a NULL-terminated vector pointing into data
 * (malloc'd; free the vector only). NULL + errno on failure. */
GEARS_API char *gears_ctl__pack_argv(char *const argv[], size_t *len);
GEARS_API char **gears_ctl__unpack_argv(char *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
