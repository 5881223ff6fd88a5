// The wasm boundary as TypeScript sees it. Must match crate/src/ffi.rs and FocalError::code in
// crate/src/lib.rs.

/** Version of the boundary; a .wasm reporting another version is refused at load. */
export const ABI_VERSION = 1;

/** Address 0 means "absent" for optional pointers. */
export const NULL = 0;

export interface FocalExports {
  readonly memory: WebAssembly.Memory;
  focal_abi_version(): number;
  focal_scratch_ptr(): number;
  focal_scratch_len(): number;
  focal_error_index(): number;
  focal_softmax_f32: SoftmaxKernel;
  focal_softmax_f64: SoftmaxKernel;
  focal_sigmoid_f32: SigmoidKernel;
  focal_sigmoid_f64: SigmoidKernel;
}

/** (batch, classes, spatial, logits, targets, probs, alpha, alphaScalar, weights, gamma,
 *  labelSmoothing, ignoreIndex, gradScale, lossOut, gradOut, acc) → status */
export type SoftmaxKernel = (
  batch: number, classes: number, spatial: number, logits: number, targets: number, probs: number,
  alpha: number, alphaScalar: number, weights: number, gamma: number, labelSmoothing: number,
  ignoreIndex: number, gradScale: number, lossOut: number, gradOut: number, acc: number,
) => number;

/** (len, logits, targets, weights, gamma, alpha (< 0: off), labelSmoothing, gradScale, lossOut,
 *  gradOut, acc) → status */
export type SigmoidKernel = (
  len: number, logits: number, targets: number, weights: number, gamma: number, alpha: number,
  labelSmoothing: number, gradScale: number, lossOut: number, gradOut: number, acc: number,
) => number;

/** Status codes returned by the kernels (FocalError::code). */
export const Status = {
  Ok: 0,
  LengthMismatch: 1,
  InvalidShape: 2,
  InvalidGamma: 3,
  InvalidAlpha: 4,
  InvalidLabelSmoothing: 5,
  InvalidWeight: 6,
  TargetOutOfRange: 7,
  InvalidProbability: 8,
  InvalidArgument: 9,
} as const;

const MESSAGES: Record<number, string> = {
  [Status.LengthMismatch]: 'an array has the wrong length for the layout',
  [Status.InvalidShape]: 'the shape is not valid',
  [Status.InvalidGamma]: 'options.gamma must be a finite number >= 0',
  [Status.InvalidAlpha]: 'options.alpha is out of range',
  [Status.InvalidLabelSmoothing]: 'options.labelSmoothing must be in [0, 1)',
  [Status.InvalidWeight]: 'options.weights[i] must be finite and >= 0',
  [Status.TargetOutOfRange]: 'targets[i] is not a class index',
  [Status.InvalidProbability]: 'targets[i] is not a probability',
  [Status.InvalidArgument]: 'invalid argument at the wasm boundary',
};

/**
 * The one place where a kernel's status becomes a JS error: RangeError for wrong values,
 * TypeError for a wrong kind of argument. The facade validates everything first, so reaching
 * this means the two sides disagree — the message says which check fired and where.
 */
export function statusError(status: number, errorIndex: number, offset = 0): Error {
  const what = (MESSAGES[status] ?? `unknown status ${status}`).replace('[i]', `[${errorIndex + offset}]`);
  const message = `focal-loss: ${what} (kernel status ${status})`;
  return status === Status.InvalidArgument ? new TypeError(message) : new RangeError(message);
}
