//! The vectorised kernels (crate::simd, dispatched to by `softmax_focal_accumulate` /
//! `sigmoid_focal_accumulate` / `elementwise_accumulate`) against the scalar path
//! (`focal_loss::scalar`) on random inputs: every loss and gradient value within a few ulps-worth
//! of relative error, the same NaN pattern, and results that do not depend on how a batch is split
//! into calls (chunks).
//!
//! Natively the vector kernels run on the plain-array lanes; the wasm SIMD build runs the same
//! operation sequence on v128 lanes (the vitest suite checks both builds against the vectors).

use focal_loss::{
    elementwise_accumulate, scalar, sigmoid_focal_accumulate, softmax_focal_accumulate, Alpha, ElementCounts,
    ElementLoss, ElementOptions, ElementTargets, Layout, Outputs, PosWeight, Real, SigmoidOptions, SoftmaxOptions,
    SoftmaxTargets,
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

trait Tol: Real + std::fmt::Debug + Eps {
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
    poly: T,
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
    // Poly-1 ε (0 half of the time: the path without the term).
    let poly = T::from_f64([0.0, 0.0, 1.0, -0.5, 2.0][rng.below(5)]);
    Case {
        layout,
        logits,
        targets,
        weights,
        alpha,
        gamma,
        poly,
    }
}

type Run<T> = (Vec<T>, Vec<T>, f64);

fn run_softmax<T: Tol>(c: &Case<T>, vectorised: bool) -> Run<T> {
    let opts = SoftmaxOptions {
        gamma: c.gamma,
        alpha: c.alpha.as_deref().map_or(Alpha::None, Alpha::PerClass),
        weights: c.weights.as_deref(),
        poly_epsilon: c.poly,
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
            let what = format!("round {round} {layout:?} gamma {:?} poly {:?}", c.gamma, c.poly);
            // A negative ε makes the loss a difference: relative to the size of its terms.
            let loss_scale: Vec<f64> = if c.poly.to_f64() < 0.0 {
                l0.iter().map(|_| (1.0 + c.poly.to_f64().abs()) * 3.0).collect()
            } else {
                vec![0.0; l0.len()]
            };
            worst = worst.max(assert_close_scaled(&l1, &l0, &loss_scale, &format!("{what} loss")));
            worst = worst.max(assert_close(&g1, &g0, &format!("{what} grad")));
            let mag = a0.abs() + loss_scale.iter().sum::<f64>();
            assert!(
                a1 == a0
                    || (a1 - a0).abs() <= T::RTOL * mag + T::ATOL * l0.len() as f64
                    || (a1.is_nan() && a0.is_nan()),
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
                poly_epsilon: c.poly,
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

// ------------------------------------------------------------------------------------------------
// the element-wise family
// ------------------------------------------------------------------------------------------------

/// An owned element-wise configuration.
struct ElementCase<T> {
    layout: Layout,
    logits: Vec<T>,
    dense: Option<Vec<T>>,
    indices: Option<Vec<i32>>,
    loss: ElementLoss<T>,
    smoothing: T,
    poly: T,
    pw: Option<Vec<T>>, // one value: scalar; C values: per class
    weights: Option<Vec<T>>,
}

impl<T: Real> ElementCase<T> {
    fn targets(&self) -> ElementTargets<'_, T> {
        match (&self.dense, &self.indices) {
            (Some(y), _) => ElementTargets::Dense(y),
            (None, Some(t)) => ElementTargets::Indices {
                indices: t,
                ignore_index: -100,
            },
            _ => unreachable!(),
        }
    }
    fn opts(&self) -> ElementOptions<'_, T> {
        ElementOptions {
            loss: self.loss,
            label_smoothing: self.smoothing,
            pos_weight: match &self.pw {
                None => PosWeight::None,
                Some(p) if p.len() == 1 && self.layout.classes != 1 => PosWeight::Scalar(p[0]),
                Some(p) => PosWeight::PerClass(p),
            },
            poly_epsilon: self.poly,
            weights: self.weights.as_deref(),
        }
    }
}

fn element_case<T: Tol>(rng: &mut Rng, layout: Layout) -> ElementCase<T> {
    let (items, len) = (layout.items().unwrap(), layout.logits().unwrap());
    let classes = layout.classes;
    let f = T::from_f64;
    let mut logits: Vec<T> = (0..len).map(|_| f(rng.logit(true))).collect();
    if rng.below(10) == 0 {
        logits[rng.below(len)] = T::NAN;
    }
    if rng.below(10) == 0 {
        logits[rng.below(len)] = T::INFINITY;
    }
    let g = |rng: &mut Rng| f([0.0, 0.5, 1.0, 2.0, 3.5, 3.0, 4.0][rng.below(7)]);
    let loss = match rng.below(4) {
        0 => ElementLoss::Focal {
            gamma: g(rng),
            alpha: [None, Some(f(0.25)), Some(f(rng.unit()))][rng.below(3)],
        },
        1 => ElementLoss::Quality { beta: g(rng) },
        2 => ElementLoss::Varifocal {
            alpha: f(rng.unit()),
            gamma: g(rng),
            iou_weighted: rng.below(2) == 0,
        },
        _ => ElementLoss::Asymmetric {
            gamma_pos: g(rng),
            gamma_neg: g(rng),
            clip: f([0.0, 0.05, 0.3][rng.below(3)]),
            detach_focal_weight: rng.below(2) == 0,
        },
    };
    let focal = matches!(loss, ElementLoss::Focal { .. });
    let use_indices = rng.below(2) == 0;
    let soft = rng.below(3);
    ElementCase {
        layout,
        logits,
        dense: (!use_indices).then(|| {
            (0..len)
                .map(|_| match soft {
                    0 => f(rng.below(2) as f64),
                    1 if rng.below(2) == 0 => f(rng.below(2) as f64),
                    _ => f(rng.unit()),
                })
                .collect()
        }),
        indices: use_indices.then(|| {
            (0..items)
                .map(|_| match rng.below(6) {
                    0 => -100,
                    1 => classes as i32,
                    _ => rng.below(classes) as i32,
                })
                .collect()
        }),
        loss,
        smoothing: f(if focal && rng.below(3) == 0 { 0.1 } else { 0.0 }),
        poly: f(if focal { [0.0, 1.0, -0.5][rng.below(3)] } else { 0.0 }),
        pw: match (focal, rng.below(3)) {
            (true, 1) => Some(vec![f(rng.unit() * 3.0)]),
            (true, 2) => Some((0..classes).map(|_| f(rng.unit() * 3.0)).collect()),
            _ => None,
        },
        weights: (rng.below(2) == 0).then(|| {
            let n = if use_indices { items } else { len };
            (0..n).map(|_| f(rng.unit() * 2.0)).collect()
        }),
    }
}

type ElementRun<T> = (Vec<T>, Vec<T>, f64, ElementCounts);

fn run_element<T: Tol>(c: &ElementCase<T>, vectorised: bool) -> ElementRun<T> {
    let mut loss = vec![T::ZERO; c.logits.len()];
    let mut grad = vec![T::ZERO; c.logits.len()];
    let mut out = Outputs {
        grad_scale: 0.25,
        ..Outputs::new(Some(&mut loss), Some(&mut grad))
    };
    let f = if vectorised {
        elementwise_accumulate::<T>
    } else {
        scalar::elementwise_accumulate::<T>
    };
    let counts = f(c.layout, &c.logits, c.targets(), &c.opts(), &mut out).unwrap();
    let sum = out.sum;
    (loss, grad, sum, counts)
}

/// Where soft targets (or a negative ε) make a value a difference of terms: a bound on those terms
/// (w·s·(γ·CE + pw + 1 + |ε|(γ + 1)), s the gradient scale), so that the comparison stays
/// meaningful; QFL and VFL also get one ulp of p over |y − p| (the conditioning of y − σ(x), which
/// the two paths round differently near the root).
fn element_scale<T: Tol>(c: &ElementCase<T>, i: usize, scale: f64) -> f64 {
    let (cl, item) = {
        let (k, s) = (c.layout.classes, c.layout.spatial);
        ((i / s) % k, i / (k * s) * s + i % s)
    };
    let x = c.logits[i].to_f64();
    let (y, w) = match (&c.dense, &c.indices) {
        (Some(y), _) => (y[i].to_f64(), c.weights.as_ref().map_or(1.0, |w| w[i].to_f64())),
        (None, Some(t)) => (
            (t[item] as usize == cl) as u8 as f64,
            c.weights.as_ref().map_or(1.0, |w| w[item].to_f64()),
        ),
        _ => unreachable!(),
    };
    let softplus = |u: f64| u.max(0.0) + (-u.abs()).exp().ln_1p();
    let ce = softplus(x) + softplus(-x);
    let p = 1.0 / (1.0 + (-x).exp());
    let hard = y == 0.0 || y == 1.0;
    let b = match c.loss {
        ElementLoss::Focal { gamma, .. } => {
            let g = gamma.to_f64();
            let pw =
                c.pw.as_ref()
                    .map_or(1.0, |p| p[if p.len() == 1 { 0 } else { cl }].to_f64());
            if hard && c.smoothing.to_f64() == 0.0 && c.poly.to_f64() >= 0.0 {
                0.0
            } else {
                g * ce * pw.max(1.0) + pw + 1.0 + c.poly.to_f64().abs() * (g + 1.0)
            }
        }
        ElementLoss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            ..
        } => {
            let soft = if hard {
                0.0
            } else {
                1.0 + (gamma_pos.to_f64() + gamma_neg.to_f64()) * ce
            };
            // p_m = p − clip carries an ulp of p, which the paths round differently.
            let pm = p - clip.to_f64();
            let cond = if clip.to_f64() > 0.0 && pm > 0.0 {
                let v = 1.0 / (1.0 + x.exp());
                let l = pm.powf(gamma_neg.to_f64()) * (1.0 + ce) * (v + 1.0);
                l * T::EPSILON_OF_ONE * 4.0 * p / pm * (gamma_neg.to_f64() + 2.0) / T::RTOL
            } else {
                0.0
            };
            soft + cond
        }
        ElementLoss::Quality { beta } => {
            let d = (y - p).abs();
            (1.0 + beta.to_f64()) * (1.0 + ce) * (T::EPSILON_OF_ONE * 4.0 / d / T::RTOL).min(1e300)
        }
        ElementLoss::Varifocal { .. } => {
            let d = (y - p).abs();
            if y > 0.0 {
                (T::EPSILON_OF_ONE * 4.0 / d / T::RTOL).min(1e300)
            } else {
                0.0
            }
        }
    };
    w * scale * b
}

fn element_vs_scalar<T: Tol>(seed: u64) {
    let mut rng = Rng(seed);
    let mut worst = 0.0f64;
    for round in 0..60 {
        for layout in layouts(&mut rng) {
            let c = element_case::<T>(&mut rng, layout);
            let (l1, g1, s1, n1) = run_element(&c, true);
            let (l0, g0, s0, n0) = run_element(&c, false);
            let what = format!("round {round} {layout:?} {:?}", c.loss);
            let lscale: Vec<f64> = (0..l0.len()).map(|i| element_scale(&c, i, 1.0)).collect();
            let gscale: Vec<f64> = (0..g0.len()).map(|i| element_scale(&c, i, 0.25)).collect();
            worst = worst.max(assert_close_scaled(&l1, &l0, &lscale, &format!("{what} loss")));
            worst = worst.max(assert_close_scaled(&g1, &g0, &gscale, &format!("{what} grad")));
            let mag: f64 = l0
                .iter()
                .map(|v| v.to_f64().abs())
                .chain(lscale.iter().copied())
                .filter(|v| v.is_finite())
                .sum();
            assert!(
                s1 == s0 || (s1 - s0).abs() <= T::RTOL * mag || (s1.is_nan() && s0.is_nan()),
                "{what} sum {s1:e} vs {s0:e}"
            );
            assert_eq!(n1.counted, n0.counted);
            assert!(
                (n1.positives - n0.positives).abs() <= 1e-12 * n0.positives,
                "{what} positives"
            );
        }
    }
    println!("element-wise vector vs scalar: worst relative difference {worst:e}");
}

trait Eps {
    const EPSILON_OF_ONE: f64;
}
impl Eps for f32 {
    const EPSILON_OF_ONE: f64 = f32::EPSILON as f64 / 2.0;
}
impl Eps for f64 {
    const EPSILON_OF_ONE: f64 = f64::EPSILON / 2.0;
}

#[test]
fn element_vector_kernel_matches_scalar_f64() {
    element_vs_scalar::<f64>(0xe1e_0001);
}

#[test]
fn element_vector_kernel_matches_scalar_f32() {
    element_vs_scalar::<f32>(0xe1e_0002);
}

/// A batch split into calls at item boundaries — rows of a channels-last batch, images of a
/// channels-first one, any element of a flat dense batch — gives the same bits as one call: every
/// element's loss and gradient entry, and the running sum (added in element order). Positives
/// add up across calls (exactly for 0/1 targets).
fn element_chunks<T: Tol>(seed: u64) {
    let mut rng = Rng(seed);
    for _ in 0..40 {
        for layout in layouts(&mut rng) {
            let c = element_case::<T>(&mut rng, layout);
            let (loss, grad, sum, counts) = run_element(&c, true);
            let (classes, s) = (layout.classes, layout.spatial);
            let per_item = classes * s; // elements per image (rows: per row)
            let mut loss2 = vec![T::ZERO; loss.len()];
            let mut grad2 = vec![T::ZERO; grad.len()];
            let (mut sum2, mut positives2, mut counted2) = (0.0, 0.0, 0);
            // Chunks of whole images (rows), or of any elements for flat dense targets.
            let flat = c.dense.is_some() && classes == 1 && s == 1;
            let (units, unit) = if flat {
                (c.logits.len(), 1)
            } else {
                (layout.batch, per_item)
            };
            let mut u0 = 0;
            while u0 < units {
                let uc = (rng.below(units) + 1).min(units - u0);
                let (e0, e1) = (u0 * unit, (u0 + uc) * unit);
                let sub = if flat {
                    Layout::rows(uc, 1)
                } else {
                    Layout::channels_first(uc, classes, s)
                };
                let (i0, i1) = (u0 * s, (u0 + uc) * s); // items (non-flat)
                let targets = match (&c.dense, &c.indices) {
                    (Some(y), _) => ElementTargets::Dense(&y[e0..e1]),
                    (None, Some(t)) => ElementTargets::Indices {
                        indices: &t[i0..i1],
                        ignore_index: -100,
                    },
                    _ => unreachable!(),
                };
                let w = c
                    .weights
                    .as_ref()
                    .map(|w| if c.dense.is_some() { &w[e0..e1] } else { &w[i0..i1] });
                let opts = ElementOptions { weights: w, ..c.opts() };
                let mut out = Outputs {
                    grad_scale: 0.25,
                    sum: sum2,
                    ..Outputs::new(Some(&mut loss2[e0..e1]), Some(&mut grad2[e0..e1]))
                };
                let n = elementwise_accumulate(sub, &c.logits[e0..e1], targets, &opts, &mut out).unwrap();
                sum2 = out.sum;
                positives2 += n.positives;
                counted2 += n.counted;
                u0 += uc;
            }
            let same = |a: &[T], b: &[T]| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits() || (x.is_nan() && y.is_nan()))
            };
            assert!(
                same(&loss, &loss2),
                "{layout:?} {:?}: losses depend on the split",
                c.loss
            );
            assert!(
                same(&grad, &grad2),
                "{layout:?} {:?}: gradients depend on the split",
                c.loss
            );
            assert!(
                sum.to_bits() == sum2.to_bits() || (sum.is_nan() && sum2.is_nan()),
                "{layout:?}: sum"
            );
            assert_eq!(counts.counted, counted2);
            let hard = c
                .dense
                .as_ref()
                .is_none_or(|y| y.iter().all(|&v| v == T::ZERO || v == T::ONE));
            if hard {
                assert_eq!(counts.positives, positives2);
            } else {
                assert!((counts.positives - positives2).abs() <= 1e-12 * counts.positives);
            }
        }
    }
}

#[test]
fn element_results_do_not_depend_on_chunks_f64() {
    element_chunks::<f64>(0xc4a2_e001);
}

#[test]
fn element_results_do_not_depend_on_chunks_f32() {
    element_chunks::<f32>(0xc4a2_e002);
}
