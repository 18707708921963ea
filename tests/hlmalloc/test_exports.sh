#!/usr/bin/env bash
# tests/hlmalloc/test_exports.sh LIB: libhlmalloc.so exports exactly the names of
# src/hlmalloc/exports.map (the malloc family and hl_*), nothing internal.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
nm -D --defined-only "$LIB" | awk '{print $3}' | sort >"$TMP/got"
# The names the map lists (hl_* expanded from include/hlmalloc.h's declarations).
sed -n 's/.*\b\(hl_[a-z0-9_]*\)(.*/\1/p' "$ROOT/include/hlmalloc.h" | sort -u >"$TMP/hl"
tr ' ;' '\n\n' <"$ROOT/src/hlmalloc/exports.map" | grep -E '^[a-z_0-9]+$' | grep -v -E '^(global|local)$' |
    cat - "$TMP/hl" | sort -u >"$TMP/want"
check "exported names equal exports.map + hlmalloc.h" diff -u "$TMP/want" "$TMP/got"
check "no hli_ or internal name leaks" \
    bash -c "! grep -vxF -f '$TMP/hl' '$TMP/got' | grep -qE '^(hli_|hl_os_|hl_segment|hl_page|hl_heap)'"
check "malloc is defined" grep -qx malloc "$TMP/got"
finish
