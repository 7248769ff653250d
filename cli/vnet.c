// SPDX-License-Identifier: MIT
/*
 * gears vnet: the VNET overlay's bridges (services/vnet/README.md).
 *
 *   start NAME [--listen A:P] [--mtu N] [--foreground]   stop NAME   list
 *   stats NAME   route NAME add|del|list   link NAME add|del|list   port NAME add|del|list
 *   accel NAME VM on|off
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gears/ctl.h>

#include "cli.h"
#include "ctl.h"
#include "../services/vnet/host/vnet_attach.h"
#include "../services/vnet/host/vnet_bridge.h"
#include "../services/vnet/host/vnet_switch.h"

static void help(FILE *f)
{
	fprintf(f,
		"A layer-2 overlay for guests on one host and across hosts. A bridge switches\n"
		"frames between VM NICs (vhost-user) and VXLAN links to other bridges.\n\n"
		"  gears vnet start NAME [--listen A.B.C.D:PORT] [--mtu N] [--foreground]\n"
		"        start bridge NAME (it outlives its VMs); --listen opens the UDP socket\n"
		"        links use (VXLAN, RFC 7348; 4789 is the standard port); --mtu is what\n"
		"        guests are told (default 1450: a 1500-byte underlay minus VXLAN's 50).\n"
		"        A bridge that died is started again with its ports, links and routes:\n"
		"        its VMs reconnect by themselves.\n"
		"  gears vnet stop NAME            stop it and forget its configuration\n"
		"  gears vnet list                 bridges, running or not\n"
		"  gears vnet stats NAME           per port and link: frames/bytes in and out, drops\n"
		"                                  by reason; learned MACs; bridge CPU time\n"
		"  gears vnet link NAME add PEER A.B.C.D:PORT [--vni N] | del PEER | list\n"
		"  gears vnet route NAME add [--src Q] [--dst Q] --to PORT|LINK [--prio N]\n"
		"                                  Q: MAC, not:MAC or any (default); the highest\n"
		"                                  priority matching routes are all used; frames\n"
		"                                  no route matches are switched by MAC learning\n"
		"  gears vnet route NAME del ID | list\n"
		"  gears vnet port NAME add PORT [--vni N] [--mac M] [--owner PID] | del PORT | list\n"
		"        a VM NIC by hand: prints the QEMU arguments (--qemu-arg) that attach it;\n"
		"        `gears run --net NAME[,mac=M][,ip=A/N][,vni=N]` does all of it for you\n"
		"  gears vnet accel NAME VM on|off\n"
		"        the overlay accelerator of VM's NIC on NAME (started with --net NAME,accel=on|off):\n"
		"        on injects its module into the guest kernel, which takes the NIC's traffic over\n"
		"        (same interface, addresses and connections); off unloads it, the traffic goes\n"
		"        back to the virtio path\n\n"
		"VNI (default 1): frames never cross from one overlay to another.\n");
}

static int print_or_json(json_t *j, const char *text)
{
	if (json_mode)
		cli_json_print(j);
	else {
		if (text)
			printf("%s\n", text);
		json_decref(j);
	}
	return 0;
}

static json_t *call(const char *name, json_t *req)
{
	char err[600];
	json_t *a = vnet_ctl_call(name, req, err, sizeof(err));

	json_decref(req);
	if (!a)
		cli_error("%s", err);
	return a;
}

static int parse_vni(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x = strtoul(s, &end, 10);

	if (!*s || *end || x > VNET_VNI_MAX)
		return cli_error("--vni is 0..%u", VNET_VNI_MAX);
	*v = (uint32_t)x;
	return 0;
}

static int do_start(int argc, char **argv)
{
	static const struct option opts[] = { { "listen", required_argument, 0, 'l' },
					      { "mtu", required_argument, 0, 'm' },
					      { "foreground", no_argument, 0, 'f' },
					      { "json", no_argument, 0, 'j' },
					      { "pretty", no_argument, 0, 'p' },
					      { 0, 0, 0, 0 } };
	struct vnet_bridge_opts o = { .ready_fd = -1 };
	bool fg = false;
	int c, pfd[2];
	char dir[200], log[256], line[600] = "";

	optind = 0;	/* options may follow NAME: let getopt permute */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'm': o.mtu = (unsigned)atoi(optarg);
			if (o.mtu < 576 || o.mtu > 65000)
				return cli_error("--mtu is 576..65000");
			break;
		case 'f': fg = true; break;
		case 'j': case 'p': break;
		default: return cli_usage(&cmd_vnet, stderr);
		}
	}
	if (optind != argc - 1)
		return cli_usage(&cmd_vnet, stderr);
	o.name = argv[optind];
	if (!vnet_bridge_dir(o.name, dir, sizeof(dir)))
		return cli_error("bad bridge name '%s' (letters, digits, '-', '_', '.'; max 31)", o.name);
	if (fg)
		return vnet_bridge_run(&o) ? 1 : 0;
	char tmp[256];

	/* The log must exist before the fork so the child's stderr goes there. */
	for (char *p = strchr(strcpy(tmp, dir) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		mkdir(tmp, 0700);
		*p = '/';
	}
	mkdir(dir, 0700);
	snprintf(log, sizeof(log), "%s/bridge.log", dir);
	if (pipe2(pfd, O_CLOEXEC))
		return cli_error("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();

	if (pid < 0)
		return cli_error("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR), lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		close(pfd[0]);
		setsid();
		dup2(null, 0);
		dup2(lf >= 0 ? lf : null, 1);
		dup2(lf >= 0 ? lf : null, 2);
		if (null > 2)
			close(null);
		if (lf > 2)
			close(lf);
		signal(SIGINT, SIG_IGN);
		o.ready_fd = pfd[1];
		_exit(vnet_bridge_run(&o) ? 1 : 0);
	}
	close(pfd[1]);
	struct pollfd p = { .fd = pfd[0], .events = POLLIN };
	ssize_t n = 0;

	if (poll(&p, 1, 10000) > 0)
		n = read(pfd[0], line, sizeof(line) - 1);
	close(pfd[0]);
	line[n > 0 ? n : 0] = 0;
	line[strcspn(line, "\n")] = 0;
	if (strcmp(line, "ok"))
		return cli_error("bridge %s did not start: %s", o.name, *line ? line : "no answer (see its bridge.log)");
	json_t *j = call(o.name, json_pack("{s:s}", "op", "ping"));

	if (!j)
		return 1;
	snprintf(line, sizeof(line), "bridge %s running (pid %d)%s%s", o.name,
		 (int)json_integer_value(json_object_get(j, "pid")), o.listen ? ", listening on " : "",
		 o.listen ? o.listen : "");
	return print_or_json(j, line);
}

static void list_cb(const char *name, void *ctx)
{
	char err[600];
	json_t *req = json_pack("{s:s}", "op", "ping");
	json_t *a = vnet_ctl_call(name, req, err, sizeof(err));

	json_decref(req);
	if (json_mode) {
		json_array_append_new(ctx, a ? json_pack("{s:s, s:b, s:O, s:O, s:O}", "name", name, "running", 1, "pid",
							 json_object_get(a, "pid"), "listen", json_object_get(a, "listen"),
							 "mtu", json_object_get(a, "mtu"))
					     : json_pack("{s:s, s:b}", "name", name, "running", 0));
	} else if (a) {
		printf("%-20s %-8d %-22s %d\n", name, (int)json_integer_value(json_object_get(a, "pid")),
		       *json_string_value(json_object_get(a, "listen")) ? json_string_value(json_object_get(a, "listen"))
									 : "-",
		       (int)json_integer_value(json_object_get(a, "mtu")));
	} else {
		printf("%-20s %-8s (not running; `gears vnet start %s` takes its configuration back)\n", name, "-",
		       name);
	}
	json_decref(a);
}

static void print_drops(json_t *d)
{
	const char *k;
	json_t *v;
	bool any = false;

	json_object_foreach(d, k, v) {
		if (json_integer_value(v)) {
			printf(" %s=%lld", k, (long long)json_integer_value(v));
			any = true;
		}
	}
	if (!any)
		printf(" -");
}

static int do_stats(const char *name)
{
	json_t *j = call(name, json_pack("{s:s}", "op", "stats")), *v;
	size_t i;

	if (!j)
		return 1;
	if (json_mode)
		return print_or_json(j, NULL);
	printf("%-16s %-10s %-8s %-4s %12s %14s %12s %14s  drops\n", "PORT", "KIND", "VNI", "UP", "IN_FRAMES",
	       "IN_BYTES", "OUT_FRAMES", "OUT_BYTES");
	for (int pass = 0; pass < 2; pass++) {
		json_array_foreach(json_object_get(j, pass ? "links" : "ports"), i, v) {
			printf("%-16s %-10s %-8lld %-4s %12lld %14lld %12lld %14lld ",
			       json_string_value(json_object_get(v, "name")), json_string_value(json_object_get(v, "kind")),
			       (long long)json_integer_value(json_object_get(v, "vni")),
			       json_is_true(json_object_get(v, "up")) ? "yes" : "no",
			       (long long)json_integer_value(json_object_get(v, "in_frames")),
			       (long long)json_integer_value(json_object_get(v, "in_bytes")),
			       (long long)json_integer_value(json_object_get(v, "out_frames")),
			       (long long)json_integer_value(json_object_get(v, "out_bytes")));
			print_drops(json_object_get(v, "drops"));
			printf("\n");
		}
	}
	json_t *br = json_object_get(j, "bridge");

	printf("bridge drops (datagrams no link takes):");
	print_drops(json_object_get(br, "drops"));
	printf("\nlearned MACs:");
	json_array_foreach(json_object_get(j, "macs"), i, v)
		printf(" %s@%s", json_string_value(json_object_get(v, "mac")), json_string_value(json_object_get(v, "port")));
	json_t *cpu = json_object_get(j, "cpu");

	printf("\nbridge CPU: %.2f s user, %.2f s system\n", json_real_value(json_object_get(cpu, "user_s")),
	       json_real_value(json_object_get(cpu, "sys_s")));
	json_decref(j);
	return 0;
}

/* `list` of a verb: the bridge's array `key`; printed as JSON (and NULL
 * returned) in --json mode, else returned for the caller to print (free
 * *whole). *code is the exit status when NULL is returned. */
static json_t *fetch_list(const char *name, const char *key, json_t **whole, int *code)
{
	json_t *j = call(name, json_pack("{s:s}", "op", "list"));

	*whole = j;
	*code = j ? 0 : 1;
	if (!j)
		return NULL;
	if (json_mode) {
		cli_json_print(json_incref(json_object_get(j, key)));
		json_decref(j);
		*whole = NULL;
		return NULL;
	}
	return json_object_get(j, key);
}

/* `del` of a verb: one request with one identifying field. */
static int do_del(const char *name, const char *op, json_t *req_field_value, const char *field)
{
	json_t *j = call(name, json_pack("{s:s, s:o}", "op", op, field, req_field_value));

	return j ? print_or_json(j, NULL) : 1;
}

static int do_route(const char *name, int argc, char **argv)
{
	const char *op = argc > 0 ? argv[0] : "list";

	if (!strcmp(op, "list")) {
		json_t *j, *v, *arr;
		size_t i;
		int code;

		if (!(arr = fetch_list(name, "routes", &j, &code)))
			return code;
		printf("%-5s %-22s %-22s %-16s %s\n", "ID", "SRC", "DST", "TO", "PRIO");
		json_array_foreach(arr, i, v)
			printf("%-5lld %-22s %-22s %-16s %lld\n", (long long)json_integer_value(json_object_get(v, "id")),
			       json_string_value(json_object_get(v, "src")), json_string_value(json_object_get(v, "dst")),
			       json_string_value(json_object_get(v, "to")),
			       (long long)json_integer_value(json_object_get(v, "prio")));
		json_decref(j);
		return 0;
	}
	if (!strcmp(op, "del"))
		return argc != 2 ? cli_usage(&cmd_vnet, stderr) : do_del(name, "route_del", json_integer(atoi(argv[1])), "id");
	if (strcmp(op, "add"))
		return cli_usage(&cmd_vnet, stderr);
	json_t *req = json_pack("{s:s, s:i}", "op", "route_add", "prio", 0);

	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];

		if (i + 1 >= argc || (strcmp(k, "--src") && strcmp(k, "--dst") && strcmp(k, "--to") && strcmp(k, "--prio"))) {
			json_decref(req);
			return cli_error("route add: unexpected '%s' (--src Q --dst Q --to PORT --prio N)", k);
		}
		if (!strcmp(k, "--prio"))
			json_object_set_new(req, "prio", json_integer(atoi(argv[++i])));
		else
			json_object_set_new(req, k + 2, json_string(argv[++i]));
	}
	if (!json_object_get(req, "to")) {
		json_decref(req);
		return cli_error("route add needs --to PORT|LINK");
	}
	json_t *j = call(name, req);
	char txt[64];

	if (!j)
		return 1;
	snprintf(txt, sizeof(txt), "route %lld", (long long)json_integer_value(json_object_get(j, "id")));
	return print_or_json(j, txt);
}

static int do_link(const char *name, int argc, char **argv)
{
	const char *op = argc > 0 ? argv[0] : "list";

	if (!strcmp(op, "list")) {
		json_t *j, *v, *arr;
		size_t i;
		int code;

		if (!(arr = fetch_list(name, "links", &j, &code)))
			return code;
		printf("%-16s %-22s %s\n", "LINK", "PEER", "VNI");
		json_array_foreach(arr, i, v)
			printf("%-16s %-22s %lld\n", json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "peer")),
			       (long long)json_integer_value(json_object_get(v, "vni")));
		json_decref(j);
		return 0;
	}
	if (!strcmp(op, "del"))
		return argc != 2 ? cli_usage(&cmd_vnet, stderr) : do_del(name, "link_del", json_string(argv[1]), "name");
	if (strcmp(op, "add") || argc < 3)
		return cli_usage(&cmd_vnet, stderr);
	uint32_t vni = 1;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--vni") && i + 1 < argc) {
			if (parse_vni(argv[++i], &vni))
				return 1;
		} else {
			return cli_error("link add: unexpected '%s'", argv[i]);
		}
	}
	json_t *j = call(name, json_pack("{s:s, s:s, s:s, s:i}", "op", "link_add", "name", argv[1], "peer", argv[2],
					 "vni", (int)vni));

	return j ? print_or_json(j, NULL) : 1;
}

static int do_port(const char *name, int argc, char **argv)
{
	const char *op = argc > 0 ? argv[0] : "list";

	if (!strcmp(op, "list")) {
		json_t *j, *v, *arr;
		size_t i;
		int code;

		if (!(arr = fetch_list(name, "ports", &j, &code)))
			return code;
		printf("%-16s %-8s %-4s %-9s %s\n", "PORT", "VNI", "UP", "OWNER", "SOCKET");
		json_array_foreach(arr, i, v)
			printf("%-16s %-8lld %-4s %-9lld %s\n", json_string_value(json_object_get(v, "name")),
			       (long long)json_integer_value(json_object_get(v, "vni")),
			       json_is_true(json_object_get(v, "up")) ? "yes" : "no",
			       (long long)json_integer_value(json_object_get(v, "owner")),
			       json_string_value(json_object_get(v, "socket")));
		json_decref(j);
		return 0;
	}
	if (!strcmp(op, "del"))
		return argc != 2 ? cli_usage(&cmd_vnet, stderr) : do_del(name, "port_del", json_string(argv[1]), "name");
	if (strcmp(op, "add") || argc < 2)
		return cli_usage(&cmd_vnet, stderr);
	uint32_t vni = 1;
	int owner = 0;
	uint8_t mac[6];
	bool has_mac = false;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--vni") && i + 1 < argc) {
			if (parse_vni(argv[++i], &vni))
				return 1;
		} else if (!strcmp(argv[i], "--owner") && i + 1 < argc) {
			owner = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--mac") && i + 1 < argc) {
			if (vnet_mac_parse(argv[++i], mac) || vnet_mac_multicast(mac))
				return cli_error("bad unicast MAC '%s'", argv[i]);
			has_mac = true;
		} else {
			return cli_error("port add: unexpected '%s'", argv[i]);
		}
	}
	if (!has_mac)
		vnet_mac_from_name(argv[1], 0, mac);
	json_t *j = call(name, json_pack("{s:s, s:s, s:i, s:i}", "op", "port_add", "name", argv[1], "vni", (int)vni,
					 "owner", owner));
	char args[6][512], m[18];

	if (!j)
		return 1;
	if (vnet_qemu_args(argv[1], json_string_value(json_object_get(j, "socket")), mac,
			   (unsigned)json_integer_value(json_object_get(j, "mtu")), args)) {
		json_decref(j);
		return cli_error("socket path too long for QEMU");
	}
	json_t *qa = json_array();

	for (int i = 0; i < 6; i++)
		json_array_append_new(qa, json_string(args[i]));
	vnet_mac_format(mac, m);
	json_object_set_new(j, "mac", json_string(m));
	json_object_set_new(j, "qemu_args", qa);
	if (json_mode)
		return print_or_json(j, NULL);
	for (int i = 0; i < 6; i += 2)
		printf("--qemu-arg=%s --qemu-arg=%s%s", args[i], args[i + 1], i < 4 ? " " : "\n");
	json_decref(j);
	return 0;
}

/* The accelerator's state on the bridge for `port` ("" when unknown). */
static void accel_state(const char *bridge, const char *port, char *out, size_t sz)
{
	char err[600];
	json_t *req = json_pack("{s:s}", "op", "stats"), *j = vnet_ctl_call(bridge, req, err, sizeof(err)), *v;
	size_t i;

	json_decref(req);
	snprintf(out, sz, "%s", "");
	json_array_foreach(json_object_get(j, "ports"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", port))
			snprintf(out, sz, "%s",
				 json_string_value(json_object_get(json_object_get(v, "accel"), "state")) ?: "");
	json_decref(j);
}

/* accel NAME VM on|off: the module in (insmod payload) or out (rmmod
 * payload), both run in the guest's PID 1 by the VM's inject service. */
static int do_accel(const char *bridge, int argc, char **argv)
{
	const char *vm, *port = NULL, *mac = NULL;
	json_t *info, *nets, *e, *j, *args;
	size_t i;
	bool on;
	char want[16], st[16] = "";

	if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off")))
		return cli_usage(&cmd_vnet, stderr);
	vm = argv[0];
	on = !strcmp(argv[1], "on");
	if (!(info = ctl_request(vm, "INFO", json_object(), 5000, "info: ")))
		return 1;
	nets = json_object_get(json_object_get(json_object_get(info, "services"), "vnet"), "nets");
	json_array_foreach(nets, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "bridge")) ?: "", bridge) &&
		    json_is_true(json_object_get(e, "accel"))) {
			port = json_string_value(json_object_get(e, "port"));
			mac = json_string_value(json_object_get(e, "mac"));
		}
	if (!port || !mac) {
		json_decref(info);
		return cli_error("VM %s has no NIC on %s with the accelerator's device (start it with "
				 "--net %s,accel=on or accel=off)", vm, bridge, bridge);
	}
	args = json_array();
	if (on) {
		char p[40];

		snprintf(p, sizeof(p), "mac=%s", mac);
		json_array_append_new(args, json_string(p));
	} else {
		json_array_append_new(args, json_string("gears_vnet_accel"));
	}
	j = json_pack("{s:s, s:i, s:o, s:i}", "payload",
		      on ? GEARS_GUEST_DIR "/payloads/insmod" : GEARS_GUEST_DIR "/payloads/rmmod", "pid", 1, "args",
		      args, "timeout_ms", 20000);
	if (on)
		json_object_set_new(j, "blob", json_string(GEARS_GUEST_DIR "/modules/gears_vnet_accel.ko"));
	snprintf(want, sizeof(want), "%s", on ? "active" : "detached");
	char portc[VNET_NAME_MAX];

	snprintf(portc, sizeof(portc), "%s", port);
	json_decref(info);
	json_int_t res = 0;
	char *txt = json_dumps(j, JSON_COMPACT), *reply = NULL;
	int r = -ENOMEM;

	json_decref(j);
	/* PID 1 is taken at its next system call; one that sleeps is woken from
	 * an idle vCPU. A guest whose vCPUs stay busy may not give that moment
	 * within the injection's time: try again (the target is restored). */
	for (int attempt = 0; txt && attempt < 3; attempt++) {
		free(reply);
		reply = NULL;
		r = gears_ctl__call(vm, "INJECT", txt, &reply, 25000);
		if (r != 1 || !strstr(reply ?: "", "made no system call"))
			break;
	}
	free(txt);
	if (r < 0 || r == 1 || !(j = json_loads(reply ?: "", 0, NULL))) {
		cli_error("accel: VM %s: %s", vm, r == 1 ? reply : r < 0 ? strerror(-r) : "bad answer");
		free(reply);
		return 1;
	}
	free(reply);
	res = json_integer_value(json_object_get(j, "result"));
	json_decref(j);
	if (res == -EEXIST || (res == -ENOENT && !on)) {
		accel_state(bridge, portc, st, sizeof(st));
	} else if (res < 0) {
		return cli_error("%s in the guest failed: %s%s", on ? "loading the module" : "unloading the module",
				 strerror((int)-res), on ? " (the guest's dmesg says why)" : "");
	} else {
		/* The bridge sees the module's state in the region at once. */
		for (int k = 0; k < 50; k++) {
			accel_state(bridge, portc, st, sizeof(st));
			if (!strcmp(st, want))
				break;
			usleep(100000);
		}
	}
	if (strcmp(st, want) && !(!on && !strcmp(st, "idle")))
		return cli_error("the bridge sees the accelerator of %s as '%s', not %s", portc, st, want);
	if (json_mode)
		return print_or_json(json_pack("{s:s, s:s, s:s}", "vm", vm, "port", portc, "state", st), NULL);
	printf("%s: accelerator %s on %s (port %s)\n", vm, on ? "on" : "off", bridge, portc);
	return 0;
}

static int run(int argc, char **argv)
{
	int n = 0;
	char *args[64];

	/* --json/--pretty were taken by main(); drop them here. */
	for (int i = 0; i < argc && n < 63; i++)
		if (strcmp(argv[i], "--json") && strcmp(argv[i], "-j") && strcmp(argv[i], "--pretty"))
			args[n++] = argv[i];
	args[n] = NULL;
	if (n < 2)
		return cli_usage(&cmd_vnet, stderr);
	const char *verb = args[1];

	if (!strcmp(verb, "start"))
		return do_start(n - 1, args + 1);
	if (!strcmp(verb, "list")) {
		json_t *arr = json_array();

		if (!json_mode)
			printf("%-20s %-8s %-22s %s\n", "BRIDGE", "PID", "LISTEN", "MTU");
		vnet_bridge_list(list_cb, arr);
		if (json_mode)
			cli_json_print(arr);
		else
			json_decref(arr);
		return 0;
	}
	if (n < 3)
		return cli_usage(&cmd_vnet, stderr);
	const char *name = args[2];

	if (!strcmp(verb, "stop")) {
		json_t *j = call(name, json_pack("{s:s}", "op", "stop"));
		char dir[200], ctl[256];

		if (!j)
			return 1;
		/* The bridge answers, then leaves: wait until its socket is gone. */
		if (vnet_bridge_dir(name, dir, sizeof(dir))) {
			snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
			for (int i = 0; i < 100 && !access(ctl, F_OK); i++)
				usleep(50000);
		}
		return print_or_json(j, NULL);
	}
	if (!strcmp(verb, "stats"))
		return do_stats(name);
	if (!strcmp(verb, "route"))
		return do_route(name, n - 3, args + 3);
	if (!strcmp(verb, "link"))
		return do_link(name, n - 3, args + 3);
	if (!strcmp(verb, "port"))
		return do_port(name, n - 3, args + 3);
	if (!strcmp(verb, "accel"))
		return do_accel(name, n - 3, args + 3);
	return cli_error("unknown vnet verb '%s' (start, stop, list, stats, route, link, port, accel)", verb);
}

const struct gears_cmd cmd_vnet = {
	.name = "vnet",
	.args = "start|stop|list|stats|route|link|port|accel ...",
	.summary = "layer-2 overlay bridges for guests (VXLAN across hosts)",
	.run = run,
	.help = help,
};
