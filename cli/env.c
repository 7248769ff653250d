// SPDX-License-Identifier: MIT
/* gears env NAME add|del|list [RULE]: environment rules of a running VM. */
#include <errno.h>
#include <string.h>

#include <gears/env.h>

#include "cli.h"
#include "ctl.h"

static void help(FILE *f)
{
	fprintf(f,
		"Changes the environment that programs in the guest start with, at every\n"
		"execve/execveat of any process, from outside (no guest help).\n\n"
		"  gears env NAME add RULE    add a rule (applied after those already there)\n"
		"  gears env NAME del RULE    remove the rule with exactly this text\n"
		"  gears env NAME list        rules and counters\n\n"
		"RULE:\n"
		"  [GLOB:]VAR=VALUE     set or replace VAR\n"
		"  [GLOB:]VAR+=VALUE    prepend VALUE to the colon-separated list in VAR (e.g.\n"
		"                       LD_PRELOAD), unless it is already there\n"
		"  [GLOB:]-VAR          remove VAR\n"
		"GLOB (default *) matches the executable's path as given to execve, or its\n"
		"basename. The first ':' ends GLOB unless an '=' comes before it.\n\n"
		"Examples:\n"
		"  gears env vm1 add 'uname*:LD_PRELOAD+=/lib/gears/gears_uname_preload.so'\n"
		"  gears env vm1 add '/usr/bin/*:-HTTP_PROXY'\n"
		"  gears run --env 'LANG=C.UTF-8' -- sh -c 'echo $LANG'\n\n"
		"The new environment is written below the caller's stack (dead memory while\n"
		"it waits in execve), never over live data; where those pages are missing the\n"
		"call first maps fresh memory (a 'fallback' in the counters). 64-bit programs.\n");
}

static int run(int argc, char **argv)
{
	const char *name = NULL, *op = NULL, *rule = NULL;
	json_t *j;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "--pretty"))
			continue;
		if (!name)
			name = argv[i];
		else if (!op)
			op = argv[i];
		else if (!rule)
			rule = argv[i];
		else
			return cli_usage(&cmd_env, stderr);
	}
	if (!name || !op || (strcmp(op, "list") && !rule) || (!strcmp(op, "list") && rule) ||
	    (strcmp(op, "add") && strcmp(op, "del") && strcmp(op, "list")))
		return cli_usage(&cmd_env, stderr);
	if (rule && gears_env__check(rule))
		return cli_error("%s", gears_last_error());
	j = ctl_request(name, "ENV", rule ? json_pack("{s:s, s:s}", "op", op, "rule", rule) :
					     json_pack("{s:s}", "op", op), 10000, "");
	if (!j)
		return 1;
	if (json_mode) {
		cli_json_print(j);
		return 0;
	}
	if (!strcmp(op, "list")) {
		json_t *rules = json_object_get(j, "rules"), *st = json_object_get(j, "stats"), *v;
		size_t i;
		const char *k;

		json_array_foreach(rules, i, v)
			printf("%s\n", json_string_value(v));
		if (!json_array_size(rules))
			printf("(no rules)\n");
		printf("--");
		json_object_foreach(st, k, v)
			printf(" %s %lld", k, (long long)json_integer_value(v));
		printf("\n");
	}
	json_decref(j);
	return 0;
}

const struct gears_cmd cmd_env = {
	.name = "env",
	.args = "NAME add|del RULE | NAME list",
	.summary = "change the environment of programs the guest starts",
	.run = run,
	.help = help,
};
