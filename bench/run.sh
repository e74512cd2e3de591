#!/usr/bin/env bash
# Runs teavec and LanceDB 0.39 side by side on the same clustered data and
# prints one table with the ratio per workload.
#   bench/run.sh [--rows N] [--dim D] [--out DIR]     (default 100000 x 384)
# Needs the project built (scripts/build.sh) and LanceDB installed
# (scripts/setup.sh --npm). Data are cached in bench/data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=100000 dim=384 out=bench/out
while [ $# -gt 0 ]; do
	case "$1" in
	--rows) rows=$2; shift 2 ;;
	--dim) dim=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: bench/run.sh [--rows N] [--dim D] [--out DIR]" >&2; exit 2 ;;
	esac
done
data=bench/data/clustered-${rows}x${dim}
mkdir -p bench/data "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== memory bandwidth and kernels" >&2
build/bench_kernels --json >"$out/kernels.json"
echo "== teavec ($rows x $dim)" >&2
build/bench_store "$data" "$work/teavec" --n "$rows" --dim "$dim" --queries 200 >"$out/teavec.json"
echo "== LanceDB 0.39 (same files)" >&2
node bench/lancedb_driver.mjs "$data" "$work/lancedb" "$dim" >"$out/lancedb.json"

jq -s '{machine: .[0], teavec: .[1], lancedb: .[2]}' "$out/kernels.json" "$out/teavec.json" \
	"$out/lancedb.json" >"$out/result.json"
jq -r '
  def r(x): (x * 10 | round) / 10;
  def row(name; a; b; better):
    "| \(name) | \(r(a)) | \(r(b)) | \(if better == "higher" then r(a / b) else r(b / a) end)x |";
  .teavec as $t | .lancedb as $l | .machine as $m |
  "Rows \($t.rows) x \($t.dim), cosine; single-core memory bandwidth \(r($m.membw_gbs)) GB/s " +
  "(exact-scan bound \(r($t.rows * $t.dim * 4 / $m.membw_gbs / 1e6)) ms)\n",
  "| workload | teavec | LanceDB 0.39 | teavec advantage |",
  "|---|---|---|---|",
  row("ingest, rows/s (batches of 10,000)"; $t.ingest_rows_per_s; $l.ingest_rows_per_s; "higher"),
  row("exact top-10 p50, ms"; $t.exact_p50_ms; $l.exact_p50_ms; "lower"),
  row("exact top-10 p99, ms"; $t.exact_p99_ms; $l.exact_p99_ms; "lower"),
  row("path filter 1%, p50 ms (exact)"; $t.path_filter_1pct_p50_ms; $l.path_filter_1pct_p50_ms; "lower"),
  row("metadata filter 10%, p50 ms (exact)"; $t.meta_filter_10pct_p50_ms; $l.meta_filter_10pct_p50_ms; "lower"),
  row("upsert 1,000 rows, median ms"; ($t.upsert_1000_ms | sort | .[2]); ($l.upsert_1000_ms | sort | .[2]); "lower"),
  row("cold start: new process, open + 1 query, ms"; $t.cold_start_ms; $l.cold_start_ms; "lower"),
  row("peak RSS while ingesting, MB"; $t.peak_rss_mb; $l.peak_rss_mb; "lower"),
  row("on-disk bytes, MB"; $t.disk_bytes / 1e6; $l.disk_bytes / 1e6; "lower")
' "$out/result.json" | tee "$out/table.md"
