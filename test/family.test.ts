// The focal family for detection and multi-label work (CONTRACT.md, "Detection and multi-label losses"):
// class-index sigmoid targets with background and ignoreIndex, posWeight, normalizer, Poly-1, the quality
// focal / varifocal / asymmetric losses, positives in the partials and classBalancedAlpha — each against
// a double-precision reference written from its definition (test/reference.ts), and against each other
// where two spellings must agree bit for bit.
import { describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import type { ElementLossName } from '../ts/family';
import { functionsOf, type FocalApi } from './helpers/vectors';
import { oneHot, refElementwise, refReduce, refSoftmax, type RefElementOptions } from './reference';

const close = (got: number, want: number, rel = 1e-12) =>
  expect(Math.abs(got - want), `${got} vs ${want}`).toBeLessThanOrEqual(rel * Math.abs(want) + 1e-300);
function closeAll(got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-12) {
  expect(got.length).toBe(want.length);
  const scale = Math.max(...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i] - want[i]), `[${i}] ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(rel * scale + 1e-300);
}
const bits = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? 0 : v));

// 6 rows × 4 classes of moderate logits; class indices with background (4) and one ignored row.
const N = 6;
const C = 4;
const logits = Float64Array.from({ length: N * C }, (_, i) => Math.sin(i * 1.3) * 3 + (i % 5) * 0.4 - 1);
const labels = [2, 4, 0, -100, 3, 4];

type Family = ElementLossName;
const withGrad = (f: Family) =>
  functionsOf(api as unknown as FocalApi, f).withGrad as (
    l: Float64Array | Float32Array,
    t: unknown,
    o?: object,
  ) => { loss: any; grad: Float64Array | Float32Array };
const partialOf = (f: Family) =>
  functionsOf(api as unknown as FocalApi, f).partial as (
    l: Float64Array | Float32Array,
    t: unknown,
    o?: object,
  ) => api.FocalPartial;

/** Options of each family member (beyond the defaults) and the same for the reference. */
const settings: { name: string; family: Family; options: object; ref: RefElementOptions }[] = [
  { name: 'sigmoid defaults', family: 'sigmoid', options: {}, ref: { loss: 'sigmoid' } },
  {
    name: 'sigmoid γ 0.5, α off, posWeight 3, poly 1.5',
    family: 'sigmoid',
    options: { gamma: 0.5, alpha: null, posWeight: 3, polyEpsilon: 1.5 },
    ref: { loss: 'sigmoid', gamma: 0.5, alpha: null, posWeight: 3, polyEpsilon: 1.5 },
  },
  {
    name: 'sigmoid per-class posWeight, poly −0.5, smoothing',
    family: 'sigmoid',
    options: { posWeight: [1, 2, 0.5, 4], polyEpsilon: -0.5, labelSmoothing: 0.1 },
    ref: { loss: 'sigmoid', posWeight: [1, 2, 0.5, 4], polyEpsilon: -0.5, labelSmoothing: 0.1 },
  },
  { name: 'quality β 2', family: 'quality', options: {}, ref: { loss: 'quality' } },
  { name: 'quality β 0.5', family: 'quality', options: { beta: 0.5 }, ref: { loss: 'quality', beta: 0.5 } },
  { name: 'varifocal defaults', family: 'varifocal', options: {}, ref: { loss: 'varifocal' } },
  {
    name: 'varifocal not IoU-weighted, γ 1.5',
    family: 'varifocal',
    options: { iouWeighted: false, gamma: 1.5, alpha: 0.5 },
    ref: { loss: 'varifocal', iouWeighted: false, gamma: 1.5, alpha: 0.5 },
  },
  { name: 'asymmetric defaults', family: 'asymmetric', options: {}, ref: { loss: 'asymmetric' } },
  {
    name: 'asymmetric clip 0, γ− 0.5, detached',
    family: 'asymmetric',
    options: { clip: 0, gammaNeg: 0.5, gammaPos: 2, detachFocalWeight: true },
    ref: { loss: 'asymmetric', clip: 0, gammaNeg: 0.5, gammaPos: 2, detachFocalWeight: true },
  },
];

describe.each(settings)('$name', ({ family, options, ref }) => {
  const f = withGrad(family);
  const classOf = (i: number) => i % C;

  test('dense soft targets: loss and gradient match the definition, every reduction', () => {
    const y = Float64Array.from(logits, (_, i) => ((i * 7) % 11) / 10);
    const r = refElementwise(logits, y, ref, undefined, classOf);
    const opts = {
      ...options,
      ...(Array.isArray((options as { posWeight?: unknown }).posWeight) ? { classes: C } : {}),
    };
    for (const reduction of ['none', 'sum', 'mean'] as const) {
      const want = refReduce({ losses: r.losses, grad: r.grad, gradScale: r.grad, count: y.length }, reduction);
      const got = f(logits, y, { ...opts, reduction });
      if (reduction === 'none') closeAll(got.loss, want.loss as Float64Array);
      else close(got.loss, want.loss as number);
      closeAll(got.grad, want.grad);
    }
  });

  test('class indices (background C, ignoreIndex) equal the one-hot dense targets bit for bit; mean over counted items × C', () => {
    const { dense, counted } = oneHot(labels, N, C, 1);
    const weightsPerItem = [1, 0.5, 2, 7, 1.5, 1];
    const weightsPerElement = Float64Array.from(dense, (_, i) =>
      counted[Math.floor(i / C)] ? weightsPerItem[Math.floor(i / C)] : 0,
    );
    const byIndex = f(logits, labels, { ...options, classes: C, weights: weightsPerItem, reduction: 'none' });
    const byDense = f(logits, dense, { ...options, classes: C, weights: weightsPerElement, reduction: 'none' });
    expect(bits(byIndex.loss)).toEqual(bits(byDense.loss));
    expect(bits(byIndex.grad)).toEqual(bits(byDense.grad));
    // The ignored row adds nothing and has a zero gradient.
    for (let c = 0; c < C; c++) expect([byIndex.loss[3 * C + c], byIndex.grad[3 * C + c]]).toEqual([0, 0]);
    const mean = f(logits, labels, { ...options, classes: C, weights: weightsPerItem });
    const sum = (byIndex.loss as Float64Array).reduce((a: number, v: number) => a + v, 0);
    close(mean.loss, sum / (5 * C), 1e-15);
    const r = refElementwise(logits, dense, ref, weightsPerElement, classOf);
    closeAll(byIndex.loss, r.losses);
  });

  test('channels-first class indices equal the transposed rows', () => {
    // [2, C, 3] channels-first against the same positions as rows.
    const S = 3;
    const cf = Float64Array.from({ length: 2 * C * S }, (_, i) => Math.cos(i * 0.7) * 2);
    const t = [0, 4, 2, 1, -100, 3];
    const rows = new Float64Array(cf.length);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) rows[(n * S + s) * C + c] = cf[n * C * S + c * S + s];
    const a = f(cf, t, { ...options, shape: [2, C, S], reduction: 'sum' });
    const b = f(rows, t, { ...options, classes: C, reduction: 'sum' });
    close(a.loss, b.loss, 1e-14);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < C; c++)
        for (let s = 0; s < S; s++) expect(a.grad[n * C * S + c * S + s]).toBe(b.grad[(n * S + s) * C + c]);
  });

  test('normalizer replaces the mean divisor, in the loss and inside the gradient', () => {
    const sum = f(logits, labels, { ...options, classes: C, reduction: 'sum' });
    const norm = f(logits, labels, { ...options, classes: C, normalizer: 2.5 });
    close(norm.loss, sum.loss / 2.5, 1e-15);
    closeAll(
      norm.grad,
      Float64Array.from(sum.grad, (g) => g / 2.5),
      1e-15,
    );
  });

  test('the partial carries the positives: counted non-background items, or Σ targets', () => {
    const p = partialOf(family)(logits, labels, { ...options, classes: C });
    expect(p.count).toBe(5 * C);
    expect(p.positives).toBe(3);
    const y = Float64Array.from(logits, (_, i) => ((i * 3) % 5) / 4);
    expect(
      partialOf(family)(logits, y, {
        ...options,
        ...(Array.isArray((options as { posWeight?: unknown }).posWeight) ? { classes: C } : {}),
      }).positives,
    ).toBe(y.reduce((a, v) => a + v, 0));
  });

  test('float32 follows float64 to float32 precision', () => {
    const x32 = Float32Array.from(logits);
    const y = Float64Array.from(logits, (_, i) => ((i * 7) % 11) / 10);
    const opts = {
      ...options,
      ...(Array.isArray((options as { posWeight?: unknown }).posWeight) ? { classes: C } : {}),
      reduction: 'none',
    };
    const a = f(x32, Float32Array.from(y), opts);
    const b = f(Float64Array.from(x32), Float64Array.from(Float32Array.from(y)), opts);
    expect(a.grad).toBeInstanceOf(Float32Array);
    closeAll(a.loss, b.loss, 3e-5);
    closeAll(a.grad, b.grad, 3e-5);
  });
});

describe('identities', () => {
  const y = Float64Array.from(logits, (_, i) => ((i * 7) % 11) / 10);
  const hard = Float64Array.from(logits, (_, i) => (i % 3 === 0 ? 1 : 0));
  const bce = refElementwise(logits, y, { loss: 'quality', beta: 0 }).losses;

  test('QFL β = 0, ASL γ± = 0 clip 0, focal γ = 0 α off: all the plain BCE with logits', () => {
    closeAll(api.qualityFocalLoss(logits, y, { beta: 0, reduction: 'none' }) as Float64Array, bce);
    closeAll(
      api.asymmetricLoss(logits, y, { gammaPos: 0, gammaNeg: 0, clip: 0, reduction: 'none' }) as Float64Array,
      bce,
    );
    closeAll(api.sigmoidFocalLoss(logits, y, { gamma: 0, alpha: null, reduction: 'none' }) as Float64Array, bce);
  });

  test('posWeight 1 and polyEpsilon 0 are exactly the defaults; scalar posWeight = the same per class', () => {
    const base = api.sigmoidFocalLossWithGrad(logits, hard, { reduction: 'none' });
    const same = api.sigmoidFocalLossWithGrad(logits, hard, { posWeight: 1, polyEpsilon: 0, reduction: 'none' });
    expect(bits(same.loss)).toEqual(bits(base.loss));
    expect(bits(same.grad)).toEqual(bits(base.grad));
    const scalar = api.sigmoidFocalLossWithGrad(logits, hard, { posWeight: 2.5, classes: C, reduction: 'none' });
    const perClass = api.sigmoidFocalLossWithGrad(logits, hard, {
      posWeight: [2.5, 2.5, 2.5, 2.5],
      classes: C,
      reduction: 'none',
    });
    expect(bits(perClass.loss)).toEqual(bits(scalar.loss));
    expect(bits(perClass.grad)).toEqual(bits(scalar.grad));
  });

  test('varifocal negatives: α·σ(x)^γ·softplus(x), which at γ = 0 is α·BCE(x, 0)', () => {
    const zeros = new Float64Array(logits.length);
    closeAll(
      api.varifocalLoss(logits, zeros, { gamma: 0, alpha: 0.75, reduction: 'none' }) as Float64Array,
      refElementwise(logits, zeros, { loss: 'quality', beta: 0 }).losses.map((v) => 0.75 * v),
    );
  });

  test('softmax Poly-1: ε·(1 − p_t)^(γ+1) beside the focal term, in the loss and the gradient', () => {
    const eps = 2;
    const t = [2, 0, 1, 3, 3, 0];
    const base = refSoftmax(logits, t, { classes: C, gamma: 2 });
    const got = api.softmaxFocalLossWithGrad(logits, t, { classes: C, polyEpsilon: eps, reduction: 'none' });
    for (let r = 0; r < N; r++) {
      const row = Array.from(logits.subarray(r * C, (r + 1) * C));
      const m = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
      const p = row.map((v) => Math.exp(v - m) / z);
      const pt = p[t[r]];
      close((got.loss as Float64Array)[r], base.losses[r] + eps * (1 - pt) ** 3);
      // d/dz_j of ε(1 − p_t)^(γ+1) = −ε(γ+1)(1 − p_t)^γ · p_t(δ_jt − p_j).
      for (let j = 0; j < C; j++) {
        const poly = -eps * 3 * (1 - pt) ** 2 * pt * ((j === t[r] ? 1 : 0) - p[j]);
        close(got.grad[r * C + j], base.grad[r * C + j] + poly, 1e-11);
      }
    }
  });

  test('combineFocalPartials adds positives when every part has them, and drops them otherwise', () => {
    const a = api.sigmoidFocalLossPartial(logits.subarray(0, 3 * C), labels.slice(0, 3), { classes: C });
    const b = api.sigmoidFocalLossPartial(logits.subarray(3 * C), labels.slice(3), { classes: C });
    const whole = api.sigmoidFocalLossPartial(logits, labels, { classes: C });
    const both = api.combineFocalPartials([a, b]);
    expect(both.positives).toBe(whole.positives);
    expect(both.count).toBe(whole.count);
    close(both.sum, whole.sum, 1e-15);
    const mixed = api.combineFocalPartials([
      a,
      api.softmaxFocalLossPartial(logits, [0, 1, 2, 3, 0, 1], { classes: C }),
    ]);
    expect(mixed.positives).toBeUndefined();
  });
});

describe('classBalancedAlpha', () => {
  test('(1 − β)/(1 − β^n) rescaled to sum to C; the rarest class weighs most', () => {
    const counts = [900, 90, 10, 1];
    const a = api.classBalancedAlpha(counts, 0.999);
    const raw = counts.map((n) => (1 - 0.999) / (1 - 0.999 ** n));
    const s = raw.reduce((x, v) => x + v, 0);
    closeAll(
      a,
      raw.map((v) => (v * counts.length) / s),
      1e-13,
    );
    close(
      a.reduce((x, v) => x + v, 0),
      counts.length,
      1e-15,
    );
    expect(a[3]).toBeGreaterThan(a[2]);
    expect(Array.from(api.classBalancedAlpha(counts, 0))).toEqual([1, 1, 1, 1]);
    // The default β = 0.9999 keeps its digits for small counts (1 − β^n by expm1): n = 1 gives 1 − β exactly.
    const d = api.classBalancedAlpha(Uint32Array.from([1, 1]));
    expect(Array.from(d)).toEqual([1, 1]);
  });

  test('bad counts and beta are package errors', () => {
    expect(() => api.classBalancedAlpha([3, 0])).toThrow(
      new RangeError('focal-loss: counts[1] = 0 must be a positive integer'),
    );
    expect(() => api.classBalancedAlpha([3, 1.5])).toThrow(RangeError);
    expect(() => api.classBalancedAlpha([])).toThrow(RangeError);
    expect(() => api.classBalancedAlpha(['3'] as never)).toThrow(TypeError);
    expect(() => api.classBalancedAlpha(5 as never)).toThrow(TypeError);
    expect(() => api.classBalancedAlpha([3], 1)).toThrow(new RangeError('focal-loss: beta = 1 must be in [0, 1)'));
    expect(() => api.classBalancedAlpha([3], '0.9' as never)).toThrow(TypeError);
  });
});
