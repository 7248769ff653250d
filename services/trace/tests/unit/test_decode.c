// SPDX-License-Identifier: MIT
/*
 * The trace decoder against independent oracles: glibc's own definitions of
 * the constants (the tables are generated from the kernel's headers), real
 * system calls made here on the host (their structures captured through
 * dec_capture as the service does, then printed), and lines strace printed
 * for the same calls (quoted in issue 9).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <asm/prctl.h>

#include <gears/linux.h>
#include <gears/syscall.h>

#include "testlib.h"
#include "../../decode/decode.h"

/* A record as the service builds it: strings and blobs after the header. */
struct rec {
	union {
		struct trace_rec r;
		char b[TREC_MAX];
	};
};

static void rec_init(struct rec *x, const char *name, int kind, const uint64_t *args, int64_t ret)
{
	memset(x, 0, sizeof(*x));
	x->r.size = sizeof(x->r);
	x->r.kind = (uint8_t)kind;
	x->r.nr = gears_sc__number(name, false);
	x->r.pid = x->r.tid = 42;
	memcpy(x->r.args, args, sizeof(x->r.args));
	x->r.ret = ret;
}

static void rec_str_add(struct rec *x, int tag, const char *s)
{
	size_t n = strlen(s);

	x->b[x->r.size++] = (char)tag;
	memcpy(x->b + x->r.size, s, n + 1);
	x->r.size += n + 1;
	x->r.nstr++;
}

static void put(void *ctx, unsigned tag, const void *data, size_t len)
{
	struct rec *x = ctx;

	if (x->r.size + 3 + len > sizeof(x->b))
		return;
	x->b[x->r.size++] = (char)tag;
	x->b[x->r.size++] = (char)(len & 0xff);
	x->b[x->r.size++] = (char)(len >> 8);
	memcpy(x->b + x->r.size, data, len);
	x->r.size += len;
	x->r.nstr++;
}

/* "Guest memory" here is ours: addresses are our pointers. */
static int rd(void *ctx, uint64_t va, void *buf, size_t len)
{
	(void)ctx;
	memcpy(buf, (const void *)(uintptr_t)va, len);
	return 0;
}

static int bad_rd(void *ctx, uint64_t va, void *buf, size_t len)
{
	(void)ctx, (void)va, (void)buf, (void)len;
	return -EFAULT;
}

static void capture(struct rec *x, bool exit)
{
	struct dec_cap c = { .nr = x->r.nr, .exit = exit, .ret = x->r.ret, .strsize = 32, .read = rd, .put = put,
			     .ctx = x };

	memcpy(c.args, x->r.args, sizeof(c.args));
	dec_capture(&c);
}

/* The whole line "call = ret" for an entry and exit captured from real memory. */
static const char *line(struct rec *e, struct rec *x, const struct dec_opts *o)
{
	static char buf[8192];
	char call[4096], ret[256];
	struct dec_opts d;

	if (!o) {
		dec_opts_init(&d);
		o = &d;
	}
	dec_call(call, sizeof(call), e ? &e->r : NULL, x ? &x->r : NULL, o);
	dec_ret(ret, sizeof(ret), x ? &x->r : NULL, o);
	snprintf(buf, sizeof(buf), "%s = %s", call, ret);
	return buf;
}

/* Entry and return of a call made for real (ret given), captured both ways. */
static const char *traced(const char *name, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, int64_t ret)
{
	static struct rec e, x;
	uint64_t args[6] = { a0, a1, a2, a3 };

	rec_init(&e, name, TREC_ENTRY, args, 0);
	capture(&e, false);
	rec_init(&x, name, TREC_EXIT, args, ret);
	capture(&x, true);
	return line(&e, &x, NULL);
}

TEST(tables_agree_with_glibc)
{
	char call[512];
	struct rec e;
	uint64_t a[6] = { (uint64_t)AT_FDCWD, 0, O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NONBLOCK };

	rec_init(&e, "openat", TREC_ENTRY, a, 0);
	rec_str_add(&e, 1, ".");
	dec_call(call, sizeof(call), &e.r, NULL, &(struct dec_opts){ .strsize = 32 });
	/* strace's order: O_NONBLOCK, O_CLOEXEC, then O_DIRECTORY */
	CHECK_STR(call, "openat(AT_FDCWD, \".\", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY)");

	uint64_t m[6] = { 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0 };

	rec_init(&e, "mmap", TREC_ENTRY, m, 0);
	dec_call(call, sizeof(call), &e.r, NULL, &(struct dec_opts){ .strsize = 32 });
	CHECK_STR(call, "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)");

	uint64_t p[6] = { PR_SET_PDEATHSIG, SIGKILL };

	rec_init(&e, "prctl", TREC_ENTRY, p, 0);
	dec_call(call, sizeof(call), &e.r, NULL, &(struct dec_opts){ .strsize = 32 });
	CHECK_STR(call, "prctl(PR_SET_PDEATHSIG, SIGKILL)");

	uint64_t k[6] = { 7, SIGRTMIN + 3 };	/* glibc's SIGRTMIN is the kernel's + 2 */

	rec_init(&e, "kill", TREC_ENTRY, k, 0);
	dec_call(call, sizeof(call), &e.r, NULL, &(struct dec_opts){ .strsize = 32 });
	CHECK_STR(call, "kill(7, SIGRT_5)");

	uint64_t cl[6] = { CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD, 0, 0, 0x7f00aa10, 0 };

	rec_init(&e, "clone", TREC_ENTRY, cl, 0);
	dec_call(call, sizeof(call), &e.r, NULL, &(struct dec_opts){ .strsize = 32 });
	CHECK_STR(call, "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
			"child_tidptr=0x7f00aa10)");
}

/* The lines of issue 9, strace's, for the same arguments and memory. */
TEST(issue_lines)
{
	uint64_t fs = 0x2916a3c0;
	struct rlimit rl = { 8192 * 1024, RLIM_INFINITY };
	char exe[] = "/bin/busybox";
	struct timespec ts = { 3, 738370670 };
	char comm[16] = "busybox";

	CHECK_STR(traced("arch_prctl", ARCH_SET_FS, fs, 0, 0, 0), "arch_prctl(ARCH_SET_FS, 0x2916a3c0) = 0");
	CHECK_STR(traced("prlimit64", 0, RLIMIT_STACK, 0, (uintptr_t)&rl, 0),
		  "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0");
	CHECK_STR(traced("clock_gettime", CLOCK_MONOTONIC, (uintptr_t)&ts, 0, 0, 0),
		  "clock_gettime(CLOCK_MONOTONIC, {tv_sec=3, tv_nsec=738370670}) = 0");
	CHECK_STR(traced("getrandom", 0x5eb7c0, 8, GRND_NONBLOCK, 0, -EAGAIN),
		  "getrandom(0x5eb7c0, 8, GRND_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)");
	CHECK_STR(traced("prctl", PR_GET_NAME, (uintptr_t)comm, 0, 0, 0), "prctl(PR_GET_NAME, \"busybox\") = 0");

	static struct rec e, x;
	uint64_t a[6] = { 0, (uintptr_t)exe, 4096 };

	rec_init(&e, "readlink", TREC_ENTRY, a, 0);
	rec_str_add(&e, 0, "/proc/self/exe");
	rec_init(&x, "readlink", TREC_EXIT, a, 12);
	capture(&x, true);
	CHECK_STR(line(&e, &x, NULL), "readlink(\"/proc/self/exe\", \"/bin/busybox\", 4096) = 12");
}

/* Structures the host kernel fills in, printed from the captured bytes. */
TEST(real_structures)
{
	struct stat st;
	char want[256];
	int fds[2];

	/* The kernel's struct stat, from a real fstat */
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	CHECK(fd >= 0);
	CHECK(syscall(SYS_fstat, fd, &st) == 0);
	snprintf(want, sizeof(want), "fstat(%d, {st_mode=S_IFDIR|%04o, st_size=%lld, ...}) = 0", fd,
		 st.st_mode & 0777, (long long)st.st_size);
	CHECK_STR(traced("fstat", (uint64_t)fd, (uintptr_t)&st, 0, 0, 0), want);
	close(fd);

	/* /dev/null: a character device shows st_rdev */
	CHECK(stat("/dev/null", &st) == 0);
	CHECK_STR(traced("stat", 0, (uintptr_t)&st, 0, 0, 0),
		  "stat(NULL, {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}) = 0");

	/* a pipe, written and read */
	CHECK(pipe2(fds, O_CLOEXEC) == 0);
	snprintf(want, sizeof(want), "pipe2([%d, %d], O_CLOEXEC) = 0", fds[0], fds[1]);
	CHECK_STR(traced("pipe2", (uintptr_t)fds, O_CLOEXEC, 0, 0, 0), want);
	CHECK(write(fds[1], "hello\n\0\1" "7", 9) == 9);
	char buf[64];

	CHECK(read(fds[0], buf, sizeof(buf)) == 9);
	snprintf(want, sizeof(want), "read(%d, \"hello\\n\\0\\0017\", 64) = 9", fds[0]);
	CHECK_STR(traced("read", (uint64_t)fds[0], (uintptr_t)buf, 64, 0, 9), want);
	close(fds[0]);
	close(fds[1]);

	/* wait statuses from real children */
	for (int k = 0; k < 2; k++) {
		pid_t p = fork();
		int s;

		if (p == 0) {
			if (k)
				raise(SIGKILL);
			_exit(3);
		}
		CHECK(waitpid(p, &s, 0) == p);
		snprintf(want, sizeof(want), "wait4(%d, [{%s}], 0, NULL) = %d", p,
			 k ? "WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL" : "WIFEXITED(s) && WEXITSTATUS(s) == 3", p);
		CHECK_STR(traced("wait4", (uint64_t)p, (uintptr_t)&s, 0, 0, p), want);
	}

	/* the kernel's sigaction, set and read back with the raw call */
	struct {
		uint64_t handler, flags, restorer, mask;
	} act = { (uint64_t)(uintptr_t)SIG_IGN, SA_RESTART, 0, 1ull << (SIGCHLD - 1) }, old;

	CHECK(syscall(SYS_rt_sigaction, SIGUSR1, &act, NULL, 8) == 0);
	CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 8) == 0);
	CHECK_STR(traced("rt_sigaction", SIGUSR1, 0, (uintptr_t)&old, 8, 0),
		  "rt_sigaction(SIGUSR1, NULL, {sa_handler=SIG_IGN, sa_mask=[CHLD], sa_flags=SA_RESTART}, 8) = 0");
	signal(SIGUSR1, SIG_DFL);

	/* a full set reads as its complement */
	uint64_t all = ~0ull, none = 0;

	CHECK_STR(traced("rt_sigprocmask", SIG_BLOCK, (uintptr_t)&all, (uintptr_t)&none, 8, 0),
		  "rt_sigprocmask(SIG_BLOCK, ~[], [], 8) = 0");

	/* uname */
	struct utsname u;

	CHECK(uname(&u) == 0);
	snprintf(want, sizeof(want), "uname({sysname=\"%s\", nodename=\"%s\", ...}) = 0", u.sysname, u.nodename);
	CHECK_STR(traced("uname", (uintptr_t)&u, 0, 0, 0, 0), want);

	/* poll: the revents follow the return value */
	struct pollfd pf = { .fd = 0, .events = POLLIN };
	static struct rec e, x;
	uint64_t a[6] = { (uintptr_t)&pf, 1, 0 };

	rec_init(&e, "poll", TREC_ENTRY, a, 0);
	capture(&e, false);
	pf.revents = POLLIN | POLLHUP;
	rec_init(&x, "poll", TREC_EXIT, a, 1);
	capture(&x, true);
	CHECK_STR(line(&e, &x, NULL), "poll([{fd=0, events=POLLIN}], 1, 0) = 1 ([{fd=0, revents=POLLIN|POLLHUP}])");
}

/* What cannot be read stays an address; a failed call is not decoded. */
TEST(unreadable_and_failed)
{
	static struct rec e, x;
	struct stat st;
	uint64_t a[6] = { 3, (uintptr_t)&st };
	struct dec_cap c = { .exit = true, .ret = 0, .strsize = 32, .read = bad_rd, .put = put, .ctx = &x };

	rec_init(&e, "fstat", TREC_ENTRY, a, 0);
	rec_init(&x, "fstat", TREC_EXIT, a, 0);
	c.nr = x.r.nr;
	memcpy(c.args, a, sizeof(c.args));
	dec_capture(&c);
	char want[128];

	snprintf(want, sizeof(want), "fstat(3, %p) = 0", (void *)&st);
	CHECK_STR(line(&e, &x, NULL), want);
	snprintf(want, sizeof(want), "fstat(3, %p) = -1 EBADF (Bad file descriptor)", (void *)&st);
	CHECK_STR(traced("fstat", 3, (uintptr_t)&st, 0, 0, -EBADF), want);
	CHECK(dec_noreturn(gears_sc__number("exit_group", false), false));
	snprintf(want, sizeof(want), "fstat(3, %p) = ?", (void *)&st);
	CHECK_STR(line(&e, NULL, NULL), want);
}

/* -s, -x and -xx on a write buffer. */
TEST(string_options)
{
	static const char data[] = "0123456789abcdefghijklmnopqrstuvwxyz\001";
	static struct rec e, x;
	uint64_t a[6] = { 1, (uintptr_t)data, sizeof(data) - 1 };
	struct dec_opts o;

	rec_init(&e, "write", TREC_ENTRY, a, 0);
	capture(&e, false);
	rec_init(&x, "write", TREC_EXIT, a, 37);
	dec_opts_init(&o);
	CHECK_STR(line(&e, &x, &o), "write(1, \"0123456789abcdefghijklmnopqrstuv\"..., 37) = 37");
	o.strsize = 4;
	CHECK_STR(line(&e, &x, &o), "write(1, \"0123\"..., 37) = 37");
	o.xstyle = 2;
	CHECK_STR(line(&e, &x, &o), "write(1, \"\\x30\\x31\\x32\\x33\"..., 37) = 37");
}

/* Record contents: a truncated or hostile record never reads past its end. */
TEST(record_bounds)
{
	static struct rec e;
	uint64_t a[6] = { 0 };

	rec_init(&e, "write", TREC_ENTRY, a, 0);
	put(&e, DEC_BLOB | 1, "abcd", 4);
	CHECK(rec_blob(&e.r, DEC_BLOB | 1, NULL) != NULL);
	e.r.size -= 2;	/* the blob's bytes now run past the record */
	CHECK(rec_blob(&e.r, DEC_BLOB | 1, NULL) == NULL);
	e.r.nstr = 60000;
	CHECK(rec_str(&e.r, 5) == NULL);
	CHECK(dec_in_class(gears_sc__number("openat", false), false, "file"));
	CHECK(!dec_in_class(gears_sc__number("getpid", false), false, "file"));
	CHECK(dec_in_class(gears_sc__number("mmap", false), false, "memory"));
	CHECK(dec_in_class(gears_sc__number("connect", false), false, "net"));
}



/* rt_sigreturn: the mask and the delivery's siginfo from a signal frame (a
 * real one: our own handler's, found from its ucontext argument). */
static char frame_copy[1024];
static uint64_t frame_sp;

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si;
	/* the kernel put ucontext at the handler's frame + 8: rt_sigreturn
	 * will be called with sp pointing at it */
	memcpy(frame_copy, uc, sizeof(frame_copy));
	frame_sp = (uintptr_t)frame_copy;
}

TEST(sigreturn_frame)
{
	struct sigaction sa = { .sa_sigaction = on_usr2, .sa_flags = SA_SIGINFO };
	static struct rec e;
	char buf[512];

	sigaction(SIGUSR2, &sa, NULL);
	kill(getpid(), SIGUSR2);
	signal(SIGUSR2, SIG_DFL);
	CHECK(frame_sp != 0);

	uint64_t a[6] = { 0 };
	struct dec_cap c = { .strsize = 32, .read = rd, .put = put, .ctx = &e, .sp = frame_sp };

	rec_init(&e, "rt_sigreturn", TREC_ENTRY, a, 0);
	c.nr = e.r.nr;
	dec_capture(&c);
	CHECK(dec_signal_line(buf, sizeof(buf), &e.r, &(struct dec_opts){ .strsize = 32 }));
	char want[128];

	snprintf(want, sizeof(want), "--- SIGUSR2 {si_signo=SIGUSR2, si_code=SI_USER, si_pid=%d, si_uid=%u} ---",
		 getpid(), getuid());
	CHECK_STR(buf, want);
}

/* ---- signal deliveries: real siginfos from this host's kernel, printed as
 * strace 6.1 printed the same deliveries (its lines, with the pids made %d) ---- */

static siginfo_t got[16];
static int ngot;
static sigjmp_buf segv_jb;

static void keep(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (ngot < 16)
		got[ngot++] = *si;
}

static void keep_and_jump(int sig, siginfo_t *si, void *uc)
{
	keep(sig, si, uc);
	siglongjmp(segv_jb, 1);
}

static void line_of(char *buf, size_t size, const siginfo_t *si)
{
	CHECK(dec_siginfo_line(buf, size, si, sizeof(*si)));
}

TEST(siginfo_lines)
{
	struct sigaction sa = { .sa_sigaction = keep, .sa_flags = SA_SIGINFO }, sj = sa, old[5];
	char buf[512], want[512];
	int me = getpid();
	unsigned uid = getuid();
	pid_t c;

	sj.sa_sigaction = keep_and_jump;
	sigaction(SIGUSR1, &sa, &old[0]);
	sigaction(SIGALRM, &sa, &old[1]);
	sigaction(SIGCHLD, &sa, &old[2]);
	sigaction(SIGSEGV, &sj, &old[3]);
	ngot = 0;
	sigqueue(me, SIGUSR1, (union sigval){ .sival_int = 42 });
	syscall(SYS_tgkill, me, gettid(), SIGUSR1);
	kill(me, SIGUSR1);
	{
		timer_t tm;
		struct sigevent se = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
		struct itimerspec its = { .it_value = { 0, 1000000 } };
		sigset_t m, om;

		se.sigev_value.sival_ptr = (void *)0x1234;
		sigemptyset(&m);
		sigaddset(&m, SIGALRM);
		sigprocmask(SIG_BLOCK, &m, &om);
		CHECK(timer_create(CLOCK_MONOTONIC, &se, &tm) == 0);
		timer_settime(tm, 0, &its, NULL);
		usleep(20000);
		sigprocmask(SIG_SETMASK, &om, NULL);
		timer_delete(tm);
	}
	volatile int *volatile bad = (volatile int *)(uintptr_t)0x10;

	if (!sigsetjmp(segv_jb, 1))
		*bad = 1;
	c = fork();
	if (!c)
		_exit(3);
	while (ngot < 6)
		pause();
	waitpid(c, NULL, 0);
	c = fork();
	if (!c) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
		_exit(0);
	}
	while (ngot < 7)
		pause();
	waitpid(c, NULL, 0);
	sigaction(SIGUSR1, &old[0], NULL);
	sigaction(SIGALRM, &old[1], NULL);
	sigaction(SIGCHLD, &old[2], NULL);
	sigaction(SIGSEGV, &old[3], NULL);
	CHECK_EQ(ngot, 7);
	if (ngot < 7)
		return;
	line_of(buf, sizeof(buf), &got[0]);
	snprintf(want, sizeof(want), "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_QUEUE, si_pid=%d, si_uid=%u, si_int=42, si_ptr=0x2a} ---", me, uid);
	CHECK_STR(buf, want);
	line_of(buf, sizeof(buf), &got[1]);
	snprintf(want, sizeof(want), "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_TKILL, si_pid=%d, si_uid=%u} ---", me, uid);
	CHECK_STR(buf, want);
	line_of(buf, sizeof(buf), &got[2]);
	snprintf(want, sizeof(want), "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=%d, si_uid=%u} ---", me, uid);
	CHECK_STR(buf, want);
	line_of(buf, sizeof(buf), &got[3]);
	snprintf(want, sizeof(want), "--- SIGALRM {si_signo=SIGALRM, si_code=SI_TIMER, si_timerid=%#x, si_overrun=0, si_int=4660, si_ptr=0x1234} ---",
		 (unsigned)got[3].si_timerid);
	CHECK_STR(buf, want);
	line_of(buf, sizeof(buf), &got[4]);
	CHECK_STR(buf, "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---");
	/* CLD_*: the times are the child's (clock ticks), strace adds seconds when non-zero */
	line_of(buf, sizeof(buf), &got[5]);
	snprintf(want, sizeof(want), "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=%d, si_uid=%u, si_status=3, si_utime=0, si_stime=0} ---",
		 got[5].si_pid, uid);
	if (!got[5].si_utime && !got[5].si_stime)
		CHECK_STR(buf, want);
	line_of(buf, sizeof(buf), &got[6]);
	snprintf(want, sizeof(want), "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=%d, si_uid=%u, si_status=SIGTERM, si_utime=0, si_stime=0} ---",
		 got[6].si_pid, uid);
	if (!got[6].si_utime && !got[6].si_stime)
		CHECK_STR(buf, want);
	/* strace's own line from the guest (tests/vm/test_trace_agree.sh's signal workload) */
	siginfo_t si = { .si_signo = SIGCHLD, .si_code = CLD_KILLED };

	si.si_pid = 147;
	si.si_status = SIGTERM;
	si.si_stime = 30;
	line_of(buf, sizeof(buf), &si);
	CHECK_STR(buf, "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=147, si_uid=0, si_status=SIGTERM, si_utime=0, si_stime=30 /* 0.30 s */} ---");
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGSEGV;
	si.si_code = SI_KERNEL;
	line_of(buf, sizeof(buf), &si);
	CHECK_STR(buf, "--- SIGSEGV {si_signo=SIGSEGV, si_code=SI_KERNEL, si_addr=NULL} ---");
	/* no signal: no line */
	memset(&si, 0, sizeof(si));
	CHECK(!dec_siginfo_line(buf, sizeof(buf), &si, sizeof(si)));
	CHECK(!dec_siginfo_line(buf, sizeof(buf), &si, 4));
}

/* A queue entry as the kernel keeps it. */
static void q_add(struct gears_sigq *q, int *n, int sig, int code, int pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = code;
	si.si_pid = pid;
	q[*n].sig = sig;
	memset(q[*n].info, 0, sizeof(q[*n].info));
	memcpy(q[*n].info, &si, sizeof(si));
	++*n;
}

#define B(s) (1ull << ((s) - 1))

/* get_signal()'s choices, against what this host's kernel does with the same
 * state: a blocked signal waits, synchronous ones first, the task's queue before
 * the process's, a handler's mask holds the next back, SIG_IGN and default-ignored
 * signals pass, a default-fatal one ends it. */
TEST(signal_deliveries)
{
	static struct gears_task_signals s;
	struct dec_delivery d[8];
	int n;

	memset(&s, 0, sizeof(s));
	s.have_actions = true;
	/* SIGUSR1 (handler, mask [USR2]) then SIGUSR2 held back by that mask; SIGCHLD default: ignored */
	s.act[SIGUSR1 - 1] = (struct gears_sigact){ .handler = 0x401000, .mask = B(SIGUSR2) };
	s.act[SIGUSR2 - 1] = (struct gears_sigact){ .handler = 0x401000 };
	q_add(s.sq, &s.nshared, SIGUSR2, SI_USER, 7);
	q_add(s.sq, &s.nshared, SIGUSR1, SI_USER, 7);
	q_add(s.sq, &s.nshared, SIGCHLD, CLD_EXITED, 8);
	s.shared = B(SIGUSR1) | B(SIGUSR2) | B(SIGCHLD);
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 2);
	CHECK_EQ(d[0].sig, SIGUSR1);
	CHECK_EQ(d[0].flags, 0);
	CHECK_EQ(d[1].sig, SIGCHLD);
	CHECK_EQ(d[1].flags, DEC_SIG_IGNORED);
	CHECK(d[0].info && ((const siginfo_t *)(const void *)d[0].info)->si_pid == 7);

	/* the task's own queue first, synchronous signals before lower numbers; a
	 * blocked one waits; SIGTERM by default kills */
	memset(&s, 0, sizeof(s));
	s.have_actions = true;
	s.act[SIGSEGV - 1].handler = 0x401000;
	q_add(s.q, &s.npending, SIGSEGV, SEGV_MAPERR, 0);
	q_add(s.q, &s.npending, SIGHUP, SI_USER, 3);
	q_add(s.sq, &s.nshared, SIGINT, SI_USER, 3);
	q_add(s.sq, &s.nshared, SIGTERM, SI_USER, 3);
	s.pending = B(SIGSEGV) | B(SIGHUP);
	s.shared = B(SIGINT) | B(SIGTERM);
	s.blocked = B(SIGHUP);
	s.act[SIGINT - 1].handler = 1;	/* SIG_IGN */
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(d[0].sig, SIGSEGV);
	CHECK_EQ(d[1].sig, SIGINT);
	CHECK_EQ(d[1].flags, DEC_SIG_IGNORED);
	CHECK_EQ(d[2].sig, SIGTERM);
	CHECK_EQ(d[2].flags, DEC_SIG_FATAL);

	/* a core signal with a core limit; a pending bit without its queue entry
	 * (the kernel's SI_USER, pid 0) */
	memset(&s, 0, sizeof(s));
	s.have_actions = true;
	s.pending = B(SIGQUIT);
	s.core_limit = ~0ull;
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(d[0].flags, DEC_SIG_FATAL | DEC_SIG_CORE);
	{
		char buf[256];

		CHECK(dec_siginfo_line(buf, sizeof(buf), d[0].info, GEARS_SIGINFO_SIZE));
		CHECK_STR(buf, "--- SIGQUIT {si_signo=SIGQUIT, si_code=SI_USER, si_pid=0, si_uid=0} ---");
	}

	/* the process is dying: SIGKILL pending, group_exit_code says of what */
	memset(&s, 0, sizeof(s));
	s.pending = B(SIGKILL);
	q_add(s.sq, &s.nshared, SIGTERM, SI_USER, 5);
	s.shared = B(SIGTERM);
	s.group_exit_code = SIGTERM;
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(d[0].sig, SIGTERM);
	CHECK_EQ(d[0].flags, DEC_SIG_FATAL);
	CHECK(d[0].info != NULL);
	/* ... or another thread's exit_group(3) */
	s.group_exit_code = 3 << 8;
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(d[0].flags, DEC_SIG_FATAL | DEC_SIG_NOLINE | DEC_SIG_EXITED);
	CHECK_EQ(d[0].status, 3);
	/* kill -9: no line, killed */
	memset(&s, 0, sizeof(s));
	s.pending = B(SIGKILL);
	s.group_exit_code = SIGKILL;
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(d[0].sig, SIGKILL);
	CHECK(d[0].flags & DEC_SIG_NOLINE);

	/* nothing deliverable; hostile counts give nothing */
	memset(&s, 0, sizeof(s));
	s.shared = B(SIGUSR1);
	s.blocked = ~0ull;
	CHECK_EQ(dec_sig_deliveries(&s, d, 8), 0);
	s.blocked = 0;
	s.nshared = GEARS_SIGQ_MAX + 1;
	CHECK_EQ(dec_sig_deliveries(&s, d, 8), 0);
	/* all 64 pending with handlers that block nothing: bounded by max */
	memset(&s, 0, sizeof(s));
	s.have_actions = true;
	for (int i = 0; i < 64; i++)
		s.act[i] = (struct gears_sigact){ .handler = 0x401000, .flags = SA_NODEFER };
	s.pending = ~0ull & ~B(SIGKILL) & ~B(SIGSTOP);
	n = dec_sig_deliveries(&s, d, 8);
	CHECK_EQ(n, 8);
}
