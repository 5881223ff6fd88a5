//! The vectorised softmax hard-target kernel (class indices, no label smoothing): the formulas of
//! `crate::softmax` (see the derivation there), evaluated for several items at once.
//!
//! # Method
//!
//! - Channels-last rows with C ≤ [`ACROSS_ROWS_MAX_C`]: one row per lane (`narrow.rs`, on
//!   `SimdReal::W`: 8 f32 or 4 f64 rows per group with SIMD128); the row's max, arg-max, S′ (per
//!   lane, in f64, classes in order — bit for bit the scalar path's summation), the target's
//!   terms and the gradient are all lane-wise (`group.rs`).
//! - Wider rows ([`wide_rows`]): vectorised along the row (max, exp, S′ as per-lane partial sums in
//!   f64, the gradient pass), one row at a time; the few transcendental terms of two rows at once
//!   (half of the lanes each, [`pair_terms`]).
//! - Channels-first `[N, C, S]` (`narrow.rs`): consecutive positions of one image in the lanes —
//!   the C logits of positions s0..s0+LANES are LANES adjacent values, one vector load per class.
//!
//! Poly-1 (ε ≠ 0) adds ε·(1 − p_t)^γ·(1 − p_t) to the loss and −ε(γ + 1)·(1 − p_t)^γ·p_t to G.
//!
//! # Special cases
//!
//! - ε = 0 skips both Poly-1 terms (the results are those without Poly-1, bit for bit). For ε < 0
//!   and 1 − p_t ≤ 1/16 the loss and G come from the series forms of `math::POLY_SERIES_MAX`
//!   instead (no cancellation).
//! - NaNs never win the max; a +∞ max makes S′ NaN, so the item's loss is NaN.
//! - p_t r_t is taken as 0 where p_t = 0 (another class than the top one), 1 where S′ = 0 (the top
//!   class).
//! - A partial group (fewer items than lanes) is padded with inert lanes (logits 0, ignored);
//!   ignored items get loss 0 and a zero gradient.
//!
//! # Accuracy
//!
//! No lane reads another, so every item's result is the same whichever group — or chunk — it falls
//! in; a wide row's lanes sum classes ≡ j (mod LANES) in order, as `group` does per item, so a row
//! gives the same bits whichever path (or chunk shape) it takes. Item losses are added to the
//! running sum in item order. The formulas' accuracy is `crate::softmax`'s
//! (CONTRACT.md § Accuracy), with `math`'s exp / ln / ln_1p in place of std's.

use super::group::{terms, Terms};
use super::math::{exp, poly_small, FocalPow, POLY_SERIES_MAX};
use super::{load_partial, store_partial, SimdReal, Vector};
use crate::real::Real;
use crate::{Alpha, Layout, Outputs, SoftmaxOptions};

use super::narrow::ACROSS_ROWS_MAX_C;

/// One wide row (C > ACROSS_ROWS_MAX_C) vectorised along the row, first part: its max, first
/// arg-max and S′; e^(z_c − max) left in `grad` if given (for [`wide_finish`]).
#[inline(always)]
fn wide_sums<T: Real + SimdReal>(z: &[T], grad: Option<&mut [T]>) -> (T, usize, T) {
    type V<T> = <T as SimdReal>::V;
    let lanes = V::<T>::LANES;
    let classes = z.len();
    // Max: lane-wise, then across lanes (NaNs never win a `>`).
    // Whole vectors first, then the padded tail (no per-vector length test in the hot loops).
    let full = classes - classes % lanes;
    let mut mv = V::<T>::splat(T::NEG_INFINITY);
    let mut i = 0;
    while i < full {
        // pmax(mv, v) = if mv < v { v } else { mv }: one instruction, and a NaN v never wins.
        mv = mv.pmax(V::<T>::load(&z[i..]));
        i += lanes;
    }
    if full < classes {
        mv = mv.pmax(load_partial(&z[full..], classes - full, T::NEG_INFINITY));
    }
    let mut m = T::NEG_INFINITY;
    for &v in mv.to_array().as_ref() {
        if v > m {
            m = v;
        }
    }
    let ms = V::<T>::splat(m);
    // The first arg-max, as the scalar path's `top` (0 when nothing beats −∞): whole vectors up to
    // the first that holds m, then that vector's lanes (a scalar scan of the row cost a tenth of
    // the kernel's time).
    let k = if m == T::NEG_INFINITY {
        0
    } else {
        let mut i = 0;
        while i < full && !V::<T>::load(&z[i..]).eq(ms).any() {
            i += lanes;
        }
        i + z[i..].iter().position(|&v| v == m).unwrap_or(0)
    };
    let mut grad = grad;
    let mut sum = V::<T>::acc_zero();
    let mut i = 0;
    while i < classes {
        let n = classes - i;
        let e = exp(load_partial::<V<T>>(&z[i..], n, T::NEG_INFINITY) - ms);
        if let Some(g) = grad.as_deref_mut() {
            store_partial(e, &mut g[i..], n);
        }
        let e = if k >= i && k < i + lanes {
            let mut a = e.to_array();
            a.as_mut()[k - i] = T::ZERO;
            V::<T>::from_array(a)
        } else {
            e
        };
        // Lane j sums classes ≡ j (mod LANES) in order, as `group` does per item, so a row gives
        // the same bits whichever path (or chunk shape) it takes. Padded lanes hold e^(−∞) = 0
        // (or NaN when max = −∞, where S′ is NaN anyway).
        sum = V::<T>::acc_add(sum, e);
        i += lanes;
    }
    let s = if m == T::INFINITY {
        T::NAN
    } else {
        T::from_f64(V::<T>::acc_total(sum))
    };
    (m, k, s)
}

/// One wide row, second part: its loss before the item weight from lane `lane` of the terms
/// ([`pair_terms`] evaluates the terms of two rows in one call); the gradient into `grad` (holding
/// e^(z_c − max) from [`wide_sums`]) if given.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn wide_finish<T: Real + SimdReal>(
    classes: usize,
    t: usize,
    a_t: T,
    tt: &Terms<T::V>,
    lane: usize,
    focal_pow: FocalPow<T::V>,
    poly: Option<(T, T)>,
    grad_weight: T,
    grad: Option<&mut [T]>,
) -> T {
    type V<T> = <T as SimdReal>::V;
    let lanes = V::<T>::LANES;
    let full = classes - classes % lanes;
    let lane0 = |v: V<T>| v.to_array().as_ref()[lane];
    let gm = lane0(focal_pow.gamma());
    let mut loss = a_t * lane0(tt.focal) * (-lane0(tt.log_p));
    // The operations of `group`, on one lane (the same bits).
    let mut small = None;
    if let Some((eps, _)) = poly {
        loss = loss + eps * (lane0(tt.focal) * lane0(tt.omp));
        if eps < T::ZERO && lane0(tt.omp) <= T::from_f64(POLY_SERIES_MAX) {
            let (k_small, b_small) = poly_small(lane0(tt.omp), lane0(tt.p), a_t, eps, gm, T::ONE + gm);
            loss = lane0(tt.focal) * k_small;
            small = Some(b_small);
        }
    }
    if let Some(g) = grad {
        let h = -lane0(tt.focal) * (T::ONE + gm * lane0(tt.p_r));
        let big_g = match (small, poly) {
            (Some(b_small), _) => -(grad_weight * (lane0(tt.focal) * b_small)),
            (None, None) => grad_weight * a_t * h,
            (None, Some((_, eps1))) => grad_weight * (a_t * h - eps1 * (lane0(tt.focal) * lane0(tt.p))),
        };
        // −G·p_c with p_c = e_c·(1/(1 + S′)), rounded exactly as `group` does (a channels-first
        // slice of one position takes this path, and must give the same bits as the whole image).
        let (big_gv, inv) = (V::<T>::splat(big_g), V::<T>::splat(lane0(tt.inv)));
        let grad_of = |e: V<T>| -(big_gv * (e * inv));
        let mut i = 0;
        while i < full {
            let e: V<T> = V::<T>::load(&g[i..]);
            grad_of(e).store(&mut g[i..]);
            i += lanes;
        }
        if full < classes {
            let n = classes - full;
            let e: V<T> = load_partial(&g[full..], n, T::ZERO);
            store_partial(grad_of(e), &mut g[full..], n);
        }
        g[t] = big_g * lane0(tt.omp);
    }
    loss
}

/// The hard-target kernel: for each item adds its weighted loss to `out.sum` (in item order),
/// writes it to `out.loss` and `out.grad_scale` × its gradient to `out.grad` when given. Inputs
/// are already validated (targets in range or the ignore index; lengths match `layout`).
pub(crate) fn hard_targets<T: Real + SimdReal>(
    layout: Layout,
    logits: &[T],
    targets: &[i32],
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
) {
    if layout.spatial != 1 || layout.classes <= ACROSS_ROWS_MAX_C {
        // One item per lane (`narrow.rs`), on the element-wise kernels' vector `W`: with SIMD128
        // two vectors interleaved: 7-30% less kernel time than one (BENCHMARKS.md), the same bits.
        super::narrow::hard_targets::<T, T::W>(layout, logits, targets, opts, out);
        return;
    }
    wide_rows(layout, logits, targets, opts, out);
}

/// [`hard_targets`] for channels-last rows wider than ACROSS_ROWS_MAX_C, two rows at a time: each
/// row's max, S′ and gradient pass along the row, then the terms of both rows in one call (row j
/// in lanes j·half..(j + 1)·half; lane-wise, so a row's result does not depend on its partner:
/// [`pair_terms`]), then each row's gradient and loss in row order ([`wide_finish`]).
// Neither this nor `pair_terms` is `#[inline(always)]`: forcing both made the 16384 × 100 f32
// kernel with a gradient 30% slower (bench/kernel.mjs); left to the compiler it is within 2% of the
// single function they were split from (the SIMD build within noise).
fn wide_rows<T: Real + SimdReal>(
    layout: Layout,
    logits: &[T],
    targets: &[i32],
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
) {
    type V<T> = <T as SimdReal>::V;
    let half = V::<T>::LANES / 2;
    let classes = layout.classes;
    let focal_pow = FocalPow::<V<T>>::new(opts.gamma, opts.gamma.to_f64());
    // (ε, ε·(γ + 1)) of Poly-1.
    let eps = opts.poly_epsilon;
    let poly = (eps != T::ZERO).then(|| (eps, eps * (opts.gamma + T::ONE)));
    let scale = T::from_f64(out.grad_scale);
    let ignore = opts.ignore_index;
    let mut loss_out = out.loss.as_deref_mut();
    let mut grad_out = out.grad.as_deref_mut();
    let mut sum = out.sum;
    let alpha_of = |c: usize| match opts.alpha {
        Alpha::None => T::ONE,
        Alpha::Scalar(a) => a,
        Alpha::PerClass(a) => a[c],
    };
    let mut r0 = 0;
    while r0 < layout.batch {
        let n = (layout.batch - r0).min(2);
        let tt = pair_terms(
            logits,
            targets,
            classes,
            ignore,
            r0..r0 + n,
            grad_out.as_deref_mut(),
            focal_pow,
        );
        for j in 0..n {
            let r = r0 + j;
            let grad = grad_out.as_deref_mut().map(|g| &mut g[r * classes..(r + 1) * classes]);
            let w = opts.weights.map_or(T::ONE, |w| w[r]);
            let ti = targets[r];
            let loss = if ti == ignore {
                T::ZERO
            } else {
                let t = ti as usize;
                w * wide_finish(classes, t, alpha_of(t), &tt, j * half, focal_pow, poly, w * scale, grad)
            };
            sum += loss.to_f64();
            if let Some(out) = loss_out.as_deref_mut() {
                out[r] = loss;
            }
        }
        r0 += n;
    }
    out.sum = sum;
}

/// The first pass of `rows` (one or two) of [`wide_rows`]: each row's [`wide_sums`] (leaving e^(z_c − max) in its
/// gradient row; an ignored row's gradient is zeroed instead), then the [`Terms`] of both rows in
/// one call, row j in lanes j·half..(j + 1)·half.
#[allow(clippy::too_many_arguments)]
fn pair_terms<T: Real + SimdReal>(
    logits: &[T],
    targets: &[i32],
    classes: usize,
    ignore: i32,
    rows: core::ops::Range<usize>,
    mut grad_out: Option<&mut [T]>,
    focal_pow: FocalPow<T::V>,
) -> Terms<T::V> {
    type V<T> = <T as SimdReal>::V;
    let half = V::<T>::LANES / 2;
    let all = V::<T>::splat_bits(u64::MAX).to_array().as_ref()[0];
    let mut d = V::<T>::splat(T::ZERO).to_array();
    let mut s_lanes = V::<T>::splat(T::ZERO).to_array();
    let mut top = V::<T>::splat_bits(u64::MAX).to_array();
    for (j, r) in rows.enumerate() {
        let row = &logits[r * classes..(r + 1) * classes];
        let grad = grad_out.as_deref_mut().map(|g| &mut g[r * classes..(r + 1) * classes]);
        let ti = targets[r];
        if ti == ignore {
            if let Some(g) = grad {
                g.fill(T::ZERO);
            }
            continue;
        }
        let t = ti as usize;
        let (m, k, sp) = wide_sums(row, grad);
        for l in j * half..(j + 1) * half {
            d.as_mut()[l] = row[t] - m;
            s_lanes.as_mut()[l] = sp;
            top.as_mut()[l] = if t == k {
                all
            } else {
                V::<T>::splat_bits(0).to_array().as_ref()[0]
            };
        }
    }
    terms(
        V::<T>::from_array(d),
        V::<T>::from_array(top),
        V::<T>::from_array(s_lanes),
        focal_pow,
    )
}
