// Managing the shop from the dashboard (issue 23 part 5, API 1.2): locations (define, rename, retire, the
// unregistered ones with a one-click define), products with their barcodes, an item's history from its cell
// (paged, by dates), CSV exports, and who did it. Every action at desktop and phone width, against a real server.
// An API this server does not have yet (its OpenAPI document lacks the operation or parameter) makes the tests that
// need it print a SKIPPED line and skip. Run: scripts/test-browser.sh.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, command, getJson, launchBrowser, mustCommand, seedShop, startServer, waitUntil } from './harness.mjs';

const T = 30000;                               // generous per-condition deadline for a loaded 2-core machine
const VIEWPORTS = [['desktop', { width: 1440, height: 900 }], ['phone', { width: 390, height: 844 }]];
const KEY = 'manager-key-0123456789ab';

let server, keyed, refusing, browser, features;

/** What the server's OpenAPI document says it has, so a test of an API not yet merged skips instead of failing. */
async function detectFeatures(base) {
  const doc = await getJson(base, '/api/openapi.json');
  const text = JSON.stringify(doc);
  const params = (p) => ((doc.paths[p] && doc.paths[p].get && doc.paths[p].get.parameters) || []).map((x) => x.name);
  return {
    locations: !!doc.paths['/api/locations'] && text.includes('defineLocation') && text.includes('retireLocation'),
    barcodes: text.includes('"barcodes"') && text.includes('barcode-taken'),
    history: ['cursor', 'from', 'to'].every((n) => params('/api/activity').includes(n)),
    csv: text.includes('text/csv'),
    caller: text.includes('"caller"'),
  };
}
function needs(t, ...names) {
  const missing = names.filter((n) => !features[n]);
  if (!missing.length) return false;
  const why = `the server's OpenAPI document has no ${missing.join(', ')} (API 1.2 not merged yet)`;
  console.log(`SKIPPED: ${t.name}: ${why}`);
  t.skip(why);
  return true;
}

before(async () => {
  [server, keyed, refusing] = await Promise.all([
    startServer(),
    startServer({ env: { PIESHOP_API_KEYS: `manager=${KEY}` } }),
    startServer({ env: { PIESHOP_UNKNOWN_LOCATIONS: 'refuse' } }),
  ]);
  await seedShop(server.base);
  features = await detectFeatures(server.base);
  console.log(`# API 1.2 features on this server: ${JSON.stringify(features)}`);
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  await Promise.all([server, keyed, refusing].filter(Boolean).map((s) => s.stop()));
});

/** Opens the dashboard at a size and waits until it shows the stock and is live; `key` opens it as ?code=<key>. */
async function open(viewport, { base = server.base, key } = {}) {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  page.urls = [];
  page.on('request', (r) => page.urls.push(r.url()));
  await page.setViewportSize(viewport);
  await page.goto(`${base}/${key ? `api/dashboard?code=${key}` : ''}`);
  await page.locator('#matrix[data-ready]').waitFor({ timeout: T });
  await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });
  return page;
}
const cell = (page, location, sku) => page.locator(`#matrix td[data-location="${location}"][data-sku="${sku}"]`);
/** Scrolls the matrix (its own box) until the cell is drawn: on a phone most columns are not. */
async function revealCell(page, location, sku) {
  const target = cell(page, location, sku);
  await waitUntil(`${location}/${sku} in the matrix`, async () => {
    if (await target.count()) return true;
    await page.locator('#matrix-wrap').evaluate((el) => {
      el.scrollLeft = el.scrollLeft + el.clientWidth / 2 >= el.scrollWidth - el.clientWidth ? 0 : el.scrollLeft + el.clientWidth / 2;
    });
    return false;
  }, { timeoutMs: T, intervalMs: 100 });
  await target.scrollIntoViewIfNeeded();
  return target;
}
const locationRow = (page, id) => page.locator(`#locations tr[data-location="${id}"]`);
async function serverLocation(base, id) {
  return (await getJson(base, '/api/locations')).locations.find((l) => l.location === id);
}
async function waitForText(locator, expected) {
  await waitUntil(`${locator} to read ${expected}`, async () => ((await locator.textContent()) || '').trim() === expected, { timeoutMs: T });
}
/** A GTIN with a valid GS1 check digit: `body` is every digit but the last. */
function gtin(body) {
  const digits = [...body].map(Number).reverse();
  const sum = digits.reduce((a, d, i) => a + d * (i % 2 === 0 ? 3 : 1), 0);
  return `${body}${(10 - (sum % 10)) % 10}`;
}
/** Clicks a download button and returns the saved file's name and text. */
async function download(page, button) {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: T }), button.click()]);
  const text = fs.readFileSync(await file.path(), 'utf8');
  return { name: file.suggestedFilename(), text };
}
async function csvFrom(base, path, key) {
  const res = await fetch(`${base}${path}`, { headers: key ? { 'x-functions-key': key } : {} });
  assert.equal(res.status, 200, path);
  assert.match(res.headers.get('content-type'), /^text\/csv/);
  return res.text();
}
/** Saves a screenshot in artifacts/ (as scripts/test-browser.sh documents). */
async function screenshot(page, name) {
  const dir = path.join(REPO_ROOT, 'artifacts');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, name), fullPage: true, animations: 'disabled' });
}
const today = () => new Date().toISOString().slice(0, 10);           // the browser runs in UTC (harness.mjs)
const dayAfter = (d) => new Date(Date.parse(`${d}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);

for (const [width, viewport] of VIEWPORTS) {
  describe(`managing the shop from the dashboard at ${width} width`, () => {
    test('locations: define one, rename it and retire it; the list and the server agree at each step', async (t) => {
      if (needs(t, 'locations')) return;
      const page = await open(viewport);
      const id = `kiosk-${width}`;
      await page.getByRole('tab', { name: 'Location', exact: true }).click();
      const form = page.locator('#form-defineLocation');
      await form.getByLabel('Location ID').fill(id);
      await form.getByLabel('Kind').selectOption('shop');
      await form.getByLabel('Name').fill('Station kiosk');
      await form.getByRole('button', { name: 'Save location' }).click();
      await page.locator('#result[data-kind="ok"]', { hasText: `Saved location Station kiosk (${id}), a shop.` }).waitFor({ timeout: T });
      const row = locationRow(page, id);
      await waitForText(row.locator('.name'), 'Station kiosk');
      assert.equal((await row.locator('.kind').textContent()).trim(), 'Shop');
      assert.equal((await row.locator('.state').textContent()).trim(), 'In use');
      const saved = await serverLocation(server.base, id);
      assert.deepEqual([saved.name, saved.kind, saved.defined, saved.retired], ['Station kiosk', 'shop', true, false]);

      // Rename: the list's button brings the location into the form, name selected.
      await row.getByRole('button', { name: `Rename ${id}` }).click();
      assert.equal(await form.getByLabel('Location ID').inputValue(), id);
      assert.equal(await form.getByLabel('Kind').inputValue(), 'shop');
      assert.equal(await page.evaluate(() => document.activeElement.name), 'name');
      await form.getByLabel('Name').fill('Station kiosk, east entrance');
      await form.getByRole('button', { name: 'Save location' }).click();
      await waitForText(row.locator('.name'), 'Station kiosk, east entrance');
      assert.equal((await serverLocation(server.base, id)).name, 'Station kiosk, east entrance');

      // Retire: asks to confirm first (one stray tap retires nothing).
      await row.getByRole('button', { name: `Retire ${id}` }).click();
      assert.equal((await serverLocation(server.base, id)).retired, false, 'not retired before it is confirmed');
      await row.getByRole('button', { name: `Confirm: retire ${id}` }).click();
      await waitForText(row.locator('.state'), 'Retired');
      assert.equal((await serverLocation(server.base, id)).retired, true);
      await page.locator('#locations-result[data-kind="ok"]', { hasText: `Retired ${id}` }).waitFor({ timeout: T });
      await screenshot(page, `dashboard-locations-${width}.png`);
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('a location that holds stock without being defined is listed as not registered and defined with one click', async (t) => {
      if (needs(t, 'locations')) return;
      const page = await open(viewport);
      const id = `pop-up-stall-${width}`;
      await mustCommand(server.base, { type: 'receive', location: id, sku: 'apple-pie', quantity: 4 });
      const row = locationRow(page, id);
      await waitForText(row.locator('.state'), 'Not registered');
      assert.match(await page.locator('#locations-note').textContent(), /hold.? stock without being registered/);
      assert.equal((await serverLocation(server.base, id)).defined, false);
      await row.getByRole('button', { name: `Define ${id} as a shop` }).click();
      await waitForText(row.locator('.state'), 'In use');
      const defined = await serverLocation(server.base, id);
      assert.equal(defined.defined, true);
      assert.equal(defined.kind, 'shop');
      assert.equal(defined.name, id);
      assert.equal(defined.total, 4, 'its stock is still there');
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('under PIESHOP_UNKNOWN_LOCATIONS=refuse a typo is refused inline, naming the location, and nothing is recorded', async (t) => {
      if (needs(t, 'locations')) return;
      await mustCommand(refusing.base, { type: 'defineLocation', location: 'store-1', name: 'Store 1', kind: 'shop' });
      await mustCommand(refusing.base, { type: 'receive', location: 'store-1', sku: 'apple-pie', quantity: 5 });
      const page = await open(viewport, { base: refusing.base });
      const form = page.locator('#form-receive');
      await form.getByLabel('Location').fill('store-l');
      await form.getByLabel('Product (SKU)').fill('apple-pie');
      await form.getByLabel('Quantity received').fill('3');
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/commands') && r.request().method() === 'POST', { timeout: T });
      await form.getByRole('button', { name: 'Receive stock' }).click();
      const problem = await (await answered).json();
      assert.equal(problem.type, 'urn:pieshop:problem:unknown-location');
      assert.equal(problem.location, 'store-l');
      const box = page.locator('#result[data-kind="error"]');
      await box.waitFor({ timeout: T });
      assert.equal((await box.locator('.detail').textContent()).trim(), problem.detail);
      assert.match(await box.textContent(), /Define store-l under Locations first/);
      assert.equal(await form.getByLabel('Location').getAttribute('aria-invalid'), 'true');
      assert.equal((await getJson(refusing.base, '/api/inventory?location=store-l')).items.length, 0, 'nothing was recorded');
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('products with barcodes: saved from the form; a taken or an invalid barcode is shown inline from the problem', async (t) => {
      if (needs(t, 'barcodes')) return;
      const page = await open(viewport);
      const sku = `scotch-egg-${width}`, code = gtin(width === 'desktop' ? '400638133393' : '500000000001');
      await page.getByRole('tab', { name: 'Product' }).click();
      const form = page.locator('#form-defineProduct');
      await form.getByLabel('SKU').fill(sku);
      await form.getByLabel('Name').fill('Scotch egg');
      await form.getByLabel('Barcodes').fill(code);
      await form.getByRole('button', { name: 'Save product' }).click();
      await page.locator('#result[data-kind="ok"]', { hasText: `Saved product Scotch egg (${sku}), barcode ${code}.` }).waitFor({ timeout: T });
      // A scan of the barcode now names the product.
      const scan = await command(server.base, { type: 'receive', location: 'store-uptown', barcode: code, quantity: 2 });
      assert.equal(scan.status, 200, JSON.stringify(scan.body));
      assert.equal(scan.body.items[0].sku, sku);

      // The same barcode on another product: 409 barcode-taken, shown with who has it; nothing changes.
      await form.getByLabel('SKU').fill(`pork-pie-${width}`);
      await form.getByLabel('Name').fill('Pork pie');
      await form.getByLabel('Barcodes').fill(code);
      const taken = page.waitForResponse((r) => r.url().endsWith('/api/commands') && r.request().method() === 'POST', { timeout: T });
      await form.getByRole('button', { name: 'Save product' }).click();
      const problem = await (await taken).json();
      assert.equal(problem.type, 'urn:pieshop:problem:barcode-taken');
      const box = page.locator('#result[data-kind="error"]');
      await box.waitFor({ timeout: T });
      assert.equal((await box.locator('.detail').textContent()).trim(), problem.detail);
      assert.match(await box.locator('.fact').first().textContent(), new RegExp(`Barcode ${code} already belongs to .*\\(${sku}\\)`));
      assert.equal(await form.getByLabel('Barcodes').getAttribute('aria-invalid'), 'true');
      const again = await command(server.base, { type: 'receive', location: 'store-uptown', barcode: code, quantity: 1 });
      assert.equal(again.body.items[0].sku, sku, 'the barcode still names the first product');

      // A wrong check digit: 400, the barcodes field marked.
      const wrong = `${code.slice(0, -1)}${(Number(code.at(-1)) + 1) % 10}`;
      await form.getByLabel('Barcodes').fill(wrong);
      const invalid = page.waitForResponse((r) => r.url().endsWith('/api/commands') && r.request().method() === 'POST', { timeout: T });
      await form.getByRole('button', { name: 'Save product' }).click();
      const bad = await invalid;
      assert.equal(bad.status(), 400);
      await page.locator('#result[data-kind="error"] .detail').waitFor({ timeout: T });
      assert.equal(await form.getByLabel('Barcodes').getAttribute('aria-invalid'), 'true');
      assert.equal(await command(server.base, { type: 'receive', location: 'store-uptown', barcode: wrong, quantity: 1 }).then((r) => r.status), 400);
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test("an item's history from its cell: the whole of it page by page, by dates and kind, closed with Escape", async (t) => {
      if (needs(t, 'history')) return;
      const sku = `history-pie-${width}`, location = 'store-uptown';
      await mustCommand(server.base, { type: 'defineProduct', sku, name: `History pie (${width})` });
      const commands = Array.from({ length: 60 }, () => ({ commandId: randomUUID(), type: 'receive', location, sku, quantity: 1, scannerId: 'dock-9' }));
      commands.push({ commandId: randomUUID(), type: 'count', location, sku, quantity: 70, occurredAt: new Date(Date.now() - 3600000).toISOString() });
      const res = await fetch(`${server.base}/api/commands/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ commands }) });
      assert.equal(res.status, 200);
      const page = await open(viewport);
      const target = await revealCell(page, location, sku);
      await target.click();
      await page.locator('#selection-text', { hasText: `${sku}) at ${location}` }).waitFor({ timeout: T });
      await page.getByRole('button', { name: /History of this item/ }).click();
      const dialog = page.getByRole('dialog', { name: `History of History pie (${width}) at ${location}` });
      await dialog.waitFor({ timeout: T });

      const all = [];
      for (let cursor = null; ;) {
        const body = await getJson(server.base, `/api/activity?location=${location}&sku=${sku}&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        all.push(...body.events.map((e) => e.eventId));
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      assert.equal(all.length, 61);
      const shown = () => dialog.locator('#history-list li[data-event-id]').evaluateAll((lis) => lis.map((li) => li.dataset.eventId));
      await waitUntil('the first page', async () => (await shown()).length === 50, { timeoutMs: T });
      assert.deepEqual(await shown(), all.slice(0, 50), 'newest first, as the server pages them');
      await dialog.getByRole('button', { name: 'Show older entries' }).click();
      await waitUntil('the whole history', async () => (await shown()).length === 61, { timeoutMs: T });
      assert.deepEqual(await shown(), all);
      await page.screenshot({ path: path.join(REPO_ROOT, 'artifacts', `dashboard-history-${width}.png`), animations: 'disabled' });
      assert.equal(await dialog.getByRole('button', { name: 'Show older entries' }).isVisible(), false, 'no more pages');
      await dialog.locator('#history-status', { hasText: 'the whole history in this period' }).waitFor({ timeout: T });
      assert.ok(await dialog.locator('#history-list li', { hasText: 'by dock-9' }).count() > 0, 'the scanner is shown');

      // by dates: from tomorrow nothing, today all of it
      await dialog.getByLabel('From').fill(dayAfter(today()));
      await dialog.getByRole('button', { name: 'Show', exact: true }).click();
      await dialog.locator('#history-status', { hasText: 'No entries in this period.' }).waitFor({ timeout: T });
      assert.equal((await shown()).length, 0);
      await dialog.getByLabel('From').fill(today());
      await dialog.getByLabel('To (inclusive)').fill(today());
      await dialog.getByRole('button', { name: 'Show', exact: true }).click();
      await waitUntil('today\'s first page', async () => (await shown()).length === 50, { timeoutMs: T });
      // by kind: the one count, with what it did when it arrived
      await dialog.getByLabel('Kind').selectOption('pieshop.StockCounted');
      await dialog.getByRole('button', { name: 'Show', exact: true }).click();
      await waitUntil('the count alone', async () => (await shown()).length === 1, { timeoutMs: T });
      const counted = (await getJson(server.base, `/api/activity?location=${location}&sku=${sku}&type=pieshop.StockCounted`)).events[0];
      assert.deepEqual(await shown(), [counted.eventId]);
      const status = counted.status || counted.outcome;
      if (status && status !== 'applied') await dialog.locator(`[data-outcome="${status}"]`).waitFor({ timeout: T });

      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden', timeout: T });
      assert.equal(await page.evaluate(() => document.activeElement.id), 'open-history', 'focus goes back to the button');
      // and from the keyboard: H on a focused cell
      await target.locator('.cell').focus();
      await page.keyboard.press('h');
      await dialog.waitFor({ timeout: T });
      await page.keyboard.press('Escape');
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('exports: the stock view (with its filter), the activity and an item\'s history download as the CSV the server answers', async (t) => {
      if (needs(t, 'csv')) return;
      const page = await open(viewport);
      const stock = await download(page, page.locator('#export-stock'));
      assert.equal(stock.text, await csvFrom(server.base, '/api/inventory?format=csv'));
      assert.match(stock.name, /\.csv$/);
      assert.ok(stock.text.split('\r\n').length > 10, 'a header and a row per item');

      await page.locator('#location-filter').selectOption('store-harbour');
      const filtered = await download(page, page.locator('#export-stock'));
      assert.equal(filtered.text, await csvFrom(server.base, '/api/inventory?format=csv&location=store-harbour'));
      assert.ok(filtered.text.split('\r\n').filter(Boolean).length < stock.text.split('\r\n').filter(Boolean).length);
      await page.locator('#location-filter').selectOption('');

      const activity = await download(page, page.getByRole('button', { name: 'Download activity CSV' }));
      assert.equal(activity.text, await csvFrom(server.base, '/api/activity?format=csv'));

      if (features.history) {
        await (await revealCell(page, 'store-uptown', 'apple-pie')).click();
        await page.getByRole('button', { name: /History of this item/ }).click();
        const dialog = page.getByRole('dialog');
        await dialog.locator('#history-list li[data-event-id]').first().waitFor({ timeout: T });
        const history = await download(page, dialog.getByRole('button', { name: 'Download CSV' }));
        assert.equal(history.text, await csvFrom(server.base, '/api/activity?location=store-uptown&sku=apple-pie&format=csv'));
      }
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('under function keys an export carries the key in its header, never in a URL', async (t) => {
      if (needs(t, 'csv')) return;
      await mustCommand(keyed.base, { type: 'receive', location: 'store-keyed', sku: `rhubarb-pie-${width}`, quantity: 11 }, { key: KEY });
      const page = await open(viewport, { base: keyed.base, key: KEY });
      const keys = [];
      page.on('request', (r) => { if (r.url().includes('format=csv')) keys.push(r.headers()['x-functions-key'] ?? null); });
      const stock = await download(page, page.locator('#export-stock'));
      assert.equal(stock.text, await csvFrom(keyed.base, '/api/inventory?format=csv', KEY));
      assert.deepEqual(keys, [KEY], 'the export was fetched with the key in x-functions-key');
      for (const u of page.urls) assert.ok(!u.includes(KEY) || u.endsWith(`/api/dashboard?code=${KEY}`), `a key went into a URL: ${u}`);
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('under function keys the activity shows who sent each change: the key\'s name, apart from what the scanner says', async (t) => {
      if (needs(t, 'caller')) return;
      const page = await open(viewport, { base: keyed.base, key: KEY });
      const answer = await mustCommand(keyed.base, { type: 'receive', location: 'store-keyed', sku: `caller-pie-${width}`, quantity: 3, scannerId: 'till-9' }, { key: KEY });
      const entry = page.locator(`#activity li[data-event-id="${answer.events[0]}"]`);
      await entry.waitFor({ timeout: T });
      assert.equal((await entry.locator('[data-caller]').textContent()).trim(), 'sent by manager');
      assert.match(await entry.textContent(), /by till-9/);
      assert.deepEqual(page.errors, []);
      await page.close();
    });
  });
}
