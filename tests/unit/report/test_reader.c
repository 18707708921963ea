/*
 * tests/unit/report/test_reader.c: results files into the model: what is read, and the one
 * line each kind of bad input gets (another schema, a newer or older version, truncated or
 * not JSON, an empty results array, inconsistent counts).
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "check.h"
#include "report/report.h"
#include "util/diag.h"

static cJSON *envelope(const char *schema, const char *host)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "schema", schema);
    cJSON *tool = cJSON_AddObjectToObject(d, "tool");
    cJSON_AddStringToObject(tool, "name", "heaplab");
    cJSON_AddStringToObject(tool, "version", "0.1.0");
    cJSON_AddStringToObject(d, "created_utc", "2026-01-02T03:04:05Z");
    cJSON_AddStringToObject(d, "command", "heaplab bench");
    cJSON *m = cJSON_AddObjectToObject(d, "machine");
    cJSON_AddStringToObject(m, "cpu_model", "Test CPU");
    cJSON_AddNumberToObject(m, "cores", 2);
    cJSON_AddStringToObject(m, "hostname", host);
    return d;
}

static cJSON *bench_run(unsigned rep, double ops_per_sec)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "ok");
    cJSON_AddNumberToObject(r, "rep", rep);
    cJSON_AddNumberToObject(r, "ops_per_sec", ops_per_sec);
    cJSON_AddNumberToObject(r, "wall_ns", 1000);
    cJSON_AddNumberToObject(r, "peak_rss_bytes", 4096 * (rep + 1));
    cJSON *lat = cJSON_AddObjectToObject(r, "latency");
    cJSON_AddNumberToObject(lat, "timer_resolution_ns", 10);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(lat, "malloc"), "p99_ns", 100 + rep);
    return r;
}

/* A bench document: workloads x {1, 2} threads x {glibc, jemalloc}, `reps` runs each. */
static cJSON *bench_doc(const char *host, int reps)
{
    cJSON *d = envelope(RESULTS_SCHEMA_BENCH, host);
    cJSON_AddObjectToObject(d, "config");
    cJSON_AddArrayToObject(d, "allocators");
    cJSON *results = cJSON_AddArrayToObject(d, "results");
    static const char *const workloads[] = { "small", "trace:/tmp/x.trace" };
    static const char *const allocs[] = { "glibc", "jemalloc" };
    for (int w = 0; w < 2; w++)
        for (int t = 1; t <= 2; t++)
            for (int a = 0; a < 2; a++) {
                cJSON *c = cJSON_CreateObject();
                cJSON_AddStringToObject(c, "workload", workloads[w]);
                cJSON_AddNumberToObject(c, "threads", t);
                cJSON_AddStringToObject(c, "allocator", allocs[a]);
                cJSON_AddStringToObject(c, "status", "ok");
                cJSON_AddNumberToObject(c, "runs_ok", reps);
                cJSON_AddObjectToObject(c, "summary");
                cJSON *runs = cJSON_AddArrayToObject(c, "runs");
                for (int r = 0; r < reps; r++)
                    cJSON_AddItemToArray(runs, bench_run((unsigned)r, 1e6 * (r + 1)));
                cJSON_AddItemToArray(results, c);
            }
    return d;
}

/* Load `doc` (deleted) as text into `s`; the return of results_load_mem. */
static int load_doc(struct results_set *s, const char *name, cJSON *doc, struct diag *d)
{
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    int rc = results_load_mem(s, name, text, strlen(text), d);
    cJSON_free(text);
    return rc;
}

/* Load `text` into a fresh set and return the diag's line ("" when it loaded). */
static const char *load_error(const char *text, size_t len)
{
    static struct diag d;
    struct results_set s;
    results_init(&s);
    memset(&d, 0, sizeof d);
    int rc = results_load_mem(&s, "f.json", text, len, &d);
    results_free(&s);
    return rc == 0 ? "" : d.msg;
}

static const char *doc_error(cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    static char msg[256];
    snprintf(msg, sizeof msg, "%s", load_error(text, strlen(text)));
    cJSON_free(text);
    return msg;
}

static void test_reader_bench_document_gives_one_cell_each(void)
{
    struct results_set s;
    struct diag d = { { 0 } };
    results_init(&s);
    REQUIRE(load_doc(&s, "a.json", bench_doc("h1", 3), &d) == 0);
    CHECK_EQ_U64(s.n_docs, 1);
    CHECK_EQ_U64(s.n_cells, 8);
    CHECK(s.docs[0].kind == RESULTS_BENCH && strcmp(s.docs[0].name, "a.json") == 0);
    CHECK(strcmp(s.docs[0].machine_key, "h1") == 0);
    const struct results_cell *c = &s.cells[3];
    CHECK(strcmp(c->workload, "small") == 0 && c->threads == 2);
    CHECK(strcmp(c->allocator, "jemalloc") == 0 && c->runs_ok == 3);
    double v[8];
    CHECK_EQ_U64(results_cell_values(c, RESULTS_BENCH, "ops_per_sec", v, 8), 3);
    CHECK(v[0] == 1e6 && v[2] == 3e6);
    CHECK_EQ_U64(results_cell_values(c, RESULTS_BENCH, "latency.malloc.p99_ns", v, 8), 3);
    CHECK(v[1] == 101);
    CHECK_EQ_U64(results_cell_values(c, RESULTS_BENCH, "no.such", v, 8), 0);
    results_free(&s);
}

static void test_reader_files_add_up_and_machines_get_keys(void)
{
    struct results_set s;
    struct diag d = { { 0 } };
    results_init(&s);
    REQUIRE(load_doc(&s, "a.json", bench_doc("h1", 1), &d) == 0);
    REQUIRE(load_doc(&s, "b.json", bench_doc("h2", 1), &d) == 0);
    cJSON *other = bench_doc("h1", 1); /* the same hostname, another CPU */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(other, "machine"), "cpu_model",
                              cJSON_CreateString("Other CPU"));
    REQUIRE(load_doc(&s, "c.json", other, &d) == 0);
    REQUIRE(load_doc(&s, "d.json", bench_doc("h1", 2), &d) == 0);
    CHECK_EQ_U64(s.n_docs, 4);
    CHECK_EQ_U64(s.n_cells, 32);
    CHECK(strcmp(s.docs[0].machine_key, "h1") == 0);
    CHECK(strcmp(s.docs[1].machine_key, "h2") == 0);
    CHECK(strcmp(s.docs[2].machine_key, "h1#2") == 0);
    CHECK(strcmp(s.docs[3].machine_key, "h1") == 0);
    CHECK(s.cells[9].doc == 1 && s.docs[3].first_cell == 24);
    /* a failed file leaves the set as it was */
    CHECK(load_doc(&s, "e.json", cJSON_CreateArray(), &d) != 0);
    CHECK_EQ_U64(s.n_docs, 4);
    CHECK_EQ_U64(s.n_cells, 32);
    results_free(&s);
}

static void test_reader_bad_bytes_get_one_line_each(void)
{
    CHECK(strcmp(load_error("", 0), "f.json: empty, not a results file") == 0);
    CHECK(strstr(load_error(" \n", 2), "empty (only white space)") != NULL);
    const char *trunc = "{\"schema\": \"heaplab.results/1\", \"results\": [{\"a\": 1";
    CHECK(strncmp(load_error(trunc, strlen(trunc)), "f.json: truncated", 17) == 0);
    const char *in_string = "{\"schema\": \"heaplab.res";
    CHECK(strncmp(load_error(in_string, strlen(in_string)), "f.json: truncated", 17) == 0);
    const char *garbage = "schema: heaplab.results/1\n";
    CHECK(strcmp(load_error(garbage, strlen(garbage)), "f.json: not JSON (line 1, column 1)") == 0);
    const char *bad = "{\"a\": 1,\n \"b\": tru }";
    CHECK(strncmp(load_error(bad, strlen(bad)), "f.json: not JSON (line 2", 24) == 0);
    const char *ticks = "{\"schema\": \"heaplab.ticks/2\"}\n{\"type\": \"tick\"}\n";
    CHECK(strstr(load_error(ticks, strlen(ticks)), "a tick file") != NULL);
    const char *two = "{}\n{}\n";
    CHECK(strstr(load_error(two, strlen(two)), "not one JSON document") != NULL);
    CHECK(strstr(load_error("[1, 2]", 6), "the JSON is not an object") != NULL);
    CHECK(strstr(load_error("{}", 2), "no \"schema\" field") != NULL);
}

static void test_reader_schemas_and_versions_are_named(void)
{
    CHECK(strstr(doc_error(envelope("heaplab.results/3", "h")),
                 "heaplab.results/3 is newer than this heaplab reads (heaplab.results/2)")
          != NULL);
    CHECK(strstr(doc_error(envelope("heaplab.run/1", "h")), "an older version") != NULL);
    CHECK(strstr(doc_error(envelope("heaplab.compare/1", "h")), "heaplab compare --json") != NULL);
    CHECK(strstr(doc_error(envelope("heaplab.nope/1", "h")), "not a results document heaplab reads")
          != NULL);
    CHECK(strstr(doc_error(envelope("something/1", "h")), "not a heaplab results schema") != NULL);
    CHECK(strstr(doc_error(envelope("heaplab.results/x", "h")), "not a heaplab results schema")
          != NULL);
}

static void test_reader_empty_and_inconsistent_bodies_are_refused(void)
{
    cJSON *d = envelope(RESULTS_SCHEMA_BENCH, "h");
    cJSON_AddObjectToObject(d, "config");
    cJSON_AddArrayToObject(d, "allocators");
    cJSON_AddArrayToObject(d, "results");
    CHECK(strcmp(doc_error(d), "f.json: no results: the results array is empty") == 0);

    d = bench_doc("h", 2);
    cJSON *cell = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "results"), 1);
    cJSON_ReplaceItemInObject(cell, "runs_ok", cJSON_CreateNumber(3));
    CHECK(strcmp(doc_error(d), "f.json: results[1]: runs_ok is 3 but 2 runs are ok") == 0);

    d = bench_doc("h", 2);
    cell = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "results"), 2);
    cJSON_ReplaceItemInObject(cell, "threads", cJSON_CreateNumber(1.5));
    CHECK(strcmp(doc_error(d), "f.json: results[2].threads: not a whole number >= 1") == 0);

    d = bench_doc("h", 2);
    cell = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "results"), 0);
    cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItem(cell, "runs"), 1);
    cJSON_ReplaceItemInObject(run, "ops_per_sec", cJSON_CreateString("fast"));
    CHECK(strcmp(doc_error(d), "f.json: results[0].runs[1].ops_per_sec: not a number >= 0") == 0);

    d = bench_doc("h", 2);
    cell = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "results"), 0);
    run = cJSON_GetArrayItem(cJSON_GetObjectItem(cell, "runs"), 0);
    cJSON_DeleteItemFromObject(run, "peak_rss_bytes");
    CHECK(strstr(doc_error(d), "results[0].runs[0].peak_rss_bytes: missing") != NULL);

    d = bench_doc("h", 1);
    cell = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "results"), 0);
    cJSON_ReplaceItemInObject(cell, "allocator", cJSON_CreateString("jemalloc"));
    CHECK(strstr(doc_error(d), "results 0 and 1 are the same cell") != NULL);

    d = bench_doc("h", 1);
    cJSON_DeleteItemFromObject(d, "machine");
    CHECK(strcmp(doc_error(d), "f.json: machine: missing") == 0);
}

static void test_reader_run_and_race_documents(void)
{
    cJSON *run = envelope(RESULTS_SCHEMA_RUN, "h");
    cJSON *prog = cJSON_AddArrayToObject(cJSON_AddObjectToObject(run, "config"), "program");
    cJSON_AddItemToArray(prog, cJSON_CreateString("/bin/true"));
    cJSON_AddItemToArray(prog, cJSON_CreateString("-x"));
    cJSON *allocs = cJSON_AddArrayToObject(run, "allocators");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", "glibc");
    cJSON_AddStringToObject(a, "status", "ok");
    cJSON *runs = cJSON_AddArrayToObject(a, "runs");
    for (int r = 0; r < 3; r++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "rep", r);
        cJSON_AddStringToObject(x, "status", r == 1 ? "crashed" : "ok");
        cJSON_AddNumberToObject(x, "wall_ns", 100 * (r + 1));
        cJSON_AddItemToArray(runs, x);
    }
    cJSON_AddItemToArray(allocs, a);
    cJSON *race = envelope(RESULTS_SCHEMA_RACE, "h");
    cJSON_AddStringToObject(race, "workload", "small");
    cJSON *lane = cJSON_CreateObject();
    cJSON_AddStringToObject(lane, "name", "buddy");
    cJSON_AddNumberToObject(lane, "p99_ns", 42);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(race, "leaderboard"), lane);

    struct results_set s;
    struct diag d = { { 0 } };
    results_init(&s);
    REQUIRE(load_doc(&s, "run.json", run, &d) == 0);
    REQUIRE(load_doc(&s, "race.json", race, &d) == 0);
    REQUIRE(s.n_cells == 2);
    CHECK(s.docs[0].kind == RESULTS_RUN && s.docs[1].kind == RESULTS_RACE);
    CHECK(strcmp(s.cells[0].workload, "/bin/true -x") == 0 && s.cells[0].threads == 0);
    CHECK(s.cells[0].runs_ok == 2);
    double v[4];
    CHECK_EQ_U64(results_cell_values(&s.cells[0], RESULTS_RUN, "wall_ns", v, 4), 2);
    CHECK(v[0] == 100 && v[1] == 300);
    CHECK(strcmp(s.cells[1].allocator, "buddy") == 0);
    CHECK_EQ_U64(results_cell_values(&s.cells[1], RESULTS_RACE, "p99_ns", v, 4), 1);
    CHECK(v[0] == 42);
    results_free(&s);
}

static void test_reader_results_set_reads_each_document(void)
{
    cJSON *set = cJSON_CreateObject();
    cJSON_AddStringToObject(set, "schema", RESULTS_SCHEMA_SET);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(set, "tool"), "name", "heaplab");
    cJSON_AddStringToObject(set, "created_utc", "2026-01-02T03:04:05Z");
    cJSON_AddStringToObject(set, "command", "heaplab merge");
    cJSON *machines = cJSON_AddObjectToObject(set, "machines");
    cJSON *h1 = cJSON_AddObjectToObject(machines, "h1");
    cJSON_AddObjectToObject(h1, "machine");
    cJSON *docs = cJSON_AddArrayToObject(h1, "documents");
    cJSON_AddItemToArray(docs, bench_doc("h1", 1));
    cJSON_AddItemToArray(docs, bench_doc("h1", 2));
    cJSON *h2 = cJSON_AddObjectToObject(machines, "h2");
    cJSON_AddObjectToObject(h2, "machine");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(h2, "documents"), bench_doc("h2", 1));
    cJSON *bad = cJSON_Duplicate(set, 1);

    struct results_set s;
    struct diag d = { { 0 } };
    results_init(&s);
    REQUIRE(load_doc(&s, "set.json", set, &d) == 0);
    CHECK_EQ_U64(s.n_docs, 3);
    CHECK_EQ_U64(s.n_cells, 24);
    CHECK(strcmp(s.docs[1].name, "set.json (machine h1, document 1)") == 0);
    CHECK(strcmp(s.docs[2].machine_key, "h2") == 0);
    results_free(&s);

    cJSON *inner = cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(bad, "machines"), "h1"),
                                "documents"),
            1);
    cJSON_ReplaceItemInObject(inner, "schema", cJSON_CreateString("heaplab.results/9"));
    CHECK(strstr(doc_error(bad), "f.json: machines.h1.documents[1]: heaplab.results/9 is newer")
          != NULL);
}

int main(void)
{
    RUN_TEST(test_reader_bench_document_gives_one_cell_each);
    RUN_TEST(test_reader_files_add_up_and_machines_get_keys);
    RUN_TEST(test_reader_bad_bytes_get_one_line_each);
    RUN_TEST(test_reader_schemas_and_versions_are_named);
    RUN_TEST(test_reader_empty_and_inconsistent_bodies_are_refused);
    RUN_TEST(test_reader_run_and_race_documents);
    RUN_TEST(test_reader_results_set_reads_each_document);
    return check_report();
}
