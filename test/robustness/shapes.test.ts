// Shapes and sizes at the edges: huge `classes` / `shape` dimensions with empty or small logits, a
// fractional dimension, and one softmax row wider than the scratch area. Each runs in a child process
// (node importing the package) that the spawn kills after 20 s: a hang guard, not a timing assertion
// (a dimension loop over Number.MAX_SAFE_INTEGER items would otherwise hang the test runner).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { compareResult, packageErrorProblem, refSoftmaxCall } from './helpers';

const root = fileURLToPath(new URL('../..', import.meta.url));
const HANG_GUARD_MS = 20_000;

interface Outcome {
  value?: unknown;
  error?: { name: string; message: string; isPackage: boolean };
  memoryBefore: number;
  memoryAfter: number;
}

/**
 * Runs `body` (an async function body in a child process, with `F` = the package and `run(f)` =
 * { value } or { error }) and returns what it printed as JSON. Fails if the child was killed by the
 * hang guard or exited with an error.
 */
function child<T>(body: string): T {
  const script = `
    import * as F from 'focal-loss';
    const run = (f) => {
      const memoryBefore = F.wasmMemoryBytes();
      try {
        const value = f();
        return { value, memoryBefore, memoryAfter: F.wasmMemoryBytes() };
      } catch (e) {
        return { error: { name: e?.constructor?.name, message: String(e?.message) }, memoryBefore, memoryAfter: F.wasmMemoryBytes() };
      }
    };
    const result = await (async () => { ${body} })();
    process.stdout.write(JSON.stringify(result));
  `;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
    maxBuffer: 256 << 20,
    killSignal: 'SIGKILL',
  });
  const elapsed = Date.now() - started;
  expect(
    r.signal,
    `the child was killed (${r.signal}) after ${elapsed} ms: it did not finish within the ${HANG_GUARD_MS} ms hang guard`,
  ).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** The child's error as an Error of the same class (TypeError, RangeError, else Error with the class name). */
function revive(e: { name: string; message: string }): Error {
  if (e.name === 'TypeError') return new TypeError(e.message);
  if (e.name === 'RangeError') return new RangeError(e.message);
  return new Error(`${e.name}: ${e.message}`);
}

/** A returned 0 with unchanged memory, or a package RangeError; never a raw WebAssembly error. */
function expectZeroOrRangeError(o: Outcome, what: string) {
  if (o.error) {
    const p = packageErrorProblem(revive(o.error), undefined, RangeError);
    expect(p, `${what}: ${p}`).toBeNull();
  } else {
    expect(o.value, what).toBe(0);
  }
  expect(o.memoryAfter, `${what}: wasmMemoryBytes() changed`).toBe(o.memoryBefore);
}

describe('huge classes with empty logits', () => {
  test('classes 1e8, empty Float32Array: 0, and wasm memory does not grow', () => {
    const r = child<Outcome[]>(`
      return [
        run(() => F.softmaxFocalLoss(new Float32Array(0), [], { classes: 1e8 })),
        run(() => { const x = F.softmaxFocalLossWithGrad(new Float32Array(0), new Int32Array(0), { classes: 1e8 }); return [x.loss, x.grad.length]; }),
        run(() => { const x = F.softmaxFocalLoss(new Float64Array(0), [], { classes: 1e8, reduction: 'none' }); return x.length; }),
        run(() => F.softmaxFocalLossPartial(new Float32Array(0), [], { classes: 1e8 })),
      ];
    `);
    for (const o of r) {
      expect(o.error, `threw ${o.error?.name}: ${o.error?.message}`).toBeUndefined();
      expect(o.memoryAfter, 'wasmMemoryBytes() changed').toBe(o.memoryBefore);
    }
    expect(r[0].value).toBe(0);
    expect(r[1].value).toEqual([0, 0]);
    expect(r[2].value).toBe(0);
    expect(r[3].value).toEqual({ sum: 0, residual: 0, count: 0 });
  });

  for (const [label, classes] of [
    ['2**30', 2 ** 30],
    ['2**31', 2 ** 31],
    ['2**32', 2 ** 32],
    ['2**53', 2 ** 53],
    ['1e300', 1e300],
  ] as const) {
    test(`classes ${label}, empty logits: 0 or a package RangeError, never a raw WebAssembly error`, () => {
      const r = child<Outcome[]>(`
        return [
          run(() => F.softmaxFocalLoss(new Float32Array(0), [], { classes: ${classes} })),
          run(() => F.softmaxFocalLossWithGrad(new Float64Array(0), [], { classes: ${classes} }).loss),
          run(() => F.softmaxFocalLossWithGrad(new Float32Array(0), [], { shape: [0, ${classes}] }).loss),
        ];
      `);
      r.forEach((o, i) => expectZeroOrRangeError(o, `call ${i}`));
    });
  }
});

describe('shapes', () => {
  test('shape [Number.MAX_SAFE_INTEGER, 3, 0] with empty logits returns 0 promptly', () => {
    const r = child<Outcome[]>(`
      return [
        run(() => F.softmaxFocalLoss(new Float32Array(0), [], { shape: [Number.MAX_SAFE_INTEGER, 3, 0] })),
        run(() => { const x = F.softmaxFocalLossWithGrad(new Float64Array(0), new Int32Array(0), { shape: [Number.MAX_SAFE_INTEGER, 3, 0], reduction: 'none' }); return [x.loss.length, x.grad.length]; }),
        run(() => F.softmaxFocalLossPartial(new Float32Array(0), [], { shape: [Number.MAX_SAFE_INTEGER, 3, 0] })),
        run(() => F.softmaxFocalLoss(new Float32Array(0), [], { shape: [2 ** 40, 3, 0, 2 ** 40] })),
      ];
    `);
    for (const o of r) expect(o.error, `threw ${o.error?.name}: ${o.error?.message}`).toBeUndefined();
    expect(r[0].value).toBe(0);
    expect(r[1].value).toEqual([0, 0]);
    expect(r[2].value).toEqual({ sum: 0, residual: 0, count: 0 });
    expect(r[3].value).toBe(0);
    for (const o of r) expect(o.memoryAfter).toBe(o.memoryBefore);
  });

  test('shape [4, 1.5]: RangeError naming options.shape[1]', () => {
    const r = child<Outcome[]>(`
      return [
        run(() => F.softmaxFocalLoss(new Float32Array(6), [0, 0, 0, 0], { shape: [4, 1.5] })),
        run(() => F.softmaxFocalLoss(new Float32Array(0), [], { shape: [0, 1.5] })),
        run(() => F.softmaxFocalLoss(new Float32Array(6), [0, 0], { shape: [2, 3, 1.5] })),
      ];
    `);
    expect(r[0].error?.name).toBe('RangeError');
    expect(r[0].error?.message).toMatch(/^focal-loss: .*options\.shape\[1\]/);
    expect(r[1].error?.name).toBe('RangeError');
    expect(r[1].error?.message).toMatch(/^focal-loss: .*options\.shape\[1\]/);
    expect(r[2].error?.name).toBe('RangeError');
    expect(r[2].error?.message).toMatch(/^focal-loss: .*options\.shape\[2\]/);
  });

  test('shape [2**40, 2**40] with small logits: RangeError (element count), promptly', () => {
    const r = child<Outcome[]>(`
      return [
        run(() => F.softmaxFocalLoss(new Float32Array(6), [0, 0], { shape: [2 ** 40, 2 ** 40] })),
        run(() => F.softmaxFocalLossWithGrad(new Float64Array(6), [0, 0], { shape: [2 ** 26, 2 ** 26, 2 ** 26] })),
        run(() => F.softmaxFocalLoss(new Float32Array(6), [0, 0], { shape: [Number.MAX_SAFE_INTEGER, 3] })),
        run(() => F.softmaxFocalLoss(new Float32Array(6), [0, 0], { shape: [2, 3, 2 ** 52, 2 ** 52] })),
      ];
    `);
    r.forEach((o, i) => {
      expect(o.error, `call ${i} returned ${JSON.stringify(o.value)}`).toBeDefined();
      const p = packageErrorProblem(revive(o.error!), ['logits', 'options.shape'], RangeError);
      expect(p, `call ${i}: ${p}`).toBeNull();
      expect(o.memoryAfter).toBe(o.memoryBefore);
    });
  });
});

describe('one softmax row wider than the scratch area', () => {
  const rowOf = (C: number) =>
    `Float64Array.from({ length: ${C} }, (_, i) => Math.sin(i * 0.001) * 3 + Math.cos(i * 0.37))`;
  const ref = (C: number, target: number) => {
    const z = Float64Array.from({ length: C }, (_, i) => Math.sin(i * 0.001) * 3 + Math.cos(i * 0.37));
    return { z, ref: refSoftmaxCall(z, [target], { classes: C, reduction: 'sum' }, false) };
  };
  const b64 = (a: string) => {
    const bytes = Buffer.from(a, 'base64');
    return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  };

  test('1 row × 200,000 Float64Array classes: exact; a second such call does not grow memory again', () => {
    const C = 200_000;
    const r = child<{
      m0: number;
      m1: number;
      m2: number;
      m3: number;
      loss1: number;
      loss2: number;
      grad1: string;
      grad2: string;
    }>(`
      const z = ${rowOf(C)};
      const m0 = F.wasmMemoryBytes();
      const a = F.softmaxFocalLossWithGrad(z, [12345], { classes: ${C}, reduction: 'sum' });
      const m1 = F.wasmMemoryBytes();
      const out = new Float64Array(${C});
      const b = F.softmaxFocalLossWithGrad(z, new Int32Array([199999]), { classes: ${C}, reduction: 'sum', out });
      const m2 = F.wasmMemoryBytes();
      F.softmaxFocalLoss(z, [0], { classes: ${C} });
      const m3 = F.wasmMemoryBytes();
      const enc = (g) => Buffer.from(g.buffer, g.byteOffset, g.byteLength).toString('base64');
      return { m0, m1, m2, m3, loss1: a.loss, loss2: b.loss, grad1: enc(a.grad), grad2: enc(b.grad) };
    `);
    expect(r.m2, 'the second wide call grew memory again').toBe(r.m1);
    expect(r.m3, 'the third wide call grew memory again').toBe(r.m1);
    const first = ref(C, 12345);
    expect(compareResult({ loss: r.loss1, grad: b64(r.grad1) }, first.ref, Float64Array, true)).toEqual([]);
    const second = ref(C, 199_999);
    expect(compareResult({ loss: r.loss2, grad: b64(r.grad2) }, second.ref, Float64Array, true)).toEqual([]);
  });

  test('3 rows × 100,000 Float32Array classes, then narrow calls: memory flat after the first wide call', () => {
    const C = 100_000;
    const r = child<{ m: number[]; losses: number[] }>(`
      const z = Float32Array.from({ length: 3 * ${C} }, (_, i) => Math.sin(i * 0.001) * 3);
      const m = [F.wasmMemoryBytes()];
      const losses = [];
      for (let k = 0; k < 4; k++) {
        losses.push(F.softmaxFocalLossWithGrad(z, [k, 99999, 500], { classes: ${C} }).loss);
        m.push(F.wasmMemoryBytes());
        losses.push(F.softmaxFocalLoss(new Float32Array([1, 2, 3]), [1], { classes: 3 }));
        m.push(F.wasmMemoryBytes());
      }
      return { m, losses };
    `);
    expect(new Set(r.m.slice(1)).size, `memory after the first wide call: ${r.m.join(', ')}`).toBe(1);
    const z = Float32Array.from({ length: 3 * C }, (_, i) => Math.sin(i * 0.001) * 3);
    for (let k = 0; k < 4; k++) {
      const ref = refSoftmaxCall(z, [k, 99999, 500], { classes: C }, false);
      expect(compareResult({ loss: r.losses[2 * k] }, ref, Float32Array, false), `wide call ${k}`).toEqual([]);
      expect(
        Math.abs(r.losses[2 * k + 1] - (refSoftmaxCall([1, 2, 3], [1], { classes: 3 }, false).loss as number)),
      ).toBeLessThan(3e-5);
    }
  });
});
