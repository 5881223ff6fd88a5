// Defaults and validation (CONTRACT.md § Inputs that are not valid, § Call guarantees). A call's
// arguments are read exactly once, into a frozen plan that the engine runs: every option key is
// read once, every number[] is copied once into a typed array, typed arrays are recognised by their
// internal brand and replaced by fresh views of their memory. Every value is checked in the
// precision the kernel will compute in (float32 logits: after rounding to float32), so the kernel's
// own checks never fire and a call that passes here never fails part-way. Errors: a TypeError for
// the wrong kind of argument, a RangeError for a wrong value, length or shape, with a message that
// names the argument.

import { canonicalView, describe, isArray, isFloatKind, readProperty, show, typedKind, type TypedKind } from './arrays.js';

export type FloatArray = Float32Array | Float64Array;
export type ClassIndices =
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | readonly number[];
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of the softmax (multi-class) focal loss. */
export interface SoftmaxFocalOptions<L extends FloatArray = FloatArray> {
  /** C, for row-major logits of shape [M, C] (classes contiguous, channels-last). */
  classes?: number;
  /** [N, C, ...spatial], channels-first like PyTorch; targets are then [N, ...spatial]. */
  shape?: readonly number[];
  /** Focusing parameter γ ≥ 0 (default 2); 0 is exactly (weighted) cross-entropy. */
  gamma?: number;
  /** A weight for every class, or one per class (length C); none means 1. */
  alpha?: number | ArrayLike<number> | null;
  /** 'mean' (default): sum over counted items / their number; 'sum'; 'none': one value per item. */
  reduction?: Reduction;
  /** Items whose target equals it add 0 and are not counted by 'mean' (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1): target distribution q ← (1 − ε)·q + ε/C (default 0). */
  labelSmoothing?: number;
  /** One non-negative weight per item (row or position), multiplying that item's loss. */
  weights?: ArrayLike<number> | null;
  /** Receives the gradient (the logits' type and length); no allocation. */
  out?: L | null;
}

/** Options of the sigmoid (binary, multi-label) focal loss. */
export interface SigmoidFocalOptions<L extends FloatArray = FloatArray> {
  /** Focusing parameter γ ≥ 0 (default 2). */
  gamma?: number;
  /** α in [0, 1] weights positives, 1 − α negatives (default 0.25); null or -1 turns it off. */
  alpha?: number | null;
  /** 'mean' (default) over all elements, 'sum', or 'none' (one value per element). */
  reduction?: Reduction;
  /** ε in [0, 1): y ← y·(1 − ε) + ε/2 (default 0). */
  labelSmoothing?: number;
  /** One non-negative weight per element. */
  weights?: ArrayLike<number> | null;
  /** Receives the gradient (the logits' type and length); no allocation. */
  out?: L | null;
}

type IndexArray = Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
export type NumericArray = FloatArray | IndexArray;

/**
 * A validated call, ready for the engine: logits as [batch, classes, spatial] (the sigmoid loss is
 * [elements, 1, 1]); every array a typed array the caller cannot change through getters or Proxies.
 */
export interface Plan {
  readonly loss: 'softmax' | 'sigmoid';
  readonly logits: FloatArray;
  readonly batch: number;
  readonly classes: number;
  readonly spatial: number;
  /** batch × spatial. */
  readonly items: number;
  /** Class indices (one per item), or target values in the logits' layout. */
  readonly targets: { readonly kind: 'index'; readonly data: IndexArray } | { readonly kind: 'value'; readonly data: NumericArray };
  readonly gamma: number;
  /** Softmax: every class's alpha (1 when none). Sigmoid: α, or −1 for no weighting. */
  readonly alphaScalar: number;
  /** Softmax: one alpha per class, in the kernel's precision. */
  readonly alphaPerClass: FloatArray | null;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  readonly weights: NumericArray | null;
  readonly reduction: Reduction;
  /** Items counted by 'mean' (softmax: not ignored; sigmoid: every element). */
  readonly count: number;
  /** The caller's gradient destination, and a fresh view of its memory that the engine writes. */
  readonly out: { readonly caller: FloatArray; readonly view: FloatArray } | null;
}

/** How far from 1 a soft target row's sum may be. Must match PROBABILITY_SUM_TOLERANCE in crate/src/lib.rs. */
export const PROBABILITY_SUM_TOLERANCE = 1e-3;

/** More dimensions than any framework allows (NumPy's and PyTorch's limit is 64). */
const MAX_DIMENSIONS = 64;

const SOFTMAX_KEYS = ['classes', 'shape', 'gamma', 'alpha', 'reduction', 'ignoreIndex', 'labelSmoothing', 'weights', 'out'] as const;
const SIGMOID_KEYS = ['gamma', 'alpha', 'reduction', 'labelSmoothing', 'weights', 'out'] as const;
/** Options a partial function does not take (it is always the sum of item losses, with no gradient). */
const NOT_PARTIAL = ['reduction', 'out'];
/** Spellings users bring from PyTorch / Keras, and ours. */
const ALIASES: Record<string, string> = {
  ignore_index: 'ignoreIndex', label_smoothing: 'labelSmoothing', num_classes: 'classes', weight: 'weights',
  sample_weight: 'weights', from_logits: '(nothing: logits are always expected)', reduce: 'reduction',
};
const PARTIAL_HINT =
  ': a partial is always { sum, residual, count }; combine partials with combineFocalPartials (or Σ sum / Σ count), and for gradients call the *WithGrad function with reduction \'sum\' and scale by 1 / Σ count';
const INDEX_KINDS: readonly TypedKind[] = ['Int32Array', 'Uint32Array', 'Int16Array', 'Uint16Array', 'Int8Array', 'Uint8Array'];
const NUMERIC_KINDS: readonly TypedKind[] = ['Float32Array', 'Float64Array', ...INDEX_KINDS];

type Dtype = 'Float32Array' | 'Float64Array';

/** The value the kernel will see: float32 logits round every float they are given. */
function inKernel(dtype: Dtype): (x: number) => number {
  return dtype === 'Float32Array' ? Math.fround : (x) => x;
}

/** ' (Infinity in float32, …)' when rounding to the kernel's precision is what made `x` fail. */
function roundingNote(x: number, dtype: Dtype): string {
  const r = inKernel(dtype)(x);
  return r === x || Number.isNaN(x) ? '' : ` (it is ${show(r)} in float32, the precision of Float32Array logits)`;
}

function newFloat(dtype: Dtype, length: number): FloatArray {
  return dtype === 'Float32Array' ? new Float32Array(length) : new Float64Array(length);
}

function readLogits(v: unknown): FloatArray {
  const kind = typedKind(v);
  if (!isFloatKind(kind)) throw new TypeError(`focal-loss: logits must be a Float32Array or Float64Array (got ${describe(v)})`);
  return canonicalView(v, kind, 'logits');
}

/**
 * Reads each option of `keys` exactly once into a plain object, after refusing keys it does not know.
 * `fn` names the function in messages; `partial`: the options of a *Partial function.
 */
function readOptions(arg: unknown, keys: readonly string[], fn: string, partial: boolean, need: string): Record<string, unknown> {
  if (typeof arg !== 'object' || arg === null) throw new TypeError(`focal-loss: options must be an object${need} (got ${describe(arg)})`);
  let own: string[];
  try {
    own = Object.keys(arg);
  } catch {
    throw new TypeError('focal-loss: options could not be read (its keys could not be listed)');
  }
  const allowed = partial ? keys.filter((k) => !NOT_PARTIAL.includes(k)) : keys;
  for (const key of own) {
    if (allowed.includes(key)) continue;
    const hint = partial && NOT_PARTIAL.includes(key) ? PARTIAL_HINT : ALIASES[key] ? ` (did you mean ${ALIASES[key]}?)` : '';
    throw new TypeError(`focal-loss: ${fn} has no option '${key}'${hint}${hint.startsWith(':') ? '' : `; options are ${allowed.join(', ')}`}`);
  }
  const o: Record<string, unknown> = {};
  for (const key of allowed) o[key] = readProperty(arg, key, `options.${key}`);
  return o;
}

function num(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`focal-loss: ${name} must be a number (got ${describe(v)})`);
  return v;
}

function readGamma(v: unknown, dtype: Dtype): number {
  if (v === undefined) return 2;
  const g = num('options.gamma', v);
  if (!(Number.isFinite(inKernel(dtype)(g)) && g >= 0)) {
    throw new RangeError(`focal-loss: options.gamma = ${show(g)} must be a finite number >= 0${roundingNote(g, dtype)}`);
  }
  return g;
}

function readSmoothing(v: unknown, dtype: Dtype): number {
  if (v === undefined) return 0;
  const e = num('options.labelSmoothing', v);
  const r = inKernel(dtype)(e);
  if (!(r >= 0 && r < 1)) throw new RangeError(`focal-loss: options.labelSmoothing = ${show(e)} must be in [0, 1)${roundingNote(e, dtype)}`);
  return e;
}

function readReduction(v: unknown, partial: boolean): Reduction {
  if (partial) return 'none';
  if (v === undefined) return 'mean';
  if (typeof v !== 'string') throw new TypeError(`focal-loss: options.reduction must be a string (got ${describe(v)})`);
  if (v !== 'mean' && v !== 'sum' && v !== 'none') {
    throw new RangeError(`focal-loss: options.reduction = '${v}' must be 'mean', 'sum' or 'none'`);
  }
  return v;
}

/** The length of a number[] (read once), which must be `length` (`expected` says so in words, with the number). */
function listLength(v: object, name: string, length: number, expected: string): void {
  const n = readProperty(v, 'length', `${name}.length`);
  if (n !== length) throw new RangeError(`focal-loss: ${name}.length = ${typeof n === 'number' ? show(n) : describe(n)} must equal ${expected}`);
}

/**
 * Checks of typed arrays' contents, run after every read that can run the caller's code (option
 * getters, Proxy traps, number[] elements): such code could otherwise change a typed array after
 * it was checked. Typed arrays themselves have no getters, so once these pass nothing changes.
 */
type Deferred = (() => void)[];

/**
 * A numeric array option (a typed array of a numeric kind, or a number[] copied once), `length`
 * long, whose values, as the kernel will see them, pass `ok`. Typed arrays are used in place (their
 * values checked in `deferred`); a number[] becomes a typed array of the kernel's type (`dtype`).
 */
function readNumbers(
  v: unknown, name: string, length: number, lengthText: string, dtype: Dtype, ok: (x: number) => boolean, expected: string,
  deferred: Deferred,
): NumericArray {
  const kind = typedKind(v);
  const round = inKernel(dtype);
  if (kind && NUMERIC_KINDS.includes(kind)) {
    const a = canonicalView(v, kind, name) as NumericArray;
    if (a.length !== length) throw new RangeError(`focal-loss: ${name}.length = ${a.length} must equal ${lengthText}`);
    deferred.push(() => {
      for (let i = 0; i < a.length; i++) {
        const x = a[i];
        if (!ok(round(x))) throw new RangeError(`focal-loss: ${name}[${i}] = ${show(x)} must be ${expected}${roundingNote(x, dtype)}`);
      }
    });
    return a;
  }
  if (!isArray(v)) throw new TypeError(`focal-loss: ${name} must be a Float32Array, Float64Array or number[] (got ${describe(v)})`);
  listLength(v, name, length, lengthText);
  const a = newFloat(dtype, length);
  for (let i = 0; i < length; i++) {
    const x = readProperty(v, i, `${name}[${i}]`);
    if (typeof x !== 'number') throw new TypeError(`focal-loss: ${name}[${i}] must be a number (got ${describe(x)})`);
    if (!ok(round(x))) throw new RangeError(`focal-loss: ${name}[${i}] = ${show(x)} must be ${expected}${roundingNote(x, dtype)}`);
    a[i] = x;
  }
  return a;
}

const finiteNonNegative = (x: number) => x >= 0 && x < Infinity;

function readWeights(v: unknown, items: number, what: string, dtype: Dtype, deferred: Deferred): NumericArray | null {
  if (v === undefined || v === null) return null;
  return readNumbers(v, 'options.weights', items, `the number of ${what} ${items}`, dtype, finiteNonNegative, 'a finite number >= 0', deferred);
}

function readOut(v: unknown, logits: FloatArray, dtype: Dtype): Plan['out'] {
  if (v === undefined || v === null) return null;
  const kind = typedKind(v);
  if (kind !== dtype) throw new TypeError(`focal-loss: options.out must be a ${dtype} like logits (got ${describe(v)})`);
  const view = canonicalView(v, kind, 'options.out');
  if (view.length !== logits.length) {
    throw new RangeError(`focal-loss: options.out.length = ${view.length} must equal logits.length = ${logits.length}`);
  }
  return { caller: v as FloatArray, view };
}

function positiveInt(name: string, v: unknown, min: number): number {
  const n = num(name, v);
  if (!(Number.isSafeInteger(n) && n >= min)) throw new RangeError(`focal-loss: ${name} = ${show(n)} must be an integer >= ${min}`);
  return n;
}

/** [batch, classes, spatial] from `shape` or `classes`, checked against the logits' length without forming huge products. */
function readLayout(o: Record<string, unknown>, length: number): { batch: number; classes: number; spatial: number } {
  if (o.shape !== undefined) {
    if (!isArray(o.shape)) throw new TypeError(`focal-loss: options.shape must be an array [N, C, ...spatial] (got ${describe(o.shape)})`);
    const rank = readProperty(o.shape, 'length', 'options.shape.length');
    if (typeof rank !== 'number') throw new TypeError(`focal-loss: options.shape.length must be a number (got ${describe(rank)})`);
    if (rank > MAX_DIMENSIONS) throw new RangeError(`focal-loss: options.shape has ${rank} dimensions, more than ${MAX_DIMENSIONS}`);
    const dims: number[] = [];
    for (let i = 0; i < rank; i++) dims.push(positiveInt(`options.shape[${i}]`, readProperty(o.shape, i, `options.shape[${i}]`), i === 1 ? 1 : 0));
    if (rank < 2) throw new RangeError(`focal-loss: options.shape = [${dims.join(', ')}] must have at least 2 dimensions [N, C, ...spatial]`);
    if (o.classes !== undefined && o.classes !== dims[1]) {
      throw new RangeError(`focal-loss: options.classes = ${typeof o.classes === 'number' ? show(o.classes) : describe(o.classes)} disagrees with options.shape[1] = ${dims[1]}`);
    }
    // The element count, stopping as soon as it exceeds the logits' length (dims can be 2^53 each).
    let elements = dims.includes(0) ? 0 : 1;
    for (const d of dims) if (elements > 0 && elements <= length) elements *= d;
    if (elements !== length) {
      const count = elements > length ? `more than ${length}` : String(elements);
      throw new RangeError(`focal-loss: options.shape = [${dims.join(', ')}] has ${count} elements but logits.length = ${length}`);
    }
    const spatial = dims.slice(2).reduce((a, d) => a * d, 1);
    // An empty batch (a zero dimension) has no items: [0, C, 0] rather than a dimension of 2^53 to loop over.
    return length === 0 ? { batch: 0, classes: dims[1], spatial: 0 } : { batch: dims[0], classes: dims[1], spatial };
  }
  if (o.classes !== undefined) {
    const classes = positiveInt('options.classes', o.classes, 1);
    if (length % classes !== 0) throw new RangeError(`focal-loss: logits.length = ${length} is not a multiple of options.classes = ${classes}`);
    return { batch: length / classes, classes, spatial: 1 };
  }
  throw new TypeError(`focal-loss: softmax options need 'classes' (for [M, C] logits) or 'shape' (for [N, C, ...spatial])`);
}

/** Validates a softmax call completely (`partial`: a *Partial function's options); returns its plan or throws. */
export function softmaxPlan(logitsArg: unknown, targetsArg: unknown, optionsArg: unknown, partial = false): Plan {
  const fn = partial ? 'softmaxFocalLossPartial' : 'softmaxFocalLoss';
  const logits = readLogits(logitsArg);
  const dtype = typedKind(logits) as Dtype;
  const deferred: Deferred = [];
  const o = readOptions(optionsArg, SOFTMAX_KEYS, fn, partial, " with 'classes' or 'shape'");
  const { batch, classes, spatial } = readLayout(o, logits.length);
  const items = batch * spatial;
  const gamma = readGamma(o.gamma, dtype);
  const labelSmoothing = readSmoothing(o.labelSmoothing, dtype);
  const reduction = readReduction(o.reduction, partial);

  let ignoreIndex = -100;
  if (o.ignoreIndex !== undefined) {
    ignoreIndex = num('options.ignoreIndex', o.ignoreIndex);
    if (!Number.isInteger(ignoreIndex) || ignoreIndex < -(2 ** 31) || ignoreIndex >= 2 ** 31) {
      throw new RangeError(`focal-loss: options.ignoreIndex = ${show(ignoreIndex)} must be a 32-bit integer`);
    }
  }

  let alphaScalar = 1;
  let alphaPerClass: FloatArray | null = null;
  if (typeof o.alpha === 'number') {
    if (!finiteNonNegative(inKernel(dtype)(o.alpha))) {
      throw new RangeError(`focal-loss: options.alpha = ${show(o.alpha)} must be a finite number >= 0${roundingNote(o.alpha, dtype)}`);
    }
    alphaScalar = o.alpha;
  } else if (o.alpha !== undefined && o.alpha !== null) {
    // Copied once into the kernel's type: the engine writes it to wasm memory before any item.
    const a = readNumbers(o.alpha, 'options.alpha', classes, `the number of classes ${classes}`, dtype, finiteNonNegative, 'a finite number >= 0', deferred);
    alphaPerClass = newFloat(dtype, classes);
    alphaPerClass.set(a);
  }

  const weights = readWeights(o.weights, items, 'items', dtype, deferred);

  let targets: Plan['targets'];
  let count = items;
  const tkind = typedKind(targetsArg);
  if (isFloatKind(tkind)) {
    // Probabilities (Keras's categorical form): the logits' layout, each item's values in [0, 1] summing to 1.
    const q = canonicalView(targetsArg, tkind, 'targets');
    if (q.length !== logits.length) {
      throw new RangeError(
        `focal-loss: targets.length = ${q.length}: a ${tkind} of targets holds probabilities and must have logits.length = ${logits.length}` +
          (q.length === items ? '; for class indices pass an Int32Array or number[]' : ''),
      );
    }
    deferred.push(() => checkProbabilityRows(q, batch, classes, spatial, dtype));
    targets = { kind: 'value', data: q };
  } else if (tkind && INDEX_KINDS.includes(tkind)) {
    const t = canonicalView(targetsArg, tkind, 'targets') as IndexArray;
    if (t.length !== items) throw new RangeError(`focal-loss: targets.length = ${t.length} must equal ${itemCount(items, spatial)}`);
    deferred.push(() => {
      const bad = checkIndices(t, classes, ignoreIndex);
      if (bad >= 0) throw new RangeError(indexMessage(bad, t[bad], classes, ignoreIndex));
      count = -1 - bad;
    });
    targets = { kind: 'index', data: t };
  } else if (isArray(targetsArg)) {
    listLength(targetsArg, 'targets', items, itemCount(items, spatial));
    // Copied once: what was checked is what the kernel gets.
    const t = new Int32Array(items);
    count = 0;
    for (let i = 0; i < items; i++) {
      const v = readProperty(targetsArg, i, `targets[${i}]`);
      if (typeof v !== 'number') throw new TypeError(`focal-loss: targets[${i}] must be a number, a class index (got ${describe(v)})`);
      if (v !== ignoreIndex) {
        if (!(Number.isInteger(v) && v >= 0 && v < classes)) throw new RangeError(indexMessage(i, v, classes, ignoreIndex));
        count++;
      }
      t[i] = v;
    }
    targets = { kind: 'index', data: t };
  } else {
    throw new TypeError(`focal-loss: targets must be class indices (an integer typed array or number[]) or probabilities (Float32Array/Float64Array) (got ${describe(targetsArg)})`);
  }
  for (const check of deferred) check();
  const out = readOut(o.out, logits, dtype);

  return Object.freeze<Plan>({
    loss: 'softmax', logits, batch, classes, spatial, items, targets, gamma, alphaScalar, alphaPerClass,
    ignoreIndex, labelSmoothing, weights, reduction, count, out,
  });
}

function itemCount(items: number, spatial: number): string {
  return `the number of items ${items} (one class index per ${spatial === 1 ? 'row' : 'position'})`;
}

function indexMessage(i: number, v: number, classes: number, ignoreIndex: number): string {
  return `focal-loss: targets[${i}] = ${show(v)} is not a class index in [0, ${classes}) or ignoreIndex ${ignoreIndex}`;
}

/** Class indices in a typed array: the first index out of [0, classes) and not ignoreIndex, else −1 − (count of counted items). */
function checkIndices(t: IndexArray, classes: number, ignoreIndex: number): number {
  let ignored = 0;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (v === ignoreIndex) ignored++;
    else if (!(v >= 0 && v < classes)) return i;
  }
  return -1 - (t.length - ignored);
}

/**
 * Each item's probabilities, as the kernel will see them (rounded to float32 for float32 logits),
 * are in [0, 1] and sum to 1 within the tolerance, summed in double in class order as the kernel does.
 */
function checkProbabilityRows(q: FloatArray, batch: number, classes: number, spatial: number, dtype: Dtype): void {
  if (q.length === 0) return;
  const round = inKernel(dtype);
  const sums = new Float64Array(spatial);
  for (let n = 0; n < batch; n++) {
    sums.fill(0);
    const base = n * classes * spatial;
    for (let c = 0; c < classes; c++) {
      for (let s = 0; s < spatial; s++) {
        const i = base + c * spatial + s;
        const v = round(q[i]);
        if (!(v >= 0 && v <= 1)) throw new RangeError(`focal-loss: targets[${i}] = ${show(q[i])} is not a probability in [0, 1]`);
        sums[s] += v;
      }
    }
    for (let s = 0; s < spatial; s++) {
      if (Math.abs(sums[s] - 1) > PROBABILITY_SUM_TOLERANCE) {
        const where = spatial === 1 ? `row ${n}` : `item [${n}, ${s}]`;
        const precision = dtype === 'Float32Array' ? ' (each value rounded to float32, the precision of Float32Array logits)' : '';
        throw new RangeError(`focal-loss: the target probabilities of ${where} sum to ${sums[s]}${precision}, not 1`);
      }
    }
  }
}

/** Validates a sigmoid call completely (`partial`: a *Partial function's options); returns its plan or throws. */
export function sigmoidPlan(logitsArg: unknown, targetsArg: unknown, optionsArg: unknown, partial = false): Plan {
  const fn = partial ? 'sigmoidFocalLossPartial' : 'sigmoidFocalLoss';
  const logits = readLogits(logitsArg);
  const dtype = typedKind(logits) as Dtype;
  const deferred: Deferred = [];
  const o = optionsArg === undefined ? {} : readOptions(optionsArg, SIGMOID_KEYS, fn, partial, '');
  const gamma = readGamma(o.gamma, dtype);
  const labelSmoothing = readSmoothing(o.labelSmoothing, dtype);
  const reduction = readReduction(o.reduction, partial);
  let alpha = 0.25;
  if (o.alpha === null || o.alpha === -1) {
    alpha = -1;
  } else if (o.alpha !== undefined) {
    alpha = num('options.alpha', o.alpha);
    if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`focal-loss: options.alpha = ${show(alpha)} must be in [0, 1], or null / -1 to turn weighting off`);
  }
  const n = logits.length;
  const tkind = typedKind(targetsArg);
  let targets: NumericArray;
  if (tkind && NUMERIC_KINDS.includes(tkind)) {
    targets = canonicalView(targetsArg, tkind, 'targets') as NumericArray;
    if (targets.length !== n) throw new RangeError(`focal-loss: targets.length = ${targets.length} must equal logits.length = ${n} (one target per logit)`);
    // Rounding to float32 maps [0, 1] onto [0, 1] and nothing else into it: the check needs no rounding.
    const y = targets;
    deferred.push(() => {
      const bad = firstNotProbability(y);
      if (bad >= 0) throw new RangeError(`focal-loss: targets[${bad}] = ${show(y[bad])} must be in [0, 1]`);
    });
  } else if (isArray(targetsArg)) {
    targets = readNumbers(targetsArg, 'targets', n, `logits.length = ${n} (one target per logit)`, dtype, (y) => y >= 0 && y <= 1, 'in [0, 1]', deferred);
  } else {
    throw new TypeError(`focal-loss: targets must be a Float32Array, Float64Array or number[] of values in [0, 1] (got ${describe(targetsArg)})`);
  }
  const weights = readWeights(o.weights, n, 'elements', dtype, deferred);
  for (const check of deferred) check();
  const out = readOut(o.out, logits, dtype);
  return Object.freeze<Plan>({
    loss: 'sigmoid', logits, batch: n, classes: 1, spatial: 1, items: n, targets: { kind: 'value' as const, data: targets }, gamma,
    alphaScalar: alpha, alphaPerClass: null, ignoreIndex: 0, labelSmoothing, weights, reduction, count: n, out,
  });
}

// The sigmoid target check runs over up to millions of values, so it is written per array kind: a
// typed array's elements are always numbers (integers for the integer kinds), so its loop needs only
// the comparisons its kind can fail.

/** The first target not in [0, 1] (−1 if none). */
function firstNotProbability(y: NumericArray): number {
  if (y instanceof Uint8Array && !anyByteAbove1(y)) return -1;
  if (y instanceof Uint8Array || y instanceof Uint16Array || y instanceof Uint32Array) {
    for (let i = 0; i < y.length; i++) if (y[i] > 1) return i;
    return -1;
  }
  if (y instanceof Float32Array) return firstOutside01F32(y);
  for (let i = 0; i < y.length; i++) if (!(y[i] >= 0 && y[i] <= 1)) return i;
  return -1;
}

/**
 * True if some byte of `y` is > 1, i.e. has a bit other than the lowest set: the bytes are OR-ed
 * four at a time through a Uint32Array view of the aligned middle (~10× faster than a loop of
 * byte comparisons in V8); the caller's byte loop then finds the index.
 */
function anyByteAbove1(y: Uint8Array): boolean {
  const head = Math.min(y.length, (4 - (y.byteOffset & 3)) & 3);
  const words = (y.length - head) >> 2;
  let m = 0;
  for (let i = 0; i < head; i++) m |= y[i];
  for (let i = head + words * 4; i < y.length; i++) m |= y[i];
  if (words > 0) {
    const w = new Uint32Array(y.buffer, y.byteOffset + head, words);
    const n4 = words & ~3;
    for (let i = 0; i < n4; i += 4) m |= w[i] | w[i + 1] | w[i + 2] | w[i + 3];
    for (let i = n4; i < words; i++) m |= w[i];
  }
  return (m & 0xfefefefe) !== 0;
}

/**
 * Float32 targets: the bit patterns of [+0, 1] are the int32s 0 … 0x3f800000, so a branch-free
 * pass ORs (0x3f800000 − b) | b over an Int32Array view, whose sign bit is set by any value
 * outside (negative, > 1, NaN; also −0, which is allowed): four accumulators, four elements a
 * step (~2.5× faster in V8 than comparing floats one by one). Only then does the float loop run
 * to find the index.
 */
function firstOutside01F32(y: Float32Array): number {
  const bits = new Int32Array(y.buffer, y.byteOffset, y.length);
  const n = bits.length;
  const n4 = n & ~3;
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  let m3 = 0;
  for (let i = 0; i < n4; i += 4) {
    const b0 = bits[i];
    const b1 = bits[i + 1];
    const b2 = bits[i + 2];
    const b3 = bits[i + 3];
    m0 |= (0x3f800000 - b0) | b0;
    m1 |= (0x3f800000 - b1) | b1;
    m2 |= (0x3f800000 - b2) | b2;
    m3 |= (0x3f800000 - b3) | b3;
  }
  let m = m0 | m1 | m2 | m3;
  for (let i = n4; i < n; i++) m |= (0x3f800000 - bits[i]) | bits[i];
  if (m >= 0) return -1;
  for (let i = 0; i < y.length; i++) if (!(y[i] >= 0 && y[i] <= 1)) return i;
  return -1;
}
