# Loaded by every bats file: a fresh folder per test, the C locale, no
# inherited EVKIT_*, XDG_* or NO_COLOR, and the programs under test first
# in PATH (EVKIT_BIN: the sanitizer tree under make check, else bin/).
setup_evkit() {
	unset EVKIT_STATE EVKIT_NOW EVKIT_BUSY_TIMEOUT XDG_STATE_HOME NO_COLOR
	unset AWS_ACCOUNT_ID AWS_REGION AWS_DEFAULT_REGION
	export LC_ALL=C
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	: "${EVKIT_BIN:=$TOP/bin}"
	export PATH="$EVKIT_BIN:$PATH"
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/evkit-cli.XXXXXX")
	export HOME="$WORK/home"
	mkdir -p "$HOME"
	cd "$WORK"
}

teardown_evkit() {
	cd /
	rm -rf "$WORK"
}

# expect STATUS CMD...: run, then check the exit status, printing what the
# command said when it differs.
expect() {
	local want=$1
	shift
	run "$@"
	if [ "$status" -ne "$want" ]; then
		echo "command: $*" >&2
		echo "exit status $status, expected $want" >&2
		echo "output: $output" >&2
		return 1
	fi
}
