// Where a small call's time goes: a CPU profile (node --cpu-prof) of a loop of small calls with
// `out` (softmax 1 × 10 and sigmoid 100 elements, float32, alternating), summarised as the share
// of self time per function, with the young-generation collections the loop caused.
//
//   node bench/profile.mjs [--dist DIR] [--calls 200000] [--top 20]
//
// --dist: another build's dist/ folder (e.g. a copy made before a change) instead of ./dist.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { minorGCs } from './small.mjs';

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
  const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, new URL(import.meta.url).pathname, '--child', '--dist', dist, '--calls', String(calls)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const { us, gcs } = JSON.parse(r.stdout.trim().split('\n').pop());
  const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))), 'utf8'));
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
  console.log(`${dist}: ${calls} calls (softmax 1×10 and sigmoid 100, float32, out), ${us.toFixed(2)} µs per call on average (profiler on), ${gcs} young-generation collections (${((gcs * 100_000) / calls).toFixed(0)} per 100,000 calls)`);
  console.log('self time:');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('top', 20)))) console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}`);
}
