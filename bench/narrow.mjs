// The softmax kernel on narrow rows and channels-first, several builds of the .wasm side by side
// (issue 19: items in lanes on pairs of vectors). Two modes:
//
//   node bench/narrow.mjs --wasm old.wasm,new.wasm [--reps 31] [--cases REGEX]
//     one kernel call in place over a batch already in wasm memory (no engine, no copies, no JS
//     validation), the builds round-robin (one call of each in turn, then the exp floor of
//     bench/floor/floor.wasm on the same elements). Prints, per build, the median, the spread
//     (half the interquartile range) and the minimum of both the wall time and the process's CPU
//     time per call (process.cpuUsage: on a shared, loaded machine the wall time also counts the
//     time the process waited for a core; the CPU time does not), and new / old of each.
//
//   node bench/narrow.mjs --call old-dist,new-dist [--reps 31] [--cases REGEX]
//     the same through the public call instead (`softmaxFocalLossWithGrad` with a reused `out`,
//     γ = 2, 'mean': validation, the engine's copies through the scratch area and the kernel) of
//     each dist/ folder's node.js, one module instance each, round-robin with the floor.
//
//   node bench/narrow.mjs --check --wasm old.wasm,new.wasm [--rounds 40]
//     the same random inputs through every build, over every option the softmax kernel takes
//     (class indices with the ignore index, weights, alpha scalar or per class, Poly-1, label
//     smoothing, probability targets, γ = 0, integer, fractional; with and without loss_out and
//     grad_out; f32 and f64; C = 1 … 17 and wider, channels-first, batch sizes that are not a
//     multiple of any group's lanes): every loss, gradient entry and the sum must have the same
//     bits in every build (NaN payloads aside). Exits 1 on the first difference.
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { rng } from './rng.mjs';
import { rawBuild } from './header.mjs';

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

/** One instance of a build; `call(c)` places case c in its memory and returns { run, read }. */
function instance(file) {
  const { x, mem, off, reset, alloc, put: putBytes, write: writeHeader } = rawBuild(file);
  return (c) => {
    reset();
    const T = c.dtype === 'f32' ? 4 : 8;
    const F = T === 4 ? Float32Array : Float64Array;
    const n = c.logits.length,
      items = c.batch * c.spatial;
    const header = alloc(256);
    const put = (arr, Ctor) => putBytes(arr && (arr instanceof Ctor ? arr : Ctor.from(arr)));
    const h = {
      batch: c.batch,
      classes: c.classes,
      spatial: c.spatial,
      ignore_index: -100,
      logits: put(c.logits, F),
      target_indices: put(c.indices, Int32Array),
      target_values: put(c.probs, F),
      alpha: put(c.alphaPerClass, F),
      pos_weight: 0,
      weights: put(c.weights, F),
      loss_out: c.lossOut ? alloc(items * T) : 0,
      grad_out: alloc(n * T),
      loss_kind: 0,
      flags: 0,
      error_index: 0,
      reserved: 0,
      alpha_scalar: c.alpha ?? 1,
      gamma: c.gamma ?? 2,
      gamma_neg: 0,
      beta: 0,
      clip: 0,
      pos_weight_scalar: 1,
      poly_epsilon: c.poly ?? 0,
      label_smoothing: c.smoothing ?? 0,
      grad_scale: 1 / items,
      sum: 0,
      positives: 0,
    };
    const fn = x[`focal_softmax_${c.dtype}`];
    const gradOut = h.grad_out;
    const run = (grad = c.grad !== false) => {
      h.grad_out = grad ? gradOut : 0;
      writeHeader(header, h);
      const st = fn(header);
      if (st !== 0) throw new Error(`${file}: ${c.id} status ${st}`);
    };
    const read = () => ({
      sum: new DataView(mem.buffer).getFloat64(header + off.sum, true),
      grad: new F(mem.buffer, gradOut, n).slice(),
      loss: h.loss_out ? new F(mem.buffer, h.loss_out, items).slice() : new F(0),
    });
    return { run, read };
  };
}

/** Logits of a softmax batch: moderate values, the target's raised (as bench/kernel.mjs). */
function benchCase(dtype, N, C, S = 1) {
  const r = rng(7);
  const F = dtype === 'f32' ? Float32Array : Float64Array;
  const z = new F(N * C * S);
  for (let i = 0; i < z.length; i++) z[i] = (r() + r() + r() - 1.5) * 4;
  const t = new Int32Array(N * S);
  for (let n = 0; n < N; n++)
    for (let s = 0; s < S; s++) {
      t[n * S + s] = Math.floor(r() * C);
      z[n * C * S + t[n * S + s] * S + s] += 3;
    }
  return {
    id: `softmax ${N}×${C}${S > 1 ? `×${S}` : ''} ${dtype}`,
    dtype,
    batch: N,
    classes: C,
    spatial: S,
    logits: z,
    indices: t,
    alpha: 0.25,
    gamma: 2,
  };
}

function floorRunner(c) {
  const f = new URL('floor/floor.wasm', import.meta.url);
  if (!existsSync(f)) return null;
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), {}).exports;
  const T = c.dtype === 'f32' ? 4 : 8;
  const F = T === 4 ? Float32Array : Float64Array;
  const base = Math.ceil(x.memory.buffer.byteLength / 64) * 64;
  const need = base + c.logits.length * T;
  if (need > x.memory.buffer.byteLength) x.memory.grow(Math.ceil((need - x.memory.buffer.byteLength) / 65536));
  const fn = T === 4 ? x.floor_f32 : x.floor_f64;
  return {
    before: () => new F(x.memory.buffer, base, c.logits.length).set(c.logits),
    run: () => fn(base, c.logits.length),
  };
}

/** [wall ms, cpu ms] of f(). */
function timed(f) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  return [t1 - t0, (c1.user + c1.system) / 1000];
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[xs.length >> 1];
const halfIqr = (xs) => {
  const s = sorted(xs);
  return (s[Math.floor(s.length * 0.75)] - s[Math.floor(s.length * 0.25)]) / 2;
};
const fmt = (xs) =>
  `${median(xs).toFixed(2)} ±${((halfIqr(xs) / median(xs)) * 100).toFixed(0)}% (min ${Math.min(...xs).toFixed(2)})`;

/** `instance` for the public call of a dist/ folder's node.js. */
async function callInstance(dir) {
  const api = await import(new URL(`file://${dir.replace(/\/$/, '')}/node.js`).href);
  return (c) => {
    const F = c.dtype === 'f32' ? Float32Array : Float64Array;
    const out = new F(c.logits.length);
    const opts =
      c.spatial > 1 ? { shape: [c.batch, c.classes, c.spatial], gamma: 2, out } : { classes: c.classes, gamma: 2, out };
    return { run: () => api.softmaxFocalLossWithGrad(c.logits, c.indices, opts) };
  };
}

async function bench() {
  const REPS = Number(opt('reps', 31));
  const CASES = new RegExp(opt('cases', '.'));
  const cases = [
    () => benchCase('f32', 65536, 10),
    () => benchCase('f64', 65536, 10),
    () => benchCase('f32', 65536, 3),
    () => benchCase('f32', 32768, 16),
    () => benchCase('f32', 16384, 100),
    () => benchCase('f32', 4, 19, 16384),
    () => benchCase('f64', 4, 19, 16384),
  ];
  const makers = CALL ? await Promise.all(files.map(callInstance)) : files.map(instance);
  const cols = names.flatMap((n) => [`${n} wall`, `${n} cpu`]);
  const ratio = names.length > 1 ? [`${names.at(-1)} / ${names[0]} (wall, cpu medians; minima)`] : [];
  const above = names.map((n) => `${n} / floor (cpu medians)`);
  console.log(`| case | ${cols.join(' | ')} | floor wall | floor cpu | ${ratio.join(' | ')} | ${above.join(' | ')} |`);
  console.log(
    `|---|${cols.map(() => '---|').join('')}---|---|${ratio.map(() => '---|').join('')}${above.map(() => '---|').join('')}`,
  );
  for (const make of cases) {
    const c = make();
    if (!CASES.test(c.id)) continue;
    const runs = makers.map((m) => m(c));
    const floor = floorRunner(c);
    const wall = runs.map(() => []),
      cpu = runs.map(() => []),
      fw = [],
      fu = [];
    for (let rep = 0; rep < REPS + 3; rep++) {
      runs.forEach((r, i) => {
        const [w, u] = timed(() => r.run());
        if (rep >= 3) wall[i].push(w), cpu[i].push(u);
      });
      if (floor) {
        floor.before();
        const [w, u] = timed(floor.run);
        if (rep >= 3) fw.push(w), fu.push(u);
      }
    }
    const cells = runs.flatMap((_, i) => [fmt(wall[i]), fmt(cpu[i])]);
    const last = runs.length - 1;
    const r = (a, b) => (a / b).toFixed(3);
    const rc =
      runs.length > 1
        ? [
            `${r(median(wall[last]), median(wall[0]))}, ${r(median(cpu[last]), median(cpu[0]))}; ${r(Math.min(...wall[last]), Math.min(...wall[0]))}, ${r(Math.min(...cpu[last]), Math.min(...cpu[0]))}`,
          ]
        : [];
    const ab = cpu.map((u) => (floor ? `${(median(u) / median(fu)).toFixed(2)}×` : 'n/a'));
    console.log(
      `| ${c.id} | ${cells.join(' | ')} | ${floor ? fmt(fw) : 'n/a'} | ${floor ? fmt(fu) : 'n/a'} | ${rc.join(' | ')} | ${ab.join(' | ')} |`,
    );
  }
}

/** A random softmax case exercising the options (see the header comment). */
function checkCase(r, dtype, layout) {
  const { batch, classes: C, spatial: S } = layout;
  const F = dtype === 'f32' ? Float32Array : Float64Array;
  const items = batch * S,
    n = items * C;
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const masked = r() < 0.2;
  const z = new F(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 20);
    z[i] =
      k === 0
        ? (r() - 0.5) * 2e4
        : k === 1
          ? (r() - 0.5) * 200
          : k === 2 && masked
            ? -Infinity
            : k === 3
              ? 30 + r()
              : (r() - 0.5) * 12;
  }
  const kind = pick(['indices', 'indices', 'indices', 'smoothing', 'probs']);
  const c = { dtype, ...layout, logits: z, id: `${dtype} ${batch}×${C}×${S} ${kind}` };
  if (kind === 'probs') {
    const q = new F(n);
    for (let b = 0; b < batch; b++)
      for (let s = 0; s < S; s++) {
        const w = [];
        for (let k = 0; k < C; k++) w.push(r() < 0.3 ? 0 : r());
        if (w.every((v) => v === 0)) w[0] = 1;
        const tot = w.reduce((a, v) => a + v, 0);
        for (let k = 0; k < C; k++) q[b * C * S + k * S + s] = w[k] / tot;
      }
    c.probs = q;
  } else {
    const t = new Int32Array(items);
    for (let i = 0; i < items; i++) t[i] = r() < 0.1 ? -100 : Math.floor(r() * C);
    // Some targets the arg-max by a wide margin: p_t → 1, the stable 1 − p_t path.
    for (let i = 0; i < items; i++)
      if (t[i] >= 0 && r() < 0.25) {
        const b = Math.floor(i / S),
          s = i % S;
        z[b * C * S + t[i] * S + s] = 60 + r() * 40;
      }
    c.indices = t;
    if (kind === 'smoothing') c.smoothing = pick([0.1, 0.3]);
  }
  if (r() < 0.5) c.weights = F.from({ length: items }, () => r() * 3);
  const a = pick(['none', 'scalar', 'per-class']);
  if (a === 'scalar') c.alpha = 0.25;
  if (a === 'per-class') c.alphaPerClass = F.from({ length: C }, () => r());
  c.gamma = pick([0, 0.5, 1, 2, 3, 3.7, 5]);
  c.poly = pick([0, 0, 1, -0.5, 2]);
  c.lossOut = r() < 0.7;
  c.grad = r() < 0.85;
  c.id += ` γ ${c.gamma} ε ${c.poly} α ${a}${c.weights ? ' w' : ''}${c.smoothing ? ` ls ${c.smoothing}` : ''}${c.grad ? '' : ' no grad'}`;
  return c;
}

function check() {
  const rounds = Number(opt('rounds', 40));
  const r = rng(Number(opt('seed', 19)));
  const makers = files.map(instance);
  const same = (a, b) =>
    a.length === b.length && a.every((v, i) => Object.is(v, b[i]) || (Number.isNaN(v) && Number.isNaN(b[i])));
  let count = 0;
  const perC = {};
  for (let round = 0; round < rounds; round++) {
    for (const dtype of ['f32', 'f64']) {
      const layouts = [];
      for (const C of [1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 31, 100]) {
        layouts.push({ batch: Math.floor(r() * 23) + 1, classes: C, spatial: 1 });
      }
      for (const [C, S] of [
        [1, 5],
        [2, 3],
        [3, 9],
        [5, 16],
        [10, 13],
        [19, 7],
        [21, 1],
        [4, 2],
        [16, 33],
      ]) {
        layouts.push({ batch: Math.floor(r() * 3) + 1, classes: C, spatial: S });
      }
      for (const layout of layouts) {
        const c = checkCase(r, dtype, layout);
        const outs = makers.map((m) => {
          const k = m(c);
          k.run();
          return k.read();
        });
        for (let i = 1; i < outs.length; i++) {
          const ok =
            same([outs[i].sum], [outs[0].sum]) &&
            same(outs[i].loss, outs[0].loss) &&
            (!c.grad || same(outs[i].grad, outs[0].grad));
          if (!ok) {
            console.error(
              `DIFFERENT (${names[i]} vs ${names[0]}): round ${round} ${c.id}: sum ${outs[i].sum} vs ${outs[0].sum}`,
            );
            process.exit(1);
          }
        }
        count++;
        const key = `${layout.spatial > 1 ? 'channels-first' : `C=${layout.classes}`}`;
        perC[key] = (perC[key] ?? 0) + 1;
      }
    }
  }
  if (count !== rounds * 2 * 23) throw new Error(`expected ${rounds * 2 * 23} cases, ran ${count}`);
  console.log(`${count} cases, every loss, gradient and sum bit for bit the same in ${names.join(', ')}`);
  console.log(
    Object.entries(perC)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', '),
  );
}

if (argv.includes('--check')) check();
else await bench();
