//! Backtracking line search with the Armijo (sufficient decrease) condition
//! (Boyd & Vandenberghe, *Convex Optimization*, §9.2):
//!
//! ```text
//! t ← t₀
//! while φ(t) > φ(0) + c₁ t φ′(0):   t ← ρ t
//! ```
//!
//! Since `φ(t) = φ(0) + t φ′(0) + o(t)` and `c₁ < 1`, the condition holds
//! for every small enough `t`, so the loop ends for a smooth `φ`; it is
//! bounded by `max_iter` evaluations anyway. A non-finite `φ(t)` fails the
//! test and shrinks the step like any other failure. Only values of `φ` are
//! used, never `φ′(t)`.

use super::LineSearchError;
use super::{check_start, failure, first_step, LineFunction, LineSearch, LineSearchResult};

/// Backtracking from `t₀` by the factor `shrink` until
/// `φ(t) ≤ φ(0) + c₁ t φ′(0)`.
///
/// ```
/// use downhill::line_search::{Armijo, LineSearch};
/// // φ(t) = (t − 3)²: t = 8 fails (25 > 9 − 0.0048), t = 4 passes (1 ≤ 9 − 0.0024)
/// let mut phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
/// let step = Armijo::default().search(&mut phi, 9.0, -6.0, 8.0).unwrap();
/// assert_eq!((step.t, step.phi, step.evaluations), (4.0, 1.0, 2));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Armijo {
    /// Sufficient-decrease constant `c₁ ∈ (0, 1)` (default `1e-4`); an
    /// invalid value is replaced by the default.
    pub c1: f64,
    /// Backtracking factor `ρ ∈ (0, 1)` (default `0.5`); an invalid value is
    /// replaced by the default.
    pub shrink: f64,
    /// Most evaluations of `φ` (default 60: `0.5⁶⁰ ≈ 10⁻¹⁸`).
    pub max_iter: usize,
}

impl Default for Armijo {
    fn default() -> Self {
        Armijo {
            c1: 1e-4,
            shrink: 0.5,
            max_iter: 60,
        }
    }
}

fn in_unit_interval(v: f64) -> bool {
    v > 0.0 && v < 1.0
}

impl LineSearch for Armijo {
    fn name(&self) -> &'static str {
        "armijo"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFunction,
        phi0: f64,
        dphi0: f64,
        t_init: f64,
    ) -> Result<LineSearchResult, LineSearchError> {
        check_start(phi0, dphi0)?;
        let defaults = Armijo::default();
        let c1 = if in_unit_interval(self.c1) {
            self.c1
        } else {
            defaults.c1
        };
        let shrink = if in_unit_interval(self.shrink) {
            self.shrink
        } else {
            defaults.shrink
        };

        let mut t = first_step(t_init);
        let mut any_finite = false;
        let mut evaluations = 0;
        while evaluations < self.max_iter {
            let value = phi.value(t);
            evaluations += 1;
            if value.is_finite() {
                any_finite = true;
                if value <= phi0 + c1 * t * dphi0 {
                    return Ok(LineSearchResult {
                        t,
                        phi: value,
                        evaluations,
                    });
                }
            }
            t *= shrink;
            if t <= 0.0 {
                break;
            }
        }
        Err(failure(evaluations, any_finite))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_first_step_when_it_decreases_enough() {
        let mut phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
        let step = Armijo::default().search(&mut phi, 9.0, -6.0, 1.0).unwrap();
        assert_eq!((step.t, step.phi, step.evaluations), (1.0, 4.0, 1));
    }

    #[test]
    fn invalid_parameters_fall_back_to_defaults() {
        let mut phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
        let mut search = Armijo {
            c1: 2.0,
            shrink: f64::NAN,
            max_iter: 60,
        };
        let step = search.search(&mut phi, 9.0, -6.0, 8.0).unwrap();
        assert_eq!(step.t, 4.0);
    }

    #[test]
    fn unbounded_nan_gives_non_finite() {
        let mut phi = |_: f64| (f64::NAN, f64::NAN);
        let result = Armijo::default().search(&mut phi, 0.0, -1.0, 1.0);
        assert_eq!(result, Err(LineSearchError::NonFinite));
    }

    #[test]
    fn zero_max_iter_is_no_progress_without_evaluating() {
        let mut calls = 0;
        let mut phi = |t: f64| {
            calls += 1;
            (t, 1.0)
        };
        let mut search = Armijo {
            max_iter: 0,
            ..Armijo::default()
        };
        assert_eq!(
            search.search(&mut phi, 0.0, -1.0, 1.0),
            Err(LineSearchError::NoProgress)
        );
        assert_eq!(calls, 0);
    }
}
