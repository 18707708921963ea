// web/test/live.mjs: the viewer against the real `heaplab serve --port 0` (not the fake):
// a race started from a URL with run=1 is drawn in all six arenas from raw, delta and fill
// maps, the final leaderboard has the six lab allocators the end
// frame names, pause then resume goes on (it once stalled), a tick shown by the scrubber
// gets its size-class overlay and its hover answer, no console errors; SIGINT stops the
// server with exit 130. Screenshots: OUT/web-live.png, OUT/web-live-seek.png (the seek). Counts and states only: no timing is asserted.
import { join } from 'node:path';
import { args, Checks, launch, startServe, until, watchConsole } from './lib.mjs';

const a = args();
const c = new Checks();
const { srv, url, exited } = await startServe(a, c);
const { ctx, close } = await launch(a);
const page = await ctx.newPage();
const errors = [];
watchConsole(page, errors);
const enc = { 0: 0, 1: 0, 3: 0 };
const json = [];
const overlayTicks = {}; // tick -> overlay frames (type 2) received
const tickOf = (p) => p[8] | (p[9] << 8) | (p[10] << 16) | (p[11] << 24);
page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    if (typeof f.payload === 'string') json.push(JSON.parse(f.payload));
    else if (f.payload.length >= 16 && f.payload[3] === 1) enc[f.payload[5]] = (enc[f.payload[5]] || 0) + 1;
    else if (f.payload.length >= 16 && f.payload[3] === 2) overlayTicks[tickOf(f.payload)] = (overlayTicks[tickOf(f.payload)] || 0) + 1;
}));
const shownTick = () => page.evaluate(() => Number(document.getElementById('tick').getAttribute('data-tick')));
const used = () => page.evaluate(() => HL.app.viewer.lanes.map((l) => l.kinds.reduce((n, k) => n + (k === 1), 0)));

await page.goto(`${url}?workload=nginx-requests&seed=3&ops=60000&tick_every=300&speed=30&run=1`);
c.ok('the race runs', await until(async () => (await shownTick()) >= 30, 60000), await shownTick());
const u = await used();
c.ok('six arenas', u.length === 6, u.length);
c.ok('every arena but bump shows used cells', u.slice(1).every((n) => n > 0), u);
c.ok('kind maps arrive raw, then as delta or fill', enc[0] >= 6 && enc[1] + enc[3] > 0, enc);
c.ok('the page asked for fill maps and decodes them', enc[3] > 0, enc);
await page.screenshot({ path: join(a.out, 'web-live.png'), fullPage: true });

// Pause, then resume: the ticks go on and the race ends (it once stalled here).
await page.click('#pause');
c.ok('pause: the button offers Resume', await until(async () => (await page.textContent('#pause')) === 'Resume', 10000));
const tp = await shownTick();
await page.click('#pause');
c.ok('resume: the button offers Pause', await until(async () => (await page.textContent('#pause')) === 'Pause', 10000));
c.ok('resume: ticks go on', await until(async () => (await shownTick()) > tp + 5, 30000), { paused_at: tp, now: await shownTick() });

const end = await until(() => json.find((m) => m.type === 'end'), 120000);
if (!end) console.error('frames seen:', [...new Set(json.map((m) => m.type))].join(' '), 'tick', await shownTick());
c.ok('the race ends', !!end);
const names = await until(async () => {
    const rows = await page.$$eval('#board tbody tr', (trs) => trs.map((tr) => tr.textContent));
    return rows.length === 6 ? rows : null;
}, 10000);
c.ok('the final leaderboard has six rows', !!names);
if (end && names)
    c.ok('its rows are the end frame\'s allocators', end.leaderboard.every((e) => names.some((t) => t.includes(e.name))));

// A tick shown from the ring (the scrubber) with the size-class overlay: its overlay maps
// arrive, and hovering a used cell describes that tick (not the race's last one).
await page.check('input[name="overlay"][value="class"]');
await until(() => json.some((m) => m.type === 'state' && m.overlay === 'class'), 10000);
const SEEK = 10;
await page.evaluate((t) => {
    const s = document.getElementById('scrub');
    s.value = String(t);
    s.dispatchEvent(new Event('input', { bubbles: true }));
    s.dispatchEvent(new Event('change', { bubbles: true }));
}, SEEK);
c.ok('the scrubber shows the tick', await until(async () => (await shownTick()) === SEEK, 10000), await shownTick());
c.ok('a seeked tick gets overlay maps for every lane', await until(() => overlayTicks[SEEK] >= 6, 10000), overlayTicks);
const ov = await until(() => page.evaluate(() => {
    const l = HL.app.viewer.lanes;
    return l.every((x) => x.overlay) ? l.map((x) => x.overlay.reduce((n, v) => n + (v > 0), 0)) : null;
}), 10000);
c.ok('the overlay is drawn from them', ov && ov.slice(1).every((n) => n > 0), ov);
const at = await page.evaluate(() => {
    const lane = HL.app.viewer.lanes[2];
    lane.heat.canvas.scrollIntoView({ block: 'center' });
    // a used cell with used neighbours, off the edges (the mouse's position is rounded)
    const w = lane.heat.w, k = lane.kinds;
    let cell = 4 * w;
    while (cell < k.length && (cell % w < 4 || cell % w > w - 4 || k[cell] !== 1 || k[cell - 1] !== 1 || k[cell - w] !== 1 || k[cell - w - 1] !== 1)) cell++;
    const r = lane.heat.canvas.getBoundingClientRect();
    return { cell, x: r.left + ((cell % w) + 0.5) * r.width / w, y: r.top + (Math.floor(cell / w) + 0.5) * r.height / lane.heat.h };
});
await page.mouse.move(at.x - 30, at.y + 30);
await page.mouse.move(at.x, at.y, { steps: 3 });
const tip = await until(async () => {
    const t = await page.textContent('#tip');
    return t && t.includes('block at') ? t : null;
}, 10000);
c.ok('hover: the tip names the tick shown and its block', tip && tip.includes(`tick ${SEEK}`), tip);
const ans = json.filter((m) => m.type === 'cell' && m.lane === 2).pop();
c.ok('the cell answer is about the tick shown', ans && ans.tick === SEEK && ans.block && ans.block.op < SEEK * 300, ans);
await page.screenshot({ path: join(a.out, 'web-live-seek.png'), fullPage: true });
c.ok('no console errors', errors.length === 0, errors);
await close();
srv.kill('SIGINT');
const st = await exited;
c.ok('SIGINT stops the server, exit 130', st.code === 130, st);
process.exit(c.finish());
