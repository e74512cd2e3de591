# teavec store / query through the CLI on a real lancedb database.
. "$(dirname "$0")/lib.bash"
DB=$TMP/db

echo '{"texts": ["alpha beta gamma", "delta epsilon", "alpha omega"], "ids": ["a", "d", "o"],
       "metadata": [{"lang": "en"}, {"lang": "fr"}, {"lang": "en"}], "collection": "docs"}' >"$TMP/in.json"
expect_exit 0 store "$TEAVEC" store --db "$DB" --input @"$TMP/in.json"
check "store reports what it stored" test "$(echo "$OUT" | jq -c '[.stored, .collection, .ids]')" = '[3,"docs",["a","d","o"]]'
check "store wrote a Lance table" test -d "$DB/docs.lance/_versions"

expect_exit 0 query "$TEAVEC" query "alpha beta" --db "$DB" --collection docs -k 2
check "query returns the nearest first" test "$(echo "$OUT" | jq -r '.results[0].id')" = a
check "query returns k results with TEA's shape" test "$(echo "$OUT" | jq -c '[.k, (.results | length), (.results[0] | keys)]')" = '[2,2,["id","metadata","score","text"]]'

expect_exit 0 where "$TEAVEC" query "alpha" --db "$DB" --collection docs --where "lang = 'fr'"
check "--where filters on metadata" test "$(echo "$OUT" | jq -c '[.results[].id]')" = '["d"]'

expect_exit 1 badwhere "$TEAVEC" query "alpha" --db "$DB" --collection docs --where "lang = 'fr' AND"
check "a bad filter is a runtime error naming the column" contains "$ERR" "expected a value or a column at column 16"

expect_exit 0 missing "$TEAVEC" query "alpha" --db "$TMP/nothing-here"
check "querying a missing database returns nothing" test "$(echo "$OUT" | jq '.results | length')" = 0
check "and creates no directory" test ! -e "$TMP/nothing-here"

expect_exit 2 badk "$TEAVEC" query "alpha" --db "$DB" -k 0
check "-k 0 is a usage error" contains "$ERR" "-k: expected a positive integer"

# a string metadata "path" is the row's path column too: TEA's dict filter and SQL both find it
echo '{"texts": ["notes on alpha", "notes on beta"], "ids": ["p1", "p2"],
       "metadata": [{"path": "notes/a.md"}, {"path": "notes/b.md"}], "collection": "paths"}' >"$TMP/paths.json"
expect_exit 0 storepath "$TEAVEC" store --db "$DB" --input @"$TMP/paths.json"
echo '{"query": "notes", "collection": "paths", "filter": {"path": "notes/b.md"}}' >"$TMP/q.json"
expect_exit 0 dictpath "$TEAVEC" query --db "$DB" --input @"$TMP/q.json"
check "a dict filter on path finds the row stored with metadata.path" test "$(echo "$OUT" | jq -c '[.results[].id]')" = '["p2"]'
expect_exit 0 sqlpath "$TEAVEC" query "notes" --db "$DB" --collection paths --where "path = 'notes/a.md' AND metadata.path = 'notes/a.md'"
check "and SQL on the column and on metadata.path" test "$(echo "$OUT" | jq -c '[.results[].id]')" = '["p1"]'

echo '{"texts": ["x"], "embeddings": [[1, 2]], "collection": "docs"}' >"$TMP/bad.json"
expect_exit 1 dim "$TEAVEC" store --db "$DB" --input @"$TMP/bad.json"
check "a dimension mismatch names the collection" contains "$ERR" "does not match collection 'docs'"
finish
