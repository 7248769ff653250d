// SPDX-License-Identifier: MIT
/*
 * Decoding system call arguments the way strace shows them. A table of the
 * common calls gives each argument a kind (fd, path, open flags, mmap prot...);
 * other calls get their argument count from the guest kernel's own syscall
 * metadata when available, and are shown in hex.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <gears/linux.h>
#include <gears/syscall.h>

#include "trace_fmt.h"

/* Argument kinds. */
enum {
	K_INT = 'd', K_UINT = 'u', K_HEX = 'x', K_PTR = 'p', K_STR = 's', K_ARGV = 'a',
	K_ENVP = 'e', K_FD = 'f', K_DIRFD = 'F', K_OFLAGS = 'o', K_MODE = 'm', K_PROT = 'r',
	K_MFLAGS = 'g', K_SIG = 'n', K_ACCESS = 'k', K_ATFLAGS = 't', K_WHENCE = 'w',
};

struct sig {
	const char *name;
	const char *args;	/* one kind letter per argument; a final '*': returns an address */
};

static const struct sig table[] = {
	{ "read", "fpu" }, { "write", "fpu" }, { "open", "som" }, { "close", "f" },
	{ "stat", "sp" }, { "fstat", "fp" }, { "lstat", "sp" }, { "poll", "pud" },
	{ "lseek", "fdw" }, { "mmap", "purgfx*" }, { "mprotect", "pur" }, { "munmap", "pu" },
	{ "brk", "p*" }, { "rt_sigaction", "nppu" }, { "rt_sigprocmask", "dppu" },
	{ "rt_sigreturn", "" }, { "ioctl", "fxx" }, { "pread64", "fpud" }, { "pwrite64", "fpud" },
	{ "readv", "fpd" }, { "writev", "fpd" }, { "access", "sk" }, { "pipe", "p" },
	{ "sched_yield", "" }, { "mremap", "puuxp*" }, { "madvise", "pud" }, { "dup", "f" },
	{ "dup2", "ff" }, { "pause", "" }, { "nanosleep", "pp" }, { "getpid", "" },
	{ "sendfile", "ffpu" }, { "socket", "ddd" }, { "connect", "fpd" }, { "accept", "fpp" },
	{ "sendto", "fpuxpd" }, { "recvfrom", "fpuxpp" }, { "shutdown", "fd" }, { "bind", "fpd" },
	{ "listen", "fd" }, { "clone", "xppx" }, { "fork", "" }, { "vfork", "" },
	{ "execve", "sae" }, { "exit", "d" }, { "wait4", "dpdp" }, { "kill", "dn" },
	{ "uname", "p" }, { "fcntl", "fdx" }, { "flock", "fd" }, { "fsync", "f" },
	{ "truncate", "sd" }, { "ftruncate", "fd" }, { "getdents", "fpu" }, { "getcwd", "pu" },
	{ "chdir", "s" }, { "fchdir", "f" }, { "rename", "ss" }, { "mkdir", "sm" }, { "rmdir", "s" },
	{ "creat", "sm" }, { "link", "ss" }, { "unlink", "s" }, { "symlink", "ss" },
	{ "readlink", "spu" }, { "chmod", "sm" }, { "fchmod", "fm" }, { "chown", "sdd" },
	{ "umask", "m" }, { "gettimeofday", "pp" }, { "getrlimit", "dp" }, { "getrusage", "dp" },
	{ "sysinfo", "p" }, { "getuid", "" }, { "getgid", "" }, { "setuid", "d" }, { "setgid", "d" },
	{ "geteuid", "" }, { "getegid", "" }, { "setpgid", "dd" }, { "getppid", "" },
	{ "getpgrp", "" }, { "setsid", "" }, { "getpgid", "d" }, { "getsid", "d" },
	{ "rt_sigsuspend", "pu" }, { "sigaltstack", "pp" }, { "statfs", "sp" }, { "fstatfs", "fp" },
	{ "prctl", "dxxxx" }, { "arch_prctl", "xx" }, { "chroot", "s" }, { "sync", "" },
	{ "mount", "sssxp" }, { "umount2", "sx" }, { "sethostname", "pu" }, { "gettid", "" },
	{ "tkill", "dn" }, { "time", "p" }, { "futex", "pdupud" }, { "getdents64", "fpu" },
	{ "set_tid_address", "p" }, { "clock_gettime", "dp" }, { "clock_nanosleep", "dxpp" },
	{ "exit_group", "d" }, { "tgkill", "ddn" }, { "openat", "Fsom" }, { "mkdirat", "Fsm" },
	{ "fchownat", "Fsddt" }, { "newfstatat", "Fspt" }, { "unlinkat", "Fst" },
	{ "renameat", "FsFs" }, { "linkat", "FsFst" }, { "symlinkat", "sFs" },
	{ "readlinkat", "Fspu" }, { "fchmodat", "Fsm" }, { "faccessat", "Fsk" },
	{ "pselect6", "dppppp" }, { "ppoll", "pupp" }, { "set_robust_list", "pu" },
	{ "utimensat", "Fspt" }, { "pipe2", "po" }, { "dup3", "ffo" }, { "prlimit64", "ddpp" },
	{ "getrandom", "pux" }, { "memfd_create", "sx" }, { "execveat", "Fsaet" },
	{ "statx", "Fstxp" }, { "rseq", "pudx" }, { "clone3", "pu" }, { "faccessat2", "Fskt" },
	{ "openat2", "Fspu" }, { "close_range", "ffx" }, { "sched_getaffinity", "dup" },
	{ "renameat2", "FsFsx" }, { "init_module", "pus" }, { "finit_module", "fsx" },
	{ "delete_module", "sx" }, { "sysctl", "p" },
};

static struct gears_linux *kernel;

void fmt_set_kernel(struct gears_linux *l)
{
	kernel = l;
}

const char *fmt_name(int nr, bool compat, char *tmp, size_t size)
{
	const char *n = gears_sc__name(nr, compat);

	if (n)
		return n;
	snprintf(tmp, size, "syscall_%#x", (unsigned)nr);
	return tmp;
}

bool fmt_noreturn(int nr, bool compat)
{
	const char *n = gears_sc__name(nr, compat);

	return n && (!strcmp(n, "exit") || !strcmp(n, "exit_group"));
}

static const struct sig *lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

const char *rec_str(const struct trace_rec *r, int tag)
{
	const char *p, *end;
	int n;

	if (!r)
		return NULL;
	p = (const char *)(r + 1);
	end = (const char *)r + r->size;
	for (n = 0; n < r->nstr && p < end; n++) {
		int t = (unsigned char)*p++;
		size_t l = strnlen(p, (size_t)(end - p));

		if (p + l >= end)
			return NULL;
		if (t == tag)
			return p;
		p += l + 1;
	}
	return NULL;
}

/* Append with bounds: every writer below goes through this. */
struct out {
	char *b;
	size_t size, len;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->b + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n : o->size - o->len - 1;
}

static void put_quoted(struct out *o, const char *s, bool trunc)
{
	put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c == '\n')
			put(o, "\\n");
		else if (c == '\t')
			put(o, "\\t");
		else if (c < 32 || c >= 127)
			put(o, "\\%o", c);
		else
			put(o, "%c", c);
	}
	put(o, trunc ? "\"..." : "\"");
}

struct flag {
	unsigned long v;
	const char *n;
};

static void put_flags(struct out *o, unsigned long v, const struct flag *f, size_t n, const char *zero)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (f[i].v && (v & f[i].v) == f[i].v) {
			put(o, "%s%s", any ? "|" : "", f[i].n);
			v &= ~f[i].v;
			any = true;
		}
	}
	if (v || !any) {
		if (any)
			put(o, "|%#lx", v);
		else if (zero && !v)
			put(o, "%s", zero);
		else
			put(o, "%#lx", v);
	}
}

#define F(x) { x, #x }
static const struct flag oflags[] = {
	F(O_WRONLY), F(O_RDWR), F(O_CREAT), F(O_EXCL), F(O_NOCTTY), F(O_TRUNC), F(O_APPEND),
	F(O_NONBLOCK), F(O_DSYNC), F(O_DIRECT), F(O_LARGEFILE), F(O_DIRECTORY), F(O_NOFOLLOW),
	F(O_NOATIME), F(O_CLOEXEC), F(O_PATH), { 04000000 | 010000, "O_SYNC" }, F(__O_TMPFILE),
};
static const struct flag prot[] = { F(PROT_READ), F(PROT_WRITE), F(PROT_EXEC) };
static const struct flag mflags[] = {
	F(MAP_SHARED), F(MAP_PRIVATE), F(MAP_FIXED), F(MAP_ANONYMOUS), F(MAP_GROWSDOWN),
	F(MAP_DENYWRITE), F(MAP_EXECUTABLE), F(MAP_LOCKED), F(MAP_NORESERVE), F(MAP_POPULATE),
	F(MAP_NONBLOCK), F(MAP_STACK), F(MAP_HUGETLB), F(MAP_FIXED_NOREPLACE),
};
static const struct flag acc[] = { F(R_OK), F(W_OK), F(X_OK) };
static const struct flag atflags[] = {
	F(AT_SYMLINK_NOFOLLOW), F(AT_REMOVEDIR), F(AT_SYMLINK_FOLLOW), F(AT_NO_AUTOMOUNT),
	F(AT_EMPTY_PATH), F(AT_EACCESS),
};
#undef F

static void put_arg(struct out *o, int kind, uint64_t v, const struct trace_rec *e,
		    const struct trace_rec *x, int idx, bool compat)
{
	const char *s;
	bool trunc = (e && (e->flags & TREC_TRUNC)) || (x && (x->flags & TREC_TRUNC));

	switch (kind) {
	case K_INT:
	case K_FD:
		put(o, "%d", (int)v);
		break;
	case K_DIRFD:
		if ((int)v == AT_FDCWD)
			put(o, "AT_FDCWD");
		else
			put(o, "%d", (int)v);
		break;
	case K_UINT:
		put(o, "%" PRIu64, v);
		break;
	case K_PTR:
		if (v)
			put(o, "%#" PRIx64, v);
		else
			put(o, "NULL");
		break;
	case K_STR:
		s = rec_str(e, idx) ?: rec_str(x, idx);
		if (s)
			put_quoted(o, s, trunc && strlen(s) > 40);
		else
			put(o, v ? "%#" PRIx64 : "NULL", v);
		break;
	case K_ARGV: {
		int i;

		if (!rec_str(e, TREC_ARGV)) {
			put(o, v ? "%#" PRIx64 : "NULL", v);
			break;
		}
		put(o, "[");
		for (i = 0; (s = rec_str(e, TREC_ARGV + i)); i++) {
			if (i)
				put(o, ", ");
			put_quoted(o, s, false);
		}
		put(o, trunc ? ", ...]" : "]");
		break;
	}
	case K_ENVP:
		put(o, "%#" PRIx64, v);
		break;
	case K_OFLAGS:
		if ((v & O_ACCMODE) == O_RDONLY) {
			put(o, "O_RDONLY");
			if (v & ~(uint64_t)O_ACCMODE) {
				put(o, "|");
				put_flags(o, v & ~(uint64_t)O_ACCMODE, oflags, sizeof(oflags) / sizeof(oflags[0]), NULL);
			}
		} else {
			put_flags(o, v, oflags, sizeof(oflags) / sizeof(oflags[0]), NULL);
		}
		break;
	case K_MODE:
		put(o, "%#" PRIo64, v);
		break;
	case K_PROT:
		put_flags(o, v, prot, sizeof(prot) / sizeof(prot[0]), "PROT_NONE");
		break;
	case K_MFLAGS:
		put_flags(o, v, mflags, sizeof(mflags) / sizeof(mflags[0]), NULL);
		break;
	case K_ACCESS:
		put_flags(o, v, acc, sizeof(acc) / sizeof(acc[0]), "F_OK");
		break;
	case K_ATFLAGS:
		put_flags(o, v, atflags, sizeof(atflags) / sizeof(atflags[0]), "0");
		break;
	case K_SIG:
		if (v > 0 && v < 65 && sigabbrev_np((int)v))
			put(o, "SIG%s", sigabbrev_np((int)v));
		else
			put(o, "%d", (int)v);
		break;
	case K_WHENCE:
		put(o, "%s", v == SEEK_SET ? "SEEK_SET" : v == SEEK_CUR ? "SEEK_CUR" : v == SEEK_END ? "SEEK_END" : "?");
		break;
	default:
		put(o, "%#" PRIx64, compat ? (uint64_t)(uint32_t)v : v);
	}
}

/* Argument kinds for a call: the table, else the guest's metadata, else hex. */
static const char *kinds(int nr, bool compat, char tmp[8])
{
	const char *name = gears_sc__name(nr, compat);
	const struct sig *s = name ? lookup(name) : NULL;
	struct gears_syscall_sig ks;

	if (s)
		return s->args;
	if (!compat && kernel && !gears_linux__syscall_sig(kernel, nr, &ks)) {
		int i;

		for (i = 0; i < ks.nargs && i < 6; i++)
			tmp[i] = strstr(ks.types[i], "char __user *") && !strstr(ks.types[i], "* const") ? K_STR
				 : strchr(ks.types[i], '*') ? K_PTR : K_HEX;
		tmp[i] = 0;
		/* Only what the capture table knows is a string was captured. */
		unsigned mask = gears_sc__string_args(nr, compat, NULL);

		for (int a = 0; a < i; a++)
			if (tmp[a] == K_STR && !(mask & (1u << a)))
				tmp[a] = K_PTR;
		return tmp;
	}
	return "xxxxxx";
}

void fmt_call(char *buf, size_t size, const struct trace_rec *e, const struct trace_rec *x)
{
	const struct trace_rec *r = e ? e : x;
	bool compat = r->flags & TREC_COMPAT;
	char tmp[32], kt[8];
	const char *k = kinds(r->nr, compat, kt);
	struct out o = { buf, size, 0 };

	buf[0] = 0;
	put(&o, "%s(", fmt_name(r->nr, compat, tmp, sizeof(tmp)));
	if (!e) {
		put(&o, "<... resumed>");
	} else {
		for (int i = 0; k[i] && k[i] != '*' && i < 6; i++) {
			if (i)
				put(&o, ", ");
			put_arg(&o, k[i], r->args[i], e, x, i, compat);
		}
	}
	put(&o, ")");
}

void fmt_ret(char *buf, size_t size, const struct trace_rec *x)
{
	const char *name;
	const struct sig *s;

	if (!x) {
		snprintf(buf, size, "?");
		return;
	}
	if (fmt_is_error(x->ret)) {
		int err = (int)-x->ret;
		const char *en = strerrorname_np(err);

		snprintf(buf, size, "-1 %s (%s)%s", en ? en : "E?", strerror(err),
			 (x->flags & TREC_DENIED) ? " [denied]" : "");
		return;
	}
	name = gears_sc__name(x->nr, x->flags & TREC_COMPAT);
	s = name ? lookup(name) : NULL;
	if (s && strchr(s->args, '*'))
		snprintf(buf, size, "%#llx", (unsigned long long)x->ret);
	else
		snprintf(buf, size, "%lld", (long long)x->ret);
}
