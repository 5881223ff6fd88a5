// Chromium (Debian's /usr/bin/chromium driven by playwright-core): pages served from 127.0.0.1 load
// dist/browser.js as a native ES module (no bundler; an import map names the package), `init()`
// fetches focal_loss.wasm — once served as application/wasm (streaming compilation), once as
// application/octet-stream (the fallback) — and every vector case runs in both dtypes. A third page
// loads TensorFlow.js (node_modules' ESM builds, served by this test) and focal-loss/tfjs, and trains a
// small model with the adapter's loss on tfjs's CPU and WASM backends.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { focalLoss } from 'focal-loss/tfjs';
import * as tf from '@tensorflow/tfjs';
import { bundleHarness, makeFixture, removeFixture, root, type Report } from './fixture';
import { expectMatchesNode } from './reference';

let dir = '';
let server: Server;
let base = '';
let browser: Browser;
/** Every request the server answered: path and Content-Type. */
const served: { path: string; type: string }[] = [];

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "focal-loss": "./node_modules/focal-loss/dist/browser.js" } }</script>
<script type="module">
import * as api from 'focal-loss';
import { errorBeforeInit, runVectors } from './harness.mjs';
try {
  const beforeInit = errorBeforeInit(api);
  const pending = api.init();
  const duringInit = errorBeforeInit(api);
  await pending;
  await api.init(); // idempotent
  const json = await (await fetch('./vectors.json')).json();
  const report = runVectors(api, json);
  window.__report = { runtime: 'chromium', version: navigator.userAgent, entry: import.meta.resolve('focal-loss'), beforeInit, duringInit, ...report };
} catch (error) {
  window.__report = { error: String(error && error.stack || error) };
}
</script>`;

// The TensorFlow.js page: tfjs's ESM bundle (tf.fesm.js holds tfjs-core, layers and the CPU/WebGL backends)
// is what both '@tensorflow/tfjs' and the adapter's '@tensorflow/tfjs-core' import resolve to, so the page
// and the adapter share one tfjs; the WASM backend's ESM build imports Node built-ins (only used under
// Node) that a stub stands in for. `init()` loads the package's .wasm once, for the page and the adapter.
const tfjsDist = './node_modules/@tensorflow/tfjs/dist/tf.fesm.js';
const tfjsPage = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": {
  "focal-loss": "./node_modules/focal-loss/dist/browser.js",
  "focal-loss/tfjs": "./node_modules/focal-loss/dist/tfjs.js",
  "@tensorflow/tfjs": "${tfjsDist}",
  "@tensorflow/tfjs-core": "${tfjsDist}",
  "@tensorflow/tfjs-backend-wasm": "./node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.js",
  "fs": "./node-stub.mjs", "path": "./node-stub.mjs", "perf_hooks": "./node-stub.mjs", "os": "./node-stub.mjs"
} }</script>
<script type="module">
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { init } from 'focal-loss';
import { focalLoss } from 'focal-loss/tfjs';
import { fixedBatch, trainSmallModel } from './tfjs-train.mjs';
try {
  // Before init(): a loss made now works once init() is done; option names are checked at once (they are data, not
  // the module's), values at the first call.
  const madeBeforeInit = focalLoss({ gamma: 2, fromLogits: true });
  const badBeforeInit = (() => { try { focalLoss({ gama: 2 }); return null; } catch (e) { return String(e); } })();
  await init();
  const beforeInit = {
    loss: Array.from(madeBeforeInit(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, -1]])).dataSync()),
    bad: badBeforeInit,
    badAfterInit: (() => { try { focalLoss({ gama: 2 }); return null; } catch (e) { return String(e); } })(),
  };
  setWasmPaths(new URL('./node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.href).href);
  const backends = {};
  for (const name of ['cpu', 'wasm']) {
    let loaded = false;
    try { loaded = await tf.setBackend(name); } catch (error) { backends[name] = { error: String(error) }; continue; }
    if (!loaded) { backends[name] = { error: 'tf.setBackend returned false' }; continue; }
    const before = tf.memory().numTensors;
    const fixed = fixedBatch(tf, focalLoss);
    const losses = await trainSmallModel(tf, focalLoss);
    backends[name] = { losses, fixed, tensorsBefore: before, tensorsAfter: tf.memory().numTensors, simd: name === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : undefined };
  }
  window.__report = { tfjs: tf.version.tfjs, adapter: import.meta.resolve('focal-loss/tfjs'), beforeInit, backends };
} catch (error) {
  window.__report = { error: String(error && error.stack || error) };
}
</script>`;

/**
 * The page's training and a fixed batch, as a module the test also runs in Node (same code, same numbers):
 * three Gaussian blobs, a 2 → 16 relu → 3 softmax model with seeded initial weights, Adam, 25 epochs.
 */
const tfjsTrain = `
export function blobs(tf, n) {
  let s = 2024;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const centers = [[-2, 0], [2, 1], [0, -2.5]];
  const x = [], y = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    x.push([centers[k][0] + 0.8 * gauss(), centers[k][1] + 0.8 * gauss()]);
    y.push([0, 1, 2].map((j) => (j === k ? 1 : 0)));
  }
  return { x: tf.tensor2d(x), y: tf.tensor2d(y) };
}
export async function trainSmallModel(tf, focalLoss) {
  const { x, y } = blobs(tf, 240);
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [2], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ] });
  const optimizer = tf.train.adam(0.03);
  model.compile({ optimizer, loss: focalLoss({ gamma: 2 }) });
  const history = await model.fit(x, y, { epochs: 25, batchSize: 32, shuffle: false, verbose: 0 });
  model.dispose();
  optimizer.dispose();
  tf.dispose([x, y]);
  return history.history.loss;
}
/** The adapter's per-sample loss and gradient on fixed logits: bit-identical in every runtime. */
export function fixedBatch(tf, focalLoss) {
  return tf.tidy(() => {
    const yTrue = tf.tensor2d([[1, 0, 0], [0, 0, 1], [0.25, 0.5, 0.25]]);
    const z = tf.tensor2d([[2, 0.5, -1], [0, 1, 3], [0.2, 0.1, -0.3]]);
    const f = focalLoss({ gamma: 1.5, alpha: [1, 2, 0.5], fromLogits: true });
    const g = tf.grad((v) => tf.mean(f(yTrue, v)))(z);
    return { loss: Array.from(f(yTrue, z).dataSync()), grad: Array.from(g.dataSync()) };
  });
}
`;

beforeAll(async () => {
  dir = makeFixture();
  await bundleHarness(join(dir, 'harness.mjs'), 'esm');
  writeFileSync(join(dir, 'vectors.html'), page);
  writeFileSync(join(dir, 'tfjs.html'), tfjsPage);
  writeFileSync(join(dir, 'tfjs-train.mjs'), tfjsTrain);
  writeFileSync(join(dir, 'node-stub.mjs'), 'export default {};\n');
  // /wasm/… and /octet/… serve the fixture (the .wasm with the right and the wrong MIME type);
  // /repo/… serves the repository's dist/ and examples/ (the example page); /tfjs/… serves the fixture,
  // and node_modules/@tensorflow/ from the repository's node_modules.
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, mode, ...rest] = url.pathname.split('/');
    const rel = normalize(decodeURIComponent(rest.join('/')));
    const allowed =
      mode === 'repo' ? /^(dist|examples)\//.test(rel) : mode === 'wasm' || mode === 'octet' || mode === 'tfjs';
    const fromRepo = mode === 'repo' || (mode === 'tfjs' && rel.startsWith('node_modules/@tensorflow/'));
    const file = join(fromRepo ? root : dir, rel);
    if (!allowed || rel.startsWith('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type =
      mode === 'octet' && extname(file) === '.wasm'
        ? 'application/octet-stream'
        : (types[extname(file)] ?? 'application/octet-stream');
    served.push({ path: url.pathname, type });
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  removeFixture(dir);
});

async function runPage(
  url: string,
): Promise<Report & { beforeInit: string | null; duringInit: string | null; error?: string }> {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(url);
    await tab.waitForFunction(() => (window as unknown as { __report?: unknown }).__report !== undefined, undefined, {
      timeout: 90_000,
    });
    const report = (await tab.evaluate(() => (window as unknown as { __report: unknown }).__report)) as Report & {
      beforeInit: string | null;
      duringInit: string | null;
      error?: string;
    };
    expect(errors).toEqual([]);
    return report;
  } finally {
    await context.close();
  }
}

describe('Chromium', () => {
  for (const mode of ['wasm', 'octet'] as const) {
    const mime = mode === 'wasm' ? 'application/wasm' : 'application/octet-stream (fallback)';
    test(`browser entry, .wasm served as ${mime}: all vectors, bit-identical to Node; clear error before init`, async () => {
      const r = await runPage(`${base}/${mode}/vectors.html`);
      expect(r.error).toBeUndefined();
      console.log(`chromium: ${r.version}`);
      expect(r.entry).toBe(`${base}/${mode}/node_modules/focal-loss/dist/browser.js`);
      expect(served).toContainEqual({
        path: `/${mode}/node_modules/focal-loss/dist/focal_loss.wasm`,
        type: mode === 'wasm' ? 'application/wasm' : 'application/octet-stream',
      });
      expect(r.beforeInit).toMatch(/^Error: focal-loss: the WebAssembly module is not loaded; call `await init\(\)`/);
      expect(r.duringInit).toMatch(/^Error: focal-loss: init\(\) has not finished yet; await init\(\)/);
      expectMatchesNode(r);
    });
  }

  test('examples/browser computes the same loss and gradient as Node', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${base}/repo/examples/browser/index.html`);
    await tab.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
    const shown = JSON.parse((await tab.textContent('#out')) ?? '') as { loss: number; grad: number[] };
    const want = api.softmaxFocalLossWithGrad(new Float64Array([2, 0.5, -1, 0, 3, 0.1]), [0, 1], {
      classes: 3,
      gamma: 2,
    });
    expect(shown).toEqual({ loss: want.loss, grad: Array.from(want.grad) });
    // A bad input gives the library's RangeError, shown on the page.
    await tab.fill('input[name="targets"]', '0, 5');
    await tab.click('button');
    await expect.poll(() => tab.textContent('#out')).toMatch(/^RangeError: .*targets\[1\] = 5/);
    await context.close();
  });

  test("focal-loss/tfjs: a tfjs-layers model trains with the adapter's loss on the CPU and WASM backends", async () => {
    tf.env().set('IS_TEST', true); // Node's tfjs (the reference numbers below): no "install tfjs-node" banner
    await tf.setBackend('cpu');
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`${base}/tfjs/tfjs.html`);
      await tab.waitForFunction(() => (window as unknown as { __report?: unknown }).__report !== undefined, undefined, {
        timeout: 90_000,
      });
      type Run = {
        losses: number[];
        fixed: { loss: number[]; grad: number[] };
        tensorsBefore: number;
        tensorsAfter: number;
        simd?: boolean;
        error?: string;
      };
      const r = (await tab.evaluate(() => (window as unknown as { __report: unknown }).__report)) as {
        error?: string;
        tfjs: string;
        adapter: string;
        backends: Record<string, Run>;
        beforeInit: { loss: number[]; bad: string | null; badAfterInit: string | null };
      };
      expect(r.error).toBeUndefined();
      expect(errors).toEqual([]);
      // focalLoss() before init(): works once init() is done; an unknown option name is refused at once, before init().
      expect(r.beforeInit.loss).toEqual(
        Array.from(focalLoss({ gamma: 2, fromLogits: true })(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, -1]])).dataSync()),
      );
      const unknownGama = /^TypeError: focal-loss\/tfjs: focalLoss\(\{ kind: 'softmax' \}\) has no option 'gama'/;
      expect(r.beforeInit.bad).toMatch(unknownGama);
      expect(r.beforeInit.badAfterInit).toMatch(unknownGama);
      expect(r.adapter).toBe(`${base}/tfjs/node_modules/focal-loss/dist/tfjs.js`);
      // One focal_loss.wasm for the page and the adapter: the adapter imported the page's 'focal-loss'.
      expect(served.filter((s) => s.path.startsWith('/tfjs/') && s.path.endsWith('focal_loss.wasm'))).toHaveLength(1);
      // What the adapter computes in Node on the same fixed batch (CPU backend): bit-identical.
      const mod = (await import(/* @vite-ignore */ pathToFileURL(join(dir, 'tfjs-train.mjs')).href)) as {
        fixedBatch: (t: typeof tf, f: typeof focalLoss) => { loss: number[]; grad: number[] };
      };
      const node = mod.fixedBatch(tf, focalLoss);
      for (const name of ['cpu', 'wasm']) {
        const run = r.backends[name];
        expect(run.error, `${name} backend`).toBeUndefined();
        const shown = run.losses.map((l) => l.toFixed(4)).join(' ');
        console.log(
          `chromium, tfjs ${r.tfjs} ${name} backend${run.simd === undefined ? '' : ` (SIMD ${run.simd})`}: focal loss by epoch ${shown}`,
        );
        expect(run.losses.every(Number.isFinite)).toBe(true);
        expect(run.losses[run.losses.length - 1], shown).toBeLessThan(run.losses[0] * 0.5);
        expect(run.tensorsAfter, `${name}: tensors left behind`).toBe(run.tensorsBefore);
        expect(run.fixed.loss).toEqual(node.loss);
        if (name === 'cpu') expect(run.fixed.grad).toEqual(node.grad);
        else
          for (let i = 0; i < node.grad.length; i++)
            expect(Math.abs(run.fixed.grad[i] - node.grad[i])).toBeLessThanOrEqual(
              1e-7 * Math.abs(node.grad[i]) + 1e-9,
            );
      }
    } finally {
      await context.close();
    }
  });
});
