// web/test/viewer.mjs: the live viewer in headless Chromium against web/test/fake_server.mjs
// (real races of `heaplab race --ticks`, streamed per docs/serve.md). Starts a race from a
// URL with run=1 and checks: six arenas drawn, frame rate, the maps decoded from raw and delta
// frames equal the tick file's, the leaderboard equals the end frame (and a tick frame after
// a seek), scrub, pause, step, overlays, hover, enlarge, the URL, the exports, bad input, no
// console errors. Screenshots: OUT/web-viewer.png and OUT/web-viewer-class.png.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFake } from './fake_server.mjs';
import { args, Checks, launch, until, watchConsole } from './lib.mjs';

const a = args();
const c = new Checks();
const t0 = Date.now();
const srv = await startFake({ site: a.site, heaplab: a.heaplab });
const { ctx, close } = await launch(a);
const page = await ctx.newPage();
const errors = [];
watchConsole(page, errors);

// Every JSON frame the page receives, to compare what it shows with what it was sent.
const frames = [];
page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    if (typeof f.payload === 'string') frames.push(JSON.parse(f.payload));
}));
const last = (type) => frames.filter((f) => f.type === type).pop();

const shownTick = () => page.evaluate(() => Number(document.getElementById('tick').getAttribute('data-tick')));
const kindsB64 = () => page.evaluate(() => HL.app.viewer.lanes.map((l) => {
    const k = l.kinds;
    const packed = new Uint8Array(Math.ceil(k.length / 4));
    for (let i = 0; i < k.length; i++) packed[i >> 2] |= k[i] << ((i & 3) * 2);
    let s = '';
    for (let i = 0; i < packed.length; i++) s += String.fromCharCode(packed[i]);
    return btoa(s);
}));
// Pixels of each arena canvas that are neither free cells nor outside the map.
const drawn = () => page.evaluate(() => HL.app.viewer.lanes.map((l) => {
    const cv = l.heat.canvas;
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    const counts = {};
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        const key = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
        counts[key] = (counts[key] || 0) + 1;
        if (key !== 0x1d2430 && key !== 0) n++;
    }
    return { n, used: counts[0x3da5f4] || 0, colours: Object.keys(counts).length };
}));

const LANES = 'bump,firstfit,segfit,buddy,slab,span';
const query = `workload=nginx-requests&seed=7&ops=60000&arena=2097152&allocators=${LANES}&tick_every=300&speed=60`;
await page.goto(`${srv.url}?${query}&run=1`);

// ---- a race at 60 ticks/s: drawing and frame rate -------------------------------------
const race = await until(() => last('race'), 15000);
c.ok('run=1 starts a race', race && race.allocators.length === 6, race);
await until(() => page.evaluate(() => HL.app.viewer.stats.paints >= 6));
const perf = await page.evaluate(() => new Promise((resolve) => {
    const s = HL.app.viewer.stats;
    const p0 = s.paints, m0 = s.maps;
    const t0 = performance.now();
    let n = 0, prev = t0, worst = 0;
    requestAnimationFrame(function f(t) {
        n++;
        worst = Math.max(worst, t - prev);
        prev = t;
        if (t - t0 < 2000) requestAnimationFrame(f);
        else resolve({ fps: (n * 1000) / (t - t0), lanePaintsPerS: ((s.paints - p0) * 1000) / (t - t0) / 6,
            mapsPerS: ((s.maps - m0) * 1000) / (t - t0) / 6, worstFrameMs: worst });
    });
}));
console.log(`frame rate, 6 allocators at 2 MiB, 60 ticks/s: ${perf.fps.toFixed(1)} frames/s, ` +
    `${perf.lanePaintsPerS.toFixed(1)} paints/s per arena (${perf.mapsPerS.toFixed(1)} maps/s received), ` +
    `worst frame ${perf.worstFrameMs.toFixed(1)} ms`);
// The frame rate is measured and reported (web-viewer-perf.json, docs/serve.md), never
// asserted: a timing in a test fails on a loaded machine. What must hold is that the
// arenas were repainted while maps arrived.
c.ok('the arenas are repainted while maps arrive', perf.lanePaintsPerS > 0 && perf.mapsPerS > 0,
    perf);
const d1 = await drawn();
c.ok('six arena canvases', d1.length === 6, d1.length);
d1.forEach((d, i) => c.ok(`arena ${i} drawn (non-background pixels)`, d.n > 0, d));

// ---- the end: leaderboard and maps equal the data --------------------------------------
const end = await until(() => last('end'), 20000);
c.ok('the race ends', !!end);
await until(async () => (await page.textContent('#tick')).includes('finished'));
c.ok('the final leaderboard says so', await until(async () => /final/.test(await page.textContent('#board_note'))));
const board = await page.evaluate(() => Array.from(document.querySelectorAll('#board tbody tr')).map((tr) => {
    const o = { lane: Number(tr.getAttribute('data-lane')), name: tr.querySelector('td.name').textContent };
    tr.querySelectorAll('td[data-key]').forEach((td) => { o[td.getAttribute('data-key')] = Number(td.getAttribute('data-v')); });
    return o;
}));
c.ok('the leaderboard has six rows', board.length === 6, board.length);
const same = (x, y) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y));
for (const row of board) {
    const e = end.leaderboard[row.lane];
    for (const k of ['p50_ns', 'p90_ns', 'p99_ns', 'frag', 'frag_avg', 'frag_max', 'internal_waste', 'peak_internal_waste', 'failures', 'footprint']) {
        c.ok(`final leaderboard ${e.name}.${k} equals the end frame`, same(row[k], e[k]), { shown: row[k], sent: e[k] });
    }
    c.ok(`final leaderboard row ${row.lane} is ${e.name}`, row.name === e.name);
}
// sorting: a heading sorts by its column, again reverses
const column = (k) => page.evaluate((key) => Array.from(document.querySelectorAll(`#board tbody td[data-key="${key}"]`))
    .map((td) => Number(td.getAttribute('data-v'))), k);
await page.click('#board th[data-key="p99_ns"]');
await page.waitForTimeout(50);
const up = await column('p99_ns');
c.ok('a heading sorts by its column', up.every((v, i) => i === 0 || up[i - 1] <= v), up);
await page.click('#board th[data-key="p99_ns"]');
await page.waitForTimeout(50);
const down = await column('p99_ns');
c.ok('again: the other way', down.every((v, i) => i === 0 || down[i - 1] >= v), down);
await page.click('#board th[data-key="name"]');

// the tick file the page offers for export is the race; its maps are what the page decoded
const href = await page.getAttribute('#export_ticks', 'href');
c.ok('the tick-file export names the session', href === `api/export/ticks?session=${race.session}`, href);
const ticksText = await (await fetch(new URL(href, srv.url))).text();
const fileTicks = ticksText.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'tick');
c.ok('the exported tick file has every tick', fileTicks.length === race.ticks_total, fileTicks.length);
const lastTick = await shownTick();
c.ok('the last tick is shown', lastTick === race.ticks_total - 1, lastTick);
const maps = await kindsB64();
maps.forEach((m, i) => c.ok(`lane ${i}: maps decoded from raw + delta frames equal the tick file's`,
    m === fileTicks[lastTick].allocators[i].cells));
c.ok('deltas were sent', srv.stats.maps > srv.stats.rawMaps * 4, srv.stats);

// ---- scrub, step ---------------------------------------------------------------------
await page.evaluate(() => {
    const s = document.getElementById('scrub');
    s.value = '50';
    s.dispatchEvent(new Event('input'));
    s.dispatchEvent(new Event('change'));
});
c.ok('scrubbing to tick 50 shows tick 50', await until(async () => (await shownTick()) === 50), await shownTick());
await until(() => last('tick') && last('tick').tick === 50);
await page.waitForTimeout(250); // the board redraws at most 10 times a second
const maps50 = await kindsB64();
maps50.forEach((m, i) => c.ok(`lane ${i}: the map at tick 50 equals the tick file's`, m === fileTicks[50].allocators[i].cells));
const p50At50 = await page.evaluate(() => Array.from(document.querySelectorAll('#board tbody tr')).map((tr) =>
    [Number(tr.getAttribute('data-lane')), Number(tr.querySelector('td[data-key="p50_ns"]').getAttribute('data-v')),
        Number(tr.querySelector('td[data-key="failures"]').getAttribute('data-v'))]));
p50At50.forEach(([lane, p50, fails]) => {
    const t = last('tick').allocators[lane];
    c.ok(`leaderboard at tick 50: lane ${lane} p50 and failures equal tick 50's frame`, p50 === t.p50_ns && fails === t.failures, { p50, fails, t });
});
c.ok('the scrubber pauses', (await page.textContent('#pause')) === 'Resume');
await page.click('#step');
c.ok('step shows the next tick', await until(async () => (await shownTick()) === 51), await shownTick());
await page.waitForTimeout(250);
await page.screenshot({ path: join(a.out, 'web-viewer.png'), fullPage: true });

// ---- a slower race: pause, step, resume ------------------------------------------------
await page.evaluate(() => {
    const s = document.getElementById('speed');
    s.value = '15';
    s.dispatchEvent(new Event('input'));
    s.dispatchEvent(new Event('change'));
});
const racesBefore = frames.filter((f) => f.type === 'race').length;
await page.click('#start');
await until(() => frames.filter((f) => f.type === 'race').length > racesBefore);
c.ok('Start runs a second race', frames.filter((f) => f.type === 'race').length === racesBefore + 1);
// frames of the second race only: the first one's last tick (51) and its paused state
// must not stand in for them
const since = (i, type) => frames.slice(i).filter((f) => f.type === type);
const raceAt = frames.findIndex((f, i) => f.type === 'race' && frames.slice(0, i).filter((g) => g.type === 'race').length === racesBefore);
await until(() => since(raceAt, 'tick').some((t) => t.tick >= 4));
const clickAt = frames.length;
await page.click('#pause');
c.ok('Pause pauses the new race', await until(() => since(clickAt, 'state').some((s) => s.paused)), since(clickAt, 'state'));
await page.waitForTimeout(150);
const tp = await shownTick();
await page.waitForTimeout(400);
c.ok('paused: the tick shown stays', (await shownTick()) === tp, { before: tp, after: await shownTick() });
await page.click('#step');
c.ok('step while paused: one tick on', await until(async () => (await shownTick()) === tp + 1), { tp, now: await shownTick() });
await page.click('#pause'); // Resume
c.ok('resume: ticks go on', await until(async () => (await shownTick()) > tp + 2), await shownTick());
c.ok('the URL holds the race', /workload=nginx-requests/.test(page.url()) && /seed=7/.test(page.url()) &&
    /allocators=bump%2Cfirstfit/.test(page.url()) && /speed=15/.test(page.url()), page.url());

// ---- overlays, hover, enlarge, PNG -----------------------------------------------------
await page.check('input[name="overlay"][value="class"]');
await page.click('#pause');
await page.waitForTimeout(300);
const d2 = await drawn();
c.ok('size-class overlay recolours used cells', d2.slice(1).every((d) => d.used === 0 && d.n > 0 && d.colours > 3), d2);
c.ok('the URL holds the overlay', /overlay=class/.test(page.url()), page.url());
await page.screenshot({ path: join(a.out, 'web-viewer-class.png'), fullPage: true });
await page.check('input[name="overlay"][value="age"]');
await page.waitForTimeout(300);
c.ok('age overlay draws', (await drawn()).slice(1).every((d) => d.used === 0 && d.n > 0), await drawn());
await page.check('input[name="overlay"][value="kind"]');
await page.waitForTimeout(300);
c.ok('back to kinds', (await drawn()).slice(1).some((d) => d.used > 0));

const spot = await page.evaluate(() => {
    const l = HL.app.viewer.lanes[1];
    // a used cell whose left, upper and upper-left neighbours are used too (the mouse's
    // position is rounded to whole pixels) and off the canvas's edges
    const w = l.heat.w, k = l.kinds;
    let i = 4 * w;
    while (i < k.length && (i % w < 4 || i % w > w - 4 || k[i] !== 1 || k[i - 1] !== 1 || k[i - w] !== 1 || k[i - w - 1] !== 1)) i++;
    const r = l.heat.canvas.getBoundingClientRect();
    return { i, x: r.left + ((i % l.heat.w) + 0.5) * (r.width / l.heat.w), y: r.top + (Math.floor(i / l.heat.w) + 0.5) * (r.height / l.heat.h) };
});
await page.mouse.move(spot.x - 30, spot.y + 30);
await page.mouse.move(spot.x, spot.y, { steps: 3 });
const tip = await until(async () => {
    const t = await page.textContent('#tip');
    return (await page.isVisible('#tip')) && /requested/.test(t) ? t : null;
}, 5000);
c.ok('hovering a used cell shows offset, kind and its block', tip && /offset/.test(tip) && /kind used/.test(tip) && /allocated by op/.test(tip),
    { tip: await page.textContent('#tip'), visible: await page.isVisible('#tip'), spot, scroll: await page.evaluate(() => [scrollX, scrollY]) });
await page.mouse.click(spot.x, spot.y);
const big = await page.evaluate(() => {
    const p = document.querySelector('.lane[data-lane="1"]');
    return { big: p.classList.contains('big'), width: p.querySelector('canvas.arena').getBoundingClientRect().width };
});
c.ok('clicking an arena enlarges it', big.big && big.width >= 500, big);
await page.mouse.click(spot.x, spot.y);
const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export_png')]);
const pngPath = join(a.out, 'web-arenas.png');
await dl.saveAs(pngPath);
const { readFileSync } = await import('node:fs');
c.ok('PNG export writes a PNG', readFileSync(pngPath).subarray(1, 4).toString() === 'PNG');
c.ok('no console errors in a race', errors.length === 0, errors);

// ---- bad input -------------------------------------------------------------------------
await page.fill('#ops', '0');
await page.click('#start');
c.ok('ops 0: the page says what is wrong', /ops: 1 to/.test(await page.textContent('#error')) && await page.isVisible('#error'),
    await page.textContent('#error'));
await page.goto(`${srv.url}?workload=nope&seed=1&ops=1000&run=1`);
const unknown = await until(async () => ((await page.isVisible('#error')) ? page.textContent('#error') : null));
c.ok('an unknown workload: the error shows', /unknown workload "nope"/.test(unknown || ''), unknown);
await page.goto(`${srv.url}?workload=small&ops=1000&allocators=bump,nosuch&run=1`);
const badAlloc = await until(async () => ((await page.isVisible('#error')) ? page.textContent('#error') : null));
c.ok('an unknown allocator: the server\'s error frame shows', /unknown allocator "nosuch"/.test(badAlloc || ''), badAlloc);
await page.setInputFiles('#upload', { name: 'junk.hlt', mimeType: 'application/octet-stream', buffer: Buffer.from('not a trace at all') });
const badUp = await until(async () => {
    const t = await page.textContent('#error');
    return /junk\.hlt/.test(t) ? t : null;
});
c.ok('a bad trace upload: the 400\'s message shows', /junk\.hlt: not a heaplab trace/.test(badUp || ''), badUp);
const upload = Buffer.concat([Buffer.from('HLTRACE\0'), Buffer.alloc(56)]);
await page.setInputFiles('#upload', { name: 'ok.hlt', mimeType: 'application/octet-stream', buffer: upload });
c.ok('a good upload is offered as a trace', await until(async () => (await page.inputValue('#trace')) === 'upload:1'), await page.inputValue('#trace'));
const unexpected = errors.filter((e) => !/status of 400/.test(e));
c.ok('no console errors but the refused upload\'s', unexpected.length === 0, unexpected);

await close();
await srv.close();
console.log(`screenshots: ${join(a.out, 'web-viewer.png')}, ${join(a.out, 'web-viewer-class.png')}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
writeFileSync(join(a.out, 'web-viewer-perf.json'), JSON.stringify(perf, null, 2) + '\n');
process.exit(c.finish());
