#!/usr/bin/env bash
# vector.index_files throughput: a seeded tree of FILES text files (default
# 10,000, ~3 KB each, paragraphs of words drawn from a 5,000-word
# vocabulary), indexed with the built-in hash embedder into a local lancedb
# database: first index (MB/s), an unchanged rerun (seconds), and a rerun
# after editing 1% of the files.
#   bash bench/index_files.sh [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-10000}
OUT=bench/out/index_files
T=$OUT/tree
DB=$OUT/db
[ -x build/teavec ] || bash scripts/build.sh build >/dev/null
rm -rf "$OUT"
mkdir -p "$T"
awk -v files="$FILES" -v root="$T" 'BEGIN {
	srand(42)
	for (i = 0; i < 5000; i++) {
		w = ""; n = 3 + int(rand() * 7)
		for (j = 0; j < n; j++) w = w sprintf("%c", 97 + int(rand() * 26))
		vocab[i] = w
	}
	for (f = 0; f < files; f++) {
		dir = root "/d" int(f / 100)
		if (f % 100 == 0) system("mkdir -p " dir)
		path = dir "/f" f ".md"
		paras = 4 + int(rand() * 6)
		for (p = 0; p < paras; p++) {
			lines = 2 + int(rand() * 4)
			for (l = 0; l < lines; l++) {
				s = ""
				for (w = 0; w < 12; w++) s = s vocab[int(rand() * rand() * 5000)] " "
				print s > path
			}
			print "" > path
		}
		close(path)
	}
}'
BYTES=$(du -sb "$T" | cut -f1)
N=$(find "$T" -type f | wc -l)
sync
secs() { local a b; a=$(date +%s.%N); "$@" >"$OUT/last.json"; b=$(date +%s.%N); echo "$b - $a" | bc; }
FIRST=$(secs build/teavec index "$T" --db "$DB" --collection bench --json)
CHUNKS=$(jq .chunks "$OUT/last.json")
AGAIN=$(secs build/teavec index "$T" --db "$DB" --collection bench --json)
UNCH=$(jq .unchanged "$OUT/last.json")
for f in $(find "$T" -type f | sort | awk -v n="$N" 'NR % 100 == 1'); do echo "edited line" >>"$f"; done
EDIT=$(secs build/teavec index "$T" --db "$DB" --collection bench --json)
REIDX=$(jq .indexed "$OUT/last.json")
printf '%s files, %.1f MB of text, %s chunks (paragraphs), hash embedder (256 dims), 1 process\n' \
	"$N" "$(echo "$BYTES / 1000000" | bc -l)" "$CHUNKS"
printf 'first index       %6.2f s   %6.1f MB/s\n' "$FIRST" "$(echo "$BYTES / 1000000 / $FIRST" | bc -l)"
printf 'unchanged rerun   %6.2f s   (%s files unchanged)\n' "$AGAIN" "$UNCH"
printf 'after 1%% edited   %6.2f s   (%s files re-indexed)\n' "$EDIT" "$REIDX"
printf 'on disk           %6.1f MB\n' "$(echo "$(du -sb "$DB" | cut -f1) / 1000000" | bc -l)"
