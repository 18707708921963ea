/* tests/unit/util/test_hist.c: bucket math, quantile error bound, merge of util/hist. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/hist.h"
#include "util/prng.h"

#define SEED 777

/*
 * v lies in its bucket: low <= v < high. The last bucket's end, 2^64, does not fit in
 * uint64_t, so hist_bucket_high() saturates to UINT64_MAX there, and UINT64_MAX itself is
 * accepted as the bucket's (inclusive) end.
 */
static int in_bucket(uint64_t v)
{
    unsigned b = hist_bucket(v);
    if (b >= HIST_BUCKETS) return 0;
    uint64_t lo = hist_bucket_low(b), hi = hist_bucket_high(b);
    return lo <= v && (v < hi || (hi == UINT64_MAX && v == UINT64_MAX));
}

static void test_hist_every_value_lies_in_its_bucket(void)
{
    for (uint64_t v = 0; v <= 100; v++)
        CHECK(in_bucket(v));
    for (unsigned k = 0; k < 64; k++) {
        uint64_t p = (uint64_t)1 << k;
        CHECK(in_bucket(p));
        CHECK(in_bucket(p - 1));
        CHECK(in_bucket(p + 1));
    }
    CHECK(in_bucket(UINT64_MAX));
    CHECK(in_bucket(UINT64_MAX - 1));
    CHECK_EQ_U64(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
    struct prng r;
    prng_seed(&r, SEED, 0);
    for (int i = 0; i < 100000; i++) {
        uint64_t v = prng_next(&r) >> prng_below(&r, 64);
        CHECK(in_bucket(v));
    }
}

static void test_hist_buckets_tile_the_range(void)
{
    /* Each bucket starts where the previous one ends, and widths are <= low / 16. */
    for (unsigned b = 1; b < HIST_BUCKETS; b++) {
        CHECK_EQ_U64(hist_bucket_low(b), hist_bucket_high(b - 1));
        uint64_t lo = hist_bucket_low(b), w = hist_bucket_high(b) - lo;
        if (lo >= HIST_SUB) CHECK(w <= lo / HIST_SUB);
        CHECK_EQ_U64(hist_bucket(lo), b);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Relative error of `got` against the exact sample `want`, in parts per 10000. */
static uint64_t err_bp(uint64_t got, uint64_t want)
{
    uint64_t d = got > want ? got - want : want - got;
    return want ? d * 10000 / want : d * 10000;
}

/* Quantiles of known data (the sample of rank ceil(q * n)) are within 3.2%. */
static void test_hist_quantiles_within_3_2_percent(void)
{
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(uint64_t));
    REQUIRE(v != NULL);
    struct prng r;
    prng_seed(&r, SEED, 0);
    for (int set = 0; set < 3; set++) {
        struct hist h;
        hist_init(&h);
        for (int i = 0; i < N; i++) {
            if (set == 0)
                v[i] = (uint64_t)i + 1; /* 1..N */
            else if (set == 1)
                v[i] = (uint64_t)prng_lognormal(&r, 8.0, 2.0); /* ns-like latencies */
            else
                v[i] = prng_next(&r) >> 3; /* huge values */
            hist_add(&h, v[i]);
        }
        qsort(v, N, sizeof(uint64_t), cmp_u64);
        const double qs[] = { 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999 };
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
            uint64_t rank = (uint64_t)ceil(qs[k] * N); /* as hist.h defines it */
            uint64_t want = v[rank - 1], got = hist_quantile(&h, qs[k]);
            if (err_bp(got, want) > 320)
                fprintf(stderr, "set %d q %.4f: got %llu want %llu\n", set, qs[k],
                        (unsigned long long)got, (unsigned long long)want);
            CHECK(err_bp(got, want) <= 320);
        }
        CHECK_EQ_U64(hist_quantile(&h, 0.0), v[0]);
        CHECK_EQ_U64(hist_quantile(&h, 1.0), v[N - 1]);
        CHECK_EQ_U64(h.count, N);
    }
    free(v);
}

static void test_hist_q0_is_min_q1_is_max(void)
{
    struct hist h;
    hist_init(&h);
    hist_add(&h, 1000);
    hist_add(&h, 7);
    hist_add(&h, 123456789);
    CHECK_EQ_U64(hist_quantile(&h, 0.0), 7);
    CHECK_EQ_U64(hist_quantile(&h, 1.0), 123456789);
    CHECK_EQ_U64(h.min, 7);
    CHECK_EQ_U64(h.max, 123456789);
    /* Every quantile stays within [min, max]. */
    for (int i = 0; i <= 100; i++) {
        uint64_t q = hist_quantile(&h, i / 100.0);
        CHECK(q >= 7 && q <= 123456789);
    }
}

static void test_hist_empty_returns_zero(void)
{
    struct hist h;
    hist_init(&h);
    CHECK_EQ_U64(h.count, 0);
    CHECK_EQ_U64(hist_quantile(&h, 0.0), 0);
    CHECK_EQ_U64(hist_quantile(&h, 0.5), 0);
    CHECK_EQ_U64(hist_quantile(&h, 1.0), 0);
    CHECK(hist_mean(&h) == 0.0);
}

static void test_hist_merge_equals_adding_all(void)
{
    struct hist a, b, all, empty;
    hist_init(&a);
    hist_init(&b);
    hist_init(&all);
    hist_init(&empty);
    struct prng r;
    prng_seed(&r, SEED, 1);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = (uint64_t)prng_lognormal(&r, 6.0, 1.5);
        hist_add(i % 3 ? &a : &b, v);
        hist_add(&all, v);
    }
    hist_merge(&a, &empty); /* merging an empty histogram changes nothing */
    hist_merge(&a, &b);
    CHECK_EQ_U64(a.count, all.count);
    CHECK_EQ_U64(a.min, all.min);
    CHECK_EQ_U64(a.max, all.max);
    CHECK_EQ_U64(a.sum, all.sum);
    CHECK(memcmp(a.buckets, all.buckets, sizeof(a.buckets)) == 0);
    CHECK_EQ_U64(hist_quantile(&a, 0.99), hist_quantile(&all, 0.99));
    /* Into an empty one: a copy. */
    hist_merge(&empty, &all);
    CHECK(memcmp(&empty, &all, sizeof(all)) == 0);
    /* The sum saturates rather than wrapping. */
    struct hist big;
    hist_init(&big);
    hist_add(&big, UINT64_MAX - 1);
    hist_add(&big, 10);
    CHECK_EQ_U64(big.sum, UINT64_MAX);
}

int main(void)
{
    printf("seed %d\n", SEED);
    RUN_TEST(test_hist_every_value_lies_in_its_bucket);
    RUN_TEST(test_hist_buckets_tile_the_range);
    RUN_TEST(test_hist_quantiles_within_3_2_percent);
    RUN_TEST(test_hist_q0_is_min_q1_is_max);
    RUN_TEST(test_hist_empty_returns_zero);
    RUN_TEST(test_hist_merge_equals_adding_all);
    return check_report();
}
