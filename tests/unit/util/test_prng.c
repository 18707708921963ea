/* tests/unit/util/test_prng.c: determinism, ranges and rough distributions of util/prng. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/prng.h"

#define SEED 12345

static void test_prng_same_seed_same_sequence(void)
{
    struct prng a, b;
    prng_seed(&a, SEED, 0);
    prng_seed(&b, SEED, 0);
    for (int i = 0; i < 10000; i++)
        CHECK_EQ_U64(prng_next(&a), prng_next(&b));
}

static void test_prng_other_seed_or_stream_differs(void)
{
    struct prng a, b, c, z;
    prng_seed(&a, SEED, 0);
    prng_seed(&b, SEED + 1, 0);
    prng_seed(&c, SEED, 1);
    prng_seed(&z, 0, 0);
    int same_ab = 0, same_ac = 0;
    uint64_t zero_bits = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = prng_next(&a);
        same_ab += x == prng_next(&b);
        same_ac += x == prng_next(&c);
        zero_bits |= prng_next(&z);
    }
    CHECK(same_ab == 0);
    CHECK(same_ac == 0);
    CHECK(zero_bits == UINT64_MAX); /* seed 0 is well mixed: every bit turns up */
}

static void test_prng_below_and_range_stay_in_bounds(void)
{
    struct prng r;
    prng_seed(&r, SEED, 0);
    const uint64_t ns[] = {
        1, 2, 3, 7, 1000, UINT32_MAX, (uint64_t)UINT32_MAX + 2, (uint64_t)1 << 63, UINT64_MAX
    };
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
        for (int i = 0; i < 10000; i++)
            CHECK(prng_below(&r, ns[k]) < ns[k]);
    int seen_lo = 0, seen_hi = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t v = prng_range(&r, 10, 20);
        CHECK(v >= 10 && v <= 20);
        seen_lo |= v == 10;
        seen_hi |= v == 20;
        double d = prng_double(&r);
        CHECK(d >= 0.0 && d < 1.0);
    }
    CHECK(seen_lo && seen_hi); /* both ends are inclusive */
    CHECK_EQ_U64(prng_range(&r, 5, 5), 5);
}

/*
 * prng_below(16) over 160000 draws: chi-square with 15 degrees of freedom. The 0.999
 * quantile is 37.70; with a fixed seed the statistic is deterministic.
 */
static void test_prng_below_is_roughly_uniform(void)
{
    struct prng r;
    prng_seed(&r, SEED, 0);
    enum { BINS = 16, DRAWS = 160000 };
    uint64_t count[BINS] = { 0 };
    for (int i = 0; i < DRAWS; i++)
        count[prng_below(&r, BINS)]++;
    double expect = (double)DRAWS / BINS, chi2 = 0;
    for (int b = 0; b < BINS; b++)
        chi2 += ((double)count[b] - expect) * ((double)count[b] - expect) / expect;
    printf("chi-square of prng_below(16): %.2f (limit 37.70)\n", chi2);
    CHECK(chi2 < 37.70);
    /* And a range that is not a power of two, with 10 bins, 9 dof: limit 27.88. */
    uint64_t c10[10] = { 0 };
    for (int i = 0; i < 100000; i++)
        c10[prng_below(&r, 1000) / 100]++;
    chi2 = 0;
    for (int b = 0; b < 10; b++)
        chi2 += ((double)c10[b] - 10000.0) * ((double)c10[b] - 10000.0) / 10000.0;
    CHECK(chi2 < 27.88);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of exp(N(mu, sigma)) is e^mu; with 20001 samples it is within 5%. */
static void test_prng_lognormal_median_is_exp_mu(void)
{
    struct prng r;
    prng_seed(&r, SEED, 0);
    enum { N = 20001 };
    double *v = malloc(N * sizeof(double));
    REQUIRE(v != NULL);
    for (int i = 0; i < N; i++)
        v[i] = prng_lognormal(&r, log(100.0), 1.0);
    qsort(v, N, sizeof(double), cmp_double);
    double median = v[N / 2];
    printf("lognormal(log 100, 1) median: %.2f\n", median);
    CHECK(median > 95.0 && median < 105.0);
    CHECK(v[0] > 0);
    free(v);
    /* And the normal deviate's mean and variance are roughly 0 and 1. */
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double x = prng_normal(&r);
        sum += x;
        sq += x * x;
    }
    CHECK(fabs(sum / 100000) < 0.02);
    CHECK(fabs(sq / 100000 - 1.0) < 0.03);
}

static void test_prng_geometric_and_chance_means(void)
{
    struct prng r;
    prng_seed(&r, SEED, 0);
    double sum = 0;
    int hits = 0;
    for (int i = 0; i < 100000; i++) {
        sum += (double)prng_geometric(&r, 10.0);
        hits += prng_chance(&r, 0.25);
    }
    CHECK(fabs(sum / 100000 - 10.0) < 0.3);
    CHECK(hits > 24000 && hits < 26000);
    CHECK_EQ_U64(prng_geometric(&r, 0), 0);
}

int main(void)
{
    printf("seed %d\n", SEED);
    RUN_TEST(test_prng_same_seed_same_sequence);
    RUN_TEST(test_prng_other_seed_or_stream_differs);
    RUN_TEST(test_prng_below_and_range_stay_in_bounds);
    RUN_TEST(test_prng_below_is_roughly_uniform);
    RUN_TEST(test_prng_lognormal_median_is_exp_mu);
    RUN_TEST(test_prng_geometric_and_chance_means);
    return check_report();
}
