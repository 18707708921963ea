#!/usr/bin/env bash
# bench --threads sweep (docs/cli.md): 1, 2, 4, ... up to twice the cores, plus the cores and
# any count given with it, a cell per thread count; each run's contention fields are there,
# typed, and add up (docs/results.md, "Contention"); the contention tables print. Values are
# not asserted: a 2-thread run need not switch at all.
source "$(dirname "$0")/lib.sh"

CORES=$(getconf _NPROCESSORS_ONLN)
EXPECT=$(python3 -c "
c = min($CORES, 64); top = min(2 * c, 64)
s = {c, top, 3}
t = 1
while t <= top:
    s.add(t); t *= 2
print(','.join(map(str, sorted(s))))")

"$HEAPLAB" bench --workload small,shared-pool --allocator glibc --threads sweep,3 --ops 2000 \
    --repeat 2 --no-latency --json "$TMP/sweep.json" >"$TMP/out" 2>"$TMP/err"
check "sweep exits 0" [ $? -eq 0 ]
check "the results validate" validate results-2.schema.json "$TMP/sweep.json"
check "config.threads is the sweep plus 3, ascending ($EXPECT)" python3 -c "
import json, sys
d = json.load(open('$TMP/sweep.json'))
sys.exit(0 if d['config']['threads'] == [int(x) for x in '$EXPECT'.split(',')] else 1)"
check "a cell per workload and thread count, in that order" python3 -c "
import json, sys
d = json.load(open('$TMP/sweep.json'))
want = [(w, int(t)) for w in ('small', 'shared-pool') for t in '$EXPECT'.split(',')]
sys.exit(0 if [(c['workload'], c['threads']) for c in d['results']] == want else 1)"
check "every run has contention: typed, per thread, adding up" python3 - "$TMP/sweep.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
for c in d["results"]:
    for r in c["runs"]:
        k = r.get("contention")
        where = "%s/%d rep %d" % (c["workload"], c["threads"], r["rep"])
        if not isinstance(k, dict):
            bad.append(where + ": no contention")
            continue
        if k["source"] not in ("schedstat", "cputime") or len(k["threads"]) != c["threads"]:
            bad.append(where + ": source or threads")
        for f in ("voluntary_switches", "involuntary_switches", "thread_ns", "cpu_ns", "blocked_ns"):
            if not isinstance(k[f], int) or k[f] < 0:
                bad.append(where + ": " + f)
            if f not in ("thread_ns",) and sum(t[f] for t in k["threads"]) != k[f]:
                bad.append(where + ": " + f + " is not the threads' sum")
        if sum(t["wall_ns"] for t in k["threads"]) != k["thread_ns"]:
            bad.append(where + ": thread_ns")
        if (k["runqueue_ns"] is None) != (k["source"] == "cputime"):
            bad.append(where + ": runqueue_ns against source")
        # With schedstat a thread's window brackets its two schedstat reads (a few us past
        # the pass on each side), and any wait in those edges is in runqueue_ns.
        edge = k["runqueue_ns"] + 50000 * c["threads"] if k["source"] == "schedstat" else 1000
        if k["thread_ns"] > r["wall_ns"] * c["threads"] * 1.01 + edge:
            bad.append(where + ": thread time beyond wall x threads")
        for t in k["threads"]:
            if t["runqueue_ns"] is not None and t["runqueue_ns"] > t["wall_ns"]:
                bad.append(where + ": a thread waited longer than its window")
for b in bad[:10]:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
check "the summaries have the contention metrics" python3 -c "
import json, sys
d = json.load(open('$TMP/sweep.json'))
keys = ('voluntary_switches', 'involuntary_switches', 'blocked_ns', 'thread_ns')
sys.exit(0 if all(k in c['summary'] for c in d['results'] for k in keys) else 1)"
check "two contention tables" \
    sh -c "grep -q '^Contention: blocked / waiting for a CPU' '$TMP/out' && grep -q '^Contention: context switches' '$TMP/out'"
check "  a row per thread count" [ "$(grep -cE '^shared-pool +[0-9]+ +[0-9]+% / ' "$TMP/out")" -eq \
    "$(echo "$EXPECT" | tr ',' '\n' | wc -l)" ]

"$HEAPLAB" bench --workload small --allocator glibc --threads 1 --ops 2000 --repeat 1 \
    --no-latency >"$TMP/out" 2>&1
check "one thread only: no contention tables" sh -c "! grep -q '^Contention' '$TMP/out'"

expect_usage "sweep named twice" bench --threads sweep,sweep
expect_usage "a count named twice beside sweep" bench --threads sweep,3,3
expect_usage "a bad count" bench --threads sweep,0
expect_usage "sweep with a lab allocator" bench --threads sweep --allocator lab:bump
finish
