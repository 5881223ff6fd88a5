#!/usr/bin/env python3
"""Peer test vectors for focal-loss: numbers transcribed from other libraries' own tests, and a few
cases computed here (mpmath) from formulas quoted from the peers' sources.

Run:  python3 test/vectors/peers/generate_peers.py   (writes peers.json next to this file)

Every case has
  expected.peer     the peer's number exactly as written in its test (transcribed: true), or the value of
                    the peer's formula as written in its source, computed here (transcribed: false);
  expected.package  the value under this package's definition (SPEC.md), computed here with mpmath at
                    80 digits and printed with 50 significant digits, from the exact binary64 values of
                    the inputs as they appear in this file;
  check             whether the package value lies within the peer's own tolerance of the peer's number.
Non-finite inputs are written as the strings 'inf', '-inf' (as in test/vectors/vectors.json).
"""
import json
import math
import os
from mpmath import mp, mpf

mp.dps = 80
DIG = 50


def M(v):
    """exact value of a JSON number as binary64"""
    if isinstance(v, str):
        return {'inf': mp.inf, '-inf': -mp.inf}[v]
    return mpf(float(v))


def S(v):
    """50-significant-digit string"""
    if v == 0:
        return '0'
    return mp.nstr(v, DIG, min_fixed=-5, max_fixed=5)


def sig(x):
    return 1 / (1 + mp.exp(-x))


def softplus(u):
    return mp.log1p(mp.exp(u))


def d(f, x):
    """derivative of a smooth scalar function at x (mpmath, high precision)"""
    return mp.diff(f, x)


# ----------------------------------------------------------------------------------------------
# This package's definitions (SPEC.md "The mathematics", "Detection and multi-label losses").
# ----------------------------------------------------------------------------------------------
def pkg_sigmoid_elem(x, y, gamma=2, alpha=0.25, pw=1, poly=0, ls=0):
    y = M(y) * (1 - M(ls)) + M(ls) / 2
    p, q = sig(x), sig(-x)                 # q = 1 - p, computed directly
    m = y * q + (1 - y) * p
    ce = M(pw) * y * softplus(-x) + (1 - y) * softplus(x)
    at = 1 if alpha is None else M(alpha) * y + (1 - M(alpha)) * (1 - y)
    g = M(gamma)
    mg = mpf(1) if g == 0 else m ** g
    return at * mg * ce + M(poly) * m ** (g + 1)


def pkg_qfl_elem(x, y, beta=2):
    y = M(y)
    b = M(beta)
    bce = y * softplus(-x) + (1 - y) * softplus(x)
    f = mpf(1) if b == 0 else abs(y - sig(x)) ** b
    return f * bce


def pkg_vfl_elem(x, q, alpha=0.75, gamma=2, iou_weighted=True):
    q = M(q)
    if q > 0:
        bce = q * softplus(-x) + (1 - q) * softplus(x)
        return (q if iou_weighted else 1) * bce
    return M(alpha) * sig(x) ** M(gamma) * softplus(x)


def pkg_asl_elem(x, y, gpos=1, gneg=4, clip=0.05):
    y, gp, gn, c = M(y), M(gpos), M(gneg), M(clip)
    p = sig(x)
    pm = max(p - c, mpf(0)) if c > 0 else p
    lpos = -(sig(-x) ** gp if gp != 0 else 1) * (-softplus(-x))            # -(1-p)^g+ log p
    l1m = softplus(x) if c == 0 else mp.log1p(-pm) * -1                        # -log(1 - pm)
    lneg = (pm ** gn if gn != 0 else 1) * l1m if pm > 0 else mpf(0)              # -pm^g- log(1-pm)
    return y * lpos + (1 - y) * lneg


def pkg_asl_elem_detached_grad(x, y, gpos=1, gneg=4, clip=0.05):
    """d/dx with (1-p)^g+ and p_m^g- held constant (detachFocalWeight)."""
    y, gp, gn, c = M(y), M(gpos), M(gneg), M(clip)
    p = sig(x)
    pm = max(p - c, mpf(0)) if c > 0 else p
    wpos = sig(-x) ** gp if gp != 0 else 1
    wneg = pm ** gn if gn != 0 else 1
    # d(-log p)/dx = -(1-p);  d(-log(1-pm))/dx = p(1-p)/(1-pm) where pm > 0, else 0
    gpos_ce = -sig(-x)
    gneg_ce = p * sig(-x) / (1 - pm) if pm > 0 else mpf(0)
    return y * wpos * gpos_ce + (1 - y) * wneg * gneg_ce


def softmax_row(z):
    fin = [v for v in z if v != -mp.inf]
    mx = max(fin)
    lse = mx + mp.log(mp.fsum(mp.exp(v - mx) for v in fin))
    return [(v - lse) if v != -mp.inf else -mp.inf for v in z]


def pkg_softmax_row(z, q, gamma=2, alpha=None, poly=0):
    """l = sum_c q_c [ -a_c (1-p_c)^g log p_c + eps (1-p_c)^(g+1) ]  (q already smoothed)"""
    logp = softmax_row(z)
    g = M(gamma)
    tot = mpf(0)
    for c, (lp, qc) in enumerate(zip(logp, q)):
        if qc == 0:
            continue
        p = mp.exp(lp)
        a = mpf(1) if alpha is None else (M(alpha[c]) if isinstance(alpha, list) else M(alpha))
        om = 1 - p
        fw = mpf(1) if g == 0 else om ** g
        tot += qc * (-a * fw * lp + M(poly) * om ** (g + 1))
    return tot


# ----------------------------------------------------------------------------------------------
# reductions and gradients for element-wise (sigmoid-family) losses
# ----------------------------------------------------------------------------------------------
def elementwise(xs, ys, elem, weights=None, divisor=None, **kw):
    """per-element losses l_i, weighted w_i l_i; reduced = sum/divisor (divisor None: sum);
    gradient of the reduced loss (or of the sum when divisor is None)."""
    X = [M(v) for v in xs]
    W = [mpf(1)] * len(X) if weights is None else [M(w) for w in weights]
    per = [W[i] * elem(X[i], ys[i], **kw) for i in range(len(X))]
    grads = [W[i] * d(lambda t, i=i: elem(t, ys[i], **kw), X[i]) for i in range(len(X))]
    D = mpf(1) if divisor is None else M(divisor)
    return per, mp.fsum(per) / D, [g / D for g in grads]


def softmax_rows(rows, qs, weights=None, divisor=None, **kw):
    """rows: list of logit rows; qs: list of target distributions (mpf)."""
    per, grads = [], []
    for r, (z, q) in enumerate(zip(rows, qs)):
        Z = [M(v) for v in z]
        w = mpf(1) if weights is None else M(weights[r])
        per.append(w * pkg_softmax_row(Z, q, **kw))
        g = []
        for j in range(len(Z)):
            if Z[j] == -mp.inf:
                g.append(mpf(0))
                continue

            def f(t, j=j):
                ZZ = list(Z)
                ZZ[j] = t
                return pkg_softmax_row(ZZ, q, **kw)
            g.append(w * d(f, Z[j]))
        grads.extend(g)
    D = mpf(1) if divisor is None else M(divisor)
    return per, mp.fsum(per) / D, [g / D for g in grads]


def onehot(t, C, eps=0):
    q = [mpf(1) if c == t else mpf(0) for c in range(C)]
    if eps:
        q = [v * (1 - M(eps)) + M(eps) / C for v in q]
    return q


def within(value, expected, rtol=0.0, atol=0.0):
    return abs(value - M(expected)) <= M(atol) + M(rtol) * abs(M(expected))


# ----------------------------------------------------------------------------------------------
# sources
# ----------------------------------------------------------------------------------------------
MMCV = dict(repo='open-mmlab/mmcv', commit='a8073c74bf83d62ec36a103f835faa4837fb6585')
MMPRE = dict(repo='open-mmlab/mmpretrain', commit='ee7f2e88501f61aa95c742dd5f429f039935ee90')
MMDET = 'open-mmlab/mmdetection'
K3 = dict(repo='keras-team/keras', commit='3422977a5e38fb2f7709aaa9a08e47f0c43d0f60')
K2 = dict(repo='keras-team/keras', commit='cbbe8eb53001ccffe9f02d08ecdaf22997879d19')
OPTAX = dict(repo='google-deepmind/optax', commit='2edbcbe2390da13983b92cbef94ac0460ecde1c5')
KORNIA = dict(repo='kornia/kornia', commit='b4f5a78a13891c7ac4c1cd9695941380273e981d')
TIMM = dict(repo='huggingface/pytorch-image-models', commit='aa4b5850c1543fa488abf260f18390eda46cf85d')
ASL = dict(repo='Alibaba-MIIL/ASL', commit='8c9e0bd8d5d450cf19093363fc08aa7244ad4408')
TV = dict(repo='pytorch/vision', commit='148ddaaa5d27abc8300dbb4e689d1aea31892930')


def src(base, path, lines):
    return dict(repo=base['repo'], path=path, commit=base['commit'], lines=lines)


FORMULAS = {
    'mmcv_sigmoid': dict(
        repo=MMCV['repo'], commit=MMCV['commit'],
        path='mmcv/ops/csrc/common/cuda/sigmoid_focal_loss_cuda_kernel.cuh', lines='19-36',
        quote=['T flag_p = (t == c);', 'T flag_n = (t != c);',
               'T p = (T)1. / ((T)1. + expf(-input[index]));',
               'T term_p = pow(((T)1. - p), gamma) * log(max(p, (T)FLT_MIN));',
               'T term_n = pow(p, gamma) * log(max((T)1. - p, (T)FLT_MIN));',
               'output[index] += -flag_p * alpha * term_p;',
               'output[index] += -flag_n * ((T)1. - alpha) * term_n;',
               'mmcv/ops/focal_loss.py:48-49  if ctx.reduction == ctx.reduction_dict[\'mean\']: output = output.sum() / input.size(0)',
               'mmcv/ops/focal_loss.py:71-72  if ctx.reduction == ...[\'mean\']: grad_input /= input.size(0)']),
    'mmcv_softmax': dict(
        repo=MMCV['repo'], commit=MMCV['commit'],
        path='mmcv/ops/csrc/common/cuda/softmax_focal_loss_cuda_kernel.cuh', lines='17-29',
        quote=['int64_t label = target[index];', 'T pred = softmax[index * num_classes + label];',
               'output[index] = -alpha * pow((T)1. - pred, gamma) * log(max(pred, (T)FLT_MIN));',
               'mmcv/ops/focal_loss.py:151-152  output = output.sum() / input.size(0)']),
    'mmpretrain_focal': dict(
        repo=MMPRE['repo'], commit=MMPRE['commit'], path='mmpretrain/models/losses/focal_loss.py', lines='38-50,106-107',
        quote=['pred_sigmoid = pred.sigmoid()',
               'pt = (1 - pred_sigmoid) * target + pred_sigmoid * (1 - target)',
               'focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)',
               "loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none') * focal_weight",
               'weight = weight.reshape(-1, 1)',
               'loss = weight_reduce_loss(loss, weight, reduction, avg_factor)',
               'if target.dim() == 1 or (...): target = convert_to_one_hot(target.view(-1, 1), pred.shape[-1])']),
    'mmpretrain_asl': dict(
        repo=MMPRE['repo'], commit=MMPRE['commit'], path='mmpretrain/models/losses/asymmetric_loss.py', lines='50-70',
        quote=['pred_sigmoid = pred.sigmoid()',
               'if clip and clip > 0:',
               '    pt = (1 - pred_sigmoid + clip).clamp(max=1) * (1 - target) + pred_sigmoid * target',
               'else:',
               '    pt = (1 - pred_sigmoid) * (1 - target) + pred_sigmoid * target',
               'asymmetric_weight = (1 - pt).pow(gamma_pos * target + gamma_neg * (1 - target))',
               'loss = -torch.log(pt.clamp(min=eps)) * asymmetric_weight',
               'loss = weight_reduce_loss(loss, weight, reduction, avg_factor)']),
    'keras_bfce': dict(
        repo=K3['repo'], commit=K3['commit'], path='keras/src/losses/losses.py', lines='2500-2525',
        quote=['if label_smoothing:', '    y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing',
               'if from_logits:', '    y_pred = ops.sigmoid(y_pred)',
               'bce = ops.binary_crossentropy(target=y_true, output=y_pred, from_logits=False)',
               'p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)',
               'focal_factor = ops.power(1.0 - p_t, gamma)', 'focal_bce = focal_factor * bce',
               'if apply_class_balancing:', '    weight = y_true * alpha + (1 - y_true) * (1 - alpha)',
               '    focal_bce = weight * focal_bce', 'return ops.mean(focal_bce, axis=axis)',
               'keras/src/backend/numpy/nn.py:928  output = np.clip(output, backend.epsilon(), 1.0 - backend.epsilon())']),
    'keras_cfce': dict(
        repo=K3['repo'], commit=K3['commit'], path='keras/src/losses/losses.py', lines='2281-2307',
        quote=['if label_smoothing:', '    num_classes = ops.cast(ops.shape(y_pred)[axis], y_pred.dtype)',
               '    y_true = y_true * (1.0 - label_smoothing) + (label_smoothing / num_classes)',
               'if from_logits:', '    y_pred = ops.softmax(y_pred, axis=axis)',
               'output = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)',
               'output = ops.clip(output, backend.epsilon(), 1.0 - backend.epsilon())',
               'cce = -y_true * ops.log(output)', 'modulating_factor = ops.power(1.0 - output, gamma)',
               'weighting_factor = ops.multiply(modulating_factor, alpha)',
               'focal_cce = ops.multiply(weighting_factor, cce)', 'focal_cce = ops.sum(focal_cce, axis=axis)']),
    'optax_poly': dict(
        repo=OPTAX['repo'], commit=OPTAX['commit'], path='optax/losses/_classification.py', lines='543-548',
        quote=['p = jax.nn.softmax(logits, axis=axis, where=where)',
               'one_minus_pt = jnp.sum(labels * (1 - p), axis=axis, where=where)',
               'cross_entropy = softmax_cross_entropy(logits=logits, labels=labels, axis=axis, where=where)',
               'return cross_entropy + epsilon * one_minus_pt']),
    'optax_bce': dict(
        repo=OPTAX['repo'], commit=OPTAX['commit'], path='optax/losses/_classification.py', lines='81-85',
        quote=['log_p = jax.nn.log_sigmoid(logits)', 'log_not_p = jax.nn.log_sigmoid(-logits)',
               'return -labels * log_p - (1.0 - labels) * log_not_p']),
    'optax_focal': dict(
        repo=OPTAX['repo'], commit=OPTAX['commit'], path='optax/losses/_classification.py', lines='939-961',
        quote=['ce_loss = sigmoid_binary_cross_entropy(logits, labels)',
               'y_prime = jnp.where(labels >= 0.5, labels, 1.0 - labels)',
               'x_prime = jnp.where(labels >= 0.5, -logits, logits)',
               'log_one_minus_p_t = (jax.nn.log_sigmoid(x_prime) + jnp.log(y_prime) + jax.nn.softplus(-x_prime + jnp.log1p(-y_prime) - jnp.log(y_prime)))',
               'focal_weight = jnp.exp(gamma * log_one_minus_p_t)', 'loss = ce_loss * focal_weight',
               'if alpha is None: return loss',
               'weighted = (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * loss']),
    'kornia_binary': dict(
        repo=KORNIA['repo'], commit=KORNIA['commit'], path='kornia/losses/focal.py', lines='267-322',
        quote=['log_probs_pos = nn.functional.logsigmoid(pred)', 'log_probs_neg = nn.functional.logsigmoid(-pred)',
               'pos_term = -log_probs_neg.exp().pow(gamma) * target * log_probs_pos',
               'neg_term = -log_probs_pos.exp().pow(gamma) * (1.0 - target) * log_probs_neg',
               'if alpha is not None: pos_term = alpha * pos_term; neg_term = (1.0 - alpha) * neg_term',
               'pos_weight = pos_weight.view(broadcast_dims); pos_term = pos_weight * pos_term',
               'loss_tmp = pos_term + neg_term', "elif reduction == 'mean': loss = torch.mean(loss_tmp)"]),
    'kornia_softmax': dict(
        repo=KORNIA['repo'], commit=KORNIA['commit'], path='kornia/losses/focal.py', lines='101-134',
        quote=['log_pred_soft = pred.log_softmax(1)',
               'loss_tmp = -torch.pow(1.0 - log_pred_soft.exp(), gamma) * log_pred_soft * target_one_hot',
               'alpha_fac = torch.tensor([1 - alpha] + [alpha] * (num_of_classes - 1), ...)',
               'loss_tmp = alpha_fac * loss_tmp', "elif reduction == 'mean': loss = torch.mean(loss_tmp)"]),
    'torchvision': dict(
        repo=TV['repo'], commit=TV['commit'], path='torchvision/ops/focal_loss.py', lines='34-46 (index copy)',
        quote=['p = torch.sigmoid(inputs)',
               'ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")',
               'p_t = p * targets + (1 - p) * (1 - targets)', 'loss = ce_loss * ((1 - p_t) ** gamma)',
               'if alpha >= 0:', '    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)',
               '    loss = alpha_t * loss', 'if reduction == "mean": loss = loss.mean()']),
    'asl': dict(
        repo=ASL['repo'], commit=ASL['commit'], path='src/loss_functions/losses.py', lines='6-50',
        quote=['def __init__(self, gamma_neg=4, gamma_pos=1, clip=0.05, eps=1e-8, disable_torch_grad_focal_loss=True):',
               'x_sigmoid = torch.sigmoid(x)', 'xs_pos = x_sigmoid', 'xs_neg = 1 - x_sigmoid',
               'if self.clip is not None and self.clip > 0:', '    xs_neg = (xs_neg + self.clip).clamp(max=1)',
               'los_pos = y * torch.log(xs_pos.clamp(min=self.eps))',
               'los_neg = (1 - y) * torch.log(xs_neg.clamp(min=self.eps))', 'loss = los_pos + los_neg',
               'if self.gamma_neg > 0 or self.gamma_pos > 0:',
               '    if self.disable_torch_grad_focal_loss: torch.set_grad_enabled(False)',
               '    pt0 = xs_pos * y', '    pt1 = xs_neg * (1 - y)', '    pt = pt0 + pt1',
               '    one_sided_gamma = self.gamma_pos * y + self.gamma_neg * (1 - y)',
               '    one_sided_w = torch.pow(1 - pt, one_sided_gamma)', '    loss *= one_sided_w',
               'return -loss.sum()',
               'timm/loss/asymmetric_loss.py:5-50 (huggingface/pytorch-image-models@aa4b5850) AsymmetricLossMultiLabel: identical body, default disable_torch_grad_focal_loss=False']),
    'mmdet_qfl': dict(
        repo=MMDET, commit='182d53291781378b2e48a80d791044eec8197950', path='mmdet/models/losses/gfocal_loss.py', lines='9-51',
        quote=['@weighted_loss', 'def quality_focal_loss(pred, target, beta=2.0):', 'label, score = target',
               'pred_sigmoid = pred.sigmoid()', 'scale_factor = pred_sigmoid',
               'zerolabel = scale_factor.new_zeros(pred.shape)',
               "loss = F.binary_cross_entropy_with_logits(pred, zerolabel, reduction='none') * scale_factor.pow(beta)",
               'bg_class_ind = pred.size(1)',
               'pos = ((label >= 0) & (label < bg_class_ind)).nonzero().squeeze(1)',
               'scale_factor = score[pos] - pred_sigmoid[pos, pos_label]',
               "loss[pos, pos_label] = F.binary_cross_entropy_with_logits(pred[pos, pos_label], score[pos], reduction='none') * scale_factor.abs().pow(beta)",
               'loss = loss.sum(dim=1, keepdim=False)']),
    'mmdet_vfl': dict(
        repo=MMDET, commit='19bceba56284d440278e80cfde1d95460330ccbb', path='mmdet/models/losses/varifocal_loss.py', lines='47-60',
        quote=['pred_sigmoid = pred.sigmoid()', 'if iou_weighted:',
               '    focal_weight = target * (target > 0.0).float() + alpha * (pred_sigmoid - target).abs().pow(gamma) * (target <= 0.0).float()',
               'else:',
               '    focal_weight = (target > 0.0).float() + alpha * (pred_sigmoid - target).abs().pow(gamma) * (target <= 0.0).float()',
               "loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none') * focal_weight",
               'loss = weight_reduce_loss(loss, weight, reduction, avg_factor)']),
    'mmdet_focal': dict(
        repo=MMDET, commit='d898526f39da8348670789fba2abba13c8fcd436', path='mmdet/models/losses/focal_loss.py', lines='35-57,162-178',
        quote=['pt = (1 - pred_sigmoid) * target + pred_sigmoid * (1 - target)',
               'focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)',
               "loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none') * focal_weight",
               'weight = weight.view(-1, 1)   # weight of shape (num_priors,)',
               'loss = weight_reduce_loss(loss, weight, reduction, avg_factor)',
               'target = F.one_hot(target, num_classes=num_classes + 1)', 'target = target[:, :num_classes]',
               'mmdet/models/losses/utils.py@96eea76d:29-55 weight_reduce_loss: mean -> loss.mean(); with avg_factor and mean -> loss.sum() / avg_factor; avg_factor with sum -> ValueError']),
}

cases = []


def add(**kw):
    cases.append(kw)


def tol(rtol=None, atol=None, written=''):
    t = {'as_written': written}
    if rtol is not None:
        t['rtol'] = rtol
    if atol is not None:
        t['atol'] = atol
    return t


# ==============================================================================================
# 1. mmcv sigmoid/softmax focal loss ops (the backend of mmdet's FocalLoss on GPU)
#    tests/test_ops/test_focal_loss.py, lines 18-38 (data), 43-81 (tests)
# ==============================================================================================
mmcv_inputs = [
    ([[1., 0], [0, 1.]], [0, 1]),
    ([[1., 0, -1.], [0, 1., 2.]], [2, 1]),
    ([[1e-6, 2e-6, 3e-6], [4e-6, 5e-5, 6e-4], [7e-3, 8e-2, 9e-1]], [1, 2, 0]),
]
mmcv_softmax_out = [(0.00566451, [[-0.00657264, 0.00657264], [0.00657264, -0.00657264]]),
                    (0.34956908, [[0.10165970, 0.03739851, -0.13905823], [0.01227554, -0.10298023, 0.09070466]]),
                    (0.15754992, [[0.02590877, -0.05181759, 0.02590882], [0.02589641, 0.02589760, -0.05179400],
                                  [-0.07307514, 0.02234372, 0.05073142]])]
mmcv_sigmoid_out = [(0.13562961, [[-0.00657264, 0.11185755], [0.11185755, -0.00657264]]),
                    (1.10251057, [[0.28808805, 0.11185755, -0.09602935], [0.11185755, -0.00657264, 0.40376765]]),
                    (0.42287254, [[0.07457182, -0.02485716, 0.07457201], [0.07457211, 0.07457669, -0.02483728],
                                  [-0.02462499, 0.08277918, 0.18050370]])]
data_lines = ['19', '20', '21']
sm_lines = ['24-25', '26-27', '28-30']
sg_lines = ['32-33', '34-35', '36-38']
for k, ((rows, t), (sl, sg), (sml, sgl)) in enumerate(zip(mmcv_inputs, zip(mmcv_softmax_out, mmcv_sigmoid_out),
                                                          zip(sm_lines, sg_lines))):
    N, C = len(rows), len(rows[0])
    flat = [v for r in rows for v in r]
    # sigmoid: dense one-hot from class indices, loss summed, divided by N (rows)
    ys = [1 if c == t[n] else 0 for n in range(N) for c in range(C)]
    per, red, gr = elementwise(flat, ys, pkg_sigmoid_elem, divisor=N, gamma=2, alpha=0.25)
    peer_loss, peer_grad = sg
    pgflat = [v for r in peer_grad for v in r]
    ok = within(red, peer_loss, 1e-2, 1e-8) and all(within(a, b, 1e-2, 1e-8) for a, b in zip(gr, pgflat))
    add(id=f'mmcv-sigmoid-{k+1}', peer='mmcv (open-mmlab/mmcv) sigmoid_focal_loss op; mmdet FocalLoss uses it on CUDA',
        source=src(MMCV, 'tests/test_ops/test_focal_loss.py', f'{data_lines[k]} (inputs), {sgl} (expected), 64-81 (test: alpha=0.25 gamma=2.0, reduction mean, np.allclose rtol 1e-2)'),
        formula=FORMULAS['mmcv_sigmoid'], kind='sigmoid', transcribed=True,
        inputs=dict(logits=flat, shape=[N, C], targets=t, target_form='class indices (one per row); mmcv: flag_p = (t == c)'),
        peer_options=dict(gamma=2.0, alpha=0.25, weight=None, reduction='mean'),
        options=dict(classes=C, gamma=2, alpha=0.25, reduction='mean', normalizer=N),
        expected=dict(peer=dict(loss=peer_loss, grad=pgflat),
                      package=dict(loss=S(red), grad=[S(g) for g in gr], loss_none=[S(v) for v in per])),
        peer_tolerance=tol(1e-2, 1e-8, 'np.allclose(loss, output[0], 1e-2); np.allclose(x.grad, np_x_grad, 1e-2) (rtol=1e-2, atol=1e-8 default)'),
        check=dict(package_within_peer_tolerance=bool(ok)),
        notes=("mmcv's 'mean' divides the summed element losses by N = input.size(0) (rows), not by N*C as this package's "
               "'mean' with classes does; normalizer: N reproduces it (loss and gradient). The test runs only on "
               "CUDA/NPU/MLU/MUSA devices (float32, also half). Logs are clamped at FLT_MIN, irrelevant for these inputs."))
    # softmax
    qs = [onehot(t[n], C) for n in range(N)]
    per, red, gr = softmax_rows(rows, qs, divisor=N, gamma=2, alpha=0.25)
    peer_loss, peer_grad = sl
    pgflat = [v for r in peer_grad for v in r]
    ok = within(red, peer_loss, 1e-2, 1e-8) and all(within(a, b, 1e-2, 1e-8) for a, b in zip(gr, pgflat))
    add(id=f'mmcv-softmax-{k+1}', peer='mmcv (open-mmlab/mmcv) softmax_focal_loss op',
        source=src(MMCV, 'tests/test_ops/test_focal_loss.py', f'{data_lines[k]} (inputs), {sml} (expected), 43-62 (test: alpha=0.25 gamma=2.0, mean, rtol 1e-2; returns early without CUDA)'),
        formula=FORMULAS['mmcv_softmax'], kind='softmax', transcribed=True,
        inputs=dict(logits=flat, shape=[N, C], targets=t, target_form='class indices'),
        peer_options=dict(gamma=2.0, alpha=0.25, weight=None, reduction='mean'),
        options=dict(classes=C, gamma=2, alpha=0.25, reduction='mean'),
        expected=dict(peer=dict(loss=peer_loss, grad=pgflat),
                      package=dict(loss=S(red), grad=[S(g) for g in gr], loss_none=[S(v) for v in per])),
        peer_tolerance=tol(1e-2, 1e-8, 'np.allclose(..., 1e-2)'),
        check=dict(package_within_peer_tolerance=bool(ok)),
        notes=("mmcv's softmax alpha is one scalar multiplying every item (-alpha*(1-p_t)^gamma*log p_t), like this package's "
               "numeric alpha; 'mean' = sum/N, the same as this package's softmax 'mean'. No options mapping needed."))

# ==============================================================================================
# 2. mmpretrain FocalLoss / AsymmetricLoss tests (tests/test_models/test_losses.py)
# ==============================================================================================
x_mp = [5, -5, 0, 5, -5, 0]
y_mp = [1, 0, 1, 0, 1, 0]
for wname, w, written, lines in [(None, None, '0.8522', '189-200'), ('weight', [0.5, 0.5], '0.8522 / 2', '189-191,201-203')]:
    ew = None if w is None else [w[0]] * 3 + [w[1]] * 3
    per, red, gr = elementwise(x_mp, y_mp, pkg_sigmoid_elem, weights=ew, divisor=6, gamma=2, alpha=0.25)
    pv = eval(written)
    add(id='mmpretrain-focal-multilabel' + ('-weighted' if w else ''), peer='mmpretrain (open-mmlab/mmpretrain, ex-mmcls) FocalLoss',
        source=src(MMPRE, 'tests/test_models/test_losses.py', lines), formula=FORMULAS['mmpretrain_focal'],
        kind='sigmoid', transcribed=True,
        inputs=dict(logits=x_mp, shape=[2, 3], targets=y_mp, target_form='dense 0/1'),
        peer_options=dict(gamma=2.0, alpha=0.25, reduction='mean', loss_weight=1.0, weight=w),
        options=dict(gamma=2, alpha=0.25, reduction='mean', **({} if w is None else dict(weights=ew))),
        expected=dict(peer=dict(loss=pv, loss_as_written=written), package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(1e-5, 1e-8, 'torch.allclose(loss, torch.tensor(%s)) (rtol=1e-5, atol=1e-8 defaults)' % written),
        check=dict(package_within_peer_tolerance=bool(within(red, pv, 1e-5, 1e-8))),
        notes=("mmpretrain's 'mean' is loss.mean() over all N*C elements (same as this package). Its sample weight (N,) "
               "is reshaped to (N,1); here it is expanded to one weight per element. The expected 0.8522 is rounded to 4 "
               "digits in the test; 'check' says whether the exact value is still inside torch.allclose's default tolerance."))
for wname, w, written, lines in [(None, None, '0.86664125', '204-208'), ('weight', [0.5, 0.5], '0.86664125 / 2', '204-207,209-211')]:
    per, red, gr = elementwise(x_mp, [1, 0, 0, 0, 1, 0], pkg_sigmoid_elem, weights=None if w is None else [0.5] * 6,
                               divisor=6, gamma=2, alpha=0.25)
    pv = eval(written)
    add(id='mmpretrain-focal-single-label' + ('-weighted' if w else ''), peer='mmpretrain FocalLoss (class-index targets)',
        source=src(MMPRE, 'tests/test_models/test_losses.py', lines), formula=FORMULAS['mmpretrain_focal'],
        kind='sigmoid', transcribed=True,
        inputs=dict(logits=x_mp, shape=[2, 3], targets=[0, 1], target_form='class indices -> one-hot (convert_to_one_hot)'),
        peer_options=dict(gamma=2.0, alpha=0.25, reduction='mean', weight=w),
        options=dict(classes=3, gamma=2, alpha=0.25, reduction='mean', **({} if w is None else dict(weights=w))),
        expected=dict(peer=dict(loss=pv, loss_as_written=written), package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(1e-5, 1e-8, 'torch.allclose(loss, torch.tensor(%s))' % written),
        check=dict(package_within_peer_tolerance=bool(within(red, pv, 1e-5, 1e-8))),
        notes=("Class indices become one-hot rows; 'mean' over N*C elements = this package's 'mean' with classes "
               "(divisor (counted items) x C). weights here are one per item (classes mode)."))


def peer_mmpre_asl(xs, ys, clip, gpos=1.0, gneg=4.0, eps=1e-8):
    out = []
    for x, y in zip(xs, ys):
        p = sig(M(x))
        y = M(y)
        if clip and clip > 0:
            pt = min(1 - p + M(clip), mpf(1)) * (1 - y) + p * y
        else:
            pt = (1 - p) * (1 - y) + p * y
        w = (1 - pt) ** (M(gpos) * y + M(gneg) * (1 - y))
        out.append(-mp.log(max(pt, M(eps))) * w)
    return out


for cid, clip, written, lines, w in [('clip', 0.05, '3.80845 / 3', '9-22', None),
                                     ('clip-weighted', 0.05, '3.80845 / 6', '9-21,24-26', [0.5, 0.5]),
                                     ('noclip', None, '5.1186 / 3', '28-37', None)]:
    ew = None if w is None else [0.5] * 6
    per, red, gr = elementwise(x_mp, y_mp, pkg_asl_elem, weights=ew, divisor=6, gpos=1, gneg=4, clip=clip or 0)
    peer_exact = mp.fsum([(mpf(0.5) if w else 1) * v for v in peer_mmpre_asl(x_mp, y_mp, clip)]) / 6
    pv = eval(written)
    gdet = [(mpf(0.5) if w else 1) * pkg_asl_elem_detached_grad(M(x), y, 1, 4, clip or 0) / 6 for x, y in zip(x_mp, y_mp)]
    add(id='mmpretrain-asl-' + cid, peer='mmpretrain AsymmetricLoss (sigmoid)',
        source=src(MMPRE, 'tests/test_models/test_losses.py', lines), formula=FORMULAS['mmpretrain_asl'],
        kind='asymmetric', transcribed=True,
        inputs=dict(logits=x_mp, shape=[2, 3], targets=y_mp, target_form='dense 0/1'),
        peer_options=dict(gamma_pos=1.0, gamma_neg=4.0, clip=clip, reduction='mean', loss_weight=1.0, eps=1e-8, weight=w),
        options=dict(gammaPos=1, gammaNeg=4, clip=clip or 0, reduction='mean', **({} if w is None else dict(weights=ew))),
        expected=dict(peer=dict(loss=pv, loss_as_written=written, value_of_peer_formula=S(peer_exact)),
                      package=dict(loss=S(red), grad=[S(g) for g in gr], grad_detachFocalWeight=[S(g) for g in gdet])),
        peer_tolerance=tol(1e-5, 1e-8, 'torch.allclose(loss(cls_score, label), torch.tensor(%s))' % written),
        check=dict(package_within_peer_tolerance=bool(within(red, pv, 1e-5, 1e-8)),
                   package_equals_peer_formula=bool(abs(red - peer_exact) <= mpf(10) ** -45 * abs(red))),
        notes=("mmpretrain's 'mean' is over all N*C elements (= this package). clip=None means no shift (this package: "
               "clip 0). mmpretrain does not detach the asymmetric weight, so 'grad' (not grad_detachFocalWeight) is its "
               "gradient. Its eps clamp (log(max(pt, 1e-8))) is not reached here. For soft targets mmpretrain's "
               "-log(pt)*(1-pt)^(g+ y + g- (1-y)) with pt mixing p and 1-p_m is NOT this package's formula."))

# ==============================================================================================
# 3. Keras: BinaryFocalCrossentropy / CategoricalFocalCrossentropy
# ==============================================================================================


def logit_of(p):
    p = M(p)
    return mp.log(p) - mp.log1p(-p)


def f64(v):
    return float(v)


K3T = 'keras/src/losses/losses_test.py'
K2T = 'keras/losses_test.py'
Yb = [1, 0, 1, 0]
Pb = [0.9, 0.8, 0.7, 0.2]
Lb = [f64(logit_of(p)) for p in Pb]
Yl = [1, 1, 0, 0, 1, 0]
Xl = [1.5, -2.7, 2.9, -3.8, 1.2, -4.5]
ka3 = tol(written='self.assertAlmostEqual(loss, v, 3) -> np.testing.assert_almost_equal(decimal=3): |a-b| < 1.5e-3', atol=1.5e-3)
ka4 = tol(written='assertAlmostEqual(loss, v, 4) -> |a-b| < 1.5e-4', atol=1.5e-4)
k2a3 = tol(written='unittest assertAlmostEqual(a, b, 3) (places=3): round(a-b, 3) == 0, i.e. |a-b| <= ~5e-4', atol=5e-4)
PROB_NOTE = ("Keras takes probabilities here (from_logits=False, float32); this package takes logits: the inputs give "
             "logits = log(p) - log1p(-p) of the binary64 p (rounded to binary64), and 'package' is computed from those "
             "logits. Keras clips probabilities to [1e-7, 1-1e-7] inside the log (backend.epsilon()); not reached here.")


def bfce_case(cid, src_, lines, xs, ys, gamma, written, tolr, from_logits, alpha=None, sw=None, ncols=None,
              peer_none=None, ls=0.0, transcribed=True, peer_value=None):
    n = len(xs)
    ew = None
    if sw is not None:
        ew = [sw] * n if not isinstance(sw, list) else [sw[i // ncols] for i in range(n)]
    per, red, gr = elementwise(xs, ys, pkg_sigmoid_elem, weights=ew, divisor=n, gamma=gamma, alpha=alpha, ls=ls)
    opts = dict(gamma=gamma, alpha=alpha, reduction='mean')
    if ew is not None:
        opts['weights'] = ew
    if ls:
        opts['labelSmoothing'] = ls
    peer_opts = dict(gamma=gamma, from_logits=from_logits, apply_class_balancing=alpha is not None)
    if alpha is not None:
        peer_opts['alpha'] = alpha
    if sw is not None:
        peer_opts['sample_weight'] = sw
    if ls:
        peer_opts['label_smoothing'] = ls
    exp = dict(package=dict(loss=S(red), grad=[S(g) for g in gr]))
    ok = None
    if peer_none is not None:
        rows = len(peer_none)
        rowmeans = [mp.fsum(per[r * ncols:(r + 1) * ncols]) / ncols for r in range(rows)]
        exp['peer'] = dict(loss_per_sample=peer_none)
        exp['package'] = dict(loss_none=[S(v) for v in per], row_means_of_loss_none=[S(v) for v in rowmeans])
        opts['reduction'] = 'none'
        peer_opts['reduction'] = None
        ok = all(within(a, b, tolr.get('rtol', 0), tolr.get('atol', 0)) for a, b in zip(rowmeans, peer_none))
    else:
        pv = peer_value if peer_value is not None else written
        exp['peer'] = dict(loss=pv) if transcribed else dict(loss=pv, how='computed here from the quoted Keras formula')
        ok = within(red, pv, tolr.get('rtol', 0), tolr.get('atol', 0))
    inputs = dict(logits=xs, shape=[len(xs) // ncols, ncols] if ncols else [len(xs)], targets=ys, target_form='dense')
    if not from_logits:
        inputs['peer_y_pred_probabilities'] = Pb
    add(id=cid, peer='Keras BinaryFocalCrossentropy', source=src(src_, K3T if src_ is K3 else K2T, lines),
        formula=FORMULAS['keras_bfce'], kind='sigmoid', transcribed=transcribed, inputs=inputs,
        peer_options=peer_opts, options=opts, expected=exp, peer_tolerance=tolr,
        check=dict(package_within_peer_tolerance=bool(ok)),
        notes=(("" if from_logits else PROB_NOTE + " ") +
               "Keras's focal factor uses p_t = y*p + (1-y)*(1-p) with the (smoothed) y, and the class-balancing weight "
               "alpha*y + (1-alpha)*(1-y): this package's m and alpha_t. apply_class_balancing=False is this package's "
               "alpha: null; Keras's alpha default 0.25 is then unused. Keras reduces per sample with a mean over the "
               "last axis, then sum_over_batch_size: with a per-sample weight that equals this package's 'mean' over "
               "all elements with the weight repeated on each element of the sample." +
               (" reduction=None in Keras returns one value per sample (the mean over the last axis): compare with the "
                "row means of this package's 'none' output." if peer_none is not None else "")))


bfce_case('keras-bfce-all-correct-logits', K3, '1723-1746 (logits part 1736-1746)',
          [100.0, -100.0, -100.0, -100.0, 100.0, -100.0, -100.0, -100.0, 100.0], [1, 0, 0, 0, 1, 0, 0, 0, 1],
          2.0, 0.0, ka3, True, ncols=3)
bfce_case('keras-bfce-unweighted-probs', K3, '1748-1755', Lb, Yb, 2.0, 0.268, ka3, False, ncols=2)
bfce_case('keras-bfce-unweighted-logits', K3, '1757-1762', Xl, Yl, 3.0, 0.799, ka3, True, ncols=3)
bfce_case('keras-bfce-scalar-weighted-probs', K3, '1764-1771', Lb, Yb, 2.0, 0.3296, ka3, False, sw=1.23, ncols=2)
bfce_case('keras-bfce-scalar-weighted-logits', K3, '1773-1778', Xl, Yl, 3.0, 2.565, ka3, True, sw=3.21, ncols=3)
bfce_case('keras-bfce-sample-weighted-probs', K3, '1780-1788', Lb, Yb, 2.0, 0.34415, ka3, False, sw=[1.2, 3.4], ncols=2)
bfce_case('keras-bfce-sample-weighted-logits', K3, '1790-1795', Xl, Yl, 3.0, 0.95977, ka3, True, sw=[1.2, 3.4], ncols=3)
bfce_case('keras-bfce-no-reduction-probs', K3, '1797-1807', Lb, Yb, 2.0, None,
          tol(1e-6, 1e-6, 'self.assertAllClose(loss, (0.515547, 0.020513)) (keras testing: atol=1e-6, rtol=1e-6)'),
          False, ncols=2, peer_none=[0.515547, 0.020513])
# apply_class_balancing=True: only in Keras 2's test file (BinaryWeightedFocalCrossentropyTest)
bfce_case('keras2-bfce-balanced-all-correct-logits', K2, '1346-1376 (logits part 1361-1376)',
          [100.0, -100.0, -100.0, -100.0, 100.0, -100.0, -100.0, -100.0, 100.0], [1, 0, 0, 0, 1, 0, 0, 0, 1],
          2.0, 0.0, k2a3, True, alpha=0.3, ncols=3)
bfce_case('keras2-bfce-balanced-unweighted-probs', K2, '1378-1401', Lb, Yb, 2.0, 0.15915, k2a3, False, alpha=0.4, ncols=2)
bfce_case('keras2-bfce-balanced-unweighted-logits', K2, '1403-1430', Xl, Yl, 3.0, 0.40724, k2a3, True, alpha=0.3, ncols=3)
bfce_case('keras2-bfce-balanced-scalar-weighted-probs', K2, '1432-1455', Lb, Yb, 2.0, 0.13388, k2a3, False, alpha=0.6,
          sw=1.23, ncols=2)
bfce_case('keras2-bfce-balanced-scalar-weighted-logits', K2, '1457-1486', Xl, Yl, 3.0, 1.32, k2a3, True, alpha=0.2,
          sw=3.21, ncols=3)
bfce_case('keras2-bfce-balanced-sample-weighted-probs', K2, '1488-1514', Lb, Yb, 2.0, 0.2877, k2a3, False, alpha=0.1,
          sw=[1.2, 3.4], ncols=2)
bfce_case('keras2-bfce-balanced-sample-weighted-logits', K2, '1516-1547', Xl, Yl, 3.0, 0.49366, k2a3, True, alpha=0.2,
          sw=[1.2, 3.4], ncols=3)
bfce_case('keras2-bfce-balanced-no-reduction-probs', K2, '1549-1574', Lb, Yb, 2.0, None,
          tol(3, 1e-6, 'self.assertAllClose(self.evaluate(loss), (0.2063, 0.0114), 3): the positional 3 is rtol (tf.test.TestCase.assertAllClose(a, b, rtol=1e-6, atol=1e-6)), so this assertion is effectively loose'),
          False, alpha=0.6, ncols=2, peer_none=[0.2063, 0.0114])


# label smoothing for the binary loss has no Keras test: computed from the quoted Keras formula
def keras_bfce_value(xs, ys, gamma, alpha, ls, n):
    tot = mpf(0)
    for x, y in zip(xs, ys):
        y = M(y) * (1 - M(ls)) + M(ls) / 2
        p = sig(M(x))
        pc = min(max(p, mpf(1e-7)), 1 - mpf(1e-7))
        bce = -(y * mp.log(pc) + (1 - y) * mp.log(1 - pc))
        pt = y * p + (1 - y) * (1 - p)
        v = (1 - pt) ** M(gamma) * bce
        if alpha is not None:
            v *= y * M(alpha) + (1 - y) * (1 - M(alpha))
        tot += v
    return tot / n


kv = keras_bfce_value(Xl, Yl, 2.0, 0.25, 0.1, 6)
bfce_case('keras-bfce-label-smoothing-balanced-logits (computed)', K3, 'formula: keras/src/losses/losses.py 2500-2525 (no Keras test covers label_smoothing for the binary focal loss)',
          Xl, Yl, 2.0, None, tol(written='none (computed here; package should agree to ~1e-12 relative)', rtol=1e-12),
          True, alpha=0.25, ls=0.1, ncols=3, transcribed=False, peer_value=float(kv))
cases[-1]['expected']['peer']['loss'] = S(kv)
cases[-1]['source']['path'] = 'keras/src/losses/losses.py'

# ---- CategoricalFocalCrossentropy ----
CF_P = [[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]]
CF_X = [[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]]
CF_T = [0, 1, 2]
CF_PL = [[f64(mp.log(M(p))) for p in r] for r in CF_P]
CFPROB_NOTE = ("Keras takes probabilities (from_logits=False) and renormalises each row (y_pred / sum) before clipping "
               "to [1e-7, 1-1e-7]; row 2 sums to 1.99. This package takes logits: log(p) of the binary64 p, whose "
               "softmax is exactly Keras's renormalised row.")


def cfce_case(cid, src_, lines, rows, t, written, tolr, from_logits, sw=None, peer_none=None, ls=0.0,
              probs_in=None, transcribed=True, shape=None, qs=None, notes_extra=''):
    C = len(rows[0])
    if qs is None:
        qs = [onehot(tt, C, ls) for tt in t]
    weights = None
    if sw is not None:
        weights = [sw] * len(rows) if not isinstance(sw, list) else sw
    per, red, gr = softmax_rows(rows, qs, weights=weights, divisor=len(rows), gamma=2.0, alpha=0.25)
    flat = [v for r in rows for v in r]
    opts = dict(classes=C, gamma=2, alpha=0.25, reduction='mean')
    if weights is not None:
        opts['weights'] = weights
    if ls:
        opts['labelSmoothing'] = ls
    peer_opts = dict(alpha=0.25, gamma=2.0, from_logits=from_logits)
    if sw is not None:
        peer_opts['sample_weight'] = sw
    if ls:
        peer_opts['label_smoothing'] = ls
    exp = dict(package=dict(loss=S(red), grad=[S(g) for g in gr]))
    if peer_none is not None:
        exp['peer'] = dict(loss_per_sample=peer_none)
        exp['package'] = dict(loss_none=[S(v) for v in per], grad_of_sum=[S(g * len(rows)) for g in gr])
        opts['reduction'] = 'none'
        peer_opts['reduction'] = None
        ok = all(within(a, b, tolr.get('rtol', 0), tolr.get('atol', 0)) for a, b in zip(per, peer_none))
    else:
        exp['peer'] = dict(loss=written) if transcribed else dict(loss=written, how='computed from the formula the test itself uses (see notes)')
        ok = within(red, written, tolr.get('rtol', 0), tolr.get('atol', 0))
    inputs = dict(logits=flat, shape=shape or [len(rows), C], targets=t, target_form='one-hot rows in Keras; class indices here')
    if probs_in is not None:
        inputs['peer_y_pred_probabilities'] = probs_in
    add(id=cid, peer='Keras CategoricalFocalCrossentropy', source=src(src_, K3T, lines), formula=FORMULAS['keras_cfce'],
        kind='softmax', transcribed=transcribed, inputs=inputs, peer_options=peer_opts, options=opts, expected=exp,
        peer_tolerance=tolr, check=dict(package_within_peer_tolerance=bool(ok)),
        notes=((CFPROB_NOTE + ' ' if probs_in is not None else '') +
               "Keras's scalar alpha multiplies every class (this package's numeric alpha); label smoothing "
               "y*(1-ls) + ls/C is this package's labelSmoothing; the per-sample loss is summed over classes and "
               "reduced by sum_over_batch_size = this package's softmax 'mean' (weights one per row)." + notes_extra))


cfce_case('keras-cfce-all-correct-probs', K3, '1829-1837', [[0.0, '-inf', '-inf'], ['-inf', 0.0, '-inf'], ['-inf', '-inf', 0.0]],
          CF_T, 0.0, ka3, False, probs_in=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
          notes_extra=(" Probabilities 0 are logits -inf (strings '-inf' here; SPEC: a masked class, probability 0), so "
                       "this package gives exactly 0; Keras's clipping makes its value ~1e-14*0.25*1e-7, also 0 to 3 decimals."))
cfce_case('keras-cfce-all-correct-logits', K3, '1839-1845', [[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]],
          CF_T, 0.0, ka3, True)
cfce_case('keras-cfce-unweighted-probs', K3, '1847-1855', CF_PL, CF_T, 0.02059, ka3, False, probs_in=CF_P)
cfce_case('keras-cfce-unweighted-logits', K3, '1857-1861', CF_X, CF_T, 0.000345, ka3, True)
cfce_case('keras-cfce-scalar-weighted-probs', K3, '1863-1871', CF_PL, CF_T, 0.047368, ka3, False, sw=2.3, probs_in=CF_P)
cfce_case('keras-cfce-scalar-weighted-logits', K3, '1873-1877', CF_X, CF_T, 0.000794, ka4, True, sw=2.3)
cfce_case('keras-cfce-sample-weighted-probs', K3, '1910-1919', CF_PL, CF_T, 0.06987, ka3, False, sw=[1.2, 3.4, 5.6],
          probs_in=CF_P)
cfce_case('keras-cfce-sample-weighted-logits', K3, '1921-1925', CF_X, CF_T, 0.001933, ka3, True, sw=[1.2, 3.4, 5.6])
cfce_case('keras-cfce-no-reduction-logits', K3, '1927-1934', CF_X, CF_T, None,
          tol(1e-6, 1e-6, 'self.assertAllClose(loss, (1.5096224e-09, 2.4136547e-11, 1.0360638e-03)) (atol=1e-6, rtol=1e-6)'),
          True, peer_none=[1.5096224e-09, 2.4136547e-11, 1.0360638e-03],
          notes_extra=(" The first two values are far below atol=1e-6, so the Keras assertion checks them only loosely; "
                       "the package values are the exact ones."))
cfce_case('keras-cfce-label-smoothing-logits', K3, '1936-1947', [[4.9, -0.5, 2.05]], [0], 0.06685, ka3, True, ls=0.1)
# label smoothing with axis=1: the test computes its expected value with numpy; value computed here from that formula
ya = [[[1, 0], [0, 1], [0, 0]], [[0, 1], [1, 0], [0, 0]]]
pa = [[[0.8, 0.1], [0.1, 0.8], [0.1, 0.1]], [[0.1, 0.8], [0.8, 0.1], [0.1, 0.1]]]
exp_vals = []
for n in range(2):
    for s in range(2):
        v = mpf(0)
        for c in range(3):
            q = M(ya[n][c][s]) * (1 - M(0.1)) + M(0.1) / 3
            p = M(pa[n][c][s])
            v += M(0.25) * (1 - p) ** 2 * (-q * mp.log(p))
        exp_vals.append(v)
test_expected = mp.fsum(exp_vals) / 4
# package: shape [2,3,2] channels-first; an item is (n, s); rows below are items, classes across
item_rows = [[f64(mp.log(M(pa[n][c][s]))) for c in range(3)] for n in range(2) for s in range(2)]
item_q = [[M(ya[n][c][s]) * (1 - M(0.1)) + M(0.1) / 3 for c in range(3)] for n in range(2) for s in range(2)]
per, red, gr_items = softmax_rows(item_rows, item_q, divisor=4, gamma=2.0, alpha=0.25)
# re-order gradient from item-major [(n,s), c] to channels-first [n, c, s]
gr_cf = [None] * 12
for n in range(2):
    for s in range(2):
        for c in range(3):
            gr_cf[n * 6 + c * 2 + s] = gr_items[(n * 2 + s) * 3 + c]
logits_cf = [f64(mp.log(M(pa[n][c][s]))) for n in range(2) for c in range(3) for s in range(2)]
probs_targets_cf = [ya[n][c][s] for n in range(2) for c in range(3) for s in range(2)]
add(id='keras-cfce-label-smoothing-axis1-probs', peer='Keras CategoricalFocalCrossentropy (axis=1, channels-first)',
    source=src(K3, K3T, '1949-1984'), formula=FORMULAS['keras_cfce'], kind='softmax', transcribed=False,
    inputs=dict(logits=logits_cf, shape=[2, 3, 2], target_probabilities=probs_targets_cf,
                target_form='probability targets (one-hot), channels-first like the logits',
                peer_y_pred_probabilities=[pa[n][c][s] for n in range(2) for c in range(3) for s in range(2)]),
    peer_options=dict(label_smoothing=0.1, axis=1, alpha=0.25, gamma=2.0, from_logits=False),
    options=dict(shape=[2, 3, 2], gamma=2, alpha=0.25, labelSmoothing=0.1, reduction='mean'),
    expected=dict(peer=dict(loss=S(test_expected), how='the test computes expected_loss with numpy (lines 1971-1982): alpha*(1-p)^2*(-y_smoothed*log p), summed over axis 1, np.mean; value computed here with mpmath from that formula'),
                  package=dict(loss=S(red), grad=[S(g) for g in gr_cf])),
    peer_tolerance=tol(atol=1.5e-5, written='self.assertAlmostEqual(loss, expected_loss, decimal=5) -> |a-b| < 1.5e-5'),
    check=dict(package_within_peer_tolerance=bool(within(red, test_expected, 0, 1.5e-5)),
               package_equals_test_formula=bool(abs(red - test_expected) <= mpf(10) ** -14 * abs(red))),
    notes=('Every (n, s) column of y_pred sums to 1, so softmax(log p) = p. Gradient is in the channels-first layout of '
           'the logits. This package smooths probability targets the same way (q <- (1-eps) q + eps/C).'))

# ==============================================================================================
# 4. optax: poly_loss_cross_entropy (Poly-1 CE) and sigmoid_binary_cross_entropy
# ==============================================================================================
OPX = 'optax/losses/_classification_test.py'
poly_logits = [0.14, 1.456, 2.356, -0.124, -2.47]
poly_labels = [0.1, 0.15, 0.2, 0.25, 0.3]
scalar_params = [(2, 4.5317, 367), (1, 3.7153, 368), (-1, 2.0827, 369), (0, 2.8990, 370), (-0.5, 2.4908, 371),
                 (1.15, 3.8378, 372), (1.214, 3.8900, 373), (5.45, 7.3480, 374)]
for eps, e, line in scalar_params:
    qs = [[M(v) for v in poly_labels]]
    per, red, gr = softmax_rows([poly_logits], qs, divisor=1, gamma=0, alpha=None, poly=eps)
    add(id=f'optax-poly1-scalar-eps{eps}', peer='optax poly_loss_cross_entropy (Poly-1 cross-entropy)',
        source=src(OPTAX, OPX, f'358-359 (inputs), {line} (eps, expected), 376-383 (assert_allclose atol=1e-4)'),
        formula=FORMULAS['optax_poly'], kind='softmax', transcribed=True,
        inputs=dict(logits=poly_logits, shape=[1, 5], target_probabilities=poly_labels,
                    target_form='probability targets (one row of 5 classes)'),
        peer_options=dict(epsilon=eps),
        options=dict(classes=5, gamma=0, alpha=None, polyEpsilon=eps, reduction='mean'),
        expected=dict(peer=dict(loss=e), package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(1e-7, 1e-4, 'np.testing.assert_allclose(actual, expected, atol=1e-4) (rtol default 1e-7)'),
        check=dict(package_within_peer_tolerance=bool(within(red, e, 1e-7, 1e-4))),
        notes=("optax's Poly-1 CE = CE + eps * sum_c q_c (1 - p_c) equals this package's softmax loss with gamma 0, "
               "alpha none and polyEpsilon eps (sum_c q_c [-log p_c + eps (1 - p_c)]). The test says its values come from the "
               "TF poly1_cross_entropy of the paper. The labels' binary64 values add up to exactly 1.0 in left-to-right double summation."))
batched_logits = [[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]]
batched_labels = [[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]]
batched_params = [(2, [0.4823, 1.2567], 386), (1, [0.3261, 1.0407], 387), (0, [0.1698, 0.8247], 388),
                  (-0.5, [0.0917, 0.7168], 389), (1.15, [0.3495, 1.0731], 390), (1.214, [0.3595, 1.0870], 391),
                  (5.45, [1.0211, 2.0018], 392)]
for eps, e, line in batched_params:
    qs = [[M(v) for v in r] for r in batched_labels]
    per, red, gr = softmax_rows(batched_logits, qs, divisor=None, gamma=0, alpha=None, poly=eps)
    ok = all(within(a, b, 1e-7, 1e-4) for a, b in zip(per, e))
    add(id=f'optax-poly1-batched-eps{eps}', peer='optax poly_loss_cross_entropy (Poly-1 cross-entropy)',
        source=src(OPTAX, OPX, f'361-362 (inputs), {line} (eps, expected), 394-401 (atol=1e-4)'),
        formula=FORMULAS['optax_poly'], kind='softmax', transcribed=True,
        inputs=dict(logits=[v for r in batched_logits for v in r], shape=[2, 3],
                    target_probabilities=[v for r in batched_labels for v in r], target_form='probability targets'),
        peer_options=dict(epsilon=eps),
        options=dict(classes=3, gamma=0, alpha=None, polyEpsilon=eps, reduction='none'),
        expected=dict(peer=dict(loss_per_row=e), package=dict(loss_none=[S(v) for v in per], grad=[S(g) for g in gr])),
        peer_tolerance=tol(1e-7, 1e-4, 'np.testing.assert_allclose(..., atol=1e-4)'),
        check=dict(package_within_peer_tolerance=bool(ok)),
        notes="optax returns one value per row (no reduction) = this package's softmax 'none'. grad is that of the sum.")
bce_params = [([-1e09, -1e-09], [1.0, 0.0], 5e08), ([-1e09, -1e-09], [0.0, 1.0], 0.3465736),
              ([1e09, 1e-09], [1.0, 0.0], 0.3465736), ([1e09, 1e-09], [0.0, 1.0], 5e08),
              ([-1e09, 1e-09], [1.0, 0.0], 5e08), ([-1e09, 1e-09], [0.0, 1.0], 0.3465736),
              ([1e09, -1e-09], [1.0, 0.0], 0.3465736), ([1e09, -1e-09], [0.0, 1.0], 5e08),
              ([0.0, 0.0], [1.0, 0.0], 0.6931472), ([0.0, 0.0], [0.0, 1.0], 0.6931472)]
for k, (xs, ys, e) in enumerate(bce_params):
    per, red, gr = elementwise(xs, ys, pkg_sigmoid_elem, divisor=2, gamma=0, alpha=None)
    add(id=f'optax-bce-{k+1}', peer='optax sigmoid_binary_cross_entropy (= sigmoid focal with gamma 0, no alpha)',
        source=src(OPTAX, OPX, f'{296+5*k}-{300+5*k} (case), 347-351 (jnp.mean; assert_allclose rtol=1e-6, atol=1e-6)'),
        formula=FORMULAS['optax_bce'], kind='sigmoid', transcribed=True,
        inputs=dict(logits=xs, shape=[2], targets=ys, target_form='dense'),
        peer_options=dict(reduction='jnp.mean in the test'),
        options=dict(gamma=0, alpha=None, reduction='mean'),
        expected=dict(peer=dict(loss=e), package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(1e-6, 1e-6, 'np.testing.assert_allclose(tested, expected, rtol=1e-6, atol=1e-6)'),
        check=dict(package_within_peer_tolerance=bool(within(red, e, 1e-6, 1e-6))),
        notes=("Not a focal-loss test: optax's BCE, which this package's sigmoid loss must equal at gamma=0, alpha=null "
               "(SPEC: 'gamma = 0 is exactly (weighted) cross-entropy'). Logits of +-1e9 exercise softplus without overflow."))
# optax sigmoid_focal_loss: its tests are relational (no numbers); the extreme-logit, gamma<1, soft-label input of
# test_extreme_logits_finite_gradients only asserts finiteness. Values computed from the (equivalent) optax formula.
ext_x = [100.0, -100.0, 75.0, -75.0, 50.0, -50.0]
ext_y = [0.9, 0.1, 0.8, 0.2, 1.0, 0.0]
per, red, gr = elementwise(ext_x, ext_y, pkg_sigmoid_elem, divisor=None, gamma=0.5, alpha=None)


def optax_focal_elem(x, y, gamma=0.5):
    y = M(y)
    ce = -y * (-softplus(-x)) - (1 - y) * (-softplus(x))
    yp = y if y >= 0.5 else 1 - y
    xp = -x if y >= 0.5 else x
    l1 = -softplus(-xp) + mp.log(yp) + softplus(-xp + (mp.log1p(-yp) if yp < 1 else -mp.inf) - mp.log(yp))
    return ce * mp.exp(M(gamma) * l1)


peer_tot = mp.fsum(optax_focal_elem(M(x), y) for x, y in zip(ext_x, ext_y))
add(id='optax-focal-extreme-soft-gamma0.5 (computed)', peer='optax sigmoid_focal_loss',
    source=src(OPTAX, OPX, '1080-1108 (test_extreme_logits_finite_gradients: asserts only that loss, grad, Hessian are finite)'),
    formula=FORMULAS['optax_focal'], kind='sigmoid', transcribed=False,
    inputs=dict(logits=ext_x, shape=[6], targets=ext_y, target_form='dense soft'),
    peer_options=dict(gamma=0.5, alpha=None, reduction='jnp.sum in the test'),
    options=dict(gamma=0.5, alpha=None, reduction='sum'),
    expected=dict(peer=dict(loss=S(peer_tot), how='computed here from the quoted optax formula (log-space 1-p_t)'),
                  package=dict(loss=S(red), grad=[S(g) for g in gr], loss_none=[S(v) for v in per])),
    peer_tolerance=tol(written='none in the peer test (finiteness only); package should match to ~1e-12 relative', rtol=1e-12),
    check=dict(package_within_peer_tolerance=bool(within(red, peer_tot, 1e-12, 0))),
    notes=("optax's log(1-p_t) with y' = max(y, 1-y) is algebraically this package's m = y(1-p) + (1-y)p, and alpha=None is "
           "alpha: null; the two definitions agree for soft labels. For y=1.0 the optax expression takes log1p(-1) = -inf "
           "inside softplus (=> 0), as evaluated here. Useful as a gamma<1, |x|=100 soft-label stability vector."))

# ==============================================================================================
# 5. kornia: only test_numeric_stability pins numbers; the rest is computed from kornia's formula
# ==============================================================================================
per, red, gr = elementwise([100.0, -100.0], [1.0, 0.0], pkg_sigmoid_elem, divisor=None, gamma=2.0, alpha=0.25)
add(id='kornia-binary-numeric-stability', peer='kornia binary_focal_loss_with_logits',
    source=src(KORNIA, 'tests/losses/test_focal_loss.py', '139-146'), formula=FORMULAS['kornia_binary'],
    kind='sigmoid', transcribed=True,
    inputs=dict(logits=[100.0, -100.0], shape=[1, 2], targets=[1.0, 0.0], target_form='dense'),
    peer_options=dict(alpha=0.25, gamma=2.0, reduction='none (kornia default)'),
    options=dict(gamma=2, alpha=0.25, reduction='none'),
    expected=dict(peer=dict(loss_none=[0.0, 0.0]), package=dict(loss_none=[S(v) for v in per], grad_of_sum=[S(g) for g in gr])),
    peer_tolerance=tol(1e-4, 1e-5, 'self.assert_close(actual, expected): float32 rtol=1e-4 atol=1e-5; float64 1e-5/1e-5 (testing/base.py _DTYPE_PRECISIONS)'),
    check=dict(package_within_peer_tolerance=bool(all(within(v, 0.0, 1e-5, 1e-5) for v in per))),
    notes="The exact losses are ~1e-131 (not 0): a package returning them is within kornia's tolerance; a NaN or a clamp plateau is not.")

kx = [0.5, -1.2, 2.0, -0.7, 0.9, -2.5]
ky = [1, 0, 1, 0, 1, 0]
kpw = [1.0, 2.0, 5.0]


def kornia_binary_elem(x, y, alpha=0.25, gamma=2.0, pw=1.0):
    y = M(y)
    lpp, lpn = -softplus(-x), -softplus(x)
    pos = -mp.exp(lpn) ** M(gamma) * y * lpp
    neg = -mp.exp(lpp) ** M(gamma) * (1 - y) * lpn
    if alpha is not None:
        pos, neg = M(alpha) * pos, (1 - M(alpha)) * neg
    return M(pw) * pos + neg


def run_pw(xs, ys, elem, **kw):
    per, grads = [], []
    for i, (x, y) in enumerate(zip(xs, ys)):
        pw = kpw[i % 3]
        per.append(elem(M(x), y, pw=pw, **kw))
        grads.append(d(lambda t, y=y, pw=pw: elem(t, y, pw=pw, **kw), M(x)))
    n = len(xs)
    return per, mp.fsum(per) / n, [g / n for g in grads]


per_k, red_k, gr_k = run_pw(kx, ky, kornia_binary_elem)
per_p, red_p, gr_p = run_pw(kx, ky, lambda x, y, pw: pkg_sigmoid_elem(x, y, gamma=2, alpha=0.25, pw=pw))
add(id='kornia-binary-pos-weight (computed)', peer='kornia binary_focal_loss_with_logits (pos_weight)',
    source=src(KORNIA, 'kornia/losses/focal.py', '267-322 (no kornia test pins a pos_weight value; tests/losses/test_focal_loss.py 40-55 compares with BCEWithLogits at gamma=0 on random inputs)'),
    formula=FORMULAS['kornia_binary'], kind='sigmoid', transcribed=False,
    inputs=dict(logits=kx, shape=[2, 3], targets=ky, target_form='dense 0/1'),
    peer_options=dict(alpha=0.25, gamma=2.0, pos_weight=kpw, reduction='mean'),
    options=dict(classes=3, gamma=2, alpha=0.25, posWeight=kpw, reduction='mean'),
    expected=dict(peer=dict(loss=S(red_k), grad=[S(g) for g in gr_k], how='computed here from the quoted kornia formula'),
                  package=dict(loss=S(red_p), grad=[S(g) for g in gr_p])),
    peer_tolerance=tol(written='none (computed); package should match to ~1e-12 relative', rtol=1e-12),
    check=dict(package_within_peer_tolerance=bool(within(red_p, red_k, 1e-12, 0))),
    notes=("kornia's pos_weight (per class, broadcast over dim 1) multiplies the positive term only, like this package's "
           "posWeight; torch.mean over all elements = this package's 'mean'. With classes: 3 the dense Float64 targets stay "
           "dense and posWeight may be per class."))
ks_y = [0.3, 0.0, 0.8, 1.0, 0.5, 0.1]
per_k, red_k, gr_k = run_pw(kx, ks_y, kornia_binary_elem)
per_p, red_p, gr_p = run_pw(kx, ks_y, lambda x, y, pw: pkg_sigmoid_elem(x, y, gamma=2, alpha=0.25, pw=pw))
add(id='kornia-binary-soft-targets-DIFFERS (computed)', peer='kornia binary_focal_loss_with_logits (soft targets)',
    source=src(KORNIA, 'kornia/losses/focal.py', '277-281'), formula=FORMULAS['kornia_binary'], kind='sigmoid',
    transcribed=False, inputs=dict(logits=kx, shape=[2, 3], targets=ks_y, target_form='dense soft'),
    peer_options=dict(alpha=0.25, gamma=2.0, pos_weight=kpw, reduction='mean'),
    options=dict(classes=3, gamma=2, alpha=0.25, posWeight=kpw, reduction='mean'),
    expected=dict(peer=dict(loss=S(red_k), grad=[S(g) for g in gr_k], how='computed here from the quoted kornia formula'),
                  package=dict(loss=S(red_p), grad=[S(g) for g in gr_p])),
    peer_tolerance=tol(written='none (computed)'),
    check=dict(package_within_peer_tolerance=False, package_should_reproduce_peer=False),
    notes=("DIFFERENT SEMANTICS: for a soft target kornia weights the positive term by (1-p)^gamma and the negative term "
           "by p^gamma separately; this package (torchvision/Keras/optax/mmdet) uses one factor m^gamma with "
           "m = y(1-p) + (1-y)p on the whole BCE. They agree only for y in {0, 1}. Do not expect the package to "
           "reproduce 'peer'."))


def kornia_softmax_row(z, t, alpha=0.25, gamma=2.0):
    lp = softmax_row(z)
    C = len(z)
    a = (1 - M(alpha)) if t == 0 else M(alpha)
    return -(1 - mp.exp(lp[t])) ** M(gamma) * lp[t] * a


kr = [[1.0, 0.2, -0.5], [0.3, -1.1, 2.2], [-0.4, 0.6, 0.1]]
kt = [0, 2, 1]
tot = mp.fsum(kornia_softmax_row([M(v) for v in r], t) for r, t in zip(kr, kt)) / 9
per, red, gr = softmax_rows(kr, [onehot(t, 3) for t in kt], divisor=9, gamma=2, alpha=[0.75, 0.25, 0.25])
add(id='kornia-softmax-alpha-mean (computed)', peer='kornia focal_loss (softmax)',
    source=src(KORNIA, 'kornia/losses/focal.py', '101-137 (kornia tests of focal_loss check shapes and ignore_index consistency only)'),
    formula=FORMULAS['kornia_softmax'], kind='softmax', transcribed=False,
    inputs=dict(logits=[v for r in kr for v in r], shape=[3, 3], targets=kt, target_form='class indices'),
    peer_options=dict(alpha=0.25, gamma=2.0, reduction='mean'),
    options=dict(classes=3, gamma=2, alpha=[0.75, 0.25, 0.25], reduction='mean', normalizer=9),
    expected=dict(peer=dict(loss=S(tot), how='computed here from the quoted kornia formula'),
                  package=dict(loss=S(red), grad=[S(g) for g in gr])),
    peer_tolerance=tol(written='none (computed); package should match to ~1e-12 relative', rtol=1e-12),
    check=dict(package_within_peer_tolerance=bool(within(red, tot, 1e-12, 0))),
    notes=("kornia's scalar alpha is NOT one weight for every class: alpha_fac = [1-alpha, alpha, ..., alpha] (class 0 "
           "gets 1-alpha). Map it to a per-class alpha array. kornia's 'mean' is torch.mean over the (N, C, *) tensor, i.e. "
           "divided by N*C (times spatial size), not by the number of items: normalizer = N*C reproduces it. kornia also "
           "counts ignore_index positions in that divisor."))

def tv_mmdet_elem(x, y, gamma=2.0, alpha=0.25):
    """torchvision sigmoid_focal_loss / mmdet py_sigmoid_focal_loss element, as written in their sources:
    ce * (1 - p_t)**gamma, p_t = p*y + (1-p)*(1-y), times alpha_t when alpha >= 0 (None here = off)"""
    y = M(y)
    p = sig(x)
    ce = y * softplus(-x) + (1 - y) * softplus(x)          # binary_cross_entropy_with_logits
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** M(gamma) if gamma != 0 else 1)
    if alpha is not None and alpha >= 0:
        loss = (M(alpha) * y + (1 - M(alpha)) * (1 - y)) * loss
    return loss


# ==============================================================================================
# 6. torchvision: tests are relational on random inputs; formula = this package's
# ==============================================================================================
tvx = [-2.0, 0.3, 1.7, -0.4, 3.2, -4.1]
tvy = [0.0, 1.0, 1.0, 0.0, 0.25, 0.9]
for cid, alpha, gamma, red_name, div in [('alpha-1-gamma2-mean', None, 2, 'mean', 6), ('alpha0.58-gamma0-sum', 0.58, 0, 'sum', None)]:
    per, red, gr = elementwise(tvx, tvy, pkg_sigmoid_elem, divisor=div, gamma=gamma, alpha=alpha)
    peer = mp.fsum(tv_mmdet_elem(M(x), y, gamma, alpha) for x, y in zip(tvx, tvy)) / (M(div) if div else 1)
    add(id=f'torchvision-{cid} (computed)', peer='torchvision.ops.sigmoid_focal_loss',
        source=dict(repo=TV['repo'], path='test/test_ops.py', commit='(index copy id 2317588163; commit not reported)',
                    lines='class TestFocalLoss: test_correct_ratio / test_equal_ce_loss / test_jit use torch.testing.make_tensor random inputs; no numbers pinned'),
        formula=FORMULAS['torchvision'], kind='sigmoid', transcribed=False,
        inputs=dict(logits=tvx, shape=[3, 2], targets=tvy, target_form='dense (two soft)'),
        peer_options=dict(alpha=-1 if alpha is None else alpha, gamma=gamma, reduction=red_name),
        options=dict(gamma=gamma, alpha=alpha, reduction=red_name),
        expected=dict(peer=dict(loss=S(peer), how='computed here from the quoted torchvision formula'),
                      package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(1e-5, 1e-5, 'the torchvision tests use rtol=atol=1e-5 (float32), 1e-3 (half) on relations'),
        check=dict(package_within_peer_tolerance=bool(within(red, peer, 1e-12, 0))),
        notes=("torchvision alpha < 0 (its -1) disables weighting = this package's alpha: null (or -1). torchvision forms "
               "1 - p_t by subtraction, so in float32 its loss of a confident correct prediction loses digits; the exact "
               "value here is what the package must give."))

# ==============================================================================================
# 7. ASL (authors) and timm: no numeric tests; cases computed from the quoted source
# ==============================================================================================


def asl_peer_elem(x, y, gpos=1, gneg=4, clip=0.05, eps=1e-8):
    y = M(y)
    p = sig(x)
    xs_pos = p
    xs_neg = 1 - p
    if clip is not None and clip > 0:
        xs_neg = min(xs_neg + M(clip), mpf(1))
    loss = y * mp.log(max(xs_pos, M(eps))) + (1 - y) * mp.log(max(xs_neg, M(eps)))
    if gneg > 0 or gpos > 0:
        pt = xs_pos * y + xs_neg * (1 - y)
        g = M(gpos) * y + M(gneg) * (1 - y)
        loss *= (1 - pt) ** g
    return -loss


def asl_peer_detached_grad(x0, y, gpos=1, gneg=4, clip=0.05, eps=1e-8):
    y = M(y)
    p = sig(x0)
    xs_neg = 1 - p
    if clip is not None and clip > 0:
        xs_neg = min(xs_neg + M(clip), mpf(1))
    pt = p * y + xs_neg * (1 - y)
    w = (1 - pt) ** (M(gpos) * y + M(gneg) * (1 - y)) if (gneg > 0 or gpos > 0) else 1

    def ce(t):
        pp = sig(t)
        xn = 1 - pp
        if clip is not None and clip > 0:
            xn = min(xn + M(clip), mpf(1))
        return -(y * mp.log(max(pp, M(eps))) + (1 - y) * mp.log(max(xn, M(eps))))
    return w * d(ce, x0)


def asl_case(cid, xs, ys, gpos, gneg, clip, differs, note, shape):
    X = [M(v) for v in xs]
    peer = [asl_peer_elem(x, y, gpos, gneg, clip) for x, y in zip(X, ys)]
    peer_g = [d(lambda t, y=y: asl_peer_elem(t, y, gpos, gneg, clip), x) for x, y in zip(X, ys)]
    peer_gd = [asl_peer_detached_grad(x, y, gpos, gneg, clip) for x, y in zip(X, ys)]
    c = clip or 0
    pkg = [pkg_asl_elem(x, y, gpos, gneg, c) for x, y in zip(X, ys)]
    pkg_g = [d(lambda t, y=y: pkg_asl_elem(t, y, gpos, gneg, c), x) for x, y in zip(X, ys)]
    pkg_gd = [pkg_asl_elem_detached_grad(x, y, gpos, gneg, c) for x, y in zip(X, ys)]
    ps, ks = mp.fsum(peer), mp.fsum(pkg)
    same = abs(ps - ks) <= mpf(10) ** -40 * abs(ks)
    add(id=f'asl-{cid} (computed)', peer='ASL authors AsymmetricLoss (Alibaba-MIIL/ASL) = timm AsymmetricLossMultiLabel',
        source=src(ASL, 'src/loss_functions/losses.py', '5-50 (no numeric test: tests/test_asl.py is auto-generated, see README)'),
        formula=FORMULAS['asl'], kind='asymmetric', transcribed=False,
        inputs=dict(logits=xs, shape=shape, targets=ys, target_form='dense'),
        peer_options=dict(gamma_pos=gpos, gamma_neg=gneg, clip=clip, eps=1e-8, reduction='sum (-loss.sum())'),
        options=dict(gammaPos=gpos, gammaNeg=gneg, clip=c, reduction='sum'),
        expected=dict(peer=dict(loss=S(ps), loss_none=[S(v) for v in peer],
                                grad_disable_torch_grad_focal_loss_True=[S(g) for g in peer_gd],
                                grad_disable_torch_grad_focal_loss_False=[S(g) for g in peer_g],
                                how='computed here from the quoted ASL source (eps clamp included)'),
                      package=dict(loss=S(ks), loss_none=[S(v) for v in pkg],
                                   grad=[S(g) for g in pkg_g], grad_detachFocalWeight=[S(g) for g in pkg_gd])),
        peer_tolerance=tol(written='none (computed); where the definitions agree, to ~1e-12 relative', rtol=1e-12),
        check=dict(package_equals_peer=bool(same), package_should_reproduce_peer=not differs),
        notes=note + (" The authors' AsymmetricLoss defaults to disable_torch_grad_focal_loss=True (focal weight detached: "
                      "detachFocalWeight: true); timm's AsymmetricLossMultiLabel and the authors' AsymmetricLossOptimized default to "
                      "False (detachFocalWeight: false). Both gradients are given."))


asl_case('binary-defaults', [2.0, -1.0, 0.5, -3.5, -0.3, 1.5, -2.2, 4.0], [1, 0, 1, 0, 0, 0, 1, 1], 1, 4, 0.05, False,
         "Binary targets, defaults (gamma_pos 1, gamma_neg 4, clip 0.05). x=-3.5 with y=0 has p < clip, so p_m = 0 and "
         "its loss and gradient are exactly 0 in both. The eps clamp is not reached.", [2, 4])
asl_case('binary-noclip', [2.0, -1.0, 0.5, -3.5, -0.3, 1.5, -2.2, 4.0], [1, 0, 1, 0, 0, 0, 1, 1], 0, 2, 0, False,
         "clip=0 (ASL: 'self.clip > 0' is false, no shift), gamma_pos 0, gamma_neg 2: a plain one-sided focal loss.", [2, 4])
asl_case('eps-clamp-DIFFERS', [-20.0, 25.0, 3.0], [1, 0, 0], 1, 4, 0, True,
         "DIFFERENT SEMANTICS: ASL clamps probabilities at eps=1e-8 before the log. x=-20, y=1: p = 2.06e-9 < 1e-8, so "
         "ASL's loss is -log(1e-8)*(1-p) = 18.42... (and its CE gradient is 0), while this package (no clamp, SPEC) gives "
         "softplus(20)*(1-p) = 20.0000000021.... x=25, y=0 with clip 0: 1-p = 1.4e-11 < 1e-8, ASL 18.42*p^4 vs "
         "package 25.0000000000139*p^4. The package must NOT reproduce 'peer' here.", [3])
asl_case('soft-target-DIFFERS', [0.8, -0.6, 1.9], [0.7, 0.4, 0.05], 1, 4, 0.05, True,
         "DIFFERENT SEMANTICS for soft targets: ASL multiplies the whole y*log p + (1-y)*log(xs_neg) by one weight "
         "(1-pt)^(g+ y + g- (1-y)) with pt = p*y + xs_neg*(1-y); this package (SPEC) weights the positive part by "
         "(1-p)^g+ and the negative part by p_m^g- separately. They agree only for y in {0, 1}.", [3])

# ==============================================================================================
# 8. mmdetection: no numeric tests (tests/test_models/test_losses/test_loss.py uses torch.rand inputs and checks
#    types / equality of two target forms only). Cases computed from the quoted mmdet sources.
# ==============================================================================================
MX = [[1.2, -0.8, 0.3], [-1.5, 2.0, -0.2], [0.4, -2.5, -3.0]]
MXf = [v for r in MX for v in r]
labels = [0, 1, 3]           # 3 = background for C = 3
scores = [0.8, 0.35, 0.0]
dense_scores = [scores[n] if c == labels[n] else 0.0 for n in range(3) for c in range(3)]


def mmdet_qfl_rows(beta=2):
    rows = []
    for n in range(3):
        s = mpf(0)
        for c in range(3):
            x = M(MX[n][c])
            p = sig(x)
            if c == labels[n]:
                sc = M(scores[n])
                s += (sc * softplus(-x) + (1 - sc) * softplus(x)) * abs(sc - p) ** M(beta)
            else:
                s += softplus(x) * p ** M(beta)
        rows.append(s)
    return rows


qrows = mmdet_qfl_rows()
for cid, wts, avg, lines in [('mean', None, None, 'mean over N rows'), ('weighted-avg_factor', [1.0, 0.5, 2.0], 2.5, 'sum(w*row)/avg_factor')]:
    W = [mpf(1)] * 3 if wts is None else [M(w) for w in wts]
    peer = mp.fsum(W[n] * qrows[n] for n in range(3)) / (M(avg) if avg else 3)
    ew = None if wts is None else [wts[i // 3] for i in range(9)]
    per, red, gr = elementwise(MXf, dense_scores, pkg_qfl_elem, weights=ew, divisor=avg if avg else 3, beta=2)
    opts = dict(beta=2, reduction='mean', normalizer=avg if avg else 3)
    if ew:
        opts['weights'] = ew
    add(id=f'mmdet-qfl-{cid} (computed)', peer='mmdetection QualityFocalLoss (quality_focal_loss)',
        source=dict(repo=MMDET, path='mmdet/models/losses/gfocal_loss.py', commit=FORMULAS['mmdet_qfl']['commit'],
                    lines='9-51 (tests/test_models/test_losses/test_loss.py@0ee12d21 test_QualityFocalLoss_Loss uses torch.rand; no numbers)'),
        formula=FORMULAS['mmdet_qfl'], kind='quality', transcribed=False,
        inputs=dict(logits=MXf, shape=[3, 3], scores=dense_scores,
                    peer_target=dict(label=labels, score=scores, note='label 3 = background (bg_class_ind = C)'),
                    target_form='dense quality scores (one-hot * score), the form mmdet 3.x also accepts'),
        peer_options=dict(beta=2.0, reduction='mean', avg_factor=avg, weight=wts),
        options=opts,
        expected=dict(peer=dict(loss=S(peer), how=f'computed here from the quoted mmdet formula ({lines})'),
                      package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(written='none (computed); package should match to ~1e-12 relative', rtol=1e-12),
        check=dict(package_within_peer_tolerance=bool(within(red, peer, 1e-12, 0))),
        notes=("mmdet's quality_focal_loss sums each row over classes (loss.sum(dim=1)) before weight_reduce_loss, so its "
               "'mean' divides by N (rows), not N*C: normalizer = N reproduces it (this package's plain 'mean' would be "
               "1/C of mmdet's). Per-row weights multiply the row sums (= one weight repeated on each element). With "
               "avg_factor, mmdet divides the weighted sum by avg_factor = this package's normalizer."))

vfl_t = [0.8, 0.0, 0.0, 0.0, 0.35, 0.0, 0.0, 0.0, 0.0]


def mmdet_vfl_elem(x, q, alpha=0.75, gamma=2.0, iou_weighted=True):
    q = M(q)
    p = sig(x)
    if iou_weighted:
        fw = (q if q > 0 else 0) + (M(alpha) * abs(p - q) ** M(gamma) if q <= 0 else 0)
    else:
        fw = (1 if q > 0 else 0) + (M(alpha) * abs(p - q) ** M(gamma) if q <= 0 else 0)
    return (q * softplus(-x) + (1 - q) * softplus(x)) * fw


for cid, iw, avg in [('iou-weighted-mean', True, None), ('not-iou-weighted-mean', False, None), ('iou-weighted-avg_factor', True, 2.0)]:
    X = [M(v) for v in MXf]
    peer = mp.fsum(mmdet_vfl_elem(x, q, iou_weighted=iw) for x, q in zip(X, vfl_t)) / (M(avg) if avg else 9)
    per, red, gr = elementwise(MXf, vfl_t, pkg_vfl_elem, divisor=avg if avg else 9, alpha=0.75, gamma=2, iou_weighted=iw)
    opts = dict(alpha=0.75, gamma=2, iouWeighted=iw, reduction='mean')
    if avg:
        opts['normalizer'] = avg
    add(id=f'mmdet-vfl-{cid} (computed)', peer='mmdetection VarifocalLoss (varifocal_loss)',
        source=dict(repo=MMDET, path='mmdet/models/losses/varifocal_loss.py', commit=FORMULAS['mmdet_vfl']['commit'],
                    lines='12-60 (no mmdet test pins VFL values; test_loss.py only checks reduction_override assertion)'),
        formula=FORMULAS['mmdet_vfl'], kind='varifocal', transcribed=False,
        inputs=dict(logits=MXf, shape=[3, 3], scores=vfl_t, target_form='dense IoU-aware scores'),
        peer_options=dict(alpha=0.75, gamma=2.0, iou_weighted=iw, reduction='mean', avg_factor=avg),
        options=opts,
        expected=dict(peer=dict(loss=S(peer), how='computed here from the quoted mmdet formula'),
                      package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(written='none (computed); package should match to ~1e-12 relative', rtol=1e-12),
        check=dict(package_within_peer_tolerance=bool(within(red, peer, 1e-12, 0))),
        notes=("mmdet's VFL 'mean' is loss.mean() over all N*C elements (= this package); avg_factor = normalizer. mmdet "
               "treats target <= 0 as negative (alpha*|p - target|^gamma); this package takes scores in [0, 1] and q = 0 as "
               "negative. mmdet does not detach the focal weight (gradient flows through |p - q|^gamma), as this package."))

fl_w = [1.0, 0.5, 2.0]
ys_oh = [1 if c == labels[n] else 0 for n in range(3) for c in range(3)]
for cid, wts, avg in [('mean', None, None), ('weighted-avg_factor', fl_w, 2)]:
    ew = None if wts is None else [wts[i // 3] for i in range(9)]
    per, red, gr = elementwise(MXf, ys_oh, pkg_sigmoid_elem, weights=ew, divisor=avg if avg else 9, gamma=2, alpha=0.25)
    W = [mpf(1)] * 9 if ew is None else [M(w) for w in ew]
    peer = mp.fsum(W[i] * tv_mmdet_elem(M(MXf[i]), ys_oh[i], 2.0, 0.25) for i in range(9)) / (M(avg) if avg else 9)
    opts = dict(classes=3, gamma=2, alpha=0.25, reduction='mean')
    if wts:
        opts['weights'] = wts
    if avg:
        opts['normalizer'] = avg
    add(id=f'mmdet-focal-{cid} (computed)', peer='mmdetection FocalLoss (py_sigmoid_focal_loss path, CPU)',
        source=dict(repo=MMDET, path='mmdet/models/losses/focal_loss.py', commit=FORMULAS['mmdet_focal']['commit'],
                    lines='12-57, 162-178 (test_FocalLoss_loss in tests/test_models/test_losses/test_loss.py@0ee12d21 uses torch.rand; no numbers)'),
        formula=FORMULAS['mmdet_focal'], kind='sigmoid', transcribed=False,
        inputs=dict(logits=MXf, shape=[3, 3], targets=labels, target_form='class indices; 3 = C = background (all-zero one-hot row)'),
        peer_options=dict(gamma=2.0, alpha=0.25, reduction='mean', weight=wts, avg_factor=avg),
        options=opts,
        expected=dict(peer=dict(loss=S(peer), how='computed here from the quoted mmdet formula'),
                      package=dict(loss=S(red), grad=[S(g) for g in gr])),
        peer_tolerance=tol(written='none (computed); package should match to ~1e-12 relative', rtol=1e-12),
        check=dict(package_within_peer_tolerance=bool(within(red, peer, 1e-12, 0))),
        notes=("mmdet's FocalLoss one-hot encodes with num_classes + 1 and drops the last column, so label C is background "
               "(this package's t = C). Its 'mean' without avg_factor is loss.mean() over N*C (= this package with classes); "
               "with avg_factor (RetinaNet: number of positives) it is sum(w*l)/avg_factor = normalizer. A weight of shape "
               "(num_priors,) is viewed as (N, 1): one weight per item. mmdet raises ValueError for avg_factor with 'sum'; "
               "this package raises RangeError for normalizer without 'mean'. On CUDA mmdet calls mmcv's op with "
               "reduction 'none' and then the same weight_reduce_loss, so both paths agree (the mmcv cases above use mmcv's "
               "own 'mean' = sum/N instead)."))

# ----------------------------------------------------------------------------------------------
import mpmath as _m
out = dict(
    generated=("test/vectors/peers/generate_peers.py (python3, mpmath %s, 80-digit working precision, 50 significant "
               "digits printed). 'transcribed: true' cases copy the peer's inputs and expected numbers from the cited "
               "test lines; 'transcribed: false' cases compute 'expected.peer' from the formula quoted from the peer's "
               "source. 'expected.package' is always this package's definition (SPEC.md) computed from the binary64 "
               "inputs in this file. Strings 'inf'/'-inf' are non-finite logits." % _m.__version__),
    cases=cases)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'peers.json')
def dump(v, ind=0):
    """JSON with one line per list of scalars (the numbers stay readable side by side)"""
    pad = ' ' * ind
    if isinstance(v, dict):
        items = [f'{pad} {json.dumps(k)}: {dump(x, ind + 1)}' for k, x in v.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
        return '[\n' + ',\n'.join(pad + ' ' + dump(x, ind + 1) for x in v) + '\n' + pad + ']'
    return json.dumps(v, allow_nan=False)


with open(path, 'w') as f:
    f.write(dump(out) + '\n')
print(len(cases), 'cases ->', path)
for c in cases:
    print(f"{c['id']:60s} {c['kind']:10s} tr={c['transcribed']!s:5s} {c['check']}")
