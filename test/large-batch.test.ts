// Large batches stream through the fixed scratch area: 50 million float32 logits (5,000,000 × 10
// softmax, 'mean') and 20 million sigmoid elements run, agree with independently computed pieces and
// with a float64 reference on a sample, and leave the wasm memory where it was (bounded, no growth).
import { describe, expect, test } from 'vitest';
import {
  sigmoidFocalLoss,
  sigmoidFocalLossWithGrad,
  softmaxFocalLoss,
  softmaxFocalLossWithGrad,
  wasmMemoryBytes,
} from 'focal-loss';
import { refSigmoid, refSoftmax } from './reference';

const SCRATCH = 256 * 1024;
const MiB = 1024 * 1024;

/** Deterministic logits in [-10, 10) (an LCG; fast enough for 50M values). */
function fillLogits(a: Float32Array, seed: number) {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 20;
  }
}

/** `count` distinct-ish sample positions in [0, n). */
function sample(n: number, count: number): number[] {
  return Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) / count) * n + ((k * 7919) % 97)) % n);
}

describe('large batches', () => {
  test('softmax 5,000,000 × 10 float32 (50M logits), mean', () => {
    const N = 5_000_000;
    const C = 10;
    const logits = new Float32Array(N * C);
    fillLogits(logits, 42);
    const targets = new Uint8Array(N);
    for (let n = 0; n < N; n++) targets[n] = (n * 7 + (n >> 3)) % C;
    for (let n = 0; n < N; n += 101) targets[n] = 255; // some ignored
    const options = { classes: C, gamma: 2, ignoreIndex: 255 };

    const before = wasmMemoryBytes();
    expect(before).toBeLessThan(SCRATCH + MiB);
    const r = softmaxFocalLossWithGrad(logits, targets, options);
    expect(wasmMemoryBytes()).toBe(before);
    const loss = r.loss as number;
    expect(r.grad.length).toBe(N * C);

    // The mean of independently computed pieces ('sum' over 10 slices of 500,000 rows each).
    let total = 0;
    let count = 0;
    const piece = 500_000;
    for (let n0 = 0; n0 < N; n0 += piece) {
      total += softmaxFocalLoss(logits.subarray(n0 * C, (n0 + piece) * C), targets.subarray(n0, n0 + piece), {
        ...options,
        reduction: 'sum',
      });
      for (let n = n0; n < n0 + piece; n++) if (targets[n] !== 255) count++;
    }
    expect(count).toBe(N - Math.ceil(N / 101));
    expect(Math.abs(loss - total / count)).toBeLessThanOrEqual(1e-10 * loss);
    // The loss-only call is the same number.
    expect(softmaxFocalLoss(logits, targets, options)).toBe(loss);
    expect(wasmMemoryBytes()).toBe(before);

    // A float64 reference on 2,000 sampled rows: the gradient of the mean is each row's own / count.
    let worst = 0;
    for (const n of sample(N, 2000)) {
      const z = Array.from(logits.subarray(n * C, (n + 1) * C));
      const ref = refSoftmax(z, [targets[n]], { classes: C, gamma: 2, ignoreIndex: 255 });
      for (let c = 0; c < C; c++) {
        const exp = ref.grad[c] / count;
        const scale = ref.gradScale[c] / count;
        const err = Math.abs(r.grad[n * C + c] - exp);
        if (scale > 0) worst = Math.max(worst, err / scale);
        expect(err, `row ${n} class ${c}`).toBeLessThanOrEqual(3e-5 * Math.max(Math.abs(exp), scale) + 1.2e-38);
      }
    }
    console.log(
      `large softmax: mean loss ${loss}, worst sampled grad error ${worst.toExponential(2)} (relative to scale), wasm memory ${before} bytes`,
    );
  });

  test('sigmoid 20,000,000 float32 elements, mean, with weights', () => {
    const n = 20_000_000;
    const logits = new Float32Array(n);
    fillLogits(logits, 7);
    const targets = new Uint8Array(n);
    for (let i = 0; i < n; i += 9) targets[i] = 1;
    const weights = new Float32Array(n).fill(0.5);
    for (let i = 0; i < n; i += 5) weights[i] = 2;
    const options = { gamma: 2, alpha: 0.25 };

    const before = wasmMemoryBytes();
    const r = sigmoidFocalLossWithGrad(logits, targets, { ...options, weights });
    expect(wasmMemoryBytes()).toBe(before);
    expect(before).toBeLessThan(SCRATCH + MiB);
    const loss = r.loss as number;

    let total = 0;
    const piece = 2_500_000;
    for (let i0 = 0; i0 < n; i0 += piece) {
      total += sigmoidFocalLoss(logits.subarray(i0, i0 + piece), targets.subarray(i0, i0 + piece), {
        ...options,
        weights: weights.subarray(i0, i0 + piece),
        reduction: 'sum',
      }) as number;
    }
    expect(Math.abs(loss - total / n)).toBeLessThanOrEqual(1e-10 * loss);

    for (const i of sample(n, 5000)) {
      const ref = refSigmoid([logits[i]], [targets[i]], { ...options, weights: [weights[i]] });
      const exp = ref.grad[0] / n;
      const scale = ref.gradScale[0] / n;
      expect(Math.abs(r.grad[i] - exp), `element ${i}`).toBeLessThanOrEqual(
        3e-5 * Math.max(Math.abs(exp), scale) + 1.2e-38,
      );
    }
    expect(wasmMemoryBytes()).toBe(before);
  });
});
