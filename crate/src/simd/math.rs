//! exp, ln and ln_1p over [`Vector`] lanes, branch-free (special cases by lane masks).
//!
//! **exp.** x = n·ln2 + r with n = round(x/ln2), so |r| ≤ ln2/2 (+ an ulp). n is rounded with the
//! "shifter" trick: k = x·log2(e) + 1.5·2^p (p = 23 / 52 mantissa bits) leaves n in the low bits
//! of k's representation, so the integer n is `bits(k) − bits(1.5·2^p)` and the float n is
//! `k − 1.5·2^p`, with no float→int conversion (SIMD128 has none for f64). r = (x − n·ln2_hi) −
//! n·ln2_lo (Cody–Waite: ln2_hi has trailing zero bits so n·ln2_hi is exact). Then eˣ = e^r·2ⁿ,
//! with 2ⁿ applied as 2^(n>>1)·2^(n−(n>>1)) — two factors that are always normal — so results
//! in the subnormal range are rounded once, by the last multiplication, and x up to the overflow
//! threshold works. x is first clamped to [LO, HI], beyond which the result is 0 / ∞ anyway
//! (LO, HI: the clamped n keeps both half-exponents in range); ±∞ follow, NaN passes (pmin/pmax
//! keep a NaN first operand).
//! - f64: e^r by FreeBSD/musl `e_exp.c` (fdlibm, Sun Microsystems 1993): with c = r − r²·P(r²)
//!   (P a degree-4 Remez fit, error < 2^−59), e^r = 1 − ((lo − r·c/(2 − c)) − hi), keeping
//!   r = hi − lo in two parts. Under 1 ulp.
//! - f32: e^r by Cephes `expf.c` (S. Moshier): 1 + r + r²·P(r), P of degree 5. About 1 ulp.
//!
//! **ln.** As FreeBSD/musl `e_log.c` / `e_logf.c` (fdlibm): x = 2^k·(1 + f) with 1 + f in
//! [√2/2, √2) — obtained with integer operations on the bits (add 1.0 − √2/2 to the pattern, take
//! the exponent field as k, put the mantissa back on √2/2's exponent) — then with s = f/(2 + f),
//! ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²)), R a Remez fit (f64: 7 terms, |error| < 2^−58.45; f32:
//! 4 terms, < 2^−34.24), and ln x = k·ln2_hi + (that + k·ln2_lo). Subnormal x is scaled up by
//! 2^(p+2) first. k as a float comes from the exponent field through the magic-number trick
//! (bits(2^p) | field) − 2^p. Under 1 ulp.
//!
//! **ln_1p.** As FreeBSD/musl `s_log1p.c` / `s_log1pf.c`: u = fl(1 + x) is reduced as in ln, and
//! the rounding error of 1 + x is put back as c/u with c = (1 − (u − x)) for k ≥ 2, (x − (u − 1))
//! otherwise (exact by Sterbenz), and 0 once k ≥ p + 2 (x dwarfs 1). Where k = 0 the reduction is
//! skipped and f = x exactly, so ln_1p(x) ≈ x keeps full relative accuracy for tiny x.

// The coefficients are quoted digit for digit from their sources.
#![allow(clippy::excessive_precision)]

use super::Vector;

/// The per-type constants and polynomials of exp / ln / ln_1p.
pub trait VMath: Vector {
    /// Bits of 1.5·2^p (the rounding shifter).
    const SHIFTER_BITS: u64;
    /// Mantissa bits p.
    const MANT: u32;
    /// Exponent bias.
    const BIAS: u64;
    /// Clamp bounds for exp's argument.
    const EXP_LO: Self::Scalar;
    /// Upper clamp bound for exp's argument.
    const EXP_HI: Self::Scalar;
    /// Bits of 1.0 − bits of √2/2 (rounded down to its high part, as fdlibm).
    const ONE_MINUS_SQRTH_BITS: u64;
    /// Bits of √2/2 (high part, as fdlibm).
    const SQRTH_BITS: u64;
    /// The mantissa mask.
    const MANT_MASK: u64;
    /// Bits of 2^p (for the exponent-field-to-float trick).
    const TWO_P_BITS: u64;
    /// The scale applied to subnormal inputs of ln, as a power of two.
    const SUB_SCALE_EXP: u32;
    /// A scalar from an f64 constant.
    fn c(x: f64) -> Self;
    /// e^r for |r| ≲ ln2/2, given the Cody–Waite parts (r = hi − lo).
    fn exp_reduced(hi: Self, lo: Self) -> Self;
    /// R(z) with z = s², w = z².
    fn log_r(z: Self, w: Self) -> Self;
    /// ln2 split in a high part (with trailing zeros) and the rest.
    fn ln2_parts() -> (Self, Self);
    /// The smallest positive normal number.
    fn min_positive() -> Self;
}

impl VMath for super::F64x2 {
    const SHIFTER_BITS: u64 = 0x4338_0000_0000_0000; // 1.5·2^52
    const MANT: u32 = 52;
    const BIAS: u64 = 1023;
    const EXP_LO: f64 = -746.0;
    const EXP_HI: f64 = 710.0;
    const ONE_MINUS_SQRTH_BITS: u64 = 0x3ff0_0000_0000_0000 - 0x3fe6_a09e_0000_0000;
    const SQRTH_BITS: u64 = 0x3fe6_a09e_0000_0000;
    const MANT_MASK: u64 = 0x000f_ffff_ffff_ffff;
    const TWO_P_BITS: u64 = 0x4330_0000_0000_0000; // 2^52
    const SUB_SCALE_EXP: u32 = 54;
    #[inline(always)]
    fn c(x: f64) -> Self {
        Self::splat(x)
    }
    #[inline(always)]
    fn exp_reduced(hi: Self, lo: Self) -> Self {
        // fdlibm e_exp.c: P1..P5, |r − r²P(r²) − (r·(e^r + 1)/(e^r − 1) − 2)| < 2^−59.
        const P1: f64 = 1.66666666666666019037e-01;
        const P2: f64 = -2.77777777770155933842e-03;
        const P3: f64 = 6.61375632143793436117e-05;
        const P4: f64 = -1.65339022054652515390e-06;
        const P5: f64 = 4.13813679705723846039e-08;
        let c = Self::c;
        let r = hi - lo;
        let t = r * r;
        let cc = r - t * (c(P1) + t * (c(P2) + t * (c(P3) + t * (c(P4) + t * c(P5)))));
        c(1.0) - ((lo - (r * cc) / (c(2.0) - cc)) - hi)
    }
    #[inline(always)]
    fn log_r(z: Self, w: Self) -> Self {
        const LG1: f64 = 6.666666666666735130e-01;
        const LG2: f64 = 3.999999999940941908e-01;
        const LG3: f64 = 2.857142874366239149e-01;
        const LG4: f64 = 2.222219843214978396e-01;
        const LG5: f64 = 1.818357216161805012e-01;
        const LG6: f64 = 1.531383769920937332e-01;
        const LG7: f64 = 1.479819860511658591e-01;
        let c = Self::c;
        let t1 = w * (c(LG2) + w * (c(LG4) + w * c(LG6)));
        let t2 = z * (c(LG1) + w * (c(LG3) + w * (c(LG5) + w * c(LG7))));
        t2 + t1
    }
    #[inline(always)]
    fn ln2_parts() -> (Self, Self) {
        (Self::c(6.93147180369123816490e-01), Self::c(1.90821492927058770002e-10))
    }
    #[inline(always)]
    fn min_positive() -> Self {
        Self::c(f64::MIN_POSITIVE)
    }
}

impl VMath for super::F32x4 {
    const SHIFTER_BITS: u64 = 0x4b40_0000; // 1.5·2^23
    const MANT: u32 = 23;
    const BIAS: u64 = 127;
    const EXP_LO: f32 = -104.0;
    const EXP_HI: f32 = 89.0;
    const ONE_MINUS_SQRTH_BITS: u64 = 0x3f80_0000 - 0x3f35_04f3;
    const SQRTH_BITS: u64 = 0x3f35_04f3;
    const MANT_MASK: u64 = 0x007f_ffff;
    const TWO_P_BITS: u64 = 0x4b00_0000; // 2^23
    const SUB_SCALE_EXP: u32 = 25;
    #[inline(always)]
    fn c(x: f64) -> Self {
        Self::splat(x as f32)
    }
    #[inline(always)]
    fn exp_reduced(hi: Self, lo: Self) -> Self {
        // Cephes expf.c coefficients.
        let c = Self::c;
        let r = hi - lo;
        let p = ((((c(1.9875691500e-4) * r + c(1.3981999507e-3)) * r + c(8.3334519073e-3)) * r + c(4.1665795894e-2))
            * r
            + c(1.6666665459e-1))
            * r
            + c(5.0000001201e-1);
        p * (r * r) + r + c(1.0)
    }
    #[inline(always)]
    fn log_r(z: Self, w: Self) -> Self {
        // FreeBSD k_logf.h: |(log(1+s)-log(1-s))/s - Lg(s)| < 2**-34.24.
        let lg1 = Self::splat(f32::from_bits(0x3f2a_aaaa)); // 0xaaaaaa.0p-24 = 0.66666662693
        let lg2 = Self::splat(f32::from_bits(0x3ecc_ce13)); // 0xccce13.0p-25 = 0.40000972152
        let lg3 = Self::splat(f32::from_bits(0x3e91_e9ee)); // 0x91e9ee.0p-25 = 0.28498786688
        let lg4 = Self::splat(f32::from_bits(0x3e78_9e26)); // 0xf89e26.0p-26 = 0.24279078841
        let t1 = w * (lg2 + w * lg4);
        let t2 = z * (lg1 + w * lg3);
        t2 + t1
    }
    #[inline(always)]
    fn ln2_parts() -> (Self, Self) {
        (Self::c(6.9313812256e-01), Self::c(9.0580006145e-06))
    }
    #[inline(always)]
    fn min_positive() -> Self {
        Self::splat(f32::MIN_POSITIVE)
    }
}

/// The focal factor m^γ of a kernel call, for m ∈ [0, 1] given with its logarithm.
///
/// γ = 0 gives 1. For γ = n ∈ {1, …, 5} (γ = 2 is the default) m^n is formed by n − 1
/// multiplications of the stable m: each product is rounded once, so the result is within ~n ulps
/// of the exact power (more accurate than exp(γ·log m), whose argument's rounding error is
/// amplified by |γ·log m|), and it costs no transcendental. That holds while m is a normal number;
/// lanes where m is 0 or subnormal (or any other γ) take exp(γ · log m), with log m from the
/// caller's stable formula (finite even when m underflows).
#[derive(Clone, Copy)]
pub(crate) struct FocalPow<V> {
    gamma: V,
    zero: bool,
    int: u32,
}

impl<V: VMath> FocalPow<V> {
    /// For the focusing parameter γ (≥ 0).
    #[inline(always)]
    pub(crate) fn new(gamma: V::Scalar, gamma_f64: f64) -> Self {
        let int = if gamma_f64 == gamma_f64.trunc() && (1.0..=5.0).contains(&gamma_f64) {
            gamma_f64 as u32
        } else {
            0
        };
        FocalPow {
            gamma: V::splat(gamma),
            zero: gamma_f64 == 0.0,
            int,
        }
    }

    /// γ in every lane.
    #[inline(always)]
    pub(crate) fn gamma(&self) -> V {
        self.gamma
    }

    /// True when γ = 0.
    #[inline(always)]
    pub(crate) fn is_zero(&self) -> bool {
        self.zero
    }

    /// m^γ per lane; `log_m` (evaluated only when some lane needs it) gives log m.
    #[inline(always)]
    pub(crate) fn pow(&self, m: V, log_m: impl FnOnce() -> V) -> V {
        self.pow_with(m, log_m, exp)
    }

    /// [`FocalPow::pow`] with the exponential `exp_fn` (an out-of-line one keeps a kernel that
    /// needs several powers small).
    #[inline(always)]
    pub(crate) fn pow_with(&self, m: V, log_m: impl FnOnce() -> V, exp_fn: impl FnOnce(V) -> V) -> V {
        if self.zero {
            return V::c(1.0);
        }
        if self.int == 1 {
            return m; // exact, subnormal or not
        }
        // m·m·…·m (n factors, n − 1 roundings); a loop rather than one arm per n keeps the code small.
        let mut product = m;
        for _ in 1..self.int {
            product = product * m;
        }
        // Lanes with m < the smallest normal (0 and subnormals; NaN compares false and stays NaN)
        // take the exp form, as every lane does for other γ: one call site, so one inlined exp.
        let tiny = m.lt(V::min_positive());
        if self.int != 0 && !tiny.any() {
            return product;
        }
        let by_exp = exp_fn(self.gamma * log_m());
        if self.int == 0 {
            by_exp
        } else {
            V::select(tiny, by_exp, product)
        }
    }
}

/// Poly-1 with ε < 0 where 1 − p is small: the forms of the loss and gradient brackets that do not
/// subtract rounded values (the scalar [`poly_small`] and the lane `poly_small_v`: the same
/// sequence of operations, so the lanes of every build and the scalar code get the same bits).
///
/// With m = 1 − p, L = −log p = −log(1 − m), a the weight of the focal term and ε the Poly-1
/// coefficient, the loss of a class (or a hard sigmoid element) is m^γ·K and the ∂/∂log p factor of
/// its gradient is −m^γ·B, where
///
///   K = a·L + ε·m,                  B = a·(1 + γ·p·r) + ε·(γ + 1)·p,   p·r = p·L/m.
///
/// For ε ≈ −a and small m both cancel: K ≈ (a + ε)·m + a·m²/2, B → (a + ε)(γ + 1) + O(m), and with
/// a rounded L the leading m of a·L and ε·m does not cancel exactly (Poly-1 ε = −1 at p = 1 − 2e-9:
/// K = m²/2 ≈ 2e-18 from terms ≈ 2e-9 in float32). The Taylor series of L in m,
///
///   L = Σ_{n≥1} mⁿ/n,   so   φ(m) = L − m = Σ_{n≥2} mⁿ/n = m²·Φ(m),   Φ(m) = Σ_{j≥0} m^j/(j + 2),
///   p·r = (1 − m)·L/m = 1 − Σ_{n≥1} mⁿ/(n(n + 1)) = 1 − m·X(m),   X(m) = Σ_{j≥0} m^j/((j + 1)(j + 2))
///
/// (the coefficient of mⁿ in (1 − m)·L/m is 1/(n + 1) − 1/n = −1/(n(n + 1))), give
///
///   K = (a + ε)·m + a·m²·Φ(m),
///   B = (a + ε)(γ + 1)·p + a·m·((γ + 1) − γ·X(m))      (p = 1 − m),
///
/// where for a + ε ≥ 0 every term is non-negative (X ≤ 1 for m ≤ 1), so K and B keep the relative
/// accuracy of m, p and a + ε: no cancellation is left. (For a + ε < 0 the loss is negative for
/// confident predictions and crosses 0; there the error is relative to the terms' size.)
///
/// The series are used for m ≤ [`POLY_SERIES_MAX`] = 1/16, truncated after 12 terms for float64 (the
/// first omitted term is below (1/16)^12/14 of the sum's first, relative 3e-16) and 7 for float32
/// (relative 8e-10). Above 1/16 the direct
/// forms cancel at most by L/φ(m) ≤ 32 (K) and (γ + 1)/(m(1 + γ/2)) ≤ 32 (B with ε = −a): a few
/// units of 32·u, within both dtypes' tolerance.
pub(crate) const POLY_SERIES_MAX: f64 = 0.0625;

/// Φ(m) = Σ m^j/(j + 2), j = 0..12 (see [`POLY_SERIES_MAX`]).
const LOG_EXCESS: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 3.0,
    1.0 / 4.0,
    1.0 / 5.0,
    1.0 / 6.0,
    1.0 / 7.0,
    1.0 / 8.0,
    1.0 / 9.0,
    1.0 / 10.0,
    1.0 / 11.0,
    1.0 / 12.0,
    1.0 / 13.0,
];

/// X(m) = Σ m^j/((j + 1)(j + 2)), j = 0..12 (see [`POLY_SERIES_MAX`]).
const PR_DEFICIT: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 12.0,
    1.0 / 20.0,
    1.0 / 30.0,
    1.0 / 42.0,
    1.0 / 56.0,
    1.0 / 72.0,
    1.0 / 90.0,
    1.0 / 110.0,
    1.0 / 132.0,
    1.0 / 156.0,
];

/// Terms of the series: 12 for float64, 7 for float32, whose first omitted term at m = 1/16 is
/// below 2^-28/9 of the sum's first (the same count for a type's scalar and lane code).
#[inline(always)]
const fn series_terms(float32: bool) -> usize {
    if float32 {
        7
    } else {
        12
    }
}

/// (K, B) of [`POLY_SERIES_MAX`] by the series, for m ≤ 1/16: m = 1 − p and p both stable, a the
/// focal term's weight, `eps` = ε, `g1` = γ + 1. Out of line: only Poly-1 with ε < 0 calls it, and
/// a copy at each call site would cost .wasm size (the package's budget).
#[inline(never)]
pub(crate) fn poly_small<T: crate::real::Real>(m: T, p: T, a: T, eps: T, gamma: T, g1: T) -> (T, T) {
    let n = series_terms(core::mem::size_of::<T>() == 4);
    let mut phi = T::from_f64(LOG_EXCESS[n - 1]);
    let mut x = T::from_f64(PR_DEFICIT[n - 1]);
    for j in (0..n - 1).rev() {
        phi = phi * m + T::from_f64(LOG_EXCESS[j]);
        x = x * m + T::from_f64(PR_DEFICIT[j]);
    }
    let a_eps = a + eps;
    let k = a_eps * m + a * (m * m * phi);
    let b = a_eps * g1 * p + a * m * (g1 - gamma * x);
    (k, b)
}

/// [`poly_small`] per lane (the same operations in the same order).
#[inline(always)]
fn poly_small_v<V: VMath>(m: V, p: V, a: V, eps: V, gamma: V, g1: V) -> (V, V) {
    let n = series_terms(V::MANT < 32);
    let mut phi = V::c(LOG_EXCESS[n - 1]);
    let mut x = V::c(PR_DEFICIT[n - 1]);
    for j in (0..n - 1).rev() {
        phi = phi * m + V::c(LOG_EXCESS[j]);
        x = x * m + V::c(PR_DEFICIT[j]);
    }
    let a_eps = a + eps;
    let k = a_eps * m + a * (m * m * phi);
    let b = a_eps * g1 * p + a * m * (g1 - gamma * x);
    (k, b)
}

/// The lanes of a Poly-1 term that take the series: (mask of the lanes with ε < 0 and
/// m ≤ 1/16, focal·K, focal·B) from m = 1 − p, p, a, ε, γ and focal = m^γ; the mask is all false
/// (and nothing else computed) when no lane needs it. Out of line and called without a branch of
/// its own: the kernels that call it are inlined at many sites, where a copy of the series, or a
/// loop specialised on one more condition, would cost .wasm size (the package's budget).
#[inline(never)]
pub(crate) fn poly_series<V: VMath>(m: V, p: V, a: V, eps: V, gamma: V, focal: V) -> (V, V, V) {
    let series = m.le(V::c(POLY_SERIES_MAX)).and(eps.lt(V::c(0.0)));
    if !series.any() {
        return (series, m, m);
    }
    let (k, b) = poly_small_v(m, p, a, eps, gamma, V::c(1.0) + gamma);
    (series, focal * k, focal * b)
}

/// eˣ per lane.
#[inline(always)]
pub fn exp<V: VMath>(x: V) -> V {
    let xc = x.pmax(V::splat(V::EXP_LO)).pmin(V::splat(V::EXP_HI));
    let shifter = V::splat_bits(V::SHIFTER_BITS);
    let k = xc * V::c(core::f64::consts::LOG2_E) + shifter;
    let n = k - shifter; // round(x·log2 e), as a float
    let (ln2_hi, ln2_lo) = V::ln2_parts();
    let hi = xc - n * ln2_hi;
    let lo = n * ln2_lo;
    let p = V::exp_reduced(hi, lo);
    // n as an integer in the lanes, split in two halves that are each a normal power of two.
    let ni = k.isub(shifter);
    let n1 = ni.shr_arith(1);
    let n2 = ni.isub(n1);
    let bias = V::splat_bits(V::BIAS);
    let s1 = n1.iadd(bias).shl(V::MANT);
    let s2 = n2.iadd(bias).shl(V::MANT);
    p * s1 * s2
}

/// eˣ per lane for x ≤ 0 or NaN (the element-wise kernels' e = exp(−|x|)), in fewer operations
/// than [`exp`]: for f64 the same bits as exp there; for f32 e^r by a polynomial one degree
/// shorter (as accurate after rounding: ≤ 0.81 ulp). No upper clamp (x ≤ 0), and 2ⁿ (n ∈ [−1076, 0] for f64,
/// [−150, 0] for f32) applied as 2^(n+K)·2^(−K) with K = SUB_SCALE_EXP + 2 (56 / 27): p·2^(n+K)
/// is exact (p ∈ [½, 2), so the product is a normal number whatever n), so the second product is
/// the only rounding — round(p·2ⁿ), as exp's two half-exponent factors give it. And n + K + bias
/// comes from k's bits by one integer addition (k = x·log2 e + 1.5·2^p holds n in its low bits).
#[inline(always)]
pub fn exp_nonpos<V: VMath>(x: V) -> V {
    let xc = x.pmax(V::splat(V::EXP_LO));
    let shifter = V::splat_bits(V::SHIFTER_BITS);
    let k = xc * V::c(core::f64::consts::LOG2_E) + shifter;
    let n = k - shifter;
    let (ln2_hi, ln2_lo) = V::ln2_parts();
    let hi = xc - n * ln2_hi;
    let lo = n * ln2_lo;
    let p = if V::MANT == 23 {
        // float32: e^r = 1 + r + r²·P(r), P of degree 4 fitted (relative) to (e^r − 1 − r)/r² on
        // |r| ≤ ln2/2: |error| < 3.1e-9 (0.05 ulp; Cephes' degree 5 is 50× more accurate than a
        // float32 result can be). Within 0.81 ulp after rounding, as the degree-5 form.
        let c = V::c;
        let r = hi - lo;
        let p = (((c(0.0013814594) * r + c(0.0083687175)) * r + c(0.04166839)) * r + c(0.16666521)) * r + c(0.49999994);
        p * (r * r) + r + c(1.0)
    } else {
        V::exp_reduced(hi, lo)
    };
    let k_exp = (V::SUB_SCALE_EXP + 2) as u64;
    // bits(k) − bits(shifter) = n; + bias + K, wrapping in the lane width (shl drops the carry).
    let offset = (V::BIAS + k_exp).wrapping_sub(V::SHIFTER_BITS);
    let scale_up = k.iadd(V::splat_bits(offset)).shl(V::MANT);
    let scale_down = V::splat_bits((V::BIAS - k_exp) << V::MANT);
    p * scale_up * scale_down
}

/// 2^k·(1 + f) = u with 1 + f ∈ [√2/2, √2): returns (f, k as a float), `k_adjust` subtracted from k.
#[inline(always)]
fn reduce<V: VMath>(u: V, k_adjust: V) -> (V, V) {
    let ib = u.iadd(V::splat_bits(V::ONE_MINUS_SQRTH_BITS));
    let field = ib.shr_logical(V::MANT);
    let two_p = V::splat_bits(V::TWO_P_BITS);
    let k = (field.or(two_p) - two_p) - (V::c(V::BIAS as f64) + k_adjust);
    let m = ib.and(V::splat_bits(V::MANT_MASK)).iadd(V::splat_bits(V::SQRTH_BITS));
    (m - V::c(1.0), k)
}

/// k·ln2_hi + (ln(1 + f) − f + k·ln2_lo + c) + f, with ln(1 + f) − f = s·(f²/2 + R) − f²/2.
#[inline(always)]
fn log_tail<V: VMath>(f: V, k: V, c: V) -> V {
    let s = f / (V::c(2.0) + f);
    let z = s * s;
    let w = z * z;
    let r = V::log_r(z, w);
    let hfsq = V::c(0.5) * f * f;
    let (ln2_hi, ln2_lo) = V::ln2_parts();
    s * (hfsq + r) + (k * ln2_lo + c) - hfsq + f + k * ln2_hi
}

/// ln x per lane: −∞ at 0, NaN below 0 or at NaN, +∞ at +∞ (exp, the per-logit function, is
/// always inlined; ln and ln_1p, used a few times per item, are not in the scalar build).
// Inlined into the kernels with SIMD128; out of line in the scalar wasm build and natively, where
// a call per vector costs little next to the function and keeps the fallback .wasm small.
#[cfg_attr(all(target_arch = "wasm32", target_feature = "simd128"), inline(always))]
#[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), inline(never))]
pub fn ln<V: VMath>(x: V) -> V {
    let zero = V::c(0.0);
    let sub = x.lt(V::min_positive());
    let scale = V::splat_bits((V::BIAS + V::SUB_SCALE_EXP as u64) << V::MANT);
    let xs = V::select(sub, x * scale, x);
    let k_adjust = V::select(sub, V::c(V::SUB_SCALE_EXP as f64), zero);
    let (f, k) = reduce(xs, k_adjust);
    let r = log_tail(f, k, zero);
    let inf = V::c(f64::INFINITY);
    let r = V::select(x.eq(inf), inf, r);
    let r = V::select(x.eq(zero), -inf, r);
    V::select(x.ge(zero), r, V::c(f64::NAN))
}

/// ln(1 + x) per lane: −∞ at −1, NaN below −1 or at NaN, +∞ at +∞.
// Inlined into the kernels with SIMD128; out of line in the scalar wasm build and natively, where
// a call per vector costs little next to the function and keeps the fallback .wasm small.
#[cfg_attr(all(target_arch = "wasm32", target_feature = "simd128"), inline(always))]
#[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), inline(never))]
pub fn ln_1p<V: VMath>(x: V) -> V {
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let u = one + x;
    let (f_u, k) = reduce(u, zero);
    // The rounding error of u = fl(1 + x), divided by u (first-order correction of ln u).
    let c = V::select(k.ge(V::c(2.0)), one - (u - x), x - (u - one)) / u;
    let c = V::select(k.lt(V::c(V::MANT as f64 + 2.0)), c, zero);
    let k0 = k.eq(zero);
    let f = V::select(k0, x, f_u);
    let c = V::select(k0, zero, c);
    let r = log_tail(f, k, c);
    let inf = V::c(f64::INFINITY);
    let r = V::select(x.eq(inf), inf, r);
    let r = V::select(x.eq(-one), -inf, r);
    V::select(x.ge(-one), r, V::c(f64::NAN))
}

/// ln(1 + x) for x ∈ [0, 1] or NaN (the element-wise kernels' e = exp(−|x|)), given
/// `inv_u` = 1/(1 + x): ln_1p's algorithm with its special cases dropped (there u = fl(1 + x) is in
/// [1, 2], so k ∈ {0, 1}: no −1, no ∞, no k ≥ 2) and the rounding error of u divided by u as a
/// product with `inv_u` (a correction of ~1 ulp of u, so its own last bit does not matter).
/// NaN gives NaN.
///
/// With k ∈ {0, 1} the reduction needs no bit arithmetic: k = 1 exactly where u ≥ √2 (the high
/// part fdlibm's reduction compares against: bits(u) + (1 − √2/2) carries into the exponent),
/// and there 1 + f = u/2 exactly (f = u·½ − 1, exact by Sterbenz); k·ln2_hi and k·ln2_lo are the
/// constants masked by k = 1. The same operations on the same values as the general reduction and
/// `log_tail`, so the same bits (the tests compare them).
#[inline(always)]
pub fn ln_1p_unit<V: VMath>(x: V, inv_u: V) -> V {
    if V::MANT == 23 {
        return ln_1p_unit_f32(x);
    }
    let one = V::c(1.0);
    let u = one + x;
    let k1 = u.ge(V::splat_bits(V::SQRTH_BITS + (1 << V::MANT)));
    // k = 0: f = x exactly, no correction; k = 1: c = (x − (u − 1))/u (exact by Sterbenz).
    let f = V::select(k1, u * V::c(0.5) - one, x);
    let c = ((x - (u - one)) * inv_u).and(k1);
    // log_tail(f, k, c) with k·ln2 as masks (NaN: f = x, so r is NaN).
    let s = f / (V::c(2.0) + f);
    let z = s * s;
    let w = z * z;
    let r = V::log_r(z, w);
    let hfsq = V::c(0.5) * f * f;
    let (ln2_hi, ln2_lo) = V::ln2_parts();
    s * (hfsq + r) + (ln2_lo.and(k1) + c) - hfsq + f + ln2_hi.and(k1)
}

/// [`ln_1p_unit`] for float32 lanes: fdlibm's ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²)),
/// s = f/(2 + f), applied to f = x itself, without the reduction to [√2/2 − 1, √2 − 1]: for
/// x ∈ [0, 1] s ≤ 1/3, so z = s² ≤ 1/9, and R(z) = z·Q(z) with Q of degree 3 fitted (relative) to
/// (ln(1 + f) − 2s)/(s·z) there, |error| < 4.5e-9 of the result. No rounding of 1 + x is involved
/// (f is x, exact), so no correction term either. Within 1.19 ulp of ln(1 + x) on [0, 1] (a dense
/// sweep, rounded as the lanes round); the general reduction gives ≤ 0.9 ulp with 11 more
/// operations. NaN gives NaN.
#[inline(always)]
fn ln_1p_unit_f32<V: VMath>(x: V) -> V {
    let c = V::c;
    let s = x / (c(2.0) + x);
    let z = s * s;
    let r = z * (((c(0.28012013) * z + c(0.28001797)) * z + c(0.40021527)) * z + c(0.6666642));
    let hfsq = c(0.5) * x * x;
    s * (hfsq + r) - hfsq + x
}

#[cfg(test)]
mod tests {
    use super::super::{F32x4, F64x2, Vector};
    use super::{exp, exp_nonpos, ln, ln_1p, ln_1p_unit, log_tail, reduce, VMath};

    /// Distance in ulps between two values of the same sign class (0 when both NaN or equal).
    fn ulps64(a: f64, b: f64) -> f64 {
        if a.is_nan() && b.is_nan() || a == b {
            return 0.0;
        }
        if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
            return f64::INFINITY;
        }
        let ulp = (b.abs().max(f64::MIN_POSITIVE) * f64::EPSILON).max(f64::from_bits(1));
        ((a - b) / ulp).abs()
    }

    fn ulps32(a: f32, b: f32) -> f64 {
        if a.is_nan() && b.is_nan() || a == b {
            return 0.0;
        }
        if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
            return f64::INFINITY;
        }
        // The reference in f64 (std's f32 functions are themselves only ~1 ulp).
        let ulp = (b.abs().max(f32::MIN_POSITIVE) * f32::EPSILON).max(f32::from_bits(1)) as f64;
        ((a as f64 - b as f64) / ulp).abs()
    }

    /// A sweep: a log-spaced grid of both signs plus the special values and boundaries.
    fn sweep64(extra: &[f64]) -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::from_bits(1),
            1.0,
            -1.0,
            0.5,
            -0.5,
            2.0,
            f64::EPSILON,
            -f64::EPSILON,
        ];
        let mut x = 1e-310f64;
        while x < 1e308 {
            v.push(x);
            v.push(-x);
            x *= 1.0137;
        }
        // Dense in the interesting range.
        for i in -200_000..200_000 {
            v.push(i as f64 * 0.003_771);
        }
        v.extend_from_slice(extra);
        v
    }

    fn sweep32(extra: &[f32]) -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            f32::from_bits(1),
            1.0,
            -1.0,
            0.5,
            -0.5,
            2.0,
            f32::EPSILON,
            -f32::EPSILON,
        ];
        v.extend((1..200).map(|b| f32::from_bits(b * 9973)));
        let mut x = 1e-40f32;
        while x < 3e38 {
            v.push(x);
            v.push(-x);
            x *= 1.0137;
        }
        for i in -200_000..200_000 {
            v.push(i as f32 * 0.000_977);
        }
        v.extend_from_slice(extra);
        v
    }

    fn check64(name: &str, f: fn(F64x2) -> F64x2, reference: fn(f64) -> f64, xs: &[f64], max_ulps: f64) {
        let mut worst = (0.0, 0.0);
        for chunk in xs.chunks(2) {
            let mut a = [0.0; 2];
            a[..chunk.len()].copy_from_slice(chunk);
            let got = f(F64x2::from_array(a)).to_array();
            for (i, &x) in chunk.iter().enumerate() {
                let want = reference(x);
                let u = ulps64(got[i], want);
                assert!(
                    u <= max_ulps,
                    "{name}({x:e}) = {:e}, std gives {want:e} ({u} ulp)",
                    got[i]
                );
                if u > worst.0 {
                    worst = (u, x);
                }
            }
        }
        println!("{name} f64: worst {:.3} ulp at {:e}", worst.0, worst.1);
    }

    fn check32(name: &str, f: fn(F32x4) -> F32x4, reference: fn(f64) -> f64, xs: &[f32], max_ulps: f64) {
        let mut worst = (0.0, 0.0);
        for chunk in xs.chunks(4) {
            let mut a = [0.0; 4];
            a[..chunk.len()].copy_from_slice(chunk);
            let got = f(F32x4::from_array(a)).to_array();
            for (i, &x) in chunk.iter().enumerate() {
                // Reference: the f64 function rounded to f32 (within 0.5 ulp of the exact value).
                let want = reference(x as f64) as f32;
                let u = ulps32(got[i], want);
                assert!(
                    u <= max_ulps,
                    "{name}({x:e}) = {:e}, reference {want:e} ({u} ulp)",
                    got[i]
                );
                if u > worst.0 {
                    worst = (u, x);
                }
            }
        }
        println!("{name} f32: worst {:.3} ulp at {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_matches_std() {
        let edges = [
            709.782712893384,
            709.7827128933841,
            -708.3964185322641,
            -745.1332191019411,
            -745.1332191019412,
            -744.44,
            -740.0,
            -720.0,
            700.0,
            1e-300,
            -1e-300,
            0.34657359027997264,
            -0.34657359027997264,
        ];
        check64("exp", exp, f64::exp, &sweep64(&edges), 2.0);
        let edges32 = [
            88.72283,
            88.72284,
            -87.33654,
            -103.27893,
            -103.972,
            -103.9721,
            -100.0,
            -90.0,
            0.34657359,
            -0.34657359,
        ];
        check32("exp", exp, f64::exp, &sweep32(&edges32), 2.0);
    }

    #[test]
    fn ln_matches_std() {
        check64(
            "ln",
            ln,
            f64::ln,
            &sweep64(&[
                1.0 + f64::EPSILON,
                1.0 - f64::EPSILON / 2.0,
                core::f64::consts::FRAC_1_SQRT_2,
                core::f64::consts::SQRT_2,
            ]),
            2.0,
        );
        check32(
            "ln",
            ln,
            f64::ln,
            &sweep32(&[
                1.0 + f32::EPSILON,
                1.0 - f32::EPSILON / 2.0,
                core::f32::consts::FRAC_1_SQRT_2,
                core::f32::consts::SQRT_2,
            ]),
            2.0,
        );
    }

    #[test]
    fn ln_1p_matches_std() {
        let edges = [
            -1.0,
            -1.0 + f64::EPSILON / 2.0,
            core::f64::consts::FRAC_1_SQRT_2 - 1.0,
            core::f64::consts::SQRT_2 - 1.0,
            1e-17,
            -1e-17,
            2f64.powi(53),
            2f64.powi(54),
        ];
        check64("ln_1p", ln_1p, f64::ln_1p, &sweep64(&edges), 2.0);
        let edges32 = [
            -1.0,
            -1.0 + f32::EPSILON / 2.0,
            core::f32::consts::FRAC_1_SQRT_2 - 1.0,
            core::f32::consts::SQRT_2 - 1.0,
            1e-8,
            -1e-8,
            16777216.0,
            33554432.0,
        ];
        check32("ln_1p", ln_1p, f64::ln_1p, &sweep32(&edges32), 2.0);
    }

    /// Bit patterns of a lane type, NaN as one value (payloads are unspecified in WebAssembly).
    fn bits<V: Vector<Scalar = T>, T: Copy + Into<f64>>(v: V) -> Vec<Option<u64>> {
        v.to_array()
            .as_ref()
            .iter()
            .map(|&x| {
                let x: f64 = x.into();
                (!x.is_nan()).then(|| x.to_bits())
            })
            .collect()
    }

    /// Both arguments' lanes have the same bits, for every chunk of `xs`.
    fn same_bits<V: VMath + Vector<Scalar = T>, T: Copy + Into<f64> + core::fmt::Debug>(
        name: &str,
        xs: &[T],
        fill: T,
        f: impl Fn(V) -> V,
        g: impl Fn(V) -> V,
    ) {
        let mut count = 0;
        for chunk in xs.chunks(V::LANES) {
            let mut a = V::splat(fill).to_array();
            a.as_mut()[..chunk.len()].copy_from_slice(chunk);
            let v = V::from_array(a);
            assert!(bits(f(v)) == bits(g(v)), "{name}: {chunk:?}");
            count += chunk.len();
        }
        assert_eq!(count, xs.len());
        assert!(count > 100_000, "{name}: only {count} inputs");
    }

    /// ln_1p_unit as it was written before: the general reduction and `log_tail` (the reference
    /// for the version that uses k ∈ {0, 1}).
    fn ln_1p_unit_general<V: VMath>(x: V, inv_u: V) -> V {
        let zero = V::c(0.0);
        let one = V::c(1.0);
        let u = one + x;
        let (f_u, k) = reduce(u, zero);
        let k0 = k.eq(zero);
        let f = V::select(k0, x, f_u);
        let c = V::select(k0, zero, (x - (u - one)) * inv_u);
        let r = log_tail(f, k, c);
        V::select(x.eq(x), r, x)
    }

    #[test]
    fn exp_nonpos_is_exp_for_nonpositive_x_f64_and_accurate_f32() {
        let xs64: Vec<f64> = sweep64(&[-745.1332191019411, -745.1332191019412, -708.3964185322641, -746.0, -1e4])
            .into_iter()
            .filter(|x| x.is_nan() || *x <= 0.0)
            .collect();
        same_bits::<F64x2, f64>("exp_nonpos f64", &xs64, -1.0, exp_nonpos, exp);
        let xs32: Vec<f32> = sweep32(&[-87.33654, -103.27893, -103.972, -103.9721, -104.0, -1e4])
            .into_iter()
            .filter(|x| x.is_nan() || *x <= 0.0)
            .collect();
        // float32 has its own, shorter polynomial: as accurate as exp's.
        check32("exp_nonpos", exp_nonpos, f64::exp, &xs32, 1.0);
    }

    #[test]
    fn ln_1p_unit_is_the_general_reduction_f64_and_accurate_f32() {
        // e = exp(−|x|) ∈ [0, 1]: every value the kernels pass, dense around the k = 0 / 1 switch.
        let unit64 = |x: f64| (0.0..=1.0).contains(&x) || x.is_nan();
        let mut xs64: Vec<f64> = sweep64(&[]).into_iter().filter(|&x| unit64(x)).collect();
        let edge64 = core::f64::consts::SQRT_2 - 1.0;
        xs64.extend((-5000..5000).map(|i| edge64 + i as f64 * f64::EPSILON / 4.0));
        xs64.extend((0..100_000).map(|i| (-(i as f64) * 0.0075).exp()));
        let inv64 = |x: F64x2| F64x2::c(1.0) / (F64x2::c(1.0) + x);
        same_bits::<F64x2, f64>(
            "ln_1p_unit f64",
            &xs64,
            0.5,
            |x| ln_1p_unit(x, inv64(x)),
            |x| ln_1p_unit_general(x, inv64(x)),
        );
        // float32: its own algorithm (no reduction): within 1.19 ulp of ln(1 + x), so at most 2 ulps
        // from the float32 value nearest it (the reference here).
        let mut xs32: Vec<f32> = sweep32(&[]).into_iter().filter(|&x| (0.0..=1.0).contains(&x)).collect();
        xs32.extend((0..=1_000_000).map(|i| i as f32 * 1e-6));
        xs32.extend((0..100_000).map(|i| (-(i as f32) * 0.001).exp()));
        let with_inv = |x: F32x4| ln_1p_unit(x, F32x4::c(1.0) / (F32x4::c(1.0) + x));
        check32("ln_1p_unit", with_inv, f64::ln_1p, &xs32, 2.0);
        let nan = ln_1p_unit(F32x4::splat(f32::NAN), F32x4::splat(f32::NAN)).to_array();
        assert!(nan.iter().all(|v| v.is_nan()));
    }
}
