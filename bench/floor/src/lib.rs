//! The benchmark's floor: `x[i] ← exp(x[i])` in place with the focal-loss kernels' own vector
//! exp (`focal_loss::simd::exp`, SIMD128 in the wasm build) — one exp and one store per element
//! and nothing else. A focal-loss kernel needs at least one exp per logit, so this is the speed
//! it can at best approach. See README.md for the exports.

use core::cell::UnsafeCell;
use focal_loss::simd::{exp, F32x4, F64x2, Vector};

/// Bytes of the scratch area the host fills before calling `floor_f32` / `floor_f64`.
pub const SCRATCH_BYTES: usize = 1 << 18;

#[repr(C, align(16))]
struct Scratch(UnsafeCell<[u8; SCRATCH_BYTES]>);
// SAFETY: single-threaded wasm; the area is only touched through raw pointers.
unsafe impl Sync for Scratch {}
static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_BYTES]));

/// Address of the scratch area (16-byte aligned).
#[no_mangle]
pub extern "C" fn floor_scratch_ptr() -> *mut u8 {
    SCRATCH.0.get() as *mut u8
}

/// Size of the scratch area in bytes.
#[no_mangle]
pub extern "C" fn floor_scratch_len() -> u32 {
    SCRATCH_BYTES as u32
}

#[inline(always)]
fn exp_in_place<V: Vector + focal_loss::simd::VMath>(x: &mut [V::Scalar]) {
    let mut chunks = x.chunks_exact_mut(V::LANES);
    for c in &mut chunks {
        exp(V::load(c)).store(c);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut a = exp(V::splat(tail[0])).to_array();
        a.as_mut()[..tail.len()].copy_from_slice(tail);
        let e = exp(V::from_array(a)).to_array();
        tail.copy_from_slice(&e.as_ref()[..tail.len()]);
    }
}

/// `x[i] ← eˣ` for the `len` f32 values at `ptr`.
///
/// # Safety
/// `ptr` must be valid for `len` f32 reads and writes (4-byte aligned).
#[no_mangle]
pub unsafe extern "C" fn floor_f32(ptr: *mut f32, len: u32) {
    exp_in_place::<F32x4>(core::slice::from_raw_parts_mut(ptr, len as usize));
}

/// `x[i] ← eˣ` for the `len` f64 values at `ptr`.
///
/// # Safety
/// `ptr` must be valid for `len` f64 reads and writes (8-byte aligned).
#[no_mangle]
pub unsafe extern "C" fn floor_f64(ptr: *mut f64, len: u32) {
    exp_in_place::<F64x2>(core::slice::from_raw_parts_mut(ptr, len as usize));
}

#[cfg(test)]
mod tests {
    #[test]
    fn floor_is_exp() {
        let mut x: Vec<f32> = (0..11).map(|i| i as f32 * 0.7 - 3.0).collect();
        let want: Vec<f32> = x.iter().map(|v| v.exp()).collect();
        unsafe { super::floor_f32(x.as_mut_ptr(), x.len() as u32) };
        for (g, w) in x.iter().zip(&want) {
            assert!((g - w).abs() <= 2.0 * f32::EPSILON * w, "{g} vs {w}");
        }
        let mut y: Vec<f64> = (0..7).map(|i| i as f64 * 1.3 - 4.0).collect();
        let want: Vec<f64> = y.iter().map(|v| v.exp()).collect();
        unsafe { super::floor_f64(y.as_mut_ptr(), y.len() as u32) };
        for (g, w) in y.iter().zip(&want) {
            assert!((g - w).abs() <= 2.0 * f64::EPSILON * w, "{g} vs {w}");
        }
    }
}
