/*
 * heatmap.js: one lane's arena as a canvas, one pixel per cell (row-major, cell 0 at the
 * top left), painted through ImageData from a colour table: a map is one byte per cell, so
 * a paint is one table look-up and one 32-bit store per cell. The canvas is scaled by CSS
 * (image-rendering: pixelated).
 */
(function (HL) {
    'use strict';

    /* RGBA as a little-endian Uint32 (ImageData's byte order R, G, B, A). */
    function rgba(hex) {
        const v = parseInt(hex.slice(1), 16);
        return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | (v >> 16)) >>> 0;
    }

    const KIND_COLOURS = ['#1d2430', '#3da5f4', '#f2a72e', '#e2477d']; /* free used meta waste */
    const KIND_LUT = new Uint32Array(KIND_COLOURS.map(rgba));
    const OUTSIDE = rgba('#000000'); /* pixels past the last cell */

    /* A colour ramp through stops, sampled at n points. */
    function ramp(stops, n) {
        const out = new Uint32Array(n);
        const cs = stops.map(function (h) {
            const v = parseInt(h.slice(1), 16);
            return [v >> 16, (v >> 8) & 0xff, v & 0xff];
        });
        for (let i = 0; i < n; i++) {
            const t = n === 1 ? 0 : (i / (n - 1)) * (cs.length - 1);
            const k = Math.min(cs.length - 2, Math.floor(t));
            const f = t - k;
            const c = [0, 1, 2].map(function (j) {
                return Math.round(cs[k][j] + (cs[k + 1][j] - cs[k][j]) * f);
            });
            out[i] = rgba('#' + ((1 << 24) | (c[0] << 16) | (c[1] << 8) | c[2]).toString(16).slice(1));
        }
        return out;
    }

    /* Overlay value v (1..255) -> colour; 0 falls back to the kind colour. */
    /* Neither ramp passes through the orange of meta or the pink of waste. */
    const CLASS_STOPS = ['#2b4c9b', '#2f7fc1', '#28a9c9', '#3cc7a0', '#8fdc6a', '#d8ee6e', '#ffffcc'];
    const AGE_STOPS = ['#f7fcb9', '#addd8e', '#41ab5d', '#238b8a', '#225ea8', '#253494', '#3f007d'];
    const CLASS_LUT = ramp(CLASS_STOPS, 24); /* classes 1..24: 16 B .. 128 MiB */
    const AGE_LUT = ramp(AGE_STOPS, 28); /* log2(ops) 0..27 */

    function overlayColour(mode, v) {
        if (mode === 'class') return CLASS_LUT[Math.min(CLASS_LUT.length - 1, v - 1)];
        return AGE_LUT[Math.min(AGE_LUT.length - 1, v - 1)];
    }

    function Heatmap(canvas, cells) {
        this.canvas = canvas;
        this.cells = cells;
        const s = HL.mapShape(cells);
        canvas.width = s.w;
        canvas.height = s.h;
        this.w = s.w;
        this.h = s.h;
        this.ctx = canvas.getContext('2d', { alpha: false });
        this.img = this.ctx.createImageData(s.w, s.h);
        this.px = new Uint32Array(this.img.data.buffer);
        this.px.fill(OUTSIDE);
        this.lut = new Uint32Array(256);
    }

    /* Paints kinds (Uint8Array, one byte a cell); with mode class/age, `overlay` colours used cells. */
    Heatmap.prototype.paint = function (kinds, overlay, mode) {
        const px = this.px;
        const n = Math.min(this.cells, kinds.length);
        if (overlay && mode !== 'kind' && overlay.length >= n) {
            const lut = this.lut;
            for (let v = 1; v < 256; v++) lut[v] = overlayColour(mode, v);
            for (let i = 0; i < n; i++) {
                const v = overlay[i];
                px[i] = v && kinds[i] === 1 ? lut[v] : KIND_LUT[kinds[i]];
            }
        } else {
            for (let i = 0; i < n; i++) px[i] = KIND_LUT[kinds[i]];
        }
        this.ctx.putImageData(this.img, 0, 0);
    };

    /* The cell under a mouse event, or -1. */
    Heatmap.prototype.cellAt = function (ev) {
        const r = this.canvas.getBoundingClientRect();
        const x = Math.floor(((ev.clientX - r.left) / r.width) * this.w);
        const y = Math.floor(((ev.clientY - r.top) / r.height) * this.h);
        if (x < 0 || y < 0 || x >= this.w || y >= this.h) return -1;
        const c = y * this.w + x;
        return c < this.cells ? c : -1;
    };

    /* A table colour back as #rrggbb, for the legend. */
    function hexOf(u) {
        return '#' + ((1 << 24) | ((u & 0xff) << 16) | (u & 0xff00) | ((u >> 16) & 0xff)).toString(16).slice(1);
    }

    /* Legend entries for a mode: [{colour, label}]; overlay values as the server sends them. */
    function legend(mode, kinds) {
        const names = kinds || ['free', 'used', 'meta', 'waste'];
        const k = function (i, label) {
            return { colour: KIND_COLOURS[i], label: label || names[i] };
        };
        const o = function (v, label) {
            return { colour: hexOf(overlayColour(mode, v)), label: label };
        };
        if (mode === 'class') {
            return [k(0), o(1, 'used: ≤16 B'), o(5, '≤256 B'), o(9, '≤4 KiB'), o(13, '≤64 KiB'),
                o(17, '≤1 MiB'), o(21, 'larger'), k(2), k(3)];
        }
        if (mode === 'age') {
            return [k(0), o(1, 'used: new'), o(8, '~100 ops old'), o(14, '~10k ops'),
                o(18, '~100k ops'), o(21, '1M+ ops'), k(2), k(3)];
        }
        return names.map(function (n, i) {
            return k(i);
        });
    }

    HL.Heatmap = Heatmap;
    HL.heatmap = { legend: legend, KIND_COLOURS: KIND_COLOURS, rgba: rgba };
})(window.HL = window.HL || {});
