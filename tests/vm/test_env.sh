#!/bin/sh
# Environment modification at execve: set, replace, prepend, remove, in static
# and dynamic programs; LD_PRELOAD placed by a rule changes an unmodified
# Debian program; rules changed on a running VM; the no-room fallback.
. "$(dirname "$0")/lib.sh"

# --- gears run --env, static (envdump) and dynamic (envdump-dyn) programs
out=$("$GEARS" run --env 'envdump*:FOO=new' --env 'envdump*:PATH+=/opt/gears/bin' \
	--env 'envdump*:-DROPME' --env 'envdump*:KEEP+=/already' -- \
	sh -c 'for p in envdump envdump-dyn; do
		env FOO=old DROPME=1 KEEP=/a:/already:/b PATH=/usr/bin:/bin /gears/bin/$p FOO PATH DROPME KEEP
		env FOO=old $p | grep -c ^FOO=
	done; env FOO=old DROPME=1 sh -c "echo \$FOO \$DROPME"' 2>"$TMP/err") ||
	fail "run --env: $(cat "$TMP/err")"
expect="FOO=new
PATH=/opt/gears/bin:/usr/bin:/bin
DROPME
KEEP=/a:/already:/b
1
FOO=new
PATH=/opt/gears/bin:/usr/bin:/bin
DROPME
KEEP=/a:/already:/b
1
old 1"
[ "$out" = "$expect" ] || fail "environment seen by static/dynamic programs:
$out
expected:
$expect"
ok "set, replace, prepend (once), remove: static and dynamic programs; others untouched"

# --- what /proc/PID/environ shows is the new environment, exactly
# (spin, not sleep: busybox runs its own applets without an execve)
out=$("$GEARS" run --env 'spin:ADDED=yes' --env 'spin:-TERM' -- \
	sh -c 'env -i A=1 TERM=x B=2 /gears/bin/spin 3 & sleep 1; tr "\0" "\n" < /proc/$!/environ')
[ "$out" = "A=1
B=2
ADDED=yes" ] || fail "/proc/PID/environ: '$out'"
ok "/proc/PID/environ is exactly the new environment"

# --- LD_PRELOAD placed by a rule changes an unmodified dynamic Debian program
out=$("$GEARS" run --env 'uname-coreutils:LD_PRELOAD+=/lib/gears/gears_uname_preload.so' -- \
	sh -c 'uname-coreutils -s; uname -s')
[ "$out" = "GEARS
Linux" ] || fail "LD_PRELOAD rule: '$out'"
ok "LD_PRELOAD by rule: coreutils uname says GEARS, busybox uname still Linux"

# --- rules on a running VM
vm_start
"$GEARS" env "$VM" add 'envdump:LIVE=1' || fail "env add"
"$GEARS" env "$VM" add 'uname-coreutils:LD_PRELOAD+=/lib/gears/gears_uname_preload.so' || fail "env add 2"
[ "$(guest envdump LIVE)" = "LIVE=1" ] || fail "live rule not applied"
[ "$(guest uname-coreutils -s)" = GEARS ] || fail "live LD_PRELOAD rule not applied"
"$GEARS" env "$VM" list >"$TMP/list" || fail "env list"
# Each matched execve got its environment either below the caller's stack
# (rewritten) or, when that page is not there yet, through an mmap (fallbacks):
# which one depends on the stack's layout, so both count.
"$GEARS" env --json "$VM" list >"$TMP/list.json" || fail "env list --json"
grep -q '^envdump:LIVE=1$' "$TMP/list" &&
	[ "$(jq '.stats.rewritten + .stats.fallbacks >= 2 and .stats.failed == 0' "$TMP/list.json")" = true ] ||
	fail "env list: $(cat "$TMP/list")"
"$GEARS" env "$VM" del 'envdump:LIVE=1' || fail "env del"
"$GEARS" env "$VM" del 'uname-coreutils:LD_PRELOAD+=/lib/gears/gears_uname_preload.so' || fail "env del 2"
[ "$(guest envdump LIVE)" = "LIVE" ] || fail "deleted rule still applied"
[ "$(guest uname-coreutils -s)" = Linux ] || fail "deleted LD_PRELOAD rule still applied"
ok "env add / list / del on a running VM"

# --- an envp gears cannot read, or will not (more strings than its bound):
# the execve goes on exactly as without gears, and the failure is counted
"$GEARS" env "$VM" add 'envdump:LIVE=1' || fail "env add"
failed() { "$GEARS" env --json "$VM" list | jq .stats.failed; }
f0=$(failed)
out=$(guest badenv /gears/bin/envdump LIVE) || fail "execve with an unreadable envp: '$out'"
[ "$out" = "execve: EFAULT" ] || fail "unreadable envp: '$out'"
f1=$(failed)
[ "$f1" = $((f0 + 1)) ] || fail "unreadable envp not counted: failed $f0 -> $f1"
out=$(guest sh -c 'i=0; while [ $i -lt 9000 ]; do export V$i=$i; i=$((i+1)); done
	/gears/bin/envdump LIVE V8999') || fail "execve with 9000 variables"
[ "$out" = "LIVE
V8999=8999" ] || fail "9000 variables: the environment was changed: '$out'"
f2=$(failed)
[ "$f2" = $((f1 + 1)) ] || fail "envp over the bound not counted: failed $f1 -> $f2"
"$GEARS" env "$VM" del 'envdump:LIVE=1' || fail "env del"
ok "unreadable envp and one over 8192 strings: call unchanged, counted as failed"

# --- no room below the stack: a 100 KB value goes through a fresh mapping
big=$(head -c 100000 /dev/zero | tr '\0' x)
"$GEARS" env "$VM" add "envdump:BIG=$big" || fail "env add big"
n=$(guest envdump BIG | wc -c)
[ "$n" = 100005 ] || fail "big value: $n bytes"
fb=$("$GEARS" env --json "$VM" list | jq .stats.fallbacks)
[ "$fb" -ge 1 ] || fail "no fallback counted ($fb)"
ok "no room on the stack: fallback mapping used ($fb), value intact"

# --- bad rules: clear errors
for r in 'nothing' '=x' 'a:-B=1' 'A B=1'; do
	"$GEARS" env "$VM" add "$r" 2>"$TMP/err" && fail "bad rule '$r' accepted"
	grep -q "rule" "$TMP/err" || fail "bad rule '$r': $(cat "$TMP/err")"
done
"$GEARS" run --env 'x' -- true 2>"$TMP/err" && fail "run --env x accepted"
[ "$(guest echo alive)" = alive ] || fail "guest unwell"
ok "bad rules refused with a clear error"
