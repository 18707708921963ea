/*
 * cli/cli.h: what the commands share: diagnostics (one line on stderr, "heaplab: " prefix,
 * no trailing period), exit codes, list and number parsing.
 */
#ifndef HEAPLAB_CLI_CLI_H
#define HEAPLAB_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

enum cli_exit {
    EXIT_OK = 0,
    EXIT_FAIL = 1,  /* a run or file failed */
    EXIT_USAGE = 2, /* bad command line */
};

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a usage error with `usage` on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a whole decimal number with an optional k/M/G (x1000) suffix. 0 on success. */
int cli_parse_u64(const char *s, uint64_t *out);

/*
 * Split comma-separated `arg` and append the pieces to list[*n] (at most cap). The pieces
 * point into a copy that lives until exit. 0, or -1 when there are too many or one is empty.
 */
int cli_split(const char *arg, const char **list, size_t *n, size_t cap);

/* The command line joined with spaces (for results files); static storage. */
const char *cli_command_line(int argc, char **argv);

/* Is `fd` a terminal? */
int cli_isatty(int fd);

int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_race(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_worker(int argc, char **argv);

#endif
