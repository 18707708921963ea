/*
 * cli/cmd_bench.h: what `heaplab bench` (cmd_bench.c) and `heaplab replay` (cmd_replay.c)
 * share. replay is bench with one trace as the only workload: its option table is the tail
 * of bench's (without the workload options), and every step after parsing is the same.
 */
#ifndef HEAPLAB_CLI_CMD_BENCH_H
#define HEAPLAB_CLI_CMD_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"
#include "cli/cli.h"

#define CMD_BENCH_MAX_WORKLOADS 256
#define CMD_BENCH_MAX_TRACES    64
#define CMD_BENCH_MAX_OPERANDS  4

/*
 * bench's options, terminated by an entry with name NULL. The first
 * CMD_BENCH_WORKLOAD_OPTS choose what runs (--workload, --trace, --threads, --ops,
 * --seed); replay's table is the rest.
 */
extern const struct cli_opt cmd_bench_opts[];
#define CMD_BENCH_WORKLOAD_OPTS 5

/* One bench or replay command line, parsed. */
struct cmd_bench_args {
    struct bench_config cfg; /* workloads and fixed_threads point into this struct */
    const char *workloads[CMD_BENCH_MAX_WORKLOADS];
    unsigned fixed_threads[CMD_BENCH_MAX_WORKLOADS];
    const char *traces[CMD_BENCH_MAX_TRACES]; /* --trace files, as given */
    size_t n_traces;
    const char *alloc_items[ALLOC_MAX]; /* --allocator items, as given */
    size_t n_alloc_items;
    const char *operands[CMD_BENCH_MAX_OPERANDS]; /* arguments that are not options */
    size_t n_operands;
    const char *json_path;  /* --json, or NULL */
    const char *csv_path;   /* --csv, or NULL */
    int quiet;              /* --quiet */
    int threads_sweep;      /* --threads named "sweep" */
    uint64_t threads_named; /* bit t-1: thread count t named in --threads (t <= 64) */
    int strict;             /* --strict: a damaged trace is an error */
};

/*
 * Parse `c`'s options (bench's table or replay's) into `a`, which it initializes.
 * Operands may come before, between or after the options. -1 to go on, or the exit
 * status (after --help, or a usage error already printed).
 */
int cmd_bench_parse(struct cmd_bench_args *a, const struct cli_command *c, int argc, char **argv);

/* Validate, run the matrix and write the results: the exit status. */
int cmd_bench_execute(struct cmd_bench_args *a, const struct cli_command *c,
                      const struct cli_ctx *ctx);

#endif
