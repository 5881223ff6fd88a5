//! Short vectors — 4 × f32 or 2 × f64 — and the vectorised kernels built on them.
//!
//! One algorithm, two implementations of the lanes:
//! - `wasm.rs`: WebAssembly SIMD128 (`v128`) intrinsics, compiled when the target is wasm32 and
//!   the `simd128` target feature is on (the default `focal_loss.wasm`);
//! - `portable.rs`: plain arrays, used natively (`cargo test`) and by the scalar wasm build
//!   (`focal_loss.scalar.wasm`), where LLVM turns the lane loops into scalar code;
//! - `pair.rs`: two vectors as one, their operations interleaved ([`SimdReal::W`] with SIMD128,
//!   used by the element-wise kernels and the softmax items-in-lanes groups, `narrow.rs`).
//!
//! Both expose the same [`Vector`] operations, and the elementary functions (`math.rs`: exp, ln,
//! ln_1p) and kernels (`softmax.rs`, `elementwise.rs` with the loss modules' `lanes` in
//! `crate::family`) are written once over that trait, so the exact sequence of floating-point
//! operations — polynomials, lane masks, padded tails — that the SIMD build executes is the one
//! native tests check. Every lane is computed independently of the
//! others, so a result never depends on which lane (or which chunk) an item landed in.

use core::ops::{Add, Div, Mul, Neg, Sub};

pub(crate) mod elementwise;
mod group;
pub(crate) mod math;
pub(crate) mod narrow;
// Natively too under `cargo test`: narrow.rs's tests run the pairs against single vectors.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) mod pair;
pub(crate) mod softmax;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use wasm::{F32x4, F64x2};

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod portable;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub use portable::{F32x4, F64x2};

pub use math::VMath;

/// True when this build uses WebAssembly SIMD128 instructions (false natively and in the scalar build).
pub const HARDWARE_SIMD: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// A short vector of floats. Comparisons return lane masks (all bits set where true) of the same
/// type; the integer operations act on the lanes' bit patterns (`u32` / `u64`).
pub trait Vector:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// The lane type.
    type Scalar: Copy;
    /// `[Scalar; LANES]`.
    type Array: Copy + AsRef<[Self::Scalar]> + AsMut<[Self::Scalar]>;
    /// Per-lane running sums in f64 (for f32 lanes, two f64 vectors).
    type Acc: Copy;
    /// Number of lanes.
    const LANES: usize;
    /// Every lane `x`.
    fn splat(x: Self::Scalar) -> Self;
    /// Lanes from an array.
    fn from_array(a: Self::Array) -> Self;
    /// Lanes to an array.
    fn to_array(self) -> Self::Array;
    /// The first `LANES` values of `s` (unaligned).
    fn load(s: &[Self::Scalar]) -> Self;
    /// Stores the lanes into the first `LANES` values of `s`.
    fn store(self, s: &mut [Self::Scalar]);
    /// `self == o` per lane.
    fn eq(self, o: Self) -> Self;
    /// `self < o` per lane.
    fn lt(self, o: Self) -> Self;
    /// `self <= o` per lane.
    fn le(self, o: Self) -> Self;
    /// `self > o` per lane.
    fn gt(self, o: Self) -> Self;
    /// `self >= o` per lane.
    fn ge(self, o: Self) -> Self;
    /// `a` where `mask` is set, else `b` (bitwise).
    fn select(mask: Self, a: Self, b: Self) -> Self;
    /// Bitwise and.
    fn and(self, o: Self) -> Self;
    /// Bitwise or.
    fn or(self, o: Self) -> Self;
    /// True if any bit is set (any lane of a mask).
    fn any(self) -> bool;
    /// `if o < self { o } else { self }` per lane (WebAssembly's pmin).
    fn pmin(self, o: Self) -> Self;
    /// `if self < o { o } else { self }` per lane (WebAssembly's pmax).
    fn pmax(self, o: Self) -> Self;
    /// |x| (clears the sign bit).
    fn abs(self) -> Self;
    /// Every lane's bit pattern `b` (truncated to the lane width).
    fn splat_bits(b: u64) -> Self;
    /// Integer addition of the bit patterns.
    fn iadd(self, o: Self) -> Self;
    /// Integer subtraction of the bit patterns.
    fn isub(self, o: Self) -> Self;
    /// Integer equality of the bit patterns (a mask).
    fn ieq(self, o: Self) -> Self;
    /// Shift left of the bit patterns.
    fn shl(self, n: u32) -> Self;
    /// Arithmetic shift right of the bit patterns.
    fn shr_arith(self, n: u32) -> Self;
    /// Logical shift right of the bit patterns.
    fn shr_logical(self, n: u32) -> Self;
    /// Empty per-lane f64 sums.
    fn acc_zero() -> Self::Acc;
    /// Adds the lanes (widened to f64) to the per-lane sums.
    fn acc_add(acc: Self::Acc, v: Self) -> Self::Acc;
    /// Per-lane sum of two accumulators.
    fn acc_merge(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// The per-lane sums rounded to the lane type.
    fn acc_round(acc: Self::Acc) -> Self;
    /// The total of all lanes' sums, added in lane order.
    fn acc_total(acc: Self::Acc) -> f64;
}

/// The scalar types with a vector type: `f32` → [`F32x4`], `f64` → [`F64x2`].
pub trait SimdReal: Copy {
    /// The vector of this scalar.
    type V: VMath + Vector<Scalar = Self>;
    /// The element-wise kernels' (and `narrow.rs`'s) vector: with SIMD128, two `V` interleaved
    /// (`pair::Pair<V>`, the same operations per lane); in the scalar build `V` itself (the
    /// interleaving buys nothing there and would add a third to the fallback .wasm).
    type W: VMath + Vector<Scalar = Self> + narrow::RowBlock;
    /// The element-wise kernels' vector (the same operations per lane whichever it is): with
    /// SIMD128 for f64 four `V` interleaved (`Pair<Pair<V>>`: −20% time against a pair, +14 KB of
    /// .wasm), for f32 a pair (four: −10…−18%, but +15 KB more, over the package's budget of 40
    /// KiB gzipped per module); in the scalar build `V` itself.
    type E: VMath + Vector<Scalar = Self>;
    /// Adds the lanes of `w` to per-lane sums of `V`, in `V`'s lane order (element i to lane
    /// i mod V::LANES, elements in order): the same sums whichever `W` is.
    fn acc_add_w(acc: <Self::V as Vector>::Acc, w: Self::W) -> <Self::V as Vector>::Acc;
    /// [`SimdReal::acc_add_w`] for [`SimdReal::E`] (`pair::AddLanes`).
    fn acc_add_e(acc: <Self::V as Vector>::Acc, e: Self::E) -> <Self::V as Vector>::Acc;
}

macro_rules! simd_real {
    ($t:ty, $v:ty, $e:ty) => {
        impl SimdReal for $t {
            type V = $v;
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            type W = pair::Pair<$v>;
            #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
            type W = $v;
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            type E = $e;
            #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
            type E = $v;
            #[inline(always)]
            fn acc_add_w(acc: <$v as Vector>::Acc, w: Self::W) -> <$v as Vector>::Acc {
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                {
                    <$v>::acc_add(<$v>::acc_add(acc, w.0), w.1)
                }
                #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
                {
                    <$v>::acc_add(acc, w)
                }
            }
            #[inline(always)]
            fn acc_add_e(acc: <$v as Vector>::Acc, e: Self::E) -> <$v as Vector>::Acc {
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                {
                    pair::AddLanes::<$v>::add_lanes(e, acc)
                }
                #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
                {
                    <$v>::acc_add(acc, e)
                }
            }
        }
    };
}

simd_real!(f32, F32x4, pair::Pair<F32x4>);
simd_real!(f64, F64x2, pair::Pair<pair::Pair<F64x2>>);

/// eˣ per lane (see `math.rs` for the algorithm and its accuracy): the benchmark's floor kernel uses it.
#[cfg(feature = "bench-internals")]
pub use math::exp;

/// A vector of the first `n` (< LANES allowed) values of `s`, the other lanes `fill`.
#[inline(always)]
pub(crate) fn load_partial<V: Vector>(s: &[V::Scalar], n: usize, fill: V::Scalar) -> V {
    if n >= V::LANES {
        return V::load(s);
    }
    let mut a = V::splat(fill).to_array();
    a.as_mut()[..n].copy_from_slice(&s[..n]);
    V::from_array(a)
}

/// Stores the first `n` lanes of `v` into `s`.
#[inline(always)]
pub(crate) fn store_partial<V: Vector>(v: V, s: &mut [V::Scalar], n: usize) {
    if n >= V::LANES {
        v.store(s);
    } else {
        s[..n].copy_from_slice(&v.to_array().as_ref()[..n]);
    }
}
