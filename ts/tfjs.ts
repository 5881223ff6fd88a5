// focal-loss/tfjs: the package's losses as TensorFlow.js losses. `focalLoss(options)` returns
// `(yTrue, yPred) => tf.Tensor` of one loss per sample (shape [batch]), for `model.compile({ loss })`,
// direct calls and `tf.variableGrads`. The value and the gradient come from one fused call of this
// package's *WithGrad function (reduction 'none') on the data read back with dataSync(); tf.customGrad
// hands TensorFlow.js the analytic gradient, so nothing here is differentiated by tfjs's autograd.
//
// The loss functions are imported from 'focal-loss' itself (a self-reference, kept external by the
// build): the adapter uses the module instance the application's runtime entry loaded — in a browser,
// the one `await init()` initialized — never a second copy of the facade or of the .wasm.
import { customGrad, getBackend, mul, reshape, Tensor, tensor } from '@tensorflow/tfjs-core';
import * as core from 'focal-loss';
// The core's describer, reads and family (pure functions and data, bundled into this file): the adapter
// refuses and describes values exactly as the core does, and adapts every loss of the family.
import { describe, describeError, isArray, quote, readProperty, showList } from './arrays.js';
import { aliasOf, FAMILY, type LossName, type OptionsOf, type SoftmaxFocalOptions } from './family.js';

/** Which of the package's losses (ts/family.ts): softmax (classes on the last axis) or an element-wise one. */
export type FocalLossKind = LossName;

/**
 * Options the adapter does not take: the result is always one loss per sample (TensorFlow.js reduces it),
 * the gradient is handed to tfjs, and the layout comes from the tensors' shape (classes on the last axis).
 */
type NotAdapted = 'reduction' | 'out' | 'normalizer' | 'shape' | 'targetForm';

interface AdapterOptions {
  /**
   * false (default, as Keras): yPred holds probabilities — a model that ends in softmax / sigmoid — mapped to
   * logits (softmax: log p, so a row is renormalized as Keras does; element-wise: log p − log1p(−p)), and the
   * gradient through them (÷ p; ÷ p(1 − p)). Only what has no finite logit moves: p below 2^-126 (0 and
   * subnormals) is raised to 2^-126 (log ≈ −87.34) and, element-wise, p = 1 lowered to 1 − 2^-24 (logit ≈ 16.64);
   * the gradient at a moved entry is 0. A negative p (or p > 1, element-wise) is a RangeError; NaN stays NaN.
   * true: yPred holds logits (exact for every finite logit; end the model in a linear layer).
   */
  fromLogits?: boolean;
}

/** focalLoss({ kind, … }): the options of that loss's function except reduction, out, normalizer, shape, targetForm. */
export type TfjsOptionsOf<K extends LossName> = { kind: K } & AdapterOptions & Omit<OptionsOf<K>, NotAdapted>;
/** focalLoss({ kind: 'softmax', … }), the default kind. */
export type TfjsSoftmaxOptions = { kind?: 'softmax' } & AdapterOptions &
  Omit<SoftmaxFocalOptions<Float32Array>, NotAdapted>;
export type TfjsSigmoidOptions = TfjsOptionsOf<'sigmoid'>;
export type TfjsQualityOptions = TfjsOptionsOf<'quality'>;
export type TfjsVarifocalOptions = TfjsOptionsOf<'varifocal'>;
export type TfjsAsymmetricOptions = TfjsOptionsOf<'asymmetric'>;
/** The options of {@link focalLoss}: `kind` selects the loss, the rest are that loss's options. */
export type TfjsFocalLossOptions =
  | TfjsSoftmaxOptions
  | { [K in Exclude<LossName, 'softmax'>]: TfjsOptionsOf<K> }[Exclude<LossName, 'softmax'>];

/** A TensorFlow.js loss: one value per sample, shape [batch]. */
export type TfjsLossFunction = (yTrue: Tensor, yPred: Tensor) => Tensor;

type WithGrad = (
  logits: Float32Array,
  targets: Float32Array,
  options: Record<string, unknown>,
) => { loss: number | Float32Array; grad: Float32Array };

/** Each kind's `*WithGrad` function, found by its descriptor's name among the core's exports. */
const FUNCTIONS = Object.fromEntries(
  Object.entries(FAMILY).map(([kind, d]) => [kind, (core as unknown as Record<string, WithGrad>)[`${d.fn}WithGrad`]]),
) as Record<FocalLossKind, WithGrad>;

/** Why each refused option is refused (the message says what to do instead). */
const REFUSED: Record<NotAdapted, string> = {
  reduction:
    'the loss is one value per sample (shape [batch]) and TensorFlow.js reduces it (model.compile averages it; call .mean() or .sum() on the result yourself)',
  out: 'the gradient is handed to TensorFlow.js through tf.customGrad',
  normalizer:
    "it only applies to a 'mean' reduction, and the adapter returns one loss per sample; divide the result by your normalizer yourself",
  shape: 'the layout comes from the tensors: classes (or elements) on the last axis, samples on the first',
  targetForm: 'yTrue has the shape of yPred, so its targets are always one value per element',
};
/** Spellings Keras users bring. */
const KERAS_NAMES: Record<string, string> = {
  from_logits: 'fromLogits',
  label_smoothing: 'labelSmoothing',
  apply_class_balancing: 'alpha (a number in [0, 1]; null turns class balancing off)',
};

/** The smallest positive normal float32, 2^-126: probabilities below it (0 and subnormals) are raised to it. */
const FLT_MIN = 2 ** -126;
/** The largest float32 below 1, 1 − 2^-24: a probability of exactly 1 is lowered to it (element-wise kinds). */
const ONE_BELOW = 1 - 2 ** -24;
const LOG_FLT_MIN = Math.log(FLT_MIN);
const LOGIT_FLT_MIN = Math.log(FLT_MIN) - Math.log1p(-FLT_MIN);
const LOGIT_ONE_BELOW = Math.log(ONE_BELOW) - Math.log1p(-ONE_BELOW);

/** The core's error (a TypeError or RangeError 'focal-loss: …') in the adapter's voice. */
function retagged(error: unknown): unknown {
  if (!isPackageError(error)) return error;
  const Ctor = error instanceof TypeError ? TypeError : RangeError;
  return new Ctor((error as Error).message.replace(/^focal-loss: /, 'focal-loss/tfjs: '));
}

/** True for an error this package made (never throws: the value may be a revoked Proxy). */
function isPackageError(error: unknown): error is TypeError | RangeError {
  try {
    return (error instanceof TypeError || error instanceof RangeError) && error.message.startsWith('focal-loss');
  } catch {
    return false;
  }
}

/** `obj[key]` as the core reads it (a throwing getter or trap: a TypeError naming `name`), in the adapter's voice. */
function read(obj: object, key: string, name: string): unknown {
  try {
    return readProperty(obj, key, name);
  } catch (error) {
    throw retagged(error);
  }
}

/**
 * A TensorFlow.js loss computed by this package: `(yTrue, yPred) => tf.Tensor` of shape [batch].
 *
 * - `kind: 'softmax'` (default): classes on the last axis; yTrue one-hot or probabilities (each row summing to 1),
 *   the shape of yPred. The loss of a sample is the mean of its items' losses (items: the positions between the
 *   batch axis and the class axis, e.g. the pixels of a [batch, h, w, C] segmentation output).
 * - `kind: 'sigmoid' | 'quality' | 'varifocal' | 'asymmetric'`: element-wise; yTrue the shape of yPred (targets or
 *   quality scores in [0, 1]). The loss of a sample is the mean over all its elements (Keras's
 *   BinaryFocalCrossentropy convention).
 * - `fromLogits` (default false, as Keras): yPred holds probabilities; true: logits.
 * - Every other option is the matching function's (softmaxFocalLoss, sigmoidFocalLoss, …) except `reduction`,
 *   `out`, `normalizer` and `shape`; `classes`, if given, must equal the last axis.
 *
 * @example
 * model.compile({ optimizer: 'adam', loss: focalLoss({ gamma: 2 }) }); // softmax output, one-hot labels
 */
export function focalLoss(options: TfjsFocalLossOptions = {}): TfjsLossFunction {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`focal-loss/tfjs: focalLoss options must be an object (got ${describe(options)})`);
  }
  // Every option read once, own properties only (an inherited one is not an option), into a record
  // without a prototype that the calls share.
  let own: string[];
  try {
    own = Object.keys(options);
  } catch {
    throw new TypeError('focal-loss/tfjs: focalLoss options could not be read (its keys could not be listed)');
  }
  const rest: Record<string, unknown> = Object.create(null);
  for (const key of own) rest[key] = read(options, key, `options.${key}`);
  const kind = rest.kind === undefined ? 'softmax' : rest.kind;
  const fromLogits = rest.fromLogits === undefined ? false : rest.fromLogits;
  delete rest.kind;
  delete rest.fromLogits;
  if (typeof kind !== 'string')
    throw new TypeError(`focal-loss/tfjs: options.kind must be a string (got ${describe(kind)})`);
  if (!Object.hasOwn(FUNCTIONS, kind)) {
    throw new RangeError(
      `focal-loss/tfjs: options.kind = ${quote(kind)} must be one of ${Object.keys(FUNCTIONS)
        .map((k) => `'${k}'`)
        .join(', ')}`,
    );
  }
  if (typeof fromLogits !== 'boolean')
    throw new TypeError(`focal-loss/tfjs: options.fromLogits must be a boolean (got ${describe(fromLogits)})`);
  // The loss's options, from the core's list of them, without those the adapter refuses.
  const accepted = (FAMILY[kind as FocalLossKind].keys as readonly string[]).filter((k) => !Object.hasOwn(REFUSED, k));
  for (const key of Object.keys(rest)) {
    if (Object.hasOwn(REFUSED, key))
      throw new TypeError(`focal-loss/tfjs: focalLoss does not take option '${key}': ${REFUSED[key as NotAdapted]}`);
    if (Object.hasOwn(KERAS_NAMES, key))
      throw new TypeError(`focal-loss/tfjs: focalLoss has no option '${key}' (did you mean ${KERAS_NAMES[key]}?)`);
    if (!(accepted as readonly string[]).includes(key)) {
      const alias = aliasOf(key);
      throw new TypeError(
        `focal-loss/tfjs: focalLoss({ kind: '${kind}' }) has no option ${quote(key)}${alias ? ` (did you mean ${alias}?)` : ''}; options are kind, fromLogits, ${accepted.join(', ')}`,
      );
    }
  }
  const fn = FUNCTIONS[kind as FocalLossKind];
  const call = (logits: Float32Array, targets: Float32Array, classes: number, given: Record<string, unknown>) => {
    try {
      return fn(logits, targets, { ...given, classes, reduction: 'none' });
    } catch (error) {
      throw adapted(error, fromLogits);
    }
  };
  // Validate the options now (unknown keys, values out of range) on an empty batch, so that a mistake shows
  // at model.compile() rather than at the first batch. Arrays whose length depends on the data (weights;
  // per-class alpha / posWeight without `classes`) are checked at each call. Before the WebAssembly module
  // is loaded (browsers, before `await init()`) this call cannot run; the options are then checked at the
  // first call.
  const classesGiven = rest.classes;
  const early: Record<string, unknown> = { ...rest };
  delete early.weights;
  for (const key of ['alpha', 'posWeight']) {
    if (typeof classesGiven !== 'number' && typeof early[key] === 'object' && early[key] !== null) delete early[key];
  }
  try {
    call(new Float32Array(0), new Float32Array(0), classesGiven === undefined ? 1 : (classesGiven as number), early);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw error;
  }

  const softmax = kind === 'softmax';
  const loss = (yTrue: Tensor, yPred: Tensor): Tensor => {
    const { shape, size } = checkTensors(yTrue, yPred, softmax);
    const batch = shape[0];
    const classes = shape.length >= 2 ? shape[shape.length - 1] : 1;
    // What a sample's loss averages: its items (softmax) or its elements (element-wise kinds).
    const perSample = size === 0 ? 0 : (softmax ? size / classes : size) / batch;
    if (classesGiven !== undefined && classesGiven !== classes) {
      const given = typeof classesGiven === 'number' ? String(classesGiven) : describe(classesGiven);
      throw new RangeError(
        `focal-loss/tfjs: options.classes = ${given} but yPred's last axis has ${classes} (classes are on the last axis)`,
      );
    }
    const trueData = dataOf(yTrue, 'yTrue');
    const targets = trueData instanceof Float32Array ? trueData : Float32Array.from(trueData);
    const broadcast = [batch, ...shape.slice(1).map(() => 1)];

    /** Fills `values` (one loss per sample) and returns ∂(loss of the sample)/∂yPred for every element. */
    const lossAndGrad = (data: Float32Array, values: Float32Array): Float32Array => {
      const logits = fromLogits ? data : softmax ? logOf(data) : logitOf(data);
      const r = call(logits, targets, classes, rest);
      const each = r.loss as Float32Array;
      // A sample's loss: the mean of its perSample item (softmax) or element losses, summed in double.
      for (let b = 0, i = 0; b < batch; b++) {
        let s = 0;
        for (const end = i + perSample; i < end; i++) s += each[i];
        values[b] = s / perSample;
      }
      // Each item's own gradient (what 'none' gives) divided by what the sample's mean divides by, times
      // ∂z/∂p when yPred holds probabilities; computed in double, rounded once.
      const grad = r.grad;
      if (fromLogits) {
        for (let i = 0; i < grad.length; i++) grad[i] /= perSample;
      } else if (softmax) {
        // z = log p: ∂/∂p = (∂/∂z) / p; 0 where p < 2^-126 was raised (the derivative of the floor).
        for (let i = 0; i < grad.length; i++) grad[i] = data[i] < FLT_MIN ? 0 : grad[i] / (perSample * data[i]);
      } else {
        // z = log p − log1p(−p): ∂z/∂p = 1 / (p (1 − p)); 0 where p was moved into (0, 1).
        for (let i = 0; i < grad.length; i++) {
          const p = data[i];
          grad[i] = p < FLT_MIN || p > ONE_BELOW ? 0 : grad[i] / (perSample * p * (1 - p));
        }
      }
      return grad;
    };

    const forward = (pred: Tensor) => {
      const values = new Float32Array(batch);
      const grad =
        perSample === 0 ? new Float32Array(size) : lossAndGrad(dataOf(pred, 'yPred') as Float32Array, values);
      // dy: the upstream gradient, one value per sample, broadcast over the sample's elements. No gradient
      // flows to yTrue: it is not an input of this op.
      const gradFunc = (dy: Tensor) => {
        if (getBackend() !== 'cpu') return mul(reshape(dy, broadcast), tensor(grad, shape, 'float32'));
        // The CPU backend's broadcasting multiply is a generic loop ~20× slower than this one, and its dataSync()
        // is the tensor's own memory. (A float32 product rounded once: the same bits as tf.mul.)
        const d = dy.dataSync();
        const out = new Float32Array(size);
        const elements = size / batch;
        for (let b = 0, i = 0; b < batch; b++) {
          const scale = d[b];
          for (const end = i + elements; i < end; i++) out[i] = scale * grad[i];
        }
        return tensor(out, shape, 'float32');
      };
      return { value: tensor(values, [batch], 'float32'), gradFunc };
    };
    try {
      return customGrad(forward as unknown as Parameters<typeof customGrad>[0])(yPred);
    } catch (error) {
      // A package error from the forward pass passes through; anything else came from tfjs handling
      // something that only looked like a tensor.
      if (isPackageError(error)) throw error;
      throw new TypeError(`focal-loss/tfjs: yPred could not be used as a tf.Tensor (${describeError(error)})`);
    }
  };
  return loss;
}

/**
 * yTrue and yPred: tensors of one shape, not disposed, yPred float32 with a batch axis (and a class axis
 * for softmax); returns yPred's shape and size. Every property is read once, through the core's reads
 * (a throwing getter, a revoked Proxy: a TypeError naming the tensor).
 */
function checkTensors(yTrue: unknown, yPred: unknown, softmax: boolean): { shape: number[]; size: number } {
  const read1 = (name: 'yTrue' | 'yPred', t: unknown) => {
    let tensorLike = false;
    try {
      tensorLike = t instanceof Tensor; // tfjs's own test (duck-typed across copies of tfjs); may run getters
    } catch {
      tensorLike = false;
    }
    if (!tensorLike || typeof t !== 'object' || t === null)
      throw new TypeError(`focal-loss/tfjs: ${name} must be a tf.Tensor (got ${describe(t)})`);
    if (read(t, 'isDisposed', `${name}.isDisposed`) === true)
      throw new TypeError(`focal-loss/tfjs: ${name} is a disposed tf.Tensor`);
    const shapeValue = read(t, 'shape', `${name}.shape`);
    const dtype = read(t, 'dtype', `${name}.dtype`);
    const size = read(t, 'size', `${name}.size`);
    if (!isArray(shapeValue))
      throw new TypeError(
        `focal-loss/tfjs: ${name}.shape must be an array (got ${describe(shapeValue)}); is ${name} a tf.Tensor?`,
      );
    const rank = read(shapeValue, 'length', `${name}.shape.length`);
    const shape: number[] = [];
    for (let i = 0; typeof rank === 'number' && i < rank && i <= 64; i++)
      shape.push(read(shapeValue, String(i), `${name}.shape[${i}]`) as number);
    let elements = 1;
    for (const d of shape) elements *= d;
    if (
      typeof rank !== 'number' ||
      rank > 64 ||
      shape.some((d) => !(Number.isSafeInteger(d) && d >= 0)) ||
      elements !== size
    ) {
      throw new TypeError(`focal-loss/tfjs: ${name} has an invalid shape or size; is it a tf.Tensor?`);
    }
    if (typeof dtype !== 'string')
      throw new TypeError(`focal-loss/tfjs: ${name}.dtype must be a string (got ${describe(dtype)})`);
    return { shape, dtype, size: size as number };
  };
  const t = read1('yTrue', yTrue);
  const p = read1('yPred', yPred);
  if (p.dtype !== 'float32')
    throw new TypeError(`focal-loss/tfjs: yPred must be a float32 tensor (got ${quote(p.dtype)})`);
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
    throw new TypeError(`focal-loss/tfjs: yTrue must be a float32, int32 or bool tensor (got ${quote(t.dtype)})`);
  }
  if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
    throw new RangeError(
      `focal-loss/tfjs: yTrue has shape ${showList(t.shape)} but yPred has shape ${showList(p.shape)}; they must be equal${softmax ? ' (one-hot or probability targets, classes on the last axis)' : ''}`,
    );
  }
  if (p.shape.length < (softmax ? 2 : 1)) {
    throw new RangeError(
      `focal-loss/tfjs: yPred has shape ${showList(p.shape)}; ${softmax ? "kind 'softmax' needs [batch, ..., classes]" : 'it needs a batch axis'}`,
    );
  }
  return { shape: p.shape, size: p.size };
}

/** A tensor's values (dataSync): whatever goes wrong reading them is a TypeError naming the tensor. */
function dataOf(t: Tensor, name: 'yTrue' | 'yPred'): ArrayLike<number> {
  let data: unknown;
  try {
    data = t.dataSync();
  } catch (error) {
    throw new TypeError(`focal-loss/tfjs: ${name} could not be read (${describeError(error)})`);
  }
  if (data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint8Array) return data;
  throw new TypeError(
    `focal-loss/tfjs: ${name}.dataSync() returned ${describe(data)}, not a tensor's values; is ${name} a tf.Tensor?`,
  );
}

/** log p for softmax; probabilities below 2^-126 (0, subnormals) are raised to it. NaN stays NaN. */
function logOf(p: Float32Array): Float32Array {
  const z = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v < 0)
      throw new RangeError(
        `focal-loss/tfjs: yPred[${i}] = ${v} is not a probability (fromLogits is false; pass fromLogits: true for logits)`,
      );
    z[i] = v < FLT_MIN ? LOG_FLT_MIN : Math.log(v);
  }
  return z;
}

/** logit(p) = log p − log1p(−p), p kept in [2^-126, 1 − 2^-24] (only 0, subnormals and 1 move). NaN stays NaN. */
function logitOf(p: Float32Array): Float32Array {
  const z = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v < 0 || v > 1)
      throw new RangeError(
        `focal-loss/tfjs: yPred[${i}] = ${v} is not a probability in [0, 1] (fromLogits is false; pass fromLogits: true for logits)`,
      );
    z[i] = v < FLT_MIN ? LOGIT_FLT_MIN : v > ONE_BELOW ? LOGIT_ONE_BELOW : Math.log(v) - Math.log1p(-v);
  }
  return z;
}

/**
 * The package's error in the adapter's terms: its messages name the package's arguments, which are yPred
 * (logits, or the logits its probabilities map to) and yTrue (targets), flattened row-major. (Unknown
 * options never reach the package: focalLoss checks them against the family's keys, ts/family.ts.)
 */
function adapted(error: unknown, fromLogits: boolean): unknown {
  if (!isPackageError(error)) return error;
  const Ctor = error instanceof TypeError ? TypeError : RangeError;
  const message = error.message.replace(/^focal-loss: /, '');
  if (!/\b(logits|targets)\b/.test(message)) return new Ctor(`focal-loss/tfjs: ${message}`);
  return new Ctor(
    `focal-loss/tfjs: ${message} (logits = yPred${fromLogits ? '' : ' mapped to logits'}, targets = yTrue, both flattened row-major)`,
  );
}
