// SPDX-License-Identifier: MIT
/*
 * gears run: boot a guest and supervise it (supervisor/supervisor.h). This
 * file is only the command line: the supervisor's own options, and those the
 * registered services add (--env, --hypercalls, --net, ...).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gears/vm.h>

#include "cli.h"
#include "../supervisor/supervisor.h"

#define MAX_PENDING 256
#define MAX_QEMU_ARGS 64

/* "  LHS   text..." with the text wrapped at 80 columns under itself. */
static void print_wrapped(FILE *f, const char *lhs, const char *text)
{
	int col = fprintf(f, "  %-18s", lhs);
	bool first = true;

	while (*text) {
		size_t w = strcspn(text, " ");

		if (!first && col + 1 + (int)w > 80) {
			fprintf(f, "\n%20s", "");
			col = 20;
		}
		col += fprintf(f, " %.*s", (int)w, text);
		first = false;
		text += w;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

static void help(FILE *f)
{
	const struct sup_service *const *svc;
	int n = sup_registry(&svc);

	fprintf(f,
		"Options:\n"
		"  --name NAME        name the VM, so other gears commands can find it\n"
		"  --smp N            vCPUs (default 2)\n"
		"  --mem SIZE         guest RAM, e.g. 512M, 2G (default 512M)\n"
		"  --kernel FILE      guest kernel (default: the project's Debian kernel)\n"
		"  --initrd FILE      initramfs (default: the project's image)\n"
		"  --kernel-package PKG  the project's image around Debian kernel package PKG (e.g.\n"
		"                     linux-image-6.12-amd64): downloaded and built on first use\n"
		"                     (make initrd KERNEL=PKG), cached in build/image-PKG\n"
		"  --append STRING    kernel command line (default: console=ttyS0 quiet panic=-1\n"
		"                     no_timer_check)\n"
		"  --disk FILE        a disk image (raw or qcow2) as a virtio disk; without --kernel\n"
		"                     the VM boots from it (its own boot loader, e.g. a distribution)\n"
		"  --snapshot         keep the disk file as it is: writes go to a temporary overlay\n"
		"  --cpu MODEL        QEMU CPU model (e.g. max: 5-level paging under TCG)\n"
		"  --accel MODE       auto (default), tcg or kvm; auto picks kvm only where hardware\n"
		"                     virtualization can boot Linux\n"
		"  --qemu-arg ARG     append ARG to QEMU's command line (repeatable; for devices\n"
		"                     GEARS does not manage itself)\n"
		"  --timing           print boot milestones (QEMU up, guest /init, agent ready)\n"
		"  --hold             boot, but start CMD only when a client on the control socket\n"
		"                     says GO (how `gears trace -- CMD` starts tracing first)\n"
		"  --cwd DIR          run CMD in guest directory DIR (default /)\n");
	for (int i = 0; i < n; i++) {
		for (const struct sup_option *o = svc[i]->options; o && o->name; o++) {
			char lhs[64];

			char text[1024];

			snprintf(lhs, sizeof(lhs), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
			snprintf(text, sizeof(text), "%s%s [service %s]", o->help,
				 o->repeatable ? " (repeatable)" : "", svc[i]->name);
			print_wrapped(f, lhs, text);
		}
	}
	fprintf(f,
		"  -- CMD ARGS...     run CMD in the guest, pass its output through, power off and\n"
		"                     exit with CMD's status; without CMD, an interactive console\n"
		"                     (Ctrl-] leaves and stops the VM). A CMD given as a relative\n"
		"                     path to a host program (./prog, bin/prog) runs the host's\n"
		"                     program: the current directory is shared into the guest at\n"
		"                     the same path (--share) and CMD runs there\n\n"
		"Exit status: CMD's own; 125 if the guest or QEMU died first; 128+N on signal N.\n");
}

enum { OPT_NAME = 1000, OPT_SMP, OPT_MEM, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_ACCEL, OPT_TIMING,
       OPT_HOLD, OPT_QEMU_ARG, OPT_CWD, OPT_DISK, OPT_SNAPSHOT, OPT_CPU, OPT_KPKG, OPT_JSON, OPT_PRETTY, OPT_SERVICE };

/* The option table: ours, then every service's (index OPT_SERVICE + k). */
static int build_options(struct option *opts, int max, const struct sup_service **svc_of,
			 const struct sup_option **opt_of)
{
	static const struct option core[] = {
		{ "name", required_argument, 0, OPT_NAME }, { "smp", required_argument, 0, OPT_SMP },
		{ "mem", required_argument, 0, OPT_MEM }, { "kernel", required_argument, 0, OPT_KERNEL },
		{ "initrd", required_argument, 0, OPT_INITRD }, { "append", required_argument, 0, OPT_APPEND },
		{ "accel", required_argument, 0, OPT_ACCEL }, { "timing", no_argument, 0, OPT_TIMING },
		{ "hold", no_argument, 0, OPT_HOLD }, { "qemu-arg", required_argument, 0, OPT_QEMU_ARG },
		{ "cwd", required_argument, 0, OPT_CWD }, { "disk", required_argument, 0, OPT_DISK },
		{ "snapshot", no_argument, 0, OPT_SNAPSHOT }, { "cpu", required_argument, 0, OPT_CPU },
		{ "kernel-package", required_argument, 0, OPT_KPKG },
		{ "json", no_argument, 0, OPT_JSON }, { "pretty", no_argument, 0, OPT_PRETTY },
	};
	const struct sup_service *const *svc;
	int n = 0, k = 0, ns = sup_registry(&svc);

	for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
		opts[n++] = core[i];
	for (int i = 0; i < ns; i++) {
		for (const struct sup_option *o = svc[i]->options; o && o->name && n < max - 1; o++, k++) {
			svc_of[k] = svc[i];
			opt_of[k] = o;
			opts[n++] = (struct option){ o->name, o->arg ? required_argument : no_argument, 0,
						     OPT_SERVICE + k };
		}
	}
	opts[n] = (struct option){ 0, 0, 0, 0 };
	return k;
}

/* Is `prog` a relative path (with a slash) to a program on the host? */
static bool host_relative_program(const char *prog)
{
	struct stat st;

	return prog[0] != '/' && strchr(prog, '/') && !stat(prog, &st) && S_ISREG(st.st_mode) &&
	       !access(prog, X_OK);
}

/*
 * `gears run -- ./prog args`: the user means the program next to them. Share
 * the current directory at the same path (unless a --share already does) and
 * run the command there, so relative arguments name the same files too.
 */
static int share_cwd_for(const char *prog, struct sup_run_opts *ro, const struct sup_service **svc_of,
			 const struct sup_option **opt_of)
{
	static char cwd[PATH_MAX];
	struct sup_pending_opt *pending = (struct sup_pending_opt *)ro->opts;
	int k;

	if (!host_relative_program(prog) || ro->cwd)
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return cli_error("cannot find the current directory: %s", strerror(errno)), -1;
	for (k = 0; k < 128 && opt_of[k]; k++)
		if (!strcmp(opt_of[k]->name, "share"))
			break;
	if (k == 128 || !opt_of[k])
		return cli_error("%s is a host program, but this gears has no share service", prog), -1;
	ro->cwd = cwd;
	for (int i = 0; i < ro->nopts; i++) {
		size_t n = strlen(cwd);
		const char *a = pending[i].arg;

		if (pending[i].opt == opt_of[k] && !strncmp(a, cwd, n) && (!a[n] || a[n] == ',' ||
		    (a[n] == ':' && !strncmp(a + n + 1, cwd, n) && (!a[2 * n + 1] || a[2 * n + 1] == ','))))
			return 0;	/* already shared at the same path */
	}
	if (ro->nopts >= MAX_PENDING)
		return cli_error("too many options"), -1;
	pending[ro->nopts++] = (struct sup_pending_opt){ svc_of[k], opt_of[k], cwd };
	return 0;
}

static int run(int argc, char **argv)
{
	static struct option opts[128];
	static const struct sup_service *svc_of[128];
	static const struct sup_option *opt_of[128];
	static struct sup_pending_opt pending[MAX_PENDING];
	static const char *qemu_args[MAX_QEMU_ARGS + 1];
	GEARS_OPTS(gears_vm_opts, vo);
	struct sup_run_opts ro = { .vm = &vo, .opts = pending };
	static char kpkg_kernel[PATH_MAX], kpkg_initrd[PATH_MAX];
	const char *kpkg = NULL;
	int c, nq = 0, seen[128] = { 0 };

	build_options(opts, 128, svc_of, opt_of);
	while ((c = getopt_long(argc, argv, "+n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': case OPT_NAME: vo.name = optarg; break;
		case OPT_SMP:
			vo.smp = (unsigned)atoi(optarg);
			if (vo.smp < 1 || vo.smp > 64)
				return cli_error("--smp takes 1..64");
			break;
		case OPT_MEM:
			if (!(vo.mem = cli_parse_size(optarg)))
				return cli_error("bad --mem '%s'", optarg);
			break;
		case OPT_KERNEL: vo.kernel = optarg; break;
		case OPT_INITRD: vo.initrd = optarg; break;
		case OPT_APPEND: vo.append = optarg; break;
		case OPT_ACCEL: vo.accel = optarg; break;
		case OPT_TIMING: ro.timing = true; break;
		case OPT_HOLD: ro.hold = true; break;
		case OPT_QEMU_ARG:
			if (nq >= MAX_QEMU_ARGS)
				return cli_error("at most %d --qemu-arg", MAX_QEMU_ARGS);
			qemu_args[nq++] = optarg;
			vo.extra_args = qemu_args;
			break;
		case OPT_CWD:
			if (optarg[0] != '/')
				return cli_error("--cwd takes an absolute guest directory");
			ro.cwd = optarg;
			break;
		case OPT_DISK: vo.disk = optarg; break;
		case OPT_SNAPSHOT: vo.snapshot = true; break;
		case OPT_CPU: vo.cpu = optarg; break;
		case OPT_KPKG: kpkg = optarg; break;
		case OPT_JSON: case OPT_PRETTY: break;
		default:
			if (c < OPT_SERVICE || c >= OPT_SERVICE + 128)
				return cli_usage(&cmd_run, stderr);
			int k = c - OPT_SERVICE;

			if (seen[k]++ && !opt_of[k]->repeatable)
				return cli_error("--%s may be given once", opt_of[k]->name);
			if (ro.nopts >= MAX_PENDING)
				return cli_error("too many options");
			pending[ro.nopts++] = (struct sup_pending_opt){ svc_of[k], opt_of[k], optarg };
		}
	}
	if (optind < argc)
		ro.cmd = argv + optind;
	if (kpkg) {
		if (vo.kernel || vo.initrd)
			return cli_error("--kernel-package gives the kernel and initrd: no --kernel or --initrd with it");
		if (cli_kernel_package(kpkg, kpkg_kernel, sizeof(kpkg_kernel), kpkg_initrd, sizeof(kpkg_initrd)))
			return 1;
		vo.kernel = kpkg_kernel;
		vo.initrd = kpkg_initrd;
	}
	if (vo.snapshot && !vo.disk)
		return cli_error("--snapshot needs --disk");
	if (vo.disk && !vo.kernel && ro.cmd)
		return cli_error("a guest booted from its disk has no gears agent to run CMD: leave CMD out for "
				 "its console (or boot the default kernel with --kernel/--initrd)");
	if (ro.cmd && share_cwd_for(ro.cmd[0], &ro, svc_of, opt_of) < 0)
		return 1;
	return sup_run(&ro);
}

const struct gears_cmd cmd_run = {
	.name = "run",
	.args = "[--name NAME] [--smp N] [--mem SIZE] [--kernel F --initrd F | --kernel-package PKG] [--append S] "
		"[--accel auto|tcg|kvm] [--timing] [--qemu-arg ARG]... [SERVICE OPTIONS] [-- CMD ARGS...]",
	.summary = "boot a guest on QEMU; run CMD in it, or give a console",
	.run = run,
	.help = help,
};
