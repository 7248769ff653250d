// SPDX-License-Identifier: MIT
/*
 * The supervisor's life and loop (supervisor.h): create the services, launch
 * QEMU with what they add, connect the console, agent, doorbell and control
 * socket, then turn the loop until the VM is gone; on every way out — command
 * done, guest panic, QEMU crash, Ctrl-C, SIGTERM, `gears stop` — QEMU is
 * stopped and the runtime files removed (gears_vm__close).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gears/linux.h>

#include "sock.h"
#include "sup_int.h"

/* After a synchronous request, spin this long for the next one: a dense stream
 * (filter-mode tracing) is served without sleeping, while a sparse one (an
 * execve now and then) does not cost a host CPU that the vCPUs need. Short: on
 * a host with fewer cores than busy threads the spin takes the core from the
 * vCPU that would make the next request (MPI ping-pong between two VMs on 2
 * cores: 5 ms of spin gave hypercalls of 450 us on average, 200 us gave 150 us,
 * 20 us gave 15-22 us; with none, 36-53 us: each request then rings the bell). */
#define BUSY_SPIN_NS 20000ull
#define AGENT_TIMEOUT_MS 120000	/* TCG boot is ~4 s; a loaded CI machine is slower */
#define POLL_MAX (8 + SUP_MAX_CLIENTS + 64)

struct gears_vm *sup_vm(struct sup *s)
{
	return s->vm;
}

const char *sup_name(struct sup *s)
{
	return gears_vm__name(s->vm);
}

bool sup_guest_ready(struct sup *s)
{
	return s->agent == AG_READY && s->agent_fd >= 0;
}

bool sup_kernel_up(struct sup *s)
{
	return s->kernel_up;
}

/* PID 1: 1 while it is still the boot thread (comm swapper/0), 2 once it runs
 * a program. */
static int find_pid1(const struct gears_task *t, void *ctx)
{
	if (t->pid == 1) {
		*(int *)ctx = strncmp(t->comm, "swapper", 7) ? 2 : 1;
		return 1;
	}
	return 0;
}

/*
 * Is the guest kernel up? Its symbols readable, and PID 1 running a program
 * (a view taken while the kernel still decompresses or relocates itself would
 * be wrong: dropped, tried again; and until PID 1 execs, the kernel's own boot
 * checks still walk its page tables, where the GEARS region must not be yet:
 * lib/region.c). Looked at once a second until it is, or at once when the
 * guest agent says /init started.
 */
void sup_check_kernel(struct sup *s, bool now)
{
	struct gears_linux *l;
	char err[sizeof(s->why) - 8];
	int pid1 = 0;
	uint64_t t = gears_now_ns();

	if (s->kernel_up || s->stopping || (!now && t < s->next_kernel_check))
		return;
	s->next_kernel_check = t + 1000000000ull;
	if (!(l = gears_vm__linux(s->vm)))
		return;
	if (gears_linux__for_each_task(l, false, 100000, find_pid1, &pid1) < 0 || !pid1) {
		gears_vm__linux_refresh(s->vm);	/* not a kernel that runs yet */
		return;
	}
	if (pid1 < 2)
		return;		/* a sound view; its first program has not started */
	s->kernel_up = true;
	if (s->o.timing)
		fprintf(stderr, "gears: timing: guest kernel up at %.1f ms\n", sup_ms_since(s, gears_now_ns()));
	if (sup_services_call(s, SUP_HOOK_KERNEL_UP, err, sizeof(err)))
		sup_stop_vm(s, 125, err);
}

int sup_main_pid(struct sup *s)
{
	return s->main_pid;
}

double sup_ms_since(const struct sup *s, uint64_t t)
{
	return (double)(t - s->t0) / 1e6;
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
				frame_send(s->agent_fd, "SIGNAL", SUP_MAIN_ID, "2", 1);
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

/* ---- the loop ---- */

struct turn {
	struct pollfd p[POLL_MAX];
	int n, sig, qmp, ctl, con, agent, in, bell, svc;
	int client[SUP_MAX_CLIENTS];
};

static int add_fd(struct turn *t, int fd, short events)
{
	if (fd < 0)
		return -1;
	t->p[t->n] = (struct pollfd){ .fd = fd, .events = events };
	return t->n++;
}

static void build_turn(struct sup *s, struct turn *t)
{
	t->n = 0;
	t->sig = add_fd(t, s->sig_fd, POLLIN);
	t->qmp = add_fd(t, gears_qmp__fd(gears_vm__qmp(s->vm)), POLLIN);
	t->ctl = add_fd(t, s->ctl_fd, POLLIN);
	t->con = add_fd(t, s->con_fd, POLLIN);
	t->agent = add_fd(t, s->agent_fd, POLLIN);
	t->in = s->raw ? add_fd(t, 0, POLLIN) : -1;
	t->bell = add_fd(t, s->bell_fd, POLLIN);
	add_fd(t, sup_engine_fd(s), POLLIN);	/* exit mode: the gdbstub's stops */
	for (int i = 0; i < SUP_MAX_CLIENTS; i++)
		t->client[i] = add_fd(t, s->clients[i].fd,
				      (short)(POLLIN | (s->clients[i].out_len ? POLLOUT : 0)));
	t->svc = t->n;
	t->n = sup_services_fds(s, t->p, t->n, POLL_MAX);
}

/* How long this turn may sleep: not at all while guests wait on us. */
static int sleep_us(struct sup *s, uint64_t now, uint64_t busy_until)
{
	int us = sup_engine_sleep_us(s), svc = sup_services_timeout_us(s);

	/* A guest waiting on a synchronous request spins until we answer:
	 * while requests keep coming, do not sleep between polls; else, with a
	 * doorbell, sleep until a guest CPU rings it. */
	if (now < busy_until)
		us = 0;
	else if (sup_engine_bell_arm(s, &us) < 0)
		us = 0;
	if (svc >= 0 && svc < us)
		us = svc;
	return us > 1000000 ? 1000000 : us;
}

/* Deadlines of the way out; true when it is time to leave. */
static bool deadlines(struct sup *s, uint64_t now, uint64_t agent_deadline)
{
	if (s->exit_pending && s->want_mark && now >= s->mark_deadline) {
		s->want_mark = false;
		s->show_console = false;
		sup_power_off(s);
	}
	if (s->stopping && now >= s->stop_deadline) {
		snprintf(s->why, sizeof(s->why), "guest did not power off in time; stopped it");
		return true;
	}
	if (s->cmd && s->agent != AG_READY && now >= agent_deadline) {
		snprintf(s->why, sizeof(s->why),
			 "the guest agent did not start within %d s (custom kernel/initrd without "
			 "gears-agent? use no CMD for a plain console)", AGENT_TIMEOUT_MS / 1000);
		return true;
	}
	return false;
}

static void bell_input(struct sup *s, const struct turn *t)
{
	char junk[256];

	if (s->bell_fd < 0)
		return;
	sup_engine_bell_disarm(s);
	if (t->p[t->bell].revents && read(s->bell_fd, junk, sizeof(junk)) == 0) {
		close(s->bell_fd);	/* QEMU going away */
		s->bell_fd = -1;
	}
}

/* One turn's events; true when it is time to leave. */
static bool handle_turn(struct sup *s, const struct turn *t, uint64_t *busy_until)
{
	bell_input(s, t);
	if (sup_engine_poll(s) > 0 && sup_engine_sync(s))
		*busy_until = gears_now_ns() + BUSY_SPIN_NS;
	if (t->p[t->sig].revents && signal_input(s))
		return true;
	if (t->p[t->qmp].revents && gears_qmp__dispatch(gears_vm__qmp(s->vm)) < 0) {
		/* QMP gone: QEMU is exiting; SIGCHLD follows. */
		if (gears_vm__wait(s->vm, 2000, NULL) == 1)
			return true;
	}
	if (t->con >= 0 && t->p[t->con].revents && s->con_fd >= 0)
		sup_console_input(s);
	if (t->agent >= 0 && t->p[t->agent].revents && s->agent_fd >= 0)
		sup_agent_input(s);
	if (t->in >= 0 && t->p[t->in].revents)
		sup_stdin_input(s);
	if (t->p[t->ctl].revents)
		sup_ctl_accept(s);
	for (int i = 0; i < SUP_MAX_CLIENTS; i++)
		if (t->client[i] >= 0 && (t->p[t->client[i]].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    s->clients[i].fd >= 0)
			sup_ctl_input(s, i);
	if (sup_engine_poll(s) > 0 && sup_engine_sync(s))
		*busy_until = gears_now_ns() + BUSY_SPIN_NS;
	if (sup_services_poll(s, t->p) > 0)
		*busy_until = gears_now_ns() + BUSY_SPIN_NS;
	for (int i = 0; i < SUP_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].out_len)
			sup_ctl_flush(s, i);
	return !gears_vm__alive(s->vm);
}

static int loop(struct sup *s)
{
	uint64_t agent_deadline = gears_now_ns() + AGENT_TIMEOUT_MS * 1000000ull;
	uint64_t next_watchdog = gears_now_ns() + 1000000000ull;
	uint64_t busy_until = 0;	/* recent synchronous work: keep polling */
	static struct turn t;		/* big; one supervisor per process */

	for (;;) {
		uint64_t now = gears_now_ns();
		int us = sleep_us(s, now, busy_until);

		if (deadlines(s, now, agent_deadline))
			return 0;
		build_turn(s, &t);
		if (ppoll(t.p, (nfds_t)t.n, &(struct timespec){ .tv_sec = us / 1000000,
								.tv_nsec = (us % 1000000) * 1000L }, NULL) < 0 &&
		    errno != EINTR)
			return -errno;
		if (handle_turn(s, &t, &busy_until))
			return 0;
		sup_check_kernel(s, false);
		if (gears_now_ns() >= next_watchdog) {
			sup_gdb_watchdog(s);
			next_watchdog = gears_now_ns() + 1000000000ull;
		}
	}
}

/* ---- start and end ---- */

static int finish(struct sup *s)
{
	int status = 0, code;

	sup_tty_restore(s);
	sup_console_drain(s);
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

/* Before QEMU starts, with the VM's runtime directory there: the services'
 * devices (their sockets may live in that directory). */
static int prepare(struct gears_vm *vm, void *ctx, const char *const **more)
{
	struct sup *s = ctx;
	int r;

	s->vm = vm;
	r = sup_services_qemu_args(s, &s->args, s->why, sizeof(s->why));
	s->vm = NULL;
	if (r)
		return gears_err(-r, "%s", s->why);
	s->args.v[s->args.n] = NULL;
	*more = (const char *const *)s->args.v;
	return 0;
}

static int launch(struct sup *s, char *err, size_t errsz)
{
	struct gears_vm_opts vo = *s->o.vm;

	vo.start_paused = true;
	vo.prepare = prepare;
	vo.prepare_ctx = s;
	s->vm = gears_vm__launch(&vo);
	if (!s->vm)
		return snprintf(err, errsz, "%s", gears_last_error()), -EIO;
	*s->why = 0;
	if (s->o.timing)
		fprintf(stderr, "gears: timing: QEMU up at %.1f ms (accel %s)\n",
			sup_ms_since(s, gears_now_ns()), gears_vm__accel(s->vm));
	return 0;
}

static int connect_vm(struct sup *s, char *err, size_t errsz)
{
	gears_qmp__set_event_cb(gears_vm__qmp(s->vm), qmp_event, s);
	s->con_fd = gears_sock_connect(gears_vm__path(s->vm, "console.sock"), 2000);
	s->agent_fd = gears_sock_connect(gears_vm__path(s->vm, "agent.sock"), 2000);
	s->bell_fd = gears_sock_connect(gears_vm__path(s->vm, "bell.sock"), 2000);
	if (s->bell_fd >= 0)
		fcntl(s->bell_fd, F_SETFL, fcntl(s->bell_fd, F_GETFL) | O_NONBLOCK);
	s->ctl_fd = sup_ctl_listen(s);
	if (s->con_fd < 0 || s->agent_fd < 0 || s->ctl_fd < 0) {
		snprintf(err, errsz, "cannot connect to the VM's console/agent sockets");
		return -EIO;
	}
	return 0;
}

static void teardown(struct sup *s)
{
	sup_services_destroy(s);
	sup_engine_free(s);
	sup_ctl_flush_all(s);
	for (int i = s->nfwd - 1; i >= 0; i--)
		free(s->fwd[i].out);
	s->nfwd = 0;
	if (s->con_fd >= 0)
		close(s->con_fd);
	if (s->agent_fd >= 0)
		close(s->agent_fd);
	if (s->bell_fd >= 0)
		close(s->bell_fd);
	if (s->ctl_fd >= 0)
		close(s->ctl_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	frame_reader_free(&s->agent_rd);
	gears_vm__close(s->vm);
	free(s->early);
	for (int i = 0; i < s->args.n; i++)
		free(s->args.v[i]);
}

int sup_run(const struct sup_run_opts *o)
{
	static struct sup sup;		/* one per process: signals are process-wide */
	struct sup *s = &sup;
	char err[sizeof(s->why)] = "";
	int code;

	*s = (struct sup){ .o = *o, .cmd = o->cmd, .con_fd = -1, .agent_fd = -1, .ctl_fd = -1, .bell_fd = -1,
			   .sig_fd = -1, .exit_code = -1, .next_id = SUP_MAIN_ID + 1, .owner = geteuid() };
	for (int i = 0; i < SUP_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->tty = isatty(0) && isatty(1);
	s->t0 = gears_now_ns();
	if (sup_services_create(s, o->opts, o->nopts, err, sizeof(err)) ||
	    (s->sig_fd = setup_signals()) < 0 || launch(s, err, sizeof(err)) ||
	    connect_vm(s, err, sizeof(err)) || sup_services_call(s, SUP_HOOK_LAUNCHED, err, sizeof(err))) {
		if (s->sig_fd < 0 && !*err)
			snprintf(err, sizeof(err), "cannot set up signal handling");
		fprintf(stderr, "gears: %s\n", err);
		teardown(s);
		return s->vm ? 125 : 1;
	}
	/* Without a command the console is live from the first byte. */
	s->show_console = !s->cmd;
	if (s->tty) {
		sup_tty_raw(s);
		if (!s->cmd)
			fprintf(stderr, "gears: console of VM '%s' (Ctrl-] to quit)\r\n", gears_vm__name(s->vm));
	}
	json_decref(gears_qmp__execute(gears_vm__qmp(s->vm), "cont", NULL));
	/* The kernel needs a few seconds to boot: do not scan its memory before. */
	s->next_kernel_check = gears_now_ns() + 2000000000ull;
	if (loop(s) < 0 && !*s->why)
		snprintf(s->why, sizeof(s->why), "supervisor failed: %s", strerror(errno));
	code = finish(s);
	teardown(s);
	return code;
}
