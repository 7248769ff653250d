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

# ---- a guest reached only through its serial console (a QEMU that gears did
# not start): QEMU's -serial pipe:$TMP/con, its output appended to
# $TMP/con.log, its input on fd 7 ----
console() { tr -d '\r' <"$TMP/con.log"; }

# shell_wait PID LOG: until the default image's shell is up on the console
# (PID: the process that must stay alive meanwhile; LOG: its output, shown
# if it does not come up).
shell_wait() {
	i=0
	until console | grep -q "built-in shell"; do
		i=$((i + 1))
		[ $i -lt 1200 ] && kill -0 "$1" 2>/dev/null || fail "the guest did not boot: $(tail -c 2000 "$2")"
		sleep 0.1
	done
}

# gsh CMD: type CMD at the guest's shell; its output (between two markers
# that the echoed command line itself does not contain).
echo 0 >"$TMP/n"
gsh() {	# (often in $(...): the counter lives in a file)
	N=$(($(cat "$TMP/n") + 1))
	echo $N >"$TMP/n"
	printf 'echo @@B""%d; %s; echo @@E""%d\n' $N "$1" $N >&7
	i=0
	until console | grep -qx "@@E$N"; do
		i=$((i + 1))
		[ $i -lt 900 ] || fail "the guest did not answer '$1'"
		sleep 0.1
	done
	console | awk -v b="@@B$N" -v e="@@E$N" '$0 == e { p = 0 } p { print } $0 == b { p = 1 }'
}
