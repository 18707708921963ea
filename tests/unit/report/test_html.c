/*
 * tests/unit/report/test_html.c: the pieces of an HTML report below the views: the series
 * downsampling (size, ends, peaks and troughs kept), the median run, the data of a document
 * built here (metrics as [median, min, max, n], the median run's series and marks), and the
 * page: styles, data and scripts in order, every "</" inside them escaped, the title escaped,
 * files that are not styles or scripts left out.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report/report.h"
#include "server/assets.h"
#include "util/diag.h"

static void test_downsample_keeps_ends_peaks_and_troughs(void)
{
    enum { N = 10007 };
    static double t[N], v[N], ot[N], ov[N];
    double x = 0;
    size_t imax = 0, imin = 0;
    srand(7);
    for (size_t i = 0; i < N; i++) {
        x += rand() % 201 - 100;
        t[i] = (double)i * 10;
        v[i] = x;
        if (v[i] > v[imax]) imax = i;
        if (v[i] < v[imin]) imin = i;
    }
    size_t n = report_downsample(t, v, N, REPORT_SERIES_MAX, ot, ov);
    CHECK(n <= REPORT_SERIES_MAX && n > REPORT_SERIES_MAX - 4);
    CHECK(ot[0] == t[0] && ov[0] == v[0] && ot[n - 1] == t[N - 1] && ov[n - 1] == v[N - 1]);
    int sorted = 1, has_max = 0, has_min = 0;
    for (size_t i = 0; i < n; i++) {
        sorted &= i == 0 || ot[i] > ot[i - 1];
        has_max |= ot[i] == t[imax] && ov[i] == v[imax];
        has_min |= ot[i] == t[imin] && ov[i] == v[imin];
    }
    CHECK(sorted && has_max && has_min);
    /* Short series are copied. */
    CHECK(report_downsample(t, v, 5, REPORT_SERIES_MAX, ot, ov) == 5 && ov[4] == v[4]);
}

/* A bench document: one cell, three runs whose peak RSS is 3, 1, 2 MiB; each with a series
 * of `points` points and one mark, the RSS of run r being r + 1 MiB everywhere. */
static cJSON *doc(size_t points)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "schema", RESULTS_SCHEMA_BENCH);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "tool"), "name", "heaplab");
    cJSON_AddStringToObject(d, "created_utc", "2026-01-02T03:04:05Z");
    cJSON_AddStringToObject(d, "command", "heaplab bench </script>");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "machine"), "hostname", "h<1>");
    cJSON_AddObjectToObject(d, "config");
    cJSON_AddArrayToObject(d, "allocators");
    cJSON *cell = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(d, "results"), cell);
    cJSON_AddStringToObject(cell, "workload", "bulk");
    cJSON_AddNumberToObject(cell, "threads", 1);
    cJSON_AddStringToObject(cell, "allocator", "glibc");
    cJSON_AddStringToObject(cell, "status", "ok");
    cJSON_AddNumberToObject(cell, "runs_ok", 3);
    cJSON *runs = cJSON_AddArrayToObject(cell, "runs");
    static const double peak_mib[3] = { 3, 1, 2 };
    for (int r = 0; r < 3; r++) {
        cJSON *run = cJSON_CreateObject();
        cJSON_AddNumberToObject(run, "rep", r);
        cJSON_AddStringToObject(run, "status", "ok");
        cJSON_AddNumberToObject(run, "ops_per_sec", 1e6 * (r + 1));
        cJSON_AddNumberToObject(run, "wall_ns", 1e6);
        cJSON_AddNumberToObject(run, "peak_rss_bytes", peak_mib[r] * 1048576);
        cJSON *rs = cJSON_AddObjectToObject(run, "rss_series");
        cJSON_AddNumberToObject(rs, "period_ms", 10);
        cJSON *t = cJSON_AddArrayToObject(rs, "t_ms"), *v = cJSON_AddArrayToObject(rs, "rss_bytes");
        for (size_t i = 0; i < points; i++) {
            cJSON_AddItemToArray(t, cJSON_CreateNumber(10.0 * (double)i));
            cJSON_AddItemToArray(v, cJSON_CreateNumber((r + 1) * 1048576.0 + (double)(i % 7)));
        }
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "label", "holes");
        cJSON_AddNumberToObject(m, "thread", 0);
        cJSON_AddNumberToObject(m, "t_ms", 5 + r);
        cJSON_AddNumberToObject(m, "rss_bytes", 4096);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(run, "marks"), m);
        cJSON_AddItemToArray(runs, run);
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

static void test_median_run_and_data(void)
{
    struct results_set s;
    struct diag d;
    REQUIRE(load(&s, doc(3000)) == 0);
    const cJSON *med = results_median_run(&s.cells[0], "peak_rss_bytes");
    REQUIRE(med);
    CHECK(cJSON_GetObjectItem(med, "rep")->valuedouble == 2); /* 2 MiB: between 1 and 3 */
    cJSON *data = cJSON_CreateObject();
    REQUIRE(report_data(data, &s, NULL, NULL, NULL, NULL, &d) == 0);
    const cJSON *cell = cJSON_GetArrayItem(cJSON_GetObjectItem(data, "cells"), 0);
    const cJSON *ops = cJSON_GetObjectItem(cJSON_GetObjectItem(cell, "s"), "ops_per_sec");
    CHECK(cJSON_GetArraySize(ops) == 4);
    CHECK(cJSON_GetArrayItem(ops, 0)->valuedouble == 2e6);
    CHECK(cJSON_GetArrayItem(ops, 1)->valuedouble == 1e6);
    CHECK(cJSON_GetArrayItem(ops, 2)->valuedouble == 3e6);
    CHECK(cJSON_GetArrayItem(ops, 3)->valuedouble == 3);
    const cJSON *rss = cJSON_GetObjectItem(cell, "rss");
    CHECK(cJSON_GetObjectItem(rss, "rep")->valuedouble == 2);
    const cJSON *kib = cJSON_GetObjectItem(rss, "rss_kib");
    CHECK(cJSON_GetArraySize(kib) <= REPORT_SERIES_MAX && cJSON_GetArraySize(kib) > 1000);
    CHECK(cJSON_GetArrayItem(kib, 0)->valuedouble == 3072); /* run 2: 3 MiB */
    const cJSON *mark = cJSON_GetArrayItem(cJSON_GetObjectItem(cell, "marks"), 0);
    CHECK(strcmp(cJSON_GetObjectItem(mark, "label")->valuestring, "holes") == 0);
    CHECK(cJSON_GetObjectItem(mark, "t_ms")->valuedouble == 7);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(data, "machines")) == 1);
    const cJSON *dj = cJSON_GetArrayItem(cJSON_GetObjectItem(data, "docs"), 0);
    CHECK(strcmp(cJSON_GetObjectItem(dj, "kind")->valuestring, "bench") == 0);
    cJSON_Delete(data);
    results_free(&s);
}

static const unsigned char css[] = "b{} /* </style><b> */";
static const unsigned char js1[] = "var a = '</script><i>'; // <!-- x";
static const unsigned char js2[] = "var b = 2;";
static const unsigned char lic[] = "licence </body>";
static const struct web_asset assets[] = {
    { "/index.html", "text/html; charset=utf-8", (const unsigned char *)"INDEX", 5 },
    { "/assets/a.css", "text/css; charset=utf-8", css, sizeof css - 1 },
    { "/assets/one.js", "text/javascript; charset=utf-8", js1, sizeof js1 - 1 },
    { "/assets/two.js", "text/javascript; charset=utf-8", js2, sizeof js2 - 1 },
    { "/assets/LICENSE.txt", "text/plain; charset=utf-8", lic, sizeof lic - 1 },
};

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_page_inlines_in_order_and_escapes(void)
{
    struct results_set s;
    struct diag d;
    REQUIRE(load(&s, doc(3)) == 0);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "schema", REPORT_SCHEMA);
    REQUIRE(report_data(data, &s, NULL, NULL, NULL, NULL, &d) == 0);
    char *page;
    size_t len;
    REQUIRE(report_html(data, "a&b <x>.json", assets, 5, &page, &len, &d) == 0);
    CHECK(strlen(page) == len);
    CHECK(strstr(page, "<title>heaplab report: a&amp;b &lt;x&gt;.json</title>") != NULL);
    const char *style = strstr(page, "b{} /* <\\/style><b> */</style>");
    const char *json = strstr(page, "<script type=\"application/json\" id=\"heaplab-results\">{");
    const char *one = strstr(page, "var a = '<\\/script><i>'; // <\\!-- x");
    const char *two = strstr(page, "var b = 2;");
    CHECK(style && json && one && two && style < json && json < one && one < two);
    /* The data's "</script>" (in the command) and "<1>" are escaped, nothing else ends early. */
    CHECK(strstr(page, "heaplab bench \\u003c/script>") != NULL);
    CHECK(strstr(page, "h\\u003c1>") != NULL);
    CHECK(count(page, "</script>") == 3 && count(page, "</style>") == 1);
    CHECK(count(page, "<!--") == 0);
    CHECK(strstr(page, "licence") == NULL && strstr(page, "INDEX") == NULL);
    CHECK(strstr(page, "</body>\n</html>\n") == page + len - 16);
    free(page);
    cJSON_Delete(data);
    results_free(&s);
}

int main(void)
{
    RUN_TEST(test_downsample_keeps_ends_peaks_and_troughs);
    RUN_TEST(test_median_run_and_data);
    RUN_TEST(test_page_inlines_in_order_and_escapes);
    return check_report();
}
