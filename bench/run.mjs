// `npm run bench`: loss + gradient throughput (million logits per second) of this package against
// a plain hand-written loop, TensorFlow.js (WASM and CPU backends) and the floor (one SIMD exp and
// one store per logit), interleaved round-robin in one process; medians of the timed batches.
// Prints the table and writes it, with the machine and the copy-cost breakdown, to BENCHMARKS.md.
//
//   node bench/run.mjs [--reps 9] [--warmup 2] [--quick] [--no-write] [--cpu-limit 1500] [--cases REGEX]
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as pkg from '../dist/node.js';
import { plainSigmoidFocal, plainSoftmaxFocal } from './plain.mjs';
import { initTfjs, tfjsInfo, tfjsSigmoid, tfjsSoftmax, useBackend } from './tfjs.mjs';
import { loadFloor } from './floor.mjs';
import { rng } from '../examples/train/train.js'; // mulberry32: the demo's deterministic generator
import { instrumentedEngines } from './instrument.mjs';

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
const WRITE = !argv.includes('--no-write');
const GAMMA = 2;
const ALPHA = 0.25;

// ---------------------------------------------------------------- data

/** Logits ~ N(0, 2²), plus +3 on the target class (a half-trained model); targets uniform. */
function softmaxData(Ctor, N, C, S, seed) {
  const r = rng(seed);
  const z = new Ctor(N * C * S);
  for (let i = 0; i < z.length; i += 2) {
    const u = Math.max(r(), 1e-12), v = r();
    const m = 2 * Math.sqrt(-2 * Math.log(u));
    z[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < z.length) z[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  const t = new Int32Array(N * S);
  for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) {
    const c = Math.floor(r() * C);
    t[n * S + s] = c;
    z[n * C * S + c * S + s] += 3;
  }
  return { z, t };
}

function sigmoidData(Ctor, n, seed) {
  const r = rng(seed);
  const x = new Ctor(n);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r() < 0.1 ? 1 : 0; // 10% positives (detection-like imbalance)
    x[i] = (r() * 2 - 1) * 4 + (y[i] ? 1.5 : -1.5);
  }
  return { x, y };
}

// ---------------------------------------------------------------- cases

const CASES = [
  { id: 'softmax 65536×10', kind: 'softmax', dtype: 'f32', N: 65536, C: 10 },
  { id: 'softmax 16384×100', kind: 'softmax', dtype: 'f32', N: 16384, C: 100 },
  { id: 'softmax 2048×1000', kind: 'softmax', dtype: 'f32', N: 2048, C: 1000 },
  { id: 'softmax 4×19×128×128 (shape)', kind: 'softmax', dtype: 'f32', N: 4, C: 19, spatial: [128, 128] },
  { id: 'sigmoid 1M', kind: 'sigmoid', dtype: 'f32', n: 1 << 20 },
  { id: 'softmax 16384×100', kind: 'softmax', dtype: 'f64', N: 16384, C: 100 },
  { id: 'sigmoid 1M', kind: 'sigmoid', dtype: 'f64', n: 1 << 20 },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const relDiff = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

function maxRelGrad(g, ref) {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(g[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / den;
}

const floorLoad = loadFloor();
const eng = await instrumentedEngines();
await initTfjs();

/** The wasm arrays of the current case (freed after it, so the next case reuses their memory). */
const wasmArrays = [];
const memStart = pkg.wasmMemoryBytes();

/** A wasm array of `type` holding `values` (or zeros for a length), kept for freeing after the case. */
function inWasm(type, values) {
  const w = pkg.allocateWasmArray(type, typeof values === 'number' ? values : values.length);
  if (typeof values !== 'number') w.array.set(values);
  wasmArrays.push(w);
  return w;
}

/** Builds the contenders for one case; each `run()` is one full batch (loss + gradient). */
function contenders(cs) {
  const Ctor = cs.dtype === 'f32' ? Float32Array : Float64Array;
  const list = [];
  let logits, check, residentCheck;
  if (cs.kind === 'softmax') {
    const S = (cs.spatial ?? []).reduce((a, b) => a * b, 1);
    const { z, t } = softmaxData(Ctor, cs.N, cs.C, S, 12345 + cs.C);
    logits = z;
    const opts = cs.spatial ? { shape: [cs.N, cs.C, ...cs.spatial], gamma: GAMMA } : { classes: cs.C, gamma: GAMMA };
    const out = new Ctor(z.length);
    list.push({ name: 'package', run: () => pkg.softmaxFocalLossWithGrad(z, t, { ...opts, out }) });
    list.push({ name: 'package (no out)', run: () => pkg.softmaxFocalLossWithGrad(z, t, opts) });
    // Logits, class indices and gradient as wasm arrays: used in place, no copies.
    const [wz, wt, wo] = [inWasm(Ctor, z), inWasm(Int32Array, t), inWasm(Ctor, z.length)];
    list.push({ name: 'package (wasm arrays)', run: () => pkg.softmaxFocalLossWithGrad(wz.array, wt.array, { ...opts, out: wo.array }) });
    const pg = new Ctor(z.length);
    list.push({ name: 'plain JS', run: () => ({ loss: plainSoftmaxFocal(z, t, cs.N, cs.C, S, GAMMA, pg), grad: pg }) });
    if (cs.dtype === 'f32') {
      list.push({ name: 'tfjs-wasm', backend: 'wasm', run: () => tfjsSoftmax(z, t, cs.N, cs.C, S, cs.spatial ?? [], GAMMA) });
      list.push({
        name: 'tfjs-cpu', backend: 'cpu', run: () => tfjsSoftmax(z, t, cs.N, cs.C, S, cs.spatial ?? [], GAMMA),
        // Too slow for the full batch: the first N/k rows (images), the same computation per logit.
        shrink: (k) => {
          const n = Math.max(1, Math.floor(cs.N / k));
          const zs = z.subarray(0, n * cs.C * S), ts = t.subarray(0, n * S);
          return { n: zs.length, what: `${n} of ${cs.N} ${S === 1 ? 'rows' : 'images'}`, run: () => tfjsSoftmax(zs, ts, n, cs.C, S, cs.spatial ?? [], GAMMA) };
        },
      });
    }
    // Breakdown (same round-robin): validation, engine with kernels, engine with no-op kernels.
    const plan = eng.softmaxPlan(z, t, { ...opts, out });
    const eo = new Ctor(z.length);
    list.push({ name: '~plan', hidden: true, run: () => eng.softmaxPlan(z, t, { ...opts, out }) });
    list.push({ name: '~engine', hidden: true, run: () => eng.real.softmax(plan, { grad: eo, loss: null }) });
    list.push({ name: '~copies', hidden: true, run: () => eng.copies.softmax(plan, { grad: eo, loss: null }) });
    const resident = eng.resident('softmax', plan);
    list.push({ name: '~resident', hidden: true, run: resident });
    residentCheck = resident() - pkg.softmaxFocalLoss(z, t, opts);
    check = { z, t };
  } else {
    const { x, y } = sigmoidData(Ctor, cs.n, 777);
    logits = x;
    const out = new Ctor(x.length);
    const opts = { gamma: GAMMA, alpha: ALPHA };
    list.push({ name: 'package', run: () => pkg.sigmoidFocalLossWithGrad(x, y, { ...opts, out }) });
    list.push({ name: 'package (no out)', run: () => pkg.sigmoidFocalLossWithGrad(x, y, opts) });
    // Sigmoid targets in wasm memory have the logits' type (the kernel reads them as such).
    const [wx, wy, wo] = [inWasm(Ctor, x), inWasm(Ctor, y), inWasm(Ctor, x.length)];
    list.push({ name: 'package (wasm arrays)', run: () => pkg.sigmoidFocalLossWithGrad(wx.array, wy.array, { ...opts, out: wo.array }) });
    const pg = new Ctor(x.length);
    list.push({ name: 'plain JS', run: () => ({ loss: plainSigmoidFocal(x, y, GAMMA, ALPHA, pg), grad: pg }) });
    if (cs.dtype === 'f32') {
      list.push({ name: 'tfjs-wasm', backend: 'wasm', run: () => tfjsSigmoid(x, y, GAMMA, ALPHA) });
      list.push({
        name: 'tfjs-cpu', backend: 'cpu', run: () => tfjsSigmoid(x, y, GAMMA, ALPHA),
        shrink: (k) => {
          const n = Math.floor(x.length / k);
          const xs = x.subarray(0, n), ys = y.subarray(0, n);
          return { n, what: `${n} of ${x.length} elements`, run: () => tfjsSigmoid(xs, ys, GAMMA, ALPHA) };
        },
      });
    }
    const plan = eng.sigmoidPlan(x, y, { ...opts, out });
    const eo = new Ctor(x.length);
    list.push({ name: '~plan', hidden: true, run: () => eng.sigmoidPlan(x, y, { ...opts, out }) });
    list.push({ name: '~engine', hidden: true, run: () => eng.real.sigmoid(plan, { grad: eo, loss: null }) });
    list.push({ name: '~copies', hidden: true, run: () => eng.copies.sigmoid(plan, { grad: eo, loss: null }) });
    const resident = eng.resident('sigmoid', plan);
    list.push({ name: '~resident', hidden: true, run: resident });
    residentCheck = resident() - pkg.sigmoidFocalLoss(x, y, opts);
  }
  if (floorLoad.floor) {
    const f = floorLoad.floor.prepare(logits);
    list.push({ name: 'floor', before: f.before, run: () => (f.run(), null) });
  }
  if (Math.abs(residentCheck) > 1e-9) throw new Error(`the resident (zero-copy) kernel call disagrees with the package by ${residentCheck}`);
  return { list, logits };
}

// ---------------------------------------------------------------- run

const loadBefore = loadavg();
const started = new Date();
const results = [];
let memory = null;
console.log(`focal-loss bench: ${REPS} timed batches per contender (median), ${WARMUP} warm-up, round-robin; γ = ${GAMMA}, reduction 'mean', loss + gradient`);
console.log(`load average before: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
if (!floorLoad.floor) console.log(`floor: ${floorLoad.reason}`);

const only = argv.includes('--cases') ? new RegExp(argv[argv.indexOf('--cases') + 1]) : null;
for (const cs of CASES.filter((c) => !only || only.test(`${c.dtype} ${c.id}`))) {
  const { list, logits } = contenders(cs);
  const n = logits.length;
  const memBefore = pkg.wasmMemoryBytes();
  // Warm-up, and the agreement check against the package's loss and gradient.
  const ref = list[0].run();
  const refGrad = Float64Array.from(ref.grad);
  const notes = [];
  for (const c of list) {
    c.times = [];
    for (let w = 0; w < WARMUP; w++) {
      if (c.backend) await useBackend(c.backend);
      if (c.before) c.before();
      const t0 = performance.now();
      const r = c.run();
      const dt = performance.now() - t0;
      if (c.lossRel === undefined && r && typeof r.loss === 'number' && !c.hidden && c.name !== 'package') {
        c.lossRel = relDiff(r.loss, ref.loss);
        c.gradRel = maxRelGrad(r.grad, refGrad);
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
  const row = { case: cs, n, memBefore, memAfter, by: {} };
  for (const c of list) {
    const ms = c.skipped ? NaN : median(c.times);
    // Time per full batch (a shrunk contender's time scaled up to the full batch, for the ratios).
    const full = c.n ? (ms * n) / c.n : ms;
    row.by[c.name] = { ms: full, mlps: n / full / 1e3, lossRel: c.lossRel, gradRel: c.gradRel, skipped: c.skipped, shrunk: c.shrunk, min: Math.min(...c.times) };
  }
  results.push(row);
  if (!memory || n * (cs.dtype === 'f32' ? 4 : 8) > memory.bytes) memory = { id: `${cs.id} ${cs.dtype}`, bytes: n * (cs.dtype === 'f32' ? 4 : 8), before: memBefore, after: memAfter };
  const p = row.by.package;
  const line = list.filter((c) => !c.hidden).map((c) => `${c.name} ${c.skipped ? 'skipped' : row.by[c.name].mlps.toFixed(1)}`).join(' | ');
  console.log(`${cs.dtype} ${cs.id} (${(n / 1e6).toFixed(2)}M logits): ${line}  [M logits/s]`);
  for (const c of list.filter((c) => c.lossRel !== undefined)) {
    console.log(`    ${c.name}: loss rel. diff vs package ${c.lossRel.toExponential(2)}, grad max diff / max|grad| ${c.gradRel.toExponential(2)}`);
  }
  const b = row.by;
  console.log(`    breakdown: package ${p.ms.toFixed(2)} ms = validation ${b['~plan'].ms.toFixed(2)} + engine ${b['~engine'].ms.toFixed(2)} (of which copies ${b['~copies'].ms.toFixed(2)}); in place without copies ${b['~resident'].ms.toFixed(2)}; wasm memory ${memBefore} → ${memAfter} bytes`);
  for (const c of list) if (c.skipped || c.shrunk) console.log(`    ${c.name}: ${c.skipped ?? c.shrunk}`);
  for (const w of wasmArrays.splice(0)) w.free();
}
const loadAfter = loadavg();
if (results.length === 0) {
  console.error('no case matched --cases');
  process.exit(1);
}

// ---------------------------------------------------------------- report

const f1 = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '—');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) ? a / b : NaN);
const fr = (x) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×` : '—');
const names = ['package', 'package (no out)', 'package (wasm arrays)', 'plain JS', 'tfjs-wasm', 'tfjs-cpu', 'floor'];

const header = `| case | dtype | M logits | ${names.join(' | ')} | package / plain JS | package / tfjs-wasm | floor / package |`;
const sep = `|${'---|'.repeat(3 + names.length + 3)}`;
const rows = results.map((r) => {
  const b = r.by;
  const cells = names.map((nm) => (b[nm] ? (b[nm].skipped ? 'skipped' : f1(b[nm].mlps)) : 'n/a'));
  const pkgMs = b.package.ms;
  return `| ${r.case.id} | ${r.case.dtype} | ${(r.n / 1e6).toFixed(2)} | ${cells.join(' | ')} | ${fr(ratio(b['plain JS']?.ms, pkgMs))} | ${fr(ratio(b['tfjs-wasm']?.ms, pkgMs))} | ${fr(ratio(pkgMs, b.floor?.ms))} |`;
});
const table = [header, sep, ...rows].join('\n');

const breakdownHeader = '| case | dtype | package call (ms) | validation (ms) | engine: copies + kernel (ms) | copies only (ms) | in place, no copies (ms) | copies / call | validation / call | call / in place |';
const breakdown = [breakdownHeader, `|${'---|'.repeat(10)}`, ...results.map((r) => {
  const b = r.by;
  const call = b.package.ms;
  const pc = (x) => `${((100 * x) / call).toFixed(0)}%`;
  return `| ${r.case.id} | ${r.case.dtype} | ${call.toFixed(2)} | ${b['~plan'].ms.toFixed(2)} | ${b['~engine'].ms.toFixed(2)} | ${b['~copies'].ms.toFixed(2)} | ${b['~resident'].ms.toFixed(2)} | ${pc(b['~copies'].ms)} | ${pc(b['~plan'].ms)} | ${fr(call / b['~resident'].ms)} |`;
})].join('\n');

const agreement = results.flatMap((r) => Object.entries(r.by)
  .filter(([, v]) => v.lossRel !== undefined)
  .map(([nm, v]) => `| ${r.case.id} | ${r.case.dtype} | ${nm} | ${v.lossRel.toExponential(1)} | ${v.gradRel.toExponential(1)} |`));

// Targets
const verdicts = [];
const get = (id, dtype) => results.find((r) => r.case.id === id && r.case.dtype === dtype);
for (const r of results.filter((r) => r.case.dtype === 'f32')) {
  const b = r.by;
  const fp = ratio(b.package.ms, b.floor?.ms);
  const vsPlain = ratio(b['plain JS'].ms, b.package.ms);
  const vsTf = ratio(b['tfjs-wasm']?.ms, b.package.ms);
  const ceiling = ratio(b['plain JS'].ms, b.floor?.ms); // the best package / plain JS any kernel at the floor could reach
  const why = (vs, need) => (vs >= need || !Number.isFinite(ceiling) ? '' : ` — the floor itself is only ${ceiling.toFixed(1)}× faster than plain JS here${ceiling < need ? `, so ${need}× is out of reach on this machine` : ''}`);
  const fw = ratio(b['package (wasm arrays)'].ms, b.floor?.ms);
  if (r.case.kind === 'softmax') {
    verdicts.push(`- ${r.case.id} f32: floor/package ${fr(fp)} (target ≤ 1.3: ${Number.isFinite(fp) ? (fp <= 1.3 ? 'met' : 'NOT met') : 'no floor'}; with wasm arrays ${fr(fw)}); package/plain ${fr(vsPlain)} (≥ 20×: ${vsPlain >= 20 ? 'met' : 'NOT met'}${why(vsPlain, 20)}); package/tfjs-wasm ${fr(vsTf)} (≥ 20×: ${vsTf >= 20 ? 'met' : 'NOT met'})`);
  } else {
    verdicts.push(`- ${r.case.id} f32: floor/package ${fr(fp)} (target ≤ 2.5: ${Number.isFinite(fp) ? (fp <= 2.5 ? 'met' : 'NOT met') : 'no floor'}; with wasm arrays ${fr(fw)}); package/plain ${fr(vsPlain)} (≥ 20×: ${vsPlain >= 20 ? 'met' : 'NOT met'}${why(vsPlain, 20)})`);
  }
}
for (const r of results.filter((r) => r.case.dtype === 'f64')) {
  const f32 = get(r.case.id, 'f32');
  const slow = ratio(r.by.package.ms, f32.by.package.ms);
  verdicts.push(`- ${r.case.id}: f64 takes ${fr(slow)} the f32 time (target ≤ 2.5×: ${slow <= 2.5 ? 'met' : 'NOT met'})`);
}

{
  const share = (r, k) => r.by[k].ms / r.by.package.ms;
  const worstCopy = results.reduce((w, r) => (share(r, '~copies') > share(w, '~copies') ? r : w));
  const worstPlan = results.reduce((w, r) => (share(r, '~plan') > share(w, '~plan') ? r : w));
  const pct = (x) => `${(100 * x).toFixed(0)}%`;
  const gain = (r) => r.by.package.ms / r.by['package (wasm arrays)'].ms;
  const best = results.reduce((w, r) => (gain(r) > gain(w) ? r : w));
  verdicts.push(`- copies in/out of the scratch area: at most ${pct(share(worstCopy, '~copies'))} of the call (${worstCopy.case.id} ${worstCopy.case.dtype}); threshold 15%: ${share(worstCopy, '~copies') <= 0.15 ? 'below' : 'ABOVE'}. Callers who keep logits, targets and \`out\` in wasm arrays (\`allocateWasmArray\`) have no copies: the "package (wasm arrays)" column, up to ${fr(gain(best))} the speed of "package" (${best.case.id} ${best.case.dtype})`);
  verdicts.push(`- argument validation (JS): at most ${pct(share(worstPlan, '~plan'))} of the call (${worstPlan.case.id} ${worstPlan.case.dtype})`);
}

const packageInfo = (() => {
  const bytes = readFileSync(new URL('../dist/focal_loss.wasm', import.meta.url));
  const x = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
  const simd = typeof x.focal_simd128 === 'function' ? (x.focal_simd128() ? 'SIMD128 kernels' : 'scalar kernels') : 'kernels (no focal_simd128 export)';
  return `dist/focal_loss.wasm, ${bytes.length} bytes, ${simd} (what the Node entry loads when the runtime has SIMD128)`;
})();

const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? cpus()[0]?.model ?? 'unknown';
const machine = `${cpuModel}, ${cpus().length} cores, Node ${process.version}, ${process.platform}/${process.arch}`;
const loads = `load average (1/5/15 min) ${loadBefore.map((x) => x.toFixed(2)).join(' / ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} after`;
const skipped = results.flatMap((r) => Object.entries(r.by).filter(([, v]) => v.skipped || v.shrunk).map(([nm, v]) => `- ${r.case.id} ${r.case.dtype}, ${nm}: ${v.skipped ?? v.shrunk}`));

console.log('\n' + table + '\n');
console.log(breakdown + '\n');
console.log(`wasm memory around the largest batch (${memory.id}): ${memory.before} → ${memory.after} bytes${memory.before === memory.after ? ' (unchanged)' : ' (CHANGED)'}`);
console.log(verdicts.join('\n'));
console.log(`\n${machine}; ${loads}\n${packageInfo}`);

if (WRITE) {
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
- **Package:** ${packageInfo}
- **TensorFlow.js:** ${tfjsInfo()}
- **Floor:** ${floorLoad.floor ? `bench/floor/floor.wasm (${floorLoad.floor.exportsUsed}; ${floorLoad.floor.scratchBytes} bytes of scratch)` : floorLoad.reason}

${table}

Contenders: **package** — \`softmaxFocalLossWithGrad\` / \`sigmoidFocalLossWithGrad\` with a reused \`out\` buffer;
**package (no out)** — the same call allocating its gradient; **package (wasm arrays)** — the same call with logits,
targets and \`out\` allocated inside wasm memory (\`allocateWasmArray\`), so the kernel runs on them in place with no
copies (softmax class indices as an Int32Array); **plain JS** — \`bench/plain.mjs\`, the seed formula
−α_t(1−p_t)^γ log p_t written by hand (max-subtracted softmax, \`Math.pow\`, the textbook gradient; what TypeScript
compiles such a loop to); **tfjs-wasm / tfjs-cpu** — \`bench/tfjs.mjs\`, the same loss composed from tfjs ops
(logSoftmax, oneHot, exp, pow, mul, sum, mean; channels-first is transposed to channels-last) under
\`tf.valueAndGrad\`, including making the tensors from the typed arrays and reading loss and gradient back; tfjs has no
float64, so the f64 rows have no tfjs; **floor** — one SIMD exp and one store per logit (\`bench/floor/\`), no copies,
no reductions. Ratios are time ratios: package / plain JS = plain JS time ÷ package time (how many times faster),
floor / package = package time ÷ floor time (how far above the floor).
${skipped.length ? `\nShrunk or skipped:\n${skipped.join('\n')}\n` : ''}
## Targets

${verdicts.join('\n')}

## Same computation

Every contender's loss (relative difference) and gradient (max |difference| / max |gradient|) against the package's on
the same inputs (first warm-up call):

| case | dtype | contender | loss rel. diff | grad diff |
|---|---|---|---|---|
${agreement.join('\n')}

## Where the time goes: validation and copies

The public call validates its arguments (\`ts/options.ts\`), then the engine (\`ts/engine.ts\`) streams the batch through
the fixed 256 KiB scratch area in wasm memory: copy a chunk of logits and targets in, run the kernel, copy the
gradient out. \`bench/instrument.mjs\` runs the package's own engine and validation (transpiled from \`ts/\`) over a second
instance of \`dist/focal_loss.wasm\`, once with the real kernels and once with the kernels replaced by a no-op, in the
same round-robin. "copies only" is therefore the copy-in/copy-out traffic plus the chunk loop's bookkeeping. "in place,
no copies" is one kernel call over the whole batch already sitting in (grown) wasm memory — what a call on wasm arrays
(\`allocateWasmArray\`, the "package (wasm arrays)" contender) does after validating; "call / in place" is how much the
public call on ordinary arrays costs over it.

${breakdown}

## Memory

\`wasmMemoryBytes()\` at the start: ${memStart} bytes (the module's own memory plus the 256 KiB scratch area). Calls on
ordinary arrays never grow it, whatever the batch size; only wasm arrays do, by their own size (each case's are freed
and reused by the next). Before and after all of a case's timed calls, around the largest batch (${memory.id},
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
