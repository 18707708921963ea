#!/usr/bin/env bash
# `heaplab run`: a real program under several allocators, and the proof of which malloc
# each process used (a program linked against jemalloc is not glibc).
source "$(dirname "$0")/lib.sh"

"$HEAPLAB" run --repeat 2 --json "$TMP/run.json" -- /bin/sh -c 'sort -n /proc/self/maps >/dev/null' \
    >"$TMP/t" 2>"$TMP/err"; rc=$?
check "run exits 0" [ $rc -eq 0 ]
check "run table has wall" grep -q "^wall, s" "$TMP/t"
check "run table has peak RSS" grep -q "^peak RSS, MiB" "$TMP/t"
check "run JSON validates" validate run-1.schema.json "$TMP/run.json"
check "every run verified its preload" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$TMP/run.json'))
runs=[r for a in d['allocators'] for r in a['runs']]
sys.exit(0 if runs and all(r['status']=='ok' and r['preload_verified'] and r['peak_rss_bytes']>0 for r in runs) else 1)"

# A program linked against jemalloc, "run under glibc", must be caught.
if [ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so ] || [ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ]; then
    echo 'int main(void){return 0;}' >"$TMP/je.c"
    cc -o "$TMP/je" "$TMP/je.c" -Wl,--no-as-needed /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    "$HEAPLAB" run --repeat 1 --allocator glibc -- "$TMP/je" >"$TMP/t2" 2>"$TMP/err2"; rc=$?
    check "jemalloc-linked program under 'glibc' fails" [ $rc -eq 1 ]
    check "the note names jemalloc" grep -q "preload-mismatch.*jemalloc" "$TMP/t2"
    "$HEAPLAB" run --repeat 1 --allocator jemalloc -- "$TMP/je" >"$TMP/t3" 2>&1; rc=$?
    check "the same program under jemalloc is fine" [ $rc -eq 0 ]
fi

# Exit status of the program is reported.
"$HEAPLAB" run --repeat 1 --allocator glibc -- /bin/false >"$TMP/t4" 2>&1; rc=$?
check "failing program: exit 1" [ $rc -eq 1 ]
check "failing program: note" grep -q "exit status 1" "$TMP/t4"
finish
