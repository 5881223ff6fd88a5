// The element-wise kernels (sigmoid focal loss, QFL, VFL, ASL), several builds side by side (issue 19).
// Two modes:
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
//
//   Bits across builds: bench/elementwise-check.mjs.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { indexData, sigmoidData, softData } from './data.mjs';
import { rawBuild } from './header.mjs';
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
  const { x, mem, off, reset, alloc, put: putBytes, write: writeHeader } = rawBuild(file);
  return (c) => {
    reset();
    const F = c.dtype === 'f32' ? Float32Array : Float64Array;
    const n = c.logits.length;
    const header = alloc(256);
    const put = (arr, Ctor) => putBytes(arr && (arr instanceof Ctor ? arr : Ctor.from(arr)));
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
    const run = () => {
      writeHeader(header, h);
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

await bench();
