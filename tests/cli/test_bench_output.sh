#!/usr/bin/env bash
# bench's results files: a path that cannot be written fails in one line before anything
# is measured, and an existing read-only file is never replaced.
source "$(dirname "$0")/lib.sh"

QUICK=(bench --workload small --ops 2000 --repeat 1 --allocator glibc --no-latency)

# fails_before_run NAME OPTION PATH: exit 1, one line on stderr, no table, no file left.
fails_before_run() {
    local name=$1 opt=$2 path=$3
    "$HEAPLAB" "${QUICK[@]}" "$opt" "$path" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    check "$name: exits 1" [ $rc -eq 1 ]
    check "$name: one line on stderr" [ "$(wc -l <"$TMP/err")" -eq 1 ]
    check "$name: names the file" grep -qF "heaplab: $path" "$TMP/err"
    check "$name: nothing measured (no table)" [ ! -s "$TMP/out" ]
}

mkdir -p "$TMP/d"
touch "$TMP/plain"
for opt in --json --csv; do
    fails_before_run "$opt in a missing directory" "$opt" "$TMP/nosuch/r.out"
    fails_before_run "$opt under a regular file" "$opt" "$TMP/plain/r.out"
    echo "keep me" >"$TMP/d/ro.out"
    chmod 444 "$TMP/d/ro.out"
    fails_before_run "$opt read-only file" "$opt" "$TMP/d/ro.out"
    check "$opt read-only file: left as it was" [ "$(cat "$TMP/d/ro.out")" = "keep me" ]
    if [ "$(id -u)" -ne 0 ]; then # root writes into any directory
        mkdir -p "$TMP/locked"
        chmod 555 "$TMP/locked"
        fails_before_run "$opt in an unwritable directory" "$opt" "$TMP/locked/r.out"
    fi
    rm -f "$TMP/d/ro.out"
done
check "no temporary file left" [ -z "$(find "$TMP" -name '*.tmp.*')" ]

# The same file for --json and --csv, however spelled, is a usage error.
expect_usage "--json and --csv the same file" "${QUICK[@]}" --json "$TMP/d/r" --csv "$TMP/d/r"
expect_usage "--json and --csv the same file via .." "${QUICK[@]}" --json "$TMP/d/r" \
    --csv "$TMP/d/../d/r"
check "... nothing written" [ ! -e "$TMP/d/r" ]

# --pin: every run records the CPUs its threads ran on, which are the pinned ones.
read -r cpu_a cpu_b <<<"$(/usr/bin/python3 -c "import os; c = sorted(os.sched_getaffinity(0)); print(c[-1], c[0])")"
"$HEAPLAB" "${QUICK[@]}" --repeat 2 --pin "$cpu_a" --json "$TMP/pin.json" -q
check "--pin $cpu_a: exits 0" [ $? -eq 0 ]
check "--pin $cpu_a: results validate" validate results-2.schema.json "$TMP/pin.json"
runs_cpus() {
    /usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
print(' '.join(','.join(map(str, r.get('cpus', ['none']))) for c in d['results'] for r in c['runs']))" "$1"
}
check "--pin $cpu_a: each run used CPU $cpu_a" [ "$(runs_cpus "$TMP/pin.json")" = "$cpu_a $cpu_a" ]
if [ "$cpu_a" != "$cpu_b" ]; then
    "$HEAPLAB" "${QUICK[@]}" --threads 2 --pin "$cpu_b,$cpu_a" --json "$TMP/pin2.json" -q
    check "--pin two CPUs at 2 threads: both used" [ "$(runs_cpus "$TMP/pin2.json")" = "$cpu_b,$cpu_a" ]
fi
"$HEAPLAB" "${QUICK[@]}" --json "$TMP/nopin.json" -q
check "unpinned runs record the CPUs too" [ -n "$(runs_cpus "$TMP/nopin.json" | grep -v none)" ]

# Tables. Without a terminal the best of each row is marked '*'; one repetition has no
# spread to show.
# rows_marked FILE: every row of every table has a '*' (two allocators always rank).
rows_marked() {
    awk '/^(small|mixed|trace:)/ && !/\*/ {bad = 1} END {exit bad}' "$1" &&
        [ "$(grep -c '\*' "$1")" -ge 6 ]
}
"$HEAPLAB" bench -w small,mixed -n 2000 -r 1 -a glibc,lab:bump --no-latency >"$TMP/t1" 2>&1
check "--repeat 1: header" grep -qx "heaplab bench: seed 1, 1 repeat; best of each row marked \*" "$TMP/t1"
check "--repeat 1: no spread column" bash -c "! grep -q '±' '$TMP/t1'"
check "--repeat 1: the best of each row marked * (no terminal)" rows_marked "$TMP/t1"
"$HEAPLAB" bench -w small,mixed -n 2000 -r 2 -a glibc,lab:bump --no-latency >"$TMP/t2" 2>&1
check "--repeat 2: spread shown" grep -q "^small .*±" "$TMP/t2"
check "--repeat 2: the best of each row marked * (no terminal)" rows_marked "$TMP/t2"
if command -v script >/dev/null; then
    NO_COLOR=1 script -qec "'$HEAPLAB' bench -w small -n 2000 -r 1 -a glibc,lab:bump --no-latency" \
        /dev/null >"$TMP/t3" 2>&1
    check "NO_COLOR on a terminal: marked *, no colour" \
        bash -c "grep -q '^small .*\*' '$TMP/t3' && ! grep -q \$'\\033\\[' '$TMP/t3'"
fi

# CSV: every text field quoted (RFC 4180), so a trace path holding a comma and a quote
# stays one field and the columns line up.
PROG=$(cd "$(dirname "$HEAPLAB")" && pwd)/tests/trace/tr_single
if [ -x "$PROG" ]; then
    odd="$TMP/a,b\"c.trace"
    "$HEAPLAB" record -o "$odd" -- "$PROG" >/dev/null 2>&1
    check "record to a path with a comma and a quote" [ -s "$odd" ]
    "$HEAPLAB" replay "$odd" --allocator glibc --repeat 2 --no-latency --csv "$TMP/odd.csv" -q
    check "replay with --csv exits 0" [ $? -eq 0 ]
    check "CSV columns line up" /usr/bin/python3 - "$TMP/odd.csv" "$(cd "$TMP" && pwd -P)" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, body = rows[0], rows[1:]
want = "trace:" + sys.argv[2] + '/a,b"c.trace'
bad = [r for r in body if len(r) != len(head) or r[head.index("workload")] != want
       or r[head.index("allocator")] != "glibc" or r[head.index("status")] != "ok"
       or not r[head.index("threads")].isdigit() or float(r[head.index("ops_per_sec")]) <= 0]
sys.exit(1 if bad or len(body) != 2 else 0)
PY
    "$HEAPLAB" replay "$odd" --allocator glibc,lab:bump --repeat 1 --no-latency >"$TMP/rt" 2>&1
    check "replay's table header has no seed" grep -qx "heaplab replay: 1 repeat; best of each row marked \*" "$TMP/rt"
    check "every text field is quoted" bash -c "tail -n +2 '$TMP/odd.csv' | grep -q '^\"trace:.*,\"glibc\",[0-9]*,\"ok\",'"
else
    skip "test programs not built ($PROG)"
fi

finish
