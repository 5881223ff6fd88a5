//! The vectorised element-wise kernels: the formulas of `crate::elementwise` (derivations there),
//! LANES elements at a time, all four losses in one kernel ([`Loss`], a `match` per vector) and
//! one driver per float type.
//!
//! - Every element starts the same way: e = exp(−|x|) and log1p(e) (inlined where the build inlines
//!   them, as every kernel does), then p, 1 − p and softplus(±x) by selects.
//! - The sigmoid focal loss is the hot path: hard (y ∈ {0, 1}) and soft targets are both evaluated
//!   lane-wise and the right one selected per lane (the soft formulas only when some lane needs
//!   them). With no positive weight and no Poly-1 term it is the same sequence of operations, bit for
//!   bit, as the sigmoid kernel before the family existed, except the log m of a soft target with
//!   m > ½ ([`soft_log_m`]). For integer γ its focal factor is a product (`FocalPow`), so the
//!   default needs no further transcendental function.
//! - The other powers and logarithms (non-integer γ or β, soft focal targets, QFL's log|y − p|,
//!   ASL's clip) call out-of-line exp / ln / ln_1p: inlined copies at each of their call sites
//!   would add more to the .wasm than the whole softmax kernel.
//! - The driver streams a call in blocks of [`BLOCK`] elements. Class-index targets, per-item
//!   weights and per-class positive weights are expanded for one block at a time into small arrays
//!   (y of an element is 1 where the element's class is its item's index: no one-hot array is
//!   built); dense targets and per-element weights are read in place. A call's last, partial
//!   block is copied into padded arrays, so every load is a whole vector.
//!
//! Every lane is computed from its own element alone, so a result never depends on its lane, its
//! block or the chunk it was passed in; element losses are added to the running sum in order.

use super::math::{exp, exp_nonpos, ln, ln_1p, ln_1p_unit, poly_series, FocalPow};
use super::{SimdReal, VMath, Vector};
use crate::elementwise::{ElementLoss, ElementOptions, ElementTargets, PosWeight};
use crate::real::Real;
use crate::{Layout, Outputs};

/// Elements per block of the driver (a multiple of every LANES).
const BLOCK: usize = 64;

/// The driver's vector: with SIMD128 two (f32) or four (f64) of the float type's vectors
/// interleaved (`super::pair`, `SimdReal::E`: the same results, lane for lane, faster — the
/// per-element chain of exp, log1p, divisions and the loss terms is long, and independent chains
/// side by side fill the CPU's window).
type W<T> = <T as SimdReal>::E;

/// eˣ per lane, out of line (see the module comment).
#[inline(never)]
fn exp_o<V: VMath>(x: V) -> V {
    exp(x)
}

/// ln x per lane, out of line.
#[inline(never)]
fn ln_o<V: VMath>(x: V) -> V {
    ln(x)
}

/// ln(1 + x) per lane, out of line.
#[inline(never)]
fn ln_1p_o<V: VMath>(x: V) -> V {
    ln_1p(x)
}

/// A loss with its per-call parameters, as lanes.
#[derive(Clone, Copy)]
enum Loss<V> {
    /// `crate::elementwise::focal`.
    Focal {
        alpha: Option<V>,
        gamma: FocalPow<V>,
        /// (1 − ε, ε/2) of label smoothing, when ε ≠ 0.
        smoothing: Option<(V, V)>,
        /// Whether the lanes' positive weights apply.
        pos_weight: bool,
        /// (ε, ε·(γ + 1)) of Poly-1, when ε ≠ 0.
        poly: Option<(V, V)>,
    },
    /// `crate::elementwise::quality`.
    Quality { beta: FocalPow<V> },
    /// `crate::elementwise::varifocal`.
    Varifocal {
        alpha: V,
        gamma: FocalPow<V>,
        iou_weighted: bool,
    },
    /// `crate::elementwise::asymmetric`.
    Asymmetric {
        gamma_pos: FocalPow<V>,
        gamma_neg: FocalPow<V>,
        /// (clip, ln clip) when clip > 0.
        clip: Option<(V, V)>,
        detach: bool,
    },
}

/// x (+∞ made NaN), e = exp(−|x|), log1p(e), 1/(1 + e) = max(p, 1 − p), e/(1 + e) = min(p, 1 − p).
#[derive(Clone, Copy)]
struct Front<V> {
    x: V,
    log1p_e: V,
    inv: V,
    e_inv: V,
}

impl<V: VMath> Loss<V> {
    /// (loss, ∂loss/∂x) before the weight, from the logits, the (unsmoothed) targets and the
    /// positive weights of the lanes.
    #[inline(always)]
    fn eval(&self, x: V, y: V, pw: V) -> (V, V) {
        let one = V::c(1.0);
        let inf = V::c(f64::INFINITY);
        let x = V::select(x.eq(inf), V::c(f64::NAN), x);
        // −|x| by setting the sign bit (one operation; −abs is two).
        let e = exp_nonpos(x.or(V::c(-0.0)));
        let inv = one / (one + e);
        let log1p_e = ln_1p_unit(e, inv);
        let f = Front {
            x,
            log1p_e,
            inv,
            e_inv: e * inv,
        };
        match *self {
            Loss::Focal {
                alpha,
                gamma,
                smoothing,
                pos_weight,
                poly,
            } => {
                // y and ȳ = 1 − y each from non-negative terms (see crate::elementwise::smoothed).
                let (y, y_bar) = match smoothing {
                    None => (y, one - y),
                    Some((one_minus_eps, half_eps)) => {
                        (y * one_minus_eps + half_eps, (one - y) * one_minus_eps + half_eps)
                    }
                };
                focal(f, y, y_bar, alpha, pos_weight.then_some(pw), poly, gamma)
            }
            other => family(f, y, other),
        }
    }
}

/// (α_t·pw_t·m^γ·CE + ε·m^(γ+1), its derivative) per lane.
#[inline(always)]
fn focal<V: VMath>(
    f: Front<V>,
    y: V,
    y_bar: V,
    alpha: Option<V>,
    pw: Option<V>,
    poly: Option<(V, V)>,
    focal_pow: FocalPow<V>,
) -> (V, V) {
    let gamma = focal_pow.gamma();
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let Front { x, log1p_e, inv, e_inv } = f;
    let alpha_t = match alpha {
        Some(a) => a * y + (one - a) * y_bar,
        None => one,
    };

    // Hard targets, in terms of u = s·x (s = 2y − 1; a sign flip, exact): p_t = σ(u),
    // m = σ(−u), CE = softplus(−u), log m = −softplus(u), all from the one e = exp(−|u|).
    // The same values, bit for bit, as selecting the y = 1 or y = 0 formulas from x, with fewer
    // lanes' worth of work (one set of selects instead of both signs' softplus and σ).
    let y1 = y.eq(one);
    let u = V::select(y1, x, -x);
    let u_pos = u.ge(zero);
    let p_t = V::select(u_pos, inv, e_inv);
    let m = V::select(u_pos, e_inv, inv);
    let ce = V::select(u.lt(zero), log1p_e - u, log1p_e);
    let focal = focal_pow.pow_with(m, || -V::select(u.gt(zero), u + log1p_e, log1p_e), exp_o);
    // α_t·pw_t (pw_t = pw for y = 1, 1 for y = 0).
    let a_t = match pw {
        Some(pw) => alpha_t * V::select(y1, pw, one),
        None => alpha_t,
    };
    let mut hard_loss = a_t * focal * ce;
    let g_pt_log_pt = V::select(p_t.eq(zero), zero, -(gamma * p_t * ce));
    let s_a_t = V::select(y1, a_t, -a_t); // s·α_t·pw_t, exact
    let mut hard_grad = s_a_t * focal * (g_pt_log_pt - m);
    if let Some((eps, eps1)) = poly {
        // + ε·m^(γ+1), gradient −s·ε(γ + 1)·p_t·m^(γ+1) (the sign of the focal term's for ε > 0).
        let fm = focal * m;
        hard_loss = hard_loss + eps * fm;
        hard_grad = hard_grad - V::select(y1, eps1, -eps1) * (p_t * fm);
        // ε < 0: lanes with m ≤ 1/16 take m^γ·K and −s·m^(γ+1)·B from the series
        // (`math::POLY_SERIES_MAX`); computed only when some lane needs them.
        let (series, fk, fb) = poly_series(m, p_t, a_t, eps, gamma, focal);
        let fbm = fb * m;
        hard_loss = V::select(series, fk, hard_loss);
        hard_grad = V::select(series, V::select(y1, -fbm, fbm), hard_grad);
    }

    let hard = y1.or(y.eq(zero));
    if !V::select(hard, zero, one).any() {
        return (hard_loss, hard_grad);
    }
    // Soft targets: m ≥ min(y, 1 − y) > 0 and m^(γ−1)·p(1 − p) = m^γ·(p(1 − p)/m).
    let softplus_pos = V::select(x.gt(zero), x + log1p_e, log1p_e); // softplus(x)
    let softplus_neg = V::select(x.lt(zero), log1p_e - x, log1p_e); // softplus(−x)
    let nonneg = x.ge(zero);
    let p = V::select(nonneg, inv, e_inv); // σ(x)
    let q = V::select(nonneg, e_inv, inv); // 1 − σ(x)
    let py = match pw {
        Some(pw) => pw * y,
        None => y,
    };
    let ce = py * softplus_neg + y_bar * softplus_pos;
    let m = y * q + y_bar * p;
    let focal = focal_pow.pow_with(m, || soft_log_m(m, y, y_bar, p, q), exp_o);
    let mut soft_loss = alpha_t * focal * ce;
    let ratio = V::select(m.gt(zero), p * q / m, zero);
    let first = if focal_pow.is_zero() {
        zero
    } else {
        V::select(ratio.eq(zero), zero, gamma * focal * ratio * (y_bar - y) * ce)
    };
    let mut soft_grad = alpha_t * (first + focal * (y_bar * p - py * q));
    if let Some((eps, eps1)) = poly {
        // ε < 0: y·K(q; α_t·pw) + (1 − y)·K(p; α_t), each K by the series where its argument ≤ 1/16
        // (see crate::elementwise::focal); ε > 0: the two terms as they are (no cancellation).
        let a_pos = match pw {
            Some(pw) => alpha_t * pw,
            None => alpha_t,
        };
        let (q_small, k_pos_small, _) = poly_series(q, p, a_pos, eps, gamma, one);
        let k_pos = V::select(q_small, k_pos_small, a_pos * softplus_neg + eps * q);
        let (p_small, k_neg_small, _) = poly_series(p, q, alpha_t, eps, gamma, one);
        let k_neg = V::select(p_small, k_neg_small, alpha_t * softplus_pos + eps * p);
        let split = focal * (y * k_pos + y_bar * k_neg);
        soft_loss = V::select(eps.lt(zero), split, soft_loss + eps * (focal * m));
        soft_grad = soft_grad + eps1 * focal * (y_bar - y) * (p * q);
    }
    (
        V::select(hard, hard_loss, soft_loss),
        V::select(hard, hard_grad, soft_grad),
    )
}

/// log m of a soft target (see crate::elementwise::focal): where m > ½, log1p(−v) with
/// v = y·p + (1 − y)·q = 1 − m from its non-negative terms, else ln m; one ln for both, as
/// log1p does it: u = 1 − v rounded (exact u − 1 for u ∈ [½, 1]), log(1 − v) = ln u + c/u with
/// c = −v − (u − 1) the rounding error of u. Out of line, called only where the power needs logs.
#[inline(never)]
fn soft_log_m<V: VMath>(m: V, y: V, y_bar: V, p: V, q: V) -> V {
    let one = V::c(1.0);
    let near_one = m.gt(V::c(0.5));
    let w = -(y * p + y_bar * q);
    let u = V::select(near_one, one + w, m);
    let c = V::select(near_one, (w - (u - one)) / u, V::c(0.0));
    ln_o(u) + c
}

/// QFL, VFL and ASL (`crate::elementwise::{quality, varifocal, asymmetric}`) per lane.
#[inline(always)]
fn family<V: VMath>(f: Front<V>, y: V, loss: Loss<V>) -> (V, V) {
    let zero = V::c(0.0);
    let one = V::c(1.0);
    let Front { x, log1p_e, inv, e_inv } = f;
    let nonneg = x.ge(zero);
    let x_pos = x.gt(zero);
    let p = V::select(nonneg, inv, e_inv); // σ(x)
    let q = V::select(nonneg, e_inv, inv); // 1 − σ(x)
    let sp_pos = V::select(x_pos, x + log1p_e, log1p_e); // softplus(x) = −log(1 − p)
    let sp_neg = V::select(x.lt(zero), log1p_e - x, log1p_e); // softplus(−x) = −log p
    let y_bar = one - y;
    // y − p: (1 − p) − (1 − y) for p > ½ (see crate::elementwise::quality).
    let y_minus_p = || V::select(x_pos, q - y_bar, y - p);
    match loss {
        Loss::Quality { beta } => {
            let d = y_minus_p();
            let a = d.abs();
            let bce = V::select(y.eq(zero), zero, y * sp_neg) + y_bar * sp_pos;
            let t = beta.pow_with(a, || ln_o(a), exp_o); // |y − p|^β
                                                         // −sign(d)·a^β·(β·max(p, 1 − p)·(min(p, 1 − p)/a)·BCE + a); 0 where a = 0.
            let r = if beta.is_zero() {
                zero
            } else {
                V::select(e_inv.eq(zero), zero, beta.gamma() * inv * (e_inv / a) * bce)
            };
            let v = t * (r + a);
            let grad = V::select(a.eq(zero), zero, V::select(d.gt(zero), -v, v));
            (t * bce, grad)
        }
        Loss::Varifocal {
            alpha,
            gamma,
            iou_weighted,
        } => {
            // y > 0: k·BCE(x, y), gradient k·(p − y), k = y or 1.
            let positive = y.gt(zero);
            let k = if iou_weighted { y } else { one };
            let bce = y * sp_neg + y_bar * sp_pos;
            let pos_loss = k * bce;
            let pos_grad = -(k * y_minus_p());
            if !V::select(positive, zero, one).any() {
                return (pos_loss, pos_grad);
            }
            // y = 0: α·p^γ·softplus(x), gradient α·p^γ·(γ(1 − p)·softplus(x) + p).
            let ag = alpha * gamma.pow_with(p, || -sp_neg, exp_o);
            let neg_loss = ag * sp_pos;
            let neg_grad = ag * (gamma.gamma() * q * sp_pos + p);
            (
                V::select(positive, pos_loss, neg_loss),
                V::select(positive, pos_grad, neg_grad),
            )
        }
        Loss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            detach,
        } => {
            // Positive part: y·(1 − p)^γ₊·softplus(−x), gradient −y·(1 − p)^γ₊·((1 − p) + γ₊·p·softplus(−x)).
            let focal_pos = gamma_pos.pow_with(q, || -sp_pos, exp_o);
            let pos_loss = V::select(y.eq(zero), zero, y * focal_pos * sp_neg);
            let focus_pos = if detach || gamma_pos.is_zero() {
                zero
            } else {
                V::select(p.eq(zero), zero, gamma_pos.gamma() * p * sp_neg)
            };
            let pos_grad = -(y * focal_pos * (q + focus_pos));
            let (neg_loss, neg_grad) = match clip {
                None => {
                    // (1 − y)·p^γ₋·softplus(x), gradient (1 − y)·p^γ₋·(p + γ₋·(1 − p)·softplus(x)).
                    let focal_neg = gamma_neg.pow_with(p, || -sp_neg, exp_o);
                    let focus_neg = if detach { zero } else { gamma_neg.gamma() * q * sp_pos };
                    (y_bar * focal_neg * sp_pos, y_bar * focal_neg * (p + focus_neg))
                }
                Some((c, ln_c)) => {
                    let pm = p - c;
                    // p ≤ clip: no negative term (NaN is not "dead", so that it reaches the result).
                    let dead = pm.le(zero);
                    if !V::select(dead, zero, one).any() {
                        (zero, zero)
                    } else {
                        // Dead lanes get p_m = 1 (no subnormal lanes for the power's fast path).
                        let pm_live = V::select(dead, one, pm);
                        // −log(1 − p_m): log1p(−p_m) for p ≤ ½; for p > ½, log((1 − p) + clip) as
                        // log(1 − p) + log1p(clip/(1 − p)) or log(clip) + log1p((1 − p)/clip).
                        let big_q = q.ge(c);
                        let ratio = V::select(big_q, c, q) / V::select(big_q, q, c);
                        let arg = V::select(x_pos, ratio, -pm);
                        let base = V::select(x_pos, V::select(big_q, -sp_pos, ln_c), zero);
                        let nl = -(ln_1p_o(arg) + base);
                        let focal_neg = gamma_neg.pow_with(pm_live, || ln_o(pm_live), exp_o);
                        // p(1 − p)·[1/(1 − p_m) + γ₋·r], r = −log(1 − p_m)/p_m, 1 − p_m = (1 − p) + clip.
                        let mut bracket = one / (q + c);
                        if !detach {
                            bracket = bracket + gamma_neg.gamma() * nl / pm_live;
                        }
                        (
                            V::select(dead, zero, y_bar * focal_neg * nl),
                            V::select(dead, zero, y_bar * focal_neg * (p * q) * bracket),
                        )
                    }
                }
            };
            (pos_loss + neg_loss, pos_grad + neg_grad)
        }
        Loss::Focal { .. } => unreachable!(),
    }
}

/// One block's inputs that are not read in place.
struct Block<T> {
    /// Logits of a partial last block, padded.
    x: [T; BLOCK],
    /// Targets: expanded from class indices (1 where the element's class is its item's index,
    /// else 0), or a partial last block's dense targets.
    y: [T; BLOCK],
    /// Weights: per-item weights per element, or a partial last block's dense weights.
    w: [T; BLOCK],
    /// All bits set where the element's item is counted, 0 where it is ignored.
    keep: [T; BLOCK],
    /// Per-class positive weights, per element.
    pw: [T; BLOCK],
    /// Losses of a partial last block, or of every block when they are not wanted.
    loss: [T; BLOCK],
    /// Gradient entries of a partial last block, or of every block when they are not wanted.
    grad: [T; BLOCK],
}

/// Where an element is in `[batch, classes, spatial]`: its class and its item, advanced one element
/// at a time (no division per element).
struct Cursor {
    c: usize,
    s: usize,
    /// n·spatial, the item of position s = 0 of the current image.
    item0: usize,
    classes: usize,
    spatial: usize,
}

impl Cursor {
    #[inline(always)]
    fn advance(&mut self) {
        self.s += 1;
        if self.s == self.spatial {
            self.s = 0;
            self.c += 1;
            if self.c == self.classes {
                self.c = 0;
                self.item0 += self.spatial;
            }
        }
    }
}

/// Expands the next `n` elements' class-dependent inputs into `b`.
#[inline(always)]
fn expand<T: Real>(
    cur: &mut Cursor,
    n: usize,
    targets: &ElementTargets<T>,
    opts: &ElementOptions<T>,
    b: &mut Block<T>,
) {
    let keep_bits = T::V::splat_bits(u64::MAX).to_array().as_ref()[0];
    let drop_bits = T::V::splat_bits(0).to_array().as_ref()[0];
    if cur.spatial == 1 {
        // [N, C] (every detector head): the block is runs of one item's classes, each with one
        // target, one keep flag and one weight; no cursor step per element.
        let mut j = 0;
        while j < n {
            let (c0, item) = (cur.c, cur.item0);
            let run = (cur.classes - c0).min(n - j);
            if let ElementTargets::Indices { indices, ignore_index } = *targets {
                let t = indices[item];
                let keep = if t == ignore_index { drop_bits } else { keep_bits };
                // (b.w is read only when there are weights: one loop for both cases.)
                let w = opts.weights.map_or(T::ONE, |w| w[item]);
                // An ignored (negative) index converts to a huge usize: never a class.
                let t = (t as usize).wrapping_sub(c0);
                for k in 0..run {
                    b.y[j + k] = if k == t { T::ONE } else { T::ZERO };
                    b.keep[j + k] = keep;
                    b.w[j + k] = w;
                }
            }
            if let PosWeight::PerClass(pw) = opts.pos_weight {
                b.pw[j..j + run].copy_from_slice(&pw[c0..c0 + run]);
            }
            cur.c += run;
            if cur.c == cur.classes {
                cur.c = 0;
                cur.item0 += 1;
            }
            j += run;
        }
        return;
    }
    for j in 0..n {
        let (c, item) = (cur.c, cur.item0 + cur.s);
        if let ElementTargets::Indices { indices, ignore_index } = *targets {
            let t = indices[item];
            // An ignored (negative) index converts to a huge usize: never a class.
            b.y[j] = if t as usize == c { T::ONE } else { T::ZERO };
            b.keep[j] = if t == ignore_index { drop_bits } else { keep_bits };
            if let Some(w) = opts.weights {
                b.w[j] = w[item];
            }
        }
        if let PosWeight::PerClass(pw) = opts.pos_weight {
            b.pw[j] = pw[c];
        }
        cur.advance();
    }
}

/// Runs `k` over every element (see the module comment). Returns Σ y for dense targets (0 for
/// class indices), added in f64 lane by lane: exact for 0/1 targets.
#[inline(never)]
fn drive<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: &ElementTargets<T>,
    opts: &ElementOptions<T>,
    out: &mut Outputs<T>,
    k: &Loss<W<T>>,
) -> f64 {
    type V<T> = <T as SimdReal>::V;
    let lanes = W::<T>::LANES;
    let len = logits.len();
    let zero = W::<T>::splat(T::ZERO);
    let one = W::<T>::splat(T::ONE);
    let scale = W::<T>::splat(T::from_f64(out.grad_scale));
    let pw_all = match opts.pos_weight {
        PosWeight::Scalar(pw) => W::<T>::splat(pw),
        _ => one,
    };
    let per_class_pw = matches!(opts.pos_weight, PosWeight::PerClass(_));
    // Every slice at its validated length: the loops below then need no bounds checks (which
    // cost the sigmoid kernel 5-15% when the compiler could not prove them).
    let dense = match *targets {
        ElementTargets::Dense(y) => Some((&y[..len], opts.weights.map(|w| &w[..len]))),
        ElementTargets::Indices { .. } => None,
    };
    let mut loss_out = out.loss.as_deref_mut().map(|l| &mut l[..len]);
    let mut grad_out = out.grad.as_deref_mut().map(|g| &mut g[..len]);
    let expanding = dense.is_none() || per_class_pw;
    let mut b = Block {
        x: [T::ZERO; BLOCK],
        y: [T::ZERO; BLOCK],
        w: [T::ZERO; BLOCK],
        keep: [T::ZERO; BLOCK],
        pw: [T::ONE; BLOCK],
        loss: [T::ZERO; BLOCK],
        grad: [T::ZERO; BLOCK],
    };
    let mut cur = Cursor {
        c: 0,
        s: 0,
        item0: 0,
        classes: layout.classes,
        spatial: layout.spatial,
    };
    let mut sum = out.sum;
    let mut positives = V::<T>::acc_zero();
    let mut i = 0;
    while i < len {
        let n = (len - i).min(BLOCK);
        if expanding {
            expand(&mut cur, n, targets, opts, &mut b);
        }
        // Whole vectors are read in place; a partial last vector from a padded copy. Every input
        // slice of the block is `padded_n` long, a multiple of LANES.
        let padded_n = n.div_ceil(lanes) * lanes;
        let in_place = padded_n == n;
        if !in_place {
            b.x[..n].copy_from_slice(&logits[i..i + n]);
            if let Some((y, w)) = dense {
                b.y[..n].copy_from_slice(&y[i..i + n]);
                if let Some(w) = w {
                    b.w[..n].copy_from_slice(&w[i..i + n]);
                }
            }
        }
        let xs: &[T] = if in_place { &logits[i..i + n] } else { &b.x[..padded_n] };
        let (ys, ws): (&[T], Option<&[T]>) = match dense {
            Some((y, w)) if in_place => (&y[i..i + n], w.map(|w| &w[i..i + n])),
            _ => (&b.y[..padded_n], opts.weights.map(|_| &b.w[..padded_n])),
        };
        // Outputs go straight to their place, or to the block's scratch (copied out below).
        let ls: &mut [T] = match loss_out.as_deref_mut() {
            Some(l) if in_place => &mut l[i..i + n],
            _ => &mut b.loss[..padded_n],
        };
        let gs: &mut [T] = match grad_out.as_deref_mut() {
            Some(g) if in_place => &mut g[i..i + n],
            _ => &mut b.grad[..padded_n],
        };
        // One vector of each per step, all `padded_n` long (absent inputs stand in as xs, unread).
        let inputs = xs
            .chunks_exact(lanes)
            .zip(ys.chunks_exact(lanes))
            .zip(ws.unwrap_or(xs).chunks_exact(lanes))
            .zip(b.keep[..padded_n].chunks_exact(lanes))
            .zip(b.pw[..padded_n].chunks_exact(lanes));
        let outputs = ls.chunks_exact_mut(lanes).zip(gs.chunks_exact_mut(lanes));
        for (((((x, y), w), keep), pw), (l, g)) in inputs.zip(outputs) {
            let w = if ws.is_some() { W::<T>::load(w) } else { one };
            let pw = if per_class_pw { W::<T>::load(pw) } else { pw_all };
            let y = W::<T>::load(y);
            let (loss, grad) = k.eval(W::<T>::load(x), y, pw);
            let mut loss = w * loss;
            let mut grad = (w * scale) * grad;
            if dense.is_none() {
                // Ignored items: exactly +0, whatever their logits.
                let keep = W::<T>::load(keep);
                loss = W::<T>::select(keep, loss, zero);
                grad = W::<T>::select(keep, grad, zero);
            } else {
                // Padded lanes hold 0 (b.y is only ever written up to a partial block's end). Lane
                // by lane of the single vectors, in order (the same sums with or without pairs).
                positives = T::acc_add_e(positives, y);
            }
            loss.store(l);
            grad.store(g);
        }
        // In element order, as every chunking of the batch adds them.
        for &v in &ls[..n] {
            sum += v.to_f64();
        }
        if !in_place {
            if let Some(l) = loss_out.as_deref_mut() {
                l[i..i + n].copy_from_slice(&b.loss[..n]);
            }
            if let Some(g) = grad_out.as_deref_mut() {
                g[i..i + n].copy_from_slice(&b.grad[..n]);
            }
        }
        i += n;
    }
    out.sum = sum;
    V::<T>::acc_total(positives)
}

/// The element-wise kernel over validated inputs (see `crate::elementwise_accumulate`). Returns
/// Σ y for dense targets.
pub(crate) fn run<T: Real>(
    layout: Layout,
    logits: &[T],
    targets: &ElementTargets<T>,
    opts: &ElementOptions<T>,
    out: &mut Outputs<T>,
) -> f64 {
    let splat = W::<T>::splat;
    let pow = |g: T| FocalPow::<W<T>>::new(g, g.to_f64());
    let k = match opts.loss {
        ElementLoss::Focal { gamma, alpha } => {
            let (eps, poly) = (opts.label_smoothing, opts.poly_epsilon);
            Loss::Focal {
                alpha: alpha.map(splat),
                gamma: pow(gamma),
                smoothing: (eps != T::ZERO).then(|| (splat(T::ONE - eps), splat(eps * T::from_f64(0.5)))),
                pos_weight: !matches!(opts.pos_weight, PosWeight::None),
                poly: (poly != T::ZERO).then(|| (splat(poly), splat(poly * (gamma + T::ONE)))),
            }
        }
        ElementLoss::Quality { beta } => Loss::Quality { beta: pow(beta) },
        ElementLoss::Varifocal {
            alpha,
            gamma,
            iou_weighted,
        } => Loss::Varifocal {
            alpha: splat(alpha),
            gamma: pow(gamma),
            iou_weighted,
        },
        ElementLoss::Asymmetric {
            gamma_pos,
            gamma_neg,
            clip,
            detach_focal_weight,
        } => Loss::Asymmetric {
            gamma_pos: pow(gamma_pos),
            gamma_neg: pow(gamma_neg),
            clip: (clip != T::ZERO).then(|| (splat(clip), splat(clip.ln()))),
            detach: detach_focal_weight,
        },
    };
    drive(layout, logits, targets, opts, out, &k)
}
