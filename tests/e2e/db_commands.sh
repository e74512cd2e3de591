# teavec stats / versions / restore / optimize on a lancedb database.
. "$(dirname "$0")/lib.bash"
DB=$TMP/db
echo '{"texts": ["one", "two"], "ids": ["a", "b"], "collection": "c"}' | "$TEAVEC" store --db "$DB" >/dev/null
echo '{"texts": ["three"], "ids": ["a"], "collection": "c"}' | "$TEAVEC" store --db "$DB" >/dev/null

expect_exit 0 stats "$TEAVEC" stats --db "$DB" --json
check "stats counts rows and versions" test "$(echo "$OUT" | jq -c '[.c.rows, .c.versions, .c.latest.operation]')" = '[2,2,"update"]'
expect_exit 0 versions "$TEAVEC" versions --db "$DB" --collection c --json
check "versions lists each commit's operation" test "$(echo "$OUT" | jq -c '[.[].operation]')" = '["overwrite","update"]'
expect_exit 0 restore "$TEAVEC" restore 1 --db "$DB" --collection c
expect_exit 0 after "$TEAVEC" query "one" --db "$DB" --collection c -k 5
check "restore brings back version 1's rows" test "$(echo "$OUT" | jq -c '[.results[].text] | sort')" = '["one","two"]'
expect_exit 0 optimize "$TEAVEC" optimize --db "$DB"
expect_exit 0 stats2 "$TEAVEC" stats --db "$DB" --json
check "optimize keeps every row" test "$(echo "$OUT" | jq .c.rows)" = 2
expect_exit 1 noversion "$TEAVEC" restore 99 --db "$DB" --collection c
check "restoring a missing version says so" contains "$ERR" "no version 99"
expect_exit 2 badversion "$TEAVEC" restore x --db "$DB"
expect_exit 1 nocoll "$TEAVEC" versions --db "$DB" --collection nope
check "versions of a missing collection says so" contains "$ERR" "'nope' does not exist"
expect_exit 0 cleanup "$TEAVEC" cleanup --db "$DB" --older-than 0
expect_exit 0 v2 "$TEAVEC" versions --db "$DB" --collection c --json
check "cleanup --older-than 0 keeps only the newest version" test "$(echo "$OUT" | jq length)" = 1
expect_exit 0 q2 "$TEAVEC" query "one" --db "$DB" --collection c -k 5
check "and every row of it" test "$(echo "$OUT" | jq '.results | length')" = 2
expect_exit 2 badolder "$TEAVEC" cleanup --db "$DB" --older-than soon
expect_exit 0 chelp "$TEAVEC" cleanup --help
check "cleanup --help documents --older-than" contains "$OUT" "--older-than"
finish
