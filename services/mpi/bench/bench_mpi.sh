#!/bin/sh
# MPI benchmark: the OSU-style osu_p2p (osu_p2p.c: ping-pong latency 0 B..4 KiB,
# windowed bandwidth 4 KiB..16 MiB, every size's data checked) run four ways in
# alternated rounds (R rounds; odd rounds in one order, even ones reversed), with
# a host memcpy of the same sizes beside them:
#
#   accel    2 ranks on 2 VMs (1 vCPU each), through the MPI accelerator
#   overlay  the same, MPICH over the job's VNET overlay (--accel off)
#   shm      2 ranks in one VM with 2 vCPUs: MPICH's shared memory
#   native   2 ranks on the host (Debian's MPICH)
#   memcpy   the host's memcpy, one process
#
# Each VM way is one `gears mpirun` (it boots its VMs: the boot is not timed).
# The host's CPU use (all cores, /proc/stat) is taken from the program's first
# figure to its last. A run whose checks fail, or that does not finish, is an
# error. Prints medians with min-max spread, the issue's ratios with MET/MISSED,
# and one JSON line (BENCH_JSON=1).
set -u
GEARS=${GEARS:-$(pwd)/build/gears}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
R=${MPI_BENCH_ROUNDS:-2}
SECS=${MPI_BENCH_SECONDS:-0.3}
PROG=$ROOT/build/mpi/bench/osu_p2p
PATHS=${MPI_BENCH_PATHS:-accel overlay shm native memcpy}
TMP=$(mktemp -d /tmp/gears-bench-mpi.XXXXXX)
export GEARS_MPI_IMAGE_DIR=${GEARS_MPI_IMAGE_DIR:-$ROOT/build/image-mpi}

die() { echo "ERROR: bench_mpi: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench_mpi: needs root (gears mpirun's share service); skipped"; exit 0; }
command -v mpiexec >/dev/null || die "no mpiexec on the host (scripts/install-deps.sh: mpich)"
[ -x "$PROG" ] || die "no $PROG (make mpi)"
echo " $PATHS " | grep -q " \(accel\|overlay\|shm\) " && ! [ -f "$GEARS_MPI_IMAGE_DIR/initrd.img" ] && die "no MPI image in $GEARS_MPI_IMAGE_DIR (make image VARIANT=mpi)"
job=""
cleanup() {
	[ -n "$job" ] && kill "$job" 2>/dev/null && wait "$job" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$TMP" || die "no $TMP"
cp "$PROG" . || die "cannot copy $PROG"

busy() { awk '/^cpu /{ print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8 }' /proc/stat; }
# run WAY ROUND CMD...: CMD in the background, output in WAY.ROUND.{out,err};
# the host's busy fraction between its first figure and its "end".
run() {
	way=$1 round=$2
	shift 2
	out=$TMP/$way.$round.out err=$TMP/$way.$round.err
	"$@" >"$out" 2>"$err" &
	job=$!
	b0="" b1=""
	while kill -0 $job 2>/dev/null; do
		[ -z "$b0" ] && grep -q '^\(lat\|memcpy\) ' "$out" 2>/dev/null && b0=$(busy)
		[ -z "$b1" ] && grep -q '^end$' "$out" 2>/dev/null && b1=$(busy)
		sleep 0.1
	done
	wait $job
	rc=$? job=""
	[ -z "$b1" ] && grep -q '^end$' "$out" && b1=$(busy)
	grep '^check' "$out" >&2
	[ $rc = 0 ] && [ -n "$b0" ] && [ -n "$b1" ] ||
		die "round $round, $way: status $rc: $(grep -v '^\(lat\|bw\|memcpy\) ' "$out" | tail -3) $(tail -c 1500 "$err")"
	host=$(echo "$b0 $b1" | awk '{ d = $4 - $2; print (d > 0 ? ($3 - $1) / d : 0) }')
	awk -v w=$way -v r=$round '$1 == "lat" || $1 == "bw" || $1 == "memcpy" { print w, r, $1, $2, $3 }' "$out" >>"$TMP/results"
	echo "$way $round cpu 0 $host" >>"$TMP/results"
}
mpirun() { "$GEARS" mpirun --timeout 900 "$@" ./osu_p2p 4096 4096 16777216 "$SECS"; }
measure() {	# WAY ROUND
	case $1 in
	accel)
		run accel $2 mpirun -np 2 --vms 2 --smp 1 --stats
		copied=$(sed -n 's/.* \([0-9]*\) bytes copied.*/\1/p' "$TMP/accel.$2.err")
		# at least every bandwidth size's trial window and two timed ones
		[ "${copied:-0}" -ge $((3 * (16 << 20) * 4)) ] ||
			die "round $2, accel: the broker copied only '${copied:-}' bytes: $(grep accelerator "$TMP/accel.$2.err")"
		echo "$copied" >>"$TMP/copied";;
	overlay) run overlay $2 mpirun -np 2 --vms 2 --smp 1 --accel off;;
	shm) run shm $2 mpirun -np 2 --vms 1 --smp 2 --accel off;;
	native) run native $2 mpiexec -n 2 ./osu_p2p 4096 4096 16777216 "$SECS";;
	memcpy) run memcpy $2 ./osu_p2p memcpy 4096 16777216 "$SECS";;
	*) die "no way named $1";;
	esac
}
# med WAY KIND SIZE: median min max over the rounds
med() {
	awk -v w=$1 -v k=$2 -v s=$3 '$1 == w && $3 == k && $4 == s { print $5 }' "$TMP/results" | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) { print "nan nan nan"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
ratio() { echo "$1 $2" | awk '{ printf "%.3f", ($2 > 0 ? $1 / $2 : 0) }'; }
verdict() { echo "$1 $2 $3" | awk '{ ok = ($2 == ">=") ? ($1 >= $3) : ($1 <= $3); print ok ? "MET" : "MISSED" }'; }
has() { echo " $PATHS " | grep -q " $1 "; }

load0=$(cut -d' ' -f1 /proc/loadavg)
for r in $(seq 1 $R); do
	order=$PATHS
	[ $((r % 2)) = 0 ] && order=$(echo $PATHS | tr ' ' '\n' | tac | tr '\n' ' ')
	for p in $order; do measure $p $r; done
done
load1=$(cut -d' ' -f1 /proc/loadavg)

# ---- report
echo "MPI benchmark (osu_p2p): $R alternated rounds, ~$SECS s per size; $(nproc) host cores; load average $load0 -> $load1"
line() {	# KIND SIZE: one row, every way's median (min-max)
	printf "%-4s %9s" $1 $2
	for p in $PATHS; do
		k=$1; [ $p = memcpy ] && k=memcpy
		if [ $p = memcpy ] && [ $1 = lat ]; then printf " %22s" -; continue; fi
		set -- $1 $2 $(med $p $k $2)
		printf " %9s (%s-%s)" $3 $4 $5
	done
	echo
}
printf "%-14s" "" && for p in $PATHS; do printf " %22s" $p; done && echo
echo "one-way latency, us:"
for s in 0 1 8 64 512 4096; do line lat $s; done
echo "bandwidth, MB/s:"
s=4096; while [ $s -le 16777216 ]; do line bw $s; s=$((s * 4)); done
printf "%-14s" "host CPU" && for p in $PATHS; do
	printf " %21.0f%%" "$(med $p cpu 0 | awk -v n=$(nproc) '{ print $1 * 100 * n }')"; done && echo
[ -f "$TMP/copied" ] && echo "the broker copied $(sort -g "$TMP/copied" | head -1)-$(sort -g "$TMP/copied" | tail -1) bytes per accelerated run"

has accel || exit 0
bw() { med $1 $2 $3 | cut -d' ' -f1; }
minratio() {	# WAY BASEWAY BASEKIND: the smallest ratio over 1..16 MiB
	for s in 1048576 2097152 4194304 8388608 16777216; do ratio $(bw $1 bw $s) $(bw $2 $3 $s); echo; done | sort -g | head -1
}
echo "ratios (medians of the same rounds):"
if has memcpy; then
	x1=$(ratio $(bw accel bw 1048576) $(bw memcpy memcpy 1048576)); x1m=$(minratio accel memcpy memcpy)
	echo "  accel / host memcpy bandwidth, 1 MiB      $x1, lowest over 1-16 MiB $x1m  (target >= 0.8)  $(verdict $x1m '>=' 0.8)"
fi
if has overlay; then
	x2=$(ratio $(bw accel bw 1048576) $(bw overlay bw 1048576)); x2m=$(minratio accel overlay bw)
	x3=$(ratio $(bw accel lat 8) $(bw overlay lat 8))
	echo "  accel / overlay bandwidth, 1 MiB          $x2, lowest over 1-16 MiB $x2m  (target >= 50)  $(verdict $x2m '>=' 50)"
	echo "  accel / overlay latency, 8 B              $x3  (target <= 0.1)  $(verdict $x3 '<=' 0.1)"
fi
if has shm; then
	x4=$(ratio $(bw accel bw 1048576) $(bw shm bw 1048576)); x4m=$(minratio accel shm bw)
	x5=$(ratio $(bw accel lat 8) $(bw shm lat 8))
	echo "  accel / MPICH shared memory in one VM, bandwidth 1 MiB $x4, lowest over 1-16 MiB $x4m  (target >= 1)  $(verdict $x4m '>=' 1)"
	echo "  accel / MPICH shared memory in one VM, latency 8 B $x5  (reported)"
fi
has native && echo "  accel / native host ranks: bandwidth 1 MiB $(ratio $(bw accel bw 1048576) $(bw native bw 1048576)), latency 8 B $(ratio $(bw accel lat 8) $(bw native lat 8))  (reported)"
if [ "${BENCH_JSON:-0}" = 1 ]; then
	jq -cn --argjson r "$R" --arg l0 "$load0" --arg l1 "$load1" --arg a "${x1m:-}" --arg b "${x2m:-}" --arg c "${x3:-}" \
		--arg d "${x4m:-}" '{bench:"mpi", rounds:$r, load:[$l0,$l1], accel_memcpy_bw_min:$a, accel_overlay_bw_min:$b,
		accel_overlay_lat8:$c, accel_shm_bw_min:$d}'
fi
