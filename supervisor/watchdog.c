// SPDX-License-Identifier: MIT
/*
 * A gears process that dies while it holds the gdbstub leaves the VM stopped,
 * or leaves breakpoints that stop it at the next hit with nobody to resume it.
 * Once a second: when nobody holds the gdbstub lock and the VM sits in "debug"
 * state, attach and detach — QEMU drops every breakpoint on detach and resumes.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "sup_int.h"

void sup_gdb_watchdog(struct sup *s)
{
	json_t *st;
	int fd;
	bool stuck;

	fd = open(gears_vm__path(s->vm, "gdb.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);	/* someone is using it: theirs to resume */
		return;
	}
	st = gears_qmp__execute(gears_vm__qmp(s->vm), "query-status", NULL);
	stuck = st && !strcmp(json_string_value(json_object_get(st, "status")) ?: "", "debug");
	json_decref(st);
	close(fd);
	if (stuck) {
		fprintf(stderr, "gears: VM '%s' was left stopped by a gdbstub client that went away; "
			"resuming it\r\n", gears_vm__name(s->vm));
		if (gears_vm__gdb(s->vm))
			gears_vm__gdb_release(s->vm);
	}
}
