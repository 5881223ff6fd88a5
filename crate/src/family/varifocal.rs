//! Varifocal Loss (Zhang et al., VarifocalNet, 2021; mmdet `VarifocalLoss`) of one element, before
//! the element weight w: for y > 0, l = y·BCE(x, y) (`iou_weighted`) or BCE(x, y); for y = 0,
//! l = α·σ(x)^γ·softplus(x), α ≥ 0 (0.75 in mmdet), γ ≥ 0 (2 in mmdet). The focal weight is
//! differentiated (not detached, as mmdet).
//!
//! # Method
//!
//! For y > 0 (a positive with IoU-aware score y): l = k·BCE(x, y) with k = y (iou_weighted) or 1,
//! ∂l/∂x = k·(p − y) = −k·d, d = y − p formed as in [`super::quality`] (so a confident right
//! answer, p = 1 − 1e-30 with y = 1, gets the gradient −1e-30 and not 0).
//!
//! For y = 0: l = α·p^γ·softplus(x) (BCE(x, 0) = softplus(x) = −log(1 − p)),
//! ∂l/∂x = α·p^γ·(γ·(1 − p)·softplus(x) + p), both terms ≥ 0.
//!
//! The lanes evaluate both branches' operations and select per lane (the y = 0 branch only when
//! some lane needs it); p^γ by products for integer γ ≤ 5 (`FocalPow`), else out of line.
//!
//! # Special cases
//!
//! - p^γ = exp(−γ·softplus(−x)) is finite for every γ ≥ 0 (no p^(γ−1)), 1 for γ = 0, and 0 at
//!   x = −∞ (where the loss and gradient are 0).
//! - y = 1 at p → 1: the gradient is −σ(−x) to full precision, never 0 by cancellation.
//!
//! # Accuracy
//!
//! CONTRACT.md § Accuracy's relative rule for every finite input: no term of either branch cancels,
//! and d = y − p is as accurate as [`super::quality`]'s (exact for y = 1).

use super::{
    exp_o, non_negative, power, sigmoid_terms, target_minus_p, ElementLoss, ElementOptions, HeaderParams, SigmoidLanes,
    Start,
};
use crate::real::Real;
use crate::simd::math::FocalPow;
use crate::simd::{VMath, Vector};
use crate::{check_gamma, FocalError};

/// Its header `loss_kind` (ts/family.ts's `kind.code`).
pub(crate) const KIND: u32 = 2;

/// γ ≥ 0 and α ≥ 0, finite.
pub(crate) fn validate<T: Real>(_: &ElementOptions<T>, alpha: T, gamma: T, _: bool) -> Result<(), FocalError> {
    check_gamma(gamma)?;
    if !non_negative(alpha) {
        return Err(FocalError::InvalidAlpha);
    }
    Ok(())
}

/// The loss of a call header.
pub(crate) fn from_header<T: Real>(h: &HeaderParams) -> ElementLoss<T> {
    ElementLoss::Varifocal {
        alpha: T::from_f64(h.alpha_scalar),
        gamma: T::from_f64(h.gamma),
        iou_weighted: h.iou_weighted,
    }
}

/// [`element`] as the scalar loop calls it.
#[inline(always)]
pub(crate) fn scalar<T: Real>(
    _: &ElementOptions<T>,
    x: T,
    y0: T,
    _: Option<T>,
    alpha: T,
    gamma: T,
    iou_weighted: bool,
) -> (T, T) {
    element(x, y0, alpha, gamma, iou_weighted)
}

/// The per-call parameters as lanes.
#[derive(Clone, Copy)]
pub(crate) struct Lanes<V> {
    alpha: V,
    gamma: FocalPow<V>,
    iou_weighted: bool,
}

impl<V: VMath> Lanes<V> {
    #[inline(always)]
    pub(crate) fn new<T: Real>(_: &ElementOptions<T>, alpha: T, gamma: T, iou_weighted: bool) -> Self
    where
        V: Vector<Scalar = T>,
    {
        Lanes {
            alpha: V::splat(alpha),
            gamma: FocalPow::new(gamma, gamma.to_f64()),
            iou_weighted,
        }
    }

    /// [`lanes`] of the front `start` and the targets y.
    #[inline(always)]
    pub(crate) fn eval(&self, start: Start<V>, y: V, _: V) -> (V, V) {
        lanes(start, y, self.alpha, self.gamma, self.iou_weighted)
    }
}

/// Varifocal Loss of one element (without w): (l, ∂l/∂x), std's exp / ln / ln_1p.
#[inline(always)]
pub(crate) fn element<T: Real>(x: T, y: T, alpha: T, gamma: T, iou_weighted: bool) -> (T, T) {
    let s = sigmoid_terms(x);
    if y > T::ZERO {
        let y_bar = T::ONE - y;
        let k = if iou_weighted { y } else { T::ONE };
        let bce = y * s.sp_neg + y_bar * s.sp_pos;
        (k * bce, -(k * target_minus_p(&s, y, y_bar)))
    } else {
        let ag = alpha * power(gamma, -s.sp_neg);
        (ag * s.sp_pos, ag * (gamma * s.q * s.sp_pos + s.p))
    }
}

/// [`element`] per lane from the front `start`, the targets y, α, γ and `iou_weighted`.
#[inline(always)]
pub(crate) fn lanes<V: VMath>(start: Start<V>, y: V, alpha: V, gamma: FocalPow<V>, iou_weighted: bool) -> (V, V) {
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let s = SigmoidLanes::new(start);
    let (p, q, sp_pos, sp_neg) = (s.p, s.q, s.sp_pos, s.sp_neg);
    let y_bar = one - y;
    // y > 0: k·BCE(x, y), gradient k·(p − y), k = y or 1.
    let positive = y.gt(zero);
    let k = if iou_weighted { y } else { one };
    let bce = y * sp_neg + y_bar * sp_pos;
    let pos_loss = k * bce;
    let pos_grad = -(k * s.target_minus_p(y, y_bar));
    if !V::select(positive, zero, one).any() {
        return (pos_loss, pos_grad);
    }
    // y = 0: α·p^γ·softplus(x), gradient α·p^γ·(γ(1 − p)·softplus(x) + p).
    let ag = alpha * gamma.pow_with(p, || -sp_neg, exp_o);
    let neg_loss = ag * sp_pos;
    let neg_grad = ag * (gamma.gamma() * q * sp_pos + p);
    (
        V::select(positive, pos_loss, neg_loss),
        V::select(positive, pos_grad, neg_grad),
    )
}
