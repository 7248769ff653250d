// SPDX-License-Identifier: MIT
/*
 * The VNET service: `gears run --net BRIDGE[,mac=M][,ip=A/N][,vni=N]`
 * (repeatable) gives the VM a virtio-net NIC on a running bridge.
 *
 * qemu_args: a port on the bridge (owned by this supervisor: the bridge
 * removes it when we die), and QEMU's vhost-user NIC on its socket with
 * reconnect=1 (a restarted bridge gets the NIC back without the VM noticing
 * more than a short link loss). guest_ready: the default image's agent finds
 * the NIC by its MAC, sets the bridge's MTU and the address; the command
 * starts only after that. destroy: the port is removed.
 *
 * accel=on|off adds the overlay accelerator's ivshmem-doorbell device (the
 * bridge serves it); with accel=on, once the NIC is up, the accelerator's
 * module is injected into the guest kernel (the insmod payload in PID 1)
 * with the NIC's MAC. `gears vnet accel BRIDGE VM on|off` loads and
 * unloads it later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gears/inject.h>
#include <gears/payload.h>
#include <gears/vm.h>

#include "supervisor.h"
#include "vnet_attach.h"
#include "vnet_bridge.h"
#include "vnet_switch.h"

#define MAX_NETS 8

struct net {
	struct vnet_net_spec spec;
	char port[VNET_NAME_MAX];
	unsigned mtu;
	bool added;
	struct vnet_svc *v;
};

struct vnet_svc {
	struct sup *sup;
	struct net nets[MAX_NETS];
	int n;
	/* the accelerator's module, loaded at boot for accel=on */
	struct gears_inject *inj;
	struct gears_payload *pl;
	void *ko;
	size_t ko_len;
	char param[40];
	const char *argv[1];
	struct net *inj_net;
};

static void *vnet_create(struct sup *sup)
{
	struct vnet_svc *v = calloc(1, sizeof(*v));

	if (v)
		v->sup = sup;
	return v;
}

static int opt_net(void *state, const char *arg, char *err, size_t errsz)
{
	struct vnet_svc *v = state;

	if (v->n >= MAX_NETS)
		return snprintf(err, errsz, "at most %d --net", MAX_NETS), -E2BIG;
	if (vnet_net_parse(arg, &v->nets[v->n].spec, err, errsz))
		return -EINVAL;
	for (int j = 0; j < v->n && v->nets[v->n].spec.accel; j++)
		if (v->nets[j].spec.accel)
			return snprintf(err, errsz, "--net: one NIC per VM can have the accelerator"), -EINVAL;
	v->nets[v->n].v = v;
	v->n++;
	return 0;
}

/* The port's name on its bridge: the VM's name (and NIC index), shortened
 * with a hash when it does not fit. */
static void port_name(const char *vm, int k, char *out)
{
	char full[80];
	uint64_t h = 0xcbf29ce484222325ull;
	size_t l;

	snprintf(full, sizeof(full), k ? "%s-%d" : "%s", vm, k);
	l = strlen(full);
	if (l < VNET_NAME_MAX) {
		memcpy(out, full, l + 1);
		return;
	}
	for (const char *p = full; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	snprintf(out, VNET_NAME_MAX, "%.20s-%08x", full, (unsigned)(h ^ (h >> 32)));
}

static int vnet_qemu(void *state, struct sup_args *a, char *err, size_t errsz)
{
	struct vnet_svc *v = state;
	const char *vm = sup_name(v->sup);

	for (int k = 0; k < v->n; k++) {
		struct net *nt = &v->nets[k];
		char e[512], id[24], esc[512], args[6][512], aargs[4][512];
		json_t *ans, *req;

		for (int j = 0; j < k; j++)
			if (!strcmp(v->nets[j].spec.bridge, nt->spec.bridge) && v->nets[j].spec.vni == nt->spec.vni)
				return snprintf(err, errsz, "two NICs on bridge %s, overlay %u", nt->spec.bridge,
						nt->spec.vni), -EINVAL;
		port_name(vm, k, nt->port);
		if (!nt->spec.has_mac)
			vnet_mac_from_name(vm, k, nt->spec.mac);
		req = json_pack("{s:s, s:s, s:i, s:i}", "op", "port_add", "name", nt->port, "vni", (int)nt->spec.vni,
				"owner", (int)getpid());
		if (nt->spec.accel) {
			char m[18];

			vnet_mac_format(nt->spec.mac, m);
			json_object_set_new(req, "accel_mac", json_string(m));
		}
		ans = vnet_ctl_call(nt->spec.bridge, req, e, sizeof(e));
		json_decref(req);
		if (!ans)
			return snprintf(err, errsz, "--net %s: %s", nt->spec.bridge, e), -EIO;
		nt->added = true;
		nt->mtu = (unsigned)json_integer_value(json_object_get(ans, "mtu"));
		if (!gears_qemu_escape(json_string_value(json_object_get(ans, "socket")) ?: "", esc, sizeof(esc))) {
			json_decref(ans);
			return snprintf(err, errsz, "--net %s: socket path cannot be given to QEMU", nt->spec.bridge),
			       -EINVAL;
		}
		snprintf(id, sizeof(id), "gears-net%d", k);
		if (vnet_qemu_args(id, esc, nt->spec.mac, nt->mtu, args) ||
		    (nt->spec.accel &&
		     (!gears_qemu_escape(json_string_value(json_object_get(ans, "accel_socket")) ?: "", esc, sizeof(esc)) ||
		      vnet_accel_qemu_args(id, esc, aargs)))) {
			json_decref(ans);
			return snprintf(err, errsz, "--net %s: socket path too long", nt->spec.bridge), -ENAMETOOLONG;
		}
		json_decref(ans);
		for (int i = 0; i < (nt->spec.accel ? 10 : 6); i++) {
			int r = sup_args_add(a, i < 6 ? args[i] : aargs[i - 6]);

			if (r)
				return snprintf(err, errsz, "QEMU command line too long"), r;
		}
	}
	return 0;
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && n < (8l << 20) && !fseek(f, 0, SEEK_SET) &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	} else if (buf) {
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* accel=on: the module into the guest kernel (the insmod payload in PID 1),
 * driven by vnet_poll. A failure leaves the NIC on its virtio path. */
static void accel_load(struct net *nt)
{
	struct vnet_svc *v = nt->v;
	struct gears_sc *sc = sup_sc(v->sup);
	char m[18];

	vnet_mac_format(nt->spec.mac, m);
	snprintf(v->param, sizeof(v->param), "mac=%s", m);
	v->argv[0] = v->param;
	v->pl = gears_payload__open(GEARS_GUEST_DIR "/payloads/insmod");
	v->ko = slurp(GEARS_GUEST_DIR "/modules/gears_vnet_accel.ko", &v->ko_len);
	struct gears_inject_opts o = { .sz = sizeof(o), .pid = 1, .argc = 1, .argv = v->argv, .blob = v->ko,
				       .blob_len = v->ko_len };

	if (sc && v->pl && v->ko)
		v->inj = gears_inject__start(sc, v->pl, &o);
	if (!v->inj) {
		fprintf(stderr, "gears: --net %s,accel=on: cannot load the accelerator (%s); the NIC stays on virtio\n",
			nt->spec.bridge, !v->ko ? "no " GEARS_GUEST_DIR "/modules/gears_vnet_accel.ko" : gears_last_error());
		return;
	}
	v->inj_net = nt;
}

static int vnet_poll(void *state, const struct pollfd *p, int n)
{
	struct vnet_svc *v = state;
	struct gears_inject_result r;

	(void)p;
	(void)n;
	if (!v->inj)
		return 0;
	if (!gears_inject__step(v->inj))
		return 1;
	gears_inject__result(v->inj, &r);
	if (r.state != GEARS_INJECT_DONE || r.result)
		fprintf(stderr, "gears: --net %s,accel=on: the accelerator did not load (%s); the NIC stays on virtio\n",
			v->inj_net->spec.bridge, r.state != GEARS_INJECT_DONE ? r.why : strerror((int)-r.result));
	gears_inject__free(v->inj);
	v->inj = NULL;
	return 0;
}

static int vnet_timeout_us(void *state)
{
	struct vnet_svc *v = state;

	return v->inj ? 5000 : -1;
}

static void net_up(void *ctx, int status, const char *out, size_t len)
{
	struct net *nt = ctx;
	char why[700];

	if (status == 0) {
		if (nt->spec.accel == VNET_ACCEL_ON)
			accel_load(nt);
		return;
	}
	snprintf(why, sizeof(why), "--net %s: bringing the NIC up in the guest failed (status %d): %.*s",
		 nt->spec.bridge, status, (int)(len > 300 ? 300 : len), out);
	sup_stop_vm(nt->v->sup, 125, why);
}

static int vnet_guest_ready(void *state, char *err, size_t errsz)
{
	struct vnet_svc *v = state;

	for (int k = 0; k < v->n; k++) {
		struct net *nt = &v->nets[k];
		char cmd[1024];
		char *argv[] = { "sh", "-c", cmd, NULL };

		if (vnet_guest_setup_cmd(nt->spec.mac, nt->spec.ip, nt->mtu, cmd, sizeof(cmd)))
			return snprintf(err, errsz, "--net: guest command too long"), -E2BIG;
		int r = sup_guest_exec(v->sup, argv, net_up, nt);

		if (r)
			return snprintf(err, errsz, "--net: the guest agent cannot run commands (%s)", strerror(-r)), r;
	}
	return 0;
}

static json_t *vnet_info(void *state)
{
	struct vnet_svc *v = state;
	json_t *arr = json_array();

	for (int k = 0; k < v->n; k++) {
		char m[18];

		vnet_mac_format(v->nets[k].spec.mac, m);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "bridge", v->nets[k].spec.bridge,
						     "port", v->nets[k].port, "mac", m, "ip", v->nets[k].spec.ip, "vni",
						     (int)v->nets[k].spec.vni, "accel", v->nets[k].spec.accel != 0));
	}
	return json_pack("{s:o}", "nets", arr);
}

static void vnet_destroy(void *state)
{
	struct vnet_svc *v = state;

	for (int k = 0; k < v->n; k++) {
		char e[512];
		json_t *req, *ans;

		if (!v->nets[k].added)
			continue;
		/* The bridge would notice our death within a second anyway; say it now. */
		req = json_pack("{s:s, s:s}", "op", "port_del", "name", v->nets[k].port);
		ans = vnet_ctl_call(v->nets[k].spec.bridge, req, e, sizeof(e));
		json_decref(req);
		json_decref(ans);
	}
	gears_inject__free(v->inj);
	gears_payload__free(v->pl);
	free(v->ko);
	free(v);
}

static const struct sup_option vnet_options[] = {
	{ .name = "net", .arg = "BRIDGE[,mac=M][,ip=A/N][,vni=N][,accel=on|off]", .repeatable = true,
	  .parse = opt_net,
	  .help = "a NIC on VNET bridge BRIDGE (`gears vnet start`), brought up in the guest with the "
		  "address; MAC from the VM name unless given; accel=: the overlay accelerator (on: from boot)" },
	{ 0 }
};

static const struct sup_service vnet_service = {
	.name = "vnet",
	.order = 40,
	.options = vnet_options,
	.create = vnet_create,
	.qemu_args = vnet_qemu,
	.guest_ready = vnet_guest_ready,
	.poll = vnet_poll,
	.timeout_us = vnet_timeout_us,
	.info = vnet_info,
	.destroy = vnet_destroy,
};
SUP_SERVICE(vnet_service);
