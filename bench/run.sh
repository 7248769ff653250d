#!/bin/sh
# Run every benchmark (build/bench/*) and the shell ones (bench/*.sh); each
# prints its own ratios against a baseline measured in the same run.
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
export GEARS
fail=0
for b in build/bench/*; do
	[ -x "$b" ] || continue
	if [ -n "${BENCH:-}" ] && ! echo " $BENCH " | grep -q " $(basename "$b") "; then
		continue
	fi
	echo "== $(basename "$b")"
	"$b" || fail=1
done
# Services' benchmarks that are scripts (services/NAME/bench/*.sh).
for b in services/*/bench/*.sh; do
	[ -f "$b" ] || continue
	if [ -n "${BENCH:-}" ] && ! echo " $BENCH " | grep -q " $(basename "$b" .sh) "; then
		continue
	fi
	echo "== $(basename "$b" .sh)"
	sh "$b" || fail=1
done
exit $fail
