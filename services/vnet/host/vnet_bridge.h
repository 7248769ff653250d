/* SPDX-License-Identifier: MIT */
/*
 * The VNET bridge process and its control channel.
 *
 * One bridge per host per overlay set, started by `gears vnet start NAME`,
 * independent of the VMs it serves. Its files live in
 * gears_runtime_dir()/.vnet/NAME/ (a leading dot: never a VM name):
 *
 *   ctl.sock        control socket: one JSON request per line, one JSON answer per line
 *   config.json     ports, links, routes, listen address, MTU: rewritten on every
 *                   change, read back by a bridge started again after a crash
 *   lock            flock()ed by the running bridge
 *   bridge.log      its stderr
 *   port-P.sock     the vhost-user socket of port P (QEMU connects, reconnect=1)
 *
 * Requests (field "op"; answers {"ok": true, ...} or {"ok": false, "error": "..."}):
 *   ping, stop, list, stats,
 *   port_add {name, vni, owner}, port_del {name},
 *   link_add {name, peer "A.B.C.D:PORT", vni}, link_del {name},
 *   route_add {src, dst, to, prio}, route_del {id}
 */
#ifndef GEARS_VNET_BRIDGE_H
#define GEARS_VNET_BRIDGE_H

#include <stddef.h>

#include <jansson.h>

#define VNET_DEFAULT_MTU 1450	/* 1500-byte underlay minus VXLAN's 50 bytes */

struct vnet_bridge_opts {
	const char *name;
	const char *listen;	/* "ADDR:PORT" for VXLAN links, or NULL: local ports only */
	unsigned mtu;		/* 0: config's, else VNET_DEFAULT_MTU */
	int ready_fd;		/* written to ("ok\n" or an error line) once serving, then closed */
};

/* Run a bridge in this process until it is told to stop or gets SIGTERM.
 * 0 on a clean stop, or -errno (reason written to ready_fd and stderr). */
int vnet_bridge_run(const struct vnet_bridge_opts *o);

/* Directory of bridge `name` (static buffer); NULL + errno for a bad name or
 * no runtime directory. */
const char *vnet_bridge_dir(const char *name, char *buf, size_t sz);
/* Valid bridge / port / link name: [A-Za-z0-9_.-], 1..31, no leading dot. */
int vnet_name_ok(const char *n);

/* One request to bridge `name`: answer (new reference) or NULL with a
 * reason in err ("not running", the bridge's error). */
json_t *vnet_ctl_call(const char *name, json_t *req, char *err, size_t errsz);

/* Names of the bridges that have a directory, running or not (cb per name). */
int vnet_bridge_list(void (*cb)(const char *name, void *ctx), void *ctx);

#endif
