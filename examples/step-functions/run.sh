#!/bin/sh
# sfn-run: an Amazon States Language state machine, stored, run on a few
# orders with local functions standing in for Lambda (a Map checks the
# lines at once, a Parallel prices and pays, a Retry waits out a busy
# payment service on a virtual clock), then the recorded executions and
# one execution's history.
set -e
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
export EVKIT_STATE="$state/state.db" PAY_DIR="$state"

say() { printf '\n$ %s\n' "$*"; }

say sfn-run validate order.asl.json
sfn-run validate "$here/order.asl.json"

say 'fnctl create stock -- ./stock; fnctl create pay -- ./pay'
fnctl create stock --mode spawn -- "$here/stock" >/dev/null
fnctl create pay --mode spawn -- "$here/pay" >/dev/null

say sfn-run create orders order.asl.json
sfn-run create orders "$here/order.asl.json"

say 'printf ... | sfn-run run orders --virtual-time --name order --output-only'
printf '%s\n' \
	'{"order":"A1","lines":[{"sku":"tea","qty":2},{"sku":"cups","qty":6}]}' \
	'{"order":"B2","lines":[{"sku":"XL-kettle","qty":1}]}' \
	'{"order":"C3","lines":[{"sku":"honey","qty":1},{"sku":"lemons","qty":4},{"sku":"ginger","qty":1}]}' |
	sfn-run run orders --virtual-time --name order --output-only ||
	echo "(exit status $?: an execution failed; the others went on)"

say sfn-run list-executions orders
sfn-run list-executions orders | jq -c '{name, status}'

say "sfn-run get-execution-history orders:order-1 | jq ... .type"
sfn-run get-execution-history orders:order-1 | jq -rs 'map(.type) | join(" ")' | fold -s -w 76
