// SPDX-License-Identifier: MIT
/*
 * The guest agent's channel (docs/guest-agent.md): boot milestones, the main
 * command, commands run for clients (`gears exec`) and for services
 * (sup_guest_exec), and the clean power-off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gears/ctl.h>

#include "sup_int.h"

#define POWEROFF_TIMEOUT_MS 15000
#define MARK_WAIT_MS 3000	/* EXIT seen: how long the end mark may lag */

void sup_start_command(struct sup *s)
{
	size_t len = 0;
	char *payload = gears_ctl__pack_argv(s->cmd, &len);

	/* RUN switches off the console's output processing, so what the command
	 * writes reaches our stdout byte for byte; on a terminal, CONSOLE keeps
	 * the usual tty behaviour. */
	if (!s->tty && s->cmd) {
		s->want_mark = true;
		s->mark_len = (size_t)snprintf(s->mark, sizeof(s->mark), "\033]gears-end;%d\007", SUP_MAIN_ID);
	}
	if (s->o.cwd && *s->o.cwd)
		frame_send(s->agent_fd, "CWD", SUP_MAIN_ID, s->o.cwd, strlen(s->o.cwd));
	frame_send(s->agent_fd, (s->tty || !s->cmd) ? "CONSOLE" : "RUN", SUP_MAIN_ID, payload, len);
	free(payload);
	s->cmd_sent = true;
	s->show_console = true;
	if (!s->cmd && !s->tty)
		fprintf(stderr, "gears: no terminal: the guest shell reads nothing; use -- CMD\n");
}

void sup_power_off(struct sup *s)
{
	char err[8];

	if (s->stopping)
		return;
	s->stopping = true;
	s->stop_deadline = gears_now_ns() + POWEROFF_TIMEOUT_MS * 1000000ull;
	sup_services_call(s, SUP_HOOK_STOPPING, err, sizeof(err));
	if (s->agent == AG_READY && s->agent_fd >= 0) {
		frame_send(s->agent_fd, "POWEROFF", 0, NULL, 0);
	} else {
		/* No agent: ask through ACPI; the deadline catches a guest that ignores it. */
		json_decref(gears_qmp__execute(gears_vm__qmp(s->vm), "system_powerdown", NULL));
	}
}

void sup_stop_vm(struct sup *s, int exit_code, const char *why)
{
	if (!*s->why && why)
		snprintf(s->why, sizeof(s->why), "%s", why);
	if (s->exit_code < 0 && !s->cmd_done)
		s->exit_code = exit_code;
	sup_power_off(s);
}

static int parse_status(const char *p)
{
	int sig;

	if (sscanf(p, "signal %d", &sig) == 1)
		return 128 + sig;
	return atoi(p) & 0xff;
}

static struct sup_fwd *find_fwd(struct sup *s, uint32_t agent_id)
{
	for (int i = 0; i < s->nfwd; i++)
		if (s->fwd[i].agent_id == agent_id)
			return &s->fwd[i];
	return NULL;
}

static void drop_fwd(struct sup *s, struct sup_fwd *f)
{
	free(f->out);
	*f = s->fwd[--s->nfwd];
}

/* The main command starts once the agent is up and the commands services ran
 * to set the guest up (sup_guest_exec before it) have finished. */
static void maybe_start_command(struct sup *s)
{
	int setup = 0;

	for (int i = 0; i < s->nfwd; i++)
		setup += s->fwd[i].setup;
	if (s->agent == AG_READY && !s->cmd_sent && !s->o.hold && !s->stopping && !setup)
		sup_start_command(s);
}

/* READY: services set up what must be there before the command's first
 * execve (env rules, NIC addresses), then the command starts. */
static void guest_ready(struct sup *s)
{
	char err[sizeof(s->why) - 8];

	s->t_ready = gears_now_ns();
	s->agent = AG_READY;
	if (s->o.timing)
		fprintf(stderr, "gears: timing: agent ready at %.1f ms\n", sup_ms_since(s, s->t_ready));
	/* Interception first: env rules must be in force before the command. */
	sup_check_kernel(s, true);
	if (!s->kernel_up) {
		sup_stop_vm(s, 125, "the guest agent is up but its kernel cannot be read");
		return;
	}
	if (sup_services_call(s, SUP_HOOK_GUEST_READY, err, sizeof(err))) {
		sup_stop_vm(s, 125, err);
		return;
	}
	maybe_start_command(s);
}

static void main_command_frame(struct sup *s, const struct frame *f)
{
	if (!strcmp(f->type, "PID")) {
		s->main_pid = atoi(f->data);
		for (int i = 0; i < SUP_MAX_CLIENTS; i++)
			if (s->clients[i].fd >= 0)
				sup_send(s, i, "PID", 0, f->data, f->len);
		return;
	}
	if (strcmp(f->type, "EXIT") && strcmp(f->type, "FAIL"))
		return;
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
		s->mark_deadline = gears_now_ns() + MARK_WAIT_MS * 1000000ull;
	} else {
		sup_power_off(s);
	}
}

static void forwarded_frame(struct sup *s, struct sup_fwd *w, const struct frame *f)
{
	bool last = !strcmp(f->type, "EXIT") || !strcmp(f->type, "FAIL");

	if (w->client >= 0) {
		sup_send(s, w->client, f->type, w->client_id, f->data, f->len);
	} else if (!strcmp(f->type, "OUT") && w->out_len < SUP_EXEC_OUT_MAX) {
		size_t k = f->len < SUP_EXEC_OUT_MAX - w->out_len ? f->len : SUP_EXEC_OUT_MAX - w->out_len;
		char *nb = realloc(w->out, w->out_len + k + 1);

		if (nb) {
			memcpy(nb + w->out_len, f->data, k);
			w->out = nb;
			w->out_len += k;
			w->out[w->out_len] = 0;
		}
	}
	if (!last)
		return;
	if (w->client < 0 && w->done) {
		int st = !strcmp(f->type, "EXIT") ? parse_status(f->data) : -1;

		w->done(w->ctx, st, w->out ? w->out : "", w->out_len);
	}
	drop_fwd(s, w);
}

static void agent_frame(struct sup *s, const struct frame *f)
{
	struct sup_fwd *w;

	if (f->id == 0 && !strcmp(f->type, "FAIL")) {
		fprintf(stderr, "gears: guest agent: %s\n", f->data);
	} else if (!strcmp(f->type, "INIT")) {
		s->t_init = gears_now_ns();
		if (s->o.timing)
			fprintf(stderr, "gears: timing: guest /init started at %.1f ms\n", sup_ms_since(s, s->t_init));
		sup_check_kernel(s, true);
	} else if (!strcmp(f->type, "READY")) {
		guest_ready(s);
	} else if (f->id == SUP_MAIN_ID) {
		main_command_frame(s, f);
	} else if ((w = find_fwd(s, f->id))) {
		forwarded_frame(s, w, f);
		maybe_start_command(s);
	}
}

void sup_agent_input(struct sup *s)
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

static int new_fwd(struct sup *s, struct sup_fwd **out)
{
	if (s->agent != AG_READY || s->agent_fd < 0)
		return -ENOTCONN;
	if (s->nfwd >= SUP_MAX_FWD)
		return -EBUSY;
	*out = &s->fwd[s->nfwd++];
	**out = (struct sup_fwd){ .agent_id = s->next_id++, .client = -1 };
	return 0;
}

/* EXEC and SIGNAL from a control-socket client. */
void sup_agent_forward(struct sup *s, int client, const struct frame *f)
{
	struct sup_fwd *w;

	if (!strcmp(f->type, "SIGNAL")) {
		for (int k = 0; k < s->nfwd; k++)
			if (s->fwd[k].client == client && s->fwd[k].client_id == f->id && s->agent_fd >= 0)
				frame_send(s->agent_fd, "SIGNAL", s->fwd[k].agent_id, f->data, f->len);
		return;
	}
	if (s->stopping || new_fwd(s, &w)) {
		const char *m = s->stopping ? "VM is shutting down" :
				s->nfwd >= SUP_MAX_FWD ? "too many requests" : "guest agent not ready";

		sup_send(s, client, "FAIL", f->id, m, strlen(m));
		return;
	}
	w->client = client;
	w->client_id = f->id;
	frame_send(s->agent_fd, "EXEC", w->agent_id, f->data, f->len);
}

/* A client that goes away takes its guest processes with it. */
void sup_agent_drop_client(struct sup *s, int client)
{
	for (int k = s->nfwd - 1; k >= 0; k--) {
		if (s->fwd[k].client != client)
			continue;
		if (s->agent_fd >= 0)
			frame_send(s->agent_fd, "SIGNAL", s->fwd[k].agent_id, "9", 1);
		drop_fwd(s, &s->fwd[k]);
	}
}

int sup_guest_exec(struct sup *s, char *const argv[], sup_exec_done_fn done, void *ctx)
{
	struct sup_fwd *w;
	size_t len = 0;
	char *payload;
	int r = new_fwd(s, &w);

	if (r)
		return r;
	payload = gears_ctl__pack_argv(argv, &len);
	if (!payload) {
		s->nfwd--;
		return -ENOMEM;
	}
	w->done = done;
	w->ctx = ctx;
	w->setup = !s->cmd_sent;
	r = frame_send(s->agent_fd, "EXEC", w->agent_id, payload, len);
	free(payload);
	if (r) {
		drop_fwd(s, w);
		return r;
	}
	return 0;
}
