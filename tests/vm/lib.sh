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
# A signal (run-vm.sh's timeout sends TERM) ends the test after the cleanup:
# a handler that returned would let the script run on without its directory.
trap cleanup EXIT
trap 'echo "FAIL: $TEST_NAME: stopped by a signal (timeout?)" >&2; exit 1' INT TERM

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
