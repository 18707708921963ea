/*
 * cli/cmd_race.c: `heaplab race`: the lab allocators in lockstep on one operation stream
 * (race/race.h), a leaderboard, the leaderboard as JSON (heaplab.race/1, docs/results.md)
 * and the JSON-lines tick file (heaplab.ticks/2, docs/ticks.md). Both files begin with the
 * envelope every results file has (report_envelope) and are checked before the race.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "heaplab/lab.h"
#include "race/race.h"
#include "util/atomic_file.h"
#include "util/diag.h"
#include "util/osmem.h"
#include "workload/workload.h"

#define PROCEED (-1) /* a step went well: go on to the next */

#define RACE_SCHEMA        "heaplab.race/1"
#define TICKS_SCHEMA       "heaplab.ticks/2"
#define RACE_DEFAULT_TICKS 100u
#define RACE_MAX_OPS       100000000u

static int race_main(int argc, char **argv, const struct cli_ctx *ctx);

enum { OPT_ARENA = 256, OPT_TICKS, OPT_TICK_EVERY, OPT_JSON, OPT_CHECK };

static const char *const allocators_aliases[] = { "allocator", NULL };

static const struct cli_opt race_opts[] = {
    { 'w', 'w', "workload", "W", "a workload of 'heaplab list workloads' (required)", NULL, 0 },
    { 'n', 'n', "ops", "N",
      "operations in the stream, 1..100M\n(default: the workload's own, at most 200k)", NULL, 0 },
    { 's', 's', "seed", "S", "seed of the stream (default: 1)", NULL, 0 },
    { OPT_ARENA, 0, "arena", "SIZE",
      "each allocator's arena, a power of two, 64K..1G\n"
      "(default: 2M, or the smallest power of two holding\n"
      "twice the stream's peak live bytes)",
      NULL, 0 },
    { 'a', 'a', "allocators", "LIST",
      "lab allocators of 'heaplab list lab'\n(default: " LAB_DEFAULT_SET ")", allocators_aliases,
      0 },
    { OPT_TICKS, 0, "ticks", "FILE",
      "write a tick every K ops as JSON lines\n(schema " TICKS_SCHEMA ", docs/ticks.md)", NULL, 0 },
    { OPT_TICK_EVERY, 0, "tick-every", "K",
      "ops between ticks and fragmentation snapshots\n(default: ops / 100)", NULL, 0 },
    { OPT_JSON, 0, "json", "FILE", "write the leaderboard as JSON (schema " RACE_SCHEMA ")", NULL,
      0 },
    { OPT_CHECK, 0, "check", NULL,
      "run every allocator's check() after every op (slow);\n"
      "a broken invariant is reported and exits 1",
      NULL, 0 },
    { 'q', 'q', "quiet", NULL, "no leaderboard on stdout", NULL, 0 },
    { 0 },
};

const struct cli_command cli_cmd_race = {
    .name = "race",
    .summary = "race the lab's teaching allocators in lockstep on one workload",
    .about = "Replay one operation stream through the lab allocators in lockstep (each op to\n"
             "every allocator before the next) and print a leaderboard: per-call latency,\n"
             "external fragmentation, internal waste, failures and peak footprint.",
    .opts = race_opts,
    .run = race_main,
};

struct race_args {
    const char *workload;
    const char *names[RACE_MAX_LANES]; /* --allocators; none: LAB_DEFAULT_SET */
    size_t n_names;
    uint64_t ops; /* 0: the workload's own, capped */
    uint64_t seed;
    uint64_t arena;      /* 0: sized from the stream */
    uint64_t tick_every; /* 0: ops / RACE_DEFAULT_TICKS */
    const char *ticks;   /* --ticks FILE, or NULL */
    const char *json;    /* --json FILE, or NULL */
    int check;
    int quiet;
};

struct race_plan {
    const struct workload *w;
    const struct lab_ops *lanes[RACE_MAX_LANES];
    size_t nlanes;
    size_t arena;
    int auto_arena; /* the arena was sized from the stream */
    uint64_t tick_every;
    cJSON *machine; /* for both files' envelopes, collected once */
};

/* The tick file being written. */
struct ticks {
    struct atomic_file f;
    char *b64; /* one lane's encoded cell map */
    size_t b64_len;
};

/* ------------------------------------------------------------------------------------- */
/* Parse and validate                                                                    */

static int parse_option(struct cli_parser *p, int ch, struct race_args *a)
{
    uint64_t v;
    switch (ch) {
    case 'w':
        a->workload = p->value;
        return 0;
    case 'n':
        return cli_value_count(p, 1, RACE_MAX_OPS, &a->ops);
    case 's':
        return cli_value_count(p, 0, UINT64_MAX, &a->seed);
    case OPT_ARENA:
        if (cli_value_bytes(p, LAB_ARENA_MIN, LAB_ARENA_MAX, &v) != 0) return -1;
        if ((v & (v - 1)) != 0) {
            cli_bad_value(p, "a power of two from 64K to 1G");
            return -1;
        }
        a->arena = v;
        return 0;
    case 'a':
        return cli_value_list(p, "allocator", a->names, &a->n_names, RACE_MAX_LANES);
    case OPT_TICKS:
        a->ticks = p->value;
        return 0;
    case OPT_TICK_EVERY:
        return cli_value_count(p, 1, UINT64_MAX, &a->tick_every);
    case OPT_JSON:
        a->json = p->value;
        return 0;
    case OPT_CHECK:
        a->check = 1;
        return 0;
    case 'q':
        a->quiet = 1;
        return 0;
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct race_args *a)
{
    struct cli_parser p;
    int ch;
    *a = (struct race_args){ .seed = 1 };
    cli_parser_init(&p, &cli_cmd_race, argc, argv);
    while ((ch = cli_next(&p)) > 0)
        if (parse_option(&p, ch, a) != 0) return EXIT_USAGE;
    if (ch != CLI_DONE) return cli_parse_status(ch);
    if (p.optind < argc)
        return cli_usage(&cli_cmd_race, "unexpected argument \"%s\"", argv[p.optind]);
    if (a->workload == NULL) return cli_usage(&cli_cmd_race, "--workload is required");
    return PROCEED;
}

static int resolve_lanes(struct race_args *a, struct race_plan *pl)
{
    if (a->n_names == 0 && cli_split(LAB_DEFAULT_SET, a->names, &a->n_names, RACE_MAX_LANES) != 0)
        return EXIT_FAIL;
    for (size_t i = 0; i < a->n_names; i++) {
        const struct lab_ops *ops = lab_find(a->names[i]);
        if (ops == NULL)
            return cli_usage(&cli_cmd_race, "unknown lab allocator \"%s\" (try 'heaplab list lab')",
                             a->names[i]);
        for (size_t k = 0; k < i; k++)
            if (pl->lanes[k] == ops)
                return cli_usage(&cli_cmd_race, "allocator \"%s\" named twice", a->names[i]);
        pl->lanes[pl->nlanes++] = ops;
    }
    return PROCEED;
}

/* Everything that can be wrong with the command line, before anything runs. */
static int validate(struct race_args *a, struct race_plan *pl)
{
    pl->w = workload_find(a->workload);
    if (pl->w == NULL)
        return cli_usage(&cli_cmd_race, "unknown workload \"%s\" (try 'heaplab list workloads')",
                         a->workload);
    int rc = resolve_lanes(a, pl);
    if (rc != PROCEED) return rc;
    if (a->ticks && a->json && strcmp(a->ticks, a->json) == 0)
        return cli_usage(&cli_cmd_race, "--ticks and --json name the same file \"%s\"", a->ticks);
    if (a->ticks && cli_check_output("--ticks", a->ticks) != 0) return EXIT_FAIL;
    if (a->json && cli_check_output("--json", a->json) != 0) return EXIT_FAIL;
    return PROCEED;
}

/* ------------------------------------------------------------------------------------- */
/* JSON                                                                                  */

static double waste_pct(const struct race_lane *l)
{
    if (l->usable_at_peak == 0) return 0.0;
    return 100.0 * (double)(l->usable_at_peak - l->peak_req) / (double)l->usable_at_peak;
}

static cJSON *lane_metrics(const struct race_lane *l, int final)
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
    return o;
}

/* The race itself, shared by the tick file's header and the JSON leaderboard. */
static void add_race_fields(cJSON *o, const struct race *r, const struct race_args *a,
                            const struct race_plan *pl)
{
    cJSON_AddStringToObject(o, "workload", pl->w->name);
    cJSON_AddNumberToObject(o, "seed", (double)a->seed);
    cJSON_AddNumberToObject(o, "ops", (double)r->nops);
    cJSON_AddNumberToObject(o, "arena_bytes", (double)r->arena_size);
    cJSON_AddNumberToObject(o, "cells", (double)lab_cells_for(r->arena_size));
    cJSON_AddNumberToObject(o, "cell_bytes",
                            (double)(r->arena_size / lab_cells_for(r->arena_size)));
    cJSON_AddNumberToObject(o, "tick_every", (double)pl->tick_every);
    cJSON_AddNumberToObject(o, "stream_peak_live", (double)r->stream_peak);
    cJSON_AddBoolToObject(o, "check", a->check);
    cJSON *kinds = cJSON_AddArrayToObject(o, "cell_kinds");
    static const char *const names[] = { "free", "used", "meta", "waste" };
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToArray(kinds, cJSON_CreateString(names[i]));
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t k = 0; k < r->nlanes; k++) {
        cJSON *al = cJSON_CreateObject();
        cJSON_AddStringToObject(al, "name", r->lane[k].ops->name);
        cJSON_AddStringToObject(al, "summary", r->lane[k].ops->summary);
        cJSON_AddStringToObject(al, "version", HEAPLAB_VERSION); /* the lab is heaplab's */
        cJSON_AddItemToArray(arr, al);
    }
}

static cJSON *leaderboard_json(const struct race *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; k < r->nlanes; k++)
        cJSON_AddItemToArray(arr, lane_metrics(&r->lane[k], 1));
    return arr;
}

/* Append one JSON line (the object is consumed). */
static void emit_line(struct atomic_file *f, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL) {
        f->err = f->err ? f->err : ENOMEM;
        return;
    }
    atomic_file_append(f, s, strlen(s));
    atomic_file_append(f, "\n", 1);
    free(s);
}

static void emit_tick(struct ticks *t, const struct race *r, uint64_t op)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "tick");
    cJSON_AddNumberToObject(o, "op", (double)op);
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t k = 0; k < r->nlanes; k++) {
        const struct race_lane *l = &r->lane[k];
        cJSON *m = lane_metrics(l, 0);
        race_cells_b64(l->cells, l->paint.ncells, t->b64);
        cJSON_AddStringToObject(m, "cells", t->b64);
        cJSON_AddItemToArray(arr, m);
    }
    emit_line(&t->f, o);
}

/* Open the tick file and write its header and the tick at op 0 (the empty arenas, which
 * the fragmentation averages do not count). */
static int ticks_open(struct ticks *t, const char *path, struct race *r, const struct race_args *a,
                      const struct race_plan *pl, const struct cli_ctx *ctx)
{
    struct diag d = { { 0 } };
    t->b64_len = race_cells_b64_len(lab_cells_for(r->arena_size)) + 1;
    t->b64 = osmem_alloc(t->b64_len);
    if (t->b64 == NULL || atomic_file_open(&t->f, path, &d) != 0) {
        cli_error("cannot write ticks: %s", t->b64 ? d.msg : "out of memory");
        if (t->b64) osmem_free(t->b64, t->b64_len);
        return EXIT_FAIL;
    }
    cJSON *header = report_envelope(TICKS_SCHEMA, ctx->command_line, pl->machine);
    cJSON_AddStringToObject(header, "type", "race");
    add_race_fields(header, r, a, pl);
    emit_line(&t->f, header);
    race_snapshot(r);
    for (size_t k = 0; k < r->nlanes; k++) {
        r->lane[k].snapshots = 0;
        r->lane[k].frag_sum = 0;
    }
    emit_tick(t, r, 0);
    return PROCEED;
}

/* The end line, then the file renamed into place. */
static int ticks_close(struct ticks *t, const struct race *r)
{
    struct diag d = { { 0 } };
    cJSON *end = cJSON_CreateObject();
    cJSON_AddStringToObject(end, "type", "end");
    cJSON_AddItemToObject(end, "leaderboard", leaderboard_json(r));
    emit_line(&t->f, end);
    osmem_free(t->b64, t->b64_len);
    if (atomic_file_commit(&t->f, &d) == 0) return EXIT_OK;
    cli_error("cannot write ticks: %s", d.msg);
    return EXIT_FAIL;
}

static int write_json(const struct race *r, const struct race_args *a, const struct race_plan *pl,
                      const struct cli_ctx *ctx)
{
    struct diag d = { { 0 } };
    cJSON *doc = report_envelope(RACE_SCHEMA, ctx->command_line, pl->machine);
    add_race_fields(doc, r, a, pl);
    cJSON_AddItemToObject(doc, "leaderboard", leaderboard_json(r));
    int rc = report_write_json(doc, a->json, &d);
    cJSON_Delete(doc);
    if (rc == 0) return EXIT_OK;
    cli_error("cannot write results: %s", d.msg);
    return EXIT_FAIL;
}

/* ------------------------------------------------------------------------------------- */
/* Run                                                                                   */

/* Build the stream (one thread unless the workload needs more; race_open merges them by
 * seq) and open a lane per allocator over an arena sized for it. */
static int open_race(struct race *r, const struct race_args *a, struct race_plan *pl)
{
    struct diag d = { { 0 } };
    struct opstream s;
    if (race_build(pl->w, a->seed, a->ops, &s, &d) != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    /* Without --arena: 2 MiB, or the smallest power of two holding twice the stream's peak
     * live bytes, so that the race compares strategies rather than who runs out first. */
    pl->auto_arena = a->arena == 0;
    pl->arena = pl->auto_arena ? race_auto_arena(&s, LAB_ARENA_MAX) : (size_t)a->arena;
    int rc = race_open(r, &s, pl->lanes, pl->nlanes, pl->arena, &d);
    opstream_destroy(&s);
    if (rc != 0) {
        cli_error("%s", d.msg);
        return EXIT_FAIL;
    }
    r->check_each = a->check;
    pl->tick_every = a->tick_every
                             ? a->tick_every
                             : (r->nops / RACE_DEFAULT_TICKS ? r->nops / RACE_DEFAULT_TICKS : 1);
    return PROCEED;
}

/* Every op through every lane; a snapshot (and a tick, with `t`) every tick_every ops and at
 * the end. */
static int run_race(struct race *r, const struct race_plan *pl, struct ticks *t)
{
    for (size_t i = 0; i < r->nops; i++) {
        race_step(r, i);
        if ((i + 1) % pl->tick_every == 0 || i + 1 == r->nops) {
            race_snapshot(r);
            if (t) emit_tick(t, r, i + 1);
        }
    }
    if (r->nops == 0) race_snapshot(r);
    return t ? ticks_close(t, r) : EXIT_OK;
}

/* ------------------------------------------------------------------------------------- */
/* Output                                                                                */

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

static void print_leaderboard(const struct race *r, const struct race_args *a,
                              const struct race_plan *pl)
{
    char b1[32], b2[32];
    printf("heaplab race: workload %s, %zu ops, seed %llu, arena %s%s (%u cells of %llu B)\n",
           pl->w->name, r->nops, (unsigned long long)a->seed, human(r->arena_size, b1, sizeof b1),
           pl->auto_arena && r->arena_size > LAB_ARENA_DEFAULT ? " (auto: 2 x peak live)" : "",
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

/* One line per lane whose invariants --check found broken; EXIT_FAIL if any. */
static int report_broken(const struct race *r)
{
    int rc = EXIT_OK;
    for (size_t k = 0; k < r->nlanes; k++) {
        if (!r->lane[k].broken) continue;
        cli_error("%s: invariant broken at op %llu: %s", r->lane[k].ops->name,
                  (unsigned long long)r->lane[k].broken_op, r->lane[k].broken_why);
        rc = EXIT_FAIL;
    }
    return rc;
}

static int race_main(int argc, char **argv, const struct cli_ctx *ctx)
{
    static struct race r;
    struct race_args a;
    struct race_plan pl = { 0 };
    int rc = parse_args(argc, argv, &a);
    if (rc != PROCEED) return rc;
    rc = validate(&a, &pl);
    if (rc != PROCEED) return rc;
    if (open_race(&r, &a, &pl) != PROCEED) return EXIT_FAIL;
    struct ticks t;
    pl.machine = machine_json();
    if (a.ticks && ticks_open(&t, a.ticks, &r, &a, &pl, ctx) != PROCEED) {
        rc = EXIT_FAIL;
        goto out;
    }
    rc = run_race(&r, &pl, a.ticks ? &t : NULL);
    if (!a.quiet) print_leaderboard(&r, &a, &pl);
    if (a.json && write_json(&r, &a, &pl, ctx) != EXIT_OK) rc = EXIT_FAIL;
    if (report_broken(&r) != EXIT_OK) rc = EXIT_FAIL;
out:
    cJSON_Delete(pl.machine);
    race_close(&r);
    return rc;
}
