/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the benchmarks: timing, spawning, statistics. */
#ifndef GEARS_BENCH_H
#define GEARS_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of n samples (sorts them). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline double bench_pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	int i = (int)(p * (n - 1) + 0.5);

	return v[i];
}

/* Path of the gears binary under test. */
static inline const char *bench_gears(void)
{
	const char *g = getenv("GEARS");

	return g && *g ? g : "build/gears";
}

#endif
