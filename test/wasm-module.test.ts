// The built dist/focal_loss.wasm as a module: what it imports (nothing) and exports, its ABI
// version and size, its raw kernels' status codes for bad pointers and values (no traps), and the
// loader refusing a module of another ABI version.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ABI_VERSION, Status, type FocalExports } from '../ts/abi';
import { Engine } from '../ts/engine';
import { getEngine, initSyncWith, isInitialized } from '../ts/loader';

const wasmUrl = new URL('../dist/focal_loss.wasm', import.meta.url);
const bytes = readFileSync(wasmUrl);
const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);

function instance(): FocalExports {
  return new WebAssembly.Instance(module, {}).exports as unknown as FocalExports;
}

const KERNELS = ['focal_softmax_f32', 'focal_softmax_f64', 'focal_sigmoid_f32', 'focal_sigmoid_f64'] as const;

describe('dist/focal_loss.wasm', () => {
  test('imports nothing, exports memory and the focal_* functions, and is small', () => {
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const exports = WebAssembly.Module.exports(module);
    const kinds = Object.fromEntries(exports.map((e) => [e.name, e.kind]));
    expect(kinds.memory).toBe('memory');
    for (const name of ['focal_abi_version', 'focal_scratch_ptr', 'focal_scratch_len', 'focal_error_index', ...KERNELS]) {
      expect(kinds[name], name).toBe('function');
    }
    // Nothing else that looks like an allocator or wasm-bindgen glue.
    expect(exports.map((e) => e.name).filter((n) => /malloc|alloc|free|wbindgen/i.test(n))).toEqual([]);
    const size = statSync(wasmUrl).size;
    console.log(`focal_loss.wasm: ${size} bytes, exports ${exports.map((e) => e.name).join(', ')}`);
    expect(size).toBeLessThan(100 * 1024);
  });

  test('focal_abi_version matches ts/abi.ts; the scratch area is 256 KiB, aligned, not at 0, inside memory', () => {
    const x = instance();
    expect(x.focal_abi_version()).toBe(ABI_VERSION);
    const ptr = x.focal_scratch_ptr();
    const len = x.focal_scratch_len();
    expect(len).toBe(256 * 1024);
    expect(ptr).toBeGreaterThan(0);
    expect(ptr % 16).toBe(0);
    expect(ptr + len).toBeLessThanOrEqual(x.memory.buffer.byteLength);
  });
});

describe('raw kernels return status codes, never trap', () => {
  /** A valid f64 softmax chunk in scratch: 2 rows × 3 classes; returns the pointers. */
  function setup(x: FocalExports, T: 4 | 8 = 8) {
    const base = x.focal_scratch_ptr();
    const F = T === 4 ? Float32Array : Float64Array;
    const p = { acc: base, logits: base + 64, targets: base + 256, grad: base + 512, loss: base + 768, probs: base + 1024 };
    new Float64Array(x.memory.buffer, p.acc, 1)[0] = 0;
    new F(x.memory.buffer, p.logits, 6).set([1, 2, 3, 0, -1, 0.5]);
    new Int32Array(x.memory.buffer, p.targets, 2).set([0, 2]);
    return p;
  }
  // (batch, classes, spatial, logits, targets, probs, alpha, alphaScalar, weights, gamma, smoothing, ignore, gradScale, loss, grad, acc)
  const softmax = (x: FocalExports, p: ReturnType<typeof setup>, over: Partial<Record<string, number>> = {}, k: keyof FocalExports = 'focal_softmax_f64') => {
    const a = { batch: 2, classes: 3, spatial: 1, logits: p.logits, targets: p.targets, probs: 0, alpha: 0, alphaScalar: 1, weights: 0, gamma: 2, smoothing: 0, ignore: -100, gradScale: 1, loss: p.loss, grad: p.grad, acc: p.acc, ...over };
    return (x[k] as FocalExports['focal_softmax_f64'])(a.batch, a.classes, a.spatial, a.logits, a.targets, a.probs, a.alpha, a.alphaScalar, a.weights, a.gamma, a.smoothing, a.ignore, a.gradScale, a.loss, a.grad, a.acc);
  };

  test('a valid call returns Ok and accumulates the sum', () => {
    const x = instance();
    const p = setup(x);
    expect(softmax(x, p)).toBe(Status.Ok);
    const acc = new Float64Array(x.memory.buffer, p.acc, 1)[0];
    const losses = new Float64Array(x.memory.buffer, p.loss, 2);
    expect(acc).toBeGreaterThan(0);
    expect(acc).toBe(losses[0] + losses[1]);
  });

  test('bad pointers: null logits / accumulator, misaligned, both or neither target kind → InvalidArgument', () => {
    const x = instance();
    const p = setup(x);
    expect(softmax(x, p, { logits: 0 })).toBe(Status.InvalidArgument);
    expect(softmax(x, p, { acc: 0 })).toBe(Status.InvalidArgument);
    expect(softmax(x, p, { logits: p.logits + 4 })).toBe(Status.InvalidArgument); // f64 at a 4-byte offset
    expect(softmax(x, p, { targets: p.targets + 1 })).toBe(Status.InvalidArgument);
    expect(softmax(x, p, { grad: p.grad + 2 })).toBe(Status.InvalidArgument);
    expect(softmax(x, p, { probs: p.probs })).toBe(Status.InvalidArgument);
    expect(softmax(x, p, { targets: 0 })).toBe(Status.InvalidArgument);
    expect(softmax(x, p, { logits: p.logits + 2 }, 'focal_softmax_f32')).toBe(Status.InvalidArgument);
    const sig = x.focal_sigmoid_f64;
    expect(sig(6, 0, p.logits, 0, 2, 0.25, 0, 1, 0, 0, p.acc)).toBe(Status.InvalidArgument);
    expect(sig(6, p.logits, p.logits + 4, 0, 2, 0.25, 0, 1, 0, 0, p.acc)).toBe(Status.InvalidArgument);
    expect(sig(6, p.logits, p.logits, 0, 2, 0.25, 0, 1, 0, 0, 0)).toBe(Status.InvalidArgument);
    // Still usable afterwards.
    expect(softmax(x, p)).toBe(Status.Ok);
  });

  test('bad values: target out of range (with its index), gamma, smoothing, alpha, weights, probabilities', () => {
    const x = instance();
    const p = setup(x);
    new Int32Array(x.memory.buffer, p.targets, 2)[1] = 3;
    expect(softmax(x, p)).toBe(Status.TargetOutOfRange);
    expect(x.focal_error_index()).toBe(1);
    new Int32Array(x.memory.buffer, p.targets, 2).set([-5, 0]);
    expect(softmax(x, p)).toBe(Status.TargetOutOfRange);
    expect(x.focal_error_index()).toBe(0);
    expect(softmax(x, p, { ignore: -5 })).toBe(Status.Ok); // the same value as ignoreIndex is fine
    new Int32Array(x.memory.buffer, p.targets, 2).set([0, 2]);
    expect(softmax(x, p, { gamma: -1 })).toBe(Status.InvalidGamma);
    expect(softmax(x, p, { gamma: NaN })).toBe(Status.InvalidGamma);
    expect(softmax(x, p, { smoothing: 1 })).toBe(Status.InvalidLabelSmoothing);
    expect(softmax(x, p, { alphaScalar: -1 })).toBe(Status.InvalidAlpha);
    new Float64Array(x.memory.buffer, p.probs, 2).set([1, -1]);
    expect(softmax(x, p, { weights: p.probs })).toBe(Status.InvalidWeight);
    // Probabilities: a row summing to 2.
    new Float64Array(x.memory.buffer, p.probs, 6).set([1, 0, 0, 1, 1, 0]);
    expect(softmax(x, p, { targets: 0, probs: p.probs })).toBe(Status.InvalidProbability);
    // Sigmoid: a target of 2, alpha 1.5.
    new Float64Array(x.memory.buffer, p.probs, 6).set([0, 1, 2, 0, 1, 0]);
    expect(x.focal_sigmoid_f64(6, p.logits, p.probs, 0, 2, 0.25, 0, 1, 0, 0, p.acc)).toBe(Status.InvalidProbability);
    expect(x.focal_error_index()).toBe(2);
    new Float64Array(x.memory.buffer, p.probs, 6).set([0, 1, 1, 0, 1, 0]);
    expect(x.focal_sigmoid_f64(6, p.logits, p.probs, 0, 2, 1.5, 0, 1, 0, 0, p.acc)).toBe(Status.InvalidAlpha);
    expect(x.focal_sigmoid_f64(6, p.logits, p.probs, 0, 2, 0.25, 0, 1, 0, 0, p.acc)).toBe(Status.Ok);
    expect(softmax(x, p)).toBe(Status.Ok);
  });
});

/** A hand-assembled module exporting `memory` and focal_abi_version() returning `version`. */
function stubModule(version: number): Uint8Array {
  const name = (s: string) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const exportsBody = [2, ...name('memory'), 0x02, 0, ...name('focal_abi_version'), 0x00, 0];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 1, 0x7f]), // type: () -> i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // memory: min 1 page
    ...section(7, exportsBody),
    ...section(10, [1, 4, 0, 0x41, version, 0x0b]), // i32.const version
  ]);
}

describe('the loader refuses a module of another ABI version', () => {
  test('the stub module is well formed and reports its version', () => {
    const x = new WebAssembly.Instance(new WebAssembly.Module(stubModule(ABI_VERSION + 1) as Uint8Array<ArrayBuffer>), {}).exports as any;
    expect(x.focal_abi_version()).toBe(ABI_VERSION + 1);
  });

  test('Engine throws naming both versions; a module that is not focal_loss.wasm is a TypeError', () => {
    const wrong = new WebAssembly.Instance(new WebAssembly.Module(stubModule(ABI_VERSION + 1) as Uint8Array<ArrayBuffer>), {});
    expect(() => new Engine(wrong)).toThrow(`focal_loss.wasm has ABI version ${ABI_VERSION + 1} but this JavaScript expects ${ABI_VERSION}`);
    const other = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])), {});
    expect(() => new Engine(other)).toThrow(TypeError);
    expect(() => new Engine(other)).toThrow('not focal_loss.wasm');
    // The real module is accepted.
    expect(new Engine(new WebAssembly.Instance(module, {})).scratchBytes).toBe(256 * 1024);
  });

  test('initSync with a stale module fails loudly, leaves nothing loaded, and the right module still loads', () => {
    // ts/loader.ts imported from source is a separate module slot from the built package's.
    expect(isInitialized()).toBe(false);
    expect(() => getEngine()).toThrow('call `await init()`');
    expect(() => initSyncWith(stubModule(ABI_VERSION + 1))).toThrow(/ABI version/);
    expect(isInitialized()).toBe(false);
    initSyncWith(bytes);
    expect(isInitialized()).toBe(true);
    expect(getEngine().exports.focal_abi_version()).toBe(ABI_VERSION);
  });
});
