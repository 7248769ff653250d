#!/bin/sh
# gears mpirun and the MPI accelerator, end to end, with unmodified MPI programs
# built by the host's mpicc (services/mpi/tests/progs). The oracle for every
# result is the same program run natively on the host by Debian's MPICH
# (mpiexec): the lines it prints (sizes, byte checks, MPI_Get_count, CRC-32s of
# the data) must be identical. Each gears mpirun boots its own 2 VMs (the
# expensive part), so the checks are grouped into few jobs:
#   - pingpong 0 B..1 MiB, MPICH over the VNET overlay (--accel off), 2 ranks on
#     2 VMs: same output as on the host, ranks on two guests, the job's status,
#     nothing left behind (VMs, bridge)
#   - pingpong 0 B..16 MiB through the accelerator, 2 ranks on 2 VMs: same
#     output as on the host, and the host broker's own count of bytes copied is
#     exactly what the program moved (so nothing went around it)
#   - semantics (ordering, wildcards, truncation, zero length, PROC_NULL,
#     Get_count, Test, unexpected long messages, vector types, Sendrecv, Probe,
#     persistent, Waitany/some, Ssend), 4 ranks on 2 VMs, accelerated: same
#     output as on the host
#   - a failing program's status comes back through mpirun
. "$(dirname "$0")/../../../../tests/vm/lib.sh"

ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
PROGS=$ROOT/build/mpi/tests
IMG=${GEARS_MPI_IMAGE_DIR:-$ROOT/build/image-mpi}
[ "$(id -u)" = 0 ] || skip "needs root (the share service's virtiofsd)"
command -v mpiexec >/dev/null || fail "no mpiexec on the host (scripts/install-deps.sh: mpich)"
[ -x "$PROGS/pingpong" ] && [ -x "$PROGS/semantics" ] || fail "no $PROGS/pingpong or semantics (make mpi)"
[ -f "$IMG/initrd.img" ] || fail "no MPI image in $IMG (make image VARIANT=mpi)"
export GEARS_MPI_IMAGE_DIR=$IMG

# mpirun NAME ARGS...: gears mpirun in the background (its pid names the job),
# output in $TMP/NAME.{out,err}; sets RC and JOB.
mpirun() {
	name=$1
	shift
	"$GEARS" mpirun --timeout 400 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	wait $pid
	RC=$?
	JOB=mpi$pid
}

# left_behind: VMs or a bridge of job $JOB still there
left_behind() {
	"$GEARS" list 2>/dev/null | grep "^$JOB-" && return 0
	"$GEARS" vnet list 2>/dev/null | grep -w "$JOB" && return 0
	return 1
}

cd "$TMP" || fail "no $TMP"
cp "$PROGS/pingpong" "$PROGS/semantics" . || fail "cannot copy the test programs"
mpiexec -n 2 ./pingpong 1048576 >host.out 2>host.err || fail "pingpong fails on the host: $(cat host.err)"
grep -q '^pingpong passed$' host.out || fail "host pingpong did not pass"
mpiexec -n 2 ./pingpong >host16.out 2>host.err || fail "pingpong fails on the host: $(cat host.err)"
mpiexec -n 4 ./semantics >host-sem.out 2>host.err || fail "semantics fails on the host: $(cat host.err)"

# ---- MPICH over the overlay ----
mpirun off -np 2 --vms 2 --accel off ./pingpong 1048576
[ "$RC" = 0 ] || fail "mpirun --accel off: status $RC: $(tail -c 2000 "$TMP/off.err")"
cmp -s host.out off.out || fail "--accel off output differs from the host's: $(diff host.out off.out | head -5)"
h0=$(sed -n 's/^rank 0 on //p' off.err) h1=$(sed -n 's/^rank 1 on //p' off.err)
[ "$h0" = "$JOB-0" ] && [ "$h1" = "$JOB-1" ] || fail "ranks not on the job's two VMs: '$h0' '$h1'"
ok "pingpong 0 B..1 MiB across 2 VMs over VNET (--accel off): output identical to the host's ($(grep -c '^size' off.out) sizes)"
left_behind && fail "job $JOB left VMs or its bridge behind"
ok "the job's VMs and bridge are gone after it"

# ---- through the accelerator ----
mpirun on -np 2 --vms 2 --stats ./pingpong
[ "$RC" = 0 ] || fail "mpirun --accel on: status $RC: $(tail -c 2000 "$TMP/on.err")"
cmp -s host16.out on.out || fail "accelerated output differs from the host's: $(diff host16.out on.out | head -5)"
want=$(awk '/^size/ { s += 2 * $2 } END { printf "%.0f", s }' host16.out)
got=$(sed -n 's/.* \([0-9]*\) bytes copied.*/\1/p' on.err)
[ "$got" = "$want" ] || fail "the broker copied '$got' bytes, the program moved $want: $(grep accelerator on.err)"
ok "pingpong 0 B..16 MiB through the accelerator across 2 VMs: identical to the host's, all $want bytes host copies"
left_behind && fail "job $JOB left VMs or its bridge behind"

mpirun sem -np 4 --vms 2 --stats ./semantics
[ "$RC" = 0 ] || fail "semantics, accelerated: status $RC: $(tail -c 2000 "$TMP/sem.err")"
cmp -s host-sem.out sem.out || fail "semantics differ from the host's: $(diff host-sem.out sem.out | head -8)"
grep -q ' 0 faults' sem.err && ! grep -q ' 0 matched' sem.err || fail "the broker did not carry semantics: $(grep accelerator sem.err)"
ok "semantics (order, wildcards, truncation, zero length, PROC_NULL, counts, Test, vector type, Sendrecv, Probe, persistent, Waitany/some, Ssend), 4 ranks on 2 VMs accelerated: identical to the host's"

# ---- a failing job's status ----
mpirun false -np 2 --vms 2 --accel off false
[ "$RC" = 1 ] || fail "mpirun of false: status $RC, want 1: $(tail -c 1000 "$TMP/false.err")"
left_behind && fail "failed job $JOB left VMs or its bridge behind"
ok "a failing job's status (1) comes back, and it leaves nothing behind"
