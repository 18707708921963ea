/*
 * tests/unit/lab/test_slab.c: the slab allocator's own behaviour (the generic shadow-model
 * test in test_lab.c covers the vtable contract): class rounding, objects at the class stride,
 * full and emptied slabs, slab pages reused by another class, large runs from the page pool,
 * and check() catching a corrupted free list.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "lab_test.h"

#define PAGE 4096u
#define SLAB (4 * PAGE)

static void test_slab_request_rounds_up_to_its_class(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_DEFAULT) == 0);
    static const struct {
        size_t req, usable;
    } cases[] = {
        { 0, 16 },      { 1, 16 },      { 16, 16 },     { 17, 32 },     { 33, 64 },
        { 100, 128 },   { 129, 256 },   { 257, 512 },   { 600, 1024 },  { 1025, 2048 },
        { 2048, 2048 }, { 2049, 4080 }, { 4080, 4080 }, { 4081, 8176 }, { 40000, 40944 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = lt_alloc(&h, cases[i].req);
        REQUIRE(p != NULL);
        CHECK_EQ_U64(lt_usable(&h, p), cases[i].usable);
        CHECK_EQ_U64((uintptr_t)p % LAB_ALIGN, 0);
    }
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_objects_sit_at_the_class_stride(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    /* A 16 KiB slab of 64 B objects: 32 B header, 255 objects, 32 B slack. */
    for (uint64_t i = 0; i < 255; i++) {
        unsigned char *p = lt_alloc(&h, 50);
        REQUIRE(p != NULL);
        CHECK_EQ_U64(lt_off(&h, p), 32 + 64 * i);
    }
    unsigned char *next = lt_alloc(&h, 64); /* the 256th opens a second slab */
    REQUIRE(next != NULL);
    CHECK_EQ_U64(lt_off(&h, next), SLAB + 32);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.units_held, 2);
    CHECK_EQ_U64(s.units_total, 2);
    CHECK_EQ_U64(s.meta_bytes, 2 * 32);
    CHECK_EQ_U64(s.slack_bytes, 2 * 32);
    CHECK_EQ_U64(s.footprint, 2 * SLAB);
    CHECK_EQ_U64(s.live_bytes, 256 * 64);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_slack_is_painted_as_waste(void)
{
    static uint8_t cells[LAB_MAX_CELLS];
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    REQUIRE(lt_alloc(&h, 2048) != NULL); /* 7 objects of 2048 after the header, 2016 B slack */
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.slack_bytes, 2016);
    struct lab_paint p;
    lab_paint_begin(&p, cells, h.arena_size);
    h.ops->snapshot(h.self, &p);
    REQUIRE(lab_paint_end(&p) == 0);
    CHECK_EQ_U64(p.bytes[LAB_META], 32);
    CHECK_EQ_U64(p.bytes[LAB_USED], 2048);
    CHECK_EQ_U64(p.bytes[LAB_WASTE], 2016);
    CHECK_EQ_U64(p.bytes[LAB_FREE], LAB_ARENA_MIN - SLAB + 6 * 2048);
    CHECK_EQ_U64(p.bytes[LAB_FREE], s.free_bytes);
    lab_heap_close(&h);
}

static void test_slab_full_slab_returns_to_its_list_on_free(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    void *obj[8];
    for (int i = 0; i < 7; i++)
        REQUIRE((obj[i] = lt_alloc(&h, 2000)) != NULL);
    /* The first slab is full and off its list: the 8th object opens a second slab. */
    REQUIRE((obj[7] = lt_alloc(&h, 2000)) != NULL);
    CHECK_EQ_U64(lt_off(&h, obj[7]), SLAB + 32);
    CHECK(lt_check_ok(&h));
    /* Freeing one object of the full slab puts it back at the head of the class list. */
    lt_free(&h, obj[3]);
    CHECK(lt_check_ok(&h));
    void *again = lt_alloc(&h, 2048);
    CHECK(again == obj[3]);
    CHECK_EQ_U64(lt_stats(&h).units_held, 2);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_emptied_slab_is_reused_by_another_class(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    void *a = lt_alloc(&h, 64), *b = lt_alloc(&h, 64);
    REQUIRE(a != NULL && b != NULL);
    CHECK_EQ_U64(lt_off(&h, a), 32);
    lt_free(&h, a);
    CHECK_EQ_U64(lt_stats(&h).units_held, 1); /* b keeps the slab */
    lt_free(&h, b);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.units_held, 0); /* the empty slab went back to the page pool */
    CHECK_EQ_U64(s.units_total, 1);
    CHECK_EQ_U64(s.meta_bytes, 0);
    CHECK_EQ_U64(s.free_blocks, 2); /* one free run of 4 pages, the untouched tail */
    CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN);
    CHECK(lt_check_ok(&h));
    /* A 512 B request builds its slab on the same pages: no new footprint. */
    void *c = lt_alloc(&h, 500);
    REQUIRE(c != NULL);
    CHECK_EQ_U64(lt_off(&h, c), 32);
    CHECK_EQ_U64(lt_usable(&h, c), 512);
    s = lt_stats(&h);
    CHECK_EQ_U64(s.footprint, SLAB);
    CHECK_EQ_U64(s.units_total, 2);
    CHECK_EQ_U64(s.units_held, 1);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_large_runs_come_from_the_page_pool(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 8000), *b = lt_alloc(&h, 8000); /* 2 pages each */
    unsigned char *c = lt_alloc(&h, 100);                           /* a slab: pages 4-7 */
    REQUIRE(a && b && c);
    CHECK_EQ_U64(lt_off(&h, a), 16);
    CHECK_EQ_U64(lt_off(&h, b), 2 * PAGE + 16);
    CHECK_EQ_U64(lt_off(&h, c), 4 * PAGE + 32);
    CHECK_EQ_U64(lt_usable(&h, a), 2 * PAGE - 16);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.meta_bytes, 16 + 16 + 32);
    CHECK_EQ_U64(s.footprint, 8 * PAGE);
    CHECK_EQ_U64(s.units_held, 1); /* large runs are not slabs */
    memset(a, 0xa5, lt_usable(&h, a));
    memset(b, 0x5a, lt_usable(&h, b));
    CHECK(lt_check_ok(&h));
    /* Two neighbouring runs freed: one coalesced 4-page run, taken whole by 16000 B. */
    lt_free(&h, a);
    lt_free(&h, b);
    s = lt_stats(&h);
    CHECK_EQ_U64(s.free_blocks, 126 + 1 + 1); /* slab objects, the run, the tail */
    CHECK(lt_check_ok(&h));
    unsigned char *d = lt_alloc(&h, 16000);
    REQUIRE(d != NULL);
    CHECK(d == a);
    CHECK_EQ_U64(lt_stats(&h).footprint, 8 * PAGE);
    /* A run is split: 1 page from its front, then 3 pages from the rest. */
    lt_free(&h, d);
    unsigned char *e = lt_alloc(&h, 3000), *f = lt_alloc(&h, 10000);
    REQUIRE(e && f);
    CHECK(e == a);
    CHECK_EQ_U64(lt_off(&h, f), PAGE + 16);
    CHECK_EQ_U64(lt_stats(&h).footprint, 8 * PAGE);
    CHECK(lt_check_ok(&h));
    /* Freed right to left, the run merges with the free run after it. */
    lt_free(&h, f);
    lt_free(&h, e);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 126 + 1 + 1);
    CHECK(lt_alloc(&h, 4 * PAGE - 16) == a);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_pool_takes_the_shortest_run_that_fits(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    unsigned char *x = lt_alloc(&h, 2 * PAGE - 16), *sep1 = lt_alloc(&h, PAGE - 16);
    unsigned char *y = lt_alloc(&h, 3 * PAGE - 16), *sep2 = lt_alloc(&h, PAGE - 16);
    REQUIRE(x && sep1 && y && sep2);
    CHECK_EQ_U64(lt_off(&h, y), 3 * PAGE + 16);
    lt_free(&h, x); /* a 2-page run at page 0 */
    lt_free(&h, y); /* a 3-page run at page 3, newer on the list */
    CHECK(lt_alloc(&h, 2 * PAGE - 16) == x);
    CHECK(lt_alloc(&h, 2 * PAGE - 16) == y); /* the 3-page run, split */
    CHECK(lt_alloc(&h, PAGE - 16) == y + 2 * PAGE);
    CHECK_EQ_U64(lt_stats(&h).footprint, 7 * PAGE);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_whole_arena_run_and_exhaustion(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    CHECK(lt_alloc(&h, SIZE_MAX) == NULL);
    CHECK(lt_alloc(&h, LAB_ARENA_MIN - 15) == NULL); /* the header makes it 17 pages */
    void *all = lt_alloc(&h, LAB_ARENA_MIN - 16);
    REQUIRE(all != NULL);
    CHECK(lt_alloc(&h, 1) == NULL); /* no pages left for a slab */
    CHECK_EQ_U64(lt_stats(&h).largest_free, 0);
    lt_free(&h, all);
    CHECK_EQ_U64(lt_stats(&h).largest_free, LAB_ARENA_MIN - 16);
    /* Four slabs fit in 64 KiB; a fifth class has nowhere to go. */
    for (size_t n = 16; n <= 128; n *= 2)
        CHECK(lt_alloc(&h, n) != NULL);
    CHECK(lt_alloc(&h, 256) == NULL);
    CHECK(lt_alloc(&h, 5000) == NULL);
    CHECK(lt_alloc(&h, 16) != NULL); /* its class still has room */
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
    /* 15 pages taken from the cursor: one page is left, not two. */
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    CHECK(lt_alloc(&h, 15 * PAGE - 16) != NULL);
    CHECK(lt_alloc(&h, 2 * PAGE - 16) == NULL);
    CHECK(lt_alloc(&h, PAGE - 16) != NULL);
    CHECK(lt_alloc(&h, 1) == NULL);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_slab_check_catches_a_corrupt_free_list(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "slab", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 32), *b = lt_alloc(&h, 32), *c = lt_alloc(&h, 32);
    REQUIRE(a && b && c);
    lt_free(&h, a);
    lt_free(&h, c);
    CHECK(lt_check_ok(&h));
    uint32_t saved, bad = 32 + 7; /* inside the first object, not on its boundary */
    memcpy(&saved, c, sizeof saved);
    memcpy(c, &bad, sizeof bad);
    char err[256] = "";
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "S4") != NULL && strstr(err, "offset 39") != NULL);
    bad = (uint32_t)lt_off(&h, c); /* c's link to itself: a cycle */
    memcpy(c, &bad, sizeof bad);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "repeated") != NULL);
    bad = 32 + 3 * 32; /* an object never handed out */
    memcpy(c, &bad, sizeof bad);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "offset 128") != NULL);
    memcpy(c, &saved, sizeof saved);
    CHECK(lt_check_ok(&h));
    /* A header counting one free object too many. */
    uint16_t nfree;
    memcpy(&nfree, h.arena + 8, sizeof nfree);
    nfree++;
    memcpy(h.arena + 8, &nfree, sizeof nfree);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    lab_heap_close(&h);
}

int main(void)
{
    RUN_TEST(test_slab_request_rounds_up_to_its_class);
    RUN_TEST(test_slab_objects_sit_at_the_class_stride);
    RUN_TEST(test_slab_slack_is_painted_as_waste);
    RUN_TEST(test_slab_full_slab_returns_to_its_list_on_free);
    RUN_TEST(test_slab_emptied_slab_is_reused_by_another_class);
    RUN_TEST(test_slab_large_runs_come_from_the_page_pool);
    RUN_TEST(test_slab_pool_takes_the_shortest_run_that_fits);
    RUN_TEST(test_slab_whole_arena_run_and_exhaustion);
    RUN_TEST(test_slab_check_catches_a_corrupt_free_list);
    return check_report();
}
