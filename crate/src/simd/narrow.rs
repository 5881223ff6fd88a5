//! The softmax hard-target kernel's item-in-lanes paths: channels-last rows with
//! C ≤ [`ACROSS_ROWS_MAX_C`] and every channels-first batch. One item (a row, or a position of a
//! channels-first image) per lane, so the row's max, arg-max, S′, log1p, the power and the
//! gradient are vertical vector work (`softmax::group`, which also holds the formulas).
//!
//! The lanes are those of the vector type `U` the caller picks: with SIMD128 `SimdReal::W`, two
//! `v128` interleaved (`pair::Pair`: 8 f32 rows or 4 f64 rows per group), so that two independent
//! dependency chains share the CPU's out-of-order window; in the scalar build `W` is the single
//! vector. Every lane runs the operations of the single-vector group — S′ still partitions the
//! classes into `V::LANES` partial sums, whatever `U`'s lane count — so an item's result is the
//! same bits whichever `U`, group or chunk it falls in (tested below against `U = V`).
//!
//! A partial group (fewer items than lanes) is padded with inert lanes (logits 0, ignored), and
//! no lane reads another. Item losses are added to the running sum in item order.

use super::math::FocalPow;
use super::softmax::{group, Access};
use super::{load_partial, store_partial, SimdReal, VMath, Vector};
use crate::real::Real;
use crate::{Alpha, Layout, Outputs, SoftmaxOptions};

/// Rows up to this many classes go one row per lane; wider rows are vectorised along the row.
pub const ACROSS_ROWS_MAX_C: usize = 16;

/// One group of channels-last rows (`n` of them real), logits gathered once.
struct Rows<'a, U: Vector> {
    z: [U; ACROSS_ROWS_MAX_C],
    e: [U; ACROSS_ROWS_MAX_C],
    grad: Option<&'a mut [U::Scalar]>,
    first: usize,
    n: usize,
    classes: usize,
}

impl<U: Vector> Access<U> for Rows<'_, U> {
    #[inline(always)]
    fn z(&self, c: usize) -> U {
        self.z[c]
    }
    #[inline(always)]
    fn stash(&mut self, c: usize, e: U) {
        self.e[c] = e;
    }
    #[inline(always)]
    fn stashed(&self, c: usize) -> U {
        self.e[c]
    }
    #[inline(always)]
    fn write(&mut self, c: usize, g: U) {
        if let Some(grad) = self.grad.as_deref_mut() {
            let lanes = g.to_array();
            for (l, &v) in lanes.as_ref()[..self.n].iter().enumerate() {
                grad[(self.first + l) * self.classes + c] = v;
            }
        }
    }
}

/// A group of consecutive positions of one channels-first image (`n` of them real).
struct Positions<'a, U: Vector> {
    logits: &'a [U::Scalar],
    grad: Option<&'a mut [U::Scalar]>,
    base: usize,
    stride: usize,
    n: usize,
}

impl<U: Vector> Access<U> for Positions<'_, U>
where
    U::Scalar: Real,
{
    #[inline(always)]
    fn z(&self, c: usize) -> U {
        load_partial(&self.logits[self.base + c * self.stride..], self.n, U::Scalar::ZERO)
    }
    #[inline(always)]
    fn stash(&mut self, c: usize, e: U) {
        self.write(c, e);
    }
    #[inline(always)]
    fn stashed(&self, c: usize) -> U {
        let g = self.grad.as_deref().expect("stash before stashed");
        load_partial(&g[self.base + c * self.stride..], self.n, U::Scalar::ZERO)
    }
    #[inline(always)]
    fn write(&mut self, c: usize, g: U) {
        if let Some(grad) = self.grad.as_deref_mut() {
            store_partial(g, &mut grad[self.base + c * self.stride..], self.n);
        }
    }
}

/// The hard-target kernel for channels-last rows with C ≤ [`ACROSS_ROWS_MAX_C`] and for
/// channels-first layouts, items in the lanes of `U` (see the module's comment). As
/// `softmax::hard_targets`: adds each item's weighted loss to `out.sum` (in item order), writes it
/// to `out.loss` and `out.grad_scale` × its gradient to `out.grad` when given. Inputs are already
/// validated.
pub(crate) fn hard_targets<T: Real + SimdReal, U: VMath + Vector<Scalar = T>>(
    layout: Layout,
    logits: &[T],
    targets: &[i32],
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
) {
    let lanes = U::LANES;
    // S′'s partition of the classes, that of the single vector's lanes (see the module's comment).
    let parts = <T::V as Vector>::LANES;
    let (classes, stride) = (layout.classes, layout.spatial);
    debug_assert!(stride > 1 || classes <= ACROSS_ROWS_MAX_C);
    let focal_pow = FocalPow::<U>::new(opts.gamma, opts.gamma.to_f64());
    // (ε, ε·(γ + 1)) of Poly-1.
    let eps = opts.poly_epsilon;
    let poly = (eps != T::ZERO).then(|| (U::splat(eps), U::splat(eps * (opts.gamma + T::ONE))));
    let scale = T::from_f64(out.grad_scale);
    let ignore = opts.ignore_index;
    let want_grad = out.grad.is_some();
    let mut loss_out = out.loss.as_deref_mut();
    let mut grad_out = out.grad.as_deref_mut();
    let mut sum = out.sum;
    let alpha_of = |c: usize| match opts.alpha {
        Alpha::None => T::ONE,
        Alpha::Scalar(a) => a,
        Alpha::PerClass(a) => a[c],
    };
    // Per-lane item data of items first..first+n: (t bits, α_t, w·scale, live mask, w).
    let lanes_of = |first: usize, n: usize| {
        let mut t = U::splat_bits(0).to_array();
        let mut a = U::splat(T::ONE).to_array();
        let mut gw = U::splat(T::ZERO).to_array();
        let mut w = U::splat(T::ZERO).to_array();
        let mut live = U::splat_bits(0).to_array();
        let all = U::splat_bits(u64::MAX).to_array().as_ref()[0];
        for l in 0..n {
            let item = first + l;
            let ti = targets[item];
            let wi = opts.weights.map_or(T::ONE, |w| w[item]);
            w.as_mut()[l] = wi;
            if ti != ignore {
                let c = ti as usize;
                t.as_mut()[l] = U::splat_bits(c as u64).to_array().as_ref()[0];
                a.as_mut()[l] = alpha_of(c);
                gw.as_mut()[l] = wi * scale;
                live.as_mut()[l] = all;
            }
        }
        (
            U::from_array(t),
            U::from_array(a),
            U::from_array(gw),
            U::from_array(live),
            w,
        )
    };
    let mut emit = |first: usize, n: usize, loss: U, w: U::Array| {
        let loss = loss.to_array();
        for l in 0..n {
            let v = w.as_ref()[l] * loss.as_ref()[l];
            sum += v.to_f64();
            if let Some(out) = loss_out.as_deref_mut() {
                out[first + l] = v;
            }
        }
    };

    if stride == 1 {
        let rows = layout.batch;
        let mut r0 = 0;
        while r0 < rows {
            let n = (rows - r0).min(lanes);
            let mut z = [U::splat(T::ZERO); ACROSS_ROWS_MAX_C];
            for (c, zc) in z.iter_mut().enumerate().take(classes) {
                let mut a = U::splat(T::ZERO).to_array();
                for l in 0..n {
                    a.as_mut()[l] = logits[(r0 + l) * classes + c];
                }
                *zc = U::from_array(a);
            }
            let (t, a_t, gw, live, w) = lanes_of(r0, n);
            let mut access = Rows {
                z,
                e: z,
                grad: grad_out.as_deref_mut(),
                first: r0,
                n,
                classes,
            };
            let loss = group(
                &mut access,
                classes,
                t,
                a_t,
                gw,
                live,
                focal_pow,
                poly,
                want_grad,
                parts,
            );
            emit(r0, n, loss, w);
            r0 += n;
        }
    } else {
        for img in 0..layout.batch {
            let mut s0 = 0;
            while s0 < stride {
                let n = (stride - s0).min(lanes);
                let first = img * stride + s0;
                let (t, a_t, gw, live, w) = lanes_of(first, n);
                let mut access = Positions::<U> {
                    logits,
                    grad: grad_out.as_deref_mut(),
                    base: img * classes * stride + s0,
                    stride,
                    n,
                };
                let loss = group(
                    &mut access,
                    classes,
                    t,
                    a_t,
                    gw,
                    live,
                    focal_pow,
                    poly,
                    want_grad,
                    parts,
                );
                emit(first, n, loss, w);
                s0 += n;
            }
        }
    }
    out.sum = sum;
}
