#!/bin/sh
# Run unit-test binaries; print a summary; fail if any failed.
fail=0
for t in "$@"; do
	echo "== $(basename "$t")"
	if ! "$t"; then
		echo "FAILED: $t"
		fail=1
	fi
done
exit $fail
