# teavec count / delete / search --where / query: filters from the command
# line, through the same engine as the library; errors name the column and
# what was expected; values that look like SQL are only ever literals.
. "$(dirname "$0")/lib.bash"
DB=$TMP/db

cat >"$TMP/in.json" <<'JSON'
{"texts": ["alpha beta", "gamma delta", "alpha omega", "it's -- ; 100%", "x"],
 "ids": ["a", "b", "c", "o'brien\"; DROP TABLE docs; --", "é😀"],
 "metadata": [{"lang": "en", "year": 2019}, {"lang": "fr", "year": 2021},
              {"lang": "en", "year": 2023}, {"lang": "it's", "year": 2020}, {"year": 2022}],
 "collection": "docs"}
JSON
expect_exit 0 store "$TEAVEC" store --db "$DB" --input @"$TMP/in.json" || fail "store"

expect_exit 0 count_all "$TEAVEC" count --db "$DB" --collection docs
check "count without a filter counts every row" test "$OUT" = 5
expect_exit 0 count_sql "$TEAVEC" count --db "$DB" --collection docs --where "lang = 'en' AND year > 2020"
check "count --where" test "$OUT" = 1
expect_exit 0 count_dict "$TEAVEC" count --db "$DB" --collection docs --filter '{"lang": "en", "year_gt": 2020}'
check "count --filter gives what the same SQL gives" test "$OUT" = 1
expect_exit 0 count_both "$TEAVEC" count --db "$DB" --collection docs --where "year >= 2020" --filter '{"lang_in": ["en", "fr"]}' --json
check "--where and --filter together: both hold" test "$(echo "$OUT" | jq -c .)" = '{"collection":"docs","count":2}'
expect_exit 0 count_null "$TEAVEC" count --db "$DB" --collection docs --where "lang IS NULL"
check "a missing key is NULL" test "$OUT" = 1
expect_exit 0 count_ne "$TEAVEC" count --db "$DB" --collection docs --where "lang != 'en'"
check "and passes no comparison, != included" test "$OUT" = 2
expect_exit 0 count_quote "$TEAVEC" count --db "$DB" --collection docs --where "lang = 'it''s'"
check "'' inside a literal is one quote" test "$OUT" = 1
expect_exit 0 count_id "$TEAVEC" count --db "$DB" --collection docs --filter '{"id": "o'"'"'brien\"; DROP TABLE docs; --"}'
check "an id that looks like SQL is a literal (dict)" test "$OUT" = 1
expect_exit 0 count_id2 "$TEAVEC" count --db "$DB" --collection docs --where "id = 'o''brien\"; DROP TABLE docs; --'"
check "an id that looks like SQL is a literal (SQL)" test "$OUT" = 1
expect_exit 0 count_like "$TEAVEC" count --db "$DB" --collection docs --where "text LIKE '%100\\%'"
check "LIKE: \\% is a literal percent sign" test "$OUT" = 1
expect_exit 0 count_utf8 "$TEAVEC" count --db "$DB" --collection docs --where "id LIKE '_😀'"
check "LIKE: _ is one character" test "$OUT" = 1

# errors: the column and what was expected, exit 1; usage errors exit 2
expect_exit 1 bad_paren "$TEAVEC" count --db "$DB" --collection docs --where "(lang = 'en' AND year > 2020"
check "a syntax error names the column and what was expected" contains "$ERR" "filter: expected ')' at column 29"
expect_exit 1 bad_func "$TEAVEC" count --db "$DB" --collection docs --where "lower(lang) = 'en'"
check "an unknown function is an error" contains "$ERR" "unknown function lower at column 1"
expect_exit 1 bad_dict "$TEAVEC" count --db "$DB" --collection docs --filter '{"lang": ["en"]}'
check "a bad dict filter names the key" contains "$ERR" "key 'lang'"
expect_exit 1 bad_search "$TEAVEC" search "alpha" --db "$DB" --collection docs --where "lang IN ('en' 'fr')"
check "search --where shows the column and what was expected" contains "$ERR" "filter: expected ',' or ')' at column 15"
expect_exit 1 bad_search2 "$TEAVEC" search "alpha" --db "$DB" --collection docs --where "foo(lang) = 1"
check "search --where: an unknown function is an error" contains "$ERR" "unknown function foo"
expect_exit 1 bad_query "$TEAVEC" query "alpha" --db "$DB" --collection docs --where "é = 'x' AND"
check "query --where counts columns in characters" contains "$ERR" "expected a value or a column at column 12"
expect_exit 2 del_nofilter "$TEAVEC" delete --db "$DB" --collection docs
check "delete without a filter is a usage error" contains "$ERR" "give --where or --filter"
expect_exit 1 nodb "$TEAVEC" count --db "$TMP/no-such-db"
check "count on a missing database is an error" contains "$ERR" "no database at"
check "and creates nothing" test ! -e "$TMP/no-such-db"
expect_exit 2 memdb "$TEAVEC" count --db memory
check "count --db memory is refused" contains "$ERR" "holds nothing between runs"

# a failed delete changed nothing
expect_exit 1 bad_delete "$TEAVEC" delete --db "$DB" --collection docs --where "lang = "
expect_exit 0 count_after_bad "$TEAVEC" count --db "$DB" --collection docs
check "a delete with a bad filter deletes nothing" test "$OUT" = 5

# delete-where: SQL, then dict, then everything
expect_exit 0 del_sql "$TEAVEC" delete --db "$DB" --collection docs --where "year < 2021 AND lang IS NOT NULL" --json
check "delete --where deletes the rows passing it" test "$(echo "$OUT" | jq -c .)" = '{"collection":"docs","deleted":2}'
expect_exit 0 del_dict "$TEAVEC" delete --db "$DB" --collection docs --filter '{"id": "é😀"}'
check "delete --filter" test "$OUT" = "1 row deleted"
expect_exit 0 q_after "$TEAVEC" query "alpha" --db "$DB" --collection docs -k 10
check "the other rows are still found" test "$(echo "$OUT" | jq -c '[.results[].id] | sort')" = '["b","c"]'
expect_exit 0 del_none "$TEAVEC" delete --db "$DB" --collection docs --where "lang = 'zz'"
check "deleting nothing is no error" test "$OUT" = "0 rows deleted"
expect_exit 0 del_all "$TEAVEC" delete --db "$DB" --collection docs --where TRUE
check "--where TRUE deletes every row" test "$OUT" = "2 rows deleted"
expect_exit 0 count_empty "$TEAVEC" count --db "$DB" --collection docs
check "none left" test "$OUT" = 0
finish
