# Compare `strace -f` output (file 1) with `gears trace --json` turned into
# "TID NAME RET [PATH]" lines (file 2), process by process: every process strace
# saw must appear in gears' trace with the same calls, in the same order, with
# the same return values (and paths for openat/execve). gears may see more
# calls before a process's first one in strace (a child's pre-exec set-up made
# before strace attached) but none missing or different in between.
#
# strace lines: "PID name(args) = RET", split across "<unfinished ...>" and
# "<... name resumed>" when processes interleave; signals and exits are skipped.

function hex2dec(h,    i, c, v) {
	v = 0
	h = tolower(substr(h, 3))
	for (i = 1; i <= length(h); i++) {
		c = index("0123456789abcdef", substr(h, i, 1)) - 1
		v = v * 16 + c
	}
	return sprintf("%.0f", v)
}

function norm_ret(r,    a) {
	sub(/^ +/, "", r)
	if (r ~ /^-1 E[A-Z0-9]+/) { split(r, a, " "); return "-" a[2] }
	if (r ~ /^0x[0-9a-f]+/) { split(r, a, " "); return hex2dec(a[1]) }
	split(r, a, " ")
	return a[1]
}

function first_string(s,    m) {
	if (match(s, /"[^"]*"/))
		return substr(s, RSTART + 1, RLENGTH - 2)
	return ""
}

function emit_strace(pid, name, args, ret,    line) {
	line = name " " norm_ret(ret)
	if (name == "openat" || name == "execve")
		line = line " " first_string(args)
	S[pid, ++ns[pid]] = line
	if (!(pid in seen)) { seen[pid] = 1; pids[++npids] = pid }
}

FNR == NR {
	if ($0 ~ /^[0-9]+ +(\+\+\+|---)/) next
	pid = $1
	rest = $0
	sub(/^[0-9]+ +/, "", rest)
	if (rest ~ /<unfinished \.\.\.>$/) {
		name = rest; sub(/\(.*/, "", name)
		args = rest; sub(/^[^(]*\(/, "", args); sub(/ *<unfinished \.\.\.>$/, "", args)
		pend_name[pid] = name; pend_args[pid] = args
		next
	}
	if (rest ~ /^<\.\.\. [a-z0-9_]+ resumed>/) {
		name = rest; sub(/^<\.\.\. /, "", name); sub(/ resumed>.*/, "", name)
		args = pend_args[pid] rest
		ret = match(rest, /\) += /) ? substr(rest, RSTART + RLENGTH) : "?"
		emit_strace(pid, name, args, ret)
		next
	}
	if (rest !~ /^[a-z0-9_]+\(/) next
	name = rest; sub(/\(.*/, "", name)
	n = split(rest, parts, /\) += /)
	ret = n > 1 ? parts[n] : "?"
	emit_strace(pid, name, rest, ret)
	next
}

{
	pid = $1
	line = $0; sub(/^[0-9]+ /, "", line)
	O[pid, ++no[pid]] = line
}

END {
	bad = 0
	if (npids == 0) { print "strace_cmp: no processes in the strace output"; exit 1 }
	for (k = 1; k <= npids; k++) {
		pid = pids[k]
		found = 0
		for (start = 1; start + ns[pid] - 1 <= no[pid] && !found; start++) {
			ok = 1
			for (i = 1; i <= ns[pid] && ok; i++)
				if (O[pid, start + i - 1] != S[pid, i]) ok = 0
			if (ok) found = 1
		}
		if (!found) {
			bad = 1
			printf "process %s: strace saw %d calls, gears %d; first difference:\n", pid, ns[pid], no[pid]
			# show the best alignment: from gears' match of strace's first call
			for (start = 1; start <= no[pid] && O[pid, start] != S[pid, 1]; start++) ;
			for (i = 1; i <= ns[pid]; i++) {
				if (O[pid, start + i - 1] != S[pid, i]) {
					for (j = (i > 3 ? i - 3 : 1); j <= i + 2 && j <= ns[pid]; j++)
						printf "  #%d strace: %-30s gears: %s\n", j, S[pid, j], O[pid, start + j - 1]
					break
				}
			}
		} else {
			total += ns[pid]
		}
	}
	if (!bad) printf "%d processes, %d calls identical\n", npids, total
	exit bad
}
