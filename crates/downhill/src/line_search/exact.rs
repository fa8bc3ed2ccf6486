//! "Exact" line search: the step minimizing `φ(t) = f(x + t d)`, found by
//! bisection on the sign of `φ′` (the chapter's "binary search" for the `η`
//! minimizing `f(x − η ∇f(x))`).
//!
//! ```text
//! bracket:  lo = 0, T = t₀
//!           while φ′(T) < 0 and φ(T) ≤ φ(lo):  lo = T, T ← 2T
//!           (now φ′(lo) < 0 and φ′(T) ≥ 0 or φ(T) > φ(lo): a local
//!            minimizer of φ lies in (lo, T))
//! bisect:   m = (lo + T)/2
//!           φ′(m) ≥ 0 → T = m;  else φ(m) > φ(lo) → T = m (only while no
//!           bracket end has φ′ ≥ 0);  else lo = m
//!           until T − lo ≤ tol · T
//! ```
//!
//! The bracket halves at every evaluation (linear convergence with rate ½),
//! so reaching a relative width `tol` from a bracket `[0, T]` costs about
//! `log₂(1/tol)` evaluations: exact but expensive, as the chapter warns. A
//! non-finite `φ(T)` or `φ′(T)` makes `T` an upper end of the bracket.

use super::LineSearchResult;
use super::{check_start, failure, first_step, LineFunction, LineSearch, LineSearchError};

/// Bisection on `φ′` to a relative bracket width `tol`.
///
/// ```
/// use downhill::line_search::{Exact, LineSearch};
/// // φ(t) = (t − 3)²: the minimizing step is 3
/// let mut phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
/// let step = Exact::default().search(&mut phi, 9.0, -6.0, 1.0).unwrap();
/// assert!((step.t - 3.0).abs() <= 3e-10);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Exact {
    /// Stop when the bracket `[lo, T]` has `T − lo ≤ tol · T` (default `1e-10`).
    pub tol: f64,
    /// Most evaluations of `φ` (default 100).
    pub max_iter: usize,
}

impl Default for Exact {
    fn default() -> Self {
        Exact {
            tol: 1e-10,
            max_iter: 100,
        }
    }
}

impl LineSearch for Exact {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFunction,
        phi0: f64,
        dphi0: f64,
        t_init: f64,
    ) -> Result<LineSearchResult, LineSearchError> {
        check_start(phi0, dphi0)?;
        let mut evaluations = 0;
        let mut any_finite = false;
        // `lo`: φ′(lo) < 0 and φ(lo) the lowest value met on the way.
        let (mut lo, mut phi_lo) = (0.0, phi0);

        // Bracket by doubling. `hi` holds (T, φ(T)), φ(T) = +∞ if non-finite.
        let mut t = first_step(t_init);
        let mut hi = None;
        while hi.is_none() {
            if evaluations >= self.max_iter || !t.is_finite() {
                // Decreasing through every doubling: unbounded below.
                if lo > 0.0 {
                    return Err(LineSearchError::Unbounded { t: lo, phi: phi_lo });
                }
                return Err(failure(evaluations, any_finite));
            }
            let (value, slope) = phi.value_derivative(t);
            evaluations += 1;
            if !(value.is_finite() && slope.is_finite()) {
                hi = Some((t, f64::INFINITY, false));
            } else {
                any_finite = true;
                if slope >= 0.0 || value > phi_lo {
                    hi = Some((t, value, slope >= 0.0));
                } else {
                    (lo, phi_lo) = (t, value);
                    t *= 2.0;
                }
            }
        }
        // `sign_change`: whether φ′(hi) ≥ 0. Then the sign of φ′ alone
        // decides: near the flat bottom of φ, values agree to rounding over a
        // ~√ε-relative range of t, so comparing them would misplace the
        // bracket. Values are used only while `hi` is an increase of φ (with
        // φ′(hi) < 0, a non-convex φ) or a non-finite point.
        let (mut hi, mut phi_hi, mut sign_change) = hi.unwrap_or((t, f64::INFINITY, false));

        // Bisect on the sign of φ′.
        loop {
            let mid = 0.5 * (lo + hi);
            if hi - lo <= self.tol * hi || mid <= lo || mid >= hi {
                break;
            }
            if evaluations >= self.max_iter {
                return Err(failure(evaluations, any_finite));
            }
            let (value, slope) = phi.value_derivative(mid);
            evaluations += 1;
            if !(value.is_finite() && slope.is_finite()) {
                (hi, phi_hi, sign_change) = (mid, f64::INFINITY, false);
            } else {
                any_finite = true;
                if slope >= 0.0 {
                    (hi, phi_hi, sign_change) = (mid, value, true);
                } else if value > phi_lo && !sign_change {
                    (hi, phi_hi) = (mid, value);
                } else {
                    (lo, phi_lo) = (mid, value);
                }
            }
        }

        let (t, value) = if phi_hi < phi_lo {
            (hi, phi_hi)
        } else {
            (lo, phi_lo)
        };
        if t > 0.0 {
            Ok(LineSearchResult {
                t,
                phi: value,
                evaluations,
            })
        } else {
            Err(failure(evaluations, any_finite))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_by_doubling_then_bisects() {
        let mut trials = Vec::new();
        let mut phi = |t: f64| {
            trials.push(t);
            ((t - 3.0).powi(2), 2.0 * (t - 3.0))
        };
        let step = Exact::default().search(&mut phi, 9.0, -6.0, 1.0).unwrap();
        // 1, 2 descend; 4 has φ′ > 0: bracket [2, 4]; first midpoint 3 is exact
        assert_eq!(&trials[..4], &[1.0, 2.0, 4.0, 3.0]);
        assert!((step.t - 3.0).abs() <= 4e-10);
        assert_eq!(step.evaluations, trials.len());
    }

    #[test]
    fn non_finite_values_end_the_bracket() {
        let mut phi = |t: f64| {
            if t > 1.0 {
                (f64::NAN, f64::NAN)
            } else {
                ((t - 3.0).powi(2), 2.0 * (t - 3.0))
            }
        };
        let step = Exact::default().search(&mut phi, 9.0, -6.0, 100.0).unwrap();
        assert!(step.t <= 1.0 && step.t > 1.0 - 1e-9, "{step:?}");
    }

    #[test]
    fn unbounded_descent_runs_out() {
        let mut phi = |t: f64| (-t, -1.0);
        let result = Exact::default().search(&mut phi, 0.0, -1.0, 1.0);
        // Decreasing at every trial up to the evaluation limit.
        match result {
            Err(LineSearchError::Unbounded { t, phi }) => {
                assert!(phi == -t && t > 1e6, "{t} {phi}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn all_non_finite_is_reported() {
        let mut phi = |_: f64| (f64::INFINITY, f64::NAN);
        let result = Exact::default().search(&mut phi, 0.0, -1.0, 1.0);
        assert_eq!(result, Err(LineSearchError::NonFinite));
    }
}
