# The per-kernel smoke set (sourced by tests/vm/test_kernel_*.sh, which set
# KPKG to a Debian kernel package and may set SMOKE_CPU, a QEMU CPU model). One
# boot through `gears run --kernel-package`, and on it: gears ps against the
# guest's ps, gears kernel against uname and /proc/kallsyms (paging levels
# against the guest's own la57 flag), region verify, one trace in each mode
# against strace in the guest, an env rule, user injection into a sleeping and a
# busy process, a module built against that kernel's headers, the hypercall.
# A kernel the archive cannot give us is a skip with its reason (exit 77).
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
: "${KPKG:?KPKG names the kernel package}"

if [ "$KPKG" = linux-image-cloud-amd64 ]; then
	IMG=$(pwd)/build/image
	MODULE=$(pwd)/build/guest/modules/gears_hello.ko
else
	IMG=$(pwd)/build/image-$KPKG
	MODULE=$IMG/modules/gears_hello.ko
fi
PAYLOAD=$(pwd)/build/guest/payloads/hello
[ -f "$PAYLOAD" ] || fail "no $PAYLOAD (make payloads)"
# make vmtest builds every kernel's image first; one it could not download says why.
[ -f "$IMG/unavailable" ] && skip "$KPKG: $(cat "$IMG/unavailable")"
[ -f "$MODULE" ] || fail "no $MODULE: make image KERNEL=$KPKG (its headers: make deps KERNEL=$KPKG)"

# Boot: the image comes from --kernel-package itself (cached: no build here).
# A guest starved of CPU on a loaded machine must not make calls go on
# unanswered: the guest waits up to 3 s for the supervisor.
GEARS_SYNC_TIMEOUT_MS=3000 "$GEARS" run --name "$VM" --kernel-package "$KPKG" --smp 2 --hypercalls \
	${SMOKE_CPU:+--cpu "$SMOKE_CPU"} -- sleep 1000000 >"$TMP/console.log" 2>"$TMP/run.err" &
VM_PID=$!
i=0
while ! "$GEARS" exec "$VM" true >/dev/null 2>&1; do
	i=$((i + 1))
	if ! kill -0 "$VM_PID" 2>/dev/null; then
		[ -f "$IMG/unavailable" ] && skip "$KPKG: $(cat "$IMG/unavailable")"
		fail "gears run --kernel-package $KPKG: $(tail -c 2000 "$TMP/run.err")"
	fi
	[ $i -lt 600 ] || fail "VM did not come up"
	sleep 0.2
done
rel=$(guest uname -r)
[ "$rel" = "$(cat "$IMG/release")" ] || fail "booted $rel, the image of $KPKG has $(cat "$IMG/release")"
ok "$KPKG booted: $rel"

# --- introspection: ps (pid, ppid, name) against /proc, before and after ours:
# /proc's names in full (a kernel thread's whole name, a workqueue worker's queue).
guest sh -c 'for i in 1 2; do sleep 100000 & done; exec >/dev/null 2>&1' || fail "spawn"
guest_ps >"$TMP/before"
"$GEARS" ps "$VM" --json >"$TMP/ps.json" || fail "gears ps failed"
guest_ps >"$TMP/after"
jq -r '.[] | "\(.pid) \(.ppid) \(.comm)"' "$TMP/ps.json" | sort >"$TMP/ours"
ps_compare
[ "$(grep -c ' sleep$' "$TMP/ours")" -ge 2 ] || fail "the two sleeps are not in gears ps"
ok "ps matches the guest's ps ($(wc -l <"$TMP/stable") stable tasks)"

"$GEARS" kernel "$VM" --json >"$TMP/k.json" || fail "gears kernel failed"
[ "$(jq -r .release "$TMP/k.json")" = "$rel" ] || fail "gears kernel: release $(jq -r .release "$TMP/k.json")"
core=$(guest sh -c 'grep -vc "\]$" /proc/kallsyms')
[ "$(jq .kallsyms "$TMP/k.json")" = "$core" ] || fail "kallsyms count $(jq .kallsyms "$TMP/k.json") != $core"
# The kernel clears la57 from its CPU flags unless it runs on 5-level paging.
if guest grep -qw la57 /proc/cpuinfo; then levels=5; else levels=4; fi
[ "$(jq .paging_levels "$TMP/k.json")" = $levels ] ||
	fail "paging levels: gears $(jq .paging_levels "$TMP/k.json"), the guest's la57 flag says $levels"
[ -z "${SMOKE_LEVELS:-}" ] || [ "$SMOKE_LEVELS" = $levels ] ||
	fail "--cpu $SMOKE_CPU: the guest runs $levels-level paging, expected $SMOKE_LEVELS"
"$GEARS" region "$VM" verify --json >"$TMP/r.json" || fail "region verify: $(cat "$TMP/r.json")"
[ "$(jq .verified "$TMP/r.json")" = true ] || fail "region: the guest kernel did not read the host's value"
ok "kernel: release, $core symbols, $levels-level paging; region verified by the guest kernel"

# --- one trace in each mode, against strace -f in the guest. A waiting shell
# (its pid known) becomes strace on a signal file: gears follows it with -p -f.
WORK='cat /etc/hostname; ls /nonexistent; echo a | cat >/dev/null; sysloop getpid 5 >/dev/null; exec true'
# A call the kernel restarts (ERESTART*, 512..516: never seen by user space) is "= ?"
# in strace, as one that never returned.
to_lines() {	# gears --json -> "TID NAME RET [PATH]"
	jq -r 'select(.compat | not) |
	       "\(.tid) \(.syscall) \(if .ret == null or (.ret <= -512 and .ret >= -516) then "?"
	                              elif .errno then "-" + .errno else .ret end)" +
	       (if .syscall == "openat" then " " + (.strings["1"] // "")
	        elif .syscall == "execve" then " " + (.strings["0"] // "") else "" end)' "$1"
}
for mode in ring filter exit; do
	pid=$(guest sh -c "sh -c 'while [ ! -e /tmp/go.$mode ]; do sleep 0.1; done
		exec strace -f -o /tmp/s.$mode sh -c \"$WORK\"' >/dev/null 2>&1 & echo \$!")
	[ -n "$pid" ] || fail "$mode: cannot start the traced shell"
	"$GEARS" trace --mode $mode -p "$pid" -f --json -o "$TMP/t.json" "$VM" 2>"$TMP/t.err" &
	tpid=$!
	i=0
	until grep -q attached "$TMP/t.err"; do
		i=$((i + 1)); [ $i -lt 300 ] || fail "$mode: trace did not attach: $(cat "$TMP/t.err")"
		kill -0 $tpid 2>/dev/null || fail "$mode: trace failed: $(cat "$TMP/t.err")"
		sleep 0.2
	done
	guest touch /tmp/go.$mode
	i=0
	while guest test -d /proc/"$pid"; do
		i=$((i + 1)); [ $i -lt 300 ] || fail "$mode: the traced work did not finish"
		sleep 0.2
	done
	kill -INT $tpid
	wait $tpid || fail "$mode: gears trace: $(cat "$TMP/t.err")"
	! grep -q "lost" "$TMP/t.err" || fail "$mode: $(cat "$TMP/t.err")"
	guest cat /tmp/s.$mode | grep -E '^[0-9]+ ' >"$TMP/s.txt" || fail "$mode: no strace output"
	to_lines "$TMP/t.json" >"$TMP/ours.txt"
	res=$(awk -f "$HERE/strace_cmp.awk" "$TMP/s.txt" "$TMP/ours.txt") ||
		fail "$mode: trace differs from strace: $res"
	ok "trace, $mode mode, equals strace -f: $res"
done

# --- an env rule, live
"$GEARS" env "$VM" add 'envdump:GEARS_SMOKE=on' >/dev/null || fail "env add"
[ "$(guest envdump GEARS_SMOKE)" = "GEARS_SMOKE=on" ] || fail "env rule: $(guest envdump GEARS_SMOKE)"
[ "$(guest envdump-dyn GEARS_SMOKE)" = "GEARS_SMOKE" ] || fail "env rule reached another program"
ok "env rule reaches its program at execve, not another"

# --- user injection into a sleeping and a busy process
sleeper=$(guest sh -c 'sleep 100000 >/dev/null 2>&1 & echo $!')
spinner=$(guest sh -c 'spin >/dev/null 2>&1 & echo $!')
[ -n "$sleeper" ] && [ -n "$spinner" ] || fail "cannot start the injection targets"
sleep 1
for target in "$sleeper sleeping" "$spinner busy"; do
	set -- $target
	"$GEARS" inject "$VM" --pid "$1" --json "$PAYLOAD" /tmp/hello.$1 >"$TMP/inj.json" 2>"$TMP/err" ||
		fail "inject into the $2 process: $(cat "$TMP/err")"
	[ "$(guest cat /tmp/hello.$1)" = "hello from PID $1" ] || fail "$2: payload wrote '$(guest cat /tmp/hello.$1)'"
	guest test -d /proc/$1 || fail "the $2 process died"
done
[ "$(guest sed -n 's/^State:\t\(.\).*/\1/p' /proc/$sleeper/status)" = S ] || fail "the sleeper does not sleep"
ok "user injection into a sleeping and a busy process; both go on"

# --- a module built against this kernel's headers, loaded from the host
"$GEARS" inject "$VM" --kernel-module "$MODULE" who=smoke >/dev/null 2>"$TMP/err" ||
	fail "module load: $(cat "$TMP/err")"
guest grep -q '^gears_hello ' /proc/modules || fail "module not in /proc/modules"
guest dmesg | grep -q "gears_hello: loaded (param=smoke)" || fail "no dmesg line from the module"
ok "kernel module (built for $rel) loaded from the host"

# --- the hypercall round trip: answered by the stub, never seen by the kernel
out=$(guest sh -c 'strace -f -o /tmp/hc hcall ping; r=$?; grep -c syscall_0x4745 /tmp/hc; exit $r') ||
	fail "hypercall: '$out'"
[ "$out" = "pong
0" ] || fail "hypercall (answer, then calls the kernel saw): '$out'"
ok "hypercall answered by the host, unseen by the guest kernel"
vm_stop
