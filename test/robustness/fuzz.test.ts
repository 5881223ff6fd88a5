// A seeded garbage fuzzer over every function and every option (mulberry32, fixed seeds: every run
// makes the same calls). Each call starts from a valid problem (small arrays, both dtypes, every
// layout and option, every accepted container) and replaces zero to three of its slots (logits,
// targets, the options object, one option, an unknown key) with garbage: wrong types, NaN, ±Infinity,
// -0, huge and fractional numbers, strings, symbols, bigints, null/undefined, objects, arrays with
// holes, typed arrays of every kind, wrong lengths, DataViews, detached buffers, Proxies (live and
// revoked), getters, objects whose printing throws. After the replacements every slot is judged on
// the call's final state (a replaced `classes` changes what a valid `weights` is), and the call is
// held to the contract:
//   - a valid call (nothing replaced) returns the reference's values (f64 1e-12, f32 3e-5 relative);
//   - a call with a slot that cannot be valid throws; one whose slots may all be valid may return,
//     and then returns numbers (finite or NaN) / typed arrays of the logits' type and length;
//   - every throw is a TypeError or RangeError (of the expected class when exactly one slot is at
//     fault), its message starts with 'focal-loss: ', names a slot at fault, and is no kernel status;
//   - a throw leaves the caller's `out` untouched; no call writes to logits, targets, alpha or weights;
//   - every 50 calls a fixed valid call returns the same bits as at the start (checked against the
//     reference once): the module stays usable;
//   - wasmMemoryBytes() never changes.
// Failures are collected (with the seed and call number; FUZZ_MAX=<n> lists more than 30) and reported
// together at the end of each test.
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import {
  compareResult,
  fsum,
  packageErrorProblem,
  refSigmoidCall,
  refSoftmaxCall,
  rng,
  safeString,
  SENTINEL,
  type FloatCtor,
  type Reduction,
} from './helpers';
import { refSigmoid, refSoftmax } from '../reference';

const api = FL as unknown as Record<string, (...args: unknown[]) => any>;
type Rand = () => number;
type Kind = typeof TypeError | typeof RangeError;

const CALLS_PER_FN = 20_000;
const CHECK_EVERY = 50;
let calls = 0; // every call of a package function in this file

// ------------------------------------------------------------------------------------------------
// Garbage
// ------------------------------------------------------------------------------------------------

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, n: number) => Math.floor(r() * n);

const NUMBERS = [
  NaN,
  Infinity,
  -Infinity,
  -0,
  0,
  1,
  2,
  3,
  0.5,
  1.5,
  -1,
  -100,
  255,
  1e308,
  -1e308,
  1e39,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  5e-324,
  0.99999999,
  1 - 2 ** -53,
  1e-7,
  7,
] as const;

/** Proxies made here, and what a package must do with them (a Proxy of a typed array: TypeError). */
const proxies = new WeakMap<object, 'typed' | 'array' | 'object'>();
function proxyOf<T extends object>(target: T): T {
  const p = new Proxy(target, {});
  proxies.set(p, ArrayBuffer.isView(target) ? 'typed' : Array.isArray(target) ? 'array' : 'object');
  return p;
}
const isProxy = (v: unknown) => v !== null && typeof v === 'object' && proxies.has(v);

/** Typed arrays detached here (their length reads 0: not a silent empty array). */
const detached = new WeakSet<object>();
function detachedArray<T extends ArrayBufferView>(a: T): T {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  detached.add(a);
  return a;
}

const revokedSet = new WeakSet<object>();
function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  revokedSet.add(proxy);
  return proxy;
}
const isRevoked = (v: unknown) => v !== null && typeof v === 'object' && revokedSet.has(v);

/** Values that are neither numbers nor arrays of numbers (null and undefined are drawn separately). */
function wrongKind(r: Rand): unknown {
  switch (int(r, 22)) {
    case 0:
      return 'abc';
    case 1:
      return '';
    case 2:
      return '2';
    case 3:
      return Symbol('garbage');
    case 4:
      return true;
    case 5:
      return 10n;
    case 6:
      return {};
    case 7:
      return Object.create(null);
    case 8:
      return () => 2;
    case 9:
      return new Date(0);
    case 10:
      return /x/;
    case 11:
      return new Map([[0, 1]]);
    case 12:
      return new ArrayBuffer(16);
    case 13:
      return new DataView(new ArrayBuffer(16));
    case 14:
      return revoked();
    case 15:
      return proxyOf({});
    case 16:
      return { valueOf: () => 2, toString: () => '2' };
    // Printing these throws: building an error message must not.
    case 17:
      return {
        [Symbol.toPrimitive]() {
          throw new Error('user toPrimitive');
        },
      };
    case 18:
      return Object.defineProperty({}, 'constructor', {
        get() {
          throw new Error('user constructor getter');
        },
      });
    case 19:
      return new BigInt64Array(2);
    case 20:
      return new BigUint64Array(3);
    default:
      return { length: 2, 0: 1, 1: 0 };
  }
}

const TYPED = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
] as const;
const INDEX_TYPES = [Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array] as const;

function garbageNumber(r: Rand): number {
  return r() < 0.8 ? pick(r, NUMBERS) : Math.fround((r() - 0.3) * 10);
}

function garbageElement(r: Rand): unknown {
  const k = r();
  if (k < 0.6) return garbageNumber(r);
  if (k < 0.7) return int(r, 4);
  if (k < 0.8) return pick(r, [undefined, null, '1', 'x', true]);
  return wrongKind(r);
}

/** An array-like of about `len` elements, of any kind, valid or not. */
function garbageArray(r: Rand, len: number): unknown {
  const n = r() < 0.5 ? len : int(r, 9);
  switch (int(r, 9)) {
    case 0: {
      const T = pick(r, TYPED);
      const a = new T(n);
      for (let i = 0; i < n; i++) a[i] = r() < 0.7 ? int(r, 3) : garbageNumber(r);
      return a;
    }
    case 1:
      return Array.from({ length: n }, () => garbageElement(r));
    case 2: {
      const a: unknown[] = new Array(n); // holes
      for (let i = 0; i < n; i++) if (r() < 0.6) a[i] = int(r, 2);
      return a;
    }
    case 3:
      return detachedArray(new (pick(r, [Float32Array, Float64Array, Int32Array, Uint8Array]))(n));
    case 4:
      return proxyOf(new (pick(r, [Float32Array, Float64Array, Int32Array]))(n));
    case 5:
      return r() < 0.5 ? new DataView(new ArrayBuffer(n * 8)) : new BigInt64Array(n);
    case 6:
      return proxyOf(Array.from({ length: n }, () => int(r, 2)));
    case 7:
      return Array.from({ length: n }, () => (r() < 0.9 ? int(r, 2) : garbageNumber(r)));
    default:
      return wrongKind(r);
  }
}

// ------------------------------------------------------------------------------------------------
// Judging a slot on the call's final state: must it throw (and with which class), or may it return?
// ------------------------------------------------------------------------------------------------

type Class = { verdict: 'throw' | 'any'; kind?: Kind };
const ANY: Class = { verdict: 'any' };
const TYPE: Class = { verdict: 'throw', kind: TypeError };
const RANGE: Class = { verdict: 'throw', kind: RangeError };
const EITHER: Class = { verdict: 'throw' }; // TypeError or RangeError

interface Ctx {
  Ctor: FloatCtor; // the logits' type
  len: number; // logits.length
  C: number;
  S: number;
  items: number;
  ignoreIndex: number;
  fn: string;
}

const isFloat = (v: unknown): v is Float32Array | Float64Array =>
  !isRevoked(v) && (v instanceof Float32Array || v instanceof Float64Array) && !isProxy(v) && !detached.has(v);
const isIndexArray = (v: unknown) =>
  !isRevoked(v) && INDEX_TYPES.some((T) => v instanceof T) && !isProxy(v) && !detached.has(v as object);
const f32Overflows = (ctx: Ctx, x: number) =>
  ctx.Ctor === Float32Array && Number.isFinite(x) && !Number.isFinite(Math.fround(x));

/** Never acceptable where an array of numbers is expected (null / undefined are the caller's business). */
function neverArray(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== 'object') return true; // strings, symbols, numbers, booleans, bigints, functions
  if (isRevoked(v) || detached.has(v) || proxies.get(v) === 'typed' || proxies.get(v) === 'object') return true;
  return (
    v instanceof DataView ||
    v instanceof ArrayBuffer ||
    v instanceof BigInt64Array ||
    v instanceof BigUint64Array ||
    v instanceof Map ||
    v instanceof Date ||
    v instanceof RegExp ||
    !('length' in v)
  );
}

function classifyNumber(ctx: Ctx, v: unknown, ok: (x: number) => boolean): Class {
  if (v === undefined) return ANY;
  if (typeof v !== 'number') return TYPE;
  return !ok(v) || f32Overflows(ctx, v) ? RANGE : ANY;
}

/** alpha / weights as arrays: kind, then length, then elements. */
function classifyNumberArray(ctx: Ctx, v: any, length: number, element: (x: number) => boolean): Class {
  if (v === null || v === undefined) return ANY;
  if (neverArray(v)) return TYPE;
  if (isProxy(v)) return ANY; // a Proxy number[]: taken (exactly) or refused (TypeError)
  if (isFloat(v) || Array.isArray(v)) {
    if (v.length !== length) return RANGE;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== 'number') return EITHER;
      if (!element(x) || f32Overflows(ctx, x)) return RANGE;
    }
    return ANY;
  }
  // Integer typed arrays, array-likes: not documented; taken or refused, but never with bad values.
  try {
    if (v.length !== length) return EITHER;
    for (let i = 0; i < v.length; i++)
      if (typeof v[i] !== 'number' || !element(v[i]) || f32Overflows(ctx, v[i])) return EITHER;
  } catch {
    return EITHER;
  }
  return ANY;
}

function probRowsValid(q: ArrayLike<number>, ctx: Ctx): boolean {
  const { C, S } = ctx;
  const N = ctx.len / (C * S);
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const x = q[(n * C + c) * S + s];
        if (!(x >= 0 && x <= 1)) return false;
        sum += x;
      }
      if (Math.abs(sum - 1) > 1.01e-3) return false; // clearly outside the 1e-3 tolerance
    }
  }
  return true;
}

function classifyTargetsSoftmax(ctx: Ctx, v: any): Class {
  if (v === null || v === undefined || neverArray(v)) return TYPE;
  if (isProxy(v)) return ANY; // a Proxy number[]: exact results or a TypeError
  if (isFloat(v)) {
    if (v.length !== ctx.len) return RANGE;
    return probRowsValid(v, ctx) ? ANY : RANGE;
  }
  const indices = (a: ArrayLike<unknown>) => {
    if (a.length !== ctx.items) return false;
    for (let i = 0; i < a.length; i++) {
      const t = a[i];
      if (t === ctx.ignoreIndex) continue;
      if (!(typeof t === 'number' && Number.isInteger(t) && t >= 0 && t < ctx.C)) return false;
    }
    return true;
  };
  if (isIndexArray(v) || Array.isArray(v)) {
    if (v.length !== ctx.items) return RANGE;
    for (let i = 0; i < v.length; i++) if (v[i] !== ctx.ignoreIndex && typeof v[i] !== 'number') return EITHER;
    return indices(v) ? ANY : RANGE;
  }
  // Uint8ClampedArray, array-likes: not documented kinds; taken or refused, never with bad values.
  try {
    return indices(v) ? ANY : EITHER;
  } catch {
    return EITHER;
  }
}

function classifyTargetsSigmoid(ctx: Ctx, v: any): Class {
  if (v === null || v === undefined || neverArray(v)) return TYPE;
  if (isProxy(v)) return ANY;
  const ok = (a: ArrayLike<unknown>) => {
    for (let i = 0; i < a.length; i++) {
      const y = a[i];
      if (!(typeof y === 'number' && y >= 0 && y <= 1)) return false;
    }
    return a.length === ctx.len;
  };
  if (isFloat(v) || Array.isArray(v) || v instanceof Uint8Array) {
    if (v.length !== ctx.len) return RANGE;
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return EITHER;
    return ok(v) ? ANY : RANGE;
  }
  try {
    return ok(v) ? ANY : EITHER; // other integer arrays, array-likes
  } catch {
    return EITHER;
  }
}

function classifyLogits(v: unknown): Class {
  return isFloat(v) ? ANY : TYPE;
}

function classifyOut(ctx: Ctx, v: any): Class {
  if (v === undefined) return ANY;
  if (v === null) return ANY;
  if (ctx.fn.endsWith('Partial')) return TYPE; // a partial has no out
  if (!ctx.fn.endsWith('WithGrad')) return ANY; // the loss-only functions may check it or ignore it
  if (!isFloat(v) || v.constructor !== ctx.Ctor) return TYPE;
  return v.length !== ctx.len ? RANGE : ANY;
}

/** classes / shape against the logits: the class, and the layout when valid. */
function classifyLayout(o: Record<string, unknown>, len: number): { cls: Class; C?: number; S?: number } {
  const { classes, shape } = o;
  if (shape !== undefined) {
    if (isRevoked(shape)) return { cls: TYPE };
    if (isProxy(shape)) return { cls: proxies.get(shape as object) === 'array' ? ANY : TYPE };
    if (!Array.isArray(shape))
      return {
        cls:
          typeof shape === 'object' && shape !== null && ArrayBuffer.isView(shape) && !detached.has(shape) ? ANY : TYPE,
      };
    // Every element is checked: when several are wrong (or the length is), either error may come first.
    let kindError = false; // an element that is not a number (a hole reads undefined): TypeError naming options.shape[i]
    let rangeError = shape.length < 2; // too short, or an element that is not an integer >= 0 (>= 1 for C): RangeError
    let unsafe = false; // an integer beyond 2^53: refused (RangeError) or taken
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i];
      if (typeof d !== 'number') kindError = true;
      else if (!(Number.isInteger(d) && d >= (i === 1 ? 1 : 0))) rangeError = true;
      else if (!Number.isSafeInteger(d)) unsafe = true;
    }
    if (kindError) return { cls: rangeError || unsafe ? EITHER : TYPE };
    if (rangeError) return { cls: RANGE };
    const [N, C, ...sp] = shape as number[];
    const S = sp.reduce((a, b) => a * b, 1);
    if (classes !== undefined && classes !== C) return { cls: typeof classes === 'number' ? RANGE : EITHER };
    if (N * C * S !== len) return { cls: RANGE };
    if (unsafe) return { cls: ANY }; // an empty batch with a dimension beyond 2^53: 0, or a RangeError
    return { cls: ANY, C, S };
  }
  if (classes === undefined) return { cls: TYPE };
  if (typeof classes !== 'number') return { cls: TYPE };
  if (!(Number.isInteger(classes) && classes >= 1)) return { cls: RANGE };
  if (len % classes !== 0) return { cls: RANGE };
  return { cls: ANY, C: classes, S: 1 };
}

// ------------------------------------------------------------------------------------------------
// Valid problems
// ------------------------------------------------------------------------------------------------

interface Problem {
  fn: string;
  softmax: boolean;
  Ctor: FloatCtor;
  logits: number[];
  targets: number[];
  probs: boolean;
  C: number;
  S: number;
  items: number;
  ignoreIndex: number;
  args: unknown[]; // [logits, targets, options]
  options: Record<string, unknown>; // the options object of the valid problem (replacements go into it)
  /** The options argument of the valid call: `options`, or a Proxy / getters standing for it, or undefined for {}. */
  optionsArg: unknown;
  ref: {
    reduction?: Reduction;
    classes?: number;
    shape?: number[];
    gamma?: number;
    alpha?: any;
    ignoreIndex?: number;
    labelSmoothing?: number;
    weights?: number[] | null;
  };
  /** A Proxy number[] in a valid call: exact values, or a TypeError. */
  orType: boolean;
}

const f32 = (x: number) => Math.fround(x);

/** number[], Float64Array or Float32Array (Float32Array values are float32-exact, as every generated value). */
function container(r: Rand, xs: number[]): unknown {
  const k = int(r, 3);
  return k === 0 ? xs.slice() : k === 1 ? Float64Array.from(xs) : Float32Array.from(xs);
}

function softmaxProblem(r: Rand, fn: string): Problem {
  const Ctor = r() < 0.5 ? Float32Array : Float64Array;
  const C = 1 + int(r, 4);
  const N = int(r, 4);
  const spatial = pick(r, [[], [], [2], [1, 3]] as number[][]);
  const S = spatial.reduce((a, b) => a * b, 1);
  const items = N * S;
  const len = items * C;
  const logits = Array.from({ length: len }, () => f32((r() * 2 - 1) * 4));
  const probs = r() < 0.3;
  const options: Record<string, unknown> = {};
  const ref: Problem['ref'] = {};
  if (spatial.length > 0 || r() < 0.4) {
    options.shape = [N, C, ...spatial];
    ref.shape = [N, C, ...spatial];
    if (r() < 0.2) options.classes = C;
  } else {
    options.classes = C;
    ref.classes = C;
  }
  let ignoreIndex = -100;
  let targets: number[];
  let targetsArg: unknown;
  if (probs) {
    targets = new Array(len).fill(0);
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const raw = Array.from({ length: C }, () => (r() < 0.3 ? 0 : r()));
        const sum = raw.reduce((a, b) => a + b, 0);
        for (let c = 0; c < C; c++) targets[(n * C + c) * S + s] = sum > 0 ? f32(raw[c] / sum) : c === 0 ? 1 : 0;
      }
    }
    targetsArg = (r() < 0.5 ? Ctor : pick(r, [Float32Array, Float64Array])).from(targets);
  } else {
    const T = r() < 0.3 ? null : pick(r, INDEX_TYPES);
    const signed = T === null || T === Int32Array || T === Int16Array || T === Int8Array;
    ignoreIndex = pick(r, signed ? (T === Int8Array ? [-100, 1] : [-100, 1, 255]) : [255, 1]);
    if (ignoreIndex !== -100 || r() < 0.5) options.ignoreIndex = ignoreIndex;
    targets = Array.from({ length: items }, () => (r() < 0.2 ? ignoreIndex : int(r, C)));
    targetsArg = T === null ? targets.slice() : T.from(targets);
    ref.ignoreIndex = ignoreIndex;
  }
  if (r() < 0.5) {
    const g = pick(r, [0, 0.5, 1, 2, 3, f32(r() * 5)]);
    options.gamma = g;
    ref.gamma = g;
  }
  const a = r();
  if (a < 0.15) options.alpha = null;
  else if (a < 0.35) {
    const s = f32(r() * 2);
    options.alpha = s;
    ref.alpha = s;
  } else if (a < 0.55) {
    const xs = Array.from({ length: C }, () => f32(r() * 2));
    options.alpha = container(r, xs);
    ref.alpha = xs;
  }
  if (r() < 0.3) {
    const e = r() < 0.2 ? 0 : f32(r() * 0.4);
    options.labelSmoothing = e;
    ref.labelSmoothing = e;
  }
  const w = r();
  if (w < 0.15) options.weights = null;
  else if (w < 0.5) {
    const xs = Array.from({ length: items }, () => f32(r() * 3));
    options.weights = container(r, xs);
    ref.weights = xs;
  }
  if (!fn.endsWith('Partial')) {
    if (r() < 0.75) {
      const v = pick(r, ['mean', 'sum', 'none'] as const);
      options.reduction = v;
      ref.reduction = v;
    }
  } else {
    ref.reduction = 'none';
  }
  if (fn.endsWith('WithGrad') && r() < 0.6) options.out = r() < 0.1 ? null : new Ctor(len).fill(SENTINEL);
  return {
    fn,
    softmax: true,
    Ctor,
    logits,
    targets,
    probs,
    C,
    S,
    items,
    ignoreIndex,
    options,
    optionsArg: options,
    ref,
    orType: false,
    args: [Ctor.from(logits), targetsArg, options],
  };
}

function sigmoidProblem(r: Rand, fn: string): Problem {
  const Ctor = r() < 0.5 ? Float32Array : Float64Array;
  const n = int(r, 9);
  const logits = Array.from({ length: n }, () => f32((r() * 2 - 1) * 6));
  const soft = r() < 0.4;
  const targets = Array.from({ length: n }, () => (soft ? f32(r()) : int(r, 2)));
  const kind = int(r, 4);
  const targetsArg =
    kind === 0
      ? targets.slice()
      : kind === 1
        ? Float64Array.from(targets)
        : kind === 2 || soft
          ? Float32Array.from(targets)
          : Uint8Array.from(targets);
  const options: Record<string, unknown> = {};
  const ref: Problem['ref'] = {};
  if (r() < 0.5) {
    const g = pick(r, [0, 0.5, 1, 2, 3, f32(r() * 5)]);
    options.gamma = g;
    ref.gamma = g;
  }
  const a = r();
  if (a < 0.15) {
    options.alpha = null;
    ref.alpha = null;
  } else if (a < 0.25) {
    options.alpha = -1;
    ref.alpha = -1;
  } else if (a < 0.6) {
    const v = pick(r, [0, 1, f32(r())]);
    options.alpha = v;
    ref.alpha = v;
  }
  if (r() < 0.3) {
    const e = r() < 0.2 ? 0 : f32(r() * 0.4);
    options.labelSmoothing = e;
    ref.labelSmoothing = e;
  }
  const w = r();
  if (w < 0.15) options.weights = null;
  else if (w < 0.5) {
    const xs = Array.from({ length: n }, () => f32(r() * 3));
    options.weights = container(r, xs);
    ref.weights = xs;
  }
  if (!fn.endsWith('Partial')) {
    if (r() < 0.75) {
      const v = pick(r, ['mean', 'sum', 'none'] as const);
      options.reduction = v;
      ref.reduction = v;
    }
  } else ref.reduction = 'none';
  if (fn.endsWith('WithGrad') && r() < 0.6) options.out = r() < 0.1 ? null : new Ctor(n).fill(SENTINEL);
  const optionsArg = fn.endsWith('Partial') && r() < 0.1 && Object.keys(options).length === 0 ? undefined : options;
  return {
    fn,
    softmax: false,
    Ctor,
    logits,
    targets,
    probs: false,
    C: 1,
    S: 1,
    items: n,
    ignoreIndex: -100,
    options,
    optionsArg,
    ref,
    orType: false,
    args: [Ctor.from(logits), targetsArg, optionsArg],
  };
}

/** Valid but unusual forms: the options as a transparent Proxy or as getters; a Proxy number[] for targets or weights. */
function exotic(r: Rand, pb: Problem): void {
  const o = pb.options;
  const k = r();
  if (k < 0.05) {
    pb.args[2] = new Proxy({ ...o }, {});
  } else if (k < 0.1) {
    const g: Record<string, unknown> = {};
    for (const key of Object.keys(o)) {
      const v = o[key];
      Object.defineProperty(g, key, { get: () => v, enumerable: true });
    }
    pb.args[2] = g;
  } else if (k < 0.13 && Array.isArray(pb.args[1])) {
    pb.args[1] = proxyOf(pb.args[1] as number[]);
    pb.orType = true;
  } else if (k < 0.16 && Array.isArray(o.weights)) {
    o.weights = proxyOf(o.weights as number[]);
    pb.orType = true;
  }
  pb.optionsArg = pb.args[2];
}

// ------------------------------------------------------------------------------------------------
// Replacing slots with garbage, then judging every slot
// ------------------------------------------------------------------------------------------------

/** A garbage shape that cannot make a package loop or allocate for long (huge dims only when none is 0). */
function tameShape(s: unknown[]): unknown[] {
  if (!s.some((d) => d === 0)) return s;
  return s.map((d) => (typeof d === 'number' && Math.abs(d) > 64 ? 64 : d));
}

/** Replaces one slot of `pb` with garbage; returns the slot's name. */
function mutate(r: Rand, pb: Problem): string | null {
  const len = pb.logits.length;
  const u = r();
  const optionSlots = pb.softmax
    ? ['classes', 'shape', 'gamma', 'alpha', 'reduction', 'ignoreIndex', 'labelSmoothing', 'weights', 'out', 'unknown']
    : ['gamma', 'alpha', 'reduction', 'labelSmoothing', 'weights', 'out', 'unknown'];
  const slot = u < 0.12 ? 'logits' : u < 0.28 ? 'targets' : u < 0.34 ? 'options' : pick(r, optionSlots);
  if (slot === 'logits') {
    const k = r();
    let v: unknown;
    if (k < 0.3) v = garbageArray(r, len);
    else if (k < 0.4) v = proxyOf(new pb.Ctor(len));
    else if (k < 0.5) v = detachedArray(new pb.Ctor(len));
    else if (k < 0.8) {
      const a = new (pick(r, [Float32Array, Float64Array]))(r() < 0.5 ? len : int(r, 9));
      for (let i = 0; i < a.length; i++) a[i] = r() < 0.9 ? (r() - 0.5) * 8 : garbageNumber(r);
      v = a;
    } else v = r() < 0.2 ? pick(r, [undefined, null]) : r() < 0.5 ? wrongKind(r) : garbageNumber(r);
    pb.args[0] = v;
    return 'logits';
  }
  if (slot === 'targets') {
    pb.args[1] =
      r() < 0.8
        ? garbageArray(r, pb.softmax && r() < 0.5 ? pb.items : len)
        : r() < 0.2
          ? pick(r, [undefined, null])
          : r() < 0.5
            ? wrongKind(r)
            : garbageNumber(r);
    return 'targets';
  }
  if (slot === 'options') {
    const k = r();
    pb.args[2] =
      k < 0.3
        ? pick(r, [undefined, null, 0, 'sum', 2, true])
        : k < 0.45
          ? revoked()
          : k < 0.7
            ? wrongKind(r)
            : k < 0.85
              ? []
              : new Float32Array(2);
    return 'options';
  }
  if (pb.args[2] !== pb.options) return null; // the options object was replaced (or is undefined): no option to replace
  const o = pb.options;
  if (slot === 'unknown') {
    if (r() < 0.15) {
      o[Symbol('extra') as unknown as string] = 1; // a symbol key: not an option; ignored or refused
      return 'options[symbol]';
    }
    const key = pick(r, [
      'foo',
      'ignore_index',
      'num_classes',
      'weight',
      'from_logits',
      'Gamma',
      'eps',
      '0',
      'constructor',
      'positives',
    ]);
    Object.defineProperty(o, key, {
      value: r() < 0.5 ? 1 : undefined,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    return `options.${key}`;
  }
  let v: unknown;
  const k = r();
  if ((slot === 'alpha' || slot === 'weights' || slot === 'out' || slot === 'shape') && k < 0.55) {
    const want = slot === 'alpha' ? pb.C : slot === 'weights' ? pb.items : slot === 'shape' ? 2 + int(r, 2) : len;
    v = garbageArray(r, want);
    if (slot === 'shape' && !isRevoked(v) && Array.isArray(v)) v = tameShape(v);
  } else if (k < 0.75) v = garbageNumber(r);
  else if (k < 0.85) v = pick(r, [undefined, null]);
  else v = wrongKind(r);
  if (slot === 'out') {
    const j = r();
    if (j < 0.3) v = new (pick(r, [Float32Array, Float64Array]))(r() < 0.5 ? len : int(r, 9)).fill(SENTINEL);
    else if (j < 0.4) v = detachedArray(new pb.Ctor(len).fill(SENTINEL));
  }
  if (slot === 'shape' && r() < 0.4) {
    // A valid shape with one element replaced.
    const s: unknown[] = [pb.items / pb.S, pb.C, ...(pb.S > 1 ? [pb.S] : [])];
    s[int(r, s.length)] = r() < 0.5 ? garbageNumber(r) : garbageElement(r);
    v = tameShape(s);
  }
  if (slot === 'classes' && typeof v === 'number' && v > 64 && pb.logits.length === 0 && r() < 0.9) v = 1 + int(r, 6); // see shapes.test.ts for huge classes
  o[slot] = v;
  return `options.${slot}`;
}

/** Names the targets: 'targets[3] = …', 'targets.length', or 'the target probabilities of row 2 sum to …'. */
const TARGETS = /\btargets?\b/;

const SOFTMAX_KEYS = [
  'classes',
  'shape',
  'gamma',
  'alpha',
  'reduction',
  'ignoreIndex',
  'labelSmoothing',
  'weights',
  'out',
];
const SIGMOID_KEYS = ['gamma', 'alpha', 'reduction', 'labelSmoothing', 'weights', 'out'];

interface Judgement {
  verdict: 'exact' | 'exactOrType' | 'any' | 'throw';
  kind?: Kind;
  names: (string | RegExp)[];
  ctx: Ctx;
}

/** Judges every slot of the final call (replaced or not). */
function judge(pb: Problem, mutated: string[]): Judgement {
  const at: { slot: string; cls: Class; names: (string | RegExp)[] }[] = [];
  const logits = pb.args[0];
  const ctx: Ctx = {
    Ctor: pb.Ctor,
    len: pb.logits.length,
    C: pb.C,
    S: pb.S,
    items: pb.items,
    ignoreIndex: pb.ignoreIndex,
    fn: pb.fn,
  };
  const lc = classifyLogits(logits);
  at.push({ slot: 'logits', cls: lc, names: ['logits'] });
  if (lc.verdict === 'any') {
    ctx.Ctor = (logits as Float32Array).constructor as FloatCtor;
    ctx.len = (logits as Float32Array).length;
    if (!pb.softmax) ctx.items = ctx.len;
  }
  const o = pb.args[2];
  if (o !== pb.optionsArg) {
    // The options object was replaced.
    let cls: Class;
    if (o === undefined) cls = pb.softmax ? TYPE : ANY;
    else if (o === null || (typeof o !== 'object' && typeof o !== 'function') || isRevoked(o)) cls = TYPE;
    else if (typeof o === 'function')
      cls = pb.softmax ? TYPE : ANY; // a function object: taken or refused
    else {
      let keys: string[] = [];
      try {
        keys = Object.keys(o);
      } catch {
        /* none */
      }
      const known = pb.softmax ? SOFTMAX_KEYS : SIGMOID_KEYS;
      cls = keys.some((k) => !known.includes(k)) || pb.softmax ? TYPE : ANY;
    }
    at.push({ slot: 'options', cls, names: ['option'] });
    if (cls.verdict === 'any' && !pb.softmax) {
      at.push({ slot: 'targets', cls: classifyTargetsSigmoid(ctx, pb.args[1]), names: [TARGETS] });
    }
  } else {
    const oo = pb.options;
    const known = pb.softmax ? SOFTMAX_KEYS : SIGMOID_KEYS;
    for (const k of Object.keys(oo))
      if (!known.includes(k)) at.push({ slot: `options.${k}`, cls: TYPE, names: [`'${k}'`] });
    if (pb.softmax) {
      const lay = classifyLayout(oo, ctx.len);
      at.push({ slot: 'layout', cls: lay.cls, names: ['logits', 'options.classes', 'options.shape'] });
      if (lay.cls.verdict === 'any' && lay.C !== undefined) {
        ctx.C = lay.C;
        ctx.S = lay.S!;
        ctx.items = ctx.len / lay.C;
      }
      const ii = oo.ignoreIndex;
      const iic = classifyNumber(ctx, ii, (x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31);
      at.push({ slot: 'options.ignoreIndex', cls: iic, names: ['options.ignoreIndex'] });
      if (iic.verdict === 'any') ctx.ignoreIndex = ii === undefined ? -100 : (ii as number);
      const alpha = oo.alpha;
      at.push({
        slot: 'options.alpha',
        names: ['options.alpha'],
        cls:
          typeof alpha === 'number'
            ? Number.isFinite(alpha) && alpha >= 0 && !f32Overflows(ctx, alpha)
              ? ANY
              : RANGE
            : detached.has(alpha as object)
              ? EITHER // a detached alpha has length 0 ≠ C: a RangeError is as good
              : classifyNumberArray(ctx, alpha, ctx.C, (x) => Number.isFinite(x) && x >= 0),
      });
      at.push({ slot: 'targets', cls: classifyTargetsSoftmax(ctx, pb.args[1]), names: [TARGETS] });
    } else {
      const alpha = oo.alpha;
      at.push({
        slot: 'options.alpha',
        names: ['options.alpha'],
        cls:
          alpha === undefined || alpha === null
            ? ANY
            : typeof alpha !== 'number'
              ? TYPE
              : alpha === -1 || (alpha >= 0 && alpha <= 1)
                ? ANY
                : RANGE,
      });
      at.push({ slot: 'targets', cls: classifyTargetsSigmoid(ctx, pb.args[1]), names: [TARGETS] });
    }
    at.push({
      slot: 'options.gamma',
      cls: classifyNumber(ctx, oo.gamma, (x) => Number.isFinite(x) && x >= 0),
      names: ['options.gamma'],
    });
    at.push({
      slot: 'options.labelSmoothing',
      names: ['options.labelSmoothing'],
      cls: classifyNumber(
        ctx,
        oo.labelSmoothing,
        (x) => x >= 0 && x < 1 && (ctx.Ctor === Float64Array || Math.fround(x) < 1),
      ),
    });
    const red = oo.reduction;
    at.push({
      slot: 'options.reduction',
      names: ['options.reduction', "'reduction'"],
      cls: pb.fn.endsWith('Partial')
        ? red === undefined || red === null
          ? ANY
          : TYPE
        : red === undefined || red === 'mean' || red === 'sum' || red === 'none'
          ? ANY
          : typeof red === 'string'
            ? RANGE
            : TYPE,
    });
    at.push({
      slot: 'options.weights',
      cls: classifyNumberArray(ctx, oo.weights, ctx.items, (x) => Number.isFinite(x) && x >= 0),
      names: ['options.weights'],
    });
    at.push({ slot: 'options.out', cls: classifyOut(ctx, oo.out), names: ['options.out', "'out'"] });
  }
  const throwing = at.filter((a) => a.cls.verdict === 'throw');
  // Replaced slots judged 'any' may still be refused (an undocumented kind): they may be named too.
  const touched = (a: { slot: string }) =>
    mutated.some(
      (m) =>
        m === a.slot || (a.slot === 'layout' && (m === 'options.classes' || m === 'options.shape' || m === 'logits')),
    );
  const maybe = at.filter((a) => a.cls.verdict === 'any' && touched(a));
  const names = [...throwing, ...maybe].flatMap((a) => a.names);
  if (throwing.length > 0) {
    const kind = throwing.length === 1 && maybe.length === 0 ? throwing[0].cls.kind : undefined;
    return { verdict: 'throw', kind, names, ctx };
  }
  if (mutated.length > 0) return { verdict: 'any', names: names.length ? names : ['focal-loss'], ctx };
  return {
    verdict: pb.orType ? 'exactOrType' : 'exact',
    kind: pb.orType ? TypeError : undefined,
    names: [TARGETS, 'options.weights'],
    ctx,
  };
}

// ------------------------------------------------------------------------------------------------
// One call and its checks
// ------------------------------------------------------------------------------------------------

function fixedChecks() {
  const logits = Float64Array.from({ length: 40 }, (_, i) => Math.sin(i * 1.3) * 3);
  const targets = Int32Array.from({ length: 8 }, (_, i) => (i * 3) % 5);
  const out = new Float64Array(40);
  const sl = Float32Array.from({ length: 9 }, (_, i) => Math.cos(i) * 2);
  const st = Float32Array.from({ length: 9 }, (_, i) => i % 2);
  const run = () => {
    out.fill(SENTINEL);
    calls += 2;
    const a = FL.softmaxFocalLossWithGrad(logits, targets, { classes: 5, gamma: 1.5, out });
    const b = FL.sigmoidFocalLossWithGrad(sl, st, { reduction: 'none' });
    return {
      loss: a.loss as number,
      grad: Array.from(out),
      sLoss: Array.from(b.loss as Float32Array),
      sGrad: Array.from(b.grad),
    };
  };
  const first = run();
  const ref = refSoftmaxCall(logits, targets, { classes: 5, gamma: 1.5 }, false);
  const sref = refSigmoidCall(Array.from(sl), Array.from(st), { reduction: 'none' });
  const bad = [
    ...compareResult({ loss: first.loss, grad: Float64Array.from(first.grad) }, ref, Float64Array, true),
    ...compareResult(
      { loss: Float32Array.from(first.sLoss), grad: Float32Array.from(first.sGrad) },
      sref,
      Float32Array,
      true,
    ),
  ];
  const same = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  return {
    bad,
    again(): string | null {
      let now: ReturnType<typeof run>;
      try {
        now = run();
      } catch (e) {
        return `the fixed valid call threw ${safeString((e as Error)?.message ?? e)}`;
      }
      if (
        !Object.is(now.loss, first.loss) ||
        !same(now.grad, first.grad) ||
        !same(now.sLoss, first.sLoss) ||
        !same(now.sGrad, first.sGrad)
      ) {
        return 'the fixed valid call no longer returns the same bits';
      }
      return null;
    },
  };
}

/** Copies of the caller's arrays that no call may change. */
function snapshot(vs: unknown[]): { v: ArrayLike<unknown>; copy: unknown[] }[] {
  const out: { v: ArrayLike<unknown>; copy: unknown[] }[] = [];
  for (const v of vs) {
    if (v === null || typeof v !== 'object' || isProxy(v) || isRevoked(v) || detached.has(v)) continue;
    if ((ArrayBuffer.isView(v) && !(v instanceof DataView)) || Array.isArray(v))
      out.push({ v: v as ArrayLike<unknown>, copy: Array.from(v as ArrayLike<unknown>) });
  }
  return out;
}

function finiteOrNaN(x: unknown, hugeAllowed: boolean): boolean {
  return typeof x === 'number' && (Number.isFinite(x) || Number.isNaN(x) || hugeAllowed);
}

function reductionOf(o: unknown): Reduction {
  if (o === null || typeof o !== 'object' || isRevoked(o)) return 'mean';
  const v = Object.getOwnPropertyDescriptor(o, 'reduction')?.value;
  return v === 'sum' || v === 'none' ? v : 'mean';
}

/** A returned value's form: types, lengths, finite or NaN. */
function formProblem(pb: Problem, j: Judgement, result: any, hugeAllowed: boolean): string | null {
  const logits = pb.args[0] as Float32Array | Float64Array;
  const Ctor = logits.constructor as FloatCtor;
  const all = (a: ArrayLike<number>) => {
    for (let i = 0; i < a.length; i++) if (!finiteOrNaN(a[i], hugeAllowed)) return false;
    return true;
  };
  if (pb.fn.endsWith('Partial')) {
    if (result === null || typeof result !== 'object') return `a partial is ${safeString(result)}`;
    const { sum, residual, count } = result;
    if (!finiteOrNaN(sum, hugeAllowed) || typeof residual !== 'number' || !Number.isInteger(count) || count < 0)
      return `a malformed partial ${safeString(JSON.stringify(result))}`;
    if (count > logits.length) return `count ${count} > logits.length ${logits.length}`;
    return null;
  }
  const reduction = reductionOf(pb.args[2]);
  const loss = pb.fn.endsWith('WithGrad') ? result?.loss : result;
  if (reduction === 'none') {
    if (!(loss instanceof Ctor)) return `loss under 'none' is not a ${Ctor.name}: ${safeString(loss)}`;
    const items = pb.softmax ? j.ctx.items : logits.length;
    if (loss.length !== items) return `loss.length ${loss.length} !== ${items}`;
    if (!all(loss)) return 'a loss is not finite or NaN';
  } else if (!finiteOrNaN(loss, hugeAllowed)) return `loss ${safeString(loss)} is not a finite number or NaN`;
  if (pb.fn.endsWith('WithGrad')) {
    const grad = result?.grad;
    if (!(grad instanceof Ctor) || grad.length !== logits.length)
      return `grad is not a ${Ctor.name} of length ${logits.length}`;
    if (!all(grad)) return 'a gradient is not finite or NaN';
  }
  return null;
}

function exactProblem(pb: Problem, result: any): string[] {
  const { reduction, ...o } = pb.ref;
  const base = pb.softmax
    ? refSoftmax(pb.logits, pb.targets, o, pb.probs)
    : refSigmoid(pb.logits, pb.targets, o as any);
  if (pb.fn.endsWith('Partial')) {
    if (result === null || typeof result !== 'object') return [`a partial is ${safeString(result)}`];
    const want = fsum(base.losses);
    const got = result.sum + result.residual;
    const rtol = pb.Ctor === Float32Array ? 3e-5 : 1e-12;
    const bad: string[] = [];
    if (!(Math.abs(got - want) <= rtol * Math.abs(want) + 1e-300)) bad.push(`partial sum ${got} expected ${want}`);
    if (result.count !== base.count) bad.push(`partial count ${result.count} expected ${base.count}`);
    return bad;
  }
  const reduced = pb.softmax
    ? refSoftmaxCall(pb.logits, pb.targets, { ...o, reduction: reduction ?? 'mean' }, pb.probs)
    : refSigmoidCall(pb.logits, pb.targets, { ...(o as any), reduction: reduction ?? 'mean' });
  const withGrad = pb.fn.endsWith('WithGrad');
  const bad = compareResult(withGrad ? result : { loss: result }, reduced, pb.Ctor, withGrad);
  const out = pb.options.out;
  if (withGrad && (out instanceof Float32Array || out instanceof Float64Array) && result?.grad !== out)
    bad.push('grad is not options.out');
  return bad;
}

function hasHuge(v: unknown): boolean {
  if (typeof v === 'number') return Math.abs(v) > 1e30;
  if (v === null || typeof v !== 'object' || isProxy(v) || isRevoked(v) || detached.has(v)) return false;
  if (
    Array.isArray(v) ||
    (ArrayBuffer.isView(v) &&
      !(v instanceof DataView) &&
      !(v instanceof BigInt64Array) &&
      !(v instanceof BigUint64Array))
  ) {
    const a = v as ArrayLike<unknown>;
    for (let i = 0; i < a.length; i++) if (typeof a[i] === 'number' && Math.abs(a[i] as number) > 1e30) return true;
  }
  return false;
}

function fuzzLoss(fn: string, seed: number, n: number): string[] {
  const r = rng(seed);
  const failures: string[] = [];
  let failed = 0;
  const fail = (i: number, what: string) => {
    failed++;
    if (failures.length < Number(process.env.FUZZ_MAX ?? 30)) failures.push(`${fn} seed ${seed} call ${i}: ${what}`);
  };
  const fixed = fixedChecks();
  failures.push(...fixed.bad.map((b) => `fixed valid call: ${b}`));
  const memory = FL.wasmMemoryBytes();
  let memoryReported = false;
  for (let i = 0; i < n; i++) {
    const pb = fn.startsWith('softmax') ? softmaxProblem(r, fn) : sigmoidProblem(r, fn);
    const u = r();
    const howMany = u < 0.3 ? 0 : u < 0.75 ? 1 : 2 + int(r, 2);
    const mutated: string[] = [];
    if (howMany === 0) exotic(r, pb);
    for (let m = 0; m < howMany; m++) {
      const slot = mutate(r, pb);
      if (slot) mutated.push(slot);
    }
    const j = judge(pb, mutated);
    const o = pb.args[2];
    const plain = o === pb.options;
    const outs =
      plain && isFloat(pb.options.out) && (pb.options.out as Float64Array)[0] === SENTINEL
        ? [pb.options.out as Float64Array]
        : [];
    const snaps = snapshot([pb.args[0], pb.args[1], ...(plain ? [pb.options.weights, pb.options.alpha] : [])]);
    const hugeAllowed = [pb.args[0], ...(plain ? Object.values(pb.options) : [])].some(hasHuge);

    let result: unknown;
    let thrown: unknown;
    let threw = false;
    calls++;
    try {
      result = api[fn](...pb.args);
    } catch (e) {
      threw = true;
      thrown = e;
    }
    const what = `[${mutated.join(', ') || 'valid'}]`;
    // FUZZ_DEBUG=<function>:<call> prints one call (its arguments, the judgement, the problem's values).
    if (process.env.FUZZ_DEBUG === `${fn}:${i}`) console.log(pb.args, pb.options, j, pb.logits, pb.targets);
    if (threw) {
      if (j.verdict === 'exact') fail(i, `a valid call threw: ${safeString((thrown as Error)?.message ?? thrown)}`);
      else {
        const p = packageErrorProblem(thrown, j.names, j.kind);
        if (p) fail(i, `${what} ${p}`);
      }
      for (const s of outs) {
        const k = s.findIndex((v) => v !== SENTINEL);
        if (k >= 0) fail(i, `${what} threw but out[${k}] was written`);
      }
    } else if (j.verdict === 'throw') {
      fail(i, `${what} returned instead of throwing (${j.names.map(String).join(' | ')})`);
    } else if (j.verdict === 'exact' || j.verdict === 'exactOrType') {
      const bad = exactProblem(pb, result);
      if (bad.length) fail(i, `valid call: ${bad.slice(0, 3).join('; ')}`);
    } else {
      const p = formProblem(pb, j, result, hugeAllowed);
      if (p) fail(i, `${what} ${p}`);
    }
    for (const s of snaps) {
      const now = Array.from(s.v);
      if (now.length !== s.copy.length || now.some((x, k) => !Object.is(x, s.copy[k])))
        fail(i, `${what} an input array was modified`);
    }
    if (!memoryReported && FL.wasmMemoryBytes() !== memory) {
      memoryReported = true;
      fail(i, `${what} wasmMemoryBytes() went from ${memory} to ${FL.wasmMemoryBytes()}`);
    }
    if (i % CHECK_EVERY === CHECK_EVERY - 1) {
      const p = fixed.again();
      if (p) fail(i, p);
    }
  }
  if (failed > failures.length) failures.push(`… ${failed} failures in all`);
  return failures;
}

// ------------------------------------------------------------------------------------------------
// combineFocalPartials
// ------------------------------------------------------------------------------------------------

function validPart(r: Rand): { sum: number; residual: number; count: number } {
  const sum = r() < 0.1 ? 0 : (r() * 10) ** 3 * (r() < 0.5 ? 1 : 1e-6);
  const ulp = sum === 0 ? 0 : 2 ** (Math.floor(Math.log2(sum)) - 53);
  return { sum, residual: sum === 0 ? 0 : (Math.round((r() - 0.5) * 64) * ulp) / 128, count: int(r, 1000) };
}

function fuzzCombine(seed: number, n: number): string[] {
  const r = rng(seed);
  const failures: string[] = [];
  let failed = 0;
  const fail = (i: number, what: string) => {
    failed++;
    if (failures.length < Number(process.env.FUZZ_MAX ?? 30))
      failures.push(`combineFocalPartials seed ${seed} call ${i}: ${what}`);
  };
  const memory = FL.wasmMemoryBytes();
  for (let i = 0; i < n; i++) {
    const parts: any[] = Array.from({ length: int(r, 5) }, () => validPart(r));
    let arg: unknown = parts;
    let cls: Class = ANY;
    let names: string[] = [];
    let valid = false;
    const u = r();
    if (u < 0.35) {
      valid = true;
      const k = r();
      if (k < 0.2) arg = new Set(parts);
      else if (k < 0.4)
        arg = (function* gen() {
          yield* parts;
        })();
      else if (k < 0.5 && parts.length) parts[0] = { ...parts[0], mean: 5 };
    } else if (u < 0.45) {
      // Not an iterable of partials at all.
      const v = r() < 0.5 ? pick(r, [undefined, null, 5, NaN, true, 10n, {}, Symbol('p'), 'ab']) : wrongKind(r);
      arg = v;
      names = ['parts'];
      let iterable = false;
      try {
        iterable =
          typeof v === 'string' ||
          (v !== null && typeof v === 'object' && typeof (v as any)[Symbol.iterator] === 'function');
      } catch {
        /* revoked */
      }
      const empty = v === '' || (ArrayBuffer.isView(v) && (v as any).length === 0);
      cls = empty ? ANY : iterable ? EITHER : TYPE;
    } else {
      if (parts.length === 0) parts.push(validPart(r));
      const j = int(r, parts.length);
      const k = r();
      if (k < 0.15) {
        parts[j] = pick(r, [null, undefined, 3, 'x', Symbol('s'), 1n]);
        names = [`parts[${j}]`];
        cls = TYPE;
      } else if (k < 0.2) {
        parts[j] = revoked();
        names = [`parts[${j}]`];
        cls = TYPE;
      } else {
        const key = pick(r, ['sum', 'residual', 'count'] as const);
        const v = r() < 0.6 ? garbageNumber(r) : r() < 0.5 ? pick(r, [undefined, null, '1', '2']) : wrongKind(r);
        parts[j] = { ...parts[j], [key]: v };
        names = [`parts[${j}].${key}`];
        if (v === undefined && key === 'residual')
          cls = ANY; // { sum, count } alone: taken as residual 0 or refused
        else if (typeof v !== 'number') cls = TYPE;
        else if (key === 'count') cls = Number.isInteger(v) && v >= 0 ? ANY : EITHER;
        else cls = ANY; // a NaN / Infinity sum (a NaN loss) may propagate or be refused
      }
    }
    let result: any;
    let thrown: unknown;
    let threw = false;
    calls++;
    try {
      result = FL.combineFocalPartials(arg as any);
    } catch (e) {
      threw = true;
      thrown = e;
    }
    if (threw) {
      if (valid) fail(i, `valid parts threw ${safeString((thrown as Error)?.message ?? thrown)}`);
      else {
        const p = packageErrorProblem(thrown, names, cls.kind);
        if (p) fail(i, p);
      }
    } else if (valid) {
      const want = fsum(parts.flatMap((p) => [p.sum, p.residual]));
      const count = parts.reduce((a, p) => a + p.count, 0);
      if (!(Math.abs(result.sum - want) <= 1e-15 * Math.abs(want))) fail(i, `sum ${result.sum} expected ${want}`);
      if (result.count !== count) fail(i, `count ${result.count} expected ${count}`);
      const mean = count > 0 ? want / count : 0;
      if (!(Math.abs(result.mean - mean) <= 1e-15 * Math.abs(mean))) fail(i, `mean ${result.mean} expected ${mean}`);
    } else if (cls.verdict === 'throw') {
      fail(i, `returned ${safeString(JSON.stringify(result))} for ${names.join(', ')} instead of throwing`);
    } else if (
      result === null ||
      typeof result !== 'object' ||
      typeof result.sum !== 'number' ||
      typeof result.mean !== 'number' ||
      !Number.isInteger(result.count)
    ) {
      fail(i, `a malformed result ${safeString(result)}`);
    }
    if (FL.wasmMemoryBytes() !== memory) fail(i, 'wasmMemoryBytes() changed');
  }
  if (failed > failures.length) failures.push(`… ${failed} failures in all`);
  return failures;
}

// ------------------------------------------------------------------------------------------------

const FNS = [
  'softmaxFocalLoss',
  'softmaxFocalLossWithGrad',
  'softmaxFocalLossPartial',
  'sigmoidFocalLoss',
  'sigmoidFocalLossWithGrad',
  'sigmoidFocalLossPartial',
] as const;

describe('seeded garbage fuzzer', () => {
  FNS.forEach((fn, k) => {
    test(`${fn}: ${CALLS_PER_FN} calls; valid ones exact, garbage ones package errors`, () => {
      const failures = fuzzLoss(fn, 0x5eed + 101 * k, CALLS_PER_FN);
      expect(failures.length, failures.join('\n')).toBe(0);
    });
  });

  test(`combineFocalPartials: ${CALLS_PER_FN} calls`, () => {
    const failures = fuzzCombine(0xc0b1, CALLS_PER_FN);
    expect(failures.length, failures.join('\n')).toBe(0);
  });

  test('at least 100,000 calls in this file', () => {
    expect(calls).toBeGreaterThanOrEqual(100_000);
  });
});
