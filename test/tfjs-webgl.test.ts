// focal-loss/tfjs on TensorFlow.js's WebGL backend, in headless Chromium. This machine has no GPU: Chromium's
// WebGL is SwiftShader (software rendering), which tfjs's webgl backend runs on like on any other GL device —
// the same shaders, texture uploads and downloads, so the adapter's path on WebGL (yPred read back from a
// texture, the gradient made a tensor and multiplied by dy on the GPU) is exercised for real. The page computes
// every loss kind's per-sample loss and gradient on the CPU backend and on WebGL from the same inputs, the
// gradient of a dense softmax layer's mean loss with respect to its weights, and trains a small model; the test
// checks WebGL's numbers against the CPU backend's within float32 tolerance and that training lowers the loss.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium } from './helpers/chromium';
import { root } from './runtimes/fixture';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
};

// tf.fesm.js holds tfjs-core, layers and the CPU and WebGL backends: the page and the adapter's
// '@tensorflow/tfjs-core' import resolve to it, so they share one tfjs.
const tfjsDist = '/node_modules/@tensorflow/tfjs/dist/tf.fesm.js';
const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": {
  "focal-loss": "/dist/browser.js", "focal-loss/tfjs": "/dist/tfjs.js",
  "@tensorflow/tfjs": "${tfjsDist}", "@tensorflow/tfjs-core": "${tfjsDist}"
} }</script>
<script type="module">
import * as tf from '@tensorflow/tfjs';
import { init } from 'focal-loss';
import { focalLoss } from 'focal-loss/tfjs';

// A deterministic float in [-2, 2) from a seed (the same numbers on both backends).
function values(n, seed) {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 2);
}
const softmaxRows = (z, C) => z.map((_, i) => { const r = Math.floor(i / C) * C; const m = Math.max(...z.slice(r, r + C)); const e = z.slice(r, r + C).map((v) => Math.exp(v - m)); return e[i - r] / e.reduce((a, b) => a + b, 0); });
const sigmoid = (v) => 1 / (1 + Math.exp(-v));

// Each case: a loss, yTrue and yPred (as plain arrays and a shape). Targets: one-hot, soft rows, 0/1, quality scores.
const oneHot = (labels, C) => labels.flatMap((t) => Array.from({ length: C }, (_, c) => (c === t ? 1 : 0)));
const z43 = values(12, 7), z223 = values(12, 8), z34 = values(12, 9);
const y01 = [1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0];
const q = [0, 0.83, 0, 0, 0, 0, 0.4, 0, 0.61, 0, 0, 0];
const cases = [
  { name: 'softmax, logits, [4, 3]', options: { gamma: 1.5, alpha: [1, 2, 0.5], fromLogits: true }, shape: [4, 3], yTrue: oneHot([0, 2, 1, 2], 3), yPred: z43 },
  { name: 'softmax, probabilities, [4, 3], soft targets', options: { gamma: 2, labelSmoothing: 0.1 }, shape: [4, 3], yTrue: [0.2, 0.5, 0.3, 1, 0, 0, 0, 0, 1, 0.25, 0.25, 0.5], yPred: softmaxRows(z43, 3) },
  { name: 'softmax, logits, [2, 2, 3]', options: { gamma: 0.5, fromLogits: true }, shape: [2, 2, 3], yTrue: oneHot([1, 0, 2, 2], 3), yPred: z223 },
  { name: 'sigmoid, logits, [3, 4]', options: { kind: 'sigmoid', gamma: 2, alpha: 0.25, fromLogits: true }, shape: [3, 4], yTrue: y01, yPred: z34 },
  { name: 'sigmoid, probabilities, [3, 4], posWeight', options: { kind: 'sigmoid', gamma: 2, alpha: null, posWeight: [1, 2, 3, 0.5] }, shape: [3, 4], yTrue: y01, yPred: z34.map(sigmoid) },
  { name: 'quality, logits, [3, 4]', options: { kind: 'quality', beta: 2, fromLogits: true }, shape: [3, 4], yTrue: q, yPred: z34 },
  { name: 'varifocal, logits, [3, 4]', options: { kind: 'varifocal', fromLogits: true }, shape: [3, 4], yTrue: q, yPred: z34 },
  { name: 'asymmetric, logits, [3, 4]', options: { kind: 'asymmetric', fromLogits: true }, shape: [3, 4], yTrue: y01, yPred: z34 },
];

/** Per-sample loss, and the gradient of Σ_b w_b·loss_b (a dy that differs per sample) with respect to yPred. */
function runCase(c) {
  return tf.tidy(() => {
    const f = focalLoss(c.options);
    const yTrue = tf.tensor(c.yTrue, c.shape);
    const yPred = tf.tensor(c.yPred, c.shape);
    const w = tf.tensor1d(Array.from({ length: c.shape[0] }, (_, b) => 1 + b));
    const g = tf.grad((v) => tf.sum(tf.mul(f(yTrue, v), w)))(yPred);
    return { loss: Array.from(f(yTrue, yPred).dataSync()), grad: Array.from(g.dataSync()) };
  });
}

/** A dense softmax layer computed by the backend: the mean focal loss and its gradient for the weights and bias. */
function denseLayer() {
  return tf.tidy(() => {
    const x = tf.tensor2d(values(8 * 5, 11), [8, 5]);
    const y = tf.tensor2d(oneHot([0, 1, 2, 0, 1, 2, 2, 1], 3), [8, 3]);
    const W = tf.variable(tf.tensor2d(values(5 * 3, 12), [5, 3]));
    const bias = tf.variable(tf.tensor1d([0.1, -0.2, 0.05]));
    const f = focalLoss({ gamma: 2, alpha: [0.5, 1, 2] });
    const { value, grads } = tf.variableGrads(() => tf.mean(f(y, tf.softmax(tf.add(tf.matMul(x, W), bias)))), [W, bias]);
    const r = { loss: value.dataSync()[0], dW: Array.from(grads[W.name].dataSync()), dBias: Array.from(grads[bias.name].dataSync()) };
    W.dispose();
    bias.dispose();
    return r;
  });
}

/** Three Gaussian blobs (1 : 2 : 4), a 2 → 16 relu → 3 softmax model with seeded weights, Adam, 30 epochs. */
async function train() {
  let s = 2024;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const centers = [[-2, 0], [2, 1], [0, -2.5]];
  const xs = [], ys = [];
  for (let i = 0; i < 280; i++) {
    const k = i % 7 === 0 ? 0 : i % 7 < 3 ? 1 : 2;
    xs.push([centers[k][0] + 0.8 * gauss(), centers[k][1] + 0.8 * gauss()]);
    ys.push([0, 1, 2].map((j) => (j === k ? 1 : 0)));
  }
  const x = tf.tensor2d(xs), y = tf.tensor2d(ys);
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [2], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ] });
  const optimizer = tf.train.adam(0.03);
  model.compile({ optimizer, loss: focalLoss({ gamma: 2, alpha: [2, 1, 0.5] }), metrics: ['accuracy'] });
  const history = await model.fit(x, y, { epochs: 30, batchSize: 32, shuffle: false, verbose: 0 });
  model.dispose();
  optimizer.dispose();
  tf.dispose([x, y]);
  return { losses: history.history.loss, accuracy: history.history.acc ?? history.history.accuracy };
}

try {
  await init();
  const report = { tfjs: tf.version.tfjs, backends: {} };
  for (const name of ['cpu', 'webgl']) {
    if (!(await tf.setBackend(name))) throw new Error('tf.setBackend(' + name + ') returned false');
    await tf.ready();
    const run = { backend: tf.getBackend(), tensorsBefore: tf.memory().numTensors };
    if (name === 'webgl') {
      const gl = tf.backend().gpgpu.gl;
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      run.renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
      run.webglVersion = tf.env().getNumber('WEBGL_VERSION');
      run.float32Render = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
    }
    run.cases = cases.map((c) => ({ name: c.name, ...runCase(c) }));
    run.dense = denseLayer();
    run.training = await train();
    run.tensorsAfter = tf.memory().numTensors;
    report.backends[name] = run;
  }
  window.__report = report;
} catch (error) {
  window.__report = { error: String((error && error.stack) || error) };
}
</script>`;

let server: Server;
let base = '';
/** Paths the server answered 404 to (none expected). */
const notFound: string[] = [];
let browser: Browser;

beforeAll(async () => {
  // Serves the page, the package's dist/ and tfjs's dist/ from this repository; nothing else.
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/webgl.html') {
      res.writeHead(200, { 'Content-Type': types['.html'] }).end(page);
      return;
    }
    const rel = normalize(decodeURIComponent(path.slice(1)));
    const file = join(root, rel);
    const allowed = /^(dist|node_modules\/@tensorflow\/tfjs\/dist)\/[^/]+$/.test(rel);
    if (!allowed || !existsSync(file) || !statSync(file).isFile()) {
      notFound.push(path);
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

interface Run {
  backend: string;
  renderer?: string;
  webglVersion?: number;
  float32Render?: boolean;
  cases: { name: string; loss: number[]; grad: number[] }[];
  dense: { loss: number; dW: number[]; dBias: number[] };
  training: { losses: number[]; accuracy: number[] };
  tensorsBefore: number;
  tensorsAfter: number;
}

/**
 * float32 tolerance: `rel` relative to the largest magnitude of the reference (a few float32 ulps where only the
 * final multiply by dy runs on the GPU; more where the GPU computed the layer's matMul, exp and sums too).
 */
function expectClose(got: number[], want: number[], rel: number, what: string): number {
  expect(got.length, what).toBe(want.length);
  expect(want.length, what).toBeGreaterThan(0);
  const scale = Math.max(...want.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    expect(Number.isFinite(got[i]), `${what}[${i}] = ${got[i]}`).toBe(true);
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
  }
  expect(worst, `${what}: worst difference relative to the largest value`).toBeLessThanOrEqual(rel);
  return worst;
}

test("focal-loss/tfjs on the WebGL backend (SwiftShader): the CPU backend's losses and gradients, and a model trains", async () => {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    tab.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await tab.goto(`${base}/webgl.html`);
    await tab.waitForFunction(() => (window as unknown as { __report?: unknown }).__report !== undefined, undefined, {
      timeout: 110_000,
    });
    const r = (await tab.evaluate(() => (window as unknown as { __report: unknown }).__report)) as {
      error?: string;
      tfjs: string;
      backends: Record<'cpu' | 'webgl', Run>;
    };
    expect(r.error).toBeUndefined();
    expect(notFound).toEqual([]);
    expect(errors).toEqual([]);
    const { cpu, webgl } = r.backends;
    expect(cpu.backend).toBe('cpu');
    // Really WebGL, and (launchChromium passes --disable-gpu) on SwiftShader, Chromium's software renderer.
    expect(webgl.backend).toBe('webgl');
    expect(webgl.renderer).toMatch(/SwiftShader/);
    console.log(
      `chromium, tfjs ${r.tfjs} webgl backend: WebGL ${webgl.webglVersion}, float32 render ${webgl.float32Render}, ${webgl.renderer}`,
    );

    expect(webgl.cases.map((c) => c.name)).toEqual(cpu.cases.map((c) => c.name));
    expect(webgl.cases).toHaveLength(8);
    const worst = { loss: 0, grad: 0 };
    for (let i = 0; i < cpu.cases.length; i++) {
      const name = cpu.cases[i].name;
      // The loss is computed by the package on yPred read back from a texture: float32 in, float32 out.
      worst.loss = Math.max(
        worst.loss,
        expectClose(webgl.cases[i].loss, cpu.cases[i].loss, 4 * 2 ** -24, `${name}: loss`),
      );
      // The gradient: the package's, times dy (per sample) in a WebGL shader.
      worst.grad = Math.max(
        worst.grad,
        expectClose(webgl.cases[i].grad, cpu.cases[i].grad, 4 * 2 ** -24, `${name}: grad`),
      );
    }
    // Through a dense softmax layer that WebGL computes (matMul, softmax, the backward pass): float32 rounding of
    // a few dozen operations.
    const dense = {
      loss: expectClose([webgl.dense.loss], [cpu.dense.loss], 1e-5, 'dense: loss'),
      dW: expectClose(webgl.dense.dW, cpu.dense.dW, 1e-5, 'dense: dW'),
      dBias: expectClose(webgl.dense.dBias, cpu.dense.dBias, 1e-5, 'dense: dBias'),
    };
    console.log(
      `webgl vs cpu, worst relative difference: per-case loss ${worst.loss.toExponential(2)}, grad ${worst.grad.toExponential(2)}; dense layer loss ${dense.loss.toExponential(2)}, dW ${dense.dW.toExponential(2)}, dBias ${dense.dBias.toExponential(2)}`,
    );

    for (const run of [cpu, webgl]) {
      const { losses, accuracy } = run.training;
      const shown = losses.map((l) => l.toFixed(4)).join(' ');
      console.log(
        `${run.backend}: focal loss by epoch ${shown}; accuracy ${accuracy[0].toFixed(3)} → ${accuracy[accuracy.length - 1].toFixed(3)}`,
      );
      expect(losses).toHaveLength(30);
      expect(losses.every(Number.isFinite), shown).toBe(true);
      expect(losses[losses.length - 1], shown).toBeLessThan(losses[0] * 0.5);
      expect(accuracy[accuracy.length - 1]).toBeGreaterThan(0.9);
      expect(run.tensorsAfter, `${run.backend}: tensors left behind`).toBe(run.tensorsBefore);
    }
    // The same training on both backends, apart from float32 rounding in WebGL's layers: the same curve.
    cpu.training.losses.forEach((l, epoch) =>
      expect(Math.abs(webgl.training.losses[epoch] - l), `epoch ${epoch}`).toBeLessThanOrEqual(0.05 * l),
    );
  } finally {
    await context.close();
  }
}, 120_000);
