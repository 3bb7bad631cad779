#!/usr/bin/env bats
# sqs-poll: queues with SQS's attributes and JSON shapes, messages (raw
# bodies, entries, attributes and their MD5s), receive, delete and
# visibility, dead-letter queues, FIFO groups and deduplication, purge,
# redrive, long polling, and the worker with its registry.
#
# Time: EVKIT_NOW freezes the clock; "at S CMD..." runs CMD with the clock
# at T0 + S seconds, so a later "at" has moved time. Waits on other
# processes are bounded (wait_for, wait_exit); nothing asserts how long
# something took.

load helpers

T0=1767225600   # 2026-01-01T00:00:00Z

setup() {
	setup_evkit
	unset EVKIT_WORKER_ID
	export EVKIT_STATE="$WORK/state.db"
}

teardown() {
	# A worker a failed test left behind must not outlive it.
	local p
	for p in ${BG_PIDS:-}; do kill -9 "$p" 2>/dev/null || true; done
	teardown_evkit
}

at() {
	local s=$1
	shift
	EVKIT_NOW=@$((T0 + s)) "$@"
}

# One field of get-attributes.
attr() {
	sqs-poll get-attributes "$1" | jq -r ".Attributes.$2"
}

# counts Q: "visible not-visible delayed", as of the clock (EVKIT_NOW).
counts() {
	sqs-poll get-attributes "$1" | jq -r '.Attributes | [.ApproximateNumberOfMessages,
		.ApproximateNumberOfMessagesNotVisible, .ApproximateNumberOfMessagesDelayed] | join(" ")'
}

# wait_for CONDITION: poll a shell condition for up to 20 seconds.
wait_for() {
	local i
	for i in $(seq 200); do
		eval "$1" && return 0
		sleep 0.1
	done
	echo "gave up waiting for: $1" >&2
	return 1
}

# wait_exit PID: wait for a background process, up to 20 seconds; its exit
# status goes to $rc. A process still running is killed and fails the test.
wait_exit() {
	if ! wait_for "! kill -0 $1 2>/dev/null"; then
		kill -9 "$1"
		return 1
	fi
	set +e
	wait "$1"
	rc=$?
	set -e
}

@test "help, version and usage errors: exit 2 and nothing is done" {
	expect 0 sqs-poll --help
	[[ $output == *"usage: sqs-poll COMMAND"* ]]
	help=$output
	for c in create list get-attributes set-attributes delete delete-queue purge redrive \
	         send recv change-visibility work workers drain; do
		[[ $help == *"  $c "* ]]
		expect 0 sqs-poll "$c" --help
		[[ $output == *"usage: sqs-poll $c"* ]]
	done
	expect 0 sqs-poll --version
	[[ $output == "sqs-poll (evkit) "* ]]
	expect 2 sqs-poll
	expect 2 sqs-poll frobnicate
	[[ $output == *"unknown command 'frobnicate'"* ]]
	# args (eval'd) : what stderr says
	while IFS=: read -r args msg; do
		expect 2 eval "sqs-poll $args"
		[[ $output == *"$msg"* ]]
	done <<-'EOF'
	create:a QUEUE is needed
	create a b:too many operands
	create q --bogus:unknown option '--bogus'
	create 'bad name':may hold only letters, digits, '-' and '_'
	create 'a.b':may hold only letters, digits
	create "$(printf 'x%.0s' $(seq 81))":1 to 80 characters
	create q.fifo:a FIFO queue needs --fifo
	create q --fifo:must end with '.fifo'
	create q --visibility-timeout 43201:--visibility-timeout
	create q --visibility-timeout -1:--visibility-timeout
	create q --delay 901:--delay
	create q --retention 59:--retention: at least 60s
	create q --retention 15d:--retention
	create q --wait 21:--wait
	create q --max-size 1023:--max-size
	create q --max-size 262145:--max-size
	create q --max-size abc:--max-size
	create q --dlq d:--dlq and --max-receive go together
	create q --max-receive 3:--dlq and --max-receive go together
	create q --dlq d --max-receive 0:--max-receive
	create q --content-based-dedup:--content-based-dedup is for FIFO queues
	recv q -n 0:--max
	recv q -n 11:--max
	recv q --wait 21:--wait
	recv:a QUEUE is needed
	send:a QUEUE is needed
	send q --batch 11:--batch
	change-visibility q h:more operands are needed
	work q:the command goes after '--'
	work q --concurrency 0 -- true:--concurrency
	drain:a WORKER-ID is needed
	drain a b:too many operands
	workers a b:too many operands
	list x:too many operands
	EOF
	[ ! -e "$EVKIT_STATE" ]   # nothing was done
	# A queue that does not exist is a usage error too.
	expect 0 sqs-poll create q
	for c in "get-attributes nope" "send nope x" "recv nope" "purge nope" "redrive nope" \
	         "delete nope h" "delete-queue nope" "delete nope --queue" "set-attributes nope" \
	         "change-visibility nope h 1" "work nope -- true"; do
		expect 2 sqs-poll $c
		[[ $output == *"no queue named 'nope'"* ]]
	done
}

@test "create: every option shows in get-attributes with SQS's names and values" {
	expect 0 sqs-poll create plain
	[ "$output" = '{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/000000000000/plain"}' ]
	expect 0 sqs-poll get-attributes plain
	# SQS's defaults; every value a string, as GetQueueAttributes gives them.
	[ "$(echo "$output" | jq -c '.Attributes | del(.CreatedTimestamp, .LastModifiedTimestamp)')" = \
	  '{"QueueArn":"arn:aws:sqs:us-east-1:000000000000:plain","ApproximateNumberOfMessages":"0","ApproximateNumberOfMessagesNotVisible":"0","ApproximateNumberOfMessagesDelayed":"0","VisibilityTimeout":"30","MaximumMessageSize":"262144","MessageRetentionPeriod":"345600","DelaySeconds":"0","ReceiveMessageWaitTimeSeconds":"0"}' ]
	[ "$(echo "$output" | jq -r '.Attributes | (.CreatedTimestamp | test("^[0-9]+$"))')" = true ]
	expect 0 sqs-poll create dead
	expect 0 sqs-poll create dead.fifo --fifo
	# options | attribute=value
	while IFS='|' read -r opts want; do
		name=q$RANDOM
		case $opts in *--fifo*) name=$name.fifo ;; esac
		expect 0 eval "sqs-poll create $name $opts"
		got=$(sqs-poll get-attributes "$name" | jq -r ".Attributes.${want%%=*}")
		[ "$got" = "${want#*=}" ] || { echo "$opts: $got" >&2; false; }
	done <<-'EOF'
	--visibility-timeout 0|VisibilityTimeout=0
	--visibility-timeout 12h|VisibilityTimeout=43200
	--visibility-timeout 45|VisibilityTimeout=45
	--delay 900|DelaySeconds=900
	--delay 5m|DelaySeconds=300
	--retention 60|MessageRetentionPeriod=60
	--retention 14d|MessageRetentionPeriod=1209600
	--wait 20|ReceiveMessageWaitTimeSeconds=20
	--max-size 1024|MaximumMessageSize=1024
	--dlq dead --max-receive 3|RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":3}
	--dlq https://sqs.us-east-1.amazonaws.com/000000000000/dead --max-receive 2|RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":2}
	--dlq arn:aws:sqs:us-east-1:000000000000:dead --max-receive 1|RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":1}
	--fifo|FifoQueue=true
	--fifo|ContentBasedDeduplication=false
	--fifo --content-based-dedup|ContentBasedDeduplication=true
	--fifo --dlq dead.fifo --max-receive 5|RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead.fifo","maxReceiveCount":5}
	EOF
	# A standard queue has no FIFO attributes at all.
	[ "$(sqs-poll get-attributes plain | jq '.Attributes | has("FifoQueue")')" = false ]
}

@test "create is idempotent for the same attributes; other attributes conflict" {
	expect 0 sqs-poll create q --visibility-timeout 10
	expect 0 sqs-poll create q --visibility-timeout 10
	[ "$output" = '{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/000000000000/q"}' ]
	expect 2 sqs-poll create q --visibility-timeout 11
	[[ $output == *"queue 'q' already exists with other attributes"* ]]
	expect 2 sqs-poll create q
	[ "$(attr q VisibilityTimeout)" = 10 ]
	# By URL and by ARN, the same queue.
	expect 0 sqs-poll create https://sqs.us-east-1.amazonaws.com/000000000000/q --visibility-timeout 10
	expect 0 sqs-poll get-attributes arn:aws:sqs:us-east-1:000000000000:q
	[ "$(sqs-poll list | wc -l)" -eq 1 ]
	expect 2 sqs-poll create arn:aws:lambda:us-east-1:000000000000:function:f
}

@test "create: the dead-letter queue must exist and be of the same kind" {
	expect 2 sqs-poll create q --dlq dlq --max-receive 3
	[[ $output == *"dead-letter queue 'dlq' does not exist: create it first"* ]]
	[ ! -e "$EVKIT_STATE" ] || [ "$(sqs-poll list | wc -l)" -eq 0 ]
	sqs-poll create dlq
	sqs-poll create dlq.fifo --fifo
	expect 2 sqs-poll create q.fifo --fifo --dlq dlq --max-receive 3
	[[ $output == *"must be a FIFO queue too"* ]]
	expect 2 sqs-poll create q --dlq dlq.fifo --max-receive 3
	[[ $output == *"must be a standard queue too"* ]]
	expect 0 sqs-poll create q --dlq dlq --max-receive 3
	expect 2 sqs-poll set-attributes q --dlq q --max-receive 3
	[[ $output == *"cannot be its own dead-letter queue"* ]]
}

@test "list, delete-queue and delete --queue" {
	expect 0 sqs-poll list
	[ -z "$output" ]
	[ ! -e "$EVKIT_STATE" ]   # reading never creates the state file
	sqs-poll create b
	sqs-poll create a
	sqs-poll create c.fifo --fifo
	expect 0 sqs-poll list
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = '{"QueueName":"a","QueueUrl":"https://sqs.us-east-1.amazonaws.com/000000000000/a","QueueArn":"arn:aws:sqs:us-east-1:000000000000:a"}' ]
	[ "$(sqs-poll list | jq -r .QueueName | tr '\n' ' ')" = "a b c.fifo " ]
	AWS_REGION=eu-west-3 AWS_ACCOUNT_ID=123456789012 run sqs-poll list
	[[ ${lines[0]} == *'"QueueUrl":"https://sqs.eu-west-3.amazonaws.com/123456789012/a","QueueArn":"arn:aws:sqs:eu-west-3:123456789012:a"}' ]]
	sqs-poll send a hello
	expect 0 sqs-poll delete-queue a
	[ -z "$output" ]
	expect 2 sqs-poll delete-queue a
	[[ $output == *"no queue named 'a'"* ]]
	expect 0 sqs-poll delete b --queue
	expect 0 sqs-poll delete https://sqs.us-east-1.amazonaws.com/000000000000/c.fifo --queue
	expect 0 sqs-poll list
	[ -z "$output" ]
	# A queue made again under the same name starts empty.
	sqs-poll create a
	expect 1 sqs-poll recv a
}

@test "get-attributes counts visible, in flight and delayed messages as time moves" {
	at 0 sqs-poll create q --visibility-timeout 30
	[ "$(at 0 counts q)" = "0 0 0" ]
	printf 'a\nb\nc\n' | at 0 sqs-poll send q >/dev/null
	at 0 sqs-poll send q --delay 10 later >/dev/null
	[ "$(at 0 counts q)" = "3 0 1" ]
	at 1 sqs-poll recv q -n 2 >/dev/null
	[ "$(at 1 counts q)" = "1 2 1" ]
	[ "$(at 10 counts q)" = "2 2 0" ]   # the delay is over
	[ "$(at 31 counts q)" = "4 0 0" ]   # so is the visibility timeout
}

@test "set-attributes changes only what is given" {
	at 0 sqs-poll create q --visibility-timeout 10 --delay 5
	sqs-poll create dlq
	expect 0 at 100 sqs-poll set-attributes q --wait 20 --max-size 2048 --dlq dlq --max-receive 4
	[ -z "$output" ]
	expect 0 at 100 sqs-poll get-attributes q
	a=$(echo "$output" | jq -c '.Attributes | [.VisibilityTimeout, .DelaySeconds,
		.ReceiveMessageWaitTimeSeconds, .MaximumMessageSize, .RedrivePolicy,
		.CreatedTimestamp, .LastModifiedTimestamp]')
	[ "$a" = "[\"10\",\"5\",\"20\",\"2048\",\"{\\\"deadLetterTargetArn\\\":\\\"arn:aws:sqs:us-east-1:000000000000:dlq\\\",\\\"maxReceiveCount\\\":4}\",\"$T0\",\"$((T0 + 100))\"]" ]
	expect 0 sqs-poll set-attributes q --visibility-timeout 1m --delay 0 --retention 2h
	[ "$(attr q VisibilityTimeout)/$(attr q DelaySeconds)/$(attr q MessageRetentionPeriod)" = 60/0/7200 ]
	expect 2 sqs-poll set-attributes q --content-based-dedup
	expect 2 sqs-poll set-attributes q --visibility-timeout 13h
	[ "$(attr q VisibilityTimeout)" = 60 ]
	# The queue's delay and wait apply to send and recv.
	at 0 sqs-poll set-attributes q --delay 30
	at 0 sqs-poll send q x >/dev/null
	expect 1 at 29 sqs-poll recv q
	expect 0 at 30 sqs-poll recv q
}

@test "send: raw bodies, byte for byte, with SQS's MD5" {
	sqs-poll create q
	# Each line is a body as it is: JSON is not re-serialised, nothing is
	# unescaped, UTF-8 passes through.
	printf '%s\n' '{"a": 1,  "b":[1.50, 1700000000000000007]}' 'plain text' \
		'"quoted" \n not an escape' $'tab\there' 'héllo wörld ✓ 𝄞' > bodies
	expect 0 sh -c 'sqs-poll send q < bodies'
	[ "${#lines[@]}" -eq 5 ]
	i=0
	while IFS= read -r body; do
		want=$(printf '%s' "$body" | md5sum | cut -d' ' -f1)
		[ "$(echo "${lines[$i]}" | jq -r .MD5OfMessageBody)" = "$want" ]
		[[ $(echo "${lines[$i]}" | jq -r .MessageId) =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
		[ "$(echo "${lines[$i]}" | jq 'has("SequenceNumber")')" = false ]
		i=$((i + 1))
	done < bodies
	expect 0 sqs-poll send q 'from the command line'
	[ "$(echo "$output" | jq -r .MD5OfMessageBody)" = "$(printf 'from the command line' | md5sum | cut -d' ' -f1)" ]
	expect 0 sqs-poll recv q -n 10
	[ "${#lines[@]}" -eq 6 ]
	for l in "${lines[@]}"; do echo "$l" | jq -j '.Body + "\n"'; done > received
	printf 'from the command line\n' >> bodies
	cmp bodies received
	for l in "${lines[@]}"; do
		[ "$(echo "$l" | jq -r .MD5OfBody)" = "$(echo "$l" | jq -j .Body | md5sum | cut -d' ' -f1)" ]
	done
}

@test "send --entries: MessageAttributes and MD5OfMessageAttributes as SQS computes them" {
	sqs-poll create q
	b64=$(printf test_attribute_value | base64)
	# Digests from AWS's own SDK samples and moto's tests of SQS.
	cat > entries <<-EOF
	{"Id":"s","MessageBody":"m1","MessageAttributes":{"test_attribute_name_2":{"DataType":"String","StringValue":"test_attribute_value_2"},"test_attribute_name_1":{"DataType":"String","StringValue":"test_attribute_value_1"}}}
	{"MessageBody":"m2","MessageAttributes":{"test_attribute_name":{"DataType":"Binary","BinaryValue":"$b64"}}}
	{"MessageBody":"m3","MessageAttributes":{"SellerName":{"DataType":"String","StringValue":"Example Store"}}}
	{"MessageBody":"m4","MessageAttributes":{"timestamp":{"DataType":"Number","StringValue":"1493147359900"}}}
	{"MessageBody":"m5"}
	EOF
	expect 0 sh -c 'sqs-poll send q --entries < entries'
	[ "$(printf '%s\n' "${lines[@]}" | jq -c '[.Id, .MD5OfMessageAttributes]' | tr '\n' ' ')" = \
	  '["s","d53f3b558fe951154770f25cb63dbba9"] [null,"23f6bd27ea87aab7dfeadcc9aebee495"] [null,"cd28f3b68aeee4b2eac9c66f2f694b58"] [null,"235c5c510d26fb653d073faed50ae77c"] [null,null] ' ]
	[ "$(echo "${lines[0]}" | jq -r .MD5OfMessageBody)" = "$(printf m1 | md5sum | cut -d' ' -f1)" ]
	# Received: the attributes as sent, with the same digest.
	expect 0 sqs-poll recv q -n 10
	[ "$(echo "${lines[1]}" | jq -c '[.Body, .MD5OfMessageAttributes, .MessageAttributes]')" = \
	  "[\"m2\",\"23f6bd27ea87aab7dfeadcc9aebee495\",{\"test_attribute_name\":{\"DataType\":\"Binary\",\"BinaryValue\":\"$b64\"}}]" ]
	[ "$(echo "${lines[3]}" | jq -c .MessageAttributes)" = '{"timestamp":{"DataType":"Number","StringValue":"1493147359900"}}' ]
	[ "$(echo "${lines[4]}" | jq 'has("MessageAttributes") or has("MD5OfMessageAttributes")')" = false ]
}

@test "send --entries: DelaySeconds, and bad entries are rejected (exit 3) while the rest go" {
	at 0 sqs-poll create q
	cat > entries <<-'EOF'
	{"MessageBody":"now"}
	{"MessageBody":"later","DelaySeconds":60}
	{"MessageBody":"too late","DelaySeconds":901}
	{"MessageBody":5}
	[1]
	{oops
	{"MessageBody":"x","MessageAttributes":{"a":{"DataType":"Strin","StringValue":"x"}}}
	{"MessageBody":"x","MessageAttributes":{"a":{"DataType":"String"}}}
	{"MessageBody":"x","MessageAttributes":{"a":{"DataType":"Binary","BinaryValue":"!!!"}}}
	{"MessageBody":"x","MessageAttributes":{"1":{"DataType":"String","StringValue":"1"},"2":{"DataType":"String","StringValue":"1"},"3":{"DataType":"String","StringValue":"1"},"4":{"DataType":"String","StringValue":"1"},"5":{"DataType":"String","StringValue":"1"},"6":{"DataType":"String","StringValue":"1"},"7":{"DataType":"String","StringValue":"1"},"8":{"DataType":"String","StringValue":"1"},"9":{"DataType":"String","StringValue":"1"},"10":{"DataType":"String","StringValue":"1"},"11":{"DataType":"String","StringValue":"1"}}}
	{"MessageBody":"custom","MessageAttributes":{"a":{"DataType":"Number.float","StringValue":"1.5"}}}
	{"MessageBody":"cut\u0000short"}
	{"MessageBody":"x","DelaySeconds":"soon"}
	{"MessageBody":"x","MessageAttributes":{"AWS.trace":{"DataType":"String","StringValue":"1"}}}
	{"MessageBody":"x","MessageAttributes":{"a..b":{"DataType":"String","StringValue":"1"}}}
	{"MessageBody":"x","MessageAttributes":{"n":{"DataType":"Number","StringValue":"twelve"}}}
	{"MessageBody":"x","MessageAttributes":{"s":{"DataType":"Stringly","StringValue":"1"}}}
	{"MessageBody":"x","MessageAttributes":{"e":{"DataType":"String","StringValue":""}}}
	EOF
	run sh -c 'EVKIT_NOW=@'$T0' sqs-poll send q --entries < entries 2>err; echo "rc=$?"'
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[3]}" = "rc=3" ]
	# (Entries that are not well formed are reported as they are read,
	# the others as their batch is sent: in line order, they are.)
	run sort -t: -k3,3n err
	[ "${#lines[@]}" -eq 15 ]
	[[ ${lines[0]} == "sqs-poll: stdin:3: DelaySeconds must be >= 0 and <= 900" ]]
	[[ ${lines[1]} == "sqs-poll: stdin:4: the entry has no MessageBody string" ]]
	[[ ${lines[2]} == "sqs-poll: stdin:5: a SendMessage entry must be an object"* ]]
	[[ ${lines[3]} == "sqs-poll: stdin:6: invalid JSON"* ]]
	[[ ${lines[4]} == "sqs-poll: stdin:7: InvalidParameterValue: The message attribute 'a' must have a DataType of String, Number or Binary." ]]
	[[ ${lines[5]} == "sqs-poll: stdin:8: InvalidParameterValue: "*"'StringValue'"* ]]
	[[ ${lines[6]} == "sqs-poll: stdin:9: InvalidParameterValue: "*"'BinaryValue'"* ]]
	[[ ${lines[7]} == "sqs-poll: stdin:10: InvalidParameterValue: Number of message attributes [11] exceeds the allowed maximum [10]." ]]
	# A NUL inside the JSON string is refused, not a body cut short.
	[[ ${lines[8]} == "sqs-poll: stdin:12: InvalidMessageContents: Invalid binary character '#x0'"* ]]
	[[ ${lines[9]} == "sqs-poll: stdin:13: DelaySeconds must be a number" ]]
	# SQS's rules for names, Number values, custom labels, empty values
	[[ ${lines[10]} == "sqs-poll: stdin:14: InvalidParameterValue: The message attribute name 'AWS.trace' is invalid"* ]]
	[[ ${lines[11]} == "sqs-poll: stdin:15: InvalidParameterValue: The message attribute name 'a..b' is invalid"* ]]
	[[ ${lines[12]} == "sqs-poll: stdin:16: InvalidParameterValue: The message attribute 'n' with type 'Number'"* ]]
	[[ ${lines[13]} == "sqs-poll: stdin:17: InvalidParameterValue: The message attribute 's' has the DataType 'Stringly'"* ]]
	[[ ${lines[14]} == "sqs-poll: stdin:18: InvalidParameterValue: "*"'StringValue', not empty."* ]]
	[ "$(at 0 counts q)" = "2 0 1" ]
	expect 0 at 0 sqs-poll recv q -n 10 --visibility-timeout 1h
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .Body | tr '\n' ' ')" = "now custom " ]
	expect 0 at 60 sqs-poll recv q
	[ "$(echo "$output" | jq -r .Body)" = later ]
}

@test "send: the size limit, SQS's allowed characters, --rejects and --strict" {
	sqs-poll create q --max-size 1024
	head -c 1024 /dev/zero | tr '\0' a > max
	head -c 1025 /dev/zero | tr '\0' a > over
	expect 0 sh -c 'sqs-poll send q < max'
	run sh -c 'sqs-poll send q < over; echo "rc=$?"'
	[[ $output == *"stdin:1: InvalidParameterValue: One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."* ]]
	[[ $output == *"rc=3" ]]
	# Attributes count toward the size.
	printf '{"MessageBody":"%s","MessageAttributes":{"k":{"DataType":"String","StringValue":"v"}}}\n' "$(cat max)" > big
	expect 3 sh -c 'sqs-poll send q --entries < big'
	# #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, valid UTF-8.
	printf 'ok1\nctl\001x\n\377bad utf8\nok2\n' > mixed
	run sh -c 'sqs-poll send q < mixed 2>err; echo "rc=$?"'
	[ "${#lines[@]}" -eq 3 ] && [ "${lines[2]}" = rc=3 ]
	grep -q "stdin:2: InvalidMessageContents: Invalid binary character '#x1' was found in the message body" err
	grep -q "stdin:3: InvalidMessageContents: Invalid binary character '#xFF'" err
	expect 3 sqs-poll send q "$(printf 'arg\002')"
	[[ $output == *"InvalidMessageContents"* ]]
	# --rejects: the rejected lines, as they came, in a file.
	expect 3 sh -c 'sqs-poll send q --rejects rej < mixed'
	[ "$(cat rej)" = "$(printf 'ctl\001x\n\377bad utf8')" ]
	# --strict: nothing after the first rejected line is sent.
	sqs-poll purge q
	run sh -c 'sqs-poll send q --strict < mixed 2>/dev/null; echo "rc=$?"'
	[ "${#lines[@]}" -eq 2 ] && [ "${lines[1]}" = rc=3 ]
	[ "$(counts q)" = "1 0 0" ]
	expect 1 sh -c 'sqs-poll recv q -n 10 | jq -r .Body | grep -v ok1'
	run sh -c 'sqs-poll send q --entries --strict < big; echo "rc=$?"'
	[ "${lines[-1]}" = rc=3 ]
}

@test "recv: -n, --visibility-timeout, --attributes, --until-empty, exit 1 when empty" {
	at 0 sqs-poll create q --visibility-timeout 30
	expect 1 at 0 sqs-poll recv q
	[ -z "$output" ]
	seq 1 25 | at 0 sqs-poll send q >/dev/null
	expect 0 at 5 sqs-poll recv q
	[ "${#lines[@]}" -eq 1 ]
	m=${lines[0]}
	[ "$(echo "$m" | jq -c 'keys_unsorted')" = '["MessageId","ReceiptHandle","MD5OfBody","Body","Attributes"]' ]
	[ "$(echo "$m" | jq -c .Attributes)" = "{\"ApproximateReceiveCount\":\"1\",\"SentTimestamp\":\"${T0}000\",\"ApproximateFirstReceiveTimestamp\":\"$((T0 + 5))000\"}" ]
	expect 0 at 5 sqs-poll recv q -n 10 --visibility-timeout 100
	[ "${#lines[@]}" -eq 10 ]
	expect 0 at 5 sqs-poll recv q --max 3 --attributes None
	[ "${#lines[@]}" -eq 3 ]
	[ "$(echo "${lines[0]}" | jq 'has("Attributes")')" = false ]
	expect 0 at 5 sqs-poll recv q --attributes ApproximateReceiveCount,SentTimestamp
	[ "$(echo "$output" | jq -c '.Attributes | keys_unsorted')" = '["ApproximateReceiveCount","SentTimestamp"]' ]
	expect 0 at 5 sqs-poll recv q --attributes All
	[ "$(echo "$output" | jq '.Attributes | length')" -eq 3 ]
	expect 0 at 5 sqs-poll recv q --until-empty
	[ "${#lines[@]}" -eq 9 ]
	expect 1 at 5 sqs-poll recv q --until-empty
	# The default visibility (30 s) is over for the first 15; the ten held
	# for 100 s still are not visible.
	[ "$(at 35 counts q)" = "15 10 0" ]
	expect 0 at 35 sqs-poll recv q --until-empty -n 10
	[ "${#lines[@]}" -eq 15 ]
	[ "$(echo "${lines[0]}" | jq -r .Attributes.ApproximateReceiveCount)" = 2 ]
	[ "$(echo "${lines[0]}" | jq -r .Attributes.ApproximateFirstReceiveTimestamp)" = "$((T0 + 5))000" ]
	expect 0 at 105 sqs-poll recv q -n 10 --attributes None
	[ "${#lines[@]}" -eq 10 ]
	# Every receive issues a new receipt handle.
	[ "$(at 500 sqs-poll recv q | jq -r .ReceiptHandle)" != "$(at 1000 sqs-poll recv q | jq -r .ReceiptHandle)" ]
}

@test "recv --visibility-timeout 0: each message once per receive, standard and FIFO" {
	# A message shown again at once is not delivered twice by one receive.
	at 0 sqs-poll create q
	printf 'a\nb\nc\n' | at 0 sqs-poll send q >/dev/null
	expect 0 at 0 sqs-poll recv q -n 10 --visibility-timeout 0
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .Body | tr '\n' ' ')" = "a b c " ]
	# They are visible again: the next receive has them, counted twice.
	expect 0 at 0 sqs-poll recv q -n 10 --visibility-timeout 0
	[ "$(printf '%s\n' "${lines[@]}" | jq -r '.Body + .Attributes.ApproximateReceiveCount' | tr '\n' ' ')" = "a2 b2 c2 " ]
	at 0 sqs-poll create q.fifo --fifo --content-based-dedup
	printf '{"MessageBody":"%s","MessageGroupId":"%s"}\n' a1 A b1 B a2 A |
		at 0 sqs-poll send q.fifo --entries >/dev/null
	expect 0 at 0 sqs-poll recv q.fifo -n 10 --visibility-timeout 0
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .Body | tr '\n' ' ')" = "a1 a2 b1 " ]
}

@test "recv: long polling wakes on a send from another process, and on a delayed message" {
	# Each recv may wait 20 seconds but is given 10: it passes only if it
	# wakes up before its wait is over.
	sqs-poll create q
	timeout 10 sqs-poll recv q --wait 20 >out 2>err 3>&- &
	pid=$!
	wait_for '[ -p "$EVKIT_STATE-wake/q" ]'   # it is waiting
	sqs-poll send q woken >/dev/null
	wait_exit $pid
	[ "$rc" -eq 0 ]
	[ "$(jq -r .Body out)" = woken ]
	# A message delayed by a second wakes a recv waiting for up to 20.
	sqs-poll send q --delay 1 later >/dev/null
	expect 0 timeout 10 sqs-poll recv q --wait 20
	[ "$(echo "$output" | jq -r .Body)" = later ]
	# So does one whose visibility timeout ends.
	sqs-poll send q again >/dev/null
	sqs-poll recv q --visibility-timeout 1 >/dev/null
	expect 0 timeout 10 sqs-poll recv q --wait 20
	[ "$(echo "$output" | jq -c '[.Body, .Attributes.ApproximateReceiveCount]')" = '["again","2"]' ]
	# The queue's ReceiveMessageWaitTimeSeconds is recv's default wait.
	sqs-poll create lp --wait 20
	timeout 10 sqs-poll recv lp >out 2>err 3>&- &
	pid=$!
	wait_for '[ -p "$EVKIT_STATE-wake/lp" ]'
	sqs-poll send lp again >/dev/null
	wait_exit $pid
	[ "$rc" -eq 0 ] && [ "$(jq -r .Body out)" = again ]
	# A send to another queue does not end the wait; a wait that ends with
	# nothing is exit 1.
	sqs-poll create other
	timeout 10 sqs-poll recv q --wait 1 >out 2>err 3>&- &
	pid=$!
	sqs-poll send other elsewhere >/dev/null
	wait_exit $pid
	[ "$rc" -eq 1 ] && [ ! -s out ]
}

@test "delete: handles as arguments, as lines, as received messages; stale and bad handles" {
	at 0 sqs-poll create q
	seq 1 6 | at 0 sqs-poll send q >/dev/null
	at 0 sqs-poll recv q -n 6 > got
	h() { sed -n "$1p" got | jq -r .ReceiptHandle; }
	expect 0 at 0 sqs-poll delete q "$(h 1)" "$(h 2)"
	[ -z "$output" ]
	expect 0 sh -c "h() { sed -n \"\$1p\" got | jq -r .ReceiptHandle; }; h 3 | sqs-poll delete q"
	expect 0 sh -c 'sed -n 4p got | sqs-poll delete q'            # a received message
	expect 0 sh -c 'sed -n 5p got | jq .ReceiptHandle | sqs-poll delete q'   # a JSON string
	[ "$(at 0 counts q)" = "0 1 0" ]
	# Deleting an already deleted message succeeds, as in SQS.
	expect 0 at 0 sqs-poll delete q "$(h 1)"
	# A handle that was never one.
	expect 1 at 0 sqs-poll delete q not-a-handle
	[[ $output == *'ReceiptHandleIsInvalid: The input receipt handle "not-a-handle" is not a valid receipt handle.'* ]]
	# A stale handle: the message was received again since.
	old=$(h 6)
	at 30 sqs-poll recv q > again
	[ "$(jq -r .Attributes.ApproximateReceiveCount again)" = 2 ]
	expect 1 at 30 sqs-poll delete q "$old"
	[[ $output == *"ReceiptHandleIsInvalid"* ]]
	[ "$(at 30 counts q)" = "0 1 0" ]
	# Another queue's handle.
	sqs-poll create other
	expect 1 at 30 sqs-poll delete other "$(jq -r .ReceiptHandle again)"
	[[ $output == *"not a valid receipt handle for queue other"* ]]
	# A failed line does not stop the others; a line with no handle is
	# rejected (exit 3 when nothing failed).
	run sh -c "{ echo '$old'; cat again; } | EVKIT_NOW=@$((T0 + 30)) sqs-poll delete q; echo rc=\$?"
	[[ ${lines[0]} == "sqs-poll: stdin:1: ReceiptHandleIsInvalid"* ]]
	[ "${lines[1]}" = rc=1 ]
	[ "$(at 30 counts q)" = "0 0 0" ]
	expect 3 sh -c "echo '{\"x\":1}' | sqs-poll delete q"
	[[ $output == *"stdin:1: no ReceiptHandle in this line"* ]]
	expect 3 sh -c "echo '{\"ReceiptHandle\":7}' | sqs-poll delete q"
	[[ $output == *"stdin:1: no ReceiptHandle in this line"* ]]
	# The handle is the object's own ReceiptHandle member, the last one
	# when it repeats, whatever else the line holds, escapes decoded.
	cat > lines <<-'EOF'
	{"a":[1,{"ReceiptHandle":"x"}],"ReceiptHandle":"h1"}
	{ "x" : "a\"ReceiptHandle\":\"q" , "ReceiptHandle" : "h2" }
	{"Receipt\u0048andle":"h3"}
	{"ReceiptHandle":"h\u0034"}
	{"b":-1.5e3,"c":true,"d":{"e":[[],{}]},"ReceiptHandle":"h5"}
	{"ReceiptHandle":"no","ReceiptHandle":"h6"}
	EOF
	expect 1 sh -c "sqs-poll delete q < lines"
	[ "$(printf '%s\n' "${lines[@]}" | sed 's/.*handle "\([^"]*\)".*/\1/' | tr '\n' ' ')" = "h1 h2 h3 h4 h5 h6 " ]
	# Lines that are not JSON are reported as everywhere else.
	expect 3 sh -c "echo '{\"ReceiptHandle\":\"1.a.b\"' | sqs-poll delete q"
	[[ $output == *"stdin:1: invalid JSON at column"* ]]
	expect 3 sh -c "printf '{\"ReceiptHandle\":\"1.a.\\377\"}\\n' | sqs-poll delete q"
	[[ $output == *"stdin:1: "*"UTF-8"* ]]
	# In one batch, a stale handle fails and the current one of the same
	# message deletes it; a repeated handle is fine; the last key counts.
	at 30 sqs-poll send q twice >/dev/null
	at 30 sqs-poll recv q --visibility-timeout 0 > first
	at 30 sqs-poll recv q > second
	stale=$(jq -r .ReceiptHandle first)
	cur=$(jq -r .ReceiptHandle second)
	run sh -c "printf '%s\\n' '$stale' '$cur' '$cur' | EVKIT_NOW=@$((T0 + 30)) sqs-poll delete q; echo rc=\$?"
	[[ ${lines[0]} == "sqs-poll: stdin:1: ReceiptHandleIsInvalid"* ]]
	[ "${lines[1]}" = rc=1 ]
	[ "$(at 30 counts q)" = "0 0 0" ]
	at 30 sqs-poll send q keyed >/dev/null
	at 30 sqs-poll recv q > keyed
	printf '{"ReceiptHandle":"1.x.y","ReceiptHandle":"%s"}\n' "$(jq -r .ReceiptHandle keyed)" > dup
	expect 0 sh -c "EVKIT_NOW=@$((T0 + 30)) sqs-poll delete q < dup"
	[ "$(at 30 counts q)" = "0 0 0" ]
	# --strict stops there; --rejects keeps the line and goes on.
	at 30 sqs-poll send q last >/dev/null
	at 30 sqs-poll recv q > last
	expect 3 sh -c "{ echo '{\"x\":1}'; cat last; } | EVKIT_NOW=@$((T0 + 30)) sqs-poll delete q --strict"
	[ "$(at 30 counts q)" = "0 1 0" ]
	expect 3 sh -c "{ echo '{\"x\":1}'; cat last; } | EVKIT_NOW=@$((T0 + 30)) sqs-poll delete q --rejects rej"
	[ "$(cat rej)" = '{"x":1}' ]
	[ "$(at 30 counts q)" = "0 0 0" ]
}

@test "change-visibility: hide, show at once, MessageNotInflight, stale handles" {
	at 0 sqs-poll create q --visibility-timeout 30
	at 0 sqs-poll send q m >/dev/null
	hd=$(at 0 sqs-poll recv q | jq -r .ReceiptHandle)
	expect 0 at 10 sqs-poll change-visibility q "$hd" 100
	[ -z "$output" ]
	expect 1 at 100 sqs-poll recv q          # 10 + 100 from the change, not 30
	expect 0 at 10 sqs-poll change-visibility q "$hd" 0
	expect 0 at 10 sqs-poll recv q
	hd2=$(echo "$output" | jq -r .ReceiptHandle)
	expect 1 at 10 sqs-poll change-visibility q "$hd" 5
	[[ $output == *"ReceiptHandleIsInvalid"* ]]
	expect 1 at 10 sqs-poll change-visibility q "$hd2" 43201
	[[ $output == *"InvalidParameterValue"*"Must be between 0 and 43200"* ]]
	expect 2 at 10 sqs-poll change-visibility q "$hd2" soon
	# Visible again: not in flight.
	expect 1 at 40 sqs-poll change-visibility q "$hd2" 5
	[[ $output == *"MessageNotInflight"* ]]
	expect 1 at 40 sqs-poll change-visibility q bogus 5
	[[ $output == *"ReceiptHandleIsInvalid"* ]]
	hd3=$(at 40 sqs-poll recv q | jq -r .ReceiptHandle)
	at 40 sqs-poll delete q "$hd3"
	expect 1 at 40 sqs-poll change-visibility q "$hd3" 5
	[[ $output == *"ReceiptHandleIsInvalid"* ]]
}

@test "a message received more than --max-receive times moves to the DLQ; redrive moves it back" {
	at 0 sqs-poll create dlq
	at 0 sqs-poll create other
	at 0 sqs-poll create q --visibility-timeout 10 --dlq dlq --max-receive 2
	printf 'poison\ngood\n' | at 0 sqs-poll send q >/dev/null
	expect 0 at 0 sqs-poll recv q -n 2
	at 0 sqs-poll delete q "$(echo "${lines[1]}" | jq -r .ReceiptHandle)"
	expect 0 at 10 sqs-poll recv q
	[ "$(echo "$output" | jq -r .Attributes.ApproximateReceiveCount)" = 2 ]
	# The third receive finds it past maxReceiveCount: it moves instead.
	expect 1 at 20 sqs-poll recv q
	[ "$(at 20 counts q)" = "0 0 0" ]
	[ "$(at 20 counts dlq)" = "1 0 0" ]
	expect 0 at 20 sqs-poll recv dlq --visibility-timeout 0
	[ "$(echo "$output" | jq -c '[.Body, .Attributes.ApproximateReceiveCount, .Attributes.SentTimestamp]')" = "[\"poison\",\"1\",\"${T0}000\"]" ]
	expect 0 at 20 sqs-poll redrive dlq
	[ "$output" = '{"ApproximateNumberOfMessagesMoved":1}' ]
	[ "$(at 20 counts dlq)" = "0 0 0" ]
	expect 0 at 20 sqs-poll recv q
	[ "$(echo "$output" | jq -c '[.Body, .Attributes.ApproximateReceiveCount]')" = '["poison","1"]' ]
	# Once more into the DLQ, then --to another queue.
	at 30 sqs-poll recv q >/dev/null
	expect 1 at 40 sqs-poll recv q
	expect 0 at 40 sqs-poll redrive dlq --to other
	[ "$output" = '{"ApproximateNumberOfMessagesMoved":1}' ]
	[ "$(at 40 sqs-poll recv other | jq -r .Body)" = poison ]
	expect 0 at 40 sqs-poll redrive dlq
	[ "$output" = '{"ApproximateNumberOfMessagesMoved":0}' ]
	expect 2 at 40 sqs-poll redrive dlq --to nope
}

@test "purge deletes every message, at most once every 60 seconds" {
	at 0 sqs-poll create q
	seq 1 5 | at 0 sqs-poll send q >/dev/null
	at 0 sqs-poll recv q >/dev/null   # in flight messages go too
	expect 0 at 0 sqs-poll purge q
	[ -z "$output" ]
	[ "$(at 0 counts q)" = "0 0 0" ]
	at 30 sqs-poll send q after >/dev/null
	expect 1 at 59 sqs-poll purge q
	[[ $output == *"PurgeQueueInProgress: Only one PurgeQueue operation on q is allowed every 60 seconds."* ]]
	[ "$(at 59 counts q)" = "1 0 0" ]   # refused: nothing was deleted
	expect 0 at 60 sqs-poll purge q
	[ "$(at 60 counts q)" = "0 0 0" ]
	# Each queue has its own minute.
	at 61 sqs-poll create r
	expect 0 at 61 sqs-poll purge r
}

@test "retention: a message past MessageRetentionPeriod is gone" {
	at 0 sqs-poll create q --retention 60
	at 0 sqs-poll send q old >/dev/null
	at 30 sqs-poll send q young >/dev/null
	[ "$(at 59 counts q)" = "2 0 0" ]
	[ "$(at 60 counts q)" = "1 0 0" ]
	expect 0 at 60 sqs-poll recv q -n 10
	[ "$(echo "$output" | jq -r .Body)" = young ]
	expect 1 at 90 sqs-poll recv q --visibility-timeout 0
}

@test "FIFO: order within a group, a group held while in flight, SequenceNumber" {
	at 0 sqs-poll create q.fifo --fifo
	cat > entries <<-'EOF'
	{"MessageBody":"a1","MessageGroupId":"A","MessageDeduplicationId":"1"}
	{"MessageBody":"b1","MessageGroupId":"B","MessageDeduplicationId":"2"}
	{"MessageBody":"a2","MessageGroupId":"A","MessageDeduplicationId":"3"}
	{"MessageBody":"a3","MessageGroupId":"A","MessageDeduplicationId":"4"}
	{"MessageBody":"b2","MessageGroupId":"B","MessageDeduplicationId":"5"}
	EOF
	expect 0 sh -c "EVKIT_NOW=@$T0 sqs-poll send q.fifo --entries < entries"
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .SequenceNumber | tr '\n' ' ')" = \
	  "00000000000000000001 00000000000000000002 00000000000000000003 00000000000000000004 00000000000000000005 " ]
	expect 0 at 0 sqs-poll recv q.fifo
	a1=$output
	[ "$(echo "$a1" | jq -c '[.Body, .Attributes.MessageGroupId, .Attributes.MessageDeduplicationId, .Attributes.SequenceNumber]')" = \
	  '["a1","A","1","00000000000000000001"]' ]
	# Group A is held while a1 is in flight: B is next.
	expect 0 at 0 sqs-poll recv q.fifo
	b1=$output
	[ "$(echo "$b1" | jq -r .Body)" = b1 ]
	expect 1 at 0 sqs-poll recv q.fifo
	at 0 sqs-poll delete q.fifo "$(echo "$a1" | jq -r .ReceiptHandle)"
	# A's next two come in order, in one receive; B is still held.
	expect 0 at 0 sqs-poll recv q.fifo -n 10
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .Body | tr '\n' ' ')" = "a2 a3 " ]
	# b1 comes back after its visibility timeout, before b2.
	# (The order between groups is not SQS's promise; within each, it is.)
	expect 0 at 30 sqs-poll recv q.fifo -n 10
	[ "${#lines[@]}" -eq 4 ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r 'select(.Attributes.MessageGroupId == "A") | .Body' | tr '\n' ' ')" = "a2 a3 " ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r 'select(.Attributes.MessageGroupId == "B") | .Body + .Attributes.ApproximateReceiveCount' | tr '\n' ' ')" = "b12 b21 " ]
}

@test "FIFO: what a send must and must not carry" {
	sqs-poll create q.fifo --fifo
	expect 3 sqs-poll send q.fifo x
	[[ $output == *"MissingParameter: The request must contain the parameter MessageGroupId."* ]]
	expect 3 sqs-poll send q.fifo --group g x
	[[ $output == *"InvalidParameterValue: The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"* ]]
	expect 3 sqs-poll send q.fifo --group g --dedup-id d --delay 1 x
	[[ $output == *"DelaySeconds is invalid"* ]]
	expect 3 sqs-poll send q.fifo --group "$(printf 'g%.0s' $(seq 129))" --dedup-id d x
	expect 0 sqs-poll send q.fifo --group g --dedup-id d x
	[ "$(echo "$output" | jq -r .SequenceNumber)" = 00000000000000000001 ]
}

@test "FIFO deduplication: by id and by content, within 5 minutes only" {
	at 0 sqs-poll create q.fifo --fifo
	first=$(at 0 sqs-poll send q.fifo --group g --dedup-id d1 one)
	# The same id: accepted, not queued; the first one's MessageId.
	expect 0 at 299 sqs-poll send q.fifo --group g --dedup-id d1 "not one"
	[ "$(echo "$output" | jq -c '[.MessageId, .SequenceNumber]')" = "$(echo "$first" | jq -c '[.MessageId, .SequenceNumber]')" ]
	[ "$(at 299 counts q.fifo)" = "1 0 0" ]
	# Even after the first is received and deleted.
	hd=$(at 299 sqs-poll recv q.fifo | jq -r .ReceiptHandle)
	at 299 sqs-poll delete q.fifo "$hd"
	at 299 sqs-poll send q.fifo --group g --dedup-id d1 "not one" >/dev/null
	[ "$(at 299 counts q.fifo)" = "0 0 0" ]
	# Five minutes on, the id is new again.
	expect 0 at 300 sqs-poll send q.fifo --group g --dedup-id d1 two
	[ "$(echo "$output" | jq -r .MessageId)" != "$(echo "$first" | jq -r .MessageId)" ]
	[ "$(at 300 sqs-poll recv q.fifo | jq -r .Body)" = two ]
	# Content-based: the SHA-256 of the body is the id.
	at 0 sqs-poll create c.fifo --fifo --content-based-dedup
	m1=$(at 0 sqs-poll send c.fifo --group g same | jq -r .MessageId)
	m2=$(at 100 sqs-poll send c.fifo --group other same | jq -r .MessageId)
	at 100 sqs-poll send c.fifo --group g different >/dev/null
	[ "$m1" = "$m2" ]
	[ "$(at 100 counts c.fifo)" = "2 0 0" ]
	m3=$(at 300 sqs-poll send c.fifo --group g same | jq -r .MessageId)
	[ "$m3" != "$m1" ]
	[ "$(at 300 counts c.fifo)" = "3 0 0" ]
	# An explicit id wins over the content.
	at 300 sqs-poll send c.fifo --group g --dedup-id other same >/dev/null
	[ "$(at 300 counts c.fifo)" = "4 0 0" ]
	expect 0 at 300 sqs-poll recv c.fifo -n 10
	[ "$(echo "${lines[0]}" | jq -r .Attributes.MessageDeduplicationId)" = "$(printf same | sha256sum | cut -d' ' -f1)" ]
}

@test "work: deletes on exit 0, keeps a failed message, passes the body and metadata" {
	sqs-poll create q
	printf 'one\ntwo\n' | sqs-poll send q > sent
	# The body on stdin, the metadata in the environment.
	expect 0 timeout 60 sqs-poll work q --id w1 --idle-exit 1 -- sh -c \
		'{ cat; echo " $SQS_QUEUE_NAME $SQS_MESSAGE_ID $SQS_RECEIVE_COUNT $EVKIT_WORKER_ID $EVKIT_STATE ${SQS_RECEIPT_HANDLE%%.*}"; } >> log'
	[ "$(counts q)" = "0 0 0" ]
	[ "$(wc -l < log)" -eq 2 ]
	id1=$(sed -n 1p sent | jq -r .MessageId)
	grep -qx "one q $id1 1 w1 $EVKIT_STATE [0-9]*" log
	grep -q "^two q " log
	# CMD's argv is exactly what follows "--".
	sqs-poll send q argv >/dev/null
	expect 0 timeout 60 sqs-poll work q --idle-exit 1 -- printf '[%s]' a 'b c'
	[ "$output" = "[a][b c]" ]
	# A relative --state reaches CMD as an absolute path.
	sqs-poll send q three >/dev/null
	expect 0 timeout 60 sqs-poll --state state.db work q --idle-exit 1 -- sh -c 'echo "$EVKIT_STATE" > where'
	[ "$(cat where)" = "$WORK/state.db" ]
	# A failing CMD: the message stays, hidden for its visibility timeout.
	sqs-poll send q bad >/dev/null
	expect 0 timeout 60 sqs-poll work q --idle-exit 1 -- sh -c 'cat >/dev/null; exit 7'
	[[ $output == *"sqs-poll: work: message "*" failed (exit status 7, receive 1): it will be retried"* ]]
	[ "$(counts q)" = "0 1 0" ]
	m=$(EVKIT_NOW=@$(($(date +%s) + 31)) sqs-poll recv q)
	[ "$(echo "$m" | jq -c '[.Body, .Attributes.ApproximateReceiveCount]')" = '["bad","2"]' ]
}

@test "work: --retry-delay brings a failed message back sooner" {
	sqs-poll create q --visibility-timeout 1h
	sqs-poll send q flaky >/dev/null
	# Fails twice, then succeeds: three runs, one worker, no hour-long wait.
	expect 0 timeout 60 sqs-poll work q --retry-delay 0 --idle-exit 1 -- sh -c \
		'echo "$SQS_RECEIVE_COUNT" >> runs; [ "$SQS_RECEIVE_COUNT" -ge 3 ]'
	[ "$(cat runs | tr '\n' ' ')" = "1 2 3 " ]
	[ "$(counts q)" = "0 0 0" ]
	# A message that always fails ends in the dead-letter queue.
	sqs-poll create dlq
	sqs-poll set-attributes q --dlq dlq --max-receive 2
	printf 'poison\nfine\n' | sqs-poll send q >/dev/null
	expect 0 timeout 60 sqs-poll work q --retry-delay 0 --idle-exit 1 -- sh -c \
		'b=$(cat); echo "$b" >> seen; [ "$b" != poison ]'
	[ "$(sort seen | tr '\n' ' ')" = "fine poison poison " ]
	[ "$(counts q)" = "0 0 0" ]
	[ "$(sqs-poll recv dlq | jq -r .Body)" = poison ]
}

@test "work: FIFO and attribute metadata in the environment" {
	sqs-poll create q.fifo --fifo
	echo '{"MessageBody":"b","MessageGroupId":"g1","MessageDeduplicationId":"d","MessageAttributes":{"k":{"DataType":"String","StringValue":"v"}}}' |
		sqs-poll send q.fifo --entries > sent
	expect 0 timeout 60 sqs-poll work q.fifo --idle-exit 1 -- sh -c \
		'printf "%s|%s|%s|%s\n" "$SQS_MESSAGE_GROUP_ID" "$SQS_MESSAGE_ATTRIBUTES" "$SQS_SENT_TIMESTAMP" "$SQS_QUEUE_URL"'
	[[ $output == "g1|{\"k\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}|"[0-9]*"|https://sqs.us-east-1.amazonaws.com/000000000000/q.fifo" ]]
	sent_ms=$(echo "$output" | cut -d'|' -f3)
	[ "$sent_ms" -gt $((T0 * 1000)) ]
}

@test "work --async: CMD owns the message and deletes it itself" {
	sqs-poll create q
	printf 'a\nb\nc\n' | sqs-poll send q >/dev/null
	expect 0 timeout 60 sqs-poll work q --async --idle-exit 1 -- sh -c \
		'cat > "body.$SQS_MESSAGE_ID"; sqs-poll delete "$SQS_QUEUE_NAME" "$SQS_RECEIPT_HANDLE"'
	[ "$(for f in body.*; do cat "$f"; echo; done | sort | tr -d '\n')" = abc ]
	[ "$(counts q)" = "0 0 0" ]
	# CMD that exits 0 but never deletes: the worker does not delete either.
	printf 'x\ny\n' | sqs-poll send q >/dev/null
	expect 0 timeout 60 sqs-poll work q --async --idle-exit 1 -- true
	[ "$(counts q)" = "0 2 0" ]
}

@test "work --concurrency runs several commands at once" {
	sqs-poll create q
	printf 'a\nb\nc\n' | sqs-poll send q >/dev/null
	# Each CMD waits (bounded) until all three have started: with fewer at
	# once, they would give up and fail.
	expect 0 timeout 60 sqs-poll work q -c 3 --idle-exit 1 -- sh -c \
		'touch "st.$SQS_MESSAGE_ID"; i=0
		 while [ "$(ls st.* | wc -l)" -lt 3 ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
		 [ "$(ls st.* | wc -l)" -ge 3 ] && touch "ok.$SQS_MESSAGE_ID"'
	[ "$(ls ok.* | wc -l)" -eq 3 ]
	[ "$(counts q)" = "0 0 0" ]
}

@test "work keeps a long job's message hidden past the visibility timeout" {
	sqs-poll create q --visibility-timeout 2
	sqs-poll send q long >/dev/null
	# While CMD runs for longer than the timeout, the message must not be
	# receivable elsewhere.
	expect 0 timeout 60 sqs-poll work q --idle-exit 1 -- sh -c \
		'sleep 3.5; sqs-poll recv "$SQS_QUEUE_NAME" > stolen; echo "$?" > rc; cat > body'
	[ "$(cat rc)" = 1 ] && [ ! -s stolen ]
	[ "$(cat body)" = long ]
	[ "$(counts q)" = "0 0 0" ]
}

@test "work: SIGTERM finishes the message in hand, deregisters and exits 0" {
	sqs-poll create q
	sqs-poll send q inhand >/dev/null
	sqs-poll work q --id w1 -- sh -c 'touch started; while [ ! -e go ]; do sleep 0.05; done; cat > done' \
		</dev/null >out 2>err 3>&- &
	pid=$!
	BG_PIDS=$pid
	wait_for '[ -e started ]'
	[ "$(sqs-poll workers | jq -r .WorkerId)" = w1 ]
	kill -TERM $pid
	sqs-poll send q notyet >/dev/null
	touch go
	wait_exit $pid
	[ "$rc" -eq 0 ]
	[ "$(cat done)" = inhand ]
	[ "$(counts q)" = "1 0 0" ]    # deleted; nothing new was taken
	expect 0 sqs-poll workers
	[ -z "$output" ]
}

@test "workers: the registry, Alive, and drain making a worker exit" {
	sqs-poll create q
	sqs-poll create r
	sqs-poll work q --id w1 --heartbeat 200ms -- cat </dev/null >out1 2>err1 3>&- &
	p1=$!
	sqs-poll work r --id w2 -- cat </dev/null >out2 2>err2 3>&- &
	p2=$!
	BG_PIDS="$p1 $p2"
	wait_for '[ "$(sqs-poll workers | wc -l)" -eq 2 ]'
	expect 0 sqs-poll workers q
	[ "${#lines[@]}" -eq 1 ]
	[ "$(echo "$output" | jq -c '[.WorkerId, .Queue, .Pid, .Alive, .Draining, .InFlight]')" = "[\"w1\",\"q\",$p1,true,false,0]" ]
	[ "$(echo "$output" | jq -c 'keys_unsorted')" = '["WorkerId","Queue","Pid","Host","Started","LastSeen","Alive","Draining","InFlight","Handled","Failed"]' ]
	# Calls home every --heartbeat: LastSeen moves, Handled counts up.
	wait_for '[ "$(sqs-poll workers q | jq ".LastSeen != .Started")" = true ]'
	# A handled message is counted.
	sqs-poll send q x >/dev/null
	wait_for '[ "$(sqs-poll workers q | jq .Handled)" = 1 ]'
	# drain: w1 finishes and exits 0, and is gone from the registry.
	expect 0 sqs-poll drain w1
	wait_exit $p1
	[ "$rc" -eq 0 ]
	[ "$(sqs-poll workers | jq -r .WorkerId)" = w2 ]
	expect 1 sqs-poll drain w1
	[[ $output == *"no worker with id 'w1'"* ]]
	# An idle worker wakes on a send (its heartbeat is a minute away).
	sqs-poll send r hello >/dev/null
	wait_for '[ "$(cat out2)" = hello ]'
	# A worker killed outright stays registered, and is not alive once its
	# last call home is 5 minutes old.
	kill -9 $p2
	wait $p2 || true
	expect 0 sqs-poll workers r
	[ "$(echo "$output" | jq .Alive)" = true ]
	[ "$(EVKIT_NOW=@$(($(date +%s) + 301)) sqs-poll workers r | jq .Alive)" = false ]
	# Without --id, a worker is named by EVKIT_WORKER_ID (as the auto
	# scaler starts them), else by a new UUID.
	sqs-poll send q x >/dev/null
	EVKIT_WORKER_ID=from-env run timeout 60 sqs-poll work q --idle-exit 1 -- sh -c \
		'sqs-poll workers q | jq -r .WorkerId'
	[ "$status" -eq 0 ] && [ "$output" = from-env ]
	sqs-poll send q x >/dev/null
	expect 0 timeout 60 sqs-poll work q --idle-exit 1 -- sh -c 'sqs-poll workers q | jq -r .WorkerId'
	[[ $output =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	expect 0 sqs-poll workers q
	[ -z "$output" ]
	# A worker a handler starts does not take over its own worker's id,
	# which it inherits in EVKIT_WORKER_ID: both stay registered.
	sqs-poll create inner
	sqs-poll send inner y >/dev/null
	sqs-poll send q x >/dev/null
	EVKIT_WORKER_ID=outer run timeout 60 sqs-poll work q --idle-exit 1 -- sh -c \
		'sqs-poll work inner --idle-exit 1 -- sh -c "{ sqs-poll workers q; sqs-poll workers inner; } | jq -r .WorkerId"'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" != "${lines[1]}" ]
	[[ " ${lines[*]} " == *" outer "* ]]
}

@test "work: --idle-exit ends a worker on an empty queue" {
	sqs-poll create q
	expect 0 timeout 60 sqs-poll work q --idle-exit 300ms -- false
	[ -z "$output" ]
}

@test "completion completes commands, options and queue names" {
	sqs-poll create alpha
	sqs-poll create beta.fifo --fifo
	run sqs-poll --complete 1 sqs-poll ""
	[[ $output == *recv* && $output == *send* && $output == *work* && $output == *purge* ]]
	for c in recv send delete get-attributes purge redrive work set-attributes change-visibility; do
		run sqs-poll --complete 2 sqs-poll "$c" ""
		[ "$output" = $'alpha\nbeta.fifo' ]
	done
	run sqs-poll --complete 3 sqs-poll recv alpha ""
	[ -z "$output" ]
	run sqs-poll --complete 4 sqs-poll create q --dlq ""
	[ "$output" = $'alpha\nbeta.fifo' ]
	run sqs-poll --complete 3 sqs-poll redrive --to ""
	[ "$output" = $'alpha\nbeta.fifo' ]
	run sqs-poll --complete 2 sqs-poll create --
	[[ $output == *--visibility-timeout* && $output == *--dlq* && $output == *--fifo* ]]
	run sqs-poll --complete 2 sqs-poll recv --
	[[ $output == *--until-empty* && $output == *--attributes* ]]
	run sqs-poll --complete 2 sqs-poll --state ""
	[ "$output" = "@file" ]
	run sqs-poll --complete 4 sqs-poll --state other.db recv ""
	[ -z "$output" ]
	run sqs-poll --complete 4 sqs-poll work alpha -- ""
	[ "$output" = "@file" ]
	[ ! -e other.db ]
	source "$TOP/completions/sqs-poll"
	COMP_WORDS=(sqs-poll recv al); COMP_CWORD=2
	_evkit_complete
	[ "${COMPREPLY[*]}" = alpha ]
}

@test "a state file that cannot be used is exit 4" {
	echo "just text" > notdb
	expect 4 sqs-poll --state notdb list
	expect 4 sqs-poll --state notdb create q
	[ "$(cat notdb)" = "just text" ]
}

@test "send answers each line before it waits for the next; SIGPIPE ends it quietly" {
	sqs-poll create q
	# The reader waits for each result before writing the next line: this
	# only finishes if send writes its result before it blocks on input.
	coproc S { sqs-poll send q; }
	echo first >&"${S[1]}"
	read -t 10 -r got <&"${S[0]}"
	[ "$(echo "$got" | jq -r .MD5OfMessageBody)" = "$(printf first | md5sum | cut -d' ' -f1)" ]
	echo second >&"${S[1]}"
	read -t 10 -r got <&"${S[0]}"
	[ "$(echo "$got" | jq -r .MD5OfMessageBody)" = "$(printf second | md5sum | cut -d' ' -f1)" ]
	exec {S[1]}>&-
	wait
	run sh -c 'seq 1 500 | sqs-poll send q 2>err | head -n 1 >/dev/null; cat err'
	[ -z "$output" ]
	# The default limit is SQS's 256 KiB.
	head -c 262144 /dev/zero | tr '\0' a > max
	expect 0 sh -c 'sqs-poll send q < max'
	{ cat max; echo a; } > over
	expect 3 sh -c 'sqs-poll send q < over'
	[[ $output == *"shorter than 262144 bytes"* ]]
}

@test "work on a FIFO queue: a group's messages run one at a time, in order" {
	sqs-poll create q.fifo --fifo --content-based-dedup
	printf 'A1\nA2\nA3\nA4\n' | sqs-poll send q.fifo --group A >/dev/null
	printf 'B1\nB2\nB3\nB4\n' | sqs-poll send q.fifo --group B >/dev/null
	# With room for three at once, still never two of a group together.
	expect 0 timeout 60 sqs-poll work q.fifo -c 3 --idle-exit 1 -- sh -c \
		'b=$(cat); g=$SQS_MESSAGE_GROUP_ID
		 [ -e "run.$g" ] && echo "overlap in $g" >> log
		 touch "run.$g"; sleep 0.2; echo "$b" >> log; rm "run.$g"'
	[ "$(grep -c overlap log)" -eq 0 ]
	[ "$(grep A log | tr -d '\n')" = A1A2A3A4 ]
	[ "$(grep B log | tr -d '\n')" = B1B2B3B4 ]
	[ "$(counts q.fifo)" = "0 0 0" ]
}

@test "--on-wake runs a command, detached, when a send takes the queue from empty" {
	sqs-poll create wq --on-wake -- sh -c 'echo "woke $SQS_QUEUE_NAME" >>"$0"' "$WORK/woke"
	expect 0 sqs-poll get-attributes wq
	echo "$output" | jq -e '.Attributes.OnWakeCommand | fromjson | .[0] == "sh"'
	sqs-poll send wq a >/dev/null
	sqs-poll send wq b >/dev/null          # not empty: no second wake-up
	for i in $(seq 50); do [ -s "$WORK/woke" ] && break; sleep 0.1; done
	sleep 0.3
	[ "$(cat "$WORK/woke")" = "woke wq" ]
	sqs-poll recv wq -n 10 | sqs-poll delete wq
	sqs-poll send wq c >/dev/null          # empty again: wakes
	for i in $(seq 50); do [ "$(wc -l <"$WORK/woke")" -eq 2 ] && break; sleep 0.1; done
	[ "$(wc -l <"$WORK/woke")" -eq 2 ]
	[ -f "$WORK/logs/wake-wq.log" ]
	expect 0 sqs-poll set-attributes wq --no-on-wake
	expect 0 sqs-poll get-attributes wq
	echo "$output" | jq -e '.Attributes.OnWakeCommand == null'
	expect 2 sqs-poll create wq2 --on-wake
	[[ $output == *"the command goes after '--'"* ]]
	expect 2 sqs-poll create wq2 -- true
	[[ $output == *"is for --on-wake"* ]]
	# A command that cannot start is reported; the send still succeeds.
	sqs-poll create wq3 --on-wake -- /nonexistent/wake
	expect 0 sqs-poll send wq3 x
	[[ $output == *"cannot start"* ]]
}

@test "set-attributes --no-dlq removes the redrive policy" {
	sqs-poll create nd-dead >/dev/null
	sqs-poll create nd --dlq nd-dead --max-receive 2 >/dev/null
	expect 0 sqs-poll set-attributes nd --no-dlq
	expect 0 sqs-poll get-attributes nd
	echo "$output" | jq -e '.Attributes.RedrivePolicy == null'
}
