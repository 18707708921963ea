#!/usr/bin/env bash
# Results files agree with each other: bench, run and race JSON and the tick file's header
# begin with the same envelope (docs/results.md): schema, tool, created_utc, command and
# machine, each allocator with its version; and each validates against its schema.
source "$(dirname "$0")/lib.sh"

"$HEAPLAB" bench --workload small --allocator glibc --ops 2000 --repeat 1 --no-latency \
    --json "$TMP/bench.json" >/dev/null 2>&1
check "bench exits 0" [ $? -eq 0 ]
"$HEAPLAB" run --allocator glibc --repeat 1 --json "$TMP/run.json" -- /bin/true >/dev/null 2>&1
check "run exits 0" [ $? -eq 0 ]
"$HEAPLAB" race --workload small --ops 2000 --allocators bump,buddy --json "$TMP/race.json" \
    --ticks "$TMP/race.ticks" --quiet 2>/dev/null
check "race exits 0" [ $? -eq 0 ]
head -n 1 "$TMP/race.ticks" >"$TMP/header.json"

check "bench validates" validate results-2.schema.json "$TMP/bench.json"
check "run validates" validate run-2.schema.json "$TMP/run.json"
check "race validates" validate race-1.schema.json "$TMP/race.json"
check "tick header validates" /usr/bin/python3 "$TESTS_DIR/cli/validate_json.py" --lines \
    "$ROOT/docs/schema/ticks-2.schema.json" "$TMP/header.json"

check "one envelope in all four" /usr/bin/python3 - "$TMP" <<'EOF'
import json, re, sys
tmp = sys.argv[1]
docs = {n: json.load(open("%s/%s" % (tmp, n))) for n in
        ("bench.json", "run.json", "race.json", "header.json")}
want = {"bench.json": ("heaplab.results/2", "bench"), "run.json": ("heaplab.run/2", "run"),
        "race.json": ("heaplab.race/1", "race"), "header.json": ("heaplab.ticks/2", "race")}
bad = []
base = docs["bench.json"]
for name, d in docs.items():
    if d.get("schema") != want[name][0]:
        bad.append("%s: schema %r" % (name, d.get("schema")))
    if d.get("tool") != base["tool"]:
        bad.append("%s: tool %r" % (name, d.get("tool")))
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d.get("created_utc", "")):
        bad.append("%s: created_utc %r" % (name, d.get("created_utc")))
    words = d.get("command", "").split()
    if len(words) < 2 or not words[0].endswith("heaplab") or words[1] != want[name][1]:
        bad.append("%s: command %r" % (name, d.get("command")))
    if sorted(d.get("machine", {})) != sorted(base["machine"]):
        bad.append("%s: machine keys differ" % name)
    for a in d.get("allocators", []):
        if not a.get("name") or not a.get("version"):
            bad.append("%s: allocator %r without a version" % (name, a.get("name")))
for b in bad:
    print("envelope: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
finish
