/*
 * cli/main.c: `heaplab COMMAND ...`. Usage errors exit 2, failures 1; --help and --version
 * print to stdout and exit 0.
 */
#include <stdio.h>
#include <string.h>

#include "cli/build_info.h"
#include "cli/cli.h"

static const char usage_text[] =
        "usage: heaplab COMMAND [OPTIONS]\n"
        "\n"
        "Compare memory allocators on deterministic workloads and real programs.\n"
        "\n"
        "commands:\n"
        "  bench   run workloads under each allocator and report throughput, latency,\n"
        "          peak RSS and fragmentation\n"
        "  run     run a program under each allocator: wall, CPU, peak RSS, page faults\n"
        "  race    race the lab's teaching allocators in lockstep on one workload\n"
        "  replay  replay a recorded malloc trace under each allocator\n"
        "  record  run a program and record its malloc calls into a trace\n"
        "  trace   inspect a recorded trace ('trace info FILE', 'trace dump FILE')\n"
        "  list    list workloads and allocators ('list workloads', 'list allocators',\n"
        "          'list lab')\n"
        "\n"
        "Run 'heaplab COMMAND --help' for a command's options.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("heaplab %s\ncommit %s\ncompiler %s\n", HEAPLAB_VERSION, HEAPLAB_COMMIT,
               HEAPLAB_COMPILER);
        return EXIT_OK;
    }
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "race") == 0) return cmd_race(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0) return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "record") == 0) return cmd_record(argc - 1, argv + 1);
    if (strcmp(cmd, "trace") == 0) return cmd_trace(argc - 1, argv + 1);
    if (strcmp(cmd, "__worker") == 0) return cmd_worker(argc - 1, argv + 1);
    cli_error("unknown command \"%s\"", cmd);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
