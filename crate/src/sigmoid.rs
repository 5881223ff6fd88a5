//! Sigmoid (binary, multi-label) focal loss and its gradient.
//!
//! Per element with logit x, target y ∈ [0, 1], p = σ(x):
//!
//!   m = 1 − p_t = y(1 − p) + (1 − y)p,   CE = y·softplus(−x) + (1 − y)·softplus(x),
//!   α_t = α·y + (1 − α)(1 − y) (or 1),   l = w·α_t·m^γ·CE,
//!   ∂l/∂x = w·α_t·[γ·m^(γ−1)·(1 − 2y)·p(1 − p)·CE + m^γ·(p − y)].
//!
//! Stable evaluation:
//! - One e = exp(−|x|) gives everything: σ(|x|) = 1/(1 + e), σ(−|x|) = e/(1 + e) (both p and 1 − p
//!   without subtraction), and softplus(±x) = max(±x, 0) + log1p(e), so log σ(x) = −softplus(−x)
//!   never takes the log of a rounded probability.
//! - Hard targets (y ∈ {0, 1}, the common case): with s = 2y − 1 and p_t = σ(s·x),
//!   m = 1 − p_t = σ(−s·x) exactly, log m = −softplus(s·x) (finite even when m underflows), and
//!   ∂l/∂x = s·w·α_t·m^γ·(γ·p_t·log p_t − m), where both terms in the bracket are ≤ 0: no
//!   cancellation and no m^(γ−1), so 0 < γ < 1 is finite at every x. In particular the loss of a
//!   confident right answer is the tiny m^γ·CE, never the 0 that 1 − exp(−CE) rounds to.
//! - Soft targets: m is a sum of non-negative terms, and m ≥ min(y, 1 − y) > 0, so
//!   m^(γ−1)·p(1 − p) = m^γ·(p(1 − p)/m) with the ratio in [0, 1]: no negative power of 0.
//! - 0 · ∞ products at x = −∞ take their limit 0; NaN or +∞ logits give NaN.

use crate::real::Real;
use crate::{
    check_gamma, check_label_smoothing, check_weights, grad_scale, reduce, FocalError, Outputs, Reduced, Reduction,
    SigmoidOptions,
};

/// The smoothed target and its complement, y = y0(1 − ε) + ε/2 and ȳ = (1 − y0)(1 − ε) + ε/2:
/// ȳ is formed from its own non-negative terms, not as 1 − y, which would cancel for a hard
/// positive with a small ε (only the digits of ε/2 that survive rounding y would remain).
#[inline(always)]
pub(crate) fn smoothed<T: Real>(y0: T, eps: T) -> (T, T) {
    if eps == T::ZERO {
        (y0, T::ONE - y0)
    } else {
        let half_eps = eps * T::from_f64(0.5);
        (
            y0 * (T::ONE - eps) + half_eps,
            (T::ONE - y0) * (T::ONE - eps) + half_eps,
        )
    }
}

/// Loss (without the weight w) and gradient factor of one element: returns (α_t·m^γ·CE, ∂/∂x of it).
/// `y_bar` is 1 − y computed by the caller without cancellation (see [`smoothed`]).
#[inline(always)]
fn element<T: Real>(x: T, y: T, y_bar: T, alpha: Option<T>, gamma: T) -> (T, T) {
    let x = if x == T::INFINITY { T::NAN } else { x };
    let e = (-x.abs()).exp();
    let log1p_e = e.ln_1p();
    let softplus_pos = if x > T::ZERO { x + log1p_e } else { log1p_e }; // softplus(x)
    let softplus_neg = if x < T::ZERO { log1p_e - x } else { log1p_e }; // softplus(−x)
    let inv = T::ONE / (T::ONE + e);
    let (p, q) = if x >= T::ZERO { (inv, e * inv) } else { (e * inv, inv) }; // σ(x), 1 − σ(x)
    let alpha_t = match alpha {
        Some(a) => a * y + (T::ONE - a) * y_bar,
        None => T::ONE,
    };
    let pow = |log_m: T| {
        if gamma == T::ZERO {
            T::ONE
        } else {
            (gamma * log_m).exp()
        }
    };
    if y == T::ONE || y == T::ZERO {
        // p_t = σ(s·x), m = σ(−s·x), CE = −log p_t = softplus(−s·x), log m = −softplus(s·x).
        let (p_t, m, ce, log_m, s) = if y == T::ONE {
            (p, q, softplus_neg, -softplus_pos, T::ONE)
        } else {
            (q, p, softplus_pos, -softplus_neg, -T::ONE)
        };
        let focal = pow(log_m);
        let loss = alpha_t * focal * ce;
        // γ·p_t·log p_t with the limit 0 when p_t = 0 (x = ∓∞ with CE = ∞).
        let g_pt_log_pt = if p_t == T::ZERO { T::ZERO } else { -(gamma * p_t * ce) };
        let grad = s * alpha_t * focal * (g_pt_log_pt - m);
        (loss, grad)
    } else {
        let ce = y * softplus_neg + y_bar * softplus_pos;
        let m = y * q + y_bar * p;
        let focal = pow(m.ln());
        let loss = alpha_t * focal * ce;
        let ratio = if m > T::ZERO { p * q / m } else { T::ZERO };
        let first = if ratio == T::ZERO || gamma == T::ZERO {
            T::ZERO
        } else {
            gamma * focal * ratio * (y_bar - y) * ce
        };
        // p − y as (1 − y)·p − y·(1 − p): when p rounds near 1 the direct difference loses the
        // digits of the stable 1 − p (f32 soft targets near 1 were off by ~1e-5 of the gradient).
        let grad = alpha_t * (first + focal * (y_bar * p - y * q));
        (loss, grad)
    }
}

fn validate<T: Real>(
    logits: &[T],
    targets: &[T],
    opts: &SigmoidOptions<T>,
    out: &Outputs<T>,
) -> Result<(), FocalError> {
    let n = logits.len();
    if targets.len() != n
        || out.grad.as_ref().is_some_and(|g| g.len() != n)
        || out.loss.as_ref().is_some_and(|l| l.len() != n)
    {
        return Err(FocalError::LengthMismatch);
    }
    check_gamma(opts.gamma)?;
    check_label_smoothing(opts.label_smoothing)?;
    if let Some(a) = opts.alpha {
        if !(a >= T::ZERO && a <= T::ONE) {
            return Err(FocalError::InvalidAlpha);
        }
    }
    check_weights(opts.weights, n)?;
    if let Some(index) = crate::first_failing(targets, |y| y >= T::ZERO && y <= T::ONE) {
        return Err(FocalError::InvalidProbability { index });
    }
    Ok(())
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
    // Vectorised (crate::simd::sigmoid: the same formulas, several elements at a time).
    validate(logits, targets, opts, out)?;
    crate::simd::sigmoid::elements(logits, targets, opts, out);
    Ok(())
}

/// [`sigmoid_focal_accumulate`] on the scalar path only (one element at a time, std's exp / ln),
/// which the vectorised kernel is tested against (`focal_loss::scalar`).
pub fn sigmoid_focal_accumulate_scalar<T: Real>(
    logits: &[T],
    targets: &[T],
    opts: &SigmoidOptions<T>,
    out: &mut Outputs<T>,
) -> Result<(), FocalError> {
    validate(logits, targets, opts, out)?;
    let eps = opts.label_smoothing;
    let scale = T::from_f64(out.grad_scale);
    let mut loss_out = out.loss.as_deref_mut();
    let mut grad_out = out.grad.as_deref_mut();
    let mut sum = out.sum;
    for i in 0..logits.len() {
        let (y, y_bar) = smoothed(targets[i], eps);
        let w = opts.weights.map_or(T::ONE, |w| w[i]);
        let (loss, grad) = element(logits[i], y, y_bar, opts.alpha, opts.gamma);
        let loss = w * loss;
        sum += loss.to_f64();
        if let Some(l) = loss_out.as_deref_mut() {
            l[i] = loss;
        }
        if let Some(g) = grad_out.as_deref_mut() {
            g[i] = (w * scale) * grad;
        }
    }
    out.sum = sum;
    Ok(())
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
