#!/usr/bin/env bash
# teavec against LanceDB 0.39 on the same files, in the same run, workload
# by workload: `teavec bench` and bench/lancedb_driver.mjs. Prints one
# table per dataset (and keeps the JSON of both in the output folder).
#   bench/run.sh [--datasets "clustered-100k fashion-mnist clustered-1m"] [--nq N] [--out DIR]
# Datasets: clustered-100k (100,000 x 384, cosine; the default),
# fashion-mnist (60,000 x 784, l2; Debian package dataset-fashion-mnist),
# clustered-1m (1,000,000 x 128, cosine). Synthetic data come from
# bench/gen.c (seeded); everything lands in bench/data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
datasets="clustered-100k" out=bench/out nq=1000
while [ $# -gt 0 ]; do
	case "$1" in
	--datasets) datasets=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--nq) nq=$2; shift 2 ;;
	*) echo "usage: bench/run.sh [--datasets LIST] [--nq N] [--out DIR]" >&2; exit 2 ;;
	esac
done
case " $datasets " in *" fashion-mnist "*) bash scripts/setup.sh --bench >/dev/null ;; *) bash scripts/setup.sh --npm >/dev/null ;; esac
[ -x build/teavec ] && [ -x build/gen ] || bash scripts/build.sh build >/dev/null
mkdir -p bench/data "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LANCEDB_LOG=error RUST_LOG=error
# the machine's single-core streaming bandwidth: the bound of an exact scan
build/bench_kernels --json >"$out/kernels.json"

for ds in $datasets; do
	case $ds in
	clustered-100k) dir=bench/data/clustered-100000x384 dim=384 metric=cosine n=100000 ;;
	clustered-1m) dir=bench/data/clustered-1000000x128 dim=128 metric=cosine n=1000000 ;;
	fashion-mnist) dir=bench/data/fashion-mnist dim=784 metric=l2 n=0 ;;
	*) echo "bench/run.sh: unknown dataset $ds" >&2; exit 2 ;;
	esac
	if [ ! -f "$dir/base.fvecs" ]; then
		if [ "$n" = 0 ]; then node bench/fashion_mnist.mjs "$dir"
		else build/gen "$dir" --n "$n" --dim "$dim" --queries 1000; fi
	fi
	files=(--base "$dir/base.fvecs" --queries "$dir/queries.fvecs" --gt "$dir/gt.ivecs" --metric "$metric" --nq "$nq")
	echo "== $ds: teavec" >&2
	build/teavec bench "${files[@]}" --db "$work/teavec" --json >"$out/$ds-teavec.json"
	rm -rf "$work/teavec"
	echo "== $ds: LanceDB 0.39" >&2
	node bench/lancedb_driver.mjs "${files[@]}" --db "$work/lancedb" >"$out/$ds-lancedb.json"
	rm -rf "$work/lancedb"
	jq -s -r --arg ds "$ds" --slurpfile m "$out/kernels.json" '
	  def r(x): if x >= 100 then (x | round) elif x >= 10 then ((x * 10 | round) / 10) else ((x * 100 | round) / 100) end;
	  def q(x): "\(r(x.p50_ms)) ms (\((x.recall * 1000 | round) / 1000))";
	  def adv(a; b): "\(r(b / a))x";
	  .[0] as $t | .[1] as $l |
	  ($m[0].membw_gbs) as $bw |
	  "\($ds): \($t.rows) x \($t.dim), \($t.metric), k = \($t.k), \($t.queries) queries, single-threaded; " +
	  "single-core memory bandwidth \(r($bw)) GB/s, so an exact scan takes at least \(r($t.rows * $t.dim * 4 / $bw / 1e6)) ms\n",
	  "| workload | teavec | LanceDB 0.39 | teavec advantage |",
	  "|---|---|---|---|",
	  "| ingest, rows/s (batches of 10,000) | \($t.ingest_rows_per_s | round) | \($l.ingest_rows_per_s | round) | \(r($t.ingest_rows_per_s / $l.ingest_rows_per_s))x |",
	  "| peak RSS while ingesting, MB | \(r($t.peak_rss_mb)) | \(r($l.peak_rss_mb)) | \(adv($t.peak_rss_mb; $l.peak_rss_mb)) |",
	  "| exact top-k p50 / p99, ms | \(r($t.exact.p50_ms)) / \(r($t.exact.p99_ms)) | \(r($l.exact.p50_ms)) / \(r($l.exact.p99_ms)) | \(adv($t.exact.p50_ms; $l.exact.p50_ms)) |",
	  "| IVF_PQ index build, s | \(r($t.index_build_s)) | \(r($l.index_build_s)) | \(adv($t.index_build_s; $l.index_build_s)) |",
	  "| indexed query p50 (recall@k), defaults | \(q($t.index)) | \(q($l.index)) | \(adv($t.index.p50_ms; $l.index.p50_ms)) |",
	  "| indexed query p50 (recall@k), LanceDB refine 10 | \(q($t.index)) | \(q($l.index_refine10)) | \(adv($t.index.p50_ms; $l.index_refine10.p50_ms)) |",
	  "| indexed query p99, ms (teavec defaults, LanceDB refine 10) | \(r($t.index.p99_ms)) | \(r($l.index_refine10.p99_ms)) | \(adv($t.index.p99_ms; $l.index_refine10.p99_ms)) |",
	  (($t.filtered | keys_unsorted[]) as $f |
	    "| filter \($f): exact p50 ms; indexed p50 ms (recall) | \(r($t.filtered[$f].exact_p50_ms)); \(r($t.filtered[$f].index_p50_ms)) (\(($t.filtered[$f].index_recall * 1000 | round) / 1000)) | \(r($l.filtered[$f].exact_p50_ms)); \(r($l.filtered[$f].index_p50_ms)) (\(($l.filtered[$f].index_recall * 1000 | round) / 1000)) | \(adv($t.filtered[$f].index_p50_ms; $l.filtered[$f].index_p50_ms)) |"),
	  "| upsert 1,000 rows (half new), median ms | \(r($t.upsert_1000_median_ms)) | \(r($l.upsert_1000_median_ms)) | \(adv($t.upsert_1000_median_ms; $l.upsert_1000_median_ms)) |",
	  "| cold start: new process, open + 1 query, ms | \(r($t.cold_start_ms)) | \(r($l.cold_start_ms)) | \(adv($t.cold_start_ms; $l.cold_start_ms)) |",
	  "| on disk, MB | \(r($t.disk_bytes / 1e6)) | \(r($l.disk_bytes / 1e6)) | \(adv($t.disk_bytes; $l.disk_bytes)) |",
	  ""' "$out/$ds-teavec.json" "$out/$ds-lancedb.json" | tee "$out/$ds-table.md"
done
