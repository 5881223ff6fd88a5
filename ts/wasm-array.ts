// Typed arrays that live inside the module's WebAssembly memory. Passed to the loss functions
// as logits, targets, weights or `out`, they are read and written in place: no copy through the
// scratch area (see ts/engine.ts). The price is explicit lifetime (free) and views that go stale
// when wasm memory grows, hence the `array` getter.

import { getEngine } from './loader.js';

/** The element types a wasm array can have: the logits' float types, and int32 class indices. */
export type WasmArrayType = typeof Float32Array | typeof Float64Array | typeof Int32Array;

/** A typed array inside the module's WebAssembly memory (see {@link allocateWasmArray}). */
export interface WasmArray<A extends Float32Array | Float64Array | Int32Array> {
  /**
   * The array, a view of wasm memory. Read it again after anything that can grow wasm memory
   * (allocating another wasm array, or a softmax call with rows too wide for the scratch area):
   * growth detaches earlier views (they then have length 0). Throws once the array is freed.
   */
  readonly array: A;
  /** Number of elements. */
  readonly length: number;
  /** Gives the memory back for reuse; `array` throws afterwards, and so does a second `free()`. */
  free(): void;
}

/**
 * A new array of `length` zeros of `type` (Float32Array, Float64Array or Int32Array) inside the
 * module's WebAssembly memory. Logits, targets (Int32Array class indices, or probabilities of
 * the logits' type), weights and `out` that are wasm arrays are used in place, without the copy
 * in and out of the scratch area; a call whose arrays are all wasm arrays is one kernel call.
 * Wasm memory grows by what is allocated here and does not shrink; `free()` makes it reusable.
 *
 * @example
 * const logits = allocateWasmArray(Float32Array, rows * classes);
 * const grad = allocateWasmArray(Float32Array, rows * classes);
 * const labels = allocateWasmArray(Int32Array, rows);
 * // ...fill logits.array and labels.array each step, then:
 * const { loss } = softmaxFocalLossWithGrad(logits.array, labels.array, { classes, out: grad.array });
 */
export function allocateWasmArray<C extends WasmArrayType>(type: C, length: number): WasmArray<InstanceType<C>> {
  if (type !== Float32Array && type !== Float64Array && type !== Int32Array) {
    throw new TypeError('focal-loss: allocateWasmArray(type, length): type must be Float32Array, Float64Array or Int32Array');
  }
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`focal-loss: allocateWasmArray(type, length): length must be an integer >= 0, got ${String(length)}`);
  }
  const engine = getEngine();
  const memory = engine.exports.memory;
  const ptr = engine.heap.alloc(length * type.BYTES_PER_ELEMENT);
  const make = () => new type(memory.buffer, ptr, length) as InstanceType<C>;
  let view = make();
  view.fill(0); // a reused block holds what its last owner left
  let freed = false;
  return {
    get array() {
      if (freed) throw new Error('focal-loss: this wasm array was freed');
      if (view.buffer !== memory.buffer) view = make();
      return view;
    },
    length,
    free() {
      if (freed) throw new Error('focal-loss: this wasm array was already freed');
      freed = true;
      engine.heap.release(ptr);
    },
  };
}
