// SPDX-License-Identifier: MIT
/* Frames of the agent channel and the control socket (frame.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "sock.h"

int frame_reader_feed(struct frame_reader *r, const void *data, size_t len)
{
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 8192;
		char *nb;

		while (cap < r->len + len + 1)
			cap *= 2;
		if (cap > 4 * FRAME_MAX_PAYLOAD + 4096)
			return -EMSGSIZE;
		nb = realloc(r->buf, cap);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	return 0;
}

static void consume(struct frame_reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

int frame_reader_next(struct frame_reader *r, struct frame *f)
{
	free(r->last);
	r->last = NULL;
	for (;;) {
		char *nl;
		size_t hl;
		char line[96];
		unsigned long id, len;

		/* Skip CR/LF between frames (the first line comes from a cooked tty). */
		size_t skip = 0;

		while (skip < r->len && (r->buf[skip] == '\r' || r->buf[skip] == '\n'))
			skip++;
		if (skip)
			consume(r, skip);
		nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		if (!nl) {
			if (r->len > sizeof(line)) {	/* a header can't be that long: junk */
				r->bad++;
				consume(r, r->len);
			}
			return 0;
		}
		hl = (size_t)(nl - r->buf);
		if (hl >= sizeof(line)) {
			r->bad++;
			consume(r, hl + 1);
			continue;
		}
		memcpy(line, r->buf, hl);
		line[hl] = 0;
		if (hl && line[hl - 1] == '\r')
			line[hl - 1] = 0;
		if (sscanf(line, "%15s %lu %lu", f->type, &id, &len) != 3 || len > FRAME_MAX_PAYLOAD ||
		    id > UINT32_MAX) {
			r->bad++;
			consume(r, hl + 1);
			continue;
		}
		if (r->len < hl + 1 + len)
			return 0;
		r->last = malloc(len + 1);
		if (!r->last)
			return -ENOMEM;
		memcpy(r->last, r->buf + hl + 1, len);
		r->last[len] = 0;
		f->id = (uint32_t)id;
		f->len = (uint32_t)len;
		f->data = r->last;
		consume(r, hl + 1 + len);
		return 1;
	}
}

void frame_reader_free(struct frame_reader *r)
{
	free(r->buf);
	free(r->last);
	memset(r, 0, sizeof(*r));
}

int frame_reader_fill(struct frame_reader *r, int fd)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	if (n > 0) {
		int e = frame_reader_feed(r, buf, (size_t)n);

		if (e)
			return e;
	}
	return (int)n;
}

int frame_send(int fd, const char *type, uint32_t id, const void *data, size_t len)
{
	char hdr[64];
	int n = snprintf(hdr, sizeof(hdr), "%s %u %zu\n", type, id, len);
	int r = gears_sock_write_all(fd, hdr, (size_t)n);

	if (!r && len)
		r = gears_sock_write_all(fd, data, len);
	return r;
}
