#!/bin/sh
# `make demo`: boot the default guest, look inside it from outside, run a
# command in it, power it off. Every step prints what it shows.
set -eu
GEARS=${GEARS:-build/gears}
VM=demo-$$
log=$(mktemp)
trap '"$GEARS" stop "$VM" >/dev/null 2>&1 || true; rm -f "$log"' EXIT

echo "== gears run: booting the default guest (Debian cloud kernel, busybox initramfs)"
"$GEARS" run --name "$VM" --timing -- sh -c 'sleep 100000' >"$log" 2>&1 &
i=0
until "$GEARS" exec "$VM" true >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 300 ] || { cat "$log"; exit 1; }
	sleep 0.2
done
grep timing "$log" || true
"$GEARS" exec "$VM" -- sh -c 'sleep 3000 & sleep 3000 & exec >/dev/null 2>&1'

echo
echo "== gears kernel: read from guest memory (kallsyms, BTF), no guest help"
"$GEARS" kernel "$VM"
echo
echo "== gears ps --no-kthreads: the task list, walked from init_task"
"$GEARS" ps --no-kthreads "$VM"
echo
echo "== gears region verify: host-mapped shared memory, read back by the guest kernel"
"$GEARS" region "$VM" verify
echo
echo "== gears exec: a command in the guest, through the default image's agent"
"$GEARS" exec "$VM" -- uname -a
echo
echo "== gears trace: the system calls of one command, from outside (ring mode)"
"$GEARS" trace -e openat,execve,write -- cat /etc/hostname 2>&1 | tail -n 6
echo
echo "== gears env: an LD_PRELOAD rule changes Debian's unmodified uname at execve"
"$GEARS" exec "$VM" -- uname-coreutils -s
"$GEARS" env "$VM" add 'uname-coreutils:LD_PRELOAD+=/lib/gears/gears_uname_preload.so'
"$GEARS" exec "$VM" -- uname-coreutils -s
"$GEARS" env "$VM" del 'uname-coreutils:LD_PRELOAD+=/lib/gears/gears_uname_preload.so'
echo
echo "== gears inject: a payload runs inside a sleeping process, which sleeps on"
pid=$("$GEARS" exec "$VM" -- sh -c 'sleep 3001 >/dev/null 2>&1 & echo $!')
"$GEARS" inject "$VM" --pid "$pid" build/guest/payloads/hello /tmp/hello.txt
"$GEARS" exec "$VM" -- sh -c "cat /tmp/hello.txt; grep State /proc/$pid/status"
echo
echo "== gears inject --kernel-module: a module loaded with no shell or insmod in the guest"
"$GEARS" inject "$VM" --kernel-module build/guest/modules/gears_hello.ko who=demo
"$GEARS" exec "$VM" -- sh -c 'grep gears_hello /proc/modules; dmesg | grep "gears_hello: loaded"'
echo
echo "== gears stop"
"$GEARS" stop "$VM"
wait
echo "done"
