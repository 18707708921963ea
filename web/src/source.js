/*
 * source.js: where the viewer's data comes from. Every source is an HL.Emitter with one
 * interface, so the views never know which one they draw from:
 *
 *   events (the WebSocket messages of docs/serve.md, and two of the viewer's own):
 *     race  {header fields of docs/ticks.md, session, ticks_total}  a new race: reset
 *     tick  {tick, op, allocators: [...]}                           one tick's metrics
 *     map   {type: 1 kind | 2 overlay, lane, tick, cells, map}     a lane's map, one byte a cell
 *     state {paused, tick, head, ring_first, tps}
 *     end   {leaderboard}
 *     cell  {lane, cell, tick, offset, kind, block?, held?, note?}
 *     error {message}
 *     status {text, ok}                                            connection and mode, for a person
 *   commands: start(params), pause(), resume(), step(), speed(tps), seek(tick),
 *             overlay(mode), cell(lane, cell, tick), close()
 *   caps: {start, upload, exportTicks, overlays, blockInfo, histograms}
 *
 * HL.LiveSource: the WebSocket of `heaplab serve`. HL.OfflineSource: a tick file's text
 * (heaplab.ticks/1 or /2, docs/ticks.md) held in the page: an inlined blob (the report),
 * or a file the user opened; it plays, pauses, steps and seeks by itself.
 */
(function (HL) {
    'use strict';

    /* ---- live ---------------------------------------------------------------------- */

    function LiveSource(opts) {
        HL.Emitter.call(this);
        const loc = window.location;
        this.url = opts.wsUrl || (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host +
            loc.pathname.replace(/[^/]*$/, '') + 'ws';
        this.caps = {
            start: opts.mode !== 'ticks',
            upload: opts.mode !== 'ticks',
            exportTicks: true,
            overlays: true,
            blockInfo: true,
            histograms: true,
        };
        this.queue = [];
        this.prev = [[], []]; /* last map per lane: [0] kind maps, [1] overlay maps */
        this.closed = false;
        this.retryMs = 500;
        this.connect();
    }
    LiveSource.prototype = Object.create(HL.Emitter.prototype);

    LiveSource.prototype.connect = function () {
        const self = this;
        let ws;
        try {
            ws = new WebSocket(this.url);
        } catch (e) {
            this.emit('error', { message: 'cannot open the WebSocket ' + this.url + ': ' + e.message });
            return;
        }
        ws.binaryType = 'arraybuffer';
        this.ws = ws;
        ws.onopen = function () {
            self.retryMs = 500;
            self.emit('status', { text: 'connected', ok: true });
            const q = self.queue;
            self.queue = [];
            for (const m of q) ws.send(m);
        };
        ws.onmessage = function (ev) {
            if (typeof ev.data === 'string') self.onText(ev.data);
            else self.onBinary(ev.data);
        };
        ws.onclose = function () {
            if (self.closed) return;
            self.emit('status', { text: 'disconnected: retrying', ok: false });
            setTimeout(function () {
                if (!self.closed) self.connect();
            }, self.retryMs);
            self.retryMs = Math.min(self.retryMs * 2, 8000);
        };
    };

    LiveSource.prototype.onText = function (text) {
        let msg;
        try {
            msg = JSON.parse(text);
        } catch (e) {
            this.emit('error', { message: 'the server sent a message that is not JSON' });
            return;
        }
        if (!msg || typeof msg.type !== 'string') return;
        if (msg.type === 'race') this.prev = [[], []];
        this.emit(msg.type, msg);
    };

    LiveSource.prototype.onBinary = function (buf) {
        let f;
        try {
            const head = new DataView(buf);
            const type = buf.byteLength >= 5 ? head.getUint8(3) : 0;
            const lane = buf.byteLength >= 5 ? head.getUint8(4) : 0;
            const slot = type === 2 ? 1 : 0;
            f = HL.codec.decodeFrame(buf, this.prev[slot][lane] || null);
            this.prev[slot][lane] = f.map;
        } catch (e) {
            this.emit('error', { message: 'a cell-map frame could not be decoded: ' + e.message });
            return;
        }
        this.emit('map', f);
    };

    LiveSource.prototype.send = function (obj) {
        const s = JSON.stringify(obj);
        if (this.ws && this.ws.readyState === 1) this.ws.send(s);
        else this.queue.push(s);
    };
    LiveSource.prototype.start = function (p) {
        // The page decodes delta and fill maps besides raw (docs/serve.md, kind maps).
        this.send(Object.assign({ type: 'start', encodings: [1, 3] }, p));
    };
    LiveSource.prototype.pause = function () {
        this.send({ type: 'pause' });
    };
    LiveSource.prototype.resume = function () {
        this.send({ type: 'resume' });
    };
    LiveSource.prototype.step = function () {
        this.send({ type: 'step' });
    };
    LiveSource.prototype.speed = function (tps) {
        this.send({ type: 'speed', tps: tps });
    };
    LiveSource.prototype.seek = function (tick) {
        this.send({ type: 'seek', tick: tick });
    };
    LiveSource.prototype.overlay = function (mode) {
        this.send({ type: 'overlay', mode: mode });
    };
    LiveSource.prototype.cell = function (lane, cell, tick) {
        const q = { type: 'cell', lane: lane, cell: cell };
        if (tick >= 0) q.tick = tick; /* the answer describes the tick shown */
        this.send(q);
    };
    LiveSource.prototype.close = function () {
        this.closed = true;
        if (this.ws) this.ws.close();
    };

    /* ---- offline ------------------------------------------------------------------- */

    /* Parses a tick file's text; throws Error with one line for a person. */
    function parseTicks(text) {
        const lines = text.split('\n').filter(function (l) {
            return l.trim() !== '';
        });
        if (!lines.length) throw new Error('the tick file is empty');
        let header;
        try {
            header = JSON.parse(lines[0]);
        } catch (e) {
            throw new Error('line 1 is not JSON: not a heaplab tick file');
        }
        const schema = header.schema || header.format || '';
        const m = /^heaplab\.ticks\/(\d+)$/.exec(schema);
        if (!m || header.type !== 'race') throw new Error('not a heaplab tick file (schema "' + schema + '")');
        if (Number(m[1]) > 2) throw new Error('tick file schema ' + schema + ' is newer than this viewer reads (heaplab.ticks/2)');
        const ticks = [];
        let end = null;
        for (let i = 1; i < lines.length; i++) {
            let o;
            try {
                o = JSON.parse(lines[i]);
            } catch (e) {
                throw new Error('line ' + (i + 1) + ' is not JSON');
            }
            if (o.type === 'tick') ticks.push(o);
            else if (o.type === 'end') end = o;
        }
        if (!ticks.length) throw new Error('the tick file has no tick');
        return { header: header, ticks: ticks, end: end };
    }

    /*
     * opts.data: the text of a tick file, or what parseTicks returns.
     * opts.at: 'start' (play from tick 0) or 'end' (show the last tick, paused: the report).
     */
    function OfflineSource(opts) {
        HL.Emitter.call(this);
        this.data = typeof opts.data === 'string' ? parseTicks(opts.data) : opts.data;
        this.caps = {
            start: false,
            upload: false,
            exportTicks: false,
            overlays: false,
            blockInfo: false,
            histograms: false,
        };
        this.tps = opts.tps || 30;
        this.paused = true;
        this.shown = -1;
        this.timer = null;
        this.cache = new Map(); /* "tick/lane" -> map, the few last decoded */
        this.at = opts.at || 'start';
    }
    OfflineSource.prototype = Object.create(HL.Emitter.prototype);

    /* Emits the race: header, every tick's metrics (the lines are all here), the end. */
    OfflineSource.prototype.begin = function () {
        const d = this.data;
        const ticks = d.ticks;
        this.emit('status', { text: 'tick file: ' + d.header.workload + ', ' + ticks.length + ' ticks', ok: true });
        this.emit('race', Object.assign({}, d.header, { session: null, ticks_total: ticks.length }));
        for (let i = 0; i < ticks.length; i++) {
            this.emit('tick', { type: 'tick', tick: i, op: ticks[i].op, allocators: ticks[i].allocators });
        }
        if (d.end) this.emit('end', d.end);
        if (this.at === 'end') {
            this.show(ticks.length - 1);
        } else {
            this.show(0);
            this.resume();
        }
    };

    OfflineSource.prototype.mapOf = function (tick, lane) {
        const key = tick + '/' + lane;
        let m = this.cache.get(key);
        if (!m) {
            const a = this.data.ticks[tick].allocators[lane];
            m = HL.codec.decodeBase64Map(a.cells, this.data.header.cells);
            this.cache.set(key, m);
            if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value);
        }
        return m;
    };

    OfflineSource.prototype.show = function (tick) {
        const n = this.data.ticks.length;
        tick = Math.max(0, Math.min(n - 1, tick | 0));
        this.shown = tick;
        const lanes = this.data.header.allocators.length;
        try {
            for (let lane = 0; lane < lanes; lane++) {
                this.emit('map', { type: 1, lane: lane, tick: tick, cells: this.data.header.cells, map: this.mapOf(tick, lane) });
            }
        } catch (e) {
            this.emit('error', { message: 'tick ' + tick + ': ' + e.message });
        }
        this.emitState();
    };

    OfflineSource.prototype.emitState = function () {
        this.emit('state', {
            type: 'state',
            paused: this.paused,
            tick: this.shown,
            head: this.data.ticks.length - 1,
            ring_first: 0,
            tps: this.tps,
        });
    };

    OfflineSource.prototype.schedule = function () {
        const self = this;
        clearTimeout(this.timer);
        if (this.paused) return;
        const delay = this.tps > 0 ? 1000 / this.tps : 0;
        this.timer = setTimeout(function () {
            if (self.paused) return;
            if (self.shown >= self.data.ticks.length - 1) {
                self.paused = true;
                self.emitState();
                return;
            }
            self.show(self.shown + 1);
            self.schedule();
        }, delay);
    };

    OfflineSource.prototype.start = function () {
        this.emit('error', { message: 'a tick file plays what was recorded: no race can be started from it' });
    };
    OfflineSource.prototype.pause = function () {
        this.paused = true;
        clearTimeout(this.timer);
        this.emitState();
    };
    OfflineSource.prototype.resume = function () {
        if (this.shown >= this.data.ticks.length - 1) this.shown = -1; /* at the end: again */
        this.paused = false;
        this.emitState();
        this.schedule();
    };
    OfflineSource.prototype.step = function () {
        if (!this.paused) return;
        this.show(this.shown + 1);
    };
    OfflineSource.prototype.speed = function (tps) {
        this.tps = tps;
        this.emitState();
        this.schedule();
    };
    OfflineSource.prototype.seek = function (tick) {
        this.paused = true;
        clearTimeout(this.timer);
        this.show(tick);
    };
    OfflineSource.prototype.overlay = function (mode) {
        if (mode !== 'kind') {
            this.emit('error', { message: 'size-class and age colours need the live server: a tick file has kinds only' });
        }
    };
    OfflineSource.prototype.cell = function (lane, cell) {
        if (this.shown < 0) return;
        const h = this.data.header;
        const map = this.mapOf(this.shown, lane);
        this.emit('cell', { type: 'cell', lane: lane, cell: cell, tick: this.shown, offset: cell * h.cell_bytes, kind: h.cell_kinds[map[cell]] || map[cell] });
    };
    OfflineSource.prototype.close = function () {
        this.paused = true;
        clearTimeout(this.timer);
    };

    HL.LiveSource = LiveSource;
    HL.OfflineSource = OfflineSource;
    HL.parseTicks = parseTicks;
})(window.HL = window.HL || {});
