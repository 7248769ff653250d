#!/bin/sh
# gears trace against in-guest strace, in all three modes; -c; --json; filters.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# sigchld: a wait4 that returns while a SIGCHLD is pending (its handler runs on
# the way out of that very call)
WORK='cat /etc/hostname; ls /nonexistent; echo a | cat >/dev/null; sysloop getpid 5 >/dev/null; sigchld >/dev/null; exec true'
to_lines() {	# gears --json -> "TID NAME RET [PATH]"
	jq -r 'select(.compat | not) |
	       "\(.tid) \(.syscall) \(if .errno then "-" + .errno elif .ret == null then "?" else .ret end)" +
	       (if .syscall == "openat" then " " + (.strings["1"] // "")
	        elif .syscall == "execve" then " " + (.strings["0"] // "") else "" end)' "$1"
}

for mode in ring filter exit; do
	"$GEARS" trace --mode $mode -f --json -o "$TMP/ours.json" -- \
		sh -c "strace -f -o /tmp/s.txt sh -c '$WORK'; cat /tmp/s.txt" >"$TMP/strace.txt" 2>"$TMP/err" ||
		fail "$mode: gears trace failed: $(cat "$TMP/err")"
	to_lines "$TMP/ours.json" >"$TMP/ours.txt"
	grep -E '^[0-9]+ ' "$TMP/strace.txt" >"$TMP/s.txt" || fail "$mode: no strace output"
	res=$(awk -f "$HERE/strace_cmp.awk" "$TMP/s.txt" "$TMP/ours.txt") ||
		fail "$mode: trace differs from strace: $res"
	ok "$mode mode equals strace -f: $res"
	# The return value is the one the program saw: wait4 gave sigchld its
	# child's pid, though the SIGCHLD handler ran on its way out (read after
	# signal delivery, ax held the handler frame's 0).
	jq -e -s '[.[] | select(.comm == "sigchld" and (.compat | not))] as $s |
		($s | map(select(.syscall == "wait4"))) as $w |
		($w | length) == 1 and ($w[0].ret > 0) and $w[0].ret != $w[0].tid and
		any($s[]; .tid == $w[0].ret)' "$TMP/ours.json" >/dev/null ||
		fail "$mode: wait4 interrupted by SIGCHLD: $(jq -c 'select(.comm == "sigchld") | [.tid, .syscall, .ret]' "$TMP/ours.json")"
	ok "$mode: wait4 returning with SIGCHLD pending shows the child's pid"
done

# -c counts and errors
"$GEARS" trace -f -c -o "$TMP/c.txt" -- sh -c 'sysloop getpid 1000 >/dev/null; ls /nope 2>/dev/null; true' ||
	fail "-c run failed"
grep -qE '^ *[0-9.]+ +[0-9.]+ +[0-9]+ +100[0-9] +getpid$' "$TMP/c.txt" || fail "-c: no ~1000 getpid: $(cat "$TMP/c.txt")"
grep -qE ' total$' "$TMP/c.txt" || fail "-c: no total line"
awk '$NF == "lstat" || $NF == "newfstatat" || $NF == "stat" { if ($5 ~ /^[0-9]+$/ && $5 > 0) e = 1 } END { exit !e }' \
	"$TMP/c.txt" || fail "-c: the failed stat of /nope is not counted as an error: $(cat "$TMP/c.txt")"
ok "-c summary counts calls and errors"

# -T in ring mode: the timing bit must not change what the stub captures
# (it once sat inside the argv field: execve lost its argv, other calls had an
# argument read as an argv array)
"$GEARS" trace --mode ring -T -f --json -o "$TMP/T.json" -- sh -c 'cat /etc/hostname >/dev/null; true' ||
	fail "-T ring run failed"
jq -e -s '(map(select(.syscall == "execve" and .strings.argv0 == "cat")) | length == 1) and
	  (map(select(.syscall == "execve" and .strings.argv0 == "cat"))[0].strings.argv1 == "/etc/hostname") and
	  (map(select(.syscall != "execve" and ((.strings // {}) | keys | any(startswith("argv"))))) | length == 0)' \
	"$TMP/T.json" >/dev/null ||
	fail "-T ring: execve argv or stray argv captures: $(jq -c 'select(.strings != null) | [.syscall, .strings]' "$TMP/T.json" | head -20)"
ok "-T in ring mode keeps execve's argv and captures no other argv"

# -e filters, and the text format
"$GEARS" trace -e openat -o "$TMP/e.txt" -- cat /etc/hostname >/dev/null || fail "-e run"
grep -q 'openat(AT_FDCWD, "/etc/hostname", O_RDONLY' "$TMP/e.txt" || fail "-e openat: $(cat "$TMP/e.txt")"
! grep -v openat "$TMP/e.txt" | grep -q '(' || fail "-e openat let other calls through"
ok "-e selects calls; strace-like decoding"

# without -f only the command's own process; with -f its children too
"$GEARS" trace --json -o "$TMP/nof.json" -- sh -c 'cat /etc/hostname >/dev/null; true'
"$GEARS" trace -f --json -o "$TMP/f.json" -- sh -c 'cat /etc/hostname >/dev/null; true'
[ "$(jq -r .pid "$TMP/nof.json" | sort -u | wc -l)" = 1 ] || fail "without -f more than one process"
[ "$(jq -r .pid "$TMP/f.json" | sort -u | wc -l)" -ge 2 ] || fail "-f did not follow the child"
ok "-f follows children, its absence does not"

# compat int 0x80 calls, all modes
for mode in ring filter exit; do
	"$GEARS" trace --mode $mode --json -o "$TMP/80.json" -- int80 >/dev/null || fail "int80 ($mode)"
	jq -e -s 'map(select(.compat)) | map(.syscall) == ["getpid", "write", "exit_group"]' "$TMP/80.json" >/dev/null ||
		fail "$mode: int 0x80 calls: $(jq -c -s 'map(select(.compat)) | map(.syscall)' "$TMP/80.json")"
done
ok "compat int 0x80 calls in every mode"
