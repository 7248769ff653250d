// SPDX-License-Identifier: MIT
/* ioctl: request names, and the terminal requests' arguments. */
#include <asm/termbits.h>	/* the kernel's struct termios (TCGETS) */
#include <asm/ioctls.h>

#include <stdio.h>
#include <string.h>

#include "decode_int.h"

struct kwinsize {
	unsigned short row, col, xpixel, ypixel;
};

void p_ioctlreq(struct dec_ctx *c, int i) { out_value(c->o, &xl_ioctls, (uint32_t)c->a[i], "%#llx"); }

enum io { IO_NONE, IO_TERMIOS, IO_WINSZ, IO_INT };

/* What the request's argument is, and whether it is read at the return. */
static enum io arg_of(uint32_t req, bool *out)
{
	*out = true;
	switch (req) {
	case TCGETS:
		return IO_TERMIOS;
	case TIOCGWINSZ:
		return IO_WINSZ;
	case TIOCGPGRP: case TIOCGSID: case FIONREAD: case TIOCOUTQ: case TIOCGETD: case TIOCGPTN:
		return IO_INT;
	case TCSETS: case TCSETSW: case TCSETSF:
		*out = false;
		return IO_TERMIOS;
	case TIOCSWINSZ:
		*out = false;
		return IO_WINSZ;
	case TIOCSPGRP: case FIONBIO: case FIOASYNC: case TIOCSETD: case TIOCSPTLCK:
		*out = false;
		return IO_INT;
	}
	return IO_NONE;
}

static size_t io_size(enum io k)
{
	return k == IO_TERMIOS ? sizeof(struct termios) : k == IO_WINSZ ? sizeof(struct kwinsize) : 4;
}

/* {B38400 opost isig icanon echo ...}, strace's short form. */
static void out_termios(struct dec_ctx *c, const struct termios *t)
{
	unsigned long long cbaud = 0;

	for (size_t k = 0; k < xl_cbaud.n; k++)
		cbaud |= xl_cbaud.e[k].v;
	out_str(c->o, "{");
	out_value(c->o, &xl_baud, t->c_cflag & cbaud, "%#llx");
	out_put(c->o, " %sopost %sisig %sicanon %secho ...}", (t->c_oflag & OPOST) ? "" : "-",
		(t->c_lflag & ISIG) ? "" : "-", (t->c_lflag & ICANON) ? "" : "-", (t->c_lflag & ECHO) ? "" : "-");
}

void p_ioctlarg(struct dec_ctx *c, int i)
{
	bool out;
	enum io k = arg_of((uint32_t)c->a[1], &out);
	const void *p = k == IO_NONE || (out && !ctx_ok(c)) ? NULL : ctx_struct(c, i, out, io_size(k));

	if (!p) {
		p_ptr(c, i);
		return;
	}
	if (k == IO_TERMIOS) {
		out_termios(c, p);
	} else if (k == IO_WINSZ) {
		const struct kwinsize *w = p;

		out_put(c->o, "{ws_row=%u, ws_col=%u, ws_xpixel=%u, ws_ypixel=%u}", w->row, w->col, w->xpixel, w->ypixel);
	} else {
		out_put(c->o, "[%d]", *(const int *)p);
	}
}

void c_ioctlarg(struct dec_cap *c, int i)
{
	bool out;
	enum io k = arg_of((uint32_t)c->args[1], &out);

	if (k != IO_NONE && out == c->exit && (!out || c->ret == 0))
		cap_struct(c, i, io_size(k));
}
