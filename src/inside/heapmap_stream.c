/*
 * inside/heapmap_stream.c: one snapshot as one line of JSON written to a file descriptor
 * while the pass runs (`heaplab serve`'s real allocators view, docs/serve.md).
 *
 * Unlike heapmap_json.c this runs inside the measured process between two ops, so it must
 * not call malloc: the text is formatted with snprintf into a buffer on the stack and
 * written with write(2) as the buffer fills. The fields and their names are those of a
 * snapshot in the results (docs/results.md), less the RSS cross-check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "inside/inside.h"
#include "util/osmem.h"

#define OUT_BUF 4096

struct out {
    int fd;
    int failed; /* a write failed: errno says why, nothing more is written */
    size_t n;
    char buf[OUT_BUF];
};

static void out_flush(struct out *o)
{
    size_t off = 0;
    while (!o->failed && off < o->n) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            o->failed = 1;
            break;
        }
        off += (size_t)w;
    }
    o->n = 0;
}

static void out_bytes(struct out *o, const char *p, size_t len)
{
    while (len > 0) {
        if (o->n == OUT_BUF) out_flush(o);
        size_t k = OUT_BUF - o->n < len ? OUT_BUF - o->n : len;
        memcpy(o->buf + o->n, p, k);
        o->n += k;
        p += k;
        len -= k;
    }
}

__attribute__((format(printf, 2, 3))) static void out_fmt(struct out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) out_bytes(o, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* `s` as a JSON string: quotes, backslashes and control characters escaped. */
static void out_str(struct out *o, const char *s)
{
    out_bytes(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            out_fmt(o, "\\%c", c);
        else if (c < 0x20)
            out_fmt(o, "\\u%04x", c);
        else
            out_bytes(o, s, 1);
    }
    out_bytes(o, "\"", 1);
}

static const char *const kind_names[] = { "brk", "anon", "reserved" };

static void out_region(struct out *o, const struct heapmap *hm, const struct heapmap_region *r)
{
    out_fmt(o, "{\"addr\":\"0x%llx\",\"bytes\":%llu,\"prot\":", (unsigned long long)r->start,
            (unsigned long long)r->bytes);
    out_str(o, r->prot);
    out_fmt(o, ",\"kind\":\"%s\",\"resident_bytes\":%llu,\"live_bytes\":%llu", kind_names[r->kind],
            (unsigned long long)r->resident_bytes, (unsigned long long)r->live_bytes);
    out_fmt(o, ",\"objects\":%llu,\"largest_object_bytes\":%llu,\"cells\":",
            (unsigned long long)r->objects, (unsigned long long)r->largest_bytes);
    if (r->text_len) { /* the encoding's letters and digits need no escaping */
        out_bytes(o, "\"", 1);
        out_bytes(o, heapmap_text(hm, r), r->text_len);
        out_bytes(o, "\"}", 2);
    } else {
        out_bytes(o, "null}", 5);
    }
}

static void out_totals(struct out *o, const struct heapmap_shot *s)
{
    out_fmt(o, ",\"ops\":%llu,\"cost_ns\":%llu,\"cell_bytes\":%llu,\"downsampled\":%s",
            (unsigned long long)s->ops, (unsigned long long)s->cost_ns,
            (unsigned long long)1 << s->cell_shift,
            ((size_t)1 << s->cell_shift) > osmem_page_size() ? "true" : "false");
    out_fmt(o, ",\"resident_known\":%s,\"mapped_bytes\":%llu,\"resident_bytes\":%llu",
            s->resident_known ? "true" : "false", (unsigned long long)s->mapped_bytes,
            (unsigned long long)s->resident_bytes);
    out_fmt(o, ",\"swapped_bytes\":%llu,\"live_bytes\":%llu,\"outside_bytes\":%llu",
            (unsigned long long)s->swapped_bytes, (unsigned long long)s->live_bytes,
            (unsigned long long)s->outside_bytes);
    out_fmt(o, ",\"objects\":%llu,\"excluded_bytes\":%llu", (unsigned long long)s->objects,
            (unsigned long long)s->excluded_bytes);
    out_fmt(o, ",\"cells\":{\"not_resident\":%llu,\"empty\":%llu,\"sparse\":%llu,\"dense\":%llu}",
            (unsigned long long)s->cells[HEAPMAP_NOT_RESIDENT],
            (unsigned long long)s->cells[HEAPMAP_EMPTY],
            (unsigned long long)s->cells[HEAPMAP_SPARSE],
            (unsigned long long)s->cells[HEAPMAP_DENSE]);
}

int heapmap_shot_write(const struct heapmap *hm, const struct heapmap_shot *s, int fd)
{
    struct out o = { .fd = fd };
    out_bytes(&o, "{\"label\":", 9);
    out_str(&o, s->label);
    out_totals(&o, s);
    if (s->note[0]) {
        out_bytes(&o, ",\"note\":", 8);
        out_str(&o, s->note);
    }
    out_bytes(&o, ",\"regions\":[", 12);
    const struct heapmap_region *regions = heapmap_regions(hm);
    for (size_t i = 0; i < s->n_regions; i++) {
        if (i) out_bytes(&o, ",", 1);
        out_region(&o, hm, &regions[s->first_region + i]);
    }
    out_bytes(&o, "]}\n", 3);
    out_flush(&o);
    return o.failed ? -1 : 0;
}
