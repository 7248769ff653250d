#!/bin/sh
# The VNET overlay accelerator, on one set of booted VMs on one bridge:
#   A  --net ...,accel=on   (the module is loaded at boot)
#   B  plain virtio path
#   C  --net ...,accel=off  (device present, module loaded later by `gears vnet accel`)
#   D  plain, on a second bridge in another network namespace ("host"), joined
#      to the first by a VXLAN link (as root; without root that part is skipped)
# Checks, against the guests' own tools (ping, iperf3, ip, /sys) and the
# module's and the bridge's counters: A <-> B ping and TCP both ways through
# the rings; the interface keeps its name, addresses, routes and MTU; two
# accelerated VMs (A <-> C); off and on several times under one open TCP
# stream that survives; hostile ring contents written by the bridge (bad
# index, bad lengths, a bad GSO header) rejected by the module, the NIC back
# on its virtio path and still working; unloading leaves the interface as it
# was.
. "$(dirname "$0")/../../../../tests/vm/lib.sh"

command -v iperf3 >/dev/null && command -v jq >/dev/null || fail "needs iperf3 and jq on the host"

P=va$$
BR=${P}br BR2=${P}b2
VA=${P}-a VB=${P}-b VC=${P}-c VD=${P}-d
MA=02:47:00:00:0b:01 MB=02:47:00:00:0b:02 MC=02:47:00:00:0b:03 MD=02:47:00:00:0b:04
NSX=${P}x NSY=${P}y
LINK=0
[ "$(id -u)" = 0 ] && command -v ip >/dev/null && LINK=1

acc_cleanup() {
	for v in $VA $VB $VC $VD; do "$GEARS" stop "$v" >/dev/null 2>&1 & done
	wait 2>/dev/null
	for b in $BR $BR2; do
		"$GEARS" vnet stop $b >/dev/null 2>&1
		rm -rf "$("$GEARS" list --runtime-dir)/.vnet/$b"
	done
	if [ $LINK = 1 ]; then
		for n in $NSX $NSY; do
			for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
			ip netns del "$n" 2>/dev/null
		done
	fi
	cleanup
}
trap acc_cleanup EXIT
trap 'echo "FAIL: $TEST_NAME: stopped by a signal (timeout?)" >&2; exit 1' INT TERM

g() { "$GEARS" exec "$@"; }
# par VM NAME: a counter of the guest's module (its own view)
par() { g "$1" -- cat "/sys/module/gears_vnet_accel/parameters/$2"; }
# bst PORT FIELD: the bridge's view of the port's accelerator
bst() { "$GEARS" vnet stats --json $BR | jq -r ".ports[] | select(.name == \"$1\") | .accel.$2"; }
netview() { g "$1" -- sh -c 'ip -o addr show dev eth0 | sed "s/ valid_lft.*//"; ip route; cat /sys/class/net/eth0/mtu'; }

nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }
if [ $LINK = 1 ]; then
	# two "hosts": namespaces joined by a veth; a bridge in each, linked
	ip netns add $NSX && ip netns add $NSY || fail "ip netns add"
	ip link add ${P}vx netns $NSX type veth peer name ${P}vy netns $NSY || fail "veth"
	nsx $NSX ip addr add 198.18.7.1/24 dev ${P}vx && nsx $NSX ip link set ${P}vx up &&
		nsx $NSY ip addr add 198.18.7.2/24 dev ${P}vy && nsx $NSY ip link set ${P}vy up || fail "underlay"
	nsx $NSX "$GEARS" vnet start $BR --listen 198.18.7.1:4789 >/dev/null || fail "bridge"
	nsx $NSY "$GEARS" vnet start $BR2 --listen 198.18.7.2:4789 >/dev/null || fail "bridge 2"
	"$GEARS" vnet link $BR add y 198.18.7.2:4789 && "$GEARS" vnet link $BR2 add x 198.18.7.1:4789 || fail "links"
else
	"$GEARS" vnet start $BR >/dev/null || fail "bridge"
fi
boot() {
	name=$1; shift
	# shellcheck disable=SC2068
	"$GEARS" run --name "$name" --smp 1 --mem 256M --append "console=ttyS0 quiet panic=-1 no_timer_check" \
		$@ -- sleep 1000000 >"$TMP/$name.log" 2>&1 &
}
boot $VA "--net $BR,mac=$MA,ip=198.19.3.1/24,accel=on"
boot $VB "--net $BR,mac=$MB,ip=198.19.3.2/24"
boot $VC "--net $BR,mac=$MC,ip=198.19.3.3/24,accel=off"
VMS="$VA $VB $VC"
[ $LINK = 1 ] && boot $VD "--net $BR2,mac=$MD,ip=198.19.3.4/24" && VMS="$VMS $VD"
for v in $VMS; do
	i=0
	until g "$v" true >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 600 ] || { cat "$TMP/$v.log" >&2; fail "$v did not come up"; }
		sleep 0.5
	done
done
# accel=on loads the module just after the NIC is up
i=0
until [ "$(bst $VA state)" = active ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$TMP/$VA.log" >&2; fail "A's accelerator never became active"; }
	sleep 0.2
done
[ "$(par $VA state)" = active ] || fail "A's module says $(par $VA state), the bridge active"
[ "$(bst $VC state)" = idle ] || fail "C (accel=off) has its accelerator $(bst $VC state)"
g $VA -- ip -o link show eth0 | grep -q "$MA" || fail "A's eth0 lost its MAC"
ok "$(echo $VMS | wc -w) VMs up; A accelerated from boot (accel=on), C with the device only (accel=off)"

# ---- A <-> B through the rings
pingok() { g "$1" -- ping -c 3 -W 2 "$2" >"$TMP/ping" 2>&1 || { cat "$TMP/ping" >&2; fail "$3"; }; }
tx0=$(par $VA tx_frames) rx0=$(par $VA rx_frames) grx0=$(g $VA -- cat /sys/class/net/eth0/statistics/rx_packets)
pingok $VA 198.19.3.2 "A -> B ping"
pingok $VB 198.19.3.1 "B -> A ping"
for v in $VA $VB $VC; do g $v -- iperf3 -s -D >/dev/null || fail "iperf3 server $v"; done
sleep 1
tcp() {	# VM SERVER [-R]: fails unless over 1 MB crossed without error
	out=$(g "$1" -- iperf3 -c "$2" -t 3 -J ${3:-}) || fail "iperf3 $1 -> $2 ${3:-}: $(echo "$out" | tail -3)"
	echo "$out" | jq -e '.end.sum_received.bytes > 1000000' >/dev/null ||
		fail "iperf3 $1 -> $2 ${3:-} moved too little: $(echo "$out" | jq -c .end.sum_received)"
	echo "$out" | jq -r '.end.sum_received.bits_per_second / 1e6 | floor'
}
m1=$(tcp $VA 198.19.3.2) m2=$(tcp $VA 198.19.3.2 -R)
tx1=$(par $VA tx_frames) rx1=$(par $VA rx_frames) grx1=$(g $VA -- cat /sys/class/net/eth0/statistics/rx_packets)
[ $((tx1 - tx0)) -gt 1000 ] && [ $((rx1 - rx0)) -gt 1000 ] ||
	fail "A's module moved too few frames (tx $tx0 -> $tx1, rx $rx0 -> $rx1): traffic did not use the rings"
# (read a moment apart from the module's: a few frames of slack)
[ $((grx1 - grx0 + 20)) -ge $((rx1 - rx0)) ] ||
	fail "A's eth0 counters miss the accelerated frames (eth0 rx +$((grx1 - grx0)), module rx +$((rx1 - rx0)))"
[ "$(par $VA bad_ring)" = 0 ] && [ "$(bst $VA bad)" = 0 ] || fail "ring errors on a good path"
# TCP's packets are sent in place (the bridge reads them from guest RAM), not copied
[ "$(par $VA tx_copied)" -lt $(((tx1 - tx0) / 2)) ] ||
	fail "A copied $(par $VA tx_copied) of $((tx1 - tx0)) frames into the ring: in-place sending unused"
ok "A <-> B ping and TCP through the rings ($m1 / $m2 Mbit/s; module tx $((tx1 - tx0)) rx $((rx1 - rx0)) frames)"

# ---- across the VXLAN link: accelerated A <-> plain D on the other "host"
if [ $LINK = 1 ]; then
	l0=$(par $VA tx_frames)
	pingok $VA 198.19.3.4 "A -> D ping across the link"
	pingok $VD 198.19.3.1 "D -> A ping across the link"
	g $VD -- iperf3 -s -D >/dev/null || fail "iperf3 server D"
	sleep 1
	m6=$(tcp $VA 198.19.3.4) m7=$(tcp $VA 198.19.3.4 -R)
	[ $(($(par $VA tx_frames) - l0)) -gt 1000 ] || fail "A's frames to D did not use the rings"
	ok "across the namespace link: accelerated A <-> D ping and TCP ($m6 / $m7 Mbit/s)"
else
	echo "skip $TEST_NAME: the namespace link part needs root"
fi

# ---- two accelerated VMs: C turned on by gears vnet accel; interface unchanged
before=$(netview $VC)
"$GEARS" vnet accel $BR $VC on >"$TMP/acc" 2>&1 || { cat "$TMP/acc" >&2; fail "gears vnet accel $VC on"; }
[ "$(netview $VC)" = "$before" ] || fail "C's interface changed when accelerated: $(netview $VC) / $before"
pingok $VA 198.19.3.3 "A -> C ping (both accelerated)"
m3=$(tcp $VC 198.19.3.1) m4=$(tcp $VA 198.19.3.3)
[ "$(par $VC tx_frames)" -gt 1000 ] && [ "$(par $VC rx_frames)" -gt 1000 ] || fail "C's module moved too few frames"
ok "two accelerated VMs: ping, TCP $m3 / $m4 Mbit/s; C's address, routes and MTU unchanged"

# ---- off and on under one open TCP stream (B -> C)
g $VB -- sh -c "iperf3 -c 198.19.3.3 -t 25 -J >/tmp/stream.json 2>&1 & echo \$! >/tmp/stream.pid"
sleep 3
for k in 1 2 3; do
	"$GEARS" vnet accel $BR $VC off >"$TMP/acc" 2>&1 || { cat "$TMP/acc" >&2; fail "off #$k under a stream"; }
	sleep 2
	"$GEARS" vnet accel $BR $VC on >"$TMP/acc" 2>&1 || { cat "$TMP/acc" >&2; fail "on #$k under a stream"; }
	sleep 2
done
i=0
while g $VB -- sh -c 'kill -0 $(cat /tmp/stream.pid)' >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 120 ] || fail "the stream did not end"
	sleep 0.5
done
g $VB -- cat /tmp/stream.json >"$TMP/stream.json"
jq -e '(.error // "") == "" and .end.sum_received.bytes > 1000000' "$TMP/stream.json" >/dev/null ||
	fail "the TCP stream broke across on/off: $(jq -c '.error, .end.sum_received' "$TMP/stream.json")"
[ "$(bst $VC activations)" -ge 4 ] || fail "the bridge saw $(bst $VC activations) activations of C, not 4"
ok "3 x off/on under one TCP stream: it survived ($(jq -r '.end.sum_received.bytes / 1e6 | floor' "$TMP/stream.json") MB)"

# ---- hostile ring contents from the bridge side (C's RX ring)
bad() { # WHAT: one hostile entry into C's RX ring
	printf '{"op":"accel_hostile","name":"%s","what":"%s"}\n' "$VC" "$1" |
		socat - "UNIX-CONNECT:$("$GEARS" list --runtime-dir)/.vnet/$BR/ctl.sock" | jq -e .ok >/dev/null ||
		fail "the bridge refused accel_hostile $1"
}
command -v socat >/dev/null || fail "needs socat"
d0=$(par $VC rx_drops)
for w in rx_len rx_short rx_gso; do bad $w; done
sleep 1
[ $(($(par $VC rx_drops) - d0)) -ge 3 ] || fail "C's module did not drop the 3 bad entries ($(par $VC rx_drops) drops)"
[ "$(par $VC state)" = active ] || fail "a bad entry should be dropped, not end the accelerator"
pingok $VA 198.19.3.3 "ping after bad lengths and a bad GSO header"
bad rx_index
sleep 1
[ "$(par $VC bad_ring)" -ge 1 ] || fail "C's module did not see the index a ring and a half ahead"
[ "$(par $VC state)" = broken ] || fail "C's accelerator is $(par $VC state) after a bad index, not broken"
g $VC -- dmesg | grep -q "broke the ring contract" || fail "no reason in C's dmesg"
pingok $VA 198.19.3.3 "ping after a bad index (C back on virtio)"
[ "$(bst $VC state)" = detached ] || fail "the bridge sees C as $(bst $VC state), not detached"
ok "hostile ring entries: bad lengths and GSO header dropped, a bad index sends the NIC back to virtio; traffic flows"

# ---- unload leaves the interface as it was
before=$(netview $VA)
"$GEARS" vnet accel $BR $VA off >"$TMP/acc" 2>&1 || { cat "$TMP/acc" >&2; fail "gears vnet accel $VA off"; }
g $VA -- sh -c 'grep -q gears_vnet_accel /proc/modules' && fail "the module is still loaded in A"
[ "$(netview $VA)" = "$before" ] || fail "A's interface changed on unload"
t0=$(bst $VA tx_frames)
pingok $VA 198.19.3.2 "A -> B ping on the virtio path after unload"
m5=$(tcp $VA 198.19.3.2)
[ "$(bst $VA tx_frames)" = "$t0" ] || fail "frames still reached the accelerator's ring after unload"
"$GEARS" vnet accel $BR $VA off >/dev/null 2>&1 || fail "off twice should say it is off"
"$GEARS" vnet accel $BR $VB on >"$TMP/acc" 2>&1 && fail "B (no accelerator device) was accepted"
grep -q "accel=on or accel=off" "$TMP/acc" || fail "B's refusal gives no reason: $(cat "$TMP/acc")"
ok "unload: module gone, interface unchanged, virtio path carries TCP ($m5 Mbit/s); a VM without the device refused"
