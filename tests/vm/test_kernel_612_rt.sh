#!/bin/sh
# The smoke set (tests/vm/smoke.sh) on linux-image-6.12-rt-amd64.
KPKG=linux-image-6.12-rt-amd64
. "$(dirname "$0")/smoke.sh"
