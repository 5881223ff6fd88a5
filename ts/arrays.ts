// Recognising arguments without trusting them. Arguments may come straight from a request body,
// another realm (a vm context, an iframe), or code that defines own properties on a typed array
// or wraps it in a Proxy. So a typed array's kind, length and position in its buffer are read
// through the %TypedArray% intrinsics (its internal slots), never through its own properties, and
// every function here is total: describing a value for an error message never throws.

type AnyTypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray;

const CONSTRUCTORS = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
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
const getByteLength = intrinsicGetter('byteLength');

/**
 * The kind of a typed array, from its internal slot (the same answer in every realm; a Proxy, a
 * DataView or an object pretending to be an array has none), or undefined.
 */
export function typedKind(v: unknown): TypedKind | undefined {
  // The getter returns undefined for anything without a [[TypedArrayName]] slot; it never throws.
  const tag = getTag.call(v) as string | undefined;
  switch (tag) {
    case 'Float32Array':
    case 'Float64Array':
    case 'Int32Array':
    case 'Uint32Array':
    case 'Int16Array':
    case 'Uint16Array':
    case 'Int8Array':
    case 'Uint8Array':
    case 'Uint8ClampedArray':
      return tag;
  }
  return undefined; // BigInt64Array, Float16Array, …: kinds the package does not take
}

const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get! as (
  this: unknown,
) => number;

/**
 * True if `buffer` (a typed array's [[ViewedArrayBuffer]]) is a SharedArrayBuffer: ArrayBuffer's own
 * byteLength getter refuses one (in every realm; it never runs user code), and never throws otherwise.
 */
function isShared(buffer: unknown): boolean {
  try {
    arrayBufferByteLength.call(buffer);
    return false;
  } catch {
    return true;
  }
}

type View<K extends TypedKind> = InstanceType<(typeof CONSTRUCTORS)[K]>;

/**
 * The view of the last array seen in one argument position (see canonicalView), kept so that a call
 * given the same small array again makes no new view: a view is an object per array per call, and
 * small calls are made in loops over the same few arrays. Only views of unshared buffers of at most
 * VIEW_CACHE_BYTES are kept, so at most that much memory per position outlives the call that used it;
 * the caller's typed array itself (and whatever it holds) is not kept.
 */
export class ViewCache {
  buffer: unknown = null;
  offset = 0;
  length = 0;
  kind: TypedKind | '' = '';
  view: AnyTypedArray | null = null;
}
const VIEW_CACHE_BYTES = 65536;

/**
 * A view of this realm over the same memory as the typed array `v` (which `typedKind` has
 * recognised): its kind, offset and length read from internal slots. The view has no own
 * properties, so nothing the caller set on `v` reaches the engine. A detached buffer is a TypeError
 * naming `name`. For the gradient's destination (`out`), which the engine writes. With `cache`: the
 * cached view when `v` has the same buffer, offset, length and kind as the array it was made for (a
 * typed array's buffer and offset never change; its length does when its buffer is detached or
 * resized), else a new one, then cached if small.
 */
export function canonicalView<K extends TypedKind>(
  v: unknown,
  kind: K,
  name: string,
  cache: ViewCache | null = null,
): View<K> {
  const buffer = getBuffer.call(v) as ArrayBufferLike;
  const offset = getByteOffset.call(v) as number;
  const length = getLength.call(v) as number;
  // The cached view has `length` too: were it detached or out of bounds (a resizable buffer shrunk),
  // `v`, over the same bytes, would have length 0, which is never cached.
  if (
    cache !== null &&
    cache.buffer === buffer &&
    cache.offset === offset &&
    cache.length === length &&
    cache.kind === kind
  ) {
    return cache.view as View<K>;
  }
  // A detached buffer reads as length 0 at offset 0; only then can constructing the view fail for it.
  // (Catching every error would also call an exhausted stack "detached".)
  if (length === 0 && isDetached(buffer)) throw detachedError(name, kind);
  const view = new CONSTRUCTORS[kind](buffer as ArrayBuffer, offset, length) as View<K>;
  if (cache !== null && length > 0 && !isShared(buffer) && arrayBufferByteLength.call(buffer) <= VIEW_CACHE_BYTES) {
    cache.buffer = buffer;
    cache.offset = offset;
    cache.length = length;
    cache.kind = kind;
    cache.view = view;
  }
  return view;
}

/**
 * An input's view (see canonicalView), copied once if its memory is a SharedArrayBuffer: another
 * thread can write shared memory at any time, and another SharedArrayBuffer object (a shared
 * WebAssembly.Memory after grow(), structuredClone, postMessage) can reach the same bytes, so only a
 * private copy is what validation checked and cannot overlap `out` (CONTRACT.md § Aliasing). A cached
 * view is never of shared memory.
 */
export function inputView<K extends TypedKind>(
  v: unknown,
  kind: K,
  name: string,
  cache: ViewCache | null = null,
): View<K> {
  const view = canonicalView(v, kind, name, cache);
  if (cache !== null && cache.view === view) return view;
  if (!isShared(getBuffer.call(view))) return view;
  const copy = new CONSTRUCTORS[kind](view.length) as View<K>;
  copy.set(view as never);
  return copy;
}

function isDetached(buffer: ArrayBufferLike): boolean {
  if (isShared(buffer) || arrayBufferByteLength.call(buffer) !== 0) return false; // a SharedArrayBuffer never detaches
  try {
    new Uint8Array(buffer as ArrayBuffer, 0, 0);
    return false;
  } catch (error) {
    if (error instanceof TypeError) return true;
    throw error; // a RangeError: the stack ran out (see stackError)
  }
}

function detachedError(name: string, kind: string): TypeError {
  return new TypeError(`focal-loss: ${name} is a ${kind} whose ArrayBuffer is detached (transferred or freed)`);
}

/**
 * Throws unless the view `a` (made by canonicalView / inputView) still has `length` elements: code of
 * the caller that ran after it was made (a getter, a Proxy trap) may have detached its buffer.
 */
export function checkAttached(a: ArrayBufferView, length: number, name: string): void {
  if ((getLength.call(a) as number) !== length) {
    throw new TypeError(
      `focal-loss: ${name} was detached (transferred or freed) during the call, by code the call ran (a getter or a Proxy trap)`,
    );
  }
}

export function isFloatKind(kind: TypedKind | undefined): kind is 'Float32Array' | 'Float64Array' {
  return kind === 'Float32Array' || kind === 'Float64Array';
}

/** The buffer of a typed array, from its internal slot (for views made here the same as `.buffer`, read more cheaply). */
export function bufferOf(a: ArrayBufferView): ArrayBufferLike {
  return getBuffer.call(a) as ArrayBufferLike;
}

/**
 * True if the two views share bytes of one buffer. Read through the intrinsics (for views made here
 * the same values as the properties, which are prototype getters): the engine asks this of every
 * input of every call, and six property reads through the prototype cost more than a small call's copies.
 */
export function overlaps(a: AnyTypedArray, b: AnyTypedArray): boolean {
  if (getBuffer.call(a) !== getBuffer.call(b)) return false;
  const aLength = getByteLength.call(a) as number;
  const bLength = getByteLength.call(b) as number;
  const aOffset = getByteOffset.call(a) as number;
  const bOffset = getByteOffset.call(b) as number;
  return aLength > 0 && bLength > 0 && aOffset < bOffset + bLength && bOffset < aOffset + aLength;
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

/**
 * `obj[key]` if it is `obj`'s own property, else undefined: an inherited property (one a
 * prototype-pollution bug put on Object.prototype or Array.prototype) is not an argument. An own
 * getter runs once. Errors as readProperty.
 */
export function readOwn(obj: object, key: string | number, name: string): unknown {
  try {
    return Object.hasOwn(obj, key) ? (obj as Record<string | number, unknown>)[key] : undefined;
  } catch (error) {
    throw new TypeError(`focal-loss: ${name} could not be read (${describeError(error)})`);
  }
}

/** Element `i` of the array `obj` named `name`, as readOwn, with the element's name made only if the read throws. */
export function readElement(obj: object, i: number, name: string): unknown {
  try {
    return Object.hasOwn(obj, i) ? (obj as Record<number, unknown>)[i] : undefined;
  } catch (error) {
    throw new TypeError(`focal-loss: ${name}[${i}] could not be read (${describeError(error)})`);
  }
}

/** What a thrown value says, for a message: never throws, never long. */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) {
      const name = error.name;
      const message = error.message;
      return `${typeof name === 'string' ? clip(name) : 'Error'}: ${typeof message === 'string' ? clip(message) : describe(message)}`;
    }
  } catch {
    return 'an exception that could not be described';
  }
  return describe(error);
}

/** At most MAX_QUOTE characters of `s`, marked with … when cut. */
const MAX_QUOTE = 60;
function clip(s: string): string {
  return s.length > MAX_QUOTE ? `${s.slice(0, MAX_QUOTE)}…` : s;
}

/** A list of numbers (a shape) for a message: `[a, b, …]`, at most ~60 characters of it. */
export function showList(values: readonly number[]): string {
  return `[${clip(values.join(', '))}]`;
}

/** A string from the caller, quoted for a message: at most ~60 characters. */
export function quote(s: string): string {
  return `'${clip(s)}'`;
}

/** A short description of any value for an error message: never throws, never runs user code. */
export function describe(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return `number ${show(v)}`;
    case 'string':
      return `string ${quote(v)}`;
    case 'bigint': {
      const s = String(v);
      return `bigint ${s.length > 30 ? `${s.slice(0, 30)}…` : s}`;
    }
    case 'boolean':
    case 'undefined':
    case 'symbol':
    case 'function':
      return typeof v === 'boolean' ? String(v) : typeof v;
  }
  if (v === null) return 'null';
  // The kind of a typed array comes from its internal slot (any kind: BigInt64Array, Float16Array
  // where it exists, too); anything else is only 'Array' or 'object' (a constructor name or
  // Symbol.toStringTag would be read through a getter or Proxy).
  const tag = getTag.call(v) as string | undefined;
  return tag ?? (isArray(v) ? 'Array' : 'object');
}

/** A number as text (−0 kept), for messages that quote a value already known to be a number. */
export function show(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/**
 * The package's error for an exhausted stack (a call made deep in a recursion), or `error` itself if it
 * is not that: V8 and JavaScriptCore throw a RangeError "Maximum call stack size exceeded",
 * SpiderMonkey an InternalError "too much recursion".
 */
export function stackError(error: unknown, fn: string): unknown {
  // No regular expression here: compiling one with the stack exhausted is a fatal out-of-memory in V8.
  try {
    if (!(error instanceof Error)) return error;
    const message = error.message;
    if (message.startsWith('focal-loss') || !(message.includes('call stack') || message.includes('too much recursion')))
      return error;
  } catch {
    return error;
  }
  return new RangeError(
    `focal-loss: ${fn} ran out of JavaScript stack (it was called with the stack nearly exhausted)`,
  );
}
