#!/usr/bin/env bats
# evroute's command-line contracts. EVKIT_BIN is the folder of the programs
# under test (tests/run points it at the sanitizer build).

setup() {
	EVROUTE="${EVKIT_BIN:-$BATS_TEST_DIRNAME/../../bin}/evroute"
	export LC_ALL=C
	unset EVKIT_STATE XDG_STATE_HOME NO_COLOR
	cd "$BATS_TEST_TMPDIR"
}

# t STATUS STDOUT ARGS... : run evroute with ARGS, check status and stdout.
t() {
	local want_status=$1 want_out=$2
	shift 2
	run "$EVROUTE" "$@"
	if [ "$status" -ne "$want_status" ] || [ "$output" != "$want_out" ]; then
		echo "evroute $*"
		echo "status $status, want $want_status"
		echo "output: $output"
		echo "want:   $want_out"
		return 1
	fi
}

@test "test: one event, exit status like grep" {
	t 0 true test '{"a":["x"]}' '{"a":"x"}'
	t 1 false test '{"a":["x"]}' '{"a":"y"}'
	t 0 true test '{"a":[{"prefix":"ab"}]}' '{"a":"abc"}'
	t 0 true test '{"a":{"b":[1]}}' '{"a.b":1.0}'
	t 1 false test '{"a":[{"anything-but":"x"}]}' '{"b":"y"}'
	t 0 true test '{"a":[{"regexp":"a~.c"}]}' '{"a":"a.c"}'
}

@test "test: an invalid pattern exits 2 with AWS's message" {
	run "$EVROUTE" test '{"a":[]}' '{}'
	[ "$status" -eq 2 ]
	[ "$output" = "evroute: Event pattern is not valid. Reason: Empty arrays are not allowed" ]
	run "$EVROUTE" test --aws '{"a":[{"regexp":"x"}]}' '{}'
	[ "$status" -eq 2 ]
	[[ "$output" == *"Unrecognized match type regexp"* ]]
	run "$EVROUTE" test '{"a":[{"wildcard":"*:*:*:*:*:event-bus/*"}]}' '{}'
	[ "$status" -eq 2 ]
	[[ "$output" == *"Rule is too complex"* ]]
}

@test "test: an invalid event argument exits 2 and says where" {
	run "$EVROUTE" test '{"a":[1]}' '{"a":1'
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid JSON at column 7"* ]]
}

@test "test: PATTERN from @FILE" {
	printf '{"a":[1]}\n' > p.json
	t 0 true test @p.json '{"a":1}'
	run "$EVROUTE" test @missing.json '{}'
	[ "$status" -eq 2 ]
}

@test "test: events on stdin, one verdict per line, last decides" {
	run sh -c "printf '%s\n' '{\"a\":1}' '{\"a\":2}' | '$EVROUTE' test '{\"a\":[1]}'"
	[ "$status" -eq 1 ]
	[ "$output" = "$(printf 'true\nfalse')" ]
	run sh -c "printf '%s\n' '{\"a\":2}' '{\"a\":1}' | '$EVROUTE' test '{\"a\":[1]}'"
	[ "$status" -eq 0 ]
}

@test "test: bad lines on stdin are reported, skipped, and exit 3" {
	run sh -c "printf '%s\n' '{\"a\":1}' 'nope' '[1]' '{\"a\":1}' | '$EVROUTE' test '{\"a\":[1]}' 2>err"
	[ "$status" -eq 3 ]
	[ "$output" = "$(printf 'true\ntrue')" ]
	grep -q 'stdin:2: invalid JSON at column 1' err
	grep -q 'stdin:3: an event must be a JSON object' err
	run sh -c "printf '%s\n' 'nope' '{\"a\":1}' | '$EVROUTE' test --strict '{\"a\":[1]}' 2>/dev/null"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	run sh -c "printf '%s\n' 'nope' '{\"a\":1}' | '$EVROUTE' test --rejects rej '{\"a\":[1]}' 2>/dev/null"
	[ "$(cat rej)" = "nope" ]
}

@test "match: events pass through byte for byte" {
	printf '[{"a":[1]}]\n' > r.json
	printf '%s\n' '{"b" :  2, "a":1.000, "big": 1700000000000000007}' '{"a":2}' \
		'{"a":[3,1],"x":"\u00e9"}' > in
	run sh -c "'$EVROUTE' match r.json < in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' '{"b" :  2, "a":1.000, "big": 1700000000000000007}' '{"a":[3,1],"x":"\u00e9"}')" ]
	# files as operands, in order
	run "$EVROUTE" match r.json in in
	[ "${#lines[@]}" -eq 4 ]
}

@test "match: --names and --count" {
	printf '{"one":{"a":[1]},"two":{"b":[{"exists":true}]}}\n' > r.json
	run sh -c "printf '%s\n' '{\"a\":1,\"b\":0}' '{\"b\":\"x\"}' '{}' | '$EVROUTE' match --names r.json"
	[ "$output" = "$(printf '%s\n' '{"rules":["one","two"],"event":{"a":1,"b":0}}' '{"rules":["two"],"event":{"b":"x"}}')" ]
	run sh -c "printf '%s\n' '{\"a\":1,\"b\":0}' '{\"b\":\"x\"}' '{}' | '$EVROUTE' match --count r.json"
	[ "$output" = '{"one":1,"two":2}' ]
	run "$EVROUTE" match --count --names r.json
	[ "$status" -eq 2 ]
}

@test "match: rule files in every accepted shape" {
	# AWS rule shapes, EventPattern as a string and as an object
	cat > aws.json <<'EOF'
[{"Name":"s","EventPattern":"{\"a\":[1]}"},
 {"Name":"o","EventPattern":{"a":[{"numeric":[">",0]}]}},
 {"Name":"off","State":"DISABLED","EventPattern":{"a":[1]}},
 {"Name":"cron","ScheduleExpression":"rate(5 minutes)"}]
EOF
	run sh -c "echo '{\"a\":1}' | '$EVROUTE' match --count aws.json"
	[ "$output" = '{"s":1,"o":1,"off":0}' ]
	# aws events list-rules output
	printf '{"Rules":[{"Name":"x","EventPattern":"{\\"a\\":[1]}"}]}\n' > list.json
	run sh -c "echo '{\"a\":1}' | '$EVROUTE' match --count list.json"
	[ "$output" = '{"x":1}' ]
	# bare patterns, named by index
	printf '[{"a":[2]},{"a":[1]}]\n' > bare.json
	run sh -c "echo '{\"a\":1}' | '$EVROUTE' match --names bare.json"
	[ "$output" = '{"rules":["1"],"event":{"a":1}}' ]
	# a single pattern
	printf '{"a":[1]}\n' > one.json
	run sh -c "echo '{\"a\":1}' | '$EVROUTE' match --count one.json"
	[ "$output" = '{"0":1}' ]
	# a single pattern on envelope fields only, not a map of rules
	printf '{"detail":{"state":["x"]}}\n' > env.json
	run sh -c "echo '{\"detail\":{\"state\":\"x\"}}' | '$EVROUTE' match --count env.json"
	[ "$output" = '{"0":1}' ]
}

@test "match: any number of threads gives the same output, order and messages" {
	printf '{"even":{"n":[{"numeric":[">=",0]}],"odd":[false]},"big":{"n":[{"numeric":[">",29000]}]}}\n' > r.json
	awk 'BEGIN { for (i = 1; i <= 40000; i++) {
		if (i % 977 == 0) print "{bad"; else if (i % 1231 == 0) print "[" i "]";
		else printf "{\"n\":%d,\"odd\":%s,\"pad\":\"%070d\"}\n", i, (i % 2 ? "true" : "false"), i } }' > in
	"$EVROUTE" match -j 1 r.json < in > out1 2> err1 || true
	for j in 2 3; do
		run sh -c "'$EVROUTE' match -j $j r.json < in > out$j 2> err$j"
		[ "$status" -eq 3 ]
		cmp out1 out$j
		cmp err1 err$j
		run sh -c "cat in | '$EVROUTE' match -j $j --names r.json 2>/dev/null | tail -1"
		[ "$output" = "{\"rules\":[\"even\",\"big\"],\"event\":{\"n\":40000,\"odd\":false,\"pad\":\"$(printf '%070d' 40000)\"}}" ]
	done
	grep -q 'stdin:977: invalid JSON at column 2' err1
	grep -q 'stdin:1231: an event must be a JSON object' err1
	[ "$(wc -l < out1)" -gt 19000 ]
}

@test "match: output for a line is written before waiting for more input" {
	printf '[{"a":[1]}]\n' > r.json
	mkfifo fifo
	"$EVROUTE" match r.json < fifo > out &
	exec 5> fifo
	echo '{"a":1}' >&5
	for i in $(seq 50); do [ -s out ] && break; sleep 0.1; done
	[ "$(cat out)" = '{"a":1}' ]
	exec 5>&-
	wait
}

@test "match: bad event lines exit 3, the rest are matched" {
	printf '[{"a":[1]}]\n' > r.json
	run sh -c "printf '%s\n' '{\"a\":1' '{\"a\":1}' | '$EVROUTE' match r.json 2>err"
	[ "$status" -eq 3 ]
	[ "$output" = '{"a":1}' ]
	grep -q 'stdin:1: invalid JSON at column 7' err
}

@test "check: silent when valid, names the rule when not" {
	printf '[{"Name":"ok","EventPattern":{"a":[1]}}]\n' > good.json
	printf '{"ok":{"a":[1]},"bad":{"a":[{"numeric":[">",1,">",2]}]}}\n' > bad.json
	t 0 "" check good.json
	run "$EVROUTE" check good.json bad.json
	[ "$status" -eq 2 ]
	[ "$output" = "evroute: bad.json: rule bad: Event pattern is not valid. Reason: Bad numeric range operator: >" ]
	printf '{"r":{"a":[{"shellstyle":"x*"}]}}\n' > ext.json
	t 0 "" check ext.json
	run "$EVROUTE" check --aws ext.json
	[ "$status" -eq 2 ]
	printf '[{"Name":"d","EventPattern":{"a":[1]}},{"Name":"d","EventPattern":{"a":[2]}}]\n' > dup.json
	run "$EVROUTE" check dup.json
	[ "$status" -eq 2 ]
	[[ "$output" == *"rule d: the name is used twice"* ]]
	t 0 "" check '{"a":[1]}' '[{"b":[{"prefix":"x"}]}]'
	run "$EVROUTE" check '{"a":[{"prefix":1}]}'
	[ "$status" -eq 2 ]
	[ "$output" = "evroute: RULES: rule 0: Event pattern is not valid. Reason: prefix match pattern must be a string" ]
	t 0 "" check @good.json
	printf 'not json\n' > nj.json
	run "$EVROUTE" check nj.json
	[ "$status" -eq 2 ]
	[[ "$output" == *"nj.json: invalid JSON"* ]]
}

@test "--max-length changes the limit" {
	long=$(printf '{"a":["%03000d"]}' 0)
	run "$EVROUTE" test "$long" '{}'
	[ "$status" -eq 2 ]
	[[ "$output" == *"limit is 2048"* ]]
	run "$EVROUTE" test --max-length 4000 "$long" '{}'
	[ "$status" -eq 1 ]
}

@test "usage: --help, unknown options and commands" {
	run "$EVROUTE" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"match"* ]]
	run "$EVROUTE" match --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--count"* ]]
	run "$EVROUTE" test --bogus '{}' '{}'
	[ "$status" -eq 2 ]
	run "$EVROUTE" frobnicate
	[ "$status" -eq 2 ]
	run "$EVROUTE" test
	[ "$status" -eq 2 ]
}

@test "completion comes from the option table" {
	run "$EVROUTE" --complete 1 evroute ''
	[[ "$output" == *match* && "$output" == *check* && "$output" == *test* ]]
	run "$EVROUTE" --complete 2 evroute match --
	[[ "$output" == *--names* && "$output" == *--count* ]]
}

@test "the man page's EXAMPLES run as written" {
	man="$BATS_TEST_DIRNAME/../../man/evroute.1"
	[ -f "$man" ]
	mkdir -p bin
	ln -s "$EVROUTE" bin/evroute
	# Each "$ command" line of a literal block runs; the lines after it,
	# up to the next command, are its expected output (stdout and stderr).
	awk '/^\.Sh EXAMPLES/ { on = 1 } /^\.Sh SEE ALSO/ { on = 0 }
	     on && /^\.Bd -literal/ { lit = 1; next } on && /^\.Ed/ { lit = 0; next }
	     on && lit { gsub(/\\e/, "\\"); print }' "$man" > examples
	[ -s examples ]
	n=0
	cmd=
	: > expected
	while IFS= read -r line || [ -n "$cmd" ]; do
		case "$line" in
		'$ '*|'')
			if [ -n "$cmd" ]; then
				got=$(PATH="$PWD/bin:$PATH" sh -c "$cmd" 2>&1 || true)
				if [ "$got" != "$(cat expected)" ]; then
					echo "example: $cmd"; echo "got:"; echo "$got"; echo "want:"; cat expected
					return 1
				fi
				n=$((n + 1))
			fi
			cmd=${line#\$ }
			: > expected
			[ -z "$line" ] && break
			;;
		*) printf '%s\n' "$line" >> expected ;;
		esac
	done < examples
	[ "$n" -ge 6 ]
}
