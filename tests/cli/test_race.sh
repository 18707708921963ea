#!/usr/bin/env bash
# heaplab race: usage errors, the leaderboard, invariants under --check on real workloads,
# and the tick file against docs/ticks.md.
source "$(dirname "$0")/lib.sh"

expect_usage "race without --workload" race
expect_usage "race unknown workload" race --workload nosuch
expect_usage "race unknown allocator" race --workload small --allocators bump,nosuch
expect_usage "race allocator twice" race --workload small --allocators bump,bump
expect_usage "race arena not a power of two" race --workload small --arena 3M
expect_usage "race arena too small" race --workload small --arena 32K
expect_usage "race arena too large" race --workload small --arena 2G
expect_usage "race bad ops" race --workload small --ops 0
expect_usage "race stray argument" race --workload small extra
expect_usage "race ticks and json the same file" race --workload small --ticks "$TMP/x" --json "$TMP/x"
check "race --help exits 0" bash -c "'$HEAPLAB' race --help | grep -q -- --ticks"
check "list lab names the six" bash -c "[ \$('$HEAPLAB' list lab | grep -c ' yes ') -eq 6 ]"

# The leaderboard has every default allocator, and --check finds no broken invariant on a
# spread of workloads (every op, every allocator).
for w in adversarial nginx-requests fragmentation mixed webserver producer-consumer; do
    "$HEAPLAB" race --workload "$w" --ops 6000 --check >"$TMP/lb" 2>"$TMP/err"; rc=$?
    check "race $w --check exits 0" [ $rc -eq 0 ]
    for a in bump firstfit segfit buddy slab span; do
        check "race $w lists $a" grep -q "^$a " "$TMP/lb"
    done
    check "race $w: nothing broken" bash -c "! grep -q BROKEN '$TMP/lb'"
done
"$HEAPLAB" race --workload small --ops 3000 --check \
    --allocators firstfit,firstfit-next,firstfit-best >"$TMP/lb" 2>&1
check "race firstfit policies --check" [ $? -eq 0 ]

# A small arena: failures are counted, nothing crashes.
"$HEAPLAB" race --workload adversarial --ops 20000 --arena 64K --json "$TMP/lb.json" \
    >"$TMP/lb" 2>"$TMP/err"
check "race in a 64 KiB arena exits 0" [ $? -eq 0 ]
check "race JSON validates (race-1.schema.json)" validate race-1.schema.json "$TMP/lb.json"
check "race in a 64 KiB arena counts failures" python3 -c "
import json, sys
d = json.load(open('$TMP/lb.json'))
sys.exit(0 if all(a['failures'] > 0 for a in d['leaderboard']) and d['arena_bytes'] == 65536 else 1)"

# Ticks: a multi-MiB arena (downsampled map) and a 2 MiB one (one cell per 32 B).
"$HEAPLAB" race --workload nginx-requests --ops 20000 --tick-every 2500 --ticks "$TMP/t1" \
    --quiet >"$TMP/out" 2>"$TMP/err"
check "race --ticks exits 0" [ $? -eq 0 ]
check "race --quiet prints nothing" [ ! -s "$TMP/out" ]
check "ticks file valid (nginx-requests)" python3 "$TESTS_DIR/cli/check_ticks.py" "$TMP/t1"
check "ticks: header, 9 ticks, end" [ "$(wc -l <"$TMP/t1")" -eq 11 ]
check "ticks: every line validates (ticks-2.schema.json)" /usr/bin/python3 \
    "$TESTS_DIR/cli/validate_json.py" --lines "$ROOT/docs/schema/ticks-2.schema.json" "$TMP/t1"
check "ticks: the header names its schema like every results file" python3 -c "
import json; h = json.loads(open('$TMP/t1').readline())
assert h['schema'] == 'heaplab.ticks/2' and 'format' not in h and h['tool']['name'] == 'heaplab'"
"$HEAPLAB" race --workload small --ops 5000 --arena 2M --ticks "$TMP/t2" --quiet 2>"$TMP/err"
check "ticks file valid (small, 2 MiB)" python3 "$TESTS_DIR/cli/check_ticks.py" "$TMP/t2"
check "ticks: 65536 cells of 32 B" python3 -c "
import json; h = json.loads(open('$TMP/t2').readline())
assert h['cells'] == 65536 and h['cell_bytes'] == 32"

# --ticks or --json that cannot be written: one line naming the file, exit 1, before
# anything runs (no leaderboard, and the other file is not written), nothing left behind,
# and a read-only file is not replaced. As root too: the mode is what counts.
mkdir -p "$TMP/dest"
touch "$TMP/dest/regular"
echo keep >"$TMP/dest/ro"
chmod 444 "$TMP/dest/ro"
for opt in --ticks --json; do
    other=$([ $opt = --ticks ] && echo --json || echo --ticks)
    for target in nodir/f regular/f ro; do
        "$HEAPLAB" race --workload small --ops 1000 $opt "$TMP/dest/$target" $other "$TMP/dest/other" \
            >"$TMP/o" 2>"$TMP/e"; rc=$?
        check "race $opt $target: exit 1" [ $rc -eq 1 ]
        check "race $opt $target: one line naming the file" \
            bash -c "[ \$(wc -l <'$TMP/e') -eq 1 ] && grep -q '^heaplab: $TMP/dest/$target: ' '$TMP/e'"
        check "race $opt $target: nothing ran" [ ! -s "$TMP/o" ]
        check "race $opt $target: no $other file" [ ! -e "$TMP/dest/other" ]
    done
done
check "race: the read-only file is kept" [ "$(cat "$TMP/dest/ro")" = keep ]
check "race: nothing left beside it" [ "$(ls "$TMP/dest" | tr '\n' ' ')" = "regular ro " ]

# heaplab bench runs lab allocators in-process: valid results, in the same tables.
"$HEAPLAB" bench --workload small,nginx-requests --allocator glibc,lab:vt-glibc,lab:segfit,lab:span \
    --ops 20000 --repeat 1 --json "$TMP/b.json" >"$TMP/b.out" 2>"$TMP/err"
check "bench with lab allocators exits 0" [ $? -eq 0 ]
check "bench lab results validate" validate results-2.schema.json "$TMP/b.json"
check "bench table has lab:segfit" grep -q "lab:segfit" "$TMP/b.out"
check "bench lab runs succeeded" python3 -c "
import json, sys
d = json.load(open('$TMP/b.json'))
ok = [r for r in d['results'] if r['allocator'].startswith('lab:') and r['runs_ok'] > 0]
sys.exit(0 if len(ok) == 6 else 1)"
expect_usage "bench unknown lab allocator" bench --workload small --allocator lab:nosuch
expect_usage "bench lab with 2 threads" bench --workload small --allocator lab:bump --threads 2 \
    --ops 1000 --repeat 1
check "bench lab with 2 threads says single-threaded" grep -q "single-threaded" "$TMP/err"

finish
