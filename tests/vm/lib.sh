# Shared helpers for VM tests (sourced). Each test boots its own guest with a
# unique name and stops it on exit, whatever happens.
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
TEST_NAME=$(basename "$0" .sh)
VM=t-$TEST_NAME-$$
TMP=$(mktemp -d /tmp/gears-test.XXXXXX)
VM_PID=

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	# What the supervisor said, if it is gone: often the reason.
	if [ -s "$TMP/run.err" ] && [ -n "$VM_PID" ] && ! kill -0 "$VM_PID" 2>/dev/null; then
		echo "--- gears run's stderr:" >&2
		tail -c 3000 "$TMP/run.err" >&2
	fi
	exit 1
}

ok() {
	echo "ok   $TEST_NAME: $*"
}

# skip REASON: the test cannot run here (exit 77, which run-vm.sh reports as a
# skip with the reason, never as a pass)
skip() {
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

cleanup() {
	if [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; then
		"$GEARS" stop "$VM" >/dev/null 2>&1 || kill "$VM_PID" 2>/dev/null
		wait "$VM_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# vm_start [gears run options...]: boot a guest named $VM in the background,
# idling, and wait until its agent answers.
vm_start() {
	"$GEARS" run --name "$VM" "$@" -- sleep 1000000 >"$TMP/console.log" 2>"$TMP/run.err" &
	VM_PID=$!
	i=0
	while ! "$GEARS" exec "$VM" true >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$VM_PID" 2>/dev/null; then
			cat "$TMP/run.err" >&2
			fail "VM did not come up"
		fi
		sleep 0.2
	done
}

# guest CMD...: run a command in the guest, output on stdout.
guest() {
	"$GEARS" exec "$VM" -- "$@"
}

vm_stop() {
	"$GEARS" stop "$VM" >/dev/null 2>&1
	wait "$VM_PID" 2>/dev/null
	VM_PID=
}

# ps_norm: the guest's `ps -o pid,ppid,comm` (header included) as sorted
# "PID PPID COMM" lines. /proc shows a workqueue worker as "kworker/0:1-events"
# (the kernel appends the queue's name); task_struct.comm, which gears reads,
# is "kworker/0:1".
ps_norm() {
	tail -n +2 | awk '{ c = $3; if (c ~ /^kworker\//) sub(/[-+][^\/]*$/, "", c); print $1, $2, c }' | sort
}

# ps_compare: $TMP/ps.json (gears ps --json) against the guest's lists taken
# before and after it ($TMP/before, $TMP/after, from ps_norm). Every task in
# both snapshots must be in ours with the same ppid and comm; everything we
# list must be in one of them (the `ps` processes themselves exist only while
# the guest lists). Fails the test otherwise.
ps_compare() {
	jq -r '.[] | "\(.pid) \(.ppid) \(.comm)"' "$TMP/ps.json" | sort >"$TMP/ours"
	[ "$(wc -l <"$TMP/ours")" -gt 20 ] || fail "gears ps listed too few tasks"
	comm -12 "$TMP/before" "$TMP/after" >"$TMP/stable"
	missing=$(comm -23 "$TMP/stable" "$TMP/ours")
	[ -z "$missing" ] || fail "gears ps misses: $missing"
	sort -u "$TMP/before" "$TMP/after" >"$TMP/union"
	extra=$(comm -13 "$TMP/union" "$TMP/ours")
	[ -z "$extra" ] || fail "gears ps shows tasks the guest never listed: $extra"
}
