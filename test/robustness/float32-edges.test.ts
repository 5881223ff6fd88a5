// Float32 edges: values that are finite (or in range) as doubles but not once rounded to float32,
// which is what a Float32Array call computes with. Each must be refused up front with a package
// RangeError naming the option or the targets — before anything is written, even when the bad value
// sits near the end of a batch that takes many chunks — and never reach the kernel ('kernel status').
// The same values with Float64Array logits are valid and exact (they are finite in double).
import { describe, expect, test } from 'vitest';
import {
  sigmoidFocalLoss,
  sigmoidFocalLossPartial,
  sigmoidFocalLossWithGrad,
  softmaxFocalLoss,
  softmaxFocalLossPartial,
  softmaxFocalLossWithGrad,
} from 'focal-loss';
import { compareResult, expectPackageError, firstTouched, refSigmoidCall, refSoftmaxCall, SENTINEL } from './helpers';

const BIG = 1e39; // finite in double, Infinity in float32
expect(Math.fround(BIG)).toBe(Infinity);

/** A valid call afterwards returns exact values (the module is still usable). */
function expectStillExact() {
  const z = [1, -2, 0.5, 3, 0, -1];
  const r = softmaxFocalLossWithGrad(Float64Array.from(z), [2, 0], { classes: 3, gamma: 1.5 });
  expect(compareResult(r, refSoftmaxCall(z, [2, 0], { classes: 3, gamma: 1.5 }, false), Float64Array, true)).toEqual(
    [],
  );
  const s = sigmoidFocalLossWithGrad(Float32Array.from(z), [1, 0, 1, 1, 0, 0]);
  expect(compareResult(s, refSigmoidCall(z.map(Math.fround), [1, 0, 1, 1, 0, 0]), Float32Array, true)).toEqual([]);
}

describe('weights that overflow float32', () => {
  const n = 200_000;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01) * 4);
  const y = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const bad = n - 5;

  for (const [kind, make] of [
    [
      'Float64Array',
      () => {
        const w = new Float64Array(n).fill(1);
        w[bad] = BIG;
        return w;
      },
    ],
    [
      'number[]',
      () => {
        const w = new Array<number>(n).fill(1);
        w[bad] = BIG;
        return w;
      },
    ],
  ] as const) {
    test(`sigmoid, 200,000 elements, ${kind} weights[${bad}] = 1e39: RangeError, out untouched`, () => {
      const out = new Float32Array(n).fill(SENTINEL);
      expectPackageError(
        () => sigmoidFocalLossWithGrad(x, y, { weights: make(), out }),
        RangeError,
        `options.weights[${bad}]`,
      );
      expect(firstTouched(out), 'out was written').toBe(-1);
      expectPackageError(
        () => sigmoidFocalLoss(x, y, { weights: make(), reduction: 'none' }),
        RangeError,
        `options.weights[${bad}]`,
      );
      expectPackageError(
        () => sigmoidFocalLossPartial(x, y, { weights: make() }),
        RangeError,
        `options.weights[${bad}]`,
      );
      expectStillExact();
    });
  }

  const rows = 100_000;
  const C = 4;
  const logits = Float32Array.from({ length: rows * C }, (_, i) => Math.cos(i * 0.3) * 3);
  const targets = Int32Array.from({ length: rows }, (_, i) => i % C);
  const badRow = rows - 3;
  for (const [kind, make] of [
    [
      'Float64Array',
      () => {
        const w = new Float64Array(rows).fill(1);
        w[badRow] = BIG;
        return w;
      },
    ],
    [
      'number[]',
      () => {
        const w = new Array<number>(rows).fill(1);
        w[badRow] = BIG;
        return w;
      },
    ],
  ] as const) {
    test(`softmax, 100,000 rows × 4, ${kind} weights[${badRow}] = 1e39: RangeError, out untouched`, () => {
      const out = new Float32Array(rows * C).fill(SENTINEL);
      expectPackageError(
        () => softmaxFocalLossWithGrad(logits, targets, { classes: C, weights: make(), out }),
        RangeError,
        `options.weights[${badRow}]`,
      );
      expect(firstTouched(out), 'out was written').toBe(-1);
      expectPackageError(
        () => softmaxFocalLoss(logits, targets, { classes: C, weights: make(), reduction: 'none' }),
        RangeError,
        `options.weights[${badRow}]`,
      );
      expectPackageError(
        () => softmaxFocalLossPartial(logits, targets, { classes: C, weights: make() }),
        RangeError,
        `options.weights[${badRow}]`,
      );
      // Channels-first: the same weights per position.
      expectPackageError(
        () => softmaxFocalLossWithGrad(logits, targets, { shape: [1, C, rows], weights: make(), out }),
        RangeError,
        `options.weights[${badRow}]`,
      );
      expect(firstTouched(out), 'out was written (channels-first)').toBe(-1);
      expectStillExact();
    });
  }

  test('the same weights with Float64Array logits are valid and exact', () => {
    const z = [0.5, -1, 2, 0, 1, -3];
    const w = [1, BIG];
    const r = softmaxFocalLossWithGrad(Float64Array.from(z), [1, 2], {
      classes: 3,
      weights: Float64Array.from(w),
      reduction: 'sum',
    });
    expect(
      compareResult(
        r,
        refSoftmaxCall(z, [1, 2], { classes: 3, weights: w, reduction: 'sum' }, false),
        Float64Array,
        true,
      ),
    ).toEqual([]);
    const s = sigmoidFocalLossWithGrad(Float64Array.from(z), [1, 0, 1, 0, 1, 0], {
      weights: [1, 1, 1, 1, 1, BIG],
      reduction: 'sum',
    });
    expect(
      compareResult(
        s,
        refSigmoidCall(z, [1, 0, 1, 0, 1, 0], { weights: [1, 1, 1, 1, 1, BIG], reduction: 'sum' }),
        Float64Array,
        true,
      ),
    ).toEqual([]);
  });
});

describe('scalar options that overflow float32', () => {
  const z = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 2);
  const t = Int32Array.from({ length: 1000 }, (_, i) => i % 3);
  const y = Float32Array.from({ length: 3000 }, (_, i) => i % 2);

  test('gamma 1e39: RangeError naming options.gamma (softmax and sigmoid, every function)', () => {
    const out = new Float32Array(3000).fill(SENTINEL);
    expectPackageError(
      () => softmaxFocalLossWithGrad(z, t, { classes: 3, gamma: BIG, out }),
      RangeError,
      'options.gamma',
    );
    expectPackageError(() => softmaxFocalLoss(z, t, { classes: 3, gamma: BIG }), RangeError, 'options.gamma');
    expectPackageError(() => softmaxFocalLossPartial(z, t, { classes: 3, gamma: BIG }), RangeError, 'options.gamma');
    expectPackageError(() => sigmoidFocalLossWithGrad(z, y, { gamma: BIG, out }), RangeError, 'options.gamma');
    expectPackageError(() => sigmoidFocalLoss(z, y, { gamma: BIG }), RangeError, 'options.gamma');
    expectPackageError(() => sigmoidFocalLossPartial(z, y, { gamma: BIG }), RangeError, 'options.gamma');
    // An empty batch too: the option is wrong whatever the batch.
    expectPackageError(
      () => softmaxFocalLoss(new Float32Array(0), [], { classes: 3, gamma: BIG }),
      RangeError,
      'options.gamma',
    );
    expect(firstTouched(out)).toBe(-1);
    expectStillExact();
  });

  test('softmax alpha 1e39, scalar and per class: RangeError naming options.alpha', () => {
    const out = new Float32Array(3000).fill(SENTINEL);
    expectPackageError(
      () => softmaxFocalLossWithGrad(z, t, { classes: 3, alpha: BIG, out }),
      RangeError,
      'options.alpha',
    );
    expectPackageError(
      () => softmaxFocalLossWithGrad(z, t, { classes: 3, alpha: [1, BIG, 1], out }),
      RangeError,
      'options.alpha',
    );
    expectPackageError(
      () => softmaxFocalLoss(z, t, { classes: 3, alpha: Float64Array.from([1, 1, BIG]) }),
      RangeError,
      'options.alpha',
    );
    expectPackageError(
      () => softmaxFocalLossPartial(z, t, { classes: 3, alpha: [BIG, 1, 1] }),
      RangeError,
      'options.alpha',
    );
    expect(firstTouched(out)).toBe(-1);
    expectStillExact();
  });

  test('labelSmoothing 0.99999999 (1 in float32): RangeError naming options.labelSmoothing', () => {
    expect(Math.fround(0.99999999)).toBe(1);
    const out = new Float32Array(3000).fill(SENTINEL);
    expectPackageError(
      () => softmaxFocalLossWithGrad(z, t, { classes: 3, labelSmoothing: 0.99999999, out }),
      RangeError,
      'options.labelSmoothing',
    );
    expectPackageError(
      () => softmaxFocalLossPartial(z, t, { classes: 3, labelSmoothing: 0.99999999 }),
      RangeError,
      'options.labelSmoothing',
    );
    expectPackageError(
      () => sigmoidFocalLossWithGrad(z, y, { labelSmoothing: 0.99999999, out }),
      RangeError,
      'options.labelSmoothing',
    );
    expectPackageError(
      () => sigmoidFocalLoss(z, y, { labelSmoothing: 0.99999999 }),
      RangeError,
      'options.labelSmoothing',
    );
    expect(firstTouched(out)).toBe(-1);
    expectStillExact();
  });

  test('the same values with Float64Array logits are valid', () => {
    const z64 = Float64Array.from(z.subarray(0, 30));
    const t64 = Array.from(t.subarray(0, 10));
    for (const o of [{ gamma: BIG }, { alpha: BIG }, { alpha: [1, BIG, 1] }, { labelSmoothing: 0.99999999 }]) {
      const r = softmaxFocalLossWithGrad(z64, t64, { classes: 3, reduction: 'sum', ...o });
      expect(
        compareResult(r, refSoftmaxCall(z64, t64, { classes: 3, reduction: 'sum', ...o }, false), Float64Array, true),
        JSON.stringify(o),
      ).toEqual([]);
    }
  });
});

/**
 * A 1000-class probability row whose double sum is just below 1.001 (within the 1e-3 tolerance) but
 * whose float32-rounded values sum to just above it: 999 values a hair above a float32 midpoint in
 * [2^-11, 2^-10) (each rounds up by ~2^-35) and one value in [0.5, 1) also just above a midpoint.
 */
function buildRow(): Float64Array {
  const n = 1000;
  const uSmall = 2 ** -34;
  const uBig = 2 ** -24;
  for (let k = 0; k < 4096; k++) {
    const g = 2 ** -11 + k * uSmall * 64;
    const small = g + 0.5000001 * uSmall;
    if (Math.fround(small) !== g + uSmall) continue;
    const big = 1.000999997 - (n - 1) * small;
    if (!(big >= 0.5 && big < 1)) continue;
    const frac = (big - Math.floor(big / uBig) * uBig) / uBig;
    if (frac < 0.5 || frac > 0.6) continue;
    const row = new Float64Array(n).fill(small);
    row[0] = big;
    return row;
  }
  throw new Error('no row found');
}

describe('a probability row that sums to 1 within 1e-3 in double but not in float32', () => {
  const C = 1000;
  const N = 100; // several chunks of 1000-class float32 rows; the bad row is the last
  const row = buildRow();
  const logits = Float32Array.from({ length: N * C }, (_, i) => Math.sin(i * 0.1) * 2);
  const q = new Float64Array(N * C);
  for (let n = 0; n < N - 1; n++) q[n * C + ((n * 7) % C)] = 1;
  q.set(row, (N - 1) * C);

  test('the row is what it should be (checked here)', () => {
    let sumDouble = 0;
    let sumFloat = 0;
    for (const v of row) {
      expect(v >= 0 && v <= 1).toBe(true);
      sumDouble += v;
      sumFloat += Math.fround(v);
    }
    expect(Math.abs(sumDouble - 1.000999997)).toBeLessThan(1e-12);
    expect(sumDouble).toBeLessThan(1.001);
    expect(sumFloat).toBeGreaterThan(1.00100005);
    expect(sumFloat).toBeLessThan(1.0010001);
  });

  test('Float32Array logits: RangeError naming targets, out untouched, no kernel status', () => {
    const out = new Float32Array(N * C).fill(SENTINEL);
    const e = expectPackageError(
      () => softmaxFocalLossWithGrad(logits, q, { classes: C, out }),
      RangeError,
      /\btargets?\b/,
    );
    expect(e.message).not.toContain('kernel status');
    expect(firstTouched(out), 'out was written').toBe(-1);
    expectPackageError(
      () => softmaxFocalLoss(logits, q, { classes: C, reduction: 'none' }),
      RangeError,
      /\btargets?\b/,
    );
    expectPackageError(() => softmaxFocalLossPartial(logits, q, { classes: C }), RangeError, /\btargets?\b/);
    // The same row as Float32Array targets (already rounded): also refused.
    expectPackageError(
      () => softmaxFocalLoss(logits, Float32Array.from(q), { classes: C }),
      RangeError,
      /\btargets?\b/,
    );
    // Channels-first: the row is one position's C values across the channels.
    const shaped = new Float64Array(N * C);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) shaped[c * N + n] = q[n * C + c];
    expectPackageError(
      () => softmaxFocalLossWithGrad(logits, shaped, { shape: [1, C, N], out }),
      RangeError,
      /\btargets?\b/,
    );
    expect(firstTouched(out), 'out was written (channels-first)').toBe(-1);
    expectStillExact();
  });

  test('Float64Array logits: the row is valid (1.000999997 is within 1e-3) and the result exact', () => {
    const z64 = Float64Array.from(logits.subarray((N - 2) * C));
    const q64 = q.subarray((N - 2) * C);
    const r = softmaxFocalLossWithGrad(z64, q64, { classes: C, reduction: 'sum', gamma: 1 });
    expect(
      compareResult(r, refSoftmaxCall(z64, q64, { classes: C, reduction: 'sum', gamma: 1 }, true), Float64Array, true),
    ).toEqual([]);
  });
});
