/* SPDX-License-Identifier: MIT */
/*
 * The overlay accelerator's host half: for one VM NIC (a vhost-user port),
 * a shared region and two rings that the guest kernel module
 * (services/vnet/accel/guest/gears_vnet_accel.c) uses instead of the
 * virtio rings once it took the NIC over. The contract is
 * services/vnet/accel/vnet_accel_abi.h.
 *
 * The bridge is the ivshmem server of the VM's ivshmem-doorbell device
 * (QEMU connects to `accel-PORT.sock` at start, without reconnect): it hands
 * QEMU the region (a memfd) and two eventfds, the guest's doorbell to the
 * bridge (peer 0, vector 0) and the bridge's interrupt to the guest (peer 1,
 * vector 0). Frames keep the switch port of the NIC: forwarding, routes,
 * statistics and back-pressure are the port's, only the path into and out
 * of the guest changes.
 */
#ifndef GEARS_VNET_ACCEL_H
#define GEARS_VNET_ACCEL_H

#include <stdbool.h>
#include <stdint.h>

#include "vnet_loop.h"
#include "vnet_switch.h"

struct vnet_accel;

/* Serve the accelerator of port `port` on `path` for the NIC with `mac`.
 * NULL + errno. */
struct vnet_accel *vnet_accel_new(struct vnet_loop *l, struct vnet_sw *sw, struct vnet_port *port,
				  const char *path, const uint8_t *mac, unsigned mtu);
void vnet_accel_free(struct vnet_accel *a);

/* The guest module owns the NIC: the port's frames go through the rings. */
bool vnet_accel_active(struct vnet_accel *a);
/* Move frames: guest TX ring into the switch, the port's queue into the RX
 * ring. Called by the port's work when active, and on the guest's doorbell. */
void vnet_accel_run(struct vnet_accel *a);
/* Work to run when the accelerator changes state or has more to do (the
 * vhost port's), and the VM's memory table (the vhost-user one: the guest's
 * TX entries may point into its RAM): set once. */
struct vnet_memtab;
void vnet_accel_set_work(struct vnet_accel *a, struct vnet_ev *work, const struct vnet_memtab *mem);

/* Test hook (the bridge's `accel_hostile` request): write what a broken
 * bridge might into the guest's RX ring and interrupt it. `what`:
 * rx_index (an index a ring and a half ahead), rx_len (a length beyond the
 * slot), rx_short (shorter than a header), rx_gso (a GSO header whose
 * checksum start lies beyond the frame). 0, -ENOTCONN (no module),
 * -EAGAIN (ring full), -EINVAL. */
int vnet_accel_hostile(struct vnet_accel *a, const char *what);

struct vnet_accel_info {
	bool connected;		/* QEMU's device is attached */
	const char *state;	/* "idle" (no module), "active", "detached", "broken" */
	uint64_t tx_frames, rx_frames, kicks, irqs, bad, activations;
};
void vnet_accel_info(const struct vnet_accel *a, struct vnet_accel_info *out);

#endif
