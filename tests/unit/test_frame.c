// SPDX-License-Identifier: MIT
/* The agent/control-socket frame codec (lib/frame.c) and the control
 * socket's client helpers (gears/ctl.h). */
#include <stdlib.h>
#include <string.h>

#include <gears/ctl.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"

#include "testlib.h"

TEST(frames_split_anywhere)
{
	const char in[] = "INIT 0 0\r\nREADY 0 5\nhello" "OUT 7 3\na\0b";
	size_t n = sizeof(in) - 1;

	/* Feed one byte at a time: every split point must work. */
	struct frame_reader r = { 0 };
	struct frame f;
	int got = 0;
	const char *types[] = { "INIT", "READY", "OUT" };

	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(frame_reader_feed(&r, in + i, 1), 0);
		while (frame_reader_next(&r, &f) == 1) {
			CHECK(got < 3);
			if (got >= 3)
				break;
			CHECK_STR(f.type, types[got]);
			if (got == 1)
				CHECK(f.len == 5 && !memcmp(f.data, "hello", 5));
			if (got == 2)
				CHECK(f.id == 7 && f.len == 3 && !memcmp(f.data, "a\0b", 3));
			got++;
		}
	}
	CHECK_EQ(got, 3);
	CHECK_EQ(r.bad, 0);
	frame_reader_free(&r);
}

TEST(malformed_headers_skipped)
{
	const char in[] = "garbage line\nEXIT 1 notanumber\nTOOBIG 1 99999999\nEXIT 1 1\n0";
	struct frame_reader r = { 0 };
	struct frame f;

	frame_reader_feed(&r, in, sizeof(in) - 1);
	CHECK_EQ(frame_reader_next(&r, &f), 1);
	CHECK_STR(f.type, "EXIT");
	CHECK_STR(f.data, "0");
	CHECK_EQ(r.bad, 3);
	frame_reader_free(&r);
}

TEST(argv_roundtrip)
{
	char *argv[] = { "sh", "-c", "echo 'a b'", "", NULL };
	size_t len;
	char *p = gears_ctl__pack_argv(argv, &len);
	char **v = gears_ctl__unpack_argv(p, len);

	CHECK(v != NULL);
	for (int i = 0; i < 4; i++)
		CHECK_STR(v[i], argv[i]);
	CHECK(v[4] == NULL);
	free(v);
	free(p);
}

TEST(argv_unterminated_tail_ignored)
{
	char data[] = { 'a', 0, 'b', 'c' };
	char **v = gears_ctl__unpack_argv(data, sizeof(data));

	CHECK_STR(v[0], "a");
	CHECK(v[1] == NULL);
	free(v);
}

TEST(ctl_open_refuses_bad_names)
{
	const char *bad[] = { "", "..", ".", "a/b", "../etc" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(gears_ctl__open(bad[i], 0) == NULL);
		CHECK_EQ(errno, EINVAL);
	}
}

/* A fake supervisor: a listening ctl.sock under a private runtime dir. */
static int fake_supervisor(char *dir, size_t dirsz, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char sub[512];
	int fd;

	snprintf(dir, dirsz, "/tmp/gears-test-ctl.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("GEARS_RUNTIME_DIR", dir, 1);
	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	if (mkdir(sub, 0700))
		return -1;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/ctl.sock", sub) >= sizeof(sa.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))
		return -1;
	return fd;
}

static void remove_fake(const char *dir, const char *name, int fd)
{
	char p[512];

	close(fd);
	snprintf(p, sizeof(p), "%s/%s/ctl.sock", dir, name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	rmdir(p);
	rmdir(dir);
	unsetenv("GEARS_RUNTIME_DIR");
}

TEST(ctl_frames_on_the_wire)
{
	char dir[256], buf[256];
	int lfd = fake_supervisor(dir, sizeof(dir), "vm1"), sfd;
	struct gears_ctl *c;
	struct gears_ctl_msg m;
	ssize_t n;

	CHECK(lfd >= 0);
	c = gears_ctl__open("vm1", 0);
	CHECK(c != NULL);
	sfd = accept(lfd, NULL, NULL);
	CHECK(sfd >= 0);
	/* A type with a space or newline would forge a second frame. */
	CHECK_EQ(gears_ctl__send(c, "EXEC 1 0\nSTOP", 1, NULL, 0), -EINVAL);
	CHECK_EQ(gears_ctl__send(c, "", 1, NULL, 0), -EINVAL);
	CHECK_EQ(gears_ctl__send(c, "ENV", 7, "{}", 2), 0);
	n = read(sfd, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = 0;
	CHECK_STR(buf, "ENV 7 2\n{}");
	/* Answers split anywhere are put back together; nothing yet is 0. */
	CHECK_EQ(gears_ctl__recv(c, &m, 0), 0);
	CHECK(write(sfd, "OK 7 3\nab", 9) == 9);
	CHECK_EQ(gears_ctl__recv(c, &m, 0), 0);
	CHECK(write(sfd, "c", 1) == 1);
	CHECK_EQ(gears_ctl__recv(c, &m, 1000), 1);
	CHECK_STR(m.type, "OK");
	CHECK(m.id == 7 && m.len == 3 && !strcmp(m.data, "abc"));
	close(sfd);
	CHECK_EQ(gears_ctl__recv(c, &m, 1000), -EPIPE);
	gears_ctl__close(c);
	remove_fake(dir, "vm1", lfd);
	CHECK(gears_ctl__open("vm1", 0) == NULL);
}
