// @ts-check
// A small one-stage dense detector (RetinaNet in one dimension), in plain JavaScript with no imports: the
// loss function is passed in, so Node (cli.js) and the browser page (web/app.js) run this very file.
//
//   data     1-D signals of 1024 samples: correlated noise + white noise, 0–2 objects of C classes (C = 1:
//            soft-edged pulses, the design notes' detector; C = 3: pulse, dip, wave), look-alike distractors
//            (spikes, wide bumps, a level step).
//   anchors  widths {6, 12, 24} at every 2nd sample (1,536 per signal); IoU ≥ 0.5 positive, < 0.4
//            background (class index C), in between ignored (ignoreIndex); every object keeps its best anchor.
//   model    shared trunk (one conv layer, 25 taps, 16 ReLU channels, stride 2), a classification head
//            (3 anchors × C sigmoid logits per position, N(0, 0.01²), bias −log((1 − π)/π), π = 0.01) and a
//            box head (3 × (Δcentre/width, log width ratio)), smooth L1 (β = 1/9) on positives.
//            Both losses are summed and divided by the number of positive anchors in the minibatch.
//   training Adam, lr 0.005 with cosine decay, 8 signals per step.
//   eval     score > 0.05 → top 200 → per-class NMS 0.5 → ≤ 100 boxes per signal; COCO-style AP (IoU
//            0.50:0.05:0.95, 101-point interpolation, mean over classes), AP50, AP75.
//
// Everything is deterministic from the seed (mulberry32 + Box–Muller).

/** @typedef {(logits: Float64Array | Float32Array, targets: Int32Array, options: { classes: number, targetForm: 'indices', gamma: number, alpha: number | null, ignoreIndex?: number, normalizer: number, out: Float64Array | Float32Array }) => { loss: number, grad: Float64Array | Float32Array }} LossWithGrad */

export const LENGTH = 1024;
export const STRIDE = 2;
export const POSITIONS = LENGTH / STRIDE;
export const WIDTHS = Object.freeze([6, 12, 24]);
export const A = WIDTHS.length;
/** The object classes of the C = 3 variant; C = 1 has only the first (a pulse). */
export const CLASS_NAMES = Object.freeze(['pulse', 'dip', 'wave']);
export const IGNORE = -100;
export const TAPS = 25;
export const PRIOR = 0.01;
export const IOU_THRESHOLDS = Object.freeze(Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i));

// The design notes' regime (shared/notes/main-job-detector.md): one class, 96 training and 300 test signals
// per seed, 60 epochs. `seeds` is the CLI's default number of seeds (see experiment.js for how it was chosen).
export const DEFAULTS = Object.freeze({
  classes: 1,
  seed: 1,
  seeds: 6,
  epochs: 60,
  train: 96,
  test: 300,
  val: 100,
  channels: 16,
  batch: 8,
  learningRate: 0.005,
  gamma: 2,
  alpha: 0.25,
});

// ---------------------------------------------------------------------------------------------------------
// Random numbers

/** mulberry32: uniform in [0, 1), the same sequence in every JS engine. */
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

function gauss(rand) {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const uniform = (rand, lo, hi) => lo + (hi - lo) * rand();

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
 * @typedef {{ cls: number, lo: number, hi: number }} Box
 * @typedef {{ x: Float64Array[], boxes: Box[][], n: number, classes: number }} Signals
 */

const softStep = (v) => 1 / (1 + Math.exp(-v));

/** One object's shape at sample s: class 0 a soft-edged pulse, 1 a dip, 2 one period of a sine. */
function objectValue(cls, s, c, w, h) {
  const env = softStep((s - (c - w / 2)) / 0.8) * softStep((c + w / 2 - s) / 0.8);
  if (cls === 0) return h * env;
  if (cls === 1) return -h * env;
  return 1.2 * h * env * Math.sin((2 * Math.PI * (s - c)) / w);
}

/**
 * `n` signals from `seed`: background (low-passed Gaussian noise, std 0.4, correlation ~8, plus white noise
 * 0.25), 0–2 non-overlapping objects (width U(5, 22), height U(0.8, 2), class uniform among `classes`),
 * distractors (3 spikes ±U(1, 3), 2 wide Gaussian bumps σ = 12 of height ±U(0.8, 2), 1 level step
 * ±U(0.5, 1.5)). The class draw is made for every C, so C = 1 and C = 3 place the same objects at the same
 * positions with the same widths and heights; only their shapes differ.
 * @param {number} n
 * @param {number} seed
 * @param {number} [classes]
 * @returns {Signals}
 */
export function makeSignals(n, seed, classes = DEFAULTS.classes) {
  const rand = rng(seed);
  const xs = [];
  const boxes = [];
  const a = Math.exp(-1 / 8);
  const b = Math.sqrt(1 - a * a);
  for (let k = 0; k < n; k++) {
    const x = new Float64Array(LENGTH);
    let z = gauss(rand);
    for (let s = 0; s < LENGTH; s++) {
      z = a * z + b * gauss(rand);
      x[s] = 0.4 * z + 0.25 * gauss(rand);
    }
    const objs = [];
    const count = Math.floor(rand() * 3);
    for (let tries = 0; objs.length < count && tries < 50; tries++) {
      const w = uniform(rand, 5, 22);
      const c = uniform(rand, 16, LENGTH - 16);
      const cls = Math.floor(rand() * classes);
      const h = uniform(rand, 0.8, 2);
      const lo = c - w / 2;
      const hi = c + w / 2;
      if (objs.some((o) => lo < o.hi + 8 && hi > o.lo - 8)) continue;
      objs.push({ cls, lo, hi });
      for (let s = Math.max(0, Math.floor(lo - 6)); s < Math.min(LENGTH, Math.ceil(hi + 6)); s++)
        x[s] += objectValue(cls, s, c, w, h);
    }
    for (let i = 0; i < 3; i++) {
      const s = Math.floor(rand() * LENGTH);
      x[s] += (rand() < 0.5 ? -1 : 1) * uniform(rand, 1, 3);
    }
    for (let i = 0; i < 2; i++) {
      const c = uniform(rand, 0, LENGTH);
      const h = (rand() < 0.5 ? -1 : 1) * uniform(rand, 0.8, 2);
      for (let s = Math.max(0, Math.floor(c - 40)); s < Math.min(LENGTH, Math.ceil(c + 40)); s++)
        x[s] += h * Math.exp(-(((s - c) / 12) ** 2) / 2);
    }
    const at = Math.floor(uniform(rand, 64, LENGTH - 64));
    const step = (rand() < 0.5 ? -1 : 1) * uniform(rand, 0.5, 1.5);
    for (let s = at; s < LENGTH; s++) x[s] += step;
    xs.push(x);
    boxes.push(objs);
  }
  return { x: xs, boxes, n, classes };
}

// ---------------------------------------------------------------------------------------------------------
// Anchors

/** Anchor a = position · A + scale: centre STRIDE·position + 0.5, width WIDTHS[scale]. */
export const anchorCentre = (a) => STRIDE * Math.floor(a / A) + 0.5;
export const anchorWidth = (a) => WIDTHS[a % A];
const ANCHORS = POSITIONS * A;

export function iou1d(alo, ahi, blo, bhi) {
  const inter = Math.min(ahi, bhi) - Math.max(alo, blo);
  if (inter <= 0) return 0;
  return inter / (ahi - alo + bhi - blo - inter);
}

/**
 * Class-index targets of every anchor of one signal (class, C = background, IGNORE) and box-regression
 * targets of the positives (Δcentre/width, log(width ratio)).
 * @param {Box[]} objs
 * @param {number} classes   C: the background's class index
 */
export function assign(objs, classes) {
  const target = new Int32Array(ANCHORS).fill(classes);
  const box = new Float64Array(ANCHORS * 2);
  const best = new Float64Array(ANCHORS);
  const which = new Int32Array(ANCHORS).fill(-1);
  const bestForObject = objs.map(() => ({ a: -1, iou: 0 }));
  for (let a = 0; a < ANCHORS; a++) {
    const c = anchorCentre(a);
    const w = anchorWidth(a);
    for (let o = 0; o < objs.length; o++) {
      const v = iou1d(c - w / 2, c + w / 2, objs[o].lo, objs[o].hi);
      if (v > best[a]) {
        best[a] = v;
        which[a] = o;
      }
      if (v > bestForObject[o].iou) bestForObject[o] = { a, iou: v };
    }
  }
  for (let a = 0; a < ANCHORS; a++) {
    if (best[a] >= 0.5) target[a] = objs[which[a]].cls;
    else if (best[a] >= 0.4) target[a] = IGNORE;
  }
  bestForObject.forEach(({ a }, o) => {
    if (a >= 0) {
      target[a] = objs[o].cls;
      which[a] = o;
    }
  });
  for (let a = 0; a < ANCHORS; a++) {
    if (target[a] < 0 || target[a] >= classes) continue;
    const o = objs[which[a]];
    const c = anchorCentre(a);
    const w = anchorWidth(a);
    box[2 * a] = ((o.lo + o.hi) / 2 - c) / w;
    box[2 * a + 1] = Math.log((o.hi - o.lo) / w);
  }
  return { target, box };
}

/** Signals with their anchor targets, and the counts of positive / background / ignored anchors. */
export function prepareSet(signals) {
  const targets = [];
  const boxes = [];
  let positive = 0;
  let background = 0;
  let ignored = 0;
  for (let k = 0; k < signals.n; k++) {
    const t = assign(signals.boxes[k], signals.classes);
    targets.push(t.target);
    boxes.push(t.box);
    for (const v of t.target) {
      if (v === signals.classes) background++;
      else if (v === IGNORE) ignored++;
      else positive++;
    }
  }
  const objects = signals.boxes.reduce((s, b) => s + b.length, 0);
  return { ...signals, targets, boxTargets: boxes, counts: { positive, background, ignored, objects } };
}

/**
 * The data of one seed: training, validation (for choosing α) and test signals, from disjoint streams.
 * @param {number} seed
 * @param {{ train?: number, test?: number, val?: number }} [sizes]
 * @param {number} [classes]
 */
export function makeData(seed, sizes = {}, classes = DEFAULTS.classes) {
  const train = prepareSet(makeSignals(sizes.train ?? DEFAULTS.train, (seed * 7919 + 1) >>> 0, classes));
  const test = prepareSet(makeSignals(sizes.test ?? DEFAULTS.test, (seed * 7919 + 2) >>> 0, classes));
  const val = prepareSet(makeSignals(sizes.val ?? DEFAULTS.val, (seed * 7919 + 3) >>> 0, classes));
  return { seed, classes, train, test, val };
}

// ---------------------------------------------------------------------------------------------------------
// Model

/** Parameters in one Float64Array: W1 [H, TAPS], b1 [H], Wc [A·C, H], bc [A·C], Wb [A·2, H], bb [A·2]. */
export function createModel(channels, seed, classes = DEFAULTS.classes) {
  const H = channels;
  const K = A * classes;
  const B = A * 2;
  const size = H * TAPS + H + K * H + K + B * H + B;
  const params = new Float64Array(size);
  const rand = rng((seed ^ 0x1417) >>> 0);
  const v = views(H, classes, params);
  const he = Math.sqrt(2 / TAPS);
  for (let i = 0; i < v.W1.length; i++) v.W1[i] = he * gauss(rand);
  for (let i = 0; i < v.Wc.length; i++) v.Wc[i] = 0.01 * gauss(rand);
  v.bc.fill(-Math.log((1 - PRIOR) / PRIOR));
  for (let i = 0; i < v.Wb.length; i++) v.Wb[i] = 0.01 * gauss(rand);
  return { channels: H, classes, params };
}

function views(H, C, buf) {
  const K = A * C;
  const B = A * 2;
  let o = 0;
  const W1 = buf.subarray(o, (o += H * TAPS));
  const b1 = buf.subarray(o, (o += H));
  const Wc = buf.subarray(o, (o += K * H));
  const bc = buf.subarray(o, (o += K));
  const Wb = buf.subarray(o, (o += B * H));
  const bb = buf.subarray(o, (o += B));
  return { W1, b1, Wc, bc, Wb, bb };
}

/**
 * Trunk features [POSITIONS, H] (after ReLU), class logits [ANCHORS, C] and box outputs [ANCHORS, 2] of one
 * signal, written at the given offsets (in positions) of the buffers.
 */
function forward(model, x, feat, logits, boxOut, off) {
  const H = model.channels;
  const { W1, b1, Wc, bc, Wb, bb } = views(H, model.classes, model.params);
  const K = A * model.classes;
  const B = A * 2;
  const half = (TAPS - 1) >> 1;
  for (let i = 0; i < POSITIONS; i++) {
    const centre = STRIDE * i;
    const f0 = (off + i) * H;
    const j0 = Math.max(0, half - centre);
    const j1 = Math.min(TAPS, LENGTH - centre + half);
    const xo = centre - half;
    for (let h = 0; h < H; h++) {
      let s = b1[h];
      const w = h * TAPS;
      for (let j = j0; j < j1; j++) s += W1[w + j] * x[xo + j];
      feat[f0 + h] = s > 0 ? s : 0; // ReLU; not Math.max: a NaN (the textbook run) must give 0 here, as it did
    }
    const l0 = (off + i) * K;
    for (let k = 0; k < K; k++) {
      let s = bc[k];
      const w = k * H;
      for (let h = 0; h < H; h++) s += Wc[w + h] * feat[f0 + h];
      logits[l0 + k] = s;
    }
    const b0 = (off + i) * B;
    for (let k = 0; k < B; k++) {
      let s = bb[k];
      const w = k * H;
      for (let h = 0; h < H; h++) s += Wb[w + h] * feat[f0 + h];
      boxOut[b0 + k] = s;
    }
  }
}

/** Class logits and box outputs of every signal of a set. */
export function infer(model, set) {
  const H = model.channels;
  const feat = new Float64Array(POSITIONS * H);
  const out = [];
  for (let k = 0; k < set.n; k++) {
    const logits = new Float64Array(ANCHORS * model.classes);
    const box = new Float64Array(ANCHORS * 2);
    forward(model, set.x[k], feat, logits, box, 0);
    out.push({ logits, box });
  }
  return out;
}

const smoothL1 = (d, beta) => (Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta);
const smoothL1Grad = (d, beta) => (Math.abs(d) < beta ? d / beta : Math.sign(d));
const BETA = 1 / 9;

/**
 * One training run, an epoch at a time.
 * @param {object} o
 * @param {LossWithGrad} o.lossWithGrad   the package's sigmoidFocalLossWithGrad (or a stand-in)
 * @param {{ train: any, test: any }} o.data
 * @param {number} o.gamma
 * @param {number | null} o.alpha
 * @param {number} o.epochs                 for the cosine schedule
 * @param {number} [o.seed]
 * @param {number} [o.clsWeight]            scales the classification loss (the ×0.1 control)
 * @param {boolean} [o.float32]             give the loss Float32Array logits (the stability comparison)
 * @param {LossWithGrad} [o.reference]      also computed each step (not used for training): worst difference
 * @param {number} [o.channels]
 * @param {number} [o.batch]
 * @param {number} [o.learningRate]
 */
export function createRun(o) {
  const seed = o.seed ?? DEFAULTS.seed;
  const H = o.channels ?? DEFAULTS.channels;
  const batch = o.batch ?? DEFAULTS.batch;
  const lr0 = o.learningRate ?? DEFAULTS.learningRate;
  const clsWeight = o.clsWeight ?? 1;
  const { train } = o.data;
  const CLASSES = train.classes;
  const model = createModel(H, seed, CLASSES);
  const P = model.params.length;
  const grads = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  // The gradient's parts as locals: the hot loops below index them directly.
  const { W1: gW1, b1: gb1, Wc: gWc, bc: gbc, Wb: gWb, bb: gbb } = views(H, CLASSES, grads);
  const K = A * CLASSES;
  const B = A * 2;
  const feat = new Float64Array(batch * POSITIONS * H);
  const logits64 = new Float64Array(batch * ANCHORS * CLASSES);
  const logits = o.float32 ? new Float32Array(logits64.length) : logits64;
  const dLogits = o.float32 ? new Float32Array(logits64.length) : new Float64Array(logits64.length); // options.out
  const refOut = o.reference ? new Float64Array(logits64.length) : null;
  const refLogits = o.reference ? new Float64Array(logits64.length) : null;
  const boxOut = new Float64Array(batch * ANCHORS * 2);
  const targets = new Int32Array(batch * ANCHORS);
  const dFc = new Float64Array(H);
  const dFb = new Float64Array(H);
  const order = Array.from({ length: train.n }, (_, i) => i);
  const rand = rng((seed ^ 0xba7c4) >>> 0);
  const steps = o.epochs * Math.ceil(train.n / batch);
  // Targets are class indices (C = background), also with one class: targetForm says so, since with C = 1 the
  // package cannot tell indices from 0/1 labels.
  const options = {
    classes: CLASSES,
    targetForm: 'indices',
    gamma: o.gamma,
    alpha: o.alpha,
    ignoreIndex: IGNORE,
    normalizer: 1,
    out: dLogits,
  };
  const refOptions = o.reference ? { ...options, out: refOut } : null;
  let step = 0;
  let epoch = 0;
  let clsNorm2 = 0;
  let boxNorm2 = 0;
  const stability = {
    firstNonFinite: /** @type {null | { step: number, epoch: number }} */ (null),
    nonFiniteSteps: 0,
    worstGradError: 0,
    worstAt: /** @type {any} */ (null),
    paramsNonFinite: false,
    minLogit: Infinity,
    maxLogit: -Infinity,
  };
  /** @type {{ epoch: number, clsLoss: number, boxLoss: number }[]} */
  const history = [];
  // Per step: the classification loss the loss function returned and the most negative logit it was given
  // (the stability chart: where float32 starts rounding p_t of easy negatives to 1).
  /** @type {{ loss: number[], minLogit: number[] }} */
  const trace = { loss: [], minLogit: [] };

  function runEpoch() {
    shuffle(order, rand);
    let clsSum = 0;
    let boxSum = 0;
    let batches = 0;
    const { Wc, Wb } = views(H, CLASSES, model.params);
    for (let start = 0; start < train.n; start += batch) {
      const n = Math.min(batch, train.n - start);
      let npos = 0;
      for (let b = 0; b < n; b++) {
        const r = order[start + b];
        forward(model, train.x[r], feat, logits64, boxOut, b * POSITIONS);
        targets.set(train.targets[r], b * ANCHORS);
      }
      for (let i = 0; i < n * ANCHORS; i++) if (targets[i] >= 0 && targets[i] < CLASSES) npos++;
      const norm = Math.max(1, npos);
      const len = n * ANCHORS * CLASSES;
      if (logits !== logits64) for (let i = 0; i < len; i++) logits[i] = logits64[i];
      const full = n === batch;
      options.normalizer = norm / clsWeight;
      options.out = full ? dLogits : dLogits.subarray(0, len);
      const lg = full ? logits : logits.subarray(0, len);
      const tg = full ? targets : targets.subarray(0, n * ANCHORS);
      const { loss } = o.lossWithGrad(lg, tg, options);
      // Every loss and gradient value is checked; with a reference loss, the worst difference is kept too.
      let bad = !Number.isFinite(loss);
      let stepMin = Infinity;
      for (let i = 0; i < len; i++) {
        if (!Number.isFinite(dLogits[i])) bad = true;
        if (logits[i] < stepMin) stepMin = logits[i];
        if (logits[i] > stability.maxLogit) stability.maxLogit = logits[i];
      }
      if (stepMin < stability.minLogit) stability.minLogit = stepMin;
      trace.loss.push(loss / clsWeight);
      trace.minLogit.push(stepMin);
      if (bad) {
        stability.nonFiniteSteps++;
        stability.firstNonFinite ??= { step: step + 1, epoch: epoch + 1 };
      }
      if (o.reference && refOut && refLogits && refOptions) {
        for (let i = 0; i < len; i++) refLogits[i] = logits[i];
        refOptions.normalizer = options.normalizer;
        refOptions.out = refOut.subarray(0, len);
        o.reference(refLogits.subarray(0, len), tg, refOptions);
        let scale = 0;
        for (let i = 0; i < len; i++) scale = Math.max(scale, Math.abs(refOut[i]));
        for (let i = 0; i < len; i++) {
          const d = dLogits[i];
          if (!Number.isFinite(d)) continue;
          const err = Math.abs(d - refOut[i]) / Math.max(Math.abs(refOut[i]), 1e-6 * scale);
          if (err > stability.worstGradError) {
            stability.worstGradError = err;
            stability.worstAt = {
              step: step + 1,
              logit: logits[i],
              target: tg[Math.floor(i / CLASSES)],
              cls: i % CLASSES,
              grad: d,
              reference: refOut[i],
            };
          }
        }
      }
      clsSum += loss / clsWeight; // the unweighted classification loss
      // Backward: heads, then the trunk (one ReLU conv layer).
      grads.fill(0);
      let boxLoss = 0;
      let cn = 0;
      let bn = 0;
      for (let b = 0; b < n; b++) {
        const r = order[start + b];
        const bt = train.boxTargets[r];
        const x = train.x[r];
        for (let i = 0; i < POSITIONS; i++) {
          const p = b * POSITIONS + i;
          const f0 = p * H;
          dFc.fill(0);
          dFb.fill(0);
          for (let k = 0; k < K; k++) {
            const d = dLogits[p * K + k];
            if (d === 0) continue;
            gbc[k] += d;
            const w = k * H;
            for (let h = 0; h < H; h++) {
              gWc[w + h] += d * feat[f0 + h];
              dFc[h] += d * Wc[w + h];
            }
          }
          for (let s = 0; s < A; s++) {
            const a = i * A + s;
            const t = targets[b * ANCHORS + a];
            if (t < 0 || t >= CLASSES) continue;
            for (let c = 0; c < 2; c++) {
              const k = s * 2 + c;
              const diff = boxOut[p * B + k] - bt[2 * a + c];
              boxLoss += smoothL1(diff, BETA) / norm;
              const d = smoothL1Grad(diff, BETA) / norm;
              gbb[k] += d;
              const w = k * H;
              for (let h = 0; h < H; h++) {
                gWb[w + h] += d * feat[f0 + h];
                dFb[h] += d * Wb[w + h];
              }
            }
          }
          const centre = STRIDE * i;
          const half = (TAPS - 1) >> 1;
          const j0 = Math.max(0, half - centre);
          const j1 = Math.min(TAPS, LENGTH - centre + half);
          const xo = centre - half;
          for (let h = 0; h < H; h++) {
            if (feat[f0 + h] <= 0) continue;
            cn += dFc[h] * dFc[h];
            bn += dFb[h] * dFb[h];
            const d = dFc[h] + dFb[h];
            if (d === 0) continue;
            gb1[h] += d;
            const w = h * TAPS;
            for (let j = j0; j < j1; j++) gW1[w + j] += d * x[xo + j];
          }
        }
      }
      clsNorm2 += cn;
      boxNorm2 += bn;
      boxSum += boxLoss;
      batches++;
      // Adam with cosine decay.
      const lr = 0.5 * lr0 * (1 + Math.cos((Math.PI * step) / steps));
      step++;
      const c1 = 1 - 0.9 ** step;
      const c2 = 1 - 0.999 ** step;
      const prm = model.params;
      for (let k = 0; k < P; k++) {
        m[k] = 0.9 * m[k] + 0.1 * grads[k];
        v[k] = 0.999 * v[k] + 0.001 * grads[k] * grads[k];
        prm[k] -= (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + 1e-8);
      }
    }
    epoch++;
    if (!model.params.every(Number.isFinite)) stability.paramsNonFinite = true;
    const entry = { epoch, clsLoss: clsSum / batches, boxLoss: boxSum / batches };
    history.push(entry);
    return entry;
  }

  return {
    model,
    runEpoch,
    history,
    stability,
    trace,
    get epoch() {
      return epoch;
    },
    /** √(Σ‖∂L_cls/∂trunk‖² / Σ‖∂L_box/∂trunk‖²) over all steps so far (gradients at the trunk's ReLU output). */
    get trunkRatio() {
      return Math.sqrt(clsNorm2 / boxNorm2);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

/** Detections of one signal (C classes): score > 0.05 → top 200 → per-class NMS at IoU 0.5 → at most 100. */
export function detect(logits, box, CLASSES) {
  const cand = [];
  for (let i = 0; i < logits.length; i++) {
    const s = sigmoid(logits[i]);
    if (s > 0.05) cand.push(i);
  }
  cand.sort((p, q) => logits[q] - logits[p] || p - q);
  cand.length = Math.min(cand.length, 200);
  const kept = [];
  for (const i of cand) {
    const a = Math.floor(i / CLASSES);
    const cls = i % CLASSES;
    const c = anchorCentre(a) + box[2 * a] * anchorWidth(a);
    const w = anchorWidth(a) * Math.exp(Math.min(box[2 * a + 1], 4));
    const d = { cls, score: sigmoid(logits[i]), lo: c - w / 2, hi: c + w / 2 };
    if (kept.some((k) => k.cls === cls && iou1d(k.lo, k.hi, d.lo, d.hi) > 0.5)) continue;
    kept.push(d);
    if (kept.length === 100) break;
  }
  return kept;
}

/**
 * COCO-style AP of a model on a set: per class and IoU threshold, detections by descending score are
 * matched greedily to the unmatched ground truth of their signal with the highest IoU; precision made
 * monotone; sampled at 101 recall points. Returns AP (mean over thresholds and classes), AP50 and AP75.
 */
export function evaluate(model, set) {
  const out = infer(model, set);
  return evaluateOutputs(out, set);
}

export function evaluateOutputs(out, set) {
  const CLASSES = set.classes;
  const dets = Array.from(
    { length: CLASSES },
    () => /** @type {{ k: number, score: number, lo: number, hi: number }[]} */ ([]),
  );
  out.forEach(({ logits, box }, k) => {
    if (!logits.every(Number.isFinite)) return; // a diverged model detects nothing
    for (const d of detect(logits, box, CLASSES)) dets[d.cls].push({ k, score: d.score, lo: d.lo, hi: d.hi });
  });
  const perThreshold = IOU_THRESHOLDS.map(() => 0);
  let classesWithObjects = 0;
  for (let c = 0; c < CLASSES; c++) {
    const gts = set.boxes.map((bs) => bs.filter((b) => b.cls === c));
    const total = gts.reduce((s, b) => s + b.length, 0);
    if (total === 0) continue;
    classesWithObjects++;
    const list = dets[c].slice().sort((p, q) => q.score - p.score);
    IOU_THRESHOLDS.forEach((thr, ti) => {
      const used = gts.map((b) => new Uint8Array(b.length));
      const prec = [];
      const rec = [];
      let tp = 0;
      list.forEach((d, i) => {
        let best = -1;
        let bestIou = thr - 1e-12;
        gts[d.k].forEach((b, j) => {
          if (used[d.k][j]) return;
          const v = iou1d(d.lo, d.hi, b.lo, b.hi);
          if (v >= bestIou) {
            bestIou = v;
            best = j;
          }
        });
        if (best >= 0) {
          used[d.k][best] = 1;
          tp++;
        }
        prec.push(tp / (i + 1));
        rec.push(tp / total);
      });
      for (let i = prec.length - 2; i >= 0; i--) prec[i] = Math.max(prec[i], prec[i + 1]);
      let ap = 0;
      let j = 0;
      for (let r = 0; r <= 100; r++) {
        while (j < rec.length && rec[j] < r / 100 - 1e-12) j++;
        ap += j < rec.length ? prec[j] : 0;
      }
      perThreshold[ti] += ap / 101;
    });
  }
  const ap = perThreshold.map((v) => v / Math.max(1, classesWithObjects));
  return { ap: ap.reduce((s, v) => s + v, 0) / ap.length, ap50: ap[0], ap75: ap[5], perThreshold: ap };
}

// ---------------------------------------------------------------------------------------------------------
// Figure 4 of the paper: how the loss is distributed over positive and negative anchors

export const FIG4_GAMMAS = Object.freeze([0, 0.5, 1, 2]);

/**
 * The element losses of a trained model on a set, under each γ (α off: it scales all positives or all
 * negatives alike, so the shares do not depend on it), sorted; the share of the total carried by the hardest
 * fractions, and the cumulative distribution (normalized loss vs fraction of anchors, easiest first) at
 * `points` fractions. `lossNone(logits, targets, options)` is the package's sigmoidFocalLoss.
 * Positives: (anchor, its class). Negatives: every other (anchor, class) pair of a non-ignored anchor.
 */
export function figure4(model, set, lossNone, gammas = FIG4_GAMMAS, points = 50) {
  const CLASSES = set.classes;
  const out = infer(model, set);
  const result = {};
  for (const gamma of gammas) {
    const pos = [];
    const neg = [];
    out.forEach(({ logits }, k) => {
      const t = set.targets[k];
      const l = lossNone(logits, t, {
        classes: CLASSES,
        targetForm: 'indices',
        gamma,
        alpha: null,
        ignoreIndex: IGNORE,
        reduction: 'none',
      });
      for (let a = 0; a < ANCHORS; a++) {
        if (t[a] === IGNORE) continue;
        for (let c = 0; c < CLASSES; c++) (t[a] === c ? pos : neg).push(l[a * CLASSES + c]);
      }
    });
    const stats = (arr, fractions) => {
      const s = Float64Array.from(arr).sort().reverse();
      const total = s.reduce((x, y) => x + y, 0);
      const prefix = new Float64Array(s.length + 1);
      for (let i = 0; i < s.length; i++) prefix[i + 1] = prefix[i] + s[i];
      const share = (f) => prefix[Math.max(1, Math.round(f * s.length))] / total;
      // CDF: fraction of anchors (easiest first) → share of the loss they carry.
      const cdf = Array.from({ length: points + 1 }, (_, i) => {
        const f = i / points;
        return [f, 1 - prefix[Math.round((1 - f) * s.length)] / total];
      });
      return { count: s.length, shares: fractions.map(share), cdf };
    };
    result[String(gamma)] = { negatives: stats(neg, [0.001, 0.01, 0.1]), positives: stats(pos, [0.1, 0.5]) };
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// A textbook focal loss, for the stability comparison

const f = Math.fround;

/**
 * Sigmoid focal loss as commonly written in JavaScript, in float32: p = σ(x) rounded to float32,
 * p_t = p or 1 − p, loss = −α_t (1 − p_t)^γ log p_t with Math.pow, and the gradient autograd would give:
 * the chain rule through p_t, ∂/∂p_t = α_t [γ (1 − p_t)^(γ−1) log p_t − (1 − p_t)^γ / p_t], times
 * ∂p_t/∂x = ±p(1 − p). Same call shape as the package's (class-index targets, ignoreIndex, normalizer, out).
 * @type {LossWithGrad}
 */
export function textbookFocalLossWithGrad(logits, targets, options) {
  const C = options.classes;
  const { gamma, out } = options;
  const alpha = options.alpha ?? -1;
  const ignore = options.ignoreIndex ?? -100;
  const norm = options.normalizer;
  let sum = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    for (let c = 0; c < C; c++) {
      const j = i * C + c;
      if (t === ignore) {
        out[j] = 0;
        continue;
      }
      const y = t === c ? 1 : 0;
      const p = f(1 / f(1 + f(Math.exp(-logits[j]))));
      const pt = y ? p : f(1 - p);
      const at = alpha < 0 ? 1 : y ? alpha : f(1 - alpha);
      const q = f(1 - pt);
      const logpt = f(Math.log(pt));
      const mod = f(Math.pow(q, gamma));
      sum += f(-at * f(mod * logpt));
      const dmod = f(gamma * f(Math.pow(q, gamma - 1))); // d(1 − p_t)^γ / d(1 − p_t)
      const dpt = f(at * f(f(dmod * logpt) - f(mod / pt))); // dL/dp_t
      const dp = f(p * f(1 - p)); // dσ/dx
      out[j] = f(f(dpt * (y ? dp : -dp)) / norm);
    }
  }
  return { loss: sum / norm, grad: out };
}

// ---------------------------------------------------------------------------------------------------------
// Small statistics helpers

export function meanSpread(values) {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

/** Per-seed paired differences b − a: mean, wins (b > a), min..max. */
export function paired(a, b) {
  const d = b.map((v, i) => v - a[i]);
  const s = meanSpread(d);
  return { ...s, wins: d.filter((v) => v > 0).length, n: d.length, diffs: d };
}
