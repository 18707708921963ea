/*
 * rinside.js: the report's "Inside the allocators" (report.js; docs/report.md): for one
 * workload and thread count at a time (a picker when there are several), the heap maps of
 * every allocator side by side at one snapshot (a slider over the snapshots, buttons for the
 * marks), each region of the allocator's memory a block of rows of squares in address order
 * on a canvas, coloured by what its pages hold; then the allocators' own statistics at that
 * snapshot as one table ("not exposed" where an allocator has no figure), their size
 * classes' fill as bars, and the OS calls of each as a table and bars.
 *
 * The squares come as the page's data has them (src/report/inside.c): heaplab.rle/1 letters
 * for squares of `f` cells (A-I not resident, a-i resident, p-x residency unknown; the
 * letter's offset is the live bucket, 0 to 8 eighths) and "N-" for N cells not resident with
 * nothing live, drawn as one labelled line. Every canvas is registered in HL.rcharts.all
 * with the colours it drew, and `squares` (letter -> squares drawn) and `px`, the side of a
 * square in canvas pixels, so a test can count what is drawn.
 */
(function (HL) {
    'use strict';

    const COLS = 64; /* squares a row */
    const MAX_H = 640; /* the tallest column at the largest square, css px */
    /* By bucket 0..8: resident and empty (red), sparse 1..4 (orange to yellow), dense 5..8
     * (light to dark green). */
    const RESIDENT = ['#e04f4f', '#e8772e', '#f09a34', '#f5c542', '#efe36a', '#b5dd6e', '#74c365', '#2f9e4f', '#0b6b33'];
    const NOT_RESIDENT = '#3a4252';
    const NOT_RESIDENT_LIVE = '#7a5fa8'; /* not resident yet live: swapped out */
    const UNKNOWN = '#8a93a3';
    const KINDS = { brk: '#4e9ce0', anon: '#9aa4b2', reserved: '#a0743a', huge: '#d55fd0' };
    const KIND_TEXT = { brk: 'brk heap', anon: 'anonymous mapping (arenas, segments, spans)', reserved: 'reserved (no access)', huge: 'one object is most of it (a huge block)' };
    const BG = '#161b24';

    function colourOf(letter) {
        const c = letter.charCodeAt(0);
        if (c >= 97 && c <= 105) return RESIDENT[c - 97];
        if (c >= 65 && c <= 73) return c === 65 ? NOT_RESIDENT : NOT_RESIDENT_LIVE;
        return UNKNOWN;
    }

    /* "3a12iA40-" -> [{n: 3, l: 'a'}, {n: 12, l: 'i'}, {n: 1, l: 'A'}, {n: 40, l: '-'}]. */
    function runs(text) {
        const out = [];
        const re = /(\d*)([A-Ia-ip-x-])/g;
        let m;
        while ((m = re.exec(text)) !== null) out.push({ n: m[1] ? Number(m[1]) : 1, l: m[2] });
        return out;
    }

    function size(v) {
        return v === null || v === undefined ? '–' : HL.rtables.shortSize(v);
    }

    /* Rows a region takes: its squares in rows of COLS, a fold a row of its own. */
    function regionRows(text) {
        let rows = 0;
        let col = 0;
        runs(text).forEach(function (r) {
            if (r.l === '-') {
                rows += (col ? 1 : 0) + 1;
                col = 0;
                return;
            }
            col += r.n;
            rows += Math.floor(col / COLS);
            col %= COLS;
        });
        return rows + (col ? 1 : 0);
    }

    function snapRows(s) {
        return (s.regions || []).reduce(function (n, r) {
            return n + regionRows(r[3]) + 1;
        }, 0);
    }

    const FOLD_H = 4; /* a folded stretch's line, in squares' rows at least */
    const LEFT = 7; /* the kind strip and a gap, css px */

    /* The css px a snapshot's map takes, squares of `sq` px, a fold `foldH` px. */
    function mapHeight(s, sq, foldH) {
        let h = 4;
        (s.regions || []).forEach(function (r) {
            h += 4;
            let col = 0;
            runs(r[3]).forEach(function (x) {
                if (x.l === '-') {
                    h += (col ? sq : 0) + foldH;
                    col = 0;
                    return;
                }
                h += Math.floor((col + x.n) / COLS) * sq;
                col = (col + x.n) % COLS;
            });
            if (col) h += sq;
        });
        return h + 4;
    }

    /* Draw region r from y (css px) on ctx; the y after it. `acc`: the squares by letter, the
     * colours used, the hover spans. */
    function drawRegion(ctx, r, y, sq, foldH, cellBytes, acc) {
        const top = y;
        let col = 0;
        runs(r[3]).forEach(function (x) {
            if (x.l === '-') {
                if (col) y += sq;
                col = 0;
                const text = HL.rtables.shortSize(x.n * cellBytes) + ' not resident, nothing live';
                ctx.fillStyle = '#222936';
                ctx.fillRect(LEFT, y + 1, COLS * sq, foldH - 2);
                ctx.fillStyle = '#9aa4b2';
                ctx.fillText('⋯ ' + text, LEFT + 3, y + foldH / 2);
                acc.hits.push({ y0: y, y1: y + foldH, text: text });
                y += foldH;
                return;
            }
            const c = colourOf(x.l);
            ctx.fillStyle = c;
            if (acc.colours.indexOf(c) < 0) acc.colours.push(c);
            acc.squares[x.l] = (acc.squares[x.l] || 0) + x.n;
            for (let n = x.n; n > 0;) {
                const k = Math.min(n, COLS - col);
                ctx.fillRect(LEFT + col * sq, y, k * sq, sq);
                col += k;
                n -= k;
                if (col === COLS) {
                    col = 0;
                    y += sq;
                }
            }
        });
        if (col) y += sq;
        ctx.fillStyle = KINDS[r[2]] || KINDS.anon;
        ctx.fillRect(1, top, 4, Math.max(2, y - top));
        acc.hits.push({ y0: top, y1: y, text: r[2] + ' at ' + r[0] + ', ' + HL.rtables.shortSize(r[1]) });
        return y;
    }

    function hover(cv, hits) {
        cv.addEventListener('mousemove', function (ev) {
            const my = ev.clientY - cv.getBoundingClientRect().top;
            const t = hits.filter(function (x) {
                return my >= x.y0 && my < x.y1;
            }).map(function (x) {
                return x.text;
            });
            HL.rcharts.tip(t.length ? t.join('\n') : null, ev.pageX, ev.pageY);
        });
        cv.addEventListener('mouseleave', function () {
            HL.rcharts.tip(null);
        });
    }

    /* Draw snapshot s on a new canvas in `host`, squares of `sq` css px: {cv, squares (by
     * letter), colours (those drawn)}. */
    function drawMap(host, s, sq, pageBytes) {
        const dpr = window.devicePixelRatio || 1;
        const foldH = Math.max(11, sq * FOLD_H);
        const W = LEFT + COLS * sq + 2;
        const H = Math.max(120, mapHeight(s, sq, foldH));
        const cv = HL.el('canvas', { class: 'rcanvas hmap' });
        cv.width = Math.round(W * dpr);
        cv.height = Math.round(H * dpr);
        cv.style.width = W + 'px';
        cv.style.height = H + 'px';
        host.appendChild(cv);
        const ctx = cv.getContext('2d');
        ctx.scale(dpr, dpr);
        ctx.fillStyle = BG;
        ctx.fillRect(0, 0, W, H);
        ctx.font = '9px system-ui, sans-serif';
        ctx.textBaseline = 'middle';
        const acc = { squares: {}, colours: [], hits: [] };
        let y = 4;
        (s.regions || []).forEach(function (r) {
            y = drawRegion(ctx, r, y + 4, sq, foldH, s.cell_bytes || pageBytes || 4096, acc);
        });
        hover(cv, acc.hits);
        return { cv: cv, squares: acc.squares, colours: acc.colours };
    }

    function legend(host) {
        const items = [['not resident', NOT_RESIDENT], ['resident, nothing live (kept)', RESIDENT[0]], ['sparse: 1/8', RESIDENT[1]], ['2/8', RESIDENT[2]],
            ['3/8', RESIDENT[3]], ['4/8 live', RESIDENT[4]], ['dense: 5/8', RESIDENT[5]], ['6/8', RESIDENT[6]], ['7/8', RESIDENT[7]], ['full', RESIDENT[8]],
            ['residency unknown', UNKNOWN], ['not resident, live (swapped)', NOT_RESIDENT_LIVE]];
        const box = HL.el('div', { class: 'hlegend' });
        items.forEach(function (it) {
            const s = HL.el('span', { class: 'hkey' });
            const sw = HL.el('span', { class: 'sw' });
            sw.style.background = it[1];
            s.appendChild(sw);
            s.appendChild(document.createTextNode(it[0]));
            box.appendChild(s);
        });
        const k = HL.el('div', { class: 'hlegend' });
        k.appendChild(HL.el('span', { class: 'note' }, 'left strip, each region: '));
        Object.keys(KINDS).forEach(function (name) {
            const s = HL.el('span', { class: 'hkey' });
            const sw = HL.el('span', { class: 'sw strip' });
            sw.style.background = KINDS[name];
            s.appendChild(sw);
            s.appendChild(document.createTextNode(KIND_TEXT[name]));
            k.appendChild(s);
        });
        host.appendChild(box);
        host.appendChild(k);
    }

    /* The snapshots of the first allocator that has any heap map (else statistics), as the
     * slider's stops; each other allocator's snapshot at a stop is the one with the same
     * label and ops (the same stream: the same points). */
    function stops(cells) {
        const of = function (part) {
            for (let i = 0; i < cells.length; i++) {
                const x = cells[i] && cells[i].inside && cells[i].inside[part];
                if (x && x.snaps && x.snaps.length) return x.snaps.map(function (s) {
                    return { label: s.label, ops: s.ops };
                });
            }
            return null;
        };
        return of('heapmap') || of('stats') || [];
    }

    function findSnap(list, stop) {
        return (list || []).find(function (s) {
            return s.label === stop.label && s.ops === stop.ops;
        }) || null;
    }

    function statusLine(sec) {
        if (!sec) return 'not measured';
        return sec.status + (sec.note ? ': ' + sec.note : '');
    }

    function scaleText(s, pageBytes) {
        const sqBytes = (s.cell_bytes || pageBytes) * s.f;
        const pages = sqBytes / pageBytes;
        return '□ = ' + HL.rtables.shortSize(sqBytes) + (pages > 1 ? ' (' + pages + ' pages: downsampled, ' + (s.downsampled ? 'in the results file and ' : '') + 'for the page)' : '');
    }

    /* The maps of every allocator at stop k, one panel each. */
    function maps(host, ctx, k) {
        HL.rcharts.forget(host);
        host.textContent = '';
        const stop = ctx.stops[k];
        ctx.cells.forEach(function (c, i) {
            const a = ctx.allocs[i];
            const p = HL.el('div', { class: 'chart hpanel' });
            p.style.maxWidth = Math.max(200, LEFT + 2 + COLS * ctx.sq + 14) + 'px'; /* its text wraps within the map's width */
            const h = HL.el('h4');
            const dot = HL.el('span', { class: 'dot' });
            dot.style.background = ctx.colour(a);
            h.appendChild(dot);
            h.appendChild(document.createTextNode(a));
            p.appendChild(h);
            host.appendChild(p);
            const hm = c && c.inside && c.inside.heapmap;
            const s = hm && hm.status === 'ok' ? findSnap(hm.snaps, stop) : null;
            if (!s) {
                p.appendChild(HL.el('p', { class: 'note' }, hm && hm.status === 'ok' ? 'no snapshot here' : 'heap map: ' + statusLine(hm)));
                return;
            }
            p.appendChild(HL.el('p', { class: 'hsum' }, 'mapped ' + size(s.mapped) + ' · resident ' + size(s.resident) + ' · live ' + size(s.live)));
            const n = s.counts || [];
            p.appendChild(HL.el('p', { class: 'note' }, 'pages: ' + [[n[3], 'dense'], [n[2], 'sparse'], [n[1], 'empty'], [n[0], 'not resident']].map(function (x) {
                return (x[0] === null || x[0] === undefined ? '?' : x[0]) + ' ' + x[1];
            }).join(', ')));
            if (!s.regions) {
                p.appendChild(HL.el('p', { class: 'note' }, s.map_note || 'not drawn'));
                return;
            }
            const d = drawMap(p, s, ctx.sq, hm.page_bytes);
            const dpr = window.devicePixelRatio || 1;
            HL.rcharts.all.push({ kind: 'heapmap', host: p, canvas: d.cv, colours: d.colours, squares: d.squares, px: ctx.sq * dpr,
                allocator: a, label: s.label, ops: s.ops });
            p.appendChild(HL.el('p', { class: 'note hscale' }, scaleText(s, hm.page_bytes) + (s.regions_left_out ? '; ' + s.regions_left_out + ' more regions not drawn' : '') +
                (s.rss_agree === false ? '; the RSS cross-check DISAGREES' : '') + (s.note ? '; ' + s.note : '')));
        });
    }

    const FIELDS = [['live_bytes', 'live (the stream\'s)'], ['allocated_bytes', 'allocated'], ['active_bytes', 'active'], ['resident_bytes', 'resident'],
        ['mapped_bytes', 'mapped'], ['retained_bytes', 'retained'], ['metadata_bytes', 'metadata'], ['thread_cache_bytes', 'thread caches'], ['free_pages_bytes', 'free pages']];

    function statsTable(host, ctx, k) {
        const stop = ctx.stops[k];
        const snaps = ctx.cells.map(function (c) {
            const st = c && c.inside && c.inside.stats;
            return st && st.status === 'ok' ? findSnap(st.snaps, stop) : null;
        });
        const rows = [{ key: 'source', cells: [{ text: 'source', v: 'source', cls: 'name' }].concat(ctx.cells.map(function (c) {
            const st = c && c.inside && c.inside.stats;
            if (!st || st.status !== 'ok') return { text: statusLine(st), cls: 'name' };
            return { text: st.source + (st.exposed ? '' : ' (not exposed)'), v: st.source, cls: 'name' };
        })) }];
        FIELDS.forEach(function (f) {
            rows.push({ key: f[0], cells: [{ text: f[1], v: f[1], cls: 'name' }].concat(snaps.map(function (s) {
                if (!s) return { text: '–' };
                const v = s[f[0]];
                if (v === null || v === undefined) return { text: 'not exposed', cls: 'tie' };
                return { text: HL.rtables.shortSize(v), v: v, title: String(v) + ' B' };
            })) });
        });
        HL.rtables.table(host, {
            title: 'The allocators\' own statistics at ' + stop.label + ' (op ' + stop.ops + '), bytes',
            id: ctx.id + '-stats',
            columns: [{ head: 'field', cls: 'name' }].concat(ctx.allocs.map(function (a) {
                return { head: a };
            })),
            rows: rows,
            note: 'In heaplab\'s vocabulary (docs/inside.md, "The vocabulary"). "not exposed": the allocator has no such figure; none is estimated.',
        });
        return snaps;
    }

    /* A canvas of cls ([size, live, capacity] each) in `host`: a bar per class, its height
     * live / capacity, in `colour`. */
    function fillCanvas(host, cls, colour) {
        const W = 300;
        const H = 120;
        const dpr = window.devicePixelRatio || 1;
        const cv = HL.el('canvas', { class: 'rcanvas' });
        cv.width = W * dpr;
        cv.height = H * dpr;
        cv.style.width = W + 'px';
        cv.style.height = H + 'px';
        host.appendChild(cv);
        const x = cv.getContext('2d');
        x.scale(dpr, dpr);
        x.fillStyle = BG;
        x.fillRect(0, 0, W, H);
        const top = 6;
        const ph = H - top - 18;
        const bw = Math.max(1, Math.min(20, (W - 34) / cls.length));
        x.strokeStyle = '#2a3140';
        x.fillStyle = '#9aa4b2';
        x.font = '9px system-ui, sans-serif';
        x.textAlign = 'right';
        [0, 0.5, 1].forEach(function (f) {
            const y = Math.round(top + ph * (1 - f)) + 0.5;
            x.beginPath();
            x.moveTo(30, y);
            x.lineTo(W, y);
            x.stroke();
            x.fillText(Math.round(f * 100) + '%', 27, y);
        });
        x.fillStyle = colour;
        cls.forEach(function (c, j) {
            const bh = Math.max(1, ph * Math.min(1, c[1] / c[2]));
            x.fillRect(32 + j * bw, top + ph - bh, Math.max(1, bw - 1), bh);
        });
        x.fillStyle = '#9aa4b2';
        x.textAlign = 'left';
        x.fillText(HL.rtables.shortSize(cls[0][0]), 32, H - 7);
        x.textAlign = 'right';
        x.fillText(HL.rtables.shortSize(cls[cls.length - 1][0]), W - 2, H - 7);
        cv.addEventListener('mousemove', function (ev) {
            const c = cls[Math.floor((ev.clientX - cv.getBoundingClientRect().left - 32) / bw)];
            HL.rcharts.tip(c ? HL.rtables.shortSize(c[0]) + ' class: ' + c[1] + ' live of ' + c[2] + ' (' + (c[1] / c[2] * 100).toFixed(1) + '%)' : null, ev.pageX, ev.pageY);
        });
        cv.addEventListener('mouseleave', function () {
            HL.rcharts.tip(null);
        });
        return cv;
    }

    /* Per allocator, its size classes' fill at the snapshot (snaps[i]), or why there is none. */
    function fillBars(host, ctx, snaps) {
        const g = HL.el('div', { class: 'hgrid' });
        host.appendChild(g);
        snaps.forEach(function (s, i) {
            const a = ctx.allocs[i];
            const p = HL.el('div', { class: 'chart hpanel fills' });
            p.appendChild(HL.el('h4', null, a + ': size classes, fill'));
            g.appendChild(p);
            if (!s || !s.classes) {
                p.appendChild(HL.el('p', { class: 'note' }, s ? 'not exposed' : '–'));
            } else if (!s.classes.fill.length) {
                p.appendChild(HL.el('p', { class: 'note' }, s.classes.n + ' classes, their fill not exposed' +
                    (s.classes.free ? ' (free objects per class only)' : '')));
            } else {
                const cv = fillCanvas(p, s.classes.fill, ctx.colour(a));
                HL.rcharts.all.push({ kind: 'fills', host: p, canvas: cv, colours: [ctx.colour(a)], allocator: a });
            }
        });
    }

    const CALLS = ['mmap', 'munmap', 'mremap', 'madvise', 'brk', 'futex', 'mprotect'];

    function msText(ns) {
        if (ns === null || ns === undefined) return '';
        const ms = ns / 1e6;
        return ms >= 100 ? ms.toFixed(0) + ' ms' : ms >= 1 ? ms.toFixed(1) + ' ms' : ms > 0 ? ms.toPrecision(2) + ' ms' : '0';
    }

    /* A row of the OS calls table: allocator a's calls `o` (null: its section's status). */
    function osRow(ctx, i, o) {
        const a = ctx.allocs[i];
        const head = { text: a, v: a, cls: 'name', dot: ctx.colour(a) };
        if (!o) {
            const st = ctx.cells[i] && ctx.cells[i].inside && ctx.cells[i].inside.os;
            return { key: a, cells: [head, { text: statusLine(st), cls: 'name' }] };
        }
        const cells = CALLS.map(function (k) {
            const v = o.calls[k];
            if (!v) return { text: '–' };
            return { text: v[0] + (v[0] ? ' · ' + msText(v[1]) : ''), v: v[0], title: (v[2] !== null && v[2] !== undefined ? HL.rtables.shortSize(v[2]) + ', ' : '') + (v[3] || 0) + ' errors' };
        });
        const by = function (name) {
            const b = o.by && o.by[name];
            const keys = b ? Object.keys(b) : [];
            return { text: keys.length ? keys.map(function (x) {
                return x + ' ' + b[x];
            }).join(', ') : '–', cls: 'name' };
        };
        return { key: a, cells: [head].concat(cells).concat([by('madvise'), by('futex'), { text: String(o.minor_faults), v: o.minor_faults }]) };
    }

    function osCalls(host, ctx) {
        const os = ctx.cells.map(function (c) {
            const o = c && c.inside && c.inside.os;
            return o && o.status === 'ok' ? o : null;
        });
        if (!os.some(function (o) {
            return o;
        })) {
            host.appendChild(HL.el('p', { class: 'note' }, 'OS calls: ' + ctx.cells.map(function (c, i) {
                return ctx.allocs[i] + ' ' + statusLine(c && c.inside && c.inside.os);
            }).join('; ')));
            return;
        }
        const rows = os.map(function (o, i) {
            return osRow(ctx, i, o);
        });
        HL.rtables.table(host, {
            title: 'OS calls of one untimed pass: count · time',
            id: ctx.id + '-os',
            columns: [{ head: 'allocator', cls: 'name' }].concat(CALLS.map(function (k) {
                return { head: k };
            })).concat([{ head: 'madvise by advice', cls: 'name' }, { head: 'futex by op', cls: 'name' }, { head: 'minor faults' }]),
            rows: rows,
            note: 'Counted by ' + (os.find(function (o) {
                return o;
            }).method || '?') + ' in a separate pass (docs/inside.md, "OS calls"); the time is wall time less the tracing\'s own cost. Hover a count for its bytes and errors.',
        });
        osBars(host, ctx, os);
    }

    /* Bars of the calls' counts and of their time, per call and allocator. */
    function osBars(host, ctx, os) {
        [[0, 'OS calls per allocator, count (log scale; a grey tick is 0)', function (v) {
            return v < 1 ? '' : HL.rtables.shortCount(v);
        }], [1, 'Time in them, ms (log scale; a grey tick is 0)', function (v) {
            return v >= 1 ? +v.toPrecision(3) + ' ms' : v >= 0.001 ? +(v * 1000).toPrecision(3) + ' µs' : +(v * 1e6).toPrecision(3) + ' ns';
        }]].forEach(function (what) {
            const scale = what[0] === 1 ? 1e6 : 1;
            const series = ctx.allocs.map(function (a, i) {
                return { label: a, colour: ctx.colour(a), values: CALLS.map(function (k) {
                    const v = os[i] && os[i].calls[k];
                    return v && v[what[0]] !== null ? v[what[0]] / scale : null;
                }) };
            });
            const p = HL.el('div', { class: 'chart rpanel wide' });
            p.appendChild(HL.el('h4', null, what[1]));
            const body = HL.el('div', { class: 'rbody' });
            p.appendChild(body);
            host.appendChild(p);
            HL.rcharts.bars(body, { groups: CALLS, series: series, fmt: what[2], height: 220 });
        });
    }

    /* The side of a square: one for every stop and allocator, so the slider does not
     * rescale; the tallest map near MAX_H. */
    function squareSide(cells) {
        let rows = 1;
        cells.forEach(function (c) {
            const hm = c.inside.heapmap;
            ((hm && hm.snaps) || []).forEach(function (s) {
                rows = Math.max(rows, snapRows(s));
            });
        });
        return Math.max(2, Math.min(6, Math.floor(MAX_H / rows)));
    }

    /* The slider and the mark buttons, the maps, the legend, the statistics at the stop. */
    function snapshotViews(host, ctx) {
        ctx.sq = squareSide(ctx.cells);
        const bar = HL.el('div', { class: 'rpick hslider' });
        const slider = HL.el('input', { type: 'range', min: '0', max: String(ctx.stops.length - 1), step: '1', value: '0', id: ctx.id + '-slider' });
        const what = HL.el('span', { class: 'hstop' });
        bar.appendChild(HL.el('span', { class: 'note' }, 'snapshot: '));
        bar.appendChild(slider);
        bar.appendChild(what);
        host.appendChild(bar);
        const marks = HL.el('div', { class: 'rpick' });
        marks.appendChild(HL.el('span', { class: 'note' }, 'marks: '));
        host.appendChild(marks);
        const mapHost = HL.el('div', { class: 'hmaps' });
        host.appendChild(mapHost);
        legend(host);
        const statsHost = HL.el('div');
        host.appendChild(statsHost);
        const show = function (k) {
            slider.value = String(k);
            const s = ctx.stops[k];
            what.textContent = s.label + ' at op ' + s.ops + ' (' + (k + 1) + ' of ' + ctx.stops.length + ')';
            maps(mapHost, ctx, k);
            HL.rcharts.forget(statsHost);
            statsHost.textContent = '';
            fillBars(statsHost, ctx, statsTable(statsHost, ctx, k));
        };
        ctx.stops.forEach(function (s, k) {
            if (s.label === 'every') return;
            const b = HL.el('button', { type: 'button', 'data-mark': s.label }, s.label);
            b.addEventListener('click', function () {
                show(k);
            });
            marks.appendChild(b);
        });
        slider.addEventListener('input', function () {
            show(Number(slider.value));
        });
        const holes = ctx.stops.findIndex(function (s) {
            return s.label === 'holes';
        });
        show(holes >= 0 ? holes : 0);
    }

    /* Draw workload w at t threads: the maps at the chosen stop, its statistics, its calls. */
    function drawWorkload(host, bd, w, t) {
        HL.rcharts.forget(host);
        host.textContent = '';
        const allocs = bd.allocs.filter(function (a) {
            const c = bd.cell(w, t, a);
            return c && c.inside;
        });
        const cells = allocs.map(function (a) {
            return bd.cell(w, t, a);
        });
        const ctx = { allocs: allocs, cells: cells, colour: bd.m.colour.bind(bd.m), stops: stops(cells), id: 'd' + bd.di + '-inside' };
        if (ctx.stops.length) {
            snapshotViews(host, ctx);
        } else {
            host.appendChild(HL.el('p', { class: 'note' }, 'Heap maps and statistics: ' + cells.map(function (c, i) {
                return allocs[i] + ' ' + statusLine(c.inside.heapmap || c.inside.stats);
            }).join('; ')));
        }
        const osHost = HL.el('div', { class: 'hos' });
        host.appendChild(osHost);
        osCalls(osHost, ctx);
    }

    /* The section, when some cell of the document has inside data. */
    function section(host, bd, sectionFn, label) {
        const pairs = [];
        bd.workloads.forEach(function (w) {
            bd.threads.forEach(function (t) {
                if (bd.allocs.some(function (a) {
                    const c = bd.cell(w, t, a);
                    return c && c.inside;
                })) pairs.push({ w: w, t: t });
            });
        });
        if (!pairs.length) return;
        const sec = sectionFn(host, 'd' + bd.di + '-inside', 'Inside the allocators',
            'What each allocator holds, from untimed passes over the same stream (heaplab bench --heapmap --alloc-stats --os-calls; docs/inside.md): ' +
            'its heap map, every page of the memory it holds, a square per page or, for a large heap, per 2, 4, ... pages (the scale under each map); ' +
            'its own statistics; its OS calls. A long stretch not resident with nothing live is one labelled line.');
        const bar = HL.el('div', { class: 'rpick' });
        bar.appendChild(HL.el('span', { class: 'note' }, 'workload: '));
        sec.appendChild(bar);
        const body = HL.el('div');
        sec.appendChild(body);
        const buttons = pairs.map(function (p) {
            const several = bd.threads.length > 1;
            const b = HL.el('button', { type: 'button', 'data-workload': p.w, 'data-threads': String(p.t) }, label(p.w) + (several ? ' ' + p.t + 't' : ''));
            b.addEventListener('click', function () {
                buttons.forEach(function (x) {
                    x.classList.toggle('on', x === b);
                });
                drawWorkload(body, bd, p.w, p.t);
            });
            bar.appendChild(b);
            return b;
        });
        buttons[0].classList.add('on');
        drawWorkload(body, bd, pairs[0].w, pairs[0].t);
    }

    HL.rinside = { section: section, runs: runs, colourOf: colourOf, RESIDENT: RESIDENT, NOT_RESIDENT: NOT_RESIDENT };
})(window.HL = window.HL || {});
