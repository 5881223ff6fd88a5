// The wasm boundary as TypeScript sees it: the one TypeScript source of the header layout, the ABI
// version, the flags and the status codes with their messages, and the loss kinds gathered from the
// family's descriptors (ts/family.ts, each loss's `kind`). The Rust side has one
// source of each too (crate/src/ffi.rs CallHeader, ABI_VERSION, FLAG_*; each crate/src/family/ module's KIND;
// FocalError::code in crate/src/lib.rs). test/wasm-module.test.ts compares the header layout with the one the .wasm
// reports; test/boundary.test.ts compares the rest with the crate's sources and triggers every
// status through a raw kernel call.

import { FAMILY } from './family.js';

/** Version of the boundary; a .wasm reporting another version is refused at load. */
export const ABI_VERSION = 3;

/** The fields of crate/src/ffi.rs's `#[repr(C)] CallHeader`, in declaration order, with their types. */
export const HEADER_FIELDS = [
  ['batch', 'u32'],
  ['classes', 'u32'],
  ['spatial', 'u32'],
  ['ignore_index', 'i32'],
  ['logits', 'u32'],
  ['target_indices', 'u32'],
  ['target_values', 'u32'],
  ['alpha', 'u32'],
  ['pos_weight', 'u32'],
  ['weights', 'u32'],
  ['loss_out', 'u32'],
  ['grad_out', 'u32'],
  ['loss_kind', 'u32'],
  ['flags', 'u32'],
  ['error_index', 'u32'],
  ['reserved', 'u32'],
  ['alpha_scalar', 'f64'],
  ['gamma', 'f64'],
  ['gamma_neg', 'f64'],
  ['beta', 'f64'],
  ['clip', 'f64'],
  ['pos_weight_scalar', 'f64'],
  ['poly_epsilon', 'f64'],
  ['label_smoothing', 'f64'],
  ['grad_scale', 'f64'],
  ['sum', 'f64'],
  ['positives', 'f64'],
] as const;

type KindOf = NonNullable<(typeof FAMILY)[keyof typeof FAMILY]['kind']>;
/** The element-wise kernel's losses (header `loss_kind`): each element-wise descriptor's `kind`, by name. */
export const LossKind = Object.fromEntries(
  Object.values(FAMILY).flatMap((d) => (d.kind ? [[d.kind.name, d.kind.code]] : [])),
) as { readonly [K in KindOf as K['name']]: K['code'] };
/** Header `flags` bits. */
export const Flag = { IouWeighted: 1, DetachFocalWeight: 2 } as const;

export type HeaderField = (typeof HEADER_FIELDS)[number][0];
type FieldType = (typeof HEADER_FIELDS)[number][1];
const SIZE: Record<FieldType, number> = { u32: 4, i32: 4, f64: 8 };

/** repr(C) layout: each field at the next multiple of its size; the struct padded to its largest alignment (8). */
function layout(): { offsets: Record<HeaderField, number>; size: number } {
  const offsets = {} as Record<HeaderField, number>;
  let at = 0;
  for (const [name, type] of HEADER_FIELDS) {
    at = Math.ceil(at / SIZE[type]) * SIZE[type];
    offsets[name] = at;
    at += SIZE[type];
  }
  return { offsets, size: Math.ceil(at / 8) * 8 };
}

export const HEADER = layout();

/**
 * Each field's index in a view of wasm memory of its own type, relative to the header's index there:
 * u32 / i32 fields in a Uint32Array or Int32Array (offset / 4), f64 fields in a Float64Array (offset / 8).
 * The engine writes the header through such views, made once (header at `ptr`: `u32[ptr / 4 + SLOT.batch]`).
 */
export const SLOT = Object.fromEntries(
  HEADER_FIELDS.map(([name, type]) => [name, HEADER.offsets[name] / SIZE[type]]),
) as Record<HeaderField, number>;

/** A call header's values; addresses are byte offsets into wasm memory (0: absent). */
export type Header = Record<HeaderField, number>;

/** Writes `h` at `ptr` (little-endian, as wasm memory is). */
export function writeHeader(memory: ArrayBuffer, ptr: number, h: Header): void {
  const view = new DataView(memory, ptr, HEADER.size);
  for (const [name, type] of HEADER_FIELDS) {
    const at = HEADER.offsets[name];
    if (type === 'u32') view.setUint32(at, h[name], true);
    else if (type === 'i32') view.setInt32(at, h[name], true);
    else view.setFloat64(at, h[name], true);
  }
}

/** Reads one field of the header at `ptr`. */
export function readHeaderField(memory: ArrayBuffer, ptr: number, name: 'sum' | 'positives' | 'error_index'): number {
  const view = new DataView(memory, ptr, HEADER.size);
  return name === 'error_index'
    ? view.getUint32(HEADER.offsets.error_index, true)
    : view.getFloat64(HEADER.offsets[name], true);
}

/** A kernel: the address of a call header → a status code. */
export type Kernel = (header: number) => number;

export interface FocalExports {
  readonly memory: WebAssembly.Memory;
  /** The stack pointer, put back by the engine if a kernel traps. */
  readonly __stack_pointer: WebAssembly.Global;
  focal_abi_version(): number;
  focal_scratch_ptr(): number;
  focal_scratch_len(): number;
  focal_header_layout(): number;
  focal_softmax_f32: Kernel;
  focal_softmax_f64: Kernel;
  focal_elementwise_f32: Kernel;
  focal_elementwise_f64: Kernel;
}

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
  InvalidBeta: 10,
  InvalidClip: 11,
  InvalidPosWeight: 12,
  InvalidPolyEpsilon: 13,
} as const;

/** What each failing status means, in the words of the option it names (test/boundary.test.ts triggers each one). */
export const STATUS_MESSAGES: Readonly<Record<Exclude<(typeof Status)[keyof typeof Status], 0>, string>> = {
  [Status.LengthMismatch]: 'an array has the wrong length for the layout',
  [Status.InvalidShape]: 'the shape is not valid',
  [Status.InvalidGamma]: 'gamma is not valid',
  [Status.InvalidAlpha]: 'alpha is out of range',
  [Status.InvalidLabelSmoothing]: 'labelSmoothing is not in [0, 1)',
  [Status.InvalidWeight]: 'weights[i] is not finite and >= 0',
  [Status.TargetOutOfRange]: 'targets[i] is not a class index',
  [Status.InvalidProbability]: 'targets[i] is not a probability',
  [Status.InvalidArgument]: 'invalid argument at the wasm boundary',
  [Status.InvalidBeta]: 'beta is not finite and >= 0',
  [Status.InvalidClip]: 'clip is not in [0, 1)',
  [Status.InvalidPosWeight]: 'posWeight is not finite and >= 0, or was given to a loss that has none',
  [Status.InvalidPolyEpsilon]: 'polyEpsilon is not finite, or was given to a loss that has none',
};

/**
 * The one place where a kernel's status becomes a JS error: RangeError for wrong values, TypeError
 * for a wrong kind of argument. The facade validates everything in the kernel's own precision
 * first, so reaching this is a bug in the package (the tests make sure no input does): the message
 * says which check fired and where.
 */
export function statusError(status: number, errorIndex: number): Error {
  const what = ((STATUS_MESSAGES as Record<number, string>)[status] ?? `unknown status ${status}`).replace(
    '[i]',
    `[${errorIndex}]`,
  );
  const message = `focal-loss: ${what} (kernel status ${status}: validation let this through; please report it)`;
  return status === Status.InvalidArgument ? new TypeError(message) : new RangeError(message);
}
