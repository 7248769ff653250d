#!/bin/sh
# Install the Debian packages GEARS needs to build, to build its guest image and to
# run its tests. Idempotent: when everything is present it does nothing (no apt-get
# update), so `make test` can call it on every run.
set -eu

# What each package is for is listed in README.md ("Dependencies").
PKGS="gcc make pkg-config libjansson-dev libbpf-dev libelf-dev zlib1g-dev
      qemu-system-x86 qemu-utils clang libclang-rt-14-dev
      cpio kmod strace jq gcc-multilib"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
	SUDO=sudo
fi
echo "install-deps: installing:$missing" >&2
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
