#!/usr/bin/env bash
# tests/fuzz/run_fuzz_serve.sh FUZZER HEAPLAB SECONDS: fuzz what heaplab serve reads from a
# page (fuzz_serve.c) for SECONDS. Seeds: messages of every type, a recorded trace as an
# upload, a small tick file, map payloads; kept with what the fuzzer adds in
# <build>/tests/fuzz/corpus-serve. Exit 77 (ctest: skipped) without clang's libFuzzer.
NAME=serve
source "$(dirname "$0")/fuzz_lib.sh"
if seeds_wanted; then
    # 0: messages (0x80: a tick file is served)
    n=0
    while IFS= read -r msg; do
        n=$((n + 1))
        { printf '\000'; printf '%s' "$msg"; } >"$SEEDS/msg-$n"
    done <<'MSGS'
{"type":"start","workload":"nginx-requests","seed":42,"ops":50000,"arena":4194304,"allocators":["span","firstfit-best"],"tick_every":500,"tps":0}
{"type":"start","trace":"upload:17","tps":30}
{"type":"start","trace":"py.trace","arena":0,"tick_every":0}
{"type":"pause"}
{"type":"resume"}
{"type":"step"}
{"type":"speed","tps":240}
{"type":"seek","tick":123}
{"type":"overlay","mode":"class"}
{"type":"cell","lane":3,"cell":65535}
{"type":"start","workload":"known-live","seed":9,"ops":30002,"threads":2,"every":1000,"allocators":["hlmalloc","glibc"]}
{"type":"start","trace":"upload:3","allocators":["jemalloc","tcmalloc","mimalloc"]}
{"type":"stop"}
MSGS
    { printf '\200'; printf '%s' '{"type":"start","tps":5}'; } >"$SEEDS/msg-ticks"
    # 1: an upload (a recorded trace)
    PROG=$(dirname "$HEAPLAB")/tests/trace/tr_single
    if "$HEAPLAB" record --buffer 4096 -o "$DIR/seed.trace" -- "$PROG" mix >/dev/null 2>&1; then
        { printf '\001'; cat "$DIR/seed.trace"; } >"$SEEDS/upload-mix"
        rm -f "$DIR/seed.trace"*
    fi
    # 2: a tick file of 2 ticks, 2 lanes of 64 KiB arenas
    if "$HEAPLAB" race --workload adversarial --ops 100 --tick-every 60 --arena 64K \
        --allocators bump,buddy --ticks "$DIR/seed.ticks" --quiet >/dev/null 2>&1; then
        { printf '\002'; cat "$DIR/seed.ticks"; } >"$SEEDS/ticks"
        rm -f "$DIR/seed.ticks"
    fi
    # 3: map payloads: 100 cells, a delta of two runs
    printf '\003\002\032\000\010\344\344\010\004\033' >"$SEEDS/delta"
fi
fuzz_run 65536 serve.dict
