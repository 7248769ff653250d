// SPDX-License-Identifier: MIT
/* Bounded output, strace's string quoting, name tables and record contents. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define XLAT_DEFINE
#include "decode_int.h"

void out_put(struct dec_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->b + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n : o->size - o->len - 1;
}

void out_str(struct dec_out *o, const char *s)
{
	out_put(o, "%s", s);
}

void out_ptr(struct dec_out *o, uint64_t v)
{
	if (v)
		out_put(o, "%#llx", (unsigned long long)v);
	else
		out_str(o, "NULL");
}

static bool printable(unsigned char c)
{
	return c >= ' ' && c < 0x7f;
}

/* As strace quotes: the usual C escapes, other bytes in octal (three digits
 * when an octal digit follows); -x: the whole string in hex if any byte is
 * not printable; -xx: always in hex. */
void out_quoted(struct dec_out *o, const void *buf, size_t n, bool cut, int xstyle)
{
	const unsigned char *s = buf;
	bool hex = xstyle >= 2;

	for (size_t i = 0; xstyle == 1 && !hex && i < n; i++)
		if (!printable(s[i]) && !strchr("\f\n\r\t\v", s[i]))
			hex = true;
	out_str(o, "\"");
	for (size_t i = 0; i < n && o->len + 8 < o->size; i++) {
		unsigned char c = s[i];

		if (hex) {
			out_put(o, "\\x%02x", c);
			continue;
		}
		switch (c) {
		case '"': out_str(o, "\\\""); continue;
		case '\\': out_str(o, "\\\\"); continue;
		case '\f': out_str(o, "\\f"); continue;
		case '\n': out_str(o, "\\n"); continue;
		case '\r': out_str(o, "\\r"); continue;
		case '\t': out_str(o, "\\t"); continue;
		case '\v': out_str(o, "\\v"); continue;
		}
		if (printable(c))
			out_put(o, "%c", c);
		else if (i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7')
			out_put(o, "\\%03o", c);
		else
			out_put(o, "\\%o", c);
	}
	out_str(o, cut ? "\"..." : "\"");
}

const char *xl_name(const struct xlat *t, unsigned long long v)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].v == v)
			return t->e[i].n;
	return NULL;
}

unsigned long long xl_value(const struct xlat *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].n, name))
			return t->e[i].v;
	return 0;
}

void out_value(struct dec_out *o, const struct xlat *t, unsigned long long v, const char *dflt)
{
	const char *n = xl_name(t, v);

	if (n) {
		out_str(o, n);
	} else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		out_put(o, dflt, v);	/* the callers' literals, each with one %ll conversion */
#pragma GCC diagnostic pop
	}
}

void out_flags(struct dec_out *o, const struct xlat *t, unsigned long long v, const char *zero)
{
	bool any = false;

	for (size_t i = 0; i < t->n; i++) {
		unsigned long long f = t->e[i].v;

		if (f && (v & f) == f) {
			out_put(o, "%s%s", any ? "|" : "", t->e[i].n);
			v &= ~f;
			any = true;
		}
	}
	if (v)
		out_put(o, "%s%#llx", any ? "|" : "", v);
	else if (!any)
		out_str(o, zero ? zero : "0");
}

/* ---- record contents: strings (tag, text, NUL) and blobs (tag | DEC_BLOB,
 * 16-bit length, bytes) ---- */

static const char *rec_next(const char *p, const char *end, unsigned *tag, const char **data, size_t *len)
{
	if (p >= end)
		return NULL;
	*tag = (unsigned char)*p++;
	if (*tag & DEC_BLOB) {
		size_t l;

		if (end - p < 2)
			return NULL;
		l = (unsigned char)p[0] | (size_t)(unsigned char)p[1] << 8;
		p += 2;
		if (l > (size_t)(end - p))
			return NULL;
		*data = p;
		*len = l;
		return p + l;
	}
	size_t l = strnlen(p, (size_t)(end - p));

	if (l >= (size_t)(end - p))
		return NULL;
	*data = p;
	*len = l;
	return p + l + 1;
}

static const void *rec_find(const struct trace_rec *r, unsigned want, size_t *len)
{
	const char *p, *end, *data;
	unsigned tag;
	size_t l;

	if (!r || r->size < sizeof(*r))
		return NULL;
	p = (const char *)(r + 1);
	end = (const char *)r + r->size;
	for (int n = 0; n < r->nstr && (p = rec_next(p, end, &tag, &data, &l)); n++) {
		if (tag == want) {
			if (len)
				*len = l;
			return data;
		}
	}
	return NULL;
}

const char *rec_str(const struct trace_rec *r, int tag)
{
	return tag >= 0 && !((unsigned)tag & DEC_BLOB) ? rec_find(r, (unsigned)tag, NULL) : NULL;
}

const void *rec_blob(const struct trace_rec *r, unsigned tag, size_t *len)
{
	return (tag & DEC_BLOB) ? rec_find(r, tag, len) : NULL;
}

const void *ctx_blob(const struct dec_ctx *c, int slot, bool exit, size_t *len)
{
	/* Blobs sit unaligned in records: the printers get aligned copies,
	 * from a few buffers used in turn (one call uses fewer). */
	static __thread _Alignas(16) char scratch[8][DEC_BLOB_MAX + 16];
	static __thread unsigned next;
	unsigned tag = DEC_BLOB | (exit ? DEC_AT_EXIT : 0) | (unsigned)slot;
	size_t l = 0;
	const void *p = rec_blob(exit ? c->x : c->e, tag, &l);
	char *copy;

	/* A ring record carries the entry's blobs in the return's record. */
	if (!p)
		p = rec_blob(exit ? c->e : c->x, tag, &l);
	if (!p || l > DEC_BLOB_MAX)
		return NULL;
	copy = scratch[next++ % 8];
	memcpy(copy, p, l);
	copy[l] = 0;
	if (len)
		*len = l;
	return copy;
}

const void *ctx_struct(const struct dec_ctx *c, int slot, bool exit, size_t want)
{
	size_t len = 0;
	const void *p = ctx_blob(c, slot, exit, &len);

	return p && len == want ? p : NULL;
}

void dec_opts_init(struct dec_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->strsize = 32;
}
