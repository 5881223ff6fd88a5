//! The sigmoid (binary, multi-label) focal loss: the original API, now a driver of the `Focal`
//! member of the element-wise family (`crate::family::focal`, where the derivation and the stable
//! evaluation are written beside the kernel).
//!
//! # Method
//!
//! Per element with logit x, target y ∈ [0, 1], p = σ(x):
//!
//!   m = 1 − p_t = y(1 − p) + (1 − y)p,   CE = y·softplus(−x) + (1 − y)·softplus(x),
//!   α_t = α·y + (1 − α)(1 − y) (or 1),   l = w·α_t·m^γ·CE,
//!   ∂l/∂x = w·α_t·[γ·m^(γ−1)·(1 − 2y)·p(1 − p)·CE + m^γ·(p − y)].
//!
//! These functions take dense targets over a flat batch (`Layout::rows(n, 1)`), turn
//! [`SigmoidOptions`] into `ElementOptions` (no positive weight, no Poly-1 term) and give the same
//! results, bit for bit, as [`crate::elementwise_accumulate`] with `ElementLoss::Focal`.
//!
//! # Special cases
//!
//! Those of the element-wise family (`crate::family`, `crate::family::focal`): +∞ gives NaN, −∞ is
//! valid, zero weights are exact zeros. `'mean'` divides by the element count.
//!
//! # Accuracy
//!
//! That of `crate::family::focal` (CONTRACT.md § Accuracy).

use crate::elementwise::{elementwise_accumulate, elementwise_accumulate_scalar};
use crate::real::Real;
use crate::{
    grad_scale, reduce, ElementLoss, ElementOptions, ElementTargets, FocalError, Layout, Outputs, PosWeight, Reduced,
    Reduction, SigmoidOptions,
};

/// The element-wise options of a sigmoid call.
fn element_options<'a, T: Real>(opts: &SigmoidOptions<'a, T>) -> ElementOptions<'a, T> {
    ElementOptions {
        loss: ElementLoss::Focal {
            gamma: opts.gamma,
            alpha: opts.alpha,
        },
        label_smoothing: opts.label_smoothing,
        pos_weight: PosWeight::None,
        poly_epsilon: T::ZERO,
        weights: opts.weights,
    }
}

/// The streaming kernel: validates first (nothing written on error), then adds each element's
/// loss to `out.sum` in order, writes it to `out.loss` if given and `out.grad_scale` × its
/// gradient to `out.grad` if given.
pub fn sigmoid_focal_accumulate<T: Real>(
    logits: &[T],
    targets: &[T],
    opts: &SigmoidOptions<T>,
    out: &mut Outputs<T>,
) -> Result<(), FocalError> {
    let layout = Layout::rows(logits.len(), 1);
    elementwise_accumulate(
        layout,
        logits,
        ElementTargets::Dense(targets),
        &element_options(opts),
        out,
    )
    .map(|_| ())
}

/// [`sigmoid_focal_accumulate`] on the scalar path only (one element at a time, std's exp / ln),
/// which the vectorised kernel is tested against (`focal_loss::scalar`).
pub fn sigmoid_focal_accumulate_scalar<T: Real>(
    logits: &[T],
    targets: &[T],
    opts: &SigmoidOptions<T>,
    out: &mut Outputs<T>,
) -> Result<(), FocalError> {
    let layout = Layout::rows(logits.len(), 1);
    elementwise_accumulate_scalar(
        layout,
        logits,
        ElementTargets::Dense(targets),
        &element_options(opts),
        out,
    )
    .map(|_| ())
}

/// Sigmoid focal loss of a batch under `reduction` ('mean' over all elements), with its gradient
/// written to `grad_out` when given. `loss_out` is required for `Reduction::None`.
pub fn sigmoid_focal_loss<T: Real>(
    logits: &[T],
    targets: &[T],
    opts: &SigmoidOptions<T>,
    reduction: Reduction,
    loss_out: Option<&mut [T]>,
    grad_out: Option<&mut [T]>,
) -> Result<Reduced, FocalError> {
    if reduction == Reduction::None && loss_out.is_none() {
        return Err(FocalError::InvalidArgument);
    }
    let count = logits.len();
    let mut out = Outputs {
        loss: loss_out,
        grad: grad_out,
        grad_scale: grad_scale(reduction, count),
        sum: 0.0,
    };
    sigmoid_focal_accumulate(logits, targets, opts, &mut out)?;
    Ok(reduce(reduction, out.sum, count))
}
