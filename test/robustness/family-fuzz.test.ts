// Garbage through the focal family's functions (class-index sigmoid targets, posWeight, polyEpsilon, normalizer,
// quality / varifocal / asymmetric, their partials, classBalancedAlpha): each call starts from a valid problem and
// replaces one to three slots with garbage. Whatever comes back must be a package error (a TypeError or RangeError
// whose message starts with 'focal-loss: ' and is no kernel status) with `out` untouched, or numbers / arrays of
// the logits' type and length; wasmMemoryBytes() never changes; a fixed valid call keeps its bits throughout.
import { expect, test } from 'vitest';
import * as FL from 'focal-loss';
import { rng } from './helpers';

const api = FL as unknown as Record<string, (...args: unknown[]) => any>;
type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const GARBAGE: (() => unknown)[] = [
  () => NaN,
  () => Infinity,
  () => -Infinity,
  () => -0,
  () => -1,
  () => 1e39,
  () => 2 ** 53,
  () => 0.5,
  () => 1,
  () => 3,
  () => 4,
  () => 'abc',
  () => '2',
  () => Symbol('g'),
  () => true,
  () => 10n,
  () => null,
  () => undefined,
  () => ({}),
  () => Object.create(null),
  () => [1, , 2],
  () => [NaN],
  () => [-1, 2, 3],
  () => new Float32Array(3),
  () => new Float64Array(12),
  () => new Int32Array([0, 5, 1, 2]),
  () => new Uint8ClampedArray(4),
  () => new DataView(new ArrayBuffer(8)),
  () => new BigInt64Array(2),
  () => {
    const a = new Float64Array(12);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    return a;
  },
  () => new Proxy(new Float64Array(12), {}),
  () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  () => ({
    [Symbol.toPrimitive]() {
      throw new Error('user toPrimitive');
    },
  }),
  () =>
    Object.defineProperty({}, 'gamma', {
      get() {
        throw new Error('user getter');
      },
    }),
];
const garbage = (r: Rand) => pick(r, GARBAGE)();

const FAMILY = ['sigmoidFocalLoss', 'qualityFocalLoss', 'varifocalLoss', 'asymmetricLoss'] as const;
const OWN: Record<(typeof FAMILY)[number], string[]> = {
  sigmoidFocalLoss: ['gamma', 'alpha', 'labelSmoothing', 'posWeight', 'polyEpsilon'],
  qualityFocalLoss: ['beta'],
  varifocalLoss: ['alpha', 'gamma', 'iouWeighted'],
  asymmetricLoss: ['gammaPos', 'gammaNeg', 'clip', 'detachFocalWeight'],
};
const COMMON = ['classes', 'shape', 'ignoreIndex', 'weights', 'reduction', 'normalizer', 'out'];

/** A valid problem: 4 rows × 3 classes, class indices (with background and ignored) or dense targets. */
function problem(r: Rand) {
  const F = (r() < 0.5 ? Float32Array : Float64Array) as typeof Float64Array;
  const logits = F.from({ length: 12 }, () => (r() - 0.5) * 8);
  const indices = r() < 0.5;
  const targets = indices
    ? Int32Array.from([0, 3, -100, 2])
    : F.from({ length: 12 }, () => (r() < 0.3 ? 1 : r() < 0.5 ? 0 : r()));
  const options: Record<string, unknown> = indices || r() < 0.3 ? { classes: 3 } : {};
  if (r() < 0.3) options.weights = Float64Array.from({ length: indices ? 4 : 12 }, () => r() * 2);
  if (r() < 0.3) options.normalizer = 2;
  return { F, logits, targets, options };
}

test('family functions: 40,000 calls with garbage give package errors or well-formed results, memory flat', () => {
  const r = rng(20261129);
  const memory = api.wasmMemoryBytes();
  const fixed = () =>
    api.sigmoidFocalLossWithGrad(Float64Array.from([2, -1, 0.5, 3, -2, 0]), [0, 2], {
      classes: 3,
      posWeight: [1, 2, 3],
      polyEpsilon: 0.5,
    });
  const reference = fixed();
  const failures: string[] = [];
  const seen = { returned: 0, threw: 0 };
  for (let call = 0; call < 40_000 && failures.length < 20; call++) {
    const fn = pick(r, FAMILY);
    const variant = pick(r, ['', 'WithGrad', 'Partial'] as const);
    const { F, logits, targets, options } = problem(r);
    const args: unknown[] = [logits, targets, options];
    const out = new F(12).fill(-1234.5);
    if (variant === 'WithGrad') options.out = out;
    const replacements = 1 + Math.floor(r() * 3);
    for (let k = 0; k < replacements; k++) {
      const slot = Math.floor(r() * 4);
      if (slot < 2) args[slot] = garbage(r);
      else if (slot === 2) options[pick(r, [...OWN[fn], ...COMMON])] = garbage(r);
      else if (r() < 0.2) args[2] = garbage(r);
      else options[pick(r, ['bogus', 'ignore_index', 'pos_weight'])] = garbage(r);
    }
    if (variant === 'Partial') {
      delete options.out;
      delete options.normalizer;
      delete options.reduction;
    }
    try {
      const result = api[fn + variant](...args);
      seen.returned++;
      // A call that returned had valid logits: the outputs have their type and length.
      const L = args[0] instanceof Float32Array ? Float32Array : Float64Array;
      const loss = variant === 'Partial' ? result.sum : variant === 'WithGrad' ? result.loss : result;
      if (!(typeof loss === 'number' || loss instanceof L))
        failures.push(`${call} ${fn}${variant}: returned ${String(loss)}`);
      if (
        variant === 'WithGrad' &&
        !(result.grad instanceof L && result.grad.length === (args[0] as Float32Array).length)
      )
        failures.push(`${call} ${fn}${variant}: grad`);
    } catch (error) {
      seen.threw++;
      const e = error as Error;
      const ok =
        (e instanceof TypeError || e instanceof RangeError) &&
        e.message.startsWith('focal-loss: ') &&
        !e.message.includes('kernel status');
      if (!ok) failures.push(`${call} ${fn}${variant}: ${e?.constructor?.name}: ${String(e?.message).slice(0, 160)}`);
      if (variant === 'WithGrad' && out.some((v) => v !== -1234.5))
        failures.push(`${call} ${fn}${variant}: out written before a throw`);
    }
    if (call % 100 === 0) {
      const again = fixed();
      if (again.loss !== reference.loss || again.grad.some((g: number, i: number) => !Object.is(g, reference.grad[i])))
        failures.push(`${call}: the fixed call changed`);
    }
  }
  for (let call = 0; call < 2_000; call++) {
    const counts = r() < 0.5 ? garbage(r) : [1 + Math.floor(r() * 100), garbage(r)];
    try {
      const a = api.classBalancedAlpha(counts, r() < 0.7 ? undefined : garbage(r));
      if (!(a instanceof Float64Array)) failures.push(`classBalancedAlpha ${call}: returned ${String(a)}`);
    } catch (error) {
      const e = error as Error;
      if (!((e instanceof TypeError || e instanceof RangeError) && e.message.startsWith('focal-loss: ')))
        failures.push(`classBalancedAlpha ${call}: ${String(e)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(seen.returned + seen.threw).toBe(40_000);
  // Both outcomes happen: garbage in a slot that tolerates it (a weight of 3, clip 0.5, ignoreIndex 4)
  // still computes — about 3% of the calls with these seeds.
  expect(Math.min(seen.returned, seen.threw)).toBeGreaterThan(500);
  expect(api.wasmMemoryBytes()).toBe(memory);
});
