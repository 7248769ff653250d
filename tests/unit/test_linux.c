// SPDX-License-Identifier: MIT
/*
 * Task walks and task reads (lib/linux.c) on a synthetic kernel: guest RAM
 * with kernel page tables, a banner, and task_structs linked from init_task.
 * The symbols and struct offsets such a kernel would have in kallsyms and BTF
 * come from the per-VM cache file instead (the format gears writes itself,
 * trusted because the banner it names is in guest memory), so no kallsyms or
 * BTF needs building here.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include <gears/gears.h>
#include <gears/linux.h>

#include "internal.h"
#include "guest_ram.h"
#include "testlib.h"

/* The kernel's text mapping: one 1 GiB page, kernel va KV(x) is gpa x. */
#define KBASE		0xffffffff80000000ull
#define KV(x)		(KBASE + (x))
#define BANNER_GPA	0x10000
#define TASKS_GPA	0x100000	/* init_task, then one task per 0x2000 */
#define TASK_SIZE	0x2000
#define CREDS_GPA	0x300000
#define SIGNALS_GPA	0x340000
#define MM_GPA		0x380000

/* Offsets of the fake task_struct and friends (what BTF would say). */
#define O_FLAGS		0x010
#define O_STATE		0x018
#define O_EXIT_STATE	0x020
#define O_TASKS		0x100
#define O_PID		0x200
#define O_TGID		0x204
#define O_COMM		0x300
#define O_PARENT	0x400
#define O_CRED		0x408
#define O_MM		0x500
#define O_SIGNAL	0x600
#define O_THREAD_NODE	0x610
#define O_THREAD_HEAD	0x010	/* signal_struct */
#define O_EUID		0x014	/* cred */
#define O_PGD		0x050	/* mm_struct */

static const char banner[] = "Linux version 6.1.0-fake (gears@test) #1 SMP";

struct kernel {
	struct guest g;
	int cache_fd;
	char cache[64];
	struct gears_linux *l;
};

static uint64_t task_gpa(int i)
{
	return TASKS_GPA + (uint64_t)i * TASK_SIZE;
}

static void put32(struct guest *g, uint64_t gpa, uint32_t v)
{
	memcpy(g->ram + gpa, &v, 4);
}

/* Task #i (0 = init_task): pid, tgid, comm, parent #, euid; linked by the caller. */
static void plant_task(struct guest *g, int i, int pid, int tgid, const char *comm, int parent,
		       unsigned euid)
{
	uint64_t t = task_gpa(i), cred = CREDS_GPA + (uint64_t)i * 0x100;

	put32(g, t + O_PID, (uint32_t)pid);
	put32(g, t + O_TGID, (uint32_t)tgid);
	memset(g->ram + t + O_COMM, 0, 16);
	memcpy(g->ram + t + O_COMM, comm, strlen(comm));
	put64(g, t + O_PARENT, KV(task_gpa(parent)));
	put64(g, t + O_CRED, KV(cred));
	put32(g, cred + O_EUID, euid);
	put32(g, t + O_STATE, 1);	/* TASK_INTERRUPTIBLE: S */
}

/* Link tasks order[0..n) into init_task's process list, in that order. */
static void link_tasks(struct guest *g, const int *order, int n)
{
	uint64_t prev = task_gpa(0);

	for (int k = 0; k < n; k++) {
		put64(g, prev + O_TASKS, KV(task_gpa(order[k]) + O_TASKS));
		prev = task_gpa(order[k]);
	}
	put64(g, prev + O_TASKS, KV(task_gpa(0) + O_TASKS));
}

static void write_cache(struct kernel *k)
{
	json_t *offs = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
				 " s:I, s:I, s:I}",
				 "task_struct.tasks", (json_int_t)O_TASKS,
				 "task_struct.pid", (json_int_t)O_PID,
				 "task_struct.tgid", (json_int_t)O_TGID,
				 "task_struct.comm", (json_int_t)O_COMM,
				 "task_struct.real_parent", (json_int_t)O_PARENT,
				 "task_struct.cred", (json_int_t)O_CRED,
				 "task_struct.flags", (json_int_t)O_FLAGS,
				 "task_struct.mm", (json_int_t)O_MM,
				 "task_struct.exit_state", (json_int_t)O_EXIT_STATE,
				 "task_struct.signal", (json_int_t)O_SIGNAL,
				 "task_struct.thread_node", (json_int_t)O_THREAD_NODE,
				 "task_struct.__state", (json_int_t)O_STATE,
				 "signal_struct.thread_head", (json_int_t)O_THREAD_HEAD,
				 "cred.euid", (json_int_t)O_EUID,
				 "mm_struct.pgd", (json_int_t)O_PGD);
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:{s:I}, s:o}",
			      "banner", banner, "banner_addr", (json_int_t)KV(BANNER_GPA),
			      "text", (json_int_t)0xffffffff81000000ull, "nsyms", (json_int_t)1,
			      "release", "6.1.0-fake", "version", "#1 SMP",
			      "syms", "init_task", (json_int_t)KV(task_gpa(0)), "offs", offs);

	CHECK(j && !json_dumpfd(j, k->cache_fd, JSON_COMPACT));
	json_decref(j);
}

/*
 * init_task plus five processes: 1 init, 2 kthreadd (a kernel thread), 3 sh
 * with a second thread 33 (signal->thread_head lists both), 4 cat, 5 sleep.
 */
static bool kernel_open(struct kernel *k)
{
	static const int order[] = { 1, 2, 3, 4, 5 };
	struct guest *g = &k->g;
	uint64_t sig = SIGNALS_GPA + 0x100;

	memset(k, 0, sizeof(*k));
	guest_init(g, 4);
	map(g, KBASE, 0, 3, P | RW);
	memcpy(g->ram + BANNER_GPA, banner, sizeof(banner));
	plant_task(g, 0, 0, 0, "swapper/0", 0, 0);
	plant_task(g, 1, 1, 1, "init", 0, 0);
	plant_task(g, 2, 2, 2, "kthreadd", 0, 0);
	put32(g, task_gpa(2) + O_FLAGS, 0x00200000);	/* PF_KTHREAD */
	plant_task(g, 3, 3, 3, "sh", 1, 1000);
	plant_task(g, 6, 33, 3, "sh", 1, 1000);		/* a thread, not on the process list */
	plant_task(g, 4, 4, 4, "cat", 3, 1000);
	plant_task(g, 5, 5, 5, "sleep", 3, 0);
	put32(g, task_gpa(5) + O_EXIT_STATE, 0x20);	/* EXIT_ZOMBIE */
	link_tasks(g, order, 5);
	/* sh's threads: head -> 3 -> 33 -> head */
	put64(g, task_gpa(3) + O_SIGNAL, KV(sig));
	put64(g, sig + O_THREAD_HEAD, KV(task_gpa(3) + O_THREAD_NODE));
	put64(g, task_gpa(3) + O_THREAD_NODE, KV(task_gpa(6) + O_THREAD_NODE));
	put64(g, task_gpa(6) + O_THREAD_NODE, KV(sig + O_THREAD_HEAD));
	/* cat has an mm whose pgd is this guest's own PML4 */
	put64(g, task_gpa(4) + O_MM, KV(MM_GPA));
	put64(g, MM_GPA + O_PGD, KV(g->cr3));

	k->cache_fd = memfd_create("gears-test-kernel", MFD_CLOEXEC);
	CHECK(k->cache_fd >= 0);
	if (k->cache_fd < 0)
		return false;
	snprintf(k->cache, sizeof(k->cache), "/proc/self/fd/%d", k->cache_fd);
	write_cache(k);
	{
		GEARS_OPTS(gears_linux_opts, o, .cr3 = g->cr3, .cache_path = k->cache);
		k->l = gears_linux__open(g->m, &o);
	}
	if (!k->l)
		fprintf(stderr, "  open: %s\n", gears_last_error());
	CHECK(k->l);
	return k->l;
}

static void kernel_close(struct kernel *k)
{
	gears_linux__close(k->l);
	if (k->cache_fd >= 0)
		close(k->cache_fd);
	guest_fini(&k->g);
}

struct seen {
	int n;
	struct gears_task t[16];
};

static int collect(const struct gears_task *t, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 16)
		s->t[s->n] = *t;
	s->n++;
	return 0;
}

struct want {
	int pid, tgid, ppid;
	unsigned uid;
	const char *comm;
	char state;
	bool kthread;
};

static void check_task(const struct gears_task *t, const struct want *w)
{
	CHECK_EQ(t->pid, w->pid);
	CHECK_EQ(t->tgid, w->tgid);
	CHECK_EQ(t->ppid, w->ppid);
	CHECK_EQ(t->uid, w->uid);
	CHECK_STR(t->comm, w->comm);
	CHECK_EQ(t->state, w->state);
	CHECK_EQ(t->kthread, w->kthread);
}

TEST(task_list_as_planted)
{
	static const struct want procs[] = {
		{ 1, 1, 0, 0, "init", 'S', false }, { 2, 2, 0, 0, "kthreadd", 'S', true },
		{ 3, 3, 1, 1000, "sh", 'S', false }, { 4, 4, 3, 1000, "cat", 'S', false },
		{ 5, 5, 3, 0, "sleep", 'Z', false },
	};
	static const struct want threads[] = {
		{ 1, 1, 0, 0, "init", 'S', false }, { 2, 2, 0, 0, "kthreadd", 'S', true },
		{ 3, 3, 1, 1000, "sh", 'S', false }, { 33, 3, 1, 1000, "sh", 'S', false },
		{ 4, 4, 3, 1000, "cat", 'S', false }, { 5, 5, 3, 0, "sleep", 'Z', false },
	};
	struct kernel k;
	struct seen s = { 0 };

	if (!kernel_open(&k))
		goto out;
	CHECK_STR(gears_linux__release(k.l), "6.1.0-fake");
	CHECK_EQ(gears_linux__for_each_task(k.l, false, 100, collect, &s), 5);
	CHECK_EQ(s.n, 5);
	for (int i = 0; i < 5 && i < s.n; i++)
		check_task(&s.t[i], &procs[i]);
	CHECK_EQ(s.t[3].mm, KV(MM_GPA));
	CHECK_EQ(s.t[3].pgd, k.g.cr3);
	CHECK_EQ(s.t[0].pgd, 0);
	memset(&s, 0, sizeof(s));
	CHECK_EQ(gears_linux__for_each_task(k.l, true, 100, collect, &s), 6);
	CHECK_EQ(s.n, 6);
	for (int i = 0; i < 6 && i < s.n; i++)
		check_task(&s.t[i], &threads[i]);
out:
	kernel_close(&k);
}

TEST(hostile_lists_are_bounded)
{
	static const int cycle[] = { 1, 2, 3, 4, 5, 2 };	/* 5 -> 2: never back to init_task */
	struct kernel k;
	struct seen s = { 0 };

	if (!kernel_open(&k))
		goto out;
	link_tasks(&k.g, cycle, 5);
	put64(&k.g, task_gpa(5) + O_TASKS, KV(task_gpa(2) + O_TASKS));
	CHECK_EQ(gears_linux__for_each_task(k.l, false, 50, collect, &s), -ELOOP);
	CHECK_EQ(s.n, 50);
	/* the same with threads, over tasks that have no signal_struct (4 <-> 5):
	 * before the fix such leaders were not counted and this never ended */
	put64(&k.g, task_gpa(5) + O_TASKS, KV(task_gpa(4) + O_TASKS));
	memset(&s, 0, sizeof(s));
	CHECK_EQ(gears_linux__for_each_task(k.l, true, 50, collect, &s), -ELOOP);
	CHECK_EQ(s.n, 50);
	/* a thread list that loops on itself */
	link_tasks(&k.g, cycle, 5);
	put64(&k.g, task_gpa(6) + O_THREAD_NODE, KV(task_gpa(6) + O_THREAD_NODE));
	memset(&s, 0, sizeof(s));
	CHECK_EQ(gears_linux__for_each_task(k.l, true, 50, collect, &s), -ELOOP);
	CHECK(s.n <= 50);
	/* a link into nowhere: an error naming the task, not a crash */
	put64(&k.g, task_gpa(6) + O_THREAD_NODE, 0xffffffff7ffff000ull);
	CHECK_EQ(gears_linux__for_each_task(k.l, true, 50, collect, &s), -ENOENT);
	CHECK(strstr(gears_last_error(), "task_struct at"));
	put64(&k.g, task_gpa(6) + O_THREAD_NODE, KV(0x7ff000));
	CHECK_EQ(gears_linux__for_each_task(k.l, true, 50, collect, &s), -EFAULT);
out:
	kernel_close(&k);
}

/*
 * A task_struct the guest rewrites while the host reads it: task #3 becomes
 * another process (pid 77 "other", uid 0, parent init) at the first or the
 * second access to it. The process list it is on stays the same. Before the
 * fix each field was a read of its own, and a change between two of them gave
 * a task that never existed (pid 3 with tgid 77 and comm "other"); now a task
 * is one copy: all of the old one or all of the new one.
 */
struct rewrite {
	struct guest *g;
	int at, accesses;
};

static void rewrite_hook(void *ctx, uint64_t gpa, uint64_t len)
{
	struct rewrite *r = ctx;
	uint64_t t = task_gpa(3);

	if (gpa >= t + TASK_SIZE || gpa + len <= t)
		return;
	if (++r->accesses == r->at)
		plant_task(r->g, 3, 77, 77, "other", 1, 0);
}

TEST(task_rewritten_while_read)
{
	static const struct want before = { 3, 3, 1, 1000, "sh", 'S', false };
	static const struct want after = { 77, 77, 1, 0, "other", 'S', false };

	for (int at = 1; at <= 2; at++) {
		struct kernel k;
		struct seen s = { 0 };
		struct rewrite r = { .g = &k.g, .at = at };

		if (!kernel_open(&k)) {
			kernel_close(&k);
			continue;
		}
		gears_mem_set_hook(k.g.m, rewrite_hook, &r);
		CHECK_EQ(gears_linux__for_each_task(k.l, false, 100, collect, &s), 5);
		gears_mem_set_hook(k.g.m, NULL, NULL);
		CHECK(r.accesses >= 1);
		if (s.n == 5) {
			const struct want *w = s.t[2].pid == 77 ? &after : &before;

			check_task(&s.t[2], w);
			CHECK_EQ(s.t[3].pid, 4);	/* the list went on past it */
		}
		kernel_close(&k);
	}
}

/* BTF offsets no kernel has: one task read would span too much. */
TEST(implausible_offsets_refused)
{
	struct kernel k;
	struct seen s = { 0 };
	json_t *j;

	if (!kernel_open(&k))
		goto out;
	gears_linux__close(k.l);
	k.l = NULL;
	j = json_load_file(k.cache, 0, NULL);
	CHECK(j);
	if (!j)
		goto out;
	json_object_set_new(json_object_get(j, "offs"), "task_struct.comm", json_integer(0x200000));
	CHECK_EQ(ftruncate(k.cache_fd, 0), 0);
	CHECK_EQ(lseek(k.cache_fd, 0, SEEK_SET), 0);
	CHECK(!json_dumpfd(j, k.cache_fd, JSON_COMPACT));
	json_decref(j);
	{
		GEARS_OPTS(gears_linux_opts, o, .cr3 = k.g.cr3, .cache_path = k.cache);
		k.l = gears_linux__open(k.g.m, &o);
	}
	CHECK(k.l);
	if (k.l) {
		CHECK_EQ(gears_linux__for_each_task(k.l, false, 100, collect, &s), -EBADMSG);
		CHECK(strstr(gears_last_error(), "span"));
		CHECK_EQ(s.n, 0);
	}
out:
	kernel_close(&k);
}
