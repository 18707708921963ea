/*
 * util.js: the namespace every viewer script attaches to, and small helpers.
 * The viewer is plain scripts (no modules), loaded in the order of web/manifest.txt, each
 * adding to `window.HL`, so `heaplab report` can inline them into one file in that order.
 */
(function (HL) {
    'use strict';

    /* A minimal event emitter: sources and views talk through it. */
    function Emitter() {
        this.handlers = {};
    }
    Emitter.prototype.on = function (type, fn) {
        (this.handlers[type] = this.handlers[type] || []).push(fn);
        return this;
    };
    Emitter.prototype.emit = function (type, msg) {
        const list = this.handlers[type];
        if (!list) return;
        for (let i = 0; i < list.length; i++) list[i](msg);
    };
    HL.Emitter = Emitter;

    HL.el = function (tag, attrs, text) {
        const e = document.createElement(tag);
        if (attrs) {
            for (const k of Object.keys(attrs)) {
                if (k === 'class') e.className = attrs[k];
                else e.setAttribute(k, attrs[k]);
            }
        }
        if (text !== undefined) e.textContent = text;
        return e;
    };

    /* 1536 -> "1.5 KiB"; exact below 1 KiB. */
    HL.bytes = function (n) {
        if (n === undefined || n === null || isNaN(n)) return '–';
        const units = ['B', 'KiB', 'MiB', 'GiB'];
        let u = 0;
        let v = n;
        while (Math.abs(v) >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        if (u === 0) return String(v) + ' B';
        return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ' + units[u];
    };

    HL.ns = function (n) {
        if (n === undefined || n === null || isNaN(n)) return '–';
        if (n < 1000) return Math.round(n) + ' ns';
        if (n < 1e6) return (n / 1e3).toFixed(n < 1e4 ? 2 : 1) + ' µs';
        return (n / 1e6).toFixed(2) + ' ms';
    };

    HL.num = function (n) {
        if (n === undefined || n === null || isNaN(n)) return '–';
        return Math.round(n).toLocaleString('en-US');
    };

    HL.frac = function (x) {
        if (x === undefined || x === null || isNaN(x)) return '–';
        return x.toFixed(3);
    };

    /* The canvas shape for a map of `cells` cells: power-of-two sides, square or 2:1. */
    HL.mapShape = function (cells) {
        let w = 1;
        while (w * w < cells) w *= 2;
        const h = Math.max(1, Math.ceil(cells / w));
        return { w: w, h: h };
    };

    HL.isPow2 = function (n) {
        return Number.isInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
    };
})(window.HL = window.HL || {});
