//! Golden-section line search: minimizes `φ` using values only.
//!
//! ```text
//! bracket:  find a < c < b with φ(c) < φ(a) and φ(c) ≤ φ(b), starting from
//!           a = 0 and c = t₀:
//!             φ(t₀) ≥ φ(0):  b = t₀, shrink c ← 0.382 b until φ(c) < φ(0)
//!             φ(t₀) < φ(0):  expand u = c + 1.618 (c − a) until φ(u) ≥ φ(c)
//! section:  put a trial u in the larger of [a, c], [c, b] at 0.382 of its
//!           length from c; keep the triple around the lower value
//!           until b − a ≤ tol · c
//! ```
//!
//! Once the triple is in golden proportion the bracket shrinks by
//! `1/1.618 = 0.618` per evaluation (slower than bisection's ½, but with no
//! derivative). Values alone locate a minimizer only to about `√ε ≈ 1.5e-8`
//! relative accuracy, since `φ(t* + δ) − φ(t*) ≈ φ″ δ²/2` drowns in rounding
//! below that; hence the default `tol = 1e-8`. A non-finite `φ(t)` counts as
//! `+∞` ("too far").

use super::LineSearchResult;
use super::{check_start, failure, first_step, LineFunction, LineSearch, LineSearchError};

/// `(3 − √5)/2 = 0.381966…`: the golden section of a unit interval.
pub(crate) const GOLDEN_SMALL: f64 = 0.381_966_011_250_105_1;
/// `(1 + √5)/2 = 1.618034…`: the golden ratio.
pub(crate) const GOLDEN_RATIO: f64 = 1.618_033_988_749_895;

/// Golden-section search to a relative bracket width `tol`.
///
/// ```
/// use downhill::line_search::{Golden, LineSearch};
/// // φ(t) = (t − 3)²: the minimizing step is 3
/// let mut phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
/// let step = Golden::default().search(&mut phi, 9.0, -6.0, 1.0).unwrap();
/// assert!((step.t - 3.0).abs() <= 3e-8);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Golden {
    /// Stop when the bracket `[a, b]` around the best step `c` has
    /// `b − a ≤ tol · c` (default `1e-8`).
    pub tol: f64,
    /// Most evaluations of `φ` (default 100).
    pub max_iter: usize,
}

impl Default for Golden {
    fn default() -> Self {
        Golden {
            tol: 1e-8,
            max_iter: 100,
        }
    }
}

/// `φ(t)` with non-finite values read as `+∞`, counting calls.
struct Values<'a> {
    phi: &'a mut dyn LineFunction,
    evaluations: usize,
    any_finite: bool,
}

impl Values<'_> {
    fn at(&mut self, t: f64) -> f64 {
        let value = self.phi.value(t);
        self.evaluations += 1;
        if value.is_finite() {
            self.any_finite = true;
            value
        } else {
            f64::INFINITY
        }
    }

    fn failure(&self) -> LineSearchError {
        failure(self.evaluations, self.any_finite)
    }
}

impl LineSearch for Golden {
    fn name(&self) -> &'static str {
        "golden"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFunction,
        phi0: f64,
        dphi0: f64,
        t_init: f64,
    ) -> Result<LineSearchResult, LineSearchError> {
        check_start(phi0, dphi0)?;
        let limit = self.max_iter;
        let mut values = Values {
            phi,
            evaluations: 0,
            any_finite: false,
        };
        if limit == 0 {
            return Err(values.failure());
        }

        // Bracket: a < c < b with φ(c) < φ(a), φ(c) ≤ φ(b).
        let mut a = 0.0;
        let mut c = first_step(t_init);
        let mut fc = values.at(c);
        let mut b;
        if fc >= phi0 {
            // Too far already: shrink towards 0, where φ′(0) < 0 promises decrease.
            b = c;
            loop {
                if values.evaluations >= limit {
                    return Err(values.failure());
                }
                c = GOLDEN_SMALL * b;
                if c <= 0.0 {
                    return Err(values.failure());
                }
                fc = values.at(c);
                if fc < phi0 {
                    break;
                }
                b = c;
            }
        } else {
            loop {
                let u = c + GOLDEN_RATIO * (c - a);
                if values.evaluations >= limit || !u.is_finite() {
                    // Decreasing through every expansion: unbounded below.
                    return Err(LineSearchError::Unbounded { t: c, phi: fc });
                }
                let fu = values.at(u);
                if fu >= fc {
                    b = u;
                    break;
                }
                a = c;
                (c, fc) = (u, fu);
            }
        }
        // From here on only φ(c), the lowest value, is compared.
        // Golden section.
        while b - a > self.tol * c {
            if values.evaluations >= limit {
                return Err(values.failure());
            }
            let right = b - c > c - a;
            let u = if right {
                c + GOLDEN_SMALL * (b - c)
            } else {
                c - GOLDEN_SMALL * (c - a)
            };
            if u <= a || u >= b || u == c {
                break; // floating-point resolution reached
            }
            let fu = values.at(u);
            match (fu < fc, right) {
                (true, true) => (a, c, fc) = (c, u, fu),
                (true, false) => (b, c, fc) = (c, u, fu),
                (false, true) => b = u,
                (false, false) => a = u,
            }
        }
        Ok(LineSearchResult {
            t: c,
            phi: fc,
            evaluations: values.evaluations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_constants() {
        let root5 = 5.0_f64.sqrt();
        assert_eq!(GOLDEN_SMALL, (3.0 - root5) / 2.0);
        assert_eq!(GOLDEN_RATIO, (1.0 + root5) / 2.0);
    }

    #[test]
    fn uses_values_only_and_counts_them() {
        struct ValuesOnly(usize);
        impl LineFunction for ValuesOnly {
            fn value(&mut self, t: f64) -> f64 {
                self.0 += 1;
                (t - 3.0).powi(2)
            }
            fn value_derivative(&mut self, _: f64) -> (f64, f64) {
                panic!("golden-section search must not ask for φ′")
            }
        }
        let mut phi = ValuesOnly(0);
        let step = Golden::default().search(&mut phi, 9.0, -6.0, 1e3).unwrap();
        assert!((step.t - 3.0).abs() <= 3e-8, "{step:?}");
        assert_eq!(step.evaluations, phi.0);
    }

    #[test]
    fn unbounded_descent_runs_out() {
        let mut phi = |t: f64| (-t, -1.0);
        let result = Golden::default().search(&mut phi, 0.0, -1.0, 1.0);
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
        let mut phi = |_: f64| (f64::NAN, f64::NAN);
        let result = Golden::default().search(&mut phi, 0.0, -1.0, 1.0);
        assert_eq!(result, Err(LineSearchError::NonFinite));
    }
}
