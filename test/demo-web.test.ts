// The classifier page (`npm run demo:web`, at /classes) in headless Chromium: it must show Figure 1 and the training results
// computed by the package in the browser, and those numbers must be the ones the package and the same
// training code give in Node. Saves a screenshot to test/.artifacts/demo-web.png.
import type { Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openTrainedPage } from './helpers/chromium';
import { sigmoidFocalLoss, softmaxFocalLossWithGrad } from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types
import { startServer } from '../examples/train/serve.js';
// @ts-expect-error: plain JS module with JSDoc types
import { trainBoth } from '../examples/train/train.js';

const EPOCHS = 12;
const SEED = 7;

let server: Server;
let url: string;
let browser: Browser;
let page: Page;
let shown: any;
let pageErrors: string[];

beforeAll(async () => {
  ({ server, url } = await startServer({ port: 0 }));
  browser = await launchChromium();
  ({ page, shown, pageErrors } = await openTrainedPage(
    browser,
    `${url}classes?seed=${SEED}&epochs=${EPOCHS}`,
    1250,
    'demo-web',
    60_000,
  ));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

test('the page loads the wasm and finishes training without errors', async () => {
  expect(pageErrors).toEqual([]);
  expect(await page.evaluate(() => document.body.dataset.training)).toBe('done');
  expect(await page.textContent('#status')).toMatch(/^done: 12 epochs/);
  // Two charts for the training and one for Figure 1, each with drawn paths.
  for (const id of ['fig1-chart', 'loss-chart', 'recall-chart']) {
    expect(await page.locator(`#${id} svg path`).count(), id).toBeGreaterThan(1);
  }
});

test("Figure 1 values on the page are the package's, and the paper's formula", () => {
  const { probes, curves, slider } = shown.figure1;
  expect(probes).toEqual([0.1, 0.25, 0.5, 0.75, 0.9, 0.99]);
  expect(Object.keys(curves).sort()).toEqual(['0', '0.5', '1', '2', '5']);
  const logits = Float64Array.from(probes, (p: number) => Math.log(p / (1 - p)));
  const ones = new Float64Array(probes.length).fill(1);
  for (const [g, values] of Object.entries(curves) as [string, number[]][]) {
    const gamma = Number(g);
    const node = sigmoidFocalLoss(logits, ones, { gamma, alpha: null, reduction: 'none' });
    probes.forEach((p: number, i: number) => {
      // The same package in Node…
      expect(values[i]).toBeCloseTo(node[i], 12);
      // …and the paper's FL(p_t) = −(1 − p_t)^γ log p_t, written out here.
      const fl = -((1 - p) ** gamma) * Math.log(p);
      expect(Math.abs(values[i] - fl) / fl).toBeLessThan(1e-9);
    });
  }
  // CE at p_t = 0.5 is log 2; γ = 2 at p_t = 0.9 is 100× below CE (the paper's example).
  expect(curves['0'][2]).toBeCloseTo(Math.LN2, 12);
  expect(curves['0'][4] / curves['2'][4]).toBeCloseTo(100, 6);
  // The slider curve (γ = 3, α = 1 at load) is the same formula.
  expect(slider.gamma).toBe(3);
  slider.values.forEach((v: number, i: number) => {
    const p = probes[i];
    expect(Math.abs(v - slider.alpha * -((1 - p) ** 3) * Math.log(p))).toBeLessThan(1e-12);
  });
});

test("moving the α and γ sliders redraws the extra curve with the package's values", async () => {
  await page.locator('#alpha').fill('0.25');
  await page.locator('#gamma').fill('0.5');
  const after = JSON.parse((await page.textContent('#results-json')) ?? '{}').figure1.slider;
  expect(after.gamma).toBe(0.5);
  expect(after.alpha).toBe(0.25);
  const logits = Float64Array.from(shown.figure1.probes, (p: number) => Math.log(p / (1 - p)));
  const node = sigmoidFocalLoss(logits, new Float64Array(logits.length).fill(1), {
    gamma: 0.5,
    alpha: 0.25,
    reduction: 'none',
  });
  after.values.forEach((v: number, i: number) => expect(v).toBeCloseTo(node[i], 12));
});

test('the training in the page gives the same numbers as trainBoth in Node', () => {
  const t = shown.training;
  const node = trainBoth({ lossWithGrad: softmaxFocalLossWithGrad, seed: SEED, epochs: EPOCHS });
  expect(t.seed).toBe(SEED);
  expect(t.epochs).toBe(EPOCHS);
  expect(t.trainCounts).toEqual(node.trainCounts);
  expect(t.testCounts).toEqual(node.testCounts);
  expect(t.rarest).toBe(node.rarest);
  for (const run of ['ce', 'focal'] as const) {
    // Recall and precision are counts over the test set: identical.
    expect(t[run].recall, run).toEqual(node[run].recall.map((v: number) => (Number.isNaN(v) ? null : v)));
    expect(t[run].precision, run).toEqual(node[run].precision.map((v: number) => (Number.isNaN(v) ? null : v)));
    expect(t[run].macroF1).toBeCloseTo(node[run].macroF1, 12);
    // Losses: the same code and the same wasm, so equal up to the last bits of Math.tanh/exp.
    expect(t[run].lossHistory).toHaveLength(EPOCHS);
    t[run].lossHistory.forEach((v: number, i: number) =>
      expect(Math.abs(v - node[run].history[i].loss) / node[run].history[i].loss).toBeLessThan(1e-9),
    );
    expect(Math.abs(t[run].testLoss - node[run].testLoss) / node[run].testLoss).toBeLessThan(1e-9);
  }
  // And the point of it: focal loss finds more of the rarest class.
  expect(t.focal.recall[t.rarest]).toBeGreaterThan(t.ce.recall[t.rarest]);
});

test('the result table shows the same recall values', async () => {
  const rarest = shown.training.rarest;
  const cells = await page.locator(`#result-table tr[data-class="${rarest}"] td`).allTextContents();
  expect(cells[3]).toBe(shown.training.ce.recall[rarest].toFixed(3));
  expect(cells[5]).toBe(shown.training.focal.recall[rarest].toFixed(3));
});
