/*
 * hmap.js: what the two views of real allocators' heap maps share (the report's "Inside the
 * allocators", rinside.js, and `heaplab serve`'s real view, real.js): reading the cells'
 * run-length text, merging squares to a coarser common scale, and telling the kinds of
 * mapping apart (docs/inside.md, "Kinds of mapping").
 *
 * Cells (heaplab.rle/1): `([0-9]*)([A-Ia-ip-x])`, the letter's base the residency (A not
 * resident, a resident, p unknown), its offset the live bucket (0 none, 1-8 eighths live).
 * The report's text also has `N-`: N cells not resident with nothing live, folded.
 */
(function (HL) {
    'use strict';

    /* "3a12iA40-" -> [{n: 3, l: 'a'}, {n: 12, l: 'i'}, {n: 1, l: 'A'}, {n: 40, l: '-'}]. */
    function runs(text) {
        const out = [];
        const re = /(\d*)([A-Ia-ip-x-])/g;
        let m;
        while ((m = re.exec(text)) !== null) out.push({ n: m[1] ? Number(m[1]) : 1, l: m[2] });
        return out;
    }

    /* A letter as {res: 0 not resident, 1 resident, 2 unknown; bucket: 0-8}. */
    function letterOf(l) {
        const c = l.charCodeAt(0);
        const base = c >= 112 ? 112 : c >= 97 ? 97 : 65;
        return { res: base === 65 ? 0 : base === 97 ? 1 : 2, bucket: c - base };
    }

    function letter(res, bucket) {
        return String.fromCharCode((res === 0 ? 65 : res === 1 ? 97 : 112) + bucket);
    }

    /*
     * Squares of `k` squares each (the rules of src/report/inside.c's fold): resident when
     * at least half are, unknown when any is, the bucket the mean of theirs rounded up; a
     * fold ('-') ends a square and stays as it is. Runs in, runs out.
     */
    function merge(list, k) {
        if (k <= 1) return list;
        const out = [];
        const push = function (l, n) {
            const last = out[out.length - 1];
            if (last && last.l === l && l !== '-') last.n += n;
            else out.push({ n: n, l: l });
        };
        let q = { n: 0, res: 0, unknown: 0, live: 0 };
        const done = function () {
            if (!q.n) return;
            const res = q.unknown ? 2 : q.res * 2 >= q.n ? 1 : 0;
            push(letter(res, Math.ceil(q.live / q.n)), 1);
            q = { n: 0, res: 0, unknown: 0, live: 0 };
        };
        list.forEach(function (r) {
            if (r.l === '-') {
                done();
                push('-', r.n);
                return;
            }
            let n = r.n;
            const x = letterOf(r.l);
            if (q.n === 0 && n >= k) { /* whole squares of one letter */
                push(r.l, Math.floor(n / k));
                n %= k;
            }
            while (n > 0) {
                const take = Math.min(n, k - q.n);
                q.n += take;
                q.res += x.res === 1 ? take : 0;
                q.unknown += x.res === 2 ? take : 0;
                q.live += x.bucket * take;
                n -= take;
                if (q.n === k) done();
            }
        });
        done();
        return out;
    }

    /* ---- kinds of mapping ---------------------------------------------------------- */

    /* glibc's arenas other than the main one are heaps it maps aligned to HEAP_MAX_SIZE
     * (64 MiB on 64-bit: 2 × the largest mmap threshold), the rest of the 64 MiB reserved. */
    const GLIBC_HEAP_ALIGN = BigInt(64 << 20);

    /* What each allocator calls the mappings it makes for its heap. */
    const OWN_WORD = {
        jemalloc: 'extents (arena memory)',
        tcmalloc: 'spans (page heap)',
        mimalloc: 'segments',
        hlmalloc: 'segments',
    };

    /* Kinds as drawn, in the legend's order: colour, and what the legend says. */
    const KINDS = {
        brk: { colour: '#4e9ce0', text: 'brk heap ([heap]: glibc\'s main arena, tcmalloc\'s first spans)' },
        arena: { colour: '#2cc4b8', text: 'glibc arena (a 64 MiB-aligned heap of a thread\'s arena)' },
        segment: { colour: '#9aa4b2', text: 'the allocator\'s mappings: jemalloc extents, tcmalloc spans, mimalloc and hlmalloc segments' },
        mmap: { colour: '#6f7de8', text: 'glibc mmapped chunks (large blocks, each its own mapping, merged by the kernel)' },
        huge: { colour: '#d55fd0', text: 'huge: one object is at least half of it' },
        reserved: { colour: '#a0743a', text: 'reserved (no access)' },
    };

    function aligned(addr, to) {
        try {
            return BigInt(addr) % to === 0n;
        } catch (e) {
            return false;
        }
    }

    /*
     * The kind of region r ({addr: hex text, bytes, kind: brk | anon | reserved as the
     * results have it, largest: its largest live object's bytes}) of `allocator`'s heap.
     */
    function kindOf(allocator, r) {
        if (r.kind === 'brk' || r.kind === 'reserved') return r.kind;
        if (r.largest > 0 && 2 * r.largest >= r.bytes) return 'huge';
        if (allocator !== 'glibc') return 'segment';
        return aligned(r.addr, GLIBC_HEAP_ALIGN) ? 'arena' : 'mmap';
    }

    /* The words for kind `k` of `allocator`'s region: "brk heap", "mimalloc segments", ... */
    function kindName(allocator, k) {
        if (k === 'brk') return 'brk heap';
        if (k === 'arena') return 'glibc arena';
        if (k === 'mmap') return 'mmapped chunks';
        if (k === 'huge') return 'huge block';
        if (k === 'reserved') return 'reserved';
        return OWN_WORD[allocator] ? OWN_WORD[allocator].split(' (')[0] : 'anonymous mapping';
    }

    /* Whether a region of kind k, `rows` rows of squares tall, gets a line naming it: one
     * of two rows or more, and every brk heap, arena and huge block (the layout reads from
     * those); a small one has only its strip. */
    function labelled(k, rows) {
        return rows >= 2 || k === 'brk' || k === 'arena' || k === 'huge';
    }

    /* The legend of the kinds: a span of `cls` per kind with a swatch of class `swCls`. */
    function kindLegend(host, cls, swCls) {
        Object.keys(KINDS).forEach(function (k) {
            const s = HL.el('span', { class: cls, 'data-kind': k });
            const sw = HL.el(swCls === 'i' ? 'i' : 'span', swCls === 'i' ? null : { class: swCls });
            sw.style.background = KINDS[k].colour;
            s.appendChild(sw);
            s.appendChild(document.createTextNode(KINDS[k].text));
            host.appendChild(s);
        });
    }

    HL.hmap = { runs: runs, letterOf: letterOf, merge: merge, kindOf: kindOf, kindName: kindName, labelled: labelled, KINDS: KINDS, kindLegend: kindLegend };
})(window.HL = window.HL || {});
