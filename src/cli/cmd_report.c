/*
 * cli/cmd_report.c: `heaplab report FILE... [-o FILE]`: one HTML file that shows results files
 * (bench, replay, run and race results, merged sets) as the viewer's report views, offline
 * (report/report.h, docs/report.md). Two files are compared as `heaplab compare` compares
 * them, as charts. Every file is read and validated before anything is written; the page is
 * written whole or not at all.
 */
#include "cli/cmd_report.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "report/report.h"
#include "server/assets.h"
#include "util/atomic_file.h"
#include "util/diag.h"

#define REPORT_MAX_FILES 256
#define PROCEED          (-1)

static int report_main(int argc, char **argv, const struct cli_ctx *ctx);

enum { OPT_THRESHOLD = 256, OPT_ALPHA, OPT_RELATIVE };

static const struct cli_opt report_opts[] = {
    { 'o', 'o', "output", "FILE", "the HTML file (default: report.html)", NULL, 0 },
    { OPT_THRESHOLD, 0, "threshold", "PCT",
      "two files: a change within +-PCT percent is no verdict,\n0..1000 (default: 5)", NULL, 0 },
    { OPT_ALPHA, 0, "alpha", "A",
      "two files: significance level of the Mann-Whitney U test,\n0.0001..0.5 (default: 0.05)",
      NULL, 0 },
    { OPT_RELATIVE, 0, "relative-to", "ALLOC",
      "two files: compare each run's timings divided by ALLOC's\nrun of the same repetition "
      "(as 'heaplab compare\n--relative-to')",
      NULL, 0 },
    { 0 },
};

const struct cli_command cli_cmd_report = {
    .name = "report",
    .summary = "one HTML file of charts and tables of results files, opened offline",
    .args_before = "FILE...",
    .about = "Write one HTML file that shows results files (bench, replay, run and race results,\n"
             "or merged sets): a summary with the winners and why, throughput against threads,\n"
             "RSS over time, latency percentiles, memory and OS bars, the allocators' heap maps,\n"
             "statistics and OS calls (with bench --heapmap --alloc-stats --os-calls), and every\n"
             "table of the terminal, grouped by machine. Two files are compared as 'heaplab\n"
             "compare' does, as charts. The file holds the viewer and the data: it opens offline,\n"
             "alone.",
    .opts = report_opts,
    .notes = "Series are downsampled to about 2000 points each, heap maps to 1 MiB a page (a\n"
             "square for 2, 4, ... pages when a heap is large: the page says so); the results\n"
             "files keep every value. Two files that share no cell, or of different kinds, are an\n"
             "error: merge them first ('heaplab merge') to see them side by side.",
    .run = report_main,
};

struct report_args {
    const char *files[REPORT_MAX_FILES];
    size_t n_files;
    const char *out;
    struct compare_opts opts;
};

static int parse_args(int argc, char **argv, struct report_args *a)
{
    struct cli_parser p;
    double pct = 5;
    memset(a, 0, sizeof *a);
    a->out = "report.html";
    a->opts.alpha = 0.05;
    cli_parser_init(&p, &cli_cmd_report, argc, argv);
    for (;;) {
        int ch;
        while ((ch = cli_next(&p)) > 0) {
            int bad = 0;
            if (ch == 'o')
                a->out = p.value;
            else if (ch == OPT_THRESHOLD)
                bad = cli_value_number(&p, 0, 1000, &pct);
            else if (ch == OPT_ALPHA)
                bad = cli_value_number(&p, 0.0001, 0.5, &a->opts.alpha);
            else if (ch == OPT_RELATIVE && !*p.value)
                return cli_usage(&cli_cmd_report, "--relative-to: an empty name");
            else if (ch == OPT_RELATIVE)
                a->opts.relative_to = p.value;
            if (bad) return EXIT_USAGE;
        }
        if (ch != CLI_DONE) return cli_parse_status(ch);
        if (p.optind >= p.argc) break;
        /* An operand: keep it and parse what follows it (getopt stops at the first). */
        if (a->n_files == REPORT_MAX_FILES) return cli_usage(&cli_cmd_report, "too many files");
        a->files[a->n_files++] = p.argv[p.optind];
        cli_parser_init(&p, &cli_cmd_report, p.argc - p.optind, p.argv + p.optind);
    }
    if (a->n_files == 0) return cli_usage(&cli_cmd_report, "no results files to report on");
    if (a->opts.relative_to && a->n_files != 2)
        return cli_usage(&cli_cmd_report, "--relative-to compares two files, not %zu", a->n_files);
    a->opts.threshold = pct / 100;
    return PROCEED;
}

/* 1536 -> "1.5 KiB". */
static void fmt_size(char *buf, size_t cap, size_t n)
{
    if (n < 1024)
        snprintf(buf, cap, "%zu B", n);
    else if (n < 1048576)
        snprintf(buf, cap, "%.1f KiB", n / 1024.0);
    else
        snprintf(buf, cap, "%.2f MiB", n / 1048576.0);
}

int cli_report_write(const char *path, const char *title, const struct results_set *all,
                     const struct compare *cmp, const struct results_set *base,
                     const struct results_set *new, const struct compare_opts *o,
                     const char *command_line)
{
    struct diag d = { { 0 } };
    char *page = NULL;
    size_t len = 0;
    int rc = EXIT_FAIL;
    cJSON *doc = report_envelope(REPORT_SCHEMA, command_line, NULL);
    if (!doc) {
        cli_error("cannot write the report: out of memory");
        return EXIT_FAIL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "machine"); /* the documents have theirs */
    if (report_data(doc, all, cmp, base, new, o, &d) != 0
        || report_html(doc, title, web_assets, web_assets_count, &page, &len, &d) != 0
        || atomic_file_write(path, page, len, &d) != 0) {
        cli_error("cannot write the report: %s", d.msg);
        goto out;
    }
    char size[32];
    fmt_size(size, sizeof size, len);
    printf("report: %s (%s)\n", path, size);
    fflush(stdout);
    rc = EXIT_OK;
out:
    free(page);
    cJSON_Delete(doc);
    return rc;
}

/* "a.json", "a.json and b.json", "a.json, b.json and 3 more", by the files' names. */
static void make_title(char *buf, size_t cap, const struct report_args *a)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < a->n_files && i < 2; i++) {
        const char *slash = strrchr(a->files[i], '/');
        const char *name = slash ? slash + 1 : a->files[i];
        const char *sep = i == 0 ? "" : a->n_files == 2 ? " and " : ", ";
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", sep, name);
        if (n >= cap) return;
    }
    if (a->n_files > 2) snprintf(buf + n, cap - n, " and %zu more", a->n_files - 2);
}

/* Does the set hold a race leaderboard? (one run per lane: nothing to compare) */
static int has_race(const struct results_set *s)
{
    for (size_t i = 0; i < s->n_docs; i++)
        if (s->docs[i].kind == RESULTS_RACE) return 1;
    return 0;
}

static int report_main(int argc, char **argv, const struct cli_ctx *ctx)
{
    struct report_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != PROCEED) return rc;
    if ((rc = cli_check_output("--output", a.out)) != 0) return rc;

    struct results_set all, base, new;
    struct compare c = { 0 };
    struct diag d = { { 0 } };
    results_init(&all);
    results_init(&base);
    results_init(&new);
    rc = EXIT_FAIL;
    for (size_t i = 0; i < a.n_files; i++) {
        if (results_load(&all, a.files[i], &d) != 0) {
            cli_error("%s", d.msg);
            goto out;
        }
    }
    /* Two files are a comparison, as `heaplab compare` makes it (races have nothing to test). */
    int compare = a.n_files == 2 && !has_race(&all);
    if (compare
        && (results_load(&base, a.files[0], &d) != 0 || results_load(&new, a.files[1], &d) != 0
            || compare_sets(&base, &new, &a.opts, &c, &d) != 0)) {
        cli_error("%s", d.msg);
        goto out;
    }
    char title[512];
    make_title(title, sizeof title, &a);
    rc = cli_report_write(a.out, title, &all, compare ? &c : NULL, &base, &new, &a.opts,
                          ctx->command_line);
out:
    compare_free(&c);
    results_free(&all);
    results_free(&base);
    results_free(&new);
    return rc;
}
