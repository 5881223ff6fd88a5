//! The SIMD128 lanes: one `v128` per vector. Same operations, same results as `portable.rs`
//! (IEEE arithmetic is correctly rounded per lane either way; pmin/pmax and the comparisons have
//! the same NaN behaviour as their portable definitions).

use super::Vector;
use core::arch::wasm32::*;
use core::ops::{Add, Div, Mul, Neg, Sub};

/// Four f32 lanes in a `v128`.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct F32x4(pub v128);

/// Two f64 lanes in a `v128`.
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct F64x2(pub v128);

macro_rules! ops {
    ($name:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $neg:ident) => {
        impl Add for $name {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                $name($add(self.0, o.0))
            }
        }
        impl Sub for $name {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                $name($sub(self.0, o.0))
            }
        }
        impl Mul for $name {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                $name($mul(self.0, o.0))
            }
        }
        impl Div for $name {
            type Output = Self;
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                $name($div(self.0, o.0))
            }
        }
        impl Neg for $name {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                $name($neg(self.0))
            }
        }
    };
}

ops!(F32x4, f32x4_add, f32x4_sub, f32x4_mul, f32x4_div, f32x4_neg);
ops!(F64x2, f64x2_add, f64x2_sub, f64x2_mul, f64x2_div, f64x2_neg);

/// The operations whose intrinsics differ only by their lane-type prefix.
macro_rules! common {
    ($t:ty, $n:expr, $splat:ident, $eq:ident, $lt:ident, $le:ident, $gt:ident, $ge:ident, $pmin:ident,
     $pmax:ident, $abs:ident, $isplat:ident, $ity:ty, $iadd:ident, $isub:ident, $ieq:ident, $shl:ident,
     $shr:ident, $ushr:ident) => {
        type Scalar = $t;
        type Array = [$t; $n];
        const LANES: usize = $n;
        #[inline(always)]
        fn splat(x: $t) -> Self {
            Self($splat(x))
        }
        #[inline(always)]
        fn from_array(a: [$t; $n]) -> Self {
            Self::load(&a)
        }
        #[inline(always)]
        fn to_array(self) -> [$t; $n] {
            let mut a = [0.0; $n];
            self.store(&mut a);
            a
        }
        #[inline(always)]
        fn load(s: &[$t]) -> Self {
            assert!(s.len() >= $n);
            // SAFETY: at least LANES values are readable; v128_load allows any alignment.
            Self(unsafe { v128_load(s.as_ptr() as *const v128) })
        }
        #[inline(always)]
        fn store(self, s: &mut [$t]) {
            assert!(s.len() >= $n);
            // SAFETY: at least LANES values are writable; v128_store allows any alignment.
            unsafe { v128_store(s.as_mut_ptr() as *mut v128, self.0) }
        }
        #[inline(always)]
        fn eq(self, o: Self) -> Self {
            Self($eq(self.0, o.0))
        }
        #[inline(always)]
        fn lt(self, o: Self) -> Self {
            Self($lt(self.0, o.0))
        }
        #[inline(always)]
        fn le(self, o: Self) -> Self {
            Self($le(self.0, o.0))
        }
        #[inline(always)]
        fn gt(self, o: Self) -> Self {
            Self($gt(self.0, o.0))
        }
        #[inline(always)]
        fn ge(self, o: Self) -> Self {
            Self($ge(self.0, o.0))
        }
        #[inline(always)]
        fn select(mask: Self, a: Self, b: Self) -> Self {
            Self(v128_bitselect(a.0, b.0, mask.0))
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            Self(v128_and(self.0, o.0))
        }
        #[inline(always)]
        fn or(self, o: Self) -> Self {
            Self(v128_or(self.0, o.0))
        }
        #[inline(always)]
        fn any(self) -> bool {
            v128_any_true(self.0)
        }
        #[inline(always)]
        fn pmin(self, o: Self) -> Self {
            Self($pmin(self.0, o.0))
        }
        #[inline(always)]
        fn pmax(self, o: Self) -> Self {
            Self($pmax(self.0, o.0))
        }
        #[inline(always)]
        fn abs(self) -> Self {
            Self($abs(self.0))
        }
        #[inline(always)]
        fn splat_bits(b: u64) -> Self {
            Self($isplat(b as $ity))
        }
        #[inline(always)]
        fn iadd(self, o: Self) -> Self {
            Self($iadd(self.0, o.0))
        }
        #[inline(always)]
        fn isub(self, o: Self) -> Self {
            Self($isub(self.0, o.0))
        }
        #[inline(always)]
        fn ieq(self, o: Self) -> Self {
            Self($ieq(self.0, o.0))
        }
        #[inline(always)]
        fn shl(self, n: u32) -> Self {
            Self($shl(self.0, n))
        }
        #[inline(always)]
        fn shr_arith(self, n: u32) -> Self {
            Self($shr(self.0, n))
        }
        #[inline(always)]
        fn shr_logical(self, n: u32) -> Self {
            Self($ushr(self.0, n))
        }
    };
}

impl Vector for F32x4 {
    common!(
        f32,
        4,
        f32x4_splat,
        f32x4_eq,
        f32x4_lt,
        f32x4_le,
        f32x4_gt,
        f32x4_ge,
        f32x4_pmin,
        f32x4_pmax,
        f32x4_abs,
        i32x4_splat,
        i32,
        i32x4_add,
        i32x4_sub,
        i32x4_eq,
        i32x4_shl,
        i32x4_shr,
        u32x4_shr
    );
    /// Lanes 0–1 and 2–3, widened.
    type Acc = (v128, v128);
    #[inline(always)]
    fn acc_zero() -> (v128, v128) {
        (f64x2_splat(0.0), f64x2_splat(0.0))
    }
    #[inline(always)]
    fn acc_add(acc: (v128, v128), v: Self) -> (v128, v128) {
        let lo = f64x2_promote_low_f32x4(v.0);
        let hi = f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(v.0, v.0));
        (f64x2_add(acc.0, lo), f64x2_add(acc.1, hi))
    }
    #[inline(always)]
    fn acc_merge(a: (v128, v128), b: (v128, v128)) -> (v128, v128) {
        (f64x2_add(a.0, b.0), f64x2_add(a.1, b.1))
    }
    #[inline(always)]
    fn acc_round(acc: (v128, v128)) -> Self {
        let lo = f32x4_demote_f64x2_zero(acc.0);
        let hi = f32x4_demote_f64x2_zero(acc.1);
        Self(i32x4_shuffle::<0, 1, 4, 5>(lo, hi))
    }
    #[inline(always)]
    fn acc_total(acc: (v128, v128)) -> f64 {
        f64x2_extract_lane::<0>(acc.0)
            + f64x2_extract_lane::<1>(acc.0)
            + f64x2_extract_lane::<0>(acc.1)
            + f64x2_extract_lane::<1>(acc.1)
    }
}

impl Vector for F64x2 {
    common!(
        f64,
        2,
        f64x2_splat,
        f64x2_eq,
        f64x2_lt,
        f64x2_le,
        f64x2_gt,
        f64x2_ge,
        f64x2_pmin,
        f64x2_pmax,
        f64x2_abs,
        i64x2_splat,
        i64,
        i64x2_add,
        i64x2_sub,
        i64x2_eq,
        i64x2_shl,
        i64x2_shr,
        u64x2_shr
    );
    type Acc = v128;
    #[inline(always)]
    fn acc_zero() -> v128 {
        f64x2_splat(0.0)
    }
    #[inline(always)]
    fn acc_add(acc: v128, v: Self) -> v128 {
        f64x2_add(acc, v.0)
    }
    #[inline(always)]
    fn acc_merge(a: v128, b: v128) -> v128 {
        f64x2_add(a, b)
    }
    #[inline(always)]
    fn acc_round(acc: v128) -> Self {
        Self(acc)
    }
    #[inline(always)]
    fn acc_total(acc: v128) -> f64 {
        f64x2_extract_lane::<0>(acc) + f64x2_extract_lane::<1>(acc)
    }
}
