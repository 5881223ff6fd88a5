// The loader core: one wasm instance, and the one chunk loop that streams a validated call of any
// size through the module's fixed scratch area.
//
// A call is described once, as a list of its arrays (`Stream`: which header field holds the
// array's address, its element type in wasm memory, whether it holds C values per item in the
// logits' layout or one value per item, and whether the kernel reads or writes it). Capacity,
// offsets, gather and scatter all come from that list. Each chunk is a block [nc, C, sc] of the
// logits' [N, C, S]: whole images when at least one fits, else slices of one image. The engine
// copies the chunk's inputs into the area, writes the call header (crate/src/ffi.rs CallHeader)
// at its start, runs the kernel and copies the outputs out.
//
// Memory stays bounded: the scratch area is part of the module. Only an item too wide for it on
// its own (a softmax row of ~20k float32 classes) needs more: a spare area past the module's
// memory, grown once to the widest item seen and reused. Views of wasm memory are created after
// that growth, per chunk (growth detaches every earlier view).

import { ABI_VERSION, HEADER, readHeaderField, statusError, writeHeader, type FocalExports, type Header, type HeaderField, type Kernel } from './abi.js';
import { overlaps } from './arrays.js';
import type { FloatArray, NumericArray, Plan } from './options.js';

/** Alignment of every region in the area (f64 needs 8). */
const ALIGN = 8;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const PAGE = 65536;
/** A wasm32 memory addresses at most 4 GiB. */
const MAX_MEMORY = 2 ** 32;

type Elem = 'f32' | 'f64' | 'i32';
const VIEWS = { f32: Float32Array, f64: Float64Array, i32: Int32Array } as const;

/** One array of a call. */
interface Stream {
  /** The header field that gets its address. */
  readonly field: HeaderField;
  /** Its element type in wasm memory. */
  readonly elem: Elem;
  /** C values per item in the logits' layout (strided in a channels-first image), or one per item. */
  readonly perClass: boolean;
  /** The caller's data (inputs), or where results go (outputs). */
  readonly array: NumericArray;
  readonly output: boolean;
}

/** A region of wasm memory for one call's chunks. */
interface Area {
  readonly ptr: number;
  readonly len: number;
}

/** True if `a` and `b` are the same elements of the same memory, so chunk k of one is chunk k of the other. */
function sameElements(a: NumericArray, b: NumericArray): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length && a.BYTES_PER_ELEMENT === b.BYTES_PER_ELEMENT;
}

/** The arrays of a validated call, in the order they are laid out in the area. */
function streams(plan: Plan, grad: FloatArray | null, loss: FloatArray | null): Stream[] {
  const t: Elem = plan.logits instanceof Float32Array ? 'f32' : 'f64';
  const list: Stream[] = [{ field: 'logits', elem: t, perClass: true, array: plan.logits, output: false }];
  if (plan.targets.kind === 'index') list.push({ field: 'target_indices', elem: 'i32', perClass: false, array: plan.targets.data, output: false });
  else list.push({ field: 'target_values', elem: t, perClass: true, array: plan.targets.data, output: false });
  if (plan.weights) list.push({ field: 'weights', elem: t, perClass: plan.weightsPerElement, array: plan.weights, output: false });
  // Softmax losses are one per item; element-wise ones one per element.
  if (loss) list.push({ field: 'loss_out', elem: t, perClass: plan.loss === 'elementwise', array: loss, output: true });
  if (grad) list.push({ field: 'grad_out', elem: t, perClass: true, array: grad, output: true });
  // An input that shares memory with the gradient's destination would be overwritten by an earlier
  // chunk's gradient before a later chunk reads it: it is copied first. The one exception is an
  // input laid out exactly like the gradient (out === logits): each chunk reads its own elements
  // before writing them, and no other chunk touches them.
  if (!grad) return list;
  return list.map((s) =>
    s.output || !overlaps(s.array, grad) || (s.perClass && sameElements(s.array, grad)) ? s : { ...s, array: s.array.slice() },
  );
}

export class Engine {
  readonly exports: FocalExports;
  private readonly scratch: Area;
  /** Bytes of memory the module had when loaded: the spare area starts there. */
  private readonly moduleBytes: number;
  /** The stack pointer between calls, put back if a kernel traps. */
  private readonly stackTop: number;
  private spare: Area = { ptr: 0, len: 0 };

  constructor(instance: WebAssembly.Instance) {
    const x = instance.exports as unknown as FocalExports;
    if (typeof x.focal_abi_version !== 'function' || !(x.memory instanceof WebAssembly.Memory)) {
      throw new TypeError('focal-loss: this WebAssembly module is not focal_loss.wasm');
    }
    const version = x.focal_abi_version();
    if (version !== ABI_VERSION) {
      throw new Error(`focal-loss: focal_loss.wasm has ABI version ${version} but this JavaScript expects ${ABI_VERSION}; the .wasm and the .js come from different builds`);
    }
    this.exports = x;
    this.scratch = { ptr: x.focal_scratch_ptr(), len: x.focal_scratch_len() };
    this.moduleBytes = x.memory.buffer.byteLength;
    this.stackTop = x.__stack_pointer.value as number;
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

  /** An area of at least `bytes`: the scratch area, or the spare area (grown to fit, then kept). */
  private area(bytes: number, what: string): Area {
    if (bytes <= this.scratch.len) return this.scratch;
    if (bytes > this.spare.len) {
      const memory = this.exports.memory;
      const need = this.moduleBytes + bytes;
      const refuse = (why: string) =>
        new RangeError(`focal-loss: ${what} needs ${bytes} bytes of WebAssembly memory at once, ${why}`);
      if (need > MAX_MEMORY) throw refuse('more than a wasm32 module can address (4 GiB)');
      try {
        memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
      } catch {
        throw refuse('and this runtime refused to grow the module\'s memory that far');
      }
      this.spare = { ptr: this.moduleBytes, len: memory.buffer.byteLength - this.moduleBytes };
    }
    return this.spare;
  }

  /**
   * Runs a validated plan: writes `grad` (the logits' layout) and `loss` (one per item, or per
   * element) when given, and returns the sum of the losses (in order) and, for the element-wise
   * losses, of the positive targets. An empty call touches no wasm memory.
   */
  run(plan: Plan, grad: FloatArray | null, loss: FloatArray | null): { sum: number; positives: number } {
    const { batch: N, classes: C, spatial: S, items } = plan;
    if (items === 0) return { sum: 0, positives: 0 };
    const list = streams(plan, grad, loss);
    const T = plan.logits.BYTES_PER_ELEMENT;
    const bytes = (s: Stream, n: number) => n * (s.perClass ? C : 1) * VIEWS[s.elem].BYTES_PER_ELEMENT;
    // The header, then the per-class constants (written once), then each chunk's regions.
    const constants = ([['alpha', plan.alpha], ['pos_weight', plan.posWeight]] as const).filter((c) => c[1] !== null);
    const fixed = align(HEADER.size) + constants.length * align(C * T);
    const slack = ALIGN * list.length; // each region is aligned
    const perItem = list.reduce((a, s) => a + bytes(s, 1), 0);
    const what = plan.loss === 'softmax' ? `one item of ${C} classes` : 'one element';
    const area = this.area(fixed + perItem + slack, what);
    const capacity = Math.floor((area.len - fixed - slack) / perItem); // items per chunk, >= 1

    const f32 = plan.logits instanceof Float32Array;
    const x = this.exports;
    const kernel = plan.loss === 'softmax' ? (f32 ? x.focal_softmax_f32 : x.focal_softmax_f64) : f32 ? x.focal_elementwise_f32 : x.focal_elementwise_f64;
    const memory = x.memory.buffer; // no growth after area(): views of it stay valid for the call
    const divisor = plan.normalizer ?? plan.count;
    const header: Header = {
      ...plan.params, batch: 0, classes: C, spatial: 0, reserved: 0, error_index: 0,
      logits: 0, target_indices: 0, target_values: 0, alpha: 0, pos_weight: 0, weights: 0, loss_out: 0, grad_out: 0,
      grad_scale: plan.reduction === 'mean' ? (divisor > 0 ? 1 / divisor : 0) : 1,
      sum: 0, positives: 0,
    };
    constants.forEach(([field, values], i) => {
      header[field] = area.ptr + align(HEADER.size) + i * align(C * T);
      new (f32 ? Float32Array : Float64Array)(memory, header[field], C).set(values!);
    });

    // The chunk [nc, C, sc] at image n0, position s0: every stream's region, gathered, the kernel, scattered.
    const chunk = (n0: number, nc: number, s0: number, sc: number) => {
      const firstItem = n0 * S + s0;
      const views: NumericArray[] = [];
      let at = area.ptr + fixed;
      for (const s of list) {
        const view = new VIEWS[s.elem](memory, at, nc * sc * (s.perClass ? C : 1));
        header[s.field] = at;
        at += align(view.byteLength);
        views.push(view);
        if (!s.output) copy(s, view, 'gather');
      }
      header.batch = nc;
      header.spatial = sc;
      writeHeader(memory, area.ptr, header);
      const status = this.invoke(kernel, area.ptr);
      if (status !== 0) throw statusError(status, firstItem + readHeaderField(memory, area.ptr, 'error_index'));
      header.sum = readHeaderField(memory, area.ptr, 'sum');
      header.positives = readHeaderField(memory, area.ptr, 'positives');
      list.forEach((s, i) => s.output && copy(s, views[i], 'scatter'));

      // Per-item arrays are contiguous in every chunk; logits-shaped ones are for whole images, and
      // C runs of sc values S apart for a slice of one image.
      function copy(s: Stream, view: NumericArray, way: 'gather' | 'scatter') {
        const runs = s.perClass && sc !== S ? C : 1;
        const run = view.length / runs;
        for (let c = 0; c < runs; c++) {
          const from = s.perClass ? (sc === S ? n0 * C * S : n0 * C * S + c * S + s0) : firstItem;
          if (way === 'gather') view.set(s.array.subarray(from, from + run), c * run);
          else s.array.set(view.subarray(c * run, (c + 1) * run), from);
        }
      }
    };

    const imagesPerChunk = Math.floor(capacity / S);
    if (imagesPerChunk >= 1) {
      for (let n0 = 0; n0 < N; n0 += imagesPerChunk) chunk(n0, Math.min(imagesPerChunk, N - n0), 0, S);
    } else {
      for (let n = 0; n < N; n++) for (let s0 = 0; s0 < S; s0 += capacity) chunk(n, 1, s0, Math.min(capacity, S - s0));
    }
    return { sum: header.sum, positives: header.positives };
  }
}
