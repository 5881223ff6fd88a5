// The loader core: one wasm instance, and the one chunk loop that streams a validated call of any
// size through the module's fixed scratch area. A small call is a one-chunk call of the same loop.
//
// A call is a fixed list of at most five arrays (`Stream`: logits, targets, weights, losses,
// gradient), each with the header field that gets its address, its element type in wasm memory,
// whether it holds C values per item in the logits' layout or one value per item, and whether the
// kernel reads or writes it. Capacity, offsets, gather and scatter all come from that list. Each
// chunk is a block [nc, C, sc] of the logits' [N, C, S]: whole images when at least one fits, else
// slices of one image. The engine lays the call's regions out once, writes the call header
// (crate/src/ffi.rs CallHeader) at the start of the area once, and per chunk copies the inputs in,
// sets the chunk's extent, runs the kernel (which adds to the header's sums) and copies the outputs out.
//
// The fixed cost of a call is kept near that of one wasm call (BENCHMARKS.md § Small calls): the
// streams are five objects made with the engine and reused; views of the whole wasm memory (one
// per element type) are made once and again only after the memory grew (growth detaches every
// view, which then has length 0); the header is written through those views at precomputed indices
// (abi.ts SLOT); a copy makes no subarray when it is a whole array or short; nothing here makes a
// closure, an array or an object per call or per chunk.
//
// Memory stays bounded: the scratch area is part of the module. Only an item too wide for it on
// its own (a softmax row of ~20k float32 classes) needs more: a spare area past the module's
// memory, grown once to the widest item seen and reused.

import { ABI_VERSION, HEADER, SLOT, statusError, type FocalExports, type Kernel } from './abi.js';
import { bufferOf, overlaps } from './arrays.js';
import type { FloatArray, NumericArray, Plan } from './options.js';

/** Alignment of every region in the area (f64 needs 8). */
const ALIGN = 8;
/** `n` rounded up to ALIGN: integer bit operations below 2³⁰ (every size a call in the scratch area has), else by division. */
const align = (n: number) => (n < 0x40000000 ? (n + ALIGN - 1) & -ALIGN : Math.ceil(n / ALIGN) * ALIGN);
const PAGE = 65536;
/** A wasm32 memory addresses at most 4 GiB. */
const MAX_MEMORY = 2 ** 32;
/** The header, then the per-class constants: the header's size rounded up to the alignment. */
const HEADER_BYTES = align(HEADER.size);
/**
 * Runs of at most this many elements are copied by a loop: TypedArray#set of part of an array
 * needs a subarray (an object per copy), which for short runs costs more than the copy itself.
 */
const SHORT_RUN = 256;
/**
 * Runs of at most this many elements are copied by a loop, in and out: a TypedArray#set costs ~17 ns
 * whatever its length in Node 20 (in the engine a loop was already slower at 10 and 16 elements,
 * BENCHMARKS.md § notes).
 */
const SHORTER_THAN_SET = 4;

/** Element types in wasm memory. */
const F32 = 0;
const F64 = 1;
const I32 = 2;
type Elem = typeof F32 | typeof F64 | typeof I32;
const ELEM_BYTES = [4, 8, 4] as const;

/** One array of a call; the engine owns five and refills them per call. */
interface Stream {
  /** The caller's data (inputs), or where results go (outputs); null between calls. */
  array: NumericArray | null;
  /** The u32 slot of the header field that gets its address. */
  field: number;
  elem: Elem;
  /** C values per item in the logits' layout (strided in a channels-first image), or one per item. */
  perClass: boolean;
  output: boolean;
  /** Index of its region in the whole-memory view of its element type. */
  at: number;
  /**
   * Outputs: a view of its region (`regionLength` elements of type `regionElem` from `regionAt`, in
   * elements), copied out with one TypedArray#set; kept between calls and made again only when the
   * region moves, changes size or element type (a stream is float32 in one call and float64 in the
   * next, and an element index means different bytes in each), or the memory grew (which detaches
   * it: its length is then 0).
   */
  region: NumericArray;
  regionElem: Elem;
  regionAt: number;
  regionLength: number;
}

const NO_REGION = new Float32Array(0);
const newStream = (): Stream => ({
  array: null,
  field: 0,
  elem: F32,
  perClass: false,
  output: false,
  at: 0,
  region: NO_REGION,
  regionElem: F32,
  regionAt: 0,
  regionLength: 0,
});

/** True if `a` and `b` are the same elements of the same memory, so chunk k of one is chunk k of the other. */
function sameElements(a: NumericArray, b: NumericArray): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteOffset === b.byteOffset &&
    a.length === b.length &&
    a.BYTES_PER_ELEMENT === b.BYTES_PER_ELEMENT
  );
}

/** `n` elements of `src` from `from` into `dst` at `at` (converted as TypedArray#set converts). */
function copy(dst: NumericArray, at: number, src: NumericArray, from: number, n: number): void {
  // A few elements (a class index or two) by a loop.
  if (n <= SHORTER_THAN_SET) for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  else if (from === 0 && n === src.length) dst.set(src, at);
  else if (n <= SHORT_RUN) for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  else dst.set(src.subarray(from, from + n), at);
}

// `n` elements of the memory view `src` from `from` into the output `dst` at `at`. One function per
// float type: outputs have the logits' type, so each loop sees one kind of array and V8 compiles
// it to plain loads and stores (a loop shared by every kind runs several times slower).
function copyOutF32(dst: Float32Array, at: number, src: Float32Array, from: number, n: number): void {
  if (n <= SHORT_RUN) for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  else dst.set(src.subarray(from, from + n), at);
}

function copyOutF64(dst: Float64Array, at: number, src: Float64Array, from: number, n: number): void {
  if (n <= SHORT_RUN) for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  else dst.set(src.subarray(from, from + n), at);
}

/** `n` results of output stream `s` from its region at `from` into its array at `at`. */
function copyOut(s: Stream, mem: NumericArray, at: number, from: number, n: number): void {
  const dst = s.array!;
  if (from === s.regionAt && n === s.regionLength && n > SHORTER_THAN_SET) dst.set(s.region, at);
  else if (s.elem === F32) copyOutF32(dst as Float32Array, at, mem as Float32Array, from, n);
  else copyOutF64(dst as Float64Array, at, mem as Float64Array, from, n);
}

/** What a call returns: the sum of the losses (in order) and, for the element-wise losses, of the positive targets. */
export interface Totals {
  sum: number;
  positives: number;
}

export class Engine {
  readonly exports: FocalExports;
  private readonly scratchPtr: number;
  private readonly scratchLen: number;
  /** Bytes of memory the module had when loaded: the spare area starts there. */
  private readonly moduleBytes: number;
  /** The stack pointer between calls, put back if a kernel traps. */
  private readonly stackTop: number;
  private spareLen = 0;
  /** Views of the whole wasm memory, one per element type (the header's u32 and f64 fields too). */
  private u32!: Uint32Array;
  private i32!: Int32Array;
  private f32!: Float32Array;
  private f64!: Float64Array;
  private readonly streams: Stream[] = [newStream(), newStream(), newStream(), newStream(), newStream()];
  /** Returned by every run() and overwritten by the next: read it before calling again. */
  private readonly totals: Totals = { sum: 0, positives: 0 };

  constructor(instance: WebAssembly.Instance) {
    const x = instance.exports as unknown as FocalExports;
    if (typeof x.focal_abi_version !== 'function' || !(x.memory instanceof WebAssembly.Memory)) {
      throw new TypeError('focal-loss: this WebAssembly module is not focal_loss.wasm');
    }
    const version = x.focal_abi_version();
    if (version !== ABI_VERSION) {
      throw new Error(
        `focal-loss: focal_loss.wasm has ABI version ${version} but this JavaScript expects ${ABI_VERSION}; the .wasm and the .js come from different builds`,
      );
    }
    this.exports = x;
    this.scratchPtr = x.focal_scratch_ptr();
    this.scratchLen = x.focal_scratch_len();
    this.moduleBytes = x.memory.buffer.byteLength;
    this.stackTop = x.__stack_pointer.value as number;
    this.views();
  }

  /** (Re)makes the whole-memory views: at load, and after the memory grew (which detached the old ones). */
  private views(): void {
    const buffer = this.exports.memory.buffer;
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  /** Bytes of wasm memory now: the module's own (stack, scratch area) and the spare area, if any. */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Runs the kernel, putting the stack pointer back if it traps: a trap unwinds no frames, so
   *  without this every trap would leak its stack frames until the stack overflowed for good. */
  invoke(kernel: Kernel, header: number): number {
    try {
      return kernel(header);
    } catch (error) {
      this.exports.__stack_pointer.value = this.stackTop;
      throw error;
    }
  }

  /** The address of an area of at least `bytes`: the scratch area, or the spare area (grown to fit, then kept); its size in `areaLen`. */
  private area(bytes: number, plan: Plan): number {
    if (bytes <= this.scratchLen) return this.scratchPtr;
    if (bytes > this.spareLen) {
      const memory = this.exports.memory;
      const need = this.moduleBytes + bytes;
      const what = plan.loss === 'softmax' ? `one item of ${plan.classes} classes` : 'one element';
      const refuse = (why: string) =>
        new RangeError(`focal-loss: ${what} needs ${bytes} bytes of WebAssembly memory at once, ${why}`);
      if (need > MAX_MEMORY) throw refuse('more than a wasm32 module can address (4 GiB)');
      try {
        memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
      } catch {
        throw refuse("and this runtime refused to grow the module's memory that far");
      }
      this.spareLen = memory.buffer.byteLength - this.moduleBytes;
    }
    return this.moduleBytes;
  }

  /**
   * Fills stream `i` and returns i + 1. An input that shares memory with the gradient's destination
   * would be overwritten by an earlier chunk's gradient before a later chunk reads it: it is copied
   * first. The one exception is an input laid out exactly like the gradient (out === logits): each
   * chunk reads its own elements before writing them, and no other chunk touches them.
   */
  private stream(
    i: number,
    field: number,
    array: NumericArray,
    elem: Elem,
    perClass: boolean,
    output: boolean,
    grad: FloatArray | null,
    gradBuffer: ArrayBufferLike | null,
  ): number {
    const s = this.streams[i];
    // The buffer first (grad's read once per call): arrays of other buffers never overlap it.
    s.array =
      !output &&
      gradBuffer !== null &&
      bufferOf(array) === gradBuffer &&
      overlaps(array, grad!) &&
      !(perClass && sameElements(array, grad!))
        ? array.slice()
        : array;
    s.field = field;
    s.elem = elem;
    s.perClass = perClass;
    s.output = output;
    return i + 1;
  }

  private view(elem: Elem): NumericArray {
    return elem === F32 ? this.f32 : elem === F64 ? this.f64 : this.i32;
  }

  /**
   * Runs a validated plan: writes `grad` (the logits' layout) and `loss` (one per item, or per
   * element) when given, and returns the sum of the losses (in order) and, for the element-wise
   * losses, of the positive targets — in an object the next call overwrites. An empty call touches
   * no wasm memory.
   */
  run(plan: Plan, grad: FloatArray | null, loss: FloatArray | null): Totals {
    const totals = this.totals;
    totals.sum = 0;
    totals.positives = 0;
    const { batch: N, classes: C, spatial: S, items } = plan;
    if (items === 0) return totals;
    const f32 = plan.logits instanceof Float32Array;
    const t: Elem = f32 ? F32 : F64;
    const T = ELEM_BYTES[t];

    const gb = grad !== null ? bufferOf(grad) : null;
    let count = this.stream(0, SLOT.logits, plan.logits, t, true, false, grad, gb);
    const targets = plan.targets;
    if (targets.kind === 'index')
      count = this.stream(count, SLOT.target_indices, targets.data, I32, false, false, grad, gb);
    else count = this.stream(count, SLOT.target_values, targets.data, t, true, false, grad, gb);
    if (plan.weights)
      count = this.stream(count, SLOT.weights, plan.weights, t, plan.weightsPerElement, false, grad, gb);
    // Softmax losses are one per item; element-wise ones one per element.
    if (loss) count = this.stream(count, SLOT.loss_out, loss, t, plan.loss === 'elementwise', true, null, null);
    if (grad) count = this.stream(count, SLOT.grad_out, grad, t, true, true, null, null);
    const streams = this.streams;
    try {
      // The header, then the per-class constants (written once), then each stream's region.
      const constants = (plan.alpha ? 1 : 0) + (plan.posWeight ? 1 : 0);
      const fixed = HEADER_BYTES + constants * align(C * T);
      const slack = ALIGN * count; // each region is aligned
      let perItem = 0;
      for (let i = 0; i < count; i++) perItem += (streams[i].perClass ? C : 1) * ELEM_BYTES[streams[i].elem];
      const ptr = this.area(fixed + perItem + slack, plan);
      if (this.f64.length === 0) this.views(); // the memory grew: by area() just now, or by anyone since the last call
      const areaLen = ptr === this.scratchPtr ? this.scratchLen : this.spareLen;
      const room = areaLen - fixed - slack;
      // Items per chunk (>= 1): the whole call when it fits (no division then), else as many as fit.
      const capacity = items * perItem <= room ? items : Math.floor(room / perItem);
      const imagesPerChunk = capacity === items ? N : Math.floor(capacity / S);
      // Items per region: a chunk's at most, and no more than the call has (a small call's regions are adjacent).
      const regionItems = imagesPerChunk >= 1 ? Math.min(imagesPerChunk, N) * S : capacity;

      const u32 = this.u32;
      const f64 = this.f64;
      const w = ptr >>> 2;
      const d = ptr >>> 3;
      const p = plan.params;
      this.i32[w + SLOT.ignore_index] = p.ignore_index;
      u32[w + SLOT.classes] = C;
      u32[w + SLOT.loss_kind] = p.loss_kind;
      u32[w + SLOT.flags] = p.flags;
      u32[w + SLOT.error_index] = 0;
      u32[w + SLOT.reserved] = 0;
      u32[w + SLOT.target_indices] = 0;
      u32[w + SLOT.target_values] = 0;
      u32[w + SLOT.weights] = 0;
      u32[w + SLOT.loss_out] = 0;
      u32[w + SLOT.grad_out] = 0;
      f64[d + SLOT.alpha_scalar] = p.alpha_scalar;
      f64[d + SLOT.gamma] = p.gamma;
      f64[d + SLOT.gamma_neg] = p.gamma_neg;
      f64[d + SLOT.beta] = p.beta;
      f64[d + SLOT.clip] = p.clip;
      f64[d + SLOT.pos_weight_scalar] = p.pos_weight_scalar;
      f64[d + SLOT.poly_epsilon] = p.poly_epsilon;
      f64[d + SLOT.label_smoothing] = p.label_smoothing;
      const divisor = plan.normalizer ?? plan.count;
      f64[d + SLOT.grad_scale] = plan.reduction === 'mean' ? (divisor > 0 ? 1 / divisor : 0) : 1;
      f64[d + SLOT.sum] = 0;
      f64[d + SLOT.positives] = 0;
      let at = ptr + HEADER_BYTES;
      u32[w + SLOT.alpha] = 0;
      u32[w + SLOT.pos_weight] = 0;
      if (plan.alpha) {
        u32[w + SLOT.alpha] = at;
        this.view(t).set(plan.alpha, at / T);
        at += align(C * T);
      }
      if (plan.posWeight) {
        u32[w + SLOT.pos_weight] = at;
        this.view(t).set(plan.posWeight, at / T);
        at += align(C * T);
      }
      for (let i = 0; i < count; i++) {
        const s = streams[i];
        const bytes = ELEM_BYTES[s.elem];
        const length = regionItems * (s.perClass ? C : 1);
        u32[w + s.field] = at;
        s.at = bytes === 8 ? at >>> 3 : at >>> 2;
        // The region's view (outputs): a small call's is the same as the last call's.
        if (
          s.output &&
          (s.regionAt !== s.at || s.regionLength !== length || s.regionElem !== s.elem || s.region.length !== length)
        ) {
          s.region = this.view(s.elem).subarray(s.at, s.at + length);
          s.regionElem = s.elem;
          s.regionAt = s.at;
          s.regionLength = length;
        }
        at += align(length * bytes);
      }

      const kernel =
        plan.loss === 'softmax'
          ? f32
            ? this.exports.focal_softmax_f32
            : this.exports.focal_softmax_f64
          : f32
            ? this.exports.focal_elementwise_f32
            : this.exports.focal_elementwise_f64;
      if (imagesPerChunk >= 1) {
        for (let n0 = 0; n0 < N; n0 += imagesPerChunk)
          this.chunk(kernel, ptr, count, C, S, n0, Math.min(imagesPerChunk, N - n0), 0, S);
      } else {
        for (let n = 0; n < N; n++)
          for (let s0 = 0; s0 < S; s0 += capacity)
            this.chunk(kernel, ptr, count, C, S, n, 1, s0, Math.min(capacity, S - s0));
      }
      totals.sum = f64[d + SLOT.sum];
      totals.positives = f64[d + SLOT.positives];
      return totals;
    } finally {
      for (let i = 0; i < count; i++) streams[i].array = null; // hold on to no caller's array between calls
    }
  }

  /**
   * The chunk [nc, C, sc] at image n0, position s0: every input stream gathered into its region, the
   * kernel, every output scattered. Per-item arrays are contiguous in every chunk; logits-shaped
   * ones are for whole images, and C runs of sc values S apart for a slice of one image.
   */
  private chunk(
    kernel: Kernel,
    ptr: number,
    count: number,
    C: number,
    S: number,
    n0: number,
    nc: number,
    s0: number,
    sc: number,
  ): void {
    const firstItem = n0 * S + s0;
    const slice = sc !== S;
    for (let i = 0; i < count; i++) {
      const s = this.streams[i];
      if (s.output) continue;
      const mem = this.view(s.elem);
      const array = s.array!;
      if (!s.perClass) copy(mem, s.at, array, firstItem, nc * sc);
      else if (!slice) copy(mem, s.at, array, n0 * C * S, nc * C * S);
      else for (let c = 0; c < C; c++) copy(mem, s.at + c * sc, array, n0 * C * S + c * S + s0, sc);
    }
    const w = ptr >>> 2;
    this.u32[w + SLOT.batch] = nc;
    this.u32[w + SLOT.spatial] = sc;
    const status = this.invoke(kernel, ptr);
    if (status !== 0) throw statusError(status, firstItem + this.u32[w + SLOT.error_index]);
    for (let i = 0; i < count; i++) {
      const s = this.streams[i];
      if (!s.output) continue;
      const mem = this.view(s.elem);
      if (!s.perClass) copyOut(s, mem, firstItem, s.at, nc * sc);
      else if (!slice) copyOut(s, mem, n0 * C * S, s.at, nc * C * S);
      else for (let c = 0; c < C; c++) copyOut(s, mem, n0 * C * S + c * S + s0, s.at + c * sc, sc);
    }
  }
}
