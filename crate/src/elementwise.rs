//! The drivers of the element-wise family (`crate::family`, where each loss has its module with its
//! derivation): validation, the public entry points [`elementwise_accumulate`] /
//! [`elementwise_loss`], and the scalar loop that the vectorised kernels are tested against
//! ([`elementwise_accumulate_scalar`], `focal_loss::scalar::elementwise_accumulate`).
//!
//! # Method
//!
//! Validation first, of everything (nothing is written on error): the layout and every slice's
//! length, each loss's parameters, the options that only the focal loss takes (label smoothing,
//! Poly-1 ε, `posWeight`), the weights, and the targets (dense in [0, 1], or class indices in
//! [0, C] or the ignore index, counting the items and positives). Then one pass over the elements
//! in order: the vectorised kernel (`crate::simd::elementwise::run`) on the hot path, or here one
//! element at a time with std's exp / ln / ln_1p (`ElementLoss::scalar`, which calls each loss's
//! `scalar`). Each element's weighted loss is added to the running sum in f64 in element order, so
//! results do not depend on how a batch is split into chunks.
//!
//! The class of element i is `(i / spatial) % classes`, its item
//! `(i / (classes·spatial))·spatial + i % spatial`. With class indices, y of an element is 1 where
//! its class is its item's index and 0 otherwise (t = C, background, gives an all-zero row).
//!
//! # Special cases
//!
//! - An ignored item (`ignore_index`, which takes precedence over both meanings of an index) adds
//!   0, gets loss 0 and a zero gradient, and is not counted.
//! - `'mean'` divides by [`ElementCounts::counted`]: every element with dense targets, (counted
//!   items) × C with class indices; weights do not change it. Count 0 gives loss 0 and a zero
//!   gradient.
//! - `positives` is Σ of the unsmoothed dense targets in element order in f64 (exact for 0/1
//!   targets), or the number of counted non-background items.
//!
//! # Accuracy
//!
//! That of each loss (`crate::family` and its modules; CONTRACT.md § Accuracy). The sum is carried
//! in f64 whatever the float type.

use crate::family::{non_negative, ElementCounts, ElementLoss, ElementOptions, ElementTargets, PosWeight};
use crate::real::Real;
use crate::{check_weights, grad_scale, reduce, FocalError, Layout, Outputs};
use crate::{Reduced, Reduction};

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
    let focal = matches!(opts.loss, ElementLoss::Focal { .. });
    opts.loss.validate(opts)?;
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
        let (loss, grad) = opts.loss.scalar(opts, x, y, pw);
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
