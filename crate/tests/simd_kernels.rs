//! The vectorised kernels (crate::simd, dispatched to by `softmax_focal_accumulate` /
//! `sigmoid_focal_accumulate`) against the scalar path (`focal_loss::scalar`) on
//! random inputs: every loss and gradient value within a few ulps-worth of relative error, the same
//! NaN pattern, and results that do not depend on how a batch is split into calls (chunks).
//!
//! Natively the vector kernels run on the plain-array lanes; the wasm SIMD build runs the same
//! operation sequence on v128 lanes (the vitest suite checks both builds against the vectors).

use focal_loss::{
    scalar, sigmoid_focal_accumulate, softmax_focal_accumulate, Alpha, Layout, Outputs, Real, SigmoidOptions,
    SoftmaxOptions, SoftmaxTargets,
};

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Logits of mixed scales: mostly moderate, some huge, a few −∞ (masked) when allowed.
    fn logit(&mut self, masked: bool) -> f64 {
        match self.below(20) {
            0 => (self.unit() - 0.5) * 2e4,
            1 => (self.unit() - 0.5) * 200.0,
            2 if masked => f64::NEG_INFINITY,
            3 => 30.0 + self.unit(),
            _ => (self.unit() - 0.5) * 12.0,
        }
    }
}

trait Tol: Real + std::fmt::Debug {
    const RTOL: f64;
    const ATOL: f64;
}
impl Tol for f32 {
    const RTOL: f64 = 1e-5;
    const ATOL: f64 = 1e-37;
}
impl Tol for f64 {
    const RTOL: f64 = 1e-12;
    const ATOL: f64 = 1e-306;
}

fn assert_close<T: Tol>(got: &[T], want: &[T], what: &str) -> f64 {
    assert_close_scaled(got, want, &vec![0.0; got.len()], what)
}

/// |got − want| ≤ RTOL·max(|want|, scale[i]) + ATOL.
fn assert_close_scaled<T: Tol>(got: &[T], want: &[T], scale: &[f64], what: &str) -> f64 {
    assert_eq!(got.len(), want.len());
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        if w.is_nan() || g.is_nan() {
            assert!(w.is_nan() && g.is_nan(), "{what}[{i}]: got {g:e}, scalar path {w:e}");
            continue;
        }
        if w == g {
            continue;
        }
        let err = (g - w).abs();
        let size = w.abs().max(scale[i]);
        assert!(
            err <= T::RTOL * size + T::ATOL,
            "{what}[{i}]: got {g:e}, scalar path {w:e} (rel {:e})",
            err / size
        );
        worst = worst.max(err / size.max(T::ATOL));
    }
    worst
}

struct Case<T> {
    layout: Layout,
    logits: Vec<T>,
    targets: Vec<i32>,
    weights: Option<Vec<T>>,
    alpha: Option<Vec<T>>,
    gamma: T,
}

fn softmax_case<T: Tol>(rng: &mut Rng, layout: Layout) -> Case<T> {
    let (items, len) = (layout.items().unwrap(), layout.logits().unwrap());
    let classes = layout.classes;
    let masked = rng.below(3) == 0;
    let mut logits: Vec<T> = (0..len).map(|_| T::from_f64(rng.logit(masked))).collect();
    let targets: Vec<i32> = (0..items)
        .map(|_| {
            if rng.below(10) == 0 {
                -100
            } else {
                rng.below(classes) as i32
            }
        })
        .collect();
    // Make some targets the arg-max with a wide margin (p_t → 1: the stable 1 − p_t path).
    for (item, &t) in targets.iter().enumerate() {
        if t >= 0 && rng.below(4) == 0 {
            let (n, s) = (item / layout.spatial, item % layout.spatial);
            let i = n * classes * layout.spatial + t as usize * layout.spatial + s;
            logits[i] = T::from_f64(60.0 + rng.unit() * 40.0);
        }
    }
    let weights = (rng.below(2) == 0).then(|| (0..items).map(|_| T::from_f64(rng.unit() * 3.0)).collect());
    let alpha = (rng.below(2) == 0).then(|| (0..classes).map(|_| T::from_f64(rng.unit())).collect());
    // Integer γ ∈ {1, …, 5} takes the multiplication fast path (FocalPow); the others exp/log.
    let gamma = T::from_f64([0.0, 0.5, 1.0, 2.0, 3.7, 3.0, 4.0, 5.0][rng.below(8)]);
    Case {
        layout,
        logits,
        targets,
        weights,
        alpha,
        gamma,
    }
}

type Run<T> = (Vec<T>, Vec<T>, f64);

fn run_softmax<T: Tol>(c: &Case<T>, vectorised: bool) -> Run<T> {
    let opts = SoftmaxOptions {
        gamma: c.gamma,
        alpha: c.alpha.as_deref().map_or(Alpha::None, Alpha::PerClass),
        weights: c.weights.as_deref(),
        ..SoftmaxOptions::default()
    };
    let mut loss = vec![T::ZERO; c.layout.items().unwrap()];
    let mut grad = vec![T::ZERO; c.logits.len()];
    let f = if vectorised {
        softmax_focal_accumulate::<T>
    } else {
        scalar::softmax_focal_accumulate::<T>
    };
    let mut out = Outputs {
        grad_scale: 0.25,
        ..Outputs::new(Some(&mut loss), Some(&mut grad))
    };
    f(
        c.layout,
        &c.logits,
        SoftmaxTargets::Indices(&c.targets),
        &opts,
        &mut out,
    )
    .unwrap();
    let acc = out.sum;
    (loss, grad, acc)
}

fn layouts(rng: &mut Rng) -> Vec<Layout> {
    let mut v = Vec::new();
    for c in [1, 2, 3, 4, 5, 7, 10, 15, 16, 17, 31, 64, 100, 1000] {
        v.push(Layout::rows(rng.below(11) + 1, c));
    }
    for (c, s) in [(1, 5), (2, 3), (3, 9), (5, 16), (19, 7), (21, 1), (4, 2)] {
        v.push(Layout::channels_first(rng.below(3) + 1, c, s));
    }
    v
}

fn softmax_vs_scalar<T: Tol>(seed: u64) {
    let mut rng = Rng(seed);
    let mut worst = 0.0f64;
    for round in 0..40 {
        for layout in layouts(&mut rng) {
            let c = softmax_case::<T>(&mut rng, layout);
            let (l1, g1, a1) = run_softmax(&c, true);
            let (l0, g0, a0) = run_softmax(&c, false);
            let what = format!("round {round} {layout:?} gamma {:?}", c.gamma);
            worst = worst.max(assert_close(&l1, &l0, &format!("{what} loss")));
            worst = worst.max(assert_close(&g1, &g0, &format!("{what} grad")));
            assert!(
                a1 == a0 || (a1 - a0).abs() <= T::RTOL * a0.abs() || (a1.is_nan() && a0.is_nan()),
                "{what} sum {a1:e} vs {a0:e}"
            );
        }
    }
    println!("softmax vector vs scalar: worst relative difference {worst:e}");
}

#[test]
fn softmax_vector_kernels_match_scalar_f64() {
    softmax_vs_scalar::<f64>(0x5eed_0001);
}

#[test]
fn softmax_vector_kernels_match_scalar_f32() {
    softmax_vs_scalar::<f32>(0x5eed_0002);
}

/// A batch split into calls at arbitrary item boundaries (as the wasm engine's chunks) gives the
/// same bits as one call: no item's result depends on the lane or group it lands in.
fn softmax_chunks<T: Tol>(seed: u64) {
    let mut rng = Rng(seed);
    for _ in 0..30 {
        for layout in layouts(&mut rng) {
            let c = softmax_case::<T>(&mut rng, layout);
            let (loss, grad, acc) = run_softmax(&c, true);
            let (classes, s) = (layout.classes, layout.spatial);
            let opts = SoftmaxOptions {
                gamma: c.gamma,
                alpha: c.alpha.as_deref().map_or(Alpha::None, Alpha::PerClass),
                ..SoftmaxOptions::default()
            };
            let mut acc2 = 0.0;
            let mut loss2 = vec![T::ZERO; loss.len()];
            let mut grad2 = vec![T::ZERO; grad.len()];
            // Per image, positions in random slices [s0, s0 + sc), gathered as the engine does.
            for n in 0..layout.batch {
                let mut s0 = 0;
                while s0 < s {
                    let sc = (rng.below(s) + 1).min(s - s0);
                    let sub = Layout::channels_first(1, classes, sc);
                    let mut z = Vec::with_capacity(classes * sc);
                    for k in 0..classes {
                        let from = n * classes * s + k * s + s0;
                        z.extend_from_slice(&c.logits[from..from + sc]);
                    }
                    let first = n * s + s0;
                    let t = &c.targets[first..first + sc];
                    let w = c.weights.as_ref().map(|w| &w[first..first + sc]);
                    let o = SoftmaxOptions { weights: w, ..opts };
                    let mut g = vec![T::ZERO; z.len()];
                    let mut out = Outputs {
                        grad_scale: 0.25,
                        sum: acc2,
                        ..Outputs::new(Some(&mut loss2[first..first + sc]), Some(&mut g))
                    };
                    softmax_focal_accumulate(sub, &z, SoftmaxTargets::Indices(t), &o, &mut out).unwrap();
                    acc2 = out.sum;
                    for k in 0..classes {
                        let to = n * classes * s + k * s + s0;
                        grad2[to..to + sc].copy_from_slice(&g[k * sc..(k + 1) * sc]);
                    }
                    s0 += sc;
                }
            }
            if s == 1 {
                // Rows: split the batch itself at random row boundaries.
                acc2 = 0.0;
                let mut r0 = 0;
                while r0 < layout.batch {
                    let rc = (rng.below(layout.batch) + 1).min(layout.batch - r0);
                    let sub = Layout::rows(rc, classes);
                    let w = c.weights.as_ref().map(|w| &w[r0..r0 + rc]);
                    let o = SoftmaxOptions { weights: w, ..opts };
                    let grad_rows = &mut grad2[r0 * classes..(r0 + rc) * classes];
                    let mut out = Outputs {
                        grad_scale: 0.25,
                        sum: acc2,
                        ..Outputs::new(Some(&mut loss2[r0..r0 + rc]), Some(grad_rows))
                    };
                    softmax_focal_accumulate(
                        sub,
                        &c.logits[r0 * classes..(r0 + rc) * classes],
                        SoftmaxTargets::Indices(&c.targets[r0..r0 + rc]),
                        &o,
                        &mut out,
                    )
                    .unwrap();
                    acc2 = out.sum;
                    r0 += rc;
                }
            }
            let same = |a: &[T], b: &[T]| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits() || (x.is_nan() && y.is_nan()))
            };
            assert!(same(&loss, &loss2), "{layout:?}: losses depend on the split");
            assert!(same(&grad, &grad2), "{layout:?}: gradients depend on the split");
            assert!(
                acc.to_bits() == acc2.to_bits() || (acc.is_nan() && acc2.is_nan()),
                "{layout:?}: sum {acc:e} vs {acc2:e}"
            );
        }
    }
}

#[test]
fn softmax_results_do_not_depend_on_chunks_f64() {
    softmax_chunks::<f64>(0xc4a2_0001);
}

#[test]
fn softmax_results_do_not_depend_on_chunks_f32() {
    softmax_chunks::<f32>(0xc4a2_0002);
}

fn run_sigmoid<T: Tol>(x: &[T], y: &[T], opts: &SigmoidOptions<T>, vectorised: bool) -> Run<T> {
    let mut loss = vec![T::ZERO; x.len()];
    let mut grad = vec![T::ZERO; x.len()];
    let f = if vectorised {
        sigmoid_focal_accumulate::<T>
    } else {
        scalar::sigmoid_focal_accumulate::<T>
    };
    let mut out = Outputs {
        grad_scale: 0.5,
        ..Outputs::new(Some(&mut loss), Some(&mut grad))
    };
    f(x, y, opts, &mut out).unwrap();
    let acc = out.sum;
    (loss, grad, acc)
}

fn sigmoid_vs_scalar<T: Tol>(seed: u64) {
    let mut rng = Rng(seed);
    let mut worst = 0.0f64;
    for round in 0..300 {
        let n = rng.below(40) + 1;
        let mut x: Vec<T> = (0..n).map(|_| T::from_f64(rng.logit(false))).collect();
        if round % 50 == 0 {
            x[0] = T::NAN;
            x[n - 1] = T::INFINITY;
        }
        if round % 7 == 0 {
            x[n / 2] = T::NEG_INFINITY;
        }
        let soft = rng.below(3);
        let y: Vec<T> = (0..n)
            .map(|_| match soft {
                0 => T::from_f64(rng.below(2) as f64),
                1 => T::from_f64(if rng.below(2) == 0 {
                    rng.below(2) as f64
                } else {
                    rng.unit()
                }),
                _ => T::from_f64(rng.unit()),
            })
            .collect();
        let w: Vec<T> = (0..n).map(|_| T::from_f64(rng.unit() * 2.0)).collect();
        let opts = SigmoidOptions {
            gamma: T::from_f64([0.0, 0.5, 2.0, 3.3, 1.0, 3.0, 4.0, 5.0][rng.below(8)]),
            alpha: [None, Some(T::from_f64(0.25)), Some(T::from_f64(rng.unit()))][rng.below(3)],
            label_smoothing: T::from_f64([0.0, 0.0, 0.1][rng.below(3)]),
            weights: (rng.below(2) == 0).then_some(&w[..]),
        };
        let (l1, g1, a1) = run_sigmoid(&x, &y, &opts, true);
        let (l0, g0, a0) = run_sigmoid(&x, &y, &opts, false);
        worst = worst.max(assert_close(&l1, &l0, &format!("round {round} loss")));
        // Soft targets: the gradient is a difference of terms each bounded by w·s·(γ·CE + 1)
        // (s the gradient scale 0.5); it is compared relative to that bound, as the shared vectors do.
        let bound: Vec<f64> = (0..n)
            .map(|i| {
                let eps = opts.label_smoothing.to_f64();
                let (xi, yi) = (x[i].to_f64(), y[i].to_f64() * (1.0 - eps) + eps / 2.0);
                let softplus = |u: f64| u.max(0.0) + (-u.abs()).exp().ln_1p();
                let ce = yi * softplus(-xi) + (1.0 - yi) * softplus(xi);
                let wi = opts.weights.map_or(1.0, |w| w[i].to_f64());
                if yi == 0.0 || yi == 1.0 {
                    0.0
                } else {
                    0.5 * wi * (opts.gamma.to_f64() * ce + 1.0)
                }
            })
            .collect();
        worst = worst.max(assert_close_scaled(&g1, &g0, &bound, &format!("round {round} grad")));
        assert!(
            a1 == a0 || (a1 - a0).abs() <= T::RTOL * a0.abs() || (a1.is_nan() && a0.is_nan()),
            "sum {a1:e} vs {a0:e}"
        );
        // Split at a random point: the same bits.
        let cut = rng.below(n + 1);
        let (mut l2, mut g2, mut a2) = (vec![T::ZERO; n], vec![T::ZERO; n], 0.0);
        for (lo, hi) in [(0, cut), (cut, n)] {
            let o = SigmoidOptions {
                weights: opts.weights.map(|w| &w[lo..hi]),
                ..opts
            };
            let mut out = Outputs {
                grad_scale: 0.5,
                sum: a2,
                ..Outputs::new(Some(&mut l2[lo..hi]), Some(&mut g2[lo..hi]))
            };
            sigmoid_focal_accumulate(&x[lo..hi], &y[lo..hi], &o, &mut out).unwrap();
            a2 = out.sum;
        }
        let same = |a: &[T], b: &[T]| {
            a.iter()
                .zip(b)
                .all(|(p, q)| p.to_f64().to_bits() == q.to_f64().to_bits() || (p.is_nan() && q.is_nan()))
        };
        assert!(
            same(&l1, &l2) && same(&g1, &g2),
            "round {round}: results depend on the split at {cut}"
        );
        assert!(a1.to_bits() == a2.to_bits() || (a1.is_nan() && a2.is_nan()));
    }
    println!("sigmoid vector vs scalar: worst relative difference {worst:e}");
}

#[test]
fn sigmoid_vector_kernel_matches_scalar_f64() {
    sigmoid_vs_scalar::<f64>(0x51_0001);
}

#[test]
fn sigmoid_vector_kernel_matches_scalar_f32() {
    sigmoid_vs_scalar::<f32>(0x51_0002);
}

/// The integer-γ fast path around the smallest normal m: hard sigmoid targets whose m = σ(−|x|)
/// crosses from normal to subnormal to 0 (lanes of one vector on both sides), against the scalar
/// exp(γ·log m) reference.
fn sigmoid_integer_gamma_near_underflow<T: Tol>(edge: f64) {
    let mut worst = 0.0f64;
    for gamma in [1.0, 2.0, 3.0, 4.0, 5.0] {
        let x: Vec<T> = (0..400)
            .map(|i| T::from_f64((edge - 4.0 + i as f64 * 0.02) * if i % 3 == 0 { -1.0 } else { 1.0 }))
            .collect();
        let y: Vec<T> = (0..x.len())
            .map(|i| T::from_f64(if i % 3 == 0 { 1.0 } else { 0.0 }))
            .collect();
        let opts = SigmoidOptions {
            gamma: T::from_f64(gamma),
            alpha: None,
            label_smoothing: T::ZERO,
            weights: None,
        };
        let (l1, g1, _) = run_sigmoid(&x, &y, &opts, true);
        let (l0, g0, _) = run_sigmoid(&x, &y, &opts, false);
        worst = worst.max(assert_close(&l1, &l0, &format!("gamma {gamma} loss")));
        worst = worst.max(assert_close(&g1, &g0, &format!("gamma {gamma} grad")));
    }
    println!("sigmoid integer gamma near underflow: worst relative difference {worst:e}");
}

#[test]
fn sigmoid_integer_gamma_near_underflow_f64() {
    // e^−708.4 ≈ the smallest normal f64.
    sigmoid_integer_gamma_near_underflow::<f64>(708.4);
}

#[test]
fn sigmoid_integer_gamma_near_underflow_f32() {
    // e^−87.3 ≈ the smallest normal f32.
    sigmoid_integer_gamma_near_underflow::<f32>(87.3);
}
