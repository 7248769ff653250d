#!/bin/sh
# The smoke set (tests/vm/smoke.sh) on linux-image-amd64.
KPKG=linux-image-amd64
. "$(dirname "$0")/smoke.sh"
