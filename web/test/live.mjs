// web/test/live.mjs: the viewer against the real `heaplab serve --port 0` (not the fake):
// a race started from a URL with run=1 is drawn in all six arenas from raw, delta and fill
// maps, the final leaderboard has the six lab allocators the end
// frame names, pause then resume goes on (it once stalled), no console errors; SIGINT stops
// the server with exit 130. Screenshot:
// OUT/web-live.png. Counts and states only: no timing is asserted.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { args, Checks, launch, until, watchConsole } from './lib.mjs';

const a = args();
const c = new Checks();
const srv = spawn(a.heaplab, ['serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
srv.stdout.on('data', (d) => { out += d; });
const exited = new Promise((r) => srv.on('exit', (code, sig) => r({ code, sig })));
const url = await until(() => (out.match(/serving on (http:\/\/\S+)/) || [])[1], 15000);
c.ok('serve prints its URL', !!url, out);
if (!url) {
    srv.kill('SIGKILL');
    process.exit(c.finish());
}
const { ctx, close } = await launch(a);
const page = await ctx.newPage();
const errors = [];
watchConsole(page, errors);
const enc = { 0: 0, 1: 0, 3: 0 };
const json = [];
page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    if (typeof f.payload === 'string') json.push(JSON.parse(f.payload));
    else if (f.payload.length >= 16 && f.payload[3] === 1) enc[f.payload[5]] = (enc[f.payload[5]] || 0) + 1;
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
c.ok('no console errors', errors.length === 0, errors);
await close();
srv.kill('SIGINT');
const st = await exited;
c.ok('SIGINT stops the server, exit 130', st.code === 130, st);
process.exit(c.finish());
