// The benchmark's inputs, drawn from bench/rng.mjs: bench/run.mjs and bench/tfjs-variants.mjs take every softmax and
// sigmoid case from here, bench/small.mjs its sigmoid calls and bench/elementwise.mjs the element-wise cases, so a
// case and seed mean the same data in each.
import { rng } from './rng.mjs';

/** Logits ~ N(0, 2²), plus +3 on the target class (a half-trained model); targets uniform. */
export function softmaxData(Ctor, N, C, S, seed) {
  const r = rng(seed);
  const z = new Ctor(N * C * S);
  for (let i = 0; i < z.length; i += 2) {
    const u = Math.max(r(), 1e-12),
      v = r();
    const m = 2 * Math.sqrt(-2 * Math.log(u));
    z[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < z.length) z[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  const t = new Int32Array(N * S);
  for (let n = 0; n < N; n++)
    for (let s = 0; s < S; s++) {
      const c = Math.floor(r() * C);
      t[n * S + s] = c;
      z[n * C * S + c * S + s] += 3;
    }
  return { z, t };
}

/** 10% positives (detection-like imbalance), logits ~ U(−4, 4) shifted by ±1.5 towards their label. */
export function sigmoidData(Ctor, n, seed) {
  const r = rng(seed);
  const x = new Ctor(n);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r() < 0.1 ? 1 : 0;
    x[i] = (r() * 2 - 1) * 4 + (y[i] ? 1.5 : -1.5);
  }
  return { x, y };
}

/** Class-index targets for the element-wise losses: logits ~ U(−5.5, 2.5), +3 on the item's class. */
export function indexData(Ctor, N, C, seed) {
  const r = rng(seed);
  const x = new Ctor(N * C);
  const t = new Int32Array(N);
  for (let i = 0; i < x.length; i++) x[i] = (r() * 2 - 1) * 4 - 1.5;
  for (let i = 0; i < N; i++) {
    t[i] = Math.floor(r() * C);
    x[i * C + t[i]] += 3;
  }
  return { x, t };
}

/** Soft targets (QFL, VFL): 10% positives with a score in [0.2, 1), the rest 0. */
export function softData(Ctor, n, seed) {
  const r = rng(seed);
  const x = new Ctor(n);
  const y = new Ctor(n);
  for (let i = 0; i < n; i++) {
    const pos = r() < 0.1;
    y[i] = pos ? 0.2 + 0.8 * r() : 0;
    x[i] = (r() * 2 - 1) * 4 + (pos ? 1.5 : -1.5);
  }
  return { x, y };
}
