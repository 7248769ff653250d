// SPDX-License-Identifier: MIT
/*
 * Mapping the GEARS region into the guest kernel (see include/gears/region.h),
 * and running code there.
 */
#include <inttypes.h>
#include <time.h>

#include <gears/linux.h>
#include <gears/region.h>
#include <gears/vm.h>

#include <gears-guest/sc_abi.h>

#include "internal.h"

#define PDPT_SLOT 509u
#define PML4_SLOT 511u
#define PMD_OFF 0x1000u
/* Below this the system call stub's fixed layout (sc_abi.h). */
#define ALLOC_START ((GEARS_SC_END + 0xfffu) & ~0xfffu)
#define ADDR_MASK 0x000ffffffffff000ull
#define CALL_TIMEOUT_MS 3000
/* Where region calls return to: a fixed spot at the end of the header page,
 * rewritten by every call (calls are serialised by the gdbstub: one client,
 * the VM stopped), so no call allocates anything. */
#define PAD_OFF 0xff0u

/* Header at offset 0, so anyone looking at the region can tell what it is. */
struct region_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t reserved;
};

struct gears_region {
	struct gears_vm *vm;
	uint8_t *host;
	uint64_t gpa;
	size_t brk;
};

struct gears_region *region_new(struct gears_vm *vm, uint8_t *host, uint64_t gpa)
{
	struct gears_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->vm = vm;
	r->brk = ALLOC_START;
	r->host = host;
	r->gpa = gpa;
	return r;
}

struct gears_region *gears_region__open(struct gears_vm *vm)
{
	uint8_t *host = gears_vm__region(vm);
	uint64_t gpa;
	int e;

	if (!host)
		return NULL;
	e = gears_vm__region_gpa(vm, &gpa);
	if (e) {
		errno = -e;
		return NULL;
	}
	return region_new(vm, host, gpa);
}

void gears_region__close(struct gears_region *r)
{
	free(r);
}

uint64_t gears_region__gpa(const struct gears_region *r)
{
	return r->gpa;
}

void *gears_region__host(struct gears_region *r, uint64_t off)
{
	return off < GEARS_REGION_SIZE ? r->host + off : NULL;
}

long gears_region__alloc(struct gears_region *r, size_t size, size_t align)
{
	size_t at;

	if (align < 8 || (align & (align - 1)))
		return gears_err(EINVAL, "region alignment %zu is not a power of two >= 8", align);
	at = (r->brk + align - 1) & ~(align - 1);
	if (at > GEARS_REGION_SIZE || size > GEARS_REGION_SIZE - at)
		return gears_err(ENOSPC, "GEARS region full (%zu bytes wanted)", size);
	r->brk = at + size;
	return (long)at;
}

/* Guest-physical address of the PDPT that the kernel half (PML4 511) uses. */
static int find_pdpt(struct gears_region *r, uint64_t *pdpt)
{
	struct gears_linux *l = gears_vm__linux(r->vm);
	struct gears_mem *m = gears_vm__mem(r->vm);
	uint64_t table, e;
	int levels;

	if (!l || !m)
		return -errno;
	levels = gears_linux__levels(l);
	table = gears_linux__cr3(l) & ADDR_MASK;
	/* With 5-level paging, PML5[511] leads to the PML4 holding the kernel half. */
	if (levels == 5) {
		if (gears_mem__read(m, table + 8 * 511, &e, 8) || !(e & GEARS_PTE_P))
			return gears_err(EFAULT, "PML5 entry 511 not present");
		table = e & ADDR_MASK;
	}
	if (gears_mem__read(m, table + 8 * PML4_SLOT, &e, 8) || !(e & GEARS_PTE_P) || (e & GEARS_PTE_PS))
		return gears_err(EFAULT, "PML4 entry 511 of the kernel page tables is unusable (0x%" PRIx64 ")", e);
	*pdpt = e & ADDR_MASK;
	if (!gears_mem__valid(m, *pdpt, 4096))
		return gears_err(EFAULT, "PML4 entry 511 points outside guest RAM (0x%" PRIx64 ")", *pdpt);
	return 0;
}

static uint64_t pdpt_entry(const struct gears_region *r)
{
	/* Present, writable, supervisor-only: guest user space never sees it. */
	return ((r->gpa + PMD_OFF) & ADDR_MASK) | GEARS_PTE_P | GEARS_PTE_RW | GEARS_PTE_A;
}

static int find_init(const struct gears_task *t, void *ctx)
{
	if (t->pid == 1) {
		*(bool *)ctx = strncmp(t->comm, "swapper", 7) != 0;
		return 1;
	}
	return 0;
}

/*
 * The region's PMD page lives in the BAR, outside the kernel's direct map.
 * The kernel's boot-time W+X check (CONFIG_DEBUG_WX) walks every kernel page
 * table through the direct map just before it runs /init, and would fault on
 * ours: map only once PID 1 runs a program (its comm is no longer swapper's).
 */
static int booted(struct gears_region *r)
{
	struct gears_linux *l = gears_vm__linux(r->vm);
	bool user = false;

	if (!l)
		return -errno;
	if (gears_linux__for_each_task(l, false, 1000000, find_init, &user) < 0 || !user)
		return gears_err(EAGAIN, "the guest kernel has not started its first program yet");
	return 0;
}

int gears_region__mapped(struct gears_region *r)
{
	struct gears_mem *m = gears_vm__mem(r->vm);
	uint64_t pdpt, e;
	int ret = find_pdpt(r, &pdpt);

	if (ret)
		return ret;
	if (gears_mem__read(m, pdpt + 8 * PDPT_SLOT, &e, 8))
		return -EFAULT;
	if (!(e & GEARS_PTE_P))
		return 0;
	return (e & ADDR_MASK) == ((r->gpa + PMD_OFF) & ADDR_MASK) ? 1 : -EBUSY;
}

int gears_region__map(struct gears_region *r)
{
	struct gears_mem *m = gears_vm__mem(r->vm);
	uint64_t pdpt, expect = 0, *slot;
	uint64_t *pmd = (uint64_t *)(r->host + PMD_OFF);
	struct region_hdr *h = (struct region_hdr *)r->host;
	int ret = find_pdpt(r, &pdpt);

	if (ret)
		return ret;
	if ((ret = booted(r)))
		return ret;
	/* The region maps itself: its PMD page's entry 0 is the whole 2 MiB, as
	 * one large page. Written before the PDPT entry makes it reachable. */
	memset(pmd, 0, 4096);
	pmd[0] = (r->gpa & ~((uint64_t)GEARS_REGION_SIZE - 1)) | GEARS_PTE_P | GEARS_PTE_RW |
		 GEARS_PTE_PS | GEARS_PTE_A | GEARS_PTE_D;
	h->magic = GEARS_REGION_MAGIC;
	h->version = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	slot = gears_mem__ptr(m, pdpt + 8 * PDPT_SLOT, 8);
	if (!slot)
		return gears_err(EFAULT, "PDPT entry %u is not in guest RAM", PDPT_SLOT);
	/* Compare-and-swap: the guest may be changing its page tables right now. */
	if (!__atomic_compare_exchange_n(slot, &expect, pdpt_entry(r), false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST)) {
		if ((expect & ADDR_MASK) == ((r->gpa + PMD_OFF) & ADDR_MASK))
			return 0;	/* already ours */
		return gears_err(EBUSY, "the guest already uses PDPT slot %u (-3 GiB): 0x%" PRIx64,
				 PDPT_SLOT, expect);
	}
	pr_debug("region: gpa 0x%" PRIx64 " mapped at 0x%llx (PDPT at 0x%" PRIx64 ")", r->gpa,
		 GEARS_REGION_VA, pdpt);
	return 0;
}

int gears_region__unmap(struct gears_region *r)
{
	struct gears_mem *m = gears_vm__mem(r->vm);
	uint64_t pdpt, expect;
	uint64_t *slot;
	int ret = find_pdpt(r, &pdpt);

	if (ret)
		return ret;
	slot = gears_mem__ptr(m, pdpt + 8 * PDPT_SLOT, 8);
	if (!slot)
		return -EFAULT;
	expect = pdpt_entry(r);
	/* Only remove our own entry (the A bit may have been set meanwhile). */
	if (!__atomic_compare_exchange_n(slot, &expect, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		if ((expect & ADDR_MASK) != ((r->gpa + PMD_OFF) & ADDR_MASK))
			return 0;
		__atomic_store_n(slot, 0, __ATOMIC_SEQ_CST);
	}
	return 0;
}

int gears_region__write_code(struct gears_region *r, struct gears_gdb *g, uint64_t off,
			     const void *code, size_t len)
{
	if (off > GEARS_REGION_SIZE || len > GEARS_REGION_SIZE - off)
		return gears_err(EINVAL, "code outside the region");
	if (!gears_gdb__stopped(g))
		return gears_err(EBUSY, "stop the VM before writing code");
	return gears_gdb__write(g, 0, GEARS_REGION_VA + off, code, len);
}

/* A vCPU at CPL 0 (and where `ok` says so), stopping and resuming briefly
 * until one shows up. */
static int pick_kernel_cpu(struct gears_gdb *g, struct gears_regs *regs,
			   bool (*ok)(const struct gears_regs *r, void *ctx), void *ctx)
{
	for (int attempt = 0; attempt < 200; attempt++) {
		int r = gears_gdb__stop(g, NULL);

		if (r)
			return r;
		for (int cpu = 0; cpu < gears_gdb__ncpus(g); cpu++) {
			if ((r = gears_gdb__regs(g, cpu, regs)))
				return r;
			if ((regs->cs & 3) == 0 && regs->rsp >= KERNEL_HALF && (!ok || ok(regs, ctx)))
				return cpu;
		}
		if ((r = gears_gdb__cont(g)))
			return r;
		nanosleep(&(struct timespec){ .tv_nsec = 2 * 1000000 }, NULL);
	}
	return gears_err(EAGAIN, "no vCPU entered kernel mode in time");
}

int gears_region__call(struct gears_region *r, struct gears_gdb *g, uint64_t off, uint64_t arg,
		       uint64_t *ret)
{
	return region_call_on(r, g, off, arg, ret, NULL, NULL);
}

/* Put back every register a region call may have changed. */
static int restore_regs(struct gears_gdb *g, int cpu, const struct gears_regs *saved)
{
	static const struct { enum gears_reg reg; size_t off; } gpr[] = {
		{ GEARS_REG_RAX, offsetof(struct gears_regs, rax) },
		{ GEARS_REG_RCX, offsetof(struct gears_regs, rcx) },
		{ GEARS_REG_RDX, offsetof(struct gears_regs, rdx) },
		{ GEARS_REG_RSI, offsetof(struct gears_regs, rsi) },
		{ GEARS_REG_RDI, offsetof(struct gears_regs, rdi) },
		{ GEARS_REG_RSP, offsetof(struct gears_regs, rsp) },
		{ GEARS_REG_R8, offsetof(struct gears_regs, r8) },
		{ GEARS_REG_R9, offsetof(struct gears_regs, r9) },
		{ GEARS_REG_R10, offsetof(struct gears_regs, r10) },
		{ GEARS_REG_R11, offsetof(struct gears_regs, r11) },
		{ GEARS_REG_RIP, offsetof(struct gears_regs, rip) },
	};
	int re = 0;

	for (size_t i = 0; i < ARRAY_SIZE(gpr); i++)
		re = re ?: gears_gdb__set_reg(g, cpu, gpr[i].reg, *(const uint64_t *)((const char *)saved + gpr[i].off));
	return re ?: gears_gdb__set_reg(g, cpu, GEARS_REG_EFLAGS, saved->eflags);
}

/* Run the VM until `cpu` reaches `landing`, within CALL_TIMEOUT_MS however
 * many other stops come in meanwhile (breakpoints of other vCPUs, which QEMU
 * reports again as soon as they are continued). *rax: the function's result. */
static int run_to(struct gears_gdb *g, int cpu, uint64_t landing, uint64_t *rax)
{
	uint64_t deadline = gears_now_ns() + CALL_TIMEOUT_MS * 1000000ull;
	struct gears_gdb_stop st;
	struct gears_regs now;
	int e;

	if ((e = gears_gdb__cont(g)))
		return e;
	for (;;) {
		uint64_t t = gears_now_ns();
		int w;

		if (t >= deadline) {
			gears_gdb__stop(g, &st);
			return gears_err(ETIMEDOUT, "region code did not return within %d ms", CALL_TIMEOUT_MS);
		}
		w = gears_gdb__wait(g, (int)GEARS_MIN((deadline - t) / 1000000 + 1, 100ull), &st);
		if (w < 0)
			return w;
		if (w == 0)
			continue;
		if ((e = gears_gdb__regs(g, cpu, &now)))
			return e;
		if (now.rip == landing) {
			*rax = now.rax;
			return 0;
		}
		if ((e = gears_gdb__cont(g)))
			return e;
	}
}

int region_call_on(struct gears_region *r, struct gears_gdb *g, uint64_t off, uint64_t arg, uint64_t *ret,
		   bool (*ok)(const struct gears_regs *regs, void *ctx), void *ctx)
{
	/* The function returns to a landing pad: `jmp .` (eb fe), caught by a
	 * breakpoint, so even a missed stop would only spin, not run on. */
	static const uint8_t pad[] = { 0xeb, 0xfe };
	const uint64_t landing = GEARS_REGION_VA + PAD_OFF;
	struct gears_regs saved;
	uint64_t sp, rax = 0;
	int cpu, e, re;

	if (off >= GEARS_REGION_SIZE)
		return gears_err(EINVAL, "call target outside the region");
	cpu = pick_kernel_cpu(g, &saved, ok, ctx);
	if (cpu < 0)
		return cpu;
	if ((e = gears_region__write_code(r, g, PAD_OFF, pad, sizeof(pad))))
		return e;
	/* A fresh frame below the interrupted one (the kernel has no red zone),
	 * aligned as at a call: return address at a 16-byte boundary - 8. */
	sp = ((saved.rsp - 512) & ~0xfull) - 8;
	if ((e = gears_gdb__write(g, cpu, sp, &landing, 8)))
		return e;
	if (!(e = gears_gdb__set_reg(g, cpu, GEARS_REG_RSP, sp)) &&
	    !(e = gears_gdb__set_reg(g, cpu, GEARS_REG_RDI, arg)) &&
	    !(e = gears_gdb__set_reg(g, cpu, GEARS_REG_RIP, GEARS_REGION_VA + off)) &&
	    !(e = gears_gdb__bp_insert(g, landing, true))) {
		e = run_to(g, cpu, landing, &rax);
		gears_gdb__bp_remove(g, landing, true);
	}
	if (!e)
		*ret = rax;
	if (!gears_gdb__stopped(g) && (re = gears_gdb__stop(g, NULL)))
		return e ?: re;
	re = restore_regs(g, cpu, &saved);
	return e ?: re;
}
