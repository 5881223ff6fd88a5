// Which TensorFlow.js formulation is the fairest (= fastest correct) contender? Times several ways a
// tfjs user could write the focal loss and its gradient w.r.t. the logits, on the WASM and CPU
// backends, round-robin in one process, and checks each against the package (same metrics as
// bench/run.mjs). bench/tfjs.mjs keeps the winner; this script is how it was chosen.
//
//   node bench/tfjs-variants.mjs [--reps 7] [--warmup 2] [--backends wasm,cpu] [--cases REGEX] [--variants REGEX]
//                                [--rows N (first N rows/elements only, for tfjs-cpu)] [--pkg DIST_DIR]
//
// Every variant disposes every tensor it creates (no tf.tidy around the call); the script checks
// that tf.memory().numTensors is unchanged after each call.
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { initTfjs, tfjsSigmoid, tfjsSoftmax, useBackend } from './tfjs.mjs';
import { sigmoidData, softmaxData } from './data.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const REPS = Number(opt('reps', 7));
const WARMUP = Number(opt('warmup', 2));
const BACKENDS = opt('backends', 'wasm,cpu').split(',');
const ONLY = new RegExp(opt('cases', '.'));
const ONLY_V = new RegExp(opt('variants', '.'));
// The reference: this build's dist/, or another build's (--pkg DIR, e.g. while dist/ is being rebuilt).
const pkg = await import(
  argv.includes('--pkg') ? pathToFileURL(resolve(opt('pkg'), 'node.js')).href : '../dist/node.js'
);
const GAMMA = 2;
const ALPHA = 0.25;

const disposeAll = (...ts) => {
  for (const t of ts) t.dispose();
};

/**
 * Float one-hot [M, C]. Not tf.oneHot(labels, C, 1, 0, 'float32'): on the WASM backend (tfjs 4.22) that
 * writes the int32 bit patterns into the float32 tensor (1 reads as 1.4e-45), so: int32 one-hot, then cast.
 * `js`: the one-hot built in a Float32Array and uploaded instead.
 */
function oneHotFloat(targets, C, js = false) {
  if (js) {
    const a = new Float32Array(targets.length * C);
    for (let i = 0; i < targets.length; i++) a[i * C + targets[i]] = 1;
    return tf.tensor2d(a, [targets.length, C]);
  }
  const labels = tf.tensor1d(targets, 'int32');
  const oh = tf.oneHot(labels, C);
  const f = tf.cast(oh, 'float32');
  disposeAll(labels, oh);
  return f;
}

/**
 * m^e for the focal factor. 'pow': tf.pow (general γ); 'square': tf.square when e = 2 (a branch on γ = 2);
 * 'explog': exp(e·log m) (general γ > 0, as the package computes it; NaN at m = 0 for e = 0).
 */
function power(m, e, mode) {
  if (mode === 'square' && e === 2) return tf.square(m);
  if (mode !== 'pow' && e === 1) return m.clone();
  if (mode === 'explog') return tf.tidy(() => tf.exp(tf.mul(tf.log(m), e)));
  return tf.pow(m, e);
}

// ------------------------------------------------------------------ softmax variants
// Layout [N, C, ...spatial]; S = product of spatial (1: rows of C classes).

const perm = (spatialShape) => [0, ...spatialShape.map((_, i) => i + 2), 1];

/** The old contender: everything under tf.tidy. */
function smTidy(logits, targets, N, C, S, sp, gamma) {
  return tf.tidy(() => {
    const x = S === 1 ? tf.tensor2d(logits, [N, C]) : tf.tensor(logits, [N, C, ...sp]);
    const oneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), C).toFloat();
    const f = (z) => {
      const rows = S === 1 ? z : tf.reshape(tf.transpose(z, perm(sp)), [N * S, C]);
      const logpt = tf.sum(tf.mul(tf.logSoftmax(rows), oneHot), -1);
      return tf.mean(tf.neg(tf.mul(tf.pow(tf.sub(1, tf.exp(logpt)), gamma), logpt)));
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    return { loss: value.dataSync()[0], grad: grad.dataSync() };
  });
}

/** Autograd (tf.valueAndGrad) of the textbook formula; `opts`: square for γ = 2, logSumExp instead of logSoftmax. */
function smAutograd({ pw = 'pow', lse = false, read = 'sync' } = {}) {
  return (logits, targets, N, C, S, sp, gamma) => {
    const x = S === 1 ? tf.tensor2d(logits, [N, C]) : tf.tensor(logits, [N, C, ...sp]);
    const oneHot = oneHotFloat(targets, C); // [N·S, C]
    // logSumExp works on any axis, so channels-first needs no transpose of the logits.
    const ohCF =
      lse && S !== 1
        ? tf.tidy(() => tf.transpose(tf.reshape(oneHot, [N, ...sp, C]), [0, sp.length + 1, ...sp.map((_, i) => i + 1)]))
        : null;
    const f = (z) => {
      let logpt;
      if (lse) {
        const logp = tf.sub(z, tf.logSumExp(z, 1, true));
        logpt = S === 1 ? tf.sum(tf.mul(logp, oneHot), -1) : tf.sum(tf.mul(logp, ohCF), 1);
      } else {
        const rows = S === 1 ? z : tf.reshape(tf.transpose(z, perm(sp)), [N * S, C]);
        logpt = tf.sum(tf.mul(tf.logSoftmax(rows), oneHot), -1);
      }
      const m = tf.sub(1, tf.exp(logpt));
      const focal = power(m, gamma, pw);
      return tf.neg(tf.mean(tf.mul(focal, logpt)));
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    disposeAll(x, oneHot, ...(ohCF ? [ohCF] : []));
    return finish(value, grad, read);
  };
}

function finish(value, grad, read) {
  if (read === 'async') {
    return Promise.all([value.data(), grad.data()]).then(([l, g]) => {
      disposeAll(value, grad);
      return { loss: l[0], grad: g };
    });
  }
  const loss = value.dataSync()[0];
  const g = grad.dataSync();
  disposeAll(value, grad);
  return { loss, grad: g };
}

/**
 * Analytic gradient from ops: ∂ℓ/∂z_j = G (δ_jt − p_j), G = (γ (1 − p_t)^(γ−1) p_t log p_t − (1 − p_t)^γ) / items.
 * `prob`: 'logSoftmax' (p = exp(log p)), 'softmax' (tf.softmax, log p_t = log(Σ p·onehot)).
 * `custom`: wrapped in tf.customGrad and run through tf.valueAndGrad (as one plugs it into training);
 * otherwise the loss and gradient are computed directly.
 */
function smAnalytic({ prob = 'logSoftmax', custom = false, pw = 'pow', jsOneHot = false, gather = false } = {}) {
  let flatIdx = null;
  // rows: [M, C] logits; oneHot [M, C] float. Returns [loss scalar, grad [M, C]] (new tensors).
  const core = (rows, oneHot, items, gamma) =>
    tf.tidy(() => {
      let p, logpt;
      if (gather) {
        // p_t by tf.gather on the flattened probabilities at m·C + t (indices made in JS)
        p = tf.softmax(rows);
        logpt = tf.log(tf.gather(tf.reshape(p, [-1]), flatIdx));
      } else if (prob === 'softmax') {
        p = tf.softmax(rows);
        logpt = tf.log(tf.sum(tf.mul(p, oneHot), -1));
      } else {
        const logp = tf.logSoftmax(rows);
        p = tf.exp(logp);
        logpt = tf.sum(tf.mul(logp, oneHot), -1);
      }
      const pt = tf.exp(logpt);
      const m = tf.sub(1, pt);
      const focal = power(m, gamma, pw);
      const loss = tf.neg(tf.mean(tf.mul(focal, logpt)));
      const dfocal = tf.mul(power(m, gamma - 1, pw), gamma);
      const G = tf.div(tf.sub(tf.mul(tf.mul(dfocal, pt), logpt), focal), items);
      const grad = tf.mul(tf.expandDims(G, 1), tf.sub(oneHot, p));
      return [loss, grad];
    });
  return (logits, targets, N, C, S, sp, gamma) => {
    const x = S === 1 ? tf.tensor2d(logits, [N, C]) : tf.tensor(logits, [N, C, ...sp]);
    const oneHot = oneHotFloat(targets, C, jsOneHot);
    if (gather) {
      const idx = new Int32Array(targets.length);
      for (let i = 0; i < idx.length; i++) idx[i] = i * C + targets[i];
      flatIdx = tf.tensor1d(idx, 'int32');
    }
    const toRows = (z) => (S === 1 ? z.clone() : tf.tidy(() => tf.reshape(tf.transpose(z, perm(sp)), [N * S, C])));
    const fromRows = (g) =>
      S === 1
        ? g.clone()
        : tf.tidy(() => tf.transpose(tf.reshape(g, [N, ...sp, C]), [0, sp.length + 1, ...sp.map((_, i) => i + 1)]));
    let value, grad;
    if (custom) {
      const f = tf.customGrad((z, save) => {
        const rows = toRows(z);
        const [loss, g] = core(rows, oneHot, N * S, gamma);
        rows.dispose();
        const gz = fromRows(g);
        g.dispose();
        save([gz]);
        return { value: loss, gradFunc: (dy, [saved]) => tf.mul(dy, saved) };
      });
      ({ value, grad } = tf.valueAndGrad(f)(x));
    } else {
      const rows = toRows(x);
      const [loss, g] = core(rows, oneHot, N * S, gamma);
      rows.dispose();
      value = loss;
      grad = fromRows(g);
      g.dispose();
    }
    disposeAll(x, oneHot, ...(flatIdx ? [flatIdx] : []));
    return finish(value, grad, 'sync');
  };
}

// ------------------------------------------------------------------ sigmoid variants

function sgTidy(logits, targets, gamma, alpha) {
  return tf.tidy(() => {
    const x = tf.tensor1d(logits);
    const y = tf.tensor1d(targets, 'float32');
    const f = (z) => {
      const p = tf.sigmoid(z);
      const ce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
      const pt = tf.add(tf.mul(p, y), tf.mul(tf.sub(1, p), tf.sub(1, y)));
      const focal = tf.pow(tf.sub(1, pt), gamma);
      const at = tf.add(tf.mul(alpha, y), tf.mul(1 - alpha, tf.sub(1, y)));
      return tf.mean(tf.mul(at, tf.mul(focal, ce)));
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    return { loss: value.dataSync()[0], grad: grad.dataSync() };
  });
}

/**
 * Autograd. form 'torchvision': the reference formula (relu/log1p CE, p_t, α_t from y);
 * 'u': for hard 0/1 targets, with s = 1 − 2y and u = s·z: 1 − p_t = σ(u), CE = softplus(u).
 */
function sgAutograd({ form = 'torchvision', pw: mode = 'pow', read = 'sync' } = {}) {
  return (logits, targets, gamma, alpha) => {
    const x = tf.tensor1d(logits);
    const y = tf.tensor1d(targets, 'float32');
    // α_t does not depend on z: computed once outside the differentiated function.
    const at = tf.tidy(() => tf.add(tf.mul(y, 2 * alpha - 1), 1 - alpha));
    const s = form === 'u' ? tf.tidy(() => tf.sub(1, tf.mul(y, 2))) : null;
    const pw = (m) => power(m, gamma, mode);
    const f = (z) => {
      if (form === 'u') {
        const u = tf.mul(s, z);
        return tf.mean(tf.mul(at, tf.mul(pw(tf.sigmoid(u)), tf.softplus(u))));
      }
      const p = tf.sigmoid(z);
      const ce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
      const m = tf.sub(tf.add(p, y), tf.mul(tf.mul(p, y), 2)); // 1 − p_t = p(1 − y) + (1 − p)y
      return tf.mean(tf.mul(at, tf.mul(pw(m), ce)));
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    disposeAll(x, y, at, ...(s ? [s] : []));
    return finish(value, grad, read);
  };
}

/**
 * Analytic gradient from ops. form 'torchvision':
 *   ∂ℓ/∂z = α_t (γ m^(γ−1) (1 − 2y) p(1 − p) CE + m^γ (p − y)) / n, m = 1 − p_t;
 * form 'u' (hard targets; s = 1 − 2y, u = s·z, q = σ(u) = 1 − p_t, CE = softplus(u)):
 *   ℓ = α_t q^γ CE,  ∂ℓ/∂z = s α_t q^γ (γ (1 − q) CE + q) / n   (γ q^(γ−1)·q(1 − q) = γ q^γ (1 − q)).
 */
function sgAnalytic({ form = 'torchvision', custom = false, pw: mode = 'pow' } = {}) {
  const core = (z, y, gamma, alpha) =>
    tf.tidy(() => {
      const n = z.size;
      const at = tf.add(tf.mul(y, 2 * alpha - 1), 1 - alpha);
      const pw = (m, e) => power(m, e, mode);
      if (form === 'zt') {
        // z_t = ±z (the logit of the true class), p_t = σ(z_t), 1 − p_t = σ(−z_t), CE = −log p_t
        const s = tf.sub(1, tf.mul(y, 2));
        const u = tf.mul(s, z); // −z_t
        const q = tf.sigmoid(u);
        const pt = tf.sigmoid(tf.neg(u));
        const ce = tf.neg(tf.log(pt));
        const aqg = tf.mul(at, pw(q, gamma));
        const loss = tf.mean(tf.mul(aqg, ce));
        const inner = tf.add(tf.mul(tf.mul(pt, ce), gamma), q);
        const grad = tf.mul(tf.mul(aqg, inner), tf.div(s, n));
        return [loss, grad];
      }
      if (form === 'u') {
        const s = tf.sub(1, tf.mul(y, 2));
        const u = tf.mul(s, z);
        const q = tf.sigmoid(u);
        const ce = tf.softplus(u);
        const aqg = tf.mul(at, pw(q, gamma));
        const loss = tf.mean(tf.mul(aqg, ce));
        const inner = tf.add(tf.mul(tf.mul(tf.sub(1, q), ce), gamma), q);
        const grad = tf.mul(tf.mul(aqg, inner), tf.div(s, n));
        return [loss, grad];
      }
      const p = tf.sigmoid(z);
      let ce, m;
      if (form === 'textbook') {
        // p_t = p·y + (1 − p)(1 − y), CE = −log p_t (the paper's formula, as bench/plain.mjs writes p_t)
        const pt = tf.add(tf.mul(p, y), tf.mul(tf.sub(1, p), tf.sub(1, y)));
        ce = tf.neg(tf.log(pt));
        m = tf.sub(1, pt);
      } else {
        ce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
        m = tf.sub(tf.add(p, y), tf.mul(tf.mul(p, y), 2));
      }
      const focal = pw(m, gamma);
      const loss = tf.mean(tf.mul(at, tf.mul(focal, ce)));
      const t1 = tf.mul(
        tf.mul(tf.mul(pw(m, gamma - 1), gamma), tf.sub(1, tf.mul(y, 2))),
        tf.mul(tf.mul(p, tf.sub(1, p)), ce),
      );
      const grad = tf.div(tf.mul(at, tf.add(t1, tf.mul(focal, tf.sub(p, y)))), n);
      return [loss, grad];
    });
  return (logits, targets, gamma, alpha) => {
    const x = tf.tensor1d(logits);
    const y = tf.tensor1d(targets, 'float32');
    let value, grad;
    if (custom) {
      const f = tf.customGrad((z, save) => {
        const [loss, g] = core(z, y, gamma, alpha);
        save([g]);
        return { value: loss, gradFunc: (dy, [saved]) => tf.mul(dy, saved) };
      });
      ({ value, grad } = tf.valueAndGrad(f)(x));
    } else {
      [value, grad] = core(x, y, gamma, alpha);
    }
    disposeAll(x, y);
    return finish(value, grad, 'sync');
  };
}

const SOFTMAX_VARIANTS = {
  'kept: bench/tfjs.mjs': tfjsSoftmax,
  'tidy (old contender)': smTidy,
  'autograd, logSoftmax, pow': smAutograd(),
  'autograd, logSoftmax, pow, await data()': smAutograd({ read: 'async' }),
  'autograd, logSoftmax, square': smAutograd({ pw: 'square' }),
  'autograd, logSoftmax, exp(γ log m)': smAutograd({ pw: 'explog' }),
  'autograd, z − logSumExp, pow': smAutograd({ lse: true }),
  'analytic, logSoftmax, pow': smAnalytic(),
  'analytic, softmax + log, pow': smAnalytic({ prob: 'softmax' }),
  'analytic, softmax + log, square': smAnalytic({ prob: 'softmax', pw: 'square' }),
  'analytic, softmax + log, exp(γ log m)': smAnalytic({ prob: 'softmax', pw: 'explog' }),
  'analytic, softmax, gather p_t': smAnalytic({ gather: true }),
  'analytic, softmax + log, one-hot from JS': smAnalytic({ prob: 'softmax', jsOneHot: true }),
  'customGrad(analytic, logSoftmax)': smAnalytic({ custom: true }),
  'customGrad(analytic, softmax + log)': smAnalytic({ prob: 'softmax', custom: true }),
};
const SIGMOID_VARIANTS = {
  'kept: bench/tfjs.mjs': tfjsSigmoid,
  'tidy (old contender)': sgTidy,
  'autograd, torchvision, pow': sgAutograd(),
  'autograd, torchvision, pow, await data()': sgAutograd({ read: 'async' }),
  'autograd, torchvision, square': sgAutograd({ pw: 'square' }),
  'autograd, torchvision, exp(γ log m)': sgAutograd({ pw: 'explog' }),
  'autograd, u-form, pow': sgAutograd({ form: 'u' }),
  'analytic, torchvision, pow': sgAnalytic(),
  'analytic, u-form, pow': sgAnalytic({ form: 'u' }),
  'analytic, textbook −log p_t, pow': sgAnalytic({ form: 'textbook' }),
  'analytic, textbook −log p_t, square': sgAnalytic({ form: 'textbook', pw: 'square' }),
  'analytic, z_t = ±z, −log σ(z_t), pow': sgAnalytic({ form: 'zt' }),
  'analytic, z_t = ±z, −log σ(z_t), square': sgAnalytic({ form: 'zt', pw: 'square' }),
  'analytic, z_t = ±z, −log σ(z_t), exp(γ log m)': sgAnalytic({ form: 'zt', pw: 'explog' }),
  'analytic, torchvision, square': sgAnalytic({ pw: 'square' }),
  'analytic, torchvision, exp(γ log m)': sgAnalytic({ pw: 'explog' }),
  'analytic, u-form, square': sgAnalytic({ form: 'u', pw: 'square' }),
  'analytic, u-form, exp(γ log m)': sgAnalytic({ form: 'u', pw: 'explog' }),
  'customGrad(analytic, u-form)': sgAnalytic({ form: 'u', custom: true }),
};

// ------------------------------------------------------------------ data (as bench/run.mjs)

const ROWS = opt('rows', null); // e.g. --rows 8192 to time tfjs-cpu on a slice
const CASES = [
  { id: 'softmax 65536×10', kind: 'softmax', N: 65536, C: 10 },
  { id: 'softmax 16384×100', kind: 'softmax', N: 16384, C: 100 },
  { id: 'softmax 2048×1000', kind: 'softmax', N: 2048, C: 1000 },
  { id: 'softmax 4×19×128×128 (shape)', kind: 'softmax', N: 4, C: 19, spatial: [128, 128] },
  { id: 'sigmoid 1M', kind: 'sigmoid', n: 1 << 20 },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const relDiff = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
const maxRelGrad = (g, ref) => {
  let num = 0,
    den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(g[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / den;
};

await initTfjs();
for (const cs of CASES.filter((c) => ONLY.test(c.id))) {
  let calls, n, ref;
  if (cs.kind === 'softmax') {
    const S = (cs.spatial ?? []).reduce((a, b) => a * b, 1);
    const full = softmaxData(Float32Array, cs.N, cs.C, S, 12345 + cs.C); // the bench's data, then (optionally) its first rows
    const N = ROWS ? Math.min(cs.N, Number(ROWS)) : cs.N;
    const z = full.z.subarray(0, N * cs.C * S),
      t = full.t.subarray(0, N * S);
    n = z.length;
    const opts = cs.spatial ? { shape: [N, cs.C, ...cs.spatial], gamma: GAMMA } : { classes: cs.C, gamma: GAMMA };
    ref = pkg.softmaxFocalLossWithGrad(z, t, opts);
    calls = Object.entries(SOFTMAX_VARIANTS).map(([name, fn]) => ({
      name,
      run: () => fn(z, t, N, cs.C, S, cs.spatial ?? [], GAMMA),
    }));
  } else {
    const full = sigmoidData(Float32Array, cs.n, 777);
    const m = ROWS ? Math.min(cs.n, Number(ROWS)) : cs.n;
    const x = full.x.subarray(0, m),
      y = full.y.subarray(0, m);
    n = m;
    ref = pkg.sigmoidFocalLossWithGrad(x, y, { gamma: GAMMA, alpha: ALPHA });
    calls = Object.entries(SIGMOID_VARIANTS).map(([name, fn]) => ({ name, run: () => fn(x, y, GAMMA, ALPHA) }));
  }
  calls = calls.filter((c) => ONLY_V.test(c.name));
  const refGrad = Float64Array.from(ref.grad);
  const list = BACKENDS.flatMap((b) => calls.map((c) => ({ ...c, backend: b, times: [] })));
  for (const c of list) {
    await useBackend(c.backend);
    for (let w = 0; w < WARMUP; w++) {
      const before = tf.memory().numTensors;
      const r = await c.run();
      const leaked = tf.memory().numTensors - before;
      if (w === 0) {
        c.lossRel = relDiff(r.loss, ref.loss);
        c.gradRel = maxRelGrad(r.grad, refGrad);
        c.leaked = leaked;
      }
    }
  }
  for (let r = 0; r < REPS; r++) {
    for (const c of list) {
      await useBackend(c.backend);
      const t0 = performance.now();
      await c.run();
      c.times.push(performance.now() - t0);
    }
  }
  console.log(
    `\n${cs.id}${ROWS ? ` (first ${ROWS} rows)` : ''}: ${(n / 1e6).toFixed(3)}M logits, median of ${REPS}  [M logits/s]`,
  );
  for (const c of list) {
    const ms = median(c.times);
    console.log(
      `  ${c.backend.padEnd(4)} ${c.name.padEnd(42)} ${(n / ms / 1e3).toFixed(2).padStart(7)}   (${ms.toFixed(1)} ms; loss ${c.lossRel.toExponential(1)}, grad ${c.gradRel.toExponential(1)}; tensors leaked ${c.leaked})`,
    );
  }
}
