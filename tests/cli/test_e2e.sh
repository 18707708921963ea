#!/usr/bin/env bash
# End to end: a tiny bench under glibc and a preloaded peer; the numbers must be sane and
# the JSON must validate. Also: --profile alias, CSV, a missing, a crashing and a
# wrong-preload allocator.
source "$(dirname "$0")/lib.sh"

peer=""
for p in jemalloc mimalloc tcmalloc; do
    if "$HEAPLAB" list allocators | grep -q "^$p  *ok"; then peer=$p; break; fi
done
check "a preloadable peer is installed (scripts/deps.sh)" [ -n "$peer" ]
allocs=glibc${peer:+,$peer}

"$HEAPLAB" bench --workload small,fragmentation,producer-consumer --threads 1,2 --ops 60000 \
    --repeat 2 --allocator "$allocs" --json "$TMP/r.json" --csv "$TMP/r.csv" >"$TMP/table" 2>"$TMP/err"
rc=$?
check "bench exits 0" [ $rc -eq 0 ]
check "results validate against the schema" validate results-2.schema.json "$TMP/r.json"
check "table has a throughput section" grep -q "^Throughput" "$TMP/table"
check "table has a geomean row" grep -q "^geomean vs glibc" "$TMP/table"
check "producer-consumer is not run at 1 thread" bash -c "! grep -q '^producer-consumer  *1 ' '$TMP/table'"

# Sanity of every successful run: ops counted == ops requested, RSS > live > 0.
check "numbers are sane" /usr/bin/python3 - "$TMP/r.json" "$peer" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
peer = sys.argv[2]
bad = []
seen = set()
for cell in d["results"]:
    if cell["status"] == "skipped":
        assert cell["workload"] == "producer-consumer" and cell["threads"] == 1, cell
        continue
    if cell["status"] != "ok":
        bad.append("%s/%s/%d: %s" % (cell["allocator"], cell["workload"], cell["threads"], cell.get("note")))
        continue
    seen.add(cell["allocator"])
    for r in cell["runs"]:
        if r["ops"] != r["ops_expected"]:
            bad.append("ops %d != expected %d" % (r["ops"], r["ops_expected"]))
        if r["ops_expected"] < 0.9 * 60000 * r["threads"]:
            bad.append("too few ops: %d" % r["ops_expected"])
        if not (r["peak_rss_bytes"] > 0 and r["peak_live_bytes"] > 0):
            bad.append("%s %s: rss %d live %d" % (cell["allocator"], cell["workload"], r["peak_rss_bytes"], r["peak_live_bytes"]))
        # RSS > live where the live set dwarfs what an allocator makes resident at start-up
        # (that is in the baseline): fragmentation keeps megabytes live.
        if cell["workload"] == "fragmentation" and not (r["peak_rss_bytes"] > r["peak_live_bytes"]):
            bad.append("%s %s: rss %d <= live %d" % (cell["allocator"], cell["workload"], r["peak_rss_bytes"], r["peak_live_bytes"]))
        if r["alloc_failures"] != 0 or r["ops_per_sec"] <= 0:
            bad.append("failures or zero throughput")
        if r["latency"]["malloc"]["count"] <= 0 or r["latency"]["free"]["count"] <= 0:
            bad.append("no latency samples")
        lat = r["latency"]["malloc"]
        if not (lat["min_ns"] <= lat["p50_ns"] <= lat["p99_ns"] <= lat["max_ns"]):
            bad.append("percentiles out of order")
        if cell["workload"] == "fragmentation":
            labels = [m["label"] for m in r["marks"] if m["thread"] == 0]
            if labels != ["filled", "holes", "refill-smaller", "refill-equal", "refill-larger"]:
                bad.append("fragmentation marks %s" % labels)
            bands = ("hole_reuse", "hole_reuse_smaller", "hole_reuse_equal", "hole_reuse_larger")
            if r["threads"] == 1 and not all(k in r for k in bands):
                bad.append("fragmentation hole reuse missing: %s" % [k for k in bands if k not in r])
        if cell["workload"] == "producer-consumer" and r["sync_waits"] < 0:
            bad.append("sync")
        if cell["allocator"] == "glibc" and "/libc.so" not in r["provider"]:
            bad.append("glibc run used %s" % r["provider"])
        if cell["allocator"] != "glibc" and peer not in r["provider"]:
            bad.append("%s run used %s" % (cell["allocator"], r["provider"]))
    for k in ("ops_per_sec", "peak_rss_bytes", "malloc_p99_ns"):
        s = cell["summary"][k]
        if not (s["min"] <= s["median"] <= s["max"]) or s["n"] != 2:
            bad.append("summary %s" % k)
want = {"glibc"} | ({peer} if peer else set())
if seen != want:
    bad.append("allocators seen %s, want %s" % (seen, want))
for b in bad[:10]:
    print("insane:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# CSV: a header plus one row per run (2 workloads x 2 thread counts + 1, x allocators x 2 repeats).
nalloc=$(tr ',' '\n' <<<"$allocs" | wc -l)
rows=$(($(wc -l <"$TMP/r.csv") - 1))
check "CSV has one row per run" [ "$rows" -eq $((5 * nalloc * 2)) ]
check "CSV header" grep -q "^workload,threads,allocator,rep,status,ops_per_sec" "$TMP/r.csv"

# The issue's example command, with the --profile alias.
"$HEAPLAB" bench --seed 1337 --ops 200000 --profile mixed --repeat 1 --allocator glibc >"$TMP/t2" 2>&1
check "--profile alias works" grep -q "^mixed " "$TMP/t2"

# Determinism: the same seed gives the same stream (same live bytes), another seed not.
"$HEAPLAB" bench -w mixed -n 5000 -r 1 -a glibc -s 7 --no-latency --json "$TMP/s7a.json" -q 2>/dev/null
"$HEAPLAB" bench -w mixed -n 5000 -r 1 -a glibc -s 7 --no-latency --json "$TMP/s7b.json" -q 2>/dev/null
"$HEAPLAB" bench -w mixed -n 5000 -r 1 -a glibc -s 8 --no-latency --json "$TMP/s8.json" -q 2>/dev/null
live() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['runs'][0]['peak_live_bytes'])" "$1"; }
check "same seed, same stream" [ "$(live "$TMP/s7a.json")" = "$(live "$TMP/s7b.json")" ]
check "other seed, other stream" [ "$(live "$TMP/s7a.json")" != "$(live "$TMP/s8.json")" ]

# A missing allocator gets a note and the run goes on.
"$HEAPLAB" bench -w small -n 5000 -r 1 -a glibc,ghost=/nonexistent/libghost.so \
    --json "$TMP/m.json" >"$TMP/t3" 2>"$TMP/err"; rc=$?
check "missing allocator: run goes on (exit 0)" [ $rc -eq 0 ]
check "missing allocator: column says missing" grep -q "missing" "$TMP/t3"
check "missing allocator: JSON status" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$TMP/m.json'))
st={c['allocator']:c['status'] for c in d['results']}; sys.exit(0 if st=={'glibc':'ok','ghost':'missing'} else 1)"

# A crashing allocator: its malloc raises SIGSEGV after startup.
cat >"$TMP/crash.c" <<'C'
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
static int armed;
__attribute__((constructor)) static void arm(void) { armed = getenv("HEAPLAB_TEST_NOCRASH") == NULL; }
void *__libc_malloc(size_t);
void *malloc(size_t n) { static int calls; if (armed && ++calls > 2000) raise(SIGSEGV); return __libc_malloc(n); }
C
cc -shared -fPIC -O1 -o "$TMP/libcrash.so" "$TMP/crash.c"
"$HEAPLAB" bench -w small -n 20000 -r 2 -a glibc,crashy="$TMP/libcrash.so" --json "$TMP/c.json" \
    >"$TMP/t4" 2>"$TMP/err"; rc=$?
check "crashing allocator: run goes on" [ $rc -eq 0 ]
check "crashing allocator: note names the signal" grep -q "crashy.*signal 11" "$TMP/t4"
check "crashing allocator: JSON validates" validate results-2.schema.json "$TMP/c.json"

# A library that does not define malloc is refused before the run (test_bench_allocators.sh).
libm=$(/usr/bin/python3 -c "import ctypes.util; print(ctypes.util.find_library('m') or '')")
libm_path=$(ldconfig -p | awk -v n="$libm" '$1==n {print $NF; exit}')
"$HEAPLAB" bench -w small -n 5000 -r 1 -a glibc,notmalloc="$libm_path" >"$TMP/t5" 2>&1
check "wrong preload is detected" grep -q "notmalloc: .*defines no malloc" "$TMP/t5"

# A worker that hangs is killed at the timeout.
cat >"$TMP/hang.c" <<'C'
#include <stddef.h>
#include <unistd.h>
void *__libc_malloc(size_t);
void *malloc(size_t n) { static int calls; if (++calls == 5000) for (;;) pause(); return __libc_malloc(n); }
C
cc -shared -fPIC -O1 -o "$TMP/libhang.so" "$TMP/hang.c"
"$HEAPLAB" bench -w small -n 20000 -r 1 --timeout 2 -a hangs="$TMP/libhang.so" >"$TMP/t6" 2>&1; rc=$?
check "hanging allocator: nothing succeeded -> exit 1" [ $rc -eq 1 ]
check "hanging allocator: timeout noted" grep -q "hangs.*timeout" "$TMP/t6"
finish
