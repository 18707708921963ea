#!/usr/bin/env bash
# Command-line contract: help, usage errors (exit 2, one line, usage, no file written).
source "$(dirname "$0")/lib.sh"

out=$("$HEAPLAB" --help); rc=$?
check "--help exits 0" [ $rc -eq 0 ]
check "--help prints usage on stdout" grep -q "usage: heaplab" <<<"$out"
out=$("$HEAPLAB" bench --help); rc=$?
check "bench --help exits 0" [ $rc -eq 0 ]
check "bench --help lists --workload" grep -q -- "--workload" <<<"$out"
check "run --help exits 0" bash -c "'$HEAPLAB' run --help >/dev/null"
check "list --help exits 0" bash -c "'$HEAPLAB' list --help >/dev/null"
check "--version" grep -q "^heaplab [0-9]" <<<"$("$HEAPLAB" --version)"

"$HEAPLAB" >/dev/null 2>"$TMP/err"; rc=$?
check "no command exits 2" [ $rc -eq 2 ]

# The issue's own example: unknown workload.
"$HEAPLAB" bench --workload unknown --json "$TMP/out.json" >"$TMP/stdout" 2>"$TMP/err"; rc=$?
check "unknown workload exits 2" [ $rc -eq 2 ]
check "unknown workload message" grep -qx 'heaplab: unknown workload "unknown" (try '"'"'heaplab list workloads'"'"')' "$TMP/err"
check "unknown workload prints usage" grep -q "^usage: heaplab bench" "$TMP/err"
check "unknown workload writes no file" [ ! -e "$TMP/out.json" ]
check "unknown workload: stdout empty" [ ! -s "$TMP/stdout" ]
check "no temp file left" [ -z "$(ls "$TMP" | grep tmp)" ]

expect_usage "unknown allocator" bench --allocator nosuch --workload small
expect_usage "bad --ops" bench --ops 12x --workload small
expect_usage "zero --ops" bench --ops 0 --workload small
expect_usage "negative --repeat" bench --repeat -1 --workload small
expect_usage "bad threads" bench --threads 0 --workload small
expect_usage "empty list item" bench --workload small,,mixed
expect_usage "unknown option" bench --frobnicate
expect_usage "missing value" bench --workload
expect_usage "extra argument" bench small
expect_usage "allocator with empty path" bench --allocator x= --workload small
expect_usage "unknown command" frobnicate
expect_usage "unknown list" list things
expect_usage "run without command" run
expect_usage "run unknown allocator" run --allocator nosuch -- /bin/true

"$HEAPLAB" run --allocator glibc -- /nonexistent/program >/dev/null 2>"$TMP/err"; rc=$?
check "run of a missing program exits 1" [ $rc -eq 1 ]
check "run of a missing program says so" grep -q "^heaplab: cannot execute" "$TMP/err"

out=$("$HEAPLAB" list workloads)
for w in small medium large large-live mixed churn fragmentation webserver kvstore json-tree \
         redis-cache nginx-requests python-repl adversarial single-size bulk reverse-free \
         random-stress known-live fifo-lifo realloc-grow thread-local producer-consumer \
         shared-pool thread-churn server; do
    check "list shows $w" grep -q "^$w " <<<"$out"
done
out=$("$HEAPLAB" list allocators)
check "list allocators shows glibc ok" grep -q "^glibc  *ok" <<<"$out"
if [ -e "$(dirname "$HEAPLAB")/libhlmalloc.so" ]; then
    # Built beside heaplab: found, preloaded by the probe worker, and its version asked.
    check "list allocators finds hlmalloc, proven and versioned" \
        grep -qE "^hlmalloc +ok +[0-9]+\.[0-9]+\.[0-9]+ +.*libhlmalloc\.so" <<<"$out"
fi
finish
