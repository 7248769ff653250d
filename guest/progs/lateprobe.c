// SPDX-License-Identifier: MIT
/*
 * lateprobe PATH SECONDS: does an answer that gears gives after this thread
 * stopped waiting for it still change anything? The guest's own view, for
 * tests/vm/test_late.sh.
 *
 * It runs execve(PATH) (a path that does not exist, under an env rule that
 * matches it, with the supervisor made to answer late) on a stack of its own
 * whose every byte below the stack pointer is a known pattern, then sleeps
 * SECONDS in nanosleep with a known value in rdx, a register the kernel
 * preserves. A late env answer would write the new environment below that
 * stack pointer and point rdx at it; afterwards both are checked. Prints
 * "execve R rdx ok|changed stack ok|changed" and exits 0 only if both are ok.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AREA (256 * 1024)
#define MAGIC 0x5a5a5a5a5a5a5a5aull

extern char **environ;
static unsigned char area[AREA] __attribute__((aligned(4096)));

int main(int argc, char **argv)
{
	struct timespec ts = { 0 };
	char *args[] = { NULL, NULL };
	long ex = 0;
	uint64_t rdx = 0;
	size_t bad = 0;
	void *di, *si, *dx;

	if (argc != 3) {
		fprintf(stderr, "usage: lateprobe PATH SECONDS\n");
		return 2;
	}
	ts.tv_sec = atol(argv[2]);
	args[0] = argv[1];
	memset(area, 0xa5, sizeof(area));
	di = args[0];
	si = args;
	dx = environ;
	/* Both calls from a stack in `area`, with nothing of ours below it: the
	 * host places an environment below the caller's stack pointer. */
	__asm__ volatile("mov %%rsp, %%r12\n\t"
			 "mov %[sp], %%rsp\n\t"
			 "mov $59, %%eax\n\t"		/* execve(path, args, environ) */
			 "syscall\n\t"
			 "mov %%rax, %%r13\n\t"
			 "mov $35, %%eax\n\t"		/* nanosleep(&ts, NULL), rdx = MAGIC */
			 "mov %[ts], %%rdi\n\t"
			 "xor %%esi, %%esi\n\t"
			 "movabs $0x5a5a5a5a5a5a5a5a, %%rdx\n\t"
			 "syscall\n\t"
			 "mov %%r12, %%rsp\n\t"
			 "mov %%r13, %[ex]\n\t"
			 "mov %%rdx, %[rdx]"
			 : [ex] "=&r"(ex), [rdx] "=&r"(rdx), "+D"(di), "+S"(si), "+d"(dx)
			 : [sp] "r"(area + AREA - 64), [ts] "r"(&ts)
			 : "rax", "rcx", "r11", "r12", "r13", "memory");
	for (size_t i = 0; i < AREA - 64; i++)
		bad += area[i] != 0xa5;
	printf("execve %ld rdx %s stack %s\n", ex, rdx == MAGIC ? "ok" : "changed",
	       bad ? "changed" : "ok");
	return ex < 0 && rdx == MAGIC && !bad ? 0 : 1;
}
