//! The softmax hard-target kernel's item-in-lanes paths: channels-last rows with
//! C ≤ [`ACROSS_ROWS_MAX_C`] and every channels-first batch. One item (a row, or a position of a
//! channels-first image) per lane, so the row's max, arg-max, S′, log1p, the power and the
//! gradient are vertical vector work (`group::group`, which also holds the formulas).
//!
//! # Method
//!
//! The lanes are those of the vector type `U` the caller picks: with SIMD128 `SimdReal::W`, two
//! `v128` interleaved (`pair::Pair`: 8 f32 rows or 4 f64 rows per group), so that two independent
//! dependency chains share the CPU's out-of-order window; in the scalar build `W` is the single
//! vector. Every lane runs the operations of the single-vector group — S′ still partitions the
//! classes into `V::LANES` partial sums, whatever `U`'s lane count.
//!
//! A group of rows: with SIMD128 transposed into a small block (4 × 4 `v128` transpositions for
//! f32) and read like a channels-first image, so that one out-of-line `group` serves both layouts;
//! in the scalar build gathered into `Rows` and inlined (the block made its rows 7-12% slower there).
//! Channels-first: consecutive positions of one image in the lanes, one vector load per class.
//!
//! # Special cases
//!
//! - A partial group (fewer items than lanes) is padded with inert lanes (logits 0, ignored), and
//!   no lane reads another.
//! - Ignored items get loss 0 and a zero gradient (`group`'s `live` mask).
//! - NaNs never win the max; a +∞ or NaN logit poisons S′, so the item's loss is NaN (as
//!   `crate::softmax`).
//!
//! # Accuracy
//!
//! An item's result is the same bits whichever `U`, group or chunk it falls in (tested below
//! against `U = V`); item losses are added to the running sum in item order. The formulas'
//! accuracy is `crate::softmax`'s (CONTRACT.md § Accuracy).

use super::group::{group, Access};
use super::math::FocalPow;
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
use super::pair::Pair;
use super::{load_partial, store_partial, SimdReal, VMath, Vector};
use crate::real::Real;
use crate::{Alpha, Layout, Outputs, SoftmaxOptions};

/// Rows up to this many classes go one row per lane; wider rows are vectorised along the row.
pub const ACROSS_ROWS_MAX_C: usize = 16;

/// Room for one group of channels-last rows: C ≤ ACROSS_ROWS_MAX_C classes of at most 8 lanes
/// (f32 on a pair of v128).
const BLOCK: usize = ACROSS_ROWS_MAX_C * 8;

/// Moves a group of `n` channels-last rows (`rows`: n·C values) into its block (class c of lane
/// l at c·LANES + l) and a block back into rows. The bits are moved, never computed, so how is a
/// matter of speed only: lane by lane here; with SIMD128, f32 rows of a full group four by four
/// classes at a time through a 4 × 4 transposition of v128 shuffles (the scalar moves took ~14%
/// of the C = 10 kernel).
pub trait RowBlock: Vector {
    /// Rows → block.
    #[inline(always)]
    fn gather(rows: &[Self::Scalar], classes: usize, n: usize, block: &mut [Self::Scalar]) {
        for (l, row) in rows[..n * classes].chunks_exact(classes).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                block[c * Self::LANES + l] = v;
            }
        }
    }
    /// Block → rows.
    #[inline(always)]
    fn scatter(block: &[Self::Scalar], classes: usize, n: usize, rows: &mut [Self::Scalar]) {
        for (l, row) in rows[..n * classes].chunks_exact_mut(classes).enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = block[c * Self::LANES + l];
            }
        }
    }
}

impl RowBlock for super::F64x2 {}
#[cfg(test)]
impl RowBlock for Pair<super::F64x2> {}
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
impl RowBlock for super::F32x4 {}
#[cfg(all(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
impl RowBlock for Pair<super::F32x4> {}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod transpose {
    use super::super::{F32x4, Vector};
    use core::arch::wasm32::*;

    /// Rows (a, b, c, d) → columns, or columns → rows: a 4 × 4 transposition of lanes.
    #[inline(always)]
    fn transpose(a: v128, b: v128, c: v128, d: v128) -> [v128; 4] {
        let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b);
        let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b);
        let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
        [
            i32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo),
            i32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo),
            i32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi),
            i32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi),
        ]
    }

    /// Four rows of `classes` f32 → lanes `at..at + 4` of the block rows of `stride` values.
    // Out of line: two calls per group (the pair's halves), and one copy is as fast.
    #[inline(never)]
    pub(super) fn gather4(rows: &[f32], classes: usize, block: &mut [f32], stride: usize, at: usize) {
        let mut c0 = 0;
        while c0 + 4 <= classes {
            let row = |r: usize| F32x4::load(&rows[r * classes + c0..]).0;
            let cols = transpose(row(0), row(1), row(2), row(3));
            for (j, &v) in cols.iter().enumerate() {
                F32x4(v).store(&mut block[(c0 + j) * stride + at..]);
            }
            c0 += 4;
        }
        for c in c0..classes {
            for l in 0..4 {
                block[c * stride + at + l] = rows[l * classes + c];
            }
        }
    }

    /// [`gather4`] backwards.
    #[inline(never)]
    pub(super) fn scatter4(block: &[f32], classes: usize, rows: &mut [f32], stride: usize, at: usize) {
        let mut c0 = 0;
        while c0 + 4 <= classes {
            let col = |j: usize| F32x4::load(&block[(c0 + j) * stride + at..]).0;
            let out = transpose(col(0), col(1), col(2), col(3));
            for (r, &v) in out.iter().enumerate() {
                F32x4(v).store(&mut rows[r * classes + c0..]);
            }
            c0 += 4;
        }
        for c in c0..classes {
            for l in 0..4 {
                rows[l * classes + c] = block[c * stride + at + l];
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl RowBlock for super::F32x4 {
    #[inline(always)]
    fn gather(rows: &[f32], classes: usize, n: usize, block: &mut [f32]) {
        if n == 4 {
            transpose::gather4(rows, classes, block, 4, 0);
        } else {
            for (l, row) in rows[..n * classes].chunks_exact(classes).enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    block[c * 4 + l] = v;
                }
            }
        }
    }
    #[inline(always)]
    fn scatter(block: &[f32], classes: usize, n: usize, rows: &mut [f32]) {
        if n == 4 {
            transpose::scatter4(block, classes, rows, 4, 0);
        } else {
            for (l, row) in rows[..n * classes].chunks_exact_mut(classes).enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = block[c * 4 + l];
                }
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl RowBlock for Pair<super::F32x4> {
    #[inline(always)]
    fn gather(rows: &[f32], classes: usize, n: usize, block: &mut [f32]) {
        if n == 8 {
            transpose::gather4(rows, classes, block, 8, 0);
            transpose::gather4(&rows[4 * classes..], classes, block, 8, 4);
        } else {
            for (l, row) in rows[..n * classes].chunks_exact(classes).enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    block[c * 8 + l] = v;
                }
            }
        }
    }
    #[inline(always)]
    fn scatter(block: &[f32], classes: usize, n: usize, rows: &mut [f32]) {
        if n == 8 {
            transpose::scatter4(block, classes, rows, 8, 0);
            transpose::scatter4(block, classes, &mut rows[4 * classes..], 8, 4);
        } else {
            for (l, row) in rows[..n * classes].chunks_exact_mut(classes).enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = block[c * 8 + l];
                }
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl RowBlock for Pair<super::F64x2> {}

/// One group of channels-last rows (`n` of them real), logits gathered once: the scalar build's
/// rows (see `hard_targets`).
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

/// A group of consecutive positions of one channels-first image (`n` of them real), or of a
/// channels-last group of rows transposed into a block (class c of lane l at c·lanes + l).
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

/// `group::group` over one group of positions: out of line, so that the SIMD128 build's rows
/// (through the block) and the channels-first images share one copy per float type (a third less
/// .wasm than an inlined copy for each).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn one_group<U: VMath + Vector>(
    access: &mut Positions<'_, U>,
    classes: usize,
    t: U,
    a_t: U,
    grad_weight: U,
    live: U,
    focal_pow: FocalPow<U>,
    poly: Option<(U, U)>,
    want_grad: bool,
    parts: usize,
) -> U
where
    U::Scalar: Real,
{
    group(
        access,
        classes,
        t,
        a_t,
        grad_weight,
        live,
        focal_pow,
        poly,
        want_grad,
        parts,
    )
}

/// The hard-target kernel for channels-last rows with C ≤ [`ACROSS_ROWS_MAX_C`] and for
/// channels-first layouts, items in the lanes of `U` (see the module's comment). As
/// `softmax::hard_targets`: adds each item's weighted loss to `out.sum` (in item order), writes it
/// to `out.loss` and `out.grad_scale` × its gradient to `out.grad` when given. Inputs are already
/// validated.
pub(crate) fn hard_targets<T: Real + SimdReal, U: VMath + RowBlock + Vector<Scalar = T>>(
    layout: Layout,
    logits: &[T],
    targets: &[i32],
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
) {
    hard_targets_rows_by::<T, U>(layout, logits, targets, opts, out, super::HARDWARE_SIMD);
}

/// [`hard_targets`], the rows through the block (`via_block`, the SIMD128 build's way) or
/// gathered into `Rows` (the scalar build's); both give the same bits (tested below).
fn hard_targets_rows_by<T: Real + SimdReal, U: VMath + RowBlock + Vector<Scalar = T>>(
    layout: Layout,
    logits: &[T],
    targets: &[i32],
    opts: &SoftmaxOptions<T>,
    out: &mut Outputs<T>,
    via_block: bool,
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

    if stride == 1 && !via_block {
        // The scalar build: the rows gathered into `Rows` (main's code for it; through the block
        // below its rows took 7-12% longer).
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
    } else if stride == 1 {
        // Each group's rows transposed into `z_block` (class c of lane l at c·lanes + l), which
        // the group then reads as a channels-first image of `lanes` positions: one `group` for
        // both layouts (smaller .wasm than a copy for each, as fast within the noise); its
        // gradient comes back through `g_block`.
        let rows = layout.batch;
        let mut z_block = [T::ZERO; BLOCK];
        let mut g_block = [T::ZERO; BLOCK];
        let mut r0 = 0;
        while r0 < rows {
            let n = (rows - r0).min(lanes);
            U::gather(&logits[r0 * classes..(r0 + n) * classes], classes, n, &mut z_block);
            let (t, a_t, gw, live, w) = lanes_of(r0, n);
            let mut access = Positions::<U> {
                logits: &z_block,
                grad: want_grad.then_some(&mut g_block[..]),
                base: 0,
                stride: lanes,
                // Whole-vector loads and stores: the block is `lanes` wide, and its padded lanes
                // (zeros, or an earlier group's rows) are inert (not live, never read by a real lane).
                n: lanes,
            };
            let loss = one_group(
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
            if let Some(grad) = grad_out.as_deref_mut() {
                U::scatter(&g_block, classes, n, &mut grad[r0 * classes..(r0 + n) * classes]);
            }
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
                let loss = one_group(
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

#[cfg(test)]
mod tests {
    //! The pairs against the single vectors (today's kernel: `U = V`, the lanes the SIMD128
    //! build used before), bit for bit, over the options that reach these paths; and the
    //! channels-first groups against each position as a row of its own (for C > 16 the per-row
    //! kernel vectorised along the row, `softmax::hard_targets`).
    use super::super::pair::Pair;
    use super::super::{SimdReal, VMath, Vector};
    use super::RowBlock;
    use crate::real::Real;
    use crate::{Alpha, Layout, Outputs, SoftmaxOptions};

    /// xorshift64*.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    struct Case<T> {
        layout: Layout,
        logits: Vec<T>,
        targets: Vec<i32>,
        weights: Option<Vec<T>>,
        alpha: Vec<T>,
        alpha_kind: usize,
        gamma: T,
        poly: T,
        want_loss: bool,
        want_grad: bool,
    }

    fn case<T: Real>(rng: &mut Rng, layout: Layout) -> Case<T> {
        let (items, len) = (layout.items().unwrap(), layout.logits().unwrap());
        let (classes, s) = (layout.classes, layout.spatial);
        let masked = rng.below(4) == 0;
        let mut logits: Vec<T> = (0..len)
            .map(|_| {
                T::from_f64(match rng.below(20) {
                    0 => (rng.unit() - 0.5) * 2e4,
                    1 => (rng.unit() - 0.5) * 200.0,
                    2 if masked => f64::NEG_INFINITY,
                    3 => 30.0 + rng.unit(),
                    4 if masked => f64::NAN,
                    _ => (rng.unit() - 0.5) * 12.0,
                })
            })
            .collect();
        let targets: Vec<i32> = (0..items)
            .map(|_| {
                if rng.below(8) == 0 {
                    -100
                } else {
                    rng.below(classes) as i32
                }
            })
            .collect();
        // Some targets the arg-max by a wide margin (p_t → 1: the stable 1 − p_t and Poly-1's
        // small-(1 − p) forms), some tied with another class.
        for (item, &t) in targets.iter().enumerate() {
            if t >= 0 && rng.below(4) == 0 {
                let i = (item / s) * classes * s + t as usize * s + item % s;
                logits[i] = T::from_f64(60.0 + rng.unit() * 40.0);
            }
        }
        Case {
            layout,
            logits,
            targets,
            weights: (rng.below(2) == 0).then(|| (0..items).map(|_| T::from_f64(rng.unit() * 3.0)).collect()),
            alpha: (0..classes).map(|_| T::from_f64(rng.unit())).collect(),
            alpha_kind: rng.below(3),
            gamma: T::from_f64([0.0, 0.5, 1.0, 2.0, 3.0, 3.7, 5.0][rng.below(7)]),
            poly: T::from_f64([0.0, 0.0, 1.0, -0.5, -1.0, 2.0][rng.below(6)]),
            want_loss: rng.below(4) != 0,
            want_grad: rng.below(6) != 0,
        }
    }

    type Run<T> = (Vec<T>, Vec<T>, f64);

    type Kernel<T> = fn(Layout, &[T], &[i32], &SoftmaxOptions<T>, &mut Outputs<T>);

    /// `kernel` over the case, its running sum starting at 0.5.
    fn run<T: Real>(c: &Case<T>, kernel: Kernel<T>) -> Run<T> {
        run_from(c, kernel, 0.5)
    }

    /// `kernel` over the case, its running sum starting at `sum`.
    fn run_from<T: Real>(c: &Case<T>, kernel: Kernel<T>, sum: f64) -> Run<T> {
        let opts = SoftmaxOptions {
            gamma: c.gamma,
            alpha: match c.alpha_kind {
                0 => Alpha::None,
                1 => Alpha::Scalar(c.alpha[0]),
                _ => Alpha::PerClass(&c.alpha),
            },
            weights: c.weights.as_deref(),
            poly_epsilon: c.poly,
            ..SoftmaxOptions::default()
        };
        let mut loss = vec![T::from_f64(7.0); c.layout.items().unwrap()];
        let mut grad = vec![T::from_f64(7.0); c.logits.len()];
        let mut out = Outputs {
            grad_scale: 0.125,
            sum,
            ..Outputs::new(
                c.want_loss.then_some(&mut loss[..]),
                c.want_grad.then_some(&mut grad[..]),
            )
        };
        kernel(c.layout, &c.logits, &c.targets, &opts, &mut out);
        let sum = out.sum;
        (loss, grad, sum)
    }

    fn gathered<T: Real + SimdReal, U: VMath + RowBlock + Vector<Scalar = T>>(
        layout: Layout,
        logits: &[T],
        targets: &[i32],
        opts: &SoftmaxOptions<T>,
        out: &mut Outputs<T>,
    ) {
        super::hard_targets_rows_by::<T, U>(layout, logits, targets, opts, out, false);
    }

    fn blocked<T: Real + SimdReal, U: VMath + RowBlock + Vector<Scalar = T>>(
        layout: Layout,
        logits: &[T],
        targets: &[i32],
        opts: &SoftmaxOptions<T>,
        out: &mut Outputs<T>,
    ) {
        super::hard_targets_rows_by::<T, U>(layout, logits, targets, opts, out, true);
    }

    fn bits<T: Real>(v: &[T]) -> Vec<u64> {
        // NaN payloads are unspecified (WebAssembly): every NaN counts as one value.
        v.iter()
            .map(|x| if x.is_nan() { u64::MAX } else { x.to_f64().to_bits() })
            .collect()
    }

    fn assert_same<T: Real>(a: &Run<T>, b: &Run<T>, what: &str) {
        assert_eq!(bits(&a.0), bits(&b.0), "{what}: losses");
        assert_eq!(bits(&a.1), bits(&b.1), "{what}: gradients");
        assert_eq!(bits(&[a.2]), bits(&[b.2]), "{what}: sums");
    }

    fn layouts(rng: &mut Rng) -> Vec<Layout> {
        let mut v = Vec::new();
        for c in [1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16] {
            // Batch sizes around the group sizes (1, 2, 4 and 8 lanes) and not multiples of them.
            v.push(Layout::rows(rng.below(27) + 1, c));
        }
        for (c, s) in [(1, 5), (2, 3), (3, 9), (10, 13), (16, 33), (17, 7), (19, 2), (4, 8)] {
            v.push(Layout::channels_first(rng.below(3) + 1, c, s));
        }
        v
    }

    fn pairs_match_single_vectors<T: Real + SimdReal>(seed: u64)
    where
        T::V: RowBlock,
        Pair<T::V>: VMath + RowBlock + Vector<Scalar = T>,
    {
        let mut rng = Rng(seed);
        let mut count = 0;
        for round in 0..60 {
            for layout in layouts(&mut rng) {
                let c = case::<T>(&mut rng, layout);
                let single = run(&c, gathered::<T, T::V>);
                let what = format!(
                    "round {round} {layout:?} gamma {:?} poly {:?}",
                    c.gamma.to_f64(),
                    c.poly.to_f64()
                );
                // Pairs and single vectors, the rows gathered (the scalar build) and through the
                // block (the SIMD128 build).
                assert_same(&run(&c, gathered::<T, Pair<T::V>>), &single, &format!("{what}: pairs"));
                assert_same(
                    &run(&c, blocked::<T, Pair<T::V>>),
                    &single,
                    &format!("{what}: pairs, block"),
                );
                assert_same(&run(&c, blocked::<T, T::V>), &single, &format!("{what}: block"));
                count += 1;
            }
        }
        assert_eq!(count, 60 * 19);
    }

    #[test]
    fn pairs_match_single_vectors_f32() {
        pairs_match_single_vectors::<f32>(0x1919_0001);
    }

    #[test]
    fn pairs_match_single_vectors_f64() {
        pairs_match_single_vectors::<f64>(0x1919_0002);
    }

    /// Each position of a channels-first image as a one-row batch: C ≤ 16 the single-vector
    /// group (one real lane), C > 16 the per-row kernel along the row (`softmax::hard_targets`).
    fn positions_match_rows<T: Real + SimdReal>(seed: u64)
    where
        T::V: RowBlock,
        Pair<T::V>: VMath + RowBlock + Vector<Scalar = T>,
    {
        let mut rng = Rng(seed);
        let mut count = 0;
        for _ in 0..40 {
            for (classes, s) in [(3, 11), (10, 9), (16, 5), (17, 9), (24, 3), (40, 6)] {
                let layout = Layout::channels_first(rng.below(2) + 1, classes, s);
                let mut c = case::<T>(&mut rng, layout);
                (c.want_loss, c.want_grad) = (true, true);
                let whole = run(&c, blocked::<T, Pair<T::V>>);
                let mut loss = Vec::new();
                let mut grad = vec![T::ZERO; c.logits.len()];
                let mut sum = 0.5;
                for n in 0..layout.batch {
                    for sp in 0..s {
                        let item = n * s + sp;
                        let at = |k: usize| n * classes * s + k * s + sp;
                        let one = Case {
                            layout: Layout::rows(1, classes),
                            logits: (0..classes).map(|k| c.logits[at(k)]).collect(),
                            targets: vec![c.targets[item]],
                            weights: c.weights.as_ref().map(|w| vec![w[item]]),
                            alpha: c.alpha.clone(),
                            ..c
                        };
                        let r = run_from(&one, super::super::softmax::hard_targets::<T>, sum);
                        loss.push(r.0[0]);
                        for (k, &g) in r.1.iter().enumerate() {
                            grad[at(k)] = g;
                        }
                        sum = r.2;
                        count += 1;
                    }
                }
                let what = format!("{layout:?} gamma {:?} poly {:?}", c.gamma.to_f64(), c.poly.to_f64());
                assert_eq!(bits(&whole.0), bits(&loss), "{what}: losses");
                assert_eq!(bits(&whole.1), bits(&grad), "{what}: gradients");
                assert_eq!(bits(&[whole.2]), bits(&[sum]), "{what}: sums");
            }
        }
        assert!(count > 40 * 6 * 3, "{count} positions");
    }

    #[test]
    fn channels_first_positions_match_rows_f32() {
        positions_match_rows::<f32>(0x1919_0003);
    }

    #[test]
    fn channels_first_positions_match_rows_f64() {
        positions_match_rows::<f64>(0x1919_0004);
    }
}
