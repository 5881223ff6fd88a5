// Defaults and validation. Everything a call could get wrong is checked here, before any work:
// a TypeError for the wrong kind of argument, a RangeError for a wrong value, length or shape,
// with a message that names the argument and what was expected.

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

/** A validated softmax call, ready for the engine. */
export interface SoftmaxPlan {
  logits: FloatArray;
  batch: number;
  classes: number;
  spatial: number;
  items: number;
  /** Class indices (one per item) or probabilities (logits' layout). */
  targets: { kind: 'index'; data: ClassIndices } | { kind: 'prob'; data: FloatArray };
  gamma: number;
  alphaScalar: number;
  alphaPerClass: ArrayLike<number> | null;
  ignoreIndex: number;
  labelSmoothing: number;
  weights: ArrayLike<number> | null;
  reduction: Reduction;
  /** Items counted by 'mean'. */
  count: number;
  out: FloatArray | null;
}

/** A validated sigmoid call, ready for the engine. */
export interface SigmoidPlan {
  logits: FloatArray;
  targets: ArrayLike<number>;
  gamma: number;
  /** < 0: weighting off. */
  alpha: number;
  labelSmoothing: number;
  weights: ArrayLike<number> | null;
  reduction: Reduction;
  out: FloatArray | null;
}

/** How far from 1 a soft target row's sum may be. Must match PROBABILITY_SUM_TOLERANCE in crate/src/lib.rs. */
export const PROBABILITY_SUM_TOLERANCE = 1e-3;

const SOFTMAX_KEYS = new Set(['classes', 'shape', 'gamma', 'alpha', 'reduction', 'ignoreIndex', 'labelSmoothing', 'weights', 'out']);
const SIGMOID_KEYS = new Set(['gamma', 'alpha', 'reduction', 'labelSmoothing', 'weights', 'out']);
/** Spellings users bring from PyTorch / Keras, and ours. */
const ALIASES: Record<string, string> = {
  ignore_index: 'ignoreIndex', label_smoothing: 'labelSmoothing', num_classes: 'classes', weight: 'weights',
  sample_weight: 'weights', from_logits: '(nothing: logits are always expected)', reduce: 'reduction',
};
const INT_ARRAYS = [Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array] as const;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v === 'string' ? `string '${v}'` : `${typeof v} ${String(v)}`;
}

export function isFloatArray(v: unknown): v is FloatArray {
  return v instanceof Float32Array || v instanceof Float64Array;
}

function isIntArray(v: unknown): boolean {
  return INT_ARRAYS.some((T) => v instanceof T);
}

function checkLogits(logits: unknown): FloatArray {
  if (!isFloatArray(logits)) {
    throw new TypeError(`focal-loss: logits must be a Float32Array or Float64Array (got ${describe(logits)})`);
  }
  return logits;
}

function checkKeys(options: object, allowed: Set<string>, fn: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) {
      const hint = ALIASES[key] ? ` (did you mean ${ALIASES[key]}?)` : '';
      throw new TypeError(`focal-loss: ${fn} has no option '${key}'${hint}; options are ${[...allowed].join(', ')}`);
    }
  }
}

function num(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`focal-loss: ${name} must be a number (got ${describe(v)})`);
  return v;
}

function checkGamma(v: unknown): number {
  if (v === undefined) return 2;
  const g = num('options.gamma', v);
  if (!(Number.isFinite(g) && g >= 0)) throw new RangeError(`focal-loss: options.gamma = ${g} must be a finite number >= 0`);
  return g;
}

function checkSmoothing(v: unknown): number {
  if (v === undefined) return 0;
  const e = num('options.labelSmoothing', v);
  if (!(e >= 0 && e < 1)) throw new RangeError(`focal-loss: options.labelSmoothing = ${e} must be in [0, 1)`);
  return e;
}

function checkReduction(v: unknown): Reduction {
  if (v === undefined) return 'mean';
  if (typeof v !== 'string') throw new TypeError(`focal-loss: options.reduction must be a string (got ${describe(v)})`);
  if (v !== 'mean' && v !== 'sum' && v !== 'none') {
    throw new RangeError(`focal-loss: options.reduction = '${v}' must be 'mean', 'sum' or 'none'`);
  }
  return v;
}

function checkNumberArray(name: string, v: unknown): ArrayLike<number> {
  if (!(isFloatArray(v) || isIntArray(v) || Array.isArray(v))) {
    throw new TypeError(`focal-loss: ${name} must be a Float32Array, Float64Array or number[] (got ${describe(v)})`);
  }
  return v as ArrayLike<number>;
}

function checkWeights(v: unknown, items: number, what: string): ArrayLike<number> | null {
  if (v === undefined || v === null) return null;
  const w = checkNumberArray('options.weights', v);
  if (w.length !== items) {
    throw new RangeError(`focal-loss: options.weights.length = ${w.length} must equal the number of ${what} ${items}`);
  }
  const bad = ArrayBuffer.isView(w) ? firstNotWeightTyped(w as NumericArray) : firstNotWeightList(w);
  if (bad >= 0) throw new RangeError(`focal-loss: options.weights[${bad}] = ${String(w[bad])} must be a finite number >= 0`);
  return w;
}

// The per-element checks run over up to millions of values, so they are written per array kind:
// a typed array's elements are always numbers (integers for the integer types), so its loop needs
// no `typeof` and only the range comparisons its type can fail; a number[] keeps the full check.
// Each returns the index of the first value that fails (or a count, for class indices), so the
// callers throw exactly the messages they always have.

type ClassIndexArray = Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
type NumericArray = FloatArray | ClassIndexArray;

/** Class indices in a typed array: the first index out of [0, classes) and not ignoreIndex, else −1 − (count of counted items). */
function checkIndicesTyped(t: ClassIndexArray, classes: number, ignoreIndex: number): number {
  let ignored = 0;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (v === ignoreIndex) ignored++;
    else if (!(v >= 0 && v < classes)) return i;
  }
  return -1 - (t.length - ignored);
}

/** The same for a number[] (any value may be a non-number or a non-integer). */
function checkIndicesList(t: ArrayLike<number>, classes: number, ignoreIndex: number): number {
  let count = 0;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (v === ignoreIndex) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= classes) return i;
    count++;
  }
  return -1 - count;
}

/** The first target not in [0, 1] (−1 if none). */
function firstNotProbability(y: ArrayLike<number>): number {
  if (y instanceof Uint8Array && !anyByteAbove1(y)) return -1;
  if (y instanceof Uint8Array || y instanceof Uint16Array || y instanceof Uint32Array) {
    for (let i = 0; i < y.length; i++) if (y[i] > 1) return i;
    return -1;
  }
  if (y instanceof Int8Array || y instanceof Int16Array || y instanceof Int32Array) {
    for (let i = 0; i < y.length; i++) if (y[i] < 0 || y[i] > 1) return i;
    return -1;
  }
  if (y instanceof Float32Array) return firstOutside01F32(y);
  if (y instanceof Float64Array) return firstOutside01F64(y);
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return i;
  }
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

function firstOutside01F64(y: Float64Array): number {
  for (let i = 0; i < y.length; i++) if (!(y[i] >= 0 && y[i] <= 1)) return i;
  return -1;
}

/** The first weight that is not a finite number ≥ 0 (−1 if none), typed arrays. */
function firstNotWeightTyped(w: NumericArray): number {
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    if (!(x >= 0 && x < Infinity)) return i;
  }
  return -1;
}

/** The same for a number[]. */
function firstNotWeightList(w: ArrayLike<number>): number {
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    if (typeof x !== 'number' || !(Number.isFinite(x) && x >= 0)) return i;
  }
  return -1;
}

function checkOut(v: unknown, logits: FloatArray): FloatArray | null {
  if (v === undefined || v === null) return null;
  if (!isFloatArray(v) || v.constructor !== logits.constructor) {
    throw new TypeError(`focal-loss: options.out must be a ${logits.constructor.name} like logits (got ${describe(v)})`);
  }
  if (v.length !== logits.length) {
    throw new RangeError(`focal-loss: options.out.length = ${v.length} must equal logits.length = ${logits.length}`);
  }
  return v;
}

function positiveInt(name: string, v: unknown, min: number): number {
  const n = num(name, v);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`focal-loss: ${name} = ${n} must be an integer >= ${min}`);
  return n;
}

/** Validates a softmax call completely; returns the plan or throws. */
export function softmaxPlan(logitsArg: unknown, targets: unknown, optionsArg: unknown): SoftmaxPlan {
  const logits = checkLogits(logitsArg);
  if (typeof optionsArg !== 'object' || optionsArg === null) {
    throw new TypeError(`focal-loss: options must be an object with 'classes' or 'shape' (got ${describe(optionsArg)})`);
  }
  const o = optionsArg as SoftmaxFocalOptions;
  checkKeys(o, SOFTMAX_KEYS, 'softmaxFocalLoss');

  // Layout: [batch, classes, spatial].
  let batch: number;
  let classes: number;
  let spatial = 1;
  if (o.shape !== undefined) {
    if (!Array.isArray(o.shape)) throw new TypeError(`focal-loss: options.shape must be an array [N, C, ...spatial] (got ${describe(o.shape)})`);
    if (o.shape.length < 2) throw new RangeError(`focal-loss: options.shape = [${o.shape.join(', ')}] must have at least 2 dimensions [N, C, ...spatial]`);
    o.shape.forEach((d, i) => positiveInt(`options.shape[${i}]`, d, i === 1 ? 1 : 0));
    [batch, classes] = o.shape as number[];
    for (const d of o.shape.slice(2)) spatial *= d;
    if (o.classes !== undefined && o.classes !== classes) {
      throw new RangeError(`focal-loss: options.classes = ${String(o.classes)} disagrees with options.shape[1] = ${classes}`);
    }
    if (batch * classes * spatial !== logits.length) {
      throw new RangeError(`focal-loss: options.shape = [${o.shape.join(', ')}] has ${batch * classes * spatial} elements but logits.length = ${logits.length}`);
    }
  } else if (o.classes !== undefined) {
    classes = positiveInt('options.classes', o.classes, 1);
    if (logits.length % classes !== 0) {
      throw new RangeError(`focal-loss: logits.length = ${logits.length} is not a multiple of options.classes = ${classes}`);
    }
    batch = logits.length / classes;
  } else {
    throw new TypeError(`focal-loss: softmax options need 'classes' (for [M, C] logits) or 'shape' (for [N, C, ...spatial])`);
  }
  const items = batch * spatial;

  const gamma = checkGamma(o.gamma);
  const labelSmoothing = checkSmoothing(o.labelSmoothing);
  const reduction = checkReduction(o.reduction);

  let ignoreIndex = -100;
  if (o.ignoreIndex !== undefined) {
    ignoreIndex = num('options.ignoreIndex', o.ignoreIndex);
    if (!Number.isInteger(ignoreIndex) || ignoreIndex < -(2 ** 31) || ignoreIndex >= 2 ** 31) {
      throw new RangeError(`focal-loss: options.ignoreIndex = ${ignoreIndex} must be a 32-bit integer`);
    }
  }

  let alphaScalar = 1;
  let alphaPerClass: ArrayLike<number> | null = null;
  if (o.alpha !== undefined && o.alpha !== null) {
    if (typeof o.alpha === 'number') {
      if (!(Number.isFinite(o.alpha) && o.alpha >= 0)) throw new RangeError(`focal-loss: options.alpha = ${o.alpha} must be a finite number >= 0`);
      alphaScalar = o.alpha;
    } else {
      const a = checkNumberArray('options.alpha', o.alpha);
      if (a.length !== classes) throw new RangeError(`focal-loss: options.alpha.length = ${a.length} must equal the number of classes ${classes}`);
      for (let c = 0; c < a.length; c++) {
        const x = a[c];
        if (typeof x !== 'number' || !(Number.isFinite(x) && x >= 0)) throw new RangeError(`focal-loss: options.alpha[${c}] = ${String(x)} must be a finite number >= 0`);
      }
      alphaPerClass = a;
    }
  }

  const weights = checkWeights(o.weights, items, 'items');
  const out = checkOut(o.out, logits);

  let plannedTargets: SoftmaxPlan['targets'];
  let count = 0;
  if (isFloatArray(targets)) {
    // Probabilities (Keras's categorical form): the logits' layout, each item's values in [0, 1] summing to 1.
    if (targets.length !== logits.length) {
      throw new RangeError(
        `focal-loss: targets.length = ${targets.length}: a ${targets.constructor.name} of targets holds probabilities and must have logits.length = ${logits.length}` +
          (targets.length === items ? '; for class indices pass an Int32Array or number[]' : ''),
      );
    }
    checkProbabilityRows(targets, batch, classes, spatial);
    plannedTargets = { kind: 'prob', data: targets };
    count = items;
  } else if (isIntArray(targets) || Array.isArray(targets)) {
    const t = targets as ArrayLike<number>;
    if (t.length !== items) {
      throw new RangeError(`focal-loss: targets.length = ${t.length} must equal the number of items ${items} (one class index per ${spatial === 1 ? 'row' : 'position'})`);
    }
    const bad = ArrayBuffer.isView(t) ? checkIndicesTyped(t as ClassIndexArray, classes, ignoreIndex) : checkIndicesList(t, classes, ignoreIndex);
    if (bad < 0) {
      count = -1 - bad;
    } else {
      throw new RangeError(`focal-loss: targets[${bad}] = ${String(t[bad])} is not a class index in [0, ${classes}) or ignoreIndex ${ignoreIndex}`);
    }
    plannedTargets = { kind: 'index', data: targets as ClassIndices };
  } else {
    throw new TypeError(`focal-loss: targets must be class indices (an integer typed array or number[]) or probabilities (Float32Array/Float64Array) (got ${describe(targets)})`);
  }

  return {
    logits, batch, classes, spatial, items, targets: plannedTargets, gamma, alphaScalar, alphaPerClass,
    ignoreIndex, labelSmoothing, weights, reduction, count, out,
  };
}

function checkProbabilityRows(q: FloatArray, batch: number, classes: number, spatial: number): void {
  const sums = new Float64Array(spatial);
  for (let n = 0; n < batch; n++) {
    sums.fill(0);
    const base = n * classes * spatial;
    for (let c = 0; c < classes; c++) {
      for (let s = 0; s < spatial; s++) {
        const i = base + c * spatial + s;
        const v = q[i];
        if (!(v >= 0 && v <= 1)) throw new RangeError(`focal-loss: targets[${i}] = ${v} is not a probability in [0, 1]`);
        sums[s] += v;
      }
    }
    for (let s = 0; s < spatial; s++) {
      if (Math.abs(sums[s] - 1) > PROBABILITY_SUM_TOLERANCE) {
        const where = spatial === 1 ? `row ${n}` : `item [${n}, ${s}]`;
        throw new RangeError(`focal-loss: the target probabilities of ${where} sum to ${sums[s]}, not 1`);
      }
    }
  }
}

/** Validates a sigmoid call completely; returns the plan or throws. */
export function sigmoidPlan(logitsArg: unknown, targetsArg: unknown, optionsArg: unknown): SigmoidPlan {
  const logits = checkLogits(logitsArg);
  if (optionsArg !== undefined && (typeof optionsArg !== 'object' || optionsArg === null)) {
    throw new TypeError(`focal-loss: options must be an object (got ${describe(optionsArg)})`);
  }
  const o = (optionsArg ?? {}) as SigmoidFocalOptions;
  checkKeys(o, SIGMOID_KEYS, 'sigmoidFocalLoss');
  const gamma = checkGamma(o.gamma);
  const labelSmoothing = checkSmoothing(o.labelSmoothing);
  const reduction = checkReduction(o.reduction);
  let alpha = 0.25;
  if (o.alpha === null || o.alpha === -1) {
    alpha = -1;
  } else if (o.alpha !== undefined) {
    alpha = num('options.alpha', o.alpha);
    if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`focal-loss: options.alpha = ${alpha} must be in [0, 1], or null / -1 to turn weighting off`);
  }
  const targets = checkNumberArray('targets', targetsArg);
  if (targets.length !== logits.length) {
    throw new RangeError(`focal-loss: targets.length = ${targets.length} must equal logits.length = ${logits.length} (one target per logit)`);
  }
  const bad = firstNotProbability(targets);
  if (bad >= 0) throw new RangeError(`focal-loss: targets[${bad}] = ${String(targets[bad])} must be in [0, 1]`);
  const weights = checkWeights(o.weights, logits.length, 'elements');
  const out = checkOut(o.out, logits);
  return { logits, targets, gamma, alpha, labelSmoothing, weights, reduction, out };
}
