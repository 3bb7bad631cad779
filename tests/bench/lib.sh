# Shared by the benchmark scripts (sourced, not run).

# now_ns: nanoseconds of the wall clock.
now_ns() { date +%s%N; }

# per_run_ms N CMD...: average milliseconds of N runs of CMD (output
# discarded), fork and exec included, as a shell script would see them.
per_run_ms() {
	n=$1
	shift
	t0=$(now_ns)
	i=0
	while [ $i -lt "$n" ]; do
		"$@" >/dev/null 2>&1 </dev/null
		i=$((i + 1))
	done
	t1=$(now_ns)
	echo "$t0 $t1 $n" | awk '{ printf "%.2f", ($2 - $1) / 1e6 / $3 }'
}

# rate COUNT NS: COUNT per second for a span of NS nanoseconds.
rate() { echo "$1 $2" | awk '{ printf "%.0f", $1 / ($2 / 1e9) }'; }
