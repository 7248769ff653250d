#!/bin/sh
# mpi-rsh [-x] HOST CMD...: hydra's launcher (mpiexec -launcher ssh
# -launcher-exec mpi-rsh) without ssh: the command line goes to mpi-node's
# listener on HOST (port $GEARS_MPI_PORT, default 7077) and the connection
# stays open while the command runs, as an ssh session would; its output comes
# back on our stdout.
while [ $# -gt 0 ]; do
	case $1 in
	-*) shift ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || { echo "usage: mpi-rsh [-x] HOST CMD..." >&2; exit 2; }
host=$1
shift
printf '%s\n' "$*" | exec nc "$host" "${GEARS_MPI_PORT:-7077}"
