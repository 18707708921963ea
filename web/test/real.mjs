// web/test/real.mjs: the real allocators view (view=real, src/real.js) against the real
// `heaplab serve --port 0`: known-live runs under glibc and hlmalloc from a URL with run=1;
// both heap maps are drawn (pixels of the page colours), moving the slider from `filled` to
// `holes` redraws them with half the full pages and more retained ones, the statistics and
// OS call tables name both allocators, a bad start shows the server's error, no console
// errors. Screenshot: OUT/web-real.png. Counts and states only: no timing is asserted.
import { join } from 'node:path';
import { args, Checks, launch, startServe, until, watchConsole } from './lib.mjs';

const a = args();
const c = new Checks();
const { srv, url, exited } = await startServe(a, c);
const { ctx, close } = await launch(a);
const page = await ctx.newPage();
const errors = [];
watchConsole(page, errors);

// Per canvas: how many pixels have each colour of HL.Real.COLOURS (by name).
const pixels = () => page.evaluate(() => {
    const C = HL.Real.COLOURS;
    const named = { dense8: C.dense[3], empty: C.empty, not_resident: C.not_resident, brk: C.kinds.brk, segment: C.kinds.segment };
    return Array.from(document.querySelectorAll('#real_lanes canvas')).map((cv) => {
        const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        const n = { other: 0, clear: 0 };
        for (const k of Object.keys(named)) n[k] = 0;
        for (let i = 0; i < d.length; i += 4) {
            const k = Object.keys(named).find((q) => named[q][0] === d[i] && named[q][1] === d[i + 1] && named[q][2] === d[i + 2]);
            if (k) n[k]++;
            else if (d[i + 3] === 0) n.clear++;
            else n.other++;
        }
        return n;
    });
});
// Move the slider to the first snapshot labelled `label`; its index.
const slideTo = (label) => page.evaluate((lb) => {
    const shots = HL.app.real.lanes[0].shots;
    const k = shots.findIndex((s) => s && s.label === lb);
    const s = document.getElementById('real_slider');
    s.value = String(k);
    s.dispatchEvent(new Event('input'));
    return k;
}, label);

await page.goto(`${url}?view=real&workload=known-live&ops=3002&seed=2&every=250&allocators=glibc,hlmalloc&run=1`);
const ended = await until(() => page.evaluate(() => document.getElementById('real_where')?.getAttribute('data-ended') === '1'), 120000, 200);
c.ok('the run ends', ended);
const names = await page.$$eval('#real_lanes .real-lane', (ls) => ls.map((l) => l.getAttribute('data-allocator')));
c.ok('one column per allocator', JSON.stringify(names) === '["glibc","hlmalloc"]', names);
const n = await page.evaluate(() => HL.app.real.lanes.map((l) => l.shots.length));
c.ok('maps arrived for both, the slider spans them', n.every((k) => k >= 10) &&
    await page.evaluate(() => Number(document.getElementById('real_slider').max)) === Math.max(...n) - 1, n);

const kf = await slideTo('filled');
const atFilled = await pixels();
c.ok('the slider shows the filled map', await page.evaluate(() => document.getElementById('real_where').getAttribute('data-index')) === String(kf));
c.ok('filled: both maps drawn with full pages', atFilled.length === 2 && atFilled.every((p) => p.dense8 > 0), atFilled);
c.ok('filled: mapping stripes drawn: glibc\'s brk heap, hlmalloc\'s segments', atFilled[0].brk > 0 && atFilled[1].segment > 0, atFilled);
const labels = await page.$$eval('#real_lanes canvas', (cs) => cs.map((cv) => JSON.parse(cv.getAttribute('data-labels') || '[]')));
c.ok('filled: the large regions named: glibc\'s brk heap, hlmalloc\'s segments', labels.length === 2 &&
    labels[0].some((t) => t.startsWith('brk heap · ')) && labels[1].some((t) => t.startsWith('segments · ')), labels);
await page.screenshot({ path: join(a.out, 'web-real-filled.png'), fullPage: true });

const kh = await slideTo('holes');
const atHoles = await pixels();
c.ok('the slider moved to the holes map', kh > kf && await page.evaluate(() => document.getElementById('real_where').textContent).then((t) => t.includes('holes')));
for (let i = 0; i < 2; i++) {
    // 2000 full pages at filled, 1000 at holes: the same scale, so half the pixels.
    const r = atHoles[i].dense8 / atFilled[i].dense8;
    c.ok(`${names[i]}: holes has half the full pages of filled`, r > 0.4 && r < 0.6, [atFilled[i].dense8, atHoles[i].dense8]);
    c.ok(`${names[i]}: holes shows more retained pages`, atHoles[i].empty > atFilled[i].empty, [atFilled[i].empty, atHoles[i].empty]);
}
const stats = await page.$$eval('#real_stats th', (th) => th.map((t) => t.textContent));
c.ok('the statistics table names both allocators', stats.includes('glibc') && stats.includes('hlmalloc'), stats);
c.ok('... with its allocated row', stats.includes('allocated'), stats);
const calls = await page.$$eval('#real_oscalls tbody tr', (tr) => tr.map((t) => t.textContent));
c.ok('the OS calls table has mmap and brk rows', calls.some((t) => t.startsWith('mmap')) && calls.some((t) => t.startsWith('brk')), calls);
c.ok('the legend names the page kinds', (await page.textContent('#real_legend')).includes('not resident'));
await page.screenshot({ path: join(a.out, 'web-real.png'), fullPage: true });

// A bad start: the server's message is shown.
await page.evaluate(() => { document.getElementById('real_ops').value = '999999999'; });
await page.click('#real_start');
const err = await until(() => page.evaluate(() => {
    const e = document.getElementById('error');
    return !e.hidden && e.textContent;
}), 10000);
c.ok('a bad start shows the error', !!err && err.includes('ops'), err);
c.ok('no console errors', errors.length === 0, errors);
await close();
srv.kill('SIGINT');
const st = await exited;
c.ok('SIGINT stops the server, exit 130', st.code === 130, st);
process.exit(c.finish());
