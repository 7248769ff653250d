#!/bin/sh
# Overlay accelerator benchmark: the same two VMs (1 vCPU, 256 MiB each), the
# same bridge and the same NICs, in alternated rounds (R rounds; odd rounds in
# one order, even rounds in the other) so that the host's load drifts evenly:
#
#   accel     both NICs taken over by the accelerator's module (gears vnet accel on)
#   vnet      the same NICs on their virtio path (module unloaded: plain VNET)
#   stream    QEMU's direct unix `stream` netdev between the two VMs (a second NIC)
#
# Per path and round: iperf3 TCP throughput VM1 -> VM2 (T seconds), ping RTT
# (N pings at 0.2 s), and the CPU time that moving the traffic cost the host:
# both VMs' QEMU processes and the bridge, from /proc/PID/stat, during the
# iperf3 run, per Gbit/s. Then the idle cost: both QEMUs' CPU over I seconds
# of idle guests with the accelerator on and off. A failed round is an error.
# Prints medians with min-max spread, the issue's ratios with MET/MISSED, and
# one JSON line (BENCH_JSON=1).
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
R=${ACCEL_BENCH_ROUNDS:-3}
T=${ACCEL_BENCH_SECONDS:-5}
N=${ACCEL_BENCH_PINGS:-20}
I=${ACCEL_BENCH_IDLE:-10}
P=ab$$
BR=${P}br
VM1=${P}-1 VM2=${P}-2
TMP=$(mktemp -d /tmp/gears-bench.XXXXXX)
PATHS="accel vnet stream"
HZ=$(getconf CLK_TCK)

die() { echo "ERROR: bench_vnet_accel: $*" >&2; exit 1; }
for c in iperf3 jq; do command -v $c >/dev/null || die "needs $c"; done
cleanup() {
	for v in $VM1 $VM2; do "$GEARS" stop "$v" >/dev/null 2>&1 & done
	wait 2>/dev/null
	"$GEARS" vnet stop $BR >/dev/null 2>&1
	rm -rf "$("$GEARS" list --runtime-dir)/.vnet/$BR" "$TMP"
}
trap cleanup EXIT INT TERM
g() { "$GEARS" exec "$@"; }
. "$(dirname "$0")/vnet_bench.lib"

"$GEARS" vnet start $BR >/dev/null || die "bridge"
boot() {	# NAME N STREAMOPTS
	"$GEARS" run --name "$1" --smp 1 --mem 256M --append "console=ttyS0 quiet panic=-1 no_timer_check" \
		--net "$BR,mac=02:47:00:0a:00:0$2,ip=198.19.1.$2/24,accel=off" \
		--qemu-arg=-netdev --qemu-arg="stream,id=bs,$3,addr.type=unix,addr.path=$TMP/stream.sock" \
		--qemu-arg=-device --qemu-arg=virtio-net-pci,netdev=bs,mac=02:47:00:0b:00:0$2 \
		-- sleep 1000000 >"$TMP/$1.log" 2>&1 &
}
boot_pair $VM1 $VM2
for i in 1 2; do
	v=$VM1; [ $i = 2 ] && v=$VM2
	g $v -- sh -c "for d in /sys/class/net/*; do read -r a < \$d/address; n=\${d##*/}; case \$a in
		02:47:00:0b:*) ip addr add 198.19.2.$i/24 dev \$n; ip link set \$n up;;
		esac; done" || die "guest addresses"
done
g $VM2 -- iperf3 -s -D >/dev/null || die "iperf3 server"
for s in 1 2; do g $VM1 -- ping -c 2 -W 5 198.19.$s.2 >/dev/null || die "no connectivity on 198.19.$s before measuring"; done

# CPU ticks of both QEMUs (the supervisors' children) and of the bridge
qemu_pids() { for v in $VM1 $VM2; do sp=$("$GEARS" list --json | jq -r ".[] | select(.name == \"$v\") | .pid"); ps -o pid= --ppid "$sp"; done; }
QPIDS=$(qemu_pids)
BPID=$("$GEARS" vnet list --json | jq -r ".[] | select(.name == \"$BR\") | .pid")
[ -n "$QPIDS" ] && [ -n "$BPID" ] && [ "$BPID" != null ] || die "no QEMU or bridge pid"
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s }'; }
state=""
accel() {	# on|off for both VMs
	[ "$state" = "$1" ] && return
	for v in $VM1 $VM2; do "$GEARS" vnet accel $BR $v "$1" >/dev/null || die "accel $1 on $v"; done
	state=$1
}
subnet() { case $1 in stream) echo 2;; *) echo 1;; esac; }
measure() {	# PATH ROUND
	case $1 in accel) accel on;; vnet) accel off;; esac
	s=$(subnet $1)
	q0=$(ticks $QPIDS) b0=$(ticks $BPID)
	out=$(g $VM1 -- iperf3 -c 198.19.$s.2 -t $T -J) || die "round $2, $1: iperf3 failed: $(echo "$out" | tail -2)"
	q1=$(ticks $QPIDS) b1=$(ticks $BPID)
	bps=$(echo "$out" | jq '.end.sum_received.bits_per_second')
	[ "$(echo "$bps" | awk '{print ($1 > 0)}')" = 1 ] || die "round $2, $1: no throughput"
	pout=$(g $VM1 -- ping -c $N -i 0.2 -W 2 198.19.$s.2) || die "round $2, $1: ping failed"
	echo "$pout" | grep -q " 0% packet loss" || die "round $2, $1: lost pings: $(echo "$pout" | tail -2)"
	rtt=$(echo "$pout" | sed -n 's#.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*#\1#p')
	# host cores busy for this traffic, per Gbit/s received
	echo "$1 $2 $bps $rtt $q0 $q1 $b0 $b1" | awk -v T=$T -v hz=$HZ '{
		cores = (($6 - $5) + ($8 - $7)) / hz / T;
		printf "%s %s %.0f %s %.3f %.3f\n", $1, $2, $3, $4, cores, cores / ($3 / 1e9) }' >>"$TMP/results"
}
load0=$(cut -d' ' -f1 /proc/loadavg)
rounds
# idle: both guests doing nothing, accelerator on, then off, then on again
idle() {
	accel "$1"
	sleep 2
	q0=$(ticks $QPIDS)
	sleep $I
	echo "$1 $q0 $(ticks $QPIDS)" | awk -v I=$I -v hz=$HZ '{ printf "%s %.4f\n", $1, ($3 - $2) / hz / I / 2 }' >>"$TMP/idle"
}
idle on; idle off; idle on
load1=$(cut -d' ' -f1 /proc/loadavg)

echo "overlay accelerator benchmark: $R alternated rounds, iperf3 $T s, $N pings at 0.2 s; load average $load0 -> $load1"
printf "%-8s %22s %22s %22s\n" PATH "Mbit/s med (min-max)" "RTT ms med (min-max)" "host cores/Gbit/s"
for p in $PATHS; do
	set -- $(stats $p 3) $(stats $p 4) $(stats $p 6)
	printf "%-8s %8.0f (%5.0f-%5.0f) %8.3f (%5.3f-%5.3f) %8.2f (%4.2f-%4.2f)\n" $p \
		"$(echo $1 | awk '{print $1/1e6}')" "$(echo $2 | awk '{print $1/1e6}')" "$(echo $3 | awk '{print $1/1e6}')" \
		$4 $5 $6 $7 $8 $9
	eval "tp_$p=$1 rtt_$p=$4 cpg_$p=$7"
done
idle_on=$(awk '$1 == "on" { s += $2; n++ } END { printf "%.4f", s / n }' "$TMP/idle")
idle_off=$(awk '$1 == "off" { print $2 }' "$TMP/idle")
x1=$(ratio $tp_accel $tp_vnet); x2=$(ratio $rtt_accel $rtt_vnet); x3=$(ratio $cpg_accel $cpg_vnet)
x4=$(ratio $tp_accel $tp_stream); x5=$(ratio $rtt_accel $rtt_stream)
xi=$(echo "$idle_on $idle_off" | awk '{ printf "%.4f", $1 - $2 }')
echo "ratios (medians of the same rounds):"
echo "  accel/vnet TCP throughput       $x1  (target >= 2)    $(verdict $x1 '>=' 2)"
echo "  accel/vnet ping RTT             $x2  (target <= 0.8)  $(verdict $x2 '<=' 0.8)"
echo "  accel/vnet host CPU per Gbit/s  $x3  (target < 1)     $(verdict $x3 '<=' 0.99)"
echo "  accel/stream throughput $x4, RTT $x5  (reported)"
echo "  idle guest, QEMU cores each: accel on $idle_on, off $idle_off (difference $xi; target <= 0.01)  $(verdict $xi '<=' 0.01)"
if [ "${BENCH_JSON:-0}" = 1 ]; then
	jq -cn --argjson r "$R" --arg l0 "$load0" --arg l1 "$load1" --argjson a "$x1" --argjson b "$x2" \
		--argjson c "$x3" --argjson d "$x4" --argjson e "$x5" --argjson i "$xi" \
		'{bench:"vnet_accel", rounds:$r, load:[$l0,$l1], accel_vnet_tp:$a, accel_vnet_rtt:$b,
		  accel_vnet_cpu_per_gbit:$c, accel_stream_tp:$d, accel_stream_rtt:$e, idle_extra_cores:$i}'
fi
