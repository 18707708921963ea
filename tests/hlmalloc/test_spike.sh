#!/usr/bin/env bash
# tests/hlmalloc/test_spike.sh LIB SPIKE: after a spike of small objects on 2 threads,
# all freed, with the threads idle, RSS must be back within 4 MiB of the baseline 1 s
# later (issue #3's bar: within 10% of live bytes + 4 MiB; live bytes are 0). 256 MiB
# here to keep make test quick; docs/performance.md has the 1 GiB figures.
source "$(dirname "$0")/lib.sh"
SPIKE=${2:?usage: test_spike.sh LIB SPIKE}
out=$(LD_PRELOAD="$LIB" "$SPIKE" 256 2 --check 2>&1)
rc=$?
echo "$out"
check "RSS back within 4 MiB of baseline 1 s after the frees" [ $rc -eq 0 ]
check "the spike really happened (peak above 200 MiB)" \
    bash -c "grep -oE 'peak RSS [0-9]+ MiB' <<<'$out' | awk '{exit !(\$3 > 200)}'"
finish
