#!/bin/sh
# share: host directories in the guest over virtiofs, host-enforced read-only,
# and `gears run -- ./prog` running the host's program in the current directory.
. "$(dirname "$0")/../../../../tests/vm/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip test_share: virtiofsd needs root"; exit 0; }
mkdir -p "$TMP/rw" "$TMP/ro" "$TMP/work"
echo from-host >"$TMP/rw/in.txt"
echo keep >"$TMP/ro/keep.txt"

# Writable share at another path, a read-only one at the same path, in one boot.
out=$("$GEARS" run --share "$TMP/rw:/mnt/rw" --share "$TMP/ro,ro" -- sh -c '
	cat /mnt/rw/in.txt; echo from-guest >/mnt/rw/out.txt
	cat '"$TMP"'/ro/keep.txt; echo x >'"$TMP"'/ro/new.txt 2>/dev/null && echo wrote-ro
	mount -o remount,rw '"$TMP"'/ro 2>/dev/null; echo y >'"$TMP"'/ro/new2.txt 2>/dev/null && echo wrote-ro2
	true') || fail "run with shares failed: $out"
[ "$(echo "$out" | head -2)" = "$(printf 'from-host\nkeep')" ] || fail "guest read: $out"
[ "$(cat "$TMP/rw/out.txt")" = from-guest ] || fail "the guest's write did not reach the host"
echo "$out" | grep -q wrote-ro && fail "wrote into a read-only share"
[ ! -e "$TMP/ro/new.txt" ] && [ ! -e "$TMP/ro/new2.txt" ] || fail "a file appeared in the read-only share"
ok "read-write and read-only shares; read-only holds even after the guest remounts it rw"

# ./prog is the host's program, run in the current directory shared at its own path.
cat >"$TMP/work/prog.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char cwd[4096], line[64] = "";
	FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;

	if (!f || !fgets(line, sizeof(line), f) || !getcwd(cwd, sizeof(cwd)))
		return 3;
	printf("%s %s", cwd, line);
	return 0;
}
C
gcc -O2 -o "$TMP/work/prog" "$TMP/work/prog.c" || fail "cannot build the test program"
echo relative-arg >"$TMP/work/arg.txt"
out=$(cd "$TMP/work" && "$GEARS" run -- ./prog arg.txt) || fail "./prog failed: $out"
[ "$out" = "$TMP/work relative-arg" ] || fail "./prog printed '$out', expected '$TMP/work relative-arg'"
ok "gears run -- ./prog runs the host program in the current directory"

# The same program traced: the trace names the file it opened, relative as given.
(cd "$TMP/work" && "$GEARS" trace -e openat -- ./prog arg.txt) >"$TMP/trace.out" 2>&1 ||
	fail "gears trace -- ./prog failed: $(tail -5 "$TMP/trace.out")"
grep -q 'openat(AT_FDCWD, "arg.txt"' "$TMP/trace.out" || fail "trace did not show the open of arg.txt: $(cat "$TMP/trace.out")"
ok "gears trace -- ./prog traces the host program"

# Bad input: a clear error before anything boots.
"$GEARS" run --share /nonexistent/dir -- true 2>"$TMP/err"
[ $? = 1 ] && grep -q "not a directory" "$TMP/err" || fail "missing share dir: $(cat "$TMP/err")"
"$GEARS" run --share "$TMP/rw:relative" -- true 2>"$TMP/err"
[ $? = 1 ] && grep -q "absolute" "$TMP/err" || fail "relative guest dir: $(cat "$TMP/err")"
ok "bad --share arguments get clear errors"
