/*
 * report.js: HL.Report, the views of `heaplab report` (docs/report.md): the page's data is
 * the heaplab.report/1 document inlined by the report writer (src/report/html.c), read by
 * main.js. Per machine, per document:
 *   bench, replay   summary (winners on time and memory, margins, spread, why), geomeans,
 *                   throughput against threads, RSS over time, latency percentiles, memory
 *                   and OS bars, inside the allocators (heap maps, their statistics, OS
 *                   calls: rinside.js), every table of the terminal, the machine and versions;
 *   run             a table and bars per allocator;   race   the leaderboard and bars;
 * then the comparison of two files (changes as charts and tables) and, with several
 * machines, the same cells across machines. Everything here is drawn from the data: no
 * number or sentence is made up in the page (the why lines come from src/report/why.c).
 */
(function (HL) {
    'use strict';

    const SCHEMA_RE = /^heaplab\.report\/(\d+)$/;
    const SCHEMA_MAJOR = 1;
    const MIB = 1048576;

    /* The terminal's metric tables (src/bench/report.c), in its order. */
    const TABLES = [
        { key: 'ops_per_sec', title: 'Throughput, Mops/s (higher is better)', scale: 1e6, dec: 2, higher: true, short: 'throughput' },
        { key: 'malloc_p50_ns', title: 'malloc latency p50, ns (lower is better)', scale: 1, dec: 0, lat: true, short: 'malloc p50' },
        { key: 'malloc_p99_ns', title: 'malloc latency p99, ns (lower is better)', scale: 1, dec: 0, lat: true, short: 'malloc p99' },
        { key: 'free_p99_ns', title: 'free latency p99, ns (lower is better)', scale: 1, dec: 0, lat: true, short: 'free p99' },
        { key: 'peak_rss_bytes', title: 'Peak RSS above baseline, MiB (lower is better)', scale: MIB, dec: 1, short: 'peak RSS' },
        { key: 'frag_peak', title: 'Peak RSS / peak live bytes (lower is better)', scale: 1, dec: 2, short: 'peak RSS / live' },
    ];
    const PCTS = [['p50', 50], ['p90', 90], ['p95', 95], ['p99', 99], ['p999', 99.9], ['max', null]];
    const PCT_X = [Math.log10(2), 1, Math.log10(20), 2, 3, 4]; /* -log10(1 - p), max at 4 */
    const PCT_NAMES = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max'];

    function label(w) {
        if (w.indexOf('trace:') !== 0) return w;
        return 'trace:' + w.slice(w.lastIndexOf('/') + 1);
    }

    function mib(v) {
        return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);
    }

    function ratio(r) {
        return (r < 10 ? r.toFixed(2) : r.toFixed(1)) + '×';
    }

    /* 10 -> "10ns", 1000 -> "1µs": a log axis's decades. */
    function nsAxis(v) {
        if (v < 1000) return Math.round(v) + 'ns';
        if (v < 1e6) return +(v / 1e3).toPrecision(3) + 'µs';
        return +(v / 1e6).toPrecision(3) + 'ms';
    }

    function countText(v) {
        if (v < 1e4) return String(Math.round(v));
        if (v < 1e6) return (v / 1e3).toFixed(v < 1e5 ? 1 : 0) + 'k';
        return (v / 1e6).toFixed(1) + 'M';
    }

    function spreadOf(st) {
        return st && st[0] ? (st[2] - st[1]) / Math.abs(st[0]) : 0;
    }

    function el(tag, attrs, text) {
        return HL.el(tag, attrs, text);
    }

    function section(host, id, title, note) {
        const s = el('section', { class: 'rsec', id: id });
        s.appendChild(el('h3', { class: 'rhead' }, title));
        if (note) s.appendChild(el('p', { class: 'note' }, note));
        host.appendChild(s);
        return s;
    }

    function grid(host) {
        const g = el('div', { class: 'rgrid' });
        host.appendChild(g);
        return g;
    }

    function panel(host, title, sub) {
        const p = el('div', { class: 'chart rpanel' });
        const h = el('h4', null, title);
        if (sub) h.appendChild(el('span', { class: 'note' }, ' ' + sub));
        p.appendChild(h);
        const body = el('div', { class: 'rbody' });
        p.appendChild(body);
        host.appendChild(p);
        return { panel: p, body: body };
    }

    /* ---- the model ------------------------------------------------------------------ */

    function Model(data) {
        this.data = data;
        this.colourIdx = {};
        const self = this;
        let n = 0;
        const add = function (name) {
            if (self.colourIdx[name] === undefined) self.colourIdx[name] = n++;
        };
        /* Colours go to bench's allocators first, then run's, then the lab's of races, so
         * glibc, jemalloc, ... keep theirs whatever else a page shows. */
        ['bench', 'run', 'race'].forEach(function (kind) {
            data.docs.forEach(function (d) {
                if (d.kind !== kind) return;
                (d.allocators || []).forEach(function (a) {
                    add(a.name);
                });
            });
            data.cells.forEach(function (c) {
                if (data.docs[c.doc].kind === kind) add(c.allocator);
            });
        });
        this.byDoc = data.docs.map(function () {
            return [];
        });
        data.cells.forEach(function (c) {
            self.byDoc[c.doc].push(c);
        });
        this.why = {};
        (data.why || []).forEach(function (w) {
            self.why[w.doc + '|' + w.workload + '|' + w.threads] = w.text;
        });
    }

    Model.prototype.colour = function (name) {
        return HL.laneColour(this.colourIdx[name] || 0);
    };

    /* One bench document: its allocators, workloads and thread counts, cells by key. */
    function BenchDoc(m, di) {
        this.m = m;
        this.di = di;
        this.doc = m.data.docs[di];
        this.cells = m.byDoc[di];
        const seen = {};
        const allocs = [];
        const wls = [];
        const ths = [];
        const self = this;
        this.map = {};
        (this.doc.allocators || []).forEach(function (a) {
            if (!seen['a' + a.name]) {
                seen['a' + a.name] = 1;
                allocs.push(a.name);
            }
        });
        this.cells.forEach(function (c) {
            if (!seen['a' + c.allocator]) {
                seen['a' + c.allocator] = 1;
                allocs.push(c.allocator);
            }
            if (!seen['w' + c.workload]) {
                seen['w' + c.workload] = 1;
                wls.push(c.workload);
            }
            if (!seen['t' + c.threads]) {
                seen['t' + c.threads] = 1;
                ths.push(c.threads);
            }
            self.map[c.workload + '|' + c.threads + '|' + c.allocator] = c;
        });
        ths.sort(function (a, b) {
            return a - b;
        });
        this.allocs = allocs.filter(function (a) {
            return self.cells.some(function (c) {
                return c.allocator === a;
            });
        });
        this.workloads = wls;
        this.threads = ths;
        this.repeat = this.doc.config && this.doc.config.repeat;
        this.spread = this.cells.some(function (c) {
            return c.s && c.s.ops_per_sec && c.s.ops_per_sec[3] > 1;
        });
    }

    BenchDoc.prototype.cell = function (w, t, a) {
        return this.map[w + '|' + t + '|' + a];
    };

    BenchDoc.prototype.stat = function (w, t, a, key) {
        const c = this.cell(w, t, a);
        return c && c.s && c.s[key] ? c.s[key] : null;
    };

    /* The rows (workload, threads) in the order the terminal prints them, each with its
     * cells; a workload that does not run at a thread count (skipped) is left out. */
    BenchDoc.prototype.rows = function () {
        const self = this;
        const rows = [];
        this.workloads.forEach(function (w) {
            self.threads.forEach(function (t) {
                const cells = self.allocs.map(function (a) {
                    return self.cell(w, t, a);
                });
                if (!cells.some(Boolean)) return;
                if (cells.every(function (c) {
                    return !c || c.status === 'skipped';
                })) return;
                rows.push({ w: w, t: t, cells: cells });
            });
        });
        return rows;
    };

    /* The timer's resolution of a cell, the largest of its runs, or undefined. */
    function resolution(c) {
        return c && c.s && c.s.timer_resolution_ns ? c.s.timer_resolution_ns[2] : undefined;
    }

    /* What a cell without the metric shows, as the terminal's short_status. */
    function statusText(c) {
        if (!c) return '';
        if (c.status === 'missing') return 'missing';
        if (c.status === 'skipped') return '-';
        if (c.status === 'ok') return '-';
        const note = c.note || c.error || c.status;
        const colon = note.indexOf(':');
        return (colon > 0 ? note.slice(0, colon) : note).slice(0, 31);
    }

    /* ---- the legend ------------------------------------------------------------------ */

    function legend(host, m, doc, allocs) {
        const l = el('div', { class: 'legend rlegend' });
        allocs.forEach(function (a) {
            const info = (doc.allocators || []).find(function (x) {
                return x.name === a;
            }) || {};
            const k = el('span', { class: 'key' });
            const dot = el('span', { class: 'dot' });
            dot.style.background = m.colour(a);
            k.appendChild(dot);
            k.appendChild(document.createTextNode(a + (info.version ? ' ' + info.version : '')));
            if (info.status && info.status !== 'ok') k.appendChild(el('span', { class: 'note' }, ' (' + info.status + ')'));
            l.appendChild(k);
        });
        host.appendChild(l);
    }

    /* ---- bench: summary and geomeans ---------------------------------------------------- */

    function winners(bd, row, key, higher) {
        const have = [];
        row.cells.forEach(function (c, i) {
            if (c && c.s && c.s[key] && c.runs_ok > 0) have.push({ a: bd.allocs[i], st: c.s[key] });
        });
        have.sort(function (x, y) {
            return higher ? y.st[0] - x.st[0] : x.st[0] - y.st[0];
        });
        return have;
    }

    /* "mimalloc 12.1 Mops/s ±3%" and "1.21× jemalloc, 3.40× glibc (within the spread)". */
    function winCells(bd, have, higher, fmt) {
        if (!have.length) return [{ text: '–' }, { text: '' }];
        const w = have[0];
        const sp = bd.spread ? ' ±' + Math.round(spreadOf(w.st) * 100) + '%' : '';
        const win = { text: w.a + ' ' + fmt(w.st[0]) + sp, dot: bd.m.colour(w.a), v: w.st[0] };
        if (have.length < 2) return [win, { text: 'alone' }];
        const by = function (o) {
            return higher ? w.st[0] / o.st[0] : o.st[0] / w.st[0];
        };
        const next = have[1];
        const last = have[have.length - 1];
        let t = ratio(by(next)) + ' ' + next.a;
        if (have.length > 2) t += ', ' + ratio(by(last)) + ' ' + last.a;
        const overlap = higher ? w.st[1] <= next.st[2] : w.st[2] >= next.st[1];
        const cell = { text: t, v: by(next) };
        if (overlap && bd.spread) {
            cell.text = '≈ ' + t;
            cell.cls = 'tie';
            cell.title = 'within the spread: the repetitions of ' + w.a + ' and ' + next.a + ' overlap';
        }
        return [win, cell];
    }

    function summary(host, bd) {
        const sec = section(host, 'd' + bd.di + '-summary', 'Summary',
            'Per workload and thread count: the fastest allocator (median throughput) and the one with the least peak RSS, ' +
            'by how much they beat the next and the last, the winner\'s spread (max − min) / median over ' +
            (bd.repeat || 1) + ' repetition' + (bd.repeat === 1 ? '' : 's') +
            '; under a row, what the data says about why, where it says something beyond the spread. ≈ (dim): within the spread, ' +
            'the repetitions of the two overlap.');
        const rows = bd.rows().map(function (r) {
            const t = winners(bd, r, 'ops_per_sec', true);
            const mem = winners(bd, r, 'peak_rss_bytes', false);
            const why = bd.m.why[bd.di + '|' + r.w + '|' + r.t] || '';
            const cells = [{ text: label(r.w), v: label(r.w) }, { text: String(r.t), v: r.t }]
                .concat(winCells(bd, t, true, function (v) {
                    return (v / 1e6).toFixed(2) + ' Mops/s';
                }))
                .concat(winCells(bd, mem, false, function (v) {
                    return mib(v / MIB) + ' MiB';
                }));
            return { key: r.w + '|' + r.t, cells: cells, sub: why || null };
        });
        HL.rtables.table(sec, {
            id: 'd' + bd.di + '-summary-table',
            columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }, { head: 'fastest', cls: 'name' },
                { head: 'ahead of the next, the last', cls: 'name' }, { head: 'least peak RSS', cls: 'name' },
                { head: 'ahead of the next, the last', cls: 'name' }],
            rows: rows,
        });
        geomeans(sec, bd);
    }

    /* The geometric mean over the rows of each allocator's ratio to glibc (the terminal's
     * last row of each table); a latency under the timer's resolution is left out. */
    function geomeanOf(bd, t) {
        const base = bd.allocs.indexOf('glibc');
        if (base < 0) return null;
        const sums = bd.allocs.map(function () {
            return { s: 0, n: 0 };
        });
        bd.rows().forEach(function (r) {
            const g = r.cells[base];
            const gs = g && g.s && g.s[t.key];
            if (!gs || !(gs[0] > 0) || (t.lat && gs[0] < resolution(g))) return;
            r.cells.forEach(function (c, i) {
                const st = c && c.s && c.s[t.key];
                if (!st || !(st[0] > 0) || (t.lat && st[0] < resolution(c))) return;
                sums[i].s += Math.log(st[0] / gs[0]);
                sums[i].n++;
            });
        });
        return sums.map(function (x) {
            return x.n ? Math.exp(x.s / x.n) : null;
        });
    }

    function geomeans(host, bd) {
        const tables = TABLES.filter(function (t) {
            return bd.cells.some(function (c) {
                return c.s && c.s[t.key];
            });
        });
        const g = tables.map(function (t) {
            return geomeanOf(bd, t);
        });
        if (!g.length || g[0] === null) return;
        const rows = bd.allocs.map(function (a, i) {
            return {
                key: a,
                cells: [{ text: a, v: a, dot: bd.m.colour(a) }].concat(tables.map(function (t, k) {
                    const v = g[k][i];
                    return { text: v === null ? '–' : v.toFixed(2) + '×', v: v === null ? undefined : v };
                })),
            };
        });
        tables.forEach(function (t, k) {
            let best = null;
            rows.forEach(function (r) {
                const v = r.cells[k + 1].v;
                if (v !== undefined && (best === null || (t.higher ? v > best : v < best))) best = v;
            });
            const n = rows.filter(function (r) {
                return r.cells[k + 1].v !== undefined;
            }).length;
            rows.forEach(function (r) {
                r.cells[k + 1].best = n > 1 && best !== null && r.cells[k + 1].text === best.toFixed(2) + '×';
            });
        });
        HL.rtables.table(host, {
            title: 'Geometric mean over the workloads of each allocator\'s ratio to glibc',
            id: 'd' + bd.di + '-geomean',
            columns: [{ head: 'allocator', cls: 'name' }].concat(tables.map(function (t) {
                return { head: t.short, title: t.title };
            })),
            rows: rows,
            note: 'Throughput: above 1× is faster than glibc; latency and memory: below 1× is less.',
        });
    }

    /* ---- bench: charts -------------------------------------------------------------- */

    function scaling(host, bd) {
        if (bd.threads.length < 2) return;
        const sec = section(host, 'd' + bd.di + '-scaling', 'Throughput against threads',
            'Median throughput over the repetitions, the band from the slowest to the fastest; log2 thread axis. ' +
            'Contention (below, in the tables) tells a lock from too few CPUs where a curve falls.');
        legend(sec, bd.m, bd.doc, bd.allocs); /* the colours, beside the charts they key */
        const g = grid(sec);
        bd.workloads.forEach(function (w) {
            const series = [];
            const ths = bd.threads.filter(function (t) {
                return bd.allocs.some(function (a) {
                    return bd.stat(w, t, a, 'ops_per_sec');
                });
            });
            if (ths.length < 2) return;
            bd.allocs.forEach(function (a) {
                const xs = [];
                const ys = [];
                const lo = [];
                const hi = [];
                ths.forEach(function (t) {
                    const st = bd.stat(w, t, a, 'ops_per_sec');
                    if (!st) return;
                    xs.push(t);
                    ys.push(st[0] / 1e6);
                    lo.push(st[1] / 1e6);
                    hi.push(st[2] / 1e6);
                });
                if (xs.length) series.push({ label: a, colour: bd.m.colour(a), xs: xs, ys: ys, lo: lo, hi: hi });
            });
            const p = panel(g, label(w), 'Mops/s');
            HL.rcharts.lines(p.body, {
                series: series,
                x: { log2: true, splits: ths, fmt: String, label: 'threads' },
                y: { fmt: function (v) {
                    return v.toFixed(v < 10 ? 1 : 0);
                } },
                tipX: function (x) {
                    return x + ' thread' + (x === 1 ? '' : 's');
                },
                tipY: function (v) {
                    return v.toFixed(2) + ' Mops/s';
                },
            });
        });
    }

    /* A control to pick the thread count the sections below it show. */
    function threadPicker(host, bd, draw) {
        if (bd.threads.length < 2) {
            draw(bd.threads[0]);
            return;
        }
        const bar = el('div', { class: 'rpick', role: 'group' });
        bar.appendChild(el('span', { class: 'note' }, 'threads: '));
        const buttons = bd.threads.map(function (t) {
            const b = el('button', { type: 'button', 'data-threads': String(t) }, String(t));
            b.addEventListener('click', function () {
                buttons.forEach(function (x) {
                    x.classList.toggle('on', x === b);
                });
                draw(t);
            });
            bar.appendChild(b);
            return b;
        });
        host.insertBefore(bar, host.children[1] || null);
        buttons[0].classList.add('on');
        draw(bd.threads[0]);
    }

    function rssOverTime(host, bd) {
        const sec = section(host, 'd' + bd.di + '-rss', 'RSS over time',
            'RSS above the baseline, sampled every 10 ms, of each allocator\'s run with the median peak RSS. ' +
            'A workload\'s phase marks are dashed lines in the allocator\'s colour, with a ring at the RSS read at each.');
        legend(sec, bd.m, bd.doc, bd.allocs); /* the colours, beside the charts they key */
        const body = el('div');
        sec.appendChild(body);
        threadPicker(sec, bd, function (t) {
            HL.rcharts.forget(body);
            body.textContent = '';
            const g = grid(body);
            bd.workloads.forEach(function (w) {
                const series = [];
                const marks = [];
                let live = null;
                bd.allocs.forEach(function (a) {
                    const c = bd.cell(w, t, a);
                    if (!c || c.runs_ok === 0) return;
                    if (c.s && c.s.peak_live_bytes) live = c.s.peak_live_bytes[0];
                    if (c.rss && c.rss.t_ms.length) {
                        series.push({ label: a, colour: bd.m.colour(a), xs: c.rss.t_ms, ys: c.rss.rss_kib.map(function (k) {
                            return k / 1024;
                        }) });
                    }
                    /* The marks: their own RSS readings, as points, and the phases as lines. */
                    const mx = [];
                    const my = [];
                    (c.marks || []).forEach(function (mk) {
                        if (mk.thread !== 0 || mk.t_ms === undefined) return;
                        marks.push({ x: mk.t_ms, label: mk.label, colour: bd.m.colour(a) });
                        if (mk.rss_bytes === undefined) return;
                        mx.push(mk.t_ms);
                        my.push(mk.rss_bytes / MIB);
                    });
                    if (mx.length) series.push({ label: a + ' at its marks', colour: bd.m.colour(a), xs: mx, ys: my, pointsOnly: true });
                });
                const sub = live !== null ? 'MiB · peak live ' + HL.bytes(live) : 'MiB';
                if (!series.length) {
                    if (bd.allocs.some(function (a) {
                        const c = bd.cell(w, t, a);
                        return c && c.runs_ok > 0;
                    })) panel(g, label(w), sub).body.appendChild(el('p', { class: 'note' }, 'No RSS reading: every run ended before the sampler\'s first.'));
                    return;
                }
                const p = panel(g, label(w), sub);
                HL.rcharts.lines(p.body, {
                    series: series,
                    marks: marks,
                    x: { fmt: function (v) {
                        return v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + ' s' : v + ' ms';
                    } },
                    y: { fmt: mib },
                    tipX: function (x) {
                        return x + ' ms';
                    },
                    tipY: function (v) {
                        return mib(v) + ' MiB';
                    },
                });
                const why = bd.m.why[bd.di + '|' + w + '|' + t];
                if (why) p.panel.appendChild(el('p', { class: 'why' }, why));
            });
            if (!g.children.length) g.appendChild(el('p', { class: 'note' }, 'No RSS samples at ' + t + ' thread' + (t === 1 ? '' : 's') + '.'));
        });
    }

    function latency(host, bd) {
        if (!bd.cells.some(function (c) {
            return c.s && c.s.malloc_p50_ns;
        })) return;
        const sec = section(host, 'd' + bd.di + '-latency', 'malloc and free latency',
            'Percentiles of the sampled per-call latency (the timer\'s overhead subtracted), each the median over the ' +
            'repetitions; solid malloc, dashed free; log ns. Below the dotted line the timer cannot tell values apart.');
        legend(sec, bd.m, bd.doc, bd.allocs); /* the colours, beside the charts they key */
        const body = el('div');
        sec.appendChild(body);
        threadPicker(sec, bd, function (t) {
            HL.rcharts.forget(body);
            body.textContent = '';
            const g = grid(body);
            bd.workloads.forEach(function (w) {
                const series = [];
                let res = 0;
                bd.allocs.forEach(function (a) {
                    const c = bd.cell(w, t, a);
                    if (!c || !c.s) return;
                    res = Math.max(res, resolution(c) || 0);
                    ['malloc', 'free'].forEach(function (op) {
                        const xs = [];
                        const ys = [];
                        PCTS.forEach(function (p, i) {
                            const st = c.s[op + '_' + p[0] + '_ns'];
                            if (!st) return;
                            xs.push(PCT_X[i]);
                            ys.push(Math.max(1, st[0]));
                        });
                        if (xs.length) series.push({ label: a + ' ' + op, colour: bd.m.colour(a), xs: xs, ys: ys, dash: op === 'free' });
                    });
                });
                if (!series.length) return;
                const p = panel(g, label(w), 'ns');
                HL.rcharts.lines(p.body, {
                    series: series,
                    x: {
                        splits: PCT_X, range: [PCT_X[0] - 0.1, 4.1],
                        fmt: function (v) {
                            const i = PCT_X.findIndex(function (x) {
                                return Math.abs(x - v) < 1e-9;
                            });
                            return i < 0 ? '' : PCT_NAMES[i];
                        },
                    },
                    y: { log: true, fmt: nsAxis },
                    hline: res ? { y: res, label: 'timer resolution ' + Math.ceil(res) + ' ns' } : null,
                    tipX: function (x) {
                        const i = PCT_X.findIndex(function (v) {
                            return Math.abs(x - v) < 1e-9;
                        });
                        return i < 0 ? '' : PCT_NAMES[i];
                    },
                    tipY: HL.ns,
                });
            });
        });
    }

    const BARS = [
        { key: 'peak_rss_bytes', title: 'Peak RSS above baseline', scale: 1, fmt: HL.bytes, bytes: true },
        { key: 'frag_peak', title: 'Peak RSS / peak live bytes', scale: 1, fmt: function (v) {
            return v < 10 ? v.toFixed(2) + '×' : v.toFixed(0) + '×';
        } },
        { key: 'minor_faults', title: 'Page faults (minor)', scale: 1, fmt: countText },
        { key: 'sys_ns', title: 'System (kernel) CPU time', scale: 1e6, fmt: function (v) {
            return v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v >= 1 ? v.toFixed(v < 10 ? 1 : 0) + ' ms' : v.toPrecision(2) + ' ms';
        } },
    ];

    function memoryBars(host, bd) {
        const sec = section(host, 'd' + bd.di + '-bars', 'Memory and the OS',
            'Per workload, each allocator\'s median over the repetitions, the whisker from the smallest to the largest; log scale. ' +
            'A grey tick on the axis is 0.');
        legend(sec, bd.m, bd.doc, bd.allocs); /* the colours, beside the charts they key */
        const body = el('div');
        sec.appendChild(body);
        threadPicker(sec, bd, function (t) {
            HL.rcharts.forget(body);
            body.textContent = '';
            const wls = bd.workloads.filter(function (w) {
                return bd.allocs.some(function (a) {
                    return bd.stat(w, t, a, 'ops_per_sec');
                });
            });
            BARS.forEach(function (b) {
                const series = bd.allocs.map(function (a) {
                    const one = function (k) {
                        return wls.map(function (w) {
                            const st = bd.stat(w, t, a, b.key);
                            return st ? st[k] / b.scale : null;
                        });
                    };
                    return { label: a, colour: bd.m.colour(a), values: one(0), lo: one(1), hi: one(2) };
                });
                if (!series.some(function (s) {
                    return s.values.some(function (v) {
                        return v !== null;
                    });
                })) return;
                const p = panel(body, b.title);
                p.panel.classList.add('wide');
                HL.rcharts.bars(p.body, { groups: wls.map(label), series: series, fmt: b.fmt, bytes: b.bytes });
            });
        });
    }

    /* ---- bench: the terminal's tables ------------------------------------------------ */

    function rowHead(r) {
        return [{ text: label(r.w), v: label(r.w), cls: 'name' }, { text: String(r.t), v: r.t }];
    }

    function metricTable(host, bd, t) {
        const rows = [];
        let below = false;
        const base = bd.allocs.indexOf('glibc');
        bd.rows().forEach(function (r) {
            const tc = r.cells.map(function (c) {
                const st = c && c.runs_ok > 0 && c.s ? c.s[t.key] : null;
                if (!st) return { text: statusText(c), have: false };
                const res = t.lat ? resolution(c) : undefined;
                const f = HL.rtables.metricText(st, t.scale, t.dec, bd.spread, res);
                below = below || f.below;
                const num = f.below ? f.text : HL.rtables.sig(st[0] / t.scale, t.dec);
                return { text: f.text, v: st[0] / t.scale, have: !f.below, num: num, med: st[0] };
            });
            let best = -1;
            tc.forEach(function (c, i) {
                if (c.have && (best < 0 || (t.higher ? c.med > tc[best].med : c.med < tc[best].med))) best = i;
            });
            /* A latency under the timer's resolution is less than any measured one: then no
             * measured one is the best of its row. */
            const under = tc.some(function (c) {
                return c.text && c.text.charAt(0) === '<';
            });
            if (best >= 0 && tc.length > 1 && !(under && !t.higher)) {
                tc.forEach(function (c) {
                    c.best = c.have && c.num === tc[best].num;
                });
            }
            rows.push({ key: r.w + '|' + r.t, cells: rowHead(r).concat(tc) });
        });
        if (!rows.length) return;
        const foot = [];
        if (base >= 0) {
            const g = geomeanOf(bd, t);
            foot.push({ key: 'geomean', cells: [{ text: 'geomean vs glibc', cls: 'name' }, { text: '' }].concat(g.map(function (v) {
                return { text: v === null ? '-' : v.toFixed(2) + 'x' };
            })) });
        }
        HL.rtables.table(host, {
            title: t.title,
            id: 'd' + bd.di + '-table-' + t.key,
            columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }].concat(bd.allocs.map(function (a) {
                return { head: a };
            })),
            rows: rows,
            foot: foot,
            note: below ? '<N: below the timer\'s resolution of N ns: not ranked, not in the geomean' : null,
        });
    }

    function marksTable(host, bd) {
        const rows = [];
        bd.rows().forEach(function (r) {
            if (r.t !== 1) return;
            const first = r.cells.find(function (c) {
                return c && c.mark_stats;
            });
            if (!first) return;
            first.mark_stats.forEach(function (ms, i) {
                const cells = [{ text: i === 0 ? label(r.w) : '', v: label(r.w), cls: 'name' }, { text: i === 0 ? String(r.t) : '', v: r.t },
                    { text: ms[0], v: i, cls: 'name' }];
                r.cells.forEach(function (c) {
                    const x = c && c.mark_stats ? c.mark_stats.find(function (y) {
                        return y[0] === ms[0];
                    }) : null;
                    if (!x || x[1] === null) cells.push({ text: statusText(c) });
                    else cells.push({ text: HL.rtables.shortSize(x[1]) + (x[2] !== null ? ' (' + x[2].toFixed(2) + ')' : ''), v: x[1] });
                });
                rows.push({ key: r.w + '|' + r.t + '|' + ms[0], cells: cells });
            });
        });
        if (!rows.length) return;
        HL.rtables.table(host, {
            title: 'Footprint at each mark (/ live bytes), 1 thread; RSS, or lab:NAME\'s own (lower is better)',
            id: 'd' + bd.di + '-table-marks',
            columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }, { head: 'mark', cls: 'name' }].concat(bd.allocs.map(function (a) {
                return { head: a };
            })),
            rows: rows,
        });
    }

    function reuseTable(host, bd) {
        const bands = [['smaller', 'hole_reuse_smaller'], ['equal', 'hole_reuse_equal'], ['larger', 'hole_reuse_larger'], ['whole refill', 'hole_reuse']];
        const rows = [];
        bd.rows().forEach(function (r) {
            if (!r.cells.some(function (c) {
                return c && c.s && c.s.hole_reuse_smaller;
            })) return;
            bands.forEach(function (b, i) {
                const cells = [{ text: i === 0 ? label(r.w) : '', v: label(r.w), cls: 'name' }, { text: i === 0 ? String(r.t) : '', v: r.t },
                    { text: b[0], v: i, cls: 'name' }];
                r.cells.forEach(function (c) {
                    const st = c && c.s ? c.s[b[1]] : null;
                    if (!st) cells.push({ text: statusText(c) });
                    else cells.push({ text: st[0].toFixed(2) + (bd.spread ? ' ±' + Math.round(spreadOf(st) * 100) + '%' : ''), v: st[0] });
                });
                rows.push({ key: r.w + '|' + r.t + '|' + b[0], cells: cells });
            });
        });
        if (!rows.length) return;
        HL.rtables.table(host, {
            title: 'Hole reuse by refill band, 1 = all from the holes (higher is better)',
            id: 'd' + bd.di + '-table-reuse',
            columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }, { head: 'band', cls: 'name' }].concat(bd.allocs.map(function (a) {
                return { head: a };
            })),
            rows: rows,
        });
    }

    function contentionTables(host, bd) {
        if (!bd.cells.some(function (c) {
            return c.threads > 1 && c.runs_ok > 0;
        })) return;
        const kinds = [
            { title: 'Contention: blocked / waiting for a CPU, % of thread time (median)', id: 'blocked', cell: function (s) {
                const th = s.thread_ns ? s.thread_ns[0] : 0;
                const total = th > 0 ? th : 1;
                const x = s.blocked_ns ? Math.round(100 * s.blocked_ns[0] / total) + '%' : '-';
                const y = s.runqueue_ns ? Math.round(100 * s.runqueue_ns[0] / total) + '%' : '-';
                return { text: x + ' / ' + y, v: s.blocked_ns ? s.blocked_ns[0] / total : undefined };
            } },
            { title: 'Contention: context switches per run, voluntary / involuntary (median)', id: 'switches', cell: function (s) {
                const x = s.voluntary_switches ? HL.rtables.shortCount(s.voluntary_switches[0]) : '-';
                const y = s.involuntary_switches ? HL.rtables.shortCount(s.involuntary_switches[0]) : '-';
                return { text: x + ' / ' + y, v: s.voluntary_switches ? s.voluntary_switches[0] : undefined };
            } },
        ];
        kinds.forEach(function (k, i) {
            const rows = bd.rows().map(function (r) {
                return { key: r.w + '|' + r.t, cells: rowHead(r).concat(r.cells.map(function (c) {
                    if (!c || !c.s || !c.s.thread_ns) return { text: c && c.runs_ok > 0 ? '-' : statusText(c) };
                    return k.cell(c.s);
                })) };
            });
            HL.rtables.table(host, {
                title: k.title,
                id: 'd' + bd.di + '-table-' + k.id,
                columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }].concat(bd.allocs.map(function (a) {
                    return { head: a };
                })),
                rows: rows,
                note: i === 1 ? 'blocked: asleep (a lock\'s futex wait, I/O); waiting: runnable, no CPU free (more threads than CPUs)' : null,
            });
        });
    }

    function notes(host, bd) {
        const seen = {};
        const items = [];
        bd.cells.forEach(function (c) {
            if (!c.note || c.status === 'skipped' || /^needs at least/.test(c.note)) return;
            const k = c.allocator + '|' + c.note;
            if (seen[k]) return;
            seen[k] = 1;
            items.push(c.allocator + ' (' + label(c.workload) + ', ' + c.threads + ' thread' + (c.threads === 1 ? '' : 's') + '): ' + c.note);
        });
        /* A trace's replay, as the terminal's note under the tables says it. */
        bd.workloads.forEach(function (w) {
            const c = bd.cells.find(function (x) {
                return x.workload === w && x.replay;
            });
            if (!c) return;
            const r = c.replay;
            let t = 'replayed ' + r.events + ' events (' + r.allocs + ' allocations, ' + r.frees + ' frees, ' + r.reallocs +
                ' reallocs) on ' + c.threads + ' thread' + (c.threads === 1 ? '' : 's');
            if (r.unknown_frees) t += '; ' + r.unknown_frees + ' frees of unknown pointers skipped';
            if (r.failed) t += '; ' + r.failed + ' failed allocations not replayed';
            if (r.zero_sizes) t += '; ' + r.zero_sizes + ' size-0 requests as 1 byte';
            if (r.clamped_aligns) t += '; ' + r.clamped_aligns + ' alignments clamped';
            if (r.folded_threads) t += '; ' + r.folded_threads + ' threads folded onto others';
            if (r.damage) t += '; a damaged trace, replayed as far as it could be read: ' + r.damage;
            items.push(label(w) + ': ' + t);
        });
        if (!items.length) return;
        host.appendChild(el('h4', null, 'notes'));
        const ul = el('ul', { class: 'notes' });
        items.forEach(function (t) {
            ul.appendChild(el('li', null, t));
        });
        host.appendChild(ul);
    }

    function tables(host, bd) {
        const sec = section(host, 'd' + bd.di + '-tables', 'Tables',
            'The tables of the terminal: medians over the repetitions' + (bd.spread ? ' and the relative spread (max − min) / median' : '') +
            '; the best of each row in green. Click a heading to sort by it, again to reverse.');
        TABLES.forEach(function (t) {
            metricTable(sec, bd, t);
        });
        marksTable(sec, bd);
        reuseTable(sec, bd);
        contentionTables(sec, bd);
        notes(sec, bd);
    }

    function about(host, m, di) {
        const doc = m.data.docs[di];
        const mach = m.data.machines[doc.machine];
        const sec = section(host, 'd' + di + '-about', 'Machine and versions');
        const dl = el('dl', { class: 'about' });
        const put = function (k, v) {
            if (v === undefined || v === null || v === '') return;
            dl.appendChild(el('dt', null, k));
            dl.appendChild(el('dd', null, String(v)));
        };
        const mm = (mach && mach.machine) || {};
        put('host', mach ? mach.key : '');
        put('CPU', mm.cpu_model + (mm.cores ? ', ' + mm.cores + ' cores' : ''));
        put('memory', mm.memory_bytes ? HL.bytes(mm.memory_bytes) : '');
        put('kernel', [mm.kernel, mm.arch].filter(Boolean).join(' '));
        put('libc', mm.glibc ? 'glibc ' + mm.glibc : '');
        put('THP, clocksource, page', [mm.thp, mm.clocksource, mm.page_size ? HL.bytes(mm.page_size) : ''].filter(Boolean).join(', '));
        (doc.allocators || []).forEach(function (a) {
            put('allocator ' + a.name, [a.version || '', a.status && a.status !== 'ok' ? a.status + (a.note ? ': ' + a.note : '') : '', a.provider || ''].filter(Boolean).join(' · '));
        });
        const cfg = doc.config || {};
        if (doc.kind === 'bench') {
            /* a replay (traces only) has no seed nor ops of its own */
            const traces = (cfg.workloads || []).every(function (w) {
                return w.indexOf('trace:') === 0;
            });
            put('config', (traces ? '' : 'seed ' + cfg.seed + ', ops per thread ' + (cfg.ops_per_thread || 'each workload\'s default') + ', ') +
                cfg.repeat + ' repetitions, threads ' + (cfg.threads || []).join(',') + ', latency ' + (cfg.latency ? 'on' : 'off') +
                (cfg.pin_cpus && cfg.pin_cpus.length ? ', pinned to ' + cfg.pin_cpus.join(',') : ''));
        }
        put('file', doc.name);
        put('written', doc.created_utc + (doc.version ? ' by heaplab ' + doc.version : ''));
        put('command', doc.command);
        sec.appendChild(dl);
    }

    /* ---- run and race documents --------------------------------------------------------- */

    function runView(host, m, di) {
        const doc = m.data.docs[di];
        const cells = m.byDoc[di];
        const sec = section(host, 'd' + di + '-run', 'Program: ' + (cells[0] ? cells[0].workload : ''),
            'heaplab run: the program under each allocator, ' + ((doc.config && doc.config.repeat) || 1) +
            ' repetitions; medians and the relative spread; the best of each column in green.');
        legend(sec, m, doc, cells.map(function (c) {
            return c.allocator;
        }));
        const cols = [
            { key: 'wall_ns', head: 'wall time, s', scale: 1e9, dec: 3 },
            { key: 'user_ns', head: 'user, s', scale: 1e9, dec: 3 },
            { key: 'sys_ns', head: 'sys, s', scale: 1e9, dec: 3 },
            { key: 'peak_rss_bytes', head: 'peak RSS, MiB', scale: MIB, dec: 1 },
            { key: 'minor_faults', head: 'minor faults', scale: 1, dec: 0 },
        ];
        const best = cols.map(function (c) {
            return lowest(cells.map(function (x) {
                return x.s && x.s[c.key] ? x.s[c.key][0] : undefined;
            }));
        });
        HL.rtables.table(sec, {
            id: 'd' + di + '-run-table',
            columns: [{ head: 'allocator', cls: 'name' }].concat(cols.map(function (c) {
                return { head: c.head };
            })).concat([{ head: 'status', cls: 'name' }]),
            rows: cells.map(function (x) {
                return { key: x.allocator, cells: [{ text: x.allocator, v: x.allocator, dot: m.colour(x.allocator) }].concat(cols.map(function (c, i) {
                    const st = x.s && x.s[c.key];
                    if (!st) return { text: '–' };
                    return { text: HL.rtables.summaryText(st[0], st[1], st[2], st[3], c.scale, c.dec), v: st[0] / c.scale, best: st[0] === best[i] };
                })).concat([{ text: x.status + (x.note ? ': ' + x.note : ''), v: x.status }]) };
            }),
        });
        const g = grid(sec);
        [['wall_ns', 'Wall time', 1e9, function (v) {
            return v.toFixed(3) + ' s';
        }], ['peak_rss_bytes', 'Peak RSS', 1, HL.bytes, true]].forEach(function (b) {
            const series = cells.filter(function (x) {
                return x.s && x.s[b[0]];
            }).map(function (x) {
                const st = x.s[b[0]];
                return { label: x.allocator, colour: m.colour(x.allocator), values: [st[0] / b[2]], lo: [st[1] / b[2]], hi: [st[2] / b[2]] };
            });
            if (!series.length) return;
            const p = panel(g, b[1]);
            HL.rcharts.bars(p.body, { groups: [''], series: series, fmt: b[3], bytes: b[4], height: 200 });
        });
        const why = m.why[di + '|' + (cells[0] ? cells[0].workload : '') + '|0'];
        if (why) sec.appendChild(el('p', { class: 'why' }, why));
        about(host, m, di);
    }

    /* The lowest of the numbers in vals, or null when there are fewer than two or all are
     * the same (no best then, as on the live leaderboard). */
    function lowest(vals) {
        const v = vals.filter(function (x) {
            return typeof x === 'number' && isFinite(x);
        });
        if (v.length < 2) return null;
        const lo = Math.min.apply(null, v);
        return v.every(function (x) {
            return x === lo;
        }) ? null : lo;
    }

    const RACE_COLS = [
        { key: 'p50_ns', head: 'p50', fmt: HL.ns },
        { key: 'p90_ns', head: 'p90', fmt: HL.ns },
        { key: 'p99_ns', head: 'p99', fmt: HL.ns },
        { key: 'frag_avg', head: 'frag avg', fmt: HL.frac },
        { key: 'frag_max', head: 'frag max', fmt: HL.frac },
        { key: 'peak_internal_waste', head: 'peak waste', fmt: HL.bytes },
        { key: 'failures', head: 'failures', fmt: HL.num },
        { key: 'footprint', head: 'peak footprint', fmt: HL.bytes },
    ];

    function raceView(host, m, di) {
        const doc = m.data.docs[di];
        const cells = m.byDoc[di];
        const r = doc.race || {};
        const sec = section(host, 'd' + di + '-race', 'Race: ' + (r.workload || ''),
            'heaplab race: the lab allocators in lockstep over one stream (seed ' + r.seed + ', ' + HL.num(r.ops) + ' ops, arena ' +
            HL.bytes(r.arena_bytes) + '); the leaderboard at the end, every op counted. Lower is better in every column.');
        legend(sec, m, doc, cells.map(function (c) {
            return c.allocator;
        }));
        const best = RACE_COLS.map(function (c) {
            return lowest(cells.map(function (x) {
                return x.lane ? x.lane[c.key] : undefined;
            }));
        });
        HL.rtables.table(sec, {
            id: 'd' + di + '-race-table',
            columns: [{ head: 'allocator', cls: 'name' }].concat(RACE_COLS.map(function (c) {
                return { head: c.head };
            })),
            rows: cells.map(function (x) {
                return { key: x.allocator, cells: [{ text: x.allocator, v: x.allocator, dot: m.colour(x.allocator) }].concat(RACE_COLS.map(function (c, i) {
                    const v = x.lane ? x.lane[c.key] : undefined;
                    return { text: c.fmt(v), v: v, best: v === best[i] };
                })) };
            }),
        });
        const g = grid(sec);
        [['footprint', 'Peak footprint', HL.bytes, true], ['frag_max', 'Fragmentation, max', HL.frac], ['p99_ns', 'p99 latency', HL.ns]].forEach(function (b) {
            const series = cells.filter(function (x) {
                return x.lane && typeof x.lane[b[0]] === 'number';
            }).map(function (x) {
                return { label: x.allocator, colour: m.colour(x.allocator), values: [x.lane[b[0]]] };
            });
            if (!series.length) return;
            const p = panel(g, b[1]);
            HL.rcharts.bars(p.body, { groups: [''], series: series, fmt: b[2], bytes: b[3], height: 200 });
        });
        about(host, m, di);
    }

    /* ---- the comparison ----------------------------------------------------------------- */

    function compareView(host, m) {
        const c = m.data.compare;
        const sec = section(host, 'compare', 'Comparison: base against new');
        const files = function (side) {
            return (c[side] || []).map(function (f) {
                return f.name + ' (' + f.machine + ', ' + f.created_utc + ')';
            }).join('; ');
        };
        sec.appendChild(el('p', null, 'base: ' + files('base')));
        sec.appendChild(el('p', null, 'new: ' + files('new')));
        sec.appendChild(el('p', { class: 'note' },
            'For each cell in both, the change of the median and the exact two-sided Mann-Whitney U test of the repetitions: ' +
            'a verdict (red worse, green better) needs p < ' + c.alpha + ' and a change beyond ±' + Math.round(c.threshold * 100) +
            '% (the shaded band); outlined: significant but within it. The whisker spans the changes the repetitions allow, ' +
            'new min / base max − 1 to new max / base min − 1.' +
            (c.relative_to ? ' Timings are compared relative to ' + c.relative_to + ': each run divided by ' + c.relative_to +
                '\'s run of the same repetition, so what the machine did to every allocator alike cancels (its own rows are the reference); ' +
                'peak RSS as measured.' : '')));
        const d = c.drift;
        if (d && !c.relative_to && d.tested >= 4 && d.allocators >= 2 && 2 * Math.max(d.up, d.down) > d.tested) {
            sec.appendChild(el('p', { class: 'drift', id: 'compare-drift' },
                Math.max(d.up, d.down) + ' of ' + d.tested + ' ' + c.metrics[0].name + ' rows went ' +
                (d.up >= d.down ? 'up' : 'down') + ', over ' + d.allocators + ' allocators: the machine, not the builds, ' +
                'likely differs between the files. --relative-to ALLOC (compare or report) divides each run by an unchanged ' +
                'allocator\'s run of the same repetition (docs/compare.md).'));
        }
        const several = {};
        c.rows.forEach(function (r) {
            several[r.machine] = 1;
        });
        const machines = Object.keys(several).length > 1;
        const order = [];
        const byCell = {};
        c.rows.forEach(function (r) {
            const k = [r.workload, r.threads, r.allocator, r.machine].join('|');
            if (!byCell[k]) {
                byCell[k] = { r: r, cells: [] };
                order.push(k);
            }
            const mi = c.metrics.findIndex(function (x) {
                return x.key === r.metric;
            });
            byCell[k].cells[mi] = r;
        });
        /* rel: the sides are ratios to c.relative_to's runs of the same repetition */
        const fmtSide = function (mt, s, rel) {
            if (!s || !s.n) return s ? (s.status === 'ok' ? '-' : s.status) : '–';
            return HL.rtables.summaryText(s.median, s.min, s.max, s.n, rel ? 1 : mt.scale, rel ? 3 : mt.decimals);
        };
        const pText = function (p) {
            return p === null || p === undefined ? '–' : p < 0.001 ? '<0.001' : p.toFixed(3);
        };
        const chRows = order.map(function (k) {
            const x = byCell[k];
            const name = label(x.r.workload) + (x.r.threads ? ' ' + x.r.threads + 't ' : ' ') + x.r.allocator + (machines ? ' @' + x.r.machine : '');
            return {
                label: name,
                cells: c.metrics.map(function (mt, i) {
                    const r = x.cells[i];
                    if (!r) return null;
                    const b = r.base;
                    const n = r.new;
                    const ok = b && n && b.n && n.n;
                    return {
                        change: r.change === null ? NaN : r.change,
                        lo: ok && b.max > 0 ? n.min / b.max - 1 : NaN,
                        hi: ok && b.min > 0 ? n.max / b.min - 1 : NaN,
                        verdict: r.verdict,
                        significant: r.significant,
                        text: 'base ' + fmtSide(mt, b, r.relative) + ' → new ' + fmtSide(mt, n, r.relative) + ' ' +
                            (r.relative ? '× ' + c.relative_to + '\'s' : mt.unit) +
                            (r.change === null ? '' : ', ' + (r.change >= 0 ? '+' : '') + (r.change * 100).toFixed(1) + '%') +
                            ', p ' + pText(r.p) + (r.verdict === 'same' ? '' : ': ' + r.verdict),
                    };
                }),
            };
        });
        sec.appendChild(el('p', { class: 'rcount' }, c.cells + ' cell' + (c.cells === 1 ? '' : 's') + ' in both: ' + c.worse + ' worse, ' +
            c.better + ' better' + (c.only_base.length ? '; only in base: ' + c.only_base.length : '') +
            (c.only_new.length ? '; only in new: ' + c.only_new.length : '')));
        const p = panel(sec, 'Change of the median, new against base');
        p.panel.classList.add('wide');
        HL.rcharts.changes(p.body, {
            metrics: c.metrics.map(function (mt) {
                return { title: mt.name, higher_better: mt.higher_better };
            }),
            rows: chRows,
            threshold: c.threshold,
        });
        c.metrics.forEach(function (mt, i) {
            const rows = order.filter(function (k) {
                return byCell[k].cells[i];
            }).map(function (k) {
                const r = byCell[k].cells[i];
                const cells = [{ text: label(r.workload), v: label(r.workload), cls: 'name' }, { text: r.threads ? String(r.threads) : '-', v: r.threads },
                    { text: r.allocator, v: r.allocator, cls: 'name', dot: m.colour(r.allocator) }];
                if (machines) cells.push({ text: r.machine, v: r.machine, cls: 'name' });
                const verdictCls = r.verdict === 'worse' || r.verdict === 'new-fails' ? 'worse' : r.verdict === 'better' ? 'best' : '';
                const sc = r.relative ? 1 : mt.scale;
                cells.push({ text: fmtSide(mt, r.base, r.relative), v: r.base && r.base.n ? r.base.median / sc : undefined },
                    { text: fmtSide(mt, r.new, r.relative), v: r.new && r.new.n ? r.new.median / sc : undefined },
                    { text: r.change === null ? (r.p === null ? '-' : 'n/a') : (r.change >= 0 ? '+' : '') + (r.change * 100).toFixed(1) + '%' + (r.significant ? '*' : ''),
                        v: r.change === null ? undefined : r.change, cls: verdictCls },
                    { text: pText(r.p), v: r.p === null ? undefined : r.p },
                    { text: r.verdict === 'same' ? '' : r.verdict, v: r.verdict, cls: verdictCls });
                return { key: k, cells: cells };
            });
            const rel = c.rows.some(function (r) {
                return r.metric === mt.key && r.relative;
            });
            HL.rtables.table(sec, {
                title: rel ? mt.name.charAt(0).toUpperCase() + mt.name.slice(1) + ' as a multiple of ' + c.relative_to +
                    '\'s run of the same repetition (' + (mt.higher_better ? 'higher' : 'lower') + ' is better)' : mt.title,
                id: 'compare-table-' + mt.key,
                columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }, { head: 'allocator', cls: 'name' }]
                    .concat(machines ? [{ head: 'machine', cls: 'name' }] : [])
                    .concat([{ head: 'base' }, { head: 'new' }, { head: 'change' }, { head: 'p' }, { head: 'verdict', cls: 'name' }]),
                rows: rows,
            });
        });
        [['only_base', 'only in base'], ['only_new', 'only in new']].forEach(function (o) {
            if (!c[o[0]].length) return;
            sec.appendChild(el('p', { class: 'note' }, o[1] + ': ' + c[o[0]].map(function (x) {
                return label(x.workload) + (x.threads ? ', ' + x.threads + ' thr' : '') + ', ' + x.allocator;
            }).join('; ')));
        });
    }

    /* ---- across machines --------------------------------------------------------------- */

    function acrossMachines(host, m) {
        const benchDocs = m.data.docs.map(function (d, i) {
            return d.kind === 'bench' ? i : -1;
        }).filter(function (i) {
            return i >= 0;
        });
        const keys = [];
        benchDocs.forEach(function (i) {
            const k = m.data.docs[i].machine;
            if (keys.indexOf(k) < 0) keys.push(k);
        });
        if (keys.length < 2) return;
        const sec = section(host, 'machines', 'Across machines',
            'The cells that more than one machine ran: median throughput and peak RSS on each, the fastest machine of a row in green.');
        const byKey = {};
        const order = [];
        m.data.cells.forEach(function (c) {
            const d = m.data.docs[c.doc];
            if (d.kind !== 'bench' || !c.s || !c.s.ops_per_sec) return;
            const k = [c.workload, c.threads, c.allocator].join('|');
            if (!byKey[k]) {
                byKey[k] = { c: c, by: {} };
                order.push(k);
            }
            byKey[k].by[d.machine] = c;
        });
        [['ops_per_sec', 'Throughput, Mops/s (higher is better)', 1e6, 2, true], ['peak_rss_bytes', 'Peak RSS above baseline, MiB (lower is better)', MIB, 1, false]].forEach(function (t) {
            const rows = [];
            order.forEach(function (k) {
                const x = byKey[k];
                if (Object.keys(x.by).length < 2) return;
                const vals = keys.map(function (mk) {
                    const c = x.by[mk];
                    return c && c.s[t[0]] ? c.s[t[0]] : null;
                });
                let best = null;
                vals.forEach(function (st) {
                    if (st && (best === null || (t[4] ? st[0] > best : st[0] < best))) best = st[0];
                });
                rows.push({ key: k, cells: [{ text: label(x.c.workload), v: label(x.c.workload), cls: 'name' }, { text: String(x.c.threads), v: x.c.threads },
                    { text: x.c.allocator, v: x.c.allocator, cls: 'name', dot: m.colour(x.c.allocator) }].concat(vals.map(function (st) {
                    if (!st) return { text: '–' };
                    return { text: HL.rtables.metricText(st, t[2], t[3], true).text, v: st[0] / t[2], best: st[0] === best };
                })) });
            });
            if (!rows.length) return;
            HL.rtables.table(sec, {
                title: t[1],
                id: 'machines-' + t[0],
                columns: [{ head: 'workload', cls: 'name' }, { head: 'thr' }, { head: 'allocator', cls: 'name' }].concat(keys.map(function (k) {
                    const mm = m.data.machines[k];
                    return { head: mm.key, title: (mm.machine.cpu_model || '') + ', ' + (mm.machine.cores || '?') + ' cores' };
                })),
                rows: rows,
            });
        });
    }

    /* ---- the page ------------------------------------------------------------------------ */

    function benchView(host, m, di) {
        const bd = new BenchDoc(m, di);
        if (!bd.allocs.length) return;
        legend(host, m, bd.doc, bd.allocs);
        summary(host, bd);
        scaling(host, bd);
        rssOverTime(host, bd);
        latency(host, bd);
        memoryBars(host, bd);
        HL.rinside.section(host, bd, section, label);
        tables(host, bd);
        about(host, m, di);
    }

    function toc(nav, id, text) {
        const a = el('a', { href: '#' + id }, text);
        nav.appendChild(a);
    }

    function show(data, host) {
        const sm = SCHEMA_RE.exec(data && data.schema ? data.schema : '');
        if (!sm) throw new Error('the page\'s data is "' + (data && data.schema) + '", not a heaplab report');
        if (Number(sm[1]) > SCHEMA_MAJOR) throw new Error(data.schema + ' is newer than this viewer reads (heaplab.report/' + SCHEMA_MAJOR + ')');
        const m = new Model(data);
        host.textContent = '';
        const top = el('header', { class: 'top' });
        const h1 = el('h1', null, 'heaplab ');
        h1.appendChild(el('span', { class: 'sub' }, 'report'));
        top.appendChild(h1);
        const names = data.docs.map(function (d) {
            return d.name;
        });
        top.appendChild(el('span', { class: 'status' }, names.length + ' document' + (names.length === 1 ? '' : 's') + ': ' +
            names.join(', ') + ' · written ' + data.created_utc));
        host.appendChild(top);
        const nav = el('nav', { class: 'toc' });
        host.appendChild(nav);
        const body = el('div', { class: 'rmain' });
        host.appendChild(body);
        if (data.compare) {
            compareView(body, m);
            toc(nav, 'compare', 'comparison');
        }
        const severalMachines = data.machines.length > 1;
        data.machines.forEach(function (mach, mi) {
            let mhost = body;
            if (severalMachines) {
                const msec = el('section', { class: 'machine', id: 'm' + mi });
                const mm = mach.machine || {};
                msec.appendChild(el('h2', { class: 'mhead' }, 'Machine ' + mach.key + ': ' + (mm.cpu_model || '?') + ', ' + (mm.cores || '?') + ' cores, ' +
                    (mm.kernel || '')));
                body.appendChild(msec);
                mhost = msec;
                toc(nav, 'm' + mi, mach.key);
            }
            data.docs.forEach(function (d, di) {
                if (d.machine !== mi) return;
                const dsec = el('section', { class: 'doc', id: 'd' + di });
                dsec.appendChild(el('h2', { class: 'dhead' }, d.name + ' '));
                dsec.firstChild.appendChild(el('span', { class: 'note' }, d.schema));
                mhost.appendChild(dsec);
                if (!severalMachines) toc(nav, 'd' + di, d.name);
                if (d.kind === 'bench') benchView(dsec, m, di);
                else if (d.kind === 'run') runView(dsec, m, di);
                else raceView(dsec, m, di);
            });
        });
        acrossMachines(body, m);
        if (document.getElementById('machines')) toc(nav, 'machines', 'across machines');
        const foot = el('footer', null, 'heaplab report, written by heaplab ' + ((data.tool && data.tool.version) || '') +
            ': ' + data.command + '. Charts by uPlot (MIT). The results files hold every run; this page holds medians, ranges and one RSS series per cell.');
        host.appendChild(foot);
        return m;
    }

    HL.Report = { show: show, label: label };
})(window.HL = window.HL || {});
