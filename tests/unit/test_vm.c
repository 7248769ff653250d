// SPDX-License-Identifier: MIT
/* VM launch hygiene (lib/vm.c): QEMU option escaping, the runtime directory's
 * ownership, and clean-up of a dead VM's files that trusts nothing in them. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gears/vm.h>

#include "internal.h"
#include "testlib.h"

TEST(qemu_escape_doubles_commas)
{
	char out[64];

	CHECK_STR(gears_qemu_escape("/run/a,b/c", out, sizeof(out)), "/run/a,,b/c");
	CHECK_STR(gears_qemu_escape(",,", out, sizeof(out)), ",,,,");
	CHECK_STR(gears_qemu_escape("", out, sizeof(out)), "");
	/* No way to write a newline or other control character into QEMU's
	 * option syntax safely: refused. */
	CHECK(gears_qemu_escape("a\nb", out, sizeof(out)) == NULL);
	CHECK(gears_qemu_escape("a\x7f", out, sizeof(out)) == NULL);
	/* Exactly full, and one byte short. */
	CHECK_STR(gears_qemu_escape("abc,", out, 6), "abc,,");
	CHECK(gears_qemu_escape("abc,", out, 5) == NULL);
}

TEST(stale_shm_only_its_own_shape)
{
	CHECK(vm_stale_shm_ok("/dev/shm/gears-web-123-ram", "web", 123));
	CHECK(vm_stale_shm_ok("/dev/shm/gears-web-123-region", "web", 123));
	CHECK(!vm_stale_shm_ok("/dev/shm/gears-web-124-ram", "web", 123));
	CHECK(!vm_stale_shm_ok("/dev/shm/gears-web-123-ram/../../../etc/passwd", "web", 123));
	CHECK(!vm_stale_shm_ok("/dev/shm/gears-../../etc/passwd", "..", 123));
	CHECK(!vm_stale_shm_ok("/dev/shm/gears-web-123-ram", "web", 0));
	CHECK(!vm_stale_shm_ok(NULL, "web", 123));
	CHECK(!vm_stale_shm_ok("/etc/passwd", "web", 123));
}

TEST(private_dir_rules)
{
	char d[] = "/tmp/gears-test-priv.XXXXXX", link[64];

	CHECK(mkdtemp(d) != NULL);
	chmod(d, 0700);
	CHECK_EQ(vm_private_dir(d), 0);
	chmod(d, 0770);
	CHECK_EQ(vm_private_dir(d), -EPERM);
	chmod(d, 0702);
	CHECK_EQ(vm_private_dir(d), -EPERM);
	chmod(d, 0755);
	CHECK_EQ(vm_private_dir(d), 0);
	snprintf(link, sizeof(link), "%s-link", d);
	CHECK_EQ(symlink(d, link), 0);
	CHECK_EQ(vm_private_dir(link), -ENOTDIR);
	unlink(link);
	if (geteuid() == 0) {
		/* Another user's directory, however closed, is not ours. */
		CHECK_EQ(chown(d, 65534, 65534), 0);
		CHECK_EQ(vm_private_dir(d), -EPERM);
	}
	rmdir(d);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/*
 * A dead VM's state.json names the files to remove. One forged to point
 * elsewhere, a symlink planted in its directory and a file that belongs to
 * someone else are all left alone; its own shared-memory files and runtime
 * files go.
 */
TEST(stale_cleanup_trusts_nothing)
{
	char rt[] = "/tmp/gears-test-rt.XXXXXX", p[512], victim[] = "/tmp/gears-test-victim.XXXXXX";
	long dead = 4194303;	/* above any pid_max default: never alive */
	char shm[128];
	int fd;

	CHECK(mkdtemp(rt) != NULL);
	chmod(rt, 0700);
	fd = mkstemp(victim);
	CHECK(fd >= 0);
	close(fd);
	setenv("GEARS_RUNTIME_DIR", rt, 1);
	snprintf(p, sizeof(p), "%s/stale", rt);
	CHECK_EQ(mkdir(p, 0700), 0);
	snprintf(shm, sizeof(shm), "/dev/shm/gears-stale-%ld-ram", dead);
	write_file(shm, "x");
	snprintf(p, sizeof(p), "%s/stale/state.json", rt);
	{
		char js[1024];

		snprintf(js, sizeof(js),
			 "{\"name\": \"stale\", \"pid\": %ld, \"qemu_pid\": %ld, \"ram_path\": \"%s\", "
			 "\"region_path\": \"/dev/shm/gears-stale-%ld-region/../../..%s\", \"ram_size\": 1, "
			 "\"smp\": 1}", dead, dead, shm, dead, victim);
		write_file(p, js);
	}
	snprintf(p, sizeof(p), "%s/stale/qmp.sock", rt);
	write_file(p, "");
	snprintf(p, sizeof(p), "%s/stale/planted", rt);
	CHECK_EQ(symlink(victim, p), 0);

	/* The launch fails (no kernel there) after it has cleaned up. */
	GEARS_OPTS(gears_vm_opts, o, .name = "stale", .kernel = "/nonexistent/vmlinuz");
	CHECK(gears_vm__launch(&o) == NULL);

	CHECK(access(victim, F_OK) == 0);		/* named by the forged path: kept */
	CHECK(access(shm, F_OK) != 0);			/* its own shared memory: removed */
	snprintf(p, sizeof(p), "%s/stale/qmp.sock", rt);
	CHECK(access(p, F_OK) != 0);			/* its own runtime file: removed */
	snprintf(p, sizeof(p), "%s/stale/planted", rt);
	struct stat st;
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));	/* not ours to remove */

	unlink(p);
	snprintf(p, sizeof(p), "%s/stale", rt);
	rmdir(p);
	rmdir(rt);
	unlink(victim);
	unlink(shm);
	unsetenv("GEARS_RUNTIME_DIR");
}
