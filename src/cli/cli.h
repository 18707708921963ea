/*
 * cli/cli.h: what the commands share.
 *
 * A command is a `struct cli_command`: its option table (which drives getopt_long, the
 * usage synopsis, --help and `heaplab help CMD`) and a function run as parse -> validate ->
 * run -> output. Diagnostics are one line on stderr, "heaplab: " prefix, no trailing
 * period; usage errors add the synopsis and exit 2, failures exit 1.
 *
 * Numbers on the command line: counts take SI suffixes (k or K = 1000, M = 10^6,
 * G = 10^9); byte sizes take IEC ones (K = 1024, M = 1024^2, G = 1024^3, T = 1024^4,
 * optionally followed by "B" or "iB": 64K, 64KiB and 64KB are all 65536).
 */
#ifndef HEAPLAB_CLI_CLI_H
#define HEAPLAB_CLI_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_exit {
    EXIT_OK = 0,
    EXIT_FAIL = 1,  /* a run or file failed */
    EXIT_USAGE = 2, /* bad command line */
};

/* ------------------------------------------------------------------------------------- */
/* Option tables                                                                         */

/* One option. `key` is what cli_next() returns: the short letter, or a code >= 256. */
struct cli_opt {
    int key;
    char short_name;            /* 'w' for -w, or 0 */
    const char *name;           /* the long name, without dashes */
    const char *arg;            /* the value's placeholder ("LIST"), or NULL for a flag */
    const char *help;           /* description; '\n' separates lines */
    const char *const *aliases; /* other long names (NULL-terminated), or NULL */
    int hidden;                 /* accepted but not shown (internal options) */
};

struct cli_ctx;

struct cli_command {
    const char *name;           /* "bench", or "trace info" for a subcommand */
    const char *summary;        /* one line for `heaplab --help` */
    const char *args_before;    /* operands before the options in the synopsis ("FILE"), or NULL */
    const char *args_after;     /* operands after them ("-- CMD [ARGS...]"), or NULL */
    const char *about;          /* paragraph after the synopsis in --help, or NULL */
    const struct cli_opt *opts; /* terminated by an entry with name NULL; -h/--help is implied */
    const char *notes;          /* text after the options in --help, or NULL */
    int (*run)(int argc, char **argv, const struct cli_ctx *ctx);
};

/* What main() hands every command. */
struct cli_ctx {
    const char *command_line; /* the whole command line as typed, for results files */
};

#define CLI_MAX_OPTS 48

struct cli_parser {
    const struct cli_command *cmd;
    int argc;
    char **argv;
    int optind;                /* after CLI_DONE: the first operand */
    const char *value;         /* the current option's value */
    const struct cli_opt *opt; /* the current option */
    struct option longopts[CLI_MAX_OPTS];
    char shortopts[2 * CLI_MAX_OPTS + 4];
};

enum { CLI_DONE = 0, CLI_HELP = -1, CLI_BAD = -2 };

void cli_parser_init(struct cli_parser *p, const struct cli_command *c, int argc, char **argv);
/*
 * The next option's key; CLI_DONE at the end (p->optind is the first operand); CLI_HELP
 * once --help has been printed on stdout; CLI_BAD once a usage error has been printed.
 * The usual loop:  while ((ch = cli_next(&p)) > 0) switch (ch) ...
 *                  if (ch != CLI_DONE) return cli_parse_status(ch);
 */
int cli_next(struct cli_parser *p);
static inline int cli_parse_status(int ch)
{
    return ch == CLI_HELP ? EXIT_OK : EXIT_USAGE;
}

/* Print "heaplab: <reason>" and the synopsis on stderr; returns EXIT_USAGE. */
int cli_usage(const struct cli_command *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* A usage error about the current option's value: bad --ops "12x" (1..1G). EXIT_USAGE. */
int cli_bad_value(const struct cli_parser *p, const char *why);
/* The current value as a count / byte size in [lo, hi]; 0, or -1 after a usage error. */
int cli_value_count(const struct cli_parser *p, uint64_t lo, uint64_t hi, uint64_t *out);
int cli_value_bytes(const struct cli_parser *p, uint64_t lo, uint64_t hi, uint64_t *out);
/* The current value as a decimal number in [lo, hi]; 0, or -1 after a usage error. */
int cli_value_number(const struct cli_parser *p, double lo, double hi, double *out);
/* Append the current comma-separated value to list[*n]; empty items and a name already in
 * the list (`what` "workload" -> workload "x" named twice) are usage errors (-1). */
int cli_value_list(const struct cli_parser *p, const char *what, const char **list, size_t *n,
                   size_t cap);

void cli_print_usage(const struct cli_command *c, FILE *fp);
void cli_print_help(const struct cli_command *c, FILE *fp);

/* Every command, in the order `heaplab --help` lists them (hidden ones excluded). */
extern const struct cli_command *const cli_commands[];
const struct cli_command *cli_find_command(const char *name);

/* ------------------------------------------------------------------------------------- */
/* Shared helpers                                                                        */

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A whole decimal count with an optional SI suffix. 0 on success. */
int cli_parse_count(const char *s, uint64_t *out);
/* A whole decimal byte size with an optional IEC suffix. 0 on success. */
int cli_parse_bytes(const char *s, uint64_t *out);
/* "1..1G" (counts) or "64K..1G" (bytes) into buf. */
void cli_format_range(char *buf, size_t cap, uint64_t lo, uint64_t hi, int bytes);

/*
 * Split comma-separated `arg` and append the pieces to list[*n] (at most cap). The pieces
 * point into a copy that lives until exit. 0, or -1 when there are too many or one is empty.
 */
int cli_split(const char *arg, const char **list, size_t *n, size_t cap);

/*
 * Check, before anything is measured, that results can be written to `path` (given with
 * option `opt`, e.g. "--json"): its directory exists and takes a new file, and an existing
 * file is a writable regular file or a device/FIFO. 0, or EXIT_FAIL after one line
 * "heaplab: PATH: reason".
 */
int cli_check_output(const char *opt, const char *path);

/* This executable's path and directory (from /proc/self/exe); NULL after an error line. */
const char *cli_self_exe(void);
const char *cli_self_dir(void);

/* argv[0..argc) joined with spaces (a program's command line); static storage, reused. */
const char *cli_join(int argc, char **argv);

/* Is `fd` a terminal? */
int cli_isatty(int fd);
/* Colour on `fd`: a terminal and NO_COLOR unset or empty (no-color.org). The best value
 * of a table row is green in colour, else marked '*'. */
int cli_color(int fd);

/* Install the SIGINT/SIGTERM/SIGHUP handler: kill and reap every child process group,
 * remove temporary files (util/cleanup.h), exit 128 + signal. */
void cli_install_signal_handlers(void);

#endif
