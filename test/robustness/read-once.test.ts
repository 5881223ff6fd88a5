// Read-once: a call reads each option, and each element of a caller's array, at most once. What the
// validation saw is what the kernel computes on: an option whose getter (or a Proxy array whose
// elements) answers differently on a second read must give the result of the first answer, never a
// kernel error, never a half-written `out`.
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import {
  compareResult,
  expectClose,
  expectPackageErrorValue,
  fsum,
  refSigmoidCall,
  refSoftmaxCall,
  SENTINEL,
} from './helpers';
import { refSigmoid, refSoftmax } from '../reference';

const api = FL as unknown as Record<string, (...args: unknown[]) => any>;

// One softmax problem (2 rows × 3 classes, and channels-first [2, 3, 2]) and one sigmoid problem.
const L = Float64Array.from([1, 2, 3, 4, 5, 6]);
const T = [0, 1];
const L2 = Float64Array.from([0.5, -1, 2, 0, 1, 3, -2, 0.25, 1.5, -0.5, 0, 2]); // shape [2, 3, 2]
const T2 = [0, 2, 1, -100];
const SL = Float64Array.from([1.5, -0.5, 2, -3, 0.25, 4]);
const ST = [1, 0, 1, 1, 0, 0];

const softmaxOptions = () => ({
  classes: 3,
  gamma: 1.5,
  alpha: [0.5, 1, 2],
  reduction: 'sum',
  ignoreIndex: -100,
  labelSmoothing: 0.1,
  weights: [1, 2],
});
const sigmoidOptions = () => ({
  gamma: 1.5,
  alpha: 0.3,
  reduction: 'sum',
  labelSmoothing: 0.1,
  weights: [1, 2, 0.5, 1, 3, 0.25],
});

type Fn =
  | 'softmaxFocalLoss'
  | 'softmaxFocalLossWithGrad'
  | 'softmaxFocalLossPartial'
  | 'sigmoidFocalLoss'
  | 'sigmoidFocalLossWithGrad'
  | 'sigmoidFocalLossPartial';
const FNS: Fn[] = [
  'softmaxFocalLoss',
  'softmaxFocalLossWithGrad',
  'softmaxFocalLossPartial',
  'sigmoidFocalLoss',
  'sigmoidFocalLossWithGrad',
  'sigmoidFocalLossPartial',
];

/** The options a function takes (a partial has no reduction and no out). */
function optionsFor(fn: Fn, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const o: Record<string, unknown> = fn.startsWith('softmax') ? softmaxOptions() : sigmoidOptions();
  if (fn.endsWith('Partial')) delete o.reduction;
  return { ...o, ...extra };
}

/** Expected values of `fn` on the module's problem with plain `options` (from the reference). */
function expectExact(
  fn: Fn,
  result: any,
  o: Record<string, any>,
  logits = fn.startsWith('softmax') ? L : SL,
  targets: number[] = fn.startsWith('softmax') ? T : ST,
) {
  const { out: _out, ...rest } = o;
  if (fn.endsWith('Partial')) {
    const base = fn.startsWith('softmax') ? refSoftmax(logits, targets, rest) : refSigmoid(logits, targets, rest);
    expect(result.count).toBe(base.count);
    expectClose(result.sum + result.residual, fsum(base.losses), 1e-12, 1e-300, undefined, 'partial sum');
    return;
  }
  const ref = fn.startsWith('softmax')
    ? refSoftmaxCall(logits, targets, rest, false)
    : refSigmoidCall(logits, targets, rest);
  const withGrad = fn.endsWith('WithGrad');
  expect(compareResult(withGrad ? result : { loss: result }, ref, Float64Array, withGrad)).toEqual([]);
}

/** A Proxy over `target` counting the reads (get) of every key. */
function counting<T extends object>(target: T): { proxy: T; reads: Map<PropertyKey, number> } {
  const reads = new Map<PropertyKey, number>();
  const proxy = new Proxy(target, {
    get(t, k, r) {
      reads.set(k, (reads.get(k) ?? 0) + 1);
      return Reflect.get(t, k, r);
    },
  });
  return { proxy, reads };
}

const over = (reads: Map<PropertyKey, number>) =>
  [...reads].filter(([, n]) => n > 1).map(([k, n]) => `${String(k)} read ${n} times`);

describe('each option is read at most once per call', () => {
  for (const fn of FNS) {
    test(`${fn}: options as a Proxy counting reads`, () => {
      const plain = optionsFor(fn, fn.endsWith('WithGrad') ? { out: new Float64Array(6) } : {});
      const { proxy, reads } = counting({ ...plain });
      const r = api[fn](fn.startsWith('softmax') ? L : SL, fn.startsWith('softmax') ? T : ST, proxy);
      expect(over(reads), 'keys read more than once').toEqual([]);
      expectExact(fn, r, plain);
    });
  }

  test('softmax with shape (and classes agreeing): every key once', () => {
    for (const fn of ['softmaxFocalLoss', 'softmaxFocalLossWithGrad', 'softmaxFocalLossPartial'] as const) {
      const plain: Record<string, unknown> = {
        shape: [2, 3, 2],
        classes: 3,
        gamma: 2,
        alpha: 0.5,
        weights: [1, 0.5, 2, 1],
      };
      if (!fn.endsWith('Partial')) plain.reduction = 'mean';
      const { proxy, reads } = counting({ ...plain });
      const r = api[fn](L2, T2, proxy);
      expect(over(reads), `${fn}: keys read more than once`).toEqual([]);
      expectExact(fn, r, plain, L2, T2);
    }
  });
});

/** An options object whose `key` is a getter: `first` for the first `n` reads, `after` from then on. */
function flipping(base: Record<string, unknown>, key: string, first: unknown, after: unknown, n = 1) {
  let reads = 0;
  const o = { ...base };
  delete o[key];
  Object.defineProperty(o, key, {
    get() {
      reads++;
      return reads <= n ? first : after;
    },
    enumerable: true,
  });
  return { options: o, reads: () => reads };
}

describe('an option that changes between reads gives the result of its first value', () => {
  test('shape: [2, 3] for the first four reads, [-2, -3] afterwards ≡ { shape: [2, 3] }', () => {
    for (const fn of ['softmaxFocalLoss', 'softmaxFocalLossWithGrad', 'softmaxFocalLossPartial'] as const) {
      const { options } = flipping({}, 'shape', [2, 3], [-2, -3], 4);
      const r = api[fn](L, T, options);
      const plain = api[fn](L, T, { shape: [2, 3] });
      expectExact(fn, r, { shape: [2, 3] });
      expectExact(fn, plain, { shape: [2, 3] });
    }
  });

  test('shape: [2, 3] on the first read only, garbage afterwards', () => {
    for (const after of [[-2, -3], [6, 1], [1, 6], undefined, 'x']) {
      for (const fn of ['softmaxFocalLoss', 'softmaxFocalLossWithGrad', 'softmaxFocalLossPartial'] as const) {
        const { options, reads } = flipping({}, 'shape', [2, 3], after);
        expectExact(fn, api[fn](L, T, options), { shape: [2, 3] });
        expect(reads(), `${fn}: shape reads`).toBe(1);
      }
    }
  });

  // Each key of each function: valid on the first read, something else afterwards.
  const flips: Record<string, [unknown, unknown[]]> = {
    classes: [3, [2, 6, 0, -1, 'x']],
    gamma: [1.5, [-1, NaN, 0, 5, 'x']],
    alpha: [
      [0.5, 1, 2],
      [[-1, 1, 1], [1], [5, 5, 5], null, 'x'],
    ],
    reduction: ['sum', ['avg', 'none', 'mean', 1]],
    ignoreIndex: [-100, [0, 1, 1.5, 'x']],
    labelSmoothing: [0.1, [1, -1, 0.5, 'x']],
    weights: [
      [1, 2],
      [[-1, 2], [1], [5, 5], null, 'x'],
    ],
  };
  const sigmoidFlips: Record<string, [unknown, unknown[]]> = {
    gamma: [1.5, [-1, NaN, 0, 5, 'x']],
    alpha: [0.3, [2, -0.5, null, 0.9, 'x']],
    reduction: ['sum', ['avg', 'none', 'mean', 1]],
    labelSmoothing: [0.1, [1, -1, 0.5, 'x']],
    weights: [
      [1, 2, 0.5, 1, 3, 0.25],
      [[-1, 2, 0.5, 1, 3, 0.25], [1], Array(6).fill(5), null, 'x'],
    ],
  };
  for (const fn of FNS) {
    const table = fn.startsWith('softmax') ? flips : sigmoidFlips;
    for (const [key, [first, afters]] of Object.entries(table)) {
      if (key === 'reduction' && fn.endsWith('Partial')) continue;
      test(`${fn}: ${key}`, () => {
        for (const after of afters) {
          const base = optionsFor(fn);
          const { options, reads } = flipping(base, key, first, after);
          let r: unknown;
          try {
            r = api[fn](fn.startsWith('softmax') ? L : SL, fn.startsWith('softmax') ? T : ST, options);
          } catch (e) {
            throw new Error(
              `${key} = ${JSON.stringify(first)} then ${JSON.stringify(after)}: threw ${(e as Error).message}`,
            );
          }
          expectExact(fn, r, { ...base, [key]: first });
          expect(reads(), `${key} reads`).toBe(1);
        }
      });
    }
  }

  test('out: the first array read receives the gradient (a second read would give another)', () => {
    const first = new Float64Array(6).fill(SENTINEL);
    const other = new Float64Array(6).fill(SENTINEL);
    const { options, reads } = flipping(optionsFor('softmaxFocalLossWithGrad'), 'out', first, other);
    const r = FL.softmaxFocalLossWithGrad(L, T, options as any);
    expect(r.grad).toBe(first);
    expect(other.every((v) => v === SENTINEL)).toBe(true);
    expectExact('softmaxFocalLossWithGrad', r, optionsFor('softmaxFocalLossWithGrad'));
    expect(reads()).toBe(1);
  });
});

/** A number[] whose element reads are counted; element i answers `first[i]` on its first read and `later(i)` afterwards. */
function countingArray(first: number[], later: (i: number) => unknown) {
  const reads = new Map<number, number>();
  const proxy = new Proxy(first.slice(), {
    get(t, k, r) {
      if (typeof k === 'string' && /^\d+$/.test(k)) {
        const i = Number(k);
        const n = (reads.get(i) ?? 0) + 1;
        reads.set(i, n);
        return n === 1 ? first[i] : later(i);
      }
      return Reflect.get(t, k, r);
    },
  });
  return { proxy, reads };
}

/** A plain number[] whose elements are getters: `first[i]` on the first read, `later(i)` afterwards. */
function getterArray(first: number[], later: (i: number) => unknown) {
  const reads = new Array(first.length).fill(0);
  const a: number[] = [];
  first.forEach((v, i) => {
    Object.defineProperty(a, i, { get: () => (++reads[i] === 1 ? v : later(i)), enumerable: true, configurable: true });
  });
  return { array: a, reads };
}

describe('array elements are read at most once', () => {
  const outcome = (call: () => unknown): { result?: unknown; error?: unknown } => {
    try {
      return { result: call() };
    } catch (error) {
      return { error };
    }
  };

  for (const fn of FNS) {
    const softmax = fn.startsWith('softmax');
    const plainWeights = softmax ? [1, 2] : [1, 2, 0.5, 1, 3, 0.25];

    test(`${fn}: weights with getter elements (valid once, -5 afterwards)`, () => {
      const { array, reads } = getterArray(plainWeights, () => -5);
      const base = optionsFor(fn);
      const r = outcome(() => api[fn](softmax ? L : SL, softmax ? T : ST, { ...base, weights: array }));
      expect(r.error, `threw ${(r.error as Error)?.message}`).toBeUndefined();
      expectExact(fn, r.result, { ...base, weights: plainWeights });
      expect(
        reads.filter((n) => n > 1),
        'elements read more than once',
      ).toEqual([]);
    });

    test(`${fn}: weights as a Proxy number[] counting element reads: exact results (or a TypeError), each element read at most once`, () => {
      const { proxy, reads } = countingArray(plainWeights, () => NaN);
      const base = optionsFor(fn, fn.endsWith('WithGrad') ? { out: new Float64Array(6).fill(SENTINEL) } : {});
      const r = outcome(() => api[fn](softmax ? L : SL, softmax ? T : ST, { ...base, weights: proxy }));
      if (r.error !== undefined) {
        expectPackageErrorValue(r.error, ['options.weights'], TypeError);
        if (base.out)
          expect(
            (base.out as Float64Array).every((v) => v === SENTINEL),
            'out written before the throw',
          ).toBe(true);
      } else {
        expectExact(fn, r.result, { ...base, weights: plainWeights });
        expect([...reads].filter(([, n]) => n > 1).map(([i, n]) => `weights[${i}] read ${n} times`)).toEqual([]);
      }
    });

    if (softmax) {
      test(`${fn}: alpha as a Proxy number[] counting element reads`, () => {
        const plainAlpha = [0.5, 1, 2];
        const { proxy, reads } = countingArray(plainAlpha, () => -1);
        const base = optionsFor(fn);
        const r = outcome(() => api[fn](L, T, { ...base, alpha: proxy }));
        if (r.error !== undefined) {
          expectPackageErrorValue(r.error, ['options.alpha'], TypeError);
        } else {
          expectExact(fn, r.result, { ...base, alpha: plainAlpha });
          expect([...reads].filter(([, n]) => n > 1).map(([i, n]) => `alpha[${i}] read ${n} times`)).toEqual([]);
        }
      });
    }

    test(`${fn}: targets as a Proxy number[] (valid once, out of range afterwards): exact results or a TypeError, never a kernel error`, () => {
      const plainTargets = softmax ? T : ST;
      const { proxy } = countingArray(plainTargets, () => (softmax ? 7 : 3));
      const out = new Float64Array(6).fill(SENTINEL);
      const base = optionsFor(fn, fn.endsWith('WithGrad') ? { out } : {});
      const r = outcome(() => api[fn](softmax ? L : SL, proxy, base));
      if (r.error !== undefined) {
        expectPackageErrorValue(r.error, ['targets'], TypeError);
        expect(
          out.every((v) => v === SENTINEL),
          'out partly written',
        ).toBe(true);
      } else {
        expectExact(fn, r.result, base);
      }
    });

    test(`${fn}: targets with getter elements (valid once, out of range afterwards): exact results or a TypeError`, () => {
      const plainTargets = softmax ? T : ST;
      const { array } = getterArray(plainTargets, () => (softmax ? 7 : 3));
      const out = new Float64Array(6).fill(SENTINEL);
      const base = optionsFor(fn, fn.endsWith('WithGrad') ? { out } : {});
      const r = outcome(() => api[fn](softmax ? L : SL, array, base));
      if (r.error !== undefined) {
        expectPackageErrorValue(r.error, ['targets'], TypeError);
        expect(
          out.every((v) => v === SENTINEL),
          'out partly written',
        ).toBe(true);
      } else {
        expectExact(fn, r.result, base);
      }
    });
  }

  test('a large softmax batch (several chunks) with Proxy targets: exact or a TypeError, out never partly written', () => {
    const M = 30_000;
    const C = 4;
    const logits = Float32Array.from({ length: M * C }, (_, i) => Math.sin(i * 0.37) * 3);
    const targets = Array.from({ length: M }, (_, i) => (i * 7) % C);
    const { proxy } = countingArray(targets, () => 99);
    const out = new Float32Array(M * C).fill(SENTINEL);
    const r = outcome(() => FL.softmaxFocalLossWithGrad(logits, proxy, { classes: C, out }));
    if (r.error !== undefined) {
      expectPackageErrorValue(r.error, ['targets'], TypeError);
      expect(
        out.findIndex((v) => v !== SENTINEL),
        'out partly written',
      ).toBe(-1);
    } else {
      const plain = FL.softmaxFocalLossWithGrad(logits, Int32Array.from(targets), { classes: C });
      expect((r.result as any).loss).toBe(plain.loss);
      expect(out).toEqual(plain.grad);
    }
  });
});
