/*
 * bench/report_inside.c: the tables of the inside passes (docs/inside.md, docs/cli.md): per
 * (workload, threads) row, one column per allocator, at one snapshot (--inside-mark, "end"
 * by default):
 *   the heap map's totals: live, mapped, resident, and resident pages by class;
 *   the allocator's statistics in heaplab's vocabulary, beside the stream's live bytes;
 *   the OS calls of the pass: count and time per call (madvise by advice), and page faults.
 * "-" is a field the allocator does not expose (or a snapshot the cell does not have).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

#define COL_W   15
#define LABEL_W 20

static const char *mark_of(const struct bench_config *cfg)
{
    return cfg->inside_mark && *cfg->inside_mark ? cfg->inside_mark : "end";
}

/* Bytes as 512B, 98.3K, 32.0M, 1.50G. */
static void size_text(char *buf, size_t cap, double v)
{
    static const char units[] = "BKMGT";
    int u = 0;
    while (fabs(v) >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0fB", v);
    else
        snprintf(buf, cap,
                 fabs(v) < 10    ? "%.2f%c"
                 : fabs(v) < 100 ? "%.1f%c"
                                 : "%.0f%c",
                 v, units[u]);
}

/* The cell's inside section `key` when its status is ok, else NULL and its status in `why`. */
static const cJSON *section(const struct bench_cell *c, const char *key, const char **why)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(c->inside, key);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(sec, "status");
    *why = cJSON_IsString(st) ? st->valuestring : "n/a";
    return cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0 ? sec : NULL;
}

/* The first snapshot labelled `label` of a section. */
/* The first snapshot labelled `mark` of a section; "LABEL@OPS" picks the one of that label
 * taken at OPS of thread 0's ops (the periodic ones all say "every"). */
static const cJSON *snapshot_at(const cJSON *sec, const char *mark)
{
    const char *at = strchr(mark, '@');
    size_t len = at ? (size_t)(at - mark) : strlen(mark);
    double ops = at ? strtod(at + 1, NULL) : -1;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(sec, "snapshots"))
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(s, "label");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(s, "ops");
        if (cJSON_IsString(l) && strlen(l->valuestring) == len
            && strncmp(l->valuestring, mark, len) == 0
            && (ops < 0 || (cJSON_IsNumber(o) && o->valuedouble == ops)))
            return s;
    }
    return NULL;
}

static int number(const cJSON *j, const char *key, double *v)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(n)) return 0;
    *v = n->valuedouble;
    return 1;
}

static void header(const struct bench_config *cfg, FILE *fp, const char *title)
{
    fprintf(fp, "\n%s\n%-18s %3s %-*s", title, "workload", "thr", LABEL_W, "");
    for (size_t a = 0; a < cfg->n_allocs; a++)
        fprintf(fp, " %*.*s", COL_W, COL_W, cfg->allocs[a].name);
    fprintf(fp, "\n");
}

static void row_start(FILE *fp, const struct bench_cell *row, int first, const char *what)
{
    if (first)
        fprintf(fp, "%-18s %3u", bench_workload_label(row->workload), row->threads);
    else
        fprintf(fp, "%-18s %3s", "", "");
    fprintf(fp, " %-*s", LABEL_W, what);
}

/* Does any cell of the row have section `key` (ok or not)? */
static int row_has(const struct bench_cell *row, size_t na, const char *key)
{
    for (size_t a = 0; a < na; a++)
        if (cJSON_GetObjectItemCaseSensitive(row[a].inside, key)) return 1;
    return 0;
}

/* One line per field of a snapshot, bytes (cell counts times the cell size with `cells`). */
struct field {
    const char *title;
    const char *key; /* in the snapshot, or in its "cells" object */
    int cells;       /* a count of cells */
};

static void snapshot_rows(const struct bench_config *cfg, const struct bench_cell *row,
                          const char *key, const struct field *f, size_t nf, int *first, FILE *fp)
{
    size_t na = cfg->n_allocs;
    for (size_t i = 0; i < nf; i++) {
        row_start(fp, row, (*first)++ == 0, f[i].title);
        for (size_t a = 0; a < na; a++) {
            const char *why;
            const cJSON *sec = section(&row[a], key, &why);
            const cJSON *snap = sec ? snapshot_at(sec, mark_of(cfg)) : NULL;
            char text[32] = "-";
            double v, cell_bytes = 4096;
            number(snap, "cell_bytes", &cell_bytes);
            const cJSON *src = f[i].cells ? cJSON_GetObjectItemCaseSensitive(snap, "cells") : snap;
            if (!sec)
                snprintf(text, sizeof text, "%s", why);
            else if (number(src, f[i].key, &v))
                size_text(text, sizeof text, f[i].cells ? v * cell_bytes : v);
            fprintf(fp, " %*s", COL_W, text);
        }
        fprintf(fp, "\n");
    }
}

static void heapmap_tables(const struct bench_config *cfg, const struct bench_results *res,
                           FILE *fp)
{
    static const struct field f[] = {
        { "live (stream)", "live_bytes", 0 },    { "mapped", "mapped_bytes", 0 },
        { "resident", "resident_bytes", 0 },     { "resident empty", "empty", 1 },
        { "sparse (<= 1/2 live)", "sparse", 1 }, { "dense (> 1/2 live)", "dense", 1 },
        { "not resident", "not_resident", 1 },
    };
    size_t na = cfg->n_allocs, rows = na ? res->n_cells / na : 0;
    char title[160];
    snprintf(title, sizeof title,
             "Heap map at \"%s\": the allocator's pages by live bytes on them (docs/inside.md)",
             mark_of(cfg));
    int shown = 0;
    for (size_t r = 0; r < rows; r++) {
        const struct bench_cell *row = &res->cells[r * na];
        if (!row_has(row, na, "heapmap")) continue;
        if (!shown++) header(cfg, fp, title);
        int first = 0;
        snapshot_rows(cfg, row, "heapmap", f, sizeof f / sizeof f[0], &first, fp);
        row_start(fp, row, 0, "RSS cross-check");
        for (size_t a = 0; a < na; a++) {
            const char *why;
            const cJSON *sec = section(&row[a], "heapmap", &why);
            const cJSON *check = NULL, *s;
            const char *text = sec ? "ok" : why;
            cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(sec, "snapshots"))
            {
                check = cJSON_GetObjectItemCaseSensitive(s, "rss_check");
                if (cJSON_IsObject(check)
                    && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(check, "agree")))
                    text = "DISAGREES";
            }
            fprintf(fp, " %*s", COL_W, text);
        }
        fprintf(fp, "\n");
    }
}

static void stats_tables(const struct bench_config *cfg, const struct bench_results *res, FILE *fp)
{
    static const struct field f[] = {
        { "live (stream)", "live_bytes", 0 }, { "allocated", "allocated_bytes", 0 },
        { "active", "active_bytes", 0 },      { "resident", "resident_bytes", 0 },
        { "mapped", "mapped_bytes", 0 },      { "retained", "retained_bytes", 0 },
        { "metadata", "metadata_bytes", 0 },  { "thread cache", "thread_cache_bytes", 0 },
    };
    size_t na = cfg->n_allocs, rows = na ? res->n_cells / na : 0;
    char title[160];
    snprintf(title, sizeof title,
             "Allocator statistics at \"%s\", in one vocabulary (- = not exposed)", mark_of(cfg));
    int shown = 0;
    for (size_t r = 0; r < rows; r++) {
        const struct bench_cell *row = &res->cells[r * na];
        if (!row_has(row, na, "alloc_stats")) continue;
        if (!shown++) header(cfg, fp, title);
        int first = 0;
        snapshot_rows(cfg, row, "alloc_stats", f, sizeof f / sizeof f[0], &first, fp);
        row_start(fp, row, 0, "source");
        for (size_t a = 0; a < na; a++) {
            const char *why;
            const cJSON *sec = section(&row[a], "alloc_stats", &why);
            const cJSON *src = cJSON_GetObjectItemCaseSensitive(sec, "source");
            const cJSON *exp = cJSON_GetObjectItemCaseSensitive(sec, "exposed");
            fprintf(fp, " %*.*s", COL_W, COL_W,
                    !sec                  ? why
                    : cJSON_IsFalse(exp)  ? "not exposed"
                    : cJSON_IsString(src) ? src->valuestring
                                          : "?");
        }
        fprintf(fp, "\n");
    }
}

/* "12 (0.41ms)": a count and its time. */
static void call_text(char *buf, size_t cap, const cJSON *stat)
{
    double n = 0, t = 0;
    if (!number(stat, "count", &n)) {
        snprintf(buf, cap, "0");
        return;
    }
    number(stat, "time_ns", &t);
    if (n == 0)
        snprintf(buf, cap, "0");
    else
        snprintf(buf, cap, "%.0f (%.2fms)", n, t / 1e6);
}

/* The madvise advice names any cell of the row used, into names[]; how many. */
static size_t row_advices(const struct bench_cell *row, size_t na, const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t a = 0; a < na; a++) {
        const char *why;
        const cJSON *sec = section(&row[a], "os_calls", &why), *adv;
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sec, "calls"),
                                                 "madvise"),
                "by_advice");
        cJSON_ArrayForEach(adv, by)
        {
            int seen = 0;
            for (size_t k = 0; k < n; k++)
                seen |= strcmp(names[k], adv->string) == 0;
            if (!seen && n < cap) names[n++] = adv->string;
        }
    }
    return n;
}

static void oscall_tables(const struct bench_config *cfg, const struct bench_results *res, FILE *fp)
{
    static const char *const calls[] = { "mmap", "munmap", "mremap",  "madvise",
                                         "brk",  "futex",  "mprotect" };
    size_t na = cfg->n_allocs, rows = na ? res->n_cells / na : 0;
    int shown = 0;
    for (size_t r = 0; r < rows; r++) {
        const struct bench_cell *row = &res->cells[r * na];
        if (!row_has(row, na, "os_calls")) continue;
        if (!shown++)
            header(cfg, fp,
                   "OS calls of the pass: count (time in them), traced (ptrace + seccomp)");
        const char *advices[32];
        size_t n_adv = row_advices(row, na, advices, 32);
        int first = 0;
        for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
            for (size_t k = 0; k <= (strcmp(calls[c], "madvise") == 0 ? n_adv : 0); k++) {
                char what[64];
                if (k == 0)
                    snprintf(what, sizeof what, "%s", calls[c]);
                else
                    snprintf(what, sizeof what, "  %.40s", advices[k - 1]);
                row_start(fp, row, first++ == 0, what);
                for (size_t a = 0; a < na; a++) {
                    const char *why;
                    const cJSON *sec = section(&row[a], "os_calls", &why);
                    const cJSON *st = cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(sec, "calls"), calls[c]);
                    if (k)
                        st = cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(st, "by_advice"), advices[k - 1]);
                    char text[48];
                    if (!sec)
                        snprintf(text, sizeof text, "%s", why);
                    else
                        call_text(text, sizeof text, st);
                    fprintf(fp, " %*s", COL_W, text);
                }
                fprintf(fp, "\n");
            }
        }
        static const struct {
            const char *title, *key, *sub;
        } extra[] = { { "background calls", "background", NULL },
                      { "minor page faults", "minor_faults", NULL } };
        for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
            row_start(fp, row, 0, extra[e].title);
            for (size_t a = 0; a < na; a++) {
                const char *why;
                const cJSON *sec = section(&row[a], "os_calls", &why);
                char text[48];
                double v = 0;
                if (!sec) {
                    snprintf(text, sizeof text, "%s", why);
                } else if (number(sec, extra[e].key, &v)) {
                    snprintf(text, sizeof text, "%.0f", v);
                } else { /* background: the calls of every kind, summed */
                    const cJSON *bg = cJSON_GetObjectItemCaseSensitive(sec, extra[e].key), *cj;
                    double sum = 0;
                    cJSON_ArrayForEach(cj, bg) if (number(cj, "count", &v)) sum += v;
                    snprintf(text, sizeof text, "%.0f", sum);
                }
                fprintf(fp, " %*s", COL_W, text);
            }
            fprintf(fp, "\n");
        }
    }
}

void report_inside_tables(const struct bench_config *cfg, const struct bench_results *res, FILE *fp)
{
    if (!cfg->inside) return;
    heapmap_tables(cfg, res, fp);
    stats_tables(cfg, res, fp);
    oscall_tables(cfg, res, fp);
}
