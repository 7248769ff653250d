// SPDX-License-Identifier: MIT
/*
 * GDB remote serial protocol framing: `$payload#cs`, where cs is the modulo-256
 * sum of the raw payload bytes in two hex digits. Inside payloads '}' escapes the
 * next byte (XOR 0x20); replies may use run-length encoding "X*n" meaning X
 * repeated n-29 more times. Both are decoded here so callers see plain bytes.
 */
#include <gears/gdb.h>

#include "internal.h"

#define RSP_MAX_PKT (1u << 20)

enum { ST_IDLE, ST_DATA, ST_ESC, ST_RLE, ST_CSUM };

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long gears_rsp__encode(const void *payload, size_t len, char *out, size_t outsz)
{
	const unsigned char *p = payload;
	unsigned char sum = 0;
	size_t o = 0;

#define PUT(c) do { if (o >= outsz) return -ENOSPC; out[o++] = (char)(c); } while (0)
	PUT('$');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '$' || c == '#' || c == '}' || c == '*') {
			PUT('}');
			sum += '}';
			c ^= 0x20;
		}
		PUT(c);
		sum += c;
	}
	PUT('#');
	PUT("0123456789abcdef"[sum >> 4]);
	PUT("0123456789abcdef"[sum & 15]);
#undef PUT
	return (long)o;
}

static int put_byte(struct gears_rsp_dec *d, char c)
{
	if (d->len + 2 > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4096;
		char *nb;

		if (cap > RSP_MAX_PKT + 2)
			cap = RSP_MAX_PKT + 2;
		if (d->len + 2 > cap)
			return -EMSGSIZE;
		nb = realloc(d->pkt, cap);
		if (!nb)
			return -ENOMEM;
		d->pkt = nb;
		d->cap = cap;
	}
	d->pkt[d->len++] = c;
	return 0;
}

int gears_rsp__feed(struct gears_rsp_dec *d, const char *buf, size_t len, size_t *used)
{
	size_t i;
	int r;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		switch (d->state) {
		case ST_IDLE:
			if (c == '$' || c == '%') {	/* '%': notification, same framing */
				d->len = 0;
				if (!d->pkt && (r = put_byte(d, 0)) < 0)
					goto fail;
				d->len = 0;
				d->state = ST_DATA;
				d->sum = 0;
			} else if (c == '+') {
				d->acks++;
			} else if (c == '-') {
				d->nacks++;
			} else if (c == 0x03) {
				d->interrupts++;
			}
			break;
		case ST_DATA:
			if (c == '#') {
				d->state = ST_CSUM;
				d->ndigits = 0;
				d->csum = 0;
				break;
			}
			d->sum += (unsigned char)c;
			if (c == '}') {
				d->state = ST_ESC;
				break;
			}
			if (c == '*' && d->len > 0) {
				d->state = ST_RLE;
				break;
			}
			if ((r = put_byte(d, c)) < 0)
				goto fail;
			break;
		case ST_ESC:
			d->sum += (unsigned char)c;
			if ((r = put_byte(d, (char)(c ^ 0x20))) < 0)
				goto fail;
			d->state = ST_DATA;
			break;
		case ST_RLE: {
			int n = (unsigned char)c - 29;
			char prev = d->pkt[d->len - 1];

			d->sum += (unsigned char)c;
			if (n < 0 || n > 126)
				n = 0;	/* not valid RLE: treat as literal nothing */
			while (n-- > 0)
				if ((r = put_byte(d, prev)) < 0)
					goto fail;
			d->state = ST_DATA;
			break;
		}
		case ST_CSUM: {
			int v = hexval(c);

			if (v < 0) {	/* garbage in the checksum: drop the packet */
				d->bad_checksums++;
				d->state = ST_IDLE;
				break;
			}
			d->csum = (unsigned char)(d->csum << 4 | v);
			if (++d->ndigits < 2)
				break;
			d->state = ST_IDLE;
			if (d->csum != d->sum) {
				d->bad_checksums++;
				break;
			}
			d->pkt[d->len] = 0;
			*used = i + 1;
			return 1;
		}
		}
	}
	*used = i;
	return 0;
fail:
	d->state = ST_IDLE;
	*used = i + 1;
	return r;
}

void gears_rsp__reset(struct gears_rsp_dec *d)
{
	free(d->pkt);
	memset(d, 0, sizeof(*d));
}
