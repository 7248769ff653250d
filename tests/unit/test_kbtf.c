// SPDX-License-Identifier: MIT
/* BTF queries on BTF built with libbpf's writer API, hostile BTF, and (when the
 * host exposes it) the host kernel's own BTF. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <bpf/btf.h>

#include <gears/gears.h>

#include "testlib.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct blob {
	void *data;
	uint32_t size;
};

/*
 * struct task {                        offset
 *	int pid;                        0
 *	union { int x; unsigned y; };   4
 *	struct inner in;                8    { int a; int b; }
 *	struct {                        16
 *		int deep_a;             16
 *		union { int deep_u; };  20
 *	};
 *	unsigned flags:3, more:5;       24 (bitfields)
 *	struct list_head tasks;         32   { *next; *prev; }
 *	my_inner_t ti;                  48   typedef struct inner
 *	const struct inner ci;          56
 *	char comm[16];                  64
 * };                                   80
 * plus task_t, a self-nesting struct, an exponentially nesting one, an
 * old-style (kflag = 0) int bitfield and two structs sharing a name.
 */
static struct blob build_btf(void)
{
	struct btf *btf = btf__new_empty();
	int i_int, i_uint, i_char, inner, ptr, lh, td, cst, arr, u1, u2, anon, task, self, fan, u3;
	struct blob out = { 0 };
	const void *raw;

	i_int = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	i_uint = btf__add_int(btf, "unsigned int", 4, 0);
	i_char = btf__add_int(btf, "char", 1, BTF_INT_CHAR);

	inner = btf__add_struct(btf, "inner", 8);
	btf__add_field(btf, "a", i_int, 0, 0);
	btf__add_field(btf, "b", i_int, 32, 0);

	ptr = btf__add_ptr(btf, (int)btf__type_cnt(btf) + 1);
	lh = btf__add_struct(btf, "list_head", 16);
	btf__add_field(btf, "next", ptr, 0, 0);
	btf__add_field(btf, "prev", ptr, 64, 0);
	CHECK_EQ(lh, ptr + 1);

	td = btf__add_typedef(btf, "my_inner_t", inner);
	cst = btf__add_const(btf, inner);
	arr = btf__add_array(btf, i_int, i_char, 16);

	u1 = btf__add_union(btf, NULL, 4);
	btf__add_field(btf, "x", i_int, 0, 0);
	btf__add_field(btf, "y", i_uint, 0, 0);
	u2 = btf__add_union(btf, NULL, 4);
	btf__add_field(btf, "deep_u", i_int, 0, 0);
	anon = btf__add_struct(btf, NULL, 8);
	btf__add_field(btf, "deep_a", i_int, 0, 0);
	btf__add_field(btf, NULL, u2, 32, 0);

	task = btf__add_struct(btf, "task", 80);
	btf__add_field(btf, "pid", i_int, 0, 0);
	btf__add_field(btf, NULL, u1, 32, 0);
	btf__add_field(btf, "in", inner, 64, 0);
	btf__add_field(btf, NULL, anon, 128, 0);
	btf__add_field(btf, "flags", i_uint, 192, 3);
	btf__add_field(btf, "more", i_uint, 195, 5);
	btf__add_field(btf, "tasks", lh, 256, 0);
	btf__add_field(btf, "ti", td, 384, 0);
	btf__add_field(btf, "ci", cst, 448, 0);
	btf__add_field(btf, "comm", arr, 512, 0);
	btf__add_typedef(btf, "task_t", task);

	/* struct self { struct self; }: cyclic, only depth limits end it */
	self = btf__add_struct(btf, "self", 4);
	btf__add_field(btf, NULL, self, 0, 0);
	/* struct fan { struct fan; struct fan; }: 2^depth paths */
	fan = btf__add_struct(btf, "fan", 8);
	btf__add_field(btf, NULL, fan, 0, 0);
	btf__add_field(btf, NULL, fan, 32, 0);

	/* old-style bitfield: a 3-bit int, member without kflag */
	u3 = btf__add_int(btf, "u3", 4, 0);
	*(uint32_t *)((struct btf_type *)btf__type_by_id(btf, u3) + 1) = 3;	/* encoding 0, offset 0, 3 bits */
	btf__add_struct(btf, "oldbf", 4);
	btf__add_field(btf, "bits", u3, 0, 0);

	btf__add_struct(btf, "dup", 4);
	btf__add_field(btf, "first", i_int, 0, 0);
	btf__add_struct(btf, "dup", 8);
	btf__add_field(btf, "second", i_int, 32, 0);

	raw = btf__raw_data(btf, &out.size);
	out.data = malloc(out.size);
	memcpy(out.data, raw, out.size);
	btf__free(btf);
	return out;
}

TEST(offsets_sizes_and_paths)
{
	struct blob bl = build_btf();
	struct gears_kbtf *b = gears_kbtf__new(bl.data, bl.size);

	CHECK(b);
	if (!b) {
		fprintf(stderr, "  %s\n", gears_last_error());
		return;
	}
	CHECK(gears_kbtf__type_count(b) > 20);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "pid"), 0);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "x"), 4);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "y"), 4);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "in"), 8);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "in.b"), 12);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "deep_a"), 16);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "deep_u"), 20);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "tasks"), 32);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "tasks.prev"), 40);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "ti.b"), 52);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "ci.a"), 56);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "comm"), 64);
	CHECK_EQ(gears_kbtf__offsetof(b, "task_t", "comm"), 64);
	CHECK_EQ(gears_kbtf__offsetof(b, "my_inner_t", "b"), 4);

	CHECK_EQ(gears_kbtf__sizeof(b, "task"), 80);
	CHECK_EQ(gears_kbtf__sizeof(b, "task_t"), 80);
	CHECK_EQ(gears_kbtf__sizeof(b, "list_head"), 16);
	CHECK_EQ(gears_kbtf__sizeof(b, "int"), 4);
	CHECK_EQ(gears_kbtf__sizeof(b, "char"), 1);
	CHECK_EQ(gears_kbtf__sizeof(b, "my_inner_t"), 8);
	CHECK_EQ(gears_kbtf__sizeof(b, "dup"), 4);	/* the first of two */

	CHECK_EQ(gears_kbtf__member_size(b, "task", "comm"), 16);
	CHECK_EQ(gears_kbtf__member_size(b, "task", "tasks"), 16);
	CHECK_EQ(gears_kbtf__member_size(b, "task", "tasks.next"), 8);
	CHECK_EQ(gears_kbtf__member_size(b, "task", "in.a"), 4);
	CHECK_EQ(gears_kbtf__member_size(b, "task", "ti"), 8);
	CHECK_EQ(gears_kbtf__member_size(b, "task", "x"), 4);
	gears_kbtf__free(b);
	free(bl.data);
}

TEST(errors)
{
	struct blob bl = build_btf();
	struct gears_kbtf *b = gears_kbtf__new(bl.data, bl.size);
	uint64_t t0;

	CHECK(b);
	if (!b)
		return;
	/* bitfields, new (kflag) and old (int bits) style */
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "flags"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "more"), -EINVAL);
	CHECK_EQ(gears_kbtf__member_size(b, "task", "flags"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "oldbf", "bits"), -EINVAL);
	/* missing things */
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "nope"), -ENOENT);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "in.c"), -ENOENT);
	CHECK_EQ(gears_kbtf__offsetof(b, "nosuch", "pid"), -ENOENT);
	CHECK_EQ(gears_kbtf__offsetof(b, "int", "pid"), -ENOENT);
	CHECK_EQ(gears_kbtf__sizeof(b, "nosuch"), -ENOENT);
	CHECK(strstr(gears_last_error(), "nosuch"));
	/* paths through non-structs and malformed paths */
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "pid.x"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "tasks.next.next"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", ""), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", ".pid"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "in."), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", "in..a"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "task", NULL), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(NULL, "task", "pid"), -EINVAL);
	CHECK_EQ(gears_kbtf__sizeof(NULL, "task"), -EINVAL);
	/* hostile shapes end quickly */
	t0 = now_ns();
	CHECK_EQ(gears_kbtf__offsetof(b, "self", "nothing"), -EINVAL);
	CHECK_EQ(gears_kbtf__offsetof(b, "fan", "nothing"), -EINVAL);
	CHECK(now_ns() - t0 < 2000000000ull);
	gears_kbtf__free(b);
	gears_kbtf__free(NULL);
	CHECK_EQ(gears_kbtf__type_count(NULL), 0);
	free(bl.data);
}

TEST(garbage_is_rejected)
{
	struct blob bl = build_btf();
	uint8_t junk[4096];
	uint32_t seed = 1;

	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (uint8_t)(seed >> 16);
	}
	errno = 0;
	CHECK(!gears_kbtf__new(junk, sizeof(junk)));
	CHECK_EQ(errno, EBADMSG);
	CHECK(!gears_kbtf__new(junk, 0));
	CHECK_EQ(errno, EINVAL);
	CHECK(!gears_kbtf__new(NULL, 10));
	CHECK_EQ(errno, EINVAL);
	/* the size is checked before anything is read */
	CHECK(!gears_kbtf__new(junk, (size_t)GEARS_KBTF_MAX_SIZE + 1));
	CHECK_EQ(errno, E2BIG);
	/* truncations of a valid blob */
	for (uint32_t len = 1; len < bl.size; len += 7)
		CHECK(!gears_kbtf__new(bl.data, len));
	free(bl.data);
}

/* A valid blob with its type section moved one byte: libbpf 1.1 takes it, and
 * would then read every type unaligned (found by fuzz_kbtf under UBSan). */
TEST(misaligned_type_section_is_rejected)
{
	struct blob bl = build_btf();
	struct btf_header h;
	uint8_t *moved = calloc(1, bl.size + 1);

	CHECK(moved);
	if (!moved)
		return;
	memcpy(&h, bl.data, sizeof(h));
	memcpy(moved, bl.data, h.hdr_len);
	memcpy(moved + h.hdr_len + 1, (uint8_t *)bl.data + h.hdr_len, bl.size - h.hdr_len);
	h.type_off += 1;
	h.str_off += 1;
	memcpy(moved, &h, sizeof(h));
	errno = 0;
	CHECK(!gears_kbtf__new(moved, bl.size + 1));
	CHECK_EQ(errno, EBADMSG);
	CHECK(strstr(gears_last_error(), "aligned"));
	/* the same bytes, aligned again, are fine */
	{
		struct gears_kbtf *b = gears_kbtf__new(bl.data, bl.size);

		CHECK(b);
		gears_kbtf__free(b);
	}
	free(moved);
	free(bl.data);
}

TEST(bit_flips_never_crash)
{
	struct blob bl = build_btf();
	uint8_t *copy = malloc(bl.size);
	uint32_t seed = 99;
	int parsed = 0;

	for (int iter = 0; iter < 3000; iter++) {
		struct gears_kbtf *b;

		memcpy(copy, bl.data, bl.size);
		for (int k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 8) % bl.size] ^= (uint8_t)(1u << (seed % 8));
		}
		b = gears_kbtf__new(copy, bl.size);
		if (!b)
			continue;
		parsed++;
		gears_kbtf__offsetof(b, "task", "tasks.prev");
		gears_kbtf__offsetof(b, "task", "deep_u");
		gears_kbtf__offsetof(b, "fan", "x");
		gears_kbtf__member_size(b, "task", "comm");
		gears_kbtf__sizeof(b, "task_t");
		gears_kbtf__free(b);
	}
	CHECK(parsed > 0);
	free(copy);
	free(bl.data);
}

/* Smoke test on the host kernel's BTF, where it is readable (skipped if not). */
TEST(host_vmlinux_btf)
{
	FILE *f = fopen("/sys/kernel/btf/vmlinux", "rb");
	size_t cap = 64 << 20, len;
	struct gears_kbtf *b;
	uint8_t *buf;

	if (!f) {
		printf("skip host_vmlinux_btf: no /sys/kernel/btf/vmlinux\n");
		return;
	}
	buf = malloc(cap);
	len = fread(buf, 1, cap, f);
	fclose(f);
	b = gears_kbtf__new(buf, len);
	CHECK(b);
	if (b) {
		CHECK(gears_kbtf__offsetof(b, "task_struct", "pid") > 0);
		CHECK(gears_kbtf__offsetof(b, "task_struct", "comm") > 0);
		CHECK(gears_kbtf__offsetof(b, "task_struct", "tasks.next") > 0);
		CHECK(gears_kbtf__offsetof(b, "task_struct", "thread.sp") > 0);
		CHECK_EQ(gears_kbtf__member_size(b, "task_struct", "comm"), 16);
		CHECK(gears_kbtf__sizeof(b, "task_struct") > 1000);
		CHECK(gears_kbtf__offsetof(b, "mm_struct", "pgd") >= 0);
		CHECK_EQ(gears_kbtf__offsetof(b, "kuid_t", "val"), 0);
		CHECK(gears_kbtf__offsetof(b, "cred", "uid.val") > 0);
		CHECK_EQ(gears_kbtf__offsetof(b, "list_head", "prev"), 8);
		gears_kbtf__free(b);
	}
	free(buf);
}
