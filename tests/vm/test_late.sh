#!/bin/sh
# A host that answers after the guest stopped waiting changes nothing: the call
# went on as it was, in its registers and in its memory (the guest's own view,
# guest/progs/lateprobe.c), and the late answer is counted and shown by
# `gears env NAME list` and `gears trace`.
. "$(dirname "$0")/lib.sh"

# The probe's execve is answered 4.5 s late: past the guest's bound for a
# claimed request (3 s with the default 200 ms timeout).
export GEARS_FAULT_SLOW_ANSWER=lateprobe:59:entry:4500
vm_start --smp 2
unset GEARS_FAULT_SLOW_ANSWER
"$GEARS" env "$VM" add 'lateprobe-target:GEARS_LATE=1' || fail "cannot add the env rule"
"$GEARS" trace --mode filter -e execve -o /dev/null "$VM" 2>"$TMP/trace.err" &
tpid=$!
i=0
until grep -q attached "$TMP/trace.err"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "trace did not attach: $(cat "$TMP/trace.err")"
	sleep 0.1
done

# execve of a path that does not exist, under a rule that matches it, then a
# 4 s nanosleep: the late answer comes while the probe sleeps, when its
# pt_regs and its stack would show any write.
out=$(guest lateprobe /no/such/lateprobe-target 4)
[ "$out" = "execve -2 rdx ok stack ok" ] || fail "the late answer changed the call that went on: $out"
ok "late answer: the call went on unchanged (registers and stack as they were)"

"$GEARS" env --json "$VM" list >"$TMP/env.json" || fail "env list"
[ "$(jq .stats.late "$TMP/env.json")" = 1 ] || fail "late answer not counted: $(cat "$TMP/env.json")"
"$GEARS" env "$VM" list | grep -q ' late 1' || fail "env list does not show it: $("$GEARS" env "$VM" list)"
kill -INT $tpid
wait $tpid
grep -q "1 of them answered too late" "$TMP/trace.err" || fail "trace does not report it: $(cat "$TMP/trace.err")"
ok "late answer counted: gears env list and gears trace show it"

# Nothing stuck: the same rule now rewrites an execve that is answered in time.
out=$(guest sh -c 'cp /gears/bin/envdump /tmp/lateprobe-target && /tmp/lateprobe-target GEARS_LATE')
[ "$out" = "GEARS_LATE=1" ] || fail "env rule after the late answer: '$out'"
ok "the next execve is rewritten as usual"
vm_stop
