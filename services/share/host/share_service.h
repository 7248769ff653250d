/* SPDX-License-Identifier: MIT */
/* What other services (and gears run's relative-path rule) may ask of the
 * share service (its state, from sup_service_state(s, "share")). */
#ifndef GEARS_SHARE_SERVICE_H
#define GEARS_SHARE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

/* Share host directory `host` at `guest` (NULL: the same path) before the VM
 * starts: 0, or -errno with a reason in err. */
int share_service_add(void *share_state, const char *host, const char *guest, bool ro, char *err, size_t errsz);

#endif
