// SPDX-License-Identifier: MIT
/*
 * gears_mpi.so: the MPI accelerator's guest half, an LD_PRELOAD PMPI library
 * (placed by the mpi service's env rule; services/mpi/README.md).
 *
 * MPI_Init attaches the rank to the host broker (GMPI_HC_ATTACH). When every
 * rank of MPI_COMM_WORLD is attached to the same broker (checked with an
 * MPICH allreduce of the job id), all point-to-point traffic on
 * MPI_COMM_WORLD goes through the host: a send or receive is one hypercall
 * that posts it, and the host copies sender -> receiver when both are there.
 * Blocking calls wait here, in user space, on the request's completion word
 * that the host writes (calling MPICH's progress engine now and then for the
 * other communicators' traffic). Everything else — other communicators,
 * MPI_PROC_NULL, collectives, a job where some rank is not attached, no GEARS
 * at all (the hypercall answers -ENOSYS) — is MPICH's, unchanged.
 *
 * Requests the library owns have handles MPICH never makes (kind bits 00);
 * every request function tells them apart. Non-contiguous datatypes are packed
 * (MPI_Pack) into a temporary buffer and sent as bytes, so each pair of ranks
 * uses one path and MPI's ordering holds.
 *
 * Environment: GEARS_MPI=off disables it; GEARS_MPI_VERBOSE=1 prints per rank
 * at MPI_Finalize what went through the host.
 */
#include <errno.h>
#include <mpi.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#include <gears-guest/hypercall.h>

#include "gears_mpi_abi.h"

#define API __attribute__((visibility("default")))
#define NREQ 4096
#define HANDLE_TAG 0x03000000
#define HANDLE_MASK 0x00ffffff
#define CTX_WORLD 0

enum { R_FREE, R_SEND, R_RECV };

struct greq {
	struct gmpi_done d;	/* written by the host */
	int kind;
	int persistent, active;	/* persistent requests: made by *_init, started by MPI_Start */
	int peer, tag;
	uint32_t flags;
	void *buf;		/* the user's buffer */
	int count;
	MPI_Datatype type;
	void *tmp;		/* packed copy (non-contiguous types) */
	uint64_t bytes;		/* of the message (sends) or capacity (receives) */
	int next_free;
} __attribute__((aligned(64)));

static struct greq pool[NREQ] __attribute__((aligned(4096)));
static int free_head = -1;
static int accel, world_rank, world_size, verbose;
static uint64_t n_sent, n_recv, bytes_sent, bytes_recv;
static uint64_t n_hc, hc_ns, hc_max_ns;	/* hypercalls and their time (GEARS_MPI_VERBOSE=1) */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static long hc(long op, long a1, long a2, long a3, long a4, long a5)
{
	uint64_t t = verbose ? now_ns() : 0;
	long r = gears_hypercall(op, a1, a2, a3, a4, a5);

	if (verbose) {
		t = now_ns() - t;
		n_hc++;
		hc_ns += t;
		hc_max_ns = t > hc_max_ns ? t : hc_max_ns;
	}
	return r;
}

/* ---- requests ---- */

static int is_ours(MPI_Request r)
{
	return (r & ~HANDLE_MASK) == HANDLE_TAG && (r & HANDLE_MASK) < NREQ;
}

static struct greq *req_of(MPI_Request r)
{
	return &pool[r & HANDLE_MASK];
}

static int req_new(void)
{
	int i = free_head;

	if (i < 0)
		return -1;
	free_head = pool[i].next_free;
	memset(&pool[i], 0, sizeof(pool[i]));
	return i;
}

static void req_release(struct greq *q)
{
	free(q->tmp);
	q->tmp = NULL;
	q->kind = R_FREE;
	q->next_free = free_head;
	free_head = (int)(q - pool);
}

static void pool_init(void)
{
	for (int i = NREQ - 1; i >= 0; i--) {
		pool[i].next_free = free_head;
		free_head = i;
	}
	/* The host writes completion words: keep their pages present. */
	mlock(pool, sizeof(pool));
}

/* ---- datatypes ---- */

/* count elements of t: contiguous (1: *bytes set), not (0), or bad (-1). */
static int contiguous(int count, MPI_Datatype t, uint64_t *bytes)
{
	MPI_Aint lb, ext, tlb, text;
	int sz;

	if (count < 0 || t == MPI_DATATYPE_NULL || PMPI_Type_size(t, &sz) != MPI_SUCCESS)
		return -1;
	*bytes = (uint64_t)count * (uint64_t)sz;
	if (*bytes > GMPI_MAX_BYTES)
		return -1;
	if (count == 0 || sz == 0)
		return 1;
	if (PMPI_Type_get_extent(t, &lb, &ext) != MPI_SUCCESS ||
	    PMPI_Type_get_true_extent(t, &tlb, &text) != MPI_SUCCESS)
		return -1;
	return lb == 0 && tlb == 0 && ext == sz && text == sz ? 1 : 0;
}

/* ---- which calls are ours ---- */

static int ours(MPI_Comm comm, int peer, int tag, int any_ok)
{
	if (!accel || comm != MPI_COMM_WORLD || peer == MPI_PROC_NULL)
		return 0;
	if (peer == MPI_ANY_SOURCE ? !any_ok : (peer < 0 || peer >= world_size))
		return 0;	/* MPICH reports the error */
	if (tag == MPI_ANY_TAG ? !any_ok : tag < 0)
		return 0;
	return 1;
}

/* Touch every page of [p, p+n) (writing when `w`: the same byte back, which
 * makes a copy-on-write page the process's own). */
static void touch(void *p, uint64_t n, int w)
{
	volatile unsigned char *c = p;

	for (uint64_t off = 0; off < n; off += 4096 - ((uintptr_t)(c + off) & 4095)) {
		unsigned char v = c[off];

		if (w)
			c[off] = v;
	}
	if (n) {
		unsigned char v = c[n - 1];

		if (w)
			c[n - 1] = v;
	}
}

/* Post q to the host. 1 completed, 0 queued, < 0 -errno (not posted). */
static long post(struct greq *q)
{
	long op = q->kind == R_SEND ? GMPI_HC_SEND : GMPI_HC_RECV;
	void *b = q->tmp ? q->tmp : q->buf;
	long a3 = (long)(((uint64_t)(uint32_t)q->tag << 32) | (uint32_t)q->peer);
	long a4 = (long)(((uint64_t)q->flags << 32) | CTX_WORLD);
	long r = -EAGAIN;

	__atomic_store_n(&q->d.done, 0, __ATOMIC_RELAXED);
	for (int tries = 0; tries < 8; tries++) {
		r = hc(op, (long)b, (long)q->bytes, a3, a4, (long)&q->d);
		if (r == -EFAULT) {
			touch(b, q->bytes, q->kind == R_RECV);
			touch(&q->d, sizeof(q->d), 1);
			continue;
		}
		if (r == -ETIMEDOUT) {	/* the answer was lost; a repeat is recognised */
			if (__atomic_load_n(&q->d.done, __ATOMIC_ACQUIRE))
				return 1;
			sched_yield();
			continue;
		}
		break;
	}
	return r;
}

static int start_send(struct greq *q, const void *buf, int count, MPI_Datatype t, int dest, int tag, uint32_t flags)
{
	uint64_t bytes;
	int c = contiguous(count, t, &bytes);

	q->kind = R_SEND;
	q->buf = (void *)buf;
	q->count = count;
	q->type = t;
	q->peer = dest;
	q->tag = tag;
	q->flags = flags;
	q->bytes = bytes;
	if (c == 0) {	/* pack it: MPICH's native packing is the bytes themselves */
		int size, pos = 0;

		if (PMPI_Pack_size(count, t, MPI_COMM_WORLD, &size) != MPI_SUCCESS || !(q->tmp = malloc(size ? size : 1)))
			return -ENOMEM;
		PMPI_Pack(buf, count, t, q->tmp, size, &pos, MPI_COMM_WORLD);
		q->bytes = (uint64_t)pos;
	}
	return (int)post(q);
}

static int start_recv(struct greq *q, void *buf, int count, MPI_Datatype t, int src, int tag)
{
	uint64_t bytes;
	int c = contiguous(count, t, &bytes);

	q->kind = R_RECV;
	q->buf = buf;
	q->count = count;
	q->type = t;
	q->peer = src == MPI_ANY_SOURCE ? GMPI_ANY : src;
	q->tag = tag == MPI_ANY_TAG ? GMPI_ANY : tag;
	q->bytes = bytes;
	if (c == 0) {
		int size;

		if (PMPI_Pack_size(count, t, MPI_COMM_WORLD, &size) != MPI_SUCCESS || !(q->tmp = malloc(size ? size : 1)))
			return -ENOMEM;
		q->bytes = (uint64_t)size;
	}
	return (int)post(q);
}

/* A completed request's status and MPI result (the request stays). */
static int finish(struct greq *q, MPI_Status *st)
{
	int err = MPI_SUCCESS;

	if (q->kind == R_RECV) {
		if (q->d.error == GMPI_ERR_TRUNCATE)
			err = MPI_ERR_TRUNCATE;
		if (q->tmp && q->d.error == GMPI_OK) {
			int pos = 0;

			PMPI_Unpack(q->tmp, (int)q->bytes, &pos, q->buf, q->count, q->type, MPI_COMM_WORLD);
		}
		n_recv++;
		bytes_recv += q->d.bytes;
	} else {
		n_sent++;
		bytes_sent += q->bytes;
	}
	if (q->d.error == GMPI_ERR_FAULT || q->d.error == GMPI_ERR_PEER)
		err = MPI_ERR_OTHER;
	if (st != MPI_STATUS_IGNORE) {
		if (q->kind == R_RECV) {
			st->MPI_SOURCE = q->d.source;
			st->MPI_TAG = q->d.tag;
			PMPI_Status_set_elements_x(st, MPI_BYTE, (MPI_Count)q->d.bytes);
		} else {
			PMPI_Status_set_elements_x(st, MPI_BYTE, 0);
		}
		PMPI_Status_set_cancelled(st, 0);
		if (err)
			st->MPI_ERROR = err;
	}
	if (q->tmp) {
		free(q->tmp);
		q->tmp = NULL;
	}
	return err;
}

static int done(const struct greq *q)
{
	return __atomic_load_n(&q->d.done, __ATOMIC_ACQUIRE) != 0;
}

/*
 * One turn of a wait: let MPICH progress its own traffic (other
 * communicators), and spin for the first SPIN_NS of the wait (a loop's first
 * turn is spins == 0), then nap NAP_NS at a time. The nap matters more than it
 * seems: while this process spins, its vCPU holds a host core, and the host
 * thread that would answer the peer's hypercall (and so complete this wait)
 * needs one; asleep, the guest halts and its vCPU thread gives the core back.
 */
#define SPIN_NS 30000ull
#define NAP_NS 20000L

static void progress(unsigned spins)
{
	static __thread uint64_t since;
	uint64_t t = now_ns();
	int flag;

	if (spins == 0)
		since = t;
	if (t - since < SPIN_NS) {
		if (spins % 64 == 63)
			PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_SELF, &flag, MPI_STATUS_IGNORE);
		__builtin_ia32_pause();
		return;
	}
	PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_SELF, &flag, MPI_STATUS_IGNORE);
	nanosleep(&(struct timespec){ .tv_nsec = NAP_NS }, NULL);
}

static void wait_done(const struct greq *q)
{
	for (unsigned spins = 0; !done(q); spins++)
		progress(spins);
}

static int error(int err)
{
	if (err != MPI_SUCCESS)
		return PMPI_Comm_call_errhandler(MPI_COMM_WORLD, err), err;
	return err;
}

/* A request that could not be posted (-errno): MPICH has no way to take it
 * over without breaking the order of this pair's messages, so it is an error. */
static int post_failed(struct greq *q, long r)
{
	if (verbose)
		fprintf(stderr, "gears_mpi: rank %d: post failed: %s\n", world_rank, strerror((int)-r));
	req_release(q);
	return error(r == -EINVAL || r == -E2BIG ? MPI_ERR_ARG : MPI_ERR_INTERN);
}

/* ---- init and finalize ---- */

static void attach(void)
{
	long long id, v[2];
	const char *e = getenv("GEARS_MPI");

	verbose = getenv("GEARS_MPI_VERBOSE") && *getenv("GEARS_MPI_VERBOSE") == '1';
	PMPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
	PMPI_Comm_size(MPI_COMM_WORLD, &world_size);
	pool_init();
	id = (e && !strcmp(e, "off")) || world_size > GMPI_MAX_RANKS ? -ENOSYS
			 : hc(GMPI_HC_ATTACH, world_rank, world_size, GMPI_ABI, 0, 0);
	/* min(id) == max(id) > 0: every rank is on one broker */
	v[0] = id;
	v[1] = -id;
	PMPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
	accel = v[0] > 0 && v[0] == -v[1];
	if (!accel && id > 0)
		hc(GMPI_HC_DETACH, 0, 0, 0, 0, 0);
	/* the waits' naps (progress()) as short as asked, not 50 us longer */
	if (accel)
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	if (verbose)
		fprintf(stderr, "gears_mpi: rank %d of %d: %s (attach %lld)\n", world_rank, world_size,
			accel ? "accelerated" : "MPICH only", id);
}

API int MPI_Init(int *argc, char ***argv)
{
	int r = PMPI_Init(argc, argv);

	if (r == MPI_SUCCESS)
		attach();
	return r;
}

API int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
	int r = PMPI_Init_thread(argc, argv, required, provided);

	if (r != MPI_SUCCESS)
		return r;
	if (*provided == MPI_THREAD_MULTIPLE)
		setenv("GEARS_MPI", "off", 1);	/* the request pool is not thread-safe */
	attach();
	return r;
}

API int MPI_Finalize(void)
{
	if (accel) {
		/* Everything sent is received before anyone leaves the broker. */
		PMPI_Barrier(MPI_COMM_WORLD);
		hc(GMPI_HC_DETACH, 0, 0, 0, 0, 0);
		if (verbose)
			fprintf(stderr, "gears_mpi: rank %d: through the host: %llu sends (%llu bytes), %llu receives (%llu bytes)\n",
				world_rank, (unsigned long long)n_sent, (unsigned long long)bytes_sent,
				(unsigned long long)n_recv, (unsigned long long)bytes_recv);
		if (verbose && n_hc)
			fprintf(stderr, "gears_mpi: rank %d: %llu hypercalls, %.1f us each on average, %.1f us at most\n",
				world_rank, (unsigned long long)n_hc, (double)hc_ns / 1e3 / (double)n_hc,
				(double)hc_max_ns / 1e3);
		accel = 0;
	}
	return PMPI_Finalize();
}

/* ---- point to point ---- */

static int isend(const void *buf, int count, MPI_Datatype t, int dest, int tag, uint32_t flags, MPI_Request *rq)
{
	int i = req_new();
	long r;

	if (i < 0)
		return error(MPI_ERR_NO_MEM);
	r = start_send(&pool[i], buf, count, t, dest, tag, flags);
	if (r < 0)
		return post_failed(&pool[i], r);
	*rq = HANDLE_TAG | i;
	return MPI_SUCCESS;
}

static int send(const void *buf, int count, MPI_Datatype t, int dest, int tag, uint32_t flags)
{
	MPI_Request rq;
	int err = isend(buf, count, t, dest, tag, flags, &rq);

	if (err)
		return err;
	return MPI_Wait(&rq, MPI_STATUS_IGNORE);
}

API int MPI_Send(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Send(buf, count, t, dest, tag, comm);
	return send(buf, count, t, dest, tag, 0);
}

API int MPI_Ssend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Ssend(buf, count, t, dest, tag, comm);
	return send(buf, count, t, dest, tag, GMPI_F_SYNC);
}

API int MPI_Rsend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Rsend(buf, count, t, dest, tag, comm);
	return send(buf, count, t, dest, tag, 0);
}

/* Buffered sends: a message the pool holds completes at once as MPI wants;
 * a long unmatched one waits for its receive (the attached buffer is unused). */
API int MPI_Bsend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Bsend(buf, count, t, dest, tag, comm);
	return send(buf, count, t, dest, tag, 0);
}

API int MPI_Isend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm, MPI_Request *rq)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Isend(buf, count, t, dest, tag, comm, rq);
	return isend(buf, count, t, dest, tag, 0, rq);
}

API int MPI_Issend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm, MPI_Request *rq)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Issend(buf, count, t, dest, tag, comm, rq);
	return isend(buf, count, t, dest, tag, GMPI_F_SYNC, rq);
}

API int MPI_Irsend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm, MPI_Request *rq)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Irsend(buf, count, t, dest, tag, comm, rq);
	return isend(buf, count, t, dest, tag, 0, rq);
}

API int MPI_Ibsend(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm, MPI_Request *rq)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Ibsend(buf, count, t, dest, tag, comm, rq);
	return isend(buf, count, t, dest, tag, 0, rq);
}

API int MPI_Irecv(void *buf, int count, MPI_Datatype t, int src, int tag, MPI_Comm comm, MPI_Request *rq)
{
	int i;
	long r;

	if (!ours(comm, src, tag, 1))
		return PMPI_Irecv(buf, count, t, src, tag, comm, rq);
	if ((i = req_new()) < 0)
		return error(MPI_ERR_NO_MEM);
	r = start_recv(&pool[i], buf, count, t, src, tag);
	if (r < 0)
		return post_failed(&pool[i], r);
	*rq = HANDLE_TAG | i;
	return MPI_SUCCESS;
}

API int MPI_Recv(void *buf, int count, MPI_Datatype t, int src, int tag, MPI_Comm comm, MPI_Status *st)
{
	MPI_Request rq;
	int err;

	if (!ours(comm, src, tag, 1))
		return PMPI_Recv(buf, count, t, src, tag, comm, st);
	if ((err = MPI_Irecv(buf, count, t, src, tag, comm, &rq)))
		return err;
	return MPI_Wait(&rq, st);
}

API int MPI_Sendrecv(const void *sbuf, int scount, MPI_Datatype stype, int dest, int stag, void *rbuf, int rcount,
		     MPI_Datatype rtype, int src, int rtag, MPI_Comm comm, MPI_Status *st)
{
	MPI_Request rq[2];
	MPI_Status sts[2];
	int err;

	if (!accel || comm != MPI_COMM_WORLD)
		return PMPI_Sendrecv(sbuf, scount, stype, dest, stag, rbuf, rcount, rtype, src, rtag, comm, st);
	/* On the world with one side MPI_PROC_NULL: each half as its own call says. */
	if ((err = MPI_Irecv(rbuf, rcount, rtype, src, rtag, comm, &rq[0])))
		return err;
	if ((err = MPI_Isend(sbuf, scount, stype, dest, stag, comm, &rq[1])))
		return err;
	err = MPI_Waitall(2, rq, sts);
	if (st != MPI_STATUS_IGNORE)
		*st = sts[0];
	return err == MPI_ERR_IN_STATUS ? sts[0].MPI_ERROR : err;
}

API int MPI_Sendrecv_replace(void *buf, int count, MPI_Datatype t, int dest, int stag, int src, int rtag,
			     MPI_Comm comm, MPI_Status *st)
{
	MPI_Aint lb, ext;
	void *tmp;
	int err, size, pos = 0;

	if (!accel || comm != MPI_COMM_WORLD)
		return PMPI_Sendrecv_replace(buf, count, t, dest, stag, src, rtag, comm, st);
	if (PMPI_Type_get_extent(t, &lb, &ext) || PMPI_Pack_size(count, t, comm, &size) ||
	    !(tmp = malloc(size ? (size_t)size : 1)))
		return error(MPI_ERR_NO_MEM);
	PMPI_Pack(buf, count, t, tmp, size, &pos, comm);
	err = MPI_Sendrecv(tmp, pos, MPI_PACKED, dest, stag, buf, count, t, src, rtag, comm, st);
	free(tmp);
	return err;
}

/* ---- completion ---- */

/* Complete our request *rq (freed unless persistent). */
static int complete(MPI_Request *rq, MPI_Status *st)
{
	struct greq *q = req_of(*rq);
	int err;

	if (q->persistent && !q->active) {	/* an inactive persistent request: empty status */
		if (st != MPI_STATUS_IGNORE) {
			st->MPI_SOURCE = MPI_ANY_SOURCE;
			st->MPI_TAG = MPI_ANY_TAG;
			PMPI_Status_set_elements_x(st, MPI_BYTE, 0);
			PMPI_Status_set_cancelled(st, 0);
		}
		return MPI_SUCCESS;
	}
	err = finish(q, st);
	if (q->persistent) {
		q->active = 0;
	} else {
		req_release(q);
		*rq = MPI_REQUEST_NULL;
	}
	return err;
}

static int ready(MPI_Request r)
{
	const struct greq *q = req_of(r);

	return (q->persistent && !q->active) || done(q);
}

API int MPI_Wait(MPI_Request *rq, MPI_Status *st)
{
	if (!is_ours(*rq))
		return PMPI_Wait(rq, st);
	wait_done(req_of(*rq));
	return error(complete(rq, st));
}

API int MPI_Test(MPI_Request *rq, int *flag, MPI_Status *st)
{
	int f;

	if (!is_ours(*rq))
		return PMPI_Test(rq, flag, st);
	if (!ready(*rq)) {
		PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_SELF, &f, MPI_STATUS_IGNORE);
		*flag = 0;
		return MPI_SUCCESS;
	}
	*flag = 1;
	return error(complete(rq, st));
}

/* MPICH's request r: done (1: completed, status filled), or not. */
static int test_theirs(MPI_Request *rq, MPI_Status *st, int *err)
{
	int flag = 0;

	*err = PMPI_Test(rq, &flag, st);
	return flag || *err;
}

API int MPI_Waitall(int n, MPI_Request rqs[], MPI_Status sts[])
{
	int left = n, failed = 0, spins = 0;

	if (n < 0)
		return PMPI_Waitall(n, rqs, sts);
	{
		int mine = 0;

		for (int i = 0; i < n; i++)
			mine += is_ours(rqs[i]);
		if (!mine)
			return PMPI_Waitall(n, rqs, sts);
	}
	char *fin = calloc((size_t)n + 1, 1);

	if (!fin)
		return error(MPI_ERR_NO_MEM);
	while (left) {
		for (int i = 0; i < n; i++) {
			MPI_Status tmp, *st = sts == MPI_STATUSES_IGNORE ? &tmp : &sts[i];
			int err = MPI_SUCCESS;

			if (fin[i])
				continue;
			if (rqs[i] == MPI_REQUEST_NULL) {
				if (sts != MPI_STATUSES_IGNORE) {
					st->MPI_SOURCE = MPI_ANY_SOURCE;
					st->MPI_TAG = MPI_ANY_TAG;
					PMPI_Status_set_elements_x(st, MPI_BYTE, 0);
				}
			} else if (is_ours(rqs[i])) {
				if (!ready(rqs[i]))
					continue;
				err = complete(&rqs[i], st);
			} else if (!test_theirs(&rqs[i], st, &err)) {
				continue;
			}
			fin[i] = 1;
			left--;
			if (sts != MPI_STATUSES_IGNORE)
				st->MPI_ERROR = err;
			failed += err != MPI_SUCCESS;
		}
		if (left)
			progress((unsigned)spins++);
	}
	free(fin);
	return failed ? error(MPI_ERR_IN_STATUS) : MPI_SUCCESS;
}

/* One request of an array: -1 inactive (null, or persistent and not
 * started), 0 not complete, 1 completed now (status and *err set). */
static int poll_one(MPI_Request *rq, MPI_Status *st, int *err)
{
	if (*rq == MPI_REQUEST_NULL || (is_ours(*rq) && req_of(*rq)->persistent && !req_of(*rq)->active))
		return -1;
	if (is_ours(*rq)) {
		if (!done(req_of(*rq)))
			return 0;
		*err = complete(rq, st);
		return 1;
	}
	return test_theirs(rq, st, err);
}

/* Waitany/Testany: the first completed of the array (index in *idx). */
static int any(int n, MPI_Request rqs[], int *idx, int *flag, MPI_Status *st, int block)
{
	for (unsigned spins = 0;; spins++) {
		int active = 0;

		for (int i = 0; i < n; i++) {
			int err = MPI_SUCCESS, r = poll_one(&rqs[i], st, &err);

			active += r >= 0;
			if (r <= 0)
				continue;
			*idx = i;
			*flag = 1;
			return error(err);
		}
		if (!active) {
			*idx = MPI_UNDEFINED;
			*flag = 1;
			if (st != MPI_STATUS_IGNORE) {
				st->MPI_SOURCE = MPI_ANY_SOURCE;
				st->MPI_TAG = MPI_ANY_TAG;
				PMPI_Status_set_elements_x(st, MPI_BYTE, 0);
			}
			return MPI_SUCCESS;
		}
		if (!block) {
			*flag = 0;
			*idx = MPI_UNDEFINED;
			return MPI_SUCCESS;
		}
		progress(spins);
	}
}

static int has_ours(int n, const MPI_Request rqs[])
{
	for (int i = 0; i < n; i++)
		if (is_ours(rqs[i]))
			return 1;
	return 0;
}

API int MPI_Waitany(int n, MPI_Request rqs[], int *idx, MPI_Status *st)
{
	int flag;

	if (n < 0 || !has_ours(n, rqs))
		return PMPI_Waitany(n, rqs, idx, st);
	return any(n, rqs, idx, &flag, st, 1);
}

API int MPI_Testany(int n, MPI_Request rqs[], int *idx, int *flag, MPI_Status *st)
{
	if (n < 0 || !has_ours(n, rqs))
		return PMPI_Testany(n, rqs, idx, flag, st);
	return any(n, rqs, idx, flag, st, 0);
}

API int MPI_Testall(int n, MPI_Request rqs[], int *flag, MPI_Status sts[])
{
	if (n < 0 || !has_ours(n, rqs))
		return PMPI_Testall(n, rqs, flag, sts);
	/* all or nothing: MPICH's requests cannot be tested without completing them */
	for (int i = 0; i < n; i++) {
		int f = 1;

		if (is_ours(rqs[i]))
			f = ready(rqs[i]);
		else if (rqs[i] != MPI_REQUEST_NULL)
			PMPI_Request_get_status(rqs[i], &f, MPI_STATUS_IGNORE);	/* without completing it */
		if (!f) {
			PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_SELF, &f, MPI_STATUS_IGNORE);
			*flag = 0;
			return MPI_SUCCESS;
		}
	}
	*flag = 1;
	return MPI_Waitall(n, rqs, sts);
}

/* Waitsome/Testsome: every completed one now. */
static int some(int n, MPI_Request rqs[], int *outcount, int idx[], MPI_Status sts[], int block)
{
	for (unsigned spins = 0;; spins++) {
		int active = 0, failed = 0;

		*outcount = 0;
		for (int i = 0; i < n; i++) {
			MPI_Status tmp, *st = sts == MPI_STATUSES_IGNORE ? &tmp : &sts[*outcount];
			int err = MPI_SUCCESS, r = poll_one(&rqs[i], st, &err);

			active += r >= 0;
			if (r <= 0)
				continue;
			st->MPI_ERROR = err;
			failed += err != MPI_SUCCESS;
			idx[(*outcount)++] = i;
		}
		if (!active) {
			*outcount = MPI_UNDEFINED;
			return MPI_SUCCESS;
		}
		if (*outcount || !block)
			return failed ? error(MPI_ERR_IN_STATUS) : MPI_SUCCESS;
		progress(spins);
	}
}

API int MPI_Waitsome(int n, MPI_Request rqs[], int *outcount, int idx[], MPI_Status sts[])
{
	if (n < 0 || !has_ours(n, rqs))
		return PMPI_Waitsome(n, rqs, outcount, idx, sts);
	return some(n, rqs, outcount, idx, sts, 1);
}

API int MPI_Testsome(int n, MPI_Request rqs[], int *outcount, int idx[], MPI_Status sts[])
{
	if (n < 0 || !has_ours(n, rqs))
		return PMPI_Testsome(n, rqs, outcount, idx, sts);
	return some(n, rqs, outcount, idx, sts, 0);
}

API int MPI_Request_free(MPI_Request *rq)
{
	struct greq *q;

	if (!is_ours(*rq))
		return PMPI_Request_free(rq);
	q = req_of(*rq);
	/* A posted request stays the host's until it completes: wait for that
	 * (a receive nobody ever matches would hold its slot for good). */
	if (q->active || !q->persistent)
		wait_done(q);
	free(q->tmp);
	q->tmp = NULL;
	req_release(q);
	*rq = MPI_REQUEST_NULL;
	return MPI_SUCCESS;
}

API int MPI_Request_get_status(MPI_Request rq, int *flag, MPI_Status *st)
{
	if (!is_ours(rq))
		return PMPI_Request_get_status(rq, flag, st);
	*flag = ready(rq);
	if (*flag && st != MPI_STATUS_IGNORE && req_of(rq)->kind == R_RECV && !(req_of(rq)->persistent &&
										 !req_of(rq)->active)) {
		st->MPI_SOURCE = req_of(rq)->d.source;
		st->MPI_TAG = req_of(rq)->d.tag;
		PMPI_Status_set_elements_x(st, MPI_BYTE, (MPI_Count)req_of(rq)->d.bytes);
	}
	return MPI_SUCCESS;
}

API int MPI_Cancel(MPI_Request *rq)
{
	if (!is_ours(*rq))
		return PMPI_Cancel(rq);
	/* Not cancellable here: MPI lets a cancel fail; the request completes normally. */
	return MPI_SUCCESS;
}

/* ---- probes ---- */

API int MPI_Iprobe(int src, int tag, MPI_Comm comm, int *flag, MPI_Status *st)
{
	static struct gmpi_done d __attribute__((aligned(32)));
	long r;

	if (!ours(comm, src, tag, 1))
		return PMPI_Iprobe(src, tag, comm, flag, st);
	d.done = 0;
	r = hc(GMPI_HC_PROBE, 0, 0,
	       (long)(((uint64_t)(uint32_t)(tag == MPI_ANY_TAG ? GMPI_ANY : tag) << 32) |
		      (uint32_t)(src == MPI_ANY_SOURCE ? GMPI_ANY : src)),
	       CTX_WORLD, (long)&d);
	if (r == -EFAULT) {
		touch(&d, sizeof(d), 1);
		*flag = 0;
		return MPI_SUCCESS;
	}
	if (r < 0 && r != -ETIMEDOUT)
		return error(MPI_ERR_INTERN);
	*flag = r == GMPI_DONE;
	if (*flag && st != MPI_STATUS_IGNORE) {
		st->MPI_SOURCE = d.source;
		st->MPI_TAG = d.tag;
		PMPI_Status_set_elements_x(st, MPI_BYTE, (MPI_Count)d.msg_bytes);
		PMPI_Status_set_cancelled(st, 0);
	}
	return MPI_SUCCESS;
}

API int MPI_Probe(int src, int tag, MPI_Comm comm, MPI_Status *st)
{
	int flag = 0, err;

	if (!ours(comm, src, tag, 1))
		return PMPI_Probe(src, tag, comm, st);
	for (unsigned spins = 0;; spins++) {
		if ((err = MPI_Iprobe(src, tag, comm, &flag, st)) || flag)
			return err;
		progress(spins);
	}
}

/* ---- persistent requests ---- */

static int init_req(const void *buf, int count, MPI_Datatype t, int peer, int tag, int kind, uint32_t flags,
		    MPI_Request *rq)
{
	int i = req_new();

	if (i < 0)
		return error(MPI_ERR_NO_MEM);
	pool[i].kind = kind;
	pool[i].persistent = 1;
	pool[i].buf = (void *)buf;
	pool[i].count = count;
	pool[i].type = t;
	pool[i].peer = peer;
	pool[i].tag = tag;
	pool[i].flags = flags;
	*rq = HANDLE_TAG | i;
	return MPI_SUCCESS;
}

API int MPI_Send_init(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm, MPI_Request *rq)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Send_init(buf, count, t, dest, tag, comm, rq);
	return init_req(buf, count, t, dest, tag, R_SEND, 0, rq);
}

API int MPI_Ssend_init(const void *buf, int count, MPI_Datatype t, int dest, int tag, MPI_Comm comm,
		       MPI_Request *rq)
{
	if (!ours(comm, dest, tag, 0))
		return PMPI_Ssend_init(buf, count, t, dest, tag, comm, rq);
	return init_req(buf, count, t, dest, tag, R_SEND, GMPI_F_SYNC, rq);
}

API int MPI_Recv_init(void *buf, int count, MPI_Datatype t, int src, int tag, MPI_Comm comm, MPI_Request *rq)
{
	if (!ours(comm, src, tag, 1))
		return PMPI_Recv_init(buf, count, t, src, tag, comm, rq);
	return init_req(buf, count, t, src, tag, R_RECV, 0, rq);
}

API int MPI_Start(MPI_Request *rq)
{
	struct greq *q;
	long r;

	if (!is_ours(*rq))
		return PMPI_Start(rq);
	q = req_of(*rq);
	if (q->active)
		return error(MPI_ERR_REQUEST);
	r = q->kind == R_SEND ? start_send(q, q->buf, q->count, q->type, q->peer, q->tag, q->flags)
			      : start_recv(q, q->buf, q->count, q->type, q->peer == GMPI_ANY ? MPI_ANY_SOURCE : q->peer,
					   q->tag == GMPI_ANY ? MPI_ANY_TAG : q->tag);
	if (r < 0)
		return error(MPI_ERR_INTERN);
	q->active = 1;
	return MPI_SUCCESS;
}

API int MPI_Startall(int n, MPI_Request rqs[])
{
	for (int i = 0; i < n; i++) {
		int err = MPI_Start(&rqs[i]);

		if (err)
			return err;
	}
	return MPI_SUCCESS;
}
