// SPDX-License-Identifier: MIT
/*
 * gears console NAME: the serial console of a running VM, from any terminal
 * (like `virsh console`), through its supervisor. With --run CMD it types a
 * command at a shell on the console and prints what it wrote: a way to drive
 * a guest that has no gears agent (a distribution booted from its disk) whose
 * console gives a root shell.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include <gears/ctl.h>

#include "cli.h"

#define ESCAPE_CHAR 0x1d	/* Ctrl-] */
#define OUT_MAX (4u << 20)
#define PROBE_EVERY_MS 3000

static void help(FILE *f)
{
	fprintf(f,
		"Without --run: relays the terminal to the VM's serial console until Ctrl-].\n"
		"Options:\n"
		"  --run CMD       type CMD at the shell on the console, print its output, exit\n"
		"                  with its status (the console must give a shell: e.g. a root\n"
		"                  autologin on ttyS0)\n"
		"  --timeout SEC   give up on --run after SEC seconds (default 300); the guest\n"
		"                  may still be booting: gears waits until a shell answers\n");
}

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static int interactive(struct gears_ctl *c)
{
	struct termios saved, raw;
	bool is_tty = isatty(0) && !tcgetattr(0, &saved);
	struct gears_ctl_msg m;
	int ret = 0;

	if (is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSAFLUSH, &raw);
		fprintf(stderr, "gears: console (Ctrl-] to leave)\r\n");
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = gears_ctl__fd(c), .events = POLLIN } };
		char buf[4096];

		if (stop_sig || poll(p, 2, -1) < 0) {
			if (errno == EINTR && !stop_sig)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			char *esc = n > 0 ? memchr(buf, ESCAPE_CHAR, (size_t)n) : NULL;

			if (n <= 0 || esc) {
				if (esc && esc > buf)
					gears_ctl__send(c, "TYPE", 0, buf, (size_t)(esc - buf));
				break;
			}
			gears_ctl__send(c, "TYPE", 0, buf, (size_t)n);
		}
		if (p[1].revents) {
			int r;

			while ((r = gears_ctl__recv(c, &m, 0)) == 1)
				if (!strcmp(m.type, "CON") && write(1, m.data, m.len) < 0)
					break;
			if (r < 0) {
				ret = cli_error("the VM went away");
				break;
			}
		}
	}
	if (is_tty)
		tcsetattr(0, TCSAFLUSH, &saved);
	return ret;
}

/* Console output gathered for --run. */
struct acc {
	char *b;
	size_t len;
};

static void acc_add(struct acc *a, const char *p, size_t n)
{
	char *nb;

	if (a->len + n > OUT_MAX)
		return;
	if (!(nb = realloc(a->b, a->len + n + 1)))
		return;
	a->b = nb;
	memcpy(a->b + a->len, p, n);
	a->len += n;
	a->b[a->len] = 0;
}

/* "MARK:<digits>" with the digits: the shell ran our echo (its typed echo,
 * "MARK:$?", has no digits). Returns the status, -1 if not there yet; *at is
 * where the marker line starts. */
static int find_mark(const struct acc *a, const char *mark, size_t *at)
{
	size_t ml = strlen(mark);

	for (const char *p = a->b; p && (p = strstr(p, mark)); p += ml) {
		const char *d = p + ml;

		if (*d++ != ':' || *d < '0' || *d > '9')
			continue;
		*at = (size_t)(p - a->b);
		return atoi(d);
	}
	return -1;
}

/* Type `line` and wait for its marker: the status of the command, or -1 on
 * timeout; *out gets the console output from after the typed line to before
 * the marker. */
static int type_and_wait(struct gears_ctl *c, const char *cmd, const char *mark, uint64_t deadline,
			 bool retry, struct acc *out)
{
	char line[8192];
	struct acc a = { 0 };
	uint64_t next = 0;
	int n = snprintf(line, sizeof(line), "%s; echo %s:$?\r", cmd, mark), st = -1;
	size_t at = 0;

	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	while (st < 0 && !stop_sig && cli_now_ns() < deadline) {
		struct gears_ctl_msg m;
		int r;

		if (cli_now_ns() >= next) {
			/* A shell that was not there yet (login still starting) has
			 * eaten nothing we need: type it again until one answers. */
			if (gears_ctl__send(c, "TYPE", 0, line, (size_t)n))
				break;
			next = retry ? cli_now_ns() + PROBE_EVERY_MS * 1000000ull : UINT64_MAX;
		}
		r = gears_ctl__recv(c, &m, 200);
		if (r < 0)
			break;
		if (r == 1 && !strcmp(m.type, "CON")) {
			acc_add(&a, m.data, m.len);
			st = find_mark(&a, mark, &at);
		}
	}
	if (st >= 0 && out) {
		/* After the echo of what we typed (the last line holding the
		 * unexpanded "MARK:$?" before the result), up to the marker line. */
		char *start = a.b, *p;
		char probe[96];

		snprintf(probe, sizeof(probe), "%s:$?", mark);
		while ((p = strstr(start, probe)) && p < a.b + at)
			start = p + strlen(probe);
		while (start < a.b + at && *start != '\n')
			start++;
		if (start < a.b + at)
			start++;
		for (p = start; p < a.b + at; p++) {
			/* Terminal control the shell sends (CSI sequences such as
			 * bash's bracketed-paste switch) is not output. */
			if (*p == '\033' && p + 1 < a.b + at && p[1] == '[') {
				for (p += 2; p < a.b + at && !(*p >= 0x40 && *p <= 0x7e); p++)
					;
				continue;
			}
			if (*p != '\r')
				acc_add(out, p, 1);
		}
	}
	free(a.b);
	return st;
}

static int run_command(struct gears_ctl *c, const char *cmd, int timeout_s)
{
	uint64_t deadline = cli_now_ns() + (uint64_t)timeout_s * 1000000000ull, rnd = 0;
	char mark[48];
	struct acc out = { 0 };
	int st;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = cli_now_ns();
	snprintf(mark, sizeof(mark), "gears-done-%016llx", (unsigned long long)rnd);
	/* First a shell that answers (the guest may still be booting). */
	if (type_and_wait(c, "true", mark, deadline, true, NULL) < 0)
		return cli_error("no shell answered on the console within %d s", timeout_s);
	/* A fresh marker for the command itself. (It must stay characters the
	 * shell takes literally: flipping a bit of the last hex digit once made
	 * an 'a' a backquote, and the shell waited for its closing one.) */
	snprintf(mark + strlen(mark), sizeof(mark) - strlen(mark), "-run");
	st = type_and_wait(c, cmd, mark, deadline, false, &out);
	if (out.len && write(1, out.b, out.len) < 0)
		st = -1;
	free(out.b);
	if (st < 0)
		return cli_error("the command did not finish within %d s", timeout_s);
	return st & 0xff;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", required_argument, 0, 'r' }, { "timeout", required_argument, 0, 't' },
		{ "json", no_argument, 0, 'j' }, { "pretty", no_argument, 0, 'p' }, { 0, 0, 0, 0 }
	};
	const char *cmd = NULL, *name;
	int timeout_s = 300, c, ret;
	struct gears_ctl *ctl;
	struct gears_ctl_msg m;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': cmd = optarg; break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s < 1 || timeout_s > 86400)
				return cli_error("--timeout takes 1..86400 seconds");
			break;
		case 'j': case 'p': break;
		default: return cli_usage(&cmd_console, stderr);
		}
	}
	if (optind != argc - 1)
		return cli_usage(&cmd_console, stderr);
	name = argv[optind];
	/* --run may be given while the VM is still starting: wait for it. */
	if (!(ctl = gears_ctl__open(name, cmd ? 30000 : 0)))
		return cli_error("%s", gears_last_error());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	c = gears_ctl__send(ctl, "CONSOLE", 1, NULL, 0);
	while (!c && (c = gears_ctl__recv(ctl, &m, 5000)) == 1 && m.id != 1)
		c = 0;	/* announcements */
	if (c != 1 || strcmp(m.type, "OK")) {
		gears_ctl__close(ctl);
		return cli_error("VM '%s': cannot attach to its console", name);
	}
	ret = cmd ? run_command(ctl, cmd, timeout_s) : interactive(ctl);
	gears_ctl__close(ctl);
	return ret;
}

const struct gears_cmd cmd_console = {
	.name = "console",
	.args = "NAME [--run CMD [--timeout SEC]]",
	.summary = "the serial console of a running VM (interactive, or type one command)",
	.run = run,
	.help = help,
};
