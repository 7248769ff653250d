/* SPDX-License-Identifier: MIT */
/*
 * libgears — Guest Examination And Revision Services.
 *
 * Umbrella header. Naming (docs/naming.md): public functions are
 * gears_<object>__<verb>() (two underscores between object and verb), public
 * types are struct gears_<object>; internals use a single underscore and are
 * hidden from the shared library by lib/libgears.map.
 *
 * Error rule, everywhere in the API:
 *   - functions returning int return 0 (or a count) on success and a negative
 *     errno on failure;
 *   - functions returning a pointer return NULL on failure and set errno.
 * A human-readable reason for the last failure on this thread is available from
 * gears_last_error(); it names the guest object that was bad ("PML4 entry 511
 * points outside guest RAM"), not just the errno.
 */
#ifndef GEARS_GEARS_H
#define GEARS_GEARS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GEARS_API __attribute__((visibility("default")))

#define GEARS_VERSION_MAJOR 0
#define GEARS_VERSION_MINOR 1

enum gears_log_level {
	GEARS_LOG_ERROR = 0,
	GEARS_LOG_WARN,
	GEARS_LOG_INFO,
	GEARS_LOG_DEBUG,
};

typedef void (*gears_print_fn)(enum gears_log_level level, const char *fmt, va_list ap);

/* Install a log sink (NULL restores the default: stderr). The default level is
 * WARN, or what GEARS_LOG=error|warn|info|debug says. Returns the old sink. */
GEARS_API gears_print_fn gears_set_print(gears_print_fn fn);
GEARS_API void gears_set_log_level(enum gears_log_level level);
GEARS_API enum gears_log_level gears_log_level(void);

/* Text describing the most recent failure of a gears_* call on this thread
 * ("" if none). Valid until the next failing call on the same thread. */
GEARS_API const char *gears_last_error(void);

/* Options structs start with their own size so the API can grow without
 * breaking callers: declare them with GEARS_OPTS(type, name, .field = v...). */
#define GEARS_OPTS(TYPE, NAME, ...)                                           \
	struct TYPE NAME = ({                                                  \
		struct TYPE ___o;                                              \
		__builtin_memset(&___o, 0, sizeof(___o));                      \
		___o = (struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ }; \
		___o;                                                          \
	})

#ifdef __cplusplus
}
#endif

#include <gears/mem.h>
#include <gears/ksyms.h>
#include <gears/kbtf.h>

#endif
