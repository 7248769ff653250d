#!/bin/sh
# Introspection from outside: `gears ps` against the guest's own ps, `gears kernel`
# against uname and /proc/kallsyms, and the GEARS region read by the guest kernel.
. "$(dirname "$0")/lib.sh"

vm_start --smp 2
# A few processes with known names, so the list is not only kernel threads.
guest sh -c 'for i in 1 2 3; do sleep 100000 & done; exec >/dev/null 2>&1' || fail "spawn"

# --- ps: compare (pid, ppid, name) with the guest's /proc, taken before and after
# ours. Names in full, as /proc has them: a kernel thread's whole name
# (rcu_tasks_kthread; task_struct.comm holds 15 characters), a workqueue worker's
# with its queue (kworker/0:1-events). Busybox ps would cut them at 15.
guest_ps >"$TMP/before"
"$GEARS" ps "$VM" --json >"$TMP/ps.json" || fail "gears ps failed"
guest_ps >"$TMP/after"
jq -r '.[] | "\(.pid) \(.ppid) \(.comm)"' "$TMP/ps.json" | sort >"$TMP/ours"
[ "$(wc -l <"$TMP/ours")" -gt 20 ] || fail "gears ps listed too few tasks"
ps_compare
n_sleep=$(jq '[.[] | select(.comm == "sleep")] | length' "$TMP/ps.json")
[ "$n_sleep" -ge 3 ] || fail "expected 3 sleep processes, saw $n_sleep"
ok "ps matches the guest's ps ($(wc -l <"$TMP/stable") stable processes)"

# ppid and uid of one of the sleeps
spid=$(jq '[.[] | select(.comm == "sleep")][0].pid' "$TMP/ps.json")
want_ppid=$(guest cat /proc/$spid/stat | awk '{print $4}')
got_ppid=$(jq "[.[] | select(.pid == $spid)][0].ppid" "$TMP/ps.json")
[ "$want_ppid" = "$got_ppid" ] || fail "ppid of $spid: guest $want_ppid, gears $got_ppid"
ok "ppid agrees"

# threads view lists at least as many entries
nt=$("$GEARS" ps -T "$VM" --json | jq length)
[ "$nt" -ge "$(jq length "$TMP/ps.json")" ] || fail "-T lists fewer tasks"

# --- kernel: release, KASLR offset, symbol count, vCPUs
"$GEARS" kernel "$VM" --json >"$TMP/k.json" || fail "gears kernel failed"
rel=$(guest uname -r)
[ "$(jq -r .release "$TMP/k.json")" = "$rel" ] || fail "release $(jq -r .release "$TMP/k.json") != $rel"
[ "$(jq -r .version "$TMP/k.json")" = "$(guest uname -v)" ] || fail "version differs from uname -v"
text=$(guest grep ' _text$' /proc/kallsyms | awk '{print $1}')
# shell arithmetic is signed 64-bit: work on the low 32 bits (KASLR < 1 GiB)
want=$(printf '0x%x' $((0x${text#ffffffff} - 0x81000000)))
[ "$(jq -r .kaslr_offset "$TMP/k.json")" = "$want" ] || fail "kaslr $(jq -r .kaslr_offset "$TMP/k.json") != $want"
# /proc/kallsyms = the core kernel's table + module/bpf symbols (marked [..])
core=$(guest sh -c 'grep -vc "\]$" /proc/kallsyms')
[ "$(jq .kallsyms "$TMP/k.json")" = "$core" ] || fail "kallsyms count $(jq .kallsyms "$TMP/k.json") != $core"
[ "$(jq .vcpus "$TMP/k.json")" = 2 ] || fail "vcpus"
ok "kernel: release, version, KASLR offset $want, $core symbols"

# --- region: mapped by the host, read by the guest kernel, hidden from user space
"$GEARS" region "$VM" verify --json >"$TMP/r.json" || fail "region verify: $(cat "$TMP/r.json")"
[ "$(jq .verified "$TMP/r.json")" = true ] || fail "guest kernel did not read the host's value"
[ "$(jq .mapped "$TMP/r.json")" = true ] || fail "region not mapped after verify"
# a user-space load from the region must fault (supervisor-only mapping)
guest peek 0xffffffff40000100 >/dev/null 2>&1
rc=$?
[ $rc = 139 ] || fail "user-space read of the region: exit $rc, expected SIGSEGV (139)"
# the guest keeps working
guest true || fail "guest broken after region mapping"
ok "region: guest kernel reads host data at 0xffffffff40000000; user space faults"
vm_stop
