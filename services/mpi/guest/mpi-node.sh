#!/bin/sh
# mpi-node NAME PORT: the main command of each VM of a `gears mpirun` job.
# Names the VM (MPICH and UCX tell nodes apart by host name), gives UCX the
# tmpfs /dev/shm its shared-memory transports need, and serves hydra's launcher
# (mpi-rsh) on PORT: each connection runs the one command line it sends, with
# the connection as stdin, stdout and stderr. Only VMs of the job are on its
# overlay network, so only they reach the port.
set -eu
[ $# = 2 ] || { echo "usage: mpi-node NAME PORT" >&2; exit 2; }
hostname "$1"
ip link set lo up
mkdir -p /dev/shm
grep -q ' /dev/shm ' /proc/mounts || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
exec nc -ll -p "$2" -e /gears/bin/mpi-exec-line
