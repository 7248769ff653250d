#!/bin/sh
# check-exports.sh LIB INCLUDE_DIR — libgears.so exports exactly the public API:
# every GEARS_API function of the headers, and no internal helper.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$1" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
"$(dirname "$0")/../scripts/gen-libmap.sh" "$2" | sed -n 's/^\t\t\(gears_[a-z_0-9]*\);$/\1/p' | sort -u >"$tmp/declared"
if ! cmp -s "$tmp/exported" "$tmp/declared"; then
	echo "check-exports: libgears.so exports differ from the public headers (< exported only, > declared only):" >&2
	diff "$tmp/exported" "$tmp/declared" | grep '^[<>]' >&2
	exit 1
fi
echo "check-exports: libgears.so exports exactly the $(wc -l <"$tmp/exported") public functions"
