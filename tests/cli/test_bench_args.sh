#!/usr/bin/env bash
# bench and replay command lines: their help (one option table each), and what is refused
# before any worker starts (usage errors exit 2 with one line and the usage; nothing runs).
source "$(dirname "$0")/lib.sh"

# help_rows CMD: the options `heaplab CMD --help` lists, one per line ("-w, --workload LIST").
help_rows() {
    "$HEAPLAB" "$1" --help | sed -nE 's/^  (    )?((-[a-z], )?--[a-z-]+( [A-Z]+)?).*/\2/p'
}

bench_rows="-w, --workload LIST
--profile LIST
--trace FILE
-t, --threads LIST
-n, --ops N
-s, --seed S
-a, --allocator LIST
-r, --repeat R
--pin CPUS
--json FILE
--csv FILE
--report FILE
--timeout SEC
--no-latency
-q, --quiet
--strict
--heapmap
--alloc-stats
--os-calls
--heapmap-every N
--inside-mark LABEL
-h, --help"
# replay is bench without the options that choose what runs.
replay_rows=$(sed '1,6d' <<<"$bench_rows")

for cmd in bench replay; do
    "$HEAPLAB" help "$cmd" >"$TMP/help.$cmd" 2>&1
    check "help $cmd exits 0" [ $? -eq 0 ]
    "$HEAPLAB" "$cmd" --help >"$TMP/opt.$cmd" 2>&1
    check "$cmd --help exits 0" [ $? -eq 0 ]
    check "help $cmd is $cmd --help" cmp -s "$TMP/help.$cmd" "$TMP/opt.$cmd"
done
check "bench --help lists every option" [ "$(help_rows bench)" = "$bench_rows" ]
check "replay --help lists every option" [ "$(help_rows replay)" = "$replay_rows" ]
check "bench --help names the --profile alias" grep -q -- "--profile is an alias" "$TMP/opt.bench"

# --quiet with no results file would measure for nothing.
expect_usage "bench -q without --json or --csv" bench -q --workload small
expect_usage "replay -q without --json or --csv" replay "$TMP/none.trace" -q
check "... prints the usage" grep -q "^usage: heaplab replay" "$TMP/err"

# refused NAME ARGS...: a usage error before any worker starts: exit 2, the reason as the
# first line, nothing on stdout.
refused() {
    local name=$1
    shift
    "$HEAPLAB" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    check "$name: exits 2" [ $rc -eq 2 ]
    check "$name: says why" grep -q "^heaplab: .*$REASON" <(head -1 "$TMP/err")
    check "$name: nothing ran" [ ! -s "$TMP/out" ]
}
QUICK=(--ops 1000 --repeat 1 --no-latency)

REASON="named twice"
refused "workload twice in one list" bench "${QUICK[@]}" -a glibc -w small,small
refused "workload twice in two options" bench "${QUICK[@]}" -a glibc -w small --profile small
refused "thread count twice" bench "${QUICK[@]}" -a glibc -w small -t 1,1
refused "thread count twice in two options" bench "${QUICK[@]}" -a glibc -w small -t 1 -t 1
refused "allocator twice" bench "${QUICK[@]}" -a glibc,glibc -w small
touch "$TMP/t.trace"
refused "trace twice" bench "${QUICK[@]}" -a glibc --trace "$TMP/t.trace" --trace "$TMP/../${TMP##*/}/t.trace"
REASON="single-threaded"
refused "lab allocator at 2 threads" bench "${QUICK[@]}" -a lab:bump -w small -t 2
refused "lab allocator among others at 1,2 threads" bench "${QUICK[@]}" -a glibc,lab:segfit \
    -w small -t 1,2

# --pin: a CPU this process may not run on (absent, or outside its affinity mask).
REASON="not available"
bad_cpu=$(/usr/bin/python3 -c "import os; print(max(os.sched_getaffinity(0)) + 1)")
refused "--pin to a CPU not available" bench "${QUICK[@]}" -a glibc -w small --pin "$bad_cpu"
refused "--pin list with one CPU not available" bench "${QUICK[@]}" -a glibc -w small \
    --pin "0,$bad_cpu"
REASON="bad --pin"
refused "--pin to CPU 4096" bench "${QUICK[@]}" -a glibc -w small --pin 4096

# `list lab` shows every backend `bench --allocator lab:NAME` takes.
out=$("$HEAPLAB" list lab)
for name in bump firstfit segfit buddy slab span firstfit-next firstfit-best vt-glibc; do
    check "list lab shows $name" grep -q "^$name " <<<"$out"
done

finish
