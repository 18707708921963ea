/*
 * tests/unit/report/test_compare.c: compare_sets on documents built here: a known regression
 * and improvement get their verdicts, a set against itself none, a cell whose runs all fail
 * in new is worse, a latency below the timer's resolution is untested, --relative-to divides
 * out a machine that got slower (and the drift counts see it without), and sets of another
 * kind or without a common cell are refused with one line.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "report/report.h"
#include "util/diag.h"

static const double jitter[5] = { 0.98, 0.99, 1.00, 1.01, 1.02 };

/* A bench document of cells (small, 1, glibc) and (small, 1, jemalloc): five runs each,
 * throughput 10M x jitter x tput[a], malloc p99 500 ns x p99[a]; failed[a] fails them all. */
static cJSON *doc(const char *workload, const double *tput, const double *p99, const int *failed)
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
    static const char *const names[2] = { "glibc", "jemalloc" };
    for (int a = 0; a < 2; a++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "workload", workload);
        cJSON_AddNumberToObject(c, "threads", 1);
        cJSON_AddStringToObject(c, "allocator", names[a]);
        cJSON_AddStringToObject(c, "status", failed[a] ? "failed" : "ok");
        cJSON_AddNumberToObject(c, "runs_ok", failed[a] ? 0 : 5);
        cJSON *runs = cJSON_AddArrayToObject(c, "runs");
        for (int r = 0; r < 5; r++) {
            cJSON *run = cJSON_CreateObject();
            cJSON_AddNumberToObject(run, "rep", r);
            if (failed[a]) {
                cJSON_AddStringToObject(run, "status", "crashed");
                cJSON_AddStringToObject(run, "error", "signal 11");
            } else {
                cJSON_AddStringToObject(run, "status", "ok");
                cJSON_AddNumberToObject(run, "ops_per_sec", 1e7 * jitter[r] * tput[a]);
                cJSON_AddNumberToObject(run, "wall_ns", 1000);
                cJSON_AddNumberToObject(run, "peak_rss_bytes", 1048576);
                cJSON *lat = cJSON_AddObjectToObject(run, "latency");
                cJSON_AddNumberToObject(lat, "timer_resolution_ns", 20);
                cJSON_AddNumberToObject(cJSON_AddObjectToObject(lat, "malloc"), "p99_ns",
                                        500 * jitter[(r + 2) % 5] * p99[a]);
            }
            cJSON_AddItemToArray(runs, run);
        }
        cJSON_AddItemToArray(results, c);
    }
    return d;
}

static int load(struct results_set *s, cJSON *d)
{
    struct diag dg;
    char *text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    results_init(s);
    int rc = results_load_mem(s, "x.json", text, strlen(text), &dg);
    cJSON_free(text);
    return rc;
}

static const struct compare_opts opts = { .alpha = 0.05, .threshold = 0.05 };
static const double one[2] = { 1, 1 };
static const int none[2] = { 0, 0 };

static void test_compare_known_regression_and_improvement(void)
{
    struct results_set base, new;
    const double tput[2] = { 0.8, 1.0 }, p99[2] = { 1.0, 0.5 };
    REQUIRE(load(&base, doc("small", one, one, none)) == 0);
    REQUIRE(load(&new, doc("small", tput, p99, none)) == 0);
    struct compare c;
    struct diag d;
    REQUIRE(compare_sets(&base, &new, &opts, &c, &d) == 0);
    CHECK_EQ_U64(c.cells, 2);
    CHECK_EQ_U64(c.n_rows, 6);
    CHECK_EQ_U64(c.worse, 1);
    CHECK_EQ_U64(c.better, 1);
    const struct compare_row *glibc_tput = &c.rows[0], *jemalloc_p99 = &c.rows[3];
    CHECK(glibc_tput->verdict == COMPARE_WORSE && fabs(glibc_tput->change + 0.2) < 1e-12);
    CHECK(glibc_tput->significant && fabs(glibc_tput->test.p - 2.0 / 252) < 1e-12);
    CHECK(jemalloc_p99->verdict == COMPARE_BETTER && fabs(jemalloc_p99->change + 0.5) < 1e-12);
    CHECK(c.rows[1].verdict == COMPARE_SAME && c.rows[1].test.p == 1);
    compare_free(&c);
    REQUIRE(compare_sets(&base, &base, &opts, &c, &d) == 0);
    for (size_t i = 0; i < c.n_rows; i++)
        CHECK(c.rows[i].verdict == COMPARE_SAME && !c.rows[i].significant);
    compare_free(&c);
    results_free(&base);
    results_free(&new);
}

static void test_compare_failures_and_resolution(void)
{
    struct results_set base, new;
    const int fails[2] = { 0, 1 };
    const double tiny[2] = { 0.01, 1 }; /* 5 ns p99 under a 20 ns timer */
    REQUIRE(load(&base, doc("small", one, tiny, none)) == 0);
    REQUIRE(load(&new, doc("small", one, one, fails)) == 0);
    struct compare c;
    struct diag d;
    REQUIRE(compare_sets(&base, &new, &opts, &c, &d) == 0);
    CHECK(c.rows[1].verdict == COMPARE_NEW_FAILS); /* jemalloc, first metric only */
    CHECK(c.rows[3].verdict == COMPARE_UNTESTED && c.rows[3].new.n == 0);
    CHECK(c.rows[2].verdict == COMPARE_UNTESTED && isnan(c.rows[2].test.p)); /* below 20 ns */
    CHECK(c.rows[2].resolution_ns == 20);
    CHECK_EQ_U64(c.worse, 1);
    compare_free(&c);
    results_free(&base);
    results_free(&new);
}

static void test_compare_relative_to_cancels_a_slower_machine(void)
{
    struct results_set base, new;
    const double slower[2] = { 0.5, 0.6 }; /* all at half speed; jemalloc 1.2x glibc's */
    REQUIRE(load(&base, doc("small", one, one, none)) == 0);
    REQUIRE(load(&new, doc("small", slower, one, none)) == 0);
    struct compare c;
    struct diag d = { { 0 } };
    REQUIRE(compare_sets(&base, &new, &opts, &c, &d) == 0);
    CHECK(c.rows[0].verdict == COMPARE_WORSE && c.rows[1].verdict == COMPARE_WORSE);
    CHECK(c.first_tested == 2 && c.first_down == 2 && c.first_up == 0);
    CHECK_EQ_U64(c.first_allocators, 2);
    compare_free(&c);
    struct compare_opts rel = opts;
    rel.relative_to = "glibc";
    REQUIRE(compare_sets(&base, &new, &rel, &c, &d) == 0);
    CHECK(c.rows[0].verdict == COMPARE_REFERENCE && c.rows[0].relative);
    CHECK(c.rows[0].base.median == 1 && c.rows[0].new.n == 5);
    const struct compare_row *jt = &c.rows[1];
    CHECK(jt->relative && jt->verdict == COMPARE_BETTER && fabs(jt->change - 0.2) < 1e-12);
    CHECK(fabs(jt->base.median - 1.0) < 1e-12 && fabs(jt->new.median - 1.2) < 1e-12);
    CHECK(c.rows[3].relative && c.rows[3].verdict == COMPARE_SAME);  /* jemalloc's p99 / glibc's */
    CHECK(!c.rows[5].relative && c.rows[5].verdict == COMPARE_SAME); /* peak RSS: as measured */
    CHECK(c.first_tested == 0 && c.worse == 0 && c.better == 1);
    compare_free(&c);
    rel.relative_to = "tcmalloc";
    CHECK(compare_sets(&base, &new, &rel, &c, &d) == -1);
    CHECK(strstr(d.msg, "--relative-to tcmalloc: x.json has no allocator") != NULL);
    results_free(&base);
    results_free(&new);
}

static void test_compare_refuses_what_cannot_be_compared(void)
{
    struct results_set base, other;
    REQUIRE(load(&base, doc("small", one, one, none)) == 0);
    REQUIRE(load(&other, doc("large", one, one, none)) == 0);
    struct compare c;
    struct diag d = { { 0 } };
    CHECK(compare_sets(&base, &other, &opts, &c, &d) == -1);
    CHECK(strcmp(d.msg, "x.json and x.json share no cell (workload, threads, allocator)") == 0);
    CHECK(c.rows == NULL && c.n_rows == 0);
    results_free(&other);
    results_init(&other);
    CHECK(compare_sets(&base, &other, &opts, &c, &d) == -1); /* nothing loaded */
    results_free(&base);
}

int main(void)
{
    RUN_TEST(test_compare_known_regression_and_improvement);
    RUN_TEST(test_compare_failures_and_resolution);
    RUN_TEST(test_compare_relative_to_cancels_a_slower_machine);
    RUN_TEST(test_compare_refuses_what_cannot_be_compared);
    return check_report();
}
