// web/test/offline.mjs: the viewer as `heaplab report` will ship it: one HTML file, the
// viewer's styles and scripts inlined in the order of the asset table (web/manifest.txt)
// and a real tick file (`heaplab race --ticks`) inlined as data, opened from file:// with
// every network request refused. Checks: no request leaves the file, six arenas drawn,
// the last tick shown with the end line's leaderboard, scrub/step/play change the tick and
// its maps equal the file's, overlays needing the server are off, no console errors.
// Also opens a tick file through "open a tick file" on the page served over http.
// Screenshot: OUT/web-report.png.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { args, Checks, launch, until, watchConsole } from './lib.mjs';

const a = args();
const c = new Checks();
const tmp = mkdtempSync(join(tmpdir(), 'heaplab-offline-'));
const ticksFile = join(tmp, 'frag.ticks');
execFileSync(a.heaplab, ['race', '-w', 'fragmentation', '-n', '30000', '-s', '3', '--arena', '1M',
    '--tick-every', '500', '--ticks', ticksFile, '-q']);
const ticksText = readFileSync(ticksFile, 'utf8');
const lines = ticksText.trim().split('\n').map((l) => JSON.parse(l));
const fileTicks = lines.filter((l) => l.type === 'tick');
const end = lines[lines.length - 1];

// One file, as a report writer makes it: index.html with each <link> and <script> of the
// table replaced by the asset's text, and the tick file before the scripts. "</" inside an
// inlined text is written "<\/" (JSON and JavaScript read it the same).
function inline(site, data) {
    const esc = (s) => s.replace(/<\/(script|style)/gi, '<\\/$1');
    let html = readFileSync(join(site, 'index.html'), 'utf8');
    html = html.replace(/<link rel="stylesheet" href="assets\/([^"]+)">/g,
        (_, n) => `<style>${esc(readFileSync(join(site, 'assets', n), 'utf8'))}</style>`);
    let first = true;
    html = html.replace(/<script src="assets\/([^"]+)"><\/script>/g, (_, n) => {
        const blob = first ? `<script type="application/x-heaplab-ticks" id="heaplab-ticks">${esc(data)}</script>\n` : '';
        first = false;
        return `${blob}<script>${esc(readFileSync(join(site, 'assets', n), 'utf8'))}</script>`;
    });
    return html;
}
const reportPath = join(a.out, 'web-report-test.html');
writeFileSync(reportPath, inline(a.site, ticksText));

const { ctx, close } = await launch(a);
const page = await ctx.newPage();
const errors = [];
watchConsole(page, errors);
const outside = [];
await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith('file:') || u.startsWith('data:')) return route.continue();
    outside.push(u);
    return route.abort();
});

const shownTick = () => page.evaluate(() => Number(document.getElementById('tick').getAttribute('data-tick')));
const kindsB64 = () => page.evaluate(() => HL.app.viewer.lanes.map((l) => {
    const k = l.kinds;
    const packed = new Uint8Array(Math.ceil(k.length / 4));
    for (let i = 0; i < k.length; i++) packed[i >> 2] |= k[i] << ((i & 3) * 2);
    let s = '';
    for (let i = 0; i < packed.length; i++) s += String.fromCharCode(packed[i]);
    return btoa(s);
}));
const mapsEqual = async (t, what) => (await kindsB64()).forEach((m, i) =>
    c.ok(`${what}: lane ${i} map equals the tick file's tick ${t}`, m === fileTicks[t].allocators[i].cells));

await page.goto(pathToFileURL(reportPath).href);
const last = fileTicks.length - 1;
c.ok('the report opens at its last tick', await until(async () => (await shownTick()) === last), await shownTick());
await until(async () => /final/.test(await page.textContent('#board_note')));
const board = await page.evaluate(() => Array.from(document.querySelectorAll('#board tbody tr')).map((tr) => {
    const o = { lane: Number(tr.getAttribute('data-lane')) };
    tr.querySelectorAll('td[data-key]').forEach((td) => { o[td.getAttribute('data-key')] = Number(td.getAttribute('data-v')); });
    return o;
}));
c.ok('six leaderboard rows', board.length === 6, board.length);
for (const row of board) {
    const e = end.leaderboard[row.lane];
    for (const k of ['p50_ns', 'p99_ns', 'frag_avg', 'frag_max', 'peak_internal_waste', 'failures', 'footprint']) {
        c.ok(`${e.name}.${k} equals the end line`, Math.abs(row[k] - e[k]) <= 1e-9 * Math.max(1, e[k]), { shown: row[k], file: e[k] });
    }
}
await mapsEqual(last, 'at the end');

// scrub to the middle: drawn, maps and the "so far" board follow the file
const mid = Math.floor(last / 2);
await page.evaluate((t) => {
    const s = document.getElementById('scrub');
    s.value = String(t);
    s.dispatchEvent(new Event('input'));
}, mid);
c.ok('scrub shows the tick asked for', await until(async () => (await shownTick()) === mid), await shownTick());
await mapsEqual(mid, 'scrubbed');
const drawn = await page.evaluate(() => HL.app.viewer.lanes.map((l) => {
    const cv = l.heat.canvas;
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) !== 0x1d2430) n++;
    return n;
}));
drawn.forEach((n, i) => c.ok(`arena ${i} drawn`, n > 0, n));
await page.waitForTimeout(250);
const soFar = await page.evaluate(() => Array.from(document.querySelectorAll('#board tbody tr')).map((tr) =>
    [Number(tr.getAttribute('data-lane')), Number(tr.querySelector('td[data-key="frag_max"]').getAttribute('data-v'))]));
soFar.forEach(([lane, fmax]) => {
    let want = 0;
    for (let t = 1; t <= mid; t++) want = Math.max(want, fileTicks[t].allocators[lane].frag);
    c.ok(`lane ${lane}: frag max so far is the file's over ticks 1..${mid}`, fmax === want, { fmax, want });
});
await page.screenshot({ path: join(a.out, 'web-report.png'), fullPage: true });
await page.click('#step');
c.ok('step: one tick on', await until(async () => (await shownTick()) === mid + 1), await shownTick());
await mapsEqual(mid + 1, 'stepped');
await page.click('#pause'); // Resume: plays from here
c.ok('play: ticks go on', await until(async () => (await shownTick()) > mid + 3), await shownTick());
await page.click('#pause');
c.ok('the size-class overlay is off without a server', await page.isDisabled('input[name="overlay"][value="class"]'));
c.ok('no start form without a server', !(await page.isVisible('#start')));
c.ok('no request left the file', outside.length === 0, outside);
c.ok('no console errors (report)', errors.length === 0, errors);

// "open a tick file" on a page with no server behind it: the same viewer, from the start
const page2 = await ctx.newPage();
const errors2 = [];
watchConsole(page2, errors2);
await page2.goto(pathToFileURL(join(a.site, 'index.html')).href);
await page2.setInputFiles('#open_ticks', ticksFile);
const t2 = await until(async () => {
    const t = await page2.evaluate(() => Number(document.getElementById('tick').getAttribute('data-tick')));
    return t > 2 ? t : null;
});
c.ok('an opened tick file plays', t2 > 2, t2);
await page2.setInputFiles('#open_ticks', { name: 'junk.ticks', mimeType: 'text/plain', buffer: Buffer.from('{"schema":"heaplab.ticks/9","type":"race"}\n') });
const err = await until(async () => ((await page2.isVisible('#error')) ? page2.textContent('#error') : null));
c.ok('a tick file of a newer schema is refused with a line', /newer than this viewer reads/.test(err || ''), err);
c.ok('no console errors (opened file)', errors2.length === 0, errors2);

await close();
rmSync(tmp, { recursive: true, force: true });
console.log(`screenshot: ${join(a.out, 'web-report.png')}`);
process.exit(c.finish());
