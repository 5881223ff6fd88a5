// Options, partials and their arrays are the caller's own properties (CONTRACT.md § Call guarantees, Read
// once): a property inherited from Object.prototype or Array.prototype — what a prototype-pollution bug
// elsewhere in an application puts there — is ignored. So `Object.prototype.out = sink` receives no
// gradient and `Object.prototype.reduction = 'none'` changes nothing: every option key of every function
// is polluted in turn and each call must give the bits it gives with a clean prototype. The prototype is
// restored in `finally` whatever happens.
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import { sameBits, SENTINEL } from './helpers';

const api = FL as unknown as Record<string, (...args: unknown[]) => any>;

const L = Float64Array.from([1, -2, 0.5, 3, 0, -1]);
const T = [2, 0];
const SL = Float64Array.from([1.5, -0.5, 2, -3]);
const ST = [1, 0, 0.25, 1];

const LOSSES = ['softmaxFocalLoss', 'sigmoidFocalLoss', 'qualityFocalLoss', 'varifocalLoss', 'asymmetricLoss'] as const;
const FNS = LOSSES.flatMap((f) => [f, `${f}WithGrad`, `${f}Partial`]);

/** A value for each option key of any function that changes what a call returns (or makes it throw). */
const sink = new Float64Array(6).fill(SENTINEL);
const HOSTILE: Record<string, unknown> = {
  out: sink,
  reduction: 'none',
  normalizer: 1e-3,
  classes: 2,
  shape: [2, 3],
  gamma: 7,
  alpha: 0.9,
  ignoreIndex: 0,
  labelSmoothing: 0.5,
  polyEpsilon: 3,
  weights: [0, 0, 0, 0, 0, 0],
  posWeight: 50,
  beta: 0,
  iouWeighted: false,
  gammaPos: 5,
  gammaNeg: 0,
  clip: 0.5,
  detachFocalWeight: true,
};

/** The call of `fn` on the module's problem, with options the caller wrote (`own`). */
function call(fn: string, own: () => Record<string, unknown>) {
  const softmax = fn.startsWith('softmax');
  return api[fn](softmax ? L : SL, softmax ? T : ST, own());
}

/** A result as comparable data: numbers, and arrays copied. */
function snapshot(r: unknown): unknown {
  if (r instanceof Float64Array) return Array.from(r);
  if (typeof r === 'object' && r !== null)
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, snapshot(v)]));
  return r;
}

function withPollution<T>(target: object, key: PropertyKey, value: unknown, body: () => T): T {
  Object.defineProperty(target, key, { value, configurable: true, writable: true, enumerable: true });
  try {
    return body();
  } finally {
    delete (target as Record<PropertyKey, unknown>)[key];
  }
}

describe('Object.prototype pollution of option keys changes nothing', () => {
  // Each function with the options it needs (softmax: classes), and with one of its own besides.
  const OWN: Record<string, string> = {
    softmax: 'gamma',
    sigmoid: 'gamma',
    quality: 'beta',
    varifocal: 'gamma',
    asymmetric: 'gammaPos',
  };
  const cases = ['minimal options', 'one option of its own'];
  let checked = 0;
  for (const fn of FNS) {
    for (const what of cases) {
      test(`${fn}, ${what}: every option key polluted in turn`, () => {
        const softmax = fn.startsWith('softmax');
        const own = () => {
          const o: Record<string, unknown> = softmax ? { classes: 3 } : {};
          if (what !== cases[0]) o[OWN[/^[a-z]+/.exec(fn)![0]]] = 1;
          return o;
        };
        const clean = snapshot(call(fn, own));
        const problems: string[] = [];
        for (const [key, value] of Object.entries(HOSTILE)) {
          sink.fill(SENTINEL);
          let got: unknown;
          try {
            got = withPollution(Object.prototype, key, value, () => snapshot(call(fn, own)));
          } catch (e) {
            problems.push(`Object.prototype.${key}: threw ${(e as Error).message}`);
            continue;
          }
          if (JSON.stringify(got) !== JSON.stringify(clean))
            problems.push(`Object.prototype.${key}: ${JSON.stringify(got)} instead of ${JSON.stringify(clean)}`);
          if (sink.some((v) => v !== SENTINEL)) problems.push(`Object.prototype.${key}: the inherited out was written`);
          checked++;
        }
        expect(problems, problems.join('\n')).toEqual([]);
      });
    }
  }
  test('the cases ran', () => {
    expect(checked).toBe(FNS.length * cases.length * Object.keys(HOSTILE).length);
  });

  test('no options argument at all (the element-wise losses): Object.prototype.reduction / out ignored', () => {
    for (const f of LOSSES.slice(1)) {
      const clean = api[f](SL, ST);
      const grad = api[`${f}WithGrad`](SL, ST);
      withPollution(Object.prototype, 'reduction', 'none', () => expect(api[f](SL, ST)).toBe(clean));
      withPollution(Object.prototype, 'out', sink.fill(SENTINEL), () => {
        const r = api[`${f}WithGrad`](SL, ST);
        expect(r.grad).not.toBe(sink);
        expect(sameBits(r.grad, grad.grad)).toBeNull();
      });
      expect(sink.every((v) => v === SENTINEL)).toBe(true);
    }
  });

  test('an inherited option on a custom prototype is ignored too; an own getter is read once', () => {
    const proto = { reduction: 'none', out: sink.fill(SENTINEL) };
    const o = Object.create(proto);
    o.gamma = 1;
    const clean = FL.sigmoidFocalLossWithGrad(SL, ST, { gamma: 1 });
    const r = FL.sigmoidFocalLossWithGrad(SL, ST, o);
    expect(r.loss).toBe(clean.loss);
    expect(sink.every((v) => v === SENTINEL)).toBe(true);
    let reads = 0;
    const g = Object.defineProperty({}, 'gamma', { get: () => (reads++, 1), enumerable: true });
    expect(FL.sigmoidFocalLoss(SL, ST, g)).toBe(clean.loss);
    expect(reads).toBe(1);
  });
});

describe('inherited array elements are not elements', () => {
  test('a holey number[] with Array.prototype[i] set: a TypeError naming the hole, not the inherited value', () => {
    const holey = (values: (number | undefined)[], hole: number) => {
      const a = values.slice() as number[];
      delete a[hole];
      return a;
    };
    const cases: [string, () => unknown][] = [
      ['targets[1]', () => FL.softmaxFocalLoss(L, holey([2, 0], 1), { classes: 3 })],
      ['targets[2]', () => FL.sigmoidFocalLoss(SL, holey([1, 0, 0, 1], 2))],
      ['options.weights[0]', () => FL.softmaxFocalLoss(L, T, { classes: 3, weights: holey([1, 1], 0) })],
      ['options.alpha[1]', () => FL.softmaxFocalLoss(L, T, { classes: 3, alpha: holey([1, 1, 1], 1) })],
      ['options.shape[1]', () => FL.softmaxFocalLoss(L, T, { shape: holey([2, 3], 1) })],
      ['options.posWeight[0]', () => FL.sigmoidFocalLoss(SL, [0, 1], { classes: 2, posWeight: holey([1, 1], 0) })],
      ['counts[0]', () => FL.classBalancedAlpha(holey([5, 5], 0))],
      ['parts[0]', () => FL.combineFocalPartials(holey([{ sum: 1, residual: 0, count: 1 }] as never, 0) as never)],
    ];
    for (const [name, run] of cases) {
      for (const target of [Array.prototype, Object.prototype]) {
        const value = name === 'parts[0]' ? { sum: 1, residual: 0, count: 1 } : name.startsWith('targets') ? 0 : 1;
        const index = Number(/\[(\d+)\]$/.exec(name)![1]);
        let thrown: unknown;
        withPollution(target, index, value, () => {
          try {
            run();
          } catch (e) {
            thrown = e;
          }
        });
        expect(thrown, `${name}: the inherited element was used`).toBeInstanceOf(TypeError);
        expect((thrown as Error).message, name).toContain(name);
      }
    }
  });

  test('partials: inherited sum / residual / count / positives are not fields', () => {
    const part = { sum: 2, residual: 0, count: 4 };
    withPollution(Object.prototype, 'positives', 3, () => {
      expect(FL.combineFocalPartials([part])).toEqual({ sum: 2, residual: 0, count: 4, mean: 0.5 });
    });
    withPollution(Object.prototype, 'residual', 0, () => {
      expect(() => FL.combineFocalPartials([{ sum: 2, count: 4 } as never])).toThrow(
        /^focal-loss: parts\[0\]\.residual must be a number/,
      );
    });
  });
});
