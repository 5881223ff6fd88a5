// The element-wise kernel (`focal_elementwise_f32/f64`) of several builds of the .wasm side by side, on the same
// random inputs, over every option the kernel takes, requiring the same bits from every build: a check that a
// change to the crate (a refactor, a speed-up) left every result as it was.
//
//   node bench/elementwise-check.mjs --wasm old.wasm,new.wasm [--rounds 300] [--seed 18]
//
// Each case is one raw kernel call (the header of bench/header.mjs, as bench/narrow.mjs --check does for the softmax
// kernel) with a random loss and options:
// - focal: γ integer, fractional, 0 or huge; α none / 0.25 / random; label smoothing; posWeight none, scalar or per
//   class; Poly-1 ε 0, > 0, < 0 (the series paths: ε = −α_t at confident logits);
// - quality (β), varifocal (α, γ, iouWeighted), asymmetric (γ₊, γ₋, clip 0 or not, detachFocalWeight);
// - dense targets (hard 0/1, soft, mixed, y = σ(x) up to rounding) or class indices (background C, ignore −100);
//   weights per element or per item; channels-last and channels-first; lengths that are not a multiple of any
//   vector or block; logits of every scale, ±∞ and NaN; with and without loss_out and grad_out; f32 and f64;
// - now and then an invalid parameter, whose status and error index must then agree.
// Every build must return the same status, sum, positives, per-element losses and gradient, bit for bit (signed
// zeros included), NaN payloads aside: which NaN an operation returns depends on its operands' order, which the
// compiler may swap, and on the CPU. Exits 1 on the first difference.
import { rawBuild } from './header.mjs';
import { rng } from './rng.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const files = opt('wasm', '').split(',').filter(Boolean);
if (files.length < 2) {
  console.error('usage: node bench/elementwise-check.mjs --wasm a.wasm,b.wasm[,...] [--rounds N] [--seed S]');
  process.exit(2);
}
const KIND = { focal: 0, quality: 1, varifocal: 2, asymmetric: 3 };
const FLAG_IOU_WEIGHTED = 1;
const FLAG_DETACH_FOCAL_WEIGHT = 2;

/** One instance of a build; `call(c)` runs case c and returns its outputs as bytes. */
function instance(file) {
  const { x, mem, off, reset, alloc, put, write } = rawBuild(file);
  return (c) => {
    reset();
    const F = c.dtype === 'f32' ? Float32Array : Float64Array;
    const n = c.logits.length;
    const header = alloc(256);
    // Sentinel-filled outputs, so that an element one build leaves unwritten shows.
    const out = (want) => {
      if (!want) return 0;
      const p = alloc(n * F.BYTES_PER_ELEMENT);
      new F(mem.buffer, p, n).fill(-12345.5);
      return p;
    };
    const h = {
      batch: c.batch,
      classes: c.classes,
      spatial: c.spatial,
      ignore_index: -100,
      logits: put(c.logits),
      target_indices: put(c.indices),
      target_values: put(c.values),
      alpha: 0,
      pos_weight: put(c.posWeightPerClass),
      weights: put(c.weights),
      loss_out: out(c.lossOut),
      grad_out: out(c.gradOut),
      loss_kind: KIND[c.loss],
      flags: c.flags,
      error_index: 0,
      reserved: 0,
      alpha_scalar: c.alpha,
      gamma: c.gamma,
      gamma_neg: c.gammaNeg,
      beta: c.beta,
      clip: c.clip,
      pos_weight_scalar: c.posWeight,
      poly_epsilon: c.poly,
      label_smoothing: c.smoothing,
      grad_scale: c.gradScale,
      sum: 0.25,
      positives: 1,
    };
    write(header, h);
    const status = x[`focal_elementwise_${c.dtype}`](header);
    const values = (p) => (p ? new F(mem.buffer, p, n).slice() : new F(0));
    const hv = new DataView(mem.buffer);
    return {
      status,
      errorIndex: hv.getUint32(header + off.error_index, true),
      sum: hv.getFloat64(header + off.sum, true),
      positives: hv.getFloat64(header + off.positives, true),
      loss: values(h.loss_out),
      grad: values(h.grad_out),
    };
  };
}

/** A random element-wise case (see the header comment). */
function makeCase(r, dtype) {
  const F = dtype === 'f32' ? Float32Array : Float64Array;
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const loss = pick(['focal', 'focal', 'quality', 'varifocal', 'asymmetric']);
  const form = pick(['dense', 'dense', 'indices']);
  let batch, classes, spatial;
  const shape = pick(['flat', 'rows', 'channels-first']);
  if (shape === 'flat' && form === 'dense') [batch, classes, spatial] = [Math.floor(r() * 300) + 1, 1, 1];
  else if (shape === 'channels-first')
    [batch, classes, spatial] = [Math.floor(r() * 3) + 1, Math.floor(r() * 6) + 2, Math.floor(r() * 40) + 1];
  else [batch, classes, spatial] = [Math.floor(r() * 60) + 1, Math.floor(r() * 12) + 2, 1];
  const n = batch * classes * spatial,
    items = batch * spatial;
  const z = new F(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 40);
    z[i] =
      k === 0
        ? (r() - 0.5) * 2e4
        : k === 1
          ? (r() - 0.5) * 200
          : k === 2
            ? -Infinity
            : k === 3
              ? 30 + r() * 60
              : k === 4
                ? -(30 + r() * 60)
                : k === 5 && r() < 0.1
                  ? pick([Infinity, NaN])
                  : k === 6
                    ? (r() - 0.5) * 1e-6
                    : (r() - 0.5) * 12;
  }
  const c = {
    dtype,
    loss,
    batch,
    classes,
    spatial,
    logits: z,
    id: `${dtype} ${loss} ${batch}×${classes}×${spatial} ${form}`,
  };
  const sigma = (x) => 1 / (1 + Math.exp(-x));
  if (form === 'dense') {
    const kind = pick(['hard', 'soft', 'mixed', 'root']);
    c.values = F.from({ length: n }, (_, i) => {
      if (kind === 'hard' || (kind === 'mixed' && r() < 0.5)) return r() < 0.3 ? 1 : 0;
      if (kind === 'root' && Number.isFinite(z[i])) return Math.min(1, Math.max(0, sigma(z[i]))); // y ≈ σ(x)
      return pick([r(), r(), 1e-7, 1 - 1e-7, 0.5]);
    });
    c.id += ` ${kind}`;
    if (r() < 0.4) c.weights = F.from({ length: n }, () => (r() < 0.1 ? 0 : r() * 3));
  } else {
    c.indices = Int32Array.from({ length: items }, () => (r() < 0.1 ? -100 : Math.floor(r() * (classes + 1))));
    if (r() < 0.4) c.weights = F.from({ length: items }, () => (r() < 0.1 ? 0 : r() * 3));
  }
  Object.assign(c, {
    alpha: 0.25,
    gamma: 2,
    gammaNeg: 0,
    beta: 0,
    clip: 0,
    posWeight: 1,
    poly: 0,
    smoothing: 0,
    flags: 0,
  });
  const gammas = [0, 0.5, 1, 2, 3, 4, 5, 3.7, 6, 1e6];
  if (loss === 'focal') {
    c.gamma = pick(gammas);
    c.alpha = pick([-1, 0.25, r()]); // < 0: no alpha weighting
    c.smoothing = pick([0, 0, 0.1, 1e-3]);
    const pw = pick(['none', 'none', 'scalar', 'per-class']);
    if (pw === 'scalar') c.posWeight = pick([0, 2.5, 0.3]);
    if (pw === 'per-class') c.posWeightPerClass = F.from({ length: classes }, () => r() * 3);
    c.poly = pick([0, 0, 1, -0.5, -1, -0.25, 2]);
    c.id += ` γ ${c.gamma} α ${c.alpha} ls ${c.smoothing} pw ${pw} ε ${c.poly}`;
  } else if (loss === 'quality') {
    c.beta = pick([0, 0.5, 1, 2, 3, 3.3]);
    c.id += ` β ${c.beta}`;
  } else if (loss === 'varifocal') {
    c.alpha = pick([0.75, 0, 2]);
    c.gamma = pick(gammas);
    if (r() < 0.5) c.flags |= FLAG_IOU_WEIGHTED;
    c.id += ` α ${c.alpha} γ ${c.gamma} iou ${c.flags & FLAG_IOU_WEIGHTED}`;
  } else {
    c.gamma = pick([0, 1, 2, 0.5]);
    c.gammaNeg = pick([0, 1, 4, 2.5]);
    c.clip = pick([0, 0.05, 0.3, 1e-6]);
    if (r() < 0.5) c.flags |= FLAG_DETACH_FOCAL_WEIGHT;
    c.id += ` γ₊ ${c.gamma} γ₋ ${c.gammaNeg} clip ${c.clip} detach ${c.flags & FLAG_DETACH_FOCAL_WEIGHT}`;
  }
  // Now and then an invalid parameter: every build must reject it the same way.
  if (r() < 0.03) {
    const bad = pick(['gamma', 'beta', 'clip', 'smoothing', 'poly', 'posWeight']);
    c[bad] = pick([-1, NaN, Infinity, 1.5]);
    c.id += ` invalid ${bad} = ${c[bad]}`;
  }
  c.lossOut = r() < 0.7;
  c.gradOut = r() < 0.85;
  c.gradScale = pick([1, 1 / n, 0.37]);
  return c;
}

const builds = files.map(instance);
const rounds = Number(opt('rounds', 300));
const r = rng(Number(opt('seed', 18)));
/** The same value, bit for bit, or both NaN. */
const same = (a, b) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
const equal = (a, b) => a.length === b.length && a.every((v, i) => same(v, b[i]));
const seen = {};
let count = 0,
  rejected = 0;
for (let round = 0; round < rounds; round++) {
  for (const dtype of ['f32', 'f64']) {
    const c = makeCase(r, dtype);
    const outs = builds.map((b) => b(c));
    for (let i = 1; i < outs.length; i++) {
      const [a, b] = [outs[0], outs[i]];
      const what = [
        a.status === b.status && a.errorIndex === b.errorIndex ? '' : `status ${b.status} vs ${a.status}`,
        same(a.sum, b.sum) ? '' : `sum ${b.sum} vs ${a.sum}`,
        same(a.positives, b.positives) ? '' : `positives ${b.positives} vs ${a.positives}`,
        equal(a.loss, b.loss) ? '' : 'loss',
        equal(a.grad, b.grad) ? '' : 'grad',
      ].filter(Boolean);
      if (what.length) {
        console.error(`DIFFERENT (${files[i]} vs ${files[0]}), round ${round}: ${c.id}: ${what.join(', ')}`);
        process.exit(1);
      }
    }
    if (outs[0].status !== 0) rejected++;
    count++;
    const key = `${c.loss} ${c.indices ? 'indices' : 'dense'}`;
    seen[key] = (seen[key] ?? 0) + 1;
  }
}
if (count !== rounds * 2 || rejected === count) throw new Error(`ran ${count} cases, ${rejected} rejected`);
console.log(
  `${count} cases (${rejected} rejected alike), every status, sum, positives, loss and gradient bit the same in ${files.join(', ')}`,
);
console.log(
  Object.entries(seen)
    .sort()
    .map(([k, v]) => `${k}: ${v}`)
    .join(', '),
);
