// SPDX-License-Identifier: MIT
/*
 * The VM's control socket (ctl.sock, include/gears/ctl.h): who may connect,
 * per-client output queues, and routing of requests — the supervisor's own
 * (EXEC, SIGNAL, GO, STOP, INFO) and those the services declared.
 *
 * Everything a client can ask for runs as root inside the guest (commands,
 * injections, module loads), so only the VM's owner and root may connect:
 * the socket is mode 0600 in a directory only the owner can enter, and every
 * connection's credentials (SO_PEERCRED) are checked before it is served.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"
#include "sup_int.h"

int sup_ctl_listen(struct sup *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *p = gears_vm__path(s->vm, "ctl.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (strlen(p) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, p);
	unlink(p);
	/* Created 0600 from the start: no window in which others could connect. */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));

	umask(old);
	if (r || listen(fd, 16)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static bool peer_allowed(struct sup *s, int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || len != sizeof(cr))
		return false;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == s->owner;
}

void sup_ctl_accept(struct sup *s)
{
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	uid_t uid = (uid_t)-1;

	if (fd < 0)
		return;
	if (!peer_allowed(s, fd, &uid)) {
		char msg[128];
		int n = snprintf(msg, sizeof(msg), "user %d may not drive VM '%s' (owner %d or root only)",
				 (int)uid, gears_vm__name(s->vm), (int)s->owner);

		s->refused++;
		frame_send(fd, "FAIL", 0, msg, (size_t)n);
		close(fd);
		return;
	}
	for (int i = 0; i < SUP_MAX_CLIENTS; i++) {
		if (s->clients[i].fd < 0) {
			s->clients[i].fd = fd;
			return;
		}
	}
	frame_send(fd, "FAIL", 0, "too many clients", 16);
	close(fd);
}

void sup_send(struct sup *s, int ci, const char *type, uint32_t id, const void *data, size_t len)
{
	struct sup_client *c;
	char hdr[64];
	int h;

	if (ci < 0 || ci >= SUP_MAX_CLIENTS || (c = &s->clients[ci])->fd < 0)
		return;
	h = snprintf(hdr, sizeof(hdr), "%s %u %zu\n", type, id, len);
	if (c->out_len + (size_t)h + len > SUP_OUTQ_MAX) {
		c->lost++;
		return;
	}
	if (c->out_len + (size_t)h + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 65536;

		while (cap < c->out_len + (size_t)h + len)
			cap *= 2;
		char *nb = realloc(c->out, cap);

		if (!nb) {
			c->lost++;
			return;
		}
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, hdr, (size_t)h);
	if (len)
		memcpy(c->out + c->out_len + h, data, len);
	c->out_len += (size_t)h + len;
}

void sup_reply_ok(const struct sup_req *rq, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

	sup_send(rq->sup, rq->client, "OK", rq->id, txt, txt ? strlen(txt) : 0);
	free(txt);
	json_decref(j);
}

static void vsendf(struct sup *s, int client, const char *type, uint32_t id, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
static void vsendf(struct sup *s, int client, const char *type, uint32_t id, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		n = 0;
	sup_send(s, client, type, id, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void sup_sendf(struct sup *s, int client, const char *type, uint32_t id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsendf(s, client, type, id, fmt, ap);
	va_end(ap);
}

void sup_reply_fail(const struct sup_req *rq, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsendf(rq->sup, rq->client, "FAIL", rq->id, fmt, ap);
	va_end(ap);
}

bool sup_client_alive(struct sup *s, int client)
{
	return client >= 0 && client < SUP_MAX_CLIENTS && s->clients[client].fd >= 0;
}

void sup_ctl_flush(struct sup *s, int ci)
{
	struct sup_client *c = &s->clients[ci];

	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->lost) {
		char txt[24];
		int k = snprintf(txt, sizeof(txt), "%llu", (unsigned long long)c->lost);

		c->lost = 0;
		sup_send(s, ci, "LOST", 0, txt, (size_t)k);
	}
}

void sup_ctl_close(struct sup *s, int i)
{
	struct sup_client *c = &s->clients[i];

	sup_services_client_gone(s, i);
	sup_agent_drop_client(s, i);
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
	c->console_id = 0;
	close(c->fd);
	c->fd = -1;
	frame_reader_free(&c->rd);
}

/* At the end: clients get everything that is queued (a trace's last
 * records), as long as they keep taking it. */
void sup_ctl_flush_all(struct sup *s)
{
	for (int i = 0; i < SUP_MAX_CLIENTS; i++) {
		struct sup_client *c = &s->clients[i];

		while (c->fd >= 0 && c->out_len) {
			size_t before = c->out_len;

			sup_ctl_flush(s, i);
			if (c->out_len && gears_sock_wait_writable(c->fd, 5000) <= 0 && c->out_len == before) {
				fprintf(stderr, "gears: a client stopped reading; %zu bytes not delivered\n", c->out_len);
				break;
			}
		}
		if (c->fd >= 0)
			sup_ctl_close(s, i);
	}
}

static void info(struct sup *s, const struct sup_req *rq)
{
	json_t *j = json_pack("{s:s, s:i, s:b, s:f, s:f, s:I, s:o}", "name", gears_vm__name(s->vm),
			      "qemu_pid", (int)gears_vm__qemu_pid(s->vm), "agent_ready", s->agent == AG_READY,
			      "init_ms", s->t_init ? sup_ms_since(s, s->t_init) : -1.0,
			      "ready_ms", s->t_ready ? sup_ms_since(s, s->t_ready) : -1.0,
			      "refused_clients", (json_int_t)s->refused, "services", sup_services_info(s));
	char *txt = json_dumps(j, JSON_COMPACT);

	sup_send(s, rq->client, "INFO", rq->id, txt, txt ? strlen(txt) : 0);
	free(txt);
	json_decref(j);
}

static void request(struct sup *s, int ci, const struct frame *f)
{
	struct sup_req rq = { .sup = s, .client = ci, .id = f->id, .type = f->type, .data = f->data,
			      .len = f->len };

	if (!strcmp(f->type, "EXEC") || !strcmp(f->type, "SIGNAL")) {
		sup_agent_forward(s, ci, f);
	} else if (!strcmp(f->type, "GO")) {
		s->o.hold = false;
		if (s->agent == AG_READY && !s->cmd_sent)
			sup_start_command(s);
		sup_reply_ok(&rq, NULL);
	} else if (!strcmp(f->type, "STOP")) {
		sup_stop_vm(s, 0, "stopped by `gears stop`");
	} else if (!strcmp(f->type, "INFO")) {
		info(s, &rq);
	} else if (!strcmp(f->type, "CONSOLE") || !strcmp(f->type, "UNCONSOLE")) {
		sup_console_subscribe(s, &rq, f->type[0] == 'C');
	} else if (!strcmp(f->type, "TYPE")) {
		sup_console_type(s, &rq);
	} else if (!sup_services_verb(s, &rq)) {
		sup_reply_fail(&rq, "unknown request '%s'", f->type);
	}
}

void sup_ctl_input(struct sup *s, int i)
{
	struct sup_client *c = &s->clients[i];
	struct frame f;
	int r = frame_reader_fill(&c->rd, c->fd);

	if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR)) {
		sup_ctl_close(s, i);
		return;
	}
	while (c->fd >= 0 && frame_reader_next(&c->rd, &f) == 1)
		request(s, i, &f);
}
