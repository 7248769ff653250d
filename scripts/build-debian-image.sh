#!/bin/sh
# build-debian-image.sh OUT_DIR KERNEL_DEB — a real distribution on a disk, for the
# tests of disk guests: Debian 12 with systemd as PID 1, built with debootstrap from
# Debian's archive, booted by SeaBIOS from the disk itself (extlinux in the ext4
# boot block: no partition table, no loop partitions needed).
#
# Produces OUT_DIR/disk.qcow2 and OUT_DIR/release. Nothing of GEARS is inside the
# guest; what the tests need is Debian's own: systemd, journald, cron (a daemon),
# procps (ps), kmod, iproute2. The root account has no password and a serial
# console logs it in on ttyS0 (autologin), so tests can drive the guest through
# its console like a person would. The kernel is KERNEL_DEB (the default image's
# linux-image-REL package), so kernel modules built for the default image load.
#
# Cached: rebuilt only when this script or the kernel package changes. Needs root
# (debootstrap, a loop mount).
set -eu

[ $# -eq 2 ] || { echo "usage: $0 OUT_DIR KERNEL_DEB" >&2; exit 2; }
OUT=$1
KDEB=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${GEARS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE=${GEARS_DEBIAN_DISK_SIZE:-2G}
say() { echo "build-debian-image: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and a loop mount)"
[ -f "$KDEB" ] || die "no kernel package $KDEB (make image first)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
stamp="$(sha256sum "$0" | cut -c1-16) $(basename "$KDEB")"
if [ -f "$OUT/disk.qcow2" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
ROOT=$OUT/root
MNT=$OUT/mnt
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	for d in proc sys dev; do mountpoint -q "$ROOT/$d" && umount -l "$ROOT/$d"; done
	return 0
}
trap cleanup EXIT

# ---- the root file system ----
rm -rf "$ROOT"
say "debootstrap bookworm from $MIRROR (a few minutes the first time)"
# The .debs are kept in OUT/cache across rebuilds.
mkdir -p "$OUT/cache"
debootstrap --variant=minbase --cache-dir="$OUT/cache" \
	--include=systemd,systemd-sysv,udev,dbus,kmod,procps,iproute2,cron,strace,initramfs-tools,extlinux,e2fsprogs \
	bookworm "$ROOT" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 ||
	die "debootstrap failed; see $OUT/debootstrap.log"

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
cp "$KDEB" "$ROOT/tmp/kernel.deb"
# initramfs-tools builds the initrd with the virtio drivers the guest boots from.
printf 'virtio_pci\nvirtio_blk\next4\n' >>"$ROOT/etc/initramfs-tools/modules"
chroot "$ROOT" sh -c 'DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/kernel.deb' >>"$OUT/debootstrap.log" 2>&1 ||
	die "installing $(basename "$KDEB") in the image failed; see $OUT/debootstrap.log"
rm -f "$ROOT/tmp/kernel.deb"
REL=$(ls "$ROOT/lib/modules" | head -n 1)
[ -n "$REL" ] && [ -f "$ROOT/boot/initrd.img-$REL" ] || die "no initrd for the kernel in the image"

# ---- configuration: what a minimal server install has, plus a serial login ----
echo gears-debian >"$ROOT/etc/hostname"
printf '/dev/vda / ext4 defaults 0 1\n' >"$ROOT/etc/fstab"
chroot "$ROOT" passwd -d root >/dev/null
mkdir -p "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I vt220
EOF
# No clock or network waits under emulation.
# No display: no getty on tty1.
chroot "$ROOT" systemctl mask systemd-timesyncd.service systemd-networkd-wait-online.service \
	getty@tty1.service >/dev/null 2>&1 || true

# ---- the disk: ext4 over the whole disk, extlinux in its boot block ----
cat >"$ROOT/boot/extlinux.conf" <<EOF
DEFAULT debian
TIMEOUT 1
LABEL debian
  LINUX /boot/vmlinuz-$REL
  INITRD /boot/initrd.img-$REL
  APPEND root=/dev/vda rw console=ttyS0 quiet panic=-1 no_timer_check
EOF
cleanup
rm -f "$OUT/disk.raw"
truncate -s "$SIZE" "$OUT/disk.raw"
mkfs.ext4 -q -F -L gears-root -d "$ROOT" "$OUT/disk.raw"
mkdir -p "$MNT"
mount -o loop "$OUT/disk.raw" "$MNT"
extlinux --install "$MNT/boot" >/dev/null 2>&1 || die "extlinux --install failed"
umount "$MNT"
qemu-img convert -O qcow2 "$OUT/disk.raw" "$OUT/disk.qcow2.tmp"
mv -f "$OUT/disk.qcow2.tmp" "$OUT/disk.qcow2"
rm -f "$OUT/disk.raw"
echo "$REL" >"$OUT/release"
echo "$stamp" >"$OUT/.stamp"
rm -rf "$ROOT"
say "$OUT/disk.qcow2 ($(du -h "$OUT/disk.qcow2" | cut -f1)), Debian 12, kernel $REL"
