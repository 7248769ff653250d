// SPDX-License-Identifier: MIT
/* gears kernel NAME: what the guest runs, read from its memory. */
#include <inttypes.h>

#include <gears/linux.h>
#include <gears/vm.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "Prints the guest kernel's release and version (from init_uts_ns), its KASLR\n"
		   "offset (_text - 0xffffffff81000000), paging levels, the number of kallsyms\n"
		   "symbols found in guest memory, and the vCPU count.\n");
}

static int run(int argc, char **argv)
{
	const char *name = NULL;
	struct gears_vm *vm;
	struct gears_linux *l;
	json_t *cpus;
	int ncpu;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			name = argv[i];
	if (!name)
		return cli_usage(&cmd_kernel, stderr);
	l = cli_open_kernel(name, &vm);
	if (!l)
		return 1;
	cpus = gears_qmp__execute(gears_vm__qmp(vm), "query-cpus-fast", NULL);
	gears_vm__qmp_release(vm);
	ncpu = cpus ? (int)json_array_size(cpus) : gears_vm__ncpus(vm);
	json_decref(cpus);
	gears_linux__nsyms(l);
	if (json_mode) {
		char kaslr[32];

		snprintf(kaslr, sizeof(kaslr), "0x%" PRIx64, gears_linux__kaslr(l));
		cli_json_print(json_pack("{s:s, s:s, s:s, s:i, s:I, s:i, s:i}",
					 "release", gears_linux__release(l),
					 "version", gears_linux__version(l), "kaslr_offset", kaslr,
					 "paging_levels", gears_linux__levels(l),
					 "kallsyms", (json_int_t)gears_linux__nsyms(l), "vcpus", ncpu,
					 "nr_cpu_ids", gears_linux__nr_cpus(l)));
	} else {
		printf("release:        %s\n", gears_linux__release(l));
		printf("version:        %s\n", gears_linux__version(l));
		printf("kaslr offset:   0x%" PRIx64 "\n", gears_linux__kaslr(l));
		printf("paging levels:  %d\n", gears_linux__levels(l));
		printf("kallsyms:       %zu symbols\n", gears_linux__nsyms(l));
		printf("vcpus:          %d\n", ncpu);
	}
	gears_vm__close(vm);
	return 0;
}

const struct gears_cmd cmd_kernel = {
	.name = "kernel",
	.args = "[--json] NAME",
	.summary = "show the guest kernel's release, KASLR offset, paging, symbols, vCPUs",
	.run = run,
	.help = help,
};
