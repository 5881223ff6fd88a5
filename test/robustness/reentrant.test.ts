// Calls made from inside a call, and arrays seen again. The public functions validate into plans
// taken from a pool and reuse the views of small arrays seen in the same argument position on the
// last call (ts/options.ts, ts/arrays.ts): a getter of the caller's that calls the package again
// must get a plan of its own, and a reused view must never stand for another array, a detached one
// or another element type. Every result is compared with the float64 reference (test/reference.ts).
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import { compareResult, detach, expectPackageError, refSigmoidCall, refSoftmaxCall, SENTINEL } from './helpers';

// Outer problem: 2 rows × 3 classes; inner problem: 3 rows × 2 classes, other options.
const L = Float64Array.from([1, 2, 3, 4, 5, 6]);
const T = [0, 2];
const IL = Float64Array.from([0.5, -1, 2, 0.25, -0.75, 1.5]);
const IT = [1, 0, 1];
const innerOptions = { classes: 2, gamma: 1, alpha: [2, 0.5], reduction: 'sum' as const, labelSmoothing: 0.2 };
const SL = Float64Array.from([1.5, -0.5, 2, -3]);
const ST = [1, 0, 0, 1];

/** Runs the inner softmax call (from a getter) and checks it against the reference. */
function innerCall(problems: string[]): void {
  const out = new Float64Array(6).fill(SENTINEL);
  const r = FL.softmaxFocalLossWithGrad(IL, IT, { ...innerOptions, out });
  problems.push(
    ...compareResult(r, refSoftmaxCall(IL, IT, innerOptions, false), Float64Array, true).map((p) => `inner: ${p}`),
  );
  if (r.grad !== out) problems.push('inner: grad is not its out');
}

describe('a getter that calls the package again', () => {
  test('an option getter (softmax outer): both calls give their own results', () => {
    const problems: string[] = [];
    let inner = 0;
    const options = { classes: 3, reduction: 'sum' as const, out: new Float64Array(6).fill(SENTINEL) };
    Object.defineProperty(options, 'gamma', { enumerable: true, get: () => (inner++, innerCall(problems), 1.5) });
    const r = FL.softmaxFocalLossWithGrad(L, T, options as never);
    expect(inner).toBe(1);
    expect(problems).toEqual([]);
    expect(
      compareResult(r, refSoftmaxCall(L, T, { classes: 3, gamma: 1.5, reduction: 'sum' }, false), Float64Array, true),
    ).toEqual([]);
    expect(r.grad).toBe(options.out);
  });

  test('a number[] element getter (weights, read after the options): both calls give their own results', () => {
    const problems: string[] = [];
    const weights: number[] = [2, 0];
    Object.defineProperty(weights, 1, { enumerable: true, get: () => (innerCall(problems), 0.5) });
    const options = { classes: 3, gamma: 2, alpha: [1, 0.5, 2], weights, reduction: 'mean' as const };
    const r = FL.softmaxFocalLossWithGrad(L, T, options);
    expect(problems).toEqual([]);
    const ref = refSoftmaxCall(
      L,
      T,
      { classes: 3, gamma: 2, alpha: [1, 0.5, 2], weights: [2, 0.5], reduction: 'mean' },
      false,
    );
    expect(compareResult(r, ref, Float64Array, true)).toEqual([]);
  });

  test('a target element getter of a sigmoid call runs a softmax call and a sigmoid call', () => {
    const problems: string[] = [];
    const targets: number[] = [1, 0, 0, 1];
    Object.defineProperty(targets, 2, {
      enumerable: true,
      get: () => {
        innerCall(problems);
        const r = FL.sigmoidFocalLoss(SL, ST, { gamma: 0, alpha: null, reduction: 'sum' });
        problems.push(
          ...compareResult(
            { loss: r },
            refSigmoidCall(SL, ST, { gamma: 0, alpha: null, reduction: 'sum' }),
            Float64Array,
            false,
          ),
        );
        return 0;
      },
    });
    const options = { gamma: 1.5, alpha: 0.3, labelSmoothing: 0.1, out: new Float64Array(4) };
    const r = FL.sigmoidFocalLossWithGrad(SL, targets, options);
    expect(problems).toEqual([]);
    expect(
      compareResult(
        r,
        refSigmoidCall(SL, [1, 0, 0, 1], { gamma: 1.5, alpha: 0.3, labelSmoothing: 0.1 }),
        Float64Array,
        true,
      ),
    ).toEqual([]);
  });

  test('an inner call that throws leaves the outer call intact', () => {
    const options = { classes: 3, gamma: 2 };
    let threw = 0;
    Object.defineProperty(options, 'reduction', {
      enumerable: true,
      get: () => {
        try {
          FL.softmaxFocalLoss(L, [0, 7], { classes: 3 });
        } catch {
          threw++;
        }
        return 'sum';
      },
    });
    const r = FL.softmaxFocalLoss(L, T, options as never);
    expect(threw).toBe(1);
    expect(
      compareResult(
        { loss: r },
        refSoftmaxCall(L, T, { classes: 3, gamma: 2, reduction: 'sum' }, false),
        Float64Array,
        false,
      ),
    ).toEqual([]);
  });
});

describe('the same small arrays again', () => {
  test('new contents of the same arrays are read (a reused view is a view, not a copy)', () => {
    const logits = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const targets = Int32Array.from([0, 2]);
    const out = new Float32Array(6);
    const cases = [
      [0.5, -1, 2, 3, 0, -2],
      [4, 4, 4, -4, -4, -4],
      [0, 0, 1, 1, 2, 2],
    ];
    for (const values of cases) {
      logits.set(values);
      targets[0] = (targets[0] + 1) % 3;
      const r = FL.softmaxFocalLossWithGrad(logits, targets, { classes: 3, out });
      expect(r.grad).toBe(out);
      expect(
        compareResult(
          r,
          refSoftmaxCall(Array.from(logits), Array.from(targets), { classes: 3 }, false),
          Float32Array,
          true,
        ),
      ).toEqual([]);
    }
    expect(cases.length).toBe(3);
  });

  test('another element type over the same bytes is read as that type', () => {
    const bytes = new ArrayBuffer(8);
    const signed = new Int32Array(bytes);
    signed.set([1, 0]);
    const logits = Float64Array.from([1, 2, 3, 4]);
    const a = FL.softmaxFocalLoss(logits, signed, { classes: 2, reduction: 'sum' });
    expect(
      compareResult(
        { loss: a },
        refSoftmaxCall(logits, [1, 0], { classes: 2, reduction: 'sum' }, false),
        Float64Array,
        false,
      ),
    ).toEqual([]);
    // The same buffer, offset and byte length as float32 targets: probabilities, not indices.
    const probs = new Float32Array(bytes);
    probs.set([0.25, 0.75]);
    const q = [0.25, 0.75];
    const b = FL.softmaxFocalLoss(Float64Array.from([1, 2]), probs, { classes: 2, reduction: 'sum' });
    expect(
      compareResult(
        { loss: b },
        refSoftmaxCall([1, 2], q, { classes: 2, reduction: 'sum' }, true),
        Float64Array,
        false,
      ),
    ).toEqual([]);
  });

  test('an array used by the last call and then detached is a TypeError naming it, and out is untouched', () => {
    const logits = Float64Array.from([1, 2, 3, 4]);
    const out = new Float64Array(4);
    FL.softmaxFocalLossWithGrad(logits, [0, 1], { classes: 2, out });
    const targets = Int32Array.from([1, 1]);
    FL.softmaxFocalLossWithGrad(logits, targets, { classes: 2, out });
    const untouched = new Float64Array(4).fill(SENTINEL);
    detach(targets);
    expectPackageError(
      () => FL.softmaxFocalLossWithGrad(logits, targets, { classes: 2, out: untouched }),
      TypeError,
      'targets',
    );
    expect(untouched.every((v) => v === SENTINEL)).toBe(true);
    detach(out);
    expectPackageError(
      () => FL.softmaxFocalLossWithGrad(logits, [0, 1], { classes: 2, out }),
      TypeError,
      'options.out',
    );
    detach(logits);
    expectPackageError(() => FL.sigmoidFocalLoss(logits, new Float64Array(4)), TypeError, 'logits');
  });
});
