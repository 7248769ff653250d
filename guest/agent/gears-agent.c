/*
 * gears-agent — PID 1 of the default GEARS guest, serving the host over /dev/ttyS1.
 *
 * The protocol is docs/guest-agent.md: frames "<TYPE> <ID> <LEN>\n<payload>" both
 * ways. One poll() loop multiplexes the serial line, a signalfd for SIGCHLD and the
 * stdout/stderr pipes of every running EXEC request; nothing here blocks for long.
 *
 * Being PID 1 shapes the code: every orphan in the guest is reparented to us and must
 * be reaped, and exiting panics the kernel, so fatal errors end in exec'ing a shell
 * on the console instead (see fatal()).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SERIAL_DEV   "/dev/ttyS1"
#define MAX_PAYLOAD  (1u << 20)   /* protocol limit on LEN */
#define MAX_HEADER   64           /* "TYPE ID LEN\r\n": 15 + 1 + 19 + 1 + 19 + 2 fits */
#define MAX_REQS     64           /* concurrent EXEC/CONSOLE requests */
#define CHUNK        65536        /* one read from a pipe or the serial line */
#define OUTQ_HIGH    (256 * 1024) /* above this, stop reading children (backpressure) */
#define SHELL_LOOP   "while :; do setsid cttyhack sh -l; sleep 1; done"

/* A byte queue: data is buf[start, len). Consuming only advances start, so a slow
 * serial line draining a big queue a few bytes at a time costs no memmove. */
struct buf {
	char *buf;
	size_t start, len, cap;
};

enum kind { REQ_EXEC, REQ_CONSOLE, REQ_RUN };

struct req {
	int used;
	unsigned long long id;
	pid_t pid;   /* also its process group: children call setsid() */
	enum kind kind;
	int fd[2];   /* read ends of the child's stdout and stderr (EXEC), -1 once closed */
};

static int serial = -1;
static int console = -1;           /* our controlling terminal: see own_console() */
static struct termios console_saved;
static struct buf inq, outq;
static unsigned long long in_skip; /* payload bytes of a rejected frame still to drop */
static int in_discard_line;        /* an overlong header line is being dropped */
static struct req reqs[MAX_REQS];

static void fatal(const char *what)
{
	/* Never exit as PID 1: the kernel would panic and the host would lose the
	 * console too. A shell on the console is the most useful thing left. */
	fprintf(stderr, "gears-agent: %s: %s; starting a shell\n", what, strerror(errno));
	if (getpid() != 1)
		exit(1);
	execl("/bin/sh", "sh", "-c", SHELL_LOOP, (char *)NULL);
	for (;;)
		pause();
}

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	if (b->start > 0) { /* compact first: often enough on its own */
		memmove(b->buf, b->buf + b->start, b->len - b->start);
		b->len -= b->start;
		b->start = 0;
		if (b->len + more <= b->cap)
			return;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	char *p = realloc(b->buf, cap);
	if (!p)
		fatal("out of memory");
	b->buf = p;
	b->cap = cap;
}

static void buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start == b->len)
		b->start = b->len = 0;
}

static size_t buf_used(const struct buf *b) { return b->len - b->start; }

/* Frames are queued, never written directly: the serial line is non-blocking and
 * the host may be slow to read, so the loop writes whatever the tty accepts
 * whenever poll() says POLLOUT. */
static void send_frame(const char *type, unsigned long long id, const void *data, size_t n)
{
	char hdr[MAX_HEADER];
	int h = snprintf(hdr, sizeof hdr, "%s %llu %zu\n", type, id, n);
	buf_reserve(&outq, (size_t)h + n);
	memcpy(outq.buf + outq.len, hdr, (size_t)h);
	if (n)
		memcpy(outq.buf + outq.len + h, data, n);
	outq.len += (size_t)h + n;
}

static void send_fail(unsigned long long id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send_fail(unsigned long long id, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	send_frame("FAIL", id, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

static void flush_out(void)
{
	while (buf_used(&outq) > 0) {
		ssize_t n = write(serial, outq.buf + outq.start, buf_used(&outq));
		if (n > 0) {
			buf_consume(&outq, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return; /* poll() tells us when there is room again */
		} else {
			/* EIO and friends: nobody can read this; don't let it pile up. */
			fprintf(stderr, "gears-agent: write %s: %s\n", SERIAL_DEV, strerror(errno));
			outq.start = outq.len = 0;
			return;
		}
	}
}

/* Flush with a deadline, for the last words before power-off. */
static void drain_out(int ms)
{
	for (int waited = 0; buf_used(&outq) > 0 && waited < ms; waited += 10) {
		flush_out();
		struct pollfd p = { .fd = serial, .events = POLLOUT };
		poll(&p, 1, 10);
	}
	tcdrain(serial);
}

static struct req *find_req(unsigned long long id)
{
	for (int i = 0; i < MAX_REQS; i++)
		if (reqs[i].used && reqs[i].id == id)
			return &reqs[i];
	return NULL;
}

/* The console's real device: /dev/console itself cannot become a controlling tty.
 * The kernel lists active consoles with the one behind /dev/console last. */
static void console_device(char *path, size_t size)
{
	char line[128] = "";
	snprintf(path, size, "/dev/ttyS0");
	FILE *f = fopen("/sys/class/tty/console/active", "re");
	if (!f)
		return;
	if (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *last = strrchr(line, ' ');
		last = last ? last + 1 : line;
		if (*last)
			snprintf(path, size, "/dev/%s", last);
	}
	fclose(f);
}

/* In the child: set up stdio and exec. Any failure is described on the status
 * pipe (close-on-exec, so it reads as EOF once exec succeeded) and the parent
 * answers FAIL instead of EXIT. */
static void child(enum kind kind, char **argv, const char *cwd, int out, int err, int status)
{
	char msg[256];
	const char *step = "chdir";
	int fd = -1;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* we block SIGCHLD for the signalfd */
	if (chdir(cwd ? cwd : "/") < 0)
		goto fail;
	if (kind == REQ_EXEC) {
		setsid(); /* own session and process group: SIGNAL is kill(-pid) */
		step = "stdio";
		if ((fd = open("/dev/null", O_RDWR)) < 0 || dup2(fd, 0) < 0 ||
		    dup2(out, 1) < 0 || dup2(err, 2) < 0)
			goto fail;
	} else {
		/* Our own process group, in the foreground of the console the agent
		 * holds as session leader: Ctrl-C reaches the command, and its exit
		 * does not hang the tty up (which would discard its last output). */
		step = "console";
		if (console < 0) {
			errno = ENOTTY;
			goto fail;
		}
		setpgid(0, 0);
		if (tcsetpgrp(console, getpid()) < 0 ||
		    dup2(console, 0) < 0 || dup2(console, 1) < 0 || dup2(console, 2) < 0)
			goto fail;
		if (kind == REQ_RUN) {
			/* The host wants the command's bytes as written: no "\n" ->
			 * "\r\n" on output, no echo of (absent) input. */
			struct termios t;

			step = "tcsetattr";
			if (tcgetattr(console, &t) < 0)
				goto fail;
			t.c_oflag &= ~(tcflag_t)OPOST;
			t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			if (tcsetattr(console, TCSANOW, &t) < 0)
				goto fail;
		}
		/* The agent ignores job-control signals; the command must not. */
		signal(SIGTTOU, SIG_DFL);
		signal(SIGTTIN, SIG_DFL);
		signal(SIGTSTP, SIG_DFL);
	}
	if (fd > 2)
		close(fd);
	step = argv[0];
	execvp(argv[0], argv);
fail:
	snprintf(msg, sizeof msg, "%s: %s", step, strerror(errno));
	if (write(status, msg, strlen(msg)) < 0)
		_exit(127);
	_exit(127);
}

/* Become the console's session leader, so commands run in its foreground
 * without owning it. Without a console we still serve EXEC. */
static void own_console(void)
{
	char dev[64];

	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	console_device(dev, sizeof dev);
	setsid();
	console = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (console >= 0 && ioctl(console, TIOCSCTTY, 1) < 0) {
		close(console);
		console = -1;
	}
	if (console >= 0)
		tcgetattr(console, &console_saved);
}

/* The working directory a CWD message set for request cwd_id (else "/"). */
static char cwd[4096];
static unsigned long long cwd_id;

/* EXEC and CONSOLE: payload is argv as NUL-terminated strings. */
static void start_req(enum kind kind, unsigned long long id, char *p, size_t n)
{
	static char *sh[] = { "/bin/sh", NULL };
	char **argv = sh;
	struct req *r = NULL;
	for (int i = 0; i < MAX_REQS && !r; i++)
		if (!reqs[i].used)
			r = &reqs[i];
	if (find_req(id)) {
		send_fail(id, "request id %llu is in use", id);
		return;
	}
	if (!r) {
		send_fail(id, "too many requests");
		return;
	}
	for (int i = 0; i < MAX_REQS && kind != REQ_EXEC; i++) {
		if (reqs[i].used && reqs[i].kind != REQ_EXEC) {
			send_fail(id, "the console is in use by request %llu", reqs[i].id);
			return;
		}
	}
	if (n > 0 || kind == REQ_EXEC) {
		if (n == 0 || p[n - 1] != '\0') {
			send_fail(id, "malformed argv");
			return;
		}
		size_t argc = 0;
		for (size_t i = 0; i < n; i++)
			argc += p[i] == '\0';
		if (!(argv = calloc(argc + 1, sizeof *argv)))
			fatal("out of memory");
		argc = 0;
		for (size_t i = 0; i < n; i += strlen(p + i) + 1)
			argv[argc++] = p + i;
	}

	/* Every descriptor of ours is close-on-exec, so children inherit none. */
	int st[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	char msg[256];
	ssize_t got;
	pid_t pid;
	if (pipe2(st, O_CLOEXEC) < 0 ||
	    (kind == REQ_EXEC && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0))) {
		send_fail(id, "pipe: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		send_fail(id, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(kind, argv, cwd_id == id && *cwd ? cwd : NULL, out[1], err[1], st[1]);
	cwd_id = 0;
	close(st[1]);
	st[1] = -1;
	while ((got = read(st[0], msg, sizeof msg - 1)) < 0 && errno == EINTR)
		;
	if (got > 0) { /* the child is reaped later, like any orphan */
		send_frame("FAIL", id, msg, (size_t)got);
		goto out;
	}
	*r = (struct req){ .used = 1, .id = id, .pid = pid, .kind = kind, .fd = { out[0], err[0] } };
	if (kind != REQ_EXEC) {
		setpgid(pid, pid);	/* as the child does: whoever runs first */
		tcsetpgrp(console, pid);
	}
	{
		/* The host may want to follow this process (gears trace -- CMD). */
		char pidtxt[24];
		int pn = snprintf(pidtxt, sizeof pidtxt, "%d", (int)pid);

		send_frame("PID", id, pidtxt, (size_t)pn);
	}
	out[0] = err[0] = -1;
	for (int i = 0; i < 2; i++)
		if (r->fd[i] >= 0)
			fcntl(r->fd[i], F_SETFL, O_NONBLOCK);
out:
	for (int i = 0; i < 2; i++) {
		if (st[i] >= 0)
			close(st[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	if (argv != sh)
		free(argv);
}

/* Forward what a child wrote: 1 if there was something, 0 if the pipe is empty
 * or at EOF (then it is closed). */
static int pump(struct req *r, int which)
{
	static char chunk[CHUNK];
	ssize_t n;
	while ((n = read(r->fd[which], chunk, sizeof chunk)) < 0 && errno == EINTR)
		;
	if (n > 0) {
		send_frame(which ? "ERR" : "OUT", r->id, chunk, (size_t)n);
		return 1;
	}
	if (n < 0 && errno == EAGAIN)
		return 0;
	close(r->fd[which]);
	r->fd[which] = -1;
	return 0;
}

/* A request ends when its process does. Whatever it wrote before exiting is in
 * the pipes already; take that, but don't wait for EOF: a daemon it left behind
 * may hold the pipes open for ever. */
static void finish_req(struct req *r, int status)
{
	char st[32];
	for (int i = 0; i < 2; i++) {
		while (r->fd[i] >= 0 && pump(r, i))
			;
		if (r->fd[i] >= 0)
			close(r->fd[i]);
	}
	if (r->kind != REQ_EXEC) {
		/* The console and this channel are separate wires, each paced by
		 * QEMU on its own, so EXIT may overtake the command's last console
		 * bytes. For RUN, an end mark in the console stream itself tells the
		 * host where the command's output ends. */
		char mark[64];
		int n;

		if (console >= 0) {
			tcsetpgrp(console, getpgrp());
			if (r->kind == REQ_RUN) {
				n = snprintf(mark, sizeof mark, "\033]gears-end;%llu\007", r->id);
				if (write(console, mark, (size_t)n) < 0)
					n = 0;
			}
			tcdrain(console);
			tcsetattr(console, TCSANOW, &console_saved);
		}
	}
	if (WIFSIGNALED(status))
		snprintf(st, sizeof st, "signal %d", WTERMSIG(status));
	else
		snprintf(st, sizeof st, "%d", WEXITSTATUS(status));
	send_frame("EXIT", r->id, st, strlen(st));
	r->used = 0;
}

/* PID 1 duty: reap everything, our requests and the orphans the kernel hands us. */
static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_REQS; i++)
			if (reqs[i].used && reqs[i].pid == pid)
				finish_req(&reqs[i], status);
	}
}

static void do_signal(unsigned long long id, const char *p, size_t n)
{
	char num[16];
	char *end;
	if (n == 0 || n >= sizeof num) {
		send_fail(id, "malformed signal number");
		return;
	}
	memcpy(num, p, n);
	num[n] = 0;
	long sig = strtol(num, &end, 10);
	if (*end || sig < 1 || sig >= NSIG) {
		send_fail(id, "malformed signal number");
		return;
	}
	/* An id that is not running may have just finished: the race is the host's
	 * to expect, so it is no error. */
	struct req *r = find_req(id);
	if (r)
		kill(-r->pid, (int)sig);
}

static void do_poweroff(unsigned long long id)
{
	drain_out(1000); /* EXIT frames already queued should reach the host */
	sync();
	/* Give everything a moment to exit cleanly, then make sure. */
	kill(-1, SIGTERM);
	for (int i = 0; i < 50; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sync();
	reboot(RB_POWER_OFF);
	send_fail(id, "poweroff: %s", strerror(errno)); /* only when not PID 1 / not root */
}

/* CWD: the working directory of the request `id` that comes next. */
static void set_cwd(unsigned long long id, const char *p, size_t n)
{
	if (!id || n == 0 || n >= sizeof(cwd) || memchr(p, 0, n) || p[0] != '/') {
		send_fail(id, "CWD needs an absolute directory");
		return;
	}
	memcpy(cwd, p, n);
	cwd[n] = 0;
	cwd_id = id;
}

static void dispatch(const char *type, unsigned long long id, char *p, size_t n)
{
	if (!strcmp(type, "CWD"))
		set_cwd(id, p, n);
	else if (!strcmp(type, "EXEC"))
		start_req(REQ_EXEC, id, p, n);
	else if (!strcmp(type, "CONSOLE"))
		start_req(REQ_CONSOLE, id, p, n);
	else if (!strcmp(type, "RUN"))
		start_req(REQ_RUN, id, p, n);
	else if (!strcmp(type, "SIGNAL"))
		do_signal(id, p, n);
	else if (!strcmp(type, "POWEROFF"))
		do_poweroff(id);
	else
		send_fail(id, "unknown request %s", type);
}

/* Decimal, at most 19 digits so that it fits without overflow checks. */
static int parse_num(const char **p, const char *end, unsigned long long *v)
{
	int digits = 0;
	for (*v = 0; *p < end && **p >= '0' && **p <= '9' && digits < 19; (*p)++, digits++)
		*v = *v * 10 + (unsigned)(**p - '0');
	return digits > 0 && (*p == end || **p < '0' || **p > '9');
}

/* "TYPE ID LEN" (the '\n' excluded, a trailing '\r' allowed). */
static int parse_header(const char *p, const char *end, char type[16],
			unsigned long long *id, unsigned long long *len)
{
	size_t t = 0;
	while (p < end && *p >= 'A' && *p <= 'Z' && t < 15)
		type[t++] = *p++;
	type[t] = 0;
	if (t == 0 || p == end || *p++ != ' ' || !parse_num(&p, end, id) ||
	    p == end || *p++ != ' ' || !parse_num(&p, end, len))
		return 0;
	if (p < end && *p == '\r')
		p++;
	return p == end;
}

/* Handle every complete frame in inq. Malformed input is answered with FAIL and
 * skipped, so one bad frame does not desynchronise the stream for ever. */
static void process_input(void)
{
	for (;;) {
		char *p = inq.buf + inq.start;
		size_t avail = buf_used(&inq);
		if (in_skip > 0) {
			size_t n = in_skip < avail ? (size_t)in_skip : avail;
			buf_consume(&inq, n);
			in_skip -= n;
			if (in_skip > 0)
				return;
			continue;
		}
		if (in_discard_line) {
			char *nl = memchr(p, '\n', avail);
			buf_consume(&inq, nl ? (size_t)(nl - p) + 1 : avail);
			if (!nl)
				return;
			in_discard_line = 0;
			continue;
		}
		while (avail > 0 && (*p == '\r' || *p == '\n')) {
			buf_consume(&inq, 1);
			p = inq.buf + inq.start;
			avail = buf_used(&inq);
		}
		if (avail == 0)
			return;
		char *nl = memchr(p, '\n', avail < MAX_HEADER ? avail : MAX_HEADER);
		if (!nl) {
			if (avail >= MAX_HEADER) {
				send_fail(0, "header too long");
				in_discard_line = 1;
				continue;
			}
			return; /* wait for the rest of the header */
		}
		size_t hlen = (size_t)(nl - p) + 1;
		char type[16];
		unsigned long long id, len;
		if (!parse_header(p, nl, type, &id, &len)) {
			send_fail(0, "malformed header");
			buf_consume(&inq, hlen);
			continue;
		}
		if (len > MAX_PAYLOAD) {
			send_fail(id, "payload of %llu bytes exceeds the limit", len);
			buf_consume(&inq, hlen);
			in_skip = len;
			continue;
		}
		if (avail < hlen + len) {
			buf_reserve(&inq, hlen + len - avail);
			return; /* wait for the rest of the payload */
		}
		dispatch(type, id, p + hlen, (size_t)len);
		buf_consume(&inq, hlen + (size_t)len);
	}
}

static void read_serial(void)
{
	for (;;) {
		buf_reserve(&inq, CHUNK);
		ssize_t n = read(serial, inq.buf + inq.len, inq.cap - inq.len);
		if (n > 0) {
			inq.len += (size_t)n;
			process_input(); /* keeps inq bounded however much the host sends */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return; /* EAGAIN: all read. 0 or EIO should not happen with CLOCAL. */
	}
}

static void open_serial(void)
{
	struct termios t;
	serial = open(SERIAL_DEV, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (serial < 0)
		fatal("open " SERIAL_DEV);
	if (tcgetattr(serial, &t) < 0)
		fatal("tcgetattr " SERIAL_DEV);
	/* Raw, 8 bits, no echo, no flow control; CLOCAL so that modem lines (which a
	 * QEMU chardev does not drive) never hang the line up. */
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(CRTSCTS | HUPCL);
	cfsetspeed(&t, B115200);
	if (tcsetattr(serial, TCSANOW, &t) < 0)
		fatal("tcsetattr " SERIAL_DEV);
	/* Anything received before raw mode was mangled (and echoed) by the cooked
	 * line discipline; the host must wait for READY before it sends. */
	tcflush(serial, TCIFLUSH);
}

int main(int argc, char **argv)
{
	/* /init runs this first: a binary the kernel cannot exec would otherwise be
	 * run by the shell as a script, and PID 1 would die with it. */
	if (argc > 1 && !strcmp(argv[1], "--check"))
		return 0;
	static const char path[] =
		"/gears/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	/* The environment of commands (docs/guest-agent.md); execvp searches our PATH. */
	clearenv();
	setenv("PATH", path, 1);
	setenv("HOME", "/root", 1);
	setenv("TERM", "linux", 1);
	umask(022);
	/* Descriptors 0-2 must be taken, or a pipe could land there and be clobbered
	 * by a child's dup2(). /init gives us the console; be sure anyway. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			fatal("open /dev/null");
	if (chdir("/") < 0)
		fatal("chdir /");

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		fatal("signalfd");

	open_serial();
	own_console();
	struct utsname u;
	char ready[sizeof u.release + 16];
	uname(&u);
	int n = snprintf(ready, sizeof ready, "release=%s\n", u.release);
	send_frame("READY", 0, ready, (size_t)n);
	reap(); /* orphans that predate us (init's children) */

	for (;;) {
		struct pollfd pfd[2 + 2 * MAX_REQS];
		struct req *owner[2 + 2 * MAX_REQS];
		int which[2 + 2 * MAX_REQS];
		int nfd = 0;
		flush_out();
		pfd[nfd++] = (struct pollfd){ .fd = serial,
			.events = POLLIN | (buf_used(&outq) ? POLLOUT : 0) };
		pfd[nfd++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		/* Children's output waits in their pipes while the host is behind. */
		if (buf_used(&outq) < OUTQ_HIGH) {
			for (int i = 0; i < MAX_REQS; i++) {
				for (int k = 0; k < 2; k++) {
					if (!reqs[i].used || reqs[i].fd[k] < 0)
						continue;
					owner[nfd] = &reqs[i];
					which[nfd] = k;
					pfd[nfd++] = (struct pollfd){ .fd = reqs[i].fd[k], .events = POLLIN };
				}
			}
		}
		/* Wake once a second even with nothing to do: an injection into
		 * PID 1 (gears vnet accel, gears inject -p 1) takes it at its next
		 * system call, and a sleeping task is otherwise only woken from an
		 * idle vCPU, which a guest whose vCPUs are all busy never has. */
		if (poll(pfd, (nfds_t)nfd, 1000) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & (POLLIN | POLLERR | POLLHUP))
			read_serial();
		if (pfd[0].revents & (POLLERR | POLLHUP) && !(pfd[0].revents & POLLIN))
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
		for (int i = 2; i < nfd; i++)
			if (pfd[i].revents && owner[i]->used && owner[i]->fd[which[i]] == pfd[i].fd)
				pump(owner[i], which[i]);
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			reap();
		}
	}
}
