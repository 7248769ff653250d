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
	# What the supervisor and the guest said last: often the reason (a
	# supervisor that is shutting down may still be alive here, so always).
	if [ -s "$TMP/run.err" ]; then
		echo "--- gears run's stderr (last 3000 bytes):" >&2
		tail -c 3000 "$TMP/run.err" >&2
	fi
	if [ -s "$TMP/console.log" ]; then
		echo "--- the guest's console (last 25 lines):" >&2
		tail -n 25 "$TMP/console.log" >&2
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

# guest_ps: "PID PPID NAME" of every task, sorted, from the guest's /proc: names in
# full, as /proc has them (ps in busybox cuts them at 15 characters).
guest_ps() {
	guest sh -c 'for p in /proc/[0-9]*; do
		pp=; while read -r k v; do [ "$k" = PPid: ] && pp=$v && break; done <$p/status &&
		read -r c <$p/comm && echo "${p#/proc/} $pp $c"
	done 2>/dev/null' | sort
}

# ps_compare [TRANSIENT]: $TMP/ours (gears ps as "PID PPID NAME") against
# $TMP/before and $TMP/after (guest_ps taken around it): every task in both
# snapshots is in ours, alike; everything we list is in one of them (but tasks
# whose name matches the grep pattern TRANSIENT, which come and go with the
# listing itself); and some kernel thread's name is longer than task_struct.comm's
# 15 characters (so full names were compared). A workqueue worker's "+QUEUE" or
# "-QUEUE" changes whenever it takes or finishes a work item, so those lists are
# compared without it; at least half of the workers that kept theirs across the
# two snapshots must show the same in ours.
ps_norm() {
	awk '{ n = $0; sub(/^[0-9]+ [0-9]+ /, "", n); if (n ~ /^kworker\//) sub(/[-+][^\/]*$/, "", n); print $1, $2, n }' "$1" |
		sort
}
ps_compare() {
	comm -12 "$TMP/before" "$TMP/after" >"$TMP/stable"
	ps_norm "$TMP/stable" >"$TMP/stable.n"
	ps_norm "$TMP/ours" >"$TMP/ours.n"
	missing=$(comm -23 "$TMP/stable.n" "$TMP/ours.n")
	[ -z "$missing" ] || fail "gears ps misses: $missing"
	sort -u "$TMP/before" "$TMP/after" >"$TMP/union"
	ps_norm "$TMP/union" >"$TMP/union.n"
	extra=$(comm -13 "$TMP/union.n" "$TMP/ours.n" | grep -v -- "${1:-^$}")
	[ -z "$extra" ] || fail "gears ps shows tasks the guest never listed: $extra"
	awk '$2 == 2 && length($3) > 15 { n++ } END { exit !n }' "$TMP/stable" ||
		fail "no stable kernel thread with a name over 15 characters to compare"
	workers=$(grep -c ' kworker/' "$TMP/stable")
	same=$(comm -12 "$TMP/stable" "$TMP/ours" | grep -c ' kworker/')
	[ "$workers" -gt 0 ] && [ $((same * 2)) -ge "$workers" ] ||
		fail "workqueue workers: $same of $workers stable ones have their /proc name in gears ps"
}

vm_stop() {
	"$GEARS" stop "$VM" >/dev/null 2>&1
	wait "$VM_PID" 2>/dev/null
	VM_PID=
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
