// The built dist/focal_loss.wasm as a module: what it imports (nothing) and exports, its ABI
// version and size, the call header's layout on both sides, its raw kernels' status codes for bad
// addresses and values, recovery from a forced trap, the loader refusing a module of another
// ABI version, and the engine's views of memory across growth.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  ABI_VERSION,
  HEADER,
  HEADER_FIELDS,
  readHeaderField,
  Status,
  writeHeader,
  type FocalExports,
  type Header,
} from '../ts/abi';
import { Engine } from '../ts/engine';
import { getEngine, initSyncWith, isInitialized } from '../ts/loader';
import { softmaxPlan } from '../ts/options';
import { refReduce, refSoftmax } from './reference';

const wasmUrl = new URL('../dist/focal_loss.wasm', import.meta.url);
const bytes = readFileSync(wasmUrl);
const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);

function instance(): FocalExports {
  return new WebAssembly.Instance(module, {}).exports as unknown as FocalExports;
}

const KERNELS = ['focal_softmax_f32', 'focal_softmax_f64', 'focal_elementwise_f32', 'focal_elementwise_f64'] as const;

/** A header with every address absent and every parameter neutral (γ = 0, no alpha, posWeight 1), then `over`. */
function headerOf(over: Partial<Header>): Header {
  const zero = Object.fromEntries(HEADER_FIELDS.map(([name]) => [name, 0])) as Header;
  return { ...zero, ignore_index: -100, alpha_scalar: 1, pos_weight_scalar: 1, grad_scale: 1, ...over };
}

describe('dist/focal_loss.wasm', () => {
  test('imports nothing, exports memory and the focal_* functions, and is small', () => {
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const exports = WebAssembly.Module.exports(module);
    const kinds = Object.fromEntries(exports.map((e) => [e.name, e.kind]));
    expect(kinds.memory).toBe('memory');
    for (const name of [
      'focal_abi_version',
      'focal_scratch_ptr',
      'focal_scratch_len',
      'focal_header_layout',
      ...KERNELS,
    ]) {
      expect(kinds[name], name).toBe('function');
    }
    // Nothing else that looks like an allocator or wasm-bindgen glue.
    expect(exports.map((e) => e.name).filter((n) => /malloc|alloc|free|wbindgen/i.test(n))).toEqual([]);
    const size = statSync(wasmUrl).size;
    console.log(`focal_loss.wasm: ${size} bytes, exports ${exports.map((e) => e.name).join(', ')}`);
    expect(size).toBeLessThan(128 * 1024);
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

describe('the call header', () => {
  test('ts/abi.ts lays out CallHeader exactly as the .wasm reports it (size, then each field in order)', () => {
    const x = instance();
    const reported = Array.from(new Uint32Array(x.memory.buffer, x.focal_header_layout(), 1 + HEADER_FIELDS.length));
    expect(reported).toEqual([HEADER.size, ...HEADER_FIELDS.map(([name]) => HEADER.offsets[name])]);
    // The float fields are 8-byte aligned, and the struct is what ffi.rs declares: 16 × 4 + 11 × 8 bytes.
    expect(HEADER.size).toBe(152);
  });
});

describe('raw kernels return status codes, never trap', () => {
  /** A valid f64 softmax chunk in scratch (2 rows × 3 classes) and its header; `over` changes fields. */
  function setup(x: FocalExports, T: 4 | 8 = 8) {
    const base = x.focal_scratch_ptr();
    const F = T === 4 ? Float32Array : Float64Array;
    const p = {
      header: base,
      logits: base + 128,
      targets: base + 256,
      grad: base + 512,
      loss: base + 768,
      probs: base + 1024,
    };
    new F(x.memory.buffer, p.logits, 6).set([1, 2, 3, 0, -1, 0.5]);
    new Int32Array(x.memory.buffer, p.targets, 2).set([0, 2]);
    return p;
  }
  const header = (p: ReturnType<typeof setup>, over: Partial<Header>): Header =>
    headerOf({
      batch: 2,
      classes: 3,
      spatial: 1,
      logits: p.logits,
      target_indices: p.targets,
      loss_out: p.loss,
      grad_out: p.grad,
      gamma: 2,
      ...over,
    });
  const call = (
    x: FocalExports,
    p: ReturnType<typeof setup>,
    over: Partial<Header> = {},
    k: (typeof KERNELS)[number] = 'focal_softmax_f64',
  ) => {
    writeHeader(x.memory.buffer, p.header, header(p, over));
    return x[k](p.header);
  };
  const sigmoid = (x: FocalExports, p: ReturnType<typeof setup>, over: Partial<Header> = {}) =>
    call(
      x,
      p,
      { batch: 6, classes: 1, target_indices: 0, target_values: p.logits, alpha_scalar: 0.25, ...over },
      'focal_elementwise_f64',
    );

  test('a valid call returns Ok and adds to the header sum', () => {
    const x = instance();
    const p = setup(x);
    expect(call(x, p, { sum: 1 })).toBe(Status.Ok);
    const sum = readHeaderField(x.memory.buffer, p.header, 'sum');
    const losses = new Float64Array(x.memory.buffer, p.loss, 2);
    expect(losses[0]).toBeGreaterThan(0);
    expect(sum).toBe(1 + losses[0] + losses[1]);
  });

  test('bad addresses: null logits or header, misaligned, both or neither target kind → InvalidArgument', () => {
    const x = instance();
    const p = setup(x);
    expect(x.focal_softmax_f64(0)).toBe(Status.InvalidArgument);
    expect(x.focal_softmax_f64(p.header + 4)).toBe(Status.InvalidArgument);
    expect(call(x, p, { logits: 0 })).toBe(Status.InvalidArgument);
    expect(call(x, p, { logits: p.logits + 4 })).toBe(Status.InvalidArgument); // f64 at a 4-byte offset
    expect(call(x, p, { target_indices: p.targets + 1 })).toBe(Status.InvalidArgument);
    expect(call(x, p, { grad_out: p.grad + 2 })).toBe(Status.InvalidArgument);
    expect(call(x, p, { target_values: p.probs })).toBe(Status.InvalidArgument);
    expect(call(x, p, { target_indices: 0 })).toBe(Status.InvalidArgument);
    expect(call(x, p, { logits: p.logits + 2 }, 'focal_softmax_f32')).toBe(Status.InvalidArgument);
    expect(sigmoid(x, p, { logits: 0 })).toBe(Status.InvalidArgument);
    expect(sigmoid(x, p, { target_values: p.logits + 4 })).toBe(Status.InvalidArgument);
    expect(sigmoid(x, p, { target_values: 0 })).toBe(Status.InvalidArgument);
    // Still usable afterwards.
    expect(call(x, p)).toBe(Status.Ok);
  });

  test('bad values: target out of range (with its index), gamma, smoothing, alpha, weights, probabilities', () => {
    const x = instance();
    const p = setup(x);
    const errorIndex = () => readHeaderField(x.memory.buffer, p.header, 'error_index');
    new Int32Array(x.memory.buffer, p.targets, 2)[1] = 3;
    expect(call(x, p)).toBe(Status.TargetOutOfRange);
    expect(errorIndex()).toBe(1);
    new Int32Array(x.memory.buffer, p.targets, 2).set([-5, 0]);
    expect(call(x, p)).toBe(Status.TargetOutOfRange);
    expect(errorIndex()).toBe(0);
    expect(call(x, p, { ignore_index: -5 })).toBe(Status.Ok); // the same value as ignoreIndex is fine
    new Int32Array(x.memory.buffer, p.targets, 2).set([0, 2]);
    expect(call(x, p, { gamma: -1 })).toBe(Status.InvalidGamma);
    expect(call(x, p, { gamma: NaN })).toBe(Status.InvalidGamma);
    expect(call(x, p, { label_smoothing: 1 })).toBe(Status.InvalidLabelSmoothing);
    expect(call(x, p, { alpha_scalar: -1 })).toBe(Status.InvalidAlpha);
    new Float64Array(x.memory.buffer, p.probs, 2).set([1, -1]);
    expect(call(x, p, { weights: p.probs })).toBe(Status.InvalidWeight);
    // Probabilities: a row summing to 2.
    new Float64Array(x.memory.buffer, p.probs, 6).set([1, 0, 0, 1, 1, 0]);
    expect(call(x, p, { target_indices: 0, target_values: p.probs })).toBe(Status.InvalidProbability);
    // Sigmoid: a target of 2, alpha 1.5.
    new Float64Array(x.memory.buffer, p.probs, 6).set([0, 1, 2, 0, 1, 0]);
    expect(sigmoid(x, p, { target_values: p.probs })).toBe(Status.InvalidProbability);
    expect(errorIndex()).toBe(2);
    new Float64Array(x.memory.buffer, p.probs, 6).set([0, 1, 1, 0, 1, 0]);
    expect(sigmoid(x, p, { target_values: p.probs, alpha_scalar: 1.5 })).toBe(Status.InvalidAlpha);
    expect(sigmoid(x, p, { target_values: p.probs })).toBe(Status.Ok);
    expect(call(x, p)).toBe(Status.Ok);
  });
});

describe('a trap cannot brick the module', () => {
  // A header whose logits lie past the end of memory makes the kernel's first load trap ("memory
  // access out of bounds") after its stack frame was taken: the fault no validated call can reach,
  // forced here through the engine's own kernel call.
  test('each trap is rethrown, the stack pointer is put back, and the next call is exact', () => {
    const engine = new Engine(new WebAssembly.Instance(module, {}));
    const x = engine.exports;
    const top = x.__stack_pointer.value;
    const base = x.focal_scratch_ptr();
    const expected = (() => {
      writeHeader(
        x.memory.buffer,
        base,
        headerOf({ batch: 1, classes: 3, spatial: 1, logits: base + 256, target_indices: base + 512, gamma: 2 }),
      );
      new Float64Array(x.memory.buffer, base + 256, 3).set([1, 2, 3]);
      new Int32Array(x.memory.buffer, base + 512, 1)[0] = 1;
      expect(engine.invoke(x.focal_softmax_f64, base)).toBe(Status.Ok);
      return readHeaderField(x.memory.buffer, base, 'sum');
    })();
    expect(expected).toBeGreaterThan(0);
    // Without the reset, the first trap already leaves the stack pointer below its top.
    const raw = new Engine(new WebAssembly.Instance(module, {})).exports;
    const rawBase = raw.focal_scratch_ptr();
    writeHeader(raw.memory.buffer, rawBase, trapHeader(raw.memory.buffer.byteLength));
    expect(() => raw.focal_softmax_f64(rawBase)).toThrow(WebAssembly.RuntimeError);
    expect(raw.__stack_pointer.value).toBeLessThan(top);
    // Through the engine: 200 traps (more than the 64 KiB stack could hold of leaked frames).
    for (let i = 0; i < 200; i++) {
      writeHeader(x.memory.buffer, base, trapHeader(x.memory.buffer.byteLength));
      expect(() => engine.invoke(x.focal_softmax_f64, base)).toThrow(WebAssembly.RuntimeError);
      expect(x.__stack_pointer.value).toBe(top);
    }
    writeHeader(
      x.memory.buffer,
      base,
      headerOf({ batch: 1, classes: 3, spatial: 1, logits: base + 256, target_indices: base + 512, gamma: 2 }),
    );
    new Float64Array(x.memory.buffer, base + 256, 3).set([1, 2, 3]);
    new Int32Array(x.memory.buffer, base + 512, 1)[0] = 1;
    expect(engine.invoke(x.focal_softmax_f64, base)).toBe(Status.Ok);
    expect(readHeaderField(x.memory.buffer, base, 'sum')).toBe(expected);
  });
});

/** A softmax header of one row of 1024 classes whose logits start 8 bytes before the end of memory. */
function trapHeader(memoryBytes: number): Header {
  return headerOf({ batch: 1, classes: 1024, spatial: 1, logits: memoryBytes - 8, target_indices: 8, gamma: 2 });
}

/** A hand-assembled module exporting `memory` and focal_abi_version() returning `version`. */
function stubModule(version: number): Uint8Array {
  const name = (s: string) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const exportsBody = [2, ...name('memory'), 0x02, 0, ...name('focal_abi_version'), 0x00, 0];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 0, 1, 0x7f]), // type: () -> i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // memory: min 1 page
    ...section(7, exportsBody),
    ...section(10, [1, 4, 0, 0x41, version, 0x0b]), // i32.const version
  ]);
}

describe('the loader refuses a module of another ABI version', () => {
  test('the stub module is well formed and reports its version', () => {
    const x = new WebAssembly.Instance(
      new WebAssembly.Module(stubModule(ABI_VERSION + 1) as Uint8Array<ArrayBuffer>),
      {},
    ).exports as any;
    expect(x.focal_abi_version()).toBe(ABI_VERSION + 1);
  });

  test('Engine throws naming both versions; a module that is not focal_loss.wasm is a TypeError', () => {
    const wrong = new WebAssembly.Instance(
      new WebAssembly.Module(stubModule(ABI_VERSION + 1) as Uint8Array<ArrayBuffer>),
      {},
    );
    expect(() => new Engine(wrong)).toThrow(
      `focal_loss.wasm has ABI version ${ABI_VERSION + 1} but this JavaScript expects ${ABI_VERSION}`,
    );
    const other = new WebAssembly.Instance(
      new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])),
      {},
    );
    expect(() => new Engine(other)).toThrow(TypeError);
    expect(() => new Engine(other)).toThrow('not focal_loss.wasm');
    // The real module is accepted.
    expect(new Engine(new WebAssembly.Instance(module, {})).memoryBytes).toBeGreaterThan(256 * 1024);
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

describe('the engine keeps its views of wasm memory, and remakes them when the memory grows', () => {
  // The engine makes its views of the whole memory once and checks per call whether the memory grew
  // (which detaches them): growth by anyone between calls, and its own growth for an item wider than
  // the scratch area, must both leave the results exact.
  const check = (grad: Float64Array, sum: number, logits: Float64Array, targets: number[], classes: number) => {
    const ref = refSoftmax(logits, targets, { classes, gamma: 2 });
    const want = refReduce(ref, 'sum');
    expect(Math.abs(sum - (want.loss as number))).toBeLessThanOrEqual(1e-12 * Math.abs(want.loss as number));
    let worst = 0;
    for (let i = 0; i < grad.length; i++)
      worst = Math.max(worst, Math.abs(grad[i] - want.grad[i]) / (want.gradScale[i] + 1e-300));
    expect(worst).toBeLessThanOrEqual(1e-12);
  };

  test('memory grown by someone else between two calls: the next call is the same bits', () => {
    const engine = new Engine(new WebAssembly.Instance(module, {}));
    const logits = Float64Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i * 0.7) * 3);
    const targets = [0, 3, 1, 2, 2, 0];
    const plan = softmaxPlan(logits, targets, { classes: 4, reduction: 'sum' });
    const first = new Float64Array(logits.length);
    const sum1 = engine.run(plan, first, null).sum;
    check(first, sum1, logits, targets, 4);
    const before = engine.memoryBytes;
    engine.exports.memory.grow(1); // detaches every view the engine holds
    expect(engine.memoryBytes).toBe(before + 65536);
    const second = new Float64Array(logits.length);
    expect(engine.run(plan, second, null).sum).toBe(sum1);
    expect(second).toEqual(first);
  });

  test('an item wider than the scratch area grows the memory once; calls before and after it stay exact', () => {
    const engine = new Engine(new WebAssembly.Instance(module, {}));
    const small = Float64Array.from({ length: 3 * 5 }, (_, i) => Math.cos(i) * 2);
    const smallPlan = softmaxPlan(small, [4, 0, 2], { classes: 5, reduction: 'sum' });
    const g0 = new Float64Array(small.length);
    const s0 = engine.run(smallPlan, g0, null).sum;
    const C = 40_000; // 320 KB of float64 logits in one row: more than the 256 KiB scratch area
    const wide = Float64Array.from({ length: C }, (_, i) => Math.sin(i * 0.013) * 4);
    const before = engine.memoryBytes;
    const g1 = new Float64Array(C);
    const s1 = engine.run(softmaxPlan(wide, [12_345], { classes: C, reduction: 'sum' }), g1, null).sum;
    expect(engine.memoryBytes).toBeGreaterThan(before);
    check(g1, s1, wide, [12_345], C);
    const grown = engine.memoryBytes;
    const g2 = new Float64Array(small.length);
    expect(engine.run(smallPlan, g2, null).sum).toBe(s0);
    expect(g2).toEqual(g0);
    check(g2, s0, small, [4, 0, 2], 5);
    expect(engine.memoryBytes).toBe(grown);
  });
});
