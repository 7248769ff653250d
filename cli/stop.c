// SPDX-License-Identifier: MIT
/* gears stop NAME: a clean power-off of a running VM. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <gears/ctl.h>
#include <gears/vm.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "Asks the VM's supervisor to power the guest off (through the agent, else\n"
		   "ACPI), waits until QEMU has exited and the runtime files are gone.\n"
		   "A guest that does not power off within 15 s is stopped hard.\n");
}

static int run(int argc, char **argv)
{
	const char *name = NULL;
	struct gears_ctl *c;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			name = argv[i];
	if (!name)
		return cli_usage(&cmd_stop, stderr);
	c = gears_ctl__open(name, 0);
	if (!c) {
		/* No supervisor (it was killed): stop QEMU through QMP if it lives. */
		struct gears_vm *vm = gears_vm__attach(name);

		if (!vm)
			return cli_error("%s", gears_last_error());
		json_decref(gears_qmp__execute(gears_vm__qmp(vm), "quit", NULL));
		gears_vm__close(vm);
	} else {
		struct gears_ctl_msg m;
		int r = gears_ctl__send(c, "STOP", 0, NULL, 0);

		/* The supervisor closes the socket when it exits. */
		for (int waited = 0; !r && waited < 60000; waited += 200) {
			r = gears_ctl__recv(c, &m, 200);
			r = r < 0 && r != -EINTR ? r : 0;
		}
		gears_ctl__close(c);
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
