# The commit protocol's system calls, traced with strace through the CLI:
# a version is published (link of its manifest) only after its data file,
# its transaction file and the manifest itself are fsync'd and renamed into
# place with their directories fsync'd; the directory of the new manifest
# is fsync'd before the command returns; the version hint (which no reader
# trusts) is published by rename without an fsync.
. "$(dirname "$0")/lib.bash"
DB=$TMP/db
command -v strace >/dev/null || { echo "strace missing: run scripts/setup.sh" >&2; exit 1; }

echo '{"texts": ["first"], "ids": ["a"], "collection": "c"}' >"$TMP/one.json"
expect_exit 0 first "$TEAVEC" store --db "$DB" --input @"$TMP/one.json"
echo '{"texts": ["second", "third"], "ids": ["b", "c"], "collection": "c"}' >"$TMP/two.json"
# -y: file descriptors printed with their paths; the second commit, into an
# existing table, is the one checked. LeakSanitizer cannot run under ptrace:
# off for this one command of the sanitizer build (every other test has it)
expect_exit 0 traced env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -y -qq -e trace=fsync,fdatasync,rename,link -o "$TMP/trace" \
	"$TEAVEC" store --db "$DB" --input @"$TMP/two.json"
check "the traced store committed" test "$(echo "$OUT" | jq -c .ids)" = '["b","c"]'

# one event a line: "<kind> <path>" (renames and links by their target)
sed -nE \
	-e 's/.*(fsync|fdatasync)\([0-9]+<([^>]*)>\).*/sync \2/p' \
	-e 's/.*rename\("[^"]*", "([^"]*)"\).*/rename \1/p' \
	-e 's/.*link\("[^"]*", "([^"]*)"\).*/link \1/p' "$TMP/trace" >"$TMP/events"
T=$DB/c.lance
line_of() { grep -n -m1 -E "$1" "$TMP/events" | cut -d: -f1; }
pub=$(line_of "^link $T/_versions/[0-9]+\.manifest$")
check "the version is published by link(2)" test -n "$pub"
pub=${pub:-0}
before() { local l; l=$(line_of "$1"); [ -n "$l" ] && [ "$l" -lt "$pub" ] || { echo "  '$1' not before the link" >&2; return 1; }; }
after() { local l; l=$(awk -v p="$pub" -v re="$1" 'NR > p && $0 ~ re { print NR; exit }' "$TMP/events"); [ -n "$l" ] || { echo "  '$1' not after the link" >&2; return 1; }; }
check "the data file is fsync'd before the version is published" before "^sync $T/data/[0-9a-f]+\.lance\.tmp-"
check "... and renamed into place, its directory fsync'd" before "^sync $T/data$"
check "the transaction file is fsync'd and its directory too" before "^sync $T/_transactions$"
check "the manifest is fsync'd before it is linked" before "^sync $T/_versions/[0-9]+\.manifest\.tmp-"
check "the versions directory is fsync'd after the link" after "^sync $T/_versions$"
check "the version hint is published by rename" grep -qE "^rename $T/_versions/latest_version_hint.json$" "$TMP/events"
check "... and never fsync'd" test -z "$(grep -E "^sync $T/_versions/latest_version_hint" "$TMP/events")"
check "a commit is 6 fsyncs" test "$(grep -c '^sync ' "$TMP/events")" -eq 6

expect_exit 0 count "$TEAVEC" count --db "$DB" --collection c
check "all three rows are there" test "$OUT" = 3
finish
