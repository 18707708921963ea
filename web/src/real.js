/*
 * real.js: the "real allocators" view of `heaplab serve` (docs/serve.md, "Real
 * allocators"), shown when the URL has view=real. A workload or trace runs once under each
 * chosen allocator (preloaded, in a worker of its own) and the heap maps arrive over
 * /ws/real as each worker takes them: one column per allocator, each of its regions a block
 * of rows of cells in address order, a slider over the snapshots received, and each
 * allocator's statistics and OS call counts once its run ends.
 *
 * The cells' text and the kinds of mapping (the strip beside each region) are read as the
 * report reads them (hmap.js).
 *
 * Cells (docs/inside.md): one page each, run-length encoded `([0-9]*)([A-Ia-ip-x])`: the
 * letter is the residency (A not resident, a resident, p unknown) plus the live-byte bucket
 * (0 none, 1-8 eighths of the page live).
 */
(function (HL) {
    'use strict';

    const $ = function (id) {
        return document.getElementById(id);
    };

    const COLS = 128;      /* squares per row */
    const MAX_ROWS = 520;  /* squares merge 2, 4, ... cells when a column would be taller */
    const STRIPE = 5;      /* px: the mapping kind beside each region */
    const GAP = 3;         /* px between regions */
    const LABEL = 12;      /* px: the line naming a large region */
    const PANEL = 36;      /* px of a panel's padding, border and the gap to the next */

    /* Colours, also read by the test (web/test/real.mjs) through HL.Real.COLOURS. */
    const COLOURS = {
        not_resident: [208, 208, 208],
        empty: [214, 39, 40],
        unknown: [170, 182, 200],
        sparse: [[255, 127, 14], [255, 161, 38], [255, 194, 61], [240, 220, 60]],
        dense: [[161, 217, 155], [116, 196, 118], [49, 163, 84], [0, 109, 44]],
        kinds: {}, /* the strip beside each region, by kind (HL.hmap.KINDS) */
    };
    Object.keys(HL.hmap.KINDS).forEach(function (k) {
        const h = HL.hmap.KINDS[k].colour;
        COLOURS.kinds[k] = [1, 3, 5].map(function (i) {
            return parseInt(h.slice(i, i + 2), 16);
        });
    });

    /* The colour of a cell: residency 0 not resident, 1 resident, 2 unknown; bucket 0-8. */
    function cellColour(res, bucket) {
        if (res === 0 && bucket === 0) return COLOURS.not_resident;
        if (bucket === 0) return res === 1 ? COLOURS.empty : COLOURS.unknown;
        return bucket <= 4 ? COLOURS.sparse[bucket - 1] : COLOURS.dense[bucket - 5];
    }

    /* A region's cells string -> {res: Uint8Array, bucket: Uint8Array}. */
    function decode(text, cells) {
        const res = new Uint8Array(cells);
        const bucket = new Uint8Array(cells);
        let at = 0;
        for (const run of HL.hmap.runs(text)) {
            if (at >= cells) break;
            const x = HL.hmap.letterOf(run.l);
            const end = Math.min(cells, at + run.n);
            res.fill(x.res, at, end);
            bucket.fill(x.bucket, at, end);
            at = end;
        }
        return { res: res, bucket: bucket };
    }

    /* Region r's kind as drawn (HL.hmap.kindOf) in `allocator`'s heap. */
    function kindOf(allocator, r) {
        return HL.hmap.kindOf(allocator, { addr: r.addr, bytes: r.bytes, kind: r.kind, largest: r.largest_object_bytes || 0 });
    }

    function regionCells(r, cellBytes) {
        return Math.max(1, Math.round(r.bytes / cellBytes));
    }

    /* Rows a snapshot needs at `merge` cells a square. */
    function rowsOf(shot, merge) {
        let rows = 0;
        for (const r of shot.regions || []) rows += Math.ceil(regionCells(r, shot.cell_bytes) / merge / COLS);
        return rows;
    }

    /* Draw `allocator`'s `shot` on canvas `cv`, `merge` cells a square, `px` pixels a square:
     * each region its strip in its kind's colour and, when HL.hmap.labelled says so, a line
     * over it naming it (also in the canvas's data-labels, for the tests). */
    function draw(cv, allocator, shot, merge, px) {
        const regions = (shot ? shot.regions || [] : []).map(function (r) {
            const n = regionCells(r, shot.cell_bytes);
            const rows = Math.ceil(n / merge / COLS);
            const kind = kindOf(allocator, r);
            const label = HL.hmap.labelled(kind, rows) ? HL.hmap.kindName(allocator, kind) + ' · ' + HL.bytes(r.bytes) : null;
            return { r: r, n: n, rows: rows, kind: kind, label: label };
        });
        let hpx = 0;
        for (const x of regions) hpx += (x.label ? LABEL : 0) + x.rows * px + GAP;
        cv.width = STRIPE + 2 + COLS * px;
        cv.height = Math.max(hpx, 1);
        const g = cv.getContext('2d');
        const img = g.createImageData(cv.width, cv.height);
        const d = img.data; /* transparent between regions: the panel shows through */
        let y0 = 0;
        const texts = [];
        for (const x of regions) {
            const cells = x.r.cells ? decode(x.r.cells, x.n) : null;
            const top = y0;
            if (x.label) {
                texts.push({ y: y0 + LABEL / 2, text: x.label, kind: x.kind });
                y0 += LABEL;
            }
            fillRect(d, cv.width, 0, top, STRIPE, y0 - top + x.rows * px, COLOURS.kinds[x.kind]);
            for (let s = 0; s * merge < x.n; s++) {
                const col = squareColour(cells, s * merge, Math.min(x.n, (s + 1) * merge));
                fillRect(d, cv.width, STRIPE + 2 + (s % COLS) * px, y0 + Math.floor(s / COLS) * px, px, px, col);
            }
            y0 += x.rows * px + GAP;
        }
        g.putImageData(img, 0, 0);
        g.font = '10px system-ui, sans-serif';
        g.textBaseline = 'middle';
        for (const t of texts) {
            g.fillStyle = HL.hmap.KINDS[t.kind].colour;
            g.fillText(t.text, STRIPE + 3, t.y);
        }
        cv.setAttribute('data-labels', JSON.stringify(texts.map(function (t) { return t.text; })));
    }

    /* A square of cells [a, b): resident if half are, the bucket of their mean live bytes. */
    function squareColour(cells, a, b) {
        if (!cells) return COLOURS.unknown;
        if (b - a === 1) return cellColour(cells.res[a], cells.bucket[a]);
        let resident = 0;
        let unknown = 0;
        let live = 0;
        for (let i = a; i < b; i++) {
            resident += cells.res[i] === 1;
            unknown += cells.res[i] === 2;
            live += cells.bucket[i];
        }
        const res = unknown * 2 >= b - a ? 2 : resident * 2 >= b - a ? 1 : 0;
        return cellColour(res, Math.ceil(live / (b - a)));
    }

    function fillRect(d, w, x, y, cw, ch, rgb) {
        for (let j = y; j < y + ch; j++) {
            for (let i = x; i < x + cw; i++) {
                const o = (j * w + i) * 4;
                d[o] = rgb[0];
                d[o + 1] = rgb[1];
                d[o + 2] = rgb[2];
                d[o + 3] = 255;
            }
        }
    }

    /* ------------------------------------------------------------------------------- */
    /* The view                                                                          */

    function RealView(meta) {
        this.meta = meta;
        this.real = meta.real || { allocators: [], limits: {} };
        this.lanes = [];  /* {name, shots: [], done, el: {...}} */
        this.shown = -1;  /* the slider's snapshot index */
        this.follow = true;
        this.ws = null;
        this.running = false;
        this.build();
    }

    RealView.prototype.build = function () {
        const host = $('real');
        host.hidden = false;
        document.body.classList.add('view-real');
        document.querySelector('h1 .sub').textContent = 'real allocators';
        host.appendChild(this.form());
        const bar = HL.el('div', { class: 'real-bar' });
        const lab = HL.el('label', { class: 'scrub' }, 'snapshot ');
        this.slider = HL.el('input', { id: 'real_slider', type: 'range', min: '0', max: '0', value: '0' });
        this.slider.disabled = true;
        lab.appendChild(this.slider);
        bar.appendChild(lab);
        this.where = HL.el('span', { id: 'real_where', class: 'tick' }, 'no run yet');
        bar.appendChild(this.where);
        host.appendChild(bar);
        host.appendChild(legend());
        this.cols = HL.el('section', { id: 'real_lanes', class: 'real-lanes', 'aria-label': 'heap maps' });
        host.appendChild(this.cols);
        this.tables = HL.el('section', { id: 'real_tables', class: 'real-tables', 'aria-label': 'statistics' });
        host.appendChild(this.tables);
        const self = this;
        this.slider.addEventListener('input', function () {
            self.follow = Number(self.slider.value) === Number(self.slider.max);
            self.show(Number(self.slider.value));
        });
    };

    function field(label, input) {
        const l = HL.el('label', null, label + ' ');
        l.appendChild(input);
        return l;
    }

    RealView.prototype.form = function () {
        const self = this;
        const f = HL.el('form', { id: 'real_form', class: 'controls', autocomplete: 'off', novalidate: '' });
        const what = HL.el('fieldset');
        what.appendChild(HL.el('legend', null, 'What to run'));
        this.wl = HL.el('select', { id: 'real_workload', 'aria-label': 'workload' });
        for (const w of this.meta.workloads || []) {
            const o = HL.el('option', { value: w.name }, w.name);
            o.title = w.summary || '';
            this.wl.appendChild(o);
        }
        this.tr = HL.el('select', { id: 'real_trace', 'aria-label': 'trace' });
        this.tr.appendChild(HL.el('option', { value: '' }, 'a workload, not a trace'));
        for (const t of this.meta.traces || []) this.tr.appendChild(HL.el('option', { value: t.name }, t.name));
        what.appendChild(field('workload', this.wl));
        what.appendChild(field('or trace', this.tr));
        const up = HL.el('input', { type: 'file', id: 'real_upload', 'aria-label': 'upload a trace' });
        what.appendChild(field('upload a trace', up));
        up.addEventListener('change', function () {
            if (this.files[0]) self.upload(this.files[0]);
            this.value = '';
        });
        f.appendChild(what);
        const how = HL.el('fieldset');
        how.appendChild(HL.el('legend', null, 'How'));
        this.seed = HL.el('input', { id: 'real_seed', type: 'number', min: '0', step: '1', value: '1' });
        this.ops = HL.el('input', { id: 'real_ops', type: 'number', min: '1', step: '1', placeholder: 'default' });
        this.threads = HL.el('input', { id: 'real_threads', type: 'number', min: '1', step: '1', value: '1' });
        this.every = HL.el('input', { id: 'real_every', type: 'number', min: '1', step: '1', placeholder: 'auto' });
        how.appendChild(field('seed', this.seed));
        how.appendChild(field('ops', this.ops));
        how.appendChild(field('threads', this.threads));
        how.appendChild(field('map every', this.every));
        this.startBtn = HL.el('button', { id: 'real_start', type: 'submit' }, 'Start');
        this.stopBtn = HL.el('button', { id: 'real_stop', type: 'button' }, 'Stop');
        this.stopBtn.disabled = true;
        how.appendChild(this.startBtn);
        how.appendChild(this.stopBtn);
        f.appendChild(how);
        const who = HL.el('fieldset');
        who.appendChild(HL.el('legend', null, 'Allocators'));
        for (const a of this.real.allocators) {
            const l = HL.el('label', { class: a.found ? '' : 'missing' });
            const cb = HL.el('input', { type: 'checkbox', name: 'real_alloc', value: a.name });
            cb.checked = a.found;
            l.appendChild(cb);
            l.appendChild(document.createTextNode(' ' + a.name + (a.found ? '' : ' (not installed)')));
            if (!a.found) l.title = a.note || 'not installed';
            who.appendChild(l);
        }
        f.appendChild(who);
        f.addEventListener('submit', function (ev) {
            ev.preventDefault();
            self.start();
        });
        this.stopBtn.addEventListener('click', function () {
            if (self.ws) self.ws.send(JSON.stringify({ type: 'stop' }));
        });
        return f;
    };

    RealView.prototype.upload = function (file) {
        const self = this;
        HL.clearError();
        fetch('api/traces?name=' + encodeURIComponent(file.name), { method: 'POST', body: file })
            .then(function (r) {
                return r.json().catch(function () { return {}; }).then(function (j) {
                    if (!r.ok) throw new Error(file.name + ': ' + (j.error || 'upload refused (HTTP ' + r.status + ')'));
                    const o = HL.el('option', { value: j.trace }, file.name + ' (uploaded)');
                    self.tr.appendChild(o);
                    self.tr.value = j.trace;
                });
            })
            .catch(function (e) { HL.showError(e.message); });
    };

    /* The start message from the form (the server checks it again). */
    RealView.prototype.read = function () {
        const m = { type: 'start', seed: Number(this.seed.value || 1), threads: Number(this.threads.value || 1) };
        if (this.tr.value) m.trace = this.tr.value;
        else m.workload = this.wl.value;
        if (this.ops.value) m.ops = Number(this.ops.value);
        if (this.every.value) m.every = Number(this.every.value);
        m.allocators = Array.from(document.querySelectorAll('input[name="real_alloc"]:checked')).map(function (c) {
            return c.value;
        });
        return m;
    };

    RealView.prototype.connect = function () {
        const self = this;
        if (this.ws && this.ws.readyState <= 1) return Promise.resolve(this.ws);
        return new Promise(function (resolve, reject) {
            const u = new URL('ws/real', window.location.href);
            u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
            const ws = new WebSocket(u.href);
            ws.onopen = function () { resolve(ws); };
            ws.onerror = function () { reject(new Error('cannot open ' + u.href)); };
            ws.onclose = function () {
                if (self.running) HL.showError('the server closed the connection');
                self.setRunning(false);
            };
            ws.onmessage = function (ev) { self.message(JSON.parse(ev.data)); };
            self.ws = ws;
        });
    };

    RealView.prototype.start = function () {
        const self = this;
        HL.clearError();
        const m = this.read();
        this.connect().then(function (ws) {
            ws.send(JSON.stringify(m));
        }, function (e) { HL.showError(e.message); });
    };

    RealView.prototype.setRunning = function (on) {
        this.running = on;
        this.startBtn.disabled = on;
        this.stopBtn.disabled = !on;
        $('status').textContent = on ? 'running' : 'ready';
    };

    RealView.prototype.message = function (m) {
        if (m.type === 'error') {
            HL.showError(m.message);
        } else if (m.type === 'started') {
            this.reset(m);
        } else if (m.type === 'snapshot') {
            const l = this.lane(m.allocator);
            if (l) l.shots[m.index] = m.snapshot;
            this.grow();
        } else if (m.type === 'done') {
            const l = this.lane(m.allocator);
            if (l) {
                l.done = m;
                this.status(l);
            }
            this.show(this.shown);
        } else if (m.type === 'end') {
            this.setRunning(false);
            this.where.setAttribute('data-ended', '1');
        }
    };

    RealView.prototype.lane = function (name) {
        return this.lanes.find(function (l) { return l.name === name; });
    };

    RealView.prototype.reset = function (m) {
        this.run = m;
        this.setRunning(true);
        this.where.removeAttribute('data-ended');
        this.cols.textContent = '';
        this.tables.textContent = '';
        this.shown = -1;
        this.follow = true;
        this.lanes = m.allocators.map(function (name) {
            const col = HL.el('div', { class: 'real-lane', 'data-allocator': name });
            col.appendChild(HL.el('h3', null, name));
            const st = HL.el('div', { class: 'real-status' }, 'running');
            const sum = HL.el('div', { class: 'real-sum' }, '');
            const cv = HL.el('canvas', { class: 'real-map' });
            col.appendChild(st);
            col.appendChild(sum);
            col.appendChild(cv);
            return { name: name, shots: [], done: null, el: { col: col, st: st, sum: sum, cv: cv } };
        });
        for (const l of this.lanes) this.cols.appendChild(l.el.col);
        this.slider.max = '0';
        this.slider.value = '0';
        this.slider.disabled = true;
        this.where.textContent = 'waiting for the first heap map';
    };

    /* New snapshots: the slider's range, and the shown one when following the end. */
    RealView.prototype.grow = function () {
        let n = 0;
        for (const l of this.lanes) n = Math.max(n, l.shots.length);
        this.slider.max = String(Math.max(0, n - 1));
        this.slider.disabled = n === 0;
        if (this.follow) {
            this.slider.value = this.slider.max;
            this.show(n - 1);
        }
    };

    RealView.prototype.status = function (l) {
        const d = l.done;
        if (!d) return;
        const txt = d.status === 'ok' ? 'done, ' + d.snapshots + ' maps' + (d.provider ? ' (' + d.provider + ')' : '')
            : d.status + ': ' + (d.note || '');
        l.el.st.textContent = txt;
        l.el.st.className = 'real-status ' + (d.status === 'ok' ? 'ok' : 'bad');
    };

    /* The snapshot each lane shows at index k: its own k-th, else the last it has before. */
    function shotAt(l, k) {
        for (let i = Math.min(k, l.shots.length - 1); i >= 0; i--) if (l.shots[i]) return l.shots[i];
        return null;
    }

    RealView.prototype.show = function (k) {
        if (k < 0) return;
        this.shown = k;
        const shots = this.lanes.map(function (l) { return shotAt(l, k); });
        let merge = 1;
        const rows = Math.max(0, ...shots.map(function (s) { return s ? rowsOf(s, 1) : 0; }));
        while (rows / merge > MAX_ROWS) merge *= 2;
        /* Square size: 4 px at most, the tallest panel within MAX_ROWS px, and every panel in
         * one row of the page when it is wide enough (panels take PANEL px beside the map). */
        const n = Math.max(1, this.lanes.length);
        const byWidth = Math.floor(((this.cols.clientWidth || 1200) / n - PANEL - STRIPE - 2) / COLS);
        const byHeight = Math.floor(MAX_ROWS / Math.max(1, Math.ceil(rows / merge)));
        const px = Math.max(1, Math.min(4, byWidth, byHeight));
        const self = this;
        this.lanes.forEach(function (l, i) {
            const s = shots[i];
            draw(l.el.cv, l.name, s, merge, px);
            l.el.cv.setAttribute('data-index', s ? String(k) : '');
            l.el.sum.textContent = s ? summary(s) : (l.done ? '' : 'no map yet');
        });
        const ref = shots.find(function (s) { return s; });
        this.where.setAttribute('data-index', String(k));
        this.where.textContent = ref ? '#' + k + ' ' + ref.label + ' after ' + HL.num(ref.ops) + ' ops' +
            (merge > 1 ? ' (one square: ' + merge + ' pages)' : ' (one square: a page)') : '';
        self.tablesAt(k, ref);
    };

    function summary(s) {
        const c = s.cells || {};
        return 'mapped ' + HL.bytes(s.mapped_bytes) + ', resident ' + HL.bytes(s.resident_bytes) + ', live ' +
            HL.bytes(s.live_bytes) + ' · pages: ' + HL.num(c.dense) + ' dense, ' + HL.num(c.sparse) + ' sparse, ' +
            HL.num(c.empty) + ' empty, ' + HL.num(c.not_resident) + ' not resident' +
            (s.downsampled ? ' · a cell is ' + HL.bytes(s.cell_bytes) : '') + (s.note ? ' · ' + s.note : '');
    }

    const STATS = [['allocated_bytes', 'allocated'], ['active_bytes', 'active'], ['resident_bytes', 'resident'],
        ['mapped_bytes', 'mapped'], ['retained_bytes', 'retained'], ['metadata_bytes', 'metadata'],
        ['thread_cache_bytes', 'thread caches'], ['free_pages_bytes', 'free pages'], ['live_bytes', 'live (stream)']];
    const CALLS = ['mmap', 'munmap', 'mremap', 'madvise', 'brk', 'mprotect', 'futex'];

    /* The statistics of the snapshot like `ref` (same label and ops), else the last. */
    function statsAt(done, ref) {
        const st = done && done.alloc_stats;
        const list = st && st.snapshots;
        if (!list || !list.length) return null;
        if (ref) {
            const same = list.find(function (e) { return e.label === ref.label && e.ops === ref.ops; });
            if (same) return same;
        }
        return list[list.length - 1];
    }

    RealView.prototype.tablesAt = function (k, ref) {
        const ended = this.lanes.filter(function (l) { return l.done && l.done.status === 'ok'; });
        this.tables.textContent = '';
        if (!ended.length) return;
        const t1 = table('Statistics' + (ref ? ' at ' + ref.label + ', ' + HL.num(ref.ops) + ' ops' : ''), ended,
            STATS.map(function (f) {
                return [f[1], ended.map(function (l) {
                    const s = statsAt(l.done, ref);
                    const v = s ? s[f[0]] : null;
                    return v === null || v === undefined ? (s && s.exposed === false ? 'not exposed' : '–') : HL.bytes(v);
                })];
            }));
        t1.id = 'real_stats';
        this.tables.appendChild(t1);
        const t2 = table('OS calls (the whole run)', ended, CALLS.map(function (c) {
            return [c, ended.map(function (l) {
                const oc = l.done.os_calls;
                if (!oc || oc.status === 'failed') return 'n/a';
                const e = oc.calls && oc.calls[c];
                return e ? HL.num(e.count) : '0';
            })];
        }));
        t2.id = 'real_oscalls';
        this.tables.appendChild(t2);
    };

    function table(title, lanes, rows) {
        const wrap = HL.el('div', { class: 'real-table' });
        wrap.appendChild(HL.el('h3', null, title));
        const t = HL.el('table', { class: 'board' });
        const hr = HL.el('tr');
        hr.appendChild(HL.el('th', null, ''));
        for (const l of lanes) hr.appendChild(HL.el('th', null, l.name));
        t.appendChild(HL.el('thead')).appendChild(hr);
        const tb = t.appendChild(HL.el('tbody'));
        for (const r of rows) {
            const tr = HL.el('tr');
            tr.appendChild(HL.el('th', null, r[0]));
            for (const v of r[1]) tr.appendChild(HL.el('td', null, v));
            tb.appendChild(tr);
        }
        wrap.appendChild(t);
        return wrap;
    }

    function swatch(rgb, label) {
        const s = HL.el('span', { class: 'real-key' });
        const b = HL.el('i');
        b.style.background = 'rgb(' + rgb.join(',') + ')';
        s.appendChild(b);
        s.appendChild(document.createTextNode(label));
        return s;
    }

    function legend() {
        const l = HL.el('div', { id: 'real_legend', class: 'legend' });
        l.appendChild(HL.el('b', null, 'pages: '));
        l.appendChild(swatch(COLOURS.not_resident, 'not resident'));
        l.appendChild(swatch(COLOURS.empty, 'resident, nothing live (retained)'));
        COLOURS.sparse.forEach(function (c, i) { l.appendChild(swatch(c, (i + 1) + '/8')); });
        l.appendChild(HL.el('span', null, 'sparse · dense'));
        COLOURS.dense.forEach(function (c, i) { l.appendChild(swatch(c, (i + 5) + '/8')); });
        l.appendChild(swatch(COLOURS.unknown, 'residency unknown'));
        l.appendChild(HL.el('b', null, ' mappings: '));
        HL.hmap.kindLegend(l, 'real-key', 'i');
        return l;
    }

    HL.Real = {
        COLOURS: COLOURS,
        decode: decode,
        /* Does the page's URL ask for this view? */
        wanted: function () {
            return new URLSearchParams(window.location.search).get('view') === 'real';
        },
        boot: function (meta) {
            HL.app.real = new RealView(meta);
            const p = new URLSearchParams(window.location.search);
            const v = HL.app.real;
            if (p.get('workload')) v.wl.value = p.get('workload');
            if (p.get('trace')) v.tr.value = p.get('trace');
            for (const k of ['seed', 'ops', 'threads', 'every']) if (p.get(k)) v[k].value = p.get(k);
            if (p.get('allocators')) {
                const want = p.get('allocators').split(',');
                document.querySelectorAll('input[name="real_alloc"]').forEach(function (c) {
                    c.checked = want.indexOf(c.value) >= 0;
                });
            }
            $('status').textContent = 'ready';
            if (p.get('run') === '1') v.start();
        },
    };
})(window.HL = window.HL || {});
