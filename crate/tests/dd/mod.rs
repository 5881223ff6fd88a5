//! Double-double arithmetic (about 106 bits, ~1e-32 relative) for high-precision references: the
//! tests evaluate the losses' plain definitions — naive formulas such as 1 − σ(x) by subtraction —
//! in this precision, from the exact (binary) inputs, and compare the kernels' stable f64/f32
//! evaluations with them.
//!
//! Algorithms: Dekker/Knuth error-free transformations (two-sum; two-product through a fused
//! multiply-add), exp by argument reduction (k·ln2, then 2^-4 and repeated squaring) and a Taylor
//! series, log by Newton's iteration on exp, log1p by its series for small arguments. The range is
//! f64's: values below the smallest normal lose their low part (the tests compare such values with
//! an absolute tolerance), and exp underflows to 0 below about −745.

#![allow(dead_code)]

use core::ops::{Add, Div, Mul, Neg, Sub};

/// hi + lo with |lo| ≤ ulp(hi)/2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DD {
    pub hi: f64,
    pub lo: f64,
}

#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

#[inline]
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

#[inline]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

impl DD {
    pub const ZERO: DD = DD { hi: 0.0, lo: 0.0 };
    pub const ONE: DD = DD { hi: 1.0, lo: 0.0 };
    /// ln 2 to ~1e-33.
    pub const LN2: DD = DD {
        hi: core::f64::consts::LN_2,
        lo: 2.319_046_813_846_299_6e-17,
    };

    pub fn new(x: f64) -> DD {
        DD { hi: x, lo: 0.0 }
    }

    pub fn to_f64(self) -> f64 {
        if self.hi.is_finite() {
            self.hi + self.lo
        } else {
            self.hi
        }
    }

    pub fn is_finite(self) -> bool {
        self.hi.is_finite()
    }

    pub fn abs(self) -> DD {
        if self.hi < 0.0 {
            -self
        } else {
            self
        }
    }

    fn renorm(hi: f64, lo: f64) -> DD {
        if !hi.is_finite() {
            return DD { hi, lo: 0.0 };
        }
        let (hi, lo) = quick_two_sum(hi, lo);
        DD { hi, lo }
    }

    /// x·2^k exactly (k within the exponent range).
    pub fn ldexp(self, k: i32) -> DD {
        let mut r = self;
        let mut k = k;
        while k > 0 {
            let step = k.min(1000);
            let f = 2f64.powi(step);
            r = DD {
                hi: r.hi * f,
                lo: r.lo * f,
            };
            k -= step;
        }
        while k < 0 {
            let step = (-k).min(1000);
            let f = 2f64.powi(-step);
            r = DD {
                hi: r.hi * f,
                lo: r.lo * f,
            };
            k += step;
        }
        r
    }

    pub fn recip(self) -> DD {
        DD::ONE / self
    }

    pub fn sqr(self) -> DD {
        self * self
    }

    /// e^x.
    pub fn exp(self) -> DD {
        if self.hi.is_nan() {
            return self;
        }
        if self.hi > 709.78 {
            return DD::new(f64::INFINITY);
        }
        if self.hi < -745.2 {
            return DD::ZERO;
        }
        let k = (self.hi / core::f64::consts::LN_2).round();
        let r = self - DD::LN2 * DD::new(k);
        // e^r = (e^(r/16))^16 (few squarings: each doubles the relative error).
        let r = r.ldexp(-4);
        let mut term = DD::ONE;
        let mut sum = DD::ONE;
        for n in 1..=30 {
            term = term * r / DD::new(n as f64);
            sum = sum + term;
            if term.hi.abs() < 1e-36 {
                break;
            }
        }
        for _ in 0..4 {
            sum = sum.sqr();
        }
        // 2^k in two steps, so that neither factor overflows or underflows on its own.
        let k = k as i32;
        let half = k / 2;
        sum.ldexp(half).ldexp(k - half)
    }

    /// ln x (x > 0; −∞ at 0).
    pub fn ln(self) -> DD {
        if self.hi == 0.0 {
            return DD::new(f64::NEG_INFINITY);
        }
        if self.hi.is_nan() || self.hi < 0.0 {
            return DD::new(f64::NAN);
        }
        if self.hi == f64::INFINITY {
            return self;
        }
        // Scale into [1, 2) so that exp(−y) stays in range, then Newton: y ← y + x·e^(−y) − 1.
        let e = self.hi.log2().floor() as i32;
        let m = self.ldexp(-e);
        let mut y = DD::new(m.hi.ln());
        for _ in 0..3 {
            y = y + m * (-y).exp() - DD::ONE;
        }
        y + DD::LN2 * DD::new(e as f64)
    }

    /// ln(1 + x) (x > −1), accurate relative to the result for tiny x.
    pub fn ln_1p(self) -> DD {
        if self.hi.abs() < 1e-3 {
            // x − x²/2 + x³/3 − …: 1e-3^12 < 1e-33.
            let mut pow = self;
            let mut sum = DD::ZERO;
            for n in 1..=14 {
                let t = pow / DD::new(n as f64);
                sum = if n % 2 == 1 { sum + t } else { sum - t };
                pow = pow * self;
            }
            sum
        } else {
            (DD::ONE + self).ln()
        }
    }

    /// x^y for x ≥ 0 (exp(y·ln x); 1 for y = 0; 0 for x = 0, also for y < 0, where the callers
    /// multiply by a factor that vanishes faster and want the product's limit 0).
    pub fn powf(self, y: f64) -> DD {
        if y == 0.0 {
            return DD::ONE;
        }
        if self.hi == 0.0 {
            return DD::ZERO;
        }
        if y == y.trunc() && y.abs() <= 16.0 {
            let mut r = DD::ONE;
            for _ in 0..(y.abs() as u32) {
                r = r * self;
            }
            return if y < 0.0 { r.recip() } else { r };
        }
        (DD::new(y) * self.ln()).exp()
    }

    /// σ(x) and 1 − σ(x), each from e = exp(−|x|) (no subtraction).
    pub fn sigmoid_pair(x: f64) -> (DD, DD) {
        let e = DD::new(-x.abs()).exp();
        let big = (DD::ONE + e).recip();
        let small = e * big;
        if x >= 0.0 {
            (big, small)
        } else {
            (small, big)
        }
    }

    /// softplus(x) = ln(1 + e^x) = max(x, 0) + ln(1 + e^(−|x|)).
    pub fn softplus(x: f64) -> DD {
        let e = DD::new(-x.abs()).exp();
        DD::new(x.max(0.0)) + e.ln_1p()
    }

    pub fn max(self, o: DD) -> DD {
        if self.hi > o.hi || (self.hi == o.hi && self.lo >= o.lo) {
            self
        } else {
            o
        }
    }
}

impl Add for DD {
    type Output = DD;
    fn add(self, o: DD) -> DD {
        if !self.hi.is_finite() || !o.hi.is_finite() {
            return DD::new(self.hi + o.hi);
        }
        let (s, e) = two_sum(self.hi, o.hi);
        let (t, f) = two_sum(self.lo, o.lo);
        let (s, e) = quick_two_sum(s, e + t);
        DD::renorm(s, e + f)
    }
}

impl Neg for DD {
    type Output = DD;
    fn neg(self) -> DD {
        DD {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

impl Sub for DD {
    type Output = DD;
    fn sub(self, o: DD) -> DD {
        self + (-o)
    }
}

impl Mul for DD {
    type Output = DD;
    fn mul(self, o: DD) -> DD {
        if !self.hi.is_finite() || !o.hi.is_finite() || self.hi == 0.0 || o.hi == 0.0 {
            return DD::new(self.hi * o.hi);
        }
        let (p, e) = two_prod(self.hi, o.hi);
        let e = e + (self.hi * o.lo + self.lo * o.hi);
        DD::renorm(p, e)
    }
}

impl Div for DD {
    type Output = DD;
    fn div(self, o: DD) -> DD {
        if !self.hi.is_finite() || !o.hi.is_finite() || o.hi == 0.0 || self.hi == 0.0 {
            return DD::new(self.hi / o.hi);
        }
        // Long division: q1 = a/b, r = a − q1·b, q2 = r/b, r −= q2·b, q3 = r/b.
        let q1 = self.hi / o.hi;
        let r = self - o * DD::new(q1);
        let q2 = r.hi / o.hi;
        let r = r - o * DD::new(q2);
        let q3 = r.hi / o.hi;
        let (q1, q2) = quick_two_sum(q1, q2);
        DD { hi: q1, lo: q2 } + DD::new(q3)
    }
}

/// Self-check against identities and f64's correctly rounded-ish functions.
pub fn self_test() {
    let close = |a: DD, b: f64, tol: f64, what: &str| {
        let d = (a.to_f64() - b).abs();
        assert!(d <= tol * b.abs().max(f64::MIN_POSITIVE), "{what}: {a:?} vs {b:e}");
    };
    for &x in &[-700.0, -30.0, -1.0, -1e-10, 0.0, 1e-10, 0.5, 1.0, 30.0, 700.0] {
        close(DD::new(x).exp(), f64::exp(x), 4e-16, "exp");
        if x.abs() > 600.0 {
            continue; // below ~1e-292 the low part is subnormal: fewer digits
        }
        // exp(ln(e^x)) round trip and exp(a)·exp(−a) = 1, to ~1e-30.
        let e = DD::new(x).exp();
        let back = e.ln();
        assert!((back - DD::new(x)).abs().hi <= 1e-29 * x.abs().max(1.0), "ln(exp({x}))");
        let one = e * DD::new(-x).exp();
        assert!((one - DD::ONE).abs().hi < 1e-30, "exp({x})·exp(−{x}) = {one:?}");
    }
    for &x in &[1e-300, 1e-20, 0.1, 0.9, 1.0, 2.0, 1e10, 1e300] {
        close(DD::new(x).ln(), f64::ln(x), 4e-16, "ln");
    }
    for &x in &[-0.5, -1e-5, 1e-30, 1e-9, 1e-4, 0.3, 5.0] {
        close(DD::new(x).ln_1p(), f64::ln_1p(x), 4e-16, "ln_1p");
    }
    // Consistency of the two ln_1p branches at the switch point, to ~1e-31.
    let a = DD::new(0.999e-3).ln_1p();
    let b = (DD::ONE + DD::new(0.999e-3)).ln();
    assert!((a - b).abs().hi < 1e-31 * 1e-3 * 1e3, "ln_1p branches: {a:?} vs {b:?}");
    // σ(x) + σ(−x) = 1.
    for &x in &[-40.0, -3.0, 0.25, 7.0, 60.0] {
        let (p, q) = DD::sigmoid_pair(x);
        assert!((p + q - DD::ONE).abs().hi < 1e-31, "σ pair at {x}");
    }
    // 1/3·3 = 1.
    let third = DD::ONE / DD::new(3.0);
    assert!((third * DD::new(3.0) - DD::ONE).abs().hi < 1e-31);
}
