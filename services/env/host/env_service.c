// SPDX-License-Identifier: MIT
/*
 * The env service: environment rules applied at every execve in the guest
 * (include/gears/env.h), set from the command line (`gears run --env RULE`,
 * in force before the command's first execve) and on a running VM (`gears env
 * NAME add|del|list`, the ENV request). Command-line rules are installed as
 * soon as the guest kernel is up, so they reach a distribution's services. Other services add rules through
 * env_service_add() (the MPI accelerator places its preload library so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gears/env.h>

#include "env_service.h"
#include "supervisor.h"

#define MAX_CMDLINE_RULES 64

struct env_svc {
	struct sup *sup;
	struct gears_env *env;		/* created with the first rule */
	char *pending[MAX_CMDLINE_RULES];	/* --env rules, added when the guest is up */
	int npending;
};

static void *env_create(struct sup *sup)
{
	struct env_svc *e = calloc(1, sizeof(*e));

	if (e)
		e->sup = sup;
	return e;
}

static void env_destroy(void *state)
{
	struct env_svc *e = state;

	if (!e)
		return;
	gears_env__free(e->env);
	for (int i = 0; i < e->npending; i++)
		free(e->pending[i]);
	free(e);
}

int env_service_add(void *state, const char *rule, char *err, size_t errsz)
{
	struct env_svc *e = state;
	struct gears_sc *sc;
	int r;

	if (gears_env__check(rule)) {
		snprintf(err, errsz, "%s", gears_last_error());
		return -EINVAL;
	}
	if (!(sc = sup_sc(e->sup))) {
		snprintf(err, errsz, "cannot intercept system calls: %s", gears_last_error());
		return -EIO;
	}
	if (!e->env && !(e->env = gears_env__new(sc))) {
		snprintf(err, errsz, "%s", gears_last_error());
		return -ENOMEM;
	}
	r = gears_env__add(e->env, rule);
	if (r)
		snprintf(err, errsz, "env rule '%s': %s", rule, gears_last_error());
	return r;
}

int env_service_del(void *state, const char *rule)
{
	struct env_svc *e = state;

	return e->env ? gears_env__del(e->env, rule) : -ENOENT;
}

/* --env RULE: checked now, so a typo fails before the VM boots. */
static int opt_env(void *state, const char *arg, char *err, size_t errsz)
{
	struct env_svc *e = state;

	if (gears_env__check(arg)) {
		snprintf(err, errsz, "%s", gears_last_error());
		return -EINVAL;
	}
	if (e->npending >= MAX_CMDLINE_RULES) {
		snprintf(err, errsz, "at most %d --env rules", MAX_CMDLINE_RULES);
		return -E2BIG;
	}
	if (!(e->pending[e->npending] = strdup(arg)))
		return -ENOMEM;
	e->npending++;
	return 0;
}

static int env_kernel_up(void *state, char *err, size_t errsz)
{
	struct env_svc *e = state;
	int r = 0;

	for (int i = 0; i < e->npending && !r; i++)
		r = env_service_add(e, e->pending[i], err, errsz);
	return r;
}

static json_t *env_json(struct env_svc *e)
{
	json_t *rules = json_array();
	struct gears_env_stats st = { 0 };
	struct gears_sc_stats sst = { 0 };
	struct gears_sc *sc = e->env ? sup_sc(e->sup) : NULL;

	for (int i = 0; i < gears_env__count(e->env); i++)
		json_array_append_new(rules, json_string(gears_env__rule(e->env, i)));
	if (e->env)
		gears_env__stats(e->env, &st);
	if (sc)
		gears_sc__stats(sc, &sst);
	return json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "rules", rules, "stats",
			 "execs", (json_int_t)st.execs, "matched", (json_int_t)st.matched,
			 "rewritten", (json_int_t)st.rewritten, "fallbacks", (json_int_t)st.fallbacks,
			 "failed", (json_int_t)st.failed, "compat", (json_int_t)st.compat,
			 "late", (json_int_t)st.late, "sync_timeouts", (json_int_t)sst.sync_timeouts);
}

/* ENV {"op": "add"|"del"|"list", "rule": R}: answered with the rules and counters. */
static void req_env(void *state, const struct sup_req *rq)
{
	struct env_svc *e = state;
	json_t *j = json_loads(rq->data, 0, NULL);
	const char *op = NULL, *rule = NULL;
	char err[512] = "";

	if (!j || json_unpack(j, "{s:s, s?s}", "op", &op, "rule", &rule)) {
		sup_reply_fail(rq, "bad ENV request");
	} else if (!strcmp(op, "add") && rule) {
		if (env_service_add(e, rule, err, sizeof(err)))
			sup_reply_fail(rq, "%s", err);
		else
			sup_reply_ok(rq, env_json(e));
	} else if (!strcmp(op, "del") && rule) {
		if (env_service_del(e, rule))
			sup_reply_fail(rq, "no env rule '%s'", rule);
		else
			sup_reply_ok(rq, env_json(e));
	} else if (!strcmp(op, "list")) {
		sup_reply_ok(rq, env_json(e));
	} else {
		sup_reply_fail(rq, "ENV op must be add RULE, del RULE or list");
	}
	json_decref(j);
}

static json_t *env_info(void *state)
{
	return env_json(state);
}

static const struct sup_option env_options[] = {
	{ "env", "RULE", "change the environment of every matching execve in the guest: "
	  "[GLOB:]VAR=VALUE, [GLOB:]VAR+=VALUE, [GLOB:]-VAR (see `gears env --help`)", true, opt_env },
	{ 0 },
};

static const struct sup_verb env_verbs[] = {
	{ "ENV", 0, req_env },
	{ 0 },
};

static const struct sup_service env_service = {
	.name = "env",
	.order = 20,
	.options = env_options,
	.verbs = env_verbs,
	.create = env_create,
	.kernel_up = env_kernel_up,
	.info = env_info,
	.destroy = env_destroy,
};
SUP_SERVICE(env_service);
