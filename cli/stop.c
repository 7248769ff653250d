// SPDX-License-Identifier: MIT
/* gears stop NAME: a clean power-off of a running VM. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <gears/vm.h>

#include "cli.h"
#include "ctl.h"
#include "frame.h"

static void help(FILE *f)
{
	fprintf(f, "Asks the VM's supervisor to power the guest off (through the agent, else\n"
		   "ACPI), waits until QEMU has exited and the runtime files are gone.\n"
		   "A guest that does not power off within 15 s is stopped hard.\n");
}

static int run(int argc, char **argv)
{
	const char *name = NULL;
	char buf[256];
	int fd;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			name = argv[i];
	if (!name)
		return cli_usage(&cmd_stop, stderr);
	fd = ctl_connect(name);
	if (fd < 0) {
		/* No supervisor (it was killed): stop QEMU through QMP if it lives. */
		struct gears_vm *vm = gears_vm__attach(name);

		if (!vm)
			return cli_error("%s", gears_last_error());
		json_decref(gears_qmp__execute(gears_vm__qmp(vm), "quit", NULL));
		gears_vm__close(vm);
	} else {
		frame_send(fd, "STOP", 0, NULL, 0);
		/* The supervisor closes the socket when it exits. */
		for (int waited = 0; waited < 60000; waited += 200) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, 200) > 0 && read(fd, buf, sizeof(buf)) <= 0)
				break;
		}
		close(fd);
	}
	if (json_mode)
		cli_json_print(json_pack("{s:s, s:b}", "name", name, "stopped", 1));
	return 0;
}

const struct gears_cmd cmd_stop = {
	.name = "stop",
	.args = "NAME",
	.summary = "power a running VM off cleanly",
	.run = run,
	.help = help,
};
