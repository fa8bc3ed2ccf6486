//! The Moré–Thuente line search: a step satisfying the strong Wolfe
//! conditions
//!
//! ```text
//! φ(t) ≤ φ(0) + c₁ t φ′(0)        (sufficient decrease)
//! │φ′(t)│ ≤ c₂ │φ′(0)│            (curvature)
//! ```
//!
//! after J. J. Moré and D. J. Thuente, "Line search algorithms with
//! guaranteed sufficient decrease", ACM TOMS 20(3), 1994, written from the
//! paper's description.
//!
//! The search keeps an interval `I` with ends `tₗ` (the best step so far: the
//! lowest value, satisfying sufficient decrease) and `tᵤ`, and a trial `t`.
//! Each trial updates `I` and proposes the next trial by safeguarded
//! interpolation (the paper's four cases, with `f` and `g` the values and
//! slopes at `tₗ` and `t`):
//!
//! 1. `f(t) > f(tₗ)`: a minimizer is bracketed in `[tₗ, t]`. Take the cubic
//!    minimizer `t_c` (cubic matching `f`, `g` at both ends) if it is closer
//!    to `tₗ` than the quadratic minimizer `t_q` (matching `f(tₗ)`, `g(tₗ)`,
//!    `f(t)`), else the mean of the two.
//! 2. `f(t) ≤ f(tₗ)` and the slopes at `tₗ` and `t` have opposite signs:
//!    bracketed in `[t, tₗ]`. Take `t_c` or the secant step `t_s` (zero of the
//!    linear interpolant of `g`), whichever is farther from `t`.
//! 3. Same sign, `│g(t)│` decreasing: the cubic step if the cubic's minimizer
//!    lies beyond `t`, else the extrapolation limit; compared with `t_s`. If
//!    bracketed, the one closer to `t`, kept within 66% of the way to `tᵤ`;
//!    else the one farther from `t`, within the extrapolation limits.
//! 4. Same sign, `│g(t)│` not decreasing: if bracketed, the cubic minimizer
//!    between `t` and `tᵤ`; else the extrapolation limit.
//!
//! Until a trial satisfies sufficient decrease with
//! `φ′(t) ≥ min(c₁, c₂) φ′(0)`, a trial with `φ(t) ≤ φ(tₗ)` that fails
//! sufficient decrease is handled on the auxiliary
//! `ψ(t) = φ(t) − φ(0) − c₁ t φ′(0)` instead of `φ` (on `φ` the cases would
//! keep such a trial as the best step). Unbracketed trials extrapolate to
//! `[t + 1.1 (t − tₗ), t + 4 (t − tₗ)]`; once bracketed, a bisection step
//! replaces the trial whenever the interval is still wider than 66% of its
//! width two trials earlier. All trials stay in `[t_min, t_max]`. On the
//! paper's six test functions this reproduces the evaluation counts of its
//! Tables I–VI (checked in `tests/line_search.rs`).
//!
//! Additions for robustness: a trial with a non-finite `φ` or `φ′` is "too
//! far": the next trial goes halfway back to `tₗ`, and later trials stay
//! below it. An interpolated step that is not finite falls back to
//! bisection. The search stops with [`LineSearchError::NoProgress`] when the
//! interval falls below `xtol · tᵤ` or rounding stalls it, when it sits at
//! `t_min` without sufficient decrease, or after `max_iter` evaluations,
//! and with [`LineSearchError::Unbounded`] when it sits at `t_max` with `φ`
//! still decreasing steeply: an `Ok` step always satisfies both conditions.
//! (A trial at `φ = −∞` is "too far" as any non-finite one: `ln x` at a
//! step that lands on 0 is no reason to give up the local minimum of
//! `x² + ln x`.)

use super::LineSearchResult;
use super::{check_start, failure, first_step, LineFunction, LineSearch, LineSearchError};

/// Strong Wolfe line search by Moré and Thuente's safeguarded interpolation.
///
/// ```
/// use downhill::line_search::{LineSearch, MoreThuente};
/// // φ(t) = −t/(t² + 2), Moré & Thuente's first test function: minimizer √2
/// let mut phi = |t: f64| {
///     let q = t * t + 2.0;
///     (-t / q, (t * t - 2.0) / (q * q))
/// };
/// let mut search = MoreThuente { c1: 1e-3, c2: 0.1, ..MoreThuente::default() };
/// let step = search.search(&mut phi, 0.0, -0.5, 1e-3).unwrap();
/// let (value, slope) = phi(step.t);
/// assert!(value <= 1e-3 * step.t * -0.5 && slope.abs() <= 0.1 * 0.5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MoreThuente {
    /// Sufficient-decrease constant `c₁ ∈ (0, 1)` (default `1e-4`).
    pub c1: f64,
    /// Curvature constant `c₂ ∈ (0, 1)` (default `0.9`); `c₂ > c₁` guarantees
    /// that acceptable steps exist for `φ` bounded below.
    pub c2: f64,
    /// Relative width of the interval below which the search gives up
    /// (default `1e-10`).
    pub xtol: f64,
    /// Smallest trial step (default `1e-20`).
    pub t_min: f64,
    /// Largest trial step (default `1e20`).
    pub t_max: f64,
    /// Most evaluations of `φ` (default 100).
    pub max_iter: usize,
}

impl Default for MoreThuente {
    fn default() -> Self {
        MoreThuente {
            c1: 1e-4,
            c2: 0.9,
            xtol: 1e-10,
            t_min: 1e-20,
            t_max: 1e20,
            max_iter: 100,
        }
    }
}

/// Extrapolation limits for an unbracketed trial `t`: `[t + 1.1 (t − tₗ), t + 4 (t − tₗ)]`.
const EXTRAPOLATE_LOW: f64 = 1.1;
const EXTRAPOLATE_HIGH: f64 = 4.0;
/// A bracketed trial may go at most this fraction of the way to `tᵤ` (case 3).
const TOWARDS_UPPER: f64 = 0.66;
/// Bisect when two steps did not shrink the interval below this fraction.
const SHRINK_REQUIRED: f64 = 0.66;

/// A step with its value and slope.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    t: f64,
    f: f64,
    g: f64,
}

impl Point {
    /// The same point seen through `ψ(t) = φ(t) − φ(0) − c₁φ′(0) t` up to the
    /// constant `φ(0)`: `f − slope t`, `g − slope`.
    fn shifted(self, slope: f64) -> Point {
        Point {
            t: self.t,
            f: self.f - slope * self.t,
            g: self.g - slope,
        }
    }
}

/// The minimizer of the cubic matching value and slope at `p` and `q`, as
/// `p.t + r (q.t − p.t)`; returns `(step, r, γ)` where `γ = 0` means the
/// cubic has no real critical point (the discriminant was clipped to 0).
fn cubic_step(p: Point, q: Point) -> (f64, f64, f64) {
    let theta = 3.0 * (p.f - q.f) / (q.t - p.t) + p.g + q.g;
    // Scale before squaring so that large slopes do not overflow.
    let s = theta.abs().max(p.g.abs()).max(q.g.abs());
    let discriminant = (theta / s) * (theta / s) - (p.g / s) * (q.g / s);
    let mut gamma = s * discriminant.max(0.0).sqrt();
    if q.t < p.t {
        gamma = -gamma;
    }
    let r = (gamma - p.g + theta) / (2.0 * gamma - p.g + q.g);
    (p.t + r * (q.t - p.t), r, gamma)
}

/// The minimizer of the quadratic matching value and slope at `p` and the
/// value at `q`.
fn quadratic_step(p: Point, q: Point) -> f64 {
    let h = q.t - p.t;
    p.t + p.g / ((p.f - q.f) / h + p.g) / 2.0 * h
}

/// The zero of the line through the slopes at `p` and `q`.
fn secant_step(p: Point, q: Point) -> f64 {
    p.t + p.g / (p.g - q.g) * (q.t - p.t)
}

/// The interval of uncertainty and the state of the bracketing.
struct Interval {
    /// Best step so far.
    lower: Point,
    /// Other end (equal to `lower` at the start).
    upper: Point,
    bracketed: bool,
}

impl Interval {
    /// One of the paper's four cases: updates the interval with the trial and
    /// returns the next trial step, within `[low, high]` when unbracketed.
    fn update(&mut self, trial: Point, low: f64, high: f64) -> f64 {
        let (l, u) = (self.lower, self.upper);
        let opposite_slopes = trial.g * l.g.signum() < 0.0;
        let next;
        if trial.f > l.f {
            // Case 1: higher value.
            let (cubic, _, _) = cubic_step(l, trial);
            let quadratic = quadratic_step(l, trial);
            next = if (cubic - l.t).abs() < (quadratic - l.t).abs() {
                cubic
            } else {
                cubic + (quadratic - cubic) / 2.0
            };
            self.bracketed = true;
        } else if opposite_slopes {
            // Case 2: lower value, slopes of opposite sign.
            let (cubic, _, _) = cubic_step(trial, l);
            let secant = secant_step(trial, l);
            next = if (cubic - trial.t).abs() > (secant - trial.t).abs() {
                cubic
            } else {
                secant
            };
            self.bracketed = true;
        } else if trial.g.abs() < l.g.abs() {
            // Case 3: lower value, same sign, slope decreasing in magnitude.
            let (step, r, gamma) = cubic_step(trial, l);
            let cubic = if r < 0.0 && gamma != 0.0 {
                step // the cubic's minimizer lies beyond the trial
            } else if trial.t > l.t {
                high
            } else {
                low
            };
            let secant = secant_step(trial, l);
            if self.bracketed {
                let closer = if (cubic - trial.t).abs() < (secant - trial.t).abs() {
                    cubic
                } else {
                    secant
                };
                let limit = trial.t + TOWARDS_UPPER * (u.t - trial.t);
                next = if trial.t > l.t {
                    closer.min(limit)
                } else {
                    closer.max(limit)
                };
            } else {
                let farther = if (cubic - trial.t).abs() > (secant - trial.t).abs() {
                    cubic
                } else {
                    secant
                };
                next = farther.max(low).min(high); // (no panic if low > high)
            }
        } else if self.bracketed {
            // Case 4, bracketed: the cubic between the trial and the upper end.
            next = cubic_step(trial, u).0;
        } else {
            // Case 4, unbracketed: as far as allowed.
            next = if trial.t > l.t { high } else { low };
        }

        if trial.f > l.f {
            self.upper = trial;
        } else {
            if opposite_slopes {
                self.upper = l;
            }
            self.lower = trial;
        }

        if next.is_finite() {
            next
        } else if self.bracketed {
            0.5 * (self.lower.t + self.upper.t)
        } else {
            high
        }
    }
}

impl LineSearch for MoreThuente {
    fn name(&self) -> &'static str {
        "more-thuente"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFunction,
        phi0: f64,
        dphi0: f64,
        t_init: f64,
    ) -> Result<LineSearchResult, LineSearchError> {
        check_start(phi0, dphi0)?;
        let defaults = MoreThuente::default();
        let unit = |v: f64, default: f64| if v > 0.0 && v < 1.0 { v } else { default };
        let c1 = unit(self.c1, defaults.c1);
        let c2 = unit(self.c2, defaults.c2);
        let xtol = if self.xtol >= 0.0 {
            self.xtol
        } else {
            defaults.xtol
        };
        let (t_min, t_max) =
            if self.t_min >= 0.0 && self.t_max > self.t_min && self.t_max.is_finite() {
                (self.t_min, self.t_max)
            } else {
                (defaults.t_min, defaults.t_max)
            };

        // ψ's slope: sufficient decrease is φ(t) ≤ φ(0) + decrease_slope · t.
        let decrease_slope = c1 * dphi0;
        let curvature_bound = c2 * -dphi0;
        let start = Point {
            t: 0.0,
            f: phi0,
            g: dphi0,
        };
        let mut interval = Interval {
            lower: start,
            upper: start,
            bracketed: false,
        };
        let mut use_psi = true;
        let mut t = first_step(t_init).clamp(t_min, t_max);
        let mut low = 0.0;
        let mut high = t + EXTRAPOLATE_HIGH * t;
        let mut width = t_max - t_min;
        let mut width_before = 2.0 * width;
        // Smallest step known to give a non-finite value.
        let mut too_far = f64::INFINITY;
        let mut any_finite = false;

        let mut evaluations = 0;
        while evaluations < self.max_iter {
            let (f, g) = phi.value_derivative(t);
            evaluations += 1;

            if !(f.is_finite() && g.is_finite()) {
                too_far = too_far.min(t);
                let best = interval.lower.t;
                t = best + 0.5 * (t - best);
                if !interval.bracketed {
                    low = t + EXTRAPOLATE_LOW * (t - best);
                    high = t + EXTRAPOLATE_HIGH * (t - best);
                }
                if t <= t_min || t == best {
                    break;
                }
                continue;
            }
            any_finite = true;

            let sufficient = f <= phi0 + decrease_slope * t;
            if sufficient && g.abs() <= curvature_bound {
                return Ok(LineSearchResult {
                    t,
                    phi: f,
                    evaluations,
                });
            }
            if t >= t_max && sufficient && g <= decrease_slope {
                // Still decreasing steeply at the largest step allowed.
                return Err(LineSearchError::Unbounded { t, phi: f });
            }
            if t <= t_min && !(sufficient && g < decrease_slope) {
                break; // the smallest step allowed is already too far
            }
            if use_psi && sufficient && g >= c1.min(c2) * dphi0 {
                use_psi = false;
            }

            let trial = Point { t, f, g };
            if use_psi && f <= interval.lower.f && !sufficient {
                // φ would mislead the cases here; interpolate ψ instead.
                let shift = |p: Point| p.shifted(decrease_slope);
                let mut shifted = Interval {
                    lower: shift(interval.lower),
                    upper: shift(interval.upper),
                    bracketed: interval.bracketed,
                };
                t = shifted.update(shift(trial), low, high);
                let unshift = |p: Point| p.shifted(-decrease_slope);
                interval = Interval {
                    lower: unshift(shifted.lower),
                    upper: unshift(shifted.upper),
                    bracketed: shifted.bracketed,
                };
            } else {
                t = interval.update(trial, low, high);
            }

            let (lower, upper) = (interval.lower.t, interval.upper.t);
            if interval.bracketed {
                if (upper - lower).abs() >= SHRINK_REQUIRED * width_before {
                    t = lower + 0.5 * (upper - lower);
                }
                width_before = width;
                width = (upper - lower).abs();
                low = lower.min(upper);
                high = lower.max(upper);
            } else {
                low = t + EXTRAPOLATE_LOW * (t - lower);
                high = t + EXTRAPOLATE_HIGH * (t - lower);
            }
            t = t.clamp(t_min, t_max);
            if t >= too_far && lower < too_far {
                t = lower + 0.5 * (too_far - lower);
            }
            if interval.bracketed && (t <= low || t >= high || high - low <= xtol * high) {
                break; // no further progress possible
            }
        }
        Err(failure(evaluations, any_finite))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, f: f64, g: f64) -> Point {
        Point { t, f, g }
    }

    #[test]
    fn cubic_step_is_exact_on_cubics() {
        // φ(t) = t³ − 3t: local minimizer 1
        let phi = |t: f64| point(t, t * t * t - 3.0 * t, 3.0 * t * t - 3.0);
        let (step, _, gamma) = cubic_step(phi(0.0), phi(2.0));
        assert!((step - 1.0).abs() < 1e-14 && gamma != 0.0);
        let (step, _, _) = cubic_step(phi(3.0), phi(0.5));
        assert!((step - 1.0).abs() < 1e-14);
    }

    #[test]
    fn quadratic_and_secant_steps_are_exact_on_quadratics() {
        // φ(t) = (t − 3)²
        let phi = |t: f64| point(t, (t - 3.0) * (t - 3.0), 2.0 * (t - 3.0));
        assert_eq!(quadratic_step(phi(0.0), phi(10.0)), 3.0);
        assert_eq!(secant_step(phi(1.0), phi(7.0)), 3.0);
        // and the cubic step reduces to the quadratic one
        assert!((cubic_step(phi(0.0), phi(10.0)).0 - 3.0).abs() < 1e-14);
    }

    #[test]
    fn case_one_brackets() {
        let phi = |t: f64| point(t, (t - 3.0) * (t - 3.0), 2.0 * (t - 3.0));
        let mut interval = Interval {
            lower: phi(0.0),
            upper: phi(0.0),
            bracketed: false,
        };
        let next = interval.update(phi(10.0), 0.0, 50.0);
        assert!(interval.bracketed);
        assert_eq!(interval.upper.t, 10.0);
        assert_eq!(interval.lower.t, 0.0);
        assert!((next - 3.0).abs() < 1e-14);
    }

    #[test]
    fn case_four_unbracketed_extrapolates_to_the_limit() {
        // φ(t) = −t²: slope grows in magnitude
        let phi = |t: f64| point(t, -t * t, -2.0 * t);
        let mut interval = Interval {
            lower: point(0.0, 0.0, -1.0),
            upper: point(0.0, 0.0, -1.0),
            bracketed: false,
        };
        let next = interval.update(phi(1.0), 2.1, 5.0);
        assert_eq!(next, 5.0);
        assert!(!interval.bracketed);
        assert_eq!(interval.lower.t, 1.0);
    }

    #[test]
    fn unbounded_descent_stops_at_t_max() {
        let mut calls = 0;
        let mut phi = |t: f64| {
            calls += 1;
            (-t, -1.0)
        };
        let result = MoreThuente::default().search(&mut phi, 0.0, -1.0, 1.0);
        assert_eq!(
            result,
            Err(LineSearchError::Unbounded {
                t: 1e20,
                phi: -1e20
            })
        );
        assert!(calls < 100, "{calls} evaluations");
    }

    #[test]
    fn all_non_finite_is_reported() {
        let mut phi = |_: f64| (f64::NAN, 0.0);
        let result = MoreThuente::default().search(&mut phi, 0.0, -1.0, 1.0);
        assert_eq!(result, Err(LineSearchError::NonFinite));
    }
}
