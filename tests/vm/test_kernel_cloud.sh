#!/bin/sh
# The smoke set (tests/vm/smoke.sh) on linux-image-cloud-amd64, the default
# kernel, booted with --cpu max: QEMU's TCG CPU with LA57, on which the kernel
# runs 5-level paging; every check of the set (page walks of user and kernel
# addresses, the region mapping, injection, tracing) then runs on it.
KPKG=linux-image-cloud-amd64
SMOKE_CPU=max
SMOKE_LEVELS=5
. "$(dirname "$0")/smoke.sh"

# --kernel-package: a name that is no Debian kernel package is refused before any
# build; a package the archive does not have is a clear error naming it.
out=$("$GEARS" run --kernel-package ../etc -- true 2>&1) && fail "--kernel-package ../etc accepted"
echo "$out" | grep -q "not a Debian kernel package name" || fail "--kernel-package ../etc: $out"
nosuch=linux-image-gears-nosuch-amd64
out=$("$GEARS" run --kernel-package $nosuch -- true 2>&1) && fail "--kernel-package $nosuch accepted"
echo "$out" | tail -n 1 | grep -q "^gears: kernel package $nosuch: no package $nosuch in the archive" ||
	fail "--kernel-package $nosuch: $out"
rm -rf "$(pwd)/build/image-$nosuch"
ok "--kernel-package: a bad name and an unknown package are clear errors"
