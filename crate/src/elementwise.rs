//! The element-wise (sigmoid) family: the sigmoid focal loss (with `posWeight`, Poly-1 and label
//! smoothing), Quality Focal Loss, Varifocal Loss and the Asymmetric Loss, each with its gradient,
//! over dense targets or class indices (CONTRACT.md § Sigmoid loss, § Planned; SPEC "Detection and
//! multi-label losses").
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
//! where σ underflows (x = −1e4 gives log p = −1e4 exactly, not −∞). +∞ logits are turned into
//! NaN first (the contract's "NaN or +∞ gives NaN"); −∞ is valid (p = 0).
//!
//! **Zero weights are exact zeros.** A term whose coefficient is exactly 0 contributes exactly 0,
//! even where its other factor is infinite (y = 0 at x = −∞: y·softplus(−x) = 0·∞ is taken as 0),
//! and products of the form p·log p are taken as their limit 0 at p = 0.
//!
//! The derivation of each loss, and where a naive evaluation loses precision, is written beside its
//! scalar kernel below (`focal`, `quality`, `varifocal`, `asymmetric`). The vectorised kernels
//! (`crate::simd::elementwise`) evaluate the same formulas LANES elements at a time; these scalar
//! versions (std's exp / ln / ln_1p, one element at a time) are their reference
//! (`focal_loss::scalar::elementwise_accumulate`).

use crate::real::Real;
use crate::simd::math::{poly_small, POLY_SERIES_MAX};
use crate::{check_gamma, check_label_smoothing, check_weights, grad_scale, reduce, FocalError, Layout, Outputs};
use crate::{Reduced, Reduction};

/// Which element-wise loss, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ElementLoss<T> {
    /// The sigmoid focal loss (torchvision `sigmoid_focal_loss`): l = α_t·m^γ·CE (+ ε·m^(γ+1)),
    /// with [`ElementOptions::pos_weight`], [`ElementOptions::poly_epsilon`] and
    /// [`ElementOptions::label_smoothing`].
    Focal {
        /// γ ≥ 0.
        gamma: T,
        /// α in `[0, 1]` weights positives and 1 − α negatives; `None` turns weighting off.
        alpha: Option<T>,
    },
    /// Quality Focal Loss (Li et al., Generalized Focal Loss; mmdet `QualityFocalLoss`):
    /// l = |y − σ(x)|^β · BCE(x, y), y a soft quality score.
    Quality {
        /// β ≥ 0 (2 in mmdet).
        beta: T,
    },
    /// Varifocal Loss (Zhang et al., VarifocalNet; mmdet `VarifocalLoss`): l = y·BCE(x, y)
    /// (`iou_weighted`) or BCE(x, y) for y > 0; α·σ(x)^γ·softplus(x) for y = 0. The focal weight is
    /// differentiated (not detached).
    Varifocal {
        /// α ≥ 0, the weight of negatives (0.75 in mmdet).
        alpha: T,
        /// γ ≥ 0 (2 in mmdet).
        gamma: T,
        /// Weight positives by their score y.
        iou_weighted: bool,
    },
    /// Asymmetric Loss (Ridnik et al., ICCV 2021): l = −y(1 − p)^γ₊ log p − (1 − y) p_m^γ₋ log(1 − p_m),
    /// p_m = max(p − clip, 0).
    Asymmetric {
        /// γ₊ ≥ 0.
        gamma_pos: T,
        /// γ₋ ≥ 0.
        gamma_neg: T,
        /// The probability shift of negatives, in `[0, 1)`; 0 means none.
        clip: T,
        /// Treat (1 − p)^γ₊ and p_m^γ₋ as constants in the gradient.
        detach_focal_weight: bool,
    },
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

/// Options of [`elementwise_accumulate`] (the reduction is applied by the caller).
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

/// What one [`elementwise_accumulate`] call counted.
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

/// Validates everything (nothing is written on error). Returns `counted`, and for class-index
/// targets `positives` (for dense targets the kernels add them up while they run).
pub(crate) fn validate<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: &ElementTargets<T>,
    opts: &ElementOptions<T>,
    out: &Outputs<T>,
) -> Result<ElementCounts, FocalError> {
    let items = layout.items()?;
    let len = layout.logits()?;
    let classes = layout.classes;
    if logits.len() != len {
        return Err(FocalError::LengthMismatch);
    }
    let targets_len = match *targets {
        ElementTargets::Dense(y) => y.len() == len,
        ElementTargets::Indices { indices, .. } => indices.len() == items,
    };
    if !targets_len
        || out.grad.as_ref().is_some_and(|g| g.len() != len)
        || out.loss.as_ref().is_some_and(|l| l.len() != len)
    {
        return Err(FocalError::LengthMismatch);
    }
    let non_negative = |v: T| v.is_finite() && v >= T::ZERO;
    let focal = matches!(opts.loss, ElementLoss::Focal { .. });
    match opts.loss {
        ElementLoss::Focal { gamma, alpha } => {
            check_gamma(gamma)?;
            check_label_smoothing(opts.label_smoothing)?;
            if let Some(a) = alpha {
                if !(a >= T::ZERO && a <= T::ONE) {
                    return Err(FocalError::InvalidAlpha);
                }
            }
        }
        ElementLoss::Quality { beta } => {
            if !non_negative(beta) {
                return Err(FocalError::InvalidBeta);
            }
        }
        ElementLoss::Varifocal { alpha, gamma, .. } => {
            check_gamma(gamma)?;
            if !non_negative(alpha) {
                return Err(FocalError::InvalidAlpha);
            }
        }
        ElementLoss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            ..
        } => {
            check_gamma(gamma_pos)?;
            check_gamma(gamma_neg)?;
            if !(clip >= T::ZERO && clip < T::ONE) {
                return Err(FocalError::InvalidClip);
            }
        }
    }
    if !focal && opts.label_smoothing != T::ZERO {
        return Err(FocalError::InvalidLabelSmoothing);
    }
    if !(if focal {
        opts.poly_epsilon.is_finite()
    } else {
        opts.poly_epsilon == T::ZERO
    }) {
        return Err(FocalError::InvalidPolyEpsilon);
    }
    match opts.pos_weight {
        PosWeight::None => {}
        _ if !focal => return Err(FocalError::InvalidPosWeight),
        PosWeight::Scalar(pw) => {
            if !non_negative(pw) {
                return Err(FocalError::InvalidPosWeight);
            }
        }
        PosWeight::PerClass(pw) => {
            if pw.len() != classes {
                return Err(FocalError::LengthMismatch);
            }
            if pw.iter().any(|&v| !non_negative(v)) {
                return Err(FocalError::InvalidPosWeight);
            }
        }
    }
    match *targets {
        ElementTargets::Dense(y) => {
            check_weights(opts.weights, len)?;
            if let Some(index) = crate::first_failing(y, |v| v >= T::ZERO && v <= T::ONE) {
                return Err(FocalError::InvalidProbability { index });
            }
            Ok(ElementCounts {
                counted: len,
                positives: 0.0,
            })
        }
        ElementTargets::Indices { indices, ignore_index } => {
            check_weights(opts.weights, items)?;
            let (mut counted, mut positives) = (0usize, 0usize);
            for (index, &t) in indices.iter().enumerate() {
                if t == ignore_index {
                    continue;
                }
                if t < 0 || t as usize > classes {
                    return Err(FocalError::TargetOutOfRange { index });
                }
                counted += 1;
                positives += (t as usize != classes) as usize;
            }
            Ok(ElementCounts {
                counted: counted * classes,
                positives: positives as f64,
            })
        }
    }
}

/// The streaming kernel of the element-wise family: validates everything first (nothing is
/// written on error), then for each element adds its weighted loss to `out.sum` (in element
/// order, so results do not depend on how a batch is split into chunks), writes it to `out.loss`
/// if given (one value per element; an ignored item's elements get 0), and writes
/// `out.grad_scale` × its gradient to `out.grad` if given (the logits' layout).
///
/// `layout` is `[batch, classes, spatial]` as for the softmax loss: the class of element i is
/// `(i / spatial) % classes`, its item `(i / (classes·spatial))·spatial + i % spatial`. Dense
/// targets without classes are `Layout::rows(len, 1)`.
pub fn elementwise_accumulate<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: ElementTargets<T>,
    opts: &ElementOptions<T>,
    out: &mut Outputs<T>,
) -> Result<ElementCounts, FocalError> {
    let mut counts = validate(layout, logits, &targets, opts, out)?;
    let positives = crate::simd::elementwise::run(layout, logits, &targets, opts, out);
    if let ElementTargets::Dense(_) = targets {
        counts.positives = positives;
    }
    Ok(counts)
}

/// The element-wise loss of a whole batch under `reduction` (`'mean'` divides by
/// [`ElementCounts::counted`]), with its gradient written to `grad_out` when given. `loss_out`
/// (one value per element) is required for `Reduction::None`.
pub fn elementwise_loss<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: ElementTargets<T>,
    opts: &ElementOptions<T>,
    reduction: Reduction,
    loss_out: Option<&mut [T]>,
    grad_out: Option<&mut [T]>,
) -> Result<Reduced, FocalError> {
    if reduction == Reduction::None && loss_out.is_none() {
        return Err(FocalError::InvalidArgument);
    }
    let mut out = Outputs::new(loss_out, grad_out);
    let count = validate(layout, logits, &targets, opts, &out)?.counted;
    out.grad_scale = grad_scale(reduction, count);
    elementwise_accumulate(layout, logits, targets, opts, &mut out)?;
    Ok(reduce(reduction, out.sum, count))
}

// ------------------------------------------------------------------------------------------------
// The scalar reference kernels
// ------------------------------------------------------------------------------------------------

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
fn power<T: Real>(gamma: T, log_x: T) -> T {
    if gamma == T::ZERO {
        T::ONE
    } else {
        (gamma * log_x).exp()
    }
}

/// y − σ(x) without cancellation where both are near 1 (see [`quality`]).
#[inline(always)]
pub(crate) fn target_minus_p<T: Real>(s: &Sigmoid<T>, y: T, y_bar: T) -> T {
    if s.x_pos {
        s.q - y_bar
    } else {
        y - s.p
    }
}

/// The sigmoid focal loss of one element (without w): (l, ∂l/∂x).
///
/// m = 1 − p_t = y(1 − p) + (1 − y)p, CE = pw·y·softplus(−x) + (1 − y)·softplus(x),
/// α_t = α·y + (1 − α)(1 − y) (or 1), l = α_t·m^γ·CE + ε·m^(γ+1), and
///
///   ∂l/∂x = α_t·[γ·m^(γ−1)·(1 − 2y)·p(1 − p)·CE + m^γ·(pw·y·(p − 1) + (1 − y)·p)]
///           + ε·(γ + 1)·m^γ·(1 − 2y)·p(1 − p).
///
/// Stable evaluation:
/// - Hard targets (y ∈ {0, 1}, the common case): with s = 2y − 1, p_t = σ(s·x), pw_t = pw for
///   y = 1 and 1 for y = 0: m = σ(−s·x) exactly, CE = pw_t·softplus(−s·x), log m = −softplus(s·x)
///   (finite even when m underflows), and
///   ∂l/∂x = s·[α_t·pw_t·m^γ·(γ·p_t·log p_t − m) − ε(γ + 1)·p_t·m^(γ+1)],
///   where both terms of α_t's bracket are ≤ 0: no cancellation and no m^(γ−1), so 0 < γ < 1 is
///   finite at every x, and for ε > 0 the Poly-1 term has the same sign. The loss of a confident
///   right answer is the tiny m^γ·CE, never the 0 that 1 − exp(−CE) rounds to.
///   γ·p_t·log p_t takes its limit 0 at p_t = 0 (x = ∓∞, where CE = ∞).
/// - Soft targets: m is a sum of non-negative terms and m ≥ min(y, 1 − y) > 0, so
///   m^(γ−1)·p(1 − p) = m^γ·(p(1 − p)/m) with the ratio in [0, 1]: no negative power of 0.
///   p − y is formed as (1 − y)·p − y·(1 − p) (with pw: pw·y), which keeps the digits of the
///   stable 1 − p when p rounds near 1.
/// - m^(γ+1) = m^γ·m: both factors are accurate, so is their product (posWeight does not scale it).
/// - Poly-1 with ε < 0: a_t·CE + ε·m cancels where m is small and ε ≈ −a_t. For hard targets with
///   m ≤ 1/16 the loss is m^γ·K and the gradient −s·m^(γ+1)·B with K and B from the series of
///   `simd::math::POLY_SERIES_MAX` (the derivation there). For soft targets the loss is
///   m^γ·(y·K(q; α_t·pw) + (1 − y)·K(p; α_t)), each K by its series where its argument ≤ 1/16,
///   since α_t·CE + ε·m = y·(α_t·pw·(−log p) + ε·q) + (1 − y)·(α_t·(−log q) + ε·p) (p = σ(x),
///   q = 1 − p). The soft gradient keeps its form; its error stays relative to the size of its terms.
/// - Soft targets, log m for m > ½: log1p(−(y·p + (1 − y)·q)), from the non-negative terms of 1 − m.
///   The log of the rounded m would be off by u/|log m| relative, and m^γ multiplies that by γ
///   (γ = 1e6, y = 1e-7 at x = 88: 2% in float32).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn focal<T: Real>(x: T, y: T, y_bar: T, alpha: Option<T>, gamma: T, pw: Option<T>, eps: T) -> (T, T) {
    let s = sigmoid_terms(x);
    let alpha_t = match alpha {
        Some(a) => a * y + (T::ONE - a) * y_bar,
        None => T::ONE,
    };
    let eps1 = eps * (gamma + T::ONE);
    if y == T::ONE || y == T::ZERO {
        // p_t = σ(s·x), m = σ(−s·x), CE = −log p_t = softplus(−s·x), log m = −softplus(s·x).
        let (p_t, m, ce, log_m, sign, pw_t) = if y == T::ONE {
            (s.p, s.q, s.sp_neg, -s.sp_pos, T::ONE, pw.unwrap_or(T::ONE))
        } else {
            (s.q, s.p, s.sp_pos, -s.sp_neg, -T::ONE, T::ONE)
        };
        let a_t = alpha_t * pw_t;
        let focal = power(gamma, log_m);
        let mut loss = a_t * focal * ce;
        // γ·p_t·log p_t with the limit 0 when p_t = 0 (x = ∓∞ with CE = ∞).
        let g_pt_log_pt = if p_t == T::ZERO { T::ZERO } else { -(gamma * p_t * ce) };
        let mut grad = sign * a_t * focal * (g_pt_log_pt - m);
        if eps != T::ZERO {
            let fm = focal * m;
            if eps < T::ZERO && m <= T::from_f64(POLY_SERIES_MAX) {
                // m^γ·K and −s·m^(γ+1)·B from the series (`simd::math::POLY_SERIES_MAX`).
                let (k_small, b_small) = poly_small(m, p_t, a_t, eps, gamma, gamma + T::ONE);
                loss = focal * k_small;
                grad = -(sign * ((focal * b_small) * m));
            } else {
                loss = loss + eps * fm;
                grad = grad - sign * eps1 * (p_t * fm);
            }
        }
        (loss, grad)
    } else {
        let (p, q) = (s.p, s.q);
        let py = pw.map_or(y, |pw| pw * y);
        let ce = py * s.sp_neg + y_bar * s.sp_pos;
        let m = y * q + y_bar * p;
        // log m from 1 − m = y·p + (1 − y)·q (non-negative terms) where m > ½: the log of the
        // rounded m would be off by u/|log m| relative, which γ multiplies (γ = 1e6, m = 1 − 1e-7).
        // (As log1p computes it, with one ln for both cases: see `simd::elementwise::soft_log_m`.)
        let (log_m_arg, log_m_fix) = if m > T::from_f64(0.5) {
            let w = -(y * p + y_bar * q);
            let u = T::ONE + w;
            (u, (w - (u - T::ONE)) / u)
        } else {
            (m, T::ZERO)
        };
        let log_m = log_m_arg.ln() + log_m_fix;
        let focal = power(gamma, log_m);
        let mut loss = alpha_t * focal * ce;
        let ratio = if m > T::ZERO { p * q / m } else { T::ZERO };
        let first = if ratio == T::ZERO || gamma == T::ZERO {
            T::ZERO
        } else {
            gamma * focal * ratio * (y_bar - y) * ce
        };
        let mut grad = alpha_t * (first + focal * (y_bar * p - py * q));
        if eps < T::ZERO {
            // α_t·CE + ε·m = y·[(α_t·pw + ε)·q + α_t·pw·φ(q)] + (1 − y)·[(α_t + ε)·p + α_t·φ(p)],
            // φ(v) = −log(1 − v) − v: each bracket is the K of `simd::math::POLY_SERIES_MAX`
            // (with m = q resp. p), by the series where its v ≤ 1/16.
            let a_pos = pw.map_or(alpha_t, |pw| alpha_t * pw);
            let k_pos = if q <= T::from_f64(POLY_SERIES_MAX) {
                poly_small(q, p, a_pos, eps, gamma, gamma + T::ONE).0
            } else {
                a_pos * s.sp_neg + eps * q
            };
            let k_neg = if p <= T::from_f64(POLY_SERIES_MAX) {
                poly_small(p, q, alpha_t, eps, gamma, gamma + T::ONE).0
            } else {
                alpha_t * s.sp_pos + eps * p
            };
            loss = focal * (y * k_pos + y_bar * k_neg);
        } else if eps != T::ZERO {
            loss = loss + eps * (focal * m);
        }
        if eps != T::ZERO {
            grad = grad + eps1 * focal * (y_bar - y) * (p * q);
        }
        (loss, grad)
    }
}

/// Quality Focal Loss of one element (without w): (l, ∂l/∂x), d = y − p, a = |d|:
///
///   l = a^β · BCE(x, y),
///   ∂l/∂x = β·a^(β−1)·sign(p − y)·p(1 − p)·BCE + a^β·(p − y)
///         = −sign(d) · a^β · (β·p(1 − p)·BCE / a + a).
///
/// The second form has two non-negative terms inside the bracket (BCE's own gradient p − y = −d
/// and the focal factor's both push p towards y), so nothing cancels.
///
/// Stable evaluation:
/// - d = y − p cancels when p and y are both near 1 (p = 1 − 1e-30, y = 1 would give 0). For
///   p > ½ it is formed as (1 − p) − (1 − y), with 1 − p = σ(−x) accurate and 1 − y exact for
///   y ≥ ½ (Sterbenz), so y = 1 gives d = −σ(−x) to full precision. For p ≤ ½ the direct
///   difference is as accurate as p. (Near the root y = σ(x) the relative accuracy of d is that
///   of σ(x) itself, about one ulp of p in absolute terms: the conditioning of y − σ(x).)
/// - a^β = exp(β·log a) (exactly 1 for β = 0, also at a = 0), so a = 0 gives 0 for β > 0.
/// - p(1 − p)/a = max(p, 1 − p)·(min(p, 1 − p)/a): min(p, 1 − p)/a is bounded (a is at least about
///   one ulp of the smaller probability when it is not 0), whereas p(1 − p)·BCE can underflow
///   before the division (p = 1 − 1e-200, y = 1: p(1 − p)·BCE ≈ 1e-400 but the quotient is ≈ β).
/// - Where a = 0 (y = σ(x) exactly) the gradient is 0: BCE's gradient vanishes and the derivative
///   of a^β is taken as 0 (for β > 1 it is 0; for β ≤ 1 the contract's convention).
/// - At x = −∞ with y > 0, p(1 − p)·BCE is p·(−y log p) → 0 (taken as 0, not 0·∞).
#[inline(always)]
pub(crate) fn quality<T: Real>(x: T, y: T, beta: T) -> (T, T) {
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

/// Varifocal Loss of one element (without w): (l, ∂l/∂x).
///
/// For y > 0 (a positive with IoU-aware score y): l = k·BCE(x, y) with k = y (iou_weighted) or 1,
/// ∂l/∂x = k·(p − y) = −k·d, d = y − p formed as in [`quality`] (so a confident right answer,
/// p = 1 − 1e-30 with y = 1, gets the gradient −1e-30 and not 0).
///
/// For y = 0: l = α·p^γ·softplus(x) (BCE(x, 0) = softplus(x) = −log(1 − p)),
/// ∂l/∂x = α·p^γ·(γ·(1 − p)·softplus(x) + p), both terms ≥ 0; p^γ = exp(−γ·softplus(−x)) is
/// finite for every γ ≥ 0 (no p^(γ−1)), 1 for γ = 0, and 0 at x = −∞ (where the loss and gradient
/// are 0).
#[inline(always)]
pub(crate) fn varifocal<T: Real>(x: T, y: T, alpha: T, gamma: T, iou_weighted: bool) -> (T, T) {
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

/// Asymmetric Loss of one element (without w): (l, ∂l/∂x).
///
///   l = y·(1 − p)^γ₊·softplus(−x) + (1 − y)·p_m^γ₋·(−log(1 − p_m)),   p_m = max(p − clip, 0).
///
/// Positive part: ∂/∂x = −y·(1 − p)^γ₊·[(1 − p) + γ₊·p·softplus(−x)]: two non-negative terms (no
/// cancellation, no (1 − p)^(γ₊−1)); (1 − p)^γ₊ = exp(−γ₊·softplus(x)); p·softplus(−x) → 0 at
/// p = 0; y = 0 contributes exactly 0 (also at x = −∞, where softplus(−x) = ∞).
///
/// Negative part, for p > clip (0 otherwise, with its gradient):
///   ∂/∂x = (1 − y)·p(1 − p)·[p_m^γ₋/(1 − p_m) + γ₋·p_m^γ₋·r],   r = −log(1 − p_m)/p_m,
/// r → 1 as p_m → 0, which replaces p_m^(γ₋−1)·log(1 − p_m) (0·∞ for γ₋ < 1 at p_m → 0).
/// - clip = 0: p_m = p, −log(1 − p) = softplus(x), 1/(1 − p_m)·p(1 − p) = p and p(1 − p)·r =
///   (1 − p)·softplus(x): no division. p^γ₋ = exp(−γ₋·softplus(−x)).
/// - clip > 0: 1 − p_m = (1 − p) + clip, a sum of non-negative terms (≥ clip), never 1 − p_m by
///   subtraction. log(1 − p_m):
///   - p ≤ ½: log1p(−p_m), with p_m = p − clip as accurate as p (just above clip p_m is small and
///     log1p keeps its relative precision; the log of the rounded 1 − p_m would not).
///   - p > ½: log((1 − p) + clip) = log(1 − p) + log1p(clip/(1 − p)) when 1 − p ≥ clip, else
///     log(clip) + log1p((1 − p)/clip): both pieces accurate, whatever the size of clip (a tiny
///     clip next to 1 − p = 1e-30 keeps its digits, which forming the sum first would lose).
///
///   p_m^γ₋ = exp(γ₋·log p_m).
/// - `detach_focal_weight` drops the γ terms (the focal factors are constants in the gradient).
///
/// No eps clamp anywhere: log p and log(1 − p_m) are finite wherever the loss is.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn asymmetric<T: Real>(x: T, y: T, gamma_pos: T, gamma_neg: T, clip: T, detach: bool) -> (T, T) {
    let s = sigmoid_terms(x);
    let (p, q) = (s.p, s.q);
    let y_bar = T::ONE - y;
    let (mut loss, mut grad) = (T::ZERO, T::ZERO);
    if y != T::ZERO {
        let focal = power(gamma_pos, -s.sp_pos);
        let focus = if detach || p == T::ZERO {
            T::ZERO
        } else {
            gamma_pos * p * s.sp_neg
        };
        loss = y * focal * s.sp_neg;
        grad = -(y * focal * (q + focus));
    }
    if clip == T::ZERO {
        let focal = power(gamma_neg, -s.sp_neg);
        let focus = if detach { T::ZERO } else { gamma_neg * q * s.sp_pos };
        loss = loss + y_bar * focal * s.sp_pos;
        grad = grad + y_bar * focal * (p + focus);
    } else if p > clip || p.is_nan() {
        // (NaN takes this branch, so that it reaches the result.)
        let pm = p - clip;
        let log_1m_pm = if !s.x_pos {
            (-pm).ln_1p()
        } else if q >= clip {
            -s.sp_pos + (clip / q).ln_1p()
        } else {
            clip.ln() + (q / clip).ln_1p()
        };
        let nl = -log_1m_pm;
        let focal = power(gamma_neg, pm.ln());
        let focus = if detach { T::ZERO } else { gamma_neg * nl / pm };
        loss = loss + y_bar * focal * nl;
        grad = grad + y_bar * focal * (p * q) * (T::ONE / (q + clip) + focus);
    }
    (loss, grad)
}

/// Precomputed per-call parameters of the scalar kernels.
#[derive(Clone, Copy)]
struct Scalar<T> {
    loss: ElementLoss<T>,
    eps_ls: T,
    poly: T,
}

impl<T: Real> Scalar<T> {
    #[inline(always)]
    fn element(&self, x: T, y0: T, pw: Option<T>) -> (T, T) {
        match self.loss {
            ElementLoss::Focal { gamma, alpha } => {
                let (y, y_bar) = smoothed(y0, self.eps_ls);
                focal(x, y, y_bar, alpha, gamma, pw, self.poly)
            }
            ElementLoss::Quality { beta } => quality(x, y0, beta),
            ElementLoss::Varifocal {
                alpha,
                gamma,
                iou_weighted,
            } => varifocal(x, y0, alpha, gamma, iou_weighted),
            ElementLoss::Asymmetric {
                gamma_pos,
                gamma_neg,
                clip,
                detach_focal_weight,
            } => asymmetric(x, y0, gamma_pos, gamma_neg, clip, detach_focal_weight),
        }
    }
}

/// [`elementwise_accumulate`] on the scalar path only (one element at a time, std's exp / ln),
/// which the vectorised kernels are tested against (`focal_loss::scalar`).
pub fn elementwise_accumulate_scalar<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: ElementTargets<T>,
    opts: &ElementOptions<T>,
    out: &mut Outputs<T>,
) -> Result<ElementCounts, FocalError> {
    let mut counts = validate(layout, logits, &targets, opts, out)?;
    let positives = run_scalar(layout, logits, targets, opts, out);
    if let ElementTargets::Dense(_) = targets {
        counts.positives = positives;
    }
    Ok(counts)
}

/// The scalar kernel over validated inputs. Returns Σ y (dense targets) in element order.
fn run_scalar<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: ElementTargets<T>,
    opts: &ElementOptions<T>,
    out: &mut Outputs<T>,
) -> f64 {
    let (classes, spatial) = (layout.classes, layout.spatial);
    let k = Scalar {
        loss: opts.loss,
        eps_ls: opts.label_smoothing,
        poly: opts.poly_epsilon,
    };
    let scale = T::from_f64(out.grad_scale);
    let mut loss_out = out.loss.as_deref_mut();
    let mut grad_out = out.grad.as_deref_mut();
    let mut sum = out.sum;
    let mut positives = 0.0f64;
    for (i, &x) in logits.iter().enumerate() {
        let c = (i / spatial) % classes;
        let item = i / (classes * spatial) * spatial + i % spatial;
        let (y, w) = match targets {
            ElementTargets::Dense(y) => {
                positives += y[i].to_f64();
                (y[i], opts.weights.map_or(T::ONE, |w| w[i]))
            }
            ElementTargets::Indices { indices, ignore_index } => {
                let t = indices[item];
                if t == ignore_index {
                    if let Some(l) = loss_out.as_deref_mut() {
                        l[i] = T::ZERO;
                    }
                    if let Some(g) = grad_out.as_deref_mut() {
                        g[i] = T::ZERO;
                    }
                    continue;
                }
                let y = if t as usize == c { T::ONE } else { T::ZERO };
                (y, opts.weights.map_or(T::ONE, |w| w[item]))
            }
        };
        let pw = match opts.pos_weight {
            PosWeight::None => None,
            PosWeight::Scalar(pw) => Some(pw),
            PosWeight::PerClass(pw) => Some(pw[c]),
        };
        let (loss, grad) = k.element(x, y, pw);
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
    positives
}
