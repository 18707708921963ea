/*
 * viewer.js: HL.Viewer draws whatever one data source (source.js) emits: a panel per lane
 * (heat map, latency histogram), the lines over ops, the leaderboard, the playback bar,
 * cell hover and the exports. Messages only mark things dirty; one requestAnimationFrame
 * loop paints what changed, so a burst of frames costs one paint per lane per frame.
 */
(function (HL) {
    'use strict';

    const $ = function (id) {
        return document.getElementById(id);
    };
    const SLOW_MS = 100; /* charts and the board: at most 10 redraws a second */
    let scrubbing = false; /* the scrubber is being dragged: it keeps the user's value */
    let lastAsk = 0; /* when the last `cell` question went, to ask at most 20 a second */
    let askTimer = null;

    function Viewer() {
        this.source = null;
        this.header = null;
        this.lanes = [];
        this.history = [];
        this.end = null;
        this.endTick = -1;
        this.shown = -1;
        this.state = { paused: false, tick: -1, head: -1, ring_first: 0, tps: 30 };
        this.mode = 'kind';
        this.session = null;
        this.hover = null; /* {lane, cell} */
        this.dirty = { board: false, charts: false, labels: false };
        this.lastSlow = 0;
        /* measured by the browser tests: frames drawn, lane paints, maps received */
        this.stats = { frames: 0, paints: 0, maps: 0, ticks: 0 };
        this.charts = [
            new HL.LineChart($('chart_frag'), 'frag', HL.frac),
            new HL.LineChart($('chart_footprint'), 'footprint', HL.bytes),
            new HL.LineChart($('chart_waste'), 'internal_waste', HL.bytes),
        ];
        this.board = new HL.Board($('board'), $('board_note'));
        this.bindPlayback();
        this.setLegend('kind');
        const self = this;
        window.addEventListener('resize', function () {
            self.charts.forEach(function (c) {
                c.resize();
            });
        });
        requestAnimationFrame(function loop() {
            self.frame();
            requestAnimationFrame(loop);
        });
    }

    Viewer.prototype.attach = function (source) {
        if (this.source) this.source.close();
        this.source = source;
        const self = this;
        const on = function (type, fn) {
            source.on(type, function (m) {
                if (self.source === source) fn.call(self, m);
            });
        };
        on('race', this.onRace);
        on('tick', this.onTick);
        on('map', this.onMap);
        on('state', this.onState);
        on('end', this.onEnd);
        on('cell', this.onCell);
        on('error', function (m) {
            HL.showError(m.message);
        });
        on('status', function (m) {
            const s = $('status');
            s.textContent = m.text;
            s.className = 'status ' + (m.ok ? 'ok' : 'bad');
        });
        $('export_ticks').classList.toggle('disabled', true);
        document.querySelectorAll('input[name="overlay"]').forEach(function (r) {
            r.disabled = !source.caps.overlays && r.value !== 'kind';
        });
    };

    /* ---- messages ------------------------------------------------------------------ */

    Viewer.prototype.onRace = function (h) {
        this.header = h;
        /* a new race runs until the source says otherwise: a Pause pressed before its first
           state frame must pause it, not resume the last race's paused state */
        this.state = { paused: false, tick: -1, head: -1, ring_first: 0, tps: this.state.tps };
        this.history = [];
        this.end = null;
        this.endTick = -1;
        this.shown = -1;
        this.session = h.session;
        this.drawnTick = undefined;
        HL.clearError();
        const host = $('lanes');
        host.textContent = '';
        const self = this;
        this.lanes = h.allocators.map(function (a, i) {
            return self.makeLane(host, a, i, h.cells);
        });
        const names = h.allocators.map(function (a) {
            return a.name;
        });
        this.charts.forEach(function (c) {
            c.reset(names);
        });
        this.board.set([], false);
        const ex = $('export_ticks');
        if (this.source.caps.exportTicks && h.session !== null && h.session !== undefined) {
            ex.href = 'api/export/ticks?session=' + encodeURIComponent(h.session);
            ex.setAttribute('download', 'heaplab-' + (h.workload || 'race') + '-' + h.seed + '.ticks');
            ex.classList.remove('disabled');
        }
        this.setLegend(this.mode);
        this.dirty.labels = true;
        this.dirty.charts = true;
    };

    Viewer.prototype.makeLane = function (host, a, i, cells) {
        const panel = HL.el('div', { class: 'lane', 'data-lane': String(i) });
        const title = HL.el('div', { class: 'lane-title' });
        const dot = HL.el('span', { class: 'dot' });
        dot.style.background = HL.laneColour(i);
        title.appendChild(dot);
        title.appendChild(HL.el('b', null, a.name));
        const sub = HL.el('span', { class: 'lane-sub' }, '');
        title.appendChild(sub);
        title.title = a.summary || '';
        panel.appendChild(title);
        const canvas = HL.el('canvas', { class: 'arena', 'aria-label': a.name + ' arena' });
        panel.appendChild(canvas);
        const hist = HL.el('canvas', { class: 'hist', width: '256', height: '64', 'aria-label': a.name + ' latency histogram' });
        panel.appendChild(hist);
        host.appendChild(panel);
        const lane = {
            index: i,
            name: a.name,
            panel: panel,
            sub: sub,
            heat: new HL.Heatmap(canvas, cells),
            hist: hist,
            kinds: null,
            overlay: null,
            dirty: false,
            metrics: null, /* the lane's fields at the tick shown */
        };
        const self = this;
        /* click: enlarge (again: back); hover: what is in the cell */
        canvas.addEventListener('click', function () {
            const big = !panel.classList.contains('big');
            document.querySelectorAll('.lane.big').forEach(function (p) {
                p.classList.remove('big');
            });
            panel.classList.toggle('big', big);
        });
        canvas.addEventListener('mousemove', function (ev) {
            self.hoverAt(lane, ev);
        });
        canvas.addEventListener('mouseleave', function () {
            self.hover = null;
            $('tip').hidden = true;
        });
        return lane;
    };

    Viewer.prototype.onTick = function (t) {
        this.stats.ticks++;
        const h = this.history;
        if (!h.length || t.tick > h[h.length - 1].tick) h.push(t);
        else { /* a tick again (after a seek): replace it where it belongs */
            let i = h.length - 1;
            while (i >= 0 && h[i].tick > t.tick) i--;
            if (i >= 0 && h[i].tick === t.tick) h[i] = t;
            else h.splice(i + 1, 0, t);
        }
        this.dirty.board = this.dirty.charts = this.dirty.labels = true;
    };

    Viewer.prototype.onMap = function (m) {
        this.stats.maps++;
        const lane = this.lanes[m.lane];
        if (!lane) return;
        if (m.type === 1) {
            lane.kinds = m.map;
            this.shown = m.tick;
        } else {
            lane.overlay = m.map;
        }
        lane.dirty = true;
        this.dirty.labels = this.dirty.board = true;
        if (this.hover && this.hover.lane === m.lane) this.askCell();
    };

    Viewer.prototype.onState = function (s) {
        this.state = s;
        if (s.tick >= 0) this.shown = s.tick;
        if (s.overlay === 'kind') { /* a tick with no overlay (its blocks no longer held): kinds */
            for (const lane of this.lanes) {
                if (lane.overlay) lane.dirty = true;
                lane.overlay = null;
            }
        }
        this.dirty.labels = this.dirty.board = this.dirty.charts = true;
    };

    Viewer.prototype.onEnd = function (e) {
        this.end = e;
        const lastHist = this.history.length ? this.history[this.history.length - 1].tick : -1;
        this.endTick = Math.max(lastHist, this.shown, this.state.head);
        this.dirty.board = this.dirty.labels = true;
    };

    Viewer.prototype.onCell = function (c) {
        if (!this.hover || c.lane !== this.hover.lane || c.cell !== this.hover.cell) return;
        const lane = this.lanes[c.lane];
        if (c.kind === undefined && lane && lane.kinds) c = Object.assign({}, c, { kind: lane.kinds[c.cell] });
        this.showTip(c); /* about the tick it names (the one shown when asked) */
    };

    /* ---- drawing ------------------------------------------------------------------- */

    Viewer.prototype.frame = function () {
        this.stats.frames++;
        const mode = this.mode;
        for (const lane of this.lanes) {
            if (lane.dirty && lane.kinds) {
                lane.heat.paint(lane.kinds, lane.overlay, mode);
                lane.dirty = false;
                this.stats.paints++;
            }
        }
        const now = performance.now();
        if (now - this.lastSlow < SLOW_MS) {
            if (this.dirty.labels) this.drawLabels();
            return;
        }
        this.lastSlow = now;
        const shownOp = this.opOf(this.shown);
        if (this.dirty.charts) {
            const h = this.history;
            this.charts.forEach(function (c) {
                c.update(h, shownOp);
            });
            this.dirty.charts = false;
        }
        if (this.dirty.board) {
            const exact = !!this.end && this.shown >= this.endTick;
            this.board.set(HL.board.rowsAt(this.history, this.shown, this.end, this.endTick), exact);
            this.dirty.board = false;
        }
        const at = this.tickAt(this.shown);
        if (at !== this.drawnTick) { /* the lanes' metrics: those of the tick shown */
            this.drawnTick = at;
            const hist = this.source && this.source.caps.histograms;
            for (const lane of this.lanes) {
                const m = at ? at.allocators[lane.index] : null;
                lane.metrics = m;
                const note = m ? ['p50 ' + HL.ns(m.p50_ns) + ' · p90 ' + HL.ns(m.p90_ns) + ' · p99 ' + HL.ns(m.p99_ns),
                    hist ? '' : 'latency histograms: live only'] : ['no tick yet'];
                HL.drawHistogram(lane.hist, HL.laneColour(lane.index), m && m.lat_alloc, m && m.lat_free, note);
            }
            this.dirty.labels = true;
        }
        if (this.dirty.labels) this.drawLabels();
    };

    /* The latest tick message at or before `tick` (history is sorted), or null. */
    Viewer.prototype.tickAt = function (tick) {
        const h = this.history;
        let lo = 0;
        let hi = h.length - 1;
        let found = null;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            if (h[mid].tick <= tick) {
                found = h[mid];
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    };

    Viewer.prototype.opOf = function (tick) {
        const t = this.tickAt(tick);
        return t ? t.op : null;
    };

    Viewer.prototype.drawLabels = function () {
        this.dirty.labels = false;
        const s = this.state;
        const h = this.header;
        const tick = $('tick');
        if (!h) {
            tick.textContent = 'no race yet';
        } else {
            const op = this.opOf(this.shown);
            const total = h.ticks_total ? ' of ' + (h.ticks_total - 1) : '';
            tick.textContent = 'tick ' + this.shown + total + (op !== null ? ' · op ' + HL.num(op) + ' of ' + HL.num(h.ops) : '') +
                (s.paused ? ' · paused' : '') + (this.end && this.shown >= this.endTick ? ' · finished' : '');
            tick.setAttribute('data-tick', String(this.shown));
        }
        const scrub = $('scrub');
        scrub.disabled = !h;
        scrub.min = String(Math.max(0, s.ring_first || 0));
        scrub.max = String(Math.max(0, s.head));
        if (document.activeElement !== scrub || !scrubbing) scrub.value = String(Math.max(0, this.shown));
        $('pause').disabled = $('step').disabled = !h;
        $('pause').textContent = s.paused ? 'Resume' : 'Pause';
        $('step').disabled = !h || !s.paused;
        for (const lane of this.lanes) {
            const m = lane.metrics;
            lane.sub.textContent = m ? ' live ' + HL.bytes(m.live_requested) + ' · frag ' + HL.frac(m.frag) +
                (m.failures ? ' · ' + HL.num(m.failures) + ' failed' : '') : '';
        }
    };

    Viewer.prototype.setLegend = function (mode) {
        const host = $('legend');
        host.textContent = '';
        const kinds = this.header ? this.header.cell_kinds : null;
        HL.heatmap.legend(mode, kinds).forEach(function (e) {
            const item = HL.el('span', { class: 'key' });
            const sw = HL.el('span', { class: 'swatch' });
            sw.style.background = e.colour;
            item.appendChild(sw);
            item.appendChild(document.createTextNode(e.label));
            host.appendChild(item);
        });
        if (this.header) {
            host.appendChild(HL.el('span', { class: 'key note' }, 'one pixel = ' + this.header.cell_bytes + ' B of a ' +
                HL.bytes(this.header.arena_bytes) + ' arena · click an arena to enlarge it'));
        }
    };

    /* ---- hover --------------------------------------------------------------------- */

    Viewer.prototype.hoverAt = function (lane, ev) {
        const cell = lane.heat.cellAt(ev);
        const tip = $('tip');
        if (cell < 0 || !lane.kinds) {
            tip.hidden = true;
            this.hover = null;
            return;
        }
        tip.style.left = ev.clientX + 14 + window.scrollX + 'px';
        tip.style.top = ev.clientY + 14 + window.scrollY + 'px';
        if (this.hover && this.hover.lane === lane.index && this.hover.cell === cell) return;
        this.hover = { lane: lane.index, cell: cell };
        /* at once from the map we have; the block's details when the server answers */
        this.showTip({ lane: lane.index, cell: cell, offset: cell * this.header.cell_bytes, tick: this.shown, kind: lane.kinds[cell], pending: this.source.caps.blockInfo });
        this.askCell();
    };

    /* Asks the source about the hovered cell: at most one question per 50 ms, the last
     * hover always asked (a trailing question), so a still mouse gets its answer. */
    Viewer.prototype.askCell = function () {
        const self = this;
        const now = performance.now();
        if (!this.hover) return;
        if (now - lastAsk < 50) {
            if (!askTimer) {
                askTimer = setTimeout(function () {
                    askTimer = null;
                    self.askCell();
                }, 50 - (now - lastAsk));
            }
            return;
        }
        lastAsk = now;
        this.source.cell(this.hover.lane, this.hover.cell, this.shown);
    };

    Viewer.prototype.showTip = function (c) {
        const tip = $('tip');
        const h = this.header;
        const kinds = (h && h.cell_kinds) || ['free', 'used', 'meta', 'waste'];
        const kind = typeof c.kind === 'number' ? kinds[c.kind] : c.kind;
        const lines = [
            this.lanes[c.lane].name + ' · cell ' + HL.num(c.cell) + (c.tick >= 0 ? ' · tick ' + c.tick : ''),
            'offset ' + HL.num(c.offset) + ' (0x' + Number(c.offset).toString(16) + ')',
            'kind ' + kind,
        ];
        if (c.block) {
            lines.push('block at ' + HL.num(c.block.offset) + ': ' + HL.num(c.block.requested) + ' B requested, ' +
                HL.num(c.block.usable) + ' B usable');
            lines.push('allocated by op ' + HL.num(c.block.op));
        } else if (c.note) {
            lines.push('(' + c.note + ')');
        } else if (c.pending && kind === 'used') {
            lines.push('…');
        } else if (!this.source.caps.blockInfo && kind === 'used') {
            lines.push('(block details: live only)');
        }
        tip.textContent = lines.join('\n');
        tip.hidden = false;
    };

    /* ---- playback bar, overlay, exports --------------------------------------------- */

    Viewer.prototype.bindPlayback = function () {
        const self = this;
        $('pause').addEventListener('click', function () {
            if (!self.source) return;
            if (self.state.paused) self.source.resume();
            else self.source.pause();
        });
        $('step').addEventListener('click', function () {
            if (self.source) self.source.step();
        });
        const speed = $('speed');
        const showSpeed = function () {
            $('speed_out').textContent = speed.value === '0' ? 'as fast as it goes' : speed.value + ' ticks/s';
        };
        speed.addEventListener('input', showSpeed);
        speed.addEventListener('change', function () {
            if (self.source) self.source.speed(Number(speed.value));
            HL.app && HL.app.urlChanged();
        });
        showSpeed();
        const scrub = $('scrub');
        scrub.addEventListener('input', function () {
            scrubbing = true;
            if (self.source) self.source.seek(Number(scrub.value));
        });
        scrub.addEventListener('change', function () {
            scrubbing = false;
        });
        document.querySelectorAll('input[name="overlay"]').forEach(function (r) {
            r.addEventListener('change', function () {
                if (!r.checked) return;
                self.setMode(r.value);
                if (self.source) self.source.overlay(r.value);
                HL.app && HL.app.urlChanged();
            });
        });
        $('export_png').addEventListener('click', function () {
            self.exportPng();
        });
        $('export_ticks').addEventListener('click', function (ev) {
            if (this.classList.contains('disabled')) ev.preventDefault();
        });
    };

    Viewer.prototype.setMode = function (mode) {
        this.mode = mode;
        document.querySelectorAll('input[name="overlay"]').forEach(function (r) {
            r.checked = r.value === mode;
        });
        for (const lane of this.lanes) {
            if (mode === 'kind') lane.overlay = null;
            lane.dirty = true;
        }
        this.setLegend(mode);
    };

    /* Every arena at one pixel a cell, named, in a grid of three: a PNG download. */
    Viewer.prototype.exportPng = function () {
        if (!this.lanes.length) {
            HL.showError('no arena to export yet: start a race');
            return;
        }
        const w = this.lanes[0].heat.w;
        const hh = this.lanes[0].heat.h;
        const cols = Math.min(3, this.lanes.length);
        const rows = Math.ceil(this.lanes.length / cols);
        const pad = 8;
        const label = 18;
        const c = HL.el('canvas');
        c.width = cols * (w + pad) + pad;
        c.height = rows * (hh + label + pad) + pad + label;
        const ctx = c.getContext('2d');
        ctx.fillStyle = '#0f1218';
        ctx.fillRect(0, 0, c.width, c.height);
        ctx.font = '12px system-ui, sans-serif';
        ctx.fillStyle = '#e6e9ef';
        const h = this.header;
        ctx.fillText(h.workload + ' · seed ' + h.seed + ' · tick ' + this.shown + ' · op ' + HL.num(this.opOf(this.shown)),
            pad, pad + 11);
        this.lanes.forEach(function (lane, i) {
            const x = pad + (i % cols) * (w + pad);
            const y = pad + label + Math.floor(i / cols) * (hh + label + pad);
            ctx.fillStyle = HL.laneColour(i);
            ctx.fillText(lane.name, x, y + 12);
            ctx.drawImage(lane.heat.canvas, x, y + label);
        });
        const a = HL.el('a', { download: 'heaplab-arenas-' + h.workload + '-' + h.seed + '-tick' + this.shown + '.png' });
        a.href = c.toDataURL('image/png');
        document.body.appendChild(a);
        a.click();
        a.remove();
    };

    /* ---- errors -------------------------------------------------------------------- */

    HL.showError = function (msg) {
        const e = $('error');
        e.textContent = msg;
        e.hidden = false;
    };
    HL.clearError = function () {
        const e = $('error');
        e.textContent = '';
        e.hidden = true;
    };

    HL.Viewer = Viewer;
})(window.HL = window.HL || {});
