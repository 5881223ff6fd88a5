//! The element-wise (sigmoid) family: the sigmoid focal loss (with `posWeight`, Poly-1 and label
//! smoothing), Quality Focal Loss, Varifocal Loss and the Asymmetric Loss, each with its gradient,
//! over dense targets or class indices (CONTRACT.md § Sigmoid loss, § Detection and multi-label;
//! SPEC "Detection and multi-label losses").
//!
//! One module per loss, each holding its derivation, its scalar formula `element` (std's exp / ln /
//! ln_1p, one element at a time: the reference the tests check the lanes against,
//! `focal_loss::scalar::elementwise_accumulate`) and its lane formula `lanes` (the same formula,
//! LANES elements at a time): [`focal`], [`quality`], [`varifocal`], [`asymmetric`]. This module
//! holds what they share: the option types (re-exported by lib.rs), the sigmoid terms of one
//! element ([`Sigmoid`]) and of lanes ([`SigmoidLanes`]), label smoothing, the power, y − σ(x) and
//! the out-of-line elementary functions of the lane formulas, and the one list of the losses
//! (`element_losses!`): each entry names a loss's variant, module and parameters once, and the
//! macro makes from it the `mod` lines, [`ElementLoss`], the lane enum [`LossLanes`] and every
//! match over the losses (validation, the scalar element, the header's kind, the lanes), each arm
//! calling the module's function of that name. A module holds its `KIND` (the header's
//! `loss_kind`), `validate`, `from_header`, `scalar` (over `element`) and `Lanes` (`new` from
//! the call's options, `eval` over `lanes`).
//!
//! The drivers import this module and not the other way round: `crate::elementwise` (validation,
//! the public entry points, the scalar loop) and `crate::simd::elementwise` (the per-call
//! parameters as lanes, the shared front of every element, the block driver). The Poly-1 series
//! (`crate::simd::math::POLY_SERIES_MAX`) are shared with the softmax kernels and stay there.
//!
//! # Method
//!
//! Every element is independent: logit x, target y ∈ [0, 1], weight w, and
//!
//!   p = σ(x),  1 − p = σ(−x),  softplus(u) = max(u, 0) + log1p(e^(−|u|)),
//!   log p = −softplus(−x),  log(1 − p) = −softplus(x),  BCE(x, y) = y·softplus(−x) + (1 − y)·softplus(x).
//!
//! **One exponential for everything.** With e = exp(−|x|) ∈ (0, 1]: σ(|x|) = 1/(1 + e) and
//! σ(−|x|) = e/(1 + e), so p and 1 − p are both formed directly (neither is 1 minus the other, so
//! 1 − p keeps full relative precision when it is 1e-300), and softplus(±x) = max(±x, 0) + log1p(e)
//! takes one log1p. log σ is never the log of a rounded probability, so it is finite and accurate
//! where σ underflows (x = −1e4 gives log p = −1e4 exactly, not −∞). The scalar formulas form these
//! terms in [`sigmoid_terms`]; the lanes get e, log1p(e), 1/(1 + e) and e/(1 + e) from the front of
//! `simd::elementwise::eval` (as a [`Start`]) and p, 1 − p and softplus(±x) by selects
//! ([`SigmoidLanes`]).
//!
//! Each loss's own derivation, and where a naive evaluation loses precision, is in its module.
//!
//! # Special cases
//!
//! - +∞ logits are turned into NaN first (the contract's "NaN or +∞ gives NaN"); −∞ is valid
//!   (p = 0). A NaN logit gives NaN for that element only.
//! - **Zero weights are exact zeros.** A term whose coefficient is exactly 0 contributes exactly 0,
//!   even where its other factor is infinite (y = 0 at x = −∞: y·softplus(−x) = 0·∞ is taken as
//!   0), and products of the form p·log p are taken as their limit 0 at p = 0.
//! - x^γ is exactly 1 for γ = 0, also at x = 0 ([`power`]; the lanes' `FocalPow`).
//! - Label smoothing forms ȳ from its own non-negative terms, never as 1 − y ([`smoothed`]).
//!
//! # Accuracy
//!
//! CONTRACT.md § Accuracy: for every finite input (logits of ±1e4, p within 1e-30 of 1, values down
//! to the smallest normal number) about 1e-12 relative for float64 and 1e-5 for float32, enforced
//! by the mpmath vectors with rtol 1e-10 (float64) and 3e-5 (float32). The powers m^γ =
//! exp(γ·log m) are within about u·|log m^γ| (≤ 745u in float64, 104u in float32) of exact where
//! the result is not subnormal, since every log m is formed without cancellation. Two losses meet a
//! weaker rule where they subtract (QFL's |y − σ(x)|, ASL's σ(x) − clip): see their modules. The
//! lane formulas are the scalar ones, with `simd::math`'s exp / ln / ln_1p instead of std's and,
//! for integer γ ≤ 5, powers by products (`FocalPow`), so the two agree within a few ulps-worth
//! (crate/tests/simd_kernels.rs), not bit for bit; each lane depends only on its own element, so a
//! result is the same bits whatever its lane, block or chunk.

use crate::real::Real;
use crate::simd::math::{exp, ln, ln_1p};
use crate::simd::{VMath, Vector};
use crate::FocalError;

/// The list of the element-wise losses, each named once (see `element_losses!`): a new loss is
/// its module (with `KIND`, `validate`, `from_header`, `scalar`, `Lanes` with `new` and `eval`;
/// see `quality.rs`, the shortest) and one entry here.
macro_rules! element_losses {
    ($(
        $(#[$doc:meta])*
        $name:ident = $module:ident { $( $(#[$field_doc:meta])* $field:ident: $ty:ty, )* }
    )*) => {
        $( pub(crate) mod $module; )*

        /// Which element-wise loss, with its parameters.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum ElementLoss<T> {
            $( $(#[$doc])* $name { $( $(#[$field_doc])* $field: $ty, )* }, )*
        }

        impl<T: Real> ElementLoss<T> {
            /// The loss's own parameters and the focal-only options (each module's `validate`).
            pub(crate) fn validate(&self, opts: &ElementOptions<T>) -> Result<(), FocalError> {
                match *self {
                    $( ElementLoss::$name { $($field),* } => $module::validate(opts, $($field),*), )*
                }
            }

            /// (l, ∂l/∂x) of one element before its weight w, std's exp / ln / ln_1p, from the
            /// unsmoothed target y0 and the element's positive weight (each module's `scalar`).
            #[inline(always)]
            pub(crate) fn scalar(&self, opts: &ElementOptions<T>, x: T, y0: T, pw: Option<T>) -> (T, T) {
                match *self {
                    $( ElementLoss::$name { $($field),* } => $module::scalar(opts, x, y0, pw, $($field),*), )*
                }
            }

            /// The loss of the header's `loss_kind` (each module's `KIND` and `from_header`), or
            /// `None` for an unknown kind.
            #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
            pub(crate) fn from_header(kind: u32, h: &HeaderParams) -> Option<Self> {
                $( if kind == $module::KIND {
                    return Some($module::from_header(h));
                } )*
                None
            }
        }

        /// A loss with its per-call parameters as lanes (each module's `Lanes`), made once per
        /// call by `simd::elementwise::run`.
        #[derive(Clone, Copy)]
        pub(crate) enum LossLanes<V> {
            $( $(#[$doc])* $name($module::Lanes<V>), )*
        }

        impl<V: VMath> LossLanes<V> {
            /// The call's loss as lanes.
            #[inline(always)]
            pub(crate) fn new<T: Real>(opts: &ElementOptions<T>) -> Self
            where
                V: Vector<Scalar = T>,
            {
                match opts.loss {
                    $( ElementLoss::$name { $($field),* } => LossLanes::$name($module::Lanes::new(opts, $($field),*)), )*
                }
            }

            /// (loss, ∂loss/∂x) before the weight per lane, from the front, the (unsmoothed)
            /// targets and the positive weights of the lanes.
            #[inline(always)]
            pub(crate) fn eval(&self, start: Start<V>, y: V, pw: V) -> (V, V) {
                match self {
                    $( LossLanes::$name(l) => l.eval(start, y, pw), )*
                }
            }
        }
    };
}

element_losses! {
    /// The sigmoid focal loss (torchvision `sigmoid_focal_loss`): l = α_t·m^γ·CE (+ ε·m^(γ+1)),
    /// with [`ElementOptions::pos_weight`], [`ElementOptions::poly_epsilon`] and
    /// [`ElementOptions::label_smoothing`].
    Focal = focal {
        /// γ ≥ 0.
        gamma: T,
        /// α in `[0, 1]` weights positives and 1 − α negatives; `None` turns weighting off.
        alpha: Option<T>,
    }
    /// Quality Focal Loss (Li et al., Generalized Focal Loss; mmdet `QualityFocalLoss`):
    /// l = |y − σ(x)|^β · BCE(x, y), y a soft quality score.
    Quality = quality {
        /// β ≥ 0 (2 in mmdet).
        beta: T,
    }
    /// Varifocal Loss (Zhang et al., VarifocalNet; mmdet `VarifocalLoss`): l = y·BCE(x, y)
    /// (`iou_weighted`) or BCE(x, y) for y > 0; α·σ(x)^γ·softplus(x) for y = 0. The focal weight is
    /// differentiated (not detached).
    Varifocal = varifocal {
        /// α ≥ 0, the weight of negatives (0.75 in mmdet).
        alpha: T,
        /// γ ≥ 0 (2 in mmdet).
        gamma: T,
        /// Weight positives by their score y.
        iou_weighted: bool,
    }
    /// Asymmetric Loss (Ridnik et al., ICCV 2021): l = −y(1 − p)^γ₊ log p − (1 − y) p_m^γ₋ log(1 − p_m),
    /// p_m = max(p − clip, 0).
    Asymmetric = asymmetric {
        /// γ₊ ≥ 0.
        gamma_pos: T,
        /// γ₋ ≥ 0.
        gamma_neg: T,
        /// The probability shift of negatives, in `[0, 1)`; 0 means none.
        clip: T,
        /// Treat (1 − p)^γ₊ and p_m^γ₋ as constants in the gradient.
        detach_focal_weight: bool,
    }
}

/// The loss parameters of a call header (`crate::ffi::CallHeader`), as each module's
/// `from_header` reads them (this module does not depend on the boundary, which is wasm32 only).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) struct HeaderParams {
    /// Focal: α, or < 0 for no weighting. Varifocal: α.
    pub alpha_scalar: f64,
    /// γ (focal, varifocal); γ₊ (asymmetric).
    pub gamma: f64,
    /// γ₋ (asymmetric).
    pub gamma_neg: f64,
    /// β (quality).
    pub beta: f64,
    /// clip (asymmetric).
    pub clip: f64,
    /// The `iou_weighted` flag (varifocal).
    pub iou_weighted: bool,
    /// The `detach_focal_weight` flag (asymmetric).
    pub detach_focal_weight: bool,
}

/// ≥ 0 and finite (β, varifocal's α, positive weights).
#[inline(always)]
pub(crate) fn non_negative<T: Real>(v: T) -> bool {
    v.is_finite() && v >= T::ZERO
}

/// Targets of an element-wise loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ElementTargets<'a, T> {
    /// One target in `[0, 1]` per logit, in the logits' layout.
    Dense(&'a [T]),
    /// One class index per item (detection heads): t in `[0, C)` stands for the one-hot row at t,
    /// t = C for background (an all-zero row), t = `ignore_index` for an item that adds 0, gets a
    /// zero gradient and is not counted. `ignore_index` takes precedence over both meanings.
    Indices {
        /// Class index per item.
        indices: &'a [i32],
        /// The index of items that count for nothing.
        ignore_index: i32,
    },
}

/// The weight of the positive term, as `BCEWithLogits(pos_weight)` (focal loss only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PosWeight<'a, T> {
    /// No weight (1).
    None,
    /// The same weight (≥ 0) for every class.
    Scalar(T),
    /// One weight (≥ 0) per class (C values).
    PerClass(&'a [T]),
}

/// Options of [`crate::elementwise_accumulate`] (the reduction is applied by the caller).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElementOptions<'a, T> {
    /// The loss and its parameters.
    pub loss: ElementLoss<T>,
    /// Focal only: ε in `[0, 1)`, y ← y(1 − ε) + ε/2 (Keras). Must be 0 for the other losses.
    pub label_smoothing: T,
    /// Focal only: the positive term's weight. Must be `None` for the other losses.
    pub pos_weight: PosWeight<'a, T>,
    /// Focal only: ε of Poly-1, adding ε·m^(γ+1); any finite value. Must be 0 for the other losses.
    pub poly_epsilon: T,
    /// One non-negative weight per element (dense targets) or per item (class indices).
    pub weights: Option<&'a [T]>,
}

impl<T: Real> ElementOptions<'_, T> {
    /// `loss` with no smoothing, no positive weight, no Poly-1 term and no weights.
    pub fn new(loss: ElementLoss<T>) -> Self {
        ElementOptions {
            loss,
            label_smoothing: T::ZERO,
            pos_weight: PosWeight::None,
            poly_epsilon: T::ZERO,
            weights: None,
        }
    }
}

impl<T: Real> Default for ElementOptions<'_, T> {
    /// The sigmoid focal loss with torchvision's defaults (γ = 2, α = 0.25).
    fn default() -> Self {
        ElementOptions::new(ElementLoss::Focal {
            gamma: T::from_f64(2.0),
            alpha: Some(T::from_f64(0.25)),
        })
    }
}

/// What one [`crate::elementwise_accumulate`] call counted.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ElementCounts {
    /// The elements `'mean'` divides by: every element with dense targets, (counted items) × C
    /// with class indices.
    pub counted: usize,
    /// Dense targets: Σ of the (unsmoothed) targets over all elements, added in element order in
    /// f64. Class indices: the number of counted items whose class is not background. The
    /// RetinaNet normalizer; a chunked caller adds the calls' values.
    pub positives: f64,
}

/// The quantities every loss shares, from one e = exp(−|x|) (see the module comment).
pub(crate) struct Sigmoid<T> {
    /// σ(x)
    pub p: T,
    /// 1 − σ(x) = σ(−x)
    pub q: T,
    /// softplus(x) = −log(1 − p)
    pub sp_pos: T,
    /// softplus(−x) = −log p
    pub sp_neg: T,
    /// 1/(1 + e) = max(p, q)
    pub inv: T,
    /// e/(1 + e) = min(p, q)
    pub e_inv: T,
    /// x > 0
    pub x_pos: bool,
}

/// [`Sigmoid`] of the logit x (+∞ made NaN first).
#[inline(always)]
pub(crate) fn sigmoid_terms<T: Real>(x: T) -> Sigmoid<T> {
    let x = if x == T::INFINITY { T::NAN } else { x };
    let e = (-x.abs()).exp();
    let log1p_e = e.ln_1p();
    let inv = T::ONE / (T::ONE + e);
    let e_inv = e * inv;
    let nonneg = x >= T::ZERO;
    Sigmoid {
        p: if nonneg { inv } else { e_inv },
        q: if nonneg { e_inv } else { inv },
        sp_pos: if x > T::ZERO { x + log1p_e } else { log1p_e },
        sp_neg: if x < T::ZERO { log1p_e - x } else { log1p_e },
        inv,
        e_inv,
        x_pos: x > T::ZERO,
    }
}

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

/// x^γ for x ∈ [0, 1] given log x: exp(γ·log x), exactly 1 for γ = 0 (also at x = 0).
#[inline(always)]
pub(crate) fn power<T: Real>(gamma: T, log_x: T) -> T {
    if gamma == T::ZERO {
        T::ONE
    } else {
        (gamma * log_x).exp()
    }
}

/// y − σ(x) without cancellation where both are near 1 (see [`quality`]): (1 − p) − (1 − y) for
/// x > 0, y − p otherwise.
#[inline(always)]
pub(crate) fn target_minus_p<T: Real>(s: &Sigmoid<T>, y: T, y_bar: T) -> T {
    if s.x_pos {
        s.q - y_bar
    } else {
        y - s.p
    }
}

/// The start of every lane formula, as the front of `simd::elementwise::eval` forms it from
/// one e = exp(−|x|) per lane: (x with +∞ made NaN, log1p(e), 1/(1 + e) = max(p, 1 − p),
/// e/(1 + e) = min(p, 1 − p)).
pub(crate) type Start<V> = (V, V, V, V);

/// [`Sigmoid`] per lane, by selects from a [`Start`].
#[derive(Clone, Copy)]
pub(crate) struct SigmoidLanes<V> {
    /// σ(x)
    pub p: V,
    /// 1 − σ(x) = σ(−x)
    pub q: V,
    /// softplus(x) = −log(1 − p)
    pub sp_pos: V,
    /// softplus(−x) = −log p
    pub sp_neg: V,
    /// 1/(1 + e) = max(p, q)
    pub inv: V,
    /// e/(1 + e) = min(p, q)
    pub e_inv: V,
    /// Mask of the lanes with x > 0.
    pub x_pos: V,
}

impl<V: VMath> SigmoidLanes<V> {
    /// The terms of the lanes' logits.
    #[inline(always)]
    pub(crate) fn new(start: Start<V>) -> Self {
        let zero = V::c(0.0);
        let (x, log1p_e, inv, e_inv) = start;
        let nonneg = x.ge(zero);
        let x_pos = x.gt(zero);
        SigmoidLanes {
            p: V::select(nonneg, inv, e_inv),
            q: V::select(nonneg, e_inv, inv),
            sp_pos: V::select(x_pos, x + log1p_e, log1p_e),
            sp_neg: V::select(x.lt(zero), log1p_e - x, log1p_e),
            inv,
            e_inv,
            x_pos,
        }
    }

    /// [`target_minus_p`] per lane: (1 − p) − (1 − y) for p > ½.
    #[inline(always)]
    pub(crate) fn target_minus_p(&self, y: V, y_bar: V) -> V {
        V::select(self.x_pos, self.q - y_bar, y - self.p)
    }
}

// The lane formulas' other powers and logarithms (non-integer γ or β, soft focal targets, QFL's
// log|y − p|, ASL's clip) call these out-of-line exp / ln / ln_1p: inlined copies at each of their
// call sites would add more to the .wasm than the whole softmax kernel.

/// eˣ per lane, out of line (see above).
#[inline(never)]
pub(crate) fn exp_o<V: VMath>(x: V) -> V {
    exp(x)
}

/// ln x per lane, out of line.
#[inline(never)]
pub(crate) fn ln_o<V: VMath>(x: V) -> V {
    ln(x)
}

/// ln(1 + x) per lane, out of line.
#[inline(never)]
pub(crate) fn ln_1p_o<V: VMath>(x: V) -> V {
    ln_1p(x)
}
