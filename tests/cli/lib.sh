# tests/cli/lib.sh: helpers for the command-line tests. Each test script gets the heaplab
# binary as $1, sources this, calls `check` for each assertion, and ends with `finish`,
# which prints "N passed, N failed" and exits non-zero on any failure.
set -u
HEAPLAB=${1:?usage: test.sh PATH/TO/heaplab}
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$TESTS_DIR/.." && pwd)
TMP=$(mktemp -d /tmp/heaplab-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
source "$TESTS_DIR/check.sh"

# Validate a JSON file against one of docs/schema/*.schema.json.
validate() {
    /usr/bin/python3 "$TESTS_DIR/cli/validate_json.py" "$ROOT/docs/schema/$1" "$2"
}

# `expect_usage NAME ARGS...`: heaplab ARGS exits 2 with a one-line "heaplab: " error first.
expect_usage() {
    local name=$1
    shift
    "$HEAPLAB" "$@" >/dev/null 2>"$TMP/err"
    local rc=$?
    check "$name exits 2" [ $rc -eq 2 ]
    check "$name says why" grep -q "^heaplab: " "$TMP/err"
}
