/*
 * cli/cmd_worker.c: `heaplab __worker`, the measuring process that `bench` spawns with the
 * allocator preloaded. Not for people: its stdout is one JSON object, its errors one line on
 * stderr. Exit 0 ok, 1 failure, 2 usage, 3 the preload did not take effect.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "replay/replay.h"
#include "trace/trace.h"
#include "util/diag.h"
#include "workload/workload.h"

#define EXIT_PRELOAD 3

enum {
    OPT_REP = 256,
    OPT_EXPECT,
    OPT_PIN,
    OPT_NO_LATENCY,
    OPT_PROBE,
    OPT_LAB,
    OPT_INSIDE,
    OPT_HEAPMAP_EVERY,
    OPT_PAGEMAP,
    OPT_STREAM_FD
};

static const struct cli_opt worker_opts[] = {
    { .key = 'w', .name = "workload", .arg = "NAME", .help = "a workload, or trace:PATH" },
    { .key = 't', .name = "threads", .arg = "N", .help = "threads, 1..64 (default: 1)" },
    { .key = 'n', .name = "ops", .arg = "N", .help = "ops per thread (default: the workload's)" },
    { .key = 's', .name = "seed", .arg = "S", .help = "seed of the stream (default: 1)" },
    { .key = OPT_REP, .name = "rep", .arg = "R", .help = "repetition index (informational)" },
    { .key = OPT_EXPECT,
      .name = "expect",
      .arg = "LIB",
      .help = "the library malloc must come from, or libc (required)" },
    { .key = OPT_PIN, .name = "pin", .arg = "CPUS", .help = "pin thread i to CPUS[i mod n]" },
    { .key = OPT_NO_LATENCY, .name = "no-latency", .help = "skip the latency pass" },
    { .key = OPT_PROBE, .name = "probe", .help = "only prove the preload and report the version" },
    { .key = OPT_LAB, .name = "lab", .arg = "NAME", .help = "run through this lab allocator" },
    { .key = OPT_INSIDE,
      .name = "inside",
      .arg = "LIST",
      .help = "instead of the timed passes: heapmap,stats (one pass) or os-calls" },
    { .key = OPT_HEAPMAP_EVERY,
      .name = "heapmap-every",
      .arg = "N",
      .help = "snapshot every N ops of thread 0 (default: 8 over the stream)" },
    { .key = OPT_PAGEMAP,
      .name = "pagemap",
      .arg = "PATH",
      .help = "read this file as the pagemap (tests)",
      .hidden = 1 },
    { .key = OPT_STREAM_FD,
      .name = "stream-fd",
      .arg = "FD",
      .help = "with --inside heapmap: also write each map to FD as it is taken (serve)",
      .hidden = 1 },
    { 0 },
};

static int run_worker(int argc, char **argv, const struct cli_ctx *ctx);

const struct cli_command cli_cmd_worker = {
    .name = "__worker",
    .about = "The measuring process 'heaplab bench' starts with the allocator preloaded: it\n"
             "proves the preload, runs one stream and prints one JSON object.",
    .opts = worker_opts,
    .run = run_worker,
};

struct worker_args {
    const char *workload, *expect, *lab;
    uint64_t threads, ops, seed, rep;
    int latency, probe;
    struct exec_opts exec;
    int is_trace;
    const struct workload *w;
};

static int parse_pin(struct worker_args *a, const struct cli_parser *p)
{
    const char *items[64];
    size_t n = 0;
    if (cli_split(p->value, items, &n, 64) != 0) return cli_bad_value(p, NULL);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (cli_parse_count(items[i], &v) != 0 || v > 1023) return cli_bad_value(p, NULL);
        a->exec.pin_cpus[a->exec.pin_count++] = (int)v;
    }
    return 0;
}

/* --inside LIST: heapmap and stats share a pass; os-calls is a pass of its own. */
static int parse_inside(struct worker_args *a, const struct cli_parser *p)
{
    const char *items[8];
    size_t n = 0;
    if (cli_split(p->value, items, &n, 8) != 0) return cli_bad_value(p, NULL);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i], "heapmap") == 0)
            a->exec.inside |= EXEC_INSIDE_HEAPMAP;
        else if (strcmp(items[i], "stats") == 0)
            a->exec.inside |= EXEC_INSIDE_STATS;
        else if (strcmp(items[i], "os-calls") == 0)
            a->exec.inside |= EXEC_INSIDE_OSCALLS;
        else
            return cli_bad_value(p, "heapmap, stats or os-calls");
    }
    if ((a->exec.inside & EXEC_INSIDE_OSCALLS) && a->exec.inside != EXEC_INSIDE_OSCALLS)
        return cli_bad_value(p, "os-calls is a pass of its own");
    return 0;
}

/* One option into `a`: 0, or non-zero after a usage error. */
static int parse_opt(struct worker_args *a, const struct cli_parser *p, int key)
{
    switch (key) {
    case 'w':
        a->workload = p->value;
        return 0;
    case 't':
        return cli_value_count(p, 1, WL_MAX_THREADS, &a->threads);
    case 'n':
        return cli_value_count(p, 0, 1000000000u, &a->ops);
    case 's':
        return cli_parse_count(p->value, &a->seed) == 0 ? 0 : cli_bad_value(p, NULL);
    case OPT_REP:
        return cli_parse_count(p->value, &a->rep) == 0 ? 0 : cli_bad_value(p, NULL);
    case OPT_EXPECT:
        a->expect = p->value;
        return 0;
    case OPT_PIN:
        return parse_pin(a, p);
    case OPT_NO_LATENCY:
        a->latency = 0;
        return 0;
    case OPT_PROBE:
        a->probe = 1;
        return 0;
    case OPT_LAB:
        a->lab = p->value;
        return 0;
    case OPT_INSIDE:
        return parse_inside(a, p);
    case OPT_HEAPMAP_EVERY:
        return cli_value_count(p, 1, UINT64_MAX / 2, &a->exec.heapmap_every);
    case OPT_PAGEMAP:
        a->exec.pagemap_path = p->value;
        return 0;
    case OPT_STREAM_FD: {
        uint64_t fd;
        if (cli_value_count(p, 3, 1023, &fd) != 0) return EXIT_USAGE;
        a->exec.stream_fd = (int)fd;
        return 0;
    }
    default:
        return -1;
    }
}

/* -1 to go on, or the exit status. */
static int parse(struct worker_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->threads = 1;
    a->seed = 1;
    a->latency = 1;
    struct cli_parser p;
    cli_parser_init(&p, &cli_cmd_worker, argc, argv);
    int ch;
    while ((ch = cli_next(&p)) > 0)
        if (parse_opt(a, &p, ch) != 0) return EXIT_USAGE;
    if (ch != CLI_DONE) return cli_parse_status(ch);
    if (p.optind < argc)
        return cli_usage(&cli_cmd_worker, "unexpected argument \"%s\"", argv[p.optind]);
    return -1;
}

static int validate(struct worker_args *a)
{
    if (!a->expect || (!a->probe && !a->workload))
        return cli_usage(&cli_cmd_worker, "--expect and --workload are required");
    if (a->probe) return 0;
    a->is_trace = strncmp(a->workload, BENCH_TRACE_PREFIX, strlen(BENCH_TRACE_PREFIX)) == 0;
    a->w = a->is_trace ? NULL : workload_find(a->workload);
    if (!a->w && !a->is_trace)
        return cli_usage(&cli_cmd_worker, "unknown workload \"%s\"", a->workload);
    a->exec.latency = a->latency;
    a->exec.sample_stride = 16;
    a->exec.sample_ms = 10;
    if (a->lab) {
        a->exec.lab = bench_lab_find(a->lab);
        if (!a->exec.lab) return cli_usage(&cli_cmd_worker, "unknown lab allocator \"%s\"", a->lab);
        if (a->threads > 1) {
            cli_error("lab allocators are single-threaded: run lab:%s with --threads 1", a->lab);
            return EXIT_FAIL;
        }
    }
    return 0;
}

/* Prove the preload: the malloc in use must come from the expected library; if not, why. */
static int prove_preload(const struct worker_args *a, struct alloc_identity *id)
{
    allocator_identify(id);
    struct allocator want;
    memset(&want, 0, sizeof(want));
    if (strcmp(a->expect, "libc") != 0) snprintf(want.path, sizeof(want.path), "%s", a->expect);
    if (allocator_matches(&want, id->provider)) return 0;
    struct diag d = { { 0 } };
    if (want.path[0] && allocator_diagnose(want.path, &d) != 0)
        cli_error("%s", d.msg);
    else
        cli_error("malloc resolves to %s, not %s: the preload did not take effect", id->provider,
                  a->expect);
    return EXIT_PRELOAD;
}

/* Print `j` as one line on stdout and free it. */
static int print_json(cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        cli_error("out of memory formatting the result");
        return EXIT_FAIL;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

static int report_probe(const struct alloc_identity *id)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "provider", id->provider);
    cJSON_AddStringToObject(j, "version", id->version);
    return print_json(j);
}

static void add_replay_stats(cJSON *res, const struct replay_stats *rs)
{
    cJSON *rj = cJSON_AddObjectToObject(res, "replay");
    cJSON_AddNumberToObject(rj, "events", (double)rs->events);
    cJSON_AddNumberToObject(rj, "allocs", (double)rs->allocs);
    cJSON_AddNumberToObject(rj, "frees", (double)rs->frees);
    cJSON_AddNumberToObject(rj, "reallocs", (double)rs->reallocs);
    cJSON_AddNumberToObject(rj, "unknown_frees", (double)rs->unknown_frees);
    cJSON_AddNumberToObject(rj, "failed", (double)rs->failed);
    cJSON_AddNumberToObject(rj, "zero_sizes", (double)rs->zero_sizes);
    cJSON_AddNumberToObject(rj, "clamped_aligns", (double)rs->clamped_aligns);
    cJSON_AddNumberToObject(rj, "stale_addresses", (double)rs->stale_addresses);
    cJSON_AddNumberToObject(rj, "threads", (double)rs->threads);
    cJSON_AddNumberToObject(rj, "folded_threads", (double)rs->folded_threads);
    cJSON_AddNumberToObject(rj, "corrupt_chunks", (double)rs->trace.corrupt_chunks);
    cJSON_AddBoolToObject(rj, "truncated", rs->trace.truncated);
    char damage[256];
    trace_damage_format(&rs->trace, damage, sizeof damage);
    cJSON_AddStringToObject(rj, "damage", damage);
}

/* What the run was and who served it, added to exec_stream's result. */
static void describe_run(cJSON *res, const struct worker_args *a, const struct opstream *s,
                         const struct replay_stats *rs, const struct alloc_identity *id)
{
    cJSON_AddStringToObject(res, "workload", a->is_trace ? a->workload : a->w->name);
    cJSON_AddNumberToObject(res, "seed", (double)a->seed);
    if (a->is_trace) {
        cJSON_AddNumberToObject(res, "ops_per_thread", (double)(opstream_ops(s) / s->threads));
        add_replay_stats(res, rs);
    } else {
        cJSON_AddNumberToObject(res, "ops_per_thread",
                                (double)(a->ops ? a->ops : a->w->default_ops));
    }
    if (a->lab) {
        char prov[64];
        snprintf(prov, sizeof(prov), "lab:%s (in-process vtable)", a->lab);
        cJSON_AddStringToObject(res, "provider", prov);
        cJSON_AddStringToObject(res, "version", HEAPLAB_VERSION);
    } else {
        cJSON_AddStringToObject(res, "provider", id->provider);
        cJSON_AddStringToObject(res, "version", id->version);
    }
}

/* Build the stream, run it, print the result. */
static int run_stream(const struct worker_args *a, const struct alloc_identity *id)
{
    struct wl_params wp = { .seed = a->seed, .ops = a->ops, .threads = (unsigned)a->threads };
    struct opstream s;
    struct diag d = { { 0 } };
    struct replay_stats rs;
    if (a->is_trace ? replay_stream(a->workload + strlen(BENCH_TRACE_PREFIX), &s, &rs, &d)
                    : workload_build(a->w, &wp, &s, &d)) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    if (a->exec.lab && s.threads > 1) {
        cli_error("lab allocators are single-threaded; this trace has %u threads", s.threads);
        opstream_destroy(&s);
        return EXIT_FAIL;
    }
    cJSON *res = exec_stream(&s, &a->exec, &d);
    if (!res) {
        cli_error("%s", d.msg);
        opstream_destroy(&s);
        return EXIT_FAIL;
    }
    describe_run(res, a, &s, &rs, id);
    opstream_destroy(&s);
    return print_json(res);
}

static int run_worker(int argc, char **argv, const struct cli_ctx *ctx)
{
    (void)ctx;
    static struct worker_args a;
    struct alloc_identity id;
    int rc = parse(&a, argc, argv);
    if (rc >= 0) return rc;
    if ((rc = validate(&a)) != 0) return rc;
    if ((rc = prove_preload(&a, &id)) != 0) return rc;
    return a.probe ? report_probe(&id) : run_stream(&a, &id);
}
