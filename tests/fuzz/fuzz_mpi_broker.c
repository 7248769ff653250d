// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the MPI accelerator's hypercall decoder and broker
 * (services/mpi/host/mpi_broker.c): two VMs whose page tables and hypercalls
 * come from the input, as a hostile guest controls both. ASan catches any
 * access outside the guests' RAM or the broker; the check below catches a
 * write the broker must never make: to a frame that no page maps writable and
 * user-accessible (the page-table frames aside, whose A/D bits the host sets).
 *
 * Input: a list of 16-byte commands (little-endian):
 *   0  u8  what: 0..4 a hypercall op (ATTACH, SEND, RECV, DETACH, PROBE) made
 *             by process u8[1] % 4 of VM u8[2] & 1; 5 maps a page; 6 a process
 *             goes away; 7 a raw hypercall with a 64-bit buffer address
 *   3  u8  page (of the 64-page window) or ranks
 *   4  u32 length / frame and flags
 *   8  u32 peer | tag (16 bits each, 0xffff = any)
 *   12 u16 context, u16 block offset
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../unit/guest_ram.h"
#include "../../services/mpi/host/mpi_broker.h"
#include "../../services/mpi/guest/gears_mpi_abi.h"

#define RAM (1 * MiB)
#define WIN_VA 0x40000000ull	/* the processes' window: 64 pages */
#define WIN_PAGES 64
#define FRAME0 (256 * KiB)	/* data frames: 128 of them, from here */
#define FRAMES 128
#define TABLES_END FRAME0	/* page tables live below */
/* every data frame starts filled with its own byte, so a copy between two
 * frames changes the target */
#define CANARY(vm, f) ((uint8_t)(0x5a ^ (f) ^ (vm) << 7))
#define MAX_CMDS 256
#define ENSURE(c) do { if (!(c)) __builtin_trap(); } while (0)

struct vm {
	struct guest g;
	char path[64];
	int fd;
	uint64_t cr3[4];	/* a process per table root */
};

static struct vm vms[2];
static char broker_path[64];
static bool ready;

static void remove_files(void)
{
	for (int n = 0; n < 2; n++)
		unlink(vms[n].path);
	unlink(broker_path);
}

static void setup(void)
{
	for (int n = 0; n < 2; n++) {
		struct vm *v = &vms[n];

		snprintf(v->path, sizeof(v->path), "/dev/shm/gears-fuzz-mpi-%d-%d", (int)getpid(), n);
		v->fd = open(v->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		ENSURE(v->fd >= 0 && !ftruncate(v->fd, RAM));
		v->g.ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		ENSURE(v->g.ram != MAP_FAILED);
		v->g.size = v->g.below_4g = RAM;
		v->g.m = gears_mem__from_buffer(v->g.ram, RAM, RAM, true);
		v->g.levels = 4;
	}
	snprintf(broker_path, sizeof(broker_path), "/dev/shm/gears-fuzz-mpi-broker-%d", (int)getpid());
	atexit(remove_files);
	ready = true;
}

/* Fresh RAM: canaries in every data frame, four processes' empty tables. */
static void reset(int n)
{
	struct vm *v = &vms[n];

	memset(v->g.ram, 0, TABLES_END);
	for (int f = 0; f < FRAMES; f++)
		memset(v->g.ram + FRAME0 + (size_t)f * 4096, CANARY(n, f), 4096);
	v->g.next = 0x10000;
	for (int p = 0; p < 4; p++)
		v->cr3[p] = 0x1000 + 0x1000 * (uint64_t)p;
}

static void map_page(struct vm *v, int proc, unsigned page, uint32_t arg)
{
	uint64_t flags = (arg & 1 ? P : 0) | (arg & 2 ? RW : 0) | (arg & 4 ? US : 0);

	if (v->g.next + 4 * 4096 > TABLES_END)
		return;	/* out of table pages: this command does nothing */
	v->g.cr3 = v->cr3[proc];
	map(&v->g, WIN_VA + (uint64_t)(page % WIN_PAGES) * 4096, FRAME0 + (uint64_t)((arg >> 8) % FRAMES) * 4096, 1,
	    flags);
}

/* Frames a process may have written to: mapped P|RW|US by some process at
 * the end (a frame that was writable earlier may have been written then: the
 * check is made only for frames no command ever made writable). */
static bool ever_writable[2][FRAMES];

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpi_broker *b[2];
	char err[128];

	if (!ready)
		setup();
	memset(ever_writable, 0, sizeof(ever_writable));
	unlink(broker_path);
	for (int n = 0; n < 2; n++) {
		reset(n);
		b[n] = mpi_broker_open(broker_path, err, sizeof(err));
		ENSURE(b[n]);
		ENSURE(mpi_broker_add_vm(b[n], vms[n].g.m, vms[n].path, RAM, RAM, 4, getpid()) == n);
	}
	for (size_t off = 0, k = 0; off + 16 <= size && k < MAX_CMDS; off += 16, k++) {
		const uint8_t *c = data + off;
		int what = c[0] % 8, proc = c[1] % 4, n = c[2] & 1;
		struct vm *v = &vms[n];
		uint32_t len = (uint32_t)le(c + 4, 4);
		uint32_t pt = (uint32_t)le(c + 8, 4);
		uint64_t a[6];
		int32_t peer = (pt & 0xffff) == 0xffff ? GMPI_ANY : (int32_t)(pt & 0xffff);
		int32_t tag = (pt >> 16) == 0xffff ? GMPI_ANY : (int32_t)(pt >> 16);

		a[1] = WIN_VA + (uint64_t)c[3] * 64;	/* inside the window, or past it */
		a[2] = len & 0x1ffff;
		a[3] = (uint32_t)peer | (uint64_t)(uint32_t)tag << 32;
		a[4] = le(c + 12, 2) | (uint64_t)(c[0] >> 7) << 32;	/* sometimes GMPI_F_SYNC */
		a[5] = WIN_VA + (le(c + 14, 2) & 0x3ffff);
		switch (what) {
		case 5:
			map_page(v, proc, c[3], len);
			if ((len & 7) == 7)
				ever_writable[n][(len >> 8) % FRAMES] = true;
			continue;
		case 6:
			mpi_broker_process_gone(b[n], 100 + proc);
			continue;
		case 7:
			a[0] = GMPI_HC_BASE + (c[3] % 6);
			a[1] = le(c + 4, 8) ^ ((uint64_t)c[1] << 40);
			break;
		case 0:
			a[0] = GMPI_HC_ATTACH;
			a[1] = c[3] % 5;	/* rank, sometimes out of range */
			a[2] = 1 + (c[3] >> 4) % 4;
			a[3] = GMPI_ABI + (c[4] == 0xff);
			break;
		default:
			a[0] = GMPI_HC_BASE + what;
		}
		(void)mpi_broker_hcall(b[n], 100 + proc, v->cr3[proc], a);
	}
	static uint8_t canary[4096];

	for (int n = 0; n < 2; n++) {
		(void)mpi_broker_close_last(b[n]);
		for (int f = 0; f < FRAMES; f++) {
			const uint8_t *p = vms[n].g.ram + FRAME0 + (size_t)f * 4096;

			if (ever_writable[n][f])
				continue;
			memset(canary, CANARY(n, f), sizeof(canary));
			ENSURE(!memcmp(p, canary, sizeof(canary)));
		}
	}
	unlink(broker_path);
	return 0;
}
