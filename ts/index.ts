// The public API and its types. No loading happens here: each runtime's entry (ts/entries/)
// obtains the WebAssembly module and re-exports this file with its own `init` / `initSync`.

import { describe, isArray, readProperty, show } from './arrays.js';
import { getEngine } from './loader.js';
import {
  sigmoidPlan, softmaxPlan,
  type ClassIndices, type FloatArray, type Plan, type Reduction, type SigmoidFocalOptions, type SoftmaxFocalOptions,
} from './options.js';

export type { ClassIndices, FloatArray, Reduction, SigmoidFocalOptions, SoftmaxFocalOptions } from './options.js';
export type { InitInput, InitSyncInput } from './loader.js';

/** Softmax targets: class indices (one per item) or probabilities (the logits' layout). */
export type SoftmaxTargets = ClassIndices | FloatArray;
/** Sigmoid targets: one value in [0, 1] per logit. */
export type SigmoidTargets = FloatArray | Uint8Array | readonly number[];

/** Loss and gradient. `loss` is a number unless `reduction` is `'none'`. */
export interface LossWithGrad<Loss, L extends FloatArray> {
  loss: Loss;
  /** ∂loss/∂logits, the logits' type and layout (`options.out` when given). */
  grad: L;
}

type Reduced = { reduction?: 'mean' | 'sum' };
type PerItem = { reduction: 'none' };

function newLike(logits: FloatArray, length: number): FloatArray {
  return logits instanceof Float32Array ? new Float32Array(length) : new Float64Array(length);
}

/** Runs a validated plan: the reduced loss (or one per item) and, `withGrad`, the gradient. */
function compute(plan: Plan, withGrad: boolean) {
  const grad = withGrad ? (plan.out?.view ?? newLike(plan.logits, plan.logits.length)) : null;
  const perItem = plan.reduction === 'none' ? newLike(plan.logits, plan.items) : null;
  const sum = getEngine().run(plan, grad, perItem);
  const loss = perItem ?? (plan.reduction === 'mean' ? (plan.count > 0 ? sum / plan.count : 0) : sum);
  return { loss, grad: plan.out?.caller ?? grad };
}

function softmax(logits: unknown, targets: unknown, options: unknown, withGrad: boolean) {
  getEngine();
  return compute(softmaxPlan(logits, targets, options), withGrad);
}

function sigmoid(logits: unknown, targets: unknown, options: unknown, withGrad: boolean) {
  getEngine();
  return compute(sigmoidPlan(logits, targets, options), withGrad);
}

/**
 * Softmax (multi-class) focal loss: −w·Σ_c α_c q_c (1 − p_c)^γ log p_c per item, reduced.
 * Needs `classes` (logits [M, C]) or `shape` ([N, C, ...spatial], channels-first).
 *
 * @example softmaxFocalLoss(new Float32Array([2, 0, -1, 0, 3, 1]), [0, 1], { classes: 3 })
 */
export function softmaxFocalLoss<L extends FloatArray>(logits: L, targets: SoftmaxTargets, options: Omit<SoftmaxFocalOptions<L>, 'out'> & PerItem): L;
export function softmaxFocalLoss<L extends FloatArray>(logits: L, targets: SoftmaxTargets, options: Omit<SoftmaxFocalOptions<L>, 'out'> & Reduced): number;
export function softmaxFocalLoss<L extends FloatArray>(logits: L, targets: SoftmaxTargets, options: Omit<SoftmaxFocalOptions<L>, 'out'>): number | L;
export function softmaxFocalLoss(logits: FloatArray, targets: SoftmaxTargets, options: SoftmaxFocalOptions): number | FloatArray {
  return softmax(logits, targets, options, false).loss;
}

/** Softmax focal loss and its gradient with respect to the logits, in one fused pass. */
export function softmaxFocalLossWithGrad<L extends FloatArray>(logits: L, targets: SoftmaxTargets, options: SoftmaxFocalOptions<L> & PerItem): LossWithGrad<L, L>;
export function softmaxFocalLossWithGrad<L extends FloatArray>(logits: L, targets: SoftmaxTargets, options: SoftmaxFocalOptions<L> & Reduced): LossWithGrad<number, L>;
export function softmaxFocalLossWithGrad<L extends FloatArray>(logits: L, targets: SoftmaxTargets, options: SoftmaxFocalOptions<L>): LossWithGrad<number | L, L>;
export function softmaxFocalLossWithGrad(logits: FloatArray, targets: SoftmaxTargets, options: SoftmaxFocalOptions): LossWithGrad<number | FloatArray, FloatArray> {
  const r = softmax(logits, targets, options, true);
  return { loss: r.loss, grad: r.grad as FloatArray };
}

/**
 * Sigmoid (binary, multi-label) focal loss: w·α_t·(1 − p_t)^γ·CE per element, reduced
 * (torchvision's `sigmoid_focal_loss`; α = 0.25 and γ = 2 by default).
 *
 * @example sigmoidFocalLoss(new Float32Array([3, -1]), new Uint8Array([1, 0]))
 */
export function sigmoidFocalLoss<L extends FloatArray>(logits: L, targets: SigmoidTargets, options: Omit<SigmoidFocalOptions<L>, 'out'> & PerItem): L;
export function sigmoidFocalLoss<L extends FloatArray>(logits: L, targets: SigmoidTargets, options?: Omit<SigmoidFocalOptions<L>, 'out'> & Reduced): number;
export function sigmoidFocalLoss<L extends FloatArray>(logits: L, targets: SigmoidTargets, options?: Omit<SigmoidFocalOptions<L>, 'out'>): number | L;
export function sigmoidFocalLoss(logits: FloatArray, targets: SigmoidTargets, options?: SigmoidFocalOptions): number | FloatArray {
  return sigmoid(logits, targets, options, false).loss;
}

/** Sigmoid focal loss and its gradient with respect to the logits, in one fused pass. */
export function sigmoidFocalLossWithGrad<L extends FloatArray>(logits: L, targets: SigmoidTargets, options: SigmoidFocalOptions<L> & PerItem): LossWithGrad<L, L>;
export function sigmoidFocalLossWithGrad<L extends FloatArray>(logits: L, targets: SigmoidTargets, options?: SigmoidFocalOptions<L> & Reduced): LossWithGrad<number, L>;
export function sigmoidFocalLossWithGrad<L extends FloatArray>(logits: L, targets: SigmoidTargets, options?: SigmoidFocalOptions<L>): LossWithGrad<number | L, L>;
export function sigmoidFocalLossWithGrad(logits: FloatArray, targets: SigmoidTargets, options?: SigmoidFocalOptions): LossWithGrad<number | FloatArray, FloatArray> {
  const r = sigmoid(logits, targets, options, true);
  return { loss: r.loss, grad: r.grad as FloatArray };
}

/**
 * Bytes of WebAssembly memory: the module's own (its stack and scratch area), plus a spare area
 * once a single item wider than the scratch area was seen. It does not grow with the batch size.
 */
export function wasmMemoryBytes(): number {
  return getEngine().memoryBytes;
}

/**
 * A shard's share of a batch's `'mean'`: the sum of its item losses and the number of items `'mean'`
 * divides by. Shards of one batch (workers, devices, micro-batches) combine without the mean-of-means
 * error: `Σ sum / Σ count` is the whole batch's mean, and {@link combineFocalPartials} makes that exact.
 * Plain numbers: partials survive `postMessage` and JSON.
 */
export interface FocalPartial {
  /** Σ of the item losses (as computed in the logits' precision), correctly rounded to a double. */
  sum: number;
  /** What rounding left out: `sum + residual` is the exact Σ to about 1e-30 relative (0 if `sum` is not finite). */
  residual: number;
  /** Items counted by `'mean'`: softmax, items whose target is not `ignoreIndex`; sigmoid, every element. */
  count: number;
}

/** Options of the partial functions: the loss's options without `reduction` (always the sum) and `out`. */
export type SoftmaxPartialOptions = Omit<SoftmaxFocalOptions, 'reduction' | 'out'>;
export type SigmoidPartialOptions = Omit<SigmoidFocalOptions, 'reduction' | 'out'>;

/**
 * Σ x as a double-double (Ogita–Rump–Oishi Sum2: TwoSum with the errors carried along): `hi` is the
 * sum correctly rounded (the error of the pair is ~n·2⁻¹⁰⁶ relative for non-negative terms), `lo` the rest.
 */
function sum2(xs: ArrayLike<number>, hi0 = 0, lo0 = 0): { hi: number; lo: number } {
  let s = hi0;
  let c = lo0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const t = s + x;
    const b = t - s;
    c += s - (t - b) + (x - b);
    s = t;
  }
  if (!Number.isFinite(s)) return { hi: s, lo: 0 }; // an Infinity or NaN loss: no error term to carry
  const hi = s + c;
  return { hi, lo: c - (hi - s) };
}

/** A plan's per-item losses (in the logits' precision: the terms the kernel sums for 'sum') as a partial. */
function partial(plan: Plan): FocalPartial {
  const loss = newLike(plan.logits, plan.items);
  getEngine().run(plan, null, loss);
  const { hi, lo } = sum2(loss);
  return { sum: hi, residual: lo, count: plan.count };
}

/**
 * Softmax focal loss of a shard as `{ sum, residual, count }` (see {@link FocalPartial}); takes the options
 * of {@link softmaxFocalLoss} except `reduction` and `out`.
 *
 * @example
 * const a = softmaxFocalLossPartial(logitsA, targetsA, { classes: 10 });
 * const b = softmaxFocalLossPartial(logitsB, targetsB, { classes: 10 });
 * const { mean } = combineFocalPartials([a, b]); // the mean over both shards' counted items
 */
export function softmaxFocalLossPartial(logits: FloatArray, targets: SoftmaxTargets, options: SoftmaxPartialOptions): FocalPartial {
  getEngine();
  return partial(softmaxPlan(logits, targets, options, true));
}

/**
 * Sigmoid focal loss of a shard as `{ sum, residual, count }` (`count` is the number of elements); takes
 * the options of {@link sigmoidFocalLoss} except `reduction` and `out`.
 */
export function sigmoidFocalLossPartial(logits: FloatArray, targets: SigmoidTargets, options?: SigmoidPartialOptions): FocalPartial {
  getEngine();
  return partial(sigmoidPlan(logits, targets, options, true));
}

/**
 * Combines shards' partials into the whole batch's: the sums added as double-doubles (so the result
 * does not depend on how the batch was split or in which order the partials arrive), the counts added,
 * and `mean = sum / count` (0 when nothing was counted, like `'mean'`).
 */
export function combineFocalPartials(parts: Iterable<FocalPartial>): FocalPartial & { mean: number } {
  let hi = 0;
  let lo = 0;
  let count = 0;
  readPartials(parts).forEach((p) => {
    ({ hi, lo } = sum2([p.sum, p.residual], hi, lo));
    count += p.count;
  });
  return { sum: hi, residual: lo, count, mean: count > 0 ? hi / count : 0 };
}

/**
 * The partials, each field read once and checked: `sum` a number (NaN or ±Infinity when a shard's
 * logits held NaN or +Infinity, as the partial functions return them), `residual` a finite number,
 * `count` a non-negative safe integer.
 */
function readPartials(parts: unknown): FocalPartial[] {
  let list: unknown[];
  if (isArray(parts)) {
    const n = readProperty(parts, 'length', 'parts.length') as number;
    list = Array.from({ length: n }, (_, i) => readProperty(parts, i, `parts[${i}]`));
  } else if (typeof parts === 'object' && parts !== null && typeof readProperty(parts, Symbol.iterator as unknown as string, 'parts') === 'function') {
    try {
      list = [...(parts as Iterable<unknown>)];
    } catch (error) {
      throw new TypeError(`focal-loss: parts could not be iterated (${error instanceof Error ? error.message : describe(error)})`);
    }
  } else {
    throw new TypeError(`focal-loss: parts must be an array (or iterable) of partials { sum, residual, count } (got ${describe(parts)})`);
  }
  return list.map((p, i) => {
    const name = `parts[${i}]`;
    if (typeof p !== 'object' || p === null) throw new TypeError(`focal-loss: ${name} must be a partial { sum, residual, count } (got ${describe(p)})`);
    const field = (key: keyof FocalPartial) => {
      const v = readProperty(p, key, `${name}.${key}`);
      if (typeof v !== 'number') throw new TypeError(`focal-loss: ${name}.${key} must be a number (got ${describe(v)})`);
      return v;
    };
    const sum = field('sum');
    const residual = field('residual');
    const count = field('count');
    if (!Number.isFinite(residual)) throw new RangeError(`focal-loss: ${name}.residual = ${show(residual)} must be finite`);
    if (!(Number.isSafeInteger(count) && count >= 0)) throw new RangeError(`focal-loss: ${name}.count = ${show(count)} must be an integer >= 0`);
    return { sum, residual, count };
  });
}
