#!/usr/bin/env bash
# `heaplab help CMD` is `heaplab CMD --help`, every command's --help lists its options, and
# docs/cli.md documents exactly those options (check_docs.py diffs the names).
source "$(dirname "$0")/lib.sh"

for cmd in $("$HEAPLAB" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    "$HEAPLAB" help "$cmd" >"$TMP/a" 2>&1; rc1=$?
    "$HEAPLAB" "$cmd" --help >"$TMP/b" 2>&1; rc2=$?
    check "help $cmd exits 0" [ $rc1 -eq 0 ]
    check "help $cmd = $cmd --help" cmp -s "$TMP/a" "$TMP/b"
    check "$cmd --help has a usage line" grep -q "^usage: heaplab $cmd" "$TMP/a"
    check "$cmd --help lists its options" grep -q "^options:" "$TMP/a"
done
expect_usage "help of an unknown command" help frobnicate
python3 "$TESTS_DIR/cli/check_docs.py" "$HEAPLAB" "$ROOT/docs/cli.md" >"$TMP/diff"
check "docs/cli.md lists the options --help lists" [ $? -eq 0 ]
cat "$TMP/diff"
finish
