// Recognising arguments without trusting them. Arguments may come straight from a request body,
// another realm (a vm context, an iframe), or code that defines own properties on a typed array
// or wraps it in a Proxy. So a typed array's kind, length and position in its buffer are read
// through the %TypedArray% intrinsics (its internal slots), never through its own properties, and
// every function here is total: describing a value for an error message never throws.

type AnyTypedArray =
  | Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array
  | Uint8ClampedArray;

const CONSTRUCTORS = {
  Float32Array, Float64Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array, Uint8ClampedArray,
} as const;
export type TypedKind = keyof typeof CONSTRUCTORS;

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter(name: string | symbol): (this: unknown) => unknown {
  return Object.getOwnPropertyDescriptor(TypedArrayPrototype, name)!.get! as (this: unknown) => unknown;
}
const getTag = intrinsicGetter(Symbol.toStringTag);
const getBuffer = intrinsicGetter('buffer');
const getByteOffset = intrinsicGetter('byteOffset');
const getLength = intrinsicGetter('length');

/**
 * The kind of a typed array, from its internal slot (the same answer in every realm; a Proxy, a
 * DataView or an object pretending to be an array has none), or undefined.
 */
export function typedKind(v: unknown): TypedKind | undefined {
  // The getter returns undefined for anything without a [[TypedArrayName]] slot; it never throws.
  const tag = getTag.call(v) as string | undefined;
  return tag !== undefined && Object.prototype.hasOwnProperty.call(CONSTRUCTORS, tag) ? (tag as TypedKind) : undefined;
}

/**
 * A fresh view of this realm over the same memory as the typed array `v` (which `typedKind` has
 * recognised): its kind, offset and length read from internal slots. The view has no own
 * properties, so nothing the caller set on `v` reaches the engine. A detached buffer is a TypeError
 * naming `name`.
 */
export function canonicalView<K extends TypedKind>(v: unknown, kind: K, name: string): InstanceType<(typeof CONSTRUCTORS)[K]> {
  const buffer = getBuffer.call(v) as ArrayBufferLike;
  const offset = getByteOffset.call(v) as number;
  const length = getLength.call(v) as number;
  try {
    return new CONSTRUCTORS[kind](buffer as ArrayBuffer, offset, length) as InstanceType<(typeof CONSTRUCTORS)[K]>;
  } catch {
    throw new TypeError(`focal-loss: ${name} is a ${kind} whose ArrayBuffer is detached (transferred or freed)`);
  }
}

export function isFloatKind(kind: TypedKind | undefined): kind is 'Float32Array' | 'Float64Array' {
  return kind === 'Float32Array' || kind === 'Float64Array';
}

/** True if the two views share bytes of one buffer. */
export function overlaps(a: AnyTypedArray, b: AnyTypedArray): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

/** Array.isArray, for a value that may be a revoked Proxy (where it throws). */
export function isArray(v: unknown): v is readonly unknown[] {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
}

/** `obj[key]`, where reading may run a getter or a Proxy trap that throws: that becomes a TypeError naming `name`. */
export function readProperty(obj: object, key: string | number, name: string): unknown {
  try {
    return (obj as Record<string | number, unknown>)[key];
  } catch (error) {
    throw new TypeError(`focal-loss: ${name} could not be read (${describeError(error)})`);
  }
}

function describeError(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : describe(error);
  } catch {
    return 'an exception';
  }
}

/** A short description of any value for an error message: never throws, never runs user code. */
export function describe(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return `number ${show(v)}`;
    case 'string':
      return `string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
    case 'bigint':
      return `bigint ${v}`;
    case 'boolean':
    case 'undefined':
    case 'symbol':
    case 'function':
      return typeof v === 'boolean' ? String(v) : typeof v;
  }
  if (v === null) return 'null';
  // The kind of a typed array comes from its internal slot; anything else is only 'Array' or
  // 'object' (a constructor name or Symbol.toStringTag would be read through a getter or Proxy).
  return typedKind(v) ?? (isArray(v) ? 'Array' : 'object');
}

/** A number as text (−0 kept), for messages that quote a value already known to be a number. */
export function show(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}
