#!/bin/bash
# scripts/alloc-instr.sh: the allocator's own instructions per op of one workload, from
# callgrind (docs/performance.md section 6).
#
#   scripts/alloc-instr.sh LIB WORKLOAD [OPS]     (run from the repository, after a build)
#
# Runs `heaplab __worker` with LIB preloaded under callgrind and sums the functions of
# LIB's object, plus any malloc/free/calloc/realloc callgrind could not place in an
# object (tcmalloc's). Prints: WORKLOAD LIB instructions per-op calls... where calls are
# the call counts of hlmalloc's slow-path functions (0 for other allocators).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: scripts/alloc-instr.sh LIB WORKLOAD [OPS]" >&2
    exit 2
fi
lib=$1 workload=$2 ops=${3:-400000}
[ -r "$lib" ] || { echo "alloc-instr.sh: cannot read $lib" >&2; exit 2; }
heaplab=${HEAPLAB:-build/heaplab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$heaplab" __worker \
    --workload "$workload" --ops "$ops" --expect "$lib" --no-latency >/dev/null 2>"$tmp/log" || {
    echo "alloc-instr.sh: the worker failed under valgrind (see below)" >&2
    tail -5 "$tmp/log" >&2
    exit 1
}
base=$(basename "$lib")
total=$(callgrind_annotate --threshold=100 "$tmp/cg" 2>/dev/null | sed -n '/file:function/,$p' |
    awk -v b="/$base" '{ n = $1; gsub(",", "", n) }
        index($0, b) { s += n; next }
        /\?\?\?:(malloc|free|calloc|realloc)( |$)/ { s += n }
        END { printf "%d", s }')
calls() { # the calls= counts of every call into function $1 (names are compressed)
    awk -v f="$1" '
        /^c?fn=\([0-9]+\) / { k = $1; sub(/^c?fn=/, "", k); name[k] = substr($0, index($0, " ") + 1) }
        /^cfn=/ { k = $1; sub(/^cfn=/, "", k); on = (name[k] == f); next }
        /^calls=/ { if (on) { split($1, a, "="); s += a[2] } on = 0 }
        END { printf "%d", s }' "$tmp/cg"
}
printf '%s %s instructions=%s per_op=%s' "$workload" "$base" "$total" \
    "$(awk -v t="$total" -v o="$ops" 'BEGIN { printf "%.2f", t / o }')"
for f in hl_malloc_bin hl_page_unfull free_owned_slow; do
    printf ' %s=%s' "$f" "$(calls "$f")"
done
echo
