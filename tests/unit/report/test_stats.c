/*
 * tests/unit/report/test_stats.c: the Mann-Whitney U test on known distributions: exact
 * p-values worked out by hand and by enumerating every split, a run against itself never
 * significant, a 20% shift with 5 repetitions detected, and the false-positive rate it
 * claims (docs/compare.md) observed on seeded samples of one distribution. Seeds are fixed.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "report/report.h"
#include "util/prng.h"

#define NEAR(x, y) (fabs((x) - (y)) < 1e-12)

static void test_stats_separated_samples_give_the_smallest_p(void)
{
    double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
    struct mwu t;
    REQUIRE(stats_mann_whitney(a, 5, b, 5, &t) == 0);
    CHECK(t.exact && t.u == 0);
    CHECK(NEAR(t.p, 2.0 / 252)); /* 2 of the C(10, 5) splits are as extreme */
    REQUIRE(stats_mann_whitney(b, 5, a, 5, &t) == 0);
    CHECK(t.u == 25 && NEAR(t.p, 2.0 / 252));
    double c[] = { 1, 2, 3 }, d[] = { 4, 5, 6 };
    REQUIRE(stats_mann_whitney(c, 3, d, 3, &t) == 0);
    CHECK(NEAR(t.p, 0.1)); /* 2 of 20: three repetitions can never reach 0.05 */
}

static void test_stats_one_overlap_by_hand(void)
{
    /* U = 1: splits with U <= 1 are 2 of 252 on each side, two-sided 4/252 */
    double a[] = { 1, 2, 3, 4, 6 }, b[] = { 5, 7, 8, 9, 10 };
    struct mwu t;
    REQUIRE(stats_mann_whitney(a, 5, b, 5, &t) == 0);
    CHECK(t.u == 1 && NEAR(t.p, 4.0 / 252));
}

static void test_stats_run_against_itself_is_never_significant(void)
{
    struct prng r;
    prng_seed(&r, 19, 1);
    for (int trial = 0; trial < 200; trial++) {
        double a[11];
        size_t n = 3 + (size_t)prng_below(&r, 9);
        for (size_t i = 0; i < n; i++)
            a[i] = 1e6 * prng_lognormal(&r, 0, 0.5);
        struct mwu t;
        REQUIRE(stats_mann_whitney(a, n, a, n, &t) == 0);
        CHECK(t.p == 1);
    }
    double same[] = { 7, 7, 7 };
    struct mwu t;
    REQUIRE(stats_mann_whitney(same, 3, same, 3, &t) == 0);
    CHECK(t.p == 1);
}

/* p by brute force: every way of choosing which na of the pooled values are "a". */
static double brute_p(const double *a, size_t na, const double *b, size_t nb)
{
    double pool[16] = { 0 }, rank[16] = { 0 };
    size_t n = na + nb;
    for (size_t i = 0; i < n; i++)
        pool[i] = i < na ? a[i] : b[i - na];
    for (size_t i = 0; i < n; i++) { /* midranks, from 1 */
        double below = 0, equal = 0;
        for (size_t k = 0; k < n; k++) {
            below += pool[k] < pool[i];
            equal += pool[k] == pool[i];
        }
        rank[i] = below + (equal + 1) / 2;
    }
    double observed = 0, mean = (double)na * (double)(n + 1) / 2;
    for (size_t i = 0; i < na; i++)
        observed += rank[i];
    double hit = 0, all = 0;
    for (unsigned mask = 0; mask < 1u << n; mask++) {
        if ((size_t)__builtin_popcount(mask) != na) continue;
        double w = 0;
        for (size_t i = 0; i < n; i++)
            if (mask >> i & 1) w += rank[i];
        all++;
        hit += fabs(w - mean) >= fabs(observed - mean) - 1e-9;
    }
    return hit / all;
}

static void test_stats_exact_p_matches_enumeration_with_ties(void)
{
    struct prng r;
    prng_seed(&r, 1919, 2);
    for (int trial = 0; trial < 300; trial++) {
        size_t na = 1 + (size_t)prng_below(&r, 7), nb = 1 + (size_t)prng_below(&r, 7);
        double a[8], b[8];
        for (size_t i = 0; i < na; i++) /* few distinct values: many ties */
            a[i] = (double)prng_below(&r, 5);
        for (size_t i = 0; i < nb; i++)
            b[i] = (double)prng_below(&r, 5) + (trial % 3 == 0);
        struct mwu t;
        REQUIRE(stats_mann_whitney(a, na, b, nb, &t) == 0);
        double want = brute_p(a, na, b, nb);
        if (fabs(t.p - want) > 1e-9)
            fprintf(stderr, "trial %d: na %zu nb %zu: p %.12f, enumeration %.12f\n", trial, na, nb,
                    t.p, want);
        CHECK(fabs(t.p - want) <= 1e-9);
    }
}

/* Five repetitions each, noise of `cv` around 100 and 80 (20% lower). */
static int shift_detected(struct prng *r, double cv)
{
    double a[5], b[5];
    for (int i = 0; i < 5; i++) {
        a[i] = 100 * (1 + cv * prng_normal(r));
        b[i] = 80 * (1 + cv * prng_normal(r));
    }
    struct mwu t;
    return stats_mann_whitney(a, 5, b, 5, &t) == 0 && t.p < 0.05;
}

static void test_stats_twenty_percent_shift_in_five_repetitions_is_detected(void)
{
    struct prng r;
    prng_seed(&r, 20, 5);
    int low = 0, high = 0;
    for (int trial = 0; trial < 1000; trial++) {
        low += shift_detected(&r, 0.03);  /* +-3% noise: samples never overlap */
        high += shift_detected(&r, 0.08); /* +-8%: they sometimes do */
    }
    printf("20%% shift, 5 vs 5: detected %d/1000 at 3%% noise, %d/1000 at 8%%\n", low, high);
    CHECK(low == 1000);
    CHECK(high >= 900);
}

static void test_stats_false_positive_rate_is_the_attained_level(void)
{
    CHECK(NEAR(stats_mwu_attained_alpha(5, 5, 0.05), 8.0 / 252));
    CHECK(NEAR(stats_mwu_attained_alpha(4, 4, 0.05), 2.0 / 70));
    CHECK(stats_mwu_attained_alpha(3, 3, 0.05) == 0);
    CHECK(stats_mwu_attained_alpha(30, 30, 0.05) == -1);
    double at11 = stats_mwu_attained_alpha(11, 11, 0.05);
    CHECK(at11 > 0.04 && at11 <= 0.05);
    /* Under H0 (both from one lognormal), P(p < 0.05) is the attained level. */
    struct prng r;
    prng_seed(&r, 5, 5);
    int rejected = 0;
    const int trials = 20000;
    for (int trial = 0; trial < trials; trial++) {
        double a[5], b[5];
        for (int i = 0; i < 5; i++) {
            a[i] = prng_lognormal(&r, 0, 1);
            b[i] = prng_lognormal(&r, 0, 1);
        }
        struct mwu t;
        REQUIRE(stats_mann_whitney(a, 5, b, 5, &t) == 0);
        rejected += t.p < 0.05;
    }
    double rate = (double)rejected / trials;
    printf("false positives, 5 vs 5 at 0.05: %.4f (attained level %.4f)\n", rate, 8.0 / 252);
    CHECK(rate > 8.0 / 252 - 0.005 && rate < 8.0 / 252 + 0.005);
}

static void test_stats_large_samples_use_the_normal_approximation(void)
{
    double a[30], b[30];
    for (int i = 0; i < 30; i++) {
        a[i] = i;
        b[i] = i + 6.5;
    }
    struct mwu big, small;
    REQUIRE(stats_mann_whitney(a, 30, b, 30, &big) == 0);
    CHECK(!big.exact && big.p > 0 && big.p < 0.05);
    /* at the edge of the exact range both agree to about 0.01 */
    REQUIRE(stats_mann_whitney(a, 25, b, 25, &small) == 0);
    CHECK(small.exact);
    double u = small.u, mu = 25.0 * 25 / 2, var = 25.0 * 25 * 51 / 12;
    double normal = erfc((fabs(u - mu) - 0.5) / sqrt(var) / sqrt(2.0));
    CHECK(fabs(small.p - normal) < 0.01);
    struct mwu t;
    CHECK(stats_mann_whitney(a, 0, b, 3, &t) == -1);
    CHECK(isnan(t.p));
}

static void test_stats_median(void)
{
    double v[] = { 5, 1, 4, 2 };
    CHECK(stats_median(v, 4) == 3);
    CHECK(stats_median(v, 3) == 2);
    CHECK(stats_median(NULL, 0) == 0);
}

int main(void)
{
    RUN_TEST(test_stats_separated_samples_give_the_smallest_p);
    RUN_TEST(test_stats_one_overlap_by_hand);
    RUN_TEST(test_stats_run_against_itself_is_never_significant);
    RUN_TEST(test_stats_exact_p_matches_enumeration_with_ties);
    RUN_TEST(test_stats_twenty_percent_shift_in_five_repetitions_is_detected);
    RUN_TEST(test_stats_false_positive_rate_is_the_attained_level);
    RUN_TEST(test_stats_large_samples_use_the_normal_approximation);
    RUN_TEST(test_stats_median);
    return check_report();
}
