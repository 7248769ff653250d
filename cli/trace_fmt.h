/* SPDX-License-Identifier: MIT */
/* strace-like decoding of trace records: arguments, flags, strings, errnos. */
#ifndef GEARS_CLI_TRACE_FMT_H
#define GEARS_CLI_TRACE_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include "../services/trace/trace_proto.h"

struct gears_linux;

/* Optional: argument counts and names from the guest kernel's own syscall
 * metadata, for calls the built-in table does not know. */
void fmt_set_kernel(struct gears_linux *l);

/* "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC)" into buf. `entry`
 * supplies the arguments and strings; `exit` (may be NULL) strings the stub
 * could only read at the return. */
void fmt_call(char *buf, size_t size, const struct trace_rec *entry, const struct trace_rec *exit);
/* "3", "0x7f12a000", "-1 ENOENT (No such file or directory)", "?" for NULL. */
void fmt_ret(char *buf, size_t size, const struct trace_rec *exit);
/* The syscall's name ("openat", or "syscall_0x1c7"). */
const char *fmt_name(int nr, bool compat, char *tmp, size_t size);
/* Does this call never return (exit, exit_group)? */
bool fmt_noreturn(int nr, bool compat);
/* A string argument of a record: tag = argument index or TREC_ARGV + i. */
const char *rec_str(const struct trace_rec *r, int tag);
/* Is `ret` an error return (-4095..-1)? */
static inline bool fmt_is_error(long long ret)
{
	return ret < 0 && ret >= -4095;
}

#endif
