/*
 * bench/report.c: the human tables, the JSON results document (heaplab.results/1, see
 * docs/results.md) and the per-run CSV. One metric table drives all three.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "util/atomic_file.h"
#include "util/diag.h"

enum better { HIGHER = 1, LOWER = -1 };

struct metric {
    const char *key;   /* summary / CSV name */
    const char *path;  /* dotted path in a worker's result */
    const char *title; /* table heading, NULL = not tabulated */
    double scale;      /* table value = raw / scale */
    int decimals;      /* digits after the point in tables */
    enum better better;
};

static const struct metric metrics[] = {
    { "ops_per_sec", "ops_per_sec", "Throughput, Mops/s (higher is better)", 1e6, 2, HIGHER },
    { "malloc_p50_ns", "latency.malloc.p50_ns", "malloc latency p50, ns (lower is better)", 1, 0,
      LOWER },
    { "malloc_p99_ns", "latency.malloc.p99_ns", "malloc latency p99, ns (lower is better)", 1, 0,
      LOWER },
    { "free_p99_ns", "latency.free.p99_ns", "free latency p99, ns (lower is better)", 1, 0, LOWER },
    { "peak_rss_bytes", "peak_rss_bytes", "Peak RSS above baseline, MiB (lower is better)",
      1048576.0, 1, LOWER },
    { "frag_peak", "frag_peak", "Peak RSS / peak live bytes (lower is better)", 1, 2, LOWER },
    { "wall_ns", "wall_ns", NULL, 1, 0, LOWER },
    { "end_rss_bytes", "end_rss_bytes", NULL, 1, 0, LOWER },
    { "frag_end", "frag_end", NULL, 1, 3, LOWER },
    { "peak_live_bytes", "peak_live_bytes", NULL, 1, 0, LOWER },
    { "minor_faults", "minor_faults", NULL, 1, 0, LOWER },
    { "major_faults", "major_faults", NULL, 1, 0, LOWER },
    { "user_ns", "user_ns", NULL, 1, 0, LOWER },
    { "sys_ns", "sys_ns", NULL, 1, 0, LOWER },
    { "hole_reuse", "hole_reuse", NULL, 1, 3, HIGHER },
    { "malloc_p90_ns", "latency.malloc.p90_ns", NULL, 1, 0, LOWER },
    { "malloc_p95_ns", "latency.malloc.p95_ns", NULL, 1, 0, LOWER },
    { "malloc_p999_ns", "latency.malloc.p999_ns", NULL, 1, 0, LOWER },
    { "malloc_max_ns", "latency.malloc.max_ns", NULL, 1, 0, LOWER },
    { "malloc_min_ns", "latency.malloc.min_ns", NULL, 1, 0, LOWER },
    { "free_p50_ns", "latency.free.p50_ns", NULL, 1, 0, LOWER },
    { "free_p999_ns", "latency.free.p999_ns", NULL, 1, 0, LOWER },
    { "free_max_ns", "latency.free.max_ns", NULL, 1, 0, LOWER },
    { "realloc_p50_ns", "latency.realloc.p50_ns", NULL, 1, 0, LOWER },
    { "realloc_p99_ns", "latency.realloc.p99_ns", NULL, 1, 0, LOWER },
    { "timer_overhead_ns", "latency.timer_overhead_ns", NULL, 1, 1, LOWER },
};
#define N_METRICS (sizeof(metrics) / sizeof(metrics[0]))

/* Tables printed by default, in order. */
static const char *const table_keys[] = { "ops_per_sec", "malloc_p50_ns",  "malloc_p99_ns",
                                          "free_p99_ns", "peak_rss_bytes", "frag_peak" };

static const struct metric *metric_find(const char *key)
{
    for (size_t i = 0; i < N_METRICS; i++)
        if (strcmp(metrics[i].key, key) == 0) return &metrics[i];
    return NULL;
}

static const char *short_status(const struct bench_config *cfg, const struct bench_cell *c)
{
    if (!cfg->allocs[c->alloc_idx].found) return "missing";
    if (c->note[0] == 0) return "n/a";
    if (strncmp(c->note, "needs at least", 14) == 0) return "-";
    const char *colon = strchr(c->note, ':');
    static char buf[32];
    size_t n = colon ? (size_t)(colon - c->note) : strlen(c->note);
    if (n > sizeof(buf) - 1) n = sizeof(buf) - 1;
    memcpy(buf, c->note, n);
    buf[n] = 0;
    return buf;
}

#define COL_W 15

/*
 * A table number: 3 significant digits for fractional metrics, so 0.00452 and 184 are both
 * readable; integers (decimals == 0) as they are.
 */
static void fmt_sig(char *buf, size_t cap, double v, int decimals)
{
    if (decimals == 0 || v == 0) {
        snprintf(buf, cap, "%.*f", decimals == 0 ? 0 : 1, v);
        return;
    }
    int mag = (int)floor(log10(fabs(v)));
    int digits = 2 - mag;
    if (digits < 0) digits = 0;
    snprintf(buf, cap, "%.*f", digits, v);
}

/* One table cell: a metric over a cell's repetitions, as printed. */
struct table_cell {
    int have;      /* some successful run has the metric */
    int below_res; /* a latency under the timer's resolution: printed "<RES", never ranked */
    int mark;      /* the best of its row; every tied cell is marked */
    double median; /* over the successful runs */
    double spread; /* (max - min) / median */
    char num[32];  /* the median as printed */
};

/*
 * A latency whose median is below the timer's resolution (the largest any of the runs
 * reported) is not a measurement: the timer cannot tell it from 0 or from its step.
 */
static void cell_eval(const struct bench_cell *c, const struct metric *m, struct table_cell *tc)
{
    struct summary s, res;
    memset(tc, 0, sizeof *tc);
    tc->have = bench_cell_metric(c, m->path, &s);
    if (!tc->have) return;
    tc->median = s.median;
    tc->spread = s.spread;
    if (strncmp(m->path, "latency.", 8) == 0
        && bench_cell_metric(c, "latency.timer_resolution_ns", &res) && s.median < res.max) {
        tc->below_res = 1;
        snprintf(tc->num, sizeof tc->num, "<%.0f", ceil(res.max));
        return;
    }
    fmt_sig(tc->num, sizeof tc->num, s.median / m->scale, m->decimals);
}

/* May this cell be the best of its row, and count in the geomean? */
static int rankable(const struct table_cell *tc)
{
    return tc->have && !tc->below_res;
}

/* Mark the best cell of a row and every cell that prints the same number (a tie). */
static void mark_best(const struct metric *m, struct table_cell *tc, size_t n)
{
    int best = -1;
    for (size_t a = 0; a < n; a++)
        if (rankable(&tc[a])
            && (best < 0
                || (m->better == HIGHER ? tc[a].median > tc[best].median
                                        : tc[a].median < tc[best].median)))
            best = (int)a;
    if (best < 0 || n < 2) return;
    for (size_t a = 0; a < n; a++)
        tc[a].mark = rankable(&tc[a]) && strcmp(tc[a].num, tc[best].num) == 0;
}

/* `text` right-aligned in a column (counting characters, not bytes: "±" is two). */
static void put_cell(FILE *fp, const char *text, int green)
{
    int chars = 0;
    for (const char *c = text; *c; c++)
        chars += ((unsigned char)*c & 0xc0) != 0x80;
    int pad = chars < COL_W ? COL_W - chars : 0;
    fprintf(fp, " %*s%s%s%s", pad, "", green ? "\033[1;32m" : "", text, green ? "\033[0m" : "");
}

static void print_cell(FILE *fp, const struct table_cell *tc, const char *status, int spread,
                       int color)
{
    char text[64];
    const char *star = color ? "" : tc->mark ? "*" : " "; /* numbers stay aligned */
    if (!tc->have)
        snprintf(text, sizeof text, "%s", status);
    else if (!spread || tc->below_res)
        snprintf(text, sizeof text, "%s%s", tc->num, star);
    else
        snprintf(text, sizeof text, "%s%s ±%ld%%", tc->num, star, lround(tc->spread * 100));
    put_cell(fp, text, tc->mark && color);
}

/* The geometric mean of each allocator's ratio to glibc (column `glibc`) over the rows. */
static void print_geomean(FILE *fp, const double *ratios, size_t rows, size_t na)
{
    double *v = calloc(rows + 1, sizeof(double));
    fprintf(fp, "%-22s", "geomean vs glibc");
    for (size_t a = 0; a < na; a++) {
        size_t k = 0;
        for (size_t r = 0; v && r < rows; r++)
            if (ratios[r * na + a] > 0) v[k++] = ratios[r * na + a];
        char cell[32] = "-";
        if (k) snprintf(cell, sizeof cell, "%.2fx", geomean(v, k));
        put_cell(fp, cell, 0);
    }
    fprintf(fp, "\n");
    free(v);
}

static void print_table(const struct bench_config *cfg, const struct bench_results *res,
                        const struct metric *m, FILE *fp, int color)
{
    size_t na = cfg->n_allocs, rows = res->n_cells / (na ? na : 1), glibc = na;
    fprintf(fp, "\n%s\n%-18s %3s", m->title, "workload", "thr");
    for (size_t a = 0; a < na; a++) {
        fprintf(fp, " %*.*s", COL_W, COL_W, cfg->allocs[a].name);
        if (strcmp(cfg->allocs[a].name, "glibc") == 0) glibc = a;
    }
    fprintf(fp, "\n");
    double *ratios = calloc(res->n_cells + 1, sizeof(double)); /* [row * na + a], 0 = none */
    int below = 0;
    if (!ratios) return;
    for (size_t r = 0; r < rows; r++) {
        const struct bench_cell *row = &res->cells[r * na];
        struct table_cell tc[ALLOC_MAX];
        int any = 0;
        for (size_t a = 0; a < na; a++) {
            cell_eval(&row[a], m, &tc[a]);
            any |= tc[a].have;
            below |= tc[a].below_res;
        }
        if (!any && strncmp(row[0].note, "needs at least", 14) == 0)
            continue; /* a workload that does not run at this thread count */
        mark_best(m, tc, na);
        fprintf(fp, "%-18s %3u", bench_workload_label(row[0].workload), row[0].threads);
        for (size_t a = 0; a < na; a++) {
            print_cell(fp, &tc[a], short_status(cfg, &row[a]), cfg->repeat > 1, color);
            if (glibc < na && rankable(&tc[a]) && rankable(&tc[glibc]) && tc[a].median > 0
                && tc[glibc].median > 0)
                ratios[r * na + a] = tc[a].median / tc[glibc].median;
        }
        fprintf(fp, "\n");
    }
    if (glibc < na) print_geomean(fp, ratios, rows, na);
    if (below)
        fprintf(fp, "<N: below the timer's resolution of N ns: not ranked, not in the geomean\n");
    free(ratios);
}

/* Does any workload have a seed (a synthetic one, not a trace)? */
static int any_seeded(const struct bench_config *cfg)
{
    for (size_t w = 0; w < cfg->n_workloads; w++)
        if (strncmp(cfg->workloads[w], BENCH_TRACE_PREFIX, strlen(BENCH_TRACE_PREFIX)) != 0)
            return 1;
    return 0;
}

void report_table(const struct bench_config *cfg, const struct bench_results *res, FILE *fp,
                  const char *command, int color)
{
    fprintf(fp, "heaplab %s: ", command);
    if (any_seeded(cfg)) fprintf(fp, "seed %llu, ", (unsigned long long)cfg->seed);
    if (cfg->repeat > 1)
        fprintf(fp, "%u repeats, median and relative spread (max-min)/median", cfg->repeat);
    else
        fprintf(fp, "1 repeat");
    fprintf(fp, "; best of each row %s\n", color ? "in green" : "marked *");
    for (size_t i = 0; i < sizeof(table_keys) / sizeof(table_keys[0]); i++) {
        const struct metric *m = metric_find(table_keys[i]);
        if (!cfg->latency && strstr(m->path, "latency.")) continue;
        print_table(cfg, res, m, fp, color);
    }
    /* Notes: every failure or missing allocator, once each. */
    int header = 0;
    for (size_t i = 0; i < res->n_cells; i++) {
        const struct bench_cell *c = &res->cells[i];
        if (!c->note[0] || strncmp(c->note, "needs at least", 14) == 0) continue;
        int dup = 0;
        for (size_t k = 0; k < i && !dup; k++)
            dup = res->cells[k].alloc_idx == c->alloc_idx
                  && strcmp(res->cells[k].note, c->note) == 0;
        if (dup) continue;
        if (!header) {
            fprintf(fp, "\nnotes:\n");
            header = 1;
        }
        fprintf(fp, "  %s (%s, %u thread%s): %s\n", cfg->allocs[c->alloc_idx].name,
                bench_workload_label(c->workload), c->threads, c->threads == 1 ? "" : "s", c->note);
    }
}

static cJSON *summary_json(const struct summary *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "median", s->median);
    cJSON_AddNumberToObject(j, "min", s->min);
    cJSON_AddNumberToObject(j, "max", s->max);
    cJSON_AddNumberToObject(j, "spread", s->spread);
    cJSON_AddNumberToObject(j, "n", (double)s->n);
    return j;
}

cJSON *report_json(const struct bench_config *cfg, const struct bench_results *res,
                   const char *command_line)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", "heaplab.results/1");
    cJSON *tool = cJSON_AddObjectToObject(doc, "tool");
    cJSON_AddStringToObject(tool, "name", "heaplab");
    cJSON_AddStringToObject(tool, "version", HEAPLAB_VERSION);
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(doc, "created_utc", when);
    cJSON_AddStringToObject(doc, "command", command_line ? command_line : "");
    cJSON_AddItemToObject(doc, "machine", cJSON_Duplicate(res->machine, 1));
    cJSON *c = cJSON_AddObjectToObject(doc, "config");
    cJSON_AddNumberToObject(c, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(c, "ops_per_thread", (double)cfg->ops);
    cJSON_AddNumberToObject(c, "repeat", cfg->repeat);
    cJSON_AddNumberToObject(c, "timeout_s", cfg->timeout_s);
    cJSON_AddBoolToObject(c, "latency", cfg->latency);
    cJSON *th = cJSON_AddArrayToObject(c, "threads");
    for (size_t i = 0; i < cfg->n_threads; i++)
        cJSON_AddItemToArray(th, cJSON_CreateNumber(cfg->threads[i]));
    cJSON *wl = cJSON_AddArrayToObject(c, "workloads");
    for (size_t i = 0; i < cfg->n_workloads; i++)
        cJSON_AddItemToArray(wl, cJSON_CreateString(cfg->workloads[i]));
    cJSON *pin = cJSON_AddArrayToObject(c, "pin_cpus");
    for (int i = 0; i < cfg->pin_count; i++)
        cJSON_AddItemToArray(pin, cJSON_CreateNumber(cfg->pin_cpus[i]));
    cJSON_AddItemToObject(doc, "allocators", cJSON_Duplicate(res->alloc_info, 1));
    cJSON *results = cJSON_AddArrayToObject(doc, "results");
    for (size_t i = 0; i < res->n_cells; i++) {
        const struct bench_cell *cell = &res->cells[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "workload", cell->workload);
        cJSON_AddNumberToObject(r, "threads", cell->threads);
        cJSON_AddStringToObject(r, "allocator", cfg->allocs[cell->alloc_idx].name);
        const char *status = cell->n_ok > 0                                   ? "ok"
                             : strncmp(cell->note, "needs at least", 14) == 0 ? "skipped"
                             : !cfg->allocs[cell->alloc_idx].found            ? "missing"
                                                                              : "failed";
        cJSON_AddStringToObject(r, "status", status);
        cJSON_AddNumberToObject(r, "runs_ok", cell->n_ok);
        if (cell->note[0]) cJSON_AddStringToObject(r, "note", cell->note);
        cJSON *sum = cJSON_AddObjectToObject(r, "summary");
        for (size_t m = 0; m < N_METRICS; m++) {
            struct summary s;
            if (bench_cell_metric(cell, metrics[m].path, &s))
                cJSON_AddItemToObject(sum, metrics[m].key, summary_json(&s));
        }
        cJSON_AddItemToObject(r, "runs", cJSON_Duplicate(cell->runs, 1));
        cJSON_AddItemToArray(results, r);
    }
    return doc;
}

int report_write_json(cJSON *doc, const char *path, struct diag *d)
{
    char *text = cJSON_Print(doc);
    if (!text) return diag_set(d, "%s: out of memory formatting JSON", path);
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        return diag_set(d, "%s: out of memory", path);
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = 0;
    int rc = atomic_file_write(path, with_nl, len + 1, d);
    free(with_nl);
    return rc;
}

/* Growing text buffer for the CSV. */
struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->n += (size_t)n;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 65536;
        while (ncap < b->n + (size_t)n + 1)
            ncap *= 2;
        char *q = realloc(b->p, ncap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = ncap;
    }
}

/* A CSV text field, quoted as RFC 4180 says (always, so a reader never has to guess). */
static void sb_field(struct sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (const char *c = s; *c; c++)
        sb_printf(b, *c == '"' ? "\"\"" : "%c", *c);
    sb_printf(b, "\"");
}

int report_csv(const struct bench_config *cfg, const struct bench_results *res, const char *path,
               struct diag *d)
{
    struct sbuf b = { 0 };
    sb_printf(&b, "workload,threads,allocator,rep,status");
    for (size_t m = 0; m < N_METRICS; m++)
        sb_printf(&b, ",%s", metrics[m].key);
    sb_printf(&b, ",error\n");
    for (size_t i = 0; i < res->n_cells; i++) {
        const struct bench_cell *cell = &res->cells[i];
        const cJSON *run;
        cJSON_ArrayForEach(run, cell->runs)
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, "status");
            const cJSON *rep = cJSON_GetObjectItemCaseSensitive(run, "rep");
            sb_field(&b, cell->workload);
            sb_printf(&b, ",%u,", cell->threads);
            sb_field(&b, cfg->allocs[cell->alloc_idx].name);
            sb_printf(&b, ",%d,", cJSON_IsNumber(rep) ? rep->valueint : -1);
            sb_field(&b, cJSON_IsString(st) ? st->valuestring : "?");
            for (size_t m = 0; m < N_METRICS; m++) {
                double v;
                if (bench_json_number(run, metrics[m].path, &v))
                    sb_printf(&b, ",%.17g", v);
                else
                    sb_printf(&b, ",");
            }
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(run, "error");
            sb_printf(&b, ",");
            sb_field(&b, cJSON_IsString(e) ? e->valuestring : "");
            sb_printf(&b, "\n");
        }
    }
    if (b.oom) {
        free(b.p);
        return diag_set(d, "%s: out of memory", path);
    }
    int rc = atomic_file_write(path, b.p ? b.p : "", b.n, d);
    free(b.p);
    return rc;
}
