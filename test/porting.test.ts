// The README's "Porting from PyTorch / Keras" examples: each other library's loss written out here in plain
// TypeScript, following its source (torchvision/ops/focal_loss.py, kornia/losses/focal.py,
// keras/src/losses/losses.py + loss.py, torch.nn.functional.cross_entropy as documented, and the hand-written
// FocalLoss module built on it), and our package called with the mapped options must reproduce
// it. The README shows the same numbers; the last test checks they are the ones printed there.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { sigmoidFocalLoss, softmaxFocalLoss } from 'focal-loss';

const log1p = Math.log1p;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const close = (a: number, b: number, rel = 1e-12) =>
  expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.abs(b) + 1e-300);
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

// torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction='none')
function torchvisionSigmoidFocalLoss(inputs: number[], targets: number[], alpha = 0.25, gamma = 2, reduction = 'none') {
  const loss = inputs.map((x, i) => {
    const y = targets[i];
    const p = sigmoid(x);
    // F.binary_cross_entropy_with_logits: max(x, 0) − x·y + log(1 + e^(−|x|))
    const ce = Math.max(x, 0) - x * y + log1p(Math.exp(-Math.abs(x)));
    const pt = p * y + (1 - p) * (1 - y);
    let l = ce * (1 - pt) ** gamma;
    if (alpha >= 0) l *= alpha * y + (1 - alpha) * (1 - y);
    return l;
  });
  return reduction === 'mean' ? sum(loss) / loss.length : reduction === 'sum' ? sum(loss) : loss;
}

// kornia.losses.focal_loss(pred, target, alpha, gamma=2.0, reduction='none', weight=None, ignore_index=-100)
// pred [N, C, *spatial] (here flat, channels-first), target [N, *spatial]. Returns loss_tmp of shape [N, C, *]
// (nonzero only in the target channel) for 'none', its mean over all N·C·S elements for 'mean'.
function korniaFocalLoss(
  pred: number[],
  target: number[],
  shape: [number, number, number],
  alpha: number | null,
  gamma: number,
  reduction: 'none' | 'mean' | 'sum',
  weight: number[] | null = null,
  ignoreIndex = -100,
) {
  const [N, C, S] = shape;
  const lossTmp = new Array(N * C * S).fill(0);
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      const t = target[n * S + s];
      if (t === ignoreIndex) continue; // mask_ignore_pixels: its one-hot row is zeroed
      const z = Array.from({ length: C }, (_, c) => pred[(n * C + c) * S + s]);
      const m = Math.max(...z);
      const lse = m + Math.log(sum(z.map((v) => Math.exp(v - m))));
      const logp = z[t] - lse; // log_softmax
      let l = -((1 - Math.exp(logp)) ** gamma) * logp;
      if (alpha !== null) l *= t === 0 ? 1 - alpha : alpha; // alpha_fac = [1 − α, α, α, …]
      if (weight) l *= weight[t];
      lossTmp[(n * C + t) * S + s] = l;
    }
  }
  return reduction === 'none' ? lossTmp : reduction === 'sum' ? sum(lossTmp) : sum(lossTmp) / lossTmp.length;
}

const KERAS_EPSILON = 1e-7;
const clip = (v: number) => Math.min(Math.max(v, KERAS_EPSILON), 1 - KERAS_EPSILON);

// keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits, label_smoothing,
// reduction='sum_over_batch_size'), axis=-1: yTrue one-hot rows [B, C].
function kerasCategoricalFocal(
  yTrue: number[][],
  yPred: number[][],
  o: { alpha: number | number[]; gamma: number; fromLogits: boolean; labelSmoothing: number },
) {
  const perSample = yTrue.map((row, b) => {
    const C = row.length;
    const y = o.labelSmoothing ? row.map((v) => v * (1 - o.labelSmoothing) + o.labelSmoothing / C) : row;
    let p = yPred[b];
    if (o.fromLogits) {
      const m = Math.max(...p);
      const e = p.map((v) => Math.exp(v - m));
      p = e.map((v) => v / sum(e));
    }
    const s = sum(p);
    const output = p.map((v) => clip(v / s));
    return sum(
      output.map((q, c) => (1 - q) ** o.gamma * (Array.isArray(o.alpha) ? o.alpha[c] : o.alpha) * -y[c] * Math.log(q)),
    );
  });
  return { perSample, sumOverBatchSize: sum(perSample) / perSample.length };
}

// keras.losses.BinaryFocalCrossentropy(apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits,
// label_smoothing, axis=-1, reduction='sum_over_batch_size'): mean over the last axis, then over the batch.
function kerasBinaryFocal(
  yTrue: number[][],
  yPred: number[][],
  o: { applyClassBalancing: boolean; alpha: number; gamma: number; fromLogits: boolean; labelSmoothing: number },
) {
  const perSample = yTrue.map((row, b) => {
    const vals = row.map((y0, k) => {
      const y = o.labelSmoothing ? y0 * (1 - o.labelSmoothing) + 0.5 * o.labelSmoothing : y0;
      const p = clip(o.fromLogits ? sigmoid(yPred[b][k]) : yPred[b][k]);
      const bce = -(y * Math.log(p) + (1 - y) * Math.log(1 - p)); // ops.binary_crossentropy on probabilities
      const pt = y * p + (1 - y) * (1 - p);
      let l = (1 - pt) ** o.gamma * bce;
      if (o.applyClassBalancing) l *= y * o.alpha + (1 - y) * (1 - o.alpha);
      return l;
    });
    return sum(vals) / vals.length;
  });
  return { perSample, sumOverBatchSize: sum(perSample) / perSample.length };
}

/** Numbers shown in the README, formatted as there. */
const shown: string[] = [];
const fmt = (v: number) => v.toFixed(6);
const show = (...values: number[]) => shown.push(...values.map(fmt));

describe('torchvision sigmoid_focal_loss', () => {
  const inputs = [2.0, -1.0, 0.5, -3.0];
  const targets = [1, 0, 0, 1];

  test("reduction='none' with alpha=0.25, gamma=2 is ours with reduction: 'none' (defaults alpha 0.25, gamma 2)", () => {
    const theirs = torchvisionSigmoidFocalLoss(inputs, targets, 0.25, 2, 'none') as number[];
    const ours = sigmoidFocalLoss(new Float64Array(inputs), targets, { alpha: 0.25, gamma: 2, reduction: 'none' });
    theirs.forEach((v, i) => close(ours[i], v));
    show(...theirs);
  });

  test("reduction='mean', and alpha=-1 (off) is alpha: null", () => {
    const theirs = torchvisionSigmoidFocalLoss(inputs, targets, -1, 2, 'mean') as number;
    close(sigmoidFocalLoss(new Float64Array(inputs), targets, { alpha: null, gamma: 2 }), theirs);
    close(sigmoidFocalLoss(new Float64Array(inputs), targets, { alpha: -1, gamma: 2 }), theirs);
    show(theirs);
  });
});

describe('kornia focal_loss', () => {
  // pred [N = 2, C = 3, 2 positions], channels-first; one position ignored.
  const pred = [1.0, -0.5, 0.2, 2.0, -1.0, 0.3, /* n = 1 */ 0.0, 1.5, 3.0, -2.0, 0.5, 0.5];
  const target = [0, 1, 2, -100];
  const shape: [number, number, number] = [2, 3, 2];
  const alpha = 0.25;
  const weight = [1, 2, 0.5];
  // kornia's alpha is per class [1 − α, α, α, …] (class 0 is the background), times weight.
  const ourAlpha = [(1 - alpha) * weight[0], alpha * weight[1], alpha * weight[2]];

  test("reduction='mean' divides by N·C·positions (ignored ones included): ours 'sum' / (N·C·S)", () => {
    const theirs = korniaFocalLoss(pred, target, shape, alpha, 2, 'mean', weight) as number;
    const ourSum = softmaxFocalLoss(new Float64Array(pred), target, {
      shape: [2, 3, 2],
      gamma: 2,
      alpha: ourAlpha,
      reduction: 'sum',
    });
    close(ourSum / 12, theirs);
    // Ours 'mean' divides by the 3 counted positions instead.
    const ourMean = softmaxFocalLoss(new Float64Array(pred), target, { shape: [2, 3, 2], gamma: 2, alpha: ourAlpha });
    close(ourMean, ourSum / 3);
    show(theirs, ourMean);
  });

  test("reduction='none' is [N, C, *] with the loss in the target channel: ours 'none' is its sum over C", () => {
    const theirs = korniaFocalLoss(pred, target, shape, alpha, 2, 'none', weight) as number[];
    const ours = softmaxFocalLoss(new Float64Array(pred), target, {
      shape: [2, 3, 2],
      gamma: 2,
      alpha: ourAlpha,
      reduction: 'none',
    });
    expect(ours.length).toBe(4);
    for (let n = 0; n < 2; n++) {
      for (let s = 0; s < 2; s++) {
        close(ours[n * 2 + s], theirs[(n * 3 + 0) * 2 + s] + theirs[(n * 3 + 1) * 2 + s] + theirs[(n * 3 + 2) * 2 + s]);
      }
    }
    expect(ours[3]).toBe(0); // the ignored position
    show(...Array.from(ours));
  });
});

describe('Keras CategoricalFocalCrossentropy', () => {
  const yTrue = [
    [0, 1, 0],
    [0, 0, 1],
  ];
  const logits = [
    [0.5, 2.0, -1.0],
    [1.0, 0.2, 0.4],
  ];

  test('alpha=0.25, gamma=2, from_logits=True, label_smoothing=0.1: scalar alpha scales every class', () => {
    const theirs = kerasCategoricalFocal(yTrue, logits, {
      alpha: 0.25,
      gamma: 2,
      fromLogits: true,
      labelSmoothing: 0.1,
    });
    const flat = new Float64Array(logits.flat());
    const opts = { classes: 3, alpha: 0.25, gamma: 2, labelSmoothing: 0.1 } as const;
    // sum_over_batch_size = our 'mean'; class indices or the one-hot rows give the same.
    close(softmaxFocalLoss(flat, [1, 2], opts), theirs.sumOverBatchSize);
    close(softmaxFocalLoss(flat, new Float64Array(yTrue.flat()), opts), theirs.sumOverBatchSize);
    const perSample = softmaxFocalLoss(flat, [1, 2], { ...opts, reduction: 'none' });
    theirs.perSample.forEach((v, i) => close(perSample[i], v));
    show(theirs.sumOverBatchSize, ...theirs.perSample);
  });

  test('a per-class alpha list maps to our per-class alpha', () => {
    const a = [0.2, 0.3, 0.5];
    const theirs = kerasCategoricalFocal(yTrue, logits, { alpha: a, gamma: 2, fromLogits: true, labelSmoothing: 0 });
    close(
      softmaxFocalLoss(new Float64Array(logits.flat()), [1, 2], { classes: 3, alpha: a, gamma: 2 }),
      theirs.sumOverBatchSize,
    );
  });
});

describe('Keras BinaryFocalCrossentropy', () => {
  const yTrue = [
    [0, 1],
    [0, 0],
  ];

  test("the Keras docstring's example (probabilities, gamma=2 → [0.330, 0.206]) via logits log(p/(1 − p)), alpha: null", () => {
    const probs = [
      [0.6, 0.4],
      [0.4, 0.6],
    ];
    const theirs = kerasBinaryFocal(yTrue, probs, {
      applyClassBalancing: false,
      alpha: 0.25,
      gamma: 2,
      fromLogits: false,
      labelSmoothing: 0,
    });
    expect(theirs.perSample.map((v) => +v.toFixed(3))).toEqual([0.33, 0.206]); // as documented by Keras
    const logits = new Float64Array(probs.flat().map((p) => Math.log(p / (1 - p))));
    const ours = sigmoidFocalLoss(logits, yTrue.flat(), { alpha: null, gamma: 2, reduction: 'none' });
    // Keras averages over the last axis per sample; the batch mean of that is our 'mean' over all elements.
    close((ours[0] + ours[1]) / 2, theirs.perSample[0]);
    close((ours[2] + ours[3]) / 2, theirs.perSample[1]);
    close(sigmoidFocalLoss(logits, yTrue.flat(), { alpha: null, gamma: 2 }), theirs.sumOverBatchSize);
    show(...theirs.perSample, theirs.sumOverBatchSize);
  });

  test('apply_class_balancing=True, alpha=0.25, gamma=2, from_logits=True, label_smoothing=0.1', () => {
    const logits = [
      [0.4, -0.4],
      [-0.4, 0.4],
    ];
    const theirs = kerasBinaryFocal(yTrue, logits, {
      applyClassBalancing: true,
      alpha: 0.25,
      gamma: 2,
      fromLogits: true,
      labelSmoothing: 0.1,
    });
    const ours = sigmoidFocalLoss(new Float64Array(logits.flat()), yTrue.flat(), {
      alpha: 0.25,
      gamma: 2,
      labelSmoothing: 0.1,
    });
    close(ours, theirs.sumOverBatchSize);
    show(theirs.sumOverBatchSize);
  });
});

// torch.nn.functional.cross_entropy(input [N, C], target [N], weight=None, ignore_index=-100, reduction), class
// indices, no label smoothing, as torch documents it: l_n = −w[y_n]·log_softmax(x_n)[y_n], 0 where y_n is
// ignore_index; 'mean' is the weighted mean Σ l_n / Σ_{y_n ≠ ignore_index} w[y_n]; 'none' returns every l_n.
function torchCrossEntropy(
  input: number[],
  target: number[],
  C: number,
  weight: number[] | null,
  reduction: 'none' | 'mean' | 'sum',
) {
  const losses: number[] = [];
  let weightSum = 0;
  target.forEach((t, n) => {
    if (t === -100) return void losses.push(0);
    const z = input.slice(n * C, (n + 1) * C);
    const m = Math.max(...z);
    const logp = z[t] - m - Math.log(sum(z.map((v) => Math.exp(v - m))));
    const w = weight ? weight[t] : 1;
    weightSum += w;
    losses.push(-w * logp);
  });
  return reduction === 'none' ? losses : reduction === 'sum' ? sum(losses) : sum(losses) / weightSum;
}

// The FocalLoss module most PyTorch code copies (not in any library):
//   ce = F.cross_entropy(inputs, targets, reduction='none', weight=self.alpha); pt = torch.exp(-ce)
//   loss = (1 - pt) ** self.gamma * ce;  return loss.mean() | loss.sum() | loss
function handWrittenFocalModule(
  input: number[],
  target: number[],
  C: number,
  gamma: number,
  alpha: number[] | null,
  reduction: 'none' | 'mean' | 'sum',
) {
  const ce = torchCrossEntropy(input, target, C, alpha, 'none') as number[];
  const loss = ce.map((v) => (1 - Math.exp(-v)) ** gamma * v);
  return reduction === 'none' ? loss : reduction === 'sum' ? sum(loss) : sum(loss) / loss.length; // Tensor.mean(): all N rows
}

describe('a hand-written PyTorch FocalLoss module, and F.cross_entropy(weight=…)', () => {
  const C = 3;
  const input = [1.2, -0.3, 0.5, 0.1, 2.0, -1.0, -0.5, 0.3, 0.8, 2.2, 0.4, -0.6]; // 4 rows × 3 classes
  const x = new Float64Array(input);

  test('FocalLoss(gamma=2, alpha=None) with no ignored target is ours, exactly', () => {
    const target = [0, 2, 2, 1];
    const theirs = handWrittenFocalModule(input, target, C, 2, null, 'mean') as number;
    close(softmaxFocalLoss(x, target, { classes: 3, gamma: 2 }), theirs);
    const each = handWrittenFocalModule(input, target, C, 2, null, 'none') as number[];
    const ours = softmaxFocalLoss(x, target, { classes: 3, gamma: 2, reduction: 'none' });
    each.forEach((v, i) => close(ours[i], v));
    show(theirs);
  });

  test(".mean() counts a row whose target is -100 (its loss is 0); ours does not: its 'sum' / N is theirs", () => {
    const target = [0, 2, -100, 1];
    const theirs = handWrittenFocalModule(input, target, C, 2, null, 'mean') as number;
    const ourSum = softmaxFocalLoss(x, target, { classes: 3, gamma: 2, reduction: 'sum' });
    close(ourSum / 4, theirs);
    const ourMean = softmaxFocalLoss(x, target, { classes: 3, gamma: 2 });
    close(ourMean, ourSum / 3);
    expect(Math.abs(ourMean - theirs)).toBeGreaterThan(0.01 * theirs); // 4/3 of theirs: not a rounding difference
    show(theirs, ourMean);
  });

  test("F.cross_entropy(weight=w)'s 'mean' divides by Σ w[target]; ours with alpha: w divides by the count", () => {
    const target = [0, 2, -100, 1];
    const w = [0.25, 0.5, 2];
    const theirs = torchCrossEntropy(input, target, C, w, 'mean') as number;
    const ourSum = softmaxFocalLoss(x, target, { classes: 3, gamma: 0, alpha: w, reduction: 'sum' });
    close(ourSum / (w[0] + w[2] + w[1]), theirs);
    // 'sum' and 'none' are the same in both: the weight multiplies each row's loss like alpha does.
    close(ourSum, torchCrossEntropy(input, target, C, w, 'sum') as number);
    const ourMean = softmaxFocalLoss(x, target, { classes: 3, gamma: 0, alpha: w });
    close(ourMean, ourSum / 3);
    expect(Math.abs(ourMean - theirs)).toBeGreaterThan(0.01 * theirs);
    show(theirs, ourMean);
  });

  test('weight=alpha inside that module is not alpha: pt = exp(−α·CE) = p^α, so its factor is (1 − p^α)^γ', () => {
    const target = [0, 2, 2, 1];
    const a = [0.25, 1, 2];
    const theirs = handWrittenFocalModule(input, target, C, 2, a, 'none') as number[];
    const ours = softmaxFocalLoss(x, target, { classes: 3, gamma: 2, alpha: a, reduction: 'none' });
    expect(theirs).toHaveLength(4);
    target.forEach((t, i) => {
      if (a[t] === 1)
        close(ours[i], theirs[i]); // the row of class 1, whose α is 1: the same
      else expect(Math.abs(ours[i] - theirs[i]), `row ${i}, α ${a[t]}`).toBeGreaterThan(0.05 * ours[i]);
    });
    show(...theirs, ...Array.from(ours));
  });
});

test('the README shows these numbers', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('<!-- section:porting -->'), readme.indexOf('<!-- /section:porting -->'));
  expect(shown.length).toBeGreaterThan(10);
  const missing = shown.filter((v) => !section.includes(v));
  expect(missing, `numbers not in README's porting section:\n${shown.join('\n')}`).toEqual([]);
});
