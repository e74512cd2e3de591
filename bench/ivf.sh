#!/usr/bin/env bash
# The IVF_PQ index, teavec against LanceDB 0.39 on the same files in the
# same run: build time, then 1,000 single-threaded top-10 queries (p50,
# p99, recall@10 against exact ground truth) with each system's defaults,
# and LanceDB with settings that reach recall@10 >= 0.95 (refine 10).
#   bench/ivf.sh [--datasets "clustered-100k fashion-mnist clustered-1m"] [--out DIR]
# Datasets: clustered-100k (100,000 x 384, cosine), fashion-mnist (60,000 x
# 784, l2, Debian package dataset-fashion-mnist), clustered-1m (1,000,000 x
# 128, cosine). Needs scripts/build.sh and scripts/setup.sh --npm; data are
# generated (or converted) into bench/data/ (git-ignored) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
datasets="clustered-100k fashion-mnist clustered-1m" out=bench/out
while [ $# -gt 0 ]; do
	case "$1" in
	--datasets) datasets=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: bench/ivf.sh [--datasets LIST] [--out DIR]" >&2; exit 2 ;;
	esac
done
mkdir -p bench/data "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RUST_LOG=error LANCEDB_LOG=error

for ds in $datasets; do
	case $ds in
	clustered-100k) dir=bench/data/clustered-100000x384 dim=384 metric=cosine n=100000 ;;
	clustered-1m) dir=bench/data/clustered-1000000x128 dim=128 metric=cosine n=1000000 ;;
	fashion-mnist) dir=bench/data/fashion-mnist dim=784 metric=l2 ;;
	*) echo "bench/ivf.sh: unknown dataset $ds" >&2; exit 2 ;;
	esac
	if [ ! -f "$dir/base.fvecs" ]; then
		if [ "$ds" = fashion-mnist ]; then
			dpkg-query -W dataset-fashion-mnist >/dev/null 2>&1 || bash scripts/setup.sh --bench
			node bench/fashion_mnist.mjs "$dir"
		else
			build/bench_store "$dir" "$work/x" --n "$n" --dim "$dim" --queries 1000 --gen-only
		fi
	fi
	echo "== $ds: teavec" >&2
	build/bench_ivf "$dir" "$work/teavec" --dim "$dim" --metric "$metric" --queries 1000 >"$out/ivf-$ds-teavec.json"
	rm -rf "$work/teavec"
	echo "== $ds: LanceDB 0.39" >&2
	node bench/lancedb_ivf.mjs "$dir" "$work/lancedb" "$dim" "$metric" 1000 >"$out/ivf-$ds-lancedb.json"
	rm -rf "$work/lancedb"
done

echo "| dataset | rows x dim, metric | build s: teavec / LanceDB | teavec defaults: p50 ms, recall@10 | LanceDB defaults: p50 ms, recall@10 | LanceDB refine 10: p50 ms, recall@10 | p50 ratio at recall >= 0.95 |"
echo "|---|---|---|---|---|---|---|"
for ds in $datasets; do
	jq -s -r --arg ds "$ds" '
	  def r(x; n): (x * n | round) / n;
	  .[0] as $t | .[1] as $l | $l.runs[1] as $lr |
	  "| \($ds) | \($t.rows) x \($t.dim), \($t.metric) | \(r($t.build_s; 10)) / \(r($l.build_s; 10)) (\(r($l.build_s / $t.build_s; 10))x) " +
	  "| \(r($t.default_p50_ms; 100)), \(r($t.default_recall; 1000)) " +
	  "| \(r($l.runs[0].p50_ms; 100)), \(r($l.runs[0].recall; 1000)) " +
	  "| \(r($lr.p50_ms; 100)), \(r($lr.recall; 1000)) " +
	  "| \(r($lr.p50_ms / $t.default_p50_ms; 10))x |"' \
		"$out/ivf-$ds-teavec.json" "$out/ivf-$ds-lancedb.json"
done | tee "$out/ivf-table.md"
