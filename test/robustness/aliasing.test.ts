// Aliasing: `out` may be the logits themselves, or overlap the memory of the targets (or weights, or
// logits at an offset). The result is the one computed from the inputs' values at call time: the same
// loss and the same gradient bits as a call with separate arrays holding those values. Batches are
// larger than the scratch area (64K float32 elements) so the call takes several chunks, and a chunk's
// gradient written early must not change what a later chunk reads.
import { describe, expect, test } from 'vitest';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad, softmaxFocalLossWithGrad, type FloatArray } from 'focal-loss';
import { compareResult, refSigmoidCall, refSoftmaxCall, sameBits } from './helpers';

type Ctor = typeof Float32Array | typeof Float64Array;

function fill(a: FloatArray, seed: number, amp = 4) {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 2 * amp;
  }
  return a;
}

/** Bit-identical results (loss number or array, gradient). */
function expectSame(got: { loss: unknown; grad: FloatArray }, want: { loss: unknown; grad: FloatArray }) {
  if (typeof want.loss === 'number')
    expect(Object.is(got.loss, want.loss), `loss ${got.loss} vs ${want.loss}`).toBe(true);
  else expect(sameBits(got.loss as FloatArray, want.loss as FloatArray)).toBeNull();
  expect(sameBits(got.grad, want.grad), 'grad').toBeNull();
}

/** The 'sum' gradient of a sample of rows against the reference (f64 1e-12 / f32 3e-5). */
function expectRowsMatchReference(
  Ctor: Ctor,
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  C: number,
  gamma: number,
  grad: FloatArray,
  rows: number[],
) {
  const pickRows = (a: ArrayLike<number>, width: number) =>
    rows.flatMap((n) => Array.from({ length: width }, (_, c) => a[n * width + c]));
  const ref = refSoftmaxCall(pickRows(logits, C), pickRows(targets, 1), { classes: C, gamma, reduction: 'sum' }, false);
  const got = Ctor.from(pickRows(grad, C));
  const bad = compareResult({ loss: ref.loss, grad: got }, ref, Ctor, true);
  expect(bad, bad.join('\n')).toEqual([]);
}

describe('out === logits', () => {
  for (const [Ctor, M] of [
    [Float32Array, 20_000],
    [Float64Array, 12_000],
  ] as const) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      test(`softmax rows, ${M} × 10 ${Ctor.name}, ${reduction}`, () => {
        const C = 10;
        const logits = fill(new Ctor(M * C), 7);
        const targets = Int32Array.from({ length: M }, (_, i) => (i % 13 === 0 ? -100 : (i * 7) % C));
        const separate = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction, gamma: 1.5 });
        const values = Array.from(logits);
        const aliased = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction, gamma: 1.5, out: logits });
        expect(aliased.grad).toBe(logits);
        expectSame(aliased, separate);
        if (reduction === 'sum')
          expectRowsMatchReference(Ctor, values, targets, C, 1.5, aliased.grad, [1, 2, 4_000, 9_999, M - 1]);
      });
    }
  }

  test('softmax channels-first shape [6, 10, 5000] Float32Array (images wider than the scratch area)', () => {
    const shape = [6, 10, 5000];
    const n = 6 * 10 * 5000;
    const logits = fill(new Float32Array(n), 11);
    const targets = Int32Array.from({ length: 6 * 5000 }, (_, i) => (i * 3) % 10);
    const separate = softmaxFocalLossWithGrad(logits, targets, { shape, reduction: 'sum' });
    const aliased = softmaxFocalLossWithGrad(logits, targets, { shape, reduction: 'sum', out: logits });
    expect(aliased.grad).toBe(logits);
    expectSame(aliased, separate);
  });

  test('softmax channels-first shape [40, 8, 300] Float64Array (several whole images per chunk)', () => {
    const shape = [40, 8, 300];
    const logits = fill(new Float64Array(40 * 8 * 300), 12);
    const targets = Int32Array.from({ length: 40 * 300 }, (_, i) => (i * 5) % 8);
    const separate = softmaxFocalLossWithGrad(logits, targets, { shape, reduction: 'none' });
    const aliased = softmaxFocalLossWithGrad(logits, targets, { shape, reduction: 'none', out: logits });
    expectSame(aliased, separate);
  });

  for (const Ctor of [Float32Array, Float64Array]) {
    test(`sigmoid, 200,000 ${Ctor.name}`, () => {
      const logits = fill(new Ctor(200_000), 13);
      const targets = Uint8Array.from({ length: 200_000 }, (_, i) => (i % 5 === 0 ? 1 : 0));
      const separate = sigmoidFocalLossWithGrad(logits, targets, { reduction: 'mean' });
      const values = Array.from(logits.subarray(199_990));
      const aliased = sigmoidFocalLossWithGrad(logits, targets, { reduction: 'mean', out: logits });
      expect(aliased.grad).toBe(logits);
      expectSame(aliased, separate);
      const ref = refSigmoidCall(values, Array.from(targets.subarray(199_990)), { reduction: 'sum' });
      const tail = Ctor.from(Array.from(aliased.grad.subarray(199_990), (g) => g * 200_000));
      expect(compareResult({ loss: ref.loss, grad: tail }, ref, Ctor, true)).toEqual([]);
    });
  }
});

describe('out overlapping the targets', () => {
  test("class indices: an Int32Array view into the Float32Array out's buffer", () => {
    const M = 20_000;
    const C = 10;
    const logits = fill(new Float32Array(M * C), 21);
    const buffer = new ArrayBuffer(M * C * 4);
    const out = new Float32Array(buffer);
    // The indices sit in out's memory from element 5 on: the first chunk's gradient covers the
    // indices of the following chunks.
    const targets = new Int32Array(buffer, 5 * 4, M);
    for (let i = 0; i < M; i++) targets[i] = (i * 7 + (i >> 4)) % C;
    const atCallTime = Int32Array.from(targets);
    const separate = softmaxFocalLossWithGrad(logits, atCallTime, { classes: C, reduction: 'sum' });
    let got: { loss: unknown; grad: FloatArray };
    try {
      got = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction: 'sum', out });
    } catch (e) {
      throw new Error(`overlapping targets threw: ${(e as Error).message}`);
    }
    expect(got.grad).toBe(out);
    expectSame(got, separate);
  });

  test('class indices after out in the same buffer, overlapping its tail', () => {
    const M = 20_000;
    const C = 10;
    const logits = fill(new Float32Array(M * C), 22);
    const buffer = new ArrayBuffer(M * C * 4 + M * 4);
    const out = new Float32Array(buffer, 0, M * C);
    const targets = new Int32Array(buffer, (M * C - M / 2) * 4, M); // half inside out, half after it
    for (let i = 0; i < M; i++) targets[i] = (i * 3) % C;
    const atCallTime = Int32Array.from(targets);
    const separate = softmaxFocalLossWithGrad(logits, atCallTime, { classes: C, reduction: 'mean' });
    const got = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction: 'mean', out });
    expectSame(got, separate);
  });

  test('soft targets (probabilities) overlapping out, one row apart', () => {
    const M = 20_000;
    const C = 10;
    const logits = fill(new Float32Array(M * C), 23);
    const buffer = new ArrayBuffer((M + 1) * C * 4);
    const targets = new Float32Array(buffer, 0, M * C); // rows 0 … M-1 of the buffer
    const out = new Float32Array(buffer, C * 4, M * C); // rows 1 … M: writing row r overwrites targets row r + 1
    for (let n = 0; n < M; n++) {
      const k = (n * 7) % C;
      for (let c = 0; c < C; c++) targets[n * C + c] = c === k ? 0.75 : c === (k + 1) % C ? 0.25 : 0;
    }
    const atCallTime = Float32Array.from(targets);
    const separate = softmaxFocalLossWithGrad(logits, atCallTime, { classes: C, reduction: 'sum' });
    let got: { loss: unknown; grad: FloatArray };
    try {
      got = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction: 'sum', out });
    } catch (e) {
      throw new Error(`overlapping soft targets threw: ${(e as Error).message}`);
    }
    expectSame(got, separate);
  });

  test('soft targets that are out itself (the same array)', () => {
    const M = 20_000;
    const C = 10;
    const logits = fill(new Float64Array(M * C), 24);
    const both = new Float64Array(M * C);
    for (let n = 0; n < M; n++) both[n * C + ((n * 3) % C)] = 1;
    const atCallTime = Float64Array.from(both);
    const separate = softmaxFocalLossWithGrad(logits, atCallTime, { classes: C, reduction: 'none' });
    const got = softmaxFocalLossWithGrad(logits, both, { classes: C, reduction: 'none', out: both });
    expect(got.grad).toBe(both);
    expectSame(got, separate);
  });

  test('sigmoid soft targets overlapping out at an offset', () => {
    const n = 200_000;
    const logits = fill(new Float32Array(n), 25);
    const buffer = new ArrayBuffer((n + 1000) * 4);
    const targets = new Float32Array(buffer, 0, n);
    const out = new Float32Array(buffer, 1000 * 4, n); // out[i] is targets[i + 1000]
    for (let i = 0; i < n; i++) targets[i] = (i % 7) / 6;
    const atCallTime = Float32Array.from(targets);
    const separate = sigmoidFocalLossWithGrad(logits, atCallTime, { reduction: 'sum' });
    let got: { loss: unknown; grad: FloatArray };
    try {
      got = sigmoidFocalLossWithGrad(logits, targets, { reduction: 'sum', out });
    } catch (e) {
      throw new Error(`overlapping sigmoid targets threw: ${(e as Error).message}`);
    }
    expectSame(got, separate);
    expect(sigmoidFocalLoss(logits, atCallTime, { reduction: 'sum' })).toBe(separate.loss);
  });
});

describe('out overlapping the weights or the logits at an offset', () => {
  test("softmax weights in out's buffer", () => {
    const M = 20_000;
    const C = 10;
    const logits = fill(new Float32Array(M * C), 31);
    const targets = Int32Array.from({ length: M }, (_, i) => (i * 7) % C);
    const buffer = new ArrayBuffer(M * C * 4);
    const out = new Float32Array(buffer);
    const weights = new Float32Array(buffer, 7 * 4, M);
    for (let i = 0; i < M; i++) weights[i] = 0.5 + (i % 4) * 0.25;
    const atCallTime = Float32Array.from(weights);
    const separate = softmaxFocalLossWithGrad(logits, targets, { classes: C, weights: atCallTime, reduction: 'sum' });
    let got: { loss: unknown; grad: FloatArray };
    try {
      got = softmaxFocalLossWithGrad(logits, targets, { classes: C, weights, reduction: 'sum', out });
    } catch (e) {
      throw new Error(`overlapping weights threw: ${(e as Error).message}`);
    }
    expectSame(got, separate);
  });

  test('softmax out one row after the logits in the same buffer', () => {
    const M = 20_000;
    const C = 10;
    const buffer = new ArrayBuffer((M + 1) * C * 4);
    const logits = fill(new Float32Array(buffer, 0, M * C), 32);
    const out = new Float32Array(buffer, C * 4, M * C); // writing gradient row r overwrites logits row r + 1
    const targets = Int32Array.from({ length: M }, (_, i) => (i * 3) % C);
    const atCallTime = Float32Array.from(logits);
    const separate = softmaxFocalLossWithGrad(atCallTime, targets, { classes: C, reduction: 'sum' });
    const got = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction: 'sum', out });
    expectSame(got, separate);
  });

  test('sigmoid out a few elements after the logits in the same buffer', () => {
    const n = 200_000;
    const buffer = new ArrayBuffer((n + 3) * 8);
    const logits = fill(new Float64Array(buffer, 0, n), 33);
    const out = new Float64Array(buffer, 3 * 8, n);
    const targets = Uint8Array.from({ length: n }, (_, i) => i & 1);
    const atCallTime = Float64Array.from(logits);
    const separate = sigmoidFocalLossWithGrad(atCallTime, targets, { reduction: 'none' });
    const got = sigmoidFocalLossWithGrad(logits, targets, { reduction: 'none', out });
    expectSame(got, separate);
  });
});
