/* SPDX-License-Identifier: MIT */
/* What other services may ask of the env service (its state, from
 * sup_service_state(s, "env")). */
#ifndef GEARS_ENV_SERVICE_H
#define GEARS_ENV_SERVICE_H

#include <stddef.h>

/* Add a rule (gears/env.h syntax) in force from the next execve: 0, or
 * -errno with a reason in err. */
int env_service_add(void *env_state, const char *rule, char *err, size_t errsz);
/* Remove a rule added before: 0 or -ENOENT. */
int env_service_del(void *env_state, const char *rule);

#endif
