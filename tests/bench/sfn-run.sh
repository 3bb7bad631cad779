#!/bin/sh
# sfn-run: executions per second of a 10-state Pass/Choice chain, the time
# of one Map over 1,000 items, and executions per second of 3 Task states
# calling a local function, beside aws-local-stepfunctions running the same
# definitions in the same script when node and npm can install it
# (../shared/bench/bench_aws_local_sfn.mjs; anchors measured here earlier:
# 3,700 executions/s, Map 54-86 ms, tasks 113-144 executions/s).
# Targets (DESIGN.md): 37,000 executions/s, Map under 5 ms, tasks 10x.
. tests/bench/lib.sh
command -v sfn-run >/dev/null || { echo "sfn-run is not built: run make"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EVKIT_STATE="$tmp/state.db"

# The anchor's own workloads: P0 -> C1 -> ... -> P8 -> S9, each Pass with
# Parameters and States.Format; Map over {v: i} items through Pass -> Pass.
cat >"$tmp/chain.json" <<'EOF'
{"StartAt":"P0","States":{
"P0":{"Type":"Pass","Parameters":{"n.$":"$.n","tag.$":"States.Format('step-{}', $.n)","step":0},"ResultPath":"$.last","Next":"C1"},
"C1":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":0,"Next":"P2"}],"Default":"Bad"},
"P2":{"Type":"Pass","Parameters":{"n.$":"$.n","tag.$":"States.Format('step-{}', $.n)","step":2},"ResultPath":"$.last","Next":"C3"},
"C3":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":0,"Next":"P4"}],"Default":"Bad"},
"P4":{"Type":"Pass","Parameters":{"n.$":"$.n","tag.$":"States.Format('step-{}', $.n)","step":4},"ResultPath":"$.last","Next":"C5"},
"C5":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":0,"Next":"P6"}],"Default":"Bad"},
"P6":{"Type":"Pass","Parameters":{"n.$":"$.n","tag.$":"States.Format('step-{}', $.n)","step":6},"ResultPath":"$.last","Next":"C7"},
"C7":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":0,"Next":"P8"}],"Default":"Bad"},
"P8":{"Type":"Pass","Parameters":{"n.$":"$.n","tag.$":"States.Format('step-{}', $.n)","step":8},"ResultPath":"$.last","Next":"S9"},
"S9":{"Type":"Succeed"},
"Bad":{"Type":"Fail","Error":"Unreachable"}}}
EOF
cat >"$tmp/map.json" <<'EOF'
{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":0,
"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"A","States":{
"A":{"Type":"Pass","Parameters":{"v.$":"$.v","k":1},"Next":"B"},
"B":{"Type":"Pass","ResultPath":"$.copy","End":true}}},"End":true}}}
EOF
cat >"$tmp/tasks.json" <<'EOF'
{"StartAt":"T1","States":{
"T1":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:echo","ResultPath":"$.a","Next":"T2"},
"T2":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:echo","ResultPath":"$.b","Next":"T3"},
"T3":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:echo","ResultPath":"$.c","End":true}}}
EOF

echo "sfn-run (this build):"
n=50000
seq 1 $n | sed 's/.*/{"n":&}/' >"$tmp/in"
t0=$(now_ns)
sfn-run run "$tmp/chain.json" >"$tmp/out" <"$tmp/in"
t1=$(now_ns)
got=$(grep -c '"SUCCEEDED"' "$tmp/out")
[ "$got" -eq $n ] || echo "  (only $got of $n succeeded!)"
printf '  %-44s %8s exec/s   (target 37000)\n' "10-state chain, $n executions" "$(rate $n $((t1 - t0)))"

awk 'BEGIN { printf "{\"items\":["; for (i = 0; i < 1000; i++) printf "%s{\"v\":%d}", i ? "," : "", i; print "]}" }' >"$tmp/items1"
m=200
i=0
while [ $i -lt $m ]; do cat "$tmp/items1"; i=$((i + 1)); done >"$tmp/items"
t0=$(now_ns)
sfn-run run "$tmp/map.json" --output-only <"$tmp/items" >"$tmp/out"
t1=$(now_ns)
got=$(wc -l <"$tmp/out")
[ "$got" -eq $m ] || echo "  (only $got of $m Map executions answered!)"
echo "$t0 $t1 $m" | awk '{ printf "  %-44s %8.2f ms     (target 5)\n", "Map over 1000 items, per execution", ($2 - $1) / 1e6 / $3 }'

if command -v fnctl >/dev/null; then
	fnctl create echo --mode stream -- cat
	k=2000
	seq 1 $k | sed 's/.*/{"n":&}/' >"$tmp/tin"
	t0=$(now_ns)
	sfn-run run "$tmp/tasks.json" --output-only <"$tmp/tin" >"$tmp/out"
	t1=$(now_ns)
	got=$(wc -l <"$tmp/out")
	[ "$got" -eq $k ] || echo "  (only $got of $k task executions answered!)"
	printf '  %-44s %8s exec/s   (target 1130-1440)\n' "3 Tasks, stream-mode fnctl function, $k exec" "$(rate $k $((t1 - t0)))"
fi

# The anchor, when it can be installed (npm, network); skipped otherwise.
anchor=../shared/bench/bench_aws_local_sfn.mjs
cache=${XDG_CACHE_HOME:-$HOME/.cache}/evkit/aws-local-stepfunctions
if [ -f "$anchor" ] && command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d "$cache/node_modules/aws-local-stepfunctions" ]; then
		mkdir -p "$cache" &&
		(cd "$cache" && npm install --silent --no-audit --no-fund aws-local-stepfunctions >/dev/null 2>&1) ||
			echo "  (npm could not install aws-local-stepfunctions: anchor skipped)"
	fi
	if [ -d "$cache/node_modules/aws-local-stepfunctions" ]; then
		cp "$anchor" "$cache/bench.mjs"
		echo "aws-local-stepfunctions (anchor, same machine, same run):"
		(cd "$cache" && node bench.mjs --n 2000 --runs 3 --items 1000) | sed 's/^/  /'
	fi
else
	echo "  (node/npm or $anchor missing: anchor skipped; measured here earlier: 3,700 exec/s, Map 54-86 ms)"
fi
