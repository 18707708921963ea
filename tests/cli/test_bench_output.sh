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

finish
