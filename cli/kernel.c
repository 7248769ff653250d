// SPDX-License-Identifier: MIT
/* gears kernel NAME: what the guest runs, read from its memory. */
#include <inttypes.h>
#include <string.h>

#include <gears/linux.h>
#include <gears/vm.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f, "Prints the guest kernel's release and version (from init_uts_ns), its KASLR\n"
		   "offset (_text - 0xffffffff81000000), paging levels, the number of kallsyms\n"
		   "symbols found in guest memory, the vCPU count, and how GEARS reaches guest\n"
		   "memory: \"mapped\" (the RAM file QEMU shares, mapped here) or \"process\"\n"
		   "(copied through the QEMU process with process_vm_readv/writev, for a QEMU\n"
		   "that `gears attach` adopted without a shared RAM file).\n");
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
	struct gears_mem *m = gears_vm__mem(vm);
	const char *backend = gears_mem__backend(m);

	if (json_mode) {
		char kaslr[32];

		snprintf(kaslr, sizeof(kaslr), "0x%" PRIx64, gears_linux__kaslr(l));
		cli_json_print(json_pack("{s:s, s:s, s:s, s:i, s:I, s:i, s:i, s:s}",
					 "release", gears_linux__release(l),
					 "version", gears_linux__version(l), "kaslr_offset", kaslr,
					 "paging_levels", gears_linux__levels(l),
					 "kallsyms", (json_int_t)gears_linux__nsyms(l), "vcpus", ncpu,
					 "nr_cpu_ids", gears_linux__nr_cpus(l), "memory", backend));
	} else {
		printf("release:        %s\n", gears_linux__release(l));
		printf("version:        %s\n", gears_linux__version(l));
		printf("kaslr offset:   0x%" PRIx64 "\n", gears_linux__kaslr(l));
		printf("paging levels:  %d\n", gears_linux__levels(l));
		printf("kallsyms:       %zu symbols\n", gears_linux__nsyms(l));
		printf("vcpus:          %d\n", ncpu);
		if (!strcmp(backend, "process"))
			printf("memory:         process (QEMU pid %d, process_vm_readv/writev)\n",
			       (int)gears_mem__pid(m));
		else
			printf("memory:         %s (shared RAM file)\n", backend);
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
