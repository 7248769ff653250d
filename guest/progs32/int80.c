// SPDX-License-Identifier: MIT
/*
 * int80: a 32-bit program that makes its system calls with `int $0x80` (the
 * compat i386 ABI): getpid, write("int80 ok\n"), exit_group(0). No libc, so it
 * shows exactly these calls to a tracer.
 */
static long sys(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

void _start(void)
{
	static const char msg[] = "int80 ok\n";

	sys(20, 0, 0, 0);			/* getpid */
	sys(4, 1, (long)msg, sizeof(msg) - 1);	/* write */
	sys(252, 0, 0, 0);			/* exit_group */
	for (;;)
		;
}
