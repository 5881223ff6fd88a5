// Partial results for sharded work: softmaxFocalLossPartial / sigmoidFocalLossPartial return a shard's
// { sum, residual, count } (sum correctly rounded, count exact), combineFocalPartials adds them exactly,
// so shards combine to the whole batch's mean however the batch is split; 'sum' gradients scaled by
// 1 / Σ count equal the whole batch's 'mean' gradient.
import { describe, expect, test } from 'vitest';
import {
  combineFocalPartials,
  sigmoidFocalLoss,
  sigmoidFocalLossPartial,
  sigmoidFocalLossWithGrad,
  softmaxFocalLoss,
  softmaxFocalLossPartial,
  softmaxFocalLossWithGrad,
  type FocalPartial,
} from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types (the demo's mulberry32)
import { rng } from '../examples/train/train.js';
import { fsum } from './helpers/fsum';

type FloatCtor = typeof Float32Array | typeof Float64Array;

/** Distance in units in the last place of `b` (doubles). */
function ulps(a: number, b: number): number {
  if (a === b) return 0;
  const e = Math.floor(Math.log2(Math.abs(b)));
  return Math.abs(a - b) / 2 ** (e - 52);
}

/** Largest elementwise distance in ulps of the array's own type. */
function maxUlps(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  const bits = a instanceof Float32Array ? 23 : 52;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const e = Math.floor(Math.log2(Math.max(Math.abs(a[i]), Math.abs(b[i]))));
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / 2 ** (e - bits));
  }
  return worst;
}

const combine = (parts: FocalPartial[]) => combineFocalPartials(parts);

/** M rows × C classes, about a quarter of the targets ignored (-100). */
function softmaxBatch(Ctor: FloatCtor, M: number, C: number, seed: number) {
  const r = rng(seed);
  const logits = new Ctor(M * C);
  for (let i = 0; i < logits.length; i++) logits[i] = (r() - 0.5) * 8;
  const targets = new Int32Array(M);
  for (let i = 0; i < M; i++) targets[i] = r() < 0.25 ? -100 : Math.floor(r() * C);
  return { logits, targets };
}

/** Splits rows [0, M) at the given row boundaries into (logits, targets) shards (views, no copies). */
function shards<L extends Float32Array | Float64Array>(logits: L, targets: Int32Array, C: number, cuts: number[]) {
  const bounds = [0, ...cuts, targets.length];
  return bounds.slice(1).map((end, i) => {
    const start = bounds[i];
    return { logits: logits.subarray(start * C, end * C) as L, targets: targets.subarray(start, end) };
  });
}

describe.each([
  ['Float32Array', Float32Array],
  ['Float64Array', Float64Array],
] as const)('softmax, %s', (_, Ctor) => {
  const C = 7;
  const M = 1000;
  const { logits, targets } = softmaxBatch(Ctor, M, C, 42);
  const counted = Array.from(targets).filter((t) => t !== -100).length;
  const opts = { classes: C, gamma: 2, alpha: [1, 0.5, 2, 1, 1, 0.25, 3] };

  test('the whole batch: sum is the correctly rounded Σ of the item losses, count its counted items', () => {
    const p = softmaxFocalLossPartial(logits, targets, opts);
    expect(p.count).toBe(counted);
    expect(counted).toBeLessThan(M);
    const perItem = softmaxFocalLoss(logits, targets, { ...opts, reduction: 'none' });
    expect(p.sum).toBe(fsum(perItem));
    expect(Math.abs(p.residual)).toBeLessThanOrEqual(2 ** (Math.floor(Math.log2(p.sum)) - 53));
    // The package's own 'sum' / 'mean' (a running double sum) agree to rounding.
    expect(Math.abs(p.sum - softmaxFocalLoss(logits, targets, { ...opts, reduction: 'sum' })) / p.sum).toBeLessThan(
      1e-13,
    );
    expect(Math.abs(p.sum / p.count - softmaxFocalLoss(logits, targets, opts)) / (p.sum / p.count)).toBeLessThan(1e-13);
  });

  test("uneven shards combine to the whole batch's mean within 1 ulp (here: exactly); the mean of the shard means does not", () => {
    const whole = combine([softmaxFocalLossPartial(logits, targets, opts)]).mean;
    const exactMean = fsum(softmaxFocalLoss(logits, targets, { ...opts, reduction: 'none' })) / counted;
    const parts = shards(logits, targets, C, [13, 400, 401, 777]).map((s) =>
      softmaxFocalLossPartial(s.logits, s.targets, opts),
    );
    const c = combine(parts);
    expect(c.count).toBe(counted);
    expect(ulps(c.mean, whole)).toBeLessThanOrEqual(1);
    expect(c.mean).toBe(exactMean);
    expect(combine([...parts].reverse()).mean).toBe(c.mean);
    // The naive alternative: averaging per-shard means weights a 1-row shard like a 376-row one.
    const meanOfMeans = parts.reduce((s, p) => s + p.sum / Math.max(p.count, 1), 0) / parts.length;
    expect(Math.abs(meanOfMeans - whole) / whole).toBeGreaterThan(1e-3);
  });

  test('ignored items are not counted; a shard of only ignored items is { sum: 0, count: 0 }', () => {
    const t = Int32Array.from([3, -100, 0, -100]);
    const z = logits.subarray(0, 4 * C);
    const p = softmaxFocalLossPartial(z, t, opts);
    expect(p.count).toBe(2);
    const kept = softmaxFocalLossPartial(new Ctor([...z.subarray(0, C), ...z.subarray(2 * C, 3 * C)]), [3, 0], opts);
    expect(p.sum).toBe(kept.sum);
    expect(softmaxFocalLossPartial(z.subarray(C, 2 * C), [-100], opts)).toEqual({ sum: 0, residual: 0, count: 0 });
    expect(combine([p, softmaxFocalLossPartial(z.subarray(C, 2 * C), [-100], opts)])).toEqual({
      ...p,
      mean: p.sum / 2,
    });
    // A custom ignoreIndex, and class 0 is an ordinary class.
    expect(softmaxFocalLossPartial(z, [3, 0, 0, 5], { ...opts, ignoreIndex: 5 }).count).toBe(3);
  });

  test('"sum" gradients of the shards scaled by 1 / total count equal the whole batch\'s "mean" gradient', () => {
    const whole = softmaxFocalLossWithGrad(logits, targets, opts);
    const grad = new Ctor(logits.length);
    const total = softmaxFocalLossPartial(logits, targets, opts).count; // or Σ of the shards' counts
    for (const s of shards(logits, targets, C, [250, 251, 900])) {
      const g = softmaxFocalLossWithGrad(s.logits, s.targets, { ...opts, reduction: 'sum' }).grad;
      const at = s.logits.byteOffset / Ctor.BYTES_PER_ELEMENT;
      for (let i = 0; i < g.length; i++) grad[at + i] = g[i] * (1 / total);
    }
    // Scaling before or after the roundings of the per-element products: a few ulps apart.
    expect(maxUlps(grad, whole.grad)).toBeLessThanOrEqual(4);
    // When the total count is a power of two the scaling is exact, and the two agree bit for bit.
    const t2 = Int32Array.from(targets);
    let n = counted;
    for (let i = 0; n > 512; i++)
      if (t2[i] !== -100) {
        t2[i] = -100;
        n--;
      }
    const whole2 = softmaxFocalLossWithGrad(logits, t2, opts);
    const grad2 = new Ctor(logits.length);
    for (const s of shards(logits, t2, C, [333, 666])) {
      const g = softmaxFocalLossWithGrad(s.logits, s.targets, { ...opts, reduction: 'sum' }).grad;
      const at = s.logits.byteOffset / Ctor.BYTES_PER_ELEMENT;
      for (let i = 0; i < g.length; i++) grad2[at + i] = g[i] / 512;
    }
    expect(Array.from(grad2)).toEqual(Array.from(whole2.grad));
  });

  test('channels-first shards (images of [N, C, H, W]) combine too', () => {
    const N = 6,
      H = 5,
      W = 9;
    const r = rng(7);
    const z = new Ctor(N * C * H * W).map(() => (r() - 0.5) * 6);
    const t = Int32Array.from({ length: N * H * W }, () => (r() < 0.3 ? -100 : Math.floor(r() * C)));
    const shape = [N, C, H, W];
    const whole =
      fsum(softmaxFocalLoss(z, t, { shape, gamma: 0.5, reduction: 'none' })) /
      Array.from(t).filter((x) => x !== -100).length;
    const img = C * H * W,
      pos = H * W;
    const a = softmaxFocalLossPartial(z.subarray(0, 2 * img), t.subarray(0, 2 * pos), {
      shape: [2, C, H, W],
      gamma: 0.5,
    });
    const b = softmaxFocalLossPartial(z.subarray(2 * img), t.subarray(2 * pos), { shape: [4, C, H, W], gamma: 0.5 });
    expect(a.count + b.count).toBe(Array.from(t).filter((x) => x !== -100).length);
    expect(ulps(combine([a, b]).mean, whole)).toBeLessThanOrEqual(1);
    expect(ulps(combine([a, b]).mean, softmaxFocalLoss(z, t, { shape, gamma: 0.5 }))).toBeLessThan(64);
  });
});

describe.each([
  ['Float32Array', Float32Array],
  ['Float64Array', Float64Array],
] as const)('sigmoid, %s', (_, Ctor) => {
  const n = 5000;
  const r = rng(99);
  const x = new Ctor(n).map(() => (r() - 0.5) * 10);
  const y = Uint8Array.from({ length: n }, () => (r() < 0.1 ? 1 : 0));
  const opts = { gamma: 2, alpha: 0.25 };

  test('shards combine to the whole mean within 1 ulp; count is every element', () => {
    const whole = combine([sigmoidFocalLossPartial(x, y, opts)]).mean;
    const cuts = [0, 1, 1234, 4096, n];
    const parts = cuts
      .slice(1)
      .map((end, i) => sigmoidFocalLossPartial(x.subarray(cuts[i], end), y.subarray(cuts[i], end), opts));
    const c = combine(parts);
    expect(c.count).toBe(n);
    expect(c.positives).toBe(y.reduce((a, v) => a + v, 0));
    expect(ulps(c.mean, whole)).toBeLessThanOrEqual(1);
    expect(c.mean).toBe(fsum(sigmoidFocalLoss(x, y, { ...opts, reduction: 'none' })) / n);
    expect(Math.abs(c.mean - sigmoidFocalLoss(x, y, opts)) / c.mean).toBeLessThan(1e-12);
    expect(sigmoidFocalLossPartial(new Ctor(0), [])).toEqual({ sum: 0, residual: 0, count: 0, positives: 0 });
    expect(combineFocalPartials([])).toEqual({ sum: 0, residual: 0, count: 0, mean: 0 });
  });

  test('"sum" gradients scaled by 1 / total equal the "mean" gradient', () => {
    const whole = sigmoidFocalLossWithGrad(x, y, opts);
    const grad = new Ctor(n);
    for (const [a, b] of [
      [0, 1700],
      [1700, n],
    ]) {
      const g = sigmoidFocalLossWithGrad(x.subarray(a, b), y.subarray(a, b), { ...opts, reduction: 'sum' }).grad;
      for (let i = 0; i < g.length; i++) grad[a + i] = g[i] * (1 / n);
    }
    expect(maxUlps(grad, whole.grad)).toBeLessThanOrEqual(2);
  });
});

describe('the partial functions validate like the loss', () => {
  const z = new Float32Array([1, 2, 3, 0, 0, 1]);
  test('reduction and out are refused with a TypeError that says what to do', () => {
    expect(() => softmaxFocalLossPartial(z, [0, 1], { classes: 3, reduction: 'mean' } as never)).toThrow(TypeError);
    expect(() => softmaxFocalLossPartial(z, [0, 1], { classes: 3, out: new Float32Array(6) } as never)).toThrow(
      /no option 'out'/,
    );
    expect(() => sigmoidFocalLossPartial(z, [0, 1, 0, 1, 0, 1], { reduction: 'sum' } as never)).toThrow(
      /Σ sum \/ Σ count/,
    );
  });
  test("bad targets and options throw the loss's errors", () => {
    expect(() => softmaxFocalLossPartial(z, [0, 3], { classes: 3 })).toThrow(RangeError);
    expect(() => softmaxFocalLossPartial(z, [0, 1], undefined as never)).toThrow(TypeError);
    expect(() => sigmoidFocalLossPartial(z, [0, 2, 0, 1, 0, 1])).toThrow(RangeError);
  });
  test("README example: two shards' partials give the whole batch's mean", () => {
    const logits = new Float32Array([2, 0.5, -1, 0, 3, 0.1, 1, 1, 1, -2, 0, 2]); // 4 rows × 3 classes
    const targets = [0, 1, -100, 2];
    const a = softmaxFocalLossPartial(logits.subarray(0, 6), targets.slice(0, 2), { classes: 3 });
    const b = softmaxFocalLossPartial(logits.subarray(6), targets.slice(2), { classes: 3 });
    expect([a.count, b.count]).toEqual([2, 1]);
    const { mean, count } = combineFocalPartials([a, b]);
    expect(count).toBe(3);
    expect(ulps(mean, softmaxFocalLoss(logits, targets, { classes: 3 }))).toBeLessThanOrEqual(1);
    const total = a.count + b.count;
    const gradA = softmaxFocalLossWithGrad(logits.subarray(0, 6), targets.slice(0, 2), {
      classes: 3,
      reduction: 'sum',
    }).grad.map((g) => g / total);
    expect(
      maxUlps(gradA, softmaxFocalLossWithGrad(logits, targets, { classes: 3 }).grad.subarray(0, 6)),
    ).toBeLessThanOrEqual(4);
    // Infinity (a masked target) and NaN losses carry through.
    const masked = softmaxFocalLossPartial(new Float32Array([0, -Infinity]), [1], { classes: 2 });
    expect(combineFocalPartials([a, masked]).mean).toBe(Infinity);
  });
});
