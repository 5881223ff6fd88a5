// Defaults and validation (CONTRACT.md § Inputs that are not valid, § Call guarantees). A call's
// arguments are read exactly once, into a plan that the engine runs: every option key is read once,
// every number[] is copied once into a typed array, typed arrays are recognised by their internal
// brand and replaced by views of this realm over their memory (arrays.ts). Every value is checked in the
// precision the kernel will compute in (float32 logits: after rounding to float32), so the kernel's
// own checks never fire and a call that passes here never fails part-way. Errors: a TypeError for
// the wrong kind of argument, a RangeError for a wrong value, length or shape, with a message that
// names the argument.
//
// A small call's validation costs about as much as the kernel (BENCHMARKS.md § Small calls), so the
// common path makes no object per call: the public functions validate into a plan taken from a
// pool (`takePlan` / `releasePlan`, one plan per call in flight, so a getter that calls the package
// again gets its own), whose options record and header parameters are reused; the checks that must
// wait for the caller's last getter are local variables, not closures; messages are built only
// when they are thrown.

import { Flag, type Header } from './abi.js';
import {
  canonicalView,
  checkAttached,
  describe,
  describeError,
  inputView,
  isArray,
  isFloatKind,
  quote,
  readElement,
  readOwn,
  readProperty,
  show,
  showList,
  typedKind,
  ViewCache,
  type TypedKind,
} from './arrays.js';
import {
  aliasOf,
  FAMILY,
  NOT_PARTIAL,
  SHARED_DEFAULTS,
  type FloatArray,
  type LossDescriptor,
  type LossName,
  type OptionKey,
  type ParamRule,
  type Reduction,
  type ScalarField,
} from './family.js';

// ts/engine.ts takes FloatArray from here.
export type { FloatArray } from './family.js';
export type ClassIndices =
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | readonly number[];

type IndexArray = Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
export type NumericArray = FloatArray | IndexArray;

/** The header's scalar fields a plan sets (crate/src/ffi.rs CallHeader). */
export type HeaderParams = Pick<
  Header,
  | 'ignore_index'
  | 'loss_kind'
  | 'flags'
  | 'alpha_scalar'
  | 'gamma'
  | 'gamma_neg'
  | 'beta'
  | 'clip'
  | 'pos_weight_scalar'
  | 'poly_epsilon'
  | 'label_smoothing'
>;

/**
 * A validated call, ready for the engine: logits as [batch, classes, spatial] (dense element-wise
 * targets without classes are [elements, 1, 1]); every array a typed array the caller cannot change
 * through getters or Proxies.
 */
export interface Plan {
  readonly loss: 'softmax' | 'elementwise';
  readonly logits: FloatArray;
  readonly batch: number;
  readonly classes: number;
  readonly spatial: number;
  /** batch × spatial. */
  readonly items: number;
  /** Class indices (one per item), or target values in the logits' layout. */
  readonly targets:
    | { readonly kind: 'index'; readonly data: IndexArray }
    | { readonly kind: 'value'; readonly data: NumericArray };
  /** The header's scalars. */
  readonly params: HeaderParams;
  /** Per-class values, in the kernel's precision: softmax alpha; sigmoid posWeight. */
  readonly alpha: FloatArray | null;
  readonly posWeight: FloatArray | null;
  readonly weights: NumericArray | null;
  /** Weights are one per element, not one per item (element-wise losses with dense targets). */
  readonly weightsPerElement: boolean;
  readonly reduction: Reduction;
  /** What 'mean' divides by: items not ignored (softmax), elements counted (element-wise). */
  readonly count: number;
  readonly normalizer: number | null;
  /** The caller's gradient destination, and a fresh view of its memory that the engine writes. */
  readonly out: { readonly caller: FloatArray; readonly view: FloatArray } | null;
}

/** How far from 1 a soft target row's sum may be. Must match PROBABILITY_SUM_TOLERANCE in crate/src/lib.rs. */
export const PROBABILITY_SUM_TOLERANCE = 1e-3;

/** More dimensions than any framework allows (NumPy's and PyTorch's limit is 64). */
const MAX_DIMENSIONS = 64;

const PARTIAL_HINT =
  ": a partial is always { sum, residual, count } (and positives for the element-wise losses); combine partials with combineFocalPartials (or Σ sum / Σ count), and for gradients call the *WithGrad function with reduction 'sum' and scale by 1 / Σ count";
const INDEX_KINDS: readonly TypedKind[] = [
  'Int32Array',
  'Uint32Array',
  'Int16Array',
  'Uint16Array',
  'Int8Array',
  'Uint8Array',
];
const NUMERIC_KINDS: readonly TypedKind[] = ['Float32Array', 'Float64Array', ...INDEX_KINDS];

type Dtype = 'Float32Array' | 'Float64Array';

/** The value the kernel will see: float32 logits round every float they are given. */
function inKernel(x: number, dtype: Dtype): number {
  return dtype === 'Float32Array' ? Math.fround(x) : x;
}

/** ' (Infinity in float32, …)' when rounding to the kernel's precision is what made `x` fail. */
function roundingNote(x: number, dtype: Dtype): string {
  const r = inKernel(x, dtype);
  return r === x || Number.isNaN(x) ? '' : ` (it is ${show(r)} in float32, the precision of Float32Array logits)`;
}

function newFloat(dtype: Dtype, length: number): FloatArray {
  return dtype === 'Float32Array' ? new Float32Array(length) : new Float64Array(length);
}

/** The keys the shared code reads by slot, which are literals so that each read is a constant index. */
const CLASSES = 0;
const SHAPE = 1;
const REDUCTION = 2;
const IGNORE_INDEX = 3;
const NORMALIZER = 4;
const WEIGHTS = 5;
const OUT = 6;
const TARGET_FORM = 7;
const SHARED_KEYS: readonly OptionKey[] = [
  'classes',
  'shape',
  'reduction',
  'ignoreIndex',
  'normalizer',
  'weights',
  'out',
  'targetForm',
];

/**
 * Every option key of the family (ts/family.ts), each once: the shared ones at their slots above, then
 * the losses' own in the order first seen. A key's index is its bit in a KeySet's masks and its slot in
 * a plan's options record. Masks are 32-bit.
 */
const ALL_KEYS: readonly OptionKey[] = [
  ...new Set([...SHARED_KEYS, ...Object.values(FAMILY).flatMap((d) => d.keys as readonly OptionKey[])]),
];
if (ALL_KEYS.length > 31) throw new Error('focal-loss: more option keys than the 31 bits of a key mask');

/** The slots of the keys of each length: a key is compared only with the one to three keys as long as it. */
const SLOTS_BY_LENGTH: readonly (readonly number[])[] = Array.from(
  { length: Math.max(...ALL_KEYS.map((k) => k.length)) + 1 },
  (_, n) => ALL_KEYS.flatMap((k, i) => (k.length === n ? [i] : [])),
);

/**
 * A key's index, or −1 for any other key ('toString', '__proto__'): compared with the keys of its
 * length only (at most three), as fast as the hand-written switch over the keys this replaces.
 */
function optionIndex(key: string): number {
  const n = key.length;
  if (n >= SLOTS_BY_LENGTH.length) return -1;
  const slots = SLOTS_BY_LENGTH[n];
  for (let i = 0; i < slots.length; i++) if (ALL_KEYS[slots[i]] === key) return slots[i];
  return -1;
}

/**
 * The options a call gave, each read once, by slot (optionIndex): every key of every loss has a slot
 * (undefined when not given), so reading an option the caller did not give never reaches
 * Object.prototype, and every record is one packed array of one length. Part of a pooled plan;
 * cleared after the call.
 */
type OptionValues = unknown[];
function newOptionValues(): OptionValues {
  const o: unknown[] = [];
  for (let i = 0; i < ALL_KEYS.length; i++) o.push(undefined);
  return o;
}

/** A loss's option keys: a full function's, and a partial's, as lists (for messages) and as masks of optionIndex bits. */
interface KeySet {
  readonly full: readonly string[];
  readonly partial: readonly string[];
  readonly fullMask: number;
  readonly partialMask: number;
}
function keySet(keys: readonly string[]): KeySet {
  const partial = keys.filter((k) => !NOT_PARTIAL.includes(k));
  const mask = (list: readonly string[]) => list.reduce((m, k) => m | (1 << optionIndex(k)), 0);
  return { full: keys, partial, fullMask: mask(keys), partialMask: mask(partial) };
}

// A loss's own parameters, compiled once from its descriptor (ts/family.ts) into records of one shape
// that readParams walks with a switch: no closure and no object per call, every store a named one.
// Each rule's number is its index in RULES, written as a literal so the switch compiles to a jump table.
const RULES: readonly ParamRule[] = ['gamma', 'nonNegative', 'belowOne', 'finite', 'alphaOrOff', 'perClass', 'flag'];
const GAMMA = 0;
const NON_NEGATIVE_RULE = 1;
const BELOW_ONE = 2;
const FINITE = 3;
const ALPHA_OR_OFF = 4;
const PER_CLASS = 5;
const FLAG = 6;
const SCALAR_FIELDS: readonly ScalarField[] = [
  'alpha_scalar',
  'gamma',
  'gamma_neg',
  'beta',
  'clip',
  'pos_weight_scalar',
  'poly_epsilon',
  'label_smoothing',
];

/** The header scalars a loss does not set. */
const NEUTRAL: HeaderParams = {
  ignore_index: SHARED_DEFAULTS.ignoreIndex,
  loss_kind: 0, // the softmax kernel's; an element-wise loss has its own
  flags: 0,
  alpha_scalar: 1,
  gamma: 0,
  gamma_neg: 0,
  beta: 0,
  clip: 0,
  pos_weight_scalar: 1,
  poly_epsilon: 0,
  label_smoothing: 0,
};

class Param {
  constructor(
    /** Its slot in the options record. */
    readonly slot: number,
    /** Its index in RULES. */
    readonly rule: number,
    /** Its value when not given (a flag: 1 or 0; 'perClass' given none: 1). */
    readonly fallback: number,
    /** Its index in SCALAR_FIELDS (−1 for a flag). */
    readonly field: number,
    /** The Flag bit it sets (flags only). */
    readonly bit: number,
    /** 'options.<key>', as messages name it. */
    readonly label: string,
  ) {}
}

/** A loss as the plan functions use it, compiled from its descriptor. */
export class CompiledLoss {
  readonly name: string;
  readonly partialName: string;
  readonly kernel: 'softmax' | 'elementwise';
  /** The header `loss_kind` (0 for the softmax kernel, which has one loss). */
  readonly kind: number;
  readonly keys: KeySet;
  readonly params: readonly Param[];
  /** Its one 'perClass' parameter, if any: its array is still to be checked once every getter has run. */
  readonly perClass: Param | null;
  /** The header parameters of a call that gives none of its options (its kind, its defaults, the rest neutral). */
  readonly defaults: HeaderParams;
  constructor(d: LossDescriptor) {
    this.name = d.fn;
    this.partialName = `${d.fn}Partial`;
    this.kernel = d.kernel;
    this.kind = d.kind?.code ?? 0;
    this.keys = keySet(d.keys);
    this.params = d.params.map(
      (s) =>
        new Param(
          optionIndex(s.key),
          RULES.indexOf(s.rule),
          s.rule === 'flag' ? Number(s.default) : (s.default ?? 1),
          s.rule === 'flag' ? -1 : SCALAR_FIELDS.indexOf(s.field),
          s.rule === 'flag' ? Flag[s.flag] : 0,
          `options.${s.key}`,
        ),
    );
    const perClass = this.params.filter((p) => p.rule === PER_CLASS);
    if (perClass.length > 1) throw new Error(`focal-loss: ${d.fn} has more than one per-class parameter`);
    this.perClass = perClass[0] ?? null;
    const defaults = { ...NEUTRAL, loss_kind: this.kind };
    for (const s of this.params) {
      if (s.rule === FLAG) defaults.flags |= s.fallback === 1 ? s.bit : 0;
      else setParam(defaults, s.field, s.fallback);
    }
    this.defaults = defaults;
  }
}

/** Every loss of the family, compiled. */
export const LOSSES = Object.fromEntries(
  Object.entries(FAMILY).map(([name, d]) => [name, new CompiledLoss(d as LossDescriptor)]),
) as { readonly [N in LossName]: CompiledLoss };
const SOFTMAX = LOSSES.softmax;

/** Stores header scalar `field` (an index in SCALAR_FIELDS): one named store per field, so every store is monomorphic. */
function setParam(p: HeaderParams, field: number, v: number): void {
  switch (field) {
    case 0:
      p.alpha_scalar = v;
      return;
    case 1:
      p.gamma = v;
      return;
    case 2:
      p.gamma_neg = v;
      return;
    case 3:
      p.beta = v;
      return;
    case 4:
      p.clip = v;
      return;
    case 5:
      p.pos_weight_scalar = v;
      return;
    case 6:
      p.poly_epsilon = v;
      return;
    case 7:
      p.label_smoothing = v;
      return;
  }
}

/**
 * Validates the loss's own parameters the call gave, in the loss's order, into the header parameters
 * `p` (already its defaults: setDefaults). Returns the per-class array of its 'perClass' parameter given one value per class (a typed
 * array still to be checked by checkNumbers), else null.
 */
function readParams(
  loss: CompiledLoss,
  o: OptionValues,
  dtype: Dtype,
  p: HeaderParams,
  classes: number,
  haveClasses: boolean,
): NumericArray | null {
  let perClass: NumericArray | null = null;
  const params = loss.params;
  for (let i = 0; i < params.length; i++) {
    const s = params[i];
    const v = o[s.slot];
    if (v === undefined) continue; // setDefaults wrote its default
    switch (s.rule) {
      case GAMMA:
        setParam(p, s.field, readGamma(s.label, v, s.fallback, dtype));
        break;
      case NON_NEGATIVE_RULE:
        setParam(p, s.field, readNonNegative(s.label, v, s.fallback, dtype));
        break;
      case BELOW_ONE:
        setParam(p, s.field, readBelowOne(s.label, v, s.fallback, dtype));
        break;
      case FINITE:
        setParam(p, s.field, readFinite(s.label, v, s.fallback, dtype));
        break;
      case ALPHA_OR_OFF:
        setParam(p, s.field, readAlphaOrOff(s.label, v, s.fallback, dtype));
        break;
      case PER_CLASS:
        if (isScalarOption(v)) setParam(p, s.field, readNonNegative(s.label, v ?? undefined, s.fallback, dtype));
        else perClass = readPerClass(s.label, v, classes, haveClasses, dtype);
        break;
      case FLAG:
        p.flags = readBoolean(s.label, v, s.fallback === 1) ? p.flags | s.bit : p.flags & ~s.bit;
        break;
    }
  }
  return perClass;
}

function readLogits(v: unknown): FloatArray {
  const kind = typedKind(v);
  if (!isFloatKind(kind))
    throw new TypeError(`focal-loss: logits must be a Float32Array or Float64Array (got ${describe(v)})`);
  return inputView(v, kind, 'logits', LOGITS_VIEW);
}

/** The last small array seen in each argument position, so that a call given the same arrays again makes no new view. */
const LOGITS_VIEW = new ViewCache();
const TARGETS_VIEW = new ViewCache();
const WEIGHTS_VIEW = new ViewCache();
const OUT_VIEW = new ViewCache();

/**
 * Reads each option the caller gave (an own enumerable key of `arg`) exactly once into `o`, after
 * refusing keys it does not know. `fn` names the function in messages; `partial`: the options of a
 * *Partial function; `need` (softmax) says options are required.
 */
function readOptions(
  arg: unknown,
  keys: KeySet,
  fn: string,
  partial: boolean,
  need: string,
  o: OptionValues,
  slots: Int32Array,
): void {
  if (arg === undefined && need === '') return;
  if (typeof arg !== 'object' || arg === null)
    throw new TypeError(`focal-loss: options must be an object${need} (got ${describe(arg)})`);
  // Only own (enumerable) keys are options, as for {...options}: a key inherited from a prototype is not.
  let own: string[];
  try {
    own = Object.keys(arg);
  } catch {
    throw new TypeError('focal-loss: options could not be read (its keys could not be listed)');
  }
  const allowed = partial ? keys.partialMask : keys.fullMask;
  // Every key is known before any is read. The keys are distinct and each known one has its own slot,
  // so at most ALL_KEYS.length (< 32) slots are noted before an unknown key throws.
  for (let i = 0; i < own.length; i++) {
    const index = optionIndex(own[i]);
    if (index < 0 || ((allowed >>> index) & 1) === 0)
      throw unknownOption(own[i], fn, partial, partial ? keys.partial : keys.full);
    slots[i] = index;
  }
  for (let i = 0; i < own.length; i++) o[slots[i]] = readOption(arg, own[i]);
}

function unknownOption(key: string, fn: string, partial: boolean, allowed: readonly string[]): TypeError {
  const alias = aliasOf(key);
  const hint = partial && NOT_PARTIAL.includes(key) ? PARTIAL_HINT : alias ? ` (did you mean ${alias}?)` : '';
  return new TypeError(
    `focal-loss: ${fn} has no option ${quote(key)}${hint}${hint.startsWith(':') ? '' : `; options are ${allowed.join(', ')}`}`,
  );
}

/** `options[key]` (a known key), as readProperty, with the argument's name made only if the read throws. */
function readOption(arg: object, key: string): unknown {
  try {
    return (arg as Record<string, unknown>)[key];
  } catch (error) {
    throw new TypeError(`focal-loss: options.${key} could not be read (${describeError(error)})`);
  }
}

function num(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`focal-loss: ${name} must be a number (got ${describe(v)})`);
  return v;
}

function readGamma(label: string, v: unknown, fallback: number, dtype: Dtype): number {
  if (v === undefined) return fallback;
  const g = num(label, v);
  if (!(Number.isFinite(inKernel(g, dtype)) && g >= 0)) {
    throw new RangeError(`focal-loss: ${label} = ${show(g)} must be a finite number >= 0${roundingNote(g, dtype)}`);
  }
  return g;
}

/** A number in [0, 1) as the kernel will see it (labelSmoothing, clip), returned as given. */
function readBelowOne(label: string, v: unknown, fallback: number, dtype: Dtype): number {
  if (v === undefined) return fallback;
  const e = num(label, v);
  const r = inKernel(e, dtype);
  if (!(r >= 0 && r < 1))
    throw new RangeError(`focal-loss: ${label} = ${show(e)} must be in [0, 1)${roundingNote(e, dtype)}`);
  return e;
}

/** The sigmoid's alpha: in [0, 1] as the kernel sees it (and returned so), or null / -1 for "off" (-1). */
function readAlphaOrOff(label: string, v: unknown, fallback: number, dtype: Dtype): number {
  if (v === null || v === -1) return -1;
  if (v === undefined) return fallback;
  const alpha = num(label, v);
  // As the kernel sees it (like weights): 1 + 1e-12 is 1 in float32.
  const r = inKernel(alpha, dtype);
  if (!(r >= 0 && r <= 1)) {
    throw new RangeError(
      `focal-loss: ${label} = ${show(alpha)} must be in [0, 1], or null / -1 to turn weighting off${roundingNote(alpha, dtype)}`,
    );
  }
  return r; // −1e-50 is −0 in float32, not a negative α (which the kernel reads as "off")
}

function readReduction(v: unknown, partial: boolean): Reduction {
  if (partial) return 'none';
  if (v === undefined) return SHARED_DEFAULTS.reduction;
  if (typeof v !== 'string') throw new TypeError(`focal-loss: options.reduction must be a string (got ${describe(v)})`);
  if (v !== 'mean' && v !== 'sum' && v !== 'none') {
    throw new RangeError(`focal-loss: options.reduction = ${quote(v)} must be 'mean', 'sum' or 'none'`);
  }
  return v;
}

/** The length of a number[] (read once), which must be `length` (`expected` says so in words, with the number). */
function listLength(v: object, name: string, length: number, expected: string): void {
  const n = readProperty(v, 'length', `${name}.length`);
  if (n !== length)
    throw new RangeError(
      `focal-loss: ${name}.length = ${typeof n === 'number' ? show(n) : describe(n)} must equal ${expected}`,
    );
}

/**
 * Typed arrays' contents are checked only after every read that can run the caller's code (option
 * getters, Proxy traps, number[] elements): such code could otherwise change a typed array after
 * it was checked. Typed arrays themselves have no getters, so once these pass nothing changes. The
 * plan functions keep such arrays in local variables and check them last (`checkNumbers`, the
 * target checks), in the order they were read.
 */

/**
 * A numeric array option (a typed array of a numeric kind, or a number[] copied once), `length`
 * long, whose values, as the kernel will see them, pass `ok`. A typed array is used in place, its
 * values still to be checked (`checkNumbers`, once every getter has run; `isTyped` says which it
 * was); a number[] becomes a typed array of the kernel's type (`dtype`), checked as it is copied.
 */
function readNumbers(
  v: unknown,
  name: string,
  length: number,
  lengthText: string,
  dtype: Dtype,
  ok: (x: number) => boolean,
  expected: string,
  cache: ViewCache | null,
): NumericArray {
  const kind = typedKind(v);
  if (kind && NUMERIC_KINDS.includes(kind)) {
    const a = inputView(v, kind, name, cache) as NumericArray;
    if (a.length !== length) throw new RangeError(`focal-loss: ${name}.length = ${a.length} must equal ${lengthText}`);
    return a;
  }
  if (!isArray(v))
    throw new TypeError(`focal-loss: ${name} must be a Float32Array, Float64Array or number[] (got ${describe(v)})`);
  listLength(v, name, length, lengthText);
  const a = newFloat(dtype, length);
  for (let i = 0; i < length; i++) {
    const x = readElement(v, i, name);
    if (typeof x !== 'number') throw new TypeError(`focal-loss: ${name}[${i}] must be a number (got ${describe(x)})`);
    if (!ok(inKernel(x, dtype)))
      throw new RangeError(`focal-loss: ${name}[${i}] = ${show(x)} must be ${expected}${roundingNote(x, dtype)}`);
    a[i] = x;
  }
  return a;
}

/** True for a typed array: what readNumbers returned for it is still to be checked by checkNumbers. */
function isTyped(v: unknown): boolean {
  return typedKind(v) !== undefined;
}

/** The deferred check of a typed array readNumbers returned (see there): still attached, every value passing `ok`. */
function checkNumbers(
  a: NumericArray,
  name: string,
  dtype: Dtype,
  ok: (x: number) => boolean,
  expected: string,
  length: number,
): void {
  checkAttached(a, length, name);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!ok(inKernel(x, dtype)))
      throw new RangeError(`focal-loss: ${name}[${i}] = ${show(x)} must be ${expected}${roundingNote(x, dtype)}`);
  }
}

const finiteNonNegative = (x: number) => x >= 0 && x < Infinity;

const NON_NEGATIVE = 'a finite number >= 0';

/** options.weights (null if not given), a typed array of them still to be checked by checkNumbers. */
function readWeights(v: unknown, items: number, what: string, dtype: Dtype): NumericArray | null {
  if (v === undefined || v === null) return null;
  return readNumbers(
    v,
    'options.weights',
    items,
    `the number of ${what} ${items}`,
    dtype,
    finiteNonNegative,
    NON_NEGATIVE,
    WEIGHTS_VIEW,
  );
}

/** options.out: `plan.out` is then the caller's array and a view of its memory (which the engine writes), else null. */
function readOut(v: unknown, length: number, dtype: Dtype, plan: PlanRecord): void {
  plan.out = null;
  if (v === undefined || v === null) return;
  const kind = typedKind(v);
  if (kind !== dtype)
    throw new TypeError(`focal-loss: options.out must be a ${dtype} like logits (got ${describe(v)})`);
  const view = canonicalView(v, kind, 'options.out', OUT_VIEW);
  if (view.length !== length) {
    throw new RangeError(`focal-loss: options.out.length = ${view.length} must equal logits.length = ${length}`);
  }
  const out = plan.outSlot;
  out.caller = v as FloatArray;
  out.view = view;
  plan.out = out;
}

function positiveInt(name: string, v: unknown, min: number): number {
  const n = num(name, v);
  if (!(Number.isSafeInteger(n) && n >= min))
    throw new RangeError(`focal-loss: ${name} = ${show(n)} must be an integer >= ${min}`);
  return n;
}

/** `plan`'s [batch, classes, spatial] from `shape` or `classes`, checked against the logits' length without forming huge products. */
function readLayout(o: OptionValues, length: number, plan: PlanRecord): void {
  if (o[SHAPE] !== undefined) {
    if (!isArray(o[SHAPE]))
      throw new TypeError(`focal-loss: options.shape must be an array [N, C, ...spatial] (got ${describe(o[SHAPE])})`);
    const rank = readProperty(o[SHAPE], 'length', 'options.shape.length');
    if (typeof rank !== 'number')
      throw new TypeError(`focal-loss: options.shape.length must be a number (got ${describe(rank)})`);
    if (rank > MAX_DIMENSIONS)
      throw new RangeError(`focal-loss: options.shape has ${rank} dimensions, more than ${MAX_DIMENSIONS}`);
    const dims: number[] = [];
    for (let i = 0; i < rank; i++)
      dims.push(positiveInt(`options.shape[${i}]`, readOwn(o[SHAPE], i, `options.shape[${i}]`), i === 1 ? 1 : 0));
    if (rank < 2)
      throw new RangeError(
        `focal-loss: options.shape = ${showList(dims)} must have at least 2 dimensions [N, C, ...spatial]`,
      );
    if (o[CLASSES] !== undefined && o[CLASSES] !== dims[1]) {
      throw new RangeError(
        `focal-loss: options.classes = ${typeof o[CLASSES] === 'number' ? show(o[CLASSES]) : describe(o[CLASSES])} disagrees with options.shape[1] = ${dims[1]}`,
      );
    }
    // The element count, stopping as soon as it exceeds the logits' length (dims can be 2^53 each).
    let elements = dims.includes(0) ? 0 : 1;
    for (const d of dims) if (elements > 0 && elements <= length) elements *= d;
    if (elements !== length) {
      const count = elements > length ? `more than ${length}` : String(elements);
      throw new RangeError(
        `focal-loss: options.shape = ${showList(dims)} has ${count} elements but logits.length = ${length}`,
      );
    }
    const spatial = dims.slice(2).reduce((a, d) => a * d, 1);
    // An empty batch (a zero dimension) has no items: [0, C, 0] rather than a dimension of 2^53 to loop over.
    plan.batch = length === 0 ? 0 : dims[0];
    plan.classes = dims[1];
    plan.spatial = length === 0 ? 0 : spatial;
    return;
  }
  if (o[CLASSES] !== undefined) {
    const classes = positiveInt('options.classes', o[CLASSES], 1);
    if (length % classes !== 0)
      throw new RangeError(`focal-loss: logits.length = ${length} is not a multiple of options.classes = ${classes}`);
    plan.batch = length / classes;
    plan.classes = classes;
    plan.spatial = 1;
    return;
  }
  throw new TypeError(
    `focal-loss: softmax options need 'classes' (for [M, C] logits) or 'shape' (for [N, C, ...spatial])`,
  );
}

function readIgnoreIndex(v: unknown): number {
  if (v === undefined) return SHARED_DEFAULTS.ignoreIndex;
  const i = num('options.ignoreIndex', v);
  if (!Number.isInteger(i) || i < -(2 ** 31) || i >= 2 ** 31)
    throw new RangeError(`focal-loss: options.ignoreIndex = ${show(i)} must be a 32-bit integer`);
  return i;
}

/** A number option, finite and >= 0 as the kernel will see it (`fallback` when absent). */
function readNonNegative(label: string, v: unknown, fallback: number, dtype: Dtype): number {
  if (v === undefined) return fallback;
  const x = num(label, v);
  if (!finiteNonNegative(inKernel(x, dtype)))
    throw new RangeError(`focal-loss: ${label} = ${show(x)} must be a finite number >= 0${roundingNote(x, dtype)}`);
  return x;
}

/** Any number finite as the kernel will see it (polyEpsilon). */
function readFinite(label: string, v: unknown, fallback: number, dtype: Dtype): number {
  if (v === undefined) return fallback;
  const e = num(label, v);
  if (!Number.isFinite(inKernel(e, dtype)))
    throw new RangeError(`focal-loss: ${label} = ${show(e)} must be a finite number${roundingNote(e, dtype)}`);
  return e;
}

function readBoolean(label: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new TypeError(`focal-loss: ${label} must be true or false (got ${describe(v)})`);
  return v;
}

/** A positive divisor for 'mean' whose reciprocal (the gradient's scale) is finite in the kernel's precision. */
function readNormalizer(v: unknown, reduction: Reduction, dtype: Dtype): number | null {
  if (v === undefined || v === null) return null;
  const x = num('options.normalizer', v);
  if (!(x > 0 && x < Infinity && Number.isFinite(inKernel(1 / x, dtype)))) {
    throw new RangeError(
      `focal-loss: options.normalizer = ${show(x)} must be a positive finite number (whose reciprocal is finite${dtype === 'Float32Array' ? ' in float32' : ''})`,
    );
  }
  if (reduction !== 'mean')
    throw new RangeError(
      `focal-loss: options.normalizer replaces the 'mean' divisor; it cannot be used with reduction '${reduction}'`,
    );
  return x;
}

/** A per-class option given as a number for every class (or not at all): readNonNegative reads it; else readPerClass. */
function isScalarOption(v: unknown): v is number | null | undefined {
  return v === undefined || v === null || typeof v === 'number';
}

/**
 * A per-class option given as one value per class: a number[] copied (and checked) once into the
 * kernel's type, or a typed array still to be checked by checkNumbers and then copied by perClassCopy.
 */
function readPerClass(label: string, v: unknown, classes: number, haveClasses: boolean, dtype: Dtype): NumericArray {
  if (!haveClasses)
    throw new TypeError(
      `focal-loss: ${label} per class needs options.classes or options.shape (got ${describe(v)} without them)`,
    );
  return readNumbers(
    v,
    label,
    classes,
    `the number of classes ${classes}`,
    dtype,
    finiteNonNegative,
    NON_NEGATIVE,
    null,
  );
}

/** A checked typed array of per-class values, copied into the kernel's type (the caller's array is not kept). */
function perClassCopy(a: NumericArray, dtype: Dtype): FloatArray {
  const copy = newFloat(dtype, a.length);
  copy.set(a);
  return copy;
}

/**
 * Whether an element-wise call's targets are class indices: `options.targetForm` when given ('indices'
 * needs classes / shape and integer targets), else integer targets with classes / shape — except with one
 * class, where 0/1 labels and class indices (1 = background) are the same arrays read oppositely.
 */
function readTargetForm(
  v: unknown,
  haveClasses: boolean,
  integers: boolean,
  classes: number,
  shape: boolean,
  targets: unknown,
): boolean {
  if (v === 'dense') return false;
  if (v === 'indices') {
    if (!haveClasses)
      throw new TypeError(
        "focal-loss: options.targetForm 'indices' needs options.classes or options.shape (the number of classes)",
      );
    if (!integers)
      throw new TypeError(
        `focal-loss: with options.targetForm 'indices', targets must be class indices: an integer typed array or number[] (got ${describe(targets)})`,
      );
    return true;
  }
  if (v !== undefined) {
    const got = typeof v === 'string' ? quote(v) : describe(v);
    throw new (typeof v === 'string' ? RangeError : TypeError)(
      `focal-loss: options.targetForm = ${got} must be 'indices' or 'dense'`,
    );
  }
  if (!(haveClasses && integers)) return false;
  if (classes === 1) {
    // One class: as class indices 1 is background, the opposite of the 0/1 labels of [M, 1] logits in
    // PyTorch or Keras. Neither reading is guessed (CONTRACT.md § Sigmoid options).
    throw new TypeError(
      `focal-loss: with one class (options.${shape ? 'shape[1]' : 'classes'} = 1), integer targets are ambiguous: ` +
        "for 0/1 labels (1 = positive) pass targetForm: 'dense' (or a Float32Array / Float64Array); " +
        "for class indices (0 = the class, 1 = background, as mmdet's num_classes = 1) pass targetForm: 'indices'",
    );
  }
  return true;
}

/** Sets the header parameters to `loss`'s defaults (CompiledLoss.defaults), before readParams reads what the call gave. */
function setDefaults(p: HeaderParams, d: HeaderParams): void {
  p.ignore_index = d.ignore_index;
  p.loss_kind = d.loss_kind;
  p.flags = d.flags;
  p.alpha_scalar = d.alpha_scalar;
  p.gamma = d.gamma;
  p.gamma_neg = d.gamma_neg;
  p.beta = d.beta;
  p.clip = d.clip;
  p.pos_weight_scalar = d.pos_weight_scalar;
  p.poly_epsilon = d.poly_epsilon;
  p.label_smoothing = d.label_smoothing;
}

const NO_LOGITS = new Float32Array(0);
const NO_INDICES = new Int32Array(0);

/**
 * A plan as the plan functions fill it: one shape for every plan, so the engine's reads of it stay
 * monomorphic, with the objects it points to (options record, header parameters, targets, out) its own.
 */
export class PlanRecord implements Plan {
  loss: 'softmax' | 'elementwise' = 'softmax';
  logits: FloatArray = NO_LOGITS;
  batch = 0;
  classes = 0;
  spatial = 0;
  items = 0;
  readonly targetSlot: { kind: 'index' | 'value'; data: NumericArray } = { kind: 'index', data: NO_INDICES };
  targets = this.targetSlot as Plan['targets'];
  readonly params: HeaderParams = { ...NEUTRAL };
  alpha: FloatArray | null = null;
  posWeight: FloatArray | null = null;
  weights: NumericArray | null = null;
  weightsPerElement = false;
  reduction: Reduction = 'mean';
  count = 0;
  normalizer: number | null = null;
  readonly outSlot: { caller: FloatArray; view: FloatArray } = { caller: NO_LOGITS, view: NO_LOGITS };
  out: { readonly caller: FloatArray; readonly view: FloatArray } | null = null;
  readonly options: OptionValues = newOptionValues();
  /** readOptions's note of each given key's slot, between its check of the keys and its reads. */
  readonly keySlots = new Int32Array(32);

  /** Drops every reference to the caller's arguments. */
  clear(): void {
    this.logits = NO_LOGITS;
    this.targetSlot.data = NO_INDICES;
    this.alpha = this.posWeight = this.weights = null;
    this.outSlot.caller = this.outSlot.view = NO_LOGITS;
    this.out = null;
    const o = this.options;
    for (let i = 0; i < o.length; i++) o[i] = undefined;
  }
}

/**
 * Plans of the public functions, reused: takePlan before validating, releasePlan once the engine has
 * run it. A call in flight owns its plan, so a getter of the caller's that calls the package again
 * takes another one; a call that throws simply drops its plan.
 */
const sparePlans: PlanRecord[] = [];
export function takePlan(): PlanRecord {
  return sparePlans.pop() ?? new PlanRecord();
}
export function releasePlan(plan: PlanRecord): void {
  plan.clear();
  if (sparePlans.length < 8) sparePlans.push(plan);
}

/** Validates a softmax call completely (`partial`: a *Partial function's options) into `plan`, which it returns, or throws. */
export function softmaxPlan(
  logitsArg: unknown,
  targetsArg: unknown,
  optionsArg: unknown,
  partial = false,
  plan = new PlanRecord(),
): Plan {
  const fn = partial ? SOFTMAX.partialName : SOFTMAX.name;
  const logits = readLogits(logitsArg);
  // Its length now: a getter run below may detach the caller's buffer (checked once they have all run).
  const n = logits.length;
  const dtype = typedKind(logits) as Dtype;
  const o = plan.options;
  readOptions(optionsArg, SOFTMAX.keys, fn, partial, " with 'classes' or 'shape'", o, plan.keySlots);
  if (o[SHAPE] === undefined && o[CLASSES] === undefined) {
    throw new TypeError(
      `focal-loss: softmax options need 'classes' (for [M, C] logits) or 'shape' (for [N, C, ...spatial])`,
    );
  }
  readLayout(o, n, plan);
  const { batch, classes, spatial } = plan;
  const items = batch * spatial;
  const reduction = readReduction(o[REDUCTION], partial);
  const ignoreIndex = readIgnoreIndex(o[IGNORE_INDEX]);
  const params = plan.params;
  setDefaults(params, SOFTMAX.defaults);
  params.ignore_index = ignoreIndex;
  // gamma, labelSmoothing, polyEpsilon, alpha (one number, or one per class: `alpha`).
  let alpha = readParams(SOFTMAX, o, dtype, params, classes, true);
  const normalizer = readNormalizer(o[NORMALIZER], reduction, dtype);
  const weights = readWeights(o[WEIGHTS], items, 'items', dtype);

  const tkind = typedKind(targetsArg);
  const target = plan.targetSlot;
  let probabilities = false;
  if (isFloatKind(tkind)) {
    // Probabilities (Keras's categorical form): the logits' layout, each item's values in [0, 1] summing to 1.
    const q = inputView(targetsArg, tkind, 'targets', TARGETS_VIEW);
    if (q.length !== n) {
      throw new RangeError(
        `focal-loss: targets.length = ${q.length}: a ${tkind} of targets holds probabilities and must have logits.length = ${n}` +
          (q.length === items ? '; for class indices pass an Int32Array or number[]' : ''),
      );
    }
    target.kind = 'value';
    target.data = q;
    probabilities = true;
  } else if ((tkind && INDEX_KINDS.includes(tkind)) || isArray(targetsArg)) {
    target.kind = 'index';
    target.data = readIndices(targetsArg, tkind, items, spatial, classes, '', ignoreIndex, plan);
  } else {
    throw new TypeError(
      `focal-loss: targets must be class indices (an integer typed array or number[]) or probabilities (Float32Array/Float64Array) (got ${describe(targetsArg)})`,
    );
  }
  // Every getter and trap of the caller has run: from here on nothing can change the arrays. The typed
  // arrays among them are checked now, in the order they were read.
  checkAttached(logits, n, 'logits');
  if (alpha !== null && isTyped(o[(SOFTMAX.perClass as Param).slot])) {
    checkNumbers(alpha, (SOFTMAX.perClass as Param).label, dtype, finiteNonNegative, NON_NEGATIVE, classes);
    alpha = perClassCopy(alpha, dtype);
  }
  if (weights !== null && isTyped(o[WEIGHTS]))
    checkNumbers(weights, 'options.weights', dtype, finiteNonNegative, NON_NEGATIVE, items);
  if (probabilities) {
    checkAttached(target.data, n, 'targets');
    checkProbabilityRows(target.data as FloatArray, batch, classes, spatial, dtype);
    plan.count = items;
  } else if (tkind !== undefined) {
    plan.count = checkIndices(target.data as IndexArray, items, classes, '', ignoreIndex);
  }
  readOut(o[OUT], n, dtype, plan);
  plan.loss = 'softmax';
  plan.logits = logits;
  plan.items = items;
  plan.targets = target as Plan['targets'];
  plan.alpha = alpha as FloatArray | null;
  plan.posWeight = null;
  plan.weights = weights;
  plan.weightsPerElement = false;
  plan.reduction = reduction;
  plan.normalizer = normalizer;
  return plan;
}

/**
 * Class indices, one per item, each in [0, classes + extra) or `ignoreIndex` (`extra` is 1 for the
 * element-wise losses, whose index C means background): a typed integer array, to be checked by
 * checkIndices once every getter has run, or a number[] copied once and checked as it is copied
 * (`plan.count` then receives the number not ignored).
 */
function readIndices(
  v: unknown,
  kind: TypedKind | undefined,
  items: number,
  spatial: number,
  classes: number,
  background: '' | 'background',
  ignoreIndex: number,
  plan: PlanRecord,
): IndexArray {
  const limit = background ? classes + 1 : classes;
  if (kind && INDEX_KINDS.includes(kind)) {
    const t = inputView(v, kind, 'targets', TARGETS_VIEW) as IndexArray;
    if (t.length !== items)
      throw new RangeError(
        `focal-loss: targets.length = ${t.length} must equal ${itemCount(items, spatial)}${denseHint(background, t.length, items, classes)}`,
      );
    return t;
  }
  const length = readProperty(v as object, 'length', 'targets.length');
  if (length !== items) {
    const got = typeof length === 'number' ? show(length) : describe(length);
    throw new RangeError(
      `focal-loss: targets.length = ${got} must equal ${itemCount(items, spatial)}${denseHint(background, length, items, classes)}`,
    );
  }
  // Copied once: what was checked is what the kernel gets.
  const t = new Int32Array(items);
  let n = 0;
  for (let i = 0; i < items; i++) {
    const x = readElement(v as object, i, 'targets');
    if (typeof x !== 'number')
      throw new TypeError(`focal-loss: targets[${i}] must be a number, a class index (got ${describe(x)})`);
    if (x !== ignoreIndex) {
      if (!(Number.isInteger(x) && x >= 0 && x < limit))
        throw new RangeError(notClassIndex(i, x, classes, background, ignoreIndex));
      n++;
    }
    t[i] = x;
  }
  plan.count = n;
  return t;
}

/** The deferred check of typed class indices (see readIndices): still attached, every index valid. Returns the number not ignored. */
function checkIndices(
  t: IndexArray,
  items: number,
  classes: number,
  background: '' | 'background',
  ignoreIndex: number,
): number {
  checkAttached(t, items, 'targets');
  const bad = firstBadIndex(t, background ? classes + 1 : classes, ignoreIndex);
  if (bad >= 0) throw new RangeError(notClassIndex(bad, t[bad], classes, background, ignoreIndex));
  return -1 - bad;
}

function notClassIndex(
  i: number,
  x: number,
  classes: number,
  background: '' | 'background',
  ignoreIndex: number,
): string {
  return `focal-loss: targets[${i}] = ${show(x)} is not a class index in [0, ${classes}${background ? `] (${classes} = background)` : ')'} or ignoreIndex ${ignoreIndex}`;
}

/**
 * The first class index of `t` outside [0, limit) that is not `ignoreIndex`, else −1 − (the number not
 * ignored). A plain top-level loop over millions of values: kept out of the per-call closures, where V8
 * compiled it several times slower in a long-running process (the bench's 65536×10 validation: 1.4 ms).
 */
function firstBadIndex(t: IndexArray, limit: number, ignoreIndex: number): number {
  let ignored = 0;
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    if (x === ignoreIndex) ignored++;
    else if (!(x >= 0 && x < limit)) return i;
  }
  return -1 - (t.length - ignored);
}

/** An element-wise loss given one integer per logit: dense targets were meant. */
function denseHint(background: '' | 'background', length: unknown, items: number, classes: number): string {
  return background && length === items * classes
    ? '; dense targets (one per logit) go in a Float32Array or Float64Array'
    : '';
}

function itemCount(items: number, spatial: number): string {
  return `the number of items ${items} (one class index per ${spatial === 1 ? 'row' : 'position'})`;
}

/**
 * Each item's probabilities, as the kernel will see them (rounded to float32 for float32 logits),
 * are in [0, 1] and sum to 1 within the tolerance, summed in double in class order as the kernel does.
 */
function checkProbabilityRows(q: FloatArray, batch: number, classes: number, spatial: number, dtype: Dtype): void {
  if (q.length === 0) return;
  const sums = new Float64Array(spatial);
  for (let n = 0; n < batch; n++) {
    sums.fill(0);
    const base = n * classes * spatial;
    for (let c = 0; c < classes; c++) {
      for (let s = 0; s < spatial; s++) {
        const i = base + c * spatial + s;
        const v = inKernel(q[i], dtype);
        if (!(v >= 0 && v <= 1))
          throw new RangeError(`focal-loss: targets[${i}] = ${show(q[i])} is not a probability in [0, 1]`);
        sums[s] += v;
      }
    }
    for (let s = 0; s < spatial; s++) {
      if (Math.abs(sums[s] - 1) > PROBABILITY_SUM_TOLERANCE) {
        const where = spatial === 1 ? `row ${n}` : `item [${n}, ${s}]`;
        const precision =
          dtype === 'Float32Array' ? ' (each value rounded to float32, the precision of Float32Array logits)' : '';
        throw new RangeError(`focal-loss: the target probabilities of ${where} sum to ${sums[s]}${precision}, not 1`);
      }
    }
  }
}

const isProbability = (v: number) => v >= 0 && v <= 1;

/**
 * Validates an element-wise call completely (`partial`: a *Partial function's options) into `plan`,
 * which it returns: dense targets (one value in [0, 1] per logit), or, with `classes` / `shape`,
 * class indices (t = C is background).
 */
export function elementPlan(
  loss: CompiledLoss,
  logitsArg: unknown,
  targetsArg: unknown,
  optionsArg: unknown,
  partial = false,
  plan = new PlanRecord(),
): Plan {
  const fn = partial ? loss.partialName : loss.name;
  const logits = readLogits(logitsArg);
  // Its length now: a getter run below may detach the caller's buffer (checked once they have all run).
  const n = logits.length;
  const dtype = typedKind(logits) as Dtype;
  const o = plan.options;
  readOptions(optionsArg, loss.keys, fn, partial, '', o, plan.keySlots);
  const haveClasses = o[CLASSES] !== undefined || o[SHAPE] !== undefined;
  if (haveClasses) readLayout(o, n, plan);
  else {
    plan.batch = n;
    plan.classes = 1;
    plan.spatial = 1;
  }
  const { batch, classes, spatial } = plan;
  const items = batch * spatial;
  const reduction = readReduction(o[REDUCTION], partial);
  const ignoreIndex = readIgnoreIndex(o[IGNORE_INDEX]);
  const params = plan.params;
  setDefaults(params, loss.defaults);
  params.ignore_index = ignoreIndex;
  // The loss's own parameters; the sigmoid's posWeight may be one per class.
  let posWeight = readParams(loss, o, dtype, params, classes, haveClasses);
  const normalizer = readNormalizer(o[NORMALIZER], reduction, dtype);

  // With classes / shape, integer targets are class indices; float arrays (and anything without
  // classes) are dense targets in the logits' layout.
  const tkind = typedKind(targetsArg);
  const integers = !isFloatKind(tkind) && ((tkind !== undefined && INDEX_KINDS.includes(tkind)) || isArray(targetsArg));
  const indices = readTargetForm(o[TARGET_FORM], haveClasses, integers, classes, o[SHAPE] !== undefined, targetsArg);
  const weights = readWeights(o[WEIGHTS], indices ? items : n, indices ? 'items' : 'elements', dtype);
  const target = plan.targetSlot;
  plan.count = n;
  if (indices) {
    target.kind = 'index';
    target.data = readIndices(targetsArg, tkind, items, spatial, classes, 'background', ignoreIndex, plan);
    if (tkind === undefined) plan.count *= classes; // a number[]: readIndices counted the items not ignored
  } else if (tkind && NUMERIC_KINDS.includes(tkind)) {
    const y = inputView(targetsArg, tkind, 'targets', TARGETS_VIEW) as NumericArray;
    if (y.length !== n)
      throw new RangeError(
        `focal-loss: targets.length = ${y.length} must equal logits.length = ${n} (one target per logit)`,
      );
    target.kind = 'value';
    target.data = y;
  } else if (isArray(targetsArg)) {
    target.kind = 'value';
    target.data = readNumbers(
      targetsArg,
      'targets',
      n,
      `logits.length = ${n} (one target per logit)`,
      dtype,
      isProbability,
      'in [0, 1]',
      null,
    );
  } else {
    const what = haveClasses
      ? 'class indices (an integer typed array or number[]) or a Float32Array/Float64Array of targets in [0, 1]'
      : 'a Float32Array, Float64Array or number[] of values in [0, 1]';
    throw new TypeError(`focal-loss: targets must be ${what} (got ${describe(targetsArg)})`);
  }
  // Every getter and trap of the caller has run: from here on nothing can change the arrays. The typed
  // arrays among them are checked now, in the order they were read.
  checkAttached(logits, n, 'logits');
  if (posWeight !== null && isTyped(o[(loss.perClass as Param).slot])) {
    checkNumbers(posWeight, (loss.perClass as Param).label, dtype, finiteNonNegative, NON_NEGATIVE, classes);
    posWeight = perClassCopy(posWeight, dtype);
  }
  if (weights !== null && isTyped(o[WEIGHTS])) {
    checkNumbers(weights, 'options.weights', dtype, finiteNonNegative, NON_NEGATIVE, indices ? items : n);
  }
  if (tkind !== undefined) {
    if (indices)
      plan.count = checkIndices(target.data as IndexArray, items, classes, 'background', ignoreIndex) * classes;
    else {
      const y = target.data;
      checkAttached(y, n, 'targets');
      const bad = firstNotProbability(y, dtype);
      if (bad >= 0)
        throw new RangeError(
          `focal-loss: targets[${bad}] = ${show(y[bad])} must be in [0, 1]${roundingNote(y[bad], dtype)}`,
        );
    }
  }
  readOut(o[OUT], n, dtype, plan);
  plan.loss = 'elementwise';
  plan.logits = logits;
  plan.items = items;
  plan.targets = target as Plan['targets'];
  plan.alpha = null;
  plan.posWeight = posWeight as FloatArray | null;
  plan.weights = weights;
  plan.weightsPerElement = target.kind === 'value';
  plan.reduction = reduction;
  plan.normalizer = normalizer;
  return plan;
}

// The sigmoid target check runs over up to millions of values, so it is written per array kind: a
// typed array's elements are always numbers (integers for the integer kinds), so its loop needs only
// the comparisons its kind can fail.

/**
 * The first target not in [0, 1] as the kernel sees it (−1 if none). Rounding to float32 maps [0, 1]
 * onto [0, 1], but also values just outside into it (1 + 1e-12 is 1, −1e-50 is −0): a Float64Array of
 * targets for Float32Array logits is checked rounded, like a number[].
 */
function firstNotProbability(y: NumericArray, dtype: Dtype): number {
  if (y instanceof Float64Array && dtype === 'Float32Array') {
    for (let i = 0; i < y.length; i++) {
      const v = Math.fround(y[i]);
      if (!(v >= 0 && v <= 1)) return i;
    }
    return -1;
  }
  if (y instanceof Uint8Array && !anyByteAbove1(y)) return -1;
  if (y instanceof Uint8Array || y instanceof Uint16Array || y instanceof Uint32Array) {
    for (let i = 0; i < y.length; i++) if (y[i] > 1) return i;
    return -1;
  }
  if (y instanceof Float32Array) return firstOutside01F32(y);
  for (let i = 0; i < y.length; i++) if (!(y[i] >= 0 && y[i] <= 1)) return i;
  return -1;
}

/** Up to this many targets, the checks below compare values one by one instead of making a bit view. */
const SHORT_CHECK = 256;

/**
 * True if some byte of `y` is > 1, i.e. has a bit other than the lowest set: the bytes are OR-ed
 * four at a time through a Uint32Array view of the aligned middle (~10× faster than a loop of
 * byte comparisons in V8); the caller's byte loop then finds the index.
 */
function anyByteAbove1(y: Uint8Array): boolean {
  if (y.length <= SHORT_CHECK) {
    // Short arrays: the word view would be an object per call for a few words.
    let m = 0;
    for (let i = 0; i < y.length; i++) m |= y[i];
    return (m & 0xfe) !== 0;
  }
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
  if (y.length <= SHORT_CHECK) {
    for (let i = 0; i < y.length; i++) if (!(y[i] >= 0 && y[i] <= 1)) return i;
    return -1;
  }
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
