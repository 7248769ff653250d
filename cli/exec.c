// SPDX-License-Identifier: MIT
/*
 * gears exec NAME -- CMD: run a command in a running VM through its guest agent,
 * with stdout/stderr passed through and its exit status returned. A convenience
 * for people and tests; introspection never depends on the agent.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gears/ctl.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "Runs CMD in the VM NAME (started with `gears run --name NAME`) through the\n"
		   "default image's agent. stdin is not forwarded. Ctrl-C interrupts CMD.\n"
		   "Exit status: CMD's; 128+N if it died of signal N; 127 if it could not start.\n");
}

static volatile sig_atomic_t interrupted, terminated;

static void on_signal(int sig)
{
	/* Ctrl-C is passed to the guest command (a second one gives up);
	 * anything else ends us after killing the guest command. */
	if (sig == SIGINT && !interrupted)
		interrupted = sig;
	else
		terminated = sig;
}

/* stdout/stderr of the guest command, whole even when the pipe is slow. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static int run(int argc, char **argv)
{
	struct gears_ctl *c;
	struct gears_ctl_msg m;
	char *payload;
	size_t len;
	int i = 1, code = -1;

	if (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"))
		i++;	/* --json etc. were handled globally */
	if (i >= argc || argv[i][0] == '-')
		return cli_usage(&cmd_exec, stderr);
	const char *name = argv[i++];

	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		return cli_usage(&cmd_exec, stderr);
	c = gears_ctl__open(name, 0);
	if (!c)
		return cli_error("%s", gears_last_error());
	payload = gears_ctl__pack_argv(argv + i, &len);
	if (!payload || gears_ctl__send(c, "EXEC", 1, payload, len)) {
		free(payload);
		gears_ctl__close(c);
		return cli_error("VM '%s': cannot send the command", name);
	}
	free(payload);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	while (code < 0) {
		if (interrupted > 0) {
			gears_ctl__send(c, "SIGNAL", 1, "2", 1);
			interrupted = -1;
		}
		if (terminated) {
			gears_ctl__send(c, "SIGNAL", 1, "9", 1);
			code = 128 + terminated;
			break;
		}
		int r = gears_ctl__recv(c, &m, 500);

		if (r == 0 || r == -EINTR)
			continue;
		if (r < 0) {
			cli_error("VM '%s' went away", name);
			code = 125;
			break;
		}
		if (!strcmp(m.type, "OUT")) {
			write_all(1, m.data, m.len);
		} else if (!strcmp(m.type, "ERR")) {
			write_all(2, m.data, m.len);
		} else if (!strcmp(m.type, "EXIT")) {
			int sig;

			code = sscanf(m.data, "signal %d", &sig) == 1 ? 128 + sig : atoi(m.data) & 0xff;
		} else if (!strcmp(m.type, "FAIL")) {
			cli_error("%s", m.data);
			code = 127;
		}
	}
	gears_ctl__close(c);
	return code;
}

const struct gears_cmd cmd_exec = {
	.name = "exec",
	.args = "NAME [--] CMD [ARGS...]",
	.summary = "run a command in a running VM (through the default image's agent)",
	.run = run,
	.help = help,
};
