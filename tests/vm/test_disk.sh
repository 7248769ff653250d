#!/bin/sh
# A real distribution on a disk: Debian 12 with systemd as PID 1 (make
# image-debian), booted by its own boot loader, with no GEARS file inside. Every
# tool works on it; the oracle is the guest itself, driven through its serial
# console (a root shell, `gears console --run`). One boot for every check.
. "$(dirname "$0")/lib.sh"

DISK=${GEARS_DEBIAN_DISK:-$(pwd)/build/image-debian/disk.qcow2}
if [ ! -f "$DISK" ]; then
	[ "$(id -u)" = 0 ] || { echo "skip test_disk: building the Debian disk needs root"; exit 0; }
	fail "no $DISK: run make image-debian"
fi
# (bounded well inside run-vm.sh's 600 s for the whole test, so a hang names its command)
con() { "$GEARS" console "$VM" --timeout 150 --run "$*" || { r=$?; echo "   (console: exit $r from: $*)" >&2; return $r; }; }

# An env rule given at boot must reach the services systemd starts.
"$GEARS" run --name "$VM" --disk "$DISK" --snapshot --env 'cron:GEARS_BOOT_RULE=from-boot' \
	</dev/null >"$TMP/console.log" 2>"$TMP/run.err" &
VM_PID=$!
"$GEARS" console "$VM" --timeout 400 --run 'timeout 300 systemctl is-system-running --wait' >"$TMP/state" ||
	grep -qx degraded "$TMP/state" ||
	fail "the disk guest did not finish booting: $(cat "$TMP/state"); console: $(tail -c 2000 "$TMP/console.log")"
[ "$(con 'cat /proc/1/comm')" = systemd ] || fail "PID 1 is not systemd"
ok "Debian disk booted by its own boot loader: systemd is PID 1, a shell on the console"

# ps: our list against the guest's /proc, taken before and after: names in full
# (kernel threads' whole names, workqueue workers' queues), as /proc has them.
guest_ps() {
	con 'for p in /proc/[0-9]*; do pp=; while read -r k v; do [ "$k" = PPid: ] && pp=$v && break; done <$p/status && read -r c <$p/comm && echo "${p#/proc/} $pp $c"; done 2>/dev/null' | sort
}
guest_ps >"$TMP/before"
"$GEARS" ps "$VM" --json >"$TMP/ps.json" || fail "gears ps failed"
guest_ps >"$TMP/after"
jq -r '.[] | "\(.pid) \(.ppid) \(.comm)"' "$TMP/ps.json" | sort >"$TMP/ours"
# The console's shell may fork (a subshell of the listing) while we read.
ps_compare ' \(bash\|sh\)$'
grep -q ' systemd-journal$' "$TMP/ours" || fail "no systemd-journald in gears ps"
ok "ps matches the guest's ps ($(wc -l <"$TMP/stable") stable processes)"

rel=$(con 'uname -r')
"$GEARS" kernel "$VM" --json >"$TMP/kernel.json" || fail "gears kernel failed"
[ "$(jq -r .release "$TMP/kernel.json")" = "$rel" ] || fail "gears kernel: $(jq -r .release "$TMP/kernel.json"), guest $rel"
ok "kernel: release $rel"

# The boot-time rule reached cron, started by systemd; a rule added now reaches
# it after a restart; another service is untouched.
cron_env() { con 'tr "\0" "\n" </proc/$(pidof cron)/environ'; }
cron_env | grep -qx 'GEARS_BOOT_RULE=from-boot' || fail "the --env rule did not reach cron at boot: $(cron_env)"
"$GEARS" env "$VM" add 'cron:GEARS_LIVE_RULE=from-env-add' >/dev/null || fail "env add failed"
con 'systemctl restart cron' >/dev/null
cron_env | grep -qx 'GEARS_LIVE_RULE=from-env-add' || fail "the live rule did not reach the restarted cron"
con 'tr "\0" "\n" </proc/$(pidof systemd-journald)/environ' | grep -q GEARS_ && fail "journald got cron's rule"
ok "env rules reach a systemd service: at boot, and live after a restart; others untouched"

# Tracing a systemd service: journald's own calls, checked against the guest's
# view — the journal file it opens on rotation is the one the guest then has.
"$GEARS" trace -e openat --comm systemd-journal -o "$TMP/trace.out" "$VM" 2>"$TMP/trace.err" &
tpid=$!
i=0; until grep -q attached "$TMP/trace.err"; do i=$((i + 1)); [ $i -lt 300 ] || fail "trace did not attach"; sleep 0.2; done
con 'journalctl --rotate' >/dev/null
i=0; until grep -q '\.journal",.*= [0-9]' "$TMP/trace.out"; do i=$((i + 1)); [ $i -lt 150 ] || break; sleep 0.2; done
sleep 1
kill -INT $tpid; wait $tpid
# Journal files opened by absolute path, successfully (= a descriptor).
opened=$(grep 'openat(AT_FDCWD, "/[^"]*\.journal",.*= [0-9][0-9]*$' "$TMP/trace.out" |
	sed 's/^[^"]*"\([^"]*\)".*/\1/' | sort -u)
[ -n "$opened" ] || fail "no journal file in journald's trace: $(head -20 "$TMP/trace.out") $(cat "$TMP/trace.err")"
for f in $opened; do
	con "test -e '$f'" >/dev/null || fail "journald opened $f per the trace, but the guest has no such file"
done
ok "trace of systemd-journald: the journal files it opened on rotation ($(echo "$opened" | wc -l)) exist in the guest"

# Injection into a daemon, and a kernel module, with no shell or insmod involved.
"$GEARS" inject "$VM" --comm cron build/guest/payloads/hello /tmp/gears-hello.txt >/dev/null || fail "inject into cron failed"
cpid=$(con 'pidof cron')
[ "$(con 'cat /tmp/gears-hello.txt')" = "hello from PID $cpid" ] || fail "payload output: $(con 'cat /tmp/gears-hello.txt')"
[ "$(con 'systemctl is-active cron')" = active ] || fail "cron did not survive the injection"
"$GEARS" inject "$VM" --kernel-module build/guest/modules/gears_hello.ko who=disk >/dev/null || fail "module load failed"
con 'grep -c ^gears_hello /proc/modules' | grep -qx 1 || fail "module not in /proc/modules"
ok "injection into cron (still active) and a kernel module load"

# gears stop: no agent, so ACPI; systemd powers off cleanly.
"$GEARS" stop "$VM" || fail "gears stop failed"
wait "$VM_PID"
rc=$?
VM_PID=
[ $rc = 0 ] || fail "stopped disk guest: status $rc"
grep -q "reboot: Power down" "$TMP/console.log" || fail "the guest did not power itself off"
ok "gears stop: ACPI power-off, systemd shut down cleanly"
