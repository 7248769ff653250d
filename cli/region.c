// SPDX-License-Identifier: MIT
/*
 * gears region NAME [status|map|unmap|verify]: the shared GEARS region of a VM.
 *
 * `verify` maps it, writes a random value into it from the host, then makes a
 * guest vCPU in kernel mode execute a load from the region's guest-virtual
 * address and checks that the guest read the host's value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <gears/region.h>
#include <gears/vm.h>

#include "cli.h"
#include "ctl.h"

static void help(FILE *f)
{
	fprintf(f, "Verbs:\n"
		   "  status   where the region is (guest-physical BAR address) and whether it is mapped\n"
		   "  map      install the mapping at 0x%llx in the guest kernel\n"
		   "  unmap    remove it\n"
		   "  verify   map, then have the guest kernel read a host-written value through it\n",
		   GEARS_REGION_VA);
}

static int verify(struct gears_vm *vm, struct gears_region *r, uint64_t *seen, uint64_t *want)
{
	struct gears_gdb *g;
	uint8_t code[16];
	uint64_t va = GEARS_REGION_VA + 0x100;
	long off;
	int e;

	if (getrandom(want, sizeof(*want), 0) != sizeof(*want))
		*want = 0x1122334455667788ull ^ (uint64_t)cli_now_ns();
	memcpy(gears_region__host(r, 0x100), want, sizeof(*want));
	/* movabs 0xffffffff40000100, %rax ; ret */
	code[0] = 0x48;
	code[1] = 0xa1;
	memcpy(code + 2, &va, 8);
	code[10] = 0xc3;
	off = gears_region__alloc(r, 16, 16);
	if (off < 0)
		return (int)off;
	g = gears_vm__gdb(vm);
	if (!g)
		return -errno;
	e = gears_gdb__stop(g, NULL);
	if (!e)
		e = gears_region__write_code(r, g, (uint64_t)off, code, 11);
	if (!e)
		e = gears_region__call(r, g, (uint64_t)off, 0, seen);
	gears_vm__gdb_release(vm);
	return e;
}

static int run(int argc, char **argv)
{
	const char *name = NULL, *verb = "status";
	struct gears_vm *vm;
	struct gears_region *r;
	int e = 0, mapped;
	uint64_t seen = 0, want = 0;
	bool did_verify = false;

	for (int i = 1, n = 0; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (n++ == 0)
			name = argv[i];
		else
			verb = argv[i];
	}
	if (!name)
		return cli_usage(&cmd_region, stderr);
	vm = gears_vm__attach(name);
	if (!vm)
		return cli_error("%s", gears_last_error());
	r = gears_region__open(vm);
	if (!r) {
		cli_error("%s", gears_last_error());
		gears_vm__close(vm);
		return 1;
	}
	if (!strcmp(verb, "map")) {
		e = gears_region__map(r);
	} else if (!strcmp(verb, "unmap")) {
		e = gears_region__unmap(r);
	} else if (!strcmp(verb, "verify")) {
		e = gears_region__map(r);
		if (!e)
			e = verify(vm, r, &seen, &want);
		did_verify = true;
	} else if (strcmp(verb, "status")) {
		e = -EINVAL;
		cli_error("unknown verb '%s' (status, map, unmap, verify)", verb);
		goto out;
	}
	if (e) {
		cli_error("region %s: %s", verb, gears_last_error());
		goto out;
	}
	mapped = gears_region__mapped(r);
	if (json_mode) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:b}", "name", name,
				      "gpa", (json_int_t)gears_region__gpa(r),
				      "va", (json_int_t)GEARS_REGION_VA, "mapped", mapped == 1);
		if (did_verify)
			json_object_set_new(j, "verified", json_boolean(seen == want));
		cli_json_print(j);
	} else {
		printf("region:  2 MiB at guest-physical 0x%" PRIx64 "\n", gears_region__gpa(r));
		printf("mapped:  %s\n", mapped == 1 ? "yes, at 0xffffffff40000000 (supervisor-only)" :
			mapped == 0 ? "no" : "slot in use by the guest");
		if (did_verify)
			printf("verify:  guest kernel read 0x%016" PRIx64 ", host wrote 0x%016" PRIx64 ": %s\n",
			       seen, want, seen == want ? "ok" : "MISMATCH");
	}
	if (did_verify && seen != want)
		e = -EIO;
out:
	gears_region__close(r);
	gears_vm__close(vm);
	return e ? 1 : 0;
}

const struct gears_cmd cmd_region = {
	.name = "region",
	.args = "NAME [status|map|unmap|verify]",
	.summary = "inspect, map or verify the shared GEARS region in a running VM",
	.run = run,
	.help = help,
};
