//! The vectorised sigmoid kernel: `crate::sigmoid::element` (see its derivation) for LANES
//! elements at a time. Hard (y ∈ {0, 1}) and soft targets are both evaluated lane-wise and the
//! right one selected per lane (the soft formulas only when some lane needs them), so an
//! element's result depends on its own inputs alone, never on its neighbours or the chunking.

use super::math::{exp, ln, ln_1p, FocalPow};
use super::{load_partial, store_partial, SimdReal, VMath, Vector};
use crate::real::Real;
use crate::{Outputs, SigmoidOptions};

/// (α_t·m^γ·CE, its derivative) per lane.
#[inline(always)]
fn element<V: VMath>(x: V, y: V, y_bar: V, alpha: Option<V>, focal_pow: FocalPow<V>) -> (V, V) {
    let gamma = focal_pow.gamma();
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let inf = V::c(f64::INFINITY);
    let x = V::select(x.eq(inf), V::c(f64::NAN), x);
    let e = exp(-x.abs());
    let log1p_e = ln_1p(e);
    let inv = one / (one + e);
    let e_inv = e * inv;
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
    let focal = focal_pow.pow(m, || -V::select(u.gt(zero), u + log1p_e, log1p_e));
    let hard_loss = alpha_t * focal * ce;
    let g_pt_log_pt = V::select(p_t.eq(zero), zero, -(gamma * p_t * ce));
    let s_alpha_t = V::select(y1, alpha_t, -alpha_t); // s·α_t, exact
    let hard_grad = s_alpha_t * focal * (g_pt_log_pt - m);

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
    let ce = y * softplus_neg + y_bar * softplus_pos;
    let m = y * q + y_bar * p;
    let focal = focal_pow.pow(m, || ln(m));
    let soft_loss = alpha_t * focal * ce;
    let ratio = V::select(m.gt(zero), p * q / m, zero);
    let first = if focal_pow.is_zero() {
        zero
    } else {
        V::select(ratio.eq(zero), zero, gamma * focal * ratio * (y_bar - y) * ce)
    };
    let soft_grad = alpha_t * (first + focal * (y_bar * p - y * q));
    (
        V::select(hard, hard_loss, soft_loss),
        V::select(hard, hard_grad, soft_grad),
    )
}

/// The sigmoid kernel over validated inputs: adds each element's weighted loss to `out.sum` in
/// order, writes it to `out.loss` and `out.grad_scale` × its gradient to `out.grad` when given.
pub(crate) fn elements<T: Real + SimdReal>(
    logits: &[T],
    targets: &[T],
    opts: &SigmoidOptions<T>,
    out: &mut Outputs<T>,
) {
    type V<T> = <T as SimdReal>::V;
    let lanes = V::<T>::LANES;
    let eps = opts.label_smoothing;
    let (one_minus_eps, half_eps) = (V::<T>::splat(T::ONE - eps), V::<T>::splat(eps * T::from_f64(0.5)));
    let scale = V::<T>::splat(T::from_f64(out.grad_scale));
    let alpha = opts.alpha.map(V::<T>::splat);
    let focal_pow = FocalPow::<V<T>>::new(opts.gamma, opts.gamma.to_f64());
    let mut loss_out = out.loss.as_deref_mut();
    let mut grad_out = out.grad.as_deref_mut();
    let mut sum = out.sum;
    let len = logits.len();
    let mut i = 0;
    while i < len {
        let n = (len - i).min(lanes);
        let x: V<T> = load_partial(&logits[i..], n, T::ZERO);
        let y: V<T> = load_partial(&targets[i..], n, T::ZERO);
        // y and ȳ = 1 − y each from non-negative terms (see crate::sigmoid::smoothed).
        let one = V::<T>::splat(T::ONE);
        let (y, y_bar) = if eps == T::ZERO {
            (y, one - y)
        } else {
            (y * one_minus_eps + half_eps, (one - y) * one_minus_eps + half_eps)
        };
        let w: V<T> = match opts.weights {
            Some(w) => load_partial(&w[i..], n, T::ZERO),
            None => V::<T>::splat(T::ONE),
        };
        let (loss, grad) = element(x, y, y_bar, alpha, focal_pow);
        let loss = w * loss;
        for &v in &loss.to_array().as_ref()[..n] {
            sum += v.to_f64();
        }
        if let Some(l) = loss_out.as_deref_mut() {
            store_partial(loss, &mut l[i..], n);
        }
        if let Some(g) = grad_out.as_deref_mut() {
            store_partial((w * scale) * grad, &mut g[i..], n);
        }
        i += n;
    }
    out.sum = sum;
}
