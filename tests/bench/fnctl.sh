#!/bin/sh
# fnctl: start-up, one invocation in each mode, and invocations per second
# in each mode, beside `cat` and `jq` started the same way (DESIGN.md:
# start-up under 3 ms; jq 27 ms and cat 1.6 ms measured here earlier).
. tests/bench/lib.sh
command -v fnctl >/dev/null || { echo "fnctl is not built: run make"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EVKIT_STATE="$tmp/state.db"
fnctl create echo-spawn -- cat
fnctl create echo-stream --mode stream -- cat

echo "start-up (ms per run, 200 runs, fork+exec included):"
printf '  %-34s %8s ms\n' "cat /dev/null (baseline)" "$(per_run_ms 200 cat /dev/null)"
if command -v jq >/dev/null; then
	printf '  %-34s %8s ms\n' "jq -n 1 (baseline)" "$(per_run_ms 50 jq -n 1)"
fi
printf '  %-34s %8s ms\n' "fnctl --help" "$(per_run_ms 200 fnctl --help)"
printf '  %-34s %8s ms\n' "fnctl invoke (spawn mode, 1 call)" \
	"$(per_run_ms 200 fnctl invoke echo-spawn '{"a":1}')"
printf '  %-34s %8s ms\n' "fnctl invoke (stream mode, 1 call)" \
	"$(per_run_ms 200 fnctl invoke echo-stream '{"a":1}')"

echo "invocations per second (one fnctl reading payload lines):"
for mode in spawn stream; do
	n=5000
	[ $mode = spawn ] && n=2000
	seq 1 $n | sed 's/.*/{"n":&}/' >"$tmp/in"
	t0=$(now_ns)
	fnctl invoke echo-$mode <"$tmp/in" >"$tmp/out"
	t1=$(now_ns)
	got=$(wc -l <"$tmp/out")
	[ "$got" -eq $n ] || echo "  (only $got of $n answers!)"
	printf '  %-34s %8s /s\n' "$mode mode ($n calls)" "$(rate $n $((t1 - t0)))"
done
