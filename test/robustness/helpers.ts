// Shared pieces of the robustness suites: the package-error contract (TypeError / RangeError, a
// 'focal-loss: ' message naming the argument, never a kernel status), sentinel-filled `out` arrays,
// and comparisons against the float64 reference (test/reference.ts) at the existing suites'
// tolerances (Float64Array 1e-12 relative, Float32Array 3e-5 relative, scaled by the gradient's terms).
import { expect } from 'vitest';
import { refReduce, refSigmoid, refSoftmax, type RefSigmoidOptions, type RefSoftmaxOptions } from '../reference';
// @ts-expect-error: plain JS module with JSDoc types (the demo's mulberry32)
import { rng as demoRng } from '../../examples/train/train.js';
export { fsum } from '../helpers/fsum';

export type F = Float32Array | Float64Array;
export type FloatCtor = typeof Float32Array | typeof Float64Array;
export type Reduction = 'mean' | 'sum' | 'none';

/** mulberry32, uniform in [0, 1); deterministic from the seed. */
export const rng: (seed: number) => () => number = demoRng;

export const SENTINEL = -1234.5;
export const F64_TINY = 2.2250738585072014e-308;
export const F32_TINY = 1.1754943508222875e-38;
/** The tolerances of the existing suites. */
export const RTOL = { f64: 1e-12, f32: 3e-5 } as const;

export const rtolOf = (a: F) => (a instanceof Float32Array ? RTOL.f32 : RTOL.f64);
export const tinyOf = (a: F) => (a instanceof Float32Array ? F32_TINY : F64_TINY);

/** A Float32/Float64 array of `length` filled with the sentinel. */
export function sentinel<C extends FloatCtor>(Ctor: C, length: number): InstanceType<C> {
  return new Ctor(length).fill(SENTINEL) as InstanceType<C>;
}

/** Index of the first element that is not the sentinel, or -1. */
export function firstTouched(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], SENTINEL)) return i;
  return -1;
}

/** Detaches `a`'s buffer (transfers it away): the view then has length 0. */
export function detach<A extends ArrayBufferView>(a: A): A {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  return a;
}

/**
 * What is wrong with `e` as a package error (null if nothing): a TypeError or RangeError (exactly one
 * of the two classes), whose message starts with 'focal-loss: ', names one of `names` (substrings or
 * patterns; none: any), and is not a leaked kernel status.
 */
export function packageErrorProblem(
  e: unknown,
  names?: readonly (string | RegExp)[],
  kind?: typeof TypeError | typeof RangeError,
): string | null {
  if (!(e instanceof Error)) return `threw a non-Error ${safeString(e)}`;
  const ctor = e.constructor;
  if (ctor !== TypeError && ctor !== RangeError) return `threw ${ctor?.name}: ${e.message}`;
  if (kind && ctor !== kind) return `threw ${ctor.name} instead of ${kind.name}: ${e.message}`;
  if (typeof e.message !== 'string' || !e.message.startsWith('focal-loss: '))
    return `not a package message: ${ctor.name}: ${e.message}`;
  if (e.message.includes('kernel status')) return `a kernel status leaked: ${e.message}`;
  if (
    names &&
    names.length > 0 &&
    !names.some((n) => (typeof n === 'string' ? e.message.includes(n) : n.test(e.message)))
  ) {
    return `message does not name ${names.map(String).join(' | ')}: ${ctor.name}: ${e.message}`;
  }
  return null;
}

/** String() that never throws (symbols, null-prototype objects, revoked proxies). */
export function safeString(v: unknown): string {
  try {
    return typeof v === 'symbol' ? v.toString() : String(v);
  } catch {
    try {
      return Object.prototype.toString.call(v);
    } catch {
      return '<unprintable>';
    }
  }
}

/** Asserts `e` is a package error (see packageErrorProblem), printing the whole problem when it is not. */
export function expectPackageErrorValue(
  e: unknown,
  names?: readonly (string | RegExp)[],
  kind?: typeof TypeError | typeof RangeError,
): void {
  const p = packageErrorProblem(e, names, kind);
  expect(p, p ?? '').toBeNull();
}

/** Runs `call`, expecting a package error of class `kind` naming `name` (a substring or a pattern). */
export function expectPackageError(
  call: () => unknown,
  kind: typeof TypeError | typeof RangeError,
  name: string | RegExp,
): Error {
  let thrown: unknown;
  let returned = false;
  try {
    call();
    returned = true;
  } catch (e) {
    thrown = e;
  }
  expect(returned, `expected a ${kind.name} naming ${String(name)}, but the call returned`).toBe(false);
  expectPackageErrorValue(thrown, [name], kind);
  return thrown as Error;
}

/** Every entry outside rtol·max(|exp|, scale) + tiny (scale defaults to |exp|). */
export function mismatches(
  got: ArrayLike<number> | number,
  exp: ArrayLike<number> | number,
  rtol: number,
  tiny: number,
  scale?: ArrayLike<number>,
): string[] {
  const g = typeof got === 'number' ? [got] : got;
  const e = typeof exp === 'number' ? [exp] : exp;
  if (typeof got !== typeof exp) return [`got ${typeof got}, expected ${typeof exp}`];
  if (g.length !== e.length) return [`length ${g.length} vs ${e.length}`];
  const bad: string[] = [];
  for (let i = 0; i < e.length; i++) {
    if (Number.isNaN(e[i]) && Number.isNaN(g[i])) continue;
    if (e[i] === g[i]) continue;
    const tol = rtol * Math.max(Math.abs(e[i]), scale ? scale[i] : 0) + tiny;
    if (!(Math.abs(g[i] - e[i]) <= tol)) bad.push(`[${i}] got ${g[i]} expected ${e[i]} (tol ${tol.toExponential(2)})`);
    if (bad.length >= 10) break;
  }
  return bad;
}

export function expectClose(
  got: ArrayLike<number> | number,
  exp: ArrayLike<number> | number,
  rtol: number,
  tiny: number,
  scale?: ArrayLike<number>,
  what = '',
) {
  const bad = mismatches(got, exp, rtol, tiny, scale);
  expect(bad, `${what}\n${bad.join('\n')}`).toEqual([]);
}

/** A package result ({ loss, grad } or a bare loss) against the reference; returns the problems (empty: exact). */
export function compareResult(
  got: { loss: unknown; grad?: unknown },
  ref: { loss: number | Float64Array; grad: Float64Array; gradScale: Float64Array },
  Ctor: FloatCtor,
  withGrad: boolean,
): string[] {
  const rtol = Ctor === Float32Array ? RTOL.f32 : RTOL.f64;
  const tiny = Ctor === Float32Array ? F32_TINY : F64_TINY;
  const bad: string[] = [];
  if (typeof ref.loss === 'number') {
    if (typeof got.loss !== 'number') bad.push(`loss is ${typeof got.loss}, expected a number`);
    else bad.push(...mismatches(got.loss, ref.loss, rtol, tiny).map((m) => `loss ${m}`));
  } else {
    if (!(got.loss instanceof Ctor)) bad.push(`loss is not a ${Ctor.name} (${safeString(got.loss)})`);
    else bad.push(...mismatches(got.loss, ref.loss, rtol, tiny).map((m) => `loss${m}`));
  }
  if (withGrad) {
    if (!(got.grad instanceof Ctor)) bad.push(`grad is not a ${Ctor.name}`);
    else bad.push(...mismatches(got.grad, ref.grad, rtol, tiny, ref.gradScale).map((m) => `grad${m}`));
  }
  return bad;
}

/** Reference for a softmax call (values as numbers: pass the float32-rounded inputs for Float32Array logits). */
export function refSoftmaxCall(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  o: RefSoftmaxOptions & { reduction?: Reduction },
  probs: boolean,
) {
  const { reduction = 'mean', ...rest } = o;
  return refReduce(refSoftmax(logits, targets, rest, probs), reduction);
}

export function refSigmoidCall(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  o: RefSigmoidOptions & { reduction?: Reduction } = {},
) {
  const { reduction = 'mean', ...rest } = o;
  return refReduce(refSigmoid(logits, targets, rest), reduction);
}

/** Same bits (NaN equals NaN, -0 differs from 0). */
export function sameBits(got: ArrayLike<number>, want: ArrayLike<number>): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return `[${i}] ${got[i]} !== ${want[i]}`;
  return null;
}

/** Deterministic moderate values in [-amp, amp), float32-exact (so a problem runs identically in both dtypes). */
export function values(n: number, seed: number, amp = 4): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround((r() * 2 - 1) * amp));
}
