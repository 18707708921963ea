#!/usr/bin/env bash
# Allocator libraries that cannot serve as malloc are diagnosed before the run, one line
# each: a missing file, a file that is not an ELF shared object, a shared object that
# defines no malloc, one that fails to load. The run goes on with the others; with none
# left it fails before anything is measured.
source "$(dirname "$0")/lib.sh"

QUICK=(bench --workload small --ops 2000 --repeat 1 --no-latency)

libz=""
for f in /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 \
         /lib/aarch64-linux-gnu/libz.so.1 /usr/lib64/libz.so.1 /lib64/libz.so.1; do
    if [ -e "$f" ]; then libz=$f; break; fi
done
check "libz is installed" [ -n "$libz" ]

# A library that defines malloc but needs a library that is gone: ld.so cannot load it.
cat >"$TMP/dep.c" <<'C'
int dep_value = 1;
C
cat >"$TMP/needs.c" <<'C'
#include <stddef.h>
extern int dep_value;
void *__libc_malloc(size_t);
void *malloc(size_t n) { return __libc_malloc(n + (size_t)(dep_value - 1)); }
C
cc -shared -fPIC -o "$TMP/libdep.so" "$TMP/dep.c" &&
    cc -shared -fPIC -o "$TMP/libneeds.so" "$TMP/needs.c" -L"$TMP" -ldep
check "built a library with a missing dependency" [ -e "$TMP/libneeds.so" ]
rm -f "$TMP/libdep.so"

bad="ghost=$TMP/nosuch.so,text=/etc/passwd,nomalloc=$libz,noload=$TMP/libneeds.so"
"$HEAPLAB" "${QUICK[@]}" --allocator "glibc,$bad" --json "$TMP/r.json" >"$TMP/out" 2>"$TMP/err"
check "the run goes on with glibc (exit 0)" [ $? -eq 0 ]
check "one line per bad allocator" [ "$(wc -l <"$TMP/err")" -eq 4 ]
check "missing file" grep -q "^heaplab: warning: ghost: $TMP/nosuch.so: no such file$" "$TMP/err"
check "not an ELF shared object" \
    grep -q "^heaplab: warning: text: /etc/passwd: not an ELF shared object$" "$TMP/err"
check "defines no malloc" grep -q "^heaplab: warning: nomalloc: .*libz.*: defines no malloc$" "$TMP/err"
check "fails to load, with the loader's reason" \
    grep -q "^heaplab: warning: noload: $TMP/libneeds.so: cannot be loaded: libdep.so: cannot open" "$TMP/err"
check "results validate" validate results-2.schema.json "$TMP/r.json"
check "bad allocators never ran; their cells say why" /usr/bin/python3 - "$TMP/r.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
cells = {c["allocator"]: c for c in d["results"]}
ok = cells["glibc"]["status"] == "ok"
for name in ("ghost", "text", "nomalloc", "noload"):
    c = cells[name]
    ok &= c["status"] == "missing" and c["runs"] == [] and c["note"].startswith("/")
sys.exit(0 if ok else 1)
PY
check "the table says missing" grep -q "^small .*missing" "$TMP/out"

# Nothing left to run: one line per allocator, then exit 1 before any measurement.
"$HEAPLAB" "${QUICK[@]}" --allocator "$bad" >"$TMP/out" 2>"$TMP/err"
check "none left: exits 1" [ $? -eq 1 ]
check "none left: says so" grep -q "^heaplab: no allocator left to run$" "$TMP/err"
check "none left: nothing measured" [ ! -s "$TMP/out" ]
finish
