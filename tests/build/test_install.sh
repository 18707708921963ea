#!/usr/bin/env bash
# tests/build/test_install.sh BUILD_DIR CMAKE CC: `cmake --install` of a built tree into a
# staging directory (DESTDIR) under a prefix. Then, from there: a C program links hlmalloc
# through pkg-config and through CMake's find_package(hlmalloc) and gets hlmalloc's malloc;
# the installed heaplab finds its helper libraries in $prefix/lib/heaplab (hlmalloc is
# proven to be the malloc of `heaplab run`, `heaplab record` records).
set -u
BUILD=${1:?usage: test_install.sh BUILD_DIR CMAKE CC}
CMAKE=${2:?}
CC=${3:?}
source "$(dirname "$0")/../check.sh"
TMP=$(mktemp -d /tmp/heaplab-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
unset MAKEFLAGS MFLAGS MAKELEVEL PKG_CONFIG_PATH CMAKE_PREFIX_PATH LD_LIBRARY_PATH

PREFIX=/opt/heaplab-test
ROOT=$TMP/stage$PREFIX
DESTDIR=$TMP/stage "$CMAKE" --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1
check "cmake --install succeeds" [ $? -eq 0 ]
check "installs under DESTDIR/prefix" [ -d "$ROOT" ]
if [ ! -d "$ROOT" ]; then
    cat "$TMP/install.log" >&2
    finish
    exit 1
fi

# The library directory: lib, or lib/<multiarch> (GNUInstallDirs).
pc=$(find "$ROOT" -name hlmalloc.pc | head -1)
LIBDIR=$(dirname "$(dirname "${pc:-$ROOT/lib/pkgconfig/x}")")
check "bin/heaplab" [ -x "$ROOT/bin/heaplab" ]
for f in libheaplab-probe.so libheaplab-trace.so libhlmalloc.so; do
    check "lib/heaplab/$f" [ -f "$LIBDIR/heaplab/$f" ]
done
for f in libhlmalloc.so libhlmalloc.a libhlmalloc-secure.so pkgconfig/hlmalloc.pc \
    cmake/hlmalloc/hlmallocConfig.cmake cmake/hlmalloc/hlmallocConfigVersion.cmake; do
    check "lib/$f" [ -f "$LIBDIR/$f" ]
done
check "include/ holds hlmalloc.h only" [ "$(ls "$ROOT/include" 2>&1)" = hlmalloc.h ]
check "docs: share/doc/heaplab/README.md" [ -f "$ROOT/share/doc/heaplab/README.md" ]
check "docs: share/doc/heaplab/hlmalloc.md" [ -f "$ROOT/share/doc/heaplab/hlmalloc.md" ]
check "no static library of heaplab's own installed" \
    bash -c "! find '$ROOT' -name 'libhl_*' | grep -q ."

# A program whose malloc must be hlmalloc's: hl_usable_size is 0 for any block hlmalloc
# does not own.
cat >"$TMP/prog.c" <<'EOF'
#include <hlmalloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *p = malloc(100);
    size_t usable = hl_usable_size(p);
    printf("%s usable %zu\n", hl_version(), usable);
    free(p);
    return usable >= 100 ? 0 : 1;
}
EOF

# --- pkg-config (the .pc file finds its prefix from its own place, so DESTDIR works).
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
flags=$(pkg-config --cflags --libs hlmalloc 2>"$TMP/err")
check "pkg-config knows hlmalloc" [ $? -eq 0 ]
check "pkg-config: version" [ "$(pkg-config --modversion hlmalloc)" = "$(
    sed -n 's/^project(heaplab VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../../CMakeLists.txt")" ]
# shellcheck disable=SC2086 # the flags are words
"$CC" -std=c11 -o "$TMP/prog-pc" "$TMP/prog.c" $flags 2>"$TMP/err"
rc=$?
check "pkg-config: the program builds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$TMP/err" >&2
LD_LIBRARY_PATH=$LIBDIR "$TMP/prog-pc" >"$TMP/out" 2>&1
check "pkg-config: malloc is hlmalloc's" [ $? -eq 0 ]
check "pkg-config: hl_version" grep -q "^hlmalloc [0-9]" "$TMP/out"
unset PKG_CONFIG_PATH

# --- CMake: find_package(hlmalloc), shared and static imported targets.
mkdir -p "$TMP/proj"
cp "$TMP/prog.c" "$TMP/proj/"
# A shared library that calls the standard functions a program linked with the static
# library may never name itself: they must be hlmalloc's too, not the C library's (the
# static library's malloc pulls the rest of the standard names in with it).
cat >"$TMP/proj/use.c" <<'EOF'
#include <malloc.h>
#include <stdlib.h>

void *use_memalign(size_t *usable)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, 100) != 0) return NULL;
    *usable = malloc_usable_size(p);
    return p;
}
EOF
cat >"$TMP/proj/prog_lib.c" <<'EOF'
#include <hlmalloc.h>
#include <stdio.h>
#include <stdlib.h>

void *use_memalign(size_t *usable);

int main(void)
{
    void *p = malloc(100);
    size_t usable = 0;
    void *q = use_memalign(&usable);
    size_t ours = hl_usable_size(q);
    printf("memalign block usable %zu, hlmalloc says %zu\n", usable, ours);
    free(q);
    free(p);
    return q != NULL && ours >= 100 && usable == ours ? 0 : 1;
}
EOF
cat >"$TMP/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(use_hlmalloc C)
find_package(hlmalloc 0.1 REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog PRIVATE hlmalloc::hlmalloc)
add_executable(prog_static prog.c)
target_link_libraries(prog_static PRIVATE hlmalloc::hlmalloc_static)
add_library(use SHARED use.c)
add_executable(prog_static_lib prog_lib.c)
target_link_libraries(prog_static_lib PRIVATE use hlmalloc::hlmalloc_static)
EOF
"$CMAKE" -S "$TMP/proj" -B "$TMP/proj/b" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_PREFIX_PATH="$ROOT" >"$TMP/cmake.log" 2>&1 &&
    "$CMAKE" --build "$TMP/proj/b" >>"$TMP/cmake.log" 2>&1
rc=$?
check "find_package(hlmalloc): the program builds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -15 "$TMP/cmake.log" >&2
"$TMP/proj/b/prog" >/dev/null 2>&1
check "hlmalloc::hlmalloc: malloc is hlmalloc's" [ $? -eq 0 ]
check "hlmalloc::hlmalloc: the installed library is loaded" \
    bash -c "ldd '$TMP/proj/b/prog' | grep -qF '$LIBDIR/libhlmalloc.so'"
"$TMP/proj/b/prog_static" >/dev/null 2>&1
check "hlmalloc::hlmalloc_static: malloc is hlmalloc's" [ $? -eq 0 ]
check "hlmalloc::hlmalloc_static: no shared hlmalloc" \
    bash -c "! ldd '$TMP/proj/b/prog_static' | grep -q hlmalloc"
"$TMP/proj/b/prog_static_lib" >"$TMP/static_lib.out" 2>&1
check "hlmalloc::hlmalloc_static: a shared library's posix_memalign is hlmalloc's" [ $? -eq 0 ]
cat "$TMP/static_lib.out"

# --- The installed heaplab, run from the staging directory (nothing of the build tree).
HL=$ROOT/bin/heaplab
check "installed heaplab --version" grep -q "^heaplab [0-9]" <<<"$("$HL" --version)"
"$HL" list allocators >"$TMP/list" 2>&1
check "list allocators: hlmalloc ok from lib/heaplab" \
    grep -qE "^hlmalloc +ok +[0-9.]+ +$LIBDIR/heaplab/libhlmalloc.so$" "$TMP/list"
"$HL" run -a hlmalloc -r 1 --json "$TMP/run.json" -- /bin/true >"$TMP/run.out" 2>&1
check "run -a hlmalloc: succeeds" [ $? -eq 0 ]
check "run: no helper missing" bash -c "! grep -q 'missing\|not built' '$TMP/run.out'"
check "run: the preload of hlmalloc is verified" python3 -c "
import json, sys
a = json.load(open('$TMP/run.json'))['allocators'][0]
r = a['runs'][0]
sys.exit(not (a['path'] == '$LIBDIR/heaplab/libhlmalloc.so' and r['status'] == 'ok'
              and r['preload_verified']))"
(cd "$TMP" && "$HL" record -o "$TMP/true.trace" -- /bin/true) >"$TMP/rec.out" 2>&1
check "record: succeeds" [ $? -eq 0 ]
check "record: trace readable" "$HL" trace info "$TMP/true.trace"
[ $FAIL -eq 0 ] || cat "$TMP/list" "$TMP/run.out" "$TMP/rec.out" >&2
finish
