// SPDX-License-Identifier: MIT
/*
 * osu_p2p: an OSU-style point-to-point benchmark between ranks 0 and 1, an
 * unmodified MPI program of exactly 2 ranks (MPI_Send/Recv, MPI_Isend/Irecv/Waitall only) built
 * with the host's mpicc, for bench_mpi.sh:
 *
 *   osu_p2p [LAT_MAX [BW_MIN [BW_MAX [SECONDS]]]]
 *     lat SIZE USEC     one-way latency of a blocking ping-pong, 0 B..LAT_MAX
 *     bw SIZE MB/s      windowed bandwidth rank 0 -> 1 (a window of Isends, the
 *                       receiver's Irecvs, Waitall, a 4-byte acknowledgement),
 *                       BW_MIN..BW_MAX, powers of two
 *   osu_p2p memcpy [BW_MIN [BW_MAX [SECONDS]]]
 *     memcpy SIZE MB/s  the same sizes through memcpy in one process (no MPI)
 *
 * Each size runs for about SECONDS (0.3 by default): rank 0 times a few
 * iterations, picks the count and tells rank 1 (outside the timed loop).
 * The work is checked, outside the timed loops: the sender's buffer holds a
 * pattern that depends on the size, the receivers' buffers are cleared before
 * each size and compared with that pattern after it, so a path that did not
 * move the bytes fails. Exit status 1 (and a line "check SIZE FAILED ...") when
 * a check fails; "end" is the last line of a run whose checks all held.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW_BYTES (16ull << 20)	/* a window holds at most this much, and ... */
#define WINDOW_MAX 64			/* ... at most this many messages (OSU's window) */
#define WINDOW_MIN 4

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static unsigned char pattern(size_t size, size_t i)
{
	uint64_t x = (size + 1) * 0x9e3779b97f4a7c15ull ^ (i >> 3) * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	return (unsigned char)(x >> (8 * (i & 7)));
}

static void fill(unsigned char *b, size_t size)
{
	for (size_t i = 0; i < size; i++)
		b[i] = pattern(size, i);
}

/* -1 when b holds the pattern of `size`, else the first wrong byte */
static long mismatch(const unsigned char *b, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (b[i] != pattern(size, i))
			return (long)i;
	return -1;
}

static int window_of(size_t size)
{
	size_t w = size ? WINDOW_BYTES / size : WINDOW_MAX;

	return w > WINDOW_MAX ? WINDOW_MAX : w < WINDOW_MIN ? WINDOW_MIN : (int)w;
}

/* Iterations for about `secs`, from a trial of `tried` that took `took`. */
static long iterations(double secs, long tried, double took)
{
	double n = took > 0 ? secs * (double)tried / took : 1e6;

	return n < 2 ? 2 : n > 1e6 ? 1000000 : (long)n;
}

static int check(const char *what, const unsigned char *b, size_t size, int rank)
{
	long at = mismatch(b, size);

	if (at < 0)
		return 0;
	printf("check %zu FAILED: %s, rank %d: byte %ld is %#x, want %#x\n", size, what, rank, at, b[at],
	       pattern(size, (size_t)at));
	fflush(stdout);
	return 1;
}

static void pingpong(int rank, unsigned char *sbuf, unsigned char *rbuf, size_t size, long n)
{
	for (long i = 0; i < n; i++) {
		if (rank == 0) {
			MPI_Send(sbuf, (int)size, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
			MPI_Recv(rbuf, (int)size, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(rbuf, (int)size, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(rbuf, (int)size, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
		}
	}
}

static void windows(int rank, unsigned char *sbuf, unsigned char *rbuf, size_t size, int w, long n)
{
	MPI_Request rq[WINDOW_MAX];
	MPI_Status st[WINDOW_MAX];	/* not MPI_STATUSES_IGNORE: gcc 12 warns on it */
	int ack = 0;

	for (long i = 0; i < n; i++) {
		for (int k = 0; k < w; k++) {
			if (rank == 0)
				MPI_Isend(sbuf, (int)size, MPI_BYTE, 1, 2, MPI_COMM_WORLD, &rq[k]);
			else
				MPI_Irecv(rbuf, (int)size, MPI_BYTE, 0, 2, MPI_COMM_WORLD, &rq[k]);
		}
		MPI_Waitall(w, rq, st);
		if (rank == 0)
			MPI_Recv(&ack, 1, MPI_INT, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		else
			MPI_Send(&ack, 1, MPI_INT, 0, 3, MPI_COMM_WORLD);
	}
}

/* Rank 0's iteration count for a size, after a timed trial; rank 1 learns it. */
static long agree(long count)
{
	MPI_Bcast(&count, 1, MPI_LONG, 0, MPI_COMM_WORLD);
	return count;
}

/* One size: a timed trial (also the warm-up), the agreed count of timed
 * iterations, and the checks of what arrived, each time into a cleared
 * buffer. A ping-pong with window 0, else windows of w messages. The timed
 * part's seconds; its iterations in *iters. */
static double measure(int rank, unsigned char *sbuf, unsigned char *rbuf, size_t size, int w, double secs,
		      long *iters, int *bad)
{
	long n = w ? 1 : 10;
	double t;

	fill(sbuf, size);
	for (int timed = 0; timed < 2; timed++) {
		memset(rbuf, 0, size);
		MPI_Barrier(MPI_COMM_WORLD);
		t = now();
		if (w)
			windows(rank, sbuf, rbuf, size, w, n);
		else
			pingpong(rank, sbuf, rbuf, size, n);
		t = now() - t;
		if (w == 0 || rank == 1)	/* a window's sender gets nothing back */
			*bad |= check(w ? "window" : rank ? "ping received" : "pong received", rbuf, size, rank);
		if (!timed)
			n = agree(iterations(secs, n, t));
	}
	*iters = n;
	return t;
}

static int run_memcpy(size_t bw_min, size_t bw_max, double secs)
{
	unsigned char *a = malloc(bw_max), *b = malloc(bw_max);

	if (!a || !b) {
		fprintf(stderr, "osu_p2p: no memory for %zu bytes\n", bw_max);
		return 2;
	}
	for (size_t size = bw_min; size <= bw_max; size *= 2) {
		long n = 2;
		double t;

		fill(a, size);
		memset(b, 0, size);
		for (;;) {
			t = now();
			for (long i = 0; i < n; i++) {
				memcpy(b, a, size);
				__asm__ volatile("" : : "r"(b) : "memory");	/* every copy happens */
			}
			t = now() - t;
			if (t >= secs / 4 || n >= 1000000)
				break;
			n = iterations(secs, n, t);
		}
		if (check("memcpy", b, size, 0))
			return 1;
		printf("memcpy %zu %.1f\n", size, (double)size * (double)n / t / 1e6);
		fflush(stdout);
	}
	free(a);
	free(b);
	printf("end\n");
	return 0;
}

int main(int argc, char **argv)
{
	size_t lat_max = 4096, bw_min = 4096, bw_max = 16u << 20;
	double secs = 0.3;
	int rank, nranks, bad = 0, a = 1;
	unsigned char *sbuf, *rbuf;

	if (argc > 1 && !strcmp(argv[1], "memcpy")) {
		if (argc > 2)
			bw_min = strtoull(argv[2], NULL, 0);
		if (argc > 3)
			bw_max = strtoull(argv[3], NULL, 0);
		if (argc > 4)
			secs = strtod(argv[4], NULL);
		if (!bw_min || bw_min > bw_max || !(secs > 0)) {
			fprintf(stderr, "osu_p2p memcpy: bad sizes or time\n");
			return 2;
		}
		return run_memcpy(bw_min, bw_max, secs);
	}
	if (argc > a)
		lat_max = strtoull(argv[a++], NULL, 0);
	if (argc > a)
		bw_min = strtoull(argv[a++], NULL, 0);
	if (argc > a)
		bw_max = strtoull(argv[a++], NULL, 0);
	if (argc > a)
		secs = strtod(argv[a++], NULL);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	if (nranks != 2 || !bw_min || bw_min > bw_max || bw_max > (1u << 30) || lat_max > (1u << 30) ||
	    !(secs > 0)) {
		if (rank == 0)
			fprintf(stderr, "osu_p2p: needs exactly 2 ranks, 0 < BW_MIN <= BW_MAX <= 1 GiB, LAT_MAX <= 1 GiB, SECONDS > 0\n");
		MPI_Finalize();
		return 2;
	}
	{
		size_t max = lat_max > bw_max ? lat_max : bw_max;

		sbuf = malloc(max ? max : 1);
		rbuf = malloc(max ? max : 1);
		if (!sbuf || !rbuf)
			MPI_Abort(MPI_COMM_WORLD, 3);
	}
	for (size_t size = 0; size <= lat_max; size = size ? size * 2 : 1) {
		long n;
		double t = measure(rank, sbuf, rbuf, size, 0, secs, &n, &bad);

		if (rank == 0) {
			printf("lat %zu %.2f\n", size, t * 1e6 / (2.0 * (double)n));
			fflush(stdout);
		}
	}
	for (size_t size = bw_min; size <= bw_max; size *= 2) {
		int w = window_of(size);
		long n;
		double t = measure(rank, sbuf, rbuf, size, w, secs, &n, &bad);

		if (rank == 0) {
			printf("bw %zu %.1f\n", size, (double)size * (double)w * (double)n / t / 1e6);
			fflush(stdout);
		}
	}
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
	if (rank == 0 && !bad)
		printf("end\n");
	free(sbuf);
	free(rbuf);
	MPI_Finalize();
	return bad ? 1 : 0;
}
