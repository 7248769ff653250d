/* SPDX-License-Identifier: MIT */
/* cli/libvirt.c: a libvirt domain's QEMU, for gears attach --libvirt. */
#ifndef GEARS_CLI_LIBVIRT_H
#define GEARS_CLI_LIBVIRT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct cli_libvirt;

/* Connect (uri NULL: libvirt's default) and find the running domain. NULL
 * with the reason in err. */
struct cli_libvirt *cli_libvirt_open(const char *uri, const char *domain, char *err, size_t errsz);
void cli_libvirt_close(struct cli_libvirt *lv);
/* A gears_qmp_transport_fn: one QMP request through qemu-monitor-command. */
char *cli_libvirt_monitor(void *ctx, const char *request);
/* QEMU's pid: the one process with the domain's UUID on its command line; -1. */
pid_t cli_libvirt_pid(struct cli_libvirt *lv, char *err, size_t errsz);
/* The <shmem> device that gives a domain the GEARS region, for its XML. */
void cli_libvirt_print_xml(FILE *f);

#endif
