//! The shared test vectors (test/vectors/vectors.json, computed at 60 digits with mpmath by
//! test/vectors/generate.py) run through the safe API in every dtype each case lists.
//!
//! Tolerance per value: |got − exp| ≤ rtol·max(|exp|, scale) + tiny, where scale is the case's
//! `grad_scale[i]` for gradient entries (the size of the terms that cancel in soft-target
//! gradients) and |exp| for losses, and tiny is the smallest positive normal of the dtype (results
//! below the normal range may flush). rtol is 1e-10 for f64 and 3e-5 for f32. An expected "nan"
//! must be NaN, an expected ±"inf" must be that infinity.
//!
//! `cargo test --test vectors -- --nocapture` prints the number of cases and values checked and
//! the worst relative error per dtype.
//!
//! Every case of the file's one array, "cases", runs: softmax, sigmoid (the original options through
//! `sigmoid_focal_loss`, class-index targets, posWeight, polyEpsilon and normalizer through the
//! element-wise API) and the element-wise kinds "quality", "varifocal" and "asymmetric" (see the
//! format notes at the top of generate.py).

mod json;

use focal_loss::{
    elementwise_accumulate, sigmoid_focal_loss, softmax_focal_accumulate, softmax_focal_loss, Alpha, ElementLoss,
    ElementOptions, ElementTargets, Layout, Outputs, PosWeight, Real, Reduced, Reduction, SigmoidOptions,
    SoftmaxOptions, SoftmaxTargets,
};
use json::Json;

/// Per-dtype description: name, relative tolerance, smallest positive normal.
trait Dtype: Real + std::fmt::Debug {
    const NAME: &'static str;
    const RTOL: f64;
    const TINY: f64;
}
impl Dtype for f32 {
    const NAME: &'static str = "f32";
    const RTOL: f64 = 3e-5;
    const TINY: f64 = f32::MIN_POSITIVE as f64;
}
impl Dtype for f64 {
    const NAME: &'static str = "f64";
    const RTOL: f64 = 1e-10;
    const TINY: f64 = f64::MIN_POSITIVE;
}

/// Converts an input of a case to T, asserting it is exactly representable (the generator
/// promises this for every case marked "f32").
fn input<T: Real>(v: f64, what: &str, case: &str) -> T {
    let t = T::from_f64(v);
    assert!(
        t.to_f64() == v || (v.is_nan() && t.is_nan()),
        "{case}: {what} value {v:e} is not exactly representable"
    );
    t
}

fn inputs<T: Real>(v: &[f64], what: &str, case: &str) -> Vec<T> {
    v.iter().map(|&x| input(x, what, case)).collect()
}

/// The exact value as T can hold it, as far as range goes: a finite value beyond T's largest
/// finite number rounds to ±∞ (below the normal range the tolerance's `tiny` covers flushing).
fn stored<T: Real>(exact: f64) -> f64 {
    let r = T::from_f64(exact);
    if exact.is_finite() && !r.is_finite() {
        r.to_f64()
    } else {
        exact
    }
}

fn reduction_of(s: &str) -> Reduction {
    match s {
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "none" => Reduction::None,
        other => panic!("unknown reduction {other:?}"),
    }
}

#[derive(Default)]
struct Stats {
    cases: usize,
    values: usize,
    worst: f64,
    worst_at: String,
    /// Worst relative error per kind (softmax, sigmoid, element-wise family), for the report.
    worst_kind: [f64; 3],
    kind: usize,
    failures: Vec<String>,
}

impl Stats {
    /// Checks one value; `scale` is the magnitude the tolerance is relative to (≥ |exp|).
    fn check<T: Dtype>(&mut self, case: &str, what: &str, got: f64, exp: f64, scale: f64) {
        self.values += 1;
        let ok = if exp.is_nan() {
            got.is_nan()
        } else if exp.is_infinite() {
            got == exp
        } else if !got.is_finite() {
            false
        } else {
            let err = (got - exp).abs();
            let denom = exp.abs().max(scale);
            if denom > T::TINY {
                let rel = err / denom;
                self.worst_kind[self.kind] = self.worst_kind[self.kind].max(rel);
                if rel > self.worst {
                    self.worst = rel;
                    self.worst_at = format!("{case} {what}: got {got:e}, expected {exp:e}");
                }
            }
            err <= T::RTOL * denom + T::TINY
        };
        if !ok {
            self.failures.push(format!(
                "[{}] {case} {what}: got {got:e}, expected {exp:e} (scale {scale:e})",
                T::NAME
            ));
        }
    }

    /// Checks a value that is stored in T (a gradient entry or a per-item loss): an exact value
    /// beyond T's finite range rounds to ±∞ in T, which is then what the output must hold.
    fn check_stored<T: Dtype>(&mut self, case: &str, what: &str, got: T, exp: f64, scale: f64) {
        self.check::<T>(case, what, got.to_f64(), stored::<T>(exp), scale);
    }

    fn check_grad<T: Dtype>(&mut self, case: &str, got: &[T], expected: &Json) {
        let exp = expected.at("grad").nums();
        let scale = expected.at("grad_scale").nums();
        assert_eq!(got.len(), exp.len(), "{case}: gradient length");
        assert_eq!(scale.len(), exp.len(), "{case}: grad_scale length");
        for i in 0..exp.len() {
            // A NaN scale (an item with a NaN loss) only matters when exp is NaN too.
            let s = if scale[i].is_nan() { 0.0 } else { scale[i] };
            self.check_stored::<T>(case, &format!("grad[{i}]"), got[i], exp[i], s);
        }
    }

    fn check_loss<T: Dtype>(&mut self, case: &str, r: &Reduced, loss_out: &[T], expected: &Json) {
        let exp = expected.at("loss");
        let scale = expected.get("loss_scale");
        let count = expected.at("count").int() as usize;
        if r.count != count {
            self.failures
                .push(format!("[{}] {case}: count {} != expected {count}", T::NAME, r.count));
        }
        match exp {
            Json::Arr(_) => {
                let e = exp.nums();
                assert_eq!(loss_out.len(), e.len(), "{case}: loss length");
                let s = scale.map_or_else(|| e.iter().map(|v| v.abs()).collect(), Json::nums);
                for i in 0..e.len() {
                    let si = if s[i].is_nan() { 0.0 } else { s[i] };
                    self.check_stored::<T>(case, &format!("loss[{i}]"), loss_out[i], e[i], e[i].abs().max(si));
                }
                // Under 'none', Reduced.loss is the (f64) sum of the item losses as stored in T,
                // with the tolerance of the items' own scales.
                let mag: f64 = e
                    .iter()
                    .zip(&s)
                    .map(|(v, si)| v.abs().max(if si.is_nan() { 0.0 } else { *si }))
                    .sum();
                let e: Vec<f64> = e.iter().map(|&v| stored::<T>(v)).collect();
                let total: f64 = e.iter().sum();
                self.check::<T>(case, "loss (sum of none)", r.loss, total, mag);
            }
            _ => {
                let e = exp.num();
                let s = scale.map_or(0.0, |s| if s.num().is_nan() { 0.0 } else { s.num() });
                self.check::<T>(case, "loss", r.loss, e, e.abs().max(s));
            }
        }
    }
}

fn run_softmax<T: Dtype>(case: &Json, st: &mut Stats) {
    let name = case.at("name").str();
    let z: Vec<T> = inputs(&case.at("logits").nums(), "logit", name);
    let layout = if let Some(c) = case.get("classes") {
        let c = c.int() as usize;
        assert!(c > 0 && z.len().is_multiple_of(c), "{name}: logits length vs classes");
        Layout::rows(z.len() / c, c)
    } else {
        let shape: Vec<usize> = case.at("shape").arr().iter().map(|v| v.int() as usize).collect();
        assert!(shape.len() >= 2, "{name}: shape needs [N, C, ...]");
        Layout::channels_first(shape[0], shape[1], shape[2..].iter().product())
    };
    let opts = case.at("options");
    let alpha_vec: Vec<T>;
    let alpha = match opts.get("alpha") {
        None | Some(Json::Null) => Alpha::None,
        Some(Json::Arr(_)) => {
            alpha_vec = inputs(&opts.at("alpha").nums(), "alpha", name);
            Alpha::PerClass(&alpha_vec)
        }
        Some(a) => Alpha::Scalar(input(a.num(), "alpha", name)),
    };
    let weights: Option<Vec<T>> = opts.get("weights").map(|w| inputs(&w.nums(), "weight", name));
    let o = SoftmaxOptions {
        gamma: input(opts.at("gamma").num(), "gamma", name),
        alpha,
        ignore_index: opts.at("ignoreIndex").int() as i32,
        label_smoothing: input(opts.at("labelSmoothing").num(), "labelSmoothing", name),
        poly_epsilon: opts
            .get("polyEpsilon")
            .map_or(T::ZERO, |e| input(e.num(), "polyEpsilon", name)),
        weights: weights.as_deref(),
    };
    let indices: Vec<i32>;
    let probs: Vec<T>;
    let targets = if let Some(t) = case.get("targets") {
        indices = t.arr().iter().map(|v| v.int() as i32).collect();
        SoftmaxTargets::Indices(&indices)
    } else {
        probs = inputs(&case.at("probs").nums(), "probability", name);
        SoftmaxTargets::Probabilities(&probs)
    };
    let reduction = reduction_of(opts.at("reduction").str());
    let items = layout.items().expect("valid layout");
    let mut loss_out = vec![T::NAN; items];
    let mut grad = vec![T::NAN; z.len()];
    let r = if let Some(normalizer) = opts.get("normalizer") {
        // Σ w·l / normalizer, its gradient scaled in the kernel (what the TypeScript engine does).
        let normalizer = normalizer.num();
        let mut out = Outputs {
            grad_scale: 1.0 / normalizer,
            ..Outputs::new(None, Some(&mut grad))
        };
        let count = softmax_focal_accumulate(layout, &z, targets, &o, &mut out)
            .unwrap_or_else(|e| panic!("[{}] {name}: rejected with {e:?}", T::NAME));
        Reduced {
            loss: out.sum / normalizer,
            sum: out.sum,
            count,
        }
    } else {
        let lo = if reduction == Reduction::None {
            Some(&mut loss_out[..])
        } else {
            None
        };
        softmax_focal_loss(layout, &z, targets, &o, reduction, lo, Some(&mut grad))
            .unwrap_or_else(|e| panic!("[{}] {name}: rejected with {e:?}", T::NAME))
    };
    let expected = case.at("expected");
    st.check_loss::<T>(name, &r, &loss_out, expected);
    st.check_grad::<T>(name, &grad, expected);
    st.cases += 1;
}

fn run_sigmoid<T: Dtype>(case: &Json, st: &mut Stats) {
    let name = case.at("name").str();
    let x: Vec<T> = inputs(&case.at("logits").nums(), "logit", name);
    let y: Vec<T> = inputs(&case.at("targets").nums(), "target", name);
    let opts = case.at("options");
    let alpha = match opts.get("alpha") {
        None | Some(Json::Null) => None,
        Some(a) if a.num() < 0.0 => None, // torchvision's -1
        Some(a) => Some(input(a.num(), "alpha", name)),
    };
    let weights: Option<Vec<T>> = opts.get("weights").map(|w| inputs(&w.nums(), "weight", name));
    let o = SigmoidOptions {
        gamma: input(opts.at("gamma").num(), "gamma", name),
        alpha,
        label_smoothing: input(opts.at("labelSmoothing").num(), "labelSmoothing", name),
        weights: weights.as_deref(),
    };
    let reduction = reduction_of(opts.at("reduction").str());
    let mut loss_out = vec![T::NAN; x.len()];
    let mut grad = vec![T::NAN; x.len()];
    let lo = if reduction == Reduction::None {
        Some(&mut loss_out[..])
    } else {
        None
    };
    let r = sigmoid_focal_loss(&x, &y, &o, reduction, lo, Some(&mut grad))
        .unwrap_or_else(|e| panic!("[{}] {name}: rejected with {e:?}", T::NAME));
    let expected = case.at("expected");
    st.check_loss::<T>(name, &r, &loss_out, expected);
    st.check_grad::<T>(name, &grad, expected);
    st.cases += 1;
}

/// A number option, or its default.
fn opt_num<T: Real>(opts: &Json, key: &str, default: f64, name: &str) -> T {
    opts.get(key)
        .map_or(T::from_f64(default), |v| input(v.num(), key, name))
}

fn opt_bool(opts: &Json, key: &str, default: bool) -> bool {
    match opts.get(key) {
        None => default,
        Some(Json::Bool(b)) => *b,
        Some(other) => panic!("{key}: not a boolean: {other:?}"),
    }
}

/// The element-wise kinds ("sigmoid" with targetKind, "quality", "varifocal", "asymmetric"):
/// dense targets or class indices, any layout, every option, normalizer and positives.
fn run_elementwise<T: Dtype>(case: &Json, st: &mut Stats) {
    let name = case.at("name").str();
    let x: Vec<T> = inputs(&case.at("logits").nums(), "logit", name);
    let layout = if let Some(c) = case.get("classes") {
        let c = c.int() as usize;
        Layout::rows(x.len() / c, c)
    } else if let Some(shape) = case.get("shape") {
        let shape: Vec<usize> = shape.arr().iter().map(|v| v.int() as usize).collect();
        Layout::channels_first(shape[0], shape[1], shape[2..].iter().product())
    } else {
        Layout::rows(x.len(), 1)
    };
    let opts = case.at("options");
    let loss = match case.at("kind").str() {
        "sigmoid" => ElementLoss::Focal {
            gamma: input(opts.at("gamma").num(), "gamma", name),
            alpha: match opts.get("alpha") {
                None | Some(Json::Null) => None,
                Some(a) if a.num() < 0.0 => None,
                Some(a) => Some(input(a.num(), "alpha", name)),
            },
        },
        "quality" => ElementLoss::Quality {
            beta: opt_num(opts, "beta", 2.0, name),
        },
        "varifocal" => ElementLoss::Varifocal {
            alpha: opt_num(opts, "alpha", 0.75, name),
            gamma: opt_num(opts, "gamma", 2.0, name),
            iou_weighted: opt_bool(opts, "iouWeighted", true),
        },
        "asymmetric" => ElementLoss::Asymmetric {
            gamma_pos: opt_num(opts, "gammaPos", 1.0, name),
            gamma_neg: opt_num(opts, "gammaNeg", 4.0, name),
            clip: opt_num(opts, "clip", 0.05, name),
            detach_focal_weight: opt_bool(opts, "detachFocalWeight", false),
        },
        other => panic!("unknown kind {other:?}"),
    };
    let weights: Option<Vec<T>> = opts.get("weights").map(|w| inputs(&w.nums(), "weight", name));
    let pw_vec: Vec<T>;
    let pos_weight = match opts.get("posWeight") {
        None | Some(Json::Null) => PosWeight::None,
        Some(Json::Arr(_)) => {
            pw_vec = inputs(&opts.at("posWeight").nums(), "posWeight", name);
            PosWeight::PerClass(&pw_vec)
        }
        Some(v) => PosWeight::Scalar(input(v.num(), "posWeight", name)),
    };
    let o = ElementOptions {
        loss,
        label_smoothing: opt_num(opts, "labelSmoothing", 0.0, name),
        pos_weight,
        poly_epsilon: opt_num(opts, "polyEpsilon", 0.0, name),
        weights: weights.as_deref(),
    };
    let dense: Vec<T>;
    let indices: Vec<i32>;
    let targets = match case.get("targetKind").map_or("dense", Json::str) {
        "dense" => {
            dense = inputs(&case.at("targets").nums(), "target", name);
            ElementTargets::Dense(&dense)
        }
        "indices" => {
            indices = case.at("targets").arr().iter().map(|v| v.int() as i32).collect();
            ElementTargets::Indices {
                indices: &indices,
                ignore_index: opts.get("ignoreIndex").map_or(-100, |v| v.int() as i32),
            }
        }
        other => panic!("{name}: unknown targetKind {other:?}"),
    };
    let reduction = reduction_of(opts.get("reduction").map_or("mean", Json::str));
    let mut loss_out = vec![T::NAN; x.len()];
    let mut grad = vec![T::NAN; x.len()];
    // What the engine does: count first, then one call with the gradient scale of the reduction.
    let expected = case.at("expected");
    let normalizer = opts.get("normalizer").map(Json::num);
    let mut probe = Outputs::new(None, None);
    let count = elementwise_accumulate(layout, &x, targets, &o, &mut probe)
        .unwrap_or_else(|e| panic!("[{}] {name}: rejected with {e:?}", T::NAME))
        .counted;
    let divisor = match (reduction, normalizer) {
        (Reduction::Mean, Some(n)) => n,
        (Reduction::Mean, None) if count > 0 => count as f64,
        (Reduction::Mean, None) => f64::INFINITY, // loss and gradient 0
        _ => 1.0,
    };
    let mut out = Outputs {
        grad_scale: 1.0 / divisor,
        ..Outputs::new(Some(&mut loss_out), Some(&mut grad))
    };
    let counts = elementwise_accumulate(layout, &x, targets, &o, &mut out).unwrap();
    let sum = out.sum;
    let r = Reduced {
        loss: if reduction == Reduction::Mean {
            sum / divisor
        } else {
            sum
        },
        sum,
        count: counts.counted,
    };
    if let Some(p) = expected.get("positives") {
        if counts.positives != p.num() && (counts.positives - p.num()).abs() > 1e-12 * p.num().abs() {
            st.failures.push(format!(
                "[{}] {name}: positives {} != {}",
                T::NAME,
                counts.positives,
                p.num()
            ));
        }
    }
    st.check_loss::<T>(name, &r, &loss_out, expected);
    st.check_grad::<T>(name, &grad, expected);
    st.cases += 1;
}

fn load() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../test/vectors/vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    Json::parse(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// Runs every case of "cases" listed for T (a missing array is a panic, not an empty run).
fn run_all<T: Dtype>() -> Stats {
    let doc = load();
    assert!(doc.at("generated").str().contains("generate.py"));
    let mut st = Stats::default();
    let mut listed = 0;
    for case in doc.at("cases").arr() {
        let dtypes: Vec<&str> = case.at("dtypes").arr().iter().map(Json::str).collect();
        if !dtypes.contains(&T::NAME) {
            continue;
        }
        listed += 1;
        match case.at("kind").str() {
            "softmax" => {
                st.kind = 0;
                run_softmax::<T>(case, &mut st)
            }
            // The extended sigmoid options (class indices, posWeight, polyEpsilon, normalizer) run
            // through the element-wise API; the original ones through sigmoid_focal_loss.
            "sigmoid" if case.get("targetKind").is_none() => {
                st.kind = 1;
                run_sigmoid::<T>(case, &mut st)
            }
            "sigmoid" | "quality" | "varifocal" | "asymmetric" => {
                st.kind = 2;
                run_elementwise::<T>(case, &mut st)
            }
            other => panic!("unknown kind {other:?}"),
        }
    }
    assert_eq!(st.cases, listed);
    assert!(st.cases > 0, "[{}] no cases listed for this dtype", T::NAME);
    // generate.py's accuracy_cases (Poly-1 near p = 1, large γ with soft targets: 18 float32, 24 float64) and
    // acc_subtract_cases (QFL with y a few ulps from σ(x), ASL with σ(x) just above clip, under the weaker rule's
    // scales: 25 float32, 51 float64).
    let accuracy = doc
        .at("cases")
        .arr()
        .iter()
        .filter(|c| c.at("name").str().starts_with("acc/") && c.at("dtypes").arr().iter().any(|d| d.str() == T::NAME))
        .count();
    let want = if T::NAME == "f32" { 43 } else { 75 };
    assert!(accuracy >= want, "[{}] only {accuracy} accuracy cases", T::NAME);
    println!(
        "[{}] cases: {} cases, {} values checked; worst relative error {:.3e} (softmax {:.3e}, sigmoid {:.3e}, \
         element-wise {:.3e}) at {}",
        T::NAME,
        st.cases,
        st.values,
        st.worst,
        st.worst_kind[0],
        st.worst_kind[1],
        st.worst_kind[2],
        st.worst_at
    );
    for f in &st.failures {
        println!("FAIL {f}");
    }
    st
}

#[test]
fn json_parser() {
    json::self_test();
}

#[test]
fn shared_vectors_f64() {
    let st = run_all::<f64>();
    // The file has hundreds of f64 cases; a near-empty run would mean the file was not read.
    assert!(st.cases >= 500, "only {} f64 cases", st.cases);
    assert!(
        st.failures.is_empty(),
        "{} failures:\n{}",
        st.failures.len(),
        st.failures.join("\n")
    );
}

#[test]
fn shared_vectors_f32() {
    let st = run_all::<f32>();
    assert!(st.cases >= 400, "only {} f32 cases", st.cases);
    assert!(
        st.failures.is_empty(),
        "{} failures:\n{}",
        st.failures.len(),
        st.failures.join("\n")
    );
}
