/*
 * tests/unit/hlmalloc/test_api.c: the hl_ API against its contract (include/hlmalloc.h,
 * glibc semantics): malloc(0), sizes near SIZE_MAX, alignment of every pointer, usable
 * size, alignments 1 B to 1 MiB and invalid ones, realloc across the size ranges, calloc
 * zeroing of reused memory, errno, the sized frees, stats, and frees of pointers hlmalloc
 * never handed out (counted and ignored, never corrupting the heap).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "unit/hlmalloc/hl_compat.h"
#include "unit/hlmalloc/pattern.h"
#include "unit/hlmalloc/resident.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* Hides a constant from the compiler, so it neither folds the call nor warns about it. */
static size_t opaque(size_t n)
{
    volatile size_t v = n;
    return v;
}

static int is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

static size_t page_bytes(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* 1 if the n pointers are pairwise distinct (sorts a copy). */
static int all_distinct(void *const *ptrs, size_t n)
{
    uintptr_t *v = malloc(n * sizeof(*v));
    int ok = 1;
    if (!v) return 0;
    for (size_t i = 0; i < n; i++)
        v[i] = (uintptr_t)ptrs[i];
    qsort(v, n, sizeof(*v), cmp_ptr);
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1]) ok = 0;
    free(v);
    return ok;
}

static void test_api_malloc_zero_returns_unique_pointers(void)
{
    enum { N = 100 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = hl_malloc(opaque(0));
        REQUIRE(p[i] != NULL);
        CHECK(is_aligned(p[i], 16));
    }
    CHECK(all_distinct(p, N));
    for (int i = 0; i < N; i++)
        hl_free(p[i]);

    /* The other entry points with a zero size follow glibc: a unique pointer too. */
    void *c = hl_calloc(opaque(0), 16), *c2 = hl_calloc(16, opaque(0));
    void *a = hl_aligned_alloc(64, opaque(0)), *r = hl_realloc(NULL, opaque(0));
    void *m = NULL;
    CHECK(hl_posix_memalign(&m, 64, opaque(0)) == 0);
    CHECK(c && c2 && a && r && m);
    CHECK(is_aligned(a, 64) && is_aligned(m, 64));
    void *all[] = { c, c2, a, r, m };
    CHECK(all_distinct(all, 5));
    hl_free(c);
    hl_free(c2);
    hl_free(a);
    hl_free(r);
    hl_free(m);
}

/* Each size must fail with NULL and errno ENOMEM; rounding it up must not wrap to small. */
static const size_t huge_sizes[] = {
    SIZE_MAX,        SIZE_MAX - 1,    SIZE_MAX - 15,      SIZE_MAX - 16,
    SIZE_MAX - 4095, SIZE_MAX - 4096, SIZE_MAX - 2 * MiB, SIZE_MAX / 2 + 1,
    SIZE_MAX / 2,    SIZE_MAX / 4,    (size_t)1 << 48,    ((size_t)1 << 48) + 1,
};
#define N_HUGE_SIZES (sizeof(huge_sizes) / sizeof(huge_sizes[0]))

/* 1 if an allocation call failed as it must: NULL and errno ENOMEM. Frees a success. */
static int failed_enomem(const char *call, void *p, size_t n)
{
    if (p == NULL && errno == ENOMEM) return 1;
    fprintf(stderr, "  %s(SIZE_MAX - %zu) = %p, errno %d\n", call, SIZE_MAX - n, p, errno);
    if (p) hl_free(p);
    return 0;
}

static void test_api_huge_sizes_fail_with_enomem(void)
{
    for (size_t i = 0; i < N_HUGE_SIZES; i++) {
        size_t n = opaque(huge_sizes[i]);
        errno = 0;
        CHECK(failed_enomem("malloc", hl_malloc(n), n));
        errno = 0;
        CHECK(failed_enomem("calloc", hl_calloc(1, n), n));
        errno = 0;
        CHECK(failed_enomem("aligned_alloc", hl_aligned_alloc(4096, n), n));
        errno = 0;
        CHECK(failed_enomem("memalign", hl_memalign(MiB, n), n));
        errno = 0;
        CHECK(failed_enomem("valloc", hl_valloc(n), n));
        errno = 0;
        CHECK(failed_enomem("pvalloc", hl_pvalloc(n), n));
        void *out = &out;
        CHECK(hl_posix_memalign(&out, 64, n) == ENOMEM);
        CHECK(out == &out);
    }
}

static void test_api_calloc_overflow_fails_with_enomem(void)
{
    static const size_t pairs[][2] = {
        { SIZE_MAX, 2 },
        { 2, SIZE_MAX },
        { SIZE_MAX / 2 + 1, 2 },
        { (size_t)1 << 32, (size_t)1 << 32 },
        { ((size_t)1 << 32) + 1, ((size_t)1 << 32) - 1 },
        { SIZE_MAX / 16 + 1, 16 },
        { 3, SIZE_MAX / 3 + 1 },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        errno = 0;
        void *p = hl_calloc(opaque(pairs[i][0]), opaque(pairs[i][1]));
        CHECK(p == NULL && errno == ENOMEM);
        if (p) hl_free(p);
    }
}

static void test_api_reallocarray_overflow_keeps_block(void)
{
    unsigned char *p = hl_reallocarray(NULL, 10, 10);
    REQUIRE(p != NULL);
    pattern_fill(p, 100, 7);
    unsigned char *q = hl_reallocarray(p, 20, 10); /* grows: contents kept */
    REQUIRE(q != NULL);
    CHECK(pattern_check(q, 100, 7));
    CHECK(hl_usable_size(q) >= 200);
    p = q;
    pattern_fill(p, 200, 8);
    static const size_t pairs[][2] = {
        { SIZE_MAX / 2, 3 },
        { 3, SIZE_MAX / 2 },
        { (size_t)1 << 33, (size_t)1 << 31 },
        { SIZE_MAX, SIZE_MAX },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        errno = 0;
        q = hl_reallocarray(p, opaque(pairs[i][0]), opaque(pairs[i][1]));
        CHECK(q == NULL && errno == ENOMEM);
        CHECK(pattern_check(p, 200, 8));
    }
    hl_free(p);
}

static void test_api_realloc_to_huge_size_keeps_block(void)
{
    static const size_t sizes[] = { 16, 200, 5000, 100 * KiB, 3 * MiB };
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned char *p = hl_malloc(sizes[s]);
        REQUIRE(p != NULL);
        pattern_fill(p, sizes[s], s);
        for (size_t i = 0; i < N_HUGE_SIZES; i++) {
            errno = 0;
            void *q = hl_realloc(p, opaque(huge_sizes[i]));
            CHECK(q == NULL && errno == ENOMEM);
        }
        CHECK(pattern_check(p, sizes[s], s));
        CHECK(hl_usable_size(p) >= sizes[s]);
        hl_free(p);
    }
}

/* The sizes every pointer is checked at: all of 1..1024, then around powers of two. */
static size_t sizes_upto_4mib(size_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t s = 1; s <= 1024 && n < cap; s++)
        out[n++] = s;
    for (size_t pow = 2 * KiB; pow <= 4 * MiB; pow *= 2) {
        size_t around[] = { pow / 2 + pow / 4 + 3, pow - 1, pow, pow + 1 };
        for (size_t k = 0; k < 4 && n < cap; k++)
            if (around[k] <= 4 * MiB) out[n++] = around[k];
    }
    return n;
}

static void test_api_every_pointer_aligned_usable_and_disjoint(void)
{
    enum { CAP = 1200 };
    static size_t sizes[CAP];
    static unsigned char *p[CAP];
    size_t n = sizes_upto_4mib(sizes, CAP);
    for (size_t i = 0; i < n; i++) {
        p[i] = hl_malloc(sizes[i]);
        REQUIRE(p[i] != NULL);
        CHECK(is_aligned(p[i], 16));
        size_t usable = hl_usable_size(p[i]);
        CHECK(usable >= sizes[i]);
        /* Writable to the last usable byte; each block its own pattern. */
        pattern_fill(p[i], usable, i);
    }
    /* All live at once: an overlap would have overwritten some other block's pattern. */
    for (size_t i = 0; i < n; i++) {
        CHECK(pattern_check(p[i], hl_usable_size(p[i]), i));
        hl_free(p[i]);
    }
}

static void test_api_aligned_allocs_honour_alignment(void)
{
    for (size_t align = 1; align <= MiB; align *= 2) {
        const size_t sizes[] = { 1, 24, align - 1, align, align + 1, 3 * align, 5000 };
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            size_t n = sizes[k] ? sizes[k] : 1;
            unsigned char *a = hl_aligned_alloc(align, n);
            unsigned char *m = hl_memalign(align, n);
            void *pm = NULL;
            int rc = align >= sizeof(void *) ? hl_posix_memalign(&pm, align, n) : -1;
            REQUIRE(a && m);
            CHECK(is_aligned(a, align) && is_aligned(a, 16));
            CHECK(is_aligned(m, align) && is_aligned(m, 16));
            CHECK(hl_usable_size(a) >= n && hl_usable_size(m) >= n);
            pattern_fill(a, hl_usable_size(a), 1);
            pattern_fill(m, hl_usable_size(m), 2);
            if (rc != -1) {
                CHECK(rc == 0 && pm != NULL);
                REQUIRE(pm != NULL);
                CHECK(is_aligned(pm, align) && is_aligned(pm, 16));
                CHECK(hl_usable_size(pm) >= n);
                pattern_fill(pm, hl_usable_size(pm), 3);
                CHECK(pattern_check(a, hl_usable_size(a), 1));
                hl_free(pm);
            }
            CHECK(pattern_check(m, hl_usable_size(m), 2));
            if (!is_aligned(a, align) || !is_aligned(m, align))
                fprintf(stderr, "  align %zu size %zu: %p %p\n", align, n, (void *)a, (void *)m);
            hl_free_aligned_sized(a, align, n);
            hl_free(m);
        }
    }
}

static void test_api_posix_memalign_bad_alignment_is_einval(void)
{
    const size_t bad[] = { 0, 1, 2, 3, sizeof(void *) / 2, 24, 48, 4097, SIZE_MAX, SIZE_MAX / 2 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *out = &out;
        CHECK(hl_posix_memalign(&out, opaque(bad[i]), 64) == EINVAL);
        CHECK(out == &out); /* untouched */
    }
}

/* glibc accepted these until 2.38; hlmalloc follows 2.38 (see hlmalloc.h). */
static void test_api_aligned_alloc_bad_alignment_is_einval(void)
{
    SKIP_IF(HL_TEST_LIBC, "glibc < 2.38 rounds a non-power-of-two alignment up");
    const size_t bad[] = { 0, 3, 24, 48, 4097, SIZE_MAX };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        void *p = hl_aligned_alloc(opaque(bad[i]), 64);
        CHECK(p == NULL && errno == EINVAL);
        if (p) hl_free(p);
    }
}

static void test_api_valloc_pvalloc_are_page_granular(void)
{
    const size_t page = page_bytes();
    const size_t sizes[] = { 1, 100, page - 1, page, page + 1, 3 * page + 5, 100 * KiB, 5 * MiB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *v = hl_valloc(sizes[i]), *pv = hl_pvalloc(sizes[i]);
        REQUIRE(v && pv);
        CHECK(is_aligned(v, page) && is_aligned(pv, page));
        CHECK(hl_usable_size(v) >= sizes[i]);
        size_t rounded = (sizes[i] + page - 1) / page * page;
        CHECK(hl_usable_size(pv) >= rounded);
        pattern_fill(v, sizes[i], 4);
        pattern_fill(pv, rounded, 5); /* pvalloc: the whole rounded size is the caller's */
        CHECK(pattern_check(v, sizes[i], 4));
        hl_free(v);
        hl_free(pv);
    }
}

/* One block through small, medium, large and huge sizes and back, contents kept. */
static void test_api_realloc_chain_keeps_contents(void)
{
    static const size_t chain[] = { 16,     24,      100,     1000,     4000,     20000,    100000,
                                    600000, 2 * MiB, 9 * MiB, 64 * MiB, 63 * MiB, 20 * MiB, 3 * MiB,
                                    300000, 40000,   5000,    700,      48,       16,       1 };
    size_t old = 0;
    unsigned char *p = NULL;
    for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
        unsigned char *q = hl_realloc(p, chain[i]);
        REQUIRE(q != NULL);
        CHECK(is_aligned(q, 16));
        CHECK(hl_usable_size(q) >= chain[i]);
        if (p) {
            size_t keep = old < chain[i] ? old : chain[i];
            if (!pattern_check(q, keep, 100 + i - 1)) {
                fprintf(stderr, "  realloc %zu -> %zu lost contents\n", old, chain[i]);
                CHECK(0);
            }
        }
        pattern_fill(q, chain[i], 100 + i);
        p = q;
        old = chain[i];
    }
    hl_free(p);
}

/* Growing into the usable size needs no move; shrinking back keeps the contents. */
static void test_api_realloc_within_usable_size_stays_in_place(void)
{
    static const size_t sizes[] = { 1, 40, 1000, 30000, 300000, 3 * MiB, 40 * MiB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = hl_malloc(sizes[i]);
        REQUIRE(p != NULL);
        pattern_fill(p, sizes[i], i);
        size_t usable = hl_usable_size(p);
        unsigned char *q = hl_realloc(p, usable);
        /* glibc's mmapped chunks report more usable bytes than their realloc keeps. */
        CHECK(q == p || (HL_TEST_LIBC && sizes[i] >= 128 * KiB));
        REQUIRE(q != NULL);
        CHECK(pattern_check(q, sizes[i], i));
        pattern_fill(q, usable, i);
        q = hl_realloc(q, sizes[i] - sizes[i] / 4);
        REQUIRE(q != NULL);
        CHECK(pattern_check(q, sizes[i] - sizes[i] / 4, i));
        hl_free(q);
    }
}

/* A block shrunk to less than half of it moves to a smaller one: python3 builds each
 * formatted string in a 157-byte buffer and shrinks it to about 58 bytes, and 60,000 of
 * them kept in 160-byte blocks cost it 5.6 MiB. (glibc splits the chunk instead.) */
static void test_api_realloc_shrink_below_half_releases_the_rest(void)
{
    static const size_t shrinks[][2] = { { 157, 58 }, { 1000, 100 }, { 48, 16 }, { 5000, 600 } };
    for (size_t i = 0; i < sizeof(shrinks) / sizeof(shrinks[0]); i++) {
        unsigned char *p = hl_malloc(opaque(shrinks[i][0]));
        REQUIRE(p != NULL);
        pattern_fill(p, shrinks[i][0], i);
        unsigned char *q = hl_realloc(p, opaque(shrinks[i][1]));
        REQUIRE(q != NULL);
        CHECK(pattern_check(q, shrinks[i][1], i));
        size_t usable = hl_usable_size(q);
        CHECK(usable >= shrinks[i][1] && usable < shrinks[i][0]);
        hl_free(q);
    }
}

static void test_api_realloc_null_and_zero_follow_glibc(void)
{
    unsigned char *p = hl_realloc(NULL, 100); /* realloc(NULL, n) is malloc(n) */
    REQUIRE(p != NULL);
    CHECK(is_aligned(p, 16) && hl_usable_size(p) >= 100);
    pattern_fill(p, 100, 9);
    struct hl_stats before, after;
    /* realloc(p, 0) frees p and returns NULL, as glibc does. */
    CHECK(hl_realloc(p, opaque(0)) == NULL);
    unsigned char *big = hl_malloc(4 * MiB);
    REQUIRE(big != NULL);
    hl_stats(&before);
    CHECK(hl_realloc(big, opaque(0)) == NULL);
    hl_stats(&after);
    if (!HL_TEST_LIBC) CHECK(after.allocated_bytes + 4 * MiB <= before.allocated_bytes);
}

static void test_api_realloc_of_aligned_block_keeps_contents(void)
{
    for (size_t align = 64; align <= MiB; align *= 16) {
        unsigned char *p = hl_aligned_alloc(align, 3000);
        REQUIRE(p != NULL);
        pattern_fill(p, 3000, align);
        unsigned char *q = hl_realloc(p, 3 * MiB);
        REQUIRE(q != NULL);
        CHECK(pattern_check(q, 3000, align));
        q = hl_realloc(q, 100);
        REQUIRE(q != NULL);
        CHECK(pattern_check(q, 100, align));
        hl_free(q);
    }
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* calloc must zero memory that was used and freed, not only fresh pages. */
static void test_api_calloc_zeroes_reused_memory(void)
{
    static const size_t sizes[] = { 1,    8,     24,    64,     100, 500,    1000,
                                    4000, 10000, 65536, 300000, MiB, 5 * MiB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        int rounds = n >= MiB ? 4 : 20;
        for (int r = 0; r < rounds; r++) {
            unsigned char *d = hl_malloc(n);
            REQUIRE(d != NULL);
            memset(d, 0xff, hl_usable_size(d));
            hl_free(d);
            unsigned char *z;
            if (r % 3 == 0)
                z = hl_calloc(1, n);
            else if (r % 3 == 1)
                z = hl_calloc(n, 1);
            else
                z = hl_calloc((n + 7) / 8, 8);
            REQUIRE(z != NULL);
            CHECK(is_aligned(z, 16));
            if (!all_zero(z, n)) {
                fprintf(stderr, "  calloc(%zu) round %d not zeroed\n", n, r);
                CHECK(0);
                hl_free(z);
                break;
            }
            memset(z, 0xff, n);
            hl_free(z);
        }
    }
    /* Many live dirty blocks freed at once, then calloc'd back. */
    enum { N = 500 };
    unsigned char *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = hl_malloc(48);
        REQUIRE(v[i] != NULL);
        memset(v[i], 0xa5, 48);
    }
    for (int i = 0; i < N; i++)
        hl_free(v[i]);
    for (int i = 0; i < N; i++) {
        v[i] = hl_calloc(6, 8);
        REQUIRE(v[i] != NULL);
        CHECK(all_zero(v[i], 48));
    }
    for (int i = 0; i < N; i++)
        hl_free(v[i]);
}

static void test_api_free_null_and_errno(void)
{
    errno = EILSEQ;
    hl_free(NULL);
    hl_free_sized(NULL, 0);
    hl_free_aligned_sized(NULL, 64, 0);
    CHECK(errno == EILSEQ);
    CHECK(hl_usable_size(NULL) == 0);

    static const size_t sizes[] = { 8, 100, 3000, 70000, 600000, 5 * MiB, 80 * MiB };
    enum { N = 64 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p[N];
        int n = sizes[i] >= MiB ? 3 : N;
        for (int k = 0; k < n; k++) {
            p[k] = hl_malloc(sizes[i]);
            REQUIRE(p[k] != NULL);
            memset(p[k], 1, sizes[i] < 4096 ? sizes[i] : 4096);
        }
        for (int k = 0; k < n; k++) {
            errno = EILSEQ;
            hl_free(p[k]);
            CHECK(errno == EILSEQ);
        }
    }
    hl_collect();
}

static void test_api_sized_frees_release_blocks(void)
{
    struct hl_stats before, after;
    hl_stats(&before);
    static const size_t sizes[] = { 1, 16, 33, 500, 4096, 50000, 700000, 6 * MiB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int k = 0; k < (sizes[i] >= MiB ? 4 : 20); k++) {
            unsigned char *p = hl_malloc(sizes[i]);
            REQUIRE(p != NULL);
            pattern_fill(p, sizes[i], k);
            CHECK(pattern_check(p, sizes[i], k));
            hl_free_sized(p, sizes[i]);
            for (size_t align = 16; align <= 256 * KiB; align *= 8) {
                unsigned char *a = hl_aligned_alloc(align, sizes[i]);
                REQUIRE(a != NULL);
                CHECK(is_aligned(a, align));
                pattern_fill(a, sizes[i], k);
                hl_free_aligned_sized(a, align, sizes[i]);
            }
        }
    }
    hl_stats(&after);
    if (!HL_TEST_LIBC) CHECK(after.allocated_bytes <= before.allocated_bytes + 64 * KiB);
}

static void test_api_version_names_hlmalloc(void)
{
    const char *v = hl_version();
    REQUIRE(v != NULL);
    CHECK(strncmp(v, "hlmalloc", 8) == 0);
    CHECK(strlen(v) > 8);
}

/* allocated_bytes follows what is live, by at least the requested bytes. */
static void test_api_stats_follow_live_bytes(void)
{
    SKIP_IF(HL_TEST_LIBC, "hl_stats is hlmalloc's");
    static const size_t sizes[] = { 24, 100, 1000, 5000, 40000, 300000, 5 * MiB };
    enum { N = 1000 };
    static void *p[N];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = 64 * MiB / sizes[i] < N ? 64 * MiB / sizes[i] : N;
        struct hl_stats before, live, after;
        hl_stats(&before);
        for (size_t k = 0; k < n; k++) {
            p[k] = hl_malloc(sizes[i]);
            REQUIRE(p[k] != NULL);
        }
        hl_stats(&live);
        uint64_t grown = live.allocated_bytes - before.allocated_bytes;
        CHECK(live.allocated_bytes >= before.allocated_bytes + n * sizes[i]);
        CHECK(live.allocated_bytes <= live.mapped_bytes);
        CHECK(live.active_bytes <= live.mapped_bytes);
        CHECK(live.resident_bytes <= live.mapped_bytes);
        CHECK(live.segments >= 1 && live.threads >= 1);
        if (sizes[i] == 100) {
            /* The class serving 100 B (at most 28% rounding) holds at least the n blocks. */
            int found = 0;
            for (int c = 0; c < HL_STATS_CLASSES; c++) {
                const struct hl_class_stats *cs = &live.classes[c];
                if (cs->block_bytes >= 100 && cs->block_bytes <= 128 && cs->blocks >= n
                    && cs->used >= n / 2)
                    found = 1;
            }
            CHECK(found);
        }
        for (size_t k = 0; k < n; k++)
            hl_free(p[k]);
        hl_stats(&after);
        if (after.allocated_bytes > before.allocated_bytes + grown / 8) {
            fprintf(stderr, "  size %zu x %zu: allocated %llu -> %llu -> %llu\n", sizes[i], n,
                    (unsigned long long)before.allocated_bytes,
                    (unsigned long long)live.allocated_bytes,
                    (unsigned long long)after.allocated_bytes);
            CHECK(0);
        }
    }

    /* Huge blocks are mapped one each: anew, or from the cached ones' pages (huge.c). */
    struct hl_stats before, live, after;
    hl_stats(&before);
    void *h1 = hl_malloc(128 * MiB), *h2 = hl_malloc(200 * MiB);
    REQUIRE(h1 && h2);
    hl_stats(&live);
    CHECK_EQ_U64(live.huge_blocks, before.huge_blocks + 2);
    CHECK(live.allocated_bytes >= before.allocated_bytes + 328 * MiB);
    CHECK(live.mapped_bytes + before.huge_cached_bytes >= before.mapped_bytes + 328 * MiB);
    hl_free(h1);
    hl_free(h2);
    hl_stats(&after);
    CHECK_EQ_U64(after.huge_blocks, before.huge_blocks);
    CHECK(after.allocated_bytes <= before.allocated_bytes + MiB);
}

struct captured {
    char text[8192];
    size_t len;
    int calls;
    int arg_ok;
};

static void capture_output(const char *msg, void *arg)
{
    struct captured *c = arg;
    c->calls++;
    c->arg_ok = c->arg_ok || arg == c;
    size_t n = strlen(msg);
    if (n > sizeof(c->text) - 1 - c->len) n = sizeof(c->text) - 1 - c->len;
    memcpy(c->text + c->len, msg, n);
    c->len += n;
    c->text[c->len] = '\0';
}

/* Medium pages are the fewest 64 KiB slices that hold 4 blocks with at most an eighth
 * unused (page.c page_slices): each size with a page in use pins up to a page, so a page
 * holds few blocks. They were 512 KiB, then 256 KiB for every medium size. */
static void test_api_medium_pages_hold_few_blocks(void)
{
    SKIP_IF(HL_TEST_LIBC, "page sizes are hlmalloc's");
    static const struct {
        size_t request, page;
    } cases[] = {
        { 10000, 64 * KiB },   /* 10 KiB blocks: 6 */
        { 14000, 64 * KiB },   /* 14 KiB: 4, 8 KiB unused */
        { 20000, 128 * KiB },  /* 20 KiB: 6 */
        { 40000, 256 * KiB },  /* 40 KiB: 6 (128 KiB holds 3; 192 leaves a sixth) */
        { 48000, 192 * KiB },  /* 48 KiB: 4 */
        { 60000, 256 * KiB },  /* 64 KiB: 4 */
        { 128000, 256 * KiB }, /* 128 KiB: 2; no page holds 4 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        void *p = hl_malloc(opaque(cases[i].request));
        REQUIRE(p != NULL);
        size_t bs = hl_usable_size(p);
        struct hl_stats st;
        hl_stats(&st);
        const struct hl_class_stats *c = NULL;
        for (unsigned k = 0; k < HL_STATS_CLASSES; k++)
            if (st.classes[k].block_bytes == bs) c = &st.classes[k];
        REQUIRE(c != NULL && c->pages > 0);
        uint64_t per_page = c->blocks / c->pages;
        if (per_page != cases[i].page / bs)
            fprintf(stderr, "  %zu-byte blocks: %llu a page, want %zu\n", bs,
                    (unsigned long long)per_page, cases[i].page / bs);
        CHECK(per_page == cases[i].page / bs);
        hl_free(p);
    }
    /* 96 KiB blocks: two in 192 KiB. With no other such block live, one block makes one
     * page active. */
    hl_collect();
    struct hl_stats before, after;
    hl_stats(&before);
    void *p = hl_malloc(opaque(90000));
    REQUIRE(p != NULL);
    CHECK(hl_usable_size(p) == 96 * KiB);
    hl_stats(&after);
    CHECK_EQ_U64(after.active_bytes - before.active_bytes, 192 * KiB);
    hl_free(p);
}

static void test_api_stats_print_goes_to_output_fn(void)
{
    SKIP_IF(HL_TEST_LIBC, "hl_stats_print is hlmalloc's");
    static struct captured c;
    void *p = hl_malloc(100);
    hl_set_output(capture_output, &c);
    hl_stats_print();
    hl_set_output(NULL, NULL);
    CHECK(c.calls > 0 && c.arg_ok);
    CHECK(c.len > 0);
    int calls = c.calls;
    /* Restored: the output goes to stderr again (caught in a file), not to the old fn. */
    FILE *err = tmpfile();
    REQUIRE(err != NULL);
    fflush(stderr);
    int saved = dup(2);
    REQUIRE(saved >= 0);
    dup2(fileno(err), 2);
    hl_stats_print();
    dup2(saved, 2);
    close(saved);
    CHECK(c.calls == calls);
    CHECK(fseek(err, 0, SEEK_END) == 0 && ftell(err) > 0);
    fclose(err);
    hl_free(p);
}

/* Blocks freed by another thread wait on their pages' remote-free lists: hl_stats counts
 * them (issue 20) until the owner collects them. The freeing thread never allocates, so it
 * has no foreign cache: each free goes straight to its page's list. */
enum { REMOTE_BLOCKS = 1000, REMOTE_FREED = 600 };
static void *remote_blocks[REMOTE_BLOCKS];

static void *free_some_remotely(void *arg)
{
    (void)arg;
    for (int i = 0; i < REMOTE_FREED; i++)
        hl_free(remote_blocks[i]);
    return NULL;
}

static void test_api_stats_count_remote_frees_until_collected(void)
{
    SKIP_IF(HL_TEST_LIBC, "hl_stats is hlmalloc's");
    hl_collect();
    struct hl_stats st;
    hl_stats(&st);
    CHECK_EQ_U64(st.remote_free_blocks, 0);
    CHECK_EQ_U64(st.remote_free_max, 0);
    for (int i = 0; i < REMOTE_BLOCKS; i++) {
        remote_blocks[i] = hl_malloc(i % 2 ? 64 : 200);
        REQUIRE(remote_blocks[i] != NULL);
    }
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, free_some_remotely, NULL) == 0);
    pthread_join(t, NULL);
    hl_stats(&st);
    CHECK_EQ_U64(st.remote_free_blocks, REMOTE_FREED);
    CHECK_EQ_U64(st.remote_free_max, REMOTE_FREED); /* all for this thread's heap */
    hl_collect();                                   /* the owner takes them */
    hl_stats(&st);
    CHECK_EQ_U64(st.remote_free_blocks, 0);
    CHECK_EQ_U64(st.remote_free_max, 0);
    for (int i = REMOTE_FREED; i < REMOTE_BLOCKS; i++)
        hl_free(remote_blocks[i]);
}

/* hl_collect returns freed memory to the OS now, not after a delay. */
static void test_api_collect_returns_freed_memory(void)
{
    SKIP_IF(HL_TEST_LIBC, "hl_stats is hlmalloc's");
    enum { N = 8192 };
    static void *p[N];
    struct hl_stats before, peak, after;
    hl_collect();
    hl_stats(&before);
    for (int i = 0; i < N; i++) {
        p[i] = hl_malloc(4000); /* 32 MiB of small blocks */
        REQUIRE(p[i] != NULL);
        memset(p[i], 1, 4000);
    }
    hl_stats(&peak);
    CHECK(peak.resident_bytes >= before.resident_bytes + 30 * MiB);
    for (int i = 0; i < N; i++)
        hl_free(p[i]);
    hl_collect();
    hl_stats(&after);
    /* hlmalloc.h: purges count madvise and munmap calls alike. */
    if (after.purges == before.purges || after.purged_bytes < before.purged_bytes + 16 * MiB) {
        fprintf(stderr,
                "  hl_collect: purges %llu -> %llu, purged_bytes %llu -> %llu, mapped %llu -> "
                "%llu\n",
                (unsigned long long)before.purges, (unsigned long long)after.purges,
                (unsigned long long)before.purged_bytes, (unsigned long long)after.purged_bytes,
                (unsigned long long)peak.mapped_bytes, (unsigned long long)after.mapped_bytes);
        CHECK(0);
    }
    if (after.resident_bytes > before.resident_bytes + 8 * MiB) {
        fprintf(stderr, "  resident %llu -> %llu -> %llu after hl_collect\n",
                (unsigned long long)before.resident_bytes, (unsigned long long)peak.resident_bytes,
                (unsigned long long)after.resident_bytes);
        CHECK(0);
    }
}

/*
 * n blocks of size live at once: pairwise distinct and not overlapping (each filled, up to
 * 256 KiB, and checked after all are filled). 1 if so.
 */
static int blocks_disjoint(size_t size, int n)
{
    const size_t fill = size < 256 * KiB ? size : 256 * KiB;
    void **v = malloc((size_t)n * sizeof(*v));
    int ok = v != NULL;
    for (int i = 0; ok && i < n; i++) {
        v[i] = hl_malloc(size);
        if (!v[i]) {
            n = i;
            ok = 0;
            break;
        }
        pattern_fill(v[i], fill, (uint64_t)i);
    }
    if (ok) ok = all_distinct(v, (size_t)n);
    for (int i = 0; ok && i < n; i++)
        ok = pattern_check(v[i], fill, (uint64_t)i);
    for (int i = 0; v && i < n; i++)
        hl_free(v[i]);
    free(v);
    return ok;
}

/*
 * Frees of pointers hlmalloc never handed out: counted in invalid_frees, ignored, and the
 * heap, including the blocks whose interiors were "freed", left intact.
 */
static void test_api_foreign_free_is_counted_and_ignored(void)
{
    SKIP_IF(HL_TEST_LIBC, "the C library aborts on these frees");
    const size_t page = page_bytes();
    static long static_words[4];
    long stack_words[4] = { 0 };
    unsigned char *map =
            mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *gone = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED && gone != MAP_FAILED);
    munmap(gone, page);
    unsigned char *small = hl_malloc(64), *large = hl_malloc(200 * KiB);
    unsigned char *huge = hl_malloc(130 * MiB);
    void *libc = malloc(64);
    REQUIRE(small && large && huge && libc);
    /* The first two 64 KiB slices of small's 32 MiB segment hold its header and page
     * descriptors, never a block. */
    unsigned char *seg = (unsigned char *)((uintptr_t)small & ~(uintptr_t)(32 * MiB - 1));
    /* hlmalloc_api must not replace malloc: a libc pointer is foreign to it. */
    CHECK(hl_usable_size(libc) == 0);
    CHECK(hl_usable_size(stack_words) == 0);
    CHECK(hl_usable_size(map) == 0);
    size_t us = hl_usable_size(small), ul = hl_usable_size(large), uh = hl_usable_size(huge);
    pattern_fill(small, us, 1);
    pattern_fill(large, ul, 2);
    pattern_fill(huge, 64 * KiB, 3);

    void *bad[] = {
        stack_words,
        static_words,
        map,
        map + 16,
        map + page,
        gone,
        small + 8,
        small + 1,
        small + 32,
        large + 16,
        large + 4096,
        large + 64 * KiB,
        huge + 16,
        huge + page,
        huge + 64 * MiB,
        seg + 16,
        seg + 64 * KiB,
        seg + 70000,
        seg + 128 * KiB - 16,
        libc,
        (void *)(uintptr_t)0x1000,
        (void *)(uintptr_t)0xdeadbeefdeadbee0u,
        (void *)(uintptr_t)(SIZE_MAX - 15),
    };
    const size_t n_bad = sizeof(bad) / sizeof(bad[0]);
    struct hl_stats before, after;
    hl_stats(&before);
    for (size_t i = 0; i < n_bad; i++) {
        errno = EILSEQ;
        hl_free(bad[i]);
        CHECK(errno == EILSEQ);
    }
    hl_stats(&after);
    CHECK_EQ_U64(after.invalid_frees - before.invalid_frees, n_bad);
    CHECK_EQ_U64(after.double_frees, before.double_frees);

    /* The sized frees take the same checks. */
    hl_free_sized(small + 16, 48);
    hl_free_aligned_sized(map, 64, 64);
    hl_stats(&after);
    CHECK_EQ_U64(after.invalid_frees - before.invalid_frees, n_bad + 2);

    /* Nothing was freed: the blocks keep their contents and sizes, and free normally. */
    CHECK(hl_usable_size(small) == us && hl_usable_size(large) == ul);
    CHECK(hl_usable_size(huge) == uh);
    CHECK(pattern_check(small, us, 1));
    CHECK(pattern_check(large, ul, 2));
    CHECK(pattern_check(huge, 64 * KiB, 3));
    for (size_t off = 0; off < uh; off += page) /* still mapped: no fault */
        CHECK(((volatile unsigned char *)huge)[off] == huge[off]);
    /* New blocks fill without touching the old ones: nothing bogus went on a free list. */
    CHECK(blocks_disjoint(64, 512));
    CHECK(blocks_disjoint(16, 512));
    CHECK(blocks_disjoint(200 * KiB, 16));
    CHECK(pattern_check(small, us, 1));
    CHECK(pattern_check(large, ul, 2));
    CHECK(pattern_check(huge, 64 * KiB, 3));
    hl_stats(&before);
    hl_free(small);
    hl_free(large);
    hl_free(huge);
    hl_stats(&after);
    CHECK_EQ_U64(after.invalid_frees, before.invalid_frees);
    CHECK(after.allocated_bytes + 130 * MiB <= before.allocated_bytes);
    CHECK(map[0] == 0);
    free(libc);
    munmap(map, 2 * page);
}

/* A double free is detected and ignored: the block is not handed out twice afterwards. */
static void test_api_double_free_does_not_corrupt_heap(void)
{
    SKIP_IF(HL_TEST_LIBC, "the C library aborts on a double free");
    static const size_t sizes[] = { 16, 48, 600, 3000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct hl_stats before, after;
        void *p = hl_malloc(sizes[i]), *q = hl_malloc(sizes[i]);
        REQUIRE(p && q);
        hl_stats(&before);
        hl_free(p);
        hl_free(p); /* at once */
        p = hl_malloc(sizes[i]);
        REQUIRE(p != NULL);
        hl_free(p);
        hl_free(q);
        hl_free(p); /* after another free of the same size */
        hl_stats(&after);
        CHECK_EQ_U64(after.double_frees - before.double_frees, 2);
        CHECK_EQ_U64(after.invalid_frees, before.invalid_frees);
        if (!blocks_disjoint(sizes[i], 512)) {
            fprintf(stderr, "  size %zu: a block was handed out twice\n", sizes[i]);
            CHECK(0);
        }
    }

    /* Large and huge blocks: the second free is caught as double or invalid. */
    static const size_t big[] = { 200 * KiB, 2 * MiB, 40 * MiB, 150 * MiB };
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        struct hl_stats before, after;
        void *p = hl_malloc(big[i]);
        REQUIRE(p != NULL);
        hl_stats(&before);
        hl_free(p);
        hl_free(p);
        hl_stats(&after);
        CHECK_EQ_U64(after.double_frees + after.invalid_frees,
                     before.double_frees + before.invalid_frees + 1);
        CHECK(blocks_disjoint(big[i], 3));
    }
}

/* A large block grows into the free slices after it and gives back its tail in place. */
static void test_api_realloc_large_resizes_in_place(void)
{
    SKIP_IF(HL_TEST_LIBC, "in-place large realloc is hlmalloc's");
    /* Make room: the only resident free slices are then a run of 16, and p takes the
     * first 4 of them (resident free slices go first). */
    hl_collect();
    hl_free(hl_malloc(opaque(1000000)));
    unsigned char *p = hl_malloc(200000);
    REQUIRE(p != NULL);
    for (int i = 0; i < 200000; i++)
        p[i] = (unsigned char)i;
    unsigned char *q = hl_realloc(p, 1000000);
    REQUIRE(q != NULL);
    CHECK(q == p); /* the free slices after it */
    CHECK(hl_usable_size(q) >= 1000000);
    for (int i = 0; i < 200000; i++)
        if (q[i] != (unsigned char)i) {
            CHECK(q[i] == (unsigned char)i);
            break;
        }
    memset(q + 200000, 7, 800000);
    unsigned char *r = hl_realloc(q, 150000);
    CHECK(r == q);
    CHECK(hl_usable_size(r) >= 150000 && hl_usable_size(r) < 1000000);
    void *blocker = hl_malloc(300000); /* may take the tail just given back */
    unsigned char *t = hl_realloc(r, 2000000);
    REQUIRE(t != NULL);
    for (int i = 0; i < 150000; i++)
        if (t[i] != (unsigned char)i) {
            CHECK(t[i] == (unsigned char)i);
            break;
        }
    hl_free(t);
    hl_free(blocker);
}

/* A large block goes into the shortest run of resident free slices it fits, at that run's
 * end (segment.c find_run_best_end), not at the start of the first. */
static void test_api_large_block_takes_the_shortest_resident_run(void)
{
    SKIP_IF(HL_TEST_LIBC, "slice placement is hlmalloc's");
    const size_t slice = 64 * KiB;
    hl_collect(); /* no resident free slices */
    void *c = hl_malloc(opaque(40 * slice - 4096)), *sep1 = hl_malloc(opaque(6 * slice - 4096));
    void *a = hl_malloc(opaque(20 * slice - 4096)), *sep2 = hl_malloc(opaque(6 * slice - 4096));
    REQUIRE(c && sep1 && a && sep2);
    hl_free(c);
    hl_free(a); /* resident free runs of 40 and 20 slices, in that order */
    void *e = hl_malloc(opaque(15 * slice - 4096));
    REQUIRE(e != NULL);
    if ((uintptr_t)e != (uintptr_t)a + 5 * slice)
        fprintf(stderr, "  15 slices at %p; runs of 40 at %p and 20 at %p\n", e, c, a);
    CHECK((uintptr_t)e == (uintptr_t)a + 5 * slice);
    hl_free(e);
    hl_free(sep1);
    hl_free(sep2);
}

/* A large block that realloc moves to grow leaves no resident run behind (alloc.c:
 * HL_REALLOC_PURGE): a buffer grown step by step does not pile up its old copies. */
static void test_api_realloc_move_returns_the_old_run(void)
{
    SKIP_IF(HL_TEST_LIBC, "purging the old run is hlmalloc's");
    size_t n = 1 * MiB;
    unsigned char *p = hl_malloc(n);
    REQUIRE(p != NULL);
    memset(p, 0x3c, n);
    void *blockers[24];
    int moves = 0, nb = 0;
    /* Until it passes 16 MiB: past 4 MiB it is a huge block, whose pages realloc moves
     * (nothing of the old mapping is left). */
    for (int step = 0; step < 24 && n <= 16 * MiB; step++) {
        blockers[nb++] = hl_malloc(64 * KiB); /* likely right after p: growth must move */
        size_t m = n + n / 4;
        unsigned char *q = hl_realloc(p, m);
        REQUIRE(q != NULL);
        CHECK(q[0] == 0x3c && q[n - 1] == 0x3c);
        memset(q + n, 0x3c, m - n);
        if (q != p) {
            moves++;
            size_t left = resident_pages(p, n);
            if (left != 0) {
                fprintf(stderr, "  step %d: the old %zu KiB run still has %zu pages resident\n",
                        step, n / KiB, left);
                CHECK(left == 0);
            }
        }
        p = q;
        n = m;
    }
    CHECK(moves > 0);
    hl_free(p);
    for (int i = 0; i < nb; i++)
        hl_free(blockers[i]);
}

/* A page the program freed most of, in a scattered order, is handed out again in address
 * order (docs/hlmalloc.md: sorted when the slow path takes it up), so objects allocated one
 * after another ascend through memory. */
static void test_api_bulk_freed_page_comes_back_in_address_order(void)
{
    SKIP_IF(HL_TEST_LIBC, "the reuse order is hlmalloc's");
    enum { N = 4 * 1365 }; /* four 64 KiB pages of 48-byte blocks */
    static unsigned char *p[N];
    static uint32_t order[N];
    for (int i = 0; i < N; i++) {
        p[i] = hl_malloc(48);
        REQUIRE(p[i] != NULL);
        order[i] = (uint32_t)i;
    }
    /* Free all but every 16th block, in a shuffled order (xorshift, fixed seed). */
    uint32_t x = 2463534242u;
    for (int i = N - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        uint32_t j = x % (uint32_t)(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int freed = 0;
    for (int i = 0; i < N; i++) {
        if (order[i] % 16 != 0) {
            hl_free(p[order[i]]);
            p[order[i]] = NULL;
            freed++;
        }
    }
    /* Allocate them back. The first page's worth come from the page malloc was using,
     * whose free list is popped as it stands (LIFO); after it, count the steps that go up
     * by less than a page (within one page, in order) against all steps. */
    static unsigned char *q[N];
    int up = 0, steps = 0;
    for (int i = 0; i < freed; i++) {
        q[i] = hl_malloc(48);
        REQUIRE(q[i] != NULL);
        if (i > 1365) {
            steps++;
            if (q[i] > q[i - 1] && q[i] - q[i - 1] < 65536) up++;
        }
    }
    if (up * 100 < steps * 97) {
        fprintf(stderr, "  %d of %d consecutive allocations ascend\n", up, steps);
        CHECK(0);
    }
    for (int i = 0; i < freed; i++)
        hl_free(q[i]);
    for (int i = 0; i < N; i++)
        hl_free(p[i]);
}

/* The last page of a size, emptied, is kept for its size's reuse; once it has sat unused
 * for HL_KEEP_COLD (48) slow-path calls it gives way to a new page of another size, which
 * takes its slice instead of memory that is not resident. Without that, it stays until the
 * periodic trim (every 64 slow calls) finds it idle for more than 64. Each 8 KiB block here
 * is one slow call (a page carves its blocks 4 KiB at a time) and every 8th a new page. */
static void test_api_cold_kept_page_gives_way_to_a_new_page(void)
{
    SKIP_IF(HL_TEST_LIBC, "kept pages are hlmalloc's");
    enum { N = 200 };
    static void *p[N];
    hl_collect();                      /* no resident free slices, no kept pages */
    void *a = hl_malloc(opaque(6000)); /* a page of its own */
    REQUIRE(a != NULL);
    hl_free(a); /* now kept */
    int landed = -1;
    for (int i = 0; i < N; i++) {
        p[i] = hl_malloc(opaque(8192));
        REQUIRE(p[i] != NULL);
        if (landed < 0 && (uintptr_t)p[i] >> 16 == (uintptr_t)a >> 16) landed = i;
    }
    for (int i = 0; i < N; i++)
        hl_free(p[i]);
    if (landed < 0 || landed >= 64)
        fprintf(stderr, "  the kept page's slice was reused by block %d\n", landed);
    CHECK(landed >= 48 && landed < 64);
}

/* Minor page faults of this process so far. */
static long minor_faults(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_minflt : -1;
}

/* Bytes of sanitizer shadow that touching n bytes faults in (ASan: an eighth), else 0. */
static size_t shadow_bytes(size_t n)
{
    return HL_TEST_SANITIZED ? n / 8 + MiB : 0;
}

/* TSan's shadow and meta memory fault in several times what is touched, unevenly: page
 * fault counts say nothing about the allocator there (ASan's eighth is counted above). */
#if defined(__SANITIZE_THREAD__)
#define FAULTS_COUNT 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FAULTS_COUNT 0
#endif
#endif
#ifndef FAULTS_COUNT
#define FAULTS_COUNT 1
#endif

/* Kernel mappings (lines of /proc/self/maps) that overlap [lo, hi), or -1. */
static long mappings_in(uintptr_t lo, uintptr_t hi)
{
    static char buf[1 << 18];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = 0;
    long count = 0;
    for (char *line = buf; *line;) {
        char *end;
        uintptr_t a = (uintptr_t)strtoull(line, &end, 16);
        uintptr_t b = *end == '-' ? (uintptr_t)strtoull(end + 1, &end, 16) : 0;
        count += a < hi && b > lo;
        char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return count;
}

/* Every 64th byte of [p, p + n), and the last, is v: pages moved whole show in any byte. */
static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i += 64)
        if (p[i] != v) return false;
    return n == 0 || p[n - 1] == v;
}

/*
 * A huge block that no cached one fits is made of the cached ones' pages (huge.c,
 * "Blocks made of freed ones"): writing all of it faults in only what they could not
 * give; a calloc'd one made so reads zero; a block made of pieces is taken apart again
 * along its pieces; the heap checker passes after each step.
 */
static void test_api_huge_block_made_of_freed_ones(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's huge cache");
    hl_collect(); /* an empty huge cache */
    unsigned char *a = hl_malloc(24 * MiB), *b = hl_malloc(24 * MiB);
    REQUIRE(a && b);
    memset(a, 0x5a, 24 * MiB);
    memset(b, 0x5b, 24 * MiB);
    hl_free(a);
    hl_free(b);
    long f0 = minor_faults();
    unsigned char *c = hl_malloc(40 * MiB); /* no cached block within a quarter of it */
    REQUIRE(c != NULL);
    memset(c, 0x5c, 40 * MiB);
    long faulted = minor_faults() - f0;
    if (!FAULTS_COUNT)
        fprintf(stderr, "  SKIPPED under TSan: the page fault count (%ld)\n", faulted);
    else if (faulted > (long)((4 * MiB + shadow_bytes(40 * MiB)) / page_bytes())) {
        fprintf(stderr, "  40 MiB from 48 MiB of freed blocks faulted %ld pages\n", faulted);
        CHECK(0);
    }
    CHECK(hl_heap_check() == 0);
    hl_free(c);
    /* c (three mappings, now cached) and b's rest: a calloc'd block made of both. */
    unsigned char *z = hl_calloc(1, 44 * MiB);
    REQUIRE(z != NULL);
    CHECK(all_bytes(z, 44 * MiB, 0));
    CHECK(hl_heap_check() == 0);
    hl_free(z);
    CHECK(hl_heap_check() == 0);
}

/*
 * Blocks of changing sizes, made of each other's pieces over and over: the contents stay
 * each block's own, and the kernel mappings they are made of stay bounded (at most
 * HL_HUGE_VMAS a block, live or cached), where moving pieces without limit would split
 * them towards vm.max_map_count.
 */
static void test_api_huge_pieces_stay_bounded(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's huge cache");
    hl_collect();
    long maps0 = mappings_in(0, UINTPTR_MAX);
    REQUIRE(maps0 > 0);
    enum { LIVE = 6, ROUNDS = HL_TEST_SANITIZED ? 60 : 300 };
    unsigned char *p[LIVE] = { 0 };
    size_t len[LIVE] = { 0 };
    uint64_t x = 0x9e3779b97f4a7c15u;
    long most = 0;
    for (int r = 0; r < ROUNDS; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(x % LIVE);
        if (p[i]) {
            if (!all_bytes(p[i], len[i], (unsigned char)(i + 1))) {
                fprintf(stderr, "  round %d: block %d (%zu bytes) changed\n", r, i, len[i]);
                CHECK(0);
                break;
            }
            hl_free(p[i]);
        }
        len[i] = (5 + (size_t)(x >> 32) % 28) * MiB; /* 5-32 MiB: huge */
        p[i] = hl_malloc(len[i]);
        REQUIRE(p[i] != NULL);
        memset(p[i], i + 1, len[i]);
        long maps = mappings_in(0, UINTPTR_MAX) - maps0;
        if (maps > most) most = maps;
    }
    CHECK(hl_heap_check() == 0);
    /* Each live block, with its 64 KiB header, lies in at most 15 kernel mappings (the
     * table's HL_HUGE_VMAS): the table records every split its moves make. */
    for (int i = 0; i < LIVE; i++) {
        long in = mappings_in((uintptr_t)p[i] - 64 * KiB, (uintptr_t)p[i] + len[i]);
        if (in < 1 || in > 15) {
            fprintf(stderr, "  block %d (%zu bytes) lies in %ld mappings\n", i, len[i], in);
            CHECK(0);
        }
    }
    /* 6 live and at most 16 cached blocks of at most 15 mappings each (HL_HUGE_VMAS) */
    if (most > (LIVE + 16) * 15) {
        fprintf(stderr, "  %ld mappings more than at the start\n", most);
        CHECK(0);
    }
    for (int i = 0; i < LIVE; i++)
        hl_free(p[i]);
}

/* One thread of huge_blocks_from_threads: blocks of 4-28 MiB made, checked and freed. */
static void *huge_worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg, bad = 0;
    uint64_t x = 0x2545f4914f6cdd1du * (id + 1);
    enum { KEEP = 3 };
    unsigned char *p[KEEP] = { 0 };
    size_t len[KEEP] = { 0 };
    size_t page = page_bytes();
    int rounds = HL_TEST_SANITIZED ? 30 : 150;
    for (int r = 0; r < rounds; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(x % KEEP);
        unsigned char v = (unsigned char)(id * 16 + (unsigned)i + 1);
        if (p[i]) {
            for (size_t o = 0; o < len[i]; o += page)
                bad += p[i][o] != v;
            hl_free(p[i]);
        }
        len[i] = (4 + (size_t)(x >> 40) % 25) * MiB + (size_t)(x >> 20) % MiB;
        p[i] = (x >> 63) ? hl_calloc(1, len[i]) : hl_malloc(len[i]);
        if (!p[i]) return (void *)1;
        if (x >> 63)
            for (size_t o = 0; o < len[i]; o += page)
                bad += p[i][o] != 0;
        for (size_t o = 0; o < len[i]; o += page)
            p[i][o] = v;
    }
    for (int i = 0; i < KEEP; i++)
        hl_free(p[i]);
    return (void *)bad;
}

/*
 * Huge blocks from four threads at once, freed into one cache and made of each other:
 * each thread's blocks keep their bytes, calloc'd ones read zero, and the heap checker
 * passes (a block taken out of the cache to be taken apart goes back into a cache other
 * threads' frees may have filled meanwhile).
 */
static void test_api_huge_blocks_from_threads(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's huge cache");
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, huge_worker, (void *)i) == 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK(bad == NULL);
    }
    CHECK(hl_heap_check() == 0);
}

/*
 * realloc of a huge block moves or grows its pages, never copying them: the contents
 * come through, growing faults no page of them in anew, the old addresses hold nothing
 * resident, and shrinking keeps the head.
 */
static void test_api_huge_realloc_moves_pages(void)
{
    SKIP_IF(HL_TEST_LIBC, "hlmalloc's huge realloc");
    size_t n = 8 * MiB;
    unsigned char *p = hl_malloc(n);
    REQUIRE(p != NULL);
    memset(p, 0x6d, n);
    void *fence = hl_malloc(8 * MiB); /* maybe right after p: then it must move */
    long f0 = minor_faults();
    unsigned char *q = hl_realloc(p, 64 * MiB);
    REQUIRE(q != NULL);
    CHECK(all_bytes(q, n, 0x6d));
    long faulted = minor_faults() - f0;
    if (!FAULTS_COUNT)
        fprintf(stderr, "  SKIPPED under TSan: the page fault count (%ld)\n", faulted);
    else if (faulted > (long)((MiB + shadow_bytes(8 * MiB)) / page_bytes())) {
        fprintf(stderr, "  realloc 8 -> 64 MiB faulted %ld pages\n", faulted);
        CHECK(0);
    }
    if (q != p) {
        size_t left = resident_pages(p, n);
        CHECK(left == 0 || left == SIZE_MAX);
    }
    memset(q + n, 0x6e, 56 * MiB);
    CHECK(hl_heap_check() == 0);
    unsigned char *r = hl_realloc(q, 6 * MiB);
    REQUIRE(r != NULL);
    CHECK(all_bytes(r, 6 * MiB, 0x6d));
    CHECK(hl_usable_size(r) >= 6 * MiB && hl_usable_size(r) < 8 * MiB);
    CHECK(hl_heap_check() == 0);
    hl_free(r);
    hl_free(fence);
    CHECK(hl_heap_check() == 0);
}

int main(void)
{
    RUN_TEST(test_api_cold_kept_page_gives_way_to_a_new_page);
    RUN_TEST(test_api_malloc_zero_returns_unique_pointers);
    RUN_TEST(test_api_huge_sizes_fail_with_enomem);
    RUN_TEST(test_api_calloc_overflow_fails_with_enomem);
    RUN_TEST(test_api_reallocarray_overflow_keeps_block);
    RUN_TEST(test_api_realloc_to_huge_size_keeps_block);
    RUN_TEST(test_api_every_pointer_aligned_usable_and_disjoint);
    RUN_TEST(test_api_aligned_allocs_honour_alignment);
    RUN_TEST(test_api_posix_memalign_bad_alignment_is_einval);
    RUN_TEST(test_api_aligned_alloc_bad_alignment_is_einval);
    RUN_TEST(test_api_valloc_pvalloc_are_page_granular);
    RUN_TEST(test_api_realloc_chain_keeps_contents);
    RUN_TEST(test_api_realloc_within_usable_size_stays_in_place);
    RUN_TEST(test_api_realloc_shrink_below_half_releases_the_rest);
    RUN_TEST(test_api_realloc_null_and_zero_follow_glibc);
    RUN_TEST(test_api_realloc_of_aligned_block_keeps_contents);
    RUN_TEST(test_api_calloc_zeroes_reused_memory);
    RUN_TEST(test_api_free_null_and_errno);
    RUN_TEST(test_api_sized_frees_release_blocks);
    RUN_TEST(test_api_version_names_hlmalloc);
    RUN_TEST(test_api_stats_follow_live_bytes);
    RUN_TEST(test_api_medium_pages_hold_few_blocks);
    RUN_TEST(test_api_stats_print_goes_to_output_fn);
    RUN_TEST(test_api_stats_count_remote_frees_until_collected);
    RUN_TEST(test_api_collect_returns_freed_memory);
    RUN_TEST(test_api_realloc_large_resizes_in_place);
    RUN_TEST(test_api_foreign_free_is_counted_and_ignored);
    RUN_TEST(test_api_double_free_does_not_corrupt_heap);
    RUN_TEST(test_api_bulk_freed_page_comes_back_in_address_order);
    RUN_TEST(test_api_large_block_takes_the_shortest_resident_run);
    RUN_TEST(test_api_realloc_move_returns_the_old_run);
    RUN_TEST(test_api_huge_block_made_of_freed_ones);
    RUN_TEST(test_api_huge_pieces_stay_bounded);
    RUN_TEST(test_api_huge_realloc_moves_pages);
    RUN_TEST(test_api_huge_blocks_from_threads);
    return check_report();
}
