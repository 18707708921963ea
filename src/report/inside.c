/*
 * report/inside.c: a cell's inside sections (docs/inside.md) as a report page holds them
 * (docs/report.md, "Inside the allocators"): its heap maps re-encoded to fit the page, its
 * allocator's statistics in heaplab's vocabulary, its OS call counts.
 *
 * Heap maps. A results file keeps every page of every snapshot (heaplab.rle/1); a page could
 * not hold them all (a 100 MB heap is 25,600 pages a snapshot, and a cell has a dozen
 * snapshots). So each snapshot is drawn with squares of f cells, f the smallest power of two
 * that keeps it within 16,384 squares and its share of the page's budget of bytes for heap
 * maps (1 MiB, shared out among the snapshots of all cells), and a long stretch of cells not
 * resident with nothing live (address space reserved or purged) is folded into one token
 * that the page draws as one labelled line. A square of f cells is resident when at least
 * half of them are, of unknown residency when any is, and its bucket is the mean of theirs
 * rounded up (a square with anything live is never empty). The snapshot's totals and class
 * counts stay the results file's, exact.
 *
 * Statistics and OS calls are capped too (REPORT_STATS_BYTES, REPORT_OS_BYTES): a page of
 * many cells with many size classes could otherwise outgrow the maps. What is left out goes
 * in this order: the size classes of snapshots taken every K ops, those of snapshots at
 * marks, then a snapshot's figures, and a cell's OS calls; each with a note (report.h).
 *
 * Everything read here is checked: the reader validates no inside section, so a field of the
 * wrong type or malformed cells leave the part out with a note, never a crash.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

/* ---- heaplab.rle/1 ---------------------------------------------------------------------- */

/* One run of `in` at *pos: its count and letter; 0 at the end, -1 when malformed. */
static int next_run(const char *in, size_t *pos, size_t *count, char *letter)
{
    size_t i = *pos, n = 0, digits = 0;
    if (!in[i]) return 0;
    while (in[i] >= '0' && in[i] <= '9' && digits < 12) {
        n = n * 10 + (size_t)(in[i++] - '0');
        digits++;
    }
    char c = in[i];
    int ok = (c >= 'A' && c <= 'I') || (c >= 'a' && c <= 'i') || (c >= 'p' && c <= 'x');
    if (!ok || (digits && n == 0)) return -1;
    *count = digits ? n : 1;
    *letter = c;
    *pos = i + 1;
    return 1;
}

static int folds(char letter, size_t count, size_t fold_min)
{
    return letter == 'A' && count >= fold_min;
}

/* A square being filled: its cells, resident ones, unknown ones, bucket sum. */
struct square {
    size_t n, resident, unknown, buckets;
};

static void square_add(struct square *q, char letter, size_t count)
{
    q->n += count;
    if (letter >= 'A' && letter <= 'I') {
        q->buckets += (size_t)(letter - 'A') * count;
    } else if (letter >= 'a' && letter <= 'i') {
        q->resident += count;
        q->buckets += (size_t)(letter - 'a') * count;
    } else {
        q->unknown += count;
        q->buckets += (size_t)(letter - 'p') * count;
    }
}

static char square_letter(const struct square *q)
{
    char bucket = (char)((q->buckets + q->n - 1) / q->n);
    if (q->unknown) return (char)('p' + bucket);
    return (char)((2 * q->resident >= q->n ? 'a' : 'A') + bucket);
}

/* The output: runs of squares, and the text (NULL while only counting). */
struct rle_out {
    char *buf;
    size_t cap, len, squares;
    char letter;
    size_t run;
    int full;
};

static void out_text(struct rle_out *o, size_t count, char letter)
{
    char tmp[32];
    int n = count == 1 ? snprintf(tmp, sizeof tmp, "%c", letter)
                       : snprintf(tmp, sizeof tmp, "%zu%c", count, letter);
    if (o->buf && o->len + (size_t)n < o->cap)
        memcpy(o->buf + o->len, tmp, (size_t)n);
    else if (o->buf)
        o->full = 1;
    o->len += (size_t)n;
}

static void out_flush(struct rle_out *o)
{
    if (o->run) out_text(o, o->run, o->letter);
    o->run = 0;
}

/* k squares of one letter. */
static void out_squares(struct rle_out *o, char letter, size_t k)
{
    if (o->run && letter != o->letter) out_flush(o);
    o->letter = letter;
    o->run += k;
    o->squares += k;
}

static void out_square_done(struct rle_out *o, struct square *q)
{
    if (q->n) out_squares(o, square_letter(q), 1);
    memset(q, 0, sizeof *q);
}

long report_rle_fold(const char *in, size_t f, size_t fold_min, char *out, size_t cap,
                     size_t *squares)
{
    struct rle_out o = { .buf = out, .cap = cap };
    struct square q = { 0 };
    size_t pos = 0, count;
    char letter;
    int r;
    if (f == 0) return -1;
    while ((r = next_run(in, &pos, &count, &letter)) > 0) {
        if (folds(letter, count, fold_min)) {
            out_square_done(&o, &q);
            out_flush(&o);
            out_text(&o, count, '-');
            continue;
        }
        while (count) {
            size_t take = f - q.n < count ? f - q.n : count;
            if (q.n == 0 && count >= f) { /* whole squares of one letter */
                out_squares(&o, letter, count / f);
                count %= f;
                continue;
            }
            square_add(&q, letter, take);
            count -= take;
            if (q.n == f) out_square_done(&o, &q);
        }
    }
    if (r < 0) return -1;
    out_square_done(&o, &q);
    out_flush(&o);
    if (o.buf) {
        if (o.full) return -1;
        o.buf[o.len] = 0;
    }
    if (squares) *squares = o.squares;
    return (long)o.len;
}

/* ---- heap maps ------------------------------------------------------------------------ */

static int num(const cJSON *j, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) return 0;
    *v = x->valuedouble;
    return 1;
}

static const char *str(const cJSON *j, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Copy number `key` of `from` to `to` as `as` (null when absent or not a number). */
static void copy_num(cJSON *to, const char *as, const cJSON *from, const char *key)
{
    double v;
    cJSON_AddItemToObject(to, as, num(from, key, &v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static void copy_str(cJSON *to, const char *key, const cJSON *from)
{
    const char *s = str(from, key);
    if (s) cJSON_AddStringToObject(to, key, s);
}

static int ok_section(const cJSON *sec)
{
    const char *st = str(sec, "status");
    return cJSON_IsObject(sec) && st && strcmp(st, "ok") == 0;
}

static size_t snapshots_of(const cJSON *cell, const char *section)
{
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(cell, section);
    const cJSON *snaps = cJSON_GetObjectItemCaseSensitive(sec, "snapshots");
    return ok_section(sec) && cJSON_IsArray(snaps) ? (size_t)cJSON_GetArraySize(snaps) : 0;
}

/* The bytes `j` takes in the page (compact JSON); SIZE_MAX when out of memory. */
static size_t json_bytes(const cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    size_t n = text ? strlen(text) : SIZE_MAX;
    free(text);
    return n;
}

/* What a snapshot's regions (at most REPORT_MAP_REGIONS) cost drawn with squares of f
 * cells: squares, and bytes in the page (their text and REPORT_MAP_REGION_BYTES a region).
 * -1 when a region's cells are malformed or missing. */
static int snapshot_cost(const cJSON *regions, size_t f, size_t *squares, size_t *bytes)
{
    size_t i = 0, sq;
    const cJSON *r;
    *squares = *bytes = 0;
    cJSON_ArrayForEach(r, regions)
    {
        if (i++ == REPORT_MAP_REGIONS) break;
        const char *cells = str(r, "cells");
        long len = cells ? report_rle_fold(cells, f, REPORT_MAP_FOLD, NULL, 0, &sq) : -1;
        if (len < 0) return -1;
        *squares += sq;
        *bytes += (size_t)len + REPORT_MAP_REGION_BYTES;
    }
    return 0;
}

/* [[addr, bytes, kind, cells, largest_object_bytes], ...] of the regions, re-encoded with f; NULL when out of
 * memory or malformed. */
static cJSON *regions_json(const cJSON *regions, size_t f)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *r;
    size_t i = 0;
    cJSON_ArrayForEach(r, regions)
    {
        if (i++ == REPORT_MAP_REGIONS) break;
        const char *cells = str(r, "cells");
        long n = cells ? report_rle_fold(cells, f, REPORT_MAP_FOLD, NULL, 0, NULL) : -1;
        char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (!text || report_rle_fold(cells, f, REPORT_MAP_FOLD, text, (size_t)n + 1, NULL) < 0) {
            free(text);
            cJSON_Delete(out);
            return NULL;
        }
        cJSON *row = cJSON_CreateArray();
        const char *addr = str(r, "addr");
        double bytes = 0;
        num(r, "bytes", &bytes);
        cJSON_AddItemToArray(row, cJSON_CreateString(addr ? addr : "?"));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(bytes));
        const char *kind = str(r, "kind");
        double largest = 0;
        num(r, "largest_object_bytes", &largest);
        cJSON_AddItemToArray(row, cJSON_CreateString(kind ? kind : "anon"));
        cJSON_AddItemToArray(row, cJSON_CreateString(text));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(largest));
        cJSON_AddItemToArray(out, row);
        free(text);
    }
    return out;
}

/*
 * The snapshot's squares: f the smallest power of two that keeps them within
 * REPORT_MAP_SNAPSHOT squares and its share of the budget `b` (what is left over the
 * snapshots still to come, so what one leaves unused goes to those after it; a square a
 * region can hold no fewer), the regions added and their bytes charged; or a note why not.
 */
static void snapshot_map(cJSON *j, const cJSON *s, struct report_inside_budget *b)
{
    size_t share = b->snapshots > 1 ? b->left / b->snapshots : b->left;
    if (share < REPORT_MAP_SHARE_MIN) share = REPORT_MAP_SHARE_MIN;
    if (b->snapshots) b->snapshots--;
    const cJSON *regions = cJSON_GetObjectItemCaseSensitive(s, "regions");
    size_t f = 1, sq = 0, bytes = 0, last = (size_t)-1;
    const char *why = NULL;
    if (!cJSON_IsArray(regions) || snapshot_cost(regions, f, &sq, &bytes) != 0)
        why = "not drawn: its cells are not in the results file";
    while (!why && (sq > REPORT_MAP_SNAPSHOT || bytes > share) && sq < last) {
        last = sq;
        f *= 2;
        snapshot_cost(regions, f, &sq, &bytes);
    }
    if (!why && bytes > b->left) why = "not drawn: the page's budget for heap maps is spent";
    cJSON *rj = why ? NULL : regions_json(regions, f);
    if (!why && !rj) why = "not drawn: its cells are malformed";
    cJSON_AddNumberToObject(j, "f", (double)f);
    if (why) {
        cJSON_AddStringToObject(j, "map_note", why);
        return;
    }
    b->left -= bytes;
    int n = cJSON_GetArraySize(regions);
    if (n > REPORT_MAP_REGIONS)
        cJSON_AddNumberToObject(j, "regions_left_out", n - REPORT_MAP_REGIONS);
    cJSON_AddItemToObject(j, "regions", rj);
}

static cJSON *heapmap_snapshot(const cJSON *s, struct report_inside_budget *b)
{
    static const char *const counts[] = { "not_resident", "empty", "sparse", "dense" };
    cJSON *j = cJSON_CreateObject();
    copy_str(j, "label", s);
    copy_num(j, "ops", s, "ops");
    copy_num(j, "cell_bytes", s, "cell_bytes");
    cJSON *ds = cJSON_GetObjectItemCaseSensitive(s, "downsampled");
    cJSON_AddBoolToObject(j, "downsampled", cJSON_IsTrue(ds));
    cJSON *known = cJSON_GetObjectItemCaseSensitive(s, "resident_known");
    cJSON_AddBoolToObject(j, "known", !cJSON_IsFalse(known));
    copy_num(j, "mapped", s, "mapped_bytes");
    copy_num(j, "resident", s, "resident_bytes");
    copy_num(j, "live", s, "live_bytes");
    cJSON *cn = cJSON_AddArrayToObject(j, "counts");
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(s, "cells");
    for (size_t k = 0; k < 4; k++) {
        double v;
        cJSON_AddItemToArray(cn, num(cells, counts[k], &v) ? cJSON_CreateNumber(v)
                                                           : cJSON_CreateNull());
    }
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(s, "rss_check");
    if (cJSON_IsObject(rc))
        cJSON_AddBoolToObject(j, "rss_agree",
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rc, "agree")));
    copy_str(j, "note", s);
    snapshot_map(j, s, b);
    return j;
}

static cJSON *heapmap_json(const cJSON *hm, struct report_inside_budget *b)
{
    cJSON *j = cJSON_CreateObject();
    copy_str(j, "status", hm);
    copy_str(j, "note", hm);
    if (!ok_section(hm)) return j;
    copy_num(j, "page_bytes", hm, "page_bytes");
    copy_num(j, "dropped", hm, "snapshots_dropped");
    cJSON *arr = cJSON_AddArrayToObject(j, "snaps");
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(hm, "snapshots"))
    {
        if (cJSON_IsObject(s)) cJSON_AddItemToArray(arr, heapmap_snapshot(s, b));
    }
    return j;
}

/* ---- statistics ----------------------------------------------------------------------- */

/*
 * Size classes, what the fill bars need: {n: classes listed, free: whether their free
 * objects are counted, fill: [[size, objects_live, capacity], ...] of those that hold
 * blocks (capacity > 0)}; null when the allocator lists none.
 */
static cJSON *classes_json(const cJSON *classes)
{
    if (!cJSON_IsArray(classes)) return cJSON_CreateNull();
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "n", cJSON_GetArraySize(classes));
    cJSON *fill = cJSON_CreateArray();
    const cJSON *c;
    int with_free = 0;
    cJSON_ArrayForEach(c, classes)
    {
        double size, live, cap, fr;
        with_free |= num(c, "objects_free", &fr);
        if (!num(c, "size_bytes", &size) || !num(c, "objects_live", &live)
            || !num(c, "capacity", &cap) || cap <= 0)
            continue;
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateNumber(size));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(live));
        cJSON_AddItemToArray(row, cJSON_CreateNumber(cap));
        cJSON_AddItemToArray(fill, row);
    }
    cJSON_AddBoolToObject(out, "free", with_free);
    cJSON_AddItemToObject(out, "fill", fill);
    return out;
}

static const char *const stats_fields[] = {
    "live_bytes",     "allocated_bytes", "active_bytes",       "resident_bytes",  "mapped_bytes",
    "retained_bytes", "metadata_bytes",  "thread_cache_bytes", "free_pages_bytes"
};

/* Results statistics snapshot `s` as the page holds it. */
static cJSON *stats_snapshot(const cJSON *s)
{
    cJSON *o = cJSON_CreateObject();
    copy_str(o, "label", s);
    copy_num(o, "ops", s, "ops");
    for (size_t k = 0; k < sizeof stats_fields / sizeof stats_fields[0]; k++)
        copy_num(o, stats_fields[k], s, stats_fields[k]);
    cJSON_AddItemToObject(o, "classes",
                          classes_json(cJSON_GetObjectItemCaseSensitive(s, "classes")));
    copy_str(o, "note", s);
    return o;
}

static int is_every(const cJSON *o)
{
    const char *l = str(o, "label");
    return l && strcmp(l, "every") == 0;
}

/* Snapshot `o` without its size classes, saying so; its bytes now. */
static size_t drop_classes(cJSON *o)
{
    if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "classes"))) {
        cJSON_ReplaceItemInObjectCaseSensitive(o, "classes", cJSON_CreateNull());
        cJSON_AddStringToObject(o, "capped",
                                "size classes left out: the page's budget for statistics is spent");
    }
    return json_bytes(o);
}

/* The bytes snapshot `o` takes without its classes (drop_classes's, its note included). */
static size_t bare_bytes(const cJSON *o)
{
    cJSON *copy = cJSON_Duplicate(o, 1);
    size_t n = copy ? drop_classes(copy) : SIZE_MAX;
    cJSON_Delete(copy);
    return n;
}

static size_t minus(size_t a, size_t b)
{
    return a > b ? a - b : 0;
}

/* Whether snapshot `o` (`full` bytes with its classes, `bare` without) keeps its classes
 * within `b`, the snapshot already taken off what is still to come. */
static int keeps_classes(const cJSON *o, size_t full, size_t bare, struct report_inside_budget *b,
                         size_t share)
{
    if (bare >= full) return 1; /* no classes, or fewer bytes than the note */
    if (b->stats_left >= full + b->stats_marks_full + b->stats_every_full)
        return 1; /* everything to come fits whole */
    size_t rest = b->stats_marks_full + b->stats_every_bare;
    if (!is_every(o)) return b->stats_left >= full + rest || full <= share;
    size_t spare = minus(b->stats_left, bare + rest);
    return full - bare <= spare / (b->stats_every_count + 1); /* its share of the spare */
}

/*
 * Statistics snapshot `o` within `b`, charged to it (the rule is report.h's, above
 * REPORT_STATS_BYTES). One over what is left keeps its label and ops only. Each says why in
 * `capped`.
 */
static cJSON *stats_capped(cJSON *o, struct report_inside_budget *b)
{
    size_t share = b->stats_snapshots > 1 ? b->stats_left / b->stats_snapshots : b->stats_left;
    if (b->stats_snapshots) b->stats_snapshots--;
    size_t full = json_bytes(o), bare = bare_bytes(o), cost = full;
    if (is_every(o)) {
        b->stats_every_full = minus(b->stats_every_full, full);
        b->stats_every_bare = minus(b->stats_every_bare, bare);
        b->stats_every_count = minus(b->stats_every_count, 1);
    } else {
        b->stats_marks_full = minus(b->stats_marks_full, full);
    }
    if (!keeps_classes(o, full, bare, b, share)) cost = drop_classes(o);
    if (cost > b->stats_left) {
        cJSON *short_o = cJSON_CreateObject();
        copy_str(short_o, "label", o);
        copy_num(short_o, "ops", o, "ops");
        cJSON_AddStringToObject(short_o, "capped",
                                "not shown: the page's budget for statistics is spent");
        cJSON_Delete(o);
        o = short_o;
        cost = json_bytes(o);
    }
    b->stats_left = minus(b->stats_left, cost);
    return o;
}

static cJSON *stats_json(const cJSON *st, struct report_inside_budget *b)
{
    cJSON *j = cJSON_CreateObject();
    copy_str(j, "status", st);
    copy_str(j, "note", st);
    if (!ok_section(st)) return j;
    copy_str(j, "source", st);
    cJSON_AddBoolToObject(j, "exposed",
                          !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st, "exposed")));
    cJSON *arr = cJSON_AddArrayToObject(j, "snaps");
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(st, "snapshots"))
    {
        if (cJSON_IsObject(s)) cJSON_AddItemToArray(arr, stats_capped(stats_snapshot(s), b));
    }
    return j;
}

void report_inside_count(const cJSON *cell, struct report_inside_budget *b)
{
    b->snapshots += snapshots_of(cell, "heapmap");
    b->stats_snapshots += snapshots_of(cell, "alloc_stats");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "alloc_stats");
    if (!ok_section(st)) return;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(st, "snapshots"))
    {
        if (!cJSON_IsObject(s)) continue;
        cJSON *o = stats_snapshot(s);
        size_t full = json_bytes(o);
        if (is_every(o)) {
            b->stats_every_full += full;
            b->stats_every_bare += bare_bytes(o);
            b->stats_every_count++;
        } else {
            b->stats_marks_full += full;
        }
        cJSON_Delete(o);
    }
}

/* ---- OS calls ------------------------------------------------------------------------- */

/* {call: [count, time_ns, bytes, errors], ...}; madvise's by_advice and futex's by_op as
 * {name: count} beside. */
static cJSON *calls_json(const cJSON *calls, cJSON *by)
{
    static const char *const names[] = { "mmap", "munmap", "mremap",  "madvise",
                                         "brk",  "futex",  "mprotect" };
    static const char *const keys[] = { "count", "time_ns", "bytes", "errors" };
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(calls, names[i]);
        if (!cJSON_IsObject(c)) continue;
        cJSON *row = cJSON_CreateArray();
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            double v;
            cJSON_AddItemToArray(row,
                                 num(c, keys[k], &v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
        }
        cJSON_AddItemToObject(out, names[i], row);
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(c, i == 3 ? "by_advice" : "by_op");
        if (!by || !cJSON_IsObject(sub)) continue;
        cJSON *b = cJSON_AddObjectToObject(by, names[i]);
        const cJSON *x;
        cJSON_ArrayForEach(x, sub)
        {
            double v;
            if (num(x, "count", &v))
                cJSON_AddNumberToObject(b, x->string, v);
            else if (cJSON_IsNumber(x))
                cJSON_AddNumberToObject(b, x->string, x->valuedouble);
        }
    }
    return out;
}

static cJSON *os_json(const cJSON *os)
{
    cJSON *j = cJSON_CreateObject();
    copy_str(j, "status", os);
    copy_str(j, "note", os);
    if (!ok_section(os)) return j;
    copy_str(j, "method", os);
    copy_num(j, "floor_ns", os, "floor_ns");
    copy_num(j, "pass_ns", os, "pass_ns");
    copy_num(j, "minor_faults", os, "minor_faults");
    copy_num(j, "major_faults", os, "major_faults");
    cJSON *by = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "calls",
                          calls_json(cJSON_GetObjectItemCaseSensitive(os, "calls"), by));
    cJSON_AddItemToObject(j, "by", by);
    cJSON_AddItemToObject(j, "background",
                          calls_json(cJSON_GetObjectItemCaseSensitive(os, "background"), NULL));
    return j;
}

/* A cell's OS calls `o` charged to `b`, or in their place a note when over what is left. */
static cJSON *os_capped(cJSON *o, struct report_inside_budget *b)
{
    size_t cost = json_bytes(o);
    if (cost <= b->os_left) {
        b->os_left -= cost;
        return o;
    }
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "capped");
    cJSON_AddStringToObject(o, "note", "not shown: the page's budget for OS calls is spent");
    return o;
}

cJSON *report_inside(const cJSON *cell, struct report_inside_budget *b)
{
    const cJSON *hm = cJSON_GetObjectItemCaseSensitive(cell, "heapmap");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cell, "alloc_stats");
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(cell, "os_calls");
    if (!cJSON_IsObject(hm) && !cJSON_IsObject(st) && !cJSON_IsObject(os)) return NULL;
    cJSON *j = cJSON_CreateObject();
    if (cJSON_IsObject(hm)) cJSON_AddItemToObject(j, "heapmap", heapmap_json(hm, b));
    if (cJSON_IsObject(st)) cJSON_AddItemToObject(j, "stats", stats_json(st, b));
    if (cJSON_IsObject(os)) cJSON_AddItemToObject(j, "os", os_capped(os_json(os), b));
    return j;
}
