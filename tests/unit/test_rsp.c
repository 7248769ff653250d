// SPDX-License-Identifier: MIT
/* GDB remote serial protocol framing. */
#include <gears/gdb.h>

#include "testlib.h"

static int feed_all(struct gears_rsp_dec *d, const char *s, size_t len, char *out, size_t outsz)
{
	size_t off = 0, used;
	int got = 0;

	while (off < len) {
		int r = gears_rsp__feed(d, s + off, len - off, &used);

		if (r < 0)
			return r;
		off += used;
		if (r == 1) {
			snprintf(out, outsz, "%s", d->pkt);
			got++;
		}
		if (!used && !r)
			break;
	}
	return got;
}

TEST(encode_plain)
{
	char out[64];
	long n = gears_rsp__encode("g", 1, out, sizeof(out));

	CHECK_EQ(n, 5);
	out[n] = 0;
	CHECK_STR(out, "$g#67");
}

TEST(encode_escapes)
{
	char out[64];
	long n = gears_rsp__encode("a#b$c}d*", 8, out, sizeof(out));

	CHECK(n > 0);
	out[n] = 0;
	/* each special byte becomes '}' + (byte ^ 0x20) */
	CHECK(strncmp(out, "$a}\x03" "b}\x04" "c}]d}\x0a#", 14) == 0);
}

TEST(encode_nospace)
{
	char out[4];

	CHECK_EQ(gears_rsp__encode("abcdef", 6, out, sizeof(out)), -ENOSPC);
}

TEST(roundtrip_binary)
{
	struct gears_rsp_dec d = { 0 };
	char enc[600], payload[256], got[600];

	for (int i = 0; i < 255; i++)
		payload[i] = (char)(i + 1);	/* every byte but NUL */
	payload[255] = 0;
	long n = gears_rsp__encode(payload, 255, enc, sizeof(enc));

	CHECK(n > 0);
	CHECK_EQ(feed_all(&d, enc, (size_t)n, got, sizeof(got)), 1);
	CHECK_EQ(d.len, 255);
	CHECK(memcmp(d.pkt, payload, 255) == 0);
	gears_rsp__reset(&d);
}

TEST(decode_split_and_acks)
{
	struct gears_rsp_dec d = { 0 };
	const char *stream = "+$OK#9a+$T05thread:02;#";
	char got[64];
	size_t used;

	CHECK_EQ(feed_all(&d, stream, 8, got, sizeof(got)), 1);
	CHECK_STR(got, "OK");
	CHECK_EQ(d.acks, 2);
	/* second packet arrives in pieces */
	CHECK_EQ(gears_rsp__feed(&d, stream + 8, strlen(stream) - 8, &used), 0);
	unsigned char sum = 0;

	for (const char *p = "T05thread:02;"; *p; p++)
		sum += (unsigned char)*p;
	char cs[3];

	snprintf(cs, sizeof(cs), "%02x", sum);
	CHECK_EQ(gears_rsp__feed(&d, cs, 1, &used), 0);
	CHECK_EQ(gears_rsp__feed(&d, cs + 1, 1, &used), 1);
	CHECK_STR(d.pkt, "T05thread:02;");
	gears_rsp__reset(&d);
}

TEST(decode_bad_checksum_dropped)
{
	struct gears_rsp_dec d = { 0 };
	char got[16];

	CHECK_EQ(feed_all(&d, "$OK#00$OK#9a", 12, got, sizeof(got)), 1);
	CHECK_EQ(d.bad_checksums, 1);
	CHECK_STR(got, "OK");
	gears_rsp__reset(&d);
}

TEST(decode_rle)
{
	struct gears_rsp_dec d = { 0 };
	/* "0* " = '0' then ' ' (32) - 29 = 3 more zeros: "0000" */
	const char *body = "0* ";
	unsigned char sum = 0;
	char pkt[32], got[32];

	for (const char *p = body; *p; p++)
		sum += (unsigned char)*p;
	snprintf(pkt, sizeof(pkt), "$%s#%02x", body, sum);
	CHECK_EQ(feed_all(&d, pkt, strlen(pkt), got, sizeof(got)), 1);
	CHECK_STR(got, "0000");
	gears_rsp__reset(&d);
}

TEST(decode_empty_packet_and_interrupt)
{
	struct gears_rsp_dec d = { 0 };
	char got[16] = "x";

	CHECK_EQ(feed_all(&d, "\x03$#00", 6, got, sizeof(got)), 1);
	CHECK_STR(got, "");
	CHECK_EQ(d.interrupts, 1);
	gears_rsp__reset(&d);
}

TEST(decode_oversize)
{
	struct gears_rsp_dec d = { 0 };
	size_t big = (1u << 20) + 100, used;
	char *s = malloc(big);
	int r;

	memset(s, 'a', big);
	s[0] = '$';
	r = gears_rsp__feed(&d, s, big, &used);
	CHECK_EQ(r, -EMSGSIZE);
	free(s);
	gears_rsp__reset(&d);
}
