// SPDX-License-Identifier: MIT
/*
 * gears attach NAME --qmp SOCKET: make a QEMU that someone else started a
 * GEARS VM (a supervisor in the background adopts it: supervisor/sup.c,
 * lib/vm_adopt.c); gears detach NAME: give it back as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gears/ctl.h>
#include <gears/linux.h>
#include <gears/vm.h>

#include "cli.h"
#include "cli_libvirt.h"
#include "supervisor.h"

static void attach_help(FILE *f)
{
	fprintf(f, "Adopts a running QEMU that GEARS did not start, given only its QMP monitor\n"
		   "(-qmp unix:SOCKET,server=on,wait=off), under NAME: gears ps/kernel/trace/env/\n"
		   "inject/region/mem/stop then work on it as on a VM of `gears run`.\n"
		   "\n"
		   "A supervisor stays in the background (its log: the VM's supervisor.log). It\n"
		   "finds QEMU's pid from the socket's peer credentials (the same user, or root;\n"
		   "reading guest RAM through the process needs ptrace rights), reads guest RAM\n"
		   "mapped when QEMU shares it from a file or memfd and through the process\n"
		   "otherwise (gears kernel says which), starts the gdbstub (HMP gdbserver), and\n"
		   "hot-plugs the GEARS region (memory-backend-file + ivshmem-plain) where the\n"
		   "machine allows; without it, introspection and `trace --mode exit` work and\n"
		   "the tools that need the region say why. There is no doorbell device: the\n"
		   "supervisor polls the region with back-off.\n"
		   "The monitor stays its owner's: GEARS connects for short exchanges only.\n"
		   "A QEMU held by another GEARS supervisor is refused.\n"
		   "\n"
		   "  --qmp SOCKET          QEMU's QMP unix socket\n"
		   "  --libvirt DOMAIN      a running libvirt domain instead: its monitor through\n"
		   "                        libvirt's client library (qemu-monitor-command); other\n"
		   "                        tools reach it through the supervisor (qmp-tool.sock)\n"
		   "  --connect URI         libvirt URI (default: libvirt's own default)\n"
		   "  --print-xml           print the <shmem> device that gives a domain the region\n"
		   "                        (for machines that refuse hot-plug, such as libvirt's\n"
		   "                        pc-i440fx: add it with `virsh edit`, restart the domain;\n"
		   "                        an attach then uses it as is) and exit\n"
		   "  --no-region           do not hot-plug the region\n"
		   "\n"
		   "gears detach NAME gives QEMU back: hooks removed (the kernel's code as before),\n"
		   "the region device removed once no guest task is inside a call made through it,\n"
		   "the gdbstub closed (gdbserver none). SIGTERM/SIGINT to the supervisor do the same.\n");
}

struct ready_ctx {
	int fd;
	const char *name;
	const char *domain, *uri;
};

/* In the supervisor: tell `gears attach` how it went, then leave the terminal. */
static void ready(void *vctx, const char *err)
{
	struct ready_ctx *c = vctx;
	char log[512];
	int fd;

	if (write(c->fd, err ? err : "", err ? strlen(err) : 0) < 0) {
		/* gears attach went away: nobody to tell */
	}
	close(c->fd);
	if (err)
		return;
	snprintf(log, sizeof(log), "%s/%s/supervisor.log", gears_runtime_dir(), c->name);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
}

static int report(const char *name, bool libvirt)
{
	struct gears_vm *vm = gears_vm__attach(name);
	struct gears_mem *m = vm ? gears_vm__mem(vm) : NULL;
	const char *why = vm ? gears_vm__region_why(vm) : "";

	if (!vm)
		return cli_error("%s", gears_last_error());
	if (json_mode)
		cli_json_print(json_pack("{s:s, s:i, s:i, s:s, s:s, s:b, s:s}", "name", name, "qemu_pid",
					 (int)gears_vm__qemu_pid(vm), "vcpus", gears_vm__ncpus(vm), "accel",
					 gears_vm__accel(vm), "memory", gears_mem__backend(m), "region", !*why,
					 "region_why", why));
	else
		printf("attached %s: QEMU pid %d, %d vCPUs (%s), memory %s, %s%s%s\n", name,
		       (int)gears_vm__qemu_pid(vm), gears_vm__ncpus(vm), gears_vm__accel(vm),
		       gears_mem__backend(m), *why ? "no GEARS region: " : "GEARS region in place", why,
		       *why && libvirt ? "; add it to the domain: `gears attach --print-xml` prints the <shmem> "
					 "device (virsh edit, then restart the domain)" : "");
	gears_vm__close(vm);
	return 0;
}

static int attach_run(int argc, char **argv)
{
	static const struct option lo[] = { { "qmp", required_argument, NULL, 'q' },
					    { "libvirt", required_argument, NULL, 'l' },
					    { "connect", required_argument, NULL, 'c' },
					    { "print-xml", no_argument, NULL, 'x' },
					    { "no-region", no_argument, NULL, 'n' },
					    { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	struct sup_attach_opts ao = { .ready = ready };
	struct ready_ctx rc = { .fd = -1 };
	bool print_xml = false;
	char err[512];
	int p[2], c, code;
	ssize_t n;
	pid_t pid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		if (c == 'q')
			ao.qmp_path = optarg;
		else if (c == 'l')
			rc.domain = optarg;
		else if (c == 'c')
			rc.uri = optarg;
		else if (c == 'x')
			print_xml = true;
		else if (c == 'n')
			ao.no_region = true;
		else if (c == 'h')
			return cli_usage(&cmd_attach, stdout);
		else if (c != 'j')
			return cli_usage(&cmd_attach, stderr);
	}
	if (print_xml) {
		cli_libvirt_print_xml(stdout);
		return 0;
	}
	if (optind != argc - 1 || !ao.qmp_path == !rc.domain)
		return cli_usage(&cmd_attach, stderr);
	ao.name = rc.name = argv[optind];
	if (pipe2(p, O_CLOEXEC))
		return cli_error("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_error("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		close(p[0]);
		setsid();
		if (null >= 0)
			dup2(null, 0);
		rc.fd = p[1];
		ao.ctx = &rc;
		if (rc.domain) {
			/* libvirt's connection is made here, in the process that uses it. */
			struct cli_libvirt *lv = cli_libvirt_open(rc.uri, rc.domain, err, sizeof(err));

			if (lv && (ao.pid = cli_libvirt_pid(lv, err, sizeof(err))) > 0) {
				ao.monitor = cli_libvirt_monitor;
				ao.monitor_ctx = lv;
				code = sup_attach(&ao);
			} else {
				ready(&rc, err);
				code = 1;
			}
			cli_libvirt_close(lv);
			_exit(code);
		}
		code = sup_attach(&ao);
		_exit(code);
	}
	close(p[1]);
	n = read(p[0], err, sizeof(err) - 1);
	close(p[0]);
	if (n < 0)
		return cli_error("the supervisor did not report: %s", strerror(errno));
	err[n] = 0;
	if (n > 0)
		return cli_error("%s", err);
	return report(ao.name, rc.domain != NULL);
}

const struct gears_cmd cmd_attach = {
	.name = "attach",
	.args = "NAME (--qmp SOCKET | --libvirt DOMAIN [--connect URI]) [--no-region] | --print-xml",
	.summary = "make a running QEMU that GEARS did not start a GEARS VM",
	.run = attach_run,
	.help = attach_help,
};

static void detach_help(FILE *f)
{
	fprintf(f, "Gives an attached QEMU back as it was (see gears attach --help) and ends its\n"
		   "supervisor. The guest and QEMU keep running.\n");
}

static int detach_run(int argc, char **argv)
{
	const char *name = NULL;
	struct gears_ctl *c;
	struct gears_ctl_msg m;
	char *txt = NULL;
	int r;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			name = argv[i];
	if (!name)
		return cli_usage(&cmd_detach, stderr);
	if (!(c = gears_ctl__open(name, 2000)))
		return cli_error("%s", gears_last_error());
	r = gears_ctl__send(c, "DETACH", 1, NULL, 0);
	/* The answer comes when all is undone (the region waits for the guest, up to ~20 s). */
	for (int waited = 0; !r && waited < 90000; waited += 200) {
		r = gears_ctl__recv(c, &m, 200);
		if (r == 1 && m.id == 1) {
			if (!strcmp(m.type, "FAIL")) {
				cli_error("%.*s", (int)m.len, m.data);
				gears_ctl__close(c);
				return 1;
			}
			txt = strndup(m.data, m.len);
			r = 0;
			break;
		}
		r = r < 0 && r != -EINTR ? r : 0;
	}
	/* The supervisor closes the socket when it exits. */
	for (int waited = 0; txt && waited < 10000 && gears_ctl__recv(c, &m, 200) != -EPIPE; waited += 200)
		;
	gears_ctl__close(c);
	if (!txt)
		return cli_error("VM '%s': the supervisor did not answer", name);
	if (json_mode) {
		printf("%s\n", txt);
	} else {
		json_t *j = json_loads(txt, 0, NULL);

		printf("detached %s: %s\n", name, json_string_value(json_object_get(j, "detached")) ?: txt);
		json_decref(j);
	}
	free(txt);
	return 0;
}

const struct gears_cmd cmd_detach = {
	.name = "detach",
	.args = "NAME",
	.summary = "give an attached QEMU back as it was",
	.run = detach_run,
	.help = detach_help,
};
