// SPDX-License-Identifier: MIT
/*
 * gears run --kernel-package PKG: the guest image for a Debian kernel package,
 * built by the project's own image build (`make initrd KERNEL=PKG`, i.e.
 * scripts/build-image.sh) into build/image-PKG/ and cached there: a second run
 * finds the image up to date and boots at once. The release and the modules come
 * from the package itself (the build script follows a meta package to the
 * versioned one and reads what it installs); nothing here knows any kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#ifndef GEARS_SRC_DIR
#error "GEARS_SRC_DIR (the project's top directory) must be defined by the build"
#endif
#define DEFAULT_PACKAGE "linux-image-cloud-amd64"

/* A Debian package name (policy: [a-z0-9][a-z0-9+.-]+), and one of linux-image-*. */
static bool valid_package(const char *p)
{
	size_t n = strlen(p);

	if (strncmp(p, "linux-image-", 12) || n <= 12 || n > 100)
		return false;
	for (const char *c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '+' || *c == '.' ||
		      *c == '-'))
			return false;
	return true;
}

/* The first line of `path` into buf (empty when there is none). */
static void first_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, (int)n, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* make -C SRC -s KERNEL=PKG initrd, its output on our stderr; its exit status. */
static int run_make(const char *pkg)
{
	char karg[128];
	pid_t pid;
	int st;

	snprintf(karg, sizeof(karg), "KERNEL=%s", pkg);
	pid = fork();
	if (pid < 0)
		return cli_error("fork: %s", strerror(errno)), -1;
	if (pid == 0) {
		/* Not the caller's make's settings (a jobserver whose descriptors we do
		 * not pass, -n, variables on its command line). */
		unsetenv("MAKEFLAGS");
		unsetenv("MFLAGS");
		unsetenv("MAKELEVEL");
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execlp("make", "make", "-s", "--no-print-directory", "-C", GEARS_SRC_DIR, karg, "initrd",
		       (char *)NULL);
		fprintf(stderr, "gears: cannot run make: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return cli_error("waitpid: %s", strerror(errno)), -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cli_kernel_package(const char *pkg, char *kernel, size_t kn, char *initrd, size_t in)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], why[512];
	int lock, rc;

	if (!valid_package(pkg))
		return cli_error("--kernel-package %s: not a Debian kernel package name (linux-image-...)", pkg);
	if (!strcmp(pkg, DEFAULT_PACKAGE))
		snprintf(dir, sizeof(dir), "%s/build/image", GEARS_SRC_DIR);
	else
		snprintf(dir, sizeof(dir), "%s/build/image-%s", GEARS_SRC_DIR, pkg);
	/* One build at a time: two runs of the same package share its directory. */
	snprintf(path, sizeof(path), "%s/build", GEARS_SRC_DIR);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/build/.kernel-package.lock", GEARS_SRC_DIR);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0)
		return cli_error("cannot open %s: %s", path, strerror(errno));
	while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
		;
	rc = run_make(pkg);
	close(lock);
	if (rc < 0)
		return 1;
	if (rc) {
		snprintf(path, sizeof(path), "%s/unavailable", dir);
		first_line(path, why, sizeof(why));
		if (why[0])
			return cli_error("kernel package %s: %s", pkg, why);
		return cli_error("kernel package %s: building its image failed (make KERNEL=%s initrd in %s, "
				 "status %d; its messages are above)", pkg, pkg, GEARS_SRC_DIR, rc);
	}
	snprintf(path, sizeof(path), "%s/release", dir);
	first_line(path, why, sizeof(why));
	if ((size_t)snprintf(kernel, kn, "%s/vmlinuz", dir) >= kn ||
	    (size_t)snprintf(initrd, in, "%s/initrd.img", dir) >= in)
		return cli_error("kernel package %s: path too long", pkg);
	if (access(kernel, R_OK) || access(initrd, R_OK) || !why[0])
		return cli_error("kernel package %s: the image build left no kernel, initrd or release in %s",
				 pkg, dir);
	return 0;
}
