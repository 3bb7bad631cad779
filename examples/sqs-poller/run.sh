#!/bin/sh
# The SQS poller architecture (2017) on one machine: work arrives on a
# queue; the auto scaler compares the queue depth with the live workers and
# starts workers; each worker calls home, receives messages and runs a
# handler on each; a message whose handler keeps failing ends up in the
# dead-letter queue. Nothing is lost, even when a worker is killed.
set -e
here=$(cd "$(dirname "$0")" && pwd)
DEMO_DIR=$(mktemp -d)
export DEMO_DIR EVKIT_STATE="$DEMO_DIR/state.db"
trap 'for p in $(sqlite3 "$EVKIT_STATE" "SELECT pid FROM workers" 2>/dev/null); do kill $p 2>/dev/null; done; rm -rf "$DEMO_DIR"' EXIT

say() { printf '\n$ %s\n' "$*"; }
depth() {
	sqs-poll get-attributes "$1" |
		jq -r '.Attributes | "\(.ApproximateNumberOfMessages) visible, \(.ApproximateNumberOfMessagesNotVisible) in flight"'
}

say sqs-poll create jobs-dead
sqs-poll create jobs-dead
say sqs-poll create jobs --visibility-timeout 5 --dlq jobs-dead --max-receive 3
sqs-poll create jobs --visibility-timeout 5 --dlq jobs-dead --max-receive 3

say 'seq 300 | sed s/^/job-/ | sqs-poll send jobs   (and 2 poison messages)'
{ seq 300 | sed 's/^/job-/'; echo poison-1; echo poison-2; } | sqs-poll send jobs >/dev/null
echo "jobs: $(depth jobs)"

policy="--max 3 --per-worker 100 --alive 10s --scale-down-window 2s"
worker="sqs-poll work jobs --heartbeat 1s --retry-delay 0 -- $here/handle-job"
say "autoscale jobs $policy -- $worker"
autoscale jobs $policy -- $worker |
	jq -c '.detail | {load: .load.total, desired, reason, started: (.started | length)}'

i=0
while [ $i -lt 300 ]; do
	n=$(sqs-poll get-attributes jobs | jq -r '.Attributes | (.ApproximateNumberOfMessages|tonumber) + (.ApproximateNumberOfMessagesNotVisible|tonumber)')
	[ "$n" -eq 0 ] && break
	sleep 0.1
	i=$((i + 1))
done
sleep 1.1   # the workers' next call home carries their counters
say autoscale status jobs
autoscale status jobs | jq -c '{WorkerId: .WorkerId[0:8], State, Handled}'
echo "handled: $(sort -u "$DEMO_DIR/handled.log" | wc -l) distinct jobs"
echo "jobs: $(depth jobs); jobs-dead: $(depth jobs-dead)"

say "autoscale jobs ...   (later runs: the queue is empty, the workers retire)"
sleep 2.1
autoscale jobs $policy -- $worker | jq -c '.detail | {load: .load.total, target, reason, retired: (.retired | length)}'
sleep 2.1
autoscale jobs $policy -- $worker | jq -c '.detail | {load: .load.total, target, reason, retired: (.retired | length)}'
sleep 1.5
say autoscale status jobs
autoscale status jobs | jq -c '{WorkerId: .WorkerId[0:8], State, Handled}'
echo "(no workers left)"
