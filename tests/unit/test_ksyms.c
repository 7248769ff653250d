// SPDX-License-Identifier: MIT
/* kallsyms finder and decoder, on synthetic tables in every layout. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include <gears/gears.h>

#include "internal.h"
#include "ksyms_gen.h"
#include "testlib.h"

#define RB 0xffffffff96400000ull	/* a KASLR-relocated _text */
#define NFILL 1100			/* enough for five markers */
#define MAXSYMS (NFILL + 16)

static char fill_names[NFILL][24];
static char long_name[201];
static const char decoy[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";

/* A kernel-like symbol set, sorted by address, per-CPU symbols first. */
static uint32_t make_syms(struct ksgen_sym *s, bool percpu, uint32_t nfill)
{
	uint32_t n = 0;

	if (percpu) {
		s[n++] = (struct ksgen_sym){ "fixed_percpu_data", 'A', 0, true };
		s[n++] = (struct ksgen_sym){ "__per_cpu_start", 'A', 0, true };
		s[n++] = (struct ksgen_sym){ "cpu_tss_rw", 'A', 0x6000, true };
		s[n++] = (struct ksgen_sym){ "current_task", 'A', 0x1fb80, true };
	}
	s[n++] = (struct ksgen_sym){ "_text", 'T', RB, false };
	s[n++] = (struct ksgen_sym){ "startup_64", 'T', RB, false };
	s[n++] = (struct ksgen_sym){ "dup_static", 't', RB + 0x100, false };
	for (uint32_t i = 0; i < nfill; i++) {
		snprintf(fill_names[i], sizeof(fill_names[i]), "sym_%04u_fn", i);
		s[n++] = (struct ksgen_sym){ fill_names[i], i % 3 ? 't' : 'T', RB + 0x1000 + i * 0x40, false };
	}
	for (int i = 0; i < 200; i++)
		long_name[i] = (char)('a' + (i * 7) % 26);
	s[n++] = (struct ksgen_sym){ long_name, 'T', RB + 0x100000, false };
	s[n++] = (struct ksgen_sym){ "do_syscall_64", 'T', RB + 0x100100, false };
	s[n++] = (struct ksgen_sym){ "dup_static", 't', RB + 0x100200, false };
	s[n++] = (struct ksgen_sym){ "init_task", 'D', RB + 0x1a00000, false };
	s[n++] = (struct ksgen_sym){ "xyzzy9", 'b', RB + 0x1b00000, false };
	s[n++] = (struct ksgen_sym){ "_end", 'B', RB + 0x2000000, false };
	return n;
}

/* Pseudo-random garbage with decoy digit runs sprinkled in. */
static void garbage(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	for (size_t at = 4099; at + sizeof(decoy) < len; at += 65537)
		memcpy(p + at, decoy, sizeof(decoy));
}

struct fixture {
	uint8_t *buf;
	size_t len;
	struct ksgen_where w;
	struct ksgen_sym syms[MAXSYMS];
	uint32_t n;
};

/* Tables at byte `at` of a `len`-byte garbage buffer (0 on overflow). */
static int fixture_build(struct fixture *f, size_t len, size_t at, const struct ksgen_opts *o,
			 uint32_t nfill)
{
	memset(f, 0, sizeof(*f));
	f->len = len;
	f->buf = malloc(len);
	garbage(f->buf, len, 42);
	f->n = make_syms(f->syms, o->abs_percpu, nfill);
	return ksgen_build(f->buf, len, at, f->syms, f->n, o, &f->w) ? 0 : -1;
}

static void fixture_free(struct fixture *f)
{
	free(f->buf);
}

/* Every symbol comes back with its name, address and type. */
static void check_all(const struct gears_ksyms *ks, const struct fixture *f)
{
	CHECK_EQ(gears_ksyms__count(ks), f->n);
	for (uint32_t i = 0; i < f->n && i < gears_ksyms__count(ks); i++) {
		const char *name = NULL;
		uint64_t addr = 0;
		char type = 0;

		CHECK_EQ(gears_ksyms__get(ks, i, &name, &addr, &type), 0);
		CHECK_STR(name, f->syms[i].name);
		CHECK_EQ(addr, f->syms[i].addr);
		CHECK_EQ(type, f->syms[i].type);
		CHECK_EQ(gears_ksyms__lookup(ks, f->syms[i].name, &addr), 0);
	}
	CHECK_EQ(gears_ksyms__get(ks, f->n, NULL, NULL, NULL), -ERANGE);
}

static const struct ksgen_opts opts_b = {
	.layout = KSGEN_B, .abs_percpu = true, .relative_base = RB,
};

TEST(layout_b_like_debian_6_1)
{
	struct fixture f;
	struct gears_ksyms *ks;
	uint64_t addr, off;
	const char *s;

	CHECK_EQ(fixture_build(&f, 4 << 20, (1 << 20) + 0x1238, &opts_b, NFILL), 0);
	ks = gears_ksyms__find(f.buf, f.len, 0x1000000);
	CHECK(ks);
	if (!ks) {
		fprintf(stderr, "  %s\n", gears_last_error());
		fixture_free(&f);
		return;
	}
	check_all(ks, &f);
	CHECK_EQ(gears_ksyms__table_gpa(ks), 0x1000000 + f.w.token_table);

	/* per-CPU symbols give their offset; the first of duplicates wins */
	CHECK_EQ(gears_ksyms__lookup(ks, "current_task", &addr), 0);
	CHECK_EQ(addr, 0x1fb80);
	CHECK_EQ(gears_ksyms__lookup(ks, "dup_static", &addr), 0);
	CHECK_EQ(addr, RB + 0x100);
	CHECK_EQ(gears_ksyms__lookup(ks, "init_task", &addr), 0);
	CHECK_EQ(addr, RB + 0x1a00000);
	CHECK_EQ(gears_ksyms__lookup(ks, "no_such_symbol", &addr), -ENOENT);
	CHECK_EQ(gears_ksyms__lookup(ks, "", &addr), -ENOENT);
	CHECK_EQ(gears_ksyms__lookup(ks, long_name, &addr), 0);
	CHECK_EQ(addr, RB + 0x100000);
	/* symbolize: containing symbol, first alias, per-CPU ones excluded */
	s = gears_ksyms__symbolize(ks, RB + 0x100105, &off);
	CHECK_STR(s, "do_syscall_64");
	CHECK_EQ(off, 5);
	s = gears_ksyms__symbolize(ks, RB + 0x10, &off);
	CHECK_STR(s, "_text");
	CHECK_EQ(off, 0x10);
	s = gears_ksyms__symbolize(ks, RB + 0x1000 + 7 * 0x40 + 0x3f, &off);
	CHECK_STR(s, "sym_0007_fn");
	CHECK_EQ(off, 0x3f);
	s = gears_ksyms__symbolize(ks, ~0ull, &off);
	CHECK_STR(s, "_end");
	CHECK(!gears_ksyms__symbolize(ks, RB - 1, &off));
	CHECK(!gears_ksyms__symbolize(ks, 0x1fb80, &off));
	gears_ksyms__free(ks);
	fixture_free(&f);
}

TEST(long_name_uses_two_length_bytes)
{
	struct fixture f;
	size_t off;

	CHECK_EQ(fixture_build(&f, 1 << 20, 4096, &opts_b, 10), 0);
	/* walk the names stream to the long name's entry */
	off = f.w.names;
	for (uint32_t i = 0; i < f.n; i++) {
		uint8_t b0 = f.buf[off];
		size_t len = b0 & 0x80 ? (size_t)((b0 & 0x7f) | (f.buf[off + 1] << 7)) : b0;
		size_t hdr = b0 & 0x80 ? 2 : 1;

		if (f.syms[i].name == long_name) {
			CHECK(b0 & 0x80);
			CHECK(len > 127);
		}
		off += hdr + len;
	}
	fixture_free(&f);
}

TEST(every_layout_and_encoding)
{
	static const enum ksgen_layout layouts[] = { KSGEN_A, KSGEN_B, KSGEN_C };

	for (int l = 0; l < 3; l++) {
		for (int m64 = 0; m64 < 2; m64++) {
			for (int abs = 0; abs < 2; abs++) {
				struct ksgen_opts o = {
					.layout = layouts[l], .markers64 = m64, .abs_percpu = abs,
					.relative_base = RB,
				};
				struct fixture f;
				struct gears_ksyms *ks;

				CHECK_EQ(fixture_build(&f, 2 << 20, 0x40000, &o, NFILL), 0);
				ks = gears_ksyms__find(f.buf, f.len, 0);
				if (!ks)
					fprintf(stderr, "  layout %c markers%d abs %d: %s\n", 'A' + l,
						m64 ? 64 : 32, abs, gears_last_error());
				CHECK(ks);
				if (ks)
					check_all(ks, &f);
				gears_ksyms__free(ks);
				fixture_free(&f);
			}
		}
	}
}

TEST(small_and_boundary_counts)
{
	static const uint32_t fills[] = { 0, 1, 248, 249, 250, 505, 506 };

	for (size_t i = 0; i < ARRAY_SIZE(fills); i++) {
		for (int l = 0; l < 3; l++) {
			struct ksgen_opts o = opts_b;
			struct fixture f;
			struct gears_ksyms *ks;

			o.layout = (enum ksgen_layout)l;
			CHECK_EQ(fixture_build(&f, 1 << 20, 8192, &o, fills[i]), 0);
			ks = gears_ksyms__find(f.buf, f.len, 0);
			if (!ks)
				fprintf(stderr, "  fill %u layout %c: %s\n", fills[i], 'A' + l,
					gears_last_error());
			CHECK(ks);
			if (ks)
				check_all(ks, &f);
			gears_ksyms__free(ks);
			fixture_free(&f);
		}
	}
}

TEST(gpa_alignment_not_buffer_alignment)
{
	struct ksgen_opts o = opts_b;
	struct fixture f;
	struct gears_ksyms *ks;

	/* buf[0] is at gpa ...4: the tables are 8-aligned in gpa terms */
	o.buf_gpa = 0x2000004;
	CHECK_EQ(fixture_build(&f, 1 << 20, 0x10004, &o, 300), 0);
	ks = gears_ksyms__find(f.buf, f.len, o.buf_gpa);
	CHECK(ks);
	if (ks)
		check_all(ks, &f);
	gears_ksyms__free(ks);
	/* the same bytes seen at an aligned gpa are not a kallsyms table */
	errno = 0;
	CHECK(!gears_ksyms__find(f.buf, f.len, 0x2000000));
	CHECK(errno == ENOENT || errno == EBADMSG);
	fixture_free(&f);
}

TEST(decoy_token_table_before_the_real_one)
{
	struct fixture f;
	struct gears_ksyms *ks;
	size_t tsz;

	CHECK_EQ(fixture_build(&f, 2 << 20, 1 << 20, &opts_b, 600), 0);
	/* a copy of token_table + token_index alone, with nothing before it */
	tsz = f.w.token_index + 512 - f.w.token_table;
	memcpy(f.buf + 0x8000, f.buf + f.w.token_table, tsz);
	ks = gears_ksyms__find(f.buf, f.len, 0);
	CHECK(ks);
	if (ks)
		CHECK_EQ(gears_ksyms__table_gpa(ks), f.w.token_table);
	gears_ksyms__free(ks);
	/* ... and with only the decoy, it is a damaged table, not none */
	errno = 0;
	CHECK(!gears_ksyms__find(f.buf, f.w.names, 0));
	CHECK_EQ(errno, EBADMSG);
	CHECK(strstr(gears_last_error(), "token table"));
	fixture_free(&f);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

enum damage {
	NSYMS_HUGE, NSYMS_MAX, NSYMS_PLUS, NSYMS_MINUS, MARKER1, MARKER0, NAME_LEN, NAMES_FF,
	RELBASE, OFFSETS, INDEX, INDEX0, TOKEN0, NO_DIGITS,
};

static void damage(struct fixture *f, enum damage d)
{
	const struct ksgen_where *w = &f->w;

	switch (d) {
	case NSYMS_HUGE:	put32(f->buf + w->num_syms, 0xffffffffu); break;
	case NSYMS_MAX:		put32(f->buf + w->num_syms, 4000000u); break;
	case NSYMS_PLUS:	put32(f->buf + w->num_syms, f->n + 1); break;
	case NSYMS_MINUS:	put32(f->buf + w->num_syms, f->n - 1); break;
	case MARKER1:		f->buf[w->markers + 4] ^= 1; break;
	case MARKER0:		f->buf[w->markers] = 1; break;
	case NAME_LEN:		f->buf[w->names] += 1; break;
	case NAMES_FF:		memset(f->buf + w->names + 3000, 0xff, 2000); break;
	case RELBASE:		put32(f->buf + w->relative_base + 4, 0x1234); break;
	case OFFSETS:		put32(f->buf + w->offsets + 4 * (f->n - 1), 0xfffffff0u); break;
	case INDEX:		f->buf[w->token_index + 2 * 5] ^= 0x40; break;
	case INDEX0:		f->buf[w->token_index] = 1; break;
	case TOKEN0:		f->buf[w->token_table] = 0; break;
	case NO_DIGITS:		memset(f->buf + w->token_table, 0, 2048); break;
	}
}

/* Build a good layout-B table, damage it, expect `err`. */
static void expect_damaged(const char *what, enum damage d, int err)
{
	struct fixture f;
	struct gears_ksyms *ks;

	CHECK_EQ(fixture_build(&f, 1 << 20, 0x20000, &opts_b, NFILL), 0);
	damage(&f, d);
	errno = 0;
	ks = gears_ksyms__find(f.buf, f.len, 0);
	if (ks || errno != err)
		fprintf(stderr, "  %s: got %s (%s)\n", what, ks ? "a table" : strerror(errno),
			gears_last_error());
	CHECK(!ks);
	CHECK_EQ(errno, err);
	gears_ksyms__free(ks);
	fixture_free(&f);
}

TEST(corrupt_tables_are_errors_not_crashes)
{
	expect_damaged("num_syms 0xffffffff", NSYMS_HUGE, EBADMSG);
	expect_damaged("num_syms at the limit", NSYMS_MAX, EBADMSG);
	expect_damaged("num_syms + 1", NSYMS_PLUS, EBADMSG);
	expect_damaged("num_syms - 1", NSYMS_MINUS, EBADMSG);
	expect_damaged("marker 1 off by one", MARKER1, EBADMSG);
	expect_damaged("marker 0 not 0", MARKER0, EBADMSG);
	expect_damaged("first name length", NAME_LEN, EBADMSG);
	expect_damaged("names overwritten with 0xff", NAMES_FF, EBADMSG);
	expect_damaged("relative_base not kernel text", RELBASE, EBADMSG);
	expect_damaged("offsets not sorted", OFFSETS, EBADMSG);
	expect_damaged("token_index garbage", INDEX, ENOENT);
	expect_damaged("token_index[0] != 0", INDEX0, ENOENT);
	expect_damaged("token 0 emptied", TOKEN0, ENOENT);
	expect_damaged("no digit tokens", NO_DIGITS, ENOENT);
}

TEST(truncated_buffers)
{
	struct fixture f;
	size_t cuts[6], from;
	uint8_t *copy;

	CHECK_EQ(fixture_build(&f, 1 << 20, 0x20000, &opts_b, NFILL), 0);
	/* cut at every interesting boundary; exact-size copies let ASan see over-reads */
	cuts[0] = f.w.token_index + 511;
	cuts[1] = f.w.token_index + 1;
	cuts[2] = f.w.token_index;
	cuts[3] = f.w.token_table + 100;
	cuts[4] = f.w.names + 100;
	cuts[5] = f.w.num_syms + 4;
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		copy = malloc(cuts[i]);
		memcpy(copy, f.buf, cuts[i]);
		errno = 0;
		CHECK(!gears_ksyms__find(copy, cuts[i], 0));
		CHECK_EQ(errno, ENOENT);
		free(copy);
	}
	/* the start cut off inside names: the token table is there, the rest is not */
	from = f.w.names + 100;
	copy = malloc(f.len - from);
	memcpy(copy, f.buf + from, f.len - from);
	errno = 0;
	CHECK(!gears_ksyms__find(copy, f.len - from, from));
	CHECK_EQ(errno, EBADMSG);
	free(copy);
	fixture_free(&f);
}

TEST(decoys_and_garbage)
{
	uint8_t *p;
	size_t len = 1 << 20;

	p = malloc(len);
	garbage(p, len, 7);
	errno = 0;
	CHECK(!gears_ksyms__find(p, len, 0));
	CHECK_EQ(errno, ENOENT);
	/* a digit run flush with the end of the buffer */
	memcpy(p + len - sizeof(decoy), decoy, sizeof(decoy));
	CHECK(!gears_ksyms__find(p, len, 0));
	memset(p, 0, len);
	CHECK(!gears_ksyms__find(p, len, 0));
	CHECK(!gears_ksyms__find(p, 0, 0));
	CHECK(!gears_ksyms__find(p, 19, 0));
	CHECK(!gears_ksyms__find(NULL, 0, 0));
	CHECK(!gears_ksyms__find(NULL, 10, 0));
	CHECK_EQ(errno, EINVAL);
	free(p);
}

TEST(null_arguments)
{
	uint64_t a;

	CHECK_EQ(gears_ksyms__count(NULL), 0);
	CHECK_EQ(gears_ksyms__lookup(NULL, "x", &a), -EINVAL);
	CHECK_EQ(gears_ksyms__get(NULL, 0, NULL, NULL, NULL), -ERANGE);
	CHECK(!gears_ksyms__symbolize(NULL, 0, &a));
	CHECK_EQ(gears_ksyms__table_gpa(NULL), 0);
	gears_ksyms__free(NULL);
	CHECK(!gears_ksyms__find_in_mem(NULL));
}

TEST(find_in_mem)
{
	struct fixture f;
	struct gears_mem *m;
	struct gears_ksyms *ks;

	CHECK_EQ(fixture_build(&f, 2 << 20, 0x100000, &opts_b, 500), 0);
	m = gears_mem__from_buffer(f.buf, f.len, f.len, false);
	CHECK(m);
	ks = m ? gears_ksyms__find_in_mem(m) : NULL;
	CHECK(ks);
	if (ks)
		check_all(ks, &f);
	gears_ksyms__free(ks);
	gears_mem__close(m);

	/* no table anywhere */
	memset(f.buf, 0, f.len);
	m = gears_mem__from_buffer(f.buf, f.len, f.len, false);
	errno = 0;
	CHECK(m && !gears_ksyms__find_in_mem(m));
	CHECK_EQ(errno, ENOENT);
	gears_mem__close(m);
	fixture_free(&f);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Memory crafted to be full of near-misses ends in bounded time. */
TEST(hostile_memory_is_bounded)
{
	size_t len = 16 << 20, tsz;
	struct fixture f;
	uint8_t *p = malloc(len);
	uint64_t t0;

	/* a digit run every 20 bytes */
	for (size_t at = 0; at + sizeof(decoy) <= len; at += sizeof(decoy))
		memcpy(p + at, decoy, sizeof(decoy));
	t0 = now_ns();
	errno = 0;
	CHECK(!gears_ksyms__find(p, len, 0));
	CHECK_EQ(errno, ENOENT);
	CHECK(now_ns() - t0 < 3000000000ull);

	/* a valid token table + index repeated, with nothing else */
	CHECK_EQ(fixture_build(&f, 1 << 20, 0x1000, &opts_b, 100), 0);
	tsz = f.w.token_index + 512 - f.w.token_table;
	for (size_t at = 0; at + tsz <= len; at += (tsz + 7) & ~(size_t)7)
		memcpy(p + at, f.buf + f.w.token_table, tsz);
	t0 = now_ns();
	errno = 0;
	CHECK(!gears_ksyms__find(p, len, 0));
	CHECK_EQ(errno, EBADMSG);
	CHECK(now_ns() - t0 < 3000000000ull);
	fixture_free(&f);
	free(p);
}

/* ---- guest memory that changes while the host reads it ---- */

/* Offset of names entry `i`'s token bytes and their count (walking the stream). */
static size_t entry_tokens(const struct fixture *f, uint32_t i, size_t *ntok)
{
	size_t off = f->w.names;

	for (uint32_t j = 0;; j++) {
		uint8_t b0 = f->buf[off];
		size_t hdr = b0 & 0x80 ? 2 : 1;
		size_t len = b0 & 0x80 ? (size_t)((b0 & 0x7f) | (f->buf[off + 1] << 7)) : b0;

		if (j == i) {
			*ntok = len;
			return off + hdr;
		}
		off += hdr + len;
	}
}

/* The code of token `s` in the fixture's token table (-1 if none). */
static int token_code(const struct fixture *f, const char *s)
{
	const uint8_t *idx = f->buf + f->w.token_index;

	for (int c = 0; c < 256; c++) {
		uint16_t o = (uint16_t)(idx[2 * c] | idx[2 * c + 1] << 8);

		if (!strcmp((const char *)f->buf + f->w.token_table + o, s))
			return c;
	}
	return -1;
}

/*
 * Rewrite every name in place to use token `code` for each of its tokens: the
 * entry lengths (and so the markers) stay, the decoded names get longer. The
 * old finder sized its arena from the names before this and decoded them after.
 */
struct respell {
	struct fixture *f;
	uint8_t *buf;		/* where the guest's bytes are (f->buf or a copy) */
	int code;
};

static void respell_names(void *ctx)
{
	struct respell *r = ctx;

	for (uint32_t i = 0; i < r->f->n; i++) {
		size_t ntok, at = entry_tokens(r->f, i, &ntok);

		memset(r->buf + at, r->code, ntok);
	}
}

/* What a name respelled with token `tok` decodes to, and its type letter. */
static void respelled(const char *tok, size_t ntok, char *out, size_t cap, char *type)
{
	size_t w = 0;

	*type = tok[0];
	w += (size_t)snprintf(out + w, cap - w, "%s", tok + 1);
	for (size_t k = 1; k < ntok; k++)
		w += (size_t)snprintf(out + w, cap - w, "%s", tok);
}

/*
 * A page of guest RAM the host has not read yet, and what the guest does the
 * moment the host first touches it: the page is mapped inaccessible and the
 * SIGSEGV of the first load (wherever the parser makes it, through a pointer
 * or a copy) runs `fn`, opens the page and lets the load go on. This models a
 * guest vCPU writing between two of the host's reads without relying on how
 * the reader is structured.
 */
static struct {
	uint8_t *page;
	void (*fn)(void *);
	void *ctx;
	int fired;
} trap;

static void trap_segv(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr;

	(void)uc;
	if (!trap.page || a < trap.page || a >= trap.page + 4096) {
		signal(sig, SIG_DFL);	/* not ours: the re-executed load dies */
		return;
	}
	mprotect(trap.page, 4096, PROT_READ | PROT_WRITE);
	trap.page = NULL;
	trap.fired++;
	trap.fn(trap.ctx);
}

static void trap_arm(uint8_t *page, void (*fn)(void *), void *ctx)
{
	struct sigaction sa = { .sa_sigaction = trap_segv, .sa_flags = SA_SIGINFO };

	trap.page = page;
	trap.fn = fn;
	trap.ctx = ctx;
	trap.fired = 0;
	sigaction(SIGSEGV, &sa, NULL);
	mprotect(page, 4096, PROT_NONE);
}

static void trap_disarm(void)
{
	if (trap.page)
		mprotect(trap.page, 4096, PROT_READ | PROT_WRITE);
	trap.page = NULL;
	signal(SIGSEGV, SIG_DFL);
}

/*
 * The names are rewritten after they were checked and before they are
 * decoded: at the first load from kallsyms_offsets, which (layout C: after
 * the token index, where the search for the token table never reaches) the
 * finder reads in between. Before the fix the decode wrote the longer names
 * past the arena sized for the old ones (a heap overflow under ASan); now the
 * names come from one copy, checked and decoded: the rewritten tables are
 * consistent, so what comes back is exactly them.
 */
TEST(names_rewritten_between_check_and_decode)
{
	struct ksgen_opts o = { .layout = KSGEN_C, .abs_percpu = true, .relative_base = RB };
	struct fixture f;
	struct gears_ksyms *ks;
	struct respell r;
	uint8_t *ram, *page;
	char want[2048], type;
	size_t at = 0x20000, ntok;

	/* again with the tables moved so that kallsyms_offsets starts a page */
	CHECK_EQ(fixture_build(&f, 1 << 20, at, &o, NFILL), 0);
	at += (4096 - (f.w.offsets % 4096)) % 4096;
	fixture_free(&f);
	CHECK_EQ(fixture_build(&f, 1 << 20, at, &o, NFILL), 0);
	CHECK_EQ(f.w.offsets % 4096, 0);
	CHECK(f.w.relative_base >= f.w.offsets + 4096);
	ram = mmap(NULL, f.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ram != MAP_FAILED);
	if (ram == MAP_FAILED) {
		fixture_free(&f);
		return;
	}
	memcpy(ram, f.buf, f.len);
	page = ram + f.w.offsets;
	r = (struct respell){ .f = &f, .buf = ram, .code = token_code(&f, "sym_") };
	CHECK(r.code >= 0);
	trap_arm(page, respell_names, &r);
	errno = 0;
	ks = gears_ksyms__find(ram, f.len, 0);
	trap_disarm();
	CHECK_EQ(trap.fired, 1);
	CHECK(ks);
	if (ks) {
		CHECK_EQ(gears_ksyms__count(ks), f.n);
		for (uint32_t i = 0; i < f.n && i < gears_ksyms__count(ks); i++) {
			const char *name = NULL;
			uint64_t addr = 0;
			char t = 0;

			entry_tokens(&f, i, &ntok);
			respelled("sym_", ntok, want, sizeof(want), &type);
			CHECK_EQ(gears_ksyms__get(ks, i, &name, &addr, &t), 0);
			CHECK_STR(name, want);
			CHECK_EQ(t, type);
			CHECK_EQ(addr, f.syms[i].addr);
		}
	}
	gears_ksyms__free(ks);
	munmap(ram, f.len);
	fixture_free(&f);
}

/*
 * Guest RAM that holds one thing when the host first looks and another from
 * its second access on (lib/mem.c's test hook runs `change` just before it).
 * find_in_mem searches the RAM it got from gears_mem__for_each_range (the
 * first access) and copies a candidate's tables with gears_mem__read (the
 * second): the result must be what the copy holds, never a mix.
 */
struct flip {
	int accesses;
	void (*change)(struct fixture *f);
	struct fixture *f;
};

static void flip_hook(void *ctx, uint64_t gpa, uint64_t len)
{
	struct flip *fl = ctx;

	(void)gpa;
	(void)len;
	if (++fl->accesses == 2)
		fl->change(fl->f);
}

#define DELTA 0x200000ull

static void move_text(struct fixture *f)
{
	uint64_t rb;

	memcpy(&rb, f->buf + f->w.relative_base, 8);
	rb += DELTA;
	memcpy(f->buf + f->w.relative_base, &rb, 8);
}

static void break_marker(struct fixture *f)
{
	f->buf[f->w.markers + 4] ^= 1;
}

static struct gears_ksyms *find_flipping(struct fixture *f, void (*change)(struct fixture *),
					 int *accesses)
{
	struct flip fl = { .change = change, .f = f };
	struct gears_mem *m = gears_mem__from_buffer(f->buf, f->len, f->len, false);
	struct gears_ksyms *ks;

	CHECK(m);
	if (!m)
		return NULL;
	gears_mem_set_hook(m, flip_hook, &fl);
	errno = 0;
	ks = gears_ksyms__find_in_mem(m);
	*accesses = fl.accesses;
	gears_mem__close(m);
	return ks;
}

TEST(tables_change_between_search_and_copy)
{
	struct fixture f;
	struct gears_ksyms *ks;
	int accesses;

	/* still a valid table: the copy's addresses (every non-per-CPU one moved) */
	CHECK_EQ(fixture_build(&f, 2 << 20, 0x100000, &opts_b, 500), 0);
	ks = find_flipping(&f, move_text, &accesses);
	CHECK(accesses >= 2);
	CHECK(ks);
	for (uint32_t i = 0; ks && i < f.n && i < gears_ksyms__count(ks); i++) {
		const char *name = NULL;
		uint64_t addr = 0;

		CHECK_EQ(gears_ksyms__get(ks, i, &name, &addr, NULL), 0);
		CHECK_STR(name, f.syms[i].name);
		CHECK_EQ(addr, f.syms[i].addr + (f.syms[i].percpu ? 0 : DELTA));
	}
	gears_ksyms__free(ks);
	fixture_free(&f);

	/* no longer a table: refused, saying why */
	CHECK_EQ(fixture_build(&f, 2 << 20, 0x100000, &opts_b, 500), 0);
	ks = find_flipping(&f, break_marker, &accesses);
	CHECK(!ks);
	CHECK_EQ(errno, EBADMSG);
	CHECK(strstr(gears_last_error(), "changed while being read"));
	gears_ksyms__free(ks);
	fixture_free(&f);
}
