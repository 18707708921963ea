/*
 * tests/unit/lab/test_firstfit.c: the firstfit family (firstfit, firstfit-next, firstfit-best)
 * beyond the generic shadow test: exact block sizes after splitting, forward, backward and
 * two-sided coalescing, which hole each policy picks on a heap built with holes of known
 * sizes, the next-fit rover surviving a merge, exhaustion and reuse, and check() catching
 * corruption, double and foreign frees.
 *
 * Sizes: a block is the request plus a 16-byte header, rounded up to 16, at least 32; so a
 * request of 48 makes a 64-byte block with 48 usable bytes.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "lab_test.h"

#define HDR 16u

static const char *const policies[] = { "firstfit", "firstfit-next", "firstfit-best" };
#define NPOLICIES (sizeof policies / sizeof policies[0])

static void test_firstfit_fresh_arena_is_one_block_that_fits_whole(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        struct lab_heap h;
        REQUIRE(lt_open(&h, policies[i], LAB_ARENA_MIN) == 0);
        struct lab_stats s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.meta_bytes, HDR);
        CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN - HDR);
        CHECK_EQ_U64(s.largest_free, LAB_ARENA_MIN - HDR);
        CHECK_EQ_U64(s.footprint, 0);
        CHECK(lt_check_ok(&h));

        /* The largest request is the whole arena less one header; one byte more fails. */
        CHECK(lt_alloc(&h, LAB_ARENA_MIN - HDR + 1) == NULL);
        unsigned char *p = lt_alloc(&h, LAB_ARENA_MIN - HDR);
        REQUIRE(p != NULL);
        CHECK(p == h.arena + HDR);
        CHECK_EQ_U64(lt_usable(&h, p), LAB_ARENA_MIN - HDR);
        CHECK(lt_alloc(&h, 1) == NULL);
        s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 0);
        CHECK_EQ_U64(s.free_bytes, 0);
        CHECK_EQ_U64(s.largest_free, 0);
        CHECK_EQ_U64(s.footprint, LAB_ARENA_MIN);
        CHECK(lt_check_ok(&h));
        lt_free(&h, p);
        s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.free_bytes + s.meta_bytes, LAB_ARENA_MIN);
        CHECK(lt_check_ok(&h));
        lab_heap_close(&h);
    }
}

static void test_firstfit_huge_requests_fail_and_zero_gets_a_block(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        struct lab_heap h;
        REQUIRE(lt_open(&h, policies[i], LAB_ARENA_MIN) == 0);
        CHECK(lt_alloc(&h, SIZE_MAX) == NULL);
        CHECK(lt_alloc(&h, SIZE_MAX - 15) == NULL); /* rounds past SIZE_MAX if unchecked */
        CHECK(lt_alloc(&h, SIZE_MAX / 2) == NULL);
        CHECK(lt_alloc(&h, LAB_ARENA_MIN) == NULL);
        CHECK(lt_alloc(&h, LAB_ARENA_MIN - 15) == NULL);
        unsigned char *p = lt_alloc(&h, 0);
        REQUIRE(p != NULL);
        CHECK((uintptr_t)p % LAB_ALIGN == 0);
        CHECK_EQ_U64(lt_usable(&h, p), 16); /* the smallest block: 32 bytes */
        unsigned char *q = lt_alloc(&h, 1);
        REQUIRE(q != NULL);
        CHECK(q == p + 32);
        lt_free(&h, NULL); /* a no-op, and not an invalid free */
        CHECK(lt_check_ok(&h));
        lab_heap_close(&h);
    }
}

static void test_firstfit_split_leaves_exact_remainder(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "firstfit", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 100); /* 116 -> a 128-byte block, 112 usable */
    REQUIRE(a != NULL);
    CHECK(a == h.arena + HDR);
    CHECK_EQ_U64(lt_usable(&h, a), 112);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.live_bytes, 112);
    CHECK_EQ_U64(s.meta_bytes, 2 * HDR);
    CHECK_EQ_U64(s.free_blocks, 1);
    CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN - 128 - HDR);
    CHECK_EQ_U64(s.footprint, 128);
    unsigned char *b = lt_alloc(&h, 1);
    CHECK(b == a + 112 + HDR);
    lt_free(&h, b);
    lt_free(&h, a);
    CHECK_EQ_U64(lt_stats(&h).footprint, 160); /* a high-water mark: freeing keeps it */
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_firstfit_small_remainder_is_granted_not_split(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        struct lab_heap h;
        REQUIRE(lt_open(&h, policies[i], LAB_ARENA_MIN) == 0);
        /* A 64-byte hole and a guard taking the rest: the hole is the only free block. */
        unsigned char *hole = lt_alloc(&h, 48);
        REQUIRE(hole != NULL);
        unsigned char *guard = lt_alloc(&h, lt_stats(&h).largest_free);
        REQUIRE(guard != NULL);
        uint64_t guard_bytes = lt_usable(&h, guard);
        lt_free(&h, hole);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);

        /* 16 wants a 32-byte block: the other 32 still make a free block, so split. */
        unsigned char *p = lt_alloc(&h, 16);
        CHECK(p == hole);
        CHECK_EQ_U64(lt_usable(&h, p), 16);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
        CHECK_EQ_U64(lt_stats(&h).meta_bytes, 3 * HDR);
        CHECK(lt_check_ok(&h));
        lt_free(&h, p);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 1); /* merged back with its remainder */
        CHECK_EQ_U64(lt_stats(&h).meta_bytes, 2 * HDR);

        /* 32 wants 48 bytes: 16 left is below the smallest block, so all 64 are granted. */
        p = lt_alloc(&h, 32);
        CHECK(p == hole);
        CHECK_EQ_U64(lt_usable(&h, p), 48);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 0);
        CHECK_EQ_U64(lt_stats(&h).live_bytes, 48 + guard_bytes);
        CHECK(lt_check_ok(&h));
        lab_heap_close(&h);
    }
}

static void test_firstfit_free_coalesces_forward_backward_and_both(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        struct lab_heap h;
        REQUIRE(lt_open(&h, policies[i], LAB_ARENA_MIN) == 0);
        /* a, b, c: 64-byte blocks; d takes the rest, so every hole below is the only one. */
        unsigned char *a = lt_alloc(&h, 48), *b = lt_alloc(&h, 48), *c = lt_alloc(&h, 48);
        REQUIRE(a && b && c);
        unsigned char *d = lt_alloc(&h, lt_stats(&h).largest_free);
        REQUIRE(d != NULL);

        /* Backward: b merges into the free a before it. */
        lt_free(&h, a);
        lt_free(&h, b);
        struct lab_stats s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.free_bytes, 128 - HDR);
        CHECK_EQ_U64(s.meta_bytes, 3 * HDR); /* ab, c, d */
        CHECK(lt_check_ok(&h));
        unsigned char *ab = lt_alloc(&h, 112);
        CHECK(ab == a);
        CHECK_EQ_U64(lt_usable(&h, ab), 112);
        lt_free(&h, ab);

        /* Forward: a freed before a free b absorbs it (b's header becomes payload). */
        CHECK(lt_alloc(&h, 48) == a);
        CHECK(lt_alloc(&h, 48) == b);
        lt_free(&h, b);
        lt_free(&h, a);
        s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.free_bytes, 128 - HDR);
        CHECK(lt_check_ok(&h));
        ab = lt_alloc(&h, 112);
        CHECK(ab == a);
        lt_free(&h, ab);

        /* Both sides: free a and c, then b: one block of three. */
        CHECK(lt_alloc(&h, 48) == a);
        CHECK(lt_alloc(&h, 48) == b);
        lt_free(&h, a);
        lt_free(&h, c);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 2);
        lt_free(&h, b);
        s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.meta_bytes, 2 * HDR); /* abc, d */
        CHECK_EQ_U64(s.free_bytes, 192 - HDR);
        CHECK_EQ_U64(s.largest_free, 192 - HDR);
        CHECK(lt_check_ok(&h));
        CHECK(lt_alloc(&h, 176) == a);
        CHECK(lt_check_ok(&h));
        lt_free(&h, a);

        /* d, the last block, joins abc: one block covers the arena. */
        lt_free(&h, d);
        s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.meta_bytes, HDR);
        CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN - HDR);
        CHECK(lt_check_ok(&h));
        lab_heap_close(&h);
    }
}

/*
 * Holes of 256, 64 and 128 usable bytes (blocks of 272, 80 and 144) separated by live
 * 16-byte guards, then the free tail; the rover sits on the tail after the last guard.
 *   request 48 (a 64-byte block):   first fit takes the 256 hole (lowest), best fit the 64
 *                                   hole (smallest that fits, not exact: the 16 left over
 *                                   are granted too), next fit the tail (where it stopped)
 *   request 128 (144):              first fit the remainder of the 256 hole, best fit the
 *                                   128 hole (exact), next fit the tail again
 */
static void test_firstfit_policies_choose_lowest_smallest_and_next_hole(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        struct lab_heap h;
        REQUIRE(lt_open(&h, policies[i], LAB_ARENA_MIN) == 0);
        unsigned char *h1 = lt_alloc(&h, 256), *g1 = lt_alloc(&h, 16);
        unsigned char *h2 = lt_alloc(&h, 64), *g2 = lt_alloc(&h, 16);
        unsigned char *h3 = lt_alloc(&h, 128), *g3 = lt_alloc(&h, 16);
        REQUIRE(h1 && g1 && h2 && g2 && h3 && g3);
        lt_free(&h, h1);
        lt_free(&h, h2);
        lt_free(&h, h3);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 4);
        CHECK(lt_check_ok(&h));

        unsigned char *x = lt_alloc(&h, 48), *y = lt_alloc(&h, 128);
        REQUIRE(x != NULL && y != NULL);
        if (strcmp(policies[i], "firstfit") == 0) {
            CHECK(x == h1);
            CHECK(y == h1 + 64);
        } else if (strcmp(policies[i], "firstfit-best") == 0) {
            CHECK(x == h2);
            CHECK_EQ_U64(lt_usable(&h, x), 64);
            CHECK(y == h3);
        } else {
            CHECK(x == g3 + 16 + HDR); /* the tail, right after the last guard */
            CHECK(y == x + 48 + HDR);  /* and on from there */
        }
        CHECK(lt_check_ok(&h));
        lab_heap_close(&h);
    }
}

/*
 * Three equal holes h1 < h2 < h3 of 112 usable bytes between guards, no tail (the last
 * guard takes it all). Then: alloc, free it again, and alloc four more times.
 *   first fit:  h1, (free h1), h1, h2, h3, NULL
 *   next fit:   h1, (free h1), h2, h3, h1 (wrapped round), NULL
 */
static void test_firstfit_next_fit_resumes_after_last_allocation(void)
{
    for (size_t i = 0; i < 2; i++) {
        int next = i == 1;
        struct lab_heap h;
        REQUIRE(lt_open(&h, next ? "firstfit-next" : "firstfit", LAB_ARENA_MIN) == 0);
        unsigned char *hole[3], *guard[3];
        for (int k = 0; k < 3; k++) {
            hole[k] = lt_alloc(&h, 112);
            guard[k] = lt_alloc(&h, k < 2 ? 16 : lt_stats(&h).largest_free);
            REQUIRE(hole[k] != NULL && guard[k] != NULL);
        }
        REQUIRE(lt_stats(&h).free_blocks == 0);
        for (int k = 0; k < 3; k++)
            lt_free(&h, hole[k]);
        CHECK(lt_check_ok(&h));

        unsigned char *p = lt_alloc(&h, 112);
        CHECK(p == hole[0]);
        lt_free(&h, p);
        unsigned char *want[4] = { hole[0], hole[1], hole[2], NULL };
        if (next) {
            want[0] = hole[1];
            want[1] = hole[2];
            want[2] = hole[0];
        }
        for (int k = 0; k < 4; k++) {
            p = lt_alloc(&h, 112);
            if (p != want[k])
                fprintf(stderr, "  [%s] alloc %d: offset %lld, expected %lld\n", h.ops->name, k,
                        p ? (long long)lt_off(&h, p) : -1LL,
                        want[k] ? (long long)lt_off(&h, want[k]) : -1LL);
            CHECK(p == want[k]);
            CHECK(lt_check_ok(&h));
        }
        lab_heap_close(&h);
    }
}

/*
 * The next-fit rover on a block that a free then merges away. a (64) m (64) n (192) g (the
 * rest): free a and n; a 64-byte request skips a (80 wanted) and splits n, so the rover sits
 * on n's remainder. Freeing that allocation merges the remainder into n (the rover must
 * follow to n); freeing m merges a, m and n (the rover must follow down to a).
 */
static void test_firstfit_next_rover_follows_merged_blocks(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "firstfit-next", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 48), *m = lt_alloc(&h, 48), *n = lt_alloc(&h, 176);
    REQUIRE(a && m && n);
    unsigned char *g = lt_alloc(&h, lt_stats(&h).largest_free);
    REQUIRE(g != NULL);
    lt_free(&h, a);
    lt_free(&h, n);
    unsigned char *x = lt_alloc(&h, 64);
    CHECK(x == n);
    CHECK(lt_check_ok(&h));
    lt_free(&h, x); /* forward merge into the remainder the rover points at */
    CHECK(lt_check_ok(&h));
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 2);
    lt_free(&h, m); /* both sides: a absorbs m and n */
    CHECK(lt_check_ok(&h));
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
    /* The rover now points at the merged block, so the search starts (and ends) at a. */
    unsigned char *y = lt_alloc(&h, 16);
    CHECK(y == a);
    unsigned char *z = lt_alloc(&h, 16);
    CHECK(z == a + 32);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_firstfit_exhaustion_returns_null_then_reuses_the_hole(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        struct lab_heap h;
        REQUIRE(lt_open(&h, policies[i], LAB_ARENA_MIN) == 0);
        /* 1000 bytes make a 1024-byte block, so exactly 64 fill the 64 KiB arena. */
        static unsigned char *p[128];
        unsigned n = 0;
        while (n < 128 && (p[n] = lt_alloc(&h, 1000)) != NULL)
            n++;
        CHECK_EQ_U64(n, 64);
        CHECK(lt_alloc(&h, 1) == NULL);
        struct lab_stats s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 0);
        CHECK_EQ_U64(s.largest_free, 0);
        CHECK_EQ_U64(s.live_bytes + s.meta_bytes, LAB_ARENA_MIN);
        CHECK(lt_check_ok(&h));

        lt_free(&h, p[10]);
        CHECK(lt_alloc(&h, 1009) == NULL); /* needs 1040 */
        CHECK_EQ_U64(lt_stats(&h).largest_free, 1008);
        unsigned char *q = lt_alloc(&h, 1000);
        CHECK(q == p[10]);
        CHECK(lt_alloc(&h, 1) == NULL);

        /* Evens, then odds: each odd block merges with both neighbours. */
        for (unsigned k = 0; k < n; k += 2)
            lt_free(&h, p[k]);
        CHECK_EQ_U64(lt_stats(&h).free_blocks, 32);
        CHECK(lt_check_ok(&h));
        for (unsigned k = 1; k < n; k += 2)
            lt_free(&h, p[k]);
        s = lt_stats(&h);
        CHECK_EQ_U64(s.free_blocks, 1);
        CHECK_EQ_U64(s.free_bytes + s.meta_bytes, LAB_ARENA_MIN);
        CHECK_EQ_U64(s.live_blocks, 0);
        CHECK(lt_check_ok(&h));
        lab_heap_close(&h);
    }
}

static void test_firstfit_check_reports_corruption_and_bad_frees(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "firstfit", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 48), *b = lt_alloc(&h, 48), *c = lt_alloc(&h, 48);
    REQUIRE(a && b && c);
    lt_free(&h, b);
    CHECK(lt_check_ok(&h));

    /* A stray write into a header's guard word. */
    unsigned char saved[16];
    memcpy(saved, a - 8, 8);
    a[-8] ^= 0x40;
    CHECK(lt_check_fails_with(&h, "F2"));
    memcpy(a - 8, saved, 8);
    CHECK(lt_check_ok(&h));

    /* The boundary tag of free b (the last 8 bytes of its 64-byte block). */
    unsigned char *footer = b + 48 - 8;
    memcpy(saved, footer, 8);
    footer[0] ^= 0x10;
    CHECK(lt_check_fails_with(&h, "F4"));
    memcpy(footer, saved, 8);

    /* b's prev link (bytes 4..7 of its payload): it is the head, so prev must be NIL. */
    memcpy(saved, b, 8);
    memset(b + 4, 0, 4);
    CHECK(lt_check_fails_with(&h, "F6"));
    memcpy(b, saved, 8);
    CHECK(lt_check_ok(&h));

    /* Double free and foreign pointers are ignored, counted, and reported. */
    struct lab_stats before = lt_stats(&h);
    lt_free(&h, b);
    CHECK_EQ_U64(lt_stats(&h).free_bytes, before.free_bytes);
    CHECK_EQ_U64(lt_stats(&h).live_blocks, before.live_blocks);
    CHECK(lt_check_fails_with(&h, "F9"));
    lab_heap_close(&h);

    REQUIRE(lt_open(&h, "firstfit", LAB_ARENA_MIN) == 0);
    a = lt_alloc(&h, 48);
    REQUIRE(a != NULL);
    lt_free(&h, a + 16); /* inside a block */
    CHECK_EQ_U64(lt_stats(&h).live_blocks, 1);
    CHECK(lt_check_fails_with(&h, "F9"));
    lab_heap_close(&h);
}

int main(void)
{
    RUN_TEST(test_firstfit_fresh_arena_is_one_block_that_fits_whole);
    RUN_TEST(test_firstfit_huge_requests_fail_and_zero_gets_a_block);
    RUN_TEST(test_firstfit_split_leaves_exact_remainder);
    RUN_TEST(test_firstfit_small_remainder_is_granted_not_split);
    RUN_TEST(test_firstfit_free_coalesces_forward_backward_and_both);
    RUN_TEST(test_firstfit_policies_choose_lowest_smallest_and_next_hole);
    RUN_TEST(test_firstfit_next_fit_resumes_after_last_allocation);
    RUN_TEST(test_firstfit_next_rover_follows_merged_blocks);
    RUN_TEST(test_firstfit_exhaustion_returns_null_then_reuses_the_hole);
    RUN_TEST(test_firstfit_check_reports_corruption_and_bad_frees);
    return check_report();
}
