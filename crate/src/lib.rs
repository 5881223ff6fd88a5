//! Numerically stable focal loss (Lin et al., 2017) and its analytic gradient, over flat slices.
//!
//! Each loss is computed together with its gradient in one fused pass per item:
//! - [`softmax_focal_loss`]: multi-class, hard class indices or soft target rows, channels-last
//!   `[M, C]` or channels-first `[N, C, ...spatial]` layouts, with Poly-1.
//! - [`sigmoid_focal_loss`]: binary / multi-label, one target in `[0, 1]` per logit.
//! - [`elementwise_accumulate`] / [`elementwise_loss`]: the element-wise family — the sigmoid focal
//!   loss with `posWeight`, Poly-1 and label smoothing, Quality Focal Loss, Varifocal Loss and the
//!   Asymmetric Loss — over dense targets or class indices (detection heads, with background and
//!   an ignore index).
//!
//! The formulas avoid every cancellation that makes other implementations return NaN gradients or
//! zero losses where a model is confident; each kernel derives its stable form in a comment beside
//! the code (`softmax.rs`, and one module per element-wise loss in `family/`). Invalid input is
//! reported as a [`FocalError`], never a panic. The hot path allocates nothing: outputs go to
//! caller-provided slices.
//!
//! `ffi.rs` is the thin `extern "C"` boundary of the WebAssembly build (compiled for wasm32 only).
//!
//! ```
//! use focal_loss::{softmax_focal_loss, Layout, SoftmaxOptions, SoftmaxTargets, Reduction};
//! let logits = [2.0f64, 0.5, -1.0, 0.0, 3.0, 0.1];
//! let mut grad = [0.0f64; 6];
//! let opts = SoftmaxOptions { gamma: 2.0, ..SoftmaxOptions::default() };
//! let r = softmax_focal_loss(Layout::rows(2, 3), &logits, SoftmaxTargets::Indices(&[0, 1]),
//!                            &opts, Reduction::Mean, None, Some(&mut grad)).unwrap();
//! assert!(r.loss > 0.0 && r.count == 2);
//! ```

#![deny(missing_docs)]

mod elementwise;
mod family;
#[cfg(target_arch = "wasm32")]
mod ffi;
mod real;
mod sigmoid;
mod softmax;

// The vector lanes and elementary functions. Internal to the crate; the `bench-internals` feature
// makes them public for the benchmark's floor kernel (bench/floor), which must use the same exp.
#[cfg(feature = "bench-internals")]
pub mod simd;
#[cfg(not(feature = "bench-internals"))]
mod simd;

/// The scalar kernels (std's exp / ln / ln_1p, one item at a time): the same contract as the
/// crate-level `*_accumulate` functions, whose hot paths run the vectorised kernels instead.
/// Tests check the two against each other.
pub mod scalar {
    pub use crate::elementwise::elementwise_accumulate_scalar as elementwise_accumulate;
    pub use crate::sigmoid::sigmoid_focal_accumulate_scalar as sigmoid_focal_accumulate;
    pub use crate::softmax::softmax_focal_accumulate_scalar as softmax_focal_accumulate;
}

pub use elementwise::{elementwise_accumulate, elementwise_loss};
pub use family::{ElementCounts, ElementLoss, ElementOptions, ElementTargets, PosWeight};
pub use real::Real;
pub use sigmoid::{sigmoid_focal_accumulate, sigmoid_focal_loss};
pub use softmax::{softmax_focal_accumulate, softmax_focal_loss};

/// Why an input was rejected. Each variant has a stable status code (`code()`), which the wasm
/// boundary returns and the TypeScript facade turns into a `TypeError` / `RangeError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FocalError {
    /// A slice does not have the length the layout requires.
    LengthMismatch,
    /// The layout is not valid (zero classes, or a product that overflows).
    InvalidShape,
    /// γ (or ASL's γ₊ / γ₋) is negative, NaN or infinite.
    InvalidGamma,
    /// An alpha value is negative or not finite (softmax, varifocal), or outside `[0, 1]` (sigmoid focal).
    InvalidAlpha,
    /// Label smoothing is outside `[0, 1)`, or not 0 for an element-wise loss other than the focal loss.
    InvalidLabelSmoothing,
    /// An item weight is negative or not finite; `index` is its position.
    InvalidWeight {
        /// Position of the offending weight.
        index: usize,
    },
    /// A class index is neither in `[0, C)` (`[0, C]` for element-wise losses, C being background)
    /// nor the ignore index; `index` is its position.
    TargetOutOfRange {
        /// Position of the offending target.
        index: usize,
    },
    /// A soft target is outside `[0, 1]`, or a softmax target row does not sum to 1;
    /// `index` is the position of the value (sigmoid) or of the item (softmax).
    InvalidProbability {
        /// Position of the offending value or item.
        index: usize,
    },
    /// The wasm boundary was given a null or misaligned pointer, or an inconsistent argument set.
    InvalidArgument,
    /// QFL's β is negative, NaN or infinite.
    InvalidBeta,
    /// ASL's clip is outside `[0, 1)`.
    InvalidClip,
    /// A positive weight is negative or not finite, or one was given to a loss other than the focal loss.
    InvalidPosWeight,
    /// The Poly-1 ε is not finite, or is not 0 for a loss other than the focal losses.
    InvalidPolyEpsilon,
}

impl FocalError {
    /// The status code used across the wasm boundary (0 means success). Must match `ts/abi.ts`.
    pub fn code(self) -> i32 {
        match self {
            FocalError::LengthMismatch => 1,
            FocalError::InvalidShape => 2,
            FocalError::InvalidGamma => 3,
            FocalError::InvalidAlpha => 4,
            FocalError::InvalidLabelSmoothing => 5,
            FocalError::InvalidWeight { .. } => 6,
            FocalError::TargetOutOfRange { .. } => 7,
            FocalError::InvalidProbability { .. } => 8,
            FocalError::InvalidArgument => 9,
            FocalError::InvalidBeta => 10,
            FocalError::InvalidClip => 11,
            FocalError::InvalidPosWeight => 12,
            FocalError::InvalidPolyEpsilon => 13,
        }
    }

    /// The position the error refers to, where it has one.
    pub fn index(self) -> Option<usize> {
        match self {
            FocalError::InvalidWeight { index }
            | FocalError::TargetOutOfRange { index }
            | FocalError::InvalidProbability { index } => Some(index),
            _ => None,
        }
    }
}

impl core::fmt::Display for FocalError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FocalError::LengthMismatch => f.write_str("a slice has the wrong length for the layout"),
            FocalError::InvalidShape => f.write_str("the layout is not valid"),
            FocalError::InvalidGamma => f.write_str("gamma must be finite and >= 0"),
            FocalError::InvalidAlpha => f.write_str("alpha is out of range"),
            FocalError::InvalidLabelSmoothing => f.write_str("labelSmoothing must be in [0, 1)"),
            FocalError::InvalidWeight { index } => write!(f, "weights[{index}] must be finite and >= 0"),
            FocalError::TargetOutOfRange { index } => write!(f, "targets[{index}] is not a class index"),
            FocalError::InvalidProbability { index } => write!(f, "targets[{index}] is not a probability (row)"),
            FocalError::InvalidArgument => f.write_str("invalid argument at the wasm boundary"),
            FocalError::InvalidBeta => f.write_str("beta must be finite and >= 0"),
            FocalError::InvalidClip => f.write_str("clip must be in [0, 1)"),
            FocalError::InvalidPosWeight => f.write_str("posWeight must be finite and >= 0 (focal loss only)"),
            FocalError::InvalidPolyEpsilon => f.write_str("polyEpsilon must be finite (focal losses only)"),
        }
    }
}

/// How item losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Sum over counted items divided by their number (0 when none is counted).
    #[default]
    Mean,
    /// Sum over items.
    Sum,
    /// One loss per item (written to `loss_out`); the gradient is each item's own.
    None,
}

/// Shape of softmax logits: `[batch, classes, spatial]`, row-major. Channels-last rows of
/// `[M, C]` are `Layout::rows(M, C)` (spatial = 1); PyTorch's channels-first `(N, C, d1, …, dK)`
/// is `Layout::channels_first(N, C, d1·…·dK)`. An item is one (n, s) pair: its C logits are
/// `spatial` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// N (or M for rows).
    pub batch: usize,
    /// C ≥ 1.
    pub classes: usize,
    /// Product of the spatial dimensions (1 for rows).
    pub spatial: usize,
}

impl Layout {
    /// `[M, C]` rows, classes contiguous.
    pub fn rows(m: usize, c: usize) -> Layout {
        Layout {
            batch: m,
            classes: c,
            spatial: 1,
        }
    }
    /// `[N, C, S]`, channels first.
    pub fn channels_first(n: usize, c: usize, s: usize) -> Layout {
        Layout {
            batch: n,
            classes: c,
            spatial: s,
        }
    }
    /// Number of items (N·S), or an error on overflow / zero classes.
    pub fn items(&self) -> Result<usize, FocalError> {
        if self.classes == 0 {
            return Err(FocalError::InvalidShape);
        }
        self.batch.checked_mul(self.spatial).ok_or(FocalError::InvalidShape)
    }
    /// Number of logits (N·C·S), or an error on overflow / zero classes.
    pub fn logits(&self) -> Result<usize, FocalError> {
        self.items()?.checked_mul(self.classes).ok_or(FocalError::InvalidShape)
    }
}

/// Class weights for the softmax loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Alpha<'a, T> {
    /// Every class weighs 1.
    None,
    /// Every class weighs the same (≥ 0).
    Scalar(T),
    /// One weight (≥ 0) per class.
    PerClass(&'a [T]),
}

/// Softmax targets: one class index per item, or a probability row per item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SoftmaxTargets<'a, T> {
    /// Class index per item, in `[0, C)` or equal to the ignore index.
    Indices(&'a [i32]),
    /// Target distribution, the logits' length and layout; each item's values in `[0, 1]`
    /// summing to 1 (within [`PROBABILITY_SUM_TOLERANCE`]).
    Probabilities(&'a [T]),
}

/// How far from 1 a soft target row's sum may be (rounding of the caller's own normalisation).
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-3;

/// Options of the softmax focal loss (reduction is passed separately).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxOptions<'a, T> {
    /// Focusing parameter γ ≥ 0 (2 by default); 0 gives weighted cross-entropy.
    pub gamma: T,
    /// Class weights (none by default).
    pub alpha: Alpha<'a, T>,
    /// Items whose class index equals it count for nothing (-100 by default).
    pub ignore_index: i32,
    /// ε in `[0, 1)`: q ← (1 − ε)·q + ε/C.
    pub label_smoothing: T,
    /// ε of Poly-1 (Leng et al., ICLR 2022), any finite value (0 by default): each target term gains
    /// ε·(1 − p_c)^(γ+1) beside its focal term, after alpha, as the PolyLoss authors' `poly1_focal_loss`.
    pub poly_epsilon: T,
    /// One non-negative weight per item.
    pub weights: Option<&'a [T]>,
}

impl<T: Real> Default for SoftmaxOptions<'_, T> {
    fn default() -> Self {
        SoftmaxOptions {
            gamma: T::from_f64(2.0),
            alpha: Alpha::None,
            ignore_index: -100,
            label_smoothing: T::ZERO,
            poly_epsilon: T::ZERO,
            weights: None,
        }
    }
}

/// Options of the sigmoid focal loss (reduction is passed separately).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SigmoidOptions<'a, T> {
    /// Focusing parameter γ ≥ 0 (2 by default).
    pub gamma: T,
    /// α in `[0, 1]` weights positives and 1 − α negatives; `None` turns weighting off
    /// (0.25 by default, as torchvision).
    pub alpha: Option<T>,
    /// ε in `[0, 1)`: y ← y·(1 − ε) + ε/2.
    pub label_smoothing: T,
    /// One non-negative weight per element.
    pub weights: Option<&'a [T]>,
}

impl<T: Real> Default for SigmoidOptions<'_, T> {
    fn default() -> Self {
        SigmoidOptions {
            gamma: T::from_f64(2.0),
            alpha: Some(T::from_f64(0.25)),
            label_smoothing: T::ZERO,
            weights: None,
        }
    }
}

/// Where a streaming kernel (`*_accumulate`) puts its results: all of them in one place, so a
/// caller that processes a batch in chunks passes one value through every chunk.
#[derive(Debug, Default)]
pub struct Outputs<'a, T> {
    /// One loss per item (the item weight applied), if wanted.
    pub loss: Option<&'a mut [T]>,
    /// The gradient (the logits' layout), multiplied by `grad_scale`, if wanted.
    pub grad: Option<&'a mut [T]>,
    /// Multiplies every gradient entry: `1 / count` of the whole batch for a chunk of a `'mean'`.
    pub grad_scale: f64,
    /// Running sum of the item losses in `f64`, added to in item order (so a result does not
    /// depend on how a batch was split into chunks).
    pub sum: f64,
}

impl<'a, T> Outputs<'a, T> {
    /// Outputs with the given destinations, `grad_scale` 1 and an empty sum.
    pub fn new(loss: Option<&'a mut [T]>, grad: Option<&'a mut [T]>) -> Self {
        Outputs {
            loss,
            grad,
            grad_scale: 1.0,
            sum: 0.0,
        }
    }
}

/// A reduced result. `sum` and `count` are exact enough to combine shards:
/// the mean over several batches is `Σ sum / Σ count`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reduced {
    /// The loss under the requested reduction (for `Reduction::None`, the sum).
    pub loss: f64,
    /// Sum of the item losses (in f64).
    pub sum: f64,
    /// Items counted by `'mean'` (not ignored).
    pub count: usize,
}

pub(crate) fn check_gamma<T: Real>(gamma: T) -> Result<(), FocalError> {
    if gamma.is_finite() && gamma >= T::ZERO {
        Ok(())
    } else {
        Err(FocalError::InvalidGamma)
    }
}

pub(crate) fn check_label_smoothing<T: Real>(eps: T) -> Result<(), FocalError> {
    if eps >= T::ZERO && eps < T::ONE {
        Ok(())
    } else {
        Err(FocalError::InvalidLabelSmoothing)
    }
}

pub(crate) fn check_weights<T: Real>(weights: Option<&[T]>, items: usize) -> Result<(), FocalError> {
    if let Some(w) = weights {
        if w.len() != items {
            return Err(FocalError::LengthMismatch);
        }
        if let Some(index) = first_failing(w, |v| v.is_finite() && v >= T::ZERO) {
            return Err(FocalError::InvalidWeight { index });
        }
    }
    Ok(())
}

/// The index of the first value that fails `ok`, if any. With SIMD128 the common case (all pass)
/// is one branch-free pass that the compiler vectorises (an `and` over the whole slice, no early
/// exit), and only a failing slice is scanned again for the index: the per-element early-exit
/// loop cost ~8% of a float32 sigmoid call. Without SIMD128 that pass would only add code size
/// (2.7 KB of the size-budgeted scalar .wasm), so the plain scan is used there.
#[inline]
pub(crate) fn first_failing<T: Copy>(values: &[T], ok: impl Fn(T) -> bool) -> Option<usize> {
    if simd::HARDWARE_SIMD && values.iter().fold(true, |all, &v| all & ok(v)) {
        return None;
    }
    values.iter().position(|&v| !ok(v))
}

/// The gradient scale for a reduction over `count` counted items.
pub(crate) fn grad_scale(reduction: Reduction, count: usize) -> f64 {
    match reduction {
        Reduction::Mean if count > 0 => 1.0 / count as f64,
        Reduction::Mean => 0.0,
        _ => 1.0,
    }
}

pub(crate) fn reduce(reduction: Reduction, sum: f64, count: usize) -> Reduced {
    let loss = match reduction {
        Reduction::Mean if count > 0 => sum / count as f64,
        Reduction::Mean => 0.0,
        _ => sum,
    };
    Reduced { loss, sum, count }
}
