// SPDX-License-Identifier: MIT
/*
 * System call names (generated from Debian's kernel headers at build time)
 * and which arguments are strings, for capture in the guest and for display.
 */
#include <pthread.h>

#include <gears/syscall.h>

#include "internal.h"
#include "sysnames_gen.h"

/* Arguments that are NUL-terminated strings (paths mostly), by name, so the
 * same list serves the x86-64 and i386 numberings. argv: an array of strings. */
static const struct {
	const char *name;
	unsigned mask;
	int argv;
} string_args[] = {
	{ "open", 1u << 0, -1 }, { "openat", 1u << 1, -1 }, { "openat2", 1u << 1, -1 },
	{ "creat", 1u << 0, -1 }, { "execve", 1u << 0, 1 }, { "execveat", 1u << 1, 2 },
	{ "stat", 1u << 0, -1 }, { "lstat", 1u << 0, -1 }, { "newfstatat", 1u << 1, -1 },
	{ "stat64", 1u << 0, -1 }, { "lstat64", 1u << 0, -1 }, { "fstatat64", 1u << 1, -1 },
	{ "statx", 1u << 1, -1 }, { "statfs", 1u << 0, -1 }, { "statfs64", 1u << 0, -1 },
	{ "access", 1u << 0, -1 }, { "faccessat", 1u << 1, -1 }, { "faccessat2", 1u << 1, -1 },
	{ "readlink", 1u << 0, -1 }, { "readlinkat", 1u << 1, -1 },
	{ "unlink", 1u << 0, -1 }, { "unlinkat", 1u << 1, -1 }, { "rmdir", 1u << 0, -1 },
	{ "mkdir", 1u << 0, -1 }, { "mkdirat", 1u << 1, -1 }, { "mknod", 1u << 0, -1 },
	{ "mknodat", 1u << 1, -1 }, { "chdir", 1u << 0, -1 }, { "chroot", 1u << 0, -1 },
	{ "rename", 3u, -1 }, { "renameat", (1u << 1) | (1u << 3), -1 },
	{ "renameat2", (1u << 1) | (1u << 3), -1 }, { "link", 3u, -1 },
	{ "linkat", (1u << 1) | (1u << 3), -1 }, { "symlink", 3u, -1 },
	{ "symlinkat", (1u << 0) | (1u << 2), -1 }, { "chmod", 1u << 0, -1 },
	{ "fchmodat", 1u << 1, -1 }, { "chown", 1u << 0, -1 }, { "lchown", 1u << 0, -1 },
	{ "fchownat", 1u << 1, -1 }, { "truncate", 1u << 0, -1 }, { "truncate64", 1u << 0, -1 },
	{ "utime", 1u << 0, -1 }, { "utimes", 1u << 0, -1 }, { "utimensat", 1u << 1, -1 },
	{ "futimesat", 1u << 1, -1 }, { "mount", 3u, -1 }, { "umount2", 1u << 0, -1 },
	{ "umount", 1u << 0, -1 }, { "pivot_root", 3u, -1 }, { "swapon", 1u << 0, -1 },
	{ "swapoff", 1u << 0, -1 }, { "acct", 1u << 0, -1 }, { "memfd_create", 1u << 0, -1 },
	{ "finit_module", 1u << 1, -1 }, { "init_module", 1u << 2, -1 },
	{ "delete_module", 1u << 0, -1 }, { "inotify_add_watch", 1u << 1, -1 },
	{ "getxattr", 3u, -1 }, { "lgetxattr", 3u, -1 }, { "setxattr", 3u, -1 },
	{ "lsetxattr", 3u, -1 }, { "listxattr", 1u << 0, -1 }, { "llistxattr", 1u << 0, -1 },
	{ "removexattr", 3u, -1 }, { "lremovexattr", 3u, -1 }, { "fgetxattr", 1u << 1, -1 },
	{ "fsetxattr", 1u << 1, -1 }, { "fremovexattr", 1u << 1, -1 },
	{ "name_to_handle_at", 1u << 1, -1 }, { "open_tree", 1u << 1, -1 },
	{ "fsopen", 1u << 0, -1 }, { "fspick", 1u << 1, -1 }, { "move_mount", (1u << 1) | (1u << 3), -1 },
	{ "uselib", 1u << 0, -1 }, { "quotactl", 1u << 1, -1 },
};

static const char *const *table(bool compat, size_t *n)
{
	*n = compat ? ARRAY_SIZE(sc_names32) : ARRAY_SIZE(sc_names64);
	return compat ? sc_names32 : sc_names64;
}

const char *gears_sc__name(int nr, bool compat)
{
	size_t n;
	const char *const *t = table(compat, &n);

	return nr >= 0 && (size_t)nr < n ? t[nr] : NULL;
}

int gears_sc__number(const char *name, bool compat)
{
	size_t n;
	const char *const *t = table(compat, &n);

	for (size_t i = 0; i < n; i++)
		if (t[i] && !strcmp(t[i], name))
			return (int)i;
	return -ENOENT;
}

/* By number, built once: tracers ask for every record. */
static struct {
	uint8_t mask;
	int8_t argv;
} by_nr[2][1024];
static pthread_once_t by_nr_once = PTHREAD_ONCE_INIT;

static void build_by_nr(void)
{
	for (int compat = 0; compat < 2; compat++) {
		for (int nr = 0; nr < 1024; nr++) {
			const char *name = gears_sc__name(nr, compat);

			by_nr[compat][nr].argv = -1;
			for (size_t i = 0; name && i < ARRAY_SIZE(string_args); i++) {
				if (!strcmp(string_args[i].name, name)) {
					by_nr[compat][nr].mask = (uint8_t)string_args[i].mask;
					by_nr[compat][nr].argv = (int8_t)string_args[i].argv;
					break;
				}
			}
		}
	}
}

unsigned gears_sc__string_args(int nr, bool compat, int *argv_arg)
{
	if (argv_arg)
		*argv_arg = -1;
	if (nr < 0 || nr >= 1024)
		return 0;
	pthread_once(&by_nr_once, build_by_nr);
	if (argv_arg)
		*argv_arg = by_nr[compat][nr].argv;
	return by_nr[compat][nr].mask;
}
