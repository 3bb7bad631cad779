#!/bin/sh
# sqs-poll: send, receive+delete and the worker, through the command line
# as a script would use them, beside this machine's SQLite ceiling
# (../shared/bench/sqlite_limit.c, built and run here in the same run).
# DESIGN.md targets: 10 K msg/s one message per transaction, 70 K msg/s in
# batches of 10.
. tests/bench/lib.sh
command -v sqs-poll >/dev/null || { echo "sqs-poll is not built: run make"; exit 1; }
n=${BENCH_MESSAGES:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EVKIT_STATE="$tmp/state.db"
awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"job\":%d,\"pad\":\"%0200d\"}\n", i, 0 }' >"$tmp/bodies"

# time_ns CMD...: run it, print its wall time in nanoseconds.
time_ns() {
	t0=$(now_ns)
	"$@"
	t1=$(now_ns)
	echo $((t1 - t0))
}

consume() { # QUEUE BATCH
	sqs-poll recv "$1" -n "$2" --until-empty --attributes None | sqs-poll delete "$1"
}

cycle() { # BATCH CONSUMERS
	q=q$1x$2
	sqs-poll create $q >/dev/null
	ts=$(time_ns sh -c "sqs-poll send $q --batch $1 <'$tmp/bodies' >/dev/null")
	t0=$(now_ns)
	i=0
	while [ $i -lt "$2" ]; do consume $q "$1" & i=$((i + 1)); done
	wait
	t1=$(now_ns)
	left=$(sqs-poll get-attributes $q | jq -r '.Attributes.ApproximateNumberOfMessages')
	tr=$((t1 - t0))
	printf '  batch %-2s consumers %s   send %7s/s   recv+delete %7s/s   all three %7s/s%s\n' \
		"$1" "$2" "$(rate "$n" "$ts")" "$(rate "$n" "$tr")" "$(rate "$n" $((ts + tr)))" \
		"$([ "$left" -eq 0 ] || echo "   ($left left!)")"
}

echo "evkit sqs-poll, $n messages of ~220 bytes, through the CLI:"
cycle 1 1
cycle 10 1
cycle 1 4
cycle 10 4

bl="${XDG_CACHE_HOME:-$HOME/.cache}/evkit/sqlite_limit"
if [ -f ../shared/bench/sqlite_limit.c ]; then
	mkdir -p "$(dirname "$bl")"
	[ -x "$bl" ] || cc -O2 -o "$bl" ../shared/bench/sqlite_limit.c -lsqlite3 2>/dev/null
fi
if [ -x "$bl" ]; then
	echo "baseline, raw SQLite on this machine (sqlite_limit.c, median of 3 x 1 s):"
	for args in "-m insert -b 1" "-m insert -b 10" "-m recv -b 1 -p 1" "-m recv -b 10 -p 1" \
	            "-m recv -b 1 -p 4" "-m recv -b 10 -p 4"; do
		r=$("$bl" $args -t 1 -r 3 -n 50000 -d "$tmp/limit.db" | sed -n 's/.*median=\([0-9]*\).*/\1/p')
		printf '  %-22s %7s msg/s\n' "$args" "$r"
	done
else
	echo "baseline: ../shared/bench/sqlite_limit.c is not here; skipped"
fi

echo "worker, trivial command (true), $((n / 4)) messages:"
head -n $((n / 4)) "$tmp/bodies" >"$tmp/some"
for c in 1 4; do
	sqs-poll create w$c >/dev/null
	sqs-poll send w$c <"$tmp/some" >/dev/null
	t=$(time_ns sqs-poll work w$c --concurrency $c --idle-exit 0.2 -- true)
	# the idle wait at the end is not work
	printf '  --concurrency %s   %7s msg/s\n' $c "$(rate $((n / 4)) $((t - 200000000)))"
done
if [ -x "$bl" ]; then
	r=$("$bl" -m spawn -t 1 -r 3 -d "$tmp/limit.db" | sed -n 's/.*median=\([0-9]*\).*/\1/p')
	printf '  baseline: posix_spawn(true)+waitpid %7s /s\n' "$r"
fi
