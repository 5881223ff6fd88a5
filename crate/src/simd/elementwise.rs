//! The vectorised element-wise kernel: the formulas of `crate::family` (one module per loss, with
//! its derivation and its `lanes`), LANES elements at a time, all four losses in one kernel
//! ([`Loss`], `crate::family::LossLanes`: a `match` per vector) and one driver per float type.
//!
//! # Method
//!
//! - [`run`] turns the call's options into lanes once ([`Loss`], each loss module's `Lanes::new`:
//!   splatted parameters, `FocalPow` for each power, ln clip, Poly-1's ε·(γ + 1), label
//!   smoothing's (1 − ε, ε/2)).
//! - Every element starts the same way ([`eval`]'s front, [`Front`]): e = exp(−|x|),
//!   1/(1 + e) and log1p(e) (inlined where the build inlines them, as every kernel does); each
//!   loss's `lanes` then forms p, 1 − p and softplus(±x) by selects. The sigmoid focal loss is the
//!   hot path (`crate::family::focal`).
//! - The driver streams a call in blocks of [`BLOCK`] elements. Class-index targets, per-item
//!   weights and per-class positive weights are expanded for one block at a time into small arrays
//!   (y of an element is 1 where the element's class is its item's index: no one-hot array is
//!   built); dense targets and per-element weights are read in place. A call's last, partial
//!   block is copied into padded arrays, so every load is a whole vector. Outputs go straight to
//!   their place, or to the block's scratch when not wanted or partial.
//!
//! # Special cases
//!
//! - +∞ logits are made NaN before anything else (the contract's "NaN or +∞ gives NaN").
//! - Ignored items (class indices equal to `ignore_index`) get exactly +0 loss and gradient,
//!   whatever their logits, and add nothing.
//! - The padded lanes of a partial block are computed but never written out or summed (with dense
//!   targets they hold y = 0, so Σ y adds nothing for them).
//!
//! # Accuracy
//!
//! Every lane is computed from its own element alone, so a result never depends on its lane, its
//! block or the chunk it was passed in (the same bits); element losses are added to the running sum
//! in f64 in element order, Σ y lane by lane in f64 (exact for 0/1 targets). The formulas' own
//! accuracy is that of each loss module (CONTRACT.md § Accuracy); `super::math`'s exp / ln / ln_1p
//! are under 1 ulp (float64) and about 1 ulp (float32).

use super::math::{exp_nonpos, ln_1p_unit};
use super::{SimdReal, VMath, Vector};
use crate::family::{ElementOptions, ElementTargets, LossLanes, PosWeight, Start};
use crate::real::Real;
use crate::{Layout, Outputs};

/// Elements per block of the driver (a multiple of every LANES).
const BLOCK: usize = 64;

/// The driver's vector: with SIMD128 two (f32) or four (f64) of the float type's vectors
/// interleaved (`super::pair`, `SimdReal::E`: the same results, lane for lane, faster — the
/// per-element chain of exp, log1p, divisions and the loss terms is long, and independent chains
/// side by side fill the CPU's window).
type W<T> = <T as SimdReal>::E;

/// The call's loss with its per-call parameters, as lanes (`crate::family::LossLanes`).
type Loss<V> = LossLanes<V>;

/// x (+∞ made NaN), e = exp(−|x|), log1p(e), 1/(1 + e) = max(p, 1 − p), e/(1 + e) = min(p, 1 − p).
#[derive(Clone, Copy)]
struct Front<V> {
    x: V,
    log1p_e: V,
    inv: V,
    e_inv: V,
}

impl<V: Copy> Front<V> {
    /// The front as the loss modules take it (`crate::family::Start`, which does not depend on
    /// this module).
    #[inline(always)]
    fn start(&self) -> Start<V> {
        (self.x, self.log1p_e, self.inv, self.e_inv)
    }
}

/// (loss, ∂loss/∂x) before the weight, from the logits, the (unsmoothed) targets and the positive
/// weights of the lanes: the front every loss shares, then the call's loss (`LossLanes::eval`).
#[inline(always)]
fn eval<V: VMath>(k: &Loss<V>, x: V, y: V, pw: V) -> (V, V) {
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
    k.eval(f.start(), y, pw)
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
            let (loss, grad) = eval(k, W::<T>::load(x), y, pw);
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
    let k = Loss::<W<T>>::new(opts);
    drive(layout, logits, targets, opts, out, &k)
}
