// SPDX-License-Identifier: MIT
/* Data: read and write buffers, iovecs, poll sets, pipe fds, epoll. */
#include <linux/eventpoll.h>
#include <linux/uio.h>

#include <stdio.h>
#include <string.h>

#include "decode_int.h"

static size_t min_sz(uint64_t a, uint64_t b)
{
	return (size_t)(a < b ? a : b);
}

/* What a call passes in: -s bytes of the next argument's count. */
void p_buf_in(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const void *b = ctx_blob(c, i, false, &len) ?: ctx_blob(c, i, true, &len);

	if (b)
		out_data(c, b, len, c->a[i + 1], c->opt->xstyle);
	else
		p_ptr(c, i);
}

/* At entry; again at the return, for data in a page the entry found not yet
 * faulted in (the kernel has read it since). */
void c_buf_in(struct dec_cap *c, int i)
{
	cap_struct(c, i, min_sz(c->args[i + 1], c->strsize));
}

/* What the kernel wrote: -s bytes of the ret it returned. */
void p_buf_out(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const void *b = ctx_ok(c) ? ctx_blob(c, i, true, &len) : NULL;

	if (b)
		out_data(c, b, len, (uint64_t)c->ret, c->opt->xstyle);
	else
		p_ptr(c, i);
}

void c_buf_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		c->put(c->ctx, DEC_BLOB | DEC_AT_EXIT | (unsigned)i, "", 0);
	else if (c->exit && c->ret > 0)
		cap_struct(c, i, min_sz((uint64_t)c->ret, c->strsize));
}

/* [{iov_base="hello", iov_len=5}, ...]: the array at slot i, element k's
 * data at DEC_SLOT_IOV + k. `limit`: bytes the call moved (readv), or -1. */
static void out_iov(struct dec_ctx *c, int i, bool exit, long long limit)
{
	size_t len = 0, nv;
	const struct iovec *v = ctx_blob(c, i, exit, &len);

	if (!v || len % sizeof(*v)) {
		p_ptr(c, i);
		return;
	}
	nv = len / sizeof(*v);
	out_str(c->o, "[");
	for (size_t k = 0; k < nv; k++) {
		size_t dl = 0;
		const void *d = ctx_blob(c, DEC_SLOT_IOV + (int)k, exit, &dl);
		uint64_t shown = v[k].iov_len;

		if (k)
			out_str(c->o, ", ");
		if (k >= c->opt->strsize) {
			out_str(c->o, "...");
			break;
		}
		if (limit >= 0)
			shown = (uint64_t)limit < shown ? (uint64_t)limit : shown;
		out_str(c->o, "{iov_base=");
		if (d)
			out_data(c, d, dl, shown, c->opt->xstyle);
		else
			out_ptr(c->o, (uint64_t)(uintptr_t)v[k].iov_base);
		out_put(c->o, ", iov_len=%llu}", (unsigned long long)v[k].iov_len);
		if (limit >= 0)
			limit -= (long long)shown;
	}
	if (nv < c->a[i + 1] && nv < c->opt->strsize)
		out_str(c->o, ", ...");
	out_str(c->o, "]");
}

static void cap_iov(struct dec_cap *c, int i, long long limit)
{
	struct iovec v[DEC_IOV_MAX];
	size_t nv = min_sz(c->args[i + 1], DEC_IOV_MAX);

	if (!nv || c->read(c->ctx, c->args[i], v, nv * sizeof(v[0])))
		return;
	c->put(c->ctx, DEC_BLOB | (c->exit ? DEC_AT_EXIT : 0) | (unsigned)i, v, nv * sizeof(v[0]));
	for (size_t k = 0; k < nv; k++) {
		uint64_t n = v[k].iov_len;

		if (limit >= 0) {
			n = (uint64_t)limit < n ? (uint64_t)limit : n;
			limit -= (long long)n;
		}
		cap_mem(c, DEC_SLOT_IOV + (int)k, (uint64_t)(uintptr_t)v[k].iov_base, min_sz(n, c->strsize));
	}
}

void p_iov_in(struct dec_ctx *c, int i) { out_iov(c, i, false, -1); }

void c_iov_in(struct dec_cap *c, int i)
{
	if (!c->exit)
		cap_iov(c, i, -1);
}

void p_iov_out(struct dec_ctx *c, int i)
{
	if (ctx_ok(c))
		out_iov(c, i, true, c->ret);
	else
		p_ptr(c, i);
}

void c_iov_out(struct dec_cap *c, int i)
{
	if (c->exit && c->ret >= 0)
		cap_iov(c, i, c->ret);
}

/* poll([{fd=3, events=POLLIN}], 1, 1000); the revents in the return. */
struct kpollfd {
	int fd;
	short events, revents;
};

void p_pollfd(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const struct kpollfd *p = ctx_blob(c, i, false, &len);

	if (!p || len % sizeof(*p)) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "[");
	for (size_t k = 0; k < len / sizeof(*p); k++) {
		out_put(c->o, "%s{fd=%d, events=", k ? ", " : "", p[k].fd);
		out_flags(c->o, &xl_poll_events, (unsigned short)p[k].events, "0");
		out_str(c->o, "}");
	}
	out_str(c->o, "]");
}

void out_poll_revents(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const struct kpollfd *p = ctx_blob(c, i, true, &len);
	bool any = false;

	if (!p || len % sizeof(*p))
		return;
	out_str(c->o, " ([");
	for (size_t k = 0; k < len / sizeof(*p); k++) {
		if (!p[k].revents)
			continue;
		out_put(c->o, "%s{fd=%d, revents=", any ? ", " : "", p[k].fd);
		out_flags(c->o, &xl_poll_events, (unsigned short)p[k].revents, "0");
		out_str(c->o, "}");
		any = true;
	}
	out_str(c->o, "])");
}

void c_pollfd(struct dec_cap *c, int i)
{
	size_t n = min_sz(c->args[i + 1], DEC_BLOB_MAX / sizeof(struct kpollfd));

	if (!c->exit || c->ret > 0)
		cap_struct(c, i, n * sizeof(struct kpollfd));
}

void p_pipefds(struct dec_ctx *c, int i)
{
	const int *fd = ctx_ok(c) ? ctx_struct(c, i, true, 2 * sizeof(int)) : NULL;

	if (fd)
		out_put(c->o, "[%d, %d]", fd[0], fd[1]);
	else
		p_ptr(c, i);
}

void c_pipefds(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, 2 * sizeof(int));
}

void p_epollctl(struct dec_ctx *c, int i) { out_value(c->o, &xl_epoll_ctl_ops, (unsigned)c->a[i], "%#llx /* EPOLL_CTL_??? */"); }
void p_epollflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_epoll_flags, (unsigned)c->a[i], "0"); }

void p_epollev(struct dec_ctx *c, int i)
{
	const struct epoll_event *ev = ctx_struct(c, i, false, sizeof(struct epoll_event));

	if (!ev) {
		p_ptr(c, i);
		return;
	}
	out_str(c->o, "{events=");
	out_flags(c->o, &xl_epoll_events, ev->events, "0");
	out_put(c->o, ", data={u32=%u, u64=%llu}}", (unsigned)ev->data, (unsigned long long)ev->data);
}

void c_epollev(struct dec_cap *c, int i)
{
	if (!c->exit)
		cap_struct(c, i, sizeof(struct epoll_event));
}
