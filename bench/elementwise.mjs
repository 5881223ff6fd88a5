// The element-wise kernels (sigmoid focal loss, QFL, VFL, ASL), several builds side by side (issue 19).
// Three modes:
//
//   node bench/elementwise.mjs --wasm old.wasm,new.wasm [--reps 31] [--cases REGEX]
//     one kernel call in place over a batch already in wasm memory (no engine, no copies, no JS
//     validation), the builds round-robin (one call of each in turn, then the exp floor of
//     bench/floor/floor.wasm on the same elements).
//
//   node bench/elementwise.mjs --call old-dist,new-dist [--reps 31] [--cases REGEX]
//     the same through the public call (`…WithGrad` with a reused `out`, bench/run.mjs's options
//     and data) of each dist/ folder's node.js, one module instance each.
//
//   Both print, per build, the median and minimum of the process's CPU time per call
//   (process.cpuUsage: on a shared machine the wall time also counts the waits for a core), and
//   for every build after the first the median over rounds of its time / the first build's time
//   in the same round (a paired ratio: steadier than a ratio of medians when the load changes).
//
//   node bench/elementwise.mjs --check --wasm a.wasm,b.wasm,… [--rounds 60]
//     the same random inputs through every build, over the options the element-wise kernel
//     takes (the four losses; dense hard, soft and class-index targets with the ignore index;
//     weights; positive weights scalar or per class; α none or scalar; γ, β, γ₋ integer,
//     fractional or 0; clip; label smoothing; Poly-1; iou_weighted, detach; logits up to ±1e4,
//     ±∞ and NaN; with and without loss and gradient outputs; f32 and f64; sizes that are not a
//     multiple of any block): every loss, gradient entry and sum must have the same bits in every
//     build (NaN payloads aside). Exits 1 on the first difference.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { indexData, sigmoidData, softData } from './data.mjs';
import { FIELDS } from './header.mjs';
import { rng } from './rng.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const CALL = argv.includes('--call');
const files = CALL
  ? opt('call', '').split(',')
  : opt('wasm', new URL('../dist/focal_loss.wasm', import.meta.url).pathname).split(',');
const names = files.map((f) => f.replace(/\/$/, '').split('/').slice(-2).join('/'));

const KIND = { sigmoid: 0, quality: 1, varifocal: 2, asymmetric: 3 };

/** One instance of a build; `call(c)` places case c in its memory and returns { run, read }. */
function instance(file) {
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {}).exports;
  const mem = x.memory;
  const lay = new Uint32Array(mem.buffer, x.focal_header_layout(), 28).slice();
  const off = Object.fromEntries(FIELDS.map((f, i) => [f, lay[i + 1]]));
  const base = Math.ceil(mem.buffer.byteLength / 64) * 64;
  let top = base;
  const alloc = (bytes) => {
    const at = top;
    top += Math.ceil(bytes / 64) * 64 + 64;
    if (top > mem.buffer.byteLength) mem.grow(Math.ceil((top - mem.buffer.byteLength) / 65536));
    return at;
  };
  return (c) => {
    top = base;
    const F = c.dtype === 'f32' ? Float32Array : Float64Array;
    const n = c.logits.length;
    const header = alloc(256);
    const put = (arr, Ctor) => {
      if (!arr) return 0;
      const p = alloc(arr.length * Ctor.BYTES_PER_ELEMENT);
      new Ctor(mem.buffer, p, arr.length).set(arr);
      return p;
    };
    const h = {
      batch: c.batch,
      classes: c.classes,
      spatial: c.spatial ?? 1,
      ignore_index: -100,
      logits: put(c.logits, F),
      target_indices: put(c.indices, Int32Array),
      target_values: put(c.values, F),
      alpha: 0,
      pos_weight: put(c.posWeight, F),
      weights: put(c.weights, F),
      loss_out: c.lossOut ? alloc(n * F.BYTES_PER_ELEMENT) : 0,
      grad_out: c.gradOut === false ? 0 : alloc(n * F.BYTES_PER_ELEMENT),
      loss_kind: KIND[c.kind],
      flags: (c.iouWeighted ? 1 : 0) | (c.detach ? 2 : 0),
      error_index: 0,
      reserved: 0,
      alpha_scalar: c.alpha ?? -1,
      gamma: c.gamma ?? 2,
      gamma_neg: c.gammaNeg ?? 0,
      beta: c.beta ?? 2,
      clip: c.clip ?? 0,
      pos_weight_scalar: c.posWeightScalar ?? 1,
      poly_epsilon: c.poly ?? 0,
      label_smoothing: c.smoothing ?? 0,
      grad_scale: 1 / n,
      sum: 0,
      positives: 0,
    };
    const fn = x[`focal_elementwise_${c.dtype}`];
    const write = () => {
      const dv = new DataView(mem.buffer);
      for (const f of FIELDS) {
        if (off[f] >= off.alpha_scalar) dv.setFloat64(header + off[f], h[f], true);
        else dv.setUint32(header + off[f], h[f] >>> 0, true);
      }
    };
    const run = () => {
      write();
      const st = fn(header);
      if (st !== 0) throw new Error(`${file}: ${c.id} status ${st}`);
    };
    const read = () => ({
      sum: new DataView(mem.buffer).getFloat64(header + off.sum, true),
      positives: new DataView(mem.buffer).getFloat64(header + off.positives, true),
      grad: h.grad_out ? new F(mem.buffer, h.grad_out, n).slice() : new F(0),
      loss: h.loss_out ? new F(mem.buffer, h.loss_out, n).slice() : new F(0),
    });
    return { run, read };
  };
}

/** bench/run.mjs's element-wise cases: its data, options and calls. */
const FAMILY = {
  sigmoid: { opts: { gamma: 2, alpha: 0.25 }, grad: 'sigmoidFocalLossWithGrad' },
  quality: { opts: { beta: 2 }, grad: 'qualityFocalLossWithGrad' },
  varifocal: { opts: { alpha: 0.75, gamma: 2 }, grad: 'varifocalLossWithGrad' },
  asymmetric: { opts: { gammaPos: 1, gammaNeg: 4, clip: 0.05 }, grad: 'asymmetricLossWithGrad' },
};
const M = 1 << 20;
const BENCH = [
  { id: 'sigmoid 1M f32', kind: 'sigmoid', dtype: 'f32', n: M },
  { id: 'sigmoid 13107×80 (class indices) f32', kind: 'sigmoid', dtype: 'f32', N: 13107, C: 80 },
  { id: 'quality 1M f32', kind: 'quality', dtype: 'f32', n: M },
  { id: 'varifocal 1M f32', kind: 'varifocal', dtype: 'f32', n: M },
  { id: 'asymmetric 1M f32', kind: 'asymmetric', dtype: 'f32', n: M },
  { id: 'sigmoid 1M f64', kind: 'sigmoid', dtype: 'f64', n: M },
];

/** The inputs of a bench case, as bench/run.mjs draws them (same seeds). */
function benchData(cs) {
  const F = cs.dtype === 'f32' ? Float32Array : Float64Array;
  if (cs.C) {
    const { x, t } = indexData(F, cs.N, cs.C, 4242);
    return { x, y: t };
  }
  return cs.kind === 'quality' || cs.kind === 'varifocal' ? softData(F, cs.n, 999) : sigmoidData(F, cs.n, 777);
}

/** The kernel-mode case (header parameters as the public call sets them). */
function kernelCase(cs) {
  const F = cs.dtype === 'f32' ? Float32Array : Float64Array;
  const { x, y } = benchData(cs);
  const o = FAMILY[cs.kind].opts;
  const c = { ...cs, logits: x, batch: cs.C ? cs.N : x.length, classes: cs.C ?? 1 };
  if (cs.C) c.indices = y;
  else c.values = F.from(y);
  if (cs.kind === 'sigmoid') Object.assign(c, { gamma: o.gamma, alpha: o.alpha });
  if (cs.kind === 'quality') c.beta = o.beta;
  if (cs.kind === 'varifocal') Object.assign(c, { alpha: o.alpha, gamma: o.gamma });
  if (cs.kind === 'asymmetric') Object.assign(c, { gamma: o.gammaPos, gammaNeg: o.gammaNeg, clip: o.clip });
  return c;
}

/** `instance` for the public call of a dist/ folder's node.js. */
async function callInstance(dir) {
  const api = await import(pathToFileURL(resolve(dir, 'node.js')).href);
  return (cs) => {
    const F = cs.dtype === 'f32' ? Float32Array : Float64Array;
    const { x, y } = benchData(cs);
    const out = new F(x.length);
    const fam = FAMILY[cs.kind];
    const opts = { ...fam.opts, ...(cs.C ? { classes: cs.C } : {}), out };
    return { run: () => api[fam.grad](x, y, opts), logits: x };
  };
}

function floorRunner(dtype, n) {
  const f = new URL('floor/floor.wasm', import.meta.url);
  if (!existsSync(f)) return null;
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), {}).exports;
  const T = dtype === 'f32' ? 4 : 8;
  const F = T === 4 ? Float32Array : Float64Array;
  const base = Math.ceil(x.memory.buffer.byteLength / 64) * 64;
  const need = base + n * T;
  if (need > x.memory.buffer.byteLength) x.memory.grow(Math.ceil((need - x.memory.buffer.byteLength) / 65536));
  const fn = T === 4 ? x.floor_f32 : x.floor_f64;
  const r = rng(5);
  const data = F.from({ length: n }, () => (r() - 0.5) * 8);
  return {
    before: () => new F(x.memory.buffer, base, n).set(data),
    run: () => fn(base, n),
  };
}

/** CPU ms of f(). */
function cpuTime(f) {
  const c0 = process.cpuUsage();
  f();
  const c1 = process.cpuUsage(c0);
  return (c1.user + c1.system) / 1000;
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[xs.length >> 1];

async function bench() {
  const REPS = Number(opt('reps', 31));
  const CASES = new RegExp(opt('cases', '.'));
  const makers = CALL ? await Promise.all(files.map(callInstance)) : files.map(instance);
  const ratios = names.slice(1).map((n) => `${n} / ${names[0]} (paired, median [quartiles])`);
  console.log(
    `| case | ${names.map((n) => `${n} cpu ms (min)`).join(' | ')} | floor cpu ms | ${ratios.join(' | ')} | ${names.map((n) => `${n} / floor`).join(' | ')} |`,
  );
  console.log(
    `|---|${names.map(() => '---|').join('')}---|${ratios.map(() => '---|').join('')}${names.map(() => '---|').join('')}`,
  );
  for (const cs of BENCH) {
    if (!CASES.test(cs.id)) continue;
    const runs = makers.map((m) => m(CALL ? cs : kernelCase(cs)));
    const n = cs.C ? cs.N * cs.C : cs.n;
    const floor = floorRunner(cs.dtype, n);
    const cpu = runs.map(() => []),
      fu = [];
    for (let rep = 0; rep < REPS + 3; rep++) {
      runs.forEach((r, i) => {
        const u = cpuTime(() => r.run());
        if (rep >= 3) cpu[i].push(u);
      });
      if (floor) {
        floor.before();
        const u = cpuTime(floor.run);
        if (rep >= 3) fu.push(u);
      }
    }
    const cells = cpu.map((u) => `${median(u).toFixed(2)} (${Math.min(...u).toFixed(2)})`);
    const paired = cpu.slice(1).map((u) => {
      const q = sorted(u.map((v, k) => v / cpu[0][k]));
      return `${q[q.length >> 1].toFixed(3)} [${q[Math.floor(q.length / 4)].toFixed(3)}, ${q[Math.floor((3 * q.length) / 4)].toFixed(3)}]`;
    });
    const mf = floor ? median(fu) : NaN;
    console.log(
      `| ${cs.id} | ${cells.join(' | ')} | ${floor ? mf.toFixed(2) : 'n/a'} | ${paired.join(' | ')} | ${cpu.map((u) => `${(median(u) / mf).toFixed(2)}×`).join(' | ')} |`,
    );
  }
}

/** A random element-wise case exercising the options (see the header comment). */
function checkCase(r, dtype) {
  const F = dtype === 'f32' ? Float32Array : Float64Array;
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const kind = pick(['sigmoid', 'sigmoid', 'quality', 'varifocal', 'asymmetric']);
  const classes = pick([1, 1, 3, 7, 80]);
  const spatial = pick([1, 1, 1, 5]);
  const batch = Math.floor(r() * 40) + 1;
  const n = batch * classes * spatial;
  const x = new F(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 40);
    x[i] =
      k === 0
        ? (r() - 0.5) * 2e4
        : k === 1
          ? (r() - 0.5) * 250
          : k === 2
            ? pick([Infinity, -Infinity, NaN, 0, -0, 88.5, -88.5, 103.5, -103.5, 745, -745])
            : k === 3
              ? (r() - 0.5) * 1e-6
              : k < 8
                ? 15 + r() * 60
                : (r() - 0.5) * 12;
  }
  const c = { id: '', kind, dtype, batch, classes, spatial, logits: x };
  const targets =
    kind === 'sigmoid'
      ? pick(['hard', 'soft', 'indices'])
      : kind === 'asymmetric'
        ? pick(['hard', 'soft', 'indices'])
        : pick(['soft', 'hard', 'indices']);
  if (targets === 'indices') {
    const items = batch * spatial;
    c.indices = Int32Array.from({ length: items }, () => (r() < 0.1 ? -100 : Math.floor(r() * classes)));
    if (r() < 0.5) c.weights = F.from({ length: items }, () => r() * 3);
  } else {
    c.values = F.from({ length: n }, () => {
      const h = r() < 0.2 ? 1 : 0;
      return targets === 'hard' ? h : h ? pick([1, 0.2 + 0.8 * r(), 1e-7, 1 - 1e-7]) : pick([0, 0, r() * 0.3]);
    });
    if (r() < 0.4) c.weights = F.from({ length: n }, () => r() * 3);
  }
  if (kind === 'sigmoid') {
    c.gamma = pick([0, 0.5, 1, 2, 2, 3, 3.7, 5]);
    c.alpha = pick([-1, 0.25, 0.9]);
    const pw = pick(['none', 'none', 'scalar', 'per-class']);
    if (pw === 'scalar') c.posWeightScalar = pick([2, 0.5]);
    if (pw === 'per-class') c.posWeight = F.from({ length: classes }, () => r() * 4);
    c.smoothing = pick([0, 0, 0.1]);
    c.poly = pick([0, 0, 1, -0.5, -1, 2]);
  } else if (kind === 'quality') {
    c.beta = pick([0, 1, 1.5, 2, 3]);
  } else if (kind === 'varifocal') {
    c.alpha = pick([0.75, 0.25]);
    c.gamma = pick([0, 1, 1.5, 2, 4]);
    c.iouWeighted = r() < 0.5;
  } else {
    c.gamma = pick([0, 1, 2, 0.5]);
    c.gammaNeg = pick([0, 1, 4, 2.5]);
    c.clip = pick([0, 0.05, 0.3]);
    c.detach = r() < 0.3;
  }
  c.lossOut = r() < 0.6;
  c.gradOut = r() < 0.85;
  c.id = `${dtype} ${kind} ${batch}×${classes}×${spatial} ${targets} ${JSON.stringify({ g: c.gamma, a: c.alpha, b: c.beta, gn: c.gammaNeg, clip: c.clip, ls: c.smoothing, eps: c.poly, pw: c.posWeightScalar ?? (c.posWeight ? 'per-class' : undefined), w: !!c.weights, iou: c.iouWeighted, det: c.detach })}`;
  return c;
}

function check() {
  const rounds = Number(opt('rounds', 60));
  const r = rng(Number(opt('seed', 19)));
  const makers = files.map(instance);
  const same = (a, b) =>
    a.length === b.length && a.every((v, i) => Object.is(v, b[i]) || (Number.isNaN(v) && Number.isNaN(b[i])));
  let count = 0;
  for (let round = 0; round < rounds; round++) {
    for (const dtype of ['f32', 'f64']) {
      for (let k = 0; k < 10; k++) {
        const c = checkCase(r, dtype);
        const results = makers.map((m) => {
          const run = m(c);
          run.run();
          return run.read();
        });
        results.forEach((res, i) => {
          if (i === 0) return;
          const a = results[0];
          const bad = ['loss', 'grad'].filter((f) => !same(a[f], res[f]));
          if (!Object.is(a.sum, res.sum) && !(Number.isNaN(a.sum) && Number.isNaN(res.sum))) bad.push('sum');
          if (!Object.is(a.positives, res.positives)) bad.push('positives');
          if (bad.length) {
            console.error(`DIFFERENT (${bad.join(', ')}): ${names[0]} vs ${names[i]}: ${c.id}`);
            process.exit(1);
          }
        });
        count++;
      }
    }
  }
  if (count === 0) throw new Error('no cases');
  console.log(
    `${count} cases, ${files.length} builds: every loss, gradient entry, sum and positives count the same bits`,
  );
}

if (argv.includes('--check')) check();
else await bench();
