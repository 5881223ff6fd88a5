// `npm run bench`: loss + gradient throughput (million logits per second) of this package against
// a plain hand-written loop, TensorFlow.js (WASM and CPU backends) and the floor (one SIMD exp and
// one store per logit), interleaved round-robin in one process; medians of the timed batches.
// Prints the table and writes it, with the machine and the copy-cost breakdown, to BENCHMARKS.md.
//
//   node bench/run.mjs [--reps 9] [--warmup 2] [--quick] [--no-write] [--cpu-limit 1500] [--cases REGEX]
//                      [--baseline DIR] [--no-small] [--contenders REGEX]
//
// After the large batches, the small calls (bench/small.mjs: softmax 1–1024 rows × 10 classes and
// sigmoid 1–1000 elements against the plain loop, the fixed cost of a call against the floor call,
// young-generation collections per 100,000 calls); --no-small skips them.
//
// --baseline DIR: DIR is another build's dist/ folder (a copy of a whole dist/, e.g. made before a
// rewrite): its node.js is loaded as a second, separate module instance and timed as the contender
// "package (baseline)" with the same call as "package", in the same round-robin; the ratio
// package / baseline (baseline time ÷ package time: > 1 means this build is faster) is printed per case.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import * as pkg from '../dist/node.js';
import {
  plainAsymmetric,
  plainQualityFocal,
  plainSigmoidFocal,
  plainSigmoidFocalIndices,
  plainSoftmaxFocal,
  plainVarifocal,
} from './plain.mjs';
import { expectNoTensorLeak, initTfjs, tfjsInfo, tfjsSigmoid, tfjsSoftmax, useBackend } from './tfjs.mjs';
import { loadFloor } from './floor.mjs';
import { instrumentedEngines } from './instrument.mjs';
import { GC_CALLS, smallCalls, smallReport } from './small.mjs';
import { indexData, sigmoidData, softData, softmaxData } from './data.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const QUICK = argv.includes('--quick');
const REPS = arg('reps', QUICK ? 3 : 9);
const WARMUP = arg('warmup', QUICK ? 1 : 2);
/** A tfjs-cpu call slower than this (ms) in warm-up is timed on a slice of the batch instead (~1 s per call). */
const CPU_LIMIT = arg('cpu-limit', 1500);
const WRITE = !argv.includes('--no-write') && !argv.includes('--contenders');
const GAMMA = 2;
const ALPHA = 0.25;
/**
 * Agreement with the package (first warm-up call), enforced: loss relative difference and
 * max |grad difference| / max |grad|. float32: tfjs-wasm's mean accumulates in float32 (7.1e-4 on the
 * 1M-element sigmoid, the largest seen), every gradient agrees to < 1e-6; float64: rounding only.
 */
const AGREE = { f32: { loss: 1e-3, grad: 1e-5 }, f64: { loss: 1e-12, grad: 1e-12 } };

/** --contenders REGEX: time only "package" and the contenders whose name matches (e.g. "baseline"); never writes BENCHMARKS.md. */
const CONTENDERS = argv.includes('--contenders') ? new RegExp(argv[argv.indexOf('--contenders') + 1]) : null;
const BASELINE_DIR = argv.includes('--baseline') ? resolve(argv[argv.indexOf('--baseline') + 1] ?? '') : null;
/** The baseline build (a separate module instance, with its own .wasm), or null. */
const base = await (async () => {
  if (!BASELINE_DIR) return null;
  const entry = resolve(BASELINE_DIR, 'node.js');
  if (!existsSync(entry)) throw new Error(`--baseline ${BASELINE_DIR}: no node.js there (give a dist/ folder)`);
  return import(pathToFileURL(entry).href);
})();

// ---------------------------------------------------------------- data

/** The element-wise losses' parameters (the packages' defaults) and their calls. */
const FAMILY = {
  sigmoid: { opts: { gamma: GAMMA, alpha: ALPHA }, grad: 'sigmoidFocalLossWithGrad', value: 'sigmoidFocalLoss' },
  quality: { opts: { beta: 2 }, grad: 'qualityFocalLossWithGrad', value: 'qualityFocalLoss' },
  varifocal: { opts: { alpha: 0.75, gamma: 2 }, grad: 'varifocalLossWithGrad', value: 'varifocalLoss' },
  asymmetric: {
    opts: { gammaPos: 1, gammaNeg: 4, clip: 0.05 },
    grad: 'asymmetricLossWithGrad',
    value: 'asymmetricLoss',
  },
};

// ---------------------------------------------------------------- cases

const CASES = [
  { id: 'softmax 65536×10', kind: 'softmax', dtype: 'f32', N: 65536, C: 10 },
  { id: 'softmax 16384×100', kind: 'softmax', dtype: 'f32', N: 16384, C: 100 },
  { id: 'softmax 2048×1000', kind: 'softmax', dtype: 'f32', N: 2048, C: 1000 },
  { id: 'softmax 4×19×128×128 (shape)', kind: 'softmax', dtype: 'f32', N: 4, C: 19, spatial: [128, 128] },
  { id: 'sigmoid 1M', kind: 'sigmoid', dtype: 'f32', n: 1 << 20 },
  // The focal family (element-wise, float32): time per element against the sigmoid focal loss's.
  { id: 'sigmoid 13107×80 (class indices)', kind: 'sigmoid', dtype: 'f32', N: 13107, C: 80 },
  { id: 'quality 1M', kind: 'quality', dtype: 'f32', n: 1 << 20 },
  { id: 'varifocal 1M', kind: 'varifocal', dtype: 'f32', n: 1 << 20 },
  { id: 'asymmetric 1M', kind: 'asymmetric', dtype: 'f32', n: 1 << 20 },
  { id: 'softmax 16384×100', kind: 'softmax', dtype: 'f64', N: 16384, C: 100 },
  { id: 'sigmoid 1M', kind: 'sigmoid', dtype: 'f64', n: 1 << 20 },
];

const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? a / b : NaN);
const fr = (x) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×` : '—');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const relDiff = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

function maxRelGrad(g, ref) {
  let num = 0,
    den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(g[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / den;
}

const floorLoad = loadFloor();
// The copy/validation breakdown drives the package's own ts/ sources over dist/focal_loss.wasm; when
// those do not fit together (e.g. mid-rewrite), the bench runs without it and says why.
let eng = null,
  engError = null;
try {
  eng = await instrumentedEngines();
} catch (e) {
  engError = `instrumentation unavailable: ${e.message}`;
}

/**
 * The breakdown's hidden contenders for one case (validation, engine with kernels, engine with no-op
 * kernels, one kernel call in place), each run once here; none, with the reason, if that fails.
 */
function breakdownContenders(kind, logits, targets, opts, out, refLoss) {
  if (!eng) return { list: [], reason: engError };
  try {
    const planOf = kind === 'softmax' ? eng.softmaxPlan : eng.elementPlans[kind];
    const plan = planOf(logits, targets, { ...opts, out });
    const eo = new logits.constructor(logits.length);
    const resident = eng.resident(kind, plan);
    const list = [
      { name: '~plan', hidden: true, run: () => planOf(logits, targets, { ...opts, out }) },
      { name: '~engine', hidden: true, run: () => eng.real.run(plan, eo, null) },
      { name: '~copies', hidden: true, run: () => eng.copies.run(plan, eo, null) },
      { name: '~resident', hidden: true, run: resident },
    ];
    for (const c of list) c.run();
    const d = resident() - refLoss;
    if (!(Math.abs(d) <= 1e-9))
      throw new Error(`the resident (zero-copy) kernel call disagrees with the package by ${d}`);
    return { list };
  } catch (e) {
    return { list: [], reason: `breakdown unavailable: ${e.message}` };
  }
}
await initTfjs();

const memStart = pkg.wasmMemoryBytes();

/** Builds the contenders for one case; each `run()` is one full batch (loss + gradient). */
function contenders(cs) {
  const Ctor = cs.dtype === 'f32' ? Float32Array : Float64Array;
  const list = [];
  let logits, bd;
  if (cs.kind === 'softmax') {
    const S = (cs.spatial ?? []).reduce((a, b) => a * b, 1);
    const { z, t } = softmaxData(Ctor, cs.N, cs.C, S, 12345 + cs.C);
    logits = z;
    const opts = cs.spatial ? { shape: [cs.N, cs.C, ...cs.spatial], gamma: GAMMA } : { classes: cs.C, gamma: GAMMA };
    const out = new Ctor(z.length);
    list.push({ name: 'package', run: () => pkg.softmaxFocalLossWithGrad(z, t, { ...opts, out }) });
    list.push({ name: 'package (no out)', run: () => pkg.softmaxFocalLossWithGrad(z, t, opts) });
    if (base) {
      const bout = new Ctor(z.length);
      list.push({ name: 'package (baseline)', run: () => base.softmaxFocalLossWithGrad(z, t, { ...opts, out: bout }) });
    }
    const pg = new Ctor(z.length);
    list.push({ name: 'plain JS', run: () => ({ loss: plainSoftmaxFocal(z, t, cs.N, cs.C, S, GAMMA, pg), grad: pg }) });
    if (cs.dtype === 'f32') {
      list.push({
        name: 'tfjs-wasm',
        backend: 'wasm',
        run: () => tfjsSoftmax(z, t, cs.N, cs.C, S, cs.spatial ?? [], GAMMA),
      });
      list.push({
        name: 'tfjs-cpu',
        backend: 'cpu',
        run: () => tfjsSoftmax(z, t, cs.N, cs.C, S, cs.spatial ?? [], GAMMA),
        // Too slow for the full batch: the first N/k rows (images), the same computation per logit.
        shrink: (k) => {
          const n = Math.max(1, Math.floor(cs.N / k));
          const zs = z.subarray(0, n * cs.C * S),
            ts = t.subarray(0, n * S);
          return {
            n: zs.length,
            what: `${n} of ${cs.N} ${S === 1 ? 'rows' : 'images'}`,
            run: () => tfjsSoftmax(zs, ts, n, cs.C, S, cs.spatial ?? [], GAMMA),
          };
        },
      });
    }
    // Breakdown (same round-robin): validation, engine with kernels, engine with no-op kernels.
    bd = breakdownContenders('softmax', z, t, opts, out, pkg.softmaxFocalLoss(z, t, opts));
  } else {
    const fam = FAMILY[cs.kind];
    const { x, y } = cs.C
      ? (({ x, t }) => ({ x, y: t }))(indexData(Ctor, cs.N, cs.C, 4242))
      : cs.kind === 'quality' || cs.kind === 'varifocal'
        ? softData(Ctor, cs.n, 999)
        : sigmoidData(Ctor, cs.n, 777);
    logits = x;
    const out = new Ctor(x.length);
    const opts = cs.C ? { ...fam.opts, classes: cs.C } : fam.opts;
    list.push({ name: 'package', run: () => pkg[fam.grad](x, y, { ...opts, out }) });
    list.push({ name: 'package (no out)', run: () => pkg[fam.grad](x, y, opts) });
    if (base && typeof base[fam.grad] === 'function') {
      const bout = new Ctor(x.length);
      list.push({ name: 'package (baseline)', run: () => base[fam.grad](x, y, { ...opts, out: bout }) });
    }
    const pg = new Ctor(x.length);
    const plain = {
      sigmoid: () =>
        cs.C ? plainSigmoidFocalIndices(x, y, cs.C, GAMMA, ALPHA, pg) : plainSigmoidFocal(x, y, GAMMA, ALPHA, pg),
      quality: () => plainQualityFocal(x, y, fam.opts.beta, pg),
      varifocal: () => plainVarifocal(x, y, fam.opts.alpha, fam.opts.gamma, pg),
      asymmetric: () => plainAsymmetric(x, y, fam.opts.gammaPos, fam.opts.gammaNeg, fam.opts.clip, pg),
    }[cs.kind];
    list.push({ name: 'plain JS', run: () => ({ loss: plain(), grad: pg }) });
    if (cs.dtype === 'f32' && cs.kind === 'sigmoid' && !cs.C) {
      list.push({ name: 'tfjs-wasm', backend: 'wasm', run: () => tfjsSigmoid(x, y, GAMMA, ALPHA) });
      list.push({
        name: 'tfjs-cpu',
        backend: 'cpu',
        run: () => tfjsSigmoid(x, y, GAMMA, ALPHA),
        shrink: (k) => {
          const n = Math.floor(x.length / k);
          const xs = x.subarray(0, n),
            ys = y.subarray(0, n);
          return { n, what: `${n} of ${x.length} elements`, run: () => tfjsSigmoid(xs, ys, GAMMA, ALPHA) };
        },
      });
    }
    bd = breakdownContenders(cs.kind, x, y, opts, out, pkg[fam.value](x, y, opts));
  }
  if (floorLoad.floor) {
    const f = floorLoad.floor.prepare(logits);
    list.push({ name: 'floor', before: f.before, run: () => (f.run(), null) });
  }
  list.push(...bd.list);
  if (CONTENDERS) {
    // "package" is every comparison's reference; the other contenders only if they match.
    const kept = list.filter((c) => c.name === 'package' || CONTENDERS.test(c.name));
    return {
      list: kept,
      logits,
      breakdownMissing: kept.some((c) => c.hidden) ? bd.reason : 'breakdown not timed (--contenders)',
    };
  }
  return { list, logits, breakdownMissing: bd.reason };
}

// ---------------------------------------------------------------- run

const loadBefore = loadavg();
const started = new Date();
const results = [];
let memory = null;
console.log(
  `focal-loss bench: ${REPS} timed batches per contender (median), ${WARMUP} warm-up, round-robin; γ = ${GAMMA}, reduction 'mean', loss + gradient`,
);
console.log(`load average before: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
if (!floorLoad.floor) console.log(`floor: ${floorLoad.reason}`);
if (base) console.log(`baseline: ${baselineInfo()}`);
let disagreements = 0;

const only = argv.includes('--cases') ? new RegExp(argv[argv.indexOf('--cases') + 1]) : null;
for (const cs of CASES.filter((c) => !only || only.test(`${c.dtype} ${c.id}`))) {
  const { list, logits, breakdownMissing } = contenders(cs);
  const n = logits.length;
  const memBefore = pkg.wasmMemoryBytes();
  // Warm-up, and the agreement check against the package's loss and gradient.
  const ref = list[0].run();
  const refGrad = Float64Array.from(ref.grad);
  const _notes = [];
  for (const c of list) {
    c.times = [];
    for (let w = 0; w < WARMUP; w++) {
      if (c.backend) await useBackend(c.backend);
      if (c.before) c.before();
      let r;
      const t0 = performance.now();
      if (c.backend && w === 0 && !c.tensors) {
        // Once per case and backend: the call must dispose every tensor it creates.
        const { result, before, after } = expectNoTensorLeak(c.run, `${c.name} (${cs.dtype} ${cs.id})`);
        r = result;
        c.tensors = `${before} → ${after}`;
      } else r = c.run();
      const dt = performance.now() - t0;
      if (c.lossRel === undefined && r && typeof r.loss === 'number' && !c.hidden && c.name !== 'package') {
        c.lossRel = relDiff(r.loss, ref.loss);
        c.gradRel = maxRelGrad(r.grad, refGrad);
        const tol = AGREE[cs.dtype];
        c.agrees = c.lossRel <= tol.loss && c.gradRel <= tol.grad;
        if (!c.agrees) disagreements++;
      }
      if (c.backend === 'cpu' && dt > CPU_LIMIT && !c.n) {
        // Shrink the batch so that one call takes about a second (or skip if it cannot shrink).
        const k = Math.ceil(dt / 1000);
        const small = c.shrink?.(k);
        if (!small || small.n >= n) {
          c.skipped = `one call took ${(dt / 1000).toFixed(1)} s (> ${CPU_LIMIT / 1000} s): not timed`;
          break;
        }
        c.run = small.run;
        c.n = small.n;
        c.shrunk = `one full call took ${(dt / 1000).toFixed(1)} s, so it is timed on ${small.what} (${(small.n / 1e6).toFixed(2)}M logits); throughput is per logit as for the others`;
        w = -1; // warm the shrunk call up again
      }
    }
  }
  const timed = list.filter((c) => !c.skipped);
  for (let r = 0; r < REPS; r++) {
    for (const c of timed) {
      if (c.backend) await useBackend(c.backend);
      if (c.before) c.before();
      const t0 = performance.now();
      c.run();
      c.times.push(performance.now() - t0);
    }
  }
  const memAfter = pkg.wasmMemoryBytes();
  const row = { case: cs, n, memBefore, memAfter, by: {}, breakdownMissing };
  for (const c of list) {
    const ms = c.skipped ? NaN : median(c.times);
    // Time per full batch (a shrunk contender's time scaled up to the full batch, for the ratios).
    const full = c.n ? (ms * n) / c.n : ms;
    row.by[c.name] = {
      ms: full,
      mlps: n / full / 1e3,
      lossRel: c.lossRel,
      gradRel: c.gradRel,
      skipped: c.skipped,
      shrunk: c.shrunk,
      min: Math.min(...c.times),
    };
  }
  results.push(row);
  if (!memory || n * (cs.dtype === 'f32' ? 4 : 8) > memory.bytes)
    memory = {
      id: `${cs.id} ${cs.dtype}`,
      bytes: n * (cs.dtype === 'f32' ? 4 : 8),
      before: memBefore,
      after: memAfter,
    };
  const p = row.by.package;
  const line = list
    .filter((c) => !c.hidden)
    .map((c) => `${c.name} ${c.skipped ? 'skipped' : row.by[c.name].mlps.toFixed(1)}`)
    .join(' | ');
  console.log(`${cs.dtype} ${cs.id} (${(n / 1e6).toFixed(2)}M logits): ${line}  [M logits/s]`);
  const tol = AGREE[cs.dtype];
  for (const c of list.filter((c) => c.lossRel !== undefined)) {
    const verdict = c.agrees
      ? `agreement OK (≤ ${tol.loss} / ${tol.grad})`
      : `DISAGREES (tolerance ${tol.loss} / ${tol.grad})`;
    console.log(
      `    ${c.name}: loss rel. diff vs package ${c.lossRel.toExponential(2)}, grad max diff / max|grad| ${c.gradRel.toExponential(2)}: ${verdict}${c.tensors ? `; tf numTensors ${c.tensors}` : ''}`,
    );
  }
  if (base && row.by['package (baseline)'])
    console.log(
      `    package / baseline: ${fr(ratio(row.by['package (baseline)'].ms, p.ms))} (baseline ${row.by['package (baseline)'].ms.toFixed(2)} ms ÷ package ${p.ms.toFixed(2)} ms per call)`,
    );
  const b = row.by;
  // Minima of the timed calls: steadier than medians when other jobs share the machine.
  console.log(
    `    min of the timed calls (ms): ${list
      .filter((c) => !c.skipped && !c.hidden)
      .map((c) => `${c.name} ${b[c.name].min.toFixed(2)}`)
      .join(
        ', ',
      )}; floor / package ${(b.package.min / b.floor?.min).toFixed(2)}×${b['package (baseline)'] ? `, package / baseline ${(b['package (baseline)'].min / b.package.min).toFixed(2)}×` : ''}`,
  );
  if (breakdownMissing) console.log(`    ${breakdownMissing}; wasm memory ${memBefore} → ${memAfter} bytes`);
  else
    console.log(
      `    breakdown: package ${p.ms.toFixed(2)} ms = validation ${b['~plan'].ms.toFixed(2)} + engine ${b['~engine'].ms.toFixed(2)} (of which copies ${b['~copies'].ms.toFixed(2)}); in place without copies ${b['~resident'].ms.toFixed(2)}; wasm memory ${memBefore} → ${memAfter} bytes`,
    );
  for (const c of list) if (c.skipped || c.shrunk) console.log(`    ${c.name}: ${c.skipped ?? c.shrunk}`);
}
// The small calls: per-call figures, best of many short interleaved rounds (bench/small.mjs).
const SMALL_ROUNDS = QUICK ? 11 : 31;
const small = argv.includes('--no-small')
  ? null
  : smallReport(await smallCalls({ pkg, base, rounds: SMALL_ROUNDS }), base);
if (small) {
  console.log(
    `\nsmall calls (µs per call, best of ${SMALL_ROUNDS} interleaved rounds):\n${small.table}\n${small.verdicts.join('\n')}`,
  );
  if (small.disagreements) disagreements += small.disagreements;
}
const loadAfter = loadavg();
if (results.length === 0) {
  console.error('no case matched --cases');
  process.exit(1);
}

// ---------------------------------------------------------------- report

const f1 = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '—');
const names = [
  'package',
  'package (no out)',
  ...(base ? ['package (baseline)'] : []),
  'plain JS',
  'tfjs-wasm',
  'tfjs-cpu',
  'floor',
];
const ratioNames = [
  'package / plain JS',
  'package / tfjs-wasm',
  'floor / package',
  ...(base ? ['package / baseline'] : []),
];

const header = `| case | dtype | M logits | ${names.join(' | ')} | ${ratioNames.join(' | ')} |`;
const sep = `|${'---|'.repeat(3 + names.length + ratioNames.length)}`;
const rows = results.map((r) => {
  const b = r.by;
  const cells = names.map((nm) => (b[nm] ? (b[nm].skipped ? 'skipped' : f1(b[nm].mlps)) : 'n/a'));
  const pkgMs = b.package.ms;
  const ratios = [
    fr(ratio(b['plain JS']?.ms, pkgMs)),
    fr(ratio(b['tfjs-wasm']?.ms, pkgMs)),
    fr(ratio(pkgMs, b.floor?.ms)),
    ...(base ? [fr(ratio(b['package (baseline)']?.ms, pkgMs))] : []),
  ];
  return `| ${r.case.id} | ${r.case.dtype} | ${(r.n / 1e6).toFixed(2)} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`;
});
const table = [header, sep, ...rows].join('\n');

const breakdownHeader =
  '| case | dtype | package call (ms) | validation (ms) | engine: copies + kernel (ms) | copies only (ms) | in place, no copies (ms) | copies / call | validation / call | call / in place |';
const withBreakdown = results.filter((r) => !r.breakdownMissing);
const breakdownNote = [...new Set(results.map((r) => r.breakdownMissing).filter(Boolean))].join('; ');
const breakdown =
  withBreakdown.length === 0
    ? `(${breakdownNote})`
    : [
        breakdownHeader,
        `|${'---|'.repeat(10)}`,
        ...withBreakdown.map((r) => {
          const b = r.by;
          const call = b.package.ms;
          const pc = (x) => `${((100 * x) / call).toFixed(0)}%`;
          return `| ${r.case.id} | ${r.case.dtype} | ${call.toFixed(2)} | ${b['~plan'].ms.toFixed(2)} | ${b['~engine'].ms.toFixed(2)} | ${b['~copies'].ms.toFixed(2)} | ${b['~resident'].ms.toFixed(2)} | ${pc(b['~copies'].ms)} | ${pc(b['~plan'].ms)} | ${fr(call / b['~resident'].ms)} |`;
        }),
      ].join('\n');

const agreement = results.flatMap((r) =>
  Object.entries(r.by)
    .filter(([, v]) => v.lossRel !== undefined)
    .map(
      ([nm, v]) =>
        `| ${r.case.id} | ${r.case.dtype} | ${nm} | ${v.lossRel.toExponential(1)} | ${v.gradRel.toExponential(1)} |`,
    ),
);

// Targets (the narrow-rows / sigmoid-family speed issue's): floor / package ≤ 2.0 for softmax rows
// narrower than 100 classes and ≤ 1.5 from 100 on, ≤ 3.0 for the sigmoid focal loss and each family
// loss; package ≥ 10× plain JS and ≥ 10× tfjs-wasm; each family loss within 2× the sigmoid focal
// loss's time per element.
const verdicts = [];
const get = (id, dtype) => results.find((r) => r.case.id === id && r.case.dtype === dtype);
const sigmoidRef = get('sigmoid 1M', 'f32');
for (const r of results.filter((r) => r.case.dtype === 'f32')) {
  const b = r.by;
  const fp = ratio(b.package.ms, b.floor?.ms);
  const vsPlain = ratio(b['plain JS']?.ms, b.package.ms);
  const vsTf = ratio(b['tfjs-wasm']?.ms, b.package.ms);
  const ceiling = ratio(b['plain JS']?.ms, b.floor?.ms); // the best package / plain JS any kernel at the floor could reach
  const why = (vs, need) =>
    vs >= need || !Number.isFinite(ceiling)
      ? ''
      : ` — the floor itself is only ${ceiling.toFixed(1)}× faster than plain JS here${ceiling < need ? `, so ${need}× is out of reach on this machine` : ''}`;
  const floorTarget = r.case.kind === 'softmax' ? ((r.case.C ?? 0) >= 100 ? 1.5 : 2.0) : 3.0;
  const floorVerdict = `floor/package ${fr(fp)} (target ≤ ${floorTarget.toFixed(1)}: ${Number.isFinite(fp) ? (fp <= floorTarget ? 'met' : 'NOT met') : 'no floor'})`;
  const plainVerdict = `package/plain ${fr(vsPlain)} (≥ 10×: ${vsPlain >= 10 ? 'met' : 'NOT met'}${why(vsPlain, 10)})`;
  const tfVerdict = Number.isFinite(vsTf)
    ? `; package/tfjs-wasm ${fr(vsTf)} (≥ 10×: ${vsTf >= 10 ? 'met' : 'NOT met'})`
    : '';
  let family = '';
  if (r.case.kind !== 'softmax' && r !== sigmoidRef && sigmoidRef) {
    const perElem = (x) => x.by.package.ms / x.n;
    const rel = perElem(r) / perElem(sigmoidRef);
    family = `; time per element ${rel.toFixed(2)}× the sigmoid focal loss's (≤ 2×: ${rel <= 2 ? 'met' : 'NOT met'})`;
  }
  verdicts.push(`- ${r.case.id} f32: ${floorVerdict}; ${plainVerdict}${tfVerdict}${family}`);
}
for (const r of results.filter((r) => r.case.dtype === 'f64')) {
  const f32 = get(r.case.id, 'f32');
  const slow = ratio(r.by.package.ms, f32.by.package.ms);
  verdicts.push(
    `- ${r.case.id}: f64 takes ${fr(slow)} the f32 time (target ≤ 2.5×: ${slow <= 2.5 ? 'met' : 'NOT met'})`,
  );
}

if (withBreakdown.length) {
  const share = (r, k) => r.by[k].ms / r.by.package.ms;
  const results = withBreakdown;
  const worstCopy = results.reduce((w, r) => (share(r, '~copies') > share(w, '~copies') ? r : w));
  const worstPlan = results.reduce((w, r) => (share(r, '~plan') > share(w, '~plan') ? r : w));
  const pct = (x) => `${(100 * x).toFixed(0)}%`;
  const gain = (r) => r.by.package.ms / r.by['~resident'].ms;
  const best = results.reduce((w, r) => (gain(r) > gain(w) ? r : w));
  verdicts.push(
    `- copies in/out of the scratch area: at most ${pct(share(worstCopy, '~copies'))} of the call (${worstCopy.case.id} ${worstCopy.case.dtype}); threshold 15%: ${share(worstCopy, '~copies') <= 0.15 ? 'below' : 'ABOVE'}. One kernel call in place over the whole batch (no copies, no validation) would be at most ${fr(gain(best))} the speed of "package" (${best.case.id} ${best.case.dtype})`,
  );
  verdicts.push(
    `- argument validation (JS): at most ${pct(share(worstPlan, '~plan'))} of the call (${worstPlan.case.id} ${worstPlan.case.dtype})`,
  );
} else {
  verdicts.push(`- copies and validation: not measured (${breakdownNote})`);
}

/** Size and kernel kind of a build's focal_loss.wasm (the SIMD128 build, which the Node entry loads when it can). */
function wasmInfo(file) {
  const bytes = readFileSync(file);
  let simd;
  try {
    const x = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
    simd =
      typeof x.focal_simd128 === 'function'
        ? x.focal_simd128()
          ? 'SIMD128 kernels'
          : 'scalar kernels'
        : 'kernels (no focal_simd128 export)';
  } catch (e) {
    simd = `kernels (not instantiable without imports: ${e.message})`;
  }
  return `${bytes.length} bytes, ${simd}`;
}
function baselineInfo() {
  return `${BASELINE_DIR}/focal_loss.wasm, ${wasmInfo(resolve(BASELINE_DIR, 'focal_loss.wasm'))} (its node.js loaded as a second module instance)`;
}
const packageInfo = `dist/focal_loss.wasm, ${wasmInfo(new URL('../dist/focal_loss.wasm', import.meta.url))} (what the Node entry loads when the runtime has SIMD128)`;

const cpuModel =
  (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? cpus()[0]?.model ?? 'unknown';
const machine = `${cpuModel}, ${cpus().length} cores, Node ${process.version}, ${process.platform}/${process.arch}`;
const loads = `load average (1/5/15 min) ${loadBefore.map((x) => x.toFixed(2)).join(' / ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} after`;
const skipped = results.flatMap((r) =>
  Object.entries(r.by)
    .filter(([, v]) => v.skipped || v.shrunk)
    .map(([nm, v]) => `- ${r.case.id} ${r.case.dtype}, ${nm}: ${v.skipped ?? v.shrunk}`),
);

console.log('\n' + table + '\n');
console.log(breakdown + '\n');
console.log(
  `wasm memory around the largest batch (${memory.id}): ${memory.before} → ${memory.after} bytes${memory.before === memory.after ? ' (unchanged)' : ' (CHANGED)'}`,
);
console.log(verdicts.join('\n'));
console.log(`\n${machine}; ${loads}\n${packageInfo}${base ? `\nbaseline: ${baselineInfo()}` : ''}`);
if (disagreements) {
  console.error(
    `\n${disagreements} contender(s) DISAGREE with the package beyond the tolerance (see above)${WRITE ? '; BENCHMARKS.md not written' : ''}`,
  );
  process.exitCode = 1;
}

if (WRITE && !disagreements) {
  const md = `# Benchmarks

<!-- generated by bench/run.mjs (npm run bench) — do not edit by hand; rerun instead -->

Loss **and** gradient of a whole batch, in million logits per second (higher is better), median of ${REPS} timed
batches per contender after ${WARMUP} warm-up round(s). Contenders run round-robin in one Node process (one batch of
each in turn), so background load hits them alike. γ = ${GAMMA}, reduction \`'mean'\`, hard targets (class indices);
sigmoid: α = ${ALPHA}, 10% positives.

- **Command:** \`npm run bench\` (= \`node bench/run.mjs\`)${argv.length ? ` with \`${argv.join(' ')}\`` : ''}
- **Date:** ${started.toISOString()}
- **Machine:** ${machine}
- **Load:** ${loads} (the benchmark itself is one busy process, ≈ 1; anything above that is other jobs — the ratios are more stable than the absolute numbers)
- **Package:** ${packageInfo}${base ? `\n- **Baseline:** ${baselineInfo()}` : ''}
- **TensorFlow.js:** ${tfjsInfo()}
- **Floor:** ${floorLoad.floor ? `bench/floor/floor.wasm (${floorLoad.floor.exportsUsed}; ${floorLoad.floor.scratchBytes} bytes of scratch)` : floorLoad.reason}

${table}

Contenders: **package** — \`softmaxFocalLossWithGrad\` / \`sigmoidFocalLossWithGrad\` with a reused \`out\` buffer;
**package (no out)** — the same call allocating its gradient;${
    base
      ? ` **package (baseline)** — the same call as "package" on
another build (\`--baseline\`, a second module instance), package / baseline = baseline time ÷ package time;`
      : ''
  }
**plain JS** — \`bench/plain.mjs\`, the seed formula
−α_t(1−p_t)^γ log p_t written by hand (max-subtracted softmax, \`Math.pow\`, the textbook gradient; what TypeScript
compiles such a loop to); **tfjs-wasm / tfjs-cpu** — \`bench/tfjs.mjs\`, the fastest correct formulation of those
\`bench/tfjs-variants.mjs\` times (autograd with \`tf.valueAndGrad\` or \`tf.customGrad\`, logSoftmax or softmax, pow or
square, gather or one-hot): the loss and its analytic gradient written with tfjs ops (softmax: \`tf.softmax\`, int32
\`oneHot\` cast to float, log p_t = log Σ p·onehot; sigmoid: p_t = σ(±z), CE = −log p_t; (1 − p_t)^γ without a
\`tf.pow\` for γ = 2; channels-first is transposed to channels-last and back), including making the tensors from the
typed arrays, reading loss and gradient back and disposing every tensor (no \`tf.tidy\`; the tensor count is checked
once per case); tfjs has no float64, so the f64 rows have no tfjs; **floor** — one SIMD exp and one store per logit (\`bench/floor/\`), no copies,
no reductions. Ratios are time ratios: package / plain JS = plain JS time ÷ package time (how many times faster),
floor / package = package time ÷ floor time (how far above the floor).
${skipped.length ? `\nShrunk or skipped:\n${skipped.join('\n')}\n` : ''}
## Targets

${verdicts.join('\n')}
${
  small
    ? `
## Small calls

One call at a time, float32, \`out\` given, γ = ${GAMMA} (sigmoid: α = ${ALPHA}): what one request at the edge or one training
step of a small classifier costs. \`bench/small.mjs\` times each contender in batches of calls (each batch ~2 ms),
round-robin in this process, ${SMALL_ROUNDS} rounds; the figure is the best round's time per call (µs, lower is better):
other jobs on a shared machine only ever add time, so the best of many short interleaved rounds is the steadiest
figure. **plain JS** is \`bench/plain.mjs\` (the same loops as above; the softmax loop keeps its probability row between
calls, as a careful user's would), checked against the package on every case (loss / gradient differences:
${small.agree.join('; ')}). package / plain JS = plain JS time ÷ package time.

${small.table}

The **floor call** is the least a call into wasm can cost: copy 10 floats into wasm memory through a view made once,
call an export that does nothing (a hand-assembled module, \`floorCall\` in bench/small.mjs), copy 10 floats back.
Young-generation collections are counted with a \`gc\` PerformanceObserver over ${GC_CALLS.toLocaleString('en')} calls of one kind after a warm-up.

${small.verdicts.join('\n')}
`
    : ''
}
## Same computation

Every contender's loss (relative difference) and gradient (max |difference| / max |gradient|) against the package's on
the same inputs (first warm-up call). The bench fails (and does not write this file) above ${AGREE.f32.loss} / ${AGREE.f32.grad}
for float32 or ${AGREE.f64.loss} / ${AGREE.f64.grad} for float64:

| case | dtype | contender | loss rel. diff | grad diff |
|---|---|---|---|---|
${agreement.join('\n')}

## Where the time goes: validation and copies

The public call validates its arguments (\`ts/options.ts\`), then the engine (\`ts/engine.ts\`) streams the batch through
the fixed 256 KiB scratch area in wasm memory: copy a chunk of logits and targets in, run the kernel, copy the
gradient out. \`bench/instrument.mjs\` runs the package's own engine and validation (transpiled from \`ts/\`) over a second
instance of \`dist/focal_loss.wasm\`, once with the real kernels and once with the kernels replaced by a no-op, in the
same round-robin. "copies only" is therefore the copy-in/copy-out traffic plus the chunk loop's bookkeeping. "in place,
no copies" is one kernel call over the whole batch already sitting in (grown) wasm memory, without validation — the
bound for any engine that avoids the copies; "call / in place" is how much the public call costs over it.

${breakdown}

## Memory

\`wasmMemoryBytes()\` at the start: ${memStart} bytes (the module's own memory plus the 256 KiB scratch area). Calls on
ordinary arrays never grow it, whatever the batch size (the in-place bound above runs on a separate instance). Before and after all of a case's timed calls, around the largest batch (${memory.id},
${(memory.bytes / 2 ** 20).toFixed(1)} MiB of logits): ${memory.before} → ${memory.after} bytes${memory.before === memory.after ? ' — unchanged' : ' — CHANGED'}.
Per case: ${results.map((r) => `${r.case.id} ${r.case.dtype} ${r.memBefore}→${r.memAfter}`).join('; ')}.
`;
  const extra = (() => {
    try {
      const old = readFileSync(new URL('../BENCHMARKS.md', import.meta.url), 'utf8');
      const i = old.indexOf('<!-- notes -->');
      return i >= 0 ? '\n' + old.slice(i) : '';
    } catch {
      return '';
    }
  })();
  writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), md + extra);
  console.log('wrote BENCHMARKS.md');
}
