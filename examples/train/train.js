// @ts-check
// The three-cluster classifier demo (`npm run demo:classes`): the same small softmax classifier trained twice on an imbalanced data set, once with
// cross-entropy (γ = 0) and once with focal loss (γ = 2, α from inverse class frequency), both through
// focal-loss's softmaxFocalLossWithGrad. Plain modern JavaScript (no TS runtime needed), shared verbatim
// by the Node CLI (cli.js) and the browser page (web/app.js): the loss function is passed in, so this
// file imports nothing and runs anywhere.
//
// Everything is deterministic from the seed: the data (mulberry32 + Box–Muller), the split, the initial
// weights and the minibatch order. The two runs share the initial weights, the minibatch order, the
// model, the optimizer and its learning rate; only γ and α differ.

/** @typedef {(logits: Float64Array, targets: Int32Array, options: { classes: number, gamma: number, alpha?: number[] | null, out: Float64Array }) => { loss: number | Float64Array, grad: Float64Array }} LossWithGrad */

/**
 * @typedef {object} Dataset
 * @property {Float64Array} x      features, row-major [n, dims]
 * @property {Int32Array} y        class index per row, in [0, classes)
 * @property {number} n
 * @property {number} dims
 * @property {number} classes
 * @property {string[]} classNames  a display name per class (the CSV's label, or "0", "1", …)
 */

/** Defaults of the demo: tuned once so that the run takes well under a second in Node. */
export const DEFAULTS = Object.freeze({
  seed: 7,
  epochs: 40,
  gamma: 2,
  hidden: 16,
  batch: 128,
  learningRate: 0.01,
  testFraction: 0.3,
});

/** The embedded data set: three overlapping 2-D Gaussian clusters with frequencies 1 : 10 : 100. */
export const SYNTHETIC = Object.freeze({
  counts: [80, 800, 8000],
  means: [
    [2.0, 2.0],
    [2.0, -1.0],
    [0, 0],
  ],
  std: 1,
  names: ['rare', 'medium', 'common'],
});

// ---------------------------------------------------------------------------------------------------------
// Random numbers

/** mulberry32: a small 32-bit PRNG, uniform in [0, 1). Same sequence in every JS engine. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller), from a uniform generator. */
function gauss(rand) {
  const u = 1 - rand(); // (0, 1]
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher–Yates shuffle of an index array, in place. */
function shuffle(idx, rand) {
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

// ---------------------------------------------------------------------------------------------------------
// Data

/**
 * The embedded imbalanced data set, generated from `seed` (rows in random order).
 * @param {number} seed
 * @param {{ counts?: number[], means?: number[][], std?: number }} [spec]
 * @returns {Dataset}
 */
export function syntheticDataset(seed, spec = {}) {
  const counts = spec.counts ?? SYNTHETIC.counts;
  const means = spec.means ?? SYNTHETIC.means;
  const std = spec.std ?? SYNTHETIC.std;
  const dims = means[0].length;
  const classes = counts.length;
  const n = counts.reduce((a, b) => a + b, 0);
  const rand = rng(seed);
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    rand,
  );
  const x = new Float64Array(n * dims);
  const y = new Int32Array(n);
  let k = 0;
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < counts[c]; i++, k++) {
      const row = order[k];
      y[row] = c;
      for (let d = 0; d < dims; d++) x[row * dims + d] = means[c][d] + std * gauss(rand);
    }
  }
  const names = spec.counts ? counts.map((_, c) => String(c)) : SYNTHETIC.names.slice();
  return { x, y, n, dims, classes, classNames: names };
}

/** Rows of each class. */
export function classCounts(y, classes) {
  const counts = new Array(classes).fill(0);
  for (let i = 0; i < y.length; i++) counts[y[i]]++;
  return counts;
}

/**
 * A stratified split: `fraction` of every class (at least one row, and at least one left to train on)
 * goes to the test set. Features are standardised with the training set's mean and deviation.
 * @param {Dataset} data
 * @param {number} seed
 * @param {number} [fraction]
 * @returns {{ train: Dataset, test: Dataset }}
 */
export function split(data, seed, fraction = DEFAULTS.testFraction) {
  const rand = rng(seed ^ 0x5eed);
  const byClass = Array.from({ length: data.classes }, () => /** @type {number[]} */ ([]));
  for (let i = 0; i < data.n; i++) byClass[data.y[i]].push(i);
  const trainRows = [];
  const testRows = [];
  for (const rows of byClass) {
    shuffle(rows, rand);
    const t = rows.length < 2 ? 0 : Math.min(rows.length - 1, Math.max(1, Math.round(rows.length * fraction)));
    testRows.push(...rows.slice(0, t));
    trainRows.push(...rows.slice(t));
  }
  trainRows.sort((a, b) => a - b);
  testRows.sort((a, b) => a - b);
  const { dims } = data;
  const mean = new Float64Array(dims);
  const sd = new Float64Array(dims);
  for (const r of trainRows) for (let d = 0; d < dims; d++) mean[d] += data.x[r * dims + d] / trainRows.length;
  for (const r of trainRows)
    for (let d = 0; d < dims; d++) sd[d] += (data.x[r * dims + d] - mean[d]) ** 2 / trainRows.length;
  for (let d = 0; d < dims; d++) sd[d] = Math.sqrt(sd[d]) || 1;
  const take = (rows) => {
    const x = new Float64Array(rows.length * dims);
    const y = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      y[i] = data.y[r];
      for (let d = 0; d < dims; d++) x[i * dims + d] = (data.x[r * dims + d] - mean[d]) / sd[d];
    });
    return { ...data, x, y, n: rows.length };
  };
  return { train: take(trainRows), test: take(testRows) };
}

/**
 * α from inverse class frequency, normalised to sum to 1 (as the paper's α and 1 − α do):
 * α_c = (1/n_c) / Σ_k (1/n_k).
 * @param {number[]} counts
 */
export function inverseFrequencyAlpha(counts) {
  const inv = counts.map((c) => 1 / Math.max(c, 1));
  const s = inv.reduce((a, b) => a + b, 0);
  return inv.map((v) => v / s);
}

/**
 * The focal run's α from a spec: 'inverse' (1/n_c, normalised to sum 1), 'sqrt' (1/√n_c, normalised),
 * 'none' (null), one number per class (an array or a comma-separated string). With `counts` null it only
 * validates the spec (throwing an Error with a message) and returns null.
 * @param {string | number[] | null | undefined} spec
 * @param {number} classes
 * @param {number[] | null} counts  training rows per class
 * @returns {number[] | null}
 */
export function alphaFor(spec, classes, counts) {
  if (spec === undefined || spec === 'inverse') return counts && inverseFrequencyAlpha(counts);
  if (spec === null || spec === 'none') return null;
  if (spec === 'sqrt') return counts && inverseFrequencyAlpha(counts.map(Math.sqrt));
  const values = typeof spec === 'string' ? spec.split(',').map((s) => (s.trim() === '' ? NaN : Number(s))) : spec;
  if (values.length !== classes) {
    throw new Error(
      `expected inverse, sqrt, none or ${classes} comma-separated numbers (one per class), got ${values.length}`,
    );
  }
  if (!values.every((v) => Number.isFinite(v) && v >= 0)) throw new Error('every alpha must be a finite number >= 0');
  return values;
}

// ---------------------------------------------------------------------------------------------------------
// Model: one hidden layer (tanh), softmax output, Adam

/**
 * A one-hidden-layer MLP with all parameters in one Float64Array (W1 [H, D], b1 [H], W2 [C, H], b2 [C]).
 * @param {number} dims
 * @param {number} hidden
 * @param {number} classes
 * @param {number} seed
 */
export function createModel(dims, hidden, classes, seed) {
  const size = hidden * dims + hidden + classes * hidden + classes;
  const params = new Float64Array(size);
  const rand = rng(seed ^ 0x1417);
  const l1 = Math.sqrt(6 / (dims + hidden));
  const l2 = Math.sqrt(6 / (hidden + classes));
  for (let i = 0; i < hidden * dims; i++) params[i] = (2 * rand() - 1) * l1; // Glorot uniform; biases 0
  const w2 = hidden * dims + hidden;
  for (let i = 0; i < classes * hidden; i++) params[w2 + i] = (2 * rand() - 1) * l2;
  return { dims, hidden, classes, params };
}

function views(model, buf) {
  const { dims: D, hidden: H, classes: C } = model;
  let o = 0;
  const W1 = buf.subarray(o, (o += H * D));
  const b1 = buf.subarray(o, (o += H));
  const W2 = buf.subarray(o, (o += C * H));
  const b2 = buf.subarray(o, (o += C));
  return { W1, b1, W2, b2 };
}

/**
 * Logits of `n` rows of `x` into `logits` ([n, C]); hidden activations into `h` ([n, H]) when given.
 */
function forward(model, x, n, logits, h) {
  const { dims: D, hidden: H, classes: C } = model;
  const { W1, b1, W2, b2 } = views(model, model.params);
  const hid = new Float64Array(H);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < H; j++) {
      let s = b1[j];
      for (let d = 0; d < D; d++) s += W1[j * D + d] * x[i * D + d];
      hid[j] = Math.tanh(s);
      if (h) h[i * H + j] = hid[j];
    }
    for (let c = 0; c < C; c++) {
      let s = b2[c];
      for (let j = 0; j < H; j++) s += W2[c * H + j] * hid[j];
      logits[i * C + c] = s;
    }
  }
}

/** Predicted class of every row (argmax of the logits). */
export function predict(model, data) {
  const logits = new Float64Array(data.n * model.classes);
  forward(model, data.x, data.n, logits, null);
  const pred = new Int32Array(data.n);
  for (let i = 0; i < data.n; i++) {
    let best = 0;
    for (let c = 1; c < model.classes; c++)
      if (logits[i * model.classes + c] > logits[i * model.classes + best]) best = c;
    pred[i] = best;
  }
  return { pred, logits };
}

/**
 * Per-class recall and precision, macro-F1 and accuracy. A class never predicted has precision NaN
 * (shown as "—") and F1 0.
 */
export function metrics(y, pred, classes) {
  const tp = new Array(classes).fill(0);
  const support = new Array(classes).fill(0);
  const predicted = new Array(classes).fill(0);
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    support[y[i]]++;
    predicted[pred[i]]++;
    if (y[i] === pred[i]) {
      tp[y[i]]++;
      correct++;
    }
  }
  const recall = tp.map((t, c) => (support[c] ? t / support[c] : NaN));
  const precision = tp.map((t, c) => (predicted[c] ? t / predicted[c] : NaN));
  const f1 = recall.map((r, c) => {
    const p = precision[c];
    return r > 0 && p > 0 ? (2 * p * r) / (p + r) : 0;
  });
  return {
    recall,
    precision,
    f1,
    support,
    predicted,
    macroF1: f1.reduce((a, b) => a + b, 0) / classes,
    accuracy: y.length ? correct / y.length : NaN,
  };
}

/**
 * One training run, one epoch at a time (so a page can draw between epochs).
 * @param {object} o
 * @param {LossWithGrad} o.lossWithGrad   the package's softmaxFocalLossWithGrad
 * @param {Dataset} o.train
 * @param {Dataset} o.test
 * @param {number} o.gamma
 * @param {number[] | null} o.alpha
 * @param {number} [o.seed]
 * @param {number} [o.hidden]
 * @param {number} [o.batch]
 * @param {number} [o.learningRate]
 */
export function createRun(o) {
  const seed = o.seed ?? DEFAULTS.seed;
  const batch = o.batch ?? DEFAULTS.batch;
  const lr = o.learningRate ?? DEFAULTS.learningRate;
  const { train, test, gamma, alpha, lossWithGrad } = o;
  const model = createModel(train.dims, o.hidden ?? DEFAULTS.hidden, train.classes, seed);
  const { dims: D, hidden: H, classes: C } = model;
  const P = model.params.length;
  const grads = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const g = views(model, grads);
  const xb = new Float64Array(batch * D);
  const yb = new Int32Array(batch);
  const h = new Float64Array(batch * H);
  const logits = new Float64Array(batch * C);
  const dLogits = new Float64Array(batch * C); // the package writes the gradient here (options.out)
  const dh = new Float64Array(H);
  const order = Array.from({ length: train.n }, (_, i) => i);
  const rand = rng(seed ^ 0xba7c4);
  const options = { classes: C, gamma, alpha: alpha ?? null, out: dLogits };
  const beta1 = 0.9;
  const beta2 = 0.999;
  let step = 0;
  let epoch = 0;
  /** @type {{ epoch: number, loss: number, recall: number[], macroF1: number }[]} */
  const history = [];

  /** One pass over the training set in minibatches; returns the epoch's mean loss and the test metrics. */
  function runEpoch() {
    shuffle(order, rand);
    let lossSum = 0;
    const { W2 } = views(model, model.params);
    for (let start = 0; start < train.n; start += batch) {
      const n = Math.min(batch, train.n - start);
      for (let i = 0; i < n; i++) {
        const r = order[start + i];
        yb[i] = train.y[r];
        for (let d = 0; d < D; d++) xb[i * D + d] = train.x[r * D + d];
      }
      forward(model, xb, n, logits, h);
      // The loss and ∂loss/∂logits of the minibatch mean, in one call, written into dLogits.
      const lg = n === batch ? logits : logits.subarray(0, n * C);
      options.out = n === batch ? dLogits : dLogits.subarray(0, n * C);
      const { loss } = lossWithGrad(lg, n === batch ? yb : yb.subarray(0, n), options);
      lossSum += /** @type {number} */ (loss) * n;
      // Backpropagate through the two layers.
      grads.fill(0);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < C; c++) {
          const gl = dLogits[i * C + c];
          g.b2[c] += gl;
          for (let j = 0; j < H; j++) g.W2[c * H + j] += gl * h[i * H + j];
        }
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let c = 0; c < C; c++) s += W2[c * H + j] * dLogits[i * C + c];
          const hj = h[i * H + j];
          dh[j] = s * (1 - hj * hj);
          g.b1[j] += dh[j];
          for (let d = 0; d < D; d++) g.W1[j * D + d] += dh[j] * xb[i * D + d];
        }
      }
      // Adam.
      step++;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      const p = model.params;
      for (let k = 0; k < P; k++) {
        m[k] = beta1 * m[k] + (1 - beta1) * grads[k];
        v[k] = beta2 * v[k] + (1 - beta2) * grads[k] * grads[k];
        p[k] -= (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + 1e-8);
      }
    }
    epoch++;
    const mt = metrics(test.y, predict(model, test).pred, C);
    const entry = { epoch, loss: lossSum / train.n, recall: mt.recall, macroF1: mt.macroF1 };
    history.push(entry);
    return entry;
  }

  /** Final results: test metrics, the last epoch's training loss, and the test loss under this run's objective. */
  function result() {
    const { pred, logits: testLogits } = predict(model, test);
    const out = new Float64Array(testLogits.length);
    const testLoss = /** @type {number} */ (
      lossWithGrad(testLogits, test.y, { classes: C, gamma, alpha: alpha ?? null, out }).loss
    );
    return {
      gamma,
      alpha,
      epochs: epoch,
      trainLoss: history.length ? history[history.length - 1].loss : NaN,
      testLoss,
      ...metrics(test.y, pred, C),
      history,
    };
  }

  return {
    model,
    runEpoch,
    result,
    get epoch() {
      return epoch;
    },
  };
}

/**
 * The whole demo, synchronously: data → split → cross-entropy run → focal run.
 * @param {object} o
 * @param {LossWithGrad} o.lossWithGrad
 * @param {Dataset} [o.data]        default: the embedded synthetic set for `seed`
 * @param {number} [o.seed]
 * @param {number} [o.epochs]
 * @param {number} [o.gamma]        the focal run's γ (the cross-entropy run always has γ = 0 and no α)
 * @param {string | number[] | null} [o.alpha]  the focal run's α (see alphaFor; default 'inverse')
 * @param {number} [o.hidden]
 * @param {number} [o.batch]
 * @param {number} [o.learningRate]
 * @param {(run: 'ce' | 'focal', e: { epoch: number, loss: number, recall: number[], macroF1: number }, epochs: number) => void} [o.onEpoch]
 */
export function trainBoth(o) {
  const p = prepare(o);
  const results = {};
  for (const which of /** @type {const} */ (['ce', 'focal'])) {
    const run = createRun({ ...p.runOptions, ...p.runs[which] });
    for (let e = 0; e < p.epochs; e++) {
      const entry = run.runEpoch();
      o.onEpoch?.(which, entry, p.epochs);
    }
    results[which] = run.result();
  }
  return { ...p.info, ce: results.ce, focal: results.focal };
}

/**
 * Everything both runs share, and what differs (γ, α). Used by trainBoth and by the page, which runs
 * the epochs itself to draw between them.
 */
export function prepare(o) {
  const seed = o.seed ?? DEFAULTS.seed;
  const epochs = o.epochs ?? DEFAULTS.epochs;
  const gamma = o.gamma ?? DEFAULTS.gamma;
  const data = o.data ?? syntheticDataset(seed);
  const { train, test } = split(data, seed);
  const trainCounts = classCounts(train.y, train.classes);
  const alpha = alphaFor(o.alpha, data.classes, trainCounts);
  // The rarest class of the training set (lowest index on ties).
  const rarest = trainCounts.indexOf(Math.min(...trainCounts));
  return {
    epochs,
    runOptions: {
      lossWithGrad: o.lossWithGrad,
      train,
      test,
      seed,
      hidden: o.hidden,
      batch: o.batch,
      learningRate: o.learningRate,
    },
    runs: { ce: { gamma: 0, alpha: null }, focal: { gamma, alpha } },
    info: {
      seed,
      epochs,
      gamma,
      alpha,
      rarest,
      trainCounts,
      testCounts: classCounts(test.y, test.classes),
      classNames: data.classNames,
      classes: data.classes,
      dims: data.dims,
    },
  };
}
