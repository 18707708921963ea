/*
 * tests/unit/bench/test_report.c: the tables and the CSV from synthetic results: which cell
 * is marked best (ties included), when the spread is shown, what the header says, and that
 * the progress line counts repetitions as the CSV does.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "check.h"
#include "util/diag.h"

#define MAX_ROWS 4

/* A matrix of `rows` workloads x `na` allocators, each cell `reps` runs of the same values. */
struct fixture {
    struct bench_config cfg;
    struct bench_results res;
    struct bench_cell cells[MAX_ROWS * ALLOC_MAX];
    const char *workloads[MAX_ROWS];
};

static void fixture_init(struct fixture *f, const char *const *workloads, size_t rows,
                         const char *const *allocs, size_t na, unsigned reps)
{
    memset(f, 0, sizeof *f);
    f->cfg.workloads = f->workloads;
    f->cfg.n_workloads = rows;
    f->cfg.threads[0] = 1;
    f->cfg.n_threads = 1;
    f->cfg.seed = 1;
    f->cfg.repeat = reps;
    f->cfg.latency = 1;
    f->cfg.n_allocs = na;
    for (size_t a = 0; a < na; a++) {
        snprintf(f->cfg.allocs[a].name, sizeof f->cfg.allocs[a].name, "%s", allocs[a]);
        f->cfg.allocs[a].found = 1;
    }
    for (size_t r = 0; r < rows; r++) {
        f->workloads[r] = workloads[r];
        for (size_t a = 0; a < na; a++) {
            struct bench_cell *c = &f->cells[r * na + a];
            c->workload = workloads[r];
            c->threads = 1;
            c->alloc_idx = a;
            c->runs = cJSON_CreateArray();
        }
    }
    f->res.cells = f->cells;
    f->res.n_cells = rows * na;
}

/* Give cell (row, alloc) `reps` successful runs with this throughput and malloc p50. */
static void set_run(struct fixture *f, size_t row, size_t alloc, double ops_per_sec,
                    double malloc_p50_ns, double resolution_ns)
{
    struct bench_cell *c = &f->cells[row * f->cfg.n_allocs + alloc];
    for (unsigned rep = 0; rep < f->cfg.repeat; rep++) {
        cJSON *run = cJSON_CreateObject();
        cJSON_AddStringToObject(run, "status", "ok");
        cJSON_AddNumberToObject(run, "rep", rep);
        /* 1% apart per repetition, so a spread exists when there are several */
        cJSON_AddNumberToObject(run, "ops_per_sec", ops_per_sec * (1 + 0.01 * rep));
        cJSON_AddNumberToObject(run, "peak_rss_bytes", 1048576);
        cJSON_AddNumberToObject(run, "frag_peak", 1.5);
        cJSON *lat = cJSON_AddObjectToObject(run, "latency");
        cJSON_AddNumberToObject(lat, "timer_resolution_ns", resolution_ns);
        cJSON *m = cJSON_AddObjectToObject(lat, "malloc");
        cJSON_AddNumberToObject(m, "p50_ns", malloc_p50_ns);
        cJSON_AddNumberToObject(m, "p99_ns", malloc_p50_ns * 4);
        cJSON *fr = cJSON_AddObjectToObject(lat, "free");
        cJSON_AddNumberToObject(fr, "p99_ns", 100);
        cJSON_AddItemToArray(c->runs, run);
        c->n_ok++;
    }
}

static void fixture_fini(struct fixture *f)
{
    for (size_t i = 0; i < f->res.n_cells; i++)
        cJSON_Delete(f->cells[i].runs);
}

/* The tables as report_table prints them without colour; caller frees. */
static char *tables(const struct fixture *f, const char *command)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp) return NULL;
    report_table(&f->cfg, &f->res, fp, command, 0);
    fclose(fp);
    return text;
}

/* The line of `text` after the heading line starting `title`, that starts with `row`. */
static const char *row_of(const char *text, const char *title, const char *row, char *buf,
                          size_t cap)
{
    const char *t = strstr(text, title);
    if (!t) return NULL;
    for (const char *p = strchr(t, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        if (p[1] == '\n') return NULL; /* the end of that table */
        if (strncmp(p + 1, row, strlen(row)) == 0) {
            size_t n = strcspn(p + 1, "\n");
            snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p + 1);
            return buf;
        }
    }
    return NULL;
}

static const char *const two_rows[] = { "small", "mixed" };
static const char *const three_allocs[] = { "glibc", "fast", "slow" };

static void test_report_marks_best_without_colour(void)
{
    struct fixture f;
    char line[256];
    fixture_init(&f, two_rows, 1, three_allocs, 3, 3);
    set_run(&f, 0, 0, 20e6, 50, 10);
    set_run(&f, 0, 1, 40e6, 40, 10);
    set_run(&f, 0, 2, 10e6, 90, 10);
    char *t = tables(&f, "bench");
    REQUIRE(t);
    REQUIRE(row_of(t, "Throughput", "small", line, sizeof line));
    CHECK(strstr(line, "40.4*") && strchr(line, '*') == strrchr(line, '*')); /* medians: 1% up */
    REQUIRE(row_of(t, "malloc latency p50", "small", line, sizeof line));
    CHECK(strstr(line, "40*") && !strstr(line, "50*") && !strstr(line, "90*"));
    CHECK(strstr(t, "best of each row marked *"));
    free(t);
    fixture_fini(&f);
}

static void test_report_marks_every_tied_cell(void)
{
    struct fixture f;
    char line[256];
    fixture_init(&f, two_rows, 1, three_allocs, 3, 1);
    set_run(&f, 0, 0, 30e6, 45, 10);
    set_run(&f, 0, 1, 30.01e6, 45, 10); /* prints 30.0 too: a tie as the reader sees it */
    set_run(&f, 0, 2, 10e6, 80, 10);
    char *t = tables(&f, "bench");
    REQUIRE(t);
    REQUIRE(row_of(t, "Throughput", "small", line, sizeof line));
    const char *first = strstr(line, "30.0*");
    CHECK(first && strstr(first + 1, "30.0*"));
    REQUIRE(row_of(t, "malloc latency p50", "small", line, sizeof line));
    first = strstr(line, "45*");
    CHECK(first && strstr(first + 1, "45*") && !strstr(line, "80*"));
    free(t);
    fixture_fini(&f);
}

static void test_report_one_repeat_shows_no_spread(void)
{
    struct fixture f;
    fixture_init(&f, two_rows, 2, three_allocs, 3, 1);
    for (size_t r = 0; r < 2; r++)
        for (size_t a = 0; a < 3; a++)
            set_run(&f, r, a, 10e6 * (double)(a + 1), 50, 10);
    char *t = tables(&f, "bench");
    REQUIRE(t);
    CHECK(strstr(t, "±") == NULL);
    CHECK(strncmp(t, "heaplab bench: seed 1, 1 repeat;", 32) == 0);
    free(t);
    fixture_fini(&f);

    fixture_init(&f, two_rows, 1, three_allocs, 3, 3);
    for (size_t a = 0; a < 3; a++)
        set_run(&f, 0, a, 10e6 * (double)(a + 1), 50, 10);
    t = tables(&f, "bench");
    REQUIRE(t);
    CHECK(strstr(t, "±2%") != NULL); /* 3 runs 1% apart: (1.02 - 1) / 1.01 */
    free(t);
    fixture_fini(&f);
}

static void test_report_trace_header_has_no_seed(void)
{
    static const char *const traced[] = { "trace:/tmp/x/app.trace" };
    struct fixture f;
    fixture_init(&f, traced, 1, three_allocs, 3, 2);
    for (size_t a = 0; a < 3; a++)
        set_run(&f, 0, a, 10e6, 50, 10);
    char *t = tables(&f, "replay");
    REQUIRE(t);
    CHECK(strncmp(t, "heaplab replay: 2 repeats,", 26) == 0);
    CHECK(strstr(t, "seed") == NULL);
    CHECK(strstr(t, "\ntrace:app.trace ") != NULL);
    free(t);
    fixture_fini(&f);
}

/* The CSV's `rep` and the progress line count repetitions from the same origin. */
static void test_report_progress_counts_reps_as_the_csv(void)
{
    struct fixture f;
    char path[] = "/tmp/heaplab-report-XXXXXX", text[4096] = { 0 }, line[128];
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    fixture_init(&f, two_rows, 1, three_allocs, 1, 2);
    set_run(&f, 0, 0, 10e6, 50, 10);
    struct diag d = { { 0 } };
    REQUIRE(report_csv(&f.cfg, &f.res, path, &d) == 0);
    FILE *fp = fopen(path, "r");
    REQUIRE(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    unlink(path);
    text[n] = 0;
    /* rows: "small",1,"glibc",REP,"ok",... for the two repetitions */
    CHECK(strstr(text, "\n\"small\",1,\"glibc\",0,\"ok\",") != NULL);
    CHECK(strstr(text, "\n\"small\",1,\"glibc\",1,\"ok\",") != NULL);
    struct bench_progress p = { .done = 0,
                                .total = 2,
                                .workload = "small",
                                .threads = 1,
                                .allocator = "glibc",
                                .rep = 0,
                                .repeat = 2 };
    bench_progress_format(line, sizeof line, &p);
    CHECK(strcmp(line, "[1/2] small threads=1 glibc rep 0 of 0..1") == 0);
    p.done = 1;
    p.rep = 1;
    bench_progress_format(line, sizeof line, &p);
    CHECK(strcmp(line, "[2/2] small threads=1 glibc rep 1 of 0..1") == 0);
    fixture_fini(&f);
}

/*
 * A latency under the timer's resolution is printed "<RES", never marked best, and left out
 * of the geomean; the rest of its row still ranks.
 */
static void test_report_latency_below_resolution(void)
{
    struct fixture f;
    char line[256];
    fixture_init(&f, two_rows, 2, three_allocs, 3, 2);
    /* row 0: glibc 12 ns and fast 8 ns are under the 30 ns resolution; slow 60 ns is not */
    set_run(&f, 0, 0, 10e6, 12, 30);
    set_run(&f, 0, 1, 10e6, 8, 30);
    set_run(&f, 0, 2, 10e6, 60, 30);
    /* row 1: all measurable: fast = 2 x glibc, slow = 4 x glibc */
    set_run(&f, 1, 0, 10e6, 50, 30);
    set_run(&f, 1, 1, 10e6, 100, 30);
    set_run(&f, 1, 2, 10e6, 200, 30);
    char *t = tables(&f, "bench");
    REQUIRE(t);
    REQUIRE(row_of(t, "malloc latency p50", "small", line, sizeof line));
    CHECK(strstr(line, "<30") && strstr(line, "<30") != strrchr(line, '<')); /* two cells */
    CHECK(strstr(line, "60*") != NULL);                                      /* ranked alone */
    CHECK(strstr(line, "<30*") == NULL && strstr(line, " 8") == NULL
          && strstr(line, " 12") == NULL);
    REQUIRE(row_of(t, "malloc latency p50", "geomean", line, sizeof line));
    CHECK(strstr(line, "1.00x") && strstr(line, "2.00x") && strstr(line, "4.00x"));
    /* p99 (4 x p50) is measurable everywhere: untouched */
    REQUIRE(row_of(t, "malloc latency p99", "small", line, sizeof line));
    CHECK(strchr(line, '<') == NULL && strstr(line, "32*") != NULL);
    free(t);
    fixture_fini(&f);
}

int main(void)
{
    RUN_TEST(test_report_marks_best_without_colour);
    RUN_TEST(test_report_marks_every_tied_cell);
    RUN_TEST(test_report_one_repeat_shows_no_spread);
    RUN_TEST(test_report_trace_header_has_no_seed);
    RUN_TEST(test_report_progress_counts_reps_as_the_csv);
    RUN_TEST(test_report_latency_below_resolution);
    return check_report();
}
