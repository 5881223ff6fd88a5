// TensorFlow.js contenders: the same focal loss and its gradient w.r.t. the logits, composed from
// tfjs ops, on the WASM backend (SIMD, single thread in Node) and the CPU backend. Each timed call
// does what a user does per batch: make tensors from the typed arrays (logits; int32 labels →
// oneHot), compute the loss and the gradient, read both back (dataSync), dispose every tensor.
//
// The formulation is the fastest correct one of those timed by bench/tfjs-variants.mjs (autograd
// with tf.valueAndGrad, tf.customGrad, logSoftmax vs softmax, pow vs square, gather vs one-hot,
// dataSync vs await data()): the analytic gradient written with ops, which is what a tfjs user's
// tf.customGrad gradFunc would contain, evaluated directly (customGrad + valueAndGrad around the
// same ops measured the same, within noise). No tf.tidy around the call: tf.tidy walks the value
// its callback returns looking for tensors, and the old contender returned the gradient's typed
// array (655k–2M elements) from inside tf.tidy — walking it made that call ~14× slower on the WASM
// backend than the same ops outside. Every tensor created is disposed explicitly instead;
// expectNoTensorLeak checks it.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);
setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');

let initialized = false;
/** Registers and initializes both backends (once). */
export async function initTfjs() {
  if (initialized) return;
  tf.env().set('IS_TEST', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialize');
  if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialize');
  initialized = true;
}

export async function useBackend(name) {
  if (tf.getBackend() !== name) await tf.setBackend(name);
}

export function tfjsInfo() {
  return `tfjs ${tf.version.tfjs}, wasm SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`;
}

/**
 * Runs `run()` once on the current backend and throws if it leaves tensors behind
 * (tf.memory().numTensors grew). Returns run()'s result and the tensor counts.
 */
export function expectNoTensorLeak(run, what = 'tfjs call') {
  const before = tf.memory().numTensors;
  const result = run();
  const after = tf.memory().numTensors;
  if (after > before)
    throw new Error(
      `${what} leaked ${after - before} tensors on the ${tf.getBackend()} backend (numTensors ${before} → ${after})`,
    );
  return { result, before, after };
}

/** Collects the tensors a call creates, for one explicit dispose at its end. */
function tracker() {
  const made = [];
  const k = (t) => {
    made.push(t);
    return t;
  };
  k.disposeAll = () => tf.dispose(made);
  return k;
}

/**
 * m^e. tf.pow costs ~10 ms per million elements on the WASM backend (about 40 multiplies), so,
 * as a user who profiled would, the exponent the default γ = 2 needs (m^(γ−1) = m) is not a pow.
 * Any other γ goes through tf.pow. Returns a new tensor or `m` itself.
 */
function powOrSelf(m, e, k) {
  if (e === 1) return m;
  if (e === 2) return k(tf.square(m));
  return k(tf.pow(m, e));
}

/**
 * Softmax focal loss, hard targets, mean over items: ℓ = −(1 − p_t)^γ log p_t, and
 * ∂ℓ/∂z_j = G (δ_jt − p_j) with G = (γ (1 − p_t)^(γ−1) p_t log p_t − (1 − p_t)^γ) / items.
 * p = tf.softmax (one kernel), log p_t = log(Σ p·onehot) — the textbook (Keras-style) form; it is
 * −∞ only where p_t underflows (the target's logit ~87 below the row's max in float32), which the
 * bench's data never comes near (the agreement check would show it).
 * Channels-first [N, C, ...spatial] is transposed to channels-last first (tf.softmax works on the
 * last axis only), and the gradient transposed back, as a tfjs user would.
 */
export function tfjsSoftmax(logits, targets, N, C, S, spatialShape, gamma) {
  const k = tracker();
  const items = N * S;
  const x = k(S === 1 ? tf.tensor2d(logits, [N, C]) : tf.tensor(logits, [N, C, ...spatialShape]));
  const rows =
    S === 1 ? x : k(tf.reshape(k(tf.transpose(x, [0, ...spatialShape.map((_, i) => i + 2), 1])), [items, C]));
  // Not tf.oneHot(labels, C, 1, 0, 'float32'): on the WASM backend (tfjs 4.22) that writes the int32
  // bit patterns into the float32 tensor (1 reads as 1.4e-45). int32 one-hot, then a cast.
  const oneHot = k(tf.cast(k(tf.oneHot(k(tf.tensor1d(targets, 'int32')), C)), 'float32'));
  const p = k(tf.softmax(rows));
  const pt = k(tf.sum(k(tf.mul(p, oneHot)), -1));
  const logpt = k(tf.log(pt));
  const m = k(tf.sub(1, pt)); // 1 − p_t
  const m1 = powOrSelf(m, gamma - 1, k); // (1 − p_t)^(γ−1)
  const focal = k(tf.mul(m1, m)); // (1 − p_t)^γ
  const negLoss = k(tf.mean(k(tf.mul(focal, logpt))));
  // G = (1 − p_t)^(γ−1) (γ p_t log p_t − (1 − p_t)) / items
  const G = k(tf.mul(m1, k(tf.sub(k(tf.mul(k(tf.mul(pt, logpt)), gamma / items)), k(tf.div(m, items))))));
  let grad = k(tf.mul(k(tf.expandDims(G, 1)), k(tf.sub(oneHot, p))));
  if (S !== 1) {
    const back = [0, spatialShape.length + 1, ...spatialShape.map((_, i) => i + 1)];
    grad = k(tf.transpose(k(tf.reshape(grad, [N, ...spatialShape, C])), back));
  }
  const loss = -negLoss.dataSync()[0];
  const g = grad.dataSync();
  k.disposeAll();
  return { loss, grad: g };
}

/**
 * Sigmoid focal loss (torchvision's formula), hard 0/1 targets, mean over elements:
 * ℓ = α_t (1 − p_t)^γ CE with CE = −log p_t. With the logit of the true class z_t = ±z (s = 1 − 2y,
 * u = s·z = −z_t), p_t = σ(z_t) and 1 − p_t = σ(u) each come from tf.sigmoid (no 1 − p cancellation), and
 * ∂ℓ/∂z = s α_t q^γ (γ p_t CE + q) / n with q = 1 − p_t   (∂q/∂u = q p_t, ∂CE/∂u = q).
 * −log p_t is +∞ only where p_t underflows (z_t below ~−87 in float32); the bench's logits are within ±5.5.
 */
export function tfjsSigmoid(logits, targets, gamma, alpha) {
  const k = tracker();
  const n = logits.length;
  const x = k(tf.tensor1d(logits));
  const y = k(tf.tensor1d(targets, 'float32'));
  const s = k(tf.sub(1, k(tf.mul(y, 2)))); // +1 for negatives, −1 for positives
  const at = k(tf.add(k(tf.mul(y, 2 * alpha - 1)), 1 - alpha)); // α_t
  const u = k(tf.mul(s, x)); // −z_t
  const q = k(tf.sigmoid(u)); // 1 − p_t
  const pt = k(tf.sigmoid(k(tf.neg(u)))); // p_t
  const logpt = k(tf.log(pt)); // −CE
  const qg = powOrSelf(q, gamma, k); // (1 − p_t)^γ
  const w = k(tf.mul(at, qg)); // α_t (1 − p_t)^γ
  const negLoss = k(tf.mean(k(tf.mul(w, logpt))));
  // s α_t q^γ (q − γ p_t log p_t) / n
  const inner = k(tf.sub(q, k(tf.mul(k(tf.mul(pt, logpt)), gamma))));
  const grad = k(tf.mul(k(tf.mul(w, inner)), k(tf.div(s, n))));
  const loss = -negLoss.dataSync()[0];
  const g = grad.dataSync();
  k.disposeAll();
  return { loss, grad: g };
}
