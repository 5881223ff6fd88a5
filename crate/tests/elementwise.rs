//! Tests of the element-wise family (`elementwise_accumulate`): the sigmoid focal loss with
//! posWeight / Poly-1 / label smoothing, Quality Focal Loss, Varifocal Loss and the Asymmetric Loss.
//!
//! Every expected value is computed here, independently of the kernels:
//! - references in double-double (`dd`) from the definitions — σ(x), 1 − σ(x) = σ(−x), log,
//!   powers, the losses exactly as CONTRACT.md / the SPEC write them — and their gradients by the
//!   textbook chain rule, itself checked against double-double finite differences;
//! - Richardson-extrapolated central differences of the kernels' own f64 losses;
//! - identities between the losses (β = 0, γ = 0, … are BCE) and between target forms (class
//!   indices against the equivalent one-hot arrays, bit for bit).

mod dd;
mod fd;
mod rng;

use dd::DD;
use fd::check_gradient;
use focal_loss::{
    elementwise_accumulate, elementwise_loss, scalar, sigmoid_focal_loss, ElementCounts, ElementLoss, ElementOptions,
    ElementTargets, FocalError, Layout, Outputs, PosWeight, Real, Reduction, SigmoidOptions,
};
use rng::Rng;

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const GAMMAS: [f64; 5] = [0.0, 0.5, 1.0, 2.0, 3.5];
const BETAS: [f64; 4] = [0.0, 0.5, 1.0, 2.0];

/// The kind of positive weight of a case (its values are in `Case::pw_t`).
#[derive(Clone, Copy, Debug)]
enum Pw {
    None,
    Scalar,
    PerClass,
}

/// An owned configuration (the options borrow from it), in f64; `Case::convert` gives other
/// precisions.
#[derive(Clone, Debug)]
struct Case<T> {
    layout: Layout,
    x: Vec<T>,
    dense: Option<Vec<T>>,
    indices: Option<Vec<i32>>,
    ignore: i32,
    loss: ElementLoss<T>,
    smoothing: T,
    poly: T,
    pw: Pw,
    pw_t: Vec<T>,
    weights: Option<Vec<T>>,
}

fn map_loss<A: Real, B: Real>(l: ElementLoss<A>) -> ElementLoss<B> {
    let c = |v: A| B::from_f64(v.to_f64());
    match l {
        ElementLoss::Focal { gamma, alpha } => ElementLoss::Focal {
            gamma: c(gamma),
            alpha: alpha.map(c),
        },
        ElementLoss::Quality { beta } => ElementLoss::Quality { beta: c(beta) },
        ElementLoss::Varifocal {
            alpha,
            gamma,
            iou_weighted,
        } => ElementLoss::Varifocal {
            alpha: c(alpha),
            gamma: c(gamma),
            iou_weighted,
        },
        ElementLoss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            detach_focal_weight,
        } => ElementLoss::Asymmetric {
            gamma_pos: c(gamma_pos),
            gamma_neg: c(gamma_neg),
            clip: c(clip),
            detach_focal_weight,
        },
    }
}

impl<T: Real> Case<T> {
    fn opts(&self) -> ElementOptions<'_, T> {
        ElementOptions {
            loss: self.loss,
            label_smoothing: self.smoothing,
            pos_weight: match self.pw {
                Pw::None => PosWeight::None,
                Pw::Scalar => PosWeight::Scalar(self.pw_t[0]),
                Pw::PerClass => PosWeight::PerClass(&self.pw_t),
            },
            poly_epsilon: self.poly,
            weights: self.weights.as_deref(),
        }
    }
    fn targets(&self) -> ElementTargets<'_, T> {
        match (&self.dense, &self.indices) {
            (Some(y), _) => ElementTargets::Dense(y),
            (None, Some(t)) => ElementTargets::Indices {
                indices: t,
                ignore_index: self.ignore,
            },
            _ => unreachable!(),
        }
    }
    fn convert<U: Real>(&self) -> Case<U> {
        let v = |s: &[T]| s.iter().map(|&a| U::from_f64(a.to_f64())).collect::<Vec<U>>();
        Case {
            layout: self.layout,
            x: v(&self.x),
            dense: self.dense.as_deref().map(v),
            indices: self.indices.clone(),
            ignore: self.ignore,
            loss: map_loss(self.loss),
            smoothing: U::from_f64(self.smoothing.to_f64()),
            poly: U::from_f64(self.poly.to_f64()),
            pw: self.pw,
            pw_t: v(&self.pw_t),
            weights: self.weights.as_deref().map(v),
        }
    }
    fn len(&self) -> usize {
        self.x.len()
    }
    /// (class, item) of element i.
    fn at(&self, i: usize) -> (usize, usize) {
        let (c, s) = (self.layout.classes, self.layout.spatial);
        ((i / s) % c, i / (c * s) * s + i % s)
    }
    /// (y, w, pw) of element i, or None if its item is ignored.
    fn element(&self, i: usize) -> Option<(f64, f64, f64)> {
        let (c, item) = self.at(i);
        let (y, w) = match (&self.dense, &self.indices) {
            (Some(y), _) => (y[i].to_f64(), self.weights.as_ref().map_or(1.0, |w| w[i].to_f64())),
            (None, Some(t)) => {
                if t[item] == self.ignore {
                    return None;
                }
                let y = if t[item] as usize == c { 1.0 } else { 0.0 };
                (y, self.weights.as_ref().map_or(1.0, |w| w[item].to_f64()))
            }
            _ => unreachable!(),
        };
        let pw = match self.pw {
            Pw::None => 1.0,
            Pw::Scalar => self.pw_t[0].to_f64(),
            Pw::PerClass => self.pw_t[c].to_f64(),
        };
        Some((y, w, pw))
    }
    fn params(&self, pw: f64) -> Params {
        Params {
            loss: map_loss(self.loss),
            smoothing: self.smoothing.to_f64(),
            poly: self.poly.to_f64(),
            pw,
        }
    }
}

/// A random case: layout (rows, channels-first, flat), targets (dense hard/soft, or class indices
/// with background and ignored items), options.
fn random_case(rng: &mut Rng, loss: ElementLoss<f64>, x_range: f64) -> Case<f64> {
    let layout = match rng.below(3) {
        0 => Layout::rows(1 + rng.below(6), 1 + rng.below(5)),
        1 => Layout::channels_first(1 + rng.below(3), 1 + rng.below(5), 1 + rng.below(4)),
        _ => Layout::rows(1 + rng.below(12), 1),
    };
    let classes = layout.classes;
    let len = layout.logits().unwrap();
    let items = layout.items().unwrap();
    let x: Vec<f64> = (0..len).map(|_| rng.range(-x_range, x_range)).collect();
    let focal = matches!(loss, ElementLoss::Focal { .. });
    let use_indices = rng.chance(0.4);
    let soft = rng.below(3);
    let mut case = Case {
        layout,
        x,
        dense: None,
        indices: None,
        ignore: if rng.chance(0.5) { -100 } else { -1 },
        loss,
        smoothing: 0.0,
        poly: 0.0,
        pw: Pw::None,
        pw_t: vec![],
        weights: None,
    };
    if use_indices {
        let ignore = case.ignore;
        case.indices = Some(
            (0..items)
                .map(|_| match rng.below(6) {
                    0 => ignore,
                    1 => classes as i32, // background
                    _ => rng.below(classes) as i32,
                })
                .collect(),
        );
        if rng.chance(0.5) {
            case.weights = Some((0..items).map(|_| rng.range(0.0, 2.0)).collect());
        }
    } else {
        case.dense = Some(
            (0..len)
                .map(|_| match soft {
                    0 => rng.below(2) as f64,
                    1 => {
                        if rng.chance(0.5) {
                            rng.below(2) as f64
                        } else {
                            rng.unit()
                        }
                    }
                    _ => {
                        if rng.chance(0.3) {
                            0.0
                        } else {
                            rng.unit()
                        }
                    }
                })
                .collect(),
        );
        if rng.chance(0.5) {
            case.weights = Some((0..len).map(|_| rng.range(0.0, 2.0)).collect());
        }
    }
    if focal {
        if rng.chance(0.3) {
            case.smoothing = rng.pick(&[0.05, 0.1, 0.3]);
        }
        if rng.chance(0.5) {
            case.poly = rng.pick(&[1.0, -0.5, 2.5, 1e-3]);
        }
        match rng.below(3) {
            0 => {}
            1 => {
                case.pw = Pw::Scalar;
                case.pw_t = vec![rng.pick(&[0.0, 0.5, 3.0])];
            }
            _ => {
                case.pw = Pw::PerClass;
                case.pw_t = (0..classes).map(|_| rng.range(0.0, 4.0)).collect();
            }
        }
    }
    case
}

/// Every loss and parameter combination of the brief: γ ∈ GAMMAS, β ∈ BETAS, clip ∈ {0, 0.05},
/// detach and iou_weighted on and off, α on and off.
fn all_losses() -> Vec<ElementLoss<f64>> {
    let mut v = Vec::new();
    for &gamma in &GAMMAS {
        for alpha in [None, Some(0.25), Some(0.8)] {
            v.push(ElementLoss::Focal { gamma, alpha });
        }
        for iou_weighted in [true, false] {
            v.push(ElementLoss::Varifocal {
                alpha: 0.75,
                gamma,
                iou_weighted,
            });
        }
    }
    for &beta in &BETAS {
        v.push(ElementLoss::Quality { beta });
    }
    for &gamma_pos in &[0.0, 1.0, 0.5] {
        for &gamma_neg in &GAMMAS {
            for clip in [0.0, 0.05] {
                for detach_focal_weight in [false, true] {
                    v.push(ElementLoss::Asymmetric {
                        gamma_pos,
                        gamma_neg,
                        clip,
                        detach_focal_weight,
                    });
                }
            }
        }
    }
    v
}

type Run<T> = (Vec<T>, Vec<T>, f64, ElementCounts);

/// One accumulate call (vectorised or scalar path) with `grad_scale` 1: per-element losses,
/// gradient, sum, counts.
fn run<T: Real>(c: &Case<T>, x: &[T], vectorised: bool) -> Run<T> {
    run_scaled(c, x, vectorised, 1.0)
}

fn run_scaled<T: Real>(c: &Case<T>, x: &[T], vectorised: bool, grad_scale: f64) -> Run<T> {
    let mut loss = vec![T::NAN; c.len()];
    let mut grad = vec![T::NAN; c.len()];
    let mut out = Outputs {
        grad_scale,
        ..Outputs::new(Some(&mut loss), Some(&mut grad))
    };
    let f = if vectorised {
        elementwise_accumulate::<T>
    } else {
        scalar::elementwise_accumulate::<T>
    };
    let counts = f(c.layout, x, c.targets(), &c.opts(), &mut out).unwrap();
    let sum = out.sum;
    (loss, grad, sum, counts)
}

fn same_bits<T: Real>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits() || (x.is_nan() && y.is_nan()))
}

// ------------------------------------------------------------------------------------------------
// double-double references (the definitions)
// ------------------------------------------------------------------------------------------------

/// The parameters of one element's reference.
#[derive(Clone, Copy, Debug)]
struct Params {
    loss: ElementLoss<f64>,
    smoothing: f64,
    poly: f64,
    pw: f64,
}

/// σ(x) and 1 − σ(x) = σ(−x).
fn sig(x: DD) -> (DD, DD) {
    let e = (-x.abs()).exp();
    let big = (DD::ONE + e).recip();
    let small = e * big;
    if x.hi >= 0.0 {
        (big, small)
    } else {
        (small, big)
    }
}

/// softplus(x) = log(1 + e^x) = −log σ(−x).
fn softplus(x: DD) -> DD {
    let e = (-x.abs()).exp();
    x.max(DD::ZERO) + e.ln_1p()
}

/// c·v, exactly 0 when c = 0 (a zero weight contributes exactly 0, even against an infinite v).
fn weighted(c: DD, v: DD) -> DD {
    if c.hi == 0.0 {
        DD::ZERO
    } else {
        c * v
    }
}

/// BCE(x, y) = y·softplus(−x) + (1 − y)·softplus(x).
fn bce(x: DD, y: DD, y_bar: DD) -> DD {
    weighted(y, softplus(-x)) + weighted(y_bar, softplus(x))
}

/// (y, 1 − y) after label smoothing, in double-double.
fn smooth(y0: f64, eps: f64) -> (DD, DD) {
    let (y0, e) = (DD::new(y0), DD::new(eps));
    let half = DD::new(eps * 0.5);
    (y0 * (DD::ONE - e) + half, (DD::ONE - y0) * (DD::ONE - e) + half)
}

/// The loss of one element (before w), by definition.
fn ref_loss(p: &Params, x: DD, y0: f64) -> DD {
    let (sp, sq) = sig(x);
    match p.loss {
        ElementLoss::Focal { gamma, alpha } => {
            let (y, y_bar) = smooth(y0, p.smoothing);
            let ce = weighted(DD::new(p.pw) * y, softplus(-x)) + weighted(y_bar, softplus(x));
            let m = y * sq + y_bar * sp;
            let alpha_t = match alpha {
                Some(a) => DD::new(a) * y + DD::new(1.0 - a) * y_bar,
                None => DD::ONE,
            };
            let focal = m.powf(gamma);
            let mut l = weighted(alpha_t * focal, ce);
            if p.poly != 0.0 {
                l = l + DD::new(p.poly) * focal * m;
            }
            l
        }
        ElementLoss::Quality { beta } => {
            let (y, y_bar) = (DD::new(y0), DD::ONE - DD::new(y0));
            let d = (y - DD::ONE) + sq; // y − σ(x)
            d.abs().powf(beta) * bce(x, y, y_bar)
        }
        ElementLoss::Varifocal {
            alpha,
            gamma,
            iou_weighted,
        } => {
            if y0 > 0.0 {
                let (y, y_bar) = (DD::new(y0), DD::ONE - DD::new(y0));
                let k = if iou_weighted { y } else { DD::ONE };
                k * bce(x, y, y_bar)
            } else {
                DD::new(alpha) * sp.powf(gamma) * softplus(x)
            }
        }
        ElementLoss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            ..
        } => {
            let (y, y_bar) = (DD::new(y0), DD::ONE - DD::new(y0));
            let pos = weighted(y, sq.powf(gamma_pos) * softplus(-x));
            let pm = (sp - DD::new(clip)).max(DD::ZERO);
            let neg = if pm.hi > 0.0 {
                weighted(y_bar, pm.powf(gamma_neg) * neg_log_one_minus_pm(x, sq, clip))
            } else {
                DD::ZERO
            };
            pos + neg
        }
    }
}

/// −log(1 − p_m): 1 − p_m = (1 − p) + clip; for clip = 0, −log(1 − σ(x)) = softplus(x) (so that
/// 1 − p below the double-double range still gives the right value).
fn neg_log_one_minus_pm(x: DD, sq: DD, clip: f64) -> DD {
    if clip == 0.0 {
        softplus(x)
    } else {
        -(sq + DD::new(clip)).ln()
    }
}

/// ASL with its focal factors frozen at x0 (what `detach_focal_weight` differentiates).
fn ref_loss_detached(p: &Params, x0: DD, x: DD, y0: f64) -> DD {
    let ElementLoss::Asymmetric {
        gamma_pos,
        gamma_neg,
        clip,
        ..
    } = p.loss
    else {
        unreachable!()
    };
    let (sp0, sq0) = sig(x0);
    let pm0 = (sp0 - DD::new(clip)).max(DD::ZERO);
    let (sp, sq) = sig(x);
    let (y, y_bar) = (DD::new(y0), DD::ONE - DD::new(y0));
    let pos = weighted(y, sq0.powf(gamma_pos) * softplus(-x));
    let pm = (sp - DD::new(clip)).max(DD::ZERO);
    let neg = if pm.hi > 0.0 && pm0.hi > 0.0 {
        weighted(y_bar, pm0.powf(gamma_neg) * neg_log_one_minus_pm(x, sq, clip))
    } else {
        DD::ZERO
    };
    pos + neg
}

/// ∂loss/∂x of one element (before w) by the textbook chain rule (p' = p(1 − p)), in double-double.
fn ref_grad(p: &Params, x: DD, y0: f64) -> DD {
    let (sp, sq) = sig(x);
    let pq = sp * sq;
    match p.loss {
        ElementLoss::Focal { gamma, alpha } => {
            let (y, y_bar) = smooth(y0, p.smoothing);
            let pw = DD::new(p.pw);
            let ce = weighted(pw * y, softplus(-x)) + weighted(y_bar, softplus(x));
            let m = y * sq + y_bar * sp;
            let alpha_t = match alpha {
                Some(a) => DD::new(a) * y + DD::new(1.0 - a) * y_bar,
                None => DD::ONE,
            };
            let one_minus_2y = y_bar - y;
            // d(m^γ)/dx = γ m^(γ−1) (1 − 2y) p(1 − p); d CE/dx = pw·y·(p − 1) + (1 − y)·p.
            let dfocal = if gamma == 0.0 {
                DD::ZERO
            } else {
                DD::new(gamma) * m.powf(gamma - 1.0) * one_minus_2y * pq
            };
            let dce = -(pw * y * sq) + y_bar * sp;
            let mut g = alpha_t * (weighted(dfocal, ce) + m.powf(gamma) * dce);
            if p.poly != 0.0 {
                g = g + DD::new(p.poly * (gamma + 1.0)) * m.powf(gamma) * one_minus_2y * pq;
            }
            g
        }
        ElementLoss::Quality { beta } => {
            let (y, y_bar) = (DD::new(y0), DD::ONE - DD::new(y0));
            let d = (y - DD::ONE) + sq; // y − p
            let a = d.abs();
            let b = bce(x, y, y_bar);
            let sign_p_minus_y = if d.hi > 0.0 { -1.0 } else { 1.0 };
            let dpow = if a.hi == 0.0 || beta == 0.0 {
                DD::ZERO
            } else {
                DD::new(beta * sign_p_minus_y) * a.powf(beta - 1.0) * pq
            };
            weighted(dpow, b) + a.powf(beta) * (-d)
        }
        ElementLoss::Varifocal {
            alpha,
            gamma,
            iou_weighted,
        } => {
            if y0 > 0.0 {
                let y = DD::new(y0);
                let k = if iou_weighted { y } else { DD::ONE };
                k * -((y - DD::ONE) + sq)
            } else {
                // d/dx [α p^γ softplus(x)] = α (γ p^(γ−1) p(1 − p) softplus(x) + p^γ p).
                let dpow = if gamma == 0.0 || sp.hi == 0.0 {
                    DD::ZERO
                } else {
                    DD::new(gamma) * sp.powf(gamma - 1.0) * pq
                };
                DD::new(alpha) * (dpow * softplus(x) + sp.powf(gamma) * sp)
            }
        }
        ElementLoss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            detach_focal_weight,
        } => {
            let (y, y_bar) = (DD::new(y0), DD::ONE - DD::new(y0));
            // d/dx [(1 − p)^γ₊ · softplus(−x)] = −γ₊(1 − p)^(γ₊−1) p(1 − p) softplus(−x) − (1 − p)^γ₊ (1 − p).
            let dpow_pos = if gamma_pos == 0.0 || detach_focal_weight || sq.hi == 0.0 {
                DD::ZERO
            } else {
                -(DD::new(gamma_pos) * sq.powf(gamma_pos - 1.0) * pq)
            };
            let pos = if y.hi == 0.0 {
                DD::ZERO
            } else {
                y * (weighted(dpow_pos, softplus(-x)) - sq.powf(gamma_pos) * sq)
            };
            let pm = (sp - DD::new(clip)).max(DD::ZERO);
            let neg = if pm.hi > 0.0 {
                // d/dx [p_m^γ₋ · (−log(1 − p_m))] = γ₋ p_m^(γ₋−1) p(1 − p) (−log(1 − p_m)) + p_m^γ₋ p(1 − p)/(1 − p_m),
                // where p(1 − p)/(1 − p_m) = p for clip = 0.
                let dpow = if gamma_neg == 0.0 || detach_focal_weight {
                    DD::ZERO
                } else {
                    DD::new(gamma_neg) * pm.powf(gamma_neg - 1.0) * pq * neg_log_one_minus_pm(x, sq, clip)
                };
                let dlog = if clip == 0.0 { sp } else { pq / (sq + DD::new(clip)) };
                weighted(y_bar, dpow + pm.powf(gamma_neg) * dlog)
            } else {
                DD::ZERO
            };
            pos + neg
        }
    }
}

/// Richardson-extrapolated central difference of f at x, in double-double.
fn dd_derivative(f: &dyn Fn(DD) -> DD, x: f64) -> DD {
    // h a power of two, so that x ± h is exact in double-double.
    let h = 2f64.powi(x.abs().max(1.0).log2().floor() as i32 - 30);
    let d = |h: f64| (f(DD::new(x) + DD::new(h)) - f(DD::new(x) - DD::new(h))) / DD::new(2.0 * h);
    (DD::new(4.0) * d(h * 0.5) - d(h)) / DD::new(3.0)
}

/// Whether x is within `margin` (in x) of a point where the loss is not smooth: QFL at y = σ(x),
/// ASL at σ(x) = clip.
fn near_kink(p: &Params, x: f64, y0: f64, margin: f64) -> bool {
    let s = |v: f64| 1.0 / (1.0 + (-v).exp());
    let crosses = |level: f64| {
        let (a, b) = (s(x - margin) - level, s(x + margin) - level);
        a * b <= 0.0
    };
    match p.loss {
        ElementLoss::Quality { beta } => beta != 0.0 && crosses(y0),
        ElementLoss::Asymmetric { clip, .. } => clip > 0.0 && crosses(clip),
        _ => false,
    }
}

#[test]
fn double_double_arithmetic() {
    dd::self_test();
}

/// The textbook gradients used as references are the derivatives of the reference losses (so a
/// slip in either would show): double-double central differences at random regular points.
#[test]
fn reference_gradients_are_derivatives_of_reference_losses() {
    let mut rng = Rng::new(11);
    let mut checked = 0;
    for loss in all_losses() {
        for _ in 0..6 {
            let x = rng.range(-9.0, 9.0);
            let (u1, u2) = (rng.unit(), rng.unit());
            let y0 = rng.pick(&[0.0, 1.0, u1, u2]);
            let params = Params {
                loss,
                smoothing: if matches!(loss, ElementLoss::Focal { .. }) && rng.chance(0.3) {
                    0.1
                } else {
                    0.0
                },
                poly: if matches!(loss, ElementLoss::Focal { .. }) {
                    rng.pick(&[0.0, 1.0, -0.5])
                } else {
                    0.0
                },
                pw: if matches!(loss, ElementLoss::Focal { .. }) {
                    rng.pick(&[1.0, 0.0, 2.5])
                } else {
                    1.0
                },
            };
            if near_kink(&params, x, y0, 0.05) {
                continue;
            }
            let detach = matches!(
                loss,
                ElementLoss::Asymmetric {
                    detach_focal_weight: true,
                    ..
                }
            );
            let num = if detach {
                dd_derivative(&|v| ref_loss_detached(&params, DD::new(x), v, y0), x)
            } else {
                dd_derivative(&|v| ref_loss(&params, v, y0), x)
            };
            let ana = ref_grad(&params, DD::new(x), y0);
            let err = (num - ana).abs().to_f64();
            let size = ana
                .abs()
                .to_f64()
                .max(ref_loss(&params, DD::new(x), y0).abs().to_f64() * 1e-3);
            assert!(
                err <= 1e-18 * size + 1e-300,
                "{params:?} x={x} y={y0}: d/dx by differences {:e}, textbook {:e}",
                num.to_f64(),
                ana.to_f64()
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

// ------------------------------------------------------------------------------------------------
// the kernels against the references
// ------------------------------------------------------------------------------------------------

/// Tolerances per precision.
trait Tol: Real + std::fmt::Debug {
    const RTOL: f64;
    const TINY: f64;
    /// Half the distance from 1 to the next number: the unit roundoff.
    const EPSILON_OF_ONE: f64;
}
impl Tol for f64 {
    const RTOL: f64 = 1e-12;
    const TINY: f64 = f64::MIN_POSITIVE;
    const EPSILON_OF_ONE: f64 = f64::EPSILON / 2.0;
}
impl Tol for f32 {
    const RTOL: f64 = 1.5e-5;
    const TINY: f64 = f32::MIN_POSITIVE as f64;
    const EPSILON_OF_ONE: f64 = f32::EPSILON as f64 / 2.0;
}

/// The size of the loss's terms where they can cancel (a negative Poly-1 ε), so that the
/// tolerance stays meaningful there; 0 where nothing cancels.
fn loss_scale_of(p: &Params, x: f64, y0: f64) -> f64 {
    match p.loss {
        ElementLoss::Focal { gamma, .. } if p.poly < 0.0 => {
            let (sp, sq) = sig(DD::new(x));
            let (y, y_bar) = smooth(y0, p.smoothing);
            let m = (y * sq + y_bar * sp).to_f64();
            let spl = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
            let ce = p.pw * y.to_f64() * spl(-x) + y_bar.to_f64() * spl(x);
            m.powf(gamma) * (ce + p.poly.abs() * m)
        }
        _ => 0.0,
    }
}

/// The size of the terms a gradient is made of where they can cancel (soft targets, a negative
/// Poly-1 ε), so that the tolerance stays meaningful there; 0 where nothing cancels (hard
/// targets, QFL, VFL).
fn grad_scale_of(p: &Params, x: f64, y0: f64) -> f64 {
    let (sp, sq) = sig(DD::new(x));
    let (sp, sq) = (sp.to_f64(), sq.to_f64());
    let spl = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
    match p.loss {
        ElementLoss::Focal { gamma, .. } => {
            let (y, y_bar) = (
                y0 * (1.0 - p.smoothing) + p.smoothing / 2.0,
                (1.0 - y0) * (1.0 - p.smoothing) + p.smoothing / 2.0,
            );
            if (y == 0.0 || y == 1.0) && p.poly >= 0.0 {
                return 0.0;
            }
            let m = y * sq + y_bar * sp;
            let ce = p.pw * y * spl(-x) + y_bar * spl(x);
            m.powf(gamma) * (gamma * ce * sp * sq / m + p.pw * y * sq + y_bar * sp + p.poly.abs() * (gamma + 1.0))
        }
        ElementLoss::Asymmetric {
            gamma_pos, gamma_neg, ..
        } => {
            if y0 == 0.0 || y0 == 1.0 {
                return 0.0;
            }
            y0 * sq.powf(gamma_pos) * (sq + gamma_pos * sp * spl(-x)) + (1.0 - y0) * (sp + gamma_neg * spl(x))
        }
        _ => 0.0,
    }
}

/// The relative error that the rounding of σ(x) in T (an ulp or two of p, in absolute terms)
/// carries into a result that depends on y − σ(x) (QFL, VFL's positives) or σ(x) − clip (ASL)
/// through the power `k`: the conditioning of the definition near its root, not a flaw of the
/// evaluation. Elsewhere 0.
fn conditioning<T: Tol>(p: &Params, x: f64, y0: f64) -> f64 {
    let (sp, _) = sig(DD::new(x));
    let ulp = 2.0 * T::EPSILON_OF_ONE;
    let (sp, y) = (sp.to_f64(), y0);
    match p.loss {
        ElementLoss::Quality { beta } => {
            let d = ((DD::new(y) - DD::ONE) + sig(DD::new(x)).1).abs().to_f64();
            ulp * sp.max(y) / d * (beta + 2.0)
        }
        ElementLoss::Varifocal { .. } if y0 > 0.0 => {
            let d = ((DD::new(y) - DD::ONE) + sig(DD::new(x)).1).abs().to_f64();
            ulp * sp.max(y) / d
        }
        ElementLoss::Asymmetric { clip, gamma_neg, .. } if clip > 0.0 && sp > clip => {
            ulp * sp / (sp - clip) * (gamma_neg + 2.0)
        }
        _ => 0.0,
    }
}

/// |got − want| ≤ (RTOL + cond)·max(|want|, scale) + TINY, NaN for NaN, ±∞ for ±∞.
#[track_caller]
fn check_value<T: Tol>(got: T, want: DD, scale: f64, what: &dyn Fn() -> String) -> f64 {
    check_value_cond(got, want, scale, 0.0, what)
}

#[track_caller]
fn check_value_cond<T: Tol>(got: T, want: DD, scale: f64, cond: f64, what: &dyn Fn() -> String) -> f64 {
    let (g, w) = (got.to_f64(), want.to_f64());
    let w = if w.is_finite() && !T::from_f64(w).is_finite() {
        T::from_f64(w).to_f64() // beyond T's range: ±∞
    } else {
        w
    };
    if !w.is_finite() || !g.is_finite() {
        assert!(
            g == w || (g.is_nan() && w.is_nan()),
            "{}: got {g:e}, expected {w:e}",
            what()
        );
        return 0.0;
    }
    let size = w.abs().max(scale);
    let err = (g - w).abs();
    if err == 0.0 {
        return 0.0;
    }
    assert!(
        err <= (T::RTOL + cond) * size + T::TINY,
        "{}: got {g:e}, expected {w:e} (relative {:e})",
        what(),
        err / size.max(T::TINY)
    );
    err / size.max(T::TINY)
}

/// Runs a case on both paths and checks every element's loss and gradient against the references.
fn check_case_against_reference<T: Tol>(c64: &Case<f64>, label: &str) -> f64 {
    let c: Case<T> = c64.convert();
    let mut worst = 0.0f64;
    for vectorised in [true, false] {
        let (loss, grad, sum, _) = run(&c, &c.x, vectorised);
        let mut total = 0.0f64;
        for i in 0..c.len() {
            let x = c.x[i].to_f64();
            let Some((y0, w, pw)) = c.element(i) else {
                assert!(loss[i].to_f64().to_bits() == 0 && grad[i].to_f64().to_bits() == 0);
                continue;
            };
            let y0 = T::from_f64(y0).to_f64();
            let params = c.params(pw);
            let what = || {
                format!(
                    "{label} [{}] element {i}: x={x:e} y={y0:e} w={w} {params:?}",
                    if vectorised { "vector" } else { "scalar" }
                )
            };
            let cond = conditioning::<T>(&params, x, y0);
            let want_loss = DD::new(w) * ref_loss(&params, DD::new(x), y0);
            let lscale = w * loss_scale_of(&params, x, y0);
            worst = worst.max(check_value_cond(loss[i], want_loss, lscale, cond, &|| {
                format!("{} loss", what())
            }));
            let want_grad = DD::new(w) * ref_grad(&params, DD::new(x), y0);
            let scale = w * grad_scale_of(&params, x, y0);
            worst = worst.max(check_value_cond(grad[i], want_grad, scale, cond, &|| {
                format!("{} grad", what())
            }));
            total += loss[i].to_f64();
        }
        assert!(sum == total || (sum - total).abs() <= 1e-12 * total.abs() || sum.is_nan() && total.is_nan());
    }
    worst
}

fn random_against_reference<T: Tol>(seed: u64, x_range: f64) {
    let mut rng = Rng::new(seed);
    let mut worst = 0.0f64;
    for (k, loss) in all_losses().into_iter().enumerate() {
        for round in 0..3 {
            let mut case = random_case(&mut rng, loss, x_range);
            // Keep the sample points off the kinks (QFL at y = σ(x), ASL at σ(x) = clip) by a
            // margin: their neighbourhoods are checked on their own below.
            for i in 0..case.len() {
                let params = case.params(1.0);
                let y0 = case.element(i).map_or(0.0, |e| e.0);
                while near_kink(&params, case.x[i], y0, 1e-3) {
                    case.x[i] = rng.range(-x_range, x_range);
                }
            }
            worst = worst.max(check_case_against_reference::<T>(
                &case,
                &format!("loss #{k} round {round}"),
            ));
        }
    }
    println!(
        "[{}] random cases against double-double: worst relative error {worst:e}",
        std::any::type_name::<T>()
    );
}

#[test]
fn random_cases_match_double_double_f64() {
    random_against_reference::<f64>(21, 12.0);
    random_against_reference::<f64>(22, 60.0);
}

#[test]
fn random_cases_match_double_double_f32() {
    random_against_reference::<f32>(23, 12.0);
    random_against_reference::<f32>(24, 40.0);
}

/// The stability edges: x = ±30, ±1e4 (f64), ±88 (f32), p within 1e-30 of 1, every loss and
/// option, hard and soft targets — finite where the definition is, and accurate.
fn edges<T: Tol>(xs: &[f64]) {
    let mut worst = 0.0f64;
    for loss in all_losses() {
        for &x in xs {
            for &y0 in &[0.0, 1.0, 0.5, 0.9, 1e-3] {
                if y0 == 0.5 && x.abs() < 1e-20 {
                    continue; // σ(x) rounds to y exactly: the root, where only the convention is tested
                }
                for (smoothing, poly, pw) in [(0.0, 0.0, 1.0), (0.1, 0.7, 2.0), (0.0, -0.3, 0.5)] {
                    let focal = matches!(loss, ElementLoss::Focal { .. });
                    if !focal && (smoothing, poly, pw) != (0.0, 0.0, 1.0) {
                        continue;
                    }
                    let case = Case {
                        layout: Layout::rows(1, 1),
                        x: vec![x],
                        dense: Some(vec![y0]),
                        indices: None,
                        ignore: -100,
                        loss,
                        smoothing,
                        poly,
                        pw: if pw == 1.0 { Pw::None } else { Pw::Scalar },
                        pw_t: vec![pw],
                        weights: None,
                    };
                    worst = worst.max(check_case_against_reference::<T>(&case, "edge"));
                    // Finite wherever the definition is finite (no NaN from 0·∞ or cancellation).
                    let c: Case<T> = case.convert();
                    let (l, g, _, _) = run(&c, &c.x, true);
                    assert!(!l[0].is_nan() && !g[0].is_nan(), "{loss:?} x={x} y={y0}: NaN");
                }
            }
        }
    }
    println!(
        "[{}] stability edges: worst relative error {worst:e}",
        std::any::type_name::<T>()
    );
}

#[test]
fn stability_edges_f64() {
    edges::<f64>(&[30.0, -30.0, 1e4, -1e4, 69.0, -69.0, 700.0, -700.0, 36.7, 0.0, 1e-300]);
}

#[test]
fn stability_edges_f32() {
    edges::<f32>(&[30.0, -30.0, 88.0, -88.0, 69.0, -69.0, 16.0, -16.0, 0.0]);
}

/// QFL with y within 1e-30 of σ(x) (p = 1 − 1e-30 against y = 1), where y − p computed as a
/// difference of rounded values would be 0: the loss is the tiny |y − p|^β·BCE, not 0, and the
/// gradient is −(1 − p)·(…) with its digits.
#[test]
fn quality_focal_near_one() {
    for &x in &[69.0f64, 69.07755, 120.0, 700.0] {
        for &beta in &BETAS {
            let params = Params {
                loss: ElementLoss::Quality { beta },
                smoothing: 0.0,
                poly: 0.0,
                pw: 1.0,
            };
            let case = Case {
                layout: Layout::rows(1, 1),
                x: vec![x],
                dense: Some(vec![1.0]),
                indices: None,
                ignore: -100,
                loss: params.loss,
                smoothing: 0.0,
                poly: 0.0,
                pw: Pw::None,
                pw_t: vec![],
                weights: None,
            };
            let (l, g, _, _) = run(&case, &case.x, true);
            let want_l = ref_loss(&params, DD::new(x), 1.0);
            let want_g = ref_grad(&params, DD::new(x), 1.0);
            if want_g.hi < -f64::MIN_POSITIVE {
                assert!(g[0] < 0.0, "x={x} β={beta}: gradient {:e}", g[0]);
            }
            if beta == 0.0 || want_l.hi > f64::MIN_POSITIVE {
                assert!(l[0] > 0.0, "x={x} β={beta}: loss {:e}", l[0]);
            }
            check_value(l[0], want_l, 0.0, &|| format!("QFL x={x} β={beta} loss"));
            check_value(g[0], want_g, 0.0, &|| format!("QFL x={x} β={beta} grad"));
        }
    }
    // Near the root y = σ(x) (away from 1): |y − σ(x)| is as accurate as σ(x) itself, an ulp or
    // so in absolute terms; the tolerance is that conditioning.
    let mut rng = Rng::new(31);
    for _ in 0..200 {
        let x = rng.range(-8.0, 8.0);
        let p = 1.0 / (1.0 + (-x).exp());
        let y = (p + rng.range(-1e-9, 1e-9)).clamp(0.0, 1.0);
        for &beta in &[2.0, 1.5, 3.0] {
            let params = Params {
                loss: ElementLoss::Quality { beta },
                smoothing: 0.0,
                poly: 0.0,
                pw: 1.0,
            };
            let opts = ElementOptions::new(params.loss);
            let (mut l, mut g) = ([0.0], [0.0]);
            let mut out = Outputs::new(Some(&mut l), Some(&mut g));
            elementwise_accumulate(Layout::rows(1, 1), &[x], ElementTargets::Dense(&[y]), &opts, &mut out).unwrap();
            let d = ((DD::new(y) - DD::ONE) + sig(DD::new(x)).1).abs().to_f64();
            let want_l = ref_loss(&params, DD::new(x), y).to_f64();
            let want_g = ref_grad(&params, DD::new(x), y).to_f64();
            // δ|d| ≤ 2 ulp(1): relative error of |d|^β up to β·δ/|d|.
            let rel = 1e-12 + beta * 4.5e-16 / d;
            assert!(
                (l[0] - want_l).abs() <= rel * want_l.abs() + 1e-300,
                "x={x} y={y} β={beta}: loss {:e} vs {want_l:e}",
                l[0]
            );
            assert!(
                (g[0] - want_g).abs() <= rel * want_g.abs() + 1e-300,
                "x={x} y={y} β={beta}: grad {:e} vs {want_g:e}",
                g[0]
            );
        }
    }
}

/// ASL just above the clip (p_m = p − clip small, γ₋ = 0.5): log(1 − p_m) keeps its relative
/// precision (log1p of −p_m, not the log of a rounded 1 − p_m), and p_m^(γ₋−1)·log(1 − p_m)
/// (0·∞ at p_m = 0) is its finite limit. Below the clip: exactly 0.
#[test]
fn asymmetric_just_above_clip() {
    let clip = 0.05f64;
    let x_clip = (clip / (1.0 - clip)).ln(); // σ(x_clip) = clip
    for detach in [false, true] {
        for &gamma_neg in &[0.5, 0.0, 1.0, 4.0] {
            let params = Params {
                loss: ElementLoss::Asymmetric {
                    gamma_pos: 1.0,
                    gamma_neg,
                    clip,
                    detach_focal_weight: detach,
                },
                smoothing: 0.0,
                poly: 0.0,
                pw: 1.0,
            };
            let opts = ElementOptions::new(params.loss);
            let offsets = (-14..=-3).flat_map(|e| [1.37 * 10f64.powi(e), -1.37 * 10f64.powi(e)]);
            for dx in offsets {
                // x just below and just above the clip: p_m ≈ p(1 − p)·dx, from ~7e-16 to ~7e-5.
                let x = x_clip + dx;
                for &y in &[0.0, 0.3] {
                    let (mut l, mut g) = ([0.0], [0.0]);
                    let mut out = Outputs::new(Some(&mut l), Some(&mut g));
                    elementwise_accumulate(Layout::rows(1, 1), &[x], ElementTargets::Dense(&[y]), &opts, &mut out)
                        .unwrap();
                    let (sp, _) = sig(DD::new(x));
                    let pm = (sp - DD::new(clip)).to_f64();
                    assert!(l[0].is_finite() && g[0].is_finite());
                    if pm <= 0.0 {
                        if y == 0.0 {
                            assert_eq!((l[0], g[0]), (0.0, 0.0), "x={x} (below the clip)");
                        }
                        continue;
                    }
                    let want_l = ref_loss(&params, DD::new(x), y);
                    let want_g = ref_grad(&params, DD::new(x), y);
                    // p_m = σ(x) − clip carries σ's rounding (~2e-17 absolute): the conditioning.
                    let rel = 1e-12 + 3e-17 / pm * (2.0 + gamma_neg);
                    let scale = if y == 0.0 { 0.0 } else { grad_scale_of(&params, x, y) };
                    for (got, want, what, s) in [(l[0], want_l, "loss", 0.0), (g[0], want_g, "grad", scale)] {
                        let w = want.to_f64();
                        assert!(
                            (got - w).abs() <= rel * w.abs().max(s) + 1e-300,
                            "γ₋={gamma_neg} detach={detach} x={x} y={y} p_m={pm:e}: {what} {got:e} vs {w:e}"
                        );
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// finite differences of the kernels themselves (f64)
// ------------------------------------------------------------------------------------------------

/// How much of |loss| the finite differences may be off by their own rounding (as this file was written; properties.rs: 1e-11).
const FD_LOSS_RTOL: f64 = 1e-10;

/// Every loss and option, every reduction, both target forms and layouts: the analytic gradient
/// of the reduced loss against differences of the kernel's own reduced loss. (ASL with detached
/// focal weights has no such derivative; the reference test covers it.)
#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(41);
    let mut checked = 0;
    for loss in all_losses() {
        if let ElementLoss::Asymmetric {
            detach_focal_weight: true,
            ..
        } = loss
        {
            continue;
        }
        for round in 0..3 {
            let mut case = random_case(&mut rng, loss, 6.0);
            for i in 0..case.len() {
                let params = case.params(1.0);
                let y0 = case.element(i).map_or(0.0, |e| e.0);
                while near_kink(&params, case.x[i], y0, 0.05) {
                    case.x[i] = rng.range(-6.0, 6.0);
                }
            }
            for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                let reduce = |x: &[f64]| {
                    let mut l = vec![0.0; case.len()];
                    elementwise_loss(case.layout, x, case.targets(), &case.opts(), red, Some(&mut l), None)
                        .unwrap()
                        .loss
                };
                let mut l = vec![0.0; case.len()];
                let mut grad = vec![0.0; case.len()];
                elementwise_loss(
                    case.layout,
                    &case.x,
                    case.targets(),
                    &case.opts(),
                    red,
                    Some(&mut l),
                    Some(&mut grad),
                )
                .unwrap();
                check_gradient(
                    &format!("{loss:?} round {round} {red:?} {case:?}"),
                    &reduce,
                    &case.x,
                    &grad,
                    FD_LOSS_RTOL,
                );
                checked += grad.len();
            }
        }
    }
    assert!(checked > 2000, "{checked}");
}

// ------------------------------------------------------------------------------------------------
// identities
// ------------------------------------------------------------------------------------------------

/// Class indices give, bit for bit, the results of the equivalent one-hot dense targets (per-item
/// weights repeated over the item's elements); ignored items give +0 and are not counted.
#[test]
fn class_indices_equal_one_hot_dense() {
    let mut rng = Rng::new(51);
    for loss in all_losses() {
        for _ in 0..4 {
            let mut case = random_case(&mut rng, loss, 20.0);
            if case.indices.is_none() {
                let items = case.layout.items().unwrap();
                let classes = case.layout.classes as i32;
                case.dense = None;
                case.indices = Some((0..items).map(|_| rng.below(classes as usize + 2) as i32 - 1).collect());
                case.ignore = -1;
                case.weights = rng
                    .chance(0.5)
                    .then(|| (0..items).map(|_| rng.range(0.0, 2.0)).collect());
            }
            if rng.chance(0.3) {
                case.x[0] = f64::NAN;
            }
            let mut dense = case.clone();
            let n = case.len();
            let mut y = vec![0.0; n];
            let mut w = vec![1.0; n];
            for i in 0..n {
                if let Some((yi, wi, _)) = case.element(i) {
                    y[i] = yi;
                    w[i] = wi;
                }
            }
            dense.indices = None;
            dense.dense = Some(y);
            dense.weights = case.weights.as_ref().map(|_| w);
            for vectorised in [true, false] {
                let (l1, g1, _, counts) = run(&case, &case.x, vectorised);
                let (l2, g2, _, _) = run(&dense, &dense.x, vectorised);
                let (mut counted, mut positives) = (0, 0);
                for i in 0..n {
                    match case.element(i) {
                        None => {
                            assert_eq!((l1[i].to_bits(), g1[i].to_bits()), (0, 0), "ignored element {i}");
                        }
                        Some(_) => {
                            assert!(
                                same_bits(&l1[i..=i], &l2[i..=i]),
                                "{loss:?} element {i}: {} vs {}",
                                l1[i],
                                l2[i]
                            );
                            assert!(
                                same_bits(&g1[i..=i], &g2[i..=i]),
                                "{loss:?} element {i}: {} vs {}",
                                g1[i],
                                g2[i]
                            );
                        }
                    }
                }
                for &t in case.indices.as_ref().unwrap() {
                    if t != case.ignore {
                        counted += case.layout.classes;
                        positives += (t as usize != case.layout.classes) as usize;
                    }
                }
                assert_eq!(counts.counted, counted);
                assert_eq!(counts.positives, positives as f64);
            }
        }
    }
}

/// BCE(x, y) by its definition, in double-double.
fn bce_ref(x: f64, y: f64) -> DD {
    bce(DD::new(x), DD::new(y), DD::ONE - DD::new(y))
}

/// Where each loss reduces to binary cross-entropy (and VFL's negatives to α·BCE(x, 0)): the same
/// values as BCE's definition, and for hard targets the same bits across the losses.
#[test]
fn special_cases_are_bce() {
    let mut rng = Rng::new(61);
    let n = 64;
    let mut x: Vec<f64> = (0..n).map(|_| rng.range(-40.0, 40.0)).collect();
    x.extend([0.0, 1e4, -1e4, 700.0, -700.0, f64::NEG_INFINITY]);
    let hard: Vec<f64> = (0..x.len()).map(|i| (i % 2) as f64).collect();
    let soft: Vec<f64> = (0..x.len()).map(|_| rng.unit()).collect();
    let bce_losses = [
        ElementLoss::Quality { beta: 0.0 },
        ElementLoss::Asymmetric {
            gamma_pos: 0.0,
            gamma_neg: 0.0,
            clip: 0.0,
            detach_focal_weight: false,
        },
        ElementLoss::Focal {
            gamma: 0.0,
            alpha: None,
        },
        ElementLoss::Varifocal {
            alpha: 0.75,
            gamma: 0.0,
            iou_weighted: false,
        },
    ];
    let layout = Layout::rows(x.len(), 1);
    let mut hard_results = Vec::new();
    for (k, loss) in bce_losses.iter().enumerate() {
        for (y, is_hard) in [(&hard, true), (&soft, false)] {
            if k == 3 && !is_hard {
                continue; // VFL with soft positives is k·BCE, below
            }
            let opts = ElementOptions::new(*loss);
            let mut l = vec![0.0; x.len()];
            let mut g = vec![0.0; x.len()];
            let mut out = Outputs::new(Some(&mut l), Some(&mut g));
            elementwise_accumulate(layout, &x, ElementTargets::Dense(y), &opts, &mut out).unwrap();
            for i in 0..x.len() {
                // VFL negatives are α·BCE(x, 0).
                let k_i = if k == 3 && y[i] == 0.0 { 0.75 } else { 1.0 };
                let want = DD::new(k_i) * bce_ref(x[i], y[i]);
                check_value(l[i], want, 0.0, &|| format!("{loss:?} x={} y={} loss", x[i], y[i]));
                let (sp, sq) = sig(DD::new(x[i]));
                let want_g = DD::new(k_i) * (sp - DD::new(y[i]) * (sp + sq));
                let want_g = if k == 3 && y[i] == 0.0 {
                    DD::new(0.75) * sp
                } else {
                    want_g
                };
                check_value(g[i], want_g, 0.0, &|| format!("{loss:?} x={} y={} grad", x[i], y[i]));
            }
            if is_hard && k < 3 {
                hard_results.push(l);
            }
        }
    }
    // Hard targets: every loss computes BCE as softplus(∓x), the same bits.
    assert!(same_bits(&hard_results[0], &hard_results[1]) && same_bits(&hard_results[0], &hard_results[2]));
    // VFL at γ = 0: negatives are exactly α·softplus(x).
    let opts = ElementOptions::new(ElementLoss::Varifocal {
        alpha: 0.75,
        gamma: 0.0,
        iou_weighted: true,
    });
    let zeros = vec![0.0; x.len()];
    let mut l = vec![0.0; x.len()];
    let mut out = Outputs::new(Some(&mut l), None);
    elementwise_accumulate(layout, &x, ElementTargets::Dense(&zeros), &opts, &mut out).unwrap();
    for i in 0..x.len() {
        check_value(l[i], DD::new(0.75) * softplus(DD::new(x[i])), 0.0, &|| {
            format!("VFL y=0 x={}", x[i])
        });
    }
}

/// ε = 0 is no Poly-1 term (the legacy sigmoid API's bits), and ε ≠ 0 adds exactly
/// ε·Σ w·m^(γ+1) to the loss (for hard targets, m = σ(−s·x)).
#[test]
fn poly_epsilon() {
    let mut rng = Rng::new(71);
    let n = 101;
    let x: Vec<f64> = (0..n).map(|_| rng.range(-20.0, 20.0)).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| if i % 3 == 0 { rng.unit() } else { (i % 2) as f64 })
        .collect();
    let w: Vec<f64> = (0..n).map(|_| rng.range(0.0, 2.0)).collect();
    for &gamma in &GAMMAS {
        for alpha in [None, Some(0.25)] {
            let legacy = SigmoidOptions {
                gamma,
                alpha,
                label_smoothing: 0.0,
                weights: Some(&w),
            };
            let (mut l0, mut g0) = (vec![0.0; n], vec![0.0; n]);
            let r0 = sigmoid_focal_loss(&x, &y, &legacy, Reduction::Sum, Some(&mut l0), Some(&mut g0)).unwrap();
            let mut opts = ElementOptions {
                weights: Some(&w),
                ..ElementOptions::new(ElementLoss::Focal { gamma, alpha })
            };
            let (mut l1, mut g1) = (vec![0.0; n], vec![0.0; n]);
            let r1 = elementwise_loss(
                Layout::rows(n, 1),
                &x,
                ElementTargets::Dense(&y),
                &opts,
                Reduction::Sum,
                Some(&mut l1),
                Some(&mut g1),
            )
            .unwrap();
            assert!(same_bits(&l0, &l1) && same_bits(&g0, &g1) && r0.sum.to_bits() == r1.sum.to_bits());
            for eps in [1.0, -0.5] {
                opts.poly_epsilon = eps;
                let (mut l2, mut g2) = (vec![0.0; n], vec![0.0; n]);
                elementwise_loss(
                    Layout::rows(n, 1),
                    &x,
                    ElementTargets::Dense(&y),
                    &opts,
                    Reduction::Sum,
                    Some(&mut l2),
                    Some(&mut g2),
                )
                .unwrap();
                for i in 0..n {
                    let (sp, sq) = sig(DD::new(x[i]));
                    let m = DD::new(y[i]) * sq + DD::new(1.0 - y[i]) * sp;
                    let extra = DD::new(w[i] * eps) * m.powf(gamma + 1.0);
                    let want = DD::new(l1[i]) + extra;
                    assert!(
                        (l2[i] - want.to_f64()).abs() <= 1e-12 * (l1[i].abs() + extra.abs().to_f64()) + 1e-300,
                        "γ={gamma} ε={eps} x={} y={}: {} vs {:e}",
                        x[i],
                        y[i],
                        l2[i],
                        want.to_f64()
                    );
                }
            }
        }
    }
}

/// posWeight scales the positive term of CE only: for a hard positive the focal loss is
/// pw × (its value without posWeight) plus the unscaled Poly-1 term; negatives are unchanged.
#[test]
fn pos_weight_scales_positive_term_only() {
    let mut rng = Rng::new(81);
    let (batch, classes) = (7, 4);
    let layout = Layout::rows(batch, classes);
    let x: Vec<f64> = (0..batch * classes).map(|_| rng.range(-8.0, 8.0)).collect();
    let t: Vec<i32> = (0..batch).map(|_| rng.below(classes + 1) as i32).collect();
    let pw = [0.5, 2.0, 3.0, 0.0];
    let targets = ElementTargets::Indices {
        indices: &t,
        ignore_index: -100,
    };
    for &gamma in &GAMMAS {
        let base = ElementOptions::new(ElementLoss::Focal {
            gamma,
            alpha: Some(0.25),
        });
        let weighted = ElementOptions {
            pos_weight: PosWeight::PerClass(&pw),
            ..base
        };
        let (mut l0, mut l1) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let (mut g0, mut g1) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        elementwise_accumulate(
            layout,
            &x,
            targets,
            &base,
            &mut Outputs::new(Some(&mut l0), Some(&mut g0)),
        )
        .unwrap();
        elementwise_accumulate(
            layout,
            &x,
            targets,
            &weighted,
            &mut Outputs::new(Some(&mut l1), Some(&mut g1)),
        )
        .unwrap();
        for i in 0..x.len() {
            let (r, c) = (i / classes, i % classes);
            let k = if t[r] as usize == c { pw[c] } else { 1.0 };
            assert!(
                (l1[i] - k * l0[i]).abs() <= 1e-15 * l1[i].abs(),
                "γ={gamma} element {i}"
            );
            assert!(
                (g1[i] - k * g0[i]).abs() <= 1e-15 * g1[i].abs(),
                "γ={gamma} element {i}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// values, not errors; counts; empty batches
// ------------------------------------------------------------------------------------------------

#[test]
fn nan_and_infinite_logits() {
    let x = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY, 2.0];
    let y = [0.0, 0.0, 0.0, 1.0, 0.5];
    for loss in all_losses() {
        let opts = ElementOptions::new(loss);
        let mut l = [0.0; 5];
        let mut g = [0.0; 5];
        let mut out = Outputs::new(Some(&mut l), Some(&mut g));
        elementwise_accumulate(Layout::rows(5, 1), &x, ElementTargets::Dense(&y), &opts, &mut out).unwrap();
        assert!(out.sum.is_nan());
        for i in 0..2 {
            assert!(l[i].is_nan() && g[i].is_nan(), "{loss:?}: x = {} must give NaN", x[i]);
        }
        // −∞ with y = 0: p = 0, nothing to pay (the positive term's weight is 0).
        assert_eq!((l[2], g[2]), (0.0, 0.0), "{loss:?} at x = −∞, y = 0");
        // −∞ with y = 1: log p = −∞ (QFL at β = 0 … every loss pays ∞), the gradient finite.
        assert_eq!(l[3], f64::INFINITY, "{loss:?} at x = −∞, y = 1");
        assert!(g[3].is_finite() && g[3] <= 0.0, "{loss:?} at x = −∞, y = 1: {}", g[3]);
        assert!(l[4].is_finite() && g[4].is_finite());
    }
    // Ignored items are exactly 0 even with NaN logits.
    let opts = ElementOptions::<f64>::default();
    let mut l = [1.0; 4];
    let mut g = [1.0; 4];
    let mut out = Outputs::new(Some(&mut l), Some(&mut g));
    let t = [-100, 1];
    let counts = elementwise_accumulate(
        Layout::rows(2, 2),
        &[f64::NAN, f64::NAN, 0.5, 1.0],
        ElementTargets::Indices {
            indices: &t,
            ignore_index: -100,
        },
        &opts,
        &mut out,
    )
    .unwrap();
    assert!(out.sum.is_finite());
    assert_eq!(
        (l[0].to_bits(), l[1].to_bits(), g[0].to_bits(), g[1].to_bits()),
        (0, 0, 0, 0)
    );
    assert_eq!(
        counts,
        ElementCounts {
            counted: 2,
            positives: 1.0
        }
    );
}

#[test]
fn counts_positives_and_reductions() {
    let x = [0.3, -1.0, 2.0, 0.0, 5.0, -3.0];
    let y = [1.0, 0.25, 0.0, 0.5, 1.0, 0.0];
    let opts = ElementOptions::new(ElementLoss::Quality { beta: 2.0 });
    let mut out = Outputs::new(None, None);
    let counts = elementwise_accumulate(Layout::rows(6, 1), &x, ElementTargets::Dense(&y), &opts, &mut out).unwrap();
    assert_eq!(
        counts,
        ElementCounts {
            counted: 6,
            positives: 2.75
        }
    );
    // [3 items, 2 classes]: background (2), ignored (−1), class 1.
    let t = [2, -1, 1];
    let targets = ElementTargets::Indices {
        indices: &t,
        ignore_index: -1,
    };
    let counts = elementwise_accumulate(Layout::rows(3, 2), &x, targets, &opts, &mut out).unwrap();
    assert_eq!(
        counts,
        ElementCounts {
            counted: 4,
            positives: 1.0
        }
    );
    // 'mean' divides by the counted elements, and scales the gradient to match.
    let (mut gm, mut gs) = ([0.0f64; 6], [0.0f64; 6]);
    let mean = elementwise_loss(
        Layout::rows(3, 2),
        &x,
        targets,
        &opts,
        Reduction::Mean,
        None,
        Some(&mut gm),
    )
    .unwrap();
    let sum = elementwise_loss(
        Layout::rows(3, 2),
        &x,
        targets,
        &opts,
        Reduction::Sum,
        None,
        Some(&mut gs),
    )
    .unwrap();
    assert_eq!(mean.count, 4);
    assert_eq!(mean.loss, sum.loss / 4.0);
    for i in 0..6 {
        assert_eq!(gm[i], gs[i] * 0.25);
    }
    // Nothing counted: 'mean' is 0 with a zero gradient.
    let t = [-1, -1, -1];
    let none = ElementTargets::Indices {
        indices: &t,
        ignore_index: -1,
    };
    let r = elementwise_loss(
        Layout::rows(3, 2),
        &x,
        none,
        &opts,
        Reduction::Mean,
        None,
        Some(&mut gm),
    )
    .unwrap();
    assert_eq!((r.loss, r.count), (0.0, 0));
    assert!(gm.iter().all(|&v| v.to_bits() == 0));
    // Empty batch.
    let r = elementwise_loss::<f64>(
        Layout::rows(0, 3),
        &[],
        ElementTargets::Dense(&[]),
        &opts,
        Reduction::Mean,
        None,
        None,
    )
    .unwrap();
    assert_eq!((r.loss, r.count), (0.0, 0));
}

// ------------------------------------------------------------------------------------------------
// invalid input
// ------------------------------------------------------------------------------------------------

const SENTINEL: f64 = 12345.0;

/// Calls the accumulate kernels (vectorised and scalar) and the reduced function with
/// sentinel-filled outputs, expecting `err`, and checks that nothing was written.
#[track_caller]
fn rejects(layout: Layout, x: &[f64], targets: ElementTargets<f64>, opts: &ElementOptions<f64>, err: FocalError) {
    let n = layout.logits().map_or(x.len(), |n| n.min(x.len()));
    for f in [elementwise_accumulate::<f64>, scalar::elementwise_accumulate::<f64>] {
        let mut l = vec![SENTINEL; n];
        let mut g = vec![SENTINEL; n];
        let mut out = Outputs {
            sum: 7.0,
            ..Outputs::new(Some(&mut l), Some(&mut g))
        };
        assert_eq!(f(layout, x, targets, opts, &mut out), Err(err));
        assert_eq!(out.sum, 7.0);
        assert!(l.iter().chain(&g).all(|&v| v == SENTINEL), "written on error {err:?}");
    }
    let mut l = vec![SENTINEL; n];
    assert_eq!(
        elementwise_loss(layout, x, targets, opts, Reduction::Sum, Some(&mut l), None),
        Err(err)
    );
    assert!(l.iter().all(|&v| v == SENTINEL));
}

#[test]
fn invalid_inputs() {
    let layout = Layout::rows(2, 2);
    let x = [0.1, 0.2, 0.3, 0.4];
    let y = [0.0, 1.0, 0.5, 0.0];
    let dense = ElementTargets::Dense(&y);
    let t = [0, 2];
    let idx = ElementTargets::Indices {
        indices: &t,
        ignore_index: -100,
    };
    let focal = ElementOptions::<f64>::default();
    let q = ElementOptions::new(ElementLoss::Quality { beta: 2.0 });
    let v = ElementOptions::new(ElementLoss::Varifocal {
        alpha: 0.75,
        gamma: 2.0,
        iou_weighted: true,
    });
    let a = ElementOptions::new(ElementLoss::Asymmetric {
        gamma_pos: 1.0,
        gamma_neg: 4.0,
        clip: 0.05,
        detach_focal_weight: false,
    });
    use FocalError::*;
    // Lengths and shapes.
    rejects(Layout::rows(2, 0), &x, dense, &focal, InvalidShape);
    rejects(Layout::rows(3, 2), &x, dense, &focal, LengthMismatch);
    rejects(layout, &x, ElementTargets::Dense(&y[..3]), &q, LengthMismatch);
    rejects(
        layout,
        &x,
        ElementTargets::Indices {
            indices: &t[..1],
            ignore_index: -100,
        },
        &q,
        LengthMismatch,
    );
    let w3 = [1.0; 3];
    rejects(
        layout,
        &x,
        dense,
        &ElementOptions {
            weights: Some(&w3),
            ..q
        },
        LengthMismatch,
    );
    rejects(
        layout,
        &x,
        idx,
        &ElementOptions {
            weights: Some(&w3),
            ..q
        },
        LengthMismatch,
    );
    // Parameters.
    for g in [-1.0, f64::NAN, f64::INFINITY] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions::new(ElementLoss::Focal { gamma: g, alpha: None }),
            InvalidGamma,
        );
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions::new(ElementLoss::Varifocal {
                alpha: 0.75,
                gamma: g,
                iou_weighted: true,
            }),
            InvalidGamma,
        );
        for (gp, gn) in [(g, 1.0), (1.0, g)] {
            rejects(
                layout,
                &x,
                dense,
                &ElementOptions::new(ElementLoss::Asymmetric {
                    gamma_pos: gp,
                    gamma_neg: gn,
                    clip: 0.0,
                    detach_focal_weight: false,
                }),
                InvalidGamma,
            );
        }
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions::new(ElementLoss::Quality { beta: g }),
            InvalidBeta,
        );
    }
    for al in [-0.1, 1.5, f64::NAN] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions::new(ElementLoss::Focal {
                gamma: 2.0,
                alpha: Some(al),
            }),
            InvalidAlpha,
        );
    }
    for al in [-0.1, f64::NAN, f64::INFINITY] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions::new(ElementLoss::Varifocal {
                alpha: al,
                gamma: 2.0,
                iou_weighted: false,
            }),
            InvalidAlpha,
        );
    }
    for clip in [-0.01, 1.0, f64::NAN] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions::new(ElementLoss::Asymmetric {
                gamma_pos: 1.0,
                gamma_neg: 4.0,
                clip,
                detach_focal_weight: false,
            }),
            InvalidClip,
        );
    }
    for eps in [-0.1, 1.0, f64::NAN] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions {
                label_smoothing: eps,
                ..focal
            },
            InvalidLabelSmoothing,
        );
    }
    for o in [q, v, a] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions {
                label_smoothing: 0.1,
                ..o
            },
            InvalidLabelSmoothing,
        );
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions { poly_epsilon: 0.5, ..o },
            InvalidPolyEpsilon,
        );
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions {
                pos_weight: PosWeight::Scalar(2.0),
                ..o
            },
            InvalidPosWeight,
        );
    }
    for eps in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions {
                poly_epsilon: eps,
                ..focal
            },
            InvalidPolyEpsilon,
        );
    }
    for pw in [-1.0, f64::NAN, f64::INFINITY] {
        rejects(
            layout,
            &x,
            dense,
            &ElementOptions {
                pos_weight: PosWeight::Scalar(pw),
                ..focal
            },
            InvalidPosWeight,
        );
        let per = [1.0, pw];
        rejects(
            layout,
            &x,
            idx,
            &ElementOptions {
                pos_weight: PosWeight::PerClass(&per),
                ..focal
            },
            InvalidPosWeight,
        );
    }
    let per3 = [1.0; 3];
    rejects(
        layout,
        &x,
        idx,
        &ElementOptions {
            pos_weight: PosWeight::PerClass(&per3),
            ..focal
        },
        LengthMismatch,
    );
    // Weights and targets.
    let wbad = [1.0, -1.0, 1.0, 1.0];
    rejects(
        layout,
        &x,
        dense,
        &ElementOptions {
            weights: Some(&wbad),
            ..q
        },
        InvalidWeight { index: 1 },
    );
    let wnan = [1.0, f64::NAN];
    rejects(
        layout,
        &x,
        idx,
        &ElementOptions {
            weights: Some(&wnan),
            ..q
        },
        InvalidWeight { index: 1 },
    );
    for (i, bad) in [(2, 1.5), (0, -0.25), (3, f64::NAN)] {
        let mut yb = y;
        yb[i] = bad;
        rejects(
            layout,
            &x,
            ElementTargets::Dense(&yb),
            &a,
            InvalidProbability { index: i },
        );
    }
    for bad in [3, -1, -100] {
        let tb = [1, bad];
        rejects(
            layout,
            &x,
            ElementTargets::Indices {
                indices: &tb,
                ignore_index: -7,
            },
            &v,
            TargetOutOfRange { index: 1 },
        );
    }
    // The new codes, stable and appended.
    assert_eq!(
        (
            InvalidBeta.code(),
            InvalidClip.code(),
            InvalidPosWeight.code(),
            InvalidPolyEpsilon.code()
        ),
        (10, 11, 12, 13)
    );
}
