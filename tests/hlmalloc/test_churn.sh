#!/usr/bin/env bash
# tests/hlmalloc/test_churn.sh LIB CHURN: memory of exited threads is reused (issue 17,
# item 2). The churn pattern (churn.c: short threads four at a time, two 64-512 B blocks
# each into a table of 4,096 slots): after 2,000 threads of warm-up (they fill the table),
# RSS after 2,000 more threads and after 20,000 more must differ by less than 1 MiB, and
# the peak stay under 8 MiB (glibc: about 5). Before adoption by the malloc slow path:
# 10.7 and 12.5 MiB, peak 12.5.
source "$(dirname "$0")/lib.sh"
CHURN=${2:?usage: test_churn.sh LIB CHURN}
out=$(LD_PRELOAD="$LIB" "$CHURN" 22000 17 4 2 4000 2>&1)
rc=$?
echo "$out"
check "the churn program ran" [ $rc -eq 0 ]
read -r _ peak _ rss _ mark <<<"$out"
echo "RSS after 2,000 threads ${mark} KiB, after 20,000 ${rss} KiB, peak ${peak} KiB"
check "RSS after 20,000 threads within 1 MiB of RSS after 2,000" \
    [ $((rss - mark)) -lt 1024 -a $((mark - rss)) -lt 1024 ]
check "peak RSS under 8 MiB" [ "$peak" -lt 8192 ]
finish
