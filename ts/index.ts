// The public API and its types. No loading happens here: each runtime's entry (ts/entries/)
// obtains the WebAssembly module and re-exports this file with its own `init` / `initSync`.

import { getEngine } from './loader.js';
import {
  sigmoidPlan, softmaxPlan,
  type ClassIndices, type FloatArray, type Reduction, type SigmoidFocalOptions, type SoftmaxFocalOptions,
} from './options.js';

export type { ClassIndices, FloatArray, Reduction, SigmoidFocalOptions, SoftmaxFocalOptions } from './options.js';
export type { InitInput, InitSyncInput } from './loader.js';
export { allocateWasmArray, type WasmArray, type WasmArrayType } from './wasm-array.js';

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

function softmax(logits: FloatArray, targets: SoftmaxTargets, options: SoftmaxFocalOptions, withGrad: boolean) {
  const engine = getEngine();
  const plan = softmaxPlan(logits, targets, options);
  const grad = withGrad ? (plan.out ?? newLike(plan.logits, plan.logits.length)) : null;
  const perItem = plan.reduction === 'none' ? newLike(plan.logits, plan.items) : null;
  const sum = engine.softmax(plan, { grad, loss: perItem });
  const loss = perItem ?? (plan.reduction === 'mean' ? (plan.count > 0 ? sum / plan.count : 0) : sum);
  return { loss, grad };
}

function sigmoid(logits: FloatArray, targets: SigmoidTargets, options: SigmoidFocalOptions | undefined, withGrad: boolean) {
  const engine = getEngine();
  const plan = sigmoidPlan(logits, targets, options);
  const n = plan.logits.length;
  const grad = withGrad ? (plan.out ?? newLike(plan.logits, n)) : null;
  const perItem = plan.reduction === 'none' ? newLike(plan.logits, n) : null;
  const sum = engine.sigmoid(plan, { grad, loss: perItem });
  const loss = perItem ?? (plan.reduction === 'mean' ? (n > 0 ? sum / n : 0) : sum);
  return { loss, grad };
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
 * Bytes of WebAssembly memory: the module's own plus its scratch area, and what wasm arrays
 * ({@link allocateWasmArray}) took. It does not grow with the batch size.
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

/** The loss's options with `reduction: 'none'`; `reduction` and `out` are refused (a partial has neither). */
function perItemOptions(options: unknown, fn: string): unknown {
  if (typeof options !== 'object' || options === null) return options;
  for (const key of ['reduction', 'out']) {
    if ((options as Record<string, unknown>)[key] !== undefined) {
      throw new TypeError(`focal-loss: ${fn} has no option '${key}': a partial is always { sum, residual, count }; combine partials with combineFocalPartials (or Σ sum / Σ count), and for gradients call the *WithGrad function with reduction 'sum' and scale by 1 / Σ count`);
    }
  }
  return { ...options, reduction: 'none' };
}

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
  const engine = getEngine();
  const plan = softmaxPlan(logits, targets, perItemOptions(options, 'softmaxFocalLossPartial'));
  // Per-item losses come out in the logits' precision: the same terms the kernel sums for 'sum'.
  const loss = newLike(plan.logits, plan.items);
  engine.softmax(plan, { grad: null, loss });
  const { hi, lo } = sum2(loss);
  return { sum: hi, residual: lo, count: plan.count };
}

/**
 * Sigmoid focal loss of a shard as `{ sum, residual, count }` (`count` is the number of elements); takes
 * the options of {@link sigmoidFocalLoss} except `reduction` and `out`.
 */
export function sigmoidFocalLossPartial(logits: FloatArray, targets: SigmoidTargets, options?: SigmoidPartialOptions): FocalPartial {
  const engine = getEngine();
  const plan = sigmoidPlan(logits, targets, perItemOptions(options ?? {}, 'sigmoidFocalLossPartial'));
  const loss = newLike(plan.logits, plan.logits.length);
  engine.sigmoid(plan, { grad: null, loss });
  const { hi, lo } = sum2(loss);
  return { sum: hi, residual: lo, count: plan.logits.length };
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
  for (const p of parts) {
    ({ hi, lo } = sum2([p.sum, p.residual], hi, lo));
    count += p.count;
  }
  return { sum: hi, residual: lo, count, mean: count > 0 ? hi / count : 0 };
}
