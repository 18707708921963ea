#!/usr/bin/env bash
# bench and replay command lines: their help (one option table each), and what is refused
# before any worker starts (usage errors exit 2 with one line and the usage; nothing runs).
source "$(dirname "$0")/lib.sh"

# help_rows CMD: the options `heaplab CMD --help` lists, one per line ("-w, --workload LIST").
help_rows() {
    "$HEAPLAB" "$1" --help | sed -nE 's/^  (    )?((-[a-z], )?--[a-z-]+( [A-Z]+)?).*/\2/p'
}

bench_rows="-w, --workload LIST
--trace FILE
-t, --threads LIST
-n, --ops N
-s, --seed S
-a, --allocator LIST
-r, --repeat R
--pin CPUS
--json FILE
--csv FILE
--timeout SEC
--no-latency
-q, --quiet
-h, --help"
# replay is bench without the options that choose what runs.
replay_rows=$(sed '1,5d' <<<"$bench_rows")

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

finish
