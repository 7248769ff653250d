#!/bin/sh
# Install the Debian packages GEARS needs to build, to build its guest image and to
# run its tests. Idempotent: when everything is present it does nothing (no apt-get
# update), so `make test` can call it on every run.
set -eu

# What each package is for is listed in README.md ("Dependencies").
PKGS="gcc make pkg-config libjansson-dev libbpf-dev libelf-dev zlib1g-dev
      qemu-system-x86 qemu-utils clang libclang-rt-14-dev
      cpio kmod strace jq gcc-multilib debootstrap extlinux iperf3 iproute2 ethtool iputils-ping socat
      mpich libmpich-dev"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# need_root WHAT: fail unless we are root or have sudo to do WHAT.
need_root() {
	[ -z "$SUDO" ] || command -v sudo >/dev/null ||
		{ echo "install-deps: need root or sudo to $1" >&2; exit 1; }
}

# The guest kernels' headers, for building guest kernel modules: linux-headers-REL,
# REL being a guest kernel's release. KERNEL names the guest kernel packages, one or
# more separated by spaces (default linux-image-cloud-amd64, the default image; `make
# deps KERNEL=PKG` for another; `make test` asks for every kernel of the VM tests'
# matrix). Found as the image build finds it: the release an existing image recorded
# in its `release` file (build/image, or build/image-PKG for another package), else
# the versioned package PKG depends on (linux-image-REL), read from the package lists
# (updated first when they do not know PKG yet). A package the archive does not have
# is left out with a warning: the tests of that kernel skip, saying why.
KERNEL=${KERNEL:-linux-image-cloud-amd64}
for k in $KERNEL; do
	case $k in
	linux-image-*) ;;
	*) echo "install-deps: KERNEL=$k is not a linux-image-* package" >&2; exit 2 ;;
	esac
done
# kernel_release PKG
kernel_release() {
	if [ "$1" = linux-image-cloud-amd64 ]; then
		image_dir=$(dirname "$0")/../build/image
	else
		image_dir=$(dirname "$0")/../build/image-$1
	fi
	if [ -s "$image_dir/release" ]; then
		cat "$image_dir/release"
		return
	fi
	# A versioned package is its own release; a meta package depends on one.
	case $1 in
	linux-image-[0-9]*.[0-9]*-[0-9]*-*) echo "${1#linux-image-}"; return ;;
	esac
	apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: linux-image-\([^ <>]*\)$/\1/p' | head -n 1
}
updated=0
for k in $KERNEL; do
	REL=$(kernel_release "$k")
	if [ -z "$REL" ] && [ $updated = 0 ]; then
		echo "install-deps: package lists do not know $k; updating them" >&2
		need_root "update the package lists"
		$SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
		updated=1
		REL=$(kernel_release "$k")
	fi
	if [ -z "$REL" ]; then
		echo "install-deps: warning: cannot find the release of $k: no headers for it" >&2
		continue
	fi
	PKGS="$PKGS linux-headers-$REL"
done

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

need_root "install:$missing"
echo "install-deps: installing:$missing" >&2
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
