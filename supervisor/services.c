// SPDX-License-Identifier: MIT
/*
 * The service registry: every SUP_SERVICE() descriptor linked into the gears
 * binary sits in the "gears_services" section; the linker provides its bounds.
 * Services are started in `order` and stopped in reverse, and each hook is
 * called for every service that has it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_int.h"

extern const struct sup_service *const __start_gears_services[] __attribute__((weak));
extern const struct sup_service *const __stop_gears_services[] __attribute__((weak));

int sup_registry(const struct sup_service *const **list)
{
	static const struct sup_service *sorted[SUP_MAX_SERVICES];
	static int n = -1;

	if (n < 0) {
		n = 0;
		for (const struct sup_service *const *p = __start_gears_services;
		     p && p < __stop_gears_services && n < SUP_MAX_SERVICES; p++)
			sorted[n++] = *p;
		/* Insertion sort by order, then name: a stable, documented start order. */
		for (int i = 1; i < n; i++) {
			const struct sup_service *x = sorted[i];
			int j = i - 1;

			while (j >= 0 && (sorted[j]->order > x->order ||
					  (sorted[j]->order == x->order && strcmp(sorted[j]->name, x->name) > 0))) {
				sorted[j + 1] = sorted[j];
				j--;
			}
			sorted[j + 1] = x;
		}
	}
	*list = sorted;
	return n;
}

static struct sup_svc *svc_of(struct sup *s, const struct sup_service *d)
{
	for (int i = 0; i < s->nsvc; i++)
		if (s->svc[i].d == d)
			return &s->svc[i];
	return NULL;
}

int sup_services_create(struct sup *s, const struct sup_pending_opt *opts, int nopts, char *err, size_t errsz)
{
	const struct sup_service *const *list;
	int n = sup_registry(&list);

	for (int i = 0; i < n; i++) {
		struct sup_svc *v = &s->svc[s->nsvc];

		v->d = list[i];
		v->state = NULL;
		if (v->d->create && !(v->state = v->d->create(s))) {
			snprintf(err, errsz, "service %s: %s", v->d->name,
				 *gears_last_error() ? gears_last_error() : strerror(errno));
			return -EIO;
		}
		s->nsvc++;
	}
	for (int i = 0; i < nopts; i++) {
		struct sup_svc *v = svc_of(s, opts[i].svc);
		char why[512] = "";
		int r;

		if (!v || !opts[i].opt->parse)
			continue;
		r = opts[i].opt->parse(v->state, opts[i].arg, why, sizeof(why));
		if (r) {
			snprintf(err, errsz, "--%s: %s", opts[i].opt->name, *why ? why : strerror(-r));
			return r;
		}
	}
	return 0;
}

int sup_services_qemu_args(struct sup *s, struct sup_args *a, char *err, size_t errsz)
{
	for (int i = 0; i < s->nsvc; i++) {
		struct sup_svc *v = &s->svc[i];
		char why[512] = "";
		int r;

		if (!v->d->qemu_args)
			continue;
		r = v->d->qemu_args(v->state, a, why, sizeof(why));
		if (r) {
			snprintf(err, errsz, "%s: %s", v->d->name, *why ? why : strerror(-r));
			return r;
		}
	}
	return 0;
}

int sup_hcalls_enable(struct sup *s, const struct sup_service *d)
{
	struct sup_svc *v = svc_of(s, d);
	struct gears_sc *sc;
	int id;

	if (!v || !d->hcall || d->hcall_hi < d->hcall_lo)
		return -EINVAL;
	if (v->hcall_id > 0)
		return 0;
	if (!(sc = sup_sc(s)))
		return -errno;
	id = gears_sc__add_hcall(sc, d->hcall_lo, d->hcall_hi, d->hcall, v->state);
	if (id < 0)
		return id;
	v->hcall_id = id;
	return 0;
}

/* The hooks that take (state, err, errsz). */
int sup_services_call(struct sup *s, int hook, char *err, size_t errsz)
{
	for (int i = 0; i < s->nsvc; i++) {
		struct sup_svc *v = &s->svc[i];
		int (*fn)(void *, char *, size_t) = NULL;
		char why[512] = "";
		int r = 0;

		switch (hook) {
		case SUP_HOOK_LAUNCHED:
			if (v->d->hcall && v->d->hcall_eager && (r = sup_hcalls_enable(s, v->d)) < 0)
				snprintf(why, sizeof(why), "hypercalls: %s", gears_last_error());
			fn = v->d->launched;
			break;
		case SUP_HOOK_KERNEL_UP:
			fn = v->d->kernel_up;
			break;
		case SUP_HOOK_GUEST_READY:
			fn = v->d->guest_ready;
			break;
		case SUP_HOOK_STOPPING:
			if (v->d->stopping)
				v->d->stopping(v->state);
			continue;
		}
		if (!r && fn)
			r = fn(v->state, why, sizeof(why));
		if (r) {
			snprintf(err, errsz, "%s: %s", v->d->name, *why ? why : strerror(-r));
			return r;
		}
	}
	return 0;
}

void sup_services_destroy(struct sup *s)
{
	for (int i = s->nsvc - 1; i >= 0; i--) {
		struct sup_svc *v = &s->svc[i];

		if (v->hcall_id > 0 && s->sc)
			gears_sc__remove_hcall(s->sc, v->hcall_id);
		v->hcall_id = 0;
		if (v->d->destroy)
			v->d->destroy(v->state);
		v->state = NULL;
	}
	s->nsvc = 0;
}

bool sup_services_verb(struct sup *s, const struct sup_req *rq)
{
	for (int i = 0; i < s->nsvc; i++) {
		const struct sup_verb *vb = s->svc[i].d->verbs;

		for (; vb && vb->type; vb++) {
			if (strcmp(vb->type, rq->type))
				continue;
			if ((vb->flags & SUP_VERB_NEEDS_GUEST) && (!sup_guest_ready(s) || s->stopping))
				sup_reply_fail(rq, "%s", s->stopping ? "VM is shutting down" : "the guest is not up");
			else if ((vb->flags & SUP_VERB_NEEDS_KERNEL) && (!s->kernel_up || s->stopping))
				sup_reply_fail(rq, "%s", s->stopping ? "VM is shutting down" :
					       "the guest kernel is not up yet");
			else
				vb->handle(s->svc[i].state, rq);
			return true;
		}
	}
	return false;
}

void sup_services_client_gone(struct sup *s, int client)
{
	for (int i = 0; i < s->nsvc; i++)
		if (s->svc[i].d->client_gone)
			s->svc[i].d->client_gone(s->svc[i].state, client);
}

int sup_services_fds(struct sup *s, struct pollfd *p, int n, int max)
{
	for (int i = 0; i < s->nsvc; i++) {
		struct sup_svc *v = &s->svc[i];
		int room = max - n < SUP_MAX_SVC_FDS ? max - n : SUP_MAX_SVC_FDS;

		v->pfd = n;
		v->npfd = 0;
		if (v->d->fds && room > 0) {
			int k = v->d->fds(v->state, p + n, room);

			v->npfd = k < 0 ? 0 : k > room ? room : k;
			n += v->npfd;
		}
	}
	return n;
}

int sup_services_poll(struct sup *s, const struct pollfd *p)
{
	int work = 0;

	for (int i = 0; i < s->nsvc; i++) {
		struct sup_svc *v = &s->svc[i];

		if (v->d->poll) {
			int r = v->d->poll(v->state, p + v->pfd, v->npfd);

			if (r > 0)
				work += r;
		}
	}
	return work;
}

int sup_services_timeout_us(struct sup *s)
{
	int t = -1;

	for (int i = 0; i < s->nsvc; i++) {
		struct sup_svc *v = &s->svc[i];
		int k;

		if (!v->d->timeout_us || (k = v->d->timeout_us(v->state)) < 0)
			continue;
		if (t < 0 || k < t)
			t = k;
	}
	return t;
}

json_t *sup_services_info(struct sup *s)
{
	json_t *o = json_object();

	for (int i = 0; i < s->nsvc; i++) {
		struct sup_svc *v = &s->svc[i];
		json_t *j = v->d->info ? v->d->info(v->state) : NULL;

		json_object_set_new(o, v->d->name, j ? j : json_object());
	}
	return o;
}

void *sup_service_state(struct sup *s, const char *name)
{
	for (int i = 0; i < s->nsvc; i++)
		if (!strcmp(s->svc[i].d->name, name))
			return s->svc[i].state;
	return NULL;
}

int sup_args_add(struct sup_args *a, const char *arg)
{
	if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		return -E2BIG;
	if (!(a->v[a->n] = strdup(arg)))
		return -ENOMEM;
	a->n++;
	return 0;
}

int sup_args_addf(struct sup_args *a, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -E2BIG;
	return sup_args_add(a, buf);
}
