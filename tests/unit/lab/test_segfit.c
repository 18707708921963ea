/*
 * tests/unit/lab/test_segfit.c: segregated fit, behaviour by behaviour.
 *
 * White-box where it has to be: the tests know the layout of src/lab/segfit.c (16-byte
 * header, blocks of round_up(n, 16) + 16 bytes, 32 at least, footer in the last 8 bytes of a
 * free block, four classes per power of two), and place holes at known offsets in a fresh
 * 64 KiB arena, where blocks are carved front to back.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "lab_test.h"

#define ARENA LAB_ARENA_MIN

/* The allocator under test: its vtable is called directly (ops->alloc(h.self, n)). */
static const struct lab_ops *ops;

static int open_heap(struct lab_heap *h)
{
    ops = lab_find("segfit");
    if (ops == NULL || lab_heap_open(h, ops, ARENA) != 0) return -1;
    return 0;
}

static void *at(const struct lab_heap *h, uint64_t block_off)
{
    return h->arena + block_off + 16;
}

static void test_segfit_fresh_arena_is_one_block(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    uint64_t tail;
    memcpy(&tail, h.arena + ARENA - 8, 8);
    CHECK_EQ_U64(tail, 0); /* the last block has no footer: the arena's end is untouched */
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 1);
    CHECK_EQ_U64(s.meta_bytes, 16);
    CHECK_EQ_U64(s.free_bytes, ARENA - 16);
    CHECK_EQ_U64(s.largest_free, ARENA - 16);
    CHECK_EQ_U64(s.slack_bytes, 0);
    CHECK(ops->alloc(h.self, ARENA - 15) == NULL);
    CHECK(ops->alloc(h.self, SIZE_MAX) == NULL);
    CHECK(ops->alloc(h.self, SIZE_MAX - 8) == NULL); /* would wrap when rounded */
    void *p = ops->alloc(h.self, ARENA - 16);
    CHECK(p == at(&h, 0));
    CHECK_EQ_U64(ops->usable_size(h.self, p), ARENA - 16);
    CHECK(ops->alloc(h.self, 1) == NULL);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 0);
    CHECK_EQ_U64(lt_stats(&h).largest_free, 0);
    CHECK_EQ_U64(lt_stats(&h).footprint, ARENA);
    ops->free(h.self, p);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_alloc_rounds_to_16_with_16_header(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *a = ops->alloc(h.self, 0), *b = ops->alloc(h.self, 17), *c = ops->alloc(h.self, 32);
    CHECK(a == at(&h, 0));  /* 0 acts as 1: 16 usable, 32-byte block */
    CHECK(b == at(&h, 32)); /* 17 -> 32 usable, 48-byte block */
    CHECK(c == at(&h, 80)); /* 32 -> 32 usable */
    CHECK_EQ_U64(ops->usable_size(h.self, a), 16);
    CHECK_EQ_U64(ops->usable_size(h.self, b), 32);
    CHECK_EQ_U64(ops->usable_size(h.self, c), 32);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.live_bytes, 80);
    CHECK_EQ_U64(s.meta_bytes, 4 * 16); /* three live blocks and the rest */
    CHECK_EQ_U64(s.footprint, 128);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

/* Three 64-byte blocks a, b, c at 0, 64, 128 and a guard at 192 that keeps them off the rest. */
static int three_and_guard(struct lab_heap *h, void **a, void **b, void **c, void **g)
{
    *a = ops->alloc(h->self, 48);
    *b = ops->alloc(h->self, 48);
    *c = ops->alloc(h->self, 48);
    *g = ops->alloc(h->self, 16);
    return *a == at(h, 0) && *b == at(h, 64) && *c == at(h, 128) && *g == at(h, 192) ? 0 : -1;
}

static void test_segfit_free_coalesces_with_next(void)
{
    struct lab_heap h;
    void *a, *b, *c, *g;
    REQUIRE(open_heap(&h) == 0);
    REQUIRE(three_and_guard(&h, &a, &b, &c, &g) == 0);
    ops->free(h.self, b);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 2);
    ops->free(h.self, a); /* merges forward with b */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 2);
    CHECK_EQ_U64(lt_stats(&h).meta_bytes, 16 * 4);
    CHECK(lt_check_ok(&h));
    void *ab = ops->alloc(h.self, 112); /* a block of 128: only a + b together */
    CHECK(ab == a);
    CHECK_EQ_U64(ops->usable_size(h.self, ab), 112);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_free_coalesces_with_prev(void)
{
    struct lab_heap h;
    void *a, *b, *c, *g;
    REQUIRE(open_heap(&h) == 0);
    REQUIRE(three_and_guard(&h, &a, &b, &c, &g) == 0);
    ops->free(h.self, a);
    ops->free(h.self, b); /* merges backward with a, through a's footer */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 2);
    CHECK(lt_check_ok(&h));
    CHECK(ops->alloc(h.self, 112) == a);
    lab_heap_close(&h);
}

static void test_segfit_free_coalesces_both_sides(void)
{
    struct lab_heap h;
    void *a, *b, *c, *g;
    REQUIRE(open_heap(&h) == 0);
    REQUIRE(three_and_guard(&h, &a, &b, &c, &g) == 0);
    ops->free(h.self, a);
    ops->free(h.self, c);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 3);
    ops->free(h.self, b); /* a, b and c become one block of 192 */
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 2);
    CHECK_EQ_U64(s.meta_bytes, 16 * 3);
    CHECK(lt_check_ok(&h));
    ops->free(h.self, g); /* and with the rest of the arena */
    s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 1);
    CHECK_EQ_U64(s.free_bytes + s.meta_bytes, ARENA);
    CHECK_EQ_U64(s.largest_free, ARENA - 16);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_request_served_from_its_class(void)
{
    /* A hole of 2048 at 0, a hole of 256 at 2080, the rest beyond a second guard. */
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *big = ops->alloc(h.self, 2032), *g1 = ops->alloc(h.self, 16);
    void *small = ops->alloc(h.self, 240), *g2 = ops->alloc(h.self, 16);
    REQUIRE(big == at(&h, 0) && g1 == at(&h, 2048) && small == at(&h, 2080) && g2 == at(&h, 2336));
    ops->free(h.self, small);
    ops->free(h.self, big); /* most recently freed and lowest: LIFO or address order take it */
    /* 200 -> a block of 224, class [224, 256): empty; the next non-empty class is the 256
     * hole's, below the 2048 hole's. */
    void *p = ops->alloc(h.self, 200);
    CHECK(p == small);
    CHECK_EQ_U64(ops->usable_size(h.self, p), 208);
    CHECK(lt_check_ok(&h));
    /* Its 32-byte tail was split off and filed in the class of 32. */
    void *q = ops->alloc(h.self, 16);
    CHECK(q == at(&h, 2080 + 224));
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_split_remainder_filed_by_its_class(void)
{
    /* A: 2048 at 0, guard, B: 1536 at 2080, guard, then the rest. */
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *a = ops->alloc(h.self, 2032), *g1 = ops->alloc(h.self, 16);
    void *b = ops->alloc(h.self, 1520), *g2 = ops->alloc(h.self, 16);
    REQUIRE(a == at(&h, 0) && g1 == at(&h, 2048) && b == at(&h, 2080) && g2 == at(&h, 3616));
    ops->free(h.self, a);
    void *p = ops->alloc(h.self, 752); /* a block of 768 from A: tail of 1280 at 768 */
    CHECK(p == a);
    ops->free(h.self, b);
    /* Classes: 1280 is [1280, 1536), B is [1536, 1792). A request of exactly 1280 must find
     * the tail in its own class; if the tail were filed anywhere else it would get B. */
    void *q = ops->alloc(h.self, 1264);
    CHECK(q == at(&h, 768));
    CHECK_EQ_U64(ops->usable_size(h.self, q), 1264);
    CHECK(ops->alloc(h.self, 1520) == b);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_first_fit_skips_small_blocks_in_class(void)
{
    /* Holes of 144 and 128 (one class, [128, 160)) with guards; 128 freed last is the head. */
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *h144 = ops->alloc(h.self, 128), *g1 = ops->alloc(h.self, 16);
    void *h128 = ops->alloc(h.self, 112), *g2 = ops->alloc(h.self, 16);
    REQUIRE(h144 == at(&h, 0) && g1 == at(&h, 144) && h128 == at(&h, 176) && g2 == at(&h, 304));
    ops->free(h.self, h144);
    ops->free(h.self, h128);
    CHECK(ops->alloc(h.self, 128) == h144); /* the head (128) is too small: walk on */
    CHECK(ops->alloc(h.self, 112) == h128);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_short_tail_stays_with_block(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *hole = ops->alloc(h.self, 48), *g = ops->alloc(h.self, 16);
    REQUIRE(hole == at(&h, 0) && g == at(&h, 64));
    ops->free(h.self, hole);
    uint64_t before = lt_stats(&h).free_blocks;
    /* 32 -> a block of 48 from the 64 hole: a 16-byte tail is too short for a block. */
    void *p = ops->alloc(h.self, 32);
    CHECK(p == hole);
    CHECK_EQ_U64(ops->usable_size(h.self, p), 48);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, before - 1);
    CHECK_EQ_U64(lt_stats(&h).slack_bytes, 0);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_segfit_check_reports_corruption(void)
{
    struct lab_heap h;
    void *a, *b, *c, *g;
    REQUIRE(open_heap(&h) == 0);
    REQUIRE(three_and_guard(&h, &a, &b, &c, &g) == 0);
    ops->free(h.self, b);
    CHECK(lt_check_ok(&h));

    uint64_t *footer = (uint64_t *)(h.arena + 128 - 8); /* b's footer */
    uint64_t saved = *footer;
    *footer = 48;
    CHECK(lt_check_fails_with(&h, "S3"));
    *footer = saved;

    unsigned char *hdr = h.arena + 128; /* c's header */
    unsigned char copy[16];
    memcpy(copy, hdr, 16);
    hdr[0] ^= 0x40; /* size 64 -> 0 without fixing the check word */
    CHECK(lt_check_fails_with(&h, "S1"));
    memcpy(hdr, copy, 16);
    CHECK(lt_check_ok(&h));

    ops->free(h.self, b); /* double free: ignored, counted, reported */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 2);
    CHECK(lt_check_fails_with(&h, "S6"));
    lab_heap_close(&h);
}

int main(void)
{
    RUN_TEST(test_segfit_fresh_arena_is_one_block);
    RUN_TEST(test_segfit_alloc_rounds_to_16_with_16_header);
    RUN_TEST(test_segfit_free_coalesces_with_next);
    RUN_TEST(test_segfit_free_coalesces_with_prev);
    RUN_TEST(test_segfit_free_coalesces_both_sides);
    RUN_TEST(test_segfit_request_served_from_its_class);
    RUN_TEST(test_segfit_split_remainder_filed_by_its_class);
    RUN_TEST(test_segfit_first_fit_skips_small_blocks_in_class);
    RUN_TEST(test_segfit_short_tail_stays_with_block);
    RUN_TEST(test_segfit_check_reports_corruption);
    return check_report();
}
