/* SPDX-License-Identifier: MIT */
/* Small socket helpers shared by the QMP, gdbstub and control-channel clients. */
#ifndef GEARS_SOCK_H
#define GEARS_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Connect to a unix stream socket, retrying until timeout_ms (the server may
 * not have created it yet). Returns a CLOEXEC fd or a negative errno. */
int gears_sock_connect(const char *path, int timeout_ms);
/* Write all of buf (handles partial writes and EINTR; MSG_NOSIGNAL). */
int gears_sock_write_all(int fd, const void *buf, size_t len);
/* Wait until fd is readable or timeout_ms passes (-1: forever).
 * Returns 1 readable, 0 timeout, negative errno. */
int gears_sock_wait_readable(int fd, int timeout_ms);

/* Wait until fd is writable or timeout_ms passes. Same returns. */
int gears_sock_wait_writable(int fd, int timeout_ms);

#endif
