#!/bin/sh
# tests/fault/sqs-kill.sh: no message is lost when workers die by SIGKILL.
#
# N messages (FAULT_MESSAGES, default 10000), some of them poison; 4
# workers whose handler appends each body to a log; a loop that kills a
# random worker with SIGKILL every few tenths of a second and starts a new
# one, until the queue is empty. Then: every good message was handled at
# least once, the queue is empty (so each was deleted, and a row is deleted
# once), duplicates are no more than the kills, the poison messages sit in
# the dead-letter queue, PRAGMA integrity_check says ok, and no process
# reported a locked or busy state file. Output is TAP.
set -u
n=${FAULT_MESSAGES:-10000}
bindir=${EVKIT_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
PATH="$bindir:$PATH"
work=$(mktemp -d)
trap 'kill -9 $(cat "$work"/pids 2>/dev/null) 2>/dev/null; rm -rf "$work"' EXIT INT TERM
cd "$work" || exit 1
export EVKIT_STATE="$work/state.db"
unset EVKIT_NOW

sqs-poll create dead >/dev/null
sqs-poll create jobs --visibility-timeout 2 --dlq dead --max-receive 3 >/dev/null
poison=0
i=0
awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) print (i % 1000 == 0 ? "poison-" : "job-") i }' >bodies
poison=$(grep -c '^poison' bodies)
sqs-poll send jobs <bodies >sent 2>send.err
sent=$(wc -l <sent)

cat >handler <<'EOS'
#!/bin/sh
read -r body
case $body in poison-*) exit 1 ;; esac
echo "$body" >>handled.log
EOS
chmod +x handler

start_worker() {
	sqs-poll work jobs --visibility-timeout 2 --heartbeat 1 -- ./handler \
		>/dev/null 2>>workers.err &
	echo $! >>pids
}
: >pids
for w in 1 2 3 4; do start_worker; done

kills=0
rounds=0
while :; do
	left=$(sqs-poll get-attributes jobs | sed 's/.*"ApproximateNumberOfMessages":"\([0-9]*\)","ApproximateNumberOfMessagesNotVisible":"\([0-9]*\)".*/\1 \2/')
	set -- $left
	[ "$1" -eq 0 ] && [ "$2" -eq 0 ] && break
	rounds=$((rounds + 1))
	[ $rounds -gt 3000 ] && break   # bounded: about 10 minutes at most
	sleep 0.2
	if [ $((rounds % 2)) -eq 0 ]; then
		victim=$(awk 'NR > 0 { p[NR] = $1 } END { srand(); print p[int(rand() * NR) + 1] }' pids)
		if kill -9 "$victim" 2>/dev/null; then
			wait "$victim" 2>/dev/null
			kills=$((kills + 1))
			grep -v "^$victim\$" pids >pids.new; mv pids.new pids
			start_worker
		fi
	fi
done
for p in $(cat pids); do kill -TERM "$p" 2>/dev/null; done
for p in $(cat pids); do wait "$p" 2>/dev/null; done
sleep 0.5   # handlers orphaned by the kills finish

t=0
check() { # DESCRIPTION CONDITION...
	t=$((t + 1))
	d=$1
	shift
	if "$@"; then echo "ok $t - $d"; else echo "not ok $t - $d"; fi
}
good=$((n - poison))
check "all $n messages were sent ($sent)" [ "$sent" -eq "$n" ]
distinct=$(sort -u handled.log | wc -l)
total=$(wc -l <handled.log)
missing=$(grep '^job-' bodies | sort >want; sort -u handled.log | comm -23 want - | wc -l)
check "every good message was handled at least once ($distinct of $good; $missing missing)" \
	[ "$missing" -eq 0 ]
counts=$(sqs-poll get-attributes jobs | jq -r '.Attributes | [.ApproximateNumberOfMessages, .ApproximateNumberOfMessagesNotVisible, .ApproximateNumberOfMessagesDelayed] | join(" ")')
check "the queue is empty (visible, in flight, delayed: $counts)" [ "$counts" = "0 0 0" ]
dups=$((total - distinct))
check "duplicates ($dups) are no more than the kills ($kills)" [ "$dups" -le "$kills" ]
indlq=$(sqs-poll get-attributes dead | jq -r .Attributes.ApproximateNumberOfMessages)
check "the $poison poison messages sit in the dead-letter queue ($indlq)" [ "$indlq" -eq "$poison" ]
integrity=$(sqlite3 "$EVKIT_STATE" 'PRAGMA integrity_check')
check "PRAGMA integrity_check: $integrity" [ "$integrity" = ok ]
locked=$(cat workers.err send.err | grep -ciE 'locked|busy')
check "no process reported a locked or busy state file ($locked lines)" [ "$locked" -eq 0 ]
check "workers were killed during the run ($kills kills)" [ "$kills" -gt 0 ]
echo "# $n messages, $kills kills, $dups duplicates, $rounds rounds"
echo "1..$t"
