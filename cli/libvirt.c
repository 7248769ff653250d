// SPDX-License-Identifier: MIT
/*
 * gears attach --libvirt DOMAIN [--connect URI]: the domain's QEMU monitor
 * through libvirt's own client library (qemu-monitor-command, libvirt-qemu),
 * never by running virsh, and QEMU's pid from the domain's UUID on its
 * command line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cli.h"
#include "cli_libvirt.h"

struct cli_libvirt {
	virConnectPtr conn;
	virDomainPtr dom;
	char name[256];
	char err[512];
};

/* libvirt prints every error to stderr unless told otherwise: we report ours. */
static void quiet(void *ctx, virErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static const char *lv_err(void)
{
	const char *m = virGetLastErrorMessage();

	return m && *m ? m : "unknown libvirt error";
}

struct cli_libvirt *cli_libvirt_open(const char *uri, const char *domain, char *err, size_t errsz)
{
	struct cli_libvirt *lv = calloc(1, sizeof(*lv));

	if (!lv) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	virSetErrorFunc(NULL, quiet);
	snprintf(lv->name, sizeof(lv->name), "%s", domain);
	if (!(lv->conn = virConnectOpen(uri))) {
		snprintf(err, errsz, "libvirt %s: %s", uri ? uri : "(default URI)", lv_err());
		free(lv);
		return NULL;
	}
	if (!(lv->dom = virDomainLookupByName(lv->conn, domain))) {
		snprintf(err, errsz, "libvirt domain '%s': %s", domain, lv_err());
		cli_libvirt_close(lv);
		return NULL;
	}
	if (virDomainIsActive(lv->dom) != 1) {
		snprintf(err, errsz, "libvirt domain '%s' is not running", domain);
		cli_libvirt_close(lv);
		return NULL;
	}
	return lv;
}

void cli_libvirt_close(struct cli_libvirt *lv)
{
	if (!lv)
		return;
	if (lv->dom)
		virDomainFree(lv->dom);
	if (lv->conn)
		virConnectClose(lv->conn);
	free(lv);
}

char *cli_libvirt_monitor(void *ctx, const char *request)
{
	struct cli_libvirt *lv = ctx;
	char *result = NULL;

	if (virDomainQemuMonitorCommand(lv->dom, request, &result, 0) < 0) {
		/* The reason, where gears_last_error() of the caller will not see it:
		 * QEMU's own refusals come back as {"error": ...} answers instead. */
		fprintf(stderr, "gears: libvirt qemu-monitor-command on '%s': %s\n", lv->name, lv_err());
		errno = EIO;
		return NULL;
	}
	return result;
}

/* Does /proc/PID/cmdline hold "-uuid UUID" (libvirt gives every QEMU its domain's)? */
static bool has_uuid(const char *pid, const char *uuid)
{
	char p[300], buf[65536];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%s/cmdline", pid);
	if (!(f = fopen(p, "re")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (!strcmp(buf + i, "-uuid") && i + 6 < n && !strcmp(buf + i + 6, uuid))
			return true;
	return false;
}

pid_t cli_libvirt_pid(struct cli_libvirt *lv, char *err, size_t errsz)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct dirent *de;
	pid_t found = -1;
	int n = 0;
	DIR *d;

	/* Not libvirt's pid file: its place depends on the daemon's set-up. The
	 * domain's UUID is on its QEMU's command line, and unique. */
	if (virDomainGetUUIDString(lv->dom, uuid) < 0) {
		snprintf(err, errsz, "libvirt domain '%s': no UUID: %s", lv->name, lv_err());
		return -1;
	}
	if (!(d = opendir("/proc"))) {
		snprintf(err, errsz, "/proc: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) && n < 1000000) {
		n++;
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || !has_uuid(de->d_name, uuid))
			continue;
		if (found > 0) {
			snprintf(err, errsz, "two processes have domain '%s''s UUID %s", lv->name, uuid);
			closedir(d);
			return -1;
		}
		found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	if (found < 0)
		snprintf(err, errsz, "no process has domain '%s''s UUID %s on its command line (its QEMU "
			 "runs in another PID namespace?)", lv->name, uuid);
	return found;
}

void cli_libvirt_print_xml(FILE *f)
{
	fprintf(f, "<shmem name='gears-region'>\n"
		   "  <model type='ivshmem-plain'/>\n"
		   "  <size unit='M'>2</size>\n"
		   "</shmem>\n");
}
