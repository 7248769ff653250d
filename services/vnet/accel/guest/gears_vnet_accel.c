// SPDX-License-Identifier: GPL-2.0
/*
 * gears_vnet_accel: the guest half of the VNET overlay accelerator.
 *
 * Loaded by GEARS from the host (`gears vnet accel BRIDGE VM on`, or
 * `gears run --net BRIDGE,accel=on`), with the MAC of the virtio-net NIC to
 * take over as its parameter. It binds the ivshmem-doorbell device whose
 * shared memory the bridge serves (services/vnet/accel/vnet_accel_abi.h has
 * the contract) and keeps the NIC — its name, addresses, routes and open
 * sockets stay as they are — by giving it a copy of its own netdev_ops whose
 * ndo_start_xmit puts each packet, offloads kept (a 64 KiB TSO send is one
 * entry), into the TX ring: as the list of where it lies in guest RAM (the
 * bridge copies it out, then the module frees it), or copied into the ring
 * when it cannot be described so. Frames from the bridge arrive on the RX ring and
 * are handed to the stack on the same NIC from a NAPI poll woken by the
 * device's MSI-X vector. Unloading gives the NIC its own netdev_ops back: the
 * virtio path carries the traffic again with no connection lost (the frames
 * in both rings are delivered first: the bridge drains a detached TX ring,
 * the module its RX ring).
 *
 * The bridge is not trusted: its indices and lengths are checked before
 * use, its virtio-net headers through virtio_net_hdr_to_skb(). A bridge that
 * breaks the ring contract is counted (bad_ring) and the NIC goes back to its
 * virtio path at once (as on unload).
 */
#include <linux/etherdevice.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/virtio_net.h>
#include <linux/workqueue.h>

#include "vnet_accel_abi.h"

#define DRV "gears_vnet_accel"
#define RX_LINEAR 512u
#define DRAIN_MS 500	/* how long a switch off waits for each ring to drain */

static char *mac = "";
module_param(mac, charp, 0444);
MODULE_PARM_DESC(mac, "MAC of the virtio-net NIC to accelerate (the bridge's region names it too)");

/* What the accelerator did, for the guest's own view (read-only). */
static unsigned long tx_frames, rx_frames, tx_drops, rx_drops, bad_ring, doorbells, irqs, tx_copied;
module_param(tx_frames, ulong, 0444);
module_param(rx_frames, ulong, 0444);
module_param(tx_drops, ulong, 0444);
module_param(rx_drops, ulong, 0444);
module_param(bad_ring, ulong, 0444);
module_param(doorbells, ulong, 0444);
module_param(irqs, ulong, 0444);
module_param(tx_copied, ulong, 0444);
MODULE_PARM_DESC(tx_copied, "frames sent by copy into the region (the others: read by the bridge in place)");
static unsigned long tx_unsent;
module_param(tx_unsent, ulong, 0444);
MODULE_PARM_DESC(tx_unsent, "TX entries the bridge had not taken when a switch off stopped waiting (freed unsent)");
static bool zerocopy = true;
module_param(zerocopy, bool, 0444);
MODULE_PARM_DESC(zerocopy, "let the bridge read sent packets where they are (default on; off: copy each)");
static char accel_state[16] = "none";
module_param_string(state, accel_state, sizeof(accel_state), 0444);
MODULE_PARM_DESC(state, "none, active, detached or broken");

struct accel {
	struct pci_dev *pdev;
	void __iomem *regs;
	u8 *shm;
	struct gva_hdr *h;
	struct net_device *dev;
	const struct net_device_ops *orig_ops;
	struct net_device_ops ops;
	struct net_device napi_dev;	/* NAPI's home (the NIC's own NAPIs stay the driver's) */
	struct napi_struct napi;
	bool irq_on, napi_on, attached;
	bool dev_held;		/* our reference on the NIC (dropped when it unregisters) */
	bool tx_stopped;	/* we stopped the NIC's queue on a full TX ring (under the TX lock) */
	bool rx_closed;		/* give_back drained the RX ring: the poll takes nothing more */
	bool broken;		/* the bridge broke the contract: the NIC is back on virtio */
	struct work_struct broken_work;
	struct timer_list stall;	/* a stopped queue the bridge never drains */
	u32 stall_cons;
	u32 tx_prod, rx_cons;	/* our own indices (the shared copies are written from these) */
	u32 tx_done;		/* TX entries whose packets we freed (up to the bridge's tx_cons) */
	struct sk_buff *tx_skb[GVA_SLOTS];	/* packets the bridge reads from guest RAM */
	u64 tx_bytes, rx_bytes;
};

static struct accel *the;
static const struct net_device_ops *saved_ops;	/* the NIC's own, while ours are installed */
static int probe_err = -ENODEV;
static char probe_why[128] = "no ivshmem-doorbell device with a GEARS accelerator region";

static void ring_doorbell(struct accel *a)
{
	writel((GVA_HOST_PEER << 16) | 0, a->regs + GVA_IVSHMEM_DOORBELL);
	doorbells++;
}

/* After producing TX (flag host_kick) or consuming RX (host_rxwait). */
static void kick_host(struct accel *a, u32 *flag)
{
	smp_mb();	/* our index before their flag */
	if (READ_ONCE(*flag))
		ring_doorbell(a);
}

static void mark_broken(struct accel *a, const char *what)
{
	if (a->broken)
		return;
	a->broken = true;
	bad_ring++;
	pr_err(DRV ": the bridge broke the ring contract (%s): NIC %s back on its virtio path\n", what,
	       a->dev->name);
	schedule_work(&a->broken_work);
}

/* The transmit queue stopped on a full ring a second ago: a bridge that took
 * nothing since is gone (killed, restarted): the NIC goes back to virtio. */
static void stall_timer(struct timer_list *t)
{
	struct accel *a = from_timer(a, t, stall);

	if (a->attached && READ_ONCE(a->tx_stopped) && READ_ONCE(a->h->tx_cons) == a->stall_cons)
		mark_broken(a, "it took no frame for a second");
}

/* Free the packets of the TX entries the bridge consumed (cons, checked). */
static void tx_reclaim(struct accel *a, u32 cons)
{
	while (a->tx_done != cons) {
		struct sk_buff **sp = &a->tx_skb[a->tx_done % GVA_SLOTS];

		if (*sp)
			dev_consume_skb_any(*sp);
		*sp = NULL;
		a->tx_done++;
	}
}

/* Where the packet lies in guest RAM, as segments into the slot; the count,
 * or 0 when it cannot be sent in place (then it is copied). */
static u32 tx_segs(struct sk_buff *skb, u8 *slot)
{
	struct gva_seg *sg = (struct gva_seg *)(slot + GVA_SEGS_OFF);
	u32 n = 0, hl = skb_headlen(skb);

	if (skb_has_frag_list(skb) || skb_shinfo(skb)->nr_frags + 1 > GVA_MAX_SEGS)
		return 0;
	if (hl) {
		if (!virt_addr_valid(skb->data) || !virt_addr_valid(skb->data + hl - 1))
			return 0;
		sg[n].gpa = virt_to_phys(skb->data);
		sg[n].len = hl;
		sg[n++].pad = 0;
	}
	for (int i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];

		if (!skb_frag_size(f))
			continue;
		sg[n].gpa = page_to_phys(skb_frag_page(f)) + skb_frag_off(f);
		sg[n].len = skb_frag_size(f);
		sg[n++].pad = 0;
	}
	return n;
}

static netdev_tx_t accel_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct accel *a = the;
	struct virtio_net_hdr_mrg_rxbuf vh = {};
	u32 cons, len = skb->len, nseg = 0;
	struct gva_desc *d;
	u8 *slot;

	if (unlikely(!a || a->broken || READ_ONCE(a->h->guest_state) != GVA_GUEST_ACTIVE))
		return saved_ops->ndo_start_xmit(skb, dev);
	if (unlikely(READ_ONCE(a->h->host_state) != GVA_HOST_READY)) {
		mark_broken(a, "the bridge withdrew the region");
		return a->orig_ops->ndo_start_xmit(skb, dev);
	}
	cons = READ_ONCE(a->h->tx_cons);
	if (unlikely(cons - a->tx_done > a->tx_prod - a->tx_done)) {
		mark_broken(a, "tx_cons outside the entries in flight");
		return a->orig_ops->ndo_start_xmit(skb, dev);
	}
	tx_reclaim(a, cons);
	if (a->tx_prod - cons == GVA_SLOTS) {
		netif_stop_queue(dev);
		a->tx_stopped = true;
		a->stall_cons = cons;
		mod_timer(&a->stall, jiffies + HZ);
		WRITE_ONCE(a->h->guest_txwait, 1);
		smp_mb();
		cons = READ_ONCE(a->h->tx_cons);
		if (a->tx_prod - cons >= GVA_SLOTS) {
			kick_host(a, &a->h->host_kick);
			return NETDEV_TX_BUSY;
		}
		a->tx_stopped = false;
		netif_start_queue(dev);
	}
	if (len < GVA_FRAME_MIN || len > GVA_FRAME_MAX ||
	    virtio_net_hdr_from_skb(skb, &vh.hdr, true, false, 0)) {
		tx_drops++;
		dev_kfree_skb_any(skb);
		return NETDEV_TX_OK;
	}
	vh.num_buffers = cpu_to_le16(1);
	slot = a->shm + GVA_TX_SLOT(a->tx_prod);
	memcpy(slot, &vh, GVA_VHDR_LEN);
	/* In place when it can be: the packet stays ours (its socket's memory
	 * accounting released now, as virtio-net does) until the bridge took it. */
	if (zerocopy && !skb_orphan_frags(skb, GFP_ATOMIC) && (nseg = tx_segs(skb, slot))) {
		*(u32 *)(slot + GVA_SEGS_COUNT) = nseg;
		skb_orphan(skb);
		nf_reset_ct(skb);
		a->tx_skb[a->tx_prod % GVA_SLOTS] = skb;
	} else if (skb_copy_bits(skb, 0, slot + GVA_VHDR_LEN, len)) {
		tx_drops++;
		dev_kfree_skb_any(skb);
		return NETDEV_TX_OK;
	} else {
		tx_copied++;
	}
	d = (struct gva_desc *)(a->shm + GVA_TX_DESC(a->tx_prod));
	WRITE_ONCE(d->len, GVA_VHDR_LEN + len);
	WRITE_ONCE(d->flags, nseg ? GVA_DESC_F_SEGS : 0);
	a->tx_prod++;
	smp_store_release(&a->h->tx_prod, a->tx_prod);
	tx_frames++;
	a->tx_bytes += len;
	if (!nseg)
		dev_consume_skb_any(skb);
	if (!netdev_xmit_more())
		kick_host(a, &a->h->host_kick);
	return NETDEV_TX_OK;
}

/* One frame from RX slot `idx` into a new skb: 0, or -errno (dropped). */
static int rx_one(struct accel *a, u32 idx)
{
	struct gva_desc *d = (struct gva_desc *)(a->shm + GVA_RX_DESC(idx));
	u32 len = READ_ONCE(d->len), flen, lin, off;
	const u8 *slot = a->shm + GVA_RX_SLOT(idx);
	struct virtio_net_hdr_mrg_rxbuf vh;
	struct sk_buff *skb;
	int nfr = 0;

	if (len < GVA_VHDR_LEN + GVA_FRAME_MIN || len > GVA_SLOT_SIZE)
		return -EINVAL;
	flen = len - GVA_VHDR_LEN;
	memcpy(&vh, slot, GVA_VHDR_LEN);
	lin = flen < RX_LINEAR ? flen : RX_LINEAR;
	skb = napi_alloc_skb(&a->napi, lin);
	if (!skb)
		return -ENOMEM;
	skb_put_data(skb, slot + GVA_VHDR_LEN, lin);
	for (off = lin; off < flen; nfr++) {
		u32 n = flen - off < PAGE_SIZE ? flen - off : PAGE_SIZE;
		struct page *pg;

		if (nfr >= MAX_SKB_FRAGS || !(pg = alloc_page(GFP_ATOMIC))) {
			kfree_skb(skb);
			return nfr >= MAX_SKB_FRAGS ? -E2BIG : -ENOMEM;
		}
		memcpy(page_address(pg), slot + GVA_VHDR_LEN + off, n);
		skb_add_rx_frag(skb, nfr, pg, 0, n, PAGE_SIZE);
		off += n;
	}
	if (virtio_net_hdr_to_skb(skb, &vh.hdr, true)) {
		kfree_skb(skb);
		return -EINVAL;
	}
	if (vh.hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->protocol = eth_type_trans(skb, a->dev);
	a->rx_bytes += flen;
	netif_receive_skb(skb);
	return 0;
}

static int accel_poll(struct napi_struct *napi, int budget)
{
	struct accel *a = container_of(napi, struct accel, napi);
	int done = 0;
	u32 prod;

	if (unlikely(!a->dev_held)) {	/* the NIC is gone: nothing to deliver to */
		napi_complete_done(napi, 0);
		return 0;
	}
	while (done < budget && !a->broken && !READ_ONCE(a->rx_closed)) {
		prod = smp_load_acquire(&a->h->rx_prod);
		if (prod - a->rx_cons > GVA_SLOTS) {
			mark_broken(a, "rx_prod more than a ring ahead");
			break;
		}
		if (prod == a->rx_cons)
			break;
		while (a->rx_cons != prod && done < budget) {
			if (rx_one(a, a->rx_cons))
				rx_drops++;
			else
				rx_frames++;
			a->rx_cons++;
			done++;
		}
		smp_store_release(&a->h->rx_cons, a->rx_cons);
	}
	if (done)
		kick_host(a, &a->h->host_rxwait);
	/* Packets the bridge took since the last send: free them, and wake the
	 * queue if we stopped it (the TX lock keeps us apart from accel_xmit).
	 * Only while attached: a queue stopped by the virtio driver after
	 * give_back is the driver's to wake. */
	if (a->attached && (a->tx_done != READ_ONCE(a->h->tx_cons) || READ_ONCE(a->tx_stopped))) {
		u32 cons;

		netif_tx_lock(a->dev);
		cons = READ_ONCE(a->h->tx_cons);
		if (a->attached && cons - a->tx_done <= a->tx_prod - a->tx_done) {
			tx_reclaim(a, cons);
			if (a->tx_stopped && a->tx_prod - cons < GVA_SLOTS) {
				a->tx_stopped = false;
				netif_wake_queue(a->dev);
			}
		}
		netif_tx_unlock(a->dev);
	}
	if (done < budget && napi_complete_done(napi, done)) {
		WRITE_ONCE(a->h->guest_irq, 1);
		smp_mb();	/* our flag before their index */
		if (!a->broken && !READ_ONCE(a->rx_closed) && (READ_ONCE(a->h->rx_prod) != a->rx_cons ||
				   (a->attached && READ_ONCE(a->tx_stopped) &&
				    a->tx_prod - READ_ONCE(a->h->tx_cons) < GVA_SLOTS)))
			napi_schedule(napi);
	}
	return done;
}

static irqreturn_t accel_irq(int irq, void *opaque)
{
	struct accel *a = opaque;

	irqs++;
	napi_schedule(&a->napi);
	return IRQ_HANDLED;
}

static void accel_stats(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct accel *a = the;

	if (a && a->orig_ops->ndo_get_stats64)
		a->orig_ops->ndo_get_stats64(dev, s);
	if (a) {
		s->tx_packets += tx_frames;
		s->rx_packets += rx_frames;
		s->tx_bytes += a->tx_bytes;
		s->rx_bytes += a->rx_bytes;
		s->tx_dropped += tx_drops;
		s->rx_dropped += rx_drops;
	}
}

/* The NIC gets its own netdev_ops back; no CPU is in ours afterwards. */
/* One give_back at a time: unload and the broken-ring work may race. */
static DEFINE_MUTEX(give_back_lock);

static void give_back_locked(struct accel *a);
static void give_back(struct accel *a)
{
	mutex_lock(&give_back_lock);
	give_back_locked(a);
	mutex_unlock(&give_back_lock);
}

static void give_back_locked(struct accel *a)
{
	if (!a->attached)
		return;
	ktime_t t0 = ktime_get(), t_rx, t_tx, end;

	WRITE_ONCE(a->h->guest_state, GVA_GUEST_DETACHED);
	smp_mb();
	ring_doorbell(a);	/* the bridge sends to the virtio ring again */
	/* Frames it put in our RX ring before it saw that still go up the
	 * stack: poll until the ring stays empty. Bounded in time, not in
	 * rounds: on a loaded host one short sleep can take tens of ms. */
	end = ktime_add_ms(t0, DRAIN_MS);
	for (int quiet = 0; quiet < 2 && !a->broken && ktime_before(ktime_get(), end);) {
		if (READ_ONCE(a->h->rx_prod) == a->rx_cons) {
			quiet++;
		} else {
			quiet = 0;
			napi_schedule(&a->napi);
		}
		usleep_range(500, 1000);
	}
	t_rx = ktime_get();
	WRITE_ONCE(a->rx_closed, true);	/* a bridge that goes on producing is not followed */
	rtnl_lock();
	netif_tx_lock_bh(a->dev);
	WRITE_ONCE(a->dev->netdev_ops, a->orig_ops);
	a->tx_stopped = false;
	netif_tx_unlock_bh(a->dev);
	netif_tx_wake_all_queues(a->dev);
	rtnl_unlock();
	synchronize_net();
	a->attached = false;
	/* Packets the bridge may still be reading in place: give it a moment to
	 * finish (it stops at DETACHED), then free them all. */
	end = ktime_add_ms(ktime_get(), DRAIN_MS);
	while (!a->broken && READ_ONCE(a->h->tx_cons) != a->tx_prod && ktime_before(ktime_get(), end)) {
		ring_doorbell(a);	/* a bridge that stopped on back-pressure looks again */
		usleep_range(500, 1000);
	}
	if (READ_ONCE(a->h->tx_cons) != a->tx_prod)
		tx_unsent += a->tx_prod - READ_ONCE(a->h->tx_cons);
	t_tx = ktime_get();
	napi_synchronize(&a->napi);
	for (u32 i = 0; i < GVA_SLOTS; i++)
		if (a->tx_skb[i]) {
			dev_kfree_skb_any(a->tx_skb[i]);
			a->tx_skb[i] = NULL;
		}
	snprintf(accel_state, sizeof(accel_state), "%s", a->broken ? "broken" : "detached");
	/* How long each drain took: a slow switch off shows where it waited. */
	pr_info(DRV ": NIC %s back on its virtio path (tx %lu rx %lu frames; drains: rx %lld ms, tx %lld ms, "
		"rest %lld ms; %lu TX entries never taken)\n", a->dev->name, tx_frames, rx_frames,
		ktime_ms_delta(t_rx, t0), ktime_ms_delta(t_tx, t_rx), ktime_ms_delta(ktime_get(), t_tx), tx_unsent);
}

static void broken_work(struct work_struct *w)
{
	give_back(container_of(w, struct accel, broken_work));
}

/* The NIC with our MAC, held, or NULL with the reason in probe_why. */
static struct net_device *find_nic(const u8 *addr)
{
	struct net_device *dev, *found = NULL;
	struct device *parent;

	rtnl_lock();
	for_each_netdev(&init_net, dev)
		if (ether_addr_equal(dev->dev_addr, addr)) {
			found = dev;
			break;
		}
	if (!found) {
		snprintf(probe_why, sizeof(probe_why), "no interface with MAC %pM", addr);
		goto out;
	}
	parent = found->dev.parent;
	if (!parent || !parent->driver || strcmp(parent->driver->name, "virtio_net")) {
		snprintf(probe_why, sizeof(probe_why), "%s is not a virtio-net NIC (driver %s)", found->name,
			 parent && parent->driver ? parent->driver->name : "none");
		found = NULL;
	} else if (found->real_num_tx_queues != 1) {
		snprintf(probe_why, sizeof(probe_why), "%s has %u transmit queues (one is supported)", found->name,
			 found->real_num_tx_queues);
		found = NULL;
	} else if (!found->netdev_ops || !found->netdev_ops->ndo_start_xmit) {
		snprintf(probe_why, sizeof(probe_why), "%s has no transmit function", found->name);
		found = NULL;
	} else if (found->netdev_ops->ndo_start_xmit == accel_xmit) {
		snprintf(probe_why, sizeof(probe_why), "%s is accelerated already", found->name);
		found = NULL;
	}
	if (found)
		dev_hold(found);
out:
	rtnl_unlock();
	return found;
}

static int take_over(struct accel *a)
{
	a->orig_ops = a->dev->netdev_ops;
	saved_ops = a->orig_ops;
	a->ops = *a->orig_ops;
	a->ops.ndo_start_xmit = accel_xmit;
	a->ops.ndo_get_stats64 = accel_stats;
	a->tx_prod = READ_ONCE(a->h->tx_cons);	/* start where the bridge is */
	a->tx_done = a->tx_prod;
	a->rx_cons = READ_ONCE(a->h->rx_prod);
	WRITE_ONCE(a->h->tx_prod, a->tx_prod);
	WRITE_ONCE(a->h->rx_cons, a->rx_cons);
	WRITE_ONCE(a->h->guest_irq, 1);
	smp_wmb();
	WRITE_ONCE(a->h->guest_state, GVA_GUEST_ACTIVE);
	rtnl_lock();
	netif_tx_lock_bh(a->dev);
	WRITE_ONCE(a->dev->netdev_ops, &a->ops);
	netif_tx_unlock_bh(a->dev);
	rtnl_unlock();
	a->attached = true;
	snprintf(accel_state, sizeof(accel_state), "active");
	ring_doorbell(a);	/* the bridge learns at once that RX goes here now */
	return 0;
}

static void accel_teardown(struct accel *a)
{
	give_back(a);
	del_timer_sync(&a->stall);
	if (a->irq_on)
		free_irq(pci_irq_vector(a->pdev, 0), a);
	if (a->napi_on) {
		napi_disable(&a->napi);
		netif_napi_del(&a->napi);
	}
	/* Nothing can mark the ring broken any more (our ops are gone, the
	 * timer and the poll stopped): the work is the last to go. */
	cancel_work_sync(&a->broken_work);
	if (the == a)
		the = NULL;
	pci_free_irq_vectors(a->pdev);
	pci_clear_master(a->pdev);
	if (a->dev_held)
		dev_put(a->dev);
	if (a->shm)
		memunmap(a->shm);
	if (a->regs)
		pci_iounmap(a->pdev, a->regs);
	pci_disable_device(a->pdev);
	kfree(a);
}

static int accel_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	u8 want[ETH_ALEN];
	struct accel *a;
	int r;

	/* The GEARS region is ivshmem-plain (no MSI-X): not ours, not touched. */
	if (!pdev->msix_cap || pci_resource_len(pdev, 2) != GVA_REGION_SIZE || pci_resource_len(pdev, 0) < 16)
		return -ENODEV;
	if (the) {
		snprintf(probe_why, sizeof(probe_why), "one accelerated NIC per guest");
		return -EBUSY;
	}
	if (!mac_pton(mac, want)) {
		snprintf(probe_why, sizeof(probe_why), "parameter mac=%s is not a MAC address", mac);
		return -EINVAL;
	}
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	a->pdev = pdev;
	INIT_WORK(&a->broken_work, broken_work);
	timer_setup(&a->stall, stall_timer, 0);
	r = pci_enable_device(pdev);
	if (r) {
		kfree(a);
		return r;
	}
	a->regs = pci_iomap(pdev, 0, 256);
	a->shm = memremap(pci_resource_start(pdev, 2), GVA_REGION_SIZE, MEMREMAP_WB);
	r = -ENOMEM;
	if (!a->regs || !a->shm)
		goto fail;
	a->h = (struct gva_hdr *)a->shm;
	r = -ENODEV;
	if (READ_ONCE(a->h->magic) != GVA_MAGIC || READ_ONCE(a->h->version) != GVA_VERSION ||
	    READ_ONCE(a->h->host_state) != GVA_HOST_READY) {
		snprintf(probe_why, sizeof(probe_why), "region: magic %#x version %u state %u (want %#x %u ready)",
			 a->h->magic, a->h->version, a->h->host_state, GVA_MAGIC, GVA_VERSION);
		goto fail;
	}
	if (!ether_addr_equal(a->h->mac, want)) {
		snprintf(probe_why, sizeof(probe_why), "region is for %pM, not %pM", a->h->mac, want);
		goto fail;
	}
	a->dev = find_nic(want);
	if (!a->dev)
		goto fail;
	a->dev_held = true;
	pci_set_master(pdev);	/* MSI-X messages are the device's memory writes */
	r = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (r < 0) {
		snprintf(probe_why, sizeof(probe_why), "no MSI-X vector (%d)", r);
		goto fail;
	}
	init_dummy_netdev(&a->napi_dev);
	netif_napi_add(&a->napi_dev, &a->napi, accel_poll);
	napi_enable(&a->napi);
	a->napi_on = true;
	r = request_irq(pci_irq_vector(pdev, 0), accel_irq, 0, DRV, a);
	if (r) {
		snprintf(probe_why, sizeof(probe_why), "request_irq: %d", r);
		goto fail;
	}
	a->irq_on = true;
	pci_set_drvdata(pdev, a);
	the = a;
	take_over(a);
	napi_schedule(&a->napi);	/* frames may wait already */
	probe_err = 0;
	pr_info(DRV ": %s (%pM) accelerated through %s\n", a->dev->name, want, pci_name(pdev));
	return 0;
fail:
	probe_err = r;
	accel_teardown(a);
	return r;
}

static void accel_remove(struct pci_dev *pdev)
{
	struct accel *a = pci_get_drvdata(pdev);

	if (!a)
		return;
	accel_teardown(a);
}

/* The NIC going away under us (driver unbound): give it back first. */
static int accel_netdev_event(struct notifier_block *nb, unsigned long ev, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (ev != NETDEV_UNREGISTER || !the || the->dev != dev || !the->dev_held)
		return NOTIFY_DONE;
	/* rtnl is held here: restore in place, then let the NIC go (its
	 * unregistration waits for our reference). */
	if (the->attached) {
		WRITE_ONCE(the->h->guest_state, GVA_GUEST_DETACHED);
		netif_tx_lock_bh(dev);
		WRITE_ONCE(dev->netdev_ops, the->orig_ops);
		netif_tx_unlock_bh(dev);
		the->attached = false;
		snprintf(accel_state, sizeof(accel_state), "detached");
	}
	the->broken = true;	/* its NAPI delivers nothing more */
	synchronize_net();
	napi_synchronize(&the->napi);
	the->dev_held = false;
	dev_put(dev);
	pr_info(DRV ": NIC %s unregistered: released\n", dev->name);
	return NOTIFY_DONE;
}

static struct notifier_block accel_nb = { .notifier_call = accel_netdev_event };

static const struct pci_device_id accel_ids[] = {
	{ PCI_DEVICE(0x1af4, 0x1110) },	/* ivshmem */
	{ 0 }
};

static struct pci_driver accel_driver = {
	.name = DRV,
	.id_table = accel_ids,
	.probe = accel_probe,
	.remove = accel_remove,
};

static int __init accel_init(void)
{
	int r = register_netdevice_notifier(&accel_nb);

	if (r)
		return r;
	r = pci_register_driver(&accel_driver);
	if (!r && !the) {
		pci_unregister_driver(&accel_driver);
		r = probe_err ? probe_err : -ENODEV;
	}
	if (r) {
		unregister_netdevice_notifier(&accel_nb);
		pr_err(DRV ": not loaded: %s\n", probe_why);
	}
	return r;
}

static void __exit accel_exit(void)
{
	pci_unregister_driver(&accel_driver);
	unregister_netdevice_notifier(&accel_nb);
	pr_info(DRV ": unloaded\n");
}

module_init(accel_init);
module_exit(accel_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("GEARS");
MODULE_DESCRIPTION("GEARS VNET overlay accelerator: a virtio-net NIC's data path through shared-memory rings");
