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

#define PAGE 4096u
#define SLAB (4 * PAGE)

static int open_slab(struct lab_heap *h, size_t arena)
{
    const struct lab_ops *ops = lab_find("slab");
    return ops == NULL ? -1 : lab_heap_open(h, ops, arena);
}

static void *xalloc(struct lab_heap *h, size_t n)
{
    return h->ops->alloc(h->self, n);
}

static void xfree(struct lab_heap *h, void *p)
{
    h->ops->free(h->self, p);
}

static size_t usable(struct lab_heap *h, const void *p)
{
    return h->ops->usable_size(h->self, p);
}

static uint64_t off_of(const struct lab_heap *h, const void *p)
{
    return (uint64_t)((const unsigned char *)p - h->arena);
}

static struct lab_stats stats(struct lab_heap *h)
{
    struct lab_stats s;
    h->ops->stats(h->self, &s);
    return s;
}

static int checked(struct lab_heap *h)
{
    char err[256] = "";
    int rc = h->ops->check(h->self, err, sizeof err);
    if (rc != 0) fprintf(stderr, "  check: %s\n", err);
    return rc == 0;
}

static void test_slab_request_rounds_up_to_its_class(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_DEFAULT) == 0);
    static const struct {
        size_t req, usable;
    } cases[] = {
        { 0, 16 },      { 1, 16 },      { 16, 16 },     { 17, 32 },     { 33, 64 },
        { 100, 128 },   { 129, 256 },   { 257, 512 },   { 600, 1024 },  { 1025, 2048 },
        { 2048, 2048 }, { 2049, 4080 }, { 4080, 4080 }, { 4081, 8176 }, { 40000, 40944 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = xalloc(&h, cases[i].req);
        REQUIRE(p != NULL);
        CHECK_EQ_U64(usable(&h, p), cases[i].usable);
        CHECK_EQ_U64((uintptr_t)p % LAB_ALIGN, 0);
    }
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_objects_sit_at_the_class_stride(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    /* A 16 KiB slab of 64 B objects: 32 B header, 255 objects, 32 B slack. */
    for (uint64_t i = 0; i < 255; i++) {
        unsigned char *p = xalloc(&h, 50);
        REQUIRE(p != NULL);
        CHECK_EQ_U64(off_of(&h, p), 32 + 64 * i);
    }
    unsigned char *next = xalloc(&h, 64); /* the 256th opens a second slab */
    REQUIRE(next != NULL);
    CHECK_EQ_U64(off_of(&h, next), SLAB + 32);
    struct lab_stats s = stats(&h);
    CHECK_EQ_U64(s.units_held, 2);
    CHECK_EQ_U64(s.units_total, 2);
    CHECK_EQ_U64(s.meta_bytes, 2 * 32);
    CHECK_EQ_U64(s.slack_bytes, 2 * 32);
    CHECK_EQ_U64(s.footprint, 2 * SLAB);
    CHECK_EQ_U64(s.live_bytes, 256 * 64);
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_slack_is_painted_as_waste(void)
{
    static uint8_t cells[LAB_MAX_CELLS];
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    REQUIRE(xalloc(&h, 2048) != NULL); /* 7 objects of 2048 after the header, 2016 B slack */
    struct lab_stats s = stats(&h);
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
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    void *obj[8];
    for (int i = 0; i < 7; i++)
        REQUIRE((obj[i] = xalloc(&h, 2000)) != NULL);
    /* The first slab is full and off its list: the 8th object opens a second slab. */
    REQUIRE((obj[7] = xalloc(&h, 2000)) != NULL);
    CHECK_EQ_U64(off_of(&h, obj[7]), SLAB + 32);
    CHECK(checked(&h));
    /* Freeing one object of the full slab puts it back at the head of the class list. */
    xfree(&h, obj[3]);
    CHECK(checked(&h));
    void *again = xalloc(&h, 2048);
    CHECK(again == obj[3]);
    CHECK_EQ_U64(stats(&h).units_held, 2);
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_emptied_slab_is_reused_by_another_class(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    void *a = xalloc(&h, 64), *b = xalloc(&h, 64);
    REQUIRE(a != NULL && b != NULL);
    CHECK_EQ_U64(off_of(&h, a), 32);
    xfree(&h, a);
    CHECK_EQ_U64(stats(&h).units_held, 1); /* b keeps the slab */
    xfree(&h, b);
    struct lab_stats s = stats(&h);
    CHECK_EQ_U64(s.units_held, 0); /* the empty slab went back to the page pool */
    CHECK_EQ_U64(s.units_total, 1);
    CHECK_EQ_U64(s.meta_bytes, 0);
    CHECK_EQ_U64(s.free_blocks, 2); /* one free run of 4 pages, the untouched tail */
    CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN);
    CHECK(checked(&h));
    /* A 512 B request builds its slab on the same pages: no new footprint. */
    void *c = xalloc(&h, 500);
    REQUIRE(c != NULL);
    CHECK_EQ_U64(off_of(&h, c), 32);
    CHECK_EQ_U64(usable(&h, c), 512);
    s = stats(&h);
    CHECK_EQ_U64(s.footprint, SLAB);
    CHECK_EQ_U64(s.units_total, 2);
    CHECK_EQ_U64(s.units_held, 1);
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_large_runs_come_from_the_page_pool(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    unsigned char *a = xalloc(&h, 8000), *b = xalloc(&h, 8000); /* 2 pages each */
    unsigned char *c = xalloc(&h, 100);                         /* a slab: pages 4-7 */
    REQUIRE(a && b && c);
    CHECK_EQ_U64(off_of(&h, a), 16);
    CHECK_EQ_U64(off_of(&h, b), 2 * PAGE + 16);
    CHECK_EQ_U64(off_of(&h, c), 4 * PAGE + 32);
    CHECK_EQ_U64(usable(&h, a), 2 * PAGE - 16);
    struct lab_stats s = stats(&h);
    CHECK_EQ_U64(s.meta_bytes, 16 + 16 + 32);
    CHECK_EQ_U64(s.footprint, 8 * PAGE);
    CHECK_EQ_U64(s.units_held, 1); /* large runs are not slabs */
    memset(a, 0xa5, usable(&h, a));
    memset(b, 0x5a, usable(&h, b));
    CHECK(checked(&h));
    /* Two neighbouring runs freed: one coalesced 4-page run, taken whole by 16000 B. */
    xfree(&h, a);
    xfree(&h, b);
    s = stats(&h);
    CHECK_EQ_U64(s.free_blocks, 126 + 1 + 1); /* slab objects, the run, the tail */
    CHECK(checked(&h));
    unsigned char *d = xalloc(&h, 16000);
    REQUIRE(d != NULL);
    CHECK(d == a);
    CHECK_EQ_U64(stats(&h).footprint, 8 * PAGE);
    /* A run is split: 1 page from its front, then 3 pages from the rest. */
    xfree(&h, d);
    unsigned char *e = xalloc(&h, 3000), *f = xalloc(&h, 10000);
    REQUIRE(e && f);
    CHECK(e == a);
    CHECK_EQ_U64(off_of(&h, f), PAGE + 16);
    CHECK_EQ_U64(stats(&h).footprint, 8 * PAGE);
    CHECK(checked(&h));
    /* Freed right to left, the run merges with the free run after it. */
    xfree(&h, f);
    xfree(&h, e);
    CHECK_EQ_U64(stats(&h).free_blocks, 126 + 1 + 1);
    CHECK(xalloc(&h, 4 * PAGE - 16) == a);
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_pool_takes_the_shortest_run_that_fits(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    unsigned char *x = xalloc(&h, 2 * PAGE - 16), *sep1 = xalloc(&h, PAGE - 16);
    unsigned char *y = xalloc(&h, 3 * PAGE - 16), *sep2 = xalloc(&h, PAGE - 16);
    REQUIRE(x && sep1 && y && sep2);
    CHECK_EQ_U64(off_of(&h, y), 3 * PAGE + 16);
    xfree(&h, x); /* a 2-page run at page 0 */
    xfree(&h, y); /* a 3-page run at page 3, newer on the list */
    CHECK(xalloc(&h, 2 * PAGE - 16) == x);
    CHECK(xalloc(&h, 2 * PAGE - 16) == y); /* the 3-page run, split */
    CHECK(xalloc(&h, PAGE - 16) == y + 2 * PAGE);
    CHECK_EQ_U64(stats(&h).footprint, 7 * PAGE);
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_whole_arena_run_and_exhaustion(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    CHECK(xalloc(&h, SIZE_MAX) == NULL);
    CHECK(xalloc(&h, LAB_ARENA_MIN - 15) == NULL); /* the header makes it 17 pages */
    void *all = xalloc(&h, LAB_ARENA_MIN - 16);
    REQUIRE(all != NULL);
    CHECK(xalloc(&h, 1) == NULL); /* no pages left for a slab */
    CHECK_EQ_U64(stats(&h).largest_free, 0);
    xfree(&h, all);
    CHECK_EQ_U64(stats(&h).largest_free, LAB_ARENA_MIN - 16);
    /* Four slabs fit in 64 KiB; a fifth class has nowhere to go. */
    for (size_t n = 16; n <= 128; n *= 2)
        CHECK(xalloc(&h, n) != NULL);
    CHECK(xalloc(&h, 256) == NULL);
    CHECK(xalloc(&h, 5000) == NULL);
    CHECK(xalloc(&h, 16) != NULL); /* its class still has room */
    CHECK(checked(&h));
    lab_heap_close(&h);
    /* 15 pages taken from the cursor: one page is left, not two. */
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    CHECK(xalloc(&h, 15 * PAGE - 16) != NULL);
    CHECK(xalloc(&h, 2 * PAGE - 16) == NULL);
    CHECK(xalloc(&h, PAGE - 16) != NULL);
    CHECK(xalloc(&h, 1) == NULL);
    CHECK(checked(&h));
    lab_heap_close(&h);
}

static void test_slab_check_catches_a_corrupt_free_list(void)
{
    struct lab_heap h;
    REQUIRE(open_slab(&h, LAB_ARENA_MIN) == 0);
    unsigned char *a = xalloc(&h, 32), *b = xalloc(&h, 32), *c = xalloc(&h, 32);
    REQUIRE(a && b && c);
    xfree(&h, a);
    xfree(&h, c);
    CHECK(checked(&h));
    uint32_t saved, bad = 32 + 7; /* inside the first object, not on its boundary */
    memcpy(&saved, c, sizeof saved);
    memcpy(c, &bad, sizeof bad);
    char err[256] = "";
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "S4") != NULL && strstr(err, "offset 39") != NULL);
    bad = (uint32_t)off_of(&h, c); /* c's link to itself: a cycle */
    memcpy(c, &bad, sizeof bad);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "repeated") != NULL);
    bad = 32 + 3 * 32; /* an object never handed out */
    memcpy(c, &bad, sizeof bad);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "offset 128") != NULL);
    memcpy(c, &saved, sizeof saved);
    CHECK(checked(&h));
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
