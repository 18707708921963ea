#!/usr/bin/env bash
# heaplab compare (docs/compare.md): two synthetic results files made from a real small bench
# run (tests/cli/synth_results.py) with a known regression, a known improvement, a known
# change within the threshold and known no-changes; a real pair of bench runs (timing noise:
# structure only); run results; and one line, exit 1, for every kind of bad input.
source "$(dirname "$0")/lib.sh"

"$HEAPLAB" bench --workload small,single-size --allocator glibc,hlmalloc --ops 2000 --repeat 5 \
    --no-latency --json "$TMP/real1.json" --quiet 2>"$TMP/err"
check "bench (1) exits 0" [ $? -eq 0 ]
"$HEAPLAB" bench --workload small,single-size --allocator glibc,hlmalloc --ops 2000 --repeat 5 \
    --json "$TMP/real2.json" --quiet 2>"$TMP/err"
check "bench (2) exits 0" [ $? -eq 0 ]
python3 "$TESTS_DIR/cli/synth_results.py" "$TMP/real2.json" "$TMP/base.json" "$TMP/new.json"
check "synthetic files made" [ -s "$TMP/base.json" ] && [ -s "$TMP/new.json" ]
check "synthetic base validates" validate results-2.schema.json "$TMP/base.json"

# --- the synthetic pair ---------------------------------------------------------------
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --json "$TMP/cmp.json" >"$TMP/out" 2>"$TMP/err"
check "synthetic: exits 0" [ $? -eq 0 ]
check "synthetic: nothing on stderr" [ ! -s "$TMP/err" ]
check "synthetic: one worse, one better" grep -q "4 cells in both: 1 worse, 1 better" "$TMP/out"
check "synthetic: the regression is named" \
    grep -q "^  small, 1 thread, glibc: throughput -20.0% (10.00 -> 8.00 Mops/s, p 0.008)" "$TMP/out"
check "synthetic: the improvement is named" \
    grep -q "^  small, 1 thread, hlmalloc: peak RSS -30.0% (1.00 -> 0.700 MiB, p 0.008)" "$TMP/out"
check "synthetic: a significant change within 5% is marked but has no verdict" \
    grep -Eq "^small +1 hlmalloc +10.00 ±4% +10.45 ±4% +\+4.5%\* +0.008 *$" "$TMP/out"
check "synthetic: an unchanged cell has p 1 and no verdict" \
    grep -Eq "^single-size +1 glibc +10.00 ±4% +10.00 ±4% +\+0.0% +1.000 *$" "$TMP/out"
check "synthetic: three tables" [ "$(grep -c '^workload ' "$TMP/out")" -eq 3 ]
check "synthetic: the JSON validates" validate compare-1.schema.json "$TMP/cmp.json"
check "synthetic: the JSON's verdicts" python3 - "$TMP/cmp.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = {(r["workload"], r["threads"], r["allocator"], r["metric"]): r for r in d["rows"]}
ok = (d["worse"] == 1 and d["better"] == 1 and len(d["rows"]) == 12
      and v[("small", 1, "glibc", "ops_per_sec")]["verdict"] == "worse"
      and v[("small", 1, "hlmalloc", "peak_rss_bytes")]["verdict"] == "better"
      and v[("small", 1, "hlmalloc", "ops_per_sec")]["significant"] is True
      and v[("small", 1, "hlmalloc", "ops_per_sec")]["verdict"] == "same"
      and abs(v[("small", 1, "glibc", "ops_per_sec")]["change"] + 0.2) < 1e-9
      and all(r["verdict"] == "same" and r["p"] == 1 for k, r in v.items() if k[0] == "single-size"))
sys.exit(0 if ok else 1)
PY
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --fail-on-regression >/dev/null 2>&1
check "synthetic: --fail-on-regression exits 1" [ $? -eq 1 ]
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --fail-on-regression --threshold 25 \
    >"$TMP/out" 2>&1
check "synthetic: a 25% threshold leaves the 20% regression without a verdict (exit 0)" [ $? -eq 0 ]
check "synthetic: 25% threshold: only the improvement" grep -q "0 worse, 1 better" "$TMP/out"
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --alpha 0.005 >"$TMP/out" 2>&1
check "synthetic: at alpha 0.005 5 repetitions can never be significant" \
    grep -q "0 worse, 0 better" "$TMP/out"
"$HEAPLAB" compare "$TMP/base.json" "$TMP/base.json" --fail-on-regression >"$TMP/out" 2>&1
check "a file against itself: exit 0" [ $? -eq 0 ]
check "a file against itself: no verdict, no '*'" \
    sh -c "grep -q '0 worse, 0 better' '$TMP/out' && ! grep -q '%\*' '$TMP/out'"
NO_COLOR= "$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" >"$TMP/out" 2>&1
check "not a terminal: no colour codes" sh -c "! grep -q $'\033' '$TMP/out'"

# --- --relative-to: each run divided by glibc's run of the same repetition ---------------
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --relative-to glibc --json "$TMP/rel.json" \
    >"$TMP/out" 2>"$TMP/err"
check "relative: exits 0" [ $? -eq 0 ]
check "relative: the heading says so" \
    grep -q "^Throughput as a multiple of glibc's run of the same repetition (higher is better)" \
    "$TMP/out"
check "relative: glibc's own rows are the reference" \
    grep -Eq "^small +1 glibc +1.000 ±0% +1.000 ±0% +- +- +reference" "$TMP/out"
check "relative: peak RSS stays as measured" grep -q "^Peak RSS above baseline, MiB" "$TMP/out"
check "relative: the JSON validates" validate compare-1.schema.json "$TMP/rel.json"
check "relative: the JSON names the reference" python3 -c "
import json, sys
d = json.load(open('$TMP/rel.json'))
rows = [r for r in d['rows'] if r['metric'] == 'ops_per_sec' and r['allocator'] == 'hlmalloc']
sys.exit(0 if d['relative_to'] == 'glibc' and rows and all(r['relative'] for r in rows) else 1)"
python3 - "$TMP/base.json" "$TMP/slow.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for cell in d["results"]:
    for run in cell["runs"]:
        if run.get("status") == "ok":
            run["ops_per_sec"] *= 0.5  # the whole machine at half speed
json.dump(d, open(sys.argv[2], "w"))
PY
"$HEAPLAB" compare "$TMP/base.json" "$TMP/slow.json" >"$TMP/out" 2>&1
check "drift: every allocator at half speed gets the note" \
    grep -q "^note: 4 of 4 throughput rows went down, over 2 allocators: the machine" "$TMP/out"
"$HEAPLAB" compare "$TMP/base.json" "$TMP/slow.json" --relative-to glibc >"$TMP/out" 2>&1
check "drift: relative to glibc, no note and no verdict" \
    sh -c "! grep -q '^note:' '$TMP/out' && grep -q '0 worse, 0 better' '$TMP/out'"
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --relative-to nosuch >"$TMP/out" 2>"$TMP/err"
check "relative: an allocator not in the files exits 1" [ $? -eq 1 ]
check "relative: one line naming it" \
    sh -c "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q 'relative-to nosuch' '$TMP/err'"
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --relative-to '' >/dev/null 2>&1
check "relative: an empty name is a usage error (2)" [ $? -eq 2 ]

# --- a real pair (same seed): the structure, not the verdicts ---------------------------
"$HEAPLAB" compare "$TMP/real1.json" "$TMP/real2.json" --json "$TMP/real.json" >"$TMP/out" \
    2>"$TMP/err"
check "real pair: exits 0" [ $? -eq 0 ]
check "real pair: 4 cells" grep -q "^4 cells in both" "$TMP/out"
check "real pair: no latency in the first file: its p99 rows are untested" \
    python3 -c "
import json, sys
d = json.load(open('$TMP/real.json'))
lat = [r for r in d['rows'] if r['metric'] == 'malloc_p99_ns']
sys.exit(0 if len(lat) == 4 and all(r['verdict'] == 'untested' and r['p'] is None for r in lat) else 1)"
check "real pair: the JSON validates" validate compare-1.schema.json "$TMP/real.json"

# --- run results ------------------------------------------------------------------------
for n in 1 2; do
    "$HEAPLAB" run --allocator glibc,hlmalloc --repeat 3 --json "$TMP/run$n.json" -- /bin/true \
        >/dev/null 2>&1
done
"$HEAPLAB" compare "$TMP/run1.json" "$TMP/run2.json" >"$TMP/out" 2>&1
check "run results: exit 0" [ $? -eq 0 ]
check "run results: wall time and peak RSS" \
    sh -c "grep -q '^Wall time, s' '$TMP/out' && grep -q '^Peak RSS, MiB' '$TMP/out'"
check "run results: 2 cells" grep -q "^2 cells in both" "$TMP/out"

# --- bad input: one line each, exit 1 (2 for usage) ----------------------------------------
one_line() { # NAME FILE: compare base.json FILE fails with one line naming FILE
    "$HEAPLAB" compare "$TMP/base.json" "$2" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    check "$1: exit 1" [ $rc -eq 1 ]
    check "$1: one line on stderr" [ "$(wc -l <"$TMP/err")" -eq 1 ]
    check "$1: the line names the file" grep -qF "$2" "$TMP/err"
    check "$1: nothing on stdout" [ ! -s "$TMP/out" ]
}
head -c 2000 "$TMP/base.json" >"$TMP/trunc.json"
echo "not json" >"$TMP/text.json"
: >"$TMP/empty.json"
sed 's|"heaplab.results/[12]"|"heaplab.results/3"|' "$TMP/base.json" >"$TMP/v2.json"
python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
d = json.load(open(t + "/base.json"))
d["results"] = []
json.dump(d, open(t + "/noresults.json", "w"))
d = json.load(open(t + "/base.json"))
for c in d["results"]:
    c["workload"] = "other-" + c["workload"]
json.dump(d, open(t + "/disjoint.json", "w"))
PY
"$HEAPLAB" race --workload small --ops 2000 --allocators bump,buddy --json "$TMP/race.json" \
    --ticks "$TMP/race.ticks" --quiet 2>/dev/null
one_line "missing file" "$TMP/nope.json"
one_line "truncated" "$TMP/trunc.json"
check "truncated: says so" grep -q "truncated" "$TMP/err"
one_line "not JSON" "$TMP/text.json"
check "not JSON: says so" grep -q "not JSON (line 1" "$TMP/err"
one_line "empty file" "$TMP/empty.json"
one_line "newer version" "$TMP/v2.json"
check "newer version: says so" grep -q "heaplab.results/3 is newer" "$TMP/err"
one_line "empty results" "$TMP/noresults.json"
check "empty results: says so" grep -q "no results: the results array is empty" "$TMP/err"
one_line "a tick file" "$TMP/race.ticks"
one_line "a race" "$TMP/race.json"
one_line "run against bench" "$TMP/run1.json"
"$HEAPLAB" compare "$TMP/base.json" "$TMP/disjoint.json" >"$TMP/out" 2>"$TMP/err"
check "no shared cell: exit 1" [ $? -eq 1 ]
check "no shared cell: one line" [ "$(wc -l <"$TMP/err")" -eq 1 ]
check "no shared cell: says so" grep -q "share no cell" "$TMP/err"
expect_usage "one file" compare "$TMP/base.json"
expect_usage "three files" compare "$TMP/base.json" "$TMP/base.json" "$TMP/base.json"
expect_usage "bad threshold" compare "$TMP/base.json" "$TMP/new.json" --threshold -1
expect_usage "bad alpha" compare "$TMP/base.json" "$TMP/new.json" --alpha 0.9
"$HEAPLAB" compare "$TMP/base.json" "$TMP/new.json" --json /nonexistent/dir/c.json >/dev/null 2>&1
check "unwritable --json: exit 1" [ $? -eq 1 ]
finish
