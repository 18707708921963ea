/*
 * trace/writer.c: a whole heaplab.trace/1 file from a list of events, in memory. The tests
 * and the fuzzer's seeds use it; it encodes with the same functions as the recorder
 * (format.h), so a round trip through it tests what the recorder writes.
 */
#include <stdlib.h>
#include <string.h>

#include "trace/format.h"
#include "trace/trace.h"
#include "util/diag.h"

struct wchunk {
    uint64_t first_seq;
    uint32_t thread;
    size_t at, n; /* in the per-thread order array */
};

struct tpos {
    uint32_t thread;
    size_t i;
};

static int cmp_by_thread(const void *a, const void *b)
{
    const struct tpos *x = a, *y = b;
    if (x->thread != y->thread) return x->thread < y->thread ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_chunk(const void *a, const void *b)
{
    const struct wchunk *x = a, *y = b;
    if (x->first_seq != y->first_seq) return x->first_seq < y->first_seq ? -1 : 1;
    return x->thread < y->thread ? -1 : x->thread > y->thread;
}

static size_t str_bytes(const char *s)
{
    return s ? strlen(s) : 0;
}

/* The prefix and header fields into buf (room for `cap`); returns the bytes used. */
static size_t put_header(uint8_t *buf, size_t cap, const struct trace_header *h)
{
    uint8_t *p = buf + TF_PREFIX_BYTES, *end = buf + cap;
    if (h) {
        p = tf_put_field_str(p, end, TF_H_PROGRAM, h->program);
        size_t alen = 0;
        for (unsigned i = 0; i < h->argc && h->argv && h->argv[i]; i++)
            alen += strlen(h->argv[i]) + 1;
        if (alen && (size_t)(end - p) > alen + 20) {
            p = tf_put_varint(p, TF_H_ARGV);
            p = tf_put_varint(p, alen);
            for (unsigned i = 0; i < h->argc && h->argv[i]; i++) {
                size_t n = strlen(h->argv[i]) + 1;
                memcpy(p, h->argv[i], n);
                p += n;
            }
        }
        if (h->argv_truncated) p = tf_put_field_u64(p, end, TF_H_ARGV_TRUNC, 1);
        p = tf_put_field_u64(p, end, TF_H_PID, h->pid);
        p = tf_put_field_u64(p, end, TF_H_PPID, h->ppid);
        p = tf_put_field_u64(p, end, TF_H_REALTIME_NS, h->start_realtime_ns);
        p = tf_put_field_u64(p, end, TF_H_MONO_NS, h->start_mono_ns);
        const struct {
            unsigned key;
            const char *s;
        } strs[] = {
            { TF_H_SYSNAME, h->sysname },
            { TF_H_NODENAME, h->nodename },
            { TF_H_RELEASE, h->release },
            { TF_H_VERSION, h->version },
            { TF_H_MACHINE, h->machine },
            { TF_H_WRITER, h->writer },
            { TF_H_CLOCK, h->clock },
            { TF_H_RECORDER, h->recorder },
            { TF_H_NEXT_MALLOC, h->next_malloc },
        };
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
            if (str_bytes(strs[i].s)) p = tf_put_field_str(p, end, strs[i].key, strs[i].s);
        p = tf_put_field_u64(p, end, TF_H_BUFFER, h->buffer_bytes);
        if (h->session) p = tf_put_field_u64(p, end, TF_H_SESSION, h->session);
        if (h->forked) p = tf_put_field_u64(p, end, TF_H_FORK_SEQ, h->fork_seq);
        if (h->page_size) p = tf_put_field_u64(p, end, TF_H_PAGE_SIZE, h->page_size);
        if (h->pointer_bytes) p = tf_put_field_u64(p, end, TF_H_POINTER, h->pointer_bytes);
    }
    size_t body = (size_t)(p - buf) - TF_PREFIX_BYTES;
    tf_finish_header(buf, body);
    return (size_t)(p - buf);
}

static size_t header_room(const struct trace_header *h)
{
    size_t n = TF_PREFIX_BYTES + 1024;
    if (!h) return n;
    const char *strs[] = { h->program, h->sysname, h->nodename, h->release,  h->version,
                           h->machine, h->writer,  h->clock,    h->recorder, h->next_malloc };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        n += str_bytes(strs[i]) + 24;
    for (unsigned i = 0; i < h->argc && h->argv && h->argv[i]; i++)
        n += strlen(h->argv[i]) + 1;
    return n;
}

static int is_realloc(unsigned kind)
{
    return kind == TRACE_REALLOC || kind == TRACE_REALLOCARRAY;
}

int trace_write_mem(const struct trace_header *h, const struct trace_event *events, size_t n,
                    size_t chunk_events, unsigned end_reason, uint8_t **out, size_t *out_len,
                    struct diag *d)
{
    *out = NULL;
    *out_len = 0;
    if (chunk_events == 0 || chunk_events > (1u << 20)) chunk_events = 4096;
    struct tpos *tp = malloc((n ? n : 1) * sizeof(*tp));
    size_t *ord = malloc((n ? n : 1) * sizeof(*ord));
    struct wchunk *ch = malloc((n ? n : 1) * sizeof(*ch));
    if (!tp || !ord || !ch) {
        free(tp);
        free(ord);
        free(ch);
        return diag_set(d, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        tp[i] = (struct tpos){ .thread = events[i].thread, .i = i };
    qsort(tp, n, sizeof(*tp), cmp_by_thread);
    for (size_t i = 0; i < n; i++)
        ord[i] = tp[i].i;
    free(tp);

    /* Check each thread's order and cut it into chunks. */
    size_t nch = 0, threads = 0;
    for (size_t i = 0; i < n;) {
        uint32_t t = events[ord[i]].thread;
        if (t == TF_END_THREAD) {
            free(ord);
            free(ch);
            return diag_set(d, "thread index %u is reserved", t);
        }
        threads++;
        size_t j = i;
        uint64_t next = 0;
        for (; j < n && events[ord[j]].thread == t; j++) {
            const struct trace_event *e = &events[ord[j]];
            uint64_t last = is_realloc(e->kind) ? e->seq2 : e->seq;
            if (e->kind < 1 || e->kind > TRACE_KIND_MAX || e->seq < next || last < e->seq
                || last == UINT64_MAX || (is_realloc(e->kind) && e->seq2 == e->seq)) {
                size_t bad = ord[j];
                free(ord);
                free(ch);
                return diag_set(d, "event %zu (thread %u): bad kind or sequence order", bad, t);
            }
            next = last + 1;
        }
        for (size_t k = i; k < j; k += chunk_events) {
            size_t m = j - k < chunk_events ? j - k : chunk_events;
            ch[nch++] = (struct wchunk){
                .first_seq = events[ord[k]].seq, .thread = t, .at = k, .n = m
            };
        }
        i = j;
    }
    qsort(ch, nch, sizeof(*ch), cmp_chunk);

    size_t cap =
            header_room(h) + nch * TF_CHUNK_HDR + n * TF_MAX_EVENT + TF_CHUNK_HDR + TF_E_COUNT * 10;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        free(ord);
        free(ch);
        return diag_set(d, "out of memory");
    }
    size_t len = put_header(buf, cap, h);
    uint64_t last_ns = 0;
    for (size_t c = 0; c < nch; c++) {
        uint8_t *hdr = buf + len, *p = hdr + TF_CHUNK_HDR;
        const struct trace_event *first = &events[ord[ch[c].at]];
        struct tf_delta st;
        tf_delta_start(&st, first->ns);
        for (size_t k = 0; k < ch[c].n; k++) {
            const struct trace_event *e = &events[ord[ch[c].at + k]];
            struct tf_ev x = {
                .kind = e->kind,
                .zfree = (e->flags & TRACE_F_ZERO_FREED) != 0,
                .seq = e->seq,
                .seq2 = e->seq2,
                .ticks = e->ns,
                .ptr = e->ptr,
                .result = e->result,
                .size = e->size,
                .count = e->count,
                .align = e->align,
                .value = e->value,
                .mark = e->mark,
            };
            p = tf_put_event(p, &st, &x);
        }
        uint64_t close = st.ticks; /* the clamped time of the last event */
        if (close > last_ns) last_ns = close;
        struct tf_chunk hc = {
            .type = TF_CHUNK_EVENTS,
            .thread = ch[c].thread,
            .tid = first->tid,
            .events = (uint32_t)ch[c].n,
            .payload = (uint32_t)(p - hdr - TF_CHUNK_HDR),
            .open_ticks = first->ns,
            .open_ns = first->ns,
            .close_ticks = close,
            .close_ns = close,
        };
        hc.payload_crc = crc32c(hdr + TF_CHUNK_HDR, hc.payload);
        tf_chunk_pack(hdr, &hc);
        len = (size_t)(p - buf);
    }
    if (end_reason != TRACE_END_NONE) {
        uint8_t *hdr = buf + len, *p = hdr + TF_CHUNK_HDR;
        uint64_t v[TF_E_COUNT] = { 0 };
        v[TF_E_REASON] = end_reason;
        v[TF_E_EVENTS] = n;
        v[TF_E_CHUNKS] = nch;
        v[TF_E_THREADS] = threads;
        v[TF_E_NS] = last_ns;
        for (int i = 0; i < TF_E_COUNT; i++)
            p = tf_put_varint(p, v[i]);
        struct tf_chunk hc = {
            .type = TF_CHUNK_END,
            .thread = TF_END_THREAD,
            .payload = (uint32_t)(p - hdr - TF_CHUNK_HDR),
            .open_ns = last_ns,
            .close_ns = last_ns,
        };
        hc.payload_crc = crc32c(hdr + TF_CHUNK_HDR, hc.payload);
        tf_chunk_pack(hdr, &hc);
        len = (size_t)(p - buf);
    }
    free(ord);
    free(ch);
    *out = buf;
    *out_len = len;
    return 0;
}
