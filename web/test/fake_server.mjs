// web/test/fake_server.mjs: a stand-in for `heaplab serve` (docs/serve.md) until the C server
// lands, for the browser tests: node's http plus a minimal WebSocket (RFC 6455: handshake,
// unfragmented frames, close, ping). The races are real: each `start` runs
// `heaplab race --ticks` with the page's parameters and streams that file tick by tick, its
// maps as binary frames (raw, then deltas against what this client was last sent, raw when a
// delta would not be smaller, raw after a seek). What a tick file does not hold is made up
// and marked so: the latency histograms (from p50/p90/p99), the overlays (class from the
// length of a run of used cells, age from when a cell turned used) and `cell`'s block.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';

const LIMITS = {
    ops_max: 2000000, arena_min: 65536, arena_max: 268435456, tick_every_min: 50,
    sessions_max: 4, upload_bytes: 64 << 20, ring_bytes: 64 << 20, tps_max: 240,
};
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8', '.txt': 'text/plain; charset=utf-8' };

function listMeta(heaplab) {
    const wl = execFileSync(heaplab, ['list', 'workloads'], { encoding: 'utf8' }).trim().split('\n').slice(1);
    const lab = execFileSync(heaplab, ['list', 'lab'], { encoding: 'utf8' }).trim().split('\n').slice(1);
    return {
        workloads: wl.map((l) => {
            const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(.*)$/.exec(l);
            return { name: m[1], summary: m[5], default_ops: Number(m[4]), min_threads: m[2] === 'threads' ? 2 : 1 };
        }),
        lab: lab.map((l) => {
            const m = /^(\S+)\s+(yes|no)\s+(.*)$/.exec(l);
            return { name: m[1], summary: m[3], default: m[2] === 'yes' };
        }),
    };
}

// ---- WebSocket framing ----------------------------------------------------------------

function wsFrame(opcode, payload) {
    const n = payload.length;
    let head;
    if (n < 126) head = Buffer.from([0x80 | opcode, n]);
    else if (n < 65536) {
        head = Buffer.alloc(4);
        head[0] = 0x80 | opcode; head[1] = 126; head.writeUInt16BE(n, 2);
    } else {
        head = Buffer.alloc(10);
        head[0] = 0x80 | opcode; head[1] = 127; head.writeBigUInt64BE(BigInt(n), 2);
    }
    return Buffer.concat([head, payload]);
}

class Socket {
    constructor(sock, onText, onClose) {
        this.sock = sock;
        this.buf = Buffer.alloc(0);
        this.open = true;
        sock.on('data', (d) => this.data(d, onText));
        sock.on('close', () => { this.open = false; onClose(); });
        sock.on('error', () => { this.open = false; });
    }
    data(d, onText) {
        this.buf = Buffer.concat([this.buf, d]);
        for (;;) {
            const b = this.buf;
            if (b.length < 2) return;
            const op = b[0] & 0x0f;
            let len = b[1] & 0x7f;
            let at = 2;
            if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); at = 4; }
            else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); at = 10; }
            const masked = b[1] & 0x80;
            const need = at + (masked ? 4 : 0) + len;
            if (b.length < need) return;
            const payload = Buffer.from(b.subarray(at + (masked ? 4 : 0), need));
            if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[at + (i & 3)];
            this.buf = b.subarray(need);
            if (op === 1) onText(payload.toString('utf8'));
            else if (op === 8) { this.write(8, Buffer.alloc(0)); this.sock.end(); }
            else if (op === 9) this.write(10, payload);
        }
    }
    write(op, payload) { if (this.open) this.sock.write(wsFrame(op, payload)); }
    json(o) { this.write(1, Buffer.from(JSON.stringify(o))); }
    binary(b) { this.write(2, b); }
}

// ---- frames (docs/serve.md) -----------------------------------------------------------

function header(type, lane, enc, tick, cells) {
    const h = Buffer.alloc(16);
    h.writeUInt16LE(0x4c48, 0); h[2] = 1; h[3] = type; h[4] = lane; h[5] = enc;
    h.writeUInt32LE(tick, 8); h.writeUInt32LE(cells, 12);
    return h;
}
function varint(n, out) {
    do { let b = n % 128; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
}
function unpack(packed, cells) {
    const m = new Uint8Array(cells);
    for (let i = 0; i < cells; i++) m[i] = (packed[i >> 2] >> ((i & 3) * 2)) & 3;
    return m;
}
function pack(map, from, count, out) {
    for (let i = 0; i < count; i += 4) {
        let b = 0;
        for (let k = 0; k < 4 && i + k < count; k++) b |= map[from + i + k] << (2 * k);
        out.push(b);
    }
}
// Runs of changed cells, joined across gaps shorter than 8 cells (a run costs two varints).
function deltaBody(prev, next) {
    const out = [];
    const n = next.length;
    let i = 0, end = 0;
    while (i < n) {
        if (prev[i] === next[i]) { i++; continue; }
        let j = i + 1, same = 0;
        while (j < n && same < 8) { same = prev[j] === next[j] ? same + 1 : 0; j++; }
        const stop = j - same;
        varint(i - end, out); varint(stop - i, out); pack(next, i, stop - i, out);
        end = stop; i = stop;
    }
    return Buffer.from(out);
}
function overlayBody(kinds, value) {
    const out = [];
    let i = 0;
    while (i < kinds.length) {
        const v = value(i);
        let j = i + 1;
        while (j < kinds.length && value(j) === v) j++;
        varint(j - i, out); out.push(v); i = j;
    }
    return Buffer.from(out);
}

// ---- the fake ---------------------------------------------------------------------------

export function startFake({ site, heaplab, port = 0, log = () => {} }) {
    const meta = Object.assign({ schema: 'heaplab.serve/1', version: 'fake', mode: 'live', limits: LIMITS, traces: [] },
        listMeta(heaplab));
    const tmp = mkdtempSync(join(tmpdir(), 'heaplab-fake-'));
    const sessions = new Map();
    let nextSession = 1;
    let uploads = 0;
    const stats = { binaryBytes: 0, maps: 0, rawMaps: 0 };

    const server = createServer((req, res) => {
        const url = new URL(req.url, 'http://x');
        const send = (code, type, body) => {
            res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
            res.end(body);
        };
        const err = (code, msg) => send(code, 'application/json', JSON.stringify({ error: msg }));
        if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html' || url.pathname.startsWith('/assets/'))) {
            const rel = url.pathname === '/' ? 'index.html' : normalize(url.pathname).slice(1);
            if (rel.includes('..')) return err(404, 'not found');
            let body;
            try { body = readFileSync(join(site, rel)); } catch { return err(404, 'not found'); }
            return send(200, MIME[extname(rel)] || 'application/octet-stream', body);
        }
        if (req.method === 'GET' && url.pathname === '/api/meta') return send(200, 'application/json', JSON.stringify(meta));
        if (req.method === 'GET' && url.pathname === '/api/export/ticks') {
            const s = sessions.get(Number(url.searchParams.get('session')));
            if (!s) return err(404, 'no such session');
            return send(200, 'application/x-ndjson', s.text);
        }
        if (req.method === 'POST' && url.pathname === '/api/traces') {
            const chunks = [];
            let size = 0;
            req.on('data', (c) => { size += c.length; if (size <= LIMITS.upload_bytes) chunks.push(c); });
            req.on('end', () => {
                const name = url.searchParams.get('name') || 'upload';
                if (size > LIMITS.upload_bytes) return err(413, `${name}: larger than ${LIMITS.upload_bytes} bytes`);
                const body = Buffer.concat(chunks);
                if (body.length < 8 || body.subarray(0, 8).toString('latin1') !== 'HLTRACE\0') {
                    return err(400, `${name}: not a heaplab trace (bad magic)`);
                }
                uploads++;
                send(201, 'application/json', JSON.stringify({ trace: `upload:${uploads}`, events: 0, threads: 1, damage: null }));
            });
            return;
        }
        err(404, 'not found');
    });

    server.on('upgrade', (req, sock) => {
        if (new URL(req.url, 'http://x').pathname !== '/ws') { sock.destroy(); return; }
        const key = req.headers['sec-websocket-key'];
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
        const c = new Client(sock);
        c.ws = new Socket(sock, (t) => c.message(t), () => c.stop());
    });

    class Client {
        constructor() { this.race = null; this.timer = null; this.mode = 'kind'; this.tps = 30; }
        error(message) { this.ws.json({ type: 'error', message }); }
        message(text) {
            let m;
            try { m = JSON.parse(text); } catch { return this.error('malformed message: not JSON'); }
            if (!m || typeof m.type !== 'string') return this.error('malformed message: no "type"');
            log('<-', text.slice(0, 200));
            switch (m.type) {
            case 'start': return this.start(m);
            case 'pause': if (this.race) { this.race.paused = true; this.state(); } return;
            case 'resume': if (this.race) { this.race.paused = false; this.seekRaw = false; this.state(); this.schedule(); } return;
            case 'step':
                if (this.race && this.race.paused && this.race.shown < this.race.ticks.length - 1) this.show(this.race.shown + 1, true);
                return;
            case 'speed':
                if (!Number.isInteger(m.tps) || m.tps < 0 || m.tps > LIMITS.tps_max) return this.error(`speed: tps 0..${LIMITS.tps_max}`);
                this.tps = m.tps; if (this.race) { this.state(); this.schedule(); } return;
            case 'seek':
                if (!this.race) return this.error('seek: no race');
                if (!Number.isInteger(m.tick) || m.tick < 0 || m.tick > this.race.head) return this.error(`seek: tick 0..${this.race.head}`);
                this.race.paused = true; this.race.last = []; this.show(m.tick, true); return;
            case 'overlay':
                if (!['kind', 'class', 'age'].includes(m.mode)) return this.error('overlay: kind, class or age');
                this.mode = m.mode; if (this.race && this.race.shown >= 0) this.sendMaps(this.race.shown); return;
            case 'cell': return this.cell(m);
            default: return this.error(`unknown message type "${m.type}"`);
            }
        }
        start(m) {
            const bad = (s) => this.error(s);
            if (m.trace !== undefined) return bad(`trace "${m.trace}": the fake server races workloads only`);
            if (!meta.workloads.some((w) => w.name === m.workload)) return bad(`unknown workload "${m.workload}" (try 'heaplab list workloads')`);
            if (!Number.isInteger(m.ops) || m.ops < 1 || m.ops > LIMITS.ops_max) return bad(`ops: 1..${LIMITS.ops_max}`);
            if (!Number.isInteger(m.arena) || m.arena < LIMITS.arena_min || m.arena > LIMITS.arena_max || (m.arena & (m.arena - 1))) {
                return bad('arena: a power of two, 64 KiB..256 MiB');
            }
            if (!Array.isArray(m.allocators) || !m.allocators.length) return bad('allocators: at least one');
            for (const a of m.allocators) if (!meta.lab.some((l) => l.name === a)) return bad(`unknown allocator "${a}" (try 'heaplab list lab')`);
            if (!Number.isInteger(m.tick_every) || m.tick_every < LIMITS.tick_every_min) return bad(`tick_every: at least ${LIMITS.tick_every_min}`);
            this.stop();
            const file = join(tmp, `race-${nextSession}.ticks`);
            try {
                execFileSync(heaplab, ['race', '-w', m.workload, '-n', String(m.ops), '-s', String(m.seed ?? 1),
                    '--arena', String(m.arena), '-a', m.allocators.join(','), '--tick-every', String(m.tick_every),
                    '--ticks', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
            } catch (e) {
                return bad(String(e.stderr || e.message).trim().split('\n')[0]);
            }
            const text = readFileSync(file, 'utf8');
            rmSync(file);
            const lines = text.trim().split('\n').map((l) => JSON.parse(l));
            const head = lines[0];
            const session = nextSession++;
            sessions.set(session, { text });
            const ticks = lines.filter((l) => l.type === 'tick').map((t) => ({
                op: t.op,
                maps: t.allocators.map((a) => unpack(Buffer.from(a.cells, 'base64'), head.cells)),
                allocators: t.allocators.map((a) => {
                    const o = Object.assign({}, a);
                    delete o.cells;
                    o.lat_alloc = fakeHist(a, 1); o.lat_free = fakeHist(a, 0.7);
                    return o;
                }),
            }));
            if (typeof m.tps === 'number') this.tps = m.tps;
            const h = Object.assign({}, head);
            for (const k of ['schema', 'tool', 'created_utc', 'command', 'machine']) delete h[k];
            this.race = { header: head, ticks, end: lines[lines.length - 1], shown: -1, head: -1, paused: false,
                last: [], since: head.allocators.map(() => new Int32Array(head.cells).fill(-1)), lastMetrics: 0, ended: false };
            this.ws.json(Object.assign(h, { type: 'race', session, ticks_total: ticks.length }));
            this.schedule();
        }
        schedule() {
            clearTimeout(this.timer);
            const r = this.race;
            if (!r || r.paused) return;
            this.timer = setTimeout(() => {
                if (!this.race || r.paused || !this.ws.open) return;
                if (r.head >= r.ticks.length - 1) return;
                this.show(r.head + 1, false);
                this.schedule();
            }, this.tps > 0 ? 1000 / this.tps : 1);
        }
        show(t, force) {
            const r = this.race;
            r.shown = t;
            if (t > r.head) {
                for (let lane = 0; lane < r.since.length; lane++) { // ages: when each cell turned used
                    const map = r.ticks[t].maps[lane], since = r.since[lane];
                    for (let i = 0; i < map.length; i++) {
                        if (map[i] !== 1) since[i] = -1; else if (since[i] < 0) since[i] = t;
                    }
                }
                r.head = t;
            }
            this.sendMaps(t);
            const now = Date.now();
            const last = t === r.ticks.length - 1;
            if (force || last || now - r.lastMetrics >= 50) { // metrics: at most 20 a second
                r.lastMetrics = now;
                this.ws.json({ type: 'tick', tick: t, op: r.ticks[t].op, allocators: r.ticks[t].allocators });
                this.state();
            }
            if (last && !r.ended) {
                r.ended = true;
                this.ws.json({ type: 'end', leaderboard: r.end.leaderboard });
                this.state();
            }
        }
        sendMaps(t) {
            const r = this.race;
            const cells = r.header.cells;
            r.ticks[t].maps.forEach((map, lane) => {
                const prev = r.last[lane];
                let enc = 0, body;
                const raw = Buffer.alloc(Math.ceil(cells / 4));
                for (let i = 0; i < cells; i++) raw[i >> 2] |= map[i] << ((i & 3) * 2);
                body = raw;
                if (prev) {
                    const d = deltaBody(prev, map);
                    if (d.length < raw.length) { enc = 1; body = d; }
                }
                if (!enc) stats.rawMaps++;
                stats.maps++;
                const frame = Buffer.concat([header(1, lane, enc, t, cells), body]);
                stats.binaryBytes += frame.length;
                this.ws.binary(frame);
                r.last[lane] = map;
                if (this.mode !== 'kind') {
                    const ov = this.mode === 'class' ? classOf(map, r.header.cell_bytes) : ageOf(r.since[lane], t, r.header.tick_every);
                    this.ws.binary(Buffer.concat([header(2, lane, 0, t, cells), overlayBody(map, (i) => (map[i] === 1 ? ov[i] : 0))]));
                }
            });
        }
        state() {
            const r = this.race;
            this.ws.json({ type: 'state', paused: r.paused, tick: r.shown, head: r.head, ring_first: 0, tps: this.tps });
        }
        cell(m) {
            const r = this.race;
            if (!r || r.shown < 0) return this.error('cell: no race');
            if (!Number.isInteger(m.lane) || m.lane < 0 || m.lane >= r.header.allocators.length) return this.error('cell: no such lane');
            if (!Number.isInteger(m.cell) || m.cell < 0 || m.cell >= r.header.cells) return this.error('cell: no such cell');
            const map = r.ticks[r.shown].maps[m.lane];
            const kind = r.header.cell_kinds[map[m.cell]];
            const out = { type: 'cell', lane: m.lane, cell: m.cell, offset: m.cell * r.header.cell_bytes, kind };
            if (map[m.cell] === 1) {
                let a = m.cell, b = m.cell;
                while (a > 0 && map[a - 1] === 1) a--;
                while (b + 1 < map.length && map[b + 1] === 1) b++;
                const bytes = (b - a + 1) * r.header.cell_bytes;
                const since = r.since[m.lane][m.cell];
                out.block = { offset: a * r.header.cell_bytes, requested: bytes, usable: bytes, op: Math.max(0, since) * r.header.tick_every };
            }
            this.ws.json(out);
        }
        stop() { clearTimeout(this.timer); this.race = null; }
    }

    return new Promise((resolve) => {
        server.listen(port, '127.0.0.1', () => {
            resolve({
                url: `http://127.0.0.1:${server.address().port}/`,
                stats,
                close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => { rmSync(tmp, { recursive: true, force: true }); r(); }); }),
            });
        });
    });
}

function fakeHist(a, scale) {
    const counts = new Array(24).fill(0);
    const b = (ns) => Math.max(0, Math.min(23, Math.floor(Math.log2(Math.max(1, ns)))));
    const n = Math.max(1, a.calls);
    counts[b(a.p50_ns)] += Math.round(0.5 * n * scale);
    counts[b(a.p90_ns)] += Math.round(0.4 * n * scale);
    counts[b(a.p99_ns)] += Math.round(0.09 * n * scale);
    counts[Math.min(23, b(a.p99_ns) + 3)] += Math.round(0.01 * n * scale);
    return { base_ns: 1, counts };
}
function classOf(map, cellBytes) {
    const ov = new Uint8Array(map.length);
    let i = 0;
    while (i < map.length) {
        if (map[i] !== 1) { i++; continue; }
        let j = i;
        while (j < map.length && map[j] === 1) j++;
        const cls = 1 + Math.max(0, Math.ceil(Math.log2((j - i) * cellBytes)) - 4);
        ov.fill(Math.min(255, cls), i, j);
        i = j;
    }
    return ov;
}
function ageOf(since, t, every) {
    const ov = new Uint8Array(since.length);
    for (let i = 0; i < since.length; i++) {
        if (since[i] >= 0) ov[i] = 1 + Math.min(254, Math.floor(Math.log2(Math.max(1, (t - since[i]) * every))));
    }
    return ov;
}

// Run alone: node fake_server.mjs SITE_DIR HEAPLAB [PORT] (a person trying the viewer).
if (import.meta.url === `file://${process.argv[1]}`) {
    const [site, heaplab, port] = process.argv.slice(2);
    startFake({ site, heaplab, port: Number(port || 0) }).then((s) => console.log(`fake heaplab serve on ${s.url}`));
}
