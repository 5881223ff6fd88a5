// The detector page (`npm run demo:web`, at /) in headless Chromium: Figure 1, the detector trained live
// with AP per epoch per loss, and Figure 4 — all computed by the package in the browser, and equal to what
// the same code gives in Node for the same seed. Saves a screenshot to test/.artifacts/detector-web.png.
import type { Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openTrainedPage } from './helpers/chromium';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad } from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types
import { startServer } from '../examples/train/serve.js';
// @ts-expect-error: plain JS module with JSDoc types
import { figure4 } from '../examples/detector/detector.js';
// @ts-expect-error: plain JS module with JSDoc types
import { createComparison } from '../examples/detector/experiment.js';

const EPOCHS = 4;
const SEED = 1;

let server: Server;
let url: string;
let browser: Browser;
let page: Page;
let shown: any;
let pageErrors: string[];

beforeAll(async () => {
  ({ server, url } = await startServer({ port: 0 }));
  browser = await launchChromium();
  ({ page, shown, pageErrors } = await openTrainedPage(browser, `${url}?seed=${SEED}&epochs=${EPOCHS}`, 1400, 'detector-web', 100_000));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

test('the page loads the wasm, draws Figure 1, trains the detector and draws Figure 4, without errors', async () => {
  expect(pageErrors).toEqual([]);
  expect(await page.evaluate(() => document.body.dataset.training)).toBe('done');
  expect(await page.textContent('#status')).toMatch(new RegExp(`^done: ${EPOCHS} epochs × 3 runs`));
  for (const id of ['fig1-chart', 'ap-chart', 'fig4-neg', 'fig4-pos']) {
    expect(await page.locator(`#${id} svg path`).count(), id).toBeGreaterThan(3);
  }
  // Figure 1 is the package's (test/demo-web.test.ts checks its values in detail on the classifier page).
  const logits = Float64Array.from(shown.figure1.probes, (p: number) => Math.log(p / (1 - p)));
  const node = sigmoidFocalLoss(logits, new Float64Array(logits.length).fill(1), { gamma: 2, alpha: null, reduction: 'none' });
  shown.figure1.curves['2'].forEach((v: number, i: number) => expect(v).toBeCloseTo(node[i], 12));
});

test('the AP per epoch and Figure 4 on the page are what the same code gives in Node', () => {
  const d = shown.detector;
  expect(d.seed).toBe(SEED);
  expect(d.epochs).toBe(EPOCHS);
  const cmp = createComparison({ lossWithGrad: sigmoidFocalLossWithGrad, seed: SEED, epochs: EPOCHS });
  for (let e = 0; e < EPOCHS; e++) for (let i = 0; i < cmp.runs.length; i++) cmp.step(i);
  expect(Object.keys(d.runs)).toEqual(cmp.runs.map((r: any) => r.key));
  for (const r of cmp.runs) {
    const page = d.runs[r.key];
    expect(page.label).toBe(r.label);
    expect(page.history).toHaveLength(EPOCHS);
    r.history.forEach((h: any, i: number) => {
      // Same code, same wasm, same V8 maths: the same detections, so the same AP.
      expect(page.history[i].ap, `${r.key} epoch ${i + 1}`).toBeCloseTo(h.ap, 12);
      expect(page.history[i].ap50).toBeCloseTo(h.ap50, 12);
      expect(Math.abs(page.history[i].clsLoss - h.clsLoss) / h.clsLoss).toBeLessThan(1e-9);
    });
    expect(Math.abs(page.trunkRatio - r.run.trunkRatio) / r.run.trunkRatio).toBeLessThan(1e-9);
  }
  const f4 = figure4(cmp.runs[2].run.model, cmp.data.test, sigmoidFocalLoss);
  for (const g of ['0', '0.5', '1', '2']) {
    f4[g].negatives.shares.forEach((v: number, i: number) => expect(d.figure4[g].negatives[i]).toBeCloseTo(v, 9));
    f4[g].positives.shares.forEach((v: number, i: number) => expect(d.figure4[g].positives[i]).toBeCloseTo(v, 9));
  }
  // By construction: γ = 2 concentrates the negatives' loss on the hardest 10% more than γ = 0.
  expect(d.figure4['2'].negatives[2]).toBeGreaterThan(d.figure4['0'].negatives[2]);
});

test('the tables show the same numbers', async () => {
  const fl = shown.detector.runs.fl.history[EPOCHS - 1];
  const cells = await page.locator('#ap-table tr[data-run="fl"] td').allTextContents();
  expect(cells[1]).toBe(fl.ap.toFixed(3));
  expect(cells[2]).toBe(fl.ap50.toFixed(3));
  const f4 = await page.locator('#fig4-table tr[data-gamma="2"] td').allTextContents();
  expect(f4[3]).toBe(shown.detector.figure4['2'].negatives[2].toFixed(3));
});

test('the classifier page is still served at /classes', async () => {
  const res = await fetch(`${url}classes`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('/web/app.js');
});
