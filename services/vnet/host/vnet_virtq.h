/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x, §2.7) in guest memory, from the device side,
 * with every value the guest controls checked: ring indices, descriptor
 * indices, lengths, addresses (inside the memory table), chain length,
 * indirect tables. The guest can change its rings while we read them, so
 * each descriptor is copied once and the copy is what is checked and used.
 *
 * A bad chain is consumed and returned with length 0 (the guest loses that
 * buffer, nothing else); an impossible ring state (the available index
 * running more than a ring ahead, a head out of range) marks the queue broken
 * and it is not touched again until the front-end sets it up anew.
 */
#ifndef GEARS_VNET_VIRTQ_H
#define GEARS_VNET_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#define VNET_MEM_REGIONS 8
#define VNET_VQ_MAX_SIZE 32768
#define VNET_VQ_MAX_CHAIN 1024	/* descriptors in one chain, indirect ones included */

struct vnet_memreg {
	uint64_t gpa, size, uva;
	uint8_t *host;		/* mapping of [gpa, gpa + size) */
};

struct vnet_memtab {
	struct vnet_memreg r[VNET_MEM_REGIONS];
	int n;
};

/* Host pointer for [addr, addr + len) of guest-physical (gpa) or front-end
 * virtual (uva) memory, wholly inside one region; NULL otherwise. */
void *vnet_mem_gpa(const struct vnet_memtab *m, uint64_t gpa, uint64_t len);
void *vnet_mem_uva(const struct vnet_memtab *m, uint64_t uva, uint64_t len);

struct vnet_vq {
	unsigned num;		/* ring size, a power of 2 */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;	/* next available entry we will take */
	uint16_t used_idx;	/* next used entry we will write (published by vnet_vq_publish) */
	uint16_t signalled;	/* used index at the last notification decision */
	bool signalled_valid;
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC */
	bool broken;
	uint64_t bad_chains;	/* chains refused (each counted once) */
};

struct vnet_iov {
	uint8_t *p;
	uint32_t len;
};

/* Bytes of ring memory for a queue of num entries (for the front-end's
 * addresses to be checked against the memory table). */
static inline uint64_t vnet_vq_desc_size(unsigned num) { return 16ull * num; }
static inline uint64_t vnet_vq_avail_size(unsigned num) { return 6ull + 2ull * num; }
static inline uint64_t vnet_vq_used_size(unsigned num) { return 6ull + 8ull * num; }

/*
 * Take the next available chain. Device-writable descriptors are wanted when
 * `writable` (receive queue), device-readable ones otherwise.
 * Returns 1 with the chain in iov[0..*niov) (total bytes in *total),
 * 0 when the ring is empty, -EINVAL for a bad chain (already consumed: push
 * it back with length 0), -EIO when the ring is broken.
 */
int vnet_vq_pop(struct vnet_vq *vq, const struct vnet_memtab *m, bool writable, uint16_t *head,
		struct vnet_iov *iov, unsigned *niov, uint64_t *total);
/* Record a used element (not visible to the guest before vnet_vq_publish). */
void vnet_vq_push(struct vnet_vq *vq, uint16_t head, uint32_t len);
/* Make the pushed elements visible; true when the guest wants an interrupt. */
bool vnet_vq_publish(struct vnet_vq *vq);
/* Ask the guest to kick on its next buffer; true if buffers arrived
 * meanwhile (then keep going instead of sleeping). */
bool vnet_vq_arm(struct vnet_vq *vq);
/* Number of available entries not yet taken (0 on a broken ring). */
unsigned vnet_vq_pending(struct vnet_vq *vq);

#endif
