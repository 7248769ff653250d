/* SPDX-License-Identifier: MIT */
/*
 * A guest VM: QEMU launched as a child of this process, or one launched by
 * another `gears` process and attached to by name.
 *
 * Each VM has a private runtime directory (gears_runtime_dir()/NAME) holding
 * QEMU's sockets (QMP for the launcher, QMP for tools, gdbstub, console, agent)
 * and state.json; guest RAM and the GEARS region are files in /dev/shm that
 * QEMU maps shared, so this process reads guest memory at memcpy speed.
 */
#ifndef GEARS_VM_H
#define GEARS_VM_H

#include <sys/types.h>

#include <gears/gdb.h>
#include <gears/mem.h>
#include <gears/qmp.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gears_vm;

/* Size of the GEARS region (one 2 MiB large page in the guest). */
#define GEARS_REGION_SIZE (2u << 20)

struct gears_vm_opts {
	size_t sz;			/* sizeof(struct gears_vm_opts): use GEARS_OPTS() */
	const char *name;		/* NULL: "vm-<pid>" */
	const char *kernel;		/* NULL: the default image's vmlinuz */
	const char *initrd;		/* NULL: the default image's initrd (only if kernel is NULL too) */
	const char *append;		/* NULL: "console=ttyS0 quiet panic=-1" */
	const char *accel;		/* "auto" (NULL), "tcg" or "kvm" */
	unsigned smp;			/* 0: 2 */
	uint64_t mem;			/* bytes; 0: 512 MiB */
	const char *qemu;		/* NULL: "qemu-system-x86_64" */
	const char *const *extra_args;	/* NULL-terminated, appended to QEMU's command line */
	bool start_paused;		/* leave the VM paused (QMP "cont" starts it) */
	/* Called once the VM's runtime directory exists, before QEMU starts (for
	 * devices whose sockets live there): may set *more to further QEMU
	 * arguments (NULL-terminated, valid until gears_vm__launch returns).
	 * A negative return aborts the launch with that errno. */
	int (*prepare)(struct gears_vm *vm, void *ctx, const char *const **more);
	void *prepare_ctx;
	/* A disk image (raw or qcow2) as a virtio-blk disk. Without `kernel`,
	 * the VM boots from it through its firmware (a real distribution's own
	 * boot loader); with `kernel`, the kernel is booted directly. */
	const char *disk;
	bool snapshot;			/* disk writes go to a temporary overlay, the file stays */
	const char *cpu;		/* QEMU CPU model (NULL: QEMU's default; "max" has LA57) */
};
#define gears_vm_opts__last_field cpu

/* Launch QEMU. Returns once QMP answers (the guest is then booting, or paused
 * with start_paused). NULL + errno: EEXIST when a live VM already has the name;
 * QEMU's own complaint is in gears_last_error(). */
GEARS_API struct gears_vm *gears_vm__launch(const struct gears_vm_opts *opts);
/* Attach to a VM started by another gears process. ENOENT if there is none. */
GEARS_API struct gears_vm *gears_vm__attach(const char *name);
/* Launched VM: stop QEMU if it still runs (quit, then SIGKILL after 3 s) and
 * remove the runtime directory and the shared-memory files. Attached VM:
 * disconnect only. */
GEARS_API void gears_vm__close(struct gears_vm *vm);

GEARS_API const char *gears_vm__name(const struct gears_vm *vm);
GEARS_API int gears_vm__ncpus(const struct gears_vm *vm);
GEARS_API const char *gears_vm__accel(const struct gears_vm *vm);	/* "tcg" or "kvm" */
GEARS_API pid_t gears_vm__qemu_pid(const struct gears_vm *vm);
/* Full path of a file in the VM's runtime directory ("console.sock", ...). */
GEARS_API const char *gears_vm__path(struct gears_vm *vm, const char *file);
/* The doorbell's I/O port (an isa-debugcon device; its chardev is the
 * runtime directory's bell.sock). */
#define GEARS_VM_BELL_PORT 0x4745u

/* QMP: the launcher's own connection, or for an attached VM the tools'
 * socket, serialised between tools by a lock held until gears_vm__close(). */
GEARS_API struct gears_qmp *gears_vm__qmp(struct gears_vm *vm);
/* Let other tools have the tools' QMP socket again (attached VMs; the
 * library does this itself after its own short uses). */
GEARS_API void gears_vm__qmp_release(struct gears_vm *vm);
/* Guest RAM, mapped read-write on first use. */
GEARS_API struct gears_mem *gears_vm__mem(struct gears_vm *vm);
/* The gdbstub, connected on first use (this stops the VM until
 * gears_gdb__cont()). One gears process at a time: EBUSY otherwise. */
GEARS_API struct gears_gdb *gears_vm__gdb(struct gears_vm *vm);
/* Disconnect the gdbstub (breakpoints removed, VM resumed). */
GEARS_API void gears_vm__gdb_release(struct gears_vm *vm);

/* What QEMU's monitor reports about a vCPU, without stopping the VM. */
struct gears_cpu_state {
	uint64_t rip, rsp, cr0, cr3, cr4, efer, gs_base;
	int cpl;
	bool halted;
};
/* Fill up to `max` states (one per vCPU). Returns the number filled. */
GEARS_API int gears_vm__cpu_states(struct gears_vm *vm, struct gears_cpu_state *st, int max);

/* The GEARS region: host mapping of its 2 MiB file, and the guest-physical
 * address where the guest's firmware placed its BAR. */
GEARS_API void *gears_vm__region(struct gears_vm *vm);
GEARS_API int gears_vm__region_gpa(struct gears_vm *vm, uint64_t *gpa);

/* The guest's Linux kernel (introspection from outside; see gears/linux.h),
 * opened on first use with the CR3 of a vCPU in kernel mode and the VM's
 * symbol cache (kernel.json in the runtime directory). Owned by the VM. */
struct gears_linux;
GEARS_API struct gears_linux *gears_vm__linux(struct gears_vm *vm);
/* Forget the kernel view (and its cache file): the next gears_vm__linux()
 * reads the guest again. For a kernel looked at too early in its boot, or one
 * that has rebooted. */
GEARS_API void gears_vm__linux_refresh(struct gears_vm *vm);

/* Launched VM: wait up to timeout_ms (-1 forever) for QEMU to exit.
 * Returns 1 exited (*status as from waitpid), 0 timeout, negative errno. */
GEARS_API int gears_vm__wait(struct gears_vm *vm, int timeout_ms, int *status);
/* Is QEMU still running? */
GEARS_API bool gears_vm__alive(struct gears_vm *vm);

/* Where VM runtime directories live: $GEARS_RUNTIME_DIR, else /run/gears for
 * root, else $XDG_RUNTIME_DIR/gears, else /tmp/gears-<uid>. */
GEARS_API const char *gears_runtime_dir(void);
/* `in` as a value inside a QEMU option string ("path=VALUE,server=on"):
 * commas doubled. Returns out, or NULL + errno (EINVAL: control characters,
 * E2BIG: does not fit outsz). */
GEARS_API const char *gears_qemu_escape(const char *in, char *out, size_t outsz);
/* Which accelerator "auto" picks here, and why (a sentence) in *why. */
GEARS_API const char *gears_accel_auto(const char **why);
/* Names of live VMs: calls cb for each; returns how many. */
GEARS_API int gears_vm__list(void (*cb)(const char *name, pid_t pid, void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
