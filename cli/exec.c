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

#include "cli.h"
#include "ctl.h"
#include "frame.h"
#include "../lib/sock.h"

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

static int run(int argc, char **argv)
{
	struct frame_reader rd = { 0 };
	struct frame f;
	char *payload;
	size_t len;
	int fd, i = 1, code = -1;

	if (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"))
		i++;	/* --json etc. were handled globally */
	if (i >= argc || argv[i][0] == '-')
		return cli_usage(&cmd_exec, stderr);
	const char *name = argv[i++];

	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		return cli_usage(&cmd_exec, stderr);
	fd = ctl_connect(name);
	if (fd < 0)
		return cli_error("no running VM named '%s' with a supervisor", name);
	payload = argv_pack(argv + i, &len);
	frame_send(fd, "EXEC", 1, payload, len);
	free(payload);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	while (code < 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (interrupted > 0) {
			frame_send(fd, "SIGNAL", 1, "2", 1);
			interrupted = -1;
		}
		if (terminated) {
			frame_send(fd, "SIGNAL", 1, "9", 1);
			code = 128 + terminated;
			break;
		}
		if (poll(&p, 1, 500) < 0 && errno != EINTR)
			break;
		if (!p.revents)
			continue;
		int r = frame_reader_fill(&rd, fd);

		if (r == 0 || (r < 0 && r != -EINTR && r != -EAGAIN)) {
			cli_error("VM '%s' went away", name);
			code = 125;
			break;
		}
		while (code < 0 && frame_reader_next(&rd, &f) == 1) {
			if (!strcmp(f.type, "OUT"))
				gears_sock_write_all(1, f.data, f.len);
			else if (!strcmp(f.type, "ERR"))
				gears_sock_write_all(2, f.data, f.len);
			else if (!strcmp(f.type, "EXIT")) {
				int sig;

				code = sscanf(f.data, "signal %d", &sig) == 1 ? 128 + sig : atoi(f.data) & 0xff;
			} else if (!strcmp(f.type, "FAIL")) {
				cli_error("%s", f.data);
				code = 127;
			}
		}
	}
	frame_reader_free(&rd);
	close(fd);
	return code;
}

const struct gears_cmd cmd_exec = {
	.name = "exec",
	.args = "NAME [--] CMD [ARGS...]",
	.summary = "run a command in a running VM (through the default image's agent)",
	.run = run,
	.help = help,
};
