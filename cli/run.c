// SPDX-License-Identifier: MIT
/*
 * gears run: launch a guest and supervise it.
 *
 * The supervisor owns the VM for its whole life: it relays the serial console,
 * speaks to the guest agent (docs/guest-agent.md) to run the command and to power
 * off, serves other gears processes on the control socket (ctl.sock: `gears exec`,
 * `gears stop`), and on every way out — command done, guest panic, QEMU crash,
 * Ctrl-C, SIGTERM — stops QEMU and removes the runtime files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gears/env.h>
#include <gears/vm.h>

#include "cli.h"
#include "frame.h"
#include "trace_srv.h"
#include "svc_srv.h"
#include "../lib/sock.h"

#define MAX_CLIENTS 32
/* After a synchronous request, spin this long for the next one: a dense stream
 * (filter-mode tracing) is served without sleeping, while a sparse one (an
 * execve now and then) does not cost a host CPU that the vCPUs need. */
#define BUSY_SPIN_NS 200000ull
#define MAX_FWD 256
#define MAIN_ID 1		/* agent request id of the main command */
#define EARLY_MAX (64u << 10)	/* console bytes kept from before the command starts */
#define AGENT_TIMEOUT_MS 120000	/* TCG boot is ~4 s; a loaded CI machine is slower */
#define POWEROFF_TIMEOUT_MS 15000
#define ESCAPE_CHAR 0x1d	/* Ctrl-] */
#define MARK_WAIT_MS 3000	/* EXIT seen: how long the end mark may lag */
#define GEARS_MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

#define OUTQ_MAX (256u << 20)	/* a client this far behind loses records */

struct client {
	int fd;
	struct frame_reader rd;
	char *out;		/* frames not yet written (non-blocking socket) */
	size_t out_len, out_cap;
	uint64_t lost;		/* frames dropped because out was full */
};

struct fwd {			/* an agent request made on behalf of a client */
	uint32_t agent_id;
	int client;
	uint32_t client_id;
};

struct sup {
	struct gears_vm *vm;
	char **cmd;		/* NULL: interactive shell */
	bool tty;		/* stdin and stdout are a terminal: relay keys, raw mode */
	bool raw;
	struct termios saved;
	bool timing;
	int con_fd, agent_fd, ctl_fd, sig_fd;
	struct frame_reader agent_rd;
	enum { AG_WAIT, AG_READY } agent;
	bool cmd_sent, cmd_done;
	int cmd_status;
	uint64_t t0, t_init, t_ready;
	char *early;
	size_t early_len;
	bool show_console;
	bool want_mark;		/* RUN: the command's output ends at the agent's mark */
	char mark[32];
	size_t mark_len;
	size_t held;		/* bytes at the end of out_hold that may start the mark */
	char out_hold[32];
	uint64_t mark_deadline;	/* EXIT came: wait this long for the mark */
	bool exit_pending;	/* EXIT seen, power-off waits for the mark */
	struct client clients[MAX_CLIENTS];
	struct fwd fwd[MAX_FWD];
	int nfwd;
	uint32_t next_id;
	bool hold;		/* --hold: start the command when a client says GO */
	int main_pid;		/* pid of the command in the guest (agent's PID frame) */
	struct tsrv *ts;	/* system call tracing for `gears trace` clients */
	struct svc *svc;	/* env rules, injections, hypercalls */
	int bell_fd;		/* the VM's doorbell chardev (-1: none, poll instead) */
	const char *env[64];	/* --env rules, applied before the command */
	const char *qemu_args[65];	/* --qemu-arg, NULL-terminated */
	int nqemu_args;
	int nenv;
	bool hypercalls;
	bool stopping;		/* graceful power-off requested */
	uint64_t stop_deadline;
	int sigints;
	int exit_code;		/* -1: decide at the end */
	char why[256];		/* why the VM went away, if abnormally */
	bool guest_reset;
};

static void client_send(void *ctx, int ci, const char *type, uint32_t id, const void *data, size_t len);

static void help(FILE *f)
{
	fprintf(f,
		"Options:\n"
		"  --name NAME        name the VM, so other gears commands can find it\n"
		"  --smp N            vCPUs (default 2)\n"
		"  --mem SIZE         guest RAM, e.g. 512M, 2G (default 512M)\n"
		"  --kernel FILE      guest kernel (default: the project's Debian kernel)\n"
		"  --initrd FILE      initramfs (default: the project's image)\n"
		"  --append STRING    kernel command line (default: console=ttyS0 quiet panic=-1)\n"
		"  --accel MODE       auto (default), tcg or kvm; auto picks kvm only where hardware\n"
		"                     virtualization can boot Linux\n"
		"  --timing           print boot milestones (QEMU up, guest /init, agent ready)\n"
		"  --hold             boot, but start CMD only when a client on the control socket\n"
		"                     says GO (how `gears trace -- CMD` starts tracing first)\n"
		"  --env RULE         change the environment of every matching execve in the guest\n"
		"                     (repeatable): [GLOB:]VAR=VALUE, [GLOB:]VAR+=VALUE (prepend to a\n"
		"                     colon list), [GLOB:]-VAR; see `gears env --help`\n"
		"  --hypercalls       answer the GEARS hypercall (PING) for guest code from boot\n"
		"  --qemu-arg ARG     append ARG to QEMU's command line (repeatable; for devices\n"
		"                     GEARS does not manage itself)\n"
		"  -- CMD ARGS...     run CMD in the guest, pass its output through, power off and\n"
		"                     exit with CMD's status; without CMD, an interactive console\n"
		"                     (Ctrl-] leaves and stops the VM)\n\n"
		"Exit status: CMD's own; 125 if the guest or QEMU died first; 128+N on signal N.\n");
}

static double ms_since(const struct sup *s, uint64_t t)
{
	return (double)(t - s->t0) / 1e6;
}

static void restore_tty(struct sup *s)
{
	if (s->raw) {
		tcsetattr(0, TCSAFLUSH, &s->saved);
		s->raw = false;
	}
}

static void set_raw(struct sup *s)
{
	struct termios t;

	if (tcgetattr(0, &s->saved))
		return;
	t = s->saved;
	cfmakeraw(&t);
	if (!tcsetattr(0, TCSAFLUSH, &t))
		s->raw = true;
}

static void out_write(const char *p, size_t n)
{
	gears_sock_write_all(1, p, n);
}

static void power_off(struct sup *s);

/*
 * RUN output: pass bytes through until the agent's end mark, holding back a
 * tail that could be the start of a mark split across reads.
 */
static void console_marked(struct sup *s, const char *buf, size_t n)
{
	char tmp[65536 + 32];
	size_t len = s->held, i;

	memcpy(tmp, s->out_hold, s->held);
	memcpy(tmp + len, buf, n);
	len += n;
	s->held = 0;
	char *m = memmem(tmp, len, s->mark, s->mark_len);

	if (m) {
		out_write(tmp, (size_t)(m - tmp));
		s->show_console = false;	/* the rest is the kernel powering off */
		s->want_mark = false;
		if (s->exit_pending)
			power_off(s);
		return;
	}
	/* Keep the longest suffix that is a prefix of the mark. */
	for (i = GEARS_MIN_SZ(len, s->mark_len - 1); i > 0; i--)
		if (!memcmp(tmp + len - i, s->mark, i))
			break;
	out_write(tmp, len - i);
	memcpy(s->out_hold, tmp + len - i, i);
	s->held = i;
}

static void console_input(struct sup *s)
{
	char buf[65536];
	ssize_t n = read(s->con_fd, buf, sizeof(buf));

	if (n <= 0) {
		close(s->con_fd);
		s->con_fd = -1;
		return;
	}
	if (s->show_console && s->want_mark) {
		console_marked(s, buf, (size_t)n);
	} else if (s->show_console) {
		out_write(buf, (size_t)n);
	} else if (s->early_len + (size_t)n <= EARLY_MAX) {
		memcpy(s->early + s->early_len, buf, (size_t)n);
		s->early_len += (size_t)n;
	}
}

static void stdin_input(struct sup *s)
{
	char buf[4096];
	ssize_t n = read(0, buf, sizeof(buf));

	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == ESCAPE_CHAR) {
			snprintf(s->why, sizeof(s->why), "console closed with Ctrl-]");
			s->exit_code = s->cmd_done ? s->cmd_status : 0;
			kill(getpid(), SIGTERM);	/* leave through the common path */
			return;
		}
	}
	if (s->con_fd >= 0)
		gears_sock_write_all(s->con_fd, buf, (size_t)n);
}

/* --env and --hypercalls take effect before the command's first execve. */
static int setup_services(struct sup *s)
{
	char err[sizeof(s->why) - 8];
	int r = 0;

	for (int i = 0; i < s->nenv && !r; i++)
		r = svc_add_env(s->svc, s->env[i], err, sizeof(err));
	if (!r && s->hypercalls)
		r = svc_enable_hypercalls(s->svc, err, sizeof(err));
	if (r) {
		snprintf(s->why, sizeof(s->why), "%s", err);
		s->exit_code = 125;
		power_off(s);
	}
	return r;
}

static void start_command(struct sup *s)
{
	size_t len = 0;
	char *payload = argv_pack(s->cmd, &len);

	/* RUN switches off the console's output processing, so what the command
	 * writes reaches our stdout byte for byte; on a terminal, CONSOLE keeps
	 * the usual tty behaviour. */
	if (!s->tty && s->cmd) {
		s->want_mark = true;
		s->mark_len = (size_t)snprintf(s->mark, sizeof(s->mark), "\033]gears-end;%d\007", MAIN_ID);
	}
	frame_send(s->agent_fd, (s->tty || !s->cmd) ? "CONSOLE" : "RUN", MAIN_ID, payload, len);
	free(payload);
	s->cmd_sent = true;
	s->show_console = true;
	if (!s->cmd && !s->tty)
		fprintf(stderr, "gears: no terminal: the guest shell reads nothing; use -- CMD\n");
}

static struct fwd *find_fwd(struct sup *s, uint32_t agent_id)
{
	for (int i = 0; i < s->nfwd; i++)
		if (s->fwd[i].agent_id == agent_id)
			return &s->fwd[i];
	return NULL;
}

static void drop_fwd(struct sup *s, struct fwd *f)
{
	*f = s->fwd[--s->nfwd];
}

static void power_off(struct sup *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->stop_deadline = cli_now_ns() + POWEROFF_TIMEOUT_MS * 1000000ull;
	if (s->agent == AG_READY && s->agent_fd >= 0) {
		frame_send(s->agent_fd, "POWEROFF", 0, NULL, 0);
	} else {
		/* No agent: ask through ACPI; the deadline catches a guest that ignores it. */
		json_decref(gears_qmp__execute(gears_vm__qmp(s->vm), "system_powerdown", NULL));
	}
}

static int parse_status(const char *p)
{
	int sig;

	if (sscanf(p, "signal %d", &sig) == 1)
		return 128 + sig;
	return atoi(p) & 0xff;
}

static void agent_frame(struct sup *s, struct frame *f)
{
	if (f->id == 0 && !strcmp(f->type, "FAIL")) {
		fprintf(stderr, "gears: guest agent: %s\n", f->data);
		return;
	}
	if (!strcmp(f->type, "INIT")) {
		s->t_init = cli_now_ns();
		if (s->timing)
			fprintf(stderr, "gears: timing: guest /init started at %.1f ms\n", ms_since(s, s->t_init));
		return;
	}
	if (!strcmp(f->type, "READY")) {
		s->t_ready = cli_now_ns();
		s->agent = AG_READY;
		if (s->timing)
			fprintf(stderr, "gears: timing: agent ready at %.1f ms\n", ms_since(s, s->t_ready));
		if (setup_services(s))
			return;
		if (!s->cmd_sent && !s->hold)
			start_command(s);
		return;
	}
	if (f->id == MAIN_ID && !strcmp(f->type, "PID")) {
		s->main_pid = atoi(f->data);
		tsrv_announce_pid(s->ts, s->main_pid);
		return;
	}
	if (f->id == MAIN_ID) {
		if (!strcmp(f->type, "EXIT") || !strcmp(f->type, "FAIL")) {
			s->cmd_done = true;
			if (!strcmp(f->type, "EXIT")) {
				s->cmd_status = parse_status(f->data);
			} else {
				fprintf(stderr, "gears: guest could not run the command: %s\n", f->data);
				s->cmd_status = 127;
				s->want_mark = false;
				if (!s->tty)
					s->show_console = false;	/* only the kernel from here */
			}
			if (s->want_mark) {
				/* Its last output may still be on the console wire. */
				s->exit_pending = true;
				s->mark_deadline = cli_now_ns() + MARK_WAIT_MS * 1000000ull;
			} else {
				power_off(s);
			}
		}
		return;
	}
	struct fwd *w = find_fwd(s, f->id);

	if (!w)
		return;
	client_send(s, w->client, f->type, w->client_id, f->data, f->len);
	if (!strcmp(f->type, "EXIT") || !strcmp(f->type, "FAIL"))
		drop_fwd(s, w);
}

static void agent_input(struct sup *s)
{
	struct frame f;
	int r = frame_reader_fill(&s->agent_rd, s->agent_fd);

	if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR)) {
		close(s->agent_fd);
		s->agent_fd = -1;
		return;
	}
	while (frame_reader_next(&s->agent_rd, &f) == 1)
		agent_frame(s, &f);
}

/* ---- control socket ---- */

static int ctl_listen(struct sup *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *p = gears_vm__path(s->vm, "ctl.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	unlink(p);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Queue a frame for a client; written when its socket can take it. */
static void client_send(void *ctx, int ci, const char *type, uint32_t id, const void *data, size_t len)
{
	struct sup *s = ctx;
	struct client *c = &s->clients[ci];
	char hdr[64];
	int h = snprintf(hdr, sizeof(hdr), "%s %u %zu\n", type, id, len);

	if (c->fd < 0)
		return;
	if (c->out_len + (size_t)h + len > OUTQ_MAX) {
		c->lost++;
		return;
	}
	if (c->out_len + (size_t)h + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 65536;

		while (cap < c->out_len + (size_t)h + len)
			cap *= 2;
		char *nb = realloc(c->out, cap);

		if (!nb) {
			c->lost++;
			return;
		}
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, hdr, (size_t)h);
	if (len)
		memcpy(c->out + c->out_len + h, data, len);
	c->out_len += (size_t)h + len;
}

static void client_flush(struct sup *s, int ci)
{
	struct client *c = &s->clients[ci];

	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->lost) {
		char txt[24];
		int k = snprintf(txt, sizeof(txt), "%llu", (unsigned long long)c->lost);

		c->lost = 0;
		client_send(s, ci, "LOST", 0, txt, (size_t)k);
	}
}

static void client_close(struct sup *s, int i)
{
	struct client *c = &s->clients[i];

	tsrv_drop_client(s->ts, i);
	svc_drop_client(s->svc, i);
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;

	/* A client that goes away takes its guest processes with it. */
	for (int k = s->nfwd - 1; k >= 0; k--) {
		if (s->fwd[k].client != i)
			continue;
		if (s->agent_fd >= 0)
			frame_send(s->agent_fd, "SIGNAL", s->fwd[k].agent_id, "9", 1);
		drop_fwd(s, &s->fwd[k]);
	}
	close(c->fd);
	c->fd = -1;
	frame_reader_free(&c->rd);
}

static void client_frame(struct sup *s, int ci, struct frame *f)
{
	if (!strcmp(f->type, "EXEC")) {
		if (s->agent != AG_READY || s->agent_fd < 0 || s->stopping) {
			const char *m = s->stopping ? "VM is shutting down" : "guest agent not ready";

			client_send(s, ci, "FAIL", f->id, m, strlen(m));
			return;
		}
		if (s->nfwd >= MAX_FWD) {
			client_send(s, ci, "FAIL", f->id, "too many requests", 17);
			return;
		}
		uint32_t aid = s->next_id++;

		s->fwd[s->nfwd++] = (struct fwd){ aid, ci, f->id };
		frame_send(s->agent_fd, "EXEC", aid, f->data, f->len);
	} else if (!strcmp(f->type, "SIGNAL")) {
		for (int k = 0; k < s->nfwd; k++)
			if (s->fwd[k].client == ci && s->fwd[k].client_id == f->id && s->agent_fd >= 0)
				frame_send(s->agent_fd, "SIGNAL", s->fwd[k].agent_id, f->data, f->len);
	} else if (!strcmp(f->type, "TRACE")) {
		char err[512];
		int r = tsrv_subscribe(s->ts, ci, f->id, f->data, err, sizeof(err));

		if (r)
			client_send(s, ci, "FAIL", f->id, err, strlen(err));
		else
			client_send(s, ci, "OK", f->id, NULL, 0);
		if (!r && s->main_pid > 0) {
			char txt[24];
			int k = snprintf(txt, sizeof(txt), "%d", s->main_pid);

			client_send(s, ci, "PID", 0, txt, (size_t)k);
		}
	} else if (!strcmp(f->type, "ENV")) {
		svc_env_request(s->svc, ci, f->id, f->data);
	} else if (!strcmp(f->type, "INJECT")) {
		if (s->agent != AG_READY || s->stopping)
			client_send(s, ci, "FAIL", f->id, "the guest is not up", 18);
		else
			svc_inject_request(s->svc, ci, f->id, f->data);
	} else if (!strcmp(f->type, "UNTRACE")) {
		tsrv_unsubscribe(s->ts, ci, f->id);
		client_send(s, ci, "OK", f->id, NULL, 0);
	} else if (!strcmp(f->type, "STATS")) {
		tsrv_poll(s->ts);	/* what is in the ring now counts */
		tsrv_stats(s->ts, ci, f->id);
	} else if (!strcmp(f->type, "GO")) {
		s->hold = false;
		if (s->agent == AG_READY && !s->cmd_sent)
			start_command(s);
		client_send(s, ci, "OK", f->id, NULL, 0);
	} else if (!strcmp(f->type, "STOP")) {
		snprintf(s->why, sizeof(s->why), "stopped by `gears stop`");
		if (!s->cmd_done)
			s->exit_code = 0;
		power_off(s);
	} else if (!strcmp(f->type, "INFO")) {
		json_t *j = json_pack("{s:s, s:i, s:b, s:f, s:f}", "name", gears_vm__name(s->vm),
				      "qemu_pid", (int)gears_vm__qemu_pid(s->vm),
				      "agent_ready", s->agent == AG_READY,
				      "init_ms", s->t_init ? ms_since(s, s->t_init) : -1.0,
				      "ready_ms", s->t_ready ? ms_since(s, s->t_ready) : -1.0);
		char *txt = json_dumps(j, JSON_COMPACT);

		client_send(s, ci, "INFO", f->id, txt, strlen(txt));
		free(txt);
		json_decref(j);
	} else {
		client_send(s, ci, "FAIL", f->id, "unknown request", 15);
	}
}

static void client_input(struct sup *s, int i)
{
	struct client *c = &s->clients[i];
	struct frame f;
	int r = frame_reader_fill(&c->rd, c->fd);

	if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR)) {
		client_close(s, i);
		return;
	}
	while (c->fd >= 0 && frame_reader_next(&c->rd, &f) == 1)
		client_frame(s, i, &f);
}

static void ctl_accept(struct sup *s)
{
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (s->clients[i].fd < 0) {
			s->clients[i].fd = fd;
			return;
		}
	}
	close(fd);	/* full */
}

/* ---- QMP events and signals ---- */

static void qmp_event(const char *ev, json_t *data, void *ctx)
{
	struct sup *s = ctx;

	if (!strcmp(ev, "SHUTDOWN")) {
		const char *reason = json_string_value(json_object_get(data, "reason")) ?: "?";

		if (!strcmp(reason, "guest-reset") || !strcmp(reason, "guest-panic"))
			s->guest_reset = true;
	} else if (!strcmp(ev, "GUEST_PANICKED")) {
		s->guest_reset = true;
	}
}

/* Returns true when the supervisor should leave now. */
static bool signal_input(struct sup *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			if (!gears_vm__alive(s->vm))
				return true;
			break;
		case SIGINT:
			/* First Ctrl-C goes to the guest command; the second stops the VM. */
			if (++s->sigints == 1 && s->cmd_sent && !s->cmd_done && s->agent_fd >= 0) {
				frame_send(s->agent_fd, "SIGNAL", MAIN_ID, "2", 1);
				break;
			}
			s->exit_code = 130;
			snprintf(s->why, sizeof(s->why), "interrupted");
			return true;
		default:
			if (s->exit_code < 0)
				s->exit_code = 128 + (int)si.ssi_signo;
			if (!*s->why)
				snprintf(s->why, sizeof(s->why), "terminated by signal %d", si.ssi_signo);
			return true;
		}
	}
	return false;
}

/*
 * A gears process that dies while it holds the gdbstub leaves the VM stopped,
 * or leaves breakpoints that stop it at the next hit with nobody to resume it.
 * When nobody holds the gdbstub lock and the VM sits in "debug" state, attach
 * and detach: QEMU drops every breakpoint on detach and resumes.
 */
static void gdb_watchdog(struct sup *s)
{
	json_t *st;
	int fd;
	bool stuck;

	fd = open(gears_vm__path(s->vm, "gdb.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);	/* someone is using it: theirs to resume */
		return;
	}
	st = gears_qmp__execute(gears_vm__qmp(s->vm), "query-status", NULL);
	stuck = st && !strcmp(json_string_value(json_object_get(st, "status")) ?: "", "debug");
	json_decref(st);
	close(fd);
	if (stuck) {
		fprintf(stderr, "gears: VM '%s' was left stopped by a gdbstub client that went away; "
			"resuming it\r\n", gears_vm__name(s->vm));
		if (gears_vm__gdb(s->vm))
			gears_vm__gdb_release(s->vm);
	}
}

static int loop(struct sup *s)
{
	uint64_t agent_deadline = cli_now_ns() + AGENT_TIMEOUT_MS * 1000000ull;
	uint64_t next_watchdog = cli_now_ns() + 1000000000ull;
	uint64_t busy_until = 0;	/* recent synchronous work: keep polling */

	for (;;) {
		struct pollfd p[8 + MAX_CLIENTS];
		int n = 0, idx_sig, idx_con = -1, idx_agent = -1, idx_qmp, idx_ctl, idx_in = -1, idx_ts = -1;
		int idx_bell = -1;
		int cidx[MAX_CLIENTS];
		uint64_t now = cli_now_ns();
		int sleep_us = tsrv_sleep_us(s->ts), tsfd = tsrv_fd(s->ts);

		/* A guest waiting on a synchronous request spins until we answer:
		 * while requests keep coming, do not sleep between polls; else,
		 * with a doorbell, sleep until a guest CPU rings it. */
		if (now < busy_until)
			sleep_us = 0;
		else if (s->bell_fd >= 0 && tsrv_bell_arm(s->ts, &sleep_us) < 0)
			sleep_us = 0;
		/* An injection in flight has kicks and timeouts to run. */
		if (svc_active(s->svc) && sleep_us > 5000)
			sleep_us = 5000;

		p[idx_sig = n++] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
		p[idx_qmp = n++] = (struct pollfd){ .fd = gears_qmp__fd(gears_vm__qmp(s->vm)), .events = POLLIN };
		p[idx_ctl = n++] = (struct pollfd){ .fd = s->ctl_fd, .events = POLLIN };
		if (s->con_fd >= 0)
			p[idx_con = n++] = (struct pollfd){ .fd = s->con_fd, .events = POLLIN };
		if (s->agent_fd >= 0)
			p[idx_agent = n++] = (struct pollfd){ .fd = s->agent_fd, .events = POLLIN };
		if (s->raw)
			p[idx_in = n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (tsfd >= 0)
			p[idx_ts = n++] = (struct pollfd){ .fd = tsfd, .events = POLLIN };
		if (s->bell_fd >= 0)
			p[idx_bell = n++] = (struct pollfd){ .fd = s->bell_fd, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++) {
			cidx[i] = -1;
			if (s->clients[i].fd >= 0) {
				cidx[i] = n;
				p[n++] = (struct pollfd){ .fd = s->clients[i].fd,
							  .events = (short)(POLLIN |
									    (s->clients[i].out_len ? POLLOUT : 0)) };
			}
		}
		if (s->exit_pending && s->want_mark && now >= s->mark_deadline) {
			s->want_mark = false;
			s->show_console = false;
			power_off(s);
		}
		if (s->stopping && now >= s->stop_deadline) {
			snprintf(s->why, sizeof(s->why), "guest did not power off within %d s; stopped it",
				 POWEROFF_TIMEOUT_MS / 1000);
			return 0;
		}
		if (s->cmd && s->agent != AG_READY && now >= agent_deadline) {
			snprintf(s->why, sizeof(s->why),
				 "the guest agent did not start within %d s (custom kernel/initrd without "
				 "gears-agent? use no CMD for a plain console)", AGENT_TIMEOUT_MS / 1000);
			return 0;
		}
		if (sleep_us > 1000000)
			sleep_us = 1000000;
		if (ppoll(p, (nfds_t)n, &(struct timespec){ .tv_sec = sleep_us / 1000000,
							 .tv_nsec = (sleep_us % 1000000) * 1000L }, NULL) < 0 &&
		    errno != EINTR)
			return -errno;
		(void)idx_ts;
		if (s->bell_fd >= 0) {
			tsrv_bell_disarm(s->ts);
			if (p[idx_bell].revents) {
				char junk[256];

				if (read(s->bell_fd, junk, sizeof(junk)) == 0) {
					close(s->bell_fd);	/* QEMU going away */
					s->bell_fd = -1;
				}
			}
		}
		if (tsrv_poll(s->ts) > 0 && tsrv_sync(s->ts))
			busy_until = cli_now_ns() + BUSY_SPIN_NS;
		if (p[idx_sig].revents && signal_input(s))
			return 0;
		if (p[idx_qmp].revents && gears_qmp__dispatch(gears_vm__qmp(s->vm)) < 0) {
			/* QMP gone: QEMU is exiting; SIGCHLD follows. */
			if (gears_vm__wait(s->vm, 2000, NULL) == 1)
				return 0;
		}
		if (idx_con >= 0 && p[idx_con].revents)
			console_input(s);
		if (idx_agent >= 0 && p[idx_agent].revents)
			agent_input(s);
		if (idx_in >= 0 && p[idx_in].revents)
			stdin_input(s);
		if (p[idx_ctl].revents)
			ctl_accept(s);
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (cidx[i] >= 0 && (p[cidx[i]].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    s->clients[i].fd >= 0)
				client_input(s, i);
		if (tsrv_poll(s->ts) > 0 && tsrv_sync(s->ts))
			busy_until = cli_now_ns() + BUSY_SPIN_NS;
		/* An injection waits for its target's next system call: look often. */
		if (svc_poll(s->svc))
			busy_until = cli_now_ns() + BUSY_SPIN_NS;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (s->clients[i].fd >= 0 && s->clients[i].out_len)
				client_flush(s, i);
		if (!gears_vm__alive(s->vm))
			return 0;
		if (cli_now_ns() >= next_watchdog) {
			gdb_watchdog(s);
			next_watchdog = cli_now_ns() + 1000000000ull;
		}
	}
}

static int setup_signals(void)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGINT);
	sigaddset(&m, SIGTERM);
	sigaddset(&m, SIGHUP);
	sigaddset(&m, SIGQUIT);
	sigaddset(&m, SIGCHLD);
	sigaddset(&m, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &m, NULL))
		return -errno;
	sigdelset(&m, SIGPIPE);
	return signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int finish(struct sup *s)
{
	int status = 0, code;

	restore_tty(s);
	/* Drain what the console still has (the command's last words). */
	if (s->con_fd >= 0 && s->show_console) {
		while (gears_sock_wait_readable(s->con_fd, 0) > 0) {
			int before = s->con_fd;

			console_input(s);
			if (s->con_fd < 0 || s->con_fd != before)
				break;
		}
	}
	bool exited = gears_vm__wait(s->vm, 0, &status) == 1;

	if (s->cmd_done) {
		code = s->cmd_status;
	} else if (s->exit_code >= 0) {
		code = s->exit_code;
	} else {
		code = 125;
		if (!*s->why) {
			if (s->guest_reset)
				snprintf(s->why, sizeof(s->why),
					 "the guest kernel reset (panic or reboot) before the command finished");
			else if (exited && WIFSIGNALED(status))
				snprintf(s->why, sizeof(s->why), "QEMU died (signal %d)", WTERMSIG(status));
			else if (exited && s->cmd)
				snprintf(s->why, sizeof(s->why), "the guest powered off before the command finished");
			else if (exited)
				code = 0;
		}
	}
	if (code == 125 && s->early_len && !s->show_console) {
		fprintf(stderr, "gears: guest console before the failure:\n");
		fwrite(s->early, 1, s->early_len, stderr);
		fputc('\n', stderr);
	}
	if (*s->why && (code != 0 || !s->cmd))
		fprintf(stderr, "gears: %s\n", s->why);
	return code;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, 0, 'n' }, { "smp", required_argument, 0, 's' },
		{ "mem", required_argument, 0, 'm' }, { "kernel", required_argument, 0, 'k' },
		{ "initrd", required_argument, 0, 'i' }, { "append", required_argument, 0, 'a' },
		{ "accel", required_argument, 0, 'A' }, { "timing", no_argument, 0, 'T' },
		{ "hold", no_argument, 0, 'H' }, { "env", required_argument, 0, 'e' },
		{ "hypercalls", no_argument, 0, 'Y' }, { "qemu-arg", required_argument, 0, 'Q' },
		{ "json", no_argument, 0, 'j' }, { "pretty", no_argument, 0, 'p' },
		{ 0, 0, 0, 0 }
	};
	GEARS_OPTS(gears_vm_opts, vo, .start_paused = true);
	struct sup s = { .con_fd = -1, .agent_fd = -1, .ctl_fd = -1, .bell_fd = -1, .exit_code = -1, .next_id = 2 };
	int c, code;

	while ((c = getopt_long(argc, argv, "+n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': vo.name = optarg; break;
		case 's': vo.smp = (unsigned)atoi(optarg);
			if (vo.smp < 1 || vo.smp > 64)
				return cli_error("--smp takes 1..64");
			break;
		case 'm': vo.mem = cli_parse_size(optarg);
			if (!vo.mem)
				return cli_error("bad --mem '%s'", optarg);
			break;
		case 'k': vo.kernel = optarg; break;
		case 'i': vo.initrd = optarg; break;
		case 'a': vo.append = optarg; break;
		case 'A': vo.accel = optarg; break;
		case 'T': s.timing = true; break;
		case 'H': s.hold = true; break;
		case 'e':
			if (s.nenv >= (int)(sizeof(s.env) / sizeof(s.env[0])))
				return cli_error("at most 64 --env rules");
			if (gears_env__check(optarg))
				return cli_error("--env: %s", gears_last_error());
			s.env[s.nenv++] = optarg;
			break;
		case 'Y': s.hypercalls = true; break;
		case 'Q':
			if (s.nqemu_args >= 64)
				return cli_error("at most 64 --qemu-arg");
			s.qemu_args[s.nqemu_args++] = optarg;
			vo.extra_args = s.qemu_args;
			break;
		case 'j': case 'p': break;
		default: return cli_usage(&cmd_run, stderr);
		}
	}
	if (optind < argc)
		s.cmd = argv + optind;
	s.tty = isatty(0) && isatty(1);
	for (int i = 0; i < MAX_CLIENTS; i++)
		s.clients[i].fd = -1;
	s.early = malloc(EARLY_MAX);
	s.sig_fd = setup_signals();
	if (s.sig_fd < 0 || !s.early)
		return cli_error("cannot set up signal handling");
	s.t0 = cli_now_ns();
	s.vm = gears_vm__launch(&vo);
	if (!s.vm) {
		free(s.early);
		return cli_error("%s", gears_last_error());
	}
	if (s.timing)
		fprintf(stderr, "gears: timing: QEMU up at %.1f ms (accel %s)\n",
			ms_since(&s, cli_now_ns()), gears_vm__accel(s.vm));
	gears_qmp__set_event_cb(gears_vm__qmp(s.vm), qmp_event, &s);
	s.ts = tsrv_new(s.vm, client_send, &s);
	s.svc = svc_new(s.ts, client_send, &s);
	s.con_fd = gears_sock_connect(gears_vm__path(s.vm, "console.sock"), 2000);
	s.agent_fd = gears_sock_connect(gears_vm__path(s.vm, "agent.sock"), 2000);
	s.bell_fd = gears_sock_connect(gears_vm__path(s.vm, "bell.sock"), 2000);
	if (s.bell_fd >= 0) {
		fcntl(s.bell_fd, F_SETFL, fcntl(s.bell_fd, F_GETFL) | O_NONBLOCK);
		tsrv_set_bell(s.ts, GEARS_VM_BELL_PORT);
	}
	s.ctl_fd = ctl_listen(&s);
	if (s.con_fd < 0 || s.agent_fd < 0 || s.ctl_fd < 0) {
		gears_vm__close(s.vm);
		free(s.early);
		return cli_error("cannot connect to the VM's console/agent sockets");
	}
	/* Without a command the console is live from the first byte. */
	s.show_console = !s.cmd;
	if (s.tty) {
		set_raw(&s);
		if (!s.cmd)
			fprintf(stderr, "gears: console of VM '%s' (Ctrl-] to quit)\r\n",
				gears_vm__name(s.vm));
	}
	json_t *r = gears_qmp__execute(gears_vm__qmp(s.vm), "cont", NULL);

	json_decref(r);
	if (loop(&s) < 0 && !*s.why)
		snprintf(s.why, sizeof(s.why), "supervisor failed: %s", strerror(errno));
	code = finish(&s);
	svc_free(s.svc);
	s.svc = NULL;
	tsrv_free(s.ts);
	s.ts = NULL;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		/* Clients get everything that is queued (a trace's last records), as
		 * long as they keep taking it. */
		while (s.clients[i].fd >= 0 && s.clients[i].out_len) {
			size_t before = s.clients[i].out_len;

			client_flush(&s, i);
			if (s.clients[i].out_len && gears_sock_wait_writable(s.clients[i].fd, 5000) <= 0 &&
			    s.clients[i].out_len == before) {
				fprintf(stderr, "gears: a client stopped reading; %zu bytes not delivered\n",
					s.clients[i].out_len);
				break;
			}
		}
		if (s.clients[i].fd >= 0)
			client_close(&s, i);
	}
	if (s.con_fd >= 0)
		close(s.con_fd);
	if (s.agent_fd >= 0)
		close(s.agent_fd);
	if (s.bell_fd >= 0)
		close(s.bell_fd);
	close(s.ctl_fd);
	close(s.sig_fd);
	frame_reader_free(&s.agent_rd);
	gears_vm__close(s.vm);
	free(s.early);
	return code;
}

const struct gears_cmd cmd_run = {
	.name = "run",
	.args = "[--name NAME] [--smp N] [--mem SIZE] [--kernel F --initrd F --append S] "
		"[--accel auto|tcg|kvm] [--timing] [--env RULE]... [--hypercalls] [--qemu-arg ARG]... [-- CMD ARGS...]",
	.summary = "boot a guest on QEMU; run CMD in it, or give a console",
	.run = run,
	.help = help,
};
