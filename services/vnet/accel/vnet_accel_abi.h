/* SPDX-License-Identifier: MIT */
/*
 * The overlay accelerator's shared memory: the contract between the bridge
 * (services/vnet/host/vnet_accel.c) and the guest kernel module
 * (services/vnet/accel/guest/gears_vnet_accel.c). Included by both; only
 * <linux/types.h> types, so it builds in the kernel and in user space.
 *
 * The region is the BAR 2 of an ivshmem-doorbell device whose server is the
 * bridge (one per accelerated NIC). The bridge is peer 0, the VM peer 1.
 * The guest rings the bridge by writing 0 (peer 0, vector 0) to the
 * device's doorbell register; the bridge interrupts the guest through the
 * VM's vector 0 (MSI-X).
 *
 * Layout (all fixed; neither side takes an offset or size from the other):
 *
 *   0                  struct gva_hdr (the identity and the indices)
 *   GVA_DESC_OFF       TX descriptors, GVA_SLOTS of struct gva_desc, then RX ones
 *   GVA_DATA_OFF       TX slots (GVA_SLOT_SIZE bytes each), then RX slots
 *
 * Rings: free-running 32-bit indices; an entry i lives in slot i % GVA_SLOTS.
 * TX: the guest produces (tx_prod), the bridge consumes (tx_cons): an entry
 * is the frame in its slot, or (GVA_DESC_F_SEGS) where it lies in guest RAM. RX: the
 * bridge produces (rx_prod), the guest consumes (rx_cons). Each side reads
 * the other's index once, checks prod - cons <= GVA_SLOTS, reads each
 * descriptor once and checks its length (<= GVA_SLOT_SIZE - GVA_VHDR_LEN,
 * >= 14 + GVA_VHDR_LEN) before touching the slot; a slot's bytes are copied
 * once and only the copy is parsed.
 *
 * Notifications only when the other side sleeps:
 *   host_kick     the bridge sets 1 when it found the TX ring empty; the guest,
 *                 having produced TX, rings the doorbell when it reads 1.
 *   host_rxwait   the bridge sets 1 when frames wait for a full RX ring; the
 *                 guest, having consumed RX, rings the doorbell when it reads 1.
 *   guest_irq     the guest sets 1 when its receive poll found the RX ring
 *                 empty; the bridge, having produced RX, interrupts the guest
 *                 when it reads 1.
 *   guest_txwait  the guest sets 1 when its transmit queue stopped on a full
 *                 TX ring; the bridge, having consumed TX, interrupts it.
 * Each side sets its flag, then (full barrier) looks at the ring again; the
 * side that acts on a flag clears it first. A doorbell or interrupt too many
 * costs a turn, never a frame.
 *
 * Life: the bridge writes magic, version and MAC and sets host_state READY.
 * The module, once it owns the NIC, sets guest_state ACTIVE and interrupts
 * nothing; from then on the bridge sends the NIC's received frames to the RX
 * ring instead of the virtio ring. On unload the module sets guest_state
 * DETACHED first, gives the NIC its own transmit function back, and the
 * bridge returns to the virtio ring.
 */
#ifndef GEARS_VNET_ACCEL_ABI_H
#define GEARS_VNET_ACCEL_ABI_H

#include <linux/types.h>

#define GVA_MAGIC 0x41564e47u		/* "GNVA" */
#define GVA_VERSION 2u
#define GVA_REGION_SIZE (8u << 20)	/* a power of two (a PCI BAR) */
#define GVA_SLOTS 32u
#define GVA_VHDR_LEN 12u		/* struct virtio_net_hdr_mrg_rxbuf, num_buffers 1 */
#define GVA_SLOT_SIZE (65536u + 512u)	/* header + a 64 KiB GSO frame + slack */
#define GVA_FRAME_MIN 14u
#define GVA_FRAME_MAX (GVA_SLOT_SIZE - GVA_VHDR_LEN)
#define GVA_DESC_OFF 4096u
#define GVA_DATA_OFF 8192u

enum { GVA_HOST_NONE = 0, GVA_HOST_READY = 1 };
enum { GVA_GUEST_NONE = 0, GVA_GUEST_ACTIVE = 1, GVA_GUEST_DETACHED = 2 };

struct gva_desc {
	__u32 len;		/* GVA_VHDR_LEN + frame bytes */
	__u32 flags;		/* GVA_DESC_F_* */
};

/* TX only: the frame is not in the slot but in guest RAM, where the guest's
 * packet is (no copy in the guest). The slot holds the virtio-net header,
 * then a __u32 count at GVA_SEGS_COUNT and that many struct gva_seg at
 * GVA_SEGS_OFF, whose lengths add up to the frame's. The bridge copies them
 * out of guest RAM (through the vhost-user memory table: each segment inside
 * one region) before it advances tx_cons; the guest frees the packet after. */
#define GVA_DESC_F_SEGS 0x1u
#define GVA_MAX_SEGS 24u
#define GVA_SEGS_COUNT 12u
#define GVA_SEGS_OFF 16u
struct gva_seg {
	__u64 gpa;
	__u32 len;
	__u32 pad;
};

/* Each side's written fields on a line of their own. */
struct gva_hdr {
	__u32 magic, version;
	__u32 slots, slot_size;	/* informative: GVA_SLOTS, GVA_SLOT_SIZE */
	__u8 mac[6];		/* the NIC to take over */
	__u16 mtu;
	__u32 host_state;
	__u8 pad0[64 - 24];
	/* written by the guest */
	__u32 guest_state;
	__u32 tx_prod;
	__u32 rx_cons;
	__u32 guest_irq;
	__u32 guest_txwait;
	__u8 pad1[64 - 20];
	/* written by the bridge */
	__u32 tx_cons;
	__u32 rx_prod;
	__u32 host_kick;
	__u32 host_rxwait;
	__u8 pad2[64 - 16];
};

#define GVA_TX_DESC(i) (GVA_DESC_OFF + ((i) % GVA_SLOTS) * (__u32)sizeof(struct gva_desc))
#define GVA_RX_DESC(i) (GVA_DESC_OFF + (GVA_SLOTS + (i) % GVA_SLOTS) * (__u32)sizeof(struct gva_desc))
#define GVA_TX_SLOT(i) (GVA_DATA_OFF + ((i) % GVA_SLOTS) * GVA_SLOT_SIZE)
#define GVA_RX_SLOT(i) (GVA_DATA_OFF + (GVA_SLOTS + (i) % GVA_SLOTS) * GVA_SLOT_SIZE)

/* ivshmem-doorbell registers (BAR 0) */
#define GVA_IVSHMEM_DOORBELL 12u
#define GVA_HOST_PEER 0u
#define GVA_GUEST_PEER 1u

#endif
