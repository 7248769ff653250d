// SPDX-License-Identifier: MIT
/*
 * sigchld: a wait4 that returns while a SIGCHLD is pending. With a handler
 * installed, a child exits; the parent's wait4 reaps it, and the kernel then
 * delivers SIGCHLD on the way out of that very call (its exit work sets up the
 * handler's frame). Prints "wait4 PID handled N": the value wait4 returned to
 * the program and how many SIGCHLDs the handler saw. A tracer that reads the
 * return value after signal delivery sees the handler frame's value instead.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_chld(int sig)
{
	(void)sig;
	handled++;
}

int main(void)
{
	struct sigaction sa;
	long r;
	pid_t pid;
	int st = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		usleep(100000);	/* the parent is asleep in wait4 by now */
		_exit(3);
	}
	/* The raw call: no libc retry or wrapper between it and us. */
	r = syscall(SYS_wait4, -1, &st, 0, NULL);
	printf("wait4 %ld handled %d\n", r, (int)handled);
	return r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3 && handled == 1 ? 0 : 1;
}
