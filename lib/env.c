// SPDX-License-Identifier: MIT
/*
 * Environment modification at execve (include/gears/env.h).
 *
 * The envp the guest passes is untrusted: its pointer array and strings are
 * read with bounds (count, length of each, total) like the kernel's own
 * limits, and any failure leaves the call exactly as it was.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <gears/env.h>

#include "syscall_int.h"

#define NR_EXECVE 59
#define NR_EXECVEAT 322
#define NR_MMAP 9
#define ENV_MAX_VARS 8192		/* strings in one environment */
#define ENV_MAX_STR (128u * 1024)	/* the kernel's MAX_ARG_STRLEN */
#define ENV_MAX_TOTAL (2u << 20)	/* bytes of strings, in and out */
#define RED_ZONE 128
#define PENDING_MAX 16

enum op { OP_SET, OP_PREPEND, OP_DEL };

struct rule {
	char *text;
	char *pattern;
	char *var;
	char *value;
	size_t var_len;
	enum op op;
};

/* A fallback in flight: the call became mmap; at its return, envp goes
 * there and execve is issued again. */
struct pending {
	int tid;
	struct sc_uregs regs;	/* the execve as it was */
	char **env;		/* the new environment */
	size_t len, ptr_off;	/* its block's length; where the pointer array starts */
	uint64_t addr;		/* mapping (once known): the re-issued call is ours */
	bool used;
	uint64_t t;		/* when (a thread that died mid-way frees its slot later) */
	bool pass;		/* the fallback failed: let the re-issued call through as it is */
	bool loose;		/* our answer at the mmap's return came too late: the thread went
				 * back to user space as mmap left it; at its next call it is
				 * sent back to its execve (p->regs) */
};

struct gears_env {
	struct gears_sc *sc;
	int hid;
	struct rule rules[GEARS_ENV_MAX_RULES];
	int n;
	struct pending pend[PENDING_MAX];
	struct gears_env_stats st;
	bool always_map;	/* GEARS_FAULT_ENV_FALLBACK (tests): never below the stack */
};

static void rule_free(struct rule *r)
{
	free(r->text);
	free(r->pattern);
	free(r->var);
	free(r->value);
	memset(r, 0, sizeof(*r));
}

static int parse_(const char *text, struct rule *r)
{
	const char *colon = strchr(text, ':'), *eq = strchr(text, '='), *body = text, *v;
	size_t plen = 0;

	memset(r, 0, sizeof(*r));
	if (!*text || strlen(text) > ENV_MAX_STR)
		return gears_err(EINVAL, "env rule is empty or too long");
	/* A pattern comes before the first ':' unless that ':' is part of a value. */
	if (colon && (!eq || colon < eq)) {
		plen = (size_t)(colon - text);
		body = colon + 1;
	}
	if (*body == '-') {
		r->op = OP_DEL;
		v = body + 1;
		r->var_len = strlen(v);
		if (strchr(v, '='))
			return gears_err(EINVAL, "env rule '%s': removal takes a name only", text);
	} else {
		const char *e = strchr(body, '=');

		if (!e)
			return gears_err(EINVAL, "env rule '%s': expected VAR=VALUE, VAR+=VALUE or -VAR", text);
		r->op = (e > body && e[-1] == '+') ? OP_PREPEND : OP_SET;
		v = body;
		r->var_len = (size_t)(e - body) - (r->op == OP_PREPEND);
		r->value = strdup(e + 1);
	}
	if (!r->var_len)
		return gears_err(EINVAL, "env rule '%s': no variable name", text);
	for (size_t i = 0; i < r->var_len; i++)
		if (v[i] == '=' || v[i] == ':' || (unsigned char)v[i] <= ' ')
			return gears_err(EINVAL, "env rule '%s': bad variable name", text);
	r->var = strndup(v, r->var_len);
	r->pattern = plen ? strndup(text, plen) : strdup("*");
	r->text = strdup(text);
	if (!r->var || !r->pattern || !r->text || (r->op != OP_DEL && !r->value)) {
		rule_free(r);
		return -ENOMEM;
	}
	return 0;
}

/* Parse a rule; on failure nothing stays allocated. */
static int parse(const char *text, struct rule *r)
{
	int e = parse_(text, r);

	if (e)
		rule_free(r);
	return e;
}

int gears_env__check(const char *rule)
{
	struct rule r;
	int e = rule ? parse(rule, &r) : -EINVAL;

	if (!e)
		rule_free(&r);
	return e;
}

static bool matches(const struct rule *r, const char *path)
{
	const char *base = strrchr(path, '/');

	return !fnmatch(r->pattern, path, 0) || !fnmatch(r->pattern, base ? base + 1 : path, 0);
}

static bool any_match(const struct gears_env *e, const char *path)
{
	for (int i = 0; i < e->n; i++)
		if (matches(&e->rules[i], path))
			return true;
	return false;
}

/* "VAR=..." for this rule's VAR? */
static bool is_var(const struct rule *r, const char *s)
{
	return !strncmp(s, r->var, r->var_len) && s[r->var_len] == '=';
}

/* Is `item` one of the colon-separated elements of `list`? */
static bool in_list(const char *list, const char *item)
{
	size_t l = strlen(item);

	for (const char *p = list; p;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == l && !strncmp(p, item, l))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static char *make_var(const struct rule *r, const char *old_value)
{
	char *s = NULL;
	int n;

	if (r->op == OP_SET || !old_value || !*old_value)
		n = asprintf(&s, "%s=%s", r->var, r->value);
	else if (in_list(old_value, r->value))
		n = asprintf(&s, "%s=%s", r->var, old_value);
	else
		n = asprintf(&s, "%s=%s:%s", r->var, r->value, old_value);
	return n < 0 ? NULL : s;
}

/* One rule on a growing array of owned strings. */
static int apply_rule(const struct rule *r, char ***env, size_t *n)
{
	size_t w = 0;
	const char *old = NULL;
	char *nv = NULL;
	bool placed = false;

	for (size_t i = 0; i < *n; i++)
		if (is_var(r, (*env)[i]) && !old)
			old = (*env)[i] + r->var_len + 1;
	if (r->op != OP_DEL && !(nv = make_var(r, old)))
		return -ENOMEM;
	/* The first occurrence keeps its place; duplicates go. */
	for (size_t i = 0; i < *n; i++) {
		char *cur = (*env)[i];

		if (!is_var(r, cur)) {
			(*env)[w++] = cur;
			continue;
		}
		if (nv && !placed) {
			(*env)[w++] = nv;
			placed = true;
		}
		free(cur);
	}
	if (nv && !placed) {
		char **g = realloc(*env, (w + 2) * sizeof(char *));

		if (!g) {
			free(nv);
			*n = w;
			return -ENOMEM;
		}
		*env = g;
		(*env)[w++] = nv;
	}
	*n = w;
	(*env)[w] = NULL;
	return 0;
}

/* Rules matching `path`, applied to owned strings env[0..n). NULL-terminated
 * result, or NULL on error (env freed either way). */
static char **apply_all(const struct gears_env *e, const char *path, char **env, size_t n)
{
	for (int i = 0; i < e->n; i++) {
		if (!matches(&e->rules[i], path))
			continue;
		if (apply_rule(&e->rules[i], &env, &n)) {
			gears_env__free_envp(env);
			return NULL;
		}
	}
	return env;
}

char **gears_env__apply(const struct gears_env *e, const char *path, const char *const *envp)
{
	size_t n = 0;
	char **env;

	if (!e || !path || !any_match(e, path))
		return NULL;
	while (envp && envp[n])
		n++;
	env = calloc(n + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(env[i] = strdup(envp[i]))) {
			gears_env__free_envp(env);
			return NULL;
		}
	return apply_all(e, path, env, n);
}

void gears_env__free_envp(char **envp)
{
	if (!envp)
		return;
	for (char **p = envp; *p; p++)
		free(*p);
	free(envp);
}

/* ---- in the guest ---- */

/*
 * A NULL-terminated vector of strings (envp, argv) at guest-virtual `va`, read
 * with the kernel's own bounds. Each pointer and each string is read once into
 * host memory and only that copy is used: the pointer array a page at a time
 * (never past the page that holds its NULL), each string into a bounded buffer
 * whose length is found in the copy. Returns owned NULL-terminated strings and
 * their count in *n, or NULL (errno EFAULT, E2BIG, ENOMEM).
 */
char **env_read_strv(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va, size_t *count)
{
	size_t n = 0, cap = 64, total = 0, have = 0, used = 0;
	char **env = calloc(cap + 1, sizeof(char *));
	char *buf = malloc(ENV_MAX_STR);
	uint64_t ptrs[512];
	int err = ENOMEM;

	if (!env || !buf)
		goto bad;
	for (; va; n++) {
		uint64_t p, at = va + n * 8;
		int l;

		if (used == have) {
			/* Whole pointers up to the end of this page; one straddling it alone. */
			have = (4096 - (at & 4095)) / 8 ?: 1;
			used = 0;
			err = EFAULT;
			if (at < va || gears_vmem__read(m, cr3, levels, at, ptrs, have * 8))
				goto bad;
		}
		p = ptrs[used++];
		if (!p)
			break;
		err = E2BIG;
		if (n >= ENV_MAX_VARS)
			goto bad;
		l = gears_vmem__read_str(m, cr3, levels, p, buf, ENV_MAX_STR);
		err = l == -ENAMETOOLONG ? E2BIG : EFAULT;
		if (l < 0)
			goto bad;
		err = E2BIG;
		if ((total += (size_t)l + 1) > ENV_MAX_TOTAL)
			goto bad;
		err = ENOMEM;
		if (n == cap) {
			char **g = realloc(env, (cap * 2 + 1) * sizeof(char *));

			if (!g)
				goto bad;
			env = g;
			cap *= 2;
		}
		if (!(env[n] = strndup(buf, (size_t)l)))
			goto bad;
		env[n + 1] = NULL;
	}
	free(buf);
	*count = n;
	return env;
bad:
	free(buf);
	if (env) {
		env[GEARS_MIN(n, cap)] = NULL;
		gears_env__free_envp(env);
	}
	errno = err;
	return NULL;
}

/* Lay the environment out for address `at`: strings, then the pointer
 * array (8-aligned). */
static char *layout(char **env, uint64_t at, size_t *len, size_t *ptr_off)
{
	size_t n = 0, s = 0;
	char *blob;

	for (; env[n]; n++)
		s += strlen(env[n]) + 1;
	*ptr_off = (s + 7) & ~(size_t)7;
	*len = *ptr_off + (n + 1) * 8;
	if (*len > ENV_MAX_TOTAL + ENV_MAX_VARS * 8)
		return NULL;
	blob = calloc(1, *len);
	if (!blob)
		return NULL;
	s = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(env[i]) + 1;
		uint64_t va = at + s;

		memcpy(blob + s, env[i], l);
		memcpy(blob + *ptr_off + i * 8, &va, 8);
		s += l;
	}
	return blob;
}

static struct pending *pending_of(struct gears_env *e, int tid)
{
	for (int i = 0; i < PENDING_MAX; i++)
		if (e->pend[i].used && e->pend[i].tid == tid)
			return &e->pend[i];
	return NULL;
}

static void pending_drop(struct pending *p)
{
	gears_env__free_envp(p->env);
	memset(p, 0, sizeof(*p));
}

/* Was our answer applied? A late one changed nothing (the slot protocol):
 * count it, and make sure no state is left for a call that went on. */
static void settled(struct gears_sc_call *c, bool applied, void *ctx)
{
	struct gears_env *e = ctx;
	struct pending *p = pending_of(e, c->tid);

	if (applied)
		return;
	e->st.late++;
	if (p && !c->exit && !p->addr && !p->pass)
		pending_drop(p);	/* the fallback's mmap never happened */
	else if (p && c->exit)
		p->loose = true;
}

/* A thread whose execve we had turned into mmap, and whose return we could not
 * answer in time: this call of it becomes that execve again, let through as it
 * is (registers as before the mmap: the call at ip - 2). */
static void reel_in(struct gears_env *e, struct pending *p, struct gears_sc_call *c)
{
	struct sc_uregs u = p->regs;

	pending_drop(p);
	p->used = p->pass = true;
	p->tid = c->tid;
	p->t = gears_now_ns();
	if (sc_call_set_uregs(c, &u))
		pending_drop(p);
	else
		sc_call_on_settle(c, settled, e);
}

/* The new environment below the caller's red zone, 16-aligned: 0 placed
 * (envp points there), -ECANCELED (the guest gave up on the call), or another
 * error (no room: those pages are not there). */
static int place_on_stack(struct gears_env *e, struct gears_sc_call *c, char **env, const struct sc_uregs *u,
			  size_t *len)
{
	int envp_arg = c->nr == NR_EXECVEAT ? 3 : 2;
	size_t ptr_off;
	char *blob = layout(env, 0, len, &ptr_off);	/* the length is known after a layout */
	uint64_t at = (u->sp - RED_ZONE - *len - 64) & ~0xfull;
	int r;

	free(blob);
	if (e->always_map)
		return -ENOMEM;
	blob = at < u->sp ? layout(env, at, len, &ptr_off) : NULL;
	r = blob ? gears_sc_call__write(c, at, blob, *len) : -ENOMEM;
	free(blob);
	if (!r) {
		gears_sc_call__set_arg(c, envp_arg, at + ptr_off);
		e->st.rewritten++;
		sc_call_on_settle(c, settled, e);
	} else if (r == -ECANCELED) {
		e->st.late++;
	}
	return r;
}

/* No room below the stack: the call becomes mmap, and at its return the
 * environment goes there and the execve is issued again (on_exit_). Takes env. */
static void start_fallback(struct gears_env *e, struct gears_sc_call *c, char **env, const struct sc_uregs *u,
			   size_t len)
{
	for (int i = 0; i < PENDING_MAX; i++) {
		struct pending *p = &e->pend[i];

		if (p->used && gears_now_ns() - p->t < 10000000000ull)
			continue;
		pending_drop(p);
		*p = (struct pending){ .used = true, .t = gears_now_ns(), .tid = c->tid, .regs = *u, .env = env };
		p->regs.ip = u->ip - 2;
		p->regs.ax = u->orig_ax;
		gears_sc_call__want_exit(c);
		gears_sc_call__set_nr(c, NR_MMAP);
		gears_sc_call__set_arg(c, 0, 0);
		gears_sc_call__set_arg(c, 1, (len + 4095) & ~4095ull);
		gears_sc_call__set_arg(c, 2, 3);		/* PROT_READ|PROT_WRITE */
		gears_sc_call__set_arg(c, 3, 0x8022);	/* MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE */
		gears_sc_call__set_arg(c, 4, (uint64_t)-1);
		gears_sc_call__set_arg(c, 5, 0);
		sc_call_on_settle(c, settled, e);
		return;
	}
	gears_env__free_envp(env);
	e->st.failed++;
}

static void on_entry(struct gears_env *e, struct gears_sc_call *c)
{
	uint64_t path_va = gears_sc_call__arg(c, c->nr == NR_EXECVEAT ? 1 : 0);
	uint64_t envp = gears_sc_call__arg(c, c->nr == NR_EXECVEAT ? 3 : 2);
	struct pending *p = pending_of(e, c->tid);
	char path[4096], **env;
	size_t n, len = 0;
	struct sc_uregs u;
	int r;

	if (p && p->loose) {
		reel_in(e, p, c);
		return;
	}
	if (p) {
		/* Our re-issued execve: with the environment in place, or to go
		 * ahead unchanged because the fallback failed. */
		bool ours = p->pass || (p->addr && envp == p->addr + p->ptr_off);

		pending_drop(p);
		if (ours)
			return;
	}
	e->st.execs++;
	if (gears_sc_call__read_str(c, path_va, path, sizeof(path)) < 0 || !any_match(e, path))
		return;
	e->st.matched++;
	env = env_read_strv(c->sc->mem, gears_sc_call__cr3(c), c->sc->levels, envp, &n);
	if (!env || !(env = apply_all(e, path, env, n))) {
		e->st.failed++;
		return;
	}
	if (sc_call_uregs(c, &u) || u.sp >= USER_TOP) {
		gears_env__free_envp(env);
		e->st.failed++;
		return;
	}
	r = place_on_stack(e, c, env, &u, &len);
	if (!r || r == -ECANCELED)
		gears_env__free_envp(env);
	else
		start_fallback(e, c, env, &u, len);
}

/* The fallback failed: the original execve goes ahead unchanged, once. */
static void give_up(struct gears_env *e, struct pending *p, struct gears_sc_call *c)
{
	struct sc_uregs u = p->regs;

	e->st.failed++;
	pending_drop(p);
	p->used = p->pass = true;
	p->tid = c->tid;
	p->t = gears_now_ns();
	p->regs = u;
	sc_call_set_uregs(c, &u);
	sc_call_on_settle(c, settled, e);
}

static void on_exit_(struct gears_env *e, struct gears_sc_call *c)
{
	struct pending *p = pending_of(e, c->tid);
	struct sc_uregs u;
	char *blob;
	int envp_arg;

	if (!p || p->addr || p->pass || p->loose || c->uip != p->regs.ip + 2)
		return;
	if (c->ret < 0 || (uint64_t)c->ret >= USER_TOP) {
		/* No memory: the original execve goes ahead unchanged. */
		give_up(e, p, c);
		return;
	}
	p->addr = (uint64_t)c->ret;
	blob = layout(p->env, p->addr, &p->len, &p->ptr_off);
	u = p->regs;
	envp_arg = (int)u.ax == NR_EXECVEAT ? 3 : 2;
	if (!blob || gears_sc_call__write(c, p->addr, blob, p->len)) {
		free(blob);
		give_up(e, p, c);	/* (the mapping stays until the execve replaces the process) */
		return;
	}
	sc_call_on_settle(c, settled, e);
	if (envp_arg == 3)
		u.r10 = p->addr + p->ptr_off;
	else
		u.dx = p->addr + p->ptr_off;
	free(blob);
	e->st.fallbacks++;
	sc_call_set_uregs(c, &u);
}

static int on_call(struct gears_sc_call *c, void *ctx)
{
	struct gears_env *e = ctx;

	if (c->compat) {
		if (!c->exit)
			e->st.compat++;
		return 0;
	}
	if (c->exit)
		on_exit_(e, c);
	else
		on_entry(e, c);
	return 0;
}

struct gears_env *gears_env__new(struct gears_sc *sc)
{
	/* sc NULL: a rule set attached to no engine, for gears_env__apply. */
	struct gears_env *e = calloc(1, sizeof(*e));

	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->sc = sc;
	/* Tests: the mmap fallback for every execve, whatever the stack holds
	 * (which of the two paths a call takes otherwise depends on whether the
	 * page below its stack pointer happens to be present). */
	e->always_map = getenv("GEARS_FAULT_ENV_FALLBACK") != NULL;
	return e;
}

void gears_env__free(struct gears_env *e)
{
	if (!e)
		return;
	if (e->hid > 0 && e->sc)
		gears_sc__remove(e->sc, e->hid);
	for (int i = 0; i < e->n; i++)
		rule_free(&e->rules[i]);
	for (int i = 0; i < PENDING_MAX; i++)
		pending_drop(&e->pend[i]);
	free(e);
}

int gears_env__add(struct gears_env *e, const char *text)
{
	uint64_t set[GEARS_SC_NR_WORDS] = { 0 };
	int r;

	if (!e || !text)
		return -EINVAL;
	if (e->n >= GEARS_ENV_MAX_RULES)
		return gears_err(ENOSPC, "at most %d env rules", GEARS_ENV_MAX_RULES);
	if ((r = parse(text, &e->rules[e->n])))
		return r;
	e->n++;
	if (e->hid <= 0 && e->sc) {
		set[NR_EXECVE / 64] |= 1ull << (NR_EXECVE % 64);
		set[NR_EXECVEAT / 64] |= 1ull << (NR_EXECVEAT % 64);
		r = gears_sc__add_set(e->sc, set, GEARS_SC_SYNC | GEARS_SC_ON_ENTRY | GEARS_SC_ON_EXIT_ASKED,
				      on_call, e);
		if (r < 0) {
			rule_free(&e->rules[--e->n]);
			return r;
		}
		e->hid = r;
	}
	return 0;
}

int gears_env__del(struct gears_env *e, const char *text)
{
	if (!e || !text)
		return -EINVAL;
	for (int i = 0; i < e->n; i++) {
		if (strcmp(e->rules[i].text, text))
			continue;
		rule_free(&e->rules[i]);
		memmove(&e->rules[i], &e->rules[i + 1], (size_t)(e->n - i - 1) * sizeof(e->rules[0]));
		e->n--;
		memset(&e->rules[e->n], 0, sizeof(e->rules[0]));
		if (!e->n && e->hid > 0) {
			gears_sc__remove(e->sc, e->hid);
			e->hid = 0;
		}
		return 0;
	}
	return gears_err(ENOENT, "no env rule '%s'", text);
}

int gears_env__count(const struct gears_env *e)
{
	return e ? e->n : 0;
}

const char *gears_env__rule(const struct gears_env *e, int i)
{
	return e && i >= 0 && i < e->n ? e->rules[i].text : NULL;
}

void gears_env__stats(const struct gears_env *e, struct gears_env_stats *st)
{
	*st = e->st;
}
