// Browser tests of the dashboard (handlers/assets/dashboard.html) in headless Debian Chromium against a standalone
// server started here. Run: scripts/test-browser.sh (or `npm test` in this folder).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, command, getJson, launchBrowser, mustCommand, seedShop, startServer, waitUntil } from './harness.mjs';

const ARTIFACTS = path.join(REPO_ROOT, 'artifacts');
const T = 15000; // generous per-condition timeout for a 2-core machine

let server, browser;

before(async () => {
  server = await startServer();
  await seedShop(server.base);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** Opens the dashboard and waits until the matrix shows the current summary and the long-poll is live. */
async function openDashboard(p = '/') {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.errors = errors;
  page.requests = [];
  page.on('request', (r) => page.requests.push(r.url()));
  await page.goto(`${server.base}${p}`);
  await page.locator('#matrix tbody td[data-sku]').first().waitFor({ timeout: T });
  await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });
  return page;
}
const cell = (page, location, sku) => page.locator(`#matrix td[data-location="${location}"][data-sku="${sku}"]`);
async function waitForText(locator, expected, timeout = T) {
  await waitUntil(`${locator} to read ${expected}`, async () => ((await locator.textContent()) || '').trim() === String(expected), { timeoutMs: timeout });
}
/** One item as the read model holds it; with `minVersion`, once it holds that version (a command's answer says it). */
async function item(location, sku, minVersion) {
  return getJson(server.base, `/api/inventory/${location}/${sku}${minVersion ? `?minVersion=${minVersion}` : ''}`);
}
const versionOf = (answer) => answer.items[0].version;

describe('dashboard', () => {
  test('is served at / and /api/dashboard as one self-contained page', async () => {
    for (const p of ['/', '/api/dashboard']) {
      const res = await fetch(`${server.base}${p}`);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get('content-type'), /^text\/html/);
      const html = await res.text();
      assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)="(https?:)?\/\//i, 'no external scripts or styles');
      const source = fs.readFileSync(path.join(REPO_ROOT, 'handlers', 'assets', 'dashboard.html'), 'utf8');
      assert.ok(html === source, 'the server embeds an older dashboard.html: rebuild it (cargo build -p pieshop --bin handler)');
    }
  });

  test('loads: matrix of products × locations with totals, low stock marked, freshness shown, nothing fetched off-site', async () => {
    const page = await browser.context.newPage();
    const foreign = [];
    page.on('request', (r) => { if (!r.url().startsWith(server.base) && !r.url().startsWith('data:')) foreign.push(r.url()); });
    await page.goto(`${server.base}/api/dashboard`);
    await page.locator('#matrix tbody td[data-sku]').first().waitFor({ timeout: T });
    const summary = await getJson(server.base, '/api/inventory/summary');

    const headers = (await page.locator('#matrix thead th').allTextContents()).map((s) => s.trim());
    const locations = summary.locations.map((l) => l.location).sort();
    assert.deepEqual(headers, ['Product', ...locations, 'Total']);
    assert.equal(await page.locator('#matrix tbody tr').count(), summary.products.length);
    for (const p of summary.products) {
      await waitForText(page.locator(`#matrix td[data-total-sku="${p.sku}"]`), p.total.toLocaleString('en-GB'));
      for (const l of locations) {
        const q = p.byLocation[l];
        await waitForText(cell(page, l, p.sku), q == null ? '–' : q.toLocaleString('en-GB'));
      }
    }
    for (const l of summary.locations) {
      await waitForText(page.locator(`#matrix tfoot td[data-total-location="${l.location}"]`), l.total.toLocaleString('en-GB'));
    }
    // store-downtown counted 0 key lime pies (reorder level 4): low and out of stock
    assert.match(await cell(page, 'store-downtown', 'key-lime-pie').getAttribute('class'), /\blow\b.*\bout\b/);
    // store-uptown has 9 pecan pies (reorder level 4): not low
    assert.doesNotMatch((await cell(page, 'store-uptown', 'pecan-pie').getAttribute('class')) || '', /\blow\b/);

    await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });
    // Nothing is waiting to be applied: the page says so, however long ago the last change was.
    await page.locator('#as-of', { hasText: /^As of .+ \(up to date\)$/ }).waitFor({ timeout: T });
    assert.ok((await page.locator('#activity li[data-event-id]').count()) > 5, 'activity feed is filled');
    assert.deepEqual(foreign, [], 'every request stays on the server (works offline and behind Easy Auth)');
    assert.deepEqual(page.errors || [], []);
    await page.close();
  });

  test('a command sent by another client appears on the open page without a reload, over push', async () => {
    const page = await openDashboard();
    await page.evaluate(() => { window.__sameDocument = true; });
    assert.equal(await page.locator('#conn').textContent(), 'live');

    const before = (await item('store-harbour', 'apple-pie')).quantity;
    const answer = await mustCommand(server.base, { type: 'receive', location: 'store-harbour', sku: 'apple-pie', quantity: 25, scannerId: 'dock-7' });
    await waitForText(cell(page, 'store-harbour', 'apple-pie'), before + 25);
    await page.locator(`#activity li[data-event-id="${answer.events[0]}"]`).waitFor({ timeout: T });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');

    // A product nobody had seen, at a new location, shows up as a new row and column.
    await mustCommand(server.base, { type: 'receive', location: 'market-stall', sku: 'mince-pie', quantity: 3 });
    await waitForText(cell(page, 'market-stall', 'mince-pie'), '3');
    assert.ok(page.requests.some((u) => u.includes('/api/negotiate')), 'the page negotiated live push');
    assert.deepEqual(page.requests.filter((u) => u.includes('waitForChange=')), [], 'no long-poll: push carried the changes');
    await page.close();
  });

  test('two pages open: a change made on one shows on the other without reload, over push, not long-poll', async () => {
    const a = await openDashboard();
    const b = await openDashboard();
    await b.evaluate(() => { window.__sameDocument = true; });
    assert.equal(await b.locator('#conn').textContent(), 'live');
    const before = (await item('store-uptown', 'cherry-tart')).quantity;
    await a.getByRole('tab', { name: 'Receive' }).click();
    const form = a.locator('#form-receive');
    await form.getByLabel('Location').fill('store-uptown');
    await form.getByLabel('Product (SKU)').fill('cherry-tart');
    await form.getByLabel('Quantity received').fill('5');
    await form.getByRole('button', { name: 'Receive stock' }).click();
    await waitForText(cell(b, 'store-uptown', 'cherry-tart'), before + 5);
    assert.equal(await b.evaluate(() => window.__sameDocument), true, 'page b was not reloaded');
    assert.equal(await b.locator('#freshness').getAttribute('data-conn'), 'live');
    assert.deepEqual(b.requests.filter((u) => u.includes('waitForChange=')), [], 'no long-poll request carried the change');
    await a.close();
    await b.close();
  });

  test('without push (negotiate refused) the page long-polls, says "polling", and still shows changes', async () => {
    const page = await browser.context.newPage();
    page.requests = [];
    page.on('request', (r) => page.requests.push(r.url()));
    await page.route('**/api/negotiate**', (route) => route.fulfill({ status: 503, body: '' }));
    await page.goto(server.base);
    await page.locator('#freshness[data-conn="polling"]').waitFor({ timeout: T });
    await waitUntil('a long-poll to be open', () => page.requests.some((u) => u.includes('/api/inventory/summary?waitForChange=')), { timeoutMs: T });
    const before = (await item('food-truck', 'apple-pie')).quantity;
    await mustCommand(server.base, { type: 'receive', location: 'food-truck', sku: 'apple-pie', quantity: 2 });
    await waitForText(cell(page, 'food-truck', 'apple-pie'), before + 2);
    assert.equal(await page.locator('#conn').textContent(), 'polling');
    await page.close();
  });

  test('submitting the receive form updates the matrix at once (read-your-write with minVersion)', async () => {
    const page = await openDashboard();
    const reads = [];
    page.on('request', (r) => { if (/\/api\/inventory\/store-uptown\/pumpkin-pie\?minVersion=\d+/.test(r.url())) reads.push(r.url()); });
    await page.getByRole('tab', { name: 'Receive' }).click();
    const form = page.locator('#form-receive');
    await form.getByLabel('Location').fill('store-uptown');
    await form.getByLabel('Product (SKU)').fill('pumpkin-pie');
    await form.getByLabel('Quantity received').fill('14');
    await form.getByRole('button', { name: 'Receive stock' }).click();
    await page.locator('#result[data-kind="ok"]', { hasText: 'Received 14 × Pumpkin pie at store-uptown' }).waitFor({ timeout: T });
    await waitForText(cell(page, 'store-uptown', 'pumpkin-pie'), '14');
    await page.locator('#result', { hasText: 'Shown in the stock view.' }).waitFor({ timeout: T });
    const now = await item('store-uptown', 'pumpkin-pie');
    assert.equal(now.quantity, 14);
    assert.equal(reads.length, 1, 'the page asked for the version its command produced');
    assert.match(reads[0], new RegExp(`minVersion=${now.version}\\b`));
    await page.close();
  });

  test('a removal of more than is on hand shows the problem detail', async () => {
    const page = await openDashboard();
    await page.getByRole('tab', { name: 'Remove' }).click();
    const form = page.locator('#form-remove');
    await form.getByLabel('Location').fill('store-harbour');
    await form.getByLabel('Product (SKU)').fill('cherry-tart');
    await form.getByLabel('Quantity removed').fill('9999');
    await form.getByLabel('Reason').selectOption('sold');
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/commands') && r.request().method() === 'POST', { timeout: T });
    await form.getByRole('button', { name: 'Remove stock' }).click();
    const res = await answered;
    assert.equal(res.status(), 409);
    const problem = await res.json();
    assert.equal(problem.type, 'urn:pieshop:problem:insufficient-stock');
    const box = page.locator('#result[data-kind="error"]');
    await box.waitFor({ timeout: T });
    assert.equal((await box.locator('.detail').textContent()).trim(), problem.detail);
    assert.match(await box.textContent(), /Nothing was changed/);
    assert.doesNotMatch(await box.textContent(), /null|undefined/);
    await page.close();
  });

  test('a command whose answer is lost is sent again with the same commandId and applied once', async () => {
    const page = await openDashboard();
    const bodies = [];
    let dropped = false;
    await page.route('**/api/commands', async (route) => {
      bodies.push(JSON.parse(route.request().postData()));
      if (!dropped) {
        dropped = true;
        await route.fetch();                    // the server applies it ...
        await route.abort('connectionreset');   // ... but the answer never reaches the page
      } else await route.continue();
    });
    const before = (await item('food-truck', 'blueberry-muffin')).quantity;
    await page.getByRole('tab', { name: 'Receive' }).click();
    const form = page.locator('#form-receive');
    await form.getByLabel('Location').fill('food-truck');
    await form.getByLabel('Product (SKU)').fill('blueberry-muffin');
    await form.getByLabel('Quantity received').fill('7');
    await form.getByRole('button', { name: 'Receive stock' }).click();
    await page.locator('#result[data-kind="ok"]', { hasText: 'already been recorded' }).waitFor({ timeout: T });
    assert.equal(bodies.length, 2);
    assert.equal(bodies[0].commandId, bodies[1].commandId);
    assert.match(bodies[0].commandId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal((await item('food-truck', 'blueberry-muffin')).quantity, before + 7, 'applied exactly once');
    await waitForText(cell(page, 'food-truck', 'blueberry-muffin'), before + 7);

    // The next, separate submission gets a new id.
    await page.unroute('**/api/commands');
    await form.getByLabel('Quantity received').fill('1');
    const sent = page.waitForRequest((r) => r.url().endsWith('/api/commands'), { timeout: T });
    await form.getByRole('button', { name: 'Receive stock' }).click();
    assert.notEqual(JSON.parse((await sent).postData()).commandId, bodies[0].commandId);
    await waitForText(cell(page, 'food-truck', 'blueberry-muffin'), before + 8);
    await page.close();
  });

  test('search uses q, the location filter narrows the matrix and the activity feed', async () => {
    const page = await openDashboard();
    const searches = [];
    page.on('request', (r) => { if (/\/api\/inventory\?.*\bq=lime\b/.test(r.url())) searches.push(r.url()); });
    await page.getByLabel('Search products').fill('lime');
    await waitUntil('one matching row', async () => (await page.locator('#matrix tbody tr').count()) === 1
      && (await page.locator('#matrix tbody td[data-sku="key-lime-pie"]').count()) > 0, { timeoutMs: T });
    assert.ok(searches.length >= 1);
    await page.getByLabel('Search products').press('Escape');
    await waitUntil('all rows back', async () => (await page.locator('#matrix tbody tr').count()) > 5, { timeoutMs: T });

    await page.locator('#location-filter').selectOption('store-harbour');
    await waitUntil('one location column', async () => (await page.locator('#matrix thead th.loc').allTextContents()).join() === 'store-harbour', { timeoutMs: T });
    await page.locator('#activity-scope', { hasText: 'store-harbour' }).waitFor({ timeout: T });
    const where = await page.locator('#activity li .mono').allTextContents();
    assert.ok(where.length > 0 && where.every((w) => w.includes('store-harbour')), where.join(' | '));
    await page.close();
  });

  test('keyboard: arrow keys move through the matrix and Enter fills the form', async () => {
    const page = await openDashboard();
    const first = page.locator('#matrix .cell[tabindex="0"]');
    await first.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const focused = await page.evaluate(() => { const td = document.activeElement.closest('td'); return { l: td.dataset.location, s: td.dataset.sku }; });
    await page.keyboard.press('Enter');
    const form = page.locator('#form-receive');
    assert.equal(await form.getByLabel('Location').inputValue(), focused.l);
    assert.equal(await form.getByLabel('Product (SKU)').inputValue(), focused.s);
    assert.equal(await page.evaluate(() => document.activeElement.name), 'quantity');
    await page.close();
  });

  test('backs off while the server cannot be reached and recovers on its own', async () => {
    const page = await openDashboard();
    await page.route('**/api/inventory/summary**', (route) => route.abort('connectionrefused'));
    await page.evaluate(() => window.dispatchEvent(new Event('online')));   // ends the open wait at once
    await page.locator('#freshness[data-conn="offline"]').waitFor({ timeout: T });
    await page.locator('#conn', { hasText: /offline, (retrying in \d+ s|reconnecting)/ }).waitFor({ timeout: T });
    await page.unroute('**/api/inventory/summary**');
    const received = await mustCommand(server.base, { type: 'receive', location: 'store-harbour', sku: 'pecan-pie', quantity: 1 });
    const q = (await item('store-harbour', 'pecan-pie', versionOf(received))).quantity;
    await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: 40000 });
    await waitForText(cell(page, 'store-harbour', 'pecan-pie'), q);
    await page.close();
  });

  test('offline records: what a late record did shows in the activity, a negative item asks for a count, stock in transit is listed', async () => {
    const page = await openDashboard();
    const ago = (minutes) => new Date(Date.now() - minutes * 60000).toISOString();
    // The van's sale of an hour ago arrives first: no stock was known, so the item goes below zero.
    await mustCommand(server.base, { type: 'remove', location: 'van', sku: 'scone', quantity: 4, reason: 'sold', occurredAt: ago(60) });
    await cell(page, 'van', 'scone').and(page.locator('td.count')).waitFor({ timeout: T });
    // Then the count taken two hours ago (10 scones then; the later sale still counts), and an older one.
    const adjusted = await mustCommand(server.base, { type: 'count', location: 'van', sku: 'scone', quantity: 10, occurredAt: ago(120) });
    assert.equal(adjusted.status, 'adjusted');
    const superseded = await mustCommand(server.base, { type: 'count', location: 'van', sku: 'scone', quantity: 3, occurredAt: ago(180) });
    assert.equal(superseded.status, 'superseded');
    await waitForText(cell(page, 'van', 'scone'), '6');
    assert.equal(await cell(page, 'van', 'scone').and(page.locator('td.count')).count(), 0, 'counted: no longer flagged');
    await page.locator(`#activity li[data-event-id="${superseded.events[0]}"] [data-outcome="superseded"]`).waitFor({ timeout: T });
    await page.locator(`#activity li[data-event-id="${adjusted.events[0]}"] [data-outcome="adjusted"]`).waitFor({ timeout: T });

    // A transfer's first half without its second, delivered as the host delivers an Event Grid event.
    const transferId = crypto.randomUUID(), now = new Date().toISOString();
    const event = { specversion: '1.0', id: crypto.randomUUID(), source: '/pieshop/inventory', subject: 'depot/scone',
      type: 'pieshop.TransferredOut', time: now, datacontenttype: 'application/json',
      data: { location: 'depot', sku: 'scone', delta: -5, amount: 5, outcome: 'applied', quantity: 0, version: 1,
        commandId: transferId, recordedAt: now, transferId, from: 'depot', to: 'van' } };
    const delivered = await fetch(`${server.base}/projection`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Data: { eventGridEvent: JSON.stringify(event) }, Metadata: {} }) });
    assert.equal(delivered.status, 200);
    await page.locator(`#in-transit li[data-transfer="${transferId}"]`, { hasText: 'depot → van' }).waitFor({ timeout: T });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('screenshots of the loaded dashboard (desktop and phone width)', async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const page = await openDashboard();
    // a fresh, visible result so the screenshot shows the form feedback too
    await page.getByRole('tab', { name: 'Remove' }).click();
    const form = page.locator('#form-remove');
    await form.getByLabel('Location').fill('store-uptown');
    await form.getByLabel('Product (SKU)').fill('apple-pie');
    await form.getByLabel('Quantity removed').fill('4');
    await form.getByLabel('Reason').selectOption('sold');
    await form.getByRole('button', { name: 'Remove stock' }).click();
    await page.locator('#result', { hasText: 'Shown in the stock view.' }).waitFor({ timeout: T });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true, animations: 'disabled' });
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'dashboard.png')).size > 10000);

    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone screen (the matrix scrolls inside its own box)`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true, animations: 'disabled' });
    await page.close();
  });

  test('without function keys the page never asks for a key and sends none', async () => {
    const page = await openDashboard();
    const keyed = [];
    page.on('request', (r) => { if (r.headers()['x-functions-key'] !== undefined) keyed.push(r.url()); });
    const received = await mustCommand(server.base, { type: 'receive', location: 'store-uptown', sku: 'cherry-tart', quantity: 2 });
    const q = (await item('store-uptown', 'cherry-tart', versionOf(received))).quantity;
    await waitForText(cell(page, 'store-uptown', 'cherry-tart'), q);
    assert.equal(await page.locator('#key-prompt').isVisible(), false);
    assert.deepEqual(keyed, []);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a rejected command over plain HTTP is a problem+json with detail (the contract the page relies on)', async () => {
    const r = await command(server.base, { type: 'remove', location: 'store-uptown', sku: 'pecan-pie', quantity: 1000000, reason: 'sold' });
    assert.equal(r.status, 409);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(typeof r.body.detail, 'string');
  });
});

describe('dashboard under function keys (PIESHOP_API_KEYS)', () => {
  const KEY = 'manager-key-0123456789ab';     // 24 characters
  const WRONG = 'not-the-key-0123456789ab';
  let keyed;

  before(async () => {
    keyed = await startServer({ env: { PIESHOP_API_KEYS: `manager=${KEY}` } });
    await mustCommand(keyed.base, { type: 'defineProduct', sku: 'rhubarb-pie', name: 'Rhubarb pie', category: 'fruit', reorderLevel: 3 }, { key: KEY });
    await mustCommand(keyed.base, { type: 'receive', location: 'store-keyed', sku: 'rhubarb-pie', quantity: 11 }, { key: KEY });
  });
  after(async () => { if (keyed) await keyed.stop(); });

  /** A new tab (so a new sessionStorage) that records every API request and the answers with the key each carried. */
  async function watchedPage() {
    const page = await browser.context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e));
    page.apiRequests = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname !== '/api/dashboard') page.apiRequests.push(r.url()); });
    page.answers = [];
    page.on('response', (r) => page.answers.push({
      path: new URL(r.url()).pathname, method: r.request().method(), status: r.status(),
      key: r.request().headers()['x-functions-key'] ?? null, body: r.request().postData(),
    }));
    return page;
  }
  const prompt = (page) => page.getByRole('region', { name: 'This dashboard needs a function key' });
  const quantity = async (location, sku) => (await getJson(keyed.base, `/api/inventory/${location}/${sku}`, { key: KEY })).quantity;
  function assertKeyNeverInAUrl(page) {
    for (const u of page.apiRequests) assert.ok(!u.includes(KEY) && !u.includes(WRONG), `a key went into a URL: ${u}`);
  }

  test('opened as /api/dashboard?code=<key>: the key leaves the address bar and goes with every call as x-functions-key', async () => {
    const page = await watchedPage();
    await page.goto(`${keyed.base}/api/dashboard?view=stock&code=${KEY}#actions`);
    await waitUntil('the key to leave the address bar', () => page.url() === `${keyed.base}/api/dashboard?view=stock#actions`, { timeoutMs: T });
    await waitForText(cell(page, 'store-keyed', 'rhubarb-pie'), '11');
    await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });
    await page.locator('#activity li[data-event-id]').first().waitFor({ timeout: T });

    await page.getByRole('tab', { name: 'Receive' }).click();
    const form = page.locator('#form-receive');
    await form.getByLabel('Location').fill('store-keyed');
    await form.getByLabel('Product (SKU)').fill('rhubarb-pie');
    await form.getByLabel('Quantity received').fill('5');
    await form.getByRole('button', { name: 'Receive stock' }).click();
    await page.locator('#result[data-kind="ok"]', { hasText: 'Received 5 × Rhubarb pie at store-keyed' }).waitFor({ timeout: T });
    await page.locator('#result', { hasText: 'Shown in the stock view.' }).waitFor({ timeout: T });
    await waitForText(cell(page, 'store-keyed', 'rhubarb-pie'), '16');
    assert.equal(await quantity('store-keyed', 'rhubarb-pie'), 16);

    // The key stays with the tab: a reload (the address no longer has it) still works.
    await page.reload();
    assert.doesNotMatch(page.url(), /code=/);
    await waitForText(cell(page, 'store-keyed', 'rhubarb-pie'), '16');
    await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });

    assert.deepEqual(page.answers.filter((a) => a.status === 401), [], 'the server never refused the page');
    const api = page.answers.filter((a) => a.path.startsWith('/api/') && a.path !== '/api/dashboard');
    for (const [what, pick] of [['summary', (a) => a.path === '/api/inventory/summary'], ['activity', (a) => a.path === '/api/activity'],
      ['command', (a) => a.path === '/api/commands' && a.method === 'POST'], ['own-write read', (a) => a.path === '/api/inventory/store-keyed/rhubarb-pie'],
      ['live push negotiate', (a) => a.path === '/api/negotiate' && a.method === 'POST']]) {
      assert.ok(api.some(pick), `no ${what} call was answered`);
    }
    assert.deepEqual(api.filter((a) => a.key !== KEY).map((a) => a.path), [], 'every API call carries x-functions-key');
    assertKeyNeverInAUrl(page);
    assert.equal(await prompt(page).isVisible(), false);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('without a key the page asks for one in the page: a wrong key is refused, the right one loads the stock', async () => {
    const page = await watchedPage();
    await page.goto(`${keyed.base}/api/dashboard`);
    const box = prompt(page);
    await box.waitFor({ timeout: T });
    await page.locator('#freshness[data-conn="key"]').waitFor({ timeout: T });
    const input = box.getByLabel('Function key');
    assert.equal(await input.getAttribute('type'), 'password');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'key-input', 'the key field has the focus');
    assert.equal((await page.locator('#key-error').textContent()).trim(), '', 'not refused: no key was given yet');

    await input.fill(WRONG);
    await input.press('Enter');
    await page.locator('#key-error', { hasText: 'That key was refused' }).waitFor({ timeout: T });
    await box.waitFor({ timeout: T });
    assert.equal(await input.inputValue(), '', 'the refused key is not left in the field');
    // Polling stops while the page asks: one summary call without a key, at most one with the wrong key (it may have
    // been cut short by another call's 401), each refused, and none since.
    const summaryCalls = page.apiRequests.filter((u) => new URL(u).pathname === '/api/inventory/summary');
    assert.ok(summaryCalls.length <= 2, `${summaryCalls.length} summary calls while no valid key was known`);
    assert.ok(page.answers.filter((a) => a.path === '/api/inventory/summary').every((a) => a.status === 401));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-key-prompt.png'), fullPage: true, animations: 'disabled' });

    await input.fill(KEY);
    await box.getByRole('button', { name: 'Use this key' }).click();
    const q = await quantity('store-keyed', 'rhubarb-pie');
    await waitForText(cell(page, 'store-keyed', 'rhubarb-pie'), q.toLocaleString('en-GB'));
    await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });
    await page.locator('#activity li[data-event-id]').first().waitFor({ timeout: T });
    assert.equal(await box.isVisible(), false);

    const refused = page.answers.filter((a) => a.status === 401);
    assert.ok(refused.every((a) => a.key === null || a.key === WRONG), 'only calls without a key or with the wrong one were refused');
    const withKey = page.answers.filter((a) => a.key === KEY);
    assert.ok(withKey.length > 0 && withKey.every((a) => a.status !== 401));
    assertKeyNeverInAUrl(page);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a change submitted before the key is given waits for it and is then sent with the same commandId, applied once', async () => {
    const page = await watchedPage();
    await page.goto(`${keyed.base}/api/dashboard`);
    const box = prompt(page);
    await box.waitFor({ timeout: T });
    const before = await quantity('store-keyed', 'rhubarb-pie');

    await page.getByRole('tab', { name: 'Receive' }).click();
    const form = page.locator('#form-receive');
    await form.getByLabel('Location').fill('store-keyed');
    await form.getByLabel('Product (SKU)').fill('rhubarb-pie');
    await form.getByLabel('Quantity received').fill('4');
    await form.getByRole('button', { name: 'Receive stock' }).click();
    await page.locator('#result[data-kind="pending"]', { hasText: 'Waiting for a function key' }).waitFor({ timeout: T });
    assert.equal(await quantity('store-keyed', 'rhubarb-pie'), before, 'nothing was applied without a key');

    await box.getByLabel('Function key').fill(KEY);
    await box.getByLabel('Function key').press('Enter');
    await page.locator('#result[data-kind="ok"]', { hasText: /Received 4 × .* at store-keyed/ }).waitFor({ timeout: T });
    await waitForText(cell(page, 'store-keyed', 'rhubarb-pie'), before + 4);
    assert.equal(await quantity('store-keyed', 'rhubarb-pie'), before + 4, 'applied exactly once');

    const posts = page.answers.filter((a) => a.path === '/api/commands' && a.method === 'POST');
    assert.deepEqual(posts.map((a) => [a.key, a.status]), [[null, 401], [KEY, 200]]);
    assert.equal(JSON.parse(posts[0].body).commandId, JSON.parse(posts[1].body).commandId, 'sent again with the same commandId');
    assertKeyNeverInAUrl(page);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});
