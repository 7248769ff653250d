#!/bin/sh
# build-image.sh OUT_DIR GUEST_BUILD_DIR [KERNEL_PKG] — build a guest image.
#
# VARIANT=mpi in the environment adds Debian's MPICH (mpich, libmpich12 and UCX, the
# packages listed in MPI_PKGS below, fetched and unpacked like the kernel) in a
# merged-/usr layout (UCX finds its plugins beside libucs), and the MPI service's
# guest files from services/mpi/guest (MPI_GUEST_DIR: its built preload library).
#
# KERNEL_PKG is a Debian kernel package, usually a meta package such as
# linux-image-rt-amd64 or linux-image-6.12-cloud-amd64 (default: linux-image-cloud-amd64,
# the default image). A meta package is followed to the versioned package it depends
# on; the release comes from what that package installs, never from its name.
#
# Produces, in OUT_DIR:
#   vmlinuz      that kernel (whatever ABI it is today)
#   config       that kernel's build configuration
#   release      its `uname -r` string
#   initrd.img   an uncompressed newc cpio: busybox, /init, the gears agent and guest
#                programs, LD_PRELOAD libraries (/lib/gears), strace, coreutils'
#                uname (/usr/bin/uname-coreutils), iperf3, and the virtio modules
# Scratch: OUT_DIR/dl (downloaded .debs), OUT_DIR/kernel and OUT_DIR/busybox (the
# extracted packages), OUT_DIR/root (the staged initramfs, recreated on every run).
#
# Nothing is installed on the host: packages are fetched with `apt-get download` and
# unpacked with `dpkg-deb -x`. Once the .debs are in OUT_DIR/dl no network is used, so
# a rebuild after changing the agent takes a second or two.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 OUT_DIR GUEST_BUILD_DIR [KERNEL_PKG]" >&2
	exit 2
fi
KERNEL_PKG=${3:-linux-image-cloud-amd64}
case $KERNEL_PKG in
linux-image-*) ;;
*) echo "build-image: $KERNEL_PKG is not a linux-image-* package" >&2; exit 2 ;;
esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1/dl"
OUT=$(cd "$1" && pwd)
GUEST=$(cd "$2" && pwd)
ROOT=$OUT/root
VARIANT=${VARIANT:-}
case $VARIANT in
"" | mpi) ;;
*) echo "build-image: unknown VARIANT=$VARIANT (known: mpi)" >&2; exit 2 ;;
esac
# MPICH as Debian 12 packages it (ch4:ucx) and the libraries it needs that the
# rest of the image does not bring (the C library and such come with copy_libs).
MPI_PKGS="mpich libmpich12 libucx0 libhwloc15 libslurm38 libnuma1 libibverbs1 ibverbs-providers
	librdmacm1 libnl-3-200 libnl-route-3-200 libgfortran5 libquadmath0"
# Modules the guest may need for QEMU's virtio devices; their dependencies come along.
MODULES="virtio_pci virtio_net virtio_blk virtio_console virtio_rng virtiofs"

say() { echo "build-image: $*" >&2; }
die() { say "$*"; exit 1; }
# A package the archive cannot give us: say why in OUT_DIR/unavailable, so tests that
# need this image can skip with the reason instead of failing or passing silently.
unavailable() {
	echo "$*" >"$OUT/unavailable"
	die "$*"
}

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# As root, apt-get download would warn that its sandbox user cannot write to OUT_DIR/dl.
APT_OPTS=""
[ "$(id -u)" = 0 ] && APT_OPTS="-o APT::Sandbox::User=root"

# find_deb PKG: the newest already-downloaded .deb of PKG, or nothing.
find_deb() {
	# apt names files PKG_VERSION_ARCH.deb; the underscore keeps PKG-dbg etc. out.
	find "$OUT/dl" -maxdepth 1 -name "$1_*.deb" | sort -V | tail -n 1
}

# fetch PKG[=VERSION]: print the path of the package's .deb, downloading it if absent.
# A failed download is retried once after `apt-get update`: on a fresh machine the
# package lists are missing, and on an old one they may name a version that the
# archive has since dropped.
fetch() {
	pkg=${1%%=*}
	deb=$(find_deb "$pkg")
	if [ -z "$deb" ]; then
		say "downloading $1"
		# shellcheck disable=SC2086
		if ! (cd "$OUT/dl" && apt-get download -q $APT_OPTS "$1" >/dev/null); then
			say "apt-get download $1 failed; updating the package lists and retrying"
			$SUDO apt-get update -q >/dev/null
			# shellcheck disable=SC2086
			if ! (cd "$OUT/dl" && apt-get download -q $APT_OPTS "$1" >/dev/null); then
				apt-cache show "$pkg" >/dev/null 2>&1 ||
					unavailable "no package $pkg in the archive (apt-cache knows no such package)"
				unavailable "cannot download $1 (apt-get download failed)"
			fi
		fi
		deb=$(find_deb "$pkg")
		[ -n "$deb" ] || die "apt-get download $1 left no .deb in $OUT/dl"
	fi
	echo "$deb"
}

# unpack DEB DIR: extract DEB into DIR unless DIR already holds exactly that .deb.
# Returns 0 when it extracted, 1 when DIR was already up to date.
unpack() {
	if [ -f "$2/.from" ] && [ "$(cat "$2/.from")" = "$(basename "$1")" ]; then
		return 1
	fi
	say "extracting $(basename "$1")"
	rm -rf "$2"
	mkdir -p "$2"
	# (callers test our status, which turns off set -e in here: check explicitly)
	dpkg-deb -x "$1" "$2" || die "cannot extract $1"
	basename "$1" >"$2/.from" || die "cannot write $2/.from"
	return 0
}

# ---- the kernel: a meta package's Depends names the versioned package of the day ----
meta=$(fetch "$KERNEL_PKG")
rm -f "$OUT/unavailable"
if dpkg-deb -c "$meta" | grep -q '/boot/vmlinuz-'; then
	kdeb=$meta	# a versioned package itself
else
	# of the form "linux-image-REL (= VERSION)": first alternative, no constraint
	kdep=$(dpkg-deb -f "$meta" Depends | cut -d, -f1 | cut -d'|' -f1)
	kpkg=$(echo "$kdep" | sed 's/(.*//; s/[[:space:]]//g')
	kver=$(echo "$kdep" | sed -n 's/.*(= *\([^)]*\)).*/\1/p' | tr -d ' ')
	case $kpkg in
	linux-image-*) ;;
	*) die "unexpected Depends of $(basename "$meta"): $kdep" ;;
	esac
	kdeb=$(fetch "$kpkg${kver:+=$kver}")
fi
if unpack "$kdeb" "$OUT/kernel"; then
	fresh_kernel=1
else
	fresh_kernel=0
fi
REL=$(find "$OUT/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n 1)
if [ -z "$REL" ] || [ ! -f "$OUT/kernel/boot/vmlinuz-$REL" ]; then
	die "$(basename "$kdeb") has no /lib/modules/REL with a matching /boot/vmlinuz-REL"
fi
if [ "$fresh_kernel" = 1 ] || [ ! -f "$OUT/kernel/lib/modules/$REL/modules.dep" ]; then
	/sbin/depmod -b "$OUT/kernel" "$REL"
fi
cp "$OUT/kernel/boot/vmlinuz-$REL" "$OUT/vmlinuz.tmp"
chmod 644 "$OUT/vmlinuz.tmp" # QEMU may run as a user who is not the builder
mv -f "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
cp "$OUT/kernel/boot/config-$REL" "$OUT/config"
echo "$REL" >"$OUT/release"

# ---- busybox ----
bbdeb=$(fetch busybox-static)
if unpack "$bbdeb" "$OUT/busybox"; then
	# Only bin/busybox is used. The rest includes directories named *.d, which the
	# Makefile's `-include $(shell find build -name '*.d')` would try to read.
	rm -rf "$OUT/busybox/usr"
fi
BUSYBOX=$OUT/busybox/bin/busybox
[ -x "$BUSYBOX" ] || die "busybox-static has no /bin/busybox"

# ---- stage the initramfs root ----
rm -rf "$ROOT"
mkdir -p "$ROOT"
cd "$ROOT"
if [ "$VARIANT" = mpi ]; then
	# merged /usr, as Debian 12 is: /lib and /lib64 are /usr's
	mkdir -p usr/lib usr/lib64
	ln -s usr/lib lib
	ln -s usr/lib64 lib64
fi
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp run root mnt gears/bin \
	"lib/modules/$REL"
chmod 1777 tmp
install -m 755 "$SRC/guest/init/init" init
install -m 755 "$BUSYBOX" bin/busybox
# One symlink per applet, made now so that boot does not pay for `busybox --install`.
# --list-full prints paths relative to / such as "bin/sh" and "usr/sbin/chroot".
"$BUSYBOX" --list-full | while read -r applet; do
	[ -e "$applet" ] || [ -L "$applet" ] || ln -s /bin/busybox "$applet"
done

# copy_libs BIN: copy the shared libraries of the dynamically linked BIN, and the
# loader, to the paths ldd reports, which are in the loader's built-in search path (no
# ld.so.cache needed). Nothing for a static BIN.
copy_libs() {
	readelf -d "$1" 2>/dev/null | grep -q '(NEEDED)' || return 0
	libs=$(ldd "$1") || die "ldd $1 failed"
	echo "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
		while read -r lib; do
			[ -e ".$lib" ] && continue
			mkdir -p ".$(dirname "$lib")"
			cp -L "$lib" ".$lib"
		done
}

# The agent is /sbin/gears-agent; every other guest program goes to /gears/bin (first
# in the guest's PATH). Most are static; the dynamic ones (envdump-dyn) bring their
# libraries.
for f in "$GUEST"/bin/*; do
	[ -f "$f" ] || continue
	case $(basename "$f") in
	gears-agent) install -m 755 "$f" sbin/gears-agent ;;
	*) install -m 755 "$f" gears/bin/ ;;
	esac
	copy_libs "$f"
done
[ -x sbin/gears-agent ] || say "warning: no $GUEST/bin/gears-agent; the guest will start a shell"
# LD_PRELOAD libraries go to /lib/gears.
if [ -d "$GUEST/lib" ]; then
	mkdir -p lib/gears
	for f in "$GUEST"/lib/*.so; do
		[ -f "$f" ] || continue
		install -m 644 "$f" lib/gears/
		copy_libs "$f"
	done
fi

# Debian's strace, dynamically linked, with its libraries.
STRACE=$(command -v strace || true)
[ -n "$STRACE" ] || die "strace is not installed on the host (run scripts/install-deps.sh)"
install -m 755 "$STRACE" usr/bin/strace
copy_libs "$STRACE"
# Debian's own uname (coreutils, dynamically linked, unmodified), for LD_PRELOAD tests:
# busybox's applets are static and ignore LD_PRELOAD.
[ -x /usr/bin/uname ] || die "no /usr/bin/uname on the host (coreutils)"
install -m 755 /usr/bin/uname usr/bin/uname-coreutils
copy_libs /usr/bin/uname

# Debian's iperf3 (dynamically linked, with libiperf, libcrypto, libsctp): the
# independent TCP oracle and load generator of the VNET tests and benchmarks.
IPERF3=$(command -v iperf3 || true)
[ -n "$IPERF3" ] || die "iperf3 is not installed on the host (run scripts/install-deps.sh)"
install -m 755 "$IPERF3" usr/bin/iperf3
copy_libs "$IPERF3"

# ---- the MPI variant: MPICH from its Debian packages ----
if [ "$VARIANT" = mpi ]; then
	for p in $MPI_PKGS; do
		deb=$(fetch "$p")
		unpack "$deb" "$OUT/pkgs/$p" || true
		# usr/ only (docs and man pages left out); /etc has nothing MPICH needs
		if [ -d "$OUT/pkgs/$p/usr" ]; then
			(cd "$OUT/pkgs/$p" && find usr -path 'usr/share/doc' -prune -o -path 'usr/share/man' -prune \
				-o -path 'usr/share/lintian' -prune -o -print | cpio -pdm --quiet "$ROOT") ||
				die "cannot stage $p"
		fi
	done
	# Debian's alternatives, made by postinst scripts we do not run
	ln -sf mpiexec.hydra usr/bin/mpiexec
	ln -sf mpiexec.hydra usr/bin/mpirun
	[ -x usr/bin/mpiexec.hydra ] || die "mpich has no /usr/bin/mpiexec.hydra"
	# The libraries of every ELF file MPICH brings that the packages above do not
	for f in usr/bin/mpiexec.hydra usr/bin/hydra_pmi_proxy usr/lib/x86_64-linux-gnu/libmpich.so.12 \
		usr/lib/x86_64-linux-gnu/libmpichfort.so.12 usr/lib/x86_64-linux-gnu/ucx/*.so.0 \
		usr/lib/x86_64-linux-gnu/libibverbs/*.so; do
		if [ -f "$f" ]; then copy_libs "$f"; fi
	done
	for f in "$SRC"/services/mpi/guest/*.sh; do
		if [ -f "$f" ]; then install -m 755 "$f" "gears/bin/$(basename "$f" .sh)"; fi
	done
	if [ -n "${MPI_GUEST_DIR:-}" ] && [ -d "$MPI_GUEST_DIR" ]; then
		mkdir -p lib/gears
		for f in "$MPI_GUEST_DIR"/*.so; do
			if [ -f "$f" ]; then install -m 644 "$f" lib/gears/; fi
		done
	fi
fi

# Kernel modules: each wanted module plus its dependencies, as modprobe resolves them
# against the extracted kernel. Modules built into the kernel print "builtin NAME".
for m in $MODULES; do
	deps=$(/sbin/modprobe -d "$OUT/kernel" -S "$REL" --show-depends "$m") ||
		die "module $m not found in $(basename "$kdeb")"
	echo "$deps" |
		while read -r verb path _; do
			[ "$verb" = insmod ] || continue
			rel=${path#"$OUT/kernel"}
			mkdir -p ".$(dirname "$rel")"
			cp "$path" ".$rel"
		done
done
# modules.builtin lets busybox modprobe treat built-in drivers as already loaded.
for f in modules.order modules.builtin modules.builtin.modinfo; do
	if [ -f "$OUT/kernel/lib/modules/$REL/$f" ]; then
		cp "$OUT/kernel/lib/modules/$REL/$f" "lib/modules/$REL/"
	fi
done
/sbin/depmod -b "$ROOT" "$REL"

echo "root:x:0:0:root:/root:/bin/sh" >etc/passwd
echo "root:x:0:" >etc/group
echo "gears" >etc/hostname

# ---- the archive ----
# newc_entry NAME MODE RDEVMAJOR RDEVMINOR: a data-less newc cpio member.
newc_entry() {
	n=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		0 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$n" 0 "$1"
	head -c $(((4 - (110 + n) % 4) % 4)) /dev/zero # header + name pad to 4 bytes
}
# Uncompressed: under TCG a gzip -1 archive (45% of the size) boots no faster. Median
# time from QEMU start to INIT in three rounds of 6-8 boots: 4.8, 4.6, 4.2 s
# uncompressed against 5.8, 4.8, 4.1 s with gzip -1.
find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet >"$OUT/initrd.img.tmp"
# The kernel opens /dev/console as init's stdio before /init can mount devtmpfs;
# a second archive appended to the first (the kernel unpacks both) provides the
# node without needing root to mknod it here.
{
	newc_entry dev/console $((0020600)) 5 1
	newc_entry 'TRAILER!!!' 0 0 0
} >>"$OUT/initrd.img.tmp"
mv -f "$OUT/initrd.img.tmp" "$OUT/initrd.img"
say "$OUT/initrd.img ($(du -k "$OUT/initrd.img" | cut -f1) KiB), kernel $REL"
