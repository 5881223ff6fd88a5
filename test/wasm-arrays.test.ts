// Wasm arrays (allocateWasmArray): arrays inside the module's memory are used in place. Results
// must be bit-identical to the same call on ordinary arrays (every layout, target kind, option and
// mix of wasm and ordinary arrays); a call whose arrays are all wasm arrays is one kernel call on
// their addresses (checked on an engine whose kernels are wrapped); views are re-created after
// memory growth; freed memory is reused; rows too wide for the scratch area still work and leave
// other wasm arrays intact.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { expectSameBits } from './helpers/bits';
import {
  allocateWasmArray, sigmoidFocalLossWithGrad, softmaxFocalLoss, softmaxFocalLossWithGrad, wasmMemoryBytes,
  type WasmArray,
} from 'focal-loss';
// @ts-expect-error: plain JS module with JSDoc types (the demo's mulberry32)
import { rng } from '../examples/train/train.js';
import { Engine } from '../ts/engine';
import { sigmoidPlan, softmaxPlan } from '../ts/options';

type FloatCtor = typeof Float32Array | typeof Float64Array;

/** A wasm array holding a copy of `values`. */
function inWasm<C extends FloatCtor | typeof Int32Array>(type: C, values: ArrayLike<number>): WasmArray<InstanceType<C>> {
  const w = allocateWasmArray(type, values.length);
  w.array.set(values);
  return w;
}

function softmaxCase(T: FloatCtor, N: number, C: number, S: number, seed: number) {
  const r = rng(seed);
  const logits = new T(N * C * S).map(() => (r() - 0.5) * 16);
  const indices = Int32Array.from({ length: N * S }, (_, i) => (i % 11 === 3 ? -100 : Math.floor(r() * C)));
  const probs = new T(N * C * S);
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      let total = 0;
      for (let c = 0; c < C; c++) total += probs[(n * C + c) * S + s] = r();
      for (let c = 0; c < C; c++) probs[(n * C + c) * S + s] /= total;
    }
  }
  const weights = new T(N * S).map(() => r() * 2);
  return { logits, indices, probs, weights };
}

describe('results equal ordinary arrays bit for bit', () => {
  for (const T of [Float32Array, Float64Array] as const) {
    // [2, 19, 5000]: an image larger than the scratch area, so ordinary logits go in slices of one image.
    for (const [N, C, S] of [[37, 10, 1], [5, 100, 1], [3, 7, 45], [2, 3000, 1], [2, 19, 5000]] as const) {
      test(`softmax ${T.name} [${N}, ${C}${S > 1 ? `, ${S}` : ''}]: hard and soft targets, weights, every reduction, any mix of wasm arrays`, () => {
        const { logits, indices, probs, weights } = softmaxCase(T, N, C, S, N * C + S);
        const layout = S > 1 ? { shape: [N, C, S] } : { classes: C };
        const wl = inWasm(T, logits);
        const wi = inWasm(Int32Array, indices);
        const wp = inWasm(T, probs);
        const ww = inWasm(T, weights);
        const wg = allocateWasmArray(T, logits.length);
        for (const soft of [false, true]) {
          for (const reduction of ['mean', 'sum', 'none'] as const) {
            const options = { ...layout, gamma: 1.5, alpha: 0.5, reduction, labelSmoothing: soft ? 0.1 : 0 };
            const want = softmaxFocalLossWithGrad(logits, soft ? probs : indices, { ...options, weights });
            // Every combination of which arrays are wasm arrays (logits, targets, weights, out).
            for (let mask = 1; mask < 16; mask++) {
              const out = mask & 8 ? wg.array : new T(logits.length);
              out.fill(0);
              const got = softmaxFocalLossWithGrad(
                mask & 1 ? wl.array : logits,
                mask & 2 ? (soft ? wp.array : wi.array) : soft ? probs : indices,
                { ...options, weights: mask & 4 ? ww.array : weights, out },
              );
              expect(got.grad).toBe(out);
              if (reduction === 'none') expectSameBits(got.loss as ArrayLike<number>, want.loss as ArrayLike<number>);
              else expect(got.loss).toBe(want.loss);
              expectSameBits(out, want.grad);
            }
          }
        }
        for (const w of [wl, wi, wp, ww, wg]) w.free();
      });
    }

    test(`sigmoid ${T.name}: hard and soft targets, weights, every reduction, any mix of wasm arrays`, () => {
      const r = rng(7);
      const n = 1237;
      const logits = new T(n).map(() => (r() - 0.5) * 30);
      const hard = new T(n).map(() => (r() < 0.2 ? 1 : 0));
      const soft = new T(n).map(() => r());
      const weights = new T(n).map(() => r());
      const [wl, wh, ws, ww, wg] = [logits, hard, soft, weights, new T(n)].map((a) => inWasm(T, a));
      for (const [targets, wt] of [[hard, wh], [soft, ws]] as const) {
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          const want = sigmoidFocalLossWithGrad(logits, targets, { reduction, weights, gamma: 0.5 });
          for (let mask = 1; mask < 16; mask++) {
            const out = mask & 8 ? wg.array : new T(n);
            const got = sigmoidFocalLossWithGrad(mask & 1 ? wl.array : logits, mask & 2 ? wt.array : targets, {
              reduction, gamma: 0.5, weights: mask & 4 ? ww.array : weights, out,
            });
            if (reduction === 'none') expectSameBits(got.loss as ArrayLike<number>, want.loss as ArrayLike<number>);
            else expect(got.loss).toBe(want.loss);
            expectSameBits(out, want.grad);
          }
        }
      }
      for (const w of [wl, wh, ws, ww, wg]) w.free();
    });
  }
});

test('a batch far larger than the scratch area: same results, and the call grows no memory', () => {
  const { logits, indices } = softmaxCase(Float32Array, 200_000, 10, 1, 3);
  const want = softmaxFocalLossWithGrad(logits, indices, { classes: 10 });
  const wl = inWasm(Float32Array, logits);
  const wi = inWasm(Int32Array, indices);
  const wg = allocateWasmArray(Float32Array, logits.length);
  const before = wasmMemoryBytes();
  const got = softmaxFocalLossWithGrad(wl.array, wi.array, { classes: 10, out: wg.array });
  expect(wasmMemoryBytes()).toBe(before);
  expect(got.loss).toBe(want.loss);
  expectSameBits(wg.array, want.grad);
  for (const w of [wl, wi, wg]) w.free();
});

describe('in place: one kernel call on the arrays\' own addresses', () => {
  /** An engine over its own instance whose kernels record their calls. */
  function countingEngine() {
    const module = new WebAssembly.Module(readFileSync(new URL('../dist/focal_loss.wasm', import.meta.url)));
    const exports = { ...new WebAssembly.Instance(module, {}).exports } as Record<string, unknown>;
    const calls: number[][] = [];
    for (const name of ['focal_softmax_f32', 'focal_softmax_f64', 'focal_sigmoid_f32', 'focal_sigmoid_f64']) {
      const kernel = exports[name] as (...args: number[]) => number;
      exports[name] = (...args: number[]) => {
        calls.push(args);
        return kernel(...args);
      };
    }
    const engine = new Engine({ exports } as unknown as WebAssembly.Instance);
    const memory = exports.memory as WebAssembly.Memory;
    /** Copies of `values` in wasm memory (all allocated before any view is made: growth detaches views). */
    const wasmArrays = (...values: (Float32Array | Float64Array | Int32Array)[]) => {
      const ptrs = values.map((v) => engine.heap.alloc(v.byteLength));
      return values.map((v, i) => {
        const view = new (v.constructor as typeof Float32Array)(memory.buffer, ptrs[i], v.length);
        view.set(v);
        return view;
      });
    };
    return { engine, calls, wasmArrays };
  }

  test('softmax 100000 × 10 float32: wasm arrays → 1 call at their addresses; ordinary arrays → chunks', () => {
    const { logits, indices } = softmaxCase(Float32Array, 100_000, 10, 1, 5);
    const { engine, calls, wasmArrays } = countingEngine();
    const ordinaryGrad = new Float32Array(logits.length);
    const sumOrdinary = engine.softmax(softmaxPlan(logits, indices, { classes: 10 }), { grad: ordinaryGrad, loss: null });
    expect(calls.length).toBeGreaterThan(5); // 4 MB of logits through a 256 KiB scratch area
    calls.length = 0;
    const [wl, wi, wg] = wasmArrays(logits, indices, new Float32Array(logits.length));
    const sum = engine.softmax(softmaxPlan(wl, wi, { classes: 10 }), { grad: wg, loss: null });
    expect(calls.length).toBe(1);
    const [batch, classes, , pLogits, pTargets, , , , , , , , , , pGrad] = calls[0];
    expect([batch, classes, pLogits, pTargets, pGrad]).toEqual([100_000, 10, wl.byteOffset, wi.byteOffset, wg.byteOffset]);
    expect(sum).toBe(sumOrdinary);
    expectSameBits(wg, ordinaryGrad);
  });

  test('sigmoid 300000 float32: wasm arrays → calls at their addresses, chunk after chunk', () => {
    const r = rng(9);
    const x = new Float32Array(300_000).map(() => (r() - 0.5) * 10);
    const y = new Float32Array(300_000).map(() => (r() < 0.3 ? 1 : 0));
    const { engine, calls, wasmArrays } = countingEngine();
    const [wx, wy, wg] = wasmArrays(x, y, new Float32Array(x.length));
    engine.sigmoid(sigmoidPlan(wx, wy, {}), { grad: wg, loss: null });
    // In scratch-sized chunks (so that a chunk's targets are checked and used while in cache),
    // each at its own offset into the arrays: nothing is copied.
    expect(calls.length).toBeGreaterThan(1);
    let first = 0;
    for (const [n, pLogits, pTargets, , , , , , , pGrad] of calls) {
      expect([pLogits, pTargets, pGrad]).toEqual([wx.byteOffset + 4 * first, wy.byteOffset + 4 * first, wg.byteOffset + 4 * first]);
      first += n;
    }
    expect(first).toBe(300_000);
  });

  test('a view of wasm memory outside every live wasm array (a freed block) is copied, not used in place', () => {
    const { engine, calls, wasmArrays } = countingEngine();
    const { logits } = softmaxCase(Float32Array, 10, 3, 1, 1);
    const [freedView] = wasmArrays(logits);
    engine.heap.release(freedView.byteOffset);
    const targets = Int32Array.from({ length: 10 }, (_, i) => i % 3);
    const grad = new Float32Array(30);
    const sum = engine.softmax(softmaxPlan(freedView, targets, { classes: 3 }), { grad, loss: null });
    expect(calls.length).toBe(1);
    expect(calls[0][3]).not.toBe(freedView.byteOffset);
    const want = new Float32Array(30);
    expect(countingEngine().engine.softmax(softmaxPlan(logits, targets, { classes: 3 }), { grad: want, loss: null })).toBe(sum);
    expectSameBits(grad, want);
  });
});

describe('lifetime', () => {
  test('growth detaches old views; `array` re-creates them with the contents kept', () => {
    const a = allocateWasmArray(Float64Array, 5);
    expect(Array.from(a.array)).toEqual([0, 0, 0, 0, 0]);
    const view = a.array;
    view.set([1, 2, 3, 4, 5]);
    const before = wasmMemoryBytes();
    const bigLength = before / 4 + 1024; // more than all of memory now: it must grow
    const big = allocateWasmArray(Float32Array, bigLength);
    expect(wasmMemoryBytes()).toBeGreaterThan(before);
    expect(view.length).toBe(0); // detached
    expect(a.array === view).toBe(false);
    expect(Array.from(a.array)).toEqual([1, 2, 3, 4, 5]);
    expect(a.array === a.array).toBe(true); // re-created only after growth
    expect(big.array.length).toBe(bigLength);
    big.free();
    a.free();
  });

  test('free makes the memory reusable (zeroed for the next owner); use after free throws', () => {
    const a = allocateWasmArray(Float32Array, 1000);
    a.array.fill(7);
    const offset = a.array.byteOffset;
    a.free();
    expect(() => a.array).toThrow(/freed/);
    expect(() => a.free()).toThrow(/already freed/);
    const before = wasmMemoryBytes();
    const b = allocateWasmArray(Float32Array, 1000);
    expect(b.array.byteOffset).toBe(offset);
    expect(b.array.every((v) => v === 0)).toBe(true);
    expect(wasmMemoryBytes()).toBe(before);
    // Two halves fit where the whole was (free blocks are split and merged again).
    b.free();
    const c = allocateWasmArray(Float32Array, 500);
    const d = allocateWasmArray(Float32Array, 500);
    expect([c.array.byteOffset, d.array.byteOffset]).toEqual([offset, offset + 2000]);
    c.free();
    d.free();
    expect(allocateWasmArray(Float32Array, 1000).array.byteOffset).toBe(offset);
  });

  test('rows too wide for the scratch area: correct, and other wasm arrays are left intact', () => {
    const C = 100_000; // 400 KB per float32 row: larger than the 256 KiB scratch area
    const { logits, indices } = softmaxCase(Float32Array, 3, C, 1, 11);
    const want = softmaxFocalLossWithGrad(logits, indices, { classes: C });
    const sentinel = inWasm(Float64Array, [Math.PI, Math.E, -1]);
    const wl = inWasm(Float32Array, logits);
    const wg = allocateWasmArray(Float32Array, logits.length);
    const got = softmaxFocalLossWithGrad(wl.array, indices, { classes: C, out: wg.array });
    expect(got.loss).toBe(want.loss);
    expectSameBits(wg.array, want.grad);
    expect(Array.from(sentinel.array)).toEqual([Math.PI, Math.E, -1]);
    expectSameBits(wl.array, logits); // inputs are not written
    // The engine's temporary area went back to the heap: the same call again grows nothing.
    const before = wasmMemoryBytes();
    expect(softmaxFocalLoss(wl.array, indices, { classes: C })).toBe(want.loss);
    expect(wasmMemoryBytes()).toBe(before);
    for (const w of [sentinel, wl, wg]) w.free();
  });

  test('bad arguments', () => {
    expect(() => allocateWasmArray(Uint8Array as never, 4)).toThrow(TypeError);
    expect(() => allocateWasmArray(Float32Array, -1)).toThrow(RangeError);
    expect(() => allocateWasmArray(Float32Array, 1.5)).toThrow(RangeError);
    expect(() => allocateWasmArray(Float32Array, '4' as never)).toThrow(RangeError);
  });

  test('validation still runs first: a wrong `out` length throws and writes nothing', () => {
    const wl = inWasm(Float32Array, [1, 2, 3, 4, 5, 6]);
    const wg = inWasm(Float32Array, [9, 9, 9, 9, 9]);
    expect(() => softmaxFocalLossWithGrad(wl.array, [0, 1], { classes: 3, out: wg.array })).toThrow(RangeError);
    expect(Array.from(wg.array)).toEqual([9, 9, 9, 9, 9]);
    wl.free();
    wg.free();
  });
});

describe('the heap (ts/heap.ts)', () => {
  test('random allocs and frees: blocks aligned, inside memory, never overlapping; all freed → one block again', async () => {
    const { Heap } = await import('../ts/heap');
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new Heap(memory, 65536);
    const r = rng(2024);
    const live = new Map<number, number>();
    for (let step = 0; step < 3000; step++) {
      if (live.size > 0 && r() < 0.45) {
        const ptrs = [...live.keys()];
        const ptr = ptrs[Math.floor(r() * ptrs.length)];
        expect(heap.release(ptr)).toBe(true);
        expect(heap.release(ptr)).toBe(false); // not live any more
        live.delete(ptr);
      } else {
        const bytes = Math.floor(r() ** 3 * 300_000);
        const ptr = heap.alloc(bytes);
        expect(ptr % 16).toBe(0);
        expect(ptr).toBeGreaterThanOrEqual(65536);
        expect(ptr + bytes).toBeLessThanOrEqual(memory.buffer.byteLength);
        for (const [p, b] of live) expect(ptr + Math.max(bytes, 1) <= p || p + Math.max(b, 1) <= ptr).toBe(true);
        expect(heap.owns(ptr, bytes)).toBe(true);
        live.set(ptr, bytes);
      }
    }
    for (const ptr of live.keys()) heap.release(ptr);
    // Everything merged back: the whole region is one free block, reused without growing.
    const size = memory.buffer.byteLength;
    const all = size - 65536;
    expect(heap.alloc(all)).toBe(65536);
    expect(memory.buffer.byteLength).toBe(size);
    expect(heap.owns(65536 + all - 8, 16)).toBe(false); // past the block's end
  });
});
