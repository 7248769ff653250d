#!/bin/sh
# mpi-job PORT WAIT_S HOSTS -- MPIEXEC_ARGS...: run by `gears mpirun` in the
# job's first VM. Waits (at most WAIT_S seconds) until mpi-node listens on PORT
# in every VM of HOSTS (hydra's "ip:count,ip:count" list), then runs hydra's
# mpiexec with the ssh-less launcher (mpi-rsh) on the overlay's interface.
set -eu
[ $# -ge 4 ] || { echo "usage: mpi-job PORT WAIT_S HOSTS -- ARGS..." >&2; exit 2; }
port=$1 wait=$2 hosts=$3
shift 3
[ "$1" = -- ] && shift
for h in $(echo "$hosts" | tr , ' '); do
	ip=${h%%:*}
	n=0
	until echo | nc -w 2 "$ip" "$port" >/dev/null 2>&1; do
		n=$((n + 1))
		if [ "$n" -ge $((wait * 5)) ]; then
			echo "mpi-job: nothing listens on $ip:$port after ${wait}s" >&2
			exit 125
		fi
		sleep 0.2
	done
done
export GEARS_MPI_PORT="$port"
exec mpiexec -launcher ssh -launcher-exec /gears/bin/mpi-rsh -iface eth0 -hosts "$hosts" "$@"
