/*
 * cli/cmd_compare.c: `heaplab compare BASE NEW`: per cell present in both, the change of each
 * metric's median and whether it is significant (report/report.h, docs/compare.md), as one
 * table per metric; the worse and better rows listed below them. Exit 1 with
 * --fail-on-regression when a row is worse, so CI can gate on it.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "report/report.h"
#include "util/diag.h"

#define PROCEED (-1)

static int compare_main(int argc, char **argv, const struct cli_ctx *ctx);

enum { OPT_THRESHOLD = 256, OPT_ALPHA, OPT_FAIL, OPT_JSON, OPT_RELATIVE };

static const struct cli_opt compare_opts[] = {
    { OPT_THRESHOLD, 0, "threshold", "PCT",
      "a change within +-PCT percent is no verdict, 0..1000\n(default: 5)", NULL, 0 },
    { OPT_ALPHA, 0, "alpha", "A",
      "significance level of the Mann-Whitney U test, 0.0001..0.5\n(default: 0.05)", NULL, 0 },
    { OPT_FAIL, 0, "fail-on-regression", NULL,
      "exit 1 when a change is significant, beyond the threshold\nand for the worse", NULL, 0 },
    { OPT_RELATIVE, 0, "relative-to", "ALLOC",
      "divide each run's throughput and latency (run: wall time)\nby ALLOC's run of the same "
      "repetition on its side,\nso a machine that got slower between the files\ncancels out "
      "(ALLOC: one that did not change)",
      NULL, 0 },
    { OPT_JSON, 0, "json", "FILE", "write the comparison (schema " COMPARE_SCHEMA ")", NULL, 0 },
    { 0 },
};

const struct cli_command cli_cmd_compare = {
    .name = "compare",
    .summary = "compare two results files: what changed, and is it more than noise",
    .args_before = "BASE NEW",
    .about = "For each (workload, threads, allocator) in both BASE and NEW (bench, replay or run\n"
             "results, or merged sets), the change of the median throughput, malloc p99 latency\n"
             "and peak RSS (run: wall time and peak RSS), and whether the repetitions differ:\n"
             "the exact two-sided Mann-Whitney U test (docs/compare.md).",
    .opts = compare_opts,
    .notes = "A verdict (worse, better) needs p < alpha and a change beyond the threshold.\n"
             "With 3 repetitions a side no change can be significant at 0.05; use 5 or more.",
    .run = compare_main,
};

struct compare_args {
    const char *files[2];
    size_t n_files;
    struct compare_opts opts;
    int fail_on_regression;
    const char *json;
};

static int parse_args(int argc, char **argv, struct compare_args *a)
{
    struct cli_parser p;
    double pct = 5;
    *a = (struct compare_args){ .opts = { .alpha = 0.05 } };
    cli_parser_init(&p, &cli_cmd_compare, argc, argv);
    for (;;) {
        int ch;
        while ((ch = cli_next(&p)) > 0) {
            int bad = 0;
            switch (ch) {
            case OPT_THRESHOLD:
                bad = cli_value_number(&p, 0, 1000, &pct);
                break;
            case OPT_ALPHA:
                bad = cli_value_number(&p, 0.0001, 0.5, &a->opts.alpha);
                break;
            case OPT_FAIL:
                a->fail_on_regression = 1;
                break;
            case OPT_JSON:
                a->json = p.value;
                break;
            case OPT_RELATIVE:
                if (!*p.value) return cli_usage(&cli_cmd_compare, "--relative-to: an empty name");
                a->opts.relative_to = p.value;
                break;
            }
            if (bad) return EXIT_USAGE;
        }
        if (ch != CLI_DONE) return cli_parse_status(ch);
        if (p.optind >= p.argc) break;
        /* An operand: keep it and parse what follows it (getopt stops at the first). */
        if (a->n_files == 2)
            return cli_usage(&cli_cmd_compare,
                             "unexpected argument \"%s\" (compare takes two files)",
                             p.argv[p.optind]);
        a->files[a->n_files++] = p.argv[p.optind];
        cli_parser_init(&p, &cli_cmd_compare, p.argc - p.optind, p.argv + p.optind);
    }
    if (a->n_files < 2)
        return cli_usage(&cli_cmd_compare, "compare takes two results files, BASE and NEW");
    a->opts.threshold = pct / 100;
    return PROCEED;
}

/* ------------------------------------------------------------------------------------- */
/* The tables                                                                            */

#define W_WORKLOAD  18
#define W_ALLOCATOR 12
#define W_VALUE     15
#define W_CHANGE    9
#define W_P         7

/* `text` right-aligned in `width` characters ("±" is one character, two bytes). */
static void put_right(FILE *fp, const char *text, int width, const char *color)
{
    int chars = 0;
    for (const char *c = text; *c; c++)
        chars += ((unsigned char)*c & 0xc0) != 0x80;
    fprintf(fp, " %*s%s%s%s", chars < width ? width - chars : 0, "", color ? color : "", text,
            color ? "\033[0m" : "");
}

static void side_text(char *buf, size_t cap, const struct compare_row *r,
                      const struct compare_side *s, const struct compare_metric *m)
{
    if (s->n == 0) {
        snprintf(buf, cap, "%s", strcmp(s->status, "ok") == 0 ? "-" : s->status);
    } else if (r->relative) {
        struct summary sum = { s->median, s->min, s->max, 0, s->n };
        sum.spread = s->median != 0 ? (s->max - s->min) / fabs(s->median) : 0;
        summary_format(buf, cap, &sum, 1, 3);
    } else if (r->resolution_ns > 0 && s->median < r->resolution_ns) {
        snprintf(buf, cap, "<%.0f", ceil(r->resolution_ns));
    } else {
        struct summary sum = { s->median, s->min, s->max, 0, s->n };
        sum.spread = s->median != 0 ? (s->max - s->min) / fabs(s->median) : 0;
        summary_format(buf, cap, &sum, m->scale, m->decimals);
    }
}

static void change_text(char *buf, size_t cap, const struct compare_row *r, int color)
{
    const char *star = r->significant && !color ? "*" : "";
    if (isnan(r->test.p))
        snprintf(buf, cap, "-");
    else if (isnan(r->change))
        snprintf(buf, cap, "n/a%s", star);
    else
        snprintf(buf, cap, "%+.1f%%%s", r->change * 100, star);
}

static void p_text(char *buf, size_t cap, double p)
{
    if (isnan(p))
        snprintf(buf, cap, "-");
    else if (p < 0.001)
        snprintf(buf, cap, "<0.001");
    else
        snprintf(buf, cap, "%.3f", p);
}

static const char *verdict_text(enum compare_verdict v)
{
    switch (v) {
    case COMPARE_BETTER:
        return "better";
    case COMPARE_WORSE:
        return "worse";
    case COMPARE_NEW_FAILS:
        return "worse: new fails";
    case COMPARE_BASE_FAILS:
        return "base failed";
    case COMPARE_REFERENCE:
        return "reference";
    default:
        return "";
    }
}

static const char *verdict_color(enum compare_verdict v, int color)
{
    if (!color) return NULL;
    if (v == COMPARE_BETTER) return "\033[1;32m";
    if (v == COMPARE_WORSE || v == COMPARE_NEW_FAILS) return "\033[1;31m";
    return NULL;
}

static void threads_text(char *buf, size_t cap, unsigned threads)
{
    if (threads)
        snprintf(buf, cap, "%u", threads);
    else
        snprintf(buf, cap, "-");
}

static void print_table(FILE *fp, const struct compare *c, const struct results_set *base,
                        size_t metric, int color, int machines, const char *ref)
{
    size_t nm;
    const struct compare_metric *m = &compare_metrics(c->kind, &nm)[metric];
    if (ref && m->timing)
        fprintf(fp, "\n%c%s as a multiple of %s's run of the same repetition (%s is better)\n",
                toupper((unsigned char)m->name[0]), m->name + 1, ref,
                m->higher_better ? "higher" : "lower");
    else
        fprintf(fp, "\n%s\n", m->title);
    fprintf(fp, "%-*s %3s %-*s", W_WORKLOAD, "workload", "thr", W_ALLOCATOR, "allocator");
    if (machines) fprintf(fp, " %-12s", "machine");
    fprintf(fp, " %*s %*s %*s %*s  %s\n", W_VALUE, "base", W_VALUE, "new", W_CHANGE, "change", W_P,
            "p", "verdict");
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct compare_row *r = &c->rows[i];
        if (r->metric != metric) continue;
        const struct results_cell *cell = &base->cells[r->base_cell];
        char thr[16], b[64], n[64], ch[32], p[16];
        threads_text(thr, sizeof thr, cell->threads);
        side_text(b, sizeof b, r, &r->base, m);
        side_text(n, sizeof n, r, &r->new, m);
        change_text(ch, sizeof ch, r, color);
        p_text(p, sizeof p, r->test.p);
        fprintf(fp, "%-*.*s %3s %-*.*s", W_WORKLOAD, W_WORKLOAD,
                bench_workload_label(cell->workload), thr, W_ALLOCATOR, W_ALLOCATOR,
                cell->allocator);
        if (machines) fprintf(fp, " %-12.12s", base->docs[cell->doc].machine_key);
        put_right(fp, b, W_VALUE, NULL);
        put_right(fp, n, W_VALUE, NULL);
        put_right(fp, ch, W_CHANGE, verdict_color(r->verdict, color));
        put_right(fp, p, W_P, NULL);
        fprintf(fp, "  %s\n", verdict_text(r->verdict));
    }
}

/* "small, 2 threads, glibc" (or "/bin/true, glibc" for a run file), into buf. */
static void cell_name(char *buf, size_t cap, const struct results_cell *c)
{
    if (c->threads)
        snprintf(buf, cap, "%s, %u thread%s, %s", bench_workload_label(c->workload), c->threads,
                 c->threads == 1 ? "" : "s", c->allocator);
    else
        snprintf(buf, cap, "%s, %s", c->workload, c->allocator);
}

/* The rows with verdict `v` (or NEW_FAILS with WORSE), one line each, under `title`. */
static void print_verdicts(FILE *fp, const struct compare *c, const struct results_set *base,
                           enum compare_verdict v, const char *title, const char *ref)
{
    size_t nm;
    const struct compare_metric *metrics = compare_metrics(c->kind, &nm);
    int header = 0;
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct compare_row *r = &c->rows[i];
        if (r->verdict != v && !(v == COMPARE_WORSE && r->verdict == COMPARE_NEW_FAILS)) continue;
        if (!header) fprintf(fp, "%s:\n", title);
        header = 1;
        char name[256], b[64], n[64];
        const struct compare_metric *m = &metrics[r->metric];
        cell_name(name, sizeof name, &base->cells[r->base_cell]);
        if (r->verdict == COMPARE_NEW_FAILS) {
            fprintf(fp, "  %s: every run failed in new (%s)\n", name, r->new.status);
            continue;
        }
        struct summary sb = { .median = r->base.median, .n = 1 };
        struct summary sn = { .median = r->new.median, .n = 1 };
        summary_format(b, sizeof b, &sb, r->relative ? 1 : m->scale, r->relative ? 3 : m->decimals);
        summary_format(n, sizeof n, &sn, r->relative ? 1 : m->scale, r->relative ? 3 : m->decimals);
        char ch[32], p[16], unit[96];
        change_text(ch, sizeof ch, r, 1);
        p_text(p, sizeof p, r->test.p);
        snprintf(unit, sizeof unit, r->relative ? "x %s's" : "%s", r->relative ? ref : m->unit);
        fprintf(fp, "  %s: %s %s (%s -> %s %s, p %s)\n", name, m->name, ch, b, n, unit, p);
    }
}

static void print_only(FILE *fp, const char *file, const size_t *cells, size_t n,
                       const struct results_set *s)
{
    if (n == 0) return;
    fprintf(fp, "only in %s: %zu cell%s:", file, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n && i < 8; i++) {
        char name[256];
        cell_name(name, sizeof name, &s->cells[cells[i]]);
        fprintf(fp, "%s %s", i ? ";" : "", name);
    }
    fprintf(fp, "%s\n", n > 8 ? "; ..." : "");
}

/* Most throughput (wall time) rows of several allocators moved one way: say the machine
 * likely differs, and what cancels it. */
static void print_drift(FILE *fp, const struct compare *c, const char *ref)
{
    size_t nm, most = c->first_up > c->first_down ? c->first_up : c->first_down;
    const struct compare_metric *m = &compare_metrics(c->kind, &nm)[0];
    if (ref || c->first_tested < 4 || c->first_allocators < 2 || 2 * most <= c->first_tested)
        return;
    int higher = c->first_up >= c->first_down;
    fprintf(fp,
            "note: %zu of %zu %s rows went %s, over %zu allocators: the machine, not the builds, "
            "likely differs between the files; --relative-to ALLOC (one that did not change) "
            "divides each run by ALLOC's run of the same repetition (docs/compare.md)\n",
            most, c->first_tested, m->name, higher ? "up" : "down", c->first_allocators);
}

static void print_report(FILE *fp, const struct compare_args *a, const struct compare *c,
                         const struct results_set *base, const struct results_set *new, int color)
{
    size_t nm;
    compare_metrics(c->kind, &nm);
    int machines = 0;
    for (size_t i = 1; i < base->n_docs + new->n_docs && !machines; i++) {
        const struct results_doc *d =
                i < base->n_docs ? &base->docs[i] : &new->docs[i - base->n_docs];
        machines = strcmp(d->machine_key, base->docs[0].machine_key) != 0;
    }
    fprintf(fp,
            "heaplab compare: base %s, new %s; median and relative spread (max-min)/median\n"
            "Mann-Whitney U, two-sided: %s p < %g; a verdict needs p < %g and a change beyond "
            "±%g%%\n",
            a->files[0], a->files[1],
            color ? "significant changes in colour," : "* =", a->opts.alpha, a->opts.alpha,
            a->opts.threshold * 100);
    for (size_t m = 0; m < nm; m++)
        print_table(fp, c, base, m, color, machines, a->opts.relative_to);
    fprintf(fp, "\n%zu cell%s in both: %zu worse, %zu better, %zu row%s without a verdict\n",
            c->cells, c->cells == 1 ? "" : "s", c->worse, c->better,
            c->n_rows - c->worse - c->better, c->n_rows - c->worse - c->better == 1 ? "" : "s");
    print_only(fp, a->files[0], c->only_base, c->n_only_base, base);
    print_only(fp, a->files[1], c->only_new, c->n_only_new, new);
    print_drift(fp, c, a->opts.relative_to);
    print_verdicts(fp, c, base, COMPARE_WORSE, "worse", a->opts.relative_to);
    print_verdicts(fp, c, base, COMPARE_BETTER, "better", a->opts.relative_to);
}

static int write_json(const struct compare_args *a, const struct compare *c,
                      const struct results_set *base, const struct results_set *new,
                      const struct cli_ctx *ctx)
{
    struct diag d = { { 0 } };
    cJSON *doc = report_envelope(COMPARE_SCHEMA, ctx->command_line, NULL);
    if (!doc || compare_json(doc, c, base, new, &a->opts) != 0) {
        cJSON_Delete(doc);
        cli_error("cannot write the comparison: out of memory");
        return EXIT_FAIL;
    }
    int rc = report_write_json(doc, a->json, &d);
    cJSON_Delete(doc);
    if (rc != 0) {
        cli_error("cannot write the comparison: %s", d.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int compare_main(int argc, char **argv, const struct cli_ctx *ctx)
{
    struct compare_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != PROCEED) return rc;
    if (a.json && (rc = cli_check_output("--json", a.json)) != 0) return rc;
    struct results_set base, new;
    struct compare c = { 0 };
    struct diag d = { { 0 } };
    results_init(&base);
    results_init(&new);
    rc = EXIT_FAIL;
    if (results_load(&base, a.files[0], &d) != 0 || results_load(&new, a.files[1], &d) != 0
        || compare_sets(&base, &new, &a.opts, &c, &d) != 0) {
        cli_error("%s", d.msg);
        goto out;
    }
    print_report(stdout, &a, &c, &base, &new, cli_color(1));
    fflush(stdout);
    rc = EXIT_OK;
    if (a.json) rc = write_json(&a, &c, &base, &new, ctx);
    if (rc == EXIT_OK && a.fail_on_regression && c.worse > 0) rc = EXIT_FAIL;
out:
    compare_free(&c);
    results_free(&base);
    results_free(&new);
    return rc;
}
