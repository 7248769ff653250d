#!/bin/sh
# gears attach on a QEMU that the test starts itself with nothing GEARS needs:
# only -qmp (and a serial console on a pipe, typed into like a terminal). Then
# gears ps = the guest's ps, gears trace = strace in the guest, an env rule, an
# injection, a module load; a second attach is refused; detach leaves the
# kernel's text byte for byte as before (read by QEMU's own memsave, not by
# GEARS), no region device, no gdbstub, and a guest that works; SIGTERM to a
# supervisor does the same; another user is refused. One boot.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
IMG=${GEARS_IMAGE_DIR:-$(pwd)/build/image}
QMP=$TMP/qmp.sock
CON=$TMP/con
QEMU_PID=
CAT_PID=
ATTACHED=

finish() {
	[ -n "$ATTACHED" ] && "$GEARS" detach "$VM" >/dev/null 2>&1
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
	[ -n "$CAT_PID" ] && kill "$CAT_PID" 2>/dev/null
	cleanup
}
trap finish EXIT INT TERM

mkfifo "$CON.in" "$CON.out" || fail "mkfifo"
qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 512M -nodefaults -no-user-config -display none \
	-kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "console=ttyS0 quiet panic=-1 no_timer_check" \
	-qmp "unix:$QMP,server=on,wait=off" -serial "pipe:$CON" >"$TMP/qemu.log" 2>&1 &
QEMU_PID=$!
: >"$TMP/con.log"
cat "$CON.out" >>"$TMP/con.log" &
CAT_PID=$!
exec 7>"$CON.in"

qmp() {	# qmp JSON...: QEMU's own monitor, under the VM's QMP lock when attached
	perl "$HERE/qmp.pl" "$QMP" "${GEARS_RUNTIME_DIR:-/run/gears}/$VM/qmp-tool.lock" -- "$@"
}
hmp() {
	qmp "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"$1\"}}"
}
shell_wait "$QEMU_PID" "$TMP/qemu.log"
gsh 'sleep 100000 & echo $! >/tmp/sleep.pid' >/dev/null
spid=$(gsh 'cat /tmp/sleep.pid')

# The kernel's text, as QEMU reads it (memsave through vCPU 0's page tables).
ks=$(gsh 'grep -w -e _stext -e _etext /proc/kallsyms')
set -- $(echo "$ks" | awk '{ print $1 }')
[ $# = 2 ] || fail "no _stext/_etext in the guest's /proc/kallsyms: '$ks' (console: $(console | tail -5))"
stext=$1
tsize=$(( 0x$(echo "$2" | cut -c9-) - 0x$(echo "$1" | cut -c9-) ))
# (QMP memsave: an HMP line would read the file name's '/' as a division;
# val is a signed 64-bit integer, so the address is given as its negative.)
sval=$(( 0x$(echo "$stext" | cut -c9-) - 0x100000000 ))
text() {
	r=$(qmp "{\"execute\":\"memsave\",\"arguments\":{\"val\":$sval,\"size\":$tsize,\"filename\":\"$TMP/$1\"}}")
	[ -s "$TMP/$1" ] || fail "memsave 0x$stext $tsize failed: $r"
}
text text.before

# --- attach
"$GEARS" attach "$VM" --qmp "$QMP" >"$TMP/attach.out" 2>&1 || fail "gears attach: $(cat "$TMP/attach.out")"
ATTACHED=1
grep -q "memory process, GEARS region in place" "$TMP/attach.out" || fail "attach said: $(cat "$TMP/attach.out")"
qpid=$("$GEARS" kernel --json "$VM" | jq -r .memory) || fail "gears kernel failed"
[ "$qpid" = process ] || fail "gears kernel says memory '$qpid', not process"
"$GEARS" attach "$VM-2" --qmp "$QMP" >"$TMP/again" 2>&1 && fail "a second attach to one QEMU was accepted"
grep -q "already held" "$TMP/again" || fail "second attach: $(cat "$TMP/again")"
# The guest's ACPI hot-plug handler gives the region its BAR.
i=0
until hmp 'info pci' | grep -o 'BAR2: 64 bit prefetchable memory at 0x[0-9a-f]*' | grep -qv 0xffffffffffffffff; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the guest never assigned the region's BAR"
	sleep 0.1
done
ok "attached (memory through the QEMU process, region hot-plugged); a second attach is refused"

# --- ps against the guest's own, taken before and after ours
# (guest_ps's /proc listing, typed at the console's shell: builtins only)
gps() {
	gsh 'for p in /proc/[0-9]*; do pp=; while read -r k v; do [ "$k" = PPid: ] && pp=$v && break; done <$p/status && read -r c <$p/comm && echo "${p#/proc/} $pp $c"; done 2>/dev/null' | sort
}
gps >"$TMP/before"
"$GEARS" ps --json "$VM" >"$TMP/ps.json" || fail "gears ps failed"
gps >"$TMP/after"
jq -r '.[] | "\(.pid) \(.ppid) \(.comm)"' "$TMP/ps.json" | sort >"$TMP/ours"
[ "$(wc -l <"$TMP/ours")" -gt 20 ] || fail "gears ps listed too few tasks"
ps_compare
ok "ps matches the guest's ps ($(wc -l <"$TMP/stable") stable tasks)"

# --- trace against strace in the guest
"$GEARS" trace --json -o "$TMP/ours.json" -f --comm strace "$VM" 2>"$TMP/trace.err" &
TPID=$!
i=0
until grep -q "trace: attached" "$TMP/trace.err"; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $TPID 2>/dev/null || fail "gears trace did not start: $(cat "$TMP/trace.err")"
	sleep 0.1
done
text text.during
gsh "strace -f -o /tmp/s.txt sh -c 'cat /etc/hostname; ls /nonexistent; echo a | cat >/dev/null'" >/dev/null
kill -INT $TPID
wait $TPID
gsh 'cat /tmp/s.txt' | grep -E '^[0-9]+ ' >"$TMP/s.txt" || fail "no strace output"
jq -r 'select(.compat | not) |
       "\(.tid) \(.syscall) \(if .errno then "-" + .errno elif .ret == null then "?" else .ret end)" +
       (if .syscall == "openat" then " " + (.strings["1"] // "")
        elif .syscall == "execve" then " " + (.strings["0"] // "") else "" end)' "$TMP/ours.json" >"$TMP/ours.txt"
res=$(awk -f "$HERE/strace_cmp.awk" "$TMP/s.txt" "$TMP/ours.txt") || fail "trace differs from strace: $res"
ok "trace equals strace -f in the guest: $res"
cmp -s "$TMP/text.before" "$TMP/text.during" && fail "kernel text unchanged while hooked: the check below could not fail"

# --- an env rule, an injection, a module load
"$GEARS" env "$VM" add 'sh:GEARS_T=attached' >/dev/null || fail "gears env add failed"
out=$(gsh "/bin/sh -c 'echo T=\$GEARS_T'")
[ "$out" = "T=attached" ] || fail "env rule: the guest's sh saw '$out'"
"$GEARS" env "$VM" del 'sh:GEARS_T=attached' >/dev/null || fail "gears env del failed"
out=$(gsh "/bin/sh -c 'echo T=\$GEARS_T'")
[ "$out" = "T=" ] || fail "env rule removed, but sh saw '$out'"
ok "env rule reached a new sh in the guest, and went"
"$GEARS" inject "$VM" --pid "$spid" build/guest/payloads/hello /tmp/hello.txt >"$TMP/inj" 2>&1 ||
	fail "gears inject: $(cat "$TMP/inj")"
out=$(gsh 'cat /tmp/hello.txt')
[ "$out" = "hello from PID $spid" ] || fail "injection wrote '$out'"
gsh "kill -0 $spid && echo alive" | grep -qx alive || fail "the injected process is gone"
"$GEARS" inject "$VM" --kernel-module build/guest/modules/gears_hello.ko who=attach >"$TMP/mod" 2>&1 ||
	fail "module load: $(cat "$TMP/mod")"
gsh 'lsmod' | grep -q '^gears_hello ' || fail "gears_hello not in the guest's lsmod"
gsh 'dmesg' | grep -q 'gears_hello: loaded (param=attach)' || fail "the module did not say it loaded"
ok "payload ran in pid $spid; module loaded"

# --- detach: the shell's read entered through the stub returns once we type
( for k in 1 2 3 4 5 6 7 8 9 10; do sleep 1; echo >&7; done ) &
"$GEARS" detach "$VM" >"$TMP/detach" 2>&1 || fail "gears detach: $(cat "$TMP/detach")"
ATTACHED=
grep -q "region device removed" "$TMP/detach" || fail "detach said: $(cat "$TMP/detach")"
"$GEARS" list | grep -q "^$VM " && fail "the VM is still listed after detach"
hmp 'info pci' | grep -q '1af4:1110' && fail "the region device is still there"
# (the gdbstub keeps an internal "gdb" chardev of its own; the socket must be gone)
hmp "info chardev" >"$TMP/chardev"; grep -q "gdb.sock" "$TMP/chardev" && fail "the gdbstub socket is still open: $(cat "$TMP/chardev")"
ls /dev/shm | grep -q "^gears-$VM-" && fail "shared-memory files left"
text text.after
cmp -s "$TMP/text.before" "$TMP/text.after" || fail "kernel text differs after detach"
[ "$(gsh 'echo still here')" = "still here" ] || fail "the guest does not answer after detach"
ok "detached: kernel text byte for byte as before ($tsize bytes), no device, no gdbstub; guest runs on"

# --- a supervisor that is told to die (SIGTERM) gives QEMU back too
"$GEARS" attach "$VM" --qmp "$QMP" >"$TMP/attach2.out" 2>&1 || fail "second attach: $(cat "$TMP/attach2.out")"
ATTACHED=1
sup=$("$GEARS" list --json | jq -r --arg n "$VM" '.[] | select(.name == $n) | .pid')
[ -n "$sup" ] && [ "$sup" != null ] || fail "no supervisor listed for $VM: $("$GEARS" list)"
i=0
until hmp 'info pci' | grep -q '1af4:1110'; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no region device after the second attach"; sleep 0.1
done
kill -TERM "$sup"
i=0
while kill -0 "$sup" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "the supervisor did not end on SIGTERM"; sleep 0.1
done
ATTACHED=
hmp 'info pci' | grep -q '1af4:1110' && fail "SIGTERM left the region device"
"$GEARS" list | grep -q "^$VM " && fail "SIGTERM left the VM listed"
ok "SIGTERM to the supervisor gives QEMU back as detach does"

# --- another user may not adopt our QEMU, and is told why
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null &&
	setpriv --reuid nobody --regid nogroup --clear-groups "$GEARS" --help >/dev/null 2>&1; then
	chmod 711 "$TMP"
	chmod 777 "$QMP"
	setpriv --reuid nobody --regid nogroup --clear-groups env GEARS_RUNTIME_DIR= HOME=/nonexistent \
		XDG_RUNTIME_DIR= "$GEARS" attach "$VM-nobody" --qmp "$QMP" >"$TMP/nobody" 2>&1 &&
		fail "user nobody adopted root's QEMU"
	grep -q "same user or root" "$TMP/nobody" || fail "refusal for nobody: $(cat "$TMP/nobody")"
	chmod 700 "$TMP"
	ok "another user is refused: $(cat "$TMP/nobody")"
fi
