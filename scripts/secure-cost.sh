#!/usr/bin/env bash
# scripts/secure-cost.sh: the cost of hlmalloc's secure build on real programs, for
# docs/hlmalloc.md. Runs python3 (PYTHONMALLOC=malloc) on scripts/realprog/alloc_heavy.py,
# gcc -O2 -c on a generated C file and tclsh on scripts/realprog/lists_dicts.tcl under
# glibc, the default build and the secure build (plus any NAME=LIB given), interleaved,
# medians of REPEAT runs (`heaplab run`). GCC_FUNCS sizes the generated file (default
# 400). Needs a build (make).
# usage: scripts/secure-cost.sh [REPEAT] [NAME=LIB...]
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-5}
shift || true
ALLOCS="glibc,hlmalloc=$(readlink -f build/libhlmalloc.so),secure=$(readlink -f build/libhlmalloc-secure.so)"
for extra in "$@"; do ALLOCS="$ALLOCS,$extra"; done
TMP=$(mktemp -d /tmp/heaplab-secure-cost.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
uptime

echo "== python3 (PYTHONMALLOC=malloc) scripts/realprog/alloc_heavy.py"
build/heaplab run --repeat "$REPEAT" --allocator "$ALLOCS" -- \
    /usr/bin/env PYTHONMALLOC=malloc /usr/bin/python3 scripts/realprog/alloc_heavy.py

echo
python3 scripts/realprog/gen_big_c.py "${GCC_FUNCS:-400}" >"$TMP/big.c"
echo "== gcc -O2 -c big.c ($(wc -l <"$TMP/big.c") lines)"
build/heaplab run --repeat "$REPEAT" --allocator "$ALLOCS" -- \
    /usr/bin/gcc -O2 -c "$TMP/big.c" -o "$TMP/big.o"

if command -v tclsh >/dev/null; then
    echo
    echo "== tclsh scripts/realprog/lists_dicts.tcl"
    build/heaplab run --repeat "$REPEAT" --allocator "$ALLOCS" -- \
        "$(command -v tclsh)" scripts/realprog/lists_dicts.tcl
fi
uptime
