// SPDX-License-Identifier: MIT
/*
 * gears — Guest Examination And Revision Services.
 *
 * A table of subcommands; each lives in its own file. Options common to all:
 * --json/-j (machine-readable output, errors included), --pretty/-p, -v.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gears/gears.h>
#include <gears/vm.h>

#include "cli.h"

bool json_mode;
bool pretty_mode;

static const struct gears_cmd *const commands[] = {
	&cmd_run, &cmd_list, &cmd_ps, &cmd_kernel, &cmd_exec, &cmd_stop, &cmd_region, &cmd_trace, &cmd_mem, &cmd_env, &cmd_inject, &cmd_console, &cmd_vnet, &cmd_mpirun,
};

int cli_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_mode) {
		cli_json_print(json_pack("{s:s}", "error", msg));
	} else {
		fprintf(stderr, "gears: %s\n", msg);
	}
	return 1;
}

void cli_json_print(json_t *j)
{
	if (!j)
		return;
	json_dumpf(j, stdout, pretty_mode ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}

unsigned long long cli_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return 0;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 0: v <<= 20; break;	/* like QEMU's -m: plain numbers are MiB */
	default: return 0;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	return *end ? 0 : v;
}

struct gears_linux *cli_open_kernel(const char *name, struct gears_vm **vm)
{
	struct gears_linux *l;

	*vm = gears_vm__attach(name);
	if (!*vm) {
		cli_error("%s", gears_last_error());
		return NULL;
	}
	l = gears_vm__linux(*vm);
	if (!l) {
		cli_error("cannot read the guest kernel: %s", gears_last_error());
		gears_vm__close(*vm);
		*vm = NULL;
	}
	return l;
}

int cli_usage(const struct gears_cmd *c, FILE *f)
{
	fprintf(f, "Usage: gears %s %s\n\n%s\n", c->name, c->args, c->summary);
	if (c->help) {
		fputc('\n', f);
		c->help(f);
	}
	return f == stdout ? 0 : 2;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: gears [--json] [--pretty] [-v] COMMAND [ARGS...]\n\n"
		   "GEARS runs unmodified Linux guests on QEMU and examines and changes them\n"
		   "from outside. Commands:\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n`gears COMMAND --help` describes a command.\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json_mode = true;
		else if (!strcmp(argv[i], "--pretty") || !strcmp(argv[i], "-p"))
			json_mode = pretty_mode = true;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			gears_set_log_level(GEARS_LOG_DEBUG);
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("gears %d.%d\n", GEARS_VERSION_MAJOR, GEARS_VERSION_MINOR);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c]->name))
			continue;
		/* --json/--pretty are also accepted after the command. */
		for (int k = i + 1; k < argc && strcmp(argv[k], "--"); k++) {
			if (!strcmp(argv[k], "--json") || !strcmp(argv[k], "-j"))
				json_mode = true;
			else if (!strcmp(argv[k], "--pretty"))
				json_mode = pretty_mode = true;
		}
		for (int k = i + 1; k < argc && strcmp(argv[k], "--"); k++)
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
				return cli_usage(commands[c], stdout);
		return commands[c]->run(argc - i, argv + i);
	}
	return cli_error("unknown command '%s' (see gears --help)", argv[i]);
}
