#!/usr/bin/env bats
# sfn-run's state machines and recorded executions: create, update, list,
# describe, delete, run NAME and run --record (with and without -j),
# list-executions, describe-execution, get-execution-history, their errors
# and exit statuses, and a state file that a killed run leaves intact.

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
	SM=arn:aws:states:us-east-1:000000000000:stateMachine
	EX=arn:aws:states:us-east-1:000000000000:execution
}

teardown() {
	teardown_evkit
}

rows() { # SQL: the one number it selects
	sqlite3 "$EVKIT_STATE" "$1"
}

@test "help names every store command and option" {
	expect 0 sfn-run --help
	for c in create update list describe delete list-executions describe-execution \
	         get-execution-history; do
		[[ $output == *"  $c "* ]]
	done
	[[ $output == *"run DEF|NAME"* ]]
	expect 0 sfn-run create --help
	[[ $output == *"--type TYPE"* && $output == *"--role-arn ARN"* && $output == *"--replace"* ]]
	expect 0 sfn-run run --help
	[[ $output == *"--record"* ]]
	expect 0 sfn-run list-executions --help
	[[ $output == *"--status STATUS"* && $output == *"--max N"* ]]
	expect 0 sfn-run get-execution-history --help
	[[ $output == *"--reverse"* ]]
}

@test "usage errors exit 2 and store nothing" {
	expect 2 sfn-run create
	expect 2 sfn-run create chain
	expect 2 sfn-run create chain chain.json extra
	expect 2 sfn-run create chain missing.json
	[[ $output == *"missing.json"* ]]
	expect 2 sfn-run create chain chain.json --type BATCH
	expect 2 sfn-run create chain chain.json --role-arn notanarn
	expect 2 sfn-run list extra
	expect 2 sfn-run describe
	expect 2 sfn-run update chain
	[[ $output == *"nothing to change"* ]]
	expect 2 sfn-run list-executions chain --status DONE
	expect 2 sfn-run list-executions chain --max 0
	expect 2 sfn-run describe-execution nocolon
	expect 2 sfn-run describe-execution a:b:c
	expect 2 sfn-run get-execution-history
	[ ! -e "$EVKIT_STATE" ]
}

@test "names follow AWS's rules" {
	for bad in 'a b' 'a/b' 'a:b' 'a*' 'a?' 'a{b' 'a[b' 'a<b' 'a"b' 'a#b' 'a%b' 'a\b' \
	           'a^b' 'a|b' 'a~b' 'a`b' 'a$b' 'a&b' 'a,b' 'a;b' $'a\tb' \
	           "$(printf 'x%.0s' $(seq 81))"; do
		expect 2 sfn-run create "$bad" chain.json
		[[ $output == *"state machine name"* ]]
	done
	expect 0 sfn-run create "$(printf 'x%.0s' $(seq 80))" chain.json
	expect 0 sfn-run create 'Order.Flow-2_é' chain.json
	echo '{}' >in
	expect 2 sfn-run run chain.json --record --name 'a b' <in
	[[ $output == *"--name prefix 'a b'"* ]]
}

@test "an invalid definition exits 2 with the diagnostics" {
	echo '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"}}}' >dangling.json
	expect 2 sfn-run create d dangling.json
	[[ $output == *"dangling.json: invalid definition: SCHEMA_VALIDATION_FAILED: Missing 'Next' target: Nowhere at /States/A/Next"* ]]
	echo 'not json' >text.json
	expect 2 sfn-run create d text.json
	[[ $output == *"text.json: invalid JSON"* ]]
	echo '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}' >wait.json
	expect 0 sfn-run create w wait.json
	expect 2 sfn-run create x wait.json --type EXPRESS
	[[ $output == *"Express state machine does not support"* ]]
	expect 0 sfn-run list
	[ "${#lines[@]}" -eq 1 ]
}

@test "create, list, describe, update, delete" {
	expect 0 sfn-run create chain chain.json
	[[ $output == "{\"stateMachineArn\":\"$SM:chain\",\"creationDate\":\""*'"}' ]]
	created=$output
	# the same machine again is no change (CreateStateMachine is idempotent)
	expect 0 sfn-run create chain chain.json
	[ "$output" = "$created" ]
	expect 2 sfn-run create chain chain.json --type EXPRESS
	[[ $output == *"state machine 'chain' already exists"* ]]
	expect 0 sfn-run create fast chain.json --type EXPRESS --role-arn arn:aws:iam::000000000000:role/R
	expect 0 sfn-run list
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == "{\"stateMachineArn\":\"$SM:chain\",\"name\":\"chain\",\"type\":\"STANDARD\",\"creationDate\":\""*'"}' ]]
	[[ ${lines[1]} == *'"name":"fast","type":"EXPRESS"'* ]]
	expect 0 sfn-run describe chain
	[[ $output == "{\"stateMachineArn\":\"$SM:chain\",\"name\":\"chain\",\"status\":\"ACTIVE\",\"definition\":\"{\\\"StartAt\\\":\\\"A\\\""* ]]
	[ "$(echo "$output" | jq -r .definition)" = "$(cat chain.json)" ]
	[[ $output == *'"roleArn":"arn:aws:iam::000000000000:role/sfn-run","type":"STANDARD","creationDate":"'* ]]
	rev=$(echo "$output" | jq -r .revisionId)
	expect 0 sfn-run describe "$SM:fast"
	[[ $output == *'"roleArn":"arn:aws:iam::000000000000:role/R","type":"EXPRESS"'* ]]
	# update: a new definition, a new role, a new revision
	echo '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}' >pass.json
	expect 0 sfn-run update chain pass.json --role-arn arn:aws:iam::000000000000:role/New
	[[ $output == '{"updateDate":"'*'","revisionId":"'*'"}' ]]
	[ "$(echo "$output" | jq -r .revisionId)" != "$rev" ]
	expect 0 sfn-run describe chain
	[ "$(echo "$output" | jq -r .definition)" = "$(cat pass.json)" ]
	[[ $output == *'"roleArn":"arn:aws:iam::000000000000:role/New"'* ]]
	[ "$(echo "$output" | jq -r .creationDate)" = "$(echo "$created" | jq -r .creationDate)" ]
	expect 0 sfn-run update chain --role-arn arn:aws:iam::000000000000:role/Other
	# --replace overwrites
	expect 0 sfn-run create chain chain.json --replace
	expect 0 sfn-run describe chain
	[ "$(echo "$output" | jq -r .definition)" = "$(cat chain.json)" ]
	expect 0 sfn-run delete chain
	[ -z "$output" ]
	expect 0 sfn-run delete "$SM:fast"
	expect 0 sfn-run list
	[ -z "$output" ]
}

@test "no such machine: exit 1 with its name; no state file is created" {
	expect 1 sfn-run describe ghost
	[[ $output == *"no state machine named 'ghost'"* ]]
	expect 1 sfn-run delete ghost
	[[ $output == *"'ghost'"* ]]
	expect 1 sfn-run update ghost chain.json
	[[ $output == *"'ghost'"* ]]
	expect 1 sfn-run list-executions ghost
	expect 1 sfn-run describe-execution ghost:x
	[[ $output == *"no recorded execution 'ghost:x'"* ]]
	expect 1 sfn-run get-execution-history "$EX:ghost:x"
	expect 0 sfn-run list
	[ -z "$output" ]
	[ ! -e "$EVKIT_STATE" ]
	# an ARN of another region is not one of ours
	sfn-run create chain chain.json
	expect 1 sfn-run describe arn:aws:states:eu-west-1:000000000000:stateMachine:chain
}

@test "run NAME records every execution; run DEF only with --record" {
	sfn-run create flow chain.json
	printf '{"go":true}\n{"go":false}\n{"go":true}\n' >in
	expect 1 sfn-run run flow --name t <in
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == "{\"executionArn\":\"$EX:flow:t-1\",\"stateMachineArn\":\"$SM:flow\""* ]]
	[[ ${lines[0]} != *'"events"'* ]]
	[ "$(rows 'SELECT count(*) FROM executions')" -eq 3 ]
	[ "$(rows "SELECT count(*) FROM executions WHERE history LIKE '[{%'")" -eq 3 ]
	[ "$(rows "SELECT status FROM executions WHERE name = 't-2'")" = FAILED ]
	# a file is not recorded unless asked
	expect 1 sfn-run run chain.json <in
	[ "$(rows 'SELECT count(*) FROM executions')" -eq 3 ]
	expect 1 sfn-run run chain.json --record --name f <in
	[ "$(rows "SELECT count(*) FROM executions WHERE machine = 'chain'")" -eq 3 ]
	expect 0 sfn-run list-executions chain
	[ "${#lines[@]}" -eq 3 ]
	# by ARN too
	expect 0 sfn-run run "$SM:flow" --output-only <<<'{"go":true}'
	[ "$output" = '{"go":true,"r":{"n":1}}' ]
	[ "$(rows "SELECT count(*) FROM executions WHERE machine = 'flow'")" -eq 4 ]
}

@test "a file wins over a stored name; neither is exit 2" {
	echo '{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"stored","End":true}}}' >stored.json
	sfn-run create both stored.json
	echo '{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"file","End":true}}}' >both
	expect 0 sfn-run run both --output-only <<<'{}'
	[ "$output" = '"file"' ]
	rm both
	expect 0 sfn-run run both --output-only <<<'{}'
	[ "$output" = '"stored"' ]
	expect 2 sfn-run run ./both <<<'{}'
	[[ $output == *"./both"* ]]
	expect 2 sfn-run run nothing <<<'{}'
	[[ $output == *"nothing: no such file, nor a stored state machine"* ]]
}

@test "a stored machine runs with its role" {
	echo '{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"role.$":"$$.Execution.RoleArn","sm.$":"$$.StateMachine.Name"},"End":true}}}' >ctx.json
	sfn-run create ctx ctx.json --role-arn arn:aws:iam::000000000000:role/Runner
	expect 0 sfn-run run ctx --output-only <<<'{}'
	[ "$output" = '{"role":"arn:aws:iam::000000000000:role/Runner","sm":"ctx"}' ]
}

@test "-j: every execution recorded, in one table, with its history" {
	sfn-run create flow chain.json
	seq 1 40 | sed 's/.*/{"go":true,"i":&}/' >in
	expect 0 sfn-run run flow -j 4 --name j --output-only <in
	[ "${#lines[@]}" -eq 40 ]
	[ "$(rows 'SELECT count(*) FROM executions')" -eq 40 ]
	[ "$(rows 'SELECT count(DISTINCT name) FROM executions')" -eq 40 ]
	[ "$(rows "SELECT count(*) FROM executions WHERE status = 'SUCCEEDED' AND history LIKE '%ExecutionSucceeded%'")" -eq 40 ]
	expect 0 sfn-run describe-execution flow:j-17
	[[ $output == *'"input":{"go":true,"i":17},"output":{"go":true,"i":17,"r":{"n":1}}'* ]]
	seq 1 10 | sed 's/.*/{"go":false}/' >in2
	expect 1 sfn-run run chain.json --record -j 3 <in2
	[ "$(rows "SELECT count(*) FROM executions WHERE machine = 'chain' AND status = 'FAILED'")" -eq 10 ]
}

@test "concurrent runs share the state file without 'database is locked'" {
	sfn-run create flow chain.json
	seq 1 60 | sed 's/.*/{"go":true}/' >in
	sfn-run run flow -j 3 --name a <in >a.out 2>a.err &
	p1=$!
	sfn-run run flow -j 2 --name b <in >b.out 2>b.err &
	p2=$!
	sfn-run run flow --name c <in >c.out 2>c.err
	wait $p1
	wait $p2
	! grep -i locked a.err b.err c.err
	[ "$(rows 'SELECT count(*) FROM executions')" -eq 180 ]
}

@test "describe-execution prints what run printed; by ARN or NAME:EXEC" {
	sfn-run create flow chain.json
	expect 1 sfn-run run flow --name d <<<$'{"go":true}\n{"go":false}'
	ran1=${lines[0]}
	ran2=${lines[1]}
	expect 0 sfn-run describe-execution flow:d-1
	[ "$output" = "$ran1" ]
	expect 0 sfn-run describe-execution "$EX:flow:d-2"
	[ "$output" = "$ran2" ]
	[[ $output == *'"error":"NotGoing","cause":"go was not true"'* ]]
	expect 1 sfn-run describe-execution flow:d-3
	expect 1 sfn-run describe-execution arn:aws:states:eu-west-1:000000000000:execution:flow:d-1
}

@test "get-execution-history gives run --history's events, one a line" {
	sfn-run create flow chain.json
	expect 0 sfn-run run flow --history --name h <<<'{"go":true}'
	echo "$output" | jq -c '.events[]' >ran
	[ "$(wc -l <ran)" -eq 8 ]
	sfn-run get-execution-history flow:h-1 >got
	cmp ran got
	sfn-run get-execution-history "$EX:flow:h-1" --reverse >rev
	[ "$(head -1 rev | jq -r .type)" = ExecutionSucceeded ]
	[ "$(tail -1 rev | jq -r .type)" = ExecutionStarted ]
	[ "$(tac rev | md5sum)" = "$(md5sum <got)" ]
	# recorded without --history: the same events, not printed by run
	expect 0 sfn-run run flow --name q <<<'{"go":true}'
	[[ $output != *'"events"'* ]]
	[ "$(sfn-run get-execution-history flow:q-1 | jq -r .type | tr '\n' ' ')" = \
	  "ExecutionStarted PassStateEntered PassStateExited ChoiceStateEntered ChoiceStateExited SucceedStateEntered SucceedStateExited ExecutionSucceeded " ]
}

@test "list-executions: newest first, --status, --max, every machine" {
	sfn-run create flow chain.json
	sfn-run run flow --name one <<<'{"go":true}' >/dev/null
	sleep 0.01
	sfn-run run flow --name two <<<'{"go":false}' >/dev/null || true
	sleep 0.01
	sfn-run run flow --name three <<<'{"go":true}' >/dev/null
	expect 0 sfn-run list-executions flow
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == "{\"executionArn\":\"$EX:flow:three-1\",\"stateMachineArn\":\"$SM:flow\",\"name\":\"three-1\",\"status\":\"SUCCEEDED\",\"startDate\":\""*'","stopDate":"'*'"}' ]]
	[[ ${lines[1]} == *'"name":"two-1","status":"FAILED"'* ]]
	[[ ${lines[2]} == *'"name":"one-1"'* ]]
	expect 0 sfn-run list-executions flow --status FAILED
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *'"name":"two-1"'* ]]
	expect 0 sfn-run list-executions "$SM:flow" --max 2
	[ "${#lines[@]}" -eq 2 ]
	expect 0 sfn-run list-executions flow --status ABORTED
	[ -z "$output" ]
	sfn-run run chain.json --record <<<'{"go":true}' >/dev/null
	expect 0 sfn-run list-executions
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[0]} == *"\"stateMachineArn\":\"$SM:chain\""* ]]
}

@test "an execution name already recorded is not run again" {
	sfn-run create flow chain.json
	sfn-run run flow --name n <<<'{"go":true}' >/dev/null
	expect 1 sfn-run run flow --name n <<<'{"go":true}'
	[[ $output == *"stdin:1: execution 'n-1' already exists (ExecutionAlreadyExists)"* ]]
	[[ $output != *executionArn* ]]
	[ "$(rows 'SELECT count(*) FROM executions')" -eq 1 ]
}

@test "delete removes the machine's executions, in one transaction" {
	sfn-run create flow chain.json
	sfn-run create other chain.json
	sfn-run run flow <<<$'{"go":true}\n{"go":true}' >/dev/null
	sfn-run run other <<<'{"go":true}' >/dev/null
	expect 0 sfn-run delete flow
	[ "$(rows "SELECT count(*) FROM executions WHERE machine = 'flow'")" -eq 0 ]
	[ "$(rows "SELECT count(*) FROM executions WHERE machine = 'other'")" -eq 1 ]
	expect 1 sfn-run list-executions flow
}

@test "a killed run leaves a sound state file" {
	cat >slow.json <<'DEF'
{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:slow","End":true}}}
DEF
	cat >slow.sh <<'SH'
#!/bin/sh
cat
sleep 0.02
SH
	chmod +x slow.sh
	sfn-run create slow slow.json
	seq 1 400 | sed 's/.*/{"i":&}/' >in
	for jobs in 1 3; do
		sfn-run run slow -j $jobs --name "k$jobs" --fn "slow=$WORK/slow.sh" <in >out 2>err &
		pid=$!
		sleep 0.5
		kill -KILL $pid
		wait $pid || true
		[ "$(rows 'PRAGMA integrity_check')" = ok ]
		[ "$(rows "SELECT count(*) FROM executions WHERE name LIKE 'k$jobs-%'")" -le 400 ]
	done
	# the file still takes writes
	expect 0 sfn-run run slow --name after --fn "slow=$WORK/slow.sh" <<<'{"i":0}'
	[ "$(rows "SELECT count(*) FROM executions WHERE name = 'after-1'")" -eq 1 ]
}

@test "SIGTERM: the executions in hand are recorded as ABORTED" {
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
	sfn-run create long long.json
	run sfn-run run long --name s --fn "term=$WORK/term.sh" <<<$'{}\n{}'
	[ "$status" -eq 143 ]
	[ "$(rows "SELECT status FROM executions WHERE name = 's-1'")" = ABORTED ]
}

@test "a state file that cannot be used: exit 4; busy: exit 75" {
	sfn-run create flow chain.json
	cp "$EVKIT_STATE" newer.db
	sqlite3 newer.db 'PRAGMA user_version = 99'
	expect 4 sfn-run --state newer.db list
	expect 4 sfn-run --state newer.db run flow <<<'{}'
	EVKIT_BUSY_TIMEOUT=100ms run sqlite3 "$EVKIT_STATE" 'BEGIN IMMEDIATE' \
		".shell sfn-run create other $WORK/chain.json 2>&1; echo status=\$?"
	[[ $output == *"busy past the timeout"* ]]
	[[ $output == *"status=75"* ]]
}

@test "completion offers stored machine names" {
	sfn-run create alpha chain.json
	sfn-run create beta chain.json
	run sfn-run --complete 2 sfn-run describe ""
	[ "$output" = $'alpha\nbeta' ]
	run sfn-run --complete 2 sfn-run list-executions ""
	[ "$output" = $'alpha\nbeta' ]
	run sfn-run --complete 2 sfn-run run ""
	[ "$output" = $'@file\nalpha\nbeta' ]
	run sfn-run --complete 3 sfn-run create x ""
	[ "$output" = "@file" ]
	run sfn-run --complete 3 sfn-run list-executions --status ""
	[[ $output == *TIMED_OUT* ]]
	source "$TOP/completions/sfn-run"
	COMP_WORDS=(sfn-run delete al); COMP_CWORD=2
	_evkit_complete
	[ "${COMPREPLY[*]}" = alpha ]
	COMP_WORDS=(sfn-run run ch); COMP_CWORD=2
	_evkit_complete
	[ "${COMPREPLY[*]}" = chain.json ]
	COMP_WORDS=(sfn-run run be); COMP_CWORD=2
	_evkit_complete
	[ "${COMPREPLY[*]}" = beta ]
}

@test "an EXPRESS machine runs as StartSyncExecution: express ARNs, no RedriveCount" {
	cat >ctx.json <<'DEF'
{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"e.$":"$$.Execution"},"End":true}}}
DEF
	expect 0 sfn-run create quick ctx.json --type EXPRESS
	expect 0 sfn-run run quick --name q <<<'{}'
	[[ $output == *'"executionArn":"arn:aws:states:us-east-1:000000000000:express:quick:q-1:'* ]]
	[[ $output != *RedriveCount* ]]
	arn=$(jq -r .executionArn <<<"$output")
	expect 0 sfn-run describe-execution "$arn"
	[[ $output == *'"status":"SUCCEEDED"'* ]]
	expect 0 sfn-run describe-execution quick:q-1
	[[ $output == *"\"executionArn\":\"$arn\""* ]]
	# a STANDARD machine keeps execution ARNs and RedriveCount
	expect 0 sfn-run create std ctx.json
	expect 0 sfn-run run std --name s <<<'{}'
	[[ $output == *'"executionArn":"arn:aws:states:us-east-1:000000000000:execution:std:s-1"'* ]]
	[[ $output == *'"RedriveCount":0'* ]]
}
