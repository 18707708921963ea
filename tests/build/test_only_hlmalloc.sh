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

# It installs the allocator only: the libraries, hlmalloc.h, hlmalloc.pc, the CMake package
# and hlmalloc.md.
"$CMAKE" --install "$TMP/b" >>"$TMP/log" 2>&1
check "installs" [ $? -eq 0 ]
(cd "$TMP/prefix" && find . -type f | sort) >"$TMP/files"
for f in include/hlmalloc.h libhlmalloc.so libhlmalloc.a libhlmalloc-secure.so \
    pkgconfig/hlmalloc.pc cmake/hlmalloc/hlmallocConfig.cmake share/doc/heaplab/hlmalloc.md; do
    check "installed: $f" grep -q "/$f$" "$TMP/files"
done
check "installed: no heaplab" bash -c "! grep -q 'bin/\|lib/heaplab/\|README' '$TMP/files'"
[ $FAIL -eq 0 ] || tail -20 "$TMP/log" >&2
finish
