//! The sigmoid focal loss (Lin et al., 2017; torchvision `sigmoid_focal_loss`) of one element,
//! with `posWeight` (as `BCEWithLogits(pos_weight)`), Poly-1 (Leng et al., ICLR 2022) and label
//! smoothing: l = α_t·m^γ·CE + ε·m^(γ+1), before the element weight w.
//!
//! # Method
//!
//! m = 1 − p_t = y(1 − p) + (1 − y)p, CE = pw·y·softplus(−x) + (1 − y)·softplus(x),
//! α_t = α·y + (1 − α)(1 − y) (or 1), l = α_t·m^γ·CE + ε·m^(γ+1), and
//!
//!   ∂l/∂x = α_t·[γ·m^(γ−1)·(1 − 2y)·p(1 − p)·CE + m^γ·(pw·y·(p − 1) + (1 − y)·p)]
//!           + ε·(γ + 1)·m^γ·(1 − 2y)·p(1 − p).
//!
//! y is the smoothed target and ȳ its complement (`super::smoothed`).
//!
//! Hard targets (y ∈ {0, 1}, the common case): with s = 2y − 1, p_t = σ(s·x), pw_t = pw for y = 1
//! and 1 for y = 0: m = σ(−s·x) exactly, CE = pw_t·softplus(−s·x), log m = −softplus(s·x) (finite
//! even when m underflows), and
//!
//!   ∂l/∂x = s·[α_t·pw_t·m^γ·(γ·p_t·log p_t − m) − ε(γ + 1)·p_t·m^(γ+1)],
//!
//! where both terms of α_t's bracket are ≤ 0: no cancellation and no m^(γ−1), so 0 < γ < 1 is
//! finite at every x, and for ε > 0 the Poly-1 term has the same sign. The loss of a confident
//! right answer is the tiny m^γ·CE, never the 0 that 1 − exp(−CE) rounds to.
//!
//! Soft targets: m is a sum of non-negative terms and m ≥ min(y, 1 − y) > 0, so
//! m^(γ−1)·p(1 − p) = m^γ·(p(1 − p)/m) with the ratio in [0, 1]: no negative power of 0. p − y is
//! formed as (1 − y)·p − y·(1 − p) (with pw: pw·y), which keeps the digits of the stable 1 − p when
//! p rounds near 1. m^(γ+1) = m^γ·m: both factors are accurate, so is their product (posWeight does
//! not scale it).
//!
//! The lanes ([`lanes`]) are the hot path of the family: hard and soft targets are both evaluated
//! lane-wise and the right one selected per lane (the soft formulas only when some lane needs
//! them). With no positive weight and no Poly-1 term it is the same sequence of operations, bit for
//! bit, as the sigmoid kernel before the family existed, except the log m of a soft target with
//! m > ½ ([`soft_log_m`]). For integer γ its focal factor is a product (`FocalPow`), so the default
//! needs no further transcendental function.
//!
//! # Special cases
//!
//! - γ·p_t·log p_t takes its limit 0 at p_t = 0 (x = ∓∞, where CE = ∞).
//! - γ = 0 gives m^γ = 1 exactly (also at m = 0); ε = 0 skips the Poly-1 term (the results are
//!   those without Poly-1, bit for bit).
//! - Poly-1 with ε < 0: a_t·CE + ε·m cancels where m is small and ε ≈ −a_t. For hard targets with
//!   m ≤ 1/16 the loss is m^γ·K and the gradient −s·m^(γ+1)·B with K and B from the series of
//!   `simd::math::POLY_SERIES_MAX` (the derivation there). For soft targets the loss is
//!   m^γ·(y·K(q; α_t·pw) + (1 − y)·K(p; α_t)), each K by its series where its argument ≤ 1/16,
//!   since α_t·CE + ε·m = y·(α_t·pw·(−log p) + ε·q) + (1 − y)·(α_t·(−log q) + ε·p) (p = σ(x),
//!   q = 1 − p). The soft gradient keeps its form; its error stays relative to the size of its terms.
//! - Soft targets, log m for m > ½: log1p(−(y·p + (1 − y)·q)), from the non-negative terms of 1 − m.
//!   The log of the rounded m would be off by u/|log m| relative, and m^γ multiplies that by γ
//!   (γ = 1e6, y = 1e-7 at x = 88: 2% in float32).
//!
//! # Accuracy
//!
//! CONTRACT.md § Accuracy's relative rule (rtol 1e-10 float64, 3e-5 float32, for every finite input)
//! holds for the loss and the gradient, Poly-1 with ε ≥ −a_t included (the terms of § Stability
//! rule 8 do not cancel; a hard target's gradient entry is held to those terms, at most
//! (2γ + 1)·|entry|). For ε < −a_t the loss changes sign, and a term's scale is the size of its two
//! parts, m^γ·(a_t·|log p| + |ε|·m). The lanes form m^γ for integer γ = n ≤ 5 by n − 1 rounded
//! products while m is normal, within about n ulps (`FocalPow`); every other power, and the scalar
//! formula's, is exp(γ·log m), within about u·|log m^γ|. Above m = 1/16 the direct Poly-1 forms
//! lose at most a factor 32 (CONTRACT.md § Stability rule 8).

use super::{exp_o, ln_o, power, sigmoid_terms, smoothed, ElementLoss, ElementOptions, HeaderParams, PosWeight, Start};
use crate::real::Real;
use crate::simd::math::{poly_series, poly_small, FocalPow, POLY_SERIES_MAX};
use crate::simd::{VMath, Vector};
use crate::{check_gamma, check_label_smoothing, FocalError};

/// Its header `loss_kind` (ts/family.ts's `kind.code`).
pub(crate) const KIND: u32 = 0;

/// γ ≥ 0, α in [0, 1] and label smoothing in [0, 1) (Poly-1's ε and the positive weights, which
/// only this loss takes, are checked by `crate::elementwise::validate`).
pub(crate) fn validate<T: Real>(opts: &ElementOptions<T>, gamma: T, alpha: Option<T>) -> Result<(), FocalError> {
    check_gamma(gamma)?;
    check_label_smoothing(opts.label_smoothing)?;
    if let Some(a) = alpha {
        if !(a >= T::ZERO && a <= T::ONE) {
            return Err(FocalError::InvalidAlpha);
        }
    }
    Ok(())
}

/// The loss of a call header (α < 0: no weighting).
pub(crate) fn from_header<T: Real>(h: &HeaderParams) -> ElementLoss<T> {
    ElementLoss::Focal {
        gamma: T::from_f64(h.gamma),
        alpha: if h.alpha_scalar < 0.0 {
            None
        } else {
            Some(T::from_f64(h.alpha_scalar))
        },
    }
}

/// [`element`] as the scalar loop calls it: the target smoothed first, with the element's positive
/// weight and Poly-1's ε.
#[inline(always)]
pub(crate) fn scalar<T: Real>(opts: &ElementOptions<T>, x: T, y0: T, pw: Option<T>, gamma: T, alpha: Option<T>) -> (T, T) {
    let (y, y_bar) = smoothed(y0, opts.label_smoothing);
    element(x, y, y_bar, alpha, gamma, pw, opts.poly_epsilon)
}

/// The per-call parameters as lanes.
#[derive(Clone, Copy)]
pub(crate) struct Lanes<V> {
    alpha: Option<V>,
    gamma: FocalPow<V>,
    /// (1 − ε, ε/2) of label smoothing, when ε ≠ 0.
    smoothing: Option<(V, V)>,
    /// Whether the lanes' positive weights apply.
    pos_weight: bool,
    /// (ε, ε·(γ + 1)) of Poly-1, when ε ≠ 0.
    poly: Option<(V, V)>,
}

impl<V: VMath> Lanes<V> {
    #[inline(always)]
    pub(crate) fn new<T: Real>(opts: &ElementOptions<T>, gamma: T, alpha: Option<T>) -> Self
    where
        V: Vector<Scalar = T>,
    {
        let splat = V::splat;
        let (eps, poly) = (opts.label_smoothing, opts.poly_epsilon);
        Lanes {
            alpha: alpha.map(splat),
            gamma: FocalPow::new(gamma, gamma.to_f64()),
            smoothing: (eps != T::ZERO).then(|| (splat(T::ONE - eps), splat(eps * T::from_f64(0.5)))),
            pos_weight: !matches!(opts.pos_weight, PosWeight::None),
            poly: (poly != T::ZERO).then(|| (splat(poly), splat(poly * (gamma + T::ONE)))),
        }
    }

    /// [`lanes`] of the front `start`, the (unsmoothed) targets y and the lanes' positive weights.
    #[inline(always)]
    pub(crate) fn eval(&self, start: Start<V>, y: V, pw: V) -> (V, V) {
        let one = V::c(1.0);
        // y and ȳ = 1 − y each from non-negative terms (see crate::family::smoothed).
        let (y, y_bar) = match self.smoothing {
            None => (y, one - y),
            Some((one_minus_eps, half_eps)) => (y * one_minus_eps + half_eps, (one - y) * one_minus_eps + half_eps),
        };
        lanes(start, y, y_bar, self.alpha, self.pos_weight.then_some(pw), self.poly, self.gamma)
    }
}

/// The sigmoid focal loss of one element (without w): (l, ∂l/∂x), std's exp / ln / ln_1p (see the
/// module comment).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn element<T: Real>(x: T, y: T, y_bar: T, alpha: Option<T>, gamma: T, pw: Option<T>, eps: T) -> (T, T) {
    let s = sigmoid_terms(x);
    let alpha_t = match alpha {
        Some(a) => a * y + (T::ONE - a) * y_bar,
        None => T::ONE,
    };
    let eps1 = eps * (gamma + T::ONE);
    if y == T::ONE || y == T::ZERO {
        // p_t = σ(s·x), m = σ(−s·x), CE = −log p_t = softplus(−s·x), log m = −softplus(s·x).
        let (p_t, m, ce, log_m, sign, pw_t) = if y == T::ONE {
            (s.p, s.q, s.sp_neg, -s.sp_pos, T::ONE, pw.unwrap_or(T::ONE))
        } else {
            (s.q, s.p, s.sp_pos, -s.sp_neg, -T::ONE, T::ONE)
        };
        let a_t = alpha_t * pw_t;
        let focal = power(gamma, log_m);
        let mut loss = a_t * focal * ce;
        // γ·p_t·log p_t with the limit 0 when p_t = 0 (x = ∓∞ with CE = ∞).
        let g_pt_log_pt = if p_t == T::ZERO { T::ZERO } else { -(gamma * p_t * ce) };
        let mut grad = sign * a_t * focal * (g_pt_log_pt - m);
        if eps != T::ZERO {
            let fm = focal * m;
            if eps < T::ZERO && m <= T::from_f64(POLY_SERIES_MAX) {
                // m^γ·K and −s·m^(γ+1)·B from the series (`simd::math::POLY_SERIES_MAX`).
                let (k_small, b_small) = poly_small(m, p_t, a_t, eps, gamma, gamma + T::ONE);
                loss = focal * k_small;
                grad = -(sign * ((focal * b_small) * m));
            } else {
                loss = loss + eps * fm;
                grad = grad - sign * eps1 * (p_t * fm);
            }
        }
        (loss, grad)
    } else {
        let (p, q) = (s.p, s.q);
        let py = pw.map_or(y, |pw| pw * y);
        let ce = py * s.sp_neg + y_bar * s.sp_pos;
        let m = y * q + y_bar * p;
        // log m from 1 − m = y·p + (1 − y)·q (non-negative terms) where m > ½: the log of the
        // rounded m would be off by u/|log m| relative, which γ multiplies (γ = 1e6, m = 1 − 1e-7).
        // (As log1p computes it, with one ln for both cases: see `soft_log_m`.)
        let (log_m_arg, log_m_fix) = if m > T::from_f64(0.5) {
            let w = -(y * p + y_bar * q);
            let u = T::ONE + w;
            (u, (w - (u - T::ONE)) / u)
        } else {
            (m, T::ZERO)
        };
        let log_m = log_m_arg.ln() + log_m_fix;
        let focal = power(gamma, log_m);
        let mut loss = alpha_t * focal * ce;
        let ratio = if m > T::ZERO { p * q / m } else { T::ZERO };
        let first = if ratio == T::ZERO || gamma == T::ZERO {
            T::ZERO
        } else {
            gamma * focal * ratio * (y_bar - y) * ce
        };
        let mut grad = alpha_t * (first + focal * (y_bar * p - py * q));
        if eps < T::ZERO {
            // α_t·CE + ε·m = y·[(α_t·pw + ε)·q + α_t·pw·φ(q)] + (1 − y)·[(α_t + ε)·p + α_t·φ(p)],
            // φ(v) = −log(1 − v) − v: each bracket is the K of `simd::math::POLY_SERIES_MAX`
            // (with m = q resp. p), by the series where its v ≤ 1/16.
            let a_pos = pw.map_or(alpha_t, |pw| alpha_t * pw);
            let k_pos = if q <= T::from_f64(POLY_SERIES_MAX) {
                poly_small(q, p, a_pos, eps, gamma, gamma + T::ONE).0
            } else {
                a_pos * s.sp_neg + eps * q
            };
            let k_neg = if p <= T::from_f64(POLY_SERIES_MAX) {
                poly_small(p, q, alpha_t, eps, gamma, gamma + T::ONE).0
            } else {
                alpha_t * s.sp_pos + eps * p
            };
            loss = focal * (y * k_pos + y_bar * k_neg);
        } else if eps != T::ZERO {
            loss = loss + eps * (focal * m);
        }
        if eps != T::ZERO {
            grad = grad + eps1 * focal * (y_bar - y) * (p * q);
        }
        (loss, grad)
    }
}

/// (α_t·pw_t·m^γ·CE + ε·m^(γ+1), its derivative) per lane from the front `start`, the smoothed
/// targets y and ȳ, the lanes' positive weights when they apply, Poly-1's (ε, ε·(γ + 1)) and γ.
#[inline(always)]
pub(crate) fn lanes<V: VMath>(
    start: Start<V>,
    y: V,
    y_bar: V,
    alpha: Option<V>,
    pw: Option<V>,
    poly: Option<(V, V)>,
    focal_pow: FocalPow<V>,
) -> (V, V) {
    let gamma = focal_pow.gamma();
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let (x, log1p_e, inv, e_inv) = start;
    let alpha_t = match alpha {
        Some(a) => a * y + (one - a) * y_bar,
        None => one,
    };

    // Hard targets, in terms of u = s·x (s = 2y − 1; a sign flip, exact): p_t = σ(u),
    // m = σ(−u), CE = softplus(−u), log m = −softplus(u), all from the one e = exp(−|u|).
    // The same values, bit for bit, as selecting the y = 1 or y = 0 formulas from x, with fewer
    // lanes' worth of work (one set of selects instead of both signs' softplus and σ).
    let y1 = y.eq(one);
    let u = V::select(y1, x, -x);
    let u_pos = u.ge(zero);
    let p_t = V::select(u_pos, inv, e_inv);
    let m = V::select(u_pos, e_inv, inv);
    let ce = V::select(u.lt(zero), log1p_e - u, log1p_e);
    let focal = focal_pow.pow_with(m, || -V::select(u.gt(zero), u + log1p_e, log1p_e), exp_o);
    // α_t·pw_t (pw_t = pw for y = 1, 1 for y = 0).
    let a_t = match pw {
        Some(pw) => alpha_t * V::select(y1, pw, one),
        None => alpha_t,
    };
    let mut hard_loss = a_t * focal * ce;
    let g_pt_log_pt = V::select(p_t.eq(zero), zero, -(gamma * p_t * ce));
    let s_a_t = V::select(y1, a_t, -a_t); // s·α_t·pw_t, exact
    let mut hard_grad = s_a_t * focal * (g_pt_log_pt - m);
    if let Some((eps, eps1)) = poly {
        // + ε·m^(γ+1), gradient −s·ε(γ + 1)·p_t·m^(γ+1) (the sign of the focal term's for ε > 0).
        let fm = focal * m;
        hard_loss = hard_loss + eps * fm;
        hard_grad = hard_grad - V::select(y1, eps1, -eps1) * (p_t * fm);
        // ε < 0: lanes with m ≤ 1/16 take m^γ·K and −s·m^(γ+1)·B from the series
        // (`math::POLY_SERIES_MAX`); computed only when some lane needs them.
        let (series, fk, fb) = poly_series(m, p_t, a_t, eps, gamma, focal);
        let fbm = fb * m;
        hard_loss = V::select(series, fk, hard_loss);
        hard_grad = V::select(series, V::select(y1, -fbm, fbm), hard_grad);
    }

    let hard = y1.or(y.eq(zero));
    if !V::select(hard, zero, one).any() {
        return (hard_loss, hard_grad);
    }
    // Soft targets: m ≥ min(y, 1 − y) > 0 and m^(γ−1)·p(1 − p) = m^γ·(p(1 − p)/m).
    let softplus_pos = V::select(x.gt(zero), x + log1p_e, log1p_e); // softplus(x)
    let softplus_neg = V::select(x.lt(zero), log1p_e - x, log1p_e); // softplus(−x)
    let nonneg = x.ge(zero);
    let p = V::select(nonneg, inv, e_inv); // σ(x)
    let q = V::select(nonneg, e_inv, inv); // 1 − σ(x)
    let py = match pw {
        Some(pw) => pw * y,
        None => y,
    };
    let ce = py * softplus_neg + y_bar * softplus_pos;
    let m = y * q + y_bar * p;
    let focal = focal_pow.pow_with(m, || soft_log_m(m, y, y_bar, p, q), exp_o);
    let mut soft_loss = alpha_t * focal * ce;
    let ratio = V::select(m.gt(zero), p * q / m, zero);
    let first = if focal_pow.is_zero() {
        zero
    } else {
        V::select(ratio.eq(zero), zero, gamma * focal * ratio * (y_bar - y) * ce)
    };
    let mut soft_grad = alpha_t * (first + focal * (y_bar * p - py * q));
    if let Some((eps, eps1)) = poly {
        // ε < 0: y·K(q; α_t·pw) + (1 − y)·K(p; α_t), each K by the series where its argument ≤ 1/16
        // (see # Special cases); ε > 0: the two terms as they are (no cancellation).
        let a_pos = match pw {
            Some(pw) => alpha_t * pw,
            None => alpha_t,
        };
        let (q_small, k_pos_small, _) = poly_series(q, p, a_pos, eps, gamma, one);
        let k_pos = V::select(q_small, k_pos_small, a_pos * softplus_neg + eps * q);
        let (p_small, k_neg_small, _) = poly_series(p, q, alpha_t, eps, gamma, one);
        let k_neg = V::select(p_small, k_neg_small, alpha_t * softplus_pos + eps * p);
        let split = focal * (y * k_pos + y_bar * k_neg);
        soft_loss = V::select(eps.lt(zero), split, soft_loss + eps * (focal * m));
        soft_grad = soft_grad + eps1 * focal * (y_bar - y) * (p * q);
    }
    (
        V::select(hard, hard_loss, soft_loss),
        V::select(hard, hard_grad, soft_grad),
    )
}

/// log m of a soft target (see # Special cases): where m > ½, log1p(−v) with
/// v = y·p + (1 − y)·q = 1 − m from its non-negative terms, else ln m; one ln for both, as
/// log1p does it: u = 1 − v rounded (exact u − 1 for u ∈ [½, 1]), log(1 − v) = ln u + c/u with
/// c = −v − (u − 1) the rounding error of u. Out of line, called only where the power needs logs.
#[inline(never)]
fn soft_log_m<V: VMath>(m: V, y: V, y_bar: V, p: V, q: V) -> V {
    let one = V::c(1.0);
    let near_one = m.gt(V::c(0.5));
    let w = -(y * p + y_bar * q);
    let u = V::select(near_one, one + w, m);
    let c = V::select(near_one, (w - (u - one)) / u, V::c(0.0));
    ln_o(u) + c
}
