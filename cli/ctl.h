/* SPDX-License-Identifier: MIT */
/* Client side of a supervisor's control socket (see run.c). */
#ifndef GEARS_CLI_CTL_H
#define GEARS_CLI_CTL_H

/* Connect to the control socket of the VM `name`. Returns fd or -errno (with a
 * message printed through cli_error when `report`). */
int ctl_connect(const char *name);

#endif
