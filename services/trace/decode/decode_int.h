/* SPDX-License-Identifier: MIT */
/* Internals of the decoder: output, name tables, argument kinds, families. */
#ifndef GEARS_TRACE_DECODE_INT_H
#define GEARS_TRACE_DECODE_INT_H

#include "decode.h"

/* ---- bounded output ---- */
struct dec_out {
	char *b;
	size_t size, len;
};
__attribute__((format(printf, 2, 3))) void out_put(struct dec_out *o, const char *fmt, ...);
void out_str(struct dec_out *o, const char *s);
/* A quoted buffer of n bytes, strace style; `cut`: add "..." after it. */
void out_quoted(struct dec_out *o, const void *buf, size_t n, bool cut, int xstyle);

/* ---- name tables (generated) ---- */
struct xlat_ent {
	unsigned long long v;
	const char *n;
};
struct xlat {
	const struct xlat_ent *e;
	size_t n;
	char kind;	/* 'V' value, 'F' flags */
};
#include "xlat_gen.h"
#define X(n) extern const struct xlat xl_##n;
XLAT_TABLES(X)
#undef X
/* The name of v in a value table, or NULL. */
const char *xl_name(const struct xlat *t, unsigned long long v);
/* The value of a name in a table (0: not there). */
unsigned long long xl_value(const struct xlat *t, const char *name);
/* v's name, else `dflt` formatted with v (e.g. "%#llx"); a comment
 * like strace's for unknown values is left out. */
void out_value(struct dec_out *o, const struct xlat *t, unsigned long long v, const char *dflt);
/* Flags: NAME|NAME|0x.., `zero` when v == 0 (NULL: "0"). */
void out_flags(struct dec_out *o, const struct xlat *t, unsigned long long v, const char *zero);

/* ---- one call being printed ---- */
struct dec_ctx {
	struct dec_out *o;
	const struct dec_opts *opt;
	int nr;
	bool compat;
	const char *name;
	uint64_t a[6];
	int64_t ret;
	bool exited;		/* the return was seen */
	const struct trace_rec *e, *x;
	int pid;
};
static inline bool ctx_ok(const struct dec_ctx *c)
{
	return c->exited && !dec_is_error(c->ret);
}
/* A captured blob: at entry (exit = false) or at return. */
const void *ctx_blob(const struct dec_ctx *c, int slot, bool exit, size_t *len);
/* A blob of exactly `want` bytes (or NULL). */
const void *ctx_struct(const struct dec_ctx *c, int slot, bool exit, size_t want);
void out_ptr(struct dec_out *o, uint64_t v);

/* ---- argument kinds ---- */
typedef void (*dec_print_fn)(struct dec_ctx *c, int i);
typedef void (*dec_cap_fn)(struct dec_cap *c, int i);
struct kind {
	dec_print_fn print;
	dec_cap_fn capture;
};

/* Capture helpers: read `len` bytes at va and store them under slot. */
void cap_mem(struct dec_cap *c, int slot, uint64_t va, size_t len);
void cap_struct(struct dec_cap *c, int i, size_t len);		/* what argument i points to */
/* String argument i: captured strings are in the records' string table. */

/* Families (one file each). Printers are p_*, capture functions c_*. */
#define P(n) void p_##n(struct dec_ctx *c, int i);
#define C(n) void c_##n(struct dec_cap *c, int i);
/* basic (calls.c) */
P(int) P(uint) P(long) P(hex) P(ptr) P(fd) P(dirfd) P(path) P(str) P(octal) P(ulong)
/* fs.c */
P(oflags) P(mode) P(atflags) P(unlinkflags) P(access) P(whence) P(stat) C(stat) P(statx) C(statx)
P(statxmask) P(dents) P(fcntlcmd) P(fcntlarg) P(flockop) P(cwd) C(cwd) P(link) C(link)
P(statfs) P(closerange) C(dents) P(umask) P(mknodmode) P(mountflags) P(memfdflags)
/* io.c */
P(buf_in) C(buf_in) P(buf_out) C(buf_out) P(iov_in) C(iov_in) P(iov_out) C(iov_out)
P(pollfd) C(pollfd) P(pipefds) C(pipefds) P(epollctl) P(epollev) C(epollev) P(epollflags)
/* mem.c */
P(prot) P(mflags) P(madvise) P(mremap) P(msync) P(mlock)
/* proc.c */
P(argv) P(envp) C(envp) P(cloneflags) P(wstatus) C(wstatus) P(woptions) P(prctl) P(prctlarg)
C(prctlarg) P(archprctl) P(archprctlarg) C(archprctlarg) P(rlimres) P(rlim_in) C(rlim_in)
P(rlim_out) C(rlim_out) P(utsname) C(utsname) P(rusagewho) P(rusage) C(rusage) P(idtype)
P(sysinfo) C(sysinfo) P(sched_policy) P(grnd) P(rseqflags) P(random_out) C(random_out)
P(tidptr) P(priowhich)
/* signal.c */
P(sig) P(sigreturn) C(sigreturn) P(sigset_in) C(sigset_in) P(sigset_out) C(sigset_out) P(sighow) P(sigact_in) C(sigact_in)
P(sigact_out) C(sigact_out) P(stack_in) C(stack_in) P(stack_out) C(stack_out)
/* time.c */
P(clock) P(ts_in) C(ts_in) P(ts_out) C(ts_out) P(tv_out) C(tv_out) P(timerflags) P(itimer)
P(time_out) C(time_out)
/* net.c */
P(af) P(socktype) P(ipproto) P(sa_in) C(sa_in) P(sa_out) C(sa_out) P(salen_out) C(salen_out)
P(msgflags) P(optval) C(optval) P(shut) P(sol) P(sockopt) P(sockflags)
/* ioctl.c */
P(ioctlreq) P(ioctlarg) C(ioctlarg)
/* futex.c */
P(futexop) P(futexval) P(futexts) C(futexts)
#undef P
#undef C

/* Signal-set and sigaction helpers shared with signal lines. */
void out_sigset(struct dec_out *o, const uint64_t *mask, size_t bytes);
/* wait status, strace style: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}] */
void out_wstatus(struct dec_out *o, int st);
/* struct timespec {tv_sec=, tv_nsec=} from 16 bytes */
void out_timespec(struct dec_out *o, const void *p);
/* poll's revents after its return value: " ([{fd=3, revents=POLLIN}])" */
void out_poll_revents(struct dec_ctx *c, int i);
/* Captured data (`have` bytes of `total`), -s of it, "..." when cut. */
void out_data(struct dec_ctx *c, const void *p, size_t have, uint64_t total, int xstyle);
/* An fd, with its path for -y. */
void out_fd(struct dec_ctx *c, int fd);

#endif
