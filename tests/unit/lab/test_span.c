/*
 * tests/unit/lab/test_span.c: the span heap's own behaviour (the generic shadow-model test in
 * test_lab.c covers the vtable contract): bucket rounding, headerless spans, a freed span
 * serving another bucket, footprint == high watermark, the same footprint for the same live
 * set in any allocation order, large runs of spans, and check() catching a corrupted list.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "heaplab/lab.h"
#include "lab_test.h"
#include "util/prng.h"

#define SPAN 4096u

static void test_span_request_rounds_up_to_its_bucket(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_DEFAULT) == 0);
    static const struct {
        size_t req, usable;
    } cases[] = {
        { 0, 16 },      { 1, 16 },      { 17, 32 },     { 49, 64 },     { 65, 80 },
        { 128, 128 },   { 129, 160 },   { 300, 336 },   { 700, 816 },   { 1024, 1024 },
        { 1025, 1360 }, { 1361, 2048 }, { 2048, 2048 }, { 2049, 4096 }, { 4097, 8192 },
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

static void test_span_spans_hold_no_header(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_MIN) == 0);
    /* 256 objects of 16 B fill span 0 from its first byte; the 257th opens span 1. */
    for (uint64_t i = 0; i < 256; i++) {
        unsigned char *p = lt_alloc(&h, 10);
        REQUIRE(p != NULL);
        CHECK_EQ_U64(lt_off(&h, p), 16 * i);
    }
    unsigned char *q = lt_alloc(&h, 150); /* bucket 160: 25 per span, 96 B tail */
    REQUIRE(q != NULL);
    CHECK_EQ_U64(lt_off(&h, q), SPAN);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.meta_bytes, 0);
    CHECK_EQ_U64(s.slack_bytes, 96);
    CHECK_EQ_U64(s.units_held, 2);
    CHECK_EQ_U64(s.footprint, 2 * SPAN);
    CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN - 2 * SPAN + 24 * 160);
    CHECK_EQ_U64(s.state_bytes, h.self_size);
    /* The side table has an entry for every span of the arena, used or not. */
    CHECK(h.ops->state_size(LAB_ARENA_MAX) >= (LAB_ARENA_MAX / SPAN) * 16);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_span_freed_span_serves_another_bucket(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_MIN) == 0);
    void *a = lt_alloc(&h, 16), *b = lt_alloc(&h, 16);
    REQUIRE(a != NULL && b != NULL);
    lt_free(&h, a);
    CHECK_EQ_U64(lt_stats(&h).units_held, 1);
    lt_free(&h, b);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.units_held, 0); /* the empty span is back on the span free list */
    CHECK_EQ_U64(s.units_total, 1);
    CHECK_EQ_U64(s.footprint, SPAN); /* and still counted: never released */
    CHECK_EQ_U64(s.free_bytes, LAB_ARENA_MIN);
    CHECK(lt_check_ok(&h));
    void *c = lt_alloc(&h, 2000); /* bucket 2048 takes the same span */
    REQUIRE(c != NULL);
    CHECK(c == a);
    CHECK_EQ_U64(lt_usable(&h, c), 2048);
    s = lt_stats(&h);
    CHECK_EQ_U64(s.footprint, SPAN);
    CHECK_EQ_U64(s.units_total, 1);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

/* Random small-only churn: the footprint never goes down, and since a span is claimed from the
 * cursor only when the free list is empty, it is exactly the peak of spans in use. */
static void test_span_footprint_is_the_high_watermark(void)
{
    enum { N = 3000 };
    static void *live[N];
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_DEFAULT) == 0);
    struct prng r;
    prng_seed(&r, 7, 0);
    size_t n = 0;
    uint64_t last = 0, peak_held = 0;
    int monotone = 1;
    for (unsigned op = 0; op < 40000; op++) {
        unsigned grow = (op / 5000) % 2 == 0 ? 65 : 35;
        if (n < N && (n == 0 || prng_next(&r) % 100 < grow)) {
            void *p = lt_alloc(&h, 1 + prng_next(&r) % 512);
            REQUIRE(p != NULL);
            live[n++] = p;
        } else {
            size_t i = prng_next(&r) % n;
            lt_free(&h, live[i]);
            live[i] = live[--n];
        }
        struct lab_stats s = lt_stats(&h);
        if (s.footprint < last) monotone = 0;
        last = s.footprint;
        if (s.units_held > peak_held) peak_held = s.units_held;
    }
    CHECK(monotone);
    CHECK(lt_check_ok(&h));
    while (n > 0)
        lt_free(&h, live[--n]);
    struct lab_stats s = lt_stats(&h);
    CHECK_EQ_U64(s.footprint, last); /* freeing everything gives nothing back */
    CHECK_EQ_U64(s.footprint, peak_held * SPAN);
    CHECK_EQ_U64(s.units_held, 0);
    CHECK_EQ_U64(s.units_total, peak_held);
    CHECK_EQ_U64(s.free_bytes, LAB_ARENA_DEFAULT);
    CHECK_EQ_U64(s.free_blocks, 2); /* one coalesced run of every span, the untouched tail */
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

/* Allocate `sizes` in the order `order` on a fresh heap; its footprint, or 0 on failure.
 * *expect gets the footprint the live set implies: per bucket ceil(count / per span) spans,
 * per large block ceil(size / 4096) spans. */
static uint64_t footprint_for(const size_t *sizes, const size_t *order, size_t n, uint64_t *expect)
{
    struct lab_heap h;
    if (lt_open(&h, "span", 4 * LAB_ARENA_DEFAULT) != 0) return 0;
    uint64_t count[2049] = { 0 }, spans = 0;
    for (size_t i = 0; i < n; i++) {
        void *p = lt_alloc(&h, sizes[order[i]]);
        if (p == NULL) {
            lab_heap_close(&h);
            return 0;
        }
        size_t u = lt_usable(&h, p);
        if (u <= 2048)
            count[u]++;
        else
            spans += u / SPAN;
    }
    for (size_t u = 16; u <= 2048; u += 16)
        spans += (count[u] + SPAN / u - 1) / (SPAN / u);
    *expect = spans * SPAN;
    uint64_t fp = lt_stats(&h).footprint;
    if (!lt_check_ok(&h)) fp = 0;
    lab_heap_close(&h);
    return fp;
}

static void test_span_same_live_set_same_footprint_in_any_order(void)
{
    enum { N = 2000 };
    static size_t sizes[N], order[N];
    struct prng r;
    prng_seed(&r, 11, 0);
    for (size_t i = 0; i < N; i++) {
        uint64_t x = prng_next(&r) % 100;
        sizes[i] = x < 95 ? 1 + prng_next(&r) % 2048 : 2049 + prng_next(&r) % 12000;
        order[i] = i;
    }
    uint64_t e1 = 0, e2 = 0, e3 = 0;
    uint64_t in_order = footprint_for(sizes, order, N, &e1);
    for (size_t i = 0; i < N; i++)
        order[i] = N - 1 - i;
    uint64_t reversed = footprint_for(sizes, order, N, &e2);
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = prng_next(&r) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    uint64_t shuffled = footprint_for(sizes, order, N, &e3);
    REQUIRE(in_order != 0 && reversed != 0 && shuffled != 0);
    CHECK_EQ_U64(in_order, reversed);
    CHECK_EQ_U64(in_order, shuffled);
    CHECK_EQ_U64(in_order, e1);
    CHECK_EQ_U64(e1, e2);
    CHECK_EQ_U64(e1, e3);
}

static void test_span_large_runs_take_contiguous_spans(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 5000), *b = lt_alloc(&h, 8192), *c = lt_alloc(&h, 100);
    REQUIRE(a && b && c);
    CHECK_EQ_U64(lt_off(&h, a), 0);
    CHECK_EQ_U64(lt_off(&h, b), 2 * SPAN);
    CHECK_EQ_U64(lt_off(&h, c), 4 * SPAN);
    CHECK_EQ_U64(lt_usable(&h, a), 2 * SPAN);
    CHECK_EQ_U64(lt_stats(&h).units_held, 5); /* spans of large runs count as held */
    memset(a, 0xa5, lt_usable(&h, a));
    memset(b, 0x5a, lt_usable(&h, b));
    CHECK(lt_check_ok(&h));
    /* Neighbouring runs coalesce on free: 4 spans, taken whole by a 16 KiB request. */
    lt_free(&h, a);
    lt_free(&h, b);
    CHECK_EQ_U64(lt_stats(&h).free_blocks, 35 + 1 + 1); /* bucket-112 objects, the run, the tail */
    CHECK(lt_check_ok(&h));
    unsigned char *d = lt_alloc(&h, 16384);
    CHECK(d == a);
    CHECK_EQ_U64(lt_stats(&h).footprint, 5 * SPAN);
    /* A freed large run also feeds the buckets: one span off the front, then the rest. */
    lt_free(&h, d);
    unsigned char *e = lt_alloc(&h, 16), *f = lt_alloc(&h, 12000);
    REQUIRE(e && f);
    CHECK(e == a);
    CHECK_EQ_U64(lt_off(&h, f), SPAN);
    CHECK_EQ_U64(lt_stats(&h).footprint, 5 * SPAN);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_span_free_list_prefers_single_spans_then_the_shortest_run(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, SPAN), *b = lt_alloc(&h, SPAN), *c = lt_alloc(&h, 2 * SPAN);
    unsigned char *d = lt_alloc(&h, SPAN), *e = lt_alloc(&h, 3 * SPAN), *f = lt_alloc(&h, SPAN);
    REQUIRE(a && b && c && d && e && f);
    CHECK_EQ_U64(lt_off(&h, e), 5 * SPAN);
    lt_free(&h, a); /* a single free span at 0 */
    lt_free(&h, c); /* a 2-span run at 2 */
    lt_free(&h, e); /* a 3-span run at 5, the newest */
    CHECK(lt_check_ok(&h));
    CHECK(lt_alloc(&h, 16) == a);       /* a bucket takes the single span, not a run */
    CHECK(lt_alloc(&h, 2 * SPAN) == c); /* the 2-span run fits exactly */
    CHECK(lt_alloc(&h, 20) == e);       /* bucket 32 has no span: the front of the 3-span run */
    CHECK(lt_alloc(&h, 2 * SPAN) == e + SPAN);
    CHECK_EQ_U64(lt_stats(&h).footprint, 9 * SPAN);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_span_whole_arena_request(void)
{
    /* No headers in the arena: one request can take all of it, and nothing more. */
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_MIN) == 0);
    CHECK(lt_alloc(&h, SIZE_MAX) == NULL);
    CHECK(lt_alloc(&h, LAB_ARENA_MIN + 1) == NULL);
    void *all = lt_alloc(&h, LAB_ARENA_MIN);
    REQUIRE(all != NULL);
    CHECK_EQ_U64(lt_stats(&h).largest_free, 0);
    CHECK(lt_alloc(&h, 1) == NULL);
    lt_free(&h, all);
    CHECK_EQ_U64(lt_stats(&h).largest_free, LAB_ARENA_MIN);
    void *half = lt_alloc(&h, LAB_ARENA_MIN / 2);
    void *rest = lt_alloc(&h, LAB_ARENA_MIN / 2);
    REQUIRE(half != NULL && rest != NULL);
    CHECK(lt_alloc(&h, 1) == NULL);
    lt_free(&h, half);
    CHECK(lt_alloc(&h, 1) != NULL);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

static void test_span_check_catches_a_corrupt_free_list(void)
{
    struct lab_heap h;
    REQUIRE(lt_open(&h, "span", LAB_ARENA_MIN) == 0);
    unsigned char *a = lt_alloc(&h, 48), *b = lt_alloc(&h, 48), *c = lt_alloc(&h, 48);
    REQUIRE(a && b && c);
    lt_free(&h, a);
    lt_free(&h, c);
    CHECK(lt_check_ok(&h));
    uint16_t saved, bad = 40; /* inside object 0, not on a 48 B boundary */
    memcpy(&saved, c, sizeof saved);
    memcpy(c, &bad, sizeof bad);
    char err[256] = "";
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "P4") != NULL && strstr(err, "offset 40") != NULL);
    bad = (uint16_t)lt_off(&h, c); /* c linked to itself: a cycle */
    memcpy(c, &bad, sizeof bad);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "repeated") != NULL);
    bad = 3 * 48; /* an object never handed out */
    memcpy(c, &bad, sizeof bad);
    CHECK(h.ops->check(h.self, err, sizeof err) == -1);
    CHECK(strstr(err, "offset 144") != NULL);
    memcpy(c, &saved, sizeof saved);
    CHECK(lt_check_ok(&h));
    lab_heap_close(&h);
}

int main(void)
{
    RUN_TEST(test_span_request_rounds_up_to_its_bucket);
    RUN_TEST(test_span_spans_hold_no_header);
    RUN_TEST(test_span_freed_span_serves_another_bucket);
    RUN_TEST(test_span_footprint_is_the_high_watermark);
    RUN_TEST(test_span_same_live_set_same_footprint_in_any_order);
    RUN_TEST(test_span_large_runs_take_contiguous_spans);
    RUN_TEST(test_span_free_list_prefers_single_spans_then_the_shortest_run);
    RUN_TEST(test_span_whole_arena_request);
    RUN_TEST(test_span_check_catches_a_corrupt_free_list);
    return check_report();
}
