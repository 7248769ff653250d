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

struct inject_args {
	const char *name, *comm, *module, *payload;
	int pid, tid, timeout, no_kick;
	int first;		/* argv index of the payload (or the first module parameter) */
};

/* Options before or after NAME; PAYLOAD ends them (its arguments are its own). */
static int parse_args(int argc, char **argv, struct inject_args *a)
{
	static const struct option opts[] = {
		{ "pid", required_argument, 0, 'p' }, { "tid", required_argument, 0, 't' },
		{ "comm", required_argument, 0, 'c' }, { "kernel-module", required_argument, 0, 'k' },
		{ "timeout", required_argument, 0, 'T' }, { "no-kick", no_argument, 0, 'K' },
		{ "json", no_argument, 0, 'j' }, { "pretty", no_argument, 0, 'P' }, { 0, 0, 0, 0 }
	};
	int c;

	*a = (struct inject_args){ .timeout = 10000 };
	optind = 1;
	for (;;) {
		c = getopt_long(argc, argv, "+", opts, NULL);
		if (c == -1) {
			if (!a->name && optind < argc) {
				a->name = argv[optind++];
				continue;
			}
			break;
		}
		switch (c) {
		case 'p': a->pid = atoi(optarg); break;
		case 't': a->tid = atoi(optarg); break;
		case 'c': a->comm = optarg; break;
		case 'k': a->module = optarg; break;
		case 'T': a->timeout = atoi(optarg); break;
		case 'K': a->no_kick = 1; break;
		case 'j': case 'P': break;
		default: return cli_usage(&cmd_inject, stderr);
		}
	}
	a->first = optind;
	if (!a->name || a->timeout <= 0)
		return cli_usage(&cmd_inject, stderr);
	return 0;
}

/* --kernel-module: the insmod payload in PID 1, its parameters one string. */
static int module_job(int argc, char **argv, struct inject_args *a, json_t *args)
{
	char params[4096] = "";

	if (a->pid || a->tid || a->comm)
		return cli_error("--kernel-module runs in PID 1; no --pid/--tid/--comm");
	for (int i = a->first; i < argc; i++) {
		if (strlen(params) + strlen(argv[i]) + 2 >= sizeof(params))
			return cli_error("module parameters too long");
		if (*params)
			strcat(params, " ");
		strcat(params, argv[i]);
	}
	json_array_append_new(args, json_string(params));
	a->pid = 1;
	a->payload = GEARS_GUEST_DIR "/payloads/insmod";
	return 0;
}

/* PAYLOAD [ARGS]: the target by --pid, --tid or --comm. */
static int payload_job(int argc, char **argv, struct inject_args *a, json_t *args)
{
	if (a->first >= argc || (!!a->pid + !!a->tid + !!a->comm) != 1)
		return cli_usage(&cmd_inject, stderr);
	a->payload = argv[a->first];
	for (int i = a->first + 1; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	if (json_array_size(args) > 16)
		return cli_error("at most 16 payload arguments");
	return a->comm ? pid_of_comm(a->name, a->comm, &a->pid) : 0;
}

static void print_result(const struct inject_args *a, json_t *j)
{
	json_int_t res = json_integer_value(json_object_get(j, "result"));

	printf("%s: %s ran in pid %lld (tid %lld, %s) in %.1f ms: result %lld%s\n", a->name,
	       a->module ? "module loader" : "payload", json_integer_value(json_object_get(j, "pid")),
	       json_integer_value(json_object_get(j, "tid")), json_string_value(json_object_get(j, "how")),
	       json_real_value(json_object_get(j, "total_ms")), res,
	       json_is_true(json_object_get(j, "leaked")) ? " (its mapping could not be removed)" : "");
}

static int run(int argc, char **argv)
{
	struct inject_args a;
	char *payload_abs = NULL, *module_abs = NULL;
	json_t *args, *j;
	json_int_t res;
	int r;

	if ((r = parse_args(argc, argv, &a)))
		return r;
	args = json_array();
	r = a.module ? module_job(argc, argv, &a, args) : payload_job(argc, argv, &a, args);
	if (!r && a.module && !(module_abs = absolute(a.module)))
		r = 1;
	if (!r && !(payload_abs = absolute(a.payload)))
		r = 1;
	if (r) {
		json_decref(args);
		free(module_abs);
		return r;
	}
	j = json_pack("{s:s, s:i, s:i, s:o, s:i, s:b}", "payload", payload_abs, "pid", a.pid, "tid", a.tid, "args",
		      args, "timeout_ms", a.timeout, "no_kick", a.no_kick);
	if (module_abs)
		json_object_set_new(j, "blob", json_string(module_abs));
	free(payload_abs);
	free(module_abs);
	j = ctl_request(a.name, "INJECT", j, a.timeout + 5000, "inject: ");
	if (!j)
		return 1;
	res = json_integer_value(json_object_get(j, "result"));
	if (a.module && res < 0) {
		r = cli_error("init_module in the guest failed: %s", strerror((int)-res));
	} else if (json_mode) {
		cli_json_print(j);
		return 0;
	} else {
		print_result(&a, j);
	}
	json_decref(j);
	return r;
}

const struct gears_cmd cmd_inject = {
	.name = "inject",
	.args = "NAME (--pid P|--tid T|--comm PROG) PAYLOAD [ARGS] | NAME --kernel-module KO [PARAMS]",
	.summary = "run code inside a guest process, or load a module into the guest kernel",
	.run = run,
	.help = help,
};
