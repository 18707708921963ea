/*
 * cli/cmd_replay.c: `heaplab replay FILE [OPTIONS]`: a recorded trace replayed under each
 * allocator. It is `heaplab bench --trace FILE` with the trace as the only workload: the same
 * workers, measurements and table/JSON/CSV output.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char replay_usage[] =
        "usage: heaplab replay FILE [--allocator LIST] [--repeat R] [--json FILE] [--csv FILE]\n"
        "                      [--timeout SEC] [--no-latency] [--pin CPUS] [--quiet] [--strict]\n";

static const char replay_help[] =
        "\n"
        "Replay a malloc trace recorded with 'heaplab record' under each allocator, on as many\n"
        "threads as were recorded (a free of a block allocated on another thread waits for that\n"
        "allocation), with the measurements of 'heaplab bench'. Addresses are remapped; frees of\n"
        "addresses the trace never allocated are skipped and counted (the JSON's replay object).\n"
        "\n"
        "options: as for 'heaplab bench' (--allocator, --repeat, --json, --csv, --timeout,\n"
        "--no-latency, --pin, --quiet); lab:NAME allocators replay single-threaded traces.\n"
        "A damaged trace is replayed as far as it can be read, with a warning; --strict\n"
        "makes that an error.\n";

int cmd_replay(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(replay_usage, stdout);
        fputs(replay_help, stdout);
        return EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-')
        return cli_usage_error(replay_usage, "the trace FILE comes first");
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--workload") == 0 || strcmp(argv[i], "-w") == 0
            || strncmp(argv[i], "--workload=", 11) == 0 || strcmp(argv[i], "--threads") == 0
            || strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--ops") == 0
            || strcmp(argv[i], "--seed") == 0)
            return cli_usage_error(replay_usage, "%s does not apply to a replay", argv[i]);
    }
    /* heaplab bench --trace FILE OPTIONS... (cmd_bench reads argv[-1] for the command line
     * it records, so the array starts with the program name). */
    static char *args[256];
    static char prog[] = "heaplab", bench[] = "bench", trace[] = "--trace";
    if (argc + 3 > 256) return cli_usage_error(replay_usage, "too many arguments");
    int n = 0;
    args[n++] = prog;
    args[n++] = bench;
    args[n++] = trace;
    args[n++] = argv[1];
    for (int i = 2; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    return cmd_bench(n - 1, args + 1);
}
