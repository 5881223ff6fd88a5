// A straightforward float64 implementation of the mathematics of CONTRACT.md, independent of the package,
// for property tests with MODERATE inputs (|logits| ≲ 30). It is not stable at the extremes on
// purpose-made inputs (that is what the 60-digit vectors are for); it only avoids the cancellations
// that moderate inputs already hit: log p and 1 − p of the largest class are taken from
// S′ = Σ_{j≠k} e^(z_j − z_k) as CONTRACT.md § Stability writes them, and the sigmoid's 1 − p is σ(−x).
//
// Every function returns per-item values ('none') plus, for every gradient entry, the magnitude of
// the terms it is made of (`gradScale`), so a comparison can use rtol·max(|g|, scale).

export interface RefResult {
  /** One loss per item (softmax: row or position; sigmoid: element). */
  losses: Float64Array;
  /** Gradient of the sum of the per-item losses, the logits' layout. */
  grad: Float64Array;
  /** Σ|terms| of each gradient entry. */
  gradScale: Float64Array;
  /** Items counted by 'mean'. */
  count: number;
}

export interface RefSoftmaxOptions {
  classes?: number;
  shape?: readonly number[];
  gamma?: number;
  alpha?: number | ArrayLike<number> | null;
  ignoreIndex?: number;
  labelSmoothing?: number;
  weights?: ArrayLike<number> | null;
}

export interface RefSigmoidOptions {
  gamma?: number;
  /** null or -1: off; default 0.25. */
  alpha?: number | null;
  labelSmoothing?: number;
  weights?: ArrayLike<number> | null;
}

const powOneMinus = (oneMinus: number, gamma: number) => (gamma === 0 ? 1 : Math.pow(oneMinus, gamma));

/**
 * Softmax focal loss of every item. `targets` are class indices (one per item) or, when
 * `probs` is true, probabilities in the logits' layout.
 */
export function refSoftmax(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  o: RefSoftmaxOptions,
  probs = false,
): RefResult {
  const [N, C, S] = o.shape
    ? [o.shape[0], o.shape[1], o.shape.slice(2).reduce((a, b) => a * b, 1)]
    : [logits.length / o.classes!, o.classes!, 1];
  const gamma = o.gamma ?? 2;
  const eps = o.labelSmoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const alphaOf = (c: number) =>
    o.alpha === undefined || o.alpha === null ? 1 : typeof o.alpha === 'number' ? o.alpha : o.alpha[c];
  const losses = new Float64Array(N * S);
  const grad = new Float64Array(logits.length);
  const gradScale = new Float64Array(logits.length);
  let count = 0;
  const z = new Float64Array(C);
  const q = new Float64Array(C);
  const logp = new Float64Array(C);
  const p = new Float64Array(C);
  const h = new Float64Array(C);
  const idx = (n: number, c: number, s: number) => (n * C + c) * S + s;

  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      const item = n * S + s;
      if (!probs && targets[item] === ignore) continue;
      count++;
      for (let c = 0; c < C; c++) z[c] = logits[idx(n, c, s)];
      for (let c = 0; c < C; c++) q[c] = probs ? targets[idx(n, c, s)] : c === targets[item] ? 1 : 0;
      if (eps > 0) for (let c = 0; c < C; c++) q[c] = (1 - eps) * q[c] + eps / C;
      // log p_c = (z_c − max) − log1p(S′), S′ = Σ_{j≠k} e^(z_j − max) (CONTRACT.md § Stability): rounding z_c − (max + log(…))
      // first would lose the digits of a log p near 0.
      let k = 0;
      for (let c = 1; c < C; c++) if (z[c] > z[k]) k = c;
      const max = z[k];
      let rest = 0;
      for (let c = 0; c < C; c++) if (c !== k) rest += Math.exp(z[c] - max);
      const log1pRest = Math.log1p(rest);
      for (let c = 0; c < C; c++) {
        logp[c] = z[c] - max - log1pRest;
        p[c] = Math.exp(logp[c]);
      }
      const w = o.weights ? o.weights[item] : 1;
      let loss = 0;
      let H = 0;
      let Habs = 0;
      for (let c = 0; c < C; c++) {
        let oneMinus = 0;
        if (c === k) oneMinus = rest / (1 + rest);
        else oneMinus = 1 - p[c]; // p_c <= 1/2
        const r = oneMinus === 0 ? 1 : -logp[c] / oneMinus;
        h[c] = -powOneMinus(oneMinus, gamma) * (1 + gamma * p[c] * r);
        if (q[c] !== 0) {
          loss -= alphaOf(c) * q[c] * powOneMinus(oneMinus, gamma) * logp[c];
          H += alphaOf(c) * q[c] * h[c];
          Habs += Math.abs(alphaOf(c) * q[c] * h[c]);
        }
      }
      losses[item] = w * loss;
      for (let j = 0; j < C; j++) {
        const own = q[j] !== 0 ? alphaOf(j) * q[j] * h[j] : 0;
        grad[idx(n, j, s)] = w * (own - p[j] * H);
        gradScale[idx(n, j, s)] = w * (Math.abs(own) + p[j] * Habs);
      }
    }
  }
  return { losses, grad, gradScale, count };
}

/** log(1 + e^u) without overflow. */
export function softplus(u: number): number {
  return Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u)));
}

/** Sigmoid focal loss of every element (torchvision's form, CONTRACT.md's gradient). */
export function refSigmoid(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  o: RefSigmoidOptions = {},
): RefResult {
  const gamma = o.gamma ?? 2;
  const alpha = o.alpha === undefined ? 0.25 : o.alpha === null || o.alpha === -1 ? null : o.alpha;
  const eps = o.labelSmoothing ?? 0;
  const n = logits.length;
  const losses = new Float64Array(n);
  const grad = new Float64Array(n);
  const gradScale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    const y0 = targets[i];
    const y = eps > 0 ? y0 * (1 - eps) + eps / 2 : y0;
    const p = 1 / (1 + Math.exp(-x));
    const q = 1 / (1 + Math.exp(x)); // 1 − p without cancellation
    const ce = y * softplus(-x) + (1 - y) * softplus(x);
    const m = y * q + (1 - y) * p;
    const at = alpha === null ? 1 : alpha * y + (1 - alpha) * (1 - y);
    const w = o.weights ? o.weights[i] : 1;
    const mg = powOneMinus(m, gamma);
    losses[i] = w * at * mg * ce;
    // γ·m^(γ−1)·(1 − 2y)·p(1 − p)·CE, with m^(γ−1) only where m > 0.
    const a = gamma === 0 ? 0 : gamma * Math.pow(m, gamma - 1) * (1 - 2 * y) * p * q * ce;
    // p − y: exactly ∓m for hard targets.
    const pMinusY = y === 1 ? -q : y === 0 ? p : p - y;
    grad[i] = w * at * (a + mg * pMinusY);
    gradScale[i] = w * at * (Math.abs(a) + mg * (y === 0 || y === 1 ? Math.abs(pMinusY) : p + y));
  }
  return { losses, grad, gradScale, count: n };
}

/** Applies a reduction to a per-item reference result: the loss, and the gradient of that loss. */
export function refReduce(
  r: RefResult,
  reduction: 'mean' | 'sum' | 'none',
): { loss: number | Float64Array; grad: Float64Array; gradScale: Float64Array } {
  if (reduction === 'none') return { loss: r.losses, grad: r.grad, gradScale: r.gradScale };
  let sum = 0;
  for (const v of r.losses) sum += v;
  if (reduction === 'sum') return { loss: sum, grad: r.grad, gradScale: r.gradScale };
  const k = r.count > 0 ? 1 / r.count : 0;
  return {
    loss: r.count > 0 ? sum / r.count : 0,
    grad: r.grad.map((g) => g * k),
    gradScale: r.gradScale.map((g) => g * k),
  };
}

/** Options of the element-wise references: one loss and its parameters, as the public options name them. */
export type RefElementOptions =
  | {
      loss: 'sigmoid';
      gamma?: number;
      alpha?: number | null;
      posWeight?: number | number[];
      polyEpsilon?: number;
      labelSmoothing?: number;
    }
  | { loss: 'quality'; beta?: number }
  | { loss: 'varifocal'; alpha?: number; gamma?: number; iouWeighted?: boolean }
  | { loss: 'asymmetric'; gammaPos?: number; gammaNeg?: number; clip?: number; detachFocalWeight?: boolean };

/**
 * The element-wise family on dense targets, straight from the definitions in CONTRACT.md (double
 * precision, for moderate logits: |x| below ~30 keeps 1 − p and the logs representable), with the
 * derivative taken by hand term by term. `classOf(i)` gives element i's class for a per-class posWeight.
 */
export function refElementwise(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  o: RefElementOptions,
  weights?: ArrayLike<number>,
  classOf: (i: number) => number = () => 0,
): { losses: Float64Array; grad: Float64Array } {
  const n = logits.length;
  const losses = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    const w = weights ? weights[i] : 1;
    const p = 1 / (1 + Math.exp(-x));
    const q = 1 / (1 + Math.exp(x));
    let y = targets[i];
    let l = 0;
    let g = 0;
    if (o.loss === 'sigmoid') {
      const eps = o.labelSmoothing ?? 0;
      y = y * (1 - eps) + eps / 2;
      const gamma = o.gamma ?? 2;
      const alpha = o.alpha === undefined ? 0.25 : o.alpha;
      const at = alpha === null || alpha === -1 ? 1 : alpha * y + (1 - alpha) * (1 - y);
      const pw =
        o.posWeight === undefined ? 1 : typeof o.posWeight === 'number' ? o.posWeight : o.posWeight[classOf(i)];
      const ce = pw * y * softplus(-x) + (1 - y) * softplus(x);
      const m = y * q + (1 - y) * p;
      const dm = (1 - 2 * y) * p * q;
      const dce = pw * y * (p - 1) + (1 - y) * p;
      const e = o.polyEpsilon ?? 0;
      l = at * m ** gamma * ce + e * m ** (gamma + 1);
      g =
        at * ((gamma === 0 ? 0 : gamma * m ** (gamma - 1) * dm * ce) + m ** gamma * dce) +
        e * (gamma + 1) * m ** gamma * dm;
    } else if (o.loss === 'quality') {
      const beta = o.beta ?? 2;
      const bce = y * softplus(-x) + (1 - y) * softplus(x);
      const d = Math.abs(y - p);
      l = d ** beta * bce;
      g = (beta === 0 || d === 0 ? 0 : beta * d ** (beta - 1) * Math.sign(p - y) * p * q * bce) + d ** beta * (p - y);
    } else if (o.loss === 'varifocal') {
      const alpha = o.alpha ?? 0.75;
      const gamma = o.gamma ?? 2;
      if (y > 0) {
        const k = (o.iouWeighted ?? true) ? y : 1;
        l = k * (y * softplus(-x) + (1 - y) * softplus(x));
        g = k * (p - y);
      } else {
        l = alpha * p ** gamma * softplus(x);
        g = alpha * p ** gamma * (gamma * q * softplus(x) + p);
      }
    } else {
      const gp = o.gammaPos ?? 1;
      const gn = o.gammaNeg ?? 4;
      const clip = o.clip ?? 0.05;
      const detach = o.detachFocalWeight ?? false;
      const pm = Math.max(p - clip, 0);
      const logP = -softplus(-x);
      const log1mPm = clip > 0 ? Math.log(q + clip > 1 ? 1 : q + clip) : -softplus(x);
      l = -y * q ** gp * logP - (1 - y) * (pm > 0 ? pm ** gn * log1mPm : 0);
      const gPos = -y * q ** gp * (q - (detach ? 0 : gp * p * logP));
      const gNeg =
        pm > 0 ? (1 - y) * p * q * (pm ** gn / (1 - pm) + (detach ? 0 : gn * pm ** gn * (-log1mPm / pm))) : 0;
      g = gPos + gNeg;
    }
    losses[i] = w * l;
    grad[i] = w * g;
  }
  return { losses, grad };
}

/** Class indices as the dense targets they stand for ([N, C, S]: t = C is an all-zero row; ignored items give null). */
export function oneHot(
  indices: ArrayLike<number>,
  N: number,
  C: number,
  S: number,
  ignoreIndex = -100,
): { dense: Float64Array; counted: boolean[] } {
  const dense = new Float64Array(N * C * S);
  const counted: boolean[] = [];
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      const t = indices[n * S + s];
      counted.push(t !== ignoreIndex);
      if (t !== ignoreIndex && t < C) dense[n * C * S + t * S + s] = 1;
    }
  }
  return { dense, counted };
}
