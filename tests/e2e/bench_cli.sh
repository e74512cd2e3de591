# teavec bench on small generated fvecs files: every workload reports, the
# exact runs agree with the ground truth it writes, a second run reads that
# ground truth back, and bad inputs are named.
. "$(dirname "$0")/lib.bash"
GEN=${TV_BUILD_DIR:?}/gen
D=$TMP/data
"$GEN" "$D" --n 3000 --dim 32 --queries 40 || exit 1
expect_exit 0 bench "$TEAVEC" bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --gt "$D/gt.ivecs" --nq 40 --json
check "bench reports the data it ran on" test "$(echo "$OUT" | jq -c '[.rows, .dim, .metric, .k, .queries]')" = '[3000,32,"cosine",10,40]'
check "exact queries agree with the ground truth they produced" test "$(echo "$OUT" | jq '.exact.recall')" = 1
check "indexed queries reach recall@10 >= 0.9" test "$(echo "$OUT" | jq '.index.recall >= 0.9')" = true
check "the index was built and is reported" test "$(echo "$OUT" | jq -r '.index_stats.type')" = IVF_PQ
check "three filters, each exact recall 1" test "$(echo "$OUT" | jq -c '[.filtered[] | .exact_recall]')" = '[1,1,1]'
check "timings and sizes are positive" \
	test "$(echo "$OUT" | jq '[.ingest_rows_per_s, .index_build_s, .exact.p50_ms, .index.p50_ms, .upsert_1000_median_ms, .cold_start_ms, .disk_bytes] | all(. > 0)')" = true
check "the ground truth files are written beside --gt" test -s "$D/gt.ivecs" -a -s "$D/gt-path.ivecs" -a -s "$D/gt-cat.ivecs" -a -s "$D/gt-half.ivecs"
SUM=$(md5sum "$D"/gt*.ivecs)
expect_exit 0 text "$TEAVEC" bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --gt "$D/gt.ivecs" --nq 40
check "a second run reads the ground truth back (unchanged) and prints a report" test "$(md5sum "$D"/gt*.ivecs)" = "$SUM"
check "the text report names the workloads" contains "$OUT" "index build"
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
