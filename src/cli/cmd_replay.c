/*
 * cli/cmd_replay.c: `heaplab replay FILE [OPTIONS]`: a recorded trace replayed under each
 * allocator. It is `heaplab bench --trace FILE` with the trace as the only workload: the
 * same options (bench's table without the workload ones), workers, measurements and
 * table/JSON/CSV output (cmd_bench.h).
 */
#include "cli/cli.h"
#include "cli/cmd_bench.h"

static int run_replay(int argc, char **argv, const struct cli_ctx *ctx);

const struct cli_command cli_cmd_replay = {
    .name = "replay",
    .summary = "replay a recorded malloc trace under each allocator",
    .args_before = "FILE",
    .about = "Replay a malloc trace recorded with 'heaplab record' under each allocator, on as\n"
             "many threads as were recorded (a free of a block allocated on another thread\n"
             "waits for that allocation), with the measurements of 'heaplab bench'. Addresses\n"
             "are remapped; frees of addresses the trace never allocated are skipped and\n"
             "counted (the JSON's replay object). lab:NAME allocators replay single-threaded\n"
             "traces only. A damaged trace is replayed as far as it can be read, with a\n"
             "warning; --strict makes that an error.",
    .opts = cmd_bench_opts + CMD_BENCH_WORKLOAD_OPTS,
    .run = run_replay,
};

static int run_replay(int argc, char **argv, const struct cli_ctx *ctx)
{
    static struct cmd_bench_args a;
    int rc = cmd_bench_parse(&a, &cli_cmd_replay, argc, argv);
    if (rc >= 0) return rc;
    if (a.n_operands == 0) return cli_usage(&cli_cmd_replay, "no trace FILE given");
    if (a.n_operands > 1)
        return cli_usage(&cli_cmd_replay, "unexpected argument \"%s\" (one trace FILE)",
                         a.operands[1]);
    a.traces[a.n_traces++] = a.operands[0];
    return cmd_bench_execute(&a, &cli_cmd_replay, ctx);
}
