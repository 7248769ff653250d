// SPDX-License-Identifier: MIT
/*
 * Boot time of a real distribution from its disk: the Debian 12 disk of the
 * disk-guest tests (make image-debian: systemd, its own boot loader) to
 * systemd's multi-user.target, under `gears run --disk` against plain
 * qemu-system-x86_64 with the same disk (snapshot), vCPUs, memory, machine and
 * accelerator, alternated round by round. Both are timed the same way, through
 * their serial console: from spawning the process until the autologin root shell
 * has answered `systemctl is-system-running --wait` (which returns once the
 * default target, multi-user.target, is reached and no start-up job is left).
 * For plain QEMU the console is a socket this program listens on; for gears it
 * is the supervisor's console stream (a control-socket client, as `gears
 * console` is), the only extra being what gears adds.
 *
 * Target (docs/SPECIFICATION.md): the median of the rounds' gears/qemu ratios
 * <= 1.10, printed with MET or MISSED. A
 * round that does not get there, or a missing disk, fails the benchmark.
 * GEARS_DEBIAN_DISK overrides the disk; BOOT_DISK_ROUNDS the number of rounds.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <gears/ctl.h>

#include "bench.h"

#define ROUNDS 5
#define T_BOOT 1.10	/* gears / qemu: at most */
#define TIMEOUT 600.0	/* s per boot */
#define PROMPT "root@gears-debian:"
#define ASK "systemctl is-system-running --wait; echo bench-done-$((6*7))\r"
#define DONE "bench-done-42"

/* A serial console: a socket (plain QEMU) or the supervisor's stream (gears). */
struct con {
	int fd;
	struct gears_ctl *ctl;
};

/* Up to n bytes of console output within timeout_ms: > 0, 0 (nothing), < 0 (gone). */
static ssize_t con_read(struct con *c, char *buf, size_t n, int timeout_ms)
{
	if (c->ctl) {
		struct gears_ctl_msg m;
		int r = gears_ctl__recv(c->ctl, &m, timeout_ms);

		if (r < 0)
			return -1;
		if (r == 0 || strcmp(m.type, "CON"))
			return 0;
		n = m.len < n ? m.len : n;
		memcpy(buf, m.data, n);
		return (ssize_t)n;
	}
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	ssize_t r = read(c->fd, buf, n);

	return r > 0 ? r : -1;
}

static int con_type(struct con *c, const char *s)
{
	if (c->ctl)
		return gears_ctl__send(c->ctl, "TYPE", 0, s, strlen(s));
	return write(c->fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
}

/* Seconds from t0 until the shell on the console has answered ASK; -1 if not. */
static double to_multi_user(struct con *c, double t0)
{
	char buf[16384];
	size_t len = 0;
	bool asked = false;

	while (bench_now() - t0 < TIMEOUT) {
		ssize_t n = con_read(c, buf + len, sizeof(buf) - 1 - len, 200);

		if (n < 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		if (!asked && strstr(buf, PROMPT)) {
			if (con_type(c, ASK))
				return -1;
			asked = true;
			len = 0;	/* what follows is the answer */
		} else if (asked && strstr(buf, DONE)) {
			return bench_now() - t0;
		}
		if (len > sizeof(buf) / 2) {
			memmove(buf, buf + len - 256, 256);
			len = 256;
		}
	}
	return -1;
}

static double plain_qemu(const char *drive)
{
	char sock[] = "/tmp/gears-bench-bootdisk-XXXXXX", chardev[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	posix_spawn_file_actions_t fa;
	struct con c = { .fd = -1 };
	int lfd;
	pid_t pid;
	double t0, t = -1;

	close(mkstemp(sock));
	unlink(sock);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		bench_die("bind %s: %s", sock, strerror(errno));
	snprintf(chardev, sizeof(chardev), "socket,id=con,path=%s", sock);
	/* What gears run gives QEMU for a disk guest, without GEARS' own devices. */
	char *argv[] = { "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
			 "-no-reboot", "-machine", "pc", "-accel", "tcg,thread=multi", "-smp", "2",
			 "-m", "512M", "-drive", (char *)drive, "-chardev", chardev, "-serial", "chardev:con",
			 NULL };

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = bench_now();
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ))
		bench_die("cannot run %s", argv[0]);
	c.fd = accept(lfd, NULL, NULL);
	if (c.fd >= 0)
		t = to_multi_user(&c, t0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (c.fd >= 0)
		close(c.fd);
	close(lfd);
	unlink(sock);
	posix_spawn_file_actions_destroy(&fa);
	return t;
}

static double gears_run(const char *disk, int round)
{
	char name[64];
	posix_spawn_file_actions_t fa;
	struct con c = { .fd = -1 };
	struct gears_ctl_msg m;
	pid_t pid;
	double t0, t = -1;
	int r, st;

	snprintf(name, sizeof(name), "bench-disk-%d-%d", (int)getpid(), round);
	char *argv[] = { (char *)bench_gears(), "run", "--name", name, "--accel", "tcg", "--disk", (char *)disk,
			 "--snapshot", NULL };

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = bench_now();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
		bench_die("cannot run %s", argv[0]);
	c.ctl = gears_ctl__open(name, 30000);
	if (c.ctl) {
		r = gears_ctl__send(c.ctl, "CONSOLE", 1, NULL, 0);
		while (!r && (r = gears_ctl__recv(c.ctl, &m, 5000)) == 1 && m.id != 1)
			r = 0;	/* announcements */
		if (r == 1 && !strcmp(m.type, "OK"))
			t = to_multi_user(&c, t0);
		gears_ctl__close(c.ctl);
	}
	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	posix_spawn_file_actions_destroy(&fa);
	return t;
}

int main(void)
{
	const char *disk = getenv("GEARS_DEBIAN_DISK");
	const char *rs = getenv("BOOT_DISK_ROUNDS");
	int rounds = rs && atoi(rs) > 0 && atoi(rs) <= 50 ? atoi(rs) : ROUNDS;
	double q[50], g[50], qs[50], gs[50], ratio[50];

	char drive[1200], tgt[64];

	bench_name = "boot_disk";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!disk || !*disk)
		disk = "build/image-debian/disk.qcow2";
	if (access(disk, R_OK)) {
		if (geteuid() != 0) {
			/* make bench builds the disk as root only (debootstrap). */
			printf("boot_disk: skipped: no disk %s (make image-debian needs root)\n", disk);
			return 0;
		}
		bench_die("no disk %s: build it with make image-debian", disk);
	}
	if (strchr(disk, ','))
		bench_die("disk path %s has a comma, which QEMU's -drive cannot take here", disk);
	snprintf(drive, sizeof(drive), "file=%s,if=virtio,format=qcow2,cache=writeback,snapshot=on", disk);
	for (int i = 0; i < rounds; i++) {
		/* Alternate which goes first, so neither always boots on a cooler machine. */
		if (i % 2) {
			g[i] = gears_run(disk, i);
			q[i] = plain_qemu(drive);
		} else {
			q[i] = plain_qemu(drive);
			g[i] = gears_run(disk, i);
		}
		if (q[i] < 0)
			bench_die("plain qemu: the disk guest did not reach multi-user.target in %.0f s (round %d)",
				  TIMEOUT, i + 1);
		if (g[i] < 0)
			bench_die("gears run --disk: the guest did not reach multi-user.target in %.0f s (round %d)",
				  TIMEOUT, i + 1);
		ratio[i] = g[i] / q[i];
		printf("  round %d: plain qemu %.2f s, gears run %.2f s, ratio %.3f\n", i + 1, q[i], g[i], ratio[i]);
		qs[i] = q[i];
		gs[i] = g[i];
	}
	/* Rounds are pairs taken back to back: the figure is the median of their
	 * ratios (on a loaded machine a round's two boots move together, while the
	 * medians of the two series may come from different rounds). */
	double mq = bench_median(qs, rounds), mg = bench_median(gs, rounds);
	double rmin = bench_pct(ratio, rounds, 0), rmax = bench_pct(ratio, rounds, 1);
	double rm = bench_median(ratio, rounds);

	printf("disk guest (Debian 12, systemd) to multi-user.target (TCG, 2 vCPUs, 512 MiB), median of %d "
	       "alternated rounds:\n", rounds);
	printf("  plain qemu-system-x86_64   %7.2f s\n", mq);
	printf("  gears run --disk           %7.2f s\n", mg);
	printf("  ratio gears/qemu, median of the rounds' ratios  %.3f (%.3f..%.3f)   %s\n", rm, rmin, rmax,
	       bench_target(tgt, sizeof(tgt), rm, true, T_BOOT));
	return 0;
}
