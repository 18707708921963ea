#!/usr/bin/env bash
# tests/fuzz/run_fuzz_results.sh FUZZER HEAPLAB SECONDS: fuzz the results reader for SECONDS.
# Seeds are small real results files (bench, bench with the inside sections, run, race, a
# merged set) written by HEAPLAB, kept with what the fuzzer adds in
# <build>/tests/fuzz/corpus-results between runs. Exit 77 (ctest: skipped) without clang's
# libFuzzer.
NAME=results
source "$(dirname "$0")/fuzz_lib.sh"
if seeds_wanted; then
    "$HEAPLAB" bench --workload small --allocator glibc --ops 200 --repeat 2 \
        --json "$SEEDS/bench.json" --quiet >/dev/null 2>&1
    "$HEAPLAB" bench --workload fragmentation --allocator glibc --ops 2000 --repeat 1 \
        --no-latency --json "$SEEDS/frag.json" --quiet >/dev/null 2>&1
    "$HEAPLAB" bench --workload known-live --allocator jemalloc --ops 40 --repeat 1 \
        --no-latency --heapmap --alloc-stats --os-calls --heapmap-every 1000 \
        --json "$SEEDS/inside.json" --quiet >/dev/null 2>&1
    "$HEAPLAB" run --allocator glibc --repeat 2 --json "$SEEDS/run.json" -- /bin/true \
        >/dev/null 2>&1
    "$HEAPLAB" race --workload small --ops 500 --allocators bump,buddy --json "$SEEDS/race.json" \
        --quiet >/dev/null 2>&1
    "$HEAPLAB" merge "$SEEDS/bench.json" "$SEEDS/run.json" -o "$SEEDS/set.json" >/dev/null 2>&1
    find "$SEEDS" -type f -size +64k -delete
fi
fuzz_run 65536 results.dict
