# teavec bench on small generated fvecs files: every workload reports, the
# exact runs agree with the ground truth it writes, a second run reads that
# ground truth back, and bad inputs are named.
. "$(dirname "$0")/lib.bash"
GEN=${TV_BUILD_DIR:?}/gen
D=$TMP/data
"$GEN" "$D" --n 3000 --dim 32 --queries 40 || exit 1
expect_exit 0 bench "$TEAVEC" bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --gt "$D/gt.ivecs" --nq 40 --json
check "bench reports the data it ran on" test "$(echo "$OUT" | jq -c '[.rows, .dim, .metric, .k, .nq]')" = '[3000,32,"cosine",10,40]'
check "queries lists the settings, the defaults first, exact last" \
	test "$(echo "$OUT" | jq '(.queries[0].setting | startswith("defaults")) and .queries[-1].setting == "exact" and .queries[-1].recall_at_10 == 1 and (.queries | all(.p50_ms > 0 and .p99_ms >= .p50_ms and .recall_at_10 > 0))')" = true
check "exact queries agree with the ground truth they produced" test "$(echo "$OUT" | jq '.exact.recall')" = 1
check "indexed queries reach recall@10 >= 0.9" test "$(echo "$OUT" | jq '.index.recall >= 0.9')" = true
check "the index was built and is reported" test "$(echo "$OUT" | jq -r '.index_stats.type')" = IVF_PQ
check "six filters, path and metadata at 1%, 10%, 50%, each exact recall 1" \
	test "$(echo "$OUT" | jq -c '[.filtered | to_entries[] | [.key, .value.selectivity, .value.exact_recall, .value.exact_queries]]')" = \
	'[["path_1pct",0.01,1,40],["path_10pct",0.1,1,40],["path_50pct",0.5,1,40],["meta_1pct",0.01,1,40],["meta_10pct",0.1,1,40],["meta_50pct",0.5,1,40]]'
check "the filters are stated" test "$(echo "$OUT" | jq -r '.filtered.path_10pct.where, .filtered.meta_1pct.where')" = \
	"$(printf '%s\n' "path IN ('src/p0.md', 'src/p1.md', 'src/p2.md', 'src/p3.md', 'src/p4.md', 'src/p5.md', 'src/p6.md', 'src/p7.md', 'src/p8.md', 'src/p9.md')" "metadata.tag = 't42'")"
check "each workload has a recall >= 0.95 setting with its ladder, the defaults first" \
	test "$(echo "$OUT" | jq '[.index_tuned, .filtered[].tuned] | all(.reached and .recall >= 0.95 and (.ladder[0].setting | startswith("defaults")))')" = true
check "the defaults are named" test "$(echo "$OUT" | jq -r '.index.setting | startswith("defaults (nprobes ")')" = true
check "timings and sizes are positive" \
	test "$(echo "$OUT" | jq '([.ingest_rows_per_s, .index_build_s, .exact.p50_ms, .index.p50_ms, .upsert_1000_median_ms, .cold_start_ms, .disk_bytes] | all(. > 0)) and (.upsert_1000_ms | length == 5 and all(. > 0))')" = true
check "the ground truth files are written beside --gt" test -s "$D/gt.ivecs" -a -s "$D/gt-path_1pct.ivecs" -a -s "$D/gt-path_50pct.ivecs" -a -s "$D/gt-meta_1pct.ivecs" -a -s "$D/gt-meta_50pct.ivecs"
SUM=$(md5sum "$D"/gt*.ivecs)
expect_exit 0 text "$TEAVEC" bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --gt "$D/gt.ivecs" --nq 40
check "a second run reads the ground truth back (unchanged) and prints a report" test "$(md5sum "$D"/gt*.ivecs)" = "$SUM"
check "the text report names the workloads" contains "$OUT" "index build"
check "exact queries agree with the ground truth read back" test "$(echo "$OUT" | grep -cE '^  exact .*recall@10 1\.0000$')" = 1
check "the text report states the filters" contains "$OUT" "where metadata.half = 1"
# An index searched with settings far under recall 0.95 (one partition,
# no re-ranking to speak of): the ladder climbs until it reaches 0.95.
"$GEN" "$TMP/d10k" --n 10000 --dim 32 --queries 40 || exit 1
expect_exit 0 ladder "$TEAVEC" bench --base "$TMP/d10k/base.fvecs" --queries "$TMP/d10k/queries.fvecs" --nq 40 --tune-nq 20 --nprobes 1 --refine 1 --json
check "weak settings stay under recall 0.95" test "$(echo "$OUT" | jq '.index.recall < 0.95 and .index.setting == "defaults (nprobes 1, refine 1)"')" = true
check "the ladder tries more partitions and more re-ranking, on --tune-nq queries" \
	test "$(echo "$OUT" | jq -c '[.index_tuned.ladder[1:][] | .queries] | unique')" = '[20]'
check "queries lists the weak defaults, the tuned setting, exact" \
	test "$(echo "$OUT" | jq -c '[.queries[] | .setting == "exact" or (.setting | startswith("defaults (nprobes 1, refine 1)")) or .recall_at_10 >= 0.95]')" = '[true,true,true]'
check "the ladder reaches recall 0.95, measured on all queries" \
	test "$(echo "$OUT" | jq '.index_tuned | .reached and .recall >= 0.95 and .queries == 40 and (.setting | startswith("nprobes ")) and (.ladder | length) > 2')" = true
check "the tuned setting is the first that reached it" \
	test "$(echo "$OUT" | jq '.index_tuned as $t | [$t.ladder[] | select(.nprobes == $t.nprobes and .refine_factor == $t.refine_factor)] | length == 1 and .[0].recall >= 0.95')" = true
expect_exit 2 nobase "$TEAVEC" bench --queries "$D/queries.fvecs"
check "--base is required" contains "$ERR" "--base"
printf 'not fvecs' >"$TMP/bad.fvecs"
expect_exit 1 badfile "$TEAVEC" bench --base "$TMP/bad.fvecs" --queries "$D/queries.fvecs"
check "a file that is not fvecs is named" contains "$ERR" "$TMP/bad.fvecs: not an fvecs file"
"$GEN" "$TMP/d16" --n 10 --dim 16 --queries 5 || exit 1
expect_exit 1 dims "$TEAVEC" bench --base "$D/base.fvecs" --queries "$TMP/d16/queries.fvecs"
check "mismatched dimensions are named" contains "$ERR" "dimension"
expect_exit 2 badmetric "$TEAVEC" bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --metric cos
expect_exit 0 help "$TEAVEC" bench --help
check "bench --help documents --gt" contains "$OUT" "--gt"
finish
