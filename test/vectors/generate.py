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

JSON format: {"generated": "...", "cases": [case, ...]}; see the README-style comment above `softmax_case`
and `sigmoid_case` for the keys of a case.  Expected numbers are the correctly rounded doubles of the
60-digit values (values below the double range become subnormals or 0.0); non-finite numbers are written
as the strings "inf", "-inf", "nan".
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

    head = json.dumps({"generated": GENERATED}, ensure_ascii=False)[:-1]
    lines = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in CASES]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(head + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n")
    with open(OUT, encoding="utf-8") as f:  # round-trip sanity check
        data = json.load(f)
    assert list(data)[0] == "generated" and len(data["cases"]) == len(CASES)
    n_sm = sum(c["kind"] == "softmax" for c in CASES)
    print(f"wrote {OUT}: {len(CASES)} cases ({n_sm} softmax, {len(CASES) - n_sm} sigmoid), "
          f"{os.path.getsize(OUT)} bytes, {STATS['diff_checked_entries']} gradient entries checked against mp.diff, "
          f"{time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
