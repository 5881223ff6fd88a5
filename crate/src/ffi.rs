//! The WebAssembly boundary (wasm32 builds only): `extern "C"` kernels that take one argument, the
//! address of a [`CallHeader`] in the scratch area, and return a status code.
//!
//! The TypeScript engine (`ts/engine.ts`) writes a chunk of the caller's arrays into the scratch
//! area, writes a header that says where each array is and what the options are, calls a kernel
//! and copies the results out. The module has no allocator and imports nothing; its memory only
//! grows when the engine adds a spare area for one item wider than the scratch area.
//!
//! Conventions (must match `ts/abi.ts`):
//! - Addresses are byte offsets into wasm memory; 0 means "absent" (nothing lives at address 0).
//! - The return value is 0 on success or a [`FocalError::code`]; the header's `error_index` then
//!   holds the offending position, if the error has one.
//! - `sum` is an f64 running sum of item losses: the kernel adds to it in item order. `positives`
//!   (element-wise kernels) is a running sum too: the kernel adds the chunk's positives to it.

use crate::family::HeaderParams;
use crate::{
    elementwise_accumulate, softmax_focal_accumulate, Alpha, ElementLoss, ElementOptions, ElementTargets, FocalError,
    Layout, Outputs, PosWeight, SoftmaxOptions, SoftmaxTargets,
};
use core::cell::UnsafeCell;
use core::mem::{offset_of, size_of};

/// Version of this boundary; the loader refuses a .wasm whose version differs from its own.
pub const ABI_VERSION: u32 = 3;

/// Bytes of the scratch area.
pub const SCRATCH_BYTES: usize = 1 << 18;

/// `flags` bit: Varifocal's `iou_weighted`.
pub const FLAG_IOU_WEIGHTED: u32 = 1;
/// `flags` bit: Asymmetric's `detach_focal_weight`.
pub const FLAG_DETACH_FOCAL_WEIGHT: u32 = 2;

/// Everything one kernel call needs, written by the engine at the start of the area it uses.
/// One layout for every kernel (a kernel ignores the fields that are not its own).
/// The field order is the layout: `ts/abi.ts` lists the same fields in the same order, and a test
/// compares its offsets with [`focal_header_layout`].
#[repr(C)]
pub struct CallHeader {
    /// N: images (channels-first), rows (channels-last), or the element count of dense
    /// element-wise targets without classes (then `classes` = `spatial` = 1).
    pub batch: u32,
    /// C.
    pub classes: u32,
    /// Positions per image (1 for channels-last rows).
    pub spatial: u32,
    /// The class index of items that count for nothing.
    pub ignore_index: i32,
    /// Address of the logits (the kernel's float type).
    pub logits: u32,
    /// Address of i32 class indices, one per item, or 0.
    pub target_indices: u32,
    /// Address of float targets in the logits' layout (softmax probabilities, element-wise
    /// targets), or 0. Exactly one of `target_indices` and `target_values` is set.
    pub target_values: u32,
    /// Softmax: address of one alpha per class, or 0 (then `alpha_scalar`). Element-wise: 0.
    pub alpha: u32,
    /// Element-wise focal loss: address of one positive weight per class, or 0 (then `pos_weight_scalar`).
    pub pos_weight: u32,
    /// Address of one weight per item (softmax; element-wise with class indices) or per element
    /// (element-wise with dense targets), or 0.
    pub weights: u32,
    /// Address for one loss per item (softmax) or per element (element-wise), or 0.
    pub loss_out: u32,
    /// Address for the gradient (the logits' layout), or 0.
    pub grad_out: u32,
    /// Element-wise: 0 focal, 1 quality, 2 varifocal, 3 asymmetric.
    pub loss_kind: u32,
    /// Element-wise: bit 0 `iou_weighted` (varifocal), bit 1 `detach_focal_weight` (asymmetric).
    pub flags: u32,
    /// Written by the kernel on failure: the position the error refers to.
    pub error_index: u32,
    /// 0 (keeps the f64 fields 8-byte aligned).
    pub reserved: u32,
    /// Softmax: every class's alpha when `alpha` is 0. Focal: α, or < 0 for no weighting.
    /// Varifocal: α.
    pub alpha_scalar: f64,
    /// γ (softmax, focal, varifocal); γ₊ (asymmetric).
    pub gamma: f64,
    /// γ₋ (asymmetric).
    pub gamma_neg: f64,
    /// β (quality).
    pub beta: f64,
    /// clip (asymmetric).
    pub clip: f64,
    /// Focal: every class's positive weight when `pos_weight` is 0; exactly 1 means none.
    pub pos_weight_scalar: f64,
    /// ε of Poly-1 (softmax, focal).
    pub poly_epsilon: f64,
    /// ε of label smoothing (softmax, focal).
    pub label_smoothing: f64,
    /// Multiplies every gradient entry.
    pub grad_scale: f64,
    /// Running sum of item losses (in and out).
    pub sum: f64,
    /// Element-wise: running sum of positives (in and out; see `ElementCounts::positives`).
    pub positives: f64,
}

/// `[size, offset of each field in declaration order]` of [`CallHeader`].
static HEADER_LAYOUT: [u32; 28] = [
    size_of::<CallHeader>() as u32,
    offset_of!(CallHeader, batch) as u32,
    offset_of!(CallHeader, classes) as u32,
    offset_of!(CallHeader, spatial) as u32,
    offset_of!(CallHeader, ignore_index) as u32,
    offset_of!(CallHeader, logits) as u32,
    offset_of!(CallHeader, target_indices) as u32,
    offset_of!(CallHeader, target_values) as u32,
    offset_of!(CallHeader, alpha) as u32,
    offset_of!(CallHeader, pos_weight) as u32,
    offset_of!(CallHeader, weights) as u32,
    offset_of!(CallHeader, loss_out) as u32,
    offset_of!(CallHeader, grad_out) as u32,
    offset_of!(CallHeader, loss_kind) as u32,
    offset_of!(CallHeader, flags) as u32,
    offset_of!(CallHeader, error_index) as u32,
    offset_of!(CallHeader, reserved) as u32,
    offset_of!(CallHeader, alpha_scalar) as u32,
    offset_of!(CallHeader, gamma) as u32,
    offset_of!(CallHeader, gamma_neg) as u32,
    offset_of!(CallHeader, beta) as u32,
    offset_of!(CallHeader, clip) as u32,
    offset_of!(CallHeader, pos_weight_scalar) as u32,
    offset_of!(CallHeader, poly_epsilon) as u32,
    offset_of!(CallHeader, label_smoothing) as u32,
    offset_of!(CallHeader, grad_scale) as u32,
    offset_of!(CallHeader, sum) as u32,
    offset_of!(CallHeader, positives) as u32,
];

#[repr(C, align(16))]
struct Scratch(UnsafeCell<[u8; SCRATCH_BYTES]>);

// SAFETY: wasm32-unknown-unknown is single-threaded here; the area is only touched through raw
// pointers handed to the host, never through Rust references that could alias.
unsafe impl Sync for Scratch {}

static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_BYTES]));

/// The ABI version of this build.
#[no_mangle]
pub extern "C" fn focal_abi_version() -> u32 {
    ABI_VERSION
}

/// 1 if this build runs its kernels with SIMD128 instructions (`focal_loss.wasm`), 0 if not
/// (`focal_loss.scalar.wasm`). Tests use it to tell the two .wasm files apart.
#[no_mangle]
pub extern "C" fn focal_simd128() -> u32 {
    crate::simd::HARDWARE_SIMD as u32
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

/// Address of [`CallHeader`]'s layout: its size, then each field's offset in declaration order.
#[no_mangle]
pub extern "C" fn focal_header_layout() -> *const u32 {
    HEADER_LAYOUT.as_ptr()
}

/// A shared slice at `addr`, or `None` for address 0; misaligned is an error.
unsafe fn slice<'a, T>(addr: u32, len: usize) -> Result<Option<&'a [T]>, FocalError> {
    match addr {
        0 => Ok(None),
        a if a as usize % core::mem::align_of::<T>() != 0 => Err(FocalError::InvalidArgument),
        a => Ok(Some(core::slice::from_raw_parts(a as usize as *const T, len))),
    }
}

unsafe fn slice_mut<'a, T>(addr: u32, len: usize) -> Result<Option<&'a mut [T]>, FocalError> {
    match addr {
        0 => Ok(None),
        a if a as usize % core::mem::align_of::<T>() != 0 => Err(FocalError::InvalidArgument),
        a => Ok(Some(core::slice::from_raw_parts_mut(a as usize as *mut T, len))),
    }
}

/// Runs `kernel` on the header at `header` and turns its result into a status code (the error's
/// position goes to `error_index`).
unsafe fn call(header: *mut CallHeader, kernel: impl FnOnce(&mut CallHeader) -> Result<(), FocalError>) -> i32 {
    if header.is_null() || header as usize % core::mem::align_of::<CallHeader>() != 0 {
        return FocalError::InvalidArgument.code();
    }
    let h = &mut *header;
    match kernel(h) {
        Ok(()) => 0,
        Err(e) => {
            h.error_index = e.index().unwrap_or(0) as u32;
            e.code()
        }
    }
}

macro_rules! kernels {
    ($t:ty, $softmax:ident, $elementwise:ident) => {
        /// Softmax focal loss over a `[batch, classes, spatial]` chunk described by the header.
        /// Exactly one of `target_indices` and `target_values` is set.
        ///
        /// # Safety
        /// `header` must point to a [`CallHeader`] whose addresses are valid for the lengths its
        /// layout implies, with output regions that do not overlap the inputs.
        #[no_mangle]
        pub unsafe extern "C" fn $softmax(header: *mut CallHeader) -> i32 {
            call(header, |h| {
                let layout = Layout::channels_first(h.batch as usize, h.classes as usize, h.spatial as usize);
                let (items, len) = (layout.items()?, layout.logits()?);
                let logits = slice::<$t>(h.logits, len)?.ok_or(FocalError::InvalidArgument)?;
                let targets = match (slice(h.target_indices, items)?, slice(h.target_values, len)?) {
                    (Some(t), None) => SoftmaxTargets::Indices(t),
                    (None, Some(q)) => SoftmaxTargets::Probabilities(q),
                    _ => return Err(FocalError::InvalidArgument),
                };
                let alpha = match slice(h.alpha, layout.classes)? {
                    Some(a) => Alpha::PerClass(a),
                    None => Alpha::Scalar(h.alpha_scalar as $t),
                };
                let opts = SoftmaxOptions {
                    gamma: h.gamma as $t,
                    alpha,
                    ignore_index: h.ignore_index,
                    label_smoothing: h.label_smoothing as $t,
                    poly_epsilon: h.poly_epsilon as $t,
                    weights: slice(h.weights, items)?,
                };
                let mut out = Outputs {
                    loss: slice_mut(h.loss_out, items)?,
                    grad: slice_mut(h.grad_out, len)?,
                    grad_scale: h.grad_scale,
                    sum: h.sum,
                };
                softmax_focal_accumulate(layout, logits, targets, &opts, &mut out)?;
                h.sum = out.sum;
                Ok(())
            })
        }

        /// An element-wise loss (`loss_kind`) over a `[batch, classes, spatial]` chunk described
        /// by the header: dense targets when `target_values` is set, class indices when
        /// `target_indices` is (exactly one of them). Adds to `sum` and `positives`.
        ///
        /// # Safety
        /// As for the softmax kernel, with every per-element array `batch·classes·spatial` long
        /// and every per-item array `batch·spatial` long.
        #[no_mangle]
        pub unsafe extern "C" fn $elementwise(header: *mut CallHeader) -> i32 {
            call(header, |h| {
                let layout = Layout::channels_first(h.batch as usize, h.classes as usize, h.spatial as usize);
                let (items, len) = (layout.items()?, layout.logits()?);
                let logits = slice::<$t>(h.logits, len)?.ok_or(FocalError::InvalidArgument)?;
                let (targets, weights_len) = match (slice(h.target_indices, items)?, slice(h.target_values, len)?) {
                    (Some(indices), None) => (
                        ElementTargets::Indices {
                            indices,
                            ignore_index: h.ignore_index,
                        },
                        items,
                    ),
                    (None, Some(y)) => (ElementTargets::Dense(y), len),
                    _ => return Err(FocalError::InvalidArgument),
                };
                if h.alpha != 0 || h.flags & !(FLAG_IOU_WEIGHTED | FLAG_DETACH_FOCAL_WEIGHT) != 0 {
                    return Err(FocalError::InvalidArgument);
                }
                // Each loss's `KIND` and `from_header` (crate::family).
                let params = HeaderParams {
                    alpha_scalar: h.alpha_scalar,
                    gamma: h.gamma,
                    gamma_neg: h.gamma_neg,
                    beta: h.beta,
                    clip: h.clip,
                    iou_weighted: h.flags & FLAG_IOU_WEIGHTED != 0,
                    detach_focal_weight: h.flags & FLAG_DETACH_FOCAL_WEIGHT != 0,
                };
                let Some(loss) = ElementLoss::<$t>::from_header(h.loss_kind, &params) else {
                    return Err(FocalError::InvalidArgument);
                };
                let pos_weight = match slice(h.pos_weight, layout.classes)? {
                    Some(pw) => PosWeight::PerClass(pw),
                    None if h.pos_weight_scalar == 1.0 => PosWeight::None,
                    None => PosWeight::Scalar(h.pos_weight_scalar as $t),
                };
                let opts = ElementOptions {
                    loss,
                    label_smoothing: h.label_smoothing as $t,
                    pos_weight,
                    poly_epsilon: h.poly_epsilon as $t,
                    weights: slice(h.weights, weights_len)?,
                };
                let mut out = Outputs {
                    loss: slice_mut(h.loss_out, len)?,
                    grad: slice_mut(h.grad_out, len)?,
                    grad_scale: h.grad_scale,
                    sum: h.sum,
                };
                let counts = elementwise_accumulate(layout, logits, targets, &opts, &mut out)?;
                h.sum = out.sum;
                h.positives += counts.positives;
                Ok(())
            })
        }
    };
}

kernels!(f32, focal_softmax_f32, focal_elementwise_f32);
kernels!(f64, focal_softmax_f64, focal_elementwise_f64);
