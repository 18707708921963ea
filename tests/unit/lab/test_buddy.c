/*
 * tests/unit/lab/test_buddy.c: the binary buddy allocator, behaviour by behaviour.
 *
 * White-box where it has to be: the tests know the layout of src/lab/buddy.c (blocks of 2^k
 * bytes from 32 up, a 16-byte header, usable 2^k - 16; a split keeps the lower half) and use
 * a fresh 64 KiB arena (order 16), where the lowest free block of each order is used first.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "lab_test.h"

#define ARENA LAB_ARENA_MIN /* 2^16 */

/* The allocator under test: its vtable is called directly (ops->alloc(h.self, n)). */
static const struct lab_ops *ops;

static int open_heap(struct lab_heap *h)
{
    ops = lab_find("buddy");
    if (ops == NULL || lab_heap_open(h, ops, ARENA) != 0) return -1;
    return 0;
}

/* The pointer of the block at arena offset `off`. */
static void *at(const struct lab_heap *h, uint64_t off)
{
    return h->arena + off + 16;
}

static void test_buddy_alloc_splits_down_to_order(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
    void *a = ops->alloc(h.self, 1);
    CHECK(a == at(&h, 0));
    CHECK_EQ_U64(ops->usable_size(h.self, a), 16);
    /* 2^16 split down to 2^5: one free block left of each order 5..15. */
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 11);
    CHECK_EQ_U64(s.meta_bytes, 12 * 16);
    CHECK_EQ_U64(s.largest_free, 32768 - 16);
    CHECK_EQ_U64(s.footprint, 32);
    CHECK(ops->alloc(h.self, 16) == at(&h, 32));   /* a's buddy, the order-5 leftover */
    CHECK(ops->alloc(h.self, 40) == at(&h, 64));   /* order 6: the order-6 leftover */
    CHECK(ops->alloc(h.self, 200) == at(&h, 256)); /* order 8 */
    CHECK(ops->alloc(h.self, 1) == at(&h, 128));   /* order 7 at 128 split for it */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 9);     /* 160 (5), 192 (6), 512..32768 (9..15) */
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_buddy_usable_is_power_of_two_minus_header(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    for (unsigned k = 5; k <= 16; k++) {
        size_t fit = ((size_t)1 << k) - 16;
        void *p = ops->alloc(h.self, fit);
        CHECK(p != NULL);
        if (p != NULL) CHECK_EQ_U64(ops->usable_size(h.self, p), fit);
        ops->free(h.self, p);
        p = ops->alloc(h.self, fit + 1); /* one byte more: the next order */
        if (k < 16) {
            CHECK(p != NULL);
            if (p != NULL) CHECK_EQ_U64(ops->usable_size(h.self, p), ((size_t)2 << k) - 16);
            ops->free(h.self, p);
        } else {
            CHECK(p == NULL); /* above arena - 16 */
        }
    }
    CHECK(ops->alloc(h.self, SIZE_MAX) == NULL);
    CHECK(ops->alloc(h.self, SIZE_MAX - 8) == NULL); /* would wrap with the header added */
    CHECK(ops->alloc(h.self, 0) == at(&h, 0));       /* as alloc(1) */
    CHECK_EQ_U64(lt_stats(&h).live_bytes, 16);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_buddy_internal_waste_just_above_power_of_two(void)
{
    static uint8_t cells[LAB_MAX_CELLS];
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    /* 1025 + 16 > 1024: a block of 2048, 2032 usable, 1007 of them wasted (49.6%). */
    void *p = ops->alloc(h.self, 1025);
    REQUIRE(p != NULL);
    CHECK_EQ_U64(ops->usable_size(h.self, p), 2032);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.live_bytes, 2032);
    CHECK_EQ_U64(s.slack_bytes, 0);
    struct lab_request rq = { lt_off(&h, p), 1025 };
    struct lab_paint paint;
    lab_paint_begin(&paint, cells, ARENA);
    lab_paint_set_requests(&paint, &rq, 1);
    ops->snapshot(h.self, &paint);
    CHECK(lab_paint_end(&paint) == 0);
    CHECK_EQ_U64(paint.bytes[LAB_USED], 1025);
    CHECK_EQ_U64(paint.bytes[LAB_WASTE], 1007);
    CHECK_EQ_U64(paint.bytes[LAB_META], s.meta_bytes);
    CHECK_EQ_U64(paint.bytes[LAB_FREE], s.free_bytes);
    /* One byte less than the block's usable size at the order below: no waste. */
    void *q = ops->alloc(h.self, 1008);
    CHECK(q != NULL);
    if (q != NULL) CHECK_EQ_U64(ops->usable_size(h.self, q), 1008);
    lab_heap_close(&h);
}

static void test_buddy_free_merges_buddies_back(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *a = ops->alloc(h.self, 1), *b = ops->alloc(h.self, 1);
    REQUIRE(a == at(&h, 0) && b == at(&h, 32));
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 10);
    ops->free(h.self, b); /* buddy at 32 ^ 32 = 0 is live: no merge */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 11);
    CHECK(lt_check_ok(&h));
    ops->free(h.self, a); /* 0 ^ 32 = 32 free, then 0 ^ 64, ... up to the whole arena */
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 1);
    CHECK_EQ_U64(s.largest_free, ARENA - 16);
    CHECK_EQ_U64(s.free_bytes + s.meta_bytes, ARENA);
    CHECK(lt_check_ok(&h));

    /* Order 7: x at 0, y at 128 = 0 ^ 2^7; freed lower first this time. */
    void *x = ops->alloc(h.self, 100), *y = ops->alloc(h.self, 100);
    REQUIRE(x == at(&h, 0) && y == at(&h, 128));
    ops->free(h.self, x);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 9); /* x (7), 256..32768 (8..15) */
    ops->free(h.self, y);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
    CHECK(ops->alloc(h.self, ARENA - 16) == at(&h, 0));
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_buddy_adjacent_non_buddies_stay_apart(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *p[4];
    for (unsigned i = 0; i < 4; i++)
        p[i] = ops->alloc(h.self, 16);
    REQUIRE(p[0] == at(&h, 0) && p[1] == at(&h, 32) && p[2] == at(&h, 64) && p[3] == at(&h, 96));
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 9); /* 128..32768 (7..15) */
    /* 32 and 64: adjacent, both order 5, but 32 ^ 32 = 0 and 64 ^ 32 = 96. */
    ops->free(h.self, p[1]);
    ops->free(h.self, p[2]);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 11);
    CHECK_EQ_U64(lt_stats(&h).largest_free, 32768 - 16);
    CHECK(lt_check_ok(&h));
    void *q = ops->alloc(h.self, 48); /* order 6: not 32..96, which is no block */
    CHECK(q == at(&h, 128));
    ops->free(h.self, p[0]); /* merges with 32 into an order-6 block at 0; 64 is order 5 */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 11);
    CHECK(lt_check_ok(&h));
    ops->free(h.self, p[3]); /* 96 + 64 -> order 6 at 64, + 0 -> order 7 at 0 */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 10);
    CHECK(lt_check_ok(&h));
    ops->free(h.self, q);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_buddy_fills_with_minimum_blocks_and_recombines(void)
{
    static void *ptrs[ARENA / 32];
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    unsigned n = 0;
    while (n < ARENA / 32 && (ptrs[n] = ops->alloc(h.self, 16)) != NULL)
        n++;
    CHECK_EQ_U64(n, ARENA / 32);
    CHECK(ops->alloc(h.self, 1) == NULL);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 0);
    CHECK_EQ_U64(s.largest_free, 0);
    CHECK_EQ_U64(s.meta_bytes, ARENA / 2); /* half the arena is headers */
    CHECK_EQ_U64(s.footprint, ARENA);
    for (unsigned i = 0; i < n; i += 2) /* every other block: nothing can merge */
        ops->free(h.self, ptrs[i]);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, n / 2);
    CHECK(ops->alloc(h.self, 17) == NULL); /* half free, all in 32-byte pieces */
    CHECK(lt_check_ok(&h));
    for (unsigned i = 1; i < n; i += 2)
        ops->free(h.self, ptrs[i]);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 1);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_buddy_check_reports_corruption(void)
{
    struct lab_heap h;
    REQUIRE(open_heap(&h) == 0);
    void *a = ops->alloc(h.self, 1), *b = ops->alloc(h.self, 1);
    REQUIRE(a == at(&h, 0) && b == at(&h, 32));
    ops->free(h.self, a);
    CHECK(lt_check_ok(&h));

    unsigned char *hb = h.arena + 32; /* b's header: u32 magic, u8 order, u8 state */
    unsigned char saved[16];
    memcpy(saved, hb, 16);
    hb[5] = 'F'; /* b claims to be free: a and b are free buddies of order 5 */
    CHECK(lt_check_fails_with(&h, "D2"));
    memcpy(hb, saved, 16);
    hb[4] = 6; /* order 6 at offset 32: misaligned */
    CHECK(lt_check_fails_with(&h, "D1"));
    memcpy(hb, saved, 16);
    CHECK(lt_check_ok(&h));

    ops->free(h.self, a); /* double free: ignored, counted, reported */
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 11);
    CHECK(lt_check_fails_with(&h, "D5"));
    lab_heap_close(&h);
}

int main(void)
{
    RUN_TEST(test_buddy_alloc_splits_down_to_order);
    RUN_TEST(test_buddy_usable_is_power_of_two_minus_header);
    RUN_TEST(test_buddy_internal_waste_just_above_power_of_two);
    RUN_TEST(test_buddy_free_merges_buddies_back);
    RUN_TEST(test_buddy_adjacent_non_buddies_stay_apart);
    RUN_TEST(test_buddy_fills_with_minimum_blocks_and_recombines);
    RUN_TEST(test_buddy_check_reports_corruption);
    return check_report();
}
