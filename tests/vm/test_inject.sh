#!/bin/sh
# Code injection into sleeping and busy processes (the process goes on as
# before, nothing left mapped), 200 in a row, kernel module loading with no
# guest shell, the hypercall round trip, and clear errors.
. "$(dirname "$0")/lib.sh"

PAYLOAD=$(dirname "$GEARS")/../guest/payloads/hello
[ -x "$PAYLOAD" ] || PAYLOAD=$(pwd)/build/guest/payloads/hello
MODULE=$(pwd)/build/guest/modules/gears_hello.ko
[ -f "$PAYLOAD" ] && [ -f "$MODULE" ] || fail "build the payloads and module first (make vmtest)"

# --- hypercall: answered with GEARS, -ENOSYS from the kernel without. Under
# strace in the guest: the kernel's own system call path (where ptrace stops)
# never sees the hypercall when GEARS answers it, and does without GEARS.
HC='strace -f -o /tmp/s hcall ping; r=$?; grep -c "syscall_0x4745" /tmp/s; exit $r'
out=$("$GEARS" run --hypercalls -- sh -c "$HC") || fail "hypercall with gears: '$out'"
[ "$out" = "pong
0" ] || fail "hypercall with gears (answer, then calls the kernel saw): '$out'"
out=$("$GEARS" run -- sh -c "$HC")
[ $? = 1 ] && [ "$out" = "no gears (-38)
1" ] || fail "hypercall without gears (answer, then calls the kernel saw): '$out'"
ok "hypercall answered by the stub, unseen by the guest kernel; -ENOSYS from the kernel without GEARS"

vm_start --smp 2
sleeper=$(guest sh -c 'sleep 100000 >/dev/null 2>&1 & echo $!')
spinner=$(guest sh -c 'spin >/dev/null 2>&1 & echo $!')
[ -n "$sleeper" ] && [ -n "$spinner" ] || fail "cannot start targets"
sleep 1

state() { guest sh -c "sed -n 's/^State:\t\(.\).*/\1/p' /proc/$1/status"; }

# inject_check PID what: one injection, then the process is as it was
inject_check() {
	guest cat /proc/$1/maps >"$TMP/maps.before" || fail "maps of $1"
	"$GEARS" inject "$VM" --pid "$1" --json "$PAYLOAD" /tmp/hello.$1 >"$TMP/res.json" 2>"$TMP/err" ||
		fail "inject into $2 process: $(cat "$TMP/err")"
	[ "$(jq .result "$TMP/res.json")" = 0 ] || fail "$2: payload result $(cat "$TMP/res.json")"
	[ "$(guest cat /tmp/hello.$1)" = "hello from PID $1" ] || fail "$2: file: $(guest cat /tmp/hello.$1)"
	guest cat /proc/$1/maps >"$TMP/maps.after"
	cmp -s "$TMP/maps.before" "$TMP/maps.after" || fail "$2: mappings changed:
$(diff "$TMP/maps.before" "$TMP/maps.after")"
}

inject_check "$sleeper" sleeping
how=$(jq -r .how "$TMP/res.json")
[ "$(state "$sleeper")" = S ] || fail "sleeper is now $(state "$sleeper")"
ok "sleeping process: payload ran ($how), process back asleep, same mappings"

# a process blocked in read(2) on a pipe nobody writes
reader=$(guest sh -c '(sleep 100000 | cat >/dev/null) >/dev/null 2>&1 & sleep 0.5; pidof cat')
[ -n "$reader" ] || fail "cannot start the reader"
inject_check "$reader" "blocked in read"
[ "$(state "$reader")" = S ] || fail "reader is now $(state "$reader")"
guest cat /proc/$reader/syscall | grep -q '^0 ' || fail "reader no longer in read: $(guest cat /proc/$reader/syscall)"
ok "process blocked in read: payload ran, back in read(2), same mappings"

inject_check "$spinner" busy
how=$(jq -r .how "$TMP/res.json")
[ "$(state "$spinner")" = R ] || fail "spinner is now $(state "$spinner")"
ok "busy process (no system calls): payload ran ($how), still spinning, same mappings"

# --- 200 in a row into the same process
guest cat /proc/$spinner/maps >"$TMP/maps.before"
i=0
while [ $i -lt 200 ]; do
	"$GEARS" inject "$VM" --pid "$spinner" "$PAYLOAD" /tmp/many >/dev/null 2>"$TMP/err" ||
		fail "injection $i: $(cat "$TMP/err")"
	i=$((i + 1))
done
n=$(guest cat /tmp/many | grep -c "^hello from PID $spinner\$")
[ "$n" = 200 ] || fail "200 injections: $n lines"
guest cat /proc/$spinner/maps >"$TMP/maps.after"
cmp -s "$TMP/maps.before" "$TMP/maps.after" || fail "mappings leaked after 200 injections:
$(diff "$TMP/maps.before" "$TMP/maps.after")"
[ "$(state "$spinner")" = R ] || fail "spinner is now $(state "$spinner")"
ok "200 injections in a row: 200 lines, no leaked mapping, process still running"

# --- --comm, and the sleeper still sleeps its sleep afterwards
"$GEARS" inject "$VM" --comm spin "$PAYLOAD" /tmp/bycomm >/dev/null 2>"$TMP/err" ||
	fail "inject --comm: $(cat "$TMP/err")"
[ "$(guest cat /tmp/bycomm)" = "hello from PID $spinner" ] || fail "--comm picked the wrong process"
ok "--comm finds the process by name"

# --- kernel module, no shell or insmod in the guest involved
guest grep -q gears_hello /proc/modules && fail "module loaded before the test"
"$GEARS" inject "$VM" --kernel-module "$MODULE" who=gears-test 2>"$TMP/err" >/dev/null ||
	fail "module load: $(cat "$TMP/err")"
guest grep -q '^gears_hello ' /proc/modules || fail "module not in /proc/modules"
guest dmesg | grep -q "gears_hello: loaded (param=gears-test)" || fail "no dmesg line"
"$GEARS" inject "$VM" --kernel-module "$MODULE" 2>"$TMP/err" && fail "second load succeeded"
grep -q "File exists" "$TMP/err" || fail "second load: $(cat "$TMP/err")"
ok "kernel module loaded from the host: in /proc/modules, its line in dmesg; reload refused"

# --- a payload that crashes its target: reported, the rest of the guest fine
victim=$(guest sh -c 'sleep 100000 >/dev/null 2>&1 & echo $!')
"$GEARS" inject "$VM" --pid "$victim" "$(dirname "$PAYLOAD")/fault" 2>"$TMP/err" && fail "crashing payload succeeded"
grep -q "exited during the injection" "$TMP/err" || fail "crashing payload: $(cat "$TMP/err")"
guest test -e /proc/$victim/status && [ "$(state "$victim")" != Z ] && fail "victim still alive"
"$GEARS" inject "$VM" --pid "$sleeper" "$PAYLOAD" /tmp/after-crash >/dev/null 2>"$TMP/err" ||
	fail "injection after a crash: $(cat "$TMP/err")"
ok "a payload that faults kills only its target, and says so"

# --- errors are clear, and nothing breaks
"$GEARS" inject "$VM" --pid 99999 "$PAYLOAD" /tmp/x 2>"$TMP/err" && fail "missing pid accepted"
grep -q "no process 99999" "$TMP/err" || fail "missing pid: $(cat "$TMP/err")"
"$GEARS" inject "$VM" --pid 2 "$PAYLOAD" /tmp/x 2>"$TMP/err" && fail "kernel thread accepted"
grep -q "kernel thread" "$TMP/err" || fail "kernel thread: $(cat "$TMP/err")"
"$GEARS" inject "$VM" --pid "$sleeper" /bin/ls 2>"$TMP/err" && fail "non-payload accepted"
grep -qi "payload" "$TMP/err" || fail "bad payload: $(cat "$TMP/err")"
"$GEARS" inject "$VM" --comm no-such-prog "$PAYLOAD" 2>"$TMP/err" && fail "missing comm accepted"
[ "$(state "$sleeper")" = S ] && [ "$(guest echo alive)" = alive ] || fail "guest unwell after errors"
ok "missing process, kernel thread, non-payload file, unknown name: clear errors"
