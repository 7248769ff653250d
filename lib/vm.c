// SPDX-License-Identifier: MIT
/*
 * Launching QEMU and attaching to a running VM by name.
 *
 * The launcher owns the VM's lifetime: the runtime directory, the /dev/shm
 * files, and QEMU itself (which gets PR_SET_PDEATHSIG so it cannot outlive a
 * launcher that is killed). Other gears processes find the VM through
 * state.json in the runtime directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gears/linux.h>
#include <gears/vm.h>

#include "internal.h"

/* no_timer_check: a TCG vCPU starved by a busy host can miss the kernel's
 * timer-through-IO-APIC check at boot, which then panics ("IO-APIC + timer
 * doesn't work"); QEMU's timer is always wired. */
#define DEFAULT_APPEND "console=ttyS0 quiet panic=-1 no_timer_check"
#define DEFAULT_MEM (512ull << 20)
#define MAX_ARGS 128

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
};

const char *gears_runtime_dir(void)
{
	static char dir[256];
	const char *e = getenv("GEARS_RUNTIME_DIR");

	if (e && *e)
		snprintf(dir, sizeof(dir), "%s", e);
	else if (geteuid() == 0)
		snprintf(dir, sizeof(dir), "/run/gears");
	else if ((e = getenv("XDG_RUNTIME_DIR")) && *e)
		snprintf(dir, sizeof(dir), "%s/gears", e);
	else if ((e = getenv("HOME")) && *e)
		snprintf(dir, sizeof(dir), "%s/.gears/run", e);	/* private to the user */
	else
		dir[0] = 0;	/* nowhere private: callers report it */
	return dir;
}

static bool file_has(const char *path, const char *const *words)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(buf, sizeof(buf), f))
		for (const char *const *w = words; *w; w++)
			if (strstr(buf, *w))
				found = true;
	fclose(f);
	return found;
}

const char *gears_accel_auto(const char **why)
{
	static const char *const virt_flags[] = { " vmx", " svm", NULL };
	const char *dummy;

	if (!why)
		why = &dummy;
	if (access("/dev/kvm", R_OK | W_OK)) {
		*why = "no usable /dev/kvm";
		return "tcg";
	}
	/* A software nested hypervisor (PVM) offers /dev/kvm but cannot boot an
	 * unmodified Linux kernel; it shows as kvm_pvm and no VMX/SVM flag. */
	if (!access("/sys/module/kvm_pvm", F_OK)) {
		*why = "/dev/kvm is the PVM nested hypervisor (kvm_pvm), which cannot boot Linux";
		return "tcg";
	}
	if (!file_has("/proc/cpuinfo", virt_flags)) {
		*why = "the host CPU has no VMX/SVM";
		return "tcg";
	}
	*why = "hardware virtualization available";
	return "kvm";
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[256];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The runtime directory holds the sockets through which a VM is driven as
 * root inside the guest: it must be ours (or root's, for root) and nobody
 * else may write it, else someone could plant sockets or state files there.
 */
int vm_private_dir(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st))
		return gears_err(errno, "runtime directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return gears_err(ENOTDIR, "runtime directory %s is not a directory (a symlink?)", dir);
	if (st.st_uid != geteuid())
		return gears_err(EPERM, "runtime directory %s belongs to uid %u, not to us (uid %u)", dir,
				 (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return gears_err(EPERM, "runtime directory %s is writable by group or others (mode %03o): "
				 "refusing it", dir, (unsigned)(st.st_mode & 0777));
	return 0;
}

/* A name gears itself could have made: letters, digits, '-', '_', '.', not
 * starting with a dot (so never "." or ".."). */
static bool plain_name(const char *n)
{
	if (!*n || *n == '.')
		return false;
	for (; *n; n++)
		if (!(*n == '-' || *n == '_' || *n == '.' || (*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9')))
			return false;
	return true;
}

/* Remove a VM's runtime directory: only plain-named sockets and regular files
 * we own (never a symlink, a subdirectory or someone else's file), then the
 * directory, which stays when anything else is in it. */
static void rm_dir_files(const char *dir)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	int dfd;

	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || !(d = opendir(dir)))
		return;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		if (!plain_name(de->d_name) || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (st.st_uid == geteuid() && (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)))
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

/* Shared-memory files are /dev/shm/gears-NAME-PID-{ram,region}: a stale
 * state.json (which anyone who could write it could forge) is believed only
 * for exactly that shape, with its own name and pid. */
bool vm_stale_shm_ok(const char *path, const char *name, long pid)
{
	char want[2][256];

	snprintf(want[0], sizeof(want[0]), "/dev/shm/gears-%s-%ld-ram", name, pid);
	snprintf(want[1], sizeof(want[1]), "/dev/shm/gears-%s-%ld-region", name, pid);
	return path && plain_name(name) && pid > 0 && (!strcmp(path, want[0]) || !strcmp(path, want[1]));
}

/*
 * A value pasted into a QEMU option string ("path=VALUE,server=on"): QEMU
 * splits such strings at commas, and a comma is written twice to be kept.
 * Control characters are refused: no legitimate path has them.
 */
const char *gears_qemu_escape(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	if (!in || !out || !outsz)
		return NULL;
	for (; *in; in++) {
		if ((unsigned char)*in < 0x20 || *in == 0x7f)
			return gears_err_ptr(EINVAL, "control character in a QEMU option value");
		if (o + (*in == ',' ? 2 : 1) >= outsz)
			return gears_err_ptr(E2BIG, "QEMU option value too long");
		if (*in == ',')
			out[o++] = ',';
		out[o++] = *in;
	}
	out[o] = 0;
	return out;
}

const char *gears_vm__path(struct gears_vm *vm, const char *file)
{
	snprintf(vm->pathbuf, sizeof(vm->pathbuf), "%s/%s", vm->dir, file);
	return vm->pathbuf;
}

static int valid_name(const char *n)
{
	if (!*n || strlen(n) > 40)
		return 0;
	for (const char *p = n; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return 0;
	return n[0] != '.';
}

/* state.json: what another gears process needs to find this VM. */
static int write_state(struct gears_vm *vm)
{
	json_t *j = json_pack("{s:s, s:i, s:i, s:s, s:I, s:I, s:s, s:I, s:i, s:s, s:I}",
			      "name", vm->name, "pid", (int)getpid(), "qemu_pid", (int)vm->qemu_pid,
			      "ram_path", vm->ram_path, "ram_size", (json_int_t)vm->ram_size,
			      "below_4g", (json_int_t)vm->below_4g, "region_path", vm->region_path,
			      "region_size", (json_int_t)GEARS_REGION_SIZE, "smp", vm->ncpus,
			      "accel", vm->accel, "started", (json_int_t)time(NULL));
	char tmp[320], fin[320];
	int r;

	if (!j)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", vm->dir);
	snprintf(fin, sizeof(fin), "%s/state.json", vm->dir);
	r = json_dump_file(j, tmp, JSON_INDENT(2));
	json_decref(j);
	if (r || rename(tmp, fin))
		return gears_err(EIO, "cannot write %s", fin);
	return 0;
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Read state.json of `name`. Returns 0, -ENOENT (none), -ESTALE (owner dead). */
static int read_state(const char *name, json_t **out)
{
	char p[320];
	json_error_t je;
	json_t *j;

	if (!*gears_runtime_dir())
		return -ENOENT;		/* no runtime directory: no VM */
	if (access(gears_runtime_dir(), F_OK))
		return -ENOENT;
	/* State files in a directory others can write are not evidence. */
	int r = vm_private_dir(gears_runtime_dir());

	if (r)
		return r;
	snprintf(p, sizeof(p), "%s/%s/state.json", gears_runtime_dir(), name);
	j = json_load_file(p, 0, &je);
	if (!j)
		return -ENOENT;
	if (!pid_alive((pid_t)json_integer_value(json_object_get(j, "pid"))) ||
	    !pid_alive((pid_t)json_integer_value(json_object_get(j, "qemu_pid")))) {
		*out = j;
		return -ESTALE;
	}
	*out = j;
	return 0;
}

/* Remove what a dead launcher left behind. */
static void clean_stale(const char *name, json_t *st)
{
	long pid = (long)json_integer_value(json_object_get(st, "pid"));
	const char *keys[] = { "ram_path", "region_path" };
	char dir[320];

	for (size_t i = 0; i < 2; i++) {
		const char *p = json_string_value(json_object_get(st, keys[i]));

		if (vm_stale_shm_ok(p, name, pid))
			unlink(p);
		else if (p)
			pr_warn("stale state of VM '%s' names %s as its %s: not ours, left alone", name, p, keys[i]);
	}
	snprintf(dir, sizeof(dir), "%s/%s", gears_runtime_dir(), name);
	rm_dir_files(dir);
	pr_info("removed stale runtime files of VM '%s'", name);
}

/* Create a shared-memory file of `size` bytes (sparse). */
static int make_shm(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return gears_err(errno, "create %s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size)) {
		int e = errno;

		close(fd);
		unlink(path);
		return gears_err(e, "size %s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

/* QEMU's pc machine puts RAM above 3 GiB (3.5 GiB on old machine types) at
 * 4 GiB; gigabyte-aligned split on current machine types. */
static uint64_t pc_below_4g(uint64_t ram)
{
	return ram >= 0xe0000000ull ? 0xc0000000ull : ram;
}

static void default_image(const char *file, char *out, size_t n)
{
	const char *d = getenv("GEARS_IMAGE_DIR");

	snprintf(out, n, "%s/%s", d && *d ? d : GEARS_IMAGE_DIR, file);
}

static int build_argv(struct gears_vm *vm, const struct gears_vm_opts *o, const char *const *more,
		      char **argv, char *store, size_t storesz)
{
	int n = 0;
	size_t used = 0;
	char kernel[256], initrd[256], edir[512], eram[512], eregion[512], edisk[1024] = "";
	bool has_new = o->sz >= offsetof(struct gears_vm_opts, cpu) + sizeof(o->cpu);
	const char *disk = has_new ? o->disk : NULL, *cpu = has_new ? o->cpu : NULL;
	const char *dfmt = "raw";

	if (!gears_qemu_escape(vm->dir, edir, sizeof(edir)) || !gears_qemu_escape(vm->ram_path, eram, sizeof(eram)) ||
	    !gears_qemu_escape(vm->region_path, eregion, sizeof(eregion)))
		return gears_err(EINVAL, "runtime path %s cannot be given to QEMU: %s", vm->dir, gears_last_error());

#define ARG(...) do {                                                         \
		int _l = snprintf(store + used, storesz - used, __VA_ARGS__); \
		if (_l < 0 || (size_t)_l >= storesz - used || n >= MAX_ARGS - 1) \
			return gears_err(E2BIG, "QEMU command line too long");     \
		argv[n++] = store + used;                                     \
		used += (size_t)_l + 1;                                       \
	} while (0)

	if (disk) {
		unsigned char magic[4] = { 0 };
		FILE *f = fopen(disk, "rb");

		if (!f)
			return gears_err(errno, "disk %s: %s", disk, strerror(errno));
		if (fread(magic, 1, 4, f) == 4 && !memcmp(magic, "QFI\xfb", 4))
			dfmt = "qcow2";
		fclose(f);
		if (!gears_qemu_escape(disk, edisk, sizeof(edisk)))
			return gears_err(EINVAL, "disk path %s cannot be given to QEMU: %s", disk, gears_last_error());
	}
	if (cpu && (!*cpu || strpbrk(cpu, ", \t\n")))
		return gears_err(EINVAL, "bad CPU model '%s'", cpu);
	if (o->kernel) {
		snprintf(kernel, sizeof(kernel), "%s", o->kernel);
		snprintf(initrd, sizeof(initrd), "%s", o->initrd ? o->initrd : "");
	} else if (disk) {
		kernel[0] = initrd[0] = 0;	/* the disk's own boot loader */
	} else {
		default_image("vmlinuz", kernel, sizeof(kernel));
		if (o->initrd)
			snprintf(initrd, sizeof(initrd), "%s", o->initrd);
		else
			default_image("initrd.img", initrd, sizeof(initrd));
	}
	if (*kernel && access(kernel, R_OK))
		return gears_err(ENOENT, "kernel %s not found (build the default image with `make image`)",
				 kernel);
	if (*initrd && access(initrd, R_OK))
		return gears_err(ENOENT, "initrd %s not found", initrd);

	ARG("%s", o->qemu ? o->qemu : "qemu-system-x86_64");
	ARG("-name"); ARG("%s", vm->name);
	ARG("-nodefaults"); ARG("-no-user-config"); ARG("-display"); ARG("none");
	ARG("-no-reboot");
	ARG("-machine"); ARG("pc,memory-backend=gears-ram");
	if (!strcmp(vm->accel, "kvm")) {
		ARG("-accel"); ARG("kvm"); ARG("-cpu"); ARG("%s", cpu ? cpu : "host");
	} else {
		ARG("-accel"); ARG("tcg,thread=multi");
		if (cpu) {
			ARG("-cpu"); ARG("%s", cpu);
		}
	}
	ARG("-smp"); ARG("%d", vm->ncpus);
	ARG("-m"); ARG("%" PRIu64 "M", vm->ram_size >> 20);
	ARG("-object"); ARG("memory-backend-file,id=gears-ram,size=%" PRIu64 ",mem-path=%s,share=on",
			    vm->ram_size, eram);
	ARG("-object"); ARG("memory-backend-file,id=gears-region-mem,size=%u,mem-path=%s,share=on",
			    GEARS_REGION_SIZE, eregion);
	ARG("-device"); ARG("ivshmem-plain,memdev=gears-region-mem,id=gears-region");
	if (*kernel) {
		ARG("-kernel"); ARG("%s", kernel);
		if (*initrd) {
			ARG("-initrd"); ARG("%s", initrd);
		}
		ARG("-append"); ARG("%s", o->append ? o->append : DEFAULT_APPEND);
	}
	if (disk) {
		ARG("-drive"); ARG("file=%s,if=virtio,format=%s,cache=writeback%s", edisk, dfmt,
				   o->snapshot ? ",snapshot=on" : "");
	}
	ARG("-chardev"); ARG("socket,id=gears-console,path=%s/console.sock,server=on,wait=off", edir);
	ARG("-serial"); ARG("chardev:gears-console");
	ARG("-chardev"); ARG("socket,id=gears-agent,path=%s/agent.sock,server=on,wait=off", edir);
	ARG("-serial"); ARG("chardev:gears-agent");
	/* QMP sockets as chardevs: their path is an escaped option value there,
	 * which the legacy "-qmp unix:PATH" syntax cannot take. */
	ARG("-chardev"); ARG("socket,id=gears-qmp,path=%s/qmp.sock,server=on,wait=off", edir);
	ARG("-mon"); ARG("chardev=gears-qmp,mode=control");
	ARG("-chardev"); ARG("socket,id=gears-qmp-tool,path=%s/qmp-tool.sock,server=on,wait=off", edir);
	ARG("-mon"); ARG("chardev=gears-qmp-tool,mode=control");
	ARG("-chardev"); ARG("socket,id=gears-gdb,path=%s/gdb.sock,server=on,wait=off", edir);
	ARG("-gdb"); ARG("chardev:gears-gdb");
	/* The doorbell (gears_sc__set_bell): a byte written to this I/O port by the
	 * guest-side stub arrives on bell.sock. Nobody connected: bytes dropped. */
	ARG("-chardev"); ARG("socket,id=gears-bell,path=%s/bell.sock,server=on,wait=off", edir);
	ARG("-device"); ARG("isa-debugcon,iobase=0x%x,chardev=gears-bell", GEARS_VM_BELL_PORT);
	/* Start paused so the console and agent are connected before the first byte. */
	ARG("-S");
	for (const char *const *e = o->extra_args; e && *e; e++)
		ARG("%s", *e);
	for (const char *const *e = more; e && *e; e++)
		ARG("%s", *e);
	argv[n] = NULL;
#undef ARG
	return n;
}

static void free_vm(struct gears_vm *vm)
{
	gears_linux__close(vm->kernel);
	if (vm->gdb)
		gears_gdb__close(vm->gdb);
	if (vm->gdb_lock_fd > 0)
		close(vm->gdb_lock_fd);
	if (vm->qmp)
		gears_qmp__close(vm->qmp);
	if (vm->qmp_lock_fd > 0)
		close(vm->qmp_lock_fd);
	if (vm->mem)
		gears_mem__close(vm->mem);
	if (vm->region)
		munmap(vm->region, GEARS_REGION_SIZE);
	free(vm);
}

static void cleanup_files(struct gears_vm *vm)
{
	unlink(vm->ram_path);
	unlink(vm->region_path);
	rm_dir_files(vm->dir);
}

/* The options, checked and turned into a VM not started yet. */
static struct gears_vm *vm_from_opts(const struct gears_vm_opts *o)
{
	struct gears_vm *vm;

	if (!o || o->sz < offsetof(struct gears_vm_opts, start_paused))
		return gears_err_ptr(EINVAL, "gears_vm__launch: options struct too small");
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->launched = true;
	vm->qemu_pid = -1;
	if (o->name)
		snprintf(vm->name, sizeof(vm->name), "%s", o->name);
	else
		snprintf(vm->name, sizeof(vm->name), "vm-%d", (int)getpid());
	if (!valid_name(vm->name)) {
		free(vm);
		return gears_err_ptr(EINVAL, "bad VM name '%s' (letters, digits, '-', '_', '.'; max 40)",
				     o->name);
	}
	if (!o->accel || !strcmp(o->accel, "auto"))
		snprintf(vm->accel, sizeof(vm->accel), "%s", gears_accel_auto(NULL));
	else if (!strcmp(o->accel, "tcg") || !strcmp(o->accel, "kvm"))
		snprintf(vm->accel, sizeof(vm->accel), "%s", o->accel);
	else {
		free(vm);
		return gears_err_ptr(EINVAL, "unknown accelerator '%s' (auto, tcg or kvm)", o->accel);
	}
	vm->ncpus = o->smp ? (int)o->smp : 2;
	if (vm->ncpus < 1 || vm->ncpus > 64) {
		free(vm);
		return gears_err_ptr(EINVAL, "--smp must be 1..64");
	}
	vm->ram_size = o->mem ? o->mem : DEFAULT_MEM;
	if (vm->ram_size < (64ull << 20) || vm->ram_size > (1ull << 40) || vm->ram_size % (1 << 20)) {
		free(vm);
		return gears_err_ptr(EINVAL, "memory size must be a whole number of MiB, 64 MiB..1 TiB");
	}
	vm->below_4g = pc_below_4g(vm->ram_size);
	return vm;
}

/* The VM's runtime directory (a live VM of the name is EEXIST; a dead one's
 * files are cleaned first) and its shared-memory files. */
static int prepare_files(struct gears_vm *vm)
{
	json_t *st;
	int r;

	if (!*gears_runtime_dir())
		return gears_err(ENOENT, "no private runtime directory: set GEARS_RUNTIME_DIR, "
				 "XDG_RUNTIME_DIR or HOME");
	r = mkdir_p(gears_runtime_dir(), 0700);
	if (r)
		return gears_err(-r, "cannot create runtime directory %s: %s", gears_runtime_dir(), strerror(-r));
	if ((r = vm_private_dir(gears_runtime_dir())))
		return r;
	snprintf(vm->dir, sizeof(vm->dir), "%s/%s", gears_runtime_dir(), vm->name);
	r = read_state(vm->name, &st);
	if (r == 0) {
		json_decref(st);
		return gears_err(EEXIST, "a VM named '%s' is already running", vm->name);
	}
	if (r == -ESTALE) {
		clean_stale(vm->name, st);
		json_decref(st);
	}
	if (mkdir(vm->dir, 0700))
		return gears_err(errno, "cannot create runtime directory %s: %s", vm->dir, strerror(errno));
	snprintf(vm->ram_path, sizeof(vm->ram_path), "/dev/shm/gears-%s-%d-ram", vm->name, (int)getpid());
	snprintf(vm->region_path, sizeof(vm->region_path), "/dev/shm/gears-%s-%d-region", vm->name,
		 (int)getpid());
	if ((r = make_shm(vm->ram_path, vm->ram_size)) || (r = make_shm(vm->region_path, GEARS_REGION_SIZE)))
		return r;
	return 0;
}

/* Fork and exec QEMU; it dies with us. */
static int spawn_qemu(struct gears_vm *vm, char **argv)
{
	pid_t parent = getpid();

	if (gears_log_level() >= GEARS_LOG_DEBUG) {
		char line[4096];
		size_t u = 0;

		for (int i = 0; argv[i] && u < sizeof(line) - 1; i++)
			u += (size_t)snprintf(line + u, sizeof(line) - u, "%s ", argv[i]);
		pr_debug("exec %s", line);
	}
	vm->qemu_pid = fork();
	if (vm->qemu_pid < 0)
		return gears_err(errno, "fork: %s", strerror(errno));
	if (vm->qemu_pid == 0) {
		/* QEMU must never outlive its launcher, whatever kills the launcher. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* Own process group: a terminal's Ctrl-C goes to gears, which then
		 * shuts QEMU down in order. */
		setpgid(0, 0);
		int devnull = open("/dev/null", O_RDWR);
		int log = open(gears_vm__path(vm, "qemu.log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(devnull, 0);
		dup2(log >= 0 ? log : devnull, 1);
		dup2(log >= 0 ? log : devnull, 2);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return 0;
}

/* QMP answers once QEMU is up; if it never does, QEMU's own words say why. */
static int wait_qmp(struct gears_vm *vm)
{
	char log[2048] = "";
	FILE *f;

	vm->qmp = gears_qmp__connect(gears_vm__path(vm, "qmp.sock"), 20000);
	if (vm->qmp)
		return 0;
	if ((f = fopen(gears_vm__path(vm, "qemu.log"), "r"))) {
		size_t k = fread(log, 1, sizeof(log) - 1, f);

		log[k] = 0;
		fclose(f);
	}
	return gears_err(ECHILD, "QEMU did not start: %s", *log ? log : "(no output)");
}

struct gears_vm *gears_vm__launch(const struct gears_vm_opts *o)
{
	char *argv[MAX_ARGS];
	char store[16384];
	struct gears_vm *vm = vm_from_opts(o);
	int r;

	if (!vm)
		return NULL;
	const char *const *more = NULL;
	bool has_prepare = o->sz >= offsetof(struct gears_vm_opts, prepare_ctx) + sizeof(void *) && o->prepare;

	if ((r = prepare_files(vm)) || (has_prepare && (r = o->prepare(vm, o->prepare_ctx, &more)) < 0) ||
	    (r = build_argv(vm, o, more, argv, store, sizeof(store))) < 0 || (r = spawn_qemu(vm, argv)) ||
	    (r = wait_qmp(vm)) || (r = write_state(vm)))
		goto fail;
	if (!o->start_paused) {
		json_t *x = gears_qmp__execute(vm->qmp, "cont", NULL);

		if (!x) {
			r = -errno;
			goto fail;
		}
		json_decref(x);
	}
	return vm;
fail:
	{
		char reason[512];

		snprintf(reason, sizeof(reason), "%s", gears_last_error());
		/* Files of a VM that already runs under this name are not ours. */
		if (r == -EEXIST)
			vm->launched = false;
		gears_vm__close(vm);
		return gears_err_ptr(-r, "%s", reason);
	}
}

struct gears_vm *gears_vm__attach(const char *name)
{
	struct gears_vm *vm;
	json_t *st;
	int r;

	if (!valid_name(name))
		return gears_err_ptr(EINVAL, "bad VM name '%s'", name);
	r = read_state(name, &st);
	if (r == -ENOENT)
		return gears_err_ptr(ENOENT, "no VM named '%s' (see `gears list`)", name);
	if (r == -EPERM || r == -ENOTDIR) {
		errno = -r;
		return NULL;	/* the reason is recorded */
	}
	if (r == -ESTALE) {
		json_decref(st);
		return gears_err_ptr(ENOENT, "VM '%s' is no longer running", name);
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		json_decref(st);
		return NULL;
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	snprintf(vm->dir, sizeof(vm->dir), "%s/%s", gears_runtime_dir(), name);
	snprintf(vm->ram_path, sizeof(vm->ram_path), "%s",
		 json_string_value(json_object_get(st, "ram_path")) ?: "");
	snprintf(vm->region_path, sizeof(vm->region_path), "%s",
		 json_string_value(json_object_get(st, "region_path")) ?: "");
	snprintf(vm->accel, sizeof(vm->accel), "%s",
		 json_string_value(json_object_get(st, "accel")) ?: "tcg");
	vm->ram_size = (uint64_t)json_integer_value(json_object_get(st, "ram_size"));
	vm->below_4g = (uint64_t)json_integer_value(json_object_get(st, "below_4g"));
	vm->ncpus = (int)json_integer_value(json_object_get(st, "smp"));
	vm->qemu_pid = (pid_t)json_integer_value(json_object_get(st, "qemu_pid"));
	json_decref(st);
	if (!vm->ram_size || vm->ncpus < 1) {
		free(vm);
		return gears_err_ptr(EBADMSG, "state of VM '%s' is corrupt", name);
	}
	return vm;
}

void gears_vm__close(struct gears_vm *vm)
{
	if (!vm)
		return;
	if (vm->gdb) {
		gears_gdb__close(vm->gdb);
		vm->gdb = NULL;
	}
	if (vm->launched && vm->qemu_pid > 0 && !vm->reaped) {
		int status;

		if (vm->qmp) {
			json_t *r;

			gears_qmp__set_timeout(vm->qmp, 2000);
			r = gears_qmp__execute(vm->qmp, "quit", NULL);
			json_decref(r);
		}
		if (gears_vm__wait(vm, 3000, &status) != 1) {
			kill(vm->qemu_pid, SIGKILL);
			gears_vm__wait(vm, -1, &status);
		}
	}
	if (vm->launched)
		cleanup_files(vm);
	free_vm(vm);
}

const char *gears_vm__name(const struct gears_vm *vm)
{
	return vm->name;
}

int gears_vm__ncpus(const struct gears_vm *vm)
{
	return vm->ncpus;
}

const char *gears_vm__accel(const struct gears_vm *vm)
{
	return vm->accel;
}

pid_t gears_vm__qemu_pid(const struct gears_vm *vm)
{
	return vm->qemu_pid;
}

struct gears_qmp *gears_vm__qmp(struct gears_vm *vm)
{
	if (vm->qmp)
		return vm->qmp;
	/* Tools share one QMP socket, one at a time. */
	vm->qmp_lock_fd = open(gears_vm__path(vm, "qmp-tool.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (vm->qmp_lock_fd < 0)
		return gears_err_ptr(errno, "cannot open %s", gears_vm__path(vm, "qmp-tool.lock"));
	/* Tools hold it for one short exchange; ten seconds means one is stuck. */
	for (int i = 0; flock(vm->qmp_lock_fd, LOCK_EX | LOCK_NB); i++) {
		if (errno != EWOULDBLOCK || i >= 1000) {
			close(vm->qmp_lock_fd);
			vm->qmp_lock_fd = 0;
			return gears_err_ptr(EBUSY, "VM '%s': another gears tool holds its QMP socket", vm->name);
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	vm->qmp = gears_qmp__connect(gears_vm__path(vm, "qmp-tool.sock"), 2000);
	if (!vm->qmp) {
		close(vm->qmp_lock_fd);
		vm->qmp_lock_fd = 0;
	}
	return vm->qmp;
}

void gears_vm__qmp_release(struct gears_vm *vm)
{
	if (vm->launched || !vm->qmp)
		return;
	gears_qmp__close(vm->qmp);
	vm->qmp = NULL;
	if (vm->qmp_lock_fd > 0)
		close(vm->qmp_lock_fd);
	vm->qmp_lock_fd = 0;
}

struct gears_mem *gears_vm__mem(struct gears_vm *vm)
{
	if (!vm->mem)
		vm->mem = gears_mem__open(vm->ram_path, vm->ram_size, vm->below_4g, true);
	return vm->mem;
}

struct gears_gdb *gears_vm__gdb(struct gears_vm *vm)
{
	if (vm->gdb)
		return vm->gdb;
	if (!vm->gdb_lock_fd) {
		int fd = open(gears_vm__path(vm, "gdb.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			return gears_err_ptr(errno, "cannot open gdbstub lock: %s", strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			close(fd);
			return gears_err_ptr(EBUSY, "another gears process holds VM '%s''s gdbstub",
					     vm->name);
		}
		vm->gdb_lock_fd = fd;
	}
	vm->gdb = gears_gdb__connect(gears_vm__path(vm, "gdb.sock"), 2000);
	return vm->gdb;
}

void gears_vm__gdb_release(struct gears_vm *vm)
{
	if (vm->gdb)
		gears_gdb__close(vm->gdb);
	vm->gdb = NULL;
	if (vm->gdb_lock_fd > 0)
		close(vm->gdb_lock_fd);
	vm->gdb_lock_fd = 0;
}

static uint64_t hex_after(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p ? strtoull(p + strlen(key), NULL, 16) : 0;
}

int gears_vm__cpu_states(struct gears_vm *vm, struct gears_cpu_state *st, int max)
{
	struct gears_qmp *q = gears_vm__qmp(vm);
	char *out, *p;
	int n = 0;

	if (!q)
		return -errno;
	out = gears_qmp__hmp(q, "info registers -a");
	gears_vm__qmp_release(vm);
	if (!out)
		return -errno;
	/* Sections start with "CPU#<n>"; parse each up to the next. */
	p = strstr(out, "CPU#");
	while (p && n < max) {
		char *next = strstr(p + 4, "CPU#");
		struct gears_cpu_state *s = &st[n];

		if (next)
			*next = 0;
		memset(s, 0, sizeof(*s));
		s->rip = hex_after(p, "RIP=");
		s->rsp = hex_after(p, "RSP=");
		s->cr0 = hex_after(p, "CR0=");
		s->cr3 = hex_after(p, "CR3=");
		s->cr4 = hex_after(p, "CR4=");
		s->efer = hex_after(p, "EFER=");
		s->cpl = (int)strtol(strstr(p, "CPL=") ? strstr(p, "CPL=") + 4 : "0", NULL, 10);
		s->halted = strstr(p, "HLT=1") != NULL;
		{
			/* "GS =0000 ffff8e004f800000 ..." : the base is the second field. */
			const char *g = strstr(p, "GS =");

			if (g)
				s->gs_base = strtoull(g + 9, NULL, 16);
		}
		n++;
		p = next ? next + 0 : NULL;
		if (next)
			*next = 'C';
	}
	free(out);
	if (!n)
		return gears_err(EPROTO, "QEMU's monitor returned no CPU state");
	return n;
}

void *gears_vm__region(struct gears_vm *vm)
{
	int fd;
	void *p;

	if (vm->region)
		return vm->region;
	fd = open(vm->region_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return gears_err_ptr(errno, "open %s: %s", vm->region_path, strerror(errno));
	p = mmap(NULL, GEARS_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return gears_err_ptr(errno, "mmap region: %s", strerror(errno));
	vm->region = p;
	return p;
}

int gears_vm__region_gpa(struct gears_vm *vm, uint64_t *gpa)
{
	struct gears_qmp *q = gears_vm__qmp(vm);
	json_t *r, *bus, *dev;
	size_t i, j;
	int ret = gears_err(ENODEV, "GEARS region device not found on the PCI bus");

	if (!q)
		return -errno;
	r = gears_qmp__execute(q, "query-pci", NULL);
	gears_vm__qmp_release(vm);
	if (!r)
		return -errno;
	json_array_foreach(r, i, bus) {
		json_array_foreach(json_object_get(bus, "devices"), j, dev) {
			json_t *reg;
			size_t k;

			if (strcmp(json_string_value(json_object_get(dev, "qdev_id")) ?: "", "gears-region"))
				continue;
			json_array_foreach(json_object_get(dev, "regions"), k, reg) {
				if (json_integer_value(json_object_get(reg, "bar")) != 2)
					continue;
				uint64_t a = (uint64_t)json_integer_value(json_object_get(reg, "address"));

				/* Unassigned BARs read as all-ones or zero. */
				if (!a || a == UINT64_MAX || a == 0xffffffffull || (a & (GEARS_REGION_SIZE - 1)))
					ret = gears_err(EADDRNOTAVAIL,
							"GEARS region BAR not assigned (0x%" PRIx64 ")", a);
				else {
					*gpa = a;
					ret = 0;
				}
			}
		}
	}
	json_decref(r);
	return ret;
}

int gears_vm__wait(struct gears_vm *vm, int timeout_ms, int *status)
{
	uint64_t deadline = gears_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ull;

	if (!vm->launched)
		return gears_err(EINVAL, "not the launcher of VM '%s'", vm->name);
	if (vm->reaped) {
		if (status)
			*status = vm->qemu_status;
		return 1;
	}
	for (;;) {
		pid_t p = waitpid(vm->qemu_pid, &vm->qemu_status, timeout_ms < 0 ? 0 : WNOHANG);

		if (p == vm->qemu_pid) {
			vm->reaped = true;
			if (status)
				*status = vm->qemu_status;
			return 1;
		}
		if (p < 0 && errno != EINTR)
			return -errno;
		if (timeout_ms >= 0 && gears_now_ns() >= deadline)
			return 0;
		if (p == 0)
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
}

bool gears_vm__alive(struct gears_vm *vm)
{
	if (vm->launched)
		return gears_vm__wait(vm, 0, NULL) == 0;
	return pid_alive(vm->qemu_pid);
}

int gears_vm__list(void (*cb)(const char *name, pid_t pid, void *ctx), void *ctx)
{
	DIR *d;
	struct dirent *de;
	int n = 0, r;

	if (!*gears_runtime_dir() || access(gears_runtime_dir(), F_OK))
		return 0;
	if ((r = vm_private_dir(gears_runtime_dir())))
		return r;
	if (!(d = opendir(gears_runtime_dir())))
		return 0;
	while ((de = readdir(d))) {
		json_t *st;

		if (de->d_name[0] == '.' || !valid_name(de->d_name))
			continue;
		r = read_state(de->d_name, &st);
		if (r == -ESTALE)
			json_decref(st);	/* a dead VM's state: not listed */
		if (r)
			continue;
		if (cb)
			cb(de->d_name, (pid_t)json_integer_value(json_object_get(st, "pid")), ctx);
		json_decref(st);
		n++;
	}
	closedir(d);
	return n;
}

void gears_vm__linux_refresh(struct gears_vm *vm)
{
	if (vm->kernel) {
		gears_linux__close(vm->kernel);
		vm->kernel = NULL;
	}
	unlink(gears_vm__path(vm, "kernel.json"));
}

struct gears_linux *gears_vm__linux(struct gears_vm *vm)
{
	struct gears_cpu_state st[64];
	struct gears_mem *m = gears_vm__mem(vm);
	int n, pick = 0;

	if (vm->kernel)
		return vm->kernel;
	if (!m)
		return NULL;
	n = gears_vm__cpu_states(vm, st, 64);
	if (n < 0)
		return errno = -n, NULL;
	/* A vCPU in kernel mode has the kernel's own CR3 and a RIP in kernel text,
	 * which tells the kallsyms scan where to look first. */
	for (int i = 0; i < n; i++) {
		if (st[i].cpl == 0) {
			pick = i;
			break;
		}
	}
	if (!(st[pick].cr0 & (1u << 31)) || !(st[pick].efer & (1u << 10)))
		return gears_err_ptr(EAGAIN, "the guest is not in 64-bit paged mode yet (still booting?)");
	GEARS_OPTS(gears_linux_opts, o, .cr3 = st[pick].cr3, .cr4 = st[pick].cr4,
		   .hint_va = st[pick].cpl == 0 ? st[pick].rip : 0,
		   .cache_path = gears_vm__path(vm, "kernel.json"));
	vm->kernel = gears_linux__open(m, &o);
	if (!vm->kernel && st[pick].cpl != 0 && (st[pick].cr3 & (1ull << 12))) {
		/* Page-table isolation: user mode runs on the user half of an 8 KiB
		 * PGD pair, which lacks most of the kernel; the kernel's is below it. */
		o.cr3 &= ~(1ull << 12);
		vm->kernel = gears_linux__open(m, &o);
	}
	return vm->kernel;
}
