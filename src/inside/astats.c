/*
 * inside/astats.c: each allocator's own statistics, found with dlsym at run time, mapped to
 * one vocabulary (inside.h, docs/inside.md has the table of which source fills which field
 * and how). A field the allocator does not expose stays ASTATS_NULL: nothing is estimated.
 * Derived fields are sums or differences of counters the allocator exposes, and the
 * docs say which.
 *
 * Only functions defined by the object that defines `malloc` are used: a preloaded
 * jemalloc leaves glibc's mallinfo2 resolvable, and it would describe glibc's unused arena.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlmalloc.h"
#include "inside/inside.h"

/* jemalloc's MALLCTL_ARENAS_ALL: "stats.arenas.4096.*" merges every arena (5.x). */
#define JE_ARENAS_ALL 4096

typedef int (*mallctl_fn)(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
typedef int (*tc_prop_fn)(const char *name, size_t *value);
typedef void (*tc_stats_fn)(char *buf, int len);
typedef void (*mi_info_fn)(size_t *elapsed_msecs, size_t *user_msecs, size_t *system_msecs,
                           size_t *current_rss, size_t *peak_rss, size_t *current_commit,
                           size_t *peak_commit, size_t *page_faults);
typedef void *(*mi_heap_fn)(void);
/* mimalloc's mi_heap_area_t (mimalloc.h 2.0; the first five fields are those of 1.x too). */
struct mi_area {
    void *blocks;
    size_t reserved;  /* bytes reserved for the area */
    size_t committed; /* bytes available: capacity * block size */
    size_t used;      /* blocks allocated */
    size_t block_size;
};
typedef bool (*mi_visit_cb)(const void *heap, const struct mi_area *area, void *block,
                            size_t block_size, void *arg);
typedef bool (*mi_visit_fn)(const void *heap, bool all_blocks, mi_visit_cb visitor, void *arg);
typedef struct mallinfo2 (*mallinfo2_fn)(void);
typedef void (*hl_stats_fn)(struct hl_stats *out);

/* ------------------------------------------------------------------------------------- */
/* Finding the functions                                                                 */

typedef void (*any_fn)(void);

/* `name` if the object that defines malloc defines it too, else NULL. The address is
 * copied, not cast: ISO C has no conversion from an object pointer to a function's. */
static any_fn same_object(const char *name, const Dl_info *m)
{
    void *f = dlsym(RTLD_DEFAULT, name);
    Dl_info di;
    any_fn fn = NULL;
    if (!f || !dladdr(f, &di) || di.dli_fbase != m->dli_fbase) return NULL;
    memcpy(&fn, &f, sizeof fn);
    return fn;
}

void astats_open(struct astats_src *src)
{
    memset(src, 0, sizeof *src);
    src->source = ASTATS_NONE;
    src->name = "none";
    Dl_info m;
    void *mf = dlsym(RTLD_DEFAULT, "malloc");
    if (!mf || !dladdr(mf, &m)) return;
    snprintf(src->provider, sizeof src->provider, "%.127s", m.dli_fname ? m.dli_fname : "?");
    static const struct {
        enum astats_source source;
        const char *name;
        const char *fn[3]; /* all required */
    } known[] = {
        { ASTATS_HLMALLOC, "hl_stats", { "hl_stats" } },
        { ASTATS_JEMALLOC, "mallctl", { "mallctl" } },
        { ASTATS_TCMALLOC,
          "MallocExtension",
          { "MallocExtension_GetNumericProperty", "MallocExtension_GetStats" } },
        { ASTATS_MIMALLOC,
          "mi_process_info",
          { "mi_process_info", "mi_heap_visit_blocks", "mi_heap_get_default" } },
        { ASTATS_GLIBC, "mallinfo2", { "mallinfo2" } },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        any_fn fn[3] = { 0 };
        int ok = 1;
        for (int k = 0; k < 3 && known[i].fn[k]; k++)
            ok = ok && (fn[k] = same_object(known[i].fn[k], &m)) != NULL;
        if (!ok) continue;
        src->source = known[i].source;
        src->name = known[i].name;
        /* cppcheck-suppress uninitvar ; fn is zero-initialised above */
        memcpy(src->fn, fn, sizeof fn);
        return;
    }
}

/* ------------------------------------------------------------------------------------- */
/* Reading                                                                                */

static void raw(struct astats *st, const char *name, int64_t v)
{
    if (st->n_raw < ASTATS_MAX_RAW) st->raw[st->n_raw++] = (struct astats_raw){ name, v };
}

static struct astats_class *class_for(struct astats *st, int64_t size)
{
    for (unsigned i = 0; i < st->n_classes; i++)
        if (st->classes[i].size_bytes == size) return &st->classes[i];
    if (st->n_classes == ASTATS_MAX_CLASSES) return NULL;
    struct astats_class *c = &st->classes[st->n_classes++];
    c->size_bytes = size;
    c->objects_live = c->objects_free = c->slabs = c->slab_bytes = ASTATS_NULL;
    c->capacity = c->requests = c->fills = ASTATS_NULL;
    return c;
}

void astats_clear(struct astats *st)
{
    memset(st, 0, sizeof *st);
    st->allocated_bytes = st->active_bytes = st->resident_bytes = st->mapped_bytes = ASTATS_NULL;
    st->retained_bytes = st->metadata_bytes = st->thread_cache_bytes = ASTATS_NULL;
    st->free_pages_bytes = ASTATS_NULL;
}

static void read_glibc(const struct astats_src *src, struct astats *st)
{
    struct mallinfo2 mi = ((mallinfo2_fn)src->fn[0])();
    st->allocated_bytes = (int64_t)(mi.uordblks + mi.hblkhd);
    st->mapped_bytes = (int64_t)(mi.arena + mi.hblkhd);
    st->retained_bytes = (int64_t)mi.fordblks;
    raw(st, "mallinfo2.arena", (int64_t)mi.arena);
    raw(st, "mallinfo2.ordblks", (int64_t)mi.ordblks);
    raw(st, "mallinfo2.smblks", (int64_t)mi.smblks);
    raw(st, "mallinfo2.hblks", (int64_t)mi.hblks);
    raw(st, "mallinfo2.hblkhd", (int64_t)mi.hblkhd);
    raw(st, "mallinfo2.fsmblks", (int64_t)mi.fsmblks);
    raw(st, "mallinfo2.uordblks", (int64_t)mi.uordblks);
    raw(st, "mallinfo2.fordblks", (int64_t)mi.fordblks);
    raw(st, "mallinfo2.keepcost", (int64_t)mi.keepcost);
}

/* A size_t (or with `bytes` 8, a uint64_t; 4, a uint32_t or unsigned) mallctl value. */
static int64_t je(mallctl_fn f, const char *name, size_t bytes)
{
    union {
        uint64_t u64;
        uint32_t u32;
        size_t sz;
    } v = { 0 };
    size_t len = bytes;
    if (f(name, &v, &len, NULL, 0) != 0 || len != bytes) return ASTATS_NULL;
    return bytes == 4 ? (int64_t)v.u32 : bytes == 8 ? (int64_t)v.u64 : (int64_t)v.sz;
}

static void read_jemalloc(const struct astats_src *src, struct astats *st)
{
    mallctl_fn f = (mallctl_fn)src->fn[0];
    bool stats = false;
    size_t blen = sizeof stats;
    if (f("config.stats", &stats, &blen, NULL, 0) != 0 || !stats) {
        snprintf(st->note, sizeof st->note, "jemalloc was built without statistics");
        return;
    }
    uint64_t epoch = 1;
    size_t elen = sizeof epoch;
    f("epoch", &epoch, &elen, &epoch, elen); /* refresh the cached statistics */
    st->allocated_bytes = je(f, "stats.allocated", sizeof(size_t));
    st->active_bytes = je(f, "stats.active", sizeof(size_t));
    st->resident_bytes = je(f, "stats.resident", sizeof(size_t));
    st->mapped_bytes = je(f, "stats.mapped", sizeof(size_t));
    st->metadata_bytes = je(f, "stats.metadata", sizeof(size_t));
    char name[96];
    snprintf(name, sizeof name, "stats.arenas.%d.tcache_bytes", JE_ARENAS_ALL);
    st->thread_cache_bytes = je(f, name, sizeof(size_t));
    int64_t page = je(f, "arenas.page", sizeof(size_t));
    snprintf(name, sizeof name, "stats.arenas.%d.pdirty", JE_ARENAS_ALL);
    int64_t dirty = je(f, name, sizeof(size_t));
    snprintf(name, sizeof name, "stats.arenas.%d.pmuzzy", JE_ARENAS_ALL);
    int64_t muzzy = je(f, name, sizeof(size_t));
    if (page > 0 && dirty >= 0 && muzzy >= 0) st->free_pages_bytes = (dirty + muzzy) * page;
    raw(st, "stats.allocated", st->allocated_bytes);
    raw(st, "stats.active", st->active_bytes);
    raw(st, "stats.resident", st->resident_bytes);
    raw(st, "stats.mapped", st->mapped_bytes);
    raw(st, "stats.metadata", st->metadata_bytes);
    raw(st, "stats.retained", je(f, "stats.retained", sizeof(size_t)));
    raw(st, "stats.arenas.all.pdirty", dirty);
    raw(st, "stats.arenas.all.pmuzzy", muzzy);
    raw(st, "arenas.page", page);
    raw(st, "arenas.narenas", je(f, "arenas.narenas", sizeof(unsigned)));
    int64_t nbins = je(f, "arenas.nbins", sizeof(unsigned));
    for (int64_t b = 0; b < nbins && b < ASTATS_MAX_CLASSES; b++) {
        snprintf(name, sizeof name, "arenas.bin.%lld.size", (long long)b);
        struct astats_class *c = class_for(st, je(f, name, sizeof(size_t)));
        if (!c) break;
        snprintf(name, sizeof name, "arenas.bin.%lld.nregs", (long long)b);
        int64_t nregs = je(f, name, sizeof(uint32_t));
        snprintf(name, sizeof name, "arenas.bin.%lld.slab_size", (long long)b);
        int64_t slab = je(f, name, sizeof(size_t));
#define BIN_STAT(field, type)                                                                      \
    (snprintf(name, sizeof name, "stats.arenas.%d.bins.%lld." field, JE_ARENAS_ALL, (long long)b), \
     je(f, name, sizeof(type)))
        c->objects_live = BIN_STAT("curregs", size_t);
        c->slabs = BIN_STAT("curslabs", size_t);
        c->requests = BIN_STAT("nrequests", uint64_t);
        c->fills = BIN_STAT("nfills", uint64_t);
#undef BIN_STAT
        if (c->slabs >= 0 && nregs >= 0) c->capacity = c->slabs * nregs;
        if (c->slabs >= 0 && slab >= 0) c->slab_bytes = c->slabs * slab;
    }
}

/* The number before `label` on the line of gperftools' stats text that ends with it. */
static int64_t tc_text_field(const char *text, const char *label)
{
    const char *at = strstr(text, label);
    if (!at) return ASTATS_NULL;
    const char *line = at;
    while (line > text && line[-1] != '\n')
        line--;
    const char *plus = strchr(line, '+');
    const char *num = plus && plus < at ? plus + 1 : strchr(line, ':');
    if (!num || num > at) return ASTATS_NULL;
    if (*num == ':') num++;
    return strtoll(num, NULL, 10);
}

/* "class  14 [      208 bytes ] :      514 objs; ..." lines: free blocks per class. */
static void tc_classes(const char *text, struct astats *st)
{
    for (const char *s = strstr(text, "\nclass "); s; s = strstr(s + 1, "\nclass ")) {
        const char *lb = strchr(s, '['), *colon = lb ? strchr(lb, ':') : NULL;
        const char *nl = strchr(s + 1, '\n');
        if (!lb || !colon || (nl && colon > nl)) continue;
        struct astats_class *c = class_for(st, strtoll(lb + 1, NULL, 10));
        if (c) c->objects_free = strtoll(colon + 1, NULL, 10);
    }
}

static void read_tcmalloc(const struct astats_src *src, struct astats *st)
{
    tc_prop_fn prop = (tc_prop_fn)src->fn[0];
    static const char *const names[] = {
        "generic.current_allocated_bytes",   "generic.heap_size",
        "generic.total_physical_bytes",      "tcmalloc.pageheap_free_bytes",
        "tcmalloc.pageheap_unmapped_bytes",  "tcmalloc.current_total_thread_cache_bytes",
        "tcmalloc.central_cache_free_bytes", "tcmalloc.transfer_cache_free_bytes",
        "tcmalloc.thread_cache_free_bytes",
    };
    int64_t v[sizeof names / sizeof names[0]];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t x = 0;
        v[i] = prop(names[i], &x) ? (int64_t)x : ASTATS_NULL;
        raw(st, names[i], v[i]);
    }
    int64_t heap = v[1], free_b = v[3], unmapped = v[4];
    st->allocated_bytes = v[0];
    st->resident_bytes = v[2];
    st->free_pages_bytes = free_b;
    st->thread_cache_bytes = v[5];
    if (heap >= 0 && unmapped >= 0) st->mapped_bytes = heap - unmapped;
    if (heap >= 0 && unmapped >= 0 && free_b >= 0) st->active_bytes = heap - unmapped - free_b;
    static char text[1 << 16]; /* in .bss: not the heap, and never on a thread's stack */
    text[0] = 0;
    ((tc_stats_fn)src->fn[1])(text, (int)sizeof text);
    st->metadata_bytes = tc_text_field(text, "Bytes in malloc metadata");
    raw(st, "GetStats: Bytes in malloc metadata", st->metadata_bytes);
    tc_classes(text, st);
}

static void read_mimalloc(const struct astats_src *src, struct astats *st)
{
    size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
    ((mi_info_fn)src->fn[0])(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit,
                             &faults);
    st->mapped_bytes = (int64_t)commit;
    raw(st, "mi_process_info.current_commit", (int64_t)commit);
    raw(st, "mi_process_info.peak_commit", (int64_t)peak_commit);
    raw(st, "mi_process_info.current_rss (the process's)", (int64_t)rss);
    raw(st, "mi_process_info.page_faults", (int64_t)faults);
}

static void read_hlmalloc(const struct astats_src *src, struct astats *st)
{
    static struct hl_stats h; /* 4 KiB: not on a small thread stack */
    ((hl_stats_fn)src->fn[0])(&h);
    st->allocated_bytes = (int64_t)h.allocated_bytes;
    st->active_bytes = (int64_t)h.active_bytes;
    st->resident_bytes = (int64_t)h.resident_bytes;
    st->mapped_bytes = (int64_t)h.mapped_bytes;
    st->free_pages_bytes = (int64_t)(h.dirty_bytes + h.huge_cached_bytes);
    raw(st, "dirty_bytes", (int64_t)h.dirty_bytes);
    raw(st, "huge_cached_bytes", (int64_t)h.huge_cached_bytes);
    raw(st, "segments", (int64_t)h.segments);
    raw(st, "huge_blocks", (int64_t)h.huge_blocks);
    raw(st, "purges", (int64_t)h.purges);
    raw(st, "purged_bytes", (int64_t)h.purged_bytes);
    raw(st, "threads", (int64_t)h.threads);
    raw(st, "abandoned_segments", (int64_t)h.abandoned_segments);
    raw(st, "remote_free_blocks", (int64_t)h.remote_free_blocks);
    raw(st, "remote_free_max", (int64_t)h.remote_free_max);
    for (unsigned i = 0; i < HL_STATS_CLASSES; i++) {
        const struct hl_class_stats *hc = &h.classes[i];
        if (!hc->block_bytes || !hc->pages) continue;
        struct astats_class *c = class_for(st, (int64_t)hc->block_bytes);
        if (!c) break;
        c->objects_live = (int64_t)hc->used;
        c->slabs = (int64_t)hc->pages;
        c->capacity = (int64_t)hc->blocks;
    }
}

void astats_read(const struct astats_src *src, struct astats *st)
{
    astats_clear(st);
    st->source = src->source;
    switch (src->source) {
    case ASTATS_GLIBC:
        read_glibc(src, st);
        break;
    case ASTATS_JEMALLOC:
        read_jemalloc(src, st);
        break;
    case ASTATS_TCMALLOC:
        read_tcmalloc(src, st);
        break;
    case ASTATS_MIMALLOC:
        read_mimalloc(src, st);
        break;
    case ASTATS_HLMALLOC:
        read_hlmalloc(src, st);
        break;
    case ASTATS_NONE:
        snprintf(st->note, sizeof st->note, "not exposed: %.100s has no statistics heaplab knows",
                 src->provider[0] ? src->provider : "malloc");
        break;
    }
}

/* ------------------------------------------------------------------------------------- */
/* Per-thread parts (mimalloc's heaps) and merging                                        */

static bool mi_visit(const void *heap, const struct mi_area *area, void *block, size_t bsize,
                     void *arg)
{
    (void)heap, (void)block, (void)bsize;
    struct astats *part = arg;
    if (!area->block_size) return true;
    uint64_t live = (uint64_t)area->used * area->block_size;
    part->allocated_bytes += (int64_t)live;
    if (area->used)
        part->active_bytes += (int64_t)area->committed;
    else /* a page the heap keeps with nothing live on it */
        part->free_pages_bytes += (int64_t)area->committed;
    struct astats_class *c = class_for(part, (int64_t)area->block_size);
    if (!c) return true;
    if (c->objects_live < 0) c->objects_live = c->slabs = c->slab_bytes = c->capacity = 0;
    c->objects_live += (int64_t)area->used;
    c->slabs++;
    c->slab_bytes += (int64_t)area->reserved;
    c->capacity += (int64_t)(area->committed / area->block_size);
    return true;
}

void astats_thread(const struct astats_src *src, struct astats *part)
{
    if (src->source != ASTATS_MIMALLOC) return;
    void *heap = ((mi_heap_fn)src->fn[2])();
    if (!heap) return;
    if (part->allocated_bytes < 0) part->allocated_bytes = 0;
    if (part->active_bytes < 0) part->active_bytes = 0;
    if (part->free_pages_bytes < 0) part->free_pages_bytes = 0;
    ((mi_visit_fn)src->fn[1])(heap, false, mi_visit, part);
}

static void add_field(int64_t *to, int64_t v)
{
    if (v < 0) return;
    *to = *to < 0 ? v : *to + v;
}

void astats_merge(struct astats *out, const struct astats *part)
{
    add_field(&out->allocated_bytes, part->allocated_bytes);
    add_field(&out->active_bytes, part->active_bytes);
    add_field(&out->free_pages_bytes, part->free_pages_bytes);
    for (unsigned i = 0; i < part->n_classes; i++) {
        const struct astats_class *p = &part->classes[i];
        struct astats_class *c = class_for(out, p->size_bytes);
        if (!c) break;
        add_field(&c->objects_live, p->objects_live);
        add_field(&c->slabs, p->slabs);
        add_field(&c->slab_bytes, p->slab_bytes);
        add_field(&c->capacity, p->capacity);
    }
}

void astats_finish(struct astats *st)
{
    if (st->retained_bytes >= 0 || st->active_bytes < 0 || st->allocated_bytes < 0) return;
    int64_t in_pages = st->active_bytes - st->allocated_bytes;
    st->retained_bytes =
            (in_pages > 0 ? in_pages : 0) + (st->free_pages_bytes > 0 ? st->free_pages_bytes : 0);
}

/* ------------------------------------------------------------------------------------- */
/* JSON                                                                                   */

static void add_num(cJSON *j, const char *key, int64_t v)
{
    if (v < 0)
        cJSON_AddNullToObject(j, key);
    else
        cJSON_AddNumberToObject(j, key, (double)v);
}

static cJSON *class_json(const struct astats_class *c)
{
    cJSON *j = cJSON_CreateObject();
    add_num(j, "size_bytes", c->size_bytes);
    add_num(j, "objects_live", c->objects_live);
    add_num(j, "objects_free", c->objects_free);
    add_num(j, "slabs", c->slabs);
    add_num(j, "slab_bytes", c->slab_bytes);
    add_num(j, "capacity", c->capacity);
    if (c->objects_live >= 0 && c->capacity > 0)
        cJSON_AddNumberToObject(j, "fill", (double)c->objects_live / (double)c->capacity);
    else
        cJSON_AddNullToObject(j, "fill");
    add_num(j, "requests", c->requests);
    add_num(j, "fills", c->fills);
    if (c->requests > 0 && c->fills >= 0)
        cJSON_AddNumberToObject(j, "cache_hit_rate", 1.0 - (double)c->fills / (double)c->requests);
    else
        cJSON_AddNullToObject(j, "cache_hit_rate");
    return j;
}

cJSON *astats_json(const struct astats_src *src, const struct astats *st)
{
    (void)src;
    cJSON *j = cJSON_CreateObject();
    add_num(j, "allocated_bytes", st->allocated_bytes);
    add_num(j, "active_bytes", st->active_bytes);
    add_num(j, "resident_bytes", st->resident_bytes);
    add_num(j, "mapped_bytes", st->mapped_bytes);
    add_num(j, "retained_bytes", st->retained_bytes);
    add_num(j, "metadata_bytes", st->metadata_bytes);
    add_num(j, "thread_cache_bytes", st->thread_cache_bytes);
    add_num(j, "free_pages_bytes", st->free_pages_bytes);
    if (st->n_classes) {
        cJSON *cj = cJSON_AddArrayToObject(j, "classes");
        for (unsigned i = 0; i < st->n_classes; i++)
            cJSON_AddItemToArray(cj, class_json(&st->classes[i]));
    } else {
        cJSON_AddNullToObject(j, "classes");
    }
    cJSON *rj = cJSON_AddObjectToObject(j, "raw");
    for (unsigned i = 0; i < st->n_raw; i++)
        add_num(rj, st->raw[i].name, st->raw[i].value);
    if (st->note[0]) cJSON_AddStringToObject(j, "note", st->note);
    return j;
}
