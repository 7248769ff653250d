// SPDX-License-Identifier: MIT
/*
 * Boot time to the guest's /init: `gears run` against plain qemu-system-x86_64
 * with the same kernel, initrd, vCPUs, memory and accelerator, alternated run by
 * run on the same machine. Both are timed by this program, from spawning the
 * process to seeing the guest's first sign of /init (the "INIT" line /init
 * writes to the second serial port), so the ratio is what a user pays for
 * gears' launcher: shared-memory files, sockets, QMP, the paused start.
 *
 * Target (docs/SPECIFICATION.md): ratio <= 1.10, printed beside the figure
 * with MET or MISSED. A guest that does not reach /init, or a `gears run` that
 * does not exit 0, ends the run (status 1).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include "bench.h"

#define RUNS 7
#define T_BOOT 1.10	/* gears / qemu: at most */

static const char *image(const char *file)
{
	static char buf[2][512];
	static int i;
	const char *d = getenv("GEARS_IMAGE_DIR");

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", d && *d ? d : "build/image", file);
	return buf[i];
}

/* Wait on fd for a line containing `needle`; returns seconds since t0 or -1. */
static double wait_for(int fd, const char *needle, double t0, double timeout)
{
	char buf[8192];
	size_t len = 0;

	while (bench_now() - t0 < timeout) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		if (strstr(buf, needle))
			return bench_now() - t0;
		if (len > sizeof(buf) / 2) {
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
	return -1;
}

static double plain_qemu(void)
{
	char sock[] = "/tmp/gears-bench-boot-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char chardev[256];
	int lfd, cfd;
	pid_t pid;
	double t0, t;

	close(mkstemp(sock));
	unlink(sock);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		bench_die("bind %s: %s", sock, strerror(errno));
	snprintf(chardev, sizeof(chardev), "socket,id=a,path=%s", sock);
	char *argv[] = { "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
			 "-no-reboot", "-machine", "pc", "-accel", "tcg,thread=multi", "-smp", "2",
			 "-m", "512M", "-kernel", (char *)image("vmlinuz"),
			 "-initrd", (char *)image("initrd.img"), "-append", "console=ttyS0 quiet panic=-1",
			 "-serial", "null", "-chardev", chardev, "-serial", "chardev:a", NULL };
	posix_spawn_file_actions_t fa;
	char *av[64];
	int n = 0;

	for (; argv[n]; n++)
		av[n] = argv[n];
	/* BOOT_QEMU_EXTRA: extra words for the plain run (experiments). */
	char *extra = getenv("BOOT_QEMU_EXTRA") ? strdup(getenv("BOOT_QEMU_EXTRA")) : NULL;

	for (char *w = extra ? strtok(extra, " ") : NULL; w && n < 62; w = strtok(NULL, " "))
		av[n++] = w;
	av[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = bench_now();
	if (posix_spawnp(&pid, av[0], &fa, NULL, av, environ))
		bench_die("cannot run %s", av[0]);
	cfd = accept(lfd, NULL, NULL);
	t = wait_for(cfd, "INIT", t0, 60);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(cfd);
	close(lfd);
	unlink(sock);
	posix_spawn_file_actions_destroy(&fa);
	free(extra);
	return t;
}

static double gears_run(void)
{
	int pfd[2], st;
	pid_t pid;
	double t0, t;
	char *argv[] = { (char *)bench_gears(), "run", "--accel", "tcg", "--timing", "--", "true", NULL };
	posix_spawn_file_actions_t fa;

	if (pipe(pfd))
		bench_die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	t0 = bench_now();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
		bench_die("cannot run %s", argv[0]);
	close(pfd[1]);
	t = wait_for(pfd[0], "/init started", t0, 60);
	if (t < 0)
		kill(pid, SIGTERM);
	/* Drain what is left so that gears never blocks on a full pipe. */
	while (read(pfd[0], (char[4096]){ 0 }, 4096) > 0)
		;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	posix_spawn_file_actions_destroy(&fa);
	if (t >= 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		bench_die("gears run --timing -- true did not exit 0 (status 0x%x)", st);
	return t;
}

int main(void)
{
	double q[RUNS], g[RUNS];
	char tgt[64];

	bench_name = "boot";
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < RUNS; i++) {
		q[i] = plain_qemu();
		if (q[i] < 0)
			bench_die("plain qemu: the guest did not reach /init within 60 s (round %d)", i + 1);
		g[i] = gears_run();
		if (g[i] < 0)
			bench_die("gears run: the guest did not reach /init within 60 s (round %d)", i + 1);
	}
	double mq = bench_median(q, RUNS), mg = bench_median(g, RUNS);

	printf("boot to /init (TCG, 2 vCPUs, 512 MiB), median of %d alternated runs:\n", RUNS);
	printf("  plain qemu-system-x86_64   %7.3f s\n", mq);
	printf("  gears run                  %7.3f s\n", mg);
	printf("  ratio gears/qemu           %7.3f   %s\n", mg / mq, bench_target(tgt, sizeof(tgt), mg / mq, true, T_BOOT));
	return 0;
}
