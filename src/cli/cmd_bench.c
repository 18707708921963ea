/*
 * cli/cmd_bench.c: `heaplab bench`: the workload x allocator x threads matrix, each run a
 * fresh worker process with the allocator preloaded. Also the steps `heaplab replay`
 * shares (cmd_bench.h): parse -> validate -> run -> output.
 */
#include "cli/cmd_bench.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "cli/cmd_report.h"
#include "replay/replay.h"
#include "report/report.h"
#include "trace/trace.h"
#include "util/clock.h"
#include "util/diag.h"
#include "workload/workload.h"

enum {
    OPT_TRACE = 256,
    OPT_PIN,
    OPT_JSON,
    OPT_CSV,
    OPT_REPORT,
    OPT_TIMEOUT,
    OPT_NO_LATENCY,
    OPT_STRICT,
    OPT_HEAPMAP,
    OPT_ALLOC_STATS,
    OPT_OS_CALLS,
    OPT_HEAPMAP_EVERY,
    OPT_INSIDE_MARK
};

static const char *const workload_aliases[] = { "profile", NULL };

const struct cli_opt cmd_bench_opts[] = {
    { .key = 'w',
      .short_name = 'w',
      .name = "workload",
      .arg = "LIST",
      .help = "comma-separated workloads (default: all, or none when --trace\n"
              "is given; see 'heaplab list workloads'); repeatable;\n"
              "--profile is an alias",
      .aliases = workload_aliases },
    { .key = OPT_TRACE,
      .name = "trace",
      .arg = "FILE",
      .help = "a malloc trace ('heaplab record') as one more workload,\n"
              "replayed on the threads it recorded; repeatable" },
    { .key = 't',
      .short_name = 't',
      .name = "threads",
      .arg = "LIST",
      .help = "thread counts, 1..64, e.g. 1,2, or sweep: 1, 2, 4, ... up to\n"
              "twice the cores, and the cores; sweep,3 adds 3 (default: 1)" },
    { .key = 'n',
      .short_name = 'n',
      .name = "ops",
      .arg = "N",
      .help = "operations per thread, 1..1G (default: each workload's own)" },
    { .key = 's',
      .short_name = 's',
      .name = "seed",
      .arg = "S",
      .help = "seed of the operation streams (default: 1)" },
    /* replay's options start here (CMD_BENCH_WORKLOAD_OPTS) */
    { .key = 'a',
      .short_name = 'a',
      .name = "allocator",
      .arg = "LIST",
      .help = "glibc, jemalloc, tcmalloc, mimalloc, hlmalloc,\n"
              "NAME=/path/lib.so, or lab:NAME for a lab allocator run\n"
              "in-process (1 thread; lab:vt-glibc is glibc behind the same\n"
              "indirection) (default: every built-in one)" },
    { .key = 'r',
      .short_name = 'r',
      .name = "repeat",
      .arg = "R",
      .help = "repetitions, 1..100, allocators interleaved within each\n(default: 5)" },
    { .key = OPT_PIN,
      .name = "pin",
      .arg = "CPUS",
      .help = "pin worker thread i to CPUS[i mod n], e.g. 0 or 0,1" },
    { .key = OPT_JSON,
      .name = "json",
      .arg = "FILE",
      .help = "write all results (schema heaplab.results/2)" },
    { .key = OPT_CSV, .name = "csv", .arg = "FILE", .help = "write one row per run" },
    { .key = OPT_REPORT,
      .name = "report",
      .arg = "FILE",
      .help = "write the HTML report of the results ('heaplab report')" },
    { .key = OPT_TIMEOUT,
      .name = "timeout",
      .arg = "SEC",
      .help = "kill a worker after SEC seconds, 1..86400 (default: 120)" },
    { .key = OPT_NO_LATENCY,
      .name = "no-latency",
      .help = "skip the latency pass (throughput and memory only)" },
    { .key = 'q',
      .short_name = 'q',
      .name = "quiet",
      .help = "no tables on stdout (with --json or --csv)" },
    { .key = OPT_STRICT,
      .name = "strict",
      .help = "a damaged trace is an error (else replayed as far as it\ncan be read, with a "
              "warning)" },
    { .key = OPT_HEAPMAP,
      .name = "heapmap",
      .help = "heap maps of each allocator: its pages, resident or not, and\n"
              "the live bytes on each, at each mark and over time (an untimed\n"
              "pass in a worker of its own; docs/inside.md)" },
    { .key = OPT_ALLOC_STATS,
      .name = "alloc-stats",
      .help = "each allocator's own statistics, in one vocabulary, at the\n"
              "same points (the same untimed pass)" },
    { .key = OPT_OS_CALLS,
      .name = "os-calls",
      .help = "count the pass's mmap, munmap, mremap, madvise, brk, futex\n"
              "and mprotect calls and the time in them (a traced worker)" },
    { .key = OPT_HEAPMAP_EVERY,
      .name = "heapmap-every",
      .arg = "N",
      .help = "with --heapmap or --alloc-stats: also a snapshot every N ops\n"
              "of thread 0 (default: 8 over its stream)" },
    { .key = OPT_INSIDE_MARK,
      .name = "inside-mark",
      .arg = "LABEL",
      .help = "the snapshot the heap map and statistics tables show: a\n"
              "mark's label, \"peak-live\" or \"end\", or LABEL@OPS, the one\n"
              "taken at OPS of thread 0's ops (\"every@80000\") (default: end)" },
    { 0 },
};

static int run_bench(int argc, char **argv, const struct cli_ctx *ctx);

const struct cli_command cli_cmd_bench = {
    .name = "bench",
    .summary = "run workloads under each allocator: throughput, latency, peak RSS, fragmentation",
    .about = "Run each workload under each allocator (each run a fresh process with the\n"
             "allocator preloaded), repeated, allocators interleaved within each repetition,\n"
             "and print the medians with their relative spread.",
    .opts = cmd_bench_opts,
    .run = run_bench,
};

static void args_init(struct cmd_bench_args *a)
{
    memset(a, 0, sizeof *a);
    a->cfg.workloads = a->workloads;
    a->cfg.fixed_threads = a->fixed_threads;
    a->cfg.seed = 1;
    a->cfg.repeat = 5;
    a->cfg.timeout_s = 120;
    a->cfg.latency = 1;
}

#define THREADS_HELP "thread counts, 1..64, and \"sweep\""

/* Add `t` to the thread counts unless it is there; 0, or -1 when they are full. */
static int add_threads(struct bench_config *cfg, unsigned t)
{
    for (size_t k = 0; k < cfg->n_threads; k++)
        if (cfg->threads[k] == t) return 0;
    if (cfg->n_threads >= sizeof cfg->threads / sizeof cfg->threads[0]) return -1;
    cfg->threads[cfg->n_threads++] = t;
    return 0;
}

static int cmp_unsigned(const void *x, const void *y)
{
    unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;
    return (a > b) - (a < b);
}

/*
 * The sweep: 1, 2, 4, ... up to twice the online cores, and the cores and twice the cores
 * themselves (6 cores: 1 2 4 6 8 12), at most WL_MAX_THREADS: where a curve bends, at the
 * cores and past them, is in it. 0, or -1 when the thread counts are full.
 */
static int add_sweep(struct bench_config *cfg)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cores = online > 0 && online < WL_MAX_THREADS ? (unsigned)online : 1;
    if (online >= WL_MAX_THREADS) cores = WL_MAX_THREADS;
    unsigned top = cores * 2 < WL_MAX_THREADS ? cores * 2 : WL_MAX_THREADS;
    for (unsigned t = 1; t <= top; t *= 2)
        if (add_threads(cfg, t) != 0) return -1;
    if (add_threads(cfg, cores) != 0) return -1;
    return add_threads(cfg, top);
}

/*
 * --threads LIST: each a count in 1..WL_MAX_THREADS, or "sweep" (add_sweep), sorted when a
 * sweep is in. A count named twice is a usage error; one that the sweep also has is not.
 * 0, or non-zero after a usage error.
 */
static int parse_threads(struct cmd_bench_args *a, const struct cli_parser *p)
{
    const char *items[16];
    size_t n = 0;
    if (cli_split(p->value, items, &n, 16) != 0) return cli_bad_value(p, THREADS_HELP);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (strcmp(items[i], "sweep") == 0) {
            if (a->threads_sweep) return cli_usage(p->cmd, "thread count \"sweep\" named twice");
            a->threads_sweep = 1;
            if (add_sweep(&a->cfg) != 0) return cli_bad_value(p, "too many thread counts");
            continue;
        }
        if (cli_parse_count(items[i], &v) != 0 || v == 0 || v > WL_MAX_THREADS)
            return cli_bad_value(p, THREADS_HELP);
        if (a->threads_named >> (v - 1) & 1)
            return cli_usage(p->cmd, "thread count %u named twice", (unsigned)v);
        a->threads_named |= (uint64_t)1 << (v - 1);
        if (add_threads(&a->cfg, (unsigned)v) != 0)
            return cli_bad_value(p, "too many thread counts");
    }
    if (a->threads_sweep)
        qsort(a->cfg.threads, a->cfg.n_threads, sizeof a->cfg.threads[0], cmp_unsigned);
    return 0;
}

/* --pin CPUS: CPU numbers, comma-separated, each one this process may run on. */
static int parse_pin(struct cmd_bench_args *a, const struct cli_parser *p)
{
    const char *items[64];
    size_t n = 0;
    if (cli_split(p->value, items, &n, 64) != 0)
        return cli_bad_value(p, "CPU numbers, comma-separated");
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (cli_parse_count(items[i], &v) != 0 || v > 1023)
            return cli_bad_value(p, "CPU numbers, comma-separated");
        if (!proc_cpu_allowed((int)v)) {
            char allowed[256], why[sizeof allowed + 64];
            proc_allowed_cpus(allowed, sizeof allowed);
            snprintf(why, sizeof why, "CPU %u is not available: this process may run on %s",
                     (unsigned)v, allowed);
            return cli_bad_value(p, why);
        }
        a->cfg.pin_cpus[i] = (int)v;
    }
    a->cfg.pin_count = (int)n;
    return 0;
}

/* One option into `a`: 0, or non-zero after a usage error. */
static int parse_opt(struct cmd_bench_args *a, const struct cli_parser *p, int key)
{
    uint64_t v;
    struct bench_config *cfg = &a->cfg;
    switch (key) {
    case 'w':
        return cli_value_list(p, "workload", a->workloads, &cfg->n_workloads,
                              CMD_BENCH_MAX_WORKLOADS);
    case OPT_TRACE:
        if (a->n_traces >= CMD_BENCH_MAX_TRACES) return cli_bad_value(p, "too many traces");
        a->traces[a->n_traces++] = p->value;
        return 0;
    case 't':
        return parse_threads(a, p);
    case 'n':
        return cli_value_count(p, 1, 1000000000u, &cfg->ops);
    case 's':
        return cli_parse_count(p->value, &cfg->seed) == 0 ? 0 : cli_bad_value(p, NULL);
    case 'a':
        return cli_value_list(p, "allocator", a->alloc_items, &a->n_alloc_items, ALLOC_MAX);
    case 'r':
        if (cli_value_count(p, 1, 100, &v) != 0) return -1;
        cfg->repeat = (unsigned)v;
        return 0;
    case OPT_PIN:
        return parse_pin(a, p);
    case OPT_JSON:
        a->json_path = p->value;
        return 0;
    case OPT_CSV:
        a->csv_path = p->value;
        return 0;
    case OPT_REPORT:
        a->report_path = p->value;
        return 0;
    case OPT_TIMEOUT:
        if (cli_value_count(p, 1, 86400, &v) != 0) return -1;
        cfg->timeout_s = (unsigned)v;
        return 0;
    case OPT_STRICT:
        a->strict = 1;
        return 0;
    case OPT_NO_LATENCY:
        cfg->latency = 0;
        return 0;
    case OPT_HEAPMAP:
        cfg->inside |= EXEC_INSIDE_HEAPMAP;
        return 0;
    case OPT_ALLOC_STATS:
        cfg->inside |= EXEC_INSIDE_STATS;
        return 0;
    case OPT_OS_CALLS:
        cfg->inside |= EXEC_INSIDE_OSCALLS;
        return 0;
    case OPT_HEAPMAP_EVERY:
        return cli_value_count(p, 1, 1000000000000u, &cfg->heapmap_every);
    case OPT_INSIDE_MARK:
        cfg->inside_mark = p->value;
        return 0;
    case 'q':
        a->quiet = 1;
        return 0;
    default:
        return -1;
    }
}

int cmd_bench_parse(struct cmd_bench_args *a, const struct cli_command *c, int argc, char **argv)
{
    args_init(a);
    struct cli_parser p;
    cli_parser_init(&p, c, argc, argv);
    for (;;) {
        int ch;
        while ((ch = cli_next(&p)) > 0)
            if (parse_opt(a, &p, ch) != 0) return EXIT_USAGE;
        if (ch != CLI_DONE) return cli_parse_status(ch);
        if (p.optind >= p.argc) return -1;
        /* An operand: keep it and parse what follows it (getopt stops at the first). */
        if (a->n_operands >= CMD_BENCH_MAX_OPERANDS) return cli_usage(c, "too many arguments");
        a->operands[a->n_operands++] = p.argv[p.optind];
        cli_parser_init(&p, c, p.argc - p.optind, p.argv + p.optind);
    }
}

/* `path` with its directory resolved ("out/../r.json" -> "/home/u/r.json"), into buf. */
static void resolve_parent(const char *path, char *buf, size_t cap)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    if (!realpath(dir, real)) snprintf(real, sizeof real, "%s", dir);
    snprintf(buf, cap, "%s/%s", real, base);
}

/* Do two paths name the same file, existing or not? */
static int same_file(const char *x, const char *y)
{
    struct stat sx, sy;
    if (stat(x, &sx) == 0 && stat(y, &sy) == 0)
        return sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino;
    char rx[2 * PATH_MAX], ry[2 * PATH_MAX];
    resolve_parent(x, rx, sizeof rx);
    resolve_parent(y, ry, sizeof ry);
    return strcmp(rx, ry) == 0;
}

/* A trace named twice would be the same workload twice. */
static int check_traces(const struct cmd_bench_args *a, const struct cli_command *c)
{
    for (size_t i = 0; i < a->n_traces; i++)
        for (size_t k = 0; k < i; k++)
            if (same_file(a->traces[i], a->traces[k]))
                return cli_usage(c, "trace \"%s\" named twice", a->traces[i]);
    return 0;
}

/* Named workloads must exist; with neither --workload nor --trace, all of them run. */
static int check_workloads(struct cmd_bench_args *a, const struct cli_command *c)
{
    struct bench_config *cfg = &a->cfg;
    if (cfg->n_workloads == 0 && a->n_traces == 0)
        for (size_t i = 0; i < workload_count; i++)
            a->workloads[cfg->n_workloads++] = workload_list[i]->name;
    for (size_t i = 0; i < cfg->n_workloads; i++)
        if (!workload_find(a->workloads[i]))
            return cli_usage(c, "unknown workload \"%s\" (try 'heaplab list workloads')",
                             a->workloads[i]);
    if (cfg->n_threads == 0) cfg->threads[cfg->n_threads++] = 1;
    return 0;
}

/* Lab allocators run on one thread: a thread count above 1 would only fail in every worker. */
static int check_lab_threads(const struct cmd_bench_args *a, const struct cli_command *c)
{
    const struct bench_config *cfg = &a->cfg;
    for (size_t i = 0; i < cfg->n_allocs; i++) {
        if (!cfg->allocs[i].lab[0]) continue;
        for (size_t t = 0; t < cfg->n_threads; t++)
            if (cfg->threads[t] > 1)
                return cli_usage(c, "%s is single-threaded: it cannot run --threads %u",
                                 cfg->allocs[i].name, cfg->threads[t]);
    }
    return 0;
}

/* The allocators named, or every built-in one (hlmalloc only once built). */
static int check_allocators(struct cmd_bench_args *a, const struct cli_command *c)
{
    struct bench_config *cfg = &a->cfg;
    struct diag d = { { 0 } };
    if (a->n_alloc_items == 0) {
        struct allocator all[ALLOC_MAX];
        size_t n = allocator_builtins(all, ALLOC_MAX);
        for (size_t i = 0; i < n; i++)
            if (all[i].found || strcmp(all[i].name, "hlmalloc") != 0)
                cfg->allocs[cfg->n_allocs++] = all[i];
        return 0;
    }
    for (size_t i = 0; i < a->n_alloc_items; i++) {
        struct allocator *al = &cfg->allocs[cfg->n_allocs];
        if (allocator_parse(a->alloc_items[i], al, &d) != 0) return cli_usage(c, "%s", d.msg);
        for (size_t k = 0; k < cfg->n_allocs; k++)
            if (strcmp(cfg->allocs[k].name, al->name) == 0)
                return cli_usage(c, "allocator \"%s\" named twice", al->name);
        cfg->n_allocs++;
    }
    return check_lab_threads(a, c);
}

/* --quiet needs a results file; --json, --csv and --report need different ones. */
static int check_outputs(const struct cmd_bench_args *a, const struct cli_command *c)
{
    const char *paths[3] = { a->json_path, a->csv_path, a->report_path };
    static const char *const names[3] = { "--json", "--csv", "--report" };
    if (a->quiet && !a->json_path && !a->csv_path && !a->report_path)
        return cli_usage(c, "--quiet without --json, --csv or --report would report nothing");
    for (int i = 0; i < 3; i++)
        for (int k = i + 1; k < 3; k++)
            if (paths[i] && paths[k] && same_file(paths[i], paths[k]))
                return cli_usage(c, "%s and %s name the same file \"%s\"", names[i], names[k],
                                 paths[k]);
    return 0;
}

/* --heapmap-every and --inside-mark say when to snapshot: without a snapshot pass, nothing. */
static int check_inside(const struct cmd_bench_args *a, const struct cli_command *c)
{
    const struct bench_config *cfg = &a->cfg;
    unsigned snap = cfg->inside & (EXEC_INSIDE_HEAPMAP | EXEC_INSIDE_STATS);
    if (cfg->heapmap_every && !snap)
        return cli_usage(c, "--heapmap-every needs --heapmap or --alloc-stats");
    if (cfg->inside_mark && !snap)
        return cli_usage(c, "--inside-mark needs --heapmap or --alloc-stats");
    return 0;
}

/* Usage errors: everything the command line alone can show to be wrong. */
static int validate(struct cmd_bench_args *a, const struct cli_command *c)
{
    int rc;
    if ((rc = check_outputs(a, c)) != 0) return rc;
    if ((rc = check_inside(a, c)) != 0) return rc;
    if ((rc = check_workloads(a, c)) != 0) return rc;
    if ((rc = check_traces(a, c)) != 0) return rc;
    if ((rc = check_allocators(a, c)) != 0) return rc;
    return 0;
}

/*
 * Each trace becomes a workload "trace:<absolute path>" run on the threads it recorded. Every
 * trace is read before anything runs: one that cannot be read, or holds nothing to replay, is
 * an error; a damaged one is replayed as far as it can be read, with trace info's line as a
 * warning (an error with --strict).
 */
static int add_traces(struct cmd_bench_args *a)
{
    static char names[CMD_BENCH_MAX_TRACES][PATH_MAX + 8];
    struct bench_config *cfg = &a->cfg;
    for (size_t i = 0; i < a->n_traces; i++) {
        char abs[PATH_MAX], damage[256];
        unsigned threads;
        struct trace_status st;
        struct diag d = { { 0 } };
        if (replay_threads(a->traces[i], &threads, &st, &d) != 0) {
            cli_error("%s", d.msg);
            return EXIT_FAIL;
        }
        trace_damage_format(&st, damage, sizeof damage);
        if (*damage && a->strict) {
            cli_error("%s: %s", a->traces[i], damage);
            return EXIT_FAIL;
        }
        if (*damage) cli_warn("%s: %s", a->traces[i], damage);
        if (!realpath(a->traces[i], abs) || cfg->n_workloads >= CMD_BENCH_MAX_WORKLOADS) {
            cli_error("%s: cannot resolve the path", a->traces[i]);
            return EXIT_FAIL;
        }
        snprintf(names[i], sizeof names[i], "%s%s", BENCH_TRACE_PREFIX, abs);
        a->fixed_threads[cfg->n_workloads] = threads;
        a->workloads[cfg->n_workloads++] = names[i];
    }
    return 0;
}

/*
 * Every allocator's library, checked before the run (bench_allocator_check): one that is
 * missing, not an ELF shared object, fails to load or defines no malloc is one line here,
 * stays in the results as missing with the reason, and is not run. EXIT_FAIL if none is left.
 */
static int check_libraries(struct cmd_bench_args *a)
{
    struct bench_config *cfg = &a->cfg;
    size_t usable = 0;
    for (size_t i = 0; i < cfg->n_allocs; i++) {
        struct allocator *al = &cfg->allocs[i];
        struct diag d = { { 0 } };
        if (bench_allocator_check(cfg->self_exe, al, cfg->timeout_s, &d) != 0) {
            al->found = 0;
            snprintf(al->note, sizeof al->note, "%s", d.msg);
        }
        if (al->found)
            usable++;
        else
            cli_warn("%s: %s", al->name, al->note);
    }
    if (usable > 0) return 0;
    cli_error("no allocator left to run");
    return EXIT_FAIL;
}

/*
 * The progress line on stderr (a terminal), once the run has lasted a second, so short runs
 * do not flicker; cleared at the end.
 */
static void show_progress(const struct bench_progress *p, void *arg)
{
    static uint64_t start_ns;
    static int shown;
    char line[512];
    (void)arg;
    if (start_ns == 0) start_ns = clock_ns();
    if (clock_ns() - start_ns < 1000000000u) return;
    if (!p->workload) {
        if (shown) fputs("\r\033[K", stderr);
        return;
    }
    bench_progress_format(line, sizeof line, p);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    shown = 1;
}

/*
 * Failures found before anything is measured: results files that cannot be written,
 * unreadable traces, allocators that cannot run.
 */
static int prepare(struct cmd_bench_args *a)
{
    int rc;
    if (a->json_path && (rc = cli_check_output("--json", a->json_path)) != 0) return rc;
    if (a->csv_path && (rc = cli_check_output("--csv", a->csv_path)) != 0) return rc;
    if (a->report_path && (rc = cli_check_output("--report", a->report_path)) != 0) return rc;
    if ((rc = add_traces(a)) != 0) return rc;
    a->cfg.self_exe = cli_self_exe();
    if (!a->cfg.self_exe) return EXIT_FAIL;
    if ((rc = check_libraries(a)) != 0) return rc;
    if (cli_isatty(2)) a->cfg.progress = show_progress;
    return 0;
}

/*
 * The HTML report of the results just measured: the results document read back through the
 * reader `heaplab report` uses (validated as a file would be), then the same page.
 */
static int write_report(const struct cmd_bench_args *a, const struct bench_results *res,
                        const struct cli_ctx *ctx)
{
    struct results_set s;
    struct diag d = { { 0 } };
    int rc = EXIT_FAIL;
    cJSON *doc = report_json(&a->cfg, res, ctx->command_line);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    results_init(&s);
    /* The document is named as its results file would be, else as the report. */
    const char *name = a->json_path ? a->json_path : a->report_path;
    const char *slash = strrchr(name, '/');
    if (!text) {
        cli_error("cannot write the report: out of memory");
    } else if (results_load_mem(&s, slash ? slash + 1 : name, text, strlen(text), &d) != 0) {
        cli_error("cannot write the report: %s", d.msg);
    } else {
        if (!a->quiet) putchar('\n'); /* after the tables */
        rc = cli_report_write(a->report_path, slash ? slash + 1 : name, &s, NULL, NULL, NULL, NULL,
                              ctx->command_line);
    }
    cJSON_free(text);
    results_free(&s);
    return rc;
}

/* Tables, JSON, CSV and the report; EXIT_FAIL when a file cannot be written or no run
 * succeeded. */
static int output(const struct cmd_bench_args *a, const struct cli_command *c,
                  const struct bench_results *res, const struct cli_ctx *ctx)
{
    struct diag d = { { 0 } };
    int rc = EXIT_OK;
    int color = cli_color(1);
    if (!a->quiet) report_table(&a->cfg, res, stdout, c->name, color);
    fflush(stdout);
    if (a->json_path) {
        cJSON *doc = report_json(&a->cfg, res, ctx->command_line);
        if (!doc || report_write_json(doc, a->json_path, &d) != 0) {
            cli_error("cannot write results: %s", doc ? d.msg : "out of memory");
            rc = EXIT_FAIL;
        }
        cJSON_Delete(doc);
    }
    if (a->csv_path && report_csv(&a->cfg, res, a->csv_path, &d) != 0) {
        cli_error("cannot write results: %s", d.msg);
        rc = EXIT_FAIL;
    }
    int any_ok = 0;
    for (size_t i = 0; i < res->n_cells; i++)
        any_ok |= res->cells[i].n_ok > 0;
    if (a->report_path && any_ok && write_report(a, res, ctx) != EXIT_OK) rc = EXIT_FAIL;
    if (!any_ok) {
        cli_error("no run succeeded");
        rc = EXIT_FAIL;
    }
    return rc;
}

int cmd_bench_execute(struct cmd_bench_args *a, const struct cli_command *c,
                      const struct cli_ctx *ctx)
{
    int rc;
    if ((rc = validate(a, c)) != 0) return rc;
    if ((rc = prepare(a)) != 0) return rc;
    struct bench_results res;
    struct diag d = { { 0 } };
    if (bench_run(&a->cfg, &res, &d) != 0) {
        cli_error("%s", d.msg);
        bench_results_free(&res);
        return EXIT_FAIL;
    }
    rc = output(a, c, &res, ctx);
    bench_results_free(&res);
    return rc;
}

static int run_bench(int argc, char **argv, const struct cli_ctx *ctx)
{
    static struct cmd_bench_args a;
    int rc = cmd_bench_parse(&a, &cli_cmd_bench, argc, argv);
    if (rc >= 0) return rc;
    if (a.n_operands > 0)
        return cli_usage(&cli_cmd_bench, "unexpected argument \"%s\"", a.operands[0]);
    return cmd_bench_execute(&a, &cli_cmd_bench, ctx);
}
