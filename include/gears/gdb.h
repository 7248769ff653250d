/* SPDX-License-Identifier: MIT */
/*
 * Client for QEMU's gdbstub (the GDB remote serial protocol): stop/continue,
 * per-vCPU registers (including CR3, EFER and FS/GS base), breakpoints,
 * single-step, and memory access through a vCPU's page tables.
 *
 * QEMU's stub is all-stop: when it reports a stop every vCPU is paused until
 * the next continue. Each stop+continue costs ~0.2-1 ms under TCG, so this is
 * the channel for rare events (installing, attaching, one-off reads), not for
 * anything per-syscall in the fast modes.
 *
 * vCPUs are numbered from 0 here (gdbstub thread id = cpu + 1).
 */
#ifndef GEARS_GDB_H
#define GEARS_GDB_H

#include <gears/gears.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_gdb;

/* The register set QEMU's x86-64 stub exposes (in its own numbering). */
struct gears_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip;
	uint32_t eflags, cs, ss, ds, es, fs, gs;
	uint64_t fs_base, gs_base, k_gs_base;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
};

/* Register numbers for gears_gdb__set_reg() (QEMU's p/P numbering). */
enum gears_reg {
	GEARS_REG_RAX = 0, GEARS_REG_RBX, GEARS_REG_RCX, GEARS_REG_RDX,
	GEARS_REG_RSI, GEARS_REG_RDI, GEARS_REG_RBP, GEARS_REG_RSP,
	GEARS_REG_R8, GEARS_REG_R9, GEARS_REG_R10, GEARS_REG_R11,
	GEARS_REG_R12, GEARS_REG_R13, GEARS_REG_R14, GEARS_REG_R15,
	GEARS_REG_RIP = 16, GEARS_REG_EFLAGS = 17,
	GEARS_REG_CS = 18, GEARS_REG_SS, GEARS_REG_DS, GEARS_REG_ES, GEARS_REG_FS, GEARS_REG_GS,
	GEARS_REG_FS_BASE = 24, GEARS_REG_GS_BASE, GEARS_REG_K_GS_BASE,
	GEARS_REG_CR0 = 27, GEARS_REG_CR2, GEARS_REG_CR3, GEARS_REG_CR4, GEARS_REG_CR8,
	GEARS_REG_EFER = 32,
};

/* Why the VM stopped. */
struct gears_gdb_stop {
	int cpu;		/* vCPU that reported the stop (-1 if none named) */
	int signal;		/* 5 = SIGTRAP (breakpoint/step), 2 = SIGINT (interrupt) */
	bool exited;		/* QEMU reported the target gone ('W'/'X') */
};

/* Connect (waiting up to timeout_ms for the socket), handshake, read the target
 * description. QEMU stops the VM when a client connects; it stays stopped until
 * gears_gdb__cont(). NULL + errno on failure. */
GEARS_API struct gears_gdb *gears_gdb__connect(const char *path, int timeout_ms);
/* Remove this client's breakpoints, detach (QEMU resumes the VM) and close. */
GEARS_API void gears_gdb__close(struct gears_gdb *g);

GEARS_API int gears_gdb__ncpus(const struct gears_gdb *g);
/* Is the VM currently stopped (as far as this client knows)? */
GEARS_API bool gears_gdb__stopped(const struct gears_gdb *g);

/* Stop the VM (interrupt) and wait for the stop reply. No-op if stopped. */
GEARS_API int gears_gdb__stop(struct gears_gdb *g, struct gears_gdb_stop *st);
/* Resume every vCPU. */
GEARS_API int gears_gdb__cont(struct gears_gdb *g);
/* After cont: wait up to timeout_ms (-1 forever) for the next stop.
 * Returns 1 stopped (st filled), 0 timeout, negative errno. */
GEARS_API int gears_gdb__wait(struct gears_gdb *g, int timeout_ms, struct gears_gdb_stop *st);
/* The socket, to poll() for a stop while running. */
GEARS_API int gears_gdb__fd(const struct gears_gdb *g);
/* Single-step vCPU `cpu` by one instruction, with the others kept stopped. */
GEARS_API int gears_gdb__step(struct gears_gdb *g, int cpu, struct gears_gdb_stop *st);

/* Registers of one vCPU (VM must be stopped). */
GEARS_API int gears_gdb__regs(struct gears_gdb *g, int cpu, struct gears_regs *r);
GEARS_API int gears_gdb__set_reg(struct gears_gdb *g, int cpu, enum gears_reg reg, uint64_t val);

/* Hardware (type 1) or software (type 0) breakpoint at a guest-virtual address;
 * under TCG both apply to every vCPU. */
GEARS_API int gears_gdb__bp_insert(struct gears_gdb *g, uint64_t va, bool hw);
GEARS_API int gears_gdb__bp_remove(struct gears_gdb *g, uint64_t va, bool hw);

/* Guest-virtual memory through vCPU `cpu`'s current page tables. Writes go
 * through QEMU, which also drops stale translated code (unlike writes to the
 * RAM file), so use gears_gdb__write for code. */
GEARS_API int gears_gdb__read(struct gears_gdb *g, int cpu, uint64_t va, void *buf, size_t len);
GEARS_API int gears_gdb__write(struct gears_gdb *g, int cpu, uint64_t va, const void *buf, size_t len);

/* Send a raw packet and read the reply (malloc'd, NUL-terminated; caller frees).
 * For diagnostics and tests. */
GEARS_API char *gears_gdb__raw(struct gears_gdb *g, const char *packet);

/*
 * Packet framing of the remote serial protocol, exposed for tests:
 * `$payload#xx` with '}' escapes and '*' run-length encoding in replies.
 */
/* Encode payload into out (capacity outsz). Returns bytes written or -ENOSPC. */
GEARS_API long gears_rsp__encode(const void *payload, size_t len, char *out, size_t outsz);
struct gears_rsp_dec {
	int state;
	unsigned char sum, csum;
	int ndigits;
	char *pkt;		/* decoded payload of the last complete packet (NUL-terminated) */
	size_t len, cap;
	unsigned acks, nacks;	/* '+' / '-' seen */
	unsigned bad_checksums;
	unsigned interrupts;	/* 0x03 bytes seen outside packets */
};
/* Feed bytes; returns 1 when a packet completed (dec->pkt/len valid until the
 * next feed), 0 when more is needed; *used says how many bytes were consumed.
 * Packets with a bad checksum are dropped and counted (the caller NAKs).
 * -EMSGSIZE for a payload over 1 MiB. */
GEARS_API int gears_rsp__feed(struct gears_rsp_dec *d, const char *buf, size_t len, size_t *used);
GEARS_API void gears_rsp__reset(struct gears_rsp_dec *d);

#ifdef __cplusplus
}
#endif
#endif
