#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh FUZZER HEAPLAB SECONDS: fuzz the trace reader for SECONDS. Seeds are
# real traces recorded from the test programs (tests/trace), kept with what the fuzzer adds in
# <build>/tests/fuzz/corpus between runs. Exit 77 (ctest: skipped) without clang's libFuzzer.
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
SEEDS=$DIR/seeds
CORPUS=$DIR/corpus
mkdir -p "$SEEDS" "$CORPUS"
if [ -z "$(ls -A "$SEEDS" 2>/dev/null)" ]; then
    PROGS=$(dirname "$HEAPLAB")/tests/trace
    for mode in mix signal _exit exec; do
        "$HEAPLAB" record --buffer 4096 -o "$SEEDS/$mode.trace" -- "$PROGS/tr_single" $mode \
            >/dev/null 2>&1
    done
    "$HEAPLAB" record --buffer 4096 -o "$SEEDS/fork.trace" -- "$PROGS/tr_fork" >/dev/null 2>&1
    # keep the small ones (the fuzzer mutates inputs up to -max_len)
    find "$SEEDS" -type f -size +16k -delete
fi
LOG=$DIR/fuzz.log
"$FUZZER" -max_total_time="$SECONDS_" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -dict="$HERE/trace.dict" -print_final_stats=1 "$CORPUS" "$SEEDS" >"$LOG" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    tail -n 60 "$LOG"
    echo "fuzz_trace: FAILED (exit $rc); the input is in $(pwd)/crash-* and the log in $LOG"
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG")
echo "fuzz_trace: ${runs:-?} inputs in ${SECONDS_} s, no failure (corpus: $(ls "$CORPUS" | wc -l) files)"
