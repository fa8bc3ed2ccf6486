//! Minimizing a convex function on an interval `[a, b]` (chapter exercise 2).
//!
//! (a) Does bisection need derivatives? To keep `[a, m]` or `[m, b]`,
//! `m = (a + b)/2`, one must know on which side of `m` the minimizer lies,
//! and for convex `f` that is the sign of `f′(m)`: `f′(m) > 0` keeps
//! `[a, m]`, `f′(m) < 0` keeps `[m, b]`. One value `f(m)` cannot tell (it
//! says nothing about the slope); without derivatives one needs two values
//! per step (a finite difference, or the golden-section scheme below).
//!
//! (b) How fast? The width after `k` steps is `(b − a)/2ᵏ`: linear
//! convergence with rate ½, one derivative evaluation per step, so
//! `⌈log₂((b − a)/tol)⌉` evaluations reach width `tol`. Golden-section search
//! ([`golden_minimize`]) uses values only; its width shrinks by
//! `0.618 = 1/1.618` per evaluation, so it needs `log 2 / log 1.618 ≈ 1.44`
//! times as many evaluations for the same width.
//!
//! (c) On `f(x) = log(exp(x) + exp(−2x − 3))`, `[a, b] = [−3, 2]`, both find
//! `x* = (ln 2 − 3)/3 = −0.768951`.
//!
//! ```
//! use downhill::line_search::bisection_minimize;
//! // f′(x) = (eˣ − 2e^(−2x−3)) / (eˣ + e^(−2x−3))
//! let mut df = |x: f64| {
//!     let (p, q) = (x.exp(), (-2.0 * x - 3.0).exp());
//!     (p - 2.0 * q) / (p + q)
//! };
//! let trace = bisection_minimize(&mut df, -3.0, 2.0, 1e-9, 100);
//! assert_eq!(format!("{:.6}", trace.minimizer), "-0.768951");
//! assert_eq!(trace.evaluations, 33); // 5 / 2³³ ≤ 1e-9 < 5 / 2³²
//! ```

use super::golden::GOLDEN_SMALL;

/// How an interval method closed in on a minimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalTrace {
    /// The bracket width before the first step (`b − a`) and after each step.
    pub widths: Vec<f64>,
    /// Calls of the function (`f′` for bisection, `f` for golden section).
    pub evaluations: usize,
    /// The estimate of the minimizer: the midpoint of the last bracket for
    /// bisection, the lowest point found for golden section.
    pub minimizer: f64,
}

/// Orders the ends; `None` if one is not finite.
fn ends(a: f64, b: f64) -> Option<(f64, f64)> {
    if a.is_finite() && b.is_finite() {
        Some((a.min(b), a.max(b)))
    } else {
        None
    }
}

/// Bisection on `f′` over `[a, b]`: each step evaluates `f′` at the midpoint
/// and keeps the half where `f′` changes sign, so the width halves each step
/// (linear convergence, rate ½). Stops when the width is `≤ tol` or after
/// `max_steps` steps.
///
/// For a convex `f` the minimizer stays in the bracket; if it is an end of
/// `[a, b]` the bracket closes in on that end. `f′(m) = 0` ends the search
/// at `m` (the last width is then 0); a non-finite `f′(m)` ends it with the
/// current bracket. Reversed ends are swapped; non-finite ends give no
/// steps and a `NaN` minimizer. The widths are the computed `hi − lo`, which
/// halve exactly whenever the midpoints are representable (e.g. dyadic ends).
pub fn bisection_minimize(
    df: &mut dyn FnMut(f64) -> f64,
    a: f64,
    b: f64,
    tol: f64,
    max_steps: usize,
) -> IntervalTrace {
    let Some((mut lo, mut hi)) = ends(a, b) else {
        return IntervalTrace {
            widths: vec![b - a],
            evaluations: 0,
            minimizer: f64::NAN,
        };
    };
    let mut widths = vec![hi - lo];
    let mut evaluations = 0;
    for _ in 0..max_steps {
        if hi - lo <= tol {
            break;
        }
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        let slope = df(mid);
        evaluations += 1;
        if slope > 0.0 {
            hi = mid;
        } else if slope < 0.0 {
            lo = mid;
        } else if slope == 0.0 {
            (lo, hi) = (mid, mid);
        } else {
            break;
        }
        widths.push(hi - lo);
    }
    IntervalTrace {
        widths,
        evaluations,
        minimizer: 0.5 * (lo + hi),
    }
}

/// Golden-section search on `f` alone over `[a, b]`: two interior points at
/// `0.382` and `0.618` of the bracket; each step drops the end beyond the
/// higher one and evaluates one new point, so the width shrinks by `0.618`
/// per evaluation. Stops when the width is `≤ tol` or after `max_steps`
/// steps (`evaluations = 2 + steps`).
///
/// Non-finite values count as `+∞`. Reversed ends are swapped; non-finite
/// ends give no steps and a `NaN` minimizer. The minimizer returned is the
/// interior point with the lowest value.
///
/// ```
/// use downhill::line_search::golden_minimize;
/// let mut f = |x: f64| (x.exp() + (-2.0 * x - 3.0).exp()).ln();
/// let trace = golden_minimize(&mut f, -3.0, 2.0, 1e-9, 100);
/// assert_eq!(format!("{:.6}", trace.minimizer), "-0.768951");
/// assert_eq!(trace.evaluations, 2 + 47); // 5 · 0.618⁴⁷ ≤ 1e-9
/// ```
pub fn golden_minimize(
    f: &mut dyn FnMut(f64) -> f64,
    a: f64,
    b: f64,
    tol: f64,
    max_steps: usize,
) -> IntervalTrace {
    let Some((mut lo, mut hi)) = ends(a, b) else {
        return IntervalTrace {
            widths: vec![b - a],
            evaluations: 0,
            minimizer: f64::NAN,
        };
    };
    let mut value = |x: f64| {
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let mut widths = vec![hi - lo];
    let mut left = hi - (1.0 - GOLDEN_SMALL) * (hi - lo);
    let mut right = lo + (1.0 - GOLDEN_SMALL) * (hi - lo);
    let mut f_left = value(left);
    let mut f_right = value(right);
    let mut evaluations = 2;
    for _ in 0..max_steps {
        if hi - lo <= tol {
            break;
        }
        if f_left <= f_right {
            // The minimizer is in [lo, right]: `left` becomes the right point.
            hi = right;
            (right, f_right) = (left, f_left);
            left = hi - (1.0 - GOLDEN_SMALL) * (hi - lo);
            if !(left > lo && left < right) {
                break;
            }
            f_left = value(left);
        } else {
            lo = left;
            (left, f_left) = (right, f_right);
            right = lo + (1.0 - GOLDEN_SMALL) * (hi - lo);
            if !(right > left && right < hi) {
                break;
            }
            f_right = value(right);
        }
        evaluations += 1;
        widths.push(hi - lo);
    }
    IntervalTrace {
        widths,
        evaluations,
        minimizer: if f_left <= f_right { left } else { right },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_a_boundary_minimizer() {
        // f(x) = x on [1, 2]: f′ = 1 > 0 everywhere, minimizer a = 1
        let trace = bisection_minimize(&mut |_| 1.0, 1.0, 2.0, 1e-6, 100);
        assert!((trace.minimizer - 1.0).abs() <= 1e-6);
    }

    #[test]
    fn bisection_stops_on_a_zero_slope() {
        let trace = bisection_minimize(&mut |x| x, -1.0, 1.0, 1e-9, 100);
        assert_eq!(trace.minimizer, 0.0);
        assert_eq!(trace.evaluations, 1);
        assert_eq!(trace.widths, vec![2.0, 0.0]);
    }

    #[test]
    fn reversed_and_non_finite_ends() {
        let trace = bisection_minimize(&mut |x| 2.0 * (x - 0.25), 1.0, -1.0, 1e-9, 100);
        assert!((trace.minimizer - 0.25).abs() <= 1e-9);
        let trace = bisection_minimize(&mut |x| x, f64::NAN, 1.0, 1e-9, 100);
        assert!(trace.minimizer.is_nan());
        assert_eq!(trace.evaluations, 0);
        let trace = golden_minimize(&mut |x| x * x, 0.0, f64::INFINITY, 1e-9, 100);
        assert!(trace.minimizer.is_nan());
        assert_eq!(trace.evaluations, 0);
    }

    #[test]
    fn golden_treats_non_finite_values_as_too_high() {
        // f = (x − 1)² but NaN beyond 1.5
        let mut f = |x: f64| if x > 1.5 { f64::NAN } else { (x - 1.0).powi(2) };
        let trace = golden_minimize(&mut f, -4.0, 4.0, 1e-7, 200);
        assert!((trace.minimizer - 1.0).abs() <= 1e-6, "{trace:?}");
    }

    #[test]
    fn nan_derivative_stops_bisection() {
        let trace = bisection_minimize(&mut |_| f64::NAN, 0.0, 1.0, 1e-9, 100);
        assert_eq!(trace.evaluations, 1);
        assert_eq!(trace.widths, vec![1.0]);
        assert_eq!(trace.minimizer, 0.5);
    }
}
