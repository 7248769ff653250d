// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gears/vm.h>

#include "cli.h"
#include "ctl.h"
#include "frame.h"
#include "../lib/sock.h"

int ctl_connect(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/ctl.sock", gears_runtime_dir(), name);
	return gears_sock_connect(path, 0);
}

int ctl_call(const char *name, const char *type, const char *payload, char **reply, int timeout_ms)
{
	struct frame_reader rd = { 0 };
	struct frame f;
	uint64_t deadline = cli_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int fd = ctl_connect(name), r = -ETIMEDOUT;

	*reply = NULL;
	if (fd < 0)
		return fd;
	if (frame_send(fd, type, 1, payload, payload ? strlen(payload) : 0) < 0) {
		close(fd);
		return -EPIPE;
	}
	while (cli_now_ns() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = frame_reader_fill(&rd, fd);
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			r = -EPIPE;
			break;
		}
		while (frame_reader_next(&rd, &f) == 1) {
			if (f.id != 1)
				continue;	/* PID announcements and the like */
			*reply = strndup(f.data ? f.data : "", f.len);
			r = strcmp(f.type, "FAIL") ? 0 : 1;
			goto out;
		}
	}
out:
	frame_reader_free(&rd);
	close(fd);
	return r;
}

json_t *ctl_request(const char *name, const char *type, json_t *req, int timeout_ms, const char *what)
{
	char *txt = json_dumps(req, JSON_COMPACT), *reply = NULL;
	json_t *j = NULL;
	int r;

	json_decref(req);
	if (!txt) {
		cli_error("out of memory");
		return NULL;
	}
	r = ctl_call(name, type, txt, &reply, timeout_ms);
	free(txt);
	if (r < 0)
		cli_error("VM '%s': %s", name, r == -ENOENT || r == -ECONNREFUSED ?
			  "no such VM (started with gears run --name?)" : strerror(-r));
	else if (r == 1)
		cli_error("%s%s", what, reply);
	else if (!(j = json_loads(reply, 0, NULL)))
		cli_error("bad answer from the supervisor");
	free(reply);
	return j;
}
