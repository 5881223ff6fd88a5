// A float32 call and a float64 call whose outputs land on the same element index of wasm memory.
// The engine keeps a view of each output region between calls (so a small call copies out with one
// TypedArray#set); an element index means other bytes in a Float32Array than in a Float64Array, so a
// view kept from a call of the other float type must not be reused. Each call here must return the
// same bits whether the call before it was of its own float type or of the other.
//
// Making the two regions meet: a call whose one item does not fit the 256 KiB scratch area runs in
// memory grown past the module's own (its base: the module's initial size, wasmMemoryBytes() before
// any call). With base8 = (that + the header's bytes) / 8:
// - sigmoid, float32, 1 item of C classes, class-index targets, weights, reduction 'none':
//   regions logits (C), targets (1 index), weights (1), losses (C), gradient (C), each aligned to 8
//   bytes: the gradient at float32 index 2·base8 + 2·⌈C/2⌉·2 + 4;
// - softmax, float64, 1 item of C classes, probability targets, per-class alpha, weights, 'none':
//   alpha (C), logits (C), targets (C), weights (1), losses (1), gradient (C): float64 index
//   base8 + 3C + 2.
// These are equal at C = base8 + 4 (base8 odd) or base8 + 2 (base8 even): the window below holds it.
import { describe, expect, test } from 'vitest';
import * as FL from 'focal-loss';
import { HEADER } from '../../ts/abi.js';

const moduleBytes = FL.wasmMemoryBytes(); // before any call: the base of the grown area
const base8 = (moduleBytes + Math.ceil(HEADER.size / 8) * 8) / 8;
const meet = base8 + (base8 % 2 === 1 ? 4 : 2);
const WINDOW = Array.from({ length: 9 }, (_, k) => meet - 4 + k);

function sigmoidF32(C: number): Float32Array {
  const z = Float32Array.from({ length: C }, (_, i) => Math.cos(i) * 2);
  const out = new Float32Array(C);
  FL.sigmoidFocalLossWithGrad(z, new Int32Array([3]), { classes: C, weights: [0.5], reduction: 'none', out });
  return out;
}

function softmaxF64(C: number): Float64Array {
  const z = Float64Array.from({ length: C }, (_, i) => Math.sin(i) * 3);
  const q = new Float64Array(C);
  q[5] = 1;
  const out = new Float64Array(C);
  FL.softmaxFocalLossWithGrad(z, q, {
    classes: C,
    alpha: new Float64Array(C).fill(0.5),
    weights: [0.75],
    reduction: 'none',
    out,
  });
  return out;
}

function differing(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

describe('float32 and float64 calls whose outputs share an element index', () => {
  test('the window is past the scratch area (the calls run in grown memory)', () => {
    expect(meet * 8 * 3).toBeGreaterThan(256 * 1024);
    expect(WINDOW).toContain(meet);
  });

  test.each(WINDOW)('C = %i: each call gives the same bits whichever call ran before it', (C) => {
    // The references: each call right after a call of its own float type with another size (which
    // makes its region view anew).
    sigmoidF32(C + 1);
    const f32Alone = sigmoidF32(C);
    softmaxF64(C + 1);
    const f64Alone = softmaxF64(C);
    // Real gradients, not zeros: the positive class's entry is negative in both.
    expect(f32Alone[3]).toBeLessThan(0);
    expect(f64Alone[5]).toBeLessThan(0);
    for (let round = 0; round < 2; round++) {
      expect(differing(sigmoidF32(C), f32Alone)).toBe(0);
      expect(differing(softmaxF64(C), f64Alone)).toBe(0);
    }
  });
});
