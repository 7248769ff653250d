// SPDX-License-Identifier: MIT
/*
 * Kernel types from the guest kernel's BTF, parsed by libbpf.
 *
 * libbpf 1.1 checks the BTF header, string and type sections but not that the
 * type ids and name offsets inside types are valid (its btf_sanity_check came
 * later), and guest BTF is hostile anyway. So every type id goes through
 * btf__type_by_id() (NULL when out of range), every name through
 * btf__name_by_offset() (NULL when out of range), and every walk has a depth
 * limit and a step budget: cyclic or exponentially nested types end in
 * -EINVAL, never a hang.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include <linux/btf.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#include <gears/kbtf.h>

#define KBTF_MAX_DEPTH	32		/* modifier chains, anonymous nesting */
#define KBTF_MAX_STEPS	(1u << 20)	/* members visited by one query */
#define KBTF_MAX_PATH	256		/* "a.b.c" member paths */

/* A name-index slot: a type id (0 = empty) and its name's hash, so probes
 * compare strings only when the hashes match. */
struct kbtf_slot {
	uint32_t id;
	uint32_t h;
};

struct gears_kbtf {
	struct btf *btf;
	struct kbtf_slot *by_name;	/* named types, open addressing */
	uint32_t mask;
	uint64_t seed;
};

/* libbpf warns on stderr about bad input by default; guest BTF is input. */
__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[256];
	size_t n;

	if (gears_log_level() < GEARS_LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	pr_debug("%s", buf);	/* libbpf prefixes its own "libbpf: " */
	return 0;
}

static pthread_once_t print_once = PTHREAD_ONCE_INIT;

/* Note: libbpf's print hook is process-wide; ours routes to gears' debug log. */
static void install_print(void)
{
	libbpf_set_print(libbpf_print);
}

static const char *type_name(const struct btf *btf, const struct btf_type *t)
{
	const char *s = btf__name_by_offset(btf, t->name_off);

	return s ? s : "";
}

static bool same_type(const struct btf *btf, uint32_t a, uint32_t b)
{
	const struct btf_type *ta = btf__type_by_id(btf, a), *tb = btf__type_by_id(btf, b);

	return ta && tb && btf_kind(ta) == btf_kind(tb) &&
	       !strcmp(type_name(btf, ta), type_name(btf, tb));
}

/*
 * btf__find_by_name_kind() scans every type (~100k in vmlinux) per call;
 * callers ask for a few dozen names, so index the names once. The index keeps
 * the first (lowest) id of each (name, kind), like btf__find_by_name_kind()
 * finds; dropping later duplicates also keeps probe chains short when hostile
 * BTF repeats one name many times.
 */
static int index_names(struct gears_kbtf *b)
{
	uint32_t n = btf__type_cnt(b->btf), id;
	size_t cap = 2;

	while (cap < (size_t)n * 2)
		cap <<= 1;
	b->by_name = gears_calloc(cap, sizeof(*b->by_name));
	if (!b->by_name)
		return -ENOMEM;
	b->mask = (uint32_t)(cap - 1);
	/* A per-object seed: guest-chosen names cannot be made to collide. */
	b->seed = gears_now_ns() ^ (uintptr_t)b;
	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);
		const char *name = t ? type_name(b->btf, t) : "";
		uint64_t h;
		uint32_t pos;

		if (!*name)
			continue;
		h = gears_hash_str(name, b->seed);
		for (pos = (uint32_t)h & b->mask; b->by_name[pos].id; pos = (pos + 1) & b->mask) {
			if (b->by_name[pos].h == (uint32_t)(h >> 32) &&
			    same_type(b->btf, b->by_name[pos].id, id))
				break;
		}
		if (!b->by_name[pos].id) {
			b->by_name[pos].id = id;
			b->by_name[pos].h = (uint32_t)(h >> 32);
		}
	}
	return 0;
}

/* Lowest id of a type named `name` of kind `kind` (-1: any kind), or 0. */
static uint32_t find_type(const struct gears_kbtf *b, const char *name, int kind)
{
	uint64_t h = gears_hash_str(name, b->seed);
	uint32_t pos, best = 0;

	for (pos = (uint32_t)h & b->mask; b->by_name[pos].id; pos = (pos + 1) & b->mask) {
		uint32_t id = b->by_name[pos].id;
		const struct btf_type *t;

		if (b->by_name[pos].h != (uint32_t)(h >> 32))
			continue;
		t = btf__type_by_id(b->btf, id);
		if (!t || (kind >= 0 && btf_kind(t) != kind) || strcmp(type_name(b->btf, t), name))
			continue;
		if (!best || id < best)
			best = id;
	}
	return best;
}

/* Follow typedef/const/volatile/restrict/type_tag to the real type. */
static const struct btf_type *skip_mods(const struct btf *btf, uint32_t id, uint32_t *res_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	int depth;

	for (depth = 0; t && depth < KBTF_MAX_DEPTH; depth++) {
		if (!btf_is_mod(t) && !btf_is_typedef(t)) {
			if (res_id)
				*res_id = id;
			return t;
		}
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	return NULL;
}

struct gears_kbtf *gears_kbtf__new(const void *data, size_t size)
{
	struct gears_kbtf *b;
	int err;

	if (!data || !size)
		return gears_err_ptr(EINVAL, "BTF: no data");
	if (size > GEARS_KBTF_MAX_SIZE)
		return gears_err_ptr(E2BIG, "BTF: %zu bytes, more than the %u accepted",
				     size, GEARS_KBTF_MAX_SIZE);
	if (size >= sizeof(struct btf_header)) {
		struct btf_header h;

		/* libbpf 1.1 takes a type section at any offset and then reads
		 * its 4-byte fields unaligned; the kernel only writes aligned
		 * ones, so anything else is not a kernel's BTF. (The copy: the
		 * guest's bytes may be anywhere.) */
		memcpy(&h, data, sizeof(h));
		if (h.magic != BTF_MAGIC)
			return gears_err_ptr(EBADMSG, "BTF: bad magic 0x%04x (or not in the host's byte order)",
					     h.magic);
		if (h.hdr_len % 4 || h.type_off % 4)
			return gears_err_ptr(EBADMSG, "BTF: type section not 4-byte aligned");
	}
	pthread_once(&print_once, install_print);
	b = gears_calloc(1, sizeof(*b));
	if (!b)
		return gears_err_ptr(ENOMEM, "BTF: out of memory");
	/* libbpf >= 1.0 returns NULL and sets errno on failure. */
	errno = 0;
	b->btf = btf__new(data, (__u32)size);
	if (!b->btf) {
		err = errno;
		free(b);
		if (err == ENOMEM)
			return gears_err_ptr(ENOMEM, "BTF: out of memory");
		return gears_err_ptr(EBADMSG, "BTF: %zu bytes rejected by libbpf (%s)",
				     size, strerror(err ? err : EINVAL));
	}
	if (index_names(b)) {
		gears_kbtf__free(b);
		return gears_err_ptr(ENOMEM, "BTF: out of memory");
	}
	return b;
}

void gears_kbtf__free(struct gears_kbtf *b)
{
	if (!b)
		return;
	btf__free(b->btf);
	free(b->by_name);
	free(b);
}

unsigned gears_kbtf__type_count(const struct gears_kbtf *b)
{
	return b ? btf__type_cnt(b->btf) : 0;
}

/* A struct/union found by name, directly or through a typedef. */
static const struct btf_type *find_composite(const struct gears_kbtf *b, const char *name)
{
	uint32_t id = find_type(b, name, BTF_KIND_STRUCT);
	const struct btf_type *t;

	if (!id)
		id = find_type(b, name, BTF_KIND_UNION);
	if (!id)
		id = find_type(b, name, BTF_KIND_TYPEDEF);
	if (!id)
		return NULL;
	t = skip_mods(b->btf, id, NULL);
	return t && btf_is_composite(t) ? t : NULL;
}

struct member_hit {
	uint64_t bit_off;
	uint32_t type_id;
	bool bitfield;
};

/* Old-style (kflag = 0) bitfields are ints with fewer bits than their size. */
static bool int_bitfield(const struct btf *btf, uint32_t type_id)
{
	const struct btf_type *t = skip_mods(btf, type_id, NULL);

	return t && btf_is_int(t) && (btf_int_offset(t) || btf_int_bits(t) != t->size * 8);
}

/*
 * Find member `name` of composite t, looking inside anonymous struct/union
 * members as C does. Returns 0, -ENOENT, or -EINVAL when the type is too deep
 * or too big to search (hostile BTF).
 */
static int find_member(const struct btf *btf, const struct btf_type *t, const char *name,
		       int depth, uint32_t *budget, struct member_hit *hit)
{
	const struct btf_member *m = btf_members(t);
	uint16_t i, vlen = btf_vlen(t);

	if (depth > KBTF_MAX_DEPTH)
		return -EINVAL;
	for (i = 0; i < vlen; i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		const struct btf_type *mt;
		int err;

		if (!(*budget)--)
			return -EINVAL;
		if (mname && *mname) {
			if (strcmp(mname, name))
				continue;
			hit->bit_off = btf_member_bit_offset(t, i);
			hit->type_id = m->type;
			hit->bitfield = btf_member_bitfield_size(t, i) || int_bitfield(btf, m->type);
			return 0;
		}
		mt = skip_mods(btf, m->type, NULL);
		if (!mt || !btf_is_composite(mt))
			continue;
		err = find_member(btf, mt, name, depth + 1, budget, hit);
		if (err != -ENOENT) {
			if (!err)
				hit->bit_off += btf_member_bit_offset(t, i);
			return err;
		}
	}
	return -ENOENT;
}

/* Resolve the dotted path `member` in `type`: byte offset and member type. */
static long resolve_path(const struct gears_kbtf *b, const char *type, const char *member,
			 uint32_t *member_type)
{
	char path[KBTF_MAX_PATH], *comp, *save = NULL;
	const struct btf_type *t;
	uint32_t budget = KBTF_MAX_STEPS;
	uint64_t off = 0;
	struct member_hit hit = { 0 };
	int err;

	if (!b || !type || !member)
		return gears_err(EINVAL, "BTF: missing argument");
	if (strlen(member) >= sizeof(path) || !*member || member[0] == '.' ||
	    member[strlen(member) - 1] == '.' || strstr(member, ".."))
		return gears_err(EINVAL, "BTF: bad member path \"%s\"", member);
	t = find_composite(b, type);
	if (!t)
		return gears_err(ENOENT, "BTF: no struct or union %s", type);
	strcpy(path, member);
	for (comp = strtok_r(path, ".", &save); comp; comp = strtok_r(NULL, ".", &save)) {
		if (!t)
			return gears_err(EINVAL, "BTF: %s.%s: goes through a non-struct", type, member);
		err = find_member(b->btf, t, comp, 0, &budget, &hit);
		if (err == -ENOENT)
			return gears_err(ENOENT, "BTF: %s has no member %s", type, member);
		if (err)
			return gears_err(EINVAL, "BTF: %s too deep or too big to search", type);
		if (hit.bitfield || hit.bit_off % 8)
			return gears_err(EINVAL, "BTF: %s.%s is a bitfield", type, member);
		off += hit.bit_off / 8;
		t = skip_mods(b->btf, hit.type_id, NULL);
		if (t && !btf_is_composite(t))
			t = NULL;
	}
	*member_type = hit.type_id;
	return (long)off;
}

long gears_kbtf__offsetof(const struct gears_kbtf *b, const char *type, const char *member)
{
	uint32_t id;

	return resolve_path(b, type, member, &id);
}

long gears_kbtf__member_size(const struct gears_kbtf *b, const char *type, const char *member)
{
	uint32_t id;
	long off = resolve_path(b, type, member, &id);
	__s64 sz;

	if (off < 0)
		return off;
	sz = btf__resolve_size(b->btf, id);
	if (sz < 0)
		return gears_err(EINVAL, "BTF: size of %s.%s unresolvable", type, member);
	return (long)sz;
}

long gears_kbtf__sizeof(const struct gears_kbtf *b, const char *type)
{
	static const int kinds[] = {
		BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_TYPEDEF, BTF_KIND_INT,
		BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT, -1,
	};
	uint32_t id = 0;
	size_t i;
	__s64 sz;

	if (!b || !type)
		return gears_err(EINVAL, "BTF: missing argument");
	for (i = 0; i < ARRAY_SIZE(kinds) && !id; i++)
		id = find_type(b, type, kinds[i]);
	if (!id)
		return gears_err(ENOENT, "BTF: no type %s", type);
	sz = btf__resolve_size(b->btf, id);
	if (sz < 0)
		return gears_err(EINVAL, "BTF: size of %s unresolvable", type);
	return (long)sz;
}
