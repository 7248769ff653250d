/* SPDX-License-Identifier: MIT */
/*
 * A minimal unit-test harness: TEST(name) { ... } functions registered by a
 * constructor, CHECK* macros that report file:line and keep going, and a main()
 * that runs every test and exits non-zero when any check failed.
 */
#ifndef GEARS_TESTLIB_H
#define GEARS_TESTLIB_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

static struct test_case test_cases[256];
static int test_count, test_failures, test_current_failed;

#define TEST(NAME)                                                             \
	static void test_##NAME(void);                                         \
	__attribute__((constructor)) static void register_##NAME(void)         \
	{                                                                      \
		test_cases[test_count].name = #NAME;                           \
		test_cases[test_count++].fn = test_##NAME;                     \
	}                                                                      \
	static void test_##NAME(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			test_current_failed = 1;                               \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld (0x%llx) != %lld (0x%llx)\n", \
				__FILE__, __LINE__, #a, #b, _a, (unsigned long long)_a, _b, (unsigned long long)_b); \
			test_current_failed = 1;                               \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		if (!_a || !_b || strcmp(_a, _b)) {                            \
			fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
				__FILE__, __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
			test_current_failed = 1;                               \
		}                                                              \
	} while (0)

int main(int argc, char **argv)
{
	for (int i = 0; i < test_count; i++) {
		if (argc > 1 && !strstr(test_cases[i].name, argv[1]))
			continue;
		test_current_failed = 0;
		test_cases[i].fn();
		printf("%s %s\n", test_current_failed ? "FAIL" : "ok  ", test_cases[i].name);
		test_failures += test_current_failed;
	}
	return test_failures ? 1 : 0;
}

#endif
