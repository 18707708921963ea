/* tests/unit/bench/test_summary.c: medians, spreads and geometric means. */
#include <math.h>
#include <string.h>

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

/* Format the summary of v[0..n) as a table cell would show it. */
static const char *cell(double *v, size_t n, double scale, int decimals)
{
    static char buf[64];
    struct summary s;
    summarize(v, n, &s);
    summary_format(buf, sizeof buf, &s, scale, decimals);
    return buf;
}

static void test_summary_format_one_value_has_no_spread(void)
{
    double v[] = { 86 };
    CHECK(strcmp(cell(v, 1, 1, 0), "86") == 0);
    double w[] = { 1.5e9 };
    CHECK(strcmp(cell(w, 1, 1e9, 3), "1.500") == 0);
}

static void test_summary_format_small_count_shows_range_not_percent(void)
{
    double v[] = { 0, 1 }; /* was "0 ±200%": a median rounded away and a huge spread */
    CHECK(strcmp(cell(v, 2, 1, 0), "0.5 (0..1)") == 0);
    double w[] = { 52, 92, 60 };
    CHECK(strcmp(cell(w, 3, 1, 0), "60 (52..92)") == 0);
    double z[] = { 0, 0, 0 };
    CHECK(strcmp(cell(z, 3, 1, 0), "0 ±0%") == 0);
}

static void test_summary_format_zero_median_shows_range(void)
{
    double v[] = { 0, 0, 2e6 }; /* sys time 0, 0 and 2 ms */
    CHECK(strcmp(cell(v, 3, 1e9, 3), "0.000 (0.000..0.00200)") == 0);
}

static void test_summary_format_keeps_three_significant_digits(void)
{
    double v[] = { 412e3, 200e3, 800e3 }; /* user time of a tiny program, in ns */
    CHECK(strcmp(cell(v, 3, 1e9, 3), "0.000412 ±146%") == 0);
    double w[] = { 12.3456e9 };
    CHECK(strcmp(cell(w, 1, 1e9, 3), "12.346") == 0);
}

static void test_summary_format_large_values_show_relative_spread(void)
{
    double v[] = { 1000, 1040, 1020 };
    CHECK(strcmp(cell(v, 3, 1, 0), "1020 ±4%") == 0);
    double w[] = { 2.0e9, 2.1e9 };
    CHECK(strcmp(cell(w, 2, 1e9, 3), "2.050 ±5%") == 0);
}

int main(void)
{
    RUN_TEST(test_summary_odd_count_takes_middle);
    RUN_TEST(test_summary_even_count_averages_middle_pair);
    RUN_TEST(test_summary_empty_is_zero);
    RUN_TEST(test_summary_zero_median_has_zero_spread);
    RUN_TEST(test_geomean_of_ratios);
    RUN_TEST(test_summary_format_one_value_has_no_spread);
    RUN_TEST(test_summary_format_small_count_shows_range_not_percent);
    RUN_TEST(test_summary_format_zero_median_shows_range);
    RUN_TEST(test_summary_format_keeps_three_significant_digits);
    RUN_TEST(test_summary_format_large_values_show_relative_spread);
    return check_report();
}
