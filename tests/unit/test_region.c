// SPDX-License-Identifier: MIT
/*
 * Calls into region code (region_call_on) against a scripted gdbstub: a thread
 * speaking QEMU's side of the remote protocol for one vCPU in kernel mode,
 * which "runs" the called function by returning to the address the caller
 * left on its stack — or, in storm mode, reports a stop somewhere else every
 * time it is continued, as a vCPU sitting on a breakpoint does.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gears/gdb.h>
#include <gears/region.h>
#include <gears/vm.h>

#include "internal.h"
#include "testlib.h"

#define FN_OFF 0x180000ull	/* where the "function" is, in the region */

struct fake {
	int lfd, fd;
	bool storm;		/* every continue ends in a stop away from the landing pad */
	uint64_t regs[17];	/* rax..r15, rip in QEMU's `g` order */
	uint32_t eflags, cs;
	uint64_t ret_addr;	/* the last 8-byte memory write: the return address */
	int calls, stops;
	char path[100], dir[80];
	pthread_t th;
};

static void put(struct fake *f, const char *payload)
{
	char out[4096];
	long n = gears_rsp__encode(payload, strlen(payload), out, sizeof(out));

	if (n > 0 && write(f->fd, out, (size_t)n) != n)
		_exit(99);
}

/* Little-endian hex, without a terminating NUL (it goes inside a packet). */
static void hex_le(char *p, uint64_t v, int bytes)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < bytes; i++) {
		p[2 * i] = digits[(v >> (8 * i + 4)) & 0xf];
		p[2 * i + 1] = digits[(v >> (8 * i)) & 0xf];
	}
}

static uint64_t from_hex_le(const char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--) {
		char b[3] = { p[2 * i], p[2 * i + 1], 0 };

		v = v << 8 | strtoull(b, NULL, 16);
	}
	return v;
}

/* The vCPU ran after a continue: where does it stop? */
static void run(struct fake *f)
{
	f->stops++;
	if (f->storm)
		f->regs[16] = 0xffffffff81000000ull + (uint64_t)f->stops;	/* somewhere else */
	else if (f->regs[16] == GEARS_REGION_VA + FN_OFF) {
		f->calls++;
		f->regs[0] = 42;		/* the function's result */
		f->regs[16] = f->ret_addr;	/* its `ret` */
		f->regs[7] += 8;
	}
	put(f, "T05thread:01;");
}

static void reply(struct fake *f, const char *p)
{
	char buf[1024];

	if (!strncmp(p, "qSupported", 10))
		put(f, "PacketSize=1000;qXfer:features:read+");
	else if (!strcmp(p, "QStartNoAckMode") || !strncmp(p, "Hg", 2) || p[0] == 'Z' || p[0] == 'z' ||
		 !strcmp(p, "D"))
		put(f, "OK");
	else if (!strcmp(p, "?"))
		put(f, "T05thread:01;");
	else if (!strncmp(p, "qXfer:features:read:target.xml", 30))
		put(f, "l<target><architecture>i386:x86-64</architecture></target>");
	else if (!strcmp(p, "qfThreadInfo"))
		put(f, "m1");
	else if (!strcmp(p, "qsThreadInfo"))
		put(f, "l");
	else if (!strcmp(p, "g")) {
		char *q = buf;

		memset(buf, '0', sizeof(buf));
		for (int i = 0; i < 17; i++, q += 16)
			hex_le(q, f->regs[i], 8);
		hex_le(q, f->eflags, 4);
		hex_le(q + 8, f->cs, 4);
		buf[(17 * 8 + 7 * 4 + 9 * 8) * 2] = 0;
		put(f, buf);
	} else if (p[0] == 'P') {
		unsigned reg = (unsigned)strtoul(p + 1, NULL, 16);
		const char *v = strchr(p, '=');

		if (v && reg < 17)
			f->regs[reg] = from_hex_le(v + 1, 8);
		else if (v && reg == GEARS_REG_EFLAGS)
			f->eflags = (uint32_t)from_hex_le(v + 1, 4);
		put(f, "OK");
	} else if (p[0] == 'M') {
		const char *len = strchr(p, ','), *data = strchr(p, ':');

		if (len && data && strtoul(len + 1, NULL, 16) == 8)
			f->ret_addr = from_hex_le(data + 1, 8);
		put(f, "OK");
	} else if (!strcmp(p, "c")) {
		run(f);
	} else {
		put(f, "");
	}
}

static void *serve(void *arg)
{
	struct fake *f = arg;
	struct gears_rsp_dec d = { 0 };
	char in[8192];
	ssize_t n;

	f->fd = accept(f->lfd, NULL, NULL);
	while (f->fd >= 0 && (n = read(f->fd, in, sizeof(in))) > 0) {
		for (size_t off = 0; off < (size_t)n;) {
			size_t used = 0;
			int r;

			if (in[off] == 0x03) {	/* interrupt: the VM stops */
				put(f, "T02thread:01;");
				off++;
				continue;
			}
			r = gears_rsp__feed(&d, in + off, (size_t)n - off, &used);
			off += used;
			if (r == 1)
				reply(f, d.pkt);
			if (r < 0 || !used)
				break;
		}
	}
	gears_rsp__reset(&d);
	if (f->fd >= 0)
		close(f->fd);
	return NULL;
}

static const uint64_t kernel_regs[17] = {
	1, 2, 3, 4, 5, 6, 7, 0xffffc90000123450ull, 9, 10, 11, 12, 13, 14, 15, 16, 0xffffffff81234567ull,
};

static struct gears_gdb *fake_start(struct fake *f, bool storm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof(*f));
	f->storm = storm;
	memcpy(f->regs, kernel_regs, sizeof(f->regs));
	f->eflags = 0x46;
	f->cs = 0x10;
	if (snprintf(f->dir, sizeof(f->dir), "%s/gears-test-region.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
		    (int)sizeof(f->dir) || !mkdtemp(f->dir))
		return NULL;
	snprintf(f->path, sizeof(f->path), "%.70s/gdb.sock", f->dir);
	memcpy(sa.sun_path, f->path, sizeof(f->path));
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(f->lfd, 1) ||
	    pthread_create(&f->th, NULL, serve, f))
		return NULL;
	return gears_gdb__connect(f->path, 2000);
}

static void fake_stop(struct fake *f, struct gears_gdb *g)
{
	gears_gdb__close(g);
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}

static uint8_t region_mem[GEARS_REGION_SIZE];

/* A scripted gdbstub and a region object over region_mem; false if not. */
static bool setup(struct fake *f, bool storm, struct gears_gdb **g, struct gears_region **r)
{
	*g = fake_start(f, storm);
	*r = region_new(NULL, region_mem, 0x80000000ull);
	CHECK(*g && *r);
	return *g && *r;
}

static void teardown(struct fake *f, struct gears_gdb *g, struct gears_region *r)
{
	gears_region__close(r);
	fake_stop(f, g);
}

TEST(call_returns_and_restores)
{
	struct fake f;
	struct gears_gdb *g;
	struct gears_region *r;
	uint64_t ret = 0;

	if (!setup(&f, false, &g, &r))
		return;
	CHECK_EQ(region_call_on(r, g, FN_OFF, 7, &ret, NULL, NULL), 0);
	CHECK_EQ(ret, 42);
	CHECK_EQ(f.calls, 1);
	/* every register the call used is the interrupted code's again */
	CHECK(!memcmp(f.regs, kernel_regs, sizeof(kernel_regs)));
	CHECK_EQ(f.eflags, 0x46);
	teardown(&f, g, r);
}

/* Each call used to reserve 16 bytes of the region for its landing pad and
 * never give them back: ~61,000 calls (injections into sleeping targets)
 * filled it. */
TEST(calls_take_no_region_space)
{
	struct fake f;
	struct gears_gdb *g;
	struct gears_region *r;
	uint64_t ret = 0;
	long before, after;
	int fails = 0;

	if (!setup(&f, false, &g, &r))
		return;
	before = gears_region__alloc(r, 16, 16);
	for (int i = 0; i < 2000; i++)
		fails += region_call_on(r, g, FN_OFF, (uint64_t)i, &ret, NULL, NULL) != 0;
	after = gears_region__alloc(r, 16, 16);
	CHECK_EQ(fails, 0);
	CHECK_EQ(f.calls, 2000);
	CHECK_EQ(after, before + 16);
	teardown(&f, g, r);
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "  region_call_on never returned under a stream of stops\n");
	_exit(1);
}

/* Stops that keep coming (another vCPU on a breakpoint, reported again each
 * time it is continued) used to keep the call waiting forever. */
TEST(deadline_under_stop_storm)
{
	struct fake f;
	struct gears_gdb *g;
	struct gears_region *r;
	uint64_t ret = 0;

	if (!setup(&f, true, &g, &r))
		return;
	signal(SIGALRM, on_alarm);
	alarm(60);
	CHECK_EQ(region_call_on(r, g, FN_OFF, 1, &ret, NULL, NULL), -ETIMEDOUT);
	alarm(0);
	CHECK(f.stops > 10);
	CHECK(!memcmp(f.regs, kernel_regs, sizeof(kernel_regs)));
	teardown(&f, g, r);
}
