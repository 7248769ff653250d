// SPDX-License-Identifier: MIT
/*
 * System call interception: the stub modes (filter = synchronous requests,
 * ring = asynchronous records) and the handler registry. Exit mode (gdbstub
 * breakpoints) is in syscall_exit.c, the handlers' view of a call in
 * syscall_call.c.
 *
 * Installing the stub, with the VM stopped through the gdbstub:
 *   1. map the GEARS region (one PDPT entry, see region.c);
 *   2. fill the control block (addresses, offsets, all numbers unselected);
 *   3. write the stub's code with the gdbstub, so TCG sees fresh code;
 *   4. rewrite the 5-byte `call do_syscall_64` in entry_SYSCALL_64 (and the
 *      int 0x80 counterpart) to call the stub instead.
 * Removing it restores those bytes and disables the stub; calls still inside it
 * (a task blocked in read()) finish through it harmlessly, so the region stays.
 */
#include <inttypes.h>
#include <poll.h>
#include <sys/random.h>
#include <time.h>

#include "syscall_int.h"
#include "sc_stub.h"

#define SCAN_CALL 512		/* bytes of entry code searched for the call */
#define RING_STUCK_NS 200000000ull	/* an uncommitted record this old is skipped */

static uint64_t stub_va(uint64_t off)
{
	return GEARS_REGION_VA + GEARS_SC_CODE_OFF + off;
}

/* ---- kernel facts ---- */

/* Find `call target` (e8 rel32) in the first SCAN_CALL bytes of code at `from`. */
static int find_call(struct gears_sc *sc, uint64_t from, uint64_t target, uint64_t *site)
{
	uint8_t code[SCAN_CALL];
	int r = gears_linux__read(sc->l, from, code, sizeof(code));

	if (r)
		return r;
	for (size_t i = 0; i + 5 <= sizeof(code); i++) {
		int32_t rel;

		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, 4);
		if (from + i + 5 + (uint64_t)(int64_t)rel == target) {
			*site = from + i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Calls to `target` inside the function `fn` (bounded by its kallsyms extent). */
static void find_exit_calls(struct gears_sc *sc, const char *fn, bool compat)
{
	const struct gears_ksyms *ks = gears_linux__ksyms(sc->l);
	uint64_t start, off;
	uint8_t code[SCAN_CALL];
	const char *name;

	if (!ks || gears_linux__sym(sc->l, fn, &start) || gears_linux__read(sc->l, start, code, sizeof(code)))
		return;
	for (size_t i = 0; i + 5 <= sizeof(code) && sc->nexit < (int)ARRAY_SIZE(sc->exit_site); i++) {
		int32_t rel;
		uint64_t at = start + i;
		bool dup = false;

		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, 4);
		if (at + 5 + (uint64_t)(int64_t)rel != sc->exit_fn)
			continue;
		name = gears_ksyms__symbolize(ks, at, &off);
		if (!name || strcmp(name, fn))
			break;	/* past the end of fn */
		for (int k = 0; k < sc->nexit; k++)
			dup |= sc->exit_site[k].va == at;
		if (dup)
			continue;
		sc->exit_site[sc->nexit] = (struct sc_site){ .va = at, .compat = compat };
		memcpy(sc->exit_site[sc->nexit].orig, code + i, 5);
		sc->nexit++;
	}
}

static int member(struct gears_sc *sc, const char *type, const char *m, uint32_t *out)
{
	long o = gears_linux__offsetof(sc->l, type, m);

	if (o < 0 || o > 0x100000)
		return gears_err(ENOENT, "guest kernel BTF has no %s.%s", type, m);
	*out = (uint32_t)o;
	return 0;
}

static int percpu_sym(struct gears_sc *sc, const char *old, const char *hot_member, uint64_t *off)
{
	/* 6.1: per-CPU variables of their own; 6.2+: members of pcpu_hot. */
	uint64_t base;
	long o;

	if (!gears_linux__sym(sc->l, old, off))
		return 0;
	o = gears_linux__offsetof(sc->l, "pcpu_hot", hot_member);
	if (o < 0 || gears_linux__sym(sc->l, "pcpu_hot", &base))
		return gears_err(ENOENT, "guest kernel has neither %s nor pcpu_hot.%s", old, hot_member);
	*off = base + (uint64_t)o;
	return 0;
}

/* int 0x80: 6.1.70+ and 6.7+ route it through int80_emulation; older kernels
 * through do_int80_syscall_32 from entry_INT80_compat. */
static void find_int80(struct gears_sc *sc)
{
	struct gears_linux *l = sc->l;
	uint64_t a;

	if (!gears_linux__sym(l, "int80_emulation", &sc->int80_fn) && !gears_linux__sym(l, "asm_int80_emulation", &a) &&
	    !find_call(sc, a, sc->int80_fn, &sc->call80))
		return;
	if (!gears_linux__sym(l, "do_int80_syscall_32", &sc->int80_fn) && !gears_linux__sym(l, "entry_INT80_compat", &a) &&
	    !find_call(sc, a, sc->int80_fn, &sc->call80))
		return;
	sc->int80_fn = sc->call80 = 0;
	pr_info("guest kernel: no int 0x80 hook point found; compat calls not intercepted");
}

/* The stub and the host use the fixed x86-64 pt_regs layout (each offset the
 * stub had to load would cost it under TCG): the guest's must be that one. */
static int check_ptregs(struct gears_sc *sc)
{
	static const struct { const char *name; uint32_t off; } fixed[] = {
		{ "r15", GEARS_PTREGS_R15 }, { "r14", GEARS_PTREGS_R14 }, { "r13", GEARS_PTREGS_R13 },
		{ "r12", GEARS_PTREGS_R12 }, { "bp", GEARS_PTREGS_BP }, { "bx", GEARS_PTREGS_BX },
		{ "r11", GEARS_PTREGS_R11 }, { "r10", GEARS_PTREGS_R10 }, { "r9", GEARS_PTREGS_R9 },
		{ "r8", GEARS_PTREGS_R8 }, { "ax", GEARS_PTREGS_AX }, { "cx", GEARS_PTREGS_CX },
		{ "dx", GEARS_PTREGS_DX }, { "si", GEARS_PTREGS_SI }, { "di", GEARS_PTREGS_DI },
		{ "orig_ax", GEARS_PTREGS_ORIG_AX }, { "ip", GEARS_PTREGS_IP }, { "cs", GEARS_PTREGS_CS },
		{ "flags", GEARS_PTREGS_FLAGS }, { "sp", GEARS_PTREGS_SP }, { "ss", GEARS_PTREGS_SS },
	};
	uint32_t at = 0;
	long sz;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		if ((r = member(sc, "pt_regs", fixed[i].name, &at)))
			return r;
		if (at != fixed[i].off)
			return gears_err(ENOTSUP, "guest kernel's pt_regs.%s is at %u, not %u: unsupported",
					 fixed[i].name, at, fixed[i].off);
	}
	sz = gears_kbtf__sizeof(gears_linux__btf(sc->l), "pt_regs");
	if (sz < GEARS_PTREGS_SIZE || sz > 512)
		return gears_err(EINVAL, "implausible sizeof(struct pt_regs) %ld", sz);
	return 0;
}

static int read_facts(struct gears_sc *sc)
{
	struct gears_linux *l = sc->l;
	uint64_t a;
	uint32_t khz = 0;
	int r;

	if ((r = gears_linux__sym(l, "entry_SYSCALL_64", &sc->entry64)) ||
	    (r = gears_linux__sym(l, "do_syscall_64", &sc->do_syscall_64)))
		return r;
	if (find_call(sc, sc->entry64, sc->do_syscall_64, &sc->call64))
		return gears_err(ENOENT, "no `call do_syscall_64` in entry_SYSCALL_64: unsupported kernel");
	find_int80(sc);
	if ((r = gears_linux__read(l, sc->call64, sc->orig64, 5)))
		return r;
	if (sc->call80 && gears_linux__read(l, sc->call80, sc->orig80, 5))
		sc->call80 = 0;
	/* Where returns are final but signals not yet delivered. */
	if (!gears_linux__sym(l, "syscall_exit_to_user_mode", &sc->exit_fn)) {
		find_exit_calls(sc, "do_syscall_64", false);
		find_exit_calls(sc, "do_int80_emulation", true);
		find_exit_calls(sc, "int80_emulation", true);
		find_exit_calls(sc, "do_int80_syscall_32", true);
	}
	if (!sc->nexit)
		pr_info("guest kernel: no syscall_exit_to_user_mode call found; returns are seen "
			"after signal delivery");
	gears_linux__sym(l, "strncpy_from_user_nofault", &sc->strncpy_nofault);
	gears_linux__sym(l, "copy_from_user_nofault", &sc->copy_nofault);
	/* Without it handlers cannot write user memory (sc_call_copy says so). */
	gears_linux__sym(l, "copy_to_user_nofault", &sc->copy_to_nofault);
	if ((r = percpu_sym(sc, "current_task", "current_task", &sc->gs_current_task)) ||
	    (r = percpu_sym(sc, "cpu_number", "cpu_number", &sc->gs_cpu_number)))
		return r;
	if ((r = member(sc, "task_struct", "pid", &sc->off_pid)) ||
	    (r = member(sc, "task_struct", "tgid", &sc->off_tgid)) ||
	    (r = member(sc, "task_struct", "comm", &sc->off_comm)) ||
	    (r = member(sc, "task_struct", "real_parent", &sc->off_parent)) || (r = check_ptregs(sc)))
		return r;
	if (!gears_linux__sym(l, "tsc_khz", &a) && !gears_linux__read(l, a, &khz, 4) && khz > 1000)
		sc->tsc_khz = khz;
	else
		sc->tsc_khz = 1000000;	/* unknown: pretend 1 GHz, times stay ordered */
	sc->ncpus = GEARS_MIN(gears_linux__nr_cpus(l), (int)GEARS_SC_MAX_CPUS);
	if (sc->ncpus < 1)
		return gears_err(EINVAL, "guest kernel reports %d CPUs", sc->ncpus);
	/* The stage area shared out by CPU, in whole pages. */
	sc->stage_size = (GEARS_SC_STAGE_SIZE / (unsigned)sc->ncpus) & ~0xfffu;
	return 0;
}

static uint64_t tsc_per_ms(const struct gears_sc *sc)
{
	return sc->tsc_khz;
}

/* How long a claimed request may go without word from the host before the
 * guest gives up on it (sync_hard_tsc). */
static uint64_t sync_hard_ms(const struct gears_sc *sc)
{
	return sc->sync_timeout_ms * 10ull + 1000;
}

/* GEARS_FAULT_SLOW_ANSWER=COMM:NR:entry|exit:MS (tests): the first sync request
 * at the entry (or return) of system call NR by a thread named COMM is answered
 * MS ms late, so that a test can make the guest give up on a request the host
 * has claimed. */
static void fault_init(struct gears_sc *sc)
{
	const char *f = getenv("GEARS_FAULT_SLOW_ANSWER");
	char comm[16], when[8];
	unsigned ms;
	int nr;

	if (!f || sscanf(f, "%15[^:]:%d:%7[^:]:%u", comm, &nr, when, &ms) != 4 ||
	    (strcmp(when, "entry") && strcmp(when, "exit"))) {
		if (f)
			pr_warn("GEARS_FAULT_SLOW_ANSWER=%s: expected COMM:NR:entry|exit:MS", f);
		return;
	}
	memcpy(sc->fault.comm, comm, sizeof(comm));
	sc->fault.nr = nr;
	sc->fault.exit = !strcmp(when, "exit");
	sc->fault.ms = ms;
	sc->fault.armed = true;
	pr_warn("fault injection: the first %s of call %d by '%s' answered %u ms late", when, nr, comm, ms);
}

uint64_t sc_tsc_ns(const struct gears_sc *sc, uint64_t tsc)
{
	return (uint64_t)((unsigned __int128)tsc * 1000000u / sc->tsc_khz);
}

void gears_sc__set_ring_wait(struct gears_sc *sc, int ms)
{
	sc->ring_wait_ms = ms < 0 ? 0 : (unsigned)ms;
	if (sc->ctl)
		sc->ctl->ring_wait_tsc = tsc_per_ms(sc) * sc->ring_wait_ms;
}

/* The default of gears_sc_opts.sync_timeout_ms: 200, or GEARS_SYNC_TIMEOUT_MS
 * (1..60000) for a host that may be starved of CPU for longer than that (a
 * loaded test machine) and would rather have the guest wait. */
static unsigned env_sync_timeout_ms(void)
{
	const char *v = getenv("GEARS_SYNC_TIMEOUT_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;

	return ms >= 1 && ms <= 60000 ? (unsigned)ms : 200;
}

struct gears_sc *gears_sc__new(struct gears_vm *vm, const struct gears_sc_opts *o)
{
	struct gears_sc *sc = calloc(1, sizeof(*sc));
	int r;

	if (!sc)
		return NULL;
	sc->vm = vm;
	sc->next_id = 1;
	bool has = o && o->sz >= offsetof(struct gears_sc_opts, ring_wait_ms) + sizeof(int);

	sc->sync_timeout_ms = o && o->sync_timeout_ms ? o->sync_timeout_ms : env_sync_timeout_ms();
	sc->ring_wait_ms = !has || !o->ring_wait_ms ? 50 : o->ring_wait_ms < 0 ? 0 : (unsigned)o->ring_wait_ms;
	sc->l = gears_vm__linux(vm);
	sc->mem = gears_vm__mem(vm);
	if (!sc->l || !sc->mem) {
		free(sc);
		return NULL;
	}
	sc->kcr3 = gears_linux__cr3(sc->l);
	sc->levels = gears_linux__levels(sc->l);
	r = read_facts(sc);
	if (r) {
		free(sc);
		errno = -r;
		return NULL;
	}
	sc->copy_wait_ns = sync_hard_ms(sc) * 1000000ull;
	fault_init(sc);
	return sc;
}

/* ---- guest memory helpers ---- */

const uint32_t sc_arg_off[2][6] = { GEARS_PTREGS_ARGS64, GEARS_PTREGS_ARGS32 };

int sc_read_regs(struct gears_sc *sc, uint64_t regs_va, struct sc_uregs *u)
{
	if (regs_va < KERNEL_HALF)
		return gears_err(EFAULT, "pt_regs pointer 0x%" PRIx64 " is not a kernel address", regs_va);
	/* Through the kernel's page tables, into a copy: parsed once, whatever
	 * the guest does to the original meanwhile. */
	return gears_vmem__read(sc->mem, sc->kcr3, sc->levels, regs_va, u, sizeof(*u));
}

void sc_call_fill(struct gears_sc_call *c, const struct sc_uregs *u)
{
	for (int i = 0; i < 6; i++) {
		c->args[i] = sc_ureg(u, sc_arg_off[c->compat][i]);
		if (c->compat)
			c->args[i] = (uint32_t)c->args[i];
	}
	c->ret = c->compat ? (int32_t)u->ax : (int64_t)u->ax;
	c->uip = u->ip;
	c->usp = u->sp;
}

int sc_write_reg(struct gears_sc *sc, uint64_t regs_va, uint32_t off, uint64_t v)
{
	if (regs_va < KERNEL_HALF || off % 8 || off >= GEARS_PTREGS_SIZE)
		return -EFAULT;
	return gears_vmem__write(sc->mem, sc->kcr3, sc->levels, regs_va + off, &v, 8, false);
}

int sc_task_info(struct gears_sc *sc, uint64_t task, struct gears_sc_call *c)
{
	int32_t pid = 0, tgid = 0, ppid = 0;
	uint64_t parent = 0;

	c->task = task;
	if (task < KERNEL_HALF)
		return -EFAULT;
	if (gears_linux__read(sc->l, task + sc->off_pid, &pid, 4) ||
	    gears_linux__read(sc->l, task + sc->off_tgid, &tgid, 4) ||
	    gears_linux__read(sc->l, task + sc->off_comm, c->comm, sizeof(c->comm)))
		return -EFAULT;
	c->comm[sizeof(c->comm) - 1] = 0;
	c->tid = pid;
	c->pid = tgid;
	if (!gears_linux__read_u64(sc->l, task + sc->off_parent, &parent) &&
	    !gears_linux__read(sc->l, parent + sc->off_tgid, &ppid, 4))
		c->ppid = ppid;
	return 0;
}

/* ---- the stub ---- */

static void ctl_init(struct gears_sc *sc)
{
	struct gears_sc_ctl *c = sc->ctl;

	memset(c, 0, sizeof(*c));
	memset(sc->slots, 0, GEARS_SC_MAX_CPUS * sizeof(*sc->slots));
	c->version = GEARS_SC_ABI_VERSION;
	c->orig_do_syscall_64 = sc->do_syscall_64;
	c->orig_int80 = sc->int80_fn;
	c->strncpy_nofault = sc->strncpy_nofault;
	c->copy_nofault = sc->copy_nofault;
	c->gs_current_task = sc->gs_current_task;
	c->gs_cpu_number = sc->gs_cpu_number;
	c->off_pid = sc->off_pid;
	c->off_tgid = sc->off_tgid;
	c->off_comm = sc->off_comm;
	c->off_parent = sc->off_parent;
	c->sync_timeout_tsc = tsc_per_ms(sc) * sc->sync_timeout_ms;
	c->sync_hard_tsc = tsc_per_ms(sc) * sync_hard_ms(sc);
	c->ring_wait_tsc = tsc_per_ms(sc) * sc->ring_wait_ms;
	c->orig_exit = sc->nexit ? sc->exit_fn : 0;
	c->bell_port = sc->bell_port;
	c->copy_to_nofault = sc->copy_to_nofault;
	c->stage_size = sc->stage_size;
	memcpy(c->patient, sc->patient, sizeof(c->patient));
	if (getrandom(&c->cookie, sizeof(c->cookie), 0) != sizeof(c->cookie))
		c->cookie = gears_now_ns() * 0x9e3779b97f4a7c15ull;
	c->cookie |= 1;	/* never 0, the value of a cleared frame */
	sc->tail = 0;
	c->enabled = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	c->magic = GEARS_SC_MAGIC;
}

void sc_hold_task(struct gears_sc *sc, uint64_t task, bool hold)
{
	int free_at = -1;

	if (!task)
		return;
	for (int i = 0; i < (int)GEARS_SC_PATIENT; i++) {
		if (sc->patient[i] == task) {
			if (hold)
				return;
			sc->patient[i] = 0;
			if (sc->ctl)
				__atomic_store_n(&sc->ctl->patient[i], 0, __ATOMIC_RELEASE);
			return;
		}
		if (!sc->patient[i] && free_at < 0)
			free_at = i;
	}
	if (!hold || free_at < 0)
		return;	/* (all taken: that task only has the usual bound) */
	sc->patient[free_at] = task;
	if (sc->ctl)
		__atomic_store_n(&sc->ctl->patient[free_at], task, __ATOMIC_RELEASE);
}

/* Bytes of `call target` at `site`. */
static void encode_call(uint64_t site, uint64_t target, uint8_t out[5])
{
	int32_t rel = (int32_t)(int64_t)(target - (site + 5));

	out[0] = 0xe8;
	memcpy(out + 1, &rel, 4);
}

static bool in_rel32(uint64_t site, uint64_t target)
{
	int64_t d = (int64_t)(target - (site + 5));

	return d >= INT32_MIN && d <= INT32_MAX;
}

static int stub_install(struct gears_sc *sc)
{
	struct gears_gdb *g;
	uint8_t call[5], now[5];
	int r;

	if (sc->stub)
		return 0;
	if (sizeof(sc_stub_bin) > GEARS_SC_CODE_MAX)
		return gears_err(E2BIG, "stub too large for its region slot");
	if (!in_rel32(sc->call64, stub_va(SC_STUB_OFF_gears_sc_entry64)))
		return gears_err(ERANGE, "kernel text too far from the GEARS region for a rel32 call");
	if (!sc->region && !(sc->region = gears_region__open(sc->vm)))
		return -errno;
	g = gears_vm__gdb(sc->vm);
	if (!g)
		return -errno;
	if ((r = gears_gdb__stop(g, NULL)) || (r = gears_region__map(sc->region)))
		goto out;
	sc->ctl = gears_region__host(sc->region, GEARS_SC_CTL_OFF);
	sc->slots = gears_region__host(sc->region, GEARS_SC_SLOTS_OFF);
	sc->ring = gears_region__host(sc->region, GEARS_SC_RING_OFF);
	sc->stage = gears_region__host(sc->region, GEARS_SC_STAGE_OFF);
	ctl_init(sc);
	r = gears_region__write_code(sc->region, g, GEARS_SC_CODE_OFF, sc_stub_bin, sizeof(sc_stub_bin));
	if (r)
		goto out;
	/* The kernel may have been patched since we looked: insist on the call. */
	if ((r = gears_linux__read(sc->l, sc->call64, now, 5)))
		goto out;
	if (memcmp(now, sc->orig64, 5)) {
		r = gears_err(EBUSY, "entry_SYSCALL_64's call site changed (another tool hooked it?)");
		goto out;
	}
	encode_call(sc->call64, stub_va(SC_STUB_OFF_gears_sc_entry64), call);
	if ((r = gears_gdb__write(g, 0, sc->call64, call, 5)))
		goto out;
	for (int i = 0; i < sc->nexit; i++) {
		struct sc_site *x = &sc->exit_site[i];

		if (!in_rel32(x->va, stub_va(SC_STUB_OFF_gears_sc_exit_hook)) ||
		    gears_linux__read(sc->l, x->va, now, 5) || memcmp(now, x->orig, 5)) {
			pr_warn("return hook at 0x%" PRIx64 " skipped (code changed)", x->va);
			continue;
		}
		encode_call(x->va, stub_va(SC_STUB_OFF_gears_sc_exit_hook), call);
		if ((r = gears_gdb__write(g, 0, x->va, call, 5)))
			goto out;
	}
	if (sc->call80 && in_rel32(sc->call80, stub_va(SC_STUB_OFF_gears_sc_entry_int80))) {
		encode_call(sc->call80, stub_va(SC_STUB_OFF_gears_sc_entry_int80), call);
		if (gears_gdb__write(g, 0, sc->call80, call, 5))
			pr_warn("could not hook int 0x80; compat calls not intercepted");
	}
	sc->stub = true;
	pr_info("syscall stub installed: call at 0x%" PRIx64 " -> 0x%" PRIx64, sc->call64,
		stub_va(SC_STUB_OFF_gears_sc_entry64));
out:
	if (!sc->bps)
		gears_vm__gdb_release(sc->vm);	/* detaching resumes the VM */
	else
		gears_gdb__cont(g);
	return r;
}

static int stub_remove(struct gears_sc *sc)
{
	struct gears_gdb *g;
	int r;

	if (!sc->stub)
		return 0;
	g = gears_vm__gdb(sc->vm);
	if (!g)
		return -errno;
	r = gears_gdb__stop(g, NULL);
	if (!r)
		r = gears_gdb__write(g, 0, sc->call64, sc->orig64, 5);
	if (!r && sc->call80)
		r = gears_gdb__write(g, 0, sc->call80, sc->orig80, 5);
	for (int i = 0; i < sc->nexit && !r; i++)
		r = gears_gdb__write(g, 0, sc->exit_site[i].va, sc->exit_site[i].orig, 5);
	/* Calls already inside the stub finish through it and see it disabled. */
	sc->ctl->enabled = 0;
	memset(sc->ctl->any, 0, sizeof(sc->ctl->any));
	memset(sc->ctl->any32, 0, sizeof(sc->ctl->any32));
	sc->ctl->hcall_enabled = 0;
	if (!r)
		sc->stub = false;
	if (!sc->bps)
		gears_vm__gdb_release(sc->vm);
	else
		gears_gdb__cont(g);
	return r;
}

/* The stub's selection bits one handler asks for. */
static uint16_t handler_bits(const struct sc_handler *h)
{
	uint16_t bits = 0;

	if (h->flags & GEARS_SC_RING) {
		if (h->flags & GEARS_SC_ON_ENTRY)
			bits |= GEARS_SC_SEL_RING_ENTRY;
		if (h->flags & GEARS_SC_ON_EXIT)
			bits |= GEARS_SC_SEL_RING_EXIT;
		if (h->flags & GEARS_SC_TIME)
			bits |= GEARS_SC_SEL_TIME;
	} else if (h->flags & GEARS_SC_SYNC) {
		if (h->flags & GEARS_SC_ON_ENTRY)
			bits |= GEARS_SC_SEL_SYNC_ENTRY;
		if (h->flags & GEARS_SC_ON_EXIT)
			bits |= GEARS_SC_SEL_SYNC_EXIT;
	}
	return bits;
}

/* For a number recorded in the ring: which strings the stub captures, and
 * whether the return record carries the entry's arguments (where the call
 * changes its registers, or strings were taken). */
static uint16_t capture_bits(int nr, int compat)
{
	int argv, s0 = 0, s1 = 0;
	unsigned mask = gears_sc__string_args(nr, compat, &argv);
	const char *name = gears_sc__name(nr, compat);
	uint16_t bits;

	for (int a = 0; a < 6; a++) {
		if (!(mask & (1u << a)))
			continue;
		if (!s0)
			s0 = a + 1;
		else if (!s1)
			s1 = a + 1;
	}
	bits = (uint16_t)(s0 << GEARS_SC_SEL_STR0_SHIFT | s1 << GEARS_SC_SEL_STR1_SHIFT |
			  (argv >= 0 ? argv + 1 : 0) << GEARS_SC_SEL_ARGV_SHIFT);
	if (mask || argv >= 0 || (name && (!strcmp(name, "rt_sigreturn") || !strcmp(name, "sigreturn"))))
		bits |= GEARS_SC_SEL_SAVE_ARGS;
	return bits;
}

/* Recompute the guest's per-number selection from the handlers. */
static void update_selection(struct gears_sc *sc)
{
	uint16_t sel[2][GEARS_SC_NR_MAX];
	struct gears_sc_ctl *c = sc->ctl;

	if (!sc->stub)
		return;
	memset(sel, 0, sizeof(sel));
	for (int i = 0; i < sc->nh; i++) {
		const struct sc_handler *h = &sc->h[i];
		uint16_t bits = handler_bits(h);

		for (int nr = 0; nr < (int)GEARS_SC_NR_MAX; nr++)
			if (h->set[nr / 64] & (1ull << (nr % 64)))
				sel[!!(h->flags & GEARS_SC_COMPAT)][nr] |= bits;
	}
	for (int compat = 0; compat < 2; compat++)
		for (int nr = 0; nr < (int)GEARS_SC_NR_MAX; nr++)
			if (sel[compat][nr] & (GEARS_SC_SEL_RING_ENTRY | GEARS_SC_SEL_RING_EXIT))
				sel[compat][nr] |= capture_bits(nr, compat);
	/* sel before the fast-path bits: a CPU that sees a bit finds its sel. */
	memcpy(c->sel, sel[0], sizeof(c->sel));
	memcpy(c->sel32, sel[1], sizeof(c->sel32));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int w = 0; w < (int)(GEARS_SC_NR_MAX / 64); w++) {
		uint64_t a = 0, a32 = 0;

		for (int b = 0; b < 64; b++) {
			if (sel[0][w * 64 + b])
				a |= 1ull << b;
			if (sel[1][w * 64 + b])
				a32 |= 1ull << b;
		}
		__atomic_store_n(&c->any[w], a, __ATOMIC_RELEASE);
		__atomic_store_n(&c->any32[w], a32, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&c->hcall_enabled, sc->nhc > 0, __ATOMIC_RELEASE);
}

/* Install or remove what the current handlers need. */
static int reconcile(struct gears_sc *sc)
{
	bool need_stub = sc->nhc > 0, need_bps = false;
	int r = 0;

	for (int i = 0; i < sc->nh; i++) {
		if (sc->h[i].flags & GEARS_SC_EXIT)
			need_bps = true;
		else
			need_stub = true;
	}
	if (need_stub && !sc->stub)
		r = stub_install(sc);
	if (!r && need_bps && !sc->bps)
		r = sc_bps_install(sc);
	update_selection(sc);
	if (!need_bps && sc->bps)
		sc_bps_remove(sc);
	if (!need_stub && sc->stub)
		r = r ?: stub_remove(sc);
	return r;
}

int gears_sc__add(struct gears_sc *sc, int nr, unsigned flags, gears_sc_handler_fn fn, void *ctx)
{
	uint64_t set[GEARS_SC_NR_WORDS];

	if (nr != GEARS_SC_ALL && (nr < 0 || nr >= (int)GEARS_SC_NR_MAX))
		return gears_err(EINVAL, "system call number %d out of range", nr);
	memset(set, nr == GEARS_SC_ALL ? 0xff : 0, sizeof(set));
	if (nr != GEARS_SC_ALL)
		set[nr / 64] |= 1ull << (nr % 64);
	return gears_sc__add_set(sc, set, flags, fn, ctx);
}

int gears_sc__add_set(struct gears_sc *sc, const uint64_t set[GEARS_SC_NR_WORDS], unsigned flags,
		      gears_sc_handler_fn fn, void *ctx)
{
	unsigned delivery = flags & (GEARS_SC_EXIT | GEARS_SC_SYNC | GEARS_SC_RING);
	struct sc_handler *h;
	int r;

	if ((flags & GEARS_SC_ON_EXIT_ASKED) && (!(flags & GEARS_SC_ON_ENTRY) || !(flags & GEARS_SC_SYNC)))
		return gears_err(EINVAL, "ON_EXIT_ASKED needs a sync handler that also sees entries");
	if (!fn || !(flags & (GEARS_SC_ON_ENTRY | GEARS_SC_ON_EXIT | GEARS_SC_ON_EXIT_ASKED)))
		return gears_err(EINVAL, "handler needs a function and ON_ENTRY and/or ON_EXIT");
	if (delivery != GEARS_SC_EXIT && delivery != GEARS_SC_SYNC && delivery != GEARS_SC_RING)
		return gears_err(EINVAL, "pick exactly one delivery: EXIT, SYNC or RING");
	if ((flags & GEARS_SC_COMPAT) && !sc->call80)
		return gears_err(ENOTSUP, "this guest kernel offers no int 0x80 hook point");
	if (sc->nh >= SC_MAX_HANDLERS)
		return gears_err(ENOSPC, "too many handlers");
	h = &sc->h[sc->nh++];
	*h = (struct sc_handler){ .id = sc->next_id++, .flags = flags, .fn = fn, .ctx = ctx };
	memcpy(h->set, set, sizeof(h->set));
	r = reconcile(sc);
	if (r) {
		sc->nh--;
		reconcile(sc);
		return r;
	}
	return h->id;
}

int gears_sc__remove(struct gears_sc *sc, int id)
{
	for (int i = 0; i < sc->nh; i++) {
		if (sc->h[i].id != id)
			continue;
		sc->h[i] = sc->h[--sc->nh];
		return reconcile(sc);
	}
	return gears_err(ENOENT, "no handler %d", id);
}

int gears_sc__add_hcall(struct gears_sc *sc, long op_lo, long op_hi, gears_sc_handler_fn fn, void *ctx)
{
	struct sc_hcall *h;
	int r;

	if (!fn || op_hi < op_lo)
		return gears_err(EINVAL, "hypercall handler needs a function and an op range");
	if (sc->nhc >= (int)ARRAY_SIZE(sc->hc))
		return gears_err(ENOSPC, "too many hypercall handlers");
	h = &sc->hc[sc->nhc++];
	*h = (struct sc_hcall){ .id = sc->next_id++, .lo = op_lo, .hi = op_hi, .fn = fn, .ctx = ctx };
	r = reconcile(sc);
	if (r) {
		sc->nhc--;
		reconcile(sc);
		return r;
	}
	return h->id;
}

int gears_sc__remove_hcall(struct gears_sc *sc, int id)
{
	for (int i = 0; i < sc->nhc; i++) {
		if (sc->hc[i].id != id)
			continue;
		sc->hc[i] = sc->hc[--sc->nhc];
		return reconcile(sc);
	}
	return gears_err(ENOENT, "no hypercall handler %d", id);
}

/* One hypercall: the op picks the handler. */
static void hcall(struct gears_sc *sc, struct gears_sc_call *c)
{
	long op = (long)c->args[0];

	sc->st.hcalls++;
	if (op == GEARS_HC_PING) {
		c->new_ret = GEARS_HC_PONG;
		c->ret_dirty = true;
		return;
	}
	for (int i = 0; i < sc->nhc; i++) {
		if (op < sc->hc[i].lo || op > sc->hc[i].hi)
			continue;
		sc->hc[i].fn(c, sc->hc[i].ctx);
		sc->st.delivered++;
		return;
	}
}

void gears_sc__free(struct gears_sc *sc)
{
	if (!sc)
		return;
	inject_reap(sc, true);
	sc->nh = 0;
	sc->nhc = 0;
	/* A VM that is gone needs no restoring (and has no gdbstub to do it). */
	if (gears_vm__alive(sc->vm)) {
		if (sc->bps)
			sc_bps_remove(sc);
		if (sc->stub && stub_remove(sc))
			pr_warn("could not remove the syscall stub: %s", gears_last_error());
	}
	gears_region__close(sc->region);
	free(sc);
}

bool gears_sc__stub_installed(const struct gears_sc *sc)
{
	return sc->stub;
}

bool gears_sc__breakpoints_set(const struct gears_sc *sc)
{
	return sc->bps;
}

int gears_sc__fd(const struct gears_sc *sc)
{
	struct gears_gdb *g;

	if (!sc->bps || !(g = gears_vm__gdb(sc->vm)))
		return -1;
	return gears_gdb__fd(g);
}

bool gears_sc__busy(const struct gears_sc *sc)
{
	if (sc->bps || sc->nhc)
		return true;
	for (int i = 0; i < sc->nh; i++)
		if (sc->h[i].flags & GEARS_SC_SYNC)
			return true;
	return false;
}

void gears_sc__stats(const struct gears_sc *sc, struct gears_sc_stats *st)
{
	*st = sc->st;
	if (sc->ctl) {
		st->ring_drops = __atomic_load_n(&sc->ctl->ring_drops, __ATOMIC_RELAXED);
		st->sync_timeouts = __atomic_load_n(&sc->ctl->sync_timeouts, __ATOMIC_RELAXED);
		st->hcalls = __atomic_load_n(&sc->ctl->hcalls, __ATOMIC_RELAXED);
	}
}

/* ---- delivery ---- */

void gears_sc__set_bell(struct gears_sc *sc, unsigned port)
{
	sc->bell_port = port <= 0xffff ? port : 0;
	if (sc->stub && sc->ctl)
		__atomic_store_n(&sc->ctl->bell_port, sc->bell_port, __ATOMIC_RELEASE);
}

bool gears_sc__bell_arm(struct gears_sc *sc)
{
	if (!sc->stub || !sc->ctl || !sc->bell_port)
		return false;
	__atomic_store_n(&sc->ctl->bell_armed, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int cpu = 0; cpu < sc->ncpus; cpu++)
		if (GEARS_SC_SLOT_STATE(__atomic_load_n(&sc->slots[cpu].state, __ATOMIC_ACQUIRE)) ==
		    GEARS_SC_SLOT_POSTED) {
			__atomic_store_n(&sc->ctl->bell_armed, 0, __ATOMIC_RELAXED);
			return false;	/* work is waiting: do not sleep */
		}
	return true;
}

void gears_sc__bell_disarm(struct gears_sc *sc)
{
	if (sc->stub && sc->ctl)
		__atomic_store_n(&sc->ctl->bell_armed, 0, __ATOMIC_RELAXED);
}

int sc_dispatch(struct gears_sc *sc, struct gears_sc_call *c)
{
	unsigned when = c->exit ? GEARS_SC_ON_EXIT | GEARS_SC_ON_EXIT_ASKED : GEARS_SC_ON_ENTRY;
	int n = 0;

	for (int i = 0; i < sc->nh; i++) {
		const struct sc_handler *h = &sc->h[i];

		if (!(h->flags & when) || !(h->flags & c->delivery) ||
		    !!(h->flags & GEARS_SC_COMPAT) != c->compat || c->nr < 0 ||
		    c->nr >= (int)GEARS_SC_NR_MAX || !(h->set[c->nr / 64] & (1ull << (c->nr % 64))))
			continue;
		int r = h->fn(c, h->ctx);

		if (r < 0)
			pr_debug("syscall handler %d: %s", h->id, strerror(-r));
		n++;
	}
	sc->st.delivered += (uint64_t)n;
	return n;
}

/* Fill a call from pt_regs in guest memory. */
static int call_from_regs(struct gears_sc *sc, struct gears_sc_call *c, uint64_t regs_va)
{
	struct sc_uregs u;
	int r = sc_read_regs(sc, regs_va, &u);

	if (r)
		return r;
	c->regs_va = regs_va;
	sc_call_fill(c, &u);
	return 0;
}

/* ---- answering a sync request (the slot protocol, sc_abi.h) ---- */

void sc_call_stage_reg(struct gears_sc_call *c, uint32_t off, uint64_t v)
{
	if (off % 8 || off >= GEARS_PTREGS_SIZE)
		return;
	c->set_regs[off / 8] = v;
	c->set_mask |= 1ull << (off / 8);
}

/* Stage a sync handler's changes to pt_regs; returns the slot action. */
static uint32_t stage_changes(struct gears_sc_call *c, uint32_t kind)
{
	const uint32_t *a = sc_arg_off[c->compat];

	for (int i = 0; i < 6; i++)
		if (c->args_dirty & (1u << i))
			sc_call_stage_reg(c, a[i], c->compat ? (uint32_t)c->new_args[i] : c->new_args[i]);
	if (c->nr_dirty) {
		/* 64-bit: the stub reads the number back from orig_ax; compat
		 * (before int80_emulation): it is still in ax. */
		sc_call_stage_reg(c, c->compat ? GEARS_PTREGS_AX : GEARS_PTREGS_ORIG_AX, (uint64_t)(int64_t)c->new_nr);
	}
	if (c->deny) {
		sc_call_stage_reg(c, GEARS_PTREGS_AX, (uint64_t)c->deny_ret);
		return GEARS_SC_ACT_DENY | (c->want_exit ? GEARS_SC_ACT_F_EXIT : 0);
	}
	if (c->ret_dirty)
		sc_call_stage_reg(c, GEARS_PTREGS_AX, (uint64_t)c->new_ret);
	if (kind == GEARS_SC_REQ_HCALL)
		return GEARS_SC_ACT_SKIP;
	return GEARS_SC_ACT_CONTINUE | (kind == GEARS_SC_REQ_ENTRY && c->want_exit ? GEARS_SC_ACT_F_EXIT : 0);
}

int sc_call_on_settle(struct gears_sc_call *c, sc_settle_fn fn, void *ctx)
{
	if (c->nsettle >= SC_MAX_SETTLE)
		return gears_err(ENOSPC, "too many settle callbacks on one call");
	c->settle[c->nsettle].fn = fn;
	c->settle[c->nsettle++].ctx = ctx;
	return 0;
}

void sc_call_settle(struct gears_sc_call *c, bool applied)
{
	for (int i = 0; i < c->nsettle; i++)
		c->settle[i].fn(c, applied, c->settle[i].ctx);
	c->nsettle = 0;
}

/* Wait for the guest CPU to leave COPY: 0 when it copied (CLAIMED again). */
static int copy_wait(struct gears_sc *sc, struct gears_sc_slot *s, uint64_t seq)
{
	uint64_t t0 = gears_now_ns();

	for (unsigned spins = 0;; spins++) {
		uint64_t w = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (w == GEARS_SC_SLOT_WORD(seq, GEARS_SC_SLOT_CLAIMED))
			return 0;
		if (w != GEARS_SC_SLOT_WORD(seq, GEARS_SC_SLOT_COPY))
			return gears_err(ECANCELED, "the guest stopped waiting for this call");
		if (gears_now_ns() - t0 > sc->copy_wait_ns)
			return gears_err(ETIMEDOUT, "guest CPU %d did not copy its stage in time", (int)s->cpu);
		/* A copy takes microseconds; past that, sleep so that the vCPU
		 * threads have the host's CPUs. */
		if (spins < 64)
			__builtin_ia32_pause();
		else
			nanosleep(&(struct timespec){ .tv_nsec = spins < 1024 ? 10000 : 100000 }, NULL);
	}
}

/* Every page user-accessible and writable now (the guest's copy checks again:
 * this only spares a round trip that would fail). */
static int user_writable(struct gears_sc_call *c, uint64_t va, size_t len)
{
	uint64_t cr3 = gears_sc_call__cr3(c);

	for (uint64_t p = va & ~0xfffull; p < va + len; p += 4096) {
		struct gears_xlate x;
		int r = gears_pt__xlate(c->sc->mem, cr3, c->sc->levels, p, &x);

		if (r)
			return r;
		if (!x.user || !x.writable)
			return gears_err(EACCES, "writing va 0x%" PRIx64 ": page is not user-writable", p);
	}
	return 0;
}

int sc_call_copy(struct gears_sc_call *c, uint64_t va, const void *buf, size_t len)
{
	struct gears_sc *sc = c->sc;
	struct gears_sc_slot *s = c->slot;
	uint8_t *stage;
	int r;

	if (!s || !sc->stage || !sc->stage_size || c->cpu < 0 || c->cpu >= sc->ncpus)
		return gears_err(EINVAL, "no request to write memory for");
	if (!sc->copy_to_nofault)
		return gears_err(ENOTSUP, "the guest kernel has no copy_to_user_nofault: user memory cannot "
				 "be written");
	if (c->lost)
		return gears_err(ECANCELED, "the guest stopped waiting for this call");
	if (va >= USER_TOP || len > USER_TOP - va)
		return gears_err(EFAULT, "writing 0x%zx bytes at 0x%" PRIx64 ": not user memory", len, va);
	if ((r = user_writable(c, va, len)))
		return r;
	stage = sc->stage + (size_t)c->cpu * sc->stage_size;
	for (size_t off = 0, n; off < len; off += n) {
		uint64_t expect = GEARS_SC_SLOT_WORD(c->seq, GEARS_SC_SLOT_CLAIMED);
		int64_t ret;

		n = GEARS_MIN(len - off, (size_t)sc->stage_size);
		memcpy(stage, (const uint8_t *)buf + off, n);
		s->copy_to = va + off;
		s->copy_len = (uint32_t)n;
		s->copy_ret = -EINPROGRESS;
		/* Publishes the stage; fails if the guest gave up first. */
		if (!__atomic_compare_exchange_n(&s->state, &expect, GEARS_SC_SLOT_WORD(c->seq, GEARS_SC_SLOT_COPY),
						 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			r = gears_err(ECANCELED, "the guest stopped waiting for this call");
		else
			r = copy_wait(sc, s, c->seq);
		if (r) {
			/* Never answer a request whose copies we lost track of. */
			c->lost = true;
			return r;
		}
		ret = __atomic_load_n(&s->copy_ret, __ATOMIC_RELAXED);
		if (ret)
			return gears_err(ret < 0 && ret >= -4095 ? (int)-ret : EIO,
					 "the guest could not write 0x%zx bytes at 0x%" PRIx64 " (%" PRId64 ")", n,
					 va + off, ret);
	}
	return 0;
}

/* The fault injection of fault_init. */
static void fault_delay(struct gears_sc *sc, const struct gears_sc_call *c)
{
	if (!sc->fault.armed || c->nr != sc->fault.nr || c->exit != sc->fault.exit || strcmp(c->comm, sc->fault.comm))
		return;
	sc->fault.armed = false;
	pr_warn("fault injection: answering call %d of %s (tid %d) %u ms late", c->nr, c->comm, c->tid,
		sc->fault.ms);
	nanosleep(&(struct timespec){ .tv_sec = sc->fault.ms / 1000, .tv_nsec = sc->fault.ms % 1000 * 1000000L },
		  NULL);
}

/* A copy of the request, checked: the guest can rewrite the slot at any time. */
static bool read_request(struct gears_sc_slot *s, int cpu, struct gears_sc_slot *req)
{
	memcpy(req, s, offsetof(struct gears_sc_slot, action));
	req->comm[sizeof(req->comm) - 1] = 0;
	return req->kind >= GEARS_SC_REQ_ENTRY && req->kind <= GEARS_SC_REQ_HCALL && req->cpu == (uint32_t)cpu;
}

static int serve_slot(struct gears_sc *sc, int cpu)
{
	struct gears_sc_slot *s = &sc->slots[cpu], req;
	struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_SYNC, .cpu = cpu, .slot = s };
	uint64_t w = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	uint32_t act = GEARS_SC_ACT_CONTINUE;

	if (GEARS_SC_SLOT_STATE(w) != GEARS_SC_SLOT_POSTED)
		return 0;
	c.seq = GEARS_SC_SLOT_SEQ(w);
	if (!__atomic_compare_exchange_n(&s->state, &w, GEARS_SC_SLOT_WORD(c.seq, GEARS_SC_SLOT_CLAIMED), false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	if (!read_request(s, cpu, &req)) {
		sc->st.bad_records++;
		goto answer;	/* with nothing changed */
	}
	c.nr = (int)req.nr;
	c.compat = req.compat != 0;
	c.exit = req.kind == GEARS_SC_REQ_EXIT;
	c.cr3 = req.cr3;
	c.task = req.task;
	c.tid = req.pid;
	c.pid = req.tgid;
	c.ppid = req.ppid;
	c.time_ns = sc_tsc_ns(sc, req.tsc);
	memcpy(c.comm, req.comm, sizeof(c.comm));
	if (call_from_regs(sc, &c, req.regs)) {
		sc->st.bad_records++;
		goto answer;
	}
	fault_delay(sc, &c);
	if (req.kind == GEARS_SC_REQ_HCALL) {
		c.nr = (int)GEARS_HCALL_NR;
		c.ret = -ENOSYS;
		hcall(sc, &c);
	} else {
		sc_dispatch(sc, &c);
	}
	act = stage_changes(&c, req.kind);
	sc->st.sync_requests++;
answer:
	if (!c.lost) {
		uint64_t expect = GEARS_SC_SLOT_WORD(c.seq, GEARS_SC_SLOT_CLAIMED);

		s->action = act;
		s->set_mask = c.set_mask;
		memcpy(s->set_regs, c.set_regs, sizeof(s->set_regs));
		/* Publishes the answer, unless the guest gave up first. */
		c.lost = !__atomic_compare_exchange_n(&s->state, &expect,
						      GEARS_SC_SLOT_WORD(c.seq, GEARS_SC_SLOT_DONE), false,
						      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	if (c.lost)
		sc->st.sync_late++;
	sc_call_settle(&c, !c.lost);
	return 1;
}

static int serve_slots(struct gears_sc *sc)
{
	int n = 0;

	for (int cpu = 0; cpu < sc->ncpus; cpu++)
		n += serve_slot(sc, cpu);
	return n;
}

static int drain_ring(struct gears_sc *sc)
{
	uint64_t head = __atomic_load_n(&sc->ctl->ring_head, __ATOMIC_ACQUIRE);
	int n = 0;

	/* The guest owns head; bound the work whatever it says. */
	while (sc->tail != head && n < (int)GEARS_SC_RING_SLOTS) {
		struct gears_sc_ev *slot = &sc->ring[sc->tail & (GEARS_SC_RING_SLOTS - 1)];
		struct gears_sc_ev ev;
		struct gears_sc_call c = { .sc = sc, .delivery = GEARS_SC_RING };
		bool torn;

		if (__atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) != sc->tail + 1) {
			/* Reserved but not yet written. A writer cannot be interrupted
			 * (IRQs are off), so one that stays unwritten is garbage. */
			uint64_t now = gears_now_ns();

			if (!sc->stuck_since)
				sc->stuck_since = now;
			if (now - sc->stuck_since < RING_STUCK_NS)
				break;
			sc->st.bad_records++;
			sc->stuck_since = 0;
			sc->tail++;
			continue;
		}
		sc->stuck_since = 0;
		/* One copy, parsed; the guest may rewrite the record meanwhile, so
		 * the copy's own commit mark says whether it is one record. */
		memcpy(&ev, slot, sizeof(ev));
		torn = ev.seq != sc->tail + 1;
		sc->tail++;
		/* Give the slots back in batches: the guest reads ring_tail on every
		 * record, and a line we keep writing would bounce between cores. */
		if ((sc->tail & 255) == 0)
			__atomic_store_n(&sc->ctl->ring_tail, sc->tail, __ATOMIC_RELEASE);
		n++;
		sc->st.ring_events++;
		if (torn || (ev.kind != GEARS_SC_EV_ENTRY && ev.kind != GEARS_SC_EV_EXIT) ||
		    ev.data_len > GEARS_SC_EV_DATA || ev.nr >= GEARS_SC_NR_MAX) {
			sc->st.bad_records++;
			continue;
		}
		ev.comm[sizeof(ev.comm) - 1] = 0;
		if (ev.data_len)
			ev.data[ev.data_len - 1] = 0;
		c.ev = &ev;
		c.exit = ev.kind == GEARS_SC_EV_EXIT;
		c.compat = ev.flags & GEARS_SC_EVF_COMPAT;
		c.denied = ev.flags & GEARS_SC_EVF_DENIED;
		c.nr = (int)ev.nr;
		memcpy(c.args, ev.args, sizeof(c.args));
		c.ret = ev.ret;
		c.pid = ev.tgid;
		c.tid = ev.pid;
		c.ppid = ev.ppid;
		c.cpu = ev.cpu;
		memcpy(c.comm, ev.comm, sizeof(c.comm));
		c.cr3 = ev.cr3;
		c.task = ev.task;
		c.regs_va = ev.regs;
		c.uip = ev.ip;
		c.time_ns = sc_tsc_ns(sc, ev.tsc);
		if (c.exit && ev.tsc_entry && ev.tsc_entry <= ev.tsc)
			c.entry_ns = sc_tsc_ns(sc, ev.tsc_entry);
		sc_dispatch(sc, &c);
	}
	__atomic_store_n(&sc->ctl->ring_tail, sc->tail, __ATOMIC_RELEASE);
	return n;
}

int sc_serve(struct gears_sc *sc)
{
	return serve_slots(sc) + drain_ring(sc);
}

int gears_sc__poll(struct gears_sc *sc, int timeout_us)
{
	uint64_t deadline = gears_now_ns() + (uint64_t)(timeout_us > 0 ? timeout_us : 0) * 1000ull;

	for (;;) {
		int n = 0, r;

		if (sc->stub)
			n += sc_serve(sc);
		if (sc->orphans)
			inject_reap(sc, false);
		if (sc->bps) {
			r = sc_exit_poll(sc, 0);
			if (r < 0)
				return r;
			n += r;
		}
		if (n)
			return n;
		uint64_t now = gears_now_ns();

		if (now >= deadline)
			return 0;
		/* Nothing yet. Sleep briefly: a guest may be spinning on a slot. */
		uint64_t nap = GEARS_MIN(deadline - now, gears_sc__busy(sc) ? 50000ull : 1000000ull);

		if (sc->bps) {
			r = sc_exit_poll(sc, (int)(nap / 1000));
			if (r)
				return r;
		} else {
			nanosleep(&(struct timespec){ .tv_nsec = (long)nap }, NULL);
		}
	}
}
