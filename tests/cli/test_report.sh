#!/usr/bin/env bash
# heaplab report and bench --report (docs/report.md): the page of a small real bench run is
# well-formed HTML (tests/cli/check_report_html.py: an HTML parser with a stack of open
# elements), inlines the viewer's assets in table order, names every allocator and workload,
# loads nothing and has no URL, and stays under 2 MB; bench --report writes the same page;
# two files are compared; run, race and merged results of two machines are shown; the inside
# sections (heap maps, statistics, OS calls) are the results', and a heap too large for the
# page is downsampled within its budget; and every kind of bad input is one line, exit 1 (2
# for usage), with nothing written. The page in a browser is web/test/report.mjs's.
source "$(dirname "$0")/lib.sh"
SITE=$(dirname "$HEAPLAB")/web/site
CHECK="$TESTS_DIR/cli/check_report_html.py"
ALLOCS=glibc,jemalloc,hlmalloc
WLS=small,bulk,fragmentation

# --- a small real bench run, its report and bench --report ------------------------------
"$HEAPLAB" bench -w $WLS -a $ALLOCS -t 1,2 -r 3 -n 20k --json "$TMP/b.json" \
    --report "$TMP/direct.html" --quiet >"$TMP/bench.out" 2>"$TMP/err"
check "bench --report exits 0" [ $? -eq 0 ]
check "bench --report prints the report's path" grep -q "^report: $TMP/direct.html ([0-9.]* KiB)$" "$TMP/bench.out"
check "bench --report's page checks out" python3 "$CHECK" "$TMP/direct.html" --site "$SITE" \
    --allocators $ALLOCS --workloads $WLS --kinds bench

"$HEAPLAB" report "$TMP/b.json" -o "$TMP/r.html" >"$TMP/out" 2>"$TMP/err"
check "report exits 0" [ $? -eq 0 ]
check "report: nothing on stderr" [ ! -s "$TMP/err" ]
check "report prints its path and size" grep -q "^report: $TMP/r.html ([0-9.]* KiB)$" "$TMP/out"
check "the page checks out (HTML, assets, allocators, workloads, no URL, < 2 MB)" \
    python3 "$CHECK" "$TMP/r.html" --site "$SITE" --allocators $ALLOCS --workloads $WLS --kinds bench
check "the page names the file in its title" grep -q "<title>heaplab report: b.json</title>" "$TMP/r.html"
check "the data: a cell per (workload, threads, allocator), metrics as [median, min, max, n]" \
    python3 - "$TMP/r.html" "$TMP/b.json" <<'PY'
import json, re, sys, statistics
page = open(sys.argv[1]).read()
data = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))
res = json.load(open(sys.argv[2]))
ok = len(data["cells"]) == len(res["results"]) == 18
for c, r in zip(data["cells"], res["results"]):
    runs = [x["ops_per_sec"] for x in r["runs"] if x["status"] == "ok"]
    if not runs:
        continue
    med, lo, hi, n = c["s"]["ops_per_sec"]
    ok &= n == len(runs) and abs(med / statistics.median(runs) - 1) < 1e-5
    ok &= abs(lo / min(runs) - 1) < 1e-5 and abs(hi / max(runs) - 1) < 1e-5
sys.exit(0 if ok else 1)
PY
cp "$TMP/r.html" "$TMP/r.before"
"$HEAPLAB" report -o "$TMP/r.html" "$TMP/b.json" >/dev/null 2>&1
check "options may come first; an existing report is replaced" [ $? -eq 0 ]

# --- two files: the comparison (the synthetic pair of test_compare.sh) --------------------
"$HEAPLAB" bench --workload small,single-size --allocator glibc,hlmalloc --ops 2000 --repeat 5 \
    --json "$TMP/real.json" --quiet 2>"$TMP/err"
check "bench (5 repetitions) exits 0" [ $? -eq 0 ]
python3 "$TESTS_DIR/cli/synth_results.py" "$TMP/real.json" "$TMP/base.json" "$TMP/new.json"
"$HEAPLAB" report "$TMP/base.json" "$TMP/new.json" -o "$TMP/cmp.html" >"$TMP/out" 2>"$TMP/err"
check "two files: exit 0" [ $? -eq 0 ]
check "two files: the page checks out, with a comparison" python3 "$CHECK" "$TMP/cmp.html" \
    --site "$SITE" --allocators glibc,hlmalloc --workloads small,single-size --compare
check "two files: compare's verdicts" python3 - "$TMP/cmp.html" <<'PY'
import json, re, sys
page = open(sys.argv[1]).read()
c = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))["compare"]
v = {(r["workload"], r["threads"], r["allocator"], r["metric"]): r["verdict"] for r in c["rows"]}
ok = (c["worse"] == 1 and c["better"] == 1 and c["test"] == "mann-whitney-u"
      and v[("small", 1, "glibc", "ops_per_sec")] == "worse"
      and v[("small", 1, "hlmalloc", "peak_rss_bytes")] == "better"
      and [m["key"] for m in c["metrics"]] == ["ops_per_sec", "malloc_p99_ns", "peak_rss_bytes"])
sys.exit(0 if ok else 1)
PY
"$HEAPLAB" report "$TMP/base.json" "$TMP/new.json" -o "$TMP/cmp25.html" --threshold 25 >/dev/null 2>&1
check "two files, --threshold 25: the 20% regression has no verdict" python3 - "$TMP/cmp25.html" <<'PY'
import json, re, sys
page = open(sys.argv[1]).read()
c = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))["compare"]
sys.exit(0 if c["worse"] == 0 and c["threshold"] == 0.25 else 1)
PY

# --- run and race results, and two machines ------------------------------------------------
"$HEAPLAB" run -a glibc,hlmalloc -r 2 --json "$TMP/run.json" -- /bin/true >/dev/null 2>&1
check "run exits 0" [ $? -eq 0 ]
"$HEAPLAB" race -w fragmentation -n 20000 --json "$TMP/race.json" -q >/dev/null 2>&1
check "race exits 0" [ $? -eq 0 ]
"$HEAPLAB" report "$TMP/b.json" "$TMP/run.json" "$TMP/race.json" -o "$TMP/all.html" >/dev/null 2>"$TMP/err"
check "bench, run and race together: exit 0" [ $? -eq 0 ]
check "bench, run and race together: each shown" python3 "$CHECK" "$TMP/all.html" --site "$SITE" \
    --allocators glibc,hlmalloc,bump,buddy --kinds bench,run,race
"$HEAPLAB" report "$TMP/run.json" "$TMP/race.json" -o "$TMP/two.html" >/dev/null 2>"$TMP/err"
check "a race among two files is shown, not compared" python3 "$CHECK" "$TMP/two.html" --kinds run,race
python3 - "$TMP/b.json" "$TMP/b2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["machine"]["hostname"] = "other-host"
d["machine"]["cores"] = 64
json.dump(d, open(sys.argv[2], "w"))
PY
"$HEAPLAB" merge "$TMP/b.json" "$TMP/b2.json" -o "$TMP/set.json" 2>"$TMP/err"
"$HEAPLAB" report "$TMP/set.json" -o "$TMP/set.html" >/dev/null 2>"$TMP/err"
check "a merged set of two machines: exit 0" [ $? -eq 0 ]
check "a merged set of two machines: grouped by machine" python3 "$CHECK" "$TMP/set.html" --machines 2
"$HEAPLAB" report "$TMP/b.json" "$TMP/b2.json" "$TMP/run.json" -o "$TMP/m3.html" >/dev/null 2>"$TMP/err"
check "three files of two machines: grouped by machine" python3 "$CHECK" "$TMP/m3.html" --machines 2

# --- replay results: a recorded trace as the workload -----------------------------------
"$HEAPLAB" record -o "$TMP/ls.trace" -- /bin/ls -la / >/dev/null 2>&1
"$HEAPLAB" replay "$TMP/ls.trace" -a glibc,hlmalloc -r 2 --report "$TMP/replay.html" -q \
    >"$TMP/out" 2>"$TMP/err"
check "replay --report: exit 0" [ $? -eq 0 ]
check "replay --report: the page checks out" python3 "$CHECK" "$TMP/replay.html" --site "$SITE" \
    --allocators glibc,hlmalloc --workloads "trace:$TMP/ls.trace" --kinds bench
check "replay --report: the replay's counts are in the data" python3 - "$TMP/replay.html" <<'PY'
import json, re, sys
page = open(sys.argv[1]).read()
data = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))
sys.exit(0 if all(c["replay"]["events"] > 0 for c in data["cells"]) else 1)
PY

# --- inside the allocators: heap maps, statistics and OS calls (docs/report.md) -----------
# known-live at "holes": every other page of 4096-byte blocks on their own pages is live,
# so its map has exactly live_bytes / 4096 full squares and none partly live.
"$HEAPLAB" bench -w known-live,fragmentation -a glibc,jemalloc -t 1 -r 1 -n 3000 --heapmap \
    --alloc-stats --os-calls --json "$TMP/in.json" -q >/dev/null 2>"$TMP/err"
check "bench --heapmap --alloc-stats --os-calls exits 0" [ $? -eq 0 ]
"$HEAPLAB" report "$TMP/in.json" -o "$TMP/in.html" >/dev/null 2>"$TMP/err"
check "report of inside data: exit 0" [ $? -eq 0 ]
check "report of inside data: the page checks out" python3 "$CHECK" "$TMP/in.html" --site "$SITE" \
    --allocators glibc,jemalloc --workloads known-live,fragmentation --kinds bench
check "report of inside data: heap maps, statistics and OS calls are the results'" \
    python3 - "$TMP/in.html" "$TMP/in.json" <<'PY2'
import json, re, sys
page = open(sys.argv[1]).read()
data = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))
res = json.load(open(sys.argv[2]))
def squares(text):
    out = {}
    for n, l in re.findall(r'(\d*)([A-Ia-ip-x-])', text):
        if l != '-': out[l] = out.get(l, 0) + (int(n) if n else 1)
    return out
ok = len(data["cells"]) == len(res["results"]) == 4
for c, r in zip(data["cells"], res["results"]):
    ins = c["inside"]
    hm, st, os_ = ins["heapmap"], ins["stats"], ins["os"]
    ok &= len(hm["snaps"]) == len(r["heapmap"]["snapshots"]) > 0
    for s, rs in zip(hm["snaps"], r["heapmap"]["snapshots"]):
        ok &= s["live"] == rs["live_bytes"] and s["label"] == rs["label"] and s["f"] == 1
        ok &= s["counts"] == [rs["cells"][k] for k in ("not_resident", "empty", "sparse", "dense")]
        if c["workload"] == "known-live" and s["label"] in ("filled", "holes"):
            sq = {}
            for reg in s["regions"]:
                for l, n in squares(reg[3]).items(): sq[l] = sq.get(l, 0) + n
            ok &= sq.get("i", 0) == s["live"] // 4096 and s["live"] % 4096 == 0
            ok &= not any(sq.get(l) for l in "bcdefgh")
    for s, rs in zip(st["snaps"], r["alloc_stats"]["snapshots"]):
        for k in ("allocated_bytes", "active_bytes", "metadata_bytes", "thread_cache_bytes"):
            ok &= s[k] == rs[k]  # null stays null: "not exposed"
    for k, v in r["os_calls"]["calls"].items():
        ok &= os_["calls"][k][:2] == [v["count"], v["time_ns"]]
    ok &= os_["by"]["madvise"] == {a: v["count"] for a, v in r["os_calls"]["calls"]["madvise"]["by_advice"].items()}
ok &= any(s["active_bytes"] is None for c in data["cells"] for s in c["inside"]["stats"]["snaps"])
sys.exit(0 if ok else 1)
PY2
# A heap too large for the page: every region made 200,000 cells of random buckets (worst
# for run-length encoding). Each snapshot is drawn with squares of 2^k cells within its share,
# the page keeps its budget for heap maps (1 MiB) and its cap, and the totals stay exact.
python3 - "$TMP/in.json" "$TMP/big.json" <<'PY2'
import json, random, sys
random.seed(3)
d = json.load(open(sys.argv[1]))
for c in d["results"]:
    for s in c["heapmap"]["snapshots"]:
        for r in s["regions"]:
            r["cells"] = "".join(random.choice("abcdefghiA") for _ in range(200000))
json.dump(d, open(sys.argv[2], "w"))
PY2
"$HEAPLAB" report "$TMP/big.json" -o "$TMP/big.html" >/dev/null 2>"$TMP/err"
check "a heap too large for the page: exit 0" [ $? -eq 0 ]
check "a heap too large for the page: downsampled within the budget, under 2 MB, totals exact" \
    python3 - "$TMP/big.html" "$TMP/big.json" <<'PY2'
import json, os, re, sys
page = open(sys.argv[1]).read()
data = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))
res = json.load(open(sys.argv[2]))
total, ok = 0, os.path.getsize(sys.argv[1]) < 2 * 1000 * 1000
for c, r in zip(data["cells"], res["results"]):
    for s, rs in zip(c["inside"]["heapmap"]["snaps"], r["heapmap"]["snapshots"]):
        n = sum(sum(int(k) if k else 1 for k, l in re.findall(r'(\d*)([A-Ia-ip-x])', reg[3])) for reg in s["regions"])
        cells = 200000 * len(rs["regions"])
        ok &= s["f"] > 1 and n <= 16384 and n >= cells / s["f"] / 2 and s["live"] == rs["live_bytes"]
        total += sum(len(reg[3]) + 40 for reg in s["regions"])
ok &= total <= (1 << 20)
sys.exit(0 if ok else 1)
PY2

# Statistics and OS calls too large for the page: every statistics snapshot given 5,000 size
# classes, every cell's madvise 2,000 kinds of advice. Each part keeps to its cap
# (REPORT_STATS_BYTES 512 KiB, REPORT_OS_BYTES 96 KiB, as compact JSON), what is left out
# says so (what a snapshot leaves unused goes to those after it, so the last ones keep their
# classes), every snapshot keeps its label and ops, and the page stays under 2 MB.
python3 - "$TMP/in.json" "$TMP/many.json" <<'PY2'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["results"]:
    for s in c["alloc_stats"]["snapshots"]:
        s["classes"] = [{"size_bytes": 16 * (i + 1), "objects_live": i % 7, "capacity": 8}
                        for i in range(5000)]
    m = c["os_calls"]["calls"]["madvise"]
    m["by_advice"] = {"advice%d" % i: {"count": i} for i in range(2000)}
json.dump(d, open(sys.argv[2], "w"))
PY2
"$HEAPLAB" report "$TMP/many.json" -o "$TMP/many.html" >/dev/null 2>"$TMP/err"
check "statistics and OS calls too large for the page: exit 0" [ $? -eq 0 ]
check "statistics and OS calls too large for the page: each within its cap, under 2 MB" \
    python3 - "$TMP/many.html" "$TMP/many.json" <<'PY2'
import json, os, re, sys
page = open(sys.argv[1]).read()
data = json.loads(re.search(r'id="heaplab-results">(.*?)</script>', page, re.S).group(1))
res = json.load(open(sys.argv[2]))
compact = lambda x: len(json.dumps(x, separators=(",", ":")))
snaps = [s for c in data["cells"] for s in c["inside"]["stats"]["snaps"]]
oses = [c["inside"]["os"] for c in data["cells"]]
ok = os.path.getsize(sys.argv[1]) < 2 * 1000 * 1000
ok &= sum(compact(s) for s in snaps) <= 512 * 1024
ok &= sum(compact(o) for o in oses if o["status"] == "ok") <= 96 * 1024
ok &= any(s["classes"] is not None and len(s["classes"]["fill"]) == 5000 for s in snaps)
ok &= any("capped" in s for s in snaps) and all("capped" in s for s in snaps if s.get("classes") is None)
ok &= [(s["label"], s["ops"]) for s in snaps] == \
    [(s["label"], s["ops"]) for c in res["results"] for s in c["alloc_stats"]["snapshots"]]
ok &= oses[0]["status"] == "ok" and len(oses[0]["by"]["madvise"]) == 2000
ok &= any(o["status"] == "capped" and "budget" in o["note"] for o in oses)
sys.exit(0 if ok else 1)
PY2

# --- bad input: one line, exit 1, nothing written; usage: exit 2 --------------------------
# expect_fail NAME PATTERN ARGS...: report ARGS -o $TMP/bad.html exits 1 with one line
# matching PATTERN, and leaves no file.
expect_fail() {
    local name=$1 pattern=$2
    shift 2
    rm -f "$TMP/bad.html"
    "$HEAPLAB" report "$@" -o "$TMP/bad.html" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    check "$name: exit 1" [ $rc -eq 1 ]
    check "$name: one line" [ "$(wc -l <"$TMP/err")" -eq 1 ]
    check "$name: says why" grep -Eq "^heaplab: $pattern" "$TMP/err"
    check "$name: nothing written" [ ! -e "$TMP/bad.html" ] && [ ! -s "$TMP/out" ]
    check "$name: no temporary file left" [ -z "$(ls "$TMP" | grep 'bad.html.tmp')" ]
}
"$HEAPLAB" race -w small -n 2000 --ticks "$TMP/t.ticks" -q >/dev/null 2>&1
expect_fail "a tick file" ".*t.ticks: .*tick file" "$TMP/t.ticks"
sed 's/"heaplab.results\/[12]"/"heaplab.results\/3"/' "$TMP/b.json" >"$TMP/v2.json"
expect_fail "a newer version" ".*v2.json: heaplab.results/3 is newer than this heaplab reads" "$TMP/v2.json"
sed 's/"heaplab.results\/[12]"/"heaplab.compare\/1"/' "$TMP/b.json" >"$TMP/other.json"
expect_fail "another schema" ".*other.json: .*heaplab.compare/1" "$TMP/other.json"
head -c 5000 "$TMP/b.json" >"$TMP/trunc.json"
expect_fail "a truncated file" ".*trunc.json: truncated" "$TMP/trunc.json"
printf 'this is not json\n' >"$TMP/text.json"
expect_fail "not JSON" ".*text.json: not JSON" "$TMP/text.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["results"]=[]; json.dump(d,open(sys.argv[2],"w"))' \
    "$TMP/b.json" "$TMP/empty.json"
expect_fail "an empty results array" ".*empty.json: no results" "$TMP/empty.json"
expect_fail "a missing file" ".*nope.json: " "$TMP/nope.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for c in d["results"]: c["workload"] = "x-" + c["workload"]
json.dump(d,open(sys.argv[2],"w"))' "$TMP/b.json" "$TMP/nocommon.json"
expect_fail "two files that share no cell" ".*share no cell" "$TMP/b.json" "$TMP/nocommon.json"
expect_fail "two files of different kinds" ".*nothing to compare" "$TMP/b.json" "$TMP/run.json"
rm -f "$TMP/bad.html"
"$HEAPLAB" report "$TMP/b.json" -o "$TMP/no/such/dir/r.html" >"$TMP/out" 2>"$TMP/err"
check "an output directory that does not exist: exit 1" [ $? -eq 1 ]
check "an output directory that does not exist: one line" [ "$(wc -l <"$TMP/err")" -eq 1 ]
printf 'keep' >"$TMP/ro.html"
chmod a-w "$TMP/ro.html"
"$HEAPLAB" report "$TMP/b.json" -o "$TMP/ro.html" >/dev/null 2>"$TMP/err"
check "a read-only output: exit 1, left as it was" [ $? -eq 1 ] && [ "$(cat "$TMP/ro.html")" = keep ]
expect_usage "no files" report
expect_usage "a bad --threshold" report "$TMP/b.json" --threshold x
expect_usage "a bad --alpha" report "$TMP/b.json" --alpha 2
expect_usage "an unknown option" report "$TMP/b.json" --nope
expect_usage "bench: --report and --json the same file" bench -w small -n 100 -r 1 \
    --json "$TMP/same" --report "$TMP/same"
rm -f "$TMP/direct2.html"
"$HEAPLAB" bench -w small -a glibc -n 100 -r 1 --report "$TMP/no/such/dir/x.html" -q >/dev/null 2>"$TMP/err"
check "bench --report into a missing directory: exit 1 before any run" [ $? -eq 1 ] && \
    grep -q "no/such/dir" "$TMP/err"
finish
