// Test harness: a standalone pieshop server on a free loopback port with a throw-away data dir, a headless Debian
// Chromium driven by playwright-core, and small HTTP helpers. Nothing here sleeps to synchronise: every wait polls a
// condition until a deadline.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.PIESHOP_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

export function handlerBinary() {
  const fromEnv = process.env.PIESHOP_HANDLER_BIN;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`PIESHOP_HANDLER_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const bin = path.join(REPO_ROOT, 'target', 'debug', 'handler');
  if (!fs.existsSync(bin)) {
    console.log('# target/debug/handler is missing; building it with cargo');
    const r = spawnSync('cargo', ['build', '-p', 'pieshop', '--bin', 'handler'], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cargo build -p pieshop --bin handler failed');
  }
  return bin;
}

/** Polls `check` (async, truthy = done) until it succeeds or the deadline passes. */
export async function waitUntil(what, check, { timeoutMs = 10000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { const v = await check(); if (v) return v; } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Starts the server; `env` adds to (or overrides) its environment, e.g. `{ PIESHOP_API_KEYS: 'manager=<key>' }`.
 * Function keys are off unless `env` turns them on (a PIESHOP_API_KEYS of the caller's shell is not passed on).
 */
export async function startServer({ env = {} } = {}) {
  const bin = handlerBinary();
  const inherited = { ...process.env };
  delete inherited.PIESHOP_API_KEYS;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pieshop-browser-'));
    const log = [];
    const child = spawn(bin, [], {
      env: { ...inherited, PIESHOP_DATA_DIR: dataDir, PIESHOP_LISTEN: `127.0.0.1:${port}`, RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let exited = null;
    child.on('exit', (code, signal) => { exited = { code, signal }; });
    for (const s of [child.stdout, child.stderr]) s.on('data', (d) => { log.push(String(d)); if (log.length > 200) log.shift(); });
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitUntil('GET /api/health', async () => {
        if (exited) throw Object.assign(new Error(`server exited early (${JSON.stringify(exited)})`), { fatal: true });
        const r = await fetch(`${base}/api/health`);
        return r.ok && (await r.json()).status === 'ok';
      }, { timeoutMs: 20000, intervalMs: 100 });
    } catch (err) {
      child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (exited && attempt < 3) continue;       // most likely lost the port race; try another port
      throw new Error(`${err.message}\n--- server log ---\n${log.join('')}`);
    }
    return {
      base, dataDir, log,
      async stop() {
        if (!exited) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await gone;
          clearTimeout(t);
        }
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
}

/**
 * Launches Chromium. With PIESHOP_DASHBOARD_FILE set, every page gets that file in place of the dashboard the server
 * embeds (the API stays the server's): to try a page against another build of the server without rebuilding it.
 */
export async function launchBrowser() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pieshop-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 }, locale: 'en-GB', timezoneId: 'UTC',
  });
  const pageFile = process.env.PIESHOP_DASHBOARD_FILE;
  if (pageFile) {
    const body = fs.readFileSync(pageFile, 'utf8');
    await context.route((url) => url.pathname === '/' || url.pathname === '/api/dashboard',
      (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body }));
  }
  return {
    context,
    async close() { await context.close(); fs.rmSync(userDataDir, { recursive: true, force: true }); },
  };
}

/** Headers carrying a function key as the Functions host reads it (none without a key). */
const keyHeaders = (key) => (key ? { 'x-functions-key': key } : {});

/** POSTs one command as another client would (plain HTTP); returns {status, body, headers}. `key`: function key. */
export async function command(base, fields, commandId = randomUUID(), { key } = {}) {
  const res = await fetch(`${base}/api/commands`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...keyHeaders(key) }, body: JSON.stringify({ commandId, ...fields }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

export async function mustCommand(base, fields, { key } = {}) {
  const r = await command(base, fields, randomUUID(), { key });
  if (r.status !== 200) throw new Error(`${fields.type} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function getJson(base, p, { key } = {}) {
  const res = await fetch(`${base}${p}`, { headers: keyHeaders(key) });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return res.json();
}

/** A small shop: five locations, eight products, some below their reorder level, a day's worth of movements. */
export async function seedShop(base) {
  const products = [
    ['apple-pie', 'Apple pie', 'fruit', 8], ['cherry-tart', 'Cherry tart', 'fruit', 6],
    ['pecan-pie', 'Pecan pie', 'nut', 4], ['pumpkin-pie', 'Pumpkin pie', 'seasonal', 5],
    ['key-lime-pie', 'Key lime pie', 'citrus', 4], ['lemon-meringue', 'Lemon meringue pie', 'citrus', 5],
    ['chicken-pot-pie', 'Chicken pot pie', 'savoury', 10], ['blueberry-muffin', 'Blueberry muffin', 'bakes', 12],
  ];
  for (const [sku, name, category, reorderLevel] of products) await mustCommand(base, { type: 'defineProduct', sku, name, category, reorderLevel });
  const stock = {
    'central-kitchen': { 'apple-pie': 64, 'cherry-tart': 40, 'pecan-pie': 22, 'pumpkin-pie': 30, 'key-lime-pie': 18, 'lemon-meringue': 24, 'chicken-pot-pie': 55, 'blueberry-muffin': 120 },
    'store-downtown': { 'apple-pie': 18, 'cherry-tart': 9, 'pecan-pie': 6, 'pumpkin-pie': 12, 'key-lime-pie': 5, 'chicken-pot-pie': 14, 'blueberry-muffin': 36 },
    'store-harbour': { 'apple-pie': 15, 'cherry-tart': 11, 'pumpkin-pie': 8, 'lemon-meringue': 9, 'chicken-pot-pie': 12, 'blueberry-muffin': 30 },
    'store-uptown': { 'apple-pie': 20, 'cherry-tart': 7, 'pecan-pie': 9, 'key-lime-pie': 8, 'lemon-meringue': 7, 'chicken-pot-pie': 16, 'blueberry-muffin': 28 },
    'food-truck': { 'apple-pie': 10, 'chicken-pot-pie': 12, 'blueberry-muffin': 24 },
  };
  for (const [location, items] of Object.entries(stock)) {
    for (const [sku, quantity] of Object.entries(items)) await mustCommand(base, { type: 'receive', location, sku, quantity, scannerId: `dock-${location.split('-').pop()}` });
  }
  const moves = [
    { type: 'remove', location: 'store-downtown', sku: 'apple-pie', quantity: 12, reason: 'sold', scannerId: 'till-2' },
    { type: 'remove', location: 'store-harbour', sku: 'cherry-tart', quantity: 8, reason: 'sold', scannerId: 'till-5' },
    { type: 'remove', location: 'store-uptown', sku: 'lemon-meringue', quantity: 2, reason: 'damaged' },
    { type: 'transfer', from: 'central-kitchen', to: 'store-harbour', sku: 'pecan-pie', quantity: 3 },
    { type: 'remove', location: 'food-truck', sku: 'chicken-pot-pie', quantity: 9, reason: 'sold', scannerId: 'truck-1' },
    { type: 'count', location: 'store-downtown', sku: 'key-lime-pie', quantity: 0 },
    { type: 'remove', location: 'store-uptown', sku: 'blueberry-muffin', quantity: 6, reason: 'expired' },
    { type: 'transfer', from: 'central-kitchen', to: 'store-downtown', sku: 'cherry-tart', quantity: 6 },
  ];
  for (const m of moves) await mustCommand(base, m);
}

export const catalogueSku = (i) => `pie-${String(i).padStart(4, '0')}`;
export const catalogueLocation = (j) => `shop-${String(j).padStart(2, '0')}`;
/** What a catalogue item received: varied, never zero, the same on every run. */
export const catalogueQuantity = (i, j) => 1 + ((i * 7 + j * 13) % 60);

/**
 * A chain's catalogue: `products` defined products (`pie-0000`… named "Pie number N", reorder levels 5–14), each
 * received at every one of `locations` locations (`shop-00`…), through /api/commands/batch, 500 commands a batch,
 * two batches in flight; resolves once the read model holds every item.
 */
export async function seedCatalogue(base, products, locations) {
  const commands = [];
  for (let i = 0; i < products; i++) {
    commands.push({ commandId: randomUUID(), type: 'defineProduct', sku: catalogueSku(i), name: `Pie number ${i}`,
      category: `range-${i % 7}`, reorderLevel: 5 + (i % 10) });
  }
  for (let i = 0; i < products; i++) {
    for (let j = 0; j < locations; j++) {
      commands.push({ commandId: randomUUID(), type: 'receive', location: catalogueLocation(j), sku: catalogueSku(i),
        quantity: catalogueQuantity(i, j) });
    }
  }
  const batches = [];
  for (let k = 0; k < commands.length; k += 500) batches.push(commands.slice(k, k + 500));
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < batches.length) {
      const res = await fetch(`${base}/api/commands/batch`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ commands: batches[next++] }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`batch answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      const rejected = body.results.filter((r) => r.status === 'rejected');
      if (rejected.length) throw new Error(`batch rejected ${rejected.length}: ${JSON.stringify(rejected[0])}`);
    }
  }));
  await waitUntil('the read model to hold every item', async () => {
    const s = await getJson(base, '/api/inventory/summary');
    return s.products.reduce((n, p) => n + Object.keys(p.byLocation).length, 0) >= products * locations;
  }, { timeoutMs: 300000, intervalMs: 500 });
  return commands.length;
}
