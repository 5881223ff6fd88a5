// The detector page (`npm run demo:web`, at /) in headless Chromium: Figure 1, `npm start`'s experiment
// trained live in Web Workers (the α search, every loss on every seed, the seed-averaged comparison, the
// stability pair at its full 60 epochs) and Figure 4 — all computed by the package in the browser, and equal to
// what the same code gives in Node's worker threads for the same options. Saves a screenshot to
// test/.artifacts/detector-web.png.
import type { Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openTrainedPage } from './helpers/chromium';
import { sigmoidFocalLoss } from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types
import { startServer } from '../examples/train/serve.js';
// @ts-expect-error: plain JS module with JSDoc types
import { PRESETS, runExperiment } from '../examples/detector/experiment.js';
// @ts-expect-error: plain JS module with JSDoc types
import { createThreadPool } from '../examples/detector/pool.js';

// Few seeds and epochs for the comparison (the page's default is npm start's: 6 seeds × 60 epochs), but the
// stability pair at its full length, where the textbook loss breaks.
const OPTIONS = { seeds: 2, epochs: 3, evalEvery: 1, stabilityEpochs: PRESETS.default.stabilityEpochs };
const WORKERS = 2;

let server: Server;
let url: string;
let browser: Browser;
let page: Page;
let shown: any;
let pageErrors: string[];
let node: any;

beforeAll(async () => {
  ({ server, url } = await startServer({ port: 0 }));
  browser = await launchChromium();
  const query = new URLSearchParams({
    ...Object.fromEntries(Object.entries(OPTIONS).map(([k, v]) => [k, String(v)])),
    workers: String(WORKERS),
  });
  const pool = createThreadPool(WORKERS);
  try {
    // Node's run and the page's run at the same time: two workers each.
    [{ page, shown, pageErrors }, node] = await Promise.all([
      openTrainedPage(browser, `${url}?${query}`, 1400, 'detector-web', 400_000),
      runExperiment({ ...OPTIONS, pool }),
    ]);
  } finally {
    await pool.close();
  }
}, 420_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

/** What the page publishes: JSON, without timings (NaN → null). */
const asShown = (r: any) => JSON.parse(JSON.stringify(r, (k, v) => (k === 'timing' ? undefined : v)));

test('the page loads the wasm, draws Figure 1, trains in Web Workers and draws every chart, without errors', async () => {
  expect(pageErrors).toEqual([]);
  expect(await page.evaluate(() => document.body.dataset.training)).toBe('done');
  // 3 α-search runs (one is seed 1's cross-entropy run), 2 × 3 − 1 more, the stability pair.
  expect(await page.textContent('#status')).toMatch(
    /^done: 10 runs \(2 seeds × 3 losses, the α search, the stability pair\) in \d+\.\d s on 2 Web Workers$/,
  );
  for (const id of ['fig1-chart', 'ap-chart', 'stability-chart', 'stability-logits', 'fig4-neg', 'fig4-pos']) {
    expect(await page.locator(`#${id} svg path`).count(), id).toBeGreaterThan(2);
  }
  // Figure 1 is the package's (test/demo-web.test.ts checks its values in detail on the classifier page).
  const logits = Float64Array.from(shown.figure1.probes, (p: number) => Math.log(p / (1 - p)));
  const values = sigmoidFocalLoss(logits, new Float64Array(logits.length).fill(1), {
    gamma: 2,
    alpha: null,
    reduction: 'none',
  });
  shown.figure1.curves['2'].forEach((v: number, i: number) => expect(v).toBeCloseTo(values[i], 12));
});

test('every number of the experiment on the page is what the same code gives in Node', () => {
  const d = shown.detector;
  expect(d.params).toMatchObject({ ...OPTIONS, ceAlpha: null, workers: WORKERS });
  // Each run is the same function of its task in a Web Worker as in a worker thread. Chromium's engine and
  // Node's agree on every number to ~1e-15 relative but not always in the last bit (seen: the trunk-gradient
  // ratio and Figure 4's shares, which sum many float64 products; the package's float64 kernels run in
  // another engine's WebAssembly compiler), so numbers are compared to 1e-12 relative, the rest exactly.
  let compared = 0;
  const close = (a: any, b: any, path: string) => {
    if (typeof b === 'number') {
      expect(Math.abs(a - b), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-12 * Math.abs(b));
      compared++;
    } else if (b && typeof b === 'object') {
      expect(Object.keys(a).sort(), path).toEqual(Object.keys(b).sort());
      for (const k of Object.keys(b)) close(a[k], b[k], `${path}.${k}`);
    } else expect(a, path).toEqual(b);
  };
  close(d.result, asShown(node), 'result');
  expect(compared).toBeGreaterThan(3000); // curves, tables, 2 × 720 steps of the stability trace, Figure 4
  // The stability run's counts are integers: exactly the same.
  expect(d.result.stability.textbook.firstNonFinite).toEqual(node.stability.textbook.firstNonFinite);
  expect(d.result.stability.textbook.nonFiniteSteps).toBe(node.stability.textbook.nonFiniteSteps);
  expect(d.result.table.map((t: any) => t.perSeed.length)).toEqual([2, 2, 2]);
  expect(d.result.table[2].perSeed[0].curve).toHaveLength(OPTIONS.epochs);
  // The live chart saw every run's every epoch (evalEvery 1): 3 α-search runs, 5 more, 3 epochs each.
  expect(d.curvePoints).toBe((3 + 5) * OPTIONS.epochs);
});

test('the stability pair on the page: the textbook loss breaks at a step, the package stays finite', async () => {
  const s = shown.detector.result.stability;
  expect(s.steps).toBe(PRESETS.default.stabilityEpochs * Math.ceil(PRESETS.default.train / 8));
  expect(s.textbook.firstNonFinite.step).toBeGreaterThan(1);
  // At that step the gradient was non-finite (the loss may still be finite: 0 · log 1); Adam put the NaN into
  // the weights, so from the next step on the loss itself is NaN (null through JSON).
  const at = s.textbook.firstNonFinite.step;
  expect(s.textbook.trace.loss.slice(0, at - 1).every(Number.isFinite)).toBe(true);
  expect(s.textbook.trace.loss.slice(at).every((v: any) => v === null)).toBe(true);
  expect(s.package.nonFiniteSteps).toBe(0);
  expect(s.package.trace.loss.every(Number.isFinite)).toBe(true);
  expect(await page.textContent('#stability-note')).toContain(
    `first non-finite gradient at step ${s.textbook.firstNonFinite.step} of ${s.steps}`,
  );
  expect(await page.textContent('#stability-chart')).toContain(
    `textbook: first NaN at step ${s.textbook.firstNonFinite.step}`,
  );
});

test('the tables show the same numbers', async () => {
  const fl = shown.detector.result.table[2];
  const cells = await page.locator('#ap-table tr[data-run="fl"] td').allTextContents();
  expect(cells[1]).toBe(`${fl.ap.mean.toFixed(3)} ± ${fl.ap.sd.toFixed(3)}`);
  expect(cells[7]).toBe(`${fl.delta.wins}/2`);
  const f4 = await page.locator('#fig4-table tr[data-gamma="2"] td').allTextContents();
  expect(f4[3]).toBe(shown.detector.result.fig4['2'].negatives.shares[2].toFixed(3));
  // By construction: γ = 2 concentrates the negatives' loss on the hardest 10% more than γ = 0.
  expect(shown.detector.result.fig4['2'].negatives.shares[2]).toBeGreaterThan(
    shown.detector.result.fig4['0'].negatives.shares[2],
  );
});

test('the classifier page is still served at /classes', async () => {
  const res = await fetch(`${url}classes`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('/web/app.js');
});
