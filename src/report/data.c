/*
 * report/data.c: the data an HTML report holds (docs/report.md, "The data"): what the views
 * of web/ draw, taken from the model of report.h. Per cell, the metrics over its successful
 * runs as [median, min, max, n]; the RSS series and the marks of one run, the one with the
 * median peak RSS, so that the curve drawn is a real run and a typical one; the "why" of
 * each row (why.c); the comparison when there is one. Numbers keep 6 significant digits
 * (what a chart or a table shows) and RSS series are in KiB (RSS is counted in pages), so
 * the page stays small; the results file keeps everything.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "util/diag.h"

/* A metric of a cell: its name in the page (as in results files' summaries) and where each
 * run has it. */
struct stat_path {
    const char *key;
    const char *path;
};

static const struct stat_path bench_stats[] = {
    { "ops_per_sec", "ops_per_sec" },
    { "wall_ns", "wall_ns" },
    { "peak_rss_bytes", "peak_rss_bytes" },
    { "end_rss_bytes", "end_rss_bytes" },
    { "peak_live_bytes", "peak_live_bytes" },
    { "end_live_bytes", "end_live_bytes" },
    { "frag_peak", "frag_peak" },
    { "frag_end", "frag_end" },
    { "minor_faults", "minor_faults" },
    { "major_faults", "major_faults" },
    { "user_ns", "user_ns" },
    { "sys_ns", "sys_ns" },
    { "hole_reuse", "hole_reuse" },
    { "hole_reuse_smaller", "hole_reuse_smaller" },
    { "hole_reuse_equal", "hole_reuse_equal" },
    { "hole_reuse_larger", "hole_reuse_larger" },
    { "malloc_p50_ns", "latency.malloc.p50_ns" },
    { "malloc_p90_ns", "latency.malloc.p90_ns" },
    { "malloc_p95_ns", "latency.malloc.p95_ns" },
    { "malloc_p99_ns", "latency.malloc.p99_ns" },
    { "malloc_p999_ns", "latency.malloc.p999_ns" },
    { "malloc_max_ns", "latency.malloc.max_ns" },
    { "free_p50_ns", "latency.free.p50_ns" },
    { "free_p90_ns", "latency.free.p90_ns" },
    { "free_p95_ns", "latency.free.p95_ns" },
    { "free_p99_ns", "latency.free.p99_ns" },
    { "free_p999_ns", "latency.free.p999_ns" },
    { "free_max_ns", "latency.free.max_ns" },
    { "timer_resolution_ns", "latency.timer_resolution_ns" },
    { "voluntary_switches", "contention.voluntary_switches" },
    { "involuntary_switches", "contention.involuntary_switches" },
    { "blocked_ns", "contention.blocked_ns" },
    { "runqueue_ns", "contention.runqueue_ns" },
    { "thread_ns", "contention.thread_ns" },
};

static const struct stat_path run_stats[] = {
    { "wall_ns", "wall_ns" },
    { "user_ns", "user_ns" },
    { "sys_ns", "sys_ns" },
    { "peak_rss_bytes", "peak_rss_bytes" },
    { "minor_faults", "minor_faults" },
    { "major_faults", "major_faults" },
};

static const char *const kind_names[] = { "bench", "run", "race" };

/* v with 6 significant digits: what a page shows, in fewer bytes than 17. */
static double sig6(double v)
{
    char buf[32];
    if (!isfinite(v) || v == 0) return v;
    snprintf(buf, sizeof buf, "%.6g", v);
    return strtod(buf, NULL);
}

static cJSON *number(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(sig6(v)) : cJSON_CreateNull();
}

size_t report_downsample(const double *t, const double *v, size_t n, size_t cap, double *ot,
                         double *ov)
{
    if (n <= cap) {
        memcpy(ot, t, n * sizeof *t);
        memcpy(ov, v, n * sizeof *v);
        return n;
    }
    /* The first and the last point as they are; between them (cap - 2) / 2 runs. */
    size_t inner = n - 2, runs = (cap - 2) / 2, k = 0;
    ot[k] = t[0];
    ov[k++] = v[0];
    for (size_t r = 0; r < runs; r++) {
        size_t from = 1 + r * inner / runs, to = 1 + (r + 1) * inner / runs, lo = from, hi = from;
        for (size_t i = from + 1; i < to; i++) {
            if (v[i] < v[lo]) lo = i;
            if (v[i] > v[hi]) hi = i;
        }
        size_t a = lo < hi ? lo : hi, b = lo < hi ? hi : lo;
        ot[k] = t[a];
        ov[k++] = v[a];
        if (b != a) {
            ot[k] = t[b];
            ov[k++] = v[b];
        }
    }
    ot[k] = t[n - 1];
    ov[k++] = v[n - 1];
    return k;
}

/* [median, min, max, n] of `path` over the cell's successful runs, or NULL when none has it. */
static cJSON *stat_json(const struct results_cell *c, enum results_kind kind, const char *path,
                        double *scratch)
{
    size_t n = results_cell_values(c, kind, path, scratch, RESULTS_MAX_RUNS);
    if (n == 0) return NULL;
    double lo = scratch[0], hi = scratch[0];
    for (size_t i = 1; i < n; i++) {
        if (scratch[i] < lo) lo = scratch[i];
        if (scratch[i] > hi) hi = scratch[i];
    }
    double med = stats_median(scratch, n);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, number(med));
    cJSON_AddItemToArray(a, number(lo));
    cJSON_AddItemToArray(a, number(hi));
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)n));
    return a;
}

static int run_ok(const cJSON *run)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, "status");
    return cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
}
/* The numbers of array `key` of `obj`, n of them (0 when it is missing or holds other
 * things); malloc'd. */
static double *numbers(const cJSON *obj, const char *key, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key), *x;
    *n = 0;
    if (!cJSON_IsArray(a)) return NULL;
    size_t cap = (size_t)cJSON_GetArraySize(a);
    double *v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v) return NULL;
    cJSON_ArrayForEach(x, a)
    {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            *n = 0;
            return v;
        }
        v[(*n)++] = x->valuedouble;
    }
    return v;
}

/* {rep, period_ms, t_ms: [...], rss_kib: [...]}: the run's RSS series, at most
 * REPORT_SERIES_MAX points; NULL when it has none. -1 in *oom when memory ran out. */
static cJSON *series_json(const cJSON *run, int *oom)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(run, "rss_series");
    size_t nt, nv;
    double *t = numbers(rs, "t_ms", &nt), *v = numbers(rs, "rss_bytes", &nv);
    double *ot = NULL, *ov = NULL;
    cJSON *j = NULL;
    size_t n = nt < nv ? nt : nv;
    if (n == 0) goto out;
    for (size_t i = 1; i < n; i++)
        if (t[i] < t[i - 1]) goto out; /* not a series in time order: nothing to draw */
    ot = malloc(n * sizeof *ot);
    ov = malloc(n * sizeof *ov);
    if (!ot || !ov) goto oom;
    n = report_downsample(t, v, n, REPORT_SERIES_MAX, ot, ov);
    j = cJSON_CreateObject();
    cJSON *jt = cJSON_AddArrayToObject(j, "t_ms"), *jv = cJSON_AddArrayToObject(j, "rss_kib");
    if (!jv) goto oom;
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(run, "rep");
    const cJSON *period = cJSON_GetObjectItemCaseSensitive(rs, "period_ms");
    if (cJSON_IsNumber(rep)) cJSON_AddNumberToObject(j, "rep", rep->valuedouble);
    if (cJSON_IsNumber(period)) cJSON_AddNumberToObject(j, "period_ms", period->valuedouble);
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(jt, number(ot[i]));
        cJSON_AddItemToArray(jv, cJSON_CreateNumber(round(ov[i] / 1024)));
    }
    goto out;
oom:
    *oom = 1;
out:
    free(t);
    free(v);
    free(ot);
    free(ov);
    return j;
}

/* The run's marks: [{label, thread, t_ms, rss_bytes, live_bytes, footprint_bytes}]. */
static cJSON *marks_json(const cJSON *run)
{
    static const char *const keys[] = { "thread", "t_ms", "rss_bytes", "live_bytes",
                                        "footprint_bytes" };
    const cJSON *m;
    cJSON *out = NULL;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(run, "marks"))
    {
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(m, "label");
        if (!cJSON_IsString(label)) continue;
        if (!out) out = cJSON_CreateArray();
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "label", label->valuestring);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            double v;
            if (results_number(m, keys[k], &v)) cJSON_AddItemToObject(j, keys[k], number(v));
        }
        cJSON_AddItemToArray(out, j);
    }
    return out;
}

/* Thread 0's mark `label` in `run`, or NULL. */
static const cJSON *find_mark(const cJSON *run, const char *label)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(run, "marks"))
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "label");
        double t;
        if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0
            && results_number(m, "thread", &t) && t == 0)
            return m;
    }
    return NULL;
}

/* The median of `key` of thread 0's mark `label` over the cell's successful runs, into
 * `arr`; null when no run has it. */
static void mark_median(cJSON *arr, const cJSON *runs, const char *label, const char *key,
                        double *scratch)
{
    size_t n = 0;
    const cJSON *run;
    cJSON_ArrayForEach(run, runs)
    {
        const cJSON *m = run_ok(run) ? find_mark(run, label) : NULL;
        if (m && n < RESULTS_MAX_RUNS && results_number(m, key, &scratch[n])) n++;
    }
    cJSON_AddItemToArray(arr, n ? number(stats_median(scratch, n)) : cJSON_CreateNull());
}

/* [[label, footprint_bytes, frag], ...]: thread 0's marks, each value the median over the
 * successful runs (the terminal's table "Footprint at each mark"); NULL without marks. */
static cJSON *mark_stats_json(const cJSON *runs, const cJSON *first, double *scratch)
{
    cJSON *out = NULL;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(first, "marks"))
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "label");
        double t;
        if (!cJSON_IsString(l) || !results_number(m, "thread", &t) || t != 0) continue;
        if (!out) out = cJSON_CreateArray();
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateString(l->valuestring));
        mark_median(row, runs, l->valuestring, "footprint_bytes", scratch);
        mark_median(row, runs, l->valuestring, "frag", scratch);
        cJSON_AddItemToArray(out, row);
    }
    return out;
}

static void add_string(cJSON *o, const char *key, const cJSON *from)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(from, key);
    if (cJSON_IsString(j)) cJSON_AddStringToObject(o, key, j->valuestring);
}

static cJSON *cell_json(const struct results_set *s, size_t i, double *scratch,
                        struct report_inside_budget *mb, int *oom)
{
    const struct results_cell *c = &s->cells[i];
    enum results_kind kind = s->docs[c->doc].kind;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "doc", (double)c->doc);
    cJSON_AddStringToObject(j, "workload", c->workload);
    cJSON_AddNumberToObject(j, "threads", c->threads);
    cJSON_AddStringToObject(j, "allocator", c->allocator);
    cJSON_AddStringToObject(j, "status", c->status);
    cJSON_AddNumberToObject(j, "runs_ok", (double)c->runs_ok);
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(c->json, "runs");
    if (cJSON_IsArray(runs)) cJSON_AddNumberToObject(j, "runs", cJSON_GetArraySize(runs));
    add_string(j, "note", c->json);
    if (kind == RESULTS_RACE) {
        cJSON *lane = cJSON_Duplicate(c->json, 1);
        if (lane) cJSON_DeleteItemFromObjectCaseSensitive(lane, "latency"); /* p50..p99 stay */
        cJSON_AddItemToObject(j, "lane", lane);
        return j;
    }
    const struct stat_path *stats = kind == RESULTS_BENCH ? bench_stats : run_stats;
    size_t n = kind == RESULTS_BENCH ? sizeof bench_stats / sizeof bench_stats[0]
                                     : sizeof run_stats / sizeof run_stats[0];
    cJSON *st = cJSON_AddObjectToObject(j, "s");
    for (size_t k = 0; k < n; k++) {
        cJSON *a = stat_json(c, kind, stats[k].path, scratch);
        if (a) cJSON_AddItemToObject(st, stats[k].key, a);
    }
    /* A failed run's reason, for a cell that has no successful one. */
    const cJSON *run;
    cJSON_ArrayForEach(run, runs)
    {
        if (c->runs_ok == 0 && !run_ok(run)) {
            add_string(j, "error", run);
            break;
        }
    }
    const cJSON *med = kind == RESULTS_BENCH ? results_median_run(c, "peak_rss_bytes") : NULL;
    cJSON_ArrayForEach(run, runs)
    {
        if (kind != RESULTS_BENCH || !run_ok(run)) continue;
        cJSON *ms = mark_stats_json(runs, run, scratch);
        if (ms) cJSON_AddItemToObject(j, "mark_stats", ms);
        /* A trace's replay: what it ran and left out (every run compiles the same stream). */
        const cJSON *replay = cJSON_GetObjectItemCaseSensitive(run, "replay");
        if (cJSON_IsObject(replay)) cJSON_AddItemToObject(j, "replay", cJSON_Duplicate(replay, 1));
        break;
    }
    if (med) {
        cJSON *series = series_json(med, oom);
        if (series) cJSON_AddItemToObject(j, "rss", series);
        cJSON *marks = marks_json(med);
        if (marks) cJSON_AddItemToObject(j, "marks", marks);
    }
    if (kind == RESULTS_BENCH) {
        cJSON *inside = report_inside(c->json, mb);
        if (inside) cJSON_AddItemToObject(j, "inside", inside);
    }
    return j;
}

static cJSON *doc_json(const struct results_set *s, size_t i, size_t machine)
{
    static const char *const race_fields[] = { "workload",   "seed",
                                               "ops",        "arena_bytes",
                                               "cells",      "cell_bytes",
                                               "tick_every", "stream_peak_live" };
    const struct results_doc *doc = &s->docs[i];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", doc->name);
    cJSON_AddStringToObject(j, "kind", kind_names[doc->kind]);
    cJSON_AddStringToObject(j, "schema", doc->schema);
    cJSON_AddNumberToObject(j, "machine", (double)machine);
    add_string(j, "created_utc", doc->json);
    add_string(j, "command", doc->json);
    const cJSON *tool = cJSON_GetObjectItemCaseSensitive(doc->json, "tool");
    if (cJSON_IsObject(tool)) add_string(j, "version", tool);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(doc->json, "config");
    if (config) cJSON_AddItemToObject(j, "config", cJSON_Duplicate(config, 1));
    cJSON *allocs = cJSON_AddArrayToObject(j, "allocators");
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(doc->json, "allocators"))
    {
        cJSON *o = cJSON_CreateObject();
        static const char *const keys[] = { "name", "version",  "status",
                                            "note", "provider", "summary" };
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            add_string(o, keys[k], a);
        cJSON_AddItemToArray(allocs, o);
    }
    if (doc->kind == RESULTS_RACE) {
        cJSON *race = cJSON_AddObjectToObject(j, "race");
        for (size_t k = 0; k < sizeof race_fields / sizeof race_fields[0]; k++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc->json, race_fields[k]);
            if (f) cJSON_AddItemToObject(race, race_fields[k], cJSON_Duplicate(f, 1));
        }
    }
    return j;
}

/* The index of machine_key `key` among the first n documents' distinct keys, in order of
 * first appearance (the number of distinct keys before it when it is not among them). */
static size_t machine_index(const struct results_set *s, size_t n, const char *key)
{
    size_t idx = 0;
    for (size_t i = 0; i < n; i++) {
        int first = 1;
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(s->docs[k].machine_key, s->docs[i].machine_key) != 0;
        if (!first) continue;
        if (strcmp(s->docs[i].machine_key, key) == 0) return idx;
        idx++;
    }
    return idx;
}

/* "why": one line per (document, workload, threads) that report_why has something for. */
static int why_json(cJSON *doc, const struct results_set *s, size_t *rows)
{
    cJSON *why = cJSON_AddArrayToObject(doc, "why");
    char text[1024];
    for (size_t i = 0; i < s->n_cells; i++) {
        const struct results_cell *c = &s->cells[i];
        size_t n = 0, first = 1;
        for (size_t k = 0; k < s->n_cells; k++) {
            const struct results_cell *o = &s->cells[k];
            if (o->doc != c->doc || o->threads != c->threads || strcmp(o->workload, c->workload))
                continue;
            if (k < i) first = 0;
            rows[n++] = k;
        }
        if (!first || !report_why(s, rows, n, text, sizeof text)) continue;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "doc", (double)c->doc);
        cJSON_AddStringToObject(j, "workload", c->workload);
        cJSON_AddNumberToObject(j, "threads", c->threads);
        cJSON_AddStringToObject(j, "text", text);
        cJSON_AddItemToArray(why, j);
    }
    return why ? 0 : -1;
}

static cJSON *compare_part(const struct compare *cmp, const struct results_set *base,
                           const struct results_set *new, const struct compare_opts *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j || compare_json(j, cmp, base, new, o) != 0) {
        cJSON_Delete(j);
        return NULL;
    }
    size_t nm;
    const struct compare_metric *m = compare_metrics(cmp->kind, &nm);
    cJSON *metrics = cJSON_AddArrayToObject(j, "metrics");
    for (size_t i = 0; i < nm; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "key", m[i].key);
        cJSON_AddStringToObject(x, "name", m[i].name);
        cJSON_AddStringToObject(x, "unit", m[i].unit);
        cJSON_AddStringToObject(x, "title", m[i].title);
        cJSON_AddNumberToObject(x, "scale", m[i].scale);
        cJSON_AddNumberToObject(x, "decimals", m[i].decimals);
        cJSON_AddBoolToObject(x, "higher_better", m[i].higher_better);
        cJSON_AddItemToArray(metrics, x);
    }
    cJSON_AddStringToObject(j, "kind", kind_names[cmp->kind]);
    return j;
}

int report_data(cJSON *doc, const struct results_set *all, const struct compare *cmp,
                const struct results_set *base, const struct results_set *new,
                const struct compare_opts *o, struct diag *d)
{
    int oom = 0;
    double *scratch = malloc(RESULTS_MAX_RUNS * sizeof *scratch);
    size_t *rows = malloc((all->n_cells ? all->n_cells : 1) * sizeof *rows);
    if (!scratch || !rows) goto oom;
    cJSON *machines = cJSON_AddArrayToObject(doc, "machines");
    cJSON *docs = cJSON_AddArrayToObject(doc, "docs");
    cJSON *cells = cJSON_AddArrayToObject(doc, "cells");
    if (!machines || !docs || !cells) goto oom;
    for (size_t i = 0; i < all->n_docs; i++) {
        const struct results_doc *dd = &all->docs[i];
        size_t m = machine_index(all, i + 1, dd->machine_key);
        if (m == (size_t)cJSON_GetArraySize(machines)) {
            cJSON *mj = cJSON_CreateObject();
            cJSON_AddStringToObject(mj, "key", dd->machine_key);
            cJSON_AddItemToObject(mj, "machine", cJSON_Duplicate(dd->machine, 1));
            cJSON_AddItemToArray(machines, mj);
        }
        cJSON_AddItemToArray(docs, doc_json(all, i, m));
    }
    struct report_inside_budget mb = REPORT_INSIDE_BUDGET;
    for (size_t i = 0; i < all->n_cells; i++)
        if (all->docs[all->cells[i].doc].kind == RESULTS_BENCH)
            report_inside_count(all->cells[i].json, &mb);
    for (size_t i = 0; i < all->n_cells && !oom; i++)
        cJSON_AddItemToArray(cells, cell_json(all, i, scratch, &mb, &oom));
    if (oom || why_json(doc, all, rows) != 0) goto oom;
    if (cmp) {
        cJSON *c = compare_part(cmp, base, new, o);
        if (!c) goto oom;
        cJSON_AddItemToObject(doc, "compare", c);
    }
    free(scratch);
    free(rows);
    return 0;
oom:
    free(scratch);
    free(rows);
    return diag_set(d, "out of memory building the report's data");
}
