// SPDX-License-Identifier: MIT
/*
 * The MPI accelerator's broker (mpi_broker.h): shared job state, MPI matching
 * (source, tag, context; wildcards; non-overtaking order), and the copy from
 * sender to receiver through both processes' page tables.
 *
 * Matching is MPI's: a receive takes the first unexpected message of its
 * rank's queue (in arrival order) that it matches; a send takes the first
 * posted receive of its destination's queue (in posting order) that matches
 * it. A rank's sends are posted in its program order, so two messages from one
 * sender that both match a receive arrive in the order they were sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mpi_broker.h"
#include "../guest/gears_mpi_abi.h"

#define MB_MAGIC 0x314b524249504d47ull	/* "GMPIBRK1" */
#define MB_VERSION 1
#define MB_MAX_VMS 16
#define MB_MAX_REQS 8192
#define MB_EAGER_MAX 16384u		/* messages up to this go through the pool when unmatched */
#define MB_EAGER_SLOTS 256
#define NIL 0xffffffffu
#define PAGE 4096ull

enum { REQ_FREE, REQ_SEND, REQ_RECV };

struct mb_vm {
	uint32_t used;
	int32_t owner;		/* supervisor pid */
	uint64_t ram_size, below_4g;
	int32_t levels;
	uint32_t gen;		/* changes when the slot is reused */
	char ram_path[192];
};

struct mb_rank {
	uint32_t used;
	int32_t vm, pid;
	uint32_t gen;
	uint64_t cr3;
	uint32_t posted_head, posted_tail;	/* its receives, in posting order */
	uint32_t unexp_head, unexp_tail;	/* messages to it nobody received yet, in arrival order */
};

struct mb_req {
	uint32_t next;
	uint32_t kind;
	int32_t src, dst;	/* ranks (GMPI_ANY for a wildcard receive's source) */
	int32_t tag;		/* GMPI_ANY for a wildcard receive */
	uint32_t ctx;
	uint64_t va, len, done_va;	/* in the owner's (sender's / receiver's) address space */
	uint32_t eager;		/* pool slot holding the message, or NIL (rendezvous) */
	uint32_t flags;		/* GMPI_F_* */
	uint32_t owner_gen;	/* the owner rank's generation */
};

struct mb_shared {
	uint64_t magic;
	uint32_t version, size;
	uint64_t job_id;
	pthread_mutex_t lock;
	int32_t world;		/* world size, 0 until the first attach */
	uint32_t free_req, free_eager;
	struct mb_vm vms[MB_MAX_VMS];
	struct mb_rank ranks[GMPI_MAX_RANKS];
	struct mpi_broker_stats stats;
	uint32_t eager_next[MB_EAGER_SLOTS];
	struct mb_req reqs[MB_MAX_REQS];
	unsigned char eager[MB_EAGER_SLOTS][MB_EAGER_MAX];
};

struct mpi_broker {
	int fd;
	struct mb_shared *sh;
	int vm;				/* our slot, -1 before add_vm */
	struct gears_mem *mem[MB_MAX_VMS];
	uint32_t mem_gen[MB_MAX_VMS];
	bool own_mem[MB_MAX_VMS];	/* opened here (close it) */
};

/* ---- the shared file ---- */

static void init_shared(struct mb_shared *sh)
{
	pthread_mutexattr_t a;
	uint64_t id = 0;

	memset(sh, 0, offsetof(struct mb_shared, eager));
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
	sh->job_id = (id >> 2) | 1;	/* positive as an int64, never 0 */
	for (uint32_t i = 0; i < MB_MAX_REQS; i++)
		sh->reqs[i].next = i + 1 < MB_MAX_REQS ? i + 1 : NIL;
	for (uint32_t i = 0; i < MB_EAGER_SLOTS; i++)
		sh->eager_next[i] = i + 1 < MB_EAGER_SLOTS ? i + 1 : NIL;
	for (int r = 0; r < GMPI_MAX_RANKS; r++) {
		sh->ranks[r].posted_head = sh->ranks[r].posted_tail = NIL;
		sh->ranks[r].unexp_head = sh->ranks[r].unexp_tail = NIL;
	}
	sh->size = sizeof(*sh);
	sh->version = MB_VERSION;
	__atomic_store_n(&sh->magic, MB_MAGIC, __ATOMIC_RELEASE);
}

struct mpi_broker *mpi_broker_open(const char *path, char *err, size_t errsz)
{
	struct mpi_broker *b = calloc(1, sizeof(*b));
	struct stat st;
	int e;

	if (!b)
		return NULL;
	b->vm = -1;
	b->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b->fd < 0) {
		e = errno;
		snprintf(err, errsz, "%s: %s", path, strerror(e));
		goto fail;
	}
	/* The first one in sizes and initialises it; the others wait for that. */
	if (flock(b->fd, LOCK_EX) || fstat(b->fd, &st)) {
		e = errno;
		snprintf(err, errsz, "%s: %s", path, strerror(e));
		goto fail;
	}
	if (st.st_size == 0 && ftruncate(b->fd, (off_t)sizeof(struct mb_shared))) {
		e = errno;
		snprintf(err, errsz, "%s: %s", path, strerror(e));
		goto fail;
	}
	if (st.st_size != 0 && st.st_size != (off_t)sizeof(struct mb_shared)) {
		e = EPROTO;
		snprintf(err, errsz, "%s: %lld bytes, not a broker of this version", path, (long long)st.st_size);
		goto fail;
	}
	b->sh = mmap(NULL, sizeof(struct mb_shared), PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->sh == MAP_FAILED) {
		e = errno;
		b->sh = NULL;
		snprintf(err, errsz, "mmap %s: %s", path, strerror(e));
		goto fail;
	}
	if (st.st_size == 0)
		init_shared(b->sh);
	else if (b->sh->magic != MB_MAGIC || b->sh->version != MB_VERSION || b->sh->size != sizeof(struct mb_shared)) {
		e = EPROTO;
		snprintf(err, errsz, "%s is not a broker of this version", path);
		goto fail;
	}
	flock(b->fd, LOCK_UN);
	return b;
fail:
	if (b->sh)
		munmap(b->sh, sizeof(struct mb_shared));
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	errno = e;
	return NULL;
}

static void lock(struct mpi_broker *b)
{
	/* A supervisor that died holding it: take the state as it is (every
	 * update below leaves the lists walkable). */
	if (pthread_mutex_lock(&b->sh->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&b->sh->lock);
}

static void unlock(struct mpi_broker *b)
{
	pthread_mutex_unlock(&b->sh->lock);
}

uint64_t mpi_broker_job_id(const struct mpi_broker *b)
{
	return b->sh->job_id;
}

void mpi_broker_stats(const struct mpi_broker *b, struct mpi_broker_stats *st)
{
	*st = b->sh->stats;
}

/* ---- guest memory of any VM of the job ---- */

static struct gears_mem *mem_of(struct mpi_broker *b, int vm)
{
	struct mb_vm *v;

	if (vm < 0 || vm >= MB_MAX_VMS || !b->sh->vms[vm].used)
		return NULL;
	v = &b->sh->vms[vm];
	if (b->mem[vm] && b->mem_gen[vm] == v->gen)
		return b->mem[vm];
	if (b->mem[vm] && b->own_mem[vm])
		gears_mem__close(b->mem[vm]);
	b->mem[vm] = NULL;
	v->ram_path[sizeof(v->ram_path) - 1] = 0;
	b->mem[vm] = gears_mem__open(v->ram_path, v->ram_size, v->below_4g, true);
	b->own_mem[vm] = true;
	b->mem_gen[vm] = v->gen;
	return b->mem[vm];
}

static int levels_of(struct mpi_broker *b, int vm)
{
	return b->sh->vms[vm].levels == 5 ? 5 : 4;
}

/*
 * A process's buffer, walked in order. A full page walk per 4 KiB page cost
 * more than the copy itself (bench: broker_copy); consecutive pages mostly
 * share their leaf table, so after one full walk the walker reads the next
 * entries straight from that table: the levels above are the same for them,
 * and each entry is read once and checked (present, user; writable when the
 * host writes) before its page is used. Entries of one table that map
 * consecutive frames become one piece. The guest may change its tables while
 * a copy runs, as a TLB may be stale: every host pointer still lies in guest
 * RAM, and every page used was checked when it was read.
 */
struct vwalk {
	struct gears_mem *m;
	uint64_t cr3;
	int levels;
	bool write;
	const uint64_t *pt;	/* the current leaf table (4 KiB pages), or NULL */
	uint64_t pt_va;		/* the va its entry 0 maps */
};

#define PTE_FRAME 0x000ffffffffff000ull
#define LEAF_SPAN (512 * PAGE)

static void vwalk_init(struct vwalk *w, struct gears_mem *m, uint64_t cr3, int levels, bool write)
{
	*w = (struct vwalk){ .m = m, .cr3 = cr3, .levels = levels, .write = write };
}

static bool pte_ok(const struct vwalk *w, uint64_t e)
{
	return (e & GEARS_PTE_P) && (e & GEARS_PTE_US) && (!w->write || (e & GEARS_PTE_RW));
}

/* The host pointer to the next up to `want` bytes at va: at least the rest of
 * its page when want reaches that far. NULL with *err on a page that is not
 * there for the process (-EFAULT) or a bad address (-EINVAL). */
static void *vwalk_next(struct vwalk *w, uint64_t va, uint64_t want, uint64_t *got, int *err)
{
	uint64_t off = va & (PAGE - 1), n, gpa;
	unsigned idx;
	void *p;

	if (!w->pt || va - w->pt_va >= LEAF_SPAN) {
		struct gears_xlate x;
		int r = gears_pt__xlate(w->m, w->cr3, w->levels, va, &x);

		w->pt = NULL;
		if (r || !x.user || (w->write && !x.writable)) {
			*err = r == -EINVAL ? -EINVAL : -EFAULT;
			return NULL;
		}
		if (x.level > 1) {	/* a large page: the rest of it */
			n = x.page_size - (va & (x.page_size - 1));
			n = n < want ? n : want;
			if (!(p = gears_mem__ptr(w->m, x.gpa, n)))
				*err = -EFAULT;
			*got = n;
			return p;
		}
		if (!(w->pt = gears_mem__ptr(w->m, x.pte_gpa & ~(PAGE - 1), PAGE))) {
			*err = -EFAULT;
			return NULL;
		}
		w->pt_va = va & ~(LEAF_SPAN - 1);
	}
	idx = (unsigned)((va - w->pt_va) / PAGE);
	{
		uint64_t e = __atomic_load_n(&w->pt[idx], __ATOMIC_RELAXED);

		if (!pte_ok(w, e)) {
			*err = -EFAULT;
			return NULL;
		}
		gpa = (e & PTE_FRAME) + off;
	}
	n = PAGE - off;
	/* following entries that map the following frames: one piece */
	for (uint64_t frame = gpa - off; n < want && ++idx < 512; n += PAGE) {
		uint64_t e = __atomic_load_n(&w->pt[idx], __ATOMIC_RELAXED);

		frame += PAGE;
		if (!pte_ok(w, e) || (e & PTE_FRAME) != frame)
			break;
	}
	n = n < want ? n : want;
	if (!(p = gears_mem__ptr(w->m, gpa, n)) && n > PAGE - off) {
		n = PAGE - off < want ? PAGE - off : want;	/* the piece crossed a RAM boundary */
		p = gears_mem__ptr(w->m, gpa, n);
	}
	if (!p)
		*err = -EFAULT;
	*got = n;
	return p;
}

/* Is [va, va+len) all there for the process (and writable with `write`)? */
static int check_range(struct gears_mem *m, uint64_t cr3, int levels, uint64_t va, uint64_t len, bool write)
{
	struct vwalk w;
	int err = 0;

	if (va + len < va)
		return -EINVAL;
	vwalk_init(&w, m, cr3, levels, write);
	while (len) {
		uint64_t got;

		if (!vwalk_next(&w, va, len, &got, &err))
			return err;
		va += got;
		len -= got;
	}
	return 0;
}

/* Copy n bytes from (src process or host buffer hsrc) to the dst process. */
static int copy_msg(struct gears_mem *dm, uint64_t dcr3, int dlv, uint64_t dva, struct gears_mem *sm, uint64_t scr3,
		    int slv, uint64_t sva, const unsigned char *hsrc, uint64_t n)
{
	struct vwalk dw, sw;
	uint64_t dleft = 0, sleft = 0;
	unsigned char *d = NULL;
	const unsigned char *s = hsrc;
	int err = 0;

	/* Every page first: a fault leaves the receiver's buffer untouched. */
	if ((err = check_range(dm, dcr3, dlv, dva, n, true)) || (!hsrc && (err = check_range(sm, scr3, slv, sva, n, false))))
		return err;
	vwalk_init(&dw, dm, dcr3, dlv, true);
	vwalk_init(&sw, sm, scr3, slv, false);
	if (hsrc)
		sleft = n;
	while (n) {
		uint64_t k;

		if (!dleft && !(d = vwalk_next(&dw, dva, n, &dleft, &err)))
			return err;
		if (!sleft && !(s = vwalk_next(&sw, sva, n, &sleft, &err)))
			return err;
		k = dleft < sleft ? dleft : sleft;
		memcpy(d, s, k);
		d += k;
		s += k;
		dva += k;
		sva += k;
		dleft -= k;
		sleft -= k;
		n -= k;
	}
	return 0;
}

/* Complete a request in its owner's memory: the fields, then `done`. */
static void write_done(struct mpi_broker *b, int rank, uint64_t va, int error, int source, int tag, uint64_t bytes,
		       uint64_t msg_bytes)
{
	struct mb_rank *rk = &b->sh->ranks[rank];
	struct gmpi_done d = { .done = 1, .error = error, .source = source, .tag = tag, .bytes = bytes,
			       .msg_bytes = msg_bytes };
	struct gears_mem *m = mem_of(b, rk->vm);
	int lv;

	if (!m || !va)
		return;
	lv = levels_of(b, rk->vm);
	if (gears_vmem__write(m, rk->cr3, lv, va + 4, (const char *)&d + 4, sizeof(d) - 4, true))
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gears_vmem__write(m, rk->cr3, lv, va, &d.done, sizeof(d.done), true);
}

/* ---- requests and queues ---- */

static uint32_t req_alloc(struct mb_shared *sh)
{
	uint32_t i = sh->free_req;

	if (i >= MB_MAX_REQS)
		return NIL;
	sh->free_req = sh->reqs[i].next;
	memset(&sh->reqs[i], 0, sizeof(sh->reqs[i]));
	sh->reqs[i].next = NIL;
	sh->reqs[i].eager = NIL;
	return i;
}

static void req_free(struct mb_shared *sh, uint32_t i)
{
	struct mb_req *q = &sh->reqs[i];

	if (q->eager < MB_EAGER_SLOTS) {
		sh->eager_next[q->eager] = sh->free_eager;
		sh->free_eager = q->eager;
	}
	q->kind = REQ_FREE;
	q->next = sh->free_req;
	sh->free_req = i;
}

static void enqueue(struct mb_shared *sh, uint32_t *head, uint32_t *tail, uint32_t i)
{
	sh->reqs[i].next = NIL;
	if (*tail < MB_MAX_REQS)
		sh->reqs[*tail].next = i;
	else
		*head = i;
	*tail = i;
}

typedef bool (*match_fn)(const struct mb_req *q, const void *ctx);

/* Unlink and return the first request of the queue that matches, or NIL. */
static uint32_t dequeue_match(struct mb_shared *sh, uint32_t *head, uint32_t *tail, match_fn fn, const void *ctx)
{
	uint32_t prev = NIL, i = *head;

	for (int steps = 0; i < MB_MAX_REQS && steps < MB_MAX_REQS; steps++) {
		struct mb_req *q = &sh->reqs[i];

		if (fn(q, ctx)) {
			if (prev == NIL)
				*head = q->next;
			else
				sh->reqs[prev].next = q->next;
			if (*tail == i)
				*tail = prev;
			q->next = NIL;
			return i;
		}
		prev = i;
		i = q->next;
	}
	return NIL;
}

struct want {
	int32_t src, tag;
	uint32_t ctx;
};

/* A posted receive that takes a message (w: the message's source and tag). */
static bool recv_takes(const struct mb_req *q, const void *ctx)
{
	const struct want *w = ctx;

	return q->ctx == w->ctx && (q->src == GMPI_ANY || q->src == w->src) && (q->tag == GMPI_ANY || q->tag == w->tag);
}

/* An unexpected message a receive takes (w: the receive's source and tag). */
static bool msg_taken_by(const struct mb_req *q, const void *ctx)
{
	const struct want *w = ctx;

	return q->ctx == w->ctx && (w->src == GMPI_ANY || q->src == w->src) && (w->tag == GMPI_ANY || q->tag == w->tag);
}

/* Is a request of rank `owner` with completion block done_va in the queue? */
static bool queued(const struct mb_shared *sh, uint32_t head, int owner, uint64_t done_va)
{
	uint32_t i = head;

	for (int steps = 0; i < MB_MAX_REQS && steps < MB_MAX_REQS; steps++, i = sh->reqs[i].next) {
		const struct mb_req *q = &sh->reqs[i];
		int who = q->kind == REQ_SEND ? q->src : q->dst;

		if (who == owner && q->done_va == done_va)
			return true;
	}
	return false;
}

/* Deliver message `s` (a send request, rendezvous or eager) into receive
 * `r`; completes the receive (and a rendezvous sender) in their memories. */
static void deliver(struct mpi_broker *b, const struct mb_req *s, const struct mb_req *r, bool complete_sender)
{
	struct mb_shared *sh = b->sh;
	struct mb_rank *sr = &sh->ranks[s->src], *rr = &sh->ranks[r->dst];
	uint64_t n = s->len < r->len ? s->len : r->len;
	int error = s->len > r->len ? GMPI_ERR_TRUNCATE : GMPI_OK, e = 0;
	struct gears_mem *dm = mem_of(b, rr->vm), *sm = s->eager < MB_EAGER_SLOTS ? NULL : mem_of(b, sr->vm);

	if (!dm || (s->eager >= MB_EAGER_SLOTS && !sm))
		e = -EFAULT;
	else if (n)
		e = copy_msg(dm, rr->cr3, levels_of(b, rr->vm), r->va, sm, sr->cr3, sm ? levels_of(b, sr->vm) : 4, s->va,
			     s->eager < MB_EAGER_SLOTS ? sh->eager[s->eager] : NULL, n);
	if (e) {
		error = GMPI_ERR_FAULT;
		n = 0;
		sh->stats.faults++;
	}
	sh->stats.matched++;
	sh->stats.copied_bytes += n;
	write_done(b, r->dst, r->done_va, error, s->src, s->tag, n, s->len);
	if (complete_sender)
		write_done(b, s->src, s->done_va, e ? GMPI_ERR_FAULT : GMPI_OK, s->src, s->tag, n, s->len);
}

/* ---- the hypercalls ---- */

/* The attached rank of process pid of our VM, or -1. */
static int rank_of(struct mpi_broker *b, int pid, uint64_t cr3)
{
	for (int r = 0; r < GMPI_MAX_RANKS; r++) {
		const struct mb_rank *rk = &b->sh->ranks[r];

		if (rk->used && rk->vm == b->vm && rk->pid == pid && rk->cr3 == cr3)
			return r;
	}
	return -1;
}

/* Fail (GMPI_ERR_PEER) what waits for rank `gone`, free what it owned. */
static void drop_rank(struct mpi_broker *b, int gone)
{
	struct mb_shared *sh = b->sh;
	struct mb_rank *g = &sh->ranks[gone];

	/* Its own receives: nobody to tell. Messages to it: rendezvous senders fail. */
	for (int steps = 0; g->posted_head < MB_MAX_REQS && steps < MB_MAX_REQS; steps++) {
		uint32_t i = g->posted_head;

		g->posted_head = sh->reqs[i].next;
		req_free(sh, i);
	}
	for (int steps = 0; g->unexp_head < MB_MAX_REQS && steps < MB_MAX_REQS; steps++) {
		uint32_t i = g->unexp_head;
		struct mb_req *q = &sh->reqs[i];

		g->unexp_head = q->next;
		if (q->eager >= MB_EAGER_SLOTS && sh->ranks[q->src].used)
			write_done(b, q->src, q->done_va, GMPI_ERR_PEER, gone, q->tag, 0, q->len);
		req_free(sh, i);
	}
	g->posted_tail = g->unexp_tail = NIL;
	/* Its rendezvous sends waiting in others' queues go (their memory is gone);
	 * receives that named it as their source can never complete: fail them. */
	for (int r = 0; r < GMPI_MAX_RANKS; r++) {
		struct mb_rank *o = &sh->ranks[r];
		uint32_t i;
		struct want w = { .src = gone, .tag = GMPI_ANY };

		if (r == gone || !o->used)
			continue;
		for (int steps = 0; steps < MB_MAX_REQS; steps++) {
			uint32_t prev = NIL;

			for (i = o->unexp_head; i < MB_MAX_REQS; prev = i, i = sh->reqs[i].next)
				if (sh->reqs[i].src == gone && sh->reqs[i].eager >= MB_EAGER_SLOTS)
					break;
			if (i >= MB_MAX_REQS)
				break;
			if (prev == NIL)
				o->unexp_head = sh->reqs[i].next;
			else
				sh->reqs[prev].next = sh->reqs[i].next;
			if (o->unexp_tail == i)
				o->unexp_tail = prev;
			req_free(sh, i);
		}
		for (int steps = 0; steps < MB_MAX_REQS; steps++) {
			uint32_t prev = NIL;

			for (i = o->posted_head; i < MB_MAX_REQS; prev = i, i = sh->reqs[i].next)
				if (sh->reqs[i].src == w.src)
					break;
			if (i >= MB_MAX_REQS)
				break;
			if (prev == NIL)
				o->posted_head = sh->reqs[i].next;
			else
				sh->reqs[prev].next = sh->reqs[i].next;
			if (o->posted_tail == i)
				o->posted_tail = prev;
			write_done(b, r, sh->reqs[i].done_va, GMPI_ERR_PEER, gone, GMPI_ANY, 0, 0);
			req_free(sh, i);
		}
	}
	g->used = 0;
	g->gen++;
}

static int64_t hc_attach(struct mpi_broker *b, int pid, uint64_t cr3, const uint64_t a[6])
{
	struct mb_shared *sh = b->sh;
	struct mb_rank *rk;

	if (a[3] != GMPI_ABI)
		return -EPROTO;
	if (a[2] < 1 || a[2] > GMPI_MAX_RANKS || a[1] >= a[2])
		return -EINVAL;
	if (sh->world && sh->world != (int32_t)a[2])
		return -EINVAL;	/* another job's size: not ours */
	sh->world = (int32_t)a[2];
	rk = &sh->ranks[a[1]];
	if (rk->used)
		drop_rank(b, (int)a[1]);	/* a rank that never detached: a new run replaces it */
	rk->used = 1;
	rk->vm = b->vm;
	rk->pid = pid;
	rk->cr3 = cr3;
	rk->posted_head = rk->posted_tail = rk->unexp_head = rk->unexp_tail = NIL;
	return (int64_t)sh->job_id;
}

static int64_t hc_send(struct mpi_broker *b, int me, const uint64_t a[6])
{
	struct mb_shared *sh = b->sh;
	int32_t dst = (int32_t)(uint32_t)a[3], tag = (int32_t)(a[3] >> 32);
	struct mb_rank *dr, *mr = &sh->ranks[me];
	struct gears_mem *mm = mem_of(b, b->vm);
	struct want w = { .src = me, .tag = tag, .ctx = (uint32_t)a[4] };
	struct mb_req s = { .kind = REQ_SEND, .src = me, .dst = dst, .tag = tag, .ctx = (uint32_t)a[4], .va = a[1],
			    .len = a[2], .done_va = a[5], .eager = NIL, .flags = (uint32_t)(a[4] >> 32) };
	uint32_t i;
	int r;

	sh->stats.sends++;
	if (dst < 0 || dst >= sh->world || tag < 0 || (uint32_t)a[4] > GMPI_MAX_CTX || (a[4] >> 32) & ~(uint64_t)GMPI_F_SYNC ||
	    (a[5] & 31) || !a[5])
		return -EINVAL;
	if (a[2] > GMPI_MAX_BYTES)
		return -E2BIG;
	dr = &sh->ranks[dst];
	if (!dr->used)
		return -ESRCH;	/* not attached (yet): the guest uses MPICH for it */
	if (!mm)
		return -EIO;
	if ((r = check_range(mm, mr->cr3, levels_of(b, b->vm), a[5], sizeof(struct gmpi_done), true)) ||
	    (r = check_range(mm, mr->cr3, levels_of(b, b->vm), a[1], a[2], false)))
		return r;
	if (queued(sh, dr->unexp_head, me, a[5]))
		return GMPI_POSTED;	/* a repeated post */
	i = dequeue_match(sh, &dr->posted_head, &dr->posted_tail, recv_takes, &w);
	if (i != NIL) {
		deliver(b, &s, &sh->reqs[i], true);
		req_free(sh, i);
		return GMPI_DONE;
	}
	if ((i = req_alloc(sh)) == NIL)
		return -ENOSPC;
	sh->reqs[i] = s;
	sh->reqs[i].next = NIL;
	if (a[2] <= MB_EAGER_MAX && sh->free_eager < MB_EAGER_SLOTS && !(s.flags & GMPI_F_SYNC)) {
		uint32_t e = sh->free_eager;

		/* into the pool (the range was checked above) */
		{
			uint64_t va = a[1], n = a[2], got;
			unsigned char *d = sh->eager[e];
			struct vwalk pw;
			int err = 0;

			vwalk_init(&pw, mm, mr->cr3, levels_of(b, b->vm), false);
			while (n) {
				const void *p = vwalk_next(&pw, va, n, &got, &err);

				if (!p) {
					req_free(sh, i);
					return err;
				}
				memcpy(d, p, got);
				d += got;
				va += got;
				n -= got;
			}
		}
		sh->free_eager = sh->eager_next[e];
		sh->reqs[i].eager = e;
		sh->reqs[i].done_va = 0;
		sh->stats.eager++;
		enqueue(sh, &dr->unexp_head, &dr->unexp_tail, i);
		write_done(b, me, a[5], GMPI_OK, me, tag, a[2], a[2]);
		return GMPI_DONE;
	}
	enqueue(sh, &dr->unexp_head, &dr->unexp_tail, i);
	return GMPI_POSTED;
}

/* A receive's or probe's source, tag (wildcards allowed), context and
 * completion block (present and writable). */
static int check_wild(struct mpi_broker *b, int me, const uint64_t a[6])
{
	int32_t src = (int32_t)(uint32_t)a[3], tag = (int32_t)(a[3] >> 32);
	struct gears_mem *mm = mem_of(b, b->vm);

	if ((src != GMPI_ANY && (src < 0 || src >= b->sh->world)) || (tag != GMPI_ANY && tag < 0) ||
	    a[4] > GMPI_MAX_CTX || (a[5] & 31) || !a[5])
		return -EINVAL;
	if (!mm)
		return -EIO;
	return check_range(mm, b->sh->ranks[me].cr3, levels_of(b, b->vm), a[5], sizeof(struct gmpi_done), true);
}

static int64_t hc_recv(struct mpi_broker *b, int me, const uint64_t a[6])
{
	struct mb_shared *sh = b->sh;
	int32_t src = (int32_t)(uint32_t)a[3], tag = (int32_t)(a[3] >> 32);
	struct mb_rank *mr = &sh->ranks[me];
	struct gears_mem *mm = mem_of(b, b->vm);
	struct want w = { .src = src, .tag = tag, .ctx = (uint32_t)a[4] };
	struct mb_req rq = { .kind = REQ_RECV, .src = src, .dst = me, .tag = tag, .ctx = (uint32_t)a[4], .va = a[1],
			     .len = a[2], .done_va = a[5], .eager = NIL };
	uint32_t i;
	int r;

	sh->stats.recvs++;
	if ((r = check_wild(b, me, a)))
		return r;
	if (a[2] > GMPI_MAX_BYTES)
		return -E2BIG;
	if ((r = check_range(mm, mr->cr3, levels_of(b, b->vm), a[1], a[2], true)))
		return r;
	if (queued(sh, mr->posted_head, me, a[5]))
		return GMPI_POSTED;	/* a repeated post */
	i = dequeue_match(sh, &mr->unexp_head, &mr->unexp_tail, msg_taken_by, &w);
	if (i != NIL) {
		struct mb_req *s = &sh->reqs[i];

		deliver(b, s, &rq, s->eager >= MB_EAGER_SLOTS);
		req_free(sh, i);
		return GMPI_DONE;
	}
	if ((i = req_alloc(sh)) == NIL)
		return -ENOSPC;
	sh->reqs[i] = rq;
	sh->reqs[i].next = NIL;
	enqueue(sh, &mr->posted_head, &mr->posted_tail, i);
	return GMPI_POSTED;
}

static int64_t hc_probe(struct mpi_broker *b, int me, const uint64_t a[6])
{
	struct mb_shared *sh = b->sh;
	int32_t src = (int32_t)(uint32_t)a[3], tag = (int32_t)(a[3] >> 32);
	struct mb_rank *mr = &sh->ranks[me];
	struct want w = { .src = src, .tag = tag, .ctx = (uint32_t)a[4] };
	uint32_t i = mr->unexp_head;
	int r;

	if ((r = check_wild(b, me, a)))
		return r;
	for (int steps = 0; i < MB_MAX_REQS && steps < MB_MAX_REQS; steps++, i = sh->reqs[i].next) {
		const struct mb_req *q = &sh->reqs[i];

		if (msg_taken_by(q, &w)) {
			write_done(b, me, a[5], GMPI_OK, q->src, q->tag, q->len, q->len);
			return GMPI_DONE;
		}
	}
	return GMPI_POSTED;
}

int64_t mpi_broker_hcall(struct mpi_broker *b, int pid, uint64_t cr3, const uint64_t a[6])
{
	int64_t ret;
	int me;

	if (b->vm < 0)
		return -ENODEV;
	lock(b);
	b->sh->stats.calls++;
	if (a[0] == (uint64_t)GMPI_HC_ATTACH) {
		ret = hc_attach(b, pid, cr3, a);
	} else if ((me = rank_of(b, pid, cr3)) < 0) {
		ret = a[0] >= (uint64_t)GMPI_HC_BASE && a[0] <= (uint64_t)GMPI_HC_LAST ? -ESRCH : -ENOSYS;
	} else if (a[0] == (uint64_t)GMPI_HC_SEND) {
		ret = hc_send(b, me, a);
	} else if (a[0] == (uint64_t)GMPI_HC_RECV) {
		ret = hc_recv(b, me, a);
	} else if (a[0] == (uint64_t)GMPI_HC_PROBE) {
		ret = hc_probe(b, me, a);
	} else if (a[0] == (uint64_t)GMPI_HC_DETACH) {
		drop_rank(b, me);
		ret = 0;
	} else {
		ret = -ENOSYS;
	}
	if (ret < 0)
		b->sh->stats.errors++;
	unlock(b);
	return ret;
}

void mpi_broker_process_gone(struct mpi_broker *b, int pid)
{
	if (b->vm < 0)
		return;
	lock(b);
	for (int r = 0; r < GMPI_MAX_RANKS; r++)
		if (b->sh->ranks[r].used && b->sh->ranks[r].vm == b->vm && b->sh->ranks[r].pid == pid)
			drop_rank(b, r);
	unlock(b);
}

int mpi_broker_local_ranks(struct mpi_broker *b, int *pids, int max)
{
	int n = 0;

	if (b->vm < 0)
		return 0;
	lock(b);
	for (int r = 0; r < GMPI_MAX_RANKS && n < max; r++)
		if (b->sh->ranks[r].used && b->sh->ranks[r].vm == b->vm)
			pids[n++] = b->sh->ranks[r].pid;
	unlock(b);
	return n;
}

int mpi_broker_add_vm(struct mpi_broker *b, struct gears_mem *mem, const char *path, uint64_t size,
		      uint64_t below_4g, int levels, int owner_pid)
{
	struct mb_shared *sh = b->sh;
	int slot = -1;

	if (strlen(path) >= sizeof(sh->vms[0].ram_path) || (levels != 4 && levels != 5))
		return -EINVAL;
	lock(b);
	for (int i = 0; i < MB_MAX_VMS && slot < 0; i++)
		if (!sh->vms[i].used || (kill(sh->vms[i].owner, 0) && errno == ESRCH))
			slot = i;
	if (slot < 0) {
		unlock(b);
		return -ENOSPC;
	}
	/* A dead supervisor's ranks leave with it. */
	for (int r = 0; r < GMPI_MAX_RANKS; r++)
		if (sh->ranks[r].used && sh->ranks[r].vm == slot)
			drop_rank(b, r);
	sh->vms[slot] = (struct mb_vm){ .used = 1, .owner = owner_pid, .ram_size = size, .below_4g = below_4g,
					.levels = levels, .gen = sh->vms[slot].gen + 1 };
	snprintf(sh->vms[slot].ram_path, sizeof(sh->vms[slot].ram_path), "%s", path);
	b->vm = slot;
	if (b->mem[slot] && b->own_mem[slot])
		gears_mem__close(b->mem[slot]);
	b->mem[slot] = mem;
	b->own_mem[slot] = false;
	b->mem_gen[slot] = sh->vms[slot].gen;
	unlock(b);
	return slot;
}

bool mpi_broker_close_last(struct mpi_broker *b)
{
	bool last = true;

	if (!b)
		return false;
	if (b->vm >= 0) {
		struct mb_shared *sh = b->sh;

		lock(b);
		for (int r = 0; r < GMPI_MAX_RANKS; r++)
			if (sh->ranks[r].used && sh->ranks[r].vm == b->vm)
				drop_rank(b, r);
		sh->vms[b->vm].used = 0;
		for (int i = 0; i < MB_MAX_VMS; i++)
			if (sh->vms[i].used && !(kill(sh->vms[i].owner, 0) && errno == ESRCH))
				last = false;
		unlock(b);
	}
	for (int i = 0; i < MB_MAX_VMS; i++)
		if (b->mem[i] && b->own_mem[i])
			gears_mem__close(b->mem[i]);
	munmap(b->sh, sizeof(struct mb_shared));
	close(b->fd);
	free(b);
	return last;
}
