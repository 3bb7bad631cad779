#!/usr/bin/env bats
# fnctl: the registry, invocation in both modes, every failure a handler
# can have, and the conventions (exit codes, messages, streaming).

load helpers

setup() {
	setup_evkit
	export EVKIT_STATE="$WORK/state.db"
}

teardown() {
	teardown_evkit
}

@test "help, version and usage errors" {
	expect 0 fnctl --help
	[[ $output == *"usage: fnctl COMMAND"* ]]
	[[ $output == *"invoke NAME [PAYLOAD]"* ]]
	expect 0 fnctl invoke --help
	[[ $output == *"--strict"* ]]
	expect 0 fnctl --version
	[[ $output == "fnctl (evkit) "* ]]
	expect 2 fnctl
	[[ $output == *"a command is needed"* ]]
	expect 2 fnctl frobnicate
	[[ $output == *"unknown command 'frobnicate'"* ]]
	expect 2 fnctl list --bogus
	[[ $output == *"unknown option '--bogus'"* ]]
	expect 2 fnctl create f
	[[ $output == *"after '--'"* ]]
	expect 2 fnctl create f --timeout 0 -- cat
	expect 2 fnctl create f --timeout 901 -- cat
	expect 2 fnctl create f --timeout abc -- cat
	expect 2 fnctl create f --mode warm -- cat
	expect 2 fnctl create 'bad name' -- cat
	expect 2 fnctl create f --env NOEQUALS -- cat
	[ ! -e "$EVKIT_STATE" ]   # nothing was done
}

@test "create, list, get, delete round trip" {
	expect 0 fnctl create upper --timeout 2.5 --env A=1 --env B=two -- tr a-z A-Z
	expect 0 fnctl create echo --mode stream -- cat
	expect 0 fnctl list
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == '{"FunctionName":"echo",'* ]]
	[[ ${lines[1]} == '{"FunctionName":"upper",'* ]]
	expect 0 fnctl get upper
	[[ $output == *'"FunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:upper"'* ]]
	[[ $output == *'"Command":["tr","a-z","A-Z"]'* ]]
	[[ $output == *'"Mode":"spawn","Timeout":2.5'* ]]
	[[ $output == *'"Environment":{"Variables":{"A":"1","B":"two"}}'* ]]
	expect 0 fnctl get arn:aws:lambda:us-east-1:000000000000:function:echo
	[[ $output == *'"Mode":"stream"'* ]]
	expect 2 fnctl create upper -- cat
	[[ $output == *"already exists"* ]]
	expect 0 fnctl create upper --replace -- cat
	expect 0 fnctl get upper
	[[ $output == *'"Command":["cat"]'* ]]
	expect 0 fnctl delete upper
	expect 1 fnctl delete upper
	[[ $output == *"no function named 'upper'"* ]]
	expect 1 fnctl get upper
}

@test "the state file is created 0600 in a 0700 folder, only when written" {
	export EVKIT_STATE="$WORK/deep/er/state.db"
	expect 0 fnctl list
	[ -z "$output" ]
	[ ! -e "$WORK/deep" ]
	expect 0 fnctl create f -- cat
	[ "$(stat -c %a "$WORK/deep/er")" = 700 ]
	[ "$(stat -c %a "$EVKIT_STATE")" = 600 ]
	# --state wins over EVKIT_STATE; XDG_STATE_HOME is the default.
	expect 0 fnctl --state "$WORK/other.db" create g -- cat
	expect 0 fnctl list --state "$WORK/other.db"
	[[ $output == '{"FunctionName":"g",'* ]]
	unset EVKIT_STATE
	export XDG_STATE_HOME="$WORK/xdg"
	expect 0 fnctl create h -- cat
	[ -f "$WORK/xdg/evkit/state.db" ]
}

@test "invoke: payload argument, stdin lines, lossless numbers" {
	fnctl create upper -- tr a-z A-Z
	fnctl create same -- cat
	expect 0 fnctl invoke upper '"hello"'
	[ "$output" = '"HELLO"' ]
	expect 0 fnctl invoke same '{"big":1700000000000000007,"x":1.50}'
	[ "$output" = '{"big":1700000000000000007,"x":1.50}' ]
	run sh -c 'printf "\"a\"\n\"b\"\n\"c\"" | fnctl invoke upper'
	[ "$status" -eq 0 ]
	[ "$output" = $'"A"\n"B"\n"C"' ]
	expect 2 fnctl invoke upper 'not json'
	[[ $output == *"PAYLOAD: invalid JSON"* ]]
	expect 2 fnctl invoke nosuch 1
	[[ $output == *"no function named 'nosuch'"* ]]
}

@test "invoke: a bad input line is reported with its location and skipped" {
	fnctl create same -- cat
	run sh -c 'printf "1\n{oops\n3\n" | fnctl invoke same 2>err; echo "rc=$?"; cat err'
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = 3 ]
	[ "${lines[2]}" = "rc=3" ]
	[[ ${lines[3]} == "fnctl: stdin:2: invalid JSON at column "* ]]
	run sh -c 'printf "1\n{oops\n3\n" | fnctl invoke same --strict 2>/dev/null; echo "rc=$?"'
	[ "$output" = $'1\nrc=3' ]
	run sh -c 'printf "1\n{oops\n\"\\377\"\n" | fnctl invoke same --rejects rej 2>/dev/null; echo "rc=$?"'
	[ "$output" = $'1\nrc=3' ]
	[ "$(cat rej)" = $'{oops\n"\377"' ]
}

@test "invoke: a handler that fails, hangs, prints non-JSON or cannot start" {
	fnctl create exits -- sh -c 'exit 4'
	fnctl create named -- sh -c 'echo "{\"errorType\":\"Order.Invalid\",\"errorMessage\":\"no sku\"}" >&2; exit 1'
	fnctl create hangs --timeout 0.2 -- sleep 30
	fnctl create chatty -- echo this is not JSON
	fnctl create missing -- /nonexistent/handler

	expect 1 fnctl invoke exits 1
	[[ ${lines[0]} == '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: '*' Error: Runtime exited with error: exit status 4"}' ]]
	[[ $output == *"fnctl: function 'exits' failed"* ]]
	run sh -c 'fnctl invoke named 1 2>/dev/null'
	[ "$status" -eq 1 ]
	[ "$output" = '{"errorType":"Order.Invalid","errorMessage":"no sku"}' ]
	run sh -c 'fnctl invoke hangs 1 2>/dev/null'
	[ "$status" -eq 1 ]
	[[ $output == '{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: '*' Error: Task timed out after 0.20 seconds"}' ]]
	run sh -c 'fnctl invoke chatty 1 2>/dev/null'
	[ "$status" -eq 1 ]
	[[ $output == '{"errorType":"Runtime.MarshalError","errorMessage":"Unable to marshal response: invalid JSON'* ]]
	run sh -c 'fnctl invoke missing 1 2>/dev/null'
	[ "$status" -eq 1 ]
	[[ $output == '{"errorType":"Runtime.InvalidEntrypoint",'*"No such file or directory\"}" ]]
	# A failure does not stop the lines after it.
	run sh -c 'printf "1\n2\n" | fnctl invoke exits 2>/dev/null | wc -l'
	[ "$output" -eq 2 ]
}

@test "stream mode keeps one process warm and restarts it when it dies" {
	fnctl create counter --mode stream -- sh -c 'n=0; while read x; do n=$((n+1)); echo "[$$,$n,$x]"; done'
	run sh -c 'printf "10\n20\n30\n" | fnctl invoke counter'
	[ "$status" -eq 0 ]
	pid=$(echo "${lines[0]}" | cut -d, -f1)
	[ "${lines[0]}" = "$pid,1,10]" ]
	[ "${lines[2]}" = "$pid,3,30]" ]
	fnctl create dies --mode stream -- sh -c 'read x; echo "\"first\""; read x; exit 5'
	run sh -c 'printf "1\n2\n3\n" | fnctl invoke dies 2>/dev/null; echo "rc=$?"'
	[ "${lines[0]}" = '"first"' ]
	[[ ${lines[1]} == '{"errorType":"Runtime.ExitError",'*'exit status 5"}' ]]
	[ "${lines[2]}" = '"first"' ]   # a fresh process answered
	[ "${lines[3]}" = "rc=1" ]
	fnctl create stuck --mode stream --timeout 200ms -- sh -c 'while read x; do sleep 30; done'
	run sh -c 'printf "1\n" | fnctl invoke stuck 2>/dev/null'
	[[ $output == '{"errorType":"Sandbox.Timedout",'* ]]
}

@test "functions get the Lambda environment and their own variables" {
	fnctl create env --env GREETING=hi --env AWS_REGION=eu-west-3 -- \
		sh -c 'printf "[\"%s\",\"%s\",\"%s\",\"%s\"]" "$AWS_LAMBDA_FUNCTION_NAME" "$GREETING" "$AWS_REGION" "${EVKIT_REQUEST_ID:+set}"'
	expect 0 fnctl invoke env null
	[ "$output" = '["env","hi","eu-west-3","set"]' ]
}

@test "payloads never reach a shell" {
	fnctl create args -- printf '%s'
	fnctl create same -- cat
	expect 0 fnctl invoke same '"$(touch pwned) `touch pwned2`; rm -rf /"'
	[ "$output" = '"$(touch pwned) `touch pwned2`; rm -rf /"' ]
	[ ! -e pwned ] && [ ! -e pwned2 ]
}

@test "a state file with a newer schema, or not a state file, is refused with exit 4" {
	fnctl create f -- cat
	sqlite3 "$EVKIT_STATE" 'PRAGMA user_version = 99' 2>/dev/null ||
		python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' "$EVKIT_STATE"
	expect 4 fnctl list
	[[ $output == *"schema version 99 is newer than this evkit understands"* ]]
	expect 4 fnctl create g -- cat
	echo "just text" > notdb
	expect 4 fnctl --state notdb list
	[[ $output == *"not a usable evkit state file"* ]]
	[ "$(cat notdb)" = "just text" ]
	mkdir adir
	expect 4 fnctl --state adir list
}

@test "bash completion comes from the option table" {
	fnctl create alpha -- cat
	fnctl create beta -- cat
	run fnctl --complete 1 fnctl ""
	[[ $output == *create* && $output == *invoke* && $output == *list* ]]
	run fnctl --complete 2 fnctl invoke ""
	[ "$output" = $'alpha\nbeta' ]
	run fnctl --complete 2 fnctl create --
	[[ $output == *--timeout* && $output == *--mode* && $output == *--state* ]]
	run fnctl --complete 3 fnctl create --mode ""
	[ "$output" = $'spawn\nstream' ]
	run fnctl --complete 2 fnctl --state ""
	[ "$output" = "@file" ]
	# The completion script asks the program and filters by the word typed.
	source "$TOP/completions/fnctl"
	COMP_WORDS=(fnctl invoke al); COMP_CWORD=2
	_evkit_complete
	[ "${COMPREPLY[*]}" = alpha ]
}

@test "output reaches a reader line by line through a pipe" {
	fnctl create same --mode stream -- cat
	# The reader answers each line before the writer sends the next: this
	# only finishes if fnctl flushes when it waits for input.
	coproc FN { fnctl invoke same; }
	echo '{"n":1}' >&"${FN[1]}"
	read -t 10 -r got <&"${FN[0]}"
	[ "$got" = '{"n":1}' ]
	echo '{"n":2}' >&"${FN[1]}"
	read -t 10 -r got <&"${FN[0]}"
	[ "$got" = '{"n":2}' ]
	exec {FN[1]}>&-
	wait
}

@test "SIGPIPE from a closed reader ends quietly" {
	fnctl create same -- cat
	run sh -c 'yes 1 | head -n 200 | fnctl invoke same 2>err | head -n 1; cat err'
	[ "$output" = 1 ]
}

@test "SIGTERM finishes the invocation in hand, then exits 128+15" {
	fnctl create slow --mode stream --timeout 10 -- sh -c 'while read x; do sleep 0.3; echo "$x"; done'
	mkfifo in
	fnctl invoke slow <in >out 2>err &
	pid=$!
	exec 7>in
	echo 1 >&7
	sleep 0.1
	kill -TERM $pid
	set +e
	wait $pid
	rc=$?
	set -e
	exec 7>&-
	[ "$rc" -eq 143 ]
	[ "$(cat out)" = 1 ]   # the record in hand was finished and written
}

@test "make install and uninstall honour PREFIX and DESTDIR" {
	[ -x "$TOP/bin/fnctl" ] || skip "not built"
	run make -s -C "$TOP" install DESTDIR="$WORK/root" PREFIX=/opt/ek
	[ "$status" -eq 0 ]
	[ -x "$WORK/root/opt/ek/bin/fnctl" ]
	[ -f "$WORK/root/opt/ek/share/man/man1/fnctl.1" ]
	[ -f "$WORK/root/opt/ek/share/man/man7/evkit.7" ]
	[ -f "$WORK/root/opt/ek/share/bash-completion/completions/fnctl" ]
	run make -s -C "$TOP" uninstall DESTDIR="$WORK/root" PREFIX=/opt/ek
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/opt/ek/bin/fnctl" ]
	[ ! -e "$WORK/root/opt/ek/share/man/man1/fnctl.1" ]
	[ ! -e "$WORK/root/opt/ek/share/bash-completion/completions/fnctl" ]
}

@test "fixes from review: --opt=value before the command, create --help, --env wins, exit 0 wins" {
	expect 0 fnctl --state="$WORK/eq.db" create f -- cat
	expect 0 fnctl --state="$WORK/eq.db" get f
	expect 0 fnctl create --help
	[[ $output == *"usage: fnctl create"* ]]
	# --env overrides what fnctl sets, even for getenv(), which takes the
	# first of two equal names: env(1) prints the environment as it is.
	fnctl create e --env AWS_REGION=eu-west-1 -- sh -c 'env | grep -c "^AWS_REGION=" | tr -d "\n"; printf ""'
	expect 0 fnctl invoke e null
	[ "$output" = 1 ]
	# A handler that exits 0 succeeds, whatever JSON it logged on stderr.
	fnctl create logs -- sh -c 'echo "{\"errorType\":\"Caught\",\"errorMessage\":\"m\"}" >&2; echo 7'
	run sh -c 'fnctl invoke logs null 2>/dev/null'
	[ "$status" -eq 0 ] && [ "$output" = 7 ]
	# A rejects file that cannot be opened stops everything before work.
	fnctl create same -- cat
	run sh -c 'echo 1 | fnctl invoke same --rejects /nonexistent/dir/rej'
	[ "$status" -eq 2 ]
	[[ $output == *"--rejects /nonexistent/dir/rej"* ]]
	[[ $output != 1* ]]
	# Another application's SQLite file is left alone.
	sqlite3 other.db 'CREATE TABLE t(x); PRAGMA user_version = 3'
	expect 4 fnctl --state other.db list
	[[ $output == *"not an evkit state file"* ]]
	[ "$(sqlite3 other.db 'PRAGMA application_id')" = 0 ]
}
