//! The softmax hard-target formulas for a group of items in lanes, shared by the row kernels of
//! `softmax.rs` (wide rows, two at a time) and the item-in-lanes paths of `narrow.rs`: the target
//! class's terms ([`terms`]) and one group's loss and gradient ([`group`]), read and written
//! through [`Access`]. The formulas and their derivation are `crate::softmax`'s.
//!
//! # Method
//!
//! Per lane (one item): the max and first arg-max k of the logits, S′ = Σ_{c≠k} e^(z_c − max) in
//! f64 as `V::LANES` partial sums (class c into partial c mod LANES, classes in order, then the
//! partials in order: the order `softmax.rs` adds a wide row), then from d = z_t − max and S′:
//! log p_t = d − log1p(S′), 1 − p_t = S′/(1 + S′) for the top class and 1 − p_t otherwise,
//! p_t·r_t, (1 − p_t)^γ (`FocalPow`), the loss a_t·(1 − p_t)^γ·(−log p_t) (+ Poly-1), and the
//! gradient G·(δ_ct − p_c) with the target's entry G·(1 − p_t).
//!
//! # Special cases
//!
//! - NaNs never win a `>`; a +∞ max makes S′ NaN, so the item's loss is NaN.
//! - p_t r_t is 0 where p_t = 0 (not the top class), 1 where S′ = 0 (the top class).
//! - Poly-1 with ε < 0 and 1 − p_t ≤ 1/16: the series forms of `math::POLY_SERIES_MAX`.
//! - Lanes that are not `live` (ignored or padding) get loss 0 and a zero gradient.
//!
//! # Accuracy
//!
//! Every lane runs the same operations on its own item, so an item's result is the same bits in
//! whichever lane, group or chunk it falls; the formulas' accuracy is `crate::softmax`'s
//! (CONTRACT.md § Accuracy), with `math`'s exp / ln / ln_1p.

use super::math::{exp, ln, ln_1p, poly_series, FocalPow};

/// The per-item quantities of the target class t (lane-wise), as `softmax::class_terms`.
pub(super) struct Terms<V> {
    /// log p_t
    pub(super) log_p: V,
    /// 1 − p_t (stable)
    pub(super) omp: V,
    /// (1 − p_t)^γ
    pub(super) focal: V,
    /// p_t · r_t
    pub(super) p_r: V,
    /// 1 / (1 + S′)
    pub(super) inv: V,
    /// p_t
    pub(super) p: V,
}

/// d = z_t − max, `is_top` the lanes where t is the arg-max, s = S′.
// Once per LANES items (not per class): one out-of-line instance per float type instead of a
// copy of its exp, ln and two ln_1p in each of the three item paths keeps the .wasm small.
#[inline(never)]
pub(super) fn terms<V: super::VMath>(d: V, is_top: V, s: V, focal_pow: FocalPow<V>) -> Terms<V> {
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let log1p_s = ln_1p(s);
    let inv = one / (one + s);
    let log_p = d - log1p_s;
    // t is the top class: 1 − p_t = S′/(1 + S′), log(1 − p_t) = log S′ − log1p S′, p r = log1p(S′)/S′ → 1.
    let pr_top = V::select(s.gt(zero), log1p_s / s, one);
    let omp_top = s * inv;
    // Any other class: p_t ≤ ½, so 1 − p_t and log1p(−p_t) need no care; p r → 0 as p → 0.
    let p = exp(log_p);
    let omp_other = one - p;
    let pr_other = V::select(p.gt(zero), p * (-log_p) / omp_other, zero);
    let omp = V::select(is_top, omp_top, omp_other);
    let p_r = V::select(is_top, pr_top, pr_other);
    // (1 − p_t)^γ: by multiplication for integer γ, else exp(γ · log(1 − p_t)) (see FocalPow).
    let focal = focal_pow.pow(omp, || V::select(is_top, ln(s) - log1p_s, ln_1p(-p)));
    Terms {
        log_p,
        omp,
        focal,
        p_r,
        inv,
        p: V::select(is_top, inv, p),
    }
}

/// Where one group's logits come from and its gradient goes.
pub(super) trait Access<V> {
    /// The logits of class c (one per lane).
    fn z(&self, c: usize) -> V;
    /// Keeps e^(z_c − max) until the gradient pass.
    fn stash(&mut self, c: usize, e: V);
    /// What `stash` kept.
    fn stashed(&self, c: usize) -> V;
    /// Writes the gradient of class c for the group's real lanes.
    fn write(&mut self, c: usize, g: V);
}

/// Loss (before the item weight) of each lane; the gradient through `acc.write` if `want_grad`.
/// `t` holds each lane's class index as lane bits, `live` the lanes that are not ignored.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn group<V: super::VMath, A: Access<V>>(
    acc: &mut A,
    classes: usize,
    t: V,
    a_t: V,
    grad_weight: V,
    live: V,
    focal_pow: FocalPow<V>,
    poly: Option<(V, V)>,
    want_grad: bool,
    parts: usize,
) -> V {
    let gamma = focal_pow.gamma();
    let zero = V::c(0.0);
    let inf = V::c(f64::INFINITY);
    // Max, first arg-max (NaNs never win a `>`), and the target's logit.
    let mut m = -inf;
    let mut k = V::splat_bits(0);
    let mut z_t = zero;
    for c in 0..classes {
        let v = acc.z(c);
        let ci = V::splat_bits(c as u64);
        let gt = v.gt(m);
        m = V::select(gt, v, m);
        k = V::select(gt, ci, k);
        z_t = V::select(t.ieq(ci), v, z_t);
    }
    // S′ = Σ_{c≠k} e^(z_c − m) per lane in f64, in the order `wide_row` adds a row: LANES partial
    // sums (class c into partial c mod LANES, classes in order), then the partials in order.
    let mut sums = [V::acc_zero(); 4];
    let mut add_class = |c: usize, partial: &mut V::Acc| {
        let e = exp(acc.z(c) - m);
        *partial = V::acc_add(*partial, V::select(k.ieq(V::splat_bits(c as u64)), zero, e));
        if want_grad {
            acc.stash(c, e);
        }
    };
    if super::HARDWARE_SIMD {
        // Classes LANES at a time, so that the partial a class goes to is a constant: the partials
        // stay in registers instead of an array in memory indexed by c mod LANES (~11% of the
        // C = 10 kernel). The scalar build keeps the plain loop (the unrolled one only adds size).
        let mut c0 = 0;
        while c0 < classes {
            for (j, partial) in sums.iter_mut().enumerate().take(parts) {
                if c0 + j < classes {
                    add_class(c0 + j, partial);
                }
            }
            c0 += parts;
        }
    } else {
        for c in 0..classes {
            add_class(c, &mut sums[c % parts]);
        }
    }
    let mut sum = sums[0];
    for &partial in &sums[1..parts] {
        sum = V::acc_merge(sum, partial);
    }
    let s = V::select(m.eq(inf), V::c(f64::NAN), V::acc_round(sum));
    let tt = terms(z_t - m, t.ieq(k), s, focal_pow);
    let mut loss = a_t * tt.focal * (-tt.log_p);
    // For ε < 0, the lanes with 1 − p_t ≤ 1/16 take the series forms (K, B) (see
    // `math::POLY_SERIES_MAX`); computed only when some lane needs them.
    let mut small = None;
    if let Some((eps, _)) = poly {
        loss = loss + eps * (tt.focal * tt.omp);
        let (series, fk, fb) = poly_series(tt.omp, tt.p, a_t, eps, gamma, tt.focal);
        loss = V::select(series, fk, loss);
        small = Some((series, fb));
    }
    let loss = V::select(live, loss, zero);
    if want_grad {
        // G·(δ_ct − p_c): the target's entry is G·(1 − p_t) with the stable 1 − p_t.
        let h = -tt.focal * (V::c(1.0) + gamma * tt.p_r);
        let mut big_g = match poly {
            None => grad_weight * a_t * h,
            Some((_, eps1)) => grad_weight * (a_t * h - eps1 * (tt.focal * tt.p)),
        };
        if let Some((series, fb)) = small {
            big_g = V::select(series, -(grad_weight * fb), big_g);
        }
        let g_t = big_g * tt.omp;
        for c in 0..classes {
            let e = acc.stashed(c);
            let g = V::select(t.ieq(V::splat_bits(c as u64)), g_t, -(big_g * (e * tt.inv)));
            acc.write(c, V::select(live, g, zero));
        }
    }
    loss
}
