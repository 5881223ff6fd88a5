// Inputs backed by a SharedArrayBuffer (CONTRACT.md § Call guarantees, Aliasing): the package copies them
// once, before validation, so
// - an `out` over the same bytes through another SharedArrayBuffer object (a shared WebAssembly.Memory
//   hands out a new one after every grow(); so do structuredClone and postMessage) cannot overwrite an
//   input a later chunk still reads: the result is the one of separate arrays holding the same values;
// - another thread writing into SAB-backed targets during a call cannot slip a value past validation:
//   a call either returns exactly what its validated values give, or throws a package error naming the
//   targets with `out` untouched — never a kernel status, never a partly written `out`.
// And `out` on a SharedArrayBuffer still receives the gradient.
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { sigmoidFocalLossWithGrad, softmaxFocalLossWithGrad, type FloatArray } from 'focal-loss';
import { expectPackageErrorValue, packageErrorProblem, sameBits, SENTINEL, values } from './helpers';

/** Bit-identical { loss, grad }. */
function expectSame(got: { loss: unknown; grad: FloatArray }, want: { loss: unknown; grad: FloatArray }) {
  expect(Object.is(got.loss, want.loss), `loss ${got.loss} vs ${want.loss}`).toBe(true);
  expect(sameBits(got.grad, want.grad), 'grad').toBeNull();
}

describe('out over the same shared bytes through a new SharedArrayBuffer object', () => {
  // The case: softmax 30000 × 10 float32, logits on the memory's buffer before grow(), out on the
  // buffer after it, 16 bytes further on: out's chunk k overlaps logits' chunk k and the start of chunk k+1.
  test('softmax 30000 × 10 Float32Array, out shifted by 16 bytes: the result of separate arrays', () => {
    const M = 30_000;
    const C = 10;
    const n = M * C;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((n * 4 + 64) / 65536), maximum: 100, shared: true });
    const before = memory.buffer;
    const logits = new Float32Array(before, 0, n);
    logits.set(values(n, 17));
    const targets = Int32Array.from({ length: M }, (_, i) => (i * 7) % C);
    const separate = softmaxFocalLossWithGrad(Float32Array.from(logits), targets, { classes: C });
    memory.grow(1);
    const after = memory.buffer;
    expect(after).not.toBe(before);
    expect(after instanceof SharedArrayBuffer).toBe(true);
    const out = new Float32Array(after, 16, n);
    const r = softmaxFocalLossWithGrad(logits, targets, { classes: C, out });
    expect(r.grad).toBe(out);
    expectSame(r, separate);
  });

  test('sigmoid 200000 Float64Array: targets and weights on the old object, out on the new one over them', () => {
    const n = 200_000;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((n * 8 * 3 + 64) / 65536), maximum: 200, shared: true });
    const before = memory.buffer;
    const logits = new Float64Array(before, 0, n);
    const targets = new Float64Array(before, n * 8, n);
    const weights = new Float64Array(before, 2 * n * 8, n);
    logits.set(values(n, 5));
    for (let i = 0; i < n; i++) {
      targets[i] = i % 3 === 0 ? 1 : 0;
      weights[i] = 0.5 + (i % 4) * 0.25;
    }
    const separate = sigmoidFocalLossWithGrad(Float64Array.from(logits), Float64Array.from(targets), {
      weights: Float64Array.from(weights),
      reduction: 'sum',
    });
    memory.grow(1);
    // out over the targets' bytes, shifted by 16 bytes (a later chunk's targets would be gradient values).
    const out = new Float64Array(memory.buffer, n * 8 + 16, n);
    const r = sigmoidFocalLossWithGrad(logits, targets, { weights, reduction: 'sum', out });
    expect(r.grad).toBe(out);
    expectSame(r, separate);
  });

  test('structuredClone of a SharedArrayBuffer: a second object over the same bytes', () => {
    const M = 20_000;
    const C = 5;
    const sab = new SharedArrayBuffer(M * C * 8 + 64);
    const logits = new Float64Array(sab, 0, M * C);
    logits.set(values(M * C, 9));
    const targets = Int32Array.from({ length: M }, (_, i) => i % C);
    const separate = softmaxFocalLossWithGrad(Float64Array.from(logits), targets, { classes: C, gamma: 1 });
    const clone = structuredClone(sab);
    expect(clone).not.toBe(sab);
    const out = new Float64Array(clone, 16, M * C);
    expectSame(softmaxFocalLossWithGrad(logits, targets, { classes: C, gamma: 1, out }), separate);
  });
});

// A worker that, until told to stop, writes an out-of-range index into a few positions of SAB-backed
// Int32 targets and puts the valid index back, as fast as it can.
const FLIPPER = `
const { workerData, parentPort } = require('node:worker_threads');
const t = new Int32Array(workerData.targets);
const control = new Int32Array(workerData.control);
const positions = workerData.positions;
const valid = positions.map((i) => t[i]);
Atomics.store(control, 1, 1);
parentPort.postMessage('started');
while (Atomics.load(control, 0) === 0) {
  for (let k = 0; k < positions.length; k++) Atomics.store(t, positions[k], workerData.bad);
  for (let k = 0; k < positions.length; k++) Atomics.store(t, positions[k], valid[k]);
}
parentPort.postMessage('stopped');
`;

describe('another thread writing into SharedArrayBuffer-backed targets during calls', () => {
  test('softmax 30000 × 10: each call exact or a RangeError naming targets, out untouched on error; never a kernel error', async () => {
    const M = 30_000;
    const C = 10;
    const logits = Float32Array.from(values(M * C, 3));
    const targets = new Int32Array(new SharedArrayBuffer(M * 4));
    for (let i = 0; i < M; i++) targets[i] = (i * 3) % C;
    const plainTargets = Int32Array.from(targets);
    const exact = softmaxFocalLossWithGrad(logits, plainTargets, { classes: C, reduction: 'sum' });
    // Positions spread over every chunk (the scratch area holds ~6500 rows of this call).
    const positions = Array.from({ length: 64 }, (_, k) => Math.floor(((k + 0.5) * M) / 64));
    const control = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(FLIPPER, {
      eval: true,
      workerData: { targets: targets.buffer, control: control.buffer, positions, bad: 99 },
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    let ok = 0;
    let refused = 0;
    const problems: string[] = [];
    try {
      for (let call = 0; call < 240; call++) {
        const out = new Float32Array(M * C).fill(SENTINEL);
        try {
          const r = softmaxFocalLossWithGrad(logits, targets, { classes: C, reduction: 'sum', out });
          if (!Object.is(r.loss, exact.loss) || sameBits(out, exact.grad) !== null)
            problems.push(`call ${call}: result differs from the valid targets' (${r.loss} vs ${exact.loss})`);
          ok++;
        } catch (e) {
          const p = packageErrorProblem(e, [/^focal-loss: targets\[\d+\] = 99 /], RangeError);
          if (p) problems.push(`call ${call}: ${p}`);
          if (out.some((v) => v !== SENTINEL)) problems.push(`call ${call}: out partly written before the throw`);
          refused++;
        }
        if (problems.length > 5) break;
      }
    } finally {
      Atomics.store(control, 0, 1);
      await worker.terminate();
    }
    expect(problems, problems.join('\n')).toEqual([]);
    expect(ok + refused).toBe(240);
    // The race is real: the worker's writes were seen (some calls were refused) — a test that
    // never saw one would prove nothing.
    expect(refused, `ok ${ok}, refused ${refused}`).toBeGreaterThan(0);
  });

  test('sigmoid class indices (classes 4) on a SharedArrayBuffer: exact or a RangeError naming targets', async () => {
    const M = 60_000;
    const C = 4;
    const logits = Float64Array.from(values(M * C, 8));
    const targets = new Int32Array(new SharedArrayBuffer(M * 4));
    for (let i = 0; i < M; i++) targets[i] = i % (C + 1);
    const exact = sigmoidFocalLossWithGrad(logits, Int32Array.from(targets), { classes: C, reduction: 'sum' });
    const positions = Array.from({ length: 64 }, (_, k) => Math.floor(((k + 0.5) * M) / 64));
    const control = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(FLIPPER, {
      eval: true,
      workerData: { targets: targets.buffer, control: control.buffer, positions, bad: 1000 },
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    const problems: string[] = [];
    let refused = 0;
    try {
      for (let call = 0; call < 120 && problems.length < 5; call++) {
        const out = new Float64Array(M * C).fill(SENTINEL);
        try {
          const r = sigmoidFocalLossWithGrad(logits, targets, { classes: C, reduction: 'sum', out });
          if (!Object.is(r.loss, exact.loss) || sameBits(out, exact.grad) !== null)
            problems.push(`call ${call}: result differs`);
        } catch (e) {
          refused++;
          const p = packageErrorProblem(e, [/^focal-loss: targets\[\d+\] = 1000 /], RangeError);
          if (p) problems.push(`call ${call}: ${p}`);
          if (out.some((v) => v !== SENTINEL)) problems.push(`call ${call}: out partly written`);
        }
      }
    } finally {
      Atomics.store(control, 0, 1);
      await worker.terminate();
    }
    expect(problems, problems.join('\n')).toEqual([]);
    expect(refused).toBeGreaterThan(0);
  });
});

describe('shared inputs and outputs still work', () => {
  test('every input on a SharedArrayBuffer, out too: the values of plain arrays; out receives them', () => {
    const M = 7;
    const C = 3;
    const sab = new SharedArrayBuffer(1024);
    const logits = new Float64Array(sab, 0, M * C);
    logits.set(values(M * C, 2));
    const targets = new Int32Array(sab, 256, M);
    targets.set([0, 1, 2, 0, 1, 2, -100]);
    const weights = new Float64Array(sab, 320, M);
    weights.set([1, 2, 0.5, 1, 1, 3, 1]);
    const alpha = new Float64Array(sab, 384, C);
    alpha.set([0.5, 1, 2]);
    const out = new Float64Array(sab, 512, M * C).fill(SENTINEL);
    const plain = softmaxFocalLossWithGrad(Float64Array.from(logits), Int32Array.from(targets), {
      classes: C,
      weights: Float64Array.from(weights),
      alpha: Float64Array.from(alpha),
    });
    const r = softmaxFocalLossWithGrad(logits, targets, { classes: C, weights, alpha, out });
    expect(r.grad).toBe(out);
    expectSame(r, plain);
  });

  test('a SharedArrayBuffer that is not an input: out alone on it', () => {
    const out = new Float32Array(new SharedArrayBuffer(16)).fill(SENTINEL);
    // (Typed as the logits' array type: TypeScript's Float32Array<ArrayBuffer> is not Float32Array<SharedArrayBuffer>.)
    const logits = Float32Array.from([1, -2, 0.5, 3]) as unknown as typeof out;
    const r = sigmoidFocalLossWithGrad(logits, [1, 0, 0, 1], { out });
    expect(r.grad).toBe(out);
    expectSame(r, sigmoidFocalLossWithGrad(logits, [1, 0, 0, 1]));
    expectPackageErrorValue(
      (() => {
        try {
          sigmoidFocalLossWithGrad(logits, [1, 0, 0, 2], { out });
        } catch (e) {
          return e;
        }
      })(),
      ['targets[3]'],
      RangeError,
    );
  });
});
