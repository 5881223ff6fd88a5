// The form of a target and the precision an option is checked in (CONTRACT.md § Sigmoid options,
// § Detection and multi-label, § Inputs that are not valid):
// - with one class (`classes: 1`, `shape[1] = 1`) integer targets would be class indices where 1 means
//   background, the opposite of the 0/1 labels a PyTorch / Keras user with [M, 1] logits has: they are
//   refused, with a message that says how to pass either form;
// - `normalizer` is a positive finite number;
// - typed arrays the package does not take (BigInt64Array, BigUint64Array, Float16Array where it exists)
//   are named in the refusal;
// - with Float32Array logits, sigmoid targets and `alpha` are checked as float32 (what the kernel
//   computes with), the same whatever array carries them.
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import { refReduce, refSigmoid } from '../reference';
import { expectClose, expectPackageError } from './helpers';

const api = FL as unknown as Record<string, (...args: unknown[]) => any>;
const ELEMENT = ['sigmoidFocalLoss', 'qualityFocalLoss', 'varifocalLoss', 'asymmetricLoss'];

describe('one class: integer targets are refused, not read as class indices', () => {
  const x = Float32Array.from([3, -1]);
  test('classes: 1 / shape [N, 1, …] with a Uint8Array, Int32Array or number[] of 0/1: TypeError naming targets', () => {
    let n = 0;
    for (const fn of ELEMENT) {
      for (const variant of ['', 'WithGrad', 'Partial']) {
        for (const targets of [new Uint8Array([1, 0]), new Int32Array([1, 0]), [1, 0]]) {
          for (const layout of [{ classes: 1 }, { shape: [2, 1] }, { shape: [1, 1, 2] }]) {
            const e = expectPackageError(() => api[fn + variant](x, targets, layout), TypeError, 'targets');
            expect(e.message).toMatch(/one class/);
            expect(e.message).toMatch(/targetForm: 'dense'/);
            expect(e.message).toMatch(/targetForm: 'indices'/);
            n++;
          }
        }
      }
    }
    expect(n).toBe(4 * 3 * 3 * 3);
  });

  test('what the message suggests works: dense 0/1 targets (1 = positive) with or without classes: 1', () => {
    // torchvision's sigmoid_focal_loss on [[3], [-1]] with labels [[1], [0]] (α 0.25, γ 2), from the reference.
    const want = refReduce(refSigmoid([3, -1], [1, 0], {}), 'mean').loss as number;
    expectClose(FL.sigmoidFocalLoss(x, new Float32Array([1, 0]), { classes: 1 }) as number, want, 3e-5, 0);
    expectClose(FL.sigmoidFocalLoss(x, new Uint8Array([1, 0])) as number, want, 3e-5, 0);
    expectClose(FL.sigmoidFocalLoss(x, [1, 0]) as number, want, 3e-5, 0);
    // Two classes or more: class indices as before (t = C background).
    expect(FL.sigmoidFocalLoss(Float32Array.from([3, -1, 0, 2]), [0, 2], { classes: 2 })).toBeCloseTo(
      refReduce(refSigmoid([3, -1, 0, 2], [1, 0, 0, 0], {}), 'mean').loss as number,
      6,
    );
  });

  test("targetForm says which: 'dense' reads 0/1 integers as labels, 'indices' as class indices (1 = background)", () => {
    const dense = FL.sigmoidFocalLossWithGrad(x, new Float32Array([1, 0]), { reduction: 'none' });
    const flipped = FL.sigmoidFocalLossWithGrad(x, new Float32Array([0, 1]), { reduction: 'none' });
    for (const fn of ['sigmoidFocalLossWithGrad']) {
      for (const targets of [new Uint8Array([1, 0]), new Int32Array([1, 0]), [1, 0]]) {
        const d = api[fn](x, targets, { classes: 1, targetForm: 'dense', reduction: 'none' });
        expect(Array.from(d.loss)).toEqual(Array.from(dense.loss));
        expect(Array.from(d.grad)).toEqual(Array.from(dense.grad));
        // As class indices, t = 1 is background (label 0) and t = 0 the class (label 1): the labels 1 − t.
        const i = api[fn](x, targets, { classes: 1, targetForm: 'indices', reduction: 'none' });
        expect(Array.from(i.loss)).toEqual(Array.from(flipped.loss));
        expect(Array.from(i.grad)).toEqual(Array.from(flipped.grad));
      }
    }
    // 'indices' keeps ignoreIndex: an ignored item adds 0 and is not counted by 'mean'.
    const ignored = FL.sigmoidFocalLoss(x, [0, -100], { classes: 1, targetForm: 'indices' });
    expectClose(ignored as number, refReduce(refSigmoid([3], [1], {}), 'sum').loss as number, 3e-5, 0);
    // 'dense' also lets multi-hot integer targets [M, C] through with classes C.
    const multi = FL.sigmoidFocalLoss(Float32Array.from([3, -1, 0, 2]), new Uint8Array([1, 0, 0, 1]), {
      classes: 2,
      targetForm: 'dense',
    });
    expect(multi).toBe(FL.sigmoidFocalLoss(Float32Array.from([3, -1, 0, 2]), new Float32Array([1, 0, 0, 1])));
    // Wrong uses.
    expectPackageError(
      () => FL.sigmoidFocalLoss(x, [1, 0], { targetForm: 'indices' }),
      TypeError,
      'options.targetForm',
    );
    expectPackageError(
      () => FL.sigmoidFocalLoss(x, new Float32Array([1, 0]), { classes: 1, targetForm: 'indices' }),
      TypeError,
      'targets',
    );
    expectPackageError(
      () => FL.sigmoidFocalLoss(x, [1, 0], { targetForm: 'index' as never }),
      RangeError,
      'options.targetForm',
    );
    expectPackageError(
      () => FL.sigmoidFocalLoss(x, [1, 0], { targetForm: 1 as never }),
      TypeError,
      'options.targetForm',
    );
    expectPackageError(
      () => FL.softmaxFocalLoss(x, [0], { classes: 2, targetForm: 'dense' } as never),
      TypeError,
      'targetForm',
    );
  });

  test('classes > 1 with an integer array of one entry per logit: the message says dense targets go in a float array', () => {
    const e = expectPackageError(
      () => FL.sigmoidFocalLoss(Float32Array.from([3, -1, 0, 2]), new Uint8Array([1, 0, 0, 1]), { classes: 2 }),
      RangeError,
      'targets.length',
    );
    expect(e.message).toMatch(/Float32Array/);
  });
});

describe('normalizer is a positive finite number', () => {
  test('Infinity (and NaN, 0, −1) is a RangeError naming options.normalizer, for every loss', () => {
    let n = 0;
    for (const fn of ['softmaxFocalLoss', ...ELEMENT]) {
      for (const variant of ['', 'WithGrad']) {
        for (const normalizer of [Infinity, -Infinity, NaN, 0, -1]) {
          const o = fn.startsWith('softmax') ? { classes: 2, normalizer } : { normalizer };
          expectPackageError(
            () => api[fn + variant](Float64Array.from([1, 2]), fn.startsWith('softmax') ? [0] : [1, 0], o),
            RangeError,
            'options.normalizer',
          );
          n++;
        }
      }
    }
    expect(n).toBe(5 * 2 * 5);
    // A large finite normalizer is fine.
    expect(FL.sigmoidFocalLoss(Float64Array.from([1, 2]), [1, 0], { normalizer: 1e300 })).toBeGreaterThan(0);
  });
});

describe('typed arrays the package does not take are named', () => {
  const kinds: [string, () => unknown][] = [
    ['BigInt64Array', () => new BigInt64Array(2)],
    ['BigUint64Array', () => new BigUint64Array(2)],
  ];
  const F16 = (globalThis as Record<string, unknown>).Float16Array as (new (n: number) => unknown) | undefined;
  if (F16) kinds.push(['Float16Array', () => new F16(2)]);
  for (const [name, make] of kinds) {
    test(`${name} as logits, targets, weights, out: refused, the message says (got ${name})`, () => {
      const x = Float32Array.from([1, -1]);
      const calls: [string, () => unknown][] = [
        ['logits', () => FL.sigmoidFocalLoss(make() as never, [1, 0])],
        ['logits', () => FL.softmaxFocalLoss(make() as never, [0], { classes: 2 })],
        ['targets', () => FL.sigmoidFocalLoss(x, make() as never)],
        ['targets', () => FL.softmaxFocalLoss(x, make() as never, { classes: 2 })],
        ['options.weights', () => FL.sigmoidFocalLoss(x, [1, 0], { weights: make() as never })],
        ['options.out', () => FL.sigmoidFocalLossWithGrad(x, [1, 0], { out: make() as never })],
        ['counts', () => FL.classBalancedAlpha(make() as never)],
      ];
      for (const [arg, call] of calls) {
        const e = expectPackageError(call, TypeError, arg);
        expect(e.message, arg).toContain(`(got ${name})`);
      }
    });
  }
});

describe('float32 logits: targets and alpha are checked as float32', () => {
  const x = Float32Array.from([3, -1]);
  test('a sigmoid target 1 + 1e-12 (1 in float32) is accepted as number[], Float64Array, and gives the target 1', () => {
    const want = FL.sigmoidFocalLoss(x, new Float32Array([1, 0]));
    for (const fn of ELEMENT) {
      const exact = api[fn](x, new Float32Array([1, 0]));
      expect(api[fn](x, [1 + 1e-12, 0]), fn).toBe(exact);
      expect(api[fn](x, new Float64Array([1 + 1e-12, 0])), fn).toBe(exact);
      expect(api[fn](x, new Float64Array([1, -1e-50])), fn).toBe(exact); // −1e-50 is −0 in float32
    }
    expect(FL.sigmoidFocalLoss(x, [1 + 1e-12, 0])).toBe(want);
    // With Float64Array logits the same target is above 1: refused in both forms.
    for (const targets of [[1 + 1e-12, 0], new Float64Array([1 + 1e-12, 0])]) {
      expectPackageError(() => FL.sigmoidFocalLoss(Float64Array.from(x), targets), RangeError, 'targets[0]');
    }
    // A float32 value above 1 is refused in both forms.
    for (const targets of [[1.0000001, 0], new Float64Array([1.0000001, 0])]) {
      expectPackageError(() => FL.sigmoidFocalLoss(x, targets), RangeError, 'targets[0]');
    }
  });

  test('sigmoid alpha 1 + 1e-12 (1 in float32) is α = 1 with Float32Array logits, refused with Float64Array ones', () => {
    expect(FL.sigmoidFocalLoss(x, [1, 0], { alpha: 1 + 1e-12 })).toBe(FL.sigmoidFocalLoss(x, [1, 0], { alpha: 1 }));
    expect(FL.sigmoidFocalLoss(x, [1, 0], { alpha: -1e-50 })).toBe(FL.sigmoidFocalLoss(x, [1, 0], { alpha: 0 }));
    expectPackageError(
      () => FL.sigmoidFocalLoss(Float64Array.from(x), [1, 0], { alpha: 1 + 1e-12 }),
      RangeError,
      'options.alpha',
    );
    const e = expectPackageError(
      () => FL.sigmoidFocalLoss(x, [1, 0], { alpha: 1.0000001 }),
      RangeError,
      'options.alpha',
    );
    expect(e.message).toMatch(/float32/);
  });
});
