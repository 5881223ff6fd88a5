// Properties of the package (built, imported as users do) over random moderate inputs, checked with
// fast-check against the float64 reference of the mathematics of CONTRACT.md (test/reference.ts) and against
// itself (reductions, layouts, chunk boundaries, dtypes).
import { describe, expect, test } from 'vitest';
import { expectSameBits } from './helpers/bits';
import fc from 'fast-check';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad, softmaxFocalLoss, softmaxFocalLossWithGrad } from 'focal-loss';
import { refReduce, refSigmoid, refSoftmax, softplus } from './reference';
// @ts-expect-error: plain JS module with JSDoc types (the demo's mulberry32)
import { rng } from '../examples/train/train.js';

type F = Float32Array | Float64Array;
type Reduction = 'mean' | 'sum' | 'none';
const F64_TINY = 2.2250738585072014e-308;
const F32_TINY = 1.1754943508222875e-38;
const SCRATCH = 256 * 1024;
const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 150) };

/** Lists every entry outside rtol·max(|exp|, scale) + tiny (scale defaults to |exp|). */
function mismatches(
  got: ArrayLike<number> | number,
  exp: ArrayLike<number> | number,
  rtol: number,
  tiny: number,
  scale?: ArrayLike<number>,
): string[] {
  const g = typeof got === 'number' ? [got] : got;
  const e = typeof exp === 'number' ? [exp] : exp;
  if (g.length !== e.length) return [`length ${g.length} vs ${e.length}`];
  const bad: string[] = [];
  for (let i = 0; i < e.length; i++) {
    const tol = rtol * Math.max(Math.abs(e[i]), scale ? scale[i] : 0) + tiny;
    if (!(Math.abs(g[i] - e[i]) <= tol)) bad.push(`[${i}] got ${g[i]} expected ${e[i]} (tol ${tol.toExponential(2)})`);
  }
  return bad;
}

function expectClose(
  got: ArrayLike<number> | number,
  exp: ArrayLike<number> | number,
  rtol: number,
  tiny: number,
  scale?: ArrayLike<number>,
  what = '',
) {
  const bad = mismatches(got, exp, rtol, tiny, scale);
  expect(bad, `${what}\n${bad.slice(0, 10).join('\n')}`).toEqual([]);
}

function sumOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** A typed array of the given type filled by `fill(i)` (Ctor.from's map overload is not callable on a union). */
function filled(Ctor: typeof Float32Array | typeof Float64Array, length: number, fill: (i: number) => number): F {
  const a = new Ctor(length);
  for (let i = 0; i < length; i++) a[i] = fill(i);
  return a;
}

// ----------------------------------------------------------------------------------------------
// Random softmax and sigmoid problems (moderate logits in [-20, 20]; every parameter float32-exact
// so the same problem can run in both dtypes).
// ----------------------------------------------------------------------------------------------

const f32 = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map(Math.fround);

interface SoftmaxProblem {
  logits: number[];
  targets: number[];
  probs: boolean;
  options: {
    classes?: number;
    shape?: number[];
    gamma: number;
    alpha?: number | number[];
    ignoreIndex?: number;
    labelSmoothing?: number;
    weights?: number[];
    reduction: Reduction;
  };
}

const softmaxProblem: fc.Arbitrary<SoftmaxProblem> = fc
  .record({
    C: fc.integer({ min: 1, max: 8 }),
    N: fc.integer({ min: 0, max: 6 }),
    spatial: fc.constantFrom<number[]>([], [], [3], [2, 2]),
    probs: fc.boolean(),
    gamma: fc.oneof(fc.constantFrom(0, 0.5, 1, 2, 3), f32(0, 5)),
    alphaKind: fc.constantFrom('none', 'scalar', 'perClass'),
    smoothing: fc.oneof(fc.constant(0), f32(0, 0.4)),
    withWeights: fc.boolean(),
    reduction: fc.constantFrom<Reduction>('mean', 'sum', 'none'),
    ignoreIndex: fc.constantFrom(-100, 255, 1),
    seed: fc.integer(),
  })
  .chain((k) => {
    const items = k.N * k.spatial.reduce((a, b) => a * b, 1);
    const len = items * k.C;
    return fc.record({
      k: fc.constant(k),
      logits: fc.array(f32(-20, 20), { minLength: len, maxLength: len }),
      targets: k.probs
        ? fc.array(f32(0, 1), { minLength: len, maxLength: len })
        : fc.array(
            fc.oneof(
              { weight: 6, arbitrary: fc.integer({ min: 0, max: k.C - 1 }) },
              { weight: 1, arbitrary: fc.constant(k.ignoreIndex) },
            ),
            { minLength: items, maxLength: items },
          ),
      alpha: k.alphaKind === 'scalar' ? f32(0, 2) : fc.array(f32(0, 2), { minLength: k.C, maxLength: k.C }),
      weights: fc.array(f32(0, 3), { minLength: items, maxLength: items }),
    });
  })
  .map(({ k, logits, targets, alpha, weights }) => {
    const S = k.spatial.reduce((a, b) => a * b, 1);
    if (k.probs) {
      // Normalise each item's row (in float32, so the values are exact in both dtypes).
      for (let n = 0; n < k.N; n++) {
        for (let s = 0; s < S; s++) {
          const at = (c: number) => (n * k.C + c) * S + s;
          let sum = 0;
          for (let c = 0; c < k.C; c++) sum += targets[at(c)];
          for (let c = 0; c < k.C; c++) targets[at(c)] = sum > 0 ? Math.fround(targets[at(c)] / sum) : c === 0 ? 1 : 0;
        }
      }
    }
    const options: SoftmaxProblem['options'] = { gamma: k.gamma, reduction: k.reduction };
    if (k.spatial.length > 0 || k.seed % 2 === 0) options.shape = [k.N, k.C, ...k.spatial];
    else options.classes = k.C;
    if (k.alphaKind !== 'none') options.alpha = alpha as number | number[];
    if (k.smoothing > 0) options.labelSmoothing = k.smoothing;
    if (k.withWeights) options.weights = weights;
    if (!k.probs) options.ignoreIndex = k.ignoreIndex;
    return { logits, targets, probs: k.probs, options };
  });

function softmaxArgs(pb: SoftmaxProblem, Ctor: typeof Float32Array | typeof Float64Array) {
  const logits = Ctor.from(pb.logits);
  const targets = pb.probs ? Ctor.from(pb.targets) : Int32Array.from(pb.targets);
  const options: Record<string, unknown> = { ...pb.options };
  if (pb.options.weights) options.weights = Ctor.from(pb.options.weights);
  return [logits, targets, options] as const;
}

function softmaxRef(pb: SoftmaxProblem) {
  const { reduction, ...o } = pb.options;
  return refReduce(refSoftmax(pb.logits, pb.targets, o, pb.probs), reduction);
}

interface SigmoidProblem {
  logits: number[];
  targets: number[];
  options: { gamma: number; alpha?: number | null; labelSmoothing?: number; weights?: number[]; reduction: Reduction };
}

const sigmoidProblem: fc.Arbitrary<SigmoidProblem> = fc
  .record({
    n: fc.integer({ min: 0, max: 24 }),
    soft: fc.boolean(),
    gamma: fc.oneof(fc.constantFrom(0, 0.5, 1, 2, 3), f32(0, 5)),
    alpha: fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(-1), f32(0, 1)),
    // Small ε included: 1 − y must not be formed by subtraction (see 'sigmoid label smoothing keeps 1 − y exact').
    smoothing: fc.oneof(fc.constant(0), f32(0.05, 0.4), fc.constantFrom(1e-3, 3e-4, 1e-6).map(Math.fround)),
    withWeights: fc.boolean(),
    reduction: fc.constantFrom<Reduction>('mean', 'sum', 'none'),
  })
  .chain((k) =>
    fc.record({
      k: fc.constant(k),
      logits: fc.array(f32(-20, 20), { minLength: k.n, maxLength: k.n }),
      targets: fc.array(k.soft ? f32(0, 1) : fc.constantFrom(0, 1), { minLength: k.n, maxLength: k.n }),
      weights: fc.array(f32(0, 3), { minLength: k.n, maxLength: k.n }),
    }),
  )
  .map(({ k, logits, targets, weights }) => {
    const options: SigmoidProblem['options'] = { gamma: k.gamma, reduction: k.reduction };
    if (k.alpha !== undefined) options.alpha = k.alpha;
    if (k.smoothing > 0) options.labelSmoothing = k.smoothing;
    if (k.withWeights) options.weights = weights;
    return { logits, targets, options };
  });

function sigmoidArgs(pb: SigmoidProblem, Ctor: typeof Float32Array | typeof Float64Array) {
  const options: Record<string, unknown> = { ...pb.options };
  if (pb.options.weights) options.weights = Ctor.from(pb.options.weights);
  return [Ctor.from(pb.logits), Ctor.from(pb.targets), options] as const;
}

function sigmoidRef(pb: SigmoidProblem) {
  const { reduction, ...o } = pb.options;
  return refReduce(refSigmoid(pb.logits, pb.targets, o), reduction);
}

// ----------------------------------------------------------------------------------------------

describe('package ≈ float64 reference', () => {
  test('softmax, Float64Array', () => {
    fc.assert(
      fc.property(softmaxProblem, (pb) => {
        const ref = softmaxRef(pb);
        const r = softmaxFocalLossWithGrad(...softmaxArgs(pb, Float64Array));
        expectClose(r.loss, ref.loss, 1e-9, F64_TINY, undefined, 'loss');
        expectClose(r.grad, ref.grad, 1e-9, F64_TINY, ref.gradScale, 'grad');
        expect(r.grad).toBeInstanceOf(Float64Array);
      }),
      RUNS,
    );
  });

  test('sigmoid, Float64Array', () => {
    fc.assert(
      fc.property(sigmoidProblem, (pb) => {
        const ref = sigmoidRef(pb);
        const r = sigmoidFocalLossWithGrad(...sigmoidArgs(pb, Float64Array));
        expectClose(r.loss, ref.loss, 1e-9, F64_TINY, undefined, 'loss');
        expectClose(r.grad, ref.grad, 1e-9, F64_TINY, ref.gradScale, 'grad');
      }),
      RUNS,
    );
  });

  test('Float32Array ≈ the exact result of the same (float32) inputs', () => {
    fc.assert(
      fc.property(softmaxProblem, (pb) => {
        const ref = softmaxRef(pb);
        const r = softmaxFocalLossWithGrad(...softmaxArgs(pb, Float32Array));
        expect(r.grad).toBeInstanceOf(Float32Array);
        if (pb.options.reduction === 'none') expect(r.loss).toBeInstanceOf(Float32Array);
        expectClose(r.loss, ref.loss, 3e-5, F32_TINY, undefined, 'loss');
        expectClose(r.grad, ref.grad, 3e-5, F32_TINY, ref.gradScale, 'grad');
      }),
      RUNS,
    );
    fc.assert(
      fc.property(sigmoidProblem, (pb) => {
        const ref = sigmoidRef(pb);
        const r = sigmoidFocalLossWithGrad(...sigmoidArgs(pb, Float32Array));
        expectClose(r.loss, ref.loss, 3e-5, F32_TINY, undefined, 'loss');
        expectClose(r.grad, ref.grad, 3e-5, F32_TINY, ref.gradScale, 'grad');
      }),
      RUNS,
    );
  });

  test('Float32 ≈ Float64 on the same inputs', () => {
    fc.assert(
      fc.property(softmaxProblem, (pb) => {
        const r64 = softmaxFocalLossWithGrad(...softmaxArgs(pb, Float64Array));
        const r32 = softmaxFocalLossWithGrad(...softmaxArgs(pb, Float32Array));
        const scale = softmaxRef(pb).gradScale;
        expectClose(r32.loss, r64.loss, 3e-5, F32_TINY, undefined, 'loss');
        expectClose(r32.grad, r64.grad, 3e-5, F32_TINY, scale, 'grad');
      }),
      RUNS,
    );
  });
});

describe('algebraic properties', () => {
  test('losses are >= 0 (per item, both kinds, both dtypes)', () => {
    fc.assert(
      fc.property(softmaxProblem, fc.boolean(), (pb, single) => {
        const [logits, targets, options] = softmaxArgs(pb, single ? Float32Array : Float64Array);
        const losses = softmaxFocalLoss(logits, targets, { ...options, reduction: 'none' }) as F;
        for (const v of losses) expect(v).toBeGreaterThanOrEqual(0);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(sigmoidProblem, fc.boolean(), (pb, single) => {
        const [logits, targets, options] = sigmoidArgs(pb, single ? Float32Array : Float64Array);
        const losses = sigmoidFocalLoss(logits, targets, { ...options, reduction: 'none' }) as F;
        for (const v of losses) expect(v).toBeGreaterThanOrEqual(0);
      }),
      RUNS,
    );
  });

  test('each item’s softmax gradient sums to ~0 over its classes', () => {
    fc.assert(
      fc.property(softmaxProblem, (pb) => {
        const { grad } = softmaxFocalLossWithGrad(...softmaxArgs(pb, Float64Array));
        const scale = softmaxRef(pb).gradScale;
        const C = pb.options.classes ?? pb.options.shape![1];
        const S = pb.options.shape ? pb.options.shape.slice(2).reduce((a, b) => a * b, 1) : 1;
        const N = grad.length / (C * S);
        for (let n = 0; n < N; n++) {
          for (let s = 0; s < S; s++) {
            let sum = 0;
            let mag = 0;
            for (let c = 0; c < C; c++) {
              sum += grad[(n * C + c) * S + s];
              mag += scale[(n * C + c) * S + s];
            }
            expect(Math.abs(sum)).toBeLessThanOrEqual(1e-13 * C * mag + F64_TINY);
          }
        }
      }),
      RUNS,
    );
  });

  test("'mean'·count = 'sum' and Σ 'none' = 'sum' (loss and gradient)", () => {
    fc.assert(
      fc.property(softmaxProblem, fc.boolean(), (pb, single) => {
        const Ctor = single ? Float32Array : Float64Array;
        const [logits, targets, options] = softmaxArgs(pb, Ctor);
        const sum = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'sum' });
        const mean = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'mean' });
        const none = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'none' });
        const count =
          softmaxRef(pb).grad.length === 0 ? 0 : refSoftmax(pb.logits, pb.targets, pb.options, pb.probs).count;
        const rtol = single ? 1e-6 : 1e-13;
        expectClose((mean.loss as number) * count, sum.loss as number, rtol, 0, undefined, 'mean·count');
        expectClose(sumOf(none.loss as F), sum.loss as number, single ? 1e-5 : 1e-12, 0, undefined, 'Σ none');
        // Gradients: 'none' is each item's own gradient, i.e. that of the sum.
        expectSameBits(none.grad, sum.grad, "'none' grad vs 'sum' grad");
        expectClose(
          mean.grad.map((g) => g * count),
          sum.grad,
          single ? 3e-7 : 1e-15,
          single ? F32_TINY : F64_TINY,
          undefined,
          'mean grad·count',
        );
      }),
      RUNS,
    );
    fc.assert(
      fc.property(sigmoidProblem, (pb) => {
        const [logits, targets, options] = sigmoidArgs(pb, Float64Array);
        const sum = sigmoidFocalLossWithGrad(logits, targets, { ...options, reduction: 'sum' });
        const mean = sigmoidFocalLossWithGrad(logits, targets, { ...options, reduction: 'mean' });
        const none = sigmoidFocalLoss(logits, targets, { ...options, reduction: 'none' }) as F;
        expectClose((mean.loss as number) * logits.length, sum.loss as number, 1e-13, 0, undefined, 'mean·n');
        expectClose(sumOf(none), sum.loss as number, 1e-12, 0, undefined, 'Σ none');
        expectClose(
          mean.grad.map((g) => g * logits.length),
          sum.grad,
          1e-15,
          F64_TINY,
          undefined,
          'mean grad·n',
        );
      }),
      RUNS,
    );
  });

  test('γ = 0 is exactly (weighted) cross-entropy', () => {
    fc.assert(
      fc.property(softmaxProblem, (pb) => {
        const o = { ...pb.options, gamma: 0, reduction: 'none' as const, labelSmoothing: 0 };
        const [logits, targets] = softmaxArgs(pb, Float64Array);
        const got = softmaxFocalLoss(logits, targets, {
          ...o,
          weights: o.weights && Float64Array.from(o.weights),
        }) as Float64Array;
        // −w Σ_c a_c q_c log p_c with log p_c = (z_c − z_k) − log1p(Σ_{j≠k} e^(z_j − z_k)), written out here independently.
        const C = o.classes ?? o.shape![1];
        const S = o.shape ? o.shape.slice(2).reduce((a, b) => a * b, 1) : 1;
        for (let item = 0; item < got.length; item++) {
          const n = Math.floor(item / S);
          const s = item % S;
          const z = Array.from({ length: C }, (_, c) => pb.logits[(n * C + c) * S + s]);
          const k = z.indexOf(Math.max(...z));
          const rest = z.reduce((a, v, j) => (j === k ? a : a + Math.exp(v - z[k])), 0);
          const logp = (c: number) => z[c] - z[k] - Math.log1p(rest);
          const a = (c: number) => (o.alpha === undefined ? 1 : typeof o.alpha === 'number' ? o.alpha : o.alpha[c]);
          const w = o.weights ? o.weights[item] : 1;
          let ce = 0;
          if (pb.probs) {
            for (let c = 0; c < C; c++)
              if (pb.targets[(n * C + c) * S + s] !== 0) ce -= a(c) * pb.targets[(n * C + c) * S + s] * logp(c);
          } else if (pb.targets[item] !== o.ignoreIndex) {
            const t = pb.targets[item];
            ce = -a(t) * logp(t);
          }
          expectClose(got[item], w * ce, 1e-12, 1e-300, undefined, `item ${item}`);
        }
      }),
      RUNS,
    );
    // Sigmoid: γ = 0 and no alpha is binary cross-entropy with logits.
    fc.assert(
      fc.property(sigmoidProblem, (pb) => {
        const got = sigmoidFocalLoss(Float64Array.from(pb.logits), Float64Array.from(pb.targets), {
          gamma: 0,
          alpha: null,
          reduction: 'none',
        }) as Float64Array;
        pb.logits.forEach((x, i) => {
          const y = pb.targets[i];
          expectClose(got[i], y * softplus(-x) + (1 - y) * softplus(x), 1e-13, 1e-300, undefined, `element ${i}`);
        });
      }),
      RUNS,
    );
  });

  // The smoothed target's complement 1 − y = (1 − y0)(1 − ε) + ε/2 must not be formed by subtraction:
  // for a hard positive and a small ε that would keep only the digits of ε/2 that survive rounding y.
  test('sigmoid label smoothing keeps 1 − y exact (small ε, float32)', () => {
    for (const eps of [1e-2, 3e-3, 1e-3, 3e-4].map(Math.fround)) {
      for (const x of [4, 8, 12, 16]) {
        const r = sigmoidFocalLossWithGrad(new Float32Array([x]), new Float32Array([1]), {
          gamma: 2,
          alpha: null,
          labelSmoothing: eps,
          reduction: 'sum',
        });
        const ref = refSigmoid([x], [1], { gamma: 2, alpha: null, labelSmoothing: eps });
        expectClose(r.loss as number, ref.losses[0], 3e-5, F32_TINY, undefined, `eps ${eps} x ${x} loss`);
        expectClose(r.grad, ref.grad, 3e-5, F32_TINY, ref.gradScale, `eps ${eps} x ${x} grad`);
      }
    }
  });

  test('label 0 is an ordinary class: permuting the classes permutes the gradient, and keeps the loss', () => {
    fc.assert(
      fc.property(
        softmaxProblem.filter(
          (pb) =>
            !pb.probs && pb.options.classes !== undefined && pb.options.classes > 1 && pb.options.ignoreIndex !== 1,
        ),
        fc.integer({ min: 1, max: 7 }),
        (pb, k) => {
          const C = pb.options.classes!;
          const swap = k % C === 0 ? 1 : k % C; // class 0 <-> class `swap`
          const perm = (c: number) => (c === 0 ? swap : c === swap ? 0 : c);
          const N = pb.logits.length / C;
          const logits2 = new Float64Array(pb.logits.length);
          for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) logits2[n * C + perm(c)] = pb.logits[n * C + c];
          const targets2 = pb.targets.map((t) => (t === pb.options.ignoreIndex ? t : perm(t)));
          const options = {
            ...pb.options,
            reduction: 'none' as const,
            weights: pb.options.weights && Float64Array.from(pb.options.weights),
          };
          let alpha2: number | number[] | undefined = pb.options.alpha;
          if (Array.isArray(alpha2)) {
            const a = alpha2;
            alpha2 = a.map((_, c) => a[perm(c)]);
          }
          const r1 = softmaxFocalLossWithGrad(Float64Array.from(pb.logits), Int32Array.from(pb.targets), options);
          const r2 = softmaxFocalLossWithGrad(logits2, Int32Array.from(targets2), { ...options, alpha: alpha2 });
          const ref = refSoftmax(pb.logits, pb.targets, pb.options);
          expectClose(r2.loss, r1.loss, 1e-12, F64_TINY, undefined, 'loss');
          const g2back = new Float64Array(r1.grad.length);
          for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) g2back[n * C + c] = r2.grad[n * C + perm(c)];
          expectClose(g2back, r1.grad, 1e-12, F64_TINY, ref.gradScale, 'grad');
        },
      ),
      RUNS,
    );
    // And concretely: all targets 0 with a wrong prediction is a real loss with a real gradient.
    const r = softmaxFocalLossWithGrad(new Float64Array([0, 3, 0, 3]), [0, 0], { classes: 2, reduction: 'none' });
    expect((r.loss as Float64Array)[0]).toBeGreaterThan(2);
    expect(r.grad[0]).toBeLessThan(-0.5);
  });

  test('ignoreIndex 255 with Uint8Array targets: those items add 0, have zero gradient, and are not counted', () => {
    fc.assert(
      fc.property(
        softmaxProblem.filter((pb) => !pb.probs && pb.options.classes !== undefined),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        (pb, mask) => {
          const C = pb.options.classes!;
          const N = pb.logits.length / C;
          const t = Uint8Array.from(pb.targets.map((v, i) => (mask[i] || v === pb.options.ignoreIndex ? 255 : v)));
          const options = {
            ...pb.options,
            ignoreIndex: 255,
            weights: pb.options.weights && Float64Array.from(pb.options.weights),
          };
          const logits = Float64Array.from(pb.logits);
          const kept = [...Array(N).keys()].filter((n) => t[n] !== 255);
          const sub = Float64Array.from(kept.flatMap((n) => pb.logits.slice(n * C, (n + 1) * C)));
          const subOptions = {
            ...options,
            weights: options.weights && Float64Array.from(kept.map((n) => options.weights![n])),
          };
          for (const reduction of ['mean', 'sum', 'none'] as const) {
            const r = softmaxFocalLossWithGrad(logits, t, { ...options, reduction });
            const s = softmaxFocalLossWithGrad(
              sub,
              kept.map((n) => t[n]),
              { ...subOptions, reduction },
            );
            if (reduction === 'none') {
              const loss = r.loss as Float64Array;
              for (let n = 0; n < N; n++) if (t[n] === 255) expect(loss[n]).toBe(0);
              expectSameBits(Float64Array.from(kept.map((n) => loss[n])), s.loss as Float64Array, 'kept losses');
            } else {
              expect(r.loss).toBe(s.loss);
            }
            for (let n = 0; n < N; n++) {
              const row = r.grad.subarray(n * C, (n + 1) * C);
              if (t[n] === 255) for (const g of row) expect(g).toBe(0);
            }
            expectSameBits(
              Float64Array.from(kept.flatMap((n) => [...r.grad.subarray(n * C, (n + 1) * C)])),
              s.grad,
              `${reduction} kept grad`,
            );
          }
        },
      ),
      RUNS,
    );
  });
});

// ----------------------------------------------------------------------------------------------
// Chunk boundaries: a batch is streamed through a 256 KiB scratch area. Results must not depend
// on where the chunks fall: gradients and per-item losses bit-identical to small separate calls.
// ----------------------------------------------------------------------------------------------

/** Items per chunk for channels-last rows of C classes, as ts/engine.ts lays the scratch out (to aim the batch sizes). */
function softmaxCapacity(
  C: number,
  T: number,
  opts: { grad: boolean; loss: boolean; weights: boolean; alphaPerClass: boolean },
) {
  const align = (n: number) => Math.ceil(n / 8) * 8;
  const perItem = align(C * T) * (opts.grad ? 2 : 1) + 4 + (opts.weights ? T : 0) + (opts.loss ? T : 0);
  const header = 8 + (opts.alphaPerClass ? align(C * T) : 0);
  return Math.floor((SCRATCH - header - 40) / perItem);
}

describe('chunk boundaries', () => {
  const C = 10;

  for (const [name, Ctor] of [
    ['float32', Float32Array],
    ['float64', Float64Array],
  ] as const) {
    test(`softmax [N, ${C}] ${name}: N around the chunk capacity`, () => {
      const T = Ctor.BYTES_PER_ELEMENT;
      const cap = softmaxCapacity(C, T, { grad: true, loss: true, weights: true, alphaPerClass: true });
      expect(cap).toBeGreaterThan(100);
      const rand = rng(cap);
      for (const N of [cap - 1, cap, cap + 1, 2 * cap + 3]) {
        const logits = filled(Ctor, N * C, () => (rand() - 0.5) * 30);
        const targets = Int32Array.from({ length: N }, () => (rand() < 0.05 ? -100 : Math.floor(rand() * C)));
        const weights = filled(Ctor, N, () => rand() * 2);
        const alpha = Array.from({ length: C }, (_, c) => 0.5 + c / 10);
        const options = { classes: C, gamma: 1.5, alpha, weights, labelSmoothing: 0.05 };
        const big = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'none' });
        const bigSum = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'sum' });
        const bigMean = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'mean' });
        // Small separate calls of 37 rows.
        const losses = new Ctor(N);
        const grad = new Ctor(N * C);
        let count = 0;
        for (let n0 = 0; n0 < N; n0 += 37) {
          const n1 = Math.min(N, n0 + 37);
          const r = softmaxFocalLossWithGrad(logits.subarray(n0 * C, n1 * C), targets.subarray(n0, n1), {
            ...options,
            weights: weights.subarray(n0, n1),
            reduction: 'none',
          });
          losses.set(r.loss as F, n0);
          grad.set(r.grad, n0 * C);
          for (let n = n0; n < n1; n++) if (targets[n] !== -100) count++;
        }
        expectSameBits(big.loss as F, losses, `N=${N} per-item losses`);
        expectSameBits(big.grad, grad, `N=${N} grad`);
        expectSameBits(bigSum.grad, grad, `N=${N} 'sum' grad`);
        let total = 0;
        for (const v of losses) total += v;
        expectClose(bigSum.loss as number, total, 1e-12, 0, undefined, `N=${N} sum`);
        expectClose(bigMean.loss as number, total / count, 1e-12, 0, undefined, `N=${N} mean`);
        expectClose(
          bigMean.grad,
          grad.map((g) => g / count),
          T === 4 ? 1e-6 : 1e-15,
          T === 4 ? F32_TINY : F64_TINY,
          undefined,
          `N=${N} mean grad`,
        );
        // And the loss-only call (a different chunk size: no gradient region) gives the same sum.
        expect(softmaxFocalLoss(logits, targets, { ...options, reduction: 'sum' })).toBe(bigSum.loss);
      }
    });
  }

  test('softmax channels-first images larger than one chunk, and several images per chunk (float32)', () => {
    const rand = rng(7);
    for (const shape of [
      [2, C, 60, 60],
      [40, C, 10, 10],
      [3, 4, 9000],
    ]) {
      const [N, CC] = shape;
      const S = shape.slice(2).reduce((a, b) => a * b, 1);
      const logits = Float32Array.from({ length: N * CC * S }, () => (rand() - 0.5) * 30);
      const targets = Uint8Array.from({ length: N * S }, () => (rand() < 0.05 ? 255 : Math.floor(rand() * CC)));
      const options = { shape, gamma: 2, ignoreIndex: 255 };
      const big = softmaxFocalLossWithGrad(logits, targets, { ...options, reduction: 'none' });
      // Small separate calls: [1, C, k] slices of each image, gathered channel by channel.
      const losses = new Float32Array(N * S);
      const grad = new Float32Array(N * CC * S);
      const k = 113;
      for (let n = 0; n < N; n++) {
        for (let s0 = 0; s0 < S; s0 += k) {
          const sc = Math.min(k, S - s0);
          const part = new Float32Array(CC * sc);
          for (let c = 0; c < CC; c++)
            part.set(logits.subarray((n * CC + c) * S + s0, (n * CC + c) * S + s0 + sc), c * sc);
          const r = softmaxFocalLossWithGrad(part, targets.subarray(n * S + s0, n * S + s0 + sc), {
            shape: [1, CC, sc],
            gamma: 2,
            ignoreIndex: 255,
            reduction: 'none',
          });
          losses.set(r.loss as Float32Array, n * S + s0);
          for (let c = 0; c < CC; c++) grad.set(r.grad.subarray(c * sc, (c + 1) * sc), (n * CC + c) * S + s0);
        }
      }
      expectSameBits(big.loss as Float32Array, losses, `shape [${shape}] per-item losses`);
      expectSameBits(big.grad, grad, `shape [${shape}] grad`);
      // The same items as channels-last rows agree too.
      const rows = new Float32Array(N * S * CC);
      for (let n = 0; n < N; n++)
        for (let c = 0; c < CC; c++)
          for (let s = 0; s < S; s++) rows[(n * S + s) * CC + c] = logits[(n * CC + c) * S + s];
      const last = softmaxFocalLoss(rows, targets, {
        classes: CC,
        gamma: 2,
        ignoreIndex: 255,
        reduction: 'none',
      }) as Float32Array;
      expectClose(last, losses, 1e-6, F32_TINY, undefined, `shape [${shape}] channels-last`);
    }
  });

  test('sigmoid lengths around the chunk capacity (float32 and float64)', () => {
    for (const Ctor of [Float32Array, Float64Array]) {
      const T = Ctor.BYTES_PER_ELEMENT;
      // logits, targets, grad, weights, loss.
      const cap = Math.floor((SCRATCH - 48) / (5 * T));
      const rand = rng(T);
      for (const n of [cap - 1, cap, cap + 1, 2 * cap + 3]) {
        const logits = filled(Ctor, n, () => (rand() - 0.5) * 30);
        const targets = filled(Ctor, n, () => (rand() < 0.3 ? 1 : 0));
        const weights = filled(Ctor, n, () => rand());
        const options = { gamma: 2, alpha: 0.25, weights };
        const big = sigmoidFocalLossWithGrad(logits, targets, { ...options, reduction: 'none' });
        const losses = new Ctor(n);
        const grad = new Ctor(n);
        for (let i0 = 0; i0 < n; i0 += 501) {
          const i1 = Math.min(n, i0 + 501);
          const r = sigmoidFocalLossWithGrad(logits.subarray(i0, i1), targets.subarray(i0, i1), {
            ...options,
            weights: weights.subarray(i0, i1),
            reduction: 'none',
          });
          losses.set(r.loss as F, i0);
          grad.set(r.grad, i0);
        }
        expectSameBits(big.loss as F, losses, `n=${n} losses`);
        expectSameBits(big.grad, grad, `n=${n} grad`);
        const sum = sigmoidFocalLoss(logits, targets, { ...options, reduction: 'sum' }) as number;
        expectClose(sum, sumOf(losses), 1e-10, 0, undefined, `n=${n} sum`);
      }
    }
  });
});
