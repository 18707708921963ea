/*
 * main.js: the last script. Picks the data source and wires the page:
 *   - results inlined in the page (<script type="application/json" id="heaplab-results">,
 *     a heaplab.report/1 document): the report views (report.js), no viewer. `heaplab
 *     report`.
 *   - a tick file inlined in the page (<script type="application/x-heaplab-ticks"
 *     id="heaplab-ticks">, its text the tick file, "</" written "<\/"): the offline source,
 *     shown at its last tick (data-at="start" plays it from the start). `heaplab report`.
 *   - else, over http(s): /api/meta, then the WebSocket of `heaplab serve` (mode "ticks":
 *     the server plays its tick file; no race can be started).
 *   - else (a file opened as is): only "open a tick file".
 * HL.app holds what the tests and a person's console may want: viewer, source, controls.
 */
(function (HL) {
    'use strict';

    const $ = function (id) {
        return document.getElementById(id);
    };

    const app = {
        viewer: null,
        source: null,
        controls: null,
        last: null, /* the last start message's fields */
        urlChanged: function () {
            if (app.controls && app.last) {
                app.last.tps = Number($('speed').value);
                app.controls.writeUrl(app.last, app.viewer.mode);
            }
        },
    };
    HL.app = app;

    function offline(text, at) {
        let src;
        try {
            src = new HL.OfflineSource({ data: text, at: at, tps: Number($('speed').value) || 30 });
        } catch (e) {
            HL.showError(e.message);
            return;
        }
        app.source = src;
        app.viewer.attach(src);
        $('controls').classList.add('offline');
        document.querySelector('h1 .sub').textContent = 'a recorded race';
        src.begin();
    }

    function live(meta) {
        app.controls = new HL.Controls(meta);
        const src = new HL.LiveSource({ mode: meta.mode });
        app.source = src;
        app.viewer.attach(src);
        const form = $('controls');
        if (meta.mode === 'ticks') {
            form.classList.add('offline');
            $('status').textContent = 'playing a tick file';
        }
        const opts = app.controls.readUrl();
        const sp = $('speed').value;
        $('speed_out').textContent = sp === '0' ? 'as fast as it goes' : sp + ' ticks/s';
        $('workload').addEventListener('change', function () {
            app.controls.syncOps();
            document.querySelector('input[name="src"][value="workload"]').checked = true;
        });
        $('trace').addEventListener('change', function () {
            document.querySelector('input[name="src"][value="trace"]').checked = true;
        });
        $('upload').addEventListener('change', function () {
            const f = this.files[0];
            if (!f) return;
            HL.clearError();
            app.controls.upload(f).catch(function (e) {
                HL.showError(e.message);
            });
            this.value = '';
        });
        form.addEventListener('submit', function (ev) {
            ev.preventDefault();
            start();
        });
        if (opts.overlay !== 'kind') {
            app.viewer.setMode(opts.overlay);
            src.overlay(opts.overlay);
        }
        if (opts.run && meta.mode !== 'ticks') start();
    }

    function start() {
        let p;
        try {
            p = app.controls.read();
        } catch (e) {
            HL.showError(e.message);
            return;
        }
        HL.clearError();
        app.last = p;
        app.controls.writeUrl(p, app.viewer.mode);
        app.source.start(p);
        if (app.viewer.mode !== 'kind') app.source.overlay(app.viewer.mode);
    }

    /* The data of `heaplab report` (<script type="application/json" id="heaplab-results">):
     * the report views (report.js) instead of the live ones. */
    function report(blob) {
        const host = $('report');
        try {
            app.report = HL.Report.show(JSON.parse(blob.textContent), host);
        } catch (e) {
            host.textContent = '';
            const err = HL.el('div', { class: 'error', role: 'alert' }, 'this report cannot be shown: ' + e.message);
            host.appendChild(err);
            app.reportError = e.message;
        }
    }

    function boot() {
        const results = $('heaplab-results');
        if (results) {
            report(results);
            return;
        }
        app.viewer = new HL.Viewer();
        $('open_ticks').addEventListener('change', function () {
            const f = this.files[0];
            if (!f) return;
            HL.clearError();
            f.text().then(function (t) {
                offline(t, 'start');
            }, function (e) {
                HL.showError(f.name + ': ' + e.message);
            });
            this.value = '';
        });
        const blob = $('heaplab-ticks');
        if (blob) {
            offline(blob.textContent, blob.getAttribute('data-at') || 'end');
            return;
        }
        if (!/^https?:$/.test(window.location.protocol)) {
            $('controls').classList.add('offline');
            $('status').textContent = 'no server: open a tick file';
            return;
        }
        fetch('api/meta').then(function (r) {
            if (!r.ok) throw new Error('HTTP ' + r.status);
            return r.json();
        }).then(function (meta) {
            if (!/^heaplab\.serve\/1$/.test(meta.schema || '')) {
                throw new Error('schema "' + meta.schema + '", this viewer reads heaplab.serve/1');
            }
            if (HL.Real && HL.Real.wanted()) HL.Real.boot(meta); /* view=real: real.js */
            else live(meta);
        }).catch(function (e) {
            $('controls').classList.add('offline');
            HL.showError('no heaplab server answered api/meta (' + e.message + '): open a tick file instead');
        });
    }

    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
    else boot();
})(window.HL = window.HL || {});
