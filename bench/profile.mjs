// Where a small call's time goes: a CPU profile (node --cpu-prof) of a loop of small calls with
// `out` (softmax 1 × 10 and sigmoid 100 elements, float32, alternating), summarised as the share
// of self time per function, with the young-generation collections the loop caused.
//
//   node bench/profile.mjs [--dist DIR] [--calls 200000] [--top 20]
//
// --dist: another build's dist/ folder (e.g. a copy made before a change) instead of ./dist.
//
// Then the kernels alone on the small calls' sizes: one raw kernel call on data already in wasm
// memory, the header written once (no validation, no copies, no header writes) — what a call of any
// JavaScript path costs at least. Best of 30 rounds, µs per call.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { instrumentedEngines } from './instrument.mjs';
import { minorGCs } from './small.mjs';
import { rng } from './rng.mjs';
import { FIELDS } from './header.mjs';

/** µs per raw kernel call (float32, gradient written) for `n` sigmoid elements or `n` softmax rows of C classes. */
function rawKernel(file, kind, n, C = 1) {
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {}).exports;
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
  const reps = Math.max(50, Math.floor(100_000 / len));
  let best = Infinity;
  for (let round = 0; round < 30; round++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) if (k(base) !== 0) throw new Error(`${kind} ${n}: status ${k(base)}`);
    best = Math.min(best, ((performance.now() - t0) * 1000) / reps);
  }
  return best;
}

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const dist = resolve(opt('dist', new URL('../dist', import.meta.url).pathname));
const calls = Number(opt('calls', 200_000));

if (argv.includes('--child')) {
  const pkg = await import(pathToFileURL(join(dist, 'node.js')).href);
  const z = Float32Array.from({ length: 10 }, (_, i) => i * 0.3 - 1);
  const t = new Int32Array([3]);
  const out = new Float32Array(10);
  const x = Float32Array.from({ length: 100 }, (_, i) => (i % 7) - 3);
  const y = Uint8Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? 1 : 0));
  const out2 = new Float32Array(100);
  const pair = () =>
    pkg.softmaxFocalLossWithGrad(z, t, { classes: 10, gamma: 2, out }).loss +
    pkg.sigmoidFocalLossWithGrad(x, y, { gamma: 2, alpha: 0.25, out: out2 }).loss;
  const t0 = performance.now();
  const gcs = await minorGCs(pair, calls / 2);
  console.log(JSON.stringify({ us: ((performance.now() - t0) * 1000) / calls, gcs }));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'focal-profile-'));
  const r = spawnSync(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      new URL(import.meta.url).pathname,
      '--child',
      '--dist',
      dist,
      '--calls',
      String(calls),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const { us, gcs } = JSON.parse(r.stdout.trim().split('\n').pop());
  const profile = JSON.parse(
    readFileSync(
      join(
        dir,
        readdirSync(dir).find((f) => f.endsWith('.cpuprofile')),
      ),
      'utf8',
    ),
  );
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = nodes.get(id).callFrame;
    const where = f.url ? `${f.url.split('/').pop()}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ` (${where.startsWith('wasm') || /^[0-9a-f]+$/.test(where) ? 'wasm' : where})` : ''}`;
    self.set(key, (self.get(key) ?? 0) + profile.timeDeltas[i]);
    total += profile.timeDeltas[i];
  });
  console.log(
    `${dist}: ${calls} calls (softmax 1×10 and sigmoid 100, float32, out), ${us.toFixed(2)} µs per call on average (profiler on), ${gcs} young-generation collections (${((gcs * 100_000) / calls).toFixed(0)} per 100,000 calls)`,
  );
  console.log('self time:');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('top', 20))))
    console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}`);
  const wasm = join(dist, 'focal_loss.wasm');
  const raw = [
    ...[1, 2, 8, 32, 128, 1024].map((n) => `softmax ${n}×10 ${rawKernel(wasm, 'softmax', n, 10).toFixed(2)}`),
    ...[1, 16, 100, 1000].map((n) => `sigmoid ${n} ${rawKernel(wasm, 'sigmoid', n).toFixed(2)}`),
  ];
  console.log(`raw kernel calls (µs, best of 30 rounds; data in place, header written once): ${raw.join(', ')}`);
  // The engine alone (ts/engine.ts from source over dist/focal_loss.wasm): runs of plans validated once.
  const eng = await instrumentedEngines();
  const z = Float32Array.from({ length: 10 }, (_, i) => i * 0.3 - 1);
  const out = new Float32Array(10);
  const t = new Int32Array([3]);
  const plan = eng.softmaxPlan(z, t, { classes: 10, gamma: 2, out });
  const x = Float32Array.from({ length: 100 }, (_, i) => (i % 7) - 3);
  const out2 = new Float32Array(100);
  const plan2 = eng.elementPlans.sigmoid(
    x,
    Uint8Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? 1 : 0)),
    { out: out2 },
  );
  const engineGCs = await minorGCs(
    () => eng.real.run(plan, out, null).sum + eng.real.run(plan2, out2, null).sum,
    50_000,
  );
  const validationGCs = await minorGCs(() => eng.softmaxPlan(z, t, { classes: 10, gamma: 2, out }).count, 100_000);
  console.log(
    `young-generation collections per 100,000 calls: the engine alone (ts/engine.ts running plans made once, softmax 1×10 and sigmoid 100 alternating) ${engineGCs}; the softmax 1×10 validation alone (ts/options.ts softmaxPlan) ${validationGCs}`,
  );
}
