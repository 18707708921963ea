/*
 * tests/unit/report/test_why.c: report_why on rows built here. What an allocator keeps after
 * the frees, how high it peaks, why the slowest is slow, each with the numbers of the data;
 * nothing when the repetitions overlap, when the allocators do the same, or for a race.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "report/report.h"
#include "util/diag.h"

/* One cell of a row: each run's value is the median times (1 + jitter * (rep - 2) / 2). */
struct spec {
    const char *alloc;
    double tput, peak, end, faults, user, sys;
    double jitter;
    const double *series; /* RSS series of every run, or NULL */
    size_t n_series;
};

#define PEAK_LIVE (40 * 1048576.0)

static void add_run(cJSON *runs, const struct spec *c, int rep)
{
    double k = 1 + c->jitter * (rep - 2) / 2;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "rep", rep);
    cJSON_AddStringToObject(r, "status", "ok");
    cJSON_AddNumberToObject(r, "ops_per_sec", c->tput * k);
    cJSON_AddNumberToObject(r, "wall_ns", 1e9 / k);
    cJSON_AddNumberToObject(r, "peak_rss_bytes", round(c->peak * k));
    cJSON_AddNumberToObject(r, "end_rss_bytes", round(c->end * k));
    cJSON_AddNumberToObject(r, "peak_live_bytes", PEAK_LIVE);
    cJSON_AddNumberToObject(r, "end_live_bytes", 0);
    cJSON_AddNumberToObject(r, "minor_faults", round(c->faults * k));
    cJSON_AddNumberToObject(r, "user_ns", c->user * k);
    cJSON_AddNumberToObject(r, "sys_ns", c->sys * k);
    if (c->series) {
        cJSON *rs = cJSON_AddObjectToObject(r, "rss_series");
        cJSON_AddNumberToObject(rs, "period_ms", 10);
        cJSON *t = cJSON_AddArrayToObject(rs, "t_ms"), *v = cJSON_AddArrayToObject(rs, "rss_bytes");
        for (size_t i = 0; i < c->n_series; i++) {
            cJSON_AddItemToArray(t, cJSON_CreateNumber(10.0 * (double)i));
            cJSON_AddItemToArray(v, cJSON_CreateNumber(c->series[i]));
        }
    }
    cJSON_AddItemToArray(runs, r);
}

static cJSON *row_doc(const char *workload, const struct spec *c, size_t n)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "schema", RESULTS_SCHEMA_BENCH);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "tool"), "name", "heaplab");
    cJSON_AddStringToObject(d, "created_utc", "2026-01-02T03:04:05Z");
    cJSON_AddStringToObject(d, "command", "heaplab bench");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "machine"), "hostname", "h");
    cJSON_AddObjectToObject(d, "config");
    cJSON_AddArrayToObject(d, "allocators");
    cJSON *results = cJSON_AddArrayToObject(d, "results");
    for (size_t a = 0; a < n; a++) {
        cJSON *cell = cJSON_CreateObject();
        cJSON_AddStringToObject(cell, "workload", workload);
        cJSON_AddNumberToObject(cell, "threads", 1);
        cJSON_AddStringToObject(cell, "allocator", c[a].alloc);
        cJSON_AddStringToObject(cell, "status", "ok");
        cJSON_AddNumberToObject(cell, "runs_ok", 5);
        cJSON *runs = cJSON_AddArrayToObject(cell, "runs");
        for (int r = 0; r < 5; r++)
            add_run(runs, &c[a], r);
        cJSON_AddItemToArray(results, cell);
    }
    return d;
}

/* report_why of the row made of `c`; its return value, the line in buf. */
static int why(const char *workload, const struct spec *c, size_t n, char *buf, size_t cap)
{
    struct results_set s;
    struct diag d;
    cJSON *doc = row_doc(workload, c, n);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    results_init(&s);
    int rc = -1;
    if (results_load_mem(&s, "x.json", text, strlen(text), &d) == 0) {
        size_t cells[16];
        for (size_t i = 0; i < s.n_cells; i++)
            cells[i] = i;
        rc = report_why(&s, cells, s.n_cells, buf, cap);
    } else {
        fprintf(stderr, "load: %s\n", d.msg);
    }
    cJSON_free(text);
    results_free(&s);
    return rc;
}

#define MIB 1048576.0

static const double keeps_series[] = { 0, 20 * MIB, 45 * MIB, 45 * MIB, 44 * MIB };
static const double frees_series[] = { 0, 20 * MIB, 44 * MIB, 10 * MIB, 2 * MIB };

static void test_why_keeps_after_the_frees(void)
{
    const struct spec row[] = {
        { "glibc", 1e7, 44 * MIB, 2 * MIB, 10000, 1e8, 1e7, 0.02, frees_series, 5 },
        { "jemalloc", 1e7, 45 * MIB, 44 * MIB, 10000, 1e8, 1e7, 0.02, keeps_series, 5 },
    };
    char buf[512];
    CHECK(why("bulk", row, 2, buf, sizeof buf) == 1);
    CHECK(strcmp(buf, "jemalloc keeps 22\u00d7 the memory of glibc at the end of bulk (44 MiB vs "
                      "2.0 MiB, nothing live): its RSS stays at 98% of its peak after the frees, "
                      "glibc's falls to 5%")
          == 0);
    if (check_cur_failed) fprintf(stderr, "got: %s\n", buf);
}

static void test_why_nothing_within_the_spread(void)
{
    /* The same two allocators, but their end RSS overlap across the repetitions. */
    const struct spec row[] = {
        { "glibc", 1e7, 44 * MIB, 30 * MIB, 10000, 1e8, 1e7, 0.9, NULL, 0 },
        { "jemalloc", 1e7, 45 * MIB, 44 * MIB, 10000, 1e8, 1e7, 0.2, NULL, 0 },
    };
    char buf[512];
    CHECK(why("bulk", row, 2, buf, sizeof buf) == 0);
    CHECK(buf[0] == 0);
    const struct spec same[] = {
        { "glibc", 1e7, 44 * MIB, 44 * MIB, 10000, 1e8, 1e7, 0.02, NULL, 0 },
        { "jemalloc", 1e7, 44 * MIB, 44 * MIB, 10000, 1e8, 1e7, 0.02, NULL, 0 },
    };
    CHECK(why("bulk", same, 2, buf, sizeof buf) == 0);
}

static void test_why_peaks_against_live(void)
{
    const struct spec row[] = {
        { "glibc", 1e7, 44 * MIB, 44 * MIB, 10000, 1e8, 1e7, 0.02, NULL, 0 },
        { "tcmalloc", 1e7, 96 * MIB, 60 * MIB, 10000, 1e8, 1e7, 0.02, NULL, 0 },
    };
    char buf[512];
    CHECK(why("mixed", row, 2, buf, sizeof buf) == 1);
    CHECK(strcmp(buf, "tcmalloc's RSS peaks at 2.2\u00d7 glibc's on mixed (96 MiB vs 44 MiB) for "
                      "40 MiB live at most: 2.4\u00d7 and 1.1\u00d7 the live bytes")
          == 0);
    if (check_cur_failed) fprintf(stderr, "got: %s\n", buf);
}

static void test_why_slow_in_the_kernel(void)
{
    const struct spec row[] = {
        { "glibc", 1e7, 44 * MIB, 44 * MIB, 10000, 9.5e8, 0.5e8, 0.02, NULL, 0 },
        { "hlmalloc", 5e6, 44 * MIB, 44 * MIB, 100000, 1.2e9, 0.8e9, 0.02, NULL, 0 },
        { "mimalloc", 8e6, 44 * MIB, 44 * MIB, 10000, 1e9, 0.5e8, 0.02, NULL, 0 },
    };
    char buf[512];
    CHECK(why("small", row, 3, buf, sizeof buf) == 1);
    CHECK(strcmp(buf, "hlmalloc is 2.0\u00d7 slower than glibc on small: 40% of its CPU time is "
                      "in the kernel, against 5% (100k page faults against 10k)")
          == 0);
    if (check_cur_failed) fprintf(stderr, "got: %s\n", buf);
    /* Slower, but neither the kernel nor faults nor blocking says why: no line. */
    const struct spec plain[] = {
        { "glibc", 1e7, 44 * MIB, 44 * MIB, 10000, 1e9, 0.5e8, 0.02, NULL, 0 },
        { "hlmalloc", 5e6, 44 * MIB, 44 * MIB, 10000, 2e9, 1e8, 0.02, NULL, 0 },
    };
    CHECK(why("small", plain, 2, buf, sizeof buf) == 0);
}

static void test_why_race_says_nothing(void)
{
    const char *race = "{\"schema\":\"heaplab.race/1\",\"tool\":{\"name\":\"heaplab\"},"
                       "\"created_utc\":\"x\",\"command\":\"c\",\"machine\":{},\"workload\":\"w\","
                       "\"allocators\":[{\"name\":\"bump\"},{\"name\":\"buddy\"}],"
                       "\"leaderboard\":[{\"name\":\"bump\",\"footprint\":100000000},"
                       "{\"name\":\"buddy\",\"footprint\":1000}]}";
    struct results_set s;
    struct diag d;
    results_init(&s);
    REQUIRE(results_load_mem(&s, "r.json", race, strlen(race), &d) == 0);
    size_t cells[2] = { 0, 1 };
    char buf[64] = "x";
    CHECK(report_why(&s, cells, 2, buf, sizeof buf) == 0 && buf[0] == 0);
    results_free(&s);
}

int main(void)
{
    RUN_TEST(test_why_keeps_after_the_frees);
    RUN_TEST(test_why_nothing_within_the_spread);
    RUN_TEST(test_why_peaks_against_live);
    RUN_TEST(test_why_slow_in_the_kernel);
    RUN_TEST(test_why_race_says_nothing);
    return check_report();
}
