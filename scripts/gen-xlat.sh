#!/bin/sh
# Generate the trace decoder's name tables (services/trace/decode/) from the
# headers Debian ships: the kernel's UAPI headers (linux-libc-dev: linux/,
# asm-generic/, x86_64-linux-gnu/asm/) and, for the socket-layer names the
# kernel keeps out of its UAPI (AF_*, SOCK_*, MSG_*), glibc's (libc6-dev).
#
# Each table below says which headers to scan, which names to take (a regular
# expression over #define and enum names, minus an exclusion) and, optionally,
# the largest value to keep. The names are taken in header order; the values are
# what the C compiler makes of them with those headers included, so a macro
# built from others (O_SYNC, TCGETS2, FUTEX_WAIT_PRIVATE) is evaluated, not
# guessed. A table's kind says how it is read: V, a value maps to its first
# name; F, flags in header order (a later name for the same value is dropped).
#
# Usage: gen-xlat.sh OUT.h   (CC from the environment, default cc)
set -eu
out=$1
CC=${CC:-cc}
I=/usr/include
A=$I/x86_64-linux-gnu/asm
[ -d "$A" ] || A=$I/asm
G=$I/asm-generic
B=$I/x86_64-linux-gnu/bits
[ -d "$B" ] || B=$I/bits
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name kind max includes files regex exclude [order]
# ("-" for no max / no exclusion; lists separated by commas). The order, where
# given, is strace's display order for flags, so that lines can be compared
# with strace's: names first, '*' the others in header order, names last.
cat >"$tmp/spec" <<EOF
open_access V - asm/fcntl.h $G/fcntl.h ^O_(RDONLY|WRONLY|RDWR)$ -
open_flags F - asm/fcntl.h $G/fcntl.h ^O_[A-Z]+$ ^(O_ACCMODE|O_RDONLY|O_WRONLY|O_RDWR|O_NDELAY)$ *,O_DIRECTORY
at_flags F - linux/fcntl.h $I/linux/fcntl.h ^AT_[A-Z_]+$ ^(AT_FDCWD|AT_STATX_.*|AT_RECURSIVE)$
unlink_flags F - linux/fcntl.h $I/linux/fcntl.h ^AT_REMOVEDIR$ -
statx_sync V - linux/fcntl.h $I/linux/fcntl.h ^AT_STATX_ ^AT_STATX_SYNC_TYPE$
fcntl_cmds V - linux/fcntl.h $G/fcntl.h,$I/linux/fcntl.h ^F_[A-Z0-9_]+$ ^(F_LINUX_SPECIFIC_BASE|F_SEAL_.*|F_OWNER_.*|F_RDLCK|F_WRLCK|F_UNLCK|F_EXLCK|F_SHLCK|F_OK)$
fd_flags F - linux/fcntl.h $G/fcntl.h ^FD_CLOEXEC$ -
lock_types V - linux/fcntl.h $G/fcntl.h ^F_(RDLCK|WRLCK|UNLCK)$ -
flock_ops F - linux/fcntl.h $G/fcntl.h ^LOCK_[A-Z]+$ ^LOCK_(MAND|READ|WRITE|RW)$
seek V - linux/fs.h $I/linux/fs.h ^SEEK_ ^SEEK_MAX$
prot F - asm/mman.h $G/mman-common.h ^PROT_ ^PROT_NONE$
map_type V 15 asm/mman.h,linux/mman.h $G/mman-common.h,$I/linux/mman.h ^MAP_(SHARED|PRIVATE|SHARED_VALIDATE)$ -
map_flags F - asm/mman.h,linux/mman.h $A/mman.h,$G/mman-common.h,$G/mman.h,$I/linux/mman.h ^MAP_[A-Z0-9_]+$ ^MAP_(SHARED|PRIVATE|SHARED_VALIDATE|TYPE|FILE|HUGE_.*|UNINITIALIZED)$ MAP_FIXED,MAP_ANONYMOUS,MAP_32BIT,MAP_NORESERVE,MAP_POPULATE,MAP_NONBLOCK,MAP_GROWSDOWN,MAP_DENYWRITE,MAP_EXECUTABLE,MAP_LOCKED,*
mremap_flags F - linux/mman.h $I/linux/mman.h ^MREMAP_ -
madvise V - asm/mman.h $G/mman-common.h ^MADV_ -
msync_flags F - asm/mman.h $G/mman-common.h ^MS_ -
mlock_flags F - asm/mman.h $G/mman-common.h ^MLOCK_ -
memfd_flags F - linux/memfd.h $I/linux/memfd.h ^MFD_ ^MFD_HUGE_
clone_flags F - linux/sched.h $I/linux/sched.h ^CLONE_ ^(CLONE_ARGS_SIZE_.*|CLONE_NEWTIME|CLONE_CLEAR_SIGHAND|CLONE_INTO_CGROUP)$
clone3_flags F - linux/sched.h $I/linux/sched.h ^CLONE_ ^CLONE_ARGS_SIZE_
sched_policy V - linux/sched.h $I/linux/sched.h ^SCHED_[A-Z]+$ -
signals V - asm/signal.h $A/signal.h ^SIG[A-Z0-9]+$ ^(SIGRTMIN|SIGRTMAX|SIGUNUSED|SIGSTKSZ|MINSIGSTKSZ|SIGPOLL|SIGIOT)$
sa_flags F - asm/signal.h $A/signal.h,$G/signal-defs.h ^SA_ ^(SA_ONESHOT|SA_NOMASK|SA_UNSUPPORTED|SA_EXPOSE_TAGBITS|SA_IMMUTABLE)$ *,SA_SIGINFO,SA_NOCLDSTOP,SA_NOCLDWAIT
sa_handlers V - asm/signal.h $G/signal-defs.h ^SIG_(DFL|IGN|ERR)$ -
sigprocmask_how V - asm/signal.h $G/signal-defs.h ^SIG_(BLOCK|UNBLOCK|SETMASK)$ -
ss_flags F - linux/signal.h $I/linux/signal.h ^SS_ ^SS_FLAG_BITS$
si_codes V - asm/siginfo.h $G/siginfo.h ^SI_[A-Z]+$ -
cld_codes V - asm/siginfo.h $G/siginfo.h ^CLD_ -
segv_codes V - asm/siginfo.h $G/siginfo.h ^SEGV_[A-Z]+$ -
bus_codes V - asm/siginfo.h $G/siginfo.h ^BUS_[A-Z_]+$ -
ill_codes V - asm/siginfo.h $G/siginfo.h ^ILL_[A-Z]+$ -
fpe_codes V - asm/siginfo.h $G/siginfo.h ^FPE_[A-Z]+$ -
trap_codes V - asm/siginfo.h $G/siginfo.h ^TRAP_[A-Z]+$ -
wait_options F - linux/wait.h $I/linux/wait.h ^(W[A-Z]+|__W[A-Z]+)$ ^WUNTRACED$
idtypes V - linux/wait.h $I/linux/wait.h ^P_[A-Z]+$ -
prctl_options V - linux/prctl.h $I/linux/prctl.h ^PR_[A-Z0-9_]+$ ^(PR_FP_EXC_.*|PR_SET_PTRACER_ANY)$
arch_prctl V - asm/prctl.h $A/prctl.h ^ARCH_ -
rlimits V - asm/resource.h $G/resource.h ^RLIMIT_ -
rusage_who V - linux/resource.h $I/linux/resource.h ^RUSAGE_ -
prio_which V - linux/resource.h $I/linux/resource.h ^PRIO_(PROCESS|PGRP|USER)$ -
clocks V - linux/time.h $I/linux/time.h ^CLOCK_ -
itimers V - linux/time.h $I/linux/time.h ^ITIMER_ -
timer_flags F - linux/time.h $I/linux/time.h ^TIMER_ABSTIME$ -
futex_ops V 127 linux/futex.h $I/linux/futex.h ^FUTEX_[A-Z0-9_]+$ ^(FUTEX_OP_.*|.*_PRIVATE|FUTEX_32|FUTEX_PRIVATE_FLAG|FUTEX_WAITV_MAX|FUTEX_CMD_MASK|FUTEX_TID_MASK)$
futex_bitset V - linux/futex.h $I/linux/futex.h ^FUTEX_BITSET_MATCH_ANY$ -
futex_flags F - linux/futex.h $I/linux/futex.h ^FUTEX_(PRIVATE_FLAG|CLOCK_REALTIME)$ -
ioctls V - asm/ioctls.h,asm/termbits.h,linux/serial.h,linux/fs.h,linux/fiemap.h,linux/blktrace_api.h,linux/sockios.h $G/ioctls.h,$I/linux/fs.h,$I/linux/sockios.h ^(TC[A-Z0-9]+|TIOC[A-Z0-9]+|FIO[A-Z]+|FS_IOC_[A-Z0-9_]+|SIOC[A-Z0-9]+|BLK[A-Z0-9]+)$ ^(TIOCPKT_.*|TIOCSER_TEMT|SIOCPROTOPRIVATE|SIOCDEVPRIVATE|TCSETSF2|TCSETSW2|BLKPG)$
termios_iflag F - asm/termbits.h $G/termbits-common.h,$G/termbits.h ^(IGNBRK|BRKINT|IGNPAR|PARMRK|INPCK|ISTRIP|INLCR|IGNCR|ICRNL|IUCLC|IXON|IXANY|IXOFF|IMAXBEL|IUTF8)$ -
termios_oflag F - asm/termbits.h $G/termbits-common.h,$G/termbits.h ^(OPOST|OLCUC|ONLCR|OCRNL|ONOCR|ONLRET|OFILL|OFDEL)$ -
termios_lflag F - asm/termbits.h $G/termbits.h ^(ISIG|ICANON|XCASE|ECHO|ECHOE|ECHOK|ECHONL|NOFLSH|TOSTOP|ECHOCTL|ECHOPRT|ECHOKE|FLUSHO|PENDIN|IEXTEN|EXTPROC)$ -
baud V - asm/termbits.h $G/termbits-common.h,$G/termbits.h ^B[0-9]+$ -
cbaud F - asm/termbits.h $G/termbits.h ^(CBAUD|CBAUDEX)$ -
address_families V - sys/socket.h $B/socket.h ^AF_[A-Z0-9]+$ ^(AF_LOCAL|AF_FILE|AF_ROUTE|AF_MAX)$
socket_types V 15 sys/socket.h $B/socket_type.h ^SOCK_[A-Z]+$ ^(SOCK_CLOEXEC|SOCK_NONBLOCK)$
socket_flags F - sys/socket.h $B/socket_type.h ^SOCK_(CLOEXEC|NONBLOCK)$ -
msg_flags F - sys/socket.h $B/socket.h ^MSG_[A-Z_]+$ ^MSG_TRYHARD$
shut_how V - sys/socket.h $I/sys/socket.h ^SHUT_ -
ipprotos V - linux/in.h $I/linux/in.h ^IPPROTO_[A-Z0-9]+$ ^IPPROTO_MAX$
sol_levels V - asm/socket.h,linux/in.h $G/socket.h ^SOL_SOCKET$ -
sockopts V - asm/socket.h $G/socket.h ^SO_[A-Z_]+$ ^SO_(TIMESTAMP|TIMESTAMPNS|TIMESTAMPING|RCVTIMEO|SNDTIMEO)$
poll_events F - asm/poll.h $G/poll.h ^POLL[A-Z]+$ ^(POLLFREE|POLL_BUSY_LOOP)$
epoll_ctl_ops V - linux/eventpoll.h $I/linux/eventpoll.h ^EPOLL_CTL_ -
epoll_events F - linux/eventpoll.h $I/linux/eventpoll.h ^EPOLL[A-Z]+$ -
epoll_flags F - linux/eventpoll.h $I/linux/eventpoll.h ^EPOLL_CLOEXEC$ -
file_types V - linux/stat.h $I/linux/stat.h ^S_IF[A-Z]+$ ^S_IFMT$
statx_mask F - linux/stat.h $I/linux/stat.h ^STATX_[A-Z_]+$ ^(STATX_ALL|STATX__RESERVED|STATX_ATTR_.*)$
statx_attrs F - linux/stat.h $I/linux/stat.h ^STATX_ATTR_ -
grnd_flags F - linux/random.h $I/linux/random.h ^GRND_ -
mount_flags F - linux/mount.h $I/linux/mount.h ^MS_[A-Z_]+$ ^(MS_RMT_MASK|MS_MGC_VAL|MS_MGC_MSK|MS_NOUSER|MS_VERBOSE)$
access_modes F - unistd.h $I/unistd.h ^[RWX]_OK$ -
close_range_flags F - linux/close_range.h $I/linux/close_range.h ^CLOSE_RANGE_ -
rseq_flags F - linux/rseq.h $I/linux/rseq.h ^RSEQ_FLAG_ -
errnos V - asm/errno.h $G/errno-base.h,$G/errno.h,$A/errno.h ^E[A-Z0-9]+$ ^(EWOULDBLOCK|EDEADLOCK)$
EOF

# Names in header order: "#define NAME" (not function-like) and enum members.
names() {	# files regex exclude
	echo "$1" | tr , '\n' | while read -r f; do cat "$f"; done | awk -v re="$2" -v ex="$3" '
		/^[ \t]*#[ \t]*define[ \t]+[A-Za-z_][A-Za-z0-9_]*([ \t]|$)/ {
			n = $0; sub(/^[ \t]*#[ \t]*define[ \t]+/, "", n); sub(/[ \t].*/, "", n)
			take(n, "d"); next
		}
		/^[ \t]*[A-Z_][A-Z0-9_]*[ \t]*(=[^=]|,|$)/ {
			n = $0; sub(/^[ \t]*/, ""); n = $0; sub(/[ \t=,].*/, "", n)
			take(n, "e")
		}
		function take(n, how) {
			if (n !~ re || (ex != "-" && n ~ ex) || (n in seen)) return
			seen[n] = 1; print n, how
		}'
}

echo "/* Generated by scripts/gen-xlat.sh from Debian's kernel UAPI and glibc headers. Do not edit. */" >"$tmp/out"
list=""
while read -r name kind max incs files re ex order; do
	{
		echo "$incs" | tr , '\n' | sed 's/.*/#include <&>/'
		cat <<'CEOF'
#include <stdio.h>
#include <string.h>
static struct { unsigned long long v; const char *n; int done; } e[4096];
static int ne;
static void ent(unsigned long long v, const char *n, unsigned long long max) {
	for (int i = 0; i < ne; i++) if (e[i].v == v) return;
	if (v > max || ne >= 4096) return;
	e[ne].v = v; e[ne++].n = n;
}
static void emit(int i) {
	if (!e[i].done) printf("\t{ %#llxull, \"%s\" },\n", e[i].v, e[i].n);
	e[i].done = 1;
}
/* Flags: a value that holds another's bits goes before it (O_SYNC before
 * O_DSYNC), so that printing in order names it. */
static void emit_flag(int i) {
	for (int j = 0; j < ne; j++)
		if (j != i && !e[j].done && e[j].v != e[i].v && (e[j].v & e[i].v) == e[i].v) emit(j);
	emit(i);
}
/* order: NAME,...,*,NAME,...: these first, the rest in header order at '*',
 * those after it last. */
static void finish(int flags, const char *order) {
	char buf[4096], *save = NULL;
	int star = 0;
	void (*out)(int) = flags ? emit_flag : emit;
	snprintf(buf, sizeof(buf), "%s", order);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "*")) { star = 1; break; }
		for (int i = 0; i < ne; i++) if (!strcmp(e[i].n, w)) out(i);
	}
	char late[4096] = "";
	if (star) snprintf(late, sizeof(late), ",%s,", save ? save : "");
	for (int i = 0; i < ne; i++) {
		char k[256];
		snprintf(k, sizeof(k), ",%s,", e[i].n);
		if (!strstr(late, k)) out(i);
	}
	snprintf(buf, sizeof(buf), "%s", late);
	save = NULL;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		for (int i = 0; i < ne; i++) if (!strcmp(e[i].n, w)) out(i);
}
CEOF
		echo "int main(void) {"
		m=$([ "$max" = - ] && echo '~0ull' || echo "${max}ull")
		names "$files" "$re" "$ex" | while read -r n how; do
			if [ "$how" = d ]; then
				echo "#ifdef $n"
				echo "	ent((unsigned long long)($n), \"$n\", $m);"
				echo "#endif"
			else
				echo "	ent((unsigned long long)($n), \"$n\", $m);"
			fi
		done
		echo "	finish($([ "$kind" = F ] && echo 1 || echo 0), \"${order:-}\");"
		echo "	return 0; }"
	} >"$tmp/$name.c"
	$CC -w -o "$tmp/$name" "$tmp/$name.c" || { echo "gen-xlat: table $name does not compile" >&2; exit 1; }
	"$tmp/$name" >"$tmp/$name.ents"
	[ -s "$tmp/$name.ents" ] || { echo "gen-xlat: table $name is empty" >&2; exit 1; }
	{
		echo "static const struct xlat_ent xl_${name}_ents[] = {"
		cat "$tmp/$name.ents"
		echo "};"
		echo "const struct xlat xl_${name} = { xl_${name}_ents, sizeof(xl_${name}_ents) / sizeof(xl_${name}_ents[0]), '$kind' };"
	} >>"$tmp/arrays"
	list="$list X($name)"
done <"$tmp/spec"
# The kernel's internal errnos (ERESTARTSYS...), which a traced call can
# return to a tracer, from its own headers (linux-headers-*-common, installed
# for the guest modules) when present: literal numbers, read as they are.
kh=$(ls -d /usr/src/linux-headers-*-common/include/linux/errno.h 2>/dev/null | sort -V | tail -n 1)
{
	echo "static const struct xlat_ent xl_kernel_errnos_ents[] = {"
	[ -n "$kh" ] && awk '/^#define[ \t]+E[A-Z_]+[ \t]+[0-9]+/ { printf "\t{ %sull, \"%s\" },\n", $3, $2 }' "$kh"
	echo "	{ ~0ull, \"\" },	/* none when the kernel's headers are not installed */"
	echo "};"
	echo "const struct xlat xl_kernel_errnos = { xl_kernel_errnos_ents, sizeof(xl_kernel_errnos_ents) / sizeof(xl_kernel_errnos_ents[0]), 'V' };"
} >>"$tmp/arrays"
list="$list X(kernel_errnos)"
{
	echo "#define XLAT_TABLES(X)$list"
	echo "#ifdef XLAT_DEFINE"
	cat "$tmp/arrays"
	echo "#endif"
} >>"$tmp/out"
mv "$tmp/out" "$out"
