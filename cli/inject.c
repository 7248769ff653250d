// SPDX-License-Identifier: MIT
/*
 * gears inject: run a payload inside a guest process, or load a kernel module
 * into the guest kernel, without the guest's help.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <gears/linux.h>
#include <gears/vm.h>

#include "cli.h"
#include "ctl.h"

static void help(FILE *f)
{
	fprintf(f,
		"  gears inject NAME (--pid P | --tid T | --comm PROG) PAYLOAD [ARGS...]\n"
		"  gears inject NAME --kernel-module FILE.ko [PARAMS...]\n\n"
		"PAYLOAD runs inside the target process (see guest/include/gears-guest/payload.h;\n"
		"examples in build/guest/payloads/), which then continues exactly as before:\n"
		"registers restored, its interrupted system call issued again, the payload's\n"
		"memory unmapped. The target is taken at its next system call; a sleeping one\n"
		"is woken (its call restarts), a busy one is stopped on its vCPU and sent\n"
		"through a system call of its vDSO.\n\n"
		"--kernel-module loads FILE.ko into the guest kernel through init_module(2) made\n"
		"by PID 1 (the insmod payload); PARAMS as for insmod (who=gears).\n\n"
		"Options:\n"
		"  --timeout MS    give up after MS (default 10000)\n"
		"  --no-kick       wait for the target's own next system call\n"
		"  --json          result as JSON (result, pid, tid, how, times, leaked)\n\n"
		"Example:\n"
		"  gears inject vm1 --comm sleep build/guest/payloads/hello /tmp/hello.txt\n");
}

struct by_comm {
	const char *comm;
	int pid, n;
};

static int match_comm(const struct gears_task *t, void *ctx)
{
	struct by_comm *b = ctx;

	if (!t->kthread && !strcmp(t->comm, b->comm)) {
		if (!b->n++ || t->tgid < b->pid)
			b->pid = t->tgid;
	}
	return 0;
}

static int pid_of_comm(const char *name, const char *comm, int *pid)
{
	struct gears_vm *vm;
	struct gears_linux *l = cli_open_kernel(name, &vm);
	struct by_comm b = { .comm = comm };

	if (!l)
		return 1;
	gears_linux__for_each_task(l, false, 65536, match_comm, &b);
	gears_vm__close(vm);
	if (!b.n)
		return cli_error("no process named '%s' in VM '%s'", comm, name);
	if (b.n > 1)
		return cli_error("%d processes named '%s' in VM '%s': choose one with --pid", b.n, comm, name);
	*pid = b.pid;
	return 0;
}

static char *absolute(const char *path)
{
	char *p = realpath(path, NULL);

	if (!p)
		cli_error("%s: %s", path, strerror(errno));
	return p;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, 0, 'p' }, { "tid", required_argument, 0, 't' },
		{ "comm", required_argument, 0, 'c' }, { "kernel-module", required_argument, 0, 'k' },
		{ "timeout", required_argument, 0, 'T' }, { "no-kick", no_argument, 0, 'K' },
		{ "json", no_argument, 0, 'j' }, { "pretty", no_argument, 0, 'P' }, { 0, 0, 0, 0 }
	};
	const char *name = NULL, *comm = NULL, *module = NULL, *payload = NULL;
	int pid = 0, tid = 0, timeout = 10000, no_kick = 0, c, r;
	char *payload_abs = NULL, *module_abs = NULL;
	json_t *args = json_array(), *j;

	/* Options before or after NAME; PAYLOAD ends them (its arguments are its own). */
	optind = 1;
	for (;;) {
		c = getopt_long(argc, argv, "+", opts, NULL);
		if (c == -1) {
			if (!name && optind < argc) {
				name = argv[optind++];
				continue;
			}
			break;
		}
		switch (c) {
		case 'p': pid = atoi(optarg); break;
		case 't': tid = atoi(optarg); break;
		case 'c': comm = optarg; break;
		case 'k': module = optarg; break;
		case 'T': timeout = atoi(optarg); break;
		case 'K': no_kick = 1; break;
		case 'j': case 'P': break;
		default: json_decref(args); return cli_usage(&cmd_inject, stderr);
		}
	}
	if (!name || timeout <= 0) {
		json_decref(args);
		return cli_usage(&cmd_inject, stderr);
	}
	if (module) {
		char params[4096] = "";

		if (pid || tid || comm) {
			json_decref(args);
			return cli_error("--kernel-module runs in PID 1; no --pid/--tid/--comm");
		}
		for (int i = optind; i < argc; i++) {
			if (strlen(params) + strlen(argv[i]) + 2 >= sizeof(params)) {
				json_decref(args);
				return cli_error("module parameters too long");
			}
			if (*params)
				strcat(params, " ");
			strcat(params, argv[i]);
		}
		json_array_append_new(args, json_string(params));
		pid = 1;
		payload = GEARS_GUEST_DIR "/payloads/insmod";
		if (!(module_abs = absolute(module))) {
			json_decref(args);
			return 1;
		}
	} else {
		if (optind >= argc || (!!pid + !!tid + !!comm) != 1) {
			json_decref(args);
			return cli_usage(&cmd_inject, stderr);
		}
		payload = argv[optind++];
		for (int i = optind; i < argc; i++)
			json_array_append_new(args, json_string(argv[i]));
		if (json_array_size(args) > 16) {
			json_decref(args);
			return cli_error("at most 16 payload arguments");
		}
		if (comm && (r = pid_of_comm(name, comm, &pid))) {
			json_decref(args);
			return r;
		}
	}
	if (!(payload_abs = absolute(payload))) {
		json_decref(args);
		free(module_abs);
		return 1;
	}
	j = json_pack("{s:s, s:i, s:i, s:o, s:i, s:b}", "payload", payload_abs, "pid", pid, "tid", tid, "args",
		      args, "timeout_ms", timeout, "no_kick", no_kick);
	if (module_abs)
		json_object_set_new(j, "blob", json_string(module_abs));
	free(payload_abs);
	free(module_abs);
	j = ctl_request(name, "INJECT", j, timeout + 5000, "inject: ");
	if (!j)
		return 1;
	json_int_t res = json_integer_value(json_object_get(j, "result"));

	if (module && res < 0) {
		r = cli_error("init_module in the guest failed: %s", strerror((int)-res));
		json_decref(j);
		return r;
	}
	if (json_mode) {
		cli_json_print(j);
		return 0;
	}
	printf("%s: %s ran in pid %lld (tid %lld, %s) in %.1f ms: result %lld%s\n", name,
	       module ? "module loader" : "payload", json_integer_value(json_object_get(j, "pid")),
	       json_integer_value(json_object_get(j, "tid")), json_string_value(json_object_get(j, "how")),
	       json_real_value(json_object_get(j, "total_ms")), res,
	       json_is_true(json_object_get(j, "leaked")) ? " (its mapping could not be removed)" : "");
	json_decref(j);
	return 0;
}

const struct gears_cmd cmd_inject = {
	.name = "inject",
	.args = "NAME (--pid P|--tid T|--comm PROG) PAYLOAD [ARGS] | NAME --kernel-module KO [PARAMS]",
	.summary = "run code inside a guest process, or load a module into the guest kernel",
	.run = run,
	.help = help,
};
