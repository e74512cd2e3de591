#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan + UBSan) and runs each for a
# bounded time: tests/fuzz/run.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
CC=clang cmake -S . -B build-fuzz -DTV_FUZZ=ON -DTV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	corpus=build-fuzz/corpus/$name
	mkdir -p "$corpus"
	echo "fuzz: $name for ${secs}s"
	./build-fuzz/"$name" -max_total_time="$secs" -max_len=4096 -print_final_stats=0 "$corpus" \
		>build-fuzz/"$name".log 2>&1 || { tail -50 build-fuzz/"$name".log; exit 1; }
	grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" build-fuzz/"$name".log | tail -1 || true
done
echo "fuzz: all targets ran without a crash"
