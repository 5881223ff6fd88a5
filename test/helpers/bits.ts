// Bit-identity for result arrays: the tests that compare one path against another (chunking, the
// two builds, wasm arrays vs ordinary arrays) need the same bits, not closeness.
import { expect } from 'vitest';

/** Same bits (NaN equals NaN, -0 differs from 0); the first difference is reported with its index. */
export function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what = 'value') {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}[${i}]: ${got[i]} !== ${want[i]}`);
  }
}
