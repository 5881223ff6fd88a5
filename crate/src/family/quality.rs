//! Quality Focal Loss (Li et al., Generalized Focal Loss, 2020; mmdet `QualityFocalLoss`) of one
//! element: l = |y − σ(x)|^β · BCE(x, y), y a soft quality score in [0, 1], β ≥ 0 (2 in mmdet),
//! before the element weight w.
//!
//! # Method
//!
//! With d = y − p and a = |d|:
//!
//!   l = a^β · BCE(x, y),
//!   ∂l/∂x = β·a^(β−1)·sign(p − y)·p(1 − p)·BCE + a^β·(p − y)
//!         = −sign(d) · a^β · (β·p(1 − p)·BCE / a + a).
//!
//! The second form has two non-negative terms inside the bracket (BCE's own gradient p − y = −d
//! and the focal factor's both push p towards y), so nothing cancels. The lanes evaluate the same
//! operations, with a^β by products for integer β ≤ 5 (`FocalPow`) and out-of-line exp / ln
//! otherwise.
//!
//! # Special cases
//!
//! - d = y − p cancels when p and y are both near 1 (p = 1 − 1e-30, y = 1 would give 0). For
//!   p > ½ it is formed as (1 − p) − (1 − y), with 1 − p = σ(−x) accurate and 1 − y exact for
//!   y ≥ ½ (Sterbenz), so y = 1 gives d = −σ(−x) to full precision. For p ≤ ½ the direct
//!   difference is as accurate as p ([`super::target_minus_p`]).
//! - a^β = exp(β·log a) (exactly 1 for β = 0, also at a = 0), so a = 0 gives 0 for β > 0.
//! - p(1 − p)/a = max(p, 1 − p)·(min(p, 1 − p)/a): min(p, 1 − p)/a is bounded (a is at least about
//!   one ulp of the smaller probability when it is not 0), whereas p(1 − p)·BCE can underflow
//!   before the division (p = 1 − 1e-200, y = 1: p(1 − p)·BCE ≈ 1e-400 but the quotient is ≈ β).
//! - Where a = 0 (y = σ(x) exactly) the gradient is 0: BCE's gradient vanishes and the derivative
//!   of a^β is taken as 0 (for β > 1 it is 0; for β ≤ 1 the contract's convention).
//! - At x = −∞ with y > 0, p(1 − p)·BCE is p·(−y log p) → 0 (taken as 0, not 0·∞).
//!
//! # Accuracy
//!
//! CONTRACT.md § Accuracy's relative rule, except near the root y = σ(x): there the relative
//! accuracy of d is that of σ(x) itself, about one ulp of p in absolute terms (the conditioning of
//! y − σ(x)), and the error is relative to the size of the terms subtracted, mass
//! c = 2·min((1 − y)·σ(x), y·σ(−x)): an absolute error of a few u·c in d is allowed (mpmath: float32
//! at x = −1.3, y = 0.21416504681110382 returns 0 for 2.47e-16; float64 at x = 0.5,
//! y = 0.6224593934477877 is 8.7e-10 relative off, both within that scale). The `acc/qfl …`
//! vectors hold the loss and gradient to exactly this scale.

use super::{
    exp_o, ln_o, non_negative, power, sigmoid_terms, target_minus_p, ElementLoss, ElementOptions, HeaderParams,
    SigmoidLanes, Start,
};
use crate::real::Real;
use crate::simd::math::FocalPow;
use crate::simd::{VMath, Vector};
use crate::FocalError;

/// Its header `loss_kind` (ts/family.ts's `kind.code`).
pub(crate) const KIND: u32 = 1;

/// β ≥ 0 and finite.
pub(crate) fn validate<T: Real>(_: &ElementOptions<T>, beta: T) -> Result<(), FocalError> {
    if non_negative(beta) {
        Ok(())
    } else {
        Err(FocalError::InvalidBeta)
    }
}

/// The loss of a call header.
pub(crate) fn from_header<T: Real>(h: &HeaderParams) -> ElementLoss<T> {
    ElementLoss::Quality { beta: T::from_f64(h.beta) }
}

/// [`element`] as the scalar loop calls it.
#[inline(always)]
pub(crate) fn scalar<T: Real>(_: &ElementOptions<T>, x: T, y0: T, _: Option<T>, beta: T) -> (T, T) {
    element(x, y0, beta)
}

/// The per-call parameters as lanes.
#[derive(Clone, Copy)]
pub(crate) struct Lanes<V> {
    beta: FocalPow<V>,
}

impl<V: VMath> Lanes<V> {
    #[inline(always)]
    pub(crate) fn new<T: Real>(_: &ElementOptions<T>, beta: T) -> Self
    where
        V: Vector<Scalar = T>,
    {
        Lanes {
            beta: FocalPow::new(beta, beta.to_f64()),
        }
    }

    /// [`lanes`] of the front `start` and the targets y.
    #[inline(always)]
    pub(crate) fn eval(&self, start: Start<V>, y: V, _: V) -> (V, V) {
        lanes(start, y, self.beta)
    }
}

/// Quality Focal Loss of one element (without w): (l, ∂l/∂x), std's exp / ln / ln_1p.
#[inline(always)]
pub(crate) fn element<T: Real>(x: T, y: T, beta: T) -> (T, T) {
    let s = sigmoid_terms(x);
    let y_bar = T::ONE - y;
    let d = target_minus_p(&s, y, y_bar);
    let a = d.abs();
    let pos = if y == T::ZERO { T::ZERO } else { y * s.sp_neg };
    let bce = pos + y_bar * s.sp_pos;
    let t = power(beta, a.ln());
    let loss = t * bce;
    let grad = if a == T::ZERO {
        T::ZERO
    } else {
        let r = if beta == T::ZERO || s.e_inv == T::ZERO {
            T::ZERO
        } else {
            beta * s.inv * (s.e_inv / a) * bce
        };
        let v = t * (r + a);
        if d > T::ZERO {
            -v
        } else {
            v
        }
    };
    (loss, grad)
}

/// [`element`] per lane from the front `start`, the targets y and β.
#[inline(always)]
pub(crate) fn lanes<V: VMath>(start: Start<V>, y: V, beta: FocalPow<V>) -> (V, V) {
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let s = SigmoidLanes::new(start);
    let (sp_pos, sp_neg, inv, e_inv) = (s.sp_pos, s.sp_neg, s.inv, s.e_inv);
    let y_bar = one - y;
    let d = s.target_minus_p(y, y_bar);
    let a = d.abs();
    let bce = V::select(y.eq(zero), zero, y * sp_neg) + y_bar * sp_pos;
    // |y − p|^β.
    let t = beta.pow_with(a, || ln_o(a), exp_o);
    // −sign(d)·a^β·(β·max(p, 1 − p)·(min(p, 1 − p)/a)·BCE + a); 0 where a = 0.
    let r = if beta.is_zero() {
        zero
    } else {
        V::select(e_inv.eq(zero), zero, beta.gamma() * inv * (e_inv / a) * bce)
    };
    let v = t * (r + a);
    let grad = V::select(a.eq(zero), zero, V::select(d.gt(zero), -v, v));
    (t * bce, grad)
}
