// SPDX-License-Identifier: MIT
/*
 * Example payload: appends "hello from PID <pid>" to the file named by its
 * first argument, from inside the target process (so the file is opened with
 * the target's credentials, namespaces and working directory).
 *
 *	gears inject NAME --pid 42 build/guest/payloads/hello /tmp/out
 */
#include <gears-guest/payload.h>

long gears_payload_main(struct gears_payload_args *a)
{
	char line[64] = "hello from PID ";
	unsigned long n = gears_strlen(line);
	long fd, w;

	if (a->argc < 1)
		return -22;	/* EINVAL: no file named */
	n += (unsigned long)gears_utoa((unsigned long)gears_sys3(GEARS_NR_getpid, 0, 0, 0), line + n);
	line[n++] = '\n';
	fd = gears_open_append(a->argv[0]);
	if (fd < 0)
		return fd;
	w = gears_write((int)fd, line, n);
	gears_close((int)fd);
	return w < 0 ? w : 0;
}
