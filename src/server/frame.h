/*
 * server/frame.h: the binary WebSocket frames of cell maps (docs/serve.md, "Server ->
 * client, binary"). Pure functions: no state, no allocation, no I/O.
 *
 * A frame is a 16-byte little-endian header and a payload:
 *   kind map (type 1), 2 bits a cell packed as in the tick file (cell i in bits 2(i%4) of
 *     byte i/4; the bits past the last cell are 0):
 *       raw (0):   the packed bytes, ceil(cells / 4) of them;
 *       delta (1): runs against a previous map of the same length: varint skip (cells
 *                  unchanged since the end of the previous run), varint count, then
 *                  ceil(count / 4) bytes of packed cells with the run's first cell at bit 0;
 *       fill (3):  runs of one kind against a previous map: varint skip, varint x: the
 *                  next x >> 2 cells become kind x & 3;
 *   overlay map (type 2), one byte a cell:
 *       rle (2):   pairs (varint count, byte value) covering the map in order.
 * Varints are LEB128 (7 bits a byte, low first) of values below 2^32, at most 5 bytes.
 *
 * The delta encoder cuts runs at byte boundaries (a run starts at a cell multiple of 4 and
 * covers whole bytes but at the map's end), so its payload is a copy of the packed bytes,
 * and merges two changed stretches when the unchanged bytes between them cost less than a
 * new run. The fill encoder extends a run over every following cell of its kind, changed or
 * not (that costs nothing). frame_kind_encode() picks the smaller of the two. The decoders
 * take any run.
 */
#ifndef HEAPLAB_SERVER_FRAME_H
#define HEAPLAB_SERVER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC        0x4c48u /* "HL" little-endian */
#define FRAME_VERSION      1u
#define FRAME_HEADER_BYTES 16u
#define FRAME_VARINT_MAX   5u

enum frame_type { FRAME_KIND = 1, FRAME_OVERLAY = 2 };
enum frame_encoding { FRAME_RAW = 0, FRAME_DELTA = 1, FRAME_RLE = 2, FRAME_FILL = 3 };

struct frame_header {
    uint8_t type;     /* enum frame_type */
    uint8_t lane;     /* the allocator's lane */
    uint8_t encoding; /* enum frame_encoding */
    uint32_t tick;    /* the tick the map belongs to */
    uint32_t cells;   /* the map's length in cells */
};

/* Write the header's 16 bytes. */
void frame_header_put(uint8_t out[FRAME_HEADER_BYTES], const struct frame_header *h);

/* Read a header from the first `len` bytes of `in`: 0, or -1 when it is short or its magic,
 * version, type, encoding or reserved bytes are wrong. */
int frame_header_get(const uint8_t *in, size_t len, struct frame_header *h);

/* Bytes of a packed kind map of `cells` cells. */
static inline size_t frame_packed_bytes(uint32_t cells)
{
    return ((size_t)cells + 3) / 4;
}

/* Pack `cells` (one enum lab_cell a byte, only the low 2 bits used) into
 * out[frame_packed_bytes(n)]. */
void frame_pack(const uint8_t *cells, uint32_t n, uint8_t *out);

/* Cell i of a packed map. */
static inline unsigned frame_cell(const uint8_t *packed, uint32_t i)
{
    return (packed[i >> 2] >> ((i & 3) * 2)) & 3u;
}

/*
 * Delta-encode packed map `cur` against packed map `prev` (both of `n` cells) into `out`
 * (`cap` bytes). Returns 0 with *len set when the delta is smaller than the raw map (an
 * unchanged map is 0 bytes), or -1 when it would not be smaller (send raw) or does not fit.
 */
int frame_delta_encode(const uint8_t *prev, const uint8_t *cur, uint32_t n, uint8_t *out,
                       size_t cap, size_t *len);

/* Apply a delta payload to packed map `map` of `n` cells in place. 0, or -1 when the payload
 * is malformed (a bad varint, a run past the map's end, a short payload); the map may then
 * be partly changed. */
int frame_delta_apply(uint8_t *map, uint32_t n, const uint8_t *d, size_t len);

/* Fill-encode (as frame_delta_encode, the same contract). */
int frame_fill_encode(const uint8_t *prev, const uint8_t *cur, uint32_t n, uint8_t *out, size_t cap,
                      size_t *len);

/* Apply a fill payload to packed map `map` of `n` cells in place: 0, or -1 (as delta). */
int frame_fill_apply(uint8_t *map, uint32_t n, const uint8_t *d, size_t len);

/* The smallest encoding of `cur` against `prev` among those allowed (`allow`: bits
 * 1 << FRAME_DELTA, 1 << FRAME_FILL): 0 with *enc and *len, its payload in out[cap]; -1 when
 * raw is smallest. `scratch` holds cap bytes. */
int frame_kind_encode(const uint8_t *prev, const uint8_t *cur, uint32_t n, unsigned allow,
                      uint8_t *out, uint8_t *scratch, size_t cap, size_t *len, uint8_t *enc);

/* Apply a payload of encoding `enc` (raw, delta or fill) to map `map`: 0, or -1. */
int frame_kind_apply(uint8_t *map, uint32_t n, uint8_t enc, const uint8_t *d, size_t len);

/* Run-length encode the bytes v[0..n) into `out` (`cap` bytes). The length, or 0 when it
 * does not fit (n = 0 encodes to 0 bytes too). At most frame_rle_bound(n) bytes. */
size_t frame_rle_encode(const uint8_t *v, uint32_t n, uint8_t *out, size_t cap);
static inline size_t frame_rle_bound(uint32_t n)
{
    return (size_t)n * (1 + 1); /* a count of 1 is one byte */
}

/* Decode into out[0..n): 0, or -1 unless the pairs cover exactly n bytes. */
int frame_rle_decode(const uint8_t *in, size_t len, uint8_t *out, uint32_t n);

/* LEB128: write v (at most FRAME_VARINT_MAX bytes) and return the bytes written; read one
 * from in[*pos..len), advancing *pos: 0, or -1 when it is cut short or above 2^32 - 1. */
size_t frame_varint_put(uint8_t *out, uint32_t v);
int frame_varint_get(const uint8_t *in, size_t len, size_t *pos, uint32_t *v);

#endif
