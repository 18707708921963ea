/*
 * cli/cmd_race.c: `heaplab race`: the lab allocators in lockstep on one operation stream,
 * a leaderboard, and (--ticks) the JSON-lines tick file of docs/ticks.md.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "heaplab/lab.h"
#include "race/race.h"
#include "util/atomic_file.h"
#include "util/diag.h"
#include "util/osmem.h"
#include "workload/workload.h"

#define RACE_DEFAULT_OPS_CAP 200000u
#define RACE_DEFAULT_TICKS   100u

static const char race_usage[] =
        "usage: heaplab race --workload W [--ops N] [--seed S] [--arena SIZE]\n"
        "                    [--allocators LIST] [--ticks FILE] [--tick-every K] [--json FILE]\n"
        "                    [--check] [--quiet]\n";

static const char race_help[] =
        "\n"
        "Replay one operation stream through the lab allocators in lockstep (each op to every\n"
        "allocator before the next) and print a leaderboard.\n"
        "\n"
        "options:\n"
        "  -w, --workload W        a workload of 'heaplab list workloads' (required)\n"
        "  -n, --ops N             operations (default: the workload's own, at most 200k)\n"
        "  -s, --seed S            seed of the stream (default: 1)\n"
        "      --arena SIZE        arena per allocator, a power of two from 64K to 1G\n"
        "                          (K, M, G are powers of 1024; default 2M, or the\n"
        "                          smallest holding twice the stream's peak live bytes)\n"
        "  -a, --allocators LIST   lab allocators (default: " LAB_DEFAULT_SET ";\n"
        "                          also firstfit-next, firstfit-best)\n"
        "      --ticks FILE        write a tick every K ops as JSON lines (docs/ticks.md)\n"
        "      --tick-every K      ops between ticks and fragmentation samples\n"
        "                          (default: ops/100)\n"
        "      --json FILE         write the leaderboard as JSON\n"
        "      --check             verify every allocator's invariants after every op (slow)\n"
        "  -q, --quiet             no leaderboard on stdout\n"
        "  -h, --help              this help\n";

/* A size with an optional K/M/G (x1024) suffix, optionally followed by "iB" or "B". */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0) end += strlen(end);
    }
    if (*end != 0 || v > (1ull << 40) >> shift) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static const char *human(uint64_t b, char *buf, size_t n)
{
    if (b >= (1u << 20))
        snprintf(buf, n, "%.2f MiB", (double)b / (1u << 20));
    else if (b >= (1u << 10))
        snprintf(buf, n, "%.1f KiB", (double)b / (1u << 10));
    else
        snprintf(buf, n, "%llu B", (unsigned long long)b);
    return buf;
}

static double waste_pct(const struct race_lane *l)
{
    if (l->usable_at_peak == 0) return 0.0;
    return 100.0 * (double)(l->usable_at_peak - l->peak_req) / (double)l->usable_at_peak;
}

static cJSON *lane_metrics(const struct race *r, const struct race_lane *l, int final)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", l->ops->name);
    cJSON_AddNumberToObject(o, "live_requested", (double)l->live_req);
    cJSON_AddNumberToObject(o, "live_usable", (double)l->live_usable);
    cJSON_AddNumberToObject(o, "internal_waste", (double)(l->live_usable - l->live_req));
    cJSON_AddNumberToObject(o, "live_blocks", (double)l->stats.live_blocks);
    cJSON_AddNumberToObject(o, "meta_bytes", (double)l->stats.meta_bytes);
    cJSON_AddNumberToObject(o, "free_bytes", (double)l->stats.free_bytes);
    cJSON_AddNumberToObject(o, "slack_bytes", (double)l->stats.slack_bytes);
    cJSON_AddNumberToObject(o, "footprint", (double)l->stats.footprint);
    cJSON_AddNumberToObject(o, "largest_free", (double)l->stats.largest_free);
    cJSON_AddNumberToObject(o, "ranges", (double)l->paint.ranges);
    cJSON_AddNumberToObject(o, "free_runs", (double)l->paint.free_runs);
    cJSON_AddNumberToObject(o, "largest_free_run", (double)l->paint.largest_run);
    cJSON_AddNumberToObject(o, "frag", lab_paint_frag(&l->paint));
    cJSON_AddNumberToObject(o, "failures", (double)l->failures);
    cJSON_AddNumberToObject(o, "calls", (double)l->calls);
    cJSON_AddNumberToObject(o, "p50_ns", (double)hist_quantile(&l->lat_all, 0.50));
    cJSON_AddNumberToObject(o, "p90_ns", (double)hist_quantile(&l->lat_all, 0.90));
    cJSON_AddNumberToObject(o, "p99_ns", (double)hist_quantile(&l->lat_all, 0.99));
    if (final) {
        cJSON_AddNumberToObject(o, "frag_avg", race_lane_frag_avg(l));
        cJSON_AddNumberToObject(o, "frag_max", l->frag_max);
        cJSON_AddNumberToObject(o, "peak_requested", (double)l->peak_req);
        cJSON_AddNumberToObject(o, "usable_at_peak", (double)l->usable_at_peak);
        cJSON_AddNumberToObject(o, "waste_at_peak_pct", waste_pct(l));
        cJSON_AddNumberToObject(o, "peak_internal_waste", (double)l->peak_waste);
        cJSON_AddNumberToObject(o, "state_bytes", (double)l->stats.state_bytes);
        cJSON_AddNumberToObject(o, "mean_ns", hist_mean(&l->lat_all));
        static const char *const kinds[] = { "alloc", "free" };
        const struct hist *hs[] = { &l->lat_alloc, &l->lat_free };
        cJSON *lat = cJSON_AddObjectToObject(o, "latency");
        for (int k = 0; k < 2; k++) {
            cJSON *h = cJSON_AddObjectToObject(lat, kinds[k]);
            cJSON_AddNumberToObject(h, "count", (double)hs[k]->count);
            cJSON_AddNumberToObject(h, "p50_ns", (double)hist_quantile(hs[k], 0.50));
            cJSON_AddNumberToObject(h, "p90_ns", (double)hist_quantile(hs[k], 0.90));
            cJSON_AddNumberToObject(h, "p99_ns", (double)hist_quantile(hs[k], 0.99));
            cJSON_AddNumberToObject(h, "max_ns", (double)(hs[k]->count ? hs[k]->max : 0));
        }
        if (l->broken) cJSON_AddStringToObject(o, "invariant_failure", l->broken_why);
    }
    (void)r;
    return o;
}

/* Append one JSON line (the object is consumed). */
static void emit_line(struct atomic_file *f, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL) {
        f->err = f->err ? f->err : 12; /* ENOMEM */
        return;
    }
    atomic_file_append(f, s, strlen(s));
    atomic_file_append(f, "\n", 1);
    free(s);
}

static void emit_tick(struct atomic_file *f, const struct race *r, uint64_t op, char *b64)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "tick");
    cJSON_AddNumberToObject(o, "op", (double)op);
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t k = 0; k < r->nlanes; k++) {
        const struct race_lane *l = &r->lane[k];
        cJSON *m = lane_metrics(r, l, 0);
        race_cells_b64(l->cells, l->paint.ncells, b64);
        cJSON_AddStringToObject(m, "cells", b64);
        cJSON_AddItemToArray(arr, m);
    }
    emit_line(f, o);
}

static cJSON *header_json(const struct race *r, const struct workload *w, uint64_t seed,
                          uint64_t tick_every)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "race");
    cJSON_AddStringToObject(o, "format", "heaplab.ticks/1");
    cJSON_AddStringToObject(o, "heaplab_version", HEAPLAB_VERSION);
    cJSON_AddStringToObject(o, "workload", w->name);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "ops", (double)r->nops);
    cJSON_AddNumberToObject(o, "arena_bytes", (double)r->arena_size);
    cJSON_AddNumberToObject(o, "cells", (double)lab_cells_for(r->arena_size));
    cJSON_AddNumberToObject(o, "cell_bytes",
                            (double)(r->arena_size / lab_cells_for(r->arena_size)));
    cJSON_AddNumberToObject(o, "tick_every", (double)tick_every);
    cJSON_AddNumberToObject(o, "stream_peak_live", (double)r->stream_peak);
    cJSON *kinds = cJSON_AddArrayToObject(o, "cell_kinds");
    static const char *const names[] = { "free", "used", "meta", "waste" };
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToArray(kinds, cJSON_CreateString(names[i]));
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t k = 0; k < r->nlanes; k++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", r->lane[k].ops->name);
        cJSON_AddStringToObject(a, "summary", r->lane[k].ops->summary);
        cJSON_AddItemToArray(arr, a);
    }
    return o;
}

static cJSON *leaderboard_json(const struct race *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; k < r->nlanes; k++)
        cJSON_AddItemToArray(arr, lane_metrics(r, &r->lane[k], 1));
    return arr;
}

static void print_leaderboard(const struct race *r, const struct workload *w, uint64_t seed,
                              int auto_arena)
{
    char b1[32], b2[32];
    printf("heaplab race: workload %s, %zu ops, seed %llu, arena %s%s (%u cells of %llu B)\n",
           w->name, r->nops, (unsigned long long)seed, human(r->arena_size, b1, sizeof b1),
           auto_arena && r->arena_size > LAB_ARENA_DEFAULT ? " (auto: 2 x peak live)" : "",
           lab_cells_for(r->arena_size),
           (unsigned long long)(r->arena_size / lab_cells_for(r->arena_size)));
    printf("stream peak live %s requested; latency is per vtable call, timer cost %.0f ns "
           "subtracted, resolution %.0f ns\n\n",
           human(r->stream_peak, b2, sizeof b2),
           (double)r->cal.overhead_ticks / r->cal.ticks_per_ns,
           (double)r->cal.resolution_ticks / r->cal.ticks_per_ns);
    printf("%-14s %7s %7s %7s %9s %9s %8s %9s %14s\n", "allocator", "p50 ns", "p90 ns", "p99 ns",
           "frag avg", "frag max", "waste", "failures", "peak footprint");
    for (size_t k = 0; k < r->nlanes; k++) {
        const struct race_lane *l = &r->lane[k];
        printf("%-14s %7llu %7llu %7llu %9.3f %9.3f %7.1f%% %9llu %14s%s\n", l->ops->name,
               (unsigned long long)hist_quantile(&l->lat_all, 0.50),
               (unsigned long long)hist_quantile(&l->lat_all, 0.90),
               (unsigned long long)hist_quantile(&l->lat_all, 0.99), race_lane_frag_avg(l),
               l->frag_max, waste_pct(l), (unsigned long long)l->failures,
               human(l->stats.footprint, b1, sizeof b1), l->broken ? "  BROKEN" : "");
    }
    printf("\nfrag: 1 - largest free run / free bytes, averaged over %llu snapshots; waste: "
           "(usable - requested) / usable when live bytes peaked\n",
           (unsigned long long)(r->nlanes ? r->lane[0].snapshots : 0));
}

int cmd_race(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "workload", required_argument, NULL, 'w' },
        { "ops", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 's' },
        { "arena", required_argument, NULL, 'A' },
        { "allocators", required_argument, NULL, 'a' },
        { "allocator", required_argument, NULL, 'a' },
        { "ticks", required_argument, NULL, 'T' },
        { "tick-every", required_argument, NULL, 'K' },
        { "json", required_argument, NULL, 'J' },
        { "check", no_argument, NULL, 'c' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *wname = NULL, *ticks_path = NULL, *json_path = NULL;
    const char *names[RACE_MAX_LANES + 1];
    size_t n_names = 0;
    uint64_t ops = 0, seed = 1, arena = 0, tick_every = 0, v;
    int check_each = 0, quiet = 0;

    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "+w:n:s:a:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'w':
            wname = optarg;
            break;
        case 'n':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 100000000u)
                return cli_usage_error(race_usage, "bad --ops \"%s\" (1..100M)", optarg);
            ops = v;
            break;
        case 's':
            if (cli_parse_u64(optarg, &v) != 0)
                return cli_usage_error(race_usage, "bad --seed \"%s\"", optarg);
            seed = v;
            break;
        case 'A':
            if (parse_size(optarg, &v) != 0 || v < LAB_ARENA_MIN || v > LAB_ARENA_MAX
                || (v & (v - 1)) != 0)
                return cli_usage_error(
                        race_usage, "bad --arena \"%s\" (a power of two from 64K to 1G)", optarg);
            arena = v;
            break;
        case 'a':
            if (cli_split(optarg, names, &n_names, RACE_MAX_LANES) != 0)
                return cli_usage_error(race_usage, "bad allocator list \"%s\"", optarg);
            break;
        case 'T':
            ticks_path = optarg;
            break;
        case 'K':
            if (cli_parse_u64(optarg, &v) != 0 || v == 0)
                return cli_usage_error(race_usage, "bad --tick-every \"%s\"", optarg);
            tick_every = v;
            break;
        case 'J':
            json_path = optarg;
            break;
        case 'c':
            check_each = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(race_usage, stdout);
            fputs(race_help, stdout);
            return EXIT_OK;
        default:
            if (optopt && strchr("wnsa", optopt))
                return cli_usage_error(race_usage, "option -%s needs a value",
                                       (char[]){ (char)optopt, 0 });
            return cli_usage_error(race_usage, "unknown or incomplete option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(race_usage, "unexpected argument \"%s\"", argv[optind]);
    if (wname == NULL) return cli_usage_error(race_usage, "--workload is required");
    const struct workload *w = workload_find(wname);
    if (w == NULL) {
        cli_error("unknown workload \"%s\" (try 'heaplab list workloads')", wname);
        fputs(race_usage, stderr);
        return EXIT_USAGE;
    }
    if (n_names == 0 && cli_split(LAB_DEFAULT_SET, names, &n_names, RACE_MAX_LANES) != 0)
        return EXIT_FAIL;
    const struct lab_ops *lanes[RACE_MAX_LANES];
    for (size_t i = 0; i < n_names; i++) {
        lanes[i] = lab_find(names[i]);
        if (lanes[i] == NULL) {
            cli_error("unknown lab allocator \"%s\" (try 'heaplab list lab')", names[i]);
            fputs(race_usage, stderr);
            return EXIT_USAGE;
        }
        for (size_t k = 0; k < i; k++)
            if (lanes[k] == lanes[i])
                return cli_usage_error(race_usage, "allocator \"%s\" named twice", names[i]);
    }

    /* The stream: one thread unless the workload needs more (then merged by seq). */
    struct diag d = { { 0 } };
    struct opstream s;
    struct wl_params p = { .seed = seed, .threads = w->min_threads ? w->min_threads : 1 };
    p.ops = ops ? ops
                : (w->default_ops < RACE_DEFAULT_OPS_CAP ? w->default_ops : RACE_DEFAULT_OPS_CAP);
    if (p.threads > 1) p.ops = (p.ops + p.threads - 1) / p.threads;
    if (workload_build(w, &p, &s, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    /* Without --arena: 2 MiB, or the smallest power of two holding twice the stream's peak
     * live bytes, so that the race compares strategies rather than who runs out first. */
    int auto_arena = arena == 0;
    if (auto_arena) {
        uint64_t need = 2 * opstream_peak_live(&s);
        arena = LAB_ARENA_DEFAULT;
        while (arena < need && arena < LAB_ARENA_MAX)
            arena *= 2;
    }
    static struct race r;
    int rc = race_open(&r, &s, lanes, n_names, (size_t)arena, &d);
    opstream_destroy(&s);
    if (rc != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    r.check_each = check_each;
    if (tick_every == 0) tick_every = r.nops / RACE_DEFAULT_TICKS ? r.nops / RACE_DEFAULT_TICKS : 1;

    struct atomic_file tf;
    char *b64 = NULL;
    size_t b64_len = race_cells_b64_len(lab_cells_for(r.arena_size)) + 1;
    if (ticks_path) {
        b64 = osmem_alloc(b64_len);
        if (b64 == NULL || atomic_file_open(&tf, ticks_path, &d) != 0) {
            cli_error("cannot write ticks: %s", b64 ? d.msg : "out of memory");
            race_close(&r);
            return EXIT_FAIL;
        }
        emit_line(&tf, header_json(&r, w, seed, tick_every));
        race_snapshot(&r); /* op 0: the empty arenas */
        r.lane[0].snapshots = 0;
        for (size_t k = 0; k < r.nlanes; k++) {
            r.lane[k].snapshots = 0;
            r.lane[k].frag_sum = 0;
        }
        emit_tick(&tf, &r, 0, b64);
    }
    for (size_t i = 0; i < r.nops; i++) {
        race_step(&r, i);
        if ((i + 1) % tick_every == 0 || i + 1 == r.nops) {
            race_snapshot(&r);
            if (ticks_path) emit_tick(&tf, &r, i + 1, b64);
        }
    }
    if (r.nops == 0) race_snapshot(&r);

    rc = EXIT_OK;
    if (ticks_path) {
        cJSON *end = cJSON_CreateObject();
        cJSON_AddStringToObject(end, "type", "end");
        cJSON_AddItemToObject(end, "leaderboard", leaderboard_json(&r));
        emit_line(&tf, end);
        if (atomic_file_commit(&tf, &d) != 0) {
            cli_error("cannot write ticks: %s", d.msg);
            rc = EXIT_FAIL;
        }
        osmem_free(b64, b64_len);
    }
    if (!quiet) print_leaderboard(&r, w, seed, auto_arena);
    if (json_path) {
        cJSON *doc = header_json(&r, w, seed, tick_every);
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "type", cJSON_CreateString("leaderboard"));
        cJSON_AddItemToObject(doc, "leaderboard", leaderboard_json(&r));
        char *text = cJSON_Print(doc);
        cJSON_Delete(doc);
        if (text == NULL || atomic_file_write(json_path, text, strlen(text), &d) != 0) {
            cli_error("cannot write results: %s", text ? d.msg : "out of memory");
            rc = EXIT_FAIL;
        }
        free(text);
    }
    for (size_t k = 0; k < r.nlanes; k++) {
        if (r.lane[k].broken) {
            cli_error("%s: invariant broken at op %llu: %s", r.lane[k].ops->name,
                      (unsigned long long)r.lane[k].broken_op, r.lane[k].broken_why);
            rc = EXIT_FAIL;
        }
    }
    race_close(&r);
    return rc;
}
