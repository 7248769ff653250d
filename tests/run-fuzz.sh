#!/bin/sh
# Run each libFuzzer target for a short time ($1 seconds) from its seed corpus
# (tests/fuzz/corpus/<name>/, if present). Any crash, leak or timeout fails.
set -u
secs=$1; shift
fail=0
for f in "$@"; do
	name=$(basename "$f")
	work=build/fuzz/work/$name
	rm -rf "$work"; mkdir -p "$work/corpus"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/corpus/"
	echo "== fuzz $name (${secs}s)"
	if ! "$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -artifact_prefix="$work/" \
		-print_final_stats=0 "$work/corpus" >"$work/log" 2>&1; then
		tail -40 "$work/log"
		echo "FAILED: $name (artifacts in $work)"
		fail=1
	else
		grep -E '^#[0-9]+.*(DONE|pulse)' "$work/log" | tail -1
	fi
done
exit $fail
