// A chain's catalogue on one screen, for scripts/bench.sh: seeds PRODUCTS x LOCATIONS items (1,000 x 50 by default)
// through /api/commands/batch on a running standalone handler, then opens the dashboard in headless Chromium
// (playwright-core, /usr/bin/chromium, as the browser tests do) and measures:
//   first render: navigation start -> the matrix shows the summary (the page's `#matrix[data-ready]` and the first
//     cell's number; checked afterwards: every drawn cell shows the summary's number), in the page's own clock;
//   DOM elements on the page then (document.getElementsByTagName('*'));
//   pushed change -> visible: a receive sent from here for a drawn cell, until a MutationObserver in the page sees
//     that cell's text change (both clocks are epoch-based: performance.timeOrigin + performance.now()), N samples.
// With --baseline FILE the same is measured for another dashboard.html (e.g. the page before windowing, from git)
// served in place of the server's page (the API is the same server's), with fewer push samples (it re-reads the
// whole summary on every push). Prints one JSON line: {products, locations, summary_bytes, current, baseline}.
//
// usage: node catalogue-bench.mjs <base-url> [--products 1000] [--locations 50] [--samples 50]
//                                 [--page FILE] [--baseline FILE] [--baseline-samples 5] [--no-seed]
// (--page serves FILE as the current page instead of the server's own, to measure a page without a rebuild)
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { launchBrowser, seedCatalogue } from './harness.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    products: { type: 'string', default: '1000' }, locations: { type: 'string', default: '50' },
    samples: { type: 'string', default: '50' }, page: { type: 'string' }, baseline: { type: 'string' },
    'baseline-samples': { type: 'string', default: '5' }, 'no-seed': { type: 'boolean', default: false },
  },
});
const base = positionals[0];
if (!base) {
  console.error('usage: node catalogue-bench.mjs <base-url> [--products N] [--locations N] [--samples N] [--page FILE] [--baseline FILE] [--baseline-samples N] [--no-seed]');
  process.exit(2);
}
const PRODUCTS = Number(opts.products), LOCATIONS = Number(opts.locations);
const now = () => performance.timeOrigin + performance.now();
const log = (...a) => console.error('catalogue-bench:', ...a);

async function seed() {
  const started = performance.now();
  const n = await seedCatalogue(base, PRODUCTS, LOCATIONS);
  log(`seeded ${n} commands through /api/commands/batch, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function summary() {
  const res = await fetch(`${base}/api/inventory/summary`);
  const text = await res.text();
  return { bytes: Buffer.byteLength(text), body: JSON.parse(text) };
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);

/** Opens one dashboard page (the server's, or `html` in its place) and measures it. */
async function measure(browser, label, html, samples) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (html) await page.route(`${base}/`, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  const { body: s } = await summary();
  const first = s.products[0];
  const firstLoc = Object.keys(first.byLocation).sort()[0];
  const expected = first.byLocation[firstLoc].toLocaleString('en-GB');
  await page.goto(`${base}/`, { waitUntil: 'commit' });
  const firstRenderMs = await (await page.waitForFunction(({ sku, loc, text }) => {
    const td = document.querySelector(`#matrix td[data-sku="${sku}"][data-location="${loc}"]`);
    const ready = !document.querySelector('#matrix-wrap') || document.querySelector('#matrix[data-ready]');
    return td && ready && td.textContent.trim() === text && performance.now();
  }, { sku: first.sku, loc: firstLoc, text: expected }, { polling: 'raf', timeout: 180000 })).jsonValue();
  const domElements = await page.evaluate(() => document.getElementsByTagName('*').length);

  // Every drawn cell shows the number the summary has (read after the render, so it is the same data).
  const { body: after } = await summary();
  const drawn = await page.evaluate(() => [...document.querySelectorAll('#matrix td[data-sku][data-location]')]
    .map((td) => [td.dataset.sku, td.dataset.location, td.textContent.trim()]));
  const bySku = new Map(after.products.map((p) => [p.sku, p]));
  const wrong = drawn.filter(([sku, loc, text]) => {
    const q = bySku.get(sku)?.byLocation[loc];
    return text !== (q == null ? '–' : q.toLocaleString('en-GB'));
  });
  log(`${label}: first render ${firstRenderMs.toFixed(0)} ms, ${domElements} elements, ${drawn.length} cells drawn, ${wrong.length} wrong`);

  await page.locator('#freshness[data-conn="live"]').waitFor({ timeout: 120000 });
  const latencies = [];
  for (let n = 0; n < samples; n++) {
    const [sku, loc] = drawn[(n * 37) % drawn.length];
    await page.evaluate(({ sku, loc }) => {
      const find = () => document.querySelector(`#matrix td[data-sku="${sku}"][data-location="${loc}"]`);
      const before = find().textContent;
      window.__seen = null;
      const observer = new MutationObserver(() => {
        const td = find();
        if (td && td.textContent !== before) { window.__seen = performance.timeOrigin + performance.now(); observer.disconnect(); }
      });
      observer.observe(document.querySelector('#matrix'), { subtree: true, childList: true, characterData: true });
    }, { sku, loc });
    const sent = now();
    const res = await fetch(`${base}/api/commands`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ commandId: randomUUID(), type: 'receive', location: loc, sku, quantity: 1 }),
    });
    if (res.status !== 200) throw new Error(`command answered ${res.status}`);
    await res.arrayBuffer();
    const seen = await (await page.waitForFunction(() => window.__seen, null, { timeout: 120000 })).jsonValue();
    latencies.push(seen - sent);
  }
  latencies.sort((a, b) => a - b);
  await page.close();
  const round = (x) => (x == null ? null : Math.round(x * 10) / 10);
  return {
    first_render_ms: round(firstRenderMs), dom_elements: domElements, drawn_cells: drawn.length, wrong_cells: wrong.length,
    push_samples: latencies.length, push_p50_ms: round(percentile(latencies, 0.5)), push_p99_ms: round(percentile(latencies, 0.99)),
    push_max_ms: round(latencies.at(-1) ?? null), page_errors: errors,
  };
}

if (!opts['no-seed']) await seed();
const { bytes } = await summary();
const browser = await launchBrowser();
try {
  const current = await measure(browser, 'current', opts.page ? fs.readFileSync(opts.page, 'utf8') : null, Number(opts.samples));
  const baseline = opts.baseline
    ? await measure(browser, 'baseline', fs.readFileSync(opts.baseline, 'utf8'), Number(opts['baseline-samples']))
    : null;
  console.log(JSON.stringify({ products: PRODUCTS, locations: LOCATIONS, summary_bytes: bytes, current, baseline }));
  if (current.wrong_cells || current.page_errors.length) process.exitCode = 1;
} finally {
  await browser.close();
}
