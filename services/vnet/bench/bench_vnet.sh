#!/bin/sh
# VNET benchmark: the same two VMs (1 vCPU, 256 MiB each), each with one NIC
# per path, measured in alternated rounds (R rounds; odd rounds in one order,
# even rounds in the other) so that the host's load drifts evenly over them:
#
#   vnet      both NICs on one GEARS bridge (vhost-user)
#   stream    QEMU's direct unix `stream` netdev between the two VMs
#   tapbr     a tap per VM on a Linux kernel bridge
#   vnetx     GEARS bridges in two namespaces ("hosts") joined by a VXLAN link
#   linuxvx   Linux's own overlay: tap + kernel bridge + vxlan device per namespace
#             (its UDP port is 4790: a vxlan device binds its port on every address)
#
# Per path: iperf3 TCP throughput VM1 -> VM2 (T seconds), ping RTT (N pings),
# the host's CPU use during the iperf3 run (all cores, from /proc/stat), and
# for the GEARS paths the bridge's own CPU time. A failed round (iperf3 error,
# lost pings) is an error. Prints medians with min-max spread, the issue's
# ratios with MET/MISSED, and one JSON line (BENCH_JSON=1) for records.
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
R=${VNET_BENCH_ROUNDS:-3}
T=${VNET_BENCH_SECONDS:-5}
N=${VNET_BENCH_PINGS:-20}
P=vb$$
NSX=${P}x NSY=${P}y NSL=${P}l
BL=${P}L BX=${P}X BY=${P}Y
VM1=${P}-1 VM2=${P}-2
TMP=$(mktemp -d /tmp/gears-bench.XXXXXX)
PATHS="vnet stream tapbr vnetx linuxvx"

die() { echo "ERROR: bench_vnet: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench_vnet: needs root (namespaces, taps); skipped"; exit 0; }
for c in ip iperf3 jq; do command -v $c >/dev/null || die "needs $c"; done

cleanup() {
	for v in $VM1 $VM2; do "$GEARS" stop "$v" >/dev/null 2>&1 & done
	wait 2>/dev/null
	for b in $BL $BX $BY; do "$GEARS" vnet stop "$b" >/dev/null 2>&1; done
	for n in $NSX $NSY $NSL; do
		for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	for t in ${P}l1 ${P}l2 ${P}v1 ${P}v2; do ip link del "$t" 2>/dev/null; done
	for b in $BL $BX $BY; do rm -rf "$("$GEARS" list --runtime-dir)/.vnet/$b"; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }
g() { "$GEARS" exec "$@"; }
. "$(dirname "$0")/vnet_bench.lib"

# ---- namespaces: X and Y are the two hosts (veth underlay), L holds the tap bridge
for n in $NSX $NSY $NSL; do ip netns add "$n" || die "netns"; nsx "$n" ip link set lo up; done
ip link add ${P}ux netns $NSX type veth peer name ${P}uy netns $NSY || die veth
nsx $NSX ip addr add 198.18.0.1/24 dev ${P}ux && nsx $NSX ip link set ${P}ux up
nsx $NSY ip addr add 198.18.0.2/24 dev ${P}uy && nsx $NSY ip link set ${P}uy up
nsx $NSL ip link add br0 type bridge && nsx $NSL ip link set br0 up || die "bridge in $NSL"
for i in 1 2; do
	ns=$NSX; [ $i = 2 ] && ns=$NSY
	peer=198.18.0.2; [ $i = 2 ] && peer=198.18.0.1
	nsx $ns ip link add vx0 type vxlan id 5 remote $peer local 198.18.0.$i dstport 4790 dev ${P}u$( [ $i = 1 ] && echo x || echo y) &&
		nsx $ns ip link add br0 type bridge && nsx $ns ip link set vx0 master br0 &&
		nsx $ns ip link set vx0 up && nsx $ns ip link set br0 up || die "Linux vxlan in $ns"
	ip tuntap add ${P}l$i mode tap && ip tuntap add ${P}v$i mode tap || die "tap"
done

# ---- GEARS bridges: one local, one per "host" with a link between them
"$GEARS" vnet start $BL >/dev/null || die "bridge $BL"
nsx $NSX "$GEARS" vnet start $BX --listen 198.18.0.1:4789 >/dev/null || die "bridge $BX"
nsx $NSY "$GEARS" vnet start $BY --listen 198.18.0.2:4789 >/dev/null || die "bridge $BY"
"$GEARS" vnet link $BX add y 198.18.0.2:4789 >/dev/null && "$GEARS" vnet link $BY add x 198.18.0.1:4789 >/dev/null ||
	die "links"

# ---- the VMs: VM1 first (it is the stream netdev's server: 7.2 has no reconnect)
boot() {	# NAME N STREAMOPTS
	n=$2
	"$GEARS" run --name "$1" --smp 1 --mem 256M --append "console=ttyS0 quiet panic=-1 no_timer_check" \
		--net "$BL,mac=02:47:00:01:00:0$n,ip=198.19.1.$n/24" \
		--net "$( [ $n = 1 ] && echo $BX || echo $BY),mac=02:47:00:04:00:0$n,ip=198.19.4.$n/24" \
		--qemu-arg=-netdev --qemu-arg="stream,id=bs,$3,addr.type=unix,addr.path=$TMP/stream.sock" \
		--qemu-arg=-device --qemu-arg=virtio-net-pci,netdev=bs,mac=02:47:00:02:00:0$n \
		--qemu-arg=-netdev --qemu-arg=tap,id=bt,ifname=${P}l$n,script=no,downscript=no \
		--qemu-arg=-device --qemu-arg=virtio-net-pci,netdev=bt,mac=02:47:00:03:00:0$n \
		--qemu-arg=-netdev --qemu-arg=tap,id=bv,ifname=${P}v$n,script=no,downscript=no \
		--qemu-arg=-device --qemu-arg=virtio-net-pci,netdev=bv,mac=02:47:00:05:00:0$n \
		-- sleep 1000000 >"$TMP/$1.log" 2>&1 &
}
boot_pair $VM1 $VM2
# Taps: now that QEMU holds them, into their namespaces (the fds stay attached).
for i in 1 2; do
	ip link set ${P}l$i netns $NSL && nsx $NSL ip link set ${P}l$i master br0 && nsx $NSL ip link set ${P}l$i up ||
		die "tap l$i"
	ns=$NSX; [ $i = 2 ] && ns=$NSY
	ip link set ${P}v$i netns $ns && nsx $ns ip link set ${P}v$i master br0 && nsx $ns ip link set ${P}v$i up ||
		die "tap v$i"
done
# Guest addresses of the plain NICs, found by MAC; VXLAN's guest MTU is 1450.
for i in 1 2; do
	v=$VM1; [ $i = 2 ] && v=$VM2
	g $v -- sh -c "for d in /sys/class/net/*; do read -r a < \$d/address; n=\${d##*/}; case \$a in
		02:47:00:02:*) ip addr add 198.19.2.$i/24 dev \$n; ip link set \$n up;;
		02:47:00:03:*) ip addr add 198.19.3.$i/24 dev \$n; ip link set \$n up;;
		02:47:00:05:*) ip link set \$n mtu 1450 up; ip addr add 198.19.5.$i/24 dev \$n;;
		esac; done" || die "guest addresses"
done
g $VM2 -- iperf3 -s -D >/dev/null || die "iperf3 server"
for s in 1 2 3 4 5; do
	g $VM1 -- ping -c 2 -W 5 198.19.$s.2 >/dev/null || die "no connectivity on path $s before measuring"
done

subnet() { case $1 in vnet) echo 1;; stream) echo 2;; tapbr) echo 3;; vnetx) echo 4;; linuxvx) echo 5;; esac; }
busy() { awk '/^cpu /{ print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat; }
brcpu() {	# bridge CPU seconds for the GEARS paths
	case $1 in
	vnet) "$GEARS" vnet stats --json $BL | jq '.cpu.user_s + .cpu.sys_s';;
	vnetx) echo "$("$GEARS" vnet stats --json $BX | jq '.cpu.user_s + .cpu.sys_s') $("$GEARS" vnet stats --json $BY | jq '.cpu.user_s + .cpu.sys_s')" | awk '{print $1+$2}';;
	*) echo 0;;
	esac
}
measure() {	# PATH ROUND
	s=$(subnet $1)
	set -- $1 $2 $(busy) $(brcpu $1)
	out=$(g $VM1 -- iperf3 -c 198.19.$s.2 -t $T -J) || die "round $2, $1: iperf3 failed: $(echo "$out" | tail -2)"
	set -- "$@" $(busy) $(brcpu $1)
	bps=$(echo "$out" | jq '.end.sum_received.bits_per_second')
	[ "$(echo "$bps" | awk '{print ($1 > 0)}')" = 1 ] || die "round $2, $1: no throughput"
	pout=$(g $VM1 -- ping -c $N -i 0.2 -W 2 198.19.$s.2) || die "round $2, $1: ping failed"
	echo "$pout" | grep -q " 0% packet loss" || die "round $2, $1: lost pings: $(echo "$pout" | tail -2)"
	rtt=$(echo "$pout" | sed -n 's#.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*#\1#p')
	echo "$1 $2 $bps $rtt $3 $4 $6 $7 $5 $8" | awk -v T=$T '{
		host = ($7 - $5) / ($8 - $6);		# busy fraction of all cores
		br = ($10 - $9) / T;			# bridge cores used
		printf "%s %s %.0f %s %.3f %.3f\n", $1, $2, $3, $4, host, br }' >>"$TMP/results"
}
ncpu=$(nproc)
load0=$(cut -d' ' -f1 /proc/loadavg)
rounds
load1=$(cut -d' ' -f1 /proc/loadavg)

# ---- report
echo "VNET benchmark: $R alternated rounds, iperf3 $T s, $N pings at 0.2 s; $ncpu host cores; load average $load0 -> $load1"
printf "%-8s %22s %22s %12s %14s\n" PATH "Mbit/s med (min-max)" "RTT ms med (min-max)" "host CPU" "bridge cores"
for p in $PATHS; do
	set -- $(stats $p 3) $(stats $p 4) $(stats $p 5) $(stats $p 6)
	printf "%-8s %8.0f (%5.0f-%5.0f) %8.3f (%5.3f-%5.3f) %11.0f%% %14.2f\n" $p \
		"$(echo $1 | awk '{print $1/1e6}')" "$(echo $2 | awk '{print $1/1e6}')" "$(echo $3 | awk '{print $1/1e6}')" \
		$4 $5 $6 "$(echo $7 | awk -v n=$ncpu '{print $1*100*n}')" ${10}
	eval "tp_$p=$1 rtt_$p=$4 br_$p=${10}"
done
x1=$(ratio $tp_vnet $tp_stream); x2=$(ratio $rtt_vnet $rtt_stream); x3=$(ratio $tp_vnet $tp_tapbr)
x4=$(ratio $rtt_vnet $rtt_tapbr); x5=$(ratio $tp_vnetx $tp_linuxvx); x6=$(ratio $rtt_vnetx $rtt_linuxvx)
cpg=$(echo "$br_vnet $tp_vnet" | awk '{ printf "%.2f", $1 / ($2 / 1e9) }')
cpgx=$(echo "$br_vnetx $tp_vnetx" | awk '{ printf "%.2f", $1 / ($2 / 1e9) }')
echo "ratios (medians of the same rounds):"
echo "  same host, vnet/stream throughput  $x1  (target >= 0.9)  $(verdict $x1 '>=' 0.9)"
echo "  same host, vnet/stream RTT         $x2  (target <= 1.1)  $(verdict $x2 '<=' 1.1)"
echo "  same host, vnet/tap+bridge throughput $x3, RTT $x4  (reported)"
echo "  across hosts, vnetx/linux vxlan throughput  $x5  (target >= 0.9)  $(verdict $x5 '>=' 0.9)"
echo "  across hosts, vnetx/linux vxlan RTT $x6  (reported)"
echo "  bridge CPU per Gbit/s: $cpg cores (one bridge), $cpgx cores (both bridges of the link)"
if [ "${BENCH_JSON:-0}" = 1 ]; then
	jq -cn --argjson r "$R" --arg l0 "$load0" --arg l1 "$load1" \
		--argjson a "$x1" --argjson b "$x2" --argjson c "$x3" --argjson d "$x4" --argjson e "$x5" --argjson f "$x6" \
		'{bench:"vnet", rounds:$r, load:[$l0,$l1], vnet_stream_tp:$a, vnet_stream_rtt:$b, vnet_tapbr_tp:$c,
		  vnet_tapbr_rtt:$d, vnetx_linuxvx_tp:$e, vnetx_linuxvx_rtt:$f}'
fi
