//! Finite differences for the gradient tests: a Richardson-extrapolated central difference, and the
//! comparison of an analytic gradient with it at every coordinate.

/// Richardson-extrapolated central difference of f at z along coordinate j.
pub fn numeric_derivative(f: &dyn Fn(&[f64]) -> f64, z: &[f64], j: usize) -> f64 {
    let h = 1e-3 * z[j].abs().max(1.0);
    let d = |h: f64| {
        let mut zp = z.to_vec();
        let mut zm = z.to_vec();
        zp[j] = z[j] + h;
        zm[j] = z[j] - h;
        let h_eff = (zp[j] - zm[j]) * 0.5; // the step actually taken
        (f(&zp) - f(&zm)) / (2.0 * h_eff)
    };
    (4.0 * d(h * 0.5) - d(h)) / 3.0
}

/// Compares an analytic gradient with finite differences of `f` at every coordinate: within
/// 1e-7 of the largest entry + 1e-6 of the entry + `loss_rtol` of |f(z)| (the differences' rounding).
#[track_caller]
pub fn check_gradient(name: &str, f: &dyn Fn(&[f64]) -> f64, z: &[f64], grad: &[f64], loss_rtol: f64) {
    let gmax = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let lmag = f(z).abs();
    for (j, &g) in grad.iter().enumerate() {
        let num = numeric_derivative(f, z, j);
        let tol = 1e-7 * gmax + 1e-6 * g.abs() + loss_rtol * lmag;
        assert!(
            (num - g).abs() <= tol,
            "{name}: d/dz[{j}]: numeric {num:e} vs analytic {g:e} (tol {tol:e}, gmax {gmax:e})"
        );
    }
}
