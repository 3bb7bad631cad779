#!/usr/bin/env bats
# sfn-run: validate, run (success, failure, time-outs, the payload limit,
# tasks through --fn, -j, history, rejected input) and graph.

load helpers

setup() {
	setup_evkit
	export EVKIT_STATE="$WORK/state.db"
	cat >chain.json <<'DEF'
{"StartAt":"A","States":{
 "A":{"Type":"Pass","Result":{"n":1},"ResultPath":"$.r","Next":"C"},
 "C":{"Type":"Choice","Choices":[{"Variable":"$.go","BooleanEquals":true,"Next":"Done"}],"Default":"Stop"},
 "Done":{"Type":"Succeed"},
 "Stop":{"Type":"Fail","Error":"NotGoing","Cause":"go was not true"}}}
DEF
}

teardown() {
	teardown_evkit
}

@test "help and usage errors" {
	expect 0 sfn-run --help
	[[ $output == *"usage: sfn-run COMMAND"* ]]
	[[ $output == *"validate DEF"* ]]
	expect 0 sfn-run run --help
	[[ $output == *"--virtual-time"* ]]
	[[ $output == *"--fn NAME=CMD"* ]]
	expect 2 sfn-run
	expect 2 sfn-run frobnicate
	expect 2 sfn-run run
	expect 2 sfn-run run chain.json --bogus
	expect 2 sfn-run run chain.json -j 0
	expect 2 sfn-run run chain.json --fn noequals
	expect 2 sfn-run run missing.json </dev/null
	[[ $output == *"missing.json"* ]]
}

@test "validate: a good definition, a bad one, and text that is not JSON" {
	expect 0 sfn-run validate chain.json
	[ "$output" = '{"result":"OK","diagnostics":[],"truncated":false}' ]
	echo '{"States":{"A":{"Type":"Pass","End":true}}}' >nostart.json
	expect 2 sfn-run validate nostart.json
	[[ $output == *'"result":"FAIL"'* ]]
	[[ $output == *'"code":"SCHEMA_VALIDATION_FAILED"'* ]]
	[[ $output == *'"message":"These fields are required: [StartAt]"'* ]]
	[[ $output == *'"location":"/"'* ]]
	echo '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"}}}' >dangling.json
	expect 2 sfn-run validate dangling.json
	[[ $output == *"Missing 'Next' target: Nowhere"* ]]
	echo 'not a definition' >text.json
	expect 2 sfn-run validate text.json
	[[ $output == *'"code":"INVALID_JSON_DESCRIPTION"'* ]]
	expect 2 sfn-run run dangling.json </dev/null
	[[ $output == *"invalid definition"* ]]
}

@test "run: one DescribeExecution line per input line, in order" {
	printf '{"go":true,"i":1}\n{"go":true,"i":2}\n' >in
	expect 0 sfn-run run chain.json <in
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == '{"executionArn":"arn:aws:states:us-east-1:000000000000:execution:chain:'* ]]
	[[ ${lines[0]} == *'"stateMachineArn":"arn:aws:states:us-east-1:000000000000:stateMachine:chain"'* ]]
	[[ ${lines[0]} == *'"status":"SUCCEEDED"'* ]]
	[[ ${lines[0]} == *'"startDate":"'*'"stopDate":"'* ]]
	[[ ${lines[0]} == *'"input":{"go":true,"i":1},"output":{"go":true,"i":1,"r":{"n":1}}'* ]]
	[[ ${lines[1]} == *'"input":{"go":true,"i":2}'* ]]
	AWS_ACCOUNT_ID=123456789012 AWS_REGION=eu-west-1 expect 0 sfn-run run chain.json --name job <in
	[[ ${lines[0]} == '{"executionArn":"arn:aws:states:eu-west-1:123456789012:execution:chain:job-1"'* ]]
	[[ ${lines[1]} == *'"name":"job-2"'* ]]
}

@test "run --output-only chains into another run" {
	echo '{"go":true}' | sfn-run run chain.json --output-only >out
	[ "$(cat out)" = '{"go":true,"r":{"n":1}}' ]
	echo '{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.r","End":true}}}' >second.json
	run sh -c 'echo "{\"go\":true}" | sfn-run run chain.json --output-only | sfn-run run second.json --output-only'
	[ "$status" -eq 0 ]
	[ "$output" = '{"n":1}' ]
}

@test "a failed execution: status, error and cause, exit 1" {
	expect 1 sfn-run run chain.json <<<'{"go":false}'
	[[ $output == *'"status":"FAILED"'* ]]
	[[ $output == *'"error":"NotGoing","cause":"go was not true"'* ]]
	[[ $output != *'"output"'* ]]
	expect 1 sfn-run run chain.json --output-only <<<'{"go":false}'
	[[ $output == *"FAILED: NotGoing: go was not true"* ]]
}

@test "runtime errors carry AWS's message" {
	echo '{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}' >wait.json
	expect 1 sfn-run run wait.json --virtual-time <<<'{"s":-1}'
	[[ $output == *'"error":"States.Runtime"'* ]]
	[[ $output == *"An error occurred while executing the state 'W' (entered at the event id #2). The SecondsPath parameter references a negative value: \$.s == -1"* ]]
}

@test "--virtual-time: an hour's Wait takes no time and moves the dates" {
	echo '{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}' >wait.json
	expect 0 sfn-run run wait.json --virtual-time <<<'{}'
	start=$(echo "$output" | sed 's/.*"startDate":"\([^"]*\)".*/\1/')
	stop=$(echo "$output" | sed 's/.*"stopDate":"\([^"]*\)".*/\1/')
	[ "${start:11:2}" != "${stop:11:2}" ] || [ "${start:8:2}" != "${stop:8:2}" ]
	[ "${start:14:9}" = "${stop:14:9}" ]
}

@test "an execution that times out" {
	echo '{"TimeoutSeconds":5,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}' >slow.json
	expect 1 sfn-run run slow.json --virtual-time <<<'{}'
	[[ $output == *'"status":"TIMED_OUT"'* ]]
}

@test "the 256 KiB payload limit" {
	echo '{"StartAt":"Big","States":{"Big":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s","c.$":"$.s","d.$":"$.s","e.$":"$.s"},"End":true}}}' >big.json
	s=$(head -c 60000 /dev/zero | tr '\0' x)
	expect 1 sfn-run run big.json <<<"{\"s\":\"$s\"}"
	[[ $output == *'"error":"States.DataLimitExceeded"'* ]]
	[[ $output == *"The state/task 'Big' returned a result with a size exceeding the maximum number of bytes service limit."* ]]
}

@test "Task states call --fn commands; errorType becomes the error" {
	cat >tasks.json <<'DEF'
{"StartAt":"Up","States":{
 "Up":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:upper","ResultPath":"$.up","Next":"Boom"},
 "Boom":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:boom",
  "Retry":[{"ErrorEquals":["Oops"],"IntervalSeconds":5,"MaxAttempts":2}],
  "Catch":[{"ErrorEquals":["Oops"],"ResultPath":"$.err","Next":"Done"}],"End":true},
 "Done":{"Type":"Pass","End":true}}}
DEF
	cat >boom.sh <<'SH'
#!/bin/sh
cat >/dev/null
echo x >>boom.count
echo '{"errorType":"Oops","errorMessage":"it went boom"}' >&2
exit 1
SH
	chmod +x boom.sh
	expect 0 sfn-run run tasks.json --virtual-time --fn 'upper=tr a-z A-Z' --fn "boom=$WORK/boom.sh" <<<'{"w":"abc"}'
	[[ $output == *'"status":"SUCCEEDED"'* ]]
	[[ $output == *'"up":{"W":"ABC"}'* ]]
	[[ $output == *'"err":{"Error":"Oops","Cause":'* ]]
	[ "$(wc -l <boom.count)" -eq 3 ]   # the first try and two retries
	expect 1 sfn-run run tasks.json --fn 'upper=tr a-z A-Z' <<<'{"w":"abc"}'
	[[ $output == *'"error":"Lambda.ResourceNotFoundException"'* ]]
}

@test "-j: more executions than processes allowed, answers in input order" {
	printf '{"go":true,"i":%d}\n' 1 2 3 4 5 6 7 >in
	expect 0 sfn-run run chain.json -j 2 --output-only <in
	[ "${#lines[@]}" -eq 7 ]
	for i in 1 2 3 4 5 6 7; do
		[ "${lines[$((i - 1))]}" = "{\"go\":true,\"i\":$i,\"r\":{\"n\":1}}" ]
	done
}

@test "--history: GetExecutionHistory events" {
	expect 0 sfn-run run chain.json --history <<<'{"go":true}'
	[[ $output == *'"events":[{"timestamp":"'*'","type":"ExecutionStarted","id":1,"previousEventId":0,"executionStartedEventDetails":{"input":"{\"go\":true}"'* ]]
	[[ $output == *'"type":"PassStateEntered","id":2,"previousEventId":1,"stateEnteredEventDetails":{"name":"A"'* ]]
	[[ $output == *'"type":"ChoiceStateExited"'* ]]
	[[ $output == *'"type":"ExecutionSucceeded","id":8,'* ]]
}

@test "bad input lines are reported and skipped; --strict stops" {
	printf '{"go":true}\nnot json\n{"go":true}\n' >in
	expect 3 sfn-run run chain.json --output-only <in
	[[ $output == *"sfn-run: stdin:2: invalid JSON"* ]]
	[ "$(echo "$output" | grep -c '"r":{"n":1}')" -eq 2 ]
	expect 3 sfn-run run chain.json --output-only --strict <in
	[ "$(echo "$output" | grep -c '"r":{"n":1}')" -eq 1 ]
}

@test "graph: DOT with clusters and dashed Catch edges" {
	cat >par.json <<'DEF'
{"StartAt":"P","States":{
 "P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}],
  "Catch":[{"ErrorEquals":["States.ALL"],"Next":"F"}],"End":true},
 "F":{"Type":"Fail"}}}
DEF
	expect 0 sfn-run graph par.json
	[[ ${lines[0]} == "digraph state_machine {" ]]
	[[ $output == *"subgraph cluster_1"* ]]
	[[ $output == *'"P" -> "F" [style=dashed, label="Catch"];'* ]]
	expect 2 sfn-run graph nostart.json
}

@test "a Map's ItemReader reads local CSV, JSON Lines and folder listings" {
	mkdir -p s3/data/in
	printf 'name,qty\n"Smith, J",2\nLee,5\n' >s3/data/in/orders.csv
	printf '{"n":1}\n{"n":2}\n\n{"n":3}\n' >s3/data/in/nums.jsonl
	cat >reader.json <<'DEF'
{"StartAt":"M","States":{"M":{"Type":"Map",
 "ItemReader":{"Resource":"arn:aws:states:::s3:getObject",
  "ReaderConfig":{"InputType":"CSV","CSVHeaderLocation":"FIRST_ROW"},
  "Parameters":{"Bucket":"data","Key.$":"$.key"}},
 "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
  "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}
DEF
	expect 0 sfn-run run reader.json --s3-root s3 --output-only <<<'{"key":"in/orders.csv"}'
	[ "$output" = '[{"name":"Smith, J","qty":"2"},{"name":"Lee","qty":"5"}]' ]
	sed 's/"CSV","CSVHeaderLocation":"FIRST_ROW"/"JSONL","MaxItems":2/' reader.json >jsonl.json
	expect 0 sfn-run run jsonl.json --s3-root s3 --output-only <<<'{"key":"in/nums.jsonl"}'
	[ "$output" = '[{"n":1},{"n":2}]' ]
	sed 's/s3:getObject/s3:listObjectsV2/' reader.json >list.json
	expect 0 sfn-run run list.json --s3-root s3 --output-only <<<'{"key":"x"}'
	[[ $output == *'"Key":"in/nums.jsonl","Size":25'* ]]
	[[ $output == *'"Key":"in/orders.csv"'* ]]
	expect 1 sfn-run run reader.json --s3-root s3 <<<'{"key":"in/missing.csv"}'
	[[ $output == *'"error":"States.ItemReaderFailed"'* ]]
}

@test "validate --type EXPRESS refuses what Express workflows cannot do" {
	echo '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}' >wait.json
	expect 0 sfn-run validate wait.json
	expect 2 sfn-run validate --type EXPRESS wait.json
	[[ $output == *"Express state machine does not support '.waitForTaskToken' service integration"* ]]
	[[ $output == *'"location":"/States/T/Resource"'* ]]
	expect 2 sfn-run validate --type BATCH wait.json
}

@test "-j runs Task functions in every worker; failures still exit 1" {
	cat >up.json <<'DEF'
{"StartAt":"Up","States":{"Up":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:up","End":true}}}
DEF
	printf '{"w":"a%d"}\n' 1 2 3 4 5 6 >in
	expect 0 sfn-run run up.json -j 3 --fn 'up=tr a-z A-Z' --output-only <in
	[ "${#lines[@]}" -eq 6 ]
	[ "${lines[0]}" = '{"W":"A1"}' ]
	[ "${lines[5]}" = '{"W":"A6"}' ]
	printf '{"go":true}\n{"go":false}\n{"go":true}\n' >in2
	expect 1 sfn-run run chain.json -j 2 --name x <in2
	[[ ${lines[0]} == *'"name":"x-1"'*'"SUCCEEDED"'* ]]
	[[ ${lines[1]} == *'"name":"x-2"'*'"FAILED"'* ]]
	[[ ${lines[2]} == *'"name":"x-3"'*'"SUCCEEDED"'* ]]
}

@test "--history of a Map: iteration events name the Map state" {
	echo '{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}' >map.json
	expect 0 sfn-run run map.json --history <<<'[1,2]'
	[[ $output == *'"type":"MapStateStarted","id":3,"previousEventId":2,"mapStateStartedEventDetails":{"length":2}'* ]]
	[[ $output == *'"type":"MapIterationStarted","id":4,"previousEventId":3,"mapIterationStartedEventDetails":{"name":"M","index":0}'* ]]
	[[ $output == *'"type":"MapIterationSucceeded"'*'"index":1}'* ]]
	[[ $output == *'"output":[1,2]'* ]]
}

@test "SIGTERM during a real Wait aborts the execution and ends the run" {
	cat >term.sh <<'SH'
#!/bin/sh
cat >/dev/null
kill -TERM "$PPID"
echo '{}'
SH
	chmod +x term.sh
	cat >long.json <<'DEF'
{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:term","Next":"W"},
 "W":{"Type":"Wait","Seconds":3600,"End":true}}}
DEF
	printf '{}\n{}\n' >in
	run sfn-run run long.json --fn "term=$WORK/term.sh" <in
	[ "$status" -eq 143 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == *'"status":"ABORTED"'* ]]
}

@test "Parallel branches and -j executions call their functions at once; a Map keeps to MaxConcurrency" {
	# meet.sh answers only once three calls are running together (or gives
	# up after 15 s): run one after another, each would see only itself.
	mkdir meet conc
	cat >meet.sh <<'SH'
#!/bin/sh
d=$1
: >"$d/started.$$"
i=0
while [ "$(ls "$d" | wc -l)" -lt 3 ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
cat >/dev/null
echo "{\"saw\": $(ls "$d" | wc -l)}"
SH
	# conc.sh notes how many calls run at the same time
	cat >conc.sh <<'SH'
#!/bin/sh
d=$1
: >"$d/run.$$"
ls "$d" | grep -c '^run' >>"$d/../seen"
sleep 0.2
rm -f "$d/run.$$"
cat
SH
	chmod +x meet.sh conc.sh
	cat >par.json <<'DEF'
{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
 {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:meet","TimeoutSeconds":30,"End":true}}},
 {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:meet","TimeoutSeconds":30,"End":true}}},
 {"StartAt":"C","States":{"C":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:meet","TimeoutSeconds":30,"End":true}}}]}}}
DEF
	expect 0 sfn-run run par.json --output-only --fn "meet=$WORK/meet.sh $WORK/meet" <<<'{}'
	[ "$output" = '[{"saw":3},{"saw":3},{"saw":3}]' ]

	# -j 3: three executions at once, however the machine splits them
	# among processes
	mkdir meet2
	cat >one.json <<'DEF'
{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:meet","TimeoutSeconds":30,"End":true}}}
DEF
	printf '{}\n{}\n{}\n' >in3
	expect 0 sfn-run run one.json -j 3 --output-only --fn "meet=$WORK/meet.sh $WORK/meet2" <in3
	[ "$output" = $'{"saw":3}\n{"saw":3}\n{"saw":3}' ]

	cat >map.json <<'DEF'
{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,"End":true,
 "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:conc","End":true}}}}}}
DEF
	expect 0 sfn-run run map.json --output-only --fn "conc=$WORK/conc.sh $WORK/conc" <<<'[1,2,3,4,5,6]'
	[ "$output" = '[1,2,3,4,5,6]' ]
	[ "$(wc -l <seen)" -eq 6 ]
	[ "$(sort -n seen | tail -1)" -le 2 ]
}

@test "a branch stopped by the execution's timeout has its function killed" {
	# slow.sh would write "finished" after 30 s; sfn-run does not wait for
	# that: it kills the process when the execution times out
	cat >slow.sh <<'SH'
#!/bin/sh
: >"$1/started"
sleep 30
: >"$1/finished"
SH
	chmod +x slow.sh
	cat >to.json <<'DEF'
{"TimeoutSeconds":1,"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
 {"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}},
 {"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:slow","TimeoutSeconds":60,"End":true}}}]}}}
DEF
	expect 1 sfn-run run to.json --fn "slow=$WORK/slow.sh $WORK" <<<'{}'
	[[ $output == *'"status":"TIMED_OUT"'* ]]
	[ -e started ]
	[ ! -e finished ]
}

@test "--events: Step Functions Execution Status Change events that evroute can route" {
	printf '{"go":true}\n{"go":false}\n' >in
	export EVKIT_NOW=2027-01-01T00:00:00Z
	for j in 1 3; do
		expect 1 sfn-run run chain.json --events --virtual-time --name e -j $j <in
		[ "${#lines[@]}" -eq 4 ]
		[ "$(printf '%s\n' "${lines[@]}" | jq -c '[.source, ."detail-type", .time, .detail.name, .detail.status, .detail.startDate, .detail.stopDate]' | tr '\n' ' ')" = \
		  '["aws.states","Step Functions Execution Status Change","2027-01-01T00:00:00Z","e-1","RUNNING",1798761600000,null] ["aws.states","Step Functions Execution Status Change","2027-01-01T00:00:00Z","e-1","SUCCEEDED",1798761600000,1798761600000] ["aws.states","Step Functions Execution Status Change","2027-01-01T00:00:00Z","e-2","RUNNING",1798761600000,null] ["aws.states","Step Functions Execution Status Change","2027-01-01T00:00:00Z","e-2","FAILED",1798761600000,1798761600000] ' ]
		[ "$(echo "${lines[1]}" | jq -c '.detail | [.input, .output, .outputDetails, .error]')" = '["{\"go\":true}","{\"go\":true,\"r\":{\"n\":1}}",{"included":true},null]' ]
		[ "$(echo "${lines[3]}" | jq -c '.detail | [.output, .error, .cause]')" = '[null,"NotGoing","go was not true"]' ]
		[ "$(echo "${lines[0]}" | jq -r '.resources[0]')" = "arn:aws:states:us-east-1:000000000000:execution:chain:e-1" ]
	done
	# the failures, picked out by an EventBridge pattern
	sfn-run run chain.json --events --virtual-time --name e <in >events || true
	echo '{"failed":{"source":["aws.states"],"detail":{"status":["FAILED","TIMED_OUT"]}}}' >rules.json
	expect 0 evroute match rules.json <events
	[ "${#lines[@]}" -eq 1 ]
	[ "$(echo "$output" | jq -r .detail.name)" = e-2 ]
	unset EVKIT_NOW
	expect 2 sfn-run run chain.json --events --output-only <in
}
