/*
 * board.js: the leaderboard at the tick shown, sortable by any column (click a heading;
 * again to reverse). Values come from the ticks received up to the tick shown; at the last
 * tick of a finished race, from the end line (exact: every op, not only the ticks).
 * Every number cell carries its raw value in data-v (the tests compare them with the frames).
 */
(function (HL) {
    'use strict';

    /* key, heading, format, better: -1 lower is better, +1 higher, 0 neither */
    const COLUMNS = [
        { key: 'name', head: 'allocator', fmt: null, better: 0 },
        { key: 'p50_ns', head: 'p50', fmt: HL.ns, better: -1 },
        { key: 'p90_ns', head: 'p90', fmt: HL.ns, better: -1 },
        { key: 'p99_ns', head: 'p99', fmt: HL.ns, better: -1 },
        { key: 'frag', head: 'frag now', fmt: HL.frac, better: -1 },
        { key: 'frag_avg', head: 'frag avg', fmt: HL.frac, better: -1 },
        { key: 'frag_max', head: 'frag max', fmt: HL.frac, better: -1 },
        { key: 'internal_waste', head: 'waste', fmt: HL.bytes, better: -1 },
        { key: 'peak_internal_waste', head: 'peak waste', fmt: HL.bytes, better: -1 },
        { key: 'failures', head: 'failures', fmt: HL.num, better: -1 },
        { key: 'footprint', head: 'peak footprint', fmt: HL.bytes, better: -1 },
    ];

    /*
     * Rows at `shown` from history (tick messages sorted by tick, possibly with gaps: a live
     * client gets at most 20 a second) and the end leaderboard (used when shown is the last
     * tick of a finished race).
     */
    function rowsAt(history, shown, end, lastTick) {
        if (end && shown >= lastTick) {
            return end.leaderboard.map(function (e, lane) {
                return Object.assign({ lane: lane }, e);
            });
        }
        let at = null;
        const acc = [];
        for (let i = 0; i < history.length && history[i].tick <= shown; i++) {
            const t = history[i];
            at = t;
            t.allocators.forEach(function (a, lane) {
                const s = acc[lane] || (acc[lane] = { sum: 0, n: 0, max: 0, waste: 0 });
                if (t.op > 0) { /* as the end line: frag over the ticks after op 0 */
                    s.sum += a.frag;
                    s.n++;
                    s.max = Math.max(s.max, a.frag);
                }
                s.waste = Math.max(s.waste, a.internal_waste);
            });
        }
        if (!at) return [];
        return at.allocators.map(function (a, lane) {
            const s = acc[lane];
            return Object.assign({ lane: lane }, a, {
                frag_avg: s.n ? s.sum / s.n : 0,
                frag_max: s.max,
                peak_internal_waste: s.waste,
            });
        });
    }

    function Board(table, note) {
        this.table = table;
        this.note = note;
        this.sortKey = null;
        this.sortDir = 1;
        this.rows = [];
        const self = this;
        const tr = HL.el('tr');
        COLUMNS.forEach(function (c) {
            const th = HL.el('th', { 'data-key': c.key, scope: 'col' }, c.head);
            th.addEventListener('click', function () {
                if (self.sortKey === c.key) self.sortDir = -self.sortDir;
                else {
                    self.sortKey = c.key;
                    self.sortDir = 1;
                }
                self.render();
            });
            tr.appendChild(th);
        });
        table.tHead.appendChild(tr);
    }

    Board.prototype.set = function (rows, exact) {
        this.rows = rows;
        this.note.textContent = rows.length ? (exact ? 'final: every op' : 'so far: over the ticks received') : '';
        this.render();
    };

    Board.prototype.render = function () {
        const key = this.sortKey;
        const dir = this.sortDir;
        const rows = this.rows.slice();
        if (key) {
            rows.sort(function (a, b) {
                const x = a[key];
                const y = b[key];
                if (typeof x === 'string') return dir * x.localeCompare(y);
                return dir * ((x || 0) - (y || 0)) || a.lane - b.lane;
            });
        }
        const best = {};
        COLUMNS.forEach(function (c) {
            if (!c.better || rows.length < 2) return;
            let b = null;
            let all = true; /* every row the same: no best */
            rows.forEach(function (r) {
                const v = r[c.key];
                if (v === undefined) return;
                if (b !== null && v !== b) all = false;
                if (b === null || (c.better < 0 ? v < b : v > b)) b = v;
            });
            if (!all) best[c.key] = b;
        });
        this.table.tHead.querySelectorAll('th').forEach(function (th) {
            th.className = th.getAttribute('data-key') === key ? (dir > 0 ? 'sorted up' : 'sorted down') : '';
        });
        const body = HL.el('tbody');
        rows.forEach(function (r) {
            const tr = HL.el('tr', { 'data-lane': String(r.lane) });
            COLUMNS.forEach(function (c) {
                const v = r[c.key];
                if (!c.fmt) {
                    const td = HL.el('td', { class: 'name' });
                    const dot = HL.el('span', { class: 'dot' });
                    dot.style.background = HL.laneColour(r.lane);
                    td.appendChild(dot);
                    td.appendChild(document.createTextNode(v));
                    tr.appendChild(td);
                    return;
                }
                const td = HL.el('td', { 'data-key': c.key, 'data-v': String(v) }, c.fmt(v));
                if (best[c.key] !== undefined && v === best[c.key]) td.className = 'best';
                tr.appendChild(td);
            });
            body.appendChild(tr);
        });
        this.table.replaceChild(body, this.table.tBodies[0]);
    };

    HL.Board = Board;
    HL.board = { rowsAt: rowsAt, COLUMNS: COLUMNS };
})(window.HL = window.HL || {});
