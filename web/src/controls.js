/*
 * controls.js: the start form (filled from /api/meta), its checks, trace uploads, and the
 * page state in the URL: workload or trace, seed, ops, arena, allocators, tick_every, speed,
 * overlay; `run=1` starts the race as soon as the page is ready.
 */
(function (HL) {
    'use strict';

    const $ = function (id) {
        return document.getElementById(id);
    };
    const KiB = 1024;

    const DEFAULT_LIMITS = {
        ops_max: 2000000,
        arena_min: 64 * KiB,
        arena_max: 256 * KiB * KiB,
        tick_every_min: 50,
        upload_bytes: 64 * KiB * KiB,
        tps_max: 240,
    };
    const DEFAULT_OPS_CAP = 200000; /* as `heaplab race`: the workload's own, at most this */
    const DEFAULT_TICKS = 200;

    function Controls(meta) {
        this.meta = meta;
        this.limits = Object.assign({}, DEFAULT_LIMITS, meta.limits || {});
        this.uploads = [];
        this.fill();
    }

    Controls.prototype.fill = function () {
        const meta = this.meta;
        const wl = $('workload');
        wl.textContent = '';
        (meta.workloads || []).forEach(function (w) {
            const o = HL.el('option', { value: w.name }, w.name);
            o.title = w.summary || '';
            wl.appendChild(o);
        });
        const pick = (meta.workloads || []).find(function (w) {
            return w.name === 'nginx-requests';
        });
        if (pick) wl.value = pick.name;
        this.fillTraces();
        const arena = $('arena');
        arena.textContent = '';
        for (let b = this.limits.arena_min; b <= this.limits.arena_max; b *= 2) {
            const o = HL.el('option', { value: String(b) }, HL.bytes(b));
            arena.appendChild(o);
        }
        arena.value = String(2 * KiB * KiB);
        const box = $('allocators');
        box.textContent = '';
        (meta.lab || []).forEach(function (a) {
            const l = HL.el('label', { title: a.summary || '' });
            const c = HL.el('input', { type: 'checkbox', value: a.name });
            c.checked = !!a.default;
            l.appendChild(c);
            l.appendChild(document.createTextNode(' ' + a.name));
            box.appendChild(l);
        });
        $('speed').max = String(this.limits.tps_max);
        this.syncOps();
    };

    Controls.prototype.fillTraces = function () {
        const tr = $('trace');
        const keep = tr.value;
        tr.textContent = '';
        const all = (this.meta.traces || []).map(function (t) {
            return { value: t.name, label: t.name + ' (' + HL.bytes(t.bytes) + ')' };
        }).concat(this.uploads);
        if (!all.length) tr.appendChild(HL.el('option', { value: '' }, 'none: upload one'));
        all.forEach(function (t) {
            tr.appendChild(HL.el('option', { value: t.value }, t.label));
        });
        if (keep && all.some(function (t) {
            return t.value === keep;
        })) tr.value = keep;
    };

    Controls.prototype.workloadMeta = function (name) {
        return (this.meta.workloads || []).find(function (w) {
            return w.name === name;
        });
    };

    /* The ops box's placeholder: the chosen workload's default, capped. */
    Controls.prototype.syncOps = function () {
        const w = this.workloadMeta($('workload').value);
        const ops = w ? Math.min(w.default_ops || DEFAULT_OPS_CAP, DEFAULT_OPS_CAP, this.limits.ops_max) : DEFAULT_OPS_CAP;
        $('ops').placeholder = String(ops);
    };

    Controls.prototype.srcKind = function () {
        return document.querySelector('input[name="src"]:checked').value;
    };

    function intOf(s) {
        if (s === '' || s === null || s === undefined) return null;
        if (!/^\s*\d+\s*$/.test(String(s))) return NaN;
        return Number(s);
    }

    /*
     * The start message's fields from the form, or throws Error with the line to show.
     */
    Controls.prototype.read = function () {
        const L = this.limits;
        const p = {};
        if (this.srcKind() === 'trace') {
            const t = $('trace').value;
            if (!t) throw new Error('no trace to race: upload one, or pick a workload');
            p.trace = t;
        } else {
            const w = $('workload').value;
            if (!this.workloadMeta(w)) throw new Error('unknown workload "' + w + '"');
            p.workload = w;
        }
        const seed = intOf($('seed').value);
        if (seed === null) p.seed = 1;
        else if (isNaN(seed)) throw new Error('seed: a whole number 0 or more, not "' + $('seed').value + '"');
        else p.seed = seed;
        let ops = intOf($('ops').value);
        if (ops === null) ops = Number($('ops').placeholder);
        if (isNaN(ops) || ops < 1 || ops > L.ops_max) {
            throw new Error('ops: 1 to ' + HL.num(L.ops_max) + ', not "' + $('ops').value + '"');
        }
        p.ops = ops;
        const arena = Number($('arena').value);
        if (!HL.isPow2(arena) || arena < L.arena_min || arena > L.arena_max) {
            throw new Error('arena: a power of two from ' + HL.bytes(L.arena_min) + ' to ' + HL.bytes(L.arena_max));
        }
        p.arena = arena;
        const allocs = Array.from(document.querySelectorAll('#allocators input:checked')).map(function (c) {
            return c.value;
        });
        if (!allocs.length) throw new Error('pick at least one allocator');
        p.allocators = allocs;
        let every = intOf($('tick_every').value);
        if (every === null) every = Math.max(L.tick_every_min, Math.ceil(ops / DEFAULT_TICKS));
        if (isNaN(every) || every < L.tick_every_min) {
            throw new Error('tick every: at least ' + L.tick_every_min + ' ops, not "' + $('tick_every').value + '"');
        }
        p.tick_every = every;
        p.tps = Number($('speed').value);
        return p;
    };

    /* The page state in the URL (replaceState: no history entry per change). */
    Controls.prototype.writeUrl = function (p, overlay) {
        const q = new URLSearchParams();
        if (p.trace) q.set('trace', p.trace);
        else q.set('workload', p.workload);
        q.set('seed', String(p.seed));
        q.set('ops', String(p.ops));
        q.set('arena', String(p.arena));
        q.set('allocators', p.allocators.join(','));
        q.set('tick_every', String(p.tick_every));
        q.set('speed', String(p.tps));
        if (overlay && overlay !== 'kind') q.set('overlay', overlay);
        history.replaceState(null, '', '?' + q.toString());
    };

    /*
     * Fills the form from the URL. Returns {run, overlay}. A value that fits no field is
     * kept as typed so that read() names it.
     */
    Controls.prototype.readUrl = function () {
        const q = new URLSearchParams(window.location.search);
        if (q.has('workload')) {
            const w = q.get('workload');
            const sel = $('workload');
            if (!this.workloadMeta(w)) sel.appendChild(HL.el('option', { value: w }, w + ' (unknown)'));
            sel.value = w;
            this.syncOps();
        }
        if (q.has('trace')) {
            const t = q.get('trace');
            const sel = $('trace');
            if (!Array.from(sel.options).some(function (o) {
                return o.value === t;
            })) sel.appendChild(HL.el('option', { value: t }, t));
            sel.value = t;
            document.querySelector('input[name="src"][value="trace"]').checked = true;
        }
        ['seed', 'ops', 'tick_every'].forEach(function (k) {
            if (q.has(k)) $(k).value = q.get(k);
        });
        if (q.has('arena')) {
            const sel = $('arena');
            const v = q.get('arena');
            if (!Array.from(sel.options).some(function (o) {
                return o.value === v;
            })) sel.appendChild(HL.el('option', { value: v }, v + ' B'));
            sel.value = v;
        }
        if (q.has('allocators')) {
            const want = q.get('allocators').split(',').filter(Boolean);
            const box = $('allocators');
            box.querySelectorAll('input').forEach(function (c) {
                c.checked = want.indexOf(c.value) >= 0;
            });
            want.forEach(function (n) { /* unknown ones stay visible, for the server to refuse */
                if (!box.querySelector('input[value="' + CSS.escape(n) + '"]')) {
                    const l = HL.el('label');
                    const c = HL.el('input', { type: 'checkbox', value: n });
                    c.checked = true;
                    l.appendChild(c);
                    l.appendChild(document.createTextNode(' ' + n));
                    box.appendChild(l);
                }
            });
        }
        if (q.has('speed')) {
            const s = intOf(q.get('speed'));
            if (!isNaN(s) && s !== null) $('speed').value = String(Math.min(s, this.limits.tps_max));
        }
        return { run: q.get('run') === '1', overlay: q.get('overlay') || 'kind' };
    };

    /* POST the file to /api/traces; resolves to the new trace id, rejects with a line. */
    Controls.prototype.upload = function (file) {
        const self = this;
        if (file.size > this.limits.upload_bytes) {
            return Promise.reject(new Error(file.name + ': ' + HL.bytes(file.size) + ', more than the ' +
                HL.bytes(this.limits.upload_bytes) + ' an upload may have'));
        }
        return fetch('api/traces?name=' + encodeURIComponent(file.name), { method: 'POST', body: file })
            .then(function (r) {
                return r.json().catch(function () {
                    return {};
                }).then(function (j) {
                    if (!r.ok) throw new Error(file.name + ': ' + (j.error || 'upload refused (HTTP ' + r.status + ')'));
                    return j;
                });
            })
            .then(function (j) {
                self.uploads.push({
                    value: j.trace,
                    label: file.name + ' (' + HL.num(j.events) + ' events' + (j.damage ? ', damaged' : '') + ')',
                });
                self.fillTraces();
                $('trace').value = j.trace;
                document.querySelector('input[name="src"][value="trace"]').checked = true;
                return j.trace;
            });
    };

    HL.Controls = Controls;
})(window.HL = window.HL || {});
