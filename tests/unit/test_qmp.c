// SPDX-License-Identifier: MIT
/* QMP message framing. */
#include <gears/qmp.h>

#include "testlib.h"

TEST(two_messages_one_read)
{
	struct gears_qmp_framer f = { 0 };
	const char *in = "{\"return\": {}}\r\n{\"event\": \"STOP\", \"data\": {}}\r\n";
	int err;
	json_t *a, *b, *c;

	CHECK_EQ(gears_qmp_framer__feed(&f, in, strlen(in)), 0);
	a = gears_qmp_framer__next(&f, &err);
	CHECK(a && json_object_get(a, "return"));
	b = gears_qmp_framer__next(&f, &err);
	CHECK(b && !strcmp(json_string_value(json_object_get(b, "event")), "STOP"));
	c = gears_qmp_framer__next(&f, &err);
	CHECK(!c && !err);
	json_decref(a);
	json_decref(b);
	gears_qmp_framer__reset(&f);
}

TEST(split_across_reads)
{
	struct gears_qmp_framer f = { 0 };
	const char *in = "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}}}\r\n";
	int err;
	json_t *m = NULL;

	for (size_t i = 0; i < strlen(in); i++) {
		CHECK_EQ(gears_qmp_framer__feed(&f, in + i, 1), 0);
		m = gears_qmp_framer__next(&f, &err);
		CHECK_EQ(err, 0);
		if (m)
			break;
	}
	CHECK(m != NULL);
	CHECK(json_object_get(m, "QMP") != NULL);
	json_decref(m);
	gears_qmp_framer__reset(&f);
}

TEST(string_with_braces_and_crlf)
{
	struct gears_qmp_framer f = { 0 };
	const char *in = "{\"return\": \"CPU#0\\r\\nRIP={x}\"}\r\n";
	int err;
	json_t *m;

	gears_qmp_framer__feed(&f, in, strlen(in));
	m = gears_qmp_framer__next(&f, &err);
	CHECK(m != NULL);
	CHECK_STR(json_string_value(json_object_get(m, "return")), "CPU#0\r\nRIP={x}");
	json_decref(m);
	gears_qmp_framer__reset(&f);
}

TEST(garbage_is_an_error)
{
	struct gears_qmp_framer f = { 0 };
	int err;

	gears_qmp_framer__feed(&f, "hello\r\n", 7);
	CHECK(gears_qmp_framer__next(&f, &err) == NULL);
	CHECK_EQ(err, EBADMSG);
	gears_qmp_framer__reset(&f);

	gears_qmp_framer__feed(&f, "{\"a\": [1,}\r\n", 12);
	CHECK(gears_qmp_framer__next(&f, &err) == NULL);
	CHECK_EQ(err, EBADMSG);
	gears_qmp_framer__reset(&f);

	gears_qmp_framer__feed(&f, "[1]", 3);
	CHECK(gears_qmp_framer__next(&f, &err) == NULL);
	CHECK_EQ(err, EBADMSG);
	gears_qmp_framer__reset(&f);
}

TEST(oversize_refused)
{
	struct gears_qmp_framer f = { 0 };
	size_t big = 1u << 20;
	char *s = malloc(big);
	int r = 0;

	memset(s, ' ', big);
	s[0] = '{';
	for (int i = 0; i < 17 && !r; i++)
		r = gears_qmp_framer__feed(&f, s, big);
	CHECK_EQ(r, -EMSGSIZE);
	free(s);
	gears_qmp_framer__reset(&f);
}
