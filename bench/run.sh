#!/usr/bin/env bash
# teavec against LanceDB 0.39 on the same files, in the same run, workload
# by workload: `teavec bench` and bench/lancedb_driver.mjs. Prints one
# table per dataset (and keeps the JSON of both in the output folder), then
# the total wall time.
#   bench/run.sh [--datasets "clustered-100k fashion-mnist clustered-1m"] [--nq N]
#                [--exact-nq N] [--tune-nq N] [--out DIR]
# Datasets: clustered-100k (100,000 x 384, cosine; the default),
# fashion-mnist (60,000 x 784, l2; Debian package dataset-fashion-mnist),
# clustered-1m (1,000,000 x 128, cosine), clustered-<ROWS>x<DIM> (any size,
# for trying the harness on small data). Synthetic data come from
# bench/gen.c (seeded); everything lands in bench/data/ (git-ignored).
# --nq: queries per workload (1,000); --exact-nq: of those, how many time
# LanceDB's exact searches (100: at 100k x 384 each takes 130-270 ms);
# --tune-nq: how many the recall >= 0.95 ladder tries each setting on (100).
set -euo pipefail
cd "$(dirname "$0")/.."
datasets="clustered-100k" out=bench/out nq=1000 exact_nq=100 tune_nq=100
while [ $# -gt 0 ]; do
	case "$1" in
	--datasets) datasets=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--nq) nq=$2; shift 2 ;;
	--exact-nq) exact_nq=$2; shift 2 ;;
	--tune-nq) tune_nq=$2; shift 2 ;;
	*) echo "usage: bench/run.sh [--datasets LIST] [--nq N] [--exact-nq N] [--tune-nq N] [--out DIR]" >&2; exit 2 ;;
	esac
done
case " $datasets " in *" fashion-mnist "*) bash scripts/setup.sh --bench >/dev/null ;; *) bash scripts/setup.sh --npm >/dev/null ;; esac
[ -x build/teavec ] && [ -x build/gen ] && [ -x build/bench_kernels ] || bash scripts/build.sh build >/dev/null
mkdir -p bench/data "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LANCEDB_LOG=error RUST_LOG=error

for ds in $datasets; do
	case $ds in
	clustered-100k) dir=bench/data/clustered-100000x384 dim=384 metric=cosine n=100000 ;;
	clustered-1m) dir=bench/data/clustered-1000000x128 dim=128 metric=cosine n=1000000 ;;
	clustered-[0-9]*x[0-9]*)
		n=${ds#clustered-} dim=${n#*x} n=${n%x*}
		dir=bench/data/$ds metric=cosine ;;
	fashion-mnist) dir=bench/data/fashion-mnist dim=784 metric=l2 n=0 ;;
	*) echo "bench/run.sh: unknown dataset $ds" >&2; exit 2 ;;
	esac
	if [ ! -f "$dir/base.fvecs" ]; then
		if [ "$n" = 0 ]; then node bench/fashion_mnist.mjs "$dir"
		else build/gen "$dir" --n "$n" --dim "$dim" --queries 1000; fi
	fi
	# teavec runs first: it writes the exact ground truth (gt.ivecs, and
	# gt-<filter>.ivecs for the filters) that both systems are scored against
	files=(--base "$dir/base.fvecs" --queries "$dir/queries.fvecs" --gt "$dir/gt.ivecs" --metric "$metric" --nq "$nq" --tune-nq "$tune_nq")
	echo "== $ds: teavec" >&2
	t0=$SECONDS
	build/teavec bench "${files[@]}" --db "$work/teavec" --json >"$out/$ds-teavec.json"
	rm -rf "$work/teavec"
	t1=$SECONDS
	echo "== $ds: LanceDB 0.39 ($((t1 - t0)) s for teavec)" >&2
	node bench/lancedb_driver.mjs "${files[@]}" --exact-nq "$exact_nq" --db "$work/lancedb" >"$out/$ds-lancedb.json"
	rm -rf "$work/lancedb"
	echo "== $ds: $((SECONDS - t1)) s for LanceDB" >&2
	echo "$((t1 - t0)) $((SECONDS - t1))" >"$work/$ds.wall"
done

# the machine's single-core streaming bandwidth, the bound of an exact
# scan, measured last: the gigabytes it touches and frees made the next
# process's first writes slower on this VM (teavec's ingest at 1M: 424k
# and 552k rows/s right after it, 580k and 758k in the runs that followed)
build/bench_kernels --json >"$out/kernels.json"

for ds in $datasets; do
	read -r tw lw <"$work/$ds.wall"
	jq -s -r --arg ds "$ds" --slurpfile m "$out/kernels.json" --argjson tw "$tw" --argjson lw "$lw" '
	  def r(x): if x >= 100 then (x | round) elif x >= 10 then ((x * 10 | round) / 10) else ((x * 100 | round) / 100) end;
	  def rec(x): (x * 1000 | round) / 1000;
	  def q(x): "\(r(x.p50_ms)) ms (\(rec(x.recall)))";
	  def qs(x): "\(q(x)) [\(x.setting)]";
	  def adv(a; b): "\(r(b / a))x";
	  def pct(x): "\(x * 100 | round)%";
	  def short(w): (w | split(", ")) as $p | if ($p | length) > 4 then "\($p[0]), \($p[1]), ..., \($p[-1])" else w end;
	  .[0] as $t | .[1] as $l |
	  ($m[0].membw_gbs) as $bw |
	  "\($ds): \($t.rows) x \($t.dim), \($t.metric), k = \($t.k), \($t.nq) queries (LanceDB exact: the first \($l.exact.queries)), single-threaded; " +
	  "single-core memory bandwidth \(r($bw)) GB/s, so an exact scan takes at least \(r($t.rows * $t.dim * 4 / $bw / 1e6)) ms\n",
	  "| workload | teavec | LanceDB 0.39 | teavec advantage |",
	  "|---|---|---|---|",
	  "| ingest, rows/s (batches of 10,000) | \($t.ingest_rows_per_s | round) | \($l.ingest_rows_per_s | round) | \(r($t.ingest_rows_per_s / $l.ingest_rows_per_s))x |",
	  "| peak RSS while ingesting, MB | \(r($t.peak_rss_mb)) | \(r($l.peak_rss_mb)) | \(adv($t.peak_rss_mb; $l.peak_rss_mb)) |",
	  "| exact top-k p50 / p99, ms | \(r($t.exact.p50_ms)) / \(r($t.exact.p99_ms)) | \(r($l.exact.p50_ms)) / \(r($l.exact.p99_ms)) | \(adv($t.exact.p50_ms; $l.exact.p50_ms)) |",
	  "| IVF_PQ index build, s | \(r($t.index_build_s)) | \(r($l.index_build_s)) | \(adv($t.index_build_s; $l.index_build_s)) |",
	  "| indexed query p50 (recall@k), defaults | \(q($t.index)) | \(q($l.index)) | \(adv($t.index.p50_ms; $l.index.p50_ms)) |",
	  "| indexed query p50 (recall@k), recall >= \($t.tune.target_recall) [setting] | \(qs($t.index_tuned)) | \(qs($l.index_tuned)) | \(adv($t.index_tuned.p50_ms; $l.index_tuned.p50_ms)) |",
	  "| indexed query p99, ms, recall >= \($t.tune.target_recall) | \(r($t.index_tuned.p99_ms)) | \(r($l.index_tuned.p99_ms)) | \(adv($t.index_tuned.p99_ms; $l.index_tuned.p99_ms)) |",
	  (($t.filtered | keys_unsorted[]) as $f | $t.filtered[$f] as $a | $l.filtered[$f] as $b |
	    ($f | sub("^meta_"; "metadata ") | sub("^path_"; "path ") | sub("pct$"; "%")) as $n |
	    "| filter \($n): exact p50 ms; defaults p50 ms (recall) | \(r($a.exact_p50_ms)); \(q({p50_ms: $a.index_p50_ms, recall: $a.index_recall})) | \(r($b.exact_p50_ms)); \(q({p50_ms: $b.index_p50_ms, recall: $b.index_recall})) | \(adv($a.index_p50_ms; $b.index_p50_ms)) |",
	    "| filter \($n): p50 (recall), recall >= \($t.tune.target_recall) [setting] | \(qs($a.tuned)) | \(qs($b.tuned)) | \(adv($a.tuned.p50_ms; $b.tuned.p50_ms)) |"),
	  "| upsert 1,000 rows (half new), median ms | \(r($t.upsert_1000_median_ms)) | \(r($l.upsert_1000_median_ms)) | \(adv($t.upsert_1000_median_ms; $l.upsert_1000_median_ms)) |",
	  "| cold start: new process, open + 1 query, ms | \(r($t.cold_start_ms)) | \(r($l.cold_start_ms)) | \(adv($t.cold_start_ms; $l.cold_start_ms)) |",
	  "| on disk, MB | \(r($t.disk_bytes / 1e6)) | \(r($l.disk_bytes / 1e6)) | \(adv($t.disk_bytes; $l.disk_bytes)) |",
	  "",
	  "Filters (teavec / LanceDB):",
	  (($t.filtered | keys_unsorted[]) as $f |
	    "- \($f) (\(pct($t.filtered[$f].selectivity))): `\(short($t.filtered[$f].where))`" +
	    (if $l.filtered[$f].where == $t.filtered[$f].where then " (both)" else " / `\(short($l.filtered[$f].where))`" end)),
	  "",
	  "The recall >= \($t.tune.target_recall) setting: the defaults when they reach it on all queries, else the first step of a ladder (2x partitions probed, or the next refine factor) reaching it on the first \($t.tune.subset_queries) queries, then measured on all; LanceDB index: \($l.index_partitions // "?") partitions; teavec index: \($t.index_stats.partitions // "?") partitions. Wall time: teavec \($tw) s, LanceDB \($lw) s.",
	  ""' "$out/$ds-teavec.json" "$out/$ds-lancedb.json" | tee "$out/$ds-table.md"
done
echo "bench/run.sh: total wall time $((SECONDS / 60)) min $((SECONDS % 60)) s" | tee -a "$out/wall.txt"
