// SPDX-License-Identifier: MIT
/*
 * The trace service: `gears trace`'s side in the supervisor (protocol in
 * services/trace/trace_proto.h). Trace subscriptions. Each subscription is one handler in
 * the VM's gears_sc (delivery by mode: ring, filter = sync, exit), turning each
 * call into a trace record with its string arguments resolved while they are
 * still valid: captured by the guest stub (ring), or read from the caller's
 * memory while it waits (filter) or while the VM is stopped (exit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <gears/linux.h>
#include <gears/syscall.h>
#include <gears/vm.h>

#include "supervisor.h"
#include "../decode/decode.h"
#include "../trace_proto.h"

#define MAX_SUBS 32
#define BATCH 65536
#define STR_MAX 4096		/* a path */
#define ARGV_STR_MAX 1024
#define ARGV_MAX 64

#define MAX_RULES 16

/* -e inject=...: change calls of the processes in scope. */
struct rule {
	int nr;
	bool compat;
	enum { R_SKIP, R_RET, R_ARG } what;
	int arg;
	int64_t value;
	int handler;
	struct sub *s;
};

struct sub {
	bool used;
	int client;
	uint32_t id;
	int handler[4];		/* 64-bit, compat; never-returning entries (ring) */
	struct tsrv *t;
	struct rule rules[MAX_RULES];
	int nrules;
	unsigned strsize;	/* -s: bytes of buffers captured (filter and exit modes) */
	int scope_pid;		/* rules apply to this process ... */
	char scope_comm[16];	/* ... or processes with this name */
	char batch[BATCH];
	size_t blen;
};

struct tsrv {
	struct sup *sup;
	struct gears_sc *sc;	/* the supervisor's engine, once a subscription needs it */
	struct sub subs[MAX_SUBS];
	struct gears_task_signals sigs;	/* the returning task's, read per return */
	uint64_t sig_reads, sig_bad;	/* reads of pending signals; queues not followed */
};

static void *trace_create(struct sup *sup)
{
	struct tsrv *t = calloc(1, sizeof(*t));

	if (t)
		t->sup = sup;
	return t;
}

static void flush(struct sub *s)
{
	if (s->blen) {
		sup_send(s->t->sup, s->client, "EVS", s->id, s->batch, s->blen);
		s->blen = 0;
	}
}

static void sub_end(struct tsrv *t, struct sub *s)
{
	flush(s);
	for (int i = 0; i < 4; i++)
		if (s->handler[i] > 0)
			gears_sc__remove(t->sc, s->handler[i]);
	for (int i = 0; i < s->nrules; i++)
		if (s->rules[i].handler > 0)
			gears_sc__remove(t->sc, s->rules[i].handler);
	s->nrules = 0;
	s->used = false;
}

static int on_rule(struct gears_sc_call *c, void *ctx)
{
	struct rule *r = ctx;
	struct sub *s = r->s;

	if (s->scope_pid ? gears_sc_call__pid(c) != s->scope_pid
			 : strncmp(gears_sc_call__comm(c), s->scope_comm, 15))
		return 0;
	switch (r->what) {
	case R_SKIP:
		return gears_sc_call__skip(c, r->value);
	case R_RET:
		return gears_sc_call__set_ret(c, r->value);
	case R_ARG:
		return gears_sc_call__set_arg(c, r->arg, (uint64_t)r->value);
	}
	return 0;
}

/* "inject": [{"nr": N, "compat": bool, "skip": V | "ret": V | "arg": I, "value": V}] */
static int add_rules(struct tsrv *t, struct sub *s, json_t *inject, json_t *scope, unsigned delivery,
		     char *err, size_t errsz)
{
	size_t i;
	json_t *v;

	if (!inject)
		return 0;
	s->scope_pid = (int)json_integer_value(json_object_get(scope, "pid"));
	snprintf(s->scope_comm, sizeof(s->scope_comm), "%s",
		 json_string_value(json_object_get(scope, "comm")) ?: "");
	if (!s->scope_pid && !s->scope_comm[0]) {
		snprintf(err, errsz, "inject needs a scope: -p PID or --comm NAME");
		return -EINVAL;
	}
	if (delivery == GEARS_SC_RING)
		delivery = GEARS_SC_SYNC;	/* changing a call needs the guest to wait */
	json_array_foreach(inject, i, v) {
		struct rule *r;
		json_int_t nr = json_integer_value(json_object_get(v, "nr"));

		if (s->nrules >= MAX_RULES || nr < 0 || nr >= GEARS_SC_NR_WORDS * 64) {
			snprintf(err, errsz, "bad or too many inject rules");
			return -EINVAL;
		}
		r = &s->rules[s->nrules++];
		*r = (struct rule){ .nr = (int)nr, .compat = json_is_true(json_object_get(v, "compat")), .s = s };
		if (json_object_get(v, "skip")) {
			r->what = R_SKIP;
			r->value = json_integer_value(json_object_get(v, "skip"));
		} else if (json_object_get(v, "ret")) {
			r->what = R_RET;
			r->value = json_integer_value(json_object_get(v, "ret"));
		} else if (json_object_get(v, "arg")) {
			r->what = R_ARG;
			r->arg = (int)json_integer_value(json_object_get(v, "arg"));
			r->value = json_integer_value(json_object_get(v, "value"));
			if (r->arg < 0 || r->arg > 5) {
				snprintf(err, errsz, "inject: argument index must be 0..5");
				return -EINVAL;
			}
		} else {
			snprintf(err, errsz, "inject rule without an action");
			return -EINVAL;
		}
		r->handler = gears_sc__add(t->sc, r->nr, delivery | (r->compat ? GEARS_SC_COMPAT : 0) |
					   (r->what == R_RET ? GEARS_SC_ON_EXIT : GEARS_SC_ON_ENTRY),
					   on_rule, r);
		if (r->handler < 0) {
			snprintf(err, errsz, "inject: %s", gears_last_error());
			return r->handler;
		}
	}
	return 0;
}

static void send_stats(struct tsrv *t, int client, uint32_t id);

static int trace_poll(void *state, const struct pollfd *p, int n);

/* The VM is going away: subscribers get their last records and the final
 * counters. The engine itself belongs to the supervisor. */
static void trace_destroy(void *state)
{
	struct tsrv *t = state;

	if (!t)
		return;
	if (t->sc)
		gears_sc__poll(t->sc, 0);
	trace_poll(t, NULL, 0);
	for (int i = 0; i < MAX_SUBS; i++) {
		if (t->subs[i].used) {
			send_stats(t, t->subs[i].client, t->subs[i].id);
			sub_end(t, &t->subs[i]);
		}
	}
	free(t);
}

/* ---- records ---- */

struct recbuf {
	char b[TREC_MAX];
	size_t len;
	bool trunc;
};

static void add_str(struct recbuf *rb, struct trace_rec *r, uint8_t tag, const char *txt, size_t max)
{
	size_t n = strnlen(txt, max);

	if (rb->len + 2 + n > sizeof(rb->b)) {
		if (rb->len + 3 > sizeof(rb->b)) {
			rb->trunc = true;
			return;
		}
		n = sizeof(rb->b) - rb->len - 2;
		rb->trunc = true;
	}
	rb->b[rb->len++] = (char)tag;
	memcpy(rb->b + rb->len, txt, n);
	rb->len += n;
	rb->b[rb->len++] = 0;
	r->nstr++;
}

/* The string at `va` in the caller's memory. */
static bool mem_str(struct gears_sc_call *c, uint64_t va, char *buf, size_t max, bool *trunc)
{
	int r = gears_sc_call__read_str(c, va, buf, max);

	if (r == -ENAMETOOLONG) {
		*trunc = true;
		return true;
	}
	return r >= 0;
}

static void strings(struct gears_sc_call *c, struct trace_rec *r, struct recbuf *rb)
{
	int nr = gears_sc_call__nr(c), argv;
	bool compat = gears_sc_call__compat(c), ring = gears_sc_call__delivery(c) == GEARS_SC_RING;
	unsigned mask = gears_sc__string_args(nr, compat, &argv);
	static char buf[STR_MAX];
	int k = 0;	/* captured strings used so far */

	/* Ring records carry what the guest stub captured (for an exit, at the
	 * call's entry). Sync and exit modes read the caller's memory at entry,
	 * while it waits. After the fact, an execve's old memory is gone. */
	/* At a return (filter, exit), strings the entry could not read: a path
	 * in a page not yet faulted in is there now, the kernel read it. */
	if (gears_sc_call__is_exit(c) && !ring && argv >= 0)
		return;
	for (int a = 0; a < 6; a++) {
		const char *cap;

		if (!(mask & (1u << a)))
			continue;
		cap = ring ? gears_sc_call__captured(c, k++) : NULL;
		if (cap)
			add_str(rb, r, (uint8_t)a, cap, STR_MAX);
		else if ((!ring || argv < 0) &&
			 mem_str(c, gears_sc_call__arg(c, a), buf, sizeof(buf), &rb->trunc))
			add_str(rb, r, (uint8_t)a, buf, STR_MAX);
	}
	if (argv < 0)
		return;
	if (ring) {
		const char *cap;

		for (int i = 0; i < ARGV_MAX && (cap = gears_sc_call__captured(c, k + i)); i++)
			add_str(rb, r, (uint8_t)(TREC_ARGV + i), cap, ARGV_STR_MAX);
		return;
	}
	for (int i = 0; i < ARGV_MAX; i++) {
		uint64_t p = 0;
		size_t psz = compat ? 4 : 8;

		if (gears_sc_call__read(c, gears_sc_call__arg(c, argv) + psz * (uint64_t)i, &p, psz) || !p)
			break;
		if (!mem_str(c, p, buf, ARGV_STR_MAX, &rb->trunc))
			break;
		add_str(rb, r, (uint8_t)(TREC_ARGV + i), buf, ARGV_STR_MAX);
	}
}

/* Blobs: what the call's arguments point to (services/trace/decode). */
struct blobctx {
	struct gears_sc_call *c;
	struct recbuf *rb;
	struct trace_rec *r;
};

static int blob_read(void *ctx, uint64_t va, void *buf, size_t len)
{
	struct blobctx *b = ctx;

	return len ? gears_sc_call__read(b->c, va, buf, len) : 0;
}

static void blob_put(void *ctx, unsigned tag, const void *data, size_t len)
{
	struct blobctx *b = ctx;
	struct recbuf *rb = b->rb;

	if (len > 0xffff || rb->len + 3 + len > sizeof(rb->b)) {
		rb->trunc = true;
		return;
	}
	rb->b[rb->len++] = (char)tag;
	rb->b[rb->len++] = (char)(len & 0xff);
	rb->b[rb->len++] = (char)(len >> 8);
	memcpy(rb->b + rb->len, data, len);
	rb->len += len;
	b->r->nstr++;
}

/* Filter and exit modes: the caller waits, its memory is as the call sees it. */
static void blobs(struct sub *s, struct gears_sc_call *c, struct trace_rec *r, struct recbuf *rb)
{
	struct blobctx b = { c, rb, r };
	struct dec_cap cap = {
		.nr = r->nr, .compat = r->flags & TREC_COMPAT, .exit = r->kind == TREC_EXIT,
		.ret = r->ret, .strsize = s->strsize, .read = blob_read, .put = blob_put, .ctx = &b,
	};

	if (gears_sc_call__delivery(c) == GEARS_SC_RING)
		return;
	memcpy(cap.args, r->args, sizeof(cap.args));
	cap.sp = gears_sc_call__user_sp(c);
	dec_capture(&cap);
}

static void put_rec(struct sub *s, const void *rec, size_t len)
{
	if (s->blen + len > sizeof(s->batch))
		flush(s);
	memcpy(s->batch + s->blen, rec, len);
	s->blen += len;
}

/*
 * Filter and exit modes: the call returns where the kernel calls
 * syscall_exit_to_user_mode, before it delivers signals. What it is about to
 * deliver is read from the task (pending, blocked, handlers) and sent as
 * signal records right after the call's.
 */
static void signals(struct sub *s, struct gears_sc_call *c, const struct trace_rec *call)
{
	struct tsrv *t = s->t;
	struct gears_linux *l = gears_vm__linux(sup_vm(t->sup));
	struct dec_delivery d[8];
	int n;

	if (!l || !gears_sc_call__task(c))
		return;
	t->sig_reads++;
	if (gears_linux__task_signals(l, gears_sc_call__task(c), &t->sigs))
		return;
	t->sig_bad += t->sigs.bad;
	n = dec_sig_deliveries(&t->sigs, d, 8);
	for (int i = 0; i < n; i++) {
		_Alignas(8) char b[sizeof(struct trace_rec) + 3 + GEARS_SIGINFO_SIZE + 8];
		struct trace_rec *r = (struct trace_rec *)b;
		size_t len = sizeof(*r);

		memset(b, 0, sizeof(b));
		r->kind = TREC_SIGNAL;
		r->flags = call->flags & TREC_COMPAT;
		r->nr = d[i].sig;
		r->pid = call->pid;
		r->tid = call->tid;
		r->ppid = call->ppid;
		r->cpu = call->cpu;
		r->time_ns = call->time_ns;
		r->args[0] = d[i].flags;
		r->args[1] = (uint64_t)d[i].status;
		memcpy(r->comm, call->comm, sizeof(r->comm));
		if (d[i].info && !(d[i].flags & DEC_SIG_NOLINE)) {
			b[len++] = (char)DEC_BLOB;
			b[len++] = (char)(GEARS_SIGINFO_SIZE & 0xff);
			b[len++] = (char)(GEARS_SIGINFO_SIZE >> 8);
			memcpy(b + len, d[i].info, GEARS_SIGINFO_SIZE);
			len += GEARS_SIGINFO_SIZE;
			r->nstr = 1;
		}
		len = (len + 7) & ~(size_t)7;
		r->size = (uint16_t)len;
		put_rec(s, b, len);
	}
}

static int on_call(struct gears_sc_call *c, void *ctx)
{
	struct sub *s = ctx;
	struct recbuf rb;	/* not zeroed: 8 KiB per record would dominate */
	struct trace_rec *r = (struct trace_rec *)rb.b;

	rb.len = sizeof(struct trace_rec);
	rb.trunc = false;
	memset(r, 0, sizeof(*r));
	r->kind = gears_sc_call__is_exit(c) ? TREC_EXIT : TREC_ENTRY;
	r->flags = (gears_sc_call__compat(c) ? TREC_COMPAT : 0) | (gears_sc_call__denied(c) ? TREC_DENIED : 0);
	if (r->kind == TREC_EXIT && gears_sc_call__delivery(c) == GEARS_SC_RING)
		r->flags |= TREC_FULL;
	r->nr = gears_sc_call__nr(c);
	r->pid = gears_sc_call__pid(c);
	r->tid = gears_sc_call__tid(c);
	r->ppid = gears_sc_call__ppid(c);
	r->cpu = (uint16_t)gears_sc_call__cpu(c);
	r->time_ns = gears_sc_call__time_ns(c);
	r->entry_ns = gears_sc_call__entry_time_ns(c);
	for (int i = 0; i < 6; i++)
		r->args[i] = gears_sc_call__arg(c, i);
	r->ret = r->kind == TREC_EXIT ? gears_sc_call__ret(c) : 0;
	memcpy(r->comm, gears_sc_call__comm(c), sizeof(r->comm));
	strings(c, r, &rb);
	blobs(s, c, r, &rb);
	if (rb.trunc)
		r->flags |= TREC_TRUNC;
	rb.len = (rb.len + 7) & ~(size_t)7;
	r->size = (uint16_t)rb.len;
	put_rec(s, rb.b, rb.len);
	if (r->kind == TREC_EXIT && gears_sc_call__delivery(c) != GEARS_SC_RING)
		signals(s, c, r);
	return 0;
}

/* ---- subscriptions ---- */

static int parse_set(json_t *arr, uint64_t set[GEARS_SC_NR_WORDS], bool *any)
{
	size_t i;
	json_t *v;

	memset(set, 0, GEARS_SC_NR_WORDS * 8);
	*any = false;
	if (!arr) {
		memset(set, 0xff, GEARS_SC_NR_WORDS * 8);
		*any = true;
		return 0;
	}
	if (!json_is_array(arr))
		return -EINVAL;
	json_array_foreach(arr, i, v) {
		json_int_t nr = json_integer_value(v);

		if (!json_is_integer(v) || nr < 0 || nr >= GEARS_SC_NR_WORDS * 64)
			return -EINVAL;
		set[nr / 64] |= 1ull << (nr % 64);
		*any = true;
	}
	return 0;
}

static int subscribe(struct tsrv *t, int client, uint32_t id, const char *json, char *err, size_t errsz)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je), *inject, *scope;
	const char *mode;
	unsigned delivery;
	uint64_t set[GEARS_SC_NR_WORDS], set32[GEARS_SC_NR_WORDS];
	bool any, any32;
	struct sub *s = NULL;
	int r = 0;

	if (!j) {
		snprintf(err, errsz, "bad TRACE request: %s", je.text);
		return -EINVAL;
	}
	mode = json_string_value(json_object_get(j, "mode")) ?: "ring";
	delivery = !strcmp(mode, "ring") ? GEARS_SC_RING : !strcmp(mode, "filter") ? GEARS_SC_SYNC :
		   !strcmp(mode, "exit") ? GEARS_SC_EXIT : 0;
	if (!delivery || parse_set(json_object_get(j, "syscalls"), set, &any) ||
	    parse_set(json_object_get(j, "syscalls32"), set32, &any32)) {
		snprintf(err, errsz, "bad TRACE request (mode ring|filter|exit, syscalls: [numbers])");
		json_decref(j);
		return -EINVAL;
	}
	if (!json_is_true(json_object_get(j, "compat")))
		any32 = false;
	inject = json_incref(json_object_get(j, "inject"));
	json_t *rw = json_object_get(j, "ring_wait_ms");
	json_int_t strsize = json_integer_value(json_object_get(j, "strsize"));
	bool want_time = json_is_true(json_object_get(j, "time"));
	int ring_wait = rw ? (int)json_integer_value(rw) : INT32_MIN;
	scope = json_incref(json_object_get(j, "scope"));
	json_decref(j);
	for (int i = 0; i < MAX_SUBS && !s; i++)
		if (!t->subs[i].used)
			s = &t->subs[i];
	if (!s) {
		snprintf(err, errsz, "too many trace subscriptions");
		r = -ENOSPC;
		goto out;
	}
	if (!t->sc && !(t->sc = sup_sc(t->sup))) {
		snprintf(err, errsz, "cannot intercept system calls: %s", gears_last_error());
		r = -errno;
		goto out;
	}
	if (ring_wait != INT32_MIN)
		gears_sc__set_ring_wait(t->sc, ring_wait);
	*s = (struct sub){ .used = true, .client = client, .id = id, .t = t,
			   .strsize = strsize > 0 && strsize <= DEC_BLOB_MAX ? (unsigned)strsize : 32 };
	/* Ring: one record per call, at its return, carrying the entry too (half
	 * the guest's work); entries only for calls that never return. Sync and
	 * exit: both sides, so strings are read while they are valid. */
	unsigned flags = delivery | GEARS_SC_ON_EXIT | (delivery == GEARS_SC_RING ? 0 : GEARS_SC_ON_ENTRY) |
			 (want_time ? GEARS_SC_TIME : 0);

	for (int compat = 0; compat < 2; compat++) {
		uint64_t *st = compat ? set32 : set;
		uint64_t noret[GEARS_SC_NR_WORDS] = { 0 };
		bool has_noret = false;

		if (!(compat ? any32 : any))
			continue;
		r = gears_sc__add_set(t->sc, st, flags | (compat ? GEARS_SC_COMPAT : 0), on_call, s);
		if (r < 0)
			goto fail;
		s->handler[compat] = r;
		if (delivery != GEARS_SC_RING)
			continue;
		for (int i = 0; i < 2; i++) {
			int nr = gears_sc__number(i ? "exit_group" : "exit", compat);

			if (nr >= 0 && (st[nr / 64] & (1ull << (nr % 64)))) {
				noret[nr / 64] |= 1ull << (nr % 64);
				has_noret = true;
			}
		}
		if (has_noret) {
			r = gears_sc__add_set(t->sc, noret, GEARS_SC_RING | GEARS_SC_ON_ENTRY |
					      (compat ? GEARS_SC_COMPAT : 0), on_call, s);
			if (r < 0)
				goto fail;
			s->handler[2 + compat] = r;
		}
	}
	r = add_rules(t, s, inject, scope, delivery, err, errsz);
	if (r)
		sub_end(t, s);
	goto out;
fail:
	snprintf(err, errsz, "%s", gears_last_error());
	sub_end(t, s);
out:
	json_decref(inject);
	json_decref(scope);
	return r < 0 ? r : 0;
}

/* ---- requests ---- */

static void req_trace(void *state, const struct sup_req *rq)
{
	struct tsrv *t = state;
	char err[512];
	int main_pid;

	if (subscribe(t, rq->client, rq->id, rq->data, err, sizeof(err))) {
		sup_reply_fail(rq, "%s", err);
		return;
	}
	sup_reply_ok(rq, NULL);
	if ((main_pid = sup_main_pid(t->sup)) > 0) {
		char txt[24];
		int k = snprintf(txt, sizeof(txt), "%d", main_pid);

		sup_send(t->sup, rq->client, "PID", 0, txt, (size_t)k);
	}
}

static void req_untrace(void *state, const struct sup_req *rq)
{
	struct tsrv *t = state;

	for (int i = 0; i < MAX_SUBS; i++)
		if (t->subs[i].used && t->subs[i].client == rq->client && t->subs[i].id == rq->id)
			sub_end(t, &t->subs[i]);
	sup_reply_ok(rq, NULL);
}

static void trace_client_gone(void *state, int client)
{
	struct tsrv *t = state;

	for (int i = 0; i < MAX_SUBS; i++)
		if (t->subs[i].used && t->subs[i].client == client) {
			t->subs[i].blen = 0;	/* nobody to send it to */
			sub_end(t, &t->subs[i]);
		}
}

static json_t *stats_json(struct tsrv *t)
{
	struct gears_sc_stats st = { 0 };

	if (t->sc)
		gears_sc__stats(t->sc, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "delivered", (json_int_t)st.delivered,
			 "signal_reads", (json_int_t)t->sig_reads, "bad_signal_queues", (json_int_t)t->sig_bad,
			 "ring_events", (json_int_t)st.ring_events, "ring_drops", (json_int_t)st.ring_drops,
			 "sync_requests", (json_int_t)st.sync_requests,
			 "sync_timeouts", (json_int_t)st.sync_timeouts, "sync_late", (json_int_t)st.sync_late,
			 "vm_stops", (json_int_t)st.vm_stops, "bad_records", (json_int_t)st.bad_records);
}

static void send_stats(struct tsrv *t, int client, uint32_t id)
{
	json_t *j = stats_json(t);
	char *txt = json_dumps(j, JSON_COMPACT);

	if (txt)
		sup_send(t->sup, client, "STATS", id, txt, strlen(txt));
	free(txt);
	json_decref(j);
}

static void req_stats(void *state, const struct sup_req *rq)
{
	struct tsrv *t = state;

	/* What is in the ring now counts. */
	if (t->sc)
		gears_sc__poll(t->sc, 0);
	trace_poll(t, NULL, 0);
	send_stats(t, rq->client, rq->id);
}

/* After the engine delivered calls: send what they produced. */
static int trace_poll(void *state, const struct pollfd *p, int n)
{
	struct tsrv *t = state;

	(void)p;
	(void)n;
	for (int i = 0; i < MAX_SUBS; i++)
		if (t->subs[i].used)
			flush(&t->subs[i]);
	return 0;
}

/* The ring holds 4096 records, ~6 ms of the busiest guest loop: drain it
 * every ms while someone traces. */
static int trace_timeout_us(void *state)
{
	struct tsrv *t = state;

	for (int i = 0; i < MAX_SUBS; i++)
		if (t->subs[i].used)
			return 1000;
	return -1;
}

static json_t *trace_info(void *state)
{
	struct tsrv *t = state;
	int n = 0;

	for (int i = 0; i < MAX_SUBS; i++)
		n += t->subs[i].used;
	return json_pack("{s:i, s:o}", "subscriptions", n, "stats", stats_json(t));
}

static const struct sup_verb trace_verbs[] = {
	{ "TRACE", 0, req_trace },
	{ "UNTRACE", 0, req_untrace },
	{ "STATS", 0, req_stats },
	{ 0 },
};

static const struct sup_service trace_service = {
	.name = "trace",
	.order = 10,
	.verbs = trace_verbs,
	.create = trace_create,
	.poll = trace_poll,
	.timeout_us = trace_timeout_us,
	.client_gone = trace_client_gone,
	.info = trace_info,
	.destroy = trace_destroy,
};
SUP_SERVICE(trace_service);
