// SPDX-License-Identifier: MIT
/*
 * sockwork: socket calls for the trace agreement test (tests/vm/
 * test_trace_agree.sh): TCP and UDP over loopback, a unix stream socket on a
 * path, a socketpair, poll. Every step's result is what it is (lo may be down;
 * the listening sockets do not block):
 * the test compares two tracers' views of the same calls, not the outcome.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void tcp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7411) };
	socklen_t len = sizeof(a);
	int one = 1, l, c, s;
	char buf[64];

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(l, (struct sockaddr *)&a, sizeof(a));
	listen(l, 4);
	c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	connect(c, (struct sockaddr *)&a, sizeof(a));
	s = accept(l, (struct sockaddr *)&a, &len);
	send(c, "ping", 4, MSG_NOSIGNAL);
	recv(s, buf, sizeof(buf), 0);
	getsockname(c, (struct sockaddr *)&a, &len);
	shutdown(c, SHUT_WR);
	close(s);
	close(c);
	close(l);
}

static void udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7412) }, from;
	socklen_t len = sizeof(from);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64];

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	sendto(s, "datagram", 8, 0, (struct sockaddr *)&a, sizeof(a));
	recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
	close(s);
}

static void unix_sockets(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd p[2];
	int sv[2], l, c, s;
	socklen_t alen;
	char buf[16];

	/* An abstract name (no file to leave behind), this process's own: two
	 * runs at once never share a socket. */
	l = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "sockwork.%d", (int)getpid());
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)l);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bind(l, (struct sockaddr *)&a, alen);
	listen(l, 1);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, alen);
	s = accept(l, NULL, NULL);
	write(c, "u", 1);
	read(s, buf, sizeof(buf));
	close(s);
	close(c);
	close(l);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	write(sv[0], "pair", 4);
	p[0] = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = sv[0], .events = POLLOUT };
	poll(p, 2, 100);
	read(sv[1], buf, sizeof(buf));
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	tcp();
	udp();
	unix_sockets();
	return 0;
}
