/*
 * trace/format.h: heaplab.trace/1 on the wire (docs/traces.md is the specification). Shared
 * by the recorder (shim/), the reader (reader.c) and the writer (writer.c), so it is a header
 * of static functions that allocate nothing and call nothing but memcpy.
 *
 * File:   prefix (24 bytes) | header body (TLV fields) | chunk | chunk | ...
 * Prefix: "HLTRACE\0", u16 major, u16 minor, u32 body bytes, u32 CRC-32C of prefix bytes
 *         0..15 followed by the body, u32 zero. All integers little-endian.
 * Body:   fields, each: varint key, varint length, bytes. Unknown keys are skipped; a number
 *         field's bytes are exactly one varint.
 * Chunk:  64-byte header (tf_chunk_pack) then the payload: `events` encoded events.
 * Event:  tag byte (kind in bits 0-3, TF_TAG_* flags in bits 4-7), varint seq delta, varint
 *         tick delta, then the kind's fields (tf_put_event). Deltas start from zero (seq),
 *         open_ticks (ticks) and 0 (pointers) at the start of every chunk.
 *
 * Varints are unsigned LEB128 (7 bits per byte, low first, at most 10 bytes). Signed
 * deltas are zigzag-mapped first (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...).
 */
#ifndef HEAPLAB_TRACE_FORMAT_H
#define HEAPLAB_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace/crc32c.h"
#include "trace/trace.h"

#define TF_MAGIC        "HLTRACE" /* 8 bytes with its NUL */
#define TF_PREFIX_BYTES 24
#define TF_MAX_BODY     (1u << 20)
#define TF_CHUNK_MARKER "HLCK"
#define TF_CHUNK_HDR    64
#define TF_MAX_PAYLOAD  (64u << 20) /* readers refuse larger chunks */
#define TF_MAX_EVENT    80          /* an encoded event never exceeds this */
#define TF_MIN_EVENT    3           /* tag, seq delta, tick delta */
#define TF_CHUNK_EVENTS 1
#define TF_CHUNK_END    2
#define TF_END_THREAD   0xFFFFFFFFu /* the thread field of an end chunk */

#define TF_TAG_KIND     0x0F
#define TF_TAG_NULL     0x10 /* NULL result (allocations), NULL pointer (frees) */
#define TF_TAG_RAWPTR   0x20 /* pointers are plain deltas (else deltas of pointer >> 4) */
#define TF_TAG_ZFREE    0x40 /* realloc*(ptr, 0) freed ptr and returned NULL */
#define TF_TAG_RESERVED 0x80 /* must be 0 */

/* Header field keys. */
enum tf_key {
    TF_H_PROGRAM = 1,    /* bytes */
    TF_H_ARGV = 2,       /* bytes: the arguments, each followed by a NUL */
    TF_H_ARGV_TRUNC = 3, /* number: 1 when the arguments were cut */
    TF_H_PID = 4,
    TF_H_PPID = 5,
    TF_H_REALTIME_NS = 6,
    TF_H_MONO_NS = 7,
    TF_H_SYSNAME = 8, /* bytes (uname) */
    TF_H_NODENAME = 9,
    TF_H_RELEASE = 10,
    TF_H_VERSION = 11,
    TF_H_MACHINE = 12,
    TF_H_BUFFER = 13,      /* number: payload bytes per thread buffer */
    TF_H_WRITER = 14,      /* bytes */
    TF_H_CLOCK = 15,       /* bytes */
    TF_H_SESSION = 16,     /* number */
    TF_H_FORK_SEQ = 17,    /* number: present in a fork child's file */
    TF_H_NEXT_MALLOC = 18, /* bytes */
    TF_H_PAGE_SIZE = 19,   /* number */
    TF_H_POINTER = 20,     /* number: bytes per pointer */
    TF_H_RECORDER = 21,    /* bytes */
};

/* End chunk payload: these numbers, in this order, as varints. */
enum tf_end_field {
    TF_E_REASON,
    TF_E_SIGNAL,
    TF_E_EVENTS,
    TF_E_CHUNKS,
    TF_E_DROPPED,
    TF_E_THREADS,
    TF_E_NS,
    TF_E_COUNT
};

/* ---- little-endian integers and varints --------------------------------------------- */

static inline void tf_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void tf_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void tf_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t tf_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t tf_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t tf_rd64(const uint8_t *p)
{
    return (uint64_t)tf_rd32(p) | ((uint64_t)tf_rd32(p + 4) << 32);
}

static inline __attribute__((always_inline)) uint8_t *tf_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Read a varint from [*pp, end): 0 and *pp advanced, or -1 (cut off, or over 64 bits). */
static inline int tf_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p >= end) return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1) return -1;
        r |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = r;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t tf_zigzag(uint64_t d)
{
    return (d << 1) ^ (0 - (d >> 63));
}

static inline uint64_t tf_unzigzag(uint64_t u)
{
    return (u >> 1) ^ (0 - (u & 1));
}

/* ---- events ------------------------------------------------------------------------- */

/* An event as the encoder takes it: like struct trace_event with raw ticks for the time. */
struct tf_ev {
    unsigned kind;
    unsigned zfree; /* realloc(ptr, 0) freed ptr */
    uint64_t seq, seq2, ticks;
    uint64_t ptr, result, size, count, align, value, mark;
};

/* Delta state of one chunk; tf_delta_start() at the start of every chunk. */
struct tf_delta {
    uint64_t seq;   /* the least sequence number the next event may have */
    uint64_t ticks; /* the previous event's ticks */
    uint64_t ptr;   /* the previous pointer written */
};

static inline void tf_delta_start(struct tf_delta *st, uint64_t open_ticks)
{
    st->seq = 0;
    st->ticks = open_ticks;
    st->ptr = 0;
}

static inline int tf_kind_has_ptr(unsigned kind)
{
    return kind == TRACE_REALLOC || kind == TRACE_REALLOCARRAY || kind == TRACE_FREE
           || kind == TRACE_FREE_SIZED || kind == TRACE_FREE_ALIGNED_SIZED;
}

static inline int tf_kind_has_result(unsigned kind)
{
    return kind >= TRACE_MALLOC && kind <= TRACE_PVALLOC;
}

static inline int tf_kind_is_free(unsigned kind)
{
    return kind >= TRACE_FREE && kind <= TRACE_FREE_ALIGNED_SIZED;
}

static inline __attribute__((always_inline)) uint8_t *tf_put_ptr(uint8_t *p, struct tf_delta *st,
                                                                 uint64_t v, int raw)
{
    uint64_t d = raw ? v - st->ptr : (v >> 4) - (st->ptr >> 4);
    st->ptr = v;
    return tf_put_varint(p, tf_zigzag(d));
}

/*
 * Append event `e` at p (room for TF_MAX_EVENT bytes); returns the end. Sequence numbers must
 * not go below st->seq (they increase within a thread); ticks that go backwards (a thread
 * moved to a CPU whose counter is behind) are written as equal to the previous event's.
 */
static inline __attribute__((always_inline)) uint8_t *tf_put_event(uint8_t *p, struct tf_delta *st,
                                                                   const struct tf_ev *e)
{
    unsigned kind = e->kind;
    int null = 0;
    if (tf_kind_is_free(kind))
        null = e->ptr == 0;
    else if (tf_kind_has_result(kind))
        null = e->result == 0;
    uint64_t ptrbits = 0;
    if (tf_kind_has_ptr(kind) && !(tf_kind_is_free(kind) && null)) ptrbits |= e->ptr;
    if (tf_kind_has_result(kind) && !null) ptrbits |= e->result;
    int raw = (ptrbits & 15) != 0;
    unsigned tag = kind | (null ? TF_TAG_NULL : 0) | (raw ? TF_TAG_RAWPTR : 0)
                   | (e->zfree && null && (kind == TRACE_REALLOC || kind == TRACE_REALLOCARRAY)
                              ? TF_TAG_ZFREE
                              : 0);
    *p++ = (uint8_t)tag;
    p = tf_put_varint(p, e->seq - st->seq);
    st->seq = e->seq + 1;
    uint64_t t = e->ticks < st->ticks ? st->ticks : e->ticks;
    p = tf_put_varint(p, t - st->ticks);
    st->ticks = t;
    switch (kind) {
    case TRACE_MALLOC:
    case TRACE_VALLOC:
    case TRACE_PVALLOC:
        p = tf_put_varint(p, e->size);
        break;
    case TRACE_CALLOC:
        p = tf_put_varint(p, e->count);
        p = tf_put_varint(p, e->size);
        break;
    case TRACE_REALLOC:
    case TRACE_REALLOCARRAY:
        p = tf_put_ptr(p, st, e->ptr, raw);
        if (kind == TRACE_REALLOCARRAY) p = tf_put_varint(p, e->count);
        p = tf_put_varint(p, e->size);
        p = tf_put_varint(p, e->seq2 - st->seq);
        st->seq = e->seq2 + 1;
        break;
    case TRACE_POSIX_MEMALIGN:
    case TRACE_ALIGNED_ALLOC:
    case TRACE_MEMALIGN:
        p = tf_put_varint(p, e->align);
        p = tf_put_varint(p, e->size);
        if (kind == TRACE_POSIX_MEMALIGN && null) p = tf_put_varint(p, e->value);
        break;
    case TRACE_FREE:
        break;
    case TRACE_FREE_SIZED:
        p = tf_put_varint(p, e->size);
        break;
    case TRACE_FREE_ALIGNED_SIZED:
        p = tf_put_varint(p, e->align);
        p = tf_put_varint(p, e->size);
        break;
    case TRACE_THREAD:
        p = tf_put_varint(p, e->value);
        break;
    case TRACE_MARK:
        p = tf_put_varint(p, e->mark);
        p = tf_put_varint(p, e->value);
        break;
    default:
        break;
    }
    if (tf_kind_is_free(kind) && !null) p = tf_put_ptr(p, st, e->ptr, raw);
    if (tf_kind_has_result(kind) && !null) p = tf_put_ptr(p, st, e->result, raw);
    return p;
}

/* ---- chunk headers ------------------------------------------------------------------ */

/*
 * The 64-byte chunk header:
 *    0  "HLCK"              24 u64 open_ticks     56 u32 CRC-32C of the payload
 *    4  u16 header bytes    32 u64 open_ns        60 u32 CRC-32C of bytes 0..59
 *    6  u8 type             40 u64 close_ticks
 *    7  u8 flags (0)        48 u64 close_ns
 *    8  u32 thread index
 *   12  u32 OS tid
 *   16  u32 events
 *   20  u32 payload bytes
 * The two (ticks, CLOCK_MONOTONIC ns) pairs are read when the chunk's first event is
 * written and when the chunk is sealed; a reader maps ticks to ns linearly between them.
 */
struct tf_chunk {
    unsigned type;
    uint32_t thread, tid, events, payload;
    uint64_t open_ticks, open_ns, close_ticks, close_ns;
    uint32_t payload_crc;
};

static inline void tf_chunk_pack(uint8_t *h, const struct tf_chunk *c)
{
    memcpy(h, TF_CHUNK_MARKER, 4);
    tf_le16(h + 4, TF_CHUNK_HDR);
    h[6] = (uint8_t)c->type;
    h[7] = 0;
    tf_le32(h + 8, c->thread);
    tf_le32(h + 12, c->tid);
    tf_le32(h + 16, c->events);
    tf_le32(h + 20, c->payload);
    tf_le64(h + 24, c->open_ticks);
    tf_le64(h + 32, c->open_ns);
    tf_le64(h + 40, c->close_ticks);
    tf_le64(h + 48, c->close_ns);
    tf_le32(h + 56, c->payload_crc);
    tf_le32(h + 60, crc32c(h, 60));
}

/* Unpack a header at h (64 bytes readable): 0, or -1 when it is not a valid chunk header. */
static inline int tf_chunk_unpack(const uint8_t *h, struct tf_chunk *c)
{
    if (memcmp(h, TF_CHUNK_MARKER, 4) != 0 || tf_rd16(h + 4) != TF_CHUNK_HDR || h[7] != 0)
        return -1;
    if (tf_rd32(h + 60) != crc32c(h, 60)) return -1;
    c->type = h[6];
    c->thread = tf_rd32(h + 8);
    c->tid = tf_rd32(h + 12);
    c->events = tf_rd32(h + 16);
    c->payload = tf_rd32(h + 20);
    c->open_ticks = tf_rd64(h + 24);
    c->open_ns = tf_rd64(h + 32);
    c->close_ticks = tf_rd64(h + 40);
    c->close_ns = tf_rd64(h + 48);
    c->payload_crc = tf_rd32(h + 56);
    return 0;
}

/* ---- header fields ------------------------------------------------------------------ */

/* Append a bytes field if it fits before `end` (else nothing); returns the new end. */
static inline uint8_t *tf_put_field(uint8_t *p, const uint8_t *end, unsigned key, const void *b,
                                    size_t n)
{
    if ((size_t)(end - p) < n + 20) return p;
    p = tf_put_varint(p, key);
    p = tf_put_varint(p, n);
    if (n) memcpy(p, b, n);
    return p + n;
}

static inline uint8_t *tf_put_field_str(uint8_t *p, const uint8_t *end, unsigned key, const char *s)
{
    return tf_put_field(p, end, key, s, s ? strlen(s) : 0);
}

static inline uint8_t *tf_put_field_u64(uint8_t *p, const uint8_t *end, unsigned key, uint64_t v)
{
    uint8_t tmp[10];
    return tf_put_field(p, end, key, tmp, (size_t)(tf_put_varint(tmp, v) - tmp));
}

/* Fill the 24-byte prefix at `buf` for the `body_len` bytes of fields that follow it. */
static inline void tf_finish_header(uint8_t *buf, size_t body_len)
{
    memcpy(buf, TF_MAGIC, 8);
    tf_le16(buf + 8, TRACE_VERSION_MAJOR);
    tf_le16(buf + 10, TRACE_VERSION_MINOR);
    tf_le32(buf + 12, (uint32_t)body_len);
    uint32_t c = crc32c(buf, 16);
    tf_le32(buf + 16, crc32c_extend(c, buf + TF_PREFIX_BYTES, body_len));
    tf_le32(buf + 20, 0);
}

#endif
