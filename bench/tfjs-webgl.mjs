// Time per epoch of a small tfjs-layers model trained with focal-loss/tfjs's focalLoss against the same model
// trained with TensorFlow.js's own cross-entropy, on tfjs's WebGL backend in headless Chromium (served from
// 127.0.0.1). On a machine without a GPU, Chromium's WebGL is SwiftShader — software rendering on the CPU — so the
// figures say how the adapter's per-batch read-back behaves on a WebGL backend, not how fast any GPU is.
//
//   node bench/tfjs-webgl.mjs [webgl|cpu] [--samples N] [--batch B] [--rounds R]     (after `npm run build`)
//
// Four models with the same seeded initial weights, each trained on the same data in the same order:
//   focal, probabilities   dense softmax output, focalLoss({ gamma: 2 })
//   CE, probabilities      dense softmax output, loss 'categoricalCrossentropy' (tf.metrics/losses, tfjs ops)
//   focal, logits          dense linear output, focalLoss({ gamma: 2, fromLogits: true })
//   CE, logits             dense linear output, (y, z) => tf.losses.softmaxCrossEntropy(y, z)
// After two warm-up epochs each, every round trains one epoch of each model in turn (interleaved, so load drift
// hits all four alike); the median and the minimum of the rounds are printed per model, with focal ÷ CE for both.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer (got ${args[i + 1]})`);
  return v;
};
const backend = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? 'webgl';
if (backend !== 'webgl' && backend !== 'cpu') throw new Error(`backend must be webgl or cpu (got ${backend})`);
const samples = flag('--samples', 4096);
const batch = flag('--batch', 256);
const rounds = flag('--rounds', 9);
if (!existsSync(join(root, 'dist', 'tfjs.js'))) throw new Error('dist/ is missing: run `npm run build` first');

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
const { backend, samples, batch, rounds } = ${JSON.stringify({ backend, samples, batch, rounds })};
const FEATURES = 64, HIDDEN = 128, CLASSES = 10;
try {
  await init();
  if (!(await tf.setBackend(backend))) throw new Error('tf.setBackend returned false');
  await tf.ready();
  let renderer = null;
  if (backend === 'webgl') {
    const gl = tf.backend().gpgpu.gl;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  }
  // Ten Gaussian clusters in 64 dimensions, imbalanced (class k drawn with weight 1/(k+1)).
  let s = 7;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const centers = Array.from({ length: CLASSES }, () => Array.from({ length: FEATURES }, () => gauss()));
  const weights = centers.map((_, k) => 1 / (k + 1)), total = weights.reduce((a, b) => a + b, 0);
  const xs = new Float32Array(samples * FEATURES), ys = new Float32Array(samples * CLASSES);
  for (let i = 0; i < samples; i++) {
    let u = next() * total, k = 0;
    while (k < CLASSES - 1 && (u -= weights[k]) > 0) k++;
    for (let f = 0; f < FEATURES; f++) xs[i * FEATURES + f] = centers[k][f] + 1.5 * gauss();
    ys[i * CLASSES + k] = 1;
  }
  const x = tf.tensor2d(xs, [samples, FEATURES]), y = tf.tensor2d(ys, [samples, CLASSES]);
  const make = (activation, loss) => {
    const model = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [FEATURES], units: HIDDEN, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: CLASSES, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ] });
    model.compile({ optimizer: tf.train.adam(0.001), loss });
    return model;
  };
  const contenders = [
    ['focal, probabilities', make('softmax', focalLoss({ gamma: 2 }))],
    ['CE, probabilities', make('softmax', 'categoricalCrossentropy')],
    ['focal, logits', make('linear', focalLoss({ gamma: 2, fromLogits: true }))],
    ['CE, logits', make('linear', (yTrue, z) => tf.losses.softmaxCrossEntropy(yTrue, z))],
  ];
  const epoch = async (model) => {
    const t0 = performance.now();
    const h = await model.fit(x, y, { epochs: 1, batchSize: batch, shuffle: false, verbose: 0 });
    return { ms: performance.now() - t0, loss: h.history.loss[0] };
  };
  for (const [, model] of contenders) for (let i = 0; i < 2; i++) await epoch(model);
  const times = contenders.map(() => []), losses = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const e = await epoch(contenders[c][1]);
      times[c].push(e.ms);
      losses[c].push(e.loss);
    }
  }
  window.__report = { tfjs: tf.version.tfjs, backend: tf.getBackend(), renderer, userAgent: navigator.userAgent,
    results: contenders.map(([name], c) => ({ name, times: times[c], lastLoss: losses[c][rounds - 1], firstLoss: losses[c][0] })) };
} catch (error) {
  window.__report = { error: String((error && error.stack) || error) };
}
</script>`;

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path === '/bench.html') return void res.writeHead(200, { 'Content-Type': types['.html'] }).end(page);
  const rel = normalize(decodeURIComponent(path.slice(1)));
  const file = join(root, rel);
  if (
    !/^(dist|node_modules\/@tensorflow\/tfjs\/dist)\/[^/]+$/.test(rel) ||
    !existsSync(file) ||
    !statSync(file).isFile()
  ) {
    return void res.writeHead(path === '/favicon.ico' ? 204 : 404).end();
  }
  res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
// The flags of test/helpers/chromium.ts: headless, no GPU (WebGL then runs on SwiftShader).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
try {
  const tab = await browser.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  await tab.goto(`http://127.0.0.1:${server.address().port}/bench.html`);
  await tab.waitForFunction(() => window.__report !== undefined, undefined, { timeout: 1_800_000 });
  const r = await tab.evaluate(() => window.__report);
  if (r.error || errors.length) throw new Error(r.error ?? errors.join('\n'));
  const median = (a) => {
    const b = [...a].sort((p, q) => p - q);
    return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
  };
  const ms = Object.fromEntries(r.results.map((c) => [c.name, median(c.times)]));
  console.log(
    `tfjs ${r.tfjs}, ${r.backend} backend${r.renderer ? ` (${r.renderer})` : ''}; ${r.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? r.userAgent}`,
  );
  console.log(
    `model 64 → 128 relu → 10, Adam; ${samples} samples, batch ${batch} (${Math.ceil(samples / batch)} steps per epoch); median of ${rounds} interleaved epochs each`,
  );
  console.log(
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  for (const c of r.results) {
    console.log(
      `  ${c.name.padEnd(22)} ${ms[c.name].toFixed(1).padStart(8)} ms/epoch  (min ${Math.min(...c.times).toFixed(1)}, max ${Math.max(...c.times).toFixed(1)}; loss ${c.firstLoss.toFixed(4)} → ${c.lastLoss.toFixed(4)})`,
    );
  }
  // The minimum is the epoch least disturbed by other processes; on a loaded machine its ratio is the steadier one.
  const least = Object.fromEntries(r.results.map((c) => [c.name, Math.min(...c.times)]));
  const ratio = (t, kind) => (t[`focal, ${kind}`] / t[`CE, ${kind}`]).toFixed(2);
  console.log(
    `focal ÷ CE, medians: probabilities ${ratio(ms, 'probabilities')}×, logits ${ratio(ms, 'logits')}×; minima: probabilities ${ratio(least, 'probabilities')}×, logits ${ratio(least, 'logits')}×`,
  );
} finally {
  await browser.close();
  server.close();
}
