// Where a small call's time goes. Three parts, in one process:
//
// 1. A CPU profile (node:inspector, started after the warm-up and stopped after the loop, so start-up is left out) of a
//    loop of small calls with `out` (softmax 1 × 10 and sigmoid 100 elements, float32, alternating; a literal options
//    object per call, as a caller writes it), summarised as the share of self time per function and per part of the
//    call: validation (everything under softmaxPlan / elementPlan), the engine (Engine.run and what it calls, the
//    kernels apart), the kernels (wasm), the garbage collector, and the rest of the call (index.ts, the plan pool, the
//    result object, the loop). With the young-generation collections of the loop.
// 2. Ablations, timed round-robin in batches (best of the rounds, µs per call, and × the floor call of
//    bench/small.mjs): the floor call; a raw kernel call on data already in wasm memory with the header written once
//    (no validation, no copies: what any JavaScript path costs at least); the engine alone (ts/engine.ts from source
//    over dist/'s .wasm, running a plan validated once) with the real kernels and with no-op kernels (its own cost:
//    header, copies, bookkeeping); the validation alone (ts/options.ts from source, into one plan cleared after each call); the public call.
// 3. The raw kernels on every small size of bench/small.mjs.
//
//   node bench/profile.mjs [--dist DIR] [--calls 200000] [--top 20] [--rounds 21]
//
// --dist: another build's dist/ folder (e.g. a copy made before a change) instead of ./dist, for parts 1 and 3 and the
// raw kernels and public call of part 2 (the engine and validation ablations always run this tree's ts/ sources over
// this tree's dist/focal_loss.wasm: bench/instrument.mjs).
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { FIELDS } from './header.mjs';
import { instrumentedEngines } from './instrument.mjs';
import { rng } from './rng.mjs';
import { floorCall, minorGCs } from './small.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const dist = resolve(opt('dist', new URL('../dist', import.meta.url).pathname));
const calls = Number(opt('calls', 200_000));
const rounds = Number(opt('rounds', 21));
const wasmFile = join(dist, 'focal_loss.wasm');

/** A raw kernel call (float32, gradient written) for `n` sigmoid elements or `n` softmax rows of C classes: data in place, header written once. */
function rawKernel(kind, n, C = 1) {
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmFile)), {}).exports;
  const base = x.focal_scratch_ptr();
  const layout = new Uint32Array(x.memory.buffer, x.focal_header_layout(), 28);
  const softmax = kind === 'softmax';
  const len = n * C;
  const logits = base + 256,
    targets = logits + len * 4,
    grad = targets + len * 4;
  const r = rng(99);
  const f32 = new Float32Array(x.memory.buffer);
  for (let i = 0; i < len; i++) f32[logits / 4 + i] = (r() * 2 - 1) * 4;
  if (softmax) new Int32Array(x.memory.buffer, targets, n).forEach((_, i, a) => (a[i] = Math.floor(r() * C)));
  else for (let i = 0; i < n; i++) f32[targets / 4 + i] = r() < 0.1 ? 1 : 0;
  const h = {
    batch: n,
    classes: C,
    spatial: 1,
    ignore_index: -100,
    logits,
    target_indices: softmax ? targets : 0,
    target_values: softmax ? 0 : targets,
    grad_out: grad,
    alpha_scalar: softmax ? 1 : 0.25,
    gamma: 2,
    pos_weight_scalar: 1,
    grad_scale: 1 / len,
  };
  const dv = new DataView(x.memory.buffer);
  FIELDS.forEach((f, i) => {
    const at = base + layout[i + 1];
    if (layout[i + 1] >= layout[1 + FIELDS.indexOf('alpha_scalar')]) dv.setFloat64(at, h[f] ?? 0, true);
    else dv.setInt32(at, h[f] ?? 0, true);
  });
  const k = softmax ? x.focal_softmax_f32 : x.focal_elementwise_f32;
  const status = k(base);
  if (status !== 0) throw new Error(`${kind} ${n}: status ${status}`);
  return () => k(base);
}

/** Results of the timed calls, kept so that no call can be optimised away. */
const sink = { value: 0 };

/**
 * Times `list` ([name, fn] pairs) round-robin: each batch of a contender runs for ~`ms` (calibrated after a warm-up
 * long enough for the optimising compiler), `rounds` rounds; returns the best µs per call of each.
 */
function timeAll(list, ms = 2) {
  const ks = list.map(([, f]) => {
    for (let i = 0; i < 20_000; i++) sink.value += f();
    let k = 1;
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < k; i++) sink.value += f();
      if (performance.now() - t0 >= ms) return k;
      k *= 2;
    }
  });
  const best = list.map(() => Infinity);
  for (let r = 0; r < rounds; r++)
    list.forEach(([, f], j) => {
      const t0 = performance.now();
      for (let i = 0; i < ks[j]; i++) sink.value += f();
      best[j] = Math.min(best[j], ((performance.now() - t0) * 1000) / ks[j]);
    });
  return best;
}

const post = (session, method, params) =>
  new Promise((res, rej) => session.post(method, params, (e, r) => (e ? rej(e) : res(r))));

/** The inspector's CPU profile of `run` called `n` times (after a warm-up), with its µs per call. */
async function cpuProfile(run, n) {
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 50 });
  for (let i = 0; i < 20_000; i++) sink.value += run();
  await post(session, 'Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink.value += run();
  const us = ((performance.now() - t0) * 1000) / n;
  const { profile } = await post(session, 'Profiler.stop');
  session.disconnect();
  return { us, profile };
}

/** Self time per function and per part of the call (see the file's comment), leaving out the inspector's own. */
function summarise(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const part = new Map();
  const partOf = (id) => {
    if (part.has(id)) return part.get(id);
    const f = nodes.get(id).callFrame;
    const url = f.url ?? '';
    let p;
    if (f.functionName === '(garbage collector)') p = 'garbage collector';
    else if (url.startsWith('wasm') || /\.wasm/.test(url)) p = 'kernels';
    else if (f.functionName === 'softmaxPlan' || f.functionName === 'elementPlan') p = 'validation';
    else if (f.functionName === 'run' && nodes.get(parent.get(id))?.callFrame.functionName === 'compute') p = 'engine';
    else if (url === 'node:inspector') p = 'profiler';
    else if (f.functionName === '(program)' || f.functionName === '(idle)' || f.functionName === '(root)') p = 'other';
    else {
      const up = parent.get(id);
      p = up === undefined ? 'call' : partOf(up);
      if (p === 'other') p = 'call';
    }
    part.set(id, p);
    return p;
  };
  const self = new Map();
  const parts = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = nodes.get(id).callFrame;
    const url = f.url ?? '';
    const where = url ? (url.startsWith('wasm') || /\.wasm/.test(url) ? 'wasm' : url.split('/').pop()) : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    const dt = profile.timeDeltas[i];
    if (partOf(id) === 'profiler') return; // the inspector's own work, not the loop's
    self.set(key, (self.get(key) ?? 0) + dt);
    parts.set(partOf(id), (parts.get(partOf(id)) ?? 0) + dt);
    total += dt;
  });
  return { self, parts, total };
}

const pkg = await import(pathToFileURL(join(dist, 'node.js')).href);
const z = Float32Array.from({ length: 10 }, (_, i) => i * 0.3 - 1);
const t = new Int32Array([3]);
const out = new Float32Array(10);
const x = Float32Array.from({ length: 100 }, (_, i) => (i % 7) - 3);
const y = Uint8Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? 1 : 0));
const out2 = new Float32Array(100);
const softmaxCall = () => pkg.softmaxFocalLossWithGrad(z, t, { classes: 10, gamma: 2, out }).loss;
const sigmoidCall = () => pkg.sigmoidFocalLossWithGrad(x, y, { gamma: 2, alpha: 0.25, out: out2 }).loss;
const pair = () => softmaxCall() + sigmoidCall();

// 1. The profile.
const { us, profile } = await cpuProfile(pair, calls / 2);
const gcs = await minorGCs(pair, calls / 2);
const { self, parts, total } = summarise(profile);
const pct = (v) => `${((100 * v) / total).toFixed(1)}%`;
console.log(
  `${dist}: ${calls} calls (softmax 1×10 and sigmoid 100, float32, out, alternating), ${(us / 2).toFixed(2)} µs per call on average (profiler on), ${gcs} young-generation collections (${((gcs * 100_000) / calls).toFixed(0)} per 100,000 calls)`,
);
console.log(
  `parts of the loop's self time: ${[...parts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${pct(v)}`)
    .join(', ')}`,
);
console.log('self time:');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('top', 20))))
  console.log(`${pct(v).padStart(6)}  ${k}`);

// 2. The ablations.
const eng = await instrumentedEngines();
const plan = eng.softmaxPlan(z, t, { classes: 10, gamma: 2, out });
const plan2 = eng.elementPlans.sigmoid(x, y, { gamma: 2, alpha: 0.25, out: out2 });
// Validation into one plan, cleared after each call, as the public functions' pool does (a plan function returns the
// plan it filled, a PlanRecord).
const validate = (f) => {
  const record = f(undefined);
  record.clear();
  return () => {
    const r = f(record).count;
    record.clear();
    return r;
  };
};
const ablations = [
  ['floor call', floorCall()],
  ['raw kernel, softmax 1×10', rawKernel('softmax', 1, 10)],
  ['engine alone, no-op kernel, softmax 1×10', () => eng.copies.run(plan, out, null).sum],
  ['engine alone, softmax 1×10', () => eng.real.run(plan, out, null).sum],
  ['validation alone, softmax 1×10', validate((p) => eng.softmaxPlan(z, t, { classes: 10, gamma: 2, out }, false, p))],
  ['public call, softmax 1×10', softmaxCall],
  ['raw kernel, sigmoid 100', rawKernel('sigmoid', 100)],
  ['engine alone, no-op kernel, sigmoid 100', () => eng.copies.run(plan2, out2, null).sum],
  ['engine alone, sigmoid 100', () => eng.real.run(plan2, out2, null).sum],
  [
    'validation alone, sigmoid 100',
    validate((p) => eng.elementPlans.sigmoid(x, y, { gamma: 2, alpha: 0.25, out: out2 }, false, p)),
  ],
  ['public call, sigmoid 100', sigmoidCall],
];
const best = timeAll(ablations);
console.log(`ablations (µs per call, best of ${rounds} interleaved rounds; × the floor call):`);
ablations.forEach(([name], j) =>
  console.log(`  ${name.padEnd(42)} ${best[j].toFixed(3).padStart(7)}  ${(best[j] / best[0]).toFixed(1)}×`),
);

// 3. The raw kernels on every small size.
const sizes = [
  ...[1, 2, 8, 32, 128, 1024].map((n) => [`softmax ${n}×10`, rawKernel('softmax', n, 10)]),
  ...[1, 16, 100, 1000].map((n) => [`sigmoid ${n}`, rawKernel('sigmoid', n)]),
];
const raw = timeAll(sizes);
console.log(
  `raw kernel calls (µs, best of ${rounds} interleaved rounds; data in place, header written once): ${sizes.map(([n], j) => `${n} ${raw[j].toFixed(2)}`).join(', ')}`,
);
const engineGCs = await minorGCs(() => eng.real.run(plan, out, null).sum + eng.real.run(plan2, out2, null).sum, 50_000);
console.log(
  `young-generation collections per 100,000 calls of the engine alone (plans made once, softmax 1×10 and sigmoid 100 alternating): ${engineGCs}`,
);
