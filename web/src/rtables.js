/*
 * rtables.js: the report's tables (report.js): one function draws a sortable table from
 * rows of cells, and the number formats the terminal's tables use (src/bench/report.c), so a
 * table of the page reads as the one `heaplab bench` printed.
 *
 * A cell is {text, v, best, cls, title, dot}: `v` sorts it (a number, or text), `best` marks
 * the best of its row (green, as on a terminal), `dot` is an allocator's colour. A row is
 * {key, cells, sub}: `sub`, a line of text under the row, moves with it. Clicking a heading sorts the body by that
 * column (again: the other way); rows without a value go last; foot rows (the geomeans)
 * stay below.
 */
(function (HL) {
    'use strict';

    /* 3 significant digits for fractional metrics, integers as they are (fmt_sig). */
    function sig(v, decimals) {
        if (decimals === 0 || v === 0) return v.toFixed(decimals === 0 ? 0 : 1);
        const mag = Math.floor(Math.log10(Math.abs(v)));
        return v.toFixed(Math.min(20, Math.max(0, 2 - mag)));
    }

    /* A metric cell as a bench table prints it: "1.25 ±4%", "<30" under the timer's
     * resolution, the spread only with more than one repetition. */
    function metricText(st, scale, decimals, spread, res) {
        if (res !== undefined && st[0] < res) return { text: '<' + Math.ceil(res), below: true };
        let t = sig(st[0] / scale, decimals);
        if (spread && st[3] > 1) {
            const s = st[0] !== 0 ? (st[2] - st[1]) / Math.abs(st[0]) : 0;
            t += ' ±' + Math.round(s * 100) + '%';
        }
        return { text: t, below: false };
    }

    /* A number as summary_format prints it (src/bench/summary.c): `decimals` digits, more for
     * three significant ones; a count (0 decimals) whole unless it is not. */
    function putNumber(v, decimals) {
        if (decimals === 0) decimals = v !== Math.floor(v) ? 1 : 0;
        else if (v !== 0) decimals = Math.min(9, Math.max(decimals, 2 - Math.floor(Math.log10(Math.abs(v)))));
        return v.toFixed(decimals);
    }

    /* summary_format: "1.25" for one value, else "1.25 ±4%", or the range of a small count or
     * a zero median when the values differ: "0.5 (0..1)". */
    function summaryText(med, min, max, n, scale, decimals) {
        const m = putNumber(med / scale, decimals);
        if (n < 2) return m;
        const lo = putNumber(min / scale, decimals);
        const hi = putNumber(max / scale, decimals);
        if (((decimals === 0 && med < 100) || med === 0) && lo !== hi) return m + ' (' + lo + '..' + hi + ')';
        const spread = med !== 0 ? (max - min) / Math.abs(med) : 0;
        return m + ' ±' + Math.round(spread * 100) + '%';
    }

    /* 1536 -> "1.50K", as the fragmentation table prints sizes (fmt_size). */
    function shortSize(v) {
        const units = 'BKMG';
        let u = 0;
        while (v >= 1024 && u < 3) {
            v /= 1024;
            u++;
        }
        if (u === 0) return v.toFixed(0) + 'B';
        return (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) + units[u];
    }

    /* A count in a few characters: 950, 12345, 123k, 12.3M (fmt_count). */
    function shortCount(v) {
        if (v < 100000) return v.toFixed(0);
        if (v < 1e7) return (v / 1e3).toFixed(0) + 'k';
        return (v / 1e6).toFixed(1) + 'M';
    }

    function table(host, spec) {
        const wrap = HL.el('div', { class: 'rtable' });
        if (spec.title) wrap.appendChild(HL.el('h4', null, spec.title));
        const t = HL.el('table', { class: 'board sortable' });
        if (spec.id) t.id = spec.id;
        const thead = HL.el('thead');
        const hr = HL.el('tr');
        const state = { col: -1, dir: 1 };
        spec.columns.forEach(function (c, i) {
            const th = HL.el('th', { scope: 'col', class: c.cls || '' }, c.head);
            if (c.title) th.title = c.title;
            th.addEventListener('click', function () {
                if (state.col === i) state.dir = -state.dir;
                else {
                    state.col = i;
                    state.dir = 1;
                }
                render();
            });
            hr.appendChild(th);
        });
        thead.appendChild(hr);
        t.appendChild(thead);
        t.appendChild(HL.el('tbody'));
        if (spec.foot && spec.foot.length) {
            const tf = HL.el('tfoot');
            spec.foot.forEach(function (r) {
                tf.appendChild(rowEl(r));
            });
            t.appendChild(tf);
        }
        function rowEl(r) {
            const tr = HL.el('tr');
            if (r.key) tr.setAttribute('data-key', r.key);
            r.cells.forEach(function (c, i) {
                const col = spec.columns[i] || {};
                const td = HL.el('td', { class: [col.cls || '', c.cls || '', c.best ? 'best' : ''].join(' ').trim() });
                if (c.dot) {
                    const dot = HL.el('span', { class: 'dot' });
                    dot.style.background = c.dot;
                    td.appendChild(dot);
                }
                td.appendChild(document.createTextNode(c.text === undefined ? '' : c.text));
                if (c.title) td.title = c.title;
                if (typeof c.v === 'number') td.setAttribute('data-v', String(c.v));
                tr.appendChild(td);
            });
            return tr;
        }
        function render() {
            const rows = spec.rows.slice();
            if (state.col >= 0) {
                const i = state.col;
                rows.sort(function (a, b) {
                    const x = a.cells[i] ? a.cells[i].v : undefined;
                    const y = b.cells[i] ? b.cells[i].v : undefined;
                    const nx = x === undefined || x === null || (typeof x === 'number' && isNaN(x));
                    const ny = y === undefined || y === null || (typeof y === 'number' && isNaN(y));
                    if (nx || ny) return nx - ny;
                    if (typeof x === 'string' || typeof y === 'string') return state.dir * String(x).localeCompare(String(y));
                    return state.dir * (x - y);
                });
            }
            hr.querySelectorAll('th').forEach(function (th, i) {
                th.classList.toggle('sorted', i === state.col);
                th.classList.toggle('up', i === state.col && state.dir > 0);
                th.classList.toggle('down', i === state.col && state.dir < 0);
            });
            const body = HL.el('tbody');
            rows.forEach(function (r) {
                body.appendChild(rowEl(r));
                if (!r.sub) return;
                const tr = HL.el('tr', { class: 'sub' });
                const td = HL.el('td', { class: 'why', colspan: String(spec.columns.length) }, r.sub);
                tr.appendChild(td);
                body.appendChild(tr);
            });
            t.replaceChild(body, t.tBodies[0]);
        }
        render();
        const scroller = HL.el('div', { class: 'scroll' });
        scroller.appendChild(t);
        wrap.appendChild(scroller);
        if (spec.note) wrap.appendChild(HL.el('p', { class: 'note' }, spec.note));
        host.appendChild(wrap);
        return t;
    }

    HL.rtables = { table: table, sig: sig, metricText: metricText, summaryText: summaryText, shortSize: shortSize, shortCount: shortCount };
})(window.HL = window.HL || {});
