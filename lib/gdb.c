// SPDX-License-Identifier: MIT
/*
 * gdbstub client. One request in flight at a time; the stub answers in order.
 * While the VM runs, the only thing we may send is an interrupt (0x03); the
 * next packet from QEMU is then a stop reply.
 */
#include <inttypes.h>
#include <poll.h>
#include <unistd.h>

#include <gears/gdb.h>

#include "internal.h"
#include "sock.h"

#define GDB_REPLY_TIMEOUT_MS 10000
#define GDB_MAX_BPS 64
#define GDB_MEM_CHUNK 1024	/* bytes per m/M packet: QEMU's PacketSize is 0x1000 hex chars */

struct gdb_bp {
	uint64_t va;
	bool hw;
};

struct gears_gdb {
	int fd;
	bool noack;
	bool running;
	int ncpus;
	int cur_g;		/* thread selected with Hg (cpu + 1), 0 = unknown */
	struct gears_rsp_dec dec;
	char inbuf[65536];
	size_t in_off, in_len;
	struct gdb_bp bps[GDB_MAX_BPS];
	int nbps;
	struct gears_gdb_stop pending;	/* a stop reply that arrived unasked */
	bool have_pending;
};

static int send_packet(struct gears_gdb *g, const char *payload)
{
	size_t len = strlen(payload);
	size_t cap = len * 2 + 8;
	char *out = malloc(cap);
	long n;
	int r;

	if (!out)
		return -ENOMEM;
	n = gears_rsp__encode(payload, len, out, cap);
	if (n < 0) {
		free(out);
		return (int)n;
	}
	r = gears_sock_write_all(g->fd, out, (size_t)n);
	free(out);
	if (r)
		return gears_err(-r, "gdbstub write: %s", strerror(-r));
	return 0;
}

/* Next complete packet into g->dec.pkt; waits up to timeout_ms (-1 forever). */
static int recv_packet(struct gears_gdb *g, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    gears_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		while (g->in_off < g->in_len) {
			size_t used = 0;
			int r = gears_rsp__feed(&g->dec, g->inbuf + g->in_off,
						g->in_len - g->in_off, &used);

			g->in_off += used;
			if (r < 0)
				return gears_err(-r, "gdbstub: bad packet from QEMU");
			if (r == 1) {
				if (!g->noack && gears_sock_write_all(g->fd, "+", 1))
					return gears_err(EPIPE, "gdbstub: connection lost");
				return 0;
			}
		}
		if (g->dec.bad_checksums && !g->noack) {
			g->dec.bad_checksums = 0;
			gears_sock_write_all(g->fd, "-", 1);
		}
		uint64_t now = gears_now_ns();
		int left = -1;

		if (deadline != UINT64_MAX)
			left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ull) + 1;
		int r = gears_sock_wait_readable(g->fd, left);

		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t n = read(g->fd, g->inbuf, sizeof(g->inbuf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gears_err(EPIPE, "gdbstub: QEMU closed the connection");
		g->in_off = 0;
		g->in_len = (size_t)n;
	}
}

static bool hexval_ok(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_stop_reply(const char *p)
{
	return (p[0] == 'T' || p[0] == 'S') && hexval_ok(p[1]) && hexval_ok(p[2]);
}

static int parse_stop(const char *p, struct gears_gdb_stop *st)
{
	memset(st, 0, sizeof(*st));
	st->cpu = -1;
	if (p[0] == 'W' || p[0] == 'X') {
		st->exited = true;
		return 0;
	}
	if (!is_stop_reply(p))
		return -EPROTO;
	st->signal = (int)strtol((char[]){ p[1], p[2], 0 }, NULL, 16);
	const char *t = strstr(p, "thread:");

	if (t) {
		t += 7;
		if (*t == 'p') {	/* multiprocess form p<pid>.<tid> */
			t = strchr(t, '.');
			t = t ? t + 1 : "";
		}
		long tid = strtol(t, NULL, 16);

		if (tid > 0)
			st->cpu = (int)tid - 1;
	}
	return 0;
}

/*
 * Send a request and return its reply in g->dec.pkt. Stop replies that arrive
 * in between (a breakpoint that fired just as we stopped the VM) are kept in
 * g->pending rather than taken as the answer.
 */
static int request(struct gears_gdb *g, const char *payload)
{
	int r;

	if (g->running)
		return gears_err(EBUSY, "gdbstub: VM is running; stop it first");
	r = send_packet(g, payload);
	if (r)
		return r;
	for (;;) {
		r = recv_packet(g, GDB_REPLY_TIMEOUT_MS);
		if (r == -ETIMEDOUT)
			return gears_err(ETIMEDOUT, "gdbstub: no reply to '%.20s'", payload);
		if (r)
			return r;
		if (is_stop_reply(g->dec.pkt) && payload[0] != '?') {
			parse_stop(g->dec.pkt, &g->pending);
			g->have_pending = true;
			continue;
		}
		return 0;
	}
}

static int reply_ok(struct gears_gdb *g, const char *what)
{
	if (!strcmp(g->dec.pkt, "OK"))
		return 0;
	if (g->dec.pkt[0] == 'E')
		return gears_err(EIO, "gdbstub: %s failed (%s)", what, g->dec.pkt);
	if (!g->dec.pkt[0])
		return gears_err(ENOTSUP, "gdbstub: %s not supported", what);
	return gears_err(EPROTO, "gdbstub: %s: unexpected reply '%.40s'", what, g->dec.pkt);
}

static int select_cpu(struct gears_gdb *g, int cpu)
{
	char pkt[32];
	int r;

	if (cpu < 0 || cpu >= g->ncpus)
		return gears_err(EINVAL, "no vCPU %d (VM has %d)", cpu, g->ncpus);
	if (g->cur_g == cpu + 1)
		return 0;
	snprintf(pkt, sizeof(pkt), "Hg%x", cpu + 1);
	r = request(g, pkt);
	if (!r)
		r = reply_ok(g, "Hg");
	if (!r)
		g->cur_g = cpu + 1;
	return r;
}

/* Read an object (target.xml) with qXfer, to completion. */
static char *xfer_read(struct gears_gdb *g, const char *annex)
{
	char pkt[128];
	char *out = NULL;
	size_t len = 0;

	for (int i = 0; i < 256; i++) {	/* bounded: 256 * 4 KiB */
		snprintf(pkt, sizeof(pkt), "qXfer:features:read:%s:%zx,%x", annex, len, 0xffb);
		if (request(g, pkt))
			break;
		char kind = g->dec.pkt[0];
		size_t n = g->dec.len ? g->dec.len - 1 : 0;

		if (kind != 'm' && kind != 'l')
			break;
		char *nb = realloc(out, len + n + 1);

		if (!nb)
			break;
		out = nb;
		memcpy(out + len, g->dec.pkt + 1, n);
		len += n;
		out[len] = 0;
		if (kind == 'l')
			return out;
	}
	free(out);
	return gears_err_ptr(EPROTO, "gdbstub: cannot read target description %s", annex);
}

static int count_threads(struct gears_gdb *g)
{
	int n = 0;
	const char *q = "qfThreadInfo";

	for (int iter = 0; iter < 1024; iter++) {
		if (request(g, q))
			return -EPROTO;
		if (g->dec.pkt[0] != 'm')
			break;
		for (const char *p = g->dec.pkt + 1; *p; p++)
			if (*p == ',')
				n++;
		n++;
		q = "qsThreadInfo";
	}
	return n;
}

struct gears_gdb *gears_gdb__connect(const char *path, int timeout_ms)
{
	struct gears_gdb *g = calloc(1, sizeof(*g));
	char *xml;

	if (!g)
		return NULL;
	g->fd = gears_sock_connect(path, timeout_ms);
	if (g->fd < 0) {
		int e = -g->fd;

		free(g);
		errno = e;
		return NULL;
	}
	if (request(g, "qSupported:xmlRegisters=i386"))
		goto fail;
	if (!strstr(g->dec.pkt, "qXfer:features:read+")) {
		gears_err(EPROTO, "gdbstub does not offer target descriptions");
		goto fail;
	}
	/* Acks double the packets on every stop; QEMU can do without them. */
	if (!request(g, "QStartNoAckMode") && !strcmp(g->dec.pkt, "OK"))
		g->noack = true;
	if (request(g, "?"))
		goto fail;
	/* QEMU answers p/P only once the client has read the description. */
	xml = xfer_read(g, "target.xml");
	if (!xml)
		goto fail;
	bool x86_64 = strstr(xml, "i386:x86-64") != NULL;

	free(xml);
	if (!x86_64) {
		gears_err(ENOTSUP, "gdbstub target is not x86-64");
		goto fail;
	}
	/* QEMU announces the stop it makes on connection with an unsolicited
	 * stop reply; that one is expected, not an event. */
	g->have_pending = false;
	g->ncpus = count_threads(g);
	if (g->ncpus <= 0) {
		gears_err(EPROTO, "gdbstub reports no vCPUs");
		goto fail;
	}
	pr_debug("gdbstub: connected, %d vCPUs, %s", g->ncpus, g->noack ? "no-ack" : "acks");
	return g;
fail:
	{
		int e = errno ? errno : EPROTO;

		close(g->fd);
		gears_rsp__reset(&g->dec);
		free(g);
		errno = e;
		return NULL;
	}
}

void gears_gdb__close(struct gears_gdb *g)
{
	if (!g)
		return;
	if (g->running)
		gears_gdb__stop(g, NULL);
	if (!g->running) {
		while (g->nbps > 0) {
			struct gdb_bp *bp = &g->bps[g->nbps - 1];

			if (gears_gdb__bp_remove(g, bp->va, bp->hw))
				g->nbps--;	/* give up on this one */
		}
		/* Detach: QEMU resumes the VM when the client leaves. */
		if (!send_packet(g, "D"))
			recv_packet(g, 1000);
	}
	close(g->fd);
	gears_rsp__reset(&g->dec);
	free(g);
}

int gears_gdb__ncpus(const struct gears_gdb *g)
{
	return g->ncpus;
}

bool gears_gdb__stopped(const struct gears_gdb *g)
{
	return !g->running;
}

int gears_gdb__fd(const struct gears_gdb *g)
{
	return g->fd;
}

static int take_stop(struct gears_gdb *g, struct gears_gdb_stop *st)
{
	struct gears_gdb_stop tmp;
	int r = parse_stop(g->dec.pkt, st ? st : &tmp);

	if (r)
		return gears_err(EPROTO, "gdbstub: unexpected packet '%.40s' while waiting for a stop",
				 g->dec.pkt);
	g->running = false;
	g->cur_g = 0;	/* QEMU switches its selected thread to the one that stopped */
	return 0;
}

int gears_gdb__wait(struct gears_gdb *g, int timeout_ms, struct gears_gdb_stop *st)
{
	int r;

	if (!g->running)
		return gears_err(EINVAL, "gdbstub: VM is not running");
	for (;;) {
		r = recv_packet(g, timeout_ms);
		if (r == -ETIMEDOUT)
			return 0;
		if (r)
			return r;
		if (g->dec.pkt[0] == 'O')	/* console output packet: not a stop */
			continue;
		r = take_stop(g, st);
		return r ? r : 1;
	}
}

int gears_gdb__stop(struct gears_gdb *g, struct gears_gdb_stop *st)
{
	int r;

	if (!g->running) {
		if (st)
			*st = g->have_pending ? g->pending : (struct gears_gdb_stop){ .cpu = -1 };
		g->have_pending = false;
		return 0;
	}
	if (gears_sock_write_all(g->fd, "\x03", 1))
		return gears_err(EPIPE, "gdbstub: connection lost");
	r = gears_gdb__wait(g, GDB_REPLY_TIMEOUT_MS, st);
	if (r == 0)
		return gears_err(ETIMEDOUT, "gdbstub: VM did not stop");
	return r < 0 ? r : 0;
}

int gears_gdb__cont(struct gears_gdb *g)
{
	int r;

	if (g->running)
		return 0;
	if (g->have_pending) {
		/* QEMU only reports a stop when the VM goes from running to stopped,
		 * so a stop reply while we believed it stopped is a protocol anomaly:
		 * say so rather than silently dropping it. */
		pr_warn("gdbstub: discarding an unexpected stop reply (vCPU %d)", g->pending.cpu);
		g->have_pending = false;
	}
	r = send_packet(g, "c");
	if (r)
		return r;
	g->running = true;
	return 0;
}

int gears_gdb__step(struct gears_gdb *g, int cpu, struct gears_gdb_stop *st)
{
	char pkt[32];
	int r;

	if (g->running)
		return gears_err(EBUSY, "gdbstub: VM is running");
	if (cpu < 0 || cpu >= g->ncpus)
		return gears_err(EINVAL, "no vCPU %d", cpu);
	/* vCont with only this thread stepping: the others stay stopped. */
	snprintf(pkt, sizeof(pkt), "vCont;s:%x", cpu + 1);
	r = send_packet(g, pkt);
	if (r)
		return r;
	g->running = true;
	r = gears_gdb__wait(g, GDB_REPLY_TIMEOUT_MS, st);
	if (r == 0)
		return gears_err(ETIMEDOUT, "gdbstub: single-step did not complete");
	return r < 0 ? r : 0;
}

static uint64_t le_hex(const char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--) {
		char b[3] = { p[2 * i], p[2 * i + 1], 0 };

		v = v << 8 | (uint64_t)strtoul(b, NULL, 16);
	}
	return v;
}

int gears_gdb__regs(struct gears_gdb *g, int cpu, struct gears_regs *r)
{
	/* QEMU 7.2's `g` layout for x86-64: 17 x 8 (GPRs, rip), 7 x 4 (eflags, cs..gs),
	 * then 9 x 8 (fs_base, gs_base, k_gs_base, cr0, cr2, cr3, cr4, cr8, efer), then
	 * x87/SSE state we do not need. Its target.xml also lists ss/ds/es_base, which
	 * `g` does not carry — so the layout is taken from QEMU's code, not the XML. */
	static const int need = (17 * 8 + 7 * 4 + 9 * 8) * 2;
	uint64_t *q64[] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rbp, &r->rsp,
			    &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
			    &r->rip };
	uint32_t *q32[] = { &r->eflags, &r->cs, &r->ss, &r->ds, &r->es, &r->fs, &r->gs };
	uint64_t *sys[] = { &r->fs_base, &r->gs_base, &r->k_gs_base, &r->cr0, &r->cr2,
			    &r->cr3, &r->cr4, &r->cr8, &r->efer };
	const char *p;
	int ret = select_cpu(g, cpu);

	if (ret)
		return ret;
	ret = request(g, "g");
	if (ret)
		return ret;
	if (g->dec.len < (size_t)need || g->dec.pkt[0] == 'E')
		return gears_err(EPROTO, "gdbstub: short register packet (%zu hex chars)", g->dec.len);
	p = g->dec.pkt;
	for (size_t i = 0; i < ARRAY_SIZE(q64); i++, p += 16)
		*q64[i] = le_hex(p, 8);
	for (size_t i = 0; i < ARRAY_SIZE(q32); i++, p += 8)
		*q32[i] = (uint32_t)le_hex(p, 4);
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++, p += 16)
		*sys[i] = le_hex(p, 8);
	return 0;
}

int gears_gdb__set_reg(struct gears_gdb *g, int cpu, enum gears_reg reg, uint64_t val)
{
	char pkt[64];
	int bytes = (reg >= GEARS_REG_EFLAGS && reg <= GEARS_REG_GS) ? 4 : 8;
	int n, r;

	if (reg < 0 || reg > GEARS_REG_EFER)
		return gears_err(EINVAL, "bad register number %d", reg);
	r = select_cpu(g, cpu);
	if (r)
		return r;
	n = snprintf(pkt, sizeof(pkt), "P%x=", reg);
	for (int i = 0; i < bytes; i++)
		n += snprintf(pkt + n, sizeof(pkt) - (size_t)n, "%02x", (unsigned)(val >> (8 * i)) & 0xff);
	r = request(g, pkt);
	return r ? r : reply_ok(g, "register write");
}

int gears_gdb__bp_insert(struct gears_gdb *g, uint64_t va, bool hw)
{
	char pkt[64];
	int r;

	if (g->nbps >= GDB_MAX_BPS)
		return gears_err(ENOSPC, "too many breakpoints");
	snprintf(pkt, sizeof(pkt), "Z%d,%" PRIx64 ",1", hw ? 1 : 0, va);
	r = request(g, pkt);
	if (!r)
		r = reply_ok(g, "breakpoint insert");
	if (!r)
		g->bps[g->nbps++] = (struct gdb_bp){ va, hw };
	return r;
}

int gears_gdb__bp_remove(struct gears_gdb *g, uint64_t va, bool hw)
{
	char pkt[64];
	int r;

	snprintf(pkt, sizeof(pkt), "z%d,%" PRIx64 ",1", hw ? 1 : 0, va);
	r = request(g, pkt);
	if (!r)
		r = reply_ok(g, "breakpoint remove");
	for (int i = 0; i < g->nbps; i++) {
		if (g->bps[i].va == va && g->bps[i].hw == hw) {
			g->bps[i] = g->bps[--g->nbps];
			break;
		}
	}
	return r;
}

int gears_gdb__read(struct gears_gdb *g, int cpu, uint64_t va, void *buf, size_t len)
{
	unsigned char *out = buf;
	char pkt[64];
	int r = select_cpu(g, cpu);

	if (r)
		return r;
	if (len > (64u << 20))
		return gears_err(E2BIG, "gdbstub read of %zu bytes", len);
	while (len) {
		size_t n = GEARS_MIN(len, (size_t)GDB_MEM_CHUNK);

		snprintf(pkt, sizeof(pkt), "m%" PRIx64 ",%zx", va, n);
		r = request(g, pkt);
		if (r)
			return r;
		if (g->dec.pkt[0] == 'E' || g->dec.len != 2 * n)
			return gears_err(EFAULT, "gdbstub: cannot read guest memory at 0x%" PRIx64, va);
		for (size_t i = 0; i < n; i++)
			out[i] = (unsigned char)le_hex(g->dec.pkt + 2 * i, 1);
		out += n;
		va += n;
		len -= n;
	}
	return 0;
}

int gears_gdb__write(struct gears_gdb *g, int cpu, uint64_t va, const void *buf, size_t len)
{
	const unsigned char *in = buf;
	char *pkt = malloc(64 + 2 * GDB_MEM_CHUNK);
	int r = pkt ? select_cpu(g, cpu) : -ENOMEM;

	while (!r && len) {
		size_t n = GEARS_MIN(len, (size_t)GDB_MEM_CHUNK);
		int o = snprintf(pkt, 64, "M%" PRIx64 ",%zx:", va, n);

		for (size_t i = 0; i < n; i++)
			o += snprintf(pkt + o, 3, "%02x", in[i]);
		r = request(g, pkt);
		if (!r && strcmp(g->dec.pkt, "OK"))
			r = gears_err(EFAULT, "gdbstub: cannot write guest memory at 0x%" PRIx64, va);
		in += n;
		va += n;
		len -= n;
	}
	free(pkt);
	return r;
}

char *gears_gdb__raw(struct gears_gdb *g, const char *packet)
{
	int r = request(g, packet);

	if (r)
		return errno = -r, NULL;
	return strdup(g->dec.pkt);
}
