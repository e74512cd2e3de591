# The data file reader against files written by real LanceDB 0.39: every
# row teavec reads equals what LanceDB itself returns.
. "$(dirname "$0")/../e2e/lib.bash"
SRC=${TV_SOURCE_DIR:?}
DUMP=${TV_BUILD_DIR:?}/lance_dump
if [ ! -d "$SRC/.deps/node/node_modules/@lancedb/lancedb" ]; then
	echo "LanceDB is not installed: run scripts/setup.sh --npm" >&2
	exit 1
fi
if ! TV_SOURCE_DIR="$SRC" node "$SRC/tests/integration/lance_fixtures.mjs" "$TMP" >"$TMP/node.log" 2>&1; then
	cat "$TMP/node.log" >&2
	fail "LanceDB writes the fixtures"
	finish
	exit 1
fi
for name in docs dict nulls pages; do
	files=("$TMP/$name.lance/data/"*.lance)
	check "$name: LanceDB wrote one data file" test "${#files[@]}" -eq 1
	if "$DUMP" "${files[0]}" >"$TMP/$name.teavec" 2>"$TMP/err"; then
		jq -c -S . <"$TMP/$name.teavec" >"$TMP/a" && jq -c -S . <"$TMP/$name.jsonl" >"$TMP/b"
		check "$name: teavec reads every row LanceDB returns ($(wc -l <"$TMP/b") rows)" cmp -s "$TMP/a" "$TMP/b"
	else
		cat "$TMP/err" >&2
		fail "$name: teavec opens LanceDB's data file"
	fi
done
finish
