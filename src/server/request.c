/*
 * server/request.c: parsing and checking the page's messages (request.h).
 */
#include "server/request.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "heaplab/lab.h"
#include "replay/replay.h"
#include "server/internal.h"
#include "server/server.h"
#include "trace/trace.h"
#include "workload/workload.h"

static const char *const type_names[] = {
    [REQ_NONE] = "",         [REQ_START] = "start",     [REQ_PAUSE] = "pause",
    [REQ_RESUME] = "resume", [REQ_STEP] = "step",       [REQ_SPEED] = "speed",
    [REQ_SEEK] = "seek",     [REQ_OVERLAY] = "overlay", [REQ_CELL] = "cell",
};

/* The fields each type takes, besides "type". */
static const char *const fields[][10] = {
    [REQ_START] = { "workload", "trace", "seed", "ops", "arena", "allocators", "tick_every", "tps",
                    "encodings", NULL },
    [REQ_PAUSE] = { NULL },
    [REQ_RESUME] = { NULL },
    [REQ_STEP] = { NULL },
    [REQ_SPEED] = { "tps", NULL },
    [REQ_SEEK] = { "tick", NULL },
    [REQ_OVERLAY] = { "mode", NULL },
    [REQ_CELL] = { "lane", "cell", "tick", NULL },
};

static const char *const overlay_names[] = { "kind", "class", "age" };

const char *request_type_name(enum request_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "";
}

const char *overlay_name(enum overlay_mode m)
{
    return (unsigned)m < 3 ? overlay_names[m] : "kind";
}

int request_trace_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= REQUEST_TRACE_MAX || name[0] == '.') return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Fill err and return -1. */
__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A whole number in [lo, hi] in field `name` of `o` into *v; absent: *v untouched, 0. */
static int get_count(const cJSON *o, const char *name, uint64_t lo, uint64_t hi, uint64_t *v,
                     char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (it == NULL) return 0;
    if (!cJSON_IsNumber(it)) return fail(err, errlen, "%s must be a number", name);
    double x = it->valuedouble;
    if (!isfinite(x) || x != floor(x) || x < 0 || x > 9007199254740991.0)
        return fail(err, errlen, "%s must be a whole number from 0 to 2^53-1", name);
    uint64_t u = (uint64_t)x;
    if (u < lo || u > hi)
        return fail(err, errlen, "%s %llu is out of range (%llu..%llu)", name,
                    (unsigned long long)u, (unsigned long long)lo, (unsigned long long)hi);
    *v = u;
    return 1;
}

static int get_string(const cJSON *o, const char *name, const char **v, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (it == NULL) return 0;
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return fail(err, errlen, "%s must be a string", name);
    *v = it->valuestring;
    return 1;
}

/* A name for an error message: printable, at most 40 characters. */
static const char *shown(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 4 < n && i < 40; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    snprintf(buf + i, n - i, "%s", s[i] ? "..." : "");
    return buf;
}

static int parse_allocators(const cJSON *o, struct request_start *st, unsigned max, char *err,
                            size_t errlen)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "allocators");
    char buf[48];
    if (arr == NULL) { /* the default set, in its order */
        const char *p = LAB_DEFAULT_SET;
        st->nlanes = 0;
        while (*p && st->nlanes < RACE_MAX_LANES) {
            size_t n = strcspn(p, ",");
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)n, p);
            const struct lab_ops *ops = lab_find(name);
            if (ops) st->lanes[st->nlanes++] = ops;
            p += n + (p[n] == ',');
        }
        return 0;
    }
    if (!cJSON_IsArray(arr)) return fail(err, errlen, "allocators must be an array of names");
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || (unsigned)n > max || n > RACE_MAX_LANES)
        return fail(err, errlen, "allocators: 1 to %u names, not %d",
                    max < RACE_MAX_LANES ? max : RACE_MAX_LANES, n);
    st->nlanes = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || it->valuestring == NULL)
            return fail(err, errlen, "allocators must be an array of names");
        const struct lab_ops *ops = lab_find(it->valuestring);
        if (ops == NULL)
            return fail(err, errlen, "unknown allocator \"%s\" (not in heaplab list lab)",
                        shown(it->valuestring, buf, sizeof buf));
        for (size_t k = 0; k < st->nlanes; k++)
            if (st->lanes[k] == ops)
                return fail(err, errlen, "allocator \"%s\" named twice", ops->name);
        st->lanes[st->nlanes++] = ops;
    }
    return 0;
}

/* `encodings`: an array of 0 (raw, always), 1 (delta), 3 (fill). */
static int parse_encodings(const cJSON *o, unsigned *out, char *err, size_t errlen)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "encodings"), *it;
    *out = REQUEST_ENC_DEFAULT;
    if (arr == NULL) return 0;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > 8)
        return fail(err, errlen, "encodings must be an array of encoding numbers (1, 3)");
    *out = 0;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsNumber(it)
            || (it->valuedouble != 0 && it->valuedouble != 1 && it->valuedouble != 3))
            return fail(err, errlen, "encodings: 0 (raw), 1 (delta) or 3 (fill)");
        if (it->valuedouble != 0) *out |= 1u << (unsigned)it->valuedouble;
    }
    return 0;
}

static int parse_start(const cJSON *o, const struct server_limits *lim, struct request_start *st,
                       char *err, size_t errlen)
{
    const char *wl = NULL, *tr = NULL;
    char buf[48];
    if (get_string(o, "workload", &wl, err, errlen) < 0) return -1;
    if (get_string(o, "trace", &tr, err, errlen) < 0) return -1;
    if (wl && tr) return fail(err, errlen, "start takes a workload or a trace, not both");
    if (!wl && !tr) return fail(err, errlen, "start needs a workload or a trace");
    if (wl) {
        st->workload = workload_find(wl);
        if (st->workload == NULL)
            return fail(err, errlen, "unknown workload \"%s\"", shown(wl, buf, sizeof buf));
    } else {
        int upload = strncmp(tr, "upload:", 7) == 0;
        const char *id = tr + 7;
        if (upload ? (*id == 0 || strlen(id) > 18 || strspn(id, "0123456789") != strlen(id))
                   : !request_trace_name_ok(tr))
            return fail(err, errlen, "bad trace \"%s\" (upload:ID or a file name of the list)",
                        shown(tr, buf, sizeof buf));
        snprintf(st->trace, sizeof st->trace, "%s", tr);
    }
    st->seed = 1;
    st->tps = REQUEST_TPS_AUTO;
    uint64_t v;
    if (get_count(o, "seed", 0, REQUEST_SEED_MAX, &st->seed, err, errlen) < 0) return -1;
    if (get_count(o, "ops", 1, lim->ops_max, &st->ops, err, errlen) < 0) return -1;
    if (tr) st->ops = 0; /* a trace's events decide */
    int has_arena = get_count(o, "arena", 0, lim->arena_max, &v, err, errlen);
    if (has_arena < 0) return -1;
    if (has_arena && v != 0) {
        if (v < lim->arena_min || (v & (v - 1)) != 0)
            return fail(err, errlen, "arena %llu is not a power of two from %llu to %llu",
                        (unsigned long long)v, (unsigned long long)lim->arena_min,
                        (unsigned long long)lim->arena_max);
        st->arena = v;
    }
    int has_te = get_count(o, "tick_every", 0, lim->ops_max, &v, err, errlen);
    if (has_te < 0) return -1;
    if (has_te && v != 0) {
        if (v < lim->tick_every_min)
            return fail(err, errlen, "tick_every %llu is below %llu", (unsigned long long)v,
                        (unsigned long long)lim->tick_every_min);
        st->tick_every = v;
    }
    int has_tps = get_count(o, "tps", 0, lim->tps_max, &v, err, errlen);
    if (has_tps < 0) return -1;
    if (has_tps) st->tps = (unsigned)v;
    if (parse_encodings(o, &st->encodings, err, errlen) != 0) return -1;
    return parse_allocators(o, st, lim->lanes_max, err, errlen);
}

int request_parse(const char *text, size_t len, const struct server_limits *lim, int ticks_only,
                  struct request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen) err[0] = 0;
    if (len > lim->message_bytes)
        return fail(err, errlen, "message of %zu bytes is over the limit (%zu)", len,
                    lim->message_bytes);
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (o == NULL) return fail(err, errlen, "not JSON");
    int rc = -1;
    const char *type = NULL;
    char buf[48];
    if (!cJSON_IsObject(o)) {
        fail(err, errlen, "a message is a JSON object");
        goto out;
    }
    if (get_string(o, "type", &type, err, errlen) <= 0) {
        if (!err[0]) fail(err, errlen, "the message has no type");
        goto out;
    }
    for (unsigned t = REQ_START; t <= REQ_CELL; t++)
        if (strcmp(type, type_names[t]) == 0) out->type = (enum request_type)t;
    if (out->type == REQ_NONE) {
        fail(err, errlen, "unknown message type \"%s\"", shown(type, buf, sizeof buf));
        goto out;
    }
    /* Every field must be one this type takes (a typo is not silently ignored). */
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (it->string == NULL) continue;
        if (strcmp(it->string, "type") == 0) continue;
        int known = 0;
        for (const char *const *f = fields[out->type]; *f; f++)
            if (strcmp(*f, it->string) == 0) known = 1;
        if (!known) {
            fail(err, errlen, "%s takes no field \"%s\"", type_names[out->type],
                 shown(it->string, buf, sizeof buf));
            goto out;
        }
    }
    uint64_t v = 0;
    switch (out->type) {
    case REQ_START:
        if (ticks_only) { /* the file decides all but the speed and the encodings */
            out->start.tps = REQUEST_TPS_AUTO;
            if (get_count(o, "tps", 0, lim->tps_max, &v, err, errlen) < 0) goto out;
            if (cJSON_GetObjectItemCaseSensitive(o, "tps")) out->start.tps = (unsigned)v;
            if (parse_encodings(o, &out->start.encodings, err, errlen) != 0) goto out;
            break;
        }
        if (parse_start(o, lim, &out->start, err, errlen) != 0) goto out;
        break;
    case REQ_SPEED:
        if (get_count(o, "tps", 0, lim->tps_max, &v, err, errlen) <= 0) {
            if (!err[0]) fail(err, errlen, "speed needs tps");
            goto out;
        }
        out->tps = (unsigned)v;
        break;
    case REQ_SEEK:
        if (get_count(o, "tick", 0, UINT32_MAX, &v, err, errlen) <= 0) {
            if (!err[0]) fail(err, errlen, "seek needs tick");
            goto out;
        }
        out->tick = (uint32_t)v;
        break;
    case REQ_OVERLAY: {
        const char *mode = NULL;
        if (get_string(o, "mode", &mode, err, errlen) <= 0) {
            if (!err[0]) fail(err, errlen, "overlay needs mode");
            goto out;
        }
        unsigned m = 0;
        while (m < 3 && strcmp(mode, overlay_names[m]) != 0)
            m++;
        if (m == 3) {
            fail(err, errlen, "unknown overlay mode \"%s\" (kind, class or age)",
                 shown(mode, buf, sizeof buf));
            goto out;
        }
        out->overlay = (enum overlay_mode)m;
        break;
    }
    case REQ_CELL:
        if (get_count(o, "lane", 0, UINT32_MAX, &v, err, errlen) <= 0) {
            if (!err[0]) fail(err, errlen, "cell needs lane and cell");
            goto out;
        }
        out->lane = (uint32_t)v;
        if (get_count(o, "cell", 0, UINT32_MAX, &v, err, errlen) <= 0) {
            if (!err[0]) fail(err, errlen, "cell needs lane and cell");
            goto out;
        }
        out->cell = (uint32_t)v;
        out->has_tick = get_count(o, "tick", 0, UINT32_MAX, &v, err, errlen);
        if (out->has_tick < 0) goto out;
        out->tick = out->has_tick ? (uint32_t)v : 0;
        break;
    default:
        break;
    }
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

void server_limits_default(struct server_limits *l)
{
    *l = (struct server_limits){
        .ops_max = 2000000,
        .arena_min = (uint64_t)64 << 10,
        .arena_max = (uint64_t)256 << 20,
        .tick_every_min = 50,
        .sessions_max = 4,
        .clients_max = 32,
        .upload_bytes = (uint64_t)64 << 20,
        .uploads_max = 8,
        .ring_bytes = (uint64_t)64 << 20,
        .detail_bytes = (uint64_t)32 << 20,
        .tps_max = 240,
        .message_bytes = 64 << 10,
        .lanes_max = RACE_MAX_LANES,
    };
}

int request_upload(const void *data, size_t len, const char *name, struct upload_info *info,
                   struct diag *d)
{
    struct opstream s;
    struct replay_stats st;
    memset(info, 0, sizeof *info);
    if (replay_stream_mem(data, len, name, &s, &st, d) != 0) return -1;
    info->events = st.events;
    info->ops = opstream_ops(&s);
    info->threads = (unsigned)st.threads;
    trace_damage_format(&st.trace, info->damage, sizeof info->damage);
    opstream_destroy(&s);
    return 0;
}
