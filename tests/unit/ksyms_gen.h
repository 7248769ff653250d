/* SPDX-License-Identifier: MIT */
/*
 * Synthetic kallsyms tables for tests and fuzzing: the same tables
 * scripts/kallsyms emits (token table, compressed names, markers, offsets,
 * relative_base, optional seqs_of_names) in layout A (<= 6.1), B (6.1.y-6.3)
 * or C (>= 6.4), with u32 or u64 markers and absolute-per-CPU or plain
 * relative addresses. The compression is simpler than the kernel's (a fixed
 * list of multi-character tokens, matched greedily) but the format is the same,
 * including unused (empty) tokens, code 0 used as a token and 2-byte lengths.
 */
#ifndef GEARS_KSYMS_GEN_H
#define GEARS_KSYMS_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ksgen_sym {
	const char *name;	/* without the type letter */
	char type;
	uint64_t addr;		/* runtime address, or per-CPU offset */
	bool percpu;		/* encoded as an absolute value (abs_percpu only) */
};

enum ksgen_layout { KSGEN_A, KSGEN_B, KSGEN_C };

struct ksgen_opts {
	enum ksgen_layout layout;
	bool markers64;
	bool abs_percpu;
	uint64_t relative_base;
	uint64_t buf_gpa;	/* gpa of buf[0]: tables are 8-aligned by gpa */
};

/* Where each table landed (offsets into buf). */
struct ksgen_where {
	size_t offsets, relative_base, num_syms, names, markers, seqs;
	size_t token_table, token_index, end;
};

/* Multi-character tokens given to codes that no symbol uses. */
static const char *const ksgen_multi[] = {
	"sym_", "_fn", "__", "init", "task", "lock", "per_cpu", "sys", "do_",
	"_t", "ab", "xyz", "long_", "dup",
};

struct ksgen {
	uint8_t *buf;
	size_t cap, off;
	bool overflow;
	const struct ksgen_opts *o;
	char tok[256][16];
	uint8_t tlen[256];
};

static inline void ksgen_put(struct ksgen *g, const void *p, size_t n)
{
	if (g->overflow || n > g->cap - g->off) {
		g->overflow = true;
		return;
	}
	memcpy(g->buf + g->off, p, n);
	g->off += n;
}

static inline void ksgen_le(struct ksgen *g, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	ksgen_put(g, b, n);
}

/* .balign 8, by gpa, zero-filled as the assembler does. */
static inline void ksgen_align(struct ksgen *g)
{
	static const uint8_t zero[8];
	size_t mis = g->o->buf_gpa & 7;
	size_t to = ((g->off + mis + 7) & ~(size_t)7) - mis;

	ksgen_put(g, zero, to - g->off);
}

static inline void ksgen_tokens(struct ksgen *g, const struct ksgen_sym *syms, uint32_t n)
{
	bool used[256] = { false };
	size_t m = 0;

	for (uint32_t i = 0; i < n; i++) {
		used[(uint8_t)syms[i].type] = true;
		for (const char *s = syms[i].name; *s; s++)
			used[(uint8_t)*s] = true;
	}
	for (int c = '0'; c <= '9'; c++)
		used[c] = true;
	for (int c = 0; c < 256; c++) {
		if (used[c]) {
			g->tok[c][0] = (char)c;
			g->tlen[c] = 1;
		} else if (m < sizeof(ksgen_multi) / sizeof(ksgen_multi[0])) {
			strcpy(g->tok[c], ksgen_multi[m++]);
			g->tlen[c] = (uint8_t)strlen(g->tok[c]);
		}
	}
}

/* Greedy compression of type letter + name into out; returns the length. */
static inline size_t ksgen_compress(const struct ksgen *g, char type, const char *name,
				    uint8_t *out, size_t cap)
{
	size_t len = 0, nlen = strlen(name);
	char *full = malloc(nlen + 2);
	size_t pos = 0;

	full[0] = type;
	memcpy(full + 1, name, nlen + 1);
	while (full[pos] && len < cap) {
		int best = -1, blen = 0;

		for (int c = 0; c < 256; c++) {
			int l = g->tlen[c];

			if (l > blen && !strncmp(full + pos, g->tok[c], l)) {
				best = c;
				blen = l;
			}
		}
		if (best < 0)
			abort();	/* every used character has a token */
		out[len++] = (uint8_t)best;
		pos += blen;
	}
	free(full);
	return len;
}

static inline void ksgen_offsets(struct ksgen *g, struct ksgen_where *w,
				 const struct ksgen_sym *syms, uint32_t n)
{
	const struct ksgen_opts *o = g->o;

	ksgen_align(g);
	w->offsets = g->off;
	for (uint32_t i = 0; i < n; i++) {
		int64_t v;

		if (!o->abs_percpu)
			v = (int64_t)(uint32_t)(syms[i].addr - o->relative_base);
		else if (syms[i].percpu)
			v = (int64_t)syms[i].addr;
		else
			v = (int64_t)(o->relative_base - syms[i].addr) - 1;
		ksgen_le(g, (uint64_t)v, 4);
	}
	ksgen_align(g);
	w->relative_base = g->off;
	ksgen_le(g, o->relative_base, 8);
}

static const struct ksgen_sym *ksgen_sort_base;

static inline int ksgen_by_name(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return strcmp(ksgen_sort_base[x].name, ksgen_sort_base[y].name);
}

static inline void ksgen_seqs(struct ksgen *g, struct ksgen_where *w,
			      const struct ksgen_sym *syms, uint32_t n)
{
	uint32_t *seq = malloc(sizeof(*seq) * (n ? n : 1));

	for (uint32_t i = 0; i < n; i++)
		seq[i] = i;
	ksgen_sort_base = syms;
	qsort(seq, n, sizeof(*seq), ksgen_by_name);
	ksgen_align(g);
	w->seqs = g->off;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t be[3] = { (uint8_t)(seq[i] >> 16), (uint8_t)(seq[i] >> 8), (uint8_t)seq[i] };

		ksgen_put(g, be, 3);
	}
	free(seq);
}

static inline void ksgen_names(struct ksgen *g, struct ksgen_where *w,
			       const struct ksgen_sym *syms, uint32_t n)
{
	uint32_t nm = (n + 255) / 256;
	uint64_t *markers = calloc(nm ? nm : 1, sizeof(*markers));
	uint8_t enc[4096];

	ksgen_align(g);
	w->num_syms = g->off;
	ksgen_le(g, n, 4);
	ksgen_align(g);
	w->names = g->off;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = ksgen_compress(g, syms[i].type, syms[i].name, enc, sizeof(enc));

		if (i % 256 == 0)
			markers[i / 256] = g->off - w->names;
		if (len < 128) {
			ksgen_le(g, len, 1);
		} else {
			ksgen_le(g, (len & 0x7f) | 0x80, 1);
			ksgen_le(g, len >> 7, 1);
		}
		ksgen_put(g, enc, len);
	}
	ksgen_align(g);
	w->markers = g->off;
	for (uint32_t j = 0; j < nm; j++)
		ksgen_le(g, markers[j], g->o->markers64 ? 8 : 4);
	free(markers);
}

static inline void ksgen_token_tables(struct ksgen *g, struct ksgen_where *w)
{
	uint16_t idx[256];
	size_t start;

	ksgen_align(g);
	w->token_table = start = g->off;
	for (int c = 0; c < 256; c++) {
		idx[c] = (uint16_t)(g->off - start);
		ksgen_put(g, g->tok[c], g->tlen[c] + 1u);
	}
	ksgen_align(g);
	w->token_index = g->off;
	for (int c = 0; c < 256; c++)
		ksgen_le(g, idx[c], 2);
}

/*
 * Emit the tables for syms[0..n) (sorted by address, per-CPU ones first) at
 * buf + at. Returns the end offset, or 0 if cap is too small.
 */
static inline size_t ksgen_build(uint8_t *buf, size_t cap, size_t at, const struct ksgen_sym *syms,
				 uint32_t n, const struct ksgen_opts *o, struct ksgen_where *w)
{
	struct ksgen g = { .buf = buf, .cap = cap, .off = at, .o = o };
	struct ksgen_where dummy;

	if (!w)
		w = &dummy;
	memset(w, 0, sizeof(*w));
	ksgen_tokens(&g, syms, n);
	if (o->layout != KSGEN_C)
		ksgen_offsets(&g, w, syms, n);
	ksgen_names(&g, w, syms, n);
	if (o->layout == KSGEN_B)
		ksgen_seqs(&g, w, syms, n);
	ksgen_token_tables(&g, w);
	if (o->layout == KSGEN_C) {
		ksgen_offsets(&g, w, syms, n);
		ksgen_seqs(&g, w, syms, n);
	}
	w->end = g.off;
	return g.overflow ? 0 : g.off;
}

#endif
