# teavec run: the demo agent end to end, and load-time errors with lines.
. "$(dirname "$0")/lib.bash"
SRC=${TV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

if expect_exit 0 demo "$TEAVEC" run "$SRC/examples/demo.yaml"; then
	check "demo stores 5 documents" test "$(echo "$OUT" | jq -r .stored.stored)" = 5
	check "demo answers the commit question with the commit document" \
		test "$(echo "$OUT" | jq -r .best)" = commit
	check "dict filter keeps only matching rows" \
		test "$(echo "$OUT" | jq -c '[.filtered[].id]')" = '["kernels"]'
	check "scores are best first" \
		test "$(echo "$OUT" | jq '.answers[0].score >= .answers[1].score')" = true
else
	fail "demo agent runs"
fi

cat >"$TMP/bad.yaml" <<'Y'
name: bad
nodes:
  - name: a
    uses: vector.query
    with: {query: [unclosed
Y
expect_exit 1 malformed "$TEAVEC" run "$TMP/bad.yaml"
check "malformed YAML names file and line" contains "$ERR" "bad.yaml:6:"

cat >"$TMP/py.yaml" <<'Y'
name: py
nodes:
  - name: first
    uses: vector.query
    with: {query: x}
  - name: code
    run: |
      return {"x": 1}
Y
expect_exit 1 unsupported "$TEAVEC" run "$TMP/py.yaml"
check "unsupported node kind names node and line" contains "$ERR" "py.yaml:6: node 'code': unsupported node kind: run"

cat >"$TMP/unknown.yaml" <<'Y'
nodes:
  - name: n1
    uses: llm.call
Y
expect_exit 1 unknown "$TEAVEC" run "$TMP/unknown.yaml"
check "unknown action is a load-time error" contains "$ERR" "node 'n1': unknown action: llm.call"

cat >"$TMP/goto.yaml" <<'Y'
nodes:
  - name: a
    uses: embedding.create
    with: {text: hi}
    goto: nowhere
Y
expect_exit 1 goto "$TEAVEC" run "$TMP/goto.yaml"
check "goto to a missing node is a load-time error" contains "$ERR" "target does not exist: nowhere"

cat >"$TMP/filter.yaml" <<'Y'
settings: {rag: {vector_store: memory}}
nodes:
  - name: q
    uses: vector.query
    with: {query: x, filter: "lang = 'en' AND (year > 2020"}
    output: r
Y
expect_exit 0 badfilter "$TEAVEC" run "$TMP/filter.yaml"
check "a bad filter is an action error with its column, the run goes on" \
	contains "$(echo "$OUT" | jq -r .r.error)" "expected ')' at column 29"

expect_exit 0 input "$TEAVEC" run "$SRC/examples/demo.yaml" --input '{"question": "deleted rows bitmaps"}'
check "--input overrides initial_state" test "$(echo "$OUT" | jq -r .best)" = deletion
finish
