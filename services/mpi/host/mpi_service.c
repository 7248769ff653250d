// SPDX-License-Identifier: MIT
/*
 * The MPI accelerator's supervisor service: `gears run --mpi JOB[,prog=GLOB]`.
 *
 * kernel_up: the VM joins job JOB's broker (mpi_broker.h: a shared-memory
 * file every co-located supervisor of the job maps), the service's hypercalls
 * are installed, and an env rule preloads the PMPI library
 * (/lib/gears/gears_mpi.so, services/mpi/guest/gears_mpi.c) into every program
 * GLOB matches (default: every program; the library does nothing in programs
 * that never call MPI_Init). Each hypercall of the library is answered here,
 * at once, by mpi_broker_hcall(). destroy: the VM leaves the job (requests of
 * other VMs' ranks waiting for its ranks fail), the last one out removes the
 * file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gears/linux.h>
#include <gears/syscall.h>
#include <gears/vm.h>

#include "supervisor.h"
#include "mpi_broker.h"
#include "../../env/host/env_service.h"
#include "../guest/gears_mpi_abi.h"

#define PRELOAD "/lib/gears/gears_mpi.so"

struct mpi_svc {
	struct sup *sup;
	char job[64];
	char glob[PATH_MAX];
	char path[128];
	struct mpi_broker *b;
	int slot;
	uint64_t hcalls;
};

static void *mpi_create(struct sup *sup)
{
	struct mpi_svc *v = calloc(1, sizeof(*v));

	if (v) {
		v->sup = sup;
		v->slot = -1;
	}
	return v;
}

/* JOB[,prog=GLOB] */
static int opt_mpi(void *state, const char *arg, char *err, size_t errsz)
{
	struct mpi_svc *v = state;
	const char *comma = strchr(arg, ',');
	size_t l = comma ? (size_t)(comma - arg) : strlen(arg);

	if (!l || l >= sizeof(v->job)) {
		snprintf(err, errsz, "--mpi takes a job name of 1..%zu characters", sizeof(v->job) - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < l; i++)
		if (!(arg[i] == '-' || arg[i] == '_' || arg[i] == '.' || (arg[i] >= '0' && arg[i] <= '9') ||
		      (arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= 'A' && arg[i] <= 'Z'))) {
			snprintf(err, errsz, "--mpi: a job name is letters, digits, '-', '_' and '.'");
			return -EINVAL;
		}
	memcpy(v->job, arg, l);
	v->job[l] = 0;
	snprintf(v->glob, sizeof(v->glob), "*");
	while (comma) {
		const char *opt = comma + 1;

		comma = strchr(opt, ',');
		l = comma ? (size_t)(comma - opt) : strlen(opt);
		if (l > 5 && !strncmp(opt, "prog=", 5) && l - 5 < sizeof(v->glob)) {
			memcpy(v->glob, opt + 5, l - 5);
			v->glob[l - 5] = 0;
		} else {
			snprintf(err, errsz, "--mpi: unknown option '%.*s' (prog=GLOB)", (int)l, opt);
			return -EINVAL;
		}
	}
	return 0;
}

static int hcall(struct gears_sc_call *c, void *ctx)
{
	struct mpi_svc *v = ctx;
	uint64_t a[6];

	for (int i = 0; i < 6; i++)
		a[i] = gears_sc_call__arg(c, i);
	v->hcalls++;
	gears_sc_call__set_ret(c, mpi_broker_hcall(v->b, gears_sc_call__pid(c), gears_sc_call__cr3(c), a));
	return 0;
}

static const struct sup_service mpi_service;

/* The RAM file's name and layout, as the VM's state.json tells other gears processes. */
static int ram_layout(struct gears_vm *vm, char *path, size_t n, uint64_t *size, uint64_t *below)
{
	json_error_t je;
	json_t *st = json_load_file(gears_vm__path(vm, "state.json"), 0, &je);
	const char *p;

	if (!st)
		return -ENOENT;
	p = json_string_value(json_object_get(st, "ram_path"));
	*size = (uint64_t)json_integer_value(json_object_get(st, "ram_size"));
	*below = (uint64_t)json_integer_value(json_object_get(st, "below_4g"));
	if (!p || strlen(p) >= n || !*size) {
		json_decref(st);
		return -EINVAL;
	}
	strcpy(path, p);
	json_decref(st);
	return 0;
}

static int mpi_kernel_up(void *state, char *err, size_t errsz)
{
	struct mpi_svc *v = state;
	struct gears_vm *vm = sup_vm(v->sup);
	struct gears_linux *l = gears_vm__linux(vm);
	void *env = sup_service_state(v->sup, "env");
	char ram[256], rule[PATH_MAX + 64];
	uint64_t size, below;
	int r;

	if (!*v->job)
		return 0;
	if (!l) {
		snprintf(err, errsz, "mpi: cannot read the guest kernel: %s", gears_last_error());
		return -EIO;
	}
	if ((r = ram_layout(vm, ram, sizeof(ram), &size, &below))) {
		snprintf(err, errsz, "mpi: cannot read the VM's state.json");
		return r;
	}
	snprintf(v->path, sizeof(v->path), "/dev/shm/gears-mpi-%s", v->job);
	if (!(v->b = mpi_broker_open(v->path, err, errsz)))
		return -errno;
	v->slot = mpi_broker_add_vm(v->b, gears_vm__mem(vm), ram, size, below, gears_linux__levels(l), (int)getpid());
	if (v->slot < 0) {
		snprintf(err, errsz, "mpi: job %s has no room for another VM: %s", v->job, strerror(-v->slot));
		return v->slot;
	}
	if ((r = sup_hcalls_enable(v->sup, &mpi_service))) {
		snprintf(err, errsz, "mpi: hypercalls: %s", gears_last_error());
		return r;
	}
	if (!env) {
		snprintf(err, errsz, "mpi: no env service");
		return -ENOENT;
	}
	snprintf(rule, sizeof(rule), "%s:LD_PRELOAD+=" PRELOAD, v->glob);
	return env_service_add(env, rule, err, errsz);
}

static json_t *mpi_info(void *state)
{
	struct mpi_svc *v = state;
	struct mpi_broker_stats st = { 0 };

	if (!v->b)
		return json_pack("{s:s}", "job", v->job);
	mpi_broker_stats(v->b, &st);
	return json_pack("{s:s, s:s, s:i, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "job", v->job,
			 "broker", v->path, "vm_slot", v->slot, "job_id", (json_int_t)mpi_broker_job_id(v->b), "hcalls",
			 (json_int_t)v->hcalls, "stats", "calls", (json_int_t)st.calls, "sends", (json_int_t)st.sends,
			 "recvs", (json_int_t)st.recvs, "matched", (json_int_t)st.matched, "eager",
			 (json_int_t)st.eager, "copied_bytes", (json_int_t)st.copied_bytes, "errors",
			 (json_int_t)st.errors, "faults", (json_int_t)st.faults);
}

static void mpi_destroy(void *state)
{
	struct mpi_svc *v = state;

	if (!v)
		return;
	if (v->b && mpi_broker_close_last(v->b))
		unlink(v->path);
	free(v);
}

static const struct sup_option mpi_options[] = {
	{ "mpi", "JOB[,prog=GLOB]", "join MPI job JOB's accelerator: messages between its co-located ranks become "
	  "host memory copies; its PMPI library is preloaded into programs GLOB matches (default all)", false,
	  opt_mpi },
	{ 0 },
};

static const struct sup_service mpi_service = {
	.name = "mpi",
	.order = 40,	/* after env (20), whose rules it adds */
	.options = mpi_options,
	.hcall_lo = GMPI_HC_BASE,
	.hcall_hi = GMPI_HC_LAST,
	.hcall = hcall,
	.create = mpi_create,
	.kernel_up = mpi_kernel_up,
	.info = mpi_info,
	.destroy = mpi_destroy,
};
SUP_SERVICE(mpi_service);
