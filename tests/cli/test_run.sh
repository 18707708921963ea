#!/usr/bin/env bash
# `heaplab run`: a real program under several allocators, and the proof of which malloc
# each process used (a program linked against jemalloc is not glibc); results files that
# cannot be written, the probe's temporary file, and the tables.
source "$(dirname "$0")/lib.sh"

"$HEAPLAB" run --repeat 2 --json "$TMP/run.json" -- /bin/sh -c 'sort -n /proc/self/maps >/dev/null' \
    >"$TMP/t" 2>"$TMP/err"; rc=$?
check "run exits 0" [ $rc -eq 0 ]
check "run table has wall" grep -q "^wall, s" "$TMP/t"
check "run table has peak RSS" grep -q "^peak RSS, MiB" "$TMP/t"
check "run JSON validates (run-2.schema.json)" validate run-2.schema.json "$TMP/run.json"
check "every run verified its preload" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$TMP/run.json'))
runs=[r for a in d['allocators'] for r in a['runs']]
sys.exit(0 if runs and all(r['status']=='ok' and r['preload_verified'] and r['peak_rss_bytes']>0 for r in runs) else 1)"
check "run JSON: the program, and each allocator's version" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$TMP/run.json'))
ok = d['config']['program'][:2] == ['/bin/sh', '-c'] and d['command'].split()[1:3] == ['run', '--repeat']
ok = ok and all(a.get('version') for a in d['allocators'])
sys.exit(0 if ok else 1)"

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

# A lab allocator runs inside heaplab, not under a program.
expect_usage "run lab:NAME" run --allocator lab:bump -- /bin/true

# --json that cannot be written: one line, exit 1, before anything runs (no table), and a
# read-only file is not replaced. As root too: the mode is what counts.
mkdir -p "$TMP/out"
touch "$TMP/out/regular"
echo keep >"$TMP/out/ro.json"
chmod 444 "$TMP/out/ro.json"
for target in nodir/r.json regular/r.json ro.json; do
    "$HEAPLAB" run --repeat 1 --allocator glibc --json "$TMP/out/$target" -- /bin/true \
        >"$TMP/o" 2>"$TMP/e"; rc=$?
    check "run --json $target: exit 1" [ $rc -eq 1 ]
    check "run --json $target: one line naming the file" \
        bash -c "[ \$(wc -l <'$TMP/e') -eq 1 ] && grep -q '^heaplab: $TMP/out/$target: ' '$TMP/e'"
    check "run --json $target: nothing ran" [ ! -s "$TMP/o" ]
done
check "run --json: the read-only file is kept" [ "$(cat "$TMP/out/ro.json")" = keep ]
check "run --json: nothing left beside it" [ "$(ls "$TMP/out" | tr '\n' ' ')" = "regular ro.json " ]

# The probe's temporary file: in $TMPDIR, and gone after a run and after an interrupt. The
# program sends the signal itself, so heaplab is inside the run when it arrives.
mkdir -p "$TMP/tmpdir"
TMPDIR="$TMP/tmpdir" "$HEAPLAB" run --repeat 1 --allocator glibc -- /bin/true >/dev/null 2>&1
check "probe file removed after a run" [ -z "$(ls "$TMP/tmpdir")" ]
for sig in INT TERM; do
    rm -f "$TMP/probe_path"
    "$HEAPLAB" run --repeat 1 --allocator glibc -- /bin/sh -c \
        'echo "$HEAPLAB_PROBE_FILE" >"$0"; kill -'$sig' $PPID; sleep 30' "$TMP/probe_path" \
        >/dev/null 2>&1; rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    check "run interrupted by SIG$sig exits $want" [ $rc -eq "$want" ]
    check "run interrupted by SIG$sig: the probe ran" [ -s "$TMP/probe_path" ]
    check "run interrupted by SIG$sig: probe file removed" [ ! -e "$(cat "$TMP/probe_path")" ]
done
TMPDIR="$TMP/nodir" "$HEAPLAB" run --repeat 1 --allocator glibc -- /bin/true >/dev/null 2>"$TMP/e"
check "unusable TMPDIR: exit 1" [ $? -eq 1 ]
check "unusable TMPDIR: one line" bash -c "[ \$(wc -l <'$TMP/e') -eq 1 ] && grep -q '^heaplab: ' '$TMP/e'"

# Tables. One run has no spread; the lowest value of a row is marked * off a terminal too.
"$HEAPLAB" run --repeat 1 --allocator glibc,sys=/lib/x86_64-linux-gnu/libc.so.6 -- /bin/true \
    >"$TMP/t5" 2>&1
check "--repeat 1: no spread" bash -c "! grep -E '±|\\.\\.' '$TMP/t5'"
check "best marked * without a terminal" grep -qE "^(minor faults|wall, s|peak RSS, MiB) .*[0-9]\\*" "$TMP/t5"

# A count below 100 shows its range, not a relative spread that rounds to nonsense
# ("0 ±200%"). The program touches 0 pages, then 30 (a state file), so the runs differ;
# statically linked, so its faults stay well below 100.
cat >"$TMP/pf.c" <<'EOF'
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int touch = access(argv[1], F_OK) != 0 ? 30 : 0;
    if (touch) fclose(fopen(argv[1], "w")); else unlink(argv[1]);
    char *p = mmap(0, 64 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < touch; i++) p[i << 12] = 1;
    return argc < 2;
}
EOF
if cc -static -O1 -o "$TMP/pf" "$TMP/pf.c" 2>/dev/null; then
    "$HEAPLAB" run --repeat 2 --allocator glibc -- "$TMP/pf" "$TMP/pf.state" >"$TMP/t6" 2>&1
    check "small counts: minor faults as median (min..max)" \
        grep -qE "^minor faults +[0-9]+(\\.5)? \\([0-9]+\\.\\.[0-9]+\\)$" "$TMP/t6"
    check "small counts: no relative spread" bash -c "! grep -E '^minor faults.*%' '$TMP/t6'"
else
    skip "no static libc: the small-count table test"
fi
finish
