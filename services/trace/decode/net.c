// SPDX-License-Identifier: MIT
/* Sockets: families, types, protocols, addresses, message flags, options. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "decode_int.h"

#define SA_MAX 128	/* sizeof(struct sockaddr_storage) */

void p_af(struct dec_ctx *c, int i) { out_value(c->o, &xl_address_families, (unsigned)c->a[i], "%#llx /* AF_??? */"); }

static void out_socktype(struct dec_out *o, unsigned long long v)
{
	unsigned long long tmask = 0xf;	/* SOCK_TYPE_MASK: the table's values fit it */

	out_value(o, &xl_socket_types, v & tmask, "%#llx /* SOCK_??? */");
	if (v & ~tmask) {
		out_str(o, "|");
		out_flags(o, &xl_socket_flags, v & ~tmask, NULL);
	}
}

void p_socktype(struct dec_ctx *c, int i) { out_socktype(c->o, c->a[i]); }
void p_sockflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_socket_flags, (unsigned)c->a[i], "0"); }

/* The protocol means an IPPROTO_* for the IP families only. */
void p_ipproto(struct dec_ctx *c, int i)
{
	const char *af = xl_name(&xl_address_families, (unsigned)c->a[0]);

	if (af && (!strcmp(af, "AF_INET") || !strcmp(af, "AF_INET6")))
		out_value(c->o, &xl_ipprotos, (unsigned)c->a[i], "%#llx /* IPPROTO_??? */");
	else
		p_int(c, i);
}

static void out_sockaddr(struct dec_out *o, const void *buf, size_t len, int xs)
{
	const struct sockaddr *sa = buf;
	char addr[INET6_ADDRSTRLEN];

	if (len < sizeof(sa->sa_family)) {
		out_str(o, "{}");
		return;
	}
	out_str(o, "{sa_family=");
	out_value(o, &xl_address_families, sa->sa_family, "%#llx /* AF_??? */");
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = buf;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		if (len > offsetof(struct sockaddr_un, sun_path)) {
			out_str(o, ", sun_path=");
			if (un->sun_path[0] == 0 && n > 1) {
				out_str(o, "@");
				out_quoted(o, un->sun_path + 1, n - 1, false, xs);
			} else {
				out_quoted(o, un->sun_path, strnlen(un->sun_path, n), false, xs);
			}
		}
	} else if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = buf;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		out_put(o, ", sin_port=htons(%u), sin_addr=inet_addr(\"%s\")", ntohs(in->sin_port), addr);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = buf;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		out_put(o, ", sin6_port=htons(%u), sin6_flowinfo=htonl(%u), inet_pton(AF_INET6, \"%s\", &sin6_addr), "
			"sin6_scope_id=%u", ntohs(in6->sin6_port), ntohl(in6->sin6_flowinfo), addr, in6->sin6_scope_id);
	} else if (len > sizeof(sa->sa_family)) {
		out_str(o, ", sa_data=");
		out_quoted(o, (const char *)buf + sizeof(sa->sa_family), len - sizeof(sa->sa_family), false, xs);
	}
	out_str(o, "}");
}

/* connect/bind/sendto: the address passed in, its length next. */
void p_sa_in(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const void *b = ctx_blob(c, i, false, &len);

	if (b)
		out_sockaddr(c->o, b, len, c->opt->xstyle);
	else
		p_ptr(c, i);
}

void c_sa_in(struct dec_cap *c, int i)
{
	if (!c->exit && c->args[i])
		cap_struct(c, i, c->args[i + 1] < SA_MAX ? (size_t)c->args[i + 1] : SA_MAX);
}

/* accept/getsockname/recvfrom: the address the kernel wrote; its length
 * (in and out) behind the next argument. */
void p_sa_out(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const void *b = ctx_ok(c) ? ctx_blob(c, i, true, &len) : NULL;

	if (b)
		out_sockaddr(c->o, b, len, c->opt->xstyle);
	else
		p_ptr(c, i);
}

void c_sa_out(struct dec_cap *c, int i)
{
	uint32_t len;

	if (c->exit && c->ret >= 0 && c->args[i] && c->args[i + 1] &&
	    !c->read(c->ctx, c->args[i + 1], &len, sizeof(len)))
		cap_struct(c, i, len < SA_MAX ? len : SA_MAX);
}

void p_salen_out(struct dec_ctx *c, int i)
{
	const uint32_t *in = ctx_struct(c, i, false, 4), *out = ctx_ok(c) ? ctx_struct(c, i, true, 4) : NULL;

	if (in && out && *in != *out)
		out_put(c->o, "[%u => %u]", *in, *out);
	else if (out)
		out_put(c->o, "[%u]", *out);
	else if (in)
		out_put(c->o, "[%u]", *in);
	else
		p_ptr(c, i);
}

void c_salen_out(struct dec_cap *c, int i)
{
	if (c->args[i] && (!c->exit || c->ret >= 0))
		cap_struct(c, i, 4);
}

void p_msgflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_msg_flags, (unsigned)c->a[i], "0"); }
void p_shut(struct dec_ctx *c, int i) { out_value(c->o, &xl_shut_how, (unsigned)c->a[i], "%#llx /* SHUT_??? */"); }
void p_sol(struct dec_ctx *c, int i)
{
	const char *n = xl_name(&xl_sol_levels, (unsigned)c->a[i]);

	if (n)
		out_str(c->o, n);
	else
		out_value(c->o, &xl_ipprotos, (unsigned)c->a[i], "%#llx /* SOL_??? */");
}

void p_sockopt(struct dec_ctx *c, int i)
{
	if (xl_name(&xl_sol_levels, (unsigned)c->a[i - 1]))
		out_value(c->o, &xl_sockopts, (unsigned)c->a[i], "%#llx /* SO_??? */");
	else
		p_int(c, i);
}

/* setsockopt's value: [N] for an int. */
void p_optval(struct dec_ctx *c, int i)
{
	const int32_t *v = c->a[i + 1] == 4 ? ctx_struct(c, i, false, 4) : NULL;

	if (v)
		out_put(c->o, "[%d]", *v);
	else
		p_ptr(c, i);
}

void c_optval(struct dec_cap *c, int i)
{
	if (!c->exit && c->args[i + 1] == 4)
		cap_struct(c, i, 4);
}
