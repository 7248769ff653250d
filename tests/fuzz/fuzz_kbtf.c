// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the BTF wrapper: the input is raw BTF as a hostile
 * guest could leave it in memory. When it parses, query offsets for a few
 * fixed names and for the members (and members of members) of the first
 * structs, whose names a second, plain libbpf parse supplies. Answers must be
 * an offset or -ENOENT/-EINVAL, and every query must end (cyclic or deeply
 * nested types included).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/btf.h>

#include <gears/gears.h>

#define MAX_TYPES	32
#define MAX_MEMBERS	16

static void check(long v)
{
	if (v < 0 && v != -ENOENT && v != -EINVAL)
		abort();
}

static const char *name_of(const struct btf *btf, uint32_t off)
{
	const char *s = btf__name_by_offset(btf, off);

	return s ? s : "";
}

/* Query "type.member" and "type.member.sub" for the first members of t. */
static void query_members(const struct gears_kbtf *b, const struct btf *btf,
			  const char *tname, const struct btf_type *t)
{
	const struct btf_member *m = btf_members(t);
	char path[512];

	for (int i = 0; i < btf_vlen(t) && i < MAX_MEMBERS; i++, m++) {
		const char *mname = name_of(btf, m->name_off);
		const struct btf_type *mt = btf__type_by_id(btf, m->type);

		check(gears_kbtf__offsetof(b, tname, mname));
		check(gears_kbtf__member_size(b, tname, mname));
		if (!mt || !btf_is_composite(mt) || !btf_vlen(mt))
			continue;
		snprintf(path, sizeof(path), "%s.%s", mname,
			 name_of(btf, btf_members(mt)->name_off));
		check(gears_kbtf__offsetof(b, tname, path));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct gears_kbtf *b;
	struct btf *btf;
	uint32_t n, seen = 0;

	if (!quiet) {
		gears_set_log_level(GEARS_LOG_ERROR);
		quiet = true;
	}
	b = gears_kbtf__new(data, size);
	if (!b) {
		if (errno != EBADMSG && errno != EINVAL && errno != ENOMEM)
			abort();
		return 0;
	}
	check(gears_kbtf__offsetof(b, "task", "pid"));
	check(gears_kbtf__offsetof(b, "task", "tasks.prev"));
	check(gears_kbtf__offsetof(b, "task_struct", "comm"));
	check(gears_kbtf__sizeof(b, "task"));
	gears_kbtf__sizeof(b, "int");
	btf = btf__new(data, (uint32_t)size);
	if (!btf)
		abort();	/* gears accepted what libbpf rejects? */
	n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n && seen < MAX_TYPES; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *tname;

		if (!t || !btf_is_composite(t))
			continue;
		tname = name_of(btf, t->name_off);
		if (!*tname)
			continue;
		seen++;
		gears_kbtf__sizeof(b, tname);
		query_members(b, btf, tname, t);
	}
	btf__free(btf);
	gears_kbtf__free(b);
	return 0;
}
