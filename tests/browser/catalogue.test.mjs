// The dashboard with a chain's catalogue (issue 23 part 6): the matrix draws only the rows and columns near the
// scrolled view, applies pushed items in place, and filters in memory. These tests check that what it draws is
// right (timing is scripts/bench.sh's business), at desktop and phone width. Run: scripts/test-browser.sh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { catalogueLocation, catalogueSku, getJson, launchBrowser, mustCommand, seedCatalogue, startServer, waitUntil } from './harness.mjs';

const PRODUCTS = 240, LOCATIONS = 36;          // 8,640 items: more than either width shows, still quick to seed
const T = 30000;                               // generous per-condition deadline for a loaded 2-core machine
const VIEWPORTS = [['desktop', { width: 1440, height: 900 }], ['phone', { width: 390, height: 844 }]];

let server, browser;
before(async () => {
  server = await startServer();
  await seedCatalogue(server.base, PRODUCTS, LOCATIONS);
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const fmt = (q) => (q == null ? '–' : q.toLocaleString('en-GB'));
const cell = (page, location, sku) => page.locator(`#matrix td[data-location="${location}"][data-sku="${sku}"]`);

async function open(viewport) {
  const page = await browser.context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  await page.setViewportSize(viewport);
  await page.goto(server.base);
  await page.locator('#matrix[data-ready]').waitFor({ timeout: T });
  await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: T });
  return page;
}
/** Scrolls the matrix's own box (the page itself does not scroll sideways). */
async function scrollMatrix(page, { top, left }) {
  await page.locator('#matrix-wrap').evaluate((el, to) => {
    if (to.top != null) el.scrollTop = to.top === 'end' ? el.scrollHeight : to.top;
    if (to.left != null) el.scrollLeft = to.left === 'end' ? el.scrollWidth : to.left;
  }, { top, left });
}
const rowHeight = (page) => page.locator('#matrix tbody tr.row').first().evaluate((tr) => tr.getBoundingClientRect().height);
/** True when the element is inside the matrix box's visible area (not merely drawn in the overscan). */
async function inView(page, locator) {
  const [box, el] = await Promise.all([page.locator('#matrix-wrap').boundingBox(), locator.boundingBox()]);
  return !!(box && el) && el.y >= box.y - 1 && el.y + el.height <= box.y + box.height + 1
    && el.x + el.width > box.x && el.x < box.x + box.width;
}
/**
 * Every drawn cell, product total and location total agrees with the summary the server answers now; `shown`: the
 * products the filters leave (the footer then sums those), all of them by default.
 */
async function assertDrawnAgreeWithServer(page, shown = () => true) {
  await waitUntil('the drawn cells to agree with the server', async () => {
    const s = await getJson(server.base, '/api/inventory/summary');
    const bySku = new Map(s.products.map((p) => [p.sku, p]));
    const drawn = await page.evaluate(() => ({
      cells: [...document.querySelectorAll('#matrix td[data-sku][data-location]')].map((td) => [td.dataset.sku, td.dataset.location, td.textContent.trim()]),
      totals: [...document.querySelectorAll('#matrix td[data-total-sku]')].map((td) => [td.dataset.totalSku, td.textContent.trim()]),
      columns: [...document.querySelectorAll('#matrix tfoot td[data-total-location]')].map((td) => [td.dataset.totalLocation, td.textContent.trim()]),
    }));
    const wrong = drawn.cells.filter(([sku, loc, text]) => text !== fmt(bySku.get(sku)?.byLocation[loc]))
      .concat(drawn.totals.filter(([sku, text]) => text !== fmt(bySku.get(sku)?.total)))
      .concat(drawn.columns.filter(([loc, text]) => loc !== '*'
        && text !== fmt(s.products.filter(shown).reduce((a, p) => a + (p.byLocation[loc] || 0), 0))));
    if (wrong.length) throw new Error(`${wrong.length} disagree, e.g. ${JSON.stringify(wrong.slice(0, 3))}`);
    return drawn.cells.length > 0;
  }, { timeoutMs: T });
}

for (const [width, viewport] of VIEWPORTS) {
  describe(`a chain's catalogue (${PRODUCTS} x ${LOCATIONS}) at ${width} width`, () => {
    test('only the rows and columns near the view are drawn; scrolled anywhere, they are the right products with the right numbers', async () => {
      const page = await open(viewport);
      const rows = await page.locator('#matrix tbody tr.row').count();
      const columns = await page.locator('#matrix thead th.loc').count();
      assert.ok(rows > 0 && rows < PRODUCTS, `${rows} of ${PRODUCTS} rows drawn`);
      assert.ok(columns > 0 && columns < LOCATIONS, `${columns} of ${LOCATIONS} columns drawn`);
      assert.equal(await page.locator('#matrix').getAttribute('aria-rowcount'), String(PRODUCTS + 2));
      assert.equal(await page.locator('#matrix').getAttribute('aria-colcount'), String(LOCATIONS + 2));
      assert.equal(await page.locator('#kpi-products').textContent(), String(PRODUCTS));
      await assertDrawnAgreeWithServer(page);

      // to the middle of the rows and the far right of the columns
      const h = await rowHeight(page);
      await scrollMatrix(page, { top: Math.round(150 * h), left: 'end' });
      const target = cell(page, catalogueLocation(LOCATIONS - 1), catalogueSku(150));
      await target.waitFor({ timeout: T });
      assert.ok(await inView(page, target), 'the cell scrolled to is in view');
      assert.equal(await cell(page, catalogueLocation(0), catalogueSku(0)).count(), 0, 'the top-left corner is no longer drawn');
      const drawnSkus = await page.locator('#matrix tbody td[data-total-sku]').evaluateAll((tds) => tds.map((td) => td.dataset.totalSku));
      const expectedSkus = Array.from({ length: drawnSkus.length }, (_, k) => catalogueSku(Number(drawnSkus[0].slice(4)) + k));
      assert.deepEqual(drawnSkus, expectedSkus, 'drawn rows are consecutive products in sku order');
      assert.ok(drawnSkus.includes(catalogueSku(150)));
      await assertDrawnAgreeWithServer(page);

      // and to the very end
      await scrollMatrix(page, { top: 'end' });
      const last = cell(page, catalogueLocation(LOCATIONS - 1), catalogueSku(PRODUCTS - 1));
      await last.waitFor({ timeout: T });
      await waitUntil('the last cell in view', () => inView(page, last), { timeoutMs: T });
      await assertDrawnAgreeWithServer(page);
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('a pushed change to a cell that is not drawn shows when it is scrolled to, with its totals, without a summary re-read', async () => {
      const page = await open(viewport);
      const sku = catalogueSku(200), location = catalogueLocation(30);
      assert.equal(await cell(page, location, sku).count(), 0, 'the cell starts off-screen, not drawn');
      // From here on a summary re-read fails: what shows must come from the pushed item itself.
      const rereads = [];
      await page.route('**/api/inventory/summary**', (route) => { rereads.push(route.request().url()); return route.abort('connectionrefused'); });
      const units = Number((await page.locator('#kpi-units').textContent()).replace(/,/g, ''));
      const answer = await mustCommand(server.base, { type: 'receive', location, sku, quantity: 1000 });
      const now = answer.items[0];
      await page.locator('#kpi-units', { hasText: new RegExp(`^${fmt(units + 1000)}$`) }).waitFor({ timeout: T });

      const h = await rowHeight(page);
      const w = await page.locator('#matrix thead th.loc').first().evaluate((th) => th.getBoundingClientRect().width);
      await scrollMatrix(page, { top: Math.round(200 * h), left: Math.round(30 * w) });
      const target = cell(page, location, sku);
      await target.waitFor({ timeout: T });
      assert.ok(await inView(page, target), 'the cell scrolled to is in view');
      assert.equal((await target.textContent()).trim(), fmt(now.quantity));
      const item = await getJson(server.base, `/api/inventory/${location}/${sku}?minVersion=${now.version}`);
      const product = (await getJson(server.base, '/api/inventory/summary')).products.find((p) => p.sku === sku);
      assert.equal(item.quantity, now.quantity);
      assert.equal((await page.locator(`#matrix td[data-total-sku="${sku}"]`).textContent()).trim(), fmt(product.total));
      await waitUntil('the location total drawn', async () => (await page.locator(`#matrix tfoot td[data-total-location="${location}"]`).count()) === 1, { timeoutMs: T });
      const locTotal = (await getJson(server.base, '/api/inventory/summary')).locations.find((l) => l.location === location).total;
      assert.equal((await page.locator(`#matrix tfoot td[data-total-location="${location}"]`).textContent()).trim(), fmt(locTotal));
      assert.ok(rereads.every((u) => !u.includes('waitForChange')), 'no long-poll carried it');
      await page.unroute('**/api/inventory/summary**');
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('search and the location filter work on the whole catalogue, in memory', async () => {
      const page = await open(viewport);
      await page.getByLabel('Search products').fill(`number ${PRODUCTS - 3}`);
      await waitUntil('one matching row', async () => (await page.locator('#matrix tbody tr.row').count()) === 1
        && (await page.locator(`#matrix tbody td[data-total-sku="${catalogueSku(PRODUCTS - 3)}"]`).count()) === 1, { timeoutMs: T });
      await page.locator('#match-info', { hasText: /^1 product match/ }).waitFor({ timeout: T });
      await assertDrawnAgreeWithServer(page, (p) => p.sku === catalogueSku(PRODUCTS - 3));
      await page.getByLabel('Search products').press('Escape');
      await waitUntil('the rows back', async () => (await page.locator('#matrix').getAttribute('aria-rowcount')) === String(PRODUCTS + 2), { timeoutMs: T });

      // A location far to the right: one column, every product (each has stock there), to the last one.
      const location = catalogueLocation(LOCATIONS - 2);
      const summaryReads = [];
      page.on('request', (r) => { if (r.url().includes('/api/inventory/summary')) summaryReads.push(r.url()); });
      await page.locator('#location-filter').selectOption(location);
      await waitUntil('one location column', async () => (await page.locator('#matrix thead th.loc').allTextContents()).join() === location, { timeoutMs: T });
      assert.equal(await page.locator('#matrix').getAttribute('aria-rowcount'), String(PRODUCTS + 2));
      assert.deepEqual(summaryReads, [], 'the filter did not read the summary again');
      await scrollMatrix(page, { top: 'end' });
      await cell(page, location, catalogueSku(PRODUCTS - 1)).waitFor({ timeout: T });
      await assertDrawnAgreeWithServer(page);

      // Low stock only, at another location, over the whole catalogue.
      const other = catalogueLocation(3);
      await page.locator('#location-filter').selectOption(other);
      await page.getByLabel('Low stock only').check();
      const s = await getJson(server.base, '/api/inventory/summary');
      const isLow = (p) => p.low || (p.reorderLevel != null && p.byLocation[other] <= p.reorderLevel);
      const low = s.products.filter(isLow);
      assert.ok(low.length > 1 && low.length < PRODUCTS / 2, `${low.length} products low at ${other}`);
      await waitUntil('the low rows', async () => (await page.locator('#matrix').getAttribute('aria-rowcount')) === String(low.length + 2), { timeoutMs: T });
      await assertDrawnAgreeWithServer(page, isLow);
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    test('the keyboard reaches every cell: End, PageDown and arrows move focus past the drawn window, which follows', async () => {
      const page = await open(viewport);
      await page.locator('#matrix .cell[tabindex="0"]').focus();
      await page.keyboard.press('End');
      const focused = () => page.evaluate(() => { const td = document.activeElement.closest('td'); return td ? `${td.dataset.sku}@${td.dataset.location}` : null; });
      assert.equal(await focused(), `${catalogueSku(0)}@${catalogueLocation(LOCATIONS - 1)}`);
      for (let k = 0; k < 12; k++) await page.keyboard.press('PageDown');
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('ArrowLeft');
      const at = await focused();
      assert.match(at, /^pie-\d{4}@shop-\d{2}$/);
      const [sku, location] = at.split('@');
      assert.ok(Number(sku.slice(4)) > 50, `focus went down the catalogue (${at})`);
      assert.equal(location, catalogueLocation(LOCATIONS - 2));
      assert.ok(await inView(page, cell(page, location, sku)), 'the focused cell is in view');
      assert.equal(await page.locator('#matrix .cell[tabindex="0"]').count(), 1, 'one cell is reachable with Tab');
      await page.keyboard.press('Enter');
      assert.equal(await page.locator('#form-receive').getByLabel('Product (SKU)').inputValue(), sku);
      assert.equal(await page.locator('#form-receive').getByLabel('Location').inputValue(), location);
      assert.deepEqual(page.errors, []);
      await page.close();
    });
  });
}
