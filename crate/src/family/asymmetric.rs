//! Asymmetric Loss (Ridnik et al., ICCV 2021) of one element, before the element weight w:
//! l = −y(1 − p)^γ₊ log p − (1 − y) p_m^γ₋ log(1 − p_m), p_m = max(p − clip, 0), γ± ≥ 0,
//! clip ∈ [0, 1).
//!
//! # Method
//!
//!   l = y·(1 − p)^γ₊·softplus(−x) + (1 − y)·p_m^γ₋·(−log(1 − p_m)).
//!
//! Positive part: ∂/∂x = −y·(1 − p)^γ₊·[(1 − p) + γ₊·p·softplus(−x)]: two non-negative terms (no
//! cancellation, no (1 − p)^(γ₊−1)); (1 − p)^γ₊ = exp(−γ₊·softplus(x)).
//!
//! Negative part, for p > clip (0 otherwise, with its gradient):
//!   ∂/∂x = (1 − y)·p(1 − p)·[p_m^γ₋/(1 − p_m) + γ₋·p_m^γ₋·r],   r = −log(1 − p_m)/p_m,
//! r → 1 as p_m → 0, which replaces p_m^(γ₋−1)·log(1 − p_m) (0·∞ for γ₋ < 1 at p_m → 0).
//! - clip = 0: p_m = p, −log(1 − p) = softplus(x), 1/(1 − p_m)·p(1 − p) = p and p(1 − p)·r =
//!   (1 − p)·softplus(x): no division. p^γ₋ = exp(−γ₋·softplus(−x)).
//! - clip > 0: 1 − p_m = (1 − p) + clip, a sum of non-negative terms (≥ clip), never 1 − p_m by
//!   subtraction. log(1 − p_m):
//!   - p ≤ ½: log1p(−p_m), with p_m = p − clip as accurate as p (just above clip p_m is small and
//!     log1p keeps its relative precision; the log of the rounded 1 − p_m would not).
//!   - p > ½: log((1 − p) + clip) = log(1 − p) + log1p(clip/(1 − p)) when 1 − p ≥ clip, else
//!     log(clip) + log1p((1 − p)/clip): both pieces accurate, whatever the size of clip (a tiny
//!     clip next to 1 − p = 1e-30 keeps its digits, which forming the sum first would lose).
//!
//!   p_m^γ₋ = exp(γ₋·log p_m).
//! - `detach_focal_weight` drops the γ terms (the focal factors are constants in the gradient).
//!
//! The lanes take the same operations, the three log(1 − p_m) forms as one out-of-line ln_1p of a
//! selected argument plus a selected base (ln clip computed once per call).
//!
//! # Special cases
//!
//! - p·softplus(−x) → 0 at p = 0; y = 0 contributes exactly 0 (also at x = −∞, where
//!   softplus(−x) = ∞).
//! - p ≤ clip: no negative term, and a zero gradient from it. A NaN logit is not "dead": it takes
//!   the negative branch, so that it reaches the result. The lanes give dead lanes p_m = 1 (no
//!   subnormal lanes for the power's fast path) and select 0 for them.
//! - No eps clamp anywhere: log p and log(1 − p_m) are finite wherever the loss is.
//!
//! # Accuracy
//!
//! CONTRACT.md § Accuracy's relative rule, except where p_m = σ(x) − clip subtracts (σ(x) just above
//! clip): there the error is relative to the terms subtracted, mass c = 2·clip, an absolute error
//! of a few u·c in p_m (mpmath: float32 at x = −2.9444379806518555, y = 0 is 0.20 relative off,
//! within that scale). The `acc/asl …` vectors hold the loss and gradient to exactly this scale.

use super::{exp_o, ln_1p_o, ln_o, power, sigmoid_terms, ElementLoss, ElementOptions, HeaderParams, SigmoidLanes, Start};
use crate::real::Real;
use crate::simd::math::FocalPow;
use crate::simd::{VMath, Vector};
use crate::{check_gamma, FocalError};

/// Its header `loss_kind` (ts/family.ts's `kind.code`).
pub(crate) const KIND: u32 = 3;

/// γ₊, γ₋ ≥ 0 and clip in [0, 1).
pub(crate) fn validate<T: Real>(
    _: &ElementOptions<T>,
    gamma_pos: T,
    gamma_neg: T,
    clip: T,
    _: bool,
) -> Result<(), FocalError> {
    check_gamma(gamma_pos)?;
    check_gamma(gamma_neg)?;
    if !(clip >= T::ZERO && clip < T::ONE) {
        return Err(FocalError::InvalidClip);
    }
    Ok(())
}

/// The loss of a call header.
pub(crate) fn from_header<T: Real>(h: &HeaderParams) -> ElementLoss<T> {
    ElementLoss::Asymmetric {
        gamma_pos: T::from_f64(h.gamma),
        gamma_neg: T::from_f64(h.gamma_neg),
        clip: T::from_f64(h.clip),
        detach_focal_weight: h.detach_focal_weight,
    }
}

/// [`element`] as the scalar loop calls it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn scalar<T: Real>(
    _: &ElementOptions<T>,
    x: T,
    y0: T,
    _: Option<T>,
    gamma_pos: T,
    gamma_neg: T,
    clip: T,
    detach_focal_weight: bool,
) -> (T, T) {
    element(x, y0, gamma_pos, gamma_neg, clip, detach_focal_weight)
}

/// The per-call parameters as lanes.
#[derive(Clone, Copy)]
pub(crate) struct Lanes<V> {
    gamma_pos: FocalPow<V>,
    gamma_neg: FocalPow<V>,
    /// (clip, ln clip) when clip > 0.
    clip: Option<(V, V)>,
    detach: bool,
}

impl<V: VMath> Lanes<V> {
    #[inline(always)]
    pub(crate) fn new<T: Real>(_: &ElementOptions<T>, gamma_pos: T, gamma_neg: T, clip: T, detach: bool) -> Self
    where
        V: Vector<Scalar = T>,
    {
        Lanes {
            gamma_pos: FocalPow::new(gamma_pos, gamma_pos.to_f64()),
            gamma_neg: FocalPow::new(gamma_neg, gamma_neg.to_f64()),
            clip: (clip != T::ZERO).then(|| (V::splat(clip), V::splat(clip.ln()))),
            detach,
        }
    }

    /// [`lanes`] of the front `start` and the targets y.
    #[inline(always)]
    pub(crate) fn eval(&self, start: Start<V>, y: V, _: V) -> (V, V) {
        lanes(start, y, self.gamma_pos, self.gamma_neg, self.clip, self.detach)
    }
}

/// Asymmetric Loss of one element (without w): (l, ∂l/∂x), std's exp / ln / ln_1p.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn element<T: Real>(x: T, y: T, gamma_pos: T, gamma_neg: T, clip: T, detach: bool) -> (T, T) {
    let s = sigmoid_terms(x);
    let (p, q) = (s.p, s.q);
    let y_bar = T::ONE - y;
    let (mut loss, mut grad) = (T::ZERO, T::ZERO);
    if y != T::ZERO {
        let focal = power(gamma_pos, -s.sp_pos);
        let focus = if detach || p == T::ZERO {
            T::ZERO
        } else {
            gamma_pos * p * s.sp_neg
        };
        loss = y * focal * s.sp_neg;
        grad = -(y * focal * (q + focus));
    }
    if clip == T::ZERO {
        let focal = power(gamma_neg, -s.sp_neg);
        let focus = if detach { T::ZERO } else { gamma_neg * q * s.sp_pos };
        loss = loss + y_bar * focal * s.sp_pos;
        grad = grad + y_bar * focal * (p + focus);
    } else if p > clip || p.is_nan() {
        // (NaN takes this branch, so that it reaches the result.)
        let pm = p - clip;
        let log_1m_pm = if !s.x_pos {
            (-pm).ln_1p()
        } else if q >= clip {
            -s.sp_pos + (clip / q).ln_1p()
        } else {
            clip.ln() + (q / clip).ln_1p()
        };
        let nl = -log_1m_pm;
        let focal = power(gamma_neg, pm.ln());
        let focus = if detach { T::ZERO } else { gamma_neg * nl / pm };
        loss = loss + y_bar * focal * nl;
        grad = grad + y_bar * focal * (p * q) * (T::ONE / (q + clip) + focus);
    }
    (loss, grad)
}

/// [`element`] per lane from the front `start`, the targets y, γ₊, γ₋, (clip, ln clip) when
/// clip > 0, and whether the focal weights are detached.
#[inline(always)]
pub(crate) fn lanes<V: VMath>(
    start: Start<V>,
    y: V,
    gamma_pos: FocalPow<V>,
    gamma_neg: FocalPow<V>,
    clip: Option<(V, V)>,
    detach: bool,
) -> (V, V) {
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let s = SigmoidLanes::new(start);
    let (p, q, sp_pos, sp_neg, x_pos) = (s.p, s.q, s.sp_pos, s.sp_neg, s.x_pos);
    let y_bar = one - y;
    // Positive part: y·(1 − p)^γ₊·softplus(−x), gradient −y·(1 − p)^γ₊·((1 − p) + γ₊·p·softplus(−x)).
    let focal_pos = gamma_pos.pow_with(q, || -sp_pos, exp_o);
    let pos_loss = V::select(y.eq(zero), zero, y * focal_pos * sp_neg);
    let focus_pos = if detach || gamma_pos.is_zero() {
        zero
    } else {
        V::select(p.eq(zero), zero, gamma_pos.gamma() * p * sp_neg)
    };
    let pos_grad = -(y * focal_pos * (q + focus_pos));
    let (neg_loss, neg_grad) = match clip {
        None => {
            // (1 − y)·p^γ₋·softplus(x), gradient (1 − y)·p^γ₋·(p + γ₋·(1 − p)·softplus(x)).
            let focal_neg = gamma_neg.pow_with(p, || -sp_neg, exp_o);
            let focus_neg = if detach { zero } else { gamma_neg.gamma() * q * sp_pos };
            (y_bar * focal_neg * sp_pos, y_bar * focal_neg * (p + focus_neg))
        }
        Some((c, ln_c)) => {
            let pm = p - c;
            // p ≤ clip: no negative term (NaN is not "dead", so that it reaches the result).
            let dead = pm.le(zero);
            if !V::select(dead, zero, one).any() {
                (zero, zero)
            } else {
                // Dead lanes get p_m = 1 (no subnormal lanes for the power's fast path).
                let pm_live = V::select(dead, one, pm);
                // −log(1 − p_m): log1p(−p_m) for p ≤ ½; for p > ½, log((1 − p) + clip) as
                // log(1 − p) + log1p(clip/(1 − p)) or log(clip) + log1p((1 − p)/clip).
                let big_q = q.ge(c);
                let ratio = V::select(big_q, c, q) / V::select(big_q, q, c);
                let arg = V::select(x_pos, ratio, -pm);
                let base = V::select(x_pos, V::select(big_q, -sp_pos, ln_c), zero);
                let nl = -(ln_1p_o(arg) + base);
                let focal_neg = gamma_neg.pow_with(pm_live, || ln_o(pm_live), exp_o);
                // p(1 − p)·[1/(1 − p_m) + γ₋·r], r = −log(1 − p_m)/p_m, 1 − p_m = (1 − p) + clip.
                let mut bracket = one / (q + c);
                if !detach {
                    bracket = bracket + gamma_neg.gamma() * nl / pm_live;
                }
                (
                    V::select(dead, zero, y_bar * focal_neg * nl),
                    V::select(dead, zero, y_bar * focal_neg * (p * q) * bracket),
                )
            }
        }
    };
    (pos_loss + neg_loss, pos_grad + neg_grad)
}
