/* SPDX-License-Identifier: MIT */
/*
 * The guest's Linux kernel, seen from outside: KASLR offset, release, symbols
 * (kallsyms read from guest memory), struct layouts (the kernel's own BTF), the
 * current task of each vCPU and the task list. Nothing here needs the guest's
 * cooperation or any file from the guest's distribution.
 *
 * Opening a kernel costs a scan of guest RAM for kallsyms plus a BTF parse
 * (tens of ms). Symbols and offsets that were resolved are kept in a small
 * cache file (per VM) so later opens cost about a millisecond; the cache is
 * checked against the kernel's banner in guest memory before it is trusted.
 */
#ifndef GEARS_LINUX_H
#define GEARS_LINUX_H

#include <gears/kbtf.h>
#include <gears/ksyms.h>
#include <gears/mem.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_linux;

struct gears_linux_opts {
	size_t sz;
	uint64_t cr3;		/* any vCPU's CR3 (kernel half is shared) */
	uint64_t cr4;		/* for LA57 (5-level paging) */
	uint64_t hint_va;	/* a kernel address (e.g. a vCPU's RIP) to start the kallsyms
				 * scan near; 0: scan all RAM */
	const char *cache_path;	/* NULL: no cache */
};
#define gears_linux_opts__last_field cache_path

/* NULL + errno: ENOENT (no kallsyms found: not Linux, or not x86-64),
 * EBADMSG (tables found but inconsistent), EFAULT (page tables unusable). */
GEARS_API struct gears_linux *gears_linux__open(struct gears_mem *m, const struct gears_linux_opts *o);
GEARS_API void gears_linux__close(struct gears_linux *l);

GEARS_API const char *gears_linux__release(const struct gears_linux *l);	/* uname -r */
GEARS_API const char *gears_linux__version(const struct gears_linux *l);	/* uname -v */
GEARS_API uint64_t gears_linux__kaslr(const struct gears_linux *l);		/* _text - 0xffffffff81000000 */
GEARS_API int gears_linux__levels(const struct gears_linux *l);		/* 4 or 5 */
GEARS_API size_t gears_linux__nsyms(struct gears_linux *l);
GEARS_API int gears_linux__nr_cpus(struct gears_linux *l);			/* nr_cpu_ids */
GEARS_API uint64_t gears_linux__cr3(const struct gears_linux *l);

/* Address of kernel symbol `name` (0 / -ENOENT). */
GEARS_API int gears_linux__sym(struct gears_linux *l, const char *name, uint64_t *addr);
/* offsetof(type, member) from the kernel's BTF (dotted paths allowed). */
GEARS_API long gears_linux__offsetof(struct gears_linux *l, const char *type, const char *member);
/* The full symbol table / BTF (loaded on first use). */
GEARS_API const struct gears_ksyms *gears_linux__ksyms(struct gears_linux *l);
GEARS_API const struct gears_kbtf *gears_linux__btf(struct gears_linux *l);

/* Kernel-virtual memory (through the kernel half of the page tables). */
GEARS_API int gears_linux__read(struct gears_linux *l, uint64_t va, void *buf, size_t len);
GEARS_API int gears_linux__read_u64(struct gears_linux *l, uint64_t va, uint64_t *v);
/* Address of per-CPU variable `sym` on CPU `cpu`. */
GEARS_API int gears_linux__percpu(struct gears_linux *l, const char *sym, int cpu, uint64_t *addr);

struct gears_task {
	uint64_t addr;		/* struct task_struct * */
	int pid;		/* thread id */
	int tgid;		/* process id */
	int ppid;		/* real parent's tgid */
	unsigned uid;		/* effective uid */
	char state;		/* R S D T t X Z P I, as ps shows */
	bool kthread;
	char comm[16];
	uint64_t mm;		/* struct mm_struct * (0 for kernel threads) */
	uint64_t pgd;		/* mm->pgd as a guest-physical CR3 value (0 if no mm) */
};

/* The name /proc shows for task t (at most 63 characters + NUL in buf): a kernel
 * thread's full name (comm keeps 15 characters), a workqueue worker's with "+QUEUE"
 * or "-QUEUE" as /proc appends it; comm for any other task. 0, -EINVAL (n == 0). */
GEARS_API int gears_linux__task_name(struct gears_linux *l, const struct gears_task *t, char *buf, size_t n);
/* Fill *t from the task_struct at `addr`. */
GEARS_API int gears_linux__task(struct gears_linux *l, uint64_t addr, struct gears_task *t);
/* The task running on vCPU `cpu`. */
GEARS_API int gears_linux__current(struct gears_linux *l, int cpu, struct gears_task *t);
/* Walk the process list from init_task (pid 0 excluded); with `threads`, every
 * thread of each process too. Calls cb until it returns non-zero. At most
 * `max` tasks are visited (the list is guest data: a cycle must not hang us);
 * returns the number visited, or a negative errno (-ELOOP when the list does not
 * come back to init_task within max). */
GEARS_API int gears_linux__for_each_task(struct gears_linux *l, bool threads, int max,
					 int (*cb)(const struct gears_task *t, void *ctx), void *ctx);

/*
 * The signals of a task as its next return to user space will find them:
 * what is pending (the task's own and its process's shared queue, each entry
 * with the kernel_siginfo it carries), what is blocked, the process's handlers
 * and what decides a fatal delivery. Offsets come from the kernel's BTF; each
 * object is copied once and parsed from the copy; a queue is followed for at
 * most GEARS_SIGQ_MAX entries, and a list that does not come back to its head
 * (or an entry that is unreadable or names no signal) ends the walk and is
 * counted in `bad`.
 */
#define GEARS_SIGQ_MAX 64
#define GEARS_SIGINFO_SIZE 128	/* siginfo_t; the kernel's kernel_siginfo is its first 48 bytes */
struct gears_sigq {
	int sig;
	unsigned char info[GEARS_SIGINFO_SIZE];	/* as siginfo_t (zero past what the kernel keeps) */
};
struct gears_sigact {
	uint64_t handler;	/* SIG_DFL 0, SIG_IGN 1, else the handler's address */
	uint64_t flags;		/* SA_* */
	uint64_t mask;
};
struct gears_task_signals {
	uint64_t blocked;
	uint64_t pending;	/* task->pending.signal (bit s - 1 = signal s) */
	uint64_t shared;	/* task->signal->shared_pending.signal */
	int npending, nshared;	/* entries in the queues below */
	struct gears_sigq q[GEARS_SIGQ_MAX];	/* the task's queue, in order */
	struct gears_sigq sq[GEARS_SIGQ_MAX];	/* the shared queue, in order */
	bool have_actions;	/* act[] read (only when something can be delivered) */
	struct gears_sigact act[64];	/* act[s - 1]: signal s */
	unsigned ptrace;	/* task->ptrace (non-zero: a tracer will see each delivery) */
	int group_exit_code;	/* signal->group_exit_code: set once the process is dying */
	uint64_t core_limit;	/* RLIMIT_CORE's soft limit */
	unsigned bad;		/* queues not followed to their end */
};
/* Fill *s for the task_struct at `task` (0, or a negative errno: -ENOENT when
 * the BTF lacks a member, -EFAULT when the task is unreadable). */
GEARS_API int gears_linux__task_signals(struct gears_linux *l, uint64_t task, struct gears_task_signals *s);

/*
 * A system call's signature as the guest kernel itself records it (the ftrace
 * syscall metadata, CONFIG_FTRACE_SYSCALLS): name, argument count, C types and
 * argument names, e.g. openat(int dfd, const char __user * filename, int flags,
 * umode_t mode). x86-64 numbering.
 */
struct gears_syscall_sig {
	char name[32];		/* without "sys_" */
	int nargs;
	char types[6][40];
	char args[6][24];
};
/* 0, -ENOENT (no such number, or the kernel has no metadata). The table is read
 * from guest memory on first use. */
GEARS_API int gears_linux__syscall_sig(struct gears_linux *l, int nr, struct gears_syscall_sig *sig);

#ifdef __cplusplus
}
#endif
#endif
