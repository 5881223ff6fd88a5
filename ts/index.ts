// The public API and its types. No loading happens here: each runtime's entry (ts/entries/)
// obtains the WebAssembly module and re-exports this file with its own `init` / `initSync`.

import { getEngine } from './loader.js';
import {
  sigmoidPlan, softmaxPlan,
  type ClassIndices, type FloatArray, type Reduction, type SigmoidFocalOptions, type SoftmaxFocalOptions,
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

/** Bytes of WebAssembly memory in use: the module's own plus its scratch area (it does not grow with the batch). */
export function wasmMemoryBytes(): number {
  return getEngine().memoryBytes;
}
