// web/test/lib.mjs: what the browser tests share: arguments, Debian's Chromium through
// playwright-core (from the build's `npm ci`), checks that count, and the closing line
// "N passed, N failed" that ctest's log shows.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const SKIP = 77; // ctest SKIP_RETURN_CODE

// --site DIR --heaplab BIN --modules DIR --out DIR [--chromium BIN]
export function args() {
    const a = {};
    const v = process.argv.slice(2);
    for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
    for (const k of ['site', 'modules', 'out']) {
        if (!a[k]) {
            console.error(`usage: node ${process.argv[1]} --site DIR --heaplab BIN --modules DIR --out DIR`);
            process.exit(2);
        }
    }
    a.chromium = a.chromium || process.env.HEAPLAB_CHROMIUM || '/usr/bin/chromium';
    return a;
}

export async function launch(a) {
    if (!existsSync(a.chromium)) {
        console.log(`skip: no Chromium at ${a.chromium} (scripts/deps.sh installs Debian's chromium)`);
        process.exit(SKIP);
    }
    const { chromium } = createRequire(join(resolve(a.modules), 'x.js'))('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'heaplab-chromium-'));
    // launchPersistentContext: a fresh --user-data-dir of our own, removed at the end.
    const ctx = await chromium.launchPersistentContext(profile, {
        executablePath: a.chromium,
        headless: true,
        viewport: { width: 1280, height: 1100 },
        acceptDownloads: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const close = async () => {
        await ctx.close();
        rmSync(profile, { recursive: true, force: true });
    };
    return { ctx, close };
}

// Console errors and page errors, collected for the final check.
export function watchConsole(page, sink) {
    page.on('console', (m) => {
        if (m.type() === 'error') sink.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => sink.push(`page error: ${e.message}`));
}

export class Checks {
    constructor() { this.pass = 0; this.fail = 0; }
    ok(name, cond, detail) {
        if (cond) this.pass++;
        else {
            this.fail++;
            console.error(`FAIL: ${name}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
        }
        return cond;
    }
    finish() {
        console.log(`${this.pass} passed, ${this.fail} failed`);
        return this.fail ? 1 : 0;
    }
}

// Polls fn (async, in node) until it returns a truthy value or ms pass; returns the value.
export async function until(fn, ms = 10000, every = 50) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v || Date.now() > end) return v;
        await new Promise((r) => setTimeout(r, every));
    }
}

// Starts `heaplab serve --port 0 ARGS...` and waits for the URL it prints. Returns
// {srv, url, exited}: exited resolves to {code, sig}. Without a URL in 15 s the check
// fails and the test ends. Whatever happens, the server does not outlive the test.
export async function startServe(a, c, extra = []) {
    const srv = spawn(a.heaplab, ['serve', '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    srv.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((r) => srv.on('exit', (code, sig) => r({ code, sig })));
    process.on('exit', () => { if (srv.exitCode === null) srv.kill('SIGKILL'); });
    const url = await until(() => (out.match(/serving on (http:\/\/\S+)/) || [])[1], 15000);
    c.ok('serve prints its URL', !!url, out);
    if (!url) {
        srv.kill('SIGKILL');
        process.exit(c.finish());
    }
    return { srv, url, exited };
}
