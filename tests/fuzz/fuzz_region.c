// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the consumer of the GEARS region: the host's side of the
 * synchronous request slots and of the ring (sc_serve: serve_slot, drain_ring,
 * call_from_regs), fed whatever a hostile guest kernel can write — slots, ring
 * records, ring_head, and the guest RAM that the slots' pt_regs pointers and the
 * handlers' reads lead to. The handlers registered here do what real ones do
 * (read arguments, strings and memory; change the call; write user memory,
 * which goes through the copy protocol; rewrite registers), steered by the
 * input, and one of them rewrites the slot while it is being served, as the
 * guest may. ASan/UBSan catch bad accesses; the checks below catch answers that
 * break the protocol's promises.
 *
 * Input: [0] ncpus-1 (0..3), [1..2] ring records committed, [3..10] ring_head
 * offset, [11..26] handler script, [27..] per CPU: 1 flag byte + the slot's 512
 * bytes; then ring records (256 bytes each); the rest is guest RAM from 64 KiB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>

#include "syscall_int.h"

#define RAM_SIZE	(1u << 20)
#define RAM_DATA	0x10000u
#define PML4		0x1000u
#define DIRECT_MAP	0xffff888000000000ull	/* PML4 slot 273 */
#define MAX_CPUS	4
#define MAX_RECORDS	16

#define ENSURE(c) do { if (!(c)) __builtin_trap(); } while (0)

static uint8_t *ram, *region;
static struct gears_mem *mem;
static const uint8_t *script;
static unsigned script_pos;

static uint8_t next(void)
{
	return script[script_pos++ % 16];
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Identity-ish page tables: user [0, 1 GiB) and the direct map both go to
 * guest-physical 0 as one 1 GiB page; only the first MiB is RAM. */
static void page_tables(void)
{
	uint64_t *pml4 = (uint64_t *)(ram + PML4);
	uint64_t *pdpt_user = (uint64_t *)(ram + 0x2000), *pdpt_kernel = (uint64_t *)(ram + 0x3000);

	memset(ram, 0, RAM_DATA);
	pml4[0] = 0x2000 | GEARS_PTE_P | GEARS_PTE_RW | GEARS_PTE_US;
	pml4[273] = 0x3000 | GEARS_PTE_P | GEARS_PTE_RW;
	pdpt_user[0] = GEARS_PTE_P | GEARS_PTE_RW | GEARS_PTE_US | GEARS_PTE_PS;
	pdpt_kernel[0] = GEARS_PTE_P | GEARS_PTE_RW | GEARS_PTE_PS;
}

static int on_sync(struct gears_sc_call *c, void *ctx)
{
	struct gears_sc *sc = ctx;
	uint8_t op = next(), buf[256];
	uint64_t a0 = gears_sc_call__arg(c, 0);
	struct sc_uregs u;

	ENSURE(gears_sc_call__delivery(c) == GEARS_SC_SYNC);
	gears_sc_call__read(c, a0, buf, next());
	gears_sc_call__read_str(c, a0, (char *)buf, sizeof(buf));
	if (op & 1)
		gears_sc_call__set_arg(c, next() % 8, a0 ^ 0x1234);
	if (op & 2)
		gears_sc_call__set_nr(c, next());
	if (op & 4)
		gears_sc_call__deny(c, next());
	if (op & 8)
		gears_sc_call__set_ret(c, -(int64_t)next());
	if (op & 16)
		gears_sc_call__want_exit(c);
	if (op & 32) {
		/* The guest rewrites its slot while the host works on it. */
		struct gears_sc_slot *s = &sc->slots[c->cpu];

		s->state = le(buf, 8);
		s->regs = le(buf + 8, 8);
	}
	if (op & 64) {
		memset(buf, 0xa5, sizeof(buf));
		gears_sc_call__write(c, 0x4000u + next() * 16u, buf, next() % (sizeof(buf) + 1));
	}
	if (op & 128) {
		if (!sc_call_uregs(c, &u)) {
			u.ip ^= next();
			sc_call_set_uregs(c, &u);
		}
	}
	return 0;
}

static int on_ring(struct gears_sc_call *c, void *ctx)
{
	(void)ctx;
	ENSURE(gears_sc_call__delivery(c) == GEARS_SC_RING);
	ENSURE(c->nr >= 0 && c->nr < (int)GEARS_SC_NR_MAX);
	ENSURE(strnlen(gears_sc_call__comm(c), 16) < 16);
	for (int n = 0; n < 8; n++) {
		const char *s = gears_sc_call__captured(c, n);

		if (!s)
			break;
		ENSURE(s >= c->ev->data && s < c->ev->data + c->ev->data_len);
	}
	/* Observe only. */
	ENSURE(gears_sc_call__set_arg(c, 0, 1) == -EPERM);
	return 0;
}

static int on_hcall(struct gears_sc_call *c, void *ctx)
{
	(void)ctx;
	gears_sc_call__set_ret(c, (int64_t)gears_sc_call__arg(c, 1));
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ram = aligned_alloc(4096, RAM_SIZE);
	region = aligned_alloc(4096, GEARS_SC_END);
	if (!ram || !region)
		abort();
	mem = gears_mem__from_buffer(ram, RAM_SIZE, RAM_SIZE, true);
	if (!mem)
		abort();
	gears_set_log_level(GEARS_LOG_ERROR);
	return 0;
}

static void setup(struct gears_sc *sc, int ncpus)
{
	memset(sc, 0, sizeof(*sc));
	sc->mem = mem;
	sc->kcr3 = PML4;
	sc->levels = 4;
	sc->ncpus = ncpus;
	sc->tsc_khz = 1000000;
	sc->stub = true;
	sc->ctl = (struct gears_sc_ctl *)(region + GEARS_SC_CTL_OFF);
	sc->slots = (struct gears_sc_slot *)(region + GEARS_SC_SLOTS_OFF);
	sc->ring = (struct gears_sc_ev *)(region + GEARS_SC_RING_OFF);
	sc->stage = region + GEARS_SC_STAGE_OFF;
	sc->stage_size = (GEARS_SC_STAGE_SIZE / (unsigned)ncpus) & ~0xfffu;
	sc->copy_to_nofault = 1;	/* the guest could write user memory */
	sc->copy_wait_ns = 0;		/* ... but never answers a copy here */
	sc->next_id = 1;
	sc->h[sc->nh++] = (struct sc_handler){ .id = 1, .flags = GEARS_SC_SYNC | GEARS_SC_ON_ENTRY | GEARS_SC_ON_EXIT,
					       .fn = on_sync, .ctx = sc };
	sc->h[sc->nh++] = (struct sc_handler){ .id = 2, .flags = GEARS_SC_RING | GEARS_SC_ON_ENTRY | GEARS_SC_ON_EXIT,
					       .fn = on_ring };
	memset(sc->h[0].set, 0xff, sizeof(sc->h[0].set));
	memset(sc->h[1].set, 0xff, sizeof(sc->h[1].set));
	sc->hc[sc->nhc++] = (struct sc_hcall){ .id = 3, .lo = 0x100, .hi = 0x1ff, .fn = on_hcall };
}

/* The slots, from the input; flag bit 0 posts it, bit 1 points its pt_regs
 * into RAM (so that calls get as far as the handlers). */
static size_t fill_slots(struct gears_sc *sc, const uint8_t *data, size_t size)
{
	size_t off = 0;

	memset(sc->slots, 0, GEARS_SC_MAX_CPUS * sizeof(*sc->slots));
	for (int cpu = 0; cpu < sc->ncpus && off + 1 + GEARS_SC_SLOT_SIZE <= size; cpu++) {
		struct gears_sc_slot *s = &sc->slots[cpu];
		uint8_t flags = data[off];

		memcpy(s, data + off + 1, GEARS_SC_SLOT_SIZE);
		if (flags & 1)
			s->state = GEARS_SC_SLOT_WORD(GEARS_SC_SLOT_SEQ(s->state), GEARS_SC_SLOT_POSTED);
		/* The answer fields are the host's to fill: start them clean so
		 * that the checks below judge what the host wrote. */
		s->set_mask = 0;
		s->action = 0;
		if (flags & 2) {
			s->regs = DIRECT_MAP + RAM_DATA + (s->regs & 0xfff8);
			s->cpu = (uint32_t)cpu;
			s->kind = GEARS_SC_REQ_ENTRY + s->kind % 3;
			s->cr3 = PML4;
		}
		off += 1 + GEARS_SC_SLOT_SIZE;
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gears_sc sc;
	struct gears_sc_stats before;
	size_t off, nrec;
	uint64_t head;

	if (size < 27)
		return 0;
	setup(&sc, 1 + data[0] % MAX_CPUS);
	script = data + 11;
	script_pos = 0;
	memset(region, 0, GEARS_SC_END);
	off = 27 + fill_slots(&sc, data + 27, size - 27);
	/* Ring records: the first `nrec` committed (seq = position + 1). */
	nrec = data[1] % (MAX_RECORDS + 1);
	for (size_t i = 0; i < MAX_RECORDS && off + GEARS_SC_EV_SIZE <= size; i++, off += GEARS_SC_EV_SIZE) {
		memcpy(&sc.ring[i], data + off, GEARS_SC_EV_SIZE);
		if (i < nrec)
			sc.ring[i].seq = i + 1;
	}
	head = data[2] & 1 ? nrec : le(data + 3, 8);
	sc.ctl->ring_head = head;
	page_tables();
	memset(ram + RAM_DATA, 0, RAM_SIZE - RAM_DATA);
	if (off < size)
		memcpy(ram + RAM_DATA, data + off, GEARS_MIN(size - off, (size_t)(RAM_SIZE - RAM_DATA)));

	before = sc.st;
	sc_serve(&sc);
	/* The host gives back what it consumed, and never more than a ring. */
	ENSURE(sc.ctl->ring_tail == sc.tail && sc.tail <= GEARS_SC_RING_SLOTS);
	ENSURE(sc.st.ring_events - before.ring_events <= GEARS_SC_RING_SLOTS);
	for (int cpu = 0; cpu < sc.ncpus; cpu++) {
		const struct gears_sc_slot *s = &sc.slots[cpu];

		/* An answer never asks for another CS or SS. */
		if (GEARS_SC_SLOT_STATE(s->state) == GEARS_SC_SLOT_DONE)
			ENSURE(!(s->set_mask & (1ull << (GEARS_PTREGS_CS / 8) | 1ull << (GEARS_PTREGS_SS / 8))) &&
			       !(s->set_mask >> GEARS_PTREGS_WORDS) &&
			       (s->action & GEARS_SC_ACT_MASK) <= GEARS_SC_ACT_SKIP);
	}
	return 0;
}
