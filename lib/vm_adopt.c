// SPDX-License-Identifier: MIT
/*
 * Adopting a QEMU that GEARS did not start (`gears attach NAME --qmp SOCKET`),
 * and giving it back (`gears detach`).
 *
 * All that is needed is its QMP monitor. Through it: QEMU's pid (SO_PEERCRED
 * on the socket), its vCPUs and accelerator, where its guest RAM is
 * (lib/qemu_ram.c), a gdbstub started on the running VM (HMP `gdbserver`),
 * and the GEARS region hot-plugged as memory-backend-file + ivshmem-plain
 * where the machine takes PCI hot-plug. Every change is undone at detach:
 * the region device and its memory object removed, the gdbstub closed
 * (`gdbserver none`). The monitor stays its owner's: GEARS connects for each
 * short exchange under the VM's QMP lock and leaves it free between them.
 *
 * One supervisor per QEMU: the adopter binds the abstract unix socket
 * "gears-qemu-PID" (as the launcher of a `gears run` VM does), which the
 * kernel releases when the holder dies, so a second attach is refused and a
 * crashed one leaves no lock behind.
 */
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vm_int.h"

int vm_hold_qemu(pid_t pid)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

	if (fd < 0)
		return -errno;
	n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "gears-qemu-%d", (int)pid);
	if (bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n))) {
		int e = errno;

		close(fd);
		return e == EADDRINUSE ? -EBUSY : -e;
	}
	return fd;
}

int vm_adopt_state(const struct gears_vm *vm, json_t *j)
{
	const struct gears_ram_layout *r = &vm->ram;
	json_t *ram = json_pack("{s:I, s:I, s:I, s:I, s:s, s:I}", "size", (json_int_t)r->size, "below_4g",
				(json_int_t)r->below_4g, "hva_low", (json_int_t)r->hva_low, "hva_high",
				(json_int_t)r->hva_high, "file", r->file, "file_off", (json_int_t)r->file_off);

	if (!ram || json_object_set_new(j, "adopted", json_true()) ||
	    json_object_set_new(j, "qmp_path", json_string(vm->qmp_path)) || json_object_set_new(j, "ram", ram) ||
	    json_object_set_new(j, "region_plugged", json_boolean(vm->region_plugged)) ||
	    json_object_set_new(j, "region_why", json_string(vm->region_why)) ||
	    json_object_set_new(j, "region_id", json_string(vm->region_id)))
		return -ENOMEM;
	return 0;
}

static uint64_t juint(json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

void vm_adopt_load(struct gears_vm *vm, json_t *st)
{
	json_t *ram = json_object_get(st, "ram");

	if (!json_is_true(json_object_get(st, "adopted")))
		return;
	vm->adopted = true;
	snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s", json_string_value(json_object_get(st, "qmp_path")) ?: "");
	snprintf(vm->region_why, sizeof(vm->region_why), "%s",
		 json_string_value(json_object_get(st, "region_why")) ?: "");
	vm->region_plugged = json_is_true(json_object_get(st, "region_plugged"));
	snprintf(vm->region_id, sizeof(vm->region_id), "%s", json_string_value(json_object_get(st, "region_id")) ?: "");
	vm->ram = (struct gears_ram_layout){ .pid = vm->qemu_pid, .size = juint(ram, "size"),
					     .below_4g = juint(ram, "below_4g"), .hva_low = juint(ram, "hva_low"),
					     .hva_high = juint(ram, "hva_high"), .file_off = juint(ram, "file_off") };
	snprintf(vm->ram.file, sizeof(vm->ram.file), "%s", json_string_value(json_object_get(ram, "file")) ?: "");
}

static char *qmp_hmp(void *ctx, const char *cmd)
{
	return gears_qmp__hmp(ctx, cmd);
}

/* An HMP command whose output must be empty (QEMU prints only errors). */
static int hmp_quiet(struct gears_qmp *q, const char *cmd)
{
	char *out = gears_qmp__hmp(q, cmd);
	int r = 0;

	if (!out)
		return -errno;
	for (char *p = out; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	if (out[strspn(out, " ")] && !strstr(out, "Waiting for gdb") && !strstr(out, "Disabled gdbserver"))
		r = gears_err(EREMOTEIO, "QEMU: %s: %.200s", cmd, out);
	free(out);
	return r;
}

/* May we drive QEMU `cr` (its pid and uid), and is it free? */
static int check_qemu(struct gears_vm *vm, const struct ucred *cr0)
{
	struct ucred c = *cr0, *cr = &c;

	vm->qemu_pid = cr->pid;
	if (cr->uid != geteuid() && geteuid() != 0)
		return gears_err(EPERM, "QEMU (pid %d) runs as uid %u: attaching takes the same user or root",
				 (int)cr->pid, (unsigned)cr->uid);
	vm->hold_fd = vm_hold_qemu(cr->pid);
	if (vm->hold_fd == -EBUSY) {
		vm->hold_fd = 0;
		return gears_err(EBUSY, "QEMU (pid %d) is already held by a GEARS supervisor (`gears list`)",
				 (int)cr->pid);
	}
	if (vm->hold_fd < 0) {
		int e = -vm->hold_fd;

		vm->hold_fd = 0;
		return gears_err(e, "cannot take QEMU pid %d: %s", (int)cr->pid, strerror(e));
	}
	return 0;
}

/* Who is at the other end of the QMP socket (or the pid we were given)? */
static int check_peer(struct gears_vm *vm, struct gears_qmp *q, pid_t given)
{
	struct ucred cr = { .pid = given };
	socklen_t len = sizeof(cr);
	char p[64];
	struct stat st;

	if (given > 0) {
		snprintf(p, sizeof(p), "/proc/%d", (int)given);
		if (stat(p, &st))
			return gears_err(ESRCH, "no QEMU process %d", (int)given);
		cr.uid = st.st_uid;
		return check_qemu(vm, &cr);
	}
	if (getsockopt(gears_qmp__fd(q), SOL_SOCKET, SO_PEERCRED, &cr, &len) || cr.pid <= 0)
		return gears_err(EPROTO, "cannot tell which process serves QMP socket %s", vm->qmp_path);
	return check_qemu(vm, &cr);
}

/* vCPUs and accelerator. */
static int read_machine(struct gears_vm *vm, struct gears_qmp *q)
{
	json_t *cpus = gears_qmp__execute(q, "query-cpus-fast", NULL), *kvm;

	if (!cpus)
		return -errno;
	vm->ncpus = (int)json_array_size(cpus);
	json_decref(cpus);
	if (vm->ncpus < 1)
		return gears_err(EPROTO, "QEMU reports no vCPUs");
	kvm = gears_qmp__execute(q, "query-kvm", NULL);
	snprintf(vm->accel, sizeof(vm->accel), "%s",
		 kvm && json_is_true(json_object_get(kvm, "enabled")) ? "kvm" : "tcg");
	json_decref(kvm);
	return 0;
}

/* The gdbstub on a socket in the runtime directory. */
static int start_gdbstub(struct gears_vm *vm, struct gears_qmp *q)
{
	char esc[600], cmd[700];
	struct stat st;

	if (!gears_qemu_escape(gears_vm__path(vm, "gdb.sock"), esc, sizeof(esc)))
		return -errno;
	snprintf(cmd, sizeof(cmd), "gdbserver unix:%s,server=on,wait=off", esc);
	if (hmp_quiet(q, cmd))
		return gears_err(errno ? errno : EREMOTEIO, "starting the gdbstub: %s", gears_last_error());
	if (stat(gears_vm__path(vm, "gdb.sock"), &st) || !S_ISSOCK(st.st_mode))
		return gears_err(EREMOTEIO, "QEMU did not open its gdbstub at %s", gears_vm__path(vm, "gdb.sock"));
	return 0;
}

/* Is there a device with id `id` on the PCI bus? */
static bool has_pci_dev(struct gears_qmp *q, const char *id)
{
	json_t *r = gears_qmp__execute(q, "query-pci", NULL), *bus, *dev;
	size_t i, j;
	bool found = false;

	json_array_foreach(r, i, bus)
		json_array_foreach(json_object_get(bus, "devices"), j, dev)
			found |= !strcmp(json_string_value(json_object_get(dev, "qdev_id")) ?: "", id);
	json_decref(r);
	return found;
}

static char *qom_str(struct gears_qmp *q, const char *path, const char *prop)
{
	json_t *r = gears_qmp__execute(q, "qom-get", json_pack("{s:s, s:s}", "path", path, "property", prop));
	char *v = json_is_string(r) ? strdup(json_string_value(r)) : NULL;

	json_decref(r);
	return v;
}

/* A region device already there: ours from an earlier attach ("gears-region"),
 * or one the VM's configuration has (libvirt's <shmem name='gears-...'>: an
 * ivshmem-plain whose memory is /dev/shm/gears-*). Its id and file. */
static bool find_region(struct gears_vm *vm, struct gears_qmp *q)
{
	json_t *r = gears_qmp__execute(q, "query-pci", NULL), *bus, *dev;
	size_t i, j;
	bool found = false;

	json_array_foreach(r, i, bus) {
		json_array_foreach(json_object_get(bus, "devices"), j, dev) {
			json_t *id = json_object_get(dev, "id");
			const char *qid = json_string_value(json_object_get(dev, "qdev_id")) ?: "";
			char path[128], *memdev, *file = NULL;

			if (found || json_integer_value(json_object_get(id, "vendor")) != 0x1af4 ||
			    json_integer_value(json_object_get(id, "device")) != 0x1110 || !*qid || strlen(qid) > 60)
				continue;
			snprintf(path, sizeof(path), "/machine/peripheral/%s", qid);
			memdev = qom_str(q, path, "memdev");
			if (memdev)
				file = qom_str(q, memdev, "mem-path");
			if (file && (!strcmp(qid, "gears-region") || !strncmp(file, "/dev/shm/gears-", 15)) &&
			    strlen(file) < sizeof(vm->region_path)) {
				snprintf(vm->region_path, sizeof(vm->region_path), "%s", file);
				snprintf(vm->region_id, sizeof(vm->region_id), "%s", qid);
				found = true;
			}
			free(memdev);
			free(file);
		}
	}
	json_decref(r);
	return found;
}

/* The region: one already there (a previous attach) is used as is; else hot-plug. */
static int plug_region(struct gears_vm *vm, struct gears_qmp *q)
{
	json_t *r;

	if (find_region(vm, q))
		return 0;
	snprintf(vm->region_id, sizeof(vm->region_id), "gears-region");
	snprintf(vm->region_path, sizeof(vm->region_path), "/dev/shm/gears-%s-%d-region", vm->name, (int)getpid());
	if (vm_make_shm(vm->region_path, GEARS_REGION_SIZE))
		goto fail;
	r = gears_qmp__execute(q, "object-add", json_pack("{s:s, s:s, s:i, s:s, s:b}", "qom-type",
							  "memory-backend-file", "id", "gears-region-mem", "size",
							  GEARS_REGION_SIZE, "mem-path", vm->region_path, "share", 1));
	if (!r)
		goto fail_file;
	json_decref(r);
	r = gears_qmp__execute(q, "device_add", json_pack("{s:s, s:s, s:s}", "driver", "ivshmem-plain", "memdev",
							  "gears-region-mem", "id", "gears-region"));
	if (!r) {
		char why[200];

		snprintf(why, sizeof(why), "%s", gears_last_error());
		json_decref(gears_qmp__execute(q, "object-del", json_pack("{s:s}", "id", "gears-region-mem")));
		gears_err(ENOTSUP, "%s", why);
		goto fail_file;
	}
	json_decref(r);
	vm->region_plugged = true;
	return 0;
fail_file:
	unlink(vm->region_path);
fail:
	snprintf(vm->region_why, sizeof(vm->region_why), "hot-plugging it failed (%s)", gears_last_error());
	vm->region_path[0] = 0;
	vm->region_id[0] = 0;
	return 0;	/* introspection and exit-mode tracing work without it */
}

struct gears_vm *gears_vm__adopt(const struct gears_vm_adopt_opts *o)
{
	struct gears_vm *vm;
	struct gears_qmp *q = NULL;
	char reason[512];
	int r;

	bool has_fn = o && o->sz >= offsetof(struct gears_vm_adopt_opts, pid) + sizeof(o->pid) && o->monitor;

	if (!o || o->sz < offsetof(struct gears_vm_adopt_opts, no_region) + sizeof(o->no_region) || !o->name ||
	    (!o->qmp_path && !has_fn) || (has_fn && o->pid <= 0))
		return gears_err_ptr(EINVAL, "gears_vm__adopt: a name, and a QMP socket or a monitor and pid");
	if (!vm_valid_name(o->name))
		return gears_err_ptr(EINVAL, "bad VM name '%s' (letters, digits, '-', '_', '.'; max 40)", o->name);
	if (!(vm = calloc(1, sizeof(*vm))))
		return NULL;
	vm->adopted = true;
	snprintf(vm->name, sizeof(vm->name), "%s", o->name);
	if (has_fn) {
		/* Ours to keep: other tools come through our proxy. */
		vm->qmp = q = gears_qmp__from_fn(o->monitor, o->monitor_ctx);
		vm->qmp_fn = true;
		snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/%s/qmp-tool.sock", gears_runtime_dir(), vm->name);
		if (!q) {
			free(vm);
			return NULL;
		}
	} else if (!realpath(o->qmp_path, vm->qmp_path)) {
		free(vm);
		return gears_err_ptr(errno, "QMP socket %s: %s", o->qmp_path, strerror(errno));
	}
	/* QEMU's QMP serves one client at a time: a held socket never greets us. */
	if (!q && !(q = gears_qmp__connect(vm->qmp_path, 5000))) {
		snprintf(reason, sizeof(reason), "QMP socket %s: %s (is another client connected to it?)",
			 vm->qmp_path, gears_last_error());
		r = -EIO;
		goto fail;
	}
	if ((r = check_peer(vm, q, has_fn ? o->pid : 0)) || (r = read_machine(vm, q)) ||
	    (r = gears_ram__discover(qmp_hmp, q, vm->qemu_pid, &vm->ram)))
		goto fail_reason;
	vm->ram_size = vm->ram.size;
	vm->below_4g = vm->ram.below_4g;
	/* A probe through the process now: ptrace rights are refused here, clearly. */
	if (!(vm->mem = gears_ram__open(&vm->ram, true))) {
		r = -errno;
		goto fail_reason;
	}
	if ((r = vm_prepare_dir(vm)))
		goto fail_reason;
	vm->adopter = true;
	if ((r = start_gdbstub(vm, q)))
		goto fail_reason;
	if (o->no_region)
		snprintf(vm->region_why, sizeof(vm->region_why), "attached without one (--no-region)");
	else
		plug_region(vm, q);
	if ((r = vm_write_state(vm)))
		goto fail_reason;
	if (!vm->qmp_fn)
		gears_qmp__close(q);
	return vm;
fail_reason:
	snprintf(reason, sizeof(reason), "%s", gears_last_error());
fail:
	if (q && vm->adopter)
		gears_vm__unadopt(vm, false);
	if (q && !vm->qmp_fn)
		gears_qmp__close(q);
	gears_vm__close(vm);
	return gears_err_ptr(r < 0 ? -r : EIO, "%s", reason);
}

bool gears_vm__serves_qmp(const struct gears_vm *vm)
{
	return vm->adopter && vm->qmp_fn;
}

bool gears_vm__adopted(const struct gears_vm *vm)
{
	return vm->adopted;
}

const char *gears_vm__region_why(const struct gears_vm *vm)
{
	return vm->region_path[0] ? "" : vm->region_why;
}

/* Wait (bounded) for the guest to let the device go, then drop its memory. */
static int unplug_region(struct gears_vm *vm, struct gears_qmp *q)
{
	json_t *r = gears_qmp__execute(q, "device_del", json_pack("{s:s}", "id", vm->region_id));
	int gone = 0;

	json_decref(r);
	/* The guest's ACPI hot-plug driver ejects it; a guest that never answers
	 * keeps it, and we say so. */
	for (int i = 0; i < 100 && !(gone = !has_pci_dev(q, vm->region_id)); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000 }, NULL);
	if (!gone)
		return gears_err(EBUSY, "the guest did not release the GEARS region device within 10 s");
	/* The memory object goes once the device is finalized: retry a little. */
	for (int i = 0; i < 50; i++) {
		r = gears_qmp__execute(q, "object-del", json_pack("{s:s}", "id", "gears-region-mem"));
		if (r) {
			json_decref(r);
			return 0;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000 }, NULL);
	}
	return gears_err(EBUSY, "QEMU kept the region's memory object: %s", gears_last_error());
}

int gears_vm__unadopt(struct gears_vm *vm, bool keep_region)
{
	struct gears_qmp *q;
	int r = 0, e;

	if (!vm->adopter)
		return gears_err(EINVAL, "VM '%s' was not adopted by this process", vm->name);
	gears_vm__gdb_release(vm);
	if (!vm_pid_alive(vm->qemu_pid))
		return 0;
	if (!(q = gears_vm__qmp(vm)))
		return -errno;
	gears_qmp__set_timeout(q, 5000);
	if (keep_region)
		vm->region_plugged = false;	/* nor is its file removed */
	if (vm->region_plugged) {
		if ((r = unplug_region(vm, q)))
			pr_warn("VM '%s': %s", vm->name, gears_last_error());
		else {
			unlink(vm->region_path);
			vm->region_plugged = false;
		}
	}
	if ((e = hmp_quiet(q, "gdbserver none")) && !r)
		r = e;
	gears_vm__qmp_release(vm);
	return r;
}
