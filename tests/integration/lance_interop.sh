# teavec and real LanceDB 0.39 on the same tables: each writes, the other
# reads exactly the expected rows and keeps writing.
. "$(dirname "$0")/../e2e/lib.bash"
SRC=${TV_SOURCE_DIR:?}
T=${TV_BUILD_DIR:?}/tvtable
export TVTABLE_DIM=8
if [ ! -d "$SRC/.deps/node/node_modules/@lancedb/lancedb" ]; then
	echo "LanceDB is not installed: run scripts/setup.sh --npm" >&2
	exit 1
fi
lance() { TV_SOURCE_DIR="$SRC" node "$SRC/tests/integration/lance_interop.mjs" "$@" 2>"$TMP/node.err" || { cat "$TMP/node.err" >&2; echo '{}'; }; }
DB=$TMP/db

# teavec writes: 300 rows, an upsert of 100 (50 replaced), a delete
"$T" upsert "$DB" docs 8 0 300 a && "$T" upsert "$DB" docs 8 250 100 b >/dev/null &&
	check "teavec deletes by id" test "$("$T" delete "$DB" docs id3 id7 nosuch)" = 2
seq 0 349 | grep -vxE '3|7' | sed 's/^/id/' | sort >"$TMP/want"
check "teavec counts its rows" test "$("$T" count "$DB" docs)" = 348

J=$(lance read-teavec "$DB")
check "LanceDB counts teavec's rows" test "$(echo "$J" | jq .count)" = 348
check "LanceDB reads exactly teavec's ids" test "$(echo "$J" | jq -r '.ids[]' | sort | md5sum)" = "$(md5sum <"$TMP/want")"
check "LanceDB reads the upserted row's columns" \
	test "$(echo "$J" | jq -c .r260)" = '{"text":"b","path":"src/x.md","metadata":{"n":260,"tag":"b"},"dim":8}'
check "LanceDB's vector search finds teavec's row" test "$(echo "$J" | jq -r .nearest42)" = id42
check "LanceDB's filter sees the upsert" test "$(echo "$J" | jq .tag_b)" = 100
check "LanceDB appended, deleted, indexed and compacted" test "$(echo "$J" | jq .after)" = 350

# teavec reads what LanceDB did, then keeps writing
{ cat "$TMP/want"; printf 'id900\nid901\nid902\nid903\nid904\n'; } | grep -vxE 'id10|id11|id300' | sort >"$TMP/want2"
check "teavec counts after LanceDB's writes" test "$("$T" count "$DB" docs)" = 350
check "teavec reads exactly the expected ids" test "$("$T" ids "$DB" docs | sort | md5sum)" = "$(md5sum <"$TMP/want2")"
check "teavec finds a LanceDB-written row by vector" test "$("$T" search "$DB" docs 8 902)" = id902
"$T" upsert "$DB" docs 8 0 10 c >/dev/null
check "teavec upserts into the compacted, indexed table (id3, id7 come back)" test "$("$T" count "$DB" docs)" = 352
J=$(lance reread "$DB")
check "LanceDB sees teavec's upsert" test "$(echo "$J" | jq -r .r0)" = c
check "LanceDB counts teavec's upsert" test "$(echo "$J" | jq .count)" = 352
check "LanceDB keeps its index across teavec's commit" test "$(echo "$J" | jq .indices)" = 1
check "LanceDB searches the unindexed teavec rows" test "$(echo "$J" | jq -r .nearest5)" = id5

# teavec's own IVF_PQ index (built at 256 rows) lives beside the table:
# LanceDB's most aggressive cleanup leaves it, and teavec folds in the
# fragments LanceDB compacted and keeps answering through it
ixstat() { "$TEAVEC" stats --db "$DB" --collection docs --json | jq -r ".docs.index.$1"; }
check "teavec built its vector index" test "$(ixstat type)" = IVF_PQ
J=$(lance cleanup-all "$DB")
check "LanceDB reads and searches after its aggressive cleanup" \
	test "$(echo "$J" | jq -c '[.count, .nearest123]')" = '[352,"id123"]'
check "LanceDB's cleanup keeps teavec's index file" test -n "$(ls "$DB/docs.lance/_teavec/" | grep '^ivfpq-.*\.idx$')"
"$TEAVEC" optimize --db "$DB" --collection docs
check "teavec folds LanceDB's fragments into its index" test "$(ixstat unindexed_rows)" = 0
check "teavec's indexed search finds the row" test "$("$T" search "$DB" docs 8 123)" = id123
J=$(lance reread "$DB")
check "LanceDB reads the table after teavec's optimize" test "$(echo "$J" | jq .count)" = 352

# LanceDB writes TEA's schema (no path) with both deletion-file kinds
J=$(lance make-tea "$DB")
echo "$J" | jq -r '.ids[]' | sort >"$TMP/tea_ids"
check "teavec counts LanceDB's TEA-schema table" test "$("$T" count "$DB" tea)" = "$(echo "$J" | jq .count)"
check "teavec reads exactly LanceDB's rows (.arrow and .bin deletions)" \
	test "$("$T" ids "$DB" tea | sort | md5sum)" = "$(md5sum <"$TMP/tea_ids")"
"$T" upsert "$DB" tea 8 5 1 up >/dev/null
J=$(lance read-tea "$DB")
check "LanceDB reads teavec's upsert into its table" test "$(echo "$J" | jq -r .id5)" = up
check "the upsert replaced, not duplicated" test "$(echo "$J" | jq .count)" = "$("$T" count "$DB" tea)"

# teavec compacts and cleans up many small upserts; LanceDB reads the result
export TVTABLE_SETTINGS='"cleanup_older_than_s": 0, "compact_min_fragments": 4'
for i in $(seq 0 29); do "$T" upsert "$DB" small 8 $((i * 3)) 5 "s$i" >/dev/null; done
"$T" optimize "$DB" small
unset TVTABLE_SETTINGS
check "teavec's compacted table keeps every row" test "$("$T" count "$DB" small)" = 92
J=$(lance read-small "$DB")
check "LanceDB counts teavec's compacted table" test "$(echo "$J" | jq .count)" = 92
check "LanceDB reads the last upsert's text" test "$(echo "$J" | jq -r .id90)" = s29
check "LanceDB opens every version teavec kept" test "$(echo "$J" | jq .versions_ok)" = true

# a 2.2 table (LanceDB's default) is refused clearly
lance make-22 "$DB" >/dev/null
"$T" count "$DB" new22 >/dev/null 2>"$TMP/err22"
check "a Lance 2.2 table is refused naming the version" contains "$(cat "$TMP/err22")" "data storage version 2.2"
# a collection built by `teavec index`: edits, a deletion, then a new
# dimension (a Lance Overwrite); LanceDB reads every version
IX=$TMP/ixdb
mkdir -p "$TMP/tree"
printf 'alpha one\n\nalpha two\n' >"$TMP/tree/a.md"
printf 'beta\n' >"$TMP/tree/b.md"
printf 'gone\n' >"$TMP/tree/c.md"
"$TEAVEC" index "$TMP/tree" --db "$IX" --collection kb >/dev/null
sleep 0.01
printf 'alpha changed\n' >"$TMP/tree/a.md"
rm "$TMP/tree/c.md"
"$TEAVEC" index "$TMP/tree" --db "$IX" --collection kb >/dev/null
printf 'settings: {rag: {vector_store: lancedb, lancedb_path: "%s", embedding_dimensions: 32}}\nnodes:\n  - {name: ix, uses: vector.index_files, with: {paths: "%s", collection: kb}}\n' "$IX" "$TMP/tree" >"$TMP/dim.yaml"
"$TEAVEC" run "$TMP/dim.yaml" >/dev/null
J=$(lance read-indexed "$IX")
check "LanceDB reads an indexed collection after edits, a deletion and a new dimension" \
	test "$(echo "$J" | jq -c '[.count, .dim, (.files | map(sub(".*/"; ""))), .meta_ok, .state, .path_filter]')" = '[2,32,["a.md","b.md"],true,2,1]'
check "LanceDB opens every version, old dimension and new" \
	test "$(echo "$J" | jq -c '[.versions_ok, (.dims | unique)]')" = '[true,[32,256]]'
finish
