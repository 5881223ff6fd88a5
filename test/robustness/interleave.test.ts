// A long interleaving (20,000 calls, a seeded order) of malformed and valid calls of every function.
// Every valid call returns the reference's values the first time and the same bits every time after;
// every malformed call throws its package error (naming its argument) with `out` untouched, or, for
// an empty batch with a huge `classes`, returns 0 or throws a package RangeError; and wasmMemoryBytes()
// stays where it was after the warm-up (one pass of the valid calls, some of which are wider than the
// scratch area and may grow memory once): a malformed call never grows memory, leaks scratch state
// or leaves the module in a state where a later valid call differs.
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import {
  compareResult,
  detach,
  fsum,
  packageErrorProblem,
  refSigmoidCall,
  refSoftmaxCall,
  rng,
  safeString,
  SENTINEL,
  type F,
  type FloatCtor,
} from './helpers';
import { refSigmoid, refSoftmax } from '../reference';

const CALLS = 20_000;

const wave = (n: number, seed: number, amp = 4) =>
  Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.731 + seed) * amp));

interface Valid {
  name: string;
  run: () => unknown; // returns comparable numbers
  reference: () => string[]; // problems of the first result against the float64 reference
}

interface Malformed {
  name: string;
  run: () => unknown;
  /** 'throw': a package error of `kind` naming `names`; 'zeroOrRange': 0 or a package RangeError; 'exactOrType'. */
  expect: 'throw' | 'zeroOrRange' | 'exactOrType';
  kind?: typeof TypeError | typeof RangeError;
  names?: (string | RegExp)[];
  out?: F;
  exact?: () => unknown; // for 'exactOrType': what it must return when it returns
}

/** Flattens a result (number, typed array, { loss, grad }, partial) into numbers. */
function numbers(r: unknown): number[] {
  if (typeof r === 'number') return [r];
  if (ArrayBuffer.isView(r)) return Array.from(r as F);
  if (r && typeof r === 'object')
    return Object.keys(r)
      .sort()
      .flatMap((k) => numbers((r as Record<string, unknown>)[k]));
  return [NaN];
}

// ------------------------------------------------------------------------------------------------
// Valid calls

function softmaxCase(
  name: string,
  Ctor: FloatCtor,
  M: number,
  C: number,
  o: Record<string, any>,
  withGrad: boolean,
  targets?: number[],
): Valid {
  const z = wave(M * C, M + C);
  const t = targets ?? Array.from({ length: M }, (_, i) => (i % 11 === 0 ? -100 : (i * 5) % C));
  const logits = Ctor.from(z);
  const ti = Int32Array.from(t);
  const out = withGrad ? new Ctor(M * C) : null;
  let first: unknown;
  return {
    name,
    run: () => {
      out?.fill(SENTINEL);
      const r = withGrad
        ? FL.softmaxFocalLossWithGrad(logits, ti, { ...o, out } as any)
        : FL.softmaxFocalLoss(logits, ti, o as any);
      if (first === undefined) first = r;
      return r;
    },
    reference: () =>
      compareResult(withGrad ? (first as any) : { loss: first }, refSoftmaxCall(z, t, o, false), Ctor, withGrad),
  };
}

function sigmoidCase(name: string, Ctor: FloatCtor, n: number, o: Record<string, any>, withGrad: boolean): Valid {
  const z = wave(n, n, 6);
  const y = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : i % 7 === 0 ? 0.25 : 0));
  const logits = Ctor.from(z);
  const targets = Float32Array.from(y);
  let first: unknown;
  return {
    name,
    run: () => {
      const r = withGrad
        ? FL.sigmoidFocalLossWithGrad(logits, targets, o as any)
        : FL.sigmoidFocalLoss(logits, targets, o as any);
      if (first === undefined) first = r;
      return r;
    },
    reference: () =>
      compareResult(withGrad ? (first as any) : { loss: first }, refSigmoidCall(z, y, o), Ctor, withGrad),
  };
}

function partialCases(): Valid[] {
  const z = wave(600, 3);
  const t = Array.from({ length: 200 }, (_, i) => (i % 9 === 0 ? -100 : i % 3));
  const sz = wave(500, 4, 5);
  const sy = Array.from({ length: 500 }, (_, i) => i & 1);
  let a: any;
  let b: any;
  let c: any;
  const parts = () => [
    FL.softmaxFocalLossPartial(Float64Array.from(z.slice(0, 300)), t.slice(0, 100), { classes: 3, gamma: 1 }),
    FL.softmaxFocalLossPartial(Float64Array.from(z.slice(300)), t.slice(100), { classes: 3, gamma: 1 }),
  ];
  return [
    {
      name: 'softmaxFocalLossPartial f64',
      run: () => (a = FL.softmaxFocalLossPartial(Float64Array.from(z), t, { classes: 3, gamma: 1 })),
      reference: () => {
        const base = refSoftmax(z, t, { classes: 3, gamma: 1 });
        const bad = compareResult(
          { loss: a.sum + a.residual },
          { loss: fsum(base.losses), grad: new Float64Array(0), gradScale: new Float64Array(0) },
          Float64Array,
          false,
        );
        return a.count === base.count ? bad : [...bad, `count ${a.count} vs ${base.count}`];
      },
    },
    {
      name: 'sigmoidFocalLossPartial f32',
      run: () => (b = FL.sigmoidFocalLossPartial(Float32Array.from(sz), sy, { alpha: 0.4 })),
      reference: () => {
        const base = refSigmoid(sz, sy, { alpha: 0.4 });
        return compareResult(
          { loss: b.sum + b.residual },
          { loss: fsum(base.losses), grad: new Float64Array(0), gradScale: new Float64Array(0) },
          Float32Array,
          false,
        );
      },
    },
    {
      name: 'combineFocalPartials',
      run: () => (c = FL.combineFocalPartials(parts())),
      reference: () => {
        const whole = FL.softmaxFocalLossPartial(Float64Array.from(z), t, { classes: 3, gamma: 1 });
        const bad: string[] = [];
        if (!(Math.abs(c.sum - whole.sum) <= 1e-15 * whole.sum))
          bad.push(`combined sum ${c.sum} vs whole ${whole.sum}`);
        if (c.count !== whole.count) bad.push(`count ${c.count} vs ${whole.count}`);
        return bad;
      },
    },
  ];
}

function wideCase(): Valid {
  const C = 20_000; // one Float64Array row wider than the scratch area (16K float64 classes)
  const z = wave(C, 9);
  const logits = Float64Array.from(z);
  let first: any;
  return {
    name: 'softmax 1 × 20,000 Float64Array (wider than the scratch area)',
    run: () => {
      const r = FL.softmaxFocalLossWithGrad(logits, [777], { classes: C, reduction: 'sum' });
      first ??= r;
      return r;
    },
    reference: () =>
      compareResult(first, refSoftmaxCall(z, [777], { classes: C, reduction: 'sum' }, false), Float64Array, true),
  };
}

const valid: Valid[] = [
  softmaxCase(
    'softmax f64 20×5 with out',
    Float64Array,
    20,
    5,
    { classes: 5, gamma: 1.5, alpha: [1, 0.5, 2, 1, 1] },
    true,
  ),
  softmaxCase(
    'softmax f32 6,000×7 (two chunks), mean',
    Float32Array,
    6_000,
    7,
    { classes: 7, labelSmoothing: 0.1 },
    true,
  ),
  softmaxCase(
    'softmax f64 [3, 5, 200] channels-first, none',
    Float64Array,
    3,
    5 * 200,
    { shape: [3, 5, 200], reduction: 'none' },
    false,
    Array.from({ length: 600 }, (_, i) => i % 5),
  ),
  softmaxCase(
    'softmaxFocalLoss f32 50×4, sum, weights',
    Float32Array,
    50,
    4,
    { classes: 4, reduction: 'sum', weights: wave(50, 1).map((v) => Math.abs(v)) },
    false,
  ),
  sigmoidCase('sigmoid f32 40,000 (two chunks), sum', Float32Array, 40_000, { reduction: 'sum', gamma: 1 }, true),
  sigmoidCase('sigmoid f64 9, none', Float64Array, 9, { reduction: 'none', alpha: null }, true),
  sigmoidCase('sigmoidFocalLoss f64 100, mean', Float64Array, 100, { labelSmoothing: 0.05 }, false),
  ...partialCases(),
  wideCase(),
];

// ------------------------------------------------------------------------------------------------
// Malformed calls

function malformed(): Malformed[] {
  const n = 40_000;
  const sx = Float32Array.from(wave(n, 5));
  const sy = Float32Array.from({ length: n }, (_, i) => i & 1);
  const wBig = new Float64Array(n).fill(1);
  wBig[n - 5] = 1e39;
  const sOut = new Float32Array(n);
  const M = 6_000;
  const C = 7;
  const x = Float32Array.from(wave(M * C, 6));
  const badT = Int32Array.from({ length: M }, (_, i) => i % C);
  badT[M - 1] = C;
  const out = new Float32Array(M * C);
  const wide = Float64Array.from(wave(20_000, 7));
  const wideOut = new Float64Array(20_000);
  const small = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const smallOut = new Float64Array(6);
  const flipping = () => {
    let reads = 0;
    return new Proxy(
      Array.from({ length: M }, (_, i) => i % C),
      {
        get(t, k, r) {
          if (k === String(M - 1)) return ++reads === 1 ? 0 : 99;
          return Reflect.get(t, k, r);
        },
      },
    );
  };
  const flippingPlain = Array.from({ length: M }, (_, i) => (i === M - 1 ? 0 : i % C));
  return [
    {
      name: `sigmoid f32 weights[${n - 5}] = 1e39`,
      expect: 'throw',
      kind: RangeError,
      names: [`options.weights[${n - 5}]`],
      out: sOut,
      run: () => FL.sigmoidFocalLossWithGrad(sx, sy, { weights: wBig, out: sOut }),
    },
    {
      name: `softmax targets[${M - 1}] = ${C} (last chunk)`,
      expect: 'throw',
      kind: RangeError,
      names: [`targets[${M - 1}]`],
      out,
      run: () => FL.softmaxFocalLossWithGrad(x, badT, { classes: C, out }),
    },
    {
      name: 'softmax Proxy targets flipping on a second read',
      expect: 'exactOrType',
      names: ['targets'],
      out,
      run: () => FL.softmaxFocalLossWithGrad(x, flipping(), { classes: C, out }),
      exact: () => FL.softmaxFocalLossWithGrad(x, Int32Array.from(flippingPlain), { classes: C }),
    },
    {
      name: 'detached logits',
      expect: 'throw',
      kind: TypeError,
      names: ['logits'],
      run: () => FL.softmaxFocalLoss(detach(new Float32Array(6)), [], { classes: 3 }),
    },
    {
      name: 'detached out',
      expect: 'throw',
      kind: TypeError,
      names: ['options.out'],
      run: () => FL.sigmoidFocalLossWithGrad(new Float64Array(0), [], { out: detach(new Float64Array(4)) }),
    },
    {
      name: 'revoked Proxy options',
      expect: 'throw',
      kind: TypeError,
      names: ['options'],
      run: () => {
        const p = Proxy.revocable({ classes: 3 }, {});
        p.revoke();
        return FL.softmaxFocalLoss(small, [0, 1], p.proxy as any);
      },
    },
    {
      name: 'weights [Object.create(null), 1]',
      expect: 'throw',
      kind: TypeError,
      names: ['options.weights[0]'],
      out: smallOut,
      run: () =>
        FL.softmaxFocalLossWithGrad(small, [0, 1], { classes: 3, weights: [Object.create(null), 1], out: smallOut }),
    },
    {
      name: 'shape [2, Symbol()]',
      expect: 'throw',
      kind: TypeError,
      names: ['options.shape[1]'],
      run: () => FL.softmaxFocalLoss(small, [0, 1], { shape: [2, Symbol('c') as any] }),
    },
    {
      name: 'classes 1e6 with empty logits',
      expect: 'zeroOrRange',
      run: () => FL.softmaxFocalLoss(new Float64Array(0), [], { classes: 1e6 }),
    },
    {
      name: 'shape [0, 2**22] with empty logits',
      expect: 'zeroOrRange',
      run: () => FL.softmaxFocalLossWithGrad(new Float32Array(0), [], { shape: [0, 2 ** 22] }).loss,
    },
    {
      name: 'gamma 1e39 with Float32Array logits',
      expect: 'throw',
      kind: RangeError,
      names: ['options.gamma'],
      out,
      run: () =>
        FL.softmaxFocalLossWithGrad(
          x,
          badT.map((v) => v % C),
          { classes: C, gamma: 1e39, out },
        ),
    },
    {
      name: 'labelSmoothing 0.99999999 with Float32Array logits',
      expect: 'throw',
      kind: RangeError,
      names: ['options.labelSmoothing'],
      out: sOut,
      run: () => FL.sigmoidFocalLossWithGrad(sx, sy, { labelSmoothing: 0.99999999, out: sOut }),
    },
    {
      name: 'alpha of the wrong length',
      expect: 'throw',
      kind: RangeError,
      names: ['options.alpha'],
      run: () => FL.softmaxFocalLoss(small, [0, 1], { classes: 3, alpha: [1, 1] }),
    },
    {
      name: 'a wide row with a bad target',
      expect: 'throw',
      kind: RangeError,
      names: ['targets[0]'],
      out: wideOut,
      run: () => FL.softmaxFocalLossWithGrad(wide, [20_000], { classes: 20_000, out: wideOut }),
    },
    {
      name: 'a wide row with NaN weight',
      expect: 'throw',
      kind: RangeError,
      names: ['options.weights[0]'],
      out: wideOut,
      run: () => FL.softmaxFocalLossWithGrad(wide, [3], { classes: 20_000, weights: [NaN], out: wideOut }),
    },
    {
      name: 'Proxy of a Float32Array as logits',
      expect: 'throw',
      kind: TypeError,
      names: ['logits'],
      run: () => FL.sigmoidFocalLoss(new Proxy(new Float32Array(4), {}), [0, 1, 0, 1]),
    },
    {
      name: 'partial with reduction',
      expect: 'throw',
      kind: TypeError,
      names: ["'reduction'", 'options.reduction'],
      run: () => FL.sigmoidFocalLossPartial(small, [0, 1, 0, 1, 0, 1], { reduction: 'sum' } as any),
    },
    {
      name: 'combine [{ sum: "1" }]',
      expect: 'throw',
      kind: TypeError,
      names: ['parts[0].sum'],
      run: () => FL.combineFocalPartials([{ sum: '1', residual: 0, count: 1 } as any]),
    },
    {
      name: 'combine [null]',
      expect: 'throw',
      kind: TypeError,
      names: ['parts[0]'],
      run: () => FL.combineFocalPartials([null as any]),
    },
    {
      name: 'combine 5',
      expect: 'throw',
      kind: TypeError,
      names: ['parts'],
      run: () => FL.combineFocalPartials(5 as any),
    },
    {
      name: 'logits a string',
      expect: 'throw',
      kind: TypeError,
      names: ['logits'],
      run: () => FL.softmaxFocalLossWithGrad('abc' as any, [0], { classes: 3 }),
    },
    {
      name: 'unknown option',
      expect: 'throw',
      kind: TypeError,
      names: ["'ignore_index'"],
      run: () => FL.softmaxFocalLoss(small, [0, 1], { classes: 3, ignore_index: 1 } as any),
    },
  ];
}

describe('a long interleaving of malformed and valid calls', () => {
  test(`${CALLS} calls: valid ones exact, malformed ones package errors, memory flat after warm-up`, () => {
    const bad: Malformed[] = malformed();
    // Warm-up: every valid call once (checked against the reference); their results are the expected bits.
    const expected = valid.map((v) => numbers(v.run()));
    for (const v of valid) expect(v.reference(), v.name).toEqual([]);
    let memory = FL.wasmMemoryBytes();
    const failures: string[] = [];
    let failed = 0;
    const fail = (i: number, what: string) => {
      failed++;
      if (failures.length < 30) failures.push(`call ${i}: ${what}`);
    };
    const r = rng(0x1e7e);
    let validCalls = 0;
    let badCalls = 0;
    for (let i = 0; i < CALLS; i++) {
      if (r() < 0.5) {
        validCalls++;
        const k = Math.floor(r() * valid.length);
        let got: number[];
        try {
          got = numbers(valid[k].run());
        } catch (e) {
          fail(i, `${valid[k].name} threw ${safeString((e as Error)?.message ?? e)}`);
          continue;
        }
        const want = expected[k];
        if (got.length !== want.length || got.some((v, j) => !Object.is(v, want[j])))
          fail(i, `${valid[k].name}: not the same bits as its first (reference-checked) result`);
      } else {
        badCalls++;
        const m = bad[Math.floor(r() * bad.length)];
        m.out?.fill(SENTINEL);
        let result: unknown;
        let error: unknown;
        let threw = false;
        try {
          result = m.run();
        } catch (e) {
          threw = true;
          error = e;
        }
        if (m.expect === 'throw') {
          if (!threw) fail(i, `${m.name}: returned ${safeString(result)}`);
          else {
            const p = packageErrorProblem(error, m.names, m.kind);
            if (p) fail(i, `${m.name}: ${p}`);
          }
        } else if (m.expect === 'zeroOrRange') {
          if (threw) {
            const p = packageErrorProblem(error, undefined, RangeError);
            if (p) fail(i, `${m.name}: ${p}`);
          } else if (result !== 0) fail(i, `${m.name}: returned ${safeString(result)}, not 0`);
        } else if (threw) {
          const p = packageErrorProblem(error, m.names, TypeError);
          if (p) fail(i, `${m.name}: ${p}`);
        } else {
          const want = numbers(m.exact!());
          const got = numbers(result);
          if (got.length !== want.length || got.some((v, j) => !Object.is(v, want[j])))
            fail(i, `${m.name}: returned, but not the values of its first reads`);
        }
        if (threw && m.out) {
          const at = m.out.findIndex((v) => v !== SENTINEL);
          if (at >= 0) fail(i, `${m.name}: threw but out[${at}] was written`);
        }
      }
      const now = FL.wasmMemoryBytes();
      if (now !== memory) {
        fail(i, `wasmMemoryBytes() ${memory} → ${now}`);
        memory = now;
      }
    }
    if (failed > failures.length) failures.push(`… ${failed} failures in all`);
    expect(validCalls + badCalls).toBe(CALLS);
    expect(failures.length, failures.join('\n')).toBe(0);
  }, 600_000); // 102-204 s measured on a shared, loaded 2-core machine: a generous limit, not a timing check
});
