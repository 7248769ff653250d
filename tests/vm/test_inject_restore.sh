#!/bin/sh
# Injection never leaves its target hijacked: a payload whose "done" is
# answered too late asks again and the process is restored; an injection that
# times out while its payload runs still restores the process when the payload
# ends (the gears inject command has long returned). The oracle is the guest's
# own view: the process is alive, back in its sleep, with the same mappings.
. "$(dirname "$0")/lib.sh"

PAYLOADS=$(dirname "$GEARS")/../guest/payloads
[ -x "$PAYLOADS/hello" ] || PAYLOADS=$(pwd)/build/guest/payloads
[ -f "$PAYLOADS/slow" ] || fail "build the payloads first (make payloads)"

# The first hypercall of a thread named sleep (the payload's GEARS_HC_PAYLOAD_DONE,
# 0x4745) is answered 4.5 s late: past the guest's 3 s bound for a claimed request.
export GEARS_FAULT_SLOW_ANSWER=sleep:18245:entry:4500
vm_start --smp 2
unset GEARS_FAULT_SLOW_ANSWER

state() { guest sh -c "sed -n 's/^State:\t\(.\).*/\1/p' /proc/$1/status"; }
# restored PID: the process is back as it was (same mappings, asleep), within 30 s
restored() {
	i=0
	while ! { [ "$(state "$1")" = S ] && guest cat /proc/$1/maps | cmp -s - "$TMP/maps.$1"; }; do
		i=$((i + 1))
		[ $i -lt 60 ] || fail "process $1 not restored: state $(state "$1"), mappings:
$(guest cat /proc/$1/maps | diff "$TMP/maps.$1" -)"
		sleep 0.5
	done
}

a=$(guest sh -c 'sleep 100000 >/dev/null 2>&1 & echo $!')
b=$(guest sh -c 'sleep 100000 >/dev/null 2>&1 & echo $!')
[ -n "$a" ] && [ -n "$b" ] || fail "cannot start targets"
sleep 1
guest cat /proc/$a/maps >"$TMP/maps.$a" && guest cat /proc/$b/maps >"$TMP/maps.$b" || fail "maps"

# --- the payload's "done" is answered late: the payload asks again
"$GEARS" inject "$VM" --pid "$a" --json "$PAYLOADS/hello" /tmp/late.$a >"$TMP/res.json" 2>"$TMP/err" ||
	fail "injection whose done was answered late: $(cat "$TMP/err")"
[ "$(jq .result "$TMP/res.json")" = 0 ] || fail "payload result: $(cat "$TMP/res.json")"
[ "$(guest cat /tmp/late.$a)" = "hello from PID $a" ] || fail "payload ran $(guest cat /tmp/late.$a | wc -l) times"
restored "$a"
ok "a late answer to the payload's done: it asked again, ran once, process restored"

# --- the injection times out while its payload runs (15 s of sleep, 5 s allowed:
# ample for the target to be taken, a wake-up costs well under a second)
"$GEARS" inject "$VM" --pid "$b" --timeout 5000 "$PAYLOADS/slow" 15000 /tmp/slow.$b 2>"$TMP/err" &&
	fail "a 15 s payload did not time out in 5 s"
grep -q "restored as soon as it next runs" "$TMP/err" || fail "timeout message: $(cat "$TMP/err")"
i=0
until [ "$(guest cat /tmp/slow.$b 2>/dev/null)" = "slow done in PID $b" ]; do
	i=$((i + 1)); [ $i -lt 80 ] || fail "the timed-out payload never finished"
	sleep 0.5
done
restored "$b"
ok "timed out while the payload ran: it finished, then the process was restored"

# --- and the target can be injected again
"$GEARS" inject "$VM" --pid "$b" "$PAYLOADS/hello" /tmp/again.$b >/dev/null 2>"$TMP/err" ||
	fail "injection after the timed-out one: $(cat "$TMP/err")"
restored "$b"
ok "the same process takes the next injection"
vm_stop
