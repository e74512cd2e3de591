# teavec's SQL filters against real LanceDB 0.39 on the same table: every
# expression over the columns id, text and path counts the same rows in
# both (operators, IN / NOT IN with NULLs, LIKE with its escapes, IS NULL,
# BETWEEN, three-valued logic); and teavec's delete-where removes only the
# rows that pass even where LanceDB stored an id twice.
. "$(dirname "$0")/../e2e/lib.bash"
SRC=${TV_SOURCE_DIR:?}
T=${TV_BUILD_DIR:?}/tvtable
if [ ! -d "$SRC/.deps/node/node_modules/@lancedb/lancedb" ]; then
	echo "LanceDB is not installed: run scripts/setup.sh --npm" >&2
	exit 1
fi
lance() { TV_SOURCE_DIR="$SRC" node "$SRC/tests/integration/lance_filters.mjs" "$@" 2>"$TMP/node.err" || { cat "$TMP/node.err" >&2; echo '{}'; }; }
DB=$TMP/db

# teavec writes 60 rows (texts a, b, c; path src/x.md), LanceDB adds four,
# two of them with ids teavec's rows have
"$T" upsert "$DB" f 8 0 20 a >/dev/null && "$T" upsert "$DB" f 8 20 20 b >/dev/null &&
	"$T" upsert "$DB" f 8 40 20 c >/dev/null || fail "teavec writes the table"
check "LanceDB appends rows with duplicate ids" test "$(lance add-dups "$DB" | jq .count)" = 64

cat >"$TMP/filters" <<'SQL'
text = 'b'
text <> 'b'
text != 'b' AND id < 'id3'
id < 'id2'
id >= 'id5' AND text != 'c'
id IN ('id1', 'id2', 'id59', 'nope')
id NOT IN ('id1', 'id2')
text IN ('a', NULL)
text NOT IN ('a', NULL)
id LIKE 'id1_'
id LIKE '%5'
id NOT LIKE 'id%0'
text LIKE '100\% %'
text LIKE '%\_x'
text LIKE '%\_%'
text LIKE 'it''s%'
id = 'q''1'
path IS NULL
path IS NOT NULL
path = 'src/x.md' OR text = 'c'
path != 'src/x.md'
path LIKE '%\_%'
NOT (text = 'a' OR text = 'b')
NOT (path = 'src/x.md')
id BETWEEN 'id10' AND 'id20'
id NOT BETWEEN 'id10' AND 'id20'
(id = 'id3' OR id = 'id4') AND text = 'a'
text = 'a' AND NOT path IS NULL
text >= 'b' AND text <= 'c'
`text` = 'a'
TRUE
FALSE
SQL
mapfile -t FILTERS <"$TMP/filters"
WANT=$(lance count "$DB" "$TMP/filters" | jq -r '.counts[]')
mapfile -t COUNTS <<<"$WANT"
for i in "${!FILTERS[@]}"; do
	got=$("$TEAVEC" count --db "$DB" --collection f --where "${FILTERS[$i]}" 2>&1)
	check "same count as LanceDB: ${FILTERS[$i]}" test "$got" = "${COUNTS[$i]:-missing}"
done

# delete-where on a table holding id1 and id2 twice: only the rows passing go
expect_exit 0 del "$TEAVEC" delete --db "$DB" --collection f --where "text LIKE 'dup%' OR id = 'id1'" --json
check "teavec deletes the three rows that pass" test "$(echo "$OUT" | jq .deleted)" = 3
ROWS=$(lance rows "$DB" | jq -r '.rows[]')
check "LanceDB sees teavec's id2 and not its id1" test "$(echo "$ROWS" | grep -c '^id[12]|')" = 1
check "the row kept is teavec's id2" contains "$ROWS" "id2|a"
check "LanceDB counts what teavec counts" test "$(echo "$ROWS" | wc -l)" = "$("$TEAVEC" count --db "$DB" --collection f)"
finish
