/*
 * trace/reader.c: reading heaplab.trace/1 files (trace.h has the contract, format.h the
 * layout). trace_open() parses the header, then scans the chunks once: each candidate's
 * header and payload checksums are checked and its events fully decoded, and only chunks
 * that pass are put in the index. Iteration decodes the indexed chunks again, one event at a
 * time, so it needs no memory per event.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/format.h"
#include "trace/trace.h"
#include "util/diag.h"

__extension__ typedef unsigned __int128 u128;

/* A valid event chunk. */
struct chunk_ref {
    uint64_t off; /* of its header */
    uint64_t first_seq, last_seq;
    uint64_t open_ticks, open_ns, close_ticks, close_ns;
    uint32_t thread, tid, events, payload;
    uint32_t tslot; /* its thread's position in r->threads */
};

/* Decoding position inside one chunk. */
struct cursor {
    const struct chunk_ref *c;
    const uint8_t *p, *end;
    uint32_t left;
    struct tf_delta st;
};

/* A thread's stream in sequence order: its chunks perm[first..first+n), in file order. */
struct tstream {
    size_t first, n, at;
    struct cursor cur;
    struct trace_event next;
    int has;
};

struct trace_reader {
    const uint8_t *data;
    size_t len;
    void *map; /* mmap'd file, or NULL */
    size_t map_len;
    void *owned; /* malloc'd copy of a non-regular file, or NULL */
    struct trace_header h;
    char *arena; /* header strings */
    const char **argv;
    struct trace_status st;

    struct chunk_ref *chunks;
    size_t n_chunks, cap_chunks;
    struct trace_thread *threads; /* by index once the scan is done */
    uint64_t *thread_last;        /* during the scan: last seq per slot */
    size_t n_threads, cap_threads;
    uint32_t *tmap; /* open-addressing map thread index -> slot + 1 (scan only) */
    size_t tmap_cap;
    uint32_t *perm; /* chunk numbers grouped by thread (sequence order) */

    enum trace_order order;
    size_t file_at; /* next chunk number (file order) */
    struct cursor fcur;
    struct tstream *ts;
    uint32_t *heap; /* thread slots ordered by their next event */
    size_t heap_n;
};

/* ---- events ------------------------------------------------------------------------- */

static uint64_t ticks_to_ns(const struct chunk_ref *c, uint64_t t)
{
    uint64_t dt = t - c->open_ticks;
    uint64_t span_t = c->close_ticks > c->open_ticks ? c->close_ticks - c->open_ticks : 0;
    uint64_t span_ns = c->close_ns > c->open_ns ? c->close_ns - c->open_ns : 0;
    if (span_t == 0) return c->open_ns;
    u128 x = (u128)dt * span_ns / span_t;
    if (x > (u128)(UINT64_MAX - c->open_ns)) return UINT64_MAX;
    return c->open_ns + (uint64_t)x;
}

static int get_ptr(struct cursor *k, int raw, uint64_t *out)
{
    uint64_t u;
    if (tf_get_varint(&k->p, k->end, &u) != 0) return -1;
    uint64_t d = tf_unzigzag(u);
    *out = raw ? k->st.ptr + d : ((k->st.ptr >> 4) + d) << 4;
    k->st.ptr = *out;
    return 0;
}

static int get_seq(struct cursor *k, uint64_t *out)
{
    uint64_t d;
    if (tf_get_varint(&k->p, k->end, &d) != 0) return -1;
    uint64_t s = k->st.seq + d;
    if (s < k->st.seq || s == UINT64_MAX) return -1;
    *out = s;
    k->st.seq = s + 1;
    return 0;
}

/* Decode the cursor's next event: 0, or -1 when the bytes are not a valid event. */
static int get_event(struct cursor *k, struct trace_event *ev)
{
    const uint8_t *end = k->end;
    if (k->p >= end) return -1;
    unsigned tag = *k->p++;
    unsigned kind = tag & TF_TAG_KIND;
    int null = (tag & TF_TAG_NULL) != 0, raw = (tag & TF_TAG_RAWPTR) != 0;
    if ((tag & TF_TAG_RESERVED) || kind < 1 || kind > TRACE_KIND_MAX) return -1;
    if ((tag & TF_TAG_ZFREE) && ((kind != TRACE_REALLOC && kind != TRACE_REALLOCARRAY) || !null))
        return -1;
    int ptrs = tf_kind_has_ptr(kind) || tf_kind_has_result(kind);
    if (!ptrs && (null || raw)) return -1;

    memset(ev, 0, sizeof(*ev));
    ev->count = 1;
    ev->kind = (uint16_t)kind;
    ev->thread = k->c->thread;
    ev->tid = k->c->tid;
    if (null) ev->flags |= TRACE_F_NULL;
    if (tag & TF_TAG_ZFREE) ev->flags |= TRACE_F_ZERO_FREED;
    if (get_seq(k, &ev->seq) != 0) return -1;
    ev->seq2 = ev->seq;
    uint64_t dt, v = 0;
    if (tf_get_varint(&k->p, end, &dt) != 0) return -1;
    uint64_t t = k->st.ticks + dt;
    if (t < k->st.ticks) return -1;
    k->st.ticks = t;
    ev->ns = ticks_to_ns(k->c, t);

    int bad = 0;
    switch (kind) {
    case TRACE_MALLOC:
    case TRACE_VALLOC:
    case TRACE_PVALLOC:
        bad = tf_get_varint(&k->p, end, &ev->size);
        break;
    case TRACE_CALLOC:
        bad = tf_get_varint(&k->p, end, &ev->count) || tf_get_varint(&k->p, end, &ev->size);
        break;
    case TRACE_REALLOC:
    case TRACE_REALLOCARRAY:
        bad = get_ptr(k, raw, &ev->ptr);
        if (!bad && kind == TRACE_REALLOCARRAY) bad = tf_get_varint(&k->p, end, &ev->count);
        bad = bad || tf_get_varint(&k->p, end, &ev->size) || get_seq(k, &ev->seq2);
        break;
    case TRACE_POSIX_MEMALIGN:
    case TRACE_ALIGNED_ALLOC:
    case TRACE_MEMALIGN:
        bad = tf_get_varint(&k->p, end, &ev->align) || tf_get_varint(&k->p, end, &ev->size);
        if (!bad && kind == TRACE_POSIX_MEMALIGN && null)
            bad = tf_get_varint(&k->p, end, &ev->value);
        break;
    case TRACE_FREE:
        break;
    case TRACE_FREE_SIZED:
        bad = tf_get_varint(&k->p, end, &ev->size);
        break;
    case TRACE_FREE_ALIGNED_SIZED:
        bad = tf_get_varint(&k->p, end, &ev->align) || tf_get_varint(&k->p, end, &ev->size);
        break;
    case TRACE_THREAD:
        bad = tf_get_varint(&k->p, end, &ev->value);
        break;
    case TRACE_MARK:
        bad = tf_get_varint(&k->p, end, &v) || tf_get_varint(&k->p, end, &ev->value);
        if (!bad && v > UINT32_MAX) bad = 1;
        ev->mark = (uint32_t)v;
        break;
    default:
        return -1;
    }
    if (bad) return -1;
    if (tf_kind_is_free(kind) && !null && get_ptr(k, raw, &ev->ptr) != 0) return -1;
    if (tf_kind_has_result(kind) && !null && get_ptr(k, raw, &ev->result) != 0) return -1;
    if (kind == TRACE_POSIX_MEMALIGN && !null) ev->value = 0;
    return 0;
}

static void cursor_open(const struct trace_reader *r, struct cursor *k, const struct chunk_ref *c)
{
    k->c = c;
    k->p = r->data + c->off + TF_CHUNK_HDR;
    k->end = k->p + c->payload;
    k->left = c->events;
    tf_delta_start(&k->st, c->open_ticks);
}

/* The cursor's next event: 1, or 0 when the chunk is done (or, defensively, bad). */
static int cursor_next(struct cursor *k, struct trace_event *ev)
{
    if (!k->c || k->left == 0) return 0;
    if (get_event(k, ev) != 0) {
        k->left = 0;
        return 0;
    }
    k->left--;
    return 1;
}

/* ---- header ------------------------------------------------------------------------- */

static const char *arena_str(char **arena, const uint8_t *b, size_t n)
{
    char *s = *arena;
    memcpy(s, b, n);
    s[n] = 0;
    *arena += n + 1;
    return s;
}

static int field_u64(const uint8_t *b, size_t n, uint64_t *v)
{
    const uint8_t *p = b;
    return tf_get_varint(&p, b + n, v) == 0 && p == b + n ? 0 : -1;
}

static int parse_header(struct trace_reader *r, struct diag *d)
{
    const uint8_t *p = r->data;
    size_t len = r->len;
    if (len == 0) return diag_set(d, "empty file");
    size_t m = len < 8 ? len : 8;
    if (memcmp(p, TF_MAGIC, m) != 0)
        return diag_set(d, "not a heaplab trace (no %s magic at the start)", TRACE_FORMAT);
    if (len < TF_PREFIX_BYTES)
        return diag_set(d, "truncated header (the file has only %zu bytes)", len);
    struct trace_header *h = &r->h;
    h->version_major = tf_rd16(p + 8);
    h->version_minor = tf_rd16(p + 10);
    if (h->version_major != TRACE_VERSION_MAJOR)
        return diag_set(d, "unsupported trace format version %u.%u (this heaplab reads %u.x)",
                        h->version_major, h->version_minor, TRACE_VERSION_MAJOR);
    uint32_t body = tf_rd32(p + 12);
    if (body > TF_MAX_BODY) return diag_set(d, "corrupt header (%u bytes of fields)", body);
    if (body > len - TF_PREFIX_BYTES)
        return diag_set(d, "truncated header (%u bytes of fields, the file has %zu)", body,
                        len - TF_PREFIX_BYTES);
    uint32_t crc = crc32c_extend(crc32c(p, 16), p + TF_PREFIX_BYTES, body);
    if (crc != tf_rd32(p + 16)) return diag_set(d, "corrupt header (checksum mismatch)");

    r->arena = malloc(3 * (size_t)body + 16);
    if (!r->arena) return diag_set(d, "out of memory");
    char *a = r->arena;
    static const char empty[] = "";
    h->program = h->sysname = h->nodename = h->release = h->version = h->machine = empty;
    h->writer = h->clock = h->recorder = h->next_malloc = empty;
    const uint8_t *argv_bytes = NULL;
    size_t argv_len = 0;

    const uint8_t *q = p + TF_PREFIX_BYTES, *end = q + body;
    while (q < end) {
        uint64_t key, n;
        if (tf_get_varint(&q, end, &key) != 0 || tf_get_varint(&q, end, &n) != 0
            || n > (uint64_t)(end - q))
            return diag_set(d, "corrupt header (a field runs past its end)");
        const uint8_t *b = q;
        q += n;
        uint64_t v = 0;
        const char **str = NULL;
        uint64_t *num = NULL;
        switch (key) {
        case TF_H_PROGRAM:
            str = &h->program;
            break;
        case TF_H_SYSNAME:
            str = &h->sysname;
            break;
        case TF_H_NODENAME:
            str = &h->nodename;
            break;
        case TF_H_RELEASE:
            str = &h->release;
            break;
        case TF_H_VERSION:
            str = &h->version;
            break;
        case TF_H_MACHINE:
            str = &h->machine;
            break;
        case TF_H_WRITER:
            str = &h->writer;
            break;
        case TF_H_CLOCK:
            str = &h->clock;
            break;
        case TF_H_RECORDER:
            str = &h->recorder;
            break;
        case TF_H_NEXT_MALLOC:
            str = &h->next_malloc;
            break;
        case TF_H_PID:
            num = &h->pid;
            break;
        case TF_H_PPID:
            num = &h->ppid;
            break;
        case TF_H_REALTIME_NS:
            num = &h->start_realtime_ns;
            break;
        case TF_H_MONO_NS:
            num = &h->start_mono_ns;
            break;
        case TF_H_BUFFER:
            num = &h->buffer_bytes;
            break;
        case TF_H_SESSION:
            num = &h->session;
            break;
        case TF_H_FORK_SEQ:
            num = &h->fork_seq;
            h->forked = 1;
            break;
        case TF_H_PAGE_SIZE:
            num = &h->page_size;
            break;
        case TF_H_POINTER:
            num = &h->pointer_bytes;
            break;
        case TF_H_ARGV_TRUNC:
            if (field_u64(b, n, &v) != 0) return diag_set(d, "corrupt header (field %u)", 3);
            h->argv_truncated = v != 0;
            break;
        case TF_H_ARGV:
            argv_bytes = b;
            argv_len = n;
            break;
        default:
            break; /* a field of a later minor version */
        }
        if (str) *str = arena_str(&a, b, n);
        if (num && field_u64(b, n, num) != 0)
            return diag_set(d, "corrupt header (field %u is not a number)", (unsigned)key);
    }

    /* argv: NUL-terminated pieces; a last piece without its NUL still counts. */
    size_t argc = 0;
    for (size_t i = 0; i < argv_len; i++)
        if (argv_bytes[i] == 0 || i + 1 == argv_len) argc++;
    r->argv = malloc((argc + 1) * sizeof(*r->argv));
    if (!r->argv) return diag_set(d, "out of memory");
    size_t start = 0, k = 0;
    for (size_t i = 0; i < argv_len; i++) {
        if (argv_bytes[i] == 0 || i + 1 == argv_len) {
            size_t n = i - start + (argv_bytes[i] != 0);
            r->argv[k++] = arena_str(&a, argv_bytes + start, n);
            start = i + 1;
        }
    }
    r->argv[k] = NULL;
    h->argc = (unsigned)k;
    h->argv = r->argv;
    return 0;
}

/* ---- the chunk scan ----------------------------------------------------------------- */

/* The slot of thread `idx`, created with `tid` if new; UINT32_MAX when out of memory. */
static uint32_t thread_slot(struct trace_reader *r, uint32_t idx, uint32_t tid)
{
    if (r->n_threads * 2 >= r->tmap_cap) {
        size_t cap = r->tmap_cap ? r->tmap_cap * 2 : 64;
        uint32_t *m = calloc(cap, sizeof(*m));
        if (!m) return UINT32_MAX;
        for (size_t i = 0; i < r->n_threads; i++) {
            size_t j = (r->threads[i].index * 2654435761u) & (cap - 1);
            while (m[j])
                j = (j + 1) & (cap - 1);
            m[j] = (uint32_t)i + 1;
        }
        free(r->tmap);
        r->tmap = m;
        r->tmap_cap = cap;
    }
    size_t j = (idx * 2654435761u) & (r->tmap_cap - 1);
    while (r->tmap[j]) {
        if (r->threads[r->tmap[j] - 1].index == idx) return r->tmap[j] - 1;
        j = (j + 1) & (r->tmap_cap - 1);
    }
    if (r->n_threads == r->cap_threads) {
        size_t cap = r->cap_threads ? r->cap_threads * 2 : 16;
        struct trace_thread *t = realloc(r->threads, cap * sizeof(*t));
        if (!t) return UINT32_MAX;
        r->threads = t;
        uint64_t *l = realloc(r->thread_last, cap * sizeof(*l));
        if (!l) return UINT32_MAX;
        r->thread_last = l;
        r->cap_threads = cap;
    }
    uint32_t s = (uint32_t)r->n_threads++;
    r->threads[s] = (struct trace_thread){ .index = idx, .tid = tid };
    r->thread_last[s] = 0;
    r->tmap[j] = s + 1;
    return s;
}

/* Decode every event of a candidate chunk: 0 when all are valid and fill the payload exactly. */
static int check_events(const struct trace_reader *r, struct chunk_ref *c)
{
    if (c->events == 0 || (uint64_t)c->events * TF_MIN_EVENT > c->payload) return -1;
    struct cursor k;
    cursor_open(r, &k, c);
    struct trace_event ev;
    for (uint32_t i = 0; i < c->events; i++) {
        if (get_event(&k, &ev) != 0) return -1;
        if (i == 0) c->first_seq = ev.seq;
        c->last_seq = ev.seq2;
    }
    return k.p == k.end ? 0 : -1;
}

static int check_end(struct trace_reader *r, const uint8_t *p, uint32_t n)
{
    const uint8_t *end = p + n;
    uint64_t v[TF_E_COUNT];
    for (int i = 0; i < TF_E_COUNT; i++)
        if (tf_get_varint(&p, end, &v[i]) != 0) return -1;
    if (v[TF_E_SIGNAL] > 1024) return -1;
    r->st.end.reason = v[TF_E_REASON] <= TRACE_END_EXEC ? (unsigned)v[TF_E_REASON] : 0;
    r->st.end.signal = (int)v[TF_E_SIGNAL];
    r->st.end.events = v[TF_E_EVENTS];
    r->st.end.chunks = v[TF_E_CHUNKS];
    r->st.end.dropped = v[TF_E_DROPPED];
    r->st.end.threads = v[TF_E_THREADS];
    r->st.end.ns = v[TF_E_NS];
    return 0;
}

static size_t find_marker(const uint8_t *data, size_t len, size_t from)
{
    while (from < len) {
        const uint8_t *h = memchr(data + from, 'H', len - from);
        if (!h) return len;
        size_t at = (size_t)(h - data), rem = len - at;
        if (memcmp(h, TF_CHUNK_MARKER, rem < 4 ? rem : 4) == 0) return at;
        from = at + 1;
    }
    return len;
}

static int scan(struct trace_reader *r, size_t pos, struct diag *d)
{
    const uint8_t *data = r->data;
    size_t len = r->len;
    int in_junk = 0;
    while (pos < len) {
        size_t rem = len - pos;
        struct tf_chunk c;
        int is_marker = memcmp(data + pos, TF_CHUNK_MARKER, rem < 4 ? rem : 4) == 0;
        if (is_marker && rem < TF_CHUNK_HDR) {
            r->st.truncated = 1; /* the file ends inside a chunk header */
            break;
        }
        if (!is_marker || tf_chunk_unpack(data + pos, &c) != 0
            || (c.type != TF_CHUNK_EVENTS && c.type != TF_CHUNK_END)
            || c.payload > TF_MAX_PAYLOAD) {
            size_t next = find_marker(data, len, pos + 1);
            if (!in_junk) r->st.corrupt_chunks++;
            in_junk = 1;
            r->st.skipped_bytes += next - pos;
            pos = next;
            continue;
        }
        in_junk = 0;
        if (c.payload > rem - TF_CHUNK_HDR) {
            r->st.truncated = 1; /* the file ends inside this chunk's payload */
            break;
        }
        const uint8_t *pl = data + pos + TF_CHUNK_HDR;
        struct chunk_ref ref = {
            .off = pos,
            .open_ticks = c.open_ticks,
            .open_ns = c.open_ns,
            .close_ticks = c.close_ticks,
            .close_ns = c.close_ns,
            .thread = c.thread,
            .tid = c.tid,
            .events = c.events,
            .payload = c.payload,
        };
        int ok = crc32c(pl, c.payload) == c.payload_crc;
        if (ok && c.type == TF_CHUNK_END)
            ok = c.thread == TF_END_THREAD && c.events == 0 && check_end(r, pl, c.payload) == 0;
        else if (ok)
            ok = c.thread != TF_END_THREAD && check_events(r, &ref) == 0;
        pos += TF_CHUNK_HDR + (size_t)c.payload;
        if (!ok) {
            r->st.corrupt_chunks++;
            r->st.skipped_bytes += TF_CHUNK_HDR + (size_t)c.payload;
            continue;
        }
        if (c.type == TF_CHUNK_END) continue;

        uint32_t s = thread_slot(r, c.thread, c.tid);
        if (s == UINT32_MAX) return diag_set(d, "out of memory");
        if (r->threads[s].chunks && ref.first_seq <= r->thread_last[s]) {
            r->st.duplicate_chunks++;
            continue;
        }
        r->thread_last[s] = ref.last_seq;
        r->threads[s].chunks++;
        r->threads[s].events += c.events;
        ref.tslot = s;
        if (r->n_chunks == r->cap_chunks) {
            size_t cap = r->cap_chunks ? r->cap_chunks * 2 : 64;
            struct chunk_ref *nc = realloc(r->chunks, cap * sizeof(*nc));
            if (!nc) return diag_set(d, "out of memory");
            r->chunks = nc;
            r->cap_chunks = cap;
        }
        r->chunks[r->n_chunks++] = ref;
        r->st.chunks++;
        r->st.events += c.events;
    }
    r->st.threads = (uint32_t)r->n_threads;
    return 0;
}

static int cmp_thread(const void *a, const void *b)
{
    const struct trace_thread *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sort the threads by index, renumber the chunks' slots, and group chunks per thread. */
static int finish_index(struct trace_reader *r, struct diag *d)
{
    size_t n = r->n_threads;
    if (n == 0) return 0;
    /* Remember each slot's thread index, sort, then map old slot -> new slot. */
    uint32_t *old_index = malloc(n * sizeof(*old_index));
    uint32_t *count = calloc(n + 1, sizeof(*count));
    r->perm = malloc((r->n_chunks ? r->n_chunks : 1) * sizeof(*r->perm));
    if (!old_index || !count || !r->perm) {
        free(old_index);
        free(count);
        return diag_set(d, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        old_index[i] = r->threads[i].index;
    qsort(r->threads, n, sizeof(*r->threads), cmp_thread);
    /* new slot of an old one: binary search of its index in the sorted array */
    for (size_t i = 0; i < r->n_chunks; i++) {
        uint32_t idx = old_index[r->chunks[i].tslot];
        size_t lo = 0, hi = n;
        while (lo + 1 < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->threads[mid].index <= idx)
                lo = mid;
            else
                hi = mid;
        }
        r->chunks[i].tslot = (uint32_t)lo;
        count[lo + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        count[i + 1] += count[i];
    r->ts = calloc(n, sizeof(*r->ts));
    r->heap = malloc(n * sizeof(*r->heap));
    if (!r->ts || !r->heap) {
        free(old_index);
        free(count);
        return diag_set(d, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        r->ts[i].first = count[i];
        r->ts[i].n = count[i + 1] - count[i];
    }
    for (size_t i = 0; i < r->n_chunks; i++)
        r->perm[count[r->chunks[i].tslot]++] = (uint32_t)i;
    free(old_index);
    free(count);
    return 0;
}

/* ---- open and close ----------------------------------------------------------------- */

static int open_common(struct trace_reader *r, struct diag *d)
{
    r->st.file_bytes = r->len;
    if (parse_header(r, d) != 0) return -1;
    size_t body = tf_rd32(r->data + 12);
    if (scan(r, TF_PREFIX_BYTES + body, d) != 0 || finish_index(r, d) != 0) return -1;
    free(r->tmap);
    r->tmap = NULL;
    free(r->thread_last);
    r->thread_last = NULL;
    trace_rewind(r, TRACE_ORDER_FILE);
    return 0;
}

int trace_open_mem(struct trace_reader **out, const void *data, size_t len, struct diag *d)
{
    *out = NULL;
    struct trace_reader *r = calloc(1, sizeof(*r));
    if (!r) return diag_set(d, "out of memory");
    r->data = data;
    r->len = len;
    if (open_common(r, d) != 0) {
        trace_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

/* trace_open, with reasons that do not repeat the path. */
static int open_file(struct trace_reader **out, const char *path, struct diag *d)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return diag_set(d, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return diag_set(d, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return diag_set(d, "is a directory");
    }
    struct trace_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        close(fd);
        return diag_set(d, "out of memory");
    }
    if (S_ISREG(sb.st_mode)) {
        r->len = (size_t)sb.st_size;
        if (r->len > 0) {
            r->map = mmap(NULL, r->len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (r->map == MAP_FAILED) {
                int e = errno;
                r->map = NULL;
                close(fd);
                trace_close(r);
                return diag_set(d, "cannot map: %s", strerror(e));
            }
            r->map_len = r->len;
            madvise(r->map, r->len, MADV_SEQUENTIAL);
        }
        r->data = r->map;
    } else {
        /* a pipe or device: read it all */
        size_t cap = 1 << 16, n = 0;
        uint8_t *buf = malloc(cap);
        for (;;) {
            if (!buf) break;
            if (n == cap) {
                uint8_t *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
                if (!nb) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = nb;
                cap *= 2;
            }
            ssize_t got = read(fd, buf + n, cap - n);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                int e = errno;
                free(buf);
                close(fd);
                trace_close(r);
                return diag_set(d, "cannot read: %s", strerror(e));
            }
            if (got == 0) break;
            n += (size_t)got;
        }
        if (!buf) {
            close(fd);
            trace_close(r);
            return diag_set(d, "out of memory reading it");
        }
        r->owned = buf;
        r->data = buf;
        r->len = n;
    }
    close(fd);
    if (open_common(r, d) != 0) {
        trace_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

int trace_open(struct trace_reader **out, const char *path, struct diag *d)
{
    struct diag why = { { 0 } };
    if (open_file(out, path, &why) == 0) return 0;
    return diag_set(d, "%s: %s", path, why.msg);
}

void trace_close(struct trace_reader *r)
{
    if (!r) return;
    if (r->map) munmap(r->map, r->map_len);
    free(r->owned);
    free(r->arena);
    free(r->argv);
    free(r->chunks);
    free(r->threads);
    free(r->thread_last);
    free(r->tmap);
    free(r->perm);
    free(r->ts);
    free(r->heap);
    free(r);
}

const struct trace_header *trace_header(const struct trace_reader *r)
{
    return &r->h;
}

const struct trace_status *trace_status(const struct trace_reader *r)
{
    return &r->st;
}

const struct trace_thread *trace_threads(const struct trace_reader *r, size_t *n)
{
    *n = r->n_threads;
    return r->threads;
}

/* ---- iteration ---------------------------------------------------------------------- */

/* Heap order: the smaller next event (seq, then thread) first. */
static int ts_less(const struct trace_reader *r, uint32_t a, uint32_t b)
{
    const struct trace_event *x = &r->ts[a].next, *y = &r->ts[b].next;
    if (x->seq != y->seq) return x->seq < y->seq;
    return x->thread < y->thread;
}

static void heap_down(struct trace_reader *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->heap_n && ts_less(r, r->heap[l], r->heap[m])) m = l;
        if (l + 1 < r->heap_n && ts_less(r, r->heap[l + 1], r->heap[m])) m = l + 1;
        if (m == i) return;
        uint32_t t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

/* Load the stream's next event into ts->next (moving to its next chunk as needed). */
static void ts_advance(struct trace_reader *r, struct tstream *ts)
{
    for (;;) {
        if (cursor_next(&ts->cur, &ts->next)) {
            ts->has = 1;
            return;
        }
        if (ts->at >= ts->n) {
            ts->has = 0;
            return;
        }
        cursor_open(r, &ts->cur, &r->chunks[r->perm[ts->first + ts->at++]]);
    }
}

void trace_rewind(struct trace_reader *r, enum trace_order order)
{
    r->order = order == TRACE_ORDER_SEQ ? TRACE_ORDER_SEQ : TRACE_ORDER_FILE;
    r->file_at = 0;
    memset(&r->fcur, 0, sizeof(r->fcur));
    r->heap_n = 0;
    if (r->order != TRACE_ORDER_SEQ) return;
    for (size_t i = 0; i < r->n_threads; i++) {
        struct tstream *ts = &r->ts[i];
        ts->at = 0;
        memset(&ts->cur, 0, sizeof(ts->cur));
        ts_advance(r, ts);
        if (ts->has) r->heap[r->heap_n++] = (uint32_t)i;
    }
    for (size_t i = r->heap_n; i-- > 0;)
        heap_down(r, i);
}

int trace_next(struct trace_reader *r, struct trace_event *ev)
{
    if (r->order == TRACE_ORDER_SEQ) {
        if (r->heap_n == 0) return 0;
        struct tstream *ts = &r->ts[r->heap[0]];
        *ev = ts->next;
        ts_advance(r, ts);
        if (!ts->has) r->heap[0] = r->heap[--r->heap_n];
        heap_down(r, 0);
        return 1;
    }
    for (;;) {
        if (cursor_next(&r->fcur, ev)) return 1;
        if (r->file_at >= r->n_chunks) return 0;
        cursor_open(r, &r->fcur, &r->chunks[r->file_at++]);
    }
}

int trace_foreach(struct trace_reader *r, enum trace_order order,
                  int (*fn)(const struct trace_event *ev, void *arg), void *arg)
{
    trace_rewind(r, order);
    struct trace_event ev;
    while (trace_next(r, &ev)) {
        int rc = fn(&ev, arg);
        if (rc) return rc;
    }
    return 0;
}

/* ---- names and helpers -------------------------------------------------------------- */

const char *trace_kind_name(unsigned kind)
{
    static const char *const names[] = {
        "?",
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "pvalloc",
        "free",
        "free_sized",
        "free_aligned_sized",
        "thread",
        "mark",
    };
    return kind <= TRACE_KIND_MAX ? names[kind] : "?";
}

const char *trace_mark_name(unsigned mark)
{
    switch (mark) {
    case TRACE_MARK_FORK:
        return "fork";
    case TRACE_MARK_EXEC_FAILED:
        return "exec-failed";
    case TRACE_MARK_THREAD_EXIT:
        return "thread-exit";
    default:
        return "?";
    }
}

const char *trace_end_name(unsigned reason)
{
    switch (reason) {
    case TRACE_END_EXIT:
        return "exit";
    case TRACE_END__EXIT:
        return "_exit";
    case TRACE_END_SIGNAL:
        return "signal";
    case TRACE_END_EXEC:
        return "exec";
    default:
        return "none";
    }
}

int trace_event_allocates(const struct trace_event *ev)
{
    return tf_kind_has_result(ev->kind) && ev->result != 0;
}

int trace_event_releases(const struct trace_event *ev)
{
    if (tf_kind_is_free(ev->kind)) return ev->ptr != 0;
    if (ev->kind == TRACE_REALLOC || ev->kind == TRACE_REALLOCARRAY)
        return ev->ptr != 0 && (ev->result != 0 || (ev->flags & TRACE_F_ZERO_FREED));
    return 0;
}

uint64_t trace_event_bytes(const struct trace_event *ev)
{
    if (ev->kind == TRACE_CALLOC || ev->kind == TRACE_REALLOCARRAY) {
        if (ev->count && ev->size > UINT64_MAX / ev->count) return UINT64_MAX;
        return ev->count * ev->size;
    }
    return ev->size;
}
