//! Property, finite-difference and stability tests of the safe API (native `cargo test`).
//!
//! Inputs come from a small deterministic xorshift generator; every expected value is computed
//! here independently of the kernels (log-sum-exp cross-entropy, exact series near p = 1,
//! Richardson-extrapolated central differences), never copied from their output.

mod dd;
mod fd;
mod rng;

use dd::DD;
use fd::check_gradient;
use focal_loss::{
    sigmoid_focal_accumulate, sigmoid_focal_loss, softmax_focal_accumulate, softmax_focal_loss, Alpha, FocalError,
    Layout, Outputs, Real, Reduced, Reduction, SigmoidOptions, SoftmaxOptions, SoftmaxTargets,
};
use rng::Rng;

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const GAMMAS: [f64; 6] = [0.0, 0.25, 0.5, 1.0, 2.0, 5.0];
const REDUCTIONS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];
const SENTINEL: f64 = 12345.0;

fn close(got: f64, exp: f64, rtol: f64, atol: f64) -> bool {
    (got - exp).abs() <= rtol * exp.abs() + atol
}

#[track_caller]
fn assert_close(got: f64, exp: f64, rtol: f64, atol: f64, what: &str) {
    assert!(
        close(got, exp, rtol, atol),
        "{what}: got {got:e}, expected {exp:e} (rtol {rtol:e}, atol {atol:e})"
    );
}

fn to_t<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

/// Softmax call with a per-item loss buffer and a gradient buffer (both pre-filled with NaN).
fn sm<T: Real>(
    layout: Layout,
    z: &[T],
    targets: SoftmaxTargets<T>,
    opts: &SoftmaxOptions<T>,
    red: Reduction,
) -> (Reduced, Vec<T>, Vec<T>) {
    let mut loss = vec![T::NAN; layout.items().unwrap()];
    let mut grad = vec![T::NAN; z.len()];
    let r = softmax_focal_loss(layout, z, targets, opts, red, Some(&mut loss), Some(&mut grad)).unwrap();
    (r, loss, grad)
}

fn sg<T: Real>(x: &[T], y: &[T], opts: &SigmoidOptions<T>, red: Reduction) -> (Reduced, Vec<T>, Vec<T>) {
    let mut loss = vec![T::NAN; x.len()];
    let mut grad = vec![T::NAN; x.len()];
    let r = sigmoid_focal_loss(x, y, opts, red, Some(&mut loss), Some(&mut grad)).unwrap();
    (r, loss, grad)
}

/// An owned softmax configuration (the options borrow from it).
#[derive(Clone, Debug)]
struct SmCase {
    layout: Layout,
    z: Vec<f64>,
    indices: Option<Vec<i32>>,
    probs: Option<Vec<f64>>,
    gamma: f64,
    alpha: Option<Vec<f64>>, // None, [a] (scalar) or per class
    ignore_index: i32,
    eps: f64,
    poly: f64,
    weights: Option<Vec<f64>>,
}

impl SmCase {
    fn alpha(&self) -> Alpha<'_, f64> {
        match &self.alpha {
            None => Alpha::None,
            Some(a) if a.len() == 1 && self.layout.classes != 1 => Alpha::Scalar(a[0]),
            Some(a) => Alpha::PerClass(a),
        }
    }
    fn opts(&self) -> SoftmaxOptions<'_, f64> {
        SoftmaxOptions {
            gamma: self.gamma,
            alpha: self.alpha(),
            ignore_index: self.ignore_index,
            label_smoothing: self.eps,
            poly_epsilon: self.poly,
            weights: self.weights.as_deref(),
        }
    }
    fn targets(&self) -> SoftmaxTargets<'_, f64> {
        match (&self.indices, &self.probs) {
            (Some(t), _) => SoftmaxTargets::Indices(t),
            (None, Some(q)) => SoftmaxTargets::Probabilities(q),
            _ => unreachable!(),
        }
    }
    fn run_at(&self, z: &[f64], red: Reduction) -> (Reduced, Vec<f64>, Vec<f64>) {
        sm(self.layout, z, self.targets(), &self.opts(), red)
    }
    fn run(&self, red: Reduction) -> (Reduced, Vec<f64>, Vec<f64>) {
        self.run_at(&self.z, red)
    }
    /// Flat index of class c of item (n, s).
    fn at(&self, n: usize, c: usize, s: usize) -> usize {
        n * self.layout.classes * self.layout.spatial + c * self.layout.spatial + s
    }
    /// Class weight of c.
    fn a(&self, c: usize) -> f64 {
        match &self.alpha {
            None => 1.0,
            Some(a) if a.len() == 1 => a[0],
            Some(a) => a[c],
        }
    }
    /// Target distribution of item (n, s) after smoothing, or None if the item is ignored.
    fn q(&self, n: usize, s: usize) -> Option<Vec<f64>> {
        let c_n = self.layout.classes;
        let item = n * self.layout.spatial + s;
        let base: Vec<f64> = match (&self.indices, &self.probs) {
            (Some(t), _) => {
                if t[item] == self.ignore_index {
                    return None;
                }
                (0..c_n).map(|c| if c as i32 == t[item] { 1.0 } else { 0.0 }).collect()
            }
            (None, Some(q)) => (0..c_n).map(|c| q[self.at(n, c, s)]).collect(),
            _ => unreachable!(),
        };
        Some(
            base.iter()
                .map(|&v| (1.0 - self.eps) * v + self.eps / c_n as f64)
                .collect(),
        )
    }
}

/// A random softmax configuration: C ∈ 1..=6, rows or channels-first, hard (with some ignored
/// items) or soft targets, optional alpha / weights / smoothing.
fn random_sm_case(rng: &mut Rng, gamma: f64) -> SmCase {
    let classes = 1 + rng.below(6);
    let layout = if rng.chance(0.5) {
        Layout::rows(1 + rng.below(5), classes)
    } else {
        Layout::channels_first(1 + rng.below(3), classes, 1 + rng.below(4))
    };
    let len = layout.logits().unwrap();
    let items = layout.items().unwrap();
    let z: Vec<f64> = (0..len).map(|_| rng.range(-4.0, 4.0)).collect();
    let ignore_index = if rng.chance(0.5) { -100 } else { -1 };
    let mut case = SmCase {
        layout,
        z,
        indices: None,
        probs: None,
        gamma,
        alpha: None,
        ignore_index,
        eps: 0.0,
        poly: 0.0,
        weights: None,
    };
    if rng.chance(0.6) {
        case.indices = Some(
            (0..items)
                .map(|_| {
                    if rng.chance(0.15) {
                        ignore_index
                    } else {
                        rng.below(classes) as i32
                    }
                })
                .collect(),
        );
    } else {
        let mut q = vec![0.0; len];
        for n in 0..layout.batch {
            for s in 0..layout.spatial {
                let mut row: Vec<f64> = (0..classes)
                    .map(|_| if rng.chance(0.3) { 0.0 } else { rng.unit() + 0.01 })
                    .collect();
                if row.iter().all(|&v| v == 0.0) {
                    row[rng.below(classes)] = 1.0;
                }
                let total: f64 = row.iter().sum();
                for c in 0..classes {
                    q[case.at(n, c, s)] = row[c] / total;
                }
            }
        }
        case.probs = Some(q);
    }
    case.alpha = match rng.below(3) {
        0 => None,
        1 => Some(vec![rng.range(0.1, 2.0)]),
        _ => Some((0..classes).map(|_| rng.range(0.0, 2.0)).collect()),
    };
    if rng.chance(0.5) {
        case.weights = Some(
            (0..items)
                .map(|_| if rng.chance(0.1) { 0.0 } else { rng.range(0.1, 3.0) })
                .collect(),
        );
    }
    if rng.chance(0.4) {
        case.eps = [0.05, 0.1, 0.3][rng.below(3)];
    }
    case
}

/// How much of |loss| the finite differences may be off by their own rounding (f64 kernels).
const FD_LOSS_RTOL: f64 = 1e-11;

// ------------------------------------------------------------------------------------------------
// finite differences
// ------------------------------------------------------------------------------------------------

#[test]
fn softmax_gradient_matches_finite_differences() {
    let mut rng = Rng::new(1);
    let mut checked = 0;
    for &gamma in &GAMMAS {
        for round in 0..25 {
            let case = random_sm_case(&mut rng, gamma);
            for &red in &REDUCTIONS {
                let (_, _, grad) = case.run(red);
                let f = |z: &[f64]| case.run_at(z, red).0.loss; // under None: the sum of the items
                check_gradient(
                    &format!("softmax gamma={gamma} round={round} {red:?} {case:?}"),
                    &f,
                    &case.z,
                    &grad,
                    FD_LOSS_RTOL,
                );
                checked += grad.len();
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn sigmoid_gradient_matches_finite_differences() {
    let mut rng = Rng::new(2);
    for &gamma in &GAMMAS {
        for round in 0..25 {
            let n = 1 + rng.below(12);
            let x: Vec<f64> = (0..n).map(|_| rng.range(-6.0, 6.0)).collect();
            let soft = rng.chance(0.4);
            let y: Vec<f64> = (0..n)
                .map(|_| {
                    if soft {
                        rng.unit()
                    } else if rng.chance(0.5) {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let alpha = [None, Some(0.25), Some(0.7), Some(0.0), Some(1.0)][rng.below(5)];
            let weights: Option<Vec<f64>> = rng.chance(0.5).then(|| (0..n).map(|_| rng.range(0.0, 3.0)).collect());
            let eps = if rng.chance(0.3) { 0.1 } else { 0.0 };
            let opts = SigmoidOptions {
                gamma,
                alpha,
                label_smoothing: eps,
                weights: weights.as_deref(),
            };
            for &red in &REDUCTIONS {
                let (_, _, grad) = sg(&x, &y, &opts, red);
                let f = |x: &[f64]| sg(x, &y, &opts, red).0.loss;
                check_gradient(
                    &format!("sigmoid gamma={gamma} round={round} {red:?} x={x:?} y={y:?} {opts:?}"),
                    &f,
                    &x,
                    &grad,
                    FD_LOSS_RTOL,
                );
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// γ = 0 is (weighted) cross-entropy; reductions; row sums; non-negativity
// ------------------------------------------------------------------------------------------------

/// −log p_c = −log softmax(z)_c = (m − z_c) + log1p(Σ_{j≠k} e^(z_j − m)), k the arg-max, m = z_k
/// (the textbook log-sum-exp, kept as two parts so that a tiny −log p_k does not cancel).
fn neg_log_softmax(z: &[f64], c: usize) -> f64 {
    let (k, m) = z
        .iter()
        .cloned()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |b, (i, v)| if v > b.1 { (i, v) } else { b });
    (m - z[c])
        + z.iter()
            .enumerate()
            .filter(|&(i, _)| i != k)
            .map(|(_, &v)| (v - m).exp())
            .sum::<f64>()
            .ln_1p()
}

/// −Σ_c a_c q_c log p_c for one item, with log p from an independent log-sum-exp.
fn cross_entropy(case: &SmCase, z: &[f64], n: usize, s: usize) -> Option<f64> {
    let q = case.q(n, s)?;
    let c_n = case.layout.classes;
    let zs: Vec<f64> = (0..c_n).map(|c| z[case.at(n, c, s)]).collect();
    let w = case.weights.as_ref().map_or(1.0, |w| w[n * case.layout.spatial + s]);
    Some(
        w * (0..c_n)
            .filter(|&c| q[c] != 0.0)
            .map(|c| case.a(c) * q[c] * neg_log_softmax(&zs, c))
            .sum::<f64>(),
    )
}

#[test]
fn softmax_gamma_zero_is_cross_entropy() {
    let mut rng = Rng::new(3);
    for round in 0..200 {
        let case = random_sm_case(&mut rng, 0.0);
        let (r, losses, _) = case.run(Reduction::None);
        let mut total = 0.0;
        let mut count = 0;
        for n in 0..case.layout.batch {
            for s in 0..case.layout.spatial {
                let item = n * case.layout.spatial + s;
                match cross_entropy(&case, &case.z, n, s) {
                    Some(ce) => {
                        assert_close(
                            losses[item],
                            ce,
                            1e-13,
                            1e-15,
                            &format!("round {round} item {item} {case:?}"),
                        );
                        total += ce;
                        count += 1;
                    }
                    None => assert_eq!(losses[item], 0.0, "ignored item {item} must add 0"),
                }
            }
        }
        assert_eq!(r.count, count);
        assert_close(r.sum, total, 1e-13, 1e-15, "sum");
        let (rm, _, _) = case.run(Reduction::Mean);
        let mean = if count == 0 { 0.0 } else { total / count as f64 };
        assert_close(rm.loss, mean, 1e-13, 1e-15, "mean");
    }
}

#[test]
fn softmax_gamma_zero_is_cross_entropy_f32() {
    let mut rng = Rng::new(33);
    for _ in 0..100 {
        let classes = 2 + rng.below(8);
        let m = 1 + rng.below(6);
        // f32 inputs; the reference is computed in f64 from the same (exact) values.
        let z: Vec<f64> = (0..m * classes).map(|_| rng.range(-20.0, 20.0) as f32 as f64).collect();
        let t: Vec<i32> = (0..m).map(|_| rng.below(classes) as i32).collect();
        let alpha: Vec<f64> = (0..classes).map(|_| rng.range(0.1, 1.0) as f32 as f64).collect();
        let z32 = to_t::<f32>(&z);
        let a32 = to_t::<f32>(&alpha);
        let opts = SoftmaxOptions {
            gamma: 0.0f32,
            alpha: Alpha::PerClass(&a32),
            ..SoftmaxOptions::default()
        };
        let (_, losses, _) = sm(
            Layout::rows(m, classes),
            &z32,
            SoftmaxTargets::Indices(&t),
            &opts,
            Reduction::None,
        );
        for i in 0..m {
            let row = &z[i * classes..(i + 1) * classes];
            let ce = alpha[t[i] as usize] * neg_log_softmax(row, t[i] as usize);
            assert_close(
                losses[i] as f64,
                ce,
                1e-5,
                1e-30,
                &format!("f32 row {i} {row:?} t={}", t[i]),
            );
        }
    }
}

#[test]
fn sigmoid_gamma_zero_is_weighted_bce() {
    let mut rng = Rng::new(4);
    for _ in 0..100 {
        let n = 1 + rng.below(10);
        let x: Vec<f64> = (0..n).map(|_| rng.range(-30.0, 30.0)).collect();
        let y: Vec<f64> = (0..n)
            .map(|_| {
                if rng.chance(0.5) {
                    rng.unit()
                } else {
                    rng.below(2) as f64
                }
            })
            .collect();
        let w: Vec<f64> = (0..n).map(|_| rng.range(0.0, 2.0)).collect();
        let alpha = [None, Some(0.25), Some(0.9)][rng.below(3)];
        let eps = [0.0, 0.0, 0.1, 0.25][rng.below(4)];
        let opts = SigmoidOptions {
            gamma: 0.0,
            alpha,
            label_smoothing: eps,
            weights: Some(&w),
        };
        let (r, losses, _) = sg(&x, &y, &opts, Reduction::None);
        let softplus = |u: f64| u.max(0.0) + (-u.abs()).exp().ln_1p();
        let mut total = 0.0;
        for i in 0..n {
            let ys = y[i] * (1.0 - eps) + eps / 2.0; // Keras smoothing; alpha_t uses the smoothed y
            let ce = ys * softplus(-x[i]) + (1.0 - ys) * softplus(x[i]);
            let at = alpha.map_or(1.0, |a| a * ys + (1.0 - a) * (1.0 - ys));
            let exp = w[i] * at * ce;
            assert_close(
                losses[i],
                exp,
                1e-13,
                1e-300,
                &format!("x={} y={} eps={eps}", x[i], y[i]),
            );
            total += exp;
        }
        assert_close(r.loss, total, 1e-13, 1e-300, "sum of none");
    }
}

#[test]
fn reductions_agree() {
    let mut rng = Rng::new(5);
    for &gamma in &GAMMAS {
        for _ in 0..30 {
            let case = random_sm_case(&mut rng, gamma);
            let (rn, losses, gn) = case.run(Reduction::None);
            let (rs, ls, gs) = case.run(Reduction::Sum);
            let (rm, lm, gm) = case.run(Reduction::Mean);
            // Item losses and the f64 sum are the same whatever the reduction.
            assert_eq!(losses, ls);
            assert_eq!(losses, lm);
            assert_eq!(rn.sum.to_bits(), rs.sum.to_bits());
            assert_eq!(rs.loss.to_bits(), rs.sum.to_bits());
            let own: f64 = losses.iter().sum();
            assert_close(rs.loss, own, 1e-14, 0.0, "sum of 'none' equals 'sum'");
            assert_eq!(rn.count, rs.count);
            assert_eq!(rm.count, rs.count);
            if rm.count > 0 {
                assert_close(rm.loss * rm.count as f64, rs.loss, 1e-14, 0.0, "mean·count equals sum");
            } else {
                assert_eq!(rm.loss, 0.0);
            }
            // Gradients: 'none' and 'sum' are the same; 'mean' is 'sum' / count.
            assert_eq!(gn, gs);
            for j in 0..gs.len() {
                let exp = if rm.count > 0 { gs[j] / rm.count as f64 } else { 0.0 };
                assert_close(gm[j], exp, 1e-14, 1e-300, "mean gradient");
            }
            // Loss ≥ 0 everywhere.
            assert!(losses.iter().all(|&l| l >= 0.0), "negative loss: {losses:?}");
            // Softmax gradient of each item sums to 0 (to rounding of terms of size ≤ w·max a·(1 + γ)).
            let amax = (0..case.layout.classes).map(|c| case.a(c)).fold(0.0, f64::max);
            for n in 0..case.layout.batch {
                for s in 0..case.layout.spatial {
                    let row: Vec<f64> = (0..case.layout.classes).map(|c| gs[case.at(n, c, s)]).collect();
                    let sum: f64 = row.iter().sum();
                    let mag: f64 = row.iter().map(|v| v.abs()).sum();
                    let w = case.weights.as_ref().map_or(1.0, |w| w[n * case.layout.spatial + s]);
                    let bound = 1e-14 * (mag + w * amax * (1.0 + gamma)) + 1e-300;
                    assert!(sum.abs() <= bound, "row sum {sum:e} of {row:?}");
                }
            }
        }
    }
    // Sigmoid: the same identities.
    let mut rng = Rng::new(55);
    for &gamma in &GAMMAS {
        let n = 17;
        let x: Vec<f64> = (0..n).map(|_| rng.range(-8.0, 8.0)).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { rng.unit() } else { (i % 2) as f64 })
            .collect();
        let opts = SigmoidOptions {
            gamma,
            ..SigmoidOptions::default()
        };
        let (rn, ln, gn) = sg(&x, &y, &opts, Reduction::None);
        let (rs, _, gs) = sg(&x, &y, &opts, Reduction::Sum);
        let (rm, _, gm) = sg(&x, &y, &opts, Reduction::Mean);
        assert_eq!(rn.sum.to_bits(), rs.sum.to_bits());
        assert_close(ln.iter().sum(), rs.loss, 1e-14, 0.0, "sigmoid sum of none");
        assert_eq!(rm.count, n);
        assert_close(rm.loss * n as f64, rs.loss, 1e-14, 0.0, "sigmoid mean·count");
        assert_eq!(gn, gs);
        for j in 0..n {
            assert_close(gm[j], gs[j] / n as f64, 1e-14, 1e-300, "sigmoid mean gradient");
        }
        assert!(ln.iter().all(|&l| l > 0.0));
    }
}

#[test]
fn softmax_options_do_what_they_say() {
    let z = [1.5, -0.5, 0.25, 2.0, 0.0, -1.0];
    let t = [0, 2];
    let layout = Layout::rows(2, 3);
    let base = SoftmaxOptions {
        gamma: 2.0,
        ..SoftmaxOptions::default()
    };
    let (r0, l0, g0) = sm(layout, &z, SoftmaxTargets::Indices(&t), &base, Reduction::None);
    assert!(l0.iter().all(|&l| l > 0.0), "label 0 is a real class, not background");
    // A scalar alpha scales everything; per-class alpha picks the target's weight.
    let o = SoftmaxOptions {
        alpha: Alpha::Scalar(0.25),
        ..base
    };
    let (r1, l1, g1) = sm(layout, &z, SoftmaxTargets::Indices(&t), &o, Reduction::None);
    assert_close(r1.sum, 0.25 * r0.sum, 1e-15, 0.0, "scalar alpha");
    for j in 0..6 {
        assert_close(g1[j], 0.25 * g0[j], 1e-15, 0.0, "scalar alpha grad");
    }
    for i in 0..2 {
        assert_close(l1[i], 0.25 * l0[i], 1e-15, 0.0, "scalar alpha item loss");
    }
    let pc = [0.5, 7.0, 3.0];
    let o = SoftmaxOptions {
        alpha: Alpha::PerClass(&pc),
        ..base
    };
    let (_, l2, _) = sm(layout, &z, SoftmaxTargets::Indices(&t), &o, Reduction::None);
    assert_close(l2[0], 0.5 * l0[0], 1e-15, 0.0, "alpha[t=0]");
    assert_close(l2[1], 3.0 * l0[1], 1e-15, 0.0, "alpha[t=2]");
    // Per-item weights multiply the item's loss and gradient.
    let w = [2.0, 0.0];
    let o = SoftmaxOptions {
        weights: Some(&w),
        ..base
    };
    let (r3, l3, g3) = sm(layout, &z, SoftmaxTargets::Indices(&t), &o, Reduction::Mean);
    assert_close(l3[0], 2.0 * l0[0], 1e-15, 0.0, "weight 2");
    assert_eq!(l3[1], 0.0);
    assert_eq!(
        r3.count, 2,
        "a zero weight still counts for 'mean' (like PyTorch's reduction)"
    );
    assert!(g3[3..].iter().all(|&g| g == 0.0));
    // One-hot probability rows give the hard-target result.
    let q = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let (rq, lq, gq) = sm(layout, &z, SoftmaxTargets::Probabilities(&q), &base, Reduction::None);
    for i in 0..2 {
        assert_close(lq[i], l0[i], 1e-15, 0.0, "one-hot loss");
    }
    for j in 0..6 {
        assert_close(gq[j], g0[j], 1e-15, 1e-300, "one-hot grad");
    }
    assert_close(rq.sum, r0.sum, 1e-15, 0.0, "one-hot sum");
    // Channels-first [1, 3, 2] is the same two items as rows transposed.
    let zc = [z[0], z[3], z[1], z[4], z[2], z[5]];
    let (_, lc, gc) = sm(
        Layout::channels_first(1, 3, 2),
        &zc,
        SoftmaxTargets::Indices(&t),
        &base,
        Reduction::None,
    );
    assert_eq!(lc, l0);
    assert_eq!(gc, vec![g0[0], g0[3], g0[1], g0[4], g0[2], g0[5]]);
}

// ------------------------------------------------------------------------------------------------
// stability edges
// ------------------------------------------------------------------------------------------------

/// Exact loss and gradient of a hard target that is the top class, with every one of `others`
/// classes `gap` below it, from the series of S′ = others·e^(−gap) (valid for S′ ≤ 1e-8).
/// Returns (loss, grad of the target, grad of each other class).
fn top_class_exact(gap: f64, others: usize, gamma: f64) -> (f64, f64, f64) {
    let e = (-gap).exp();
    let s = others as f64 * e;
    assert!(s <= 1e-8);
    let log1p_s = s * (1.0 - s / 2.0 + s * s / 3.0); // −log p_t
    let omp = s * (1.0 - s + s * s); // 1 − p_t = S′/(1 + S′)
    let focal = omp.powf(gamma);
    let loss = focal * log1p_s;
    let p_r = 1.0 - s / 2.0 + s * s / 3.0; // p_t·r_t = log1p(S′)/S′
    let big_g = -focal * (1.0 + gamma * p_r);
    let p_other = e * (1.0 - s + s * s); // e^(−gap)/(1 + S′)
    (loss, big_g * omp, -big_g * p_other)
}

#[test]
fn confident_right_gamma_half_z30() {
    // z = [30, 0, 0], t = 0, γ = 0.5: loss = sqrt(1 − p)·log1p(S′) ≈ 8.0964e-20.
    let (loss, gt, go) = top_class_exact(30.0, 2, 0.5);
    assert!((loss / 8.0964e-20 - 1.0).abs() < 1e-4, "reference {loss:e}");
    let opts = SoftmaxOptions {
        gamma: 0.5,
        ..SoftmaxOptions::default()
    };
    let (r, _, g) = sm(
        Layout::rows(1, 3),
        &[30.0, 0.0, 0.0],
        SoftmaxTargets::Indices(&[0]),
        &opts,
        Reduction::Mean,
    );
    assert_close(r.loss, loss, 1e-13, 0.0, "f64 loss");
    assert!(
        g.iter().all(|v| v.is_finite()) && g[0] < 0.0 && g[1] > 0.0 && g[2] > 0.0,
        "{g:?}"
    );
    assert_close(g[0], gt, 1e-13, 0.0, "f64 grad target");
    assert_close(g[1], go, 1e-13, 0.0, "f64 grad other");
    let opts = SoftmaxOptions {
        gamma: 0.5f32,
        ..SoftmaxOptions::default()
    };
    let (r, _, g) = sm(
        Layout::rows(1, 3),
        &[30.0f32, 0.0, 0.0],
        SoftmaxTargets::Indices(&[0]),
        &opts,
        Reduction::Mean,
    );
    assert_close(r.loss, loss, 1e-5, 0.0, "f32 loss");
    assert!(g.iter().all(|v| v.is_finite()) && g[0] < 0.0, "{g:?}");
    assert_close(g[0] as f64, gt, 1e-5, 0.0, "f32 grad target");
    assert_close(g[1] as f64, go, 1e-5, 0.0, "f32 grad other");
}

fn near_one_case<T: Real>(z: &[f64], t: usize, gap: f64, gamma: f64, min_normal: f64, rtol: f64) {
    let classes = z.len();
    let (loss, gt, go) = top_class_exact(gap, classes - 1, gamma);
    let zt = to_t::<T>(z);
    let opts = SoftmaxOptions {
        gamma: T::from_f64(gamma),
        ..SoftmaxOptions::default()
    };
    let (r, l, g) = sm(
        Layout::rows(1, classes),
        &zt,
        SoftmaxTargets::Indices(&[t as i32]),
        &opts,
        Reduction::None,
    );
    let what = format!("z={z:?} t={t} gamma={gamma} ({} bytes)", core::mem::size_of::<T>());
    let l = l[0].to_f64();
    assert!(l.is_finite() && l >= 0.0, "{what}: loss {l:e}");
    assert_close(l, loss, rtol, min_normal, &format!("{what}: loss"));
    assert_eq!(r.sum, l);
    if loss >= min_normal {
        assert!(l > 0.0, "{what}: a tiny loss must not round to 0");
    }
    for (c, v) in g.iter().enumerate() {
        let v = v.to_f64();
        assert!(v.is_finite(), "{what}: grad[{c}] = {v}");
        let exp = if c == t { gt } else { go };
        assert_close(v, exp, rtol, min_normal, &format!("{what}: grad[{c}]"));
        if exp.abs() >= min_normal {
            assert!(v != 0.0, "{what}: grad[{c}] is 0, expected {exp:e}");
        }
    }
}

#[test]
fn p_target_within_1e30_of_one() {
    let f32_min = f32::MIN_POSITIVE as f64;
    for &gamma in &GAMMAS {
        // 1 − p_t = 3e^(−70) ≈ 1.2e-30; the target first, in the middle, last.
        near_one_case::<f64>(&[70.0, 0.0, 0.0, 0.0], 0, 70.0, gamma, f64::MIN_POSITIVE, 1e-13);
        near_one_case::<f64>(&[0.0, 70.0, 0.0, 0.0], 1, 70.0, gamma, f64::MIN_POSITIVE, 1e-13);
        near_one_case::<f64>(&[0.0, 0.0, 0.0, 70.0], 3, 70.0, gamma, f64::MIN_POSITIVE, 1e-13);
        near_one_case::<f64>(&[69.0, 0.0], 0, 69.0, gamma, f64::MIN_POSITIVE, 1e-13);
        near_one_case::<f32>(&[70.0, 0.0, 0.0, 0.0], 0, 70.0, gamma, f32_min, 1e-5);
        near_one_case::<f32>(&[0.0, 0.0, 70.0, 0.0], 2, 70.0, gamma, f32_min, 1e-5);
        near_one_case::<f32>(&[69.0, 0.0], 0, 69.0, gamma, f32_min, 1e-5);
    }
    // f64 down to 1 − p = e^(−700) ≈ 1e-304 (γ = 0; larger γ underflow by design).
    near_one_case::<f64>(&[700.0, 0.0], 0, 700.0, 0.0, f64::MIN_POSITIVE, 1e-13);
    near_one_case::<f64>(&[0.0, 700.0], 1, 700.0, 0.0, f64::MIN_POSITIVE, 1e-13);
    // The tiny losses really are positive where the type can hold them.
    let o64 = SoftmaxOptions {
        gamma: 2.0,
        ..SoftmaxOptions::default()
    };
    let (r, _, _) = sm(
        Layout::rows(1, 4),
        &[70.0, 0.0, 0.0, 0.0],
        SoftmaxTargets::Indices(&[0]),
        &o64,
        Reduction::Sum,
    );
    assert!(r.loss > 0.0 && r.loss < 1e-80);
    let o32 = SoftmaxOptions {
        gamma: 0.0f32,
        ..SoftmaxOptions::default()
    };
    let (r, _, g) = sm(
        Layout::rows(1, 4),
        &[70.0f32, 0.0, 0.0, 0.0],
        SoftmaxTargets::Indices(&[0]),
        &o32,
        Reduction::Sum,
    );
    assert!(r.loss > 0.0 && r.loss < 2e-30);
    assert!(g.iter().all(|&v| v.is_finite() && v != 0.0));
}

fn huge_logits<T: Real + std::fmt::Debug>(rtol: f64) {
    let z = to_t::<T>(&[1e4, -1e4, 0.0, 1e4, -1e4, 0.0]);
    for &gamma in &GAMMAS {
        let opts = SoftmaxOptions {
            gamma: T::from_f64(gamma),
            ..SoftmaxOptions::default()
        };
        // Row 0: right (t = 0), row 1: badly wrong (t = 1).
        let (_, l, g) = sm(
            Layout::rows(2, 3),
            &z,
            SoftmaxTargets::Indices(&[0, 1]),
            &opts,
            Reduction::None,
        );
        assert!(
            l.iter().chain(g.iter()).all(|v| v.is_finite()),
            "gamma={gamma}: {:?} {:?}",
            l,
            g
        );
        assert_eq!(l[0].to_f64(), 0.0, "e^-1e4 underflows: the right answer costs nothing");
        assert!(g[0].to_f64() <= 0.0 && g[1].to_f64() >= 0.0 && g[2].to_f64() >= 0.0);
        // log p_1 = −2e4 − log1p(e^−1e4 + e^−2e4) = −2e4 exactly in floating point; 1 − p_1 = 1.
        assert_close(l[1].to_f64(), 2e4, rtol, 0.0, "wrong-answer loss");
        // Gradient G·(δ − p) with G = −(1 + γ·p r) = −1 (p_1 = 0): +1 on class 0, −1 on the target.
        assert_close(g[3].to_f64(), 1.0, rtol, 0.0, "grad of the winning wrong class");
        assert_close(g[4].to_f64(), -1.0, rtol, 0.0, "grad of the target");
        assert!(g[5].to_f64().abs() < 1e-30);
    }
    // Sigmoid: x = ±1e4 with y = 1.
    let x = to_t::<T>(&[1e4, -1e4]);
    let y = to_t::<T>(&[1.0, 1.0]);
    for &gamma in &GAMMAS {
        let opts = SigmoidOptions {
            gamma: T::from_f64(gamma),
            ..SigmoidOptions::default()
        };
        let (_, l, g) = sg(&x, &y, &opts, Reduction::None);
        assert!(l.iter().chain(g.iter()).all(|v| v.is_finite()));
        assert_eq!(l[0].to_f64(), 0.0);
        assert!(g[0].to_f64() <= 0.0);
        assert_close(l[1].to_f64(), 0.25 * 1e4, rtol, 0.0, "sigmoid wrong-answer loss α·CE");
        assert_close(g[1].to_f64(), -0.25, rtol, 0.0, "sigmoid wrong-answer gradient −α");
    }
}

#[test]
fn logits_of_plus_minus_1e4() {
    huge_logits::<f64>(1e-13);
    huge_logits::<f32>(1e-6);
}

#[test]
fn masked_classes() {
    let ninf = f64::NEG_INFINITY;
    let z = [2.0, ninf, 0.0, ninf];
    for &gamma in &GAMMAS {
        let opts = SoftmaxOptions {
            gamma,
            ..SoftmaxOptions::default()
        };
        for t in [0, 2] {
            let (r, _, g) = sm(
                Layout::rows(1, 4),
                &z,
                SoftmaxTargets::Indices(&[t]),
                &opts,
                Reduction::Sum,
            );
            assert!(r.loss.is_finite() && r.loss > 0.0, "gamma={gamma} t={t}: {}", r.loss);
            assert_eq!(g[1], 0.0);
            assert_eq!(g[3], 0.0);
            assert!(g[0].is_finite() && g[2].is_finite());
            // Against the same two logits without the masked classes.
            let (r2, _, g2) = sm(
                Layout::rows(1, 2),
                &[2.0, 0.0],
                SoftmaxTargets::Indices(&[t / 2]),
                &opts,
                Reduction::Sum,
            );
            assert_close(r.loss, r2.loss, 1e-15, 0.0, "masked = absent");
            assert_close(g[0], g2[0], 1e-15, 0.0, "masked = absent");
            assert_close(g[2], g2[1], 1e-15, 0.0, "masked = absent");
        }
        // Soft targets with zero weight on the masked classes.
        let q = [0.75, 0.0, 0.25, 0.0];
        let (r, _, g) = sm(
            Layout::rows(1, 4),
            &z,
            SoftmaxTargets::Probabilities(&q),
            &opts,
            Reduction::Sum,
        );
        assert!(r.loss.is_finite() && g[1] == 0.0 && g[3] == 0.0 && g[0].is_finite() && g[2].is_finite());
        // Masked target: infinite loss, finite gradient [p_0, −1, p_2, 0]·(−G) with G = −1.
        let (r, _, g) = sm(
            Layout::rows(1, 4),
            &z,
            SoftmaxTargets::Indices(&[1]),
            &opts,
            Reduction::Mean,
        );
        assert_eq!(r.loss, f64::INFINITY);
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        let p0 = 1.0 / (1.0 + (-2.0f64).exp());
        assert_close(g[0], p0, 1e-15, 0.0, "masked target grad[0]");
        assert_close(g[1], -1.0, 1e-15, 0.0, "masked target grad[1]");
        assert_close(g[2], 1.0 - p0, 1e-14, 0.0, "masked target grad[2]");
        assert_eq!(g[3], 0.0);
    }
}

#[test]
fn sigmoid_minus_infinity() {
    // x = −∞: p = 0. y = 0 is perfectly right (loss 0, gradient 0); y = 1 is infinitely wrong
    // (loss +∞, gradient −α·m^γ = −α: finite, 0·∞ taken as its limit 0); a soft y is +∞ too.
    let ninf = f64::NEG_INFINITY;
    for &gamma in &GAMMAS {
        let opts = SigmoidOptions {
            gamma,
            alpha: Some(0.25),
            ..SigmoidOptions::default()
        };
        let (_, l, g) = sg(&[ninf, ninf, ninf], &[0.0, 1.0, 0.5], &opts, Reduction::None);
        assert_eq!(l[0], 0.0, "gamma={gamma}");
        assert_eq!(g[0], 0.0, "gamma={gamma}");
        assert_eq!(l[1], f64::INFINITY, "gamma={gamma}");
        assert_eq!(g[1], -0.25, "gamma={gamma}");
        assert_eq!(l[2], f64::INFINITY, "gamma={gamma}");
        // Soft y: ∂l/∂x = α_t·m^γ·(p − y) with m = y (the first term has p(1 − p) = 0).
        assert_close(
            g[2],
            -0.5 * 0.5f64.powf(gamma) * 0.5,
            1e-15,
            0.0,
            &format!("gamma={gamma} soft"),
        );
    }
}

#[test]
fn nan_and_inf_logits_poison_only_their_item() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    for bad in [
        [1.0, nan, 0.0],
        [inf, 0.0, 0.0],
        [0.0, 1.0, inf],
        [nan, nan, nan],
        [inf, inf, 0.0],
    ] {
        let mut z = vec![0.5, -1.0, 2.0];
        z.extend_from_slice(&bad);
        z.extend_from_slice(&[3.0, 0.0, -2.0]);
        let t = [2, 0, 1];
        for &gamma in &GAMMAS {
            let opts = SoftmaxOptions {
                gamma,
                ..SoftmaxOptions::default()
            };
            let (r, l, g) = sm(
                Layout::rows(3, 3),
                &z,
                SoftmaxTargets::Indices(&t),
                &opts,
                Reduction::None,
            );
            assert!(l[1].is_nan(), "{bad:?}: item loss {}", l[1]);
            assert!(r.loss.is_nan());
            for (i, row) in [(0usize, 0usize), (2, 6)] {
                let (_, l1, g1) = sm(
                    Layout::rows(1, 3),
                    &z[row..row + 3],
                    SoftmaxTargets::Indices(&t[i..i + 1]),
                    &opts,
                    Reduction::None,
                );
                assert_eq!(l[i].to_bits(), l1[0].to_bits(), "{bad:?}: clean item {i}");
                assert_eq!(&g[row..row + 3], &g1[..], "{bad:?}: clean gradient {i}");
            }
            let (rm, _, _) = sm(
                Layout::rows(3, 3),
                &z,
                SoftmaxTargets::Indices(&t),
                &opts,
                Reduction::Mean,
            );
            assert!(rm.loss.is_nan());
        }
    }
    // Sigmoid: NaN and +∞ elements give NaN there only.
    let x = [0.5, nan, -1.0, inf, 2.0];
    let y = [1.0, 1.0, 0.0, 0.0, 0.3];
    let opts = SigmoidOptions::default();
    let (r, l, _) = sg(&x, &y, &opts, Reduction::None);
    assert!(l[1].is_nan() && l[3].is_nan() && r.loss.is_nan());
    for i in [0, 2, 4] {
        let (_, l1, _) = sg(&x[i..i + 1], &y[i..i + 1], &opts, Reduction::None);
        assert!(l[i].is_finite());
        assert_eq!(l[i].to_bits(), l1[0].to_bits());
    }
}

fn never_nan_sweep<T: Real + std::fmt::Debug>(max_gap: f64, step: f64) {
    for &gamma in &[0.01, 0.1, 0.25, 0.5, 0.75, 0.99] {
        let gt = T::from_f64(gamma);
        let so = SoftmaxOptions {
            gamma: gt,
            ..SoftmaxOptions::default()
        };
        let go = SigmoidOptions {
            gamma: gt,
            ..SigmoidOptions::default()
        };
        let mut d = 0.0;
        while d <= max_gap {
            let dt = T::from_f64(d);
            let z = [dt, T::ZERO, T::ZERO, -dt, dt, T::ZERO];
            // Top class, non-top class, tie between two top classes, and label smoothing.
            let t = [0, 2];
            let (_, l, g) = sm(
                Layout::rows(2, 3),
                &z,
                SoftmaxTargets::Indices(&t),
                &so,
                Reduction::None,
            );
            let ls = SoftmaxOptions {
                label_smoothing: T::from_f64(0.1),
                ..so
            };
            let (_, l2, g2) = sm(
                Layout::rows(2, 3),
                &z,
                SoftmaxTargets::Indices(&[1, 0]),
                &ls,
                Reduction::None,
            );
            for v in l.iter().chain(&g).chain(&l2).chain(&g2) {
                assert!(!v.is_nan(), "softmax gamma={gamma} gap={d}: {l:?} {g:?} {l2:?} {g2:?}");
            }
            assert!(l.iter().chain(&g).all(|v| v.is_finite()), "gamma={gamma} gap={d}");
            let x = [dt, -dt, dt, -dt, dt];
            let y = [T::ONE, T::ONE, T::ZERO, T::ZERO, T::from_f64(0.3)];
            let (_, l, g) = sg(&x, &y, &go, Reduction::None);
            for v in l.iter().chain(&g) {
                assert!(v.is_finite(), "sigmoid gamma={gamma} x=±{d}: {l:?} {g:?}");
            }
            d += step;
        }
    }
}

#[test]
fn fractional_gamma_never_nan() {
    never_nan_sweep::<f64>(800.0, 0.125);
    never_nan_sweep::<f32>(110.0, 0.0625);
}

#[test]
fn sigmoid_confident_right_is_tiny_not_zero() {
    // x = 30, y = 1: m = σ(−30) = e/(1 + e), CE = log1p(e), e = e^(−30); loss = α·m^γ·CE.
    let e = (-30.0f64).exp();
    let m = e * (1.0 - e + e * e);
    let ce = e * (1.0 - e / 2.0 + e * e / 3.0);
    let p_t = 1.0 / (1.0 + e);
    for &gamma in &GAMMAS {
        let loss = 0.25 * m.powf(gamma) * ce;
        let grad = 0.25 * m.powf(gamma) * (-gamma * p_t * ce - m); // s·α·m^γ·(γ p_t log p_t − m)
        let opts = SigmoidOptions {
            gamma,
            ..SigmoidOptions::default()
        };
        let (r, _, g) = sg(&[30.0], &[1.0], &opts, Reduction::Mean);
        assert!(r.loss > 0.0, "gamma={gamma}");
        assert_close(r.loss, loss, 1e-13, 0.0, &format!("f64 loss gamma={gamma}"));
        assert!(g[0] < 0.0);
        assert_close(g[0], grad, 1e-13, 0.0, &format!("f64 grad gamma={gamma}"));
        if loss >= f32::MIN_POSITIVE as f64 {
            let opts = SigmoidOptions {
                gamma: gamma as f32,
                ..SigmoidOptions::default()
            };
            let (r, _, g) = sg(&[30.0f32], &[1.0f32], &opts, Reduction::Mean);
            assert!(r.loss > 0.0, "f32 gamma={gamma}");
            assert_close(r.loss, loss, 1e-5, 0.0, &format!("f32 loss gamma={gamma}"));
            assert_close(g[0] as f64, grad, 1e-5, 0.0, &format!("f32 grad gamma={gamma}"));
        }
    }
}

// ------------------------------------------------------------------------------------------------
// invalid inputs
// ------------------------------------------------------------------------------------------------

/// Calls the softmax loss (and the accumulate kernel) with sentinel-filled outputs of the given
/// lengths, expecting `err`, and checks nothing was written.
#[track_caller]
fn softmax_rejects(
    layout: Layout,
    z: &[f64],
    targets: SoftmaxTargets<f64>,
    opts: &SoftmaxOptions<f64>,
    loss_len: usize,
    grad_len: usize,
    err: FocalError,
) {
    for red in REDUCTIONS {
        let mut loss = vec![SENTINEL; loss_len];
        let mut grad = vec![SENTINEL; grad_len];
        let got = softmax_focal_loss(layout, z, targets, opts, red, Some(&mut loss), Some(&mut grad));
        assert_eq!(got, Err(err), "{red:?}");
        assert!(
            loss.iter().chain(&grad).all(|&v| v == SENTINEL),
            "outputs written on error"
        );
    }
    let mut loss = vec![SENTINEL; loss_len];
    let mut grad = vec![SENTINEL; grad_len];
    let mut out = Outputs {
        sum: SENTINEL,
        ..Outputs::new(Some(&mut loss), Some(&mut grad))
    };
    let got = softmax_focal_accumulate(layout, z, targets, opts, &mut out);
    assert_eq!(got, Err(err), "accumulate");
    assert_eq!(out.sum, SENTINEL);
    assert!(loss.iter().chain(&grad).all(|&v| v == SENTINEL));
}

#[test]
fn softmax_invalid_inputs() {
    let layout = Layout::rows(2, 3);
    let z = [0.5, 1.0, -1.0, 2.0, 0.0, 0.0];
    let t = [0, 2];
    let hard = SoftmaxTargets::Indices(&t);
    let ok = SoftmaxOptions::<f64>::default();
    let rej = |targets, opts: &SoftmaxOptions<f64>, err| softmax_rejects(layout, &z, targets, opts, 2, 6, err);
    for g in [-0.5, f64::NAN, f64::INFINITY, -0.0 - 1e-300] {
        rej(hard, &SoftmaxOptions { gamma: g, ..ok }, FocalError::InvalidGamma);
    }
    for eps in [1.0, 1.5, -0.1, f64::NAN] {
        rej(
            hard,
            &SoftmaxOptions {
                label_smoothing: eps,
                ..ok
            },
            FocalError::InvalidLabelSmoothing,
        );
    }
    for a in [-0.25, f64::NAN, f64::INFINITY] {
        rej(
            hard,
            &SoftmaxOptions {
                alpha: Alpha::Scalar(a),
                ..ok
            },
            FocalError::InvalidAlpha,
        );
        rej(
            hard,
            &SoftmaxOptions {
                alpha: Alpha::PerClass(&[1.0, a, 0.5]),
                ..ok
            },
            FocalError::InvalidAlpha,
        );
    }
    rej(
        hard,
        &SoftmaxOptions {
            alpha: Alpha::PerClass(&[1.0, 0.5]),
            ..ok
        },
        FocalError::LengthMismatch,
    );
    rej(
        hard,
        &SoftmaxOptions {
            weights: Some(&[1.0, -1.0]),
            ..ok
        },
        FocalError::InvalidWeight { index: 1 },
    );
    rej(
        hard,
        &SoftmaxOptions {
            weights: Some(&[f64::NAN, 1.0]),
            ..ok
        },
        FocalError::InvalidWeight { index: 0 },
    );
    rej(
        hard,
        &SoftmaxOptions {
            weights: Some(&[f64::INFINITY, 1.0]),
            ..ok
        },
        FocalError::InvalidWeight { index: 0 },
    );
    rej(
        hard,
        &SoftmaxOptions {
            weights: Some(&[1.0]),
            ..ok
        },
        FocalError::LengthMismatch,
    );
    rej(
        SoftmaxTargets::Indices(&[0, 3]),
        &ok,
        FocalError::TargetOutOfRange { index: 1 },
    );
    rej(
        SoftmaxTargets::Indices(&[-1, 0]),
        &ok,
        FocalError::TargetOutOfRange { index: 0 },
    );
    rej(
        SoftmaxTargets::Indices(&[0, -100]),
        &SoftmaxOptions { ignore_index: -1, ..ok },
        FocalError::TargetOutOfRange { index: 1 },
    );
    rej(SoftmaxTargets::Indices(&[0]), &ok, FocalError::LengthMismatch);
    rej(SoftmaxTargets::Indices(&[0, 1, 2]), &ok, FocalError::LengthMismatch);
    // Probability rows: one not summing to 1 (item 1), a value outside [0, 1] (its position).
    rej(
        SoftmaxTargets::Probabilities(&[1.0, 0.0, 0.0, 0.5, 0.2, 0.2]),
        &ok,
        FocalError::InvalidProbability { index: 1 },
    );
    rej(
        SoftmaxTargets::Probabilities(&[1.0, 0.0, 0.0, 0.5, 0.6, 0.0]),
        &ok,
        FocalError::InvalidProbability { index: 1 },
    );
    rej(
        SoftmaxTargets::Probabilities(&[0.0, 1.5, -0.5, 0.0, 0.0, 1.0]),
        &ok,
        FocalError::InvalidProbability { index: 1 },
    );
    rej(
        SoftmaxTargets::Probabilities(&[1.0, 0.0, 0.0, 0.0, f64::NAN, 1.0]),
        &ok,
        FocalError::InvalidProbability { index: 4 },
    );
    rej(
        SoftmaxTargets::Probabilities(&[1.0, 0.0, 0.0]),
        &ok,
        FocalError::LengthMismatch,
    );
    // Channels-first probability rows are gathered across the spatial stride: item (0, s = 1).
    softmax_rejects(
        Layout::channels_first(1, 3, 2),
        &z,
        SoftmaxTargets::Probabilities(&[1.0, 0.5, 0.0, 0.0, 0.0, 0.0]),
        &ok,
        2,
        6,
        FocalError::InvalidProbability { index: 1 },
    );
    // Length mismatches of logits and outputs, and a zero class count.
    softmax_rejects(layout, &z[..5], hard, &ok, 2, 6, FocalError::LengthMismatch);
    softmax_rejects(layout, &z, hard, &ok, 2, 5, FocalError::LengthMismatch);
    softmax_rejects(layout, &z, hard, &ok, 3, 6, FocalError::LengthMismatch);
    softmax_rejects(
        Layout::rows(2, 0),
        &[],
        SoftmaxTargets::Indices(&[0, 0]),
        &ok,
        2,
        0,
        FocalError::InvalidShape,
    );
    softmax_rejects(
        Layout::channels_first(usize::MAX, 2, 2),
        &[],
        hard,
        &ok,
        2,
        0,
        FocalError::InvalidShape,
    );
    // 'none' needs somewhere to put the losses.
    let mut grad = [SENTINEL; 6];
    let got = softmax_focal_loss(layout, &z, hard, &ok, Reduction::None, None, Some(&mut grad));
    assert_eq!(got, Err(FocalError::InvalidArgument));
    assert!(grad.iter().all(|&v| v == SENTINEL));
    // The error's code and index.
    assert_eq!(FocalError::TargetOutOfRange { index: 7 }.code(), 7);
    assert_eq!(FocalError::TargetOutOfRange { index: 7 }.index(), Some(7));
    assert_eq!(FocalError::InvalidGamma.index(), None);
}

#[test]
fn sigmoid_invalid_inputs() {
    let x = [0.5, -1.0, 2.0];
    let y = [1.0, 0.0, 0.5];
    let ok = SigmoidOptions::<f64>::default();
    let rej = |x: &[f64], y: &[f64], opts: &SigmoidOptions<f64>, loss_len: usize, grad_len: usize, err: FocalError| {
        for red in REDUCTIONS {
            let mut loss = vec![SENTINEL; loss_len];
            let mut grad = vec![SENTINEL; grad_len];
            assert_eq!(
                sigmoid_focal_loss(x, y, opts, red, Some(&mut loss), Some(&mut grad)),
                Err(err)
            );
            assert!(loss.iter().chain(&grad).all(|&v| v == SENTINEL));
        }
        let mut loss = vec![SENTINEL; loss_len];
        let mut grad = vec![SENTINEL; grad_len];
        let mut out = Outputs {
            sum: SENTINEL,
            ..Outputs::new(Some(&mut loss), Some(&mut grad))
        };
        assert_eq!(sigmoid_focal_accumulate(x, y, opts, &mut out), Err(err));
        assert_eq!(out.sum, SENTINEL);
        assert!(loss.iter().chain(&grad).all(|&v| v == SENTINEL));
    };
    rej(
        &x,
        &y,
        &SigmoidOptions { gamma: -1.0, ..ok },
        3,
        3,
        FocalError::InvalidGamma,
    );
    rej(
        &x,
        &y,
        &SigmoidOptions { gamma: f64::NAN, ..ok },
        3,
        3,
        FocalError::InvalidGamma,
    );
    rej(
        &x,
        &y,
        &SigmoidOptions {
            label_smoothing: 1.0,
            ..ok
        },
        3,
        3,
        FocalError::InvalidLabelSmoothing,
    );
    for a in [1.5, -0.5, f64::NAN] {
        rej(
            &x,
            &y,
            &SigmoidOptions { alpha: Some(a), ..ok },
            3,
            3,
            FocalError::InvalidAlpha,
        );
    }
    rej(
        &x,
        &y,
        &SigmoidOptions {
            weights: Some(&[1.0, 1.0, -2.0]),
            ..ok
        },
        3,
        3,
        FocalError::InvalidWeight { index: 2 },
    );
    rej(
        &x,
        &y,
        &SigmoidOptions {
            weights: Some(&[1.0, 1.0]),
            ..ok
        },
        3,
        3,
        FocalError::LengthMismatch,
    );
    rej(
        &x,
        &[1.0, 1.5, 0.0],
        &ok,
        3,
        3,
        FocalError::InvalidProbability { index: 1 },
    );
    rej(
        &x,
        &[1.0, 0.0, -0.25],
        &ok,
        3,
        3,
        FocalError::InvalidProbability { index: 2 },
    );
    rej(
        &x,
        &[f64::NAN, 0.0, 1.0],
        &ok,
        3,
        3,
        FocalError::InvalidProbability { index: 0 },
    );
    rej(&x, &y[..2], &ok, 3, 3, FocalError::LengthMismatch);
    rej(&x, &y, &ok, 2, 3, FocalError::LengthMismatch);
    rej(&x, &y, &ok, 3, 4, FocalError::LengthMismatch);
}

// ------------------------------------------------------------------------------------------------
// empty batches, nothing counted, streaming
// ------------------------------------------------------------------------------------------------

#[test]
fn empty_batch_and_nothing_counted() {
    for red in REDUCTIONS {
        let mut loss: [f64; 0] = [];
        let mut grad: [f64; 0] = [];
        let r = softmax_focal_loss(
            Layout::rows(0, 4),
            &[],
            SoftmaxTargets::Indices(&[]),
            &SoftmaxOptions::default(),
            red,
            Some(&mut loss),
            Some(&mut grad),
        )
        .unwrap();
        assert_eq!((r.loss, r.sum, r.count), (0.0, 0.0, 0));
        let r = softmax_focal_loss(
            Layout::channels_first(2, 3, 0),
            &[],
            SoftmaxTargets::Probabilities(&[]),
            &SoftmaxOptions::default(),
            red,
            Some(&mut loss),
            Some(&mut grad),
        )
        .unwrap();
        assert_eq!((r.loss, r.count), (0.0, 0));
        let r =
            sigmoid_focal_loss::<f32>(&[], &[], &SigmoidOptions::default(), red, Some(&mut []), Some(&mut [])).unwrap();
        assert_eq!((r.loss, r.count), (0.0, 0));
    }
    // Every item ignored: 'mean' is 0 with a zero gradient (written over the sentinel).
    let z = [1.0, 2.0, 3.0, -1.0, 0.0, 4.0];
    for red in REDUCTIONS {
        let mut loss = [SENTINEL; 2];
        let mut grad = [SENTINEL; 6];
        let r = softmax_focal_loss(
            Layout::rows(2, 3),
            &z,
            SoftmaxTargets::Indices(&[-100, -100]),
            &SoftmaxOptions::default(),
            red,
            Some(&mut loss),
            Some(&mut grad),
        )
        .unwrap();
        assert_eq!((r.loss, r.sum, r.count), (0.0, 0.0, 0), "{red:?}");
        assert_eq!(loss, [0.0; 2]);
        assert_eq!(grad, [0.0; 6]);
    }
}

#[test]
fn softmax_streaming_is_bit_identical() {
    let mut rng = Rng::new(7);
    for round in 0..40 {
        let gamma = GAMMAS[round % GAMMAS.len()];
        let mut case = random_sm_case(&mut rng, gamma);
        // A longer batch so that there are several places to split.
        let classes = case.layout.classes;
        let (batch, spatial) = if round % 2 == 0 { (13, 1) } else { (7, 3) };
        case.layout = Layout::channels_first(batch, classes, spatial);
        let len = case.layout.logits().unwrap();
        let items = batch * spatial;
        case.z = (0..len).map(|_| rng.range(-6.0, 6.0)).collect();
        if case.indices.is_some() || round % 3 == 0 {
            case.probs = None;
            case.indices = Some(
                (0..items)
                    .map(|_| {
                        if rng.chance(0.2) {
                            case.ignore_index
                        } else {
                            rng.below(classes) as i32
                        }
                    })
                    .collect(),
            );
        } else {
            let mut q = vec![0.0; len];
            for n in 0..batch {
                for s in 0..spatial {
                    let row: Vec<f64> = (0..classes).map(|_| rng.unit() + 0.05).collect();
                    let total: f64 = row.iter().sum();
                    for c in 0..classes {
                        q[case.at(n, c, s)] = row[c] / total;
                    }
                }
            }
            case.probs = Some(q);
        }
        if case.weights.is_some() {
            case.weights = Some((0..items).map(|_| rng.range(0.0, 2.0)).collect());
        }
        let (whole, wl, wg) = case.run(Reduction::Mean);
        let grad_scale = if whole.count > 0 { 1.0 / whole.count as f64 } else { 0.0 };
        for cuts in [
            vec![1],
            vec![6],
            vec![0, 2, 5, 5, 9],
            vec![1, 2, 3, 4, 5, 6],
            vec![batch - 1],
        ] {
            let mut bounds: Vec<usize> = vec![0];
            bounds.extend(cuts.iter().map(|&c| c.min(batch)));
            bounds.push(batch);
            let mut acc = 0.0f64;
            let mut counted = 0;
            let mut loss = vec![SENTINEL; items];
            let mut grad = vec![SENTINEL; len];
            for w in bounds.windows(2) {
                let (a, b) = (w[0], w[1]);
                let layout = Layout::channels_first(b - a, classes, spatial);
                let (z0, z1) = (a * classes * spatial, b * classes * spatial);
                let (i0, i1) = (a * spatial, b * spatial);
                let targets = match (&case.indices, &case.probs) {
                    (Some(t), _) => SoftmaxTargets::Indices(&t[i0..i1]),
                    (None, Some(q)) => SoftmaxTargets::Probabilities(&q[z0..z1]),
                    _ => unreachable!(),
                };
                let weights = case.weights.as_ref().map(|w| &w[i0..i1]);
                let opts = SoftmaxOptions { weights, ..case.opts() };
                let mut out = Outputs {
                    grad_scale,
                    sum: acc,
                    ..Outputs::new(Some(&mut loss[i0..i1]), Some(&mut grad[z0..z1]))
                };
                counted += softmax_focal_accumulate(layout, &case.z[z0..z1], targets, &opts, &mut out).unwrap();
                acc = out.sum;
            }
            assert_eq!(counted, whole.count, "round {round} cuts {cuts:?}");
            assert_eq!(acc.to_bits(), whole.sum.to_bits(), "round {round} cuts {cuts:?}: sum");
            assert_eq!(loss, wl, "round {round} cuts {cuts:?}: losses");
            assert_eq!(grad, wg, "round {round} cuts {cuts:?}: gradient");
        }
    }
}

#[test]
fn sigmoid_streaming_is_bit_identical() {
    let mut rng = Rng::new(8);
    let n = 29;
    let x: Vec<f64> = (0..n).map(|_| rng.range(-10.0, 10.0)).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| if i % 4 == 0 { rng.unit() } else { (i % 2) as f64 })
        .collect();
    let w: Vec<f64> = (0..n).map(|_| rng.range(0.0, 2.0)).collect();
    for &gamma in &GAMMAS {
        let opts = SigmoidOptions {
            gamma,
            weights: Some(&w),
            ..SigmoidOptions::default()
        };
        let (whole, wl, wg) = sg(&x, &y, &opts, Reduction::Mean);
        for cuts in [vec![1], vec![10, 11, 20], vec![28]] {
            let mut bounds = vec![0];
            bounds.extend(cuts);
            bounds.push(n);
            let mut acc = 0.0f64;
            let mut loss = vec![SENTINEL; n];
            let mut grad = vec![SENTINEL; n];
            for b in bounds.windows(2) {
                let (a, b) = (b[0], b[1]);
                let o = SigmoidOptions {
                    weights: Some(&w[a..b]),
                    ..opts
                };
                let mut out = Outputs {
                    grad_scale: 1.0 / n as f64,
                    sum: acc,
                    ..Outputs::new(Some(&mut loss[a..b]), Some(&mut grad[a..b]))
                };
                sigmoid_focal_accumulate(&x[a..b], &y[a..b], &o, &mut out).unwrap();
                acc = out.sum;
            }
            assert_eq!(acc.to_bits(), whole.sum.to_bits());
            assert_eq!(loss, wl);
            assert_eq!(grad, wg);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// f32 against f64 on the same inputs
// ------------------------------------------------------------------------------------------------

#[test]
fn f32_tracks_f64_for_hard_targets() {
    // With hard targets nothing cancels (entries are G·(1 − p_t) and −G·p_j), so every f32 loss and
    // gradient entry is within ~1e-5 relative of the f64 result on the same (f32) inputs, down to
    // the smallest normal f32; logits spread over ±60 reach p_t within 1e-26 of 1.
    let mut rng = Rng::new(9);
    let tiny = f32::MIN_POSITIVE as f64;
    let mut worst = 0.0f64;
    for &gamma in &[0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0] {
        for _ in 0..200 {
            let classes = 2 + rng.below(9);
            let spread = [1.0, 10.0, 60.0][rng.below(3)];
            let z: Vec<f64> = (0..classes).map(|_| rng.range(-spread, spread) as f32 as f64).collect();
            let t = [rng.below(classes) as i32];
            let alpha = [rng.range(0.05, 1.0) as f32 as f64];
            let o64 = SoftmaxOptions {
                gamma,
                alpha: Alpha::Scalar(alpha[0]),
                ..SoftmaxOptions::default()
            };
            let a32 = alpha[0] as f32;
            let o32 = SoftmaxOptions {
                gamma: gamma as f32,
                alpha: Alpha::Scalar(a32),
                ..SoftmaxOptions::default()
            };
            let layout = Layout::rows(1, classes);
            let (_, l64, g64) = sm(layout, &z, SoftmaxTargets::Indices(&t), &o64, Reduction::None);
            let (_, l32, g32) = sm(
                layout,
                &to_t::<f32>(&z),
                SoftmaxTargets::Indices(&t),
                &o32,
                Reduction::None,
            );
            let pairs =
                std::iter::once((l32[0] as f64, l64[0])).chain(g32.iter().map(|&v| v as f64).zip(g64.iter().cloned()));
            for (k, (a, b)) in pairs.enumerate() {
                if b.abs() > f32::MAX as f64 {
                    continue;
                }
                if b.abs() >= tiny {
                    worst = worst.max((a - b).abs() / b.abs());
                }
                assert!(
                    close(a, b, 1e-5, tiny),
                    "gamma={gamma} z={z:?} t={t:?} alpha={alpha:?} value {k}: f32 {a:e} vs f64 {b:e}"
                );
            }
        }
    }
    println!("f32 vs f64 (hard targets): worst relative difference {worst:.3e}");
}

#[test]
fn f32_tracks_f64_for_sigmoid() {
    let mut rng = Rng::new(10);
    let tiny = f32::MIN_POSITIVE as f64;
    for &gamma in &[0.0, 0.25, 0.5, 1.0, 2.0, 5.0] {
        let n = 400;
        let x: Vec<f64> = (0..n).map(|_| rng.range(-80.0, 80.0) as f32 as f64).collect();
        let y: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
        let o64 = SigmoidOptions {
            gamma,
            ..SigmoidOptions::default()
        };
        let o32 = SigmoidOptions {
            gamma: gamma as f32,
            ..SigmoidOptions::default()
        };
        let (_, l64, g64) = sg(&x, &y, &o64, Reduction::None);
        let (_, l32, g32) = sg(&to_t::<f32>(&x), &to_t::<f32>(&y), &o32, Reduction::None);
        for i in 0..n {
            assert!(
                close(l32[i] as f64, l64[i], 1e-5, tiny),
                "gamma={gamma} x={} y={}: loss {} vs {}",
                x[i],
                y[i],
                l32[i],
                l64[i]
            );
            assert!(
                close(g32[i] as f64, g64[i], 1e-5, tiny),
                "gamma={gamma} x={} y={}: grad {} vs {}",
                x[i],
                y[i],
                g32[i],
                g64[i]
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Poly-1 (softmax)
// ------------------------------------------------------------------------------------------------

#[test]
fn softmax_poly_gradient_matches_finite_differences() {
    let mut rng = Rng::new(91);
    let mut checked = 0;
    for &gamma in &GAMMAS {
        for round in 0..20 {
            let mut case = random_sm_case(&mut rng, gamma);
            case.poly = [1.0, -0.5, 2.5, -3.0][rng.below(4)];
            for &red in &REDUCTIONS {
                let (_, _, grad) = case.run(red);
                let f = |z: &[f64]| case.run_at(z, red).0.loss;
                check_gradient(
                    &format!("softmax poly gamma={gamma} round={round} {red:?} {case:?}"),
                    &f,
                    &case.z,
                    &grad,
                    FD_LOSS_RTOL,
                );
                checked += grad.len();
            }
        }
    }
    assert!(checked > 1000);
}

/// Σ_c q_c (1 − p_c)^(γ+1) of item (n, s) in double-double, with 1 − p_c = Σ_{j≠c} e^(z_j)/Σ_j e^(z_j)
/// (no subtraction).
fn poly_term(case: &SmCase, z: &[f64], n: usize, s: usize) -> Option<DD> {
    let q = case.q(n, s)?;
    let c_n = case.layout.classes;
    let zs: Vec<f64> = (0..c_n).map(|c| z[case.at(n, c, s)]).collect();
    let m = zs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<DD> = zs.iter().map(|&v| DD::new(v - m).exp()).collect();
    let total = e.iter().fold(DD::ZERO, |a, &b| a + b);
    let mut sum = DD::ZERO;
    for (c, &qc) in q.iter().enumerate() {
        if qc == 0.0 {
            continue;
        }
        let others = (0..c_n).filter(|&j| j != c).fold(DD::ZERO, |a, j| a + e[j]);
        sum = sum + DD::new(qc) * (others / total).powf(case.gamma + 1.0);
    }
    Some(sum)
}

/// ε ≠ 0 adds exactly w·ε·Σ_c q_c (1 − p_c)^(γ+1) to each item's loss (after alpha: not scaled
/// by a_c), also where 1 − p_t is 1e-30; ε = ±0 gives the results without the term, bit for bit.
#[test]
fn softmax_poly_adds_its_term() {
    let mut rng = Rng::new(92);
    for &gamma in &GAMMAS {
        for _ in 0..30 {
            let mut case = random_sm_case(&mut rng, gamma);
            // Some confident rows: 1 − p_t down to ~1e-30.
            if rng.chance(0.3) {
                for v in case.z.iter_mut() {
                    *v *= 20.0;
                }
            }
            let (base, l0, g0) = case.run(Reduction::None);
            case.poly = -0.0;
            let (neg_zero, l1, g1) = case.run(Reduction::None);
            assert_eq!(base.sum.to_bits(), neg_zero.sum.to_bits());
            assert!(l0.iter().zip(&l1).all(|(a, b)| a.to_bits() == b.to_bits()));
            assert!(g0.iter().zip(&g1).all(|(a, b)| a.to_bits() == b.to_bits()));
            for eps in [1.0, -0.5] {
                case.poly = eps;
                let (_, l2, _) = case.run(Reduction::None);
                for n in 0..case.layout.batch {
                    for s in 0..case.layout.spatial {
                        let item = n * case.layout.spatial + s;
                        let Some(term) = poly_term(&case, &case.z, n, s) else {
                            assert_eq!(l2[item], 0.0);
                            continue;
                        };
                        let w = case.weights.as_ref().map_or(1.0, |w| w[item]);
                        let extra = DD::new(w * eps) * term;
                        let want = DD::new(l0[item]) + extra;
                        let size = l0[item].abs() + extra.abs().to_f64();
                        assert!(
                            (l2[item] - want.to_f64()).abs() <= 1e-12 * size + 1e-300,
                            "γ={gamma} ε={eps} item {item}: {:e} vs {:e} (base {:e}) {case:?}",
                            l2[item],
                            want.to_f64(),
                            l0[item]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn softmax_poly_epsilon_must_be_finite() {
    let z = [0.5, -1.0, 2.0];
    for eps in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let opts = SoftmaxOptions {
            poly_epsilon: eps,
            ..SoftmaxOptions::default()
        };
        softmax_rejects(
            Layout::rows(1, 3),
            &z,
            SoftmaxTargets::Indices(&[1]),
            &opts,
            1,
            3,
            FocalError::InvalidPolyEpsilon,
        );
    }
}
