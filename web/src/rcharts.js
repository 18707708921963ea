/*
 * rcharts.js: the charts of the report (report.js): lines on uPlot (a log2 or linear x, a
 * linear or log y, min-max bands, marks drawn as dashed lines, a reference line, a tooltip
 * instead of uPlot's legend: one legend of allocators serves the whole page), grouped bars
 * on a canvas (a log y, min-max whiskers) and the comparison's changes (a row per cell, a
 * panel per metric, bars from 0 coloured by verdict). Every chart is registered in
 * HL.rcharts.all with the colours of what it draws, which the browser tests look for in its
 * pixels (`any`: one of them is enough, as lines may hide each other).
 */
(function (HL) {
    'use strict';

    const GRID = '#2a3140';
    const AXIS = '#9aa4b2';
    const FONT = '11px system-ui, sans-serif';
    const all = [];

    function register(kind, host, canvas, extra) {
        const c = Object.assign({ kind: kind, host: host, canvas: canvas }, extra || {});
        all.push(c);
        return c;
    }

    /* A colour with alpha: '#4e9ce0' + 0.2 -> 'rgba(78,156,224,0.2)'. */
    function alpha(hex, a) {
        const n = parseInt(hex.slice(1), 16);
        return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
    }

    /* One tooltip element for the page. */
    let tipEl = null;
    function tip(text, x, y) {
        if (!tipEl) {
            tipEl = HL.el('div', { class: 'tip rtip' });
            document.body.appendChild(tipEl);
        }
        if (text === null) {
            tipEl.hidden = true;
            return;
        }
        tipEl.textContent = text;
        tipEl.hidden = false;
        const w = tipEl.offsetWidth;
        tipEl.style.left = Math.max(4, Math.min(window.scrollX + window.innerWidth - w - 8, x + 14)) + 'px';
        tipEl.style.top = y + 14 + 'px';
    }

    function axis(fmt, size) {
        return {
            stroke: AXIS,
            grid: { stroke: GRID, width: 1 },
            ticks: { stroke: GRID, width: 1 },
            font: FONT,
            size: size || 56,
            values: fmt ? function (u, vals) {
                return vals.map(function (v) {
                    return v === null ? '' : fmt(v);
                });
            } : undefined,
        };
    }

    function widthOf(host) {
        return Math.max(260, Math.floor(host.clientWidth || host.parentNode.clientWidth || 360));
    }

    /*
     * A line chart. o: {
     *   series: [{label, colour, xs, ys, dash, lo, hi}]  (lo, hi: the band, same xs),
     *   x: {log2, fmt, splits, label}, y: {log, fmt, label}, height,
     *   marks: [{x, label, colour}], hline: {y, label},
     *   tipX: x -> text, tipY: y -> text }
     * Series with different xs are joined on one x axis (uPlot.join), gaps spanned.
     */
    function lines(host, o) {
        const tables = [];
        const series = [{}];
        const bands = [];
        const tipFor = []; /* series index -> label */
        o.series.forEach(function (s) {
            const dash = s.dash ? [5, 4] : undefined;
            const few = s.xs.length < 12;
            tables.push([s.xs, s.ys]);
            series.push(s.pointsOnly ? {
                label: s.label,
                stroke: s.colour,
                width: 1,
                paths: function () {
                    return null;
                },
                points: { show: true, size: 7, width: 1.5, fill: '#161b24', stroke: s.colour },
            } : {
                label: s.label,
                stroke: s.colour,
                width: 2,
                dash: dash,
                spanGaps: true,
                points: { show: few, size: 5, fill: s.colour, stroke: s.colour },
            });
            tipFor[series.length - 1] = s.label;
            if (s.lo && s.hi) {
                tables.push([s.xs, s.hi]);
                series.push({ label: s.label + ' max', stroke: alpha(s.colour, 0.25), width: 1, spanGaps: true, points: { show: false } });
                tables.push([s.xs, s.lo]);
                series.push({ label: s.label + ' min', stroke: alpha(s.colour, 0.25), width: 1, spanGaps: true, points: { show: false } });
                bands.push({ series: [series.length - 2, series.length - 1], fill: alpha(s.colour, 0.09) });
            }
        });
        const data = tables.length ? uPlot.join(tables) : [[]];
        const xs = o.x || {};
        const ys = o.y || {};
        const scales = { x: { time: false }, y: {} };
        if (xs.log2) {
            scales.x.distr = 3;
            scales.x.log = 2;
        }
        if (ys.log) {
            scales.y.distr = 3;
            scales.y.log = 10;
        }
        if (xs.range) scales.x.range = xs.range;
        const xAxis = axis(xs.fmt, 36);
        if (xs.splits) {
            xAxis.splits = function () {
                return xs.splits;
            };
        }
        if (xs.label) {
            xAxis.label = xs.label;
            xAxis.labelSize = 16;
            xAxis.labelFont = FONT;
        }
        const yAxis = axis(ys.fmt, 60);
        if (ys.log) {
            /* decades only: uPlot's 2..9 between them crowd a small chart */
            yAxis.splits = function (u, i, min, max) {
                const out = [];
                for (let e = Math.ceil(Math.log10(min) - 1e-9); e <= Math.floor(Math.log10(max) + 1e-9); e++) out.push(Math.pow(10, e));
                return out;
            };
        }
        if (ys.label) {
            yAxis.label = ys.label;
            yAxis.labelSize = 16;
            yAxis.labelFont = FONT;
        }
        const tipDiv = { last: -1 };
        const plot = new uPlot({
            width: widthOf(host),
            height: o.height || 200,
            legend: { show: false },
            cursor: { drag: { x: false, y: false }, points: { size: 6 } },
            scales: scales,
            axes: [xAxis, yAxis],
            series: series,
            bands: bands,
            hooks: {
                draw: [function (u) {
                    drawMarks(u, o.marks || []);
                    if (o.hline) drawHline(u, o.hline);
                }],
                setCursor: [function (u) {
                    const i = u.cursor.idx;
                    if (i === null || i === undefined || u.cursor.left < 0) {
                        if (tipDiv.last !== -1) tip(null);
                        tipDiv.last = -1;
                        return;
                    }
                    const rows = [(o.tipX || String)(u.data[0][i])];
                    for (let s = 1; s < u.series.length; s++) {
                        const v = u.data[s][i];
                        if (tipFor[s] !== undefined && v !== null && v !== undefined) {
                            rows.push(tipFor[s] + ': ' + (o.tipY || String)(v));
                        }
                    }
                    const r = u.over.getBoundingClientRect();
                    tip(rows.join('\n'), r.left + window.scrollX + u.cursor.left, r.top + window.scrollY + u.cursor.top);
                    tipDiv.last = i;
                }],
            },
        }, data, host);
        host.addEventListener('mouseleave', function () {
            tip(null);
        });
        const colours = [];
        o.series.forEach(function (x) {
            if (colours.indexOf(x.colour) < 0) colours.push(x.colour);
        });
        return register('lines', host, plot.ctx.canvas, { plot: plot, points: data[0].length, colours: colours, any: true });
    }

    function drawMarks(u, marks) {
        if (!marks.length) return;
        const ctx = u.ctx;
        const dpr = uPlot.pxRatio || 1;
        ctx.save();
        ctx.font = Math.round(10 * dpr) + 'px system-ui, sans-serif';
        ctx.textAlign = 'left'; /* uPlot leaves its axes' alignment set: the spans below assume left */
        ctx.textBaseline = 'alphabetic';
        ctx.lineWidth = dpr;
        const labelled = {};
        const rows = [[], [], [], [], []]; /* the x ranges each row of labels holds */
        marks.forEach(function (m) {
            const x = u.valToPos(m.x, 'x', true);
            if (!isFinite(x) || x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) return;
            ctx.strokeStyle = alpha(m.colour, 0.45);
            ctx.setLineDash([3 * dpr, 3 * dpr]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            if (labelled[m.label]) return;
            labelled[m.label] = true;
            ctx.fillStyle = '#c9d1dc';
            const w = ctx.measureText(m.label).width;
            const tx = x + 3 * dpr + w > u.bbox.left + u.bbox.width ? x - 3 * dpr - w : x + 3 * dpr;
            /* the first row where the label overlaps no other (the last one if none) */
            let r = 0;
            while (r < rows.length - 1 && rows[r].some(function (span) {
                return tx < span[1] + 4 * dpr && tx + w > span[0] - 4 * dpr;
            })) r++;
            rows[r].push([tx, tx + w]);
            ctx.fillText(m.label, tx, u.bbox.top + (10 + 11 * r) * dpr);
        });
        ctx.restore();
    }

    function drawHline(u, h) {
        const y = u.valToPos(h.y, 'y', true);
        if (!isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
        const ctx = u.ctx;
        const dpr = uPlot.pxRatio || 1;
        ctx.save();
        ctx.strokeStyle = '#7c8696';
        ctx.setLineDash([2 * dpr, 4 * dpr]);
        ctx.lineWidth = dpr;
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, y);
        ctx.lineTo(u.bbox.left + u.bbox.width, y);
        ctx.stroke();
        ctx.fillStyle = '#7c8696';
        ctx.font = Math.round(10 * dpr) + 'px system-ui, sans-serif';
        ctx.textAlign = 'right';
        ctx.fillText(h.label, u.bbox.left + u.bbox.width - 4 * dpr, y - 3 * dpr);
        ctx.restore();
    }

    /* ---- canvases ------------------------------------------------------------------- */

    function canvasFor(host, w, h) {
        const dpr = window.devicePixelRatio || 1;
        const cv = HL.el('canvas', { class: 'rcanvas' });
        cv.width = Math.round(w * dpr);
        cv.height = Math.round(h * dpr);
        cv.style.width = w + 'px';
        cv.style.height = h + 'px';
        host.appendChild(cv);
        const ctx = cv.getContext('2d');
        ctx.scale(dpr, dpr);
        ctx.font = FONT;
        return { cv: cv, ctx: ctx };
    }

    /* Decades from lo to hi covering every positive value, [10^a, 10^b]. */
    function logRange(vals) {
        let lo = Infinity;
        let hi = 0;
        vals.forEach(function (v) {
            if (v > 0 && isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        });
        if (!(hi > 0)) return null;
        let a = Math.floor(Math.log10(lo));
        let b = Math.ceil(Math.log10(hi));
        if (b <= a) b = a + 1;
        return { a: a, b: b };
    }

    /* 1, 10 and 100 of each byte unit: the round values a bytes axis has ticks at. */
    const BYTE_TICKS = [];
    for (let k = 0; k < 7; k++) {
        [1, 10, 100].forEach(function (f) {
            BYTE_TICKS.push(f * Math.pow(1024, k));
        });
    }

    /* The range of a bytes axis: from the byte tick at or below the smallest positive value to
     * the one at or above the largest, as log10s. */
    function byteRange(vals) {
        const r = logRange(vals);
        if (!r) return null;
        let lo = Infinity;
        let hi = 0;
        vals.forEach(function (v) {
            if (v > 0 && isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        });
        let a = BYTE_TICKS[0];
        let b = BYTE_TICKS[BYTE_TICKS.length - 1];
        BYTE_TICKS.forEach(function (t) {
            if (t <= lo) a = t;
        });
        for (let i = BYTE_TICKS.length - 1; i >= 0; i--) if (BYTE_TICKS[i] >= hi) b = BYTE_TICKS[i];
        if (b <= a) b = a * 10;
        return { a: Math.log10(a), b: Math.log10(b) };
    }

    /*
     * Grouped bars. o: {groups: [label], series: [{label, colour, values: [v|null], lo, hi}],
     * fmt: v -> text, bytes (the values are bytes: round ticks), height}. A log y in decades; a bar per series in each group, its
     * whisker from lo to hi; a value of 0 is a grey tick on the axis.
     */
    function bars(host, o) {
        const W = widthOf(host);
        const H = o.height || 260;
        const longest = o.groups.reduce(function (m, g) {
            return Math.max(m, g.length);
        }, 0);
        const bottom = o.groups.length > 1 ? Math.min(110, 18 + longest * 5.2) : 24;
        const left = 62;
        const top = 10;
        const { cv, ctx } = canvasFor(host, W, H);
        const vals = [];
        o.series.forEach(function (s) {
            s.values.forEach(function (v, i) {
                vals.push(v);
                if (s.hi) vals.push(s.hi[i]);
                if (s.lo) vals.push(s.lo[i]);
            });
        });
        const r = (o.bytes ? byteRange(vals) : logRange(vals)) || { a: 0, b: 1 };
        /* A smallest value on the axis's lowest line would be a bar of no height: a decade
         * lower, so a count of 1 shows. */
        if (vals.some(function (v) {
            return v > 0 && Math.log10(v) <= r.a + 1e-9;
        })) r.a -= 1;
        const ph = H - top - bottom;
        const pw = W - left - 8;
        const yOf = function (v) {
            return top + ph * (1 - (Math.log10(v) - r.a) / (r.b - r.a));
        };
        ctx.fillStyle = '#161b24';
        ctx.fillRect(0, 0, W, H);
        ctx.strokeStyle = GRID;
        ctx.fillStyle = AXIS;
        ctx.textAlign = 'right';
        ctx.textBaseline = 'middle';
        /* Gridlines at the decades, or for bytes at 1, 10 and 100 of each unit (1 KiB, 10 KiB,
         * 100 KiB, 1 MiB, ...), so their labels are round. */
        const ticks = [];
        const step = r.b - r.a > 6 ? 2 : 1;
        if (o.bytes) {
            BYTE_TICKS.forEach(function (v, i) {
                const e = Math.log10(v);
                if (e >= r.a - 1e-9 && e <= r.b + 1e-9 && (step === 1 || i % 3 !== 1)) ticks.push(v);
            });
        } else {
            for (let e = r.a; e <= r.b; e += step) ticks.push(Math.pow(10, e));
        }
        ticks.forEach(function (v) {
            const y = Math.round(yOf(v)) + 0.5;
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + pw, y);
            ctx.stroke();
            ctx.fillText(o.fmt(v).replace(/\.0+ /, ' '), left - 6, y);
        });
        const ng = o.groups.length;
        const ns = o.series.length;
        const gw = pw / Math.max(1, ng);
        const bw = Math.max(2, Math.min(26, (gw * 0.8) / Math.max(1, ns)));
        const hits = [];
        for (let g = 0; g < ng; g++) {
            const x0 = left + g * gw + (gw - bw * ns) / 2;
            o.series.forEach(function (s, k) {
                const v = s.values[g];
                const x = x0 + k * bw;
                if (v === null || v === undefined) return;
                hits.push({ x: x, w: bw, g: g, s: k });
                if (!(v > 0)) {
                    ctx.fillStyle = '#7c8696';
                    ctx.fillRect(x + 1, top + ph - 2, bw - 2, 2);
                    return;
                }
                const y = yOf(v);
                ctx.fillStyle = s.colour;
                ctx.fillRect(x + 1, y, bw - 2, top + ph - y);
                if (s.lo && s.hi && s.hi[g] > 0 && s.lo[g] > 0 && s.hi[g] !== s.lo[g]) {
                    const cx = x + bw / 2;
                    ctx.strokeStyle = '#e6e9ef';
                    ctx.beginPath();
                    ctx.moveTo(cx, yOf(s.hi[g]));
                    ctx.lineTo(cx, yOf(s.lo[g]));
                    ctx.moveTo(cx - 2, yOf(s.hi[g]));
                    ctx.lineTo(cx + 2, yOf(s.hi[g]));
                    ctx.moveTo(cx - 2, yOf(s.lo[g]));
                    ctx.lineTo(cx + 2, yOf(s.lo[g]));
                    ctx.stroke();
                }
            });
        }
        ctx.strokeStyle = AXIS;
        ctx.beginPath();
        ctx.moveTo(left, top + ph + 0.5);
        ctx.lineTo(left + pw, top + ph + 0.5);
        ctx.stroke();
        ctx.fillStyle = AXIS;
        for (let g = 0; g < ng; g++) {
            const cx = left + g * gw + gw / 2;
            ctx.save();
            ctx.translate(cx, top + ph + 6);
            if (ng > 1) {
                ctx.rotate(-Math.PI / 4);
                ctx.textAlign = 'right';
            } else {
                ctx.textAlign = 'center';
            }
            ctx.textBaseline = 'top';
            ctx.fillText(o.groups[g], ng > 1 ? 4 : 0, 0);
            ctx.restore();
        }
        cv.addEventListener('mousemove', function (ev) {
            const b = cv.getBoundingClientRect();
            const mx = ev.clientX - b.left;
            const h = hits.find(function (t) {
                return mx >= t.x && mx < t.x + t.w;
            });
            if (!h) return tip(null);
            const s = o.series[h.s];
            let text = o.groups[h.g] + '\n' + s.label + ': ' + o.fmt(s.values[h.g]);
            if (s.lo && s.hi && s.lo[h.g] !== s.hi[h.g]) text += '  (' + o.fmt(s.lo[h.g]) + ' – ' + o.fmt(s.hi[h.g]) + ')';
            tip(text, ev.pageX, ev.pageY);
        });
        cv.addEventListener('mouseleave', function () {
            tip(null);
        });
        const colours = o.series.filter(function (s) {
            return s.values.some(function (v) {
                return v > 0;
            });
        }).map(function (s) {
            return s.colour;
        });
        if (!colours.length && hits.length) colours.push('#7c8696'); /* every value 0: the ticks */
        return register('bars', host, cv, { bars: hits.length, colours: colours });
    }

    /*
     * The comparison's changes. o: {metrics: [{title, higher_better}], rows: [{label,
     * cells: [{change, lo, hi, verdict, significant, text} | null]}], threshold}: a row per
     * compared cell, a panel per metric; a bar from 0 to the change of the medians, its
     * whisker the largest and smallest change the repetitions allow (new min / base max - 1
     * .. new max / base min - 1); red worse, green better, grey otherwise (outlined when
     * significant but within the threshold); the threshold band shaded.
     */
    function changes(host, o) {
        const W = widthOf(host);
        const rowH = 15;
        const head = 34;
        const labelW = Math.min(260, Math.max(140, W * 0.24));
        const H = head + rowH * o.rows.length + 10;
        const { cv, ctx } = canvasFor(host, W, H);
        ctx.fillStyle = '#161b24';
        ctx.fillRect(0, 0, W, H);
        const np = o.metrics.length;
        const gap = 14;
        const pw = (W - labelW - gap * np) / np;
        const colours = { worse: '#e15759', better: '#59a14f', same: '#7c8696', untested: '#3b4454', 'new-fails': '#e15759', 'base-fails': '#7c8696', reference: '#3b4454' };
        ctx.textBaseline = 'middle';
        o.rows.forEach(function (r, i) {
            const y = head + i * rowH + rowH / 2;
            if (i % 2 === 0) {
                ctx.fillStyle = '#1a202b';
                ctx.fillRect(0, y - rowH / 2, W, rowH);
            }
            ctx.fillStyle = '#c9d1dc';
            ctx.textAlign = 'left';
            ctx.fillText(r.label, 6, y);
        });
        const hits = [];
        o.metrics.forEach(function (m, p) {
            const x0 = labelW + p * (pw + gap) + gap / 2;
            let span = Math.max(o.threshold * 2, 0.05);
            o.rows.forEach(function (r) {
                const c = r.cells[p];
                if (c && isFinite(c.change)) span = Math.max(span, Math.abs(c.change) * 1.15);
            });
            span = Math.min(span, 4);
            const xOf = function (v) {
                const t = Math.max(-span, Math.min(span, v));
                return x0 + pw / 2 + (t / span) * (pw / 2);
            };
            ctx.fillStyle = '#e6e9ef';
            ctx.textAlign = 'center';
            ctx.fillText(m.title, x0 + pw / 2, 10);
            ctx.fillStyle = AXIS;
            ctx.fillText('−' + Math.round(span * 100) + '%', x0 + 14, 25);
            ctx.fillText('+' + Math.round(span * 100) + '%', x0 + pw - 16, 25);
            ctx.fillText(m.higher_better ? '← worse   better →' : '← better   worse →', x0 + pw / 2, 25);
            ctx.fillStyle = 'rgba(154,164,178,0.10)';
            ctx.fillRect(xOf(-o.threshold), head, xOf(o.threshold) - xOf(-o.threshold), rowH * o.rows.length);
            ctx.strokeStyle = AXIS;
            ctx.beginPath();
            ctx.moveTo(Math.round(xOf(0)) + 0.5, head);
            ctx.lineTo(Math.round(xOf(0)) + 0.5, head + rowH * o.rows.length);
            ctx.stroke();
            o.rows.forEach(function (r, i) {
                const c = r.cells[p];
                const y = head + i * rowH + 2;
                if (!c) return;
                hits.push({ x: x0, w: pw, y: y - 2, h: rowH, text: r.label + '\n' + m.title + '\n' + c.text });
                if (!isFinite(c.change)) {
                    ctx.fillStyle = colours[c.verdict] || '#7c8696';
                    ctx.textAlign = 'center';
                    ctx.fillText(c.verdict === 'new-fails' ? 'new fails' : c.verdict === 'base-fails' ? 'base failed' : c.verdict === 'reference' ? 'reference' : 'untested', xOf(0), y + rowH / 2 - 2);
                    return;
                }
                const a = xOf(0);
                const b = xOf(c.change);
                const col = colours[c.verdict] || '#7c8696';
                ctx.fillStyle = col;
                ctx.fillRect(Math.min(a, b), y, Math.max(1.5, Math.abs(b - a)), rowH - 4);
                if (c.significant && c.verdict === 'same') {
                    ctx.strokeStyle = '#e6e9ef';
                    ctx.strokeRect(Math.min(a, b) + 0.5, y + 0.5, Math.max(1.5, Math.abs(b - a)) - 1, rowH - 5);
                }
                if (isFinite(c.lo) && isFinite(c.hi)) {
                    ctx.strokeStyle = '#e6e9ef';
                    ctx.beginPath();
                    ctx.moveTo(xOf(c.lo), y + (rowH - 4) / 2);
                    ctx.lineTo(xOf(c.hi), y + (rowH - 4) / 2);
                    ctx.stroke();
                }
            });
        });
        cv.addEventListener('mousemove', function (ev) {
            const b = cv.getBoundingClientRect();
            const mx = ev.clientX - b.left;
            const my = ev.clientY - b.top;
            const h = hits.find(function (t) {
                return mx >= t.x && mx < t.x + t.w && my >= t.y && my < t.y + t.h;
            });
            if (!h) return tip(null);
            tip(h.text, ev.pageX, ev.pageY);
        });
        cv.addEventListener('mouseleave', function () {
            tip(null);
        });
        const used = [];
        o.rows.forEach(function (r) {
            r.cells.forEach(function (c) {
                const col = c && isFinite(c.change) ? colours[c.verdict] : null;
                if (col && used.indexOf(col) < 0) used.push(col);
            });
        });
        return register('changes', host, cv, { rows: o.rows.length, colours: used });
    }

    /* Forget the charts inside `host` (their section is drawn again). */
    function forget(host) {
        for (let i = all.length - 1; i >= 0; i--) {
            if (host.contains(all[i].host)) {
                if (all[i].plot) all[i].plot.destroy();
                all.splice(i, 1);
            }
        }
    }

    window.addEventListener('resize', function () {
        all.forEach(function (c) {
            if (c.plot) c.plot.setSize({ width: widthOf(c.host), height: c.plot.height });
        });
    });

    HL.rcharts = { all: all, lines: lines, bars: bars, changes: changes, forget: forget, alpha: alpha, tip: tip };
})(window.HL = window.HL || {});
