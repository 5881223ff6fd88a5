// focal-loss/tfjs (ts/tfjs.ts, built to dist/tfjs.js): the TensorFlow.js adapter.
// - Its per-sample loss and its gradient (through tf.grad / tf.variableGrads, with a non-uniform upstream
//   gradient) equal this package's own functions on the same data, for softmax and every element-wise kind,
//   fromLogits true and false, 2-D, 3-D and 4-D tensors.
// - They equal Keras's CategoricalFocalCrossentropy / BinaryFocalCrossentropy, written out below from
//   Keras's source in tfjs ops (loss by the formula, gradient by tfjs's autograd of it), where the
//   semantics coincide; one test shows where they do not (Keras clips probabilities to [1e-7, 1 − 1e-7]).
// - tfjs-layers models train with model.compile({ loss: focalLoss(...) }) on the CPU and WASM backends;
//   nothing leaks tensors (tf.memory().numTensors; IS_TEST also makes tfjs check every kernel for leaks).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { focalLoss, type TfjsFocalLossOptions } from 'focal-loss/tfjs';
import { FAMILY, type ElementLossName } from '../ts/family';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/**
 * Switches tfjs's backend. On the CPU backend IS_TEST makes tfjs check every kernel (customGrad's forward
 * included) for data it leaves behind; not on the WASM backend, whose own fusedMatMul kernel (a dense
 * layer with a bias) fails that check in tfjs 4.22 ("internal memory leak (3 data ids)").
 */
async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  expect(await tf.setBackend(name)).toBe(true);
  tf.env().set('IS_TEST', name === 'cpu');
}

beforeAll(async () => {
  setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  await useBackend('wasm');
  await useBackend('cpu');
});

/** A deterministic uniform [0, 1) generator. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Row-wise softmax of float32 logits, in double, rounded to float32. */
function softmaxRows(z: Float32Array, C: number): Float32Array {
  const p = new Float32Array(z.length);
  for (let r = 0; r < z.length; r += C) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, z[r + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[r + c] - max);
    for (let c = 0; c < C; c++) p[r + c] = Math.exp(z[r + c] - max) / s;
  }
  return p;
}

const sigmoid = (z: Float32Array) => z.map((x) => 1 / (1 + Math.exp(-x)));

/** |actual − expected| ≤ rtol·|expected| + atol·max|expected|, element by element. */
function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  what: string,
  atol = rtol,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= rtol * Math.abs(expected[i]) + atol * scale;
    if (!ok) expect.fail(`${what}[${i}] = ${actual[i]}, expected ${expected[i]} (rtol ${rtol}, scale ${scale})`);
  }
}

/** Data of one test case: yTrue, logits z and probabilities p (float32), in the tensors' row-major layout. */
interface Case {
  shape: number[];
  yTrue: Float32Array;
  z: Float32Array;
  p: Float32Array;
}

function softmaxCase(shape: number[], seed: number, soft = false): Case {
  const next = rng(seed);
  const C = shape[shape.length - 1];
  const z = Float32Array.from({ length: size(shape) }, () => (next() - 0.5) * 8);
  const yTrue = new Float32Array(z.length);
  for (let r = 0; r < z.length; r += C) {
    if (soft) {
      // A soft row: 0.7 on one class, 0.3 spread over two others (sums to 1 exactly in float32).
      const t = Math.floor(next() * C);
      yTrue[r + t] = 0.75;
      yTrue[r + ((t + 1) % C)] += 0.125;
      yTrue[r + ((t + 2) % C)] += 0.125;
    } else {
      yTrue[r + Math.floor(next() * C)] = 1;
    }
  }
  return { shape, yTrue, z, p: softmaxRows(z, C) };
}

function elementCase(kind: string, shape: number[], seed: number): Case {
  const next = rng(seed);
  const z = Float32Array.from({ length: size(shape) }, () => (next() - 0.5) * 8);
  const yTrue = Float32Array.from(z, () => {
    const u = next();
    if (kind === 'asymmetric' || kind === 'sigmoid') return u < 0.35 ? 1 : 0;
    return u < 0.5 ? 0 : Math.fround(next()); // quality / varifocal: scores, many zeros
  });
  return { shape, yTrue, z, p: sigmoid(z) };
}

type WithGrad = (
  z: Float32Array,
  t: Float32Array,
  o: Record<string, unknown>,
) => { loss: Float32Array; grad: Float32Array };
const packageFunctions: Record<string, WithGrad> = {
  softmax: api.softmaxFocalLossWithGrad as unknown as WithGrad,
  sigmoid: api.sigmoidFocalLossWithGrad as unknown as WithGrad,
  quality: api.qualityFocalLossWithGrad as unknown as WithGrad,
  varifocal: api.varifocalLossWithGrad as unknown as WithGrad,
  asymmetric: api.asymmetricLossWithGrad as unknown as WithGrad,
};

/**
 * What the adapter must give, from the package's own function on the logits z: sample b's loss is the mean
 * of its items' (elements') 'none' losses, and ∂(Σ_b dy_b · loss_b)/∂yPred is dy_b · grad / (items per
 * sample), times ∂z/∂p (1/p for softmax, 1/(p(1 − p)) element-wise) when yPred holds the probabilities.
 */
function expected(kind: string, c: Case, options: Record<string, unknown>, fromLogits: boolean, dy: Float32Array) {
  const C = c.shape[c.shape.length - 1];
  const batch = c.shape[0];
  const r = packageFunctions[kind](c.z, c.yTrue, { ...options, classes: C, reduction: 'none' });
  const per = r.loss.length / batch;
  const loss = Array.from(
    { length: batch },
    (_, b) => r.loss.slice(b * per, (b + 1) * per).reduce((a, v) => a + v, 0) / per,
  );
  const perSample = c.z.length / batch;
  const grad = Array.from(r.grad, (g, i) => {
    const b = Math.floor(i / perSample);
    const p = c.p[i];
    const dzdp = fromLogits ? 1 : kind === 'softmax' ? 1 / p : 1 / (p * (1 - p));
    return (dy[b] * g * dzdp) / per;
  });
  return { loss, grad };
}

/** The adapter's per-sample loss and ∂(Σ_b dy_b · loss_b)/∂yPred, via tf.grad. */
function adapterResult(options: TfjsFocalLossOptions, c: Case, fromLogits: boolean, dy: Float32Array) {
  const f = focalLoss({ ...options, fromLogits } as TfjsFocalLossOptions);
  return tf.tidy(() => {
    const yTrue = tf.tensor(c.yTrue, c.shape);
    const yPred = tf.tensor(fromLogits ? c.z : c.p, c.shape);
    const loss = f(yTrue, yPred);
    expect(loss.shape).toEqual([c.shape[0]]);
    expect(loss.dtype).toBe('float32');
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(yTrue, x), tf.tensor1d(dy))))(yPred);
    expect(grad.shape).toEqual(c.shape);
    return { loss: Array.from(loss.dataSync()), grad: Array.from(grad.dataSync()) };
  });
}

const shapes = [
  [6, 5],
  [4, 3, 5],
  [2, 3, 2, 4],
];
const kindOptions: Record<string, Record<string, unknown>[]> = {
  softmax: [{}, { gamma: 0.5, alpha: [0.5, 1, 2, 0.25], labelSmoothing: 0.1 }],
  sigmoid: [{}, { gamma: 0.5, alpha: null, labelSmoothing: 0.1, polyEpsilon: 0.5 }],
  quality: [{}, { beta: 1.5 }],
  varifocal: [{}, { alpha: 0.5, gamma: 1.5, iouWeighted: false }],
  asymmetric: [{}, { gammaPos: 0, gammaNeg: 2, clip: 0.1 }],
};

describe('the adapter equals the package', () => {
  const dy = Float32Array.from({ length: 8 }, (_, b) => 0.25 + 0.5 * b); // a non-uniform upstream gradient
  for (const kind of Object.keys(kindOptions)) {
    for (const fromLogits of [true, false]) {
      test(`${kind}, fromLogits ${fromLogits}: per-sample loss and gradient, 2-D / 3-D / 4-D`, () => {
        shapes.forEach((shape0, s) => {
          kindOptions[kind].forEach((options0, o) => {
            // The per-class alpha of the second softmax options fits the 4-class shape only.
            const shape = kind === 'softmax' && o === 1 ? [...shape0.slice(0, -1), 4] : shape0;
            const c =
              kind === 'softmax'
                ? softmaxCase(shape, 10 * s + o + 1, o === 1)
                : elementCase(kind, shape, 10 * s + o + 1);
            const options = { kind, ...options0 } as TfjsFocalLossOptions;
            const got = adapterResult(options, c, fromLogits, dy.subarray(0, shape[0]));
            const want = expected(kind, c, options0, fromLogits, dy.subarray(0, shape[0]));
            // fromLogits false: the adapter sees p rounded to float32, not z; the difference is float32 rounding.
            const rtol = fromLogits ? 2e-6 : 2e-5;
            expectClose(got.loss, want.loss, rtol, `${kind} ${JSON.stringify(options0)} [${shape}] loss`, 0);
            expectClose(got.grad, want.grad, rtol, `${kind} ${JSON.stringify(options0)} [${shape}] grad`, rtol / 10);
          });
        });
      });
    }
  }

  test('the WASM backend gives what the CPU backend gives (its gradient multiplies dy with tf.mul)', async () => {
    const run = () =>
      ['softmax', 'sigmoid'].map((kind) => {
        const c = kind === 'softmax' ? softmaxCase([4, 3, 5], 41) : elementCase(kind, [4, 3, 5], 42);
        return adapterResult({ kind } as TfjsFocalLossOptions, c, false, Float32Array.of(1, 0.5, -2, 3));
      });
    const cpu = run();
    await useBackend('wasm');
    try {
      const wasm = run();
      cpu.forEach((r, i) => {
        expect(wasm[i].loss).toEqual(r.loss);
        expectClose(wasm[i].grad, r.grad, 1e-7, 'wasm grad', 0);
      });
    } finally {
      await useBackend('cpu');
    }
  });

  test('per-class posWeight (classes: the last axis), and tf.variableGrads', () => {
    const c = elementCase('sigmoid', [5, 3], 77);
    const options = { kind: 'sigmoid', posWeight: [1, 2, 4], gamma: 1 } as const;
    const want = expected('sigmoid', c, { posWeight: [1, 2, 4], gamma: 1 }, true, new Float32Array(5).fill(1 / 5));
    const v = tf.variable(tf.tensor(c.z, c.shape));
    const yTrue = tf.tensor(c.yTrue, c.shape);
    const f = focalLoss({ ...options, fromLogits: true });
    const { value, grads } = tf.variableGrads(() => tf.mean(f(yTrue, v)) as tf.Scalar, [v]);
    expectClose([value.dataSync()[0]], [want.loss.reduce((a, b) => a + b) / 5], 1e-6, 'mean loss');
    expectClose(grads[v.name].dataSync(), want.grad, 1e-6, 'variable grad');
    tf.dispose([v, yTrue, value, grads[v.name]]);
  });

  test('tf.losses-style: computeWeightedLoss over the per-sample losses; int32 and bool targets', () => {
    const c = softmaxCase([4, 3], 5);
    const f = focalLoss({ fromLogits: true });
    tf.tidy(() => {
      const yPred = tf.tensor(c.z, c.shape);
      const perSample = f(tf.tensor(c.yTrue, c.shape), yPred);
      const weights = tf.tensor1d([1, 0, 2, 1]);
      const w = tf.losses.computeWeightedLoss(perSample, weights, tf.Reduction.SUM);
      const s = perSample.dataSync();
      expectClose([w.dataSync()[0]], [s[0] + 2 * s[2] + s[3]], 1e-6, 'weighted');
      // One-hot as int32 (tf.oneHot) or bool: the same loss as float32.
      expectClose(f(tf.tensor(c.yTrue, c.shape, 'int32'), yPred).dataSync(), s, 0, 'int32 targets');
      expectClose(f(tf.tensor(c.yTrue, c.shape, 'bool'), yPred).dataSync(), s, 0, 'bool targets');
    });
  });
});

// ----------------------------------------------------------------------------------------------------
// Keras, written out from keras-team/keras (commit 3422977a5e38fb2f7709aaa9a08e47f0c43d0f60),
// keras/src/losses/losses.py, categorical_focal_crossentropy (lines 2280–2306):
//     if label_smoothing:
//         num_classes = ops.cast(ops.shape(y_pred)[axis], y_pred.dtype)
//         y_true = y_true * (1.0 - label_smoothing) + (label_smoothing / num_classes)
//     if from_logits:
//         y_pred = ops.softmax(y_pred, axis=axis)
//     output = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
//     output = ops.clip(output, backend.epsilon(), 1.0 - backend.epsilon())
//     cce = -y_true * ops.log(output)
//     modulating_factor = ops.power(1.0 - output, gamma)
//     weighting_factor = ops.multiply(modulating_factor, alpha)
//     focal_cce = ops.multiply(weighting_factor, cce)
//     focal_cce = ops.sum(focal_cce, axis=axis)
// binary_focal_crossentropy (lines 2503–2525):
//     if label_smoothing:
//         y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
//     if from_logits:
//         y_pred = ops.sigmoid(y_pred)
//     bce = ops.binary_crossentropy(target=y_true, output=y_pred, from_logits=False)
//     p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
//     focal_factor = ops.power(1.0 - p_t, gamma)
//     focal_bce = focal_factor * bce
//     if apply_class_balancing:
//         weight = y_true * alpha + (1 - y_true) * (1 - alpha)
//         focal_bce = weight * focal_bce
//     return ops.mean(focal_bce, axis=axis)
// and keras/src/backend/tensorflow/nn.py, binary_crossentropy from probabilities (lines 1559–1564):
//     output = tf.clip_by_value(output, backend.epsilon(), 1.0 - backend.epsilon())
//     bce = target * tf.math.log(output)
//     bce += (1 - target) * tf.math.log(1 - output)
//     return -bce
// backend.epsilon() is 1e-7. Keras reduces over the last axis only ([batch, d1, …]) and its Loss then
// averages everything ('sum_over_batch_size'); the adapter's per-sample loss averages the middle axes too,
// so the comparison averages Keras's result over them (the batch mean is the same number either way).
//
// Where the semantics coincide: the formulas are the same (−Σ α q (1 − p)^γ log p; α_t (1 − p_t)^γ BCE with
// the same smoothing and class balancing) as long as no probability is clipped. Keras's defaults differ from
// this package's: categorical alpha = 0.25 (a scalar; ours: none = 1, or one per class), binary
// apply_class_balancing = False (ours: alpha = 0.25; alpha: null is Keras's default). Where they differ:
// Keras clips probabilities to [1e-7, 1 − 1e-7] (even from_logits=True: it takes the sigmoid/softmax first),
// so its loss stops at −log(1e-7) ≈ 16.12 and its gradient is 0 beyond the clip; ours is exact from logits.
// ----------------------------------------------------------------------------------------------------
const EPSILON = 1e-7;

function kerasCategoricalFocal(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  o: { alpha: number; gamma: number; fromLogits: boolean; labelSmoothing: number },
): tf.Tensor {
  const C = yPred.shape[yPred.shape.length - 1];
  let t = yTrue;
  if (o.labelSmoothing) t = tf.add(tf.mul(t, 1 - o.labelSmoothing), o.labelSmoothing / C);
  const p = o.fromLogits ? tf.softmax(yPred) : yPred;
  let output = tf.div(p, tf.sum(p, -1, true));
  output = tf.clipByValue(output, EPSILON, 1 - EPSILON);
  const cce = tf.mul(tf.neg(t), tf.log(output));
  const modulating = tf.pow(tf.sub(1, output), o.gamma);
  const weighting = tf.mul(modulating, o.alpha);
  return tf.sum(tf.mul(weighting, cce), -1);
}

function kerasBinaryFocal(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  o: { applyClassBalancing: boolean; alpha: number; gamma: number; fromLogits: boolean; labelSmoothing: number },
): tf.Tensor {
  let t = yTrue;
  if (o.labelSmoothing) t = tf.add(tf.mul(t, 1 - o.labelSmoothing), 0.5 * o.labelSmoothing);
  const p = o.fromLogits ? tf.sigmoid(yPred) : yPred;
  const clipped = tf.clipByValue(p, EPSILON, 1 - EPSILON);
  const bce = tf.neg(tf.add(tf.mul(t, tf.log(clipped)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, clipped)))));
  const pt = tf.add(tf.mul(t, p), tf.mul(tf.sub(1, t), tf.sub(1, p)));
  const focalFactor = tf.pow(tf.sub(1, pt), o.gamma);
  let focalBce = tf.mul(focalFactor, bce);
  if (o.applyClassBalancing) focalBce = tf.mul(tf.add(tf.mul(t, o.alpha), tf.mul(tf.sub(1, t), 1 - o.alpha)), focalBce);
  return tf.mean(focalBce, -1);
}

/** Keras's per-position losses averaged over every axis but the batch: the adapter's per-sample loss. */
function perSampleMean(x: tf.Tensor): tf.Tensor {
  return x.rank === 1
    ? x
    : tf.mean(
        x,
        Array.from({ length: x.rank - 1 }, (_, i) => i + 1),
      );
}

describe("the adapter equals Keras's focal crossentropies where the semantics coincide", () => {
  const categorical = [
    { alpha: 0.25, gamma: 2, labelSmoothing: 0 }, // Keras's defaults
    { alpha: 1, gamma: 0.5, labelSmoothing: 0.1 },
    { alpha: 0.5, gamma: 0, labelSmoothing: 0.2 }, // γ = 0: cross-entropy
  ];
  for (const fromLogits of [false, true]) {
    test(`CategoricalFocalCrossentropy, from_logits ${fromLogits}: loss and gradient`, () => {
      for (const shape of [
        [8, 5],
        [3, 4, 6],
      ]) {
        for (const k of categorical) {
          const c = softmaxCase(shape, shape.length * 7 + k.gamma * 3, k.labelSmoothing > 0.15);
          const ours = focalLoss({ alpha: k.alpha, gamma: k.gamma, labelSmoothing: k.labelSmoothing, fromLogits });
          tf.tidy(() => {
            const yTrue = tf.tensor(c.yTrue, shape);
            const x = tf.tensor(fromLogits ? c.z : c.p, shape);
            const keras = (v: tf.Tensor) => perSampleMean(kerasCategoricalFocal(yTrue, v, { ...k, fromLogits }));
            const what = `[${shape}] ${JSON.stringify(k)}`;
            expectClose(ours(yTrue, x).dataSync(), keras(x).dataSync(), 2e-5, `${what} loss`, 1e-6);
            const g = (f: (v: tf.Tensor) => tf.Tensor) =>
              tf
                .grad((v: tf.Tensor) => tf.mean(f(v)))(x)
                .dataSync();
            expectClose(
              g((v) => ours(yTrue, v)),
              g(keras),
              1e-4,
              `${what} grad`,
              1e-5,
            );
          });
        }
      }
    });
  }

  const binary = [
    { applyClassBalancing: false, alpha: 0.25, gamma: 2, labelSmoothing: 0 }, // Keras's defaults ↔ alpha: null
    { applyClassBalancing: true, alpha: 0.25, gamma: 2, labelSmoothing: 0 },
    { applyClassBalancing: true, alpha: 0.6, gamma: 1, labelSmoothing: 0.1 },
    { applyClassBalancing: false, alpha: 0.25, gamma: 3, labelSmoothing: 0.2 },
  ];
  for (const fromLogits of [false, true]) {
    test(`BinaryFocalCrossentropy, from_logits ${fromLogits}: loss and gradient`, () => {
      for (const shape of [
        [8, 3],
        [3, 4, 5],
      ]) {
        for (const k of binary) {
          const c = elementCase('sigmoid', shape, shape.length * 11 + k.gamma);
          const ours = focalLoss({
            kind: 'sigmoid',
            alpha: k.applyClassBalancing ? k.alpha : null,
            gamma: k.gamma,
            labelSmoothing: k.labelSmoothing,
            fromLogits,
          });
          tf.tidy(() => {
            const yTrue = tf.tensor(c.yTrue, shape);
            const x = tf.tensor(fromLogits ? c.z : c.p, shape);
            const keras = (v: tf.Tensor) => perSampleMean(kerasBinaryFocal(yTrue, v, { ...k, fromLogits }));
            const what = `[${shape}] ${JSON.stringify(k)}`;
            expectClose(ours(yTrue, x).dataSync(), keras(x).dataSync(), 2e-5, `${what} loss`, 1e-6);
            const g = (f: (v: tf.Tensor) => tf.Tensor) =>
              tf
                .grad((v: tf.Tensor) => tf.mean(f(v)))(x)
                .dataSync();
            expectClose(
              g((v) => ours(yTrue, v)),
              g(keras),
              1e-4,
              `${what} grad`,
              1e-5,
            );
          });
        }
      }
    });
  }

  test('where they differ: Keras clips at 1e-7, the adapter is exact from logits', () => {
    tf.tidy(() => {
      // A confident wrong prediction, logit 20 for a negative: BCE = softplus(20) = 20.000000002.
      const yTrue = tf.tensor2d([[0, 1]]);
      const x = tf.tensor2d([[20, 5]]);
      const k = { applyClassBalancing: false, alpha: 0.25, gamma: 2, labelSmoothing: 0, fromLogits: true };
      const keras = kerasBinaryFocal(yTrue, x, k).dataSync()[0];
      const ours = focalLoss({ kind: 'sigmoid', alpha: null, fromLogits: true })(yTrue, x).dataSync()[0];
      const exact0 = 20 + Math.log1p(Math.exp(-20)); // element 0: (1 − p_t)^2 ≈ 1
      const exact1 = (1 / (1 + Math.exp(5))) ** 2 * Math.log1p(Math.exp(-5)); // element 1
      expect(ours).toBeCloseTo((exact0 + exact1) / 2, 5);
      // Keras's clip in float32: 1 − 1e-7 rounds to 1 − 2^-23, so −log(1 − that) = 23 log 2 ≈ 15.94.
      expect(keras).toBeCloseTo((-Math.log(1 - Math.fround(1 - EPSILON)) + exact1) / 2, 4); // ≈ 7.97: the clip, not 10.0
      // Keras's gradient w.r.t. that logit is 0 (clipped); the exact one is ≈ 1 / 2 (mean over 2 elements).
      const gk = tf
        .grad((v: tf.Tensor) => tf.sum(kerasBinaryFocal(yTrue, v, k)))(x)
        .dataSync();
      const go = tf
        .grad((v: tf.Tensor) => tf.sum(focalLoss({ kind: 'sigmoid', alpha: null, fromLogits: true })(yTrue, v)))(x)
        .dataSync();
      expect(Math.abs(gk[0])).toBeLessThan(1e-6);
      expect(go[0]).toBeCloseTo(0.5, 5);
    });
  });
});

describe('probabilities at 0 and 1 (fromLogits: false)', () => {
  test('softmax: p = 0 is raised to 2^-126 (log ≈ −87.34): a zero-probability class that is not the target adds ~0', () => {
    tf.tidy(() => {
      const yTrue = tf.tensor2d([[1, 0, 0]]);
      const p = tf.tensor2d([[0.75, 0.25, 0]]);
      const f = focalLoss({ gamma: 2 });
      const loss = f(yTrue, p).dataSync()[0];
      const masked = api.softmaxFocalLoss(new Float32Array([Math.log(0.75), Math.log(0.25), -Infinity]), [0], {
        classes: 3,
      }) as number;
      expect(loss).toBeCloseTo(masked, 7);
      const g = tf
        .grad((v: tf.Tensor) => tf.sum(f(yTrue, v)))(p)
        .dataSync();
      expect(Array.from(g).every(Number.isFinite)).toBe(true);
      expect(g[2]).toBe(0); // the floor's derivative
      // A target whose probability is exactly 0: a finite loss, −log(2^-126) = 87.34 (Keras: −log(1e-7) = 16.1).
      const worst = f(tf.tensor2d([[0, 0, 1]]), p).dataSync()[0];
      expect(worst).toBeCloseTo(126 * Math.LN2, 3);
    });
  });

  test('element-wise: p = 1 is lowered to 1 − 2^-24, p = 0 raised to 2^-126; finite loss and gradient (0 there); NaN propagates', () => {
    tf.tidy(() => {
      const elementKinds = (Object.keys(FAMILY) as (keyof typeof FAMILY)[]).filter(
        (k): k is ElementLossName => FAMILY[k].kernel === 'elementwise',
      );
      expect(elementKinds.length).toBeGreaterThanOrEqual(4);
      for (const kind of elementKinds) {
        const f = focalLoss({ kind });
        const yTrue = tf.tensor2d([[1, 0, 1, 0]]);
        const p = tf.tensor2d([[1, 1, 0, 0]]);
        const loss = f(yTrue, p).dataSync()[0];
        expect(Number.isFinite(loss), kind).toBe(true);
        const g = tf
          .grad((v: tf.Tensor) => tf.sum(f(yTrue, v)))(p)
          .dataSync();
        expect(Array.from(g), kind).toEqual([0, 0, 0, 0]);
        const nan = f(yTrue, tf.tensor2d([[NaN, 0.5, 0.5, 0.5]])).dataSync()[0];
        expect(nan, kind).toBeNaN();
      }
      // sigmoid, y = 1 and p = 1: the loss of logit(1 − 2^-24) ≈ 16.64, ~0; y = 0, p = 1: ≈ α_t · 16.64.
      const one = focalLoss({ kind: 'sigmoid', alpha: null })(
        tf.tensor2d([[1], [0]]),
        tf.tensor2d([[1], [1]]),
      ).dataSync();
      expect(one[0]).toBeLessThan(1e-13);
      expect(one[1]).toBeCloseTo(24 * Math.LN2 + Math.log1p(-(2 ** -24)) + Math.log1p(2 ** -24 / (1 - 2 ** -24)), 3);
    });
  });
});

describe('errors', () => {
  test("unknown options are a TypeError naming the option (and the adapter's list of options)", () => {
    expect(() => focalLoss({ gama: 2 } as never)).toThrow(
      new TypeError(
        "focal-loss/tfjs: focalLoss({ kind: 'softmax' }) has no option 'gama'; options are kind, fromLogits, classes, gamma, alpha, ignoreIndex, labelSmoothing, polyEpsilon, weights",
      ),
    );
    expect(() => focalLoss({ kind: 'asymmetric', gamma: 1 } as never)).toThrow(
      /focalLoss\(\{ kind: 'asymmetric' \}\) has no option 'gamma'; options are kind, fromLogits, .*gammaPos/,
    );
    expect(() => focalLoss({ kind: 'sigmoid', from_logits: true } as never)).toThrow(
      new TypeError("focal-loss/tfjs: focalLoss has no option 'from_logits' (did you mean fromLogits?)"),
    );
    expect(() => focalLoss({ kind: 'sigmoid', apply_class_balancing: true } as never)).toThrow(
      /no option 'apply_class_balancing' \(did you mean alpha/,
    );
  });

  test('reduction, out, normalizer and shape are refused, saying why', () => {
    expect(() => focalLoss({ reduction: 'mean' } as never)).toThrow(
      new TypeError(
        "focal-loss/tfjs: focalLoss does not take option 'reduction': the loss is one value per sample (shape [batch]) and TensorFlow.js reduces it (model.compile averages it; call .mean() or .sum() on the result yourself)",
      ),
    );
    expect(() => focalLoss({ kind: 'sigmoid', out: new Float32Array(4) } as never)).toThrow(
      /does not take option 'out': the gradient is handed to TensorFlow.js/,
    );
    expect(() => focalLoss({ kind: 'quality', normalizer: 10 } as never)).toThrow(/does not take option 'normalizer'/);
    expect(() => focalLoss({ shape: [2, 3] } as never)).toThrow(
      /does not take option 'shape': the layout comes from the tensors/,
    );
    expect(() => focalLoss({ kind: 'sigmoid', targetForm: 'dense' } as never)).toThrow(
      /does not take option 'targetForm': yTrue has the shape of yPred/,
    );
  });

  test('bad values are caught by focalLoss(), before any data', () => {
    expect(() => focalLoss({ kind: 'sigmoid', gamma: -1 })).toThrow(
      new RangeError('focal-loss/tfjs: options.gamma = -1 must be a finite number >= 0'),
    );
    expect(() => focalLoss({ kind: 'hinge' } as never)).toThrow(
      new RangeError(
        "focal-loss/tfjs: options.kind = 'hinge' must be one of 'softmax', 'sigmoid', 'quality', 'varifocal', 'asymmetric'",
      ),
    );
    expect(() => focalLoss({ fromLogits: 1 } as never)).toThrow(
      new TypeError('focal-loss/tfjs: options.fromLogits must be a boolean (got number 1)'),
    );
    expect(() => focalLoss(null as never)).toThrow(TypeError);
    expect(() => focalLoss({ alpha: [1, 2], classes: 3 })).toThrow(RangeError);
  });

  test('bad tensors', () => {
    const f = focalLoss();
    tf.tidy(() => {
      const p = tf.tensor2d([
        [0.5, 0.5],
        [0.25, 0.75],
      ]);
      expect(() => f(tf.tensor2d([[1, 0, 0]]), p)).toThrow(
        new RangeError(
          'focal-loss/tfjs: yTrue has shape [1, 3] but yPred has shape [2, 2]; they must be equal (one-hot or probability targets, classes on the last axis)',
        ),
      );
      expect(() => f([[1, 0]] as never, p)).toThrow(
        new TypeError('focal-loss/tfjs: yTrue must be a tf.Tensor (got Array)'),
      );
      expect(() =>
        f(
          p,
          tf.tensor2d(
            [
              [1, 0],
              [0, 1],
            ],
            undefined,
            'int32',
          ),
        ),
      ).toThrow(new TypeError("focal-loss/tfjs: yPred must be a float32 tensor (got 'int32')"));
      expect(() => f(tf.tensor1d([1, 0]), tf.tensor1d([0.5, 0.5]))).toThrow(
        /kind 'softmax' needs \[batch, \.\.\., classes\]/,
      );
      expect(() =>
        f(
          p,
          tf.tensor2d([
            [-0.5, 1.5],
            [0.25, 0.75],
          ]),
        ),
      ).toThrow(
        new RangeError(
          'focal-loss/tfjs: yPred[0] = -0.5 is not a probability (fromLogits is false; pass fromLogits: true for logits)',
        ),
      );
      expect(() =>
        focalLoss({ kind: 'sigmoid' })(
          p,
          tf.tensor2d([
            [0.5, 1.5],
            [0.25, 0.75],
          ]),
        ),
      ).toThrow(/yPred\[1\] = 1.5 is not a probability in \[0, 1\]/);
      // Targets the package refuses: its message, with the adapter's names.
      expect(() =>
        f(
          tf.tensor2d([
            [1, 1],
            [0, 1],
          ]),
          p,
        ),
      ).toThrow(/^focal-loss\/tfjs: the target probabilities of .* \(logits = yPred mapped to logits, targets = yTrue/);
      expect(() => focalLoss({ classes: 3 })(p, p)).toThrow(
        new RangeError(
          "focal-loss/tfjs: options.classes = 3 but yPred's last axis has 2 (classes are on the last axis)",
        ),
      );
      // The function still works after each error.
      expect(f(p, p).shape).toEqual([2]);
    });
  });
});

// Issue 17, finding 7 (and issue 18: option names from the core's data, not its messages): whatever the
// adapter is handed, a throw is a TypeError / RangeError 'focal-loss/tfjs: …' naming the argument.
describe('hostile arguments are package errors', () => {
  /** Runs `call`, expecting a TypeError or RangeError whose message starts with 'focal-loss/tfjs: ' and matches `name`. */
  function expectAdapterError(
    call: () => unknown,
    name: RegExp,
    kind: typeof TypeError | typeof RangeError = TypeError,
  ): Error {
    let thrown: unknown = 'nothing';
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown, 'the call returned').not.toBe('nothing');
    const e = thrown as Error;
    expect(e?.constructor, `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`).toBe(kind);
    expect(e.message).toMatch(/^focal-loss\/tfjs: /);
    expect(e.message).toMatch(name);
    expect(e.message.length).toBeLessThan(400);
    return e;
  }
  const revoked = () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };

  test('focalLoss(revoked Proxy), throwing option getters, a throwing constructor getter, huge strings', () => {
    expectAdapterError(() => focalLoss(revoked() as never), /options/);
    const throwing = Object.defineProperty({}, 'gamma', {
      get() {
        throw new Error('getter');
      },
      enumerable: true,
    });
    expectAdapterError(() => focalLoss(throwing as never), /options\.gamma could not be read/);
    const kindGetter = Object.defineProperty({}, 'kind', {
      get() {
        throw revoked();
      },
      enumerable: true,
    });
    expectAdapterError(() => focalLoss(kindGetter as never), /options\.kind could not be read/);
    const ctor = Object.defineProperty({}, 'constructor', {
      get() {
        throw new Error('constructor getter');
      },
    });
    expectAdapterError(() => focalLoss({ kind: ctor } as never), /options\.kind must be a string \(got object\)/);
    expectAdapterError(() => focalLoss({ fromLogits: ctor } as never), /options\.fromLogits must be a boolean/);
    const long = 'k'.repeat(1_000_000);
    expectAdapterError(() => focalLoss({ kind: long } as never), /options\.kind = 'k+…' must be one of/, RangeError);
    expectAdapterError(
      () => focalLoss({ [long]: 1 } as never),
      /has no option 'k+…'; options are kind, fromLogits, classes, gamma/,
    );
    expectAdapterError(() => focalLoss({ kind: 'sigmoid', gamma: long } as never), /options\.gamma must be a number/);
    // The core's aliases, from its data: hints and the list without the refused options.
    expect(() => focalLoss({ ignore_index: 1 } as never)).toThrow(
      new TypeError(
        "focal-loss/tfjs: focalLoss({ kind: 'softmax' }) has no option 'ignore_index' (did you mean ignoreIndex?); options are kind, fromLogits, classes, gamma, alpha, ignoreIndex, labelSmoothing, polyEpsilon, weights",
      ),
    );
    expect(() => focalLoss({ kind: 'quality', toString: 1 } as never)).toThrow(
      new TypeError(
        "focal-loss/tfjs: focalLoss({ kind: 'quality' }) has no option 'toString'; options are kind, fromLogits, beta, classes, ignoreIndex, weights",
      ),
    );
  });

  test('options on Object.prototype are not options', () => {
    const p = tf.tensor2d([
      [0.25, 0.75],
      [0.5, 0.5],
    ]);
    const y = tf.tensor2d([
      [0, 1],
      [1, 0],
    ]);
    const clean = Array.from(focalLoss()(y, p).dataSync());
    for (const [key, value] of [
      ['kind', 'sigmoid'],
      ['fromLogits', true],
      ['gamma', 7],
      ['reduction', 'sum'],
      ['bogus', 1],
    ] as const) {
      Object.defineProperty(Object.prototype, key, { value, configurable: true, writable: true, enumerable: true });
      try {
        expect(Array.from(focalLoss()(y, p).dataSync()), `Object.prototype.${key}`).toEqual(clean);
      } finally {
        delete (Object.prototype as Record<string, unknown>)[key];
      }
    }
    tf.dispose([p, y]);
  });

  test('revoked proxies, throwing shape getters, disposed tensors and duck-typed non-tensors as yTrue / yPred', () => {
    const f = focalLoss();
    const g = focalLoss({ kind: 'sigmoid' });
    const p = tf.tensor2d([
      [0.25, 0.75],
      [0.5, 0.5],
    ]);
    const y = tf.tensor2d([
      [0, 1],
      [1, 0],
    ]);
    for (const h of [f, g]) {
      expectAdapterError(() => h(revoked() as never, p), /yTrue must be a tf\.Tensor \(got object\)/);
      expectAdapterError(() => h(y, revoked() as never), /yPred must be a tf\.Tensor/);
      // A real tensor whose shape getter throws.
      const badShape = tf.tensor2d([
        [0.25, 0.75],
        [0.5, 0.5],
      ]);
      Object.defineProperty(badShape, 'shape', {
        get() {
          throw new Error('shape getter');
        },
      });
      expectAdapterError(() => h(y, badShape), /yPred\.shape could not be read/);
      badShape.dispose();
      // A throwing constructor getter is never read.
      const ctor = Object.defineProperty({}, 'constructor', {
        get() {
          throw new Error('constructor getter');
        },
      });
      expectAdapterError(() => h(ctor as never, p), /yTrue must be a tf\.Tensor \(got object\)/);
      // Disposed.
      const gone = tf.tensor2d([
        [0, 1],
        [1, 0],
      ]);
      gone.dispose();
      expectAdapterError(() => h(gone, p), /yTrue is a disposed tf\.Tensor/);
      expectAdapterError(() => h(y, gone), /yPred is a disposed tf\.Tensor/);
      // Duck-typed: enough for tfjs's instanceof, not a tensor.
      const duck = {
        data: () => 0,
        throwIfDisposed: () => undefined,
        dataSync: () => new Float32Array(4),
        shape: [2, 2],
        dtype: 'float32',
        size: 4,
        isDisposed: false,
      };
      // tfjs itself takes it for a tensor (its instanceof is duck-typed): a result, or a package error.
      const fakeResult = (() => {
        try {
          return h(y, duck as never);
        } catch (e) {
          return e;
        }
      })();
      if (fakeResult instanceof Error)
        expectAdapterError(() => {
          throw fakeResult;
        }, /yPred/);
      else expect((fakeResult as tf.Tensor).shape).toEqual([2]);
      expectAdapterError(
        () => h(y, { ...duck, dataSync: () => [1, 2, 3, 4] } as never),
        /yPred\.dataSync\(\) returned Array/,
      );
      expectAdapterError(() => h(y, { ...duck, size: 5 } as never), /yPred has an invalid shape or size/);
      expectAdapterError(
        () => h(y, { ...duck, throwIfDisposed: undefined } as never),
        /yPred must be a tf\.Tensor \(got object\)/,
      );
      expectAdapterError(
        () =>
          h(
            {
              ...duck,
              dataSync() {
                throw new Error('dataSync');
              },
            } as never,
            p,
          ),
        /yTrue could not be read \(Error: dataSync\)/,
      );
      expectAdapterError(() => h({ ...duck, shape: [2, -2] } as never, p), /yTrue has an invalid shape/);
      expectAdapterError(() => h({ ...duck, shape: 'abc' } as never, p), /yTrue\.shape must be an array/);
      // Still works.
      expect(h(y, p).shape).toEqual([2]);
    }
    tf.dispose([p, y]);
  });
});

describe('tensors and memory', () => {
  test('an empty batch gives shape [0] and a zero gradient', () => {
    tf.tidy(() => {
      const f = focalLoss({ kind: 'sigmoid' });
      const e = tf.zeros([0, 3]);
      expect(f(e, e).shape).toEqual([0]);
      expect(tf.grad((v: tf.Tensor) => tf.sum(f(e, v)))(e).shape).toEqual([0, 3]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(focalLoss()(tf.zeros([2, 0, 3]), v)))(tf.zeros([2, 0, 3]));
      expect(g.shape).toEqual([2, 0, 3]);
    });
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    test(`${backend}: tf.memory().numTensors flat across loss, tf.grad and tf.variableGrads calls`, async () => {
      await useBackend(backend);
      try {
        const c = softmaxCase([16, 4, 6], 3);
        const yTrue = tf.tensor(c.yTrue, c.shape);
        const yPred = tf.variable(tf.tensor(c.p, c.shape));
        const f = focalLoss({ gamma: 1.5 });
        const counts: number[] = [];
        for (let i = 0; i < 4; i++) {
          f(yTrue, yPred).dispose();
          tf.tidy(() => {
            tf.grad((v: tf.Tensor) => tf.mean(f(yTrue, v)))(yPred);
          });
          const { value, grads } = tf.variableGrads(() => tf.mean(f(yTrue, yPred)) as tf.Scalar, [yPred]);
          tf.dispose([value, grads]);
          counts.push(tf.memory().numTensors);
        }
        expect(new Set(counts).size, `numTensors ${counts}`).toBe(1);
        tf.dispose([yTrue, yPred]);
      } finally {
        await useBackend('cpu');
      }
    });
  }
});

/** Three Gaussian blobs in 2-D: x [n, 2], one-hot y [n, 3] and multi-hot y [n, 3] (class and "x0 > 0"). */
function blobs(n: number) {
  const next = rng(2024);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const centers = [
    [-2, 0],
    [2, 1],
    [0, -2.5],
  ];
  const x: number[][] = [];
  const y: number[][] = [];
  const multi: number[][] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    const p = [centers[k][0] + 0.8 * gauss(), centers[k][1] + 0.8 * gauss()];
    x.push(p);
    y.push([0, 1, 2].map((j) => (j === k ? 1 : 0)));
    multi.push([k === 0 ? 1 : 0, k === 1 ? 1 : 0, p[1] > 0 ? 1 : 0]);
  }
  return { x: tf.tensor2d(x), y: tf.tensor2d(y), multi: tf.tensor2d(multi) };
}

/** Trains a small dense model with the adapter's loss; returns the loss per epoch. */
async function train(loss: TfjsFocalLossOptions, activation: 'softmax' | 'sigmoid' | 'linear', multiLabel: boolean) {
  const data = blobs(240);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [2],
        units: 16,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({ units: 3, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.adam(0.03);
  model.compile({ optimizer, loss: focalLoss(loss) });
  const history = await model.fit(data.x, multiLabel ? data.multi : data.y, {
    epochs: 25,
    batchSize: 32,
    shuffle: false,
    verbose: 0,
  });
  model.dispose();
  optimizer.dispose(); // Adam's moments: model.dispose() leaves the optimizer's tensors
  tf.dispose([data.x, data.y, data.multi]);
  return history.history.loss as number[];
}

describe('tfjs-layers: model.compile({ loss: focalLoss(...) }) and model.fit', () => {
  const runs = [
    {
      name: 'softmax output, one-hot labels (fromLogits false)',
      loss: { gamma: 2 },
      activation: 'softmax',
      multi: false,
    },
    {
      name: 'linear output, one-hot labels (fromLogits true)',
      loss: { gamma: 2, alpha: 0.25, fromLogits: true },
      activation: 'linear',
      multi: false,
    },
    {
      name: 'sigmoid output, multi-label (kind sigmoid)',
      loss: { kind: 'sigmoid', gamma: 2 },
      activation: 'sigmoid',
      multi: true,
    },
    {
      name: 'sigmoid output, multi-label (kind asymmetric)',
      loss: { kind: 'asymmetric' },
      activation: 'sigmoid',
      multi: true,
    },
  ] as const;
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const run of runs) {
      test(`${backend} backend: ${run.name} — the loss decreases; no tensor left behind`, async () => {
        await useBackend(backend);
        try {
          const before = tf.memory().numTensors;
          const losses = await train(run.loss as TfjsFocalLossOptions, run.activation, run.multi);
          expect(tf.memory().numTensors).toBe(before);
          expect(losses.every(Number.isFinite)).toBe(true);
          expect(losses[losses.length - 1], `losses ${losses.map((l) => l.toFixed(4)).join(' ')}`).toBeLessThan(
            losses[0] * 0.5,
          );
        } finally {
          await useBackend('cpu');
        }
      });
    }
  }
});

test('examples/tfjs/train.mjs runs and its focal loss decreases', () => {
  const r = spawnSync(process.execPath, [join(root, 'examples', 'tfjs', 'train.mjs')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const losses = [...r.stdout.matchAll(/focal loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  expect(losses.length, r.stdout).toBe(7);
  expect(losses[losses.length - 1], r.stdout).toBeLessThan(losses[0] / 2);
  expect(r.stdout).toMatch(/class 0: recall/);
});

describe('packaging', () => {
  test("dist/tfjs.js imports 'focal-loss' and '@tensorflow/tfjs-core' (no copy of the facade); the main entries never import tfjs", () => {
    const importsOf = (file: string) =>
      [...readFileSync(join(root, 'dist', file), 'utf8').matchAll(/(?:from|require\()\s*["']([^"']+)["']/g)]
        .map((m) => m[1])
        .sort();
    expect(importsOf('tfjs.js')).toEqual(['@tensorflow/tfjs-core', 'focal-loss']);
    expect(importsOf('tfjs.cjs')).toEqual(['@tensorflow/tfjs-core', 'focal-loss']);
    expect(readFileSync(join(root, 'dist', 'tfjs.js'), 'utf8')).not.toMatch(/WebAssembly/);
    const entries = readdirSync(join(root, 'dist')).filter((f) => /\.(js|cjs)$/.test(f) && !f.startsWith('tfjs.'));
    expect(entries).toContain('node.js');
    expect(entries).toContain('browser.js');
    for (const entry of entries)
      expect(readFileSync(join(root, 'dist', entry), 'utf8'), entry).not.toMatch(/tensorflow/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.exports['./tfjs'])[0]).toBe('types');
    expect(pkg.peerDependencies['@tensorflow/tfjs-core']).toBeDefined();
    expect(pkg.peerDependenciesMeta['@tensorflow/tfjs-core']).toEqual({ optional: true });
    expect(pkg.dependencies?.['@tensorflow/tfjs-core']).toBeUndefined();
  });

  test('the CommonJS build works through require (self-reference to the CJS entry)', () => {
    const { focalLoss: cjsFocalLoss } = require('focal-loss/tfjs') as typeof import('focal-loss/tfjs');
    tf.tidy(() => {
      const c = softmaxCase([3, 4], 9);
      const a = cjsFocalLoss({ fromLogits: true })(tf.tensor(c.yTrue, c.shape), tf.tensor(c.z, c.shape)).dataSync();
      const b = focalLoss({ fromLogits: true })(tf.tensor(c.yTrue, c.shape), tf.tensor(c.z, c.shape)).dataSync();
      expect(Array.from(a)).toEqual(Array.from(b));
    });
  });
});
