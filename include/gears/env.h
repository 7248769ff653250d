/* SPDX-License-Identifier: MIT */
/*
 * Process environment modification: at every execve/execveat in the guest,
 * change the environment the new program starts with, by rules
 *
 *   [PATTERN:]VAR=VALUE    set or replace VAR
 *   [PATTERN:]VAR+=VALUE   prepend VALUE to the colon-separated list in VAR
 *                          (LD_PRELOAD, LD_LIBRARY_PATH, PATH), unless there
 *   [PATTERN:]-VAR         remove VAR
 *
 * PATTERN (default `*`) is a glob on the executable's path as given to
 * execve, or on its basename. Rules apply in the order they were added.
 *
 * How: a synchronous entry handler (gears_sc, filter mode) reads envp through
 * the caller's page tables, builds the new environment, and writes it into
 * the caller's stack below its red zone — memory that is dead by the ABI while
 * the thread sits in execve, and only where the pages are present, user and
 * writable — then points the envp argument at it. The kernel copies it into
 * the new program before the old address space goes. When there is no room,
 * the call first becomes an anonymous mmap and execve is re-issued with the
 * environment there (counted as a fallback). 64-bit callers only.
 */
#ifndef GEARS_ENV_H
#define GEARS_ENV_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_sc;
struct gears_env;

#define GEARS_ENV_MAX_RULES 64

/* Rules on a gears_sc (the handler is installed with the first rule).
 * sc NULL: rules only, for gears_env__apply. */
GEARS_API struct gears_env *gears_env__new(struct gears_sc *sc);
GEARS_API void gears_env__free(struct gears_env *e);
/* Parse and add a rule; 0 or a negative errno (message logged). */
GEARS_API int gears_env__add(struct gears_env *e, const char *rule);
/* Remove the rule with exactly this text; -ENOENT if none. */
GEARS_API int gears_env__del(struct gears_env *e, const char *rule);
GEARS_API int gears_env__count(const struct gears_env *e);
GEARS_API const char *gears_env__rule(const struct gears_env *e, int i);
/* Check a rule's syntax without adding it (0 or -EINVAL). */
GEARS_API int gears_env__check(const char *rule);

/* Apply the rules to an environment (host-side: what the handler does to the
 * guest's envp). For tests and tools. Returns a new NULL-terminated array
 * (free with gears_env__free_envp), or NULL if no rule matched `path`. */
GEARS_API char **gears_env__apply(const struct gears_env *e, const char *path, const char *const *envp);
GEARS_API void gears_env__free_envp(char **envp);

struct gears_env_stats {
	uint64_t execs;		/* execve/execveat calls seen */
	uint64_t matched;	/* ... whose path matched a rule */
	uint64_t rewritten;	/* environments written below the stack */
	uint64_t fallbacks;	/* ... written into a fresh mapping (no room on the stack) */
	uint64_t failed;	/* left unchanged: unreadable or oversized envp, mmap failed */
	uint64_t compat;	/* 32-bit callers, left unchanged */
	uint64_t late;		/* answered after the caller had stopped waiting: that execve
				 * went on unchanged (a loss, like failed) */
};
GEARS_API void gears_env__stats(const struct gears_env *e, struct gears_env_stats *st);

#ifdef __cplusplus
}
#endif
#endif
