// SPDX-License-Identifier: MIT
/*
 * Kernel symbols from the guest's kallsyms tables.
 *
 * scripts/kallsyms emits, each table 8-aligned:
 *   layout A (<= 6.1):  offsets, relative_base, num_syms, names, markers,
 *                       token_table, token_index
 *   layout B (6.1.y-6.3): as A with seqs_of_names between markers and token_table
 *   layout C (>= 6.4):  num_syms, names, markers, token_table, token_index,
 *                       offsets, relative_base, seqs_of_names
 * The finder anchors on the token table (whose digit tokens are the strings
 * "0".."9" in a row), proves it with token_index, then looks backwards for a
 * num_syms whose names stream ends exactly where the markers array must start
 * and agrees with every marker. Only after that are offsets and relative_base
 * located and checked. Everything read comes from hostile guest memory: every
 * index is bounds-checked against the buffer and every loop is bounded.
 *
 * The guest can rewrite its memory while we read it, so the live image is only
 * searched: a candidate found there gives the extent of its tables, which are
 * then copied into host memory in one read and found, verified and decoded
 * again from that copy alone. What the result holds is therefore what one read
 * saw and checked, never bytes fetched a second time after they were checked.
 */
#include <endian.h>
#include <stdint.h>

#include "internal.h"

#include <gears/ksyms.h>

#define KS_NTOK		256
#define KS_DIGIT0	'0'
#define KS_MAX_TOKLEN	255		/* real tokens are < 40 chars */
#define KS_MAX_NAME	1024		/* type letter + name; KSYM_NAME_LEN is 512 */
#define KS_WINDOW	(64u << 20)	/* num_syms lies at most this far before the token table */
#define KS_CHUNK	(64u << 10)	/* memmem haystack per call */
#define KS_MAX_TABLES	16		/* verified token tables tried per buffer */
#define KS_MAX_ARENA	(64u << 20)	/* decoded names, all symbols (6.1: 2.5 MiB) */
/*
 * Work allowed per buffer beyond the memmem scan, in units of roughly one
 * byte or field examined. Debian 6.1 (87k symbols) needs about 2M; memory
 * full of crafted near-miss candidates stops here instead of taking minutes.
 */
#define KS_BUDGET	(64u << 20)
#define KS_KERNEL_MIN	0xffffffff80000000ull

/* The digit tokens "0\0" "1\0" ... "9\0" (sizeof includes the final NUL). */
static const char digit_sig[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";

/* A name-index slot: symbol index + 1 (0 = empty) and the name's hash, so
 * probes compare strings only when the hashes match. */
struct ks_slot {
	uint32_t idx1;
	uint32_t h;
};

struct gears_ksyms {
	uint32_t n;
	uint64_t *addr;		/* [n], table order */
	uint32_t *name_off;	/* [n], into arena */
	char *type;		/* [n] */
	char *arena;		/* NUL-terminated names */
	struct ks_slot *hash;	/* name index, open addressing */
	uint32_t hash_mask;
	uint64_t seed;
	uint32_t *by_addr;	/* indices of non-per-CPU symbols, ascending address */
	uint32_t n_by_addr;
	uint64_t table_gpa;
};

/* The buffer being scanned. Offsets are relative to p; alignment is by gpa. */
struct ks_buf {
	const uint8_t *p;
	size_t len;
	uint64_t gpa;
	size_t budget;		/* see KS_BUDGET */
};

/* A token table proven by its index. */
struct ks_tokens {
	size_t start;			/* kallsyms_token_table */
	size_t index;			/* kallsyms_token_index */
	const char *tok[KS_NTOK];
	uint16_t len[KS_NTOK];
};

/* Where the other tables are, once found. */
struct ks_layout {
	size_t num_syms;
	size_t names;
	size_t markers;
	uint32_t n;
	unsigned int msz;		/* 4 or 8: sizeof a marker */
	bool seqs;			/* seqs_of_names between markers and token table */
	size_t offsets;
	size_t rb;			/* where relative_base is */
	uint64_t relative_base;
	bool abs_percpu;
	size_t arena_len;		/* bytes needed for all names (without type letters) */
};

static uint16_t ld16(const struct ks_buf *b, size_t off)
{
	uint16_t v;

	memcpy(&v, b->p + off, sizeof(v));
	return le16toh(v);
}

static uint32_t ld32(const struct ks_buf *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b->p + off, sizeof(v));
	return le32toh(v);
}

static uint64_t ld64(const struct ks_buf *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b->p + off, sizeof(v));
	return le64toh(v);
}

/* Spend `n` units of the work budget; false once it is gone. */
static bool charge(struct ks_buf *b, size_t n)
{
	if (n > b->budget) {
		b->budget = 0;
		return false;
	}
	b->budget -= n;
	return true;
}

/* Is [off, off+n) inside the buffer? */
static bool in_buf(const struct ks_buf *b, size_t off, size_t n)
{
	return off <= b->len && n <= b->len - off;
}

static bool aligned8(const struct ks_buf *b, size_t off)
{
	return ((b->gpa + off) & 7) == 0;
}

/* Round a buffer offset up so its gpa is 8-aligned. */
static size_t align8(const struct ks_buf *b, size_t off)
{
	size_t mis = b->gpa & 7;

	return ((off + mis + 7) & ~(size_t)7) - mis;
}

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * Length of the NUL-terminated token at `off`, or more than KS_MAX_TOKLEN if
 * it is longer or runs off the buffer. Tokens are short: a loop is cheaper
 * than a memchr call per token.
 */
static size_t token_len(const struct ks_buf *b, size_t off)
{
	size_t max = GEARS_MIN(b->len - off, (size_t)KS_MAX_TOKLEN + 1);
	size_t n;

	for (n = 0; n < max; n++)
		if (!b->p[off + n])
			return n;
	return KS_MAX_TOKLEN + 1;
}

/*
 * `at` holds the digit tokens. Walk forward over tokens '0'..255 to the end of
 * the table, read token_index at the next 8-aligned offset, derive the table
 * start from index['0'] and check that the index describes every string
 * exactly. Digit runs in fonts or other tables fail here.
 */
static bool tokens_verify(struct ks_buf *b, size_t at, struct ks_tokens *t)
{
	size_t end = at, start;
	uint16_t idx[KS_NTOK];
	int i;

	for (i = KS_DIGIT0; i < KS_NTOK; i++) {
		size_t len = token_len(b, end);

		if (len > KS_MAX_TOKLEN || !charge(b, len + 1))
			return false;
		end += len + 1;
	}
	t->index = align8(b, end);
	if (!in_buf(b, t->index, sizeof(idx)) || !charge(b, KS_NTOK))
		return false;
	for (i = 0; i < KS_NTOK; i++)
		idx[i] = ld16(b, t->index + 2 * i);
	if (idx[0] != 0 || idx[KS_DIGIT0] > at)
		return false;
	start = at - idx[KS_DIGIT0];
	if (!aligned8(b, start))
		return false;
	for (i = 0; i < KS_NTOK; i++) {
		size_t next = i + 1 < KS_NTOK ? idx[i + 1] : end - start;
		size_t len;

		if (next <= idx[i] || start + next > end)
			return false;
		len = next - idx[i] - 1;
		if (len > KS_MAX_TOKLEN || token_len(b, start + idx[i]) != len)
			return false;
		t->tok[i] = (const char *)b->p + start + idx[i];
		t->len[i] = (uint16_t)len;
	}
	t->start = start;
	return true;
}

static uint64_t marker(const struct ks_buf *b, const struct ks_layout *lo, uint32_t j)
{
	size_t off = lo->markers + (size_t)j * lo->msz;

	return lo->msz == 8 ? ld64(b, off) : ld32(b, off);
}

/*
 * Given num_syms at `pos` and a guess at the layout (seqs or not, marker size),
 * the markers array's position follows from the token table's. Check what is
 * cheap to check there before parsing any names.
 */
static bool markers_plausible(struct ks_buf *b, const struct ks_tokens *t,
			      struct ks_layout *lo)
{
	size_t nm = ((size_t)lo->n + 255) / 256;
	size_t end = t->start, names_max;
	uint64_t prev = 0;
	size_t j;

	if (lo->seqs) {
		if (end < round8((size_t)lo->n * 3))
			return false;
		end -= round8((size_t)lo->n * 3);
	}
	if (end < round8(nm * lo->msz))
		return false;
	lo->markers = end - round8(nm * lo->msz);
	lo->names = lo->num_syms + 8;
	/* Each entry is at least a length byte and a type letter. */
	if (lo->markers < lo->names || lo->markers - lo->names < (size_t)lo->n * 2)
		return false;
	names_max = lo->markers - lo->names;
	if (marker(b, lo, 0) != 0)
		return false;
	for (j = 1; j < nm; j++) {
		uint64_t m = marker(b, lo, (uint32_t)j);

		if (!charge(b, 1) || m <= prev || m - prev < 2 * 256 || m >= names_max)
			return false;
		prev = m;
	}
	return true;
}

/* Length of names entry at `off` (within [off, lim)): header bytes and token count. */
static bool entry_header(const struct ks_buf *b, size_t off, size_t lim, size_t *hdr, size_t *ntok)
{
	uint8_t b0;

	if (off >= lim)
		return false;
	b0 = b->p[off];
	if (!(b0 & 0x80)) {
		*hdr = 1;
		*ntok = b0;
	} else {
		if (off + 1 >= lim)
			return false;
		*hdr = 2;
		*ntok = (b0 & 0x7f) | ((size_t)b->p[off + 1] << 7);
	}
	return *ntok > 0 && *ntok <= lim - off - *hdr;
}

/*
 * Parse all names entries: each must decode to a type letter plus a non-empty
 * name, every 256th must start where its marker says, and the stream must end
 * in the padding just before the markers.
 */
static bool names_verify(struct ks_buf *b, const struct ks_tokens *t, struct ks_layout *lo)
{
	size_t off = lo->names, arena = 0;
	uint32_t i;

	for (i = 0; i < lo->n; i++) {
		size_t hdr, ntok, k, dlen = 0;

		if ((i & 255) == 0 && marker(b, lo, i >> 8) != off - lo->names)
			return false;
		if (!entry_header(b, off, lo->markers, &hdr, &ntok) || !charge(b, hdr + ntok))
			return false;
		off += hdr;
		for (k = 0; k < ntok; k++)
			dlen += t->len[b->p[off + k]];
		off += ntok;
		if (dlen < 2 || dlen > KS_MAX_NAME)
			return false;
		arena += dlen;	/* name without the type letter, plus its NUL */
		if (arena > KS_MAX_ARENA)
			return false;
	}
	lo->arena_len = arena;
	return align8(b, off) == lo->markers;
}

/* Scan backwards from the token table for num_syms; fill lo on success. */
static bool find_names(struct ks_buf *b, const struct ks_tokens *t, struct ks_layout *lo)
{
	static const struct { bool seqs; unsigned int msz; } guess[] = {
		{ true, 4 }, { false, 4 }, { false, 8 }, { true, 8 },
	};
	size_t lo_bound = t->start > KS_WINDOW ? t->start - KS_WINDOW : 0;
	size_t pos;

	if (t->start < 16)
		return false;
	/* t->start is 8-aligned, so every pos visited is too. */
	for (pos = t->start - 16;; pos -= 8) {
		uint32_t n = ld32(b, pos);
		size_t g;

		if (!charge(b, 1))
			return false;
		/* .long num_syms, then zero padding up to names' .balign 8 */
		if (n && n <= GEARS_KSYMS_MAX && ld32(b, pos + 4) == 0) {
			for (g = 0; g < ARRAY_SIZE(guess); g++) {
				memset(lo, 0, sizeof(*lo));
				lo->num_syms = pos;
				lo->n = n;
				lo->seqs = guess[g].seqs;
				lo->msz = guess[g].msz;
				if (markers_plausible(b, t, lo) && names_verify(b, t, lo))
					return true;
			}
		}
		if (pos < lo_bound + 8)
			break;
	}
	return false;
}

/* Decode offsets[i]; false if it overflows. *percpu says it is not text/data. */
static bool decode_addr(const struct ks_buf *b, const struct ks_layout *lo, uint32_t i,
			uint64_t *addr, bool *percpu)
{
	int32_t off = (int32_t)ld32(b, lo->offsets + (size_t)i * 4);
	uint64_t delta;

	*percpu = false;
	if (!lo->abs_percpu) {
		delta = (uint32_t)off;
	} else if (off >= 0) {
		*addr = (uint64_t)off;
		*percpu = true;
		return true;
	} else {
		delta = (uint64_t)(-((int64_t)off + 1));
	}
	*addr = lo->relative_base + delta;
	return *addr >= lo->relative_base;
}

/* Check offsets[] at `offsets` and relative_base at `rb`; fill lo on success. */
static bool offsets_verify(struct ks_buf *b, struct ks_layout *lo, size_t offsets, size_t rb)
{
	uint64_t prev = 0, addr;
	bool percpu;
	uint32_t i;

	if (!in_buf(b, offsets, (size_t)lo->n * 4) || !in_buf(b, rb, 8) || !charge(b, lo->n))
		return false;
	lo->offsets = offsets;
	lo->rb = rb;
	lo->relative_base = ld64(b, rb);
	if (lo->relative_base < KS_KERNEL_MIN)
		return false;
	lo->abs_percpu = false;
	for (i = 0; i < lo->n && !lo->abs_percpu; i++)
		lo->abs_percpu = (int32_t)ld32(b, offsets + (size_t)i * 4) < 0;
	/* scripts/kallsyms sorts by address: text and data never go down. */
	for (i = 0; i < lo->n; i++) {
		if (!decode_addr(b, lo, i, &addr, &percpu))
			return false;
		if (percpu)
			continue;
		if (addr < prev)
			return false;
		prev = addr;
	}
	return true;
}

/* offsets + relative_base: before num_syms (A, B) or after token_index (C). */
static bool find_offsets(struct ks_buf *b, const struct ks_tokens *t, struct ks_layout *lo)
{
	size_t tabsz = round8((size_t)lo->n * 4);
	size_t c_off = t->index + KS_NTOK * 2;
	bool ab_ok = lo->num_syms >= 8 + tabsz;

	/* 6.4+ has no seqs before the token table; try its order first there. */
	if (!lo->seqs && offsets_verify(b, lo, c_off, c_off + tabsz))
		return true;
	return ab_ok && offsets_verify(b, lo, lo->num_syms - 8 - tabsz, lo->num_syms - 8);
}

static void ksyms_free(struct gears_ksyms *ks)
{
	if (!ks)
		return;
	free(ks->addr);
	free(ks->name_off);
	free(ks->type);
	free(ks->arena);
	free(ks->hash);
	free(ks->by_addr);
	free(ks);
}

/* The names arena being filled: `cap` bytes plus 8 of slack for put_token. */
struct ks_arena {
	char *p;
	size_t cap, w;
};

/*
 * Append a token, copied 8 bytes at a time; false if it does not fit. The
 * over-read is safe: every token is followed, inside the buffer, by at least
 * token_index's 512 bytes; the over-write stays inside the 8 bytes of slack.
 */
static bool put_token(struct ks_arena *a, const char *src, size_t len)
{
	size_t k;

	if (len > a->cap - a->w)
		return false;
	for (k = 0; k < len; k += 8)
		memcpy(a->p + a->w + k, src + k, 8);
	a->w += len;
	return true;
}

/*
 * Decode every name into the arena. names_verify sized it from these same
 * bytes, so nothing here should fail; still, every entry, loop and write is
 * bounded by the buffer and the arena, so that a decode can never run past
 * either whatever the bytes say.
 */
static bool decode_names(const struct ks_buf *b, const struct ks_tokens *t,
			 const struct ks_layout *lo, struct gears_ksyms *ks)
{
	struct ks_arena a = { .p = ks->arena, .cap = lo->arena_len };
	size_t off = lo->names;
	uint32_t i;

	for (i = 0; i < lo->n; i++) {
		size_t hdr, ntok, k = 0;
		uint8_t c;

		if (!entry_header(b, off, lo->markers, &hdr, &ntok))
			return false;
		off += hdr;
		ks->name_off[i] = (uint32_t)a.w;
		/* The type letter is the first character of the first non-empty token. */
		while (k < ntok && !t->len[b->p[off + k]])
			k++;
		if (k == ntok)
			return false;
		c = b->p[off + k++];
		ks->type[i] = t->tok[c][0];
		if (!put_token(&a, t->tok[c] + 1, t->len[c] - 1u))
			return false;
		for (; k < ntok; k++) {
			c = b->p[off + k];
			if (!put_token(&a, t->tok[c], t->len[c]))
				return false;
		}
		if (a.w == a.cap)
			return false;
		a.p[a.w++] = '\0';
		off += ntok;
	}
	return a.w == a.cap;
}

/*
 * Name index: open addressing, first symbol (in table order) wins. The slot
 * array is bigger than the caches, so hash everything first and prefetch
 * slots a few symbols ahead of their insertion.
 */
static int build_hash(struct gears_ksyms *ks)
{
	uint64_t *hv = gears_calloc(ks->n, sizeof(*hv));
	uint32_t i;

	if (!hv)
		return -ENOMEM;
	for (i = 0; i < ks->n; i++)
		hv[i] = gears_hash_str(ks->arena + ks->name_off[i], ks->seed);
	for (i = 0; i < ks->n; i++) {
		const char *name = ks->arena + ks->name_off[i];
		uint32_t pos = (uint32_t)hv[i] & ks->hash_mask;
		uint32_t hi = (uint32_t)(hv[i] >> 32);

		if (i + 16 < ks->n)
			__builtin_prefetch(&ks->hash[(uint32_t)hv[i + 16] & ks->hash_mask], 1);
		for (;; pos = (pos + 1) & ks->hash_mask) {
			struct ks_slot *e = &ks->hash[pos];

			if (!e->idx1) {
				e->idx1 = i + 1;
				e->h = hi;
				break;
			}
			if (e->h == hi && !strcmp(ks->arena + ks->name_off[e->idx1 - 1], name))
				break;
		}
	}
	free(hv);
	return 0;
}

static struct gears_ksyms *ksyms_build(const struct ks_buf *b, const struct ks_tokens *t,
				       const struct ks_layout *lo)
{
	struct gears_ksyms *ks = gears_calloc(1, sizeof(*ks));
	size_t cap = 2;
	uint32_t i;
	bool percpu;

	if (!ks)
		return gears_err_ptr(ENOMEM, "kallsyms: out of memory");
	while (cap < (size_t)lo->n * 2)
		cap <<= 1;
	ks->n = lo->n;
	ks->addr = gears_calloc(lo->n, sizeof(*ks->addr));
	ks->name_off = gears_calloc(lo->n, sizeof(*ks->name_off));
	ks->type = gears_calloc(lo->n, 1);
	ks->arena = gears_calloc(lo->arena_len + 8, 1);
	ks->hash = gears_calloc(cap, sizeof(*ks->hash));
	ks->by_addr = gears_calloc(lo->n, sizeof(*ks->by_addr));
	if (!ks->addr || !ks->name_off || !ks->type || !ks->arena || !ks->hash || !ks->by_addr) {
		ksyms_free(ks);
		return gears_err_ptr(ENOMEM, "kallsyms: out of memory for %u symbols", lo->n);
	}
	ks->hash_mask = (uint32_t)(cap - 1);
	/* A per-object seed: guest-chosen names cannot be made to collide. */
	ks->seed = gears_now_ns() ^ (uintptr_t)ks;
	ks->table_gpa = b->gpa + t->start;
	if (!decode_names(b, t, lo, ks)) {
		ksyms_free(ks);
		return gears_err_ptr(EBADMSG, "kallsyms names at gpa %#llx do not decode as verified",
				     (unsigned long long)(b->gpa + lo->names));
	}
	for (i = 0; i < lo->n; i++) {
		if (!decode_addr(b, lo, i, &ks->addr[i], &percpu)) {
			ksyms_free(ks);
			return gears_err_ptr(EBADMSG, "kallsyms offset #%u does not decode as verified", i);
		}
		if (!percpu)
			ks->by_addr[ks->n_by_addr++] = i;
	}
	if (build_hash(ks)) {
		ksyms_free(ks);
		return gears_err_ptr(ENOMEM, "kallsyms: out of memory for %u symbols", lo->n);
	}
	return ks;
}

/*
 * Offset of the next digit run at or after `from`, or SIZE_MAX. memmem runs
 * over bounded chunks (overlapping by the pattern length) so that memory full
 * of runs costs no more per hit than a chunk, also under sanitizers that
 * check the whole haystack on every call.
 */
static size_t next_digit_run(const struct ks_buf *b, size_t from)
{
	while (from < b->len && b->len - from >= sizeof(digit_sig)) {
		size_t n = GEARS_MIN(b->len - from, KS_CHUNK + sizeof(digit_sig) - 1);
		const uint8_t *hit = memmem(b->p + from, n, digit_sig, sizeof(digit_sig));

		if (hit)
			return (size_t)(hit - b->p);
		from += KS_CHUNK;
	}
	return SIZE_MAX;
}

/*
 * Where a finder's bytes come from: a host view of guest memory (live, the
 * guest may change it at any time) that is only searched, and how a
 * candidate's tables are copied out of it.
 */
struct ks_src {
	const uint8_t *p;
	size_t len;
	uint64_t gpa;
	const struct gears_mem *m;	/* copy with gears_mem__read; NULL: memcpy from p */
};

enum ks_verdict { KS_NONE, KS_DAMAGED, KS_FOUND };

/* The token table whose digits are at `at`, and the tables that go with it. */
static enum ks_verdict ks_parse(struct ks_buf *b, size_t at, struct ks_tokens *t,
				struct ks_layout *lo, const char **why)
{
	if (!tokens_verify(b, at, t))
		return KS_NONE;
	if (!find_names(b, t, lo)) {
		*why = "no kallsyms_num_syms/names/markers agree with it";
		return KS_DAMAGED;
	}
	if (!find_offsets(b, t, lo)) {
		*why = "kallsyms_offsets/relative_base not found or not sorted";
		return KS_DAMAGED;
	}
	return KS_FOUND;
}

/* Every byte a parse of this layout reads: [*s, *e) of its buffer. */
static void ks_span(const struct ks_tokens *t, const struct ks_layout *lo, size_t *s, size_t *e)
{
	*s = GEARS_MIN(lo->num_syms, lo->offsets);
	*e = GEARS_MAX(t->index + KS_NTOK * 2, lo->offsets + (size_t)lo->n * 4);
	*e = GEARS_MAX(*e, lo->rb + 8);
}

/*
 * Copy the tables located live (at `at`, spanning what `lt`/`llo` say) into
 * host memory with one read, then find, verify and decode them again from the
 * copy alone. NULL with errno EBADMSG and *why if the copy is not a table (the
 * guest changed it between the reads), or ENOMEM.
 */
static struct gears_ksyms *ks_from_copy(const struct ks_src *src, size_t at,
					const struct ks_tokens *lt, const struct ks_layout *llo,
					const char **why)
{
	struct ks_buf c = { .budget = KS_BUDGET };
	struct gears_ksyms *ks = NULL;
	struct ks_tokens t;
	struct ks_layout lo;
	const char *cwhy = NULL;
	uint8_t *copy;
	size_t s, e;

	ks_span(lt, llo, &s, &e);
	copy = malloc(e - s);
	if (!copy)
		return gears_err_ptr(ENOMEM, "kallsyms: no memory to copy 0x%zx bytes of tables", e - s);
	if (src->m && gears_mem__read(src->m, src->gpa + s, copy, e - s)) {
		*why = "its tables could not be copied out of guest RAM";
		goto bad;
	}
	if (!src->m)
		memcpy(copy, src->p + s, e - s);
	c.p = copy;
	c.len = e - s;
	c.gpa = src->gpa + s;
	if (ks_parse(&c, at - s, &t, &lo, &cwhy) != KS_FOUND) {
		*why = "it changed while being read: the copied tables do not verify";
		goto bad;
	}
	ks = ksyms_build(&c, &t, &lo);
	if (ks)
		pr_debug("kallsyms: %u symbols, token table at gpa %#llx, relative_base %#llx%s",
			 lo.n, (unsigned long long)ks->table_gpa,
			 (unsigned long long)lo.relative_base, lo.abs_percpu ? " (absolute per-CPU)" : "");
	else if (errno != ENOMEM)
		*why = "its copied names or offsets do not decode";
	free(copy);
	return ks;
bad:
	free(copy);
	errno = EBADMSG;
	return NULL;
}

static struct gears_ksyms *ks_find(const struct ks_src *src)
{
	struct ks_buf b = { .p = src->p, .len = src->len, .gpa = src->gpa, .budget = KS_BUDGET };
	struct gears_ksyms *ks;
	struct ks_tokens t;
	struct ks_layout lo;
	const char *why = NULL;
	uint64_t why_gpa = 0;
	size_t from = 0;
	int tables = 0;

	if (!src->p && src->len)
		return gears_err_ptr(EINVAL, "kallsyms: no buffer");
	while (tables < KS_MAX_TABLES && b.budget) {
		size_t at = next_digit_run(&b, from);
		enum ks_verdict v;

		if (at == SIZE_MAX)
			break;
		from = at + 1;
		v = ks_parse(&b, at, &t, &lo, &why);
		if (v == KS_NONE)
			continue;
		tables++;
		why_gpa = src->gpa + t.start;
		if (v == KS_DAMAGED)
			continue;
		ks = ks_from_copy(src, at, &t, &lo, &why);
		if (ks || errno == ENOMEM)
			return ks;
	}
	if (!b.budget)
		return gears_err_ptr(tables ? EBADMSG : ENOENT,
				     "kallsyms: gave up after too many near-miss candidates in %zu bytes at gpa %#llx",
				     src->len, (unsigned long long)src->gpa);
	if (why)
		return gears_err_ptr(EBADMSG, "kallsyms token table at gpa %#llx: %s",
				     (unsigned long long)why_gpa, why);
	return gears_err_ptr(ENOENT, "no kallsyms token table in %zu bytes at gpa %#llx",
			     src->len, (unsigned long long)src->gpa);
}

struct gears_ksyms *gears_ksyms__find(const void *image, size_t len, uint64_t image_gpa)
{
	struct ks_src src = { .p = image, .len = len, .gpa = image_gpa };

	return ks_find(&src);
}

struct gears_ksyms *ksyms_find_mem(const struct gears_mem *m, const void *p, size_t len, uint64_t gpa)
{
	struct ks_src src = { .p = p, .len = len, .gpa = gpa, .m = m };

	return ks_find(&src);
}

struct find_ctx {
	const struct gears_mem *m;
	struct gears_ksyms *ks;
	int err;
	char why[256];
};

static int find_range(uint64_t gpa, const void *p, uint64_t len, void *ctx)
{
	struct find_ctx *c = ctx;

	c->ks = ksyms_find_mem(c->m, p, (size_t)len, gpa);
	if (c->ks)
		return 1;
	if (errno == ENOMEM)
		return -ENOMEM;
	/* A damaged table says more than "nothing here" from other ranges. */
	if (errno == EBADMSG || !c->err) {
		c->err = errno;
		snprintf(c->why, sizeof(c->why), "%s", gears_last_error());
	}
	return 0;
}

struct gears_ksyms *gears_ksyms__find_in_mem(const struct gears_mem *m)
{
	struct find_ctx c = { .m = m };
	int ret;

	if (!m)
		return gears_err_ptr(EINVAL, "kallsyms: no guest memory");
	ret = gears_mem__for_each_range(m, find_range, &c);
	if (c.ks)
		return c.ks;
	if (ret < 0)
		return gears_err_ptr(-ret, "kallsyms: scanning guest RAM failed");
	if (!c.err)
		return gears_err_ptr(ENOENT, "no kallsyms in guest RAM");
	return gears_err_ptr(c.err, "%s", c.why);
}

void gears_ksyms__free(struct gears_ksyms *ks)
{
	ksyms_free(ks);
}

size_t gears_ksyms__count(const struct gears_ksyms *ks)
{
	return ks ? ks->n : 0;
}

int gears_ksyms__lookup(const struct gears_ksyms *ks, const char *name, uint64_t *addr)
{
	uint64_t h;
	uint32_t pos;

	if (!ks || !name)
		return gears_err(EINVAL, "kallsyms lookup: no table or name");
	h = gears_hash_str(name, ks->seed);
	/* Load factor <= 1/2, so an empty slot ends every probe. */
	for (pos = (uint32_t)h & ks->hash_mask;; pos = (pos + 1) & ks->hash_mask) {
		const struct ks_slot *e = &ks->hash[pos];

		if (!e->idx1)
			return gears_err(ENOENT, "kernel symbol %s not found", name);
		if (e->h == (uint32_t)(h >> 32) &&
		    !strcmp(ks->arena + ks->name_off[e->idx1 - 1], name)) {
			if (addr)
				*addr = ks->addr[e->idx1 - 1];
			return 0;
		}
	}
}

int gears_ksyms__get(const struct gears_ksyms *ks, size_t i, const char **name,
		     uint64_t *addr, char *type)
{
	if (!ks || i >= ks->n)
		return gears_err(ERANGE, "kallsyms: no symbol #%zu", i);
	if (name)
		*name = ks->arena + ks->name_off[i];
	if (addr)
		*addr = ks->addr[i];
	if (type)
		*type = ks->type[i];
	return 0;
}

/* First position in by_addr whose address is > addr (or >= addr if !incl). */
static uint32_t bound(const struct gears_ksyms *ks, uint64_t addr, bool incl)
{
	uint32_t lo = 0, hi = ks->n_by_addr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t a = ks->addr[ks->by_addr[mid]];

		if (a < addr || (incl && a == addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *gears_ksyms__symbolize(const struct gears_ksyms *ks, uint64_t addr, uint64_t *off)
{
	uint32_t pos;
	uint64_t base;

	if (!ks)
		return gears_err_ptr(EINVAL, "kallsyms: no table");
	pos = bound(ks, addr, true);
	if (!pos)
		return gears_err_ptr(ENOENT, "no kernel symbol at or below %#llx",
				     (unsigned long long)addr);
	base = ks->addr[ks->by_addr[pos - 1]];
	/* Of several aliases, report the first, as the kernel does. */
	pos = bound(ks, base, false);
	if (off)
		*off = addr - base;
	return ks->arena + ks->name_off[ks->by_addr[pos]];
}

uint64_t gears_ksyms__table_gpa(const struct gears_ksyms *ks)
{
	return ks ? ks->table_gpa : 0;
}
