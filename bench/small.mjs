// Small calls: what one call costs when the batch is small (one request at the edge, a training
// step of a small classifier). Per-call time of the package (float32, `out` given) against the plain
// JS loop (bench/plain.mjs) and, for the fixed cost, against the floor call — copy 10 floats into
// wasm memory, call a trivial export, copy 10 floats back — and the young-generation collections
// that 100,000 calls cause. Run by bench/run.mjs (its "Small calls" section), or alone:
//
//   node bench/small.mjs [--rounds 31] [--baseline DIR] [--cases REGEX]
//
// Every contender is timed in batches of k calls (k calibrated so that a batch takes ~2 ms),
// round-robin: one batch of each contender in turn, `rounds` times; the per-call time is the best
// batch time / k (on a shared machine other jobs only ever add time, so the best of many
// interleaved rounds is the steadiest figure; the median is kept beside it).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { plainSigmoidFocal, plainSoftmaxFocal } from './plain.mjs';
import { rng } from './rng.mjs';
import { sigmoidData } from './data.mjs';

const GAMMA = 2;
const ALPHA = 0.25;
/** Calls between two collections are counted over this many calls. */
export const GC_CALLS = 100_000;

export const SMALL_CASES = [
  ...[1, 2, 8, 32, 128, 1024].map((N) => ({ id: `softmax ${N}×10`, kind: 'softmax', N, C: 10 })),
  ...[1, 16, 100, 1000].map((n) => ({ id: `sigmoid ${n}`, kind: 'sigmoid', n })),
];

/** Logits ~ N(0, 2²) with +3 on the target class (as bench/run.mjs); targets uniform. */
function softmaxData(N, C, seed) {
  const r = rng(seed);
  const z = new Float32Array(N * C);
  const t = new Int32Array(N);
  for (let i = 0; i < z.length; i++)
    z[i] = 2 * Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  for (let n = 0; n < N; n++) {
    t[n] = Math.floor(r() * C);
    z[n * C + t[n]] += 3;
  }
  return { z, t };
}

/**
 * The floor call: a hand-assembled module with one page of memory and `touch(ptr) → ptr` (the
 * identity: the least an export can do). One floor call copies 10 floats into its memory through a
 * view made once, calls `touch`, and copies 10 floats back.
 */
export function floorCall() {
  const name = (s) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const section = (id, body) => [id, body.length, ...body];
  const bytes = new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]), // type: (i32) -> i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // memory: min 1 page
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('touch'), 0x00, 0]),
    ...section(10, [1, 4, 0, 0x20, 0, 0x0b]), // local.get 0
  ]);
  const x = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
  const ptr = 1024;
  const view = new Float32Array(x.memory.buffer, ptr, 10);
  const input = Float32Array.from({ length: 10 }, (_, i) => i - 4.5);
  const output = new Float32Array(10);
  return () => {
    view.set(input);
    const r = x.touch(ptr);
    output.set(view);
    return r + output[9];
  };
}

/**
 * The contenders of one case: `run()` is one call; `ref()` the call's loss and gradient, for the agreement check. The
 * package's calls take a literal options object per call, as a caller writes one: in Node 20 `{ ...opts, out }` alone
 * costs ~0.6 µs per call (V8 makes the spread object by a slow path), which is the caller's code, not the package's
 * (BENCHMARKS.md § notes, 2026-12-06 23:45).
 */
function contenders(cs, pkg, base) {
  const list = [];
  if (cs.kind === 'softmax') {
    const { z, t } = softmaxData(cs.N, cs.C, 777 + cs.N);
    const C = cs.C;
    const out = new Float32Array(z.length);
    list.push({
      name: 'package',
      run: () => pkg.softmaxFocalLossWithGrad(z, t, { classes: C, gamma: GAMMA, out }).loss,
      grad: out,
    });
    if (base) {
      const bout = new Float32Array(z.length);
      list.push({
        name: 'package (baseline)',
        run: () => base.softmaxFocalLossWithGrad(z, t, { classes: C, gamma: GAMMA, out: bout }).loss,
        grad: bout,
      });
    }
    const pg = new Float32Array(z.length);
    list.push({ name: 'plain JS', run: () => plainSoftmaxFocal(z, t, cs.N, cs.C, 1, GAMMA, pg), grad: pg });
  } else {
    const { x, y } = sigmoidData(Float32Array, cs.n, 555 + cs.n);
    const out = new Float32Array(x.length);
    list.push({
      name: 'package',
      run: () => pkg.sigmoidFocalLossWithGrad(x, y, { gamma: GAMMA, alpha: ALPHA, out }).loss,
      grad: out,
    });
    if (base) {
      const bout = new Float32Array(x.length);
      list.push({
        name: 'package (baseline)',
        run: () => base.sigmoidFocalLossWithGrad(x, y, { gamma: GAMMA, alpha: ALPHA, out: bout }).loss,
        grad: bout,
      });
    }
    const pg = new Float32Array(x.length);
    list.push({ name: 'plain JS', run: () => plainSigmoidFocal(x, y, GAMMA, ALPHA, pg), grad: pg });
  }
  return list;
}

/** Loss relative difference and max |grad difference| / max |grad| of `c` against the package (float32 tolerance 1e-3 / 1e-5). */
function agreement(pkgC, c) {
  const a = pkgC.run();
  const ga = Float64Array.from(pkgC.grad);
  const b = c.run();
  let num = 0,
    den = 0;
  for (let i = 0; i < ga.length; i++) {
    num = Math.max(num, Math.abs(c.grad[i] - ga[i]));
    den = Math.max(den, Math.abs(ga[i]));
  }
  const lossRel = Math.abs(a - b) / Math.max(Math.abs(a), 1e-300);
  const gradRel = num / den;
  return { lossRel, gradRel, agrees: lossRel <= 1e-3 && gradRel <= 1e-5 };
}

let sink = 0;

/** Calls per batch so that one batch takes about `ms`. */
function calibrate(run, ms) {
  for (let k = 1; ; k *= 2) {
    const t0 = performance.now();
    for (let i = 0; i < k; i++) sink += run();
    if (performance.now() - t0 >= ms || k >= 1 << 22) return k;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Each contender's warm-up, ms of calls before it is timed. On a loaded machine the optimising compiler (a background
 * thread) may take a few hundred ms of wall time to finish the package's functions: with a warm-up of ~2 ms the first
 * case of a process was timed, in some runs, at 2–5× its later time for all its rounds (BENCHMARKS.md § notes).
 */
const WARM_MS = 150;

/** Times the contenders round-robin; each gets `us` (best µs per call over the rounds) and `median`. */
function time(list, rounds, batchMs) {
  for (const c of list) {
    const t0 = performance.now();
    while (performance.now() - t0 < WARM_MS) for (let i = 0; i < 64; i++) sink += c.run();
    c.k = calibrate(c.run, batchMs);
    c.samples = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of list) {
      const t0 = performance.now();
      for (let i = 0; i < c.k; i++) sink += c.run();
      c.samples.push(((performance.now() - t0) * 1000) / c.k);
    }
  }
  for (const c of list) {
    c.us = Math.min(...c.samples);
    c.median = median(c.samples);
  }
}

/**
 * Young-generation (scavenge) collections during `calls` calls of `run`, counted by a `gc`
 * PerformanceObserver (its entries are delivered after the loop, so it adds nothing to the loop).
 */
export async function minorGCs(run, calls = GC_CALLS) {
  for (let i = 0; i < 1000; i++) sink += run();
  await new Promise((r) => setTimeout(r, 20));
  let n = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e.detail?.kind ?? e.kind) === constants.NODE_PERFORMANCE_GC_MINOR) n++;
  });
  observer.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < calls; i++) sink += run();
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return n;
}

/**
 * Runs the small-call benchmark: one row per case, the fixed cost against the floor, and the
 * collections per GC_CALLS calls. `pkg` (and `base`, another build, or null) are the package's exports.
 */
export async function smallCalls({ pkg, base = null, rounds = 31, batchMs = 2, only = null } = {}) {
  const cases = SMALL_CASES.filter((c) => !only || only.test(c.id));
  const rows = [];
  for (const cs of cases) {
    const list = contenders(cs, pkg, base);
    const checks = Object.fromEntries(list.slice(1).map((c) => [c.name, agreement(list[0], c)]));
    time(list, rounds, batchMs);
    rows.push({ case: cs, by: Object.fromEntries(list.map((c) => [c.name, c])), checks });
  }
  // The fixed cost: the 1 × 10 call against the floor call, timed together.
  const one = contenders(SMALL_CASES[0], pkg, base).filter((c) => c.name !== 'plain JS');
  const floor = { name: 'floor', run: floorCall() };
  time([...one, floor], rounds, batchMs);
  const fixed = {
    package: one[0].us,
    baseline: base ? one[1].us : NaN,
    floor: floor.us,
    packageMedian: one[0].median,
    floorMedian: floor.median,
  };
  // Collections: the 1 × 10 softmax call and the 100-element sigmoid call, with `out`.
  const gc = [];
  for (const cs of [SMALL_CASES[0], SMALL_CASES.find((c) => c.id === 'sigmoid 100')]) {
    for (const c of contenders(cs, pkg, base)) gc.push({ id: cs.id, name: c.name, count: await minorGCs(c.run) });
  }
  return { rows, fixed, gc, rounds, sink };
}

const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '—');
const fr = (x) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×` : '—');

/** The section's tables and the verdicts on the small-call targets, as markdown lines. */
export function smallReport({ rows, fixed, gc, rounds }, base) {
  const names = ['package', ...(base ? ['package (baseline)'] : []), 'plain JS'];
  const lines = [
    `| case | ${names.map((n) => `${n} (µs)`).join(' | ')} | package / plain JS |${base ? ' package / baseline |' : ''}`,
    `|${'---|'.repeat(2 + names.length + (base ? 1 : 0))}`,
  ];
  for (const r of rows) {
    const b = r.by;
    lines.push(
      `| ${r.case.id} | ${names.map((n) => fmt(b[n].us)).join(' | ')} | ${fr(b['plain JS'].us / b.package.us)} |${base ? ` ${fr(b['package (baseline)'].us / b.package.us)} |` : ''}`,
    );
  }
  const ratio = (id) => {
    const r = rows.find((x) => x.case.id === id);
    return r ? r.by['plain JS'].us / r.by.package.us : NaN;
  };
  const fromWhere = (kind) => {
    const rs = rows.filter((r) => r.case.kind === kind);
    const losing = rs.filter((r) => r.by['plain JS'].us < r.by.package.us).map((r) => r.case.id);
    return losing.length ? `plain JS is faster at ${losing.join(', ')}` : 'the package is faster at every size';
  };
  const gcOf = (id, name) => gc.find((g) => g.id === id && g.name === name)?.count;
  const verdict = (ok) => (ok ? 'met' : 'NOT met');
  const fixedRatio = fixed.package / fixed.floor;
  const two = ratio('softmax 2×10'),
    sixteen = ratio('sigmoid 16');
  const verdicts = [
    `- fixed cost: a 1 × 10 float32 call takes ${fmt(fixed.package)} µs, the floor call ${fmt(fixed.floor)} µs: ${fr(fixedRatio)} the floor (target ≤ 10×: ${verdict(fixedRatio <= 10)}; medians ${fmt(fixed.packageMedian)} and ${fmt(fixed.floorMedian)} µs)${base ? `; the baseline build's call ${fmt(fixed.baseline)} µs (${fr(fixed.baseline / fixed.floor)})` : ''}`,
    `- the package beats the plain loop from 2 × 10 (${fr(two)}) and from 16 sigmoid elements (${fr(sixteen)}) up: ${verdict(two > 1 && sixteen > 1 && rows.every((r) => (r.case.kind === 'softmax' ? r.case.N < 2 : r.case.n < 16) || r.by['plain JS'].us > r.by.package.us))} (${fromWhere('softmax')}; ${fromWhere('sigmoid')})`,
    `- 32 × 10: ${fr(ratio('softmax 32×10'))} the plain loop (target ≥ 4×: ${verdict(ratio('softmax 32×10') >= 4)}); sigmoid 100: ${fr(ratio('sigmoid 100'))} (target ≥ 3×: ${verdict(ratio('sigmoid 100') >= 3)})`,
    `- young-generation collections per ${GC_CALLS.toLocaleString('en')} calls with \`out\`: softmax 1 × 10 ${gcOf('softmax 1×10', 'package')}, sigmoid 100 ${gcOf('sigmoid 100', 'package')} (target ≤ 12: ${verdict(Math.max(gcOf('softmax 1×10', 'package'), gcOf('sigmoid 100', 'package')) <= 12)}); the plain loop ${gcOf('softmax 1×10', 'plain JS')} and ${gcOf('sigmoid 100', 'plain JS')}${base ? `; the baseline build ${gcOf('softmax 1×10', 'package (baseline)')} and ${gcOf('sigmoid 100', 'package (baseline)')}` : ''}`,
  ];
  const agree = rows.flatMap((r) =>
    Object.entries(r.checks).map(
      ([n, a]) =>
        `${r.case.id} ${n}: ${a.lossRel.toExponential(1)} / ${a.gradRel.toExponential(1)}${a.agrees ? '' : ' DISAGREES'}`,
    ),
  );
  return {
    table: lines.join('\n'),
    verdicts,
    agree,
    disagreements: rows.flatMap((r) => Object.values(r.checks)).filter((a) => !a.agrees).length,
    rounds,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const opt = (name) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
  const pkg = await import('../dist/node.js');
  const dir = opt('baseline') ? resolve(opt('baseline')) : null;
  if (dir && !existsSync(resolve(dir, 'node.js')))
    throw new Error(`--baseline ${dir}: no node.js there (give a dist/ folder)`);
  const base = dir ? await import(pathToFileURL(resolve(dir, 'node.js')).href) : null;
  const result = await smallCalls({
    pkg,
    base,
    rounds: Number(opt('rounds') ?? 31),
    only: opt('cases') ? new RegExp(opt('cases')) : null,
  });
  const report = smallReport(result, base);
  console.log(report.table + '\n');
  console.log(report.verdicts.join('\n'));
  console.log(`\nagreement with the package (loss rel. diff / grad diff): ${report.agree.join('; ')}`);
  if (report.disagreements) process.exitCode = 1;
}
