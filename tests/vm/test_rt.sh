#!/bin/sh
# The PREEMPT_RT kernel, where the return hook runs preemptible: two busy
# processes per vCPU, filter mode with every return answered by the host
# (getpid rewritten for one program, untouched for the other): each process
# checks every result it got, so an answer applied to the wrong task, or lost,
# shows; every call is seen exactly once. Then ring mode: every call recorded
# once. One boot for all of it.
. "$(dirname "$0")/lib.sh"

RT=$(pwd)/build/image-linux-image-rt-amd64
if [ ! -f "$RT/initrd.img" ]; then
	[ -f "$RT/unavailable" ] && skip "no PREEMPT_RT image: $(cat "$RT/unavailable")"
	fail "no PREEMPT_RT image in $RT (make initrd KERNEL=linux-image-rt-amd64)"
fi
N=4000
# A supervisor starved of CPU on a loaded machine must not make calls go on
# unanswered (that would be a loss too): the guest waits up to 3 s for it.
export GEARS_IMAGE_DIR="$RT" GEARS_SYNC_TIMEOUT_MS=3000
vm_start --smp 2
unset GEARS_IMAGE_DIR GEARS_SYNC_TIMEOUT_MS
guest uname -v | grep -q PREEMPT_RT || fail "not the PREEMPT_RT kernel: $(guest uname -v)"
guest cp /gears/bin/sysloop /tmp/other || fail "cannot copy sysloop"

# trace_start OUT ARGS...: attach a tracer, wait until it is in place
trace_start() {
	out=$1; shift
	"$GEARS" trace "$@" --json -o "$out" "$VM" 2>"$out.err" &
	tpid=$!
	i=0
	until grep -q attached "$out.err"; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "trace did not attach: $(cat "$out.err")"
		sleep 0.1
	done
}
trace_stop() {
	kill -INT $tpid
	wait $tpid
}
# workload EXPECT_SYSLOOP EXPECT_OTHER: two of each program per vCPU, pinned
workload() {
	guest sh -c "for c in 0 1; do
		(sysloop getpid $N --cpu \$c --expect $1 >/tmp/s\$c || echo \"sysloop on cpu\$c: \$(cat /tmp/s\$c)\") &
		(/tmp/other getpid $N --cpu \$c --expect $2 >/tmp/o\$c || echo \"other on cpu\$c: \$(cat /tmp/o\$c)\") &
	done; wait"
}
# counts FILE COMM: the number of records of each COMM thread, one line
counts() {
	jq -r "select(.comm == \"$2\") | .tid" "$1" | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' '
}

trace_start "$TMP/filter.json" --mode filter --comm sysloop -f -e getpid -e inject=getpid:ret=4242
bad=$(workload 4242 self)
trace_stop
[ -z "$bad" ] || fail "filter: answers reached the wrong calls: $bad ($(cat "$TMP/filter.json.err"))"
! grep -q "lost\|late" "$TMP/filter.json.err" || fail "filter: $(cat "$TMP/filter.json.err")"
[ "$(counts "$TMP/filter.json" sysloop)" = "$N " ] ||
	fail "filter: getpid records per sysloop thread: $(counts "$TMP/filter.json" sysloop)"
[ "$(jq -r 'select(.comm == "sysloop") | .tid' "$TMP/filter.json" | sort -u | wc -l)" = 2 ] ||
	fail "filter: not two sysloop threads"
ok "filter: 4 busy processes on 2 vCPUs, every answer reached its own call, ${N} calls each seen once"

trace_start "$TMP/ring.json" --mode ring --ring-wait 2000 -e getpid
bad=$(workload self self)
trace_stop
[ -z "$bad" ] || fail "ring: $bad"
! grep -q "lost" "$TMP/ring.json.err" || fail "ring: $(cat "$TMP/ring.json.err")"
for comm in sysloop other; do
	[ "$(counts "$TMP/ring.json" $comm)" = "$N " ] ||
		fail "ring: getpid records per $comm thread: $(counts "$TMP/ring.json" $comm)"
done
ok "ring: 4 busy processes on 2 vCPUs, ${N} calls each recorded once"
vm_stop
