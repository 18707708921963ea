#!/usr/bin/env bash
# tests/hlmalloc/test_oom.sh LIB OOM: under `ulimit -v`, the preloaded allocator serves at
# least 98% of what glibc serves before malloc fails with ENOMEM, for 4 KiB, 64 KiB, 1 MiB
# and 64 MiB blocks, and after freeing them all serves as much again, of the same size or
# of another (docs/hlmalloc.md, "Out of memory"). The oom helper counts the blocks.
source "$(dirname "$0")/lib.sh"
OOM=${2:?usage: test_oom.sh LIB OOM}
LIMIT_KB=1000000

# served PRELOAD SIZE [SIZE2]: "N1 N2", the blocks served in each fill ("x" on failure).
served() {
    local pre=$1
    shift
    local out
    out=$(bash -c "ulimit -v $LIMIT_KB; LD_PRELOAD='$pre' exec '$OOM' $*" 2>&1) || {
        echo "oom $* (LD_PRELOAD=$pre) failed: $out" >&2
        echo "x x"
        return
    }
    awk '{print $2, $7}' <<<"$out"
}

# at_least A B: A >= 98% of B.
at_least() {
    [ "$1" != x ] && [ "$2" != x ] && [ $(($1 * 100)) -ge $(($2 * 98)) ]
}

for case in 4k 64k 1m 64m "64k 64m" "4k 1m" "1m 4k"; do
    read -r g1 g2 <<<"$(served "" $case)"
    read -r h1 h2 <<<"$(served "$LIB" $case)"
    echo "ulimit -v $LIMIT_KB, $case: glibc $g1 then $g2 blocks, $LIBNAME $h1 then $h2"
    check "$case: first fill at least 98% of glibc's ($h1 vs $g1)" at_least "$h1" "$g1"
    check "$case: after the frees at least 98% of glibc's ($h2 vs $g2)" at_least "$h2" "$g2"
done
finish
