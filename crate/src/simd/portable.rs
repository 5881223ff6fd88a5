//! The plain-array lanes: the same operations as `wasm.rs`, one lane at a time. Used natively and
//! in the scalar wasm build.

use super::Vector;
use core::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! portable {
    ($name:ident, $t:ty, $bits:ty, $n:expr, $acc:ty, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(C, align(16))]
        pub struct $name(pub [$t; $n]);

        impl $name {
            #[inline(always)]
            fn map(self, f: impl Fn($t) -> $t) -> Self {
                let mut r = self.0;
                for x in r.iter_mut() {
                    *x = f(*x);
                }
                $name(r)
            }
            #[inline(always)]
            fn zip(self, o: Self, f: impl Fn($t, $t) -> $t) -> Self {
                let mut r = self.0;
                for i in 0..$n {
                    r[i] = f(self.0[i], o.0[i]);
                }
                $name(r)
            }
            #[inline(always)]
            fn zip_bits(self, o: Self, f: impl Fn($bits, $bits) -> $bits) -> Self {
                self.zip(o, |a, b| <$t>::from_bits(f(a.to_bits(), b.to_bits())))
            }
            #[inline(always)]
            fn cmp(self, o: Self, f: impl Fn($t, $t) -> bool) -> Self {
                self.zip(o, |a, b| <$t>::from_bits(if f(a, b) { <$bits>::MAX } else { 0 }))
            }
        }

        impl Add for $name {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.zip(o, |a, b| a + b)
            }
        }
        impl Sub for $name {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.zip(o, |a, b| a - b)
            }
        }
        impl Mul for $name {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.zip(o, |a, b| a * b)
            }
        }
        impl Div for $name {
            type Output = Self;
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self.zip(o, |a, b| a / b)
            }
        }
        impl Neg for $name {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                self.map(|a| -a)
            }
        }

        impl Vector for $name {
            type Scalar = $t;
            type Array = [$t; $n];
            type Acc = $acc;
            const LANES: usize = $n;
            #[inline(always)]
            fn splat(x: $t) -> Self {
                $name([x; $n])
            }
            #[inline(always)]
            fn from_array(a: [$t; $n]) -> Self {
                $name(a)
            }
            #[inline(always)]
            fn to_array(self) -> [$t; $n] {
                self.0
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                let mut a = [0.0; $n];
                a.copy_from_slice(&s[..$n]);
                $name(a)
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[..$n].copy_from_slice(&self.0);
            }
            #[inline(always)]
            fn eq(self, o: Self) -> Self {
                self.cmp(o, |a, b| a == b)
            }
            #[inline(always)]
            fn lt(self, o: Self) -> Self {
                self.cmp(o, |a, b| a < b)
            }
            #[inline(always)]
            fn le(self, o: Self) -> Self {
                self.cmp(o, |a, b| a <= b)
            }
            #[inline(always)]
            fn gt(self, o: Self) -> Self {
                self.cmp(o, |a, b| a > b)
            }
            #[inline(always)]
            fn ge(self, o: Self) -> Self {
                self.cmp(o, |a, b| a >= b)
            }
            #[inline(always)]
            fn select(mask: Self, a: Self, b: Self) -> Self {
                let mut r = b.0;
                for i in 0..$n {
                    let m = mask.0[i].to_bits();
                    r[i] = <$t>::from_bits((a.0[i].to_bits() & m) | (b.0[i].to_bits() & !m));
                }
                $name(r)
            }
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                self.zip_bits(o, |a, b| a & b)
            }
            #[inline(always)]
            fn or(self, o: Self) -> Self {
                self.zip_bits(o, |a, b| a | b)
            }
            #[inline(always)]
            fn any(self) -> bool {
                self.0.iter().any(|x| x.to_bits() != 0)
            }
            #[inline(always)]
            fn pmin(self, o: Self) -> Self {
                self.zip(o, |a, b| if b < a { b } else { a })
            }
            #[inline(always)]
            fn pmax(self, o: Self) -> Self {
                self.zip(o, |a, b| if a < b { b } else { a })
            }
            #[inline(always)]
            fn abs(self) -> Self {
                self.map(|a| <$t>::from_bits(a.to_bits() & (<$bits>::MAX >> 1)))
            }
            #[inline(always)]
            fn splat_bits(b: u64) -> Self {
                $name([<$t>::from_bits(b as $bits); $n])
            }
            #[inline(always)]
            fn iadd(self, o: Self) -> Self {
                self.zip_bits(o, |a, b| a.wrapping_add(b))
            }
            #[inline(always)]
            fn isub(self, o: Self) -> Self {
                self.zip_bits(o, |a, b| a.wrapping_sub(b))
            }
            #[inline(always)]
            fn ieq(self, o: Self) -> Self {
                self.zip_bits(o, |a, b| if a == b { <$bits>::MAX } else { 0 })
            }
            #[inline(always)]
            fn shl(self, n: u32) -> Self {
                self.map(|a| <$t>::from_bits(a.to_bits() << n))
            }
            #[inline(always)]
            fn shr_arith(self, n: u32) -> Self {
                self.map(|a| <$t>::from_bits(((a.to_bits() as <$bits as Signed>::S) >> n) as $bits))
            }
            #[inline(always)]
            fn shr_logical(self, n: u32) -> Self {
                self.map(|a| <$t>::from_bits(a.to_bits() >> n))
            }
            #[inline(always)]
            fn acc_zero() -> $acc {
                [0.0; $n]
            }
            #[inline(always)]
            fn acc_add(mut acc: $acc, v: Self) -> $acc {
                for i in 0..$n {
                    acc[i] += v.0[i] as f64;
                }
                acc
            }
            #[inline(always)]
            fn acc_merge(mut a: $acc, b: $acc) -> $acc {
                for i in 0..$n {
                    a[i] += b[i];
                }
                a
            }
            #[inline(always)]
            fn acc_round(acc: $acc) -> Self {
                let mut r = [0.0; $n];
                for i in 0..$n {
                    r[i] = acc[i] as $t;
                }
                $name(r)
            }
            #[inline(always)]
            fn acc_total(acc: $acc) -> f64 {
                let mut s = 0.0;
                for i in 0..$n {
                    s += acc[i];
                }
                s
            }
        }
    };
}

/// The signed integer of the same width (for arithmetic shifts).
trait Signed {
    type S;
}
impl Signed for u32 {
    type S = i32;
}
impl Signed for u64 {
    type S = i64;
}

portable!(F32x4, f32, u32, 4, [f64; 4], "Four f32 lanes (plain array).");
portable!(F64x2, f64, u64, 2, [f64; 2], "Two f64 lanes (plain array).");
