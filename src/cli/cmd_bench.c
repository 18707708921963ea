/*
 * cli/cmd_bench.c: `heaplab bench`: the workload x allocator x threads matrix.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "replay/replay.h"
#include "trace/trace.h"
#include "util/diag.h"
#include "workload/workload.h"

static const char bench_usage[] =
        "usage: heaplab bench [--workload LIST] [--allocator LIST] [--threads LIST] [--ops N]\n"
        "                     [--seed S] [--repeat R] [--pin CPUS] [--json FILE] [--csv FILE]\n"
        "                     [--timeout SEC] [--no-latency] [--quiet] [--trace FILE]\n";

static const char bench_help[] =
        "\n"
        "Run each workload under each allocator (each run a fresh process with the allocator\n"
        "preloaded), repeated, allocators interleaved within each repetition, and print the\n"
        "medians with their relative spread.\n"
        "\n"
        "options:\n"
        "  -w, --workload LIST   comma-separated workloads (default: all, or none when --trace\n"
        "                        is given; see 'heaplab list workloads'); repeatable;\n"
        "                        --profile is an alias\n"
        "      --trace FILE      a malloc trace ('heaplab record') as one more workload,\n"
        "                        replayed on the threads it recorded; repeatable\n"
        "      --strict          a damaged --trace FILE is an error (else a warning)\n"
        "  -a, --allocator LIST  glibc, jemalloc, tcmalloc, mimalloc, hlmalloc,\n"
        "                        NAME=/path/lib.so, or lab:NAME for a lab allocator run\n"
        "                        in-process (1 thread; lab:vt-glibc is glibc behind the same\n"
        "                        indirection) (default: every built-in one)\n"
        "  -t, --threads LIST    thread counts, e.g. 1,2 (default: 1)\n"
        "  -n, --ops N           operations per thread (default: each workload's own;\n"
        "                        k/M/G suffixes)\n"
        "  -s, --seed S          seed of the operation streams (default: 1)\n"
        "  -r, --repeat R        repetitions (default: 5)\n"
        "      --pin CPUS        pin worker threads round-robin to these CPUs, e.g. 0 or 0,1\n"
        "      --json FILE       write all results (schema heaplab.results/1)\n"
        "      --csv FILE        write one row per run\n"
        "      --timeout SEC     kill a worker after SEC seconds (default: 120)\n"
        "      --no-latency      skip the latency pass (throughput and memory only)\n"
        "  -q, --quiet           no table on stdout (with --json or --csv)\n"
        "  -h, --help            this help\n";

/* Parse "0,1,3" into ints. */
static int parse_cpus(const char *arg, int *cpus, int *n)
{
    const char *items[64];
    size_t k = 0;
    if (cli_split(arg, items, &k, 64) != 0) return -1;
    for (size_t i = 0; i < k; i++) {
        uint64_t v;
        if (cli_parse_u64(items[i], &v) != 0 || v > 1023) return -1;
        cpus[i] = (int)v;
    }
    *n = (int)k;
    return 0;
}

/*
 * Each trace as a workload named "trace:<absolute path>" (cfg->workloads has room for 256),
 * run on the threads it recorded. Every trace is read before anything runs: one that cannot
 * be read, or holds nothing to replay, is an error; a damaged one is replayed as far as it
 * can be read, with trace info's line as a warning (as an error when `strict`). EXIT_OK, or
 * the exit status once the reason is printed.
 */
static int add_traces(struct bench_config *cfg, const char *const *traces, size_t n, int strict)
{
    static char names[64][4096 + 8];
    for (size_t i = 0; i < n && i < 64; i++) {
        char abs[4096], damage[256];
        unsigned th;
        struct trace_status st;
        struct diag d = { { 0 } };
        if (replay_threads(traces[i], &th, &st, &d) != 0) {
            cli_error("%s", d.msg);
            return EXIT_FAIL;
        }
        trace_damage_format(&st, damage, sizeof(damage));
        if (*damage && strict) {
            cli_error("%s: %s", traces[i], damage);
            return EXIT_FAIL;
        }
        if (*damage) cli_warn("%s: %s", traces[i], damage);
        if (!realpath(traces[i], abs) || cfg->n_workloads >= 256) {
            cli_error("%s: cannot resolve the path", traces[i]);
            return EXIT_FAIL;
        }
        snprintf(names[i], sizeof(names[i]), "%s%s", BENCH_TRACE_PREFIX, abs);
        cfg->fixed_threads[cfg->n_workloads] = th;
        cfg->workloads[cfg->n_workloads++] = names[i];
    }
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "workload", required_argument, NULL, 'w' },
        { "profile", required_argument, NULL, 'w' },
        { "allocator", required_argument, NULL, 'a' },
        { "threads", required_argument, NULL, 't' },
        { "ops", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 's' },
        { "repeat", required_argument, NULL, 'r' },
        { "pin", required_argument, NULL, 'P' },
        { "json", required_argument, NULL, 'J' },
        { "csv", required_argument, NULL, 'C' },
        { "timeout", required_argument, NULL, 'T' },
        { "no-latency", no_argument, NULL, 'L' },
        { "quiet", no_argument, NULL, 'q' },
        { "trace", required_argument, NULL, 'X' },
        { "strict", no_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct bench_config cfg;
    static const char *workloads[256];
    static unsigned fixed_threads[256];
    const char *traces[64];
    size_t n_traces = 0;
    const char *alloc_items[ALLOC_MAX];
    size_t n_alloc_items = 0;
    const char *json_path = NULL, *csv_path = NULL;
    int quiet = 0, strict = 0;
    memset(&cfg, 0, sizeof(cfg));
    cfg.workloads = workloads;
    cfg.seed = 1;
    cfg.repeat = 5;
    cfg.timeout_s = 120;
    cfg.latency = 1;

    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "+w:a:t:n:s:r:qh", longopts, NULL)) != -1) {
        uint64_t v;
        switch (ch) {
        case 'w':
            if (cli_split(optarg, workloads, &cfg.n_workloads, 256) != 0)
                return cli_usage_error(bench_usage, "bad workload list \"%s\"", optarg);
            break;
        case 'a':
            if (cli_split(optarg, alloc_items, &n_alloc_items, ALLOC_MAX) != 0)
                return cli_usage_error(bench_usage, "bad allocator list \"%s\"", optarg);
            break;
        case 't': {
            const char *items[16];
            size_t k = 0;
            if (cli_split(optarg, items, &k, 16) != 0)
                return cli_usage_error(bench_usage, "bad thread list \"%s\"", optarg);
            for (size_t i = 0; i < k; i++) {
                if (cli_parse_u64(items[i], &v) != 0 || v == 0 || v > WL_MAX_THREADS)
                    return cli_usage_error(bench_usage, "bad thread count \"%s\" (1..64)",
                                           items[i]);
                if (cfg.n_threads >= 16)
                    return cli_usage_error(bench_usage, "too many thread counts in \"%s\"", optarg);
                cfg.threads[cfg.n_threads++] = (unsigned)v;
            }
            break;
        }
        case 'n':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 1000000000u)
                return cli_usage_error(bench_usage, "bad --ops \"%s\" (1..1G)", optarg);
            cfg.ops = v;
            break;
        case 's':
            if (cli_parse_u64(optarg, &v) != 0)
                return cli_usage_error(bench_usage, "bad --seed \"%s\"", optarg);
            cfg.seed = v;
            break;
        case 'r':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 100)
                return cli_usage_error(bench_usage, "bad --repeat \"%s\" (1..100)", optarg);
            cfg.repeat = (unsigned)v;
            break;
        case 'P':
            if (parse_cpus(optarg, cfg.pin_cpus, &cfg.pin_count) != 0)
                return cli_usage_error(bench_usage,
                                       "bad --pin \"%s\" (CPU numbers, comma-separated)", optarg);
            break;
        case 'J':
            json_path = optarg;
            break;
        case 'C':
            csv_path = optarg;
            break;
        case 'T':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 86400)
                return cli_usage_error(bench_usage, "bad --timeout \"%s\"", optarg);
            cfg.timeout_s = (unsigned)v;
            break;
        case 'L':
            cfg.latency = 0;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'X':
            if (n_traces >= 64) return cli_usage_error(bench_usage, "too many --trace files");
            traces[n_traces++] = optarg;
            break;
        case 'S':
            strict = 1;
            break;
        case 'h':
            fputs(bench_usage, stdout);
            fputs(bench_help, stdout);
            return EXIT_OK;
        default:
            if (optopt && strchr("watnsr", optopt))
                return cli_usage_error(bench_usage, "option -%s needs a value",
                                       (char[]){ (char)optopt, 0 });
            return cli_usage_error(bench_usage, "unknown or incomplete option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(bench_usage, "unexpected argument \"%s\"", argv[optind]);

    /* Workloads: validate every name before running anything. */
    if (cfg.n_workloads == 0 && n_traces == 0)
        for (size_t i = 0; i < workload_count; i++)
            workloads[cfg.n_workloads++] = workload_list[i]->name;
    size_t n_named = cfg.n_workloads;
    cfg.fixed_threads = fixed_threads;
    int status = add_traces(&cfg, traces, n_traces, strict);
    if (status != EXIT_OK) return status;
    for (size_t i = 0; i < n_named; i++) {
        if (!workload_find(workloads[i])) {
            cli_error("unknown workload \"%s\" (try 'heaplab list workloads')", workloads[i]);
            fputs(bench_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (cfg.n_threads == 0) cfg.threads[cfg.n_threads++] = 1;

    /* Allocators: named ones, or every built-in (hlmalloc only once built). */
    struct diag d = { { 0 } };
    if (n_alloc_items == 0) {
        struct allocator all[ALLOC_MAX];
        size_t n = allocator_builtins(all, ALLOC_MAX);
        for (size_t i = 0; i < n; i++)
            if (all[i].found || strcmp(all[i].name, "hlmalloc") != 0)
                cfg.allocs[cfg.n_allocs++] = all[i];
    } else {
        for (size_t i = 0; i < n_alloc_items; i++) {
            if (allocator_parse(alloc_items[i], &cfg.allocs[cfg.n_allocs], &d) != 0) {
                cli_error("%s", d.msg);
                fputs(bench_usage, stderr);
                return EXIT_USAGE;
            }
            for (size_t k = 0; k < cfg.n_allocs; k++) {
                if (strcmp(cfg.allocs[k].name, cfg.allocs[cfg.n_allocs].name) == 0)
                    return cli_usage_error(bench_usage, "allocator \"%s\" named twice",
                                           alloc_items[i]);
            }
            cfg.n_allocs++;
        }
    }
    for (size_t i = 0; i < cfg.n_allocs; i++)
        if (!cfg.allocs[i].found) cli_warn("%s: %s", cfg.allocs[i].name, cfg.allocs[i].note);

    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        cli_error("cannot find my own executable (/proc/self/exe)");
        return EXIT_FAIL;
    }
    self[len] = 0;
    cfg.self_exe = self;
    cfg.progress = cli_isatty(2);

    struct bench_results res;
    if (bench_run(&cfg, &res, &d) != 0) {
        cli_error("%s", d.msg);
        bench_results_free(&res);
        return EXIT_FAIL;
    }
    if (!quiet) report_table(&cfg, &res, stdout, cli_isatty(1));
    fflush(stdout);

    int rc = EXIT_OK;
    if (json_path) {
        cJSON *doc = report_json(&cfg, &res, cli_legacy_command_line);
        if (!doc || report_write_json(doc, json_path, &d) != 0) {
            cli_error("cannot write results: %s", doc ? d.msg : "out of memory");
            rc = EXIT_FAIL;
        }
        cJSON_Delete(doc);
    }
    if (csv_path && report_csv(&cfg, &res, csv_path, &d) != 0) {
        cli_error("cannot write results: %s", d.msg);
        rc = EXIT_FAIL;
    }
    /* A run where nothing at all succeeded is a failure. */
    int any_ok = 0;
    for (size_t i = 0; i < res.n_cells; i++)
        any_ok |= res.cells[i].n_ok > 0;
    if (!any_ok) {
        cli_error("no run succeeded");
        rc = EXIT_FAIL;
    }
    bench_results_free(&res);
    return rc;
}
