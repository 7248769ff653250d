/* SPDX-License-Identifier: MIT */
/* The gears command: one file per subcommand, all listed in main.c. */
#ifndef GEARS_CLI_H
#define GEARS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

struct gears_cmd {
	const char *name;
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line */
	int (*run)(int argc, char **argv);
	void (*help)(FILE *f);	/* full help: options, examples */
};

extern const struct gears_cmd cmd_run, cmd_ps, cmd_kernel, cmd_stop, cmd_exec, cmd_list, cmd_region, cmd_trace, cmd_mem, cmd_env, cmd_inject, cmd_console, cmd_vnet, cmd_mpirun;

/* Global output mode (--json anywhere on the command line). */
extern bool json_mode;
extern bool pretty_mode;

/* Report an error the way the output mode wants (text on stderr, or
 * {"error": "..."} on stdout with --json) and return the exit status 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a JSON value (consumes the reference). */
void cli_json_print(json_t *j);
/* "512M", "2G", "1048576" -> bytes; 0 on error. */
unsigned long long cli_parse_size(const char *s);
/* Attach to VM `name` and open its kernel for introspection; on failure report
 * the error (as cli_error does) and return NULL with nothing left open. */
struct gears_vm;
struct gears_linux;
struct gears_linux *cli_open_kernel(const char *name, struct gears_vm **vm);
/* gears run --kernel-package PKG: build (or find cached) the image of Debian
 * kernel package PKG with the project's image build; its kernel and initrd
 * paths. 0, or 1 after reporting the error. */
int cli_kernel_package(const char *pkg, char *kernel, size_t kn, char *initrd, size_t in);
/* Standard "--help" handling for a command. */
int cli_usage(const struct gears_cmd *c, FILE *f);

/* Monotonic nanoseconds. */
static inline uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
