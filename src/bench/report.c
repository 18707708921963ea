/*
 * bench/report.c: the human tables, the JSON results document (heaplab.results/2, see
 * docs/results.md) and the per-run CSV. One metric table drives all three.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    { "hole_reuse_smaller", "hole_reuse_smaller", NULL, 1, 3, HIGHER },
    { "hole_reuse_equal", "hole_reuse_equal", NULL, 1, 3, HIGHER },
    { "hole_reuse_larger", "hole_reuse_larger", NULL, 1, 3, HIGHER },
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
    { "voluntary_switches", "contention.voluntary_switches", NULL, 1, 0, LOWER },
    { "involuntary_switches", "contention.involuntary_switches", NULL, 1, 0, LOWER },
    { "blocked_ns", "contention.blocked_ns", NULL, 1, 0, LOWER },
    { "runqueue_ns", "contention.runqueue_ns", NULL, 1, 0, LOWER },
    { "thread_ns", "contention.thread_ns", NULL, 1, 0, LOWER },
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

/* ------------------------------------------------------------------------------------- */
/* The fragmentation deep-dive: the marks of the fragmentation workload (docs/workloads.md)  */

#define FRAG_MARKS_MAX 16 /* as WL_MAX_MARKS */
#define FRAG_LABEL_W   14

/* Bytes in a short form: 512B, 98.3K, 32.0M, 1.50G. */
static void fmt_size(char *buf, size_t cap, double v)
{
    static const char units[] = "BKMG";
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0fB", v);
    else if (v < 10)
        snprintf(buf, cap, "%.2f%c", v, units[u]);
    else if (v < 100)
        snprintf(buf, cap, "%.1f%c", v, units[u]);
    else
        snprintf(buf, cap, "%.0f%c", v, units[u]);
}

static int run_ok(const cJSON *run)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, "status");
    return cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
}

/* Thread 0's mark called `label` in `run`, or NULL. */
static const cJSON *find_mark(const cJSON *run, const char *label)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(run, "marks"))
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "label");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "thread");
        if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0 && cJSON_IsNumber(t)
            && t->valueint == 0)
            return m;
    }
    return NULL;
}

/* The median of `key` of thread 0's mark `label` over a cell's successful runs; 1 if any. */
static int mark_median(const struct bench_cell *c, const char *label, const char *key,
                       double *median)
{
    double v[256];
    size_t n = 0;
    const cJSON *run;
    cJSON_ArrayForEach(run, c->runs)
    {
        const cJSON *m = run_ok(run) ? find_mark(run, label) : NULL;
        if (m && n < sizeof(v) / sizeof(v[0]) && bench_json_number(m, key, &v[n])) n++;
    }
    struct summary s;
    summarize(v, n, &s);
    *median = s.median;
    return n > 0;
}

/* Thread 0's mark labels, in order, of the first successful run of a row; how many. */
static size_t row_marks(const struct bench_cell *row, size_t na, const char **labels)
{
    for (size_t a = 0; a < na; a++) {
        const cJSON *run;
        cJSON_ArrayForEach(run, row[a].runs)
        {
            if (!run_ok(run)) continue;
            size_t n = 0;
            const cJSON *m;
            cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(run, "marks"))
            {
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "label");
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "thread");
                if (n < FRAG_MARKS_MAX && cJSON_IsString(l) && cJSON_IsNumber(t)
                    && t->valueint == 0)
                    labels[n++] = l->valuestring;
            }
            return n;
        }
    }
    return 0;
}

static void frag_header(const struct bench_config *cfg, FILE *fp, const char *title,
                        const char *what)
{
    fprintf(fp, "\n%s\n", title);
    fprintf(fp, "%-18s %3s %-*s", "workload", "thr", FRAG_LABEL_W, what);
    for (size_t a = 0; a < cfg->n_allocs; a++)
        fprintf(fp, " %*.*s", COL_W, COL_W, cfg->allocs[a].name);
    fprintf(fp, "\n");
}

/* The first line of a row names the workload and threads; the others leave them blank. */
static void frag_row_start(FILE *fp, const struct bench_cell *row, int first, const char *what)
{
    if (first)
        fprintf(fp, "%-18s %3u", bench_workload_label(row->workload), row->threads);
    else
        fprintf(fp, "%-18s %3s", "", "");
    fprintf(fp, " %-*s", FRAG_LABEL_W, what);
}

/*
 * Two tables for the 1-thread rows whose runs have marks: the footprint at each mark with
 * footprint / live in brackets (fragmentation over time), and the hole reuse of each refill
 * band. At more than one thread RSS is the process's while a mark is one thread's, so those
 * rows are left out (their marks are in the JSON). Medians over the repetitions.
 */
static void print_frag_tables(const struct bench_config *cfg, const struct bench_results *res,
                              FILE *fp)
{
    size_t na = cfg->n_allocs;
    size_t rows = na ? res->n_cells / na : 0;
    int header = 0;
    for (size_t r = 0; r < rows; r++) {
        const struct bench_cell *row = &res->cells[r * na];
        const char *labels[FRAG_MARKS_MAX];
        size_t nl = row->threads == 1 ? row_marks(row, na, labels) : 0;
        if (nl == 0) continue;
        if (!header)
            frag_header(cfg, fp,
                        "Footprint at each mark (/ live bytes), 1 thread; RSS, or lab:NAME's own "
                        "(lower is better)",
                        "mark");
        header = 1;
        for (size_t i = 0; i < nl; i++) {
            frag_row_start(fp, row, i == 0, labels[i]);
            for (size_t a = 0; a < na; a++) {
                char cell[64], size[32];
                double bytes, frag;
                if (!mark_median(&row[a], labels[i], "footprint_bytes", &bytes)) {
                    snprintf(cell, sizeof(cell), "%s", short_status(cfg, &row[a]));
                } else {
                    fmt_size(size, sizeof(size), bytes);
                    if (mark_median(&row[a], labels[i], "frag", &frag))
                        snprintf(cell, sizeof(cell), "%s (%.2f)", size, frag);
                    else
                        snprintf(cell, sizeof(cell), "%s", size);
                }
                fprintf(fp, " %*s", COL_W, cell);
            }
            fprintf(fp, "\n");
        }
    }

    static const struct {
        const char *name, *key;
    } bands[] = { { "smaller", "hole_reuse_smaller" },
                  { "equal", "hole_reuse_equal" },
                  { "larger", "hole_reuse_larger" },
                  { "whole refill", "hole_reuse" } };
    header = 0;
    for (size_t r = 0; r < rows; r++) {
        const struct bench_cell *row = &res->cells[r * na];
        struct summary s;
        int any = 0;
        for (size_t a = 0; a < na && !any; a++)
            any = bench_cell_metric(&row[a], bands[0].key, &s);
        if (!any) continue;
        if (!header)
            frag_header(cfg, fp,
                        "Hole reuse by refill band, 1 = all from the holes (higher is better)",
                        "band");
        header = 1;
        for (size_t b = 0; b < sizeof(bands) / sizeof(bands[0]); b++) {
            frag_row_start(fp, row, b == 0, bands[b].name);
            for (size_t a = 0; a < na; a++) {
                char cell[64];
                if (bench_cell_metric(&row[a], bands[b].key, &s) && cfg->repeat > 1)
                    snprintf(cell, sizeof(cell), "%.2f ±%d%%", s.median,
                             (int)lround(s.spread * 100));
                else if (s.n > 0)
                    snprintf(cell, sizeof(cell), "%.2f", s.median);
                else
                    snprintf(cell, sizeof(cell), "%s", short_status(cfg, &row[a]));
                fprintf(fp, " %*s", COL_W, cell);
            }
            fprintf(fp, "\n");
        }
    }
}

/* ------------------------------------------------------------------------------------- */
/* Contention (docs/results.md, "contention"): what a falling throughput curve is made of    */

/* A count in at most 6 characters: 950, 12345, 123k, 12.3M. */
static void fmt_count(char *buf, size_t cap, double v)
{
    if (v < 100000)
        snprintf(buf, cap, "%.0f", v);
    else if (v < 1e7)
        snprintf(buf, cap, "%.0fk", v / 1e3);
    else
        snprintf(buf, cap, "%.1fM", v / 1e6);
}

/* One contention cell: blocked / waiting as % of thread time, or switches vol / invol. */
static void contention_cell(char *buf, size_t cap, const struct bench_config *cfg,
                            const struct bench_cell *c, int switches)
{
    struct summary th, a, b;
    if (!bench_cell_metric(c, "contention.thread_ns", &th)) {
        snprintf(buf, cap, "%s", c->n_ok ? "-" : short_status(cfg, c));
        return;
    }
    if (switches) {
        char x[16] = "-", y[16] = "-";
        if (bench_cell_metric(c, "contention.voluntary_switches", &a))
            fmt_count(x, sizeof x, a.median);
        if (bench_cell_metric(c, "contention.involuntary_switches", &b))
            fmt_count(y, sizeof y, b.median);
        snprintf(buf, cap, "%s / %s", x, y);
        return;
    }
    double total = th.median > 0 ? th.median : 1;
    char x[16] = "-", y[16] = "-";
    if (bench_cell_metric(c, "contention.blocked_ns", &a))
        snprintf(x, sizeof x, "%.0f%%", 100 * a.median / total);
    if (bench_cell_metric(c, "contention.runqueue_ns", &b))
        snprintf(y, sizeof y, "%.0f%%", 100 * b.median / total);
    snprintf(buf, cap, "%s / %s", x, y);
}

/*
 * Two tables when some run had more than one thread: time off the CPU, blocked / waiting
 * for a CPU, as a share of the threads' time, and context switches, voluntary / involuntary;
 * medians over the repetitions, not ranked (they explain the throughput table).
 */
static void print_contention(const struct bench_config *cfg, const struct bench_results *res,
                             FILE *fp)
{
    size_t na = cfg->n_allocs, rows = na ? res->n_cells / na : 0;
    int multi = 0;
    for (size_t i = 0; i < res->n_cells; i++)
        multi |= res->cells[i].threads > 1 && res->cells[i].n_ok > 0;
    if (!multi) return;
    static const char *const titles[2] = {
        "Contention: blocked / waiting for a CPU, % of thread time (median)",
        "Contention: context switches per run, voluntary / involuntary (median)"
    };
    for (int sw = 0; sw < 2; sw++) {
        fprintf(fp, "\n%s\n%-18s %3s", titles[sw], "workload", "thr");
        for (size_t a = 0; a < na; a++)
            fprintf(fp, " %*.*s", COL_W, COL_W, cfg->allocs[a].name);
        fprintf(fp, "\n");
        for (size_t r = 0; r < rows; r++) {
            const struct bench_cell *row = &res->cells[r * na];
            int any = 0;
            for (size_t a = 0; a < na; a++)
                any |= row[a].n_ok > 0;
            if (!any && strncmp(row[0].note, "needs at least", 14) == 0) continue;
            fprintf(fp, "%-18s %3u", bench_workload_label(row[0].workload), row[0].threads);
            for (size_t a = 0; a < na; a++) {
                char cell[64];
                contention_cell(cell, sizeof cell, cfg, &row[a], sw);
                put_cell(fp, cell, 0);
            }
            fprintf(fp, "\n");
        }
    }
    fprintf(fp, "blocked: asleep (a lock's futex wait, I/O); waiting: runnable, no CPU free "
                "(more threads than CPUs)\n");
}

/* Append to a note ("" at first), a clause at a time. */
static void note_add(char *buf, size_t cap, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void note_add(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/*
 * A note for each trace workload: what its replay ran and left out, and the trace's damage
 * in trace info's words. From the replay object of its first successful run (every run
 * compiles the same stream); a trace no run replayed has its failure noted already.
 */
static void trace_notes(const struct bench_config *cfg, const struct bench_results *res, FILE *fp,
                        int *header)
{
    size_t plen = strlen(BENCH_TRACE_PREFIX);
    for (size_t w = 0; w < cfg->n_workloads; w++) {
        if (strncmp(cfg->workloads[w], BENCH_TRACE_PREFIX, plen) != 0) continue;
        const struct bench_cell *cell = NULL;
        const cJSON *rj = NULL;
        for (size_t i = 0; i < res->n_cells && !rj; i++) {
            if (strcmp(res->cells[i].workload, cfg->workloads[w]) != 0) continue;
            const cJSON *run;
            cJSON_ArrayForEach(run, res->cells[i].runs)
            {
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, "status");
                rj = cJSON_GetObjectItemCaseSensitive(run, "replay");
                if (cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0 && cJSON_IsObject(rj))
                    break;
                rj = NULL;
            }
            cell = &res->cells[i];
        }
        if (!rj) continue;
        double v[9] = { 0 };
        static const char *const keys[9] = { "events",     "allocs",         "frees",
                                             "reallocs",   "unknown_frees",  "failed",
                                             "zero_sizes", "clamped_aligns", "folded_threads" };
        for (int k = 0; k < 9; k++)
            bench_json_number(rj, keys[k], &v[k]);
        char note[1024] = "";
        note_add(
                note, sizeof(note),
                "replayed %.0f events (%.0f allocations, %.0f frees, %.0f reallocs) on %u thread%s",
                v[0], v[1], v[2], v[3], cell->threads, cell->threads == 1 ? "" : "s");
        if (v[4]) note_add(note, sizeof(note), "; %.0f frees of unknown pointers skipped", v[4]);
        if (v[5]) note_add(note, sizeof(note), "; %.0f failed allocations not replayed", v[5]);
        if (v[6]) note_add(note, sizeof(note), "; %.0f size-0 requests as 1 byte", v[6]);
        if (v[7]) note_add(note, sizeof(note), "; %.0f alignments clamped", v[7]);
        if (v[8]) note_add(note, sizeof(note), "; %.0f threads folded onto others", v[8]);
        const cJSON *dmg = cJSON_GetObjectItemCaseSensitive(rj, "damage");
        if (cJSON_IsString(dmg) && dmg->valuestring[0])
            note_add(note, sizeof(note),
                     "; a damaged trace, replayed as far as it could be read: %s",
                     dmg->valuestring);
        if (!*header) {
            fprintf(fp, "\nnotes:\n");
            *header = 1;
        }
        fprintf(fp, "  %s: %s\n", bench_workload_label(cfg->workloads[w]), note);
    }
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
    print_frag_tables(cfg, res, fp);
    print_contention(cfg, res, fp);
    report_inside_tables(cfg, res, fp);
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
    trace_notes(cfg, res, fp, &header);
}

cJSON *report_json(const struct bench_config *cfg, const struct bench_results *res,
                   const char *command_line)
{
    cJSON *doc = report_envelope("heaplab.results/2", command_line, res->machine);
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
    cJSON *ins = cJSON_AddArrayToObject(c, "inside");
    if (cfg->inside & EXEC_INSIDE_HEAPMAP) cJSON_AddItemToArray(ins, cJSON_CreateString("heapmap"));
    if (cfg->inside & EXEC_INSIDE_STATS)
        cJSON_AddItemToArray(ins, cJSON_CreateString("alloc_stats"));
    if (cfg->inside & EXEC_INSIDE_OSCALLS)
        cJSON_AddItemToArray(ins, cJSON_CreateString("os_calls"));
    cJSON_AddNumberToObject(c, "heapmap_every", (double)cfg->heapmap_every);
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
        const cJSON *sec;
        cJSON_ArrayForEach(sec, cell->inside) /* heapmap, alloc_stats, os_calls */
                cJSON_AddItemToObject(r, sec->string, cJSON_Duplicate(sec, 1));
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
