#!/usr/bin/env bash
# tests/build/test_only_hlmalloc.sh SOURCE_DIR CMAKE CC: -DHEAPLAB_ONLY_HLMALLOC=ON builds
# the allocator alone, on a machine where pkg-config finds no cJSON (nor anything else).
set -u
SRC=${1:?usage: test_only_hlmalloc.sh SOURCE_DIR CMAKE CC}
CMAKE=${2:?}
CC=${3:?}
source "$(dirname "$0")/../check.sh"
TMP=$(mktemp -d /tmp/heaplab-only.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH=""
unset MAKEFLAGS MFLAGS MAKELEVEL

"$CMAKE" -S "$SRC" -B "$TMP/b" -DCMAKE_C_COMPILER="$CC" -DHEAPLAB_ONLY_HLMALLOC=ON \
    -DHEAPLAB_WERROR=ON -DCMAKE_INSTALL_PREFIX="$TMP/prefix" >"$TMP/log" 2>&1
check "configures without cJSON" [ $? -eq 0 ]
"$CMAKE" --build "$TMP/b" -j 2 >>"$TMP/log" 2>&1
check "builds" [ $? -eq 0 ]
check "libhlmalloc.so built" [ -f "$TMP/b/libhlmalloc.so" ]
check "libhlmalloc.a built" [ -f "$TMP/b/libhlmalloc.a" ]
check "libhlmalloc-secure.so built" [ -f "$TMP/b/libhlmalloc-secure.so" ]
check "no heaplab binary" [ ! -e "$TMP/b/heaplab" ]
check "no heaplab target" bash -c "! '$CMAKE' --build '$TMP/b' --target heaplab >/dev/null 2>&1"
[ $FAIL -eq 0 ] || tail -20 "$TMP/log" >&2
finish
