// CONTRACT.md § Inputs that are not valid: each bad input gets its TypeError or RangeError, thrown before
// anything is written (the caller's `out` keeps its sentinel), with a message that names the
// argument; the module stays usable. And the inputs that are values, not errors.
import { describe, expect, test } from 'vitest';
import * as api from 'focal-loss';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad, softmaxFocalLoss, softmaxFocalLossWithGrad } from 'focal-loss';
import { refReduce, refSigmoid, refSoftmax } from './reference';

const SENTINEL = -1234.5;
const C = 10;
const M = 20;
const logits = Float64Array.from({ length: M * C }, (_, i) => Math.sin(i * 1.7) * 4);
const targets = Int32Array.from({ length: M }, (_, i) => (i * 3) % C);
const sigLogits = Float64Array.from({ length: 12 }, (_, i) => Math.cos(i) * 3);
const sigTargets = Float64Array.from({ length: 12 }, (_, i) => i % 2);

/** A valid call and its expected value from the reference, to run after every throw. */
function expectStillWorks() {
  const ref = refReduce(refSoftmax(logits, targets, { classes: C, gamma: 2 }), 'mean');
  const out = new Float64Array(M * C);
  const r = softmaxFocalLossWithGrad(logits, targets, { classes: C, out });
  expect(r.grad).toBe(out);
  expect(Math.abs((r.loss as number) - (ref.loss as number))).toBeLessThanOrEqual(1e-12 * (ref.loss as number));
  for (let i = 0; i < out.length; i++)
    expect(Math.abs(out[i] - ref.grad[i])).toBeLessThanOrEqual(1e-12 * ref.gradScale[i] + 1e-300);
  const sref = refReduce(refSigmoid(sigLogits, sigTargets, {}), 'sum');
  const s = sigmoidFocalLoss(sigLogits, sigTargets, { reduction: 'sum' }) as number;
  expect(Math.abs(s - (sref.loss as number))).toBeLessThanOrEqual(1e-12 * (sref.loss as number));
}

type Call = (out: Float64Array | Float32Array) => unknown;
interface Bad {
  name: string;
  error: typeof TypeError | typeof RangeError;
  message: RegExp | string;
  call: Call;
}

const sm =
  (t: unknown, o: Record<string, unknown>, l: unknown = logits): Call =>
  (out) =>
    softmaxFocalLossWithGrad(l as Float64Array, t as Int32Array, { out, ...o } as any);
const sg =
  (t: unknown, o: Record<string, unknown>, l: unknown = sigLogits): Call =>
  (out) =>
    sigmoidFocalLossWithGrad(l as Float64Array, t as Float64Array, { out, ...o } as any);

const badTargets = Int32Array.from(targets);
badTargets[17] = 12;
const probs = (rows: number[][]) => Float64Array.from(rows.flat());
const goodRow = (v: number) => Array.from({ length: C }, (_, c) => (c === v ? 1 : 0));
const probRows = Array.from({ length: M }, (_, i) => goodRow(i % C));

const bad: Bad[] = [
  // logits
  {
    name: 'logits number[]',
    error: TypeError,
    message: 'logits must be a Float32Array or Float64Array (got Array)',
    call: sm(targets, { classes: C }, Array.from(logits)),
  },
  {
    name: 'logits Int32Array',
    error: TypeError,
    message: /logits must be a Float32Array or Float64Array \(got Int32Array\)/,
    call: sm(targets, { classes: C }, new Int32Array(M * C)),
  },
  {
    name: 'logits undefined',
    error: TypeError,
    message: /logits must be a Float32Array or Float64Array/,
    call: (out) => softmaxFocalLossWithGrad(undefined as any, targets, { classes: C, out }),
  },
  {
    name: 'sigmoid logits number[]',
    error: TypeError,
    message: /logits must be a Float32Array or Float64Array \(got Array\)/,
    call: sg(sigTargets, {}, Array.from(sigLogits)),
  },
  // layout
  {
    name: 'no classes nor shape',
    error: TypeError,
    message: /softmax options need 'classes'.*or 'shape'/,
    call: sm(targets, {}),
  },
  {
    name: 'classes disagrees with shape',
    error: RangeError,
    message: 'options.classes = 5 disagrees with options.shape[1] = 10',
    call: sm(targets, { classes: 5, shape: [M, C] }),
  },
  {
    name: 'shape element count',
    error: RangeError,
    message: /options.shape = \[4, 10, 3\] has 120 elements but logits.length = 200/,
    call: sm(targets, { shape: [4, C, 3] }),
  },
  {
    name: 'length not a multiple of classes',
    error: RangeError,
    message: 'logits.length = 200 is not a multiple of options.classes = 3',
    call: sm(targets, { classes: 3 }),
  },
  {
    name: 'classes 0',
    error: RangeError,
    message: /options.classes = 0 must be an integer >= 1/,
    call: sm(targets, { classes: 0 }),
  },
  {
    name: 'classes 2.5',
    error: RangeError,
    message: /options.classes = 2.5 must be an integer >= 1/,
    call: sm(targets, { classes: 2.5 }),
  },
  {
    name: 'classes string',
    error: TypeError,
    message: /options.classes must be a number \(got string '10'\)/,
    call: sm(targets, { classes: '10' }),
  },
  {
    name: 'shape not an array',
    error: TypeError,
    message: /options.shape must be an array/,
    call: sm(targets, { shape: 200 }),
  },
  {
    name: 'shape 1-D',
    error: RangeError,
    message: /options.shape = \[200\] must have at least 2 dimensions/,
    call: sm(targets, { shape: [200] }),
  },
  {
    name: 'shape negative',
    error: RangeError,
    message: /options.shape\[2\] = -1 must be an integer >= 0/,
    call: sm(targets, { shape: [M, C, -1] }),
  },
  // class indices
  {
    name: 'index out of range',
    error: RangeError,
    message: 'targets[17] = 12 is not a class index in [0, 10) or ignoreIndex -100',
    call: sm(badTargets, { classes: C }),
  },
  {
    name: 'index negative',
    error: RangeError,
    message: 'targets[3] = -1 is not a class index in [0, 10) or ignoreIndex -100',
    call: sm(
      Array.from(targets, (t, i) => (i === 3 ? -1 : t)),
      { classes: C },
    ),
  },
  {
    name: 'index non-integer',
    error: RangeError,
    message: 'targets[5] = 2.5 is not a class index in [0, 10) or ignoreIndex -100',
    call: sm(
      Array.from(targets, (t, i) => (i === 5 ? 2.5 : t)),
      { classes: C },
    ),
  },
  {
    name: 'index NaN',
    error: RangeError,
    message: 'targets[0] = NaN is not a class index in [0, 10) or ignoreIndex -100',
    call: sm(
      Array.from(targets, (t, i) => (i === 0 ? NaN : t)),
      { classes: C },
    ),
  },
  {
    name: 'index string',
    error: TypeError,
    message: "targets[1] must be a number, a class index (got string '3')",
    call: sm(
      Array.from(targets, (t, i) => (i === 1 ? '3' : t)),
      { classes: C },
    ),
  },
  {
    name: 'index equal to classes, other ignoreIndex',
    error: RangeError,
    message: 'targets[19] = 10 is not a class index in [0, 10) or ignoreIndex 255',
    call: sm(
      Array.from(targets, (t, i) => (i === 19 ? 10 : t)),
      { classes: C, ignoreIndex: 255 },
    ),
  },
  {
    name: 'channels-first index names the flat position',
    error: RangeError,
    message: /targets\[7\] = 4 is not a class index in \[0, 4\)/,
    call: sm(
      Int32Array.from({ length: 50 }, (_, i) => (i === 7 ? 4 : 0)),
      { shape: [5, 4, 10] },
    ),
  },
  {
    name: 'targets too short',
    error: RangeError,
    message: 'targets.length = 3 must equal the number of items 20 (one class index per row)',
    call: sm([1, 2, 3], { classes: C }),
  },
  {
    name: 'targets too long (positions)',
    error: RangeError,
    message: /targets.length = 21 must equal the number of items 20 \(one class index per position\)/,
    call: sm(new Int32Array(21), { shape: [2, C, 10] }),
  },
  {
    name: 'float targets of the items length',
    error: RangeError,
    message:
      /targets.length = 20: a Float64Array of targets holds probabilities and must have logits.length = 200; for class indices pass an Int32Array or number\[\]/,
    call: sm(Float64Array.from(targets), { classes: C }),
  },
  {
    name: 'targets a string',
    error: TypeError,
    message: /targets must be class indices .* \(got string/,
    call: sm('0123', { classes: C }),
  },
  {
    name: 'targets missing',
    error: TypeError,
    message: /targets must be class indices/,
    call: sm(undefined, { classes: C }),
  },
  {
    name: 'ignoreIndex non-integer',
    error: RangeError,
    message: /options.ignoreIndex = 1.5 must be a 32-bit integer/,
    call: sm(targets, { classes: C, ignoreIndex: 1.5 }),
  },
  // probabilities
  {
    name: 'probability row sums to 0.9',
    error: RangeError,
    message: 'the target probabilities of row 2 sum to 0.9, not 1',
    call: sm(probs(probRows.map((r, i) => (i === 2 ? r.map((v) => v * 0.9) : r))), { classes: C }),
  },
  {
    name: 'probability above 1',
    error: RangeError,
    message: /targets\[40\] = 1.5 is not a probability in \[0, 1\]/,
    call: sm(probs(probRows.map((r, i) => (i === 4 ? [1.5, -0.5, ...r.slice(2)] : r))), { classes: C }),
  },
  {
    name: 'probability negative',
    error: RangeError,
    message: /targets\[51\] = -0.5 is not a probability in \[0, 1\]/,
    call: sm(probs(probRows.map((r, i) => (i === 5 ? [0.5, -0.5, 1, 0, 0, 0, 0, 0, 0, 0] : r))), { classes: C }),
  },
  {
    name: 'probability NaN',
    error: RangeError,
    message: /targets\[63\] = NaN is not a probability/,
    call: sm(probs(probRows.map((r, i) => (i === 6 ? r.map((v, c) => (c === 3 ? NaN : v)) : r))), { classes: C }),
  },
  {
    name: 'probabilities channels-first item',
    error: RangeError,
    message: /the target probabilities of item \[1, 2\] sum to 2, not 1/,
    call: () =>
      softmaxFocalLossWithGrad(new Float64Array(12), Float64Array.from([1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1]), {
        shape: [2, 2, 3],
      }),
  },
  // gamma
  {
    name: 'gamma negative',
    error: RangeError,
    message: 'options.gamma = -1 must be a finite number >= 0',
    call: sm(targets, { classes: C, gamma: -1 }),
  },
  {
    name: 'gamma NaN',
    error: RangeError,
    message: 'options.gamma = NaN must be a finite number >= 0',
    call: sm(targets, { classes: C, gamma: NaN }),
  },
  {
    name: 'gamma Infinity',
    error: RangeError,
    message: 'options.gamma = Infinity must be a finite number >= 0',
    call: sm(targets, { classes: C, gamma: Infinity }),
  },
  {
    name: 'gamma string',
    error: TypeError,
    message: /options.gamma must be a number \(got string '2'\)/,
    call: sm(targets, { classes: C, gamma: '2' }),
  },
  {
    name: 'sigmoid gamma negative',
    error: RangeError,
    message: 'options.gamma = -0.5 must be a finite number >= 0',
    call: sg(sigTargets, { gamma: -0.5 }),
  },
  // label smoothing
  {
    name: 'labelSmoothing 1',
    error: RangeError,
    message: 'options.labelSmoothing = 1 must be in [0, 1)',
    call: sm(targets, { classes: C, labelSmoothing: 1 }),
  },
  {
    name: 'labelSmoothing -0.1',
    error: RangeError,
    message: 'options.labelSmoothing = -0.1 must be in [0, 1)',
    call: sm(targets, { classes: C, labelSmoothing: -0.1 }),
  },
  {
    name: 'sigmoid labelSmoothing NaN',
    error: RangeError,
    message: /options.labelSmoothing = NaN must be in \[0, 1\)/,
    call: sg(sigTargets, { labelSmoothing: NaN }),
  },
  // alpha
  {
    name: 'alpha negative',
    error: RangeError,
    message: /options.alpha = -0.25 must be a finite number >= 0/,
    call: sm(targets, { classes: C, alpha: -0.25 }),
  },
  {
    name: 'alpha wrong length',
    error: RangeError,
    message: 'options.alpha.length = 2 must equal the number of classes 10',
    call: sm(targets, { classes: C, alpha: [1, 2] }),
  },
  {
    name: 'alpha entry negative',
    error: RangeError,
    message: /options.alpha\[4\] = -1 must be a finite number >= 0/,
    call: sm(targets, { classes: C, alpha: Array.from({ length: C }, (_, c) => (c === 4 ? -1 : 1)) }),
  },
  {
    name: 'alpha entry NaN',
    error: RangeError,
    message: /options.alpha\[0\] = NaN must be a finite number >= 0/,
    call: sm(targets, { classes: C, alpha: new Float64Array(C).fill(NaN) }),
  },
  {
    name: 'alpha a string',
    error: TypeError,
    message: /options.alpha must be a Float32Array, Float64Array or number\[\]/,
    call: sm(targets, { classes: C, alpha: 'balanced' }),
  },
  {
    name: 'sigmoid alpha 1.5',
    error: RangeError,
    message: /options.alpha = 1.5 must be in \[0, 1\], or null \/ -1 to turn weighting off/,
    call: sg(sigTargets, { alpha: 1.5 }),
  },
  {
    name: 'sigmoid alpha -0.5',
    error: RangeError,
    message: /options.alpha = -0.5 must be in \[0, 1\]/,
    call: sg(sigTargets, { alpha: -0.5 }),
  },
  {
    name: 'sigmoid alpha array',
    error: TypeError,
    message: /options.alpha must be a number/,
    call: sg(sigTargets, { alpha: [0.25] }),
  },
  // weights
  {
    name: 'weights negative',
    error: RangeError,
    message: 'options.weights[3] = -1 must be a finite number >= 0',
    call: sm(targets, { classes: C, weights: Array.from({ length: M }, (_, i) => (i === 3 ? -1 : 1)) }),
  },
  {
    name: 'weights NaN',
    error: RangeError,
    message: 'options.weights[0] = NaN must be a finite number >= 0',
    call: sm(targets, { classes: C, weights: new Float64Array(M).fill(NaN) }),
  },
  {
    name: 'weights Infinity',
    error: RangeError,
    message: 'options.weights[19] = Infinity must be a finite number >= 0',
    call: sm(targets, { classes: C, weights: Array.from({ length: M }, (_, i) => (i === 19 ? Infinity : 1)) }),
  },
  {
    name: 'weights wrong length',
    error: RangeError,
    message: 'options.weights.length = 5 must equal the number of items 20',
    call: sm(targets, { classes: C, weights: [1, 1, 1, 1, 1] }),
  },
  {
    name: 'sigmoid weights wrong length',
    error: RangeError,
    message: 'options.weights.length = 13 must equal the number of elements 12',
    call: sg(sigTargets, { weights: new Float64Array(13) }),
  },
  // reduction
  {
    name: "reduction 'avg'",
    error: RangeError,
    message: "options.reduction = 'avg' must be 'mean', 'sum' or 'none'",
    call: sm(targets, { classes: C, reduction: 'avg' }),
  },
  {
    name: 'reduction non-string',
    error: TypeError,
    message: /options.reduction must be a string \(got number 1\)/,
    call: sm(targets, { classes: C, reduction: 1 }),
  },
  {
    name: "sigmoid reduction 'Mean'",
    error: RangeError,
    message: "options.reduction = 'Mean' must be 'mean', 'sum' or 'none'",
    call: sg(sigTargets, { reduction: 'Mean' }),
  },
  // out
  {
    name: 'out of the other float type',
    error: TypeError,
    message: 'options.out must be a Float64Array like logits (got Float32Array)',
    call: () => softmaxFocalLossWithGrad(logits, targets, { classes: C, out: new Float32Array(M * C) as any }),
  },
  {
    name: 'out a number[]',
    error: TypeError,
    message: 'options.out must be a Float64Array like logits (got Array)',
    call: () => softmaxFocalLossWithGrad(logits, targets, { classes: C, out: [] as any }),
  },
  {
    name: 'out too short',
    error: RangeError,
    message: 'options.out.length = 199 must equal logits.length = 200',
    call: () => softmaxFocalLossWithGrad(logits, targets, { classes: C, out: new Float64Array(199) }),
  },
  {
    name: 'float32 out of the other type',
    error: TypeError,
    message: 'options.out must be a Float32Array like logits (got Float64Array)',
    call: (out) => softmaxFocalLossWithGrad(Float32Array.from(logits), targets, { classes: C, out: out as any }),
  },
  // options object
  {
    name: 'unknown option ignore_index',
    error: TypeError,
    message: /softmaxFocalLoss has no option 'ignore_index' \(did you mean ignoreIndex\?\)/,
    call: sm(targets, { classes: C, ignore_index: 3 }),
  },
  {
    name: 'unknown option label_smoothing (sigmoid)',
    error: TypeError,
    message: /sigmoidFocalLoss has no option 'label_smoothing' \(did you mean labelSmoothing\?\)/,
    call: sg(sigTargets, { label_smoothing: 0.1 }),
  },
  {
    name: 'unknown option without hint',
    error: TypeError,
    message: /softmaxFocalLoss has no option 'foo'; options are classes, shape/,
    call: sm(targets, { classes: C, foo: 1 }),
  },
  {
    name: 'options not an object',
    error: TypeError,
    message: /options must be an object with 'classes' or 'shape' \(got number 10\)/,
    call: () => softmaxFocalLossWithGrad(logits, targets, 10 as any),
  },
  {
    name: 'options null',
    error: TypeError,
    message: /options must be an object .*\(got null\)/,
    call: () => softmaxFocalLossWithGrad(logits, targets, null as any),
  },
  {
    name: 'sigmoid options a string',
    error: TypeError,
    message: /options must be an object \(got string 'sum'\)/,
    call: () => sigmoidFocalLossWithGrad(sigLogits, sigTargets, 'sum' as any),
  },
  // sigmoid targets
  {
    name: 'sigmoid targets wrong length',
    error: RangeError,
    message: 'targets.length = 11 must equal logits.length = 12 (one target per logit)',
    call: sg(sigTargets.subarray(1), {}),
  },
  {
    name: 'sigmoid target 2',
    error: RangeError,
    message: 'targets[4] = 2 must be in [0, 1]',
    call: sg(
      Float64Array.from(sigTargets, (v, i) => (i === 4 ? 2 : v)),
      {},
    ),
  },
  {
    name: 'sigmoid target NaN',
    error: RangeError,
    message: 'targets[0] = NaN must be in [0, 1]',
    call: sg(
      Float64Array.from(sigTargets, (v, i) => (i === 0 ? NaN : v)),
      {},
    ),
  },
  // Float32 targets take a bit-pattern fast path (ts/options.ts, four at a time, then a tail): the index
  // reported must still be the first bad one, inside the four-at-a-time part and in the tail.
  {
    name: 'sigmoid float32 target 2',
    error: RangeError,
    message: 'targets[4] = 2 must be in [0, 1]',
    call: sg(
      Float32Array.from(sigTargets, (v, i) => (i === 4 ? 2 : v)),
      {},
    ),
  },
  {
    name: 'sigmoid float32 target just above 1',
    error: RangeError,
    message: /targets\[11\] = 1\.000000119\d* must be in \[0, 1\]/,
    call: sg(
      Float32Array.from(sigTargets, (v, i) => (i === 11 ? 1.0000001 : v)),
      {},
    ),
  },
  {
    name: 'sigmoid float32 target -1e-45 after a -0',
    error: RangeError,
    message: /targets\[9\] = -1\.4\d*e-45 must be in \[0, 1\]/,
    call: sg(
      Float32Array.from(sigTargets, (v, i) => (i === 2 ? -0 : i === 9 ? -1e-45 : v)),
      {},
    ),
  },
  {
    name: 'sigmoid float32 target NaN, odd length (tail)',
    error: RangeError,
    message: 'targets[10] = NaN must be in [0, 1]',
    call: () =>
      sigmoidFocalLossWithGrad(
        sigLogits.subarray(0, 11),
        Float32Array.from(sigTargets.subarray(0, 11), (v, i) => (i === 10 ? NaN : v)),
      ),
  },
  {
    name: 'sigmoid targets a string',
    error: TypeError,
    message: /targets must be a Float32Array, Float64Array or number\[\]/,
    call: sg('010101010101', {}),
  },
  // the focal family's options (CONTRACT.md, detection and multi-label losses)
  {
    name: 'posWeight negative',
    error: RangeError,
    message: 'options.posWeight = -1 must be a finite number >= 0',
    call: sg(sigTargets, { posWeight: -1 }),
  },
  {
    name: 'posWeight per class without classes',
    error: TypeError,
    message: /options.posWeight per class needs options.classes or options.shape/,
    call: sg(sigTargets, { posWeight: [1, 2, 3] }),
  },
  {
    name: 'posWeight per class of the wrong length',
    error: RangeError,
    message: 'options.posWeight.length = 2 must equal the number of classes 3',
    call: sg(sigTargets, { classes: 3, posWeight: [1, 2] }),
  },
  {
    name: 'posWeight float32 overflow',
    error: RangeError,
    message: /options.posWeight\[1\] = 1e\+39 must be a finite number >= 0 \(it is Infinity in float32/,
    call: () =>
      sigmoidFocalLossWithGrad(Float32Array.from(sigLogits), sigTargets, { classes: 3, posWeight: [1, 1e39, 1] }),
  },
  {
    name: 'polyEpsilon NaN',
    error: RangeError,
    message: 'options.polyEpsilon = NaN must be a finite number',
    call: sm(targets, { classes: C, polyEpsilon: NaN }),
  },
  {
    name: 'polyEpsilon string',
    error: TypeError,
    message: "options.polyEpsilon must be a number (got string '1')",
    call: sg(sigTargets, { polyEpsilon: '1' }),
  },
  {
    name: 'normalizer 0',
    error: RangeError,
    message: /options.normalizer = 0 must be a positive finite number/,
    call: sm(targets, { classes: C, normalizer: 0 }),
  },
  {
    name: 'normalizer with sum',
    error: RangeError,
    message: "options.normalizer replaces the 'mean' divisor; it cannot be used with reduction 'sum'",
    call: sg(sigTargets, { normalizer: 4, reduction: 'sum' }),
  },
  {
    name: 'normalizer whose reciprocal overflows float32',
    error: RangeError,
    message: /options.normalizer = 1e-40 must be a positive finite number \(whose reciprocal is finite in float32\)/,
    call: () => sigmoidFocalLossWithGrad(Float32Array.from(sigLogits), sigTargets, { normalizer: 1e-40 }),
  },
  {
    name: 'sigmoid class index above background',
    error: RangeError,
    message: 'targets[1] = 4 is not a class index in [0, 3] (3 = background) or ignoreIndex -100',
    call: sg([0, 4, 3, 1], { classes: 3 }),
  },
  {
    name: 'sigmoid class indices of the wrong count',
    error: RangeError,
    message: 'targets.length = 3 must equal the number of items 4 (one class index per row)',
    call: sg(new Int32Array(3), { classes: 3 }),
  },
  {
    name: 'quality beta negative',
    error: RangeError,
    message: 'options.beta = -1 must be a finite number >= 0',
    call: (out) => api.qualityFocalLossWithGrad(sigLogits, sigTargets, { beta: -1, out }),
  },
  {
    name: 'varifocal iouWeighted a string',
    error: TypeError,
    message: "options.iouWeighted must be true or false (got string 'yes')",
    call: (out) => api.varifocalLossWithGrad(sigLogits, sigTargets, { iouWeighted: 'yes' as never, out }),
  },
  {
    name: 'varifocal alpha NaN',
    error: RangeError,
    message: 'options.alpha = NaN must be a finite number >= 0',
    call: (out) => api.varifocalLossWithGrad(sigLogits, sigTargets, { alpha: NaN, out }),
  },
  {
    name: 'asymmetric clip 1',
    error: RangeError,
    message: 'options.clip = 1 must be in [0, 1)',
    call: (out) => api.asymmetricLossWithGrad(sigLogits, sigTargets, { clip: 1, out }),
  },
  {
    name: 'asymmetric gammaNeg Infinity',
    error: RangeError,
    message: 'options.gammaNeg = Infinity must be a finite number >= 0',
    call: (out) => api.asymmetricLossWithGrad(sigLogits, sigTargets, { gammaNeg: Infinity, out }),
  },
  {
    name: 'asymmetric detachFocalWeight 1',
    error: TypeError,
    message: 'options.detachFocalWeight must be true or false (got number 1)',
    call: (out) => api.asymmetricLossWithGrad(sigLogits, sigTargets, { detachFocalWeight: 1 as never, out }),
  },
  {
    name: 'quality unknown option gamma',
    error: TypeError,
    message: /qualityFocalLoss has no option 'gamma'; options are beta, classes/,
    call: (out) => api.qualityFocalLossWithGrad(sigLogits, sigTargets, { gamma: 2, out } as never),
  },
  {
    name: 'partial refuses normalizer',
    error: TypeError,
    message: /sigmoidFocalLossPartial has no option 'normalizer': a partial is always/,
    call: () => api.sigmoidFocalLossPartial(sigLogits, sigTargets, { normalizer: 2 } as never),
  },
];

describe('bad inputs throw before anything is written', () => {
  test.each(bad.map((b) => [b.name, b] as const))('%s', (_name, b) => {
    // A caller's gradient destination (the shared logits' type and length; of the wrong type for
    // the float32 case), filled with a sentinel that must survive the throw.
    const sized = new Float64Array(M * C).fill(SENTINEL);
    let thrown: unknown;
    try {
      b.call(sized);
    } catch (error) {
      thrown = error;
    }
    expect(thrown, 'did not throw').toBeInstanceOf(b.error);
    // The other class is not acceptable: RangeError is not a TypeError and vice versa.
    expect((thrown as Error).constructor).toBe(b.error);
    const message = (thrown as Error).message;
    if (typeof b.message === 'string') expect(message).toContain(b.message);
    else expect(message).toMatch(b.message);
    for (const v of sized) expect(v).toBe(SENTINEL);
    expectStillWorks();
  });

  test('the loss-only functions validate the same way', () => {
    expect(() => softmaxFocalLoss(logits, badTargets, { classes: C })).toThrow(
      new RangeError('focal-loss: targets[17] = 12 is not a class index in [0, 10) or ignoreIndex -100'),
    );
    expect(() => sigmoidFocalLoss(sigLogits, sigTargets, { alpha: 1.5 })).toThrow(RangeError);
    expect(() => softmaxFocalLoss(logits, targets, { classes: C, ignore_index: 1 } as any)).toThrow(TypeError);
    expectStillWorks();
  });

  test('an out-of-range index in a later chunk of a large batch leaves out untouched', () => {
    const N = 100_000;
    const big = new Float32Array(N * 4).fill(0.5);
    const t = new Uint8Array(N);
    t[N - 1] = 4;
    const out = new Float32Array(N * 4).fill(SENTINEL);
    expect(() => softmaxFocalLossWithGrad(big, t, { classes: 4, out })).toThrow(
      `targets[${N - 1}] = 4 is not a class index in [0, 4)`,
    );
    for (const v of out) if (v !== SENTINEL) throw new Error('out was written');
    expectStillWorks();
  });
});

describe('sigmoid alpha null and -1 turn weighting off', () => {
  test('null ≡ -1 ≡ the unweighted reference; the default α = 0.25 weights positives 0.25, negatives 0.75', () => {
    const off = refReduce(refSigmoid(sigLogits, sigTargets, { alpha: null }), 'none');
    const a = sigmoidFocalLossWithGrad(sigLogits, sigTargets, { alpha: null, reduction: 'none' });
    const b = sigmoidFocalLossWithGrad(sigLogits, sigTargets, { alpha: -1, reduction: 'none' });
    const d = sigmoidFocalLossWithGrad(sigLogits, sigTargets, { reduction: 'none' });
    expect(Array.from(b.loss as Float64Array)).toEqual(Array.from(a.loss as Float64Array));
    expect(Array.from(b.grad)).toEqual(Array.from(a.grad));
    const loss = a.loss as Float64Array;
    for (let i = 0; i < loss.length; i++) {
      expect(Math.abs(loss[i] - (off.loss as Float64Array)[i])).toBeLessThanOrEqual(
        1e-12 * (off.loss as Float64Array)[i],
      );
      // The default α = 0.25 weights positives by 0.25 and negatives by 0.75.
      expect((d.loss as Float64Array)[i] / loss[i]).toBeCloseTo(sigTargets[i] === 1 ? 0.25 : 0.75, 12);
    }
  });
});

describe('values that are not errors', () => {
  test('-Infinity logits are a masked class: finite loss, zero gradient there', () => {
    const z = new Float64Array([2, -Infinity, 0, 1, -Infinity, -Infinity]);
    const r = softmaxFocalLossWithGrad(z, [0, 2], { classes: 3, reduction: 'none' });
    const ref = refSoftmax(
      [2, -Infinity, 0, 1, -Infinity, -Infinity].map((v) => v),
      [0, 2],
      { classes: 3 },
    );
    const loss = r.loss as Float64Array;
    expect(Number.isFinite(loss[0])).toBe(true);
    expect(Math.abs(loss[0] - ref.losses[0])).toBeLessThan(1e-12 * ref.losses[0]);
    expect(r.grad[1]).toBe(0);
    expect(Number.isFinite(r.grad[0]) && Number.isFinite(r.grad[2])).toBe(true);
    // Row 1: only class 0 is possible but the target is class 2 (masked): loss Infinity.
    expect(loss[1]).toBe(Infinity);
    // And a sigmoid -Infinity logit with target 0 is a loss of 0.
    const s = sigmoidFocalLoss(new Float64Array([-Infinity]), [0], { reduction: 'sum' });
    expect(s).toBe(0);
  });

  for (const bad of [NaN, Infinity]) {
    test(`${bad} in logits gives NaN for that item only`, () => {
      const z = Float64Array.from(logits);
      z[5 * C + 3] = bad;
      for (const Ctor of [Float32Array, Float64Array]) {
        const r = softmaxFocalLossWithGrad(Ctor.from(z), targets, { classes: C, reduction: 'none' });
        const loss = r.loss as Float32Array | Float64Array;
        for (let n = 0; n < M; n++) {
          if (n === 5) expect(loss[n]).toBeNaN();
          else expect(Number.isFinite(loss[n]) && loss[n] >= 0, `item ${n}`).toBe(true);
        }
        for (let i = 0; i < M * C; i++) {
          if (Math.floor(i / C) !== 5) expect(Number.isFinite(r.grad[i]), `grad ${i}`).toBe(true);
        }
        expect(softmaxFocalLoss(Ctor.from(z), targets, { classes: C })).toBeNaN();
        const sz = Ctor.from(sigLogits);
        sz[7] = bad;
        const s = sigmoidFocalLoss(sz, sigTargets, { reduction: 'none' }) as Float32Array | Float64Array;
        s.forEach((v, i) => (i === 7 ? expect(v).toBeNaN() : expect(Number.isFinite(v)).toBe(true)));
      }
      expectStillWorks();
    });
  }

  test('an empty batch: loss 0 and an empty gradient for each reduction', () => {
    for (const Ctor of [Float32Array, Float64Array]) {
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const r = softmaxFocalLossWithGrad(new Ctor(0), [], { classes: 5, reduction });
        const s = sigmoidFocalLossWithGrad(new Ctor(0), [], { reduction });
        const img = softmaxFocalLossWithGrad(new Ctor(0), new Int32Array(0), { shape: [0, 3, 4, 4], reduction });
        for (const x of [r, s, img]) {
          expect(x.grad).toBeInstanceOf(Ctor);
          expect(x.grad.length).toBe(0);
          if (reduction === 'none') {
            expect(x.loss).toBeInstanceOf(Ctor);
            expect((x.loss as Float32Array).length).toBe(0);
          } else {
            expect(x.loss).toBe(0);
          }
        }
      }
    }
  });

  test("'mean' over zero counted items is 0 with a zero gradient", () => {
    const out = new Float64Array(M * C).fill(SENTINEL);
    const all = new Int32Array(M).fill(-100);
    const r = softmaxFocalLossWithGrad(logits, all, { classes: C, out });
    expect(r.loss).toBe(0);
    for (const g of out) expect(g).toBe(0);
    const u8 = softmaxFocalLossWithGrad(Float32Array.from(logits), new Uint8Array(M).fill(255), {
      classes: C,
      ignoreIndex: 255,
    });
    expect(u8.loss).toBe(0);
    expect(u8.grad.every((g) => g === 0)).toBe(true);
    expect(softmaxFocalLoss(logits, all, { classes: C, reduction: 'sum' })).toBe(0);
  });
});

test('float32 sigmoid targets: -0 is a valid 0 (the bit-pattern check flags it, the float check accepts it)', () => {
  const x = new Float32Array([0.5, -2, 3, 1, -1]);
  const a = sigmoidFocalLossWithGrad(x, new Float32Array([-0, 1, -0, 0, 1]), { reduction: 'none' });
  const b = sigmoidFocalLossWithGrad(x, new Float32Array([0, 1, 0, 0, 1]), { reduction: 'none' });
  expect(Array.from(a.loss)).toEqual(Array.from(b.loss));
  expect(Array.from(a.grad)).toEqual(Array.from(b.grad));
});
