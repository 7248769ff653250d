/* SPDX-License-Identifier: MIT */
/* Internals of lib/vm.c shared with lib/vm_adopt.c (not API). */
#ifndef GEARS_VM_INT_H
#define GEARS_VM_INT_H

#include <jansson.h>
#include <sys/types.h>

#include <gears/mem.h>
#include <gears/vm.h>

struct gears_vm {
	char name[64];
	char dir[256];
	char pathbuf[320];
	char ram_path[256], region_path[256];
	uint64_t ram_size, below_4g;
	int ncpus;
	char accel[8];
	bool launched;
	pid_t qemu_pid;
	bool reaped;
	int qemu_status;
	struct gears_qmp *qmp;
	int qmp_lock_fd;
	struct gears_mem *mem;
	struct gears_gdb *gdb;
	int gdb_lock_fd;
	void *region;
	struct gears_linux *kernel;
	/* A QEMU that GEARS did not start (gears attach): */
	bool adopted;
	bool adopter;		/* this process adopted it: undo and clean up at the end */
	char qmp_path[256];	/* its own QMP socket, shared with its owner (or our proxy's) */
	bool qmp_fn;		/* vm->qmp is a transport (libvirt): kept, never released */
	char region_id[64];	/* qdev id of the region device ("gears-region") */
	struct gears_ram_layout ram;
	bool region_plugged;	/* we hot-plugged the region device (remove it at detach) */
	char region_why[256];	/* why there is no region ("" when there is one) */
	int hold_fd;		/* the abstract socket that says "held by a supervisor" */
};

int vm_valid_name(const char *n);
int vm_prepare_dir(struct gears_vm *vm);
int vm_write_state(struct gears_vm *vm);
int vm_read_state(const char *name, json_t **out);
bool vm_pid_alive(pid_t pid);
int vm_make_shm(const char *path, uint64_t size);
void vm_free(struct gears_vm *vm);
void vm_clean_stale(const char *name, json_t *st);

/* lib/vm_adopt.c */
/* Add the adopted VM's fields to its state.json object. 0 or -ENOMEM. */
int vm_adopt_state(const struct gears_vm *vm, json_t *j);
/* Read them back (gears_vm__attach by another tool). */
void vm_adopt_load(struct gears_vm *vm, json_t *st);
/* Hold QEMU `pid` for this process (an abstract unix socket bound while we
 * live): fd, or -EBUSY when another supervisor holds it. */
int vm_hold_qemu(pid_t pid);

#endif
