/*
 * cli/main.c: `heaplab COMMAND ...`: the command registry and dispatch. Usage errors exit 2,
 * failures 1; --help, `help CMD` and --version print to stdout and exit 0.
 */
#include <stdio.h>
#include <string.h>

#include "cli/build_info.h"
#include "cli/cli.h"

extern const struct cli_command cli_cmd_bench, cli_cmd_run, cli_cmd_race, cli_cmd_serve,
        cli_cmd_replay, cli_cmd_record, cli_cmd_trace, cli_cmd_compare, cli_cmd_merge,
        cli_cmd_report, cli_cmd_list, cli_cmd_worker;

const struct cli_command *const cli_commands[] = {
    &cli_cmd_bench,
    &cli_cmd_run,
    &cli_cmd_race,
    &cli_cmd_serve,
    &cli_cmd_replay,
    &cli_cmd_record,
    &cli_cmd_trace,
    &cli_cmd_compare,
    &cli_cmd_merge,
    &cli_cmd_report,
    &cli_cmd_list,
    &cli_cmd_worker,
    NULL,
};

const struct cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; cli_commands[i]; i++)
        if (strcmp(cli_commands[i]->name, name) == 0) return cli_commands[i];
    return NULL;
}

static void print_main_usage(FILE *fp)
{
    fputs("usage: heaplab COMMAND [OPTIONS]\n"
          "\n"
          "Compare memory allocators on deterministic workloads and real programs.\n"
          "\n"
          "commands:\n",
          fp);
    for (size_t i = 0; cli_commands[i]; i++)
        if (cli_commands[i]->summary)
            fprintf(fp, "  %-8s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    fputs("\nRun 'heaplab help COMMAND' or 'heaplab COMMAND --help' for a command's options.\n",
          fp);
}

/* `heaplab help [COMMAND]`: the same text as `heaplab COMMAND --help`. */
static int help(int argc, char **argv, const struct cli_ctx *ctx)
{
    if (argc < 2) {
        print_main_usage(stdout);
        return EXIT_OK;
    }
    const struct cli_command *c = cli_find_command(argv[1]);
    if (!c || !c->summary) {
        cli_error("unknown command \"%s\"", argv[1]);
        print_main_usage(stderr);
        return EXIT_USAGE;
    }
    char *args[] = { argv[1], (char *)"--help", NULL };
    return c->run(2, args, ctx);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    static char line[8192];
    snprintf(line, sizeof line, "%s", cli_join(argc, argv));
    struct cli_ctx ctx = { line };
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_main_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) return help(argc - 1, argv + 1, &ctx);
    if (strcmp(cmd, "--version") == 0) {
        printf("heaplab %s\ncommit %s\ncompiler %s\n", HEAPLAB_VERSION, HEAPLAB_COMMIT,
               HEAPLAB_COMPILER);
        return EXIT_OK;
    }
    const struct cli_command *c = cli_find_command(cmd);
    if (!c) {
        cli_error("unknown command \"%s\"", cmd);
        print_main_usage(stderr);
        return EXIT_USAGE;
    }
    /* The worker is a child in its own process group, killed by its parent. */
    if (c->summary) cli_install_signal_handlers();
    return c->run(argc - 1, argv + 1, &ctx);
}
