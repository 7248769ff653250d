// SPDX-License-Identifier: MIT
/*
 * The inject service: code injection into guest processes (INJECT requests
 * from `gears inject`, one at a time, queued) and the hypercall ABI for guest
 * code (`gears run --hypercalls`: the stub answers GEARS_HC_PING from boot).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gears/inject.h>
#include <gears/payload.h>
#include <gears/syscall.h>
#include <gears-guest/hypercall.h>

#include "supervisor.h"

#define MAX_QUEUED 8

struct job {
	int client;
	uint32_t id;
	uint64_t seq;		/* arrival order: the oldest queued job runs next */
	struct gears_payload *p;
	void *blob;
	size_t blob_len;
	char **argv;
	int argc;
	struct gears_inject_opts o;
	bool used;
};

struct svc {
	struct sup *sup;
	bool hypercalls;		/* --hypercalls */
	struct gears_inject *cur;	/* the injection in flight */
	struct job jobs[MAX_QUEUED];	/* jobs[0] is cur's */
	uint64_t next_seq;
	uint64_t done, failed;		/* injections finished, by outcome */
};

static void *inject_create(struct sup *sup)
{
	struct svc *v = calloc(1, sizeof(*v));

	if (v)
		v->sup = sup;
	return v;
}

static void job_free(struct job *j)
{
	gears_payload__free(j->p);
	free(j->blob);
	for (int i = 0; i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	memset(j, 0, sizeof(*j));
}

static void inject_destroy(void *state)
{
	struct svc *v = state;

	if (!v)
		return;
	gears_inject__free(v->cur);
	for (int i = 0; i < MAX_QUEUED; i++)
		job_free(&v->jobs[i]);
	free(v);
}

static struct gears_sc *sc_of(struct svc *v, char *err, size_t errsz)
{
	struct gears_sc *sc = sup_sc(v->sup);

	if (!sc)
		snprintf(err, errsz, "cannot intercept system calls: %s", gears_last_error());
	return sc;
}

static void *read_file(const char *path, size_t *len, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	void *buf = NULL;
	long n;

	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (32l << 20) || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errsz, "%s: unreadable or over 32 MiB", path);
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errsz, "%s: read failed", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void start_next(struct svc *v);

static void req_inject(void *state, const struct sup_req *rq)
{
	struct svc *v = state;
	int client = rq->client;
	uint32_t id = rq->id;
	json_error_t je;
	json_t *j = json_loads(rq->data, 0, &je), *args = NULL;
	const char *payload = NULL, *blob = NULL;
	int pid = 0, tid = 0, timeout = 0, no_kick = 0;
	char err[512] = "";
	struct job *jb = NULL;

	if (!j || json_unpack(j, "{s:s, s?i, s?i, s?o, s?s, s?i, s?b}", "payload", &payload, "pid", &pid, "tid",
			      &tid, "args", &args, "blob", &blob, "timeout_ms", &timeout, "no_kick", &no_kick)) {
		sup_sendf(v->sup, client, "FAIL", id, "bad INJECT request");
		goto out;
	}
	for (int i = 0; i < MAX_QUEUED; i++)
		if (!v->jobs[i].used) {
			jb = &v->jobs[i];
			break;
		}
	if (!jb) {
		sup_sendf(v->sup, client, "FAIL", id, "too many injections queued");
		goto out;
	}
	if (args && (!json_is_array(args) || json_array_size(args) > 16)) {
		sup_sendf(v->sup, client, "FAIL", id, "at most 16 payload arguments");
		goto out;
	}
	jb->used = true;
	jb->client = client;
	jb->id = id;
	jb->seq = ++v->next_seq;
	jb->p = gears_payload__open(payload);
	if (!jb->p) {
		sup_sendf(v->sup, client, "FAIL", id, "payload %s: %s", payload, gears_last_error());
		job_free(jb);
		goto out;
	}
	if (blob && !(jb->blob = read_file(blob, &jb->blob_len, err, sizeof(err)))) {
		sup_sendf(v->sup, client, "FAIL", id, "%s", err);
		job_free(jb);
		goto out;
	}
	if (timeout < 0 || timeout > 600000)
		timeout = 0;	/* the library's default */
	jb->argc = args ? (int)json_array_size(args) : 0;
	jb->argv = calloc((size_t)jb->argc + 1, sizeof(char *));
	for (int i = 0; jb->argv && i < jb->argc; i++)
		jb->argv[i] = strdup(json_string_value(json_array_get(args, (size_t)i)) ?: "");
	jb->o = (struct gears_inject_opts){ .sz = sizeof(jb->o), .pid = pid, .tid = tid, .argc = jb->argc,
					    .argv = (const char *const *)jb->argv, .blob = jb->blob,
					    .blob_len = jb->blob_len, .timeout_ms = (unsigned)timeout,
					    .no_kick = no_kick };
	start_next(v);
out:
	json_decref(j);
}

/* Injections run one at a time (each holds every system call of the guest
 * up while it waits for its target): the oldest queued job goes next. */
static void start_next(struct svc *v)
{
	struct gears_sc *sc;
	char err[512];

	while (!v->cur) {
		struct job *jb = NULL;

		for (int i = 0; i < MAX_QUEUED; i++)
			if (v->jobs[i].used && (!jb || v->jobs[i].seq < jb->seq))
				jb = &v->jobs[i];
		if (!jb)
			return;
		if (!(sc = sc_of(v, err, sizeof(err)))) {
			sup_sendf(v->sup, jb->client, "FAIL", jb->id, "%s", err);
			job_free(jb);
			continue;
		}
		v->cur = gears_inject__start(sc, jb->p, &jb->o);
		if (!v->cur) {
			sup_sendf(v->sup, jb->client, "FAIL", jb->id, "%s", gears_last_error());
			job_free(jb);
			continue;
		}
		/* Keep the job at the front: swap it into jobs[0]. */
		if (jb != &v->jobs[0]) {
			struct job t = v->jobs[0];

			v->jobs[0] = *jb;
			*jb = t;
		}
	}
}

/* Kicks and timeouts of the injection in flight; > 0 while one is (it waits
 * for its target's next system call: look often). */
static int inject_poll(void *state, const struct pollfd *p, int n)
{
	struct svc *v = state;
	struct gears_inject_result r;
	struct job *jb = &v->jobs[0];

	(void)p;
	(void)n;
	if (!v->cur)
		return 0;
	if (!gears_inject__step(v->cur))
		return 1;
	gears_inject__result(v->cur, &r);
	gears_inject__free(v->cur);
	v->cur = NULL;
	if (r.state == GEARS_INJECT_DONE) {
		json_t *o = json_pack("{s:I, s:i, s:i, s:I, s:I, s:s, s:f, s:f, s:I, s:b}", "result",
				      (json_int_t)r.result, "pid", r.pid, "tid", r.tid, "base", (json_int_t)r.base,
				      "size", (json_int_t)r.size, "how", r.how ? r.how : "?", "taken_ms",
				      r.ns_taken / 1e6, "total_ms", r.ns_total / 1e6, "syscalls",
				      (json_int_t)r.syscalls, "leaked", r.leaked);
		char *txt = json_dumps(o, JSON_COMPACT);

		if (txt && jb->client >= 0)
			sup_send(v->sup, jb->client, "OK", jb->id, txt, strlen(txt));
		v->done++;
		free(txt);
		json_decref(o);
	} else {
		sup_sendf(v->sup, jb->client, "FAIL", jb->id, "%s", r.why[0] ? r.why : "injection failed");
		v->failed++;
	}
	job_free(jb);
	start_next(v);
	return v->cur != NULL;
}

/* An injection in flight has kicks and timeouts to run. */
static int inject_timeout_us(void *state)
{
	struct svc *v = state;

	return v->cur ? 5000 : -1;
}

static void inject_client_gone(void *state, int client)
{
	struct svc *v = state;

	/* A job already running finishes (the target must be restored); its
	 * answer goes nowhere. Queued ones are dropped. */
	for (int i = 0; i < MAX_QUEUED; i++) {
		if (!v->jobs[i].used || v->jobs[i].client != client)
			continue;
		if (i == 0 && v->cur)
			v->jobs[i].client = -1;
		else
			job_free(&v->jobs[i]);
	}
}

/* The engine answers GEARS_HC_PING itself once any hypercall handler is
 * registered; this one answers nothing else (-ENOSYS for unknown ops). */
static int hcall_ping(struct gears_sc_call *c, void *ctx)
{
	(void)c;
	(void)ctx;
	return 0;
}

static int opt_hypercalls(void *state, const char *arg, char *err, size_t errsz)
{
	struct svc *v = state;

	(void)arg;
	(void)err;
	(void)errsz;
	v->hypercalls = true;
	return 0;
}

static const struct sup_service inject_service;

/* --hypercalls: in force before the command runs. */
static int inject_kernel_up(void *state, char *err, size_t errsz)
{
	struct svc *v = state;
	int r;

	if (!v->hypercalls)
		return 0;
	r = sup_hcalls_enable(v->sup, &inject_service);
	if (r)
		snprintf(err, errsz, "hypercalls: %s", gears_last_error());
	return r;
}

static json_t *inject_info(void *state)
{
	struct svc *v = state;
	int queued = 0;

	for (int i = 0; i < MAX_QUEUED; i++)
		queued += v->jobs[i].used;
	return json_pack("{s:b, s:b, s:i, s:I, s:I}", "hypercalls", v->hypercalls, "running", v->cur != NULL,
			 "queued", queued - (v->cur != NULL), "done", (json_int_t)v->done, "failed",
			 (json_int_t)v->failed);
}

static const struct sup_option inject_options[] = {
	{ "hypercalls", NULL, "answer the GEARS hypercall (PING) for guest code from boot", false,
	  opt_hypercalls },
	{ 0 },
};

static const struct sup_verb inject_verbs[] = {
	{ "INJECT", SUP_VERB_NEEDS_KERNEL, req_inject },
	{ 0 },
};

static const struct sup_service inject_service = {
	.name = "inject",
	.order = 30,
	.options = inject_options,
	.verbs = inject_verbs,
	.hcall_lo = GEARS_HC_PING,
	.hcall_hi = GEARS_HC_PING,
	.hcall = hcall_ping,
	.create = inject_create,
	.kernel_up = inject_kernel_up,
	.poll = inject_poll,
	.timeout_us = inject_timeout_us,
	.client_gone = inject_client_gone,
	.info = inject_info,
	.destroy = inject_destroy,
};
SUP_SERVICE(inject_service);
