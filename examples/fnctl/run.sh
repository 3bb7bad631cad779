#!/bin/sh
# fnctl round trip: store two local functions (one started per call, one
# kept warm), invoke them with a payload and with a stream of events, and
# see a failure shaped like Lambda's.
set -e
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
export EVKIT_STATE="$state/state.db"

say() { printf '\n$ %s\n' "$*"; }

say fnctl create shout -- tr a-z A-Z
fnctl create shout -- tr a-z A-Z

# jq --unbuffered answers each line at once, as a warm handler must.
say fnctl create enrich --mode stream -- jq --unbuffered -c '...'
fnctl create enrich --mode stream -- jq --unbuffered -c \
	'{reading: ., fahrenheit: (.celsius * 9 / 5 + 32), alarm: (.celsius > 120)}'

say fnctl list
fnctl list

say fnctl invoke shout '"hello from evkit"'
fnctl invoke shout '"hello from evkit"'

say 'printf ... | fnctl invoke enrich'
printf '{"probe":"meat","celsius":63.5}\n{"probe":"pit","celsius":121}\n' |
	fnctl invoke enrich

say fnctl create flaky --timeout 1 -- sh -c 'exit 3'
fnctl create flaky --timeout 1 -- sh -c 'exit 3'
say fnctl invoke flaky '{}'
fnctl invoke flaky '{}' || echo "(exit status $?: the invocation failed)"
