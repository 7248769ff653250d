// SPDX-License-Identifier: MIT
/*
 * semantics: an unmodified MPI program that exercises what MPI promises about
 * point-to-point messages on MPI_COMM_WORLD, for the MPI accelerator's tests:
 * non-overtaking order under MPI_ANY_TAG (small and long messages mixed),
 * MPI_ANY_SOURCE, truncation (MPI_ERRORS_RETURN: the error class and the
 * status), zero-length messages, MPI_PROC_NULL, MPI_Get_count in other types,
 * Irecv posted first and polled with Test, a long message sent before its
 * receive exists, head-to-head small sends, a non-contiguous (vector) type,
 * Sendrecv, Probe, persistent requests, Waitany/Waitsome, Ssend.
 * Rank 0 prints one line per case (what it saw, never timings or arrival
 * order of different sources): the output must be identical with and without
 * the accelerator, and to a native run. Exit status 0 when every check held.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, bad;

#define CHECK(c, ...)                                                                                       \
	do {                                                                                                \
		if (!(c)) {                                                                                 \
			fprintf(stderr, "rank %d: %s:%d: ", rank, __FILE__, __LINE__);                     \
			fprintf(stderr, __VA_ARGS__);                                                      \
			fputc('\n', stderr);                                                               \
			bad++;                                                                             \
		}                                                                                           \
	} while (0)

static unsigned sum(const int *v, int n)
{
	unsigned s = 0;

	for (int i = 0; i < n; i++)
		s = s * 31u + (unsigned)v[i];
	return s;
}

/* 1: 40 messages, tags i % 4, every 5th one 64 KiB long, received with ANY_TAG. */
static void order(void)
{
	enum { N = 40, LONG = 16384 };
	static int buf[N][LONG];
	MPI_Request rq[N];
	MPI_Status sts[N];

	if (rank == 1) {
		for (int i = 0; i < N; i++) {
			int len = i % 5 == 0 ? LONG : 1 + i;

			for (int k = 0; k < len; k++)
				buf[i][k] = i * 1000 + k;
			MPI_Isend(buf[i], len, MPI_INT, 0, i % 4, MPI_COMM_WORLD, &rq[i]);
		}
		MPI_Waitall(N, rq, sts);
	} else if (rank == 0) {
		unsigned h = 0;
		int inorder = 1;

		for (int i = 0; i < N; i++) {
			MPI_Status st;
			int n;

			MPI_Recv(buf[0], LONG, MPI_INT, 1, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
			MPI_Get_count(&st, MPI_INT, &n);
			inorder &= buf[0][0] == i * 1000 && st.MPI_TAG == i % 4 && n == (i % 5 == 0 ? LONG : 1 + i);
			h = h * 7u + sum(buf[0], n);
		}
		printf("order: %s hash %08x\n", inorder ? "in order" : "OVERTAKEN", h);
		CHECK(inorder, "messages overtook each other");
	}
}

/* 2: every other rank sends its rank to 0; 0 takes them with ANY_SOURCE. */
static void any_source(void)
{
	if (rank == 0) {
		int seen[256] = { 0 }, ok = 1;

		for (int i = 1; i < size; i++) {
			MPI_Status st;
			int v = -1;

			MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, 7, MPI_COMM_WORLD, &st);
			ok &= v == st.MPI_SOURCE && v > 0 && v < size && !seen[v];
			if (v > 0 && v < 256)
				seen[v] = 1;
		}
		printf("any_source: %d senders, %s\n", size - 1, ok ? "each once with its own source" : "WRONG");
		CHECK(ok, "ANY_SOURCE statuses wrong");
	} else {
		MPI_Send(&rank, 1, MPI_INT, 0, 7, MPI_COMM_WORLD);
	}
}

/* 3: 100 ints into room for 50, with MPI_ERRORS_RETURN. */
static void truncation(void)
{
	int v[100];

	for (int i = 0; i < 100; i++)
		v[i] = i;
	if (rank == 1) {
		MPI_Send(v, 100, MPI_INT, 0, 3, MPI_COMM_WORLD);
	} else if (rank == 0) {
		MPI_Status st;
		int r, cls, n = -1;

		memset(v, 0xff, sizeof(v));
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
		r = MPI_Recv(v, 50, MPI_INT, 1, 3, MPI_COMM_WORLD, &st);
		MPI_Error_class(r, &cls);
		MPI_Get_count(&st, MPI_INT, &n);
		printf("truncation: %s, source %d tag %d, untouched beyond: %s\n",
		       cls == MPI_ERR_TRUNCATE ? "MPI_ERR_TRUNCATE" : "NO ERROR", st.MPI_SOURCE, st.MPI_TAG,
		       v[50] == -1 && v[99] == -1 ? "yes" : "no");
		CHECK(cls == MPI_ERR_TRUNCATE, "no truncation error (class %d)", cls);
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
	}
}

/* 4-6: zero length; MPI_PROC_NULL; counts in other types. */
static void small_cases(void)
{
	double d[10] = { 0 };
	MPI_Status st;
	int n = -1, ni = -1;

	if (rank == 1) {
		for (int i = 0; i < 7; i++)
			d[i] = i * 0.5;
		MPI_Send(d, 0, MPI_DOUBLE, 0, 4, MPI_COMM_WORLD);
		MPI_Send(d, 7, MPI_DOUBLE, 0, 6, MPI_COMM_WORLD);
	} else if (rank == 0) {
		MPI_Recv(d, 10, MPI_DOUBLE, 1, 4, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_DOUBLE, &n);
		printf("zero: count %d source %d tag %d\n", n, st.MPI_SOURCE, st.MPI_TAG);
		CHECK(n == 0 && st.MPI_SOURCE == 1 && st.MPI_TAG == 4, "zero-length message wrong");
		MPI_Recv(d, 10, MPI_DOUBLE, 1, 6, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_DOUBLE, &n);
		MPI_Get_count(&st, MPI_INT, &ni);
		printf("count: %d doubles = %d ints, d[6] = %g\n", n, ni, d[6]);
		CHECK(n == 7 && ni == 14 && d[6] == 3.0, "counts wrong");
	}
	MPI_Send(d, 3, MPI_DOUBLE, MPI_PROC_NULL, 9, MPI_COMM_WORLD);
	MPI_Recv(d, 3, MPI_DOUBLE, MPI_PROC_NULL, 9, MPI_COMM_WORLD, &st);
	MPI_Get_count(&st, MPI_DOUBLE, &n);
	if (rank == 0)
		printf("proc_null: source %s tag %s count %d\n", st.MPI_SOURCE == MPI_PROC_NULL ? "PROC_NULL" : "?",
		       st.MPI_TAG == MPI_ANY_TAG ? "ANY_TAG" : "?", n);
	CHECK(st.MPI_SOURCE == MPI_PROC_NULL && n == 0, "PROC_NULL status wrong");
}

/* 7-8: Irecv first, polled with Test; a long message sent before its receive. */
static void nonblocking(void)
{
	enum { BIG = 262144 };
	static int big[BIG];
	int v[64], flag = 0, polls = 0;
	MPI_Request rq;

	if (rank == 0) {
		MPI_Irecv(v, 64, MPI_INT, 1, 11, MPI_COMM_WORLD, &rq);
		MPI_Barrier(MPI_COMM_WORLD);
		while (!flag) {
			MPI_Test(&rq, &flag, MPI_STATUS_IGNORE);
			polls++;
		}
		printf("test: received %u after polling\n", sum(v, 64));
		CHECK(rq == MPI_REQUEST_NULL, "Test left the request");
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Recv(big, BIG, MPI_INT, 1, 12, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		printf("unexpected long: %u\n", sum(big, BIG));
	} else if (rank == 1) {
		for (int i = 0; i < 64; i++)
			v[i] = i * i;
		for (int i = 0; i < BIG; i++)
			big[i] = i ^ 0x5555;
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Send(v, 64, MPI_INT, 0, 11, MPI_COMM_WORLD);
		MPI_Isend(big, BIG, MPI_INT, 0, 12, MPI_COMM_WORLD, &rq);
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Wait(&rq, MPI_STATUS_IGNORE);
	} else {
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Barrier(MPI_COMM_WORLD);
	}
}

/* 9-11: head-to-head small sends; a vector type; Sendrecv around a ring. */
static void exchanges(void)
{
	int mine[25], theirs[25], peer = rank ^ 1, vec[8], got[8], left, right, in = -1;
	MPI_Datatype vt;
	MPI_Status st;

	if (peer < size) {
		for (int i = 0; i < 25; i++)
			mine[i] = rank * 100 + i;
		MPI_Send(mine, 25, MPI_INT, peer, 20, MPI_COMM_WORLD);
		MPI_Recv(theirs, 25, MPI_INT, peer, 20, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		CHECK(theirs[24] == peer * 100 + 24, "head-to-head exchange wrong");
		if (rank == 0)
			printf("head-to-head: %u\n", sum(theirs, 25));
	}
	MPI_Type_vector(4, 1, 2, MPI_INT, &vt);
	MPI_Type_commit(&vt);
	if (rank == 1) {
		for (int i = 0; i < 8; i++)
			vec[i] = 10 + i;
		MPI_Send(vec, 1, vt, 0, 21, MPI_COMM_WORLD);
		MPI_Send(vec, 4, MPI_INT, 0, 22, MPI_COMM_WORLD);
	} else if (rank == 0) {
		int n = -1;

		memset(got, 0, sizeof(got));
		MPI_Recv(got, 4, MPI_INT, 1, 21, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_INT, &n);
		printf("vector sent: %d %d %d %d (count %d)\n", got[0], got[1], got[2], got[3], n);
		memset(got, 0, sizeof(got));
		MPI_Recv(got, 1, vt, 1, 22, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, vt, &n);
		printf("vector received: %d %d %d %d %d %d %d %d (count %d)\n", got[0], got[1], got[2], got[3], got[4],
		       got[5], got[6], got[7], n);
	}
	MPI_Type_free(&vt);
	right = (rank + 1) % size;
	left = (rank + size - 1) % size;
	MPI_Sendrecv(&rank, 1, MPI_INT, right, 23, &in, 1, MPI_INT, left, 23, MPI_COMM_WORLD, &st);
	CHECK(in == left && st.MPI_SOURCE == left, "Sendrecv got %d from %d", in, st.MPI_SOURCE);
	if (rank == 0)
		printf("sendrecv: got %d from %d\n", in, st.MPI_SOURCE);
}

/* 12-15: Probe; persistent requests; Waitany/Waitsome; Ssend. */
static void more(void)
{
	int v[300], n = -1;
	MPI_Status st;

	if (rank == 1) {
		MPI_Request p;

		for (int i = 0; i < 300; i++)
			v[i] = 3 * i;
		MPI_Send(v, 123, MPI_INT, 0, 30, MPI_COMM_WORLD);
		MPI_Send_init(v, 10, MPI_INT, 0, 31, MPI_COMM_WORLD, &p);
		for (int k = 0; k < 5; k++) {
			v[0] = k;
			MPI_Start(&p);
			MPI_Wait(&p, MPI_STATUS_IGNORE);
		}
		MPI_Request_free(&p);
		MPI_Send(v, 1, MPI_INT, 0, 33, MPI_COMM_WORLD);
		MPI_Send(v, 2, MPI_INT, 0, 32, MPI_COMM_WORLD);
		MPI_Ssend(v, 5, MPI_INT, 0, 34, MPI_COMM_WORLD);
	} else if (rank == 0) {
		MPI_Request p, rq[2];
		int got = 0, idx = -1, outc = 0, ids[2];
		MPI_Status sts[2];

		MPI_Probe(1, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_INT, &n);
		printf("probe: source %d tag %d count %d\n", st.MPI_SOURCE, st.MPI_TAG, n);
		MPI_Recv(v, n, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		MPI_Recv_init(v, 10, MPI_INT, 1, 31, MPI_COMM_WORLD, &p);
		for (int k = 0; k < 5; k++) {
			MPI_Start(&p);
			MPI_Wait(&p, &st);
			got = got * 10 + v[0];
		}
		MPI_Request_free(&p);
		printf("persistent: %d\n", got);
		MPI_Irecv(&v[0], 2, MPI_INT, 1, 32, MPI_COMM_WORLD, &rq[0]);
		MPI_Irecv(&v[2], 2, MPI_INT, 1, 33, MPI_COMM_WORLD, &rq[1]);
		MPI_Waitany(2, rq, &idx, &st);
		MPI_Waitsome(2, rq, &outc, ids, sts);
		/* which one Waitany takes first depends on timing: print what does not */
		printf("waitany/waitsome: %d then %d more, tags %d\n", idx >= 0 ? 1 : 0, outc,
		       st.MPI_TAG + (outc == 1 ? sts[0].MPI_TAG : 0));
		MPI_Recv(v, 5, MPI_INT, 1, 34, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_INT, &n);
		printf("ssend: count %d\n", n);
	}
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size < 2) {
		fprintf(stderr, "semantics needs 2 ranks or more\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	order();
	any_source();
	truncation();
	small_cases();
	nonblocking();
	exchanges();
	more();
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("semantics %s\n", bad ? "FAILED" : "passed");
	MPI_Finalize();
	return bad ? 1 : 0;
}
