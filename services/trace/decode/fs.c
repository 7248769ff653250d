// SPDX-License-Identifier: MIT
/* Files: open flags, modes, at-flags, stat and statx, directory reads, fcntl,
 * paths read back (getcwd, readlink). */
#include <linux/stat.h>	/* first: its S_IF* are hidden once glibc's headers are in */
#include <asm/stat.h>
#include <linux/fcntl.h>

#include <stdio.h>
#include <string.h>

#include "decode_int.h"

#define KSTAT_SIZE sizeof(struct stat)	/* the kernel's x86-64 struct stat (asm/stat.h) */

static void out_oflags(struct dec_out *o, unsigned long long v)
{
	unsigned long long acc = xl_value(&xl_open_access, "O_WRONLY") | xl_value(&xl_open_access, "O_RDWR");

	out_value(o, &xl_open_access, v & acc, "%#llo");
	if (v & ~acc) {
		out_str(o, "|");
		out_flags(o, &xl_open_flags, v & ~acc, NULL);
	}
}

void p_oflags(struct dec_ctx *c, int i)
{
	/* dup3 and pipe2 take only O_CLOEXEC-like flags: 0 reads "0" there. */
	if (!c->a[i] && c->name && (!strcmp(c->name, "pipe2") || !strcmp(c->name, "dup3")))
		out_str(c->o, "0");
	else if (c->name && (!strcmp(c->name, "pipe2") || !strcmp(c->name, "dup3")))
		out_flags(c->o, &xl_open_flags, c->a[i], NULL);
	else
		out_oflags(c->o, c->a[i]);
}

void p_mode(struct dec_ctx *c, int i) { out_put(c->o, "%#03o", (unsigned)c->a[i]); }
void p_umask(struct dec_ctx *c, int i) { out_put(c->o, "%#03o", (unsigned)c->a[i]); }

/* S_IFREG|S_ISUID|0755 */
static void out_smode(struct dec_out *o, unsigned m)
{
	const char *t = xl_name(&xl_file_types, m & S_IFMT);

	if (t)
		out_put(o, "%s|", t);
	else if (m & S_IFMT)
		out_put(o, "%#o|", m & S_IFMT);
	if (m & S_ISUID)
		out_str(o, "S_ISUID|");
	if (m & S_ISGID)
		out_str(o, "S_ISGID|");
	if (m & S_ISVTX)
		out_str(o, "S_ISVTX|");
	out_put(o, "%#03o", m & 0777);
}

void p_mknodmode(struct dec_ctx *c, int i) { out_smode(c->o, (unsigned)c->a[i]); }

void p_atflags(struct dec_ctx *c, int i)
{
	if (c->name && !strcmp(c->name, "statx")) {
		unsigned long long sync = c->a[i] & AT_STATX_SYNC_TYPE;

		out_value(c->o, &xl_statx_sync, sync, "%#llx");
		if (c->a[i] & ~(unsigned long long)AT_STATX_SYNC_TYPE) {
			out_str(c->o, "|");
			out_flags(c->o, &xl_at_flags, c->a[i] & ~(unsigned long long)AT_STATX_SYNC_TYPE, NULL);
		}
		return;
	}
	out_flags(c->o, &xl_at_flags, (unsigned)c->a[i], "0");
}

void p_unlinkflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_unlink_flags, (unsigned)c->a[i], "0"); }
void p_access(struct dec_ctx *c, int i) { out_flags(c->o, &xl_access_modes, (unsigned)c->a[i], "F_OK"); }
void p_whence(struct dec_ctx *c, int i) { out_value(c->o, &xl_seek, (unsigned)c->a[i], "%#llx /* SEEK_??? */"); }
void p_flockop(struct dec_ctx *c, int i) { out_flags(c->o, &xl_flock_ops, (unsigned)c->a[i], "0"); }
void p_mountflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_mount_flags, c->a[i], "0"); }
void p_memfdflags(struct dec_ctx *c, int i) { out_flags(c->o, &xl_memfd_flags, (unsigned)c->a[i], "0"); }
void p_closerange(struct dec_ctx *c, int i) { out_flags(c->o, &xl_close_range_flags, (unsigned)c->a[i], "0"); }
void p_statxmask(struct dec_ctx *c, int i) { out_flags(c->o, &xl_statx_mask, (unsigned)c->a[i], "0"); }
void p_statfs(struct dec_ctx *c, int i) { p_ptr(c, i); }

static void out_dev(struct dec_out *o, const char *name, unsigned long long dev)
{
	/* The kernel's new_encode_dev layout, as glibc's major()/minor() read it. */
	unsigned maj = (unsigned)(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff));
	unsigned min = (unsigned)(((dev >> 12) & 0xffffff00) | (dev & 0xff));

	out_put(o, "%s=makedev(%#x, %#x)", name, maj, min);
}

static void out_time(struct dec_out *o, const char *name, unsigned long long sec, unsigned long long nsec)
{
	out_put(o, "%s=%llu, %s_nsec=%llu", name, sec, name, nsec);
}

void p_stat(struct dec_ctx *c, int i)
{
	const struct stat *st = ctx_ok(c) ? ctx_struct(c, i, true, KSTAT_SIZE) : NULL;
	struct dec_out *o = c->o;

	if (!st) {
		p_ptr(c, i);
		return;
	}
	out_str(o, "{");
	if (c->opt->verbose) {
		out_dev(o, "st_dev", st->st_dev);
		out_put(o, ", st_ino=%lu, st_mode=", st->st_ino);
		out_smode(o, st->st_mode);
		out_put(o, ", st_nlink=%u, st_uid=%u, st_gid=%u, st_blksize=%lu, st_blocks=%lu, ",
			(unsigned)st->st_nlink, (unsigned)st->st_uid, (unsigned)st->st_gid, st->st_blksize, st->st_blocks);
		if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
			out_dev(o, "st_rdev", st->st_rdev);
		else
			out_put(o, "st_size=%lu", st->st_size);
		out_str(o, ", ");
		out_time(o, "st_atime", st->st_atime, st->st_atime_nsec);
		out_str(o, ", ");
		out_time(o, "st_mtime", st->st_mtime, st->st_mtime_nsec);
		out_str(o, ", ");
		out_time(o, "st_ctime", st->st_ctime, st->st_ctime_nsec);
		out_str(o, "}");
		return;
	}
	out_str(o, "st_mode=");
	out_smode(o, st->st_mode);
	out_str(o, ", ");
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		out_dev(o, "st_rdev", st->st_rdev);
	else
		out_put(o, "st_size=%lu", st->st_size);
	out_str(o, ", ...}");
}

void c_stat(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, KSTAT_SIZE);
}

void p_statx(struct dec_ctx *c, int i)
{
	const struct statx *st = ctx_ok(c) ? ctx_struct(c, i, true, sizeof(struct statx)) : NULL;
	struct dec_out *o = c->o;

	if (!st) {
		p_ptr(c, i);
		return;
	}
	out_str(o, "{stx_mask=");
	out_flags(o, &xl_statx_mask, st->stx_mask, "0");
	out_str(o, ", stx_attributes=");
	out_flags(o, &xl_statx_attrs, st->stx_attributes, "0");
	out_str(o, ", stx_mode=");
	out_smode(o, st->stx_mode);
	out_put(o, ", stx_size=%llu, ...}", (unsigned long long)st->stx_size);
}

void c_statx(struct dec_cap *c, int i)
{
	if (c->exit && c->ret == 0)
		cap_struct(c, i, sizeof(struct statx));
}

/* getdents: the buffer's address and, as a comment, the count of entries the
 * capture found. */
void p_dents(struct dec_ctx *c, int i)
{
	const uint32_t *n = ctx_ok(c) ? ctx_struct(c, i, true, sizeof(uint32_t)) : NULL;

	p_ptr(c, i);
	if (n)
		out_put(c->o, " /* %u entries */", *n);
}

/* Count the entries the kernel wrote: walk d_reclen (at offset 16 in both
 * linux_dirent and linux_dirent64), each header read from the guest, bounded. */
void c_dents(struct dec_cap *c, int i)
{
	uint64_t off = 0, len = c->ret > 0 ? (uint64_t)c->ret : 0;
	uint32_t n = 0;

	if (!c->exit || c->ret < 0)
		return;
	while (off + 18 <= len && n < 65536) {
		uint16_t reclen;

		if (c->read(c->ctx, c->args[i] + off + 16, &reclen, sizeof(reclen)) || reclen < 18)
			return;
		off += reclen;
		n++;
	}
	if (off != len)
		return;
	c->put(c->ctx, DEC_BLOB | DEC_AT_EXIT | (unsigned)i, &n, sizeof(n));
}


void p_fcntlcmd(struct dec_ctx *c, int i) { out_value(c->o, &xl_fcntl_cmds, (unsigned)c->a[i], "%#llx /* F_??? */"); }

void p_fcntlarg(struct dec_ctx *c, int i)
{
	const char *n = xl_name(&xl_fcntl_cmds, (unsigned)c->a[i - 1]);

	if (!n)
		p_hex(c, i);
	else if (!strcmp(n, "F_SETFD"))
		out_flags(c->o, &xl_fd_flags, c->a[i], "0");
	else if (!strcmp(n, "F_SETFL"))
		out_oflags(c->o, c->a[i]);
	else if (!strcmp(n, "F_DUPFD") || !strcmp(n, "F_DUPFD_CLOEXEC") || !strcmp(n, "F_SETOWN") ||
		 !strcmp(n, "F_SETSIG") || !strcmp(n, "F_SETPIPE_SZ") || !strcmp(n, "F_NOTIFY"))
		p_int(c, i);
	else if (!strcmp(n, "F_SETLEASE"))
		out_value(c->o, &xl_lock_types, c->a[i], "%#llx");
	else
		p_ptr(c, i);
}

/* getcwd's buffer at the return: ret bytes, the NUL included. */
void p_cwd(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const char *s = ctx_ok(c) ? ctx_blob(c, i, true, &len) : NULL;

	if (s && len)
		out_quoted(c->o, s, strnlen(s, len), false, c->opt->xstyle);
	else
		p_ptr(c, i);
}

void c_cwd(struct dec_cap *c, int i)
{
	if (c->exit && c->ret > 0)
		cap_struct(c, i, (size_t)(c->ret < 4096 ? c->ret : 4096));
}

/* readlink's buffer: ret bytes, no NUL, -s of them shown. */
void p_link(struct dec_ctx *c, int i)
{
	size_t len = 0;
	const char *s = ctx_ok(c) ? ctx_blob(c, i, true, &len) : NULL;

	if (s)
		out_data(c, s, len, (uint64_t)c->ret, c->opt->xstyle);
	else
		p_ptr(c, i);
}

void c_link(struct dec_cap *c, int i)
{
	if (c->exit && c->ret > 0)
		cap_struct(c, i, (size_t)((uint64_t)c->ret < c->strsize ? (uint64_t)c->ret : c->strsize));
}
