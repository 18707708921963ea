#!/usr/bin/env bash
# heaplab merge (docs/results.md, "heaplab.results-set/1"): results of several machines into
# one document keyed by machine that validates against its schema and loses no run: as many
# documents and runs as the inputs, each document equal to its file; sets flatten; bad input
# is one line, exit 1, and no file.
source "$(dirname "$0")/lib.sh"

"$HEAPLAB" bench --workload small --threads 1,2 --allocator glibc,hlmalloc --ops 2000 \
    --repeat 2 --no-latency --json "$TMP/a.json" --quiet 2>/dev/null
check "bench exits 0" [ $? -eq 0 ]
"$HEAPLAB" run --allocator glibc --repeat 2 --json "$TMP/run.json" -- /bin/true >/dev/null 2>&1
check "run exits 0" [ $? -eq 0 ]
"$HEAPLAB" race --workload small --ops 2000 --allocators bump,buddy --json "$TMP/race.json" \
    --quiet 2>/dev/null
check "race exits 0" [ $? -eq 0 ]
# Two other machines: b (another hostname), c (this hostname, another CPU).
python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
a = json.load(open(t + "/a.json"))
b = json.loads(json.dumps(a)); b["machine"]["hostname"] = "other-host"; b["created_utc"] = "2020-01-01T00:00:00Z"
c = json.loads(json.dumps(a)); c["machine"]["cpu_model"] = "Another CPU"; c["created_utc"] = "2020-01-02T00:00:00Z"
json.dump(b, open(t + "/b.json", "w"))
json.dump(c, open(t + "/c.json", "w"))
PY
HOST=$(python3 -c "import json; print(json.load(open('$TMP/a.json'))['machine']['hostname'])")

"$HEAPLAB" merge "$TMP/a.json" "$TMP/b.json" "$TMP/c.json" "$TMP/run.json" "$TMP/race.json" \
    -o "$TMP/m.json" >"$TMP/out" 2>"$TMP/err"
check "merge exits 0" [ $? -eq 0 ]
check "merge prints nothing" [ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]
check "the merged file validates" validate results-set-1.schema.json "$TMP/m.json"

# The same checks for any merge: OUT inputs...
lossless() {
    python3 - "$@" <<'PY'
import json, sys
out, inputs = sys.argv[1], sys.argv[2:]
m = json.load(open(out))
docs_in = []
for p in inputs:
    d = json.load(open(p))
    if d["schema"] == "heaplab.results-set/1":
        docs_in += [x for k in d["machines"].values() for x in k["documents"]]
    else:
        docs_in.append(d)
docs_out = [x for k in m["machines"].values() for x in k["documents"]]
def runs(d):
    if d["schema"] in ("heaplab.results/1", "heaplab.results/2"):
        return sum(len(c["runs"]) for c in d["results"])
    if d["schema"] == "heaplab.run/2":
        return sum(len(a["runs"]) for a in d["allocators"])
    return len(d["leaderboard"])
bad = []
if len(docs_out) != len(docs_in):
    bad.append("%d documents, inputs have %d" % (len(docs_out), len(docs_in)))
if sum(map(runs, docs_out)) != sum(map(runs, docs_in)):
    bad.append("%d runs, inputs have %d" % (sum(map(runs, docs_out)), sum(map(runs, docs_in))))
key = lambda d: json.dumps(d, sort_keys=True)
if sorted(map(key, docs_out)) != sorted(map(key, docs_in)):
    bad.append("documents differ from the inputs")
for b in bad:
    print("merge: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}
check "merged: documents, runs and contents equal the inputs'" \
    lossless "$TMP/m.json" "$TMP/a.json" "$TMP/b.json" "$TMP/c.json" "$TMP/run.json" "$TMP/race.json"
check "merged: keyed by machine" python3 - "$TMP/m.json" "$HOST" <<'PY'
import json, sys
m, host = json.load(open(sys.argv[1]))["machines"], sys.argv[2]
want = {host: 3, "other-host": 1, host + "#2": 1}  # a, run and race share this machine
got = {k: len(v["documents"]) for k, v in m.items()}
print(got) if got != want else None
sys.exit(0 if got == want and m["other-host"]["machine"]["hostname"] == "other-host" else 1)
PY

# A set merged again with another file flattens, and compare reads sets.
"$HEAPLAB" merge "$TMP/m.json" "$TMP/a.json" -o "$TMP/m2.json" 2>"$TMP/err"
check "merging a set and one of its documents is refused" [ $? -eq 1 ]
check "  naming both" grep -q "is the same document as" "$TMP/err"
"$HEAPLAB" bench --workload small --allocator glibc --ops 2000 --repeat 2 --no-latency \
    --json "$TMP/d.json" --quiet 2>/dev/null
"$HEAPLAB" merge "$TMP/m.json" "$TMP/d.json" -o "$TMP/m2.json" 2>"$TMP/err"
check "a set and a file merge" [ $? -eq 0 ]
check "  into one flat set" validate results-set-1.schema.json "$TMP/m2.json"
check "  losing nothing" lossless "$TMP/m2.json" "$TMP/m.json" "$TMP/d.json"
"$HEAPLAB" merge "$TMP/a.json" "$TMP/b.json" -o "$TMP/ab.json" 2>/dev/null
"$HEAPLAB" compare "$TMP/ab.json" "$TMP/ab.json" >"$TMP/out" 2>&1
check "compare reads a set, matching by machine" grep -q "^8 cells in both" "$TMP/out"
check "  and shows the machine" grep -q "other-host" "$TMP/out"

# Bad input: one line naming the file, exit 1, nothing written.
echo "{" >"$TMP/bad.json"
"$HEAPLAB" merge "$TMP/a.json" "$TMP/bad.json" -o "$TMP/x.json" >/dev/null 2>"$TMP/err"
check "a truncated input: exit 1" [ $? -eq 1 ]
check "  one line naming it" sh -c "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q 'bad.json: truncated' '$TMP/err'"
check "  no output" [ ! -e "$TMP/x.json" ]
"$HEAPLAB" merge "$TMP/a.json" "$TMP/a.json" -o "$TMP/x.json" >/dev/null 2>"$TMP/err"
check "the same file twice: exit 1" [ $? -eq 1 ]
check "  no output" [ ! -e "$TMP/x.json" ]
expect_usage "merge without -o" merge "$TMP/a.json"
expect_usage "merge without files" merge -o "$TMP/x.json"
"$HEAPLAB" merge "$TMP/a.json" -o /nonexistent/dir/x.json >/dev/null 2>&1
check "an unwritable output: exit 1" [ $? -eq 1 ]
finish
