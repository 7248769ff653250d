// SPDX-License-Identifier: MIT
/*
 * QMP client. One command in flight at a time (QMP answers in order); events
 * that arrive in between are queued to the event callback.
 */
#include <unistd.h>

#include <gears/qmp.h>

#include "internal.h"
#include "sock.h"

#define QMP_MAX_MSG (16u << 20)

struct gears_qmp {
	int fd;
	int timeout_ms;
	struct gears_qmp_framer fr;
	gears_qmp_event_fn event_fn;
	void *event_ctx;
};

int gears_qmp_framer__feed(struct gears_qmp_framer *f, const void *data, size_t len)
{
	if (f->len + len > QMP_MAX_MSG)
		return gears_err(EMSGSIZE, "QMP message over %u bytes", QMP_MAX_MSG);
	if (f->len + len + 1 > f->cap) {
		size_t cap = GEARS_MAX(f->cap * 2, f->len + len + 1);
		char *nb = realloc(f->buf, GEARS_MAX(cap, 4096));

		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap = GEARS_MAX(cap, 4096);
	}
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	f->buf[f->len] = 0;
	return 0;
}

json_t *gears_qmp_framer__next(struct gears_qmp_framer *f, int *err)
{
	json_error_t je;
	size_t skip = 0;
	json_t *j;

	*err = 0;
	/* Skip the whitespace (CRLF) between messages. */
	while (skip < f->len && (f->buf[skip] == ' ' || f->buf[skip] == '\r' ||
				 f->buf[skip] == '\n' || f->buf[skip] == '\t'))
		skip++;
	if (skip) {
		memmove(f->buf, f->buf + skip, f->len - skip);
		f->len -= skip;
	}
	if (!f->len)
		return NULL;
	if (f->buf[0] != '{') {
		*err = EBADMSG;
		gears_err(EBADMSG, "QMP stream does not start with a JSON object");
		return NULL;
	}
	j = json_loadb(f->buf, f->len, JSON_DISABLE_EOF_CHECK, &je);
	if (!j) {
		/* Incomplete input shows up as a premature end; anything else is junk. */
		if (json_error_code(&je) == json_error_premature_end_of_input)
			return NULL;
		*err = EBADMSG;
		gears_err(EBADMSG, "QMP message is not JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*err = EBADMSG;
		gears_err(EBADMSG, "QMP message is not a JSON object");
		return NULL;
	}
	memmove(f->buf, f->buf + je.position, f->len - (size_t)je.position);
	f->len -= (size_t)je.position;
	return j;
}

void gears_qmp_framer__reset(struct gears_qmp_framer *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* Read whatever is available (waiting up to timeout_ms for the first byte). */
static int qmp_fill(struct gears_qmp *q, int timeout_ms)
{
	char buf[65536];
	int r = gears_sock_wait_readable(q->fd, timeout_ms);
	ssize_t n;

	if (r < 0)
		return r;
	if (r == 0)
		return gears_err(ETIMEDOUT, "QMP: no answer from QEMU within %d ms", timeout_ms);
	n = read(q->fd, buf, sizeof(buf));
	if (n < 0)
		return gears_err(errno, "QMP read: %s", strerror(errno));
	if (n == 0)
		return gears_err(EPIPE, "QMP: QEMU closed the connection");
	return gears_qmp_framer__feed(&q->fr, buf, (size_t)n);
}

static void deliver_event(struct gears_qmp *q, json_t *msg)
{
	const char *ev = json_string_value(json_object_get(msg, "event"));

	pr_debug("QMP event %s", ev);
	if (q->event_fn)
		q->event_fn(ev, json_object_get(msg, "data"), q->event_ctx);
}

/* Next non-event message, delivering events on the way. */
static json_t *qmp_recv_reply(struct gears_qmp *q)
{
	uint64_t deadline = gears_now_ns() + (uint64_t)q->timeout_ms * 1000000ull;

	for (;;) {
		int err;
		json_t *m = gears_qmp_framer__next(&q->fr, &err);

		if (err)
			return errno = err, NULL;
		if (m) {
			if (json_object_get(m, "event")) {
				deliver_event(q, m);
				json_decref(m);
				continue;
			}
			return m;
		}
		uint64_t now = gears_now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ull);
		int r = qmp_fill(q, left);

		if (r < 0)
			return errno = -r, NULL;
	}
}

json_t *gears_qmp__execute(struct gears_qmp *q, const char *cmd, json_t *args)
{
	json_t *req = json_pack("{s:s}", "execute", cmd);
	json_t *reply, *ret, *e;
	char *s;
	int r;

	if (!req) {
		json_decref(args);
		return gears_err_ptr(ENOMEM, "QMP: building request");
	}
	if (args)
		json_object_set_new(req, "arguments", args);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!s)
		return gears_err_ptr(ENOMEM, "QMP: encoding request");
	pr_debug("QMP -> %s", s);
	r = gears_sock_write_all(q->fd, s, strlen(s));
	if (!r)
		r = gears_sock_write_all(q->fd, "\n", 1);
	free(s);
	if (r)
		return gears_err_ptr(-r, "QMP write: %s", strerror(-r));
	reply = qmp_recv_reply(q);
	if (!reply)
		return NULL;
	e = json_object_get(reply, "error");
	if (e) {
		gears_err(EREMOTEIO, "QMP %s failed: %s: %s", cmd,
			  json_string_value(json_object_get(e, "class")) ?: "?",
			  json_string_value(json_object_get(e, "desc")) ?: "?");
		json_decref(reply);
		errno = EREMOTEIO;
		return NULL;
	}
	ret = json_object_get(reply, "return");
	if (!ret) {
		json_decref(reply);
		return gears_err_ptr(EBADMSG, "QMP %s: reply without \"return\"", cmd);
	}
	json_incref(ret);
	json_decref(reply);
	return ret;
}

char *gears_qmp__hmp(struct gears_qmp *q, const char *cmdline)
{
	json_t *r = gears_qmp__execute(q, "human-monitor-command",
				       json_pack("{s:s}", "command-line", cmdline));
	char *out;

	if (!r)
		return NULL;
	if (!json_is_string(r)) {
		json_decref(r);
		return gears_err_ptr(EBADMSG, "QMP human-monitor-command: not a string");
	}
	out = strdup(json_string_value(r));
	json_decref(r);
	return out;
}

struct gears_qmp *gears_qmp__connect(const char *path, int timeout_ms)
{
	struct gears_qmp *q = calloc(1, sizeof(*q));
	json_t *greet, *r;

	if (!q)
		return NULL;
	q->timeout_ms = 10000;
	q->fd = gears_sock_connect(path, timeout_ms);
	if (q->fd < 0) {
		int e = -q->fd;

		free(q);
		errno = e;
		return NULL;
	}
	greet = qmp_recv_reply(q);
	if (!greet || !json_object_get(greet, "QMP")) {
		json_decref(greet);
		gears_qmp__close(q);
		return gears_err_ptr(EPROTO, "%s: no QMP greeting", path);
	}
	json_decref(greet);
	r = gears_qmp__execute(q, "qmp_capabilities", NULL);
	if (!r) {
		gears_qmp__close(q);
		return NULL;
	}
	json_decref(r);
	return q;
}

void gears_qmp__close(struct gears_qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	gears_qmp_framer__reset(&q->fr);
	free(q);
}

void gears_qmp__set_event_cb(struct gears_qmp *q, gears_qmp_event_fn fn, void *ctx)
{
	q->event_fn = fn;
	q->event_ctx = ctx;
}

int gears_qmp__fd(const struct gears_qmp *q)
{
	return q->fd;
}

void gears_qmp__set_timeout(struct gears_qmp *q, int timeout_ms)
{
	q->timeout_ms = timeout_ms;
}

int gears_qmp__dispatch(struct gears_qmp *q)
{
	int n = 0;

	for (;;) {
		int err;
		json_t *m;

		while ((m = gears_qmp_framer__next(&q->fr, &err))) {
			if (json_object_get(m, "event")) {
				deliver_event(q, m);
				n++;
			}
			json_decref(m);
		}
		if (err)
			return -err;
		int r = gears_sock_wait_readable(q->fd, 0);

		if (r <= 0)
			return r < 0 ? r : n;
		r = qmp_fill(q, 0);
		if (r < 0)
			return r;
	}
}
