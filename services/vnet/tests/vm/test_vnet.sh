#!/bin/sh
# VNET end to end, on one set of booted VMs (boots are the expensive part):
#   "host A" and "host B" are network namespaces on an underlay (a kernel bridge
#   in a third namespace); each runs a GEARS bridge with a VXLAN link to the
#   other. VM1 and VM2 sit on bridge A (VM2 also has a NIC in overlay 2), VM3 on
#   bridge B. Namespace C runs Linux's own VXLAN device on a kernel bridge,
#   linked to bridge A. Checks, each against the guests' own tools and
#   counters (ping, iperf3, /sys/class/net) and the bridges' statistics:
#   ping and TCP both ways on one bridge and across the link; ping and TCP with
#   Linux's vxlan; VNI isolation and broadcast reaching exactly its overlay;
#   a route change redirecting traffic; hostile datagrams counted; a peer
#   killed mid-transfer leaving local traffic flowing; the bridge restarted
#   with its VMs reattaching; a crashed VM freeing its port.
. "$(dirname "$0")/../../../../tests/vm/lib.sh"

command -v ip >/dev/null && command -v ethtool >/dev/null && command -v iperf3 >/dev/null ||
	fail "needs ip, ethtool, iperf3 on the host (scripts/install-deps.sh)"
[ "$(id -u)" = 0 ] || { echo "skip $TEST_NAME: needs root (network namespaces)"; exit 0; }

P=vn$$
NSA=${P}a NSB=${P}b NSC=${P}c NSH=${P}h NSU=${P}u
BA=${P}A BB=${P}B
VM1=${P}-1 VM2=${P}-2 VM3=${P}-3
MAC1=02:47:00:00:01:01 MAC2=02:47:00:00:01:02 MAC2B=02:47:00:00:02:02 MAC3=02:47:00:00:01:03
PIDS=""

vnet_cleanup() {
	for v in $VM1 $VM2 $VM3; do "$GEARS" stop "$v" >/dev/null 2>&1 & done
	wait 2>/dev/null
	for b in $BA $BB; do "$GEARS" vnet stop "$b" >/dev/null 2>&1; done
	for n in $NSA $NSB $NSC $NSH $NSU; do
		for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	# A bridge killed outright leaves its directory; remove ours.
	rm -rf "$("$GEARS" list --runtime-dir)/.vnet/$BA" "$("$GEARS" list --runtime-dir)/.vnet/$BB"
	cleanup
}
trap vnet_cleanup EXIT
trap 'echo "FAIL: $TEST_NAME: stopped by a signal (timeout?)" >&2; exit 1' INT TERM

nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }
g() { "$GEARS" exec "$@"; }
# rx VM IF: the guest's own received-packet counter of an interface
rx() { g "$1" -- cat "/sys/class/net/$2/statistics/rx_packets"; }
# stat BRIDGE JQ: a number from `gears vnet stats --json`
stat() { "$GEARS" vnet stats --json "$1" | jq -r "$2"; }
ifname() { g "$1" -- sh -c "for d in /sys/class/net/*; do read -r a < \$d/address; [ \"\$a\" = $2 ] && echo \${d##*/}; done"; }

# ---- underlay: U holds a kernel bridge; A, B, C, H hang off it by veth
ip netns add $NSU || fail "ip netns add"
nsx $NSU ip link add ul type bridge && nsx $NSU ip link set ul up || fail "underlay bridge"
i=1
for n in $NSA $NSB $NSC $NSH; do
	ip netns add "$n" || fail "ip netns add $n"
	ip link add "${n}x" netns "$n" type veth peer name "${n}y" netns $NSU || fail "veth $n"
	nsx $NSU ip link set "${n}y" master ul up
	nsx "$n" ip link set lo up
	nsx "$n" ip addr add "198.18.0.$i/24" dev "${n}x"
	nsx "$n" ip link set "${n}x" up
	i=$((i + 1))
done
# Frames leaving C must carry real checksums, as on a wire: a veth passes
# the kernel's partial ones on, which only another kernel would accept.
nsx $NSC ethtool -K "${NSC}x" tx off >/dev/null || fail "ethtool"

# ---- Linux's own overlay in C: vxlan (VNI 1) on a kernel bridge, address on the bridge
nsx $NSC ip link add vx0 type vxlan id 1 remote 198.18.0.1 local 198.18.0.3 dstport 4789 dev "${NSC}x" &&
	nsx $NSC ip link add br0 type bridge && nsx $NSC ip link set vx0 master br0 &&
	nsx $NSC ip link set vx0 up && nsx $NSC ip link set br0 up &&
	nsx $NSC ip addr add 198.19.1.50/24 dev br0 || fail "Linux vxlan in $NSC"

# ---- the GEARS bridges and their links
nsx $NSA "$GEARS" vnet start $BA --listen 198.18.0.1:4789 >/dev/null || fail "bridge A"
nsx $NSB "$GEARS" vnet start $BB --listen 198.18.0.2:4789 >/dev/null || fail "bridge B"
"$GEARS" vnet link $BA add toB 198.18.0.2:4789 && "$GEARS" vnet link $BA add toC 198.18.0.3:4789 &&
	"$GEARS" vnet link $BB add toA 198.18.0.1:4789 || fail "links"
# ---- three VMs, booted together
# no_timer_check: on a loaded host a TCG guest's early IO-APIC timer check
# can fail and panic the boot ("IO-APIC + timer doesn't work").
boot() {
	name=$1; shift
	# shellcheck disable=SC2068
	"$GEARS" run --name "$name" --smp 1 --mem 256M --append "console=ttyS0 quiet panic=-1 no_timer_check" \
		$@ -- sleep 1000000 >"$TMP/$name.log" 2>&1 &
	eval "PID_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)=$!"
}
# gears run --net: the VNET service adds each VM's port (owned by its
# supervisor) and NIC, and brings the NIC up with its address in the guest.
# VM2's second NIC is in overlay 2 with an address in the same subnet: it
# must stay unreachable from overlay 1.
boot $VM1 "--net $BA,mac=$MAC1,ip=198.19.1.1/24"
boot $VM2 "--net $BA,mac=$MAC2,ip=198.19.1.2/24 --net $BA,mac=$MAC2B,ip=198.19.1.9/24,vni=2"
boot $VM3 "--net $BB,mac=$MAC3,ip=198.19.1.3/24"
for v in $VM1 $VM2 $VM3; do
	i=0
	eval "pid=\$PID_$(echo "$v" | tr -c 'a-zA-Z0-9\n' _)"
	until g "$v" true >/dev/null 2>&1; do
		i=$((i + 1))
		{ [ $i -lt 600 ] && kill -0 "$pid" 2>/dev/null; } || { cat "$TMP/$v.log" >&2; fail "$v did not come up"; }
		sleep 0.5
	done
done
# VM2 must not answer ARP for its overlay-2 address on its overlay-1 NIC
# (Linux does by default), or that address would be reachable for a wrong reason.
g $VM2 -- sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore' || fail "arp_ignore"
IF2B=$(ifname $VM2 $MAC2B)
[ -n "$IF2B" ] || fail "VM2 has no NIC with $MAC2B"
# Both of VM2's NICs have an address in 198.19.1.0/24, so the guest has two
# routes for it and answers through whichever NIC came up first: drop the
# overlay-2 NIC's route, or VM2's replies to overlay 1 could leave on overlay 2
# (seen: VM1 -> VM2 ping lost, depending on boot order).
g $VM2 -- ip route del 198.19.1.0/24 dev "$IF2B" || fail "VM2: cannot drop $IF2B's route"
for v in $VM1 $VM2 $VM3; do
	g $v -- ip -o addr | grep -q 'inet 198\.19\.1\.' || fail "$v: --net did not address the NIC"
done
[ "$(g $VM1 -- cat /sys/class/net/eth0/mtu)" = 1450 ] || fail "guest MTU is not the bridge's 1450"
ok "3 VMs up with gears run --net on two bridges (vhost-user), links A<->B and A<->Linux vxlan"

# ---- ping both ways, on one bridge and across the link
pingok() { g "$1" -- ping -c 3 -W 2 "$2" >"$TMP/ping" 2>&1 || { cat "$TMP/ping" >&2; fail "$3"; }; }
pingok $VM1 198.19.1.2 "VM1 -> VM2 ping (one bridge)"
pingok $VM2 198.19.1.1 "VM2 -> VM1 ping"
pingok $VM1 198.19.1.3 "VM1 -> VM3 ping (across the VXLAN link)"
pingok $VM3 198.19.1.2 "VM3 -> VM2 ping"
ok "ping both ways on one bridge and across the link"

# ---- TCP (iperf3) both ways, one bridge and across the link
g $VM2 -- iperf3 -s -D >/dev/null || fail "iperf3 server VM2"
g $VM3 -- iperf3 -s -D >/dev/null || fail "iperf3 server VM3"
sleep 1
tcp() {	# VM SERVER [-R] -> bits/s received (fails on any error)
	out=$(g "$1" -- iperf3 -c "$2" -t 3 -J ${3:-}) || fail "iperf3 $1 -> $2 ${3:-}: $(echo "$out" | tail -3)"
	echo "$out" | jq -e '.end.sum_received.bytes > 1000000' >/dev/null ||
		fail "iperf3 $1 -> $2 ${3:-} moved too little: $(echo "$out" | jq -c .end.sum_received)"
	echo "$out" | jq -r '.end.sum_received.bits_per_second / 1e6 | floor'
}
r1=$(tcp $VM1 198.19.1.2) && r2=$(tcp $VM1 198.19.1.2 -R) && r3=$(tcp $VM1 198.19.1.3) && r4=$(tcp $VM1 198.19.1.3 -R) ||
	exit 1
ok "TCP both ways: one bridge $r1/$r2 Mbit/s, across the link $r3/$r4 Mbit/s"

# ---- Linux's vxlan device on a kernel bridge: ping and TCP
pingok $VM1 198.19.1.50 "VM1 -> Linux vxlan (kernel bridge) ping"
nsx $NSC ping -c 2 -W 2 198.19.1.1 >/dev/null || fail "Linux side -> VM1 ping"
nsx $NSC iperf3 -s -D -1 -B 198.19.1.50 >/dev/null || fail "iperf3 server in $NSC"
sleep 1
r5=$(tcp $VM1 198.19.1.50) || exit 1
ok "interoperates with Linux's vxlan device: ping both ways, TCP $r5 Mbit/s"

# ---- VNI isolation; broadcast reaches exactly the ports of its overlay
rx3=$(rx $VM3 eth0); rx2b=$(rx $VM2 "$IF2B"); out2=$(stat $BA '.ports[]|select(.name=="'$VM2'").out_frames')
out2b=$(stat $BA '.ports[]|select(.name=="'$VM2-1'").out_frames'); outc=$(stat $BA '.links[]|select(.name=="toC").out_frames')
g $VM1 -- ping -c 2 -W 1 198.19.1.9 >/dev/null 2>&1 && fail "VNI 2 address reachable from VNI 1"
g $VM1 -- ping -c 2 -W 1 198.19.1.77 >/dev/null 2>&1	# nobody: ARP broadcasts only
sleep 1
[ "$(rx $VM2 "$IF2B")" = "$rx2b" ] || fail "a frame of overlay 1 reached VM2's overlay-2 NIC"
[ "$(stat $BA '.ports[]|select(.name=="'$VM2-1'").out_frames')" = "$out2b" ] || fail "bridge sent overlay-1 frames to VM2's overlay-2 port"
[ "$(rx $VM3 eth0)" -ge $((rx3 + 2)) ] || fail "VM3 (overlay 1, across the link) did not get the broadcasts"
[ "$(stat $BA '.ports[]|select(.name=="'$VM2'").out_frames')" -ge $((out2 + 2)) ] || fail "VM2 did not get the broadcasts"
[ "$(stat $BA '.links[]|select(.name=="toC").out_frames')" -ge $((outc + 2)) ] || fail "link to Linux vxlan did not get the broadcasts"
ok "VNI isolation: overlay 2 saw nothing of overlay 1; broadcasts reached VM2, VM3 and the Linux side"

# ---- a route change redirects traffic
pingok $VM1 198.19.1.2 "ping before the route"
rx2=$(rx $VM2 eth0); outb=$(stat $BA '.links[]|select(.name=="toB").out_frames')
"$GEARS" vnet route $BA add --dst $MAC2 --to toB --prio 10 >/dev/null || fail "route add"
[ "$("$GEARS" vnet route --json $BA list | jq -r '.[0].to')" = toB ] || fail "route list"
g $VM1 -- ping -c 3 -W 1 198.19.1.2 >/dev/null 2>&1 && fail "ping still reaches VM2 with the route to toB"
[ "$(stat $BA '.links[]|select(.name=="toB").out_frames')" -ge $((outb + 3)) ] || fail "redirected frames not on link toB"
[ "$(rx $VM2 eth0)" -lt $((rx2 + 3)) ] || fail "VM2 still received the redirected pings"
id=$("$GEARS" vnet route --json $BA list | jq -r '.[0].id')
"$GEARS" vnet route $BA del "$id" || fail "route del"
pingok $VM1 198.19.1.2 "ping after the route was removed"
ok "a route redirects VM2's frames to the link; removing it restores the path (cache invalidated)"

# ---- hostile datagrams on the UDP port: counted, nothing stalls
b0=$(stat $BA '.bridge.drops|[.bad_header,.unknown_vni,.unknown_peer]|add'); ov0=$(stat $BA '.links[]|select(.name=="toB").drops.oversize')
send() { nsx "$1" bash -c "printf '$2' > /dev/udp/198.18.0.1/4789"; }
send $NSH '\010\000\000\000\000\000\001\000\002\107\000\000\001\001\002\107\000\000\007\007\010\000xx'	# unknown peer
send $NSB '\010\000\000\000\000\011\011\000\002\107\000\000\001\001\002\107\000\000\007\007\010\000xx'	# unknown VNI
send $NSB '\000\000\000\000\000\000\001\000\002\107\000\000\001\001\002\107\000\000\007\007\010\000xx'	# no I flag
send $NSB 'short'
nsx $NSB bash -c "printf '\010\000\000\000\000\000\001\000%3000s' '' > /dev/udp/198.18.0.1/4789"	# oversize
nsx $NSH bash -c 'for i in $(seq 500); do head -c $((i % 90 + 1)) /dev/urandom > /dev/udp/198.18.0.1/4789; done'
sleep 1
b1=$(stat $BA '.bridge.drops|[.bad_header,.unknown_vni,.unknown_peer]|add'); ov1=$(stat $BA '.links[]|select(.name=="toB").drops.oversize')
[ "$(stat $BA '.bridge.drops.unknown_peer')" -ge 1 ] || fail "unknown-peer datagrams not counted: $(stat $BA .bridge.drops)"
[ "$(stat $BA '.bridge.drops.unknown_vni')" -ge 1 ] || fail "unknown VNI not counted"
[ "$(stat $BA '.bridge.drops.bad_header')" -ge 2 ] || fail "bad headers not counted"
[ $((b1 - b0)) -ge 504 ] || fail "hostile datagrams: $((b1 - b0)) counted"
[ "$ov1" -ge $((ov0 + 1)) ] || fail "oversize inner frame not counted"
pingok $VM1 198.19.1.3 "ping across the link after the garbage"
ok "hostile datagrams dropped and counted by reason ($((b1 - b0)) + oversize); traffic flows"

# ---- a peer killed mid-transfer leaves local traffic flowing
# (a simple command, not the g function: dash runs the EXIT trap in a
# backgrounded function's subshell)
"$GEARS" exec $VM1 -- iperf3 -c 198.19.1.3 -t 8 >/dev/null 2>&1 &
bg=$!
sleep 2
pb=$("$GEARS" vnet list --json | jq -r ".[]|select(.name==\"$BB\").pid")
kill -9 "$pb" || fail "kill bridge B"
pingok $VM1 198.19.1.2 "local ping with the peer bridge dead"
r6=$(tcp $VM1 198.19.1.2) || exit 1
# That iperf3 waits forever for its dead server's results: its client going
# away ends it in the guest.
kill $bg 2>/dev/null
wait $bg 2>/dev/null
ok "peer bridge killed mid-transfer: local TCP still $r6 Mbit/s"

# ---- the bridge restarting: its VM reattaches by itself
nsx $NSB "$GEARS" vnet start $BB >/dev/null || fail "restart bridge B"
i=0
until g $VM1 -- ping -c 1 -W 1 198.19.1.3 >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 30 ] || fail "VM3 did not come back after the bridge restarted"
done
[ "$(stat $BB '.ports[]|select(.name=="'$VM3'").vhost.connects')" -ge 1 ] || fail "vm3 not reconnected"
ok "bridge B restarted from its saved configuration: VM3 reconnected, ping across works"

# ---- a VM that crashes frees its port
# (its supervisor's pid from its state file: `gears list` would do, but it
# leaks under LSan when a stale VM directory is around)
ST2=$("$GEARS" list --runtime-dir)/$VM2/state.json
kill -9 "$(jq -r .pid "$ST2")" 2>/dev/null
i=0
until [ -z "$(stat $BA '.ports[]|select(.name=="'$VM2'").name')" ]; do
	i=$((i + 1)); [ $i -lt 40 ] || fail "port of the dead VM2 still there"; sleep 0.5
done
[ -z "$(stat $BA '.ports[]|select(.name=="'$VM2-1'").name')" ] || fail "VM2's second port still there"
stat $BA '.macs[].mac' | grep -q $MAC2 && fail "dead VM2's MAC still learned"
pingok $VM1 198.19.1.3 "ping VM1 -> VM3 after VM2 died"
ok "a crashed VM's ports are removed, its MAC forgotten, the others go on"
# What a killed supervisor leaves (its name is never used again to clean it up).
for f in $(jq -r '.ram_path, .region_path' "$ST2"); do
	case $f in /dev/shm/gears-$VM2-*) rm -f "$f" ;; esac
done
rm -rf "$(dirname "$ST2")"
