// The "plain TypeScript" contender: what a user writes by hand from the paper's formula
// −α_t (1 − p_t)^γ log p_t, with a max-subtracted softmax and the textbook (naive) gradient.
// It is plain JavaScript because that is what TypeScript compiles such a loop to (no types
// survive); nothing here is tuned beyond what a careful user would do.

/**
 * One item's probabilities, kept between calls and grown when an item has more classes: a careful
 * user's loop allocates nothing per call, which matters for the small calls (1 row × 10 classes).
 */
let probabilities = new Float64Array(16);

/**
 * Softmax focal loss, hard targets, reduction 'mean', loss and gradient.
 * Layout [N, C, S] (S = 1: rows of C classes, channels-last; S > 1: channels-first).
 * Returns the mean loss; writes ∂mean/∂z into `grad`.
 */
export function plainSoftmaxFocal(z, targets, N, C, S, gamma, grad) {
  const items = N * S;
  if (probabilities.length < C) probabilities = new Float64Array(C);
  const p = probabilities;
  let total = 0;
  const scale = 1 / items;
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      const base = n * C * S + s;
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (z[base + c * S] > max) max = z[base + c * S];
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const e = Math.exp(z[base + c * S] - max);
        p[c] = e;
        sum += e;
      }
      for (let c = 0; c < C; c++) p[c] /= sum;
      const t = targets[n * S + s];
      const pt = p[t];
      const logpt = Math.log(pt);
      const focal = Math.pow(1 - pt, gamma);
      total += -focal * logpt;
      // d/dp_t of −(1 − p)^γ log p, times p_t (chain rule through softmax): G·(δ_jt − p_j)
      const G = (gamma * Math.pow(1 - pt, gamma - 1) * logpt - focal / pt) * pt * scale;
      for (let c = 0; c < C; c++) grad[base + c * S] = c === t ? G * (1 - pt) : -G * p[c];
    }
  }
  return total / items;
}

/** Sigmoid focal loss (torchvision's formula, α = 0.25), reduction 'mean', loss and gradient. */
export function plainSigmoidFocal(x, y, gamma, alpha, grad) {
  const n = x.length;
  let total = 0;
  const scale = 1 / n;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    const p = 1 / (1 + Math.exp(-xi));
    // binary_cross_entropy_with_logits: max(x, 0) − x·y + log(1 + e^(−|x|))
    const ce = Math.max(xi, 0) - xi * yi + Math.log1p(Math.exp(-Math.abs(xi)));
    const pt = p * yi + (1 - p) * (1 - yi);
    const m = 1 - pt;
    const at = alpha * yi + (1 - alpha) * (1 - yi);
    const focal = Math.pow(m, gamma);
    total += at * focal * ce;
    // ∂/∂x: α_t [γ m^(γ−1) (1 − 2y) p(1 − p) CE + m^γ (p − y)]
    grad[i] = at * (gamma * Math.pow(m, gamma - 1) * (1 - 2 * yi) * p * (1 - p) * ce + focal * (p - yi)) * scale;
  }
  return total / n;
}

/**
 * The sigmoid focal loss with class-index targets (`classes` C: y = 1 for the item's class, 0 for the
 * others; t = C is background), α = 0.25, reduction 'mean' over all N·C elements.
 */
export function plainSigmoidFocalIndices(x, t, C, gamma, alpha, grad) {
  const n = x.length;
  let total = 0;
  const scale = 1 / n;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = t[(i / C) | 0] === i % C ? 1 : 0;
    const p = 1 / (1 + Math.exp(-xi));
    const ce = Math.max(xi, 0) - xi * yi + Math.log1p(Math.exp(-Math.abs(xi)));
    const pt = p * yi + (1 - p) * (1 - yi);
    const m = 1 - pt;
    const at = alpha * yi + (1 - alpha) * (1 - yi);
    const focal = Math.pow(m, gamma);
    total += at * focal * ce;
    grad[i] = at * (gamma * Math.pow(m, gamma - 1) * (1 - 2 * yi) * p * (1 - p) * ce + focal * (p - yi)) * scale;
  }
  return total / n;
}

/** Quality focal loss (GFL): |y − p|^β · BCE(x, y), reduction 'mean'. */
export function plainQualityFocal(x, y, beta, grad) {
  const n = x.length;
  let total = 0;
  const scale = 1 / n;
  for (let i = 0; i < n; i++) {
    const xi = x[i],
      yi = y[i];
    const p = 1 / (1 + Math.exp(-xi));
    const bce = Math.max(xi, 0) - xi * yi + Math.log1p(Math.exp(-Math.abs(xi)));
    const d = p - yi;
    const a = Math.abs(d);
    const w = Math.pow(a, beta);
    total += w * bce;
    // d/dx: β|p − y|^(β−1)·sign(p − y)·p(1 − p)·BCE + |p − y|^β·(p − y)
    grad[i] = (a === 0 ? 0 : beta * Math.pow(a, beta - 1) * Math.sign(d) * p * (1 - p) * bce + w * d) * scale;
  }
  return total / n;
}

/** Varifocal loss (IoU-weighted): positives q·BCE(x, q), negatives α·p^γ·BCE(x, 0); reduction 'mean'. */
export function plainVarifocal(x, y, alpha, gamma, grad) {
  const n = x.length;
  let total = 0;
  const scale = 1 / n;
  for (let i = 0; i < n; i++) {
    const xi = x[i],
      q = y[i];
    const p = 1 / (1 + Math.exp(-xi));
    const bce = Math.max(xi, 0) - xi * q + Math.log1p(Math.exp(-Math.abs(xi)));
    if (q > 0) {
      total += q * bce;
      grad[i] = q * (p - q) * scale;
    } else {
      const w = alpha * Math.pow(p, gamma);
      total += w * bce;
      grad[i] = w * (gamma * (1 - p) * bce + p) * scale;
    }
  }
  return total / n;
}

/** Asymmetric loss (ASL): y·(1 − p)^γ₊·(−log p) + (1 − y)·p_m^γ₋·(−log(1 − p_m)), p_m = max(p − clip, 0). */
export function plainAsymmetric(x, y, gammaPos, gammaNeg, clip, grad) {
  const n = x.length;
  let total = 0;
  const scale = 1 / n;
  for (let i = 0; i < n; i++) {
    const xi = x[i],
      yi = y[i];
    const p = 1 / (1 + Math.exp(-xi));
    const logp = Math.log(p);
    let l = 0,
      g = 0;
    if (yi > 0) {
      const f = Math.pow(1 - p, gammaPos);
      l += yi * f * -logp;
      g -= yi * f * (1 - p + gammaPos * p * -logp);
    }
    const pm = Math.max(p - clip, 0);
    if (yi < 1 && pm > 0) {
      const nl = -Math.log(1 - pm);
      const f = Math.pow(pm, gammaNeg);
      l += (1 - yi) * f * nl;
      g += (1 - yi) * p * (1 - p) * (gammaNeg * Math.pow(pm, gammaNeg - 1) * nl + f / (1 - pm));
    }
    total += l;
    grad[i] = g * scale;
  }
  return total / n;
}
