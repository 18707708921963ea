# tests/check.sh: the assertion helpers every shell test shares (sourced by tests/cli/lib.sh
# and tests/hlmalloc/lib.sh). `check NAME CMD...` passes when CMD exits 0, `skip WHY` counts
# what this machine cannot run, and `finish` prints "N passed, N failed[, N skipped]" and
# returns non-zero on any failure.
PASS=0
FAIL=0
SKIP=0

check() {
    local name=$1
    shift
    if "$@"; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $name" >&2
    fi
}

skip() {
    SKIP=$((SKIP + 1))
    echo "skip: $*" >&2
}

finish() {
    if [ "$SKIP" -gt 0 ]; then
        echo "$PASS passed, $FAIL failed, $SKIP skipped"
    else
        echo "$PASS passed, $FAIL failed"
    fi
    [ "$FAIL" -eq 0 ]
}
