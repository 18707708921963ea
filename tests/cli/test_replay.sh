#!/usr/bin/env bash
# heaplab replay and bench --trace: programs recorded with `heaplab record` replay with the
# recorded event counts and peak live bytes (against `heaplab trace info`), on the recorded
# threads, under real and lab allocators; bad files and options get clear errors.
source "$(dirname "$0")/lib.sh"

BIN=$(cd "$(dirname "$HEAPLAB")" && pwd)
PROGS=$BIN/tests/trace
cd "$TMP" || exit 1

# same_as_recorded NAME TRACE REPLAY_JSON: every run replayed what the trace recorded.
same_as_recorded() {
    "$HEAPLAB" trace info --json "$2" >"$TMP/info.json" 2>"$TMP/info.err" || return 1
    python3 - "$TMP/info.json" "$3" <<'PYEOF'
import json, sys
info = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
bad = []
for cell in doc["results"]:
    if cell["status"] != "ok":
        bad.append("%s: %s" % (cell["allocator"], cell.get("note", cell["status"])))
        continue
    for run in cell["runs"]:
        r = run["replay"]
        want = {
            "allocs + reallocs = allocations": (r["allocs"] + r["reallocs"], info["allocations"]),
            "frees + reallocs = releases": (r["frees"] + r["reallocs"], info["releases"]),
            "unknown frees": (r["unknown_frees"], info["unknown_frees"]),
            "peak live bytes": (run["peak_live_bytes"], info["peak_live"]["bytes"]),
            "ops run": (run["ops"], run["ops_expected"]),
            "no failures": (run["alloc_failures"], 0),
            "threads": (cell["threads"], len(info["threads"])),
        }
        for k, (got, exp) in want.items():
            if got != exp:
                bad.append("%s: %s: %s, recorded %s" % (cell["allocator"], k, got, exp))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
}

if [ ! -x "$PROGS/tr_single" ]; then
    skip "test programs not built ($PROGS)"
    finish
    exit $?
fi

for p in tr_single tr_threads tr_fork; do
    "$HEAPLAB" record -o "$TMP/$p.trace" -- "$PROGS/$p" >"$TMP/$p.out" 2>"$TMP/$p.err"
    check "record $p" [ -s "$TMP/$p.trace" ]
    "$HEAPLAB" replay "$TMP/$p.trace" --allocator glibc,hlmalloc --repeat 2 --no-latency \
        --json "$TMP/$p.json" >"$TMP/$p.table" 2>"$TMP/$p.rerr"
    check "replay $p exits 0" [ $? -eq 0 ]
    check "replay $p table names the trace" grep -q "^trace:$p.trace" "$TMP/$p.table"
    check "replay $p results validate" validate results-2.schema.json "$TMP/$p.json"
    check "replay $p reproduces the recording" same_as_recorded "$p" "$TMP/$p.trace" "$TMP/$p.json"
done
# The fork child's own trace replays too.
child=$(ls "$TMP"/tr_fork.trace.* 2>/dev/null | head -1)
check "fork child wrote its trace" [ -n "$child" ]
if [ -n "$child" ]; then
    "$HEAPLAB" replay "$child" --allocator glibc --repeat 1 --no-latency --json "$TMP/child.json" -q
    check "replay fork child" same_as_recorded child "$child" "$TMP/child.json"
fi
# Cross-thread frees stay cross-thread: the replay ran on the recorded 5 threads.
check "tr_threads replayed on 5 threads" python3 -c "
import json, sys
d = json.load(open('$TMP/tr_threads.json'))
sys.exit(0 if all(c['threads'] == 5 for c in d['results']) else 1)"

# A real program: python3 with a dict workload, replayed under every built-in allocator.
cat >"$TMP/dicts.py" <<'PYEOF'
d = {}
for i in range(20000):
    d["k%d" % i] = [i] * (i % 5)
    if i % 3 == 0:
        d.pop("k%d" % (i // 2), None)
print(len(d))
PYEOF
PYTHONMALLOC=malloc "$HEAPLAB" record -o "$TMP/py.trace" -- /usr/bin/python3 "$TMP/dicts.py" \
    >/dev/null 2>&1
check "record python3" [ -s "$TMP/py.trace" ]
"$HEAPLAB" replay "$TMP/py.trace" --repeat 1 --no-latency --json "$TMP/py.json" >"$TMP/py.table" \
    2>"$TMP/py.err"
check "replay python3 under every allocator exits 0" [ $? -eq 0 ]
check "replay python3 reproduces the recording" same_as_recorded py "$TMP/py.trace" "$TMP/py.json"

# bench --trace: a trace beside the synthetic workloads, lab allocators included.
"$HEAPLAB" bench --workload small --ops 20000 --trace "$TMP/tr_single.trace" \
    --allocator glibc,lab:segfit --repeat 1 --no-latency --json "$TMP/b.json" >"$TMP/b.out" 2>&1
check "bench --trace exits 0" [ $? -eq 0 ]
check "bench --trace has both rows" bash -c "grep -q '^small ' '$TMP/b.out' && grep -q '^trace:tr_single.trace' '$TMP/b.out'"
check "bench --trace: lab:segfit replayed the trace" same_as_recorded lab "$TMP/tr_single.trace" <(python3 -c "
import json
d = json.load(open('$TMP/b.json'))
d['results'] = [c for c in d['results'] if c['workload'].startswith('trace:')]
print(json.dumps(d))")
"$HEAPLAB" replay "$TMP/tr_threads.trace" --allocator lab:span --repeat 1 --no-latency \
    >"$TMP/l.out" 2>&1
check "lab allocator on a 5-thread trace fails" [ $? -eq 1 ]
check "... saying single-threaded" grep -q "single-threaded" "$TMP/l.out"

# Bad input.
"$HEAPLAB" replay "$TMP/nonexistent.trace" >/dev/null 2>"$TMP/err"
check "replay of a missing file exits 1" [ $? -eq 1 ]
check "... with one line" [ "$(wc -l <"$TMP/err")" -eq 1 ]
head -c 4096 /dev/urandom >"$TMP/garbage.trace"
"$HEAPLAB" replay "$TMP/garbage.trace" >/dev/null 2>"$TMP/err"
check "replay of a foreign file exits 1" [ $? -eq 1 ]
check "... saying so" grep -q "^heaplab: " "$TMP/err"
expect_usage "replay without a file" replay

# Every trace-reading error is one line naming the file first, from every command that reads
# traces. A header whose checksum fails, a header cut short, a foreign file, an empty one, a
# missing one.
cp "$TMP/tr_single.trace" "$TMP/crc.trace"
printf '\x5a' | dd of="$TMP/crc.trace" bs=1 seek=40 conv=notrunc 2>/dev/null
head -c 30 "$TMP/tr_single.trace" >"$TMP/hdr.trace"
printf 'just some text\n' >"$TMP/text.trace"
: >"$TMP/empty.trace"
# reads_fail NAME FILE HEAPLAB-ARGS...: exit 1, one line on stderr, "heaplab: FILE: ..."
reads_fail() {
    local name=$1 file=$2
    shift 2
    "$HEAPLAB" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    check "$name: exit 1" [ $rc -eq 1 ]
    check "$name: one line" [ "$(wc -l <"$TMP/err")" -eq 1 ]
    check "$name: the file first" grep -qF "heaplab: $file: " "$TMP/err"
    check "$name: the file once" [ "$(grep -oF "$file" "$TMP/err" | wc -l)" -eq 1 ]
    check "$name: nothing on stdout" [ ! -s "$TMP/out" ]
}
for f in crc.trace hdr.trace text.trace empty.trace missing.trace; do
    reads_fail "trace info $f" "$f" trace info "$f"
    reads_fail "trace dump $f" "$f" trace dump "$f"
    reads_fail "replay $f" "$f" replay "$f" --allocator glibc --repeat 1 --no-latency
    reads_fail "bench --trace $f" "$f" bench --trace "$f" --allocator glibc --repeat 1 \
        --no-latency
    check "... and names the reason" grep -qE ": (corrupt|truncated|not a heaplab|empty|cannot)" \
        "$TMP/err"
done
# A trace without events (true allocates nothing) fails in one line before any worker runs:
# nothing on stdout (no table), no results file.
"$HEAPLAB" record -o none.trace -- /bin/true 2>/dev/null
"$HEAPLAB" trace info --json none.trace >"$TMP/none.json"
check "true's trace has no events" python3 -c "
import json, sys
sys.exit(0 if json.load(open('$TMP/none.json'))['events'] == 0 else 1)"
for cmd in "replay none.trace" "bench --trace none.trace" "bench --workload small --trace none.trace"; do
    rm -f "$TMP/none.res"
    # shellcheck disable=SC2086
    "$HEAPLAB" $cmd --allocator glibc --repeat 1 --no-latency --json "$TMP/none.res" \
        >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check "$cmd: exit 1" [ $rc -eq 1 ]
    check "$cmd: one line naming the file" \
        [ "$(cat "$TMP/err")" = "heaplab: none.trace: no allocation events to replay" ]
    check "$cmd: no worker ran (no table, no results)" test ! -s "$TMP/out" -a ! -e "$TMP/none.res"
done

# A damaged trace replays what can be read. replay and bench --trace say so in trace info's
# words (its line, as a warning), and the notes under the tables say what was replayed;
# --strict makes the damage an error (trace info's line, exit 1, no worker).
size=$(stat -c %s tr_threads.trace)
head -c $((size * 2 / 3)) tr_threads.trace >cut.trace
cp tr_threads.trace bad.trace
printf '\xff\xff\xff\xff' | dd of=bad.trace bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
for f in cut.trace bad.trace; do
    "$HEAPLAB" trace info "$f" >/dev/null 2>"$TMP/info.err"
    line=$(cat "$TMP/info.err")
    check "trace info $f: one damage line" [ "$(wc -l <"$TMP/info.err")" -eq 1 ]
    for cmd in "replay $f" "bench --trace $f"; do
        # shellcheck disable=SC2086
        "$HEAPLAB" $cmd --allocator glibc --repeat 1 --no-latency >"$TMP/out" 2>"$TMP/err"
        rc=$?
        check "$cmd: exit 0" [ $rc -eq 0 ]
        check "$cmd: trace info's line as a warning" \
            [ "$(cat "$TMP/err")" = "heaplab: warning: ${line#heaplab: }" ]
        check "$cmd: replayed" grep -q "^trace:$f " "$TMP/out"
        check "$cmd: the notes say what was replayed" \
            grep -qE "^  trace:$f: replayed [0-9]+ events \([0-9]+ allocations, [0-9]+ frees" "$TMP/out"
        check "$cmd: ... from a damaged trace" grep -qF "${line#heaplab: $f: }" "$TMP/out"
        # shellcheck disable=SC2086
        "$HEAPLAB" $cmd --strict --allocator glibc --repeat 1 --no-latency >"$TMP/out" 2>"$TMP/err"
        rc=$?
        check "$cmd --strict: exit 1" [ $rc -eq 1 ]
        check "$cmd --strict: trace info's line" [ "$(cat "$TMP/err")" = "$line" ]
        check "$cmd --strict: no worker ran" [ ! -s "$TMP/out" ]
    done
done
"$HEAPLAB" replay tr_single.trace --strict --allocator glibc --repeat 1 --no-latency \
    >"$TMP/out" 2>"$TMP/err"
check "replay --strict of a whole trace: exit 0, silent" [ $? -eq 0 ] && [ ! -s "$TMP/err" ]
check "a whole trace's note: what was replayed" grep -qE "^  trace:tr_single.trace: replayed [0-9]+ events" "$TMP/out"

for cmd in "trace info" "trace dump" "replay" "bench --trace"; do
    # shellcheck disable=SC2086
    "$HEAPLAB" $cmd crc.trace >/dev/null 2>"$TMP/err"
    check "$cmd: the checksum line exactly" \
        [ "$(cat "$TMP/err")" = "heaplab: crc.trace: corrupt header (checksum mismatch)" ]
done
expect_usage "replay with --workload" replay "$TMP/tr_single.trace" --workload small
expect_usage "replay with --threads" replay "$TMP/tr_single.trace" --threads 2

finish
