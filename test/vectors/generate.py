#!/usr/bin/env python3
"""Reference test vectors for focal-loss (softmax and sigmoid focal loss, and their gradients).

Computes the expected loss and gradient of every case in high precision with mpmath (60 significant
digits) from the EXACT binary values of the inputs (mpf(float) is exact), following the mathematics of
CONTRACT.md (the package's contract, in this repository), and writes test/vectors/vectors.json (one case per line).

    python3 test/vectors/generate.py            # needs Python >= 3.11 and mpmath 1.3; no other packages

Deterministic: every random input comes from random.Random(seed) with fixed seeds.

Self-checks (assertions, the run fails if any is violated):
  * every input of a case marked for "f32" is exactly representable in float32;
  * the analytic gradient agrees with mpmath numerical differentiation (mp.diff) on a set of cases;
  * gamma = 0 gives exactly the (weighted) cross-entropy; one-hot soft targets give the hard-target result;
  * grad_scale >= |grad| entry by entry; the gradient of each hard-target row sums to zero.
  Later cases (below), in addition:
  * the planned kernels with the new options at their neutral values reproduce every existing case (softmax:
    loss, grad and grad_scale bit for bit; sigmoid: the doubles of loss and grad);
  * identities: QFL with beta = 0 is BCE; QFL and ASL (gammaPos = gammaNeg = gamma, clip 0) on hard targets are the
    sigmoid focal loss with alpha off; VFL at q = 1 is BCE, at q = 0 the focal loss with alpha' = 1 - alpha; posWeight
    with gamma 0 is torch's BCEWithLogits(pos_weight) formula; Poly-1 with gamma 0 is CE + eps (1 - p_t) (softmax
    and sigmoid); ASL's loss does not depend on detachFocalWeight; class-index targets equal their dense one-hot
    form; normalizer = count equals 'mean', and normalizer N equals 'sum' / N;
  * the analytic gradient against mp.diff (at a precision widened for e^-|x| terms), for detachFocalWeight
    against the derivative of the loss with the focal factors frozen at the point;
  * loss_scale >= |loss|; and the scales are checked against each dtype's rounding (see "Scales").

JSON format: {"generated": "...", "cases": [case, ...]}: one array, the original cases first, then those built
by the later families (below).  Expected numbers are
the correctly rounded doubles of the 60-digit values (values below the double range become subnormals or 0.0);
non-finite numbers are written as the strings "inf", "-inf", "nan".

The original cases are the softmax and sigmoid cases of the first API; see the README-style comment above
`softmax_case` and `sigmoid_case` for their keys.  Their expected: {"loss", "grad", "grad_scale", "count"}.

The later cases (PLANNED below, a historical name: the features were once planned) cover class-index sigmoid
targets, posWeight, polyEpsilon, normalizer, positives, qualityFocalLoss, varifocalLoss and asymmetricLoss.
Keys:

  name, kind, dtypes ("f32"/"f64": every input of an "f32" case is a float32 number), logits.
  kind "softmax": as in "cases" (classes | shape, targets (ints) | probs, options {gamma, [alpha], reduction,
      ignoreIndex, labelSmoothing, [weights]}) plus options polyEpsilon and normalizer when used.
  kind "sigmoid" | "quality" | "varifocal" | "asymmetric" (element-wise: qualityFocalLoss, varifocalLoss,
      asymmetricLoss, sigmoidFocalLoss):
    classes (int) | shape ([N, C, ...spatial], channels-first) - optional; with dense targets only for a
        per-class posWeight;
    targetKind: "dense" - targets: one float in [0, 1] per logit (soft allowed; weights then one per logit and
                          never combined with classes/shape here);
                "indices" - targets: one int per item (classes: rows of C; shape: position n*S + s); t in [0, C)
                          one-hot at t, t = C background (all-zero row), t = ignoreIndex ignored (loss and grad 0
                          for its C elements, not counted; ignoreIndex is never in [0, C]); weights one per item.
                          Pass targets as an integer array (Int32Array / number[]).
    options, named as the public API takes them; an option that is absent takes its default (the call must not
    pass it):
      sigmoid: always gamma, alpha (number or null = off), reduction, labelSmoothing (like the "cases" sigmoid
               cases), and when used ignoreIndex (always present with targetKind "indices"), weights, posWeight
               (number, or a list of C numbers), polyEpsilon, normalizer;
      quality: [beta], [reduction], [ignoreIndex], [weights], [normalizer]          (beta 2, reduction 'mean');
      varifocal: [alpha], [gamma], [iouWeighted (bool)], [reduction], [ignoreIndex], [weights], [normalizer]
               (0.75, 2, true, 'mean');
      asymmetric: [gammaPos], [gammaNeg], [clip], [detachFocalWeight (bool)], [reduction], [ignoreIndex],
               [weights], [normalizer] (1, 4, 0.05, false, 'mean').  Cases without clip have one dtype: the
               default 0.05 is computed as 0.05 for "f64" and as float32(0.05) = 0.05000000074505806 for "f32"
               (the float32 kernel rounds it); cases for both dtypes pass clip explicitly.
    normalizer appears only with reduction 'mean': loss = sum w l / normalizer, gradient of that.
  expected: {"loss" (number, or one per item (softmax) / per element (element-wise: M x C with class indices)
             under 'none'), "grad" (one per logit), "grad_scale" (one per logit), "loss_scale" (the shape of
             loss), "count", ["positives"]}
    count: softmax, the counted items; element-wise, the counted elements (dense: every logit; indices:
        counted items x C): the 'mean' divisor without normalizer (and the partials' count).
    positives (kind "sigmoid" only): the partials' positives - dense, the sum of the unsmoothed targets over all
        elements; indices, the number of counted items whose class is not background.

Scales (tolerance |got - exp| <= rtol max(|exp|, scale) + tiny, with scale = loss_scale for losses and
grad_scale for gradient entries): the magnitude of the terms that make up the value - each term of a sum in
absolute value (the Poly-1 term against the focal term for eps < -a, a the focal term's weight; the terms
(1-y)p and pw y (1-p) of dCE/dx = p - y; softmax, per class, the focal and Poly-1 parts), so values formed by
cancellation keep a meaningful tolerance.  Poly-1 with -a <= eps < 0 is written in the kernels' split form
(poly_terms: (a + eps) m + a phi(m), non-negative terms), so its loss is held to |loss| and a hard target's
gradient to the terms of B (at most (2 gamma + 1) |grad|); its references come from that form at a widened
precision (a L + eps m from 60-digit L and m would lose the digits that cancel).  Where a factor is a power of a cancelling difference - QFL's |sigma(x) - y|^beta with
sigma(x) - y = (1-y)p - y(1-p), ASL's p_m = p - clip - the scale adds the first-order effect of an error of the
cancelled mass c in that difference (c = 2 min((1-y)p, y(1-p)), resp. 2 clip): c |dv/dD|.  Where the difference
is so small that its rounding is not a first-order effect (|D| ~ 1e-30), the scale is raised to
|v| + |v(D + d) - v(D)| / 2^-20 over d = +-2^-20 c (and d = -D), so a kernel that rounds D (to 0) still passes;
such elements are in effect checked only for being finite (not so the acc/qfl and acc/asl cases: acc_subtract_cases
keep |D| above a few u c and hold them to the rule as CONTRACT.md words it, own terms + c |dv/dD|).  Scales beyond
the double range are written as the largest finite double.  Self-check: moving each cancelling quantity by
+-8 u c (u the unit roundoff of each dtype of the case; for ASL also -log(1 - p_m) by +-8 u) changes no value by
more than half its tolerance.
"""

import json
import math
import os
import random
import struct
import sys
import time

from mpmath import mp, mpf

mp.dps = 60

GENERATED = "by test/vectors/generate.py (mpmath, 60 digits) - do not edit; run python3 test/vectors/generate.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")

INF = math.inf
NAN = math.nan
F64_MIN_NORMAL = 2.2250738585072014e-308
F32_MIN_NORMAL = 1.1754943508222875e-38
BOTH = ("f32", "f64")
F64 = ("f64",)
F32 = ("f32",)
GAMMAS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


# ----------------------------------------------------------------------------------------------------------
# number helpers
# ----------------------------------------------------------------------------------------------------------

def f32(x):
    """Round a Python float to the nearest float32 (returned as a Python float)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def is_f32(x):
    if isinstance(x, int):
        x = float(x)
    return math.isnan(x) or math.isinf(x) or f32(x) == x


def to_mp(x):
    return mpf(x)  # exact for Python floats (including +-inf, nan)


def to_double(x):
    """Correctly rounded double of an mpf (round half even), including subnormals; non-finite -> string."""
    if mp.isnan(x):
        return "nan"
    if mp.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return 0.0
    m, e = mp.frexp(x)  # x = m * 2^e, 0.5 <= |m| < 1
    if e > 1024:
        raise OverflowError(f"expected value {x} overflows a double")
    if e >= -1021:  # normal range: 53 significant bits
        n = int(mp.nint(mp.ldexp(m, 53)))
        r = math.ldexp(n, e - 53)
    else:  # subnormal range: multiples of 2^-1074
        n = int(mp.nint(mp.ldexp(x, 1074)))
        r = math.ldexp(n, -1074)
    if math.isinf(r):
        raise OverflowError(f"expected value {x} overflows a double")
    return r


def jnum(x):
    """A Python float (input) for JSON: non-finite as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def is_bad(z):
    """NaN or +inf logit (propagates to a NaN loss per CONTRACT.md)."""
    return mp.isnan(z) or (mp.isinf(z) and z > 0)


# ----------------------------------------------------------------------------------------------------------
# softmax focal loss of one item
# ----------------------------------------------------------------------------------------------------------

def softmax_item(z, q, a, w, gamma):
    """One item (C classes), all arguments mpf.

    z: logits, q: target distribution (already smoothed), a: class weights, w: item weight, gamma >= 0.
    Returns (loss, grad, grad_scale) of l = -w sum_c a_c q_c (1-p_c)^gamma log p_c.
    p, log p and 1-p are computed without cancellation (needed even at 60 digits: gaps of 1e4 in the logits
    make exp(-gap) far smaller than 10^-60)."""
    C = len(z)
    nan = mp.nan
    if any(is_bad(v) for v in z):
        return nan, [nan] * C, [nan] * C
    k = max(range(C), key=lambda c: z[c])  # first maximal logit
    zk = z[k]
    if mp.isinf(zk):  # every class masked: undefined (not generated)
        raise ValueError("all logits of an item are -inf")
    e = [mpf(0) if mp.isinf(v) else mp.exp(v - zk) for v in z]
    s_other = mp.fsum(e[c] for c in range(C) if c != k)  # S' = sum_{c != k} exp(z_c - z_k)
    den = 1 + s_other
    log1p_s = mp.log1p(s_other)
    p = [ec / den for ec in e]
    logp = [-mp.inf if mp.isinf(z[c]) else (z[c] - zk) - log1p_s for c in range(C)]
    omp = [s_other / den if c == k else 1 - p[c] for c in range(C)]  # 1 - p_c (p_c <= 1/2 for c != k)

    pw, h = [], []
    for c in range(C):
        if gamma == 0:
            pwc = mpf(1)
        elif omp[c] == 0:
            pwc = mpf(0)
        else:
            pwc = omp[c] ** gamma
        if p[c] == 0:
            pr = mpf(0)  # p r -> 0 as p -> 0
        elif omp[c] == 0:
            pr = mpf(1)  # p = 1, r -> 1
        else:
            pr = p[c] * (-logp[c]) / omp[c]
        pw.append(pwc)
        h.append(-pwc * (1 + gamma * pr))

    loss = mpf(0)
    for c in range(C):
        if q[c] != 0:  # terms with q_c == 0 are exactly 0 (0 * log 0 = 0)
            loss += a[c] * q[c] * pw[c] * (-logp[c])
    loss *= w

    t = [a[c] * q[c] * h[c] if q[c] != 0 else mpf(0) for c in range(C)]
    S = mp.fsum(t)
    grad, scale = [], []
    for j in range(C):
        rest = S - t[j]  # sum_{c != j} a_c q_c h_c
        grad.append(w * (t[j] * omp[j] - p[j] * rest))
        scale.append(w * (abs(t[j]) * omp[j] + p[j] * abs(rest)))
    return loss, grad, scale


# ----------------------------------------------------------------------------------------------------------
# sigmoid focal loss of one element
# ----------------------------------------------------------------------------------------------------------

def softplus(u):
    return u + mp.log1p(mp.exp(-u)) if u > 0 else mp.log1p(mp.exp(u))


def sigmoid_elem(x, y, alpha, w, gamma):
    """One element, all mpf (alpha may be None = weighting off); y is the (already smoothed) target.
    Returns (loss, grad, grad_scale)."""
    nan = mp.nan
    if is_bad(x):
        return nan, nan, nan
    at = mpf(1) if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    if mp.isinf(x):  # x = -inf: p = 0; only generated for y == 0, where the limits are loss 0, gradient 0
        assert y == 0
        return mpf(0), mpf(0), mpf(0)
    p = 1 / (1 + mp.exp(-x))
    om = 1 / (1 + mp.exp(x))  # 1 - p, without cancellation
    ce = y * softplus(-x) + (1 - y) * softplus(x)
    m = y * om + (1 - y) * p  # 1 - p_t, sum of non-negative terms
    mg = mpf(1) if gamma == 0 else m ** gamma
    loss = w * at * mg * ce
    p_minus_y = (1 - y) * p - y * om
    t1 = mpf(0) if gamma == 0 else gamma * m ** (gamma - 1) * (1 - 2 * y) * p * om * ce
    t2 = mg * p_minus_y
    return loss, w * at * (t1 + t2), w * at * (abs(t1) + abs(t2))


# ----------------------------------------------------------------------------------------------------------
# reductions
# ----------------------------------------------------------------------------------------------------------

def add(xs):
    total = mpf(0)
    for x in xs:
        total += x
    return total


def reduce_items(losses, grads, scales, counted, reduction):
    """losses: per item (0 for ignored), grads/scales: per logit (already in the logits' layout, item
    gradients of the unreduced loss), counted: number of counted items.  Returns (loss, grad, scale)."""
    if reduction == "none":
        return list(losses), grads, scales
    if reduction == "sum":
        return add(losses), grads, scales
    assert reduction == "mean"
    if counted == 0:
        return mpf(0), [mpf(0)] * len(grads), [mpf(0)] * len(grads)
    f = mpf(1) / counted
    return add(losses) * f, [g * f for g in grads], [s * f for s in scales]


# ----------------------------------------------------------------------------------------------------------
# full computations (mpf in, mpf out) - used by the case builders and by the numerical self-checks
# ----------------------------------------------------------------------------------------------------------

def softmax_layout(n_logits, classes, shape):
    """Returns (N, C, S): item (n, s) class c is at n*C*S + c*S + s; items are ordered n*S + s."""
    if classes is not None:
        C = classes
        assert C >= 1 and n_logits % C == 0
        return n_logits // C, C, 1
    N, C = shape[0], shape[1]
    S = math.prod(shape[2:])
    assert n_logits == N * C * S, (n_logits, shape)
    return N, C, S


def compute_softmax(z, N, C, S, targets, probs, alpha, weights, gamma, eps, ignore_index, reduction):
    """z: mpf logits; targets: ints or None; probs: mpf or None; alpha: None | mpf | [mpf]; weights: None |
    [mpf]; gamma, eps: mpf.  Returns (loss, grad, scale, count) with loss an mpf or a list."""
    if alpha is None:
        a = [mpf(1)] * C
    elif isinstance(alpha, list):
        a = alpha
    else:
        a = [alpha] * C
    n_items = N * S
    losses = [mpf(0)] * n_items
    grads = [mpf(0)] * len(z)
    scales = [mpf(0)] * len(z)
    counted = 0
    for n in range(N):
        for s in range(S):
            item = n * S + s
            idx = [n * C * S + c * S + s for c in range(C)]
            if probs is None:
                t = targets[item]
                if t == ignore_index:
                    continue
                assert 0 <= t < C
                q = [(1 - eps) * (1 if c == t else 0) + eps / C for c in range(C)]
            else:
                q = [(1 - eps) * probs[i] + eps / C for i in idx]
            counted += 1
            w = mpf(1) if weights is None else weights[item]
            loss, g, sc = softmax_item([z[i] for i in idx], q, a, w, gamma)
            losses[item] = loss
            for c, i in enumerate(idx):
                grads[i] = g[c]
                scales[i] = sc[c]
    loss, grad, scale = reduce_items(losses, grads, scales, counted, reduction)
    return loss, grad, scale, counted


def compute_sigmoid(x, y, alpha, weights, gamma, eps, reduction):
    losses, grads, scales = [], [], []
    for i in range(len(x)):
        yi = y[i] * (1 - eps) + eps / 2
        w = mpf(1) if weights is None else weights[i]
        l, g, s = sigmoid_elem(x[i], yi, alpha, w, gamma)
        losses.append(l)
        grads.append(g)
        scales.append(s)
    loss, grad, scale = reduce_items(losses, grads, scales, len(x), reduction)
    return loss, grad, scale, len(x)


# ----------------------------------------------------------------------------------------------------------
# self-checks
# ----------------------------------------------------------------------------------------------------------

STATS = {"diff_checked_entries": 0}


def total_loss(loss):
    return add(loss) if isinstance(loss, list) else loss


def check_scale(name, grad, scale):
    for j, (g, s) in enumerate(zip(grad, scale)):
        if mp.isnan(g):
            continue
        assert s >= abs(g) * (1 - mpf(10) ** -50), (name, j, g, s)


def check_numeric_grad(name, fn, z, grad, scale):
    """Compare the analytic gradient with mp.diff of the (summed) reduced loss, at every finite logit."""
    if mp.isnan(total_loss(fn(z))) or mp.isinf(total_loss(fn(z))):
        return
    big = max([abs(s) for s in scale] + [mpf(10) ** -300])
    for j in range(len(z)):
        if mp.isinf(z[j]) or mp.isnan(z[j]):
            continue

        def f(t, j=j):
            zz = list(z)
            zz[j] = t
            return total_loss(fn(zz))

        num = mp.diff(f, z[j])
        err = abs(num - grad[j])
        assert err <= mpf(10) ** -25 * big and err <= mpf(10) ** -15 * abs(scale[j]) + mpf(10) ** -40 * big, (
            name, j, num, grad[j], scale[j])
        STATS["diff_checked_entries"] += 1


# ----------------------------------------------------------------------------------------------------------
# case builders
# ----------------------------------------------------------------------------------------------------------
# A softmax case:
#   {"name", "kind": "softmax", "dtypes", "logits", "classes" | "shape", "targets" (ints) | "probs" (floats),
#    "options": {"gamma", ["alpha"], "reduction", "ignoreIndex", "labelSmoothing", ["weights"]},
#    "expected": {"loss", "grad", "grad_scale", "count"}}
# A sigmoid case:
#   {"name", "kind": "sigmoid", "dtypes", "logits", "targets" (floats),
#    "options": {"gamma", "alpha" (number or null), "reduction", "labelSmoothing", ["weights"]},
#    "expected": {...same...}}

CASES = []
NAMES = set()


def _check_inputs(name, dtypes, values):
    for v in values:
        assert isinstance(v, (int, float)), (name, v)
        if "f32" in dtypes:
            assert is_f32(v), f"{name}: input {v!r} is not a float32 value"


def _expected(loss, grad, scale, count):
    return {
        "loss": [to_double(v) for v in loss] if isinstance(loss, list) else to_double(loss),
        "grad": [to_double(v) for v in grad],
        "grad_scale": [to_double(v) for v in scale],
        "count": count,
    }


def _add(case):
    assert case["name"] not in NAMES, case["name"]
    NAMES.add(case["name"])
    CASES.append(case)
    return case


def softmax_case(name, logits, *, classes=None, shape=None, targets=None, probs=None, gamma=2.0, alpha=None,
                 reduction="mean", ignore_index=-100, label_smoothing=0.0, weights=None, dtypes=BOTH,
                 check=False):
    logits = [float(v) for v in logits]
    assert (classes is None) != (shape is None)
    assert (targets is None) != (probs is None)
    N, C, S = softmax_layout(len(logits), classes, shape)
    alist = alpha if isinstance(alpha, list) else ([] if alpha is None else [alpha])
    if isinstance(alpha, list):
        assert len(alpha) == C
    _check_inputs(name, dtypes, logits + alist + [gamma, label_smoothing] + (weights or []) + (probs or []))
    assert 0 <= label_smoothing < 1 and gamma >= 0
    if targets is not None:
        assert len(targets) == N * S and all(isinstance(t, int) for t in targets)
    else:
        assert len(probs) == len(logits)
        for n in range(N):  # each item's row sums to 1
            for s in range(S):
                row = [probs[n * C * S + c * S + s] for c in range(C)]
                assert all(0 <= v <= 1 for v in row) and abs(math.fsum(row) - 1) <= 1e-6, (name, row)
    if weights is not None:
        assert len(weights) == N * S and all(v >= 0 for v in weights)

    z = [to_mp(v) for v in logits]
    m_alpha = None if alpha is None else ([to_mp(v) for v in alpha] if isinstance(alpha, list) else to_mp(alpha))
    m_w = None if weights is None else [to_mp(v) for v in weights]
    m_probs = None if probs is None else [to_mp(v) for v in probs]
    g, eps = to_mp(gamma), to_mp(label_smoothing)

    def fn(zz):
        return compute_softmax(zz, N, C, S, targets, m_probs, m_alpha, m_w, g, eps, ignore_index, reduction)[0]

    loss, grad, scale, count = compute_softmax(z, N, C, S, targets, m_probs, m_alpha, m_w, g, eps, ignore_index,
                                               reduction)
    check_scale(name, grad, scale)
    if check:
        check_numeric_grad(name, fn, z, grad, scale)
    if targets is not None and label_smoothing == 0:  # hard-target rows: gradient sums to zero
        for n in range(N):
            for s in range(S):
                row = [grad[n * C * S + c * S + s] for c in range(C)]
                if not any(mp.isnan(v) for v in row):
                    assert abs(mp.fsum(row)) <= mpf(10) ** -50 * (1 + max(abs(v) for v in row)), (name, row)

    case = {"name": name, "kind": "softmax", "dtypes": list(dtypes), "logits": [jnum(v) for v in logits]}
    if classes is not None:
        case["classes"] = classes
    else:
        case["shape"] = list(shape)
    if targets is not None:
        case["targets"] = list(targets)
    else:
        case["probs"] = [float(v) for v in probs]
    opts = {"gamma": float(gamma)}
    if alpha is not None:
        opts["alpha"] = [float(v) for v in alpha] if isinstance(alpha, list) else float(alpha)
    opts["reduction"] = reduction
    opts["ignoreIndex"] = ignore_index
    opts["labelSmoothing"] = float(label_smoothing)
    if weights is not None:
        opts["weights"] = [float(v) for v in weights]
    case["options"] = opts
    case["expected"] = _expected(loss, grad, scale, count)
    return _add(case)


def sigmoid_case(name, logits, targets, *, gamma=2.0, alpha=0.25, reduction="mean", label_smoothing=0.0,
                 weights=None, dtypes=BOTH, check=False):
    logits = [float(v) for v in logits]
    targets = [float(v) for v in targets]
    assert len(targets) == len(logits) and all(0 <= y <= 1 for y in targets)
    if weights is not None:
        assert len(weights) == len(logits) and all(v >= 0 for v in weights)
    extra = [] if alpha is None else [alpha]
    _check_inputs(name, dtypes, logits + targets + extra + [gamma, label_smoothing] + (weights or []))
    assert 0 <= label_smoothing < 1 and gamma >= 0
    # torchvision's alpha = -1 (any negative alpha) turns weighting off, like null
    m_alpha = None if (alpha is None or alpha < 0) else to_mp(alpha)
    if m_alpha is not None:
        assert 0 <= alpha <= 1
    x = [to_mp(v) for v in logits]
    y = [to_mp(v) for v in targets]
    m_w = None if weights is None else [to_mp(v) for v in weights]
    g, eps = to_mp(gamma), to_mp(label_smoothing)

    def fn(xx):
        return compute_sigmoid(xx, y, m_alpha, m_w, g, eps, reduction)[0]

    loss, grad, scale, count = compute_sigmoid(x, y, m_alpha, m_w, g, eps, reduction)
    check_scale(name, grad, scale)
    if check:
        check_numeric_grad(name, fn, x, grad, scale)
    opts = {"gamma": float(gamma), "alpha": None if alpha is None else float(alpha), "reduction": reduction,
            "labelSmoothing": float(label_smoothing)}
    if weights is not None:
        opts["weights"] = [float(v) for v in weights]
    case = {"name": name, "kind": "sigmoid", "dtypes": list(dtypes), "logits": [jnum(v) for v in logits],
            "targets": targets, "options": opts, "expected": _expected(loss, grad, scale, count)}
    return _add(case)


def gname(g):
    return ("%g" % g)


def same_expected(c1, c2):
    assert c1["expected"] == c2["expected"], (c1["name"], c2["name"])


def cross_entropy_check(case):
    """gamma = 0, hard targets, no smoothing: loss must be the (weighted) cross-entropy, computed here
    independently as log(sum_c exp(z_c - z_t))."""
    C = case.get("classes")
    assert C is not None
    z = [to_mp(v) for v in (float(x) for x in case["logits"])]
    opts = case["options"]
    alpha = opts.get("alpha")
    ws = opts.get("weights")
    total, cnt, per = mpf(0), 0, []
    for i, t in enumerate(case["targets"]):
        if t == opts["ignoreIndex"]:
            per.append(mpf(0))
            continue
        row = z[i * C:(i + 1) * C]
        rest = mp.fsum(mp.exp(row[c] - row[t]) for c in range(C) if c != t and not mp.isinf(row[c]))
        ce = mp.log1p(rest)
        a = 1 if alpha is None else (alpha[t] if isinstance(alpha, list) else alpha)
        w = 1 if ws is None else ws[i]
        per.append(to_mp(a) * to_mp(w) * ce)
        cnt += 1
    red = opts["reduction"]
    want = per if red == "none" else (add(per) if red == "sum" else (add(per) / cnt if cnt else mpf(0)))
    got = case["expected"]["loss"]
    want = [to_double(v) for v in want] if isinstance(want, list) else to_double(want)
    assert got == want, (case["name"], got, want)


# ----------------------------------------------------------------------------------------------------------
# softmax: adversarial / stability cases
# ----------------------------------------------------------------------------------------------------------

def softmax_near_one():
    # p_t close to 1: (1 - p_t)^gamma with gamma < 1 has an infinite derivative at p_t = 1 (autograd NaN)
    for g in (0.0, 0.25, 0.5, 1.0, 2.0, 5.0):
        softmax_case(f"sm/near1/z=[30,0,0] t=0 gamma={gname(g)}", [30, 0, 0], classes=3, targets=[0], gamma=g,
                     reduction="none", check=True)
        softmax_case(f"sm/near1/z=[70,0,0,0] t=0 gamma={gname(g)}", [70, 0, 0, 0], classes=4, targets=[0],
                     gamma=g, reduction="mean", check=(g in (0.25, 2.0)))
        softmax_case(f"sm/near1/z=[69.1f32,0] t=0 gamma={gname(g)}", [f32(69.1), 0], classes=2, targets=[0],
                     gamma=g, reduction="sum")
        softmax_case(f"sm/near1/z=[69.1,0] t=0 gamma={gname(g)} f64", [69.1, 0], classes=2, targets=[0], gamma=g,
                     reduction="sum", dtypes=F64)
        # p_t within 1e-300 of 1 (gap 700): f64 only (e^-700 is far below float32's range)
        softmax_case(f"sm/near1/z=[700,0] t=0 gamma={gname(g)} f64", [700, 0], classes=2, targets=[0], gamma=g,
                     reduction="none", dtypes=F64)
        softmax_case(f"sm/near1/z=[0,690,-5] t=1 gamma={gname(g)} f64", [0, 690, -5], classes=3, targets=[1],
                     gamma=g, reduction="mean", dtypes=F64)
    # both: the three rows in one batch, with alpha and weights
    softmax_case("sm/near1/batch rows [30,0,0],[0,70,0],[0,0,16] alpha=0.25 weights", [30, 0, 0, 0, 70, 0, 0, 0, 16],
                 classes=3, targets=[0, 1, 2], gamma=0.5, alpha=0.25, weights=[1, 0.5, 2], reduction="none",
                 check=True)
    # loss values near the smallest normal number
    softmax_case("sm/near1/z=[87,0] gamma=0 (loss ~1.6e-38, near f32 min normal)", [87, 0], classes=2, targets=[0],
                 gamma=0.0, reduction="sum")
    softmax_case("sm/near1/z=[708,0] gamma=0 f64 (loss ~3.3e-308, near f64 min normal)", [708, 0], classes=2,
                 targets=[0], gamma=0.0, reduction="sum", dtypes=F64)
    softmax_case("sm/near1/z=[17,0] gamma=2 (loss ~7.1e-23)", [17, 0], classes=2, targets=[0], gamma=2.0,
                 reduction="sum", check=True)


def softmax_wrong():
    # the target is a low-probability class: large loss
    for g in (0.0, 0.5, 2.0, 5.0):
        softmax_case(f"sm/wrong/z=[0,50] t=0 gamma={gname(g)}", [0, 50], classes=2, targets=[0], gamma=g,
                     reduction="sum", check=(g == 0.5))
        softmax_case(f"sm/wrong/z=[0,700] t=0 gamma={gname(g)} f64", [0, 700], classes=2, targets=[0], gamma=g,
                     reduction="sum", dtypes=F64)
        softmax_case(f"sm/wrong/z=[-20,20,20,0] t=0 gamma={gname(g)}", [-20, 20, 20, 0], classes=4, targets=[0],
                     gamma=g, reduction="mean", check=True)
        softmax_case(f"sm/wrong/z=[0,88,100] t=0 gamma={gname(g)}", [0, 88, 100], classes=3, targets=[0], gamma=g,
                     reduction="none")


def softmax_huge():
    for g in (0.0, 0.5, 2.0):
        for t in range(3):
            softmax_case(f"sm/huge/z=[1e4,-1e4,0] t={t} gamma={gname(g)}", [1e4, -1e4, 0], classes=3, targets=[t],
                         gamma=g, reduction="none")
        softmax_case(f"sm/huge/z=[1e4,1e4] t=0 gamma={gname(g)}", [1e4, 1e4], classes=2, targets=[0], gamma=g,
                     reduction="mean")
        softmax_case(f"sm/huge/z=[-1e4,-1e4,-1e4,-1e4] t=3 gamma={gname(g)}", [-1e4] * 4, classes=4, targets=[3],
                     gamma=g, reduction="mean")
        softmax_case(f"sm/huge/z=[1e4,9999,0] t=1 gamma={gname(g)}", [1e4, 9999, 0], classes=3, targets=[1],
                     gamma=g, reduction="sum")
        softmax_case(f"sm/huge/z=[1e4,1e4-2^-10,-1e4] t=0 gamma={gname(g)}", [1e4, 1e4 - 2.0 ** -10, -1e4], classes=3,
                     targets=[0], gamma=g, reduction="sum")
        softmax_case(f"sm/huge/z=[1e300,-1e300,0] t=0,1 gamma={gname(g)} f64", [1e300, -1e300, 0, 1e300, -1e300, 0],
                     classes=3, targets=[0, 1], gamma=g, reduction="none", dtypes=F64)
        softmax_case(f"sm/huge/z=[3e38,-3e38] t=0,1 gamma={gname(g)}", [f32(3e38), f32(-3e38)] * 2, classes=2,
                     targets=[0, 1], gamma=g, reduction="none")
    # ties
    softmax_case("sm/ties/z=[5,5,5] t=1", [5, 5, 5], classes=3, targets=[1], gamma=2.0, reduction="sum", check=True)
    softmax_case("sm/ties/z=[7,7,-1] t=0,1,2 gamma=0.5", [7, 7, -1] * 3, classes=3, targets=[0, 1, 2], gamma=0.5,
                 reduction="none", check=True)
    softmax_case("sm/ties/z=0 (C=5) all targets gamma=1.5", [0] * 25, classes=5, targets=[0, 1, 2, 3, 4], gamma=1.5,
                 reduction="mean")


def softmax_masked():
    row = [2, -INF, 0, -INF]
    for g in (0.0, 0.5, 2.0):
        for red in ("mean", "sum", "none"):
            softmax_case(f"sm/masked/z=[2,-inf,0,-inf] t=0,2 gamma={gname(g)} {red}", row + row, classes=4,
                         targets=[0, 2], gamma=g, reduction=red, check=(red == "sum"))
        # masked target class: loss inf, finite gradient (its own case, so inf does not swamp other items)
        for red in ("none", "sum"):
            softmax_case(f"sm/masked-target/z=[0,-inf,1] t=1 gamma={gname(g)} {red}", [0, -INF, 1], classes=3,
                         targets=[1], gamma=g, reduction=red)
        softmax_case(f"sm/masked-target/mixed batch gamma={gname(g)} none", [0, -INF, 1, 3, 1, -2], classes=3,
                     targets=[1, 0], gamma=g, alpha=[0.5, 0.25, 1.0], weights=[2, 0.5], reduction="none")
        # only one unmasked class: p = 1 exactly, loss 0, gradient 0
        softmax_case(f"sm/masked/z=[-inf,3,-inf] t=1 gamma={gname(g)}", [-INF, 3, -INF], classes=3, targets=[1],
                     gamma=g, reduction="sum")
    softmax_case("sm/masked/huge: z=[1e4,-inf,-1e4] t=0,2", [1e4, -INF, -1e4, 1e4, -INF, -1e4], classes=3,
                 targets=[0, 2], gamma=2.0, reduction="none")
    softmax_case("sm/masked/alpha per class and weights", [1, -INF, 0.5, -INF, -INF, 4, 2, 1],
                 classes=4, targets=[0, 3], gamma=1.0, alpha=[0.25, 0.5, 0.75, 1.0], weights=[0.5, 3],
                 reduction="mean", check=True)
    # masked class with label smoothing: q_c = eps/C > 0 on a class of probability 0 -> loss inf
    softmax_case("sm/masked/label smoothing puts mass on a masked class (loss inf)", [2, -INF, 0], classes=3,
                 targets=[0], gamma=2.0, label_smoothing=0.125, reduction="none")
    # soft targets with zeros on the masked classes: finite
    softmax_case("sm/masked/soft targets zero on masked classes", [2, -INF, 0, -INF, 1, 5, -INF, -INF],
                 classes=4, probs=[0.75, 0, 0.25, 0, 0.5, 0.5, 0, 0], gamma=2.0, reduction="sum", check=True)
    softmax_case("sm/masked/soft targets zero on masked classes gamma=0.5 none", [2, -INF, 0, -INF, 1, 5, -INF, -INF],
                 classes=4, probs=[0.5, 0, 0.5, 0, 1, 0, 0, 0], gamma=0.5, reduction="none")
    softmax_case("sm/masked/soft target mass on a masked class (loss inf)", [2, -INF, 0], classes=3,
                 probs=[0.5, 0.25, 0.25], gamma=1.0, reduction="none")


def softmax_class_counts():
    for g in (0.0, 0.5, 2.0):
        softmax_case(f"sm/C=1/rows gamma={gname(g)}", [3, -2, 0, 1e4], classes=1, targets=[0, 0, 0, 0], gamma=g,
                     reduction="mean")
        softmax_case(f"sm/C=1/shape [2,1,3] gamma={gname(g)} none", [3, -2, 0, 1, 2, -1e4], shape=[2, 1, 3],
                     targets=[0] * 6, gamma=g, reduction="none")
    softmax_case("sm/C=1/label smoothing 0.25", [1.5, -7], classes=1, targets=[0, 0], gamma=2.0,
                 label_smoothing=0.25, reduction="sum")
    softmax_case("sm/C=1/soft target 1", [1.5, -7], classes=1, probs=[1, 1], gamma=2.0, reduction="sum")
    softmax_case("sm/C=1/ignored and alpha", [1.5, -7, 2], classes=1, targets=[0, -100, 0], alpha=0.25, gamma=0.5,
                 reduction="mean")
    # C = 2
    for g in GAMMAS:
        softmax_case(f"sm/C=2/rows gamma={gname(g)}", [0, 0, 1, -1, -3, 2.5, 10, 12, -0.5, 0.25],
                     classes=2, targets=[0, 1, 0, 1, 1], gamma=g, reduction="none", check=(g in (1.5, 3.0)))
    # C = 1000
    rng = random.Random(1000)
    z = [f32(rng.uniform(-10, 10)) for _ in range(2000)]
    z[1000 + 17] = 40.0
    softmax_case("sm/C=1000/2 rows gamma=2 mean", z, classes=1000, targets=[rng.randrange(1000), 17], gamma=2.0,
                 reduction="mean")
    softmax_case("sm/C=1000/2 rows label smoothing 0.0625 alpha per class none", z, classes=1000,
                 targets=[3, 17], gamma=0.5, label_smoothing=0.0625,
                 alpha=[f32(0.25 + 0.5 * rng.random()) for _ in range(1000)], reduction="none")
    z64 = [rng.uniform(-300, 300) for _ in range(1000)]
    softmax_case("sm/C=1000/1 row wide f64 t=argmax", z64, classes=1000, targets=[max(range(1000), key=z64.__getitem__)],
                 gamma=1.0, reduction="sum", dtypes=F64)


def softmax_gamma0_is_ce():
    rng = random.Random(7)
    for i in range(4):
        C = rng.randint(2, 9)
        M = rng.randint(1, 6)
        z = [f32(rng.uniform(-15, 15)) for _ in range(M * C)]
        t = [rng.randrange(C) for _ in range(M)]
        alpha = [None, 0.25, [f32(rng.uniform(0.1, 1)) for _ in range(C)], None][i]
        weights = [None, None, [f32(rng.uniform(0, 3)) for _ in range(M)], [1.0] * M][i]
        red = ["mean", "sum", "none", "mean"][i]
        c = softmax_case(f"sm/gamma0-is-CE/{i}", z, classes=C, targets=t, gamma=0.0, alpha=alpha, weights=weights,
                         reduction=red, check=True)
        cross_entropy_check(c)
    for c in CASES:
        if (c["kind"] == "softmax" and c["options"]["gamma"] == 0 and "targets" in c and "classes" in c
                and c["options"]["labelSmoothing"] == 0 and c["expected"]["count"] > 0
                and not any(isinstance(v, str) for v in c["logits"])):
            cross_entropy_check(c)


def softmax_tiny():
    mn = F64_MIN_NORMAL
    for t in range(3):
        softmax_case(f"sm/tiny/z=[minnormal,0,-minnormal] t={t} f64", [mn, 0, -mn], classes=3, targets=[t],
                     gamma=2.0, reduction="sum", dtypes=F64)
    softmax_case("sm/tiny/z=[min subnormal,-min subnormal,0] f64 gamma=0.5", [5e-324, -5e-324, 0, 0, 5e-324, -mn],
                 classes=3, targets=[0, 2], gamma=0.5, reduction="none", dtypes=F64)
    fm = F32_MIN_NORMAL
    for t in range(3):
        softmax_case(f"sm/tiny/z=[f32 minnormal,0,-f32 minnormal] t={t}", [fm, 0, -fm], classes=3, targets=[t],
                     gamma=2.0, reduction="sum")
    softmax_case("sm/tiny/z=[f32 min subnormal, ...] f32", [f32(1.401298464324817e-45), 0, -fm], classes=3,
                 targets=[1], gamma=1.0, reduction="sum", dtypes=F32)
    # small weights and alpha; every result stays above the smallest normal of the type
    w64 = 2.0 ** -1016
    softmax_case("sm/tiny/weights 2^-1016 f64", [0, 0, 0, 1, 2, 3], classes=3, targets=[0, 2], gamma=2.0,
                 weights=[w64, 2.0 ** -1000], reduction="none", dtypes=F64)
    softmax_case("sm/tiny/alpha 2^-1000 f64", [0, 0, 0, 1, 2, 3], classes=3, targets=[0, 2], gamma=1.0,
                 alpha=2.0 ** -1000, reduction="sum", dtypes=F64)
    softmax_case("sm/tiny/weights 2^-120", [0, 0, 0, 1, 2, 3], classes=3, targets=[0, 2], gamma=2.0,
                 weights=[2.0 ** -120, 2.0 ** -100], reduction="none")
    softmax_case("sm/tiny/alpha 2^-100 per class", [0, 0, 0, 1, 2, 3], classes=3, targets=[0, 2], gamma=0.5,
                 alpha=[2.0 ** -100, 1.0, 2.0 ** -90], reduction="mean")
    softmax_case("sm/tiny/logits ~1e-30 apart", [f32(1e-30), 0.0, f32(3e-31), -f32(2e-30)], classes=4, targets=[2],
                 gamma=2.0, reduction="sum")


def softmax_ignore():
    z = [1, 2, 0.5, -1, 0, 3, 2, 2, 2, 0.25, -0.75, 4]
    softmax_case("sm/ignore/default -100", z, classes=3, targets=[0, -100, 2, 1], gamma=2.0, reduction="mean",
                 check=True)
    softmax_case("sm/ignore/default -100 sum", z, classes=3, targets=[-100, -100, 2, 1], gamma=2.0, reduction="sum")
    softmax_case("sm/ignore/default -100 none", z, classes=3, targets=[0, -100, 2, -100], gamma=2.0,
                 reduction="none")
    softmax_case("sm/ignore/255 segmentation", z, classes=3, targets=[255, 1, 255, 0], ignore_index=255, gamma=2.0,
                 reduction="mean")
    softmax_case("sm/ignore/-1", z, classes=3, targets=[-1, 1, 2, 0], ignore_index=-1, gamma=1.0, alpha=0.25,
                 reduction="mean")
    softmax_case("sm/ignore/ignoreIndex 0 with class 0 present is ignored", z, classes=3, targets=[0, 1, 0, 2],
                 ignore_index=0, gamma=2.0, reduction="mean")
    softmax_case("sm/ignore/255 with weights (incl. 0)", z, classes=3, targets=[2, 255, 1, 0],
                 ignore_index=255, weights=[0.5, 4, 1.5, 0], gamma=0.5, reduction="mean")
    for red in ("mean", "sum", "none"):
        softmax_case(f"sm/ignore/all ignored {red}", z, classes=3, targets=[-100] * 4, gamma=2.0, reduction=red)
    softmax_case("sm/ignore/all ignored 255 mean with weights", z, classes=3, targets=[255] * 4, ignore_index=255,
                 weights=[1, 2, 3, 4], gamma=2.0, reduction="mean")
    softmax_case("sm/ignore/ignored item with huge logits", [1e4, -1e4, 0, 1, 2, 3], classes=3, targets=[-100, 1],
                 gamma=0.5, reduction="mean")


def softmax_label0():
    z = [3, 1, -1, 0.5, 0.5, 0, -2, 4, 1, 0, 0, 0]
    for red in ("mean", "sum", "none"):
        softmax_case(f"sm/label0/all targets 0 {red}", z, classes=3, targets=[0, 0, 0, 0], gamma=2.0, reduction=red)
    softmax_case("sm/label0/all targets 0 shape [2,3,2]", z, shape=[2, 3, 2], targets=[0, 0, 0, 0], gamma=2.0,
                 alpha=[0.25, 0.75, 0.75], reduction="mean")


def softmax_options():
    z = [1.5, -0.5, 0.25, 2, 0, -3, 4, 4, 1, -1, 0.75, 0.125, 8, -8, 0, 2]
    t = [2, 0, 1, 3]
    C = 4
    for g in (0.0, 0.5, 2.0):
        for red in ("mean", "sum", "none"):
            softmax_case(f"sm/alpha scalar 0.25 gamma={gname(g)} {red}", z, classes=C, targets=t, gamma=g, alpha=0.25,
                         reduction=red)
            softmax_case(f"sm/alpha per class gamma={gname(g)} {red}", z, classes=C, targets=t, gamma=g,
                         alpha=[0.25, 0.5, 0.75, 1.0], reduction=red, check=(red == "none"))
            softmax_case(f"sm/weights gamma={gname(g)} {red}", z, classes=C, targets=t, gamma=g,
                         weights=[0.5, 0, 2, 1.25], reduction=red)
    softmax_case("sm/alpha 0 on target class (loss 0)", z, classes=C, targets=t, gamma=2.0,
                 alpha=[0.0, 0.5, 0.0, 0.0], reduction="sum")
    softmax_case("sm/alpha scalar 3 and weights 1000, 2^-10", z, classes=C, targets=t, gamma=1.0, alpha=3.0,
                 weights=[1000, 0.0009765625, 7, 1], reduction="mean")
    # label smoothing with hard targets
    for eps in (0.0625, 0.125, 0.25, f32(0.1)):
        for g in (0.0, 0.5, 2.0):
            softmax_case(f"sm/label smoothing {eps!r} gamma={gname(g)}", z, classes=C, targets=t, gamma=g,
                         label_smoothing=eps, reduction="mean", check=(g == 0.5 and eps == 0.125))
    softmax_case("sm/label smoothing 0.1 f64", z, classes=C, targets=t, gamma=2.0, label_smoothing=0.1,
                 reduction="none", dtypes=F64)
    softmax_case("sm/label smoothing 0.125 + alpha + weights + ignore", z, classes=C, targets=[2, -100, 1, 3],
                 gamma=1.5, label_smoothing=0.125, alpha=[0.25, 0.5, 0.75, 1.0], weights=[2, 1, 0.5, 0.25],
                 reduction="mean", check=True)
    softmax_case("sm/label smoothing 0.25 near-one row", [30, 0, 0, 70, 0, 0, 0, 0], classes=4, targets=[0, 0],
                 gamma=0.5, label_smoothing=0.25, reduction="none")
    # soft targets
    probs = [0.25, 0.25, 0.5, 0, 1, 0, 0, 0, 0.125, 0.375, 0.0625, 0.4375, 0, 0, 0.5, 0.5]
    for g in (0.0, 0.5, 2.0):
        for red in ("mean", "sum", "none"):
            softmax_case(f"sm/soft gamma={gname(g)} {red}", z, classes=C, probs=probs, gamma=g, reduction=red,
                         check=(red == "mean"))
    softmax_case("sm/soft + alpha + weights + smoothing", z, classes=C, probs=probs, gamma=2.0,
                 alpha=[0.25, 0.5, 0.75, 1.0], weights=[1, 2, 0.5, 0], label_smoothing=0.0625, reduction="none",
                 check=True)
    softmax_case("sm/soft near-one rows", [30, 0, 0, 70, 0, 0, -1e4, 1e4, 1e4], classes=3,
                 probs=[0.75, 0.125, 0.125, 1, 0, 0, 0, 0.5, 0.5], gamma=0.5, reduction="sum")
    # one-hot soft targets must equal hard targets
    onehot = [1.0 if c == t[i] else 0.0 for i in range(4) for c in range(C)]
    for g in (0.0, 0.5, 2.0):
        for red in ("mean", "none"):
            h = softmax_case(f"sm/onehot-equals-hard/hard gamma={gname(g)} {red}", z, classes=C, targets=t, gamma=g,
                             alpha=[0.25, 0.5, 0.75, 1.0], weights=[1, 2, 0.5, 3], reduction=red)
            s = softmax_case(f"sm/onehot-equals-hard/soft gamma={gname(g)} {red}", z, classes=C, probs=onehot,
                             gamma=g, alpha=[0.25, 0.5, 0.75, 1.0], weights=[1, 2, 0.5, 3], reduction=red)
            same_expected(h, s)
    h = softmax_case("sm/onehot-equals-hard/hard smoothing 0.125", z, classes=C, targets=t, gamma=2.0,
                     label_smoothing=0.125, reduction="sum")
    s = softmax_case("sm/onehot-equals-hard/soft smoothing 0.125", z, classes=C, probs=onehot, gamma=2.0,
                     label_smoothing=0.125, reduction="sum")
    same_expected(h, s)
    # classes given as shape [N, C] (no spatial dims) equals classes
    h = softmax_case("sm/shape [4,4] equals classes 4 (classes)", z, classes=C, targets=t, gamma=2.0,
                     reduction="none")
    s = softmax_case("sm/shape [4,4] equals classes 4 (shape)", z, shape=[4, 4], targets=t, gamma=2.0,
                     reduction="none")
    same_expected(h, s)


def softmax_shapes():
    rng = random.Random(42)
    for shape in ([2, 3, 4], [1, 4, 2, 3], [3, 2, 5]):
        N, C, S = shape[0], shape[1], math.prod(shape[2:])
        z = [f32(rng.uniform(-6, 6)) for _ in range(N * C * S)]
        tg = [rng.randrange(C) for _ in range(N * S)]
        tg_ign = [(-100 if rng.random() < 0.25 else v) for v in tg]
        tg_255 = [(255 if rng.random() < 0.3 else v) for v in tg]
        w = [f32(rng.uniform(0, 2)) for _ in range(N * S)]
        probs = [0.0] * (N * C * S)
        for n in range(N):
            for s in range(S):
                parts = dyadic_partition(rng, C, 256)
                for c in range(C):
                    probs[n * C * S + c * S + s] = parts[c]
        sh = "x".join(map(str, shape))
        for red in ("mean", "sum", "none"):
            softmax_case(f"sm/shape {sh}/hard {red}", z, shape=shape, targets=tg, gamma=2.0, reduction=red,
                         check=(red == "mean" and shape[0] == 2))
            softmax_case(f"sm/shape {sh}/hard ignore -100 weights {red}", z, shape=shape, targets=tg_ign, gamma=0.5,
                         weights=w, reduction=red)
            softmax_case(f"sm/shape {sh}/hard ignore 255 alpha smoothing {red}", z, shape=shape, targets=tg_255,
                         ignore_index=255, gamma=1.0, alpha=[f32(0.25 + 0.5 * c / C) for c in range(C)],
                         label_smoothing=0.125, reduction=red)
            softmax_case(f"sm/shape {sh}/soft {red}", z, shape=shape, probs=probs, gamma=2.0, weights=w,
                         reduction=red, check=(red == "none" and shape[0] == 3))
    # big batches
    z = [f32(rng.uniform(-8, 8)) for _ in range(300 * 5)]
    softmax_case("sm/batch/300x5 mean ignore alpha", z, classes=5,
                 targets=[(-100 if rng.random() < 0.1 else rng.randrange(5)) for _ in range(300)], gamma=2.0,
                 alpha=[0.25, 0.5, 0.75, 1.0, 0.125], reduction="mean")
    shape = [2, 4, 16, 16]
    z = [f32(rng.uniform(-10, 10)) for _ in range(math.prod(shape))]
    softmax_case("sm/batch/shape 2x4x16x16 sum ignore 255 weights", z, shape=shape,
                 targets=[(255 if rng.random() < 0.2 else rng.randrange(4)) for _ in range(512)], ignore_index=255,
                 weights=[f32(rng.uniform(0, 1)) for _ in range(512)], gamma=2.0, reduction="sum")
    z = [f32(rng.uniform(-5, 5)) for _ in range(256 * 3)]
    probs = []
    for _ in range(256):
        probs += dyadic_partition(rng, 3, 1024)
    softmax_case("sm/batch/256x3 soft none smoothing", z, classes=3, probs=probs, gamma=1.0, label_smoothing=0.0625,
                 reduction="none")


def softmax_empty():
    for red in ("mean", "sum", "none"):
        softmax_case(f"sm/empty/classes 3 {red}", [], classes=3, targets=[], gamma=2.0, reduction=red)
    softmax_case("sm/empty/soft classes 4 mean", [], classes=4, probs=[], gamma=2.0, reduction="mean")
    softmax_case("sm/empty/shape [0,3,2] mean", [], shape=[0, 3, 2], targets=[], gamma=2.0, reduction="mean")
    softmax_case("sm/empty/shape [2,3,0] none", [], shape=[2, 3, 0], targets=[], gamma=2.0, reduction="none")


def softmax_nonfinite():
    # NaN / +inf logits: that item's loss is NaN (CONTRACT.md); its gradient entries are NaN; other items are unaffected
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        for red in ("none", "sum", "mean"):
            softmax_case(f"sm/nonfinite/{tag} logit in row 1 {red}", [1, 2, 0, 0, bad, 1, 3, -1, 0.5], classes=3,
                         targets=[0, 2, 1], gamma=2.0, reduction=red)


def dyadic_partition(rng, C, K):
    """C non-negative multiples of 1/K (K a power of two) summing exactly to 1; some zeros."""
    cuts = sorted(rng.randint(0, K) for _ in range(C - 1))
    parts = [b - a for a, b in zip([0] + cuts, cuts + [K])]
    return [v / K for v in parts]


# ----------------------------------------------------------------------------------------------------------
# sigmoid cases
# ----------------------------------------------------------------------------------------------------------

SIG_X = [0.0, 1.0, -1.0, 10.0, -10.0, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4]
SIG_Y = [0.0, 1.0, 0.5, 0.25]


def sigmoid_grid():
    xs = [x for x in SIG_X for _ in SIG_Y]
    ys = [y for _ in SIG_X for y in SIG_Y]
    for g in (0.0, 0.25, 0.5, 1.0, 2.0, 5.0):
        for a in (0.25, 0.5, 1.0, 0.0, None):
            sigmoid_case(f"sig/grid gamma={gname(g)} alpha={a}", xs, ys, gamma=g, alpha=a, reduction="none")
        sigmoid_case(f"sig/x=+-700 gamma={gname(g)} f64", [700, -700, 700, -700, 700, -700],
                     [1, 1, 0, 0, 0.5, 0.25], gamma=g, alpha=0.25, reduction="none", dtypes=F64)
    small = [0.0, 1.0, -1.0, 2.5, -3.0, 0.125]
    ys2 = [1.0, 0.0, 0.5, 0.25, 1.0, 0.75]
    for g in (0.0, 0.25, 0.5, 1.0, 2.0, 5.0):
        sigmoid_case(f"sig/numeric-check gamma={gname(g)}", small, ys2, gamma=g, alpha=0.25, reduction="sum",
                     check=True)
    sigmoid_case("sig/numeric-check smoothing weights alpha off", small, ys2, gamma=1.5, alpha=None,
                 label_smoothing=0.125, weights=[1, 0.5, 2, 0, 3, 0.25], reduction="mean", check=True)
    # reductions, smoothing, weights on the grid
    for red in ("mean", "sum"):
        for g in (0.0, 2.0):
            sigmoid_case(f"sig/grid {red} gamma={gname(g)} alpha=0.25", xs, ys, gamma=g, alpha=0.25, reduction=red)
    w = [((i * 7) % 11) / 4 for i in range(len(xs))]
    for eps in (0.125, f32(0.1), 0.0625):
        for red in ("none", "mean"):
            sigmoid_case(f"sig/grid smoothing {eps!r} weights {red}", xs, ys, gamma=2.0, alpha=0.25,
                         label_smoothing=eps, weights=w, reduction=red)
    sigmoid_case("sig/smoothing 0.1 f64", xs, ys, gamma=2.0, alpha=0.25, label_smoothing=0.1, reduction="none",
                 dtypes=F64)


def sigmoid_confident():
    # confident and right: the loss is tiny but not 0 (1 - exp(-CE) gives 0)
    for g in (0.0, 0.25, 0.5, 1.0, 2.0, 5.0):
        sigmoid_case(f"sig/confident-right x=30 y=1 gamma={gname(g)}", [30.0], [1.0], gamma=g, alpha=0.25,
                     reduction="sum")
        sigmoid_case(f"sig/confident-right x=-30 y=0 gamma={gname(g)}", [-30.0], [0.0], gamma=g, alpha=0.25,
                     reduction="sum")
        sigmoid_case(f"sig/confident-right x=10,17,-17 gamma={gname(g)}", [10.0, 17.0, -17.0], [1.0, 1.0, 0.0],
                     gamma=g, alpha=None, reduction="none")
        sigmoid_case(f"sig/confident-wrong x=30 y=0 gamma={gname(g)}", [30.0, -30.0, 1e4, -1e4], [0, 1, 0, 1],
                     gamma=g, alpha=0.25, reduction="none")
    sigmoid_case("sig/confident-right x=700 y=1 gamma=0 f64", [700.0, -700.0], [1.0, 0.0], gamma=0.0, alpha=0.25,
                 reduction="none", dtypes=F64)
    sigmoid_case("sig/confident-right x=708 y=1 gamma=0 f64 (loss near f64 min normal)", [708.0], [1.0], gamma=0.0,
                 alpha=None, reduction="sum", dtypes=F64)
    sigmoid_case("sig/confident-right x=87 y=1 gamma=0 (loss near f32 min normal)", [87.0], [1.0], gamma=0.0,
                 alpha=None, reduction="sum")
    sigmoid_case("sig/tiny logits", [F64_MIN_NORMAL, -F64_MIN_NORMAL, 5e-324, 0.0], [1, 0, 0.5, 1], gamma=0.5,
                 alpha=0.25, reduction="none", dtypes=F64)
    sigmoid_case("sig/tiny logits f32", [F32_MIN_NORMAL, -F32_MIN_NORMAL, 0.0], [1, 0, 0.5], gamma=0.5, alpha=0.25,
                 reduction="none")
    sigmoid_case("sig/tiny weights f64", [1.0, -2.0, 0.5], [1, 0, 0.25], gamma=2.0, alpha=0.25,
                 weights=[2.0 ** -1010, 2.0 ** -1000, 2.0 ** -1012], reduction="none", dtypes=F64)
    sigmoid_case("sig/tiny weights f32", [1.0, -2.0, 0.5], [1, 0, 0.25], gamma=2.0, alpha=0.25,
                 weights=[2.0 ** -110, 2.0 ** -100, 2.0 ** -112], reduction="none")
    sigmoid_case("sig/huge logits 3e38 f32", [f32(3e38), f32(-3e38), f32(3e38), f32(-3e38)], [1, 0, 0, 1], gamma=2.0,
                 alpha=0.25, reduction="none")
    sigmoid_case("sig/huge logits 1e300 f64", [1e300, -1e300, 1e300, -1e300], [1, 0, 0, 1], gamma=0.5, alpha=0.25,
                 reduction="none", dtypes=F64)


def sigmoid_misc():
    rng = random.Random(5)
    x = [f32(rng.uniform(-12, 12)) for _ in range(24)]
    y = [f32(rng.random()) for _ in range(24)]
    for red in ("mean", "sum", "none"):
        for a in (0.25, None):
            sigmoid_case(f"sig/soft targets {red} alpha={a}", x, y, gamma=2.0, alpha=a, reduction=red,
                         check=(red == "sum"))
    sigmoid_case("sig/alpha -1 (torchvision: off) equals null", x, y, gamma=2.0, alpha=-1.0, reduction="sum")
    sigmoid_case("sig/alpha 0.75 weights smoothing 0.25", x, y, gamma=1.0, alpha=0.75, label_smoothing=0.25,
                 weights=[f32(rng.uniform(0, 3)) for _ in range(24)], reduction="mean", check=True)
    sigmoid_case("sig/hard 0/1 multi-label", x, [float(v > 0.5) for v in y], gamma=2.0, alpha=0.25, reduction="mean")
    for red in ("mean", "sum", "none"):
        sigmoid_case(f"sig/empty {red}", [], [], gamma=2.0, alpha=0.25, reduction=red)
    for red in ("none", "sum"):
        sigmoid_case(f"sig/nonfinite nan logit {red}", [1.0, NAN, -2.0], [1, 0, 0], gamma=2.0, alpha=0.25,
                     reduction=red)
        sigmoid_case(f"sig/nonfinite +inf logit {red}", [1.0, INF, -2.0], [1, 1, 0], gamma=2.0, alpha=0.25,
                     reduction=red)
    for g in (0.0, 0.5, 2.0):
        sigmoid_case(f"sig/-inf logit with y=0 (p=0: loss 0, grad 0) gamma={gname(g)}", [-INF, 1.0], [0, 1],
                     gamma=g, alpha=0.25, reduction="none")


# ----------------------------------------------------------------------------------------------------------
# random batches over the option space
# ----------------------------------------------------------------------------------------------------------

def loguniform_int(rng, lo, hi):
    return min(hi, max(lo, int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


def random_softmax(rng, i, f64_only):
    rnd = (lambda v: v) if f64_only else f32
    C = loguniform_int(rng, 1, 40)
    if rng.random() < 0.7:
        M = loguniform_int(rng, 1, 64)
        classes, shape, N, S = C, None, M, 1
    else:
        N = rng.randint(1, 3)
        dims = [rng.randint(1, 4) for _ in range(rng.randint(1, 2))]
        classes, shape, S = None, [N, C] + dims, math.prod(dims)
        M = N * S
    soft = rng.random() < 0.25
    gamma = rng.choice(GAMMAS)
    r = rng.random()
    alpha = None if r < 0.4 else (rnd(rng.uniform(0.05, 1)) if r < 0.7 else [rnd(rng.uniform(0.05, 1)) for _ in range(C)])
    reduction = rng.choice(("mean", "sum", "none"))
    ignore_index = rng.choice((-100, -100, 255, -1))
    eps = rng.choice((0.0, 0.0, 0.0, 0.0625, 0.125, 0.25, f32(0.1)) if not f64_only else (0.0, 0.0, 0.1, 0.3))
    weights = None
    if rng.random() < 0.4:
        weights = [0.0 if rng.random() < 0.1 else rnd(rng.uniform(0, 2)) for _ in range(M)]
    span = 20 if not f64_only else rng.choice((20, 100, 700))
    logits = [0.0] * (M * C)
    targets = [] if not soft else None
    probs = [0.0] * (M * C) if soft else None
    for n in range(N):
        for s in range(S):
            item = n * S + s
            scale = 5 if rng.random() < 0.15 else 1
            row = [rnd(rng.uniform(-span, span) * scale) for _ in range(C)]
            t = rng.randrange(C)
            masked = set()
            if C > 1 and rng.random() < 0.1 and eps == 0:
                masked = {c for c in range(C) if c != t and rng.random() < 0.3}
            for c in masked:
                row[c] = -INF
            if soft:
                free = [c for c in range(C) if c not in masked]
                parts = dyadic_partition(rng, len(free), 65536)
                for c, v in zip(free, parts):
                    probs[n * C * S + c * S + s] = v
            else:
                targets.append(ignore_index if rng.random() < 0.1 else t)
            for c in range(C):
                logits[n * C * S + c * S + s] = row[c]
    # no 0 * inf: masked classes only carry q = 0 (asserted by construction above)
    small = len(logits) <= 24
    return softmax_case(f"sm/random/{i}{' f64' if f64_only else ''}", logits, classes=classes, shape=shape,
                        targets=targets, probs=probs, gamma=gamma, alpha=alpha, reduction=reduction,
                        ignore_index=ignore_index, label_smoothing=eps, weights=weights,
                        dtypes=F64 if f64_only else BOTH, check=small and i % 3 == 0)


def random_sigmoid(rng, i, f64_only):
    rnd = (lambda v: v) if f64_only else f32
    n = loguniform_int(rng, 1, 200)
    span = 20 if not f64_only else rng.choice((20, 100, 700))
    x = [rnd(rng.uniform(-span, span) * (5 if rng.random() < 0.15 else 1)) for _ in range(n)]
    kind = rng.random()
    if kind < 0.5:
        y = [float(rng.random() < 0.3) for _ in range(n)]
    elif kind < 0.8:
        y = [rnd(rng.random()) for _ in range(n)]
    else:
        y = [rng.choice((0.0, 1.0, 0.5, rnd(rng.random()))) for _ in range(n)]
    gamma = rng.choice(GAMMAS)
    alpha = rng.choice((0.25, 0.25, 0.5, 0.75, 1.0, 0.0, None, None, rnd(rng.random())))
    reduction = rng.choice(("mean", "sum", "none"))
    eps = rng.choice((0.0, 0.0, 0.0, 0.0625, 0.125, 0.25, f32(0.1)) if not f64_only else (0.0, 0.0, 0.1))
    weights = None
    if rng.random() < 0.4:
        weights = [0.0 if rng.random() < 0.1 else rnd(rng.uniform(0, 2)) for _ in range(n)]
    return sigmoid_case(f"sig/random/{i}{' f64' if f64_only else ''}", x, y, gamma=gamma, alpha=alpha,
                        reduction=reduction, label_smoothing=eps, weights=weights,
                        dtypes=F64 if f64_only else BOTH, check=(n <= 24 and i % 3 == 0))


def random_cases():
    rng = random.Random(20240601)
    for i in range(110):
        random_softmax(rng, i, f64_only=False)
    for i in range(25):
        random_softmax(rng, i, f64_only=True)
    for i in range(50):
        random_sigmoid(rng, i, f64_only=False)
    for i in range(15):
        random_sigmoid(rng, i, f64_only=True)


# ==========================================================================================================
# LATER API (the PLANNED list; once CONTRACT.md § Planned): class-index sigmoid targets, posWeight, polyEpsilon, normalizer,
# positives, qualityFocalLoss, varifocalLoss, asymmetricLoss.  See the module docstring for the JSON shape.
# Everything below is new; nothing above this line depends on it, so the "cases" array is unchanged.
# ==========================================================================================================

PLANNED = []
U_DT = {"f64": mpf(2) ** -53, "f32": mpf(2) ** -24}          # unit roundoff of each dtype
RTOL_DT = {"f64": mpf(10) ** -10, "f32": 3 * mpf(10) ** -5}  # the consumers' rtol (CONTRACT.md § Accuracy)
TINY_DT = {"f64": to_mp(F64_MIN_NORMAL), "f32": to_mp(F32_MIN_NORMAL)}
PERT_ULPS = 8                                                 # perturbation of a cancelling quantity: 8 u x mass
PSTATS = {"perturbation_checks": 0, "identities": 0}
F32_CLIP = f32(0.05)                                          # asymmetricLoss's default clip in float32
ASL_DEFAULT_CLIP = {"f64": 0.05, "f32": F32_CLIP}


def _nan4():
    return mp.nan, mp.nan, mp.nan, mp.nan


def _zero4():
    return mpf(0), mpf(0), mpf(0), mpf(0)


def sig_parts(x):
    """p = sigma(x), 1 - p = sigma(-x), softplus(-x) = -log p, softplus(x) = -log(1 - p); all without cancellation."""
    return 1 / (1 + mp.exp(-x)), 1 / (1 + mp.exp(x)), softplus(-x), softplus(x)


def sig_minus_y(x, y, a_, b_):
    """sigma(x) - y = a_ - b_ with a_ = (1-y) sigma(x), b_ = y sigma(-x).  For y = 1/2 it is tanh(x/2)/2: at 60 digits
    a_ - b_ would be 0 for |x| < ~1e-60 (e.g. x = 2^-1022); for any other exact binary y the difference of the
    two terms keeps far more than double precision."""
    if y == mpf(0.5):
        return mp.tanh(x / 2) / 2
    return a_ - b_


def powr(v, e):
    """v^e for v >= 0, e >= 0, with v^0 = 1 (also 0^0: a factor with exponent 0 is exactly 1)."""
    if e == 0:
        return mpf(1)
    if v == 0:
        return mpf(0)
    return v ** e


# ----------------------------------------------------------------------------------------------------------
# element and item kernels of the planned losses: each returns ((loss, grad, loss_scale, grad_scale), perts)
# for one element (unweighted); perts lists the cancelling intermediate quantities as (key, mass, value):
# `mass` is the size of the terms that cancel in it (a kernel gets it with an absolute error of a few
# u * mass); `pert` = {key: delta} re-evaluates with that quantity moved by delta (the feasibility check).
# ----------------------------------------------------------------------------------------------------------

def sigmoid2_elem(x, y, alpha, pw, gamma, eps, pert=None, frozen=None):
    """Sigmoid focal loss with posWeight pw and Poly-1 eps (y already smoothed; alpha None = off):
    l = a_t m^g CE + eps m^(g+1), CE = pw y softplus(-x) + (1-y) softplus(x), m = y(1-p) + (1-y)p.
    Scales: the loss terms a_t m^g CE and eps m^(g+1) in magnitude (they cancel for eps < 0); for the gradient
    |t1| + m^g ((1-y)p + pw y (1-p)) (the terms of dCE/dx = (1-y)p - pw y (1-p)) + |Poly term|."""
    if is_bad(x):
        return _nan4(), []
    if mp.isinf(x):  # -inf: p = 0; generated only for y == 0 (limits: loss 0, gradient 0)
        assert y == 0
        return _zero4(), []
    at = mpf(1) if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    p, om, spn, spp = sig_parts(x)
    ce = pw * y * spn + (1 - y) * spp
    m = y * om + (1 - y) * p
    mg = powr(m, gamma)
    focal = at * mg * ce
    poly = eps * m * mg
    dm = (1 - 2 * y) * p * om
    t1 = mpf(0) if gamma == 0 else gamma * m ** (gamma - 1) * dm * ce
    dpos, dneg = (1 - y) * p, pw * y * om
    t3 = eps * (gamma + 1) * mg * dm
    g = at * (t1 + mg * (sig_minus_y(x, y, dpos, dneg) if pw == 1 else dpos - dneg)) + t3
    ls = abs(focal) + abs(poly)
    gs = at * (abs(t1) + mg * (dpos + dneg)) + abs(t3)
    if eps < 0 and y in (0, 1):
        # Hard target (a = a_t pw_t, p_t, m = 1 - p_t, L = -log p_t): loss m^g K, gradient -s m^(g+1) B, K and B
        # from poly_terms (exact at 60 digits where a L + eps m cancels); for -a <= eps the kernels' forms of K and B
        # are sums of non-negative terms: the loss is held to its own size, the gradient to those terms.
        a = at * (pw if y == 1 else 1)
        p_t, mm = (p, om) if y == 1 else (om, p)
        K, B, Bmag = poly_terms(a, eps, gamma, p_t, mm, spn if y == 1 else spp)
        s_ = 1 if y == 1 else -1
        focal, poly, g = mg * K, mpf(0), -s_ * mg * mm * B
        if a + eps >= 0:
            ls, gs = abs(focal), min(gs, mg * mm * Bmag)
    elif eps < 0:
        # Soft target: a_t CE + eps m = y K(q; a_t pw) + (1-y) K(p; a_t), K(v; a) = (a + eps) v + a phi(v): for
        # a_t pw + eps >= 0 and a_t + eps >= 0 non-negative brackets, and the loss is held to its own size (its
        # gradient keeps the scale of its terms above).
        Kq = poly_terms(at * pw, eps, gamma, p, om, spn)[0]
        Kp = poly_terms(at, eps, gamma, om, p, spp)[0]
        focal, poly = mg * (y * Kq + (1 - y) * Kp), mpf(0)
        if at * pw + eps >= 0 and at + eps >= 0:
            ls = abs(focal)
    return (focal + poly, g, ls, gs), []


def poly_terms(a, eps, gamma, p, m, L):
    """Poly-1 of one target term with focal weight a, p = p_t, m = 1 - p_t (both accurate), L = -log p_t:
    (K, B, |B|terms) with loss m^g K, K = a L + eps m, and d/dlog p factor -m^g B, B = a (1 + g p L/m) + eps (g+1) p.
    Where m < 1/2 they are formed as in the kernels (simd/math.rs POLY_SERIES_MAX), K = (a + eps) m + a phi(m),
    B = (a + eps)(g + 1) p + a ((g + 1) m - g chi(m)), with phi(m) = -log(1 - m) - m and chi(m) = 1 - p L/m
    evaluated from m at a precision widened by the digits that cancel, so K and B keep 60 digits even where
    m ~ 1e-300 (the direct forms from 60-digit L and p would not).  |B|terms: (a + eps)(g + 1) p + a (g + 1) m +
    a g chi (the magnitude of B's terms; >= |B|)."""
    if m == 0:
        return a * L, (a + eps) * (gamma + 1), abs(a + eps) * (gamma + 1)
    if m >= 0.5 or mp.isnan(m):
        K = a * L + eps * m
        B = a * (1 + gamma * p * L / m) + eps * (gamma + 1) * p
        chi = 1 - p * L / m
    else:
        with mp.workdps(mp.dps + 20 + int(min(-mp.log10(m), 1700))):
            Lm = -mp.log1p(-m)
            phi, chi = Lm - m, 1 - (1 - m) * Lm / m
        phi, chi = +phi, +chi
        K = (a + eps) * m + a * phi
        B = (a + eps) * (gamma + 1) * p + a * ((gamma + 1) * m - gamma * chi)
    return K, B, abs(a + eps) * (gamma + 1) * p + abs(a) * ((gamma + 1) * m + gamma * chi)


def quality_elem(x, y, beta, pert=None, frozen=None):
    """QFL: l = |D|^beta BCE(x, y), D = sigma(x) - y = (1-y)p - y(1-p) (cancels: mass c = 2 min of the two terms).
    Where D = 0 exactly (x = 0, y = 1/2: exactly computable) the derivative of |D|^beta is 0 for beta <= 1 (and
    its limit 0 for beta > 1).  Scales add the first-order effect of an absolute error c in D:
      loss: BCE (|D|^b + b|D|^(b-1) c);   grad: t1 = b|D|^(b-1) sgn(D) p(1-p) BCE, t2 = |D|^b D,
      b p(1-p) BCE (|D|^(b-1) + k|D|^(b-2) c) + |D|^(b+1) + (b+1)|D|^b c,  k = |b-1| (1 when b = 1: the sign)."""
    pert = pert or {}
    if is_bad(x):
        return _nan4(), []
    if mp.isinf(x):
        assert y == 0
        return _zero4(), []
    p, om, spn, spp = sig_parts(x)
    bce = y * spn + (1 - y) * spp
    a_, b_ = (1 - y) * p, y * om
    d0 = sig_minus_y(x, y, a_, b_)
    c = 2 * min(a_, b_)
    d = d0 + pert.get("D", 0)
    ad = abs(d)
    f = powr(ad, beta)
    l = f * bce
    t1 = mpf(0) if (beta == 0 or ad == 0) else beta * ad ** (beta - 1) * mp.sign(d) * p * om * bce
    t2 = f * d
    g = t1 + t2
    if pert:
        return (l, g, None, None), []
    if d0 == 0:
        assert x == 0, "D = 0 only at x = 0 (y = 1/2), where every kernel computes it exactly"
        ls, gs = abs(l), abs(t1) + abs(t2)
    else:
        ls = bce * (f + (beta * ad ** (beta - 1) * c if beta != 0 else 0))
        k = abs(beta - 1) if beta != 1 else 1
        gs = ((beta * p * om * bce * (ad ** (beta - 1) + k * ad ** (beta - 2) * c)) if beta != 0 else 0) \
            + ad * f + (beta + 1) * f * c
    perts = [("D", c, d0)] if (c > 0 and d0 != 0) else []
    return (l, g, ls, gs), perts


def varifocal_elem(x, q, alpha, gamma, iou, pert=None, frozen=None):
    """VFL: q > 0: l = q BCE(x, q) (iou) or BCE(x, q); q = 0: l = alpha p^gamma softplus(x) (weight differentiated).
    Scales: the terms (1-q)p and q(1-p) of dBCE/dx = p - q; for q = 0 all terms are >= 0."""
    if is_bad(x):
        return _nan4(), []
    if mp.isinf(x):
        assert q == 0
        return _zero4(), []
    p, om, spn, spp = sig_parts(x)
    if q > 0:
        wq = q if iou else mpf(1)
        l = wq * (q * spn + (1 - q) * spp)
        g = wq * ((1 - q) * p - q * om)
        return (l, g, abs(l), wq * ((1 - q) * p + q * om)), []
    pg = powr(p, gamma)
    l = alpha * pg * spp
    t1 = mpf(0) if gamma == 0 else alpha * gamma * pg * om * spp  # d p^g / dx = g p^g (1 - p)
    t2 = alpha * pg * p
    return (l, t1 + t2, abs(l), abs(t1) + abs(t2)), []


def asymmetric_elem(x, y, gp, gn, clip, detach, pert=None, frozen=None):
    """ASL: l = y (1-p)^gp softplus(-x) + (1-y) p_m^gn L, p_m = max(p - clip, 0), L = -log(1 - p_m),
    1 - p_m = (1-p) + clip.  With clip > 0, p_m = p - clip cancels (mass c = 2 clip); L = -log1p(-p_m) (or
    -log((1-p) + clip)) inherits that error: the scales add c x |d/dp_m| of the negative part (loss) and of its
    gradient terms (gradient).  With detach the focal factors are constants in the gradient (their values still
    depend on p_m).
    `frozen` (a logit) evaluates the focal factors there: the loss whose derivative is the detached gradient."""
    pert = pert or {}
    if is_bad(x):
        return _nan4(), []
    if mp.isinf(x):
        assert y == 0
        return _zero4(), []
    p, om, spn, spp = sig_parts(x)
    pf, omf = (p, om) if frozen is None else sig_parts(frozen)[:2]
    fp, fpf = powr(om, gp), powr(omf, gp)
    lpos = y * fpf * spn
    gpos_foc = mpf(0) if (gp == 0 or detach) else -y * gp * fp * p * spn
    gpos_ce = -y * fp * om
    if clip == 0:
        pm0, onem0, c = p, om, mpf(0)
    else:
        pm0, onem0, c = p - clip, om + clip, 2 * clip
    dpm = pert.get("pm", 0)
    pm = pm0 + dpm
    lneg = gneg_foc = gneg_ce = sens_l = sens_g = mpf(0)
    if pm > 0:
        onem = onem0 - dpm
        L = (spp if (clip == 0 and dpm == 0) else -mp.log(onem)) + pert.get("L", 0)
        fn = powr(pm, gn)
        pmf = pm if frozen is None else (pf if clip == 0 else pf - clip)
        fnf = powr(pmf, gn) if pmf > 0 else mpf(0)
        lneg = (1 - y) * fnf * L
        dp = p * om
        dl_dpm = p if (clip == 0 and dpm == 0) else dp / onem  # d/dx of L
        gn_pm = mpf(0) if gn == 0 else gn * pm ** (gn - 1)     # d p_m^gn / d p_m
        gneg_foc = mpf(0) if detach else (1 - y) * gn_pm * dp * L
        gneg_ce = (1 - y) * fn * dl_dpm
        if c > 0 and not pert:
            sens_l = (1 - y) * c * (gn_pm * L + fn / onem)
            s = gn_pm / onem + fn / onem ** 2                      # d/dp_m of p_m^gn / (1 - p_m)
            if not detach and gn != 0:                             # d/dp_m of gn p_m^(gn-1) L
                s += (gn * abs(gn - 1) * pm ** (gn - 2) * L if gn != 1 else 0) + gn_pm / onem
            sens_g = (1 - y) * c * dp * s
    l = lpos + lneg
    g = gpos_foc + gpos_ce + gneg_foc + gneg_ce
    if pert:
        return (l, g, None, None), []
    ls = lpos + lneg + sens_l
    gs = abs(gpos_foc) + abs(gpos_ce) + abs(gneg_foc) + abs(gneg_ce) + sens_g
    perts = [("pm", c, pm0)] + ([("L", mpf(1), lneg)] if pm0 > 0 else []) if clip > 0 else []
    return (l, g, ls, gs), perts


# The contract's weaker rule (CONTRACT.md § Accuracy, "Two losses meet a weaker rule where they subtract"), as it is
# worded, for the acc/qfl and acc/asl cases: scale = the value's own terms + c |dv/dD|, D the subtracted difference
# (QFL D = sigma(x) - y, mass c = 2 min((1-y)p, y(1-p)); ASL D = p_m = p - clip, mass c = 2 clip), dv/dD the partial
# derivative with x and y held (what an absolute error in the kernel's D alone does to v).  No nonlinearity guard
# (elem_scaled): these points keep |D| well above the rounding of D, so the first-order effect is the whole effect.

def _d_check(name, fn, d0, analytic):
    """analytic dv/dD against a central difference of fn(delta) = v at D + delta (step |D| 1e-12: O(1e-24))."""
    h = abs(d0) * mpf(10) ** -12
    num = (fn(h) - fn(-h)) / (2 * h)
    assert abs(num - analytic) <= mpf(10) ** -20 * (abs(analytic) + abs(fn(0)) / abs(d0)), (name, num, analytic)


def quality_weak_elem(x, y, beta, pert=None, frozen=None):
    """QFL values (quality_elem) with the weaker rule's scales.  l = |D|^b BCE, g = t1 + t2 with
    t1 = b |D|^(b-1) sgn(D) p(1-p) BCE, t2 = |D|^b D (BCE and p(1-p) depend on x only: fixed).
      dl/dD = b |D|^(b-1) sgn(D) BCE;
      dg/dD = b (b-1) |D|^(b-2) p(1-p) BCE + (b+1) |D|^b     (d/dD [|D|^(b-1) sgn D] = (b-1) |D|^(b-2), both signs).
    At b = 1 t1 = sgn(D) p(1-p) BCE is a step: its first-order effect is 0, but an error of D that reaches |D|
    flips it; |dt1/dD| is read as the secant |t1| / |D| there (a sign error is allowed only where |D| <= rtol c / 2)."""
    vals, perts = quality_elem(x, y, beta, pert)
    if pert:
        return vals, perts
    l, g, _, _ = vals
    assert len(perts) == 1 and beta > 0, "acc/qfl points: y near (not at) sigma(x), beta > 0"
    _, c, d0 = perts[0]
    p, om, spn, spp = sig_parts(x)
    bce = y * spn + (1 - y) * spp
    ad, sg = abs(d0), mp.sign(d0)
    t1 = beta * ad ** (beta - 1) * sg * p * om * bce
    t2 = ad ** beta * d0
    dl = beta * ad ** (beta - 1) * sg * bce
    dg = beta * (beta - 1) * ad ** (beta - 2) * p * om * bce + (beta + 1) * ad ** beta
    _d_check(("qfl loss", x, y), lambda dd: quality_elem(x, y, beta, {"D": dd})[0][0], d0, dl)
    _d_check(("qfl grad", x, y), lambda dd: quality_elem(x, y, beta, {"D": dd})[0][1], d0, dg)
    if beta == 1:
        dg = abs(dg) + abs(t1) / ad
    ls = abs(l) + c * abs(dl)
    gs = abs(t1) + abs(t2) + c * abs(dg)
    return (l, g, ls, gs), perts


def asymmetric_weak_elem(x, y, gp, gn, clip, detach, pert=None, frozen=None):
    """ASL values (asymmetric_elem) with the weaker rule's scales, for p > clip > 0.  With P = p_m, L = -log(1 - P),
    dL/dP = 1/(1 - P), q = p(1-p) (x only), the negative part and its partials in P:
      l_neg = (1-y) P^gn L,                       dl/dP = (1-y) (gn P^(gn-1) L + P^gn / (1-P));
      g_neg = (1-y) q (gn P^(gn-1) L + P^gn/(1-P)),
        dg/dP = (1-y) q (gn (gn-1) P^(gn-2) L + 2 gn P^(gn-1)/(1-P) + P^gn/(1-P)^2);
      detach: g_neg = (1-y) q P^gn/(1-P),         dg/dP = (1-y) q (gn P^(gn-1)/(1-P) + P^gn/(1-P)^2).
    The positive part does not depend on P.  Own terms: each of the loss's and gradient's parts in magnitude."""
    vals, perts = asymmetric_elem(x, y, gp, gn, clip, detach, pert, frozen)
    if pert or frozen is not None:  # a perturbed or frozen-factor evaluation: values only
        return vals, perts
    l, g, _, _ = vals
    assert clip > 0
    p, om, spn, spp = sig_parts(x)
    P = p - clip
    assert P > 0, "acc/asl points: sigma(x) just above clip"
    c, onem = 2 * clip, om + clip
    L = -mp.log(onem)
    q = p * om
    fp = powr(om, gp)
    lpos = y * fp * spn
    gpos = [mpf(0) if (gp == 0 or detach) else y * gp * fp * p * spn, y * fp * om]
    fn = powr(P, gn)
    gn_pm = mpf(0) if gn == 0 else gn * P ** (gn - 1)
    lneg = (1 - y) * fn * L
    gneg = [mpf(0) if detach else (1 - y) * q * gn_pm * L, (1 - y) * q * fn / onem]
    dl = (1 - y) * (gn_pm * L + fn / onem)
    if detach:
        dg = (1 - y) * q * (gn_pm / onem + fn / onem ** 2)
    else:
        gn2 = mpf(0) if gn in (0, 1) else gn * (gn - 1) * P ** (gn - 2)
        dg = (1 - y) * q * (gn2 * L + 2 * gn_pm / onem + fn / onem ** 2)
    assert abs(l - (lpos + lneg)) <= mpf(10) ** -50 * abs(l), (x, y, l, lpos + lneg)

    def at(dd, k):
        return asymmetric_elem(x, y, gp, gn, clip, detach, {"pm": dd})[0][k]

    _d_check(("asl loss", x, y), lambda dd: at(dd, 0), P, dl)
    _d_check(("asl grad", x, y), lambda dd: at(dd, 1), P, dg)
    ls = lpos + lneg + c * abs(dl)
    gs = sum(abs(t) for t in gpos + gneg) + c * abs(dg)
    return (l, g, ls, gs), perts


def softmax2_item(z, q, a, w, gamma, eps):
    """softmax_item with Poly-1: l = w sum_c q_c [-a_c (1-p_c)^g log p_c + eps (1-p_c)^(g+1)].
    With t_c = p_c dl_c/dp_c (focal part tf_c = a_c q_c h_c, Poly part tp_c = -eps (g+1) q_c (1-p_c)^g p_c),
    dl/dz_j = w (t_j (1-p_j) - p_j sum_{c!=j} t_c); scale w ((|tf_j|+|tp_j|)(1-p_j) + p_j sum_{c!=j}(|tf_c|+|tp_c|))
    (equals softmax_item's scale when eps = 0).  Loss scale: w sum_c q_c (a_c (1-p_c)^g |log p_c| + |eps|(1-p_c)^(g+1)).
    Returns (loss, grad, loss_scale, grad_scale)."""
    C = len(z)
    nan = mp.nan
    if any(is_bad(v) for v in z):
        return nan, [nan] * C, nan, [nan] * C
    k = max(range(C), key=lambda c: z[c])
    zk = z[k]
    if mp.isinf(zk):
        raise ValueError("all logits of an item are -inf")
    e = [mpf(0) if mp.isinf(v) else mp.exp(v - zk) for v in z]
    s_other = mp.fsum(e[c] for c in range(C) if c != k)
    den = 1 + s_other
    log1p_s = mp.log1p(s_other)
    p = [ec / den for ec in e]
    logp = [-mp.inf if mp.isinf(z[c]) else (z[c] - zk) - log1p_s for c in range(C)]
    omp = [s_other / den if c == k else 1 - p[c] for c in range(C)]
    loss = lscale = mpf(0)
    tf, tp, mags = [], [], []
    for c in range(C):
        pwc = powr(omp[c], gamma)
        if p[c] == 0:
            pr = mpf(0)
        elif omp[c] == 0:
            pr = mpf(1)
        else:
            pr = p[c] * (-logp[c]) / omp[c]
        mag_c = None
        if q[c] != 0:
            focal = a[c] * q[c] * pwc * (-logp[c])
            poly = eps * q[c] * pwc * omp[c]
            terms = abs(focal) + abs(poly)
            tf.append(a[c] * q[c] * (-pwc * (1 + gamma * pr)))
            tp.append(-eps * (gamma + 1) * q[c] * pwc * p[c])
            if eps < 0:
                # q_c m^g K and -q_c m^g B from poly_terms (exact where they cancel); for -a_c <= eps the kernels'
                # forms of K and B have no cancelling terms: the loss is held to its size, the gradient to B's terms.
                K, B, Bmag = poly_terms(a[c], eps, gamma, p[c], omp[c], -logp[c])
                mag_c = abs(tf[-1]) + abs(tp[-1])
                focal, poly = q[c] * pwc * K, mpf(0)
                tf[-1], tp[-1] = -q[c] * pwc * B, mpf(0)
                if a[c] + eps >= 0:
                    mag_c, terms = min(mag_c, q[c] * pwc * Bmag), abs(focal)
            loss += focal + poly
            lscale += terms
        else:
            tf.append(mpf(0))
            tp.append(mpf(0))
        mags.append(mag_c)
    t = [tf[c] + tp[c] for c in range(C)]
    mag = [abs(tf[c]) + abs(tp[c]) if mags[c] is None else mags[c] for c in range(C)]
    S, M = mp.fsum(t), mp.fsum(mag)
    grad, scale = [], []
    for j in range(C):
        grad.append(w * (t[j] * omp[j] - p[j] * (S - t[j])))
        scale.append(w * (mag[j] * omp[j] + p[j] * (M - mag[j])))
    return w * loss, grad, w * lscale, scale


# ----------------------------------------------------------------------------------------------------------
# layouts, reductions and case builders of the planned cases
# ----------------------------------------------------------------------------------------------------------

def family_layout(n, classes, shape):
    """None (no classes/shape) or (N, C, S): element (n, c, s) at n*C*S + c*S + s, item n*S + s."""
    if classes is None and shape is None:
        return None
    if classes is not None:
        assert shape is None and classes >= 1 and n % classes == 0, (n, classes)
        return n // classes, classes, 1
    N, C = shape[0], shape[1]
    S = math.prod(shape[2:])
    assert n == N * C * S, (n, shape)
    return N, C, S


def item_class(e, lay):
    N, C, S = lay
    nn, r = divmod(e, C * S)
    c, s = divmod(r, S)
    return nn * S + s, c


def reduce2(losses, grads, lss, gss, count, reduction, normalizer):
    """Like reduce_items, with loss scales, and 'mean' dividing by `normalizer` when given."""
    if reduction == "none":
        return list(losses), grads, list(lss), gss
    if reduction == "sum":
        return add(losses), grads, add(lss), gss
    assert reduction == "mean"
    div = count if normalizer is None else normalizer
    if div == 0:
        z = [mpf(0)] * len(grads)
        return mpf(0), z, mpf(0), list(z)
    f = 1 / to_mp(div)
    return add(losses) * f, [g * f for g in grads], add(lss) * f, [s * f for s in gss]


DBL_MAX = mpf(sys.float_info.max)


def scale_double(v):
    """A scale as a double, capped at the largest finite double (a scale beyond it - |D|^(beta-2) at |D| ~ 1e-309 -
    means "any finite value passes"; "inf" would be read as "no scale" by test/helpers/vectors.ts)."""
    return to_double(v if mp.isnan(v) or v <= DBL_MAX else DBL_MAX)


def _expected2(loss, grad, lscale, gscale, count, positives=None):
    ex = {
        "loss": [to_double(v) for v in loss] if isinstance(loss, list) else to_double(loss),
        "grad": [to_double(v) for v in grad],
        "grad_scale": [scale_double(v) for v in gscale],
        "loss_scale": [scale_double(v) for v in lscale] if isinstance(lscale, list) else scale_double(lscale),
        "count": count,
    }
    if positives is not None:
        ex["positives"] = to_double(positives)
    return ex


def _add_planned(case):
    assert case["name"] not in NAMES, case["name"]
    NAMES.add(case["name"])
    PLANNED.append(case)
    return case


def check_numeric_grad2(name, fn, z, grad, scale):
    """check_numeric_grad at a working precision wide enough for the terms e^-|x| that the losses add to O(1)
    numbers (e.g. (1 - p) + clip with 1 - p = e^-297): 60 digits + |x|max / ln 10 (at most 1600 more)."""
    big = max([abs(v) for v in z if mp.isfinite(v)] + [mpf(0)])
    with mp.workdps(mp.dps + 20 + int(min(big / mp.log(10), 1600))):
        check_numeric_grad(name, fn, z, grad, scale)


def check_loss_scale(name, loss, lscale):
    ls = loss if isinstance(loss, list) else [loss]
    ss = lscale if isinstance(lscale, list) else [lscale]
    for j, (l, s) in enumerate(zip(ls, ss)):
        if mp.isnan(l):
            continue
        assert s >= abs(l) * (1 - mpf(10) ** -50), (name, "loss", j, l, s)


def perturbation_check(name, dtypes, elem, x, y, cls, perts, vals):
    """The scales must cover what a kernel of each dtype can get wrong in a cancelling quantity: moving it by
    +-8 u x mass (and to 0 when it is smaller than that: the rounded terms are then equal) may change the
    element's loss and gradient by at most half of rtol x scale (+ half the dtype's tiny)."""
    l0, g0, ls, gs = vals
    for dt in dtypes:
        u, rt, tiny = U_DT[dt], RTOL_DT[dt], TINY_DT[dt]
        for key, mass, v0 in perts:
            step = PERT_ULPS * u * mass
            deltas = [step, -step] + ([-v0] if (key != "L" and 0 < abs(v0) < step) else [])
            for dd in deltas:
                (l1, g1, _, _), _ = elem(x, y, cls, {key: dd})
                assert abs(l1 - l0) <= rt * ls / 2 + tiny / 2, (name, dt, key, x, y, "loss", l0, l1, ls)
                assert abs(g1 - g0) <= rt * gs / 2 + tiny / 2, (name, dt, key, x, y, "grad", g0, g1, gs)
                PSTATS["perturbation_checks"] += 1


RHO = mpf(2) ** -20  # 16 float32 ulps: the nonlinearity guard's relative step


def elem_scaled(elem, x, y, c):
    """elem's values and analytic (first-order) scales, each scale raised where needed to |v| + |v(q + d) - v(q)| / RHO
    over d in {+-RHO x mass, -q when |q| < RHO x mass} for every cancelling quantity q (not L): where q is so small
    that its rounding is not a first-order effect (a QFL |D|^beta with |D| ~ 1e-30), the first-order scale would not
    cover a kernel's rounding."""
    (l, g, ls, gs), perts = elem(x, y, c, None, None)
    for key, mass, v0 in perts:
        if key == "L":
            continue
        step = RHO * mass
        for dd in [step, -step] + ([-v0] if 0 < abs(v0) < step else []):
            (l1, g1, _, _), _ = elem(x, y, c, {key: dd}, None)
            ls = max(ls, abs(l) + abs(l1 - l) / RHO)
            gs = max(gs, abs(g) + abs(g1 - g) / RHO)
    return (l, g, ls, gs), perts


def ew_case(kind, name, logits, targets, elem, opts, f32_inputs, *, classes=None, shape=None, indices=False,
            ignore_index=-100, weights=None, reduction="mean", normalizer=None, dtypes=BOTH, check=False,
            guard=True):
    """An element-wise case (kinds sigmoid, quality, varifocal, asymmetric).  elem(x, y, cls, pert, frozen)
    evaluates one element (y the implied or given target, unsmoothed; cls its class or None).  guard=False keeps
    elem's own scales (no elem_scaled raise: the acc/qfl and acc/asl cases of the weaker rule as worded)."""
    logits = [float(v) for v in logits]
    n = len(logits)
    lay = family_layout(n, classes, shape)
    if normalizer is not None:
        assert reduction == "mean" and 0 < normalizer < INF
    elems = []  # (target or None when ignored, class or None, item)
    if indices:
        assert lay is not None
        N, C, S = lay
        assert len(targets) == N * S and all(isinstance(t, int) and not isinstance(t, bool) for t in targets)
        assert not (0 <= ignore_index <= C), "ignoreIndex in [0, C] would be ambiguous"
        for e in range(n):
            item, c = item_class(e, lay)
            t = targets[item]
            if t == ignore_index:
                elems.append((None, c, item))
            else:
                assert 0 <= t <= C, (name, t)
                elems.append((mpf(1) if t == c else mpf(0), c, item))
        counted_items = sum(1 for t in targets if t != ignore_index)
        count = counted_items * C
        positives = mpf(sum(1 for t in targets if t != ignore_index and t != C))
        if weights is not None:
            assert len(weights) == N * S
        tvals = []
    else:
        targets = [float(v) for v in targets]
        assert len(targets) == n and all(0 <= v <= 1 for v in targets), name
        for e in range(n):
            elems.append((to_mp(targets[e]), None if lay is None else item_class(e, lay)[1], e))
        count = n
        positives = add(to_mp(v) for v in targets)
        if weights is not None:
            assert lay is None and len(weights) == n, "dense weights: one per element, without classes/shape"
        tvals = targets
    if weights is not None:
        assert all(v >= 0 for v in weights)
    _check_inputs(name, dtypes, logits + tvals + f32_inputs + (weights or [])
                  + ([normalizer] if normalizer is not None else []))
    x = [to_mp(v) for v in logits]
    m_w = None if weights is None else [to_mp(v) for v in weights]

    cache = {}

    def compute(xx, frozen=None, main=False):
        losses, grads, lss, gss = [], [], [], []
        for e in range(n):
            y, c, item = elems[e]
            if y is None:
                losses.append(mpf(0)), grads.append(mpf(0)), lss.append(mpf(0)), gss.append(mpf(0))
                continue
            w = mpf(1) if m_w is None else m_w[item]
            if main:
                (l, g, ls, gs), perts = cache[e] = (elem_scaled(elem, xx[e], y, c) if guard
                                                    else elem(xx[e], y, c, None, None))
            else:
                (l, g, ls, gs), _ = elem(xx[e], y, c, None, None if frozen is None else frozen[e])
            losses.append(w * l), grads.append(w * g), lss.append(w * ls), gss.append(w * gs)
        return reduce2(losses, grads, lss, gss, count, reduction, normalizer)

    loss, grad, lscale, gscale = compute(x, main=True)
    check_scale(name, grad, gscale)
    check_loss_scale(name, loss, lscale)
    for e, (vals, perts) in cache.items():  # the scales against each dtype's rounding of cancelling quantities
        if perts:
            perturbation_check(name, dtypes, lambda xx, yy, cc, pp: elem(xx, yy, cc, pp, None), x[e], elems[e][0],
                               elems[e][1], perts, vals)
    if check:
        check_numeric_grad2(name, lambda zz: compute(zz, frozen=x)[0], x, grad, gscale)
    case = {"name": name, "kind": kind, "dtypes": list(dtypes), "logits": [jnum(v) for v in logits]}
    if classes is not None:
        case["classes"] = classes
    if shape is not None:
        case["shape"] = list(shape)
    case["targetKind"] = "indices" if indices else "dense"
    case["targets"] = list(targets) if indices else [float(v) for v in targets]
    case["options"] = opts
    case["expected"] = _expected2(loss, grad, lscale, gscale, count, positives if kind == "sigmoid" else None)
    return _add_planned(case)


def _common_opts(opts, reduction, ignore_index, weights, normalizer, indices, always_ignore):
    if reduction is not None:
        opts["reduction"] = reduction
    if indices and (always_ignore or ignore_index is not None):
        opts["ignoreIndex"] = -100 if ignore_index is None else ignore_index
    if weights is not None:
        opts["weights"] = [float(v) for v in weights]
    if normalizer is not None:
        opts["normalizer"] = float(normalizer)
    return opts


def sig2_case(name, logits, targets, *, gamma=2.0, alpha=0.25, label_smoothing=0.0, pos_weight=None, poly=None,
              classes=None, shape=None, indices=False, ignore_index=None, weights=None, reduction="mean",
              normalizer=None, dtypes=BOTH, check=False):
    """kind "sigmoid" with the planned options; options written like the existing sigmoid cases (gamma, alpha,
    reduction, labelSmoothing always present) plus ignoreIndex (class-index targets), posWeight, polyEpsilon,
    normalizer when used."""
    assert gamma >= 0 and 0 <= label_smoothing < 1
    m_alpha = None if (alpha is None or alpha < 0) else to_mp(alpha)
    lay = family_layout(len(logits), classes, shape)
    if isinstance(pos_weight, list):
        assert lay is not None and len(pos_weight) == lay[1]
        m_pw = [to_mp(v) for v in pos_weight]
    else:
        m_pw = to_mp(1.0 if pos_weight is None else pos_weight)
    g, ls, eps = to_mp(gamma), to_mp(label_smoothing), to_mp(0.0 if poly is None else poly)

    def elem(x, y, c, pert, frozen):
        pw = m_pw[c] if isinstance(m_pw, list) else m_pw
        return sigmoid2_elem(x, y * (1 - ls) + ls / 2, m_alpha, pw, g, eps)

    opts = {"gamma": float(gamma), "alpha": None if alpha is None else float(alpha)}
    opts = _common_opts(opts, reduction, None, None, None, False, False)
    opts["labelSmoothing"] = float(label_smoothing)
    _common_opts(opts, None, ignore_index, weights, None, indices, True)
    if pos_weight is not None:
        opts["posWeight"] = [float(v) for v in pos_weight] if isinstance(pos_weight, list) else float(pos_weight)
    if poly is not None:
        opts["polyEpsilon"] = float(poly)
    if normalizer is not None:
        opts["normalizer"] = float(normalizer)
    f32_in = [gamma, label_smoothing] + ([] if alpha is None else [alpha]) \
        + (pos_weight if isinstance(pos_weight, list) else ([] if pos_weight is None else [pos_weight])) \
        + ([] if poly is None else [poly])
    return ew_case("sigmoid", name, logits, targets, elem, opts, f32_in, classes=classes, shape=shape,
                   indices=indices, ignore_index=-100 if ignore_index is None else ignore_index, weights=weights,
                   reduction=reduction, normalizer=normalizer, dtypes=dtypes, check=check)


def qfl_case(name, logits, targets, *, beta=None, classes=None, shape=None, indices=False, ignore_index=None,
             weights=None, reduction="mean", normalizer=None, dtypes=BOTH, check=False, weak=False):
    """weak: the weaker rule's scales as worded (quality_weak_elem, no nonlinearity guard)."""
    b = to_mp(2.0 if beta is None else beta)
    assert b >= 0
    opts = {} if beta is None else {"beta": float(beta)}
    _common_opts(opts, reduction, ignore_index, weights, normalizer, indices, False)
    el = quality_weak_elem if weak else quality_elem
    return ew_case("quality", name, logits, targets, lambda x, y, c, pert, fr: el(x, y, b, pert), opts,
                   [] if beta is None else [beta], classes=classes, shape=shape, indices=indices,
                   ignore_index=-100 if ignore_index is None else ignore_index, weights=weights,
                   reduction=reduction or "mean", normalizer=normalizer, dtypes=dtypes, check=check, guard=not weak)


def vfl_case(name, logits, targets, *, alpha=None, gamma=None, iou=None, classes=None, shape=None, indices=False,
             ignore_index=None, weights=None, reduction="mean", normalizer=None, dtypes=BOTH, check=False):
    a = to_mp(0.75 if alpha is None else alpha)
    g = to_mp(2.0 if gamma is None else gamma)
    io = True if iou is None else iou
    assert g >= 0 and a >= 0
    opts = {}
    if alpha is not None:
        opts["alpha"] = float(alpha)
    if gamma is not None:
        opts["gamma"] = float(gamma)
    if iou is not None:
        opts["iouWeighted"] = bool(iou)
    _common_opts(opts, reduction, ignore_index, weights, normalizer, indices, False)
    return ew_case("varifocal", name, logits, targets, lambda x, y, c, pert, fr: varifocal_elem(x, y, a, g, io),
                   opts, [v for v in (alpha, gamma) if v is not None], classes=classes, shape=shape, indices=indices,
                   ignore_index=-100 if ignore_index is None else ignore_index, weights=weights,
                   reduction=reduction or "mean", normalizer=normalizer, dtypes=dtypes, check=check)


def asl_case(name, logits, targets, *, gamma_pos=None, gamma_neg=None, clip=None, detach=None, classes=None,
             shape=None, indices=False, ignore_index=None, weights=None, reduction="mean", normalizer=None,
             dtypes=BOTH, check=False, weak=False):
    """weak: the weaker rule's scales as worded (asymmetric_weak_elem, no nonlinearity guard)."""
    gp = to_mp(1.0 if gamma_pos is None else gamma_pos)
    gn = to_mp(4.0 if gamma_neg is None else gamma_neg)
    if clip is None:  # the default 0.05 is not a float32 number: one dtype per case (float32 rounds it)
        assert len(dtypes) == 1
        cl = to_mp(ASL_DEFAULT_CLIP[dtypes[0]])
    else:
        cl = to_mp(clip)
    det = bool(detach)
    assert gp >= 0 and gn >= 0 and 0 <= cl < 1
    opts = {}
    if gamma_pos is not None:
        opts["gammaPos"] = float(gamma_pos)
    if gamma_neg is not None:
        opts["gammaNeg"] = float(gamma_neg)
    if clip is not None:
        opts["clip"] = float(clip)
    if detach is not None:
        opts["detachFocalWeight"] = bool(detach)
    _common_opts(opts, reduction, ignore_index, weights, normalizer, indices, False)
    el = asymmetric_weak_elem if weak else asymmetric_elem
    return ew_case("asymmetric", name, logits, targets,
                   lambda x, y, c, pert, fr: el(x, y, gp, gn, cl, det, pert, fr if det else None), opts,
                   [v for v in (gamma_pos, gamma_neg, clip) if v is not None], classes=classes, shape=shape,
                   indices=indices, ignore_index=-100 if ignore_index is None else ignore_index, weights=weights,
                   reduction=reduction or "mean", normalizer=normalizer, dtypes=dtypes, check=check, guard=not weak)


def compute_softmax2(z, N, C, S, targets, probs, alpha, weights, gamma, eps, poly, ignore_index, reduction,
                     normalizer):
    if alpha is None:
        a = [mpf(1)] * C
    elif isinstance(alpha, list):
        a = alpha
    else:
        a = [alpha] * C
    n_items = N * S
    losses, lss = [mpf(0)] * n_items, [mpf(0)] * n_items
    grads, gss = [mpf(0)] * len(z), [mpf(0)] * len(z)
    counted = 0
    for n in range(N):
        for s in range(S):
            item = n * S + s
            idx = [n * C * S + c * S + s for c in range(C)]
            if probs is None:
                t = targets[item]
                if t == ignore_index:
                    continue
                assert 0 <= t < C
                q = [(1 - eps) * (1 if c == t else 0) + eps / C for c in range(C)]
            else:
                q = [(1 - eps) * probs[i] + eps / C for i in idx]
            counted += 1
            w = mpf(1) if weights is None else weights[item]
            loss, g, ls, sc = softmax2_item([z[i] for i in idx], q, a, w, gamma, poly)
            losses[item], lss[item] = loss, ls
            for c, i in enumerate(idx):
                grads[i], gss[i] = g[c], sc[c]
    loss, grad, lscale, gscale = reduce2(losses, grads, lss, gss, counted, reduction, normalizer)
    return loss, grad, lscale, gscale, counted


def sm2_case(name, logits, *, classes=None, shape=None, targets=None, probs=None, gamma=2.0, alpha=None,
             reduction="mean", ignore_index=-100, label_smoothing=0.0, weights=None, poly=None, normalizer=None,
             dtypes=BOTH, check=False):
    """kind "softmax" with polyEpsilon / normalizer; options written like the existing softmax cases plus
    polyEpsilon and normalizer when used."""
    logits = [float(v) for v in logits]
    assert (classes is None) != (shape is None) and (targets is None) != (probs is None)
    N, C, S = softmax_layout(len(logits), classes, shape)
    alist = alpha if isinstance(alpha, list) else ([] if alpha is None else [alpha])
    if normalizer is not None:
        assert reduction == "mean" and 0 < normalizer < INF
    _check_inputs(name, dtypes, logits + alist + [gamma, label_smoothing] + (weights or []) + (probs or [])
                  + ([] if poly is None else [poly]) + ([] if normalizer is None else [normalizer]))
    if targets is not None:
        assert len(targets) == N * S and all(isinstance(t, int) for t in targets)
    else:
        assert len(probs) == len(logits)
        for n in range(N):
            for s in range(S):
                row = [probs[n * C * S + c * S + s] for c in range(C)]
                assert all(0 <= v <= 1 for v in row) and abs(math.fsum(row) - 1) <= 1e-6, (name, row)
    if weights is not None:
        assert len(weights) == N * S and all(v >= 0 for v in weights)
    z = [to_mp(v) for v in logits]
    m_alpha = None if alpha is None else ([to_mp(v) for v in alpha] if isinstance(alpha, list) else to_mp(alpha))
    m_w = None if weights is None else [to_mp(v) for v in weights]
    m_probs = None if probs is None else [to_mp(v) for v in probs]
    g, eps, pe = to_mp(gamma), to_mp(label_smoothing), to_mp(0.0 if poly is None else poly)

    def run(zz):
        return compute_softmax2(zz, N, C, S, targets, m_probs, m_alpha, m_w, g, eps, pe, ignore_index, reduction,
                                normalizer)

    loss, grad, lscale, gscale, count = run(z)
    check_scale(name, grad, gscale)
    check_loss_scale(name, loss, lscale)
    if check:
        check_numeric_grad2(name, lambda zz: run(zz)[0], z, grad, gscale)
    if targets is not None and label_smoothing == 0:
        for n in range(N):
            for s in range(S):
                row = [grad[n * C * S + c * S + s] for c in range(C)]
                if not any(mp.isnan(v) for v in row):
                    assert abs(mp.fsum(row)) <= mpf(10) ** -50 * (1 + max(abs(v) for v in row)), (name, row)
    case = {"name": name, "kind": "softmax", "dtypes": list(dtypes), "logits": [jnum(v) for v in logits]}
    if classes is not None:
        case["classes"] = classes
    else:
        case["shape"] = list(shape)
    if targets is not None:
        case["targets"] = list(targets)
    else:
        case["probs"] = [float(v) for v in probs]
    opts = {"gamma": float(gamma)}
    if alpha is not None:
        opts["alpha"] = [float(v) for v in alpha] if isinstance(alpha, list) else float(alpha)
    opts["reduction"] = reduction
    opts["ignoreIndex"] = ignore_index
    opts["labelSmoothing"] = float(label_smoothing)
    if weights is not None:
        opts["weights"] = [float(v) for v in weights]
    if poly is not None:
        opts["polyEpsilon"] = float(poly)
    if normalizer is not None:
        opts["normalizer"] = float(normalizer)
    case["options"] = opts
    case["expected"] = _expected2(loss, grad, lscale, gscale, count)
    return _add_planned(case)


# ----------------------------------------------------------------------------------------------------------
# identities (self-checks of the planned kernels against independent formulas and the existing kernels)
# ----------------------------------------------------------------------------------------------------------

def _close(a, b, rel=mpf(10) ** -50):
    if mp.isnan(a) or mp.isnan(b):
        return mp.isnan(a) and mp.isnan(b)
    return abs(a - b) <= rel * max(abs(a), abs(b), mpf(10) ** -300)


def identities_existing():
    """The planned kernels with the new options at their neutral values reproduce the existing cases exactly:
    every softmax case (loss, grad, grad_scale) through softmax2_item with eps = 0, and every sigmoid element (the
    doubles of loss and grad; the new grad_scale is >= the old one) through sigmoid2_elem with pw = 1, eps = 0."""
    for c in CASES:
        o = c["options"]
        if c["kind"] == "softmax":
            logits = [float(v) for v in c["logits"]]
            N, C, S = softmax_layout(len(logits), c.get("classes"), c.get("shape"))
            al = o.get("alpha")
            m_alpha = None if al is None else ([to_mp(v) for v in al] if isinstance(al, list) else to_mp(al))
            m_w = None if "weights" not in o else [to_mp(v) for v in o["weights"]]
            probs = None if "probs" not in c else [to_mp(v) for v in c["probs"]]
            loss, grad, _, gscale, count = compute_softmax2(
                [to_mp(v) for v in logits], N, C, S, c.get("targets"), probs, m_alpha, m_w, to_mp(o["gamma"]),
                to_mp(o["labelSmoothing"]), mpf(0), o["ignoreIndex"], o["reduction"], None)
            got = _expected(loss, grad, gscale, count)
            assert got == c["expected"], c["name"]
        else:
            al = o["alpha"]
            m_alpha = None if (al is None or al < 0) else to_mp(al)
            eps = to_mp(o["labelSmoothing"])
            g = to_mp(o["gamma"])
            ws = o.get("weights")
            for i, (xv, yv) in enumerate(zip(c["logits"], c["targets"])):
                x = to_mp(float(xv))
                y = to_mp(yv) * (1 - eps) + eps / 2
                w = mpf(1) if ws is None else to_mp(ws[i])
                l0, g0, s0 = sigmoid_elem(x, y, m_alpha, w, g)
                (l1, g1, _, s1), _ = sigmoid2_elem(x, y, m_alpha, mpf(1), g, mpf(0))
                assert to_double(l0) == to_double(w * l1) and to_double(g0) == to_double(w * g1), (c["name"], i)
                assert mp.isnan(s0) or w * s1 >= s0 * (1 - mpf(10) ** -50), (c["name"], i)
        PSTATS["identities"] += 1


def identities_elementwise():
    xs = [to_mp(v) for v in (0.0, 0.75, -1.5, 3.0, -7.0, 30.0, -30.0, 1e4, -1e4, 70.0, -70.0, F32_MIN_NORMAL)]
    for x in xs:
        p, om, spn, spp = sig_parts(x)
        for y in (mpf(0), mpf(1), mpf(0.25), mpf(0.5), to_mp(f32(0.3))):
            # QFL beta = 0 is BCE
            (l, g, _, _), _ = quality_elem(x, y, mpf(0))
            l0, g0, _ = sigmoid_elem(x, y, None, mpf(1), mpf(0))
            assert _close(l, l0) and _close(g, g0), ("qfl beta=0", x, y)
            # posWeight, gamma = 0, no alpha: BCEWithLogits(pos_weight) as torch writes it
            for pw in (mpf(1), mpf(3), mpf(0.5)):
                (l, g, _, _), _ = sigmoid2_elem(x, y, None, pw, mpf(0), mpf(0))
                lw = 1 + (pw - 1) * y
                want = (1 - y) * x + lw * (mp.log1p(mp.exp(-abs(x))) + max(-x, 0))
                # (torch's form cancels: compare to 1e-55 of the terms' size)
                assert abs(l - want) <= mpf(10) ** -55 * (abs(x) + 1), ("posWeight bce", x, y, pw, l, want)
                assert abs(g - ((1 - y) - lw * om)) <= mpf(10) ** -55, ("posWeight bce grad", x, y, pw)
            # Poly-1 term, gamma = 0: l = CE + eps m; gradient d/dx
            (l, g, _, _), _ = sigmoid2_elem(x, y, None, mpf(1), mpf(0), mpf(-0.75))
            l0, g0, _ = sigmoid_elem(x, y, None, mpf(1), mpf(0))
            m = y * om + (1 - y) * p
            assert abs(l - (l0 - mpf(0.75) * m)) <= mpf(10) ** -55 * (abs(l0) + m), ("poly", x, y)
            # ASL detach: same loss
            for gp, gn, cl in ((mpf(1), mpf(4), to_mp(F32_CLIP)), (mpf(0.5), mpf(2), mpf(0))):
                (la, _, _, _), _ = asymmetric_elem(x, y, gp, gn, cl, False)
                (lb, _, _, _), _ = asymmetric_elem(x, y, gp, gn, cl, True)
                assert la == lb
        for y in (mpf(0), mpf(1)):
            for gm in (mpf(0), mpf(0.5), mpf(1), mpf(2), mpf(3.5)):
                # hard targets: QFL(beta) = focal(gamma = beta, alpha off); ASL(gp = gn = gamma, clip 0) = focal
                l0, g0, _ = sigmoid_elem(x, y, None, mpf(1), gm)
                (l, g, _, _), _ = quality_elem(x, y, gm)
                assert _close(l, l0) and _close(g, g0), ("qfl hard", x, y, gm)
                for det in (False,):
                    (l, g, _, _), _ = asymmetric_elem(x, y, gm, gm, mpf(0), det)
                    assert _close(l, l0) and _close(g, g0), ("asl = focal", x, y, gm)
                # VFL: q = 1 is BCE (either iouWeighted); q = 0 is focal with alpha' = 1 - alpha
                if y == 1:
                    l0, g0, _ = sigmoid_elem(x, y, None, mpf(1), mpf(0))
                    for io in (True, False):
                        (l, g, _, _), _ = varifocal_elem(x, y, mpf(0.75), gm, io)
                        assert _close(l, l0) and _close(g, g0), ("vfl q=1", x, gm)
                else:
                    l0, g0, _ = sigmoid_elem(x, y, mpf(0.25), mpf(1), gm)
                    (l, g, _, _), _ = varifocal_elem(x, y, mpf(0.75), gm, True)
                    assert _close(l, l0) and _close(g, g0), ("vfl q=0", x, gm)
            PSTATS["identities"] += 1


def identity_cases(a, b, what, rel=0.0):
    """Two cases with equal (rel = 0) or nearly equal expected loss and gradient."""
    ea, eb = a["expected"], b["expected"]
    la = ea["loss"] if isinstance(ea["loss"], list) else [ea["loss"]]
    lb = eb["loss"] if isinstance(eb["loss"], list) else [eb["loss"]]
    for u, v in list(zip(la, lb)) + list(zip(ea["grad"], eb["grad"])):
        assert len(la) == len(lb)
        if isinstance(u, str) or isinstance(v, str):
            assert u == v, (what, a["name"], b["name"])
        else:
            assert abs(u - v) <= rel * max(abs(u), abs(v)), (what, a["name"], b["name"], u, v)
    PSTATS["identities"] += 1


# ----------------------------------------------------------------------------------------------------------
# planned case families
# ----------------------------------------------------------------------------------------------------------

GAMMAS2 = (0.0, 0.5, 1.0, 2.0, 3.5)
# element-wise grid: logits x targets (hard and soft)
EW_X = [0.0, 1.0, -1.0, 4.0, -4.0, 30.0, -30.0, 70.0, -70.0, 1e4, -1e4]
EW_Y = [0.0, 1.0, 0.5, 0.25]
EW_XS = [x for x in EW_X for _ in EW_Y]
EW_YS = [y for _ in EW_X for y in EW_Y]
SMALL_X = [0.0, 1.0, -1.0, 2.5, -3.0, 0.125]
SMALL_Y = [1.0, 0.0, 0.5, 0.25, 1.0, 0.75]
# class-index batch: C = 3, 6 rows; targets: class 0, background (3), 1, ignored, 2, 0
Z3 = [1.5, -0.5, 0.25, 2, 0, -3, 4, 4, 1, -1, 0.75, 0.125, 8, -8, 0, 30, -30, 0.5]
T3 = [0, 3, 1, -100, 2, 0]
W3 = [1, 0.5, 2, 3, 0, 1.25]
RED4 = (("none", None), ("sum", None), ("mean", None), ("mean", 2.5))


def rname(red, norm):
    return red if norm is None else f"{red}+normalizer {gname(norm)}"


def onehot_dense(targets, lay, ignore_index, weights):
    """The dense equivalent of class-index targets: targets, per-element weights (ignored items weight 0)."""
    N, C, S = lay
    n = N * C * S
    y, w = [0.0] * n, [0.0] * n
    for e in range(n):
        item, c = item_class(e, lay)
        t = targets[item]
        if t == ignore_index:
            continue
        y[e] = 1.0 if t == c else 0.0
        w[e] = 1.0 if weights is None else float(weights[item])
    return y, w


def sigmoid_index_cases():
    # reductions x gamma (alpha 0.25)
    for g in GAMMAS2:
        for red, nz in RED4:
            sig2_case(f"sig-idx/C=3 gamma={gname(g)} {rname(red, nz)}", Z3, T3, gamma=g, classes=3, indices=True,
                      reduction=red, normalizer=nz, check=(red == "sum" and g in (0.5, 3.5)))
    for a in (None, 0.75, 0.0):
        sig2_case(f"sig-idx/C=3 alpha={a} mean", Z3, T3, alpha=a, classes=3, indices=True, reduction="mean")
    sig2_case("sig-idx/C=3 weights per item none", Z3, T3, classes=3, indices=True, weights=W3, reduction="none")
    sig2_case("sig-idx/C=3 weights per item mean", Z3, T3, classes=3, indices=True, weights=W3, reduction="mean",
              gamma=0.5, check=True)
    for ls in (0.125, f32(0.1)):
        sig2_case(f"sig-idx/C=3 labelSmoothing {ls!r} none", Z3, T3, classes=3, indices=True, label_smoothing=ls,
                  reduction="none")
    sig2_case("sig-idx/C=3 posWeight 3 sum", Z3, T3, classes=3, indices=True, pos_weight=3.0, reduction="sum",
              check=True)
    sig2_case("sig-idx/C=3 posWeight per class none", Z3, T3, classes=3, indices=True, pos_weight=[0.5, 2.0, 4.0],
              reduction="none")
    for pe in (1.0, -1.0, 2.5):
        sig2_case(f"sig-idx/C=3 polyEpsilon {gname(pe)} gamma=0.5 sum", Z3, T3, classes=3, indices=True, poly=pe,
                  gamma=0.5, reduction="sum", check=(pe == -1.0))
    sig2_case("sig-idx/C=3 everything: alpha 0.75 posWeight per class poly -0.5 smoothing weights mean+normalizer",
              Z3, T3, classes=3, indices=True, alpha=0.75, pos_weight=[2.0, 0.25, 1.0], poly=-0.5,
              label_smoothing=0.0625, weights=W3, reduction="mean", normalizer=4.0, gamma=1.0, check=True)
    # custom ignoreIndex, all ignored, all background
    t255 = [255, 0, 3, 1, 255, 2]
    for red, nz in RED4:
        sig2_case(f"sig-idx/ignoreIndex 255 {rname(red, nz)}", Z3, t255, classes=3, indices=True, ignore_index=255,
                  reduction=red, normalizer=nz)
    sig2_case("sig-idx/ignoreIndex -1 mean", Z3, [-1, 0, 3, 1, -1, -1], classes=3, indices=True, ignore_index=-1,
              reduction="mean")
    for red, nz in RED4:
        sig2_case(f"sig-idx/all ignored {rname(red, nz)}", Z3, [-100] * 6, classes=3, indices=True, reduction=red,
                  normalizer=nz)
        sig2_case(f"sig-idx/all background {rname(red, nz)}", Z3, [3] * 6, classes=3, indices=True, reduction=red,
                  normalizer=nz)
    sig2_case("sig-idx/label 0 is a class, not background", Z3, [0] * 6, classes=3, indices=True, reduction="none")
    # C = 1 (binary head): 0 = positive, 1 = background
    for g in (0.0, 2.0):
        sig2_case(f"sig-idx/C=1 gamma={gname(g)} mean", [3, -2, 0, 1e4, -1e4, 0.5], [0, 1, 0, 1, 0, -100], gamma=g,
                  classes=1, indices=True, reduction="mean")
    # channels-first
    rng = random.Random(77)
    for shape in ([2, 3, 2, 2], [1, 4, 5], [3, 2, 3]):
        N, C, S = shape[0], shape[1], math.prod(shape[2:])
        z = [f32(rng.uniform(-6, 6)) for _ in range(N * C * S)]
        tg = [rng.choice(list(range(C + 1)) + [-100]) for _ in range(N * S)]
        w = [f32(rng.uniform(0, 2)) for _ in range(N * S)]
        sh = "x".join(map(str, shape))
        for red, nz in RED4:
            sig2_case(f"sig-idx/shape {sh} {rname(red, nz)}", z, tg, shape=shape, indices=True, reduction=red,
                      normalizer=nz, check=(red == "sum" and shape[0] == 1))
        sig2_case(f"sig-idx/shape {sh} weights posWeight per class poly 0.5 gamma=0.5 none", z, tg, shape=shape,
                  indices=True, weights=w, pos_weight=[f32(0.5 + c) for c in range(C)], poly=0.5, gamma=0.5,
                  reduction="none", check=(shape[0] == 3))
        # index targets = the dense one-hot targets with per-element weights (ignored items weight 0)
        yd, wd = onehot_dense(tg, (N, C, S), -100, w)
        for red in ("sum", "none"):
            a = sig2_case(f"sig-idx/shape {sh} equals dense (indices) {red}", z, tg, shape=shape, indices=True,
                          weights=w, gamma=1.0, alpha=0.75, pos_weight=2.0, poly=-0.25, reduction=red)
            b = sig2_case(f"sig-idx/shape {sh} equals dense (dense) {red}", z, yd, weights=wd, gamma=1.0, alpha=0.75,
                          pos_weight=2.0, poly=-0.25, reduction=red)
            identity_cases(a, b, "indices = dense one-hot")
    # normalizer = count equals mean
    a = sig2_case("sig-idx/C=3 normalizer 15 (= count)", Z3, T3, classes=3, indices=True, reduction="mean",
                  normalizer=15.0)
    b = PLANNED[[c["name"] for c in PLANNED].index("sig-idx/C=3 gamma=2 mean")]
    identity_cases(a, b, "normalizer = count")
    # stability edges (rows of C = 3): confident right / wrong, huge, p_t within 1e-30 of 1, smallest normals
    edge = [70, -70, -70, 30, -30, -30, -1e4, 1e4, -1e4, 1e4, -1e4, 1e4, -70, 70, -70,
            F32_MIN_NORMAL, -F32_MIN_NORMAL, 0]
    edge_t = [0, 0, 3, 1, 2, 0]
    for g in (0.0, 0.5, 2.0):
        sig2_case(f"sig-idx/edges gamma={gname(g)} none", edge, edge_t, gamma=g, classes=3, indices=True,
                  reduction="none")
        sig2_case(f"sig-idx/edges gamma={gname(g)} poly -1 posWeight 2 none", edge, edge_t, gamma=g, classes=3,
                  indices=True, poly=-1.0, pos_weight=2.0, reduction="none")
    sig2_case("sig-idx/edges f64 (+-700, f64 min normal) gamma=0.5 none",
              [700, -700, -700, -700, 700, 1e300, F64_MIN_NORMAL, -F64_MIN_NORMAL, 5e-324], [0, 3, 1], gamma=0.5,
              classes=3, indices=True, poly=1.0, reduction="none", dtypes=F64)
    # -inf logits on non-target classes; NaN / +inf logits in counted items
    sig2_case("sig-idx/-inf on non-target classes gamma=0.5 none", [2, -INF, -INF, -INF, -INF, -INF, 0, 1, -INF],
              [0, 3, 1], gamma=0.5, classes=3, indices=True, reduction="none")
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        for red, nz in RED4:
            sig2_case(f"sig-idx/nonfinite {tag} in row 1 {rname(red, nz)}", [1, 2, 0, 0, bad, 1, 3, -1, 0.5],
                      [0, 3, 2], classes=3, indices=True, reduction=red, normalizer=nz)
    # empty batches
    for red, nz in RED4:
        sig2_case(f"sig-idx/empty classes 3 {rname(red, nz)}", [], [], classes=3, indices=True, reduction=red,
                  normalizer=nz)
    sig2_case("sig-idx/empty shape [0,3,2] mean", [], [], shape=[0, 3, 2], indices=True, reduction="mean")
    sig2_case("sig-idx/empty shape [2,3,0] none", [], [], shape=[2, 3, 0], indices=True, reduction="none")


def sigmoid_dense_cases():
    for g in (0.0, 0.5, 2.0):
        for pw in (3.0, 0.5):
            sig2_case(f"sig-dense/grid posWeight {gname(pw)} gamma={gname(g)} none", EW_XS, EW_YS, gamma=g,
                      pos_weight=pw, reduction="none")
    for g in GAMMAS2:
        for pe in (1.0, -1.0):
            sig2_case(f"sig-dense/grid polyEpsilon {gname(pe)} gamma={gname(g)} none", EW_XS, EW_YS, gamma=g,
                      poly=pe, reduction="none")
        sig2_case(f"sig-dense/small poly 2 posWeight 1.5 gamma={gname(g)} sum", SMALL_X, SMALL_Y, gamma=g, poly=2.0,
                  pos_weight=1.5, reduction="sum", check=True)
    sig2_case("sig-dense/small poly -0.75 alpha off smoothing weights mean", SMALL_X, SMALL_Y, alpha=None, poly=-0.75,
              label_smoothing=0.125, weights=[1, 0.5, 2, 0, 3, 0.25], gamma=1.0, reduction="mean", check=True)
    # per-class posWeight with dense targets and classes / shape
    rng = random.Random(91)
    z = [f32(rng.uniform(-8, 8)) for _ in range(20)]
    y = [rng.choice((0.0, 1.0, 0.5, f32(rng.random()))) for _ in range(20)]
    for red, nz in RED4:
        sig2_case(f"sig-dense/classes 4 posWeight per class {rname(red, nz)}", z, y, classes=4,
                  pos_weight=[0.5, 1.0, 2.0, 8.0], gamma=1.0, reduction=red, normalizer=nz, check=(red == "sum"))
    sig2_case("sig-dense/shape [2,2,5] posWeight per class poly 1 none", z, y, shape=[2, 2, 5], pos_weight=[3.0, 0.25],
              poly=1.0, reduction="none", check=True)
    # normalizer
    xs = [f32(rng.uniform(-12, 12)) for _ in range(24)]
    ys = [f32(rng.random()) for _ in range(24)]
    for nz in (1.0, 0.25, 24.0, 1000.0):
        sig2_case(f"sig-dense/soft normalizer {gname(nz)}", xs, ys, reduction="mean", normalizer=nz,
                  check=(nz == 0.25))
    a = sig2_case("sig-dense/soft normalizer 24 (= count)", xs, ys, reduction="mean", normalizer=24.0, poly=0.5)
    b = sig2_case("sig-dense/soft mean (count 24)", xs, ys, reduction="mean", poly=0.5)
    identity_cases(a, b, "normalizer = count")
    sig2_case("sig-dense/soft poly -1 posWeight 4 weights mean+normalizer 3", xs, ys, poly=-1.0, pos_weight=4.0,
              weights=[f32(rng.uniform(0, 2)) for _ in range(24)], reduction="mean", normalizer=3.0, gamma=0.5)
    # stability edges: p_t within 1e-30 of 1, huge, smallest normals, gamma < 1
    ex = [70.0, -70.0, 30.0, -30.0, 1e4, -1e4, F32_MIN_NORMAL, -F32_MIN_NORMAL, 0.0, 1e4]
    ey = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, F32_MIN_NORMAL, 0.5]
    for g in (0.0, 0.5, 1.0, 3.5):
        sig2_case(f"sig-dense/edges poly 1 posWeight 2 gamma={gname(g)} none", ex, ey, gamma=g, poly=1.0,
                  pos_weight=2.0, reduction="none")
    sig2_case("sig-dense/edges f64 +-700 poly -1 gamma=0.5", [700.0, -700.0, 700.0, -700.0, 1e300],
              [1.0, 0.0, 0.0, 1.0, 1.0], gamma=0.5, poly=-1.0, pos_weight=0.5, reduction="none", dtypes=F64)
    sig2_case("sig-dense/tiny weights f32 poly", [1.0, -2.0, 0.5], [1, 0, 0.25], poly=1.0,
              weights=[2.0 ** -110, 2.0 ** -100, 2.0 ** -112], reduction="none")
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        sig2_case(f"sig-dense/nonfinite {tag} poly posWeight mean+normalizer", [1.0, bad, -2.0], [1, 0, 0.5],
                  poly=1.0, pos_weight=2.0, reduction="mean", normalizer=2.0)
        sig2_case(f"sig-dense/nonfinite {tag} poly posWeight none", [1.0, bad, -2.0], [1, 1, 0.5], poly=1.0,
                  pos_weight=2.0, reduction="none")
    sig2_case("sig-dense/-inf logit y=0 poly posWeight none", [-INF, 1.0], [0, 1], poly=1.0, pos_weight=2.0,
              gamma=0.5, reduction="none")
    sig2_case("sig-dense/empty mean+normalizer", [], [], reduction="mean", normalizer=2.0, poly=1.0)
    sig2_case("sig-dense/empty classes 4 none posWeight per class", [], [], classes=4, reduction="none",
              pos_weight=[1.0, 2.0, 3.0, 4.0])


def softmax_poly_cases():
    z = [1.5, -0.5, 0.25, 2, 0, -3, 4, 4, 1, -1, 0.75, 0.125, 8, -8, 0, 2]
    t = [2, 0, 1, 3]
    C = 4
    for g in GAMMAS2:
        for pe in (1.0, -1.0, 2.0):
            sm2_case(f"sm-poly/eps={gname(pe)} gamma={gname(g)} none", z, classes=C, targets=t, gamma=g, poly=pe,
                     reduction="none", check=(pe == -1.0 and g in (0.5, 3.5)))
        sm2_case(f"sm-poly/eps=1 gamma={gname(g)} mean", z, classes=C, targets=t, gamma=g, poly=1.0,
                 reduction="mean")
    probs = [0.25, 0.25, 0.5, 0, 1, 0, 0, 0, 0.125, 0.375, 0.0625, 0.4375, 0, 0, 0.5, 0.5]
    for g in (0.0, 0.5, 2.0):
        for pe in (1.0, -0.5):
            sm2_case(f"sm-poly/soft eps={gname(pe)} gamma={gname(g)} sum", z, classes=C, probs=probs, gamma=g,
                     poly=pe, reduction="sum", check=(g == 0.5))
    sm2_case("sm-poly/alpha per class weights smoothing ignore eps=-1 mean", z, classes=C, targets=[2, -100, 1, 3],
             gamma=1.5, poly=-1.0, alpha=[0.25, 0.5, 0.75, 1.0], weights=[2, 1, 0.5, 0.25], label_smoothing=0.125,
             reduction="mean", check=True)
    sm2_case("sm-poly/alpha scalar soft smoothing eps=3 none", z, classes=C, probs=probs, gamma=2.0, poly=3.0,
             alpha=0.25, label_smoothing=0.0625, reduction="none")
    # Poly-1 cross-entropy (gamma = 0, hard): l = CE + eps (1 - p_t), computed independently
    for pe in (1.0, -1.0, 2.0):
        c = PLANNED[[cc["name"] for cc in PLANNED].index(f"sm-poly/eps={gname(pe)} gamma=0 none")]
        for i in range(4):
            row = [to_mp(v) for v in z[i * C:(i + 1) * C]]
            ti = t[i]
            rest = mp.fsum(mp.exp(row[j] - row[ti]) for j in range(C) if j != ti)
            want = mp.log1p(rest) + to_mp(pe) * rest / (1 + rest)
            assert c["expected"]["loss"][i] == to_double(want), (c["name"], i)
        PSTATS["identities"] += 1
    # channels-first
    rng = random.Random(5150)
    for shape in ([2, 3, 4], [1, 4, 2, 3]):
        N, Cc, S = shape[0], shape[1], math.prod(shape[2:])
        zz = [f32(rng.uniform(-6, 6)) for _ in range(N * Cc * S)]
        tg = [(-100 if rng.random() < 0.2 else rng.randrange(Cc)) for _ in range(N * S)]
        sh = "x".join(map(str, shape))
        for red, nz in RED4:
            sm2_case(f"sm-poly/shape {sh} eps=-0.5 {rname(red, nz)}", zz, shape=shape, targets=tg, gamma=0.5,
                     poly=-0.5, reduction=red, normalizer=nz, check=(red == "sum"))
    # normalizer
    for nz in (1.0, 0.5, 3.0, 100.0):
        sm2_case(f"sm-norm/normalizer {gname(nz)}", z, classes=C, targets=t, gamma=2.0, normalizer=nz,
                 check=(nz == 0.5))
    sm2_case("sm-norm/soft weights normalizer 7", z, classes=C, probs=probs, weights=[1, 2, 0.5, 0], gamma=1.0,
             normalizer=7.0)
    sm2_case("sm-norm/ignore 255 normalizer 2 eps 1", z, classes=C, targets=[255, 0, 255, 3], ignore_index=255,
             gamma=2.0, normalizer=2.0, poly=1.0)
    sm2_case("sm-norm/all ignored normalizer 2", z, classes=C, targets=[-100] * 4, gamma=2.0, normalizer=2.0)
    a = sm2_case("sm-norm/normalizer 4 (= count)", z, classes=C, targets=t, gamma=2.0, normalizer=4.0, poly=0.5)
    b = sm2_case("sm-norm/mean (count 4) eps 0.5", z, classes=C, targets=t, gamma=2.0, poly=0.5)
    identity_cases(a, b, "normalizer = count")
    s = sm2_case("sm-norm/sum eps 0.5", z, classes=C, targets=t, gamma=2.0, reduction="sum", poly=0.5)
    n3 = sm2_case("sm-norm/normalizer 0.75 eps 0.5", z, classes=C, targets=t, gamma=2.0, normalizer=0.75, poly=0.5)
    assert abs(n3["expected"]["loss"] - s["expected"]["loss"] / 0.75) <= 1e-15 * abs(n3["expected"]["loss"])
    # stability edges with Poly-1: near-one rows, huge logits, masked classes, gamma < 1
    for g in (0.0, 0.5, 2.0):
        for pe in (1.0, -1.0):
            sm2_case(f"sm-poly/near1 rows [30,0,0],[0,70,0],[0,0,16] eps={gname(pe)} gamma={gname(g)} none",
                     [30, 0, 0, 0, 70, 0, 0, 0, 16], classes=3, targets=[0, 1, 2], gamma=g, poly=pe,
                     reduction="none")
            sm2_case(f"sm-poly/huge [1e4,-1e4,0] t=0,1,2 eps={gname(pe)} gamma={gname(g)} none",
                     [1e4, -1e4, 0] * 3, classes=3, targets=[0, 1, 2], gamma=g, poly=pe, reduction="none")
        sm2_case(f"sm-poly/near1 [700,0] f64 eps=1 gamma={gname(g)} none", [700, 0, 0, 700], classes=2,
                 targets=[0, 0], gamma=g, poly=1.0, reduction="none", dtypes=F64)
        sm2_case(f"sm-poly/masked [2,-inf,0,-inf] eps=-1 gamma={gname(g)} sum", [2, -INF, 0, -INF, -INF, 3, -INF, -INF],
                 classes=4, targets=[0, 1], gamma=g, poly=-1.0, reduction="sum")
    sm2_case("sm-poly/tiny logits [f32 minnormal,0,-f32 minnormal] eps=1", [F32_MIN_NORMAL, 0, -F32_MIN_NORMAL] * 3,
             classes=3, targets=[0, 1, 2], gamma=0.5, poly=1.0, reduction="none")
    sm2_case("sm-poly/C=1 eps=1", [3, -2, 0, 1e4], classes=1, targets=[0, 0, 0, 0], gamma=2.0, poly=1.0,
             reduction="none")
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        sm2_case(f"sm-poly/nonfinite {tag} eps=1 none", [1, 2, 0, 0, bad, 1, 3, -1, 0.5], classes=3, targets=[0, 2, 1],
                 gamma=2.0, poly=1.0, reduction="none")
        sm2_case(f"sm-poly/nonfinite {tag} eps=1 mean+normalizer", [1, 2, 0, 0, bad, 1, 3, -1, 0.5], classes=3,
                 targets=[0, 2, 1], gamma=2.0, poly=1.0, normalizer=2.0)
    sm2_case("sm-poly/empty classes 3 eps=1 mean+normalizer", [], classes=3, targets=[], poly=1.0, normalizer=2.0)
    sm2_case("sm-poly/empty shape [2,3,0] none", [], shape=[2, 3, 0], targets=[], poly=-1.0, reduction="none")


def quality_cases():
    qfl_case("qfl/defaults (beta 2, mean)", SMALL_X, SMALL_Y, reduction=None, check=True)
    for b in GAMMAS2:
        qfl_case(f"qfl/grid beta={gname(b)} none", EW_XS, EW_YS, beta=b, reduction="none")
        qfl_case(f"qfl/small beta={gname(b)} sum", SMALL_X, SMALL_Y, beta=b, reduction="sum", check=True)
    rng = random.Random(3)
    xs = [f32(rng.uniform(-10, 10)) for _ in range(24)]
    ys = [f32(rng.random()) for _ in range(24)]
    ws = [f32(rng.uniform(0, 2)) for _ in range(24)]
    for red, nz in RED4:
        qfl_case(f"qfl/soft weights {rname(red, nz)}", xs, ys, beta=2.0, weights=ws, reduction=red, normalizer=nz)
    # class-index targets
    for red, nz in RED4:
        qfl_case(f"qfl/indices C=3 {rname(red, nz)}", Z3, T3, classes=3, indices=True, beta=1.0, weights=W3,
                 reduction=red, normalizer=nz, check=(red == "none"))
    qfl_case("qfl/indices shape [2,3,2] ignoreIndex 255 beta=0.5 sum", Z3[:12], [255, 0, 3, 2], shape=[2, 3, 2],
             indices=True, ignore_index=255, beta=0.5, reduction="sum")
    # y = sigma(x) exactly (x = 0, y = 1/2) and within 1e-30 of it: x = 4e-30, y = 1/2; x = -+70, y = 0/1;
    # y the float32 nearest sigma(x) (|D| ~ 1e-9); y = sigma(x) at the limits x = -inf, y = 0
    near_x = [0.0, f32(4e-30), -f32(4e-30), -70.0, 70.0, -30.0, 30.0, F32_MIN_NORMAL, 0.0, 1e4]
    near_y = [0.5, 0.5, 0.5, 0.0, 1.0, 0.0, 1.0, 0.5, F32_MIN_NORMAL, 1.0]
    for b in GAMMAS2:
        qfl_case(f"qfl/y near sigma(x) beta={gname(b)} none", near_x, near_y, beta=b, reduction="none")
    for b in (0.5, 2.0):
        qfl_case(f"qfl/y near sigma(x) f64 (y the double nearest sigma(x)) beta={gname(b)} none",
                 [0.7, -3.0, F64_MIN_NORMAL, -F64_MIN_NORMAL, 1e-300, 2.0],
                 [float(1 / (1 + mp.exp(-mpf(0.7)))), float(1 / (1 + mp.exp(mpf(3)))), 0.5, 0.5, 0.5,
                  float(1 / (1 + mp.exp(mpf(-2))))], beta=b, reduction="none", dtypes=F64)
    yn = [f32(float(1 / (1 + mp.exp(-to_mp(v))))) for v in (f32(0.7), -3.0, 2.0)]
    qfl_case("qfl/y near sigma(x) (y the float32 nearest sigma(x)) beta=1 none", [f32(0.7), -3.0, 2.0], yn,
             beta=1.0, reduction="none")
    qfl_case("qfl/-inf logit y=0 none", [-INF, 1.0, -INF], [0, 1, 0], beta=0.5, reduction="none")
    qfl_case("qfl/f64 +-700", [700.0, -700.0, 700.0, -700.0], [1, 0, 0.5, 0.25], beta=2.0, reduction="none",
             dtypes=F64)
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        for red, nz in (("none", None), ("sum", None), ("mean", 2.0)):
            qfl_case(f"qfl/nonfinite {tag} {rname(red, nz)}", [1.0, bad, -2.0], [1, 0.25, 0], reduction=red,
                     normalizer=nz)
    for red, nz in RED4:
        qfl_case(f"qfl/empty {rname(red, nz)}", [], [], reduction=red, normalizer=nz)
    qfl_case("qfl/empty indices classes 2", [], [], classes=2, indices=True, reduction="mean")


def varifocal_cases():
    vx = [0.0, 1.0, -1.0, 4.0, -4.0, 30.0, -30.0, 70.0, -70.0, 1e4, -1e4]
    vq = [0.0, 1.0, 0.5, 0.125]
    vxs = [x for x in vx for _ in vq]
    vqs = [q for _ in vx for q in vq]
    vfl_case("vfl/defaults (alpha 0.75, gamma 2, iouWeighted, mean)", SMALL_X, [0.0, 0.75, 0.0, 0.25, 1.0, 0.0],
             reduction=None, check=True)
    for g in GAMMAS2:
        for io in (True, False):
            vfl_case(f"vfl/grid gamma={gname(g)} iouWeighted={str(io).lower()} none", vxs, vqs, gamma=g, iou=io,
                     reduction="none")
        vfl_case(f"vfl/small gamma={gname(g)} alpha=0.25 sum", SMALL_X, [0.0, 0.75, 0.0, 0.25, 1.0, 0.0], gamma=g,
                 alpha=0.25, reduction="sum", check=True)
    rng = random.Random(11)
    xs = [f32(rng.uniform(-10, 10)) for _ in range(24)]
    qs = [0.0 if rng.random() < 0.5 else f32(rng.random()) for _ in range(24)]
    ws = [f32(rng.uniform(0, 2)) for _ in range(24)]
    for red, nz in RED4:
        vfl_case(f"vfl/soft weights {rname(red, nz)}", xs, qs, weights=ws, reduction=red, normalizer=nz)
    vfl_case("vfl/soft iouWeighted=false gamma=0.5 mean", xs, qs, iou=False, gamma=0.5, reduction="mean",
             check=True)
    for red, nz in RED4:
        vfl_case(f"vfl/indices C=3 {rname(red, nz)}", Z3, T3, classes=3, indices=True, weights=W3, reduction=red,
                 normalizer=nz, check=(red == "none"))
    vfl_case("vfl/indices shape [2,3,2] ignoreIndex -1 gamma=0.5 sum", Z3[:12], [-1, 0, 3, 2], shape=[2, 3, 2],
             indices=True, ignore_index=-1, gamma=0.5, reduction="sum")
    ex = [70.0, -70.0, 70.0, -70.0, 1e4, -1e4, F32_MIN_NORMAL, -F32_MIN_NORMAL, 0.0, 30.0, -30.0]
    eq = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, F32_MIN_NORMAL, F32_MIN_NORMAL, 0.5, 0.5]
    for g in (0.0, 0.5, 1.0, 3.5):
        vfl_case(f"vfl/edges gamma={gname(g)} none", ex, eq, gamma=g, reduction="none")
    vfl_case("vfl/edges f64 +-700 min normal", [700.0, -700.0, 700.0, F64_MIN_NORMAL, -F64_MIN_NORMAL],
             [0.0, 0.0, 0.25, 0.0, F64_MIN_NORMAL], gamma=0.5, reduction="none", dtypes=F64)
    vfl_case("vfl/-inf logit q=0 none", [-INF, 1.0, -INF], [0, 1, 0], gamma=0.5, reduction="none")
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        for red, nz in (("none", None), ("sum", None), ("mean", 2.0)):
            vfl_case(f"vfl/nonfinite {tag} {rname(red, nz)}", [1.0, bad, -2.0, bad], [1, 0.25, 0, 0], reduction=red,
                     normalizer=nz)
    for red, nz in RED4:
        vfl_case(f"vfl/empty {rname(red, nz)}", [], [], reduction=red, normalizer=nz)


def asl_edge_logits(clip, dt_f32, k):
    """k logits just above logit(clip) (p - clip small but well above rounding): float32 numbers when dt_f32."""
    x0 = mp.log(to_mp(clip) / (1 - to_mp(clip)))
    out = []
    for off in k:
        v = float(x0 + off)
        out.append(f32(v) if dt_f32 else v)
    for v in out:
        p = 1 / (1 + mp.exp(-to_mp(v)))
        assert p > to_mp(clip), (v, p, clip)
    return out


def asymmetric_cases():
    for dt in ("f64", "f32"):
        asl_case(f"asl/defaults {dt} (gammaPos 1, gammaNeg 4, clip 0.05 in {dt}, mean)", SMALL_X, SMALL_Y,
                 reduction=None, dtypes=(dt,), check=True)
        asl_case(f"asl/defaults {dt} grid none", EW_XS, EW_YS, reduction="none", dtypes=(dt,))
    combos = ((0.0, 0.0), (1.0, 4.0), (0.0, 1.0), (2.0, 0.5), (3.5, 2.0), (0.5, 3.5))
    for gp, gn in combos:
        for cl in (0.0, F32_CLIP):
            for det in (False, True):
                asl_case(f"asl/grid gammaPos={gname(gp)} gammaNeg={gname(gn)} clip={gname(cl)} "
                         f"detach={str(det).lower()} none", EW_XS, EW_YS, gamma_pos=gp, gamma_neg=gn, clip=cl,
                         detach=det, reduction="none")
            asl_case(f"asl/small gammaPos={gname(gp)} gammaNeg={gname(gn)} clip={gname(cl)} sum", SMALL_X, SMALL_Y,
                     gamma_pos=gp, gamma_neg=gn, clip=cl, reduction="sum", check=True)
    for gp, gn, cl in ((1.0, 4.0, F32_CLIP), (2.0, 0.5, 0.0), (0.5, 1.0, 0.125)):
        asl_case(f"asl/small detach gammaPos={gname(gp)} gammaNeg={gname(gn)} clip={gname(cl)} sum (frozen-factor "
                 f"derivative)", SMALL_X, SMALL_Y, gamma_pos=gp, gamma_neg=gn, clip=cl, detach=True, reduction="sum",
                 check=True)
    rng = random.Random(13)
    xs = [f32(rng.uniform(-10, 10)) for _ in range(24)]
    ys = [rng.choice((0.0, 1.0, f32(rng.random()))) for _ in range(24)]
    ws = [f32(rng.uniform(0, 2)) for _ in range(24)]
    for red, nz in RED4:
        asl_case(f"asl/mixed weights clip 0.05f32 {rname(red, nz)}", xs, ys, clip=F32_CLIP, weights=ws, reduction=red,
                 normalizer=nz)
    for red, nz in RED4:
        asl_case(f"asl/indices C=3 {rname(red, nz)}", Z3, T3, classes=3, indices=True, clip=F32_CLIP, weights=W3,
                 reduction=red, normalizer=nz, check=(red == "none"))
    asl_case("asl/indices shape [2,3,2] ignoreIndex 255 detach sum", Z3[:12], [255, 0, 3, 2], shape=[2, 3, 2],
             indices=True, ignore_index=255, clip=0.0, detach=True, gamma_neg=0.5, reduction="sum")
    # p just above clip with gammaNeg = 0.5 (and 2, 0), p far below clip, both sides of the clip edge
    for gn in (0.5, 0.0, 2.0):
        for det in (False, True):
            xf = asl_edge_logits(F32_CLIP, True, [mpf(2) ** -9, mpf(2) ** -12, mpf(1e-3), mpf(0.01)]) + \
                [f32(-3.2), -4.0, -30.0, f32(-2.95)]
            asl_case(f"asl/p just above clip gammaNeg={gname(gn)} detach={str(det).lower()} none", xf, [0.0] * 8,
                     clip=F32_CLIP, gamma_neg=gn, detach=det, reduction="none")
            xd = asl_edge_logits(0.05, False, [mpf(1e-10), mpf(1e-8), mpf(1e-6), mpf(1e-4)]) + [-2.9445, -3.0]
            asl_case(f"asl/p just above clip f64 gammaNeg={gname(gn)} detach={str(det).lower()} none", xd, [0.0] * 6,
                     clip=None, gamma_neg=gn, detach=det, reduction="none", dtypes=F64)
    ex = [70.0, -70.0, 70.0, -70.0, 30.0, -30.0, 1e4, -1e4, 1e4, -1e4, F32_MIN_NORMAL, -F32_MIN_NORMAL]
    ey = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.5, 1.0]
    for gp, gn in ((0.5, 0.5), (1.0, 4.0), (0.0, 0.0)):
        for cl in (0.0, F32_CLIP):
            asl_case(f"asl/edges gammaPos={gname(gp)} gammaNeg={gname(gn)} clip={gname(cl)} none", ex, ey,
                     gamma_pos=gp, gamma_neg=gn, clip=cl, reduction="none")
    asl_case("asl/edges f64 +-700 min normal", [700.0, -700.0, 700.0, F64_MIN_NORMAL, -F64_MIN_NORMAL],
             [0.0, 1.0, 1.0, 0.0, 1.0], gamma_pos=0.5, gamma_neg=0.5, clip=0.0, reduction="none", dtypes=F64)
    asl_case("asl/-inf logit y=0 none", [-INF, 1.0, -INF], [0, 1, 0], clip=F32_CLIP, gamma_neg=0.5, reduction="none")
    for bad, tag in ((NAN, "nan"), (INF, "+inf")):
        for red, nz in (("none", None), ("sum", None), ("mean", 2.0)):
            asl_case(f"asl/nonfinite {tag} {rname(red, nz)}", [1.0, bad, -2.0], [1, 0, 0], clip=F32_CLIP,
                     reduction=red, normalizer=nz)
    for red, nz in RED4:
        asl_case(f"asl/empty {rname(red, nz)}", [], [], clip=F32_CLIP, reduction=red, normalizer=nz)


# ----------------------------------------------------------------------------------------------------------
# random batches of the planned cases
# ----------------------------------------------------------------------------------------------------------

def _random_ew_inputs(rng, f64_only, soft_zero_share=0.0):
    """(kwargs with logits, targets, layout, weights, reduction, normalizer, dtypes), layout C or None."""
    rnd = (lambda v: v) if f64_only else f32
    span = 12 if not f64_only else rng.choice((12, 100, 700))
    kw = {}
    C = None
    if rng.random() < 0.45:  # class-index targets
        C = loguniform_int(rng, 1, 8)
        if rng.random() < 0.6:
            M = loguniform_int(rng, 1, 12)
            kw["classes"], n_items = C, M
            n = M * C
        else:
            N = rng.randint(1, 2)
            dims = [rng.randint(1, 3) for _ in range(rng.randint(1, 2))]
            kw["shape"] = [N, C] + dims
            n_items = N * math.prod(dims)
            n = n_items * C
        ign = rng.choice((None, None, 255, -1))
        kw["indices"] = True
        if ign is not None:
            kw["ignore_index"] = ign
        iv = -100 if ign is None else ign
        kw["targets"] = [iv if rng.random() < 0.1 else (C if rng.random() < 0.2 else rng.randrange(C))
                         for _ in range(n_items)]
        if rng.random() < 0.4:
            kw["weights"] = [0.0 if rng.random() < 0.1 else rnd(rng.uniform(0, 2)) for _ in range(n_items)]
    else:
        n = loguniform_int(rng, 1, 40)
        r = rng.random()
        if r < 0.35:
            y = [float(rng.random() < 0.3) for _ in range(n)]
        elif r < 0.75:
            y = [0.0 if rng.random() < soft_zero_share else rnd(rng.random()) for _ in range(n)]
        else:
            y = [rng.choice((0.0, 1.0, 0.5, rnd(rng.random()))) for _ in range(n)]
        kw["targets"] = y
        if rng.random() < 0.4:
            kw["weights"] = [0.0 if rng.random() < 0.1 else rnd(rng.uniform(0, 2)) for _ in range(n)]
    kw["logits"] = [rnd(rng.uniform(-span, span) * (5 if rng.random() < 0.15 else 1)) for _ in range(n)]
    red = rng.choice(("none", "sum", "mean", "mean+"))
    kw["reduction"] = "mean" if red == "mean+" else red
    if red == "mean+":
        kw["normalizer"] = rnd(rng.uniform(0.5, 50))
    kw["dtypes"] = F64 if f64_only else BOTH
    return kw, C


def _away_from_clip(logits, clip, dtypes):
    """Moves logits whose p is within 1e-4 of clip (ambiguous under rounding) away from it."""
    out = []
    for v in logits:
        if not math.isfinite(v):
            out.append(v)
            continue
        p = 1 / (1 + mp.exp(-to_mp(v)))
        if abs(p - to_mp(clip)) < mpf(10) ** -4:
            v = v - 0.25
            v = f32(v) if "f32" in dtypes else v
        out.append(v)
    return out


def random_planned():
    rng = random.Random(20250301)
    for kind_i, (kind, n_both, n_f64) in enumerate((("sigmoid", 20, 5), ("quality", 15, 4), ("varifocal", 15, 4),
                                                     ("asymmetric", 18, 5))):
        for i in range(n_both + n_f64):
            f64_only = i >= n_both
            rnd = (lambda v: v) if f64_only else f32
            kw, C = _random_ew_inputs(rng, f64_only, soft_zero_share=0.5 if kind == "varifocal" else 0.0)
            logits, targets = kw.pop("logits"), kw.pop("targets")
            small = len(logits) <= 24
            kw["check"] = small and i % 3 == 0
            name = f"{ {'sigmoid': 'sig-opts', 'quality': 'qfl', 'varifocal': 'vfl', 'asymmetric': 'asl'}[kind]}" \
                   f"/random/{i}{' f64' if f64_only else ''}"
            if kind == "sigmoid":
                pw = None
                r = rng.random()
                if r < 0.3:
                    pw = rnd(rng.uniform(0.25, 5))
                elif r < 0.5 and C is not None:
                    pw = [rnd(rng.uniform(0.25, 5)) for _ in range(C)]
                sig2_case(name, logits, targets, gamma=rng.choice(GAMMAS2),
                          alpha=rng.choice((0.25, 0.25, 0.5, 0.75, None, rnd(rng.random()))),
                          label_smoothing=rng.choice((0.0, 0.0, 0.0, 0.125, f32(0.1))), pos_weight=pw,
                          poly=rng.choice((None, None, 1.0, -1.0, rnd(rng.uniform(-1.5, 3)))), **kw)
            elif kind == "quality":
                qfl_case(name, logits, targets, beta=rng.choice(GAMMAS2 + (None,)), **kw)
            elif kind == "varifocal":
                vfl_case(name, logits, targets, alpha=rng.choice((None, 0.25, rnd(rng.random()))),
                         gamma=rng.choice((None,) + GAMMAS2), iou=rng.choice((None, True, False)), **kw)
            else:
                cl = rng.choice((0.0, F32_CLIP, F32_CLIP, rnd(rng.uniform(0.02, 0.2))))
                logits = _away_from_clip(logits, cl, kw["dtypes"]) if cl > 0 else logits
                asl_case(name, logits, targets, gamma_pos=rng.choice((None, 0.0, 0.5, 1.0, 2.0)),
                         gamma_neg=rng.choice((None, 0.0, 0.5, 2.0, 3.5, 4.0)), clip=cl,
                         detach=rng.choice((None, True, False)), **kw)
    # softmax with polyEpsilon / normalizer
    for i in range(24):
        f64_only = i >= 20
        rnd = (lambda v: v) if f64_only else f32
        C = loguniform_int(rng, 1, 12)
        if rng.random() < 0.7:
            M = loguniform_int(rng, 1, 12)
            classes, shape, N, S = C, None, M, 1
        else:
            N = rng.randint(1, 2)
            dims = [rng.randint(1, 3) for _ in range(rng.randint(1, 2))]
            classes, shape, S = None, [N, C] + dims, math.prod(dims)
            M = N * S
        soft = rng.random() < 0.3
        span = 15 if not f64_only else rng.choice((15, 100, 700))
        logits = [rnd(rng.uniform(-span, span)) for _ in range(M * C)]
        ignore_index = rng.choice((-100, -100, 255))
        targets = None if soft else [ignore_index if rng.random() < 0.1 else rng.randrange(C) for _ in range(M)]
        probs = None
        if soft:
            probs = [0.0] * (M * C)
            for n in range(N):
                for s in range(S):
                    for c, v in enumerate(dyadic_partition(rng, C, 4096)):
                        probs[n * C * S + c * S + s] = v
        r = rng.random()
        alpha = None if r < 0.5 else (rnd(rng.uniform(0.05, 1)) if r < 0.75 else
                                      [rnd(rng.uniform(0.05, 1)) for _ in range(C)])
        red = rng.choice(("none", "sum", "mean", "mean+"))
        sm2_case(f"sm-poly/random/{i}{' f64' if f64_only else ''}", logits, classes=classes, shape=shape,
                 targets=targets, probs=probs, gamma=rng.choice(GAMMAS2), alpha=alpha,
                 reduction="mean" if red == "mean+" else red, ignore_index=ignore_index,
                 label_smoothing=rng.choice((0.0, 0.0, 0.0625, 0.125)),
                 weights=None if rng.random() < 0.6 else [rnd(rng.uniform(0, 2)) for _ in range(M)],
                 poly=rng.choice((None, 1.0, -1.0, rnd(rng.uniform(-2, 3)))),
                 normalizer=rnd(rng.uniform(0.5, 40)) if red == "mean+" else None, dtypes=F64 if f64_only else BOTH,
                 check=(len(logits) <= 24 and i % 3 == 0))


def accuracy_cases():
    """Losses that are themselves small differences (issue 17): Poly-1 with -a <= eps < 0 where 1 - p_t is small
    (softmax hard, probability rows, channels-first, wide rows; sigmoid hard, posWeight, soft), and the sigmoid focal
    factor m^gamma of a soft target with m near 1 and a large gamma.  Held to the relative rule (scales of
    poly_terms); every one of these failed before the series forms and the log m of 1 - m (crate/src/simd/math.rs)."""
    # softmax, hard targets: rows [k, 0, 0] (1 - p_t = 2 e^-k), target 0
    ks32 = [6, 8, 10, 12, 16, 20, 30, 40]
    ks64 = [14, 18, 25, 30, 40, 60, 100, 300, 700]
    for g in (0.0, 0.5, 2.0):
        for ks, dts, tag in ((ks32, BOTH, ""), (ks64, F64, " f64")):
            z = [v for k in ks for v in (float(k), 0.0, 0.0)]
            sm2_case(f"acc/sm-poly rows [k,0,0]{tag} eps=-1 gamma={gname(g)} none", z, classes=3,
                     targets=[0] * len(ks), gamma=g, poly=-1.0, reduction="none", dtypes=dts)
    sm2_case("acc/sm-poly rows [k,0,0] alpha 0.25 eps=-0.25 gamma=2 none", [v for k in ks32 for v in (k, 0, 0)],
             classes=3, targets=[0] * len(ks32), gamma=2.0, alpha=0.25, poly=-0.25, reduction="none")
    # a + eps = 2^-12 > 0: the loss is ~2^-12 (1 - p_t)^(g+1), from terms 4096 times larger
    sm2_case("acc/sm-poly rows [k,0,0] f32 eps=-(1-2^-12) gamma=1 sum", [v for k in ks32 for v in (k, 0, 0)],
             classes=3, targets=[0] * len(ks32), gamma=1.0, poly=-(1 - 2.0 ** -12), reduction="sum", dtypes=F32)
    sm2_case("acc/sm-poly rows [k,0,0] f64 eps=-(1-2^-30) gamma=1 sum", [v for k in ks64 for v in (k, 0, 0)],
             classes=3, targets=[0] * len(ks64), gamma=1.0, poly=-(1 - 2.0 ** -30), reduction="sum", dtypes=F64)
    sm2_case("acc/sm-poly probs one-hot rows [k,0,0] eps=-1 gamma=0.5 none", [v for k in ks32 for v in (k, 0, 0)],
             classes=3, probs=[v for _ in ks32 for v in (1.0, 0.0, 0.0)], gamma=0.5, poly=-1.0, reduction="none")
    sm2_case("acc/sm-poly probs [1,0,0] f64 eps=-1 gamma=2 none", [v for k in ks64 for v in (k, 0, 0)], classes=3,
             probs=[v for _ in ks64 for v in (1.0, 0.0, 0.0)], gamma=2.0, poly=-1.0, reduction="none", dtypes=F64)
    zcf = [0.0] * 12
    for s_, (k, t_) in enumerate(zip((10, 16, 20, 30), (0, 1, 2, 0))):
        zcf[t_ * 4 + s_] = float(k)  # class t_ of position s_ (element c S + s)
    sm2_case("acc/sm-poly shape [1,3,4] eps=-1 gamma=0 none", zcf, shape=[1, 3, 4], targets=[0, 1, 2, 0],
             gamma=0.0, poly=-1.0, reduction="none")
    wide = [0.0] * 40
    wide[3], wide[20 + 17] = 20.0, 12.0
    sm2_case("acc/sm-poly wide rows C=20 eps=-1 gamma=2 none", wide, classes=20, targets=[3, 17], gamma=2.0,
             poly=-1.0, reduction="none")
    # sigmoid, hard targets (y = 1 at x, y = 0 at -x: the same m)
    xs32 = [6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 30.0, 40.0]
    xs64 = [15.0, 18.0, 25.0, 40.0, 100.0, 300.0, 700.0]
    for g in (0.0, 0.5, 2.0):
        for xs, dts, tag in ((xs32, BOTH, ""), (xs64, F64, " f64")):
            sig2_case(f"acc/sig-poly hard{tag} alpha off eps=-1 gamma={gname(g)} none", xs + [-v for v in xs],
                      [1.0] * len(xs) + [0.0] * len(xs), gamma=g, alpha=None, poly=-1.0, reduction="none", dtypes=dts)
    sig2_case("acc/sig-poly hard alpha 0.25 eps=-0.25 gamma=2 none", xs32 + [-v for v in xs32],
              [1.0] * len(xs32) + [0.0] * len(xs32), gamma=2.0, alpha=0.25, poly=-0.25, reduction="none")
    sig2_case("acc/sig-poly hard posWeight 2 eps=-2 gamma=1 sum", xs32, [1.0] * len(xs32), gamma=1.0, alpha=None,
              pos_weight=2.0, poly=-2.0, reduction="sum")
    sig2_case("acc/sig-poly hard class indices eps=-1 gamma=2 none", [12.0, -12.0, -20.0, 20.0], [0, 1], classes=2,
              indices=True, gamma=2.0, alpha=None, poly=-1.0, reduction="none")
    # sigmoid, soft targets near 0 (and 1) with p ~ sqrt(2 y |x|): CE - m ~ y |x| + p^2/2 from terms ~ p
    sy = [f32(1e-12), f32(1e-10), f32(1e-8)]
    sx = [-13.0, -11.5, -9.0]
    for g in (0.0, 2.0):
        sig2_case(f"acc/sig-poly soft near 0 f32 alpha off eps=-1 gamma={gname(g)} none", sx, sy, gamma=g,
                  alpha=None, poly=-1.0, reduction="none", dtypes=F32)
    sig2_case("acc/sig-poly soft near 0 and 1 f64 alpha off eps=-1 gamma=0.5 none", [-22.0, -26.0, 19.0, 17.0],
              [1e-20, 1e-22, 1 - 2.0 ** -53, 1 - 2.0 ** -50], gamma=0.5, alpha=None, poly=-1.0, reduction="none",
              dtypes=F64)
    # large gamma with a soft target: m = 1 - (y p + (1 - y)(1 - p)) near 1, m^gamma = exp(gamma log m)
    gx = [88.0, 20.0, -30.0, 5.0, -88.0]
    gy = [f32(1e-7), f32(1e-5), 1 - 2.0 ** -20, f32(1e-3), 1 - 2.0 ** -23]
    for g in (1e5, 1e6):  # float32 (float64 rounds m to 1e-16: gamma u within its 1e-10 up to gamma ~ 1e6)
        sig2_case(f"acc/sig soft large gamma={gname(g)} f32 none", gx, gy, gamma=g, reduction="none", dtypes=F32)
    for g in (1e9, 1e12):
        sig2_case(f"acc/sig soft large gamma={gname(g)} f64 none", [88.0, 700.0, -40.0, 30.0],
                  [1e-9, 1e-10, 1 - 2.0 ** -33, 1e-12], gamma=g, reduction="none", dtypes=F64)
    acc_subtract_cases()


def f32_step(v, k):
    """The float32 k steps of one ulp from v towards +inf (k < 0: towards -inf); v finite, non-zero, no sign change."""
    i = struct.unpack("<i", struct.pack("<f", v))[0]
    return struct.unpack("<f", struct.pack("<i", i + (k if v > 0 else -k)))[0]


def f64_step(v, k):
    for _ in range(abs(k)):
        v = math.nextafter(v, INF if k > 0 else -INF)
    return v


def acc_subtract_cases():
    """The two losses of the weaker rule (CONTRACT.md § Accuracy, "Two losses meet a weaker rule where they subtract"),
    at the points where they subtract, with the rule's scales as worded (quality_weak_elem, asymmetric_weak_elem):
    QFL with y a few ulps from sigma(x) (the float32 rows in both dtypes: in float64 |D| ~ 1e-8 c still loses 8 of
    16 digits), ASL with sigma(x) a few ulps above clip.  Points where an error of 8 u c in D is not first-order
    (|D| below about 4 u c: the QFL float32 y the nearest sigma(x), ASL p_m < 5 u c) are left out: there the
    first-order rule does not describe a rounded D (generate.py's perturbation check would fail)."""
    # QFL: y = the float32 nearest sigma(x), +-1 and +-2 ulps (x = -1.3, +1 ulp: y = 0.21416504681110382, issue 17)
    qx32 = [f32(-1.3), 0.5, f32(0.7), -3.0, 2.0, 4.5, -0.25]
    qx, qy = [], []
    for x in qx32:
        y0 = f32(float(1 / (1 + mp.exp(-to_mp(x)))))
        for k in (-2, -1, 1, 2):
            qx.append(x), qy.append(f32_step(y0, k))
    for b in (0.5, 1.0, 2.0):
        qfl_case(f"acc/qfl y a few float32 ulps from sigma(x) beta={gname(b)} none", qx, qy, beta=b,
                 reduction="none", weak=True, check=(b == 2.0))
    qfl_case("acc/qfl y a few float32 ulps from sigma(x) beta=2 sum", qx, qy, beta=2.0, reduction="sum", weak=True)
    # float64: y = the double nearest sigma(x) and +-1, +-2 ulps
    dx, dy = [], []
    for x in (0.5, -1.3, 2.0, -4.0, 7.0, 0.1, -0.8):
        y0 = float(1 / (1 + mp.exp(-to_mp(x))))
        for k in (-2, -1, 0, 1, 2):
            dx.append(x), dy.append(f64_step(y0, k))
    dx.append(0.5), dy.append(0.6224593934477877)  # issue 17's float64 point (8.7e-10 relative before)
    for b in (0.5, 1.0, 2.0, 3.0):
        qfl_case(f"acc/qfl f64 y a few ulps from sigma(x) beta={gname(b)} none", dx, dy, beta=b, reduction="none",
                 dtypes=F64, weak=True)
    qfl_case("acc/qfl f64 y a few ulps from sigma(x) beta=2 sum", dx, dy, beta=2.0, reduction="sum", dtypes=F64,
             weak=True)

    # ASL: the first 6 logits above the one nearest logit(clip) with p_m >= 5 u c (float32 steps: at clip
    # float32(0.05), x = -2.9444379806518555 is 0.20 relative off, issue 17)
    def above_clip(clips, step, u):
        xs = []
        for cl in clips:
            x0 = float(mp.log(to_mp(cl) / (1 - to_mp(cl))))
            x0 = f32(x0) if step is f32_step else x0
            got, k = 0, 0
            while got < 6:
                k += 1
                x = step(x0, k)
                if 1 / (1 + mp.exp(-to_mp(x))) - to_mp(cl) >= 5 * u * 2 * to_mp(cl):
                    xs.append(x)
                    got += 1
        return xs

    for clips, step, dts, tag in (((F32_CLIP, 0.125, f32(0.3)), f32_step, BOTH, "float32"),
                                  ((0.05, 0.125, 0.3), f64_step, F64, "f64")):
        u = float(U_DT["f32" if dts == BOTH else "f64"])
        for cl in clips:
            ax = above_clip([cl], step, u)
            if cl == F32_CLIP and dts == BOTH:
                assert -2.9444379806518555 in ax
            n = f"acc/asl {tag} sigma(x) just above clip={gname(cl)}"
            for gn in (0.5, 1.0, 2.0, 4.0):
                asl_case(f"{n} gammaNeg={gname(gn)} none", ax, [0.0] * 6, gamma_neg=gn, clip=cl, reduction="none",
                         dtypes=dts, weak=True, check=(gn == 0.5))
            asl_case(f"{n} gammaNeg=4 sum", ax, [0.0] * 6, gamma_neg=4.0, clip=cl, reduction="sum", dtypes=dts,
                     weak=True)
            asl_case(f"{n} gammaNeg=0.5 detach none", ax, [0.0] * 6, gamma_neg=0.5, clip=cl, detach=True,
                     reduction="none", dtypes=dts, weak=True)
            asl_case(f"{n} soft y=0.25 gammaPos=2 gammaNeg=4 none", ax, [0.25] * 6, gamma_pos=2.0, gamma_neg=4.0,
                     clip=cl, reduction="none", dtypes=dts, weak=True)


def planned_cases():
    identities_existing()
    identities_elementwise()
    sigmoid_index_cases()
    sigmoid_dense_cases()
    softmax_poly_cases()
    quality_cases()
    varifocal_cases()
    asymmetric_cases()
    random_planned()
    accuracy_cases()


# ----------------------------------------------------------------------------------------------------------

def main():
    t0 = time.time()
    softmax_near_one()
    softmax_wrong()
    softmax_huge()
    softmax_masked()
    softmax_class_counts()
    softmax_tiny()
    softmax_ignore()
    softmax_label0()
    softmax_options()
    softmax_shapes()
    softmax_empty()
    softmax_nonfinite()
    sigmoid_grid()
    sigmoid_confident()
    sigmoid_misc()
    random_cases()
    softmax_gamma0_is_ce()
    t1 = time.time()
    planned_cases()

    head = json.dumps({"generated": GENERATED}, ensure_ascii=False)[:-1]
    lines = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in CASES]
    planned = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in PLANNED]
    with open(OUT, "w", encoding="utf-8") as f:  # one array, the later cases after the original ones
        f.write(head + ',"cases":[\n' + ",\n".join(lines + planned) + "\n]}\n")
    with open(OUT, encoding="utf-8") as f:  # round-trip sanity check
        data = json.load(f)
    assert list(data)[0] == "generated"
    assert len(data["cases"]) == len(CASES) + len(PLANNED) > 0
    n_sm = sum(c["kind"] == "softmax" for c in CASES)
    print(f"wrote {OUT}: {len(CASES)} cases ({n_sm} softmax, {len(CASES) - n_sm} sigmoid), "
          f"{os.path.getsize(OUT)} bytes, {STATS['diff_checked_entries']} gradient entries checked against mp.diff, "
          f"{time.time() - t0:.1f} s", file=sys.stderr)
    kinds = {}
    for c in PLANNED:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    print(f"  later cases (after the original ones in \"cases\"): {len(PLANNED)} "
          f"({', '.join(f'{v} {k}' for k, v in kinds.items())}), {sum(len(s) + 2 for s in planned)} bytes, "
          f"{PSTATS['identities']} identity checks, {PSTATS['perturbation_checks']} perturbation checks, "
          f"{time.time() - t1:.1f} s of the total", file=sys.stderr)


if __name__ == "__main__":
    main()
