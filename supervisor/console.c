// SPDX-License-Identifier: MIT
/*
 * The serial console: passed through to our stdout (the command's output in
 * RUN mode ends at the agent's end mark), keys relayed from a terminal, and
 * the boot messages kept aside in case the guest dies before the command runs.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"
#include "sup_int.h"

#define EARLY_MAX (64u << 10)	/* console bytes kept from before the command starts */
#define ESCAPE_CHAR 0x1d	/* Ctrl-] */

void sup_tty_raw(struct sup *s)
{
	struct termios t;

	if (tcgetattr(0, &s->saved))
		return;
	t = s->saved;
	cfmakeraw(&t);
	if (!tcsetattr(0, TCSAFLUSH, &t))
		s->raw = true;
}

void sup_tty_restore(struct sup *s)
{
	if (s->raw) {
		tcsetattr(0, TCSAFLUSH, &s->saved);
		s->raw = false;
	}
}

static void out_write(const char *p, size_t n)
{
	gears_sock_write_all(1, p, n);
}

/*
 * RUN output: pass bytes through until the agent's end mark, holding back a
 * tail that could be the start of a mark split across reads.
 */
static void console_marked(struct sup *s, const char *buf, size_t n)
{
	char tmp[65536 + 32];
	size_t len = s->held, i;

	memcpy(tmp, s->out_hold, s->held);
	memcpy(tmp + len, buf, n);
	len += n;
	s->held = 0;
	char *m = memmem(tmp, len, s->mark, s->mark_len);

	if (m) {
		out_write(tmp, (size_t)(m - tmp));
		s->show_console = false;	/* the rest is the kernel powering off */
		s->want_mark = false;
		if (s->exit_pending)
			sup_power_off(s);
		return;
	}
	/* Keep the longest suffix that is a prefix of the mark. */
	for (i = len < s->mark_len - 1 ? len : s->mark_len - 1; i > 0; i--)
		if (!memcmp(tmp + len - i, s->mark, i))
			break;
	out_write(tmp, len - i);
	memcpy(s->out_hold, tmp + len - i, i);
	s->held = i;
}

void sup_console_input(struct sup *s)
{
	char buf[65536];
	ssize_t n = read(s->con_fd, buf, sizeof(buf));

	if (n <= 0) {
		close(s->con_fd);
		s->con_fd = -1;
		return;
	}
	/* `gears console` clients see everything, whatever we show ourselves. */
	for (int i = 0; i < SUP_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].console_id)
			sup_send(s, i, "CON", s->clients[i].console_id, buf, (size_t)n);
	if (s->show_console && s->want_mark) {
		console_marked(s, buf, (size_t)n);
	} else if (s->show_console) {
		out_write(buf, (size_t)n);
	} else {
		if (!s->early && !(s->early = malloc(EARLY_MAX)))
			return;
		if (s->early_len + (size_t)n <= EARLY_MAX) {
			memcpy(s->early + s->early_len, buf, (size_t)n);
			s->early_len += (size_t)n;
		}
	}
}

/* What the console still has (the command's last words), at the end. */
void sup_console_drain(struct sup *s)
{
	if (s->con_fd < 0 || !s->show_console)
		return;
	while (gears_sock_wait_readable(s->con_fd, 0) > 0) {
		int before = s->con_fd;

		sup_console_input(s);
		if (s->con_fd < 0 || s->con_fd != before)
			break;
	}
}

void sup_stdin_input(struct sup *s)
{
	char buf[4096];
	ssize_t n = read(0, buf, sizeof(buf));

	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == ESCAPE_CHAR) {
			snprintf(s->why, sizeof(s->why), "console closed with Ctrl-]");
			s->exit_code = s->cmd_done ? s->cmd_status : 0;
			kill(getpid(), SIGTERM);	/* leave through the common path */
			return;
		}
	}
	if (s->con_fd >= 0)
		gears_sock_write_all(s->con_fd, buf, (size_t)n);
}

/* CONSOLE id: this client gets the console's output as CON frames (UNCONSOLE
 * ends it). */
void sup_console_subscribe(struct sup *s, const struct sup_req *rq, bool on)
{
	if (on && s->con_fd < 0) {
		sup_reply_fail(rq, "the console is closed");
		return;
	}
	s->clients[rq->client].console_id = on ? (rq->id ? rq->id : 1) : 0;
	sup_reply_ok(rq, NULL);
}

/* TYPE id: bytes for the console's input, as if typed at it. */
void sup_console_type(struct sup *s, const struct sup_req *rq)
{
	if (s->con_fd < 0 || gears_sock_write_all(s->con_fd, rq->data, rq->len)) {
		sup_reply_fail(rq, "the console is closed");
		return;
	}
	sup_reply_ok(rq, NULL);
}
