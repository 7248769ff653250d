#!/bin/sh
# The smoke set (tests/vm/smoke.sh) on linux-image-rt-amd64.
KPKG=linux-image-rt-amd64
. "$(dirname "$0")/smoke.sh"
