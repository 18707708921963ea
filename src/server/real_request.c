/*
 * server/real_request.c: the real allocators view's start message, parsed and checked
 * (docs/serve.md, "Real allocators"). Pure: what needs the server (does the trace exist, is
 * the allocator installed) is checked by real.c.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "server/real.h"
#include "server/request.h"
#include "util/diag.h"
#include "workload/workload.h"

/* An optional whole number in [lo, hi] at `key`: 0 (absent: *out untouched) or -1. */
static int get_count(const cJSON *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                     struct diag *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL || cJSON_IsNull(v)) return 0;
    double x = cJSON_IsNumber(v) ? v->valuedouble : -1;
    /* The range first: converting a negative or huge double to uint64_t is undefined. */
    if (!cJSON_IsNumber(v) || !(x >= (double)lo && x <= (double)hi) || x != (double)(uint64_t)x)
        return diag_set(d, "%s: a whole number from %llu to %llu", key, (unsigned long long)lo,
                        (unsigned long long)hi);
    *out = (uint64_t)x;
    return 0;
}

static int get_source(const cJSON *o, struct real_request *r, struct diag *d)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "workload");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "trace");
    if ((w != NULL) == (t != NULL)) return diag_set(d, "give a workload or a trace, not both");
    if (w) {
        if (!cJSON_IsString(w)) return diag_set(d, "workload: a name");
        r->workload = workload_find(w->valuestring);
        if (!r->workload)
            return diag_set(d, "unknown workload \"%.64s\" (see /api/meta)", w->valuestring);
        return 0;
    }
    if (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof r->trace)
        return diag_set(d, "trace: \"upload:ID\" or a file name of --trace-dir");
    const char *s = t->valuestring;
    int upload =
            strncmp(s, "upload:", 7) == 0 && s[7] && strspn(s + 7, "0123456789") == strlen(s + 7);
    if (!upload && !request_trace_name_ok(s))
        return diag_set(d, "trace \"%.64s\": \"upload:ID\" or a file name of --trace-dir", s);
    strcpy(r->trace, s);
    return 0;
}

static int check_allocs(const cJSON *o, struct real_request *r, const struct allocator *known,
                        size_t n_known, struct diag *d);

static int get_allocs(const cJSON *o, struct real_request *r, struct diag *d)
{
    /* On the heap: civetweb's threads have small stacks, and this is 70 KiB. */
    struct allocator *known = calloc(ALLOC_MAX, sizeof *known);
    if (!known) return diag_set(d, "out of memory");
    size_t n_known = allocator_builtins(known, ALLOC_MAX);
    int rc = check_allocs(o, r, known, n_known, d);
    free(known);
    return rc;
}

static int check_allocs(const cJSON *o, struct real_request *r, const struct allocator *known,
                        size_t n_known, struct diag *d)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "allocators"), *it;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return diag_set(d, "allocators: a list of names, at least one");
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsString(it)) return diag_set(d, "allocators: names only");
        size_t k = 0;
        while (k < n_known && strcmp(known[k].name, it->valuestring) != 0)
            k++;
        if (k == n_known)
            return diag_set(d,
                            "unknown allocator \"%.64s\" (glibc, jemalloc, tcmalloc, mimalloc, "
                            "hlmalloc)",
                            it->valuestring);
        for (size_t i = 0; i < r->n_allocs; i++)
            if (strcmp(r->allocs[i], it->valuestring) == 0)
                return diag_set(d, "allocator \"%s\" named twice", it->valuestring);
        if (r->n_allocs == ALLOC_MAX) return diag_set(d, "allocators: too many");
        strcpy(r->allocs[r->n_allocs++], known[k].name);
    }
    return 0;
}

/* The numbers: seed, ops, threads, every; every against thread 0's ops. */
static int get_numbers(const cJSON *o, struct real_request *r, struct diag *d)
{
    uint64_t threads = 1;
    r->seed = 1;
    if (get_count(o, "seed", 0, UINT32_MAX, &r->seed, d) != 0
        || get_count(o, "ops", 1, REAL_OPS_MAX, &r->ops, d) != 0
        || get_count(o, "threads", 1, REAL_THREADS_MAX, &threads, d) != 0
        || get_count(o, "every", 1, REAL_OPS_MAX, &r->every, d) != 0)
        return -1;
    r->threads = (unsigned)threads;
    if (!r->workload) return 0; /* a trace runs on the threads it recorded */
    unsigned min = r->workload->min_threads ? r->workload->min_threads : 1;
    if (r->threads < min)
        return diag_set(d, "threads %u: %s needs at least %u", r->threads, r->workload->name, min);
    uint64_t ops = r->ops ? r->ops : r->workload->default_ops;
    if (r->every && ops / r->every > REAL_SHOTS_MAX)
        return diag_set(d, "every %llu: more than %u snapshots of %llu ops (at least %llu)",
                        (unsigned long long)r->every, REAL_SHOTS_MAX, (unsigned long long)ops,
                        (unsigned long long)(ops / (REAL_SHOTS_MAX + 1) + 1));
    if (!r->every) r->every = ops / REAL_SHOTS_AUTO ? ops / REAL_SHOTS_AUTO : 1;
    return 0;
}

int real_request_parse(const char *text, size_t len, struct real_request *r, struct diag *d)
{
    memset(r, 0, sizeof *r);
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return diag_set(d, "not a JSON object");
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    int rc = -1;
    if (!cJSON_IsString(type))
        diag_set(d, "type: \"start\" or \"stop\"");
    else if (strcmp(type->valuestring, "stop") == 0)
        rc = REAL_MSG_STOP;
    else if (strcmp(type->valuestring, "start") != 0)
        diag_set(d, "unknown type \"%.32s\" (\"start\" or \"stop\")", type->valuestring);
    else if (get_source(o, r, d) == 0 && get_numbers(o, r, d) == 0 && get_allocs(o, r, d) == 0)
        rc = REAL_MSG_START;
    cJSON_Delete(o);
    if (rc < 0 && d) /* the reason quotes the page's values: keep it one printable line */
        for (char *p = d->msg; *p; p++)
            if ((unsigned char)*p < 0x20) *p = '?';
    return rc;
}
