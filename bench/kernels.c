// SPDX-License-Identifier: MIT
/*
 * Introspection cost on every Debian kernel of the VM tests' matrix: for each,
 * one boot (gears run --kernel-package PKG), then
 *   - the first `gears kernel` (no cache: the kallsyms scan of guest RAM and the
 *     BTF parse; the 6.12 kernels have ~155-163k symbols against 6.1's ~87-94k),
 *     COLD rounds, the VM's symbol cache removed before each;
 *   - `gears ps` (warm) alternated with the guest listing itself (busybox ps
 *     through `gears exec`, the way one would without GEARS), RUNS rounds:
 *     medians and their ratio.
 * A kernel whose image cannot be built (not downloadable: its `unavailable` file
 * says why) is reported as skipped with that reason; any other failure fails the
 * benchmark. BENCH_KERNELS="PKG ..." picks the kernels.
 *
 * Target (docs/SPECIFICATION.md): warm gears ps median < 50 ms on every kernel.
 */
#include <sys/stat.h>

#include <gears/vm.h>

#include "bench.h"

#define RUNS 11
#define COLD 5
#define T_PS 50.0	/* ms */

static const char *const matrix[] = {
	"linux-image-cloud-amd64", "linux-image-amd64", "linux-image-rt-amd64",
	"linux-image-6.12-cloud-amd64", "linux-image-6.12-amd64", "linux-image-6.12-rt-amd64", NULL,
};

static double timed(char *const argv[])
{
	struct bench_cmd c;

	if (bench_run(&c, 120, argv))
		bench_die("`%s %s %s` failed (status %d): %s", argv[0], argv[1], argv[2], c.status, c.err);
	return c.secs;
}

/* The JSON number after "key": in s (0 if absent). */
static long json_num(const char *s, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(s, k);
	return p ? atol(p + strlen(k)) : 0;
}

/* One kernel, in a child process of its own (its VM is stopped at its exit). */
static void one_kernel(const char *pkg)
{
	const char *const opts[] = { "--kernel-package", pkg, NULL };
	char name[64], cache[512], tgt[64], release[80] = "?";
	char *g = (char *)bench_gears();
	double cold[COLD], ps[RUNS], guest[RUNS];
	struct bench_cmd c;
	long nsyms;

	snprintf(name, sizeof(name), "bench-k-%d", (int)getpid());
	char *kern[] = { g, "kernel", name, "--json", NULL };
	char *ours[] = { g, "ps", name, NULL };
	char *theirs[] = { g, "exec", name, "ps", NULL };

	bench_vm_boot(name, opts);
	snprintf(cache, sizeof(cache), "%s/%s/kernel.json", gears_runtime_dir(), name);
	for (int i = 0; i < COLD; i++) {
		unlink(cache);
		cold[i] = timed(kern);
	}
	if (bench_run(&c, 120, kern))
		bench_die("gears kernel %s: %s", name, c.err);
	nsyms = json_num(c.out, "kallsyms");
	{
		const char *r = strstr(c.out, "\"release\":");

		if (r)
			sscanf(r + 10, " \"%79[^\"]\"", release);
	}
	if (nsyms < 10000)
		bench_die("%s: gears kernel reports %ld symbols", pkg, nsyms);
	timed(ours);	/* the task offsets into the cache */
	for (int i = 0; i < RUNS; i++) {
		ps[i] = timed(ours);
		guest[i] = timed(theirs);
	}
	double cmin = bench_pct(cold, COLD, 0), cmax = bench_pct(cold, COLD, 1), cm = bench_median(cold, COLD);
	double pm = bench_median(ps, RUNS), pp = bench_pct(ps, RUNS, 0.9), gm = bench_median(guest, RUNS);

	printf("  %-29s %-27s %7ld  %6.0f (%4.0f..%4.0f)  %5.1f / %5.1f  %6.1f  %5.3f %s\n", pkg, release, nsyms,
	       cm * 1e3, cmin * 1e3, cmax * 1e3, pm * 1e3, pp * 1e3, gm * 1e3, pm / gm,
	       bench_target(tgt, sizeof(tgt), pm * 1e3, true, T_PS));
	exit(0);	/* atexit: the VM is stopped */
}

int main(void)
{
	const char *sel = getenv("BENCH_KERNELS");
	char *list = strdup(sel && *sel ? sel : ""), *save = NULL;
	const char *pkgs[32];
	int n = 0, failed = 0;

	bench_name = "kernels";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (list && *list) {
		for (char *w = strtok_r(list, " ", &save); w && n < 31; w = strtok_r(NULL, " ", &save))
			pkgs[n++] = w;
	} else {
		for (; matrix[n]; n++)
			pkgs[n] = matrix[n];
	}
	printf("introspection per guest kernel (TCG, 2 vCPUs): first gears kernel median of %d (range), "
	       "warm gears ps median / p90 and in-guest ps median over %d alternated runs, ms:\n", COLD, RUNS);
	printf("  %-29s %-27s %7s  %-18s  %-13s  %6s  %s\n", "package", "release", "symbols", "first kernel",
	       "gears ps", "guest", "ps ratio");
	for (int i = 0; i < n; i++) {
		char why[512] = "", path[600];
		FILE *f;
		int st;
		pid_t pid = fork();

		if (pid < 0)
			bench_die("fork: %s", strerror(errno));
		if (pid == 0)
			one_kernel(pkgs[i]);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			continue;
		if (!strcmp(pkgs[i], "linux-image-cloud-amd64"))
			snprintf(path, sizeof(path), "build/image/unavailable");
		else
			snprintf(path, sizeof(path), "build/image-%s/unavailable", pkgs[i]);
		if ((f = fopen(path, "r"))) {
			if (!fgets(why, sizeof(why), f))
				why[0] = 0;
			fclose(f);
			why[strcspn(why, "\n")] = 0;
			printf("  %-29s skipped: %s\n", pkgs[i], why);
			continue;
		}
		printf("  %-29s FAILED (see above)\n", pkgs[i]);
		failed = 1;
	}
	free(list);
	return failed;
}
