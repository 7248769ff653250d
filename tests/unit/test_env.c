// SPDX-License-Identifier: MIT
/*
 * Environment rules (lib/env.c) on the host, with no VM: rule syntax, what
 * gears_env__apply makes of an envp (set, prepend, delete, order, patterns),
 * the rule list (del, count, the 64-rule limit) and hostile environments.
 * The rule sets come from gears_env__new(NULL): rules attached to no engine.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include <gears/gears.h>
#include <gears/env.h>

#include "internal.h"
#include "guest_ram.h"
#include "testlib.h"

#define PATH_ED "/gears/bin/envdump"

/* A rule set from a NULL-terminated list of rules (NULL if any is refused). */
static struct gears_env *rules_of(const char *const *rules)
{
	struct gears_env *e = gears_env__new(NULL);

	if (!e)
		return NULL;
	for (; *rules; rules++) {
		if (gears_env__add(e, *rules)) {
			fprintf(stderr, "  rule '%s' refused: %s\n", *rules, gears_last_error());
			gears_env__free(e);
			return NULL;
		}
	}
	return e;
}

/* Is `got` exactly `want` (both NULL-terminated)? Prints both when not. */
static bool env_eq(char *const *got, const char *const *want)
{
	size_t i = 0;

	if (!got) {
		fprintf(stderr, "  got NULL\n");
		return false;
	}
	for (; got[i] && want[i]; i++)
		if (strcmp(got[i], want[i]))
			break;
	if (!got[i] && !want[i])
		return true;
	fprintf(stderr, "  environments differ at [%zu]:\n", i);
	for (size_t j = 0; got[j]; j++)
		fprintf(stderr, "    got [%zu] \"%.60s\"\n", j, got[j]);
	for (size_t j = 0; want[j]; j++)
		fprintf(stderr, "    want[%zu] \"%.60s\"\n", j, want[j]);
	return false;
}

static size_t env_len(char *const *env)
{
	size_t n = 0;

	while (env && env[n])
		n++;
	return n;
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

/* Rules applied to `envp` for `path` give exactly `want`. */
static bool applies(const char *const *rules, const char *path, const char *const *envp,
		    const char *const *want)
{
	struct gears_env *e = rules_of(rules);
	char **got;
	bool ok;

	if (!e)
		return false;
	got = gears_env__apply(e, path, envp);
	ok = env_eq(got, want);
	gears_env__free_envp(got);
	gears_env__free(e);
	return ok;
}

/* No rule matches `path`: apply says so with NULL. */
static bool no_match(const char *const *rules, const char *path)
{
	struct gears_env *e = rules_of(rules);
	char **got;

	if (!e)
		return false;
	got = gears_env__apply(e, path, LIST("A=1"));
	gears_env__free_envp(got);
	gears_env__free(e);
	return !got;
}

TEST(rule_syntax_valid)
{
	static const char *const ok[] = {
		"FOO=1", "*:FOO=1", "envdump*:PATH+=/x", "-HOME", "a*:-HOME",
		"FOO=a:b",		/* a value with a colon, no pattern */
		"p:FOO=a:b",		/* pattern, then a value with a colon */
		"FOO=",			/* empty value */
		"FOO=a=b",		/* '=' in the value */
		"LD_PRELOAD+=/lib/x.so",
		"/usr/bin/*:LD_LIBRARY_PATH+=/opt/lib",
		"[ab]?:-X",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int r = gears_env__check(ok[i]);

		if (r)
			fprintf(stderr, "  '%s': %d %s\n", ok[i], r, gears_last_error());
		CHECK_EQ(r, 0);
	}
}

TEST(rule_syntax_invalid)
{
	static const char *const bad[] = {
		"", "nothing", "=x", "-", "a:-B=1", "A B=1", "+=x",
		"p:", "p:-", "p:=x", "p:+=x", "A\tB=1", "a:b:FOO=1", "-A:B", "-A B",
	};
	struct gears_env *e = gears_env__new(NULL);

	CHECK(e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = gears_env__check(bad[i]);

		if (r != -EINVAL)
			fprintf(stderr, "  '%s' accepted (%d)\n", bad[i], r);
		CHECK_EQ(r, -EINVAL);
		/* gears_env__add refuses it the same way and adds nothing */
		CHECK_EQ(gears_env__add(e, bad[i]), -EINVAL);
		CHECK_EQ(gears_env__count(e), 0);
	}
	CHECK_EQ(gears_env__check(NULL), -EINVAL);
	CHECK_EQ(gears_env__add(e, NULL), -EINVAL);
	CHECK_EQ(gears_env__add(NULL, "FOO=1"), -EINVAL);
	gears_env__free(e);
}

TEST(set_new_var_goes_last)
{
	CHECK(applies(LIST("FOO=1"), PATH_ED, LIST("A=1", "B=2"), LIST("A=1", "B=2", "FOO=1")));
	/* '=' and ':' in the value are kept as they are */
	CHECK(applies(LIST("FOO=a=b:c"), PATH_ED, LIST("A=1"), LIST("A=1", "FOO=a=b:c")));
	CHECK(applies(LIST("p*:FOO=a:b"), "/x/prog", LIST("A=1"), LIST("A=1", "FOO=a:b")));
	CHECK(applies(LIST("FOO="), PATH_ED, LIST("A=1"), LIST("A=1", "FOO=")));
}

TEST(set_replaces_in_place_and_drops_duplicates)
{
	CHECK(applies(LIST("FOO=new"), PATH_ED,
		      LIST("A=1", "FOO=old", "B=2", "FOO=dup", "C=3", "FOO="),
		      LIST("A=1", "FOO=new", "B=2", "C=3")));
	/* names that only share a prefix, and entries without '=', are left alone */
	CHECK(applies(LIST("FOO=new"), PATH_ED,
		      LIST("FOOBAR=1", "FO=2", "FOO", "foo=3", "FOO=old"),
		      LIST("FOOBAR=1", "FO=2", "FOO", "foo=3", "FOO=new")));
}

TEST(prepend)
{
	const char *const *r = LIST("PATH+=/x");

	/* to an existing list */
	CHECK(applies(r, PATH_ED, LIST("A=1", "PATH=/bin:/usr/bin", "B=2"),
		      LIST("A=1", "PATH=/x:/bin:/usr/bin", "B=2")));
	/* absent: set, at the end */
	CHECK(applies(r, PATH_ED, LIST("A=1"), LIST("A=1", "PATH=/x")));
	/* already there (first, middle, last, only): unchanged */
	CHECK(applies(r, PATH_ED, LIST("PATH=/x:/bin"), LIST("PATH=/x:/bin")));
	CHECK(applies(r, PATH_ED, LIST("PATH=/bin:/x:/sbin"), LIST("PATH=/bin:/x:/sbin")));
	CHECK(applies(r, PATH_ED, LIST("PATH=/bin:/x"), LIST("PATH=/bin:/x")));
	CHECK(applies(r, PATH_ED, LIST("PATH=/x"), LIST("PATH=/x")));
	/* only as part of an element: not there */
	CHECK(applies(r, PATH_ED, LIST("PATH=/xy:/x/bin"), LIST("PATH=/x:/xy:/x/bin")));
	/* empty value: just the new element, no stray colon */
	CHECK(applies(r, PATH_ED, LIST("PATH="), LIST("PATH=/x")));
	/* duplicates: the first counts, the rest go */
	CHECK(applies(r, PATH_ED, LIST("PATH=/a", "B=2", "PATH=/x"), LIST("PATH=/x:/a", "B=2")));
	/* LD_PRELOAD, twice in one rule set: the second is already there */
	CHECK(applies(LIST("LD_PRELOAD+=/l.so", "LD_PRELOAD+=/l.so"), PATH_ED,
		      LIST("LD_PRELOAD=/o.so"), LIST("LD_PRELOAD=/l.so:/o.so")));
}

TEST(delete_removes_every_occurrence)
{
	CHECK(applies(LIST("-HOME"), PATH_ED, LIST("HOME=/a", "X=1", "HOME=/b", "HOMEDIR=/c", "HOME="),
		      LIST("X=1", "HOMEDIR=/c")));
	/* absent: a copy, unchanged (the rule matched the path) */
	CHECK(applies(LIST("-HOME"), PATH_ED, LIST("X=1", "Y=2"), LIST("X=1", "Y=2")));
	/* the only variable: an empty environment */
	CHECK(applies(LIST("-HOME"), PATH_ED, LIST("HOME=/a"), NONE));
}

TEST(rules_apply_in_order)
{
	CHECK(applies(LIST("FOO=1", "-FOO"), PATH_ED, LIST("A=1"), LIST("A=1")));
	CHECK(applies(LIST("-FOO", "FOO=1"), PATH_ED, LIST("FOO=0", "A=1"), LIST("A=1", "FOO=1")));
	CHECK(applies(LIST("FOO=1", "FOO=2"), PATH_ED, LIST("FOO=0", "A=1"), LIST("FOO=2", "A=1")));
	CHECK(applies(LIST("PATH=/a", "PATH+=/b"), PATH_ED, LIST("A=1"), LIST("A=1", "PATH=/b:/a")));
	CHECK(applies(LIST("PATH+=/b", "PATH=/a"), PATH_ED, LIST("PATH=/c"), LIST("PATH=/a")));
}

TEST(patterns_on_path_and_basename)
{
	/* the full path */
	CHECK(applies(LIST("/usr/bin/env*:X=1"), "/usr/bin/envdump", NONE, LIST("X=1")));
	CHECK(no_match(LIST("/usr/bin/env*:X=1"), "/bin/envdump"));
	/* the basename */
	CHECK(applies(LIST("envdump:X=1"), PATH_ED, NONE, LIST("X=1")));
	CHECK(applies(LIST("env*:X=1"), PATH_ED, NONE, LIST("X=1")));
	CHECK(applies(LIST("envdump:X=1"), "envdump", NONE, LIST("X=1")));
	CHECK(applies(LIST("*:X=1"), "/", NONE, LIST("X=1")));
	/* no match: NULL */
	CHECK(no_match(LIST("x*:X=1"), PATH_ED));
	CHECK(no_match(LIST("envdump:X=1"), "/gears/bin/envdump2"));
	CHECK(no_match(LIST("bin:X=1"), PATH_ED));
	CHECK(no_match(LIST("Envdump:X=1"), PATH_ED));
	/* only the rules that match apply, in order */
	CHECK(applies(LIST("x*:A=1", "env*:B=2", "sh:-C", "*:C=3", "/gears/*:D=4"), PATH_ED,
		      LIST("C=0"), LIST("C=3", "B=2", "D=4")));
	CHECK(applies(LIST("x*:A=1", "env*:B=2", "sh:-C", "*:C=3"), "/bin/sh",
		      LIST("C=0"), LIST("C=3")));
}

TEST(apply_arguments)
{
	struct gears_env *e = gears_env__new(NULL);
	char **got;

	CHECK(e);
	/* no rules, no match */
	CHECK(!gears_env__apply(e, PATH_ED, LIST("A=1")));
	CHECK_EQ(gears_env__add(e, "A=2"), 0);
	CHECK(!gears_env__apply(NULL, PATH_ED, LIST("A=1")));
	CHECK(!gears_env__apply(e, NULL, LIST("A=1")));
	/* the result is a copy: the input is left as it was */
	{
		char a[] = "A=1", b[] = "B=1";
		const char *in[] = { a, b, NULL };

		got = gears_env__apply(e, PATH_ED, in);
		CHECK(env_eq(got, LIST("A=2", "B=1")));
		CHECK_STR(in[0], "A=1");
		CHECK(got && got[1] != b);
		gears_env__free_envp(got);
	}
	gears_env__free_envp(NULL);
	gears_env__free(NULL);
	gears_env__free(e);
}

TEST(empty_envp)
{
	const char *const *const empties[] = { NONE, NULL };

	for (int i = 0; i < 2; i++) {
		const char *const *in = empties[i];

		CHECK(applies(LIST("FOO=1"), PATH_ED, in, LIST("FOO=1")));
		CHECK(applies(LIST("PATH+=/x"), PATH_ED, in, LIST("PATH=/x")));
		CHECK(applies(LIST("-FOO"), PATH_ED, in, NONE));
		CHECK(applies(LIST("FOO=1", "BAR=2", "-FOO"), PATH_ED, in, LIST("BAR=2")));
	}
}

TEST(del_count_rule)
{
	struct gears_env *e = rules_of(LIST("A=1", "B=2", "p:C=3", "A=1"));
	char **got;

	CHECK(e);
	if (!e)
		return;
	CHECK_EQ(gears_env__count(e), 4);
	CHECK_STR(gears_env__rule(e, 0), "A=1");
	CHECK_STR(gears_env__rule(e, 2), "p:C=3");
	CHECK(!gears_env__rule(e, -1));
	CHECK(!gears_env__rule(e, 4));
	CHECK(!gears_env__rule(NULL, 0));
	CHECK_EQ(gears_env__count(NULL), 0);

	/* exact text only */
	CHECK_EQ(gears_env__del(e, "B=2 "), -ENOENT);
	CHECK_EQ(gears_env__del(e, "b=2"), -ENOENT);
	CHECK_EQ(gears_env__del(e, "*:B=2"), -ENOENT);
	CHECK_EQ(gears_env__del(e, "C=3"), -ENOENT);
	CHECK_EQ(gears_env__del(e, ""), -ENOENT);
	CHECK_EQ(gears_env__del(e, NULL), -EINVAL);
	CHECK_EQ(gears_env__del(NULL, "A=1"), -EINVAL);
	CHECK_EQ(gears_env__count(e), 4);

	/* the others keep their order */
	CHECK_EQ(gears_env__del(e, "B=2"), 0);
	CHECK_EQ(gears_env__count(e), 3);
	CHECK_STR(gears_env__rule(e, 0), "A=1");
	CHECK_STR(gears_env__rule(e, 1), "p:C=3");
	CHECK_STR(gears_env__rule(e, 2), "A=1");
	CHECK(!gears_env__rule(e, 3));
	CHECK_EQ(gears_env__del(e, "B=2"), -ENOENT);
	got = gears_env__apply(e, "/bin/prog", LIST("B=1"));
	CHECK(env_eq(got, LIST("B=1", "A=1")));
	gears_env__free_envp(got);

	/* one of two identical rules at a time */
	CHECK_EQ(gears_env__del(e, "A=1"), 0);
	CHECK_EQ(gears_env__count(e), 2);
	CHECK_STR(gears_env__rule(e, 0), "p:C=3");
	CHECK_STR(gears_env__rule(e, 1), "A=1");
	CHECK_EQ(gears_env__del(e, "A=1"), 0);
	CHECK_EQ(gears_env__del(e, "A=1"), -ENOENT);
	CHECK_EQ(gears_env__del(e, "p:C=3"), 0);
	CHECK_EQ(gears_env__count(e), 0);
	CHECK(!gears_env__rule(e, 0));
	/* no rules left: nothing matches */
	CHECK(!gears_env__apply(e, "/bin/p", LIST("B=1")));
	/* and the set takes rules again */
	CHECK_EQ(gears_env__add(e, "-B"), 0);
	got = gears_env__apply(e, "/bin/p", LIST("B=1"));
	CHECK(env_eq(got, NONE));
	gears_env__free_envp(got);
	gears_env__free(e);
}

TEST(at_most_64_rules)
{
	struct gears_env *e = gears_env__new(NULL);
	static char bufs[GEARS_ENV_MAX_RULES][32];
	char rule[32];
	const char *want[GEARS_ENV_MAX_RULES + 1];
	char **got;

	CHECK(e);
	if (!e)
		return;
	CHECK_EQ(GEARS_ENV_MAX_RULES, 64);
	for (int i = 0; i < GEARS_ENV_MAX_RULES; i++) {
		snprintf(rule, sizeof(rule), "V%02d=%d", i, i);
		CHECK_EQ(gears_env__add(e, rule), 0);
	}
	CHECK_EQ(gears_env__count(e), 64);
	CHECK_EQ(gears_env__add(e, "V64=64"), -ENOSPC);
	CHECK_EQ(gears_env__add(e, "bad"), -ENOSPC);
	CHECK_EQ(gears_env__count(e), 64);
	CHECK_STR(gears_env__rule(e, 63), "V63=63");
	CHECK(!gears_env__rule(e, 64));

	/* all 64 apply, in order */
	got = gears_env__apply(e, PATH_ED, NONE);
	for (int i = 0; i < GEARS_ENV_MAX_RULES; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "V%02d=%d", i, i);
		want[i] = bufs[i];
	}
	want[GEARS_ENV_MAX_RULES] = NULL;
	CHECK(env_eq(got, want));
	gears_env__free_envp(got);

	/* a freed slot takes a rule again, once */
	CHECK_EQ(gears_env__del(e, "V00=0"), 0);
	CHECK_EQ(gears_env__add(e, "V64=64"), 0);
	CHECK_EQ(gears_env__add(e, "V65=65"), -ENOSPC);
	CHECK_EQ(gears_env__count(e), 64);
	CHECK_STR(gears_env__rule(e, 0), "V01=1");
	CHECK_STR(gears_env__rule(e, 63), "V64=64");
	gears_env__free(e);
}

/* A `len`-byte string of `c`, after `prefix`. */
static char *long_str(const char *prefix, char c, size_t len)
{
	size_t p = strlen(prefix);
	char *s = malloc(p + len + 1);

	memcpy(s, prefix, p);
	memset(s + p, c, len);
	s[p + len] = 0;
	return s;
}

TEST(hostile_long_values)
{
	size_t big = 200 * 1024;
	char *path = long_str("PATH=", 'p', big);
	char *big_path = long_str("", 'p', big);
	char *other = long_str("OTHER=", 'o', big);
	char *rule = long_str("FOO=", 'v', big);
	char *near = long_str("FOO=", 'v', 128 * 1024 - 4);
	const char *in[] = { "A=1", path, other, NULL };
	struct gears_env *e = rules_of(LIST("PATH+=/x", "-A", "B=2"));
	char **got;

	CHECK(e);
	/* a 200 KB variable in the environment: handled whole */
	got = e ? gears_env__apply(e, PATH_ED, in) : NULL;
	CHECK_EQ(env_len(got), 3);
	if (env_len(got) == 3) {
		CHECK_EQ(strlen(got[0]), strlen("PATH=/x:") + big);
		CHECK(!strncmp(got[0], "PATH=/x:", 8) && !strcmp(got[0] + 8, big_path));
		CHECK_STR(got[1], other);
		CHECK_STR(got[2], "B=2");
	}
	gears_env__free_envp(got);
	gears_env__free(e);

	/* replacing a 200 KB variable */
	e = rules_of(LIST("OTHER=short"));
	got = e ? gears_env__apply(e, PATH_ED, in) : NULL;
	CHECK(env_eq(got, (const char *const[]){ "A=1", path, "OTHER=short", NULL }));
	gears_env__free_envp(got);
	gears_env__free(e);

	/* a rule longer than one argument string (128 KB) is refused; just under is fine */
	CHECK_EQ(gears_env__check(rule), -EINVAL);
	CHECK_EQ(gears_env__check(near), 0);
	e = gears_env__new(NULL);
	CHECK(e);
	CHECK_EQ(gears_env__add(e, rule), -EINVAL);
	CHECK_EQ(gears_env__add(e, near), 0);
	got = gears_env__apply(e, PATH_ED, LIST("FOO=0"));
	CHECK(env_eq(got, (const char *const[]){ near, NULL }));
	gears_env__free_envp(got);
	gears_env__free(e);

	free(path);
	free(big_path);
	free(other);
	free(rule);
	free(near);
}

TEST(hostile_many_variables)
{
	enum { N = 5000 };
	char **in = calloc(N + 1, sizeof(char *));
	struct gears_env *e;
	char **got;
	bool ok = true;

	/* V0000..V4999, and every 10th is also DUP= */
	for (int i = 0; i < N; i++) {
		in[i] = malloc(32);
		if (i % 10 == 5)
			snprintf(in[i], 32, "DUP=%d", i);
		else
			snprintf(in[i], 32, "V%04d=%d", i, i);
	}
	e = rules_of(LIST("V2500=new", "-DUP", "PATH+=/x", "V0000+=/y", "V4999=last"));
	CHECK(e);
	got = e ? gears_env__apply(e, PATH_ED, (const char *const *)in) : NULL;
	CHECK(got);
	/* 5000 - 500 DUP + PATH at the end */
	CHECK_EQ(env_len(got), N - N / 10 + 1);
	for (size_t i = 0, j = 0; got && i < (size_t)N; i++) {
		char want[32];

		if (i % 10 == 5)
			continue;
		if (i == 0)
			snprintf(want, sizeof(want), "V0000=/y:0");
		else if (i == 2500)
			snprintf(want, sizeof(want), "V2500=new");
		else if (i == 4999)
			snprintf(want, sizeof(want), "V4999=last");
		else
			snprintf(want, sizeof(want), "V%04zu=%zu", i, i);
		if (!got[j] || strcmp(got[j], want)) {
			fprintf(stderr, "  [%zu]: \"%s\", want \"%s\"\n", j, got[j] ? got[j] : "(end)", want);
			ok = false;
			break;
		}
		j++;
	}
	CHECK(ok);
	if (env_len(got) == N - N / 10 + 1)
		CHECK_STR(got[N - N / 10], "PATH=/x");
	gears_env__free_envp(got);
	gears_env__free(e);

	/* every variable the same name: one is left */
	for (int i = 0; i < N; i++)
		snprintf(in[i], 32, "SAME=%d", i);
	e = rules_of(LIST("SAME+=/z"));
	got = e ? gears_env__apply(e, PATH_ED, (const char *const *)in) : NULL;
	CHECK(env_eq(got, LIST("SAME=/z:0")));
	gears_env__free_envp(got);
	gears_env__free(e);

	gears_env__free_envp(in);
}

/* ---- reading envp out of guest memory (env_read_strv) ---- */

/* A user address space: va USER..USER+2 MiB is gpa 2 MiB.., 4 KiB pages. */
#define USER		0x400000ull
#define USER_GPA	(2 * MiB)
#define USER_PAGES	256

static void user_init(struct guest *g)
{
	guest_init(g, 4);
	for (uint64_t i = 0; i < USER_PAGES; i++)
		map(g, USER + i * 4096, USER_GPA + i * 4096, 1, PRW);
}

static void uput64(struct guest *g, uint64_t va, uint64_t v)
{
	memcpy(g->ram + USER_GPA + (va - USER), &v, 8);
}

static void uputs(struct guest *g, uint64_t va, const char *s)
{
	memcpy(g->ram + USER_GPA + (va - USER), s, strlen(s) + 1);
}

/* envp at `arr` pointing at strings placed from `strs` on. */
static void plant_envp(struct guest *g, uint64_t arr, uint64_t strs, const char *const *env)
{
	size_t i = 0;

	for (; env[i]; i++) {
		uputs(g, strs, env[i]);
		uput64(g, arr + 8 * i, strs);
		strs += strlen(env[i]) + 1;
	}
	uput64(g, arr + 8 * i, 0);
}

static char **read_strv(struct guest *g, uint64_t va, size_t *n)
{
	errno = 0;
	return env_read_strv(g->m, g->cr3, 4, va, n);
}

TEST(guest_envp_read)
{
	const char *const *env = LIST("HOME=/root", "PATH=/bin:/usr/bin", "", "TERM=vt100");
	struct guest g;
	char **got;
	size_t n = 99;

	user_init(&g);
	plant_envp(&g, USER + 0x1000, USER + 0x8000, env);
	got = read_strv(&g, USER + 0x1000, &n);
	CHECK(env_eq(got, env));
	CHECK_EQ(n, 4);
	gears_env__free_envp(got);
	/* an array straddling a page, unaligned, NULL as the last word of the next page */
	plant_envp(&g, USER + 0x2ffd, USER + 0x9000, env);
	got = read_strv(&g, USER + 0x2ffd, &n);
	CHECK(env_eq(got, env));
	gears_env__free_envp(got);
	/* the NULL ends a page and the next one is not mapped: never read past it */
	plant_envp(&g, USER + (USER_PAGES - 1) * 4096ull + 4096 - 5 * 8, USER + 0x9000, env);
	got = read_strv(&g, USER + (USER_PAGES - 1) * 4096ull + 4096 - 5 * 8, &n);
	CHECK(env_eq(got, env));
	gears_env__free_envp(got);
	/* NULL envp: empty */
	got = read_strv(&g, 0, &n);
	CHECK(got && !got[0] && n == 0);
	gears_env__free_envp(got);
	guest_fini(&g);
}

/* An envp of `count` pointers to the one string at `str`. */
static void same_ptrs(struct guest *g, uint64_t arr, int count, uint64_t str)
{
	for (int i = 0; i < count; i++)
		uput64(g, arr + 8 * (uint64_t)i, str);
	uput64(g, arr + 8 * (uint64_t)count, 0);
}

/* It reads as `count` strings, the last `len` bytes long. */
static bool reads_as(struct guest *g, uint64_t arr, size_t count, size_t len)
{
	size_t n = 0;
	char **got = read_strv(g, arr, &n);
	bool ok = got && n == count && env_len(got) == count && strlen(got[count - 1]) == len;

	gears_env__free_envp(got);
	return ok;
}

TEST(guest_envp_hostile)
{
	struct guest g;
	uint64_t arr = USER + 0x1000, big = USER + 0x20000, A1 = USER + 0x18000;
	size_t n;

	user_init(&g);
	/* a pointer to nowhere, and an array running into an unmapped page */
	uputs(&g, A1, "A=1");
	uput64(&g, arr, A1);
	uput64(&g, arr + 8, 0x7f0000000000ull);
	CHECK(!read_strv(&g, arr, &n) && errno == EFAULT);
	for (int i = 0; i < 512; i++)
		uput64(&g, USER + (USER_PAGES - 1) * 4096ull + 8 * i, A1);
	CHECK(!read_strv(&g, USER + (USER_PAGES - 1) * 4096ull, &n) && errno == EFAULT);
	/* 8193 strings (all the same one): more than the kernel takes; 8192 are fine */
	same_ptrs(&g, arr, 8193, A1);
	CHECK(!read_strv(&g, arr, &n) && errno == E2BIG);
	same_ptrs(&g, arr, 8192, A1);
	CHECK(reads_as(&g, arr, 8192, 3));
	/* a string with no NUL within 128 KiB */
	memset(g.ram + USER_GPA + (big - USER), 'x', 130 * 1024);
	same_ptrs(&g, arr, 1, big);
	CHECK(!read_strv(&g, arr, &n) && errno == E2BIG);
	/* 17 pointers to one 127 KiB string: more than 2 MiB in all; 16 are fine */
	g.ram[USER_GPA + (big - USER) + 127 * 1024] = 0;
	same_ptrs(&g, arr, 17, big);
	CHECK(!read_strv(&g, arr, &n) && errno == E2BIG);
	same_ptrs(&g, arr, 16, big);
	CHECK(reads_as(&g, arr, 16, 127 * 1024));
	guest_fini(&g);
}

/*
 * The guest rewrites its envp while the host reads it: at the second access
 * to the pointer array every pointer is redirected to another string. Before
 * the fix each pointer was a read of its own, and the later ones saw the new
 * array (a mix no execve ever passed); now the array is read once, a page at a
 * time, and what comes back is that one read.
 */
struct env_flip {
	struct guest *g;
	uint64_t arr;
	int accesses;
};

static void env_flip_hook(void *ctx, uint64_t gpa, uint64_t len)
{
	struct env_flip *f = ctx;
	uint64_t a = USER_GPA + (f->arr - USER);

	if (gpa >= a + 4096 || gpa + len <= a || ++f->accesses != 2)
		return;
	for (int i = 0; i < 3; i++)
		uput64(f->g, f->arr + 8 * i, USER + 0x9000);
}

TEST(guest_envp_changes_while_read)
{
	const char *const *env = LIST("HOME=/root", "LANG=C", "X=1");
	struct guest g;
	struct env_flip f = { .g = &g, .arr = USER + 0x1000 };
	char **got;
	size_t n;

	user_init(&g);
	plant_envp(&g, f.arr, USER + 0x8000, env);
	uputs(&g, USER + 0x9000, "EVIL=1");
	gears_mem_set_hook(g.m, env_flip_hook, &f);
	got = read_strv(&g, f.arr, &n);
	gears_mem_set_hook(g.m, NULL, NULL);
	CHECK_EQ(f.accesses, 1);
	CHECK(env_eq(got, env));
	gears_env__free_envp(got);
	guest_fini(&g);
}
