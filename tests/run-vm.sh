#!/bin/sh
# Run the VM tests (tests/vm/test_*.sh and services/*/tests/vm/test_*.sh).
# Each boots its own guest; a summary is printed and any failure fails the run.
# TESTS="name ..." restricts the set; a name that matches no test, or a run in
# which no test ran, is a failure too.
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
export GEARS
fail=0; n=0; failed=""; skipped=""; found=""
for t in tests/vm/test_*.sh services/*/tests/vm/test_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	found="$found $name"
	if [ -n "${TESTS:-}" ] && ! echo " $TESTS " | grep -q " $name "; then
		continue
	fi
	n=$((n + 1))
	start=$(date +%s)
	echo "== $name"
	timeout 600 sh "$t"
	rc=$?
	if [ $rc = 0 ]; then
		echo "   ($(( $(date +%s) - start )) s)"
	elif [ $rc = 77 ]; then
		skipped="$skipped $name"	# it said why
	else
		echo "FAILED: $name"
		fail=1
		failed="$failed $name"
	fi
done
for want in ${TESTS:-}; do
	if ! echo "$found " | grep -q " $want "; then
		echo "FAILED: no VM test named $want"
		fail=1
		failed="$failed $want(none)"
	fi
done
[ "$n" -gt 0 ] || fail=1
echo "VM tests: $n run${skipped:+, skipped:$skipped}${failed:+, failed:$failed}"
exit $fail
