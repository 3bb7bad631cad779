#!/usr/bin/env bats
# autoscale: decisions driven by a moved clock (EVKIT_NOW), starting and
# dead workers, the lock, and an end-to-end run with real workers.

load helpers

setup() {
	setup_evkit
	export EVKIT_STATE="$WORK/state.db"
	# Frozen time, before anything is sent: tests move it forward.
	export EVKIT_NOW=2027-03-01T09:59:00Z
	sqs-poll create jobs >/dev/null
	HOST=$(hostname)
}

teardown() {
	pkill -f "evkit-test-worker-$$" 2>/dev/null || true
	teardown_evkit
}

ms() { date -u -d "$1" +%s%3N; }

# A live worker in the registry: this test's shell is its process.
live_worker() { # ID LAST_SEEN_RFC3339 [IN_FLIGHT]
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "INSERT INTO workers (id, queue, pid, host, started_ms, last_seen_ms, in_flight)
		VALUES ('$1', 'jobs', $$, '$HOST', $(ms "$2"), $(ms "$2"), ${3:-0})"
}

scale() { # autoscale jobs with the test's policy; the event's detail on stdout
	autoscale jobs --max 4 --per-worker 50 "$@" -- sh -c "exec sleep 60 # evkit-test-worker-$$" |
		jq -c '.detail'
}

@test "usage: --max and --per-worker are needed, the queue must exist, status needs one" {
	expect 2 autoscale jobs --max 2 -- true
	[[ $output == *"--max and --per-worker are needed"* ]]
	expect 2 autoscale nosuch --max 2 --per-worker 5 -- true
	[[ $output == *"no queue named 'nosuch'"* ]]
	expect 2 autoscale jobs --max 2 --per-worker 5
	[[ $output == *"after '--'"* ]]
	expect 2 autoscale jobs --min 3 --max 2 --per-worker 5 -- true
	expect 0 autoscale --help
	[[ $output == *"autoscale status QUEUE"* ]]
	expect 0 autoscale status jobs
	[ -z "$output" ]
}

@test "an event per run, in the EventBridge envelope" {
	export EVKIT_NOW=2027-03-01T10:00:00Z
	run autoscale jobs --max 4 --per-worker 50 --dry-run
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.version == "0" and .source == "evkit.autoscale"
		and ."detail-type" == "Scaling Decision" and .time == "2027-03-01T10:00:00Z"
		and .resources == ["arn:aws:sqs:us-east-1:000000000000:jobs"]
		and .detail.reason == "steady" and .detail.dryRun == true'
}

@test "scale up at once, and starting workers are not started twice" {
	seq 1 500 | sqs-poll send jobs >/dev/null
	export EVKIT_NOW=2027-03-01T10:00:00Z
	run scale
	echo "$output" | jq -e '.load.total == 500 and .desired == 4 and (.started | length) == 4'
	# They have not called home yet: the next run counts them as starting.
	export EVKIT_NOW=2027-03-01T10:00:30Z
	run scale
	echo "$output" | jq -e '.workers.starting == 4 and (.started | length) == 0'
	expect 0 autoscale status jobs
	[ "$(echo "$output" | jq -r .State | sort -u)" = starting ]
	[ "$(echo "$output" | wc -l)" -eq 4 ]
	# Each got a log file under the state folder.
	[ "$(ls "$WORK/logs" | wc -l)" -eq 4 ]
}

@test "dry run decides but starts nothing and records nothing" {
	seq 1 120 | sqs-poll send jobs >/dev/null
	run scale --dry-run
	echo "$output" | jq -e '.desired == 3 and .dryRun == true'
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT count(*) FROM workers')" -eq 0 ]
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT count(*) FROM scale_history')" -eq 0 ]
}

@test "tolerance: a change within 10% is skipped" {
	for i in 1 2 3 4 5 6 7 8 9 10; do live_worker w$i 2027-03-01T10:00:00Z; done
	seq 1 110 | sqs-poll send jobs >/dev/null
	export EVKIT_NOW=2027-03-01T10:00:10Z
	run autoscale jobs --max 20 --per-worker 10 -- true
	echo "$output" | jq -e '.detail.desired == 11 and .detail.target == 10
		and .detail.reason == "within the tolerance"'
	run autoscale jobs --max 20 --per-worker 10 --tolerance 5% -- sh -c "exec sleep 60 # evkit-test-worker-$$"
	echo "$output" | jq -e '.detail.target == 11 and (.detail.started | length) == 1'
}

@test "scale down only to the window's highest, to zero only after a whole idle window" {
	for i in 1 2 3 4; do live_worker w$i 2027-03-01T10:00:00Z; done
	seq 1 200 | sqs-poll send jobs >/dev/null
	export EVKIT_NOW=2027-03-01T10:00:00Z
	run scale
	echo "$output" | jq -e '.desired == 4 and .target == 4'
	sqs-poll purge jobs
	# Load gone a minute later: the window still remembers 4.
	export EVKIT_NOW=2027-03-01T10:01:00Z
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "UPDATE workers SET last_seen_ms = $(ms $EVKIT_NOW)"
	run scale
	echo "$output" | jq -e '.load.total == 0 and .target == 4 and (.retired | length) == 0'
	# Past the window from the busy run, but load has not been zero for a
	# whole window since the first zero sample: keep one.
	export EVKIT_NOW=2027-03-01T10:05:30Z
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "UPDATE workers SET last_seen_ms = $(ms $EVKIT_NOW)"
	run scale
	echo "$output" | jq -e '.target == 1 and (.retired | length) == 3'
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT count(*) FROM workers WHERE draining = 1')" -eq 3 ]
	# A whole window of zero load: scale to zero.
	export EVKIT_NOW=2027-03-01T10:11:00Z
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "DELETE FROM workers WHERE draining = 1; UPDATE workers SET last_seen_ms = $(ms $EVKIT_NOW)"
	run scale
	echo "$output" | jq -e '.target == 0 and (.retired | length) == 1'
}

@test "retiring picks idle workers first and never kills a busy one" {
	live_worker busy 2027-03-01T10:00:00Z 1
	live_worker idle 2027-03-01T10:00:00Z 0
	export EVKIT_NOW=2027-03-01T10:00:10Z
	sqs-poll send jobs x >/dev/null
	run autoscale jobs --max 1 --per-worker 50 -- true
	echo "$output" | jq -e '.detail.target == 1 and .detail.retired == ["idle"]'
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "SELECT draining FROM workers WHERE id = 'busy'")" -eq 0 ]
}

@test "dead workers are dropped and their messages become visible again" {
	live_worker gone 2027-03-01T10:00:00Z 1
	sqs-poll send jobs held >/dev/null
	export EVKIT_NOW=2027-03-01T10:00:01Z
	sqs-poll recv jobs --visibility-timeout 1h >/dev/null
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "UPDATE messages SET holder = 'gone'"
	# Six minutes without calling home: dead.
	export EVKIT_NOW=2027-03-01T10:06:00Z
	run scale
	echo "$output" | jq -e '.workers.dead == ["gone"] and .releasedMessages == 1
		and .load.visible == 1 and (.started | length) == 1'
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "SELECT count(*) FROM workers WHERE id = 'gone'")" -eq 0 ]
}

@test "a worker whose process is gone is dead at once, and replaced" {
	seq 1 60 | sqs-poll send jobs >/dev/null
	run scale
	echo "$output" | jq -e '(.started | length) == 2'
	pid=$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT pid FROM workers LIMIT 1')
	kill -9 "$pid"
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	run scale
	echo "$output" | jq -e '(.workers.dead | length) == 1 and (.started | length) == 1'
}

@test "one run at a time: a held lock makes a run wait, then skip" {
	unset EVKIT_NOW
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "INSERT INTO locks VALUES ('autoscale:jobs', 'someone', $(( $(date +%s%3N) + 60000 )))"
	seq 1 100 | sqs-poll send jobs >/dev/null
	run autoscale jobs --max 4 --per-worker 50 --lock-wait 200ms -- true
	[ "$status" -eq 0 ]
	[[ $output == *"another run holds the lock; this one is skipped"* ]]
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT count(*) FROM workers')" -eq 0 ]
	# An expired lock (a run that died) is taken over.
	sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" "UPDATE locks SET expires_ms = 0"
	run scale
	echo "$output" | jq -e '(.started | length) == 2'
	[ "$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT count(*) FROM locks')" -eq 0 ]
}

@test "end to end: 500 messages, real workers, drained, retired to zero, nothing lost" {
	unset EVKIT_NOW
	cat >handler <<'EOS'
#!/bin/sh
read -r body
sleep 0.02
echo "$body" >>"$WORK/done.log"
EOS
	chmod +x handler
	export WORK
	seq 1 500 | sqs-poll send jobs >/dev/null
	policy="--max 4 --per-worker 50 --alive 5s --scale-down-window 1s"
	worker="sqs-poll work jobs --heartbeat 200ms -- $WORK/handler"
	run autoscale jobs $policy -- $worker
	echo "$output" | jq -e '(.detail.started | length) == 4'
	# One of them is killed outright: the next run finds it dead (its
	# process is gone), gives its message back and starts another.
	victim=$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT pid FROM workers LIMIT 1')
	kill -9 "$victim"
	for i in $(seq 50); do kill -0 "$victim" 2>/dev/null || break; sleep 0.1; done
	run autoscale jobs $policy -- $worker
	echo "$output" | jq -e '(.detail.workers.dead | length) == 1 and (.detail.started | length) == 1'
	for i in $(seq 300); do
		left=$(sqs-poll get-attributes jobs | jq -r '.Attributes | (.ApproximateNumberOfMessages|tonumber) + (.ApproximateNumberOfMessagesNotVisible|tonumber)')
		[ "$left" -eq 0 ] && break
		sleep 0.1
	done
	[ "$left" -eq 0 ]
	[ "$(sort -u done.log | wc -l)" -eq 500 ]
	# Later runs retire them: first down to one (a whole idle window is
	# needed for zero), then to zero; the workers exit by themselves.
	sleep 1.2
	autoscale jobs $policy -- $worker >/dev/null
	sleep 1.2
	run autoscale jobs $policy -- $worker
	echo "$output" | jq -e '.detail.target == 0'
	for i in $(seq 100); do
		n=$(sqlite3 -cmd '.timeout 5000' "$EVKIT_STATE" 'SELECT count(*) FROM workers')
		[ "$n" -eq 0 ] && break
		sleep 0.1
	done
	[ "$n" -eq 0 ]
	expect 0 autoscale status jobs
	[ -z "$output" ]
}

@test "completion: status and queue names first, then options" {
	run autoscale --complete 1 autoscale ""
	[ "$output" = $'status\njobs' ]
	run autoscale --complete 2 autoscale status ""
	[ "$output" = jobs ]
	run autoscale --complete 2 autoscale jobs --
	[[ $output == *--per-worker* && $output == *--scale-down-window* && $output == *--state* ]]
	run autoscale --complete 5 autoscale jobs --max 2 -- sq
	[ "$output" = "@file" ]
}

@test "wake-up mode: a send to an empty queue runs autoscale at once" {
	unset EVKIT_NOW
	cat >handler <<'EOS'
#!/bin/sh
read -r body
echo "$body" >>"$WORK/done.log"
EOS
	chmod +x handler
	export WORK
	sqs-poll create woken --on-wake -- autoscale woken --max 2 --per-worker 10 \
		-- sqs-poll work woken --idle-exit 1s -- "$WORK/handler" >/dev/null
	seq 1 20 | sqs-poll send woken >/dev/null
	for i in $(seq 100); do
		[ -f done.log ] && [ "$(sort -u done.log | wc -l)" -eq 20 ] && break
		sleep 0.1
	done
	[ "$(sort -u done.log | wc -l)" -eq 20 ]
	# The wake-up's own decision went to its log.
	jq -e '.detail.reason == "load rose: scale up" and (.detail.started | length) == 2' \
		"$WORK/logs/wake-woken.log"
}

@test "--every runs again and again until SIGTERM, then exits 0" {
	unset EVKIT_NOW
	autoscale jobs --max 2 --per-worker 10 --every 100ms --dry-run >events 2>err &
	pid=$!
	for i in $(seq 50); do [ "$(wc -l <events)" -ge 3 ] && break; sleep 0.1; done
	kill -TERM $pid
	set +e
	wait $pid
	rc=$?
	set -e
	[ "$rc" -eq 0 ]
	[ "$(wc -l <events)" -ge 3 ]
	jq -e '."detail-type" == "Scaling Decision"' events >/dev/null
}
