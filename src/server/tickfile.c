/*
 * server/tickfile.c: reading tick files for `heaplab serve --ticks` (tickfile.h).
 */
#include "server/tickfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "heaplab/lab.h"
#include "race/race.h"
#include "server/frame.h"
#include "util/diag.h"

#define TICKFILE_MAX_BYTES ((size_t)2 << 30) /* a larger file is refused */

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long tickfile_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad) return -1; /* data after padding */
                v[k] = b64_value((unsigned char)s[i + k]);
                if (v[k] < 0) return -1;
            }
        }
        uint32_t x =
                (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t take = 3 - (size_t)pad;
        if (o + take > cap) return -1;
        for (size_t k = 0; k < take; k++)
            out[o++] = (uint8_t)(x >> (16 - 8 * k));
    }
    return (long)o;
}

size_t tickfile_b64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t take = n - i < 3 ? n - i : 3;
        uint32_t v = (uint32_t)in[i] << 16;
        if (take > 1) v |= (uint32_t)in[i + 1] << 8;
        if (take > 2) v |= in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = take > 1 ? tab[v >> 6 & 63] : '=';
        out[o++] = take > 2 ? tab[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

/* A number field that must be a whole number in [lo, hi]. */
static int get_u(const cJSON *o, const char *name, uint64_t lo, uint64_t hi, uint64_t *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(it) || it->valuedouble < (double)lo || it->valuedouble > (double)hi)
        return -1;
    *v = (uint64_t)it->valuedouble;
    return 0;
}

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) && t->valuestring ? t->valuestring : "";
}

static int parse_header(cJSON *h, struct tickfile *tf, struct diag *d)
{
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(h, "schema");
    if (schema == NULL) schema = cJSON_GetObjectItemCaseSensitive(h, "format");
    if (!cJSON_IsString(schema) || strcmp(type_of(h), "race") != 0)
        return diag_set(d, "line 1: not a tick file header (no type race with a schema)");
    if (strcmp(schema->valuestring, "heaplab.ticks/1") != 0
        && strcmp(schema->valuestring, "heaplab.ticks/2") != 0)
        return diag_set(d, "line 1: schema \"%.40s\" is not heaplab.ticks/1 or /2",
                        schema->valuestring);
    snprintf(tf->format, sizeof tf->format, "%s", schema->valuestring);
    uint64_t cells, arena;
    if (get_u(h, "cells", 1, LAB_MAX_CELLS, &cells) != 0)
        return diag_set(d, "line 1: cells must be 1..%u", LAB_MAX_CELLS);
    if (get_u(h, "arena_bytes", 1, UINT64_MAX >> 12, &arena) != 0)
        return diag_set(d, "line 1: no arena_bytes");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(h, "allocators");
    int n = cJSON_IsArray(al) ? cJSON_GetArraySize(al) : 0;
    if (n < 1 || n > RACE_MAX_LANES)
        return diag_set(d, "line 1: allocators must list 1 to %d allocators", RACE_MAX_LANES);
    const cJSON *it;
    cJSON_ArrayForEach(it, al)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (!cJSON_IsString(name)) return diag_set(d, "line 1: an allocator without a name");
    }
    tf->cells = (uint32_t)cells;
    tf->nlanes = (uint32_t)n;
    return 0;
}

/* A tick line: its maps into `maps`, the `tick` frame's text into *json. */
static int parse_tick(cJSON *t, struct tickfile *tf, uint32_t index, uint8_t *maps, char **json,
                      size_t *json_len, uint64_t *op, struct diag *d, size_t line)
{
    if (get_u(t, "op", 0, UINT64_MAX >> 12, op) != 0)
        return diag_set(d, "line %zu: a tick without its op", line);
    cJSON *al = cJSON_GetObjectItemCaseSensitive(t, "allocators");
    if (!cJSON_IsArray(al) || (uint32_t)cJSON_GetArraySize(al) != tf->nlanes)
        return diag_set(d, "line %zu: the tick does not have the header's %u allocators", line,
                        tf->nlanes);
    size_t packed = frame_packed_bytes(tf->cells);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(tf->header, "allocators");
    uint32_t k = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, al)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *want =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(names, (int)k), "name");
        if (!cJSON_IsString(name) || strcmp(name->valuestring, want->valuestring) != 0)
            return diag_set(d, "line %zu: allocator %u is not %.40s as in the header", line, k,
                            want->valuestring);
        const cJSON *cells = cJSON_GetObjectItemCaseSensitive(it, "cells");
        if (!cJSON_IsString(cells))
            return diag_set(d, "line %zu: allocator %u has no cells", line, k);
        long got = tickfile_b64_decode(cells->valuestring, strlen(cells->valuestring),
                                       maps + k * packed, packed);
        if (got != (long)packed)
            return diag_set(d, "line %zu: allocator %u: cells is not a base64 map of %u cells",
                            line, k, tf->cells);
        /* The bits past the last cell must be 0 (frame.h). */
        if (tf->cells % 4)
            maps[k * packed + packed - 1] &= (uint8_t)((1u << (2 * (tf->cells % 4))) - 1);
        cJSON_DeleteItemFromObjectCaseSensitive(it, "cells");
        k++;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(t, "tick");
    cJSON_AddNumberToObject(t, "tick", index);
    *json = cJSON_PrintUnformatted(t);
    if (*json == NULL) return diag_set(d, "out of memory");
    *json_len = strlen(*json);
    return 0;
}

int tickfile_parse(const char *text, size_t len, struct tickfile *tf, struct diag *d)
{
    memset(tf, 0, sizeof *tf);
    uint8_t *maps = NULL;
    size_t line = 0;
    const char *p = text, *end = text + len;
    int rc = -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        if (stop == p) { /* an empty line (the last one) */
            p = stop + 1;
            continue;
        }
        if (tf->end_json) {
            diag_set(d, "line %zu: a line after the end line", line);
            goto out;
        }
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(stop - p));
        p = stop + 1;
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            diag_set(d, "line %zu: not a JSON object", line);
            goto out;
        }
        if (tf->header == NULL) {
            tf->header = o;
            if (parse_header(o, tf, d) != 0) goto out;
            size_t packed = frame_packed_bytes(tf->cells);
            maps = malloc((size_t)tf->nlanes * packed);
            if (!maps || ring_init(&tf->ring, tf->nlanes, tf->cells, SIZE_MAX, 32) != 0) {
                diag_set(d, "out of memory");
                goto out;
            }
            continue;
        }
        const char *type = type_of(o);
        if (strcmp(type, "tick") == 0) {
            char *json = NULL;
            size_t jl = 0;
            uint64_t op = 0;
            int bad = parse_tick(o, tf, tf->ticks, maps, &json, &jl, &op, d, line);
            cJSON_Delete(o);
            if (bad) goto out;
            if (tf->ticks && op < tf->ops_last) {
                free(json);
                diag_set(d, "line %zu: op %llu goes back", line, (unsigned long long)op);
                goto out;
            }
            int pushed = ring_push(&tf->ring, tf->ticks, op, maps, json, jl);
            free(json);
            if (pushed != 0) {
                diag_set(d, "out of memory");
                goto out;
            }
            tf->ops_last = op;
            tf->ticks++;
        } else if (strcmp(type, "end") == 0) {
            if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "leaderboard"))) {
                cJSON_Delete(o);
                diag_set(d, "line %zu: an end line without a leaderboard", line);
                goto out;
            }
            tf->end_json = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (tf->end_json == NULL) {
                diag_set(d, "out of memory");
                goto out;
            }
        } else {
            diag_set(d, "line %zu: unknown line type \"%.20s\"", line, type);
            cJSON_Delete(o);
            goto out;
        }
    }
    if (tf->header == NULL)
        diag_set(d, "empty file");
    else if (tf->ticks == 0)
        diag_set(d, "no tick lines");
    else
        rc = 0;
out:
    free(maps);
    if (rc != 0) tickfile_fini(tf);
    return rc;
}

int tickfile_read(const char *path, struct tickfile *tf, char **text, size_t *len, struct diag *d)
{
    struct diag why = { { 0 } };
    FILE *fp = fopen(path, "rb");
    struct stat st;
    if (fp == NULL) return diag_set(d, "%s: %s", path, strerror(errno));
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return diag_set(d, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > TICKFILE_MAX_BYTES) {
        fclose(fp);
        return diag_set(d, "%s: larger than %zu bytes", path, TICKFILE_MAX_BYTES);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (buf == NULL || fread(buf, 1, n, fp) != n) {
        fclose(fp);
        free(buf);
        return diag_set(d, "%s: cannot read it", path);
    }
    fclose(fp);
    buf[n] = 0;
    if (tickfile_parse(buf, n, tf, &why) != 0) {
        free(buf);
        return diag_set(d, "%s: %s", path, why.msg);
    }
    *text = buf;
    *len = n;
    return 0;
}

void tickfile_fini(struct tickfile *tf)
{
    cJSON_Delete(tf->header);
    free(tf->end_json);
    if (tf->ring.last) ring_fini(&tf->ring);
    memset(tf, 0, sizeof *tf);
}
