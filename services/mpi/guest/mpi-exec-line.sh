#!/bin/sh
# mpi-exec-line: run by mpi-node for each launcher connection: the first line
# read is the command (as ssh's remote shell would run it); an empty line is a
# readiness probe.
exec 2>&1
IFS= read -r line || exit 0
[ -n "$line" ] || exit 0
exec sh -c "$line"
