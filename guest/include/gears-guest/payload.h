/* SPDX-License-Identifier: MIT */
/*
 * Writing a GEARS payload: code that `gears inject` runs inside a guest
 * process that never asked for it.
 *
 * A payload is a static, position-independent ELF (static-pie, no libc, no
 * dynamic loader) that gears loads at an address the target process mmaps for
 * it, relocates (R_X86_64_RELATIVE only), and enters at `_start` with %rdi
 * pointing at a struct gears_payload_args and %rsp on a fresh 64 KiB stack.
 * The runtime (guest/payloads/rt.c) calls
 *
 *	long gears_payload_main(struct gears_payload_args *a);
 *
 * and reports its result to the host with the GEARS_HC_PAYLOAD_DONE
 * hypercall; gears then unmaps the payload and puts the process back exactly
 * as it was. So a payload:
 *
 *   - makes system calls directly (the wrappers below); it has no libc, and
 *     must not touch the process's libc state (locks, malloc, errno);
 *   - uses no FPU/SSE/AVX registers (built with -mgeneral-regs-only): the
 *     process's vector state is not saved around it;
 *   - does not block for long: the process (one of its threads) is hostage
 *     until it returns, and signals wait;
 *   - leaves nothing behind unless it means to (memory it maps itself stays).
 *
 * Build one with the rule in the Makefile (guest/payloads/NAME.c ->
 * build/guest/payloads/NAME); see guest/payloads/hello.c.
 */
#ifndef GEARS_GUEST_PAYLOAD_H
#define GEARS_GUEST_PAYLOAD_H

#include <stdint.h>
#include <gears-guest/hypercall.h>

#define GEARS_PAYLOAD_MAGIC	0x44414f4c59415047ull	/* "GPAYLOAD" */
#define GEARS_PAYLOAD_MAX_ARGS	16

struct gears_payload_args {
	uint64_t magic;		/* GEARS_PAYLOAD_MAGIC */
	uint64_t base;		/* where the payload was loaded */
	uint64_t size;		/* bytes mapped for it (image, arguments, stack) */
	int32_t pid;		/* the process (tgid) and thread it runs in */
	int32_t tid;
	int32_t argc;		/* arguments given to `gears inject` after PAYLOAD */
	int32_t pad;
	const char *argv[GEARS_PAYLOAD_MAX_ARGS + 1];	/* NULL-terminated */
	const void *blob;	/* extra data (gears inject --kernel-module: the .ko) */
	uint64_t blob_len;
};

long gears_payload_main(struct gears_payload_args *a);

/* ---- system calls, without libc ---- */

#define gears_sys3(nr, a, b, c) gears_syscall6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* x86-64 numbers, so that payloads need no kernel headers. */
#define GEARS_NR_write		1
#define GEARS_NR_close		3
#define GEARS_NR_getpid		39
#define GEARS_NR_init_module	175
#define GEARS_NR_delete_module	176
#define GEARS_NR_openat		257
#define GEARS_AT_FDCWD		(-100)
#define GEARS_O_WRONLY		01
#define GEARS_O_CREAT		0100
#define GEARS_O_APPEND		02000
#define GEARS_O_CLOEXEC		02000000

static inline long gears_write(int fd, const void *buf, unsigned long len)
{
	return gears_sys3(GEARS_NR_write, fd, buf, len);
}

static inline long gears_open_append(const char *path)
{
	return gears_syscall6(GEARS_NR_openat, GEARS_AT_FDCWD, (long)path,
			  GEARS_O_WRONLY | GEARS_O_CREAT | GEARS_O_APPEND | GEARS_O_CLOEXEC, 0644, 0, 0);
}

static inline long gears_close(int fd)
{
	return gears_sys3(GEARS_NR_close, fd, 0, 0);
}

static inline unsigned long gears_strlen(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

/* Decimal text of v into buf (at least 21 bytes); returns the length. */
static inline int gears_utoa(unsigned long v, char *buf)
{
	char t[21];
	int n = 0, i = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 20);
	while (n)
		buf[i++] = t[--n];
	buf[i] = 0;
	return i;
}

/* Append `prefix` and the process id, as a line, to the file at `path`:
 * what the example payloads leave behind. 0 or -errno. */
static inline long gears_append_pid_line(const char *path, const char *prefix)
{
	char line[96];
	unsigned long n = 0;
	long fd, w;

	while (prefix[n] && n < sizeof(line) - 23) {
		line[n] = prefix[n];
		n++;
	}
	n += (unsigned long)gears_utoa((unsigned long)gears_sys3(GEARS_NR_getpid, 0, 0, 0), line + n);
	line[n++] = '\n';
	fd = gears_open_append(path);
	if (fd < 0)
		return fd;
	w = gears_write((int)fd, line, n);
	gears_close((int)fd);
	return w < 0 ? w : 0;
}

/* A line in gears' log on the host (debugging). */
static inline void gears_hc_log(const char *s)
{
	gears_hypercall(GEARS_HC_LOG, (long)s, (long)gears_strlen(s), 0, 0, 0);
}

#endif
