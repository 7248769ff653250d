// SPDX-License-Identifier: MIT
/*
 * gears mem NAME ADDR|SYMBOL[+OFF] [LEN]: a hex dump of guest kernel memory,
 * read through the guest's page tables from outside (no stop). --pid P reads
 * that process's user memory instead.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <gears/linux.h>
#include <gears/vm.h>

#include "cli.h"

#define MEM_MAX (1u << 20)

struct find_pid {
	int pid;
	uint64_t pgd;
};

static int match_pid(const struct gears_task *t, void *ctx)
{
	struct find_pid *f = ctx;

	if (t->tgid == f->pid && t->pid == f->pid) {
		f->pgd = t->pgd;
		return 1;
	}
	return 0;
}

static void dump(const uint8_t *b, size_t n, uint64_t va)
{
	for (size_t i = 0; i < n; i += 16) {
		printf("%016" PRIx64 "  ", va + i);
		for (size_t k = 0; k < 16; k++)
			printf(i + k < n ? "%02x " : "   ", b[i + k]);
		printf(" |");
		for (size_t k = 0; k < 16 && i + k < n; k++)
			putchar(isprint(b[i + k]) ? b[i + k] : '.');
		printf("|\n");
	}
}

static int run(int argc, char **argv)
{
	const char *name = NULL, *where = NULL;
	size_t len = 64;
	int pid = 0, n = 0, r;
	struct gears_vm *vm;
	struct gears_linux *l;
	uint64_t va, cr3;
	uint8_t *buf;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = atoi(argv[++i]);
		else if (argv[i][0] == '-')
			continue;
		else if (n == 0 && ++n)
			name = argv[i];
		else if (n == 1 && ++n)
			where = argv[i];
		else if (n == 2 && ++n)
			len = strtoul(argv[i], NULL, 0);
	}
	if (!name || !where || !len || len > MEM_MAX)
		return cli_usage(&cmd_mem, stderr);
	l = cli_open_kernel(name, &vm);
	if (!l)
		return 1;
	/* SYMBOL[+OFF] or a number */
	char sym[128];
	const char *plus = strchr(where, '+');
	uint64_t off = plus ? strtoull(plus + 1, NULL, 0) : 0;

	snprintf(sym, sizeof(sym), "%.*s", plus ? (int)(plus - where) : (int)strlen(where), where);
	if (isdigit((unsigned char)sym[0]))
		va = strtoull(sym, NULL, 0) + off;
	else if (!gears_linux__sym(l, sym, &va))
		va += off;
	else {
		cli_error("no kernel symbol '%s'", sym);
		gears_vm__close(vm);
		return 1;
	}
	cr3 = gears_linux__cr3(l);
	if (pid) {
		struct find_pid f = { .pid = pid };

		gears_linux__for_each_task(l, false, 65536, match_pid, &f);
		if (!f.pgd) {
			cli_error("no user process %d", pid);
			gears_vm__close(vm);
			return 1;
		}
		cr3 = f.pgd;
	}
	buf = malloc(len);
	r = gears_vmem__read(gears_vm__mem(vm), cr3, gears_linux__levels(l), va, buf, len);
	if (r) {
		cli_error("reading 0x%" PRIx64 ": %s", va, gears_last_error());
	} else if (json_mode) {
		char *hex = malloc(2 * len + 1);

		for (size_t i = 0; i < len; i++)
			sprintf(hex + 2 * i, "%02x", buf[i]);
		cli_json_print(json_pack("{s:I, s:s}", "address", (json_int_t)va, "hex", hex));
		free(hex);
	} else {
		dump(buf, len, va);
	}
	free(buf);
	gears_vm__close(vm);
	return r ? 1 : 0;
}

const struct gears_cmd cmd_mem = {
	.name = "mem",
	.args = "[--pid PID] NAME ADDR|SYMBOL[+OFF] [LEN]",
	.summary = "hex-dump guest memory (kernel, or a process with --pid), read from outside",
	.run = run,
};
