/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user-net back-end: one VM NIC attached to the switch.
 *
 * The bridge listens on a unix socket per NIC; QEMU connects to it
 * (`-chardev socket,path=...,reconnect=1 -netdev vhost-user`), passes the
 * guest's RAM as fds (SET_MEM_TABLE) and the rings' kick/call eventfds, and
 * the bridge moves frames between the guest's virtqueues and the switch with
 * the virtio-net header's offloads kept (TSO, checksum; 64 KiB frames).
 * The front-end is trusted to speak the protocol; the guest is not: every
 * ring access goes through vnet_virtq.c.
 */
#ifndef GEARS_VNET_VHOST_H
#define GEARS_VNET_VHOST_H

#include <stdint.h>

#include "vnet_loop.h"
#include "vnet_switch.h"

struct vnet_vhost;

/* Listen on `path` for the front-end of port `port` (the caller made it with
 * ops vnet_vhost_port_ops and priv NULL; this sets priv). mtu: what the
 * guest is told (VIRTIO_NET_F_MTU), which bounds its frames without GSO.
 * NULL + errno on failure. */
struct vnet_vhost *vnet_vhost_new(struct vnet_loop *l, struct vnet_sw *sw, struct vnet_port *port,
				  const char *path, unsigned mtu);
/* Close the connection and the listening socket (unlinking it); the port is
 * the caller's to delete afterwards. */
void vnet_vhost_free(struct vnet_vhost *v);
extern const struct vnet_port_ops vnet_vhost_port_ops;

struct vnet_accel;
/* Give the NIC an accelerator (NULL: none): while its guest module is
 * active the port's frames go to its RX ring instead of the virtio ring.
 * The accelerator is the caller's; clear it before freeing it. */
void vnet_vhost_set_accel(struct vnet_vhost *v, struct vnet_accel *a);

struct vnet_vhost_info {
	bool connected;
	uint64_t features;
	unsigned rx_size, tx_size;
	uint64_t connects, bad_chains;
	bool broken;
};
void vnet_vhost_info(const struct vnet_vhost *v, struct vnet_vhost_info *out);

#endif
