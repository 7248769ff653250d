/* SPDX-License-Identifier: MIT */
/*
 * "TYPE ID LEN\n<payload>" frames: the format of the guest agent channel
 * (docs/guest-agent.md) and of the supervisor's control socket
 * (include/gears/ctl.h), so one reader serves both. Internal to libgears and
 * the supervisor.
 */
#ifndef GEARS_FRAME_H
#define GEARS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gears/ctl.h>

#define FRAME_MAX_PAYLOAD GEARS_CTL_MAX_PAYLOAD

struct frame {
	char type[16];
	uint32_t id;
	uint32_t len;
	char *data;		/* NUL-terminated for convenience */
};

struct frame_reader {
	char *buf;
	size_t len, cap;
	unsigned bad;		/* malformed header lines skipped */
	char *last;		/* payload of the frame returned last */
};

/* Append bytes read from the peer. */
int frame_reader_feed(struct frame_reader *r, const void *data, size_t len);
/* Next complete frame (1), none yet (0). The frame's data stays valid until the
 * next call. Malformed header lines are skipped and counted. */
int frame_reader_next(struct frame_reader *r, struct frame *f);
void frame_reader_free(struct frame_reader *r);
/* Read from fd into the reader: >0 bytes read, 0 EOF, <0 -errno (-EAGAIN ok). */
int frame_reader_fill(struct frame_reader *r, int fd);

int frame_send(int fd, const char *type, uint32_t id, const void *data, size_t len);


#endif
