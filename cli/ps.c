// SPDX-License-Identifier: MIT
/*
 * gears ps NAME: the guest's processes, read from its memory (task list from
 * init_task, offsets from the kernel's BTF), with no help from the guest.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <gears/linux.h>
#include <gears/vm.h>

#include "cli.h"

#define PS_MAX_TASKS 65536

static void help(FILE *f)
{
	fprintf(f, "Options:\n"
		   "  -T, --threads   one line per thread (TID column)\n"
		   "  --no-kthreads   leave out kernel threads\n"
		   "  --json          an array of {pid, tid, ppid, uid, state, comm, kthread}\n"
		   "COMM is the name /proc shows: a kernel thread's full name (not the 15\n"
		   "characters of task_struct.comm), a workqueue worker's with +QUEUE/-QUEUE.\n"
		   "  --stop          pause the VM while reading, for an exact snapshot\n");
}

struct ps_ctx {
	json_t *arr;
	struct gears_linux *l;
	bool threads, no_kthreads;
};

static int show(const struct gears_task *t, void *vctx)
{
	struct ps_ctx *c = vctx;
	char name[64];

	if (c->no_kthreads && t->kthread)
		return 0;
	gears_linux__task_name(c->l, t, name, sizeof(name));
	if (json_mode) {
		json_array_append_new(c->arr, json_pack("{s:i, s:i, s:i, s:i, s:s#, s:s, s:b}",
			"pid", t->tgid, "tid", t->pid, "ppid", t->ppid, "uid", (int)t->uid,
			"state", &t->state, 1, "comm", name, "kthread", t->kthread));
	} else if (c->threads) {
		printf("%7d %7d %7d %5u %c    %s%s%s\n", t->tgid, t->pid, t->ppid, t->uid, t->state,
		       t->kthread ? "[" : "", name, t->kthread ? "]" : "");
	} else {
		printf("%7d %7d %5u %c    %s%s%s\n", t->tgid, t->ppid, t->uid, t->state,
		       t->kthread ? "[" : "", name, t->kthread ? "]" : "");
	}
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", no_argument, 0, 'T' }, { "no-kthreads", no_argument, 0, 'K' },
		{ "stop", no_argument, 0, 'S' }, { "json", no_argument, 0, 'j' },
		{ "pretty", no_argument, 0, 'p' }, { 0, 0, 0, 0 }
	};
	struct ps_ctx c = { 0 };
	struct gears_vm *vm;
	struct gears_linux *l;
	bool stop = false;
	int o, n;

	while ((o = getopt_long(argc, argv, "Tjp", opts, NULL)) != -1) {
		switch (o) {
		case 'T': c.threads = true; break;
		case 'K': c.no_kthreads = true; break;
		case 'S': stop = true; break;
		case 'j': case 'p': break;
		default: return cli_usage(&cmd_ps, stderr);
		}
	}
	if (optind != argc - 1)
		return cli_usage(&cmd_ps, stderr);
	vm = gears_vm__attach(argv[optind]);
	if (!vm)
		return cli_error("%s", gears_last_error());
	if (stop)
		json_decref(gears_qmp__execute(gears_vm__qmp(vm), "stop", NULL));
	l = gears_vm__linux(vm);
	if (!l) {
		cli_error("cannot read the guest kernel: %s", gears_last_error());
		n = -1;
		goto out;
	}
	c.arr = json_array();
	c.l = l;
	if (!json_mode && c.threads)
		printf("%7s %7s %7s %5s %-4s %s\n", "PID", "TID", "PPID", "UID", "STAT", "COMM");
	else if (!json_mode)
		printf("%7s %7s %5s %-4s %s\n", "PID", "PPID", "UID", "STAT", "COMM");
	n = gears_linux__for_each_task(l, c.threads, PS_MAX_TASKS, show, &c);
	if (n < 0)
		cli_error("reading the task list: %s", gears_last_error());
	else if (json_mode)
		cli_json_print(json_incref(c.arr));
	json_decref(c.arr);
out:
	if (stop)
		json_decref(gears_qmp__execute(gears_vm__qmp(vm), "cont", NULL));
	gears_vm__close(vm);
	return n < 0 ? 1 : 0;
}

const struct gears_cmd cmd_ps = {
	.name = "ps",
	.args = "[-T] [--no-kthreads] [--stop] [--json] NAME",
	.summary = "list the guest's processes, read from outside",
	.run = run,
	.help = help,
};
