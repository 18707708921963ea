/*
 * charts.js: the lines over ops (uPlot: one chart per metric, one series per lane, a marker
 * at the tick shown) and the per-lane latency histogram (a small canvas: log2 buckets of
 * per-call ns, malloc above the axis, free below).
 */
(function (HL) {
    'use strict';

    const LANE_COLOURS = ['#4e9ce0', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7'];
    HL.laneColour = function (i) {
        return LANE_COLOURS[i % LANE_COLOURS.length];
    };

    function axisStyle(fmt) {
        return {
            stroke: '#9aa4b2',
            grid: { stroke: '#2a3140', width: 1 },
            ticks: { stroke: '#2a3140', width: 1 },
            values: fmt ? function (u, vals) {
                return vals.map(fmt);
            } : undefined,
            size: 74,
        };
    }

    /* A uPlot chart of one lane field over ops. field: a lane key; fmt: value -> text. */
    function LineChart(host, field, fmt) {
        this.host = host;
        this.field = field;
        this.fmt = fmt;
        this.plot = null;
        this.markerOp = null;
    }

    LineChart.prototype.reset = function (names) {
        if (this.plot) this.plot.destroy();
        const self = this;
        const series = [{ label: 'op' }];
        names.forEach(function (n, i) {
            series.push({
                label: n,
                stroke: HL.laneColour(i),
                width: 1.5,
                points: { show: false },
                value: function (u, v) {
                    return v === null || v === undefined ? '–' : self.fmt(v);
                },
            });
        });
        const width = Math.max(240, this.host.clientWidth || 360);
        this.plot = new uPlot({
            width: width,
            height: 170,
            legend: { show: true, live: true },
            cursor: { drag: { x: false, y: false } },
            scales: { x: { time: false } },
            axes: [axisStyle(function (v) {
                return v >= 1e6 ? v / 1e6 + 'M' : v >= 1e3 ? v / 1e3 + 'k' : String(v);
            }), axisStyle(this.fmt)],
            series: series,
            hooks: {
                draw: [function (u) {
                    if (self.markerOp === null) return;
                    const x = u.valToPos(self.markerOp, 'x', true);
                    const ctx = u.ctx;
                    ctx.save();
                    ctx.strokeStyle = '#e6e9ef';
                    ctx.setLineDash([4, 4]);
                    ctx.lineWidth = 1;
                    ctx.beginPath();
                    ctx.moveTo(x, u.bbox.top);
                    ctx.lineTo(x, u.bbox.top + u.bbox.height);
                    ctx.stroke();
                    ctx.restore();
                }],
            },
        }, [[]].concat(names.map(function () {
            return [];
        })), this.host);
    };

    /* history: tick messages sorted by tick. */
    LineChart.prototype.update = function (history, markerOp) {
        if (!this.plot) return;
        this.markerOp = markerOp;
        const n = history.length;
        const lanes = this.plot.series.length - 1;
        const xs = new Array(n);
        const ys = [];
        for (let l = 0; l < lanes; l++) ys.push(new Array(n));
        for (let i = 0; i < n; i++) {
            const t = history[i];
            xs[i] = t.op;
            for (let l = 0; l < lanes; l++) {
                const a = t.allocators[l];
                ys[l][i] = a ? a[this.field] : null;
            }
        }
        this.plot.setData([xs].concat(ys));
    };

    LineChart.prototype.resize = function () {
        if (this.plot) this.plot.setSize({ width: Math.max(240, this.host.clientWidth), height: 170 });
    };

    /* ---- latency histogram --------------------------------------------------------- */

    const HIST_BUCKETS = 25; /* 1 ns .. 32 ms; later buckets fold into the last */

    function drawHistogram(canvas, colour, alloc, free, note) {
        const ctx = canvas.getContext('2d');
        const W = canvas.width;
        const H = canvas.height;
        ctx.fillStyle = '#141922';
        ctx.fillRect(0, 0, W, H);
        const mid = Math.round(H / 2);
        ctx.fillStyle = '#2a3140';
        ctx.fillRect(0, mid, W, 1);
        ctx.font = '10px system-ui, sans-serif';
        const lines = [].concat(note || []);
        if (!alloc && !free) {
            ctx.fillStyle = '#7c8696';
            lines.forEach(function (l, i) {
                ctx.fillText(l, 6, 16 + 14 * i);
            });
            return;
        }
        const a = fold(alloc);
        const f = fold(free);
        let max = 1;
        for (let b = 0; b < HIST_BUCKETS; b++) max = Math.max(max, a[b], f[b]);
        const bw = W / HIST_BUCKETS;
        const half = mid - 12;
        for (let b = 0; b < HIST_BUCKETS; b++) {
            /* sqrt scale: rare slow calls stay visible beside the common fast ones */
            const ha = a[b] ? Math.max(1, Math.round(Math.sqrt(a[b] / max) * half)) : 0;
            const hf = f[b] ? Math.max(1, Math.round(Math.sqrt(f[b] / max) * half)) : 0;
            ctx.fillStyle = colour;
            ctx.fillRect(b * bw + 1, mid - ha, bw - 2, ha);
            ctx.fillStyle = '#9aa4b2';
            ctx.fillRect(b * bw + 1, mid + 1, bw - 2, hf);
        }
        ctx.fillStyle = '#7c8696';
        [[0, '1ns'], [10, '1µs'], [20, '1ms']].forEach(function (p) {
            ctx.fillText(p[1], p[0] * bw + 1, H - 2);
        });
        ctx.textAlign = 'right';
        ctx.fillText('malloc ▲  free ▼', W - 2, 10);
        ctx.textAlign = 'left';
    }

    /* {base_ns, counts} -> HIST_BUCKETS counts from 1 ns (bucket b: [2^b, 2^(b+1)) ns). */
    function fold(h) {
        const out = new Array(HIST_BUCKETS).fill(0);
        if (!h || !h.counts) return out;
        const shift = Math.round(Math.log2(h.base_ns || 1));
        for (let i = 0; i < h.counts.length; i++) {
            const b = Math.max(0, Math.min(HIST_BUCKETS - 1, i + shift));
            out[b] += h.counts[i];
        }
        return out;
    }

    HL.LineChart = LineChart;
    HL.drawHistogram = drawHistogram;
})(window.HL = window.HL || {});
