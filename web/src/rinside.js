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
 * with the colours it drew, and `squares` (letter -> squares drawn), `px`, the side of a
 * square in canvas pixels, `sqBytes`, the bytes of a square, and `regions` (kind, name, y
 * span as drawn), so a test can count what is drawn.
 *
 * Scale: by default every map of a workload is drawn at one common scale, the same bytes a
 * square and the same side at every stop and for every allocator (the coarsest square any
 * snapshot has, finer ones merged by HL.hmap.merge), so a 32 MiB heap takes twice the area
 * of a 16 MiB one; "fit each" draws each map at its own finest square and fits it on its
 * own. Each region has a strip of its kind's colour and, when it is large or a
 * brk heap, arena or huge block, a line naming it (HL.hmap.kindOf: brk heap, glibc arena,
 * mmapped chunks, the allocator's segments/extents/spans, huge, reserved).
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
    const BG = '#161b24';
    const LEFT = 7; /* the kind strip and a gap, css px */
    const PANEL = LEFT + 2 + 40; /* a panel's css px beside its squares: strip, padding, gap */
    const LABEL_H = 12; /* a region's label line, css px */
    const FOLD_H = 4; /* a folded stretch's line, in squares' rows at least */

    function colourOf(letter) {
        const c = letter.charCodeAt(0);
        if (c >= 97 && c <= 105) return RESIDENT[c - 97];
        if (c >= 65 && c <= 73) return c === 65 ? NOT_RESIDENT : NOT_RESIDENT_LIVE;
        return UNKNOWN;
    }

    const runs = HL.hmap.runs;

    function size(v) {
        return v === null || v === undefined ? '–' : HL.rtables.shortSize(v);
    }

    /* The bytes of a square of snapshot s as the page's data has it (f cells). */
    function baseBytes(s, pageBytes) {
        return (s.cell_bytes || pageBytes || 4096) * (s.f || 1);
    }

    /*
     * Snapshot s of `allocator` laid out with squares of `sqBytes`: its regions, each {addr,
     * bytes, kind (as drawn, HL.hmap.kindOf), name, runs (merged to the scale), rows, label
     * (whether it gets a line of its own)}. Cached on s by scale.
     */
    function layout(s, allocator, sqBytes, pageBytes) {
        s.layouts = s.layouts || {};
        if (s.layouts[sqBytes]) return s.layouts[sqBytes];
        const k = Math.max(1, Math.round(sqBytes / baseBytes(s, pageBytes)));
        const out = (s.regions || []).map(function (r) {
            const kind = HL.hmap.kindOf(allocator, { addr: r[0], bytes: r[1], kind: r[2], largest: r[4] || 0 });
            const list = HL.hmap.merge(runs(r[3]), k);
            let rows = 0;
            let col = 0;
            list.forEach(function (x) {
                if (x.l === '-') {
                    rows += (col ? 1 : 0) + FOLD_H;
                    col = 0;
                    return;
                }
                rows += Math.floor((col + x.n) / COLS);
                col = (col + x.n) % COLS;
            });
            rows += col ? 1 : 0;
            const label = HL.hmap.labelled(kind, rows);
            return { addr: r[0], bytes: r[1], kind: kind, name: HL.hmap.kindName(allocator, kind), runs: list, rows: rows, label: label };
        });
        s.layouts[sqBytes] = out;
        return out;
    }

    /* The rows a laid-out snapshot takes, a label line counted as one. */
    function layoutRows(regs) {
        return regs.reduce(function (n, r) {
            return n + r.rows + (r.label ? 1 : 0) + 1;
        }, 0);
    }

    /* Draw region r from y (css px) on ctx, or only measure it when ctx is null; the y
     * after it. `acc`: the squares by letter, the colours used, the hover spans, the regions
     * as drawn. */
    function drawRegion(ctx, r, y, sq, sqBytes, acc) {
        const top = y;
        const foldH = Math.max(11, sq * FOLD_H);
        const kc = HL.hmap.KINDS[r.kind].colour;
        if (r.label) {
            if (ctx) {
                ctx.fillStyle = kc;
                ctx.fillText(r.name + ' · ' + HL.rtables.shortSize(r.bytes), LEFT, y + LABEL_H / 2);
            }
            y += LABEL_H;
        }
        let col = 0;
        r.runs.forEach(function (x) {
            if (x.l === '-') {
                if (col) y += sq;
                col = 0;
                const text = HL.rtables.shortSize(x.n * sqBytes) + ' not resident, nothing live';
                if (ctx) {
                    ctx.fillStyle = '#222936';
                    ctx.fillRect(LEFT, y + 1, COLS * sq, foldH - 2);
                    ctx.fillStyle = '#9aa4b2';
                    ctx.fillText('⋯ ' + text, LEFT + 3, y + foldH / 2);
                    acc.hits.push({ y0: y, y1: y + foldH, text: text });
                }
                y += foldH;
                return;
            }
            const c = colourOf(x.l);
            if (ctx) {
                ctx.fillStyle = c;
                if (acc.colours.indexOf(c) < 0) acc.colours.push(c);
                acc.squares[x.l] = (acc.squares[x.l] || 0) + x.n;
            }
            for (let n = x.n; n > 0;) {
                const k = Math.min(n, COLS - col);
                if (ctx) ctx.fillRect(LEFT + col * sq, y, k * sq, sq);
                col += k;
                n -= k;
                if (col === COLS) {
                    col = 0;
                    y += sq;
                }
            }
        });
        if (col) y += sq;
        if (ctx) {
            ctx.fillStyle = kc;
            ctx.fillRect(1, top, 4, Math.max(2, y - top));
            acc.hits.push({ y0: top, y1: y, text: r.name + ' (' + r.kind + ') at ' + r.addr + ', ' + HL.rtables.shortSize(r.bytes) });
            acc.regions.push({ kind: r.kind, name: r.name, bytes: r.bytes, y0: top, y1: y, labelled: r.label });
        }
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

    /* The regions `regs` on a new canvas in `host`, squares of `sq` css px and `sqBytes`:
     * {cv, squares (by letter), colours (those drawn), regions (as drawn)}. */
    function drawMap(host, regs, sq, sqBytes) {
        const dpr = window.devicePixelRatio || 1;
        const W = LEFT + COLS * sq + 2;
        let H = 4;
        regs.forEach(function (r) {
            H = drawRegion(null, r, H + 4, sq, sqBytes, null);
        });
        H = Math.max(120, H + 4);
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
        const acc = { squares: {}, colours: [], hits: [], regions: [] };
        let y = 4;
        regs.forEach(function (r) {
            y = drawRegion(ctx, r, y + 4, sq, sqBytes, acc);
        });
        hover(cv, acc.hits);
        return { cv: cv, squares: acc.squares, colours: acc.colours, regions: acc.regions };
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
        const k = HL.el('div', { class: 'hlegend hkinds' });
        k.appendChild(HL.el('span', { class: 'note' }, 'kinds of mapping (the strip, and the line over each large region): '));
        HL.hmap.kindLegend(k, 'hkey', 'sw strip');
        host.appendChild(box);
        host.appendChild(k);
        /* The scale, kept up to date by the scale buttons. */
        const sc = HL.el('span', { class: 'hkey hlegend-scale' });
        box.insertBefore(sc, box.firstChild);
        return sc;
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

    function scaleText(s, sqBytes, pageBytes) {
        const pages = sqBytes / pageBytes;
        const base = baseBytes(s, pageBytes);
        return '□ = ' + HL.rtables.shortSize(sqBytes) + (pages > 1 ? ' (' + pages + ' pages' + (s.downsampled ? '; downsampled in the results file' : '') +
            (base > pageBytes ? '; ' + base / pageBytes + ' for the page\'s budget' : '') + (sqBytes > base ? '; ' + sqBytes / base + '× that to keep one scale' : '') + ')' : '');
    }

    /*
     * The common scale of the workload's maps, the same at every stop so the slider does not
     * rescale: one square the same bytes in every map, the coarsest any snapshot has, so the
     * maps' sizes compare, and one side, the tallest map near MAX_H and every panel in one row
     * of the page when it is wide enough (a panel takes PANEL px beside its squares).
     */
    function commonScale(ctx) {
        const each = function (fn) {
            ctx.cells.forEach(function (c, i) {
                const hm = c && c.inside && c.inside.heapmap;
                ((hm && hm.snaps) || []).forEach(function (s) {
                    if (s.regions) fn(s, hm.page_bytes, ctx.allocs[i]);
                });
            });
        };
        let sqBytes = 0;
        each(function (s, pageBytes) {
            sqBytes = Math.max(sqBytes, baseBytes(s, pageBytes));
        });
        let tallest = 1;
        each(function (s, pageBytes, a) {
            tallest = Math.max(tallest, layoutRows(layout(s, a, sqBytes, pageBytes)));
        });
        const byWidth = Math.floor(((ctx.width || 1200) / Math.max(1, ctx.cells.length) - PANEL) / COLS);
        return { sqBytes: sqBytes, sq: Math.max(2, Math.min(6, byWidth, Math.floor(MAX_H / tallest))) };
    }

    /* The scale of allocator i's snapshot s: the common one, or with "fit each" its own
     * finest square and a side that fits it to MAX_H (panels may wrap; for reading small
     * heaps, the sizes then do not compare). */
    function scaleOf(ctx, i, s, pageBytes) {
        if (!ctx.fit || !s || !s.regions) return ctx.scale;
        const b = baseBytes(s, pageBytes);
        const rows = layoutRows(layout(s, ctx.allocs[i], b, pageBytes));
        return { sqBytes: b, sq: Math.max(2, Math.min(10, Math.floor(MAX_H / Math.max(1, rows)))) };
    }

    /* The maps of every allocator at stop k, one panel each. */
    function maps(host, ctx, k) {
        HL.rcharts.forget(host);
        host.textContent = '';
        const stop = ctx.stops[k];
        ctx.cells.forEach(function (c, i) {
            const a = ctx.allocs[i];
            const hm = c && c.inside && c.inside.heapmap;
            const s = hm && hm.status === 'ok' ? findSnap(hm.snaps, stop) : null;
            const pageBytes = (hm && hm.page_bytes) || 4096;
            const sc = scaleOf(ctx, i, s, pageBytes);
            const p = HL.el('div', { class: 'chart hpanel', 'data-allocator': a });
            p.style.maxWidth = Math.max(200, LEFT + 2 + COLS * sc.sq + 14) + 'px'; /* its text wraps within the map's width */
            const h = HL.el('h4');
            const dot = HL.el('span', { class: 'dot' });
            dot.style.background = ctx.colour(a);
            h.appendChild(dot);
            h.appendChild(document.createTextNode(a));
            p.appendChild(h);
            host.appendChild(p);
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
            const d = drawMap(p, layout(s, a, sc.sqBytes, pageBytes), sc.sq, sc.sqBytes);
            const dpr = window.devicePixelRatio || 1;
            HL.rcharts.all.push({ kind: 'heapmap', host: p, canvas: d.cv, colours: d.colours, squares: d.squares, px: sc.sq * dpr,
                sqBytes: sc.sqBytes, regions: d.regions, allocator: a, label: s.label, ops: s.ops });
            p.appendChild(HL.el('p', { class: 'note hscale' }, scaleText(s, sc.sqBytes, pageBytes) + (s.regions_left_out ? '; ' + s.regions_left_out + ' more regions not drawn' : '') +
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
                if (v === undefined && s.capped) return { text: 'not shown', cls: 'tie', title: s.capped };
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
            note: 'In heaplab\'s vocabulary (docs/inside.md, "The vocabulary"). "not exposed": the allocator has no such figure; none is estimated. "not shown": left out of this page by its size cap (docs/report.md, "Size").',
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
                p.appendChild(HL.el('p', { class: 'note' }, s ? s.capped || 'not exposed' : '–'));
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

    /* The slider and the mark buttons, the maps, the legend, the statistics at the stop. */
    function snapshotViews(host, ctx) {
        ctx.width = host.clientWidth;
        ctx.scale = commonScale(ctx);
        ctx.fit = false;
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
        const scaleBar = HL.el('div', { class: 'rpick hscalebar' });
        scaleBar.appendChild(HL.el('span', { class: 'note' }, 'scale: '));
        const scaleWhat = HL.el('span', { class: 'note hscaletext' });
        host.appendChild(scaleBar);
        const mapHost = HL.el('div', { class: 'hmaps' });
        host.appendChild(mapHost);
        const legendScale = legend(host);
        const statsHost = HL.el('div');
        host.appendChild(statsHost);
        const show = function (k) {
            slider.value = String(k);
            const s = ctx.stops[k];
            what.textContent = s.label + ' at op ' + s.ops + ' (' + (k + 1) + ' of ' + ctx.stops.length + ')';
            scaleLine();
            maps(mapHost, ctx, k);
            HL.rcharts.forget(statsHost);
            statsHost.textContent = '';
            fillBars(statsHost, ctx, statsTable(statsHost, ctx, k));
        };
        const scaleButtons = [[false, 'common'], [true, 'fit each']].map(function (x) {
            const b = HL.el('button', { type: 'button', 'data-scale': x[0] ? 'fit' : 'common' }, x[1]);
            b.addEventListener('click', function () {
                ctx.fit = x[0];
                show(Number(slider.value));
            });
            scaleBar.appendChild(b);
            return b;
        });
        scaleBar.appendChild(scaleWhat);
        const scaleLine = function () {
            scaleButtons.forEach(function (b) {
                b.classList.toggle('on', (b.getAttribute('data-scale') === 'fit') === ctx.fit);
            });
            const c = ctx.scale;
            legendScale.textContent = !c.sqBytes ? '' : ctx.fit ? '□ = each map\'s own scale (under it):' : '□ = ' + HL.rtables.shortSize(c.sqBytes) + ' in every map:';
            scaleWhat.textContent = !c.sqBytes ? ' no map drawn' : ctx.fit ? ' each map at its own finest square, fitted on its own (the scale under each map): sizes do not compare across maps, and move with the slider'
                : ' common: a square (' + c.sq + '×' + c.sq + ' px) is ' + HL.rtables.shortSize(c.sqBytes) + ' in every map, ' +
                  HL.rtables.shortSize(c.sqBytes / (c.sq * c.sq)) + ' a pixel: the maps\' areas compare (a long stretch not resident is still one labelled line)';
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
        /* Where the heap says most: the "holes" mark where there is one, else the peak. */
        const at = function (label) {
            return ctx.stops.findIndex(function (s) {
                return s.label === label;
            });
        };
        show(Math.max(0, at('holes') >= 0 ? at('holes') : at('peak-live')));
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
            'its heap map, every page of the memory it holds, a square per page or, for a large heap, per 2, 4, ... pages, one scale for every map (or each its own: "fit each"); ' +
            'each region with its kind (brk heap, arena, segments, huge block, ...); its own statistics; its OS calls. A long stretch not resident with nothing live is one labelled line.');
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
