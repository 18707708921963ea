// web/test/report.mjs: `heaplab report` pages in Chromium, opened from file:// with every
// request that is not the file refused. A small real bench run (3 workloads, 3 allocators,
// 1 and 2 threads, 3 repetitions): every chart has drawn its series (pixels of each
// series' colour on its canvas), the summary has a row per (workload, threads) with the
// winners the data gives, the why lines are the data's, a table sorts by a heading, the
// thread buttons redraw their sections, nothing left the file, no console errors. Then two
// files (compare's synthetic pair: a known regression and improvement) as the comparison's
// chart and tables, a merged set of two machines grouped by machine, and data of a newer
// schema refused with one line. Inside the allocators (bench --heapmap --alloc-stats
// --os-calls of known-live and fragmentation): the full squares of known-live's maps counted in
// pixels at two marks of the slider, the statistics and OS calls tables the results', the fill
// bars drawn. Screenshots: OUT/web-report-bench.png (the whole page),
// OUT/web-report-bench-top.png, OUT/web-report-compare.png, OUT/web-report-machines.png,
// OUT/web-report-inside.png, OUT/web-report-inside-known-live.png.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { args, Checks, launch, until, watchConsole } from './lib.mjs';

const a = args();
const c = new Checks();
const here = dirname(fileURLToPath(import.meta.url));
const synth = join(here, '..', '..', 'tests', 'cli', 'synth_results.py');
const tmp = mkdtempSync(join(tmpdir(), 'heaplab-report-'));
const run = (argv) => execFileSync(a.heaplab, argv, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

const ALLOCS = ['glibc', 'jemalloc', 'hlmalloc'];
const WLS = ['small', 'bulk', 'fragmentation'];
run(['bench', '-w', WLS.join(','), '-a', ALLOCS.join(','), '-t', '1,2', '-r', '3', '-n', '20k',
    '--json', join(tmp, 'b.json'), '-q']);
const page1 = join(a.out, 'web-report-test-bench.html');
run(['report', join(tmp, 'b.json'), '-o', page1]);
const results = JSON.parse(readFileSync(join(tmp, 'b.json'), 'utf8'));

const { ctx, close } = await launch(a);

// Opens a page from file:// with everything else refused; its errors and refused requests.
async function open(file) {
    const page = await ctx.newPage();
    const errors = [];
    const outside = [];
    watchConsole(page, errors);
    await page.route('**/*', (route) => {
        const u = route.request().url();
        if (u.startsWith('file:') || u.startsWith('data:')) return route.continue();
        outside.push(u);
        return route.abort();
    });
    await page.goto(pathToFileURL(file).href);
    await until(() => page.evaluate(() => !!(window.HL && HL.app && (HL.app.report || HL.app.reportError))));
    return { page, errors, outside };
}

// For every chart: how many pixels of each of its series' colours it has (within a small
// distance, for antialiasing), and its size.
function drawnColours(page) {
    return page.evaluate(() => HL.rcharts.all.map((ch) => {
        const cv = ch.canvas;
        const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        const want = (ch.colours || []).map((h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]);
        const hits = want.map(() => 0);
        let painted = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] === 0) continue;
            painted++;
            for (let k = 0; k < want.length; k++) {
                const w = want[k];
                if (Math.abs(d[i] - w[0]) + Math.abs(d[i + 1] - w[1]) + Math.abs(d[i + 2] - w[2]) < 30) hits[k]++;
            }
        }
        const title = ch.host.closest('.rpanel') ? ch.host.closest('.rpanel').querySelector('h4').textContent : ch.kind;
        const section = ch.host.closest('section.rsec') ? ch.host.closest('section.rsec').id : '';
        return { kind: ch.kind, title, section, colours: ch.colours, any: !!ch.any, hits, painted, w: cv.width, h: cv.height };
    }));
}

function checkDrawn(list, what) {
    c.ok(`${what}: charts registered`, list.length > 0, list.length);
    for (const ch of list) {
        const name = `${what}: ${ch.section} ${ch.kind} "${ch.title}"`;
        c.ok(`${name} has a size`, ch.w > 100 && ch.h > 100, { w: ch.w, h: ch.h });
        c.ok(`${name} knows its series' colours`, ch.colours && ch.colours.length > 0, ch.colours);
        if (ch.any) c.ok(`${name}: its series drawn`, ch.hits.some((n) => n >= 3), ch.hits);
        else ch.hits.forEach((n, k) => c.ok(`${name}: colour ${ch.colours[k]} drawn`, n >= 3, n));
    }
}

// ---- one bench file -----------------------------------------------------------------------
{
    const { page, errors, outside } = await open(page1);
    await page.screenshot({ path: join(a.out, 'web-report-bench-top.png') });
    await page.screenshot({ path: join(a.out, 'web-report-bench.png'), fullPage: true });
    const err = await page.evaluate(() => HL.app.reportError || null);
    c.ok('the report is shown', err === null, err);
    const list = await drawnColours(page);
    checkDrawn(list, 'bench');
    const sections = new Set(list.map((x) => x.section));
    for (const s of ['d0-scaling', 'd0-rss', 'd0-latency', 'd0-bars']) c.ok(`charts in ${s}`, sections.has(s), [...sections]);
    c.ok('a scaling chart per workload', list.filter((x) => x.section === 'd0-scaling').length === WLS.length);
    const data0 = await page.evaluate(() => HL.app.report.data);
    const rssWant = (t) => WLS.filter((w) => data0.cells.some((x) => x.workload === w && x.threads === t &&
        ((x.rss && x.rss.t_ms.length) || (x.marks || []).some((m) => m.thread === 0)))).length;
    c.ok('an RSS chart per workload with readings', list.filter((x) => x.section === 'd0-rss').length === rssWant(1));
    c.ok('a latency chart per workload', list.filter((x) => x.section === 'd0-latency').length === WLS.length);
    c.ok('four bar charts', list.filter((x) => x.section === 'd0-bars').length === 4);

    // The summary: a row per (workload, threads), its fastest the data's.
    const rows = await page.evaluate(() => Array.from(document.querySelectorAll('#d0-summary-table tbody tr[data-key]')).map((tr) => ({
        key: tr.getAttribute('data-key'),
        cells: Array.from(tr.children).map((td) => td.textContent),
        why: tr.nextElementSibling && tr.nextElementSibling.classList.contains('sub') ? tr.nextElementSibling.textContent : null,
    })));
    c.ok('a summary row per (workload, threads)', rows.length === WLS.length * 2, rows.length);
    for (const r of rows) {
        const [w, t] = r.key.split('|');
        let best = null;
        for (const cell of results.results) {
            if (cell.workload !== w || String(cell.threads) !== t || cell.status !== 'ok') continue;
            const v = cell.runs.filter((x) => x.status === 'ok').map((x) => x.ops_per_sec).sort((p, q) => p - q);
            const med = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
            if (!best || med > best.med) best = { a: cell.allocator, med };
        }
        c.ok(`summary ${r.key}: the fastest is the data's (${best.a})`, r.cells[2].startsWith(best.a + ' '), r.cells[2]);
    }
    const data = await page.evaluate(() => HL.app.report.data);
    const whys = data.why.map((x) => x.text);
    const shown = rows.filter((r) => r.why).map((r) => r.why.replace(/^why: /, ''));
    c.ok('every why line of the data is under its row, and no other', JSON.stringify(shown.sort()) === JSON.stringify(whys.slice().sort()), { shown, whys });
    for (const al of ALLOCS) c.ok(`allocator ${al} in the legend`, await page.locator(`.rlegend :text("${al}")`).count() > 0);

    // A table sorts by a heading, and back.
    const col = async () => page.evaluate(() => Array.from(document.querySelectorAll('#d0-table-ops_per_sec tbody tr')).map((tr) => Number(tr.children[2].getAttribute('data-v'))));
    await page.click('#d0-table-ops_per_sec thead th:nth-child(3)');
    const up = await col();
    c.ok('the throughput table sorts by glibc, ascending', up.every((v, i) => i === 0 || v >= up[i - 1]), up);
    await page.click('#d0-table-ops_per_sec thead th:nth-child(3)');
    const down = await col();
    c.ok('again: descending', down.every((v, i) => i === 0 || v <= down[i - 1]), down);


    // The thread buttons redraw their section at 2 threads.
    await page.click('#d0-rss .rpick button[data-threads="2"]');
    await page.click('#d0-bars .rpick button[data-threads="2"]');
    const list2 = await drawnColours(page);
    checkDrawn(list2.filter((x) => x.section === 'd0-rss' || x.section === 'd0-bars'), 'bench, 2 threads');
    c.ok('RSS at 2 threads: a chart per workload with readings', list2.filter((x) => x.section === 'd0-rss').length === rssWant(2));
    c.ok('no request left the file (bench)', outside.length === 0, outside);
    c.ok('no console errors (bench)', errors.length === 0, errors);
    await page.close();
}

// ---- inside the allocators: heap maps, statistics, OS calls ----------------------------------
// known-live at "holes": every other one of N page-aligned 4096-byte blocks is live, each on
// a page of its own, so each map has exactly live / 4096 full squares (the darkest green) and
// none partly live; at "filled" twice as many. Counted in the canvases' pixels.
{
    const IN_WLS = ['known-live', 'fragmentation'];
    run(['bench', '-w', IN_WLS.join(','), '-a', ALLOCS.join(','), '-t', '1', '-r', '1', '-n', '3000',
        '--heapmap', '--alloc-stats', '--os-calls', '--json', join(tmp, 'in.json'), '-q']);
    const file = join(a.out, 'web-report-test-inside.html');
    run(['report', join(tmp, 'in.json'), '-o', file]);
    const inside = JSON.parse(readFileSync(join(tmp, 'in.json'), 'utf8'));
    const { page, errors, outside } = await open(file);
    const maps = () => page.evaluate(() => {
        const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
        const count = (cv, rgb) => {
            const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n++;
            return n;
        };
        return HL.rcharts.all.filter((ch) => ch.kind === 'heapmap').map((ch) => ({
            allocator: ch.allocator, label: ch.label, ops: ch.ops, px: ch.px, squares: ch.squares,
            full: count(ch.canvas, hex(HL.rinside.RESIDENT[8])),
            sparse: [1, 2, 3, 4].reduce((n, b) => n + count(ch.canvas, hex(HL.rinside.RESIDENT[b])), 0),
        }));
    });
    const livePages = (al, label) => {
        const cell = inside.results.find((x) => x.workload === 'known-live' && x.allocator === al);
        return cell.heapmap.snapshots.find((s) => s.label === label).live_bytes / 4096;
    };
    c.ok('inside: a workload button each', (await page.locator('#d0-inside button[data-workload]').count()) === IN_WLS.length);
    let m = await maps();
    c.ok('inside: a map per allocator at "holes"', m.length === ALLOCS.length && m.every((x) => x.label === 'holes'), m);
    for (const x of m) {
        const want = livePages(x.allocator, 'holes');
        c.ok(`inside: ${x.allocator} at holes: ${want} full squares drawn`, x.full === want * x.px * x.px && want > 500, { full: x.full, px: x.px, want });
        c.ok(`inside: ${x.allocator} at holes: no square partly live`, x.sparse === 0, x.sparse);
    }
    await page.addStyleTag({ content: 'body.report .top { position: static; }' }); /* off the screenshots */
    await page.locator('#d0-inside').screenshot({ path: join(a.out, 'web-report-inside-known-live.png') });
    // The slider to "filled": every block live, twice the full squares.
    const filled = inside.results[0].heapmap.snapshots.findIndex((s) => s.label === 'filled');
    await page.evaluate((k) => {
        const sl = document.querySelector('#d0-inside-slider');
        sl.value = String(k);
        sl.dispatchEvent(new Event('input'));
    }, filled);
    m = await maps();
    c.ok('inside: the slider moved the maps to "filled"', m.length === ALLOCS.length && m.every((x) => x.label === 'filled'), m.map((x) => x.label));
    for (const x of m) {
        const want = livePages(x.allocator, 'filled');
        c.ok(`inside: ${x.allocator} at filled: ${want} full squares`, x.full === want * x.px * x.px && want === 2 * livePages(x.allocator, 'holes'), { full: x.full, want });
    }
    // The statistics table at "filled": the results' bytes, "not exposed" for null.
    const stats = await page.evaluate(() => Array.from(document.querySelectorAll('#d0-inside-stats tbody tr')).map((tr) => ({
        key: tr.getAttribute('data-key'), cells: Array.from(tr.children).map((td) => ({ text: td.textContent, title: td.title })),
    })));
    for (const [i, al] of ALLOCS.entries()) {
        const snap = inside.results.find((x) => x.workload === 'known-live' && x.allocator === al).alloc_stats.snapshots.find((s) => s.label === 'filled');
        for (const f of ['allocated_bytes', 'active_bytes', 'metadata_bytes', 'thread_cache_bytes']) {
            const row = stats.find((r) => r.key === f);
            const cell = row && row.cells[i + 1];
            const ok = snap[f] === null ? cell.text === 'not exposed' : cell.title === `${snap[f]} B`;
            c.ok(`inside: stats ${f} of ${al} is the results'`, ok, { cell, want: snap[f] });
        }
    }
    // The OS calls table: each count the results'.
    const os = await page.evaluate(() => Array.from(document.querySelectorAll('#d0-inside-os tbody tr')).map((tr) => Array.from(tr.children).map((td) => td.getAttribute('data-v'))));
    for (const [i, al] of ALLOCS.entries()) {
        const calls = inside.results.find((x) => x.workload === 'known-live' && x.allocator === al).os_calls.calls;
        const row = os.find((r, k) => k === i);
        c.ok(`inside: OS calls of ${al} are the results'`, row && ['mmap', 'munmap', 'mremap', 'madvise', 'brk'].every((k, j) => Number(row[j + 1]) === calls[k].count), { row, calls });
    }
    // fragmentation: its maps and its size classes drawn.
    await page.click('#d0-inside button[data-workload="fragmentation"]');
    m = await maps();
    c.ok('inside: fragmentation\'s maps at holes', m.length === ALLOCS.length && m.every((x) => x.label === 'holes') &&
        m.every((x) => x.sparse > 0), m.map((x) => [x.label, x.sparse]));
    const list = await drawnColours(page);
    checkDrawn(list.filter((x) => x.section === 'd0-inside'), 'inside');
    c.ok('inside: size-class fill bars drawn', list.some((x) => x.kind === 'fills'), list.map((x) => x.kind));
    c.ok('inside: the OS calls\' bars drawn', list.some((x) => x.kind === 'bars' && x.section === 'd0-inside'));
    await page.locator('#d0-inside').screenshot({ path: join(a.out, 'web-report-inside.png') });
    c.ok('no request left the file (inside)', outside.length === 0, outside);
    c.ok('no console errors (inside)', errors.length === 0, errors);
    await page.close();
}

// ---- inside: the kinds of mapping, the 2-thread picker, one common scale ------------------
// Pixels of colour `hex` on each heap map canvas, with what the map registered.
const mapPixels = (page, hexes) => page.evaluate((want) => {
    const rgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
    return HL.rcharts.all.filter((ch) => ch.kind === 'heapmap').map((ch) => {
        const d = ch.canvas.getContext('2d').getImageData(0, 0, ch.canvas.width, ch.canvas.height).data;
        const n = {};
        for (const [name, h] of Object.entries(want)) {
            const w = rgb(h);
            n[name] = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] === w[0] && d[i + 1] === w[1] && d[i + 2] === w[2]) n[name]++;
        }
        return { allocator: ch.allocator, label: ch.label, px: ch.px, sqBytes: ch.sqBytes, regions: ch.regions, n };
    });
}, hexes);
const kindHex = (page) => page.evaluate(() => Object.fromEntries(Object.entries(HL.hmap.KINDS).map(([k, v]) => [k, v.colour])));
{
    // known-live at 1 and 2 threads: the picker has a button per (workload, threads); at 2
    // threads glibc's second thread allocates in an arena of its own.
    run(['bench', '-w', 'known-live', '-a', 'glibc,hlmalloc', '-t', '1,2', '-r', '1', '-n', '3000',
        '--heapmap', '--alloc-stats', '--json', join(tmp, 'in2.json'), '-q']);
    const in2 = JSON.parse(readFileSync(join(tmp, 'in2.json'), 'utf8'));
    const file = join(a.out, 'web-report-test-inside-threads.html');
    run(['report', join(tmp, 'in2.json'), '-o', file]);
    const { page, errors } = await open(file);
    await page.addStyleTag({ content: 'body.report .top { position: static; }' });
    const K = await kindHex(page);
    const full = await page.evaluate(() => HL.rinside.RESIDENT[8]);
    const buttons = await page.$$eval('#d0-inside button[data-workload]', (bs) => bs.map((b) => b.textContent + '|' + b.getAttribute('data-threads')));
    c.ok('inside picker: a button per thread count', JSON.stringify(buttons) === '["known-live 1t|1","known-live 2t|2"]', buttons);
    const live = (t, al) => in2.results.find((x) => x.threads === t && x.allocator === al).heapmap.snapshots.find((s) => s.label === 'holes').live_bytes / 4096;
    for (const t of [1, 2]) {
        await page.click(`#d0-inside button[data-threads="${t}"]`);
        const on = await page.$eval('#d0-inside button.on[data-workload]', (b) => b.getAttribute('data-threads'));
        const m = await mapPixels(page, { full, ...K });
        c.ok(`inside picker ${t}t: that button on, a map per allocator at holes`, on === String(t) && m.length === 2 && m.every((x) => x.label === 'holes'), { on, m: m.map((x) => x.label) });
        for (const x of m) {
            const want = live(t, x.allocator);
            c.ok(`inside picker ${t}t: ${x.allocator}'s full squares are the ${t}-thread run's (${want})`, x.n.full === want * x.px * x.px, { got: x.n.full / (x.px * x.px), want });
        }
        const g = m.find((x) => x.allocator === 'glibc');
        const h = m.find((x) => x.allocator === 'hlmalloc');
        c.ok(`kinds ${t}t: glibc's brk heap drawn and named`, g.n.brk > 0 && g.regions.some((r) => r.kind === 'brk' && r.labelled && r.name === 'brk heap'), g.regions);
        c.ok(`kinds ${t}t: hlmalloc's segments drawn and named`, h.n.segment > 0 && h.regions.some((r) => r.kind === 'segment' && r.name === 'segments' && r.labelled), h.regions);
        if (t === 2) c.ok('kinds 2t: glibc\'s thread arena drawn and named', g.n.arena > 0 && g.regions.some((r) => r.kind === 'arena' && r.name === 'glibc arena'), g.regions);
        else c.ok('kinds 1t: no arena in glibc', g.n.arena === 0, g.n);
    }
    // HL.hmap.merge merges squares as src/report/inside.c folds cells (tests/unit/report/
    // test_inside.c's cases): residency by half, unknown wins, the bucket's mean rounded up.
    const merged = await page.evaluate(() => [['4i4a', 4, 'ia'], ['ia', 2, 'e'], ['i3a', 4, 'c'], ['b7a', 8, 'b'], ['2a2A', 4, 'a'],
        ['a3A', 4, 'A'], ['3ip', 4, 'v'], ['5i', 4, '2i'], ['4000i8a', 8, '500ia'], ['ia300-ii', 4, 'e300-i'], ['3a12i40A', 1, '3a12i40A']].map(([t, k, want]) => {
        const got = HL.hmap.merge(HL.hmap.runs(t), k).map((r) => (r.n === 1 ? '' : r.n) + r.l).join('');
        return { t, k, want, got };
    }));
    for (const x of merged) c.ok(`hmap.merge("${x.t}", ${x.k}) is "${x.want}" as inside.c folds`, x.got === x.want, x.got);
    const legend = await page.$$eval('#d0-inside .hkinds [data-kind]', (xs) => xs.map((x) => x.getAttribute('data-kind')));
    c.ok('kinds: the legend names every kind', ['brk', 'arena', 'segment', 'mmap', 'huge', 'reserved'].every((k) => legend.includes(k)), legend);
    await page.locator('#d0-inside').screenshot({ path: join(a.out, 'web-report-inside-threads.png') });
    c.ok('no console errors (inside, threads)', errors.length === 0, errors);
    await page.close();

    // One common scale: glibc's map made 40,000 full pages (the page draws it with squares of
    // 4 pages to fit), jemalloc's 10,000 (a page a square): at the common scale glibc takes
    // four times jemalloc's area; "fit each" draws each at its own finest square.
    const doc = JSON.parse(readFileSync(join(tmp, 'in.json'), 'utf8'));
    doc.results = doc.results.filter((x) => x.workload === 'known-live' && x.allocator !== 'hlmalloc');
    const pages = { glibc: 40000, jemalloc: 10000 };
    for (const cell of doc.results) {
        for (const s of cell.heapmap.snapshots) {
            const n = pages[cell.allocator];
            s.regions = [{ addr: '0x10000000', bytes: n * 4096, prot: 'rw-p', kind: 'anon', resident_bytes: n * 4096, live_bytes: n * 4096, objects: n, largest_object_bytes: 4096, cells: `${n}i` }];
            s.mapped_bytes = s.resident_bytes = s.live_bytes = n * 4096;
        }
    }
    writeFileSync(join(tmp, 'scale.json'), JSON.stringify(doc));
    const sfile = join(a.out, 'web-report-test-inside-scale.html');
    run(['report', join(tmp, 'scale.json'), '-o', sfile]);
    const o = await open(sfile);
    let m = await mapPixels(o.page, { full });
    const of = (al) => m.find((x) => x.allocator === al);
    c.ok('common scale: one square is the same bytes and pixels in both maps', of('glibc').sqBytes === 4 * 4096 && of('jemalloc').sqBytes === 4 * 4096 && of('glibc').px === of('jemalloc').px, m.map((x) => [x.sqBytes, x.px]));
    c.ok('common scale: glibc\'s 40,000 pages take 10,000 squares', of('glibc').n.full === 10000 * of('glibc').px ** 2, of('glibc').n.full / of('glibc').px ** 2);
    c.ok('common scale: jemalloc\'s 10,000 pages take 2,500 squares, a quarter of the area', of('jemalloc').n.full === 2500 * of('jemalloc').px ** 2, of('jemalloc').n.full / of('jemalloc').px ** 2);
    const scaleText = await o.page.textContent('#d0-inside .hscaletext');
    const legendText = await o.page.textContent('#d0-inside .hlegend-scale');
    c.ok('common scale: the scale line and the legend say the scale', /16\.0K in every map/.test(scaleText) && legendText === '□ = 16.0K in every map:', { scaleText, legendText });
    await o.page.click('#d0-inside button[data-scale="fit"]');
    m = await mapPixels(o.page, { full });
    c.ok('fit each: jemalloc at a page a square, 10,000 of them', of('jemalloc').sqBytes === 4096 && of('jemalloc').n.full === 10000 * of('jemalloc').px ** 2, [of('jemalloc').sqBytes, of('jemalloc').n.full]);
    c.ok('fit each: glibc at its 4 pages a square', of('glibc').sqBytes === 4 * 4096 && of('glibc').n.full === 10000 * of('glibc').px ** 2, [of('glibc').sqBytes, of('glibc').n.full]);
    c.ok('fit each: the button is on, the text says so', await o.page.$eval('#d0-inside button[data-scale="fit"]', (b) => b.classList.contains('on')) &&
        /its own finest square/.test(await o.page.textContent('#d0-inside .hscaletext')));
    c.ok('no console errors (inside, scale)', o.errors.length === 0, o.errors);
    await o.page.close();
}

// ---- inside: a recorded python3 trace replayed with heap maps -----------------------------
{
    const prog = 'import random\nrandom.seed(1)\nd = {}\nfor i in range(20000):\n    d["k%d" % i] = ["v%d" % j for j in range(random.randint(0, 6))]\nfor i in range(0, 20000, 2):\n    del d["k%d" % i]\n';
    writeFileSync(join(tmp, 'dicts.py'), prog);
    execFileSync(a.heaplab, ['record', '-o', join(tmp, 'py.trace'), '--', '/usr/bin/python3', join(tmp, 'dicts.py')],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONMALLOC: 'malloc' } });
    run(['replay', join(tmp, 'py.trace'), '-a', 'glibc,hlmalloc', '-r', '1', '--no-latency', '--heapmap', '--alloc-stats', '--os-calls',
        '--json', join(tmp, 'py.json'), '-q']);
    const py = JSON.parse(readFileSync(join(tmp, 'py.json'), 'utf8'));
    const file = join(a.out, 'web-report-test-python.html');
    run(['report', join(tmp, 'py.json'), '-o', file]);
    const { page, errors, outside } = await open(file);
    const K = await kindHex(page);
    const wl = await page.$$eval('#d0-inside button[data-workload]', (bs) => bs.map((b) => b.getAttribute('data-workload')));
    c.ok('python3 replay: the inside section has the trace', wl.length === 1 && /^trace:.*py\.trace$/.test(wl[0]), wl);
    const dense = await page.evaluate(() => HL.rinside.RESIDENT.slice(5));
    const m = await mapPixels(page, { d5: dense[0], d6: dense[1], d7: dense[2], d8: dense[3], ...K });
    const snaps = (al) => py.results.find((x) => x.allocator === al).heapmap.snapshots;
    c.ok('python3 replay: a map per allocator', m.length === 2 && m.every((x, i) => x.allocator === ['glibc', 'hlmalloc'][i]), m.map((x) => x.allocator));
    for (const x of m) {
        const s = snaps(x.allocator).find((q) => q.label === x.label);
        c.ok(`python3 replay: ${x.allocator}'s map at ${x.label} has its dense pages drawn`, s && s.cells.dense > 0 && x.n.d5 + x.n.d6 + x.n.d7 + x.n.d8 > 0, { s: s && s.cells, n: x.n });
        c.ok(`python3 replay: ${x.allocator}'s regions named`, x.regions.length > 0 && x.regions.some((r) => r.labelled), x.regions);
    }
    c.ok('python3 replay: glibc\'s brk heap', m[0].n.brk > 0, m[0].n);
    const statsRows = await page.$$eval('#d0-inside-stats tbody tr', (rs) => rs.length);
    const osRows = await page.$$eval('#d0-inside-os tbody tr', (rs) => rs.length);
    c.ok('python3 replay: its statistics and OS calls tables', statsRows >= 9 && osRows === 2, { statsRows, osRows });
    c.ok('no request left the file (python3)', outside.length === 0, outside);
    c.ok('no console errors (python3)', errors.length === 0, errors);
    await page.addStyleTag({ content: 'body.report .top { position: static; }' });
    await page.locator('#d0-inside').screenshot({ path: join(a.out, 'web-report-inside-python.png') });
    await page.close();
}

// ---- two files: the comparison -------------------------------------------------------------
{
    run(['bench', '-w', 'small,single-size', '-a', 'glibc,hlmalloc', '-n', '2000', '-r', '5', '--json', join(tmp, 'real.json'), '-q']);
    execFileSync('python3', [synth, join(tmp, 'real.json'), join(tmp, 'base.json'), join(tmp, 'new.json')]);
    const file = join(a.out, 'web-report-test-compare.html');
    run(['report', join(tmp, 'base.json'), join(tmp, 'new.json'), '-o', file]);
    const { page, errors, outside } = await open(file);
    const list = await drawnColours(page);
    const ch = list.filter((x) => x.kind === 'changes');
    c.ok('one chart of changes', ch.length === 1, ch.length);
    checkDrawn(ch, 'compare');
    checkDrawn(list.filter((x) => x.kind !== 'changes'), 'compare, each file');
    const v = await page.evaluate(() => Array.from(document.querySelectorAll('#compare-table-ops_per_sec tbody tr')).map((tr) => Array.from(tr.children).map((td) => td.textContent)));
    const glibc = v.find((r) => r[0] === 'small' && r[1] === '1' && r[2] === 'glibc');
    c.ok('the regression: small, 1 thread, glibc is worse by 20%', glibc && glibc[5] === '-20.0%*' && glibc[7] === 'worse', glibc);
    c.ok('its medians as heaplab compare prints them', glibc && glibc[3] === '10.00 ±4%' && glibc[4] === '8.00 ±4%', glibc);
    const rss = await page.evaluate(() => Array.from(document.querySelectorAll('#compare-table-peak_rss_bytes tbody tr')).map((tr) => Array.from(tr.children).map((td) => td.textContent)));
    const hl = rss.find((r) => r[0] === 'small' && r[1] === '1' && r[2] === 'hlmalloc');
    c.ok('the improvement: small, 1 thread, hlmalloc peak RSS is better by 30%', hl && hl[5] === '-30.0%*' && hl[7] === 'better' && hl[4] === '0.700 ±4%', hl);
    c.ok('the count line', /4 cells in both: 1 worse, 1 better/.test(await page.textContent('#compare .rcount')));
    c.ok('one regression is no machine drift: no note', (await page.$('#compare-drift')) === null);
    await page.screenshot({ path: join(a.out, 'web-report-compare.png'), clip: { x: 0, y: 0, width: 1280, height: 1100 } });
    c.ok('no request left the file (compare)', outside.length === 0, outside);
    c.ok('no console errors (compare)', errors.length === 0, errors);
    await page.close();
    // The whole machine at half speed: every allocator's throughput down, the note says so.
    execFileSync('python3', ['-c', `
import json, sys
d = json.load(open(sys.argv[1]))
for cell in d["results"]:
    for run in cell["runs"]:
        if run.get("status") == "ok":
            run["ops_per_sec"] *= 0.5
json.dump(d, open(sys.argv[2], "w"))`, join(tmp, 'base.json'), join(tmp, 'slow.json')]);
    const slow = join(tmp, 'slow.html');
    run(['report', join(tmp, 'base.json'), join(tmp, 'slow.json'), '-o', slow]);
    const s2 = await open(slow);
    const note = await s2.page.$('#compare-drift');
    c.ok('a slower machine: the drift note is shown', note !== null && /^4 of 4 throughput rows went down, over 2 allocators: the machine/.test(await note.textContent()),
        note && await note.textContent());
    await s2.page.close();
    // The same pair relative to glibc: no drift, the tables say what they hold.
    const rel = join(tmp, 'rel.html');
    run(['report', join(tmp, 'base.json'), join(tmp, 'slow.json'), '--relative-to', 'glibc', '-o', rel]);
    const s3 = await open(rel);
    c.ok('relative: no drift note', (await s3.page.$('#compare-drift')) === null);
    const t = await s3.page.evaluate(() => Array.from(document.querySelectorAll('#compare-table-ops_per_sec tbody tr')).map((tr) => Array.from(tr.children).map((td) => td.textContent)));
    const g = t.find((r) => r[0] === 'small' && r[1] === '1' && r[2] === 'glibc');
    const h = t.find((r) => r[0] === 'small' && r[1] === '1' && r[2] === 'hlmalloc');
    c.ok('relative: glibc is the reference at 1.000', g && g[3] === '1.000 ±0%' && g[7] === 'reference', g);
    c.ok('relative: hlmalloc unchanged against glibc (both at half speed)', h && h[7] === '' && /^\+0\.0%/.test(h[5]), h);
    c.ok('relative: the table says so', /as a multiple of glibc's run of the same repetition/.test(await s3.page.textContent('#compare')));
    c.ok('no console errors (relative)', s3.errors.length === 0, s3.errors);
    await s3.page.close();
}

// ---- two machines, and data of a newer schema ---------------------------------------------
{
    const other = JSON.parse(readFileSync(join(tmp, 'b.json'), 'utf8'));
    other.machine.hostname = 'big-box';
    other.machine.cores = 64;
    other.machine.cpu_model = 'Other CPU';
    writeFileSync(join(tmp, 'b2.json'), JSON.stringify(other));
    run(['merge', join(tmp, 'b.json'), join(tmp, 'b2.json'), '-o', join(tmp, 'set.json')]);
    const file = join(a.out, 'web-report-test-machines.html');
    run(['report', join(tmp, 'set.json'), '-o', file]);
    const { page, errors } = await open(file);
    const heads = await page.evaluate(() => Array.from(document.querySelectorAll('h2.mhead')).map((h) => h.textContent));
    c.ok('two machines, one heading each', heads.length === 2 && /big-box/.test(heads[1]), heads);
    const across = await page.evaluate(() => document.querySelectorAll('#machines-ops_per_sec tbody tr').length);
    c.ok('across machines: a row per shared cell', across === results.results.filter((x) => x.status === 'ok').length, across);
    checkDrawn(await drawnColours(page), 'two machines');
    await page.screenshot({ path: join(a.out, 'web-report-machines.png'), clip: { x: 0, y: 0, width: 1280, height: 1100 } });
    c.ok('no console errors (two machines)', errors.length === 0, errors);
    await page.close();

    const newer = join(a.out, 'web-report-test-newer.html');
    writeFileSync(newer, readFileSync(page1, 'utf8').replace('"schema":"heaplab.report/1"', '"schema":"heaplab.report/9"'));
    const o = await open(newer);
    const line = await o.page.evaluate(() => HL.app.reportError || null);
    c.ok('a newer schema is refused with one line', /heaplab\.report\/9 is newer than this viewer reads/.test(line || ''), line);
    c.ok('and shown on the page', /cannot be shown/.test(await o.page.textContent('#report')));
    await o.page.close();
}

await close();
rmSync(tmp, { recursive: true, force: true });
console.log(`screenshots: ${['bench', 'bench-top', 'compare', 'machines', 'inside', 'inside-known-live', 'inside-threads', 'inside-python'].map((n) => join(a.out, `web-report-${n}.png`)).join(' ')}`);
process.exit(c.finish());
