// The loader core: one wasm instance, and the chunked calls that stream a batch of any size
// through the module's fixed scratch area.
//
// Memory stays bounded: every call copies one chunk of the caller's arrays into the scratch
// area, runs the kernel there and copies the results out. The module never allocates. Only an
// item too wide for the scratch area on its own (a softmax row of ~30k float32 classes) makes
// the engine grow memory, once, to fit that item; views are re-created after any growth.

import { ABI_VERSION, NULL, statusError, type FocalExports } from './abi.js';
import type { FloatArray, SigmoidPlan, SoftmaxPlan } from './options.js';

const PAGE = 65536;
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

export class Engine {
  readonly exports: FocalExports;
  private readonly scratchPtr: number;
  private readonly scratchLen: number;
  /** First byte past the module's own memory: where a grown region for one huge item starts. */
  private readonly ownEnd: number;

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
    this.ownEnd = x.memory.buffer.byteLength;
  }

  /** Bytes of wasm memory now (for tests and the benchmark: it must not grow with batch size). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Size of the scratch area. */
  get scratchBytes(): number {
    return this.scratchLen;
  }

  /** A region of at least `bytes`: the scratch area, or memory grown past the module's own end. */
  private area(bytes: number): { ptr: number; len: number } {
    if (bytes <= this.scratchLen) return { ptr: this.scratchPtr, len: this.scratchLen };
    const memory = this.exports.memory;
    const have = memory.buffer.byteLength - this.ownEnd;
    if (have < bytes) memory.grow(Math.ceil((bytes - have) / PAGE));
    return { ptr: this.ownEnd, len: memory.buffer.byteLength - this.ownEnd };
  }

  private view(Ctor: ViewCtor, ptr: number, length: number): View {
    return new Ctor(this.exports.memory.buffer, ptr, length);
  }

  private fail(status: number, offset: number): never {
    throw statusError(status, this.exports.focal_error_index(), offset);
  }

  /** Runs a validated softmax plan; returns the sum of item losses (in item order). */
  softmax(plan: SoftmaxPlan, out: Outputs): number {
    const { logits, batch: N, classes: C, spatial: S } = plan;
    const Ctor = logits.constructor as ViewCtor;
    const T = logits.BYTES_PER_ELEMENT;
    const kernel = T === 4 ? this.exports.focal_softmax_f32 : this.exports.focal_softmax_f64;
    const soft = plan.targets.kind === 'prob';
    const perItem =
      align(C * T) * (out.grad ? 2 : 1) + (soft ? align(C * T) : 4) + (plan.weights ? T : 0) + (out.loss ? T : 0);
    const header = ALIGN + (plan.alphaPerClass ? align(C * T) : 0);
    // Slack for the alignment of up to five regions.
    const area = this.area(header + perItem + 5 * ALIGN);
    const perChunk = Math.max(1, Math.floor((area.len - header - 5 * ALIGN) / perItem));
    const gradScale = plan.reduction === 'mean' ? (plan.count > 0 ? 1 / plan.count : 0) : 1;

    const accPtr = area.ptr;
    const alphaPtr = area.ptr + ALIGN;
    new Float64Array(this.exports.memory.buffer, accPtr, 1)[0] = 0;
    if (plan.alphaPerClass) copyItems(this.view(Ctor, alphaPtr, C), plan.alphaPerClass, 0, C);

    // Chunks of whole images [nc, C, S] when at least one fits, else [1, C, sc] slices of one image.
    const imagesPerChunk = Math.floor(perChunk / Math.max(S, 1));
    const run = (n0: number, nc: number, s0: number, sc: number) => {
      const items = nc * sc;
      const len = items * C;
      const whole = sc === S;
      const lay = new Layout(area.ptr + header);
      const pLogits = lay.take(len * T);
      const pGrad = out.grad ? lay.take(len * T) : NULL;
      const pProbs = soft ? lay.take(len * T) : NULL;
      const pTargets = soft ? NULL : lay.take(items * 4);
      const pWeights = plan.weights ? lay.take(items * T) : NULL;
      const pLoss = out.loss ? lay.take(items * T) : NULL;
      const firstItem = n0 * S + s0;
      const first = n0 * C * S;
      const gather = (src: FloatArray, ptr: number) => {
        const dst = this.view(Ctor, ptr, len);
        if (whole) dst.set(src.subarray(first, first + len));
        else for (let c = 0; c < C; c++) dst.set(src.subarray(first + c * S + s0, first + c * S + s0 + sc), c * sc);
      };
      gather(logits, pLogits);
      if (plan.targets.kind === 'prob') gather(plan.targets.data, pProbs);
      else copyItems(new Int32Array(this.exports.memory.buffer, pTargets, items), plan.targets.data, firstItem, firstItem + items);
      if (plan.weights) copyItems(this.view(Ctor, pWeights, items), plan.weights, firstItem, firstItem + items);

      const status = kernel(
        nc, C, sc, pLogits, pTargets, pProbs, plan.alphaPerClass ? alphaPtr : NULL, plan.alphaScalar, pWeights,
        plan.gamma, plan.labelSmoothing, plan.ignoreIndex, gradScale, pLoss, pGrad, accPtr,
      );
      if (status !== 0) this.fail(status, firstItem);

      if (out.grad) {
        const g = this.view(Ctor, pGrad, len);
        if (whole) out.grad.set(g, first);
        else for (let c = 0; c < C; c++) out.grad.set(g.subarray(c * sc, (c + 1) * sc), first + c * S + s0);
      }
      if (out.loss) out.loss.set(this.view(Ctor, pLoss, items), firstItem);
    };

    if (imagesPerChunk >= 1) {
      for (let n0 = 0; n0 < N; n0 += imagesPerChunk) run(n0, Math.min(imagesPerChunk, N - n0), 0, S);
    } else {
      for (let n = 0; n < N; n++) for (let s0 = 0; s0 < S; s0 += perChunk) run(n, 1, s0, Math.min(perChunk, S - s0));
    }
    return new Float64Array(this.exports.memory.buffer, accPtr, 1)[0];
  }

  /** Runs a validated sigmoid plan; returns the sum of element losses (in order). */
  sigmoid(plan: SigmoidPlan, out: Outputs): number {
    const { logits } = plan;
    const Ctor = logits.constructor as ViewCtor;
    const T = logits.BYTES_PER_ELEMENT;
    const kernel = T === 4 ? this.exports.focal_sigmoid_f32 : this.exports.focal_sigmoid_f64;
    const perItem = T * (2 + (out.grad ? 1 : 0) + (plan.weights ? 1 : 0) + (out.loss ? 1 : 0));
    const area = this.area(this.scratchLen);
    const perChunk = Math.floor((area.len - 6 * ALIGN) / perItem);
    const total = logits.length;
    const gradScale = plan.reduction === 'mean' ? (total > 0 ? 1 / total : 0) : 1;
    const accPtr = area.ptr;
    new Float64Array(this.exports.memory.buffer, accPtr, 1)[0] = 0;

    for (let i0 = 0; i0 < total; i0 += perChunk) {
      const n = Math.min(perChunk, total - i0);
      const lay = new Layout(area.ptr + ALIGN);
      const pLogits = lay.take(n * T);
      const pTargets = lay.take(n * T);
      const pGrad = out.grad ? lay.take(n * T) : NULL;
      const pWeights = plan.weights ? lay.take(n * T) : NULL;
      const pLoss = out.loss ? lay.take(n * T) : NULL;
      this.view(Ctor, pLogits, n).set(logits.subarray(i0, i0 + n));
      copyItems(this.view(Ctor, pTargets, n), plan.targets, i0, i0 + n);
      if (plan.weights) copyItems(this.view(Ctor, pWeights, n), plan.weights, i0, i0 + n);
      const alpha = plan.alpha;
      const status = kernel(n, pLogits, pTargets, pWeights, plan.gamma, alpha, plan.labelSmoothing, gradScale, pLoss, pGrad, accPtr);
      if (status !== 0) this.fail(status, i0);
      if (out.grad) out.grad.set(this.view(Ctor, pGrad, n), i0);
      if (out.loss) out.loss.set(this.view(Ctor, pLoss, n), i0);
    }
    return new Float64Array(this.exports.memory.buffer, accPtr, 1)[0];
  }
}
