#!/usr/bin/env bash
# tests/hlmalloc/test_secure.sh LIB_SECURE: the secure build catches heap misuse. Under
# LD_PRELOAD=LIB_SECURE a program that double frees, frees a pointer it never got (stack,
# interior, mmap) or writes to freed memory and allocates again must be killed by SIGABRT
# (status 134) after printing exactly one stderr line that starts with "hlmalloc:" and
# names the pointer in hex (also one byte past the new end of a block realloc kept in
# place). A program that does nothing wrong runs as without the preload.
source "$(dirname "$0")/lib.sh"

cat >"$TMP/misuse.c" <<'EOF'
#define _DEFAULT_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Keeps the compiler from reasoning about the pointer. */
static void *volatile sink;
static void *hide(void *p) { sink = p; return sink; }

/* The pointer the allocator must name, on stdout before the misuse. */
static void *target(void *p)
{
    printf("ptr %p\n", p);
    fflush(stdout);
    return p;
}

static int ok(void)
{
    void *v[1000];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 1000; i++) {
            v[i] = malloc((size_t)(i * 37 % 5000) + 1);
            memset(v[i], i, (size_t)(i * 37 % 5000) + 1);
        }
        for (int i = 0; i < 1000; i += 2)
            v[i] = realloc(v[i], (size_t)i * 3 + 100);
        for (int i = 0; i < 1000; i++)
            free(v[i]);
    }
    /* Large blocks freed, out of the quarantine and handed out again at the same place,
     * their first bytes untouched (a stale free-block mark there once read as a double
     * free when they left the quarantine again). */
    for (int i = 0; i < 300; i++) {
        char *l = hide(malloc(300000 + (size_t)(i % 3) * 4096));
        l[0] = 1;
        free(l);
    }
    void *a = aligned_alloc(4096, 10000), *c = calloc(100, 100), *h = malloc(64 << 20);
    memset(h, 1, 1 << 20);
    free(a);
    free(c);
    free(h);
    puts("ok");
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "ok";
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!strcmp(what, "ok"))
        return ok();
    if (!strcmp(what, "double-free")) {
        char *p = target(hide(malloc(64)));
        free(p);
        free(hide(p));
    } else if (!strcmp(what, "double-free-later")) {
        char *p = target(hide(malloc(64))), *q = malloc(64);
        free(p);
        free(q);
        free(hide(p));
    } else if (!strcmp(what, "double-free-large")) {
        char *p = target(hide(malloc(256 << 10)));
        free(p);
        free(hide(p));
    } else if (!strcmp(what, "double-free-huge")) {
        char *p = target(hide(malloc(64 << 20)));
        free(p);
        free(hide(p));
    } else if (!strcmp(what, "invalid-free-stack")) {
        long words[8] = { 0 };
        free(target(hide(&words[2])));
    } else if (!strcmp(what, "invalid-free-interior")) {
        char *p = hide(malloc(64));
        free(target(hide(p + 8)));
    } else if (!strcmp(what, "invalid-free-mmap")) {
        char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        free(target(hide(m + page)));
    } else if (!strcmp(what, "write-after-free") || !strcmp(what, "write-after-free-link")) {
        /* Freed, written (after the free-list link, or over it), then the size reused. */
        size_t at = strcmp(what, "write-after-free-link") ? 16 : 0;
        char *p = target(hide(malloc(64)));
        free(p);
        memset((char *)hide(p) + at, 'X', 8);
        for (int i = 0; i < 100000; i++)
            hide(malloc(64));
    } else if (!strcmp(what, "write-after-free-tail")) {
        /* One bit of the last byte of a block of a medium page, changed after its free. */
        char *p = target(hide(malloc(10000)));
        size_t n = malloc_usable_size(p);
        free(p);
        ((char *)hide(p))[n - 1] ^= 1;
        for (int i = 0; i < 1000; i++)
            hide(malloc(10000));
    } else if (!strcmp(what, "realloc-shrink-overflow") || !strcmp(what, "realloc-grow-overflow")) {
        /* A realloc that stays in place (same block) moves the requested end: one byte
         * past the new end is an overflow. */
        int grow = !strcmp(what, "realloc-grow-overflow");
        char *p = hide(malloc(grow ? 50 : 100));
        char *q = target(hide(realloc(p, grow ? 56 : 60)));
        if (q != p) {
            puts("moved");
            fflush(stdout);
        }
        q[grow ? 56 : 60] = 'X';
        free(hide(q));
    } else {
        fprintf(stderr, "unknown case %s\n", what);
        return 2;
    }
    puts("survived");
    return 0;
}
EOF
cc -O0 -w -fno-builtin -o "$TMP/misuse" "$TMP/misuse.c"

# names_pointer LINE PTR: LINE holds PTR as a hex number (any case, leading zeros).
names_pointer() {
    local tok want=$((16#${2#0x}))
    for tok in $(grep -oE '0[xX][0-9a-fA-F]+' <<<"$1"); do
        [ $((16#${tok#0[xX]})) -eq "$want" ] && return 0
    done
    return 1
}

# expect_abort CASE: the misuse CASE aborts with one "hlmalloc:" line naming its pointer.
expect_abort() {
    local c=$1 rc ptr line
    { # the braces catch the shell's own "Aborted" notice
        (
            ulimit -c 0
            exec timeout 30 env "LD_PRELOAD=$LIB" "$TMP/misuse" "$c" >"$TMP/$c.out" 2>"$TMP/$c.err"
        )
        rc=$?
    } 2>/dev/null
    ptr=$(sed -n 's/^ptr //p' "$TMP/$c.out")
    line=$(head -1 "$TMP/$c.err")
    if [ "$rc" -ne 134 ]; then
        echo "  $c: exit status $rc, not 134 (SIGABRT); stdout: $(tr '\n' ' ' <"$TMP/$c.out")" >&2
    fi
    check "$c: killed by SIGABRT" [ "$rc" -eq 134 ]
    check "$c: exactly one line on stderr" [ "$(grep -c '' "$TMP/$c.err")" -eq 1 ]
    check "$c: the line starts with hlmalloc:" [ "${line#hlmalloc:}" != "$line" ]
    check "$c: the line names $ptr" names_pointer "$line" "${ptr:-none}"
    if [ "${line#hlmalloc:}" = "$line" ] || ! names_pointer "$line" "${ptr:-0}"; then
        echo "  $c: stderr was: $(head -3 "$TMP/$c.err")" >&2
    fi
}

# A correct program: same output as without the preload, nothing on stderr.
timeout 60 env "LD_PRELOAD=$LIB" "$TMP/misuse" ok >"$TMP/ok.out" 2>"$TMP/ok.err"
check "correct program: exits 0" [ $? -eq 0 ]
check "correct program: prints ok" grep -qx ok "$TMP/ok.out"
check "correct program: nothing on stderr" [ ! -s "$TMP/ok.err" ]
[ -s "$TMP/ok.err" ] && head -3 "$TMP/ok.err" >&2
env "LD_PRELOAD=$LIB" cat /proc/self/maps >"$TMP/maps"
check "preloaded: $LIBNAME mapped" grep -qF "$LIB" "$TMP/maps"

for c in double-free double-free-later double-free-large double-free-huge invalid-free-stack \
    invalid-free-interior invalid-free-mmap write-after-free write-after-free-link \
    write-after-free-tail realloc-shrink-overflow realloc-grow-overflow; do
    expect_abort "$c"
done
for c in realloc-shrink-overflow realloc-grow-overflow; do
    check "$c: the block stayed in place" sh -c "! grep -q moved '$TMP/$c.out'"
done

finish
