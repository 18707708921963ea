/*
 * report/compare.c: two results sets, cell by cell (docs/compare.md).
 *
 * A cell of base and a cell of new are the same when their workload, threads and allocator
 * are, and their machine too when either side holds more than one machine. For each such
 * pair and each metric of the kind, the medians, their change, and the Mann-Whitney U test
 * of the two sets of runs (stats.c). A row's verdict is "worse" or "better" only when the
 * test is significant (p < alpha) and the change is beyond the threshold; a cell whose every
 * run failed in new where base ran is "worse" too (once per cell, on the first metric).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "util/diag.h"

static const struct compare_metric bench_metrics[] = {
    { "ops_per_sec", "throughput", "Mops/s", "ops_per_sec", "Throughput, Mops/s (higher is better)",
      1e6, 2, 1, 1 },
    { "malloc_p99_ns", "malloc p99", "ns", "latency.malloc.p99_ns",
      "malloc latency p99, ns (lower is better)", 1, 0, 0, 1 },
    { "peak_rss_bytes", "peak RSS", "MiB", "peak_rss_bytes",
      "Peak RSS above baseline, MiB (lower is better)", 1048576.0, 1, 0, 0 },
};

static const struct compare_metric run_metrics[] = {
    { "wall_ns", "wall time", "s", "wall_ns", "Wall time, s (lower is better)", 1e9, 3, 0, 1 },
    { "peak_rss_bytes", "peak RSS", "MiB", "peak_rss_bytes", "Peak RSS, MiB (lower is better)",
      1048576.0, 1, 0, 0 },
};

const struct compare_metric *compare_metrics(enum results_kind kind, size_t *n)
{
    if (kind == RESULTS_BENCH) {
        *n = sizeof bench_metrics / sizeof bench_metrics[0];
        return bench_metrics;
    }
    if (kind == RESULTS_RUN) {
        *n = sizeof run_metrics / sizeof run_metrics[0];
        return run_metrics;
    }
    *n = 0;
    return NULL;
}

static const char *const kind_schema[] = { RESULTS_SCHEMA_BENCH, RESULTS_SCHEMA_RUN,
                                           RESULTS_SCHEMA_RACE };

/* The one kind of a side's documents; -1 with `d` when it has none, several or races. */
static int side_kind(const struct results_set *s, const char *side, struct diag *d)
{
    if (s->n_docs == 0) return diag_set(d, "%s: no documents", side);
    enum results_kind k = s->docs[0].kind;
    for (size_t i = 1; i < s->n_docs; i++)
        if (s->docs[i].kind != k)
            return diag_set(d, "%s holds %s and %s documents: compare one kind at a time", side,
                            kind_schema[k], kind_schema[s->docs[i].kind]);
    if (k == RESULTS_RACE)
        return diag_set(d,
                        "%s: a race leaderboard (%s) has one run per allocator, nothing to test "
                        "(compare bench, replay or run results)",
                        s->docs[0].name, RESULTS_SCHEMA_RACE);
    return (int)k;
}

/* Does the set hold more than one machine? */
static int several_machines(const struct results_set *s)
{
    for (size_t i = 1; i < s->n_docs; i++)
        if (strcmp(s->docs[i].machine_key, s->docs[0].machine_key) != 0) return 1;
    return 0;
}

static int same_cell(const struct results_set *sa, const struct results_cell *a,
                     const struct results_set *sb, const struct results_cell *b, int by_machine)
{
    return a->threads == b->threads && strcmp(a->allocator, b->allocator) == 0
           && strcmp(a->workload, b->workload) == 0
           && (!by_machine
               || strcmp(sa->docs[a->doc].machine_key, sb->docs[b->doc].machine_key) == 0);
}

/* No cell twice in one side (two documents of one machine would be). */
static int check_unique(const struct results_set *s, int by_machine, struct diag *d)
{
    for (size_t i = 0; i < s->n_cells; i++)
        for (size_t k = 0; k < i; k++)
            if (same_cell(s, &s->cells[i], s, &s->cells[k], by_machine))
                return diag_set(d,
                                "%s and %s both hold %s, %u threads, %s: compare one document "
                                "per machine",
                                s->docs[s->cells[k].doc].name, s->docs[s->cells[i].doc].name,
                                s->cells[i].workload, s->cells[i].threads, s->cells[i].allocator);
    return 0;
}

/* The index in `in` of the cell matching `c` of `from`, or (size_t)-1. */
static size_t find_cell(const struct results_set *from, const struct results_cell *c,
                        const struct results_set *in, int by_machine)
{
    for (size_t i = 0; i < in->n_cells; i++)
        if (same_cell(from, c, in, &in->cells[i], by_machine)) return i;
    return (size_t)-1;
}

/* The largest timer resolution any run of the cell reported, or 0. */
static double resolution(const struct results_cell *c, enum results_kind kind)
{
    double v[RESULTS_MAX_RUNS], best = 0;
    size_t n = results_cell_values(c, kind, "latency.timer_resolution_ns", v, RESULTS_MAX_RUNS);
    for (size_t i = 0; i < n; i++)
        if (v[i] > best) best = v[i];
    return best;
}

static void side_summary(struct compare_side *s, double *v, size_t n, const char *status)
{
    memset(s, 0, sizeof *s);
    s->status = status;
    s->n = n;
    if (n == 0) return;
    s->median = stats_median(v, n); /* sorts v */
    s->min = v[0];
    s->max = v[n - 1];
}

/* Did every run of a cell that should have run fail? */
static int all_failed(const struct results_cell *c)
{
    return c->runs_ok == 0 && strcmp(c->status, "missing") != 0
           && strcmp(c->status, "skipped") != 0;
}

/* A row's cells: base's and new's, and the reference allocator's beside each (or NULL). */
struct row_cells {
    const struct results_cell *base, *new, *base_ref, *new_ref;
};

/* The metric's values in the ok runs of `c`, each divided by `ref`'s run of the same
 * repetition when `ref` is given (a run whose reference is missing or 0 is left out). */
static size_t metric_values(const struct results_cell *c, const struct results_cell *ref,
                            enum results_kind kind, const char *path, double *out)
{
    if (!ref) return results_cell_values(c, kind, path, out, RESULTS_MAX_RUNS);
    double v[RESULTS_MAX_RUNS], rv[RESULTS_MAX_RUNS];
    long reps[RESULTS_MAX_RUNS], rreps[RESULTS_MAX_RUNS];
    size_t n = results_cell_rep_values(c, path, v, reps, RESULTS_MAX_RUNS);
    size_t nr = results_cell_rep_values(ref, path, rv, rreps, RESULTS_MAX_RUNS), k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nr; j++)
            if (reps[i] == rreps[j] && rv[j] > 0) {
                out[k++] = v[i] / rv[j];
                break;
            }
    return k;
}

/* Is a latency row below the timer's resolution on either side (then it is no measurement)? */
static int below_resolution(struct compare_row *r, const struct row_cells *rc,
                            enum results_kind kind, const struct compare_metric *m)
{
    if (strncmp(m->path, "latency.", 8) != 0) return 0;
    double ra = resolution(rc->base, kind), rb = resolution(rc->new, kind);
    r->resolution_ns = ra > rb ? ra : rb;
    double a[RESULTS_MAX_RUNS], b[RESULTS_MAX_RUNS];
    size_t na = results_cell_values(rc->base, kind, m->path, a, RESULTS_MAX_RUNS);
    size_t nb = results_cell_values(rc->new, kind, m->path, b, RESULTS_MAX_RUNS);
    return na > 0 && nb > 0
           && (stats_median(a, na) < r->resolution_ns || stats_median(b, nb) < r->resolution_ns);
}

/* --relative-to's own row: 1 on both sides, no test. */
static void reference_row(struct compare_row *r, const struct row_cells *rc, enum results_kind kind,
                          const struct compare_metric *m)
{
    double v[RESULTS_MAX_RUNS];
    struct compare_side *sides[2] = { &r->base, &r->new };
    const struct results_cell *cells[2] = { rc->base, rc->new };
    for (int i = 0; i < 2; i++) {
        size_t n = results_cell_values(cells[i], kind, m->path, v, RESULTS_MAX_RUNS);
        *sides[i] = (struct compare_side){ 1, 1, 1, n, cells[i]->status };
    }
    r->relative = 1;
    r->verdict = COMPARE_REFERENCE;
}

/* One row: the metric's values on both sides, the test and the verdict. */
static int fill_row(struct compare_row *r, const struct row_cells *rc, enum results_kind kind,
                    const struct compare_metric *m, int first_metric, const struct compare_opts *o)
{
    const struct results_cell *bc = rc->base, *nc = rc->new;
    r->change = NAN;
    r->test.p = NAN;
    r->verdict = COMPARE_UNTESTED;
    int rel = o->relative_to && m->timing;
    if (rel && strcmp(bc->allocator, o->relative_to) == 0) {
        reference_row(r, rc, kind, m);
        return 0;
    }
    r->relative = rel;
    double a[RESULTS_MAX_RUNS], b[RESULTS_MAX_RUNS];
    size_t na = 0, nb = 0;
    if (!rel || (rc->base_ref && rc->new_ref)) {
        na = metric_values(bc, rel ? rc->base_ref : NULL, kind, m->path, a);
        nb = metric_values(nc, rel ? rc->new_ref : NULL, kind, m->path, b);
    }
    if (na > 0 && nb > 0 && stats_mann_whitney(a, na, b, nb, &r->test) != 0) return -1;
    side_summary(&r->base, a, na, bc->status);
    side_summary(&r->new, b, nb, nc->status);
    if (first_metric && bc->runs_ok > 0 && all_failed(nc)) r->verdict = COMPARE_NEW_FAILS;
    if (first_metric && nc->runs_ok > 0 && all_failed(bc)) r->verdict = COMPARE_BASE_FAILS;
    if (na == 0 || nb == 0 || below_resolution(r, rc, kind, m)) {
        r->test.p = NAN; /* nothing to test, or the timer cannot tell these apart */
        return 0;
    }
    if (r->base.median > 0) r->change = r->new.median / r->base.median - 1;
    r->significant = r->test.p < o->alpha;
    r->verdict = COMPARE_SAME;
    int beyond =
            isnan(r->change) ? r->new.median != r->base.median : fabs(r->change) > o->threshold;
    if (r->significant && beyond) {
        int higher = r->new.median > r->base.median;
        r->verdict = higher == m->higher_better ? COMPARE_BETTER : COMPARE_WORSE;
    }
    return 0;
}

static int push(size_t **v, size_t *n, size_t x)
{
    size_t *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p) return -1;
    *v = p;
    (*v)[(*n)++] = x;
    return 0;
}

void compare_free(struct compare *c)
{
    free(c->rows);
    free(c->only_base);
    free(c->only_new);
    memset(c, 0, sizeof *c);
}

/* The cell of `s` beside cell `c` (same workload, threads and machine) of `allocator`. */
static const struct results_cell *beside(const struct results_set *s, const struct results_cell *c,
                                         const char *allocator)
{
    for (size_t i = 0; i < s->n_cells; i++) {
        const struct results_cell *x = &s->cells[i];
        if (x->threads == c->threads && strcmp(x->allocator, allocator) == 0
            && strcmp(x->workload, c->workload) == 0
            && strcmp(s->docs[x->doc].machine_key, s->docs[c->doc].machine_key) == 0)
            return x;
    }
    return NULL;
}

/* --relative-to names an allocator each side has. */
static int check_reference(const struct results_set *s, const char *name, const char *ref,
                           struct diag *d)
{
    for (size_t i = 0; i < s->n_cells; i++)
        if (strcmp(s->cells[i].allocator, ref) == 0) return 0;
    return diag_set(d, "--relative-to %s: %s has no allocator of that name", ref, name);
}

/* Count the first metric's moves (struct compare: machine drift). */
static void count_drift(struct compare *c, const struct results_set *base)
{
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct compare_row *r = &c->rows[i];
        if (r->metric != 0 || isnan(r->test.p) || r->relative) continue;
        c->first_tested++;
        int moved = r->verdict == COMPARE_BETTER || r->verdict == COMPARE_WORSE;
        if (moved && r->new.median > r->base.median)
            c->first_up++;
        else if (moved)
            c->first_down++;
    }
    int up = c->first_up >= c->first_down;
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct compare_row *r = &c->rows[i];
        if (r->metric != 0 || !(r->verdict == COMPARE_BETTER || r->verdict == COMPARE_WORSE)
            || (r->new.median > r->base.median) != up)
            continue;
        const char *a = base->cells[r->base_cell].allocator;
        size_t k = 0;
        while (k < i) {
            const struct compare_row *q = &c->rows[k];
            if (q->metric == 0 && (q->verdict == COMPARE_BETTER || q->verdict == COMPARE_WORSE)
                && (q->new.median > q->base.median) == up
                && strcmp(base->cells[q->base_cell].allocator, a) == 0)
                break;
            k++;
        }
        c->first_allocators += k == i;
    }
}

int compare_sets(const struct results_set *base, const struct results_set *new,
                 const struct compare_opts *o, struct compare *out, struct diag *d)
{
    memset(out, 0, sizeof *out);
    int kb = side_kind(base, "base", d);
    if (kb < 0) return -1;
    int kn = side_kind(new, "new", d);
    if (kn < 0) return -1;
    if (kb != kn)
        return diag_set(d, "%s is %s and %s is %s: nothing to compare", base->docs[0].name,
                        kind_schema[kb], new->docs[0].name, kind_schema[kn]);
    out->kind = (enum results_kind)kb;
    int by_machine = several_machines(base) || several_machines(new);
    if (check_unique(base, by_machine, d) != 0 || check_unique(new, by_machine, d) != 0) return -1;
    if (o->relative_to
        && (check_reference(base, base->docs[0].name, o->relative_to, d) != 0
            || check_reference(new, new->docs[0].name, o->relative_to, d) != 0))
        return -1;
    size_t nm;
    const struct compare_metric *metrics = compare_metrics(out->kind, &nm);
    size_t *match = malloc((base->n_cells + 1) * sizeof *match);
    if (!match) return diag_set(d, "out of memory");
    for (size_t i = 0; i < base->n_cells; i++) {
        match[i] = find_cell(base, &base->cells[i], new, by_machine);
        if (match[i] != (size_t)-1)
            out->cells++;
        else if (push(&out->only_base, &out->n_only_base, i) != 0)
            goto oom;
    }
    for (size_t i = 0; i < new->n_cells; i++)
        if (find_cell(new, &new->cells[i], base, by_machine) == (size_t)-1
            && push(&out->only_new, &out->n_only_new, i) != 0)
            goto oom;
    if (out->cells == 0) {
        free(match);
        diag_set(d, "%s and %s share no cell (workload, threads, allocator%s)", base->docs[0].name,
                 new->docs[0].name, by_machine ? ", machine" : "");
        compare_free(out);
        return -1;
    }
    out->rows = calloc(out->cells * nm, sizeof *out->rows);
    if (!out->rows) goto oom;
    for (size_t m = 0; m < nm; m++) {
        for (size_t i = 0; i < base->n_cells; i++) {
            if (match[i] == (size_t)-1) continue;
            struct compare_row *r = &out->rows[out->n_rows++];
            r->base_cell = i;
            r->new_cell = match[i];
            r->metric = m;
            struct row_cells rc = { &base->cells[i], &new->cells[match[i]], NULL, NULL };
            if (o->relative_to) {
                rc.base_ref = beside(base, rc.base, o->relative_to);
                rc.new_ref = beside(new, rc.new, o->relative_to);
            }
            if (fill_row(r, &rc, out->kind, &metrics[m], m == 0, o) != 0) goto oom;
            out->worse += r->verdict == COMPARE_WORSE || r->verdict == COMPARE_NEW_FAILS;
            out->better += r->verdict == COMPARE_BETTER;
        }
    }
    free(match);
    count_drift(out, base);
    return 0;
oom:
    free(match);
    compare_free(out);
    return diag_set(d, "out of memory");
}

/* ------------------------------------------------------------------------------------- */
/* As JSON                                                                               */

static const char *const verdict_names[] = { "same",      "better",     "worse",    "untested",
                                             "new-fails", "base-fails", "reference" };

/* A number, or null when it is not one (NAN). */
static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *side_json(const struct compare_side *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", s->status);
    cJSON_AddNumberToObject(j, "n", (double)s->n);
    if (s->n) {
        cJSON_AddNumberToObject(j, "median", s->median);
        cJSON_AddNumberToObject(j, "min", s->min);
        cJSON_AddNumberToObject(j, "max", s->max);
    }
    return j;
}

static cJSON *cell_json(const struct results_set *s, size_t i)
{
    const struct results_cell *c = &s->cells[i];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "workload", c->workload);
    cJSON_AddNumberToObject(j, "threads", c->threads);
    cJSON_AddStringToObject(j, "allocator", c->allocator);
    cJSON_AddStringToObject(j, "machine", s->docs[c->doc].machine_key);
    return j;
}

static cJSON *files_json(const struct results_set *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < s->n_docs; i++) {
        const struct results_doc *doc = &s->docs[i];
        cJSON *j = cJSON_CreateObject();
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(doc->json, "created_utc");
        cJSON_AddStringToObject(j, "name", doc->name);
        cJSON_AddStringToObject(j, "schema", doc->schema);
        cJSON_AddStringToObject(j, "created_utc",
                                cJSON_IsString(created) ? created->valuestring : "");
        cJSON_AddStringToObject(j, "machine", doc->machine_key);
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

int compare_json(cJSON *doc, const struct compare *c, const struct results_set *base,
                 const struct results_set *new, const struct compare_opts *o)
{
    size_t nm;
    const struct compare_metric *metrics = compare_metrics(c->kind, &nm);
    cJSON_AddItemToObject(doc, "base", files_json(base));
    cJSON_AddItemToObject(doc, "new", files_json(new));
    cJSON_AddStringToObject(doc, "test", "mann-whitney-u");
    cJSON_AddNumberToObject(doc, "alpha", o->alpha);
    cJSON_AddNumberToObject(doc, "threshold", o->threshold);
    if (o->relative_to)
        cJSON_AddStringToObject(doc, "relative_to", o->relative_to);
    else
        cJSON_AddNullToObject(doc, "relative_to");
    cJSON_AddNumberToObject(doc, "cells", (double)c->cells);
    cJSON_AddNumberToObject(doc, "worse", (double)c->worse);
    cJSON_AddNumberToObject(doc, "better", (double)c->better);
    cJSON *drift = cJSON_AddObjectToObject(doc, "drift");
    cJSON_AddNumberToObject(drift, "tested", (double)c->first_tested);
    cJSON_AddNumberToObject(drift, "up", (double)c->first_up);
    cJSON_AddNumberToObject(drift, "down", (double)c->first_down);
    cJSON_AddNumberToObject(drift, "allocators", (double)c->first_allocators);
    cJSON *rows = cJSON_AddArrayToObject(doc, "rows");
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct compare_row *r = &c->rows[i];
        cJSON *j = cell_json(base, r->base_cell);
        cJSON_AddStringToObject(j, "metric", metrics[r->metric].key);
        cJSON_AddBoolToObject(j, "relative", r->relative);
        cJSON_AddItemToObject(j, "base", side_json(&r->base));
        cJSON_AddItemToObject(j, "new", side_json(&r->new));
        cJSON_AddItemToObject(j, "change", number_or_null(r->change));
        cJSON_AddItemToObject(j, "p", number_or_null(r->test.p));
        cJSON_AddBoolToObject(j, "exact", r->test.exact);
        cJSON_AddBoolToObject(j, "significant", r->significant);
        cJSON_AddStringToObject(j, "verdict", verdict_names[r->verdict]);
        cJSON_AddItemToArray(rows, j);
    }
    cJSON *ob = cJSON_AddArrayToObject(doc, "only_base");
    for (size_t i = 0; i < c->n_only_base; i++)
        cJSON_AddItemToArray(ob, cell_json(base, c->only_base[i]));
    cJSON *on = cJSON_AddArrayToObject(doc, "only_new");
    for (size_t i = 0; i < c->n_only_new; i++)
        cJSON_AddItemToArray(on, cell_json(new, c->only_new[i]));
    return cJSON_GetArraySize(rows) == (int)c->n_rows && cJSON_GetObjectItem(doc, "only_new") ? 0
                                                                                              : -1;
}
