//! Softmax (multi-class) focal loss and its gradient: validation, the public entry points and the
//! scalar kernels (one item at a time, std's exp / ln / ln_1p: `hard_item`, `soft_item`), which are
//! the reference of the vectorised hard-target kernel (`crate::simd::softmax`) and the path of
//! soft targets and label smoothing.
//!
//! # Method
//!
//! For one item with logits z (C classes), p = softmax(z), target distribution q, class weights a,
//! item weight w and γ ≥ 0:
//!
//!   l = −w · Σ_c a_c q_c (1 − p_c)^γ log p_c
//!
//! With ∂p_c/∂z_j = p_c(δ_cj − p_j) and p·d/dp[(1 − p)^γ log p] = (1 − p)^γ (1 + γ p r),
//! r = −log p / (1 − p), the gradient is
//!
//!   ∂l/∂z_j = w · (u_j − p_j Σ_c u_c),   u_c = a_c q_c h_c,   h_c = −(1 − p_c)^γ (1 + γ p_c r_c).
//!
//! For a hard target t this is G·(δ_jt − p_j) with G = w a_t h_t.
//!
//! Poly-1 (Leng et al., ICLR 2022; after alpha, as the PolyLoss authors' `poly1_focal_loss`):
//!
//!   l = w · Σ_c q_c [−a_c (1 − p_c)^γ log p_c + ε (1 − p_c)^(γ+1)],
//!
//! whose ε term adds −ε q_c (γ + 1)(1 − p_c)^γ p_c to u_c — the sign of the focal term's for ε > 0,
//! so the two never cancel. For a hard target G = w [a_t h_t − ε (γ + 1)(1 − p_t)^γ p_t].
//! (1 − p)^(γ+1) = (1 − p)^γ · (1 − p), both factors from the stable forms below (for the top class
//! (S′/(1 + S′))^γ · S′/(1 + S′)).
//!
//! Stable evaluation (CONTRACT.md § Stability). Let k be the row's largest logit and
//! S′ = Σ_{j≠k} e^(z_j − z_k) ∈ [0, C − 1] (carried in f64). Then 1 + S′ is the softmax denominator
//! scaled by e^(−z_k):
//! - log p_c = (z_c − z_k) − log1p(S′): one rounding of an exact difference, no log of a rounded p.
//! - For the top class, p_k = 1/(1 + S′) and 1 − p_k = S′/(1 + S′): no subtraction from 1, so
//!   1 − p_k keeps full relative precision even when it is 1e-300.
//!   log(1 − p_k) = log S′ − log1p(S′), and p_k r_k = log1p(S′)/S′, which tends to 1 as S′ → 0.
//! - For every other class p_c ≤ ½, so 1 − p_c and log1p(−p_c) need no care.
//! - (1 − p)^γ = exp(γ·log(1 − p)), and exactly 1 when γ = 0. Because r absorbs the
//!   (1 − p)^(γ−1) factor of the derivative analytically, 0 < γ < 1 never evaluates 0^(negative).
//! - The target's gradient entry is G·(1 − p_t) with the stable 1 − p_t, not G − G·p_t.
//! - For soft targets the top class's entry is computed as u_k(1 − p_k) − p_k Σ_{c≠k} u_c, so a
//!   one-hot probability row gives exactly the hard-target result.
//!
//! # Special cases
//!
//! - Terms with q_c = 0 are skipped (0·log 0 = 0): masked (−∞) classes give finite results.
//! - p_c r_c is taken as 0 when p_c = 0 (a masked class: 0·∞ would be NaN, the limit is 0).
//! - Any NaN in a row, or a +∞ logit, makes that item's loss NaN (S′ is poisoned).
//! - ε = 0 skips the Poly-1 term (the results are those without Poly-1, bit for bit). For ε < 0 the
//!   focal and Poly-1 terms do cancel where 1 − p_c is small (ε = −a_c: the loss is
//!   ≈ (1 − p)^(γ+2)/2 from terms ≈ (1 − p)^(γ+1)); there, for 1 − p_c ≤ 1/16, the bracket of the
//!   loss and of u_c come from their Taylor series in 1 − p_c, a sum of non-negative terms when
//!   a_c + ε ≥ 0 (`simd::math::POLY_SERIES_MAX`, with the derivation).
//! - An ignored item (the ignore index) has loss 0 and gradient 0 and is not counted.
//!
//! # Accuracy
//!
//! CONTRACT.md § Accuracy: for every finite input about 1e-12 relative for float64 and 1e-5 for
//! float32, enforced by the mpmath vectors with rtol 1e-10 (float64) and 3e-5 (float32); a gradient
//! entry's scale is the magnitude of the terms that make it up. Poly-1 with ε ≥ −a meets the
//! relative rule, its loss included; for ε < −a the loss changes sign and a term's scale is the size
//! of its two parts. Above 1 − p = 1/16 the direct Poly-1 forms lose at most a factor 32. The
//! vectorised kernel runs the same formulas with `simd::math`'s exp / ln / ln_1p, within a few
//! ulps-worth of these (crate/tests/simd_kernels.rs).

use crate::real::Real;
use crate::simd::math::{poly_small, POLY_SERIES_MAX};
use crate::{
    check_gamma, check_label_smoothing, check_weights, grad_scale, reduce, Alpha, FocalError, Layout, Outputs, Reduced,
    Reduction, SoftmaxOptions, SoftmaxTargets, PROBABILITY_SUM_TOLERANCE,
};

/// Quantities of one class c shared by the loss and the gradient.
struct ClassTerms<T> {
    /// log p_c
    log_p: T,
    /// 1 − p_c (stable)
    one_minus_p: T,
    /// (1 − p_c)^γ
    focal: T,
    /// p_c · r_c = −p_c log p_c / (1 − p_c)
    p_r: T,
    /// p_c
    p: T,
}

/// Per-class terms (the top class's p is `inv`; others' p is recomputed where needed) from d = z_c − z_k, whether c is the top class k, S′, log1p(S′), 1/(1 + S′).
#[inline(always)]
fn class_terms<T: Real>(d: T, is_top: bool, s: T, log1p_s: T, inv: T, gamma: T) -> ClassTerms<T> {
    let log_p = d - log1p_s;
    let (one_minus_p, log_one_minus_p, p_r, p) = if is_top {
        let p_r = if s > T::ZERO { log1p_s / s } else { T::ONE };
        (s * inv, s.ln() - log1p_s, p_r, inv)
    } else {
        let p = log_p.exp();
        let omp = T::ONE - p;
        let p_r = if p > T::ZERO { p * (-log_p) / omp } else { T::ZERO };
        (omp, (-p).ln_1p(), p_r, p)
    };
    let focal = if gamma == T::ZERO {
        T::ONE
    } else {
        (gamma * log_one_minus_p).exp()
    };
    ClassTerms {
        log_p,
        one_minus_p,
        focal,
        p_r,
        p,
    }
}

/// Max and arg-max of an item's logits (NaNs are skipped here and poison S′ later).
#[inline(always)]
fn top<T: Real>(z: &[T], base: usize, classes: usize, stride: usize) -> (T, usize) {
    let mut m = T::NEG_INFINITY;
    let mut k = 0;
    for c in 0..classes {
        let v = z[base + c * stride];
        if v > m {
            m = v;
            k = c;
        }
    }
    (m, k)
}

/// S′ = Σ_{c≠k} e^(z_c − m), carried in f64; optionally leaves e^(z_c − m) in `scratch`.
#[inline(always)]
fn others_sum<T: Real>(
    z: &[T],
    base: usize,
    classes: usize,
    stride: usize,
    m: T,
    k: usize,
    mut scratch: Option<&mut [T]>,
) -> T {
    let mut s = 0.0f64;
    for c in 0..classes {
        let e = (z[base + c * stride] - m).exp();
        if c != k {
            s += e.to_f64();
        }
        if let Some(g) = scratch.as_deref_mut() {
            g[base + c * stride] = e;
        }
    }
    if m == T::INFINITY {
        s = f64::NAN;
    }
    T::from_f64(s)
}

/// Hard target t, no smoothing: loss and (optionally) gradient G·(δ_jt − p_j),
/// G = scale·(a_t·h_t − ε(γ + 1)(1 − p_t)^γ p_t).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn hard_item<T: Real>(
    z: &[T],
    base: usize,
    classes: usize,
    stride: usize,
    t: usize,
    a_t: T,
    gamma: T,
    eps: T,
    grad_weight: T,
    grad: Option<&mut [T]>,
) -> T {
    let (m, k) = top(z, base, classes, stride);
    let want_grad = grad.is_some();
    let mut grad = grad;
    let s = others_sum(z, base, classes, stride, m, k, grad.as_deref_mut());
    let log1p_s = s.ln_1p();
    let inv = T::ONE / (T::ONE + s);
    let tt = class_terms(z[base + t * stride] - m, t == k, s, log1p_s, inv, gamma);
    let mut loss = a_t * tt.focal * (-tt.log_p);
    // ε < 0 with a small 1 − p_t: the series forms (K, B) of `simd::math::POLY_SERIES_MAX`.
    let small = (eps < T::ZERO && tt.one_minus_p <= T::from_f64(POLY_SERIES_MAX))
        .then(|| poly_small(tt.one_minus_p, tt.p, a_t, eps, gamma, gamma + T::ONE));
    if let Some((k_small, _)) = small {
        loss = tt.focal * k_small;
    } else if eps != T::ZERO {
        loss = loss + eps * (tt.focal * tt.one_minus_p);
    }
    if want_grad {
        let g = grad.unwrap();
        let h = -tt.focal * (T::ONE + gamma * tt.p_r);
        let big_g = if let Some((_, b_small)) = small {
            -(grad_weight * (tt.focal * b_small))
        } else if eps == T::ZERO {
            grad_weight * a_t * h
        } else {
            grad_weight * (a_t * h - eps * (gamma + T::ONE) * (tt.focal * tt.p))
        };
        for c in 0..classes {
            let i = base + c * stride;
            // g[i] holds e^(z_c − m); p_c = e^(z_c − m)/(1 + S′).
            g[i] = if c == t {
                big_g * tt.one_minus_p
            } else {
                -(big_g * (g[i] * inv))
            };
        }
    }
    loss
}

/// General target distribution q (soft rows, or label smoothing): loss and gradient
/// w·(u_j − p_j Σ u_c), with the top class's entry as u_k(1 − p_k) − p_k Σ_{c≠k} u_c
/// (u_c including the Poly-1 term −ε q_c (γ + 1)(1 − p_c)^γ p_c).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn soft_item<T: Real, Q: Fn(usize) -> T, A: Fn(usize) -> T>(
    z: &[T],
    base: usize,
    classes: usize,
    stride: usize,
    q: Q,
    a: A,
    gamma: T,
    eps: T,
    grad_weight: T,
    grad: Option<&mut [T]>,
) -> T {
    let (m, k) = top(z, base, classes, stride);
    let eps1 = eps * (gamma + T::ONE);
    let s = others_sum(z, base, classes, stride, m, k, None);
    let log1p_s = s.ln_1p();
    let inv = T::ONE / (T::ONE + s);
    let mut loss = 0.0f64;
    let mut u_all = 0.0f64;
    let mut u_others = 0.0f64;
    let mut u_top = T::ZERO;
    let want_grad = grad.is_some();
    let mut grad = grad;
    for c in 0..classes {
        let qc = q(c);
        let u = if qc == T::ZERO {
            T::ZERO
        } else {
            let tc = class_terms(z[base + c * stride] - m, c == k, s, log1p_s, inv, gamma);
            let ac = a(c);
            let aq = ac * qc;
            let mut lc = aq * tc.focal * (-tc.log_p);
            let mut u = -(aq * tc.focal * (T::ONE + gamma * tc.p_r));
            if eps < T::ZERO && tc.one_minus_p <= T::from_f64(POLY_SERIES_MAX) {
                // As in `hard_item`: q_c·m^γ·K and −q_c·m^γ·B from the series.
                let (k_small, b_small) = poly_small(tc.one_minus_p, tc.p, ac, eps, gamma, gamma + T::ONE);
                lc = qc * (tc.focal * k_small);
                u = -(qc * (tc.focal * b_small));
            } else if eps != T::ZERO {
                lc = lc + eps * qc * (tc.focal * tc.one_minus_p);
                u = u - eps1 * qc * (tc.focal * tc.p);
            }
            loss += lc.to_f64();
            u
        };
        u_all += u.to_f64();
        if c == k {
            u_top = u;
        } else {
            u_others += u.to_f64();
        }
        if let Some(g) = grad.as_deref_mut() {
            g[base + c * stride] = u;
        }
    }
    if want_grad {
        let g = grad.unwrap();
        let u_all = T::from_f64(u_all);
        let u_others = T::from_f64(u_others);
        for c in 0..classes {
            let i = base + c * stride;
            let v = if c == k {
                u_top * (s * inv) - inv * u_others
            } else {
                let p = (z[i] - m).exp() * inv;
                g[i] - p * u_all
            };
            g[i] = grad_weight * v;
        }
    }
    T::from_f64(loss)
}

fn validate<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: &SoftmaxTargets<T>,
    opts: &SoftmaxOptions<T>,
    out: &Outputs<T>,
) -> Result<usize, FocalError> {
    let items = layout.items()?;
    let len = layout.logits()?;
    let (classes, stride) = (layout.classes, layout.spatial);
    if logits.len() != len {
        return Err(FocalError::LengthMismatch);
    }
    if out.grad.as_ref().is_some_and(|g| g.len() != len) || out.loss.as_ref().is_some_and(|l| l.len() != items) {
        return Err(FocalError::LengthMismatch);
    }
    check_gamma(opts.gamma)?;
    check_label_smoothing(opts.label_smoothing)?;
    if !opts.poly_epsilon.is_finite() {
        return Err(FocalError::InvalidPolyEpsilon);
    }
    match opts.alpha {
        Alpha::None => {}
        Alpha::Scalar(a) => {
            if !(a.is_finite() && a >= T::ZERO) {
                return Err(FocalError::InvalidAlpha);
            }
        }
        Alpha::PerClass(a) => {
            if a.len() != classes {
                return Err(FocalError::LengthMismatch);
            }
            if a.iter().any(|&v| !(v.is_finite() && v >= T::ZERO)) {
                return Err(FocalError::InvalidAlpha);
            }
        }
    }
    check_weights(opts.weights, items)?;
    let mut counted = 0;
    match *targets {
        SoftmaxTargets::Indices(t) => {
            if t.len() != items {
                return Err(FocalError::LengthMismatch);
            }
            for (index, &v) in t.iter().enumerate() {
                if v == opts.ignore_index {
                    continue;
                }
                if v < 0 || v as usize >= classes {
                    return Err(FocalError::TargetOutOfRange { index });
                }
                counted += 1;
            }
        }
        SoftmaxTargets::Probabilities(q) => {
            if q.len() != len {
                return Err(FocalError::LengthMismatch);
            }
            for n in 0..layout.batch {
                for sp in 0..stride {
                    let base = n * classes * stride + sp;
                    let mut sum = 0.0f64;
                    for c in 0..classes {
                        let v = q[base + c * stride];
                        if !(v >= T::ZERO && v <= T::ONE) {
                            return Err(FocalError::InvalidProbability {
                                index: base + c * stride,
                            });
                        }
                        sum += v.to_f64();
                    }
                    if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
                        return Err(FocalError::InvalidProbability { index: n * stride + sp });
                    }
                }
            }
            counted = items;
        }
    }
    Ok(counted)
}

/// The streaming kernel: validates everything first (nothing is written on error), then for each
/// item adds its loss to `out.sum` (in item order, so results do not depend on how a caller splits
/// a batch into chunks), writes it to `out.loss` if given, and writes `out.grad_scale` × its
/// gradient to `out.grad` if given (ignored items get zeros). Returns the number of counted items.
///
/// Chunked callers pass the full batch's `1/count` as `grad_scale` for a `'mean'` reduction.
pub fn softmax_focal_accumulate<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: SoftmaxTargets<T>,
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
) -> Result<usize, FocalError> {
    // The hot path — class indices without label smoothing — goes to the vectorised kernel
    // (crate::simd::softmax: the same formulas, several items at a time).
    if let (SoftmaxTargets::Indices(t), true) = (targets, opts.label_smoothing == T::ZERO) {
        let counted = validate(layout, logits, &targets, opts, out)?;
        crate::simd::softmax::hard_targets(layout, logits, t, opts, out);
        return Ok(counted);
    }
    softmax_focal_accumulate_scalar(layout, logits, targets, opts, out)
}

/// [`softmax_focal_accumulate`] on the scalar path only (one item at a time, std's exp / ln),
/// which the vectorised kernels are tested against (`focal_loss::scalar`).
pub fn softmax_focal_accumulate_scalar<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: SoftmaxTargets<T>,
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
) -> Result<usize, FocalError> {
    let counted = validate(layout, logits, &targets, opts, out)?;
    let (classes, stride) = (layout.classes, layout.spatial);
    let gamma = opts.gamma;
    let eps = opts.label_smoothing;
    let poly = opts.poly_epsilon;
    let uniform = eps / T::from_f64(classes as f64);
    let scale = T::from_f64(out.grad_scale);
    let alpha_of = |c: usize| match opts.alpha {
        Alpha::None => T::ONE,
        Alpha::Scalar(a) => a,
        Alpha::PerClass(a) => a[c],
    };
    let mut loss_out = out.loss.as_deref_mut();
    let mut grad_out = out.grad.as_deref_mut();
    let mut sum = out.sum;
    for n in 0..layout.batch {
        for sp in 0..stride {
            let item = n * stride + sp;
            let base = n * classes * stride + sp;
            let w = opts.weights.map_or(T::ONE, |w| w[item]);
            let grad_weight = w * scale;
            let grad = grad_out.as_deref_mut();
            let loss = match targets {
                SoftmaxTargets::Indices(t) => {
                    let ti = t[item];
                    if ti == opts.ignore_index {
                        if let Some(g) = grad {
                            for c in 0..classes {
                                g[base + c * stride] = T::ZERO;
                            }
                        }
                        if let Some(l) = loss_out.as_deref_mut() {
                            l[item] = T::ZERO;
                        }
                        continue;
                    }
                    let t = ti as usize;
                    if eps == T::ZERO {
                        let a_t = alpha_of(t);
                        hard_item(logits, base, classes, stride, t, a_t, gamma, poly, grad_weight, grad)
                    } else {
                        let q = |c: usize| if c == t { T::ONE - eps + uniform } else { uniform };
                        soft_item(
                            logits,
                            base,
                            classes,
                            stride,
                            q,
                            alpha_of,
                            gamma,
                            poly,
                            grad_weight,
                            grad,
                        )
                    }
                }
                SoftmaxTargets::Probabilities(qs) => {
                    let q = |c: usize| {
                        let v = qs[base + c * stride];
                        if eps == T::ZERO {
                            v
                        } else {
                            (T::ONE - eps) * v + uniform
                        }
                    };
                    soft_item(
                        logits,
                        base,
                        classes,
                        stride,
                        q,
                        alpha_of,
                        gamma,
                        poly,
                        grad_weight,
                        grad,
                    )
                }
            };
            let loss = w * loss;
            sum += loss.to_f64();
            if let Some(l) = loss_out.as_deref_mut() {
                l[item] = loss;
            }
        }
    }
    out.sum = sum;
    Ok(counted)
}

/// Softmax focal loss of a whole batch under `reduction`, with its gradient written to `grad_out`
/// when given (the gradient of the reduced loss; under `Reduction::None`, each item's own).
/// `loss_out` (one value per item) is required for `Reduction::None` and optional otherwise.
pub fn softmax_focal_loss<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: SoftmaxTargets<T>,
    opts: &SoftmaxOptions<T>,
    reduction: Reduction,
    loss_out: Option<&mut [T]>,
    grad_out: Option<&mut [T]>,
) -> Result<Reduced, FocalError> {
    if reduction == Reduction::None && loss_out.is_none() {
        return Err(FocalError::InvalidArgument);
    }
    let mut out = Outputs::new(loss_out, grad_out);
    // Count first (a validation pass that writes nothing) so that 'mean' can scale gradients.
    let count = validate(layout, logits, &targets, opts, &out)?;
    out.grad_scale = grad_scale(reduction, count);
    softmax_focal_accumulate(layout, logits, targets, opts, &mut out)?;
    Ok(reduce(reduction, out.sum, count))
}
