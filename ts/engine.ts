// The loader core: one wasm instance, and the chunked calls that stream a batch of any size
// through the module's fixed scratch area.
//
// Memory stays bounded: every call copies one chunk of the caller's arrays into the scratch
// area, runs the kernel there and copies the results out. The module never allocates. Only an
// item too wide for the scratch area on its own (a softmax row of ~30k float32 classes) makes
// the engine take a larger area from the heap (ts/heap.ts), growing memory once to fit it.
//
// Arrays the caller allocated inside wasm memory (allocateWasmArray) are not copied: the kernel
// gets their addresses and reads and writes them in place; only the other arrays of the call go
// through the scratch area. A softmax call whose arrays are all wasm arrays is one kernel call.
// Their addresses are taken before anything that can grow memory (growth detaches every view).

import { ABI_VERSION, NULL, statusError, type FocalExports } from './abi.js';
import { Heap } from './heap.js';
import type { FloatArray, SigmoidPlan, SoftmaxPlan } from './options.js';

/** Alignment of every region in the scratch area (f64 needs 8). */
const ALIGN = 8;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

type View = Float32Array | Float64Array;
type ViewCtor = typeof Float32Array | typeof Float64Array;

/** Where results go: the gradient destination and the per-item loss destination, if wanted. */
export interface Outputs {
  grad: FloatArray | null;
  loss: FloatArray | null;
}

function copyItems(dst: View | Int32Array, src: ArrayLike<number>, from: number, to: number): void {
  if (ArrayBuffer.isView(src)) {
    dst.set((src as unknown as Float64Array).subarray(from, to));
  } else {
    for (let i = from; i < to; i++) dst[i - from] = src[i];
  }
}

/** Lays regions out one after another from `ptr`, each aligned. */
class Layout {
  constructor(public ptr: number) {}
  take(bytes: number): number {
    const p = this.ptr;
    this.ptr += align(bytes);
    return p;
  }
}

/** A region for one call's chunks: the scratch area, or a heap block released after the call. */
interface Area {
  ptr: number;
  len: number;
  heap: boolean;
}

export class Engine {
  readonly exports: FocalExports;
  private readonly scratchPtr: number;
  private readonly scratchLen: number;
  /** Memory past the module's own: wasm arrays and areas for over-wide items. */
  readonly heap: Heap;

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
    this.scratchPtr = x.focal_scratch_ptr();
    this.scratchLen = x.focal_scratch_len();
    this.heap = new Heap(x.memory, x.memory.buffer.byteLength);
  }

  /** Bytes of wasm memory now (for tests and the benchmark: it must not grow with batch size, only with wasm arrays). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Size of the scratch area. */
  get scratchBytes(): number {
    return this.scratchLen;
  }

  /** A region of at least `bytes`: the scratch area, or (for one over-wide item) a heap block. */
  private area(bytes: number): Area {
    if (bytes <= this.scratchLen) return { ptr: this.scratchPtr, len: this.scratchLen, heap: false };
    return { ptr: this.heap.alloc(bytes), len: bytes, heap: true };
  }

  private done(area: Area): void {
    if (area.heap) this.heap.release(area.ptr);
  }

  /** The address of `a` if it is a wasm array of this module (`as`: the element type the kernel needs), else null. */
  private resident(a: ArrayLike<number> | null, as: ViewCtor | typeof Int32Array): number | null {
    if (a === null || !(a instanceof as) || a.buffer !== this.exports.memory.buffer) return null;
    return this.heap.owns(a.byteOffset, a.byteLength) ? a.byteOffset : null;
  }

  private view(Ctor: ViewCtor, ptr: number, length: number): View {
    return new Ctor(this.exports.memory.buffer, ptr, length);
  }

  private fail(status: number, offset: number): never {
    throw statusError(status, this.exports.focal_error_index(), offset);
  }

  /** Runs a validated softmax plan; returns the sum of item losses (in item order). */
  softmax(plan: SoftmaxPlan, out: Outputs): number {
    const { batch: N, classes: C, spatial: S } = plan;
    let { logits } = plan;
    let targets = plan.targets.data;
    let weights = plan.weights;
    const Ctor = logits.constructor as ViewCtor;
    const T = logits.BYTES_PER_ELEMENT;
    const kernel = T === 4 ? this.exports.focal_softmax_f32 : this.exports.focal_softmax_f64;
    const soft = plan.targets.kind === 'prob';
    // Addresses of the wasm arrays among the call's arrays (taken before any growth).
    const at = {
      logits: this.resident(logits, Ctor),
      grad: this.resident(out.grad, Ctor),
      targets: this.resident(targets, soft ? Ctor : Int32Array),
      weights: this.resident(weights, Ctor),
    };
    // Scratch bytes per item for the arrays that are copied; `strided`: slices of one
    // channels-first image, whose logits-shaped arrays are not contiguous and are always copied.
    const perItemBytes = (strided: boolean) =>
      (strided || at.logits === null ? align(C * T) : 0) +
      (out.grad && (strided || at.grad === null) ? align(C * T) : 0) +
      (soft ? (strided || at.targets === null ? align(C * T) : 0) : at.targets === null ? 4 : 0) +
      (weights && at.weights === null ? T : 0) +
      (out.loss ? T : 0);
    const header = ALIGN + (plan.alphaPerClass ? align(C * T) : 0);
    // Slack for the alignment of up to five regions.
    const need = header + perItemBytes(true) + 5 * ALIGN;
    if (need > this.scratchLen) {
      // The area will come from the heap and may grow memory, which detaches views of it: keep
      // copies of any other views of wasm memory the call still reads (the wasm arrays go by address).
      const keep = <A>(a: A, addr: number | null): A =>
        addr === null && ArrayBuffer.isView(a) && a.buffer === this.exports.memory.buffer ? ((a as unknown as Float64Array).slice() as A) : a;
      logits = keep(logits, at.logits);
      targets = keep(targets, at.targets);
      weights = keep(weights, at.weights);
    }
    const area = this.area(need);
    try {
      const accPtr = area.ptr;
      const alphaPtr = area.ptr + ALIGN;
      new Float64Array(this.exports.memory.buffer, accPtr, 1)[0] = 0;
      if (plan.alphaPerClass) copyItems(this.view(Ctor, alphaPtr, C), plan.alphaPerClass, 0, C);
      const room = area.len - header - 5 * ALIGN;
      const gradScale = plan.reduction === 'mean' ? (plan.count > 0 ? 1 / plan.count : 0) : 1;

      const run = (n0: number, nc: number, s0: number, sc: number) => {
        const items = nc * sc;
        const len = items * C;
        const whole = sc === S;
        const lay = new Layout(area.ptr + header);
        const firstItem = n0 * S + s0;
        const first = n0 * C * S;
        // In place when a wasm array (and, for logits-shaped arrays, whole images); else scratch.
        const inPlace = (addr: number | null, shaped: boolean, offset: number, bytes: number) =>
          addr !== null && (whole || !shaped) ? addr + offset * bytes : null;
        const logitsAt = inPlace(at.logits, true, first, T);
        const gradAt = out.grad ? inPlace(at.grad, true, first, T) : null;
        const targetsAt = soft ? inPlace(at.targets, true, first, T) : inPlace(at.targets, false, firstItem, 4);
        const weightsAt = weights ? inPlace(at.weights, false, firstItem, T) : null;
        const pLogits = logitsAt ?? lay.take(len * T);
        const pGrad = out.grad ? (gradAt ?? lay.take(len * T)) : NULL;
        const pProbs = soft ? (targetsAt ?? lay.take(len * T)) : NULL;
        const pTargets = soft ? NULL : (targetsAt ?? lay.take(items * 4));
        const pWeights = weights ? (weightsAt ?? lay.take(items * T)) : NULL;
        const pLoss = out.loss ? lay.take(items * T) : NULL;
        const gather = (src: FloatArray, ptr: number) => {
          const dst = this.view(Ctor, ptr, len);
          if (whole) dst.set(src.subarray(first, first + len));
          else for (let c = 0; c < C; c++) dst.set(src.subarray(first + c * S + s0, first + c * S + s0 + sc), c * sc);
        };
        if (logitsAt === null) gather(logits, pLogits);
        if (targetsAt === null) {
          if (soft) gather(targets as FloatArray, pProbs);
          else copyItems(new Int32Array(this.exports.memory.buffer, pTargets, items), targets, firstItem, firstItem + items);
        }
        if (weights && weightsAt === null) copyItems(this.view(Ctor, pWeights, items), weights, firstItem, firstItem + items);

        const status = kernel(
          nc, C, sc, pLogits, pTargets, pProbs, plan.alphaPerClass ? alphaPtr : NULL, plan.alphaScalar, pWeights,
          plan.gamma, plan.labelSmoothing, plan.ignoreIndex, gradScale, pLoss, pGrad, accPtr,
        );
        if (status !== 0) this.fail(status, firstItem);

        if (out.grad && gradAt === null) {
          const g = this.view(Ctor, pGrad, len);
          if (whole) out.grad.set(g, first);
          else for (let c = 0; c < C; c++) out.grad.set(g.subarray(c * sc, (c + 1) * sc), first + c * S + s0);
        }
        if (out.loss) out.loss.set(this.view(Ctor, pLoss, items), firstItem);
      };

      // Chunks of whole images [nc, C, S] when at least one fits (all of them at once when every
      // array is in wasm memory), else [1, C, sc] slices of one image.
      const wholeBytes = perItemBytes(false);
      const imagesPerChunk = wholeBytes === 0 ? N : Math.floor(Math.floor(room / wholeBytes) / Math.max(S, 1));
      if (imagesPerChunk >= 1) {
        for (let n0 = 0; n0 < N; n0 += imagesPerChunk) run(n0, Math.min(imagesPerChunk, N - n0), 0, S);
      } else {
        const perChunk = Math.max(1, Math.floor(room / perItemBytes(true)));
        for (let n = 0; n < N; n++) for (let s0 = 0; s0 < S; s0 += perChunk) run(n, 1, s0, Math.min(perChunk, S - s0));
      }
      return new Float64Array(this.exports.memory.buffer, accPtr, 1)[0];
    } finally {
      this.done(area);
    }
  }

  /** Runs a validated sigmoid plan; returns the sum of element losses (in order). */
  sigmoid(plan: SigmoidPlan, out: Outputs): number {
    const { logits, targets, weights } = plan;
    const Ctor = logits.constructor as ViewCtor;
    const T = logits.BYTES_PER_ELEMENT;
    const kernel = T === 4 ? this.exports.focal_sigmoid_f32 : this.exports.focal_sigmoid_f64;
    const at = {
      logits: this.resident(logits, Ctor),
      targets: this.resident(targets, Ctor),
      grad: this.resident(out.grad, Ctor),
      weights: this.resident(weights, Ctor),
    };
    const copied = (addr: number | null, present: unknown) => (present && addr === null ? 1 : 0);
    const perItem =
      T * (copied(at.logits, true) + copied(at.targets, true) + copied(at.grad, out.grad) + copied(at.weights, weights) + (out.loss ? 1 : 0));
    const area = this.area(this.scratchLen);
    const total = logits.length;
    // Wasm arrays alone still go in scratch-sized chunks: the kernel checks a chunk's targets
    // and then computes on them while they are in cache (one call over the whole batch read
    // them twice from memory and was ~15% slower for 1M float32 elements).
    const perChunk = Math.floor((area.len - 6 * ALIGN) / (perItem === 0 ? 3 * T : perItem));
    const gradScale = plan.reduction === 'mean' ? (total > 0 ? 1 / total : 0) : 1;
    const accPtr = area.ptr;
    new Float64Array(this.exports.memory.buffer, accPtr, 1)[0] = 0;

    for (let i0 = 0; i0 < total; i0 += perChunk) {
      const n = Math.min(perChunk, total - i0);
      const lay = new Layout(area.ptr + ALIGN);
      const place = (addr: number | null) => (addr === null ? lay.take(n * T) : addr + i0 * T);
      const pLogits = place(at.logits);
      const pTargets = place(at.targets);
      const pGrad = out.grad ? place(at.grad) : NULL;
      const pWeights = weights ? place(at.weights) : NULL;
      const pLoss = out.loss ? lay.take(n * T) : NULL;
      if (at.logits === null) this.view(Ctor, pLogits, n).set(logits.subarray(i0, i0 + n));
      if (at.targets === null) copyItems(this.view(Ctor, pTargets, n), targets, i0, i0 + n);
      if (weights && at.weights === null) copyItems(this.view(Ctor, pWeights, n), weights, i0, i0 + n);
      const status = kernel(n, pLogits, pTargets, pWeights, plan.gamma, plan.alpha, plan.labelSmoothing, gradScale, pLoss, pGrad, accPtr);
      if (status !== 0) this.fail(status, i0);
      if (out.grad && at.grad === null) out.grad.set(this.view(Ctor, pGrad, n), i0);
      if (out.loss) out.loss.set(this.view(Ctor, pLoss, n), i0);
    }
    return new Float64Array(this.exports.memory.buffer, accPtr, 1)[0];
  }
}
