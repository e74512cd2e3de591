# The CLI's contract: --help everywhere, exit codes 0 / 1 / 2.
. "$(dirname "$0")/lib.bash"

expect_exit 0 version "$TEAVEC" version && contains "$OUT" "teavec 0." && pass "version prints the library version" || fail "version prints the library version"
expect_exit 2 "no command is a usage error" "$TEAVEC" && pass "no command is a usage error" || fail "no command is a usage error"
expect_exit 2 "unknown command" "$TEAVEC" frobnicate && contains "$ERR" "unknown command 'frobnicate'" \
	&& pass "unknown command is a usage error naming it" || fail "unknown command is a usage error naming it"
expect_exit 0 "help" "$TEAVEC" --help && contains "$OUT" "commands:" && pass "--help lists commands" || fail "--help lists commands"
for cmd in $("$TEAVEC" --help | awk '/^  [a-z]/ {print $1}'); do
	expect_exit 0 "$cmd --help" "$TEAVEC" "$cmd" --help && contains "$OUT" "usage: teavec $cmd" \
		&& pass "$cmd --help prints its usage" || fail "$cmd --help prints its usage"
done
expect_exit 2 "bad option" "$TEAVEC" query --no-such-option && pass "unknown option is a usage error" || fail "unknown option is a usage error"
finish
