#!/bin/sh
# The smoke set (tests/vm/smoke.sh) on linux-image-cloud-amd64, the default
# kernel, booted with --cpu max: QEMU's TCG CPU with LA57, on which the kernel
# runs 5-level paging; every check of the set (page walks of user and kernel
# addresses, the region mapping, injection, tracing) then runs on it.
KPKG=linux-image-cloud-amd64
SMOKE_CPU=max
SMOKE_LEVELS=5
. "$(dirname "$0")/smoke.sh"
