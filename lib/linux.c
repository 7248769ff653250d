// SPDX-License-Identifier: MIT
/*
 * Linux kernel introspection from outside the guest.
 *
 * Symbols and struct offsets are resolved lazily: the first lookup of any
 * symbol loads the whole kallsyms table (a RAM scan), the first offset loads
 * the BTF. What was resolved is remembered in a small JSON cache, so a later
 * `gears ps` on the same VM touches neither.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <unistd.h>

#include <jansson.h>

#include <gears/linux.h>

#include "internal.h"

#define PF_KTHREAD 0x00200000u
#define PF_WQ_WORKER 0x00000020u
#define PROC_NAME_MAX 64	/* proc_task_name()'s buffer */
#define SCAN_WINDOW (256ull << 20)	/* kallsyms is within this of kernel text */
/* The fields of a task_struct GEARS reads lie within this many bytes (6.1: ~3 KiB
 * apart in a 10 KiB struct); BTF offsets spread wider are refused. */
#define TASK_SPAN_MAX (64u << 10)

struct gears_linux {
	struct gears_mem *mem;
	uint64_t cr3;
	int levels;
	uint64_t hint_va;
	uint64_t text, kaslr;
	char release[65], version[65];
	uint64_t banner_addr;
	char banner[256];
	size_t nsyms;
	int nr_cpus;
	struct gears_ksyms *ks;
	struct gears_kbtf *btf;
	struct gears_syscall_sig *sigs;	/* by number, nsigs entries (name[0] == 0: none) */
	int nsigs;
	json_t *syms;		/* name -> address */
	json_t *offs;		/* "type.member" -> offset (-1: absent) */
	char *cache_path;
	bool dirty;
	/* hot offsets, resolved once per open */
	bool task_ready;
	long o_tasks, o_pid, o_tgid, o_comm, o_parent, o_cred, o_state, o_exit_state, o_flags, o_mm,
	     o_signal, o_thread_node, o_euid, o_pgd, o_thread_head;
	/* a task_struct is read with one copy of [task_lo, task_lo + task_len) */
	long task_lo;
	size_t task_len;
	uint8_t *task_buf;
	/* signals (gears_linux__task_signals), resolved on first use */
	int sig_ready;		/* 0: not yet, 1: ready, < 0: the errno it failed with */
	long s_pending, s_blocked, s_signal, s_sighand, s_ptrace, s_sp_list, s_sp_signal, s_shared,
	     s_gec, s_rlim, s_action, s_ka_size, s_handler, s_saflags, s_samask, s_q_list, s_q_info,
	     s_info_size, s_rlim_size, s_rlim_cur;
};

/* What a walk needs from a task besides struct gears_task, from the same copy. */
struct task_links {
	uint64_t tasks_next;		/* tasks.next */
	uint64_t thread_next;		/* thread_node.next */
	uint64_t signal;
};

int gears_linux__read(struct gears_linux *l, uint64_t va, void *buf, size_t len)
{
	return gears_vmem__read(l->mem, l->cr3, l->levels, va, buf, len);
}

int gears_linux__read_u64(struct gears_linux *l, uint64_t va, uint64_t *v)
{
	return gears_linux__read(l, va, v, sizeof(*v));
}

/* ---- kallsyms, found near the kernel's text when we know where that is ---- */

struct scan_ctx {
	const struct gears_mem *m;
	uint64_t lo, hi;
	struct gears_ksyms *ks;
};

static int scan_range(uint64_t gpa, const void *p, uint64_t len, void *vctx)
{
	struct scan_ctx *c = vctx;
	uint64_t a = GEARS_MAX(gpa, c->lo), b = GEARS_MIN(gpa + len, c->hi);

	if (a >= b)
		return 0;
	c->ks = ksyms_find_mem(c->m, (const char *)p + (a - gpa), b - a, a);
	return c->ks ? 1 : 0;
}

static int load_ksyms(struct gears_linux *l)
{
	struct gears_xlate x;

	if (l->ks)
		return 0;
	if (l->hint_va >= KERNEL_HALF &&
	    !gears_pt__xlate(l->mem, l->cr3, l->levels, l->hint_va, &x)) {
		struct scan_ctx c = {
			.m = l->mem,
			.lo = x.gpa > SCAN_WINDOW ? x.gpa - SCAN_WINDOW : 0,
			.hi = x.gpa + SCAN_WINDOW,
		};

		gears_mem__for_each_range(l->mem, scan_range, &c);
		l->ks = c.ks;
	}
	if (!l->ks)
		l->ks = gears_ksyms__find_in_mem(l->mem);
	if (!l->ks) {
		int e = errno;

		gears_err_prefix("kernel symbols");
		return -e;
	}
	l->nsyms = gears_ksyms__count(l->ks);
	l->dirty = true;
	return 0;
}

int gears_linux__sym(struct gears_linux *l, const char *name, uint64_t *addr)
{
	json_t *v = json_object_get(l->syms, name);
	int r;

	if (v) {
		/* JSON integers are signed 64-bit: kernel addresses round-trip as
		 * negative numbers with the same bits. null records "not there". */
		if (json_is_null(v))
			return gears_err(ENOENT, "no kernel symbol %s", name);
		*addr = (uint64_t)json_integer_value(v);
		return 0;
	}
	r = load_ksyms(l);
	if (r)
		return r;
	r = gears_ksyms__lookup(l->ks, name, addr);
	json_object_set_new(l->syms, name, r ? json_null() : json_integer((json_int_t)*addr));
	l->dirty = true;
	if (r)
		return gears_err(ENOENT, "no kernel symbol %s", name);
	return 0;
}

const struct gears_ksyms *gears_linux__ksyms(struct gears_linux *l)
{
	return load_ksyms(l) ? NULL : l->ks;
}

size_t gears_linux__nsyms(struct gears_linux *l)
{
	return l->nsyms;
}

/* ---- BTF ---- */

static int load_btf(struct gears_linux *l)
{
	uint64_t start, stop;
	void *buf;
	int r;

	if (l->btf)
		return 0;
	if ((r = gears_linux__sym(l, "__start_BTF", &start)) ||
	    (r = gears_linux__sym(l, "__stop_BTF", &stop)))
		return gears_err(ENOENT, "the guest kernel has no BTF (__start_BTF/__stop_BTF missing)");
	if (stop <= start || stop - start > GEARS_KBTF_MAX_SIZE)
		return gears_err(EBADMSG, "kernel BTF size 0x%" PRIx64 " is implausible", stop - start);
	buf = malloc(stop - start);
	if (!buf)
		return -ENOMEM;
	r = gears_linux__read(l, start, buf, stop - start);
	if (!r) {
		l->btf = gears_kbtf__new(buf, stop - start);
		if (!l->btf) {
			r = -errno;
			gears_err_prefix("kernel BTF at 0x%" PRIx64, start);
		}
	}
	free(buf);
	return r;
}

const struct gears_kbtf *gears_linux__btf(struct gears_linux *l)
{
	return load_btf(l) ? NULL : l->btf;
}

long gears_linux__offsetof(struct gears_linux *l, const char *type, const char *member)
{
	char key[160];
	json_t *v;
	long off;
	int r;

	snprintf(key, sizeof(key), "%s.%s", type, member);
	v = json_object_get(l->offs, key);
	if (v) {
		off = (long)json_integer_value(v);
		return off < 0 ? gears_err(ENOENT, "no member %s in the guest kernel's BTF", key) : off;
	}
	r = load_btf(l);
	if (r)
		return r;
	off = gears_kbtf__offsetof(l->btf, type, member);
	json_object_set_new(l->offs, key, json_integer(off < 0 ? -1 : off));
	l->dirty = true;
	return off;
}

int gears_linux__percpu(struct gears_linux *l, const char *sym, int cpu, uint64_t *addr)
{
	uint64_t off, base_arr, base;
	int r;

	if (cpu < 0 || cpu >= gears_linux__nr_cpus(l))
		return gears_err(EINVAL, "no CPU %d in the guest", cpu);
	if ((r = gears_linux__sym(l, sym, &off)) || (r = gears_linux__sym(l, "__per_cpu_offset", &base_arr)))
		return r;
	r = gears_linux__read_u64(l, base_arr + 8ull * (unsigned)cpu, &base);
	if (r)
		return r;
	*addr = base + off;
	return 0;
}

int gears_linux__nr_cpus(struct gears_linux *l)
{
	uint64_t a;
	uint32_t n;

	if (l->nr_cpus)
		return l->nr_cpus;
	if (gears_linux__sym(l, "nr_cpu_ids", &a) || gears_linux__read(l, a, &n, sizeof(n)))
		return 1;
	l->nr_cpus = n >= 1 && n <= 8192 ? (int)n : 1;
	return l->nr_cpus;
}

/* ---- identity: banner, release, version ---- */

static int read_identity(struct gears_linux *l)
{
	uint64_t uts;
	long o_name, o_rel, o_ver;
	int r;

	if ((r = gears_linux__sym(l, "linux_banner", &l->banner_addr)))
		return r;
	r = gears_vmem__read_str(l->mem, l->cr3, l->levels, l->banner_addr, l->banner, sizeof(l->banner));
	if (r < 0 && r != -ENAMETOOLONG)
		return r;
	if (strncmp(l->banner, "Linux version ", 14))
		return gears_err(EBADMSG, "linux_banner does not read \"Linux version\"");
	if ((r = gears_linux__sym(l, "_text", &l->text)))
		return r;
	l->kaslr = l->text - GEARS_X86_64_START_KERNEL;
	/* uname's strings, from the init UTS namespace. */
	if (!gears_linux__sym(l, "init_uts_ns", &uts) &&
	    (o_name = gears_linux__offsetof(l, "uts_namespace", "name")) >= 0 &&
	    (o_rel = gears_linux__offsetof(l, "new_utsname", "release")) >= 0 &&
	    (o_ver = gears_linux__offsetof(l, "new_utsname", "version")) >= 0) {
		gears_linux__read(l, uts + (uint64_t)(o_name + o_rel), l->release, sizeof(l->release) - 1);
		gears_linux__read(l, uts + (uint64_t)(o_name + o_ver), l->version, sizeof(l->version) - 1);
	} else {
		/* No BTF: the banner's third word is the release. */
		sscanf(l->banner + 14, "%64s", l->release);
	}
	return 0;
}

/* ---- cache ---- */

static bool cache_load(struct gears_linux *l)
{
	json_error_t je;
	json_t *j = json_load_file(l->cache_path, 0, &je);
	char now[256];
	const char *banner;
	bool ok = false;

	if (!j)
		return false;
	banner = json_string_value(json_object_get(j, "banner"));
	l->banner_addr = (uint64_t)json_integer_value(json_object_get(j, "banner_addr"));
	/* Trust the cache only if guest memory still holds the same kernel there. */
	if (banner && l->banner_addr &&
	    gears_vmem__read_str(l->mem, l->cr3, l->levels, l->banner_addr, now, sizeof(now)) >= 0 &&
	    !strcmp(now, banner) && json_is_object(json_object_get(j, "syms")) &&
	    json_is_object(json_object_get(j, "offs"))) {
		snprintf(l->banner, sizeof(l->banner), "%s", banner);
		l->text = (uint64_t)json_integer_value(json_object_get(j, "text"));
		l->kaslr = l->text - GEARS_X86_64_START_KERNEL;
		l->nsyms = (size_t)json_integer_value(json_object_get(j, "nsyms"));
		snprintf(l->release, sizeof(l->release), "%s",
			 json_string_value(json_object_get(j, "release")) ?: "");
		snprintf(l->version, sizeof(l->version), "%s",
			 json_string_value(json_object_get(j, "version")) ?: "");
		json_object_update(l->syms, json_object_get(j, "syms"));
		json_object_update(l->offs, json_object_get(j, "offs"));
		ok = true;
	}
	json_decref(j);
	return ok;
}

static void cache_save(struct gears_linux *l)
{
	char tmp[512];
	json_t *j;

	if (!l->cache_path || !l->dirty)
		return;
	j = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:O, s:O}",
		      "banner", l->banner, "banner_addr", (json_int_t)l->banner_addr,
		      "text", (json_int_t)l->text, "nsyms", (json_int_t)l->nsyms,
		      "release", l->release, "version", l->version, "syms", l->syms, "offs", l->offs);
	if (!j)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", l->cache_path, (int)getpid());
	if (!json_dump_file(j, tmp, JSON_COMPACT))
		rename(tmp, l->cache_path);
	else
		unlink(tmp);
	json_decref(j);
}

struct gears_linux *gears_linux__open(struct gears_mem *m, const struct gears_linux_opts *o)
{
	struct gears_linux *l;
	int r;

	if (!o || o->sz < offsetof(struct gears_linux_opts, cache_path))
		return gears_err_ptr(EINVAL, "gears_linux__open: options struct too small");
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->mem = m;
	l->cr3 = o->cr3;
	l->levels = (o->cr4 & (1ull << 12)) ? 5 : 4;
	l->hint_va = o->hint_va;
	l->syms = json_object();
	l->offs = json_object();
	if (o->cache_path)
		l->cache_path = strdup(o->cache_path);
	if (l->cache_path && cache_load(l))
		return l;
	json_object_clear(l->syms);
	json_object_clear(l->offs);
	r = read_identity(l);
	if (r) {
		gears_linux__close(l);
		errno = -r;
		return NULL;
	}
	return l;
}

void gears_linux__close(struct gears_linux *l)
{
	if (!l)
		return;
	cache_save(l);
	gears_ksyms__free(l->ks);
	gears_kbtf__free(l->btf);
	free(l->task_buf);
	free(l->sigs);
	json_decref(l->syms);
	json_decref(l->offs);
	free(l->cache_path);
	free(l);
}

const char *gears_linux__release(const struct gears_linux *l)
{
	return l->release;
}

const char *gears_linux__version(const struct gears_linux *l)
{
	return l->version;
}

uint64_t gears_linux__kaslr(const struct gears_linux *l)
{
	return l->kaslr;
}

int gears_linux__levels(const struct gears_linux *l)
{
	return l->levels;
}

uint64_t gears_linux__cr3(const struct gears_linux *l)
{
	return l->cr3;
}

/* ---- tasks ---- */

static long need_off(struct gears_linux *l, const char *type, const char *member, int *err)
{
	long o = gears_linux__offsetof(l, type, member);

	if (o < 0 && !*err)
		*err = (int)o;
	return o;
}

/* [*lo, *hi) grows to cover `size` bytes at offset `off`. */
static void span_add(long off, size_t size, long *lo, long *hi)
{
	*lo = GEARS_MIN(*lo, off);
	*hi = GEARS_MAX(*hi, off + (long)size);
}

static int task_offsets(struct gears_linux *l)
{
	long lo = LONG_MAX, hi = 0;
	int err = 0;

	if (l->task_ready)
		return 0;
	l->o_tasks = need_off(l, "task_struct", "tasks", &err);
	l->o_pid = need_off(l, "task_struct", "pid", &err);
	l->o_tgid = need_off(l, "task_struct", "tgid", &err);
	l->o_comm = need_off(l, "task_struct", "comm", &err);
	l->o_parent = need_off(l, "task_struct", "real_parent", &err);
	l->o_cred = need_off(l, "task_struct", "cred", &err);
	l->o_flags = need_off(l, "task_struct", "flags", &err);
	l->o_mm = need_off(l, "task_struct", "mm", &err);
	l->o_exit_state = need_off(l, "task_struct", "exit_state", &err);
	l->o_signal = need_off(l, "task_struct", "signal", &err);
	l->o_thread_node = need_off(l, "task_struct", "thread_node", &err);
	l->o_thread_head = need_off(l, "signal_struct", "thread_head", &err);
	l->o_euid = need_off(l, "cred", "euid", &err);
	l->o_pgd = need_off(l, "mm_struct", "pgd", &err);
	/* Renamed from `state` in 5.14. */
	l->o_state = gears_linux__offsetof(l, "task_struct", "__state");
	if (l->o_state < 0)
		l->o_state = need_off(l, "task_struct", "state", &err);
	if (err)
		return gears_err(-err, "guest kernel's task_struct lacks a member GEARS needs: %s",
				 gears_last_error());
	span_add(l->o_tasks, 8, &lo, &hi);
	span_add(l->o_pid, 4, &lo, &hi);
	span_add(l->o_tgid, 4, &lo, &hi);
	span_add(l->o_comm, sizeof(((struct gears_task *)0)->comm), &lo, &hi);
	span_add(l->o_parent, 8, &lo, &hi);
	span_add(l->o_cred, 8, &lo, &hi);
	span_add(l->o_flags, 4, &lo, &hi);
	span_add(l->o_mm, 8, &lo, &hi);
	span_add(l->o_exit_state, 4, &lo, &hi);
	span_add(l->o_signal, 8, &lo, &hi);
	span_add(l->o_thread_node, 8, &lo, &hi);
	span_add(l->o_state, 4, &lo, &hi);
	/* Offsets come from the guest's BTF: a spread no kernel has is refused. */
	if (hi - lo > (long)TASK_SPAN_MAX)
		return gears_err(EBADMSG, "the task_struct members GEARS reads span %ld bytes"
				 " (BTF offsets %ld..%ld): more than %u", hi - lo, lo, hi, TASK_SPAN_MAX);
	free(l->task_buf);
	l->task_buf = malloc((size_t)(hi - lo));
	if (!l->task_buf)
		return gears_err(ENOMEM, "task_struct buffer");
	l->task_lo = lo;
	l->task_len = (size_t)(hi - lo);
	l->task_ready = true;
	return 0;
}

static char state_char(unsigned state, unsigned exit_state)
{
	/* The kernel's own reduction (task_state_index): TASK_IDLE is reported as I,
	 * else the highest reportable bit picks the letter. */
	static const char letters[] = "RSDTtXZP";
	unsigned s = (state | exit_state) & 0x7f;

	if (state == 0x402)	/* TASK_UNINTERRUPTIBLE | TASK_NOLOAD */
		return 'I';
	if (!s)
		return 'R';
	return letters[32 - __builtin_clz(s)];
}

/* A field of the task copied last (its offset is inside the copy: task_offsets). */
static uint64_t task_field(const struct gears_linux *l, long off, size_t size)
{
	uint64_t v = 0;

	memcpy(&v, l->task_buf + (off - l->task_lo), size);
	return v;
}

/*
 * The task_struct at `addr`, copied once: every field, and the list links a
 * walk follows, come from that one read, so they belong together even while
 * the guest changes the task. The parent's tgid, the cred's euid and the mm's
 * pgd are one read each of their own objects.
 */
static int task_read(struct gears_linux *l, uint64_t addr, struct gears_task *t,
		     struct task_links *lk)
{
	uint64_t parent, cred;
	int32_t ptgid = 0;
	uint32_t euid = 0;
	int r;

	if ((r = task_offsets(l)))
		return r;
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	if ((r = gears_linux__read(l, addr + (uint64_t)l->task_lo, l->task_buf, l->task_len)))
		return gears_err(-r, "task_struct at 0x%" PRIx64 " is unreadable", addr);
	t->pid = (int32_t)task_field(l, l->o_pid, 4);
	t->tgid = (int32_t)task_field(l, l->o_tgid, 4);
	memcpy(t->comm, l->task_buf + (l->o_comm - l->task_lo), sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = 0;
	t->state = state_char((uint32_t)task_field(l, l->o_state, 4),
			      (uint32_t)task_field(l, l->o_exit_state, 4));
	t->kthread = task_field(l, l->o_flags, 4) & PF_KTHREAD;
	t->mm = task_field(l, l->o_mm, 8);
	parent = task_field(l, l->o_parent, 8);
	cred = task_field(l, l->o_cred, 8);
	if (lk) {
		lk->tasks_next = task_field(l, l->o_tasks, 8);
		lk->thread_next = task_field(l, l->o_thread_node, 8);
		lk->signal = task_field(l, l->o_signal, 8);
	}
	if (parent && !gears_linux__read(l, parent + (uint64_t)l->o_tgid, &ptgid, 4))
		t->ppid = ptgid;
	if (cred && !gears_linux__read(l, cred + (uint64_t)l->o_euid, &euid, 4))
		t->uid = euid;
	if (t->mm) {
		uint64_t pgd;
		struct gears_xlate x;

		if (!gears_linux__read_u64(l, t->mm + (uint64_t)l->o_pgd, &pgd) &&
		    !gears_pt__xlate(l->mem, l->cr3, l->levels, pgd, &x))
			t->pgd = x.gpa;
	}
	return 0;
}

int gears_linux__task(struct gears_linux *l, uint64_t addr, struct gears_task *t)
{
	return task_read(l, addr, t, NULL);
}

int gears_linux__current(struct gears_linux *l, int cpu, struct gears_task *t)
{
	uint64_t pa, cur;
	int r;

	/* 6.1 has a per-CPU current_task; 6.2+ moved it into pcpu_hot. */
	r = gears_linux__percpu(l, "current_task", cpu, &pa);
	if (r) {
		long o = gears_linux__offsetof(l, "pcpu_hot", "current_task");

		if (o < 0 || (r = gears_linux__percpu(l, "pcpu_hot", cpu, &pa)))
			return gears_err(ENOENT, "cannot find the current task of CPU %d", cpu);
		pa += (uint64_t)o;
	}
	if ((r = gears_linux__read_u64(l, pa, &cur)))
		return r;
	return gears_linux__task(l, cur, t);
}

static int visit_threads(struct gears_linux *l, const struct gears_task *leader, uint64_t signal,
			 int *count, int max, int (*cb)(const struct gears_task *t, void *ctx), void *ctx)
{
	struct task_links lk;
	uint64_t head, node;
	struct gears_task t;
	int r;

	/* Counted like any task: a cyclic list of such leaders must end at max too. */
	if (!signal) {
		++*count;
		return cb(leader, ctx);
	}
	head = signal + (uint64_t)l->o_thread_head;
	if ((r = gears_linux__read_u64(l, head, &node)))
		return r;
	while (node != head) {
		if (++*count > max)
			return gears_err(ELOOP, "thread list of pid %d does not end within %d tasks",
					 leader->tgid, max);
		if ((r = task_read(l, node - (uint64_t)l->o_thread_node, &t, &lk)))
			return r;
		if ((r = cb(&t, ctx)))
			return r;
		node = lk.thread_next;
	}
	return 0;
}

int gears_linux__for_each_task(struct gears_linux *l, bool threads, int max,
			       int (*cb)(const struct gears_task *t, void *ctx), void *ctx)
{
	uint64_t init_task, head, node;
	struct task_links lk;
	struct gears_task t;
	int count = 0, r;

	if ((r = task_offsets(l)) || (r = gears_linux__sym(l, "init_task", &init_task)))
		return r;
	head = init_task + (uint64_t)l->o_tasks;
	if ((r = gears_linux__read_u64(l, head, &node)))
		return r;
	while (node != head) {
		if (count >= max)
			return gears_err(ELOOP, "task list does not return to init_task within %d tasks", max);
		if ((r = task_read(l, node - (uint64_t)l->o_tasks, &t, &lk)))
			return r;
		if (threads) {
			r = visit_threads(l, &t, lk.signal, &count, max, cb, ctx);
		} else {
			count++;
			r = cb(&t, ctx);
		}
		if (r > 0)
			break;
		if (r < 0)
			return r;
		node = lk.tasks_next;
	}
	return count;
}

/*
 * The name /proc gives a task. task_struct.comm holds 15 characters; for a kernel
 * thread /proc shows its full name, kept in its struct kthread (task_struct.
 * worker_private, 5.17+) as `full_name`. A workqueue worker (PF_WQ_WORKER) is named
 * by the workqueue code instead: from its comm on kernels without
 * `format_worker_id` (6.1: a rescuer of a long-named queue shows 15 characters),
 * from the worker's own identity where that function exists (6.10+: the name it
 * was created with, i.e. its full name); either way /proc appends "+DESC" (running
 * a work item) or "-DESC" (idle) from its struct worker (kthread.data), DESC being
 * the queue it last served. Which kind of kernel this is comes from its kallsyms,
 * not its version. Each object is copied once; what it holds is guest data,
 * bounded and checked, and anything missing or unreadable leaves the part it would
 * have given out.
 */
static void read_cstr(struct gears_linux *l, uint64_t va, char *out, size_t max)
{
	if (!va || gears_vmem__read_str(l->mem, l->cr3, l->levels, va, out, max) < 0)
		out[0] = 0;
}

struct kname_offs {
	long worker_private, flags, full_name, data, desc, current_work, pool;
	size_t desc_len;
	bool worker_full_name;	/* a workqueue worker's base name is its full name */
};

static int kname_offsets(struct gears_linux *l, struct kname_offs *o)
{
	uint64_t sym;

	o->worker_private = gears_linux__offsetof(l, "task_struct", "worker_private");
	o->flags = l->o_flags;
	o->full_name = gears_linux__offsetof(l, "kthread", "full_name");
	o->data = gears_linux__offsetof(l, "kthread", "data");
	o->desc = gears_linux__offsetof(l, "worker", "desc");
	o->current_work = gears_linux__offsetof(l, "worker", "current_work");
	o->pool = gears_linux__offsetof(l, "worker", "pool");
	/* At most this much is read: the kernel keeps desc NUL-terminated within its
	 * WORKER_DESC_LEN (24 in 6.1 and 6.12), so the exact size (BTF would load the
	 * whole type table on a warm `gears ps`) is not needed. */
	o->desc_len = 32;
	o->worker_full_name = !gears_linux__sym(l, "format_worker_id", &sym);
	return o->worker_private < 0 || o->full_name < 0 ? -ENOENT : 0;
}

/* " desc" of a worker at `worker` into out (empty when it has none). */
static void worker_suffix(struct gears_linux *l, const struct kname_offs *o, uint64_t worker,
			  char *out, size_t n)
{
	long lo, hi;
	uint8_t buf[256];
	uint64_t cur, pool;
	char desc[32];

	out[0] = 0;
	if (o->desc < 0 || o->current_work < 0 || o->pool < 0 || !worker)
		return;
	lo = GEARS_MIN(o->desc, GEARS_MIN(o->current_work, o->pool));
	hi = GEARS_MAX(o->desc + (long)o->desc_len, GEARS_MAX(o->current_work, o->pool) + 8);
	if (hi - lo > (long)sizeof(buf) || gears_linux__read(l, worker + (uint64_t)lo, buf, (size_t)(hi - lo)))
		return;
	memcpy(&cur, buf + (o->current_work - lo), 8);
	memcpy(&pool, buf + (o->pool - lo), 8);
	memcpy(desc, buf + (o->desc - lo), o->desc_len);
	desc[GEARS_MIN(o->desc_len, sizeof(desc)) - 1] = 0;
	if (pool && desc[0])
		snprintf(out, n, "%c%s", cur ? '+' : '-', desc);
}

int gears_linux__task_name(struct gears_linux *l, const struct gears_task *t, char *buf, size_t n)
{
	struct kname_offs o;
	uint64_t kt = 0, full = 0, data = 0;
	uint32_t flags = 0;
	char name[PROC_NAME_MAX], suffix[PROC_NAME_MAX];
	uint8_t kb[256];
	size_t cap, a, b;
	long lo, hi;

	if (!n)
		return -EINVAL;
	snprintf(name, sizeof(name), "%s", t->comm);
	suffix[0] = 0;
	/* worker_private and flags: one read each (their own copy; t's comm and
	 * kthread came from the walk's copy of the task) */
	if (t->kthread && !task_offsets(l) && !kname_offsets(l, &o) &&
	    !gears_linux__read_u64(l, t->addr + (uint64_t)o.worker_private, &kt) && kt >= KERNEL_HALF &&
	    !gears_linux__read(l, t->addr + (uint64_t)o.flags, &flags, 4)) {
		lo = o.data < 0 ? o.full_name : GEARS_MIN(o.full_name, o.data);
		hi = (o.data < 0 ? o.full_name : GEARS_MAX(o.full_name, o.data)) + 8;
		if (hi - lo <= (long)sizeof(kb) && !gears_linux__read(l, kt + (uint64_t)lo, kb, (size_t)(hi - lo))) {
			memcpy(&full, kb + (o.full_name - lo), 8);
			if (o.data >= 0)
				memcpy(&data, kb + (o.data - lo), 8);
		}
		if (full && (!(flags & PF_WQ_WORKER) || o.worker_full_name)) {
			char fn[PROC_NAME_MAX];

			read_cstr(l, full, fn, sizeof(fn));
			if (fn[0])
				snprintf(name, sizeof(name), "%s", fn);
		}
		if (flags & PF_WQ_WORKER)
			worker_suffix(l, &o, data, suffix, sizeof(suffix));
	}
	/* Like proc_task_name(): the whole at most 63 characters. */
	cap = GEARS_MIN(n, (size_t)PROC_NAME_MAX) - 1;
	a = strnlen(name, cap);
	memcpy(buf, name, a);
	b = strnlen(suffix, cap - a);
	memcpy(buf + a, suffix, b);
	buf[a + b] = 0;
	return 0;
}

/* ---- syscall signatures (ftrace metadata) ---- */

#define SIG_MAX_NR 1024

static int load_sigs(struct gears_linux *l)
{
	uint64_t start, stop;
	long o_name, o_nr, o_nb, o_types, o_args;
	size_t n;

	if (l->sigs)
		return 0;
	if (gears_linux__sym(l, "__start_syscalls_metadata", &start) ||
	    gears_linux__sym(l, "__stop_syscalls_metadata", &stop))
		return gears_err(ENOENT, "guest kernel has no syscall metadata (CONFIG_FTRACE_SYSCALLS)");
	o_name = gears_linux__offsetof(l, "syscall_metadata", "name");
	o_nr = gears_linux__offsetof(l, "syscall_metadata", "syscall_nr");
	o_nb = gears_linux__offsetof(l, "syscall_metadata", "nb_args");
	o_types = gears_linux__offsetof(l, "syscall_metadata", "types");
	o_args = gears_linux__offsetof(l, "syscall_metadata", "args");
	if (o_name < 0 || o_nr < 0 || o_nb < 0 || o_types < 0 || o_args < 0)
		return gears_err(ENOENT, "guest kernel BTF lacks struct syscall_metadata");
	if (stop < start || (stop - start) / 8 > 4096)
		return gears_err(EBADMSG, "implausible syscall metadata table");
	n = (stop - start) / 8;
	l->sigs = calloc(SIG_MAX_NR, sizeof(*l->sigs));
	if (!l->sigs)
		return -ENOMEM;
	l->nsigs = SIG_MAX_NR;
	for (size_t i = 0; i < n; i++) {
		uint64_t meta, name, types = 0, args = 0;
		int32_t nr = -1, nb = 0;
		struct gears_syscall_sig s = { 0 };
		char full[32];

		if (gears_linux__read_u64(l, start + 8 * i, &meta) || !meta ||
		    gears_linux__read_u64(l, meta + (uint64_t)o_name, &name) ||
		    gears_linux__read(l, meta + (uint64_t)o_nr, &nr, 4) ||
		    gears_linux__read(l, meta + (uint64_t)o_nb, &nb, 4))
			continue;
		/* Guest data: numbers and counts are checked, strings bounded. */
		if (nr < 0 || nr >= SIG_MAX_NR || nb < 0 || nb > 6)
			continue;
		read_cstr(l, name, full, sizeof(full));
		memcpy(s.name, strncmp(full, "sys_", 4) ? full : full + 4, sizeof(s.name) - 4);
		s.name[sizeof(s.name) - 1] = 0;
		s.nargs = nb;
		gears_linux__read_u64(l, meta + (uint64_t)o_types, &types);
		gears_linux__read_u64(l, meta + (uint64_t)o_args, &args);
		for (int a = 0; a < nb; a++) {
			uint64_t p = 0;

			if (types && !gears_linux__read_u64(l, types + 8ull * (unsigned)a, &p))
				read_cstr(l, p, s.types[a], sizeof(s.types[a]));
			p = 0;
			if (args && !gears_linux__read_u64(l, args + 8ull * (unsigned)a, &p))
				read_cstr(l, p, s.args[a], sizeof(s.args[a]));
		}
		if (s.name[0])
			l->sigs[nr] = s;
	}
	return 0;
}

int gears_linux__syscall_sig(struct gears_linux *l, int nr, struct gears_syscall_sig *sig)
{
	int r = load_sigs(l);

	if (r)
		return r;
	if (nr < 0 || nr >= l->nsigs || !l->sigs[nr].name[0])
		return -ENOENT;
	*sig = l->sigs[nr];
	return 0;
}

/* ---- signals ---- */

#define SIG_RLIMIT_CORE 4	/* <asm/resource.h>: index into signal_struct.rlim */
#define SIGQ_COPY_MAX 512	/* a struct sigqueue copied whole (6.1: 80 bytes) */

static int sig_offsets(struct gears_linux *l)
{
	const struct gears_kbtf *b;
	int err = 0;

	if (l->sig_ready)
		return l->sig_ready > 0 ? 0 : l->sig_ready;
	l->s_pending = need_off(l, "task_struct", "pending", &err);
	l->s_blocked = need_off(l, "task_struct", "blocked", &err);
	l->s_signal = need_off(l, "task_struct", "signal", &err);
	l->s_sighand = need_off(l, "task_struct", "sighand", &err);
	l->s_ptrace = need_off(l, "task_struct", "ptrace", &err);
	l->s_sp_list = need_off(l, "sigpending", "list", &err);
	l->s_sp_signal = need_off(l, "sigpending", "signal", &err);
	l->s_shared = need_off(l, "signal_struct", "shared_pending", &err);
	l->s_gec = need_off(l, "signal_struct", "group_exit_code", &err);
	l->s_rlim = need_off(l, "signal_struct", "rlim", &err);
	l->s_action = need_off(l, "sighand_struct", "action", &err);
	l->s_handler = need_off(l, "k_sigaction", "sa.sa_handler", &err);
	l->s_saflags = need_off(l, "k_sigaction", "sa.sa_flags", &err);
	l->s_samask = need_off(l, "k_sigaction", "sa.sa_mask", &err);
	l->s_q_list = need_off(l, "sigqueue", "list", &err);
	l->s_q_info = need_off(l, "sigqueue", "info", &err);
	l->s_rlim_cur = need_off(l, "rlimit", "rlim_cur", &err);
	if (!err && !(b = gears_linux__btf(l)))
		err = -ENOENT;
	if (!err) {
		l->s_ka_size = gears_kbtf__sizeof(b, "k_sigaction");
		l->s_info_size = gears_kbtf__member_size(b, "sigqueue", "info");
		l->s_rlim_size = gears_kbtf__sizeof(b, "rlimit");
		/* Sizes no x86-64 kernel has are refused: they bound the copies below. */
		if (l->s_ka_size < l->s_samask + 8 || l->s_ka_size > 64 || l->s_info_size < 12 ||
		    l->s_info_size > GEARS_SIGINFO_SIZE || l->s_q_list + 16 > SIGQ_COPY_MAX ||
		    l->s_q_info + l->s_info_size > SIGQ_COPY_MAX || l->s_rlim_size < l->s_rlim_cur + 8 ||
		    l->s_rlim_size > 64 || l->s_handler + 8 > l->s_ka_size || l->s_saflags + 8 > l->s_ka_size)
			err = -EBADMSG;
	}
	l->sig_ready = err ? err : 1;
	if (err)
		return gears_err(-err, "the guest kernel's BTF does not describe its signal structures");
	return 0;
}

/* The queue of the sigpending at `sp` (its list head and set, copied by the caller). */
static void sig_queue(struct gears_linux *l, uint64_t sp, uint64_t first, struct gears_sigq *q, int *n,
		      unsigned *bad)
{
	uint64_t head = sp + (uint64_t)l->s_sp_list, node = first;
	size_t len = (size_t)GEARS_MAX(l->s_q_list + 16, l->s_q_info + l->s_info_size);
	uint8_t buf[SIGQ_COPY_MAX];
	int k = 0;

	*n = 0;
	for (; node != head; k++) {
		uint64_t ent = node - (uint64_t)l->s_q_list;
		int32_t signo;

		if (k >= GEARS_SIGQ_MAX || node < KERNEL_HALF ||
		    gears_linux__read(l, ent, buf, len)) {
			++*bad;
			return;
		}
		memcpy(&node, buf + l->s_q_list, 8);	/* list.next, from the copy */
		memcpy(&signo, buf + l->s_q_info, 4);	/* si_signo: the first member of the siginfo */
		if (signo < 1 || signo > 64) {
			++*bad;
			return;
		}
		q[*n].sig = signo;
		memset(q[*n].info, 0, sizeof(q[*n].info));
		memcpy(q[*n].info, buf + l->s_q_info, (size_t)l->s_info_size);
		++*n;
	}
}

int gears_linux__task_signals(struct gears_linux *l, uint64_t task, struct gears_task_signals *s)
{
	uint8_t sp[16], ssp[16], ka[64 * 64], rl[64];
	uint64_t signal = 0, sighand = 0, first, sfirst;
	uint32_t ptrace = 0;
	int32_t gec = 0;
	int r;

	memset(s, 0, offsetof(struct gears_task_signals, q));
	s->have_actions = false;
	s->ptrace = 0;
	s->group_exit_code = 0;
	s->core_limit = 0;
	s->bad = 0;
	if ((r = sig_offsets(l)))
		return r;
	if (task < KERNEL_HALF)
		return gears_err(EFAULT, "not a task address: 0x%" PRIx64, task);
	/* Each read below is one object (or one member of one), copied once. */
	if (gears_linux__read(l, task + (uint64_t)(l->s_pending + l->s_sp_list), sp, 16) ||
	    gears_linux__read(l, task + (uint64_t)(l->s_pending + l->s_sp_signal), &s->pending, 8) ||
	    gears_linux__read(l, task + (uint64_t)l->s_blocked, &s->blocked, 8) ||
	    gears_linux__read_u64(l, task + (uint64_t)l->s_signal, &signal) ||
	    gears_linux__read_u64(l, task + (uint64_t)l->s_sighand, &sighand) ||
	    gears_linux__read(l, task + (uint64_t)l->s_ptrace, &ptrace, 4))
		return gears_err(EFAULT, "task_struct at 0x%" PRIx64 " is unreadable", task);
	s->ptrace = ptrace;
	memcpy(&first, sp, 8);
	if (s->pending)
		sig_queue(l, task + (uint64_t)l->s_pending, first, s->q, &s->npending, &s->bad);
	if (signal >= KERNEL_HALF &&
	    !gears_linux__read(l, signal + (uint64_t)(l->s_shared + l->s_sp_list), ssp, 16) &&
	    !gears_linux__read(l, signal + (uint64_t)(l->s_shared + l->s_sp_signal), &s->shared, 8)) {
		memcpy(&sfirst, ssp, 8);
		if (s->shared)
			sig_queue(l, signal + (uint64_t)l->s_shared, sfirst, s->sq, &s->nshared, &s->bad);
		if (!gears_linux__read(l, signal + (uint64_t)l->s_gec, &gec, 4))
			s->group_exit_code = gec;
		if (!gears_linux__read(l, signal + (uint64_t)l->s_rlim + SIG_RLIMIT_CORE * (uint64_t)l->s_rlim_size,
				       rl, (size_t)l->s_rlim_size))
			memcpy(&s->core_limit, rl + l->s_rlim_cur, 8);
	} else {
		s->bad++;
	}
	/* The handlers matter only when something is about to be delivered. */
	if (!((s->pending | s->shared) & ~s->blocked) || sighand < KERNEL_HALF)
		return 0;
	if (gears_linux__read(l, sighand + (uint64_t)l->s_action, ka, 64 * (size_t)l->s_ka_size)) {
		s->bad++;
		return 0;
	}
	for (int i = 0; i < 64; i++) {
		const uint8_t *a = ka + (size_t)i * (size_t)l->s_ka_size;

		memcpy(&s->act[i].handler, a + l->s_handler, 8);
		memcpy(&s->act[i].flags, a + l->s_saflags, 8);
		memcpy(&s->act[i].mask, a + l->s_samask, 8);
	}
	s->have_actions = true;
	return 0;
}
