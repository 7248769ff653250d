// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>

#include <gears/vm.h>

#include "ctl.h"
#include "../lib/sock.h"

int ctl_connect(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/ctl.sock", gears_runtime_dir(), name);
	return gears_sock_connect(path, 0);
}
