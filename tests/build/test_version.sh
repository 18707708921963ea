#!/usr/bin/env bash
# tests/build/test_version.sh HEAPLAB SOURCE_DIR CMAKE VERSION COMPILER: `heaplab --version`
# prints the version, the commit it was built from and the compiler; the build step that
# records the commit (cmake/build_info.cmake) says "unknown" outside a git checkout.
set -u
HEAPLAB=${1:?usage: test_version.sh HEAPLAB SOURCE_DIR CMAKE VERSION COMPILER}
SRC=${2:?}
CMAKE=${3:?}
VERSION=${4:?}
COMPILER=${5:?}
source "$(dirname "$0")/../check.sh"
TMP=$(mktemp -d /tmp/heaplab-version.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$HEAPLAB" --version >"$TMP/out" 2>"$TMP/err"
check "--version exits 0" [ $? -eq 0 ]
check "--version: nothing on stderr" [ ! -s "$TMP/err" ]
check "line 1: heaplab VERSION" [ "$(sed -n 1p "$TMP/out")" = "heaplab $VERSION" ]
check "line 3: the compiler" [ "$(sed -n 3p "$TMP/out")" = "compiler $COMPILER" ]
commit=$(sed -n 's/^commit \([0-9a-f]\{12,\}\)\(-dirty\)\{0,1\}$/\1/p' "$TMP/out")
check "line 2: commit HASH[-dirty]" [ -n "$commit" ]
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    check "the commit is one of this repository's" \
        git -C "$SRC" cat-file -e "${commit:-none}^{commit}"
else
    skip "the source is not a git checkout"
fi
[ $FAIL -eq 0 ] || cat "$TMP/out" >&2

# The generator itself: HEAD of a checkout (with -dirty when files differ); "unknown" for a
# directory outside git, even one inside another repository.
gen() { "$CMAKE" -DSOURCE_DIR="$1" -DOUTPUT="$2" "-DCOMPILER=$COMPILER" \
    -P "$SRC/cmake/build_info.cmake"; }
commit_of() { sed -n 's/^#define HEAPLAB_COMMIT "\(.*\)"$/\1/p' "$1"; }
git init -q "$TMP/repo" && git -C "$TMP/repo" -c user.name=t -c user.email=t@t \
    commit -q --allow-empty -m one
head=$(git -C "$TMP/repo" rev-parse --short=12 HEAD)
gen "$TMP/repo" "$TMP/h1.h"
check "generator: HEAD of a checkout" [ "$(commit_of "$TMP/h1.h")" = "$head" ]
check "generator: the compiler" grep -qx "#define HEAPLAB_COMPILER \"$COMPILER\"" "$TMP/h1.h"
echo x >"$TMP/repo/f" && git -C "$TMP/repo" add f
gen "$TMP/repo" "$TMP/h2.h"
check "generator: -dirty with uncommitted changes" [ "$(commit_of "$TMP/h2.h")" = "$head-dirty" ]
mkdir -p "$TMP/plain" "$TMP/repo/sub"
gen "$TMP/plain" "$TMP/h3.h"
check "generator: unknown outside git" [ "$(commit_of "$TMP/h3.h")" = unknown ]
gen "$TMP/repo/sub" "$TMP/h4.h"
check "generator: unknown in another repository's subdirectory" \
    [ "$(commit_of "$TMP/h4.h")" = unknown ]
git -C "$TMP/repo" -c user.name=t -c user.email=t@t commit -q -m two
gen "$TMP/repo" "$TMP/h5.h" && touch -d '2000-01-01' "$TMP/h5.h" && gen "$TMP/repo" "$TMP/h5.h"
check "generator: an unchanged header is not rewritten" \
    [ "$(date -r "$TMP/h5.h" +%Y)" = 2000 ]
finish
