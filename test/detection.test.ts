// The README's "Detection" worked examples: each library's loss written out here in plain TypeScript from its
// source (torchvision/models/detection/retinanet.py + ops/focal_loss.py; detectron2 modeling/meta_arch/retinanet.py
// with fvcore's sigmoid_focal_loss; mmdet models/losses/focal_loss.py, gfocal_loss.py, varifocal_loss.py;
// ultralytics utils/loss.py VarifocalLoss; timm loss/asymmetric_loss.py; kornia losses/focal.py; mmdet
// DistributionFocalLoss and CenterNet's Gaussian focal loss for the recipes), and this package called with the
// mapped options must reproduce it. The README shows the same numbers; the last test checks they are printed there.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import {
  asymmetricLoss,
  qualityFocalLoss,
  sigmoidFocalLoss,
  sigmoidFocalLossPartial,
  softmaxFocalLoss,
  varifocalLoss,
} from 'focal-loss';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const bce = (x: number, y: number) => Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x))); // F.binary_cross_entropy_with_logits
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
const close = (a: number, b: number, rel = 1e-12) =>
  expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThanOrEqual(rel * Math.abs(b) + 1e-300);
const printed: number[] = [];
/** Checks our value against the library's and remembers it for the README check. */
function same(ours: number, theirs: number) {
  close(ours, theirs);
  printed.push(ours);
}

// 4 anchors × 3 classes; anchor labels as the assigners give them: class 1, background, between the IoU
// thresholds (ignored), class 0.
const C = 3;
const logits = new Float64Array([1.2, 2.5, -3, -4.5, -2, -3.5, 0.3, -0.2, 0.1, 0.8, -1.5, -2.5]);
const torchLabels = [1, 3, -100, 0]; // background = C (our class-index form), ignored = -100
const numForeground = 2;

/** One-hot rows of the valid anchors (background: all zero), as torchvision and detectron2 build them. */
function validOneHot(labels: number[], ignore: number) {
  const rows: { x: number[]; y: number[] }[] = [];
  labels.forEach((t, a) => {
    if (t === ignore) return;
    rows.push({
      x: Array.from(logits.subarray(a * C, a * C + C)),
      y: Array.from({ length: C }, (_, c) => (c === t ? 1 : 0)),
    });
  });
  return rows;
}

/** torchvision.ops.sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction='sum') on the valid rows. */
function tvSigmoidFocalSum(rows: { x: number[]; y: number[] }[], alpha = 0.25, gamma = 2) {
  let s = 0;
  for (const { x, y } of rows) {
    for (let c = 0; c < x.length; c++) {
      const p = sigmoid(x[c]);
      const pt = p * y[c] + (1 - p) * (1 - y[c]);
      s += (alpha * y[c] + (1 - alpha) * (1 - y[c])) * bce(x[c], y[c]) * (1 - pt) ** gamma;
    }
  }
  return s;
}

test('RetinaNet (torchvision): sum over valid anchors / max(1, num_foreground) = class indices with normalizer', () => {
  // retinanet.py compute_loss: gt_classes_target[foreground_idxs, labels] = 1; valid_idxs = matched_idxs != BETWEEN_THRESHOLDS;
  // sigmoid_focal_loss(cls_logits[valid_idxs], gt_classes_target[valid_idxs], reduction="sum") / max(1, num_foreground)
  const theirs = tvSigmoidFocalSum(validOneHot(torchLabels, -100)) / Math.max(1, numForeground);
  same(sigmoidFocalLoss(logits, torchLabels, { classes: C, normalizer: Math.max(1, numForeground) }), theirs);
  // The positives come from the partial (shards add them before dividing).
  expect(sigmoidFocalLossPartial(logits, torchLabels, { classes: C }).positives).toBe(numForeground);
});

test('detectron2: ignored = -1, background = C, the normalizer an EMA of max(1, positives)', () => {
  // meta_arch/retinanet.py losses(): valid_mask = gt_labels >= 0; pos_mask = valid & (gt_labels != num_classes);
  // self.loss_normalizer = momentum * self.loss_normalizer + (1 - momentum) * max(num_pos_anchors, 1) (100, 0.9);
  // gt_labels_target = F.one_hot(gt_labels[valid_mask], num_classes + 1)[:, :-1]; sigmoid_focal_loss_jit(..., reduction="sum") / normalizer
  const labels = [1, 3, -1, 0];
  const normalizer = 0.9 * 100 + 0.1 * Math.max(numForeground, 1);
  const theirs = tvSigmoidFocalSum(validOneHot(labels, -1)) / normalizer;
  same(sigmoidFocalLoss(logits, labels, { classes: C, ignoreIndex: -1, normalizer }), theirs);
});

test('mmdet FocalLoss(use_sigmoid=True) with avg_factor and per-anchor weights', () => {
  // focal_loss.py py_sigmoid_focal_loss: target = F.one_hot(label, num_classes + 1)[:, :num_classes];
  // loss = BCE(pred, target) * focal_weight with focal_weight = (alpha*t + (1-alpha)*(1-t)) * pt.pow(gamma);
  // weight_reduce_loss(loss, weight, 'mean', avg_factor) = (loss * weight).sum() / avg_factor.
  // Its assigner gives ignored anchors weight 0 (label_weights); here they are simply ignored.
  const weights = [1, 0.5, 0, 2];
  const rows = validOneHot(torchLabels, -100);
  const w = [1, 0.5, 2];
  let s = 0;
  rows.forEach((r, i) => (s += w[i] * tvSigmoidFocalSum([r])));
  same(sigmoidFocalLoss(logits, torchLabels, { classes: C, weights, normalizer: numForeground }), s / numForeground);
});

// Quality scores (IoU of the predicted box with its object) at the positives' classes, 0 elsewhere.
const scores = new Float64Array([0, 0.83, 0, 0, 0, 0, 0, 0, 0, 0.61, 0, 0]);

test('mmdet QualityFocalLoss (GFL): per-anchor sum over classes, avg_factor = positives', () => {
  // gfocal_loss.py quality_focal_loss: negatives BCE(pred, 0) * sigmoid(pred)^beta; positives at their label
  // BCE(pred, score) * |score − sigmoid(pred)|^beta; loss.sum(dim=1); then weight_reduce_loss(..., avg_factor).
  let s = 0;
  for (let i = 0; i < logits.length; i++)
    s += Math.abs(scores[i] - sigmoid(logits[i])) ** 2 * bce(logits[i], scores[i]);
  same(qualityFocalLoss(logits, scores, { beta: 2, normalizer: numForeground }), s / numForeground);
});

test('mmdet VarifocalLoss (VFNet, iou_weighted) and ultralytics VarifocalLoss (.mean(1).sum())', () => {
  // varifocal_loss.py: focal_weight = target * (target > 0) + alpha * |sigmoid(pred) − target|^gamma * (target <= 0);
  // loss = BCE(pred, target) * focal_weight; weight_reduce_loss(..., 'mean', avg_factor)
  const elems = Array.from(
    logits,
    (x, i) => bce(x, scores[i]) * (scores[i] > 0 ? scores[i] : 0.75 * Math.abs(sigmoid(x) - scores[i]) ** 2),
  );
  same(varifocalLoss(logits, scores, { normalizer: numForeground }), sum(elems) / numForeground);
  // ultralytics utils/loss.py VarifocalLoss: weight = alpha * pred.sigmoid().pow(gamma) * (1 − label) + gt_score * label;
  // (BCE(pred, gt_score) * weight).mean(1).sum() for [batch, anchors, classes]: here one image of 4 anchors.
  same(varifocalLoss(logits, scores, { normalizer: 4 }), sum(elems) / 4);
});

test('timm AsymmetricLossMultiLabel() = asymmetricLoss with reduction sum', () => {
  // asymmetric_loss.py: xs_pos = sigmoid(x); xs_neg = (1 − xs_pos + clip).clamp(max=1); los_pos = y * log(xs_pos.clamp(min=eps));
  // los_neg = (1 − y) * log(xs_neg.clamp(min=eps)); pt = xs_pos*y + xs_neg*(1 − y); w = (1 − pt)^(γ+ y + γ− (1 − y)); −Σ loss·w
  const y = [0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0];
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = sigmoid(logits[i]);
    const xsNeg = Math.min(1 - p + 0.05, 1);
    const loss = y[i] * Math.log(Math.max(p, 1e-8)) + (1 - y[i]) * Math.log(Math.max(xsNeg, 1e-8));
    const pt = p * y[i] + xsNeg * (1 - y[i]);
    s -= loss * (1 - pt) ** (1 * y[i] + 4 * (1 - y[i]));
  }
  same(asymmetricLoss(logits, y, { reduction: 'sum' }), s);
});

test('kornia binary_focal_loss_with_logits with pos_weight per class (channels on axis 1)', () => {
  // focal.py: loss_tmp = −alpha * pos_weight * probs_neg^gamma * target * logsigmoid(pred)
  //                      − (1 − alpha) * probs_pos^gamma * (1 − target) * logsigmoid(−pred); mean
  const y = [0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0];
  const pw = [1, 2, 5];
  const elems = Array.from(logits, (x, i) => {
    const pos = sigmoid(x);
    const neg = sigmoid(-x);
    return -0.25 * pw[i % C] * neg ** 2 * y[i] * -bce(x, 1) - 0.75 * pos ** 2 * (1 - y[i]) * -bce(x, 0);
  });
  same(sigmoidFocalLoss(logits, Float64Array.from(y), { classes: C, posWeight: pw }), sum(elems) / elems.length);
});

test('recipe: Distribution Focal Loss = softmax focal loss, γ 0, on two-hot targets', () => {
  // mmdet DistributionFocalLoss: dis_left = label.long(); w_left = dis_right − label; w_right = label − dis_left;
  // CE(pred, dis_left) * w_left + CE(pred, dis_right) * w_right (per box side, over n+1 bins)
  const bins = new Float64Array([0.2, 1.1, 2.3, 0.4, -0.5]); // one side, 5 bins
  const label = 2.3;
  const l = Math.floor(label);
  const lse = Math.log(sum(Array.from(bins, Math.exp)));
  const theirs = (lse - bins[l]) * (l + 1 - label) + (lse - bins[l + 1]) * (label - l);
  const twoHot = new Float64Array(5);
  twoHot[l] = l + 1 - label;
  twoHot[l + 1] = label - l;
  same(softmaxFocalLoss(bins, twoHot, { classes: 5, gamma: 0 }), theirs);
});

test('recipe: Gaussian focal loss (CenterNet heatmaps) = sigmoid focal loss with (1 − y)^4 weights on the negatives', () => {
  // mmdet gaussian_focal_loss: pos_weights = gt.eq(1); neg_weights = (1 − gt)^gamma(4);
  // pos_loss = −log(pred) * (1 − pred)^alpha(2) * pos_weights; neg_loss = −log(1 − pred) * pred^alpha * neg_weights;
  // summed and divided by the number of peaks (avg_factor)
  const heat = [0, 0.4, 1, 0.8, 0.1, 0, 0.05, 1, 0.3, 0, 0, 0.6];
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = sigmoid(logits[i]);
    s += heat[i] === 1 ? -Math.log(p) * (1 - p) ** 2 : -Math.log(1 - p) * p ** 2 * (1 - heat[i]) ** 4;
  }
  const peaks = heat.filter((h) => h === 1).length;
  const targets = Float64Array.from(heat, (h) => (h === 1 ? 1 : 0));
  const weights = Float64Array.from(heat, (h) => (h === 1 ? 1 : (1 - h) ** 4));
  same(sigmoidFocalLoss(logits, targets, { alpha: null, gamma: 2, weights, normalizer: peaks }), s / peaks);
});

test('the README shows these numbers', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('<!-- section:detection -->'),
    readme.indexOf('<!-- /section:detection -->'),
  );
  expect(printed.length).toBe(10);
  const missing = printed
    .map((v) => v.toPrecision(6))
    .filter((s) => !section.includes(s.replace(/0+$/, '').replace(/\.$/, '')));
  expect(
    missing,
    `numbers not in README's detection section: ${printed.map((v) => v.toPrecision(6)).join(', ')}`,
  ).toEqual([]);
});
