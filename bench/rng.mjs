// The benchmark's one seeded generator (mulberry32, as examples/train/train.js's `rng`): every
// bench/ script draws its data from it, so a case's inputs are the same in every script and run.

/** A uniform generator on [0, 1) from a 32-bit seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
