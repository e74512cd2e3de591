# Shared by the end-to-end tests: run with TEAVEC set to the CLI binary.
set -u
: "${TEAVEC:?TEAVEC must point at the teavec binary}"
TMP=$(mktemp -d "${TV_TEST_TMP:-/tmp}/e2e.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }

# expect_exit CODE NAME CMD...: runs CMD, captures stdout/stderr in $OUT/$ERR.
expect_exit() {
	local want=$1 name=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	local got=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	if [ "$got" -eq "$want" ]; then
		return 0
	fi
	echo "  $name: exit $got, wanted $want; stderr: $ERR" >&2
	return 1
}

# check NAME COND...: a named assertion.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

contains() { case "$1" in *"$2"*) return 0 ;; *) echo "  '$2' not in: $1" >&2; return 1 ;; esac; }

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
