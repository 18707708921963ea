/*
 * codec.js: the binary cell-map frames of docs/serve.md, and the tick file's base64 maps.
 * Maps are kept unpacked, one byte per cell (kind 0..3, or an overlay value), so a delta
 * run is applied in place and the painter reads one byte per pixel.
 *
 * Frame header (16 bytes, little-endian): magic 0x4c48, version 1, type (1 kind, 2
 * overlay), lane, encoding (0 raw, 1 delta, 3 fill), reserved u16, tick u32, cells u32.
 */
(function (HL) {
    'use strict';

    const MAGIC = 0x4c48;
    const HEADER_BYTES = 16;

    function FrameError(msg) {
        this.message = msg;
    }

    /* LEB128 varint at r.pos of bytes; throws on a truncated or oversized one. */
    function varint(bytes, r) {
        let v = 0;
        let mul = 1;
        for (let i = 0; i < 5; i++) {
            if (r.pos >= bytes.length) throw new FrameError('truncated varint');
            const b = bytes[r.pos++];
            v += (b & 0x7f) * mul;
            if (!(b & 0x80)) return v;
            mul *= 128;
        }
        throw new FrameError('varint longer than 5 bytes');
    }

    /* Unpacks `count` 2-bit cells from packed[at..] (first cell at bit 0) into out[to..]. */
    function unpack2(packed, at, count, out, to) {
        const whole = count >> 2;
        let o = to;
        for (let i = 0; i < whole; i++) {
            const b = packed[at + i];
            out[o] = b & 3;
            out[o + 1] = (b >> 2) & 3;
            out[o + 2] = (b >> 4) & 3;
            out[o + 3] = b >> 6;
            o += 4;
        }
        const rest = count & 3;
        if (rest) {
            const b = packed[at + whole];
            for (let k = 0; k < rest; k++) out[o + k] = (b >> (2 * k)) & 3;
        }
    }

    /*
     * Decodes one binary frame (an ArrayBuffer) against `prev`, the lane's last map of the
     * same type (Uint8Array or null). Returns {type, lane, tick, cells, map}: map is `prev`
     * updated in place for a delta, a new array for a raw frame. Throws FrameError.
     */
    function decodeFrame(buf, prev) {
        if (buf.byteLength < HEADER_BYTES) throw new FrameError('frame shorter than its header');
        const dv = new DataView(buf);
        if (dv.getUint16(0, true) !== MAGIC) throw new FrameError('bad magic');
        if (dv.getUint8(2) !== 1) throw new FrameError('frame version ' + dv.getUint8(2) + ', this viewer reads 1');
        const type = dv.getUint8(3);
        const lane = dv.getUint8(4);
        const enc = dv.getUint8(5);
        const tick = dv.getUint32(8, true);
        const cells = dv.getUint32(12, true);
        const body = new Uint8Array(buf, HEADER_BYTES);
        if (cells > (1 << 24)) throw new FrameError('frame of ' + cells + ' cells');
        let map;
        if (type === 1) {
            if (enc === 0) {
                if (body.length < Math.ceil(cells / 4)) throw new FrameError('raw kind map truncated');
                map = new Uint8Array(cells);
                unpack2(body, 0, cells, map, 0);
            } else if (enc === 1) {
                if (!prev || prev.length !== cells) throw new FrameError('delta without a previous map of lane ' + lane);
                map = prev;
                const r = { pos: 0 };
                let cell = 0;
                while (r.pos < body.length) {
                    cell += varint(body, r);
                    const count = varint(body, r);
                    const nbytes = Math.ceil(count / 4);
                    if (cell + count > cells) throw new FrameError('delta run past the map');
                    if (r.pos + nbytes > body.length) throw new FrameError('delta run truncated');
                    unpack2(body, r.pos, count, map, cell);
                    r.pos += nbytes;
                    cell += count;
                }
            } else if (enc === 3) {
                // fill: runs of one kind, each (varint skip, varint x): x >> 2 cells of kind x & 3
                if (!prev || prev.length !== cells) throw new FrameError('fill without a previous map of lane ' + lane);
                map = prev;
                const r = { pos: 0 };
                let cell = 0;
                while (r.pos < body.length) {
                    cell += varint(body, r);
                    const x = varint(body, r);
                    const count = Math.floor(x / 4);
                    if (cell + count > cells) throw new FrameError('fill run past the map');
                    map.fill(x & 3, cell, cell + count);
                    cell += count;
                }
            } else {
                throw new FrameError('unknown encoding ' + enc);
            }
        } else if (type === 2) {
            map = new Uint8Array(cells);
            const r = { pos: 0 };
            let cell = 0;
            while (r.pos < body.length) {
                const count = varint(body, r);
                if (r.pos >= body.length) throw new FrameError('overlay run without a value');
                const v = body[r.pos++];
                if (cell + count > cells) throw new FrameError('overlay run past the map');
                if (v) map.fill(v, cell, cell + count);
                cell += count;
            }
        } else {
            throw new FrameError('unknown frame type ' + type);
        }
        return { type: type, lane: lane, tick: tick, cells: cells, map: map };
    }

    /* A tick file's `cells` (base64 of the packed map) as one byte per cell. */
    function decodeBase64Map(b64, cells) {
        const s = atob(b64);
        const packed = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) packed[i] = s.charCodeAt(i);
        if (packed.length < Math.ceil(cells / 4)) throw new FrameError('tick map shorter than ' + cells + ' cells');
        const map = new Uint8Array(cells);
        unpack2(packed, 0, cells, map, 0);
        return map;
    }

    HL.codec = {
        FrameError: FrameError,
        decodeFrame: decodeFrame,
        decodeBase64Map: decodeBase64Map,
        unpack2: unpack2,
        HEADER_BYTES: HEADER_BYTES,
    };
})(window.HL = window.HL || {});
