// What focal-loss/tfjs costs over a bare package call: `node bench/tfjs-adapter.mjs [cpu|wasm] [rows] [classes]`
// (default: the tfjs CPU backend, 4096 × 10, float32, one-hot targets; needs `npm run build` first).
//
// Timed, interleaved, median of many rounds:
//   package      softmaxFocalLossWithGrad(logits, oneHot, { classes, reduction: 'none' }) on typed arrays
//   adapter      focalLoss({ fromLogits: true })(yTrue, yPred), then .dispose()  (the forward pass: it already
//                computes the gradient, in the same fused call)
//   adapter+grad tf.grad of its mean (forward, then the gradient tensor: dy broadcast times the stored gradient)
//   probs        the same with fromLogits: false (probabilities in: log p per element, and ∂z/∂p)
// On the CPU backend dataSync() returns the tensor's own memory, so "adapter − package" is the adapter's own
// work (reading the tensors, the per-sample means, the gradient's scaling, making tensors); on the WASM
// backend dataSync() copies out of tfjs's WebAssembly heap and the tensors are copied back in. On WebGL /
// WebGPU the read-back of yPred and yTrue (a GPU → CPU download that first waits for the queued work) comes
// on top, and the gradient goes back up as a tensor; neither backend is available on a headless, GPU-less
// machine, so neither is measured here.
import * as tf from '@tensorflow/tfjs';
import { softmaxFocalLossWithGrad } from 'focal-loss';
import { focalLoss } from 'focal-loss/tfjs';

const backend = process.argv[2] ?? 'cpu';
const rows = Number(process.argv[3] ?? 4096);
const C = Number(process.argv[4] ?? 10);
if (backend === 'wasm') {
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  const { createRequire } = await import('node:module');
  const { dirname } = await import('node:path');
  setWasmPaths(
    dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/',
  );
}
tf.env().set('PROD', true); // no tfjs-node banner, no debug checks: what a user's training loop runs
if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not initialize`);

let s = 12345;
const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const logits = Float32Array.from({ length: rows * C }, () => (next() - 0.5) * 8);
const oneHot = new Float32Array(rows * C);
for (let r = 0; r < rows; r++) oneHot[r * C + Math.floor(next() * C)] = 1;
const yTrue = tf.tensor2d(oneHot, [rows, C]);
const yPred = tf.tensor2d(logits, [rows, C]);
const probs = tf.softmax(yPred);

const fLogits = focalLoss({ fromLogits: true });
const fProbs = focalLoss();
const contenders = {
  package: () => softmaxFocalLossWithGrad(logits, oneHot, { classes: C, reduction: 'none' }),
  adapter: () => fLogits(yTrue, yPred).dispose(),
  'adapter+grad': () => tf.tidy(() => void tf.grad((x) => tf.mean(fLogits(yTrue, x)))(yPred)),
  'probs adapter': () => fProbs(yTrue, probs).dispose(),
  'probs adapter+grad': () => tf.tidy(() => void tf.grad((x) => tf.mean(fProbs(yTrue, x)))(probs)),
};

const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let warm = 0; warm < 20; warm++) for (const f of Object.values(contenders)) f();
const before = tf.memory().numTensors;
for (let round = 0; round < 200; round++) {
  for (const [name, f] of Object.entries(contenders)) {
    const t0 = performance.now();
    f();
    times[name].push(performance.now() - t0);
  }
}
if (tf.memory().numTensors !== before) throw new Error(`tensor leak: ${before} → ${tf.memory().numTensors}`);
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const base = median(times.package);
console.log(
  `tfjs ${tf.version.tfjs}, ${tf.getBackend()} backend, Node ${process.version}; [${rows}, ${C}] float32, one-hot targets; median of 200 interleaved rounds`,
);
for (const [name, t] of Object.entries(times)) {
  const m = median(t);
  console.log(
    `${name.padEnd(20)} ${m.toFixed(3).padStart(8)} ms   ${(m / base).toFixed(2)}× package   (+${(m - base).toFixed(3)} ms)`,
  );
}
