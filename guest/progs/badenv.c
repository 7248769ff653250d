// SPDX-License-Identifier: MIT
/*
 * badenv PROG [ARG...]: execve PROG with an envp pointer no process can read
 * (address 8). The kernel refuses with EFAULT; prints "execve: ERRNO-NAME" and
 * exits 0 when that is EFAULT, so a test can see that a call whose envp
 * gears cannot read either goes on unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	syscall(SYS_execve, argv[1], argv + 1, 8L);
	printf("execve: %s\n", errno == EFAULT ? "EFAULT" : "not EFAULT");
	return errno == EFAULT ? 0 : 1;
}
