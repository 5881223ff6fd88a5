//! The WebAssembly boundary: `extern "C"` exports over a fixed scratch area, status codes out.
//!
//! The TypeScript loader (`ts/engine.ts`) copies a chunk of the caller's arrays into the scratch
//! area, calls one of the kernels below with pointers into it, and copies the results out. The
//! module has no allocator and imports nothing; its memory only grows if the loader grows it for
//! a single item wider than the scratch area.
//!
//! Conventions (must match `ts/abi.ts`):
//! - A null pointer (0) means "absent" (scratch never starts at address 0).
//! - The return value is 0 on success or a [`FocalError::code`]; the offending position, if any,
//!   is then available from [`focal_error_index`].
//! - `acc` points to an f64 running sum of item losses, updated in item order.

use crate::{
    sigmoid_focal_accumulate, softmax_focal_accumulate, Alpha, FocalError, Layout, SigmoidOptions,
    SoftmaxOptions, SoftmaxTargets,
};
use core::cell::UnsafeCell;

/// Version of this boundary; the loader refuses a .wasm whose version differs from its own.
pub const ABI_VERSION: u32 = 1;

/// Bytes of the scratch area.
pub const SCRATCH_BYTES: usize = 1 << 18;

#[repr(C, align(16))]
struct Scratch(UnsafeCell<[u8; SCRATCH_BYTES]>);

// SAFETY: wasm32-unknown-unknown is single-threaded here; the area is only touched through raw
// pointers handed to the host, never through Rust references that could alias.
unsafe impl Sync for Scratch {}

static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_BYTES]));

struct ErrorIndex(UnsafeCell<u32>);
// SAFETY: as above, single-threaded.
unsafe impl Sync for ErrorIndex {}
static ERROR_INDEX: ErrorIndex = ErrorIndex(UnsafeCell::new(0));

/// The ABI version of this build.
#[no_mangle]
pub extern "C" fn focal_abi_version() -> u32 {
    ABI_VERSION
}

/// Address of the scratch area (16-byte aligned).
#[no_mangle]
pub extern "C" fn focal_scratch_ptr() -> *mut u8 {
    SCRATCH.0.get() as *mut u8
}

/// Size of the scratch area in bytes.
#[no_mangle]
pub extern "C" fn focal_scratch_len() -> u32 {
    SCRATCH_BYTES as u32
}

/// Position the last failed call's error refers to (0 if none).
#[no_mangle]
pub extern "C" fn focal_error_index() -> u32 {
    // SAFETY: single-threaded; plain read of a u32.
    unsafe { *ERROR_INDEX.0.get() }
}

fn status(result: Result<(), FocalError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            // SAFETY: single-threaded; plain write of a u32.
            unsafe { *ERROR_INDEX.0.get() = e.index().unwrap_or(0) as u32 };
            e.code()
        }
    }
}

/// A shared slice from a pointer that may be null (absent); misaligned is an error.
unsafe fn opt_slice<'a, T>(ptr: *const T, len: usize) -> Result<Option<&'a [T]>, FocalError> {
    if ptr.is_null() {
        Ok(None)
    } else if (ptr as usize) % core::mem::align_of::<T>() != 0 {
        Err(FocalError::InvalidArgument)
    } else {
        Ok(Some(core::slice::from_raw_parts(ptr, len)))
    }
}

unsafe fn opt_slice_mut<'a, T>(ptr: *mut T, len: usize) -> Result<Option<&'a mut [T]>, FocalError> {
    if ptr.is_null() {
        Ok(None)
    } else if (ptr as usize) % core::mem::align_of::<T>() != 0 {
        Err(FocalError::InvalidArgument)
    } else {
        Ok(Some(core::slice::from_raw_parts_mut(ptr, len)))
    }
}

macro_rules! exports {
    ($t:ty, $softmax:ident, $sigmoid:ident) => {
        /// Softmax focal loss over a `[batch, classes, spatial]` chunk. Exactly one of `targets`
        /// (i32 class indices, one per item) and `probs` (the logits' layout) is non-null.
        /// `alpha` (one per class) overrides `alpha_scalar` when non-null. `weights`, `loss_out`
        /// (one per item) and `grad_out` (the logits' layout) may be null.
        ///
        /// # Safety
        /// Every non-null pointer must be valid for the lengths the layout implies, and the
        /// output regions must not overlap the inputs.
        #[no_mangle]
        pub unsafe extern "C" fn $softmax(
            batch: u32,
            classes: u32,
            spatial: u32,
            logits: *const $t,
            targets: *const i32,
            probs: *const $t,
            alpha: *const $t,
            alpha_scalar: f64,
            weights: *const $t,
            gamma: f64,
            label_smoothing: f64,
            ignore_index: i32,
            grad_scale: f64,
            loss_out: *mut $t,
            grad_out: *mut $t,
            acc: *mut f64,
        ) -> i32 {
            status((|| {
                let layout = Layout::channels_first(batch as usize, classes as usize, spatial as usize);
                let (items, len) = (layout.items()?, layout.len()?);
                let logits = opt_slice(logits, len)?.ok_or(FocalError::InvalidArgument)?;
                let targets = match (opt_slice(targets, items)?, opt_slice(probs, len)?) {
                    (Some(t), None) => SoftmaxTargets::Indices(t),
                    (None, Some(q)) => SoftmaxTargets::Probabilities(q),
                    _ => return Err(FocalError::InvalidArgument),
                };
                let alpha = match opt_slice(alpha, classes as usize)? {
                    Some(a) => Alpha::PerClass(a),
                    None => Alpha::Scalar(alpha_scalar as $t),
                };
                let opts = SoftmaxOptions {
                    gamma: gamma as $t,
                    alpha,
                    ignore_index,
                    label_smoothing: label_smoothing as $t,
                    weights: opt_slice(weights, items)?,
                };
                let acc = &mut opt_slice_mut(acc, 1)?.ok_or(FocalError::InvalidArgument)?[0];
                let loss_out = opt_slice_mut(loss_out, items)?;
                let grad_out = opt_slice_mut(grad_out, len)?;
                softmax_focal_accumulate(layout, logits, targets, &opts, grad_scale, loss_out, grad_out, acc)
                    .map(|_| ())
            })())
        }

        /// Sigmoid focal loss over `len` elements. `alpha` < 0 turns class weighting off.
        /// `weights`, `loss_out` and `grad_out` may be null.
        ///
        /// # Safety
        /// Every non-null pointer must be valid for `len` elements, and the output regions must
        /// not overlap the inputs.
        #[no_mangle]
        pub unsafe extern "C" fn $sigmoid(
            len: u32,
            logits: *const $t,
            targets: *const $t,
            weights: *const $t,
            gamma: f64,
            alpha: f64,
            label_smoothing: f64,
            grad_scale: f64,
            loss_out: *mut $t,
            grad_out: *mut $t,
            acc: *mut f64,
        ) -> i32 {
            status((|| {
                let len = len as usize;
                let logits = opt_slice(logits, len)?.ok_or(FocalError::InvalidArgument)?;
                let targets = opt_slice(targets, len)?.ok_or(FocalError::InvalidArgument)?;
                let opts = SigmoidOptions {
                    gamma: gamma as $t,
                    alpha: if alpha < 0.0 { None } else { Some(alpha as $t) },
                    label_smoothing: label_smoothing as $t,
                    weights: opt_slice(weights, len)?,
                };
                let acc = &mut opt_slice_mut(acc, 1)?.ok_or(FocalError::InvalidArgument)?[0];
                let loss_out = opt_slice_mut(loss_out, len)?;
                let grad_out = opt_slice_mut(grad_out, len)?;
                sigmoid_focal_accumulate(logits, targets, &opts, grad_scale, loss_out, grad_out, acc)
            })())
        }
    };
}

exports!(f32, focal_softmax_f32, focal_sigmoid_f32);
exports!(f64, focal_softmax_f64, focal_sigmoid_f64);
