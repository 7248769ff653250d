// SPDX-License-Identifier: MIT
/*
 * The calls: for each one, what its arguments are (a kind per argument), how
 * its return value reads, and which of strace's classes (-e trace=%file...)
 * it belongs to. Names and numbers come from the generated syscall tables
 * (lib/sysnames.c); calls not listed here are printed in hex.
 */
#include <stdio.h>
#include <string.h>

#include <gears/linux.h>
#include <gears/syscall.h>

#include "decode_int.h"

enum {
	K_END, K_INT, K_UINT, K_LONG, K_ULONG, K_HEX, K_PTR, K_FD, K_DIRFD, K_PATH, K_STR, K_OCTAL,
	K_OFLAGS, K_OMODE, K_MODE, K_ATFLAGS, K_UNLINKFLAGS, K_ACCESS, K_WHENCE, K_STAT, K_STATX,
	K_STATXMASK, K_DENTS, K_FCNTLCMD, K_FCNTLARG, K_FLOCKOP, K_CWD, K_LINK, K_STATFS,
	K_CLOSERANGE, K_UMASK, K_MKNODMODE, K_MOUNTFLAGS, K_MEMFDFLAGS,
	K_BUF_IN, K_BUF_OUT, K_IOV_IN, K_IOV_OUT, K_POLLFD, K_PIPEFDS, K_EPOLLCTL, K_EPOLLEV,
	K_EPOLLFLAGS,
	K_PROT, K_MFLAGS, K_MADVISE, K_MREMAP, K_MSYNC, K_MLOCK,
	K_ARGV, K_ENVP, K_CLONEFLAGS, K_WSTATUS, K_WOPTIONS, K_PRCTL, K_PRCTLARG, K_ARCHPRCTL,
	K_ARCHPRCTLARG, K_RLIMRES, K_RLIM_IN, K_RLIM_OUT, K_UTSNAME, K_RUSAGEWHO, K_RUSAGE,
	K_IDTYPE, K_SYSINFO, K_SCHEDPOLICY, K_GRND, K_RSEQFLAGS, K_RANDOM_OUT, K_TIDPTR, K_PRIOWHICH,
	K_SIG, K_SIGRETURN, K_SIGSET_IN, K_SIGSET_OUT, K_SIGHOW, K_SIGACT_IN, K_SIGACT_OUT, K_STACK_IN, K_STACK_OUT,
	K_CLOCK, K_TS_IN, K_TS_OUT, K_TV_OUT, K_TIMERFLAGS, K_ITIMER, K_TIME_OUT,
	K_AF, K_SOCKTYPE, K_IPPROTO, K_SA_IN, K_SA_OUT, K_SALEN_OUT, K_MSGFLAGS, K_SHUT, K_SOL,
	K_SOCKOPT, K_SOCKFLAGS, K_SOCKPAIR, K_OPTVAL,
	K_IOCTLREQ, K_IOCTLARG, K_FUTEXOP, K_FUTEXVAL, K_FUTEXTS,
	K_COUNT
};

#define K(k, p, cf) [K_##k] = { p_##p, cf }
static const struct kind kinds[K_COUNT] = {
	K(INT, int, NULL), K(UINT, uint, NULL), K(LONG, long, NULL), K(ULONG, ulong, NULL),
	K(HEX, hex, NULL), K(PTR, ptr, NULL), K(FD, fd, NULL), K(DIRFD, dirfd, NULL),
	K(PATH, path, NULL), K(STR, str, NULL), K(OCTAL, octal, NULL),
	K(OFLAGS, oflags, NULL), K(OMODE, mode, NULL), K(MODE, mode, NULL), K(ATFLAGS, atflags, NULL),
	K(UNLINKFLAGS, unlinkflags, NULL), K(ACCESS, access, NULL), K(WHENCE, whence, NULL),
	K(STAT, stat, c_stat), K(STATX, statx, c_statx), K(STATXMASK, statxmask, NULL),
	K(DENTS, dents, c_dents), K(FCNTLCMD, fcntlcmd, NULL), K(FCNTLARG, fcntlarg, NULL),
	K(FLOCKOP, flockop, NULL), K(CWD, cwd, c_cwd), K(LINK, link, c_link), K(STATFS, statfs, NULL),
	K(CLOSERANGE, closerange, NULL), K(UMASK, umask, NULL), K(MKNODMODE, mknodmode, NULL),
	K(MOUNTFLAGS, mountflags, NULL), K(MEMFDFLAGS, memfdflags, NULL),
	K(BUF_IN, buf_in, c_buf_in), K(BUF_OUT, buf_out, c_buf_out), K(IOV_IN, iov_in, c_iov_in),
	K(IOV_OUT, iov_out, c_iov_out), K(POLLFD, pollfd, c_pollfd), K(PIPEFDS, pipefds, c_pipefds),
	K(EPOLLCTL, epollctl, NULL), K(EPOLLEV, epollev, c_epollev), K(EPOLLFLAGS, epollflags, NULL),
	K(PROT, prot, NULL), K(MFLAGS, mflags, NULL), K(MADVISE, madvise, NULL),
	K(MREMAP, mremap, NULL), K(MSYNC, msync, NULL), K(MLOCK, mlock, NULL),
	K(ARGV, argv, NULL), K(ENVP, envp, c_envp), K(CLONEFLAGS, cloneflags, NULL),
	K(WSTATUS, wstatus, c_wstatus), K(WOPTIONS, woptions, NULL), K(PRCTL, prctl, NULL),
	K(PRCTLARG, prctlarg, c_prctlarg), K(ARCHPRCTL, archprctl, NULL),
	K(ARCHPRCTLARG, archprctlarg, c_archprctlarg), K(RLIMRES, rlimres, NULL),
	K(RLIM_IN, rlim_in, c_rlim_in), K(RLIM_OUT, rlim_out, c_rlim_out),
	K(UTSNAME, utsname, c_utsname), K(RUSAGEWHO, rusagewho, NULL), K(RUSAGE, rusage, c_rusage),
	K(IDTYPE, idtype, NULL), K(SYSINFO, sysinfo, c_sysinfo), K(SCHEDPOLICY, sched_policy, NULL),
	K(GRND, grnd, NULL), K(RSEQFLAGS, rseqflags, NULL), K(RANDOM_OUT, random_out, c_random_out),
	K(TIDPTR, tidptr, NULL), K(PRIOWHICH, priowhich, NULL),
	K(SIG, sig, NULL), K(SIGRETURN, sigreturn, c_sigreturn), K(SIGSET_IN, sigset_in, c_sigset_in), K(SIGSET_OUT, sigset_out, c_sigset_out),
	K(SIGHOW, sighow, NULL), K(SIGACT_IN, sigact_in, c_sigact_in),
	K(SIGACT_OUT, sigact_out, c_sigact_out), K(STACK_IN, stack_in, c_stack_in),
	K(STACK_OUT, stack_out, c_stack_out),
	K(CLOCK, clock, NULL), K(TS_IN, ts_in, c_ts_in), K(TS_OUT, ts_out, c_ts_out),
	K(TV_OUT, tv_out, c_tv_out), K(TIMERFLAGS, timerflags, NULL), K(ITIMER, itimer, NULL),
	K(TIME_OUT, time_out, c_time_out),
	K(AF, af, NULL), K(SOCKTYPE, socktype, NULL), K(IPPROTO, ipproto, NULL), K(SA_IN, sa_in, c_sa_in),
	K(SA_OUT, sa_out, c_sa_out), K(SALEN_OUT, salen_out, c_salen_out), K(MSGFLAGS, msgflags, NULL),
	K(SHUT, shut, NULL), K(SOL, sol, NULL), K(SOCKOPT, sockopt, NULL), K(SOCKFLAGS, sockflags, NULL),
	K(SOCKPAIR, pipefds, c_pipefds), K(OPTVAL, optval, c_optval)	/* socketpair's fds read as pipe's */,
	K(IOCTLREQ, ioctlreq, NULL), K(IOCTLARG, ioctlarg, c_ioctlarg),
	K(FUTEXOP, futexop, NULL), K(FUTEXVAL, futexval, NULL), K(FUTEXTS, futexts, c_futexts),
};
#undef K

/* Return values. */
enum { R_INT, R_HEX, R_NONE, R_OCTAL, R_FCNTL, R_POLL };

/* strace's classes. */
#define C_FILE		0x001u
#define C_PROCESS	0x002u
#define C_NET		0x004u
#define C_MEMORY	0x008u
#define C_SIGNAL	0x010u
#define C_DESC		0x020u
#define C_IPC		0x040u
#define C_CREDS		0x080u
#define C_CLOCK		0x100u
#define C_STAT		0x200u	/* %stat, %lstat, %fstat, %statfs: all stat-like calls */

struct sig {
	const char *name;
	uint8_t a[6];
	uint8_t ret;
	uint16_t cls;
};

#define S(n, r, c, ...) { #n, { __VA_ARGS__ }, R_##r, c }
#define FD_	C_DESC
#define FI	C_FILE
static const struct sig table[] = {
	S(read, INT, FD_, K_FD, K_BUF_OUT, K_ULONG),
	S(write, INT, FD_, K_FD, K_BUF_IN, K_ULONG),
	S(open, INT, FI | FD_, K_PATH, K_OFLAGS, K_OMODE),
	S(close, INT, FD_, K_FD),
	S(stat, INT, FI | C_STAT, K_PATH, K_STAT),
	S(fstat, INT, FD_ | C_STAT, K_FD, K_STAT),
	S(lstat, INT, FI | C_STAT, K_PATH, K_STAT),
	S(poll, POLL, FD_, K_POLLFD, K_UINT, K_INT),
	S(lseek, INT, FD_, K_FD, K_LONG, K_WHENCE),
	S(mmap, HEX, C_MEMORY | FD_, K_PTR, K_ULONG, K_PROT, K_MFLAGS, K_FD, K_HEX),
	S(mprotect, INT, C_MEMORY, K_PTR, K_ULONG, K_PROT),
	S(munmap, INT, C_MEMORY, K_PTR, K_ULONG),
	S(brk, HEX, C_MEMORY, K_PTR),
	S(rt_sigaction, INT, C_SIGNAL, K_SIG, K_SIGACT_IN, K_SIGACT_OUT, K_ULONG),
	S(rt_sigprocmask, INT, C_SIGNAL, K_SIGHOW, K_SIGSET_IN, K_SIGSET_OUT, K_ULONG),
	S(rt_sigreturn, INT, C_SIGNAL, K_SIGRETURN),
	S(ioctl, INT, FD_, K_FD, K_IOCTLREQ, K_IOCTLARG),
	S(pread64, INT, FD_, K_FD, K_BUF_OUT, K_ULONG, K_LONG),
	S(pwrite64, INT, FD_, K_FD, K_BUF_IN, K_ULONG, K_LONG),
	S(readv, INT, FD_, K_FD, K_IOV_OUT, K_INT),
	S(writev, INT, FD_, K_FD, K_IOV_IN, K_INT),
	S(access, INT, FI, K_PATH, K_ACCESS),
	S(pipe, INT, FD_, K_PIPEFDS),
	S(select, INT, FD_, K_INT, K_PTR, K_PTR, K_PTR, K_PTR),
	S(sched_yield, INT, 0),
	S(mremap, HEX, C_MEMORY, K_PTR, K_ULONG, K_ULONG, K_MREMAP, K_PTR),
	S(msync, INT, C_MEMORY, K_PTR, K_ULONG, K_MSYNC),
	S(madvise, INT, C_MEMORY, K_PTR, K_ULONG, K_MADVISE),
	S(dup, INT, FD_, K_FD),
	S(dup2, INT, FD_, K_FD, K_FD),
	S(pause, INT, C_SIGNAL),
	S(nanosleep, INT, 0, K_TS_IN, K_TS_OUT),
	S(getitimer, INT, 0, K_ITIMER, K_PTR),
	S(alarm, INT, 0, K_UINT),
	S(setitimer, INT, 0, K_ITIMER, K_PTR, K_PTR),
	S(getpid, INT, C_PROCESS | C_CREDS),
	S(sendfile, INT, FD_ | C_NET, K_FD, K_FD, K_PTR, K_ULONG),
	S(socket, INT, C_NET, K_AF, K_SOCKTYPE, K_IPPROTO),
	S(connect, INT, C_NET | FD_, K_FD, K_SA_IN, K_UINT),
	S(accept, INT, C_NET | FD_, K_FD, K_SA_OUT, K_SALEN_OUT),
	S(sendto, INT, C_NET | FD_, K_FD, K_BUF_IN, K_ULONG, K_MSGFLAGS, K_SA_IN, K_UINT),
	S(recvfrom, INT, C_NET | FD_, K_FD, K_BUF_OUT, K_ULONG, K_MSGFLAGS, K_SA_OUT, K_SALEN_OUT),
	S(sendmsg, INT, C_NET | FD_, K_FD, K_PTR, K_MSGFLAGS),
	S(recvmsg, INT, C_NET | FD_, K_FD, K_PTR, K_MSGFLAGS),
	S(shutdown, INT, C_NET | FD_, K_FD, K_SHUT),
	S(bind, INT, C_NET | FD_, K_FD, K_SA_IN, K_UINT),
	S(listen, INT, C_NET | FD_, K_FD, K_INT),
	S(getsockname, INT, C_NET | FD_, K_FD, K_SA_OUT, K_SALEN_OUT),
	S(getpeername, INT, C_NET | FD_, K_FD, K_SA_OUT, K_SALEN_OUT),
	S(socketpair, INT, C_NET, K_AF, K_SOCKTYPE, K_IPPROTO, K_SOCKPAIR),
	S(setsockopt, INT, C_NET | FD_, K_FD, K_SOL, K_SOCKOPT, K_OPTVAL, K_UINT),
	S(getsockopt, INT, C_NET | FD_, K_FD, K_SOL, K_SOCKOPT, K_PTR, K_PTR),
	S(clone, INT, C_PROCESS, K_CLONEFLAGS),
	S(fork, INT, C_PROCESS),
	S(vfork, INT, C_PROCESS),
	S(execve, INT, FI | C_PROCESS, K_PATH, K_ARGV, K_ENVP),
	S(exit, NONE, C_PROCESS, K_INT),
	S(wait4, INT, C_PROCESS, K_INT, K_WSTATUS, K_WOPTIONS, K_RUSAGE),
	S(kill, INT, C_SIGNAL | C_PROCESS, K_INT, K_SIG),
	S(uname, INT, 0, K_UTSNAME),
	S(fcntl, FCNTL, FD_, K_FD, K_FCNTLCMD, K_FCNTLARG),
	S(flock, INT, FD_, K_FD, K_FLOCKOP),
	S(fsync, INT, FD_, K_FD),
	S(fdatasync, INT, FD_, K_FD),
	S(truncate, INT, FI, K_PATH, K_LONG),
	S(ftruncate, INT, FD_, K_FD, K_LONG),
	S(getdents, INT, FD_, K_FD, K_DENTS, K_UINT),
	S(getcwd, INT, FI, K_CWD, K_ULONG),
	S(chdir, INT, FI, K_PATH),
	S(fchdir, INT, FD_, K_FD),
	S(rename, INT, FI, K_PATH, K_PATH),
	S(mkdir, INT, FI, K_PATH, K_MODE),
	S(rmdir, INT, FI, K_PATH),
	S(creat, INT, FI | FD_, K_PATH, K_MODE),
	S(link, INT, FI, K_PATH, K_PATH),
	S(unlink, INT, FI, K_PATH),
	S(symlink, INT, FI, K_PATH, K_PATH),
	S(readlink, INT, FI, K_PATH, K_LINK, K_ULONG),
	S(chmod, INT, FI, K_PATH, K_MODE),
	S(fchmod, INT, FD_, K_FD, K_MODE),
	S(chown, INT, FI, K_PATH, K_INT, K_INT),
	S(fchown, INT, FD_, K_FD, K_INT, K_INT),
	S(lchown, INT, FI, K_PATH, K_INT, K_INT),
	S(umask, OCTAL, 0, K_UMASK),
	S(gettimeofday, INT, C_CLOCK, K_TV_OUT, K_PTR),
	S(getrlimit, INT, 0, K_RLIMRES, K_RLIM_OUT),
	S(getrusage, INT, 0, K_RUSAGEWHO, K_RUSAGE),
	S(sysinfo, INT, 0, K_SYSINFO),
	S(getuid, INT, C_CREDS),
	S(getgid, INT, C_CREDS),
	S(setuid, INT, C_CREDS, K_INT),
	S(setgid, INT, C_CREDS, K_INT),
	S(geteuid, INT, C_CREDS),
	S(getegid, INT, C_CREDS),
	S(setpgid, INT, 0, K_INT, K_INT),
	S(getppid, INT, 0),
	S(getpgrp, INT, 0),
	S(setsid, INT, 0),
	S(setreuid, INT, C_CREDS, K_INT, K_INT),
	S(setregid, INT, C_CREDS, K_INT, K_INT),
	S(getgroups, INT, C_CREDS, K_INT, K_PTR),
	S(setgroups, INT, C_CREDS, K_INT, K_PTR),
	S(setresuid, INT, C_CREDS, K_INT, K_INT, K_INT),
	S(setresgid, INT, C_CREDS, K_INT, K_INT, K_INT),
	S(getpgid, INT, 0, K_INT),
	S(getsid, INT, 0, K_INT),
	S(rt_sigpending, INT, C_SIGNAL, K_SIGSET_OUT, K_ULONG),
	S(rt_sigtimedwait, INT, C_SIGNAL, K_SIGSET_IN, K_PTR, K_TS_IN, K_ULONG),
	S(rt_sigqueueinfo, INT, C_SIGNAL | C_PROCESS, K_INT, K_SIG, K_PTR),
	S(rt_sigsuspend, INT, C_SIGNAL, K_SIGSET_IN, K_ULONG),
	S(sigaltstack, INT, C_SIGNAL, K_STACK_IN, K_STACK_OUT),
	S(mknod, INT, FI, K_PATH, K_MKNODMODE, K_HEX),
	S(statfs, INT, FI | C_STAT, K_PATH, K_STATFS),
	S(fstatfs, INT, FD_ | C_STAT, K_FD, K_STATFS),
	S(getpriority, INT, 0, K_PRIOWHICH, K_INT),
	S(setpriority, INT, 0, K_PRIOWHICH, K_INT, K_INT),
	S(sched_setscheduler, INT, 0, K_INT, K_SCHEDPOLICY, K_PTR),
	S(sched_getscheduler, INT, 0, K_INT),
	S(mlock, INT, C_MEMORY, K_PTR, K_ULONG),
	S(munlock, INT, C_MEMORY, K_PTR, K_ULONG),
	S(mlockall, INT, C_MEMORY, K_HEX),
	S(munlockall, INT, C_MEMORY),
	S(prctl, INT, 0, K_PRCTL, K_PRCTLARG),
	S(arch_prctl, INT, C_PROCESS, K_ARCHPRCTL, K_ARCHPRCTLARG),
	S(setrlimit, INT, 0, K_RLIMRES, K_RLIM_IN),
	S(chroot, INT, FI, K_PATH),
	S(sync, INT, 0),
	S(mount, INT, FI, K_PATH, K_PATH, K_STR, K_MOUNTFLAGS, K_PTR),
	S(umount2, INT, FI, K_PATH, K_HEX),
	S(sethostname, INT, 0, K_STR, K_UINT),
	S(gettid, INT, 0),
	S(tkill, INT, C_SIGNAL | C_PROCESS, K_INT, K_SIG),
	S(time, INT, C_CLOCK, K_TIME_OUT),
	S(futex, INT, 0, K_PTR, K_FUTEXOP, K_FUTEXVAL, K_FUTEXTS, K_PTR, K_INT),
	S(sched_setaffinity, INT, 0, K_INT, K_UINT, K_PTR),
	S(sched_getaffinity, INT, 0, K_INT, K_UINT, K_PTR),
	S(getdents64, INT, FD_, K_FD, K_DENTS, K_UINT),
	S(set_tid_address, INT, 0, K_PTR),
	S(fadvise64, INT, FD_, K_FD, K_LONG, K_LONG, K_INT),
	S(clock_settime, INT, C_CLOCK, K_CLOCK, K_TS_IN),
	S(clock_gettime, INT, C_CLOCK, K_CLOCK, K_TS_OUT),
	S(clock_getres, INT, C_CLOCK, K_CLOCK, K_TS_OUT),
	S(clock_nanosleep, INT, 0, K_CLOCK, K_TIMERFLAGS, K_TS_IN, K_TS_OUT),
	S(exit_group, NONE, C_PROCESS, K_INT),
	S(epoll_wait, INT, FD_, K_FD, K_PTR, K_INT, K_INT),
	S(epoll_ctl, INT, FD_, K_FD, K_EPOLLCTL, K_FD, K_EPOLLEV),
	S(tgkill, INT, C_SIGNAL | C_PROCESS, K_INT, K_INT, K_SIG),
	S(waitid, INT, C_PROCESS, K_IDTYPE, K_INT, K_PTR, K_WOPTIONS, K_RUSAGE),
	S(openat, INT, FI | FD_, K_DIRFD, K_PATH, K_OFLAGS, K_OMODE),
	S(mkdirat, INT, FI | FD_, K_DIRFD, K_PATH, K_MODE),
	S(mknodat, INT, FI | FD_, K_DIRFD, K_PATH, K_MKNODMODE, K_HEX),
	S(fchownat, INT, FI | FD_, K_DIRFD, K_PATH, K_INT, K_INT, K_ATFLAGS),
	S(newfstatat, INT, FI | FD_ | C_STAT, K_DIRFD, K_PATH, K_STAT, K_ATFLAGS),
	S(unlinkat, INT, FI | FD_, K_DIRFD, K_PATH, K_UNLINKFLAGS),
	S(renameat, INT, FI | FD_, K_DIRFD, K_PATH, K_DIRFD, K_PATH),
	S(linkat, INT, FI | FD_, K_DIRFD, K_PATH, K_DIRFD, K_PATH, K_ATFLAGS),
	S(symlinkat, INT, FI | FD_, K_PATH, K_DIRFD, K_PATH),
	S(readlinkat, INT, FI | FD_, K_DIRFD, K_PATH, K_LINK, K_ULONG),
	S(fchmodat, INT, FI | FD_, K_DIRFD, K_PATH, K_MODE),
	S(faccessat, INT, FI | FD_, K_DIRFD, K_PATH, K_ACCESS),
	S(pselect6, INT, FD_, K_INT, K_PTR, K_PTR, K_PTR, K_TS_IN, K_PTR),
	S(ppoll, POLL, FD_, K_POLLFD, K_UINT, K_TS_IN, K_SIGSET_IN, K_ULONG),
	S(set_robust_list, INT, 0, K_PTR, K_ULONG),
	S(utimensat, INT, FI | FD_, K_DIRFD, K_PATH, K_PTR, K_ATFLAGS),
	S(epoll_pwait, INT, FD_, K_FD, K_PTR, K_INT, K_INT, K_PTR, K_ULONG),
	S(accept4, INT, C_NET | FD_, K_FD, K_SA_OUT, K_SALEN_OUT, K_SOCKFLAGS),
	S(epoll_create1, INT, FD_, K_EPOLLFLAGS),
	S(dup3, INT, FD_, K_FD, K_FD, K_OFLAGS),
	S(pipe2, INT, FD_, K_PIPEFDS, K_OFLAGS),
	S(prlimit64, INT, 0, K_INT, K_RLIMRES, K_RLIM_IN, K_RLIM_OUT),
	S(getrandom, INT, 0, K_RANDOM_OUT, K_ULONG, K_GRND),
	S(memfd_create, INT, FD_, K_STR, K_MEMFDFLAGS),
	S(execveat, INT, FI | FD_ | C_PROCESS, K_DIRFD, K_PATH, K_ARGV, K_ENVP, K_ATFLAGS),
	S(statx, INT, FI | FD_ | C_STAT, K_DIRFD, K_PATH, K_ATFLAGS, K_STATXMASK, K_STATX),
	S(rseq, INT, 0, K_PTR, K_HEX, K_RSEQFLAGS, K_HEX),
	S(clone3, INT, C_PROCESS, K_PTR, K_ULONG),
	S(close_range, INT, FD_, K_FD, K_FD, K_CLOSERANGE),
	S(faccessat2, INT, FI | FD_, K_DIRFD, K_PATH, K_ACCESS, K_ATFLAGS),
	S(renameat2, INT, FI | FD_, K_DIRFD, K_PATH, K_DIRFD, K_PATH, K_HEX),
	S(sched_getparam, INT, 0, K_INT, K_PTR),
	S(init_module, INT, 0, K_PTR, K_ULONG, K_STR),
	S(finit_module, INT, FD_, K_FD, K_STR, K_HEX),
	S(delete_module, INT, 0, K_STR, K_HEX),
};
#undef S

static struct gears_linux *kernel;

void dec_set_kernel(struct gears_linux *l)
{
	kernel = l;
}

static const struct sig *lookup(int nr, bool compat)
{
	const char *name = gears_sc__name(nr, compat);

	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

const char *dec_name(int nr, bool compat, char *tmp, size_t size)
{
	const char *n = gears_sc__name(nr, compat);

	if (n)
		return n;
	snprintf(tmp, size, "syscall_%#x", (unsigned)nr);
	return tmp;
}

bool dec_noreturn(int nr, bool compat)
{
	const struct sig *s = lookup(nr, compat);

	return s && s->ret == R_NONE;
}

bool dec_in_class(int nr, bool compat, const char *cls)
{
	static const struct {
		const char *n;
		unsigned bit;
	} names[] = {
		{ "file", C_FILE }, { "process", C_PROCESS }, { "net", C_NET }, { "network", C_NET },
		{ "memory", C_MEMORY }, { "signal", C_SIGNAL }, { "desc", C_DESC }, { "ipc", C_IPC },
		{ "creds", C_CREDS }, { "clock", C_CLOCK }, { "stat", C_STAT },
	};
	const struct sig *s = lookup(nr, compat);

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(cls, names[i].n))
			return s->cls & names[i].bit;
	return false;
}

/* ---- basic printers ---- */

void p_int(struct dec_ctx *c, int i) { out_put(c->o, "%d", (int)c->a[i]); }
void p_uint(struct dec_ctx *c, int i) { out_put(c->o, "%u", (unsigned)c->a[i]); }
void p_long(struct dec_ctx *c, int i)
{
	out_put(c->o, "%lld", c->compat ? (long long)(int32_t)c->a[i] : (long long)c->a[i]);
}
void p_ulong(struct dec_ctx *c, int i)
{
	out_put(c->o, "%llu", c->compat ? (unsigned long long)(uint32_t)c->a[i] : (unsigned long long)c->a[i]);
}
void p_hex(struct dec_ctx *c, int i)
{
	out_put(c->o, "%#llx", c->compat ? (unsigned long long)(uint32_t)c->a[i] : (unsigned long long)c->a[i]);
}
void p_ptr(struct dec_ctx *c, int i) { out_ptr(c->o, c->compat ? (uint32_t)c->a[i] : c->a[i]); }
void p_octal(struct dec_ctx *c, int i) { out_put(c->o, "%#03o", (unsigned)c->a[i]); }

void out_fd(struct dec_ctx *c, int fd)
{
	const char *path = c->opt->fd_path && fd >= 0 ? c->opt->fd_path(c->opt->fd_ctx, c->pid, fd) : NULL;

	out_put(c->o, "%d", fd);
	if (path) {
		out_str(c->o, "<");
		out_str(c->o, path);
		out_str(c->o, ">");
	}
}

void p_fd(struct dec_ctx *c, int i) { out_fd(c, (int)c->a[i]); }

void p_dirfd(struct dec_ctx *c, int i)
{
	if ((int)c->a[i] == -100)	/* AT_FDCWD: not a flag, from linux/fcntl.h */
		out_str(c->o, "AT_FDCWD");
	else
		out_fd(c, (int)c->a[i]);
}

static const char *entry_str(const struct dec_ctx *c, int tag)
{
	return rec_str(c->e, tag) ?: rec_str(c->x, tag);
}

static bool truncated(const struct dec_ctx *c)
{
	return (c->e && (c->e->flags & TREC_TRUNC)) || (c->x && (c->x->flags & TREC_TRUNC));
}

/* A path: shown whole, as strace does. */
void p_path(struct dec_ctx *c, int i)
{
	const char *s = entry_str(c, i);

	if (s)
		out_quoted(c->o, s, strlen(s), truncated(c) && strlen(s) >= 100, c->opt->xstyle);
	else
		p_ptr(c, i);
}

/* Another string: -s bytes at most. */
void p_str(struct dec_ctx *c, int i)
{
	const char *s = entry_str(c, i);
	size_t len = 0;
	const void *b = s ? NULL : ctx_blob(c, i, false, &len);

	if (s)
		len = strlen(s);
	else if (b)
		len = strnlen(b, len), s = b;
	if (!s) {
		p_ptr(c, i);
		return;
	}
	out_quoted(c->o, s, len < c->opt->strsize ? len : c->opt->strsize, len > c->opt->strsize, c->opt->xstyle);
}

/* Data of which `have` bytes were captured, `total` exist: -s of them. */
void out_data(struct dec_ctx *c, const void *p, size_t have, uint64_t total, int xstyle)
{
	size_t n = have < c->opt->strsize ? have : c->opt->strsize;

	out_quoted(c->o, p, n, total > n, xstyle);
}

/* ---- the call ---- */

static void ctx_init(struct dec_ctx *c, struct dec_out *o, const struct trace_rec *e, const struct trace_rec *x,
		     const struct dec_opts *opt)
{
	const struct trace_rec *r = e ? e : x;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->opt = opt;
	c->nr = r->nr;
	c->compat = r->flags & TREC_COMPAT;
	c->e = e;
	c->x = x;
	c->pid = r->pid;
	memcpy(c->a, r->args, sizeof(c->a));
	if (c->compat)
		for (int i = 0; i < 6; i++)
			c->a[i] = (uint32_t)c->a[i];
	if (x) {
		c->exited = true;
		c->ret = x->ret;
	}
}

/* Kinds whose memory reads the same for i386 callers (bytes, ints). */
static bool layout_free(int kind)
{
	return kind == K_BUF_IN || kind == K_BUF_OUT || kind == K_CWD || kind == K_LINK || kind == K_WSTATUS ||
	       kind == K_PIPEFDS || kind == K_RANDOM_OUT;
}

/* Arguments that strace leaves out in some cases (open's mode without
 * O_CREAT, fcntl's argument for F_GETFD...), ending the list. */
static bool shown(const struct dec_ctx *c, int kind, int i)
{
	switch (kind) {
	case K_OMODE:
	{
		unsigned long long tmp = xl_value(&xl_open_flags, "O_TMPFILE");

		return (c->a[i - 1] & xl_value(&xl_open_flags, "O_CREAT")) || (tmp && (c->a[i - 1] & tmp) == tmp);
	}
	case K_FCNTLARG: {
		const char *n = xl_name(&xl_fcntl_cmds, c->a[i - 1]);

		return !n || !(strstr(n, "F_GET") == n && strcmp(n, "F_GETLK") && strcmp(n, "F_GETOWN_EX") &&
			       strcmp(n, "F_GETOWNER_UIDS"));
	}
	case K_PRCTLARG:
	case K_ARCHPRCTLARG:
	case K_FUTEXVAL:
	case K_SIGSET_OUT:
		return true;
	}
	return true;
}

static void print_args(struct dec_ctx *c, const struct sig *s)
{
	for (int i = 0; i < 6 && s->a[i]; i++) {
		if (!shown(c, s->a[i], i))
			break;
		if (i)
			out_str(c->o, ", ");
		if (c->compat && kinds[s->a[i]].capture && !layout_free(s->a[i]))
			p_ptr(c, i);	/* i386 layouts are not decoded */
		else
			kinds[s->a[i]].print(c, i);
		/* The kind printers that take the rest of the list say so. */
		if (s->a[i] == K_PRCTLARG || s->a[i] == K_ARCHPRCTLARG || s->a[i] == K_FUTEXVAL ||
		    s->a[i] == K_CLONEFLAGS)
			break;
	}
}

void dec_call(char *buf, size_t size, const struct trace_rec *e, const struct trace_rec *x,
	      const struct dec_opts *opt)
{
	struct dec_out o = { buf, size, 0 };
	struct dec_ctx c;
	const struct sig *s;
	char tmp[32];
	int n = 6;

	buf[0] = 0;
	ctx_init(&c, &o, e, x, opt);
	c.name = dec_name(c.nr, c.compat, tmp, sizeof(tmp));
	out_put(&o, "%s(", c.name);
	if (!e) {
		out_str(&o, "<... resumed>");
	} else if ((s = lookup(c.nr, c.compat))) {
		print_args(&c, s);
	} else {
		struct gears_syscall_sig ks;

		if (!c.compat && kernel && !gears_linux__syscall_sig(kernel, c.nr, &ks) && ks.nargs <= 6)
			n = ks.nargs;
		for (int i = 0; i < n; i++) {
			if (i)
				out_str(&o, ", ");
			p_hex(&c, i);
		}
	}
	out_str(&o, ")");
}

void dec_ret(char *buf, size_t size, const struct trace_rec *x, const struct dec_opts *opt)
{
	struct dec_out o = { buf, size, 0 };
	const struct sig *s;

	buf[0] = 0;
	if (!x) {
		out_str(&o, "?");
		return;
	}
	s = lookup(x->nr, x->flags & TREC_COMPAT);
	if (dec_is_error(x->ret)) {
		int err = (int)-x->ret;
		const char *en = xl_name(&xl_errnos, (unsigned)err);
		/* strace's words for the kernel's restart codes (a tracer sees them
		 * where the call is to be restarted or was interrupted) */
		static const struct {
			const char *n, *why;
		} restart[] = {
			{ "ERESTARTSYS", "To be restarted if SA_RESTART is set" },
			{ "ERESTARTNOINTR", "To be restarted" },
			{ "ERESTARTNOHAND", "To be restarted if no handler" },
			{ "ERESTART_RESTARTBLOCK", "Interrupted by signal" },
		};
		const char *kn = en ? NULL : xl_name(&xl_kernel_errnos, (unsigned)err);

		for (size_t k = 0; kn && k < sizeof(restart) / sizeof(restart[0]); k++)
			if (!strcmp(kn, restart[k].n)) {
				out_put(&o, "? %s (%s)", kn, restart[k].why);
				return;
			}
		if (kn) {
			out_put(&o, "-1 %s (Unknown error %d)", kn, err);
			return;
		}

		if (en)
			out_put(&o, "-1 %s (%s)", en, strerror(err));
		else
			out_put(&o, "-1 ERRNO_%d (%s)", err, strerror(err));
		if (x->flags & TREC_DENIED)
			out_str(&o, " [denied]");
		return;
	}
	switch (s ? s->ret : R_INT) {
	case R_HEX:
		out_put(&o, "%#llx", (unsigned long long)x->ret);
		break;
	case R_OCTAL:
		out_put(&o, "%#03llo", (unsigned long long)x->ret);
		break;
	case R_FCNTL: {
		const char *n = xl_name(&xl_fcntl_cmds, x->args[1]);

		if (n && !strcmp(n, "F_GETFL")) {
			out_put(&o, "%#llx (flags ", (unsigned long long)x->ret);
			out_value(&o, &xl_open_access, (unsigned long long)x->ret & 3, "%#llx");
			if (x->ret & ~3ll) {
				out_str(&o, "|");
				out_flags(&o, &xl_open_flags, (unsigned long long)x->ret & ~3ull, NULL);
			}
			out_str(&o, ")");
		} else if (n && !strcmp(n, "F_GETFD")) {
			out_put(&o, "%#llx", (unsigned long long)x->ret);
			if (x->ret) {
				out_str(&o, " (flags ");
				out_flags(&o, &xl_fd_flags, (unsigned long long)x->ret, NULL);
				out_str(&o, ")");
			}
		} else {
			out_put(&o, "%lld", (long long)x->ret);
		}
		break;
	}
	case R_POLL: {
		struct dec_ctx c;

		out_put(&o, "%lld", (long long)x->ret);
		ctx_init(&c, &o, x, x, opt);
		if (x->ret > 0)
			out_poll_revents(&c, 0);
		break;
	}
	default:
		out_put(&o, "%lld", (long long)x->ret);
	}
}

/* ---- capture ---- */

void cap_mem(struct dec_cap *c, int slot, uint64_t va, size_t len)
{
	static char buf[DEC_BLOB_MAX];

	if (!va || len > sizeof(buf))
		return;
	if (c->read(c->ctx, va, buf, len) == 0)
		c->put(c->ctx, DEC_BLOB | (c->exit ? DEC_AT_EXIT : 0) | (unsigned)slot, buf, len);
}

void cap_struct(struct dec_cap *c, int i, size_t len)
{
	cap_mem(c, i, c->args[i], len);
}

void dec_capture(struct dec_cap *c)
{
	const struct sig *s = lookup(c->nr, c->compat);

	if (!s)
		return;
	for (int i = 0; i < 6 && s->a[i]; i++)
		if (kinds[s->a[i]].capture && (!c->compat || layout_free(s->a[i])))
			kinds[s->a[i]].capture(c, i);
}
