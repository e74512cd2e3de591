# The IVF_PQ index through the CLI: built automatically, shown by stats,
# bypassed with --exact, tuned with --nprobes, rebuilt by optimize
# --reindex, and a damaged index file reported then repaired.
. "$(dirname "$0")/lib.bash"
DB=$TMP/db
mkdir -p "$TMP/tree"
for i in $(seq 1 400); do
	printf 'note %d about topic %d\n\nsecond paragraph on subject %d and item %d\n' \
		"$i" $((i % 37)) $((i % 11)) "$i" >"$TMP/tree/n$i.md"
done
printf 'the lighthouse keeper polishes the great lens every evening\n' >"$TMP/tree/light.md"
expect_exit 0 index "$TEAVEC" index "$TMP/tree" --db "$DB" --collection kb
expect_exit 0 stats "$TEAVEC" stats --db "$DB" --collection kb --json
check "an index of 801 chunks gets an IVF_PQ index" \
	test "$(echo "$OUT" | jq -c '[.kb.rows, .kb.index.type, .kb.index.indexed_rows, .kb.index.unindexed_rows]')" = '[801,"IVF_PQ",801,0]'
expect_exit 0 stats_text "$TEAVEC" stats --db "$DB" --collection kb
check "stats prints the index in words" contains "$OUT" "IVF_PQ cosine"
expect_exit 0 q "$TEAVEC" search "lighthouse keeper lens" --db "$DB" --collection kb -k 1 -n 0 --json
check "the default search finds the one matching file" test "$(echo "$OUT" | jq -r '.results[0].metadata.file | sub(".*/"; "")')" = light.md
# a query shaped like the data: the indexed answer is the exact one
expect_exit 0 qx "$TEAVEC" search "note 17 about topic 17" --db "$DB" --collection kb -k 3 -n 0 --json --exact
EXACT=$(echo "$OUT" | jq -c '[.results[].id]')
expect_exit 0 qd "$TEAVEC" search "note 17 about topic 17" --db "$DB" --collection kb -k 3 -n 0 --json
check "default results equal the exact ones for an in-distribution query" test "$(echo "$OUT" | jq -c '[.results[].id]')" = "$EXACT"
expect_exit 0 q1 "$TEAVEC" search "lighthouse keeper lens" --db "$DB" --collection kb -k 5 -n 0 --json --nprobes 1
check "--nprobes 1 still answers k results" test "$(echo "$OUT" | jq '.results | length')" = 5
expect_exit 2 badprobe "$TEAVEC" search "x" --db "$DB" --collection kb --nprobes 0
check "--nprobes 0 is a usage error naming the option" contains "$ERR" "--nprobes"
F1=$(ls "$DB/kb.lance/_teavec/")
expect_exit 0 reindex "$TEAVEC" optimize --reindex --db "$DB" --collection kb
F2=$(ls "$DB/kb.lance/_teavec/")
check "optimize --reindex replaces the index file" test "$F1" != "$F2" -a "$(echo "$F2" | wc -l)" = 1
expect_exit 2 badreindex "$TEAVEC" stats --reindex --db "$DB"
check "--reindex belongs to optimize only" contains "$ERR" "only for optimize"

# a damaged index: the search says which file, optimize rebuilds it
printf 'XXXXXXXX' | dd of="$DB/kb.lance/_teavec/$F2" bs=1 seek=300 conv=notrunc 2>/dev/null
expect_exit 1 damaged "$TEAVEC" search "lighthouse" --db "$DB" --collection kb -n 0
check "a damaged index is reported naming its file" contains "$ERR" "$F2"
expect_exit 0 exact_ok "$TEAVEC" search "lighthouse" --db "$DB" --collection kb -n 0 --exact
expect_exit 0 repair "$TEAVEC" optimize --db "$DB" --collection kb
expect_exit 0 repaired "$TEAVEC" search "lighthouse keeper lens" --db "$DB" --collection kb -k 1 -n 0 --json
check "after optimize the index answers again" test "$(echo "$OUT" | jq -r '.results[0].metadata.file | sub(".*/"; "")')" = light.md
finish
