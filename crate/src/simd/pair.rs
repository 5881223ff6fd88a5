//! Two vectors processed as one: `Pair<V>` applies every operation to both halves in turn, so
//! that a kernel written once over [`Vector`] / [`VMath`] evaluates two independent vectors with
//! their instructions interleaved (A's op, B's op, A's next op, …).
//!
//! Why: the element-wise kernel's per-vector work (exp, log1p, a division, the focal terms) is a
//! long dependency chain of a few hundred machine instructions, more than the CPU's out-of-order
//! window holds, so successive vectors of a plain loop hardly overlap and the loop runs at the
//! chain's latency. Interleaving two chains instruction by instruction puts both in the window
//! (WebAssembly engines compile a function's instructions largely in order).
//!
//! Every lane is still computed by the same operations as with `V`, so results are bit for bit
//! those of the single-vector kernel; only the lane count (2 × LANES) differs.

use super::{VMath, Vector};
use core::ops::{Add, Div, Mul, Neg, Sub};

/// Two vectors of lanes 0..LANES and LANES..2·LANES.
#[derive(Clone, Copy)]
pub struct Pair<V>(pub V, pub V);

macro_rules! binop {
    ($tr:ident, $f:ident) => {
        impl<V: Vector> $tr for Pair<V> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                Pair(self.0.$f(o.0), self.1.$f(o.1))
            }
        }
    };
}
binop!(Add, add);
binop!(Sub, sub);
binop!(Mul, mul);
binop!(Div, div);

impl<V: Vector> Neg for Pair<V> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Pair(-self.0, -self.1)
    }
}

macro_rules! pair {
    ($v:ty, $t:ty, $n:expr) => {
        impl Vector for Pair<$v> {
            type Scalar = $t;
            type Array = [$t; 2 * $n];
            type Acc = (<$v as Vector>::Acc, <$v as Vector>::Acc);
            const LANES: usize = 2 * $n;
            #[inline(always)]
            fn splat(x: $t) -> Self {
                Pair(<$v>::splat(x), <$v>::splat(x))
            }
            #[inline(always)]
            fn from_array(a: [$t; 2 * $n]) -> Self {
                Self::load(&a)
            }
            #[inline(always)]
            fn to_array(self) -> [$t; 2 * $n] {
                let mut a = [0.0; 2 * $n];
                self.store(&mut a);
                a
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                Pair(<$v>::load(s), <$v>::load(&s[$n..]))
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                self.0.store(s);
                self.1.store(&mut s[$n..]);
            }
            #[inline(always)]
            fn eq(self, o: Self) -> Self {
                Pair(self.0.eq(o.0), self.1.eq(o.1))
            }
            #[inline(always)]
            fn lt(self, o: Self) -> Self {
                Pair(self.0.lt(o.0), self.1.lt(o.1))
            }
            #[inline(always)]
            fn le(self, o: Self) -> Self {
                Pair(self.0.le(o.0), self.1.le(o.1))
            }
            #[inline(always)]
            fn gt(self, o: Self) -> Self {
                Pair(self.0.gt(o.0), self.1.gt(o.1))
            }
            #[inline(always)]
            fn ge(self, o: Self) -> Self {
                Pair(self.0.ge(o.0), self.1.ge(o.1))
            }
            #[inline(always)]
            fn select(mask: Self, a: Self, b: Self) -> Self {
                Pair(<$v>::select(mask.0, a.0, b.0), <$v>::select(mask.1, a.1, b.1))
            }
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                Pair(self.0.and(o.0), self.1.and(o.1))
            }
            #[inline(always)]
            fn or(self, o: Self) -> Self {
                Pair(self.0.or(o.0), self.1.or(o.1))
            }
            #[inline(always)]
            fn any(self) -> bool {
                self.0.or(self.1).any()
            }
            #[inline(always)]
            fn pmin(self, o: Self) -> Self {
                Pair(self.0.pmin(o.0), self.1.pmin(o.1))
            }
            #[inline(always)]
            fn pmax(self, o: Self) -> Self {
                Pair(self.0.pmax(o.0), self.1.pmax(o.1))
            }
            #[inline(always)]
            fn abs(self) -> Self {
                Pair(self.0.abs(), self.1.abs())
            }
            #[inline(always)]
            fn splat_bits(b: u64) -> Self {
                Pair(<$v>::splat_bits(b), <$v>::splat_bits(b))
            }
            #[inline(always)]
            fn iadd(self, o: Self) -> Self {
                Pair(self.0.iadd(o.0), self.1.iadd(o.1))
            }
            #[inline(always)]
            fn isub(self, o: Self) -> Self {
                Pair(self.0.isub(o.0), self.1.isub(o.1))
            }
            #[inline(always)]
            fn ieq(self, o: Self) -> Self {
                Pair(self.0.ieq(o.0), self.1.ieq(o.1))
            }
            #[inline(always)]
            fn shl(self, n: u32) -> Self {
                Pair(self.0.shl(n), self.1.shl(n))
            }
            #[inline(always)]
            fn shr_arith(self, n: u32) -> Self {
                Pair(self.0.shr_arith(n), self.1.shr_arith(n))
            }
            #[inline(always)]
            fn shr_logical(self, n: u32) -> Self {
                Pair(self.0.shr_logical(n), self.1.shr_logical(n))
            }
            #[inline(always)]
            fn acc_zero() -> Self::Acc {
                (<$v>::acc_zero(), <$v>::acc_zero())
            }
            #[inline(always)]
            fn acc_add(acc: Self::Acc, v: Self) -> Self::Acc {
                (<$v>::acc_add(acc.0, v.0), <$v>::acc_add(acc.1, v.1))
            }
            #[inline(always)]
            fn acc_merge(a: Self::Acc, b: Self::Acc) -> Self::Acc {
                (<$v>::acc_merge(a.0, b.0), <$v>::acc_merge(a.1, b.1))
            }
            #[inline(always)]
            fn acc_round(acc: Self::Acc) -> Self {
                Pair(<$v>::acc_round(acc.0), <$v>::acc_round(acc.1))
            }
            #[inline(always)]
            fn acc_total(acc: Self::Acc) -> f64 {
                <$v>::acc_total(acc.0) + <$v>::acc_total(acc.1)
            }
        }

        impl VMath for Pair<$v> {
            const SHIFTER_BITS: u64 = <$v as VMath>::SHIFTER_BITS;
            const MANT: u32 = <$v as VMath>::MANT;
            const BIAS: u64 = <$v as VMath>::BIAS;
            const EXP_LO: $t = <$v as VMath>::EXP_LO;
            const EXP_HI: $t = <$v as VMath>::EXP_HI;
            const ONE_MINUS_SQRTH_BITS: u64 = <$v as VMath>::ONE_MINUS_SQRTH_BITS;
            const SQRTH_BITS: u64 = <$v as VMath>::SQRTH_BITS;
            const MANT_MASK: u64 = <$v as VMath>::MANT_MASK;
            const TWO_P_BITS: u64 = <$v as VMath>::TWO_P_BITS;
            const SUB_SCALE_EXP: u32 = <$v as VMath>::SUB_SCALE_EXP;
            #[inline(always)]
            fn c(x: f64) -> Self {
                Pair(<$v>::c(x), <$v>::c(x))
            }
            #[inline(always)]
            fn exp_reduced(hi: Self, lo: Self) -> Self {
                Pair(<$v>::exp_reduced(hi.0, lo.0), <$v>::exp_reduced(hi.1, lo.1))
            }
            #[inline(always)]
            fn log_r(z: Self, w: Self) -> Self {
                Pair(<$v>::log_r(z.0, w.0), <$v>::log_r(z.1, w.1))
            }
            #[inline(always)]
            fn ln2_parts() -> (Self, Self) {
                let (h, l) = <$v>::ln2_parts();
                (Pair(h, h), Pair(l, l))
            }
            #[inline(always)]
            fn min_positive() -> Self {
                Pair(<$v>::min_positive(), <$v>::min_positive())
            }
        }
    };
}

pair!(super::F32x4, f32, 4);
pair!(super::F64x2, f64, 2);
// Four vectors (pairs of pairs): the element-wise kernels' `SimdReal::E`.
pair!(Pair<super::F32x4>, f32, 8);
pair!(Pair<super::F64x2>, f64, 4);

/// Adds a vector's lanes to per-lane sums of `V`, in `V`'s lane order (element i to lane
/// i mod V::LANES, elements in order): the same sums whether the lanes come as one `V`, a pair or
/// a pair of pairs. (Natively pair.rs is compiled for narrow.rs's tests only, which do not use it.)
#[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
pub trait AddLanes<V: Vector> {
    /// `acc` plus the lanes.
    fn add_lanes(self, acc: V::Acc) -> V::Acc;
}

macro_rules! add_lanes {
    ($v:ty) => {
        impl AddLanes<$v> for $v {
            #[inline(always)]
            fn add_lanes(self, acc: <$v as Vector>::Acc) -> <$v as Vector>::Acc {
                <$v>::acc_add(acc, self)
            }
        }
        impl AddLanes<$v> for Pair<$v> {
            #[inline(always)]
            fn add_lanes(self, acc: <$v as Vector>::Acc) -> <$v as Vector>::Acc {
                self.1.add_lanes(self.0.add_lanes(acc))
            }
        }
        impl AddLanes<$v> for Pair<Pair<$v>> {
            #[inline(always)]
            fn add_lanes(self, acc: <$v as Vector>::Acc) -> <$v as Vector>::Acc {
                self.1.add_lanes(self.0.add_lanes(acc))
            }
        }
    };
}
add_lanes!(super::F32x4);
add_lanes!(super::F64x2);
