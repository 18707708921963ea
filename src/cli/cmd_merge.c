/*
 * cli/cmd_merge.c: `heaplab merge FILE... -o OUT`: results from several machines into one
 * heaplab.results-set/1 document keyed by machine, every document whole (report/merge.c).
 * Every input is read and validated before anything is written; OUT is written whole or not
 * at all.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "report/report.h"
#include "util/diag.h"

#define MERGE_MAX_FILES 256

static int merge_main(int argc, char **argv, const struct cli_ctx *ctx);

static const struct cli_opt merge_opts[] = {
    { 'o', 'o', "output", "FILE", "the merged document (schema " RESULTS_SCHEMA_SET "); required",
      NULL, 0 },
    { 0 },
};

const struct cli_command cli_cmd_merge = {
    .name = "merge",
    .summary = "merge results files of several machines into one, keyed by machine",
    .args_before = "FILE...",
    .about = "Combine results files (bench, replay, run and race results, or merged sets) into\n"
             "one document that groups them by machine and keeps every document whole.",
    .opts = merge_opts,
    .notes = "A machine is its hostname, CPU model and cores; another machine with the same\n"
             "hostname is keyed HOST#2. The same document given twice is refused.",
    .run = merge_main,
};

static int merge_main(int argc, char **argv, const struct cli_ctx *ctx)
{
    const char *files[MERGE_MAX_FILES], *out = NULL;
    size_t n = 0;
    struct cli_parser p;
    cli_parser_init(&p, &cli_cmd_merge, argc, argv);
    for (;;) {
        int ch;
        while ((ch = cli_next(&p)) > 0)
            if (ch == 'o') out = p.value;
        if (ch != CLI_DONE) return cli_parse_status(ch);
        if (p.optind >= p.argc) break;
        if (n == MERGE_MAX_FILES) return cli_usage(&cli_cmd_merge, "too many files");
        files[n++] = p.argv[p.optind];
        cli_parser_init(&p, &cli_cmd_merge, p.argc - p.optind, p.argv + p.optind);
    }
    if (!out) return cli_usage(&cli_cmd_merge, "no output file (-o FILE)");
    if (n == 0) return cli_usage(&cli_cmd_merge, "no results files to merge");
    int rc = cli_check_output("--output", out);
    if (rc != 0) return rc;

    struct results_set s;
    struct diag d = { { 0 } };
    results_init(&s);
    rc = EXIT_FAIL;
    for (size_t i = 0; i < n; i++) {
        if (results_load(&s, files[i], &d) != 0) {
            cli_error("%s", d.msg);
            goto out;
        }
    }
    cJSON *doc = report_envelope(RESULTS_SCHEMA_SET, ctx->command_line, NULL);
    if (doc) cJSON_DeleteItemFromObjectCaseSensitive(doc, "machine"); /* one per key instead */
    if (!doc || results_merge(doc, &s, &d) != 0 || report_write_json(doc, out, &d) != 0) {
        cli_error("%s", doc ? d.msg : "out of memory");
        cJSON_Delete(doc);
        goto out;
    }
    cJSON_Delete(doc);
    rc = EXIT_OK;
out:
    results_free(&s);
    return rc;
}
