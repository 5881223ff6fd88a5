// The public API and its types. No loading happens here: each runtime's entry (ts/entries/)
// obtains the WebAssembly module and re-exports this file with its own `init` / `initSync`.

import {
  describe,
  describeError,
  inputView,
  isArray,
  readOwn,
  readProperty,
  show,
  stackError,
  typedKind,
} from './arrays.js';
import type { Engine } from './engine.js';
import { getEngine } from './loader.js';
import type { ElementLossName, FloatArray, OptionsOf, SigmoidFocalOptions, SoftmaxFocalOptions } from './family.js';
import { elementPlan, LOSSES, releasePlan, softmaxPlan, takePlan, type ClassIndices, type Plan } from './options.js';

export type { ElementOptions, FloatArray, Reduction, SoftmaxFocalOptions } from './family.js';
export type { ClassIndices } from './options.js';
export type { InitInput, InitSyncInput } from './loader.js';

/** Softmax targets: class indices (one per item) or probabilities (the logits' layout). */
export type SoftmaxTargets = ClassIndices | FloatArray;
/** Element-wise targets: one value in [0, 1] per logit, or (with `classes` / `shape`) one class index per item, C = background. */
export type SigmoidTargets = FloatArray | ClassIndices;

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

/** How many losses 'none' returns: one per item (softmax), one per element (element-wise losses). */
function lossCount(plan: Plan): number {
  return plan.loss === 'softmax' ? plan.items : plan.logits.length;
}

/** Runs a validated plan: the reduced loss (or one per item / element) and, `withGrad`, the gradient. */
function compute(engine: Engine, plan: Plan, withGrad: boolean) {
  const grad = withGrad ? (plan.out?.view ?? newLike(plan.logits, plan.logits.length)) : null;
  const each = plan.reduction === 'none' ? newLike(plan.logits, lossCount(plan)) : null;
  const { sum } = engine.run(plan, grad, each);
  const divisor = plan.normalizer ?? plan.count;
  const loss = each ?? (plan.reduction === 'mean' ? (divisor > 0 ? sum / divisor : 0) : sum);
  return { loss, grad: plan.out?.caller ?? grad };
}

// Each public function validates into a plan from options.ts's pool and gives it back once the engine
// has run it (a call that throws drops its plan): no plan is made per call.

function softmax(logits: unknown, targets: unknown, options: unknown, withGrad: boolean) {
  try {
    const engine = getEngine(); // first: before init, that is the error, whatever the arguments
    const plan = takePlan();
    const result = compute(engine, softmaxPlan(logits, targets, options, false, plan), withGrad);
    releasePlan(plan);
    return result;
  } catch (error) {
    throw stackError(error, withGrad ? 'softmaxFocalLossWithGrad' : 'softmaxFocalLoss');
  }
}

/**
 * Softmax (multi-class) focal loss: −w·Σ_c α_c q_c (1 − p_c)^γ log p_c per item, reduced.
 * Needs `classes` (logits [M, C]) or `shape` ([N, C, ...spatial], channels-first).
 *
 * @example softmaxFocalLoss(new Float32Array([2, 0, -1, 0, 3, 1]), [0, 1], { classes: 3 })
 */
export function softmaxFocalLoss<L extends FloatArray>(
  logits: L,
  targets: SoftmaxTargets,
  options: Omit<SoftmaxFocalOptions<L>, 'out'> & PerItem,
): L;
export function softmaxFocalLoss<L extends FloatArray>(
  logits: L,
  targets: SoftmaxTargets,
  options: Omit<SoftmaxFocalOptions<L>, 'out'> & Reduced,
): number;
export function softmaxFocalLoss<L extends FloatArray>(
  logits: L,
  targets: SoftmaxTargets,
  options: Omit<SoftmaxFocalOptions<L>, 'out'>,
): number | L;
export function softmaxFocalLoss(
  logits: FloatArray,
  targets: SoftmaxTargets,
  options: SoftmaxFocalOptions,
): number | FloatArray {
  return softmax(logits, targets, options, false).loss;
}

/** Softmax focal loss and its gradient with respect to the logits, in one fused pass. */
export function softmaxFocalLossWithGrad<L extends FloatArray>(
  logits: L,
  targets: SoftmaxTargets,
  options: SoftmaxFocalOptions<L> & PerItem,
): LossWithGrad<L, L>;
export function softmaxFocalLossWithGrad<L extends FloatArray>(
  logits: L,
  targets: SoftmaxTargets,
  options: SoftmaxFocalOptions<L> & Reduced,
): LossWithGrad<number, L>;
export function softmaxFocalLossWithGrad<L extends FloatArray>(
  logits: L,
  targets: SoftmaxTargets,
  options: SoftmaxFocalOptions<L>,
): LossWithGrad<number | L, L>;
export function softmaxFocalLossWithGrad(
  logits: FloatArray,
  targets: SoftmaxTargets,
  options: SoftmaxFocalOptions,
): LossWithGrad<number | FloatArray, FloatArray> {
  const r = softmax(logits, targets, options, true);
  return { loss: r.loss, grad: r.grad as FloatArray };
}

/** An element-wise loss function: a number for 'mean' / 'sum', the logits' array type for 'none'. */
export interface ElementLossFn<O> {
  <L extends FloatArray>(logits: L, targets: SigmoidTargets, options: Omit<O, 'out'> & PerItem): L;
  <L extends FloatArray>(logits: L, targets: SigmoidTargets, options?: Omit<O, 'out'> & Reduced): number;
  <L extends FloatArray>(logits: L, targets: SigmoidTargets, options?: Omit<O, 'out'>): number | L;
}

/** Its `*WithGrad` twin: the loss and the gradient (in `options.out` when given). */
export interface ElementLossWithGradFn<O> {
  <L extends FloatArray>(
    logits: L,
    targets: SigmoidTargets,
    options: Omit<O, 'out'> & { out?: L | null } & PerItem,
  ): LossWithGrad<L, L>;
  <L extends FloatArray>(
    logits: L,
    targets: SigmoidTargets,
    options?: Omit<O, 'out'> & { out?: L | null } & Reduced,
  ): LossWithGrad<number, L>;
  <L extends FloatArray>(
    logits: L,
    targets: SigmoidTargets,
    options?: Omit<O, 'out'> & { out?: L | null },
  ): LossWithGrad<number | L, L>;
}

/** Its `*Partial` twin: `{ sum, residual, count, positives }` of a shard. */
export type ElementPartialFn<O> = (
  logits: FloatArray,
  targets: SigmoidTargets,
  options?: PartialOptions<O>,
) => FocalPartial;

/** The three functions of element-wise loss `name` (its descriptor in ts/family.ts). */
function elementFunctions<N extends ElementLossName, O = OptionsOf<N>>(name: N) {
  const loss = LOSSES[name];
  const run = (logits: unknown, targets: unknown, options: unknown, withGrad: boolean) => {
    try {
      const engine = getEngine();
      const plan = takePlan();
      const result = compute(engine, elementPlan(loss, logits, targets, options, false, plan), withGrad);
      releasePlan(plan);
      return result;
    } catch (error) {
      throw stackError(error, withGrad ? `${loss.name}WithGrad` : loss.name);
    }
  };
  return {
    value: ((logits: unknown, targets: unknown, options?: unknown) =>
      run(logits, targets, options, false).loss) as ElementLossFn<O>,
    withGrad: ((logits: unknown, targets: unknown, options?: unknown) =>
      run(logits, targets, options, true)) as ElementLossWithGradFn<O>,
    partial: ((logits: unknown, targets: unknown, options?: unknown) => {
      try {
        const engine = getEngine();
        const plan = takePlan();
        const result = partial(engine, elementPlan(loss, logits, targets, options, true, plan));
        releasePlan(plan);
        return result;
      } catch (error) {
        throw stackError(error, `${loss.name}Partial`);
      }
    }) as ElementPartialFn<O>,
  };
}

// Each element-wise loss of ts/family.ts's FAMILY, exported by name (static names, for bundlers and the types).
export type { SigmoidFocalOptions } from './family.js';
const sigmoid = elementFunctions('sigmoid');
/**
 * Sigmoid (binary, multi-label) focal loss: w·α_t·(1 − p_t)^γ·CE per element, reduced (torchvision's
 * `sigmoid_focal_loss`; α = 0.25 and γ = 2 by default). Targets: one value in [0, 1] per logit, or with
 * `classes` / `shape` one class index per item (t = C is background; `ignoreIndex` items are skipped).
 *
 * @example sigmoidFocalLoss(new Float32Array([3, -1]), new Uint8Array([1, 0]))
 */
export const sigmoidFocalLoss = sigmoid.value;
/** {@link sigmoidFocalLoss} and its gradient with respect to the logits, in one fused pass. */
export const sigmoidFocalLossWithGrad = sigmoid.withGrad;
/**
 * Sigmoid focal loss of a shard as `{ sum, residual, count, positives }` (see {@link FocalPartial}); takes
 * the options of {@link sigmoidFocalLoss} except `reduction`, `normalizer` and `out`.
 */
export const sigmoidFocalLossPartial = sigmoid.partial;

export type { QualityFocalOptions } from './family.js';
const quality = elementFunctions('quality');
/**
 * Quality focal loss (Li et al., Generalized Focal Loss, 2020; mmdet `QualityFocalLoss`): |y − σ(x)|^β·BCE(x, y)
 * per element, y a soft quality score in [0, 1] (or class indices with `classes` / `shape`, C = background).
 *
 * @example qualityFocalLoss(new Float32Array([1.5, -2]), new Float32Array([0.8, 0]), { beta: 2 })
 */
export const qualityFocalLoss = quality.value;
/** {@link qualityFocalLoss} and its gradient. */
export const qualityFocalLossWithGrad = quality.withGrad;
/** {@link qualityFocalLoss} of a shard as a partial. */
export const qualityFocalLossPartial = quality.partial;

export type { VarifocalOptions } from './family.js';
const varifocal = elementFunctions('varifocal');
/**
 * Varifocal loss (Zhang et al., VarifocalNet, 2021; mmdet `VarifocalLoss`): q·BCE(x, q) for a positive with
 * target score q > 0 (BCE alone without `iouWeighted`), α·σ(x)^γ·softplus(x) for a negative (q = 0).
 */
export const varifocalLoss = varifocal.value;
/** {@link varifocalLoss} and its gradient (the focal weight is differentiated, as in mmdet). */
export const varifocalLossWithGrad = varifocal.withGrad;
/** {@link varifocalLoss} of a shard as a partial. */
export const varifocalLossPartial = varifocal.partial;

export type { AsymmetricOptions } from './family.js';
const asymmetric = elementFunctions('asymmetric');
/**
 * Asymmetric loss (Ridnik et al., ICCV 2021; timm `AsymmetricLossMultiLabel`) for multi-label classification:
 * −y(1 − p)^γ+ log p − (1 − y)·p_m^γ− log(1 − p_m), p = σ(x), p_m = max(p − clip, 0). Defaults to 'mean'
 * (the authors' code returns the sum: pass `reduction: 'sum'`).
 */
export const asymmetricLoss = asymmetric.value;
/** {@link asymmetricLoss} and its gradient. */
export const asymmetricLossWithGrad = asymmetric.withGrad;
/** {@link asymmetricLoss} of a shard as a partial. */
export const asymmetricLossPartial = asymmetric.partial;

/**
 * Class-balanced weights (Cui et al., CVPR 2019) from per-class sample counts: α_c = (1 − β)/(1 − β^n_c),
 * rescaled so that Σ_c α_c = C. Pass the result as the softmax loss's `alpha`.
 *
 * @example classBalancedAlpha([900, 90, 10]) // the rare class gets the largest weight
 */
export function classBalancedAlpha(counts: ArrayLike<number>, beta = 0.9999): Float64Array {
  const n = readCounts(counts);
  if (typeof beta !== 'number') throw new TypeError(`focal-loss: beta must be a number (got ${describe(beta)})`);
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`focal-loss: beta = ${show(beta)} must be in [0, 1)`);
  // (1 − β)/(1 − β^n): 1 − β is exact for β ≥ ½, and 1 − β^n = −expm1(n·log1p(β − 1)) keeps its digits when
  // β^n is close to 1 (β = 0.9999 and small counts), where 1 − Math.pow(β, n) would cancel.
  const alpha = Float64Array.from(n, (nc) => (beta === 0 ? 1 : (1 - beta) / -Math.expm1(nc * Math.log1p(beta - 1))));
  const scale = alpha.length / alpha.reduce((a, v) => a + v, 0);
  return alpha.map((a) => a * scale);
}

/** classBalancedAlpha's counts: positive integers, at least one, each read once. */
function readCounts(counts: unknown): number[] {
  const kind = typedKind(counts);
  if (!(kind || isArray(counts)))
    throw new TypeError(`focal-loss: counts must be an array of per-class sample counts (got ${describe(counts)})`);
  const view = kind ? inputView(counts, kind, 'counts') : null;
  const length = view ? view.length : readProperty(counts as object, 'length', 'counts.length');
  if (typeof length !== 'number' || length < 1) throw new RangeError('focal-loss: counts must hold at least one class');
  return Array.from({ length }, (_, i) => {
    const c = view ? view[i] : readOwn(counts as object, i, `counts[${i}]`);
    if (typeof c !== 'number') throw new TypeError(`focal-loss: counts[${i}] must be a number (got ${describe(c)})`);
    if (!(Number.isSafeInteger(c) && c >= 1))
      throw new RangeError(`focal-loss: counts[${i}] = ${show(c)} must be a positive integer`);
    return c;
  });
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
  /**
   * What `'mean'` divides by: softmax, items whose target is not `ignoreIndex`; element-wise losses,
   * every element (class-index targets: counted items × C).
   */
  count: number;
  /**
   * Element-wise losses: the sum of the (unsmoothed) targets over counted elements — with class-index
   * targets, the counted items that are not background. RetinaNet's normalizer, added up across shards.
   */
  positives?: number;
}

/** Options of the partial functions: the loss's options without `reduction` (always the sum), `normalizer` and `out`. */
type PartialOptions<O> = Omit<O, 'reduction' | 'out' | 'normalizer'>;
export type SoftmaxPartialOptions = PartialOptions<SoftmaxFocalOptions>;
export type SigmoidPartialOptions = PartialOptions<SigmoidFocalOptions>;

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
function partial(engine: Engine, plan: Plan): FocalPartial {
  const loss = newLike(plan.logits, lossCount(plan));
  const { positives } = engine.run(plan, null, loss);
  const { hi, lo } = sum2(loss);
  return plan.loss === 'softmax'
    ? { sum: hi, residual: lo, count: plan.count }
    : { sum: hi, residual: lo, count: plan.count, positives };
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
export function softmaxFocalLossPartial(
  logits: FloatArray,
  targets: SoftmaxTargets,
  options: SoftmaxPartialOptions,
): FocalPartial {
  try {
    const engine = getEngine();
    const plan = takePlan();
    const result = partial(engine, softmaxPlan(logits, targets, options, true, plan));
    releasePlan(plan);
    return result;
  } catch (error) {
    throw stackError(error, 'softmaxFocalLossPartial');
  }
}

/**
 * Combines shards' partials into the whole batch's: the sums added as double-doubles (so the result
 * does not depend on how the batch was split or in which order the partials arrive), the counts added,
 * `positives` added when every part has it, and `mean = sum / count` (0 when nothing was counted, like
 * `'mean'`); divide `sum` by `positives` for RetinaNet's normalization.
 */
export function combineFocalPartials(parts: Iterable<FocalPartial>): FocalPartial & { mean: number } {
  try {
    return combine(parts);
  } catch (error) {
    throw stackError(error, 'combineFocalPartials');
  }
}

/** The running total of combineFocalPartials. */
interface Total {
  hi: number;
  lo: number;
  count: number;
  /** Σ positives while every part had them; undefined once one did not (or before the first part). */
  positives: number | undefined;
  parts: number;
}

function combine(parts: unknown): FocalPartial & { mean: number } {
  const total: Total = { hi: 0, lo: 0, count: 0, positives: 0, parts: 0 };
  // Each part is read and checked as it comes, before the next is looked at: a list is never copied
  // first (a holey array of length 2^32 − 1 fails at its first hole, not after building 4 billion entries).
  if (isArray(parts)) {
    const n = readProperty(parts, 'length', 'parts.length') as number;
    for (let i = 0; i < n; i++) add(total, readOwn(parts, i, `parts[${i}]`), i);
  } else if (typeof parts === 'object' && parts !== null) {
    const iteratorFn = readProperty(parts, Symbol.iterator as unknown as string, 'parts');
    if (typeof iteratorFn !== 'function') throw notParts(parts);
    const iterated = (what: string, error?: unknown) =>
      new TypeError(`focal-loss: parts could not be iterated (${error === undefined ? what : describeError(error)})`);
    let iterator: unknown;
    let next: unknown;
    try {
      iterator = iteratorFn.call(parts);
      next = typeof iterator === 'object' && iterator !== null ? (iterator as Iterator<unknown>).next : undefined;
    } catch (error) {
      throw iterated('', error);
    }
    if (typeof next !== 'function') throw iterated('its iterator has no next method');
    for (let i = 0; ; i++) {
      let r: unknown;
      let done: unknown;
      let value: unknown;
      try {
        r = next.call(iterator);
        if (typeof r === 'object' && r !== null) {
          done = (r as IteratorResult<unknown>).done;
          if (!done) value = (r as IteratorResult<unknown>).value;
        }
      } catch (error) {
        throw iterated('', error);
      }
      if (typeof r !== 'object' || r === null) throw iterated(`its iterator returned ${describe(r)}`);
      if (done) break;
      add(total, value, i);
    }
  } else {
    throw notParts(parts);
  }
  const { hi, lo, count } = total;
  const positives = total.parts > 0 ? total.positives : undefined;
  const combined = { sum: hi, residual: lo, count, mean: count > 0 ? hi / count : 0 };
  return positives === undefined ? combined : { ...combined, positives };
}

function notParts(parts: unknown): TypeError {
  return new TypeError(
    `focal-loss: parts must be an array (or iterable) of partials { sum, residual, count } (got ${describe(parts)})`,
  );
}

/**
 * Adds part `i` to the total after checking it, each field read once (own properties only): `sum` a
 * number (NaN or ±Infinity when a shard's logits held NaN or +Infinity, as the partial functions return
 * them), `residual` a finite number, `count` a non-negative safe integer (and the running count one too:
 * a count past 2^53 − 1 could not be represented, or fed back), `positives` absent or finite and >= 0.
 */
function add(total: Total, p: unknown, i: number): void {
  const name = `parts[${i}]`;
  if (typeof p !== 'object' || p === null)
    throw new TypeError(`focal-loss: ${name} must be a partial { sum, residual, count } (got ${describe(p)})`);
  const sum = partField(p, 'sum', name);
  const residual = partField(p, 'residual', name);
  const count = partField(p, 'count', name);
  const positives = readOwn(p, 'positives', `${name}.positives`);
  if (!Number.isFinite(residual))
    throw new RangeError(`focal-loss: ${name}.residual = ${show(residual)} must be finite`);
  if (!(Number.isSafeInteger(count) && count >= 0))
    throw new RangeError(`focal-loss: ${name}.count = ${show(count)} must be an integer >= 0`);
  if (positives !== undefined) {
    if (typeof positives !== 'number')
      throw new TypeError(`focal-loss: ${name}.positives must be a number (got ${describe(positives)})`);
    if (!(positives >= 0 && positives < Infinity))
      throw new RangeError(`focal-loss: ${name}.positives = ${show(positives)} must be a finite number >= 0`);
  }
  const newCount = total.count + count;
  if (!Number.isSafeInteger(newCount)) {
    throw new RangeError(
      `focal-loss: the counts of parts[0..${i}] add up to more than 2^53 - 1 (${name}.count = ${show(count)}), which a count cannot represent exactly`,
    );
  }
  ({ hi: total.hi, lo: total.lo } = sum2([sum, residual], total.hi, total.lo));
  total.count = newCount;
  total.positives =
    total.positives === undefined || positives === undefined ? undefined : total.positives + (positives as number);
  total.parts++;
}

function partField(p: object, key: 'sum' | 'residual' | 'count', name: string): number {
  const v = readOwn(p, key, `${name}.${key}`);
  if (typeof v !== 'number') throw new TypeError(`focal-loss: ${name}.${key} must be a number (got ${describe(v)})`);
  return v;
}
