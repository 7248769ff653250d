// SPDX-License-Identifier: MIT
/* Client side of a supervisor's control socket (include/gears/ctl.h). */
#include <poll.h>
#include <unistd.h>

#include <gears/ctl.h>
#include <gears/vm.h>

#include "frame.h"
#include "internal.h"
#include "sock.h"

struct gears_ctl {
	int fd;
	struct frame_reader rd;
};

struct gears_ctl *gears_ctl__open(const char *name, int timeout_ms)
{
	char path[512];
	struct gears_ctl *c;
	int fd;

	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return gears_err_ptr(EINVAL, "bad VM name '%s'", name ? name : "");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/ctl.sock", gears_runtime_dir(), name) >= sizeof(path))
		return gears_err_ptr(ENAMETOOLONG, "runtime path too long");
	/* A socket in a directory others can write may be anyone's. */
	if (!access(gears_runtime_dir(), F_OK) && (fd = vm_private_dir(gears_runtime_dir()))) {
		errno = -fd;
		return NULL;
	}
	fd = gears_sock_connect(path, timeout_ms);
	if (fd < 0) {
		if (fd == -ENOENT || fd == -ECONNREFUSED)
			gears_err(-fd, "no running VM named '%s' with a supervisor", name);
		errno = -fd;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return gears_err_ptr(ENOMEM, "out of memory");
	}
	c->fd = fd;
	return c;
}

void gears_ctl__close(struct gears_ctl *c)
{
	if (!c)
		return;
	close(c->fd);
	frame_reader_free(&c->rd);
	free(c);
}

int gears_ctl__fd(const struct gears_ctl *c)
{
	return c->fd;
}

int gears_ctl__send(struct gears_ctl *c, const char *type, uint32_t id, const void *data, size_t len)
{
	if (!type || !*type || strlen(type) > 15 || strpbrk(type, " \n") || len > GEARS_CTL_MAX_PAYLOAD)
		return gears_err(EINVAL, "bad control frame (type '%s', %zu bytes)", type ? type : "", len);
	return frame_send(c->fd, type, id, data, len);
}

int gears_ctl__recv(struct gears_ctl *c, struct gears_ctl_msg *m, int timeout_ms)
{
	uint64_t deadline = gears_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;

	for (;;) {
		struct frame f;
		int r = frame_reader_next(&c->rd, &f);

		if (r < 0)
			return r;
		if (r == 1) {
			memcpy(m->type, f.type, sizeof(m->type));
			m->id = f.id;
			m->len = f.len;
			m->data = f.data;
			return 1;
		}
		uint64_t now = gears_now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		r = poll(&p, 1, left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0) {
			if (now >= deadline)
				return 0;
			continue;
		}
		r = frame_reader_fill(&c->rd, c->fd);
		if (r == 0)
			return -EPIPE;
		if (r < 0 && r != -EAGAIN && r != -EINTR)
			return r == -ECONNRESET ? -EPIPE : r;
	}
}

int gears_ctl__call(const char *name, const char *type, const char *payload, char **reply, int timeout_ms)
{
	uint64_t deadline = gears_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct gears_ctl *c = gears_ctl__open(name, 0);
	struct gears_ctl_msg m;
	int r;

	*reply = NULL;
	if (!c)
		return -errno;
	r = gears_ctl__send(c, type, 1, payload, payload ? strlen(payload) : 0);
	while (!r) {
		uint64_t now = gears_now_ns();

		if (now >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		r = gears_ctl__recv(c, &m, (int)((deadline - now) / 1000000) + 1);
		if (r < 0)
			break;
		if (r == 0 || m.id != 1) {
			r = 0;
			continue;	/* PID announcements and the like */
		}
		*reply = strndup(m.data, m.len);
		r = *reply ? (strcmp(m.type, "FAIL") ? 0 : 1) : -ENOMEM;
		break;
	}
	gears_ctl__close(c);
	return r;
}

char *gears_ctl__pack_argv(char *const argv[], size_t *len)
{
	size_t n = 0;
	char *out, *p;

	for (int i = 0; argv && argv[i]; i++)
		n += strlen(argv[i]) + 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	p = out;
	for (int i = 0; argv && argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;

		memcpy(p, argv[i], l);
		p += l;
	}
	*len = n;
	return out;
}

char **gears_ctl__unpack_argv(char *data, size_t len)
{
	size_t n = 0, i;
	char **v;

	for (i = 0; i < len; i++)
		if (!data[i])
			n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	n = 0;
	/* Only strings terminated inside the payload: a last one without its
	 * NUL is dropped, never read past the end. */
	for (i = 0; i < len; i += strlen(data + i) + 1) {
		if (!memchr(data + i, 0, len - i))
			break;
		v[n++] = data + i;
	}
	return v;
}
