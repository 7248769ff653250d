// SPDX-License-Identifier: MIT
/* The agent/control-socket frame codec (cli/frame.c, compiled in here). */
#include "../../cli/frame.c"

#include "testlib.h"

TEST(frames_split_anywhere)
{
	const char in[] = "INIT 0 0\r\nREADY 0 5\nhello" "OUT 7 3\na\0b";
	size_t n = sizeof(in) - 1;

	/* Feed one byte at a time: every split point must work. */
	struct frame_reader r = { 0 };
	struct frame f;
	int got = 0;
	const char *types[] = { "INIT", "READY", "OUT" };

	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(frame_reader_feed(&r, in + i, 1), 0);
		while (frame_reader_next(&r, &f) == 1) {
			CHECK(got < 3);
			if (got >= 3)
				break;
			CHECK_STR(f.type, types[got]);
			if (got == 1)
				CHECK(f.len == 5 && !memcmp(f.data, "hello", 5));
			if (got == 2)
				CHECK(f.id == 7 && f.len == 3 && !memcmp(f.data, "a\0b", 3));
			got++;
		}
	}
	CHECK_EQ(got, 3);
	CHECK_EQ(r.bad, 0);
	frame_reader_free(&r);
}

TEST(malformed_headers_skipped)
{
	const char in[] = "garbage line\nEXIT 1 notanumber\nTOOBIG 1 99999999\nEXIT 1 1\n0";
	struct frame_reader r = { 0 };
	struct frame f;

	frame_reader_feed(&r, in, sizeof(in) - 1);
	CHECK_EQ(frame_reader_next(&r, &f), 1);
	CHECK_STR(f.type, "EXIT");
	CHECK_STR(f.data, "0");
	CHECK_EQ(r.bad, 3);
	frame_reader_free(&r);
}

TEST(argv_roundtrip)
{
	char *argv[] = { "sh", "-c", "echo 'a b'", "", NULL };
	size_t len;
	char *p = argv_pack(argv, &len);
	char **v = argv_unpack(p, len);

	CHECK(v != NULL);
	for (int i = 0; i < 4; i++)
		CHECK_STR(v[i], argv[i]);
	CHECK(v[4] == NULL);
	free(v);
	free(p);
}

TEST(argv_unterminated_tail_ignored)
{
	char data[] = { 'a', 0, 'b', 'c' };
	char **v = argv_unpack(data, sizeof(data));

	CHECK_STR(v[0], "a");
	CHECK(v[1] == NULL);
	free(v);
}
