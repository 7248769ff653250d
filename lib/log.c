// SPDX-License-Identifier: MIT
/* Logging and the per-thread "last error" text. */
#include <stdarg.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

__attribute__((format(printf, 2, 0)))
static void default_print(enum gears_log_level level, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };

	fprintf(stderr, "gears: %s: ", tag[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static gears_print_fn print_fn = default_print;
static int log_level = -1;

static enum gears_log_level level_from_env(void)
{
	const char *s = getenv("GEARS_LOG");

	if (!s)
		return GEARS_LOG_WARN;
	if (!strcasecmp(s, "error"))
		return GEARS_LOG_ERROR;
	if (!strcasecmp(s, "info"))
		return GEARS_LOG_INFO;
	if (!strcasecmp(s, "debug"))
		return GEARS_LOG_DEBUG;
	return GEARS_LOG_WARN;
}

gears_print_fn gears_set_print(gears_print_fn fn)
{
	gears_print_fn old = print_fn;

	print_fn = fn ? fn : default_print;
	return old;
}

void gears_set_log_level(enum gears_log_level level)
{
	log_level = level;
}

enum gears_log_level gears_log_level(void)
{
	if (log_level < 0)
		log_level = level_from_env();
	return log_level;
}

void gears_log(enum gears_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > (int)gears_log_level())
		return;
	va_start(ap, fmt);
	print_fn(level, fmt, ap);
	va_end(ap);
}

static __thread char last_error[512];

const char *gears_last_error(void)
{
	return last_error;
}

__attribute__((format(printf, 1, 0)))
static void set_reason(const char *fmt, va_list ap)
{
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
}

int gears_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_reason(fmt, ap);
	va_end(ap);
	pr_debug("%s (%s)", last_error, strerror(err));
	return -err;
}

void *gears_err_ptr(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_reason(fmt, ap);
	va_end(ap);
	pr_debug("%s (%s)", last_error, strerror(err));
	errno = err;
	return NULL;
}

void gears_err_prefix(const char *fmt, ...)
{
	char old[sizeof(last_error)];
	size_t n;
	va_list ap;

	memcpy(old, last_error, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	n = strlen(last_error);
	if (n + 2 < sizeof(last_error)) {
		memcpy(last_error + n, ": ", 2);
		n += 2;
		size_t k = GEARS_MIN(strlen(old), sizeof(last_error) - 1 - n);

		memcpy(last_error + n, old, k);
		last_error[n + k] = 0;
	}
}

uint64_t gears_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
