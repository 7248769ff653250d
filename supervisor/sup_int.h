/* SPDX-License-Identifier: MIT */
/* Internals of the supervisor shared by its files (not for services). */
#ifndef GEARS_SUP_INT_H
#define GEARS_SUP_INT_H

#include <poll.h>
#include <sys/types.h>
#include <termios.h>

#include "frame.h"
#include "internal.h"
#include "supervisor.h"

#define SUP_MAX_CLIENTS 32
#define SUP_MAX_SERVICES 32
#define SUP_MAX_FWD 256
#define SUP_MAX_SVC_FDS 16	/* poll entries per service */
#define SUP_MAIN_ID 1		/* agent request id of the main command */
#define SUP_OUTQ_MAX (256u << 20)	/* a client this far behind loses frames */
#define SUP_EXEC_OUT_MAX (64u << 10)	/* stdout kept for sup_guest_exec callers */

struct sup_client {
	int fd;
	uint32_t console_id;	/* CONSOLE subscription (0: none): console output as CON frames */
	struct frame_reader rd;
	char *out;		/* frames not yet written (non-blocking socket) */
	size_t out_len, out_cap;
	uint64_t lost;		/* frames dropped because out was full */
};

/* An agent request made for a client (client >= 0) or a service (done). */
struct sup_fwd {
	uint32_t agent_id;
	int client;
	uint32_t client_id;
	sup_exec_done_fn done;
	void *ctx;
	char *out;
	size_t out_len;
	bool setup;		/* a service's set-up: the main command waits for it */
};

struct sup_svc {
	const struct sup_service *d;
	void *state;
	int hcall_id;		/* handler id in the engine (0: none) */
	int pfd, npfd;		/* its entries in this turn's poll array */
};

struct sup_args {
	char *v[256];
	int n;
};

struct sup {
	struct gears_vm *vm;
	struct sup_run_opts o;
	char **cmd;		/* NULL: interactive shell */
	bool tty;		/* stdin and stdout are a terminal: relay keys, raw mode */
	bool raw;
	struct termios saved;
	int con_fd, agent_fd, ctl_fd, sig_fd, bell_fd;
	uid_t owner;		/* who may use the control socket (besides root) */
	/* agent */
	struct frame_reader agent_rd;
	enum { AG_WAIT, AG_READY } agent;
	bool cmd_sent, cmd_done;
	int cmd_status;
	int main_pid;		/* pid of the command in the guest (agent's PID frame) */
	struct sup_fwd fwd[SUP_MAX_FWD];
	int nfwd;
	uint32_t next_id;
	/* console */
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
	/* control socket */
	struct sup_client clients[SUP_MAX_CLIENTS];
	uint64_t refused;	/* connections from users who may not drive this VM */
	/* services and the interception engine they share */
	struct sup_svc svc[SUP_MAX_SERVICES];
	int nsvc;
	struct sup_args args;	/* QEMU arguments the services added */
	struct gears_sc *sc;
	uint64_t sc_last_work;	/* when a poll of the engine last found something */
	/* the guest kernel */
	bool kernel_up;
	uint64_t next_kernel_check;
	/* the way out */
	bool stopping;		/* graceful power-off requested */
	uint64_t stop_deadline;
	int sigints;
	int exit_code;		/* -1: decide at the end */
	char why[256];		/* why the VM went away, if abnormally */
	bool guest_reset;
};

/* services.c */
int sup_services_create(struct sup *s, const struct sup_pending_opt *opts, int nopts, char *err, size_t errsz);
int sup_services_call(struct sup *s, int hook, char *err, size_t errsz);
void sup_services_destroy(struct sup *s);
bool sup_services_verb(struct sup *s, const struct sup_req *rq);
void sup_services_client_gone(struct sup *s, int client);
int sup_services_fds(struct sup *s, struct pollfd *p, int n, int max);
int sup_services_poll(struct sup *s, const struct pollfd *p);
int sup_services_timeout_us(struct sup *s);
json_t *sup_services_info(struct sup *s);
enum { SUP_HOOK_QEMU_ARGS, SUP_HOOK_LAUNCHED, SUP_HOOK_KERNEL_UP, SUP_HOOK_GUEST_READY, SUP_HOOK_STOPPING };
int sup_services_qemu_args(struct sup *s, struct sup_args *a, char *err, size_t errsz);

/* engine.c: the shared gears_sc */
int sup_engine_poll(struct sup *s);
int sup_engine_sleep_us(struct sup *s);
int sup_engine_fd(struct sup *s);
bool sup_engine_sync(struct sup *s);
int sup_engine_bell_arm(struct sup *s, int *sleep_us);
void sup_engine_bell_disarm(struct sup *s);
void sup_engine_free(struct sup *s);

/* agent.c */
void sup_agent_input(struct sup *s);
void sup_start_command(struct sup *s);
void sup_power_off(struct sup *s);
void sup_agent_forward(struct sup *s, int client, const struct frame *f);
void sup_agent_drop_client(struct sup *s, int client);

/* console.c */
void sup_console_input(struct sup *s);
void sup_stdin_input(struct sup *s);
void sup_console_drain(struct sup *s);
void sup_tty_raw(struct sup *s);
void sup_tty_restore(struct sup *s);

/* console.c */
void sup_console_subscribe(struct sup *s, const struct sup_req *rq, bool on);
void sup_console_type(struct sup *s, const struct sup_req *rq);

/* ctl_srv.c */
int sup_ctl_listen(struct sup *s);
void sup_ctl_accept(struct sup *s);
void sup_ctl_input(struct sup *s, int client);
void sup_ctl_flush(struct sup *s, int client);
void sup_ctl_close(struct sup *s, int client);
void sup_ctl_flush_all(struct sup *s);

/* sup.c */
void sup_check_kernel(struct sup *s, bool now);

/* watchdog.c */
void sup_gdb_watchdog(struct sup *s);

double sup_ms_since(const struct sup *s, uint64_t t);

#endif
