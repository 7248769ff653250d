// SPDX-License-Identifier: MIT
/*
 * The VM's one system call interception engine (gears_sc), shared by every
 * service: created on first use, polled on every turn of the loop, and put to
 * sleep behind the doorbell when no guest waits on us.
 */
#include <errno.h>

#include "sup_int.h"

struct gears_sc *sup_sc(struct sup *s)
{
	if (!s->sc) {
		s->sc = gears_sc__new(s->vm, NULL);
		if (s->sc && s->bell_fd >= 0)
			gears_sc__set_bell(s->sc, GEARS_VM_BELL_PORT);
	}
	return s->sc;
}

int sup_engine_poll(struct sup *s)
{
	int n;

	if (!s->sc)
		return 0;
	n = gears_sc__poll(s->sc, 0);
	if (n > 0)
		s->sc_last_work = gears_now_ns();
	return n;
}

int sup_engine_sleep_us(struct sup *s)
{
	if (!s->sc)
		return 1000000;
	/* A guest may spin on a synchronous request until we look: look often
	 * while requests come, less once they have stopped for 5 ms (each
	 * wake-up takes host CPU from the vCPUs on small machines: at 100 µs
	 * between rare requests, execve under an env rule cost 1.14x). */
	if (gears_sc__busy(s->sc))
		return gears_now_ns() - s->sc_last_work < 5000000ull ? 100 : 1000;
	return 1000000;
}

int sup_engine_fd(struct sup *s)
{
	return s->sc ? gears_sc__fd(s->sc) : -1;
}

bool sup_engine_sync(struct sup *s)
{
	return s->sc && gears_sc__busy(s->sc);
}

/* 1: armed, *sleep_us may grow; -1: a request waits, do not sleep; 0: no bell. */
int sup_engine_bell_arm(struct sup *s, int *sleep_us)
{
	if (!s->sc || s->bell_fd < 0 || !gears_sc__stub_installed(s->sc) || !gears_sc__busy(s->sc))
		return 0;
	if (!gears_sc__bell_arm(s->sc))
		return -1;
	*sleep_us = 1000000;	/* services that drain rings say so with timeout_us */
	return 1;
}

void sup_engine_bell_disarm(struct sup *s)
{
	if (s->sc && s->bell_fd >= 0)
		gears_sc__bell_disarm(s->sc);
}

void sup_engine_free(struct sup *s)
{
	gears_sc__free(s->sc);
	s->sc = NULL;
}
