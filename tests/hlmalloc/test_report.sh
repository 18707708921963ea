#!/usr/bin/env bash
# tests/hlmalloc/test_report.sh LIB MISUSE: the default build reports what it detects.
# A program that double frees five blocks (MISUSE double-free-small-repeated) under
# LD_PRELOAD=LIB gets one "hlmalloc:" line on stderr and runs on; HLMALLOC_VERBOSE=0: no
# line; HLMALLOC_VERBOSE=2: one line each; HLMALLOC_ABORT_ON_ERROR=1: one line and SIGABRT.
source "$(dirname "$0")/lib.sh"
PROG=${2:?usage: test_report.sh LIB MISUSE}

# run CASE [VAR=VALUE...]: runs the misuse program; sets rc, and TMP/err holds its stderr.
run() {
    local c=$1
    shift
    { # the braces catch the shell's own "Aborted" notice
        (
            ulimit -c 0
            exec timeout 30 env "$@" "LD_PRELOAD=$LIB" "$PROG" "$c" >/dev/null 2>"$TMP/err"
        )
        rc=$?
    } 2>/dev/null
}
lines() { grep -c '' "$TMP/err"; }

run double-free-small-repeated
check "default: runs on" [ "$rc" -eq 0 ]
check "default: one line for five double frees" [ "$(lines)" -eq 1 ]
check "default: it names a double free" grep -q '^hlmalloc: ignored double free of 0x' "$TMP/err"

run invalid-free-stack
check "invalid free: runs on" [ "$rc" -eq 0 ]
check "invalid free: one line naming it" grep -q '^hlmalloc: ignored free of 0x.*not allocated' "$TMP/err"

run double-free-small-repeated HLMALLOC_VERBOSE=0
check "VERBOSE=0: runs on" [ "$rc" -eq 0 ]
check "VERBOSE=0: nothing on stderr" [ ! -s "$TMP/err" ]

run double-free-small-repeated HLMALLOC_VERBOSE=2
check "VERBOSE=2: a line for each of the five" [ "$(lines)" -eq 5 ]

run double-free-small-repeated HLMALLOC_ABORT_ON_ERROR=1
check "ABORT_ON_ERROR=1: SIGABRT" [ "$rc" -eq 134 ]
check "ABORT_ON_ERROR=1: one line" [ "$(lines)" -eq 1 ]
check "ABORT_ON_ERROR=1: it names a double free" grep -q '^hlmalloc: double free: 0x' "$TMP/err"

run invalid-free-interior HLMALLOC_ABORT_ON_ERROR=1
check "ABORT_ON_ERROR=1, invalid free: SIGABRT" [ "$rc" -eq 134 ]

finish
