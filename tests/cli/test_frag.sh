#!/usr/bin/env bash
# The fragmentation deep-dive tells allocators apart: lab:firstfit splits and reuses the holes
# for the refill's smaller and equal bands, lab:bump never reuses anything, and neither can
# put the larger band in a hole. The figures are the lab allocators' own footprints, exact to
# the byte, so the expected values are exact; the tables show the marks and the bands.
source "$(dirname "$0")/lib.sh"

"$HEAPLAB" bench -w fragmentation -a lab:bump,lab:firstfit --ops 6000 -r 1 --no-latency \
    --json "$TMP/f.json" >"$TMP/table" 2>"$TMP/err"
rc=$?
check "bench exits 0" [ $rc -eq 0 ]
check "results validate against the schema" validate results-2.schema.json "$TMP/f.json"

check "hole reuse: firstfit reuses the holes, bump does not" /usr/bin/python3 - "$TMP/f.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = {c["allocator"]: c["runs"][0] for c in d["results"] if c["status"] == "ok"}
bad = []
if set(runs) != {"lab:bump", "lab:firstfit"}:
    sys.exit("runs: %s" % sorted(runs))
bump, ff = runs["lab:bump"], runs["lab:firstfit"]
want = {
    ("lab:bump", "hole_reuse_smaller"): 0, ("lab:bump", "hole_reuse_equal"): 0,
    ("lab:bump", "hole_reuse_larger"): 0, ("lab:bump", "hole_reuse"): 0,
    ("lab:firstfit", "hole_reuse_smaller"): 1, ("lab:firstfit", "hole_reuse_equal"): 1,
    ("lab:firstfit", "hole_reuse_larger"): 0,
}
for (a, k), v in want.items():
    if runs[a].get(k) != v:
        bad.append("%s %s = %s, want %s" % (a, k, runs[a].get(k), v))
if not bump.get("hole_reuse", 1) < ff.get("hole_reuse", 0):
    bad.append("whole refill: bump %s, firstfit %s" % (bump.get("hole_reuse"), ff.get("hole_reuse")))
for a, r in runs.items():
    if r.get("footprint_source") != "lab":
        bad.append("%s footprint_source %s" % (a, r.get("footprint_source")))
    labels = [m["label"] for m in r["marks"]]
    if labels != ["filled", "holes", "refill-smaller", "refill-equal", "refill-larger"]:
        bad.append("%s marks %s" % (a, labels))
    for m in r["marks"]:
        f, fp = m.get("frag"), m.get("footprint_bytes", -1)
        if not isinstance(f, (int, float)) or abs(f - fp / m["live_bytes"]) > 1e-9:
            bad.append("%s %s: frag %s, footprint %s" % (a, m["label"], f, fp))
# Fragmentation over time: footprint / live doubles when the holes open (about half the
# live bytes go, the footprint stays); at the end firstfit holds less than bump.
frag = {a: [m.get("frag") or 0 for m in r["marks"]] for a, r in runs.items()}
last = {a: r["marks"][-1].get("footprint_bytes", -1) for a, r in runs.items()}
for a in runs:
    if len(frag[a]) < 2 or not frag[a][1] > 1.9 * frag[a][0] > 0:
        bad.append("%s: footprint / live at the first marks %s" % (a, frag[a][:2]))
if not 0 < last["lab:firstfit"] < last["lab:bump"]:
    bad.append("final footprint: %s" % last)
summ = {c["allocator"]: c["summary"] for c in d["results"]}
for a in runs:
    for k in ("hole_reuse_smaller", "hole_reuse_equal", "hole_reuse_larger"):
        if k not in summ[a]:
            bad.append("%s: no summary %s" % (a, k))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

check "table: footprint at each mark" grep -q "^Footprint at each mark" "$TMP/table"
check "table: a row per mark" grep -q "^ *refill-equal  *[0-9.]*[KM] ([0-9.]*)" "$TMP/table"
check "table: hole reuse by band" grep -q "^Hole reuse by refill band" "$TMP/table"
check "table: firstfit reuses the smaller band, bump not" \
    grep -Eq "^fragmentation +1 smaller +0\.00 +1\.00( |$)" "$TMP/table"

finish
