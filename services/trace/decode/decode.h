/* SPDX-License-Identifier: MIT */
/*
 * Decoding system calls the way strace prints them, shared by the trace
 * service (which captures the memory a call reads or writes, while it is
 * valid) and `gears trace` (which prints). Each family of calls has its file
 * here; the names of flags and constants come from tables generated from the
 * kernel's UAPI headers (scripts/gen-xlat.sh -> build/gen/xlat_gen.h).
 *
 * Captured memory travels in trace records as blobs (trace_proto.h): a tag
 * byte DEC_BLOB | DEC_AT_EXIT? | slot, a 16-bit length, the bytes. Slot i < 6
 * is what argument i points to; higher slots hold what that points to in turn
 * (iovec buffers, DEC_SLOT_IOV + k).
 */
#ifndef GEARS_TRACE_DECODE_H
#define GEARS_TRACE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../trace_proto.h"

#define DEC_BLOB	0x80u
#define DEC_AT_EXIT	0x40u
#define DEC_SLOT_ENV	6	/* execve: the environment's size (uint32_t count) */
#define DEC_SLOT_IOV	8	/* iovec element k's data: DEC_SLOT_IOV + k */
#define DEC_IOV_MAX	32	/* elements shown */
#define DEC_BLOB_MAX	4096	/* largest blob a capture makes */

/* How to print (strace's options). */
struct dec_opts {
	unsigned strsize;	/* -s: string and buffer bytes shown (default 32) */
	bool verbose;		/* -v: whole structures, environments */
	int xstyle;		/* 0; 1 (-x): non-printables in hex; 2 (-xx): everything in hex */
	/* -y: an fd's path, or NULL (ctx: the caller's) */
	const char *(*fd_path)(void *ctx, int pid, int fd);
	void *fd_ctx;
};
void dec_opts_init(struct dec_opts *o);
struct gears_linux;
/* Optional: argument counts from the guest kernel's syscall metadata, for
 * calls the table does not know. */
void dec_set_kernel(struct gears_linux *l);

/* "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC)" into buf. `e` is
 * the entry record (NULL: only the return was seen), `x` the return's (NULL:
 * not returned yet, or never). */
void dec_call(char *buf, size_t size, const struct trace_rec *e, const struct trace_rec *x,
	      const struct dec_opts *o);
/* "3", "0x7f12a000", "-1 ENOENT (No such file or directory)", "?" for NULL. */
void dec_ret(char *buf, size_t size, const struct trace_rec *x, const struct dec_opts *o);

/* For an rt_sigreturn entry whose frame was captured: strace's line for the
 * signal delivery its handler ends ("--- SIGCHLD {...} ---"); false if none.
 * Only for handlers known to be SA_SIGINFO ones: other frames hold no siginfo. */
bool dec_signal_line(char *buf, size_t size, const struct trace_rec *e, const struct dec_opts *o);
/* "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=1, si_uid=0} ---" for a
 * siginfo_t (len bytes of it; the rest taken as zero); false if it names no signal. */
bool dec_siginfo_line(char *buf, size_t size, const void *info, size_t len);

/*
 * The deliveries the next return to user space makes, as the kernel's
 * get_signal() takes them from a task's state (gears_linux__task_signals):
 * in dequeue order, each handled one blocking its sa_mask for the next, an
 * ignored one skipped, up to the one that kills or stops the process. `s` is
 * changed (SA_RESETHAND). Each `info` points into `s` (or a thread-local
 * buffer, for a signal without a queued entry). Returns the number in d.
 */
#define DEC_SIG_FATAL	0x01	/* the process dies of it: "+++ killed by SIG... +++" */
#define DEC_SIG_CORE	0x02	/* ... "(core dumped)" */
#define DEC_SIG_NOLINE	0x04	/* no "--- SIG... ---" line (SIGKILL; an exit_group from another thread) */
#define DEC_SIG_EXITED	0x08	/* another thread's exit_group: "+++ exited with status +++" */
#define DEC_SIG_IGNORED	0x10	/* delivered and discarded (SIG_IGN, or ignored by default) */
#define DEC_SIG_STOP	0x20	/* stops the process (default action) */
struct dec_delivery {
	int sig;
	unsigned flags;
	int status;		/* DEC_SIG_EXITED */
	const unsigned char *info;	/* GEARS_SIGINFO_SIZE bytes, or NULL (NOLINE) */
};
struct gears_task_signals;
int dec_sig_deliveries(struct gears_task_signals *s, struct dec_delivery *d, int max);

/* Did this rt_sigaction set a handler? Its signal (0: no), and whether the
 * handler takes a siginfo (SA_SIGINFO: only then does the kernel write one
 * into the signal frame, for dec_signal_line to read). */
int dec_sigaction_set(const struct trace_rec *e, const struct trace_rec *x, bool *siginfo);
/* A wait4/waitpid return that reaped a child: its pid and wait status (as
 * captured at the return, filter and exit modes). */
bool dec_reaped(const struct trace_rec *e, const struct trace_rec *x, int *pid, int *status);
/* The syscall's name ("openat", or "syscall_0x1c7"). */
const char *dec_name(int nr, bool compat, char *tmp, size_t size);
/* Does this call never return (exit, exit_group)? */
bool dec_noreturn(int nr, bool compat);
/* strace's classes: "file", "process", "net", "memory", "signal", "desc",
 * "ipc", "creds", "clock", "stat", "fstat", "lstat", "statfs"...: is nr in it? */
bool dec_in_class(int nr, bool compat, const char *cls);
/* The name of a signal ("SIGCHLD", "SIGRTMIN", "SIGRT_3"), or NULL. */
const char *dec_signame(int sig, char *tmp, size_t size);

/* A string argument of a record: tag = argument index or TREC_ARGV + i. */
const char *rec_str(const struct trace_rec *r, int tag);
/* A blob of a record, or NULL. */
const void *rec_blob(const struct trace_rec *r, unsigned tag, size_t *len);

static inline bool dec_is_error(long long ret)
{
	return ret < 0 && ret >= -4095;
}

/*
 * Capture: what a call's arguments point to, read while the caller waits (at
 * entry for what it passes in, at the return for what the kernel wrote).
 * `read` copies guest memory (0 or a negative errno); `put` stores a blob.
 */
struct dec_cap {
	int nr;
	bool compat, exit;
	uint64_t args[6];
	int64_t ret;
	uint64_t sp;		/* the caller's user stack pointer (0: unknown) */
	unsigned strsize;
	int (*read)(void *ctx, uint64_t va, void *buf, size_t len);
	void (*put)(void *ctx, unsigned tag, const void *data, size_t len);
	void *ctx;
};
void dec_capture(struct dec_cap *c);

#endif
