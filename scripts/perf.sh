#!/usr/bin/env bash
# scripts/perf.sh: every figure of docs/performance.md, side by side, on this machine.
# `make perf` runs it after a build. Takes about 25 minutes on 2 cores. The bench uses 7
# repeats: the 2-thread rows are bimodal on this machine, and a median of 5 lands on
# either mode (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/perf-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/heaplab-perf.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
declare -A LIB=([glibc]="" [jemalloc]=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    [tcmalloc]=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
    [mimalloc]=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 [hlmalloc]=$(readlink -f build/libhlmalloc.so))
ORDER="glibc jemalloc tcmalloc mimalloc hlmalloc"

{
echo "# heaplab performance run, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -r)"
echo "versions: $(build/heaplab list allocators | awk 'NR>1 {printf "%s %s; ", $1, $3}')"
echo "command: make perf (scripts/perf.sh)"
echo
echo "## 1. heaplab bench, all workloads, 1 and 2 threads, 7 interleaved repeats"
build/heaplab bench --threads 1,2 --repeat 7 --json "$OUT/bench.json"
echo
echo "## 2. spike: 1 GiB of 16-256 B objects on 2 threads, all freed, threads idle"
cc -O2 -pthread tests/hlmalloc/spike.c -o "$TMP/spike"
for a in $ORDER; do echo "$a: $(LD_PRELOAD=${LIB[$a]} "$TMP/spike" 1024 2 | tr '\n' ' ')"; done
echo
echo "## 3. large-block churn: 2000 x (64 KiB..32 MiB, every page touched, freed)"
cc -O2 scripts/realprog/churn.c -o "$TMP/churn"
for rep in 1 2 3; do
    for a in $ORDER; do echo "$a rep $rep: $(LD_PRELOAD=${LIB[$a]} "$TMP/churn" 2000)"; done
done
echo
echo "## 4. fast paths: instructions per malloc(32) and free, callgrind, 1M pairs"
for a in $ORDER; do
    cc -O2 scripts/realprog/pair_loop.c -o "$TMP/loop.$a" -Wl,--no-as-needed ${LIB[$a]} \
        -Wl,-rpath,"$(dirname "${LIB[$a]:-/}")"
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$a" "$TMP/loop.$a" 32 1000000 >/dev/null 2>&1
    printf "%-9s" "$a"
    callgrind_annotate "$TMP/cg.$a" 2>/dev/null | sed -n '/file:function/,$p' |
        sed -nE 's/^ *([0-9,]+) .*:(malloc|free|hli_malloc|hli_free|_int_free|_int_malloc|hl_page_retire) \[.*/\2 \1/p' |
        tr -d , | awk '{printf " %s=%.1f", $1, $2 / 1000000}'
    echo
done
echo "(glibc: malloc + free + _int_free; hlmalloc: malloc and free are aliases of hli_malloc and hli_free)"
echo
echo "## 5. real programs"
bash scripts/perf-real.sh 5
} 2>&1 | tee "$OUT/perf.txt"
echo "written: $OUT/perf.txt"
