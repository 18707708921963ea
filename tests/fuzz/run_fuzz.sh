#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh FUZZER HEAPLAB SECONDS: fuzz the trace reader for SECONDS. Seeds are
# real traces recorded from the test programs (tests/trace), kept with what the fuzzer adds in
# <build>/tests/fuzz/corpus-trace between runs. Exit 77 (ctest: skipped) without clang's libFuzzer.
NAME=trace
source "$(dirname "$0")/fuzz_lib.sh"
if seeds_wanted; then
    PROGS=$(dirname "$HEAPLAB")/tests/trace
    for mode in mix signal _exit exec; do
        "$HEAPLAB" record --buffer 4096 -o "$SEEDS/$mode.trace" -- "$PROGS/tr_single" $mode \
            >/dev/null 2>&1
    done
    "$HEAPLAB" record --buffer 4096 -o "$SEEDS/fork.trace" -- "$PROGS/tr_fork" >/dev/null 2>&1
    # keep the small ones (the fuzzer mutates inputs up to -max_len)
    find "$SEEDS" -type f -size +16k -delete
fi
fuzz_run 16384 trace.dict
