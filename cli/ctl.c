// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gears/ctl.h>

#include "cli.h"
#include "ctl.h"

json_t *ctl_request(const char *name, const char *type, json_t *req, int timeout_ms, const char *what)
{
	char *txt = json_dumps(req, JSON_COMPACT), *reply = NULL;
	json_t *j = NULL;
	int r;

	json_decref(req);
	if (!txt) {
		cli_error("out of memory");
		return NULL;
	}
	r = gears_ctl__call(name, type, txt, &reply, timeout_ms);
	free(txt);
	if (r < 0)
		cli_error("VM '%s': %s", name, r == -ENOENT || r == -ECONNREFUSED ?
			  "no such VM (started with gears run --name?)" : strerror(-r));
	else if (r == 1)
		cli_error("%s%s", what, reply);
	else if (!(j = json_loads(reply, 0, NULL)))
		cli_error("bad answer from the supervisor");
	free(reply);
	return j;
}
