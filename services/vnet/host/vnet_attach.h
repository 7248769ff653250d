/* SPDX-License-Identifier: MIT */
/*
 * Attaching a VM to a bridge, shared by the supervisor's VNET service
 * (`gears run --net`) and `gears vnet port`: the --net specification, the
 * MAC a NIC gets when none is given, QEMU's arguments for the vhost-user
 * NIC, and the guest command that brings the interface up.
 */
#ifndef GEARS_VNET_ATTACH_H
#define GEARS_VNET_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vnet_net_spec {
	char bridge[32];
	uint8_t mac[6];
	bool has_mac;
	char ip[64];		/* "A.B.C.D/N" or "" */
	uint32_t vni;		/* default 1 */
	int accel;		/* VNET_ACCEL_*: the overlay accelerator's device, and its module at boot */
};

enum { VNET_ACCEL_NONE, VNET_ACCEL_OFF, VNET_ACCEL_ON };

/* Parse BRIDGE[,mac=M][,ip=A/N][,vni=N][,accel=on|off]. 0, or -EINVAL with a reason. */
int vnet_net_parse(const char *arg, struct vnet_net_spec *s, char *err, size_t errsz);
/* A locally administered unicast MAC from the VM name and NIC index
 * (02:47:xx:xx:xx:xx): stable across boots, distinct across names. */
void vnet_mac_from_name(const char *vm, int idx, uint8_t *mac);
/* QEMU's three option pairs for the NIC: -chardev, -netdev, -device values
 * in args[1], args[3], args[5] with the option names in 0, 2, 4. id: unique
 * per VM (e.g. "vnet0"). 0 or -ENAMETOOLONG. */
int vnet_qemu_args(const char *id, const char *sock, const uint8_t *mac, unsigned mtu, char args[6][512]);
/* QEMU's two option pairs for the accelerator's ivshmem-doorbell device
 * served by the bridge on `sock`: -chardev and -device values in args[1],
 * args[3]. 0 or -ENAMETOOLONG. */
int vnet_accel_qemu_args(const char *id, const char *sock, char args[4][512]);
/* The guest shell command that finds the interface with `mac`, sets its MTU
 * and brings it up with `ip` (may be empty). At most outsz bytes. */
int vnet_guest_setup_cmd(const uint8_t *mac, const char *ip, unsigned mtu, char *out, size_t outsz);

#endif
