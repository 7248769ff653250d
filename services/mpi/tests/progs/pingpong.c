// SPDX-License-Identifier: MIT
/*
 * pingpong: an unmodified MPI program (MPI_Send/MPI_Recv only) for the MPI
 * accelerator's tests. Rank 0 sends a message of every size in a list from
 * 0 B to 16 MiB (powers of two and their neighbours) to rank 1, which checks
 * every byte against the pattern it expects, changes it and sends it back;
 * rank 0 checks every byte of the answer. Each line printed names the size,
 * the result of the checks, MPI_Get_count and a CRC-32 of what came back: the
 * same program must print the same lines with and without the accelerator.
 * Exit status: 0 when every check held.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc32(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static unsigned char pattern(size_t size, size_t i, int round)
{
	uint64_t x = (size * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull) ^ (uint64_t)round;

	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 17));
}

static long check(const unsigned char *b, size_t size, int round)
{
	for (size_t i = 0; i < size; i++)
		if (b[i] != pattern(size, i, round))
			return (long)i;
	return -1;
}

int main(int argc, char **argv)
{
	size_t sizes[80], nsizes = 0, max = 16u << 20;
	int rank, nranks, bad = 0;
	unsigned char *buf;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	if (nranks < 2) {
		fprintf(stderr, "pingpong needs 2 ranks\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	{
		char host[MPI_MAX_PROCESSOR_NAME];
		int len;

		MPI_Get_processor_name(host, &len);
		fprintf(stderr, "rank %d on %s\n", rank, host);
	}
	if (argc > 1)
		max = strtoull(argv[1], NULL, 0);
	sizes[nsizes++] = 0;
	for (size_t s = 1; s <= max && nsizes + 3 <= sizeof(sizes) / sizeof(sizes[0]); s *= 2) {
		if (s > 2)
			sizes[nsizes++] = s - 1;
		sizes[nsizes++] = s;
		if (s > 1 && s < max)
			sizes[nsizes++] = s + 1;
	}
	buf = malloc(max + 1);
	if (!buf)
		MPI_Abort(MPI_COMM_WORLD, 3);
	for (size_t k = 0; k < nsizes && rank < 2; k++) {
		size_t n = sizes[k];
		MPI_Status st;
		int count = -1;
		long at;

		if (rank == 0) {
			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(n, i, 0);
			MPI_Send(buf, (int)n, MPI_BYTE, 1, (int)k, MPI_COMM_WORLD);
			memset(buf, 0xa5, n + 1);
			MPI_Recv(buf, (int)n, MPI_BYTE, 1, (int)k, MPI_COMM_WORLD, &st);
			MPI_Get_count(&st, MPI_BYTE, &count);
			at = check(buf, n, 1);
			if (at >= 0 || count != (int)n || st.MPI_SOURCE != 1 || st.MPI_TAG != (int)k ||
			    buf[n] != 0xa5)
				bad++;
			printf("size %zu %s count %d crc %08x\n", n, at < 0 && buf[n] == 0xa5 ? "ok" : "BAD", count,
			       crc32(0, buf, n));
		} else {
			memset(buf, 0x5a, n + 1);
			MPI_Recv(buf, (int)n, MPI_BYTE, 0, (int)k, MPI_COMM_WORLD, &st);
			MPI_Get_count(&st, MPI_BYTE, &count);
			at = check(buf, n, 0);
			if (at >= 0 || count != (int)n || buf[n] != 0x5a) {
				fprintf(stderr, "rank 1: size %zu: byte %ld wrong, count %d\n", n, at, count);
				bad++;
			}
			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(n, i, 1);
			MPI_Send(buf, (int)n, MPI_BYTE, 0, (int)k, MPI_COMM_WORLD);
		}
	}
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("pingpong %s\n", bad ? "FAILED" : "passed");
	free(buf);
	MPI_Finalize();
	return bad ? 1 : 0;
}
