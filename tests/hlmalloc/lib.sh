# tests/hlmalloc/lib.sh: helpers for the hlmalloc shell tests. Each script gets a library
# to preload as $1, sources this, calls `check` for each assertion (and `skip` for what
# this machine cannot run), and ends with `finish`, which prints "N passed, N failed" and
# exits non-zero on any failure.
# shellcheck shell=bash disable=SC2034 # LIB, LIBNAME, TMP are for the scripts
set -u
LIB=${1:?usage: test.sh PATH/TO/libhlmalloc.so}
LIB=$(readlink -f "$LIB")
[ -f "$LIB" ] || { echo "no such library: $1" >&2; exit 2; }
LIBNAME=$(basename "$LIB")
TMP=$(mktemp -d /tmp/heaplab-hlmalloc.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# hlmalloc's options must not change what a program prints.
for v in $(compgen -e); do
    case $v in HLMALLOC_*) unset "$v" ;; esac
done
export LC_ALL=C
source "$(dirname "${BASH_SOURCE[0]}")/../check.sh"

# same_files NAME A B: A and B are identical; else shows the start of the difference.
same_files() {
    if cmp -s "$2" "$3"; then
        PASS=$((PASS + 1))
    else
        FAIL=$((FAIL + 1))
        echo "FAIL: $1: $2 and $3 differ" >&2
        diff "$2" "$3" | head -5 >&2
    fi
}
