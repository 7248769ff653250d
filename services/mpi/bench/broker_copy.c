// SPDX-License-Identifier: MIT
/*
 * broker_copy: the host half of the MPI accelerator alone, against the memcpy
 * it replaces. Two synthetic VMs (RAM files with page tables built in them, as
 * in the broker's unit test) whose processes' buffers are mapped to scattered
 * 4 KiB frames (every other frame, backwards: as a guest's anonymous memory
 * looks) or to 2 MiB pages; rank 0 in one VM sends to rank 1 in the other
 * through mpi_broker_hcall(), a receive posted first, so each message is one
 * translated copy. Beside it, memcpy between the same two RAM mappings.
 * Alternated rounds; the medians' ratio per size, the target >= 0.9 at 1 MiB
 * and up (the broker's translation and checks cost at most a tenth of the
 * copy). Every message's bytes are checked after its round; a wrong byte is an
 * error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest_ram.h"
#include "../host/mpi_broker.h"
#include "../guest/gears_mpi_abi.h"

#define RAM (80 * MiB)
#define BUF_VA 0x40000000ull
#define DONE_VA 0x30000000ull
#define DATA_PA (8 * MiB)	/* 4 KiB layout: frames from here, 32 MiB of them */
#define HUGE_PA (44 * MiB)	/* 2 MiB layout: 16 MiB from here (2 MiB aligned: 44 = 22 * 2) */
#define MAX_MSG (16 * MiB)
#define ROUNDS 5

struct vm {
	struct guest g;
	char path[64];
	struct mpi_broker *b;
	int fd;
	uint64_t cr3_small, cr3_huge;
};

static char broker_path[64];
static struct vm vms[2];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "ERROR: broker_copy: %s\n", what);
	exit(1);
}

static void vm_init(int n)
{
	struct vm *v = &vms[n];
	char err[128];
	uint64_t pages = MAX_MSG / 4096;

	snprintf(v->path, sizeof(v->path), "/dev/shm/gears-bench-mpi-%d-%d", (int)getpid(), n);
	v->fd = open(v->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (v->fd < 0 || ftruncate(v->fd, RAM))
		die("cannot make a RAM file in /dev/shm");
	v->g.ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->g.ram == MAP_FAILED)
		die("mmap");
	memset(v->g.ram, 0, RAM);	/* every page there before timing */
	v->g.size = v->g.below_4g = RAM;
	v->g.m = gears_mem__from_buffer(v->g.ram, RAM, RAM, true);
	v->g.levels = 4;
	v->g.next = 0x2000;
	/* two address spaces: one of 4 KiB pages, scattered; one of 2 MiB pages */
	v->g.cr3 = v->cr3_small = 0x1000;
	for (uint64_t i = 0; i < pages; i++)
		map(&v->g, BUF_VA + i * 4096, DATA_PA + (2 * (pages - 1 - i) + (i & 1)) * 4096, 1, PRW);
	map(&v->g, DONE_VA, DATA_PA - 4096, 1, PRW);
	v->cr3_huge = v->g.next;
	v->g.next += 4096;
	v->g.cr3 = v->cr3_huge;
	for (uint64_t i = 0; i < MAX_MSG / (2 * MiB); i++)
		map(&v->g, BUF_VA + i * 2 * MiB, HUGE_PA + i * 2 * MiB, 2, PRW);
	map(&v->g, DONE_VA, DATA_PA - 4096, 1, PRW);
	if (v->g.next >= DATA_PA - 4096)
		die("page tables overflow");
	if (!(v->b = mpi_broker_open(broker_path, err, sizeof(err))))
		die(err);
	if (mpi_broker_add_vm(v->b, v->g.m, v->path, RAM, RAM, 4, getpid()) < 0)
		die("add_vm");
}

static int64_t hc(int n, int pid, uint64_t cr3, uint64_t op, uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t a[6] = { op, a1, a2, a3, 0, DONE_VA };

	return mpi_broker_hcall(vms[n].b, pid, cr3, a);
}

/* Attach rank 0 (VM 0) and rank 1 (VM 1) in the address spaces of `huge`. */
static void attach(bool huge)
{
	for (int n = 0; n < 2; n++) {
		uint64_t cr3 = huge ? vms[n].cr3_huge : vms[n].cr3_small;

		if (hc(n, 100 + n, cr3, GMPI_HC_ATTACH, n, 2, GMPI_ABI) <= 0)
			die("attach");
	}
}

/* `iters` messages of `size`, each a posted receive then the matching send. */
static double broker_round(bool huge, uint64_t size, long iters)
{
	uint64_t c0 = huge ? vms[0].cr3_huge : vms[0].cr3_small, c1 = huge ? vms[1].cr3_huge : vms[1].cr3_small;
	double t = now();

	for (long i = 0; i < iters; i++) {
		if (hc(1, 101, c1, GMPI_HC_RECV, BUF_VA, size, 0) != GMPI_POSTED ||
		    hc(0, 100, c0, GMPI_HC_SEND, BUF_VA, size, 1) != GMPI_DONE)
			die("a message did not go through the broker");
	}
	return now() - t;
}

static double memcpy_round(uint64_t size, long iters)
{
	double t = now();

	for (long i = 0; i < iters; i++) {
		memcpy(vms[1].g.ram + HUGE_PA, vms[0].g.ram + HUGE_PA, size);
		__asm__ volatile("" : : : "memory");
	}
	return now() - t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The receiver's buffer holds the sender's bytes (through each one's tables). */
static void check(bool huge, uint64_t size)
{
	unsigned char *a = malloc(size), *b = malloc(size);
	uint64_t c0 = huge ? vms[0].cr3_huge : vms[0].cr3_small, c1 = huge ? vms[1].cr3_huge : vms[1].cr3_small;

	if (!a || !b || gears_vmem__read(vms[0].g.m, c0, 4, BUF_VA, a, size) ||
	    gears_vmem__read(vms[1].g.m, c1, 4, BUF_VA, b, size) || memcmp(a, b, size))
		die("the receiver's bytes are not the sender's");
	free(a);
	free(b);
}

static void fill(bool huge, uint64_t size, unsigned seed)
{
	unsigned char *p = malloc(size);
	uint64_t c0 = huge ? vms[0].cr3_huge : vms[0].cr3_small;

	for (uint64_t i = 0; i < size; i++)
		p[i] = (unsigned char)((i * 2654435761u >> 11) ^ seed);
	if (gears_vmem__write(vms[0].g.m, c0, 4, BUF_VA, p, size, false))
		die("fill");
	free(p);
}

int main(void)
{
	static const uint64_t sizes[] = { 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB };
	int missed = 0;

	snprintf(broker_path, sizeof(broker_path), "/dev/shm/gears-bench-mpi-broker-%d", (int)getpid());
	unlink(broker_path);
	vm_init(0);
	vm_init(1);
	printf("broker copy between two synthetic VMs vs memcpy: %d alternated rounds, MB/s median (min-max)\n",
	       ROUNDS);
	printf("%-6s %9s %26s %26s %7s\n", "pages", "size", "broker", "memcpy", "ratio");
	for (int huge = 0; huge < 2; huge++) {
		attach(huge);
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			uint64_t size = sizes[k];
			long iters = (long)(256 * MiB / size);
			double bro[ROUNDS], mem[ROUNDS], rb, rm;

			for (int r = 0; r < ROUNDS; r++) {
				fill(huge, size, (unsigned)r);
				if (r % 2) {
					mem[r] = memcpy_round(size, iters);
					bro[r] = broker_round(huge, size, iters);
				} else {
					bro[r] = broker_round(huge, size, iters);
					mem[r] = memcpy_round(size, iters);
				}
				check(huge, size);
				bro[r] = (double)size * (double)iters / bro[r] / 1e6;
				mem[r] = (double)size * (double)iters / mem[r] / 1e6;
			}
			rb = median(bro, ROUNDS);
			rm = median(mem, ROUNDS);
			printf("%-6s %8lluK %10.0f (%6.0f-%6.0f) %10.0f (%6.0f-%6.0f) %7.2f%s\n", huge ? "2M" : "4K",
			       (unsigned long long)(size >> 10), rb, bro[0], bro[ROUNDS - 1], rm, mem[0], mem[ROUNDS - 1],
			       rb / rm, size >= MiB ? (rb / rm >= 0.9 ? "  MET (target >= 0.9)" : "  MISSED (target >= 0.9)") : "");
			if (size >= MiB && rb / rm < 0.9)
				missed++;
		}
	}
	for (int n = 0; n < 2; n++) {
		mpi_broker_close_last(vms[n].b);
		gears_mem__close(vms[n].g.m);
		munmap(vms[n].g.ram, RAM);
		close(vms[n].fd);
		unlink(vms[n].path);
	}
	unlink(broker_path);
	printf("broker_copy: %d of 6 targets missed\n", missed);
	return 0;
}
