/*
 * server/metrics.c: a race as JSON (metrics.h). The field names and their order are those of
 * `heaplab race --ticks` (cli/cmd_race.c); tests/cli/test_serve.py compares the two.
 */
#include "server/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "heaplab/lab.h"

static double waste_pct(const struct race_lane *l)
{
    if (l->usable_at_peak == 0) return 0.0;
    return 100.0 * (double)(l->usable_at_peak - l->peak_req) / (double)l->usable_at_peak;
}

static void add(cJSON *o, const char *name, uint64_t v)
{
    cJSON_AddNumberToObject(o, name, (double)v);
}

cJSON *metrics_lane(const struct race_lane *l, int final)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", l->ops->name);
    add(o, "live_requested", l->live_req);
    add(o, "live_usable", l->live_usable);
    add(o, "internal_waste", l->live_usable - l->live_req);
    add(o, "live_blocks", l->stats.live_blocks);
    add(o, "meta_bytes", l->stats.meta_bytes);
    add(o, "free_bytes", l->stats.free_bytes);
    add(o, "slack_bytes", l->stats.slack_bytes);
    add(o, "footprint", l->stats.footprint);
    add(o, "largest_free", l->stats.largest_free);
    add(o, "ranges", l->paint.ranges);
    add(o, "free_runs", l->paint.free_runs);
    add(o, "largest_free_run", l->paint.largest_run);
    cJSON_AddNumberToObject(o, "frag", lab_paint_frag(&l->paint));
    add(o, "failures", l->failures);
    add(o, "calls", l->calls);
    add(o, "p50_ns", hist_quantile(&l->lat_all, 0.50));
    add(o, "p90_ns", hist_quantile(&l->lat_all, 0.90));
    add(o, "p99_ns", hist_quantile(&l->lat_all, 0.99));
    if (!final) return o;
    cJSON_AddNumberToObject(o, "frag_avg", race_lane_frag_avg(l));
    cJSON_AddNumberToObject(o, "frag_max", l->frag_max);
    add(o, "peak_requested", l->peak_req);
    add(o, "usable_at_peak", l->usable_at_peak);
    cJSON_AddNumberToObject(o, "waste_at_peak_pct", waste_pct(l));
    add(o, "peak_internal_waste", l->peak_waste);
    add(o, "state_bytes", l->stats.state_bytes);
    cJSON_AddNumberToObject(o, "mean_ns", hist_mean(&l->lat_all));
    static const char *const kinds[] = { "alloc", "free" };
    const struct hist *hs[] = { &l->lat_alloc, &l->lat_free };
    cJSON *lat = cJSON_AddObjectToObject(o, "latency");
    for (int k = 0; k < 2; k++) {
        cJSON *h = cJSON_AddObjectToObject(lat, kinds[k]);
        add(h, "count", hs[k]->count);
        add(h, "p50_ns", hist_quantile(hs[k], 0.50));
        add(h, "p90_ns", hist_quantile(hs[k], 0.90));
        add(h, "p99_ns", hist_quantile(hs[k], 0.99));
        add(h, "max_ns", hs[k]->count ? hs[k]->max : 0);
    }
    if (l->broken) cJSON_AddStringToObject(o, "invariant_failure", l->broken_why);
    return o;
}

cJSON *metrics_log2_hist(const struct hist *h)
{
    uint64_t counts[64] = { 0 };
    int top = -1;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        if (h->buckets[b] == 0) continue;
        uint64_t low = hist_bucket_low(b);
        int k = low < 2 ? 0 : 63 - __builtin_clzll(low); /* buckets never straddle 2^k */
        counts[k] += h->buckets[b];
        if (k > top) top = k;
    }
    cJSON *o = cJSON_CreateObject();
    add(o, "base_ns", 1);
    cJSON *arr = cJSON_AddArrayToObject(o, "counts");
    for (int k = 0; k <= top; k++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)counts[k]));
    return o;
}

void metrics_race_fields(cJSON *o, const struct race *r, const char *workload, uint64_t seed,
                         uint64_t tick_every)
{
    uint32_t cells = lab_cells_for(r->arena_size);
    cJSON_AddStringToObject(o, "workload", workload);
    add(o, "seed", seed);
    add(o, "ops", r->nops);
    add(o, "arena_bytes", r->arena_size);
    add(o, "cells", cells);
    add(o, "cell_bytes", r->arena_size / cells);
    add(o, "tick_every", tick_every);
    add(o, "stream_peak_live", r->stream_peak);
    cJSON_AddBoolToObject(o, "check", r->check_each);
    cJSON *kinds = cJSON_AddArrayToObject(o, "cell_kinds");
    static const char *const names[] = { "free", "used", "meta", "waste" };
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToArray(kinds, cJSON_CreateString(names[i]));
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t k = 0; k < r->nlanes; k++) {
        cJSON *al = cJSON_CreateObject();
        cJSON_AddStringToObject(al, "name", r->lane[k].ops->name);
        cJSON_AddStringToObject(al, "summary", r->lane[k].ops->summary);
        cJSON_AddStringToObject(al, "version", HEAPLAB_VERSION);
        cJSON_AddItemToArray(arr, al);
    }
}

char *metrics_print(cJSON *o, size_t *len)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (s && len) *len = strlen(s);
    return s;
}

char *metrics_tick(const struct race *r, uint32_t tick, uint64_t op, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "tick");
    add(o, "tick", tick);
    add(o, "op", op);
    cJSON *arr = cJSON_AddArrayToObject(o, "allocators");
    for (size_t k = 0; k < r->nlanes; k++) {
        const struct race_lane *l = &r->lane[k];
        cJSON *m = metrics_lane(l, 0);
        cJSON_AddItemToObject(m, "lat_alloc", metrics_log2_hist(&l->lat_alloc));
        cJSON_AddItemToObject(m, "lat_free", metrics_log2_hist(&l->lat_free));
        cJSON_AddItemToArray(arr, m);
    }
    return metrics_print(o, len);
}

cJSON *metrics_leaderboard(const struct race *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; k < r->nlanes; k++)
        cJSON_AddItemToArray(arr, metrics_lane(&r->lane[k], 1));
    return arr;
}
