// SPDX-License-Identifier: MIT
/* gears list: running VMs. */
#include <string.h>
#include <sys/types.h>

#include <gears/vm.h>

#include "cli.h"

static void add(const char *name, pid_t pid, void *ctx)
{
	if (json_mode)
		json_array_append_new(ctx, json_pack("{s:s, s:i}", "name", name, "pid", (int)pid));
	else
		printf("%-24s %d\n", name, (int)pid);
}

static int run(int argc, char **argv)
{
	json_t *arr;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runtime-dir")) {
			printf("%s\n", gears_runtime_dir());
			return 0;
		}
	}
	arr = json_array();
	if (gears_vm__list(NULL, NULL) < 0) {
		json_decref(arr);
		return cli_error("%s", gears_last_error());
	}
	if (!json_mode)
		printf("%-24s %s\n", "NAME", "SUPERVISOR");
	gears_vm__list(add, arr);
	if (json_mode)
		cli_json_print(arr);
	else
		json_decref(arr);
	return 0;
}

const struct gears_cmd cmd_list = {
	.name = "list",
	.args = "[--runtime-dir]",
	.summary = "list running VMs",
	.run = run,
};
