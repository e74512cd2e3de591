#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan + UBSan) and runs each for a
# bounded time: tests/fuzz/run.sh [SECONDS_PER_TARGET]
# A target's seeds (tests/fuzz/seeds/NAME/, read only) and dictionary
# (tests/fuzz/NAME.dict) are used when present; the corpus it grows stays in
# build-fuzz/corpus/NAME for longer local runs. Leaks fail the run (LeakSanitizer),
# and so does any UB (built with -fno-sanitize-recover).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
CC=clang cmake -S . -B build-fuzz -DTV_FUZZ=ON -DTV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	corpus=build-fuzz/corpus/$name
	mkdir -p "$corpus"
	extra=()
	[ -f tests/fuzz/"$name".dict ] && extra+=(-dict=tests/fuzz/"$name".dict)
	seeds=()
	[ -d tests/fuzz/seeds/"$name" ] && seeds+=(tests/fuzz/seeds/"$name")
	echo "fuzz: $name for ${secs}s"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./build-fuzz/"$name" -max_total_time="$secs" -max_len=4096 -detect_leaks=1 \
		-print_final_stats=0 -artifact_prefix=build-fuzz/ "${extra[@]}" "$corpus" "${seeds[@]}" \
		>build-fuzz/"$name".log 2>&1 || { tail -50 build-fuzz/"$name".log; exit 1; }
	grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" build-fuzz/"$name".log | tail -1 || true
done
echo "fuzz: all targets ran without a crash"
