/*
 * server/frame.c: the binary frames of cell maps (frame.h).
 */
#include "server/frame.h"

#include <string.h>

/* Two changed stretches closer than this many unchanged bytes become one run: a new run
 * costs a skip and a count varint (2 or 3 bytes for most maps). */
#define MERGE_GAP 2u

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void frame_header_put(uint8_t out[FRAME_HEADER_BYTES], const struct frame_header *h)
{
    put16(out, FRAME_MAGIC);
    out[2] = FRAME_VERSION;
    out[3] = h->type;
    out[4] = h->lane;
    out[5] = h->encoding;
    put16(out + 6, 0);
    put32(out + 8, h->tick);
    put32(out + 12, h->cells);
}

int frame_header_get(const uint8_t *in, size_t len, struct frame_header *h)
{
    if (len < FRAME_HEADER_BYTES) return -1;
    if ((in[0] | in[1] << 8) != FRAME_MAGIC || in[2] != FRAME_VERSION || in[6] || in[7]) return -1;
    h->type = in[3];
    h->lane = in[4];
    h->encoding = in[5];
    h->tick = get32(in + 8);
    h->cells = get32(in + 12);
    if (h->type == FRAME_KIND)
        return h->encoding == FRAME_RAW || h->encoding == FRAME_DELTA || h->encoding == FRAME_FILL
                       ? 0
                       : -1;
    if (h->type == FRAME_OVERLAY) return h->encoding == FRAME_RLE ? 0 : -1;
    return -1;
}

void frame_pack(const uint8_t *cells, uint32_t n, uint8_t *out)
{
    uint32_t whole = n / 4, i = 0;
    for (uint32_t b = 0; b < whole; b++, i += 4)
        out[b] = (uint8_t)((cells[i] & 3u) | (cells[i + 1] & 3u) << 2 | (cells[i + 2] & 3u) << 4
                           | (cells[i + 3] & 3u) << 6);
    if (i < n) {
        uint8_t last = 0;
        for (unsigned k = 0; i < n; i++, k++)
            last |= (uint8_t)((cells[i] & 3u) << (2 * k));
        out[whole] = last;
    }
}

size_t frame_varint_put(uint8_t *out, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int frame_varint_get(const uint8_t *in, size_t len, size_t *pos, uint32_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < FRAME_VARINT_MAX; i++) {
        if (*pos >= len) return -1;
        uint8_t b = in[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (x > UINT32_MAX) return -1;
            *v = (uint32_t)x;
            return 0;
        }
    }
    return -1;
}

/* The first byte at or after i where a and b differ, or n. */
static size_t next_diff(const uint8_t *a, const uint8_t *b, size_t i, size_t n)
{
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) break;
        i += 8;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

int frame_delta_encode(const uint8_t *prev, const uint8_t *cur, uint32_t n, uint8_t *out,
                       size_t cap, size_t *len)
{
    size_t nb = frame_packed_bytes(n);
    if (nb == 0) return -1;                     /* nothing is smaller than an empty raw map */
    size_t limit = cap < nb - 1 ? cap : nb - 1; /* the delta must be smaller than raw */
    size_t o = 0, done = 0;                     /* bytes written; end of the last run */
    size_t i = next_diff(prev, cur, 0, nb);
    while (i < nb) {
        size_t start = i, end = i + 1;
        for (;;) {
            size_t d = next_diff(prev, cur, end, nb);
            if (d >= nb || d - end > MERGE_GAP) break;
            end = d + 1;
        }
        uint32_t skip = (uint32_t)(start - done) * 4;
        uint32_t count = (uint32_t)((end - start) * 4);
        if ((size_t)start * 4 + count > n) count = n - (uint32_t)start * 4;
        size_t bytes = end - start;
        if (o + 2 * FRAME_VARINT_MAX + bytes > limit) {
            /* Maybe it still fits with short varints: measure exactly. */
            uint8_t tmp[2 * FRAME_VARINT_MAX];
            size_t h = frame_varint_put(tmp, skip);
            h += frame_varint_put(tmp + h, count);
            if (o + h + bytes > limit) return -1;
            memcpy(out + o, tmp, h);
            o += h;
        } else {
            o += frame_varint_put(out + o, skip);
            o += frame_varint_put(out + o, count);
        }
        memcpy(out + o, cur + start, bytes);
        o += bytes;
        done = end;
        i = next_diff(prev, cur, end, nb);
    }
    *len = o;
    return 0;
}

static void set_cell(uint8_t *map, uint32_t i, unsigned v)
{
    unsigned sh = (i & 3) * 2;
    map[i >> 2] = (uint8_t)((map[i >> 2] & ~(3u << sh)) | (v & 3u) << sh);
}

int frame_delta_apply(uint8_t *map, uint32_t n, const uint8_t *d, size_t len)
{
    size_t p = 0;
    uint32_t pos = 0;
    while (p < len) {
        uint32_t skip, count;
        if (frame_varint_get(d, len, &p, &skip) != 0 || frame_varint_get(d, len, &p, &count) != 0)
            return -1;
        if (skip > n - pos) return -1;
        pos += skip;
        if (count > n - pos) return -1;
        size_t bytes = frame_packed_bytes(count);
        if (bytes > len - p) return -1;
        const uint8_t *src = d + p;
        uint32_t j = 0;
        if ((pos & 3) == 0) { /* aligned: whole bytes are copies */
            memcpy(map + pos / 4, src, count / 4);
            j = count & ~3u;
        }
        for (; j < count; j++)
            set_cell(map, pos + j, (src[j >> 2] >> ((j & 3) * 2)) & 3u);
        p += bytes;
        pos += count;
    }
    return 0;
}

/* The first cell at or after i where a and b differ, or n. */
static uint32_t next_diff_cell(const uint8_t *a, const uint8_t *b, uint32_t i, uint32_t n)
{
    if (i >= n) return n;
    if (i & 3) { /* finish the byte cell by cell */
        for (; i < n && (i & 3); i++)
            if (frame_cell(a, i) != frame_cell(b, i)) return i;
        if (i >= n) return n;
    }
    size_t byte = next_diff(a, b, i / 4, frame_packed_bytes(n));
    for (i = (uint32_t)(byte * 4 < n ? byte * 4 : n); i < n; i++)
        if (frame_cell(a, i) != frame_cell(b, i)) return i;
    return n;
}

int frame_fill_encode(const uint8_t *prev, const uint8_t *cur, uint32_t n, uint8_t *out, size_t cap,
                      size_t *len)
{
    size_t nb = frame_packed_bytes(n);
    if (nb == 0) return -1;
    size_t limit = cap < nb - 1 ? cap : nb - 1, o = 0;
    uint32_t done = 0;
    for (uint32_t i = next_diff_cell(prev, cur, 0, n); i < n;
         i = next_diff_cell(prev, cur, done, n)) {
        unsigned v = frame_cell(cur, i);
        uint32_t j = i + 1;
        /* Over the cells of kind v: whole bytes of four at a time when aligned. */
        const uint8_t same = (uint8_t)(v * 0x55u);
        while (j < n && (j & 3) && frame_cell(cur, j) == v)
            j++;
        if ((j & 3) == 0) { /* eight bytes (32 cells) at a time, then bytes */
            const uint64_t same8 = same * UINT64_C(0x0101010101010101);
            uint64_t w;
            while (j + 32 <= n && (memcpy(&w, cur + j / 4, 8), w == same8))
                j += 32;
        }
        while (j + 4 <= n && (j & 3) == 0 && cur[j / 4] == same)
            j += 4;
        while (j < n && frame_cell(cur, j) == v)
            j++;
        uint8_t tmp[2 * FRAME_VARINT_MAX];
        size_t h = frame_varint_put(tmp, i - done);
        uint32_t x = (j - i) << 2 | v; /* n <= 2^30 cells: no overflow */
        h += frame_varint_put(tmp + h, x);
        if (o + h > limit) return -1;
        memcpy(out + o, tmp, h);
        o += h;
        done = j;
    }
    *len = o;
    return 0;
}

int frame_fill_apply(uint8_t *map, uint32_t n, const uint8_t *d, size_t len)
{
    size_t p = 0;
    uint32_t pos = 0;
    while (p < len) {
        uint32_t skip, x;
        if (frame_varint_get(d, len, &p, &skip) != 0 || frame_varint_get(d, len, &p, &x) != 0)
            return -1;
        uint32_t count = x >> 2;
        unsigned v = x & 3;
        if (skip > n - pos) return -1;
        pos += skip;
        if (count > n - pos) return -1;
        uint32_t end = pos + count;
        for (; pos < end && (pos & 3); pos++)
            set_cell(map, pos, v);
        if (end - pos >= 4) {
            memset(map + pos / 4, (int)(v * 0x55u), (end - pos) / 4);
            pos += (end - pos) & ~3u;
        }
        for (; pos < end; pos++)
            set_cell(map, pos, v);
    }
    return 0;
}

int frame_kind_encode(const uint8_t *prev, const uint8_t *cur, uint32_t n, unsigned allow,
                      uint8_t *out, uint8_t *scratch, size_t cap, size_t *len, uint8_t *enc)
{
    /* Fill first: it is usually the smaller, and a small one bounds the delta, whose
     * encoder then gives up early. */
    size_t fl = 0, dl;
    int f = allow & (1u << FRAME_FILL) ? frame_fill_encode(prev, cur, n, out, cap, &fl) : -1;
    if (f == 0 && fl == 0) { /* unchanged: nothing is smaller */
        *len = 0;
        *enc = FRAME_FILL;
        return 0;
    }
    size_t dcap = f == 0 ? fl - 1 : cap;
    if ((allow & (1u << FRAME_DELTA))
        && frame_delta_encode(prev, cur, n, scratch, dcap, &dl) == 0) {
        memcpy(out, scratch, dl);
        *len = dl;
        *enc = FRAME_DELTA;
        return 0;
    }
    if (f != 0) return -1;
    *len = fl;
    *enc = FRAME_FILL;
    return 0;
}

int frame_kind_apply(uint8_t *map, uint32_t n, uint8_t enc, const uint8_t *d, size_t len)
{
    switch (enc) {
    case FRAME_RAW:
        if (len != frame_packed_bytes(n)) return -1;
        memcpy(map, d, len);
        return 0;
    case FRAME_DELTA:
        return frame_delta_apply(map, n, d, len);
    case FRAME_FILL:
        return frame_fill_apply(map, n, d, len);
    default:
        return -1;
    }
}

size_t frame_rle_encode(const uint8_t *v, uint32_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        uint8_t tmp[FRAME_VARINT_MAX];
        size_t h = frame_varint_put(tmp, j - i);
        if (o + h + 1 > cap) return 0;
        memcpy(out + o, tmp, h);
        o += h;
        out[o++] = v[i];
        i = j;
    }
    return o;
}

int frame_rle_decode(const uint8_t *in, size_t len, uint8_t *out, uint32_t n)
{
    size_t p = 0;
    uint32_t pos = 0;
    while (p < len) {
        uint32_t count;
        if (frame_varint_get(in, len, &p, &count) != 0 || p >= len) return -1;
        if (count == 0 || count > n - pos) return -1;
        memset(out + pos, in[p++], count);
        pos += count;
    }
    return pos == n ? 0 : -1;
}
