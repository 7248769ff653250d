// SPDX-License-Identifier: MIT
/*
 * The share service: host directories in the guest (`gears run --share
 * HOSTDIR[:GUESTDIR][,ro]`), through virtiofs. QEMU's own vhost-user backend
 * for it, virtiofsd (Debian's qemu-system-common), serves each directory over
 * the guest RAM that GEARS already shares; the guest kernel's virtiofs driver
 * mounts it (the default image's agent does that before the command runs).
 *
 * Read-only shares are enforced on the host: virtiofsd runs in a mount
 * namespace of its own where the directory is a read-only bind mount, so a
 * guest that ignores its own "ro" still cannot write.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "share_service.h"
#include "supervisor.h"

#define MAX_SHARES 8
#define VIRTIOFSD "/usr/lib/qemu/virtiofsd"
#define SOCKET_WAIT_MS 10000

struct share {
	char host[PATH_MAX];
	char guest[PATH_MAX];
	bool ro;
	pid_t pid;		/* its virtiofsd */
	char sock[PATH_MAX];
	bool mounted;
	struct share_svc *v;
};

struct share_svc {
	struct sup *sup;
	struct share sh[MAX_SHARES];
	int n;
	int pending;		/* mounts not answered yet */
	bool failed;
};

static void *share_create(struct sup *sup)
{
	struct share_svc *v = calloc(1, sizeof(*v));

	if (v)
		v->sup = sup;
	return v;
}

int share_service_add(void *state, const char *host, const char *guest, bool ro, char *err, size_t errsz)
{
	struct share_svc *v = state;
	struct share *sh;
	struct stat st;

	if (v->n >= MAX_SHARES) {
		snprintf(err, errsz, "at most %d shared directories", MAX_SHARES);
		return -E2BIG;
	}
	sh = &v->sh[v->n];
	if (!realpath(host, sh->host) || stat(sh->host, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "%s: not a directory on the host", host);
		return -ENOTDIR;
	}
	if (guest && *guest != '/') {
		snprintf(err, errsz, "guest directory %s must be an absolute path", guest);
		return -EINVAL;
	}
	snprintf(sh->guest, sizeof(sh->guest), "%s", guest && *guest ? guest : sh->host);
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->sh[i].guest, sh->guest)) {
			snprintf(err, errsz, "%s is already shared", sh->guest);
			return -EEXIST;
		}
	sh->ro = ro;
	sh->pid = -1;
	sh->v = v;
	v->n++;
	return 0;
}

/* HOSTDIR[:GUESTDIR][,ro] */
static int opt_share(void *state, const char *arg, char *err, size_t errsz)
{
	char spec[2 * PATH_MAX], *guest, *comma;
	bool ro = false;

	if (strlen(arg) >= sizeof(spec)) {
		snprintf(err, errsz, "path too long");
		return -ENAMETOOLONG;
	}
	strcpy(spec, arg);
	if ((comma = strrchr(spec, ',')) && (!strcmp(comma, ",ro") || !strcmp(comma, ",rw"))) {
		ro = !strcmp(comma, ",ro");
		*comma = 0;
	}
	guest = strchr(spec, ':');
	if (guest)
		*guest++ = 0;
	return share_service_add(state, spec, guest, ro, err, errsz);
}

/* In the child: a private mount namespace where the share is read-only. */
static int make_readonly(const char *dir)
{
	if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) ||
	    mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
		return -errno;
	return 0;
}

static int spawn_virtiofsd(struct share_svc *v, struct share *sh, int k, char *err, size_t errsz)
{
	struct gears_vm *vm = sup_vm(v->sup);
	char sockarg[PATH_MAX + 20], srcarg[PATH_MAX + 12], log[PATH_MAX], name[32];
	pid_t parent = getpid();

	snprintf(name, sizeof(name), "share-%d.sock", k);
	snprintf(sh->sock, sizeof(sh->sock), "%s", gears_vm__path(vm, name));
	snprintf(name, sizeof(name), "share-%d.log", k);
	snprintf(log, sizeof(log), "%s", gears_vm__path(vm, name));
	snprintf(sockarg, sizeof(sockarg), "--socket-path=%s", sh->sock);
	snprintf(srcarg, sizeof(srcarg), "source=%s", sh->host);
	if (access(VIRTIOFSD, X_OK)) {
		snprintf(err, errsz, "%s not found (Debian package qemu-system-common)", VIRTIOFSD);
		return -ENOENT;
	}
	sh->pid = fork();
	if (sh->pid < 0) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		return -errno;
	}
	if (sh->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);	/* Ctrl-C is the supervisor's to handle */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (sh->ro && make_readonly(sh->host)) {
			dprintf(2, "gears: cannot make %s read-only for virtiofsd: %s\n", sh->host, strerror(errno));
			_exit(126);
		}
		execl(VIRTIOFSD, VIRTIOFSD, sockarg, "-o", srcarg, "-o", "cache=auto", "-o", "no_posix_lock",
		      (char *)NULL);
		dprintf(2, "exec %s: %s\n", VIRTIOFSD, strerror(errno));
		_exit(127);
	}
	/* QEMU connects at start: the socket must be there first. */
	for (int waited = 0; waited < SOCKET_WAIT_MS; waited += 10) {
		struct stat st;
		int status;

		if (!stat(sh->sock, &st) && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(sh->pid, &status, WNOHANG) == sh->pid) {
			char msg[512] = "";
			FILE *f = fopen(log, "r");

			if (f) {
				size_t n = fread(msg, 1, sizeof(msg) - 1, f);

				msg[n] = 0;
				fclose(f);
				msg[strcspn(msg, "\n")] = 0;
			}
			sh->pid = -1;
			snprintf(err, errsz, "virtiofsd for %s failed: %s", sh->host, *msg ? msg : "(no output)");
			return -EIO;
		}
		usleep(10000);
	}
	snprintf(err, errsz, "virtiofsd for %s did not create its socket", sh->host);
	return -ETIMEDOUT;
}

static int share_qemu_args(void *state, struct sup_args *a, char *err, size_t errsz)
{
	struct share_svc *v = state;
	char esc[2 * PATH_MAX];
	int r;

	if (v->n && geteuid() != 0) {
		snprintf(err, errsz, "--share needs root (virtiofsd sandboxes itself in namespaces)");
		return -EPERM;
	}
	for (int k = 0; k < v->n; k++) {
		struct share *sh = &v->sh[k];

		if ((r = spawn_virtiofsd(v, sh, k, err, errsz)))
			return r;
		if (!gears_qemu_escape(sh->sock, esc, sizeof(esc))) {
			snprintf(err, errsz, "socket path %s cannot be given to QEMU", sh->sock);
			return -EINVAL;
		}
		if ((r = sup_args_add(a, "-chardev")) ||
		    (r = sup_args_addf(a, "socket,id=gears-share-%d,path=%s", k, esc)) ||
		    (r = sup_args_add(a, "-device")) ||
		    (r = sup_args_addf(a, "vhost-user-fs-pci,chardev=gears-share-%d,tag=gears-share-%d", k, k)))
			return r;
	}
	return 0;
}

/* A share the command cannot see would make it fail in confusing ways:
 * a mount that fails stops the VM before the command runs. */
static void mounted(void *ctx, int status, const char *out, size_t len)
{
	struct share *sh = ctx;
	char why[PATH_MAX + 600];

	sh->mounted = status == 0;
	if (status == 0)
		return;
	snprintf(why, sizeof(why), "share: mounting %s in the guest failed (status %d): %.*s", sh->guest, status,
		 (int)(len > 400 ? 400 : len), out);
	sup_stop_vm(sh->v->sup, 125, why);
}

static int share_guest_ready(void *state, char *err, size_t errsz)
{
	struct share_svc *v = state;

	for (int k = 0; k < v->n; k++) {
		struct share *sh = &v->sh[k];
		char tag[32];
		char *argv[] = { "sh", "-c",
				 "modprobe -q virtiofs 2>/dev/null; mkdir -p \"$1\" && "
				 "mount -t virtiofs ${3:+-o ro} \"$2\" \"$1\"",
				 "sh", sh->guest, tag, sh->ro ? "ro" : "", NULL };
		int r;

		snprintf(tag, sizeof(tag), "gears-share-%d", k);
		r = sup_guest_exec(v->sup, argv, mounted, sh);
		if (r) {
			snprintf(err, errsz, "cannot mount %s in the guest: %s", sh->guest, strerror(-r));
			return r;
		}
	}
	return 0;
}

static json_t *share_info(void *state)
{
	struct share_svc *v = state;
	json_t *arr = json_array();

	for (int k = 0; k < v->n; k++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:b}", "host", v->sh[k].host, "guest",
						     v->sh[k].guest, "ro", v->sh[k].ro, "mounted",
						     v->sh[k].mounted));
	return json_pack("{s:o}", "shares", arr);
}

static void share_destroy(void *state)
{
	struct share_svc *v = state;

	if (!v)
		return;
	for (int k = 0; k < v->n; k++) {
		struct share *sh = &v->sh[k];

		if (sh->pid > 0) {
			int status;

			/* QEMU is gone: virtiofsd ends on its own; make sure. */
			kill(sh->pid, SIGTERM);
			for (int i = 0; i < 100 && waitpid(sh->pid, &status, WNOHANG) != sh->pid; i++)
				usleep(10000);
			if (kill(sh->pid, 0) == 0) {
				kill(sh->pid, SIGKILL);
				waitpid(sh->pid, &status, 0);
			}
		}
		if (*sh->sock)
			unlink(sh->sock);
	}
	free(v);
}

static const struct sup_option share_options[] = {
	{ "share", "DIR[:GDIR][,ro]", "export host directory DIR into the guest at GDIR (default: the same "
	  "path), read-only with ,ro (virtiofs)", true, opt_share },
	{ 0 },
};

static const struct sup_service share_service = {
	.name = "share",
	.order = 5,	/* mounted before other services' set-up runs programs */
	.options = share_options,
	.create = share_create,
	.qemu_args = share_qemu_args,
	.guest_ready = share_guest_ready,
	.info = share_info,
	.destroy = share_destroy,
};
SUP_SERVICE(share_service);
