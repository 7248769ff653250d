#!/bin/sh
# gears run: command mode, exit status, output, and clean-up on every way out.
. "$(dirname "$0")/lib.sh"

rt=$("$GEARS" list --runtime-dir)
shm_count() { ls /dev/shm 2>/dev/null | grep -c "^gears-$1-" ; }
# alive = exists and is not a zombie (an orphan's zombie waits for init to reap it)
alive() { [ -e /proc/$1 ] && ! grep -q '^[0-9]* ([^)]*) Z' /proc/$1/stat 2>/dev/null; }

# exit status and output pass through, byte for byte
out=$("$GEARS" run -- sh -c 'echo hello; printf "a\tb\n"; exit 7')
rc=$?
[ $rc = 7 ] || fail "exit status $rc, expected 7"
[ "$out" = "$(printf 'hello\na\tb')" ] || fail "output was: $out"
ok "command output and exit status 7"

"$GEARS" run -- sh -c 'kill -USR1 $$'
rc=$?
[ $rc = 138 ] || fail "killed by SIGUSR1: status $rc, expected 138"
ok "death by signal is 128+N"

"$GEARS" run -- /nonexistent/program 2>"$TMP/err"
rc=$?
[ $rc = 127 ] || fail "missing program: status $rc, expected 127"
ok "missing program is 127"

# --smp and --mem reach the guest
n=$("$GEARS" run --smp 3 --mem 384M -- sh -c 'grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo')
echo "$n" | head -1 | grep -qx 3 || fail "--smp 3: $n"
mem=$(echo "$n" | awk '/MemTotal/ {print $2}')
[ "$mem" -gt 300000 ] && [ "$mem" -lt 393216 ] || fail "--mem 384M gave MemTotal $mem kB"
ok "--smp and --mem"

# --qemu-arg adds a device the guest sees on its PCI bus (virtio-rng: 1af4:1005)
n=$("$GEARS" run --qemu-arg -device --qemu-arg virtio-rng-pci -- \
	sh -c 'cat /sys/bus/pci/devices/*/device' | grep -c '^0x1005$')
[ "$n" = 1 ] || fail "--qemu-arg -device virtio-rng-pci: $n virtio-rng devices in the guest"
ok "--qemu-arg reaches QEMU's command line"

# normal exit leaves nothing behind
"$GEARS" run --name "$VM" -- true || fail "true failed"
[ ! -e "$rt/$VM" ] || fail "runtime dir left after normal exit"
[ "$(shm_count "$VM")" = 0 ] || fail "shm files left after normal exit"
ok "normal exit cleans up"

# guest kernel panic: status 125, clean-up
"$GEARS" run --name "$VM" -- sh -c 'echo c > /proc/sysrq-trigger; sleep 100' >/dev/null 2>"$TMP/err"
rc=$?
[ $rc = 125 ] || fail "guest panic: status $rc, expected 125"
grep -q "reset\|panic" "$TMP/err" || fail "no panic message: $(cat "$TMP/err")"
[ ! -e "$rt/$VM" ] && [ "$(shm_count "$VM")" = 0 ] || fail "files left after panic"
ok "guest panic: 125 and clean-up"

# SIGTERM to gears: QEMU stopped, files removed, 143
vm_start
qpid=$(jq .qemu_pid "$rt/$VM/state.json")
kill -TERM "$VM_PID"
wait "$VM_PID"
rc=$?
VM_PID=
[ $rc = 143 ] || fail "SIGTERM: status $rc, expected 143"
sleep 0.5
! alive "$qpid" || fail "QEMU survived SIGTERM of gears"
[ ! -e "$rt/$VM" ] && [ "$(shm_count "$VM")" = 0 ] || fail "files left after SIGTERM"
ok "SIGTERM: QEMU stopped, files removed"

# Ctrl-C (SIGINT): first goes to the guest command, which dies of it
"$GEARS" run --name "$VM" -- sleep 1000 >/dev/null 2>&1 &
VM_PID=$!
i=0; while ! "$GEARS" exec "$VM" true >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done
kill -INT "$VM_PID"
wait "$VM_PID"
rc=$?
VM_PID=
[ $rc = 130 ] || fail "SIGINT: status $rc, expected 130"
[ ! -e "$rt/$VM" ] || fail "files left after SIGINT"
ok "SIGINT reaches the guest command (130)"

# QEMU crash: 125, files removed
vm_start
qpid=$(jq .qemu_pid "$rt/$VM/state.json")
kill -KILL "$qpid"
wait "$VM_PID"
rc=$?
VM_PID=
[ $rc = 125 ] || fail "QEMU killed: status $rc, expected 125"
[ ! -e "$rt/$VM" ] && [ "$(shm_count "$VM")" = 0 ] || fail "files left after QEMU crash"
ok "QEMU crash: 125 and clean-up"

# gears itself killed: QEMU dies with it (PDEATHSIG); the next run cleans the rest
vm_start
qpid=$(jq .qemu_pid "$rt/$VM/state.json")
kill -KILL "$VM_PID"
wait "$VM_PID" 2>/dev/null
VM_PID=
sleep 0.5
! alive "$qpid" || fail "QEMU outlived a killed gears"
"$GEARS" run --name "$VM" -- true || fail "could not reuse the name of a dead VM"
[ ! -e "$rt/$VM" ] && [ "$(shm_count "$VM")" = 0 ] || fail "stale files not cleaned"
ok "killed supervisor: QEMU gone, stale files cleaned on next use"

# gears stop: clean power-off
vm_start
"$GEARS" stop "$VM" || fail "gears stop failed"
wait "$VM_PID"
rc=$?
VM_PID=
[ $rc = 0 ] || fail "stopped VM: status $rc"
[ ! -e "$rt/$VM" ] || fail "files left after stop"
ok "gears stop"

# a second VM with the same name is refused while the first runs
vm_start
"$GEARS" run --name "$VM" -- true 2>"$TMP/err"
[ $? != 0 ] && grep -q "already running" "$TMP/err" || fail "duplicate name accepted"
ok "duplicate names refused"

# Only the VM's owner and root may drive it: even with the directories and the
# socket opened to everyone, another user's connection is refused by the
# supervisor's credential check, and nothing runs in the guest.
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$rt" "$rt/$VM" && chmod 666 "$rt/$VM/ctl.sock"
	reply=$(setpriv --reuid=65534 --regid=65534 --clear-groups perl -MIO::Socket::UNIX -e '
		$SIG{PIPE} = "IGNORE"; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
		print $s "EXEC 1 22\ntouch\0/tmp/gears-intruder\0"; local $/; print scalar <$s>;' \
		"$rt/$VM/ctl.sock" 2>&1)
	chmod 700 "$rt" "$rt/$VM" && chmod 600 "$rt/$VM/ctl.sock"
	echo "$reply" | grep -q "may not drive" || fail "another user's connection was not refused: $reply"
	"$GEARS" exec "$VM" -- ls /tmp/gears-intruder >/dev/null 2>&1 && fail "the intruder's command ran"
	"$GEARS" exec "$VM" true || fail "the owner was refused"
	ok "control socket: other users refused (SO_PEERCRED), the owner served"
else
	echo "skip test_run: control-socket credential check needs root (to act as another user)"
fi
vm_stop

# The runtime directory: refused when others may write it; a path with a
# comma (QEMU's option separator) still reaches QEMU intact.
open_dir=$(mktemp -d /tmp/gears-open.XXXXXX)
chmod 777 "$open_dir"
GEARS_RUNTIME_DIR=$open_dir "$GEARS" run -- true 2>"$TMP/err"
[ $? = 1 ] && grep -q "writable by group or others" "$TMP/err" || fail "world-writable runtime dir accepted"
rmdir "$open_dir"
comma_dir=$(mktemp -d /tmp/gears-a,b.XXXXXX)
out=$(GEARS_RUNTIME_DIR=$comma_dir "$GEARS" run -- echo comma-ok) || fail "runtime dir with a comma: $out"
[ "$out" = comma-ok ] || fail "runtime dir with a comma: output '$out'"
rmdir "$comma_dir" || fail "files left in the comma runtime dir"
ok "runtime directory: open ones refused; commas escaped for QEMU"

# bad input gets a clear error, not a crash
"$GEARS" run --smp 0 -- true 2>/dev/null; [ $? = 1 ] || fail "--smp 0 accepted"
"$GEARS" run --mem 12Q -- true 2>/dev/null; [ $? = 1 ] || fail "--mem 12Q accepted"
"$GEARS" run --kernel /nonexistent -- true 2>"$TMP/err"; [ $? = 1 ] && grep -q "not found" "$TMP/err" || fail "missing kernel"
"$GEARS" run --accel warp -- true 2>/dev/null; [ $? = 1 ] || fail "--accel warp accepted"
"$GEARS" ps no-such-vm 2>/dev/null; [ $? = 1 ] || fail "ps of a missing VM"
"$GEARS" --json ps no-such-vm | jq -e .error >/dev/null || fail "--json error is not JSON"
ok "bad options and names get clear errors"
