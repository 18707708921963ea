/*
 * cli/cmd_report.h: the HTML report as `heaplab report` (cmd_report.c) writes it and as
 * `heaplab bench --report` and `heaplab replay --report` (cmd_bench.c) write it.
 */
#ifndef HEAPLAB_CLI_CMD_REPORT_H
#define HEAPLAB_CLI_CMD_REPORT_H

struct results_set;
struct compare;
struct compare_opts;

/*
 * Write the report of `all`, with the comparison `cmp` of `base` and `new` when `cmp` is not
 * NULL, to `path` (checked already with cli_check_output), whole or not at all, and print
 * "report: PATH (SIZE)" on stdout. `title` names what it shows (file names).
 * EXIT_OK, or EXIT_FAIL after one line on stderr.
 */
int cli_report_write(const char *path, const char *title, const struct results_set *all,
                     const struct compare *cmp, const struct results_set *base,
                     const struct results_set *new, const struct compare_opts *o,
                     const char *command_line);

#endif
