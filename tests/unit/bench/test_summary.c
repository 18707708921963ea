/* tests/unit/bench/test_summary.c: medians, spreads and geometric means. */
#include <math.h>

#include "bench/summary.h"
#include "check.h"

static void test_summary_odd_count_takes_middle(void)
{
    double v[] = { 5, 1, 3 };
    struct summary s;
    summarize(v, 3, &s);
    CHECK(s.median == 3 && s.min == 1 && s.max == 5 && s.n == 3);
    CHECK(fabs(s.spread - 4.0 / 3.0) < 1e-12);
}

static void test_summary_even_count_averages_middle_pair(void)
{
    double v[] = { 4, 1, 3, 2 };
    struct summary s;
    summarize(v, 4, &s);
    CHECK(s.median == 2.5);
    CHECK(fabs(s.spread - 3.0 / 2.5) < 1e-12);
}

static void test_summary_empty_is_zero(void)
{
    struct summary s;
    summarize(NULL, 0, &s);
    CHECK(s.n == 0 && s.median == 0 && s.spread == 0);
}

static void test_summary_zero_median_has_zero_spread(void)
{
    double v[] = { 0, 0, 0 };
    struct summary s;
    summarize(v, 3, &s);
    CHECK(s.spread == 0);
}

static void test_geomean_of_ratios(void)
{
    double v[] = { 2, 8 };
    CHECK(fabs(geomean(v, 2) - 4) < 1e-12);
    double w[] = { 0, -1, 9 }; /* non-positive values are skipped */
    CHECK(fabs(geomean(w, 3) - 9) < 1e-12);
    CHECK(geomean(w, 2) == 0);
}

int main(void)
{
    RUN_TEST(test_summary_odd_count_takes_middle);
    RUN_TEST(test_summary_even_count_averages_middle_pair);
    RUN_TEST(test_summary_empty_is_zero);
    RUN_TEST(test_summary_zero_median_has_zero_spread);
    RUN_TEST(test_geomean_of_ratios);
    return check_report();
}
