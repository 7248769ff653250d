/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: the process that owns one running VM for its whole life
 * (`gears run`), and the interface through which services plug into it.
 *
 * The supervisor launches QEMU, relays the console, speaks to the guest agent
 * (docs/guest-agent.md), serves other gears processes on the VM's control
 * socket (ctl.sock), owns the VM's system call interception engine (one
 * gears_sc shared by every service), and on every way out stops QEMU and
 * removes the runtime files.
 *
 * A service is a self-contained plugin — `gears trace`'s server, environment
 * rules, code injection, VNET, the MPI accelerator — described by one
 * `struct sup_service` and registered with SUP_SERVICE(). The supervisor
 * creates every service when it starts, in `order`, calls its hooks as the VM
 * goes through its life, routes control-socket requests by type to the
 * service that declared them, and destroys the services in reverse order.
 * A service never sees another's state unless it asks for it by name
 * (sup_service_state()).
 *
 * Life of a VM, as a service sees it:
 *
 *   create        the service's state is made; its `gears run` options are
 *                 parsed into it (option->parse)
 *   qemu_args     before QEMU starts: add devices, netdevs, chardevs
 *   launched      QEMU is up, paused; the VM's memory and QMP work
 *   kernel_up     the guest kernel can be read (symbols, tasks): interception
 *                 can be installed (env rules, hypercalls). Every guest gets
 *                 it, with or without an agent, before its user space has run
 *                 much (a distribution's services are not started yet)
 *   guest_ready   the guest agent answered (default image only): set-up that
 *                 runs programs in the guest (mounts, addresses on NICs); the
 *                 main command waits for it. An error in either stops the VM
 *                 with the service's reason
 *   poll/fds      every turn of the supervisor's loop
 *   stopping      power-off begins (the guest still runs)
 *   destroy       QEMU is gone or going; free everything
 *
 * Threading: everything runs on the supervisor's one thread; hooks must not
 * block (use fds and timeouts).
 */
#ifndef GEARS_SUPERVISOR_H
#define GEARS_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <gears/syscall.h>
#include <gears/vm.h>

struct sup;
struct pollfd;
struct gears_vm_opts;

/* ---- requests on the control socket ---- */

/* A request frame "TYPE ID LEN\n<payload>" from client `client`. */
struct sup_req {
	struct sup *sup;
	int client;		/* index of the connection; stable until it closes */
	uint32_t id;		/* the client's request id: echo it in answers */
	const char *type;
	const char *data;	/* payload, NUL-terminated (valid during the call only) */
	size_t len;
};

#define SUP_VERB_NEEDS_GUEST	0x1u	/* refused with FAIL until the guest agent is up */
#define SUP_VERB_NEEDS_KERNEL	0x2u	/* refused with FAIL until the guest kernel is up */

struct sup_verb {
	const char *type;	/* e.g. "ENV"; upper case, unique across services */
	unsigned flags;		/* SUP_VERB_* */
	void (*handle)(void *state, const struct sup_req *rq);
};

/* A `gears run` option a service adds (long form only, "--NAME"). */
struct sup_option {
	const char *name;
	const char *arg;	/* NULL: takes no argument; else its metavariable ("RULE") */
	const char *help;	/* one line for `gears run --help` */
	bool repeatable;
	/* Called while the command line is parsed; 0, or -errno with a reason in err. */
	int (*parse)(void *state, const char *arg, char *err, size_t errsz);
};

struct sup_args;	/* QEMU's command line under construction */

struct sup_service {
	const char *name;		/* short, lower case: "trace", "env", "vnet" */
	int order;			/* start order (lower first); stop and destroy in reverse */
	const struct sup_option *options;	/* terminated by a NULL name */
	const struct sup_verb *verbs;		/* terminated by a NULL type */
	/* Hypercall ops [hcall_lo, hcall_hi] (gears-guest/hypercall.h) this
	 * service answers; both 0: none. Registered with the interception
	 * engine at `launched` when the service asks for it with
	 * sup_hcalls_enable(), or at once when hcall_eager is set. */
	long hcall_lo, hcall_hi;
	bool hcall_eager;
	gears_sc_handler_fn hcall;

	/* All hooks are optional. */
	void *(*create)(struct sup *s);			/* NULL + errno stops the start */
	int (*qemu_args)(void *state, struct sup_args *a, char *err, size_t errsz);
	int (*launched)(void *state, char *err, size_t errsz);
	int (*kernel_up)(void *state, char *err, size_t errsz);
	int (*guest_ready)(void *state, char *err, size_t errsz);
	/* Extra fds for the loop's poll(): fill up to max entries, return how many. */
	int (*fds)(void *state, struct pollfd *p, int max);
	/* Every turn, after poll() returned (revents of the service's fds are in
	 * p[0..n-1], as fds() filled them). Return > 0 when work was done and
	 * latency matters (the loop then spins briefly instead of sleeping). */
	int (*poll)(void *state, const struct pollfd *p, int n);
	/* How soon the service needs poll() again, in µs (-1: only on its fds). */
	int (*timeout_us)(void *state);
	/* A control-socket client went away: drop what belongs to it. */
	void (*client_gone)(void *state, int client);
	/* A JSON object for `gears info NAME` / the INFO request (new reference). */
	json_t *(*info)(void *state);
	void (*stopping)(void *state);
	void (*destroy)(void *state);
};

/* Register a service (in a file of the gears binary): its descriptor goes
 * into a linker section that the supervisor walks at start. */
#define SUP_SERVICE(desc)                                                          \
	static const struct sup_service *const sup_service_ptr_##desc                \
		__attribute__((used, section("gears_services"), aligned(sizeof(void *)))) = &(desc)

/* ---- what a service may ask of the supervisor ---- */

struct gears_vm *sup_vm(struct sup *s);
const char *sup_name(struct sup *s);
/* The VM's system call interception engine, created on first use (NULL +
 * errno, with gears_last_error(), when this guest kernel cannot be hooked). */
struct gears_sc *sup_sc(struct sup *s);
/* Install the stub's hypercall handler of service `svc` now (for services
 * that are not hcall_eager). 0 or -errno. */
int sup_hcalls_enable(struct sup *s, const struct sup_service *svc);
/* Is the guest agent up? Is the guest kernel up (kernel_up was called)? */
bool sup_guest_ready(struct sup *s);
bool sup_kernel_up(struct sup *s);
/* The guest pid of the main command (`gears run -- CMD`) once it runs, else 0.
 * Clients are told with a "PID 0 <pid>" frame when it starts. */
int sup_main_pid(struct sup *s);
/* Another service's state, by name (NULL if it is not there). */
void *sup_service_state(struct sup *s, const char *name);

/* Answers on the control socket: queued, written when the client can take
 * them; a client far behind loses frames, counted and reported to it. */
void sup_send(struct sup *s, int client, const char *type, uint32_t id, const void *data, size_t len);
/* The same with a formatted text payload (at most 1 KiB). */
void sup_sendf(struct sup *s, int client, const char *type, uint32_t id, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void sup_reply_ok(const struct sup_req *rq, json_t *j);	/* "OK" with j (consumed; NULL: empty) */
void sup_reply_fail(const struct sup_req *rq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Is client `client` still connected? */
bool sup_client_alive(struct sup *s, int client);

/* Run argv in the guest through the agent (like `gears exec`); done() is
 * called once with the exit status (0..255, 128+N for signal N, -1 if it
 * could not run) and what it wrote on stdout (NUL-terminated, truncated at
 * 64 KiB). 0, or -errno (agent not up). */
typedef void (*sup_exec_done_fn)(void *ctx, int status, const char *out, size_t len);
int sup_guest_exec(struct sup *s, char *const argv[], sup_exec_done_fn done, void *ctx);

/* Stop the VM (graceful power-off, then hard) with `why` reported by gears run. */
void sup_stop_vm(struct sup *s, int exit_code, const char *why);

/* Add QEMU arguments (qemu_args hook): each is copied. 0 or -E2BIG. */
int sup_args_add(struct sup_args *a, const char *arg);
int sup_args_addf(struct sup_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Values pasted into QEMU option strings (paths): gears_qemu_escape(). */

/* ---- running a supervisor (the `gears run` command) ---- */

/* A service option found on the command line, applied when the services exist. */
struct sup_pending_opt {
	const struct sup_service *svc;
	const struct sup_option *opt;
	const char *arg;
};

struct sup_run_opts {
	const struct gears_vm_opts *vm;	/* QEMU and the guest (extra_args kept, services' added) */
	char **cmd;			/* run this in the guest, then power off; NULL: console */
	const char *cwd;		/* the guest directory cmd runs in (NULL: /) */
	bool timing;			/* print boot milestones */
	bool hold;			/* start cmd only when a client says GO */
	const struct sup_pending_opt *opts;
	int nopts;
};

/* The registered services in start order; returns how many. */
int sup_registry(const struct sup_service *const **list);
/* Boot the VM and supervise it until it is gone. Returns gears run's exit
 * status: the command's, 125 if the guest or QEMU died first, 128+N on signal N. */
int sup_run(const struct sup_run_opts *o);

#endif
