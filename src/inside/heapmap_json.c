/*
 * inside/heapmap_json.c: the "heapmap" section of a run (docs/results.md, docs/inside.md):
 * how the cells are encoded, then every snapshot with its totals, RSS check and regions.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inside/inside.h"
#include "util/osmem.h"

static const char *const kind_names[] = { "brk", "anon", "reserved" };

static cJSON *check_json(const struct heapmap_check *c, int resident_known)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "statm_rss_bytes", (double)c->statm_rss_bytes);
    cJSON_AddNumberToObject(j, "rollup_rss_bytes", (double)c->rollup_rss_bytes);
    cJSON_AddNumberToObject(j, "rollup_anonymous_bytes", (double)c->rollup_anon_bytes);
    cJSON_AddNumberToObject(j, "rollup_private_dirty_bytes", (double)c->rollup_dirty_bytes);
    cJSON_AddNumberToObject(j, "rollup_swap_bytes", (double)c->rollup_swap_bytes);
    if (resident_known) {
        cJSON_AddNumberToObject(j, "pagemap_anonymous_bytes", (double)c->pagemap_anon_bytes);
        cJSON_AddNumberToObject(j, "pagemap_swap_bytes", (double)c->pagemap_swap_bytes);
    } else {
        cJSON_AddNullToObject(j, "pagemap_anonymous_bytes");
        cJSON_AddNullToObject(j, "pagemap_swap_bytes");
    }
    cJSON_AddNumberToObject(j, "mappings", (double)c->mappings);
    cJSON_AddNumberToObject(j, "tolerance_bytes", (double)c->tolerance_bytes);
    cJSON_AddBoolToObject(j, "agree", c->agree);
    return j;
}

static cJSON *region_json(const struct heapmap *hm, const struct heapmap_region *r)
{
    cJSON *j = cJSON_CreateObject();
    char addr[24];
    snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)r->start);
    cJSON_AddStringToObject(j, "addr", addr);
    cJSON_AddNumberToObject(j, "bytes", (double)r->bytes);
    cJSON_AddStringToObject(j, "prot", r->prot);
    cJSON_AddStringToObject(j, "kind", kind_names[r->kind]);
    cJSON_AddNumberToObject(j, "resident_bytes", (double)r->resident_bytes);
    cJSON_AddNumberToObject(j, "live_bytes", (double)r->live_bytes);
    cJSON_AddNumberToObject(j, "objects", (double)r->objects);
    cJSON_AddNumberToObject(j, "largest_object_bytes", (double)r->largest_bytes);
    char *text = malloc(r->text_len + 1);
    if (text) {
        memcpy(text, heapmap_text(hm, r), r->text_len);
        text[r->text_len] = 0;
    }
    if (text && r->text_len)
        cJSON_AddStringToObject(j, "cells", text);
    else
        cJSON_AddNullToObject(j, "cells");
    free(text);
    return j;
}

static cJSON *shot_json(const struct heapmap *hm, const struct heapmap_shot *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "label", s->label);
    cJSON_AddNumberToObject(j, "ops", (double)s->ops);
    cJSON_AddNumberToObject(j, "cost_ns", (double)s->cost_ns);
    cJSON_AddNumberToObject(j, "cell_bytes", (double)((uint64_t)1 << s->cell_shift));
    cJSON_AddBoolToObject(j, "downsampled", ((size_t)1 << s->cell_shift) > osmem_page_size());
    cJSON_AddBoolToObject(j, "resident_known", s->resident_known);
    cJSON_AddNumberToObject(j, "mapped_bytes", (double)s->mapped_bytes);
    cJSON_AddNumberToObject(j, "resident_bytes", (double)s->resident_bytes);
    cJSON_AddNumberToObject(j, "swapped_bytes", (double)s->swapped_bytes);
    cJSON_AddNumberToObject(j, "live_bytes", (double)s->live_bytes);
    cJSON_AddNumberToObject(j, "outside_bytes", (double)s->outside_bytes);
    cJSON_AddNumberToObject(j, "objects", (double)s->objects);
    cJSON_AddNumberToObject(j, "excluded_bytes", (double)s->excluded_bytes);
    cJSON *c = cJSON_AddObjectToObject(j, "cells");
    cJSON_AddNumberToObject(c, "not_resident", (double)s->cells[HEAPMAP_NOT_RESIDENT]);
    cJSON_AddNumberToObject(c, "empty", (double)s->cells[HEAPMAP_EMPTY]);
    cJSON_AddNumberToObject(c, "sparse", (double)s->cells[HEAPMAP_SPARSE]);
    cJSON_AddNumberToObject(c, "dense", (double)s->cells[HEAPMAP_DENSE]);
    if (s->check.done)
        cJSON_AddItemToObject(j, "rss_check", check_json(&s->check, s->resident_known));
    else
        cJSON_AddNullToObject(j, "rss_check");
    if (s->note[0]) cJSON_AddStringToObject(j, "note", s->note);
    cJSON *rj = cJSON_AddArrayToObject(j, "regions");
    const struct heapmap_region *regions = heapmap_regions(hm);
    for (size_t i = 0; i < s->n_regions; i++)
        cJSON_AddItemToArray(rj, region_json(hm, &regions[s->first_region + i]));
    return j;
}

cJSON *heapmap_json(const struct heapmap *hm, uint64_t every_ops)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "encoding", HEAPMAP_ENCODING);
    cJSON_AddNumberToObject(j, "page_bytes", (double)osmem_page_size());
    cJSON_AddNumberToObject(j, "buckets", HEAPMAP_BUCKETS);
    cJSON_AddNumberToObject(j, "sparse_max_bucket", HEAPMAP_SPARSE_MAX);
    cJSON_AddNumberToObject(j, "every_ops", (double)every_ops);
    const char *why;
    uint64_t dropped = heapmap_dropped(hm, &why);
    cJSON_AddNumberToObject(j, "snapshots_dropped", (double)dropped);
    if (dropped) cJSON_AddStringToObject(j, "note", why);
    size_t n;
    const struct heapmap_shot *shots = heapmap_shots(hm, &n);
    cJSON *sj = cJSON_AddArrayToObject(j, "snapshots");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(sj, shot_json(hm, &shots[i]));
    return j;
}
