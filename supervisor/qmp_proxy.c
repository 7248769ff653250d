// SPDX-License-Identifier: MIT
/*
 * QMP for other gears tools when this supervisor reaches QEMU's monitor
 * through someone else (libvirt's qemu-monitor-command): the runtime
 * directory's qmp-tool.sock speaks QMP, one client at a time (the tools
 * already serialise on qmp-tool.lock), and each command is passed to QEMU
 * through the supervisor's own connection. Only the VM's owner and root may
 * connect, as on the control socket. Capabilities are negotiated here; no
 * events are relayed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"
#include "sup_int.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 0, \"minor\": 0, \"micro\": 0}, " \
		 "\"package\": \"gears proxy\"}, \"capabilities\": []}}\r\n"

static void drop_client(struct sup *s)
{
	if (s->proxy_client >= 0)
		close(s->proxy_client);
	s->proxy_client = -1;
	gears_qmp_framer__reset(&s->proxy_rd);
}

void sup_qmp_proxy_close(struct sup *s)
{
	drop_client(s);
	if (s->proxy_fd >= 0)
		close(s->proxy_fd);
	s->proxy_fd = -1;
}

int sup_qmp_proxy_fds(struct sup *s, struct pollfd *p, int n, int max)
{
	if (s->proxy_fd < 0 && s->vm && gears_vm__serves_qmp(s->vm)) {
		s->proxy_client = -1;
		s->proxy_fd = sup_listen(s, "qmp-tool.sock");
		if (s->proxy_fd < 0)
			return n;
	}
	if (s->proxy_fd >= 0 && n < max)
		p[n++] = (struct pollfd){ .fd = s->proxy_fd, .events = POLLIN };
	if (s->proxy_client >= 0 && n < max)
		p[n++] = (struct pollfd){ .fd = s->proxy_client, .events = POLLIN };
	return n;
}

/* One request from the client: answered from here or by QEMU. */
static void serve(struct sup *s, json_t *m)
{
	const char *cmd = json_string_value(json_object_get(m, "execute"));
	json_t *id = json_object_get(m, "id"), *ans, *ret;
	char *txt;

	if (!cmd) {
		ans = json_pack("{s:{s:s, s:s}}", "error", "class", "GenericError", "desc", "not a QMP command");
	} else if (!strcmp(cmd, "qmp_capabilities")) {
		ans = json_pack("{s:{}}", "return");
	} else {
		json_t *args = json_object_get(m, "arguments");

		ret = gears_qmp__execute(gears_vm__qmp(s->vm), cmd, args ? json_incref(args) : NULL);
		if (ret)
			ans = json_pack("{s:o}", "return", ret);
		else
			ans = json_pack("{s:{s:s, s:s}}", "error", "class", "GenericError", "desc", gears_last_error());
	}
	if (ans && id)
		json_object_set(ans, "id", id);
	txt = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
	json_decref(ans);
	if (!txt || gears_sock_write_all(s->proxy_client, txt, strlen(txt)) ||
	    gears_sock_write_all(s->proxy_client, "\r\n", 2))
		drop_client(s);
	free(txt);
}

void sup_qmp_proxy_poll(struct sup *s, const struct pollfd *p, int n)
{
	char buf[8192];
	uid_t uid;
	int err;

	for (int i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == s->proxy_fd) {
			int fd = accept4(s->proxy_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				continue;
			/* One at a time: a second waits for the lock anyway. */
			if (s->proxy_client >= 0 || !sup_peer_allowed(s, fd, &uid) ||
			    gears_sock_write_all(fd, GREETING, strlen(GREETING))) {
				close(fd);
				continue;
			}
			s->proxy_client = fd;
		} else if (p[i].fd == s->proxy_client) {
			ssize_t k = read(s->proxy_client, buf, sizeof(buf));
			json_t *m;

			if (k <= 0 || gears_qmp_framer__feed(&s->proxy_rd, buf, (size_t)k)) {
				drop_client(s);
				continue;
			}
			while (s->proxy_client >= 0 && (m = gears_qmp_framer__next(&s->proxy_rd, &err))) {
				serve(s, m);
				json_decref(m);
			}
			if (err)
				drop_client(s);
		}
	}
}
