#!/usr/bin/env bash
# tests/fuzz/run_fuzz_results.sh FUZZER HEAPLAB SECONDS: fuzz the results reader for SECONDS.
# Seeds are small real results files (bench, run, race, a merged set) written by HEAPLAB,
# kept with what the fuzzer adds in <build>/tests/fuzz/corpus-results between runs. Exit 77
# (ctest: skipped) without clang's libFuzzer.
set -u
FUZZER=$1
HEAPLAB=$2
SECONDS_=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$FUZZER" ]; then
    echo "skip: no fuzzer binary (needs clang with libFuzzer: scripts/deps.sh installs clang and libclang-rt-14-dev)"
    exit 77
fi
DIR=$(dirname "$FUZZER")
SEEDS=$DIR/seeds-results
CORPUS=$DIR/corpus-results
mkdir -p "$SEEDS" "$CORPUS"
if [ -z "$(ls -A "$SEEDS" 2>/dev/null)" ]; then
    "$HEAPLAB" bench --workload small --allocator glibc --ops 200 --repeat 2 \
        --json "$SEEDS/bench.json" --quiet >/dev/null 2>&1
    "$HEAPLAB" bench --workload fragmentation --allocator glibc --ops 2000 --repeat 1 \
        --no-latency --json "$SEEDS/frag.json" --quiet >/dev/null 2>&1
    "$HEAPLAB" run --allocator glibc --repeat 2 --json "$SEEDS/run.json" -- /bin/true \
        >/dev/null 2>&1
    "$HEAPLAB" race --workload small --ops 500 --allocators bump,buddy --json "$SEEDS/race.json" \
        --quiet >/dev/null 2>&1
    "$HEAPLAB" merge "$SEEDS/bench.json" "$SEEDS/run.json" -o "$SEEDS/set.json" >/dev/null 2>&1
    find "$SEEDS" -type f -size +64k -delete
fi
LOG=$DIR/fuzz-results.log
"$FUZZER" -max_total_time="$SECONDS_" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -dict="$HERE/results.dict" -print_final_stats=1 "$CORPUS" "$SEEDS" >"$LOG" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    tail -n 60 "$LOG"
    echo "fuzz_results: FAILED (exit $rc); the input is in $(pwd)/crash-* and the log in $LOG"
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG")
echo "fuzz_results: ${runs:-?} inputs in ${SECONDS_} s, no failure (corpus: $(ls "$CORPUS" | wc -l) files)"
