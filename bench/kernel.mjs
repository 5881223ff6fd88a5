// Kernel micro-benchmark: one kernel call in place over a whole batch already in wasm memory (no
// engine, no copies, no JS validation), for one or more builds of the .wasm side by side, timed
// round-robin (one batch of each build in turn) so that background load hits them alike, plus the
// exp floor (bench/floor/floor.wasm) on the same number of elements. Also times the kernel with no
// gradient (the gradient pass and the stash of e^(z − max) are then skipped) to split the time.
//
//   node bench/kernel.mjs [--reps 15] [--cases REGEX] [--wasm a.wasm,b.wasm]
//
// Default build: dist/focal_loss.wasm. Prints ms per call (median, ± half the interquartile range, and the
// minimum — the steadier figure when other jobs share the machine) and ns per element.
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { rng } from './rng.mjs';
import { FIELDS } from './header.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const REPS = Number(opt('reps', 15));
const CASES = new RegExp(opt('cases', '.'));
const files = opt('wasm', new URL('../dist/focal_loss.wasm', import.meta.url).pathname).split(',');

/** One instance of a build with the case's data placed in its (grown) memory. */
function place(file, c) {
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {}).exports;
  const mem = x.memory;
  const lay = new Uint32Array(mem.buffer, x.focal_header_layout(), 28).slice();
  const off = Object.fromEntries(FIELDS.map((f, i) => [f, lay[i + 1]]));
  const T = c.dtype === 'f32' ? 4 : 8;
  const Ctor = T === 4 ? Float32Array : Float64Array;
  const n = c.logits.length;
  const tBytes = c.indices ? c.indices.length * 4 : n * T;
  const base = Math.ceil(mem.buffer.byteLength / 64) * 64;
  const need = base + 256 + 2 * n * T + tBytes + 256;
  if (need > mem.buffer.byteLength) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  const header = base,
    pz = base + 256,
    pg = pz + n * T,
    pt = pg + n * T;
  new Ctor(mem.buffer, pz, n).set(c.logits);
  if (c.indices) new Int32Array(mem.buffer, pt, c.indices.length).set(c.indices);
  else new Ctor(mem.buffer, pt, n).set(c.values);
  const fn = x[`focal_${c.kind}_${c.dtype}`];
  const h = {
    batch: c.batch,
    classes: c.classes,
    spatial: c.spatial ?? 1,
    ignore_index: -100,
    logits: pz,
    target_indices: c.indices ? pt : 0,
    target_values: c.indices ? 0 : pt,
    alpha: 0,
    pos_weight: 0,
    weights: 0,
    loss_out: 0,
    grad_out: pg,
    loss_kind: c.lossKind ?? 0,
    flags: 0,
    error_index: 0,
    reserved: 0,
    alpha_scalar: c.alpha ?? 0.25,
    gamma: c.gamma ?? 2,
    gamma_neg: c.gammaNeg ?? 4,
    beta: c.beta ?? 2,
    clip: c.clip ?? 0,
    pos_weight_scalar: 1,
    poly_epsilon: 0,
    label_smoothing: 0,
    grad_scale: 1 / c.count,
    sum: 0,
    positives: 0,
  };
  const write = (grad) => {
    const dv = new DataView(mem.buffer);
    for (const f of FIELDS) {
      const v = f === 'grad_out' && !grad ? 0 : h[f];
      if (off[f] >= off.alpha_scalar) dv.setFloat64(header + off[f], v, true);
      else dv.setUint32(header + off[f], v >>> 0, true);
    }
  };
  const run = (grad) => {
    write(grad);
    const st = fn(header);
    if (st !== 0) throw new Error(`${file}: ${c.id} status ${st}`);
    return new DataView(mem.buffer).getFloat64(header + off.sum, true);
  };
  const grad = () => new Ctor(mem.buffer, pg, n).slice();
  return { run, grad };
}

function floorRunner(c) {
  const f = new URL('floor/floor.wasm', import.meta.url);
  if (!existsSync(f)) return null;
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), {}).exports;
  const T = c.dtype === 'f32' ? 4 : 8;
  const Ctor = T === 4 ? Float32Array : Float64Array;
  const base = Math.ceil(x.memory.buffer.byteLength / 64) * 64;
  const need = base + c.logits.length * T;
  if (need > x.memory.buffer.byteLength) x.memory.grow(Math.ceil((need - x.memory.buffer.byteLength) / 65536));
  const fn = T === 4 ? x.floor_f32 : x.floor_f64;
  return {
    before: () => new Ctor(x.memory.buffer, base, c.logits.length).set(c.logits),
    run: () => fn(base, c.logits.length),
  };
}

function softmaxCase(dtype, N, C, S = 1) {
  const r = rng(7);
  const Ctor = dtype === 'f32' ? Float32Array : Float64Array;
  const z = new Ctor(N * C * S);
  for (let i = 0; i < z.length; i++) z[i] = (r() + r() + r() - 1.5) * 4;
  const t = new Int32Array(N * S);
  for (let n = 0; n < N; n++)
    for (let s = 0; s < S; s++) {
      t[n * S + s] = Math.floor(r() * C);
      z[n * C * S + t[n * S + s] * S + s] += 3;
    }
  return {
    id: `softmax ${N}×${C}${S > 1 ? `×${S}` : ''} ${dtype}`,
    kind: 'softmax',
    dtype,
    batch: N,
    classes: C,
    spatial: S,
    logits: z,
    indices: t,
    count: N * S,
  };
}

function elementCase(dtype, name, lossKind, n, soft, extra = {}) {
  const r = rng(11);
  const Ctor = dtype === 'f32' ? Float32Array : Float64Array;
  const x = new Ctor(n),
    y = new Ctor(n);
  for (let i = 0; i < n; i++) {
    const pos = r() < 0.1;
    y[i] = pos ? (soft ? 0.2 + 0.8 * r() : 1) : 0;
    x[i] = (r() * 2 - 1) * 4 + (pos ? 1.5 : -1.5);
  }
  return {
    id: `${name} ${dtype}`,
    kind: 'elementwise',
    dtype,
    batch: n,
    classes: 1,
    logits: x,
    values: y,
    lossKind,
    count: n,
    ...extra,
  };
}

function indexCase(dtype, N, C) {
  const r = rng(13);
  const Ctor = dtype === 'f32' ? Float32Array : Float64Array;
  const x = new Ctor(N * C);
  const t = new Int32Array(N);
  for (let i = 0; i < N; i++) t[i] = Math.floor(r() * C);
  for (let i = 0; i < x.length; i++) x[i] = (r() * 2 - 1) * 4 - 1.5;
  for (let i = 0; i < N; i++) x[i * C + t[i]] += 3;
  return {
    id: `sigmoid ${N}×${C} indices ${dtype}`,
    kind: 'elementwise',
    dtype,
    batch: N,
    classes: C,
    logits: x,
    indices: t,
    count: N * C,
  };
}

const M = 1 << 20;
const cases = [
  () => softmaxCase('f32', 65536, 10),
  () => softmaxCase('f64', 65536, 10),
  () => softmaxCase('f32', 16384, 100),
  () => softmaxCase('f32', 2048, 1000),
  () => softmaxCase('f32', 4, 19, 16384),
  () => elementCase('f32', 'sigmoid 1M', 0, M, false),
  () => elementCase('f64', 'sigmoid 1M', 0, M, false),
  () => indexCase('f32', 13107, 80),
  () => elementCase('f32', 'quality 1M', 1, M, true),
  () => elementCase('f32', 'varifocal 1M', 2, M, true, { alpha: 0.75, gamma: 2 }),
  () => elementCase('f32', 'asymmetric 1M', 3, M, false, { gamma: 0, gammaNeg: 4, clip: 0.05 }),
];

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const time = (f) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

const names = files.map((f) => f.split('/').slice(-2).join('/'));
console.log(
  `| case | ${names.map((n) => `${n} (ms)`).join(' | ')} | ${names.map((n) => `${n} no grad (ms)`).join(' | ')} | floor (ms) | ns/elem (${names[0]}) | kernel / floor |`,
);
console.log(`|---|${names.map(() => '---|').join('')}${names.map(() => '---|').join('')}---|---|---|`);
for (const make of cases) {
  const c = make();
  if (!CASES.test(c.id)) continue;
  const builds = files.map((f) => place(f, c));
  // Same results from every build (bit for bit), or say so.
  const sums = builds.map((b) => b.run(true));
  const g0 = builds[0].grad();
  const notes = [];
  builds.forEach((b, i) => {
    if (i === 0) return;
    const g = b.grad();
    let diff = 0;
    for (let j = 0; j < g.length; j++) if (!Object.is(g[j], g0[j])) diff++;
    if (diff || sums[i] !== sums[0])
      notes.push(
        `${names[i]}: loss ${sums[i] === sums[0] ? 'same' : `${((sums[i] - sums[0]) / sums[0]).toExponential(1)} rel`}, ${diff} grad entries differ`,
      );
  });
  const floor = floorRunner(c);
  const t = builds.map(() => []),
    tn = builds.map(() => []),
    tf = [];
  for (let rep = 0; rep < REPS + 2; rep++) {
    builds.forEach((b, i) => {
      const a = time(() => b.run(true));
      const d = time(() => b.run(false));
      if (rep >= 2) t[i].push(a), tn[i].push(d);
    });
    if (floor) {
      floor.before();
      const f = time(floor.run);
      if (rep >= 2) tf.push(f);
    }
  }
  const m = t.map(median),
    mn = tn.map(median),
    mf = floor ? median(tf) : NaN;
  const spread = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return `±${(((s[Math.floor(s.length * 0.75)] - s[Math.floor(s.length * 0.25)]) / 2 / median(xs)) * 100).toFixed(0)}%`;
  };
  console.log(
    `| ${c.id} | ${m.map((v, i) => `${v.toFixed(2)} ${spread(t[i])} (min ${Math.min(...t[i]).toFixed(2)})`).join(' | ')} | ${mn.map((v, i) => `${v.toFixed(2)} (min ${Math.min(...tn[i]).toFixed(2)})`).join(' | ')} | ${mf.toFixed(2)} (min ${Math.min(...tf).toFixed(2)}) | ${((m[0] * 1e6) / c.logits.length).toFixed(2)} | ${(m[0] / mf).toFixed(2)}× (min/min ${(Math.min(...t[0]) / Math.min(...tf)).toFixed(2)}×) |` +
      (notes.length ? ` ${notes.join('; ')}` : ''),
  );
}
