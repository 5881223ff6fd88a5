// Typed-array identity: an array is what it is, not what its own properties say. A Float64Array with
// an own BYTES_PER_ELEMENT, constructor or length is still a Float64Array of its real length; a
// Float32Array from another realm (a vm context) is a Float32Array; a Proxy of a typed array is not
// a typed array (TypeError); a typed array whose buffer was detached is a TypeError naming the
// argument (not an empty array that silently gives 0).
import vm from 'node:vm';
import { describe, expect, test } from 'vitest';
import {
  sigmoidFocalLoss,
  sigmoidFocalLossPartial,
  sigmoidFocalLossWithGrad,
  softmaxFocalLoss,
  softmaxFocalLossPartial,
  softmaxFocalLossWithGrad,
} from 'focal-loss';
import { compareResult, detach, expectPackageError, refSigmoidCall, refSoftmaxCall, SENTINEL } from './helpers';

const C = 3;
const z = [1.5, -0.5, 0.25, 2, 0, -1, 0.5, 0.5, 3, -2, 1, 0];
const t = [0, 2, 1, 2];
const sz = [2, -1, 0.5, -3, 1, 0];
const st = [1, 0, 0, 1, 1, 0];
const f32 = (a: number[]) => Float32Array.from(a);
const f64 = (a: number[]) => Float64Array.from(a);

const softRef = (logits: number[], reduction: 'mean' | 'sum' | 'none' = 'mean') =>
  refSoftmaxCall(logits, t, { classes: C, reduction }, false);
const sigRef = (logits: number[], reduction: 'mean' | 'sum' | 'none' = 'mean') =>
  refSigmoidCall(logits, st, { reduction });

function withOwn<A extends object>(a: A, key: string, value: unknown): A {
  Object.defineProperty(a, key, { value, configurable: true, writable: true });
  return a;
}

describe('a Float64Array with misleading own properties is the Float64Array it is', () => {
  const cases: [key: string, value: unknown][] = [
    ['BYTES_PER_ELEMENT', 4],
    ['constructor', Float32Array],
    ['length', 3],
    ['length', 1e9],
  ];
  for (const [key, value] of cases) {
    const name = `own ${key} = ${typeof value === 'function' ? value.name : value}`;
    const dressed = (a: Float64Array) => withOwn(a, key, value);

    test(`softmax logits with ${name}`, () => {
      for (const reduction of ['mean', 'none'] as const) {
        const r = softmaxFocalLossWithGrad(dressed(f64(z)), t, { classes: C, reduction });
        expect(r.grad).toBeInstanceOf(Float64Array);
        expect(r.grad.length).toBe(z.length);
        expect(compareResult(r, softRef(z, reduction), Float64Array, true)).toEqual([]);
      }
      expect(
        compareResult(
          { loss: softmaxFocalLoss(dressed(f64(z)), t, { classes: C, reduction: 'sum' }) },
          softRef(z, 'sum'),
          Float64Array,
          false,
        ),
      ).toEqual([]);
      const p = softmaxFocalLossPartial(dressed(f64(z)), t, { classes: C });
      expect(p.count).toBe(4);
      expect(p.sum).toBe(softmaxFocalLossPartial(f64(z), t, { classes: C }).sum);
    });

    test(`sigmoid logits with ${name}`, () => {
      const r = sigmoidFocalLossWithGrad(dressed(f64(sz)), st, {});
      expect(r.grad).toBeInstanceOf(Float64Array);
      expect(r.grad.length).toBe(sz.length);
      expect(compareResult(r, sigRef(sz), Float64Array, true)).toEqual([]);
    });

    test(`out (Float64Array logits) with ${name}: taken as the gradient destination`, () => {
      const out = dressed(new Float64Array(z.length).fill(SENTINEL));
      const r = softmaxFocalLossWithGrad(f64(z), t, { classes: C, out });
      expect(r.grad).toBe(out);
      // Its real elements (its own `length` property would mislead the comparison too).
      const real = new Float64Array(out.buffer, out.byteOffset, z.length);
      expect(compareResult({ loss: r.loss, grad: real }, softRef(z), Float64Array, true)).toEqual([]);
    });
  }

  test('a Float64Array dressed as a Float32Array is not a Float32Array out', () => {
    const out = withOwn(new Float64Array(z.length).fill(SENTINEL), 'constructor', Float32Array);
    withOwn(out, 'BYTES_PER_ELEMENT', 4);
    expectPackageError(
      () => softmaxFocalLossWithGrad(f32(z), t, { classes: C, out: out as any }),
      TypeError,
      'options.out',
    );
    expect(out.every((v) => v === SENTINEL)).toBe(true);
  });

  test('a Float64Array weights / probabilities with own length: its real elements are used', () => {
    const weights = withOwn(f64([1, 2, 0.5, 1]), 'length', 2);
    const r = softmaxFocalLossWithGrad(f64(z), t, { classes: C, weights, reduction: 'sum' });
    const ref = refSoftmaxCall(z, t, { classes: C, weights: [1, 2, 0.5, 1], reduction: 'sum' }, false);
    expect(compareResult(r, ref, Float64Array, true)).toEqual([]);
    const probs = t.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)));
    const q = withOwn(f64(probs), 'length', 12_000);
    const rq = softmaxFocalLossWithGrad(f64(z), q, { classes: C });
    expect(compareResult(rq, softRef(z), Float64Array, true)).toEqual([]);
  });

  test('a subclass of Float64Array is a Float64Array', () => {
    class Logits extends Float64Array {}
    const r = softmaxFocalLossWithGrad(Logits.from(z) as Float64Array, t, { classes: C });
    expect(r.grad).toBeInstanceOf(Float64Array);
    expect(compareResult(r, softRef(z), Float64Array, true)).toEqual([]);
  });
});

describe('typed arrays from another realm', () => {
  const other = (src: string) => vm.runInNewContext(src);
  const zs = JSON.stringify(z.map(Math.fround));
  const z32 = z.map(Math.fround);

  test('a Float32Array logits from a vm context: exact results, a Float32Array gradient', () => {
    const logits = other(`new Float32Array(${zs})`);
    expect(logits instanceof Float32Array).toBe(false); // really another realm
    const r = softmaxFocalLossWithGrad(logits, t, { classes: C });
    expect(r.grad.length).toBe(z.length);
    expect(Object.prototype.toString.call(r.grad)).toBe('[object Float32Array]');
    expect(compareResult({ loss: r.loss, grad: Float32Array.from(r.grad) }, softRef(z32), Float32Array, true)).toEqual(
      [],
    );
    const s = sigmoidFocalLoss(other(`new Float32Array(${JSON.stringify(sz)})`), st, { reduction: 'sum' });
    expect(compareResult({ loss: s }, sigRef(sz, 'sum'), Float32Array, false)).toEqual([]);
  });

  test('a Float64Array logits from a vm context: exact results', () => {
    const r = softmaxFocalLossWithGrad(other(`new Float64Array(${JSON.stringify(z)})`), t, {
      classes: C,
      reduction: 'none',
    });
    expect(
      compareResult(
        { loss: Float64Array.from(r.loss as Float64Array), grad: Float64Array.from(r.grad) },
        softRef(z, 'none'),
        Float64Array,
        true,
      ),
    ).toEqual([]);
  });

  test('targets, weights and out from a vm context', () => {
    const idx = other(`new Int32Array(${JSON.stringify(t)})`);
    const out = other(`new Float32Array(${z.length})`);
    const weights = other('new Float32Array([1, 2, 0.5, 1])');
    const r = softmaxFocalLossWithGrad(f32(z), idx, { classes: C, weights, out, reduction: 'sum' });
    expect(r.grad).toBe(out);
    const ref = refSoftmaxCall(z32, t, { classes: C, weights: [1, 2, 0.5, 1], reduction: 'sum' }, false);
    expect(compareResult({ loss: r.loss, grad: Float32Array.from(out) }, ref, Float32Array, true)).toEqual([]);
    const y = other(`new Float32Array(${JSON.stringify(st)})`);
    const s = sigmoidFocalLossWithGrad(f64(sz), y, { reduction: 'sum' });
    expect(compareResult(s, sigRef(sz, 'sum'), Float64Array, true)).toEqual([]);
  });
});

describe('a Proxy of a typed array is not a typed array: TypeError naming the argument', () => {
  const proxy = <A extends object>(a: A) => new Proxy(a, {});
  test('logits', () => {
    expectPackageError(() => softmaxFocalLossWithGrad(proxy(f32(z)), t, { classes: C }), TypeError, 'logits');
    expectPackageError(() => softmaxFocalLoss(proxy(f64(z)), t, { classes: C }), TypeError, 'logits');
    expectPackageError(() => sigmoidFocalLoss(proxy(f32(sz)), st), TypeError, 'logits');
    expectPackageError(() => sigmoidFocalLossPartial(proxy(f64(sz)), st), TypeError, 'logits');
  });
  test('targets, weights, out', () => {
    expectPackageError(() => softmaxFocalLoss(f32(z), proxy(Int32Array.from(t)), { classes: C }), TypeError, 'targets');
    expectPackageError(() => sigmoidFocalLoss(f32(sz), proxy(f32(st))), TypeError, 'targets');
    expectPackageError(
      () => softmaxFocalLoss(f32(z), t, { classes: C, weights: proxy(f32([1, 1, 1, 1])) }),
      TypeError,
      'options.weights',
    );
    const out = new Float32Array(z.length).fill(SENTINEL);
    expectPackageError(
      () => softmaxFocalLossWithGrad(f32(z), t, { classes: C, out: proxy(out) }),
      TypeError,
      'options.out',
    );
    expect(out.every((v) => v === SENTINEL)).toBe(true);
  });
});

describe('a detached typed array is a TypeError naming the argument, never a silent empty array', () => {
  test('logits (softmax, sigmoid; also where an empty batch would be valid)', () => {
    expectPackageError(() => softmaxFocalLossWithGrad(detach(f32(z)), t, { classes: C }), TypeError, 'logits');
    expectPackageError(() => softmaxFocalLoss(detach(f64(z)), [], { classes: C }), TypeError, 'logits');
    expectPackageError(() => softmaxFocalLossPartial(detach(f64(z)), [], { classes: C }), TypeError, 'logits');
    expectPackageError(() => sigmoidFocalLoss(detach(f32(sz)), st), TypeError, 'logits');
    expectPackageError(() => sigmoidFocalLossWithGrad(detach(f64(sz)), []), TypeError, 'logits');
  });

  test('targets: class indices, probabilities, sigmoid targets', () => {
    expectPackageError(
      () => softmaxFocalLoss(f32(z), detach(Int32Array.from(t)), { classes: C }),
      TypeError,
      'targets',
    );
    expectPackageError(
      () => softmaxFocalLoss(new Float32Array(0), detach(Int32Array.from(t)), { classes: C }),
      TypeError,
      'targets',
    );
    expectPackageError(
      () => softmaxFocalLoss(f32(z), detach(new Float32Array(z.length)), { classes: C }),
      TypeError,
      'targets',
    );
    expectPackageError(() => sigmoidFocalLoss(f32(sz), detach(f32(st))), TypeError, 'targets');
    expectPackageError(() => sigmoidFocalLoss(new Float64Array(0), detach(f32(st))), TypeError, 'targets');
    expectPackageError(() => sigmoidFocalLossPartial(f64(sz), detach(Uint8Array.from(st))), TypeError, 'targets');
  });

  test('weights', () => {
    expectPackageError(
      () => softmaxFocalLoss(f32(z), t, { classes: C, weights: detach(new Float32Array(4).fill(1)) }),
      TypeError,
      'options.weights',
    );
    expectPackageError(
      () => softmaxFocalLoss(new Float32Array(0), [], { classes: C, weights: detach(new Float32Array(4)) }),
      TypeError,
      'options.weights',
    );
    expectPackageError(
      () => sigmoidFocalLoss(f64(sz), st, { weights: detach(new Float64Array(6).fill(1)) }),
      TypeError,
      'options.weights',
    );
  });

  test('out: TypeError, and the next valid call is exact', () => {
    expectPackageError(
      () => softmaxFocalLossWithGrad(f32(z), t, { classes: C, out: detach(new Float32Array(z.length)) }),
      TypeError,
      'options.out',
    );
    expectPackageError(
      () => softmaxFocalLossWithGrad(new Float32Array(0), [], { classes: C, out: detach(new Float32Array(3)) }),
      TypeError,
      'options.out',
    );
    expectPackageError(
      () => sigmoidFocalLossWithGrad(f64(sz), st, { out: detach(new Float64Array(6)) }),
      TypeError,
      'options.out',
    );
    const r = softmaxFocalLossWithGrad(f64(z), t, { classes: C });
    expect(compareResult(r, softRef(z), Float64Array, true)).toEqual([]);
  });
});
