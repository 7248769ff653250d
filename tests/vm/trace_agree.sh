#!/bin/sh
# trace_agree.sh STRACE_OUT GEARS_OUT DIFFS: how many of strace's lines (strace
# -f -o) gears printed identically (gears trace -f --strace-format -o, which may
# hold more processes), per process, after normalising addresses (0x and 5 or
# more hex digits) only; strace's split lines (<unfinished ...>, <... resumed>)
# are joined as strace would have printed them whole. Prints
# "PCT % identical (SAME of TOTAL strace lines; calls alone PCT %)[; differing:
# CALL N, ...]" ("---" and "+++" stand for strace's signal and exit lines) and
# writes the differing lines (-strace, +gears) to DIFFS.
set -u
s=$1 g=$2 d=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
norm() {
	awk '
	function addr(s) { gsub(/0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+/, "0xADDR", s); return s }
	/^[0-9]+ / {
		pid = $1; rest = $0; sub(/^[0-9]+ +/, "", rest)
		if (rest ~ / <unfinished \.\.\.>$/) { sub(/ <unfinished \.\.\.>$/, "", rest); pend[pid] = rest; next }
		if (rest ~ /^<\.\.\. [a-z0-9_]+ resumed>/) {
			sub(/^<\.\.\. [a-z0-9_]+ resumed> ?/, "", rest); rest = pend[pid] rest; delete pend[pid]
			# "= RET" at column 40, where strace puts it on a whole line
			if (match(rest, /\) += /)) {
				call = substr(rest, 1, RSTART); ret = substr(rest, RSTART + RLENGTH)
				n = length(pid) < 5 ? 6 : length(pid) + 1
				pad = 40 - n - length(call); if (pad < 1) pad = 1
				rest = call sprintf("%" pad "s", "") "= " ret
			}
		}
		print pid, addr(rest)
	}' "$1"
}
norm "$s" >"$tmp/s"
norm "$g" >"$tmp/g"
[ -s "$tmp/s" ] || { echo "no strace lines"; exit 1; }
same=0 total=0
: >"$d"
for pid in $(awk '{ print $1 }' "$tmp/s" | awk '!seen[$0]++'); do
	awk -v p="$pid" '$1 == p { sub(/^[0-9]+ /, ""); print }' "$tmp/s" >"$tmp/sp"
	# gears saw the process before strace took it (strace's set-up of its
	# child): from strace's first line on, when gears has it
	first=$(head -n 1 "$tmp/sp")
	awk -v p="$pid" -v f="$first" '$1 == p { sub(/^[0-9]+ /, ""); if ($0 == f) on = 1; if (on) print }' \
		"$tmp/g" >"$tmp/gp"
	[ -s "$tmp/gp" ] || awk -v p="$pid" '$1 == p { sub(/^[0-9]+ /, ""); print }' "$tmp/g" >"$tmp/gp"
	diff --unchanged-line-format='=%L' --old-line-format='-%L' --new-line-format='+%L' "$tmp/sp" "$tmp/gp" \
		>"$tmp/dp"
	same=$((same + $(grep -c '^=' "$tmp/dp")))
	total=$((total + $(wc -l <"$tmp/sp")))
	grep '^[-+]' "$tmp/dp" | sed "s/^\(.\)/\1$pid /" >>"$d"
done
pct=$(awk -v s=$same -v t=$total 'BEGIN { printf "%.1f", t ? 100 * s / t : 0 }')
# the same for call lines only (not strace's --- signal and +++ exit lines)
ndiff=$(grep -c '^-[0-9]* [a-z_0-9]*(' "$d")
calls=$(grep -vc ' \(---\|+++\) ' "$tmp/s")
cpct=$(awk -v d=$ndiff -v t=$calls 'BEGIN { printf "%.1f", t ? 100 * (t - d) / t : 0 }')
byname=$(grep '^-' "$d" | sed 's/^-[0-9]* //; s/(.*//; s/ .*//' | sort | uniq -c | sort -rn |
	awk '{ printf "%s%s %d", n++ ? ", " : "", $2, $1 }')
echo "$pct % identical ($same of $total strace lines; calls alone $cpct %)${byname:+; differing: $byname}"
