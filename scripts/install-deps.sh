#!/bin/sh
# Install the Debian packages GEARS needs to build, to build its guest image and to
# run its tests. Idempotent: when everything is present it does nothing (no apt-get
# update), so `make test` can call it on every run.
set -eu

# What each package is for is listed in README.md ("Dependencies").
PKGS="gcc make pkg-config libjansson-dev libbpf-dev libelf-dev zlib1g-dev
      qemu-system-x86 qemu-utils clang libclang-rt-14-dev
      cpio kmod strace jq gcc-multilib debootstrap extlinux iperf3 iproute2 ethtool iputils-ping socat"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# need_root WHAT: fail unless we are root or have sudo to do WHAT.
need_root() {
	[ -z "$SUDO" ] || command -v sudo >/dev/null ||
		{ echo "install-deps: need root or sudo to $1" >&2; exit 1; }
}

# The guest kernel's headers, for building guest kernel modules: linux-headers-REL,
# REL being the guest kernel's release. KERNEL names the guest kernel package
# (default linux-image-cloud-amd64, the default image; `make deps KERNEL=PKG` for
# another). Found as the image build finds it: the release an existing image recorded
# in its `release` file (build/image, or build/image-PKG for another package), else
# the versioned package PKG depends on (linux-image-REL), read from the package lists
# (updated first when they do not know PKG yet).
KERNEL=${KERNEL:-linux-image-cloud-amd64}
case $KERNEL in
linux-image-*) ;;
*) echo "install-deps: KERNEL=$KERNEL is not a linux-image-* package" >&2; exit 2 ;;
esac
if [ "$KERNEL" = linux-image-cloud-amd64 ]; then
	IMAGE_DIR=$(dirname "$0")/../build/image
else
	IMAGE_DIR=$(dirname "$0")/../build/image-$KERNEL
fi
kernel_release() {
	if [ -s "$IMAGE_DIR/release" ]; then
		cat "$IMAGE_DIR/release"
		return
	fi
	# A versioned package is its own release; a meta package depends on one.
	case $KERNEL in
	linux-image-[0-9]*.[0-9]*-[0-9]*-*) echo "${KERNEL#linux-image-}"; return ;;
	esac
	apt-cache depends "$KERNEL" 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: linux-image-\([^ <>]*\)$/\1/p' | head -n 1
}
REL=$(kernel_release)
if [ -z "$REL" ]; then
	echo "install-deps: package lists do not know $KERNEL; updating them" >&2
	need_root "update the package lists"
	$SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
	REL=$(kernel_release)
	[ -n "$REL" ] || { echo "install-deps: cannot find the release of $KERNEL" >&2; exit 1; }
fi
PKGS="$PKGS linux-headers-$REL"

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
