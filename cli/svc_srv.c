// SPDX-License-Identifier: MIT
/* Environment rules, injections and hypercalls in the supervisor (svc_srv.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <gears/env.h>
#include <gears/inject.h>
#include <gears/payload.h>
#include <gears/syscall.h>
#include <gears-guest/hypercall.h>

#include "svc_srv.h"

#define MAX_QUEUED 8

struct job {
	int client;
	uint32_t id;
	struct gears_payload *p;
	void *blob;
	size_t blob_len;
	char **argv;
	int argc;
	struct gears_inject_opts o;
	bool used;
};

struct svc {
	struct tsrv *ts;
	tsrv_send_fn send;
	void *ctx;
	struct gears_env *env;
	int ping_id;			/* hypercall handler that keeps the stub answering */
	struct gears_inject *cur;	/* the injection in flight */
	struct job jobs[MAX_QUEUED];	/* jobs[0] is cur's */
};

static void reply(struct svc *v, int client, const char *type, uint32_t id, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void reply(struct svc *v, int client, const char *type, uint32_t id, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (client >= 0)
		v->send(v->ctx, client, type, id, buf, ((size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1));
}

struct svc *svc_new(struct tsrv *ts, tsrv_send_fn send, void *ctx)
{
	struct svc *v = calloc(1, sizeof(*v));

	if (v) {
		v->ts = ts;
		v->send = send;
		v->ctx = ctx;
	}
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

void svc_free(struct svc *v)
{
	if (!v)
		return;
	gears_inject__free(v->cur);
	for (int i = 0; i < MAX_QUEUED; i++)
		job_free(&v->jobs[i]);
	gears_env__free(v->env);
	if (v->ping_id > 0 && tsrv_sc(v->ts))
		gears_sc__remove_hcall(tsrv_sc(v->ts), v->ping_id);
	free(v);
}

static struct gears_sc *sc_of(struct svc *v, char *err, size_t errsz)
{
	struct gears_sc *sc = tsrv_sc(v->ts);

	if (!sc)
		snprintf(err, errsz, "cannot intercept system calls: %s", gears_last_error());
	return sc;
}

int svc_add_env(struct svc *v, const char *rule, char *err, size_t errsz)
{
	struct gears_sc *sc;
	int r;

	if (gears_env__check(rule)) {
		snprintf(err, errsz, "%s", gears_last_error());
		return -EINVAL;
	}
	if (!(sc = sc_of(v, err, errsz)))
		return -EIO;
	if (!v->env && !(v->env = gears_env__new(sc))) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	r = gears_env__add(v->env, rule);
	if (r)
		snprintf(err, errsz, "env rule '%s': %s", rule, gears_last_error());
	return r;
}

/* The engine answers GEARS_HC_PING itself once any hypercall handler is
 * registered; this one answers nothing else (-ENOSYS for unknown ops). */
static int no_op(struct gears_sc_call *c, void *ctx)
{
	(void)c;
	(void)ctx;
	return 0;
}

int svc_enable_hypercalls(struct svc *v, char *err, size_t errsz)
{
	struct gears_sc *sc;
	int r;

	if (v->ping_id > 0)
		return 0;
	if (!(sc = sc_of(v, err, errsz)))
		return -EIO;
	r = gears_sc__add_hcall(sc, GEARS_HC_PING, GEARS_HC_PING, no_op, v);
	if (r < 0) {
		snprintf(err, errsz, "hypercalls: %s", gears_last_error());
		return r;
	}
	v->ping_id = r;
	return 0;
}

void svc_env_request(struct svc *v, int client, uint32_t id, const char *json)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je), *out;
	const char *op = NULL, *rule = NULL;
	char err[512] = "";
	char *txt;

	if (!j || json_unpack(j, "{s:s, s?s}", "op", &op, "rule", &rule)) {
		reply(v, client, "FAIL", id, "bad ENV request");
		json_decref(j);
		return;
	}
	if (!strcmp(op, "add") && rule) {
		if (svc_add_env(v, rule, err, sizeof(err))) {
			reply(v, client, "FAIL", id, "%s", err);
			goto out;
		}
	} else if (!strcmp(op, "del") && rule) {
		if (!v->env || gears_env__del(v->env, rule)) {
			reply(v, client, "FAIL", id, "no env rule '%s'", rule);
			goto out;
		}
	} else if (strcmp(op, "list")) {
		reply(v, client, "FAIL", id, "ENV op must be add RULE, del RULE or list");
		goto out;
	}
	{
		json_t *rules = json_array();
		struct gears_env_stats st = { 0 };

		for (int i = 0; i < gears_env__count(v->env); i++)
			json_array_append_new(rules, json_string(gears_env__rule(v->env, i)));
		if (v->env)
			gears_env__stats(v->env, &st);
		out = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "rules", rules, "stats",
				"execs", (json_int_t)st.execs, "matched", (json_int_t)st.matched,
				"rewritten", (json_int_t)st.rewritten, "fallbacks", (json_int_t)st.fallbacks,
				"failed", (json_int_t)st.failed, "compat", (json_int_t)st.compat,
				"late", (json_int_t)st.late);
		txt = json_dumps(out, JSON_COMPACT);
		if (txt)
			v->send(v->ctx, client, "OK", id, txt, strlen(txt));
		free(txt);
		json_decref(out);
	}
out:
	json_decref(j);
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

void svc_inject_request(struct svc *v, int client, uint32_t id, const char *json)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je), *args = NULL;
	const char *payload = NULL, *blob = NULL;
	int pid = 0, tid = 0, timeout = 0, no_kick = 0;
	char err[512] = "";
	struct job *jb = NULL;

	if (!j || json_unpack(j, "{s:s, s?i, s?i, s?o, s?s, s?i, s?b}", "payload", &payload, "pid", &pid, "tid",
			      &tid, "args", &args, "blob", &blob, "timeout_ms", &timeout, "no_kick", &no_kick)) {
		reply(v, client, "FAIL", id, "bad INJECT request");
		goto out;
	}
	for (int i = 0; i < MAX_QUEUED; i++)
		if (!v->jobs[i].used) {
			jb = &v->jobs[i];
			break;
		}
	if (!jb) {
		reply(v, client, "FAIL", id, "too many injections queued");
		goto out;
	}
	if (args && (!json_is_array(args) || json_array_size(args) > 16)) {
		reply(v, client, "FAIL", id, "at most 16 payload arguments");
		goto out;
	}
	jb->used = true;
	jb->client = client;
	jb->id = id;
	jb->p = gears_payload__open(payload);
	if (!jb->p) {
		reply(v, client, "FAIL", id, "payload %s: %s", payload, gears_last_error());
		job_free(jb);
		goto out;
	}
	if (blob && !(jb->blob = read_file(blob, &jb->blob_len, err, sizeof(err)))) {
		reply(v, client, "FAIL", id, "%s", err);
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
			if (v->jobs[i].used && (!jb || v->jobs[i].id < jb->id))
				jb = &v->jobs[i];
		if (!jb)
			return;
		if (!(sc = sc_of(v, err, sizeof(err)))) {
			reply(v, jb->client, "FAIL", jb->id, "%s", err);
			job_free(jb);
			continue;
		}
		v->cur = gears_inject__start(sc, jb->p, &jb->o);
		if (!v->cur) {
			reply(v, jb->client, "FAIL", jb->id, "%s", gears_last_error());
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

bool svc_active(const struct svc *v)
{
	return v && v->cur;
}

bool svc_poll(struct svc *v)
{
	struct gears_inject_result r;
	struct job *jb = &v->jobs[0];

	if (!v || !v->cur)
		return false;
	if (!gears_inject__step(v->cur))
		return true;
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
			v->send(v->ctx, jb->client, "OK", jb->id, txt, strlen(txt));
		free(txt);
		json_decref(o);
	} else {
		reply(v, jb->client, "FAIL", jb->id, "%s", r.why[0] ? r.why : "injection failed");
	}
	job_free(jb);
	start_next(v);
	return v->cur != NULL;
}

void svc_drop_client(struct svc *v, int client)
{
	/* A job already running finishes (the target must be restored); its
	 * answer goes nowhere. Queued ones are dropped. */
	if (!v)
		return;	/* clients closed after the services went */
	for (int i = 0; i < MAX_QUEUED; i++) {
		if (!v->jobs[i].used || v->jobs[i].client != client)
			continue;
		if (i == 0 && v->cur)
			v->jobs[i].client = -1;
		else
			job_free(&v->jobs[i]);
	}
}
