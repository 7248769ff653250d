#!/bin/sh
# Run every benchmark (build/bench/* and the services' scripts,
# services/NAME/bench/*.sh; BENCH="name ..." restricts the set). Each prints its
# figures beside their targets with MET or MISSED, and exits non-zero when its
# work failed. All of them run even when one fails; the summary at the end
# lists failures and missed targets, and the exit status is non-zero when a
# benchmark failed or none ran (a mistyped BENCH=).
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
export GEARS
log=$(mktemp "${TMPDIR:-/tmp}/gears-bench-XXXXXX")
rc=$(mktemp "${TMPDIR:-/tmp}/gears-bench-rc-XXXXXX")
trap 'rm -f "$log" "$rc"' EXIT
n=0; failed=""; found=""
for b in build/bench/* services/*/bench/*.sh; do
	[ -f "$b" ] && { [ -x "$b" ] || [ "${b%.sh}" != "$b" ]; } || continue
	name=$(basename "$b" .sh)
	if [ -n "${BENCH:-}" ] && ! echo " $BENCH " | grep -q " $name "; then
		continue
	fi
	n=$((n + 1))
	found="$found $name"
	echo "== $name"
	# The figures go to the screen and the log; the status past the pipe.
	case $b in
	*.sh) { sh "$b"; echo $? >"$rc"; } | tee -a "$log" ;;
	*) { "$b"; echo $? >"$rc"; } | tee -a "$log" ;;
	esac
	[ "$(cat "$rc")" = 0 ] || failed="$failed $name"
done
for want in ${BENCH:-}; do
	echo "$found " | grep -q " $want " || { echo "no benchmark named $want"; failed="$failed $want"; }
done
met=$(grep -c 'MET' "$log")
missed=$(grep -c 'MISSED' "$log")
echo "benchmarks: $n run, targets $met met, $missed missed${failed:+; FAILED:$failed}"
[ "$n" -gt 0 ] && [ -z "$failed" ]
