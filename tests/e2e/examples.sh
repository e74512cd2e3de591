# The example agents of examples/ run as documented, on the repository's
# own docs/ folder, with HOME in a temporary directory (their database is
# ~/.tea/vectors/).
. "$(dirname "$0")/lib.bash"
SRC=${TV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export HOME=$TMP/home
mkdir -p "$HOME"

expect_exit 0 local1 "$TEAVEC" run "$SRC/examples/rag-local.yaml" --input "{\"folder\": \"$SRC/docs\", \"question\": \"how is a new table version committed atomically\"}"
check "rag-local indexes the folder" test "$(echo "$OUT" | jq '.indexed > 0 and .unchanged == 0')" = true
check "rag-local answers from the format document" contains "$(echo "$OUT" | jq -r .best_file)" "/docs/"
check "answers carry text and score" test "$(echo "$OUT" | jq '.answers | length == 3 and all(.[]; .score > 0 and (.text | length) > 0)')" = true
check "the database is the documented default" test -d "$HOME/.tea/vectors/rag_local.lance"
expect_exit 0 local2 "$TEAVEC" run "$SRC/examples/rag-local.yaml" --input "{\"folder\": \"$SRC/docs\"}"
check "a second run embeds nothing" test "$(echo "$OUT" | jq -c '[.indexed, .unchanged > 0]')" = '[0,true]'

expect_exit 0 filters "$TEAVEC" run "$SRC/examples/rag-filters.yaml" --input "{\"folder\": \"$SRC/docs\"}"
check "the dict filter keeps paragraphs from line 10 on" test "$(echo "$OUT" | jq '(.late_paragraphs | length) > 0 and all(.late_paragraphs[]; .metadata.start_line >= 10 and .metadata.chunk_type == "paragraph")')" = true
check "the SQL filter keeps the format document only" test "$(echo "$OUT" | jq '(.format_doc | length) > 0 and all(.format_doc[]; (.metadata.file | endswith("FORMAT.md")) and .metadata.start_line < 200)')" = true

expect_exit 0 demo "$TEAVEC" run "$SRC/examples/demo.yaml"
check "the in-memory demo answers" test "$(echo "$OUT" | jq -r .best)" = commit
# the main job (scripts/run.sh): the repository's docs and sources indexed,
# its default question answered from the right file
Q=$(sed -n 's/.*search "\${1:-\(.*\)}".*/\1/p' "$SRC/scripts/run.sh")
check "scripts/run.sh has a default question" test -n "$Q"
(cd "$SRC" && "$TEAVEC" index docs README.md examples src include --db "$TMP/main" --collection teavec-docs >/dev/null)
expect_exit 0 mainjob "$TEAVEC" search "$Q" --db "$TMP/main" --collection teavec-docs -k 1 -n 0 --json
check "the main job's question is answered from docs/FORMAT.md" \
	test "$(echo "$OUT" | jq -r '.results[0].metadata.file | sub(".*/docs/"; "docs/")')" = docs/FORMAT.md
finish
