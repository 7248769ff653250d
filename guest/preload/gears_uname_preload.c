// SPDX-License-Identifier: MIT
/* gears_uname_preload.so: an LD_PRELOAD library whose uname() calls the real one
 * (the next definition after this library, libc's) and then reports "GEARS" as
 * the system name. In the default image at /lib/gears/gears_uname_preload.so:
 *     LD_PRELOAD=/lib/gears/gears_uname_preload.so uname-coreutils -s   -> GEARS */
#include <dlfcn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

int uname(struct utsname *buf);

__attribute__((visibility("default"))) int uname(struct utsname *buf)
{
	static int (*real_uname)(struct utsname *);
	int r;

	if (!real_uname)
		real_uname = (int (*)(struct utsname *))dlsym(RTLD_NEXT, "uname");
	/* No next definition (should not happen with a libc): the system call. */
	r = real_uname ? real_uname(buf) : (int)syscall(SYS_uname, buf);
	if (r == 0) {
		strncpy(buf->sysname, "GEARS", sizeof(buf->sysname) - 1);
		buf->sysname[sizeof(buf->sysname) - 1] = '\0';
	}
	return r;
}
