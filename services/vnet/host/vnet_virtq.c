// SPDX-License-Identifier: MIT
/* Split virtqueues from the device side, guest-proof (see vnet_virtq.h). */
#include <errno.h>
#include <string.h>

#include "vnet_virtq.h"

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

void *vnet_mem_gpa(const struct vnet_memtab *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->n; i++) {
		const struct vnet_memreg *r = &m->r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

void *vnet_mem_uva(const struct vnet_memtab *m, uint64_t uva, uint64_t len)
{
	for (int i = 0; i < m->n; i++) {
		const struct vnet_memreg *r = &m->r[i];

		if (uva >= r->uva && uva - r->uva < r->size && len <= r->size - (uva - r->uva))
			return r->host + (uva - r->uva);
	}
	return NULL;
}

static inline uint16_t ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

unsigned vnet_vq_pending(struct vnet_vq *vq)
{
	uint16_t n;

	if (vq->broken || !vq->avail)
		return 0;
	n = (uint16_t)(ld16(vq->avail + 2) - vq->last_avail);
	return n > vq->num ? 0 : n;
}

int vnet_vq_pop(struct vnet_vq *vq, const struct vnet_memtab *m, bool writable, uint16_t *head,
		struct vnet_iov *iov, unsigned *niov, uint64_t *total)
{
	const uint8_t *table;
	unsigned tnum, count = 0, i;
	uint16_t avail_idx, h;
	bool in_indirect = false, bad = false;

	*niov = 0;
	*total = 0;
	if (vq->broken || !vq->desc)
		return -EIO;
	avail_idx = ld16(vq->avail + 2);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num) {
		vq->broken = true;	/* the guest claims more buffers than the ring holds */
		return -EIO;
	}
	h = ld16(vq->avail + 4 + 2 * (vq->last_avail & (vq->num - 1)));
	if (h >= vq->num) {
		vq->broken = true;
		return -EIO;
	}
	vq->last_avail++;
	*head = h;
	table = vq->desc;
	tnum = vq->num;
	i = h;
	for (;;) {
		struct desc d;

		memcpy(&d, table + 16ull * i, sizeof(d));	/* one read; the copy is checked */
		if (++count > VNET_VQ_MAX_CHAIN || count > tnum + (in_indirect ? 1u : 0u)) {
			bad = true;	/* a loop, or longer than any real chain */
			break;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* Only a top-level descriptor may point to a table, and it must
			 * not also chain on (virtio 1.1 §2.7.5.3.1). */
			if (!vq->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT) || !d.len || d.len % 16 ||
			    d.len / 16 > VNET_VQ_MAX_CHAIN) {
				bad = true;
				break;
			}
			table = vnet_mem_gpa(m, d.addr, d.len);
			if (!table) {
				bad = true;
				break;
			}
			tnum = d.len / 16;
			in_indirect = true;
			i = 0;
			continue;
		}
		if (!!(d.flags & VRING_DESC_F_WRITE) != writable) {
			bad = true;
			break;
		}
		if (d.len) {
			uint8_t *p = vnet_mem_gpa(m, d.addr, d.len);

			if (!p || *niov >= VNET_VQ_MAX_CHAIN) {
				bad = true;
				break;
			}
			iov[*niov].p = p;
			iov[*niov].len = d.len;
			(*niov)++;
			*total += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= tnum) {
			bad = true;
			break;
		}
	}
	if (bad) {
		vq->bad_chains++;
		*niov = 0;
		*total = 0;
		return -EINVAL;
	}
	return 1;
}

void vnet_vq_push(struct vnet_vq *vq, uint16_t head, uint32_t len)
{
	uint8_t *e = vq->used + 4 + 8ull * (vq->used_idx & (vq->num - 1));
	uint32_t v[2] = { head, len };

	memcpy(e, v, sizeof(v));
	vq->used_idx++;
}

bool vnet_vq_publish(struct vnet_vq *vq)
{
	uint16_t old = vq->signalled, now = vq->used_idx;
	bool valid = vq->signalled_valid;

	st16(vq->used + 2, now);
	/* The guest's suppression word must be read after our index is visible
	 * (virtio §2.7.10), else an interrupt can be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled = now;
	vq->signalled_valid = true;
	if (vq->event_idx) {
		uint16_t ev = ld16(vq->avail + 4 + 2ull * vq->num);

		return !valid || (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	}
	return !(ld16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT);
}

bool vnet_vq_arm(struct vnet_vq *vq)
{
	if (vq->broken || !vq->avail)
		return false;
	if (vq->event_idx)
		st16(vq->used + 4 + 8ull * vq->num, vq->last_avail);
	else
		st16(vq->used, 0);	/* VRING_USED_F_NO_NOTIFY off */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16(vq->avail + 2) != vq->last_avail;
}
